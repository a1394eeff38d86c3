"""Cooperation (C7): links by proximity and field, shared R&D, pooled risk.

- Each quarter a firm seeks a partner with chance ``link_rate`` × (1 + the
  region's cluster programme). The partner's region-field is drawn ∝
  exp(−distance / scale) × field relatedness (× cross-bloc openness), then a
  firm within it at random.
- A firm absorbs ``share_rd`` of each partner's R&D gain this quarter (up to
  the partner's level).
- A firm short of cash is covered by partners, each offering ``risk_pool`` of
  its cash beyond ``reserve_quarters`` of its own costs, split over its partners.
- Every link costs each partner ``link_cost`` person-quarters of staff time a
  quarter, so links can hurt: a firm pays for partners whose R&D it may never
  use, and helps partners who may fail anyway.
- Links lapse at ``link_decay`` a quarter and when a partner closes.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from hardtech.engine import AgentTable
from hardtech.engine.jit import compiled
from hardtech.engine.ops import choose_by_row, choose_within_groups, is_in
from hardtech.model import kernels
from hardtech.model.shared import cost_per_head, firm_keys
from hardtech.model.world import World


class _Ends(NamedTuple):
    """Cached link endpoints: the tables and versions they were found at, and both ends' rows."""

    firms: AgentTable
    firms_version: int
    links: AgentTable
    links_version: int
    a: np.ndarray
    b: np.ndarray


_ENDS = "_link_endpoints"  # World attribute: an _Ends


def _endpoints(world: World) -> tuple[np.ndarray, np.ndarray]:
    """Rows of both ends of every link (links to closed firms dropped first; read-only).

    Kept while neither table changes (sharing R&D, paying for links and pooling
    risk in one quarter read the same rows).
    """
    links, firms = world.links, world.firms
    cached = getattr(world, _ENDS, None)
    if (
        cached is not None
        and cached.firms is firms
        and cached.firms_version == firms.version
        and cached.links is links
        and cached.links_version == links.version
    ):
        return cached.a, cached.b
    a, b = firms.rows_of(links["a"]), firms.rows_of(links["b"])
    gone = (a < 0) | (b < 0)
    if gone.any():
        links.remove(gone)
        a, b = a[~gone], b[~gone]
    a.setflags(write=False)
    b.setflags(write=False)
    setattr(world, _ENDS, _Ends(firms, firms.version, links, links.version, a, b))
    return a, b


def form_links(world: World) -> None:
    """Firms seek partners near them and in related fields."""
    coop = world.scenario.cooperation
    firms = world.firms
    if not coop.enabled or len(firms) < 2:  # a link needs two firms
        return
    rng = world.streams["cooperation"]
    rate = coop.link_rate * (1.0 + world.levers["cluster_programme"][firms["region"]])
    seekers = np.flatnonzero(rng.random(len(firms)) < rate)
    if seekers.size == 0:
        return
    R, F = world.n_regions, world.n_fields
    near = np.exp(-world.distance_km / coop.distance_decay_km)
    open_flow = 1.0 - world.cut["knowledge"][world.region_bloc][:, world.region_bloc]
    affinity = np.einsum("rs,fg->rfsg", near * np.minimum(open_flow, open_flow.T), world.related).reshape(R * F, R * F)
    key = firm_keys(world)
    target_group = choose_by_row(rng, affinity, key[seekers])
    partner = choose_within_groups(rng, key, np.ones(len(firms)), target_group)
    ok = (partner >= 0) & (partner != seekers)
    a, b = firms.ids[seekers[ok]], firms.ids[partner[ok]]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    existing = world.links["a"] * (firms.next_id + 1) + world.links["b"]
    new = lo * (firms.next_id + 1) + hi
    _, first = np.unique(new, return_index=True)
    keep = np.zeros(len(new), bool)
    keep[first] = True
    keep &= ~is_in(new, existing)
    world.links.add(int(keep.sum()), a=lo[keep], b=hi[keep], formed=world.step)


def share_rd(world: World) -> None:
    """Partners absorb part of each other's R&D gains this quarter."""
    coop = world.scenario.cooperation
    firms = world.firms
    if not coop.enabled or len(world.links) == 0:
        return
    a, b = _endpoints(world)
    gain = firms["rd_gain"]
    cap = firms["capability"]
    take_a = np.minimum(coop.share_rd * gain[b], np.maximum(cap[b] - cap[a], 0.0))
    take_b = np.minimum(coop.share_rd * gain[a], np.maximum(cap[a] - cap[b], 0.0))
    absorbed = np.bincount(a, weights=take_a, minlength=len(firms)) + np.bincount(
        b, weights=take_b, minlength=len(firms)
    )
    firms["capability"] = cap + absorbed
    firms["gain_partners"] = firms["gain_partners"] + absorbed


def maintain_links(world: World) -> None:
    """Each partner spends ``link_cost`` person-quarters of staff time per link (paid at its cost per head)."""
    coop = world.scenario.cooperation
    firms = world.firms
    if not coop.enabled or coop.link_cost == 0 or len(world.links) == 0:
        return
    a, b = _endpoints(world)
    ends = np.bincount(a, minlength=len(firms)) + np.bincount(b, minlength=len(firms))
    cost = coop.link_cost * ends * cost_per_head(world)
    firms["cash"] = firms["cash"] - cost
    world.book("sink:link_costs", cost.sum())


def pool_risk(world: World) -> None:
    """Partners with spare cash cover a firm's shortfall (money moves, none is made)."""
    coop = world.scenario.cooperation
    firms = world.firms
    if not coop.enabled or len(world.links) == 0:
        return
    a, b = _endpoints(world)
    n = len(firms)
    cash = firms["cash"]
    shortfall = np.maximum(-cash, 0.0)
    if not shortfall.any():
        return
    if compiled():
        covered = np.empty(n)
        kernels.pool_risk(
            a,
            b,
            cash,
            shortfall,
            firms["headcount"],
            cost_per_head(world),
            coop.reserve_quarters,
            coop.risk_pool,
            covered,
        )
        world.flows["risk_pooled"] += float(covered.sum())
        return
    spare = np.maximum(cash - coop.reserve_quarters * firms["headcount"] * cost_per_head(world), 0.0)
    degree = np.bincount(a, minlength=n) + np.bincount(b, minlength=n)
    offer = coop.risk_pool * spare / np.maximum(degree, 1)
    # each edge carries offers both ways; only toward a firm in shortfall
    to_a = offer[b] * (shortfall[a] > 0)
    to_b = offer[a] * (shortfall[b] > 0)
    offered = np.bincount(a, weights=to_a, minlength=n) + np.bincount(b, weights=to_b, minlength=n)
    scale = np.divide(np.minimum(shortfall, offered), offered, out=np.zeros(n), where=offered > 0)
    to_a, to_b = to_a * scale[a], to_b * scale[b]
    received = np.bincount(a, weights=to_a, minlength=n) + np.bincount(b, weights=to_b, minlength=n)
    given = np.bincount(b, weights=to_a, minlength=n) + np.bincount(a, weights=to_b, minlength=n)
    firms["cash"] = cash + received - given
    world.flows["risk_pooled"] += float(received.sum())


def decay_links(world: World) -> None:
    """Links lapse at random."""
    coop = world.scenario.cooperation
    if len(world.links) == 0:
        return
    _endpoints(world)
    lapse = world.streams["cooperation"].random(len(world.links)) < coop.link_decay
    world.links.remove(lapse)
