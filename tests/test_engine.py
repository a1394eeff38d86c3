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


@pytest.mark.parametrize("n", [0, 5, 1023, 1024, 40_000])
@pytest.mark.parametrize("dtype", [np.int16, np.int64])
def test_stable_group_order_is_the_same_on_both_engines(n, dtype):
    """The compiled counting pass and NumPy's stable sort give the one stable order."""
    from hardtech.engine.jit import use_engine
    from hardtech.engine.ops import stable_group_order

    groups = np.random.default_rng(n).integers(0, 181, n).astype(dtype)
    with use_engine("numpy"):
        reference = stable_group_order(groups)
    with use_engine("numba"):
        compiled = stable_group_order(groups)
    assert compiled.dtype == reference.dtype and np.array_equal(compiled, reference)
    assert np.all(np.diff(groups[compiled]) >= 0)  # sorted by group …
    same = np.diff(groups[compiled]) == 0
    assert np.all(np.diff(compiled)[same] > 0)  # … ties in row order


@pytest.mark.parametrize("n", [3, 1_000, 300_000])
@pytest.mark.parametrize("share", [0.0005, 0.01, 0.5, 1.0])
def test_in_place_removal_matches_the_reference(share, n):
    """The compiled engine compacts columns in place (a memmove per run of kept rows); same rows, same order."""
    from hardtech.engine.jit import use_engine

    rng = np.random.default_rng(int(share * 10_000))
    columns = {"a": np.float64, "b": np.int16, "c": np.bool_, "d": np.float32}
    values = {
        "a": rng.random(n),
        "b": rng.integers(-100, 100, n).astype(np.int16),
        "c": rng.random(n) < 0.5,
        "d": rng.random(n).astype(np.float32),
    }
    masks = [rng.random(n) < share, np.zeros(n, bool)]
    masks[1][[0, n - 1]] = True  # the first and the last row
    for mask in masks:
        tables = {}
        for engine in ("numpy", "numba"):
            t = AgentTable(columns)
            t.add(n, **values)
            with use_engine(engine):
                assert t.remove(mask) == mask.sum()
            tables[engine] = t.to_dict()
        for name in ("id", *columns):
            assert np.array_equal(tables["numba"][name], tables["numpy"][name]), name
        assert np.array_equal(tables["numpy"]["a"], values["a"][~mask])


def test_a_column_of_several_values_per_row_is_refused():
    with pytest.raises(ValueError, match="column 'v' has dtype .*one value per row"):
        AgentTable({"v": (np.float64, 3), "x": np.int32})


def test_group_ranks_on_many_rows_match_the_reference():
    """Above SORT_BELOW rows the compiled engine counts members per block; same k-th members as the reference."""
    from hardtech.engine.jit import use_engine
    from hardtech.engine.ops import GroupRanks, stable_group_order

    n_groups = 724
    n = GroupRanks.SORT_BELOW + 54_321
    rng = np.random.default_rng(3)
    keys = rng.integers(0, n_groups + 1, n).astype(np.int16)  # n_groups: in no group
    keys[: n // 3].sort()  # long runs of one group as well as mixed blocks
    groups = rng.integers(-1, n_groups + 1, 20_000)
    ranks = rng.integers(-1, 2 * n // n_groups, groups.size)
    found = {}
    for engine in ("numpy", "numba"):
        with use_engine(engine):
            ranks_of = GroupRanks(keys, n_groups)
            found[engine] = (ranks_of.counts, ranks_of.nth(groups, ranks))
    assert np.array_equal(found["numba"][0], found["numpy"][0])
    assert np.array_equal(found["numba"][1], found["numpy"][1])
    counts = np.bincount(keys, minlength=n_groups + 1)[:n_groups]
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    ok = (groups >= 0) & (groups < n_groups) & (ranks >= 0)
    ok[ok] &= ranks[ok] < counts[groups[ok]]
    expected = np.full(groups.size, -1)
    expected[ok] = stable_group_order(keys)[start[groups[ok]] + ranks[ok]]
    assert np.array_equal(found["numba"][1], expected) and ok.any() and (~ok).any()


def _weights(kind: str, n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.ones(n) if kind == "ones" else rng.random(n)
    if kind == "some zero":
        w[rng.random(n) < 0.5] = 0.0
    if kind == "negative":
        w -= 0.3
    if kind == "a NaN":
        w[rng.integers(0, n)] = np.nan
    if kind == "an inf":
        w[rng.integers(0, n)] = np.inf
    return w


@pytest.mark.filterwarnings("ignore:invalid value encountered")
@pytest.mark.parametrize("n, n_groups, draws", [(1, 1, 3), (5, 3, 40), (160, 8, 200), (12_000, 1152, 300)])
@pytest.mark.parametrize("kind", ["ones", "random", "some zero", "negative", "a NaN", "an inf"])
@pytest.mark.parametrize("dtype", [np.int16, np.int64])
def test_choice_within_groups_is_the_same_on_both_engines(n, n_groups, draws, kind, dtype):
    """The compiled pass picks the reference's candidates and leaves the stream where the reference does."""
    from hardtech.engine.jit import use_engine

    rng = np.random.default_rng(n + draws)
    groups = rng.integers(0, n_groups, n).astype(dtype)
    weights = _weights(kind, n, rng)
    draw_groups = rng.integers(0, n_groups + 2, draws)  # some groups with no candidate …
    draw_groups[: min(n_groups, draws)] = np.arange(min(n_groups, draws))  # … and groups that may have one
    out = {}
    for engine in ("numpy", "numba"):
        with use_engine(engine):
            stream = np.random.default_rng(1)
            out[engine] = (choose_within_groups(stream, groups, weights, draw_groups), stream.random())
    assert out["numba"][0].dtype == out["numpy"][0].dtype
    assert np.array_equal(out["numba"][0], out["numpy"][0]) and out["numba"][1] == out["numpy"][1]
    picked = out["numba"][0]
    if kind in ("ones", "random", "some zero", "negative"):  # (a NaN or an inf spoils the running sums, in both)
        assert np.all(groups[picked[picked >= 0]] == draw_groups[picked >= 0])  # members of the draw's group
        assert (picked >= 0).any()


@pytest.mark.parametrize("rows, cols", [(1, 1), (5, 3), (144, 144)])
def test_choice_by_row_is_the_same_on_both_engines(rows, cols):
    from hardtech.engine.jit import use_engine

    rng = np.random.default_rng(rows)
    weights = rng.random((rows, cols))
    weights[0] = 0.0  # a row with no weight chooses column 0
    weights[-1, : cols // 2] = 0.0
    draw_rows = rng.integers(0, rows, 500)
    out = {}
    for engine in ("numpy", "numba"):
        with use_engine(engine):
            out[engine] = choose_by_row(np.random.default_rng(2), weights, draw_rows)
    assert out["numba"].dtype == out["numpy"].dtype and np.array_equal(out["numba"], out["numpy"])
    assert np.all(weights[draw_rows, out["numba"]][draw_rows != 0] > 0)


@pytest.mark.parametrize("n", [0, 1, 300, 41_000])
def test_group_ranks_on_few_rows_match_the_reference(n):
    """Up to SORT_BELOW rows the compiled engine counts and orders the rows in one pass; same members."""
    from hardtech.engine.jit import use_engine
    from hardtech.engine.ops import GroupRanks

    n_groups = 1152
    rng = np.random.default_rng(n)
    keys = rng.integers(0, n_groups + 1, n).astype(np.int16)  # n_groups: in no group
    groups = rng.integers(-1, n_groups + 1, 3_000)
    ranks = rng.integers(-1, max(2 * n // n_groups, 2), groups.size)
    found = {}
    for engine in ("numpy", "numba"):
        with use_engine(engine):
            ranks_of = GroupRanks(keys, n_groups)
            found[engine] = (ranks_of.counts, ranks_of.nth(groups, ranks))
    assert found["numba"][0].dtype == found["numpy"][0].dtype
    assert np.array_equal(found["numba"][0], found["numpy"][0])
    assert np.array_equal(found["numba"][1], found["numpy"][1])
    hit = found["numba"][1] >= 0
    assert np.all(keys[found["numba"][1][hit]] == groups[hit]) and (hit.any() or n < n_groups)


def test_is_in_is_numpys_isin():
    from hardtech.engine.ops import is_in

    rng = np.random.default_rng(0)
    pool = rng.integers(0, 10**12, 1_500)
    values = np.concatenate([rng.integers(0, 10**12, 150), pool[:20], [pool.max() + 1, -5]])
    assert np.array_equal(is_in(values, pool), np.isin(values, pool)) and is_in(values, pool).sum() == 20
    assert not is_in(values, pool[:0]).any() and is_in(values[:0], pool).shape == (0,)


@pytest.mark.parametrize("shape", [(1, 1, 1), (12, 12, 8), (40, 7, 1), (3, 0, 2)])
def test_ordered_matmul_is_the_same_on_both_engines(shape):
    """The compiled triple loop adds the terms in the reference's order: the same bits, not BLAS's."""
    from hardtech.engine.jit import use_engine
    from hardtech.engine.ops import ordered_matmul

    rng = np.random.default_rng(sum(shape))
    m, k, n = shape
    a = rng.random((m, k)) * 10.0 ** rng.integers(-8, 8, (m, k))  # magnitudes far apart: order shows in the bits
    b = rng.random((n, k)).T  # a transposed (non-contiguous) operand, as the model passes
    with use_engine("numpy"):
        reference = ordered_matmul(a, b)
    with use_engine("numba"):
        compiled = ordered_matmul(a, b)
    assert compiled.shape == (m, n) and np.array_equal(compiled, reference)
    assert np.allclose(compiled, a @ b, rtol=1e-12)


class _Uniforms:
    """A stand-in for a Generator whose ``random(n)`` returns chosen numbers (to test ties exactly)."""

    def __init__(self, values):
        self.values = np.asarray(values, float)

    def random(self, n):
        assert n == self.values.size
        return self.values.copy()


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_choices_on_ties_take_the_next_candidate(engine):
    """A uniform that lands exactly on a running sum picks the candidate after it, on both engines."""
    from hardtech.engine.jit import use_engine

    u = [0.0, 0.25, 0.5, 0.75, 0.999]
    with use_engine(engine):
        by_row = choose_by_row(_Uniforms(u), np.ones((1, 4)), np.zeros(5, np.int64))  # cdf 0.25, 0.5, 0.75, 1
        within = choose_within_groups(_Uniforms(u), np.zeros(4, np.int64), np.ones(4), np.zeros(5, np.int64))
    assert list(by_row) == [0, 1, 2, 3, 3]
    assert list(within) == [0, 1, 2, 3, 3]
