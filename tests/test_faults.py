"""Fault injection: what a user meets when things go wrong, end to end (a subprocess per command).

Each test names the failure it provokes: a results location that cannot hold
a store, two writers at once, a writer that never lets go, SIGKILL and Ctrl-C
in the middle of a batch, PRIM with nothing to contrast, a scenario too big
for the machine, missing values, and a bug. The rule under test is the same
everywhere: one line naming the cause, exit code 2 (130 for Ctrl-C), no
traceback, no work done before the check, and no computed run lost.

Runs are tiny (scale 0.002, a few simulated years) so the file takes about a
minute on two cores.
"""

from __future__ import annotations

import json
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from helpers import assert_same_runs, clean_env, hardtech, one_line, query, run_count, spawn
from test_experiments import TINY

SMALL = ["--set", "scale=0.002", "--set", "time.end_year=2016"]
QUIET = ["--no-progress", "--no-report"]
# a batch slow enough to be interrupted between replications (about a second each)
SLOW = ["--set", "scale=0.002", "--set", "time.end_year=2022"]
SLOW_ROWS = 44 * 6 * 5  # step_metrics rows of a whole replication: quarters × regions × fields


# -- the results location is checked before any simulation ------------------------------------


def _bad_location(kind: str, tmp_path: Path) -> tuple[Path, str]:
    if kind == "directory":
        (tmp_path / "dir.duckdb").mkdir()
        return tmp_path / "dir.duckdb", "is a directory"
    if kind == "not-duckdb":
        (tmp_path / "notes.duckdb").write_text("these are my notes, not a database\n" * 3)
        return tmp_path / "notes.duckdb", "is not a DuckDB database"
    if kind == "empty-file":
        (tmp_path / "empty.duckdb").touch()
        return tmp_path / "empty.duckdb", "empty file"
    if kind == "parent-is-file":
        (tmp_path / "plain").write_text("x")
        return tmp_path / "plain" / "r.duckdb", "is a file, not a directory"
    if kind == "read-only-file":
        con = duckdb.connect(str(tmp_path / "ro.duckdb"))
        con.execute("CREATE TABLE keep (x INTEGER)")
        con.close()
        (tmp_path / "ro.duckdb").chmod(0o444)
        return tmp_path / "ro.duckdb", "read-only"
    if kind == "read-only-dir":
        (tmp_path / "locked").mkdir()
        (tmp_path / "locked").chmod(0o555)
        return tmp_path / "locked" / "r.duckdb", "read-only"
    raise AssertionError(kind)


KINDS = ["directory", "not-duckdb", "empty-file", "parent-is-file", "read-only-file", "read-only-dir"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_out_is_one_line_and_exit_2(tmp_path, kind):
    path, needle = _bad_location(kind, tmp_path)
    before = sorted(p.name for p in tmp_path.rglob("*"))
    res = hardtech("run", *SMALL, *QUIET, "--out", str(path), timeout=60)
    line = one_line(res.stderr)
    assert res.returncode == 2, res.stderr
    assert line.startswith("error: --out:") and needle in line and str(path) in line
    assert res.stdout == ""
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written anywhere


@pytest.mark.parametrize("kind", KINDS)
def test_bad_out_is_refused_before_any_simulation(tmp_path, kind, monkeypatch):
    """In-process, with the simulation replaced by a tripwire: the check comes first."""
    from typer.testing import CliRunner

    import hardtech.cli.run_cmd  # noqa: F401  (registers the command)
    import hardtech.runner
    from hardtech.cli.app import app

    def tripwire(*a, **k):
        raise AssertionError("a simulation started before --out was checked")

    monkeypatch.setattr(hardtech.runner, "run", tripwire)  # run_cmd imports it when a run starts
    path, needle = _bad_location(kind, tmp_path)
    res = CliRunner().invoke(app, ["run", *SMALL, *QUIET, "--replications", "2", "--out", str(path)])
    assert res.exit_code == 2 and needle in res.stderr, res.stderr


def test_experiment_and_evidence_commands_check_out_first(tmp_path):
    (tmp_path / "dir.duckdb").mkdir()
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC, encoding="utf-8")
    t0 = time.monotonic()
    for args in (
        ["sweep", str(spec)],
        ["discover", str(spec), "--where", "dragons >= 1"],
        ["claims", "--quick"],
        ["validate", "--quick", "-r", "1"],
    ):
        res = hardtech(*args, "--out", str(tmp_path / "dir.duckdb"), timeout=60)
        assert res.returncode == 2 and "is a directory" in one_line(res.stderr), (args, res.stderr)
    assert time.monotonic() - t0 < 60  # `claims --quick` alone takes minutes when it runs


# -- an empty run's tables fit later runs -------------------------------------------------------


def test_a_run_without_dragons_then_runs_with_dragons_share_a_store(tmp_path):
    db = tmp_path / "same.duckdb"
    none = hardtech("run", "--set", "scale=0.002", "--set", "time.end_year=2013", *QUIET, "--out", str(db), "--json")
    assert none.returncode == 0, none.stderr
    assert json.loads(none.stdout)["dragons"] == []
    some = hardtech(
        "run",
        "--set",
        "scale=0.002",
        "--set",
        "time.end_year=2020",
        *QUIET,
        "--out",
        str(db),
        "--replications",
        "2",
        "--json",
    )
    assert some.returncode == 0, some.stderr
    assert len(json.loads(some.stdout)["dragons"]) > 0
    assert run_count(db) == 3
    assert query(db, "SELECT count(*) AS n FROM dragons")["n"].iloc[0] > 0


# -- missing values are NULL, never NaN ----------------------------------------------------------


def test_missing_values_are_stored_as_null_not_nan(tmp_path):
    db = tmp_path / "nan.duckdb"
    res = hardtech("run", *SMALL, *QUIET, "--out", str(db))
    assert res.returncode == 0, res.stderr
    counts = query(
        db,
        """
        SELECT count(*) FILTER (WHERE isnan(small_share_niche) OR isnan(small_share_platform)) AS nan,
               count(*) FILTER (WHERE small_share_niche IS NULL OR small_share_platform IS NULL) AS null,
               avg(small_share_niche) AS mean_niche, avg(small_share_platform) AS mean_platform
        FROM field_metrics""",
    )
    assert counts["nan"].iloc[0] == 0
    assert counts["null"].iloc[0] > 0  # shares of segments that earned nothing yet
    assert np.isfinite(counts["mean_niche"].iloc[0]) and np.isfinite(counts["mean_platform"].iloc[0])
    any_nan = query(
        db, "SELECT count(*) AS n FROM step_metrics WHERE isnan(gap_to_frontier) OR isnan(location_quotient)"
    )
    assert any_nan["n"].iloc[0] == 0


# -- two writers, and a writer that does not let go -----------------------------------------------


def test_two_runs_writing_one_store_at_once_both_stored(tmp_path):
    db = tmp_path / "shared.duckdb"
    procs = [spawn("run", *SMALL, *QUIET, "--seed", str(seed), "--out", str(db)) for seed in (1, 2, 3)]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err
    assert sorted(query(db, "SELECT seed FROM runs")["seed"]) == [1, 2, 3]


class HoldLock:
    """Hold a store's write lock from this process (as another hardtech process would)."""

    def __init__(self, db: Path, seconds: float | None = None) -> None:
        self.con = duckdb.connect(str(db))
        self.con.execute("CREATE TABLE IF NOT EXISTS held (x INTEGER)")
        self.timer = threading.Timer(seconds, self.release) if seconds else None
        if self.timer:
            self.timer.start()

    def release(self) -> None:
        if self.con is not None:
            self.con.close()
            self.con = None


def test_a_writer_waits_for_the_lock_with_a_message(tmp_path):
    db = tmp_path / "busy.duckdb"
    hold = HoldLock(db, seconds=4)
    try:
        res = hardtech("run", *SMALL, *QUIET, "--out", str(db), env=clean_env(HARDTECH_LOCK_WAIT="60"))
    finally:
        hold.release()
    assert res.returncode == 0, res.stderr
    assert "is locked by another process" in res.stderr and "waiting up to 60 s" in res.stderr
    assert run_count(db) == 1


def test_a_lock_that_outlasts_the_wait_saves_the_run_beside_the_store(tmp_path):
    db = tmp_path / "busy.duckdb"
    reference = tmp_path / "reference.duckdb"
    assert hardtech("run", *SMALL, *QUIET, "--out", str(reference)).returncode == 0
    hold = HoldLock(db)
    try:
        res = hardtech("run", *SMALL, *QUIET, "--out", str(db), env=clean_env(HARDTECH_LOCK_WAIT="1"))
    finally:
        hold.release()
    line = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert res.returncode == 2 and len(line) == 1 and "Traceback" not in res.stderr, res.stderr
    assert "is locked by another process" in line[0] and "saved in" in line[0]
    command = line[0].split("store them with: ", 1)[1]
    argv = shlex.split(command)
    assert argv[:2] == ["hardtech", "import"] and argv[-2:] == ["--out", str(db)]
    pending = Path(argv[2])
    assert pending.is_dir() and pending.parent == db.parent
    imported = hardtech(*argv[1:])
    assert imported.returncode == 0, imported.stderr
    assert "imported 1 run(s)" in imported.stdout and not pending.exists()
    assert_same_runs(db, reference)  # exactly the run that would have been stored


def test_a_batch_blocked_midway_keeps_its_work_and_resumes(tmp_path):
    """Another writer takes the store between two replications and keeps it: the stored ones stay,
    the one computed meanwhile is saved beside the store, and import + the same command finish the batch."""
    db = tmp_path / "busy.duckdb"
    args = ["run", *SLOW, *QUIET, "--replications", "4", "--out", str(db)]
    proc = spawn(*args, env=clean_env(HARDTECH_LOCK_WAIT="1"))
    _wait_for_runs(db, proc, 1)
    hold = None
    while hold is None:  # grab the lock between two of its writes
        try:
            hold = HoldLock(db)
        except duckdb.IOException:
            time.sleep(0.02)
    try:
        _, err = proc.communicate(timeout=120)
        stored = int(hold.con.execute("SELECT count(*) FROM runs").fetchone()[0])
    finally:
        hold.release()
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "waiting up to 1 s" in err  # the message when it began to wait, then the error
    line = one_line(err, waits=True)
    assert line.startswith("error:")
    assert "is locked by another process" in line and "the 1 computed run(s) are saved in" in line
    assert line.endswith("then run the same command to finish the batch")
    argv = shlex.split(line.split("store them with: ", 1)[1].split(";")[0])
    assert hardtech(*argv[1:]).returncode == 0
    assert run_count(db) == stored + 1
    again = hardtech(*args, "--json")
    assert again.returncode == 0, again.stderr
    info = json.loads(again.stdout)["batch"]
    assert info["already_stored"] == stored + 1 and info["run_now"] == 3 - stored and info["complete"]


# -- SIGKILL and Ctrl-C in the middle of a batch --------------------------------------------------


def _wait_for_runs(db: Path, proc: subprocess.Popen, at_least: int, timeout: float = 120) -> int:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        n = run_count(db)
        if n >= at_least:
            return n
        if proc.poll() is not None:
            raise AssertionError(f"finished before {at_least} run(s) were stored: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no run stored in time")


def _batch(db: Path) -> pd.DataFrame:
    return query(db, "SELECT * FROM batches")


def test_sigkill_mid_batch_leaves_it_marked_incomplete_and_the_same_command_resumes(tmp_path):
    db = tmp_path / "batch.duckdb"
    args = ["run", *SLOW, *QUIET, "--replications", "4", "--out", str(db), "--json"]
    proc = spawn(*args)
    _wait_for_runs(db, proc, 1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    stored = run_count(db)
    assert 1 <= stored < 4
    batch = _batch(db)
    assert len(batch) == 1 and batch["replications"].iloc[0] == 4 and pd.isna(batch["completed_at"].iloc[0])
    steps = query(db, "SELECT run_id, count(*) AS n FROM step_metrics GROUP BY run_id")
    assert len(steps) == stored and (steps["n"] == SLOW_ROWS).all()  # every stored replication is whole

    res = hardtech(*args[:-1], "--json")
    assert res.returncode == 0, res.stderr
    info = json.loads(res.stdout)["batch"]
    assert info["already_stored"] == stored and info["run_now"] == 4 - stored and info["complete"]
    assert run_count(db) == 4 and isinstance(_batch(db)["completed_at"].iloc[0], str)

    fresh = tmp_path / "fresh.duckdb"
    assert hardtech("run", *SLOW, *QUIET, "--replications", "4", "--out", str(fresh)).returncode == 0
    assert_same_runs(db, fresh)  # resumed = uninterrupted, bit for bit


def test_ctrl_c_mid_batch_exits_130_with_one_line_and_the_store_intact(tmp_path):
    db = tmp_path / "batch.duckdb"
    args = ["run", *SLOW, *QUIET, "--replications", "3", "--out", str(db)]
    proc = spawn(*args)
    _wait_for_runs(db, proc, 1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    line = one_line(err, waits=True)
    assert line.startswith("interrupted (Ctrl-C):") and "run the same command to resume" in line
    stored = run_count(db)
    assert 1 <= stored < 3 and f"{stored} of 3 replications" in line
    steps = query(db, "SELECT run_id, count(*) AS n FROM step_metrics GROUP BY run_id")
    assert len(steps) == stored and (steps["n"] == SLOW_ROWS).all()
    res = hardtech(*args, "--json")
    assert res.returncode == 0 and json.loads(res.stdout)["batch"]["already_stored"] == stored


def test_ctrl_c_while_waiting_to_store_writes_nothing(tmp_path):
    db = tmp_path / "busy.duckdb"
    hold = HoldLock(db)
    proc = spawn("run", *SMALL, *QUIET, "--out", str(db), env=clean_env(HARDTECH_LOCK_WAIT="120"))
    try:
        first = proc.stderr.readline()  # the run is computed; it now waits for the lock
        assert "is locked by another process" in first
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        hold.release()
    assert proc.returncode == 130 and "Traceback" not in err
    assert "interrupted (Ctrl-C)" in err and "nothing was written" in err
    assert set(query(db, "SELECT table_name FROM information_schema.tables")["table_name"]) == {"held"}


# -- PRIM with nothing to contrast ---------------------------------------------------------------

TINY_SPEC = TINY.format(samples=6, reps=1)  # the experiments tests' tiny LHS sweep


def test_discover_with_every_run_or_none_meeting_the_condition(tmp_path):
    spec = tmp_path / "tiny.toml"
    spec.write_text(TINY_SPEC, encoding="utf-8")
    db = tmp_path / "tiny.duckdb"
    for where, needle in (
        ("dragons >= 0", "every run (6 of 6) has dragons >= 0"),
        ("births_hangzhou >= 1e9", "no run has births_hangzhou >= 1e+09"),
    ):
        res = hardtech("discover", str(spec), "--where", where, "--out", str(db), "--no-progress", "--no-plot")
        assert res.returncode == 2, res.stderr
        line = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
        assert len(line) == 1 and needle in line[0] and "nothing to contrast" in line[0], res.stderr
        assert "Traceback" not in res.stderr


# -- a scenario too big for the machine ----------------------------------------------------------


def test_an_oversized_scenario_is_refused_before_any_work(tmp_path):
    db = tmp_path / "big.duckdb"
    huge = [
        a
        for r in ("hangzhou", "shenzhen", "beijing", "shanghai", "us_hub", "rest_of_world")
        for a in ("--set", f"regions.{r}.talent=1e8")
    ]
    t0 = time.monotonic()
    res = hardtech(
        "run",
        *huge,
        "--set",
        "scale=1",
        *QUIET,
        "--out",
        str(db),
        env=clean_env(HARDTECH_MEMORY_AVAILABLE="4GB"),
        timeout=60,
    )
    line = one_line(res.stderr)
    assert res.returncode == 2
    assert "memory" in line and "600,000,000 talent agents" in line and "4.0 GB is available" in line
    assert "scale" in line  # what to change
    assert not db.exists() and time.monotonic() - t0 < 30
    # with workers, the evidence commands count every worker's run
    res = hardtech(
        "ensemble",
        "-r",
        "2",
        "--workers",
        "2",
        "--set",
        "scale=0.5",
        env=clean_env(HARDTECH_MEMORY_AVAILABLE="500MB"),
        timeout=60,
    )
    assert res.returncode == 2 and "2 processes ×" in one_line(res.stderr)


def test_the_memory_estimate_covers_a_measured_run(tmp_path):
    """The estimate is a bound: at least the peak memory a small run really uses."""
    from hardtech import load
    from hardtech.resources import available_memory, estimate_run_memory

    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc/self/status (Linux)")
    # VmHWM: this process's peak resident memory (ru_maxrss would include the forked parent's)
    code = (
        "import hardtech, pathlib; hardtech.run('hangzhou', seed=7, overrides={'scale': 0.02}); "
        "print(next(ln for ln in pathlib.Path('/proc/self/status').read_text().splitlines() "
        "if ln.startswith('VmHWM')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300).stdout
    peak = float(out.split()[1]) * 1024
    est = estimate_run_memory(load("hangzhou", ["scale=0.02"]))
    assert peak <= est.bytes <= 2.5 * peak, (peak, est)
    if sys.platform.startswith("linux"):
        assert available_memory() > 0


# -- the generic guard -----------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_pointing_to_debug(tmp_path, monkeypatch, capsys):
    import hardtech.runner
    from hardtech.cli.app import main

    def broken(*a, **k):
        raise KeyError("a bug")

    monkeypatch.setattr(hardtech.runner, "summarise", broken)  # run_cmd imports it when a run starts
    argv = ["hardtech", "run", *SMALL, *QUIET, "--out", str(tmp_path / "x.duckdb")]
    monkeypatch.setattr(sys, "argv", argv)
    monkeypatch.delenv("HARDTECH_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 1
    line = one_line(capsys.readouterr().err)
    assert "unexpected KeyError: 'a bug'" in line and "hardtech --debug run" in line
    monkeypatch.setattr(sys, "argv", ["hardtech", "--debug", *argv[1:]])
    with pytest.raises(KeyError, match="a bug"):
        main()
