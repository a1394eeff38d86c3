"""``hardtech sweep``, ``hardtech sensitivity`` and ``hardtech discover``.

All three read an experiment spec (see docs/experiments.md), check it fully
before anything runs or is written (bad input: one line, exit code 2), run the
runs of the sweep that are not stored yet (so they resume after any
interruption), then report. Exit codes: 0 done, 1 some runs failed, 2 bad
input, 130 interrupted (re-run the same command to resume).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import JustifyMethod
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from hardtech.cli.app import app, err, fail, out
from hardtech.cli.storing import check_out, open_store
from hardtech.experiments.discovery import (
    DiscoveryError,
    NoContrastError,
    check_available,
    discover,
    parse_where,
    plot_discovery,
)
from hardtech.experiments.executors import ExecutorError, check_options, open_executor
from hardtech.experiments.sensitivity import AnalysisError, check_design, plot_sensitivity, sensitivity, short_labels
from hardtech.experiments.spec import ResolvedSpec, SpecError, load_spec
from hardtech.experiments.sweep import SweepError, SweepPlan, SweepReport, plan_sweep, run_sweep, sweep_frame
from hardtech.resources import ResourceError, check_memory
from hardtech.store import ResultsStore

SpecArg = Annotated[Path, typer.Argument(help="Experiment spec (.toml), see docs/experiments.md.", show_default=False)]
WorkersOpt = Annotated[
    int | None, typer.Option("--workers", help="Run on N local worker processes (default: in-process).")
]
SchedulerOpt = Annotated[
    str | None, typer.Option("--scheduler", help="Run on a Dask cluster: scheduler address tcp://HOST:PORT.")
]
DaskLocalOpt = Annotated[
    int | None, typer.Option("--dask-local", help="Start a Dask LocalCluster of N worker processes and run on it.")
]
OutOpt = Annotated[Path | None, typer.Option("--out", help="DuckDB store (default results/<spec name>.duckdb).")]
ProgressOpt = Annotated[
    bool,
    typer.Option("--progress/--no-progress", help="Progress bar on stderr (off: a status line at most every 0.5 s)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
BatchOpt = Annotated[
    int | None,
    typer.Option("--batch", min=1, max=10000, help="Runs per submitted task (default: adaptive, ≈1 s of work)."),
]


def _prepare(
    spec_path: Path, out_path: Path | None, workers: int | None, scheduler: str | None, dask_local: int | None
) -> tuple[ResolvedSpec, Path]:
    """Every check that needs no run: spec, executor options, store path."""
    try:
        resolved = load_spec(spec_path)
        check_options(workers, scheduler, dask_local)
    except (SpecError, ExecutorError) as exc:
        fail(str(exc))
    store_path = check_out(out_path or Path("results") / f"{resolved.name}.duckdb")
    return resolved, store_path


def _plan(
    resolved: ResolvedSpec, workers: int | None = None, dask_local: int | None = None, scheduler: str | None = None
) -> SweepPlan:
    """Every run's scenario validated, and the largest checked against the memory there is.

    The memory check is for local runs only: not with --scheduler, whose workers run elsewhere.
    """
    try:
        plan = plan_sweep(resolved)
    except SpecError as exc:
        fail(str(exc))
    if scheduler:
        return plan
    assert plan.largest is not None  # a plan has at least one run
    try:
        check_memory(plan.largest, processes=max(workers or 1, dask_local or 1), what="the largest run of the sweep")
    except ResourceError as exc:
        fail(str(exc))
    return plan


def _open_store(path: Path) -> ResultsStore:
    return open_store(path)


class _Reporter:
    """Rich progress bar, or throttled status lines, or nothing (``--json``)."""

    def __init__(self, sweep_id: str, bar: bool, lines: bool) -> None:
        self.sweep_id, self.lines, self.last, self.shown = sweep_id, lines, 0.0, -1
        self.progress: Progress | None = None
        self.task: TaskID | None = None
        if bar:
            self.progress = Progress(
                TextColumn("[bold]sweep {task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("runs"),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=err,
                transient=False,
            )

    def __enter__(self) -> _Reporter:
        if self.progress:
            self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.progress:
            self.progress.stop()

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None:
            if self.task is None:
                self.task = self.progress.add_task(self.sweep_id[:8], total=total, completed=done)
            self.progress.update(self.task, completed=done)
        elif self.lines:
            now = time.monotonic()
            if done != self.shown and (now - self.last >= 0.5 or done == total):
                err.print(f"sweep {self.sweep_id}: {done}/{total} runs stored", highlight=False, soft_wrap=True)
                self.last, self.shown = now, done


def _execute(
    resolved: ResolvedSpec,
    plan: SweepPlan,
    store_path: Path,
    *,
    workers: int | None,
    scheduler: str | None,
    dask_local: int | None,
    progress: bool,
    quiet: bool,
    batch: int | None,
) -> tuple[SweepReport, Any]:
    """Connect the executor, open the store, run the missing runs; returns the report and the sweep's rows.

    The executor comes first so that an unreachable scheduler leaves no store
    file behind. Exits 130 on Ctrl-C (everything stored so far stays) and 1
    if the worker pool keeps breaking.
    """
    reporter = _Reporter(
        resolved.sweep_id,
        bar=progress and not quiet and err.is_terminal,
        lines=not quiet and not (progress and err.is_terminal),
    )
    store: ResultsStore | None = None
    try:
        with open_executor(workers, scheduler, dask_local) as executor:
            store = _open_store(store_path)
            if not quiet:
                err.print(
                    f"sweep {resolved.sweep_id} ({resolved.name}): {len(plan.tasks)} runs on {executor.label}",
                    highlight=False,
                    soft_wrap=True,
                )
            with reporter:
                report = run_sweep(plan, store, executor, progress=reporter, batch_size=batch)
            return report, sweep_frame(store, resolved)
    except ExecutorError as exc:
        fail(str(exc))
    except SweepError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        done: Any = "some"
        if store is not None:
            try:
                done = len(sweep_frame(store, resolved))
            except Exception:  # noqa: BLE001 - only for the message
                pass
        err.print(
            f"interrupted: {done} of {len(plan.tasks)} runs of sweep {resolved.sweep_id} are stored in "
            f"{store_path}; run the same command to resume",
            highlight=False,
            soft_wrap=True,
        )
        raise typer.Exit(code=130) from None
    finally:
        if store is not None:
            store.close()
    raise AssertionError  # unreachable


def _report_failures(report: SweepReport) -> None:
    if report.failed:
        first = report.failed[0]
        err.print(
            f"[bold red]error:[/] {len(report.failed)} run(s) failed (nothing stored for them; re-run to retry); "
            f"first: sample {first['sample']} replication {first['replication']}: {first['error']}",
            highlight=False,
            soft_wrap=True,
        )


@app.command("sweep")
def sweep_cmd(
    spec: SpecArg,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    out_path: OutOpt = None,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    batch: BatchOpt = None,
) -> None:
    """Run every run of an experiment spec not yet stored; one sweep_runs row per run (DuckDB)."""
    resolved, store_path = _prepare(spec, out_path, workers, scheduler, dask_local)
    plan = _plan(resolved, workers, dask_local, scheduler)
    report, _ = _execute(
        resolved,
        plan,
        store_path,
        workers=workers,
        scheduler=scheduler,
        dask_local=dask_local,
        progress=progress,
        quiet=as_json,
        batch=batch,
    )
    summary = {
        **report.as_dict(),
        "name": resolved.name,
        "store": str(store_path),
        "design": resolved.spec.design,
        "samples": len(plan.design),
        "replications": resolved.spec.replications,
        "sql": f"SELECT * FROM sweep_runs WHERE sweep_id = '{resolved.sweep_id}' ORDER BY sample, replication",
    }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _report_failures(report)
        out.print(
            f"Sweep [bold]{resolved.name}[/] ({resolved.sweep_id}): {report.total} runs "
            f"({len(plan.design)} samples × {resolved.spec.replications} replications) — "
            f"{report.stored} new, {report.already} already stored"
            + (f", {report.linked} linked from other sweeps" if report.linked else "")
            + (f", [red]{len(report.failed)} failed[/]" if report.failed else "")
            + f", {report.seconds:.1f} s on {report.executor}",
            highlight=False,
            soft_wrap=True,
        )
        out.print(
            f'Stored in [bold]{store_path}[/]; query: duckdb {store_path} "{summary["sql"]}"',
            highlight=False,
            soft_wrap=True,
        )
    if report.failed:
        raise typer.Exit(code=1)


def _sweep_then(
    spec: Path,
    out_path: Path | None,
    workers: int | None,
    scheduler: str | None,
    dask_local: int | None,
    progress: bool,
    quiet: bool,
    batch: int | None,
    check: Any,
) -> tuple[ResolvedSpec, Path, Any]:
    """Shared by sensitivity and discover: validate, run what is missing, return the sweep's rows."""
    resolved, store_path = _prepare(spec, out_path, workers, scheduler, dask_local)
    check(resolved)
    plan = _plan(resolved, workers, dask_local, scheduler)
    report, frame = _execute(
        resolved,
        plan,
        store_path,
        workers=workers,
        scheduler=scheduler,
        dask_local=dask_local,
        progress=progress,
        quiet=quiet,
        batch=batch,
    )
    if report.failed:
        _report_failures(report)
        raise typer.Exit(code=1)
    return resolved, store_path, frame


def _fmt(v: float | None, digits: int = 3) -> str:
    return "—" if v is None else f"{v:.{digits}f}"


@app.command("sensitivity")
def sensitivity_cmd(
    spec: SpecArg,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    out_path: OutOpt = None,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    batch: BatchOpt = None,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write the PNG chart next to the store.")] = True,
) -> None:
    """Sobol (S1, S2, ST) or Morris (μ*, σ) indices of a sobol/morris sweep, running it first if needed."""

    def check(resolved: ResolvedSpec) -> None:
        try:
            check_design(resolved)
        except AnalysisError as exc:
            fail(str(exc))

    resolved, store_path, frame = _sweep_then(
        spec, out_path, workers, scheduler, dask_local, progress, as_json, batch, check
    )
    _analyse(
        lambda: sensitivity(resolved, frame),
        AnalysisError,
        store_path,
        plot and (lambda r: plot_sensitivity(r, store_path.parent / f"{resolved.name}.sensitivity.png")),
        as_json,
        _print_sensitivity,
    )


def _analyse(analyse, error_type, store_path, plot, as_json: bool, printer) -> None:
    """Run an analysis of a stored sweep; print it (or its JSON), with its chart if asked.

    An analysis that cannot be done (e.g. too few runs) is one error line and exit code 1;
    a condition no run (or every run) meets is bad input: one line, exit code 2.
    """
    try:
        result = analyse()
    except NoContrastError as exc:
        fail(str(exc))
    except error_type as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(code=1) from None
    result["store"] = str(store_path)
    if plot:
        result["plot"] = str(plot(result))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    printer(result)


def _print_sensitivity(result: dict[str, Any]) -> None:
    labels = short_labels(result["factors"])
    pct = int(round(100 * result["conf_level"]))
    method = "Sobol" if result["method"] == "sobol" else "Morris"
    out.print(
        f"{method} sensitivity of {result['name']} ({result['sweep_id']}): {result['runs']} runs = "
        f"{result['samples']} samples × {result['replications']} replication(s); ± = half-width of the "
        f"{pct}% bootstrap interval ({result['bootstrap']} resamples)",
        highlight=False,
        soft_wrap=True,
    )
    for name, entry in result["outcomes"].items():
        table = Table(title=f"{name} — {method} indices", title_justify="left")
        table.add_column("factor")
        if result["method"] == "sobol":
            for c in ("S1", "±", "ST", "±"):
                table.add_column(c, justify="right")
            for f in entry["factors"]:
                table.add_row(labels[f["factor"]], _fmt(f["S1"]), _fmt(f["S1_conf"]), _fmt(f["ST"]), _fmt(f["ST_conf"]))
            caption = (
                f"ΣS1 = {_fmt(entry['sum_S1'])} (1 − ΣS1: interactions and noise)"
                if entry["sum_S1"] is not None
                else "indices undefined: the outcome is constant or missing"
            )
        else:
            for c in ("μ*", "±", "μ", "σ"):
                table.add_column(c, justify="right")
            for f in entry["factors"]:
                table.add_row(
                    labels[f["factor"]], _fmt(f["mu_star"]), _fmt(f["mu_star_conf"]), _fmt(f["mu"]), _fmt(f["sigma"])
                )
            caption = (
                "μ*, μ, σ in outcome units per unit of normalised factor range"
                if entry["std"]
                else "indices undefined: the outcome is constant or missing"
            )
        table.caption = f"{caption}; {name} mean {_fmt(entry['mean'], 2)}, sd {_fmt(entry['std'], 2)}"
        table.caption_justify = "left"
        out.print(table)
        if result["method"] == "sobol" and entry.get("S2"):
            s2 = Table(title=f"{name} — second-order indices S2", title_justify="left")
            s2_columns: tuple[tuple[str, JustifyMethod], ...] = (
                ("factor a", "left"),
                ("factor b", "left"),
                ("S2", "right"),
                ("±", "right"),
            )
            for c, j in s2_columns:
                s2.add_column(c, justify=j)
            for p in entry["S2"]:
                s2.add_row(labels[p["a"]], labels[p["b"]], _fmt(p["S2"]), _fmt(p["S2_conf"]))
            out.print(s2)
    if "plot" in result:
        out.print(f"Chart: [bold]{result['plot']}[/]; store: {result['store']}", highlight=False, soft_wrap=True)


@app.command("discover")
def discover_cmd(
    spec: SpecArg,
    where: Annotated[
        str, typer.Option("--where", help="Runs of interest: '<outcome> <op> <number>', e.g. \"dragons >= 3\".")
    ],
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    dask_local: DaskLocalOpt = None,
    out_path: OutOpt = None,
    progress: ProgressOpt = True,
    as_json: JsonOpt = False,
    batch: BatchOpt = None,
    threshold: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Density a PRIM box must reach to count as found.")
    ] = 0.5,
    min_coverage: Annotated[
        float,
        typer.Option(min=0.0, max=1.0, help="Choose the densest box on the trajectory with at least this coverage."),
    ] = 0.5,
    boxes: Annotated[int, typer.Option(min=1, max=10, help="Most boxes to look for.")] = 3,
    plot: Annotated[bool, typer.Option("--plot/--no-plot", help="Write the PNG chart next to the store.")] = True,
) -> None:
    """Scenario discovery with PRIM: the boxes of factor space where the --where condition holds."""

    def check(resolved: ResolvedSpec) -> tuple[str, str, float]:
        try:
            check_available()
            return parse_where(where, resolved)
        except DiscoveryError as exc:
            fail(str(exc))
        raise AssertionError

    resolved, store_path, frame = _sweep_then(
        spec, out_path, workers, scheduler, dask_local, progress, as_json, batch, check
    )
    _analyse(
        lambda: discover(resolved, frame, where, threshold=threshold, min_coverage=min_coverage, max_boxes=boxes),
        DiscoveryError,
        store_path,
        plot and (lambda r: plot_discovery(r, store_path.parent / f"{resolved.name}.discover.png")),
        as_json,
        _print_discovery,
    )


def _print_discovery(result: dict[str, Any]) -> None:
    labels = short_labels(result["factors"])
    out.print(
        f"PRIM on {result['runs']} runs of {result['name']} ({result['sweep_id']}): {result['cases']} meet "
        f"[bold]{result['where']}[/] (base rate {result['base_rate']:.2f}); box density threshold "
        f"{result['threshold']:.2f}, chosen = densest box with coverage ≥ {result['min_coverage']:.2f}",
        highlight=False,
        soft_wrap=True,
    )
    for box in result["boxes"]:
        if not box["found"]:
            out.print(
                (
                    f"Box {box['box']}: none found — no box reaches density {result['threshold']:.2f} in the "
                    "remaining runs"
                ),
                highlight=False,
                soft_wrap=True,
            )
            continue
        traj = Table(
            title=f"Box {box['box']}: peeling trajectory ({len(box['trajectory'])} steps)", title_justify="left"
        )
        for c in ("step", "coverage", "density", "mass", "restricted"):
            traj.add_column(c, justify="right")
        steps = box["trajectory"]
        keep = set(range(0, len(steps), max(1, len(steps) // 12))) | {len(steps) - 1, box["chosen"]}
        for s in steps:
            if s["i"] in keep:
                mark = " ◀ chosen" if s["i"] == box["chosen"] else ""
                traj.add_row(
                    f"{s['i']}{mark}",
                    f"{s['coverage']:.3f}",
                    f"{s['density']:.3f}",
                    f"{s['mass']:.3f}",
                    str(s["res_dim"]),
                )
        out.print(traj)
        lim = Table(
            title=f"Box {box['box']} (step {box['chosen']}): coverage {box['coverage']:.3f}, density "
            f"{box['density']:.3f}, {box['n']} runs of which {box['k']} of interest",
            title_justify="left",
        )
        limit_columns: tuple[tuple[str, JustifyMethod], ...] = (
            ("factor", "left"),
            ("box lower", "right"),
            ("box upper", "right"),
            ("spec range", "right"),
            ("quasi-p", "right"),
        )
        for c, j in limit_columns:
            lim.add_column(c, justify=j)
        for r in sorted(box["limits"], key=lambda r: not r["restricted"]):
            if r["upper"] is None:
                row = [", ".join(r["lower"]), "", "{" + ", ".join(r["range"] or r["min"]) + "}"]
            else:
                lo0, hi0 = r["range"]
                row = [f"{r['lower']:.4g}", f"{r['upper']:.4g}", f"{lo0:.4g} – {hi0:.4g}"]
            qps = [q for q in (r["qp_lower"], r["qp_upper"]) if q is not None]
            name = labels[r["factor"]] if r["restricted"] else f"[dim]{labels[r['factor']]} (unrestricted)[/]"
            lim.add_row(name, *row, f"{min(qps):.2g}" if qps else "")
        lim.caption = "quasi-p: one-sided binomial test of the restriction; > 0.05 = weak evidence for that limit"
        lim.caption_justify = "left"
        out.print(lim)
    if "plot" in result:
        out.print(f"Chart: [bold]{result['plot']}[/]; store: {result['store']}", highlight=False, soft_wrap=True)
