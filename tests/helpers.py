"""Helpers shared by the end-to-end test files: run the CLI, read stores another process may hold."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd


def clean_env(**extra: str) -> dict[str, str]:
    """A user's environment: no HARDTECH_* settings, and not the NPY_DISABLE_CPU_FEATURES that importing
    hardtech in this test process set (each hardtech process sets its own)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HARDTECH_") and k != "NPY_DISABLE_CPU_FEATURES"}
    env.update(extra)
    return env


def hardtech(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 300):
    return subprocess.run(
        [sys.executable, "-m", "hardtech", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env=env or clean_env(),
    )


def ctrl_c_as_at_a_terminal() -> None:
    """In a child before it starts: SIGINT does what Ctrl-C at a terminal does (``preexec_fn``).

    A test run started in the background (``nohup``, ``cmd &`` without job control) ignores SIGINT, a
    child inherits that, and Python then never raises KeyboardInterrupt: tests of Ctrl-C would test
    the runner, not hardtech.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "hardtech", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env or clean_env(),
        preexec_fn=ctrl_c_as_at_a_terminal,
    )


WAITING = "waiting up to"  # the message of a process waiting for a store's lock (a poller of the test may cause it)


def one_line(stderr: str, *, waits: bool = False) -> str:
    """The one line on stderr (``waits``: besides messages about waiting for the lock)."""
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not (waits and WAITING in ln)]
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr}"
    assert "Traceback" not in stderr
    return lines[0]


def query(db: Path, sql: str, tries: int = 200) -> pd.DataFrame:
    """Read a store another process may be writing (its lock refuses readers for a moment)."""
    for _ in range(tries):
        try:
            con = duckdb.connect(str(db), read_only=True)
        except duckdb.IOException:
            time.sleep(0.05)
            continue
        try:
            return con.execute(sql).df()
        finally:
            con.close()
    raise AssertionError(f"{db} stayed locked")


def run_count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        return int(query(db, "SELECT count(*) AS n FROM runs", tries=1)["n"].iloc[0])
    except (AssertionError, duckdb.Error):
        return 0


def tables_of(db: Path, run_id: str) -> dict[str, pd.DataFrame]:
    names = query(
        db,
        "SELECT table_name FROM information_schema.columns WHERE column_name = 'run_id' AND table_name NOT IN ('runs')",
    )["table_name"].unique()
    return {
        n: query(db, f"SELECT * EXCLUDE (run_id) FROM \"{n}\" WHERE run_id = '{run_id}' ORDER BY rowid")
        for n in sorted(names)
    }


def assert_same_runs(a: Path, b: Path) -> None:
    """Both stores hold the same runs with exactly the same rows."""
    ids_a = sorted(query(a, "SELECT run_id FROM runs")["run_id"])
    ids_b = sorted(query(b, "SELECT run_id FROM runs")["run_id"])
    assert ids_a == ids_b
    for rid in ids_a:
        ta, tb = tables_of(a, rid), tables_of(b, rid)
        assert ta.keys() == tb.keys()
        for name in ta:
            pd.testing.assert_frame_equal(ta[name], tb[name], check_exact=True, obj=f"{rid}/{name}")
