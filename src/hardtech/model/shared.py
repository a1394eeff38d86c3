"""What several rules read from the state, in one place below the mechanisms.

Mechanism modules (market, labour, innovation, …) never import one another;
what more than one of them derives from the state lives here: a firm's cost
per head and region-field key, talent per region-field, the related activity
around a firm and the spillover boost it gives, capability net of blocked
components, segment spending and presence, the perceived opportunity of a
field, which investor pool funds a round, and the three rules the start state shares with the
running model (wage formation, frontiers, an entrant's choice of segment).
The world (:mod:`hardtech.model.world`) imports this module for its set-up;
this module imports neither the world nor any mechanism.

Derived per-agent arrays that several rules read in one quarter are computed
once and reused while their inputs are unchanged: :func:`cost_per_head` is
cached on the firm table's version (rows added or removed) and the wage
array it was computed from (replaced each quarter by :func:`set_wages`), and
:func:`firm_keys` (each firm's region-field group) on the firm table's version.
Cached arrays are read-only, so a caller cannot change them by mistake.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from hardtech.engine import AgentTable
from hardtech.engine.jit import compiled
from hardtech.engine.ops import choose_by_row, choose_within_groups, group_max, group_sum, ordered_matmul
from hardtech.model import kernels

if TYPE_CHECKING:  # the world imports this module: the annotation only
    from hardtech.model.world import World
    from hardtech.scenario import Scenario


def spending_per_wage(scenario: Scenario, living_cost: np.ndarray | float) -> np.ndarray | float:
    """A firm's spending per head as a multiple of the wage: 1 + non-wage spending.

    The local part of the non-wage spending (rent, services) scales with the living-cost index.
    """
    ent = scenario.entrepreneurship
    return 1.0 + ent.burn_per_head * (1.0 - ent.local_cost_share + ent.local_cost_share * living_cost)


def spread_draw(rng: np.random.Generator, spread: float, n: int) -> np.ndarray:
    """``n`` multipliers drawn uniformly from [1 − spread, 1 + spread]."""
    return rng.uniform(1.0 - spread, 1.0 + spread, n)


class _Counts(NamedTuple):
    """Talent agents per region-field, and the talent table and version they were counted at."""

    table: AgentTable
    version: int
    counts: np.ndarray


_COUNTS = "_talent_rf_counts"  # World attribute: a _Counts


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


def update_talent_counts(world: World, version_before: int, delta: np.ndarray) -> None:
    """Add ``delta`` to the cached counts if they were current at ``version_before``."""
    t = world.talent
    cached = getattr(world, _COUNTS, None)
    if cached is not None and cached.table is t and cached.version == version_before:
        setattr(world, _COUNTS, _Counts(t, t.version, cached.counts + delta))


class _FirmKeys(NamedTuple):
    """Cached (region, field) keys of the firms: the table and version they were computed at."""

    table: AgentTable
    version: int
    keys: np.ndarray


_FIRM_KEYS = "_firm_rf_keys"  # World attribute: a _FirmKeys


def firm_keys(world: World) -> np.ndarray:
    """Flat (region, field) group of every firm, int64 (read-only): ``world.region_field`` of its columns.

    A firm's region and field never change, so the keys are computed once per
    firm table version (rows added or removed) and shared by the rules that
    group firms in a quarter (hiring, wages, spillovers, experiments, links, metrics).
    """
    firms = world.firms
    cached = getattr(world, _FIRM_KEYS, None)
    if cached is None or cached.table is not firms or cached.version != firms.version:
        keys = world.region_field(firms["region"], firms["field"])
        keys.setflags(write=False)
        cached = _FirmKeys(firms, firms.version, keys)
        setattr(world, _FIRM_KEYS, cached)
    return cached.keys


def talent_by_region_field(world: World) -> np.ndarray:
    """Persons per (region, field), flat."""
    return talent_counts(world).astype(float) * world.weight


def set_wages(world: World) -> None:
    """Base wage × (1 + tightness × share of talent employed by modelled firms)."""
    firms = world.firms
    RF = world.n_regions * world.n_fields
    employed = group_sum(firm_keys(world), firms["headcount"], RF)
    supply = np.maximum(talent_by_region_field(world), 1.0)
    share = np.minimum(employed / supply, 1.0)
    base = np.repeat(world.region_param("wage"), world.n_fields)
    world.wage = (base * (1.0 + world.scenario.labour.wage_tightness * share)).reshape(world.n_regions, world.n_fields)


class _PerHead(NamedTuple):
    """A cached :func:`cost_per_head`: the firm table and version, and the wage array it was computed from."""

    table: AgentTable
    version: int
    wage: np.ndarray
    values: np.ndarray


_PER_HEAD = "_cost_per_head"  # World attribute: a _PerHead


def cost_per_head(world: World) -> np.ndarray:
    """Quarterly cost of one employee per firm (wage plus other spending), million USD (read-only).

    Computed once per firm table version and wage array: the market, hiring,
    substitution, experiments, rounds, links, pooled risk and costs of one
    quarter read the same array.
    """
    firms = world.firms
    cached = getattr(world, _PER_HEAD, None)
    if cached is not None and cached.table is firms and cached.version == firms.version and cached.wage is world.wage:
        return cached.values
    # per (region, field) first, then one gather: the same operations on the same numbers
    per_wage = spending_per_wage(world.scenario, world.region_param("living_cost"))
    # per region (living_cost is an array here), so per_wage is an array: spending_per_wage is typed for a float too
    table = world.wage / 4.0 / 1000.0 * per_wage[:, None]  # type: ignore[index]
    values = table[firms["region"], firms["field"]]
    values.setflags(write=False)
    setattr(world, _PER_HEAD, _PerHead(firms, firms.version, world.wage, values))
    return values


def related_activity(world: World) -> np.ndarray:
    """(region, field) related headcount a firm there can absorb knowledge from.

    With ``local_knowledge`` off, geography plays no role: every region sees
    the regions' mean (knowledge is spread evenly, the total unchanged).
    """
    inn = world.scenario.innovation
    firms = world.firms
    R, F = world.n_regions, world.n_fields
    head = group_sum(firm_keys(world), firms["headcount"], R * F).reshape(R, F)
    near = (world.distance_km <= inn.neighbour_km) * inn.neighbour_weight
    np.fill_diagonal(near, 1.0)
    open_flow = 1.0 - world.cut["knowledge"][world.region_bloc][:, world.region_bloc].T  # [to, from]
    k = ordered_matmul(ordered_matmul(near * open_flow, head), world.related.T)  # not BLAS: same bits on any processor
    return k if inn.local_knowledge else np.broadcast_to(k.mean(axis=0), (R, F)).copy()


def regional_boost(world: World) -> np.ndarray:
    """(region, field): multiplier of R&D success from absorbed related knowledge, 1 + s · ln(1 + K/knowledge_scale)."""
    inn = world.scenario.innovation
    if not inn.spillovers:
        return np.ones((world.n_regions, world.n_fields))
    return 1.0 + inn.spillover_strength * np.log1p(related_activity(world) / inn.knowledge_scale)


def density_productivity(world: World) -> np.ndarray:
    """Per firm: productivity from the density of related activity around it.

    (1 + K / knowledge_scale) ** density_elasticity (Ciccone–Hall: doubling density ≈ +6%);
    1 without spillovers.
    """
    inn = world.scenario.innovation
    firms = world.firms
    if not inn.spillovers or inn.density_elasticity == 0:
        return np.ones(len(firms))
    if compiled():  # the power per (region, field), then one gather: the same numbers
        table = (1.0 + related_activity(world) / inn.knowledge_scale) ** inn.density_elasticity
        return table[firms["region"], firms["field"]]
    k = related_activity(world)[firms["region"], firms["field"]]
    return (1.0 + k / inn.knowledge_scale) ** inn.density_elasticity


def component_cut(world: World) -> np.ndarray:
    """Per firm: the strongest component blockade its bloc suffers (0–1)."""
    bloc = world.region_bloc[world.firms["region"]]
    return world.cut["components"].max(axis=0)[bloc]


def component_loss(world: World) -> np.ndarray:
    """Per firm: log capability lost to blocked foreign components."""
    return world.scenario.decoupling.capability_loss * world.firms["dependency"] * component_cut(world)


def effective_capability(world: World) -> np.ndarray:
    """Capability after the loss of blocked foreign components."""
    return world.firms["capability"] - component_loss(world)


def bass_adoption(t: np.ndarray | float, p: np.ndarray | float, q: np.ndarray | float) -> np.ndarray:
    """Bass cumulative adoption F(t) = (1 − e^−(p+q)t) / (1 + (q/p) e^−(p+q)t), t in years."""
    e = np.exp(-(p + q) * np.asarray(t, dtype=float))
    return (1.0 - e) / (1.0 + (q / p) * e)


def bass_advance(adoption: np.ndarray, p: np.ndarray, q: np.ndarray, dt: float) -> np.ndarray:
    """Move adoption forward by ``dt`` years along its exact Bass path (full adoption stays full)."""
    a = np.clip(adoption, 0.0, 1.0)
    with np.errstate(divide="ignore"):  # F⁻¹(1) = ∞, and F(∞) = 1
        elapsed = -np.log((1.0 - a) / (1.0 + a * q / p)) / (p + q)  # F⁻¹(a)
    return bass_adoption(elapsed + dt, p, q)


def _locked_share(world: World) -> np.ndarray:
    """Per field: share of adopters still locked to legacy suppliers."""
    share = np.divide(world.locked, world.adoption, out=np.zeros_like(world.locked), where=world.adoption > 0)
    return np.clip(share, 0.0, 1.0)


def locked_spending(world: World, field_spending: np.ndarray | None = None) -> np.ndarray:
    """Per field: spending of locked-in customers, open only to incumbents and the fringe."""
    spending = world.spending if field_spending is None else field_spending
    return spending * _locked_share(world)


def segment_spending(world: World, field_spending: np.ndarray | None = None) -> np.ndarray:
    """Contestable spending per segment (default: this quarter's): fields' platforms first, then niches by id.

    Locked-in customers (:func:`locked_spending`) are not in it: they stay
    with legacy suppliers.
    """
    spending = world.spending if field_spending is None else field_spending
    open_spending = spending * (1.0 - _locked_share(world))
    platform = world.field_param("platform_share")
    niches = world.niches
    niche_field = niches["field"]
    per_niche = (
        open_spending[niche_field] * (1.0 - platform[niche_field]) * niches["size"] / world.niche_base[niche_field]
    )
    return np.concatenate([open_spending * platform, per_niche])


def forward_spending(world: World, years: float) -> np.ndarray:
    """Per segment: the spending investors expect ``years`` ahead (per quarter).

    Adoption moves along its Bass path (if demand has started) and products
    count as usable if maturity is within ``capital.prospect_usability_margin``
    of the usability threshold.
    """
    p, q = world.field_param("bass_p"), world.field_param("bass_q")
    adoption = np.where(world.demand_onset >= 0, bass_advance(world.adoption, p, q, years), 0.0)
    usable = (
        world.maturity >= world.field_param("usability_threshold") - world.scenario.capital.prospect_usability_margin
    )
    return segment_spending(world, world.field_param("market_potential") / 4.0 * adoption * usable)


def segment_of(world: World) -> np.ndarray:
    """Segment index of each firm (niche ids equal their rows: niches are never removed)."""
    firms = world.firms
    return np.where(firms["segment"] < 0, firms["field"], world.n_fields + firms["segment"]).astype(np.int64)


def segment_fields(world: World) -> np.ndarray:
    """Field of every segment, in segment order (platforms first, then niches by id)."""
    return np.concatenate([np.arange(world.n_fields), world.niches["field"]]).astype(np.int64)


def segment_presence(world: World, spend: np.ndarray) -> np.ndarray:
    """Per segment: how much of their sales effort incumbents and the fringe put there, 0–1.

    Sales effort follows the money: a segment's spending over the largest
    segment's of its field (callers pass potential spending, so presence is
    set before demand arrives). A specialist is fully present in its one segment.
    """
    seg_field = segment_fields(world)
    largest = group_max(seg_field, spend, world.n_fields, 0.0)[seg_field]
    return np.divide(spend, largest, out=np.zeros_like(spend), where=largest > 0)


def opportunity(world: World) -> np.ndarray:
    """Per field: perceived opportunity 0–1 (push: maturity, pull: adoption)."""
    push = world.scenario.entrepreneurship.push_weight
    return push * world.maturity + (1.0 - push) * world.adoption


def experiment_cost_by_region(world: World) -> np.ndarray:
    """Per region: cost of one experiment in a software field, million USD.

    At capital intensity 1 and the region's mean field wage — the software base's first effect
    (observation).
    """
    ent = world.scenario.entrepreneurship
    software = world.region_param("software_base")
    per_head = (
        world.wage.mean(axis=1) / 4.0 / 1000.0 * spending_per_wage(world.scenario, world.region_param("living_cost"))
    )
    return ent.experiment_size * (1.0 - ent.software_discount * software) * per_head


def choose_segment(world: World, fields: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A segment per entrant in its field (−1 = the platform), ∝ potential spending / (1 + rivals)^crowding.

    Entrants go where the money is and the crowd is thin; the platform is one
    candidate among the niches. Incumbents crowd every segment of their field
    as much as they are present there (``market.segment_presence``). Shunning
    crowds sends more entrants per dollar to small segments (stocks grow like
    spending^(1/(1 + crowding))): one reason small firms gather in niches.
    """
    F = world.n_fields
    firms = world.firms
    potential = segment_spending(world, world.field_param("market_potential"))
    seg_field = segment_fields(world)
    entrants = np.bincount(segment_of(world)[~firms["incumbent"]], minlength=len(potential))
    incumbents = np.bincount(firms["field"][firms["incumbent"]], minlength=F)[seg_field]
    occupants = entrants + incumbents * segment_presence(world, potential)
    crowding = world.scenario.market.entry_crowding
    picked = choose_within_groups(rng, seg_field, potential / (1.0 + occupants) ** crowding, fields.astype(np.int64))
    return np.where(picked < F, -1, world.niches.ids[np.maximum(picked - F, 0)])


def pool_weights(world: World) -> np.ndarray:
    """(firm region, pool region): how likely each pool is to fund a firm of a region (∝ affinity × capital)."""
    cap = world.scenario.capital
    bloc = world.region_bloc
    same_bloc = bloc[:, None] == bloc[None, :]
    affinity = np.where(same_bloc, cap.cross_region, cap.cross_bloc * (1.0 - world.cut["market"][bloc][:, bloc].T))
    np.fill_diagonal(affinity, 1.0)
    return affinity * np.maximum(world.pool, 0.0)[None, :]


def investor_region(world: World, region: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Which region's pool funds a round for firms of ``region`` (see :func:`pool_weights`)."""
    return choose_by_row(rng, pool_weights(world), region)


def within_pool_capacity(
    world: World, pool_region: np.ndarray, amount: np.ndarray, rng: np.random.Generator, kind: str
) -> np.ndarray:
    """Accept requests at random so that, in expectation, no pool exceeds its quarterly capacity.

    ``seed_share`` of the capacity is for seeds, the rest for later rounds.
    """
    cap = world.scenario.capital
    share = cap.seed_share if kind == "seed" else 1.0 - cap.seed_share
    committed = world.flows.setdefault(f"committed_{kind}", np.zeros(world.n_regions))
    capacity = np.maximum(share * cap.deploy_rate * np.maximum(world.pool, 0.0) - committed, 0.0)
    asked = np.bincount(pool_region, weights=amount, minlength=world.n_regions)
    # what was on offer and what was asked, for the price of deals (capital.price_deals)
    world.flows.setdefault("offered", np.zeros(world.n_regions))[:] += capacity
    world.flows.setdefault("asked", np.zeros(world.n_regions))[:] += asked
    ratio = np.divide(capacity, asked, out=np.ones_like(asked), where=asked > 0)
    if not world.scenario.capital.constrained:
        ratio = np.ones_like(ratio)
    accept = rng.random(len(pool_region)) < np.minimum(ratio, 1.0)[pool_region]
    committed += np.bincount(pool_region[accept], weights=amount[accept], minlength=world.n_regions)
    return accept


def update_frontiers(world: World) -> None:
    """Bloc frontiers become the best capability reached; the world's is their max."""
    firms = world.firms
    B, F = world.science.shape
    if len(firms) and compiled():
        best = np.full(B * F, -np.inf)
        kernels.bloc_best(firms["region"], firms["field"], world.region_bloc, F, firms["capability"], best)
        world.bloc_frontier = np.maximum(world.bloc_frontier, best.reshape(B, F))
    elif len(firms):
        bloc = world.region_bloc[firms["region"]]
        best = group_max(bloc * F + firms["field"], firms["capability"], B * F, empty=-np.inf).reshape(B, F)
        world.bloc_frontier = np.maximum(world.bloc_frontier, best)
    world.frontier = world.bloc_frontier.max(axis=0)
