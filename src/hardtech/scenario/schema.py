"""The scenario: every input of a run, validated once at the boundary.

A scenario is a pydantic v2 model tree; unknown keys are refused. Every field
is declared with :func:`Param`, which stores machine-readably (in the field's
``json_schema_extra``, so also in the JSON schema):

- ``unit`` — what the number counts;
- ``allowed`` — the range the schema accepts (``[lo, hi]``, from the pydantic
  bounds), or the allowed values;
- ``plausible`` — the range worth exploring in an analysis (inside the
  allowed range, containing the default); ``hardtech robustness`` samples it;
- ``provenance`` — ``[SOURCE: <docs/FACTS.md id>]``, ``[CALIBRATED]``,
  ``[ASSUMPTION: <reason>]``, ``[DEFINITION: ...]`` (switches, names, unit
  choices, the observable's definition) or ``[INPUT: ...]`` (a region's,
  field's or event's value, tagged where the preset sets it).

:func:`parameters` lists every field with its path and that metadata.
Policy levers may be a constant or a time schedule ``[[year, value], ...]``
(the value holds from that year on).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticUndefined

# -- declaring a parameter ------------------------------------------------------------

PROVENANCE = re.compile(
    r"^\[(?:SOURCE: (?P<ids>[A-Z]+\d+[a-z]?(?:, [A-Z]+\d+[a-z]?)*)(?:; .+)?|CALIBRATED|ASSUMPTION: .+|DEFINITION: "
    r".+|INPUT: .+)\]$"
)
"""What a provenance tag must look like (SOURCE ids are docs/FACTS.md row ids)."""

INPUT = "[INPUT: the preset's value, tagged there]"
SWITCH = "[DEFINITION: a mechanism switch; off is a claim's control]"


def Param(  # noqa: N802 - reads like pydantic's Field
    default: Any = PydanticUndefined,
    *,
    unit: str,
    provenance: str,
    description: str | None,  # required; str | None as blocks pass their docstring (``__doc__``)
    plausible: tuple | list | str | None = None,
    allowed: tuple | list | str | None = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    **kwargs: Any,
) -> Any:
    """A scenario field with its unit, allowed and plausible range and provenance.

    ``allowed`` defaults to ``[lower, upper]`` of the pydantic bounds
    (``ge``/``gt``, ``le``/``lt``), or ``[False, True]`` for a boolean
    default; pass it for values a validator checks (policy levers) or a set
    of allowed values. ``plausible`` defaults to the allowed values for a
    boolean and to ``[default, default]`` for a definition.
    """
    if not PROVENANCE.match(provenance):
        raise ValueError(f"provenance {provenance!r} is not a tag such as '[ASSUMPTION: reason]'")
    if allowed is None:
        lo = ge if ge is not None else gt
        hi = le if le is not None else lt
        if lo is not None or hi is not None:
            allowed = [lo, hi]
        elif isinstance(default, bool):
            allowed = [False, True]
    if plausible is None and isinstance(default, bool):
        plausible = [False, True]
    elif plausible is None and provenance.startswith("[DEFINITION") and isinstance(default, (int, float)):
        plausible = [default, default]
    extra: dict[str, Any] = {
        "unit": unit,
        "allowed": list(allowed) if isinstance(allowed, (tuple, list)) else allowed,
        "plausible": list(plausible) if isinstance(plausible, (tuple, list)) else plausible,
        "provenance": provenance,
    }
    return Field(default, ge=ge, gt=gt, le=le, lt=lt, description=description, json_schema_extra=extra, **kwargs)


def meta(model: type[BaseModel], name: str) -> dict[str, Any]:
    """The unit, allowed, plausible and provenance of field ``name`` of a scenario block."""
    extra = model.model_fields[name].json_schema_extra
    return dict(extra) if isinstance(extra, dict) else {}


@dataclass(frozen=True)
class ParamInfo:
    """One scenario field: its path (``regions.*.talent`` for every region), metadata and default."""

    path: str
    unit: str
    allowed: Any
    plausible: Any
    provenance: str
    description: str
    default: Any
    kind: str  # "number", "integer", "boolean", "text", "structure"

    @property
    def tag(self) -> str:
        """The provenance kind: SOURCE, CALIBRATED, ASSUMPTION, DEFINITION or INPUT."""
        return self.provenance[1:].split(":")[0].split("]")[0]


def _blocks(annotation: Any) -> type[BaseModel] | None:
    """The scenario block inside an annotation (M, dict[str, M], list[M]), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) in (dict, list):
        return _blocks(get_args(annotation)[-1])
    return None


def _kind(annotation: Any, default: Any) -> str:
    while get_origin(annotation) is dict:  # a table of numbers (distances, relatedness) is numbers
        annotation = get_args(annotation)[-1]
    if annotation is bool:
        return "boolean"
    if annotation is int:
        return "integer"
    if annotation is float or annotation == Lever:
        return "number"
    if annotation is str:
        return "text"
    return "structure"


def parameters(model: type[BaseModel] | None = None, prefix: str = "") -> Iterator[ParamInfo]:
    """Every field of the scenario tree, depth first (dict keys and list items shown as ``*``)."""
    model = model or Scenario
    for name, info in model.model_fields.items():
        path = f"{prefix}{name}"
        extra = meta(model, name)
        default = None if info.default is PydanticUndefined else info.default
        if info.default_factory is not None:
            default = None
        yield ParamInfo(
            path,
            extra.get("unit", ""),
            extra.get("allowed"),
            extra.get("plausible"),
            extra.get("provenance", ""),
            info.description or "",
            default,
            _kind(info.annotation, default),
        )
        inner = _blocks(info.annotation)
        if inner is not None:
            star = ".*" if get_origin(info.annotation) in (dict, list) else ""
            yield from parameters(inner, f"{path}{star}.")


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


def _check_lever(name: str, lever: Lever) -> None:
    lo, hi = meta(Policy, name)["allowed"]
    values = [lever] if isinstance(lever, (int, float)) else [v for _, v in lever]
    if not isinstance(lever, (int, float)):
        years = [y for y, _ in lever]
        if years != sorted(years):
            raise ValueError(f"{name}: schedule years must ascend, got {years}")
    for v in values:
        if not lo <= v <= hi:
            raise ValueError(f"{name}: value {v} outside the allowed range [{lo}, {hi}]")


def _ordered(block: str, low: str, high: str, values: BaseModel, gap: float = 0.0) -> None:
    """A (min, max) pair of a block must ascend (by at least ``gap``)."""
    lo, hi = getattr(values, low), getattr(values, high)
    if not hi >= lo + gap:
        more = f" + {gap}" if gap else ""
        raise ValueError(f"{block}.{high}: {hi} must be at least {block}.{low}{more} ({lo}{more})")


# -- policy -------------------------------------------------------------------


class Policy(Strict):
    """A regional government's levers (each a constant or a schedule)."""

    talent_subsidy: Lever = Param(
        0.0,
        unit="thousand USD per person",
        allowed=(0, 100),
        plausible=(0, 20),
        provenance=INPUT,
        description=(
            "Settling subsidy for young talent, thousand USD per person; it weighs in young people's migration choice "
            "(relative to the wage); range 0–100."
        ),
    )
    startup_support: Lever = Param(
        0.0,
        unit="share",
        allowed=(0, 0.9),
        plausible=(0, 0.5),
        provenance=INPUT,
        description="Share of a startup's experiment (prototype, pivot) cost paid by the government, 0–0.9.",
    )
    basic_research: Lever = Param(
        0.0,
        unit="million USD per year",
        allowed=(0, 1e5),
        plausible=(0, 3000),
        provenance=INPUT,
        description=(
            "Extra public basic-research funding on top of the universities' own, million USD per year; range 0–100000."
        ),
    )
    procurement: Lever = Param(
        0.0,
        unit="million USD per year",
        allowed=(0, 1e5),
        plausible=(0, 200),
        provenance=INPUT,
        description=(
            "Scenario opening: public procurement of young local firms' niche products, million USD per year; range "
            "0–100000."
        ),
    )
    cluster_programme: Lever = Param(
        0.0,
        unit="multiple of the base rate",
        allowed=(0, 10),
        plausible=(0, 2),
        provenance=INPUT,
        description=(
            "Cluster programme intensity: extra rate of cooperation-link formation, as a multiple of the base rate; "
            "range 0–10."
        ),
    )
    fund_injection: Lever = Param(
        0.0,
        unit="million USD per year",
        allowed=(0, 1e6),
        plausible=(0, 2000),
        provenance=INPUT,
        description=(
            "Public money paid into the regional investor pool, million USD per year (a one-off: [[year, amount], "
            "[year + 1, 0]]); range 0–1000000."
        ),
    )

    @model_validator(mode="after")
    def _ranges(self) -> Policy:
        for name in type(self).model_fields:
            _check_lever(name, getattr(self, name))
        return self


# -- world ----------------------------------------------------------------------


class Region(Strict):
    """A city-region (or the rest of the world) with its people, money and levers."""

    bloc: str = Param(
        unit="bloc name",
        allowed="one of `blocs`",
        plausible="one of `blocs`",
        provenance=INPUT,
        description="Name of the geopolitical bloc the region belongs to (one of `blocs`).",
    )
    talent: float = Param(
        gt=0,
        le=1e8,
        unit="persons",
        plausible=(5e4, 3e6),
        provenance=INPUT,
        description="Tech talent (people) in the region at the start, persons; > 0.",
    )
    living_cost: float = Param(
        gt=0,
        le=10,
        unit="index, Hangzhou 2012 = 1",
        plausible=(0.5, 3),
        provenance=INPUT,
        description="Cost-of-living index (housing and services), Hangzhou 2012 = 1.0; > 0, ≤ 10.",
    )
    wage: float = Param(
        gt=0,
        le=1000,
        unit="thousand USD per year",
        plausible=(10, 250),
        provenance=INPUT,
        description="Base annual wage of tech talent, thousand USD; > 0.",
    )
    amenity: float = Param(
        0.0,
        ge=-5,
        le=5,
        unit="logit utility",
        plausible=(-1, 1),
        provenance=INPUT,
        description="Talent-friendliness not captured by wage and cost (logit utility units); −5–5.",
    )
    graduate_rate: float = Param(
        ge=0,
        le=0.5,
        unit="share of start talent per year",
        plausible=(0.02, 0.1),
        provenance=INPUT,
        description="New graduates entering the tech workforce per year, as a share of the start talent stock; 0–0.5.",
    )
    university_strength: float = Param(
        ge=0,
        le=1,
        unit="index 0–1",
        plausible=(0.3, 1.0),
        provenance=INPUT,
        description="Research-university strength, 0–1: graduates' starting skill and the region's basic research.",
    )
    software_base: float = Param(
        ge=0,
        le=1,
        unit="index 0–1",
        plausible=(0.3, 1.0),
        provenance=INPUT,
        description="Strength of the local software/internet base, 0–1: cuts the cost of experiments and pivots.",
    )
    investor_capital: float = Param(
        ge=0,
        le=1e7,
        unit="million USD",
        plausible=(50, 30000),
        provenance=INPUT,
        description="Venture capital available in the region's investor pool at the start, million USD.",
    )
    lp_inflow: float = Param(
        ge=0,
        le=1e6,
        unit="million USD per year",
        plausible=(10, 10000),
        provenance=INPUT,
        description="New money committed to the regional pool by outside limited partners, million USD per year.",
    )
    home_market: float = Param(
        gt=0,
        le=100,
        unit="weight",
        plausible=(0.5, 10),
        provenance=INPUT,
        description=(
            "Relative size of the region's home market for hardtech products (weight; shares are normalised per bloc)."
        ),
    )
    university_research: float = Param(
        ge=0,
        le=1e5,
        unit="million USD per year",
        plausible=(50, 5000),
        provenance=INPUT,
        description="Universities' own basic-research spending, million USD per year.",
    )
    capability_gap: float = Param(
        0.0,
        ge=0,
        le=10,
        unit="log capability",
        plausible=(0, 1),
        provenance=INPUT,
        description="How far (log capability) the region's firms start below the world frontier in the first year.",
    )
    incumbents: int = Param(
        ge=0,
        le=50,
        unit="firms per field",
        plausible=(0, 5),
        provenance=INPUT,
        description="Large incumbent (platform) firms per field present at the start.",
    )
    startups: int = Param(
        ge=0,
        le=10000,
        unit="firms per field",
        plausible=(0, 50),
        provenance=INPUT,
        description="Young firms (0–5 years old) per field present at the start.",
    )
    policy: Policy = Param(
        default_factory=Policy,
        unit="block",
        allowed="a policy block",
        plausible="—",
        provenance=INPUT,
        description="The regional government's levers.",
    )


class Field_(Strict):
    """A technology field with its frontier, market and niches."""

    label: str = Param(
        unit="text",
        allowed="any text",
        plausible="—",
        provenance="[DEFINITION: a display name]",
        description="Human-readable name.",
    )
    maturity_midpoint: float = Param(
        ge=-20,
        le=20,
        unit="log capability",
        plausible=(0, 4),
        provenance=INPUT,
        description="World-frontier level (log capability) at which maturity is 0.5.",
    )
    maturity_steepness: float = Param(
        gt=0,
        le=20,
        unit="per log capability",
        plausible=(1, 4),
        provenance=INPUT,
        description="Slope of the logistic maturity curve, per unit of log capability.",
    )
    usability_threshold: float = Param(
        gt=0,
        lt=1,
        unit="maturity 0–1",
        plausible=(0.2, 0.5),
        provenance=INPUT,
        description="Maturity above which products are usable and earn revenue, 0–1.",
    )
    demand_threshold: float = Param(
        gt=0,
        lt=1,
        unit="maturity 0–1",
        plausible=(0.2, 0.5),
        provenance=INPUT,
        description=(
            "Maturity at which market demand starts to diffuse (Bass), 0–1; below the usability threshold = demand "
            "ahead of technology."
        ),
    )
    bass_p: float = Param(
        gt=0,
        le=1,
        unit="per year",
        plausible=(0.01, 0.05),
        provenance=INPUT,
        description="Bass coefficient of innovation, per year.",
    )
    bass_q: float = Param(
        ge=0,
        le=5,
        unit="per year",
        plausible=(0.2, 0.6),
        provenance=INPUT,
        description="Bass coefficient of imitation, per year.",
    )
    market_potential: float = Param(
        gt=0,
        le=1e7,
        unit="million USD per year",
        plausible=(1000, 100000),
        provenance=INPUT,
        description="World spending on the field at full adoption, million USD per year.",
    )
    platform_share: float = Param(
        ge=0,
        le=1,
        unit="share",
        plausible=(0.1, 0.8),
        provenance=INPUT,
        description=(
            "Share of the field's spending in its platform segment; the rest is spread over niches (1 = no vertical "
            "niches)."
        ),
    )
    niches: int = Param(
        ge=1,
        le=2000,
        unit="niches",
        plausible=(10, 60),
        provenance=INPUT,
        description="Number of vertical niches (application scenarios) at the start.",
    )
    niche_alpha: float = Param(
        gt=0.2,
        le=5,
        unit="Pareto exponent",
        plausible=(0.9, 2.0),
        provenance=INPUT,
        description="Pareto tail exponent of niche sizes (smaller = more unequal).",
    )
    revenue_multiple: float = Param(
        gt=0,
        le=100,
        unit="× annual revenue",
        plausible=(3, 30),
        provenance=INPUT,
        description="Valuation as a multiple of annual revenue.",
    )
    foreign_dependency: float = Param(
        ge=0,
        le=1,
        unit="share",
        plausible=(0, 0.8),
        provenance=INPUT,
        description="Typical share of critical inputs (chips, tools) bought from other blocs, 0–1.",
    )
    capital_intensity: float = Param(
        gt=0,
        le=100,
        unit="× a software field",
        plausible=(0.5, 6),
        provenance=INPUT,
        description="Multiplier on funding-round sizes and R&D costs relative to a software field (1).",
    )
    dragon_threshold: float = Param(
        1000.0,
        gt=0,
        le=1e6,
        unit="million USD",
        provenance="[DEFINITION: the observable, the 1 bn USD 'unicorn' convention of docs/FACTS.md SF6]",
        description="Valuation that makes a young firm a 'dragon', million USD.",
    )


class Event(Strict):
    """A dated decoupling event: one bloc restricts flows to another."""

    date: float = Param(
        ge=1900,
        le=2200,
        unit="decimal year",
        plausible=(2000, 2050),
        provenance=INPUT,
        description="Decimal year the event takes effect (2022.77 = 7 Oct 2022).",
    )
    imposer: str = Param(
        unit="bloc name",
        allowed="one of `blocs`",
        plausible="one of `blocs`",
        provenance=INPUT,
        description="Bloc that imposes the restriction.",
    )
    target: str = Param(
        unit="bloc name",
        allowed="one of `blocs`",
        plausible="one of `blocs`",
        provenance=INPUT,
        description="Bloc that is restricted.",
    )
    intensity: float = Param(
        ge=-1,
        le=1,
        unit="blockade intensity",
        plausible=(-0.3, 0.5),
        provenance=INPUT,
        description=(
            "Change of blockade intensity, −1–1 (negative = easing); the cumulative intensity is kept in [0, 1]."
        ),
    )
    channels: list[Literal["knowledge", "components", "market"]] = Param(
        default_factory=lambda: ["knowledge", "components", "market"],
        unit="channels",
        allowed=["knowledge", "components", "market"],
        plausible=["knowledge", "components", "market"],
        provenance=INPUT,
        description="Which flows are cut: cross-bloc knowledge, component supply, market access.",
    )
    note: str = Param(
        "",
        unit="text",
        allowed="any text",
        plausible="—",
        provenance="[DEFINITION: a note for readers]",
        description="What happened (free text).",
    )


# -- mechanism parameters -------------------------------------------------------------


def A(reason: str) -> str:  # noqa: N802 - a tag, like the ones in the preset
    """An assumption's provenance tag."""
    return f"[ASSUMPTION: {reason}]"


GUESS = A("no source; a starting value, to be measured or calibrated")
CALIBRATED = "[CALIBRATED]"


class Technology(Strict):
    """C1/C6: science stocks, frontiers and maturity."""

    science_per_musd: float = Param(
        0.00005,
        ge=0,
        le=1,
        unit="log capability per million USD of yearly research",
        plausible=(2e-5, 1.5e-4),
        provenance=GUESS,
        description="Growth of a bloc's science stock per million USD of basic research (log-capability units).",
    )
    science_diffusion: float = Param(
        0.10,
        ge=0,
        le=1,
        unit="share per year",
        plausible=(0.02, 0.3),
        provenance=GUESS,
        description="Share of another bloc's science lead absorbed per year when knowledge flows freely.",
    )
    science_headroom: float = Param(
        1.5,
        ge=0,
        le=10,
        unit="per log capability",
        plausible=(0.5, 3.0),
        provenance=GUESS,
        description=(
            "How strongly a firm's R&D draws improve when the bloc's science stock is above its capability (per log "
            "unit)."
        ),
    )
    headroom_unit: float = Param(
        0.1,
        gt=0,
        le=1,
        unit="log capability",
        provenance="[DEFINITION: the unit of science_headroom; only their product matters]",
        description=(
            "Shift of an R&D step per unit of science_headroom when the bloc's science is a full log unit ahead: "
            "shift = science_headroom × headroom_unit × clip(science − capability, ±headroom_gap_cap)."
        ),
    )
    headroom_gap_cap: float = Param(
        1.0,
        gt=0,
        le=10,
        unit="log capability",
        plausible=(0.5, 2.0),
        provenance=A("science far ahead helps no more than a log unit ahead"),
        description="Largest science lead (or lag) that shifts R&D steps; beyond it the shift stays at its cap.",
    )


class Market(Strict):
    """C1/C5/C9: demand, segments and revenue shares."""

    scale_economies: float = Param(
        1.0,
        ge=0,
        le=3,
        unit="exponent",
        plausible=(0.5, 1.5),
        provenance=GUESS,
        description=(
            "Exponent of firm size (headcount) in platform-segment competitiveness; 0 switches scale economies off."
        ),
    )
    scale_reference_headcount: float = Param(
        100.0,
        gt=0,
        le=1e6,
        unit="persons",
        plausible=(50, 300),
        provenance=GUESS,
        description="Headcount at which a platform firm's size factor (headcount / this)^scale_economies is 1.",
    )
    niche_fit_weight: float = Param(
        3.0,
        ge=0,
        le=10,
        unit="exponent",
        plausible=(1.5, 5.0),
        provenance=GUESS,
        description="Exponent of niche fit in niche-segment competitiveness; 0 makes fit irrelevant.",
    )
    fit_floor: float = Param(
        0.001,
        gt=0,
        lt=1,
        unit="fit 0–1",
        plausible=(0.0001, 0.01),
        provenance=A("a hopeless fit still sells a little; small enough to matter rarely"),
        description="Lowest niche fit counted in competitiveness (fits below it count as this).",
    )
    capability_weight: float = Param(
        14.0,
        ge=0,
        le=40,
        unit="per log capability",
        plausible=(12, 30),
        provenance=CALIBRATED,
        description="Exponent on capability (relative to the world frontier) in every segment's competitiveness.",
    )
    capability_lead_cap: float = Param(
        0.5,
        ge=0,
        le=10,
        unit="log capability",
        plausible=(0.25, 1.0),
        provenance=A("a lead beyond half a log unit over the world frontier wins no more customers"),
        description="Largest lead over the world frontier counted in competitiveness.",
    )
    incumbent_niche_fit: float = Param(
        0.25,
        ge=0,
        le=1,
        unit="fit 0–1",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description="Niche fit of a generalist incumbent, 0–1.",
    )
    home_bias: float = Param(
        0.6,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.3, 0.8),
        provenance=GUESS,
        description=(
            "Share of a region's spending that can only go to firms of its own bloc (the rest is open to all not "
            "blocked)."
        ),
    )
    foreign_access: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="access 0–1",
        plausible=(0.1, 0.6),
        provenance=GUESS,
        description="Access of a firm that has not expanded abroad to other blocs' open markets, 0–1.",
    )
    expansion_cost: float = Param(
        5.0,
        ge=0,
        le=1e4,
        unit="million USD × capital intensity",
        plausible=(1, 20),
        provenance=GUESS,
        description=(
            "One-off cost of expanding abroad (full access to unblocked foreign markets), million USD × capital "
            "intensity."
        ),
    )
    expansion_enabled: bool = Param(
        True, unit="switch", provenance=SWITCH, description="Whether firms may expand abroad."
    )
    expansion_rate: float = Param(
        0.1,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.03, 0.3),
        provenance=GUESS,
        description="Chance per quarter that a firm able to expand abroad does (about once in 2.5 years).",
    )
    expansion_cash_cover: float = Param(
        3.0,
        ge=0,
        le=100,
        unit="× expansion cost",
        plausible=(1.5, 6.0),
        provenance=GUESS,
        description="A firm expands abroad only with revenue and cash above this multiple of the expansion cost.",
    )
    entry_crowding: float = Param(
        1.0,
        ge=0,
        le=5,
        unit="exponent",
        plausible=(0.0, 2.0),
        provenance=GUESS,
        description=(
            "How much entrants shun crowded segments: a segment is chosen ∝ potential spending / (1 + rivals "
            "there)^entry_crowding; 0 = by spending alone."
        ),
    )
    scene_rate: float = Param(
        0.05,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.01, 0.15),
        provenance=GUESS,
        description=(
            "Chance per quarter that a firm that has just pushed its bloc's frontier in its field opens a new niche "
            "(defines a scene). A new scene's spending is moved from the field's older niches (the field's niche "
            "spending is unchanged)."
        ),
    )
    scene_needs_frontier: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether only firms that push their bloc's frontier define scenes (False: as many scenes, opened by "
            "non-incumbent firms at random whatever their capability — H11's control)."
        ),
    )
    max_scene_size: float = Param(
        0.2,
        gt=0,
        le=1,
        unit="share of the start niches' total",
        plausible=(0.05, 0.5),
        provenance=A("the Pareto tail would otherwise allow one scene larger than the field"),
        description="Largest size of one new scene, as a share of the field's start niches' total.",
    )
    scene_alpha_floor: float = Param(
        0.2,
        gt=0,
        le=5,
        unit="Pareto exponent",
        plausible=(0.1, 0.5),
        provenance=A("the Pareto mean α/(α − 1) does not exist for α ≤ 1"),
        description="Lowest α − 1 used in the mean α/(α − 1) that normalises a new scene's Pareto size.",
    )
    scene_fit: float = Param(
        0.8,
        ge=0,
        le=1,
        unit="fit 0–1",
        plausible=(0.6, 0.95),
        provenance=A("a scene's definer knows its customers well"),
        description="Niche fit a firm has at least in the scene it defines.",
    )
    demand_diffusion: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether demand diffuses (Bass) from its own threshold; False: every customer is there the moment "
            "products are usable (demand timing plays no role)."
        ),
    )
    revenue_needs_adopters: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether customers' spending follows adoption (Bass); False: customers spend the field's full potential "
            "as soon as products are usable, while adoption still diffuses from its threshold and shapes founders' "
            "and investors' expectations (H1's control)."
        ),
    )
    lock_in: float = Param(
        0.0,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.0, 0.5),
        provenance=A(
            "off: it acts only when demand starts before products are usable, which no preset field does "
            "(docs/ODD.md §8, H1)"
        ),
        description=(
            "Share of customers who adopted before products were usable that stay locked to legacy (platform) "
            "suppliers."
        ),
    )
    switch_rate: float = Param(
        0.02,
        ge=0,
        le=1,
        unit="share per year",
        plausible=(0.005, 0.1),
        provenance=GUESS,
        description="Share of locked-in customers who switch to new suppliers per year.",
    )
    capacity_ratio: float = Param(
        4.0,
        ge=0,
        le=100,
        unit="× staff cost",
        plausible=(2.0, 8.0),
        provenance=GUESS,
        description=(
            "Most revenue a firm's staff can deliver, as a multiple of what the staff costs (a firm cannot serve more "
            "demand than its people can; 0 = no limit)."
        ),
    )
    fringe: float = Param(
        3.0,
        ge=0,
        le=100,
        unit="average rivals",
        plausible=(1.0, 10.0),
        provenance=GUESS,
        description="Weight of the unmodelled suppliers in every segment (how many average rivals outside the model).",
    )
    fringe_gap: float = Param(
        0.2,
        ge=0,
        le=5,
        unit="log capability",
        plausible=(0.05, 0.5),
        provenance=GUESS,
        description="How far (log capability) the unmodelled suppliers sit below the world frontier.",
    )
    fringe_headcount: float = Param(
        1000.0,
        gt=0,
        le=1e7,
        unit="persons",
        plausible=(300, 3000),
        provenance=GUESS,
        description=(
            "Headcount of an unmodelled platform supplier (its size factor is (this / "
            "scale_reference_headcount)^scale_economies)."
        ),
    )
    fringe_fit: float = Param(
        0.5,
        gt=0,
        le=1,
        unit="fit 0–1",
        plausible=(0.3, 0.7),
        provenance=A("middling: neither specialist nor generalist"),
        description="Niche fit of an unmodelled niche supplier.",
    )
    margin: float = Param(
        0.35,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.2, 0.6),
        provenance=GUESS,
        description="Share of revenue left after direct costs (gross margin).",
    )
    revenue_smoothing: float = Param(
        0.2,
        gt=0,
        le=1,
        unit="weight of the latest quarter",
        plausible=(0.1, 0.4),
        provenance=A("about a year's memory"),
        description="Smoothed revenue = (1 − this) × the old smoothed revenue + this × the quarter's revenue.",
    )
    procurement_age_years: float = Param(
        10.0,
        ge=0,
        le=50,
        unit="years",
        plausible=(5, 15),
        provenance=GUESS,
        description="Firms younger than this (and not incumbents, in a niche) can sell to public procurement.",
    )
    procurement_maturity: float = Param(
        0.05,
        ge=0,
        le=1,
        unit="maturity 0–1",
        plausible=(0.01, 0.2),
        provenance=GUESS,
        description="Public buyers buy a field's products once its maturity is above this.",
    )


class Labour(Strict):
    """C2: graduates, wages, retirement and migration."""

    consider_move: float = Param(
        0.02,
        ge=0,
        le=1,
        unit="share per quarter",
        plausible=(0.005, 0.05),
        provenance=GUESS,
        description="Share of talent that weighs a move each quarter.",
    )
    young_consider_move: float = Param(
        0.05,
        ge=0,
        le=1,
        unit="share per quarter",
        plausible=(0.02, 0.1),
        provenance=GUESS,
        description="Same for talent younger than young_age.",
    )
    young_age: float = Param(
        30.0,
        ge=15,
        le=70,
        unit="years",
        plausible=(27, 35),
        provenance=GUESS,
        description="Talent younger than this weighs moves more often and sees settling subsidies.",
    )
    wage_weight: float = Param(
        3.0,
        ge=0,
        le=50,
        unit="logit weight",
        plausible=(1.5, 5.0),
        provenance=GUESS,
        description="Logit weight on log wage in the migration choice.",
    )
    cost_weight: float = Param(
        1.5,
        ge=0,
        le=50,
        unit="logit weight",
        plausible=(0.5, 3.0),
        provenance=GUESS,
        description="Logit weight on log living cost in the migration choice.",
    )
    subsidy_weight: float = Param(
        2.0,
        ge=0,
        le=50,
        unit="logit weight",
        plausible=(0.5, 4.0),
        provenance=GUESS,
        description="Logit weight on the subsidy as a share of the annual wage (young talent only).",
    )
    knowledge_weight: float = Param(
        1.0,
        ge=0,
        le=50,
        unit="logit weight",
        plausible=(0.3, 2.0),
        provenance=A("a third of the wage weight; docs/FACTS.md SP8 gives a direction only"),
        description=(
            "Logit weight on the log spillover boost of a region in the person's field in the migration choice "
            "(people move where they learn most; De La Roca & Puga 2017)."
        ),
    )
    moving_cost: float = Param(
        3.0,
        ge=0,
        le=50,
        unit="logit utility",
        plausible=(1.5, 5.0),
        provenance=GUESS,
        description="Utility cost of moving at all (logit units).",
    )
    distance_cost: float = Param(
        0.25,
        ge=0,
        le=10,
        unit="logit utility per 1,000 km",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description="Extra utility cost of moving per 1,000 km.",
    )
    bloc_cost: float = Param(
        2.0,
        ge=0,
        le=50,
        unit="logit utility",
        plausible=(1.0, 4.0),
        provenance=GUESS,
        description="Extra utility cost of moving to another bloc.",
    )
    wage_tightness: float = Param(
        0.6,
        ge=0,
        le=10,
        unit="elasticity",
        plausible=(0.2, 1.2),
        provenance=GUESS,
        description="Elasticity of the regional field wage to the share of talent employed by the modelled firms.",
    )
    retire_rate: float = Param(
        0.02,
        ge=0,
        le=0.5,
        unit="share per year",
        plausible=(0.01, 0.04),
        provenance=GUESS,
        description="Share of talent leaving the workforce per year before the retirement age.",
    )
    retirement_age: float = Param(
        60.0,
        ge=30,
        le=90,
        unit="years",
        plausible=(55, 65),
        provenance=A("China's statutory retirement age for men, rounded"),
        description="Everyone leaves the workforce at this age.",
    )
    graduate_age_min: float = Param(
        22.0,
        ge=14,
        le=60,
        unit="years",
        plausible=(21, 23),
        provenance=A("a bachelor's degree"),
        description="Youngest age of a new graduate (ages are uniform between the two bounds).",
    )
    graduate_age_max: float = Param(
        26.0,
        ge=14,
        le=60,
        unit="years",
        plausible=(24, 28),
        provenance=A("a master's degree or a first job"),
        description="Oldest age of a new graduate.",
    )
    skill_spread: float = Param(
        0.15,
        ge=0,
        le=1,
        unit="skill 0–1 (standard deviation)",
        plausible=(0.05, 0.25),
        provenance=GUESS,
        description=(
            "Standard deviation of talent's skill around its university's strength (graduates and the start "
            "population; clipped to 0–1)."
        ),
    )
    field_choice_base: float = Param(
        0.5,
        gt=0,
        le=100,
        unit="maturity 0–1",
        plausible=(0.2, 1.5),
        provenance=GUESS,
        description=(
            "Students choose a field with chance ∝ this + the field's maturity (higher: fields are chosen more evenly)."
        ),
    )
    max_employed_share: float = Param(
        0.5,
        gt=0,
        le=1,
        unit="share",
        plausible=(0.3, 0.7),
        provenance=GUESS,
        description="Most of a region-field's talent that the modelled firms can employ.",
    )

    @model_validator(mode="after")
    def _ages(self) -> Labour:
        _ordered("labour", "graduate_age_min", "graduate_age_max", self)
        return self


class Capital(Strict):
    """C4: rounds, exits and recycling."""

    deploy_rate: float = Param(
        0.06,
        ge=0,
        le=1,
        unit="share per quarter",
        plausible=(0.03, 0.12),
        provenance=GUESS,
        description="Share of a pool's capital it can commit per quarter.",
    )
    seed_share: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.15, 0.5),
        provenance=GUESS,
        description=(
            "Share of a pool's quarterly capacity kept for seeds (the rest backs later rounds of its portfolio)."
        ),
    )
    constrained: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether seeds and rounds are limited by the pools' capital (False: money is never scarce, so pool sizes "
            "change no decision)."
        ),
    )
    seed_round: float = Param(
        1.0,
        gt=0,
        le=1e4,
        unit="million USD × capital intensity",
        plausible=(0.3, 2.0),
        provenance=CALIBRATED,
        description="Seed round size, million USD (× field capital intensity).",
    )
    runway_quarters: float = Param(
        8.0,
        gt=0,
        le=40,
        unit="quarters",
        plausible=(4, 12),
        provenance=CALIBRATED,
        description="A round covers this many quarters of the firm's net burn (at least a seed round).",
    )
    short_runway_quarters: float = Param(
        3.0,
        gt=0,
        le=40,
        unit="quarters",
        plausible=(2, 6),
        provenance=GUESS,
        description=(
            "A venture whose cash covers fewer quarters of net burn than this is short of runway and seeks a round."
        ),
    )
    scale_up_demand_ratio: float = Param(
        1.2,
        ge=1,
        le=10,
        unit="× revenue",
        plausible=(1.05, 2.0),
        provenance=GUESS,
        description=(
            "A venture whose customers would buy more than this multiple of its revenue, and whose cash cannot pay "
            "the staff to serve them, seeks a round to scale up."
        ),
    )
    round_growth: float = Param(
        3.0,
        ge=1,
        le=20,
        unit="× largest round",
        plausible=(2, 5),
        provenance=GUESS,
        description="A round is at most this many times the firm's largest previous round.",
    )
    revenue_stage: int = Param(
        3,
        ge=0,
        le=20,
        unit="rounds",
        plausible=(2, 5),
        provenance=GUESS,
        description="From this round on, investors fund only firms with revenue.",
    )
    investor_stake: float = Param(
        0.2,
        gt=0,
        lt=1,
        unit="share",
        plausible=(0.1, 0.3),
        provenance=GUESS,
        description="Share of the firm sold in each round.",
    )
    milestone_gain: float = Param(
        0.15,
        ge=0,
        le=5,
        unit="log capability",
        plausible=(0.05, 0.35),
        provenance=CALIBRATED,
        description="Capability gain (log units) since the last round that counts as a milestone.",
    )
    milestone_revenue_growth: float = Param(
        1.5,
        ge=1,
        le=20,
        unit="× revenue at the last round",
        plausible=(1.2, 3.0),
        provenance=GUESS,
        description=(
            "Smoothed revenue above this multiple of the revenue at the last round (plus milestone_revenue_floor) "
            "also counts as a milestone."
        ),
    )
    milestone_revenue_floor: float = Param(
        0.05,
        ge=0,
        le=100,
        unit="million USD per quarter",
        plausible=(0.01, 0.2),
        provenance=GUESS,
        description=(
            "Revenue a firm must add on top of the multiple for a revenue milestone (so a first small sale is not one)."
        ),
    )
    appeal_steepness: float = Param(
        4.0,
        ge=0,
        le=50,
        unit="per log capability",
        plausible=(2, 8),
        provenance=GUESS,
        description="Slope of investors' appeal, a logistic in the firm's capability relative to the world frontier.",
    )
    appeal_midpoint_gap: float = Param(
        0.7,
        ge=0,
        le=10,
        unit="log capability",
        plausible=(0.3, 1.2),
        provenance=GUESS,
        description=(
            "Capability gap below the world frontier at which the logistic part of investors' appeal is one half."
        ),
    )
    appeal_floor: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.1, 0.6),
        provenance=GUESS,
        description=(
            "Part of investors' appeal that does not depend on the field's opportunity: appeal = logistic × (floor + "
            "(1 − floor) × opportunity)."
        ),
    )
    exit_age_years: float = Param(
        5.0,
        ge=0,
        le=50,
        unit="years",
        plausible=(3, 8),
        provenance=GUESS,
        description="Youngest age at which a firm can exit (IPO or sale).",
    )
    exit_rate: float = Param(
        0.06,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.02, 0.12),
        provenance=GUESS,
        description="Chance per quarter that an eligible firm exits.",
    )
    ipo_valuation: float = Param(
        500.0,
        gt=0,
        le=1e6,
        unit="million USD",
        plausible=(200, 1500),
        provenance=GUESS,
        description="Valuation above which an exit is an IPO (below: a trade sale), million USD.",
    )
    ipo_founder_sale: float = Param(
        0.2,
        ge=0,
        le=1,
        unit="share of the founder's stake",
        plausible=(0.05, 0.4),
        provenance=GUESS,
        description="Share of their stake founders sell at an IPO (at a trade sale they sell it all).",
    )
    recycling: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether exit proceeds return to the region's investors and founders (False: they leave the region)."
        ),
    )
    angel_rate: float = Param(
        0.10,
        ge=0,
        le=1,
        unit="share per year",
        plausible=(0.03, 0.25),
        provenance=GUESS,
        description="Share of founders' exit wealth they reinvest in the regional pool per year.",
    )
    pool_outflow: float = Param(
        0.02,
        ge=0,
        le=1,
        unit="share per year",
        plausible=(0.01, 0.1),
        provenance=GUESS,
        description="Share of a pool's capital distributed back to outside limited partners per year.",
    )
    cross_region: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="weight",
        plausible=(0.1, 0.6),
        provenance=GUESS,
        description="Weight of other same-bloc regions' pools in a round, relative to the home pool.",
    )
    cross_bloc: float = Param(
        0.1,
        ge=0,
        le=1,
        unit="weight",
        plausible=(0.02, 0.3),
        provenance=GUESS,
        description="Weight of other blocs' pools in a round (before blockades).",
    )
    price_elasticity: float = Param(
        0.2,
        ge=0,
        le=2,
        unit="elasticity",
        plausible=(0.1, 0.3),
        provenance=A("size; the direction is docs/FACTS.md VC1 (Gompers & Lerner 2000)"),
        description=(
            "Elasticity of private valuations to the venture money on offer per dollar asked; 0 = prices ignore money."
        ),
    )
    abundance_cap: float = Param(
        10.0,
        ge=1,
        le=1000,
        unit="× money asked",
        plausible=(3, 30),
        provenance=GUESS,
        description=(
            "The money on offer per dollar asked that prices deals is kept between 1/this and this (a pool nobody "
            "asks counts as this)."
        ),
    )
    price_adjustment: float = Param(
        0.25,
        gt=0,
        le=1,
        unit="share per quarter",
        plausible=(0.1, 0.5),
        provenance=A("prices follow money over about a year"),
        description="Share of the gap to the quarter's price that the deal price closes each quarter.",
    )
    growth_lift_cap: float = Param(
        2.0,
        ge=0,
        le=20,
        unit="growth ratio",
        plausible=(1.0, 4.0),
        provenance=GUESS,
        description=(
            "Most a firm's revenue growth (the quarter's revenue over its smoothed revenue, minus 1) lifts its "
            "revenue valuation: × (1 + growth)."
        ),
    )
    prospect_years: float = Param(
        2.0,
        gt=0,
        le=20,
        unit="years",
        plausible=(1, 4),
        provenance=GUESS,
        description="How far ahead investors look when they value a firm by its share of the spending to come.",
    )
    prospect_discount: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.25, 0.75),
        provenance=GUESS,
        description="Weight investors give the spending expected prospect_years ahead (a discount for risk and time).",
    )
    prospect_usability_margin: float = Param(
        0.1,
        ge=0,
        le=1,
        unit="maturity 0–1",
        plausible=(0.0, 0.2),
        provenance=GUESS,
        description=(
            "Investors count a field's products as usable ahead when maturity is within this of the usability "
            "threshold."
        ),
    )
    round_price_fade: float = Param(
        0.97,
        ge=0,
        le=1,
        unit="per quarter",
        plausible=(0.9, 1.0),
        provenance=GUESS,
        description=(
            "The last round's price floors a firm's valuation, fading by this factor every quarter since the round."
        ),
    )


class Innovation(Strict):
    """C3: R&D draws, imitation and spillovers."""

    burn_rd_share: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share of staff",
        plausible=(0.3, 0.7),
        provenance=GUESS,
        description="Share of a firm's staff working on R&D.",
    )
    zeta: float = Param(
        1.0,
        gt=0,
        le=100,
        unit="per effort unit",
        plausible=(0.5, 2.0),
        provenance=A("Dosi et al.'s template (docs/FACTS.md T1); the value is ours"),
        description=(
            "R&D productivity ζ: innovation succeeds with chance 1 − exp(−ζ · innovation_share · effort · spillover "
            "boost), imitation with the rest of the effort; effort = (researchers / capital intensity)^rd_returns / "
            "effort_unit."
        ),
    )
    effort_unit: float = Param(
        10.0,
        gt=0,
        le=1e6,
        unit="researchers^rd_returns",
        provenance="[DEFINITION: the unit of R&D effort; only zeta / effort_unit matters]",
        description="Researchers (over capital intensity, to the power rd_returns) that make one unit of R&D effort.",
    )
    innovation_share: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share of effort",
        plausible=(0.3, 0.7),
        provenance=A("an even split of R&D between innovating and imitating (docs/FACTS.md T1)"),
        description="Share of a firm's R&D effort spent on innovation; the rest goes to imitation.",
    )
    rd_returns: float = Param(
        0.5,
        gt=0,
        le=1,
        unit="exponent",
        plausible=(0.3, 0.8),
        provenance=GUESS,
        description="Returns to R&D team size (1 = linear; 0.5 = square root).",
    )
    step_low: float = Param(
        -0.05,
        ge=-1,
        le=0,
        unit="log capability",
        plausible=(-0.1, 0.0),
        provenance=GUESS,
        description=(
            "Lower end of the log-capability change of an R&D success (a Beta(step_shape, step_shape) draw rescaled)."
        ),
    )
    step_high: float = Param(
        0.15,
        ge=0,
        le=1,
        unit="log capability",
        plausible=(0.08, 0.25),
        provenance=GUESS,
        description="Upper end of the same.",
    )
    step_shape: float = Param(
        3.0,
        gt=0,
        le=100,
        unit="Beta shape",
        plausible=(1.5, 6.0),
        provenance=A("the Beta(3, 3) of Dosi et al.'s template (docs/FACTS.md T1)"),
        description=(
            "Both shape parameters of the symmetric Beta draw of an R&D step (1 = uniform; larger = steps nearer the "
            "middle)."
        ),
    )
    imitation: float = Param(
        0.15,
        ge=0,
        le=1,
        unit="share of the gap",
        plausible=(0.05, 0.3),
        provenance=GUESS,
        description=(
            "Share of the gap to the best reachable capability a follower closes per quarter of successful imitation."
        ),
    )
    spillovers: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether knowledge spills over between firms (off: no R&D boost or productivity from related activity, no "
            "imitation, and founders start from the bloc's public science instead of the region's best firm)."
        ),
    )
    local_knowledge: bool = Param(
        True,
        unit="switch",
        provenance=SWITCH,
        description=(
            "Whether knowledge is local (absorbed from the own region, neighbours and, discounted by distance, the "
            "rest); False: every region absorbs the regions' mean and imitates any region's best alike."
        ),
    )
    spillover_strength: float = Param(
        0.6,
        ge=0,
        le=10,
        unit="per log unit of related activity",
        plausible=(0.2, 1.2),
        provenance=A("no estimate; docs/FACTS.md SP6 suggests a range"),
        description="Boost of R&D success from absorbed related knowledge (per log unit of local related activity).",
    )
    knowledge_scale: float = Param(
        1000.0,
        gt=0,
        le=1e7,
        unit="persons",
        plausible=(300, 3000),
        provenance=GUESS,
        description=(
            "Related headcount K in the spillover boost 1 + strength · ln(1 + K / this) and the density productivity "
            "(1 + K / this)^density_elasticity."
        ),
    )
    density_elasticity: float = Param(
        0.06,
        ge=0,
        le=1,
        unit="elasticity",
        plausible=(0.03, 0.19),
        provenance="[SOURCE: SP5; range SP6]",
        description="Elasticity of absorbed knowledge to the density of related activity (Ciccone–Hall ≈ 0.06).",
    )
    neighbour_km: float = Param(
        300.0,
        gt=0,
        le=20000,
        unit="km",
        plausible=(200, 500),
        provenance="[SOURCE: SP2]",
        description="Distance within which regional spillovers are felt (Bottazzi–Peri ≈ 300 km).",
    )
    neighbour_weight: float = Param(
        0.05,
        ge=0,
        le=1,
        unit="weight",
        plausible=(0.02, 0.1),
        provenance=A("of the order of docs/FACTS.md SP2's 2–3 %"),
        description="Weight of a neighbouring region's knowledge relative to the own region.",
    )
    remote_reach: float = Param(
        0.15,
        ge=0,
        le=1,
        unit="weight",
        plausible=(0.1, 0.2),
        provenance="[SOURCE: SP3; read as a weight on imitation]",
        description=(
            "Weight of another region's best firm in imitation relative to the own region's, before distance decay "
            "(same-metro patent citations are 5–10× more likely than chance, Jaffe et al. 1993)."
        ),
    )
    world_halving_km: float = Param(
        1200.0,
        gt=0,
        le=40000,
        unit="km",
        plausible=(800, 2000),
        provenance="[SOURCE: SP1]",
        description="Distance at which diffusion of the world frontier halves (Keller ≈ 1,200 km).",
    )


class Entrepreneurship(Strict):
    """C2/C4/C5: founding, spin-outs, experiments, pivots and failure."""

    found_rate: float = Param(
        0.0006,
        ge=0,
        le=0.1,
        unit="chance per person per quarter",
        plausible=(0.0003, 0.0012),
        provenance=GUESS,
        description="Base chance per person per quarter of founding a firm when the field's opportunity is full.",
    )
    young_founder_age: float = Param(
        35.0,
        ge=15,
        le=70,
        unit="years",
        plausible=(30, 40),
        provenance=GUESS,
        description="People younger than this found with young_founding_factor, the others with older_founding_factor.",
    )
    young_founding_factor: float = Param(
        1.5,
        ge=0,
        le=10,
        unit="× found_rate",
        plausible=(1.0, 2.5),
        provenance=GUESS,
        description="Founding chance of a young person relative to found_rate.",
    )
    older_founding_factor: float = Param(
        0.6,
        ge=0,
        le=10,
        unit="× found_rate",
        plausible=(0.3, 1.0),
        provenance=GUESS,
        description="Founding chance of an older person relative to found_rate.",
    )
    push_weight: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="weight",
        plausible=(0.2, 0.8),
        provenance=GUESS,
        description="Weight of technology push (maturity) vs market pull (demand) in a field's perceived opportunity.",
    )
    spinout_multiplier: float = Param(
        8.0,
        ge=0,
        le=100,
        unit="× found_rate",
        plausible=(3, 15),
        provenance=GUESS,
        description="How many times more likely an employee of a successful firm is to found one.",
    )
    spinout_success_share: float = Param(
        0.2,
        ge=0,
        le=1,
        unit="share of the dragon threshold",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description=(
            "A firm is successful enough for its staff to spin out once a dragon or valued above this share of its "
            "field's dragon threshold."
        ),
    )
    founder_capability: float = Param(
        0.35,
        ge=0,
        le=2,
        unit="log capability",
        plausible=(0.2, 0.6),
        provenance=GUESS,
        description=(
            "A new firm's capability gap below the region's best in its field (log units); spin-outs start closer."
        ),
    )
    founder_gap_spread: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.25, 0.75),
        provenance=GUESS,
        description=(
            "A founder's gap is founder_capability × U(1 − this, 1 + this) × the skill term (the start firms' gaps "
            "alike, without it)."
        ),
    )
    founder_skill_effect: float = Param(
        0.5,
        ge=0,
        lt=2,
        unit="per unit of skill",
        plausible=(0.2, 0.8),
        provenance=GUESS,
        description=(
            "Skill term of a founder's gap, 1 + this × (½ − skill): better-trained founders start closer to the local "
            "best (skill ½ gives the nominal gap)."
        ),
    )
    spinout_gap_share: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share of the gap",
        plausible=(0.25, 0.75),
        provenance=GUESS,
        description="A spin-out starts at least as close as this share of its founder's gap below its parent firm.",
    )
    entrant_fit_alpha: float = Param(
        1.5,
        gt=0,
        le=100,
        unit="Beta shape",
        plausible=(1.0, 3.0),
        provenance=GUESS,
        description=(
            "First shape parameter of a new firm's niche fit, Beta(entrant_fit_alpha, entrant_fit_beta) (mean 0.2 at "
            "the defaults)."
        ),
    )
    entrant_fit_beta: float = Param(
        6.0,
        gt=0,
        le=100,
        unit="Beta shape",
        plausible=(3.0, 10.0),
        provenance=GUESS,
        description="Second shape parameter of the same.",
    )
    experiment_size: float = Param(
        4.0,
        gt=0,
        le=1000,
        unit="person-quarters × capital intensity",
        plausible=(2, 8),
        provenance=GUESS,
        description=(
            "Person-quarters one experiment (prototype or pivot) takes with no software base, × capital intensity."
        ),
    )
    software_discount: float = Param(
        0.7,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.4, 0.9),
        provenance=GUESS,
        description="Share of experiment cost a full software base (1.0) saves.",
    )
    experiment_budget: float = Param(
        0.25,
        ge=0,
        le=1,
        unit="share of spending",
        plausible=(0.1, 0.4),
        provenance=GUESS,
        description="Share of a young firm's quarterly spending that goes to experiments.",
    )
    young_firm_years: float = Param(
        5.0,
        gt=0,
        le=50,
        unit="years",
        plausible=(3, 7),
        provenance=GUESS,
        description="Firms younger than this (and not incumbents) run experiments.",
    )
    fit_step: float = Param(
        0.35,
        ge=0,
        le=1,
        unit="share of the fit gap",
        plausible=(0.2, 0.5),
        provenance=GUESS,
        description="Spread of niche fit found by one experiment (fit draws are Beta, best kept).",
    )
    pivot_fit: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="fit 0–1",
        plausible=(0.15, 0.45),
        provenance=GUESS,
        description="A firm whose niche fit is below this after pivot_after_years may pivot to another niche.",
    )
    pivot_after_years: float = Param(
        2.0,
        ge=0,
        le=50,
        unit="years",
        plausible=(1, 3),
        provenance=GUESS,
        description="Youngest age at which a badly fitted firm weighs a pivot.",
    )
    pivot_rate: float = Param(
        0.25,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.1, 0.5),
        provenance=A("a pivot is weighed about once a year"),
        description="Chance per quarter that a badly fitted firm pivots.",
    )
    pivot_fit_kept: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share of fit",
        plausible=(0.25, 0.75),
        provenance=GUESS,
        description="Share of its niche fit a pivoting firm keeps in its new niche.",
    )
    burn_per_head: float = Param(
        1.0,
        ge=0,
        le=10,
        unit="× wage",
        plausible=(0.5, 1.5),
        provenance=GUESS,
        description="Non-wage spending per employee relative to the wage (at a living-cost index of 1).",
    )
    local_cost_share: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.3, 0.7),
        provenance=A("the living-cost index is built from housing prices, which office rents follow"),
        description=(
            "Share of non-wage spending (office rent, local services) that scales with the region's living-cost "
            "index; the rest (equipment, cloud, travel) costs the same everywhere."
        ),
    )
    runway_quarters: float = Param(
        5.0,
        gt=0,
        le=40,
        unit="quarters",
        plausible=(2, 8),
        provenance=CALIBRATED,
        description="A young firm staffs up so that its cash lasts this many quarters (beyond what its income pays).",
    )
    start_headcount: float = Param(
        5.0,
        ge=1,
        le=1000,
        unit="persons",
        plausible=(2, 10),
        provenance=GUESS,
        description="Founding team size, persons.",
    )
    growth_hiring: float = Param(
        0.25,
        ge=0,
        le=5,
        unit="share of the gap per quarter",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description="Share of the gap to the headcount the revenue or runway affords that a firm closes per quarter.",
    )


class Cooperation(Strict):
    """C7: links, shared R&D and pooled risk."""

    enabled: bool = Param(True, unit="switch", provenance=SWITCH, description="Whether firms cooperate at all.")
    link_rate: float = Param(
        0.02,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.005, 0.05),
        provenance=GUESS,
        description="Chance per quarter that a firm seeks a new partner.",
    )
    distance_decay_km: float = Param(
        300.0,
        gt=0,
        le=40000,
        unit="km",
        plausible=(150, 1000),
        provenance=A("the spillover distance of docs/FACTS.md SP2, reused"),
        description="Distance scale of partner choice (exp(−d/scale)).",
    )
    share_rd: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description="Share of a partner's R&D gain a firm absorbs.",
    )
    risk_pool: float = Param(
        0.2,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.05, 0.4),
        provenance=GUESS,
        description="Share of a partner's spare cash that can cover a firm's shortfall.",
    )
    reserve_quarters: float = Param(
        4.0,
        ge=0,
        le=40,
        unit="quarters of costs",
        plausible=(2, 8),
        provenance=GUESS,
        description="A partner's cash counts as spare beyond this many quarters of its own costs.",
    )
    link_decay: float = Param(
        0.02,
        ge=0,
        le=1,
        unit="chance per quarter",
        plausible=(0.01, 0.05),
        provenance=GUESS,
        description="Chance per quarter that a link lapses.",
    )
    link_cost: float = Param(
        0.25,
        ge=0,
        le=20,
        unit="person-quarters per quarter",
        plausible=(0.1, 1.0),
        provenance=A("size; managing an alliance is costly (Dyer, Kale & Singh 2001)"),
        description=(
            "Staff time a cooperation link takes from each partner per quarter, person-quarters, paid at the firm's "
            "cost per head."
        ),
    )


class Decoupling(Strict):
    """C6: blockade effects and substitution."""

    enabled: bool = Param(
        True, unit="switch", provenance=SWITCH, description="Whether the scenario's blockade events take effect."
    )
    capability_loss: float = Param(
        0.4,
        ge=0,
        le=5,
        unit="log capability",
        plausible=(0.1, 0.8),
        provenance=GUESS,
        description="Log-capability lost at full blockade by a firm fully dependent on foreign components.",
    )
    substitution_rate: float = Param(
        0.3,
        ge=0,
        le=1,
        unit="share of dependency",
        plausible=(0.1, 0.5),
        provenance=GUESS,
        description=(
            "Share of foreign dependency a firm replaces per successful substitution R&D quarter (it restores the "
            "capability the blockade took; it does not move the firm toward the frontier)."
        ),
    )
    substitution_effort: float = Param(
        1.5,
        ge=0,
        le=5,
        unit="× normal R&D effort",
        plausible=(0.5, 3.0),
        provenance=GUESS,
        description="Extra R&D effort, as a share of normal R&D, a dependent firm adds under blockade.",
    )
    dependency_spread: float = Param(
        0.5,
        ge=0,
        le=1,
        unit="share",
        plausible=(0.25, 0.75),
        provenance=GUESS,
        description=(
            "A firm's foreign dependency is its field's foreign_dependency × U(1 − this, 1 + this), clipped to 0–1."
        ),
    )


class Dragon(Strict):
    """The observable: a young firm that reached the field's dragon valuation."""

    max_age_years: float = Param(
        10.0,
        gt=0,
        le=50,
        unit="years",
        provenance="[DEFINITION: the observable, a young firm's dragon]",
        description="A firm counts as a dragon only if it reaches the threshold within this many years of founding.",
    )
    follower_gap: float = Param(
        0.2,
        ge=0,
        le=5,
        unit="log capability",
        provenance="[DEFINITION: an observation only (H11)]",
        description=(
            "A firm counts as a technology follower if it was founded at least this far (log capability) behind its "
            "field's world frontier (observation only; H11)."
        ),
    )


class Setup(Strict):
    """The start state: how the agents present in the first quarter are drawn (docs/ODD.md §5)."""

    talent_age_min: float = Param(
        22.0,
        ge=14,
        le=90,
        unit="years",
        plausible=(20, 24),
        provenance=GUESS,
        description="Youngest age of the start talent (ages uniform between the two bounds).",
    )
    talent_age_max: float = Param(
        58.0,
        ge=14,
        le=90,
        unit="years",
        plausible=(55, 62),
        provenance=GUESS,
        description="Oldest age of the start talent.",
    )
    incumbent_headcount: float = Param(
        3000.0,
        gt=0,
        le=1e7,
        unit="persons",
        plausible=(1000, 10000),
        provenance=GUESS,
        description="Median headcount of a start incumbent in one field (log-normal).",
    )
    incumbent_headcount_spread: float = Param(
        0.5,
        ge=0,
        le=5,
        unit="log standard deviation",
        plausible=(0.25, 1.0),
        provenance=GUESS,
        description="Spread of start incumbents' headcounts (standard deviation of the log).",
    )
    incumbent_cash_per_head: float = Param(
        0.05,
        ge=0,
        le=10,
        unit="million USD per person × capital intensity",
        plausible=(0.02, 0.2),
        provenance=GUESS,
        description="Cash a start incumbent holds per employee, × the field's capital intensity.",
    )
    incumbent_valuation_per_head: float = Param(
        0.5,
        ge=0,
        le=100,
        unit="million USD per person",
        plausible=(0.2, 2.0),
        provenance=GUESS,
        description="Valuation of a start incumbent per employee.",
    )
    incumbent_capability_spread: float = Param(
        0.05,
        ge=0,
        le=5,
        unit="log capability",
        plausible=(0.02, 0.15),
        provenance=GUESS,
        description="Standard deviation of start incumbents' capability around the region's start level.",
    )
    incumbent_age_min_years: float = Param(
        10.0,
        ge=0,
        le=100,
        unit="years",
        plausible=(5, 14),
        provenance=GUESS,
        description=(
            "Youngest age of a start incumbent (whole quarters, drawn uniformly up to incumbent_age_max_years, that "
            "excluded)."
        ),
    )
    incumbent_age_max_years: float = Param(
        20.0,
        ge=0,
        le=100,
        unit="years",
        plausible=(15, 30),
        provenance=GUESS,
        description="Age no start incumbent reaches.",
    )
    incumbent_rounds: int = Param(
        5,
        ge=0,
        le=100,
        unit="rounds",
        provenance="[DEFINITION: a listed firm's round count; no rule reads an incumbent's stage]",
        description="Funding rounds a start incumbent is counted as having raised (shown in the firms table).",
    )
    startup_cash_min: float = Param(
        0.5,
        ge=0,
        le=100,
        unit="× seed round",
        plausible=(0.25, 1.0),
        provenance=GUESS,
        description="Least cash of a start young firm, × its seed round (uniform up to startup_cash_max).",
    )
    startup_cash_max: float = Param(
        2.0,
        ge=0,
        le=100,
        unit="× seed round",
        plausible=(1.5, 3.0),
        provenance=GUESS,
        description="Most cash of a start young firm, × its seed round.",
    )
    startup_team_max: float = Param(
        4.0,
        ge=1,
        le=1000,
        unit="× start headcount",
        plausible=(2, 8),
        provenance=GUESS,
        description="A start young firm's headcount is start_headcount × U(1, this).",
    )
    startup_age_max_years: float = Param(
        5.0,
        ge=0.25,
        le=50,
        unit="years",
        plausible=(3, 7),
        provenance=GUESS,
        description="Age no start young firm reaches (whole quarters, drawn uniformly from 0).",
    )
    startup_fit_alpha: float = Param(
        1.5,
        gt=0,
        le=100,
        unit="Beta shape",
        plausible=(1.0, 3.0),
        provenance=GUESS,
        description=(
            "First shape parameter of a start young firm's niche fit, Beta(startup_fit_alpha, startup_fit_beta)."
        ),
    )
    startup_fit_beta: float = Param(
        4.0,
        gt=0,
        le=100,
        unit="Beta shape",
        plausible=(2.0, 8.0),
        provenance=GUESS,
        description="Second shape parameter of the same (mean 0.27 at the defaults: start firms have had time to fit).",
    )

    @model_validator(mode="after")
    def _pairs(self) -> Setup:
        _ordered("setup", "talent_age_min", "talent_age_max", self)
        _ordered("setup", "startup_cash_min", "startup_cash_max", self)
        _ordered("setup", "incumbent_age_min_years", "incumbent_age_max_years", self, gap=0.25)
        return self


class Time(Strict):
    """The simulated years (quarterly steps)."""

    start_year: int = Param(
        2012,
        ge=1950,
        le=2100,
        unit="year",
        plausible=(2000, 2020),
        provenance=INPUT,
        description="First simulated year (its first quarter is step 0).",
    )
    end_year: int = Param(
        2035,
        ge=1950,
        le=2200,
        unit="year",
        plausible=(2020, 2050),
        provenance=INPUT,
        description="Last simulated year (inclusive).",
    )

    @property
    def steps(self) -> int:
        """Number of simulated quarters, from the start to the end year inclusive."""
        return (self.end_year - self.start_year + 1) * 4


BLOCK = "[DEFINITION: a block of parameters]"


class Scenario(Strict):
    """Everything a run needs. Load with :func:`hardtech.scenario.load`."""

    name: str = Param(
        "scenario",
        pattern=r"^[A-Za-z0-9_.-]+$",
        unit="text",
        allowed="letters, digits, _ . -",
        plausible="—",
        provenance="[DEFINITION: a name]",
        description="Scenario name (letters, digits, _ . -).",
    )
    description: str = Param(
        "",
        unit="text",
        allowed="any text",
        plausible="—",
        provenance="[DEFINITION: a note for readers]",
        description="What the scenario represents.",
    )
    seed: int = Param(
        0,
        ge=0,
        le=2**63 - 1,
        unit="integer",
        plausible=(0, 2**63 - 1),
        provenance="[DEFINITION: the random seed]",
        description="Base random seed.",
    )
    scale: float = Param(
        0.01,
        ge=0.0001,
        le=1.0,
        unit="share of real talent",
        plausible=(0.002, 1.0),
        provenance="[DEFINITION: the simulation's resolution, not a behaviour]",
        description="Share of the real talent population simulated as agents (0.01 = 1:100, 1 = 1:1).",
    )
    time: Time = Param(
        default_factory=Time,
        unit="block",
        allowed="a time block",
        plausible="—",
        provenance=BLOCK,
        description="The simulated years.",
    )
    blocs: list[str] = Param(
        min_length=1,
        unit="bloc names",
        allowed="one or more names",
        plausible="—",
        provenance=INPUT,
        description="Names of the geopolitical blocs.",
    )
    regions: dict[str, Region] = Param(
        min_length=2,
        unit="regions",
        allowed="two or more regions",
        plausible="—",
        provenance=INPUT,
        description="The regions by name.",
    )
    distances_km: dict[str, dict[str, float]] = Param(
        unit="km",
        allowed=(0, 20040),
        plausible=(0, 20000),
        provenance=INPUT,
        description="Distance between each pair of regions, km (each pair once, either order).",
    )
    fields: dict[str, Field_] = Param(
        min_length=1,
        unit="fields",
        allowed="one or more fields",
        plausible="—",
        provenance=INPUT,
        description="The technology fields by name.",
    )
    relatedness: dict[str, dict[str, float]] = Param(
        default_factory=dict,
        unit="relatedness 0–1",
        allowed=(0, 1),
        plausible=(0, 1),
        provenance=INPUT,
        description="Relatedness of pairs of fields, 0–1 (missing pairs = 0, a field with itself = 1).",
    )
    events: list[Event] = Param(
        default_factory=list,
        unit="events",
        allowed="a list of events",
        plausible="—",
        provenance=INPUT,
        description="Dated decoupling events.",
    )
    technology: Technology = Param(
        default_factory=Technology,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Technology.__doc__,
    )
    market: Market = Param(
        default_factory=Market,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Market.__doc__,
    )
    labour: Labour = Param(
        default_factory=Labour,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Labour.__doc__,
    )
    capital: Capital = Param(
        default_factory=Capital,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Capital.__doc__,
    )
    innovation: Innovation = Param(
        default_factory=Innovation,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Innovation.__doc__,
    )
    entrepreneurship: Entrepreneurship = Param(
        default_factory=Entrepreneurship,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Entrepreneurship.__doc__,
    )
    cooperation: Cooperation = Param(
        default_factory=Cooperation,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Cooperation.__doc__,
    )
    decoupling: Decoupling = Param(
        default_factory=Decoupling,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Decoupling.__doc__,
    )
    dragon: Dragon = Param(
        default_factory=Dragon,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Dragon.__doc__,
    )
    setup: Setup = Param(
        default_factory=Setup,
        unit="block",
        allowed="a block",
        plausible="—",
        provenance=BLOCK,
        description=Setup.__doc__,
    )

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
                lo, hi = meta(Scenario, "distances_km")["allowed"]
                if not lo <= km <= hi:
                    raise ValueError(
                        f"distances_km.{a}.{b}: distance must be {lo}–{hi} km (half the Earth's circumference), "
                        f"got {km}"
                    )
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
                    raise ValueError(
                        f"events.{k}.{role}: unknown bloc {getattr(ev, role)!r}; allowed: {', '.join(self.blocs)}"
                    )
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
