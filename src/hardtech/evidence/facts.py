"""Stylized facts measured on model output, next to the empirical value and a pass band.

Each fact is a function of one run's tables returning the measured value;
:data:`FACTS` gives the empirical figure, its source (docs/FACTS.md) and the
band the model must land in. F7 (innovations more concentrated than
employment) is measured against a null model rather than an open band: the
measurement minus the 95th percentile of the same measurement when the run's
innovations are placed in proportion to headcount (:data:`NULL_DRAWS` seeded
draws), so the null passes in about 5% of draws. F2 has the same kind of null
band, :func:`growth_beyond_null` (Gaussian growth rates of the same number and
spread); it is not in :data:`FACTS` while F2 is a calibration target, and
costs seconds a run on hundreds of thousands of firm-years.

:func:`validate` reports only **untargeted** measurements, out of sample: the
facts that no calibration target uses (``calibrate.TARGETS``) and the held-out targets of the history panel
(:mod:`hardtech.evidence.history`), each with the mean over replications, a
95% interval and whether the mean is in band. The Bass shape of spending (the
former F8) is not validation: with equal demand and usability thresholds it
compares the demand input with itself, so it is a unit test of the demand rule.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import optimize, stats

import hardtech
from hardtech.evidence.ensembles import mean_interval
from hardtech.model.market import bass_adoption


@dataclass(frozen=True)
class Fact:
    """A stylized fact with its empirical value, source and pass band."""

    id: str
    name: str
    empirical: str
    source: str
    lo: float
    hi: float
    measure: Callable[[hardtech.RunResult], float]
    unit: str = ""


# -- measurements ---------------------------------------------------------------------------
def _final_sizes(result: hardtech.RunResult) -> np.ndarray:
    firms = result.firms
    return firms.loc[~firms.incumbent, "headcount"].to_numpy()


def tail_fit(sizes: np.ndarray) -> tuple[float, float]:
    """(α, xmin): Pareto exponent of P(S > s) ∝ s^−α above the KS-optimal cut-off xmin.

    Maximum likelihood (``powerlaw`` package), the cut-off searched over 49
    quantiles (the 50th to the 98th percentile) rather than every distinct
    size: the same estimate within noise, in a fraction of the time on tens of
    thousands of firms. NaNs when there are fewer than 50 sizes.
    """
    import powerlaw

    sizes = sizes[sizes > 0]
    if sizes.size < 50:
        return float("nan"), float("nan")
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for xmin in np.unique(np.quantile(sizes, np.linspace(0.5, 0.98, 49))):
            fit = powerlaw.Fit(sizes, xmin=float(xmin), discrete=False, verbose=False)
            if np.isfinite(fit.power_law.D) and (best is None or fit.power_law.D < best.power_law.D):
                best = fit
    if best is None:
        return float("nan"), float("nan")
    return float(best.power_law.alpha - 1.0), float(best.xmin)  # powerlaw's alpha is the density exponent


def tail_exponent(result: hardtech.RunResult) -> float:
    """Pareto exponent α of the upper tail of non-incumbent firm size (headcount); see :func:`tail_fit`."""
    return tail_fit(_final_sizes(result))[0]


def _growth(result: hardtech.RunResult) -> pd.DataFrame:
    """Yearly log growth of sales (last-quarter revenue) of non-incumbent firms selling in two consecutive years."""
    panel = result.frame("firm_panel")
    panel = panel[~panel.incumbent]
    wide = panel.pivot_table(index="firm_id", columns="step", values="revenue")
    steps = sorted(wide.columns)
    rows = []
    for a, b in zip(steps[:-1], steps[1:], strict=True):
        pair = wide[[a, b]].dropna()
        pair = pair[(pair[a] > 0) & (pair[b] > 0)]
        rows.append(pd.DataFrame({"size": pair[a], "g": np.log(pair[b] / pair[a])}))
    return pd.concat(rows) if rows else pd.DataFrame({"size": [], "g": []})


def laplace_vs_gauss(result: hardtech.RunResult) -> float:
    """Mean log-likelihood ratio per observation, Laplace − Gaussian, of the growth rates (> 0: tent-shaped)."""
    g = _growth(result)["g"].to_numpy()
    g = g[np.isfinite(g)]
    if g.size < 50:
        return float("nan")
    loc, scale = stats.laplace.fit(g)
    mu, sd = stats.norm.fit(g)
    return float(np.mean(stats.laplace.logpdf(g, loc, scale) - stats.norm.logpdf(g, mu, sd)))


def volatility_slope(result: hardtech.RunResult) -> float:
    """β in σ(growth) ∝ size^−β, from the spread of growth rates in size deciles."""
    df = _growth(result)
    if len(df) < 100:
        return float("nan")
    df = df.assign(bin=pd.qcut(np.log(df["size"]), 10, labels=False, duplicates="drop"))
    grouped = df.groupby("bin").agg(size=("size", "median"), sigma=("g", "std")).dropna()
    grouped = grouped[grouped.sigma > 0]
    slope = np.polyfit(np.log(grouped["size"]), np.log(grouped["sigma"]), 1)[0]
    return float(-slope)


def _survival_at(result: hardtech.RunResult, years: float) -> float:
    ev = result.events
    founded = ev[ev.event == "founded"][["firm_id", "step"]].rename(columns={"step": "born"})
    failed = ev[ev.event == "failed"][["firm_id", "step"]].rename(columns={"step": "died"})
    df = founded.merge(failed, on="firm_id", how="left")
    horizon = int(years * 4)
    cohort = df[df.born <= ev.step.max() - horizon]
    if len(cohort) == 0:
        return float("nan")
    dead = cohort.died.notna() & (cohort.died - cohort.born <= horizon)
    return float(1.0 - dead.mean())


def survival_2y(result: hardtech.RunResult) -> float:
    """Share of new firms not failed two years after founding (exits count as survivors)."""
    return _survival_at(result, 2)


def survival_5y(result: hardtech.RunResult) -> float:
    """Share of new firms not failed five years after founding."""
    return _survival_at(result, 5)


def returns_from_10x(result: hardtech.RunResult) -> float:
    """Share of all venture proceeds produced by deals returning ≥ 10× (exited or failed deals)."""
    ev = result.events
    funded = ev[ev.event == "funded"].groupby("firm_id")["value"].sum()
    exits = ev[ev.event.isin(["exit_ipo", "exit_acquired"])].groupby("firm_id")["value"].sum()  # multiples
    failed = ev[ev.event == "failed"]["firm_id"].unique()
    done = funded.index.intersection(exits.index.union(pd.Index(failed)))
    if len(done) < 30:
        return float("nan")
    multiple = exits.reindex(done).fillna(0.0)
    proceeds = multiple * funded.reindex(done)
    total = proceeds.sum()
    return float(proceeds[multiple >= 10].sum() / total) if total > 0 else float("nan")


def _gini(x: np.ndarray) -> float:
    x = np.sort(np.asarray(x, float))
    if x.sum() <= 0:
        return float("nan")
    n = x.size
    return float((2 * np.arange(1, n + 1) - n - 1).dot(x) / (n * x.sum()))


def innovation_vs_employment(result: hardtech.RunResult) -> float:
    """Gini of innovations minus Gini of headcount, over region×field cells.

    Innovations are scenes defined plus dragons; a value > 0 means innovation is more concentrated than employment.
    """
    sm = result.metrics
    innov = sm.groupby(["region", "field"])[["scenes_defined", "new_dragons"]].sum().sum(axis=1)
    emp = sm[sm.step == sm.step.max()].set_index(["region", "field"])["headcount"].reindex(innov.index)
    return _gini(innov.to_numpy()) - _gini(emp.to_numpy())


NULL_DRAWS = 200


def _null_rng(result: hardtech.RunResult, tag: int) -> np.random.Generator:
    """A generator for a null model's draws, fixed by the run's seed and replication."""
    return np.random.default_rng(np.random.SeedSequence([int(result.scenario.seed), int(result.replication), tag]))


def _ginis(x: np.ndarray) -> np.ndarray:
    """Gini index of each row of ``x`` (vectorised :func:`_gini`)."""
    x = np.sort(np.asarray(x, float), axis=1)
    n = x.shape[1]
    total = x.sum(axis=1)
    weights = 2 * np.arange(1, n + 1) - n - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, x @ weights / (n * total), np.nan)


def innovation_null_q95(result: hardtech.RunResult) -> float:
    """95th percentile of F7 under its null model.

    The null places the run's innovations in region×field cells in proportion to the cells' final
    headcount (multinomial draws).
    """
    sm = result.metrics
    innov = sm.groupby(["region", "field"])[["scenes_defined", "new_dragons"]].sum().sum(axis=1)
    emp = sm[sm.step == sm.step.max()].set_index(["region", "field"])["headcount"].reindex(innov.index).fillna(0.0)
    n, total = int(innov.sum()), float(emp.sum())
    if n == 0 or total <= 0:
        return float("nan")
    draws = _null_rng(result, 7).multinomial(n, emp.to_numpy() / total, size=NULL_DRAWS)
    return float(np.nanquantile(_ginis(draws) - _gini(emp.to_numpy()), 0.95))


def innovation_beyond_null(result: hardtech.RunResult) -> float:
    """F7: Gini(innovations) − Gini(headcount) minus its 95th percentile under the null.

    A value > 0 means more concentrated than chance.
    """
    return innovation_vs_employment(result) - innovation_null_q95(result)


def _llr_laplace_gauss(g: np.ndarray) -> np.ndarray:
    """Mean log-likelihood ratio per observation, Laplace − Gauss, of each row of ``g``.

    Both are fitted by maximum likelihood (closed forms: Laplace loc = median, scale = mean
    absolute deviation).
    """
    b = np.abs(g - np.median(g, axis=-1, keepdims=True)).mean(axis=-1)
    sd = g.std(axis=-1)
    return -np.log(2 * b) - 1.0 + 0.5 * np.log(2 * np.pi * sd**2) + 0.5


def growth_null_q95(result: hardtech.RunResult, draws: int = NULL_DRAWS) -> float:
    """95th percentile of F2 on Gaussian growth rates with the run's number, mean and spread."""
    g = _growth(result)["g"].to_numpy()
    g = g[np.isfinite(g)]
    if g.size < 50:
        return float("nan")
    sample = _null_rng(result, 2).normal(g.mean(), g.std(), size=(draws, g.size))
    return float(np.quantile(_llr_laplace_gauss(sample), 0.95))


def growth_beyond_null(result: hardtech.RunResult, draws: int = NULL_DRAWS) -> float:
    """F2 minus its 95th percentile under the Gaussian null (> 0: tent-shaped beyond chance)."""
    return laplace_vs_gauss(result) - growth_null_q95(result, draws)


def bass_fit(result: hardtech.RunResult) -> float:
    """Worst R² over fields of a Bass curve fitted to the field's spending after it starts.

    Spending combines Bass adoption with the maturity gate, so this checks the
    S-shape of what firms actually sell into, not the input curve alone.
    """
    fm = result.field_metrics
    worst = 1.0
    for _field, g in fm.groupby("field"):
        y = g.demand.to_numpy()
        start = np.argmax(y > 0) if (y > 0).any() else None
        if start is None or len(y) - start < 12:
            continue
        t = np.arange(len(y) - start) / 4.0
        target = y[start:] / y.max()

        def curve(t, p, q, m):
            return m * bass_adoption(t, p, q)

        try:
            (p, q, m), _ = optimize.curve_fit(curve, t, target, p0=(0.03, 0.4, 1.0), bounds=([1e-4, 0, 0.1], [1, 5, 2]))
        except RuntimeError:
            return 0.0
        resid = target - curve(t, p, q, m)
        worst = min(worst, 1.0 - resid.var() / target.var())
    return float(worst)


FACTS: list[Fact] = [
    Fact(
        "F1",
        "firm-size tail exponent α",
        "≈ 1.06 (Zipf); fuller data put it below 1",
        "Axtell 2001; Kondo, Lewis & Stella 2018",
        0.8,
        1.3,
        tail_exponent,
    ),
    Fact(
        "F2",
        "sales growth rates tent-shaped: log-likelihood ratio Laplace − Gauss per firm-year",
        "Laplace fits better (> 0)",
        "Stanley et al. 1996; Bottazzi & Secchi 2003",
        0.0,
        np.inf,
        laplace_vs_gauss,
    ),
    Fact(
        "F3",
        "volatility falls with size: β in σ(sales growth) ∝ sales^−β",
        "β ≈ 0.20 (sales)",
        "Amaral et al. 1997",
        0.05,
        0.4,
        volatility_slope,
    ),
    Fact("F4", "new firms alive after 2 years", "66%", "BLS, Knaup 2005", 0.55, 0.8, survival_2y),
    Fact("F5", "new firms alive after 5 years", "≈ 50%", "BLS Business Employment Dynamics", 0.35, 0.65, survival_5y),
    Fact(
        "F6",
        "share of venture proceeds from ≥10× deals",
        "≈ 60%",
        "Horsley Bridge via a16z 2016",
        0.4,
        0.85,
        returns_from_10x,
    ),
    Fact(
        "F7",
        "innovation more concentrated than employment, beyond a null placing it in proportion to headcount",
        "> 0 (null: proportional placement passes in ≈ 5% of draws)",
        "Audretsch & Feldman 1996; null model: ours",
        0.0,
        np.inf,
        innovation_beyond_null,
    ),
]
# facts that calibration targets reach through another fact (a null-band version of a targeted fact)
TARGETED_THROUGH: dict[str, str] = {}


def measure(result: hardtech.RunResult) -> dict[str, float]:
    """Every fact measured on one run."""
    return {f.id: f.measure(result) for f in FACTS}


def _measure_job(args: tuple[Any, int]) -> dict[str, float]:
    scenario, replication = args
    return measure(hardtech.run(scenario, replication=replication))


def untargeted(calibrated: set[str] | None = None) -> list[Fact]:
    """The facts no calibration target uses (default: the targets of ``calibrate.TARGETS``)."""
    if calibrated is None:
        from hardtech.evidence.calibrate import TARGETS

        calibrated = set(TARGETS)
    return [f for f in FACTS if f.id not in calibrated and TARGETED_THROUGH.get(f.id) not in calibrated]


def _validate_job(args: tuple[Any, int, set[str]]) -> dict[str, float]:
    from hardtech.evidence.history import history_row

    scenario, replication, ids = args
    result = hardtech.run(scenario, replication=replication)
    row = {f.id: f.measure(result) for f in FACTS if f.id in ids}
    return row | history_row(result, timeline=False)


def validate(scenario, replications: int = 3, executor=None, on_done=None) -> pd.DataFrame:
    """Untargeted measurements only, each against its band.

    The facts no calibration target uses and the history's held-out targets; per row the mean over
    replications, a 95% interval, the band, and pass (mean in band). History rows also give the
    share of seeds meeting their band.
    """
    from hardtech.evidence.history import check_scenario, load_targets

    facts = untargeted()
    held_out = [t for t in load_targets()[1] if t.held_out]
    check_scenario(scenario)
    ids = {f.id for f in facts}
    jobs = [(scenario, k, ids) for k in range(replications)]
    mapper = executor.map if executor is not None else map
    rows = []
    for row in mapper(_validate_job, jobs):
        rows.append(row)
        if on_done:
            on_done()
    data = pd.DataFrame(rows)
    out = []
    for f in facts:
        mean, lo, hi = mean_interval(data[f.id].to_numpy())
        out.append(
            {
                "fact": f.id,
                "name": f.name,
                "model": mean,
                "model_lo": lo,
                "model_hi": hi,
                "empirical": f.empirical,
                "band_lo": f.lo,
                "band_hi": f.hi,
                "pass": bool(np.isfinite(mean) and f.lo <= mean <= f.hi),
                "source": f.source,
                "kind": "stylized fact",
                "share_met": float(np.mean([f.lo <= v <= f.hi for v in data[f.id]])),
            }
        )
    for t in held_out:
        v = data[t.id].to_numpy(dtype=float)
        mean, lo, hi = mean_interval(v)
        out.append(
            {
                "fact": t.id,
                "name": t.name,
                "model": mean,
                "model_lo": lo,
                "model_hi": hi,
                "empirical": f"{t.observed:g}",
                "band_lo": t.lo,
                "band_hi": t.hi,
                "pass": bool(t.met(mean)),
                "source": (
                    "Zhaopin via Chao News (docs/FACTS.md HZ6)"
                    if t.kind == "net_inflow"
                    else "panel of real firms (docs/history.md)"
                ),
                "kind": "held-out history target",
                "share_met": float(np.mean([t.met(x) for x in v])),
            }
        )
    return pd.DataFrame(out)
