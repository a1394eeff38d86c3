"""``hardtech robustness``: each claim's verdict mapped across the plausible values of the assumptions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from hardtech.cli.app import app, err, fail, out
from hardtech.cli.evidence_cmd import ScenarioOpt, SetOpt, _default_out, _json, _num, _progress, _scenario
from hardtech.cli.experiment_cmd import DaskLocalOpt, SchedulerOpt, WorkersOpt
from hardtech.scenario import load


@app.command("robustness")
def robustness_cmd(
    scenario: ScenarioOpt = "hangzhou",
    set_: SetOpt = None,
    region: Annotated[str | None, typer.Option(help="Focal region (default: the scenario's first).")] = None,
    claims: Annotated[
        str | None,
        typer.Option(
            "--claims",
            help=(
                "Comma-separated claim ids, e.g. H1,H5 (default: every claim with arms; H10, a variance decomposition, "
                "has none)."
            ),
        ),
    ] = None,
    params: Annotated[
        str | None,
        typer.Option(
            "--params",
            help=(
                "Screen only these [ASSUMPTION] parameters: comma-separated paths or block prefixes such as 'capital.' "
                "(default: all; parameters given with --set are held at that value)."
            ),
        ),
    ] = None,
    trajectories: Annotated[
        int | None,
        typer.Option(
            "--trajectories", min=1, max=1000, help=("Morris trajectories r (r·(k + 1) points; default 6, --quick 2).")
        ),
    ] = None,
    morris_replications: Annotated[
        int, typer.Option("--morris-replications", min=1, max=100, help=("Paired replications per screening point."))
    ] = 1,
    keep: Annotated[
        int | None,
        typer.Option(
            "--keep", min=1, max=100, help=("Parameters the screening keeps for the hypercube (default 8, --quick 4).")
        ),
    ] = None,
    samples: Annotated[
        int | None,
        typer.Option("--samples", min=2, max=100000, help=("Latin hypercube points (default 64, --quick 8).")),
    ] = None,
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-r",
            min=2,
            max=1000,
            help=("Paired replications per hypercube point (default 4, --quick 2)."),
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", min=0, max=2**32 - 1, help="Seed of the two designs.")] = 0,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out", help=("DuckDB file (default results/<name>-robustness.duckdb); the report is written beside it.")
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick",
            help=(
                "Screening: scale 0.002, the first 5 years, 2 trajectories, 4 kept parameters, 8 points × 2 "
                "replications."
            ),
        ),
    ] = False,
    list_params: Annotated[
        bool, typer.Option("--list", help="List the parameters that would be screened and exit.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result as JSON.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Map each claim across the plausible ranges of the [ASSUMPTION] parameters (resumable).

    Morris screening, then a Latin hypercube over the parameters that matter; per claim the share
    of points supporting it.
    """
    from hardtech.evidence.claims import build_claims
    from hardtech.evidence.robustness import (
        QUICK,
        RobustnessError,
        RobustnessStore,
        Settings,
        assumptions,
        code_fingerprint,
        jsonable,
        planned_runs,
        run_robustness,
        select_parameters,
    )
    from hardtech.evidence.robustness_report import write_robustness_report
    from hardtech.experiments.executors import ExecutorError, check_options, open_executor
    from hardtech.store import StoreError, check_store_path

    sc = _scenario(scenario, set_)
    if quick:
        sc = load(sc, {"scale": QUICK["scale"], "time.end_year": sc.time.start_year + QUICK["years"] - 1})
    fixed = [item.partition("=")[0].strip() for item in (set_ or [])]
    try:
        resolved = build_claims(sc, region)
    except ValueError as exc:
        fail(str(exc))
    focal = region or next(iter(sc.regions))
    testable = [c.id for c in resolved if c.kind == "arms"]
    wanted = [x.strip() for x in claims.split(",") if x.strip()] if claims else testable
    for w in wanted:
        if w not in testable:
            why = " (a variance decomposition: no arms to compare)" if w in {c.id for c in resolved} else ""
            fail(f"--claims: {w!r} cannot be mapped{why}; allowed: {', '.join(testable)}")
    try:
        chosen = select_parameters(assumptions(sc, fixed), params)
    except RobustnessError as exc:
        fail(str(exc))
    if list_params:
        _print_parameters(chosen)
        return
    settings = Settings(
        claims=tuple(wanted),
        region=focal,
        parameters=tuple(p.path for p in chosen),
        trajectories=trajectories or (int(QUICK["trajectories"]) if quick else 6),
        morris_replications=morris_replications,
        keep=keep or (int(QUICK["keep"]) if quick else 8),
        points=samples or (int(QUICK["points"]) if quick else 64),
        replications=replications or (int(QUICK["replications"]) if quick else 4),
        seed=seed,
    )
    try:
        settings.check()
        check_options(workers, scheduler, dask_local)
    except (RobustnessError, ExecutorError) as exc:
        fail(str(exc))
    store_path = out_path or _default_out(sc.name, "robustness")
    if store_path.suffix != ".duckdb":
        fail(f"--out: {str(store_path)!r} must end in .duckdb")
    try:
        check_store_path(store_path)
    except StoreError as exc:
        fail(f"--out: {exc}")
    by_id = {c.id: c for c in resolved}
    history = sc.time.start_year <= 2012 and sc.time.end_year >= 2025
    total = planned_runs(
        [by_id[c] for c in wanted], settings.trajectories * (len(chosen) + 1), settings.morris_replications, history
    ) + planned_runs([by_id[c] for c in wanted], settings.points, settings.replications, history)
    t0 = time.perf_counter()
    try:
        with (
            open_executor(workers, scheduler, dask_local) as info,
            RobustnessStore(store_path, code_fingerprint(), on_wait=lambda m: err.print(m, highlight=False)) as store,
            _progress(total, "robustness", progress and not as_json) as tick,
        ):
            result = run_robustness(
                sc,
                settings,
                store,
                executor=None if info.inline else info.executor,
                parallelism=info.parallelism,
                on_done=tick,
                log=None if as_json else (lambda m: err.print(m, highlight=False)),
                failed_dir=store_path.with_name(f"{store_path.stem}-failed"),
            )
    except (ExecutorError, StoreError) as exc:
        fail(str(exc))
    wall = time.perf_counter() - t0
    result["wall_seconds"] = round(wall, 1)
    report = write_robustness_report(
        store_path.with_suffix(".html"),
        result,
        {
            "title": f"hardtech robustness — {sc.name}" + (" (screening)" if settings.screening else ""),
            "scenario": sc.name,
            "focal region": focal,
            "scale": sc.scale,
            "years": f"{sc.time.start_year}–{sc.time.end_year}",
            "claims": ", ".join(wanted),
            "screened parameters": len(chosen),
            "runs": result["runs"]["distinct"],
            "wall seconds": round(wall, 1),
            "study id": result["study_id"],
        },
    )
    if as_json:
        typer.echo(
            json.dumps(
                jsonable({**result, "store": str(store_path), "report": str(report)}),
                indent=2,
                allow_nan=False,
                default=_json,
            )
        )
        return
    _print_result(result)
    runs = result["runs"]
    out.print(
        f"{runs['distinct']} distinct runs ({runs['new']} new, {runs['reused_from_store']} from the store) in "
        f"{wall:.0f} s; stored in [bold]{store_path}[/]; report: [bold]{report}[/]",
        highlight=False,
    )


def _print_parameters(chosen) -> None:
    table = Table(
        title=escape(f"{len(chosen)} [ASSUMPTION] parameters screened over their plausible ranges"),
        title_justify="left",
    )
    for c in ("parameter", "default", "plausible", "unit", "provenance"):
        table.add_column(c)
    for p in chosen:
        table.add_row(
            p.path, f"{p.default:g}", f"{p.plausible[0]:g} – {p.plausible[1]:g}", escape(p.unit), escape(p.provenance)
        )
    out.print(table)


def _pct(x: float) -> str:
    return "–" if x != x else f"{100 * x:.0f}%"


def _print_result(result: dict) -> None:
    lhs, morris = result["lhs"], result["morris"]
    label = "SCREENING: " if result["screening"] else ""
    full = result["full_design"]
    title = (
        f"{label}claims across the plausible space — Latin hypercube over {len(result['kept'])} kept of "
        f"{morris['parameters']} [ASSUMPTION] parameters, {lhs['points']} points × {lhs['replications']} paired "
        f"replications (scale {result['scale']:g}, {result['years'][0]}–{result['years'][1]}); Wilson 95% intervals"
    )
    table = Table(title=escape(title), title_justify="left", show_lines=True)
    # a 'failed' column only when a point failed: a study where every run finished reads as before
    statuses = ["supported", "contrary", "unresolved"]
    if any(c.get("failed", {}).get("points") for c in result["claims"]):
        statuses.append("failed")
    for c in ("claim", *statuses, "deciding parameters (Spearman ρ, p < 0.05)"):
        table.add_column(c, justify="right" if c in statuses else "left")
    for c in result["claims"]:
        cells = []
        for s in statuses:
            lo, hi = c[s]["ci"]
            cells.append(f"{_pct(c[s]['share'])}\n[{_pct(lo)}, {_pct(hi)}]")
        deciding = [d for d in c["deciding"] if d["decides"]][:3]
        text = (
            "\n".join(
                f"{d['parameter']} ({_num(d['spearman'])})" + (f": {d['fails_when']}" if d["fails_when"] else "")
                for d in deciding
            )
            or "none"
        )
        table.add_row(f"{c['claim']} {c['short']}", *cells, text)
    out.print(table)
    from hardtech.evidence.robustness import failure_text

    failed = result.get("failed") or {}
    head, rest = failure_text(result)
    if head:
        out.print(f"[red]{escape(head)}[/]{escape(rest)}", highlight=False)
    if result["screening"]:
        out.print(
            f"[yellow]screening[/]: a robustness share needs Morris r ≥ {full['trajectories']} and ≥ "
            f"{full['points']} points × ≥ {full['replications']} paired replications",
            highlight=False,
        )
    outcomes = Table(
        title=f"Key outcomes: the inputs that move them most (Morris μ* over {morris['points']} points"
        + (
            ", less the trajectories left out above)"
            if any(k.startswith("outcome:") for k in failed.get("morris_trajectories_dropped", {}))
            else ")"
        ),
        title_justify="left",
    )
    for c in ("outcome", "mean [10%, 90%] on the hypercube", "largest μ*"):
        outcomes.add_column(c)
    for o in result["outcomes"]:
        top = ", ".join(f"{r['parameter']} ({_num(r['mu_star'])})" for r in o["morris_top"][:3]) or "–"
        outcomes.add_row(o["outcome"], f"{_num(o['mean'])} [{_num(o['p10'])}, {_num(o['p90'])}]", top)
    out.print(outcomes)
    if result.get("history"):
        out.print(f"({result['history']})", highlight=False)
