"""One Python API shape: run(), HardtechModel.results() and ensemble() give the same result object;
step() after the end is an error; `hardtech show` is commented and loads back; every CLI option has help."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
import tomllib
import typer.main

import hardtech
from hardtech import HardtechModel, RunResult, SimulationFinished
from hardtech.commented import commented_toml, source_notes, source_text
from hardtech.evidence.ensembles import run_digest
from hardtech.scenario.schema import parameters
from hardtech.store import ResultsStore
from hardtech.store.duckdb_store import table_digest
from hardtech.store.schemas import conform
from tests.helpers import hardtech as cli

QUICK = {"scale": 0.002, "time.end_year": 2015}


@pytest.fixture(scope="module")
def scenario():
    return hardtech.load("hangzhou", {**QUICK, "seed": 3})


def test_run_and_model_results_are_one_class_with_the_same_tables(scenario):
    by_run = hardtech.run(scenario)
    model = HardtechModel(scenario).run()
    by_model = model.results()
    assert type(by_run) is type(by_model) is RunResult
    assert by_run.run_id == by_model.run_id and run_digest(by_run) == run_digest(by_model)
    # the mapping of Arrow tables that results() returned before keeps working
    assert isinstance(by_model["dragons"], pa.Table) and "step_metrics" in by_model
    assert set(dict(by_model.items())) == set(by_model.tables) and len(by_model) == len(by_model.tables)
    # and the pandas accessors run() had
    assert len(by_model.metrics) == by_model["step_metrics"].num_rows
    assert by_model.meta["steps_done"] == scenario.steps and by_run.meta["wall_seconds"] > 0
    with pytest.raises(KeyError, match="no table 'nope'; have: step_metrics"):
        by_model["nope"]


def test_repr_is_one_short_line(scenario):
    result = hardtech.run(scenario)
    text = repr(result)
    assert "\n" not in text and len(text) < 400, text
    assert text.startswith(f"<RunResult {result.run_id}: seed 3, replication 0, 2012Q1–2015Q4")
    assert f"{result['dragons'].num_rows} dragons" in text and str(result) == text
    partial = HardtechModel(scenario)
    partial.run(steps=5)
    assert "2012Q1–2013Q1, 5 of 16 quarters" in repr(partial.results())
    assert "<table>" in result._repr_html_()


def test_step_after_the_end_is_a_clear_error(scenario):
    model = HardtechModel(scenario).run()
    assert not model.running and model.steps == scenario.steps
    with pytest.raises(SimulationFinished, match=r"ends with 2015Q4: all 16 quarters have run"):
        model.step()
    assert model.steps == scenario.steps  # nothing ran
    model.run()  # run() at the end does nothing, as before
    assert model.steps == scenario.steps


def test_ensemble_is_a_sequence_of_the_same_results_whatever_the_workers(scenario, tmp_path):
    one = hardtech.ensemble(scenario, replications=3)
    two = hardtech.ensemble(scenario, replications=3, workers=2)
    assert len(one) == 3 and all(isinstance(r, RunResult) for r in one)
    assert [run_digest(a) for a in one] == [run_digest(b) for b in two]
    assert run_digest(one[2]) == run_digest(hardtech.run(scenario, replication=2))
    rows = one.outcomes()
    assert list(rows.replication) == [0, 1, 2] and rows.dragons.tolist() == [r["dragons"].num_rows for r in one]
    summary = one.summary()
    assert {"mean", "lo", "hi", "n"} <= set(summary.columns) and summary.loc["dragons", "n"] == 3
    stacked = one.frame("region_metrics")
    assert stacked.columns[0] == "replication" and len(stacked) == sum(len(r.region_metrics) for r in one)
    assert repr(one).startswith("<Ensemble hangzhou: seed 3, 3 replications") and "\n" not in repr(one)
    path = one.save(tmp_path / "e.duckdb")
    back = RunResult.read(path, one[1].run_id)
    assert back.scenario == scenario and back.replication == 1 and set(back) == set(one[1])
    with ResultsStore(path, read_only=True) as store:  # stored as computed (declared types, NaN as NULL)
        assert store.digest(one[1].run_id)["*"] == store.digest(back.run_id)["*"]
        assert {n: table_digest(t) for n, t in back.items()} == {
            n: table_digest(conform(n, t)) for n, t in one[1].items() if t.num_columns
        }
    with pytest.raises(hardtech.ScenarioError, match="replications: must be 1–1000"):
        hardtech.ensemble(scenario, replications=0)


# -- hardtech show ---------------------------------------------------------------------------------

SETS = [
    "regions.hangzhou.living_cost=0.8",
    "regions.beijing.policy.startup_support=[[2012, 0.1], [2020, 0.3]]",
    "seed=11",
    "capital.recycling=false",
]


def test_show_round_trips_and_comments_every_field(tmp_path):
    res = cli("show", "hangzhou", *[a for s in SETS for a in ("--set", s)])
    assert res.returncode == 0, res.stderr
    path = tmp_path / "mine.toml"
    path.write_text(res.stdout, encoding="utf-8")
    expected = hardtech.load("hangzhou", SETS)
    assert hardtech.load(path) == expected
    assert hardtech.to_toml(hardtech.load(path)) == hardtech.to_toml(expected)
    lines = res.stdout.splitlines()
    fields = {p.path.split(".")[-1] for p in parameters()}
    values = [ln for ln in lines if re.match(r"^[a-z_]+ = ", ln) and ln.split(" ")[0] in fields]
    assert len(values) > 300
    # every field's line carries unit | allowed | plausible | provenance (distance rows: their table's comment)
    for line in values:
        comment = line.split("  # ", 1)
        assert len(comment) == 2 and comment[1].count(" | ") >= 3 and " | allowed " in comment[1], line
    # one line per field of every block: the number of value lines is what the schema implies
    assert sum(1 for ln in values if ln.startswith("living_cost = ")) == len(expected.regions)
    # schedules on one line, the changed value keeps no stale note, the preset's notes are quoted
    assert any(
        ln.startswith("startup_support = [[2012.0, 0.1], [2020.0, 0.3]]  # share | allowed [0, 0.9]") for ln in lines
    )
    hz = next(ln for ln in lines if ln.startswith("living_cost = 0.8"))
    assert (
        "(0, 10]" in hz
        and "plausible [0.5, 3]" in hz
        and "changed; the file had 1.0: reference city [SOURCE: HZ3]" in hz
    )
    cw = next(ln for ln in lines if ln.startswith("capability_weight = "))
    assert "[CALIBRATED]" in cw and "per log capability" in cw
    assert any(ln.startswith("# Cost-of-living index") for ln in lines)


def test_show_of_a_file_quotes_its_own_notes_and_bare_is_plain_toml(tmp_path):
    text = source_text("hangzhou").replace(
        "wage = 25.0                       # [ASSUMPTION]", "wage = 26.0  # my own estimate, 2024 survey"
    )
    mine = tmp_path / "city.toml"
    mine.write_text(text, encoding="utf-8")
    shown = cli("show", str(mine)).stdout
    assert (
        "wage = 26.0  # thousand USD per year | allowed (0, 1000] | plausible [10, 250] | [INPUT] | "
        "note: my own estimate, 2024 survey" in shown
    )
    bare = cli("show", str(mine), "--bare")
    assert (
        bare.returncode == 0
        and "#" not in bare.stdout
        and tomllib.loads(bare.stdout)["regions"]["hangzhou"]["wage"] == 26.0
    )


def test_source_notes_reads_trailing_and_preceding_comments():
    notes = source_notes(
        'a = 1  # one\n# about b\nb = "x # not a comment"\n\n[t]\nc = 2 # see "q"\n'
        "[[ev]]\nd = 1 # first\n[[ev]]\nd = 2 # second\n"
    )
    assert notes == {"a": "one", "b": "about b", "t.c": 'see "q"', "ev.0.d": "first", "ev.1.d": "second"}


def test_every_schema_field_shows_up_in_show():
    text = commented_toml(hardtech.load("hangzhou"), source_text("hangzhou"))
    names = {p.path.split(".")[-1] for p in parameters() if p.kind != "structure" or p.path == "distances_km"}
    keys = set(re.findall(r"^([a-z_]+) = ", text, re.M)) | set(re.findall(r"^\[([a-z_]+)\]", text, re.M))
    assert names - keys <= {"relatedness"} | set(hardtech.load("hangzhou").regions), names - keys


# -- the CLI's help -------------------------------------------------------------------------------


def _commands(command, path: tuple[str, ...]):
    """Every command under ``command`` (typer carries its own copy of click: duck-typed)."""
    yield path, command
    for name, sub in (getattr(command, "commands", None) or {}).items():
        yield from _commands(sub, (*path, name))


def test_every_cli_command_option_and_argument_has_help():
    import hardtech.cli.evidence_cmd  # noqa: F401
    import hardtech.cli.experiment_cmd  # noqa: F401
    import hardtech.cli.history_cmd  # noqa: F401
    import hardtech.cli.run_cmd  # noqa: F401
    import hardtech.cli.serve_cmd  # noqa: F401
    import hardtech.cli.store_cmd  # noqa: F401
    from hardtech.cli import app
    from hardtech.cli.app import main  # noqa: F401  (main imports the command modules)

    root = typer.main.get_command(app)
    missing, seen = [], 0
    for path, command in _commands(root, ("hardtech",)):
        if not (command.help or "").strip():
            missing.append(" ".join(path))
        for param in command.params:
            seen += 1
            if not (getattr(param, "help", None) or "").strip():
                missing.append(f"{' '.join(path)} {'/'.join(param.opts)}")
    assert seen > 80, seen  # the walk reached every command
    assert not missing, f"no help text: {missing}"


def test_the_cli_summary_is_what_pandas_computes_from_the_tables(scenario):
    """``summarise`` reads the Arrow tables with NumPy; the same figures computed with pandas must agree."""
    result = hardtech.run(hardtech.load(scenario, {"time.end_year": 2026}))
    summary = hardtech.summarise([result])
    sm, rm, fm = result.metrics, result.region_metrics, result.field_metrics
    last = sm["step"].max()
    for row in summary["regions"]:
        s, r = sm[sm.region == row["region"]], rm[rm.region == row["region"]]
        window = r[(r.year >= 2020) & (r.year < 2025)]
        net = (window.arrivals - window.departures).sum() / max(window.talent.mean(), 1.0) / (len(window) / 4)
        assert row == {
            "region": row["region"],
            "dragons": int(s[s.step == last].dragons.sum()),
            "births": int(s.births.sum()),
            "firms_end": int(s[s.step == last].firms.sum()),
            "talent_start": float(r.talent.iloc[0]),
            "talent_end": float(r.talent.iloc[-1]),
            "net_inflow_pct_2020_24": round(100 * float(net), 2),
            "investor_capital_end": round(float(r.investor_capital.iloc[-1]), 1),
            "invested": round(float(s.invested.sum()), 1),
            "returned": round(float(s.returned.sum()), 1),
            "gap_to_frontier_end": round(float(s[s.step == last].gap_to_frontier.mean()), 3),
        }
    for row in summary["fields"]:
        g = fm[fm.field == row["field"]]
        assert row["usable_from"] == (g[g.usable].quarter.iloc[0] if g.usable.any() else "")
        assert row["demand_from"] == (g[g.demand_started].quarter.iloc[0] if g.demand_started.any() else "")
        assert (row["maturity_end"], row["niches_end"]) == (
            round(float(g.maturity.iloc[-1]), 3),
            int(g.niches.iloc[-1]),
        )
    dragons = result.dragons.sort_values(["dragon_step", "region"], kind="stable")
    assert [d["firm_id"] for d in summary["dragons"]] == dragons.firm_id.tolist()
    assert [f["field"] for f in summary["fields"]] == list(dict.fromkeys(fm.field))


def test_the_summary_of_a_run_stored_without_a_dragons_table_lists_no_dragons(scenario):
    """Runs stored by early versions can lack the dragons table; the dashboard still summarises them."""
    full = hardtech.run(scenario)
    tables = {k: v for k, v in full.tables.items() if k != "dragons"}
    summary = hardtech.summarise([RunResult(full.run_id, full.scenario, 0, tables, full.meta)])
    assert summary["dragons"] == [] and repr(summary["regions"]) == repr(
        hardtech.summarise([full])["regions"]
    )  # NaN: repr
