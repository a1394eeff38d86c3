"""The article's hypotheses H1–H10 as declared experiments.

Each :class:`Claim` is data: the arms (scenario overrides) to run, the metric,
the statistic that is positive when the claim holds, and the *control*: the
overrides that switch the responsible mechanism off. Running a claim runs
every arm twice — as declared and with the control applied — over the same
replications (common random numbers), and reports the statistic with a
paired bootstrap interval and a verdict:

- **supported** — the interval lies above zero;
- **not supported** — the interval lies below zero, or inside ±margin
  (no effect of a size that matters);
- **inconclusive** — otherwise.

The control's effect should vanish when the mechanism is off: its interval
covers zero, or lies inside ±margin (an equivalence test: with many
replications even a negligible residual excludes zero, so "no effect of a size
that matters" is the stricter, fairer reading). Claims are built for any
scenario and a focal region.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from hardtech.evidence.ensembles import bootstrap_interval, run_many
from hardtech.scenario import Scenario, load


@dataclass(frozen=True)
class Claim:
    """One hypothesis as an experiment."""

    id: str
    title: str
    article: str
    metric: str
    arms: dict[str, dict[str, Any]]
    statistic: Callable[[Mapping[str, float]], float]
    statistic_text: str
    control: dict[str, Any]
    control_text: str
    margin: float = 0.05  # share of the reference arm's mean below which an effect does not matter
    replication_factor: int = 1  # noisy claims run this many times the requested replications
    short: str = ""  # a few words for narrow tables
    derived: Callable[[Mapping[str, float]], dict[str, float]] | None = field(default=None, compare=False)
    also: tuple[str, ...] = ()
    prepare: Callable[[Claim, pd.DataFrame], dict[str, dict[str, Any]]] | None = field(default=None, compare=False)


@dataclass
class ClaimResult:
    """What running a claim found."""

    claim: Claim
    effect: float
    lo: float
    hi: float
    verdict: str
    control_effect: float
    control_lo: float
    control_hi: float
    control_vanishes: bool
    control_verdict: str  # the claim's verdict with its mechanism switched off
    arm_means: dict[str, float]
    control_means: dict[str, float]
    replications: int
    also: dict[str, float] = field(default_factory=dict)

    def row(self) -> dict[str, Any]:
        """A flat record for tables, JSON and the store."""
        c = self.claim
        return {
            "claim": c.id, "title": c.title, "short": c.short or c.title, "metric": c.metric, "statistic": c.statistic_text,
            "effect": self.effect, "lo": self.lo, "hi": self.hi, "verdict": self.verdict,
            "control": c.control_text, "control_effect": self.control_effect, "control_lo": self.control_lo,
            "control_hi": self.control_hi, "control_vanishes": self.control_vanishes,
            "control_verdict": self.control_verdict,
            "replications": self.replications,
            **{f"mean_{k}": v for k, v in self.arm_means.items()},
            **{f"also_{k}": v for k, v in self.also.items()},
        }


# H6's control: every rule that treats a niche differently from a platform, switched off
SEGMENTS_ALIKE: dict[str, Any] = {
    "market.scale_economies": 0.0, "market.niche_fit_weight": 0.0, "market.incumbent_niche_fit": 1.0,
    "market.scene_rate": 0.0, "entrepreneurship.pivot_fit": 0.0, "market.entry_crowding": 0.0,
}


def verdict(lo: float, hi: float, margin: float) -> str:
    """supported / not supported / inconclusive from an interval and an equivalence margin."""
    if lo > 0:
        return "supported"
    if hi < 0 or (lo >= -margin and hi <= margin):
        return "not supported"
    return "inconclusive"


def vanishes(lo: float, hi: float, margin: float) -> bool:
    """Whether a control's effect is gone: its interval covers zero or lies inside ±margin."""
    return bool(lo <= 0 <= hi or (lo >= -margin and hi <= margin))


def _diff(a: str, b: str) -> Callable[[Mapping[str, float]], float]:
    return lambda m: m[a] - m[b]


def build_claims(scenario: Scenario, region: str | None = None) -> list[Claim]:
    """H1–H9 for ``scenario`` with ``region`` (default: the first) as the focal region."""
    region = region or next(iter(scenario.regions))
    if region not in scenario.regions:
        raise ValueError(f"--region: unknown region {region!r}; allowed: {', '.join(scenario.regions)}")
    reg = scenario.regions[region]
    fields = list(scenario.fields)

    def demand_shift(shift: float) -> dict[str, Any]:
        return {
            f"fields.{f}.demand_threshold": round(float(np.clip(scenario.fields[f].usability_threshold + shift, 0.02, 0.95)), 4)
            for f in fields
        }

    weak_software = round(max(0.0, reg.software_base - 0.6), 3)
    claims = [
        Claim(
            "H1", "Temporal resonance: dragons peak when demand and maturity cross together",
            "technological maturity and market demand synchronously approached their critical point",
            "dragons",
            {"early": demand_shift(-0.3), "sync": demand_shift(0.0), "late": demand_shift(0.3)},
            lambda m: m["sync"] - max(m["early"], m["late"]),
            "dragons(sync) − max(dragons(demand early), dragons(demand late))",
            {"market.demand_diffusion": False}, "market.demand_diffusion = false (demand timing plays no role)",
            short="temporal resonance",
        ),
        Claim(
            "H2", f"A cheaper {region} attracts young talent and breeds startups",
            "lower cost of living than metropolises … friendly to young talent",
            f"births_{region}",
            {"base": {}, "cheap": {f"regions.{region}.living_cost": round(reg.living_cost * 0.7, 4)}},
            _diff("cheap", "base"), f"births in {region} with living cost × 0.7 − baseline",
            {"labour.cost_weight": 0.0, "entrepreneurship.cost_elasticity": 0.0},
            "living cost enters neither migration nor founding",
            also=(f"net_inflow_{region}",),
            short="cheap city → talent, startups",
        ),
        Claim(
            "H3", "A software base buys more experiments per unit of capital and better survival",
            "a strong software and internet landscape that reduces the costs of trial-and-error",
            f"experiments_per_musd_{region}",
            {"weak": {f"regions.{region}.software_base": weak_software}, "strong": {}},
            _diff("strong", "weak"), f"experiments per M USD in {region}: software base {reg.software_base} − {weak_software}",
            {"entrepreneurship.software_discount": 0.0}, "the software base does not cut experiment costs",
            also=(f"survival_{region}",),
            short="software base → cheap experiments",
        ),
        Claim(
            "H4", "Spillovers concentrate activity over time",
            "agglomeration accelerates technological spillover and resource integration",
            "talent_concentration_change",
            {"on": {}, "off": {"innovation.spillovers": False}},
            _diff("on", "off"), "rise in the concentration of tech talent across regions: spillovers on − off",
            {"innovation.local_knowledge": False}, "knowledge has no geography (every region absorbs the mean)",
            also=("concentration_change",),
            short="spillovers concentrate talent",
        ),
        Claim(
            "H5", "The closed loop: cutting recycling costs more dragons than a one-off injection of the same money adds",
            "a closed loop of talent, technology, and capital",
            "dragons",
            {"base": {}, "cut": {"capital.recycling": False}, "inject": {}},
            lambda m: min(m["base"] - m["cut"], (m["base"] - m["cut"]) - (m["inject"] - m["base"])),
            "min(dragons lost by cutting recycling everywhere, that loss − dragons gained when every region "
            "gets, once, what recycling returned to it): both must be positive",
            {"capital.constrained": False}, "capital is never scarce (pool sizes change no decision)",
            also=(f"dragons_{region}",),
            derived=_loop_gain,
            prepare=_same_money(scenario),
            replication_factor=3,  # dragon counts are noisy: the loop gain needs more runs
            short="closed loop beats injection",
        ),
        Claim(
            "H6", "Division of roles: small firms win niches, incumbents hold platforms",
            "large companies … capital-intensive and widely used applications, small companies dominate in specialized vertical markets",
            "division_of_roles",
            {"base": {}},
            lambda m: m["base"],
            "small firms' market share in niches − in platforms (within fields)",
            SEGMENTS_ALIKE,
            "segments differ only in size: no scale economies, no niche fit, no scenes or pivots, "
            "entrants choose segments by spending alone",
            replication_factor=2,  # one cheap arm: twice the runs make the equivalence test of the control precise
            short="small firms win niches",
        ),
        Claim(
            "H7", "Rich application scenarios breed niche dragons",
            "rich application scenarios and enormous market size provide testing grounds",
            "niche_dragons",
            {"base": {}, "rich": _richer_niches(scenario)},
            _diff("rich", "base"), "niche dragons with twice the application scenarios (each as rich) − baseline",
            {f"fields.{f}.platform_share": 1.0 for f in fields},
            "no vertical niches: all application spending is platform spending",
            also=("dragons",),
            short="rich scenarios → niche dragons",
        ),
        Claim(
            "H8", "Decoupling's double effect: gaps first narrow, later stall unless basic research rises",
            "in the short term … closing of technological gaps … deficits in science-based original innovation",
            "gap",
            {},
            lambda m: m["_h8"],
            "short-run narrowing under blockade × long-run benefit of basic research",
            {"decoupling.enabled": False}, "no blockade",
            short="decoupling: narrow, then stall",
        ),
        Claim(
            "H9", "Cluster cooperation lowers failure",
            "companies share risks and resources",
            f"survival_{region}",
            {"alone": {f"regions.{region}.policy.cluster_programme": 0.0, "cooperation.link_rate": 0.0},
             "cluster": {f"regions.{region}.policy.cluster_programme": 3.0}},
            _diff("cluster", "alone"), f"survival of {region}'s firms with a strong cluster programme − without links",
            {"cooperation.risk_pool": 0.0, "cooperation.share_rd": 0.0}, "links share neither risk nor R&D",
            short="clusters lower failure",
        ),
    ]
    return claims


def _richer_niches(scenario: Scenario) -> dict[str, Any]:
    """Twice the niches per field, each as large as before: platform spending unchanged."""
    out: dict[str, Any] = {}
    for name, fld in scenario.fields.items():
        phi = fld.platform_share
        out[f"fields.{name}.niches"] = int(fld.niches * 2)
        out[f"fields.{name}.market_potential"] = round(fld.market_potential * (phi + 2 * (1 - phi)), 3)
        out[f"fields.{name}.platform_share"] = round(phi / (phi + 2 * (1 - phi)), 6)
    return out


def _loop_gain(means: Mapping[str, float]) -> dict[str, float]:
    """H5's loop gain: dragons lost by cutting recycling per dragon gained by injecting the same money once."""
    gained = means["inject"] - means["base"]
    return {"loop_gain": (means["base"] - means["cut"]) / gained if gained else float("nan")}


def _same_money(scenario: Scenario):
    """H5: every region gets, in one year (the run's fifth), what recycling returned to its investors in the baseline."""

    def prepare(claim: Claim, base_rows: pd.DataFrame) -> dict[str, dict[str, Any]]:
        year = float(scenario.time.start_year + 4)
        inject = {}
        for region in scenario.regions:
            money = round(float(base_rows[f"returned_{region}"].mean()), 3)
            inject[f"regions.{region}.policy.fund_injection"] = [[year, money], [year + 1, 0.0]]
        return {**claim.arms, "inject": inject}

    return prepare


def run_claim(
    claim: Claim,
    scenario: Scenario,
    replications: int,
    executor: Executor | None = None,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
) -> ClaimResult:
    """Run a claim's arms and their controls; see the module docstring."""
    replications *= claim.replication_factor
    if claim.id == "H8":
        return _run_h8(claim, scenario, replications, executor, workers, on_done)
    extras = {"declared": {}, "control": claim.control}
    arms = {label: claim.arms for label in extras}
    if claim.prepare is not None:
        bases = _arm_rows(scenario, {label: {**claim.arms["base"], **extra} for label, extra in extras.items()},
                          replications, executor, workers, on_done)
        arms = {label: claim.prepare(claim, bases[label]) for label in extras}
    declared, control = _declared_and_control(scenario, arms, extras, replications, executor, workers, on_done)
    def metric_of(rows: pd.DataFrame) -> np.ndarray:
        return rows[claim.metric].to_numpy()

    stat = claim.statistic
    point, lo, hi = bootstrap_interval({k: metric_of(v) for k, v in declared.items()}, stat)
    c_point, c_lo, c_hi = bootstrap_interval({k: metric_of(v) for k, v in control.items()}, stat)
    means = {k: float(np.nanmean(metric_of(v))) for k, v in declared.items()}
    control_means = {k: float(np.nanmean(metric_of(v))) for k, v in control.items()}
    reference = abs(next(iter(means.values()))) or 1.0
    margin = claim.margin * reference
    also = {}
    for name in claim.also:
        keys = list(declared)
        also[name] = float(stat({k: float(np.nanmean(declared[k][name])) for k in keys})) if len(keys) else float("nan")
    if claim.derived is not None:
        also.update(claim.derived(means))
    return ClaimResult(claim, point, lo, hi, verdict(lo, hi, margin), c_point, c_lo, c_hi, vanishes(c_lo, c_hi, margin),
                       verdict(c_lo, c_hi, margin), means, control_means, replications, also)


_CACHE: dict[str, dict] = {}


def _arm_rows(scenario: Scenario, arms: Mapping[Any, Mapping[str, Any]], replications: int, executor, workers,
              on_done) -> dict[Any, pd.DataFrame]:
    """Outcome rows of every arm (key → overrides), replications 0 … n − 1 each, run as one batch."""
    scenarios = {key: load(scenario, dict(over)) for key, over in arms.items()}
    jobs = [(sc, k) for sc in scenarios.values() for k in range(replications)]
    rows = run_many(jobs, workers=workers, executor=executor, on_done=on_done, cache=_CACHE)
    return {key: rows.iloc[i * replications:(i + 1) * replications].reset_index(drop=True)
            for i, key in enumerate(scenarios)}


def _declared_and_control(scenario: Scenario, arms: Mapping[str, Mapping[str, Mapping[str, Any]]],
                          extras: Mapping[str, Mapping[str, Any]], replications: int, executor, workers,
                          on_done) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Rows of each label's arms ("declared", "control") with the label's extra overrides on top.

    Every arm of both labels runs in one batch, so no worker waits at the end of a small arm.
    """
    rows = _arm_rows(scenario, {(label, name): {**over, **extras[label]}
                                for label in extras for name, over in arms[label].items()},
                     replications, executor, workers, on_done)
    return tuple({name: r for (label, name), r in rows.items() if label == wanted}  # type: ignore[return-value]
                 for wanted in ("declared", "control"))


def _run_h8(claim: Claim, scenario: Scenario, replications: int, executor, workers, on_done) -> ClaimResult:
    """H8: blockade × basic research.

    Statistic: min(short-run narrowing of the blocked bloc's gap under the
    blockade relative to no blockade, long-run gap reduction that extra basic
    research buys under the blockade). Positive when both parts of the double
    effect hold. The control removes the blockade from every arm.
    """
    target = _blocked_bloc(scenario)
    regions = [r for r, reg in scenario.regions.items() if reg.bloc == target]
    research = {f"regions.{r}.policy.basic_research": 3000.0 for r in regions}
    arms = {"free": {"decoupling.enabled": False}, "blockade": {}, "blockade_research": research}

    extras = {"declared": {}, "control": {"decoupling.enabled": False}}
    declared, control = _declared_and_control(scenario, {label: arms for label in extras}, extras, replications,
                                              executor, workers, on_done)
    pre, short, long = (f"gap_{target}_{k}" for k in ("pre", "short", "long"))

    def series(rows: Mapping[str, pd.DataFrame]) -> dict[str, np.ndarray]:
        return {
            "narrow_free": (rows["free"][pre] - rows["free"][short]).to_numpy(),
            "narrow_block": (rows["blockade"][pre] - rows["blockade"][short]).to_numpy(),
            "long_block": rows["blockade"][long].to_numpy(),
            "long_research": rows["blockade_research"][long].to_numpy(),
        }

    def stat(m: Mapping[str, float]) -> float:
        return min(m["narrow_block"] - m["narrow_free"], m["long_block"] - m["long_research"])

    point, lo, hi = bootstrap_interval(series(declared), stat)
    c_point, c_lo, c_hi = bootstrap_interval(series(control), stat)
    means = {k: float(np.nanmean(v)) for k, v in series(declared).items()}
    c_means = {k: float(np.nanmean(v)) for k, v in series(control).items()}
    margin = claim.margin * (abs(means["long_block"]) or 1.0)
    return ClaimResult(claim, point, lo, hi, verdict(lo, hi, margin), c_point, c_lo, c_hi, vanishes(c_lo, c_hi, margin),
                       verdict(c_lo, c_hi, margin), means, c_means, replications)


def _blocked_bloc(scenario: Scenario) -> str:
    hits: dict[str, float] = {}
    for ev in scenario.events:
        hits[ev.target] = hits.get(ev.target, 0.0) + max(ev.intensity, 0.0)
    if not hits:
        return scenario.blocs[0]
    return max(hits, key=hits.get)
