"""Global sensitivity analysis of a stored sweep (SALib).

* ``design = "sobol"``: Sobol first-order (S1), total-order (ST) and, if the
  design sampled them, second-order (S2) indices with bootstrap confidence
  intervals (``SALib.analyze.sobol``);
* ``design = "morris"``: Morris elementary effects — μ (mean effect), μ*
  (mean absolute effect) with a bootstrap interval, and σ (spread: non-linear
  or interaction effects) — in outcome units per unit of the factor's range
  normalised to [0, 1] (``SALib.analyze.morris``).

With several replications, each sample's outcome is the mean over its
replications. An outcome that is constant over the sweep has no defined
indices; it is reported as ``constant`` with NaN indices.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hardtech.experiments.designs import analysis_seed, design_matrix, salib_problem
from hardtech.experiments.spec import ResolvedSpec

METHODS = {"sobol": "sobol", "morris": "morris"}


class AnalysisError(ValueError):
    """The sweep cannot be analysed this way (one line)."""


def check_design(resolved: ResolvedSpec) -> None:
    """Refuse designs without a sensitivity analysis (before running anything)."""
    if resolved.spec.design not in METHODS:
        raise AnalysisError(
            f'{resolved.origin}: design: sensitivity needs design = "sobol" or "morris", '
            f"got {resolved.spec.design!r} (use `hardtech discover` for lhs/factorial sweeps)"
        )


def sample_means(resolved: ResolvedSpec, frame: pd.DataFrame, n_samples: int) -> pd.DataFrame:
    """Outcome means over replications, one row per design sample 0..n-1 (raises if any run is missing)."""
    expected = n_samples * resolved.spec.replications
    if len(frame) != expected:
        raise AnalysisError(
            f"sweep {resolved.sweep_id} is incomplete: {len(frame)} of {expected} runs stored "
            "(re-run `hardtech sweep` to finish it)"
        )
    means = frame.groupby("sample")[list(resolved.spec.outcomes)].mean()
    return means.reindex(range(n_samples))


def _finite(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


def sensitivity(resolved: ResolvedSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """Sensitivity indices of every kept outcome, as a JSON-ready dict.

    ``frame`` is the sweep's ``sweep_runs`` rows (see
    :func:`hardtech.experiments.sweep.sweep_frame`). Sobol: per factor ``S1``,
    ``S1_conf``, ``ST``, ``ST_conf`` (fractions of the outcome's variance;
    ``*_conf`` = half-width of the interval at ``conf_level``), pairs ``S2``,
    ``S2_conf`` and ``sum_S1``. Morris: per factor ``mu``, ``mu_star``,
    ``mu_star_conf``, ``sigma`` (outcome units). Non-finite values are None.
    """
    check_design(resolved)
    spec = resolved.spec
    design = design_matrix(resolved)
    problem = salib_problem(resolved)
    means = sample_means(resolved, frame, len(design))
    seed = analysis_seed(spec.seed)
    out: dict[str, Any] = {
        "sweep_id": resolved.sweep_id,
        "name": spec.name,
        "method": spec.design,
        "factors": problem["names"],
        "samples": len(design),
        "replications": spec.replications,
        "runs": len(frame),
        "outcomes": {},
    }
    if spec.design == "sobol":
        out["conf_level"], out["bootstrap"] = spec.sobol.conf_level, spec.sobol.bootstrap
    else:
        out["conf_level"], out["bootstrap"] = spec.morris.conf_level, spec.morris.bootstrap
    for name in spec.outcomes:
        y = means[name].to_numpy(dtype=float)
        entry: dict[str, Any] = {
            "mean": _finite(np.nanmean(y)) if len(y) else None,
            "std": _finite(np.nanstd(y)) if len(y) else None,
        }
        missing = int(np.isnan(y).sum())
        constant = missing == 0 and float(np.ptp(y)) == 0.0
        entry["constant"] = constant
        entry["undefined_samples"] = missing
        if spec.design == "sobol":
            entry.update(_sobol(problem, y, spec, seed, constant or missing > 0))
        else:
            entry.update(_morris(problem, design.x, y, spec, seed, constant or missing > 0))
        out["outcomes"][name] = entry
    return out


def _per_factor(names: list[str], res: Any, keys: tuple[str, ...]) -> list[dict[str, Any]]:
    """One row per factor: its name and SALib's ``keys`` for it (NaN and inf as None)."""
    return [{"factor": name, **{key: _finite(res[key][i]) for key in keys}} for i, name in enumerate(names)]


def _sobol(problem: dict[str, Any], y: np.ndarray, spec: Any, seed: int, undefined: bool) -> dict[str, Any]:
    from SALib.analyze import sobol

    names, k = problem["names"], problem["num_vars"]
    so = spec.sobol.second_order
    res: Any  # SALib's ResultDict, or the same keys when the indices are undefined
    if undefined:
        nan = float("nan")
        res = {
            "S1": [nan] * k,
            "S1_conf": [nan] * k,
            "ST": [nan] * k,
            "ST_conf": [nan] * k,
            "S2": np.full((k, k), nan),
            "S2_conf": np.full((k, k), nan),
        }
    else:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = sobol.analyze(
                problem,
                y,
                calc_second_order=so,
                num_resamples=spec.sobol.bootstrap,
                conf_level=spec.sobol.conf_level,
                print_to_console=False,
                seed=seed,
            )
    factors = _per_factor(names, res, ("S1", "S1_conf", "ST", "ST_conf"))
    pairs = []
    if so:
        for i in range(k):
            for j in range(i + 1, k):
                pairs.append(
                    {
                        "a": names[i],
                        "b": names[j],
                        "S2": _finite(res["S2"][i][j]),
                        "S2_conf": _finite(res["S2_conf"][i][j]),
                    }
                )
    s1 = [f["S1"] for f in factors]
    return {"factors": factors, "S2": pairs, "sum_S1": None if any(v is None for v in s1) else float(sum(s1))}


def _morris(
    problem: dict[str, Any], x: np.ndarray, y: np.ndarray, spec: Any, seed: int, undefined: bool
) -> dict[str, Any]:
    from SALib.analyze import morris

    names, k = problem["names"], problem["num_vars"]
    if undefined:
        nan = float("nan")
        res = {"mu": [nan] * k, "mu_star": [nan] * k, "mu_star_conf": [nan] * k, "sigma": [nan] * k}
    else:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            res = morris.analyze(
                problem,
                x,
                y,
                num_resamples=spec.morris.bootstrap,
                conf_level=spec.morris.conf_level,
                num_levels=spec.morris.levels,
                print_to_console=False,
                seed=seed,
            )
    factors = _per_factor(names, res, ("mu", "mu_star", "mu_star_conf", "sigma"))
    return {"factors": factors}


def short_labels(paths: list[str]) -> dict[str, str]:
    """Shortest unique dotted suffix of each path (for tables and plots)."""
    labels = {}
    for p in paths:
        parts = p.split(".")
        for n in range(1, len(parts) + 1):
            cand = ".".join(parts[-n:])
            if sum(1 for q in paths if q == cand or q.endswith("." + cand)) == 1:
                labels[p] = cand
                break
        else:
            labels[p] = p
    return labels


def plot_sensitivity(result: dict[str, Any], path: str | Path) -> Path:
    """Bar chart of S1/ST (Sobol) or μ*–σ chart (Morris) per outcome, written as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    names = list(result["outcomes"])
    labels = short_labels(result["factors"])
    k = len(result["factors"])
    fig, axes = plt.subplots(1, len(names), figsize=(max(5.0, 4.8 * len(names)), 1.2 + 0.55 * k + 1.0), squeeze=False)
    for ax, name in zip(axes[0], names, strict=True):
        entry = result["outcomes"][name]
        rows = entry["factors"]
        ylab = [labels[r["factor"]] for r in rows]
        pos = np.arange(len(rows))
        if result["method"] == "sobol":

            def col(key: str, rows: list[dict[str, Any]] = rows) -> np.ndarray:
                return np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)

            ax.barh(pos - 0.2, col("S1"), 0.4, xerr=col("S1_conf"), label="first order S1", color="#4c72b0", capsize=3)
            ax.barh(pos + 0.2, col("ST"), 0.4, xerr=col("ST_conf"), label="total order ST", color="#dd8452", capsize=3)
            ax.set_yticks(pos, ylab)
            ax.invert_yaxis()  # first factor on top, as in the table
            ax.axvline(0, color="grey", lw=0.8)
            ax.set_xlabel("share of variance")
            s1 = entry.get("sum_S1")
            ax.set_title(f"{name}\nΣS1 = {s1:.2f}" if s1 is not None else f"{name}\n(undefined: constant outcome)")
            ax.legend(loc="lower right", fontsize=8)
        else:
            mu_star = np.array([np.nan if r["mu_star"] is None else r["mu_star"] for r in rows], dtype=float)
            conf = np.array([np.nan if r["mu_star_conf"] is None else r["mu_star_conf"] for r in rows], dtype=float)
            sigma = np.array([np.nan if r["sigma"] is None else r["sigma"] for r in rows], dtype=float)
            ax.errorbar(mu_star, sigma, xerr=conf, fmt="o", color="#4c72b0", capsize=3)
            for xi, yi, lab in zip(mu_star, sigma, ylab, strict=True):
                if np.isfinite(xi) and np.isfinite(yi):
                    ax.annotate(lab, (xi, yi), fontsize=8, xytext=(4, 4), textcoords="offset points")
            ax.set_xlabel("μ* (mean |elementary effect|)")
            ax.set_ylabel("σ")
            ax.set_title(name)
    fig.suptitle(f"{result['name']} — {result['method']} sensitivity ({result['runs']} runs)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
