"""Per-step observations: aggregates of agent state recorded into tables.

Tables (one chunk per step):

- ``step_metrics`` — one row per region × field;
- ``region_metrics`` — one row per region;
- ``field_metrics`` — one row per field;
- ``bloc_metrics`` — one row per bloc × field;
- ``ledger`` — one row per money account, plus the total money stock;
- ``region_flows`` — one row per (from region, to region): talent that moved (persons) and
  money invested in seeds and rounds by the pool of ``from_region`` in firms of ``to_region``
  (million USD) this quarter.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine import Recorder
from hardtech.engine.jit import compiled
from hardtech.engine.ops import group_max, group_sum
from hardtech.model import kernels
from hardtech.model.shared import (
    component_loss,
    experiment_cost_by_region,
    firm_keys,
    locked_spending,
    regional_boost,
    segment_spending,
    talent_by_region_field,
)
from hardtech.model.world import World

RF_FLOWS = (
    "births",
    "deaths",
    "new_dragons",
    "new_par_dragons",
    "scenes",
    "graduates",
    "retirements",
    "arrivals",
    "departures",
    "invested",
    "returned",
    "recycled",
    "exits",
    "experiments",
    "spinouts",
    "follower_scenes",
    "scene_gain_rd",
    "scene_gain_imitation",
    "scene_gain_partners",
    "imitation_gain",
)


def reset_flows(world: World) -> None:
    """Zero the flow counters at the start of a step."""
    RF = world.n_regions * world.n_fields
    world.flows = {name: np.zeros(RF) for name in RF_FLOWS}
    world.flows["angel"] = np.zeros(world.n_regions)
    world.flows["recycled_in"] = np.zeros(world.n_regions)
    world.flows["risk_pooled"] = 0.0  # type: ignore[assignment]  # the one scalar among the flow arrays
    # origin → destination (flat from · R + to), for region_flows
    world.flows["talent_od"] = np.zeros(world.n_regions**2)
    world.flows["capital_od"] = np.zeros(world.n_regions**2)
    world.ledger = {}


def quarter_label(world: World) -> str:
    """'2012Q1'-style label of the current step."""
    start = world.scenario.time.start_year
    return f"{start + world.step // 4}Q{world.step % 4 + 1}"


def record(world: World, recorder: Recorder, money_before: float) -> None:
    """Record every table for the current step."""
    R, F = world.n_regions, world.n_fields
    fl = world.flows
    stamp = {"step": world.step, "quarter": quarter_label(world), "year": world.year}
    key = firm_keys(world)
    sums = _firm_sums(world, key)
    head, best, n_firms = sums["head"], sums["best"], sums["n_firms"]
    talent = talent_by_region_field(world)
    gap = np.tile(world.frontier, R) - best
    a, b = world.firms.rows_of(world.links["a"]), world.firms.rows_of(world.links["b"])
    alive = (a >= 0) & (b >= 0)
    same = alive & (key[np.maximum(a, 0)] == key[np.maximum(b, 0)])
    inner_links = group_sum(key[a[same]], None, R * F)
    pairs = n_firms * (n_firms - 1) / 2.0
    head_r = head.reshape(R, F).sum(axis=1)
    head_f = head.reshape(R, F).sum(axis=0)
    lq = np.divide(
        head.reshape(R, F) * head.sum(),
        np.outer(head_r, head_f),
        out=np.zeros((R, F)),
        where=np.outer(head_r, head_f) > 0,
    ).ravel()
    dep = np.divide(sums["dep_head"], head, out=np.zeros(R * F), where=head > 0)
    recorder.record(
        "step_metrics",
        **stamp,
        region=_labels(world, "region_of_rf"),
        field=_labels(world, "field_of_rf"),
        firms=n_firms.astype(np.int64),
        births=fl["births"].astype(np.int64),
        deaths=fl["deaths"].astype(np.int64),
        new_dragons=fl["new_dragons"].astype(np.int64),
        dragons=world.dragons_total.ravel().copy(),
        scenes_defined=fl["scenes"].astype(np.int64),
        talent=talent,
        talent_in=fl["arrivals"],
        talent_out=fl["departures"],
        graduates=fl["graduates"],
        retirements=fl["retirements"],
        invested=fl["invested"],
        returned=fl["returned"],
        exits=fl["exits"].astype(np.int64),
        revenue=sums["revenue"],
        headcount=head,
        gap_to_frontier=gap,
        coop_links=inner_links.astype(np.int64),
        coop_density=np.divide(inner_links, pairs, out=np.zeros(R * F), where=pairs > 0),
        foreign_dependency=dep,
        location_quotient=lq,
        experiments=fl["experiments"],
        spinouts=fl["spinouts"],
        dragons_par=world.dragons_par_total.ravel().copy(),
        new_par_dragons=fl["new_par_dragons"].astype(np.int64),
        follower_scenes=fl["follower_scenes"].astype(np.int64),
        scene_gain_rd=fl["scene_gain_rd"],
        scene_gain_imitation=fl["scene_gain_imitation"],
        scene_gain_partners=fl["scene_gain_partners"],
        imitation_gain=fl["imitation_gain"],
    )
    wage_by_region = np.divide(
        (world.wage.ravel() * talent).reshape(R, F).sum(axis=1),
        talent.reshape(R, F).sum(axis=1),
        out=np.zeros(R),
        where=talent.reshape(R, F).sum(axis=1) > 0,
    )
    recorder.record(
        "region_metrics",
        **stamp,
        region=world.region_names,
        talent=talent.reshape(R, F).sum(axis=1),
        arrivals=fl["arrivals"].reshape(R, F).sum(axis=1),
        departures=fl["departures"].reshape(R, F).sum(axis=1),
        graduates=fl["graduates"].reshape(R, F).sum(axis=1),
        retirements=fl["retirements"].reshape(R, F).sum(axis=1),
        investor_capital=world.pool.copy(),
        angel_inflow=fl["angel"],
        deal_price=world.deal_price.copy(),
        wage=wage_by_region,
        living_cost=world.region_param("living_cost"),
        founder_wealth=_founder_wealth(world),
        firms=n_firms.reshape(R, F).sum(axis=1).astype(np.int64),
        headcount=head_r,
        recycled_in=fl["recycled_in"].copy(),
        place_utility=fl.get("place_utility", np.full(R, np.nan)).copy(),
        experiment_cost=experiment_cost_by_region(world),
        link_ends=_link_ends(world, a, b, alive),
        spillover_boost=regional_boost(world).mean(axis=1),
        **{f"lever_{k}": v.copy() for k, v in world.levers.items()},
    )
    plat_f, niche_f = sums["plat_f"], sums["niche_f"]
    spend = segment_spending(world)  # what customers spend, modelled suppliers or not
    niche_spend = group_sum(world.niches["field"].astype(np.int64), spend[F:], F) + world.flows.get("procurement", 0.0)
    recorder.record(
        "field_metrics",
        **stamp,
        field=world.field_names,
        frontier=world.frontier.copy(),
        maturity=world.maturity.copy(),
        adoption=world.adoption.copy(),
        demand=world.spending.copy(),
        niches=np.bincount(world.niches["field"], minlength=F).astype(np.int64),
        platform_revenue=plat_f,
        niche_revenue=niche_f,
        small_share_platform=np.divide(sums["small_plat_f"], plat_f, out=np.full(F, np.nan), where=plat_f > 0),
        small_share_niche=np.divide(sums["small_niche_f"], niche_f, out=np.full(F, np.nan), where=niche_f > 0),
        platform_spending=spend[:F] + locked_spending(world),
        niche_spending=niche_spend,
        small_platform_revenue=sums["small_plat_f"],
        small_niche_revenue=sums["small_niche_f"],
        demand_started=world.demand_onset >= 0,
        usable=world.usable_onset >= 0,
        niche_firms=sums["niche_firms"],
    )
    recorder.record(
        "bloc_metrics",
        **stamp,
        bloc=_labels(world, "bloc_of_bf"),
        field=_labels(world, "field_of_bf"),
        science=world.science.ravel().copy(),
        frontier=world.bloc_frontier.ravel().copy(),
        knowledge_cut=np.repeat(world.cut["knowledge"].max(axis=0), F),
        component_cut=np.repeat(world.cut["components"].max(axis=0), F),
        market_cut=np.repeat(world.cut["market"].max(axis=0), F),
        component_loss=_bloc_mean(world, component_loss(world)),
    )
    recorder.record(
        "region_flows",
        **stamp,
        from_region=np.repeat(world.region_names, R),
        to_region=np.tile(world.region_names, R),
        talent=fl["talent_od"].copy(),
        capital=fl["capital_od"].copy(),
    )
    accounts = sorted(world.ledger)
    money_after = world.money_stock()
    recorder.record(
        "ledger",
        **stamp,
        account=np.array(accounts + ["stock:before", "stock:after"]),
        amount=np.array([world.ledger[k] for k in accounts] + [money_before, money_after]),
    )


def _firm_sums(world: World, key: np.ndarray) -> dict[str, np.ndarray]:
    """The per (region, field) and per field sums over firms that :func:`record` reports."""
    firms = world.firms
    R, F = world.n_regions, world.n_fields
    small = ~firms["incumbent"]  # startups and what they grow into, against the incumbents
    niche = firms["niche_revenue"]
    plat = firms["revenue"] - niche
    fkey = firms["field"].astype(np.int64)
    if compiled():
        out = {name: np.zeros(R * F) for name in ("head", "n_firms", "dep_head", "revenue")}
        out.update({name: np.zeros(F) for name in ("plat_f", "niche_f", "small_plat_f", "small_niche_f")})
        out["best"] = np.full(R * F, -np.inf)
        out["niche_firms"] = np.zeros(F, np.int64)
        kernels.firm_aggregates(
            key,
            fkey,
            firms["headcount"],
            firms["capability"],
            firms["dependency"],
            firms["revenue"],
            niche,
            firms["incumbent"],
            firms["segment"],
            out["head"],
            out["n_firms"],
            out["best"],
            out["dep_head"],
            out["revenue"],
            out["plat_f"],
            out["niche_f"],
            out["small_plat_f"],
            out["small_niche_f"],
            out["niche_firms"],
        )
        out["best"][np.isneginf(out["best"])] = np.nan
        return out
    return {
        "head": group_sum(key, firms["headcount"], R * F),
        "n_firms": group_sum(key, None, R * F),
        "best": group_max(key, firms["capability"], R * F, np.nan),
        "dep_head": group_sum(key, firms["dependency"] * firms["headcount"], R * F),
        "revenue": group_sum(key, firms["revenue"], R * F),
        "plat_f": group_sum(fkey, plat, F),
        "niche_f": group_sum(fkey, niche, F),
        "small_plat_f": group_sum(fkey, plat * small, F),
        "small_niche_f": group_sum(fkey, niche * small, F),
        "niche_firms": np.bincount(firms["field"][firms["segment"] >= 0], minlength=F).astype(np.int64),
    }


def _labels(world: World, which: str) -> np.ndarray:
    """Region, field and bloc names repeated for the tables' rows (built once per run, read-only)."""
    labels = world.param_cache.get(("labels", which))
    if labels is None:
        R, F, B = world.n_regions, world.n_fields, len(world.bloc_names)
        labels = {
            "region_of_rf": np.repeat(world.region_names, F),
            "field_of_rf": np.tile(world.field_names, R),
            "bloc_of_bf": np.repeat(world.bloc_names, F),
            "field_of_bf": np.tile(world.field_names, B),
        }[which]
        labels.setflags(write=False)
        world.param_cache[("labels", which)] = labels
    return labels


def _link_ends(world: World, a: np.ndarray, b: np.ndarray, alive: np.ndarray) -> np.ndarray:
    """Cooperation link ends per region (a link between two firms of a region counts twice)."""
    region = world.firms["region"]
    return (
        np.bincount(region[a[alive]], minlength=world.n_regions)
        + np.bincount(region[b[alive]], minlength=world.n_regions)
    ).astype(np.int64)


def _bloc_mean(world: World, values: np.ndarray) -> np.ndarray:
    """Mean of a per-firm value over each (bloc, field)'s firms, flat (NaN where a bloc has none)."""
    firms = world.firms
    B, F = len(world.bloc_names), world.n_fields
    key = world.region_bloc[firms["region"]].astype(np.int64) * F + firms["field"]
    total, count = group_sum(key, values, B * F), group_sum(key, None, B * F)
    return np.divide(total, count, out=np.full(B * F, np.nan), where=count > 0)


def _founder_wealth(world: World) -> np.ndarray:
    """Exit wealth of talent per region, million USD.

    Only founders who exited hold wealth: summing the few non-zero agents (in
    row order) gives the same sums as all of them, without a pass over
    millions of zeros.
    """
    t = world.talent
    rich = np.flatnonzero(t["wealth"] != 0.0)  # (a bool mask: much faster to scan than floats)
    return np.bincount(t["region"][rich], weights=t["wealth"][rich] * world.weight, minlength=world.n_regions)
