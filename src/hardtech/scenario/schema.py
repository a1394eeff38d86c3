"""The scenario: every input of a run, validated once at the boundary.

A scenario is a pydantic v2 model tree. Each number says its unit and allowed
range in its description; unknown keys are refused. Policy levers may be a
constant or a time schedule ``[[year, value], ...]`` (the value holds from that
year on).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# -- shared pieces ------------------------------------------------------------


class Strict(BaseModel):
    """Base for every scenario block: unknown keys are an error."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


ScheduleStep = Annotated[list[float], Field(min_length=2, max_length=2)]
Lever = float | list[ScheduleStep]
"""A policy lever: a constant, or ``[[year, value], ...]`` ascending in year."""


def lever_value(lever: Lever, year: float) -> float:
    """The value a lever takes in ``year`` (the last step at or before it, else 0)."""
    if isinstance(lever, (int, float)):
        return float(lever)
    value = 0.0
    for start, v in lever:
        if year + 1e-9 >= start:
            value = v
    return float(value)


def _check_lever(name: str, lever: Lever, lo: float, hi: float) -> None:
    values = [lever] if isinstance(lever, (int, float)) else [v for _, v in lever]
    if not isinstance(lever, (int, float)):
        years = [y for y, _ in lever]
        if years != sorted(years):
            raise ValueError(f"{name}: schedule years must ascend, got {years}")
    for v in values:
        if not lo <= v <= hi:
            raise ValueError(f"{name}: value {v} outside the allowed range [{lo}, {hi}]")


# -- policy -------------------------------------------------------------------


class Policy(Strict):
    """A regional government's levers (each a constant or a schedule)."""

    talent_subsidy: Lever = Field(
        0.0, description="Settling subsidy for young talent, thousand USD per person; it weighs in young people's migration choice (relative to the wage); range 0–100."
    )
    startup_support: Lever = Field(
        0.0, description="Share of a startup's experiment (prototype, pivot) cost paid by the government, 0–0.9."
    )
    basic_research: Lever = Field(
        0.0, description="Extra public basic-research funding on top of the universities' own, million USD per year; range 0–100000."
    )
    procurement: Lever = Field(
        0.0, description="Scenario opening: public procurement of young local firms' niche products, million USD per year; range 0–100000."
    )
    cluster_programme: Lever = Field(
        0.0, description="Cluster programme intensity: extra rate of cooperation-link formation, as a multiple of the base rate; range 0–10."
    )
    fund_injection: Lever = Field(
        0.0, description="Public money paid into the regional investor pool, million USD per year (a one-off: [[year, amount], [year + 1, 0]]); range 0–1000000."
    )

    @model_validator(mode="after")
    def _ranges(self) -> Policy:
        _check_lever("talent_subsidy", self.talent_subsidy, 0, 100)
        _check_lever("startup_support", self.startup_support, 0, 0.9)
        _check_lever("basic_research", self.basic_research, 0, 1e5)
        _check_lever("procurement", self.procurement, 0, 1e5)
        _check_lever("cluster_programme", self.cluster_programme, 0, 10)
        _check_lever("fund_injection", self.fund_injection, 0, 1e6)
        return self


# -- world ----------------------------------------------------------------------


class Region(Strict):
    """A city-region (or the rest of the world) with its people, money and levers."""

    bloc: str = Field(description="Name of the geopolitical bloc the region belongs to (one of `blocs`).")
    talent: float = Field(gt=0, le=1e8, description="Tech talent (people) in the region at the start, persons; > 0.")
    living_cost: float = Field(gt=0, le=10, description="Cost-of-living index (housing and services), Hangzhou 2012 = 1.0; > 0, ≤ 10.")
    wage: float = Field(gt=0, le=1000, description="Base annual wage of tech talent, thousand USD; > 0.")
    amenity: float = Field(0.0, ge=-5, le=5, description="Talent-friendliness not captured by wage and cost (logit utility units); −5–5.")
    graduate_rate: float = Field(ge=0, le=0.5, description="New graduates entering the tech workforce per year, as a share of the start talent stock; 0–0.5.")
    university_strength: float = Field(ge=0, le=1, description="Research-university strength, 0–1: graduates' starting skill and the region's basic research.")
    software_base: float = Field(ge=0, le=1, description="Strength of the local software/internet base, 0–1: cuts the cost of experiments and pivots.")
    investor_capital: float = Field(ge=0, le=1e7, description="Venture capital available in the region's investor pool at the start, million USD.")
    lp_inflow: float = Field(ge=0, le=1e6, description="New money committed to the regional pool by outside limited partners, million USD per year.")
    home_market: float = Field(gt=0, le=100, description="Relative size of the region's home market for hardtech products (weight; shares are normalised per bloc).")
    university_research: float = Field(ge=0, le=1e5, description="Universities' own basic-research spending, million USD per year.")
    capability_gap: float = Field(0.0, ge=0, le=10, description="How far (log capability) the region's firms start below the world frontier in the first year.")
    incumbents: int = Field(ge=0, le=50, description="Large incumbent (platform) firms per field present at the start.")
    startups: int = Field(ge=0, le=10000, description="Young firms (0–5 years old) per field present at the start.")
    policy: Policy = Field(default_factory=Policy, description="The regional government's levers.")


class Field_(Strict):
    """A technology field with its frontier, market and niches."""

    label: str = Field(description="Human-readable name.")
    maturity_midpoint: float = Field(ge=-20, le=20, description="World-frontier level (log capability) at which maturity is 0.5.")
    maturity_steepness: float = Field(gt=0, le=20, description="Slope of the logistic maturity curve, per unit of log capability.")
    usability_threshold: float = Field(gt=0, lt=1, description="Maturity above which products are usable and earn revenue, 0–1.")
    demand_threshold: float = Field(gt=0, lt=1, description="Maturity at which market demand starts to diffuse (Bass), 0–1; below the usability threshold = demand ahead of technology.")
    bass_p: float = Field(gt=0, le=1, description="Bass coefficient of innovation, per year.")
    bass_q: float = Field(ge=0, le=5, description="Bass coefficient of imitation, per year.")
    market_potential: float = Field(gt=0, le=1e7, description="World spending on the field at full adoption, million USD per year.")
    platform_share: float = Field(ge=0, le=1, description="Share of the field's spending in its platform segment; the rest is spread over niches (1 = no vertical niches).")
    niches: int = Field(ge=1, le=2000, description="Number of vertical niches (application scenarios) at the start.")
    niche_alpha: float = Field(gt=0.2, le=5, description="Pareto tail exponent of niche sizes (smaller = more unequal).")
    revenue_multiple: float = Field(gt=0, le=100, description="Valuation as a multiple of annual revenue.")
    foreign_dependency: float = Field(ge=0, le=1, description="Typical share of critical inputs (chips, tools) bought from other blocs, 0–1.")
    capital_intensity: float = Field(gt=0, le=100, description="Multiplier on funding-round sizes and R&D costs relative to a software field (1).")
    dragon_threshold: float = Field(1000.0, gt=0, le=1e6, description="Valuation that makes a young firm a 'dragon', million USD.")


class Event(Strict):
    """A dated decoupling event: one bloc restricts flows to another."""

    date: float = Field(ge=1900, le=2200, description="Decimal year the event takes effect (2022.77 = 7 Oct 2022).")
    imposer: str = Field(description="Bloc that imposes the restriction.")
    target: str = Field(description="Bloc that is restricted.")
    intensity: float = Field(ge=-1, le=1, description="Change of blockade intensity, −1–1 (negative = easing); the cumulative intensity is kept in [0, 1].")
    channels: list[Literal["knowledge", "components", "market"]] = Field(
        default_factory=lambda: ["knowledge", "components", "market"],
        description="Which flows are cut: cross-bloc knowledge, component supply, market access.",
    )
    note: str = Field("", description="What happened (free text).")


# -- mechanism parameters -------------------------------------------------------------


class Technology(Strict):
    """C1/C6: science stocks, frontiers and maturity."""

    science_per_musd: float = Field(0.00005, ge=0, le=1, description="Growth of a bloc's science stock per million USD of basic research (log-capability units).")
    science_diffusion: float = Field(0.10, ge=0, le=1, description="Share of another bloc's science lead absorbed per year when knowledge flows freely.")
    science_headroom: float = Field(1.5, ge=0, le=10, description="How strongly a firm's R&D draws improve when the bloc's science stock is above its capability (per log unit).")


class Market(Strict):
    """C1/C5/C9: demand, segments and revenue shares."""

    scale_economies: float = Field(1.0, ge=0, le=3, description="Exponent of firm size (headcount) in platform-segment competitiveness; 0 switches scale economies off.")
    niche_fit_weight: float = Field(3.0, ge=0, le=10, description="Exponent of niche fit in niche-segment competitiveness; 0 makes fit irrelevant.")
    capability_weight: float = Field(14.0, ge=0, le=40, description="Exponent on capability (relative to the world frontier) in every segment's competitiveness.")
    incumbent_niche_fit: float = Field(0.25, ge=0, le=1, description="Niche fit of a generalist incumbent, 0–1.")
    home_bias: float = Field(0.6, ge=0, le=1, description="Share of a region's spending that can only go to firms of its own bloc (the rest is open to all not blocked).")
    foreign_access: float = Field(0.3, ge=0, le=1, description="Access of a firm that has not expanded abroad to other blocs' open markets, 0–1.")
    expansion_cost: float = Field(5.0, ge=0, le=1e4, description="One-off cost of expanding abroad (full access to unblocked foreign markets), million USD × capital intensity.")
    expansion_enabled: bool = Field(True, description="Whether firms may expand abroad.")
    entry_crowding: float = Field(1.0, ge=0, le=5, description="How much entrants shun crowded segments: a segment is chosen ∝ potential spending / (1 + rivals there)^entry_crowding; 0 = by spending alone.")
    scene_rate: float = Field(0.05, ge=0, le=1, description="Chance per quarter that a firm that has just pushed its bloc's frontier in its field opens a new niche (defines a scene). A new scene's spending is moved from the field's older niches (the field's niche spending is unchanged).")
    scene_needs_frontier: bool = Field(True, description="Whether only firms that push their bloc's frontier define scenes (False: as many scenes, opened by non-incumbent firms at random whatever their capability — H11's control).")
    demand_diffusion: bool = Field(True, description="Whether demand diffuses (Bass) from its own threshold; False: every customer is there the moment products are usable (demand timing plays no role).")
    revenue_needs_adopters: bool = Field(True, description="Whether customers' spending follows adoption (Bass); False: customers spend the field's full potential as soon as products are usable, while adoption still diffuses from its threshold and shapes founders' and investors' expectations (H1's control).")
    lock_in: float = Field(0.0, ge=0, le=1, description="Share of customers who adopted before products were usable that stay locked to legacy (platform) suppliers. Off (0) by default: it acts only when demand starts before products are usable, which no preset field does (docs/ODD.md §8, H1) [ASSUMPTION].")
    switch_rate: float = Field(0.02, ge=0, le=1, description="Share of locked-in customers who switch to new suppliers per year.")
    capacity_ratio: float = Field(4.0, ge=0, le=100, description="Most revenue a firm's staff can deliver, as a multiple of what the staff costs (a firm cannot serve more demand than its people can; 0 = no limit).")
    fringe: float = Field(3.0, ge=0, le=100, description="Weight of the unmodelled suppliers in every segment (how many average rivals outside the model).")
    fringe_gap: float = Field(0.2, ge=0, le=5, description="How far (log capability) the unmodelled suppliers sit below the world frontier.")
    margin: float = Field(0.35, ge=0, le=1, description="Share of revenue left after direct costs (gross margin).")


class Labour(Strict):
    """C2: graduates, wages, retirement and migration."""

    consider_move: float = Field(0.02, ge=0, le=1, description="Share of talent that weighs a move each quarter.")
    young_consider_move: float = Field(0.05, ge=0, le=1, description="Same for talent under 30.")
    wage_weight: float = Field(3.0, ge=0, le=50, description="Logit weight on log wage in the migration choice.")
    cost_weight: float = Field(1.5, ge=0, le=50, description="Logit weight on log living cost in the migration choice.")
    subsidy_weight: float = Field(2.0, ge=0, le=50, description="Logit weight on the subsidy as a share of the annual wage (young talent only).")
    knowledge_weight: float = Field(1.0, ge=0, le=50, description="Logit weight on the log spillover boost of a region in the person's field in the migration choice (people move where they learn most; De La Roca & Puga 2017); a third of the wage weight [ASSUMPTION].")
    moving_cost: float = Field(3.0, ge=0, le=50, description="Utility cost of moving at all (logit units).")
    distance_cost: float = Field(0.25, ge=0, le=10, description="Extra utility cost of moving per 1,000 km.")
    bloc_cost: float = Field(2.0, ge=0, le=50, description="Extra utility cost of moving to another bloc.")
    wage_tightness: float = Field(0.6, ge=0, le=10, description="Elasticity of the regional field wage to the share of talent employed by the modelled firms.")
    retire_rate: float = Field(0.02, ge=0, le=0.5, description="Share of talent leaving the workforce per year before age 60 (all leave at 60).")
    max_employed_share: float = Field(0.5, gt=0, le=1, description="Most of a region-field's talent that the modelled firms can employ.")


class Capital(Strict):
    """C4: rounds, exits and recycling."""

    deploy_rate: float = Field(0.06, ge=0, le=1, description="Share of a pool's capital it can commit per quarter.")
    seed_share: float = Field(0.3, ge=0, le=1, description="Share of a pool's quarterly capacity kept for seeds (the rest backs later rounds of its portfolio).")
    constrained: bool = Field(True, description="Whether seeds and rounds are limited by the pools' capital (False: money is never scarce, so pool sizes change no decision).")
    seed_round: float = Field(1.0, gt=0, le=1e4, description="Seed round size, million USD (× field capital intensity).")
    runway_quarters: float = Field(8.0, gt=0, le=40, description="A round covers this many quarters of the firm's net burn (at least a seed round).")
    round_growth: float = Field(3.0, ge=1, le=20, description="A round is at most this many times the firm's largest previous round.")
    revenue_stage: int = Field(3, ge=0, le=20, description="From this round on, investors fund only firms with revenue.")
    investor_stake: float = Field(0.2, gt=0, lt=1, description="Share of the firm sold in each round.")
    milestone_gain: float = Field(0.15, ge=0, le=5, description="Capability gain (log units) since the last round that counts as a milestone.")
    exit_age_years: float = Field(5.0, ge=0, le=50, description="Youngest age at which a firm can exit (IPO or sale).")
    exit_rate: float = Field(0.06, ge=0, le=1, description="Chance per quarter that an eligible firm exits.")
    ipo_valuation: float = Field(500.0, gt=0, le=1e6, description="Valuation above which an exit is an IPO (below: a trade sale), million USD.")
    recycling: bool = Field(True, description="Whether exit proceeds return to the region's investors and founders (False: they leave the region).")
    angel_rate: float = Field(0.10, ge=0, le=1, description="Share of founders' exit wealth they reinvest in the regional pool per year.")
    pool_outflow: float = Field(0.02, ge=0, le=1, description="Share of a pool's capital distributed back to outside limited partners per year.")
    cross_region: float = Field(0.3, ge=0, le=1, description="Weight of other same-bloc regions' pools in a round, relative to the home pool.")
    cross_bloc: float = Field(0.1, ge=0, le=1, description="Weight of other blocs' pools in a round (before blockades).")
    price_elasticity: float = Field(0.2, ge=0, le=2, description="Elasticity of private valuations to the venture money on offer per dollar asked (direction: Gompers & Lerner 2000; size an assumption, docs/FACTS.md VC1); 0 = prices ignore money.")


class Innovation(Strict):
    """C3: R&D draws, imitation and spillovers."""

    burn_rd_share: float = Field(0.5, ge=0, le=1, description="Share of a firm's staff working on R&D.")
    zeta: float = Field(1.0, gt=0, le=100, description="R&D productivity ζ: innovation and imitation each succeed with chance 1 − exp(−ζ · effort / 2 · spillover boost), effort = (researchers / capital intensity)^rd_returns / 10.")
    rd_returns: float = Field(0.5, gt=0, le=1, description="Returns to R&D team size (1 = linear; 0.5 = square root).")
    step_low: float = Field(-0.05, ge=-1, le=0, description="Lower end of the log-capability change of an R&D success (Beta(3,3) rescaled).")
    step_high: float = Field(0.15, ge=0, le=1, description="Upper end of the same.")
    imitation: float = Field(0.15, ge=0, le=1, description="Share of the gap to the best reachable capability a follower closes per quarter of successful imitation.")
    spillovers: bool = Field(True, description="Whether knowledge spills over between firms (off: no R&D boost or productivity from related activity, no imitation, and founders start from the bloc's public science instead of the region's best firm).")
    local_knowledge: bool = Field(True, description="Whether knowledge is local (absorbed from the own region, neighbours and, discounted by distance, the rest); False: every region absorbs the regions' mean and imitates any region's best alike.")
    spillover_strength: float = Field(0.6, ge=0, le=10, description="Boost of R&D success from absorbed related knowledge (per log unit of local related activity).")
    density_elasticity: float = Field(0.06, ge=0, le=1, description="Elasticity of absorbed knowledge to the density of related activity (Ciccone–Hall ≈ 0.06).")
    neighbour_km: float = Field(300.0, gt=0, le=20000, description="Distance within which regional spillovers are felt (Bottazzi–Peri ≈ 300 km).")
    neighbour_weight: float = Field(0.05, ge=0, le=1, description="Weight of a neighbouring region's knowledge relative to the own region.")
    remote_reach: float = Field(0.15, ge=0, le=1, description="Weight of another region's best firm in imitation relative to the own region's, before distance decay (same-metro patent citations are 5–10× more likely than chance, Jaffe et al. 1993).")
    world_halving_km: float = Field(1200.0, gt=0, le=40000, description="Distance at which diffusion of the world frontier halves (Keller ≈ 1,200 km).")


class Entrepreneurship(Strict):
    """C2/C4/C5: founding, spin-outs, experiments, pivots and failure."""

    found_rate: float = Field(0.0006, ge=0, le=0.1, description="Base chance per person per quarter of founding a firm when the field's opportunity is full.")
    push_weight: float = Field(0.5, ge=0, le=1, description="Weight of technology push (maturity) vs market pull (demand) in a field's perceived opportunity.")
    spinout_multiplier: float = Field(8.0, ge=0, le=100, description="How many times more likely an employee of a successful firm is to found one.")
    founder_capability: float = Field(0.35, ge=0, le=2, description="A new firm's capability gap below the region's best in its field (log units); spin-outs start closer.")
    experiment_size: float = Field(4.0, gt=0, le=1000, description="Person-quarters one experiment (prototype or pivot) takes with no software base, × capital intensity.")
    software_discount: float = Field(0.7, ge=0, le=1, description="Share of experiment cost a full software base (1.0) saves.")
    experiment_budget: float = Field(0.25, ge=0, le=1, description="Share of a young firm's quarterly spending that goes to experiments.")
    fit_step: float = Field(0.35, ge=0, le=1, description="Spread of niche fit found by one experiment (fit draws are Beta, best kept).")
    pivot_fit: float = Field(0.3, ge=0, le=1, description="A firm whose niche fit is below this after two years pivots to another niche.")
    burn_per_head: float = Field(1.0, ge=0, le=10, description="Non-wage spending per employee relative to the wage (at a living-cost index of 1).")
    local_cost_share: float = Field(0.5, ge=0, le=1, description="Share of non-wage spending (office rent, local services) that scales with the region's living-cost index; the rest (equipment, cloud, travel) costs the same everywhere [ASSUMPTION: the index is built from housing prices, which office rents follow].")
    runway_quarters: float = Field(5.0, gt=0, le=40, description="A young firm staffs up so that its cash lasts this many quarters (beyond what its income pays).")
    start_headcount: float = Field(5.0, ge=1, le=1000, description="Founding team size, persons.")
    growth_hiring: float = Field(0.25, ge=0, le=5, description="Share of the gap to the headcount the revenue or runway affords that a firm closes per quarter.")


class Cooperation(Strict):
    """C7: links, shared R&D and pooled risk."""

    enabled: bool = Field(True, description="Whether firms cooperate at all.")
    link_rate: float = Field(0.02, ge=0, le=1, description="Chance per quarter that a firm seeks a new partner.")
    distance_decay_km: float = Field(300.0, gt=0, le=40000, description="Distance scale of partner choice (exp(−d/scale)).")
    share_rd: float = Field(0.3, ge=0, le=1, description="Share of a partner's R&D gain a firm absorbs.")
    risk_pool: float = Field(0.2, ge=0, le=1, description="Share of a partner's spare cash that can cover a firm's shortfall.")
    link_decay: float = Field(0.02, ge=0, le=1, description="Chance per quarter that a link lapses.")
    link_cost: float = Field(0.25, ge=0, le=20, description="Staff time a cooperation link takes from each partner per quarter, person-quarters, paid at the firm's cost per head (managing an alliance is costly: Dyer, Kale & Singh 2001) [ASSUMPTION: size].")


class Decoupling(Strict):
    """C6: blockade effects and substitution."""

    enabled: bool = Field(True, description="Whether the scenario's blockade events take effect.")
    capability_loss: float = Field(0.4, ge=0, le=5, description="Log-capability lost at full blockade by a firm fully dependent on foreign components.")
    substitution_rate: float = Field(0.3, ge=0, le=1, description="Share of foreign dependency a firm replaces per successful substitution R&D quarter (it restores the capability the blockade took; it does not move the firm toward the frontier).")
    substitution_effort: float = Field(1.5, ge=0, le=5, description="Extra R&D effort, as a share of normal R&D, a dependent firm adds under blockade.")


class Dragon(Strict):
    """The observable: a young firm that reached the field's dragon valuation."""

    max_age_years: float = Field(10.0, gt=0, le=50, description="A firm counts as a dragon only if it reaches the threshold within this many years of founding.")
    follower_gap: float = Field(0.2, ge=0, le=5, description="A firm counts as a technology follower if it was founded at least this far (log capability) behind its field's world frontier (observation only; H11).")


class Time(Strict):
    start_year: int = Field(2012, ge=1950, le=2100, description="First simulated year (its first quarter is step 0).")
    end_year: int = Field(2035, ge=1950, le=2200, description="Last simulated year (inclusive).")

    @property
    def steps(self) -> int:
        return (self.end_year - self.start_year + 1) * 4


class Scenario(Strict):
    """Everything a run needs. Load with :func:`hardtech.scenario.load`."""

    name: str = Field("scenario", pattern=r"^[A-Za-z0-9_.-]+$", description="Scenario name (letters, digits, _ . -).")
    description: str = Field("", description="What the scenario represents.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Base random seed.")
    scale: float = Field(0.01, ge=0.0001, le=1.0, description="Share of the real talent population simulated as agents (0.01 = 1:100, 1 = 1:1).")
    time: Time = Field(default_factory=Time)
    blocs: list[str] = Field(min_length=1, description="Names of the geopolitical blocs.")
    regions: dict[str, Region] = Field(min_length=2)
    distances_km: dict[str, dict[str, float]] = Field(description="Distance between each pair of regions, km (each pair once, either order).")
    fields: dict[str, Field_] = Field(min_length=1)
    relatedness: dict[str, dict[str, float]] = Field(default_factory=dict, description="Relatedness of pairs of fields, 0–1 (missing pairs = 0, a field with itself = 1).")
    events: list[Event] = Field(default_factory=list)
    technology: Technology = Field(default_factory=Technology)
    market: Market = Field(default_factory=Market)
    labour: Labour = Field(default_factory=Labour)
    capital: Capital = Field(default_factory=Capital)
    innovation: Innovation = Field(default_factory=Innovation)
    entrepreneurship: Entrepreneurship = Field(default_factory=Entrepreneurship)
    cooperation: Cooperation = Field(default_factory=Cooperation)
    decoupling: Decoupling = Field(default_factory=Decoupling)
    dragon: Dragon = Field(default_factory=Dragon)

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        regions, blocs = list(self.regions), set(self.blocs)
        if self.time.end_year < self.time.start_year:
            raise ValueError(f"time.end_year: {self.time.end_year} is before time.start_year {self.time.start_year}")
        for name, region in self.regions.items():
            if region.bloc not in blocs:
                raise ValueError(f"regions.{name}.bloc: unknown bloc {region.bloc!r}; allowed: {', '.join(self.blocs)}")
        for a, row in self.distances_km.items():
            for b, km in row.items():
                for r in (a, b):
                    if r not in self.regions:
                        raise ValueError(f"distances_km.{a}.{b}: unknown region {r!r}; allowed: {', '.join(regions)}")
                if km < 0:
                    raise ValueError(f"distances_km.{a}.{b}: distance must be ≥ 0 km, got {km}")
        for i, a in enumerate(regions):
            for b in regions[i + 1 :]:
                if self.distance(a, b) is None:
                    raise ValueError(f"distances_km.{a}.{b}: missing; give the distance of every pair of regions in km")
        for a, row in self.relatedness.items():
            for b, v in row.items():
                for f in (a, b):
                    if f not in self.fields:
                        raise ValueError(f"relatedness.{a}.{b}: unknown field {f!r}; allowed: {', '.join(self.fields)}")
                if not 0 <= v <= 1:
                    raise ValueError(f"relatedness.{a}.{b}: must be in [0, 1], got {v}")
        for k, ev in enumerate(self.events):
            for role in ("imposer", "target"):
                if getattr(ev, role) not in blocs:
                    raise ValueError(f"events.{k}.{role}: unknown bloc {getattr(ev, role)!r}; allowed: {', '.join(self.blocs)}")
        return self

    def distance(self, a: str, b: str) -> float | None:
        """Distance between regions a and b in km (0 for a region with itself)."""
        if a == b:
            return 0.0
        for x, y in ((a, b), (b, a)):
            if y in self.distances_km.get(x, {}):
                return float(self.distances_km[x][y])
        return None

    def related(self, a: str, b: str) -> float:
        """Relatedness of fields a and b (1 with itself, 0 if not given)."""
        if a == b:
            return 1.0
        for x, y in ((a, b), (b, a)):
            if y in self.relatedness.get(x, {}):
                return float(self.relatedness[x][y])
        return 0.0

    @property
    def steps(self) -> int:
        """Number of quarterly steps."""
        return self.time.steps
