"""Per-step plot data shared by live streaming and stored runs.

A *step payload* is the compact record the page plots for one quarter:
region series (dragons, talent, investor capital, gap to frontier, births) as
lists in region order, field series (maturity, demand, adoption) in field
order. Live runs build it from the newest rows the model recorded; stored runs
replay it from the store's tables, so the page has one code path for both.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

DRAGON_COLUMNS = ("firm_id", "region", "field", "founded_quarter", "dragon_quarter", "valuation_musd")


def num(value: Any, digits: int = 6) -> float | None:
    """A JSON-safe float (None for NaN/inf), to ``digits`` significant digits."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return float(f"{x:.{digits}g}")


def jsonable(obj: Any) -> Any:
    """Recursively turn NumPy/pandas values into plain JSON-safe Python (NaN → None)."""
    if isinstance(obj, Mapping):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else None
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    if hasattr(obj, "tolist"):
        return jsonable(obj.tolist())
    return str(obj)


def step_payload(
    step_rows: Mapping[str, Sequence[Any]],
    region_rows: Mapping[str, Sequence[Any]],
    field_rows: Mapping[str, Sequence[Any]],
    regions: Sequence[str],
    fields: Sequence[str],
) -> dict[str, Any]:
    """The plot record of one step from that step's rows of the three metric tables (column → values)."""
    r_index = {r: i for i, r in enumerate(regions)}
    f_index = {f: i for i, f in enumerate(fields)}
    n_r, n_f = len(regions), len(fields)
    dragons, births = [0] * n_r, [0] * n_r
    gap_sum, gap_n = [0.0] * n_r, [0] * n_r
    for region, d, b, g in zip(
        step_rows.get("region", ()),
        step_rows.get("dragons", ()),
        step_rows.get("births", ()),
        step_rows.get("gap_to_frontier", ()),
        strict=False,
    ):
        i = r_index.get(region)
        if i is None:
            continue
        dragons[i] += int(d or 0)
        births[i] += int(b or 0)
        if g is not None and math.isfinite(float(g)):
            gap_sum[i] += float(g)
            gap_n[i] += 1
    talent: list[float | None] = [None] * n_r
    capital: list[float | None] = [None] * n_r
    for region, t, c in zip(
        region_rows.get("region", ()),
        region_rows.get("talent", ()),
        region_rows.get("investor_capital", ()),
        strict=False,
    ):
        i = r_index.get(region)
        if i is not None:
            talent[i], capital[i] = num(t), num(c)
    maturity: list[float | None] = [None] * n_f
    demand: list[float | None] = [None] * n_f
    adoption: list[float | None] = [None] * n_f
    for name, m, d, a in zip(
        field_rows.get("field", ()),
        field_rows.get("maturity", ()),
        field_rows.get("demand", ()),
        field_rows.get("adoption", ()),
        strict=False,
    ):
        i = f_index.get(name)
        if i is not None:
            maturity[i], demand[i], adoption[i] = num(m, 4), num(d), num(a, 4)
    first = next(iter(step_rows.get("step", ())), None)
    if first is None:
        first = next(iter(region_rows.get("step", ())), next(iter(field_rows.get("step", ())), 0))
    quarter = next(iter(step_rows.get("quarter", ())), next(iter(region_rows.get("quarter", ())), ""))
    return {
        "step": int(first),
        "quarter": str(quarter),
        "dragons": dragons,
        "births": births,
        "talent": talent,
        "capital": capital,
        "gap": [num(gap_sum[i] / gap_n[i], 4) if gap_n[i] else None for i in range(n_r)],
        "maturity": maturity,
        "demand": demand,
        "adoption": adoption,
    }


def payloads(sm: Any, rm: Any, fm: Any, regions: Sequence[str], fields: Sequence[str]) -> list[dict[str, Any]]:
    """Step payloads of a whole run from its step, region and field metric tables (pandas), in step order."""
    by_step = {
        name: dict(tuple(f.groupby("step", sort=True))) if "step" in f else {}
        for name, f in (("sm", sm), ("rm", rm), ("fm", fm))
    }
    out = []
    for s in sorted(set(by_step["sm"]) | set(by_step["rm"]) | set(by_step["fm"])):
        parts = [by_step[k].get(s) for k in ("sm", "rm", "fm")]
        cols = [p.to_dict("list") if p is not None else {} for p in parts]
        out.append(step_payload(cols[0], cols[1], cols[2], regions, fields))
    return out


BAND_METRICS = ("dragons", "talent", "capital", "gap", "births", "maturity", "demand")
WORLD_TOTALS = ("dragons", "talent", "capital", "births")  # metrics that also get a world series (the sum)


def bands(
    runs: Sequence[Sequence[Mapping[str, Any]]], metrics: Sequence[str] = BAND_METRICS, level: float = 0.95
) -> dict[str, Any]:
    """Mean and the central ``level`` band over replications of every plotted series, step by step.

    ``runs`` holds each replication's step payloads (:func:`payloads`); the
    band is the (1 − level)/2 and (1 + level)/2 percentiles of the
    replications. Metrics in :data:`WORLD_TOTALS` get one more series, the
    world total, computed per replication before averaging. Steps all
    replications have are kept.
    """
    n_steps = min(len(r) for r in runs) if runs else 0
    out: dict[str, Any] = {
        "replications": len(runs),
        "level": level,
        "quarters": [runs[0][i]["quarter"] for i in range(n_steps)] if runs else [],
    }
    q = [100 * (1 - level) / 2, 100 * (1 + level) / 2]
    for m in metrics:
        cube = np.array(
            [[[np.nan if v is None else float(v) for v in run[i][m]] for i in range(n_steps)] for run in runs],
            dtype=float,
        )  # (replications, steps, series)
        if m in WORLD_TOTALS and cube.size:
            cube = np.concatenate([cube, np.nansum(cube, axis=2, keepdims=True)], axis=2)
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices (e.g. gap before any firm) stay NaN
            mean = np.nanmean(cube, axis=0)
            lo, hi = np.nanpercentile(cube, q, axis=0) if cube.size else (mean, mean)
        out[m] = {k: [[num(x, 5) for x in row] for row in arr] for k, arr in (("mean", mean), ("lo", lo), ("hi", hi))}
    return out


def dragon_rows(table: Any, start: int = 0) -> list[dict[str, Any]]:
    """Rows of a dragons table (Arrow or pandas) from ``start`` on, with the columns the page shows."""
    if hasattr(table, "to_pydict"):
        cols = table.slice(start).to_pydict()
    else:
        cols = {c: table[c].tolist()[start:] for c in table.columns}
    n = len(next(iter(cols.values()), []))
    rows = []
    for i in range(n):
        row = {c: cols[c][i] for c in DRAGON_COLUMNS if c in cols}
        if "valuation_musd" in row:
            row["valuation_musd"] = num(row["valuation_musd"], 5)
        rows.append(jsonable(row))
    return rows
