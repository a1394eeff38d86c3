"""``hardtech robustness``: screening, mapping, shares, resumption, CLI errors (tiny scales)."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import numpy as np
import pytest
from typer.testing import CliRunner

import hardtech
from hardtech.evidence.robustness import (
    FULL,
    MEASURE_SOURCES,
    NOT_MEASURING,
    RobustnessError,
    RobustnessStore,
    Settings,
    _bins,
    _fails_when,
    assumptions,
    code_fingerprint,
    keep_parameters,
    measure_files,
    morris_design,
    run_robustness,
    select_parameters,
    status,
    wilson,
)
from hardtech.provenance import model_files
from hardtech.scenario import load
from hardtech.scenario.schema import parameters
from tests.helpers import clean_env

TINY = {"scale": 0.002, "time.end_year": 2013}
PARAMS = ("entrepreneurship.young_founding_factor", "labour.cost_weight")


def test_screened_parameters_are_the_assumptions():
    sc = load("hangzhou")
    screened = assumptions(sc)
    tags = {p.tag for p in screened}
    assert tags == {"ASSUMPTION"} and len(screened) > 100
    assert all(p.plausible[0] < p.plausible[1] and "*" not in p.path for p in screened)
    # calibrated, sourced and definition parameters are not screened; --set fixes a parameter
    paths = {p.path for p in screened}
    assert "market.capability_weight" not in paths and "innovation.world_halving_km" not in paths
    assert "innovation.effort_unit" not in paths and "capital.round_price_fade" in paths
    assert "capital.round_price_fade" not in {p.path for p in assumptions(sc, fixed=["capital.round_price_fade"])}
    assert {p.path for p in select_parameters(screened, "capital.,labour.young_age")} >= {
        "capital.appeal_floor",
        "labour.young_age",
    }
    with pytest.raises(RobustnessError, match="--params: 'capital.nope'"):
        select_parameters(screened, "capital.nope")


def test_every_plausible_point_is_a_valid_scenario():
    """Ordered pairs (min < max) have plausible ranges that never cross, so no design point is refused."""
    sc = load("hangzhou", TINY)
    screened = assumptions(sc)
    low = {p.path: p.plausible[0] for p in screened}
    high = {p.path: p.plausible[1] for p in screened}
    load(sc, low)
    load(sc, high)
    crossed = {**low, **{k: v for k, v in high.items() if k.endswith(("_min", "_min_years"))}}
    crossed.update({k: v for k, v in low.items() if k.endswith(("_max", "_max_years"))})
    load(sc, crossed)  # every min at its highest, every max at its lowest


def test_settings_label_screening_below_the_issues_design():
    base = dict(claims=("H2",), region="hangzhou", parameters=PARAMS)
    assert not Settings(**base).screening
    for change in (
        {"trajectories": FULL["trajectories"] - 1},
        {"points": FULL["points"] - 1},
        {"replications": FULL["replications"] - 1},
    ):
        assert Settings(**base, **change).screening
    with pytest.raises(RobustnessError, match="--replications"):
        Settings(**base, replications=1).check()
    with pytest.raises(RobustnessError, match="--levels"):
        Settings(**base, levels=3).check()


def test_more_trajectories_extend_the_morris_design():
    # docs/robustness.md: a study with more trajectories reuses the stored points of one with fewer
    sc = load("hangzhou")
    params = assumptions(sc)
    base = dict(claims=("H2",), region="hangzhou", parameters=tuple(p.path for p in params))
    two = morris_design(params, Settings(**base, trajectories=2))
    six = morris_design(params, Settings(**base, trajectories=6))
    assert two.shape == (2 * (len(params) + 1), len(params)) and six.shape[0] == 3 * two.shape[0]
    assert np.array_equal(two, six[: two.shape[0]])
    assert not np.array_equal(six[: two.shape[0]], six[two.shape[0] : 2 * two.shape[0]])


def test_point_status_shares_and_bins():
    assert status(0.1, 2.0, 4) == "supported" and status(-2.0, -0.1, 4) == "contrary"
    assert status(-0.1, 2.0, 4) == "unresolved" and status(1.0, 1.0, 1) == "unresolved"
    lo, hi = wilson(8, 10)
    assert lo < 0.8 < hi and 0 <= lo and hi <= 1
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == 1.0
    x = np.array([0.05, 0.1, 0.3, 0.35, 0.6, 0.7, 0.9, 1.0])
    ok = np.array([False, False, False, True, True, True, True, True])
    against = np.array([True, False, False, False, False, False, False, False])
    bins = _bins(x, ok, against, 0.0, 1.0)
    assert [b["n"] for b in bins] == [2, 2, 2, 2] and [b["supported"] for b in bins] == [0.0, 0.5, 1.0, 1.0]
    assert [b["contrary"] for b in bins] == [0.5, 0.0, 0.0, 0.0]
    assert all(lo <= b["contrary"] <= hi for b in bins for lo, hi in [b["contrary_ci"]])
    assert _fails_when("capital.appeal_floor", bins) == "fails when appeal_floor < 0.25"
    flipped = _bins(1.0 - x, ok, against, 0.0, 1.0)
    assert _fails_when("capital.appeal_floor", flipped) == "fails when appeal_floor > 0.75"
    assert [b["contrary"] for b in flipped] == [0.0, 0.0, 0.0, 0.5]
    assert _fails_when("x.y", _bins(x, np.ones(8, bool), ~np.ones(8, bool), 0.0, 1.0)) == ""


def test_keep_parameters_ranks_by_relative_mu_star():
    params = [p for p in parameters() if p.path in ("capital.appeal_floor", "labour.young_age", "market.fringe_fit")]
    screen = {
        "claim:H1": [
            {"parameter": "capital.appeal_floor", "mu_star": 10.0},
            {"parameter": "labour.young_age", "mu_star": 1.0},
            {"parameter": "market.fringe_fit", "mu_star": 2.0},
        ],
        "outcome:survival": [
            {"parameter": "capital.appeal_floor", "mu_star": 0.001},
            {"parameter": "labour.young_age", "mu_star": 0.01},
            {"parameter": "market.fringe_fit", "mu_star": 0.0},
        ],
        "outcome:dragons": None,  # constant output: no screening
    }
    kept = keep_parameters(screen, params, 2)
    assert [k["parameter"] for k in kept] == ["capital.appeal_floor", "labour.young_age"]  # each tops one output
    assert kept[1]["output"] == "outcome:survival"


def test_ties_between_outputs_tops_go_to_the_broader_parameter_not_the_name():
    """More outputs than kept parameters: each output's top scores 1, so the breadth decides, not the alphabet."""
    names = ("capital.appeal_floor", "labour.young_age", "market.fringe_fit")
    params = [p for p in parameters() if p.path in names]

    def output(top: str, others: dict[str, float]) -> list[dict]:
        return [{"parameter": n, "mu_star": 1.0 if n == top else others.get(n, 0.0)} for n in names]

    screen = {
        "claim:H1": output("capital.appeal_floor", {}),  # tops one output, nothing else
        "claim:H2": output("labour.young_age", {"market.fringe_fit": 0.9}),
        "outcome:survival": output("market.fringe_fit", {"labour.young_age": 0.2}),
    }
    kept = keep_parameters(screen, params, 2)
    assert [k["parameter"] for k in kept] == ["market.fringe_fit", "labour.young_age"]
    assert all(k["score"] == 1.0 for k in kept) and kept[0]["breadth"] > kept[1]["breadth"]


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    sc = load("hangzhou", TINY)
    settings = Settings(
        claims=("H2", "H5"), region="hangzhou", parameters=PARAMS, trajectories=2, keep=2, points=4, replications=2
    )
    path = tmp_path_factory.mktemp("robustness") / "study.duckdb"
    ticks = []
    with RobustnessStore(path, code_fingerprint()) as store:
        result = run_robustness(sc, settings, store, on_done=lambda: ticks.append(1))
    return sc, settings, path, result, len(ticks)


def test_tiny_study_maps_each_claim(tiny_study):
    sc, settings, path, result, ticks = tiny_study
    assert result["label"] == "screening" and result["morris"]["points"] == 2 * (len(PARAMS) + 1)
    assert result["lhs"] == {"points": 4, "replications": 2}
    assert [c["claim"] for c in result["claims"]] == ["H2", "H5"]
    for c in result["claims"]:
        counts = [c[s]["points"] for s in ("supported", "contrary", "unresolved")]
        assert sum(counts) == 4
        for s in ("supported", "contrary", "unresolved"):
            lo, hi = c[s]["ci"]
            assert lo <= c[s]["share"] <= hi
        assert {d["parameter"] for d in c["deciding"]} == set(PARAMS)
        assert all(sum(b["n"] for b in d["bins"]) == 4 for d in c["deciding"])
    assert {o["outcome"] for o in result["outcomes"]} == {
        "dragons",
        "dragons_hangzhou",
        "survival",
        "survival_hangzhou",
    }
    assert result["history"]  # 2012-2013 cannot be compared with the panel
    # every distinct run was stored as it finished, and counted once by the progress callback
    assert result["runs"]["new"] == result["runs"]["distinct"] == ticks > 0
    con = duckdb.connect(str(path), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM robustness_runs").fetchone()[0] == ticks
        stages = dict(con.execute("SELECT stage, count(*) FROM robustness_points GROUP BY stage").fetchall())
        assert stages == {"morris": 6, "lhs": 4}
        stored = json.loads(con.execute("SELECT result FROM robustness_results").fetchone()[0])
    finally:
        con.close()
    assert stored["claims"][0]["supported"] == result["claims"][0]["supported"]


def test_study_resumes_from_the_store_with_the_same_result(tiny_study):
    sc, settings, path, result, _ = tiny_study
    ticks = []
    with RobustnessStore(path, code_fingerprint()) as store:
        again = run_robustness(sc, settings, store, on_done=lambda: ticks.append(1))
    assert not ticks and again["runs"]["new"] == 0 and again["runs"]["reused_from_store"] == result["runs"]["distinct"]
    assert _strip(again) == _strip(result)


def test_a_study_counts_only_its_own_runs_of_a_shared_store(tiny_study):
    """The store holds the H2 + H5 study's runs; an H2-only study on it reads some of them and runs none."""
    sc, settings, path, result, _ = tiny_study
    with RobustnessStore(path, code_fingerprint()) as store:
        h2 = run_robustness(sc, dataclasses.replace(settings, claims=("H2",)), store)
    runs = h2["runs"]
    assert runs["new"] == 0 and 0 < runs["distinct"] == runs["reused_from_store"] < result["runs"]["distinct"]


def _strip(result: dict) -> str:
    """A study's result without its run counts (which say what was reused), NaN-safe for comparison."""
    return json.dumps({k: v for k, v in result.items() if k != "runs"}, sort_keys=True, default=str)


def test_process_pool_gives_the_same_study(tiny_study, tmp_path):
    """Bit-identical whatever the executor: two worker processes reproduce the in-process result."""
    from hardtech.experiments.executors import open_executor

    sc, settings, _, result, _ = tiny_study
    with open_executor(workers=2) as info, RobustnessStore(tmp_path / "pool.duckdb", code_fingerprint()) as store:
        pooled = run_robustness(sc, settings, store, executor=info.executor, parallelism=info.parallelism)
    assert _strip(pooled) == _strip(result)


# -- what a stored run depends on -----------------------------------------------------------------

_LOADED = """
import json, sys
from pathlib import Path
import hardtech
from hardtech.evidence.ensembles import _one
from hardtech.evidence.history import history_row
from hardtech.scenario import load
sc = load("hangzhou", {"scale": 0.002, "time.end_year": 2013})
_one((sc, 0, True))
history_row(hardtech.run(sc, replication=1), timeline=False)
root = Path(hardtech.__file__).resolve().parent
print(json.dumps(sorted(
    Path(m.__file__).resolve().relative_to(root).as_posix()
    for name, m in list(sys.modules.items())
    if name.startswith("hardtech") and getattr(m, "__file__", None)
)))
"""


def test_fingerprint_covers_every_module_a_measured_run_loads():
    """Each hardtech module loaded to run and measure a run is hashed (model or measure) or declared inert.

    A new module on that path fails here until it is placed; a listed measure source that nothing
    loads any more fails too (the fingerprint would be broader than it says).
    """
    done = subprocess.run(
        [sys.executable, "-c", _LOADED], capture_output=True, text=True, env=clean_env(), timeout=300, check=True
    )
    loaded = set(json.loads(done.stdout))
    root = Path(hardtech.__file__).resolve().parent
    model = {p.relative_to(root).as_posix() for p in model_files(root)}
    measures = {p.relative_to(root).as_posix() for p in measure_files(root)}
    inert = [m for m in loaded if m.startswith(NOT_MEASURING)]
    unplaced = loaded - model - measures - set(inert)
    assert not unplaced, f"loaded by a measured run but in neither the model nor MEASURE_SOURCES: {sorted(unplaced)}"
    stale = {s for s in MEASURE_SOURCES if s.endswith(".py")} - loaded
    assert not stale, f"MEASURE_SOURCES lists modules a measured run does not load: {sorted(stale)}"
    assert "analysis/report.py" not in loaded | measures and "evidence/claims.py" not in measures


def test_fingerprint_changes_with_the_measures_not_with_the_reports(tmp_path):
    root = tmp_path / "hardtech"
    shutil.copytree(
        Path(hardtech.__file__).resolve().parent, root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    before = code_fingerprint(root)
    assert before == code_fingerprint(root)

    def edited(rel: str, text: str) -> str:
        path = root / rel
        original = path.read_bytes()
        path.write_bytes(original + text.encode())
        try:
            return code_fingerprint(root)
        finally:
            path.write_bytes(original)

    assert edited("analysis/report.py", "\nX = 1\n") == before  # the run report: no stored row reads it
    assert edited("evidence/claims.py", "\nX = 1\n") == before  # effects are recomputed from the rows
    assert edited("model/capital.py", "# a comment only\n") == before  # the model's version ignores comments
    assert edited("model/capital.py", "\nX = 1\n") != before
    assert edited("analysis/outcomes.py", "\nX = 1\n") != before
    assert edited("result.py", "\nX = 1\n") != before
    assert edited("data/history_targets.toml", "\n") != before
    cache = root / "data" / "__pycache__"  # bytecode a Python process may write beside a data module
    cache.mkdir()
    (cache / "loader.cpython-311.pyc").write_bytes(b"\0")
    assert code_fingerprint(root) == before


# -- CLI ----------------------------------------------------------------------------------------


def _cli(args):
    from hardtech.cli import robustness_cmd  # noqa: F401  (registers the command)
    from hardtech.cli.app import app

    return CliRunner().invoke(app, args, catch_exceptions=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--claims", "H10"], "--claims: 'H10' cannot be mapped (a variance decomposition"),
        (["--claims", "H99"], "--claims: 'H99' cannot be mapped; allowed: H1"),
        (["--params", "capital.nope"], "--params: 'capital.nope' names no screened"),
        (["--out", "x.sqlite"], "--out: 'x.sqlite' must end in .duckdb"),
        (["--set", "capital.nope=1"], "capital.nope: unknown key"),
        (["--workers", "2", "--dask-local", "2"], "give at most one of"),
    ],
)
def test_bad_options_fail_before_anything_is_written(tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    res = _cli(["robustness", *args])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert not (tmp_path / "results").exists() and not list(tmp_path.glob("*.duckdb"))


def test_an_unusable_store_is_refused_before_any_run(tmp_path):
    (tmp_path / "d.duckdb").mkdir()
    res = _cli(["robustness", "--claims", "H2", "--out", str(tmp_path / "d.duckdb")])
    assert res.exit_code == 2 and "is a directory" in res.output
    (tmp_path / "text.duckdb").write_text("not a database")
    res = _cli(["robustness", "--claims", "H2", "--out", str(tmp_path / "text.duckdb")])
    assert res.exit_code == 2 and "not a DuckDB database" in " ".join(res.output.split())


def test_cli_lists_and_runs_a_tiny_study(tmp_path):
    listed = _cli(["robustness", "--list", "--params", "capital."])
    assert listed.exit_code == 0, listed.output
    assert "capital.appeal_floor" in listed.output and "[ASSUMPTION:" in listed.output
    store = tmp_path / "r.duckdb"
    res = _cli(
        [
            "robustness",
            "--set",
            "scale=0.002",
            "--set",
            "time.end_year=2013",
            "--claims",
            "H2",
            "--params",
            ",".join(PARAMS),
            "--trajectories",
            "1",
            "--keep",
            "1",
            "--samples",
            "3",
            "-r",
            "2",
            "--out",
            str(store),
            "--json",
            "--no-progress",
        ]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["screening"] and data["claims"][0]["claim"] == "H2" and data["claims"][0]["points"] == 3
    assert len(data["kept"]) == 1 and data["report"].endswith(".html")
    assert store.exists() and store.with_suffix(".html").exists()


# -- runs that stop with an error -----------------------------------------------------------------


def _breaks_in_the_top_fifth(monkeypatch) -> float:
    """Make every run with ``labour.cost_weight`` in the top fifth of its plausible range raise; return the cut.

    In-process only (the patched measure is the one an inline study uses). Morris levels are
    0, 1/3, 2/3 and 1 of the range, so the trajectories that reach 1 fail.
    """
    from hardtech.evidence import ensembles

    lo, hi = next(p.plausible for p in parameters() if p.path == "labour.cost_weight")
    cut = lo + 0.8 * (hi - lo)
    real = ensembles._one

    def breaks_above_cut(job):
        if job[0].labour.cost_weight > cut:
            raise RuntimeError("injected failure\nsecond line")
        return real(job)

    monkeypatch.setattr(ensembles, "_one", breaks_above_cut)
    return cut


def test_a_failed_run_is_counted_not_fatal(tmp_path, monkeypatch):
    """A run that raises is kept as a failed row: its points are 'failed', the study finishes and says so.

    Failed points count apart from the three statuses, their Morris trajectories are left out,
    each failed scenario is written to be rerun, and a resumed study reads the failed rows from
    the store instead of running them again.
    """
    cut = _breaks_in_the_top_fifth(monkeypatch)
    sc = load("hangzhou", TINY)
    settings = Settings(
        claims=("H2", "H5"), region="hangzhou", parameters=PARAMS, trajectories=4, keep=2, points=6, replications=2
    )
    path, failed_dir = tmp_path / "study.duckdb", tmp_path / "failed"
    with RobustnessStore(path, code_fingerprint()) as store:
        result = run_robustness(sc, settings, store, failed_dir=failed_dir)
    failed = result["failed"]
    assert failed["runs"] > 0 and list(failed["errors"]) == ["RuntimeError: injected failure"]
    written = sorted(failed_dir.glob("*.toml"))
    assert len(written) == failed["runs"] and failed["scenarios"] == str(failed_dir)
    assert all(load(f).labour.cost_weight > cut for f in written)

    with RobustnessStore(path, code_fingerprint()) as store:
        points = store.con.execute(
            "SELECT parameters FROM robustness_points WHERE stage = 'lhs' ORDER BY point"
        ).fetchall()
        morris = store.con.execute(
            "SELECT parameters FROM robustness_points WHERE stage = 'morris' ORDER BY point"
        ).fetchall()
    above = [json.loads(p)["labour.cost_weight"] > cut for (p,) in points]
    assert 0 < sum(above) < len(above)  # the test means something: some points fail, some do not
    for c in result["claims"]:
        assert c["failed"]["points"] == sum(above)
        assert sum(c[s]["points"] for s in ("supported", "contrary", "unresolved", "failed")) == settings.points
    # a Morris trajectory (3 points here) through a failing point is left out of every output
    broken = [
        any(json.loads(p)["labour.cost_weight"] > cut for (p,) in morris[t * 3 : (t + 1) * 3])
        for t in range(settings.trajectories)
    ]
    assert 0 < sum(broken) < settings.trajectories
    assert set(failed["morris_trajectories_dropped"].values()) == {sum(broken)}

    with RobustnessStore(path, code_fingerprint()) as store:
        again = run_robustness(sc, settings, store, failed_dir=tmp_path / "again")
    assert again["runs"]["new"] == 0 and again["failed"]["runs"] == failed["runs"]
    assert _strip({**again, "failed": None}) == _strip({**result, "failed": None})


def test_cli_and_report_show_failed_runs(tmp_path, monkeypatch):
    """The table gets a 'failed' column and a line naming the error; the scenarios and the report say so too."""
    _breaks_in_the_top_fifth(monkeypatch)
    store = tmp_path / "r.duckdb"
    args = ["--set", "scale=0.002", "--set", "time.end_year=2013", "--claims", "H2", "--params", ",".join(PARAMS)]
    small = ["--trajectories", "4", "--keep", "2", "--samples", "6", "-r", "2", "--out", str(store), "--no-progress"]
    res = _cli(["robustness", *args, *small])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    header = next(line for line in res.output.splitlines() if "supported" in line)
    assert "failed" in header
    assert "runs stopped with an error (6 × RuntimeError: injected failure)" in text
    assert "Morris left out 2 of 4 trajectories for H2, dragons" in text
    assert "count as failed for that claim (column 'failed')" in text and "less the trajectories left out" in text
    failed_dir = tmp_path / "r-failed"
    assert "r-failed" in text and list(failed_dir.glob("*.toml"))
    page = store.with_suffix(".html").read_text(encoding="utf-8")
    assert "runs stopped with an error</b> (6 × RuntimeError: injected failure)" in page and "<th>failed</th>" in page
    assert "Morris left out 2 of 4 trajectories" in page and "count as failed for that claim" in page


def test_without_on_failed_a_run_error_still_raises(monkeypatch):
    """Outside a study the default is unchanged: an error in a run stops run_many with that error."""
    from hardtech.evidence import ensembles

    def broken(job):
        raise RuntimeError("injected")

    monkeypatch.setattr(ensembles, "_one", broken)
    with pytest.raises(RuntimeError, match="injected"):
        ensembles.run_many([(load("hangzhou", TINY), 0)])
