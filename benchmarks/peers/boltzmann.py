"""Mesa's Boltzmann wealth model (``mesa.examples.BoltzmannWealth``) on ``hardtech.engine``.

Semantics copied from Mesa 3.x (``mesa/examples/basic/boltzmann_wealth_model``):

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
:class:`~hardtech.engine.RandomStreams` (``placement``, ``activation``, ``move``,
``exchange``): the NumPy generators are handed to the jitted loop, which draws
from them in place (same bit stream as NumPy, state advanced as NumPy would).

Agent state (``cell``, ``wealth``) lives in an :class:`~hardtech.engine.AgentTable`.
The grid index (who is in which cell) is a set of doubly linked lists over table
rows: ``head[cell]``, ``nxt[row]``, ``prv[row]`` and ``count[cell]``, so a move
is O(1) and choosing a cellmate costs the cell's occupancy (about 2). Neighbour
cells are computed from the cell id (``i * height + j``, Mesa's coordinate
order), not looked up in a table.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from hardtech.engine import AgentTable, RandomStreams, Recorder, StepLoop

from peer_common import shuffled  # benchmarks/peers is on sys.path (run.py's folder, or added by the test)


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
def _link_all(cell, head, nxt, prv, count):  # pragma: no cover - jitted
    """Build the per-cell linked lists from scratch (rows in ascending order)."""
    head[:] = -1
    count[:] = 0
    for a in range(cell.size - 1, -1, -1):
        c = cell[a]
        h = head[c]
        nxt[a] = h
        prv[a] = -1
        if h >= 0:
            prv[h] = a
        head[c] = a
        count[c] += 1


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
def _activate_sequential(g_order, g_move, g_give, cell, wealth, width, height, head, nxt, prv, count):  # pragma: no cover
    """Mesa's ``shuffle_do("step")``: agents move, then maybe give, one after another in random order.

    ``g_order``, ``g_move`` and ``g_give`` are the run's named NumPy generators
    (Numba draws from them in place, so their streams advance as in NumPy).
    Returns the number of gifts made.
    """
    order = shuffled(g_order, cell.size)
    gifts = 0
    for k in range(order.size):
        a = order[k]
        c = cell[a]
        new = _moore_step(c, g_move.random(), width, height)
        # unlink a from its old cell
        p = prv[a]
        q = nxt[a]
        if p >= 0:
            nxt[p] = q
        else:
            head[c] = q
        if q >= 0:
            prv[q] = p
        count[c] -= 1
        # link a at the head of its new cell
        h = head[new]
        nxt[a] = h
        prv[a] = -1
        if h >= 0:
            prv[h] = a
        head[new] = a
        count[new] += 1
        cell[a] = new
        # give one unit to a uniformly chosen cellmate (a is the head; the others follow it)
        mates = count[new] - 1
        if wealth[a] > 0 and mates > 0:
            b = nxt[a]
            for _ in range(int(g_give.random() * mates)):
                b = nxt[b]
            wealth[b] += 1
            wealth[a] -= 1
            gifts += 1
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
        n_cells = self.width * self.height
        self.agents = AgentTable({"cell": np.int64, "wealth": np.int64}, capacity=self.n)
        self.agents.add(self.n, cell=self.streams["placement"].integers(0, n_cells, self.n), wealth=1)
        self.head = np.full(n_cells, -1, np.int64)
        self.count = np.zeros(n_cells, np.int64)
        self.nxt = np.full(self.n, -1, np.int64)
        self.prv = np.full(self.n, -1, np.int64)
        _link_all(self.agents["cell"], self.head, self.nxt, self.prv, self.count)
        self.record = record
        self.recorder = Recorder()
        self.gifts = 0
        self.steps = 0
        self.loop = StepLoop.of([("activate", self._activate), ("collect", self._collect)])
        self._collect()  # Mesa collects once at construction (step 0)

    # -- phases ---------------------------------------------------------------
    def _activate(self) -> None:
        s = self.streams
        self.gifts = _activate_sequential(
            s["activation"], s["move"], s["exchange"], self.agents["cell"], self.agents["wealth"],
            self.width, self.height, self.head, self.nxt, self.prv, self.count,
        )
        self.steps += 1

    def _collect(self) -> None:
        if not self.record:
            return
        self.recorder.record("model", step=self.steps, gini=self.gini())
        self.recorder.record("agents", step=self.steps, id=self.agents.ids, wealth=self.agents["wealth"])

    # -- public ---------------------------------------------------------------
    def step(self) -> None:
        """One Mesa step: sequential random activation, then data collection."""
        self.loop.step()

    def run(self, steps: int) -> BoltzmannPeer:
        self.loop.run(steps)
        return self

    def gini(self) -> float:
        return gini(self.agents["wealth"])

    @property
    def wealth(self) -> np.ndarray:
        return self.agents["wealth"]

    def check_index(self) -> None:
        """Assert the linked-list grid index agrees with the agents' ``cell`` column."""
        cell = self.agents["cell"]
        assert np.array_equal(np.bincount(cell, minlength=self.count.size), self.count)
        for c in np.flatnonzero(self.count):
            members, a = [], self.head[c]
            while a >= 0:
                members.append(a)
                a = self.nxt[a]
            assert sorted(members) == sorted(np.flatnonzero(cell == c).tolist())
