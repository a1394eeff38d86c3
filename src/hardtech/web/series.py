"""Per-step plot data shared by live streaming and stored runs.

A *step payload* is the compact record the page plots for one quarter:
region series (dragons, talent, investor capital, gap to frontier, births) as
lists in region order, field series (maturity, demand, adoption) in field
order. Live runs build it from the newest rows the model recorded; stored runs
replay it from the store's tables, so the page has one code path for both.
"""

from __future__ import annotations

import math
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
    for region, d, b, g in zip(step_rows.get("region", ()), step_rows.get("dragons", ()), step_rows.get("births", ()),
                               step_rows.get("gap_to_frontier", ()), strict=False):
        i = r_index.get(region)
        if i is None:
            continue
        dragons[i] += int(d or 0)
        births[i] += int(b or 0)
        if g is not None and math.isfinite(float(g)):
            gap_sum[i] += float(g)
            gap_n[i] += 1
    talent, capital = [None] * n_r, [None] * n_r
    for region, t, c in zip(region_rows.get("region", ()), region_rows.get("talent", ()),
                            region_rows.get("investor_capital", ()), strict=False):
        i = r_index.get(region)
        if i is not None:
            talent[i], capital[i] = num(t), num(c)
    maturity, demand, adoption = [None] * n_f, [None] * n_f, [None] * n_f
    for name, m, d, a in zip(field_rows.get("field", ()), field_rows.get("maturity", ()), field_rows.get("demand", ()),
                             field_rows.get("adoption", ()), strict=False):
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
