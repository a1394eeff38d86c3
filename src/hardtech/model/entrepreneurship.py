"""Entrepreneurship (C2, C4, C5): founding, spin-outs, experiments, pivots, failure.

- **Founding**: each person founds a firm with a small chance per quarter that
  rises with the field's perceived opportunity (technology push: maturity;
  market pull: adoption), rises with startup support, is higher for the
  young, and is ``spinout_multiplier`` times higher for employees of
  successful firms (spin-outs). A founding happens only if an investor pool
  can pay its seed round. Living cost does not enter the founding chance
  directly: a cheap city breeds startups only through the people it draws
  (migration) and what staff cost there (``labour.cost_per_head``).
- **Experiments**: young firms put part of their spending (plus the
  government's support share) into experiments whose cost falls with the
  software base; each batch improves niche fit. More experiments per unit of
  capital is how a cheap software city helps.
- **Pivots**: a firm still badly fitted after ``pivot_after_years`` may move to
  another niche, keeping ``pivot_fit_kept`` of its fit, at the cost of one
  experiment.
- **Failure**: a firm fails when its cash is below zero after paying its costs
  and any help from partners; failure is never drawn at random.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled
from hardtech.engine.ops import GroupRanks, choose_within_groups, group_max, group_sum
from hardtech.model import kernels
from hardtech.model.shared import (
    choose_segment,
    cost_per_head,
    firm_keys,
    investor_region,
    opportunity,
    spread_draw,
    talent_keys,
    within_pool_capacity,
)
from hardtech.model.world import World


def experiment_cost(world: World) -> np.ndarray:
    """Cost of one experiment per firm, million USD: person-quarters at local cost.

    A strong software base cuts the person-quarters an experiment takes.
    """
    ent = world.scenario.entrepreneurship
    firms = world.firms
    software = world.region_param("software_base")[firms["region"]]
    intensity = world.field_param("capital_intensity")[firms["field"]]
    return ent.experiment_size * intensity * (1.0 - ent.software_discount * software) * cost_per_head(world)


def experiment(world: World) -> None:
    """Young firms run experiments that improve their niche fit."""
    ent = world.scenario.entrepreneurship
    rng = world.streams["experiments"]
    firms = world.firms
    young = (firms["founded"] > world.step - ent.young_firm_years * 4) & ~firms["incumbent"]
    own_money = ent.experiment_budget * firms["headcount"] * cost_per_head(world) * young
    support = world.levers["startup_support"][firms["region"]]
    grant = own_money * support / (1.0 - support)
    firms["cash"] = firms["cash"] + grant
    world.book("source:grants", grant.sum())
    count = rng.poisson((own_money + grant) / experiment_cost(world))
    best_draw = rng.random(len(firms)) ** (1.0 / np.maximum(count, 1))
    firms["fit"] = firms["fit"] + (count > 0) * ent.fit_step * (1.0 - firms["fit"]) * best_draw
    firms["experiments"] = firms["experiments"] + count
    world.flows["experiments"] += group_sum(firm_keys(world), count, len(world.flows["experiments"]))


def choose_niche(world: World, fields: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A niche per pivoting firm in its field, ∝ size / (1 + firms already there)."""
    niches, firms = world.niches, world.firms
    occupants = np.bincount(firms["segment"][firms["segment"] >= 0], minlength=len(niches))
    weight = niches["size"] / (1.0 + occupants)
    picked = choose_within_groups(rng, niches["field"].astype(np.int64), weight, fields.astype(np.int64))
    return niches.ids[np.maximum(picked, 0)]


def pivot(world: World) -> None:
    """Badly fitted firms move to another niche of their field."""
    ent = world.scenario.entrepreneurship
    rng = world.streams["pivots"]
    firms = world.firms
    latest = world.step - ent.pivot_after_years * 4
    if compiled():
        stuck = np.empty(len(firms), np.bool_)
        kernels.pivot_candidates(
            firms["incumbent"],
            firms["segment"],
            firms["founded"],
            firms["fit"],
            rng.random(len(firms)),
            latest,
            ent.pivot_fit,
            ent.pivot_rate,
            stuck,
        )
    else:
        stuck = (
            ~firms["incumbent"]
            & (firms["segment"] >= 0)
            & (firms["founded"] <= latest)
            & (firms["fit"] < ent.pivot_fit)
            & (rng.random(len(firms)) < ent.pivot_rate)
        )
    rows = np.flatnonzero(stuck)
    if rows.size == 0:
        return
    firms["segment"][rows] = choose_niche(world, firms["field"][rows], rng)
    firms["fit"][rows] *= ent.pivot_fit_kept
    cost = experiment_cost(world)[rows]
    firms["cash"][rows] -= cost
    world.book("sink:pivot_costs", cost.sum())
    world.event("pivot", rows, cost)


def found(world: World) -> None:
    """People found firms; each new firm needs a seed round from an investor pool."""
    ent = world.scenario.entrepreneurship
    cap = world.scenario.capital
    rng = world.streams["founding"]
    t, firms = world.talent, world.firms
    if len(t) == 0:
        return
    support = world.levers["startup_support"]
    region_factor = 1.0 + support
    success = _successful_firm_rows(world)
    # A person's chance depends only on (region, field, young, spin-out): sum the
    # chances of each such class, draw its founders as Poisson, pick them at random
    # within the class — the same law as one draw per person, at a fraction of the cost.
    R, F = world.n_regions, world.n_fields
    slots = 2 * 2  # young or not × spin-out or not
    if compiled():
        cls: np.ndarray = np.empty(len(t), np.int16 if R * F * slots <= np.iinfo(np.int16).max else np.int64)
        kernels.founder_classes(
            t["region"],
            t["field"],
            t["age"],
            t["employer"],
            firms.row_lookup(),
            success,
            F,
            np.float32(ent.young_founder_age),
            cls,
        )
    else:
        employed = np.flatnonzero(t["employer"] >= 0)
        employed_firm = firms.rows_of(t["employer"][employed])
        spinout_rows = employed[(employed_firm >= 0) & success[np.maximum(employed_firm, 0)]]
        cls = talent_keys(world, slots=slots)  # class = (region, field)·4 + young·2 + spin-out, int16
        cls += (t["age"] < ent.young_founder_age).view(np.int8) * np.int8(2)
        cls[spinout_rows] += 1
    r_c, f_c, y_c, s_c = np.unravel_index(np.arange(R * F * slots), (R, F, 2, 2))
    p_class = (
        ent.found_rate
        * opportunity(world)[f_c]
        * region_factor[r_c]
        * np.where(y_c == 1, ent.young_founding_factor, ent.older_founding_factor)
        * np.where(s_c == 1, ent.spinout_multiplier, 1.0)
    )
    classes = GroupRanks(cls, R * F * slots)  # members per class, and the k-th member without a sort
    members = classes.counts
    n_found = rng.poisson(p_class * members * world.weight)
    n_found[members == 0] = 0
    draw_class = np.repeat(np.arange(R * F * slots), n_found)
    founders = classes.nth(draw_class, (rng.random(draw_class.size) * members[draw_class]).astype(np.int64))
    if founders.size == 0:
        return
    employer_row = np.full(founders.size, -1, np.int64)
    has_employer = t["employer"][founders] >= 0
    employer_row[has_employer] = firms.rows_of(t["employer"][founders][has_employer])
    is_spin = (cls[founders] & 1).astype(bool)
    region = t["region"][founders].astype(np.int64)
    fld = t["field"][founders].astype(np.int64)
    intensity = world.field_param("capital_intensity")[fld]
    seed = cap.seed_round * intensity
    pool_region = investor_region(world, region, rng)
    funded = within_pool_capacity(world, pool_region, seed, rng, "seed")
    founders, region, fld, seed, pool_region = (a[funded] for a in (founders, region, fld, seed, pool_region))
    n = founders.size
    if n == 0:
        return
    parent_row = employer_row[funded]
    is_spin = is_spin[funded]
    R, F = world.n_regions, world.n_fields
    best = _local_best(world)[region, fld]
    # better-trained founders start closer to the local best (skill ½ → the nominal gap)
    effect = ent.founder_skill_effect
    gap = (
        ent.founder_capability
        * spread_draw(rng, ent.founder_gap_spread, n)
        * ((1.0 + effect / 2) - effect * t["skill"][founders])
    )
    parent_cap = np.where(is_spin, firms["capability"][np.maximum(parent_row, 0)], -np.inf)
    capability = np.maximum(best - gap, parent_cap - ent.spinout_gap_share * gap)
    segment = choose_segment(world, fld, rng)
    fdep = world.field_param("foreign_dependency")[fld]
    np.subtract.at(world.pool, pool_region, seed)
    ids = firms.add(
        n,
        region=region,
        field=fld,
        segment=segment,
        capability=capability,
        cash=seed,
        headcount=ent.start_headcount,
        founded=world.step,
        stage=1,
        round_capability=capability,
        post_money=seed / cap.investor_stake,
        post_money_par=seed / cap.investor_stake,
        round_step=world.step,
        valuation=seed / cap.investor_stake,
        valuation_par=seed / cap.investor_stake,
        investor_share=cap.investor_stake,
        invested=seed,
        lead_investor=pool_region,
        round_investor=pool_region,
        largest_round=seed,
        fit=rng.beta(ent.entrant_fit_alpha, ent.entrant_fit_beta, n),
        dependency=np.clip(fdep * spread_draw(rng, world.scenario.decoupling.dependency_spread, n), 0, 1),
        founder=t.ids[founders],
        parent=np.where(is_spin, firms.ids[np.maximum(parent_row, 0)], -1),
        founding_gap=world.frontier[fld] - capability,
    )
    t["employer"][founders] = ids
    new_rows = np.arange(len(firms) - n, len(firms))
    world.event("founded", new_rows, seed)
    world.event("funded", new_rows, seed)
    key = world.region_field(region, fld)
    world.flows["births"] += np.bincount(key, minlength=R * F)
    world.flows["invested"] += np.bincount(key, weights=seed, minlength=R * F)
    world.flows["spinouts"] += np.bincount(key, weights=is_spin, minlength=R * F)
    # pool region → firm region, million USD, for the recorded region_flows table (no rule reads it)
    world.flows["capital_od"] += np.bincount(pool_region * R + region, weights=seed, minlength=R * R)


def _local_best(world: World) -> np.ndarray:
    """(region, field) reference capability a founder starts from.

    With spillovers the region's best firm; without, the bloc's public science.
    """
    firms = world.firms
    R, F = world.n_regions, world.n_fields
    science = world.science[world.region_bloc]
    if not world.scenario.innovation.spillovers or len(firms) == 0:
        return science
    best = group_max(firm_keys(world), firms["capability"], R * F, -np.inf)
    best = best.reshape(R, F)
    return np.where(np.isfinite(best), best, science)


def _successful_firm_rows(world: World) -> np.ndarray:
    """Per firm row: whether it is successful enough for its staff to spin out."""
    firms = world.firms
    threshold = world.field_param("dragon_threshold")[firms["field"]]
    share = world.scenario.entrepreneurship.spinout_success_share
    return ~firms["incumbent"] & ((firms["dragon_step"] >= 0) | (firms["valuation"] >= share * threshold))


def pay_costs(world: World) -> None:
    """Firms pay wages and other spending for the quarter."""
    firms = world.firms
    spending = firms["headcount"] * cost_per_head(world)
    firms["cash"] = firms["cash"] - spending
    world.book("sink:operating_costs", spending.sum())


def fail(world: World) -> None:
    """Firms with cash below zero close; creditors write off the shortfall."""
    firms = world.firms
    dead = firms["cash"] < 0.0
    if not dead.any():
        return
    rows = np.flatnonzero(dead)
    world.book("source:write_off", -firms["cash"][rows].sum())
    key = world.region_field(firms["region"][rows], firms["field"][rows])
    world.flows["deaths"] += np.bincount(key, minlength=world.n_regions * world.n_fields)
    world.event("failed", rows, firms["invested"][rows])
    firms.remove(dead)
