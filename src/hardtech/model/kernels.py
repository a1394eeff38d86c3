"""The hot rules written as compiled loops (Numba), one kernel per rule.

Each kernel is the loop form of the NumPy code of its rule (the reference,
in the rule's own module) and does the same floating-point operations in the
same order — sums accumulate in row order as ``np.bincount`` does, products
and quotients are grouped as the reference writes them — so, fed the same
inputs and random numbers, it returns the same bits. A rule picks its kernel
when :func:`hardtech.engine.jit.compiled` says so (``HARDTECH_ENGINE``).

Transcendental functions (``exp``, ``log``, ``power``) stay in NumPy, in the
rule: kernels hold only ``+ − × ÷``, comparisons, ``min``/``max`` — exactly
rounded on any x86-64 — so a kernel's results do not depend on the processor
Numba compiled it for (see :mod:`hardtech.engine.jit`).

Arguments are columns (one entry per agent row) and small per-group arrays;
outputs are written into arrays the caller passes. No kernel draws random
numbers: the rule draws them (from its named stream) and passes them in.
"""

from __future__ import annotations

import numpy as np

from hardtech.engine.jit import kernel


# -- market ---------------------------------------------------------------------------------------
@kernel
def allocate_revenue(
    seg,
    field,
    bloc,
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
    niche_field,
    market_share,
    home_bias,
    legacy_spend,
    own_revenue,
    share,
    incumbent_niche_revenue,
):
    """``market.allocate_revenue``'s split of every segment's spending in every bloc market.

    For each bloc market ``b`` and each part (reserved for the bloc's own firms,
    open to firms with access): firms' weights over their segment's total plus the
    fringe, incumbents' niche weight and the locked-in (legacy) spending.
    ``fringe_weight[b, part, field]`` is the fringe's capability weight (an
    ``exp``, computed by the caller). Adds into the three output arrays.
    """
    n = seg.size
    S = spend.size
    F = legacy_spend.size
    B = market_share.size
    denom = np.empty(S)
    per_weight = np.empty(S)
    inc = np.empty(F)
    niche_value = np.empty(F)
    legacy_denom = np.empty(F)
    legacy_per_weight = np.empty(F)
    for b in range(B):
        for part_i in range(2):
            part = home_bias if part_i == 0 else 1.0 - home_bias
            fw = fringe_weight[b, part_i]
            denom[:] = 0.0
            inc[:] = 0.0
            legacy_denom[:] = 0.0
            for i in range(n):
                e = (1.0 if bloc[i] == b else 0.0) if part_i == 0 else access[i, b]
                denom[seg[i]] += own[i] * e
                inc[field[i]] += in_niche[i] * e
                legacy_denom[field[i]] += legacy[i] * e
            for s in range(S):
                denom[s] = denom[s] + fringe_shape[s] * fw[seg_field[s]]
            for s in range(F, S):
                denom[s] += inc[niche_field[s - F]] * presence[s]
            for s in range(S):
                budget = spend[s] * market_share[b] * part
                per_weight[s] = budget / denom[s] if denom[s] > 0 else 0.0
            niche_value[:] = 0.0
            for s in range(F, S):
                niche_value[niche_field[s - F]] += per_weight[s] * presence[s]
            for f in range(F):
                legacy_denom[f] = legacy_denom[f] + fringe_size[f] * fw[f]
                ls = legacy_spend[f] * market_share[b] * part
                legacy_per_weight[f] = ls / legacy_denom[f] if legacy_denom[f] > 0 else 0.0
            ms_part = market_share[b] * part
            for i in range(n):
                e = (1.0 if bloc[i] == b else 0.0) if part_i == 0 else access[i, b]
                w_own = own[i] * e
                d = denom[seg[i]]
                own_revenue[i] += w_own * per_weight[seg[i]]
                share[i] += ms_part * (w_own / d if d > 0 else 0.0)
                incumbent_niche_revenue[i] += (in_niche[i] * e) * niche_value[field[i]]
                own_revenue[i] += (legacy[i] * e) * legacy_per_weight[field[i]]


@kernel
def market_access(bloc, expanded, foreign_access, expansion_enabled, closed, access):
    """``market.market_access``: a firm's access to each bloc's market.

    1 in the firm's own bloc's market, else the foreign access (full once expanded abroad), times
    what blockades leave open (``closed[target bloc, market bloc]``).
    """
    B = access.shape[1]
    for i in range(bloc.size):
        foreign = 1.0 if (expansion_enabled and expanded[i]) else foreign_access
        for b in range(B):
            a = 1.0 if b == bloc[i] else foreign
            access[i, b] = a * (1.0 - closed[bloc[i], b])


@kernel
def serve_demand(own_revenue, incumbent_niche_revenue, share, capacity):
    """A firm delivers at most ``capacity``: scale its revenues and share by served / demand (in place)."""
    for i in range(own_revenue.size):
        total = own_revenue[i] + incumbent_niche_revenue[i]
        served = min(total, capacity[i]) / total if total > 0 else 1.0
        own_revenue[i] = own_revenue[i] * served
        incumbent_niche_revenue[i] = incumbent_niche_revenue[i] * served
        share[i] = share[i] * served


# -- innovation -----------------------------------------------------------------------------------


@kernel
def imitation_pull(best, field, region, capability, reach, pull, source):
    """``innovation.imitate``'s pull: per firm the largest capability gap it can reach, and where.

    The pull is the largest ``max(best[r, field] − capability, 0) · reach[region, r]`` over regions
    ``r`` (a region without a firm in the field, best −∞, pulls 0), with the first region giving it
    (``argmax``).
    """
    R = best.shape[0]
    for i in range(capability.size):
        top = -np.inf
        arg = 0
        for r in range(R):
            gap = best[r, field[i]] - capability[i]
            v = (max(gap, 0.0) if np.isfinite(gap) else 0.0) * reach[region[i], r]
            if v > top:
                top = v
                arg = r
        pull[i] = top
        source[i] = arg


# -- cooperation ----------------------------------------------------------------------------------
@kernel
def pool_risk(a, b, cash, shortfall, headcount, per_head, reserve_quarters, risk_pool, received):
    """``cooperation.pool_risk``: partners' offers to firms in shortfall, scaled to it (cash updated in place).

    ``a``, ``b``: the rows of each link's ends; ``shortfall``: ``max(−cash, 0)``
    per firm. Writes what each firm received into ``received``. Per-firm sums
    accumulate link by link as ``np.bincount`` does — over the ``a`` ends and
    over the ``b`` ends separately, then added — and ``max``/``min`` treat NaN
    as ``np.maximum``/``np.minimum`` do.
    """
    n, m = cash.size, a.size
    degree = np.zeros(n, np.int64)
    for e in range(m):
        degree[a[e]] += 1
        degree[b[e]] += 1
    offer = np.empty(n)
    for i in range(n):
        spare = cash[i] - reserve_quarters * headcount[i] * per_head[i]
        spare = spare if (spare >= 0.0 or spare != spare) else 0.0
        offer[i] = risk_pool * spare / max(degree[i], 1)
    # offers along each link toward a firm in shortfall, and their sums per firm (a ends, b ends)
    to_a, to_b = np.empty(m), np.empty(m)
    offered_a, offered_b = np.zeros(n), np.zeros(n)
    for e in range(m):
        to_a[e] = offer[b[e]] * (1.0 if shortfall[a[e]] > 0 else 0.0)
        to_b[e] = offer[a[e]] * (1.0 if shortfall[b[e]] > 0 else 0.0)
        offered_a[a[e]] += to_a[e]
        offered_b[b[e]] += to_b[e]
    scale = np.empty(n)
    for i in range(n):
        offered = offered_a[i] + offered_b[i]
        if offered > 0:
            s = shortfall[i]
            scale[i] = (s if (s <= offered or s != s) else offered) / offered
        else:
            scale[i] = 0.0
    in_a, in_b, out_b, out_a = np.zeros(n), np.zeros(n), np.zeros(n), np.zeros(n)
    for e in range(m):
        given_to_a = to_a[e] * scale[a[e]]
        given_to_b = to_b[e] * scale[b[e]]
        in_a[a[e]] += given_to_a
        in_b[b[e]] += given_to_b
        out_b[b[e]] += given_to_a
        out_a[a[e]] += given_to_b
    for i in range(n):
        received[i] = in_a[i] + in_b[i]
        cash[i] = cash[i] + received[i] - (out_b[i] + out_a[i])


# -- grouped reductions -----------------------------------------------------------------------
@kernel
def group_max(groups, values, out):
    """Largest value per group into ``out`` (prefilled by the caller, e.g. with −∞)."""
    for i in range(groups.size):
        g = groups[i]
        if values[i] > out[g]:
            out[g] = values[i]


# -- capital --------------------------------------------------------------------------------------
@kernel
def revalue(
    revenue,
    revenue_smooth,
    segment_share,
    post_money,
    post_money_par,
    round_step,
    public,
    incumbent,
    region,
    multiple,
    ahead,
    deal_price,
    fade_by_age,
    step,
    growth_cap,
    discount,
    valuation,
    valuation_par,
):
    """``capital.revalue``: valuation from revenue or prospects, floored by the last-round price.

    Revenue is lifted by growth (at most ``growth_cap``), prospects discounted by ``discount``, the
    last-round price fades; ``fade_by_age[k]`` is the fade after ``k`` quarters (a power, from NumPy).
    """
    for i in range(revenue.size):
        rs = revenue_smooth[i]
        g = (revenue[i] / rs if rs > 0 else 1.0) - 1.0
        growth = min(max(g, 0.0), growth_cap)
        price = 1.0 if (public[i] or incumbent[i]) else deal_price[region[i]]
        by_revenue = price * multiple[i] * 4.0 * rs * (1.0 + growth)
        by_prospect = price * multiple[i] * 4.0 * segment_share[i] * ahead[i] * discount
        fade = fade_by_age[max(step - round_step[i], 0)]
        top = max(by_revenue, by_prospect)
        valuation[i] = max(top, post_money[i] * fade)
        valuation_par[i] = max(top / price, post_money_par[i] * fade)


@kernel
def round_candidates(
    headcount,
    per_head,
    revenue,
    demand,
    cash,
    incumbent,
    public,
    capability,
    round_capability,
    revenue_smooth,
    round_revenue,
    stage,
    margin,
    capacity_ratio,
    runway_quarters,
    scale_up_ratio,
    short_runway,
    milestone_gain,
    revenue_growth,
    revenue_floor,
    revenue_stage,
    burn,
    growth_need,
    candidate,
):
    """``capital.raise_rounds`` up to the investor's draw: burn, growth need, and who is short.

    Which firms are short of runway (or scaling up), at a milestone and with traction (the caller
    draws and applies the appeal).
    """
    for i in range(headcount.size):
        b = max(headcount[i] * per_head[i] - margin * revenue[i], 0.0)
        burn[i] = b
        runway = cash[i] / b if b > 0 else np.inf
        if capacity_ratio > 0:
            missing = max(demand[i] / (capacity_ratio * per_head[i]) - headcount[i], 0.0)
        else:
            missing = 0.0
        need = runway_quarters * missing * per_head[i]
        growth_need[i] = need
        scaling_up = (need > max(cash[i], 0.0)) and (demand[i] > scale_up_ratio * revenue[i])
        short = ((runway < short_runway) or scaling_up) and not incumbent[i] and not public[i]
        milestone = (capability[i] - round_capability[i] >= milestone_gain) or (
            revenue_smooth[i] > revenue_growth * round_revenue[i] + revenue_floor
        )
        traction = (stage[i] < revenue_stage) or (revenue_smooth[i] > 0)
        candidate[i] = short and milestone and traction


# -- metrics -----------------------------------------------------------------------------------------
@kernel
def firm_aggregates(
    key,
    field,
    headcount,
    capability,
    dependency,
    revenue,
    niche_revenue,
    incumbent,
    segment,
    head,
    n_firms,
    best,
    dep_head,
    rev,
    plat_f,
    niche_f,
    small_plat_f,
    small_niche_f,
    niche_firms,
):
    """``metrics.record``'s sums over firms in one pass.

    Per (region, field) headcount, firms, best capability (−∞ where none), dependency × headcount
    and revenue; per field platform and niche revenue, the same of non-incumbents, and firms in
    niches. Outputs are zeroed (``best``: −∞) by the caller.
    """
    for i in range(key.size):
        k = key[i]
        f = field[i]
        h = headcount[i]
        head[k] += h
        n_firms[k] += 1.0
        if capability[i] > best[k]:
            best[k] = capability[i]
        dep_head[k] += dependency[i] * h
        rev[k] += revenue[i]
        niche = niche_revenue[i]
        plat = revenue[i] - niche
        plat_f[f] += plat
        niche_f[f] += niche
        small = 0.0 if incumbent[i] else 1.0
        small_plat_f[f] += plat * small
        small_niche_f[f] += niche * small
        if segment[i] >= 0:
            niche_firms[f] += 1


# -- talent ------------------------------------------------------------------------------------------
@kernel
def retire_pass(age, u, rate, retirement_age, leave):
    """``labour.retire``: age everyone a quarter and mark who leaves; returns how many leave.

    Ages are float32, as in NumPy; a person leaves on a draw below the quarter's hazard, or at
    retirement age.
    """
    quarter = np.float32(1.0 / 4.0)  # a quarter of a year, in float32 as NumPy adds it
    count = 0
    for i in range(age.size):
        a = age[i] + quarter
        age[i] = a
        out = (u[i] < rate) or (a >= retirement_age)
        leave[i] = out
        count += out
    return count


@kernel
def considering_pass(u, age, low, high, young_age, young_more, rows, young):
    """``labour.migrate``: who weighs a move; returns how many.

    A person weighs a move on a draw below the threshold of their age group; writes their rows and
    whether each is young.
    """
    k = 0
    for i in range(u.size):
        if u[i] < high:
            y = age[i] < young_age
            if (u[i] < low) or (y == young_more):
                rows[k] = i
                young[k] = y
                k += 1
    return k


@kernel
def migration_choice(home, fld, young, older_u, young_u, move_cost, gumbel, dest):
    """``labour.migrate``'s logit choice: each agent's region of largest utility.

    The utility is its age group's place utility in its field, less the moving cost from home, plus
    its Gumbel draw; the first region on ties.
    """
    R = move_cost.shape[0]
    for i in range(home.size):
        u = young_u if young[i] else older_u
        best = -np.inf
        choice = 0
        for r in range(R):
            v = (u[r, fld[i]] - move_cost[home[i], r]) + gumbel[i, r]
            if v > best:
                best = v
                choice = r
        dest[i] = choice


@kernel
def employment_pass(employer, lookup, have, rows, firm_rows):
    """``labour.assign_employers``: employed agents and their firm's row; returns how many.

    An agent whose employer is gone becomes free; counts each firm's agents.
    """
    last = lookup.size - 1
    k = 0
    for i in range(employer.size):
        e = employer[i]
        if e >= 0:
            r = lookup[e if e < last else last]
            if r < 0:
                employer[i] = -1
            else:
                rows[k] = i
                firm_rows[k] = r
                have[r] += 1.0
                k += 1
    return k


@kernel
def release_pass(u, excess, rows, firm_rows, employer, candidate_key, no_group):
    """Release each employed agent with its firm's excess share; the others are no hiring candidates."""
    for j in range(rows.size):
        if u[j] < excess[firm_rows[j]]:
            employer[rows[j]] = -1
        else:
            candidate_key[rows[j]] = no_group


@kernel
def founder_classes(region, field, age, employer, lookup, success, n_fields, young_age, cls):
    """``entrepreneurship.found``: each person's founder class.

    The class is (region, field)·4 + young·2 + spin-out (employed by a successful firm).
    """
    last = lookup.size - 1
    for i in range(region.size):
        c = (region[i] * n_fields + field[i]) * 4
        if age[i] < young_age:
            c += 2
        e = employer[i]
        if e >= 0:
            r = lookup[e if e < last else last]
            if r >= 0 and success[r]:
                c += 1
        cls[i] = c


# -- small per-firm rules -----------------------------------------------------------------------------
@kernel
def hire_headcount(
    key,
    revenue_smooth,
    core_income,
    cash,
    incumbent,
    headcount,
    per_head,
    talent_rf,
    margin,
    runway_quarters,
    start_headcount,
    growth_hiring,
    max_employed_share,
):
    """``labour.hire``: each firm moves ``growth_hiring`` of the way to the headcount it can afford.

    Hires are scaled down where a region-field runs short of talent (headcount updated in place).
    """
    n = key.size
    RF = talent_rf.size
    change = np.empty(n)
    head_rf = np.zeros(RF)
    wanted = np.zeros(RF)
    for i in range(n):
        income = margin * revenue_smooth[i] + core_income[i]
        runway = 0.0 if incumbent[i] else max(cash[i], 0.0) / runway_quarters
        target = max((income + runway) / per_head[i], start_headcount)
        c = growth_hiring * (target - headcount[i])
        change[i] = c
        head_rf[key[i]] += headcount[i]
        wanted[key[i]] += max(c, 0.0)
    ratio = np.empty(RF)
    for g in range(RF):
        room = max(max_employed_share * talent_rf[g] - head_rf[g], 0.0)
        ratio[g] = room / wanted[g] if wanted[g] > 0 else 1.0
    for i in range(n):
        c = change[i]
        hires = max(c, 0.0)
        headcount[i] = max(headcount[i] + min(c, hires * min(ratio[key[i]], 1.0)), 1.0)


@kernel
def gross_profit(cash, revenue, core_income, revenue_smooth, margin, smoothing):
    """``market.book_gross_profit``: revenue less direct costs to cash; revenue smoothed (in place)."""
    for i in range(cash.size):
        cash[i] = cash[i] + margin * revenue[i] + core_income[i]
        revenue_smooth[i] = (1.0 - smoothing) * revenue_smooth[i] + smoothing * revenue[i]


@kernel
def bloc_best(region, field, region_bloc, n_fields, capability, best):
    """``technology.update_frontiers``: the best capability per (bloc, field) into ``best`` (prefilled −∞)."""
    for i in range(region.size):
        k = region_bloc[region[i]] * n_fields + field[i]
        if capability[i] > best[k]:
            best[k] = capability[i]


@kernel
def beyond_frontier(region, field, region_bloc, capability, bloc_frontier, out):
    """``innovation.frontier_movers``: firms beyond the frontier their bloc had reached."""
    for i in range(region.size):
        out[i] = capability[i] > bloc_frontier[region_bloc[region[i]], field[i]]


@kernel
def pivot_candidates(incumbent, segment, founded, fit, u, latest_founding, pivot_fit, pivot_rate, out):
    """``entrepreneurship.pivot``: niche firms old enough, badly fitted, that weigh a pivot this quarter."""
    for i in range(u.size):
        out[i] = (
            (not incumbent[i])
            and segment[i] >= 0
            and founded[i] <= latest_founding
            and fit[i] < pivot_fit
            and u[i] < pivot_rate
        )


@kernel
def exit_candidates(incumbent, public, invested, founded, revenue_smooth, u, latest_founding, exit_rate, out):
    """``capital.exit_firms``: private venture-backed firms old enough, with revenue, that exit this quarter."""
    for i in range(u.size):
        out[i] = (
            (not incumbent[i])
            and (not public[i])
            and invested[i] > 0
            and founded[i] <= latest_founding
            and revenue_smooth[i] > 0
            and u[i] < exit_rate
        )


@kernel
def expansion_candidates(expanded, revenue_smooth, cash, field, intensity, expansion_cost, cash_cover, u, rate, out):
    """``capital.expand_abroad``: firms not yet abroad, with revenue and cash for it, that go this quarter."""
    for i in range(u.size):
        cost = expansion_cost * intensity[field[i]]
        out[i] = (not expanded[i]) and revenue_smooth[i] > 0 and cash[i] > cash_cover * cost and u[i] < rate


@kernel
def dragon_candidates(
    incumbent,
    founded,
    field,
    valuation,
    valuation_par,
    dragon_step,
    par_dragon_step,
    threshold,
    step,
    max_age_quarters,
    new,
    new_par,
):
    """``observables.detect_dragons``: young firms whose valuation first reaches their field's threshold.

    The valuation is taken at a deal price of 1.
    """
    for i in range(founded.size):
        young = (not incumbent[i]) and (step - founded[i] <= max_age_quarters)
        t = threshold[field[i]]
        new_par[i] = young and par_dragon_step[i] < 0 and valuation_par[i] >= t
        new[i] = young and dragon_step[i] < 0 and valuation[i] >= t
