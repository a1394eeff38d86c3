"""``hardtech run``, ``hardtech presets`` and ``hardtech show``.

Every command line imports this module (see :data:`hardtech.cli.app.COMMAND_MODULES`), so what
only ``run`` needs — the model, the store (DuckDB, pandas), the report (Plotly) — is imported
inside ``run``: ``presets``, ``show`` and the other commands do not pay for it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from hardtech.cli.app import app, err, fail, out
from hardtech.scenario import ScenarioError, load, presets, to_toml

if TYPE_CHECKING:
    from hardtech.runner import RunResult

ScenarioArg = Annotated[str, typer.Argument(help="A preset name (see `hardtech presets`) or a path to a .toml file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set", "-s", help="Override a field: KEY=VALUE, e.g. regions.hangzhou.living_cost=0.8 (repeatable)."
    ),
]
MAX_DRAGON_ROWS = 25
SUMMARY_TERMS = (
    "dragon",
    "births",
    "talent",
    "inflow %/y 20-24",
    "VC pool",
    "returned",
    "gap",
    "usable from",
    "demand from",
    "maturity",
    "adoption",
    "niches",
)


@app.command("presets")
def presets_cmd() -> None:
    """List the scenarios shipped with hardtech."""
    for name in presets():
        sc = load(name)
        out.print(f"[bold]{name}[/]  {sc.description}", highlight=False)


@app.command("show")
def show_cmd(
    scenario: ScenarioArg = "hangzhou",
    set_: SetOpt = None,
    bare: Annotated[
        bool, typer.Option("--bare", help="Plain TOML without the comments (units, ranges, provenance).")
    ] = False,
) -> None:
    """Print the fully resolved scenario as TOML: defaults filled in, overrides applied.

    Each field's unit, allowed and plausible range and provenance are comments (the output loads
    back as it is).
    """
    from hardtech.commented import commented_toml, source_text

    try:
        sc = load(scenario, set_ or [])
        source = None if bare else source_text(scenario)
    except ScenarioError as exc:
        fail(str(exc))
    typer.echo(to_toml(sc) if bare else commented_toml(sc, source), nl=False)


@app.command("run")
def run_cmd(
    scenario: ScenarioArg = "hangzhou",
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (default: the scenario's).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=1000, help="Independent replications of the seed.")] = 1,
    set_: SetOpt = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help="DuckDB file to write (default results/<name>.duckdb); the report goes beside it as .html."
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write the HTML report.")] = True,
) -> None:
    """Run a scenario, print a summary, and store the results and an HTML report.

    With --replications N > 1 the batch is registered in the store before it
    starts and each replication is stored, whole, as it finishes; if the batch
    is interrupted, the same command resumes it (replications already stored
    are read back, not run again).

    One replication runs on the NumPy engine unless HARDTECH_ENGINE names one: the same results to
    the bit, without the half second it takes to load Numba and its cached kernels (seconds more to
    compile them on a new machine).
    """
    from hardtech.analysis.report import write_report
    from hardtech.cli.storing import check_out
    from hardtech.resources import ResourceError, check_memory
    from hardtech.runner import summarise

    try:
        sc = load(scenario, set_ or [])
        if seed is not None:
            sc = load(sc, {"seed": seed})
    except ScenarioError as exc:
        fail(str(exc))
    store_path = check_out(out_path or Path("results") / f"{sc.name}.duckdb")
    with _engine_for(replications):
        try:
            check_memory(sc)
        except ResourceError as exc:
            fail(str(exc))
        results, batch = _run_batch(sc, replications, store_path, show_progress=progress and not as_json)
    summary = summarise(results)
    summary["store"] = str(store_path)
    if batch:
        summary["batch"] = batch
    if report:
        html = store_path.with_suffix(".html")
        tables = {k: results[0][k] for k in ("step_metrics", "region_metrics", "field_metrics")}
        meta = {
            "scenario": sc.name,
            "seed": sc.seed,
            "replications": replications,
            "scale": sc.scale,
            "run_id": results[0].run_id,
            "wall_seconds": results[0].meta["wall_seconds"],
            "model_version": results[0].meta.get("model_version"),
        }
        write_report(html, f"hardtech — {sc.name} (seed {sc.seed})", {**summary, "meta": meta}, tables, scenario=sc)
        summary["report"] = str(html)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


def _engine_for(replications: int):
    """The engine a run uses: the one ``HARDTECH_ENGINE`` names, else NumPy for one replication.

    Both engines give the same results to the bit (tests/test_engines.py). For a single run in a
    fresh process, importing Numba and loading its compiled kernels takes longer than the kernels
    save (benchmarks/throughput.py); over many runs in one process they pay.
    """
    import os

    from hardtech.engine.jit import ENV, use_engine

    if os.environ.get(ENV, "").strip() or replications > 1:
        return contextlib.nullcontext()
    return use_engine("numpy")


# the tables summarise() and the report read: all a finished replication keeps in memory
SUMMARY_TABLES = ("step_metrics", "region_metrics", "field_metrics", "dragons")


def batch_id_for(sc, run_ids: list[str]) -> str:
    """Id of a replication batch: a hash of its run ids (hence of scenario, seed, count and model version)."""
    return f"{sc.name}-{hashlib.sha256(json.dumps(run_ids).encode()).hexdigest()[:12]}-x{len(run_ids)}"


def _light(result: RunResult) -> RunResult:
    """Drop the big tables of a stored replication (the summary needs only SUMMARY_TABLES)."""
    result.tables = {k: v for k, v in result.tables.items() if k in SUMMARY_TABLES}
    result._frames.clear()
    return result


def _run_batch(sc, replications: int, store_path: Path, show_progress: bool) -> tuple[list[RunResult], dict | None]:
    """Run (or resume) the replications and store each whole as it finishes; Ctrl-C: one line, exit 130."""
    import duckdb

    from hardtech.cli.storing import open_store, store_runs
    from hardtech.provenance import model_version
    from hardtech.runner import RunResult, run, run_id_for
    from hardtech.store import ResultsStore

    run_ids = [run_id_for(sc, k) for k in range(replications)]
    batch_id = batch_id_for(sc, run_ids) if replications > 1 else None
    stored: set[str] = set()
    if batch_id:
        with open_store(store_path) as store:
            store.begin_batch(
                batch_id,
                scenario_name=sc.name,
                run_ids=run_ids,
                model_version=model_version(),
                command=shlex.join(["hardtech", *sys.argv[1:]]),
            )
            stored = set(store.batch(batch_id)["stored"])
    results: list[RunResult] = []
    if stored:
        with ResultsStore(store_path, read_only=True, wait=None) as store:
            for k, rid in enumerate(run_ids):
                if rid in stored:
                    meta, tables = store.read_run(rid, SUMMARY_TABLES)
                    results.append(RunResult(rid, sc, k, tables, meta))
        rest = "reading them back" if len(stored) == replications else "running the rest"
        err.print(
            f"batch {batch_id}: {len(stored)} of {replications} replications already stored in {store_path}; {rest}",
            highlight=False,
            soft_wrap=True,
        )
    todo = [k for k in range(replications) if run_ids[k] not in stored]
    then = "; then run the same command to finish the batch" if batch_id else ""
    try:
        with _progress(sc, len(todo), show_progress) as tick:
            for k in todo:
                r = run(sc, replication=k, after_step=tick)
                # the last replication's write also marks the batch complete
                finish = (lambda store: store.finish_batch(batch_id)) if batch_id and k == todo[-1] else None
                store_runs(store_path, [(r.run_id, r.meta, r.tables)], then=then, also=finish)
                results.append(_light(r))
    except (KeyboardInterrupt, duckdb.InterruptException):
        done = len(stored) + sum(1 for r in results if r.run_id not in stored)
        where = (
            (
                f"{done} of {replications} replications of batch {batch_id} are stored in {store_path}; "
                "run the same command to resume"
            )
            if batch_id
            else f"nothing was written to {store_path}"
        )
        err.print(f"interrupted (Ctrl-C): {where}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=130) from None
    results.sort(key=lambda r: r.replication)
    if not batch_id:
        return results, None
    if not todo:  # every replication was stored already (e.g. imported after a lock): mark the batch complete
        with open_store(store_path) as store:
            store.finish_batch(batch_id)
    return results, {
        "id": batch_id,
        "replications": replications,
        "already_stored": len(stored),
        "run_now": len(todo),
        "complete": True,
    }


@contextlib.contextmanager
def _progress(sc, runs: int, show: bool):
    """A callback advancing a progress bar by one quarter (or doing nothing)."""
    if not show or not runs:
        yield None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("quarters"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"{sc.name}", total=sc.steps * runs)
        yield lambda _m: bar.advance(task)


def _print_summary(summary: dict) -> None:
    from hardtech.analysis.glossary import footnote

    dragons = summary["dragons"]
    regions = [r["region"] for r in summary["regions"]]
    fields = [f["field"] for f in summary["fields"]]
    grid = Table(
        title=f"Dragons by region and field (replication 0): {len(dragons)} in all; count (first became a dragon)",
        title_justify="left",
    )
    grid.add_column("region")
    for f in fields:
        grid.add_column(f, justify="right")
    for r in regions:
        cells = []
        for f in fields:
            hits = [d for d in dragons if d["region"] == r and d["field"] == f]
            cells.append(f"{len(hits)} ({min(d['dragon_quarter'] for d in hits)})" if hits else "·")
        grid.add_row(r, *cells)
    out.print(grid)
    focal = regions[0]
    mine = [d for d in dragons if d["region"] == focal]
    table = Table(title=f"{focal}'s dragons (replication 0): {len(mine)}", title_justify="left")
    for col in ("firm", "field", "founded", "dragon", "valuation (M USD)"):
        table.add_column(col, justify="right" if col in ("firm", "valuation (M USD)") else "left")
    for d in mine[:MAX_DRAGON_ROWS]:
        table.add_row(str(d["firm_id"]), d["field"], d["founded"], d["dragon_quarter"], f"{d['valuation_musd']:,.0f}")
    out.print(table)
    if len(mine) > MAX_DRAGON_ROWS:
        out.print(f"… and {len(mine) - MAX_DRAGON_ROWS} more (every dragon is in the store's `dragons` table)")
    reps = summary["replications"]
    region_table = Table(
        title="Regions" + (f" (mean of {reps} replications)" if reps > 1 else ""), title_justify="left"
    )
    cols = [
        ("region", "region"),
        ("dragons", "dragons"),
        ("births", "births"),
        ("talent_start", "talent start"),
        ("talent_end", "talent end"),
        ("net_inflow_pct_2020_24", "inflow %/y 20-24"),
        ("investor_capital_end", "VC pool end M$"),
        ("returned", "returned M$"),
        ("gap_to_frontier_end", "gap"),
    ]
    for _, label in cols:
        region_table.add_column(label, justify="left" if label == "region" else "right")
    for row in summary["regions"]:
        region_table.add_row(*[_fmt(row[k]) for k, _ in cols])
    out.print(region_table)
    if "dragons_ci" in summary:
        ci = Table(title="Dragons by region, mean and 95% interval over replications", title_justify="left")
        for c in ("region", "mean", "95% interval"):
            ci.add_column(c)
        for region, v in summary["dragons_ci"].items():
            ci.add_row(region, f"{v['mean']:.2f}", f"[{v['lo']:.2f}, {v['hi']:.2f}]")
        out.print(ci)
    field_table = Table(title="Fields", title_justify="left")
    for c in ("field", "usable from", "demand from", "maturity end", "adoption end", "niches end"):
        field_table.add_column(c)
    for f in summary["fields"]:
        field_table.add_row(
            f["field"],
            f["usable_from"],
            f["demand_from"],
            f"{f['maturity_end']:.2f}",
            f"{f['adoption_end']:.2f}",
            str(f["niches_end"]),
        )
    out.print(field_table)
    out.print("[bold]Terms[/] (hardtech.analysis.glossary; the report and the dashboard define them alike)")
    for line in footnote(SUMMARY_TERMS):
        out.print(f"  {line}", highlight=False)
    out.print(
        f"Stored {len(summary['run_ids'])} run(s) in [bold]{summary['store']}[/]"
        + (f"; report: [bold]{summary['report']}[/]" if "report" in summary else ""),
        highlight=False,
    )


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
