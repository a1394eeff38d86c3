"""Smoke tests of the Mesa peer models in benchmarks/peers (Boltzmann wealth, Schelling).

They check invariants on tiny grids, reproducibility, and Mesa's one-agent-after-
another activation on hand-built cases where a vectorized update would differ.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("numba")

PEERS = Path(__file__).resolve().parents[1] / "benchmarks" / "peers"
if str(PEERS) not in sys.path:
    sys.path.insert(0, str(PEERS))

from boltzmann import BoltzmannPeer, BoltzmannSynchronous, _activate_sequential, gini  # noqa: E402
from peer_common import moore_neighbours, shuffled  # noqa: E402
from schelling import SchellingPeer, _relocate_sequential, similarity  # noqa: E402


def identity_uniforms(n: int) -> np.ndarray:
    """Uniforms for which the Fisher-Yates ``shuffled`` keeps ``range(n)`` in order."""
    i = np.arange(n, dtype=float)
    return (i + 0.5) / (i + 1)


def test_shuffled_is_a_permutation_and_identity_is_reachable():
    rng = np.random.default_rng(0)
    assert sorted(shuffled(rng.random(50)).tolist()) == list(range(50))
    assert shuffled(identity_uniforms(7)).tolist() == list(range(7))


# -- Boltzmann ----------------------------------------------------------------------
def test_boltzmann_conserves_wealth_and_moves_to_a_moore_neighbour():
    model = BoltzmannPeer(n=40, width=4, height=3, seed=3)
    table, counts = moore_neighbours(4, 3)
    for _ in range(25):
        before = model.agents["cell"].copy()
        model.step()
        after = model.agents["cell"]
        assert model.wealth.sum() == 40
        assert (model.wealth >= 0).all()
        # every agent moved exactly once, to a cell of its Moore neighbourhood
        assert all(a in table[b, : counts[b]] for a, b in zip(after, before, strict=True))
        model.check_index()
    steps = model.recorder.table("model").column("step").to_pylist()
    assert steps == list(range(26))  # Mesa collects at construction and after each step


def test_boltzmann_same_seed_same_run_and_replications_differ():
    runs = [BoltzmannPeer(60, 5, 5, seed=11).run(15) for _ in range(2)]
    assert np.array_equal(runs[0].wealth, runs[1].wealth)
    assert np.array_equal(runs[0].agents["cell"], runs[1].agents["cell"])
    assert runs[0].recorder.table("agents").equals(runs[1].recorder.table("agents"))
    other = BoltzmannPeer(60, 5, 5, seed=11, replication=1).run(15)
    assert not np.array_equal(runs[0].agents["cell"], other.agents["cell"])


def test_boltzmann_sequential_gift_chain():
    """On a 1x2 grid every move is forced. Agents A (cell 0, wealth 1), B (cell 1)
    and D (cell 0), activated A, B, D: A moves to B's cell and gives to B; B moves
    to D's cell and gives on the unit it just got; D moves to A's cell and gives it
    to A. Mesa's sequential activation ends with A=1, B=0, D=0; a one-shot update
    (all move, then all give) ends with A=0, B=0, D=1."""
    model = BoltzmannPeer(n=3, width=1, height=2, seed=0)
    model.set_state(cell=[0, 1, 0], wealth=[1, 0, 0])
    gifts = _activate_sequential(
        identity_uniforms(3),
        np.full(3, 0.5),
        np.zeros(3),
        model.agents["cell"],
        model.agents["wealth"],
        1,
        2,
        model.interior,
        model.off8,
        model.nxt,
        model.prv,
        model.count,
    )
    assert gifts == 3
    assert model.agents["cell"].tolist() == [1, 0, 1]
    assert model.wealth.tolist() == [1, 0, 0]
    model.check_index()

    control = BoltzmannSynchronous(n=3, width=1, height=2, seed=0)
    control.set_state(cell=[0, 1, 0], wealth=[1, 0, 0])
    control.step()
    assert control.agents["cell"].tolist() == [1, 0, 1]
    assert control.wealth.tolist() == [0, 0, 1]


def test_boltzmann_needs_a_cellmate_to_give():
    model = BoltzmannPeer(n=2, width=1, height=3, seed=0)
    model.set_state(cell=[0, 2], wealth=[1, 1])  # both move to the middle cell
    gifts = _activate_sequential(
        identity_uniforms(2),
        np.full(2, 0.5),
        np.zeros(2),
        model.agents["cell"],
        model.agents["wealth"],
        1,
        3,
        model.interior,
        model.off8,
        model.nxt,
        model.prv,
        model.count,
    )
    # the first arrives alone and keeps its unit; the second finds it and gives
    assert model.agents["cell"].tolist() == [1, 1]
    assert gifts == 1 and model.wealth.tolist() == [2, 0]


def test_gini_matches_mesa_formula():
    assert gini(np.ones(10)) == pytest.approx(0.0)
    x = np.array([0, 0, 0, 4])
    xs = sorted(x)
    b = sum(xi * (4 - i) for i, xi in enumerate(xs)) / (4 * sum(xs))
    assert gini(x) == pytest.approx(1 + 1 / 4 - 2 * b)


# -- Schelling ---------------------------------------------------------------------------
def test_schelling_conserves_agents_and_only_unhappy_move():
    model = SchellingPeer(width=7, height=6, seed=5)
    n, types = len(model.agents), model.agents["type"].copy()
    assert 0 < n < 42
    for _ in range(10):
        happy, cells = model.agents["happy"].copy(), model.agents["cell"].copy()
        model.step()
        assert len(model.agents) == n
        assert np.array_equal(model.agents["type"], types)
        assert np.array_equal(model.agents["cell"][happy], cells[happy])  # happy agents stay
        assert (model.agents["cell"][~happy] != cells[~happy]).all()  # unhappy ones always move
        model.check_index()
    rec = model.recorder.table("model")
    assert rec.column("population").to_pylist() == [n] * 11


def test_schelling_same_seed_same_run_and_numpy_reference_agrees():
    a = SchellingPeer(width=12, height=9, seed=2).run(6)
    b = SchellingPeer(width=12, height=9, seed=2).run(6)
    ref = SchellingPeer(width=12, height=9, seed=2, assess="numpy").run(6)
    for other in (b, ref):
        assert np.array_equal(a.agents["cell"], other.agents["cell"])
        assert np.array_equal(a.agents["happy"], other.agents["happy"])
        assert np.allclose(a.agents["similar"], other.agents["similar"])
    assert a.recorder.table("model").equals(b.recorder.table("model"))


def test_schelling_happiness_rule():
    """Happy iff share of alike neighbours >= homophily; no neighbours counts as unhappy."""
    model = SchellingPeer(width=5, height=5, density=0.0, seed=0)
    # centre (2,2) is type 0 with neighbours: 2 alike, 3 unlike -> 2/5 = 0.4 -> happy
    # (4,4) is alone in its neighbourhood -> unhappy
    cells = [2 * 5 + 2, 1 * 5 + 1, 1 * 5 + 2, 1 * 5 + 3, 2 * 5 + 1, 2 * 5 + 3, 4 * 5 + 4]
    types = [0, 0, 0, 1, 1, 1, 0]
    model.set_state(cells, types)
    happy = model.agents["happy"]
    assert happy[0] and model.agents["similar"][0] == pytest.approx(0.4)
    assert not happy[6] and model.agents["similar"][6] == 0.0
    frac, occupied = similarity(model.agents["cell"], model.agents["type"], model.nbr, 25)
    assert np.allclose(frac, model.agents["similar"]) and occupied[6] == 0


def test_schelling_sequential_relocation_reuses_vacated_cells():
    """1x3 grid, agents on cells 0 and 1, cell 2 empty, both unhappy. Activated in
    order, the first takes the only empty cell and the second takes the cell the
    first just vacated; moving all at once, the second could not move at all."""
    model = SchellingPeer(width=1, height=3, density=0.0, seed=0)
    model.set_state([0, 1], [0, 1])
    assert not model.agents["happy"].any()
    _relocate_sequential(
        identity_uniforms(2),
        np.array([0.3, 0.3]),
        np.array([0, 1]),
        model.agents["cell"],
        model.agents["type"],
        model.grid,
        model.empties,
        3,
        model.hp,
        1,
        model.occupant,
        np.empty(4, np.int64),
    )
    assert model.agents["cell"].tolist() == [2, 0]
    assert model.empties.tolist() == [1]
    model.check_index()


def test_schelling_matches_mesa_assign_state_when_mesa_is_installed():
    examples = pytest.importorskip("mesa.examples")
    mesa_model = examples.Schelling(width=9, height=8, seed=4)
    for _ in range(2):
        mesa_model.step()
    agents = list(mesa_model.agents)
    cells = [a.cell.coordinate[0] * 8 + a.cell.coordinate[1] for a in agents]
    peer = SchellingPeer(width=9, height=8, density=0.0, seed=0)
    peer.set_state(cells, [a.type for a in agents])
    assert peer.agents["happy"].tolist() == [a.happy for a in agents]
    assert peer.happy == mesa_model.happy
