"""H10: no single lever suffices — global sensitivity of dragons to the policy levers.

Sobol indices (SALib: Sobol sequence sampling, Saltelli estimators with
bootstrap intervals) of the focal region's dragon count over its five policy
levers. The claim holds when the first-order indices sum well below 1 (strong
interactions): **supported** if the upper end of the sum's interval is below
``threshold`` (0.7), **not supported** if its lower end is above it.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any

import numpy as np
from SALib.analyze import sobol as sobol_analyze
from SALib.sample import sobol as sobol_sample

from hardtech.evidence.ensembles import run_many
from hardtech.experiments.designs import analysis_seed
from hardtech.scenario import Scenario, load

LEVER_RANGES = {
    "talent_subsidy": (0.0, 10.0),
    "startup_support": (0.0, 0.8),
    "basic_research": (0.0, 3000.0),
    "procurement": (0.0, 300.0),
    "cluster_programme": (0.0, 3.0),
}
THRESHOLD = 0.7


def lever_sobol(
    scenario: Scenario,
    region: str | None = None,
    base_samples: int = 32,
    seed: int = 0,
    executor: Executor | None = None,
    workers: int = 1,
    on_done: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Sobol indices of ``dragons_<region>`` over the region's policy levers.

    Runs ``base_samples × (levers + 2)`` model runs (first- and total-order
    indices). Each sample point uses replication 0 of the scenario's seed.
    """
    region = region or next(iter(scenario.regions))
    names = list(LEVER_RANGES)
    problem = {"num_vars": len(names), "names": names, "bounds": [list(LEVER_RANGES[n]) for n in names]}
    X = sobol_sample.sample(problem, base_samples, calc_second_order=False, seed=seed)
    jobs = []
    for row in X:
        overrides = {f"regions.{region}.policy.{n}": float(v) for n, v in zip(names, row, strict=True)}
        jobs.append((load(scenario, overrides), 0))
    rows = run_many(jobs, workers=workers, executor=executor, on_done=on_done, detail=True)
    metric = f"dragons_{region}"
    Y = rows[metric].to_numpy(dtype=float)
    # SALib reads seed 0 as "no seed" and would draw its bootstrap from the global RNG
    Si = sobol_analyze.analyze(problem, Y, calc_second_order=False, num_resamples=500, seed=analysis_seed(seed))
    S1 = np.asarray(Si["S1"], float)
    # interval of the sum: the indices' half-widths combined as if their errors were independent
    conf = np.asarray(Si["S1_conf"], float)
    total = float(S1.sum())
    half = float(np.sqrt(np.sum(conf**2)))
    lo, hi = total - half, total + half
    verdict = "supported" if hi < THRESHOLD else ("not supported" if lo > THRESHOLD else "inconclusive")
    return {
        "outcome": metric,
        "names": names,
        "S1": S1.tolist(),
        "S1_conf": conf.tolist(),
        "ST": np.asarray(Si["ST"], float).tolist(),
        "ST_conf": np.asarray(Si["ST_conf"], float).tolist(),
        "sum_S1": total,
        "sum_S1_lo": lo,
        "sum_S1_hi": hi,
        "verdict": verdict,
        "runs": len(X),
        "threshold": THRESHOLD,
        "mean_outcome": float(np.mean(Y)),
        "sd_outcome": float(np.std(Y)),
        "distinct_runs": int(rows["_digest"].nunique()),
    }


def sobol_row(claim: Any, sobol: dict[str, Any], screening: bool) -> dict[str, Any]:
    """H10 as a claims-table record (the same keys as the other claims where they apply).

    A variance decomposition has no control arm; its checks are that the sample
    points ran as different worlds and that the levers move the outcome at all.
    """
    verdict = "screening" if screening else sobol["verdict"]
    return {
        "claim": claim.id,
        "kind": "sobol",
        "title": claim.title,
        "short": claim.short,
        "article": claim.article,
        "statement": claim.statement,
        "channel": claim.channel,
        "metric": sobol["outcome"],
        "statistic": claim.statistic_text,
        "effect": sobol["sum_S1"],
        "lo": sobol["sum_S1_lo"],
        "hi": sobol["sum_S1_hi"],
        "verdict": verdict,
        "signal": sobol["verdict"],
        "screening": screening,
        "replications": 1,
        "runs": sobol["runs"],
        "identical_arms": sobol["distinct_runs"] < sobol["runs"],
        "control": "none (a variance decomposition has no control arm)",
        "manipulation_active": sobol["sd_outcome"] > 0,
        "manipulation": {
            "quantity": sobol["outcome"],
            "text": "outcome across the sample points (standard deviation)",
            "compared": "sd",
            "effect": sobol["sd_outcome"],
            "lo": sobol["sd_outcome"],
            "hi": sobol["sd_outcome"],
        },
        "ablation": {"rules": list(claim.ablation_rules), "note": claim.ablation_note},
        "history": [dict(h) for h in claim.history],
    }
