"""Scalar outcomes of one run, by name — what sweeps, claims and the dashboard compare.

:func:`outcomes` turns a run's tables into a flat ``{name: float}`` mapping.
Names are ``<metric>`` for world totals and ``<metric>_<region>`` per region
(region names as in the scenario). :data:`OUTCOME_DOCS` says what each metric
means; :func:`outcome_names` lists the names a scenario yields.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

OUTCOME_DOCS: dict[str, str] = {
    "dragons": "firms that became dragons during the run (count)",
    "births": "firms founded during the run (count)",
    "deaths": "firms that failed during the run (count)",
    "failure_rate": "deaths / births",
    "exits": "exits (IPOs and trade sales) during the run (count)",
    "scenes": "new niches (scenes) defined during the run (count)",
    "firms_end": "firms alive at the end (count)",
    "talent_end": "tech talent at the end (persons)",
    "net_inflow": "mean net talent inflow per year over the run, % of the talent stock",
    "investor_capital_end": "investor pool at the end (million USD)",
    "invested": "money invested in rounds during the run (million USD)",
    "returned": "exit proceeds returned to investors during the run (million USD)",
    "revenue": "revenue of the modelled firms over the run (million USD)",
    "gap_end": "log-capability gap of the best firm to the world frontier at the end, mean over fields",
    "concentration_end": "Herfindahl index of headcount across regions at the end, mean over fields (0–1)",
    "concentration_change": "concentration_end minus the same index at the start",
    "talent_concentration_change": "change over the run of the Herfindahl index of tech talent across regions, "
                                   "mean over fields (positive: talent gathers in fewer regions)",
    "small_share_niche": "share of niche revenue earned by small firms (startups and the firms they grow into, not incumbents), whole run",
    "small_share_platform": "share of platform revenue earned by small firms, whole run",
    "division_of_roles": "small firms' market share in niches minus their market share in platforms (shares of what "
                         "customers spend, within each field, whole run; fields weighted by spending; −1 to 1)",
    "experiments": "experiments (prototypes, pivots) run by young firms over the run (count)",
    "experiments_per_musd": "experiments per million USD invested in rounds",
    "niche_dragons": "dragons that were selling in a niche when they became dragons (count)",
    "survival": "1 − deaths / births: share of founded firms that did not fail",
}
REGIONAL = ("dragons", "births", "deaths", "exits", "scenes", "firms_end", "talent_end", "net_inflow",
            "investor_capital_end", "invested", "returned", "revenue", "gap_end", "experiments",
            "experiments_per_musd", "survival", "niche_dragons")
RATIOS = {"experiments_per_musd": ("experiments", "invested"), "survival": ("deaths", "births")}


def _hhi(rows: pd.DataFrame, column: str = "headcount") -> float:
    """Mean over fields of the Herfindahl index of ``column`` across regions."""
    by_field = rows.pivot_table(index="field", columns="region", values=column, aggfunc="sum").fillna(0.0)
    totals = by_field.sum(axis=1)
    shares = by_field.div(totals.where(totals > 0), axis=0)
    return float((shares**2).sum(axis=1)[totals > 0].mean()) if (totals > 0).any() else float("nan")


def outcomes(tables: Mapping[str, pd.DataFrame]) -> dict[str, float]:
    """Scalar outcomes from a run's tables (DataFrames keyed like ``RunResult.tables``).

    Needs step_metrics, region_metrics and field_metrics; uses ``dragons`` when given.
    """
    sm, rm, fm = tables["step_metrics"], tables["region_metrics"], tables["field_metrics"]
    first, last = sm["step"].min(), sm["step"].max()
    end, start = sm[sm.step == last], sm[sm.step == first]
    by_region = sm.groupby("region", sort=False)
    years = (last - first + 1) / 4.0
    out: dict[str, float] = {}
    per_region = {
        "dragons": end.groupby("region", sort=False)["dragons"].sum(),
        "births": by_region["births"].sum(),
        "deaths": by_region["deaths"].sum(),
        "exits": by_region["exits"].sum(),
        "scenes": by_region["scenes_defined"].sum(),
        "firms_end": end.groupby("region", sort=False)["firms"].sum(),
        "invested": by_region["invested"].sum(),
        "returned": by_region["returned"].sum(),
        "revenue": by_region["revenue"].sum(),
        "gap_end": end.groupby("region", sort=False)["gap_to_frontier"].mean(),
        "experiments": by_region["experiments"].sum(),
    }
    per_region["experiments_per_musd"] = per_region["experiments"] / per_region["invested"].where(per_region["invested"] > 0)
    per_region["survival"] = 1.0 - per_region["deaths"] / per_region["births"].where(per_region["births"] > 0)
    regions = list(per_region["births"].index)
    if "dragons" in tables and len(tables["dragons"]):
        niche = tables["dragons"][tables["dragons"]["niche"]].groupby("region").size()
        per_region["niche_dragons"] = niche.reindex(regions, fill_value=0)
    else:
        per_region["niche_dragons"] = pd.Series(0.0, index=regions)
    r_last = rm[rm.step == last].set_index("region")
    per_region["talent_end"] = r_last["talent"]
    per_region["investor_capital_end"] = r_last["investor_capital"]
    flows = rm.groupby("region", sort=False)[["arrivals", "departures", "talent"]].agg(
        {"arrivals": "sum", "departures": "sum", "talent": "mean"})
    per_region["net_inflow"] = 100.0 * (flows.arrivals - flows.departures) / flows.talent / years
    for metric in REGIONAL:
        series = per_region[metric]
        if metric in RATIOS:
            num, den = RATIOS[metric]
            ratio = per_region[num].sum() / per_region[den].sum() if per_region[den].sum() else float("nan")
            total = ratio if metric != "survival" else 1.0 - ratio
        else:
            total = series.mean() if metric in ("gap_end", "net_inflow") else series.sum()
        out[metric] = float(total)
        for region, value in series.items():
            out[f"{metric}_{region}"] = float(value)
    out["failure_rate"] = out["deaths"] / out["births"] if out["births"] else float("nan")
    out["concentration_end"] = _hhi(end)
    out["concentration_change"] = out["concentration_end"] - _hhi(start)
    out["talent_concentration_change"] = _hhi(end, "talent") - _hhi(start, "talent")
    plat, niche = fm["platform_revenue"].fillna(0.0), fm["niche_revenue"].fillna(0.0)
    out["small_share_niche"] = float((fm["small_share_niche"].fillna(0.0) * niche).sum() / niche.sum()) if niche.sum() else float("nan")
    out["small_share_platform"] = float((fm["small_share_platform"].fillna(0.0) * plat).sum() / plat.sum()) if plat.sum() else float("nan")
    out["division_of_roles"] = _division_of_roles(fm)
    return {k: (float(v) if np.isfinite(v) else float("nan")) for k, v in out.items()}


def _division_of_roles(fm: pd.DataFrame) -> float:
    """Small firms' market share in niches − in platforms, per field, spending-weighted over fields.

    Shares are of customers' spending (what unmodelled suppliers win counts
    too), compared within a field, so that fields with different platform
    shares and different small-firm shares do not masquerade as a division of
    roles.
    """
    if "niche_spending" not in fm:
        return float("nan")
    per_field = fm.groupby("field")[["platform_spending", "niche_spending", "small_platform_revenue",
                                      "small_niche_revenue"]].sum()
    both = per_field[(per_field.platform_spending > 0) & (per_field.niche_spending > 0)]
    if both.empty:
        return float("nan")
    gap = both.small_niche_revenue / both.niche_spending - both.small_platform_revenue / both.platform_spending
    weight = both.platform_spending + both.niche_spending
    return float((gap * weight).sum() / weight.sum())


def outcome_names(regions: list[str]) -> list[str]:
    """Every outcome name a scenario with these regions yields."""
    names = list(OUTCOME_DOCS)
    names += [f"{m}_{r}" for m in REGIONAL for r in regions]
    return names
