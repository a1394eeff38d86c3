"""Innovation (C3): R&D draws, imitation and knowledge spillovers.

Keynes+Schumpeter style. A firm puts a share of its staff (or of its revenue)
into R&D, ``innovation_share`` of it on innovation and the rest on imitation.
Each is one Bernoulli draw per quarter with success chance
1 − exp(−ζ · its effort · boost), effort rising with researchers (over the
field's capital intensity) with diminishing returns.

- An innovation success changes log capability by x, x a
  Beta(step_shape, step_shape) draw rescaled to [step_low, step_high] and
  shifted up when the bloc's science stock is ahead of the firm (down when
  behind); the firm keeps the better of old and new.
- An imitation success closes a share of the gap to the best capability the
  firm can reach: its own region's best fully, other regions' best discounted
  by ``remote_reach`` and by distance (halving at ``world_halving_km``) and
  blockades.
- **Spillovers**: the boost is 1 + strength · ln(1 + K/knowledge_scale), K the related
  activity (headcount in related fields) in the own region and, with a small
  weight, regions within ``neighbour_km``. Without spillovers there is no boost
  and no imitation. With ``local_knowledge`` off, knowledge has no geography:
  every region sees the mean K and imitates every region's best alike.

The same regional boost draws talent (``labour.knowledge_weight``), which is
how spillovers concentrate activity over time.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled, economical_draws
from hardtech.engine.ops import group_max, group_sum
from hardtech.model import kernels
from hardtech.model.shared import firm_keys, regional_boost
from hardtech.model.world import World


def spillover_boost(world: World) -> np.ndarray:
    """Per firm: multiplier of R&D success from absorbed related knowledge."""
    firms = world.firms
    return regional_boost(world)[firms["region"], firms["field"]]


def rd_effort(world: World) -> np.ndarray:
    """R&D effort per firm: (researchers / capital intensity) ** rd_returns / effort_unit.

    Effort is counted in people, not money, so a cheaper city buys more of it
    with the same capital (firms staff up with their revenue and cash, see
    ``labour.target_headcount``).
    Returns to team size diminish (``rd_returns`` < 1), so small teams still
    make breakthroughs.
    """
    firms = world.firms
    inn = world.scenario.innovation
    researchers = inn.burn_rd_share * firms["headcount"]
    return (researchers / world.field_param("capital_intensity")[firms["field"]]) ** inn.rd_returns / inn.effort_unit


def innovate(world: World, effort: np.ndarray, boost: np.ndarray) -> np.ndarray:
    """Innovation draws; returns each firm's capability gain."""
    inn = world.scenario.innovation
    rng = world.streams["innovation"]
    firms = world.firms
    n = len(firms)
    if compiled():
        return _innovate_successes(world, rng, effort, boost)
    success = rng.random(n) < 1.0 - np.exp(-inn.zeta * inn.innovation_share * effort * boost)
    bloc = world.region_bloc[firms["region"]]
    tech = world.scenario.technology
    headroom = (
        tech.science_headroom
        * tech.headroom_unit
        * np.clip(
            world.science[bloc, firms["field"]] - firms["capability"], -tech.headroom_gap_cap, tech.headroom_gap_cap
        )
    )
    step = inn.step_low + (inn.step_high - inn.step_low) * rng.beta(inn.step_shape, inn.step_shape, n) + headroom
    gain = np.where(success, np.maximum(step, 0.0), 0.0)
    firms["capability"] = firms["capability"] + gain
    firms["gain_rd"] = firms["gain_rd"] + gain
    return gain


def _innovate_successes(world: World, rng: np.random.Generator, effort: np.ndarray, boost: np.ndarray) -> np.ndarray:
    """:func:`innovate` computed on the successful firms only (the same gains).

    With economical draws the step is drawn for the successes alone (the
    reference draws one for every firm and keeps the successes').
    """
    inn, tech = world.scenario.innovation, world.scenario.technology
    firms = world.firms
    n = len(firms)
    rows = np.flatnonzero(rng.random(n) < 1.0 - np.exp(-inn.zeta * inn.innovation_share * effort * boost))
    shape = inn.step_shape
    x = rng.beta(shape, shape, rows.size) if economical_draws() else rng.beta(shape, shape, n)[rows]
    region, fld = firms["region"][rows], firms["field"][rows]
    headroom = (
        tech.science_headroom
        * tech.headroom_unit
        * np.clip(
            world.science[world.region_bloc[region], fld] - firms["capability"][rows],
            -tech.headroom_gap_cap,
            tech.headroom_gap_cap,
        )
    )
    step = inn.step_low + (inn.step_high - inn.step_low) * x + headroom
    gain = np.zeros(n)
    gain[rows] = np.maximum(step, 0.0)
    firms["capability"][rows] += gain[rows]
    firms["gain_rd"][rows] += gain[rows]
    return gain


def imitate(world: World, effort: np.ndarray, boost: np.ndarray) -> None:
    """Imitation draws move followers toward the best reachable capability."""
    inn = world.scenario.innovation
    if not inn.spillovers:
        return
    rng = world.streams["imitation"]
    firms = world.firms
    R, F = world.n_regions, world.n_fields
    key = firm_keys(world)
    if compiled():
        best: np.ndarray = np.full(R * F, -np.inf)
        kernels.group_max(key, firms["capability"], best)
        best = best.reshape(R, F)
    else:
        best = group_max(key, firms["capability"], R * F, -np.inf).reshape(R, F)
    if inn.local_knowledge:
        reach = inn.remote_reach * 0.5 ** (world.distance_km / inn.world_halving_km)
    else:
        reach = np.ones_like(world.distance_km)
    reach = reach * (1.0 - world.cut["knowledge"][world.region_bloc][:, world.region_bloc].T)
    np.fill_diagonal(reach, 1.0)
    if compiled():  # the pull of the firms that succeed, only
        rows = np.flatnonzero(
            rng.random(len(firms)) < 1.0 - np.exp(-inn.zeta * (1.0 - inn.innovation_share) * effort * boost)
        )
        pull, source = np.empty(rows.size), np.empty(rows.size, np.int64)
        kernels.imitation_pull(
            best, firms["field"][rows], firms["region"][rows], firms["capability"][rows], reach, pull, source
        )
        gain = inn.imitation * pull
        firms["capability"][rows] += gain
        firms["gain_imitation"][rows] += gain
        imitated = firms["imitated_from"]  # trace only: the region imitated, −1 where nothing was gained
        imitated[:] = -1
        imitated[rows] = np.where(gain > 0, source, -1)
        world.flows["imitation_gain"] += group_sum(key[rows], gain, R * F)
        return
    gap = best[:, firms["field"]].T - firms["capability"][:, None]  # (firms, regions)
    pull = np.where(np.isfinite(gap), np.maximum(gap, 0.0), 0.0) * reach[firms["region"]]
    success = rng.random(len(firms)) < 1.0 - np.exp(-inn.zeta * (1.0 - inn.innovation_share) * effort * boost)
    gain = success * inn.imitation * pull.max(axis=1)
    firms["capability"] = firms["capability"] + gain
    firms["gain_imitation"] = firms["gain_imitation"] + gain
    # trace only (the dashboard's firm biography): the region imitated, −1 where nothing was gained
    firms["imitated_from"] = np.where(gain > 0, pull.argmax(axis=1), -1)
    world.flows["imitation_gain"] += group_sum(key, gain, R * F)


def frontier_movers(world: World) -> np.ndarray:
    """Firms now beyond the frontier their bloc had reached (they push it)."""
    firms = world.firms
    if compiled():
        out = np.empty(len(firms), np.bool_)
        kernels.beyond_frontier(
            firms["region"], firms["field"], world.region_bloc, firms["capability"], world.bloc_frontier, out
        )
        return out
    bloc = world.region_bloc[firms["region"]]
    return firms["capability"] > world.bloc_frontier[bloc, firms["field"]]
