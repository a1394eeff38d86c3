"""Calibration by the simulated method of moments.

Chosen scenario parameters are fitted so that the stylized facts measured on
model output come close to their empirical targets: the objective is the sum
of squared distances to each target, in units of the target's half band
width (for a band open above: the target's distance from the lower edge),
with facts averaged over replications run with the same seeds at every point
(common random numbers make the objective smooth enough for Nelder–Mead,
``scipy.optimize.minimize``, started from a simplex that spans 30% of each
range). The result is a scenario file whose header records what was fitted,
to what, and when.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import optimize

import hardtech
from hardtech.evidence.facts import FACTS, measure
from hardtech.scenario import Scenario, load, to_toml

# empirical point targets inside each fact's band (see docs/FACTS.md); F2's 0.073 is the
# mean log-likelihood ratio Laplace − Gauss that exactly Laplace-distributed growth rates give
TARGETS = {"F1": 1.06, "F2": 0.073, "F3": 0.20, "F4": 0.66, "F5": 0.50, "F6": 0.60}
DEFAULT_PARAMS = {
    "capital.milestone_gain": (0.05, 0.4),
    "entrepreneurship.runway_quarters": (3.0, 10.0),
}


@dataclass
class Calibration:
    """The fitted parameters, the facts they give, and the optimiser's record."""

    params: dict[str, float]
    facts: dict[str, float]
    loss: float
    evaluations: int
    history: list[dict[str, Any]]
    scenario: Scenario


def _measure_job(args: tuple[Scenario, int]) -> dict[str, float]:
    scenario, replication = args
    return measure(hardtech.run(scenario, replication=replication))


def calibrate(
    scenario: Scenario,
    params: dict[str, tuple[float, float]] | None = None,
    targets: dict[str, float] | None = None,
    replications: int = 2,
    max_evaluations: int = 30,
    executor: Executor | None = None,
    on_eval: Callable[[dict[str, Any]], None] | None = None,
) -> Calibration:
    """Fit ``params`` (dotted path → (low, high)) to ``targets`` (fact id → value)."""
    params = params or DEFAULT_PARAMS
    targets = targets or TARGETS
    names = list(params)
    lows = np.array([params[n][0] for n in names])
    highs = np.array([params[n][1] for n in names])
    width = {f.id: _half_width(f, targets.get(f.id)) for f in FACTS}
    history: list[dict[str, Any]] = []
    mapper = executor.map if executor is not None else map

    def point(u: np.ndarray) -> dict[str, float]:
        x = lows + (highs - lows) * np.clip(u, 0.0, 1.0)
        return {n: float(round(v, 6)) for n, v in zip(names, x)}

    def loss(u: np.ndarray) -> float:
        values = point(u)
        sc = load(scenario, values)
        rows = list(mapper(_measure_job, [(sc, k) for k in range(replications)]))
        facts = {k: float(np.nanmean([r[k] for r in rows])) for k in targets}
        value = float(sum(((facts[k] - t) / width[k]) ** 2 for k, t in targets.items() if np.isfinite(facts[k])))
        record = {"params": values, "facts": facts, "loss": value}
        history.append(record)
        if on_eval:
            on_eval(record)
        return value

    start = np.clip([(getattr_path(scenario, n) - lo) / (hi - lo) for n, lo, hi in zip(names, lows, highs)], 0.05, 0.95)
    optimize.minimize(loss, start, method="Nelder-Mead",
                      options={"maxfev": max_evaluations, "xatol": 0.02, "fatol": 0.01, "initial_simplex": _simplex(start)})
    best = min(history, key=lambda r: r["loss"])
    fitted = load(scenario, best["params"])
    return Calibration(best["params"], best["facts"], best["loss"], len(history), history, fitted)


def _half_width(fact, target: float | None) -> float:
    """The distance that counts as one unit of loss: half the band, or (open bands) target − lower edge."""
    if np.isfinite(fact.hi):
        return (fact.hi - fact.lo) / 2 or 1.0
    return abs(target - fact.lo) if target is not None and target != fact.lo else 1.0


def _simplex(start: np.ndarray, step: float = 0.3) -> np.ndarray:
    """A first simplex that spans a good part of each range (in units of the range), toward its middle.

    SciPy's default perturbs by 5%: too small to see past the replication noise.
    """
    vertices = [start]
    for i in range(len(start)):
        v = start.copy()
        v[i] += step if start[i] < 0.5 else -step
        vertices.append(v)
    return np.array(vertices)


def getattr_path(scenario: Scenario, path: str) -> float:
    """The value at a dotted path of a scenario."""
    node: Any = scenario
    for part in path.split("."):
        node = node[part] if isinstance(node, dict) else getattr(node, part)
    return float(node)


def calibrated_toml(cal: Calibration, targets: dict[str, float] | None = None) -> str:
    """The calibrated scenario as TOML with a provenance header."""
    targets = targets or TARGETS
    when = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    lines = [
        f"# Calibrated by `hardtech calibrate` (simulated method of moments, Nelder–Mead) on {when}",
        f"# hardtech {hardtech.__version__}; {cal.evaluations} evaluations; loss {cal.loss:.4f}",
        "# fitted: " + ", ".join(f"{k} = {v:g}" for k, v in cal.params.items()),
        "# targets: " + ", ".join(f"{k} = {v:g}" for k, v in targets.items()),
        "# achieved: " + ", ".join(f"{k} = {v:.3f}" for k, v in cal.facts.items()),
        "",
    ]
    return "\n".join(lines) + to_toml(cal.scenario)


def parse_params(items: Sequence[str]) -> dict[str, tuple[float, float]]:
    """``["capital.milestone_gain=0.05:0.4", ...]`` → {path: (low, high)}."""
    out = {}
    for item in items:
        path, _, rng = item.partition("=")
        lo, _, hi = rng.partition(":")
        try:
            out[path.strip()] = (float(lo), float(hi))
        except ValueError:
            raise ValueError(f"--param {item!r}: expected PATH=LOW:HIGH, e.g. capital.milestone_gain=0.05:0.4") from None
        if not out[path.strip()][0] < out[path.strip()][1]:
            raise ValueError(f"--param {item!r}: LOW must be below HIGH")
    return out
