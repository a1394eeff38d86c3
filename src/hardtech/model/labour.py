"""Labour (C2): graduates, retirement, wages, migration and hiring.

- Universities add graduates each quarter; talent ages and leaves the
  workforce (a yearly hazard, and everyone at 60).
- The wage of a region-field rises with the share of its talent the modelled
  firms employ (labour-market tightness).
- Each quarter a share of talent (more of the young) weighs a move. The choice
  is a logit over regions on log wage − log living cost + amenity + (for the
  young) the settling subsidy relative to the wage − a moving cost that grows
  with distance and across blocs.
- Firms hire toward their target headcount, limited by the region-field's
  available talent; employed talent agents carry their employer's id (a
  talent agent stands for ``weight`` persons, so firms employ agents in
  proportion ``headcount / weight``).
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.ops import group_sum, stable_group_order, stochastic_round
from hardtech.model.world import World

YOUNG_AGE = 30.0


def talent_by_region_field(world: World) -> np.ndarray:
    """Persons per (region, field), flat."""
    t = world.talent
    key = world.region_field(t["region"], t["field"])
    return group_sum(key, None, world.n_regions * world.n_fields) * world.weight


def graduate(world: World) -> None:
    """Universities add new graduates; their fields follow the fields' opportunity."""
    rng = world.streams["graduates"]
    rate = world.region_param("graduate_rate") * world.region_param("talent") / 4.0
    counts = stochastic_round(rng, rate / world.weight)
    n = int(counts.sum())
    if n == 0:
        return
    region = np.repeat(np.arange(world.n_regions), counts)
    pull = 0.5 + world.maturity  # students follow maturing technologies
    field = rng.choice(world.n_fields, n, p=pull / pull.sum())
    strength = world.region_param("university_strength")[region]
    world.talent.add(n, region=region, field=field, age=rng.uniform(22, 26, n),
                     skill=np.clip(rng.normal(strength, 0.15), 0, 1), employer=-1)
    key = world.region_field(region, field)
    world.flows["graduates"] += np.bincount(key, minlength=world.n_regions * world.n_fields) * world.weight


def retire(world: World) -> None:
    """Age everyone a quarter; remove those who leave the workforce."""
    rng = world.streams["retirement"]
    t = world.talent
    t["age"] = t["age"] + 0.25
    leave = (t["age"] >= 60.0) | (rng.random(len(t)) < world.scenario.labour.retire_rate / 4.0)
    key = world.region_field(t["region"][leave], t["field"][leave])
    world.flows["retirements"] += np.bincount(key, minlength=world.n_regions * world.n_fields) * world.weight
    wealth = t["wealth"][leave].sum() * world.weight
    world.book("sink:retired_wealth", wealth)
    t.remove(leave)


def set_wages(world: World) -> None:
    """Base wage × (1 + tightness × share of talent employed by modelled firms)."""
    firms = world.firms
    RF = world.n_regions * world.n_fields
    employed = group_sum(world.region_field(firms["region"], firms["field"]), firms["headcount"], RF)
    supply = np.maximum(talent_by_region_field(world), 1.0)
    share = np.minimum(employed / supply, 1.0)
    base = np.repeat(world.region_param("wage"), world.n_fields)
    world.wage = (base * (1.0 + world.scenario.labour.wage_tightness * share)).reshape(world.n_regions, world.n_fields)


def migrate(world: World) -> None:
    """Talent that weighs a move picks a region by logit utility."""
    lab = world.scenario.labour
    rng = world.streams["migration"]
    t = world.talent
    young = t["age"] < YOUNG_AGE
    considering = np.flatnonzero(rng.random(len(t)) < np.where(young, lab.young_consider_move, lab.consider_move))
    if considering.size == 0:
        return
    home = t["region"][considering].astype(np.int64)
    fld = t["field"][considering].astype(np.int64)
    wage = world.wage[:, fld].T  # (agents, regions)
    cost = world.region_param("living_cost")
    subsidy = world.levers["talent_subsidy"]
    utility = (
        lab.wage_weight * np.log(wage)
        - lab.cost_weight * np.log(cost)[None, :]
        + world.region_param("amenity")[None, :]
        + lab.subsidy_weight * young[considering, None] * subsidy[None, :] / wage
    )
    bloc = world.region_bloc
    move_cost = (
        lab.moving_cost
        + lab.distance_cost * world.distance_km / 1000.0
        + lab.bloc_cost * (bloc[:, None] != bloc[None, :])
    )
    np.fill_diagonal(move_cost, 0.0)
    utility -= move_cost[home]
    utility += rng.gumbel(size=utility.shape)
    dest = utility.argmax(axis=1)
    moved = dest != home
    rows = considering[moved]
    RF = world.n_regions * world.n_fields
    w = world.weight
    world.flows["departures"] += np.bincount(world.region_field(home[moved], fld[moved]), minlength=RF) * w
    world.flows["arrivals"] += np.bincount(world.region_field(dest[moved], fld[moved]), minlength=RF) * w
    t["region"][rows] = dest[moved]
    t["employer"][rows] = -1  # movers leave their employer


def cost_per_head(world: World) -> np.ndarray:
    """Quarterly cost of one employee per firm (wage plus other spending), million USD."""
    firms = world.firms
    wage = world.wage[firms["region"], firms["field"]]
    return wage / 4.0 / 1000.0 * (1.0 + world.scenario.entrepreneurship.burn_per_head)


def target_headcount(world: World) -> np.ndarray:
    """Headcount a firm can afford: its income plus, for a young firm, a two-year runway of its cash.

    Incumbents keep their cash as a reserve and staff to their income.
    """
    firms = world.firms
    margin = world.scenario.market.margin
    income = margin * firms["revenue_smooth"] + firms["core_income"]
    runway = np.where(firms["incumbent"], 0.0, np.maximum(firms["cash"], 0.0) / 8.0)
    affordable = (income + runway) / cost_per_head(world)
    return np.maximum(affordable, world.scenario.entrepreneurship.start_headcount)


def hire(world: World) -> None:
    """Firms move toward target headcount within the talent available; assign agents."""
    lab = world.scenario.labour
    firms = world.firms
    if len(firms) == 0:
        return
    RF = world.n_regions * world.n_fields
    key = world.region_field(firms["region"], firms["field"])
    target = target_headcount(world)
    change = world.scenario.entrepreneurship.growth_hiring * (target - firms["headcount"])
    hires = np.maximum(change, 0.0)
    room = np.maximum(lab.max_employed_share * talent_by_region_field(world) - group_sum(key, firms["headcount"], RF), 0.0)
    wanted = group_sum(key, hires, RF)
    ratio = np.divide(room, wanted, out=np.ones(RF), where=wanted > 0)
    firms["headcount"] = np.maximum(firms["headcount"] + np.minimum(change, hires * np.minimum(ratio, 1.0)[key]), 1.0)
    assign_employers(world)


def assign_employers(world: World) -> None:
    """Keep the agents employed by each firm near headcount / weight."""
    rng = world.streams["employment"]
    firms, t = world.firms, world.talent
    employer = t["employer"]
    employed_rows = np.flatnonzero(employer >= 0)
    firm_row = firms.rows_of(employer[employed_rows])
    employer[employed_rows[firm_row < 0]] = -1  # employer gone
    employed_rows, firm_row = employed_rows[firm_row >= 0], firm_row[firm_row >= 0]
    have = np.bincount(firm_row, minlength=len(firms)).astype(float)
    want = firms["headcount"] / world.weight
    # release agents of firms with too many, each with the excess share
    excess = np.divide(np.maximum(have - want - 1.0, 0.0), have, out=np.zeros_like(have), where=have > 0)
    employer[employed_rows[rng.random(employed_rows.size) < excess[firm_row]]] = -1
    # hire free agents of the firm's region-field, uniformly, for firms with too few
    need = stochastic_round(rng, np.maximum(want - have, 0.0))
    if need.sum() == 0:
        return
    free_rows = np.flatnonzero(employer < 0)
    cand_key = world.region_field(t["region"][free_rows], t["field"][free_rows])
    order = stable_group_order(cand_key)
    RF = world.n_regions * world.n_fields
    count = np.bincount(cand_key, minlength=RF)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    draws = np.repeat(np.arange(len(firms)), need)
    group = world.region_field(firms["region"], firms["field"])[draws]
    ok = count[group] > 0
    draws, group = draws[ok], group[ok]
    pick = start[group] + (rng.random(draws.size) * count[group]).astype(np.int64)
    employer[free_rows[order[pick]]] = firms.ids[draws]


def labour_step(world: World) -> None:
    """The labour phase."""
    graduate(world)
    retire(world)
    set_wages(world)
    migrate(world)
