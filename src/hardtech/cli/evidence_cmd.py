"""``hardtech ensemble``, ``compare``, ``claims`` and ``validate``: the evidence commands."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import time
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

import hardtech
from hardtech.cli.app import app, err, fail, out
from hardtech.cli.storing import check_out, store_runs
from hardtech.provenance import model_version, platform_info
from hardtech.resources import ResourceError, check_memory
from hardtech.scenario import Scenario, ScenarioError, load, to_toml

QUICK = {"scale": 0.002}
ScenarioOpt = Annotated[str, typer.Option("--scenario", help="Preset name or TOML path.")]
SetOpt = Annotated[list[str] | None, typer.Option("--set", "-s", help="Override a field: KEY=VALUE (repeatable).")]
WorkersOpt = Annotated[int, typer.Option(min=1, max=64, help="Local worker processes.")]
KEY_OUTCOMES = (
    "dragons",
    "births",
    "survival",
    "net_inflow",
    "invested",
    "returned",
    "gap_end",
    "concentration_change",
)


def _scenario(source: str | Scenario, sets: list[str] | None, quick: bool = False, workers: int = 1) -> Scenario:
    """The scenario, checked; and refused if ``workers`` runs of it at once would not fit in memory."""
    try:
        sc = load(source, sets or [])
        sc = load(sc, QUICK) if quick else sc
    except ScenarioError as exc:
        fail(str(exc))
        raise  # unreachable
    try:
        check_memory(sc, processes=workers)
    except ResourceError as exc:
        fail(str(exc))
    return sc


@contextmanager
def _pool(workers: int):
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            yield pool
    else:
        yield None


@contextmanager
def _progress(total: int, label: str, show: bool):
    if not show:
        yield lambda: None
        return
    cols = (TextColumn(f"[bold]{label}"), BarColumn(), MofNCompleteColumn(), TextColumn("runs"), TimeElapsedColumn())
    with Progress(*cols, console=err, transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda: bar.advance(task)


def _default_out(name: str, kind: str) -> Path:
    return Path("results") / f"{name}-{kind}.duckdb"


def _evidence_id(kind: str, sc: Scenario, extra: str) -> str:
    return f"{kind}-{sc.name}-" + hashlib.sha256((to_toml(sc) + extra).encode()).hexdigest()[:12]


def _meta(sc: Scenario, kind: str, started: dt.datetime, wall: float, **extra) -> dict:
    return {
        "scenario_name": sc.name,
        "scenario_toml": to_toml(sc),
        "seed": sc.seed,
        "replication": -1,
        "scale": sc.scale,
        "steps": sc.steps,
        "package_version": hardtech.__version__,
        "git_commit": "",
        "model_version": model_version(),
        "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 3),
        "kind": kind,
        "platform": platform_info(),
        **extra,
    }


def _check_file_out(path: Path) -> None:
    """A plain output file (not a store): not a directory, under a writable directory, itself writable."""
    import os

    if path.is_dir():
        fail(f"--out: {str(path)!r} is a directory; give a file path")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        fail(f"--out: {str(path)!r}: {parent} is a file, not a directory")
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK) or not target.stat().st_mode & 0o222:
        fail(f"--out: {str(target)!r} is read-only")


# -- ensemble and compare -----------------------------------------------------------------------
@app.command("ensemble")
def ensemble_cmd(
    scenario: Annotated[str, typer.Argument(help="Preset name or TOML path.")] = "hangzhou",
    replications: Annotated[
        int,
        typer.Option(
            "--replications", "-r", min=2, max=1000, help="Replications of the seed (independent random streams)."
        ),
    ] = 10,
    set_: SetOpt = None,
    workers: WorkersOpt = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print every outcome's mean and interval as JSON.")] = False,
    all_outcomes: Annotated[bool, typer.Option("--all", help="Show every outcome, not only the key ones.")] = False,
) -> None:
    """Run R replications and print every outcome's mean and 95% interval."""
    from hardtech.evidence.ensembles import replicate, summarise_outcomes

    sc = _scenario(scenario, set_, workers=workers)
    with _pool(workers) as pool:
        rows = replicate(sc, replications=replications, executor=pool)
    summary = summarise_outcomes(rows)
    if not all_outcomes:
        summary = summary.loc[[k for k in summary.index if k.split("_")[0] in KEY_OUTCOMES or k in KEY_OUTCOMES]]
    if as_json:
        typer.echo(summary.reset_index().to_json(orient="records", indent=2))
        return
    table = Table(title=f"{sc.name}: {replications} replications, mean and 95% interval", title_justify="left")
    for c in ("outcome", "mean", "95% interval"):
        table.add_column(c, justify="left" if c == "outcome" else "right")
    for name, r in summary.iterrows():
        table.add_row(name, f"{r['mean']:,.3f}", f"[{r['lo']:,.3f}, {r['hi']:,.3f}]")
    out.print(table)


@app.command("compare")
def compare_cmd(
    scenario: Annotated[str, typer.Argument(help="Preset name or TOML path (arm A).")] = "hangzhou",
    b: Annotated[list[str] | None, typer.Option("--b", help="Override for arm B: KEY=VALUE (repeatable).")] = None,
    set_: SetOpt = None,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Outcome to compare (repeatable).")] = None,
    replications: Annotated[
        int,
        typer.Option(
            "--replications", "-r", min=2, max=1000, help="Paired replications: arm A and arm B share each one's seed."
        ),
    ] = 10,
    workers: WorkersOpt = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print the paired differences as JSON.")] = False,
) -> None:
    """Compare arm B (A plus --b overrides) with arm A: paired differences with bootstrap intervals."""
    from hardtech.analysis.outcomes import outcome_names
    from hardtech.evidence.ensembles import paired_difference, replicate

    sc_a = _scenario(scenario, set_, workers=workers)
    if not b:
        fail("--b: give at least one KEY=VALUE override for arm B")
    sc_b = _scenario(sc_a, b, workers=workers) if isinstance(sc_a, Scenario) else None
    names = metric or ["dragons", f"dragons_{next(iter(sc_a.regions))}", "births", "survival"]
    allowed = outcome_names(list(sc_a.regions))
    for m in names:
        if m not in allowed:
            fail(f"--metric: unknown outcome {m!r}; allowed: {', '.join(allowed[:12])}, … (see docs)")
    with _pool(workers) as pool:
        rows_a = replicate(sc_a, replications=replications, executor=pool)
        rows_b = replicate(sc_b, replications=replications, executor=pool)
    result: list[dict[str, Any]] = []
    for m in names:
        diff, lo, hi = paired_difference(rows_a[m].to_numpy(), rows_b[m].to_numpy())
        result.append(
            {
                "metric": m,
                "a": float(rows_a[m].mean()),
                "b": float(rows_b[m].mean()),
                "b_minus_a": diff,
                "lo": lo,
                "hi": hi,
                "significant": bool(lo > 0 or hi < 0),
            }
        )
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table(title=f"B − A over {replications} paired replications (bootstrap 95% interval)", title_justify="left")
    for c in ("metric", "A", "B", "B − A", "95% interval"):
        table.add_column(c, justify="left" if c == "metric" else "right")
    for r in result:
        table.add_row(
            r["metric"],
            f"{r['a']:,.3f}",
            f"{r['b']:,.3f}",
            f"{r['b_minus_a']:,.3f}",
            f"[{r['lo']:,.3f}, {r['hi']:,.3f}]",
        )
    out.print(table)


# -- claims -------------------------------------------------------------------------------------
@app.command("claims")
def claims_cmd(
    scenario: ScenarioOpt = "hangzhou",
    set_: SetOpt = None,
    region: Annotated[str | None, typer.Option(help="Focal region (default: the scenario's first).")] = None,
    quick: Annotated[
        bool,
        typer.Option(
            "--quick", help="Screening: scale 0.002, 3 replications, 8 Sobol samples; prints signals, never verdicts."
        ),
    ] = False,
    replications: Annotated[
        int | None,
        typer.Option(
            "--replications",
            "-r",
            min=2,
            max=500,
            help=("Paired replications per arm (default 20; fewer than 20 is screening)."),
        ),
    ] = None,
    only: Annotated[str | None, typer.Option(help="Comma-separated claim ids, e.g. H1,H2,H10.")] = None,
    sobol_samples: Annotated[int | None, typer.Option(min=2, max=4096, help="Sobol base samples for H10.")] = None,
    workers: WorkersOpt = 2,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="DuckDB file (default results/<name>-claims.duckdb); report beside it.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print every claim's full record as JSON.")] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
    posterior: Annotated[
        Path | None,
        typer.Option(
            "--posterior",
            help=(
                "A posterior stored by `hardtech calibrate` (its .duckdb): each replication runs at its own posterior "
                "draw (the same in every arm), so the intervals include parameter uncertainty."
            ),
        ),
    ] = None,
) -> None:
    """Run the article's claims H1–H11 as declared experiments (docs/ODD.md §8) and report what they give."""
    from hardtech.evidence.claims import VERDICT_REPLICATIONS, build_claims, run_claim
    from hardtech.evidence.interactions import lever_sobol, sobol_row
    from hardtech.evidence.report import write_evidence_report

    sc = _scenario(scenario, set_, quick, workers=workers)
    reps = replications or (3 if quick else VERDICT_REPLICATIONS)
    samples = sobol_samples or (8 if quick else 64)
    try:
        claims = build_claims(sc, region)
    except ValueError as exc:
        fail(str(exc))
    known = [c.id for c in claims]
    wanted = [x.strip() for x in only.split(",")] if only else known
    for w in wanted:
        if w not in known:
            fail(f"--only: unknown claim {w!r}; allowed: {', '.join(known)}")
    store_path = check_out(out_path or _default_out(sc.name, "claims"))
    screening = quick or reps < VERDICT_REPLICATIONS
    draws = None
    if posterior is not None:
        from hardtech.evidence.claims import posterior_draws

        if not posterior.is_file():
            fail(f"--posterior: {posterior}: no such file (give the .duckdb that hardtech calibrate wrote)")
        try:
            most = reps * max(c.replication_factor for c in claims)
            draws = posterior_draws(posterior, most, seed=sc.seed)
            for d in draws[:1]:
                load(sc, d)
        except (OSError, ValueError, ScenarioError) as exc:
            fail(f"--posterior: {posterior}: {exc}")
        except Exception as exc:  # duckdb.Error: not a DuckDB file, or no posterior table
            fail(f"--posterior: {posterior} holds no posterior stored by hardtech calibrate ({type(exc).__name__})")
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    rows, sobol = [], None
    with _pool(workers) as pool, _progress(0, "claims", progress and not as_json) as tick:
        for claim in claims:
            if claim.id not in wanted:
                continue
            if claim.kind == "sobol":
                sobol = lever_sobol(sc, region, base_samples=samples, seed=sc.seed, executor=pool, on_done=tick)
                rows.append(sobol_row(claim, sobol, screening))
            else:
                rows.append(
                    run_claim(claim, sc, reps, executor=pool, on_done=tick, screening=screening, draws=draws).row()
                )
    wall = time.perf_counter() - t0
    evidence_id = _evidence_id("claims", sc, f"{region}|{reps}|{samples}|{','.join(wanted)}|{posterior}")
    tables = (
        {"claims": pa.Table.from_pandas(pd.DataFrame([_flat(r) for r in rows]), preserve_index=False)} if rows else {}
    )
    if sobol:
        tables["sobol"] = pa.table({k: sobol[k] for k in ("names", "S1", "S1_conf", "ST", "ST_conf")})
    store_runs(
        store_path,
        [
            (
                evidence_id,
                _meta(
                    sc,
                    "claims",
                    started,
                    wall,
                    replications=reps,
                    screening=screening,
                    sobol=sobol and {k: sobol[k] for k in ("sum_S1", "sum_S1_lo", "sum_S1_hi", "verdict", "runs")},
                ),
                tables,
            )
        ],
    )
    report = store_path.with_suffix(".html")
    title = f"hardtech claims — {sc.name}" + (" (screening)" if screening else "")
    write_evidence_report(
        report,
        title=title,
        claims=rows,
        sobol=sobol,
        facts=None,
        run=None,
        meta={
            "scenario": sc.name,
            "scale": sc.scale,
            "replications": reps,
            "workers": workers,
            "screening": screening,
            "wall seconds": round(wall, 1),
            "evidence id": evidence_id,
        },
    )
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "claims": rows,
                    "sobol": sobol,
                    "screening": screening,
                    "replications": reps,
                    "store": str(store_path),
                    "report": str(report),
                    "wall_seconds": wall,
                },
                indent=2,
                default=_json,
            )
        )
        return
    _print_claims(rows, sobol, reps, screening, sc.scale)
    out.print(
        f"{len(rows)} claims in {wall:.0f} s; stored in [bold]{store_path}[/]; report: [bold]{report}[/]",
        highlight=False,
    )


def _flat(row: dict) -> dict:
    """A claim row for the store: nested parts (arm means, side figures, checks, history) as JSON text."""
    flat = {
        k: (json.dumps(v, default=_json) if isinstance(v, (dict, list)) else v)
        for k, v in row.items()
        if not k.startswith(("mean_", "also_"))
    }
    return flat | {
        "arm_means": json.dumps({k: v for k, v in row.items() if k.startswith("mean_")}, default=_json),
        "also": json.dumps(
            {k.removeprefix("also_"): v for k, v in row.items() if k.startswith("also_")}, default=_json
        ),
    }


def _json(value):
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    return str(value)


def _num(x: float) -> str:
    """A number in at most about four significant digits, never in scientific notation."""
    if x is None or not np.isfinite(x):
        return "–"
    size = abs(x)
    digits = 0 if size >= 1000 else 1 if size >= 100 else 2 if size >= 1 else 3 if size >= 0.01 or size == 0 else 4
    return f"{x:,.{digits}f}"


SIGNAL = {"supported": "+", "not supported": "−", "inconclusive": "?"}


def _verdict_cell(row: dict, key: str = "verdict", signal_key: str = "signal") -> str:
    colour = {"supported": "green", "not supported": "red", "inconclusive": "yellow"}
    value = row.get(signal_key) if row.get(key) == "screening" else row.get(key)
    if value is None:
        return ""
    if row.get(key) == "screening":
        return f"[{colour[value]}]screening {SIGNAL[value]}[/]"
    return f"[{colour[value]}]{value}[/]"


def _checks(row: dict) -> str:
    """The validity checks of a claim's design in a few words."""
    notes = []
    if row.get("identical_arms") or row.get("control_identical_arms"):
        notes.append("[red]identical arms: not a test[/]")
    if not row.get("manipulation_active"):
        notes.append("[red]manipulation inactive under the control[/]")
    return "; ".join(notes) or "ok"


def _print_claims(rows: list[dict], sobol: dict | None, reps: int, screening: bool, scale: float) -> None:
    head = (
        f"Claims — SCREENING ({reps} paired replications, scale {scale:g}): signals, not verdicts"
        if screening
        else f"Claims ({reps} paired replications, scale {scale:g}; k× as many where marked ×k)"
    )
    table = Table(title=head + "; 95% bootstrap intervals", title_justify="left", show_lines=True)
    for c in ("claim", "effect [95% CI]", "verdict", "mechanism off", "without added rules", "checks"):
        table.add_column(
            c,
            justify="right" if c in ("effect [95% CI]", "mechanism off") else "left",
            no_wrap=c not in ("claim", "checks"),
            max_width=26 if c == "claim" else None,
        )
    for r in rows:
        more = f" (×{r['replications'] // reps})" if r.get("replications", reps) != reps else ""
        effect = f"{_num(r['effect'])}\n[{_num(r['lo'])}, {_num(r['hi'])}]"
        if r.get("kind") == "sobol":
            table.add_row(f"{r['claim']} {r['short']}", effect, _verdict_cell(r), "(none)", "", _checks(r))
            continue
        control = f"{_num(r['control_effect'])}\n[{_num(r['control_lo'])}, {_num(r['control_hi'])}]\n" + (
            "gone" if r["control_gone"] else "[yellow]stays[/]"
        )
        abl = r.get("ablation") or {}
        ablation = (
            f"{_num(abl['effect'])}\n[{_num(abl['lo'])}, {_num(abl['hi'])}]\n" + _verdict_cell(abl)
            if "effect" in abl
            else "none active"
        )
        table.add_row(f"{r['claim']} {r['short']}{more}", effect, _verdict_cell(r), control, ablation, _checks(r))
    out.print(table)
    design = Table(
        title="Design: equivalence margin, smallest detectable effect (80% power), manipulation check "
        "under the control",
        title_justify="left",
    )
    for c in ("claim", "margin", "MDE", "manipulated input still moves (control arms)"):
        design.add_column(c, justify="right" if c in ("margin", "MDE") else "left")
    for r in rows:
        man = r.get("manipulation") or {}
        moved = (
            f"{man['text']}: {man['compared']} {_num(man['effect'])} [{_num(man['lo'])}, {_num(man['hi'])}]"
            if man
            else ""
        )
        design.add_row(r["claim"], _num(r.get("margin", float("nan"))), _num(r.get("mde", float("nan"))), moved)
    out.print(design)
    sweeps = [(r["claim"], s) for r in rows for s in r.get("sweeps", [])]
    if sweeps:
        t = Table(title="Sweep rows: the claim under other values of a disputed rule", title_justify="left")
        for c in ("claim", "rows", "effect [95% CI]", "verdict"):
            t.add_column(c)
        for cid, s in sweeps:
            t.add_row(cid, s["label"], f"{_num(s['effect'])} [{_num(s['lo'])}, {_num(s['hi'])}]", _verdict_cell(s))
        out.print(t)
    for r in rows:
        years = (r.get("tables") or {}).get("scene_years")
        if years:
            t = Table(
                title=f"{r['claim']}: years from founding to the first scene defined, by region "
                "(firms founded in the run; first arm, all replications)",
                title_justify="left",
            )
            for c in ("region", "firms", "25%", "median", "75%"):
                t.add_column(c, justify="left" if c == "region" else "right")
            for y in years:
                t.add_row(y["region"], str(y["firms"]), _num(y["p25"]), _num(y["median"]), _num(y["p75"]))
            out.print(t)
    if sobol:
        s = Table(title=f"H10 Sobol indices of {sobol['outcome']} ({sobol['runs']} runs)", title_justify="left")
        for c in ("lever", "S1", "±", "ST", "±"):
            s.add_column(c, justify="left" if c == "lever" else "right")
        for n, s1, c1, st, ct in zip(
            sobol["names"], sobol["S1"], sobol["S1_conf"], sobol["ST"], sobol["ST_conf"], strict=True
        ):
            s.add_row(n, f"{s1:.3f}", f"{c1:.3f}", f"{st:.3f}", f"{ct:.3f}")
        out.print(s)


# -- validate -------------------------------------------------------------------------------------
@app.command("validate")
def validate_cmd(
    scenario: ScenarioOpt = "hangzhou",
    set_: SetOpt = None,
    replications: Annotated[
        int, typer.Option("--replications", "-r", min=1, max=200, help="Replications each measurement is taken over.")
    ] = 3,
    quick: Annotated[bool, typer.Option("--quick", help="Small scale (0.002).")] = False,
    workers: WorkersOpt = 2,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="DuckDB file (default results/<name>-validate.duckdb); report beside it."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every measurement with its interval and band as JSON.")
    ] = False,
) -> None:
    """Untargeted measurements only, out of sample, each next to its null-model or sourced band.

    The stylized facts no calibration target uses and the history's held-out targets.
    """
    from hardtech.evidence.facts import validate
    from hardtech.evidence.history import check_scenario
    from hardtech.evidence.report import write_evidence_report

    sc = _scenario(scenario, set_, quick, workers=workers)
    try:
        check_scenario(sc)
    except ValueError as exc:
        fail(f"--scenario: {exc}")
    store_path = check_out(out_path or _default_out(sc.name, "validate"))
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    with _pool(workers) as pool:
        facts = validate(sc, replications=replications, executor=pool)
    wall = time.perf_counter() - t0
    evidence_id = _evidence_id("validate", sc, str(replications))
    store_runs(
        store_path,
        [
            (
                evidence_id,
                _meta(sc, "validate", started, wall, replications=replications),
                {"facts": pa.Table.from_pandas(facts.replace([np.inf, -np.inf], np.nan), preserve_index=False)},
            )
        ],
    )
    report = store_path.with_suffix(".html")
    write_evidence_report(
        report,
        title=f"hardtech validate — {sc.name}",
        claims=None,
        sobol=None,
        facts=facts,
        run=hardtech.run(sc),
        meta={"scenario": sc.name, "scale": sc.scale, "replications": replications, "evidence id": evidence_id},
    )
    passed = int(facts["pass"].sum())
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "facts": facts.to_dict("records"),
                    "passed": passed,
                    "total": len(facts),
                    "store": str(store_path),
                    "report": str(report),
                },
                indent=2,
                default=_json,
            )
        )
        return
    table = Table(
        title=f"Untargeted measurements ({replications} replications): {passed} of {len(facts)} in band "
        "(none of them is a calibration target)",
        title_justify="left",
        show_lines=True,
    )
    for c in ("measurement", "model [95% CI]", "empirical", "band", "pass", "seeds in band", "source"):
        table.add_column(
            c,
            justify="right" if c in ("model [95% CI]", "seeds in band") else "left",
            no_wrap=c in ("model [95% CI]", "band", "pass"),
            ratio=None if c in ("band", "pass") else 1,
        )
    for _, f in facts.iterrows():
        hi = "∞" if not np.isfinite(f.band_hi) else f"{f.band_hi:g}"
        num = (lambda x: f"{x:.1f}" if np.isfinite(x) else "–") if f.band_lo > 1900 else _num  # a year
        table.add_row(
            f"{f.fact} {f['name']}",
            f"{num(f.model)}\n[{num(f.model_lo)}, {num(f.model_hi)}]",
            str(f.empirical),
            f"[{f.band_lo:g}, {hi}]",
            "[green]✓[/]" if f["pass"] else "[red]✗[/]",
            f"{100 * f.share_met:.0f}%",
            f.source,
        )
    out.print(table)
    out.print(f"stored in [bold]{store_path}[/]; report: [bold]{report}[/]", highlight=False)


# -- calibrate -----------------------------------------------------------------------------------
@app.command("calibrate")
def calibrate_cmd(
    scenario: ScenarioOpt = "hangzhou",
    set_: SetOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option(
            "--param",
            help=(
                "PATH=LOW:HIGH (uniform prior) or PATH=log:LOW:HIGH (log-uniform), repeatable; default: "
                "the five parameters of docs/calibration.md."
            ),
        ),
    ] = None,
    population: Annotated[int, typer.Option(min=4, max=10000, help="Particles per ABC-SMC generation.")] = 100,
    generations: Annotated[int, typer.Option(min=1, max=50, help="Most ABC-SMC generations.")] = 8,
    min_epsilon: Annotated[
        float, typer.Option(min=0.0, help="Stop once the tolerance (RMS distance in band half-widths) reaches this.")
    ] = 0.0,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Small scale (0.002) and runs to 2025 while fitting (the targets end by then)."),
    ] = False,
    seed: Annotated[
        int, typer.Option(min=0, help="Seed of the calibration (particles' runs derive their seeds from it).")
    ] = 0,
    workers: WorkersOpt = 2,
    out_path: Annotated[
        Path,
        typer.Option(
            "--out", help="Where to write the calibrated scenario TOML (the posterior goes to a DuckDB file beside it)."
        ),
    ] = Path("results/calibrated.toml"),
    as_json: Annotated[bool, typer.Option("--json", help="Print the posterior summary as JSON.")] = False,
) -> None:
    """Bayesian calibration (ABC-SMC, pyabc) to the calibration targets only; stores the posterior."""
    import importlib.util

    from hardtech.evidence.abc import DEFAULT_PRIORS, abc_calibrate, calibration_targets, parse_priors

    if importlib.util.find_spec("pyabc") is None:
        fail("calibrate needs pyabc: pip install 'hardtech[calibration]'")

    sc = _scenario(scenario, set_, quick, workers=workers)
    if quick:
        sc = load(sc, {"time.end_year": max(sc.time.start_year, 2025)})
    if out_path.suffix != ".toml":
        fail(f"--out: {str(out_path)!r} must end in .toml")
    _check_file_out(out_path)
    check_out(out_path.with_suffix(".duckdb"), option="--out (its posterior store)")
    try:
        priors = parse_priors(param) if param else DEFAULT_PRIORS
        for p in priors:
            load(sc, {p.path: p.lo})
            load(sc, {p.path: p.hi})
        from hardtech.evidence.history import check_scenario

        check_scenario(sc)
    except (ValueError, ScenarioError) as exc:
        fail(str(exc))
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()

    def show(gen: dict) -> None:
        err.print(
            f"  generation {gen['t']}: tolerance {gen['epsilon']:.3f}, {gen['samples']} runs, "
            f"acceptance {gen['acceptance']:.2f}",
            highlight=False,
        )

    with _pool(workers) as pool:
        post = abc_calibrate(
            sc,
            priors,
            population=population,
            generations=generations,
            min_epsilon=min_epsilon,
            seed=seed,
            executor=pool,
            on_generation=None if as_json else show,
        )
    wall = time.perf_counter() - t0
    summary = post.summary()
    store_path = out_path.with_suffix(".duckdb")
    evidence_id = _evidence_id("calibrate", sc, f"{seed}|{population}|{generations}|{param}")
    targets = calibration_targets()
    store_runs(
        store_path,
        [
            (
                evidence_id,
                _meta(
                    sc,
                    "calibrate",
                    started,
                    wall,
                    method="ABC-SMC (pyabc)",
                    simulations=post.simulations,
                    calibration_seed=seed,
                    observed=post.observed,
                    target_scale=post.scale,
                ),
                {
                    "posterior": pa.Table.from_pandas(post.particles, preserve_index=False),
                    "posterior_summary": pa.Table.from_pandas(summary, preserve_index=False),
                    "abc_generations": pa.Table.from_pandas(post.generations, preserve_index=False),
                },
            )
        ],
    )
    best = post.best()
    calibrated = load(sc, best)
    header = (
        f"# calibrated by hardtech calibrate (ABC-SMC, pyabc; seed {seed}, {population} particles, "
        f"{len(post.generations)} generations, {post.simulations} runs, {dt.date.today().isoformat()}):\n"
        f"# targets (calibration only): {', '.join(f'{k} = {v:g}' for k, v in post.observed.items())}\n"
        f"# posterior medians: {', '.join(f'{k} = {v:.6g}' for k, v in best.items())}\n"
        f"# posterior in {store_path} (tables posterior, posterior_summary, abc_generations)\n"
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(header + to_toml(calibrated), encoding="utf-8")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "summary": summary.to_dict("records"),
                    "generations": post.generations.to_dict("records"),
                    "simulations": post.simulations,
                    "observed": post.observed,
                    "targets": {k: {"observed": v[0], "scale": v[1]} for k, v in targets.items()},
                    "store": str(store_path),
                    "scenario": str(out_path),
                    "wall_seconds": wall,
                },
                indent=2,
                default=_json,
            )
        )
        return
    table = Table(
        title=f"Posterior (ABC-SMC): {population} particles × {len(post.generations)} generations, "
        f"{post.simulations} runs in {wall:.0f} s; calibration targets only",
        title_justify="left",
    )
    for c in ("parameter", "prior", "median", "90% interval", "sd / prior sd"):
        table.add_column(c, justify="left" if c in ("parameter", "prior") else "right")
    for r in summary.to_dict("records"):
        table.add_row(
            r["parameter"],
            r["prior"],
            f"{r['median']:.4g}",
            f"[{r['q05']:.4g}, {r['q95']:.4g}]",
            f"{r['sd_over_prior_sd']:.2f}",
        )
    out.print(table)
    out.print(
        f"posterior stored in [bold]{store_path}[/]; calibrated scenario (posterior medians) written to "
        f"[bold]{out_path}[/]",
        highlight=False,
    )
