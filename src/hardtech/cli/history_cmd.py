"""``hardtech history``: the model against the panel of real firms, target by target."""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path
from typing import Annotated

import numpy as np
import pyarrow as pa
import typer
from rich.table import Table

from hardtech.cli.app import app, fail, out
from hardtech.cli.evidence_cmd import (
    ScenarioOpt,
    SetOpt,
    WorkersOpt,
    _default_out,
    _evidence_id,
    _json,
    _meta,
    _num,
    _pool,
    _progress,
    _scenario,
)
from hardtech.cli.storing import check_out, store_runs


@app.command("history")
def history_cmd(
    scenario: ScenarioOpt = "hangzhou",
    set_: SetOpt = None,
    replications: Annotated[
        int, typer.Option("--replications", "-r", min=1, max=500, help="Seeds (replications).")
    ] = 4,
    workers: WorkersOpt = 1,
    out_path: Annotated[
        Path | None,
        typer.Option("--out", help="DuckDB file (default results/<name>-history.duckdb); report beside it."),
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print every target with the model's median and band as JSON.")
    ] = False,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")] = True,
) -> None:
    """Compare the model with the panel of real firms.

    Per pattern target: the observed value, the model's distribution over seeds and the share of
    seeds meeting it (held-out targets marked).
    """
    from hardtech.evidence.history import check_scenario, load_targets, run_history, write_history_report

    sc = _scenario(scenario, set_, workers=workers)
    try:
        check_scenario(sc, load_targets()[1])
    except ValueError as exc:
        fail(f"--scenario: {exc}")
    store_path = check_out(out_path or _default_out(sc.name, "history"))
    started, t0 = dt.datetime.now(dt.timezone.utc), time.perf_counter()
    with _pool(workers) as pool, _progress(replications, "history", progress and not as_json) as tick:
        result = run_history(sc, replications=replications, executor=pool, on_done=tick)
    wall = time.perf_counter() - t0
    evidence_id = _evidence_id("history", sc, str(replications))
    tables = {
        "history_targets": pa.Table.from_pandas(result.targets, preserve_index=False),
        "history_values": pa.Table.from_pandas(result.values, preserve_index=False),
        "history_timeline": pa.Table.from_pandas(result.timeline, preserve_index=False),
    }
    store_runs(store_path, [(evidence_id, _meta(sc, "history", started, wall, replications=replications), tables)])
    report = write_history_report(
        store_path.with_suffix(".html"),
        result,
        {
            "title": f"hardtech history — {sc.name}",
            "scenario": sc.name,
            "scale": sc.scale,
            "seed": sc.seed,
            "replications": replications,
            "wall seconds": round(wall, 1),
            "evidence id": evidence_id,
        },
    )
    rows = result.targets.to_dict("records")
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "targets": rows,
                    "replications": replications,
                    "store": str(store_path),
                    "report": str(report),
                    "wall_seconds": wall,
                },
                indent=2,
                default=_json,
            )
        )
        return
    table = Table(
        title=f"History of {sc.name}: {replications} seeds against the panel of real firms "
        "(held-out targets: 2020-2025, never fitted)",
        title_justify="left",
        show_lines=True,
    )
    for c in ("target", "split", "observed", "band", "model median [10%, 90%]", "seeds meeting"):
        table.add_column(c, justify="left" if c in ("target", "split") else "right")
    for r in rows:
        num = (lambda x: f"{x:.0f}" if np.isfinite(x) else "–") if r["kind"] == "founding_median" else _num
        split = "[bold]held out[/]" if r["held_out"] else "calibration"
        share = r["share_met"]
        colour = "green" if share >= 0.5 else "red"
        table.add_row(
            f"{r['id']} {r['name']}",
            split,
            num(r["observed"]),
            f"[{num(r['lo'])}, {num(r['hi'])}]",
            f"{num(r['model_median'])} [{num(r['model_p10'])}, {num(r['model_p90'])}]",
            f"[{colour}]{100 * share:.0f}%[/]" if np.isfinite(share) else "–",
        )
    out.print(table)
    out.print(f"stored in [bold]{store_path}[/]; report: [bold]{report}[/]", highlight=False)
