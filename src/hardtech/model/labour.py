"""Labour (C2): graduates, retirement, wages, migration and hiring.

- Universities add graduates each quarter; talent ages and leaves the
  workforce (a yearly hazard, and everyone at ``retirement_age``).
- The wage of a region-field rises with the share of its talent the modelled
  firms employ (labour-market tightness).
- Each quarter a share of talent (more of the young) weighs a move. The choice
  is a logit over regions on log wage − log living cost + amenity + (for the
  young) the settling subsidy relative to the wage + the log spillover boost
  in the person's field (people move where they learn most) − a moving cost
  that grows with distance and across blocs.
- Firms hire toward their target headcount, limited by the region-field's
  available talent; employed talent agents carry their employer's id (a
  talent agent stands for ``weight`` persons, so firms employ agents in
  proportion ``headcount / weight``).

Talent runs to millions of agents at full scale, so this module avoids
full-length 8-byte temporaries: (region, field) keys are int16, the agents
per region-field are counted once and then kept up to date from the flows
(graduates, retirements, moves), and hiring finds the k-th free agent of a
region-field with :class:`~hardtech.engine.ops.GroupRanks` instead of sorting
every free agent.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled
from hardtech.engine.ops import GroupRanks, group_sum, stochastic_round
from hardtech.model import kernels
from hardtech.model.shared import (
    cost_per_head,
    firm_keys,
    regional_boost,
    set_wages,
    talent_by_region_field,
    talent_keys,
    update_talent_counts,
)
from hardtech.model.world import World

_UNIFORMS = "_talent_uniforms"  # World attribute: a reused buffer for one uniform draw per talent agent


def _uniforms(world: World, rng: np.random.Generator) -> np.ndarray:
    """``rng.random(len(world.talent))``, the same numbers, drawn into a buffer kept on the world.

    Saves allocating (and page-faulting) a fresh multi-megabyte array twice a
    quarter; the result is valid until the next call.
    """
    n = len(world.talent)
    buf = getattr(world, _UNIFORMS, None)
    if buf is None or buf.size < n:
        buf = np.empty(max(n, world.talent.capacity))
        setattr(world, _UNIFORMS, buf)
    return rng.random(out=buf[:n])


def graduate(world: World) -> None:
    """Universities add new graduates; their fields follow the fields' opportunity."""
    rng = world.streams["graduates"]
    rate = world.region_param("graduate_rate") * world.region_param("talent") / 4.0
    counts = stochastic_round(rng, rate / world.weight)
    n = int(counts.sum())
    if n == 0:
        return
    region = np.repeat(np.arange(world.n_regions), counts)
    lab = world.scenario.labour
    pull = lab.field_choice_base + world.maturity  # students follow maturing technologies
    field = rng.choice(world.n_fields, n, p=pull / pull.sum())
    strength = world.region_param("university_strength")[region]
    version = world.talent.version
    world.talent.add(
        n,
        region=region,
        field=field,
        age=rng.uniform(lab.graduate_age_min, lab.graduate_age_max, n),
        skill=np.clip(rng.normal(strength, lab.skill_spread), 0, 1),
        employer=-1,
    )
    added = np.bincount(world.region_field(region, field), minlength=world.n_regions * world.n_fields)
    update_talent_counts(world, version, added)
    world.flows["graduates"] += added * world.weight


def retire(world: World) -> None:
    """Age everyone a quarter; remove those who leave the workforce."""
    rng = world.streams["retirement"]
    t = world.talent
    age = t["age"]
    lab = world.scenario.labour
    if compiled():
        leave = np.empty(len(t), np.bool_)
        kernels.retire_pass(age, _uniforms(world, rng), lab.retire_rate / 4.0, np.float32(lab.retirement_age), leave)
    else:
        age += 1.0 / 4.0  # a quarter; in place: float32, as before
        leave = _uniforms(world, rng) < lab.retire_rate / 4.0
        leave |= age >= lab.retirement_age
    rows = np.flatnonzero(leave)
    left = np.bincount(
        world.region_field(t["region"][rows], t["field"][rows]), minlength=world.n_regions * world.n_fields
    )
    world.flows["retirements"] += left * world.weight
    wealth = t["wealth"][rows].sum() * world.weight
    world.book("sink:retired_wealth", wealth)
    version = t.version
    t.remove(leave)
    update_talent_counts(world, version, -left)


def place_utility(world: World) -> tuple[np.ndarray, np.ndarray]:
    """(region, field) logit utility of living and working in a region, for (older, young) talent.

    log wage − log living cost + amenity + the log spillover boost in the
    field, each with its weight; the young add the settling subsidy relative
    to the wage. Moving costs come on top, per origin (:func:`migrate`).
    """
    lab = world.scenario.labour
    cost = world.region_param("living_cost")
    older = (
        lab.wage_weight * np.log(world.wage)
        - lab.cost_weight * np.log(cost)[:, None]
        + world.region_param("amenity")[:, None]
    )
    if lab.knowledge_weight:
        older = older + lab.knowledge_weight * np.log(regional_boost(world))
    young = older + lab.subsidy_weight * world.levers["talent_subsidy"][:, None] / world.wage
    return older, young


def migrate(world: World) -> None:
    """Talent that weighs a move picks a region by logit utility."""
    lab = world.scenario.labour
    rng = world.streams["migration"]
    t = world.talent
    older, young = place_utility(world)
    world.flows["place_utility"] = young.mean(axis=1)  # what a young newcomer sees, mean over fields
    # who weighs a move: u < (young ? young_consider_move : consider_move), one
    # uniform per agent; only agents under the larger threshold need their age
    u = _uniforms(world, rng)
    low, high = sorted((lab.consider_move, lab.young_consider_move))
    young_more = lab.young_consider_move >= lab.consider_move
    if compiled():
        considering, young_c = np.empty(len(t), np.int64), np.empty(len(t), np.bool_)
        k = kernels.considering_pass(
            u, t["age"], low, high, np.float32(lab.young_age), young_more, considering, young_c
        )
        considering, young_c = considering[:k], young_c[:k]
    else:
        considering = np.flatnonzero(u < high)
        young_c = t["age"][considering] < lab.young_age
        keep = (u[considering] < low) | (young_c == young_more)
        considering, young_c = considering[keep], young_c[keep]
    if considering.size == 0:
        return
    home = t["region"][considering].astype(np.int64)
    fld = t["field"][considering].astype(np.int64)
    bloc = world.region_bloc
    move_cost = (
        lab.moving_cost
        + lab.distance_cost * world.distance_km / 1000.0
        + lab.bloc_cost * (bloc[:, None] != bloc[None, :])
    )
    np.fill_diagonal(move_cost, 0.0)
    if compiled():
        dest = np.empty(considering.size, np.int64)
        kernels.migration_choice(
            home, fld, young_c, older, young, move_cost, rng.gumbel(size=(considering.size, world.n_regions)), dest
        )
    else:
        utility = np.where(young_c[:, None], young[:, fld].T, older[:, fld].T)  # (agents, regions)
        utility -= move_cost[home]
        utility += rng.gumbel(size=utility.shape)
        dest = utility.argmax(axis=1)
    moved = dest != home
    rows = considering[moved]
    RF = world.n_regions * world.n_fields
    w = world.weight
    out = np.bincount(world.region_field(home[moved], fld[moved]), minlength=RF)
    into = np.bincount(world.region_field(dest[moved], fld[moved]), minlength=RF)
    world.flows["departures"] += out * w
    world.flows["arrivals"] += into * w
    # origin → destination persons, for the recorded region_flows table (no rule reads it)
    R = world.n_regions
    world.flows["talent_od"] += np.bincount(home[moved] * R + dest[moved], minlength=R * R) * w
    version = t.version
    t["region"][rows] = dest[moved]
    t["employer"][rows] = -1  # movers leave their employer
    update_talent_counts(world, version, into - out)


def target_headcount(world: World) -> np.ndarray:
    """Headcount a firm can afford: its income plus, for a venture, its cash spread over ``runway_quarters``.

    Incumbents keep their cash as a reserve and staff to their income.
    """
    firms = world.firms
    margin = world.scenario.market.margin
    income = margin * firms["revenue_smooth"] + firms["core_income"]
    runway = np.where(
        firms["incumbent"], 0.0, np.maximum(firms["cash"], 0.0) / world.scenario.entrepreneurship.runway_quarters
    )
    affordable = (income + runway) / cost_per_head(world)
    return np.maximum(affordable, world.scenario.entrepreneurship.start_headcount)


def hire(world: World) -> None:
    """Firms move toward target headcount within the talent available; assign agents."""
    lab = world.scenario.labour
    firms = world.firms
    if len(firms) == 0:
        return
    RF = world.n_regions * world.n_fields
    key = firm_keys(world)
    if compiled():
        ent = world.scenario.entrepreneurship
        kernels.hire_headcount(
            key,
            firms["revenue_smooth"],
            firms["core_income"],
            firms["cash"],
            firms["incumbent"],
            firms["headcount"],
            cost_per_head(world),
            talent_by_region_field(world),
            world.scenario.market.margin,
            ent.runway_quarters,
            ent.start_headcount,
            ent.growth_hiring,
            lab.max_employed_share,
        )
        assign_employers(world)
        return
    target = target_headcount(world)
    change = world.scenario.entrepreneurship.growth_hiring * (target - firms["headcount"])
    hires = np.maximum(change, 0.0)
    room = np.maximum(
        lab.max_employed_share * talent_by_region_field(world) - group_sum(key, firms["headcount"], RF), 0.0
    )
    wanted = group_sum(key, hires, RF)
    ratio = np.divide(room, wanted, out=np.ones(RF), where=wanted > 0)
    firms["headcount"] = np.maximum(firms["headcount"] + np.minimum(change, hires * np.minimum(ratio, 1.0)[key]), 1.0)
    assign_employers(world)


def assign_employers(world: World) -> None:
    """Keep the agents employed by each firm near headcount / weight."""
    rng = world.streams["employment"]
    firms, t = world.firms, world.talent
    employer = t["employer"]
    RF = world.n_regions * world.n_fields
    if compiled():
        have = np.zeros(len(firms))
        employed_rows, firm_row = np.empty(len(t), np.int64), np.empty(len(t), np.int64)
        k = kernels.employment_pass(employer, firms.row_lookup(), have, employed_rows, firm_row)
        employed_rows, firm_row = employed_rows[:k], firm_row[:k]
    else:
        employed_rows = np.flatnonzero(employer >= 0)
        firm_row = firms.rows_of(employer[employed_rows])
        gone = firm_row < 0
        employer[employed_rows[gone]] = -1  # employer gone
        employed_rows, firm_row = employed_rows[~gone], firm_row[~gone]
        have = np.bincount(firm_row, minlength=len(firms)).astype(float)
    want = firms["headcount"] / world.weight
    # release agents of firms with too many, each with the excess share
    excess = np.divide(np.maximum(have - want - 1.0, 0.0), have, out=np.zeros_like(have), where=have > 0)
    u = rng.random(employed_rows.size)
    cand_key = talent_keys(world)  # a fresh array: mark the employed as in no group
    if compiled():
        kernels.release_pass(u, excess, employed_rows, firm_row, employer, cand_key, RF)
    else:
        released = u < excess[firm_row]
        employer[employed_rows[released]] = -1
        cand_key[employed_rows[~released]] = RF
    # hire free agents of the firm's region-field, uniformly, for firms with too few
    need = stochastic_round(rng, np.maximum(want - have, 0.0))
    if need.sum() == 0:
        return
    free = GroupRanks(cand_key, RF)  # the k-th free agent of a group, in row order
    count = free.counts
    draws = np.repeat(np.arange(len(firms)), need)
    group = firm_keys(world)[draws]
    ok = count[group] > 0
    draws, group = draws[ok], group[ok]
    pick = (rng.random(draws.size) * count[group]).astype(np.int64)
    pick = np.minimum(pick, count[group] - 1)  # u·count can round up to count
    employer[free.nth(group, pick)] = firms.ids[draws]


def labour_step(world: World) -> None:
    """The labour phase."""
    graduate(world)
    retire(world)
    set_wages(world)
    migrate(world)
