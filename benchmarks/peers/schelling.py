"""Mesa's Schelling segregation model (``mesa.examples.Schelling``) on ``hardtech.engine``.

Semantics copied from Mesa 3.3 (``mesa/examples/basic/schelling``):

- A ``width x height`` ``OrthogonalMooreGrid`` (``torus=False``, capacity 1).
  Each cell holds an agent with probability ``density`` (0.8); an agent is of
  type 1 with probability ``minority_pc`` (0.5), else type 0.
- ``assign_state``: an agent looks at the agents in its Moore neighbourhood of
  ``radius`` (1; centre excluded, clipped at the border). With ``s`` alike among
  ``v`` neighbours it is *happy* iff ``v > 0`` and ``s / v >= homophily`` (0.4);
  no neighbours counts as similarity 0, i.e. unhappy. It runs for everybody at
  construction and after every step.
- A step: every agent is activated once in random order (``shuffle_do``);
  an activated agent that was unhappy (as of the last ``assign_state``) moves to
  a cell drawn uniformly among the cells empty *at that moment* (its own cell
  is not empty yet, so it always moves). Then ``assign_state`` runs for all and
  Mesa's ``DataCollector`` collects happy, pct_happy, population, minority_pct
  and every agent's type.

Relocation is sequential: a move frees a cell that later movers may take and
fills one they can no longer take. It runs as a Numba loop; the empty cells are
kept in an array where a move swaps the chosen empty cell for the mover's old
cell, so each move is O(1) and uniform over the current empties. Happy agents do
nothing when activated, so shuffling only the unhappy agents gives the same
distribution of move orders as shuffling everybody (a uniform permutation
restricted to a subset is a uniform permutation of the subset).

Agent state (``cell``, ``type``, ``happy``, ``similar``) lives in an
:class:`~hardtech.engine.AgentTable`; all randomness comes from named
:class:`~hardtech.engine.RandomStreams` (``placement``, ``types``; ``activation``
seeds the compiled xoshiro256** of ``peer_common`` that draws the movers'
uniforms in bulk each step), consumed by the jitted loop (a Fisher-Yates shuffle
of the movers, then one uniform per move). The grid index is ``grid``: the
occupant's type per cell (-1 if empty) on a grid padded by ``radius`` cells of
-1, so the happiness scan needs no border checks; ``empties`` lists the empty
cells and ``occupant`` the agent in each cell.

Reassessment is incremental once few agents move: happiness depends only on
the cells within ``radius``, so only agents near a vacated or newly taken cell
are reassessed (the same result as a full pass, which runs when many moved).
(The control variant draws from ``activation`` and ``relocation``.)
"""

from __future__ import annotations

import numba as nb
import numpy as np

# benchmarks/peers is on sys.path (run.py's own folder, or added by the test)
from peer_common import fill_uniforms, moore_neighbours, shuffled, uniform_state

from hardtech.engine import AgentTable, RandomStreams, Recorder, StepLoop


@nb.njit(cache=False)
def _relocate_sequential(
    u_order, u_place, movers, cell, typ, grid, empties, height, hp, r, occupant, changed
):  # pragma: no cover
    """Mesa's ``shuffle_do("step")``: each unhappy agent (``movers``), in random order,
    moves to a cell drawn uniformly among the cells empty at that moment.

    ``occupant`` (agent row per cell, -1 empty) is kept up to date; ``changed``
    (length ≥ 2 × movers) receives every vacated and every taken cell."""
    order = shuffled(u_order)
    n_empty = empties.size
    for k in range(order.size):
        a = movers[order[k]]
        j = int(u_place[k] * n_empty)
        new = empties[j]
        old = cell[a]
        empties[j] = old  # the old cell becomes empty, the chosen one is taken
        grid[(old // height + r) * hp + old % height + r] = -1
        grid[(new // height + r) * hp + new % height + r] = typ[a]
        cell[a] = new
        occupant[old] = -1
        occupant[new] = a
        changed[2 * k] = old
        changed[2 * k + 1] = new


@nb.njit(cache=False, inline="always")
def _similar_at(grid, p, t, offsets, hp, r):  # pragma: no cover - jitted
    """Share of alike neighbours of type ``t`` around padded cell ``p`` (0 without neighbours)."""
    same = 0
    occupied = 0
    if r == 1:  # the 8 neighbours written out (Mesa's default radius): no offset table to read
        for q in (p - hp - 1, p - hp, p - hp + 1, p - 1, p + 1, p + hp - 1, p + hp, p + hp + 1):
            nt = grid[q]
            occupied += nt >= 0
            same += nt == t
    else:
        for o in offsets:  # branch-free: the outcomes are unpredictable
            nt = grid[p + o]
            occupied += nt >= 0
            same += nt == t
    return same / occupied if occupied > 0 else 0.0


@nb.njit(cache=False)
def _assess_changed(
    grid, offsets, width, height, hp, r, homophily, changed, occupant, mark, todo, happy, similar, n_happy
):  # pragma: no cover - jitted
    """``assign_state`` after a step, for the agents whose neighbourhood changed.

    Happiness depends only on the cells within ``r`` of an agent, so after the
    moves only agents within ``r`` of a vacated or newly taken cell (``changed``)
    can change: the result equals a full pass over everybody. Returns the new
    number of happy agents, or -1 when so many cells changed that the full scan
    is cheaper (nothing is updated then).
    """
    m = 0
    for c in changed:
        ci = c // height
        cj = c - ci * height
        for i in range(max(ci - r, 0), min(ci + r, width - 1) + 1):
            for j in range(max(cj - r, 0), min(cj + r, height - 1) + 1):
                q = i * height + j
                if not mark[q]:
                    mark[q] = True
                    todo[m] = q
                    m += 1
    for k in range(m):
        mark[todo[k]] = False
    if 2 * m > width * height:
        return -1
    for k in range(m):
        q = todo[k]
        a = occupant[q]
        if a < 0:
            continue
        i = q // height
        p = (i + r) * hp + (q - i * height) + r
        frac = _similar_at(grid, p, grid[p], offsets, hp, r)
        h = not (frac < homophily)
        n_happy += int(h) - int(happy[a])
        happy[a] = h
        similar[a] = frac
    return n_happy


@nb.njit(cache=False)
def _assess_scan(
    grid, offsets, width, height, hp, r, homophily, cell, happy, similar, happy_cell, similar_cell
):  # pragma: no cover
    """Mesa's ``assign_state`` for every agent (a read-only pass, so order does not matter).

    Scans the padded grid cell by cell (contiguous memory; the -1 border stands
    for "outside the grid"), then copies each agent's result from its cell.
    Returns the number of happy agents.
    """
    for i in range(width):
        base = (i + r) * hp + r
        for j in range(height):
            p = base + j
            t = grid[p]
            if t < 0:
                continue
            frac = _similar_at(grid, p, t, offsets, hp, r)
            similar_cell[i * height + j] = frac
            happy_cell[i * height + j] = not (frac < homophily)
    n_happy = 0
    for a in range(cell.size):
        c = cell[a]
        happy[a] = happy_cell[c]
        similar[a] = similar_cell[c]
        n_happy += happy_cell[c]
    return n_happy


def similarity(cell: np.ndarray, typ: np.ndarray, nbr: np.ndarray, n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized ``(share of alike neighbours, number of neighbours)`` per agent.

    Pure NumPy; used for the statistics of both implementations and as the
    reference for the Numba kernel.
    """
    cell_type = np.full(n_cells + 1, -1, np.int8)
    cell_type[cell] = typ
    around = cell_type[nbr[cell]]  # (agents, max neighbours); -1 pads hit the sentinel
    occupied = (around >= 0).sum(axis=1)
    same = (around == np.asarray(typ, np.int8)[:, None]).sum(axis=1)
    frac = np.divide(same, occupied, out=np.zeros(len(cell)), where=occupied > 0)
    return frac, occupied


def segregation_stats(cell, typ, width, height, homophily=0.4, radius=1, nbr=None) -> dict[str, float]:
    """Share of happy agents and segregation index (mean share of alike neighbours
    over agents with at least one neighbour) from cell ids and types."""
    if nbr is None:
        nbr, _ = moore_neighbours(width, height, radius)
    frac, occupied = similarity(np.asarray(cell), np.asarray(typ), nbr, width * height)
    has = occupied > 0
    return {
        "happy_share": float(np.mean(~(frac < homophily))) if len(frac) else 0.0,
        "segregation": float(frac[has].mean()) if has.any() else 0.0,
    }


class SchellingPeer:
    """The Schelling model on an :class:`AgentTable`, stepped by a :class:`StepLoop`.

    Parameters mirror ``mesa.examples.Schelling`` (whose grid never wraps);
    ``replication`` selects an independent stream set for the same seed.
    ``assess="numpy"`` swaps the Numba happiness scan for the vectorized NumPy
    :func:`similarity` (same result, slower; kept as the reference).
    """

    def __init__(
        self,
        height: int = 20,
        width: int = 20,
        density: float = 0.8,
        minority_pc: float = 0.5,
        homophily: float = 0.4,
        radius: int = 1,
        seed: int = 0,
        replication: int = 0,
        record: bool = True,
        assess: str = "numba",
    ) -> None:
        if assess not in ("numba", "numpy"):
            raise ValueError("assess must be 'numba' or 'numpy'")
        if radius < 1:
            raise ValueError("radius must be at least 1")
        self.width, self.height = int(width), int(height)
        self.homophily, self.radius = float(homophily), int(radius)
        self.assess_with = assess
        self.streams = RandomStreams(seed, replication)
        for name in ("placement", "types", "activation", "relocation"):
            self.streams[name]  # create every stream now (~0.1 ms each), not inside the first step
        self.n_cells = self.width * self.height

        r = self.radius
        self.hp = self.height + 2 * r
        self.offsets = np.array(
            [di * self.hp + dj for di in range(-r, r + 1) for dj in range(-r, r + 1) if (di, dj) != (0, 0)],
            dtype=np.int64,
        )
        self._happy_cell = np.zeros(self.n_cells, np.bool_)
        self._similar_cell = np.zeros(self.n_cells, np.float64)
        self._nbr = None  # neighbour table, built only for assess="numpy" / stats
        self.agents = AgentTable({"cell": np.int64, "type": np.int8, "happy": np.bool_, "similar": np.float64})
        occupied_cells = np.flatnonzero(self.streams["placement"].random(self.n_cells) < density)
        types = (self.streams["types"].random(occupied_cells.size) < minority_pc).astype(np.int8)
        self._place(occupied_cells, types)

        self.happy = 0
        self.moves = 0
        self.steps = 0
        self.record = record
        self.recorder = Recorder()
        self.loop = StepLoop.of([("relocate", self._relocate), ("assess", self._assess), ("collect", self._collect)])
        self._assess()  # Mesa runs assign_state once at construction ...
        self._collect()  # ... and collects (step 0)

    def _place(self, cells: np.ndarray, types: np.ndarray) -> None:
        """Replace all agents by new ones on ``cells`` with ``types``; build the grid index."""
        self.agents.remove(np.ones(len(self.agents), bool))
        self.agents.add(len(cells), cell=cells, type=types)
        # Grid index: occupant type per cell (-1 empty) on a grid padded by `radius`
        # cells of -1 on every side, so neighbourhood scans need no border checks.
        self.grid = np.full((self.width + 2 * self.radius) * self.hp, -1, np.int8)
        self.grid[self.padded(cells)] = types
        is_empty = np.ones(self.n_cells, bool)
        is_empty[cells] = False
        self.empties = np.flatnonzero(is_empty).astype(np.int64)
        self.occupant = np.full(self.n_cells, -1, np.int64)  # agent row per cell, -1 empty
        self.occupant[cells] = np.arange(len(cells))
        self._mark = np.zeros(self.n_cells, np.bool_)  # scratch of _assess_changed
        self._todo = np.empty(self.n_cells, np.int64)
        self._changed = None  # cells vacated or taken in the last step; None: assess everybody
        self._minority_pct = (
            np.count_nonzero(types == 1) / len(types) * 100 if len(types) else 0.0
        )  # types never change
        # per-step uniforms, drawn in place: no allocation (and no page faults) inside a step
        self._u = np.full((2, max(len(cells), 1)), 0.5)
        # the movers' uniforms come from the activation stream through a compiled xoshiro256** (peer_common)
        self._state = uniform_state(self.streams["activation"])

    def set_state(self, cells: np.ndarray, types: np.ndarray) -> None:
        """Replace the agents by agents of ``types`` on ``cells`` (distinct) and assess them, as at construction."""
        cells, types = np.asarray(cells, np.int64), np.asarray(types, np.int8)
        if cells.shape != types.shape or np.unique(cells).size != cells.size:
            raise ValueError("need distinct cells, one type per cell")
        if cells.min(initial=0) < 0 or cells.max(initial=0) >= self.n_cells:
            raise ValueError("cell id outside the grid")
        self._place(cells, types)
        self._assess()

    def padded(self, cells: np.ndarray) -> np.ndarray:
        """Index in the padded grid of cell ids ``i * height + j``."""
        i, j = np.divmod(np.asarray(cells, np.int64), self.height)
        return (i + self.radius) * self.hp + j + self.radius

    @property
    def nbr(self) -> np.ndarray:
        if self._nbr is None:
            self._nbr, _ = moore_neighbours(self.width, self.height, self.radius)
        return self._nbr

    # -- phases ---------------------------------------------------------------
    def _relocate(self) -> None:
        a = self.agents
        movers = np.flatnonzero(~a["happy"])
        if movers.size and not self.empties.size:
            raise RuntimeError("no empty cell to move to (Mesa would loop forever)")
        u = self._u[:, : movers.size]
        u_order, u_place = u[0], u[1]
        fill_uniforms(self._state, u_order)
        fill_uniforms(self._state, u_place)

        changed = np.empty(2 * movers.size, np.int64)
        _relocate_sequential(
            u_order,
            u_place,
            movers,
            a["cell"],
            a["type"],
            self.grid,
            self.empties,
            self.height,
            self.hp,
            self.radius,
            self.occupant,
            changed,
        )
        # a few moves change few neighbourhoods: reassess those; many moves: everybody (cheaper then)
        self._changed = changed if 9 * changed.size < self.n_cells // 2 else None
        self.moves = int(movers.size)
        self.steps += 1

    def _assess(self) -> None:
        a = self.agents
        if self.assess_with == "numba":
            changed, self._changed = self._changed, None
            if changed is not None:
                n_happy = _assess_changed(
                    self.grid,
                    self.offsets,
                    self.width,
                    self.height,
                    self.hp,
                    self.radius,
                    self.homophily,
                    changed,
                    self.occupant,
                    self._mark,
                    self._todo,
                    a["happy"],
                    a["similar"],
                    self.happy,
                )
                if n_happy >= 0:
                    self.happy = int(n_happy)
                    return
            self.happy = int(
                _assess_scan(
                    self.grid,
                    self.offsets,
                    self.width,
                    self.height,
                    self.hp,
                    self.radius,
                    self.homophily,
                    a["cell"],
                    a["happy"],
                    a["similar"],
                    self._happy_cell,
                    self._similar_cell,
                )
            )
        else:
            frac, _ = similarity(a["cell"], a["type"], self.nbr, self.n_cells)
            a["similar"] = frac
            a["happy"] = ~(frac < self.homophily)
            self.happy = int(a["happy"].sum())

    def _collect(self) -> None:
        if not self.record:
            return
        n = len(self.agents)
        typ = self.agents["type"]
        self.recorder.record(
            "model",
            step=self.steps,
            happy=self.happy,
            pct_happy=self.happy / n * 100 if n else 0.0,
            population=n,
            minority_pct=self._minority_pct,
        )
        self.recorder.record("agents", step=self.steps, id=self.agents.ids, agent_type=typ)

    # -- public ---------------------------------------------------------------
    def step(self) -> None:
        """One Mesa step: sequential relocation of the unhappy, reassessment, data collection."""
        self.loop.step()

    def run(self, steps: int) -> SchellingPeer:
        self.loop.run(steps)
        return self

    @property
    def running(self) -> bool:
        """Mesa's stopping rule: continue until everybody is happy."""
        return self.happy < len(self.agents)

    def stats(self) -> dict[str, float]:
        return segregation_stats(
            self.agents["cell"], self.agents["type"], self.width, self.height, self.homophily, self.radius, self.nbr
        )

    def check_index(self) -> None:
        """Assert the grid index (padded grid, empties) agrees with the agent table."""
        cell, typ = self.agents["cell"], self.agents["type"]
        assert np.unique(cell).size == cell.size, "two agents share a cell"
        expect = np.full_like(self.grid, -1)
        expect[self.padded(cell)] = typ
        assert np.array_equal(expect, self.grid)
        is_empty = np.ones(self.n_cells, bool)
        is_empty[cell] = False
        assert np.array_equal(np.sort(self.empties), np.flatnonzero(is_empty))
        occupant = np.full(self.n_cells, -1, np.int64)
        occupant[cell] = np.arange(cell.size)
        assert np.array_equal(occupant, self.occupant)


class SchellingSimultaneous(SchellingPeer):
    """Control, deliberately *not* Mesa's semantics: all unhappy agents move at once.

    The unhappy agents, in random order, take distinct cells drawn among the
    cells empty at the start of the step (cells they vacate are not available
    until the next step; movers beyond the number of empty cells stay). It is
    what a naive vectorized port would do; ``run.py`` runs it to show that the
    statistical comparison with Mesa does detect such a change of semantics.
    """

    def _relocate(self) -> None:
        a, s = self.agents, self.streams
        movers = np.flatnonzero(~a["happy"])
        movers = movers[s["activation"].permutation(movers.size)]
        k = min(movers.size, self.empties.size)
        movers = movers[:k]
        targets = s["relocation"].permutation(self.empties)[:k]
        cell, typ = a["cell"], a["type"]
        old = cell[movers].copy()
        self.grid[self.padded(old)] = -1
        self.grid[self.padded(targets)] = typ[movers]
        cell[movers] = targets
        self.empties = np.concatenate([np.setdiff1d(self.empties, targets), old]).astype(np.int64)
        self.moves = int(k)
        self.steps += 1
