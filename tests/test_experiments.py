"""Experiments: spec validation, sweeps on every executor, kill-and-resume, sensitivity, discovery.

Everything runs tiny scenarios (scale 0.001, 2012–2016) so the file stays well
under three minutes on two cores.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from hardtech.experiments import load_spec, open_executor, plan_sweep, run_seed, run_sweep, sweep_frame
from hardtech.experiments.designs import design_matrix
from hardtech.experiments.discovery import DiscoveryError, parse_where
from hardtech.experiments.spec import SpecError
from hardtech.store import ResultsStore

BIN = Path(sys.executable).parent
HARDTECH = str(BIN / "hardtech")

TINY = """
name = "tiny"
base = "hangzhou"
design = "lhs"
samples = {samples}
replications = {reps}
seed = 11
outcomes = ["births_hangzhou", "dragons", "firms_end"]

[set]
scale = 0.001
time.end_year = 2016

[[factors]]
path = "regions.hangzhou.policy.startup_support"
range = [0.0, 0.9]

[[factors]]
path = "regions.hangzhou.living_cost"
range = [0.5, 1.5]

[[factors]]
path = "regions.hangzhou.incumbents"
levels = [0, 2]
"""


def write_spec(path: Path, text: str = TINY, **fmt) -> Path:
    values = {"samples": 6, "reps": 2, **fmt}
    path.write_text(text.format(**values) if "{" in text else text, encoding="utf-8")
    return path


def hardtech(*args: str, timeout: float = 240, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([HARDTECH, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


def sorted_runs(db: Path, sweep_id: str | None = None) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        where = f"WHERE sweep_id = '{sweep_id}'" if sweep_id else ""
        return con.execute(f"SELECT * FROM sweep_runs {where} ORDER BY sample, replication").df()
    finally:
        con.close()


def table(db: Path, sql: str) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql).df()
    finally:
        con.close()


# -- spec validation ---------------------------------------------------------------------------

BAD = {
    "bad path": ('path = "regions.hangzhou.living_cost"', 'path = "regions.hangzhou.livng_cost"', "factors.1.path"),
    "bad region": ('path = "regions.hangzhou.living_cost"', 'path = "regions.atlantis.living_cost"', "atlantis"),
    "bad range order": ("range = [0.5, 1.5]", "range = [1.5, 0.5]", "factors.1.range"),
    "range outside schema": ("range = [0.0, 0.9]", "range = [0.0, 5.0]", "startup_support"),
    "bad level": ("levels = [0, 2]", "levels = [0, -2]", "factors.2.levels"),
    "unknown outcome": ('"births_hangzhou"', '"unicorns_hangzhou"', "outcomes.0"),
    "unknown design": ('design = "lhs"', 'design = "bogus"', "design"),
    "extra key": ("seed = 11", "seed = 11\ncolour = 3", "colour"),
    "bad set": ("scale = 0.001", "scale = 7.0", "set: scale"),
    "sobol not power of 2": ('design = "lhs"', 'design = "sobol"', "power of 2"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_spec_errors_are_one_clear_line(tmp_path: Path, case: str) -> None:
    old, new, needle = BAD[case]
    text = TINY.format(samples=6, reps=1)
    assert old in text
    spec = tmp_path / "bad.toml"
    spec.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_spec(spec)
    message = str(info.value)
    assert "\n" not in message and needle in message, message
    assert message.startswith(str(spec)), message


def _cli(*args: str):
    """Invoke the Typer app in this process (faster than a subprocess); returns (exit code, stdout, stderr)."""
    from typer.testing import CliRunner

    import hardtech.cli.experiment_cmd  # noqa: F401  (registers the commands)
    from hardtech.cli.app import app

    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_cli_refuses_bad_spec_without_writing(tmp_path: Path) -> None:
    text = TINY.format(samples=6, reps=1)
    spec = tmp_path / "path.toml"
    spec.write_text(text.replace('"regions.hangzhou.living_cost"', '"regions.hangzhou.nope"'), encoding="utf-8")
    db = tmp_path / "x.duckdb"
    res = hardtech("sweep", str(spec), "--out", str(db), "--no-progress")  # the real script, once
    assert res.returncode == 2, res.stderr
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and "factors.1.path" in lines[0], res.stderr
    assert not db.exists()

    design = tmp_path / "design.toml"
    design.write_text(text.replace('design = "lhs"', 'design = "taguchi"'), encoding="utf-8")
    ok = write_spec(tmp_path / "ok.toml")
    for args, needle in (
        (["sweep", str(design)], "design: 'taguchi' is not a design"),
        (["discover", str(ok), "--where", "dragons >> 3"], "--where"),
        (["discover", str(ok), "--where", "unicorns >= 3"], "unicorns"),
        (["sensitivity", str(ok)], "sobol"),
        (["sweep", str(ok), "--workers", "2", "--dask-local", "2"], "at most one"),
        (["sweep", str(ok), "--out", str(tmp_path / "x.csv")], ".duckdb"),
    ):
        code, _, err = _cli(*args, *([] if "--out" in args else ["--out", str(db)]))
        assert code == 2 and needle in err and len(err.strip().splitlines()) == 1, (args, err)
        assert not db.exists() and not (tmp_path / "x.csv").exists()


def test_where_parsing(tmp_path: Path) -> None:
    resolved = load_spec(write_spec(tmp_path / "s.toml"))
    assert parse_where("dragons >= 3", resolved) == ("dragons", ">=", 3.0)
    assert parse_where(" births_hangzhou<1e3 ", resolved) == ("births_hangzhou", "<", 1000.0)
    for bad in ("dragons", "dragons => 3", "dragons >= three", "3 <= dragons", "births >= 3", "dragons >= 3 and x"):
        with pytest.raises(DiscoveryError):
            parse_where(bad, resolved)


def test_designs_and_seeds_are_deterministic(tmp_path: Path) -> None:
    resolved = load_spec(write_spec(tmp_path / "s.toml"))
    a, b = design_matrix(resolved), design_matrix(resolved)
    assert np.array_equal(a.x, b.x) and a.values == b.values and len(a) == 6
    assert {v["regions.hangzhou.incumbents"] for v in a.values} <= {0, 2}
    assert run_seed(11, 3) == run_seed(11, 3) != run_seed(11, 4)
    assert 0 <= run_seed(2**63 - 1, 10**9) < 2**63
    sobol = TINY.format(samples=4, reps=1).replace('design = "lhs"', 'design = "sobol"')
    assert len(design_matrix(load_spec(write_spec(tmp_path / "sob.toml", sobol)))) == 4 * (2 * 3 + 2)
    fact = (
        TINY.format(samples=4, reps=1)
        .replace('design = "lhs"', 'design = "factorial"')
        .replace("samples = 4\n", "")
        .replace("range = [0.0, 0.9]", "range = [0.0, 0.9]\nn_levels = 3")
        .replace("range = [0.5, 1.5]", "levels = [0.8, 1.2]")
    )
    plan = plan_sweep(load_spec(write_spec(tmp_path / "fact.toml", fact)))
    assert len(plan.design) == 3 * 2 * 2 and len({t.run_id for t in plan.tasks}) == len(plan.tasks)
    # an integer range gives every integer lo..hi, uniformly; [set] accepts nested and dotted keys alike
    ints = (
        TINY.format(samples=40, reps=1)
        .replace("levels = [0, 2]", "range = [0, 3]")
        .replace("time.end_year = 2016", '"time.end_year" = 2016')
    )
    values = [
        v["regions.hangzhou.incumbents"]
        for v in design_matrix(load_spec(write_spec(tmp_path / "int.toml", ints))).values
    ]
    assert sorted(set(values)) == [0, 1, 2, 3] and all(type(v) is int for v in values)
    assert max(values.count(k) for k in range(4)) == 10  # Latin hypercube: 40 points, 10 per integer


# -- sweeps on every executor ------------------------------------------------------------------


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The tiny spec swept in-process through the Python API (the reference store)."""
    d = tmp_path_factory.mktemp("ref")
    spec = write_spec(d / "tiny.toml")
    resolved = load_spec(spec)
    db = d / "inproc.duckdb"
    with ResultsStore(db) as store, open_executor() as ex:
        report = run_sweep(plan_sweep(resolved), store, ex)
        assert report.complete and report.stored == 12 and not report.failed
        again = run_sweep(plan_sweep(resolved), store, ex)
        assert again.already == 12 and again.stored == 0
        assert len(sweep_frame(store, resolved)) == 12
    return spec, db, resolved.sweep_id


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def dask_cluster(tmp_path: Path):
    """A Dask scheduler and two single-threaded workers as separate processes on 127.0.0.1."""
    distributed = pytest.importorskip("distributed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "w")
    procs = [
        subprocess.Popen(
            [str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=logs,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
        )
    ]
    try:
        for i in range(2):
            procs.append(
                subprocess.Popen(
                    [
                        str(BIN / "dask"),
                        "worker",
                        address,
                        "--nworkers",
                        "1",
                        "--nthreads",
                        "1",
                        "--no-dashboard",
                        "--local-directory",
                        str(tmp_path / f"w{i}"),
                        "--name",
                        f"w{i}",
                    ],
                    stdout=logs,
                    stderr=subprocess.STDOUT,
                    cwd=tmp_path,
                )
            )
        deadline = time.monotonic() + 90
        while True:
            try:
                with distributed.Client(address, timeout=5) as client:
                    client.wait_for_workers(2, timeout=max(1, deadline - time.monotonic()))
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        yield address
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in reversed(procs):
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        logs.close()


def test_same_results_in_process_workers_and_dask(reference, tmp_path: Path, dask_cluster: str) -> None:
    spec, ref_db, sweep_id = reference
    ref = sorted_runs(ref_db)
    assert len(ref) == 12 and ref["sweep_id"].eq(sweep_id).all()
    assert ref[["sample", "replication"]].drop_duplicates().shape[0] == 12
    assert ref["births_hangzhou"].nunique() > 1

    pool_db = tmp_path / "pool.duckdb"
    res = hardtech("sweep", str(spec), "--workers", "2", "--out", str(pool_db), "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["runs_stored_now"] == 12

    dask_db = tmp_path / "dask.duckdb"
    res = hardtech("sweep", str(spec), "--scheduler", dask_cluster, "--out", str(dask_db), "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["runs_stored_now"] == 12 and summary["sweep_id"] == sweep_id

    step_sql = "SELECT * FROM step_metrics ORDER BY run_id, step, region, field"
    ref_steps = table(ref_db, step_sql)
    for db in (pool_db, dask_db):
        pd.testing.assert_frame_equal(sorted_runs(db), ref, check_exact=True)
        pd.testing.assert_frame_equal(table(db, step_sql), ref_steps, check_exact=True)
        assert table(db, "SELECT count(*) AS n FROM runs").n[0] == 12


def test_linked_runs_from_another_sweep(reference, tmp_path: Path) -> None:
    """A second sweep over the same runs (other outcomes) stores only its sweep_runs rows."""
    spec, ref_db, sweep_id = reference
    db = tmp_path / "copy.duckdb"
    db.write_bytes(ref_db.read_bytes())
    other = tmp_path / "other.toml"
    other.write_text(spec.read_text().replace('"firms_end"]', '"firms_end", "exits"]'), encoding="utf-8")
    resolved = load_spec(other)
    with ResultsStore(db) as store, open_executor() as ex:
        report = run_sweep(plan_sweep(resolved), store, ex)
    assert resolved.sweep_id != sweep_id and report.linked == 12 and report.stored == 0
    assert table(db, "SELECT count(*) AS n FROM runs").n[0] == 12
    both = table(db, "SELECT sweep_id, count(*) AS n FROM sweep_runs GROUP BY sweep_id")
    assert sorted(both.n) == [12, 12]
    mine = sorted_runs(db, resolved.sweep_id)
    pd.testing.assert_frame_equal(
        mine.drop(columns=["sweep_id", "exits"]), sorted_runs(ref_db).drop(columns=["sweep_id"]), check_exact=True
    )


# -- kill the coordinator, resume ---------------------------------------------------------------


def test_sigkill_coordinator_then_resume(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    spec = write_spec(tmp_path / "kill.toml", samples=30, reps=1)
    total = 30
    db = tmp_path / "kill.duckdb"
    cmd = [HARDTECH, "sweep", str(spec), "--workers", "2", "--batch", "1", "--no-progress", "--out", str(db)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    seen: list[int] = []

    def read() -> None:
        for line in proc.stderr:
            if "runs stored" in line:
                seen.append(int(line.split(":")[1].split("/")[0]))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 120
    while not (seen and seen[-1] >= 1):
        assert proc.poll() is None, "the sweep ended before it could be killed"
        assert time.monotonic() < deadline, "no progress line"
        time.sleep(0.05)
    children = psutil.Process(proc.pid).children(recursive=True)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    for child in children:  # the pool's workers notice the coordinator is gone and exit
        try:
            child.wait(timeout=15)
        except psutil.TimeoutExpired:
            child.kill()
            pytest.fail(f"worker {child.pid} outlived its coordinator")
        except psutil.NoSuchProcess:
            pass
    announced = seen[-1]

    partial = sorted_runs(db)
    assert announced <= len(partial) < total, (announced, len(partial))

    res = subprocess.run(cmd + ["--json"], capture_output=True, text=True, timeout=240)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["runs_already_stored"] == len(partial) and summary["complete"]

    ref_db = tmp_path / "ref.duckdb"  # an uninterrupted sweep
    with ResultsStore(ref_db) as store, open_executor() as ex:
        assert run_sweep(plan_sweep(load_spec(spec)), store, ex).stored == total
    resumed, ref = sorted_runs(db), sorted_runs(ref_db)
    assert len(resumed) == total and resumed[["sample", "replication"]].drop_duplicates().shape[0] == total
    pd.testing.assert_frame_equal(resumed, ref, check_exact=True)
    counts = (
        "SELECT (SELECT count(*) FROM runs) AS runs, (SELECT count(DISTINCT run_id) FROM runs) AS ids, "
        "(SELECT count(*) FROM step_metrics) AS steps"
    )
    pd.testing.assert_frame_equal(table(db, counts), table(ref_db, counts))


# -- sensitivity and discovery -------------------------------------------------------------------

SMALL = """
name = "{name}"
base = "hangzhou"
design = "{design}"
samples = 4
seed = 5
outcomes = ["births_hangzhou", "firms_end"]

[set]
scale = 0.001
time.end_year = 2016

[{design}]
bootstrap = 200

[[factors]]
path = "regions.hangzhou.policy.startup_support"
range = [0.0, 0.9]

[[factors]]
path = "regions.hangzhou.living_cost"
range = [0.5, 1.5]
"""


@pytest.mark.parametrize("design", ["sobol", "morris"])
def test_sensitivity_tables(tmp_path: Path, design: str) -> None:
    spec = tmp_path / f"{design}.toml"
    spec.write_text(SMALL.format(name=f"small-{design}", design=design), encoding="utf-8")
    db = tmp_path / "sens.duckdb"
    res = hardtech("sensitivity", str(spec), "--out", str(db), "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["method"] == design and result["runs"] == (24 if design == "sobol" else 12)
    assert Path(result["plot"]).is_file() and Path(result["plot"]).parent == db.parent
    paths = ["regions.hangzhou.policy.startup_support", "regions.hangzhou.living_cost"]
    for name in ("births_hangzhou", "firms_end"):
        entry = result["outcomes"][name]
        assert [f["factor"] for f in entry["factors"]] == paths
        keys = ("S1", "S1_conf", "ST", "ST_conf") if design == "sobol" else ("mu", "mu_star", "mu_star_conf", "sigma")
        for f in entry["factors"]:
            assert all(isinstance(f[k], float) and np.isfinite(f[k]) for k in keys), f
        if design == "sobol":
            assert np.isfinite(entry["sum_S1"])
            assert entry["sum_S1"] == pytest.approx(sum(f["S1"] for f in entry["factors"]))
            assert len(entry["S2"]) == 1 and np.isfinite(entry["S2"][0]["S2"])
    if design == "sobol":  # the Rich tables (the sweep is stored now: nothing re-runs)
        code, stdout, err = _cli("sensitivity", str(spec), "--out", str(db), "--no-plot")
        assert code == 0, err
        assert "ΣS1" in stdout and "second-order" in stdout and "startup_support" in stdout
        assert "24/24 runs stored" in err


def test_discover_tables(reference, tmp_path: Path) -> None:
    spec, ref_db, _ = reference
    db = tmp_path / "disc.duckdb"
    db.write_bytes(ref_db.read_bytes())
    births = sorted_runs(db)["births_hangzhou"]
    cut = float(births.median())
    res = hardtech("discover", str(spec), "--where", f"births_hangzhou >= {cut}", "--out", str(db), "--json")
    assert res.returncode == 0, res.stderr
    result = json.loads(res.stdout)
    assert result["runs"] == 12 and result["cases"] == int((births >= cut).sum())
    box = result["boxes"][0]
    assert box["found"] and 0 < box["coverage"] <= 1 and 0 < box["density"] <= 1
    assert box["trajectory"][0]["coverage"] == 1.0 and len(box["trajectory"]) >= 2
    assert {r["factor"] for r in box["limits"]} == set(result["factors"])
    assert Path(result["plot"]).is_file()
    code, stdout, err = _cli(
        "discover", str(spec), "--where", f"births_hangzhou >= {cut}", "--out", str(db), "--no-plot"
    )
    assert code == 0 and "peeling trajectory" in stdout and "coverage" in stdout, err
    code, _, err = _cli("discover", str(spec), "--where", "births_hangzhou >= 1e9", "--out", str(db))
    assert code == 2 and "no run has" in err  # nothing to contrast is bad input (tests/test_faults.py: every run)


def test_workers_refuse_a_different_scenario_and_fail_fast(tmp_path: Path) -> None:
    """A worker resolving another run_id (e.g. another hardtech version) fails before running; 20 such: stop."""
    from dataclasses import replace

    from hardtech.experiments.sweep import FAIL_FAST, SweepError

    plan = plan_sweep(load_spec(write_spec(tmp_path / "s.toml", samples=30, reps=1)))
    plan = replace(plan, tasks=[replace(t, run_id=t.run_id + "-other") for t in plan.tasks])
    db = tmp_path / "ff.duckdb"
    with ResultsStore(db) as store, open_executor() as ex:
        with pytest.raises(SweepError, match=f"first {FAIL_FAST} runs all failed.*differs from the coordinator"):
            run_sweep(plan, store, ex)
        assert sweep_frame(store, plan.resolved).empty and store.runs().empty
