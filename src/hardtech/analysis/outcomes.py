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
    "small_share_niche": (
        "share of niche revenue earned by small firms (startups and the firms they grow into, not incumbents), whole "
        "run"
    ),
    "small_share_platform": "share of platform revenue earned by small firms, whole run",
    "division_of_roles": "small firms' market share in niches minus their market share in platforms (shares of what "
    "customers spend, within each field, whole run; fields weighted by spending; −1 to 1)",
    "experiments": "experiments (prototypes, pivots) run by young firms over the run (count)",
    "experiments_per_musd": "experiments per million USD invested in rounds",
    "niche_dragons": "dragons that were selling in a niche when they became dragons (count)",
    "survival": "1 − deaths / births: share of founded firms that did not fail",
    "dragons_par": "firms whose valuation at a deal price of 1 (balanced venture money) reached the dragon threshold "
    "within the age limit (count)",
    "follower_scenes": (
        "scenes defined by firms founded at least dragon.follower_gap behind their field's frontier (count)"
    ),
    "scene_share_rd": "of the capability follower scene definers gained before their scene: the share from own R&D",
    "scene_share_imitation": "... the share from imitating other firms",
    "scene_share_partners": "... the share from partners' shared R&D",
    "imitation_gain": "log capability gained by imitation, summed over firms and quarters",
    "demand_onset_year": (
        "year demand starts, mean over fields (a field whose demand never starts counts as the year after the run)"
    ),
    "firms_per_niche": "firms selling in niches per niche, mean over quarters and fields",
    "platform_niche_size_ratio": (
        "a field's platform spending over its mean niche's, mean over quarters and fields with spending"
    ),
    "place_utility": (
        "logit utility a young newcomer sees in a region (wage, living cost, amenity, subsidy, knowledge; mean over "
        "quarters and fields)"
    ),
    "experiment_cost": (
        "cost of one experiment in a software field at the region's wages, million USD, mean over quarters"
    ),
    "links_per_firm": "cooperation link ends per firm, mean over quarters",
    "spillover_boost": "R&D success multiplier from absorbed related knowledge, mean over quarters and fields",
    "recycled": "exit proceeds recycling returned to a region's investors and founders over the run (million USD)",
}
REGIONAL = (
    "dragons",
    "births",
    "deaths",
    "exits",
    "scenes",
    "firms_end",
    "talent_end",
    "net_inflow",
    "investor_capital_end",
    "invested",
    "returned",
    "revenue",
    "gap_end",
    "experiments",
    "experiments_per_musd",
    "survival",
    "niche_dragons",
    "dragons_par",
    "follower_scenes",
    "place_utility",
    "experiment_cost",
    "links_per_firm",
    "spillover_boost",
    "recycled",
)
MEANS = ("gap_end", "net_inflow", "place_utility", "experiment_cost", "links_per_firm", "spillover_boost")
"""Regional outcomes whose world value is the mean over regions (the others are sums)."""
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
        "dragons_par": end.groupby("region", sort=False)["dragons_par"].sum() if "dragons_par" in sm else None,
        "follower_scenes": by_region["follower_scenes"].sum() if "follower_scenes" in sm else None,
    }
    for name in ("dragons_par", "follower_scenes"):
        if per_region[name] is None:  # tables of an older model version
            per_region[name] = pd.Series(np.nan, index=per_region["births"].index)
    per_region["experiments_per_musd"] = per_region["experiments"] / per_region["invested"].where(
        per_region["invested"] > 0
    )
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
    by_r = rm.groupby("region", sort=False)
    for name in ("place_utility", "experiment_cost", "spillover_boost"):
        per_region[name] = by_r[name].mean() if name in rm else pd.Series(np.nan, index=regions)
    per_region["links_per_firm"] = (
        (rm["link_ends"] / rm["firms"].where(rm["firms"] > 0)).groupby(rm["region"], sort=False).mean()
        if "link_ends" in rm
        else pd.Series(np.nan, index=regions)
    )
    per_region["recycled"] = by_r["recycled_in"].sum() if "recycled_in" in rm else pd.Series(np.nan, index=regions)
    flows = rm.groupby("region", sort=False)[["arrivals", "departures", "talent"]].agg(
        {"arrivals": "sum", "departures": "sum", "talent": "mean"}
    )
    per_region["net_inflow"] = 100.0 * (flows.arrivals - flows.departures) / flows.talent / years
    for metric in REGIONAL:
        series = per_region[metric]
        if metric in RATIOS:
            num, den = RATIOS[metric]
            ratio = per_region[num].sum() / per_region[den].sum() if per_region[den].sum() else float("nan")
            total = ratio if metric != "survival" else 1.0 - ratio
        else:
            total = series.mean() if metric in MEANS else series.sum()
        out[metric] = float(total)
        for region, value in series.items():
            out[f"{metric}_{region}"] = float(value)
    out["failure_rate"] = out["deaths"] / out["births"] if out["births"] else float("nan")
    out["concentration_end"] = _hhi(end)
    out["concentration_change"] = out["concentration_end"] - _hhi(start)
    out["talent_concentration_change"] = _hhi(end, "talent") - _hhi(start, "talent")
    plat, niche = fm["platform_revenue"].fillna(0.0), fm["niche_revenue"].fillna(0.0)
    out["small_share_niche"] = (
        float((fm["small_share_niche"].fillna(0.0) * niche).sum() / niche.sum()) if niche.sum() else float("nan")
    )
    out["small_share_platform"] = (
        float((fm["small_share_platform"].fillna(0.0) * plat).sum() / plat.sum()) if plat.sum() else float("nan")
    )
    out["division_of_roles"] = _division_of_roles(fm)
    out.update(_channel_outcomes(sm, fm, tables.get("bloc_metrics"), int(last)))
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
    per_field = fm.groupby("field")[
        ["platform_spending", "niche_spending", "small_platform_revenue", "small_niche_revenue"]
    ].sum()
    both = per_field[(per_field.platform_spending > 0) & (per_field.niche_spending > 0)]
    if both.empty:
        return float("nan")
    gap = both.small_niche_revenue / both.niche_spending - both.small_platform_revenue / both.platform_spending
    weight = both.platform_spending + both.niche_spending
    return float((gap * weight).sum() / weight.sum())


def _channel_outcomes(sm: pd.DataFrame, fm: pd.DataFrame, bm: pd.DataFrame | None, last: int) -> dict[str, float]:
    """Intermediate quantities the claims' manipulation checks read (see OUTCOME_DOCS)."""
    out: dict[str, float] = {}
    if "scene_gain_rd" in sm:
        gains = {k: float(sm[f"scene_gain_{k}"].sum()) for k in ("rd", "imitation", "partners")}
        total = sum(gains.values())
        for k, v in gains.items():
            out[f"scene_share_{k}"] = v / total if total > 0 else float("nan")
        out["imitation_gain"] = float(sm["imitation_gain"].sum())
    started = fm[fm.demand_started].groupby("field", sort=False)["year"].min()
    never_year = float(fm["year"].max()) + 1.0
    out["demand_onset_year"] = float(started.reindex(fm["field"].unique()).fillna(never_year).mean())
    if "niche_firms" in fm:
        niches = fm["niches"].where(fm["niches"] > 0)
        out["firms_per_niche"] = float((fm["niche_firms"] / niches).mean())
        mean_niche = fm["niche_spending"] / niches
        ratio = (fm["platform_spending"] / mean_niche.where(mean_niche > 0)).replace([np.inf, -np.inf], np.nan)
        out["platform_niche_size_ratio"] = float(ratio.mean()) if ratio.notna().any() else float("nan")
    if bm is not None and "component_loss" in bm:
        for bloc, loss in bm.groupby("bloc", sort=False)["component_loss"]:
            out[f"component_loss_{bloc}"] = float(loss.mean())
    return out


def outcome_names(regions: list[str]) -> list[str]:
    """Every outcome name a scenario with these regions yields."""
    names = list(OUTCOME_DOCS)
    names += [f"{m}_{r}" for m in REGIONAL for r in regions]
    return names
