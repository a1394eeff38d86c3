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
:class:`~hardtech.engine.RandomStreams` (``placement``, ``types``,
``activation``, ``relocation``), drawn in bulk as uniforms each step and consumed
by the jitted loop (a Fisher-Yates shuffle of the movers, then one uniform per
move). The grid index is ``grid``: the occupant's type per cell (-1 if empty) on
a grid padded by ``radius`` cells of -1, so the happiness scan needs no border
checks; ``empties`` lists the empty cells.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hardtech.engine import AgentTable, RandomStreams, Recorder, StepLoop

# benchmarks/peers is on sys.path (run.py's own folder, or added by the test)
from peer_common import moore_neighbours, shuffled


@nb.njit(cache=False)
def _relocate_sequential(u_order, u_place, movers, cell, typ, grid, empties, height, hp, r):  # pragma: no cover
    """Mesa's ``shuffle_do("step")``: each unhappy agent (``movers``), in random order,
    moves to a cell drawn uniformly among the cells empty at that moment."""
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


@nb.njit(cache=False)
def _assess_scan(grid, offsets, width, height, hp, r, homophily, cell, happy, similar, happy_cell, similar_cell):  # pragma: no cover
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
            same = 0
            occupied = 0
            for o in offsets:  # branch-free: the outcomes are unpredictable
                nt = grid[p + o]
                occupied += nt >= 0
                same += nt == t
            frac = same / occupied if occupied > 0 else 0.0
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
        # per-step uniforms, drawn in place: no allocation (and no page faults) inside a step
        self._u = np.full((2, max(len(cells), 1)), 0.5)

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
        u_order, u_place = self._u[0, : movers.size], self._u[1, : movers.size]
        self.streams["activation"].random(out=u_order)
        self.streams["relocation"].random(out=u_place)
        _relocate_sequential(
            u_order, u_place, movers, a["cell"], a["type"], self.grid, self.empties, self.height, self.hp, self.radius,
        )
        self.moves = int(movers.size)
        self.steps += 1

    def _assess(self) -> None:
        a = self.agents
        if self.assess_with == "numba":
            self.happy = int(_assess_scan(
                self.grid, self.offsets, self.width, self.height, self.hp, self.radius, self.homophily,
                a["cell"], a["happy"], a["similar"], self._happy_cell, self._similar_cell,
            ))
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
            minority_pct=np.count_nonzero(typ == 1) / n * 100 if n else 0.0,
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
        return segregation_stats(self.agents["cell"], self.agents["type"], self.width, self.height,
                                 self.homophily, self.radius, self.nbr)

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
