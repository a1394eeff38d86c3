"""Capital (C4): investor pools, rounds on milestones, exits and recycling.

- Each region has an investor pool fed by outside limited partners and by
  founders who reinvest exit wealth (angels); it pays a share back to its
  limited partners every year.
- A venture-backed firm running out of runway raises its next round if it
  has reached a milestone since the last one (capability gained, or revenue
  grown) and an investor judges it good enough; round sizes grow by stage,
  and a pool commits at most ``deploy_rate`` of its capital a quarter.
- Valuation is a field multiple of annual revenue, lifted by growth, and never
  below the last round's price as it fades. Investors pay more for a private
  firm when their pools hold more money than firms ask for, less when money
  is short ("money chasing deals").
- Old enough firms with revenue exit (IPO above ``ipo_valuation``, trade sale
  below). Proceeds go to the lead investor's pool and the founder — the
  closed loop — or, without recycling, leave the region.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import compiled
from hardtech.engine.ops import ordered_matmul
from hardtech.model import kernels
from hardtech.model.shared import (
    cost_per_head,
    forward_spending,
    investor_region,
    opportunity,
    pool_weights,
    segment_of,
    within_pool_capacity,
)
from hardtech.model.world import World


def fund_pools(world: World) -> None:
    """Limited partners (and public fund injections) pay in; pools pay out; founders reinvest as angels."""
    cap = world.scenario.capital
    inflow = world.region_param("lp_inflow") / 4.0
    injection = world.levers["fund_injection"] / 4.0
    outflow = cap.pool_outflow / 4.0 * np.maximum(world.pool, 0.0)
    world.pool += inflow + injection - outflow
    world.book("source:lp_inflow", inflow.sum())
    world.book("source:fund_injection", injection.sum())
    world.book("sink:lp_distributions", outflow.sum())
    t = world.talent
    rich = np.flatnonzero(t["wealth"] > 0)
    if rich.size:
        angel = cap.angel_rate / 4.0 * t["wealth"][rich]
        t["wealth"][rich] -= angel
        to_pool = np.bincount(t["region"][rich], weights=angel * world.weight, minlength=world.n_regions)
        world.pool += to_pool
        world.flows["angel"] += to_pool


def revalue(world: World) -> None:
    """Valuation: a field multiple of revenue or of expected spending, with floors and fades.

    The multiple applies to current revenue (lifted by growth) or the firm's share of the spending
    expected ``prospect_years`` ahead, discounted by ``prospect_discount``; times the deal price of
    its region if private, floored by the price of its last round, fading by ``round_price_fade`` a
    quarter.
    """
    cap = world.scenario.capital
    firms = world.firms
    multiple = world.field_param("revenue_multiple")[firms["field"]]
    if compiled():
        ahead = forward_spending(world, cap.prospect_years)[segment_of(world)]
        fade_by_age = cap.round_price_fade ** np.arange(
            max(world.step - int(firms["round_step"].min(initial=0)), 0) + 1
        )
        kernels.revalue(
            firms["revenue"],
            firms["revenue_smooth"],
            firms["segment_share"],
            firms["post_money"],
            firms["post_money_par"],
            firms["round_step"],
            firms["public"],
            firms["incumbent"],
            firms["region"],
            multiple,
            ahead,
            world.deal_price,
            fade_by_age,
            world.step,
            cap.growth_lift_cap,
            cap.prospect_discount,
            firms["valuation"],
            firms["valuation_par"],
        )
        return
    growth = np.clip(
        np.divide(firms["revenue"], firms["revenue_smooth"], out=np.ones(len(firms)), where=firms["revenue_smooth"] > 0)
        - 1.0,
        0.0,
        cap.growth_lift_cap,
    )
    # private firms are priced by the venture market, public ones by the stock market
    price = np.where(firms["public"] | firms["incumbent"], 1.0, world.deal_price[firms["region"]])
    by_revenue = price * multiple * 4.0 * firms["revenue_smooth"] * (1.0 + growth)
    ahead = forward_spending(world, cap.prospect_years)[segment_of(world)]
    by_prospect = price * multiple * 4.0 * firms["segment_share"] * ahead * cap.prospect_discount
    fade = cap.round_price_fade ** np.maximum(world.step - firms["round_step"], 0)
    firms["valuation"] = np.maximum(np.maximum(by_revenue, by_prospect), firms["post_money"] * fade)
    # the same firm at balanced money (deal price 1): dragons counted this way do not owe their count to prices
    firms["valuation_par"] = np.maximum(np.maximum(by_revenue, by_prospect) / price, firms["post_money_par"] * fade)


def raise_rounds(world: World) -> None:
    """Firms short of runway raise a round at a milestone if an investor agrees."""
    cap = world.scenario.capital
    rng = world.streams["rounds"]
    firms = world.firms
    n = len(firms)
    if n == 0:
        return
    per_head = cost_per_head(world)
    if compiled():
        return _raise_rounds_compiled(world, rng, per_head)
    burn = np.maximum(firms["headcount"] * per_head - world.scenario.market.margin * firms["revenue"], 0.0)
    # quarters the cash lasts at this burn (a firm that burns nothing never runs out)
    runway = np.divide(firms["cash"], burn, out=np.full(n, np.inf), where=burn > 0)
    # staff it would take to serve all its customers: a firm turning demand away raises to scale up
    capacity_ratio = world.scenario.market.capacity_ratio
    if capacity_ratio > 0:
        missing_staff = np.maximum(firms["demand"] / (capacity_ratio * per_head) - firms["headcount"], 0.0)
    else:  # delivery is not limited by staff
        missing_staff = np.zeros(n)
    growth_need = cap.runway_quarters * missing_staff * per_head
    scaling_up = (growth_need > np.maximum(firms["cash"], 0.0)) & (
        firms["demand"] > cap.scale_up_demand_ratio * firms["revenue"]
    )
    short = ((runway < cap.short_runway_quarters) | scaling_up) & ~firms["incumbent"] & ~firms["public"]
    milestone = (firms["capability"] - firms["round_capability"] >= cap.milestone_gain) | (
        firms["revenue_smooth"] > cap.milestone_revenue_growth * firms["round_revenue"] + cap.milestone_revenue_floor
    )
    traction = (firms["stage"] < cap.revenue_stage) | (firms["revenue_smooth"] > 0)
    rel = firms["capability"] - world.frontier[firms["field"]]
    floor = cap.appeal_floor
    appeal = (
        1.0
        / (1.0 + np.exp(-cap.appeal_steepness * (rel + cap.appeal_midpoint_gap)))
        * (floor + (1.0 - floor) * opportunity(world)[firms["field"]])
    )
    asking = short & milestone & traction & (rng.random(n) < appeal)
    _fund_rounds(world, rng, np.flatnonzero(asking), burn, growth_need)


def _raise_rounds_compiled(world: World, rng: np.random.Generator, per_head: np.ndarray) -> None:
    """:func:`raise_rounds` with the candidates found by a kernel and the appeal computed for them only."""
    cap, m = world.scenario.capital, world.scenario.market
    firms = world.firms
    n = len(firms)
    burn, growth_need, candidate = np.empty(n), np.empty(n), np.empty(n, np.bool_)
    kernels.round_candidates(
        firms["headcount"],
        per_head,
        firms["revenue"],
        firms["demand"],
        firms["cash"],
        firms["incumbent"],
        firms["public"],
        firms["capability"],
        firms["round_capability"],
        firms["revenue_smooth"],
        firms["round_revenue"],
        firms["stage"],
        m.margin,
        m.capacity_ratio,
        cap.runway_quarters,
        cap.scale_up_demand_ratio,
        cap.short_runway_quarters,
        cap.milestone_gain,
        cap.milestone_revenue_growth,
        cap.milestone_revenue_floor,
        cap.revenue_stage,
        burn,
        growth_need,
        candidate,
    )
    u = rng.random(n)
    rows = np.flatnonzero(candidate)
    fld = firms["field"][rows]
    rel = firms["capability"][rows] - world.frontier[fld]
    floor = cap.appeal_floor
    appeal = (
        1.0
        / (1.0 + np.exp(-cap.appeal_steepness * (rel + cap.appeal_midpoint_gap)))
        * (floor + (1.0 - floor) * opportunity(world)[fld])
    )
    _fund_rounds(world, rng, rows[u[rows] < appeal], burn, growth_need)


def _fund_rounds(
    world: World, rng: np.random.Generator, rows: np.ndarray, burn: np.ndarray, growth_need: np.ndarray
) -> None:
    """Size the rounds the firms at ``rows`` ask for, find their investors and book the rounds."""
    cap = world.scenario.capital
    firms = world.firms
    if rows.size == 0:
        return
    intensity = world.field_param("capital_intensity")[firms["field"][rows]]
    need = np.maximum(cap.runway_quarters * burn[rows], growth_need[rows])
    size = np.minimum(np.maximum(need, cap.seed_round * intensity), cap.round_growth * firms["largest_round"][rows])
    pool_region = investor_region(world, firms["region"][rows].astype(np.int64), rng)
    ok = within_pool_capacity(world, pool_region, size, rng, "round")
    rows, size, pool_region = rows[ok], size[ok], pool_region[ok]
    if rows.size == 0:
        return
    np.subtract.at(world.pool, pool_region, size)
    pre = np.maximum(firms["valuation"][rows], size * (1.0 - cap.investor_stake) / cap.investor_stake)
    stake = size / (pre + size)
    firms["cash"][rows] += size
    firms["investor_share"][rows] = 1.0 - (1.0 - firms["investor_share"][rows]) * (1.0 - stake)
    firms["invested"][rows] += size
    firms["post_money"][rows] = pre + size
    # the same round priced at a deal price of 1
    pre_par = np.maximum(firms["valuation_par"][rows], size * (1.0 - cap.investor_stake) / cap.investor_stake)
    firms["post_money_par"][rows] = pre_par + size
    firms["valuation_par"][rows] = pre_par + size
    firms["valuation"][rows] = pre + size
    firms["round_step"][rows] = world.step
    firms["round_investor"][rows] = pool_region  # trace only (firm biography)
    firms["stage"][rows] += 1
    firms["round_capability"][rows] = firms["capability"][rows]
    firms["round_revenue"][rows] = firms["revenue_smooth"][rows]
    lead = size > firms["largest_round"][rows]
    firms["lead_investor"][rows] = np.where(lead, pool_region, firms["lead_investor"][rows])
    firms["largest_round"][rows] = np.maximum(size, firms["largest_round"][rows])
    world.event("funded", rows, size)
    key = world.region_field(firms["region"][rows], firms["field"][rows])
    world.flows["invested"] += np.bincount(key, weights=size, minlength=world.n_regions * world.n_fields)
    # pool region → firm region, million USD, for the recorded region_flows table (no rule reads it)
    R = world.n_regions
    world.flows["capital_od"] += np.bincount(pool_region * R + firms["region"][rows], weights=size, minlength=R * R)


def price_deals(world: World) -> None:
    """Money chasing deals: private valuations follow the money on offer per dollar asked.

    Investors competing for a limited number of deals pay more when their
    pools are flush (Gompers & Lerner 2000; docs/FACTS.md VC1).

    Each pool's abundance is the quarter's capacity over the rounds and seeds
    asked of it (kept between 1/``abundance_cap`` and ``abundance_cap``); a region's firms are priced by the pools
    that would fund them (weights of :func:`pool_weights`) at abundance to the
    power ``price_elasticity``, closing ``price_adjustment`` of the gap a quarter. Balanced money
    (abundance 1), an elasticity of 0, or capital that is never scarce
    (``constrained = false``) give the price 1.
    """
    cap = world.scenario.capital
    offered, asked = world.flows.get("offered"), world.flows.get("asked")
    if not cap.constrained or cap.price_elasticity == 0 or offered is None:
        return
    top = cap.abundance_cap
    # ``asked`` is set together with ``offered`` (shared.within_pool_capacity): not None here
    abundance = np.clip(np.divide(offered, asked, out=np.full_like(offered, top), where=asked > 0), 1.0 / top, top)  # type: ignore[arg-type, operator]
    weights = pool_weights(world)
    total = weights.sum(axis=1, keepdims=True)
    # with every reachable pool empty, a region's firms face its own pool's (scarce) money
    weights = np.where(total > 0, weights / np.where(total > 0, total, 1.0), np.eye(world.n_regions))
    price = ordered_matmul(weights, (abundance**cap.price_elasticity)[:, None])[:, 0]  # not BLAS: same bits anywhere
    world.deal_price += cap.price_adjustment * (price - world.deal_price)


def exit_firms(world: World) -> None:
    """Eligible firms exit; proceeds recycle to investors and founders (or leave)."""
    cap = world.scenario.capital
    rng = world.streams["exits"]
    firms, t = world.firms, world.talent
    latest = world.step - cap.exit_age_years * 4
    if compiled():
        exiting = np.empty(len(firms), np.bool_)
        kernels.exit_candidates(
            firms["incumbent"],
            firms["public"],
            firms["invested"],
            firms["founded"],
            firms["revenue_smooth"],
            rng.random(len(firms)),
            latest,
            cap.exit_rate,
            exiting,
        )
    else:
        eligible = (
            ~firms["incumbent"]
            & ~firms["public"]
            & (firms["invested"] > 0)
            & (firms["founded"] <= latest)
            & (firms["revenue_smooth"] > 0)
        )
        exiting = eligible & (rng.random(len(firms)) < cap.exit_rate)
    rows = np.flatnonzero(exiting)
    if rows.size == 0:
        return
    value = firms["valuation"][rows]
    ipo = value >= cap.ipo_valuation
    to_investors = firms["investor_share"][rows] * value
    founder_sells = np.where(ipo, cap.ipo_founder_sale, 1.0)
    to_founder = (1.0 - firms["investor_share"][rows]) * value * founder_sells
    world.book("source:exit_proceeds", to_investors.sum() + to_founder.sum())
    founder_row = t.rows_of(firms["founder"][rows])
    if cap.recycling:
        lead = firms["lead_investor"][rows].astype(np.int64)
        np.add.at(world.pool, lead, to_investors)
        home = founder_row >= 0
        np.add.at(t["wealth"], founder_row[home], to_founder[home] / world.weight)
        world.book("sink:leakage", to_founder[~home].sum())
        # what recycling brought back, by the region that received it (investors' pools, founders' wealth)
        world.flows["recycled_in"] += np.bincount(lead, weights=to_investors, minlength=world.n_regions)
        world.flows["recycled_in"] += np.bincount(
            t["region"][founder_row[home]], weights=to_founder[home], minlength=world.n_regions
        )
    else:
        world.book("sink:leakage", to_investors.sum() + to_founder.sum())
    key = world.region_field(firms["region"][rows], firms["field"][rows])
    RF = world.n_regions * world.n_fields
    world.flows["returned"] += np.bincount(key, weights=to_investors, minlength=RF)
    world.flows["exits"] += np.bincount(key, minlength=RF)
    multiple = to_investors / firms["invested"][rows]
    world.event("exit_ipo", rows[ipo], multiple[ipo])
    world.event("exit_acquired", rows[~ipo], multiple[~ipo])
    # IPO: investors sold out, the firm goes on as a public company
    firms["public"][rows[ipo]] = True
    firms["investor_share"][rows[ipo]] = 0.0
    # trade sale: the buyer takes the firm and its cash
    sold = np.zeros(len(firms), bool)
    sold[rows[~ipo]] = True
    world.book("sink:acquired_cash", firms["cash"][sold].sum())
    firms.remove(sold)


def expand_abroad(world: World) -> None:
    """Profitable firms that can afford it open up foreign markets."""
    m = world.scenario.market
    if not m.expansion_enabled:
        return
    rng = world.streams["expansion"]
    firms = world.firms
    intensity = world.field_param("capital_intensity")
    if compiled():
        go = np.empty(len(firms), np.bool_)
        kernels.expansion_candidates(
            firms["expanded"],
            firms["revenue_smooth"],
            firms["cash"],
            firms["field"],
            intensity,
            m.expansion_cost,
            m.expansion_cash_cover,
            rng.random(len(firms)),
            m.expansion_rate,
            go,
        )
        rows = np.flatnonzero(go)
        cost = np.zeros(len(firms))
        cost[rows] = m.expansion_cost * intensity[firms["field"][rows]]
    else:
        cost = m.expansion_cost * intensity[firms["field"]]
        able = ~firms["expanded"] & (firms["revenue_smooth"] > 0) & (firms["cash"] > m.expansion_cash_cover * cost)
        go = able & (rng.random(len(firms)) < m.expansion_rate)
        rows = np.flatnonzero(go)
    if rows.size == 0:
        return
    firms["cash"][rows] -= cost[rows]
    firms["expanded"][rows] = True
    world.book("sink:expansion_costs", cost[rows].sum())
    world.event("expanded", rows, cost[rows])
