"""Tests for hardtech.store.ResultsStore."""

from __future__ import annotations

import datetime as dt
import json

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hardtech.store import ResultsStore, RunExistsError


def _meta(seed: int = 1, **extra) -> dict:
    return {
        "scenario_name": "hangzhou",
        "scenario_toml": "[scenario]\nname = 'hangzhou'\n",
        "seed": seed,
        "replication": 0,
        "scale": 0.1,
        "steps": 4,
        "package_version": "0.1.0",
        "git_commit": "abc123",
        "started_at": dt.datetime(2024, 1, 2, 3, 4, 5),
        "wall_seconds": 1.5,
        **extra,
    }


def _tables(offset: float = 0.0) -> dict[str, pa.Table]:
    steps = np.repeat(np.arange(4), 2)
    return {
        "step_metrics": pa.table(
            {
                "step": steps,
                "quarter": [f"2012Q{s + 1}" for s in steps],
                "year": 2012.0 + steps * 0.25,
                "region": ["hangzhou", "shenzhen"] * 4,
                "field": ["robotics"] * 8,
                "dragons": np.arange(8) + offset,
                "gap_to_frontier": [np.nan, 0.5] * 4,
            }
        ),
        "firm_events": pa.table({"step": [0, 2], "firm_id": [7, 9], "event": ["birth", "death"]}),
    }


def _snapshot(store: ResultsStore) -> dict[str, pd.DataFrame]:
    out = {"runs": store.runs()}
    for name in store.tables():
        out[name] = store.table(name)
    return out


def _assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_dtype=False)


def test_round_trip(tmp_path):
    path = tmp_path / "sub" / "results.duckdb"
    tables = _tables()
    with ResultsStore(path) as store:
        store.write_run("r1", _meta(note="hello", weights=[1, 2]), tables)
        assert store.has_run("r1")
        assert not store.has_run("r2")
        assert store.tables() == ["firm_events", "step_metrics"]

        runs = store.runs()
        assert list(runs["run_id"]) == ["r1"]
        row = runs.iloc[0]
        assert row["scenario_name"] == "hangzhou"
        assert row["seed"] == 1 and row["steps"] == 4 and row["scale"] == pytest.approx(0.1)
        assert row["started_at"] == "2024-01-02T03:04:05"
        assert json.loads(row["extra"]) == {"note": "hello", "weights": [1, 2]}

        sm = store.table("step_metrics", run_id="r1")
        assert list(sm.columns) == ["run_id", *tables["step_metrics"].column_names]
        assert (sm["run_id"] == "r1").all()
        expected = tables["step_metrics"].to_pandas()
        pd.testing.assert_frame_equal(sm.drop(columns="run_id"), expected, check_dtype=False)
        assert sm["gap_to_frontier"].isna().sum() == 4

    # persisted across connections
    with ResultsStore(path, read_only=True) as store:
        assert store.has_run("r1")
        assert len(store.table("firm_events")) == 2
        q = store.query("SELECT sum(dragons) AS s FROM step_metrics WHERE run_id = ?", ["r1"])
        assert q["s"].iloc[0] == 28


def test_two_runs_append(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(seed=1), _tables())
        # a later run may omit tables and pass pandas; columns are matched by name
        t2 = _tables(offset=100)
        reordered = t2["step_metrics"].to_pandas()[::-1].iloc[:, ::-1].reset_index(drop=True)
        store.write_run("r2", _meta(seed=2), {"step_metrics": reordered})
        assert list(store.runs()["run_id"]) == ["r1", "r2"]
        sm = store.table("step_metrics")
        assert len(sm) == 16
        assert sorted(sm["run_id"].unique()) == ["r1", "r2"]
        assert store.table("step_metrics", "r2")["dragons"].sum() == 828
        assert len(store.table("firm_events", "r2")) == 0
        counts = store.query("SELECT run_id, count(*) AS n FROM step_metrics GROUP BY run_id ORDER BY run_id")
        assert list(counts["n"]) == [8, 8]


def test_duplicate_run_id_and_replace(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(seed=1), _tables())
        store.write_run("other", _meta(seed=5), _tables())
        before = _snapshot(store)
        with pytest.raises(RunExistsError, match="r1"):
            store.write_run("r1", _meta(seed=2), _tables(offset=100))
        assert issubclass(RunExistsError, ValueError)
        _assert_same(before, _snapshot(store))

        # replace: old rows of r1 are gone everywhere, including tables the new run omits
        store.write_run("r1", _meta(seed=2), {"step_metrics": _tables(offset=100)["step_metrics"]}, replace=True)
        runs = store.runs().set_index("run_id")
        assert runs.loc["r1", "seed"] == 2
        assert len(runs) == 2
        assert store.table("step_metrics", "r1")["dragons"].sum() == 828
        assert len(store.table("firm_events", "r1")) == 0
        # the other run is untouched
        assert len(store.table("step_metrics", "other")) == 8
        assert len(store.table("firm_events", "other")) == 2


@pytest.mark.parametrize(
    "bad",
    [
        # column type conflicts with the stored table, after a good table has been written
        {"firm_events": _tables()["firm_events"], "step_metrics": pa.table({"step": ["not-a-number"]})},
        # a new column is added, then a later table fails: the added column must not survive
        {
            "step_metrics": pa.table({"step": [1], "surprise": [1.0]}),
            "ledger": pa.table({"amount": ["x"]}),
            "firm_events": pa.table({"step": ["not-a-number"]}),
        },
        # invalid table name
        {"firm_events": _tables()["firm_events"], "Bad-Name": pa.table({"x": [1]})},
        # reserved name
        {"runs": pa.table({"x": [1]})},
        # a brand-new table followed by a failing one: the new table must not survive
        {"ledger": pa.table({"amount": [1.0]}), "step_metrics": pa.table({"step": ["x"]})},
    ],
)
def test_failed_write_leaves_store_unchanged(tmp_path, bad):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(), _tables())
        before = _snapshot(store)
        tables_before = store.tables()
        with pytest.raises((ValueError, duckdb.Error)):
            store.write_run("r2", _meta(seed=2), bad)
        assert not store.has_run("r2")
        assert store.tables() == tables_before
        _assert_same(before, _snapshot(store))
        for name in store.tables():
            assert len(store.query(f"SELECT * FROM {name} WHERE run_id = 'r2'")) == 0
        # the store is still usable afterwards
        store.write_run("r2", _meta(seed=2), _tables())
        assert store.has_run("r2")


def test_failed_replace_keeps_old_run(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(), {**_tables(), "custom": pa.table({"x": [1]})})
        before = _snapshot(store)
        # a declared column is checked before the transaction; an undeclared one fails inside it,
        # after the old rows were deleted: both leave the old run as it was
        with pytest.raises(ValueError, match="'step_metrics', column 'step'"):
            store.write_run("r1", _meta(seed=9), {"step_metrics": pa.table({"step": ["x"]})}, replace=True)
        with pytest.raises(duckdb.ConversionException):
            store.write_run("r1", _meta(seed=9), {"custom": pa.table({"x": ["x"]})}, replace=True)
        _assert_same(before, _snapshot(store))


def test_invalid_names_raise_value_error(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        for name in ["Step", "1abc", "a-b", "a b", 'x"; DROP TABLE runs; --', "runs"]:
            with pytest.raises(ValueError):
                store.write_run("r1", _meta(), {name: pa.table({"x": [1]})})
        with pytest.raises(ValueError):
            store.write_run("r1", _meta(), {"t": pa.table({"run_id": ["oops"]})})
        assert store.runs().empty
        assert store.tables() == []


def test_table_unknown_name(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(), _tables())
        with pytest.raises(ValueError, match="step_metrics"):
            store.table("nope")
        with pytest.raises(ValueError):
            store.table("step_metrics; DROP TABLE runs")
        assert len(store.table("runs")) == 1


def test_empty_store_and_close(tmp_path):
    store = ResultsStore(tmp_path / "r.duckdb")
    assert store.runs().empty
    assert store.tables() == []
    assert not store.has_run("r1")
    # tables without columns (e.g. never recorded) are skipped
    store.write_run("r1", {"seed": 3}, {"bloc_metrics": pa.table({})})
    assert store.tables() == []
    assert store.runs()["seed"].iloc[0] == 3
    store.close()
    store.close()
    with pytest.raises(RuntimeError):
        store.runs()


def test_new_columns_are_added_for_later_runs(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("old", _meta(), {"ledger": pa.table({"amount": [1.0]})})
        store.write_run("new", _meta(seed=2), {"ledger": pa.table({"amount": [2.0], "account": ["x"]})})
        ledger = store.table("ledger").set_index("run_id")
        assert ledger.loc["new", "account"] == "x"
        assert pd.isna(ledger.loc["old", "account"])


def test_write_runs_stores_several_runs_whole_in_one_go(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("a", _meta(), {"ledger": pa.table({"amount": [1.0]})})
        store.write_runs(
            [
                ("b", _meta(seed=2), {"ledger": pa.table({"amount": [2.0, 3.0]}), "extra": pa.table({"x": [1]})}),
                ("c", _meta(seed=3), {"ledger": pa.table({"amount": [4.0]})}),
            ]
        )
        ledger = store.table("ledger")
        assert sorted(ledger.groupby("run_id").amount.sum().items()) == [("a", 1.0), ("b", 5.0), ("c", 4.0)]
        assert list(store.table("extra").run_id) == ["b"]
        before = _snapshot(store)
        with pytest.raises(RunExistsError):
            store.write_runs(
                [
                    ("d", _meta(), {"ledger": pa.table({"amount": [9.0]})}),
                    ("a", _meta(), {"ledger": pa.table({"amount": [9.0]})}),
                ]
            )
        _assert_same(before, _snapshot(store))


def test_a_run_without_dragons_then_one_with_dragons_share_a_store(tmp_path):
    """An empty run's tables are typed like any other run's (a dragons table built from
    untyped empty arrays once made DuckDB refuse every later run with dragons)."""
    import hardtech

    path = tmp_path / "same.duckdb"
    empty = hardtech.run("hangzhou", seed=7, overrides={"scale": 0.002, "time.end_year": 2013})
    full = hardtech.run("hangzhou", seed=7, overrides={"scale": 0.002, "time.end_year": 2020})
    assert len(empty.dragons) == 0 < len(full.dragons)
    assert empty.tables["dragons"].schema == full.tables["dragons"].schema
    empty.save(path)
    full.save(path)
    with ResultsStore(path, read_only=True) as store:
        assert len(store.table("dragons", full.run_id)) == len(full.dragons)


def test_stored_column_types_do_not_depend_on_the_run():
    """A short run (no dragons, no exits) and a long one store every column with the same type, so the
    first run stored creates tables every later run fits (see src/hardtech/store/schemas.py)."""
    import hardtech
    from hardtech.store.schemas import RUN_TABLES, conform

    short, long = (
        hardtech.run("hangzhou", seed=7, overrides={"scale": 0.002, "time.end_year": y}).tables for y in (2012, 2030)
    )
    assert set(short) == set(long) == set(RUN_TABLES), "declare new tables in src/hardtech/store/schemas.py"
    for name in RUN_TABLES:
        a, b = conform(name, short[name]).schema, conform(name, long[name]).schema
        # not strict: schemas of different lengths are reported by the assert below, not by zip
        differ = [f"{x.name}: {x.type} / {y.type}" for x, y in zip(a, b, strict=False) if x != y]
        assert a.names == b.names and not differ, f"{name}: declare the type of {differ or 'its columns'}"
        for raw in (short[name].schema, long[name].schema):
            risky = [
                f.name
                for f in raw
                if (pa.types.is_string(f.type) or pa.types.is_boolean(f.type) or pa.types.is_null(f.type))
                and f.name not in RUN_TABLES[name].names
            ]
            assert not risky, f"declare {name}.{risky} in src/hardtech/store/schemas.py (untyped when empty)"
        stale = [c for c in RUN_TABLES[name].names if c not in long[name].column_names]
        assert not stale, f"{name} no longer has {stale}: remove them from src/hardtech/store/schemas.py"


def test_nan_is_stored_as_null(tmp_path):
    with ResultsStore(tmp_path / "r.duckdb") as store:
        store.write_run("r1", _meta(), {"field_metrics": pa.table({"small_share_niche": [0.5, np.nan, None]})})
        row = store.query(
            "SELECT count(*) FILTER (WHERE isnan(small_share_niche)) AS nan, "
            "count(*) FILTER (WHERE small_share_niche IS NULL) AS null, "
            "avg(small_share_niche) AS mean FROM field_metrics"
        ).iloc[0]
        assert row["nan"] == 0 and row["null"] == 2 and row["mean"] == 0.5
