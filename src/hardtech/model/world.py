"""The world: every agent table and environment array of one run.

:func:`build_world` turns a validated :class:`~hardtech.scenario.Scenario` into a
:class:`World` — talent, firms, investors, niches and cooperation links as
agent tables, plus per-region, per-field and per-bloc arrays for the
environment (science stocks, frontiers, maturity, demand, levers, blockades).
Mechanism modules read and update a World; they never call one another, and
this module imports none of them: the start state uses the rules it shares
with them (wages, frontiers, an entrant's segment) from :mod:`hardtech.model.shared`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from hardtech.engine import AgentTable, RandomStreams
from hardtech.engine.ops import stochastic_round
from hardtech.model.shared import choose_segment, set_wages, spending_per_wage, spread_draw, update_frontiers
from hardtech.scenario import Scenario

TALENT_COLUMNS = {
    "region": np.int16,
    "field": np.int16,
    "age": np.float32,  # years
    "skill": np.float32,  # 0–1, graduates start at their university's strength
    "employer": np.int64,  # firm id, −1 for none of the modelled firms
    "wealth": np.float64,  # exit wealth per represented person, million USD
}

FIRM_COLUMNS = {
    "region": np.int16,
    "field": np.int16,
    "segment": np.int64,  # niche id, −1 = the field's platform segment
    "capability": np.float64,  # log capability (same units as frontiers)
    "cash": np.float64,  # million USD
    "revenue": np.float64,  # million USD this quarter
    "niche_revenue": np.float64,  # the part of it earned in niches (incl. procurement)
    "demand": np.float64,  # what customers would buy from it this quarter, before its delivery capacity
    "segment_share": np.float64,  # expected share of its segment's world spending, 0–1
    "core_income": np.float64,  # an incumbent's income from its business outside the fields, per quarter
    "revenue_smooth": np.float64,  # exponential average of revenue (≈ 1 year)
    "headcount": np.float64,  # persons
    "founded": np.int32,  # step of founding (negative: before the run)
    "stage": np.int16,  # funding rounds raised
    "round_capability": np.float64,  # capability at the last round
    "round_revenue": np.float64,  # revenue at the last round
    "post_money": np.float64,  # valuation at the last round, million USD
    "post_money_par": np.float64,  # the same at a deal price of 1 (see valuation_par)
    "round_step": np.int32,
    "valuation": np.float64,  # million USD
    "investor_share": np.float64,  # equity held by investors, 0–1
    "invested": np.float64,  # total money invested, million USD
    "lead_investor": np.int16,  # region whose pool led the largest round
    "largest_round": np.float64,
    "fit": np.float64,  # niche fit 0–1
    "dependency": np.float64,  # share of critical inputs from other blocs
    "incumbent": np.bool_,
    "public": np.bool_,
    "expanded": np.bool_,  # full access to unblocked foreign markets
    "dragon_step": np.int32,  # step it became a dragon, −1 never
    "founder": np.int64,  # talent id of the founder (−1 for incumbents)
    "parent": np.int64,  # firm id it spun out of, −1 none
    "experiments": np.float64,  # experiments run so far
    "rd_gain": np.float64,  # capability gained from own R&D this quarter
    "founding_gap": np.float64,  # log-capability gap to the field's world frontier at founding (set-up for start firms)
    "gain_rd": np.float64,  # capability gained from own R&D since founding (log units)
    "gain_imitation": np.float64,  # ... from imitating other firms
    "gain_partners": np.float64,  # ... from partners' shared R&D
    "valuation_par": np.float64,  # valuation at a deal price of 1 (what the firm is worth when money is balanced)
    "par_dragon_step": np.int32,  # step its par valuation first reached the dragon threshold, −1 never
    # traces for the dashboard's firm biography (replayed runs); no rule reads them, and the
    # final ``firms`` table leaves them out:
    "imitated_from": np.int16,  # region whose best firm it imitated this quarter, −1 none (innovation.imitate)
    # region whose pool paid its latest round or seed, −1 none yet (capital, entrepreneurship)
    "round_investor": np.int16,
}
FIRM_DEFAULTS = {
    "segment": -1,
    "dragon_step": -1,
    "par_dragon_step": -1,
    "founder": -1,
    "parent": -1,
    "lead_investor": -1,
    "imitated_from": -1,
    "round_investor": -1,
}

NICHE_COLUMNS = {
    "field": np.int16,
    "size": np.float64,  # relative size (a start niche set sums to 1 per field)
    "definer": np.int64,  # firm id that opened it, −1 for start niches
    "opened": np.int32,  # step opened
}

LINK_COLUMNS = {"a": np.int64, "b": np.int64, "formed": np.int32}


class FirmEvents(NamedTuple):
    """Firm events of one kind in one step (see :meth:`World.event`)."""

    step: int
    kind: str
    firm_ids: np.ndarray
    region: np.ndarray
    field: np.ndarray
    value: np.ndarray


@dataclass
class World:
    """State of one run: agent tables and environment arrays (see module doc)."""

    scenario: Scenario
    streams: RandomStreams
    region_names: list[str]
    field_names: list[str]
    bloc_names: list[str]
    weight: float  # persons one talent agent stands for
    talent: AgentTable
    firms: AgentTable
    niches: AgentTable
    links: AgentTable
    # region arrays
    region_bloc: np.ndarray
    distance_km: np.ndarray
    pool: np.ndarray  # investor capital per region, million USD
    deal_price: np.ndarray  # per firm region: private valuations relative to balanced money (capital.price_deals)
    # field × bloc / field arrays
    science: np.ndarray  # (bloc, field) science stock, log capability
    bloc_frontier: np.ndarray  # (bloc, field) best capability reached in the bloc
    frontier: np.ndarray  # (field,) world frontier
    maturity: np.ndarray
    adoption: np.ndarray  # Bass cumulative adoption 0–1
    locked: np.ndarray  # (field,) adoption locked to legacy suppliers 0–1
    demand_onset: np.ndarray  # step demand started, −1 not yet
    usable_onset: np.ndarray  # step products became usable, −1 not yet
    spending: np.ndarray  # (field,) spending this quarter, million USD
    niche_base: np.ndarray  # (field,) size of the start niche set
    related: np.ndarray  # (field, field)
    # per-step policy and blockade values, set by policy/decoupling phases
    levers: dict[str, np.ndarray] = field(default_factory=dict)
    cut: dict[str, np.ndarray] = field(default_factory=dict)  # channel -> (imposer bloc, target bloc)
    step: int = 0
    # flows of the current step, reset at its start and read by metrics
    flows: dict[str, np.ndarray] = field(default_factory=dict)  # arrays (and the scalar ``risk_pooled``)
    ledger: dict[str, float] = field(default_factory=dict)
    events: list[FirmEvents] = field(default_factory=list)
    dragons: list[dict] = field(default_factory=list)  # one entry per detection batch
    # build_world sets these three before it returns the world: arrays wherever a rule reads them
    # (typed so; None only as the dataclass default, which no rule ever sees)
    dragons_total: np.ndarray = None  # type: ignore[assignment]  # (region, field) cumulative count
    # (region, field) cumulative count of dragons at a deal price of 1
    dragons_par_total: np.ndarray = None  # type: ignore[assignment]
    wage: np.ndarray = None  # type: ignore[assignment]  # (region, field) annual wage, thousand USD
    param_cache: dict = field(default_factory=dict, repr=False)  # (fields|regions, name) -> array, see field_param

    # -- handy derived views ---------------------------------------------------
    @property
    def n_regions(self) -> int:
        """Number of regions."""
        return len(self.region_names)

    @property
    def n_fields(self) -> int:
        """Number of fields."""
        return len(self.field_names)

    @property
    def year(self) -> float:
        """Decimal year of the current step."""
        return self.scenario.time.start_year + self.step / 4.0

    def region_field(self, region: np.ndarray, fld: np.ndarray) -> np.ndarray:
        """Flat (region, field) group index."""
        return region.astype(np.int64) * self.n_fields + fld.astype(np.int64)

    def field_param(self, name: str) -> np.ndarray:
        """A field parameter as an array over fields (read-only; built once per run)."""
        return self._param("fields", name)

    def region_param(self, name: str) -> np.ndarray:
        """A region parameter as an array over regions (read-only; built once per run)."""
        return self._param("regions", name)

    def _param(self, kind: str, name: str) -> np.ndarray:
        values = self.param_cache.get((kind, name))
        if values is None:  # the scenario does not change during a run
            values = np.array([getattr(x, name) for x in getattr(self.scenario, kind).values()], dtype=float)
            values.setflags(write=False)
            self.param_cache[(kind, name)] = values
        return values

    def book(self, account: str, amount: float) -> None:
        """Add ``amount`` (million USD) to a ledger account for this step."""
        self.ledger[account] = self.ledger.get(account, 0.0) + float(amount)

    def event(self, kind: str, rows: np.ndarray, value: np.ndarray | float = 0.0) -> None:
        """Note firm events of one kind for the firms at ``rows``: ids, region and field, a value each."""
        rows = np.asarray(rows, dtype=np.int64)
        ids = self.firms.ids[rows]
        if ids.size:
            value = np.broadcast_to(np.asarray(value, float), ids.shape).copy()
            self.events.append(
                FirmEvents(self.step, kind, ids, self.firms["region"][rows], self.firms["field"][rows], value)
            )

    def money_stock(self) -> float:
        """All tracked money: pools + firm cash + talent wealth (million USD)."""
        return float(self.pool.sum() + self.firms["cash"].sum() + (self.talent["wealth"].sum() * self.weight))


def build_world(scenario: Scenario, replication: int = 0) -> World:
    """Create the start state of a run for ``scenario`` and a replication."""
    sc = scenario
    streams = RandomStreams(sc.seed, replication)
    rng = streams["setup"]
    regions, fields, blocs = list(sc.regions), list(sc.fields), list(sc.blocs)
    R, F, B = len(regions), len(fields), len(blocs)
    region_bloc = np.array([blocs.index(sc.regions[r].bloc) for r in regions])
    dist = np.array([[sc.distance(a, b) for b in regions] for a in regions], dtype=float)
    related = np.array([[sc.related(a, b) for b in fields] for a in fields])

    weight = 1.0 / sc.scale
    expected = sum(reg.talent for reg in sc.regions.values()) * sc.scale
    talent = AgentTable(TALENT_COLUMNS, expected=expected, defaults={"employer": -1})
    for r, reg in enumerate(sc.regions.values()):
        n = int(stochastic_round(rng, reg.talent * sc.scale))
        talent.add(
            n,
            region=r,
            field=rng.integers(0, F, n),
            age=rng.uniform(sc.setup.talent_age_min, sc.setup.talent_age_max, n),
            skill=np.clip(rng.normal(reg.university_strength, sc.labour.skill_spread, n), 0, 1),
        )

    start_firms = sum(reg.incumbents + reg.startups for reg in sc.regions.values()) * F
    firms = AgentTable(FIRM_COLUMNS, expected=start_firms, defaults=FIRM_DEFAULTS)
    niches = AgentTable(NICHE_COLUMNS, expected=sum(fld.niches for fld in sc.fields.values()), defaults={"definer": -1})
    links = AgentTable(LINK_COLUMNS, expected=0)
    niche_base = np.zeros(F)
    for f, fld in enumerate(sc.fields.values()):
        sizes = rng.pareto(fld.niche_alpha, fld.niches) + 1.0
        sizes /= sizes.sum()
        niches.add(fld.niches, field=f, size=sizes, opened=0)
        niche_base[f] = 1.0

    world = World(
        scenario=sc,
        streams=streams,
        region_names=regions,
        field_names=fields,
        bloc_names=blocs,
        weight=weight,
        talent=talent,
        firms=firms,
        niches=niches,
        links=links,
        region_bloc=region_bloc,
        distance_km=dist,
        pool=np.array([r.investor_capital for r in sc.regions.values()], dtype=float),
        deal_price=np.ones(R),
        science=np.zeros((B, F)),
        bloc_frontier=np.full((B, F), -np.inf),
        frontier=np.zeros(F),
        maturity=np.zeros(F),
        adoption=np.zeros(F),
        locked=np.zeros(F),
        demand_onset=np.full(F, -1),
        usable_onset=np.full(F, -1),
        spending=np.zeros(F),
        niche_base=niche_base,
        related=related,
        dragons_total=np.zeros((R, F), dtype=np.int64),
        dragons_par_total=np.zeros((R, F), dtype=np.int64),
    )
    _seed_firms(world, rng)
    gaps = world.region_param("capability_gap")
    for b in range(B):
        members = region_bloc == b
        world.science[b] = -gaps[members].min() if members.any() else 0.0

    update_frontiers(world)
    set_wages(world)  # firms' costs are known from the first quarter
    world.firms["founding_gap"] = world.frontier[world.firms["field"]] - world.firms["capability"]
    return world


def _seed_firms(world: World, rng: np.random.Generator) -> None:
    """Incumbents and young firms present at the start, per region and field.

    Young firms pick their segments as entrants do (after the incumbents).
    """
    sc = world.scenario
    su = sc.setup
    fdep = world.field_param("foreign_dependency")
    intensity = world.field_param("capital_intensity")
    dep_spread = sc.decoupling.dependency_spread
    # start ages in whole quarters: incumbents [min, max) years old, young firms [0, max)
    inc_youngest = round(su.incumbent_age_min_years * 4)
    inc_ages = round(su.incumbent_age_max_years * 4) - inc_youngest
    startup_ages = round(su.startup_age_max_years * 4)
    for r, reg in enumerate(sc.regions.values()):
        for f in range(world.n_fields):
            if reg.incumbents:
                n = reg.incumbents
                head = rng.lognormal(np.log(su.incumbent_headcount), su.incumbent_headcount_spread, n)
                world.firms.add(
                    n,
                    region=r,
                    field=f,
                    segment=-1,
                    incumbent=True,
                    public=True,
                    capability=-reg.capability_gap + rng.normal(0, su.incumbent_capability_spread, n),
                    cash=head * su.incumbent_cash_per_head * intensity[f],
                    headcount=head,
                    founded=-inc_youngest - rng.integers(0, inc_ages, n),
                    fit=sc.market.incumbent_niche_fit,
                    dependency=np.clip(fdep[f] * spread_draw(rng, dep_spread, n), 0, 1),
                    expanded=True,
                    valuation=head * su.incumbent_valuation_per_head,
                    stage=su.incumbent_rounds,
                    core_income=head * reg.wage / 4.0 / 1000.0 * spending_per_wage(sc, reg.living_cost),
                )
    for r, reg in enumerate(sc.regions.values()):
        for f in range(world.n_fields):
            if reg.startups:
                n = reg.startups
                ent = sc.entrepreneurship
                world.firms.add(  # (keyword order is draw order)
                    n,
                    region=r,
                    field=f,
                    segment=choose_segment(world, np.full(n, f), rng),
                    capability=-reg.capability_gap
                    - ent.founder_capability * spread_draw(rng, ent.founder_gap_spread, n),
                    cash=sc.capital.seed_round
                    * intensity[f]
                    * rng.uniform(su.startup_cash_min, su.startup_cash_max, n),
                    headcount=sc.entrepreneurship.start_headcount * rng.uniform(1, su.startup_team_max, n),
                    founded=-rng.integers(0, startup_ages, n),
                    stage=1,
                    fit=rng.beta(su.startup_fit_alpha, su.startup_fit_beta, n),
                    dependency=np.clip(fdep[f] * spread_draw(rng, dep_spread, n), 0, 1),
                    investor_share=sc.capital.investor_stake,
                    lead_investor=r,
                    invested=sc.capital.seed_round * intensity[f],
                    largest_round=sc.capital.seed_round * intensity[f],
                    post_money=sc.capital.seed_round * intensity[f] / sc.capital.investor_stake,
                )
    world.firms["valuation"] = np.maximum(world.firms["valuation"], world.firms["post_money"])
    world.firms["post_money_par"] = world.firms["post_money"]
    world.firms["valuation_par"] = world.firms["valuation"]
    world.firms["round_capability"] = world.firms["capability"]  # no milestone reached yet
