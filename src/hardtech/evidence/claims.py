"""The article's claims as declared experiments that can fail.

Every claim is declared in ``registry.toml`` (see :mod:`hardtech.evidence.registry`)
before it is run: statement, causal channel, metric, arms, statistic, margin,
control, manipulation check, the rules added for it, and its history.
:func:`run_claim` runs its arms over the same replications (common random
numbers) under several *labels*:

- **declared** — the arms as declared;
- **control** — the same arms with the claim's causal channel switched off,
  while the manipulated input stays active (the manipulation check says so);
- **ablation** — the same arms without the rules added to the model for this
  claim (only when some are still active);
- **sweep** rows — the claim under other values of a disputed rule.

For each label it reports the statistic with a paired bootstrap interval
(BCa from 10 replications up, percentile below), whether any two arms ran
bit-identically (``identical_arms``: such a pair is not a test), and for the
control whether the manipulated input still moves the channel's first
intermediate quantity (``manipulation_active``).

Verdicts, at ≥ 20 paired replications (fewer: "screening", never a verdict):

- **supported** — the 95% interval lies above zero;
- **not supported** — it lies below zero, or the 90% interval lies inside
  ±margin (no effect of a size that matters: an equivalence test, TOST at
  α = 0.05);
- **inconclusive** — otherwise.

A control's effect is **gone** when its 90% interval lies inside ±margin
(the same equivalence test). The margin is declared per claim (e.g. ±5% of
the reference arm's mean). Each claim also states the smallest effect its
replications could detect (80% power at α = 0.05: 2.8 standard errors).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from hardtech.evidence.ensembles import run_many
from hardtech.evidence.registry import Claim, arm_statistic, declared_claims
from hardtech.scenario import Scenario, load
from hardtech.scenario.schema import lever_value

VERDICT_REPLICATIONS = 20  # fewer paired replications give a screening signal, not a verdict
RESAMPLES = 4000
MDE_FACTOR = float(stats.norm.ppf(0.975) + stats.norm.ppf(0.8))  # ≈ 2.80: 80% power, two-sided α = 0.05
BCA_FROM = 10  # replications from which the interval is BCa (percentile below)

__all__ = [
    "Claim",
    "ClaimResult",
    "Interval",
    "build_claims",
    "declared_claims",
    "equivalent",
    "paired_interval",
    "run_claim",
    "verdict",
]

build_claims = declared_claims  # the name the CLI and older code use


# -- statistics ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Interval:
    """A statistic with its paired bootstrap intervals (95% and 90%) and standard error."""

    point: float
    lo: float
    hi: float
    lo90: float
    hi90: float
    se: float
    n: int
    method: str  # "BCa", "percentile" or "none" (fewer than 2 replications, or no spread)

    @property
    def mde(self) -> float:
        """Smallest effect these replications detect with 80% power (two-sided α = 0.05)."""
        return MDE_FACTOR * self.se


def paired_interval(
    samples: Mapping[Any, np.ndarray], compute: Callable[[Mapping[Any, Any]], Any], seed: int = 0
) -> Interval:
    """``compute`` of the samples' means, with paired bootstrap intervals over replications.

    ``samples`` maps a key to per-replication values (the same replications
    everywhere: they are resampled jointly). Replications with a missing value
    in any sample are dropped. BCa from :data:`BCA_FROM` replications up,
    percentile below (BCa's acceleration is unstable on a handful of values).
    """
    keys = list(samples)
    matrix = np.column_stack([np.asarray(samples[k], float) for k in keys]) if keys else np.zeros((0, 0))
    matrix = matrix[np.all(np.isfinite(matrix), axis=1)]
    n = len(matrix)
    if n == 0:
        nan = float("nan")
        return Interval(nan, nan, nan, nan, nan, nan, 0, "none")

    def statistic(*columns: np.ndarray, axis: int = -1) -> np.ndarray:
        return np.asarray(compute({k: np.mean(c, axis=axis) for k, c in zip(keys, columns, strict=True)}), float)

    point = float(statistic(*matrix.T))
    if n < 2 or np.all(matrix == matrix[0]):
        return Interval(point, point, point, point, point, 0.0, n, "none")
    method = "BCa" if n >= BCA_FROM else "percentile"
    bounds = {}
    for level in (0.95, 0.90):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # degenerate resamples are handled below
            res = stats.bootstrap(
                tuple(matrix.T),
                statistic,
                paired=True,
                vectorized=True,
                n_resamples=RESAMPLES,
                confidence_level=level,
                method=method,
                rng=np.random.default_rng(np.random.SeedSequence(seed)),
            )
        lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
        if not (np.isfinite(lo) and np.isfinite(hi)):  # e.g. BCa with a constant bootstrap distribution
            dist = res.bootstrap_distribution
            lo, hi = (float(np.quantile(dist, q)) for q in ((1 - level) / 2, (1 + level) / 2))
        bounds[level] = (lo, hi)
        se = float(res.standard_error)
    return Interval(point, *bounds[0.95], *bounds[0.90], se, n, method)


def equivalent(interval: Interval, margin: float) -> bool:
    """Whether an effect is negligible: its 90% interval lies inside ±margin (TOST, α = 0.05)."""
    return bool(np.isfinite(interval.lo90) and -margin <= interval.lo90 and interval.hi90 <= margin)


def verdict(interval: Interval, margin: float) -> str:
    """Supported / not supported / inconclusive (see the module docstring)."""
    if interval.lo > 0:
        return "supported"
    if interval.hi < 0 or equivalent(interval, margin):
        return "not supported"
    return "inconclusive"


# -- results ----------------------------------------------------------------------------------------
@dataclass
class LabelResult:
    """The claim's statistic under one label (declared, control, ablation or a sweep row)."""

    label: str
    overrides: Mapping[str, Any]
    effect: Interval
    verdict: str
    identical_pairs: list[tuple[str, str]]
    means: dict[str, float]
    also: dict[str, float] = field(default_factory=dict)
    manipulation: Interval | None = None

    @property
    def identical_arms(self) -> bool:
        return bool(self.identical_pairs)


@dataclass
class ClaimResult:
    """What running a claim found."""

    claim: Claim
    margin: float
    replications: int
    screening: bool
    labels: dict[str, LabelResult]
    derived: dict[str, float] = field(default_factory=dict)
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # e.g. H11's years to a first scene

    @property
    def declared(self) -> LabelResult:
        """The result under the declared arms."""
        return self.labels["declared"]

    @property
    def control(self) -> LabelResult:
        """The result under the control (the channel switched off)."""
        return self.labels["control"]

    @property
    def verdict(self) -> str:
        """The claim's verdict: the declared label's, or 'screening' for a screening run."""
        return "screening" if self.screening else self.declared.verdict

    @property
    def control_gone(self) -> bool:
        """Whether the control's effect is equivalent to zero (within the margin)."""
        return equivalent(self.control.effect, self.margin)

    @property
    def manipulation_active(self) -> bool:
        """Whether the manipulated input still acts under the control (its interval excludes 0, or a nonzero point)."""
        m = self.control.manipulation
        if m is None or not np.isfinite(m.point):
            return False
        if m.method == "none":
            return m.point != 0
        return bool(m.lo > 0 or m.hi < 0)

    def row(self) -> dict[str, Any]:
        """A flat record for tables, JSON and the store."""
        c, d, k = self.claim, self.declared, self.control
        out: dict[str, Any] = {
            "claim": c.id,
            "title": c.title,
            "short": c.short,
            "article": c.article,
            "statement": c.statement,
            "channel": c.channel,
            "metric": c.metric,
            "statistic": c.statistic_text,
            "statistic_expr": c.statistic,
            **_interval_fields("", d.effect),
            "mde": d.effect.mde,
            "verdict": self.verdict,
            "signal": d.verdict,
            "screening": self.screening,
            "margin": self.margin,
            "margin_text": _margin_text(c.margin),
            "replications": self.replications,
            "identical_arms": d.identical_arms,
            "identical_pairs": [list(p) for p in d.identical_pairs],
            "control": c.control_text,
            "control_overrides": dict(k.overrides),
            **_interval_fields("control_", k.effect),
            "control_gone": self.control_gone,
            "control_verdict": "screening" if self.screening else k.verdict,
            "control_identical_arms": k.identical_arms,
            "control_identical_pairs": [list(p) for p in k.identical_pairs],
            "manipulation_active": self.manipulation_active,
            "manipulation": self._manipulation(),
            "ablation": self._ablation(),
            "sweeps": [self._label_row(v) for key, v in self.labels.items() if key.startswith("sweep")],
            "history": [dict(h) for h in c.history],
            "tables": self.tables,
            **{f"mean_{a}": v for a, v in d.means.items()},
            **{f"also_{a}": v for a, v in {**d.also, **self.derived}.items()},
        }
        return out

    def _manipulation(self) -> dict[str, Any]:
        man, m = self.claim.manipulation, self.control.manipulation
        if man is None or m is None:
            return {}
        declared = self.declared.manipulation
        what = f"{man.between[1]} − {man.between[0]}" if man.between else f"value − {man.null:g}"
        return {
            "quantity": man.quantity,
            "text": man.text,
            "compared": what,
            **_interval_fields("", m),
            "declared_change": declared.point if declared is not None else float("nan"),
        }

    def _ablation(self) -> dict[str, Any]:
        c = self.claim
        out: dict[str, Any] = {"rules": list(c.ablation_rules), "note": c.ablation_note, "overrides": dict(c.ablation)}
        if "ablation" in self.labels:
            a = self.labels["ablation"]
            out.update(
                _interval_fields("", a.effect),
                verdict="screening" if self.screening else a.verdict,
                identical_arms=a.identical_arms,
            )
        return out

    def _label_row(self, result: LabelResult) -> dict[str, Any]:
        return {
            "label": result.label,
            "overrides": dict(result.overrides),
            **_interval_fields("", result.effect),
            "verdict": "screening" if self.screening else result.verdict,
            "signal": result.verdict,
            "identical_arms": result.identical_arms,
        }


def _mean(values: Any) -> float:
    """Mean of the finite values (NaN when there are none, without a warning)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def _interval_fields(prefix: str, i: Interval) -> dict[str, Any]:
    return {
        f"{prefix}effect": i.point,
        f"{prefix}lo": i.lo,
        f"{prefix}hi": i.hi,
        f"{prefix}lo90": i.lo90,
        f"{prefix}hi90": i.hi90,
        f"{prefix}se": i.se,
        f"{prefix}method": i.method,
    }


def _margin_text(margin: Mapping[str, Any]) -> str:
    if "absolute" in margin:
        return f"±{margin['absolute']:g}"
    return f"±{100 * margin['share']:g}% of |{margin['of']}|"


# -- running -----------------------------------------------------------------------------------------
_CACHE: dict[str, dict] = {}


def run_claim(
    claim: Claim,
    scenario: Scenario,
    replications: int,
    executor: Executor | None = None,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
    screening: bool | None = None,
    seed: int = 0,
    draws: Sequence[Mapping[str, Any]] | None = None,
) -> ClaimResult:
    """Run a claim's arms under every label and compute its statistics (see the module docstring).

    ``replications`` is multiplied by the claim's replication factor;
    ``screening`` defaults to fewer than :data:`VERDICT_REPLICATIONS` replications.
    ``draws`` (one override mapping per replication, e.g. posterior draws from
    :func:`posterior_draws`) are applied under every arm of that replication,
    so parameter uncertainty enters the interval while the arms stay paired.
    """
    n = replications * claim.replication_factor
    screening = n < VERDICT_REPLICATIONS if screening is None else screening
    labels: dict[str, tuple[str, Mapping[str, Any]]] = {
        "declared": ("declared", {}),
        "control": ("control", claim.control),
    }
    if claim.ablation:
        labels["ablation"] = ("without the rules added for it", claim.ablation)
    for i, (text, overrides) in enumerate(claim.sweeps):
        labels[f"sweep{i}"] = (text, overrides)
    rows = arm_rows(claim, scenario, {k: v[1] for k, v in labels.items()}, n, executor, workers, on_done, draws)
    margin = _margin(claim, rows["declared"])
    results = {
        key: _label_result(claim, text, overrides, rows[key], margin, seed) for key, (text, overrides) in labels.items()
    }
    derived = _DERIVED[claim.derived](results["declared"].means) if claim.derived else {}
    tables = {name: _TABLES[name](rows["declared"]) for name in claim.tables}
    return ClaimResult(claim, margin, n, screening, results, derived, tables)


def arm_rows(
    claim: Claim,
    scenario: Scenario,
    labels: Mapping[str, Mapping[str, Any]],
    replications: int,
    executor: Executor | None = None,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
    draws: Sequence[Mapping[str, Any]] | None = None,
    cache: dict[str, dict] | None = None,
    on_failed: Callable[[tuple, dict], None] | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Outcome rows of every (label, arm), replications 0 … n − 1, in two batches.

    The first batch holds every arm that needs no other arm; the second the arms
    that inject the money their label's ``base`` arm recycled (per replication).
    ``draws[k]`` (if given) is applied first in replication ``k``. ``cache`` (run id →
    row, see :func:`~hardtech.evidence.ensembles.run_many`) defaults to this process's
    in-memory cache. ``on_failed`` keeps failed runs as rows (see
    :func:`~hardtech.evidence.ensembles.run_many`); an arm that injects a failed base run's
    money cannot be built, so a caller checks the base arm first.
    """
    cache = _CACHE if cache is None else cache
    if draws is not None and len(draws) < replications:
        raise ValueError(f"draws: {len(draws)} parameter draws for {replications} replications")
    bases = (
        [load(scenario, dict(draws[k])) for k in range(replications)]
        if draws is not None
        else [scenario] * replications
    )
    plain = {
        (label, arm): [(load(bases[k], {**over, **extra}), k) for k in range(replications)]
        for label, extra in labels.items()
        for arm, over in claim.arms.items()
        if arm not in claim.inject
    }
    out = _run_jobs(plain, executor, workers, on_done, cache, on_failed)
    if claim.inject:
        later = {}
        for label, extra in labels.items():
            base = out[(label, "base")]
            for arm, kind in claim.inject.items():
                over = {**claim.arms[arm], **extra}
                later[(label, arm)] = [
                    (load(bases[k], {**over, **_injection(bases[k], over, path, kind)}), k)
                    for k, path in enumerate(base["_recycled_path"])
                ]
        out.update(_run_jobs(later, executor, workers, on_done, cache, on_failed))
    result: dict[str, dict[str, pd.DataFrame]] = {label: {} for label in labels}
    for (label, arm), frame in out.items():
        result[label][arm] = frame
    return {label: {arm: result[label][arm] for arm in claim.arms} for label in labels}


def posterior_draws(path: str | Path, n: int, seed: int = 0) -> list[dict[str, float]]:
    """``n`` parameter sets drawn (with replacement, by weight) from a stored posterior.

    The posterior is the one ``hardtech calibrate`` stored (DuckDB table ``posterior``: one column
    per parameter path, ``weight``).
    """
    import duckdb

    with duckdb.connect(str(path), read_only=True) as con:
        particles = con.execute("SELECT * FROM posterior").df()
    params = [c for c in particles.columns if c not in ("run_id", "weight")]
    weights = particles["weight"].to_numpy(float)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2026]))
    picked = rng.choice(len(particles), size=n, p=weights / weights.sum())
    return [{p: float(particles[p].iloc[i]) for p in params} for i in picked]


def _run_jobs(
    groups: Mapping[Any, list[tuple[Scenario, int]]],
    executor,
    workers,
    on_done,
    cache: dict[str, dict],
    on_failed: Callable[[tuple, dict], None] | None = None,
) -> dict[Any, pd.DataFrame]:
    """Run every group's jobs as one batch (no worker waits at the end of a small arm)."""
    jobs = [job for group in groups.values() for job in group]
    rows = run_many(
        jobs, workers=workers, executor=executor, on_done=on_done, cache=cache, detail=True, on_failed=on_failed
    )
    out, start = {}, 0
    for key, group in groups.items():
        out[key] = rows.iloc[start : start + len(group)].reset_index(drop=True)
        start += len(group)
    return out


def _injection(
    scenario: Scenario, overrides: Mapping[str, Any], path: Mapping[str, Mapping[int, float]], kind: str
) -> dict[str, Any]:
    """Fund injections that put the recycled money of one base run into the same regions' pools.

    ``path``: every year's recycled money per region; for each region the
    injection adds, to the lever it already has, that money on the same
    yearly path, or (``once``) the run's total in its fifth year.
    """
    sc = load(scenario, dict(overrides))
    start, end = sc.time.start_year, sc.time.end_year
    out = {}
    for region, reg in sc.regions.items():
        yearly = {int(y): float(v) for y, v in path.get(region, {}).items()}
        if kind == "once":
            yearly = {start + 4: sum(yearly.values())}
        schedule = [
            [float(y), round(lever_value(reg.policy.fund_injection, y) + yearly.get(y, 0.0), 6)]
            for y in range(start, end + 1)
        ]
        out[f"regions.{region}.policy.fund_injection"] = schedule
    return out


def _margin(claim: Claim, declared: Mapping[str, pd.DataFrame]) -> float:
    if "absolute" in claim.margin:
        return float(claim.margin["absolute"])
    pairs, compute = arm_statistic(claim.margin["of"], claim.metric)
    value = compute({p: _mean(declared[p[0]][p[1]]) for p in pairs})
    return float(claim.margin["share"] * abs(value)) if np.isfinite(value) else 0.0


def _label_result(
    claim: Claim, text: str, overrides: Mapping[str, Any], rows: Mapping[str, pd.DataFrame], margin: float, seed: int
) -> LabelResult:
    pairs, compute = arm_statistic(claim.statistic, claim.metric)
    effect = paired_interval({p: rows[p[0]][p[1]].to_numpy(float) for p in pairs}, compute, seed)
    means = {arm: _mean(frame[claim.metric]) for arm, frame in rows.items()}
    also = {}
    for name, expression in claim.also.items():
        also_pairs, also_compute = arm_statistic(expression, claim.metric)
        also[name] = float(also_compute({p: _mean(rows[p[0]][p[1]]) for p in also_pairs}))
    return LabelResult(
        text,
        overrides,
        effect,
        verdict(effect, margin),
        _identical_pairs(rows),
        means,
        also,
        _manipulation(claim, rows, seed),
    )


def _identical_pairs(rows: Mapping[str, pd.DataFrame]) -> list[tuple[str, str]]:
    """Pairs of arms whose runs were bit-identical in every replication."""
    arms = list(rows)
    return [
        (a, b)
        for i, a in enumerate(arms)
        for b in arms[i + 1 :]
        if list(rows[a]["_digest"]) == list(rows[b]["_digest"])
    ]


def _manipulation(claim: Claim, rows: Mapping[str, pd.DataFrame], seed: int) -> Interval | None:
    man = claim.manipulation
    if man is None:
        return None
    if man.between:
        a, b = man.between
        return paired_interval(
            {"a": rows[a][man.quantity].to_numpy(float), "b": rows[b][man.quantity].to_numpy(float)},
            lambda m: m["b"] - m["a"],
            seed,
        )
    arm = next(iter(rows))
    return paired_interval({"q": rows[arm][man.quantity].to_numpy(float)}, lambda m: m["q"] - man.null, seed)


def _loop_gain(means: Mapping[str, float]) -> dict[str, float]:
    """H5's loop gain: dragons lost by cutting recycling per dragon gained by injecting the same money once."""
    gained = means["once"] - means["base"]
    return {"loop_gain": (means["base"] - means["cut"]) / gained if gained else float("nan")}


def _scene_years(rows: Mapping[str, pd.DataFrame]) -> list[dict[str, Any]]:
    """H11: years from founding to the first scene defined, by region, pooled over the first arm's replications."""
    first = next(iter(rows.values()))
    pooled: dict[str, list[float]] = {}
    for per_run in first["_scene_years"]:
        for region, years in per_run.items():
            pooled.setdefault(region, []).extend(years)
    out = []
    for region, years in pooled.items():
        y = np.asarray(years, float)
        q = np.quantile(y, [0.25, 0.5, 0.75]) if y.size else [float("nan")] * 3
        out.append(
            {"region": region, "firms": int(y.size), "p25": float(q[0]), "median": float(q[1]), "p75": float(q[2])}
        )
    return out


_DERIVED: dict[str, Callable[[Mapping[str, float]], dict[str, float]]] = {"loop_gain": _loop_gain}
_TABLES: dict[str, Callable[[Mapping[str, pd.DataFrame]], list[dict[str, Any]]]] = {"scene_years": _scene_years}
