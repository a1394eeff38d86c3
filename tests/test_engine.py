"""The generic engine: agent tables, random streams, step loop, recorder, ops."""

import numpy as np
import pytest

from hardtech.engine import AgentTable, Phase, RandomStreams, Recorder, StepLoop
from hardtech.engine.ops import choose_by_row, choose_within_groups, group_max, group_sum, stochastic_round


def test_table_add_remove_keeps_ids_stable_and_sorted():
    t = AgentTable({"x": float, "g": np.int16}, capacity=2, defaults={"x": 1.5})
    ids = t.add(5, g=np.arange(5))
    assert list(ids) == [0, 1, 2, 3, 4]
    assert np.all(t["x"] == 1.5)
    t["x"] = np.arange(5.0)
    assert t.remove(t["g"] % 2 == 1) == 2
    assert list(t.ids) == [0, 2, 4] and list(t["x"]) == [0.0, 2.0, 4.0]
    more = t.add(2, x=[7.0, 8.0])
    assert list(more) == [5, 6]  # ids are never reused
    assert list(t.rows_of(np.array([4, 1, 6, 99]))) == [2, -1, 4, -1]
    with pytest.raises(ValueError):
        t.remove(np.zeros(3, bool))
    with pytest.raises(KeyError):
        t.add(1, nope=1)


def test_table_to_dict_is_a_copy():
    t = AgentTable({"x": float})
    t.add(3, x=1.0)
    d = t.to_dict()
    d["x"][:] = 0
    assert np.all(t["x"] == 1.0)


def test_streams_are_named_not_positional():
    a = RandomStreams(42)
    b = RandomStreams(42)
    b["other"].random(10)  # creating and using another stream first …
    assert np.array_equal(a["market"].random(5), b["market"].random(5))  # … shifts nothing
    assert not np.array_equal(RandomStreams(42, 1)["market"].random(5), RandomStreams(42, 0)["market"].random(5))
    assert not np.array_equal(RandomStreams(43)["market"].random(5), RandomStreams(42)["market"].random(5))


def test_step_loop_runs_phases_in_order_and_times_them():
    seen = []
    loop = StepLoop([Phase("a", lambda: seen.append("a")), Phase("b", lambda: seen.append("b"))])
    loop.run(2, after_step=lambda i: seen.append(i))
    assert seen == ["a", "b", 0, "a", "b", 1]
    assert set(loop.seconds) == {"a", "b"} and loop.steps_done == 2
    with pytest.raises(ValueError):
        StepLoop.of([("a", lambda: None), ("a", lambda: None)])


def test_recorder_builds_arrow_tables():
    rec = Recorder()
    rec.record("m", step=0, region=np.array(["x", "y"]), v=np.array([1.0, 2.0]))
    rec.record("m", step=1, region=np.array(["x", "y"]), v=np.array([3.0, 4.0]))
    tbl = rec.table("m")
    assert tbl.num_rows == 4 and tbl.column("step").to_pylist() == [0, 0, 1, 1]
    with pytest.raises(ValueError):
        rec.record("m", step=2, other=1.0)


def test_ops():
    g = np.array([0, 0, 2])
    assert list(group_sum(g, np.array([1.0, 2.0, 5.0]), 3)) == [3.0, 0.0, 5.0]
    assert list(group_sum(g, None, 3)) == [2.0, 0.0, 1.0]
    m = group_max(g, np.array([1.0, 2.0, 5.0]), 3)
    assert m[0] == 2.0 and np.isnan(m[1]) and m[2] == 5.0
    rng = np.random.default_rng(0)
    x = stochastic_round(rng, np.full(20000, 0.25))
    assert abs(x.mean() - 0.25) < 0.02
    picks = choose_by_row(rng, np.array([[0.0, 1.0], [1.0, 0.0]]), np.array([0, 1, 0]))
    assert list(picks) == [1, 0, 1]
    cand_groups = np.array([0, 0, 1])
    picked = choose_within_groups(rng, cand_groups, np.array([1.0, 0.0, 1.0]), np.array([0, 1, 2]))
    assert list(picked) == [0, 2, -1]
