"""``hardtech run``, ``hardtech presets`` and ``hardtech show``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from hardtech.analysis.report import write_report
from hardtech.cli.app import app, err, fail, out
from hardtech.runner import RunResult, run, summarise
from hardtech.scenario import ScenarioError, load, presets, to_toml
from hardtech.store import ResultsStore

ScenarioArg = Annotated[str, typer.Argument(help="A preset name (see `hardtech presets`) or a path to a .toml file.")]
SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", "-s", help="Override a field: KEY=VALUE, e.g. regions.hangzhou.living_cost=0.8 (repeatable)."),
]
MAX_DRAGON_ROWS = 25


@app.command("presets")
def presets_cmd() -> None:
    """List the scenarios shipped with hardtech."""
    for name in presets():
        sc = load(name)
        out.print(f"[bold]{name}[/]  {sc.description}", highlight=False)


@app.command("show")
def show_cmd(scenario: ScenarioArg = "hangzhou", set_: SetOpt = None) -> None:
    """Print the fully resolved scenario as TOML (defaults filled in, overrides applied)."""
    try:
        sc = load(scenario, set_ or [])
    except ScenarioError as exc:
        fail(str(exc))
    typer.echo(to_toml(sc))


@app.command("run")
def run_cmd(
    scenario: ScenarioArg = "hangzhou",
    seed: Annotated[int | None, typer.Option(min=0, help="Random seed (default: the scenario's).")] = None,
    replications: Annotated[int, typer.Option(min=1, max=1000, help="Independent replications of the seed.")] = 1,
    set_: SetOpt = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="DuckDB file to write (default results/<name>.duckdb); the report goes beside it as .html.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON instead of tables.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write the HTML report.")] = True,
) -> None:
    """Run a scenario, print a summary, and store the results and an HTML report."""
    try:
        sc = load(scenario, set_ or [])
        if seed is not None:
            sc = load(sc, {"seed": seed})
    except ScenarioError as exc:
        fail(str(exc))
    store_path = out_path or Path("results") / f"{sc.name}.duckdb"
    if store_path.suffix != ".duckdb":
        fail(f"--out: {str(store_path)!r} must end in .duckdb")
    results = _run_all(sc, replications, show_progress=progress and not as_json)
    with ResultsStore(store_path) as store:
        for r in results:
            store.write_run(r.run_id, r.meta, r.tables, replace=True)
    summary = summarise(results)
    summary["store"] = str(store_path)
    if report:
        html = store_path.with_suffix(".html")
        tables = {k: results[0].frame(k) for k in ("step_metrics", "region_metrics", "field_metrics")}
        meta = {"scenario": sc.name, "seed": sc.seed, "replications": replications, "scale": sc.scale,
                "run_id": results[0].run_id, "wall_seconds": results[0].meta["wall_seconds"]}
        write_report(html, f"hardtech — {sc.name} (seed {sc.seed})", {**summary, "meta": meta}, tables, scenario=sc)
        summary["report"] = str(html)
    if as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        _print_summary(summary)


def _run_all(sc, replications: int, show_progress: bool) -> list[RunResult]:
    total = sc.steps * replications
    if not show_progress:
        return [run(sc, replication=k) for k in range(replications)]
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("quarters"),
               TimeRemainingColumn())
    with Progress(*columns, console=err, transient=True) as bar:
        task = bar.add_task(f"{sc.name}", total=total)
        return [run(sc, replication=k, after_step=lambda _m: bar.advance(task)) for k in range(replications)]


def _print_summary(summary: dict) -> None:
    dragons = summary["dragons"]
    regions = [r["region"] for r in summary["regions"]]
    fields = [f["field"] for f in summary["fields"]]
    grid = Table(title=f"Dragons by region and field (replication 0): {len(dragons)} in all; "
                       "count (first became a dragon)", title_justify="left")
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
    regions = Table(title="Regions" + (f" (mean of {reps} replications)" if reps > 1 else ""), title_justify="left",
                    caption="gap = log-capability gap of the region's best firm to the world frontier, mean over fields",
                    caption_justify="left")
    cols = [("region", "region"), ("dragons", "dragons"), ("births", "births"),
            ("talent_start", "talent start"), ("talent_end", "talent end"), ("net_inflow_pct_2020_24", "inflow %/y 20-24"),
            ("investor_capital_end", "VC pool end M$"), ("returned", "returned M$"), ("gap_to_frontier_end", "gap")]
    for _, label in cols:
        regions.add_column(label, justify="left" if label == "region" else "right")
    for row in summary["regions"]:
        regions.add_row(*[_fmt(row[k]) for k, _ in cols])
    out.print(regions)
    if "dragons_ci" in summary:
        ci = Table(title="Dragons by region, mean and 95% interval over replications", title_justify="left")
        for c in ("region", "mean", "95% interval"):
            ci.add_column(c)
        for region, v in summary["dragons_ci"].items():
            ci.add_row(region, f"{v['mean']:.2f}", f"[{v['lo']:.2f}, {v['hi']:.2f}]")
        out.print(ci)
    fields = Table(title="Fields", title_justify="left")
    for c in ("field", "usable from", "demand from", "maturity end", "adoption end", "niches end"):
        fields.add_column(c)
    for f in summary["fields"]:
        fields.add_row(f["field"], f["usable_from"], f["demand_from"], f"{f['maturity_end']:.2f}", f"{f['adoption_end']:.2f}", str(f["niches_end"]))
    out.print(fields)
    out.print(f"Stored {len(summary['run_ids'])} run(s) in [bold]{summary['store']}[/]" +
              (f"; report: [bold]{summary['report']}[/]" if "report" in summary else ""), highlight=False)


def _fmt(value) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e6:
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
