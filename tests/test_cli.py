"""The command line end to end, as a user runs it (a subprocess per call)."""

import json
import subprocess
import sys

import duckdb
import pandas as pd
import pytest

SMALL = ["--set", "scale=0.002"]


def hardtech(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "hardtech", *args], capture_output=True, text=True, cwd=cwd, timeout=300
    )


def test_run_prints_summary_and_writes_store_and_report(tmp_path):
    store = tmp_path / "demo.duckdb"
    res = hardtech("run", "hangzhou", "--seed", "7", *SMALL, "--out", str(store), "--no-progress")
    assert res.returncode == 0, res.stderr
    assert "Dragons by region and field" in res.stdout and "hangzhou's dragons" in res.stdout
    assert "Regions" in res.stdout and "Fields" in res.stdout
    assert store.exists() and store.with_suffix(".html").exists()
    html = store.with_suffix(".html").read_text()
    assert "Dragons over time" in html or "dragons" in html.lower()
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("select count(*) from runs").fetchone()[0] == 1
    n_rows = con.execute("select count(*) from step_metrics").fetchone()[0]
    assert n_rows == 96 * 6 * 5
    for table in ("region_metrics", "field_metrics", "firm_events", "firms", "dragons", "ledger"):
        assert con.execute(f"select count(*) from {table}").fetchone()[0] > 0, table


def test_same_seed_twice_gives_identical_step_metrics(tmp_path):
    frames = []
    for k in range(2):
        store = tmp_path / f"r{k}.duckdb"
        res = hardtech("run", "hangzhou", "--seed", "7", *SMALL, "--out", str(store), "--no-progress", "--no-report")
        assert res.returncode == 0, res.stderr
        con = duckdb.connect(str(store), read_only=True)
        frames.append(con.execute("select * exclude (run_id) from step_metrics order by step, region, field").df())
    pd.testing.assert_frame_equal(frames[0], frames[1], check_exact=True)


_ENGINE_SEEN = """
import sys
from hardtech.cli.app import main
sys.argv = ["hardtech", *sys.argv[1:]]
try:
    main()
finally:
    print("numba imported" if "numba" in sys.modules else "numba not imported", file=sys.stderr)
"""


def test_one_run_uses_the_numpy_engine_unless_told_and_gets_the_same_results(tmp_path):
    """A single replication skips Numba (it costs more than it saves on one run); HARDTECH_ENGINE still decides."""
    from tests.helpers import assert_same_runs, clean_env

    stores = {}
    for label, env in (("default", clean_env()), ("numba", clean_env(HARDTECH_ENGINE="numba"))):
        stores[label] = tmp_path / f"{label}.duckdb"
        args = ["run", "--seed", "5", *SMALL, "--set", "time.end_year=2014", "--out", str(stores[label])]
        res = subprocess.run(
            [sys.executable, "-c", _ENGINE_SEEN, *args, "--no-progress", "--no-report"],
            capture_output=True,
            text=True,
            timeout=300,
            env=env,
        )
        assert res.returncode == 0, res.stderr
        assert res.stderr.strip().endswith("numba not imported" if label == "default" else "numba imported")
    assert_same_runs(stores["default"], stores["numba"])


def test_json_summary_and_replications(tmp_path):
    store = tmp_path / "j.duckdb"
    res = hardtech("run", "--seed", "3", *SMALL, "--replications", "2", "--out", str(store), "--json", "--no-report")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["store"] == str(store) and summary["replications"] == 2 and len(summary["run_ids"]) == 2
    assert {"hangzhou", "us_hub"} <= set(summary["dragons_ci"])
    ci = summary["dragons_ci"]["hangzhou"]
    assert ci["lo"] <= ci["mean"] <= ci["hi"]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "regions.hangzhou.living_cst=0.8"], "regions.hangzhou.living_cst: unknown key"),
        (["--set", "regions.atlantis.living_cost=0.8"], "regions.atlantis: unknown key 'atlantis'"),
        (["--set", "regions.hangzhou.living_cost=-1"], "regions.hangzhou.living_cost: input should be greater than 0"),
        (["--set", "scale=2"], "scale: input should be less than or equal to 1"),
        (["--seed", "-1"], "--seed"),
        (["--replications", "0"], "replications"),
        (["no-such-preset"], "unknown preset 'no-such-preset'"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, needle):
    store = tmp_path / "bad.duckdb"
    res = hardtech("run", *args, "--out", str(store), "--no-progress")
    assert res.returncode == 2
    assert needle in res.stderr
    assert "Traceback" not in res.stderr + res.stdout
    assert not store.exists()


def test_bad_scenario_file_exits_2(tmp_path):
    shown = hardtech("show", "hangzhou")
    assert shown.returncode == 0
    bad = tmp_path / "bad.toml"
    bad.write_text(shown.stdout.replace("living_cost = 1.0", "living_cost = -0.5", 1))
    res = hardtech("run", str(bad), "--out", str(tmp_path / "x.duckdb"), "--no-progress")
    assert res.returncode == 2
    assert "regions.hangzhou.living_cost" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_presets_and_show():
    res = hardtech("presets")
    assert res.returncode == 0 and "hangzhou" in res.stdout
    shown = hardtech("show", "hangzhou", "--set", "regions.hangzhou.living_cost=0.8")
    assert shown.returncode == 0
    assert "living_cost = 0.8" in shown.stdout and "[regions.hangzhou.policy]" in shown.stdout


def test_start_up_imports_only_what_the_command_needs():
    """Every command line imports the app and run_cmd: neither may pull in the model's or the store's stack."""
    heavy = ("numpy", "pandas", "pyarrow", "duckdb", "plotly", "numba", "scipy")
    code = (
        f"import sys, hardtech.cli.app, hardtech.cli.run_cmd; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == ""
    res = hardtech("presets")
    assert res.returncode == 0 and "hangzhou" in res.stdout, res.stderr


def test_errors_of_modules_not_imported_are_not_needed_to_map_exit_codes():
    """main() names its known errors only from modules already imported; once imported they map to exit 2."""
    from hardtech.cli.app import INPUT_ERRORS, _raised
    from hardtech.engine.jit import EngineChoiceError
    from hardtech.resources import ResourceError
    from hardtech.scenario import ScenarioError
    from hardtech.store import StoreError

    assert set(_raised(lazy=INPUT_ERRORS)) == {ScenarioError, StoreError, ResourceError, EngineChoiceError}
    assert _raised(KeyError, lazy=("no_such_module_here:Error",)) == (KeyError,)
    res = hardtech("run", "no-such-preset")
    assert res.returncode == 2 and res.stderr.count("\n") == 1 and "no-such-preset" in res.stderr, res.stderr


def test_help_reflows_docstring_paragraphs_to_the_terminal_width():
    """A command's help wraps each paragraph at the terminal, not at the docstring's own line breaks."""
    import os

    res = subprocess.run(
        [sys.executable, "-m", "hardtech", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "240"},
    )
    assert res.returncode == 0, res.stderr
    assert "NumPy engine unless HARDTECH_ENGINE names one: the same results to the bit, without" in res.stdout


def test_reflowed_keeps_lists_and_the_hidden_part():
    from hardtech.cli.app import reflowed

    doc = "First line.\n\n    Joined\n    lines.\n\n    - item one\n    - item two\n    \f\n    hidden\n    text"
    assert reflowed(doc) == "First line.\n\nJoined lines.\n\n- item one\n- item two\n\f\nhidden\ntext"


@pytest.mark.parametrize(
    ("variable", "allowed"), [("HARDTECH_ENGINE", "numba, numpy"), ("HARDTECH_DRAWS", "economical, reference")]
)
def test_bad_engine_variable_is_bad_input_before_anything_is_written(tmp_path, variable, allowed):
    from tests.helpers import clean_env

    store = tmp_path / "r.duckdb"
    res = subprocess.run(
        [sys.executable, "-m", "hardtech", "run", "--replications", "2", *SMALL, "--out", str(store)],
        capture_output=True,
        text=True,
        timeout=120,
        env=clean_env(**{variable: "Turbo"}),
    )
    assert res.returncode == 2, res.stderr
    assert f"{variable}='turbo': must be one of {allowed}" in res.stderr
    assert "Traceback" not in res.stderr and "bug" not in res.stderr
    assert not store.exists() and not store.with_suffix(".html").exists()
