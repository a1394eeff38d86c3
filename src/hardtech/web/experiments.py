"""Sweeps and sensitivity analyses from the page, through :mod:`hardtech.experiments`.

:func:`build_sweep` turns the page's request (the current scenario, 1–4
factors with ranges, a design, samples, replications, outcomes) into an
experiment spec exactly as ``hardtech sweep`` would read it from a file — the
base scenario is written to a temporary ``base.toml`` next to the spec — and
validates and plans it with :func:`~hardtech.experiments.spec.resolve` and
:func:`~hardtech.experiments.sweep.plan_sweep`. The job then runs it with
:func:`~hardtech.experiments.sweep.run_sweep` (so the same spec resumes, and
its runs are stored whole), and :func:`sweep_result` summarises the stored
``sweep_runs``: per-sample means, rank correlations of every outcome with
every factor and, for Sobol and Morris designs, the sensitivity indices of
:func:`~hardtech.experiments.sensitivity.sensitivity`. :func:`reopen` rebuilds
the resolved spec of a stored sweep (from its ``sweeps`` row) to show it again.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomllib

from hardtech.experiments.sensitivity import AnalysisError, sensitivity
from hardtech.experiments.spec import ResolvedSpec, SpecError, parse_spec, resolve
from hardtech.experiments.sweep import KEY_COLUMNS, SweepPlan, plan_sweep
from hardtech.scenario import Scenario, to_toml
from hardtech.web.series import jsonable

BASE_FILE = "base.toml"


def _resolve(raw: dict[str, Any], base_toml: str) -> ResolvedSpec:
    with tempfile.TemporaryDirectory(prefix="hardtech-sweep-") as folder:
        (Path(folder) / BASE_FILE).write_text(base_toml, encoding="utf-8")
        spec = parse_spec({**raw, "base": BASE_FILE}, origin="sweep")
        return resolve(spec, Path(folder), origin="sweep")


def build_sweep(request: Any, base: Scenario) -> tuple[ResolvedSpec, SweepPlan]:
    """The resolved spec and plan of a page's sweep request (SpecError naming the field if it does not validate)."""
    factors = []
    for f in request.factors:
        item: dict[str, Any] = {"path": f.path, "range": [f.lo, f.hi]}
        if request.design == "factorial":
            item["n_levels"] = request.samples
        factors.append(item)
    raw: dict[str, Any] = {
        "name": request.name,
        "description": f"from the dashboard: {request.design} over {', '.join(f.path for f in request.factors)}",
        "design": request.design,
        "replications": request.replications,
        "seed": request.seed,
        "outcomes": list(request.outcomes),
        "keep_tables": ["step_metrics"],
        "factors": factors,
    }
    if request.design != "factorial":
        raw["samples"] = request.samples
    if request.design == "sobol":
        raw["sobol"] = {"second_order": False, "bootstrap": 200}
    resolved = _resolve(raw, to_toml(base))
    return resolved, plan_sweep(resolved)


def reopen(info: dict[str, Any]) -> ResolvedSpec:
    """The resolved spec of a stored sweep (its ``sweeps`` row): the stored base scenario, the stored spec."""
    raw = tomllib.loads(info["spec_toml"])
    raw.pop("set", None)  # already part of the stored base scenario
    resolved = _resolve(raw, info["base_toml"])
    if resolved.sweep_id != info["sweep_id"]:
        raise SpecError(
            f"sweep {info['sweep_id']}: its stored spec resolves to another sweep ({resolved.sweep_id}) "
            "with this version of hardtech"
        )
    return resolved


def sweep_result(resolved: ResolvedSpec, frame: pd.DataFrame) -> dict[str, Any]:
    """What the page shows of a sweep: per-sample means, rank correlations and, for sobol/morris, indices."""
    spec = resolved.spec
    paths = [f.path for f in resolved.factors]
    cols = ["run_id", *KEY_COLUMNS, *paths, *spec.outcomes]
    frame = frame[[c for c in cols if c in frame.columns]]
    expected = len(plan_sweep(resolved).tasks)
    means = (
        frame.groupby("sample", sort=True)[[*paths, *spec.outcomes]].mean(numeric_only=True).reset_index()
        if len(frame)
        else pd.DataFrame(columns=["sample", *paths, *spec.outcomes])
    )
    correlations: dict[str, dict[str, float | None]] = {}
    for outcome in spec.outcomes:
        correlations[outcome] = {}
        for path in paths:
            x, y = means.get(path), means.get(outcome)
            rho = None
            if x is not None and y is not None and len(means) >= 3 and x.nunique() > 1 and y.nunique() > 1:
                rho = float(pd.Series(x.to_numpy(float)).rank().corr(pd.Series(y.to_numpy(float)).rank()))
            correlations[outcome][path] = None if rho is None or not np.isfinite(rho) else round(rho, 3)
    out: dict[str, Any] = {
        "sweep_id": resolved.sweep_id,
        "name": spec.name,
        "design": spec.design,
        "factors": paths,
        "ranges": {f.path: [f.lo, f.hi] for f in resolved.factors},
        "outcomes": list(spec.outcomes),
        "samples": int(means.shape[0]),
        "replications": spec.replications,
        "runs": int(len(frame)),
        "expected_runs": expected,
        "complete": int(len(frame)) == expected,
        "rows": means.to_dict("records"),
        "correlations": correlations,
        "sensitivity": None,
    }
    if spec.design in ("sobol", "morris"):
        try:
            out["sensitivity"] = sensitivity(resolved, frame)
        except AnalysisError as exc:
            out["sensitivity"] = {"error": str(exc)}
    return jsonable(out)
