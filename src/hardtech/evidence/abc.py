"""Bayesian calibration by approximate Bayesian computation (ABC-SMC, pyabc).

The calibration targets — and only they — are fitted: the history's
calibration targets (data up to 2019, declared before any fit in
``hardtech/data/history_targets.toml``) and the stylized facts that
:data:`hardtech.evidence.calibrate.TARGETS` names. Held-out history targets and
the remaining facts are never seen here; ``hardtech validate`` reports them.

A particle is one model run (replication 0 of a seed derived from the
particle's parameter values, so the same particle always gives the same
run); its distance to the data is the root of the mean squared difference of
each summary from its observed value, in units of the target's declared band
half-width (:func:`scales`). pyabc's ABC-SMC (Toni et al. 2009; Schälte et
al. 2022) narrows the tolerance generation by generation.

Reproducibility: pyabc draws from NumPy's global generator. The sampler here
(:class:`SeededSampler`) seeds it per particle task from (seed, generation,
task), so a calibration gives the same posterior whatever the worker count.
The posterior and the generations are stored in DuckDB.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
import tempfile
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import hardtech
from hardtech.scenario import Scenario, load


@dataclass(frozen=True)
class Prior:
    """A parameter to calibrate: a dotted scenario path and its prior (uniform or log-uniform)."""

    path: str
    lo: float
    hi: float
    kind: str = "uniform"  # or "loguniform"
    why: str = ""

    def __post_init__(self) -> None:
        if self.kind not in ("uniform", "loguniform"):
            raise ValueError(f"prior {self.path}: kind must be 'uniform' or 'loguniform', got {self.kind!r}")
        if not self.lo < self.hi or (self.kind == "loguniform" and self.lo <= 0):
            raise ValueError(f"prior {self.path}: need 0 < low < high for log-uniform, low < high otherwise")


# The behaviour parameters earlier rounds fitted by hand-picked SMM, plus the founding rate,
# each with a wide prior over what the rule's description allows and the literature suggests.
DEFAULT_PRIORS: tuple[Prior, ...] = (
    Prior(
        "market.capability_weight", 6.0, 30.0, why="how sharply customers prefer better products; no direct estimate"
    ),
    Prior("capital.milestone_gain", 0.05, 0.4, why="capability gain investors count as a milestone"),
    Prior("capital.seed_round", 0.3, 2.0, why="seed rounds of 0.3–2 M USD (× capital intensity)"),
    Prior(
        "entrepreneurship.runway_quarters", 2.0, 10.0, why="how long a young firm's cash must last when it staffs up"
    ),
    Prior(
        "entrepreneurship.found_rate",
        2e-4,
        2e-3,
        "loguniform",
        why="founding chance per person-quarter at full opportunity",
    ),
)


def parse_priors(items: Sequence[str]) -> tuple[Prior, ...]:
    """``PATH=LOW:HIGH`` or ``PATH=log:LOW:HIGH`` → priors (one clear error per bad item)."""
    priors = []
    for item in items:
        path, _, spec = item.partition("=")
        parts = spec.split(":")
        kind = "uniform"
        if parts and parts[0] == "log":
            kind, parts = "loguniform", parts[1:]
        try:
            lo, hi = (float(x) for x in parts)
        except ValueError:
            raise ValueError(f"--param: {item!r} must be PATH=LOW:HIGH or PATH=log:LOW:HIGH") from None
        priors.append(Prior(path.strip(), lo, hi, kind))
    return tuple(priors)


# -- summaries ------------------------------------------------------------------------------------
def calibration_targets() -> dict[str, tuple[float, float]]:
    """Observed value and scale of every calibration summary: history calibration targets and fact targets."""
    from hardtech.evidence.calibrate import TARGETS
    from hardtech.evidence.facts import FACTS
    from hardtech.evidence.history import load_targets

    out: dict[str, tuple[float, float]] = {}
    for t in load_targets()[1]:
        if not t.held_out:
            out[t.id] = (t.observed, _half_band(t.lo, t.hi, t.observed))
    bands = {f.id: (f.lo, f.hi) for f in FACTS}
    for fid, value in TARGETS.items():
        lo, hi = bands.get(fid, (value * 0.8, value * 1.2))
        out[fid] = (value, _half_band(lo, hi, value))
    return out


def _half_band(lo: float, hi: float, value: float) -> float:
    """Half the band's width; for an open or degenerate band, the distance from the value to its finite edge (or 1)."""
    if math.isfinite(lo) and math.isfinite(hi) and hi > lo:
        return (hi - lo) / 2.0
    edges = [abs(value - e) for e in (lo, hi) if math.isfinite(e) and e != value]
    return min(edges) if edges else 1.0


def summaries(result: hardtech.RunResult, names: Sequence[str]) -> dict[str, float]:
    """The named calibration summaries of one run (history target ids and fact ids)."""
    from hardtech.evidence.facts import FACTS
    from hardtech.evidence.history import history_row

    out: dict[str, float] = {}
    wanted_facts = [f for f in FACTS if f.id in names]
    out.update({f.id: float(f.measure(result)) for f in wanted_facts})
    if any(n not in out for n in names):
        row = history_row(result, timeline=False)
        out.update({k: float(v) for k, v in row.items() if k in names})
    extra = [n for n in names if n not in out]
    if extra:  # plain outcomes (e.g. "births") for tests and identifiability checks
        from hardtech.evidence.ensembles import run_metrics

        metrics = run_metrics(result)
        out.update({n: float(metrics[n]) for n in extra})
    return {n: out[n] for n in names}


def distance(x: Mapping[str, float], x0: Mapping[str, float], scale: Mapping[str, float]) -> float:
    """Root mean square of (model − observed) / scale over the summaries (a missing value counts as 3 scales)."""
    terms = []
    for name, observed in x0.items():
        value = x.get(name, float("nan"))
        terms.append(((value - observed) / scale[name]) ** 2 if np.isfinite(value) else 9.0)
    return float(np.sqrt(np.mean(terms)))


def particle_seed(base: int, params: Mapping[str, float]) -> int:
    """A model seed derived from the particle's parameter values: the same particle, the same run."""
    text = json.dumps({k: float(v) for k, v in sorted(params.items())}) + f"|{base}"
    return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


def _simulate(
    params: Mapping[str, float], base: Scenario, paths: Mapping[str, str], names: Sequence[str], seed: int
) -> dict[str, float]:
    """One particle: run the scenario with the particle's values and measure the summaries."""
    values = {paths[k]: float(v) for k, v in params.items()}
    sc = load(base, {**values, "seed": particle_seed(seed, values) % (2**63 - 1)})
    return summaries(hardtech.run(sc), names)


# -- sampler ------------------------------------------------------------------------------------------
def _until_accepted(pickled: bytes, seed: int):
    """Sample particles until one is accepted, with NumPy's and Python's global generators seeded."""
    import cloudpickle

    simulate_one = cloudpickle.loads(pickled)
    np.random.seed(seed)
    random.seed(seed)
    from pyabc.population import Sample

    sample, n = Sample(), 0
    while True:
        particle = simulate_one()
        n += 1
        sample.append(particle)
        if particle.accepted:
            return sample, n


def _seeded_sampler(map_: Callable, seed: int):
    """A pyabc sampler whose result depends only on ``seed``, not on the workers or their timing."""
    import cloudpickle
    from pyabc.sampler import Sampler

    class SeededSampler(Sampler):
        def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf, all_accepted=False, ana_vars=None):
            pickled = cloudpickle.dumps(simulate_one)
            seeds = [int(np.random.SeedSequence([seed, int(t) + 1, i]).generate_state(1)[0]) for i in range(n)]
            results = list(map_(functools.partial(_until_accepted, pickled), seeds))
            self.nr_evaluations_ = sum(k for _, k in results)
            sample = self._create_empty_sample()
            for part, _ in results:
                sample += part
            return sample

    return SeededSampler()


# -- running ---------------------------------------------------------------------------------------------
@dataclass
class Posterior:
    """An ABC-SMC posterior: the last generation's particles and weights, and every generation's record."""

    priors: tuple[Prior, ...]
    particles: pd.DataFrame  # one column per prior path, plus "weight" and "distance"
    generations: pd.DataFrame  # t, epsilon, samples (simulations), particles, acceptance
    observed: dict[str, float]
    scale: dict[str, float]
    seed: int
    simulations: int
    meta: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Per parameter: prior, weighted mean, sd, 5%, 50% and 95% quantiles, and the shrinkage of the sd."""
        w = self.particles["weight"].to_numpy(float)
        w = w / w.sum()
        rows = []
        for p in self.priors:
            x = self.particles[p.path].to_numpy(float)
            mean = float(np.sum(w * x))
            sd = float(np.sqrt(np.sum(w * (x - mean) ** 2)))
            order = np.argsort(x)
            cdf = np.cumsum(w[order])
            q = [float(x[order][min(np.searchsorted(cdf, level), len(x) - 1)]) for level in (0.05, 0.5, 0.95)]
            prior_sd = ((math.log(p.hi) - math.log(p.lo)) if p.kind == "loguniform" else (p.hi - p.lo)) / math.sqrt(12)
            spread = (
                float(np.sqrt(np.sum(w * (np.log(x) - np.sum(w * np.log(x))) ** 2))) if p.kind == "loguniform" else sd
            )
            rows.append(
                {
                    "parameter": p.path,
                    "prior": f"{p.kind}({p.lo:g}, {p.hi:g})",
                    "mean": mean,
                    "sd": sd,
                    "q05": q[0],
                    "median": q[1],
                    "q95": q[2],
                    "sd_over_prior_sd": spread / prior_sd,
                }
            )
        return pd.DataFrame(rows)

    def best(self) -> dict[str, float]:
        """The posterior median of every parameter (what a calibrated preset takes)."""
        return dict(zip(self.summary()["parameter"], self.summary()["median"], strict=True))


def abc_calibrate(
    scenario: Scenario,
    priors: Sequence[Prior] = DEFAULT_PRIORS,
    population: int = 100,
    generations: int = 8,
    min_epsilon: float = 0.0,
    seed: int = 0,
    names: Sequence[str] | None = None,
    observed: Mapping[str, float] | None = None,
    scale: Mapping[str, float] | None = None,
    executor: Executor | None = None,
    db_dir: str | Path | None = None,
    on_generation: Callable[[dict], None] | None = None,
) -> Posterior:
    """Run ABC-SMC for ``priors`` against the calibration targets (or ``names``/``observed`` given).

    ``population`` particles per generation, at most ``generations``
    generations (stopping early once the tolerance reaches ``min_epsilon``).
    Particles run in parallel on ``executor`` (its ``map``) or in-process.
    """
    import logging

    import pyabc

    for name in [n for n in logging.root.manager.loggerDict if n.startswith("ABC")] + ["ABC"]:
        logging.getLogger(name).setLevel(logging.WARNING)  # progress goes through on_generation
    targets = calibration_targets()
    names = list(names or targets)
    observed = dict(observed) if observed is not None else {n: targets[n][0] for n in names}
    scale = dict(scale) if scale is not None else {n: targets[n][1] for n in names}
    paths = {f"p{i}": p.path for i, p in enumerate(priors)}
    for p in priors:  # every prior's ends must be valid scenario values: fail before any run
        load(scenario, {p.path: p.lo})
        load(scenario, {p.path: p.hi})
    rvs = {}
    for key, p in zip(paths, priors, strict=True):
        if p.kind == "uniform":
            rvs[key] = pyabc.RV("uniform", p.lo, p.hi - p.lo)
        else:
            rvs[key] = pyabc.RV("loguniform", p.lo, p.hi)
    model = functools.partial(_simulate, base=scenario, paths=paths, names=names, seed=seed)
    map_ = executor.map if executor is not None else map
    np.random.seed(seed)  # pyabc's own draws in this process (the sampler seeds each particle task)
    abc = pyabc.ABCSMC(
        model,
        pyabc.Distribution(**rvs),
        functools.partial(distance, scale=scale),
        population_size=population,
        sampler=_seeded_sampler(map_, seed),
        eps=pyabc.QuantileEpsilon(alpha=0.5),
    )
    with tempfile.TemporaryDirectory(dir=db_dir) as tmp:
        history = abc.new(f"sqlite:///{Path(tmp) / 'abc.db'}", observed)
        history = abc.run(minimum_epsilon=min_epsilon, max_nr_populations=generations)
        frame, weights = history.get_distribution(m=0, t=history.max_t)
        particles = frame.rename(columns=paths).reset_index(drop=True)
        particles["weight"] = np.asarray(weights, float)
        pops = history.get_all_populations()
        pops = pops[pops.t >= 0]
        sims = history.total_nr_simulations
    generations_frame = pd.DataFrame(
        {"t": pops.t.astype(int), "epsilon": pops.epsilon.astype(float), "samples": pops.samples.astype(int)}
    )
    generations_frame["particles"] = population
    generations_frame["acceptance"] = population / generations_frame["samples"]
    if on_generation is not None:
        for row in generations_frame.to_dict("records"):
            on_generation(row)
    return Posterior(
        tuple(priors),
        particles[[p.path for p in priors] + ["weight"]],
        generations_frame,
        observed,
        scale,
        seed,
        int(sims),
        {"population": population, "max_generations": generations, "summaries": names},
    )
