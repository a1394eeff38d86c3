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

from typing import NamedTuple

import numpy as np

from hardtech.engine import AgentTable
from hardtech.engine.ops import GroupRanks, group_sum, stochastic_round
from hardtech.model.innovation import regional_boost
from hardtech.model.world import World, spending_per_wage

_COUNTS = "_talent_rf_counts"  # World attribute: a _Counts


class _Counts(NamedTuple):
    """Talent agents per region-field, and the talent table and version they were counted at."""

    table: AgentTable
    version: int
    counts: np.ndarray


_UNIFORMS = "_talent_uniforms"  # World attribute: a reused buffer for one uniform draw per talent agent


def talent_keys(world: World, rows: np.ndarray | None = None, slots: int = 1) -> np.ndarray:
    """Flat (region, field) group of each talent agent (or of ``rows``), times ``slots``.

    The same values as ``world.region_field(...) * slots``, as int16 when they
    fit (a fresh array: callers may add sub-classes in ``[0, slots)`` in
    place): int64 keys over millions of agents cost more than the work.
    """
    t = world.talent
    region, fld = (t["region"], t["field"]) if rows is None else (t["region"][rows], t["field"][rows])
    if world.n_regions * world.n_fields * slots > np.iinfo(np.int16).max:
        return world.region_field(region, fld) * slots
    key = np.multiply(region, world.n_fields, dtype=np.int16)
    key += fld
    if slots != 1:
        key *= slots
    return key


def talent_counts(world: World) -> np.ndarray:
    """Talent agents per (region, field), flat, int64 (kept up to date; do not modify).

    Counted once, then updated by this module's graduates, retirements and
    moves. The count is tied to the talent table's :attr:`~AgentTable.version`:
    an add or remove elsewhere makes it recount, and a module that changes
    agents' region or field in place must call ``world.talent.touch()``.
    """
    t = world.talent
    cached = getattr(world, _COUNTS, None)
    if cached is None or cached.table is not t or cached.version != t.version:
        counts = np.bincount(talent_keys(world), minlength=world.n_regions * world.n_fields)
        cached = _Counts(t, t.version, counts)
        setattr(world, _COUNTS, cached)
    return cached.counts


def _update_counts(world: World, version_before: int, delta: np.ndarray) -> None:
    """Add ``delta`` to the cached counts if they were current at ``version_before``."""
    t = world.talent
    cached = getattr(world, _COUNTS, None)
    if cached is not None and cached.table is t and cached.version == version_before:
        setattr(world, _COUNTS, _Counts(t, t.version, cached.counts + delta))


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


def talent_by_region_field(world: World) -> np.ndarray:
    """Persons per (region, field), flat."""
    return talent_counts(world).astype(float) * world.weight


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
    world.talent.add(n, region=region, field=field, age=rng.uniform(lab.graduate_age_min, lab.graduate_age_max, n),
                     skill=np.clip(rng.normal(strength, lab.skill_spread), 0, 1), employer=-1)
    added = np.bincount(world.region_field(region, field), minlength=world.n_regions * world.n_fields)
    _update_counts(world, version, added)
    world.flows["graduates"] += added * world.weight


def retire(world: World) -> None:
    """Age everyone a quarter; remove those who leave the workforce."""
    rng = world.streams["retirement"]
    t = world.talent
    age = t["age"]
    lab = world.scenario.labour
    age += 1.0 / 4.0  # a quarter; in place: float32, as before
    leave = _uniforms(world, rng) < lab.retire_rate / 4.0
    leave |= age >= lab.retirement_age
    rows = np.flatnonzero(leave)
    left = np.bincount(world.region_field(t["region"][rows], t["field"][rows]),
                       minlength=world.n_regions * world.n_fields)
    world.flows["retirements"] += left * world.weight
    wealth = t["wealth"][rows].sum() * world.weight
    world.book("sink:retired_wealth", wealth)
    version = t.version
    t.remove(leave)
    _update_counts(world, version, -left)


def set_wages(world: World) -> None:
    """Base wage × (1 + tightness × share of talent employed by modelled firms)."""
    firms = world.firms
    RF = world.n_regions * world.n_fields
    employed = group_sum(world.region_field(firms["region"], firms["field"]), firms["headcount"], RF)
    supply = np.maximum(talent_by_region_field(world), 1.0)
    share = np.minimum(employed / supply, 1.0)
    base = np.repeat(world.region_param("wage"), world.n_fields)
    world.wage = (base * (1.0 + world.scenario.labour.wage_tightness * share)).reshape(world.n_regions, world.n_fields)


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
    considering = np.flatnonzero(u < high)
    young_c = t["age"][considering] < lab.young_age
    keep = (u[considering] < low) | (young_c == (lab.young_consider_move >= lab.consider_move))
    considering, young_c = considering[keep], young_c[keep]
    if considering.size == 0:
        return
    home = t["region"][considering].astype(np.int64)
    fld = t["field"][considering].astype(np.int64)
    utility = np.where(young_c[:, None], young[:, fld].T, older[:, fld].T)  # (agents, regions)
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
    _update_counts(world, version, into - out)


def cost_per_head(world: World) -> np.ndarray:
    """Quarterly cost of one employee per firm (wage plus other spending), million USD."""
    firms = world.firms
    wage = world.wage[firms["region"], firms["field"]]
    per_wage = spending_per_wage(world.scenario, world.region_param("living_cost"))[firms["region"]]
    return wage / 4.0 / 1000.0 * per_wage


def target_headcount(world: World) -> np.ndarray:
    """Headcount a firm can afford: its income plus, for a venture, its cash spread over ``runway_quarters``.

    Incumbents keep their cash as a reserve and staff to their income.
    """
    firms = world.firms
    margin = world.scenario.market.margin
    income = margin * firms["revenue_smooth"] + firms["core_income"]
    runway = np.where(firms["incumbent"], 0.0, np.maximum(firms["cash"], 0.0) / world.scenario.entrepreneurship.runway_quarters)
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
    gone = firm_row < 0
    employer[employed_rows[gone]] = -1  # employer gone
    employed_rows, firm_row = employed_rows[~gone], firm_row[~gone]
    have = np.bincount(firm_row, minlength=len(firms)).astype(float)
    want = firms["headcount"] / world.weight
    # release agents of firms with too many, each with the excess share
    excess = np.divide(np.maximum(have - want - 1.0, 0.0), have, out=np.zeros_like(have), where=have > 0)
    released = rng.random(employed_rows.size) < excess[firm_row]
    employer[employed_rows[released]] = -1
    # hire free agents of the firm's region-field, uniformly, for firms with too few
    need = stochastic_round(rng, np.maximum(want - have, 0.0))
    if need.sum() == 0:
        return
    RF = world.n_regions * world.n_fields
    cand_key = talent_keys(world)  # a fresh array: mark the employed as in no group
    cand_key[employed_rows[~released]] = RF
    free = GroupRanks(cand_key, RF)  # the k-th free agent of a group, in row order
    count = free.counts
    draws = np.repeat(np.arange(len(firms)), need)
    group = world.region_field(firms["region"], firms["field"])[draws]
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
