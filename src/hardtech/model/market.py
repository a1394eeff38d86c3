"""Market (C1, C5, C7, C9): demand, segments, revenue shares and new scenes.

- **Demand** for a field starts when its maturity passes the field's demand
  threshold and then diffuses by the Bass model (stepped with its exact
  solution, so adoption equals the closed form at every quarter).
- Customers spend ``market_potential × adoption × usability``; usability is 0
  until maturity reaches the usability threshold. Customers who adopted before
  products were usable stay locked to legacy suppliers (incumbents and the
  fringe) and only slowly become contestable.
- Each field has one **platform** segment and many **niches** of Pareto sizes.
  A firm's share of a segment is its competitiveness over the sum of its
  rivals' plus a fringe of unmodelled suppliers. Competitiveness is
  capability relative to the world frontier, times size^scale_economies in the
  platform and fit^niche_fit_weight in a niche. Incumbents sell in the platform
  and, with a generalist's fit, in every niche of their field. Incumbents and
  the fringe spread their sales effort by market size: their presence in a
  segment is its spending over the field's largest segment's, so splitting a
  market into more, smaller segments does not multiply their weight.
- Spending is split into bloc markets by home-market weight; part of each is
  reserved for the bloc's own firms (home bias), the rest open to firms with
  access — which expansion abroad raises and blockades cut.
- A firm that pushes its bloc's frontier may define a **new scene**: a new niche
  whose spending is moved from the field's older niches (each gives up the same
  share), so scenes redistribute the field's niche spending rather than create
  it.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled
from hardtech.engine.ops import group_sum
from hardtech.model import kernels
from hardtech.model.shared import (  # bass_adoption: re-exported for hardtech.evidence
    bass_adoption,  # noqa: F401
    bass_advance,
    cost_per_head,
    density_productivity,
    effective_capability,
    locked_spending,
    segment_fields,
    segment_of,
    segment_presence,
    segment_spending,
)
from hardtech.model.world import World

# -- demand ---------------------------------------------------------------------------


def diffuse_demand(world: World) -> None:
    """Start demand where maturity passed the demand threshold; advance Bass.

    Customers who adopted before products were usable were served by legacy
    suppliers; a share ``lock_in`` of them stays with those (platform)
    suppliers and switches to new ones only at ``switch_rate`` a year.
    """
    m = world.scenario.market
    usable = world.maturity >= world.field_param("usability_threshold")
    adopted_before = world.adoption  # customers who bought before products were usable
    if not m.demand_diffusion:  # demand timing switched off: everyone is there once usable
        world.demand_onset[(world.demand_onset < 0) & usable] = world.step
        world.adoption = usable.astype(float)
    else:
        started = world.demand_onset >= 0
        newly = ~started & (world.maturity >= world.field_param("demand_threshold"))
        world.demand_onset[newly] = world.step
        active = world.demand_onset >= 0
        advanced = bass_advance(world.adoption, world.field_param("bass_p"), world.field_param("bass_q"), 1.0 / 4.0)
        world.adoption = np.where(active & ~newly, advanced, world.adoption)
    just_usable = usable & (world.usable_onset == world.step)
    world.locked = np.where(just_usable, m.lock_in * adopted_before, world.locked * (1.0 - m.switch_rate / 4.0))
    buying = world.adoption if m.revenue_needs_adopters else 1.0
    world.spending = world.field_param("market_potential") / 4.0 * buying * usable


# -- segments and revenue -----------------------------------------------------------------


def competitiveness(world: World) -> tuple[np.ndarray, np.ndarray]:
    """(competitiveness in the firm's own segment, an incumbent's in a niche)."""
    m = world.scenario.market
    firms = world.firms
    rel = effective_capability(world) - world.frontier[firms["field"]]
    base = np.exp(m.capability_weight * np.minimum(rel, m.capability_lead_cap))
    platform = firms["segment"] < 0
    base = base * density_productivity(world)
    if compiled():  # each firm's power of the one it needs (scale in the platform, fit in a niche)
        rows = np.flatnonzero(platform)
        other = np.flatnonzero(~platform)
        factor = np.empty(len(firms))
        factor[rows] = np.power(
            np.maximum(firms["headcount"][rows], 1.0) / m.scale_reference_headcount, m.scale_economies
        )
        factor[other] = np.power(np.clip(firms["fit"][other], m.fit_floor, 1.0), m.niche_fit_weight)
        own = base * factor
    else:
        scale = np.power(np.maximum(firms["headcount"], 1.0) / m.scale_reference_headcount, m.scale_economies)
        fit = np.power(np.clip(firms["fit"], m.fit_floor, 1.0), m.niche_fit_weight)
        own = base * np.where(platform, scale, fit)
    in_niche = base * m.incumbent_niche_fit**m.niche_fit_weight * firms["incumbent"]
    return own, in_niche


def market_access(world: World) -> np.ndarray:
    """(firm, bloc market) access 0–1 to the open part of each bloc's market."""
    m = world.scenario.market
    firms = world.firms
    bloc = world.region_bloc[firms["region"]]
    B = len(world.bloc_names)
    if compiled():
        access = np.empty((len(firms), B))
        kernels.market_access(
            bloc, firms["expanded"], m.foreign_access, m.expansion_enabled, world.cut["market"].T, access
        )
        return access
    foreign = (
        np.where(firms["expanded"], 1.0, m.foreign_access)
        if m.expansion_enabled
        else np.full(len(firms), m.foreign_access)
    )
    acc = np.where(np.arange(B)[None, :] == bloc[:, None], 1.0, foreign[:, None])
    return acc * (1.0 - world.cut["market"].T[bloc])  # market b (imposer) closed to target bloc


def allocate_revenue(world: World) -> None:
    """Split every segment's spending in every bloc market among its firms."""
    firms = world.firms
    m = world.scenario.market
    n = len(firms)
    F, B = world.n_fields, len(world.bloc_names)
    spend = segment_spending(world)
    S = len(spend)
    if n == 0:
        return
    seg = segment_of(world)
    own, in_niche = competitiveness(world)
    bloc = world.region_bloc[firms["region"]]
    access = market_access(world)
    home = world.region_param("home_market")
    market_share = np.bincount(world.region_bloc, weights=home, minlength=B) / home.sum()
    niche_field = world.niches["field"]
    # unmodelled suppliers: a fringe a little behind the frontier (the bloc's own
    # frontier in a bloc's reserved market), of middling size and fit
    seg_field = segment_fields(world)
    presence = segment_presence(world, segment_spending(world, world.field_param("market_potential")))
    fringe_scale = (m.fringe_headcount / m.scale_reference_headcount) ** m.scale_economies
    fringe_size = m.fringe * np.concatenate(
        [np.full(F, fringe_scale), np.full(S - F, m.fringe_fit**m.niche_fit_weight)]
    )
    fringe_shape = presence * fringe_size
    legacy = own * (firms["incumbent"] & (seg < F))  # who may serve locked-in customers
    legacy_spend = locked_spending(world)
    own = own * np.where(firms["incumbent"], presence[seg], 1.0)
    own_revenue = np.zeros(n)
    share = np.zeros(n)
    incumbent_niche_revenue = np.zeros(n)
    if compiled():
        _allocate_compiled(
            world,
            seg,
            bloc,
            own,
            in_niche,
            legacy,
            access,
            spend,
            seg_field,
            fringe_shape,
            fringe_size,
            presence,
            niche_field,
            market_share,
            legacy_spend,
            own_revenue,
            share,
            incumbent_niche_revenue,
        )
        return
    for b in range(B):
        own_lag = np.minimum(world.bloc_frontier[b] - world.frontier, 0.0)
        for part, eligible, lag in (
            (m.home_bias, (bloc == b).astype(float), own_lag),
            (1.0 - m.home_bias, access[:, b], np.zeros(F)),
        ):
            fringe_weight = np.exp(m.capability_weight * (lag - m.fringe_gap))  # per field
            fringe = fringe_shape * fringe_weight[seg_field]
            budget = spend * market_share[b] * part
            w_own = own * eligible
            w_inc = in_niche * eligible
            denom = group_sum(seg, w_own, S) + fringe
            denom[F:] += group_sum(firms["field"], w_inc, F)[niche_field] * presence[F:]
            per_weight = np.divide(budget, denom, out=np.zeros(S), where=denom > 0)
            own_revenue += w_own * per_weight[seg]
            share += market_share[b] * part * np.divide(w_own, denom[seg], out=np.zeros(n), where=denom[seg] > 0)
            niche_value = group_sum(niche_field, per_weight[F:] * presence[F:], F)  # Σ over a field's niches
            incumbent_niche_revenue += w_inc * niche_value[firms["field"]]
            # locked-in customers: incumbents and the fringe only
            w_legacy = legacy * eligible
            legacy_denom = group_sum(firms["field"], w_legacy, F) + fringe_size[:F] * fringe_weight  # fully present
            legacy_per_weight = np.divide(
                legacy_spend * market_share[b] * part, legacy_denom, out=np.zeros(F), where=legacy_denom > 0
            )
            own_revenue += w_legacy * legacy_per_weight[firms["field"]]
    # a firm delivers at most what its staff can; unserved demand goes to the fringe
    total = own_revenue + incumbent_niche_revenue
    firms["demand"] = total
    if m.capacity_ratio > 0:
        capacity = m.capacity_ratio * np.maximum(firms["headcount"], 1.0) * cost_per_head(world)
        served = np.divide(np.minimum(total, capacity), total, out=np.ones(n), where=total > 0)
        own_revenue, incumbent_niche_revenue, share = (
            own_revenue * served,
            incumbent_niche_revenue * served,
            share * served,
        )
    firms["segment_share"] = share
    firms["niche_revenue"] = own_revenue * (seg >= F) + incumbent_niche_revenue
    firms["revenue"] = own_revenue + incumbent_niche_revenue
    _procure(world, own)
    world.book("source:revenue", firms["revenue"].sum())


def _allocate_compiled(
    world: World,
    seg,
    bloc,
    own,
    in_niche,
    legacy,
    access,
    spend,
    seg_field,
    fringe_shape,
    fringe_size,
    presence,
    niche_field,
    market_share,
    legacy_spend,
    own_revenue,
    share,
    incumbent_niche_revenue,
) -> None:
    """The same allocation as :func:`allocate_revenue`'s loop, by :func:`kernels.allocate_revenue`."""
    firms, m = world.firms, world.scenario.market
    F, B = world.n_fields, len(world.bloc_names)
    fringe_weight = np.empty((B, 2, F))
    for b in range(B):
        own_lag = np.minimum(world.bloc_frontier[b] - world.frontier, 0.0)
        fringe_weight[b, 0] = np.exp(m.capability_weight * (own_lag - m.fringe_gap))
        fringe_weight[b, 1] = np.exp(m.capability_weight * (np.zeros(F) - m.fringe_gap))
    field = firms["field"].astype(np.int64)
    kernels.allocate_revenue(
        seg,
        field,
        bloc.astype(np.int64),
        own,
        in_niche,
        legacy,
        access,
        spend,
        seg_field,
        fringe_shape,
        fringe_size,
        fringe_weight,
        presence,
        niche_field.astype(np.int64),
        market_share,
        m.home_bias,
        legacy_spend,
        own_revenue,
        share,
        incumbent_niche_revenue,
    )
    firms["demand"] = own_revenue + incumbent_niche_revenue
    if m.capacity_ratio > 0:
        capacity = m.capacity_ratio * np.maximum(firms["headcount"], 1.0) * cost_per_head(world)
        kernels.serve_demand(own_revenue, incumbent_niche_revenue, share, capacity)
    firms["segment_share"] = share
    firms["niche_revenue"] = own_revenue * (seg >= F) + incumbent_niche_revenue
    firms["revenue"] = own_revenue + incumbent_niche_revenue
    _procure(world, own)
    world.book("source:revenue", firms["revenue"].sum())


def _procure(world: World, own: np.ndarray) -> None:
    """Governments buy niche products from young local firms (scenario opening)."""
    firms = world.firms
    budget = world.levers["procurement"] / 4.0
    if not budget.any():
        world.flows["procurement"] = np.zeros(world.n_fields)
        return
    m = world.scenario.market
    young = firms["founded"] > world.step - m.procurement_age_years * 4
    eligible = (
        young
        & ~firms["incumbent"]
        & (firms["segment"] >= 0)
        & (world.maturity[firms["field"]] > m.procurement_maturity)
    )
    w = own * eligible
    total = group_sum(firms["region"], w, world.n_regions)
    paid = np.divide(budget, total, out=np.zeros_like(total), where=total > 0)[firms["region"]] * w
    firms["revenue"] = firms["revenue"] + paid
    firms["niche_revenue"] = firms["niche_revenue"] + paid
    firms["demand"] = firms["demand"] + paid
    world.flows["procurement"] = group_sum(firms["field"], paid, world.n_fields)  # public spending per field


def book_gross_profit(world: World) -> None:
    """Revenue less direct costs goes to cash."""
    firms = world.firms
    margin = world.scenario.market.margin
    w = world.scenario.market.revenue_smoothing
    if compiled():
        kernels.gross_profit(firms["cash"], firms["revenue"], firms["core_income"], firms["revenue_smooth"], margin, w)
    else:
        firms["cash"] = firms["cash"] + margin * firms["revenue"] + firms["core_income"]
        firms["revenue_smooth"] = (1.0 - w) * firms["revenue_smooth"] + w * firms["revenue"]
    world.book("sink:direct_costs", (1.0 - margin) * firms["revenue"].sum())
    world.book("source:core_business", firms["core_income"].sum())


def market_step(world: World) -> None:
    """The market phase: demand, then revenue."""
    diffuse_demand(world)
    allocate_revenue(world)
    book_gross_profit(world)


# -- scenes -----------------------------------------------------------------------------
def define_scenes(world: World, movers: np.ndarray) -> None:
    """Frontier-moving firms may open a new niche; they start in it with high fit.

    The new niche's spending comes from the field's older niches: the niche
    sizes are renormalised to the field's niche total. With
    ``scene_needs_frontier`` off, as many scenes (in expectation) are opened by
    non-incumbent firms drawn at random, whatever their capability.
    """
    rng = world.streams["scenes"]
    firms = world.firms
    m = world.scenario.market
    candidates = ~firms["incumbent"]
    chance = np.full(len(firms), m.scene_rate)
    if not m.scene_needs_frontier:  # same expected count, spread over every candidate
        # numpy's stubs type count_nonzero() as np.intp (a Python int at run time), which max() then loses
        chance *= np.count_nonzero(movers & candidates) / max(np.count_nonzero(candidates), 1)  # type: ignore[operator]
        movers = candidates
    chosen = movers & (rng.random(len(firms)) < chance) & candidates
    rows = np.flatnonzero(chosen)
    if rows.size == 0:
        return
    alpha = world.field_param("niche_alpha")[firms["field"][rows]]
    start_niches = world.field_param("niches")[firms["field"][rows]]
    # same size law as the start niches (whose sizes sum to 1); one new scene is
    # capped at max_scene_size of the start niches' total, since the
    # Pareto tail would otherwise allow a single niche larger than the whole field
    mean_total = start_niches * alpha / np.maximum(alpha - 1.0, m.scene_alpha_floor)  # niches × the Pareto mean
    size = np.minimum((rng.pareto(alpha) + 1.0) / mean_total, m.max_scene_size)
    ids = world.niches.add(rows.size, field=firms["field"][rows], size=size, definer=firms.ids[rows], opened=world.step)
    # spending moves from older niches: a field's niche sizes are read relative to their total
    world.niche_base = np.bincount(world.niches["field"], weights=world.niches["size"], minlength=world.n_fields)
    firms["segment"][rows] = ids
    firms["fit"][rows] = np.maximum(firms["fit"][rows], m.scene_fit)
    world.event("scene_defined", rows, size)
    key = world.region_field(firms["region"][rows], firms["field"][rows])
    RF = world.n_regions * world.n_fields
    world.flows["scenes"] += np.bincount(key, minlength=RF)
    # scenes defined by firms founded as technology followers, and what carried their catch-up
    follower = firms["founding_gap"][rows] >= world.scenario.dragon.follower_gap
    world.flows["follower_scenes"] += np.bincount(key, weights=follower, minlength=RF)
    for source in ("rd", "imitation", "partners"):
        world.flows[f"scene_gain_{source}"] += np.bincount(
            key, weights=follower * firms[f"gain_{source}"][rows], minlength=RF
        )
