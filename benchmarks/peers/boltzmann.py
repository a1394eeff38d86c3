"""Mesa's Boltzmann wealth model (``mesa.examples.BoltzmannWealth``) on ``hardtech.engine``.

Semantics copied from Mesa 3.3 (``mesa/examples/basic/boltzmann_wealth_model``):

- ``n`` agents, each with wealth 1, placed on cells drawn uniformly *with
  replacement* on a ``width x height`` ``OrthogonalMooreGrid`` (``torus=False``,
  no cell capacity).
- A step activates every agent once in a fresh random order (``shuffle_do``).
  An activated agent moves to a uniformly chosen cell of its Moore neighbourhood
  (3, 5 or 8 cells: the grid does not wrap), then, if its wealth is positive and
  it has at least one cellmate *at that moment*, gives 1 unit to a uniformly
  chosen cellmate.
- After the step the Gini coefficient (Mesa's formula) and every agent's wealth
  are collected, as Mesa's ``DataCollector`` does.

Activation is sequential: an agent that received a unit earlier in the step can
give it on, and cellmates are whoever is in the cell right now (agents that
moved earlier in the step are at their new cell). A vectorized one-shot update
would change the wealth dynamics, so the activation runs as a Numba loop over a
random permutation. All random numbers come from the run's named
:class:`~hardtech.engine.RandomStreams`: ``placement`` places the agents;
``activation`` seeds a xoshiro256** generator (compiled, ``peer_common``) that
draws the step's uniforms in bulk — three per agent — consumed by the jitted
loop: a Fisher-Yates shuffle for the activation order, then the k-th activated
agent's neighbour and cellmate choices. The gift is written without a branch
on whether the agent gives (an unpredictable coin flip for the processor).
The Gini is computed from a wealth histogram (wealth is a small integer), not
by sorting. (The control variant draws from ``move`` and ``exchange``.)

Agent state (``cell``, ``wealth``) lives in an :class:`~hardtech.engine.AgentTable`.
The grid index (who is in which cell) is one circular doubly linked list per
cell over table rows, with a sentinel node per cell (``nxt``/``prv`` over
``n + n_cells`` nodes) and ``count[cell]``: a move is O(1) and branch-free, and
choosing a cellmate walks the cell's occupancy (about 2). Neighbour cells are
computed from the cell id (``i * height + j``, Mesa's coordinate order): ``c +
off8[k]`` inside the grid, a clipped 3x3 window on the border.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from peer_common import (  # benchmarks/peers is on sys.path (run.py's folder, or added by the test)
    fill_uniforms,
    moore_neighbours,
    shuffled,
    uniform_state,
)

from hardtech.engine import AgentTable, RandomStreams, Recorder, StepLoop


def gini(wealth: np.ndarray) -> float:
    """Mesa's ``compute_gini``: ``1 + 1/n - 2 * sum(x_i (n - i)) / (n sum x)`` over sorted ``x``."""
    x = np.sort(np.asarray(wealth, dtype=np.float64))
    n = x.size
    total = x.sum()
    if n == 0 or total == 0:
        return 0.0
    b = float(np.dot(x, np.arange(n, 0, -1, dtype=np.float64))) / (n * total)
    return 1.0 + 1.0 / n - 2.0 * b


@nb.njit(cache=False)
def gini_counts(wealth, counts):  # pragma: no cover - jitted
    """:func:`gini` for non-negative integer wealth, by counting instead of sorting.

    Sorted, the agents of wealth ``v`` take the ranks ``i0 .. i0 + c - 1``, whose
    weights ``n - i`` sum to ``c (n - i0) - c (c - 1) / 2``: the sum is exact in
    integers, so the result equals Mesa's formula up to its final rounding.
    ``counts`` is a scratch array longer than the largest wealth.
    """
    n = wealth.size
    counts[:] = 0
    total = 0
    for a in range(n):
        counts[wealth[a]] += 1
        total += wealth[a]
    if n == 0 or total == 0:
        return 0.0
    weighted = 0
    i0 = 0
    for v in range(counts.size):
        c = counts[v]
        if c:
            weighted += v * (c * (n - i0) - c * (c - 1) // 2)
            i0 += c
    return 1.0 + 1.0 / n - 2.0 * (weighted / (n * total))


@nb.njit(cache=False)
def _link_all(cell, nxt, prv, count):  # pragma: no cover - jitted
    """Build the per-cell circular lists from scratch.

    Nodes ``0..n-1`` are the agents' rows, node ``n + c`` is the sentinel of
    cell ``c``; a cell's list runs sentinel -> members -> sentinel, so linking
    and unlinking need no end-of-list tests.
    """
    n = cell.size
    for s in range(n, nxt.size):
        nxt[s] = s
        prv[s] = s
    count[:] = 0
    for a in range(n - 1, -1, -1):
        s = n + cell[a]
        first = nxt[s]
        nxt[a] = first
        prv[a] = s
        prv[first] = a
        nxt[s] = a
        count[cell[a]] += 1


@nb.njit(cache=False)
def _moore_step(c, u, width, height):  # pragma: no cover - jitted
    """The cell of ``c``'s Moore neighbourhood (clipped at the border) picked by uniform ``u``.

    Mesa's ``cell.neighborhood.select_random_cell()`` on a non-wrapping grid:
    uniform over the 3, 5 or 8 neighbouring cells.
    """
    ci = c // height
    cj = c - ci * height
    i0 = ci - 1 if ci > 0 else 0
    i1 = ci + 1 if ci < width - 1 else width - 1
    j0 = cj - 1 if cj > 0 else 0
    j1 = cj + 1 if cj < height - 1 else height - 1
    nj = j1 - j0 + 1
    r = int(u * ((i1 - i0 + 1) * nj - 1))
    if r >= (ci - i0) * nj + (cj - j0):  # skip the centre
        r += 1
    return (i0 + r // nj) * height + (j0 + r % nj)


@nb.njit(cache=False)
def _activate_sequential(
    u_order, u_move, u_give, cell, wealth, width, height, interior, off8, nxt, prv, count
):  # pragma: no cover
    """Mesa's ``shuffle_do("step")``: agents move, then maybe give, one after another in random order.

    ``u_order`` shuffles the agents; ``u_move[k]`` and ``u_give[k]`` are the
    uniforms of the k-th activated agent. ``interior[c]`` says that cell ``c``
    has all 8 neighbours, at ``c + off8``; border cells take the general path.
    Returns the number of gifts made.
    """
    n = cell.size
    order = shuffled(u_order)
    gifts = 0
    for k in range(n):
        a = order[k]
        c = cell[a]
        if interior[c]:
            new = c + off8[int(u_move[k] * 8)]
        else:
            new = _moore_step(c, u_move[k], width, height)
        # unlink a from its old cell's list ...
        p = prv[a]
        q = nxt[a]
        nxt[p] = q
        prv[q] = p
        count[c] -= 1
        # ... and link it first in the new cell's list, right after the sentinel
        s = n + new
        first = nxt[s]
        nxt[a] = first
        prv[a] = s
        prv[first] = a
        nxt[s] = a
        count[new] += 1
        cell[a] = new
        # give one unit to a uniformly chosen cellmate: the `mates` nodes after a.
        # Written without a branch on "gives" (whether it does is a coin flip the
        # processor cannot predict): with no gift, a "gives" 0 to itself.
        mates = count[new] - 1
        give = 1 if (wealth[a] > 0) & (mates > 0) else 0
        b = first if mates > 0 else a
        for _ in range(int(u_give[k] * mates)):
            b = nxt[b]
        wealth[b] += give
        wealth[a] -= give
        gifts += give
    return gifts


class BoltzmannPeer:
    """The Boltzmann wealth model on an :class:`AgentTable`, stepped by a :class:`StepLoop`.

    Parameters mirror ``mesa.examples.BoltzmannWealth(n, width, height, seed)``;
    ``replication`` selects an independent stream set for the same seed.
    """

    def __init__(
        self,
        n: int = 100,
        width: int = 10,
        height: int = 10,
        seed: int = 0,
        replication: int = 0,
        record: bool = True,
    ) -> None:
        self.n, self.width, self.height = int(n), int(width), int(height)
        self.streams = RandomStreams(seed, replication)
        for name in ("placement", "activation", "move", "exchange"):
            self.streams[name]  # create every stream now (~0.1 ms each), not inside the first step
        n_cells = self.width * self.height
        self.agents = AgentTable({"cell": np.int64, "wealth": np.int64}, capacity=self.n)
        self.agents.add(self.n, cell=self.streams["placement"].integers(0, n_cells, self.n), wealth=1)
        i, j = np.divmod(np.arange(n_cells), self.height)
        self.interior = (i > 0) & (i < self.width - 1) & (j > 0) & (j < self.height - 1)
        h = self.height
        self.off8 = np.array([-h - 1, -h, -h + 1, -1, 1, h - 1, h, h + 1], np.int64)  # same order as Mesa's offsets
        # per-step uniforms, drawn in place: no allocation (and no page faults) inside a step
        self._u = np.full((3, self.n), 0.5)
        # the step's uniforms come from the activation stream through a compiled xoshiro256** (peer_common)
        self._state = uniform_state(self.streams["activation"])
        self._counts = np.zeros(self.n + 2, np.int64)  # wealth histogram for the Gini (wealth ≤ n)
        self.count = np.zeros(n_cells, np.int64)
        self.nxt = np.empty(self.n + n_cells, np.int64)
        self.prv = np.empty(self.n + n_cells, np.int64)
        _link_all(self.agents["cell"], self.nxt, self.prv, self.count)
        self.record = record
        self.recorder = Recorder()
        self.gifts = 0
        self.steps = 0
        self.loop = StepLoop.of([("activate", self._activate), ("collect", self._collect)])
        self._collect()  # Mesa collects once at construction (step 0)

    # -- phases ---------------------------------------------------------------
    def _activate(self) -> None:
        u = self._u
        fill_uniforms(self._state, u.reshape(-1))  # order, move and give uniforms of the step
        self.gifts = _activate_sequential(
            u[0],
            u[1],
            u[2],
            self.agents["cell"],
            self.agents["wealth"],
            self.width,
            self.height,
            self.interior,
            self.off8,
            self.nxt,
            self.prv,
            self.count,
        )
        self.steps += 1

    def _collect(self) -> None:
        if not self.record:
            return
        self.recorder.record("model", step=self.steps, gini=self.gini())
        self.recorder.record("agents", step=self.steps, id=self.agents.ids, wealth=self.agents["wealth"])

    # -- public ---------------------------------------------------------------
    def set_state(self, cell: np.ndarray, wealth: np.ndarray) -> None:
        """Put the agents (rows in order) on ``cell`` with ``wealth``; rebuild the grid index."""
        cell, wealth = np.asarray(cell, np.int64), np.asarray(wealth, np.int64)
        if cell.shape != (len(self.agents),) or wealth.shape != cell.shape:
            raise ValueError("need one cell and one wealth per agent")
        if cell.min(initial=0) < 0 or cell.max(initial=0) >= self.count.size:
            raise ValueError("cell id outside the grid")
        self.agents["cell"] = cell
        self.agents["wealth"] = wealth
        _link_all(self.agents["cell"], self.nxt, self.prv, self.count)

    def step(self) -> None:
        """One Mesa step: sequential random activation, then data collection."""
        self.loop.step()

    def run(self, steps: int) -> BoltzmannPeer:
        self.loop.run(steps)
        return self

    def gini(self) -> float:
        return gini_counts(self.agents["wealth"], self._counts)

    @property
    def wealth(self) -> np.ndarray:
        return self.agents["wealth"]

    def check_index(self) -> None:
        """Assert the linked-list grid index agrees with the agents' ``cell`` column."""
        cell, n = self.agents["cell"], len(self.agents)
        assert np.array_equal(np.bincount(cell, minlength=self.count.size), self.count)
        assert np.array_equal(self.prv[self.nxt], np.arange(self.nxt.size)), "broken links"
        for c in range(self.count.size):
            members, a = [], self.nxt[n + c]
            while a != n + c:
                members.append(a)
                a = self.nxt[a]
            assert sorted(members) == np.flatnonzero(cell == c).tolist()


class BoltzmannSynchronous(BoltzmannPeer):
    """Control, deliberately *not* Mesa's semantics: a one-shot vectorized step.

    Everybody moves at once, then every agent with positive wealth and a
    cellmate gives one unit to a uniformly chosen cellmate, all at once (wealth
    received in the step cannot be given on in the same step). It is what a
    naive NumPy port would do; ``run.py`` runs it to show that the statistical
    comparison with Mesa does detect such a change of semantics.
    """

    def _activate(self) -> None:
        s = self.streams
        cell, wealth = self.agents["cell"], self.agents["wealth"]
        n = cell.size
        if not hasattr(self, "_nbr"):
            self._nbr, self._n_nbr = moore_neighbours(self.width, self.height)
        cell[:] = self._nbr[cell, (s["move"].random(n) * self._n_nbr[cell]).astype(np.int64)]
        order = np.argsort(cell, kind="stable")  # members of a cell are contiguous in `order`
        sorted_cells = cell[order]
        start = np.searchsorted(sorted_cells, cell, "left")
        size = np.searchsorted(sorted_cells, cell, "right") - start
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n)  # each agent's own position in `order`
        giver = (wealth > 0) & (size > 1)
        pick = start + (s["exchange"].random(n) * (size - 1)).astype(np.int64)
        pick += pick >= rank  # skip oneself
        wealth -= giver
        np.add.at(wealth, order[pick[giver]], 1)
        _link_all(cell, self.nxt, self.prv, self.count)
        self.steps += 1
