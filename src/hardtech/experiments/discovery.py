"""Scenario discovery with PRIM: which regions of lever space produce an outcome.

Every stored run of a sweep is a case: its factor values are the inputs, and
``--where`` (e.g. ``dragons >= 3``) marks the cases of interest. PRIM (the
Patient Rule Induction Method, Friedman & Fisher 1999, as implemented in the
EMA Workbench's ``ema_workbench.analysis.prim``) peels the full factor box
along one factor at a time, trading coverage (share of all cases of interest
inside the box) for density (share of the box's cases that are of interest).
For each box we report the whole peeling trajectory and choose the densest
box whose coverage is at least ``min_coverage``; its limits are the answer.
After a box is chosen its cases are removed and PRIM looks for the next box.
"""

from __future__ import annotations

import logging
import math
import operator
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hardtech.experiments.sensitivity import short_labels
from hardtech.experiments.spec import ResolvedSpec

OPERATORS = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_WHERE_RE = re.compile(
    r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|==|!=|>|<)\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*$"
)


class DiscoveryError(ValueError):
    """A bad ``--where`` or a sweep PRIM cannot work on (one line)."""


class NoContrastError(DiscoveryError):
    """Every run, or none, meets ``--where``: PRIM has nothing to contrast (one line, exit code 2)."""


def check_available() -> None:
    """Refuse early when the EMA Workbench (PRIM) is not installed."""
    import importlib.util

    if importlib.util.find_spec("ema_workbench") is None:
        raise DiscoveryError(
            "discover needs PRIM from the EMA Workbench: pip install 'hardtech[discovery]' (or 'ema_workbench')"
        )


def parse_where(text: str, resolved: ResolvedSpec) -> tuple[str, str, float]:
    """Parse ``"<outcome> <op> <number>"``; the outcome must be one the spec keeps."""
    m = _WHERE_RE.match(text or "")
    if not m:
        raise DiscoveryError(
            f"--where: {text!r} is not '<outcome> <op> <number>', e.g. \"dragons >= 3\"; "
            f"operators: {', '.join(OPERATORS)}"
        )
    name, op, number = m.group(1), m.group(2), float(m.group(3))
    if name not in resolved.spec.outcomes:
        from hardtech.analysis.outcomes import outcome_names

        why = (
            "is not an outcome" if name not in outcome_names(list(resolved.base.regions)) else "is not kept by the spec"
        )
        raise DiscoveryError(f"--where: {name!r} {why}; kept outcomes: {', '.join(resolved.spec.outcomes)}")
    if not math.isfinite(number):
        raise DiscoveryError(f"--where: {m.group(3)!r} is not a finite number")
    return name, op, number


def _inputs(resolved: ResolvedSpec, frame: pd.DataFrame) -> pd.DataFrame:
    """The factor columns as PRIM inputs: numbers stay numbers, other levels become categories."""
    x = pd.DataFrame(index=range(len(frame)))
    for f in resolved.factors:
        col = frame[f.path].reset_index(drop=True)
        if f.column_type == "float64":
            x[f.path] = col.astype(float)
        elif f.column_type == "int64":
            x[f.path] = col.astype("int64")
        else:
            x[f.path] = col.astype(str).astype("category")
    return x


def _limits(
    box_lim: pd.DataFrame, init: pd.DataFrame, qp: dict[str, list[float]], resolved: ResolvedSpec
) -> list[dict[str, Any]]:
    """Each factor's box limits, the sampled min/max (``min``/``max``) and the spec's range (``range``)."""
    spec_range: dict[str, list[Any]] = {}
    for f in resolved.factors:
        if f.levels is None:
            lo, hi = f.ends()
            spec_range[f.path] = [float(lo), float(hi)]
        elif f.column_type in ("float64", "int64"):
            spec_range[f.path] = [float(min(f.levels)), float(max(f.levels))]
        else:
            spec_range[f.path] = [str(v) for v in f.levels]
    rows = []
    for name in box_lim.columns:
        lo, hi = box_lim[name].iloc[0], box_lim[name].iloc[1]
        full_lo, full_hi = init[name].iloc[0], init[name].iloc[1]
        if isinstance(lo, set):
            rows.append(
                {
                    "factor": name,
                    "lower": sorted(map(str, lo)),
                    "upper": None,
                    "min": sorted(map(str, full_lo)),
                    "max": None,
                    "restricted": lo != full_lo,
                }
            )
        else:
            rows.append(
                {
                    "factor": name,
                    "lower": float(lo),
                    "upper": float(hi),
                    "min": float(full_lo),
                    "max": float(full_hi),
                    "restricted": bool(lo != full_lo or hi != full_hi),
                }
            )
        rows[-1]["range"] = spec_range.get(name)
        q = qp.get(name)
        rows[-1]["qp_lower"] = None if q is None or q[0] < 0 else float(q[0])
        rows[-1]["qp_upper"] = None if q is None or q[1] < 0 else float(q[1])
    return rows


def discover(
    resolved: ResolvedSpec,
    frame: pd.DataFrame,
    where: str,
    *,
    threshold: float = 0.5,
    min_coverage: float = 0.5,
    max_boxes: int = 3,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> dict[str, Any]:
    """Run PRIM on a sweep's runs for the condition ``where``; a JSON-ready dict.

    ``threshold`` is the density a box must reach to count as found; each
    box's trajectory entries carry coverage, density, mass (share of all runs
    in the box) and the number of restricted factors. Coverage and density are
    fractions 0–1.
    """
    name, op, value = parse_where(where, resolved)
    if len(frame) < 2:
        raise DiscoveryError(f"sweep {resolved.sweep_id}: {len(frame)} stored run(s); PRIM needs a sweep")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.getLogger("EMA").setLevel(logging.ERROR)
        from ema_workbench.analysis import prim
        from ema_workbench.analysis.scenario_discovery_util import _make_box
    for logger in ("EMA", "EMA.ema_workbench.analysis.prim", "ema_workbench"):
        logging.getLogger(logger).setLevel(logging.ERROR)

    yvals = frame[name].to_numpy(dtype=float)
    y = np.array([bool(OPERATORS[op](v, value)) if math.isfinite(v) else False for v in yvals])
    x = _inputs(resolved, frame)
    out: dict[str, Any] = {
        "sweep_id": resolved.sweep_id,
        "name": resolved.spec.name,
        "where": f"{name} {op} {value:g}",
        "runs": int(len(y)),
        "cases": int(y.sum()),
        "base_rate": float(y.mean()),
        "threshold": threshold,
        "min_coverage": min_coverage,
        "factors": [f.path for f in resolved.factors],
        "boxes": [],
    }
    if y.sum() in (0, len(y)):  # PRIM needs runs on both sides of the condition
        which = "no run has" if y.sum() == 0 else f"every run ({len(y)} of {len(y)}) has"
        finite = yvals[np.isfinite(yvals)]
        spread = f"{finite.min():g}..{finite.max():g}" if finite.size else "all missing"
        raise NoContrastError(
            f"--where: {which} {name} {op} {value:g} ({name} ranges {spread} over "
            f"{len(y)} runs); nothing to contrast — choose a cut inside that range"
        )
    init = _make_box(x)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        p = prim.Prim(x, y, threshold=threshold, peel_alpha=peel_alpha, mass_min=mass_min)
        for b in range(max_boxes):
            remaining_cases = int(y[p.yi_remaining].sum()) if len(p.yi_remaining) else 0
            if remaining_cases == 0:
                break
            box = p.find_box()
            if box is None:
                break
            traj = box.peeling_trajectory.reset_index(drop=True)
            found = float(traj["mean"].iloc[-1]) >= threshold  # else PRIM returned the unpeeled 'dump' box
            ok = traj.index[traj["coverage"] >= min_coverage]
            chosen = int(traj.loc[ok, "density"].idxmax()) if found and len(ok) else len(traj) - 1 if found else 0
            if found:
                box.select(chosen)
            row = traj.iloc[chosen]
            qp = box.qp[chosen] if found and chosen < len(box.qp) else {}
            out["boxes"].append(
                {
                    "box": b + 1,
                    "chosen": chosen,
                    "found": found,
                    "coverage": float(row["coverage"]),
                    "density": float(row["density"]),
                    "mass": float(row["mass"]),
                    "res_dim": int(row["res_dim"]),
                    "n": int(row["n"]),
                    "k": int(row["k"]),
                    "limits": _limits(box.box_lims[chosen], init, qp, resolved),
                    "trajectory": [
                        {
                            "i": int(i),
                            "coverage": float(r.coverage),
                            "density": float(r.density),
                            "mass": float(r.mass),
                            "res_dim": int(r.res_dim),
                        }
                        for i, r in traj.iterrows()
                    ],
                }
            )
            if not found:
                break
    return out


def plot_discovery(result: dict[str, Any], path: str | Path) -> Path:
    """Peeling trajectory (coverage vs density) and the chosen box's limits, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    labels = short_labels(result["factors"])
    box = result["boxes"][0] if result["boxes"] else None
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.5), gridspec_kw={"width_ratios": [1, 1.2]})
    if box:
        traj = pd.DataFrame(box["trajectory"])
        sc = ax1.scatter(traj.coverage, traj.density, c=traj.res_dim, cmap="viridis", s=22)
        fig.colorbar(sc, ax=ax1, label="restricted factors")
        ax1.scatter(
            [box["coverage"]],
            [box["density"]],
            s=140,
            facecolors="none",
            edgecolors="red",
            linewidths=1.5,
            label=f"chosen box {box['chosen']}",
        )
        ax1.axhline(result["base_rate"], color="grey", ls=":", lw=1, label=f"base rate {result['base_rate']:.2f}")
        ax1.legend(fontsize=8, loc="lower left")
        rows = [r for r in box["limits"] if r["upper"] is not None]
        pos = np.arange(len(rows))
        for i, r in enumerate(rows):
            lo0, hi0 = r["range"]
            span = (hi0 - lo0) or 1.0
            lo, hi = (r["lower"] - lo0) / span, (r["upper"] - lo0) / span
            ax2.barh(i, hi - lo, left=lo, color="#dd8452" if r["restricted"] else "#cccccc", height=0.5)
            ax2.text(1.02, i, f"{r['lower']:.4g} – {r['upper']:.4g}", va="center", fontsize=8)
        ax2.set_yticks(pos, [labels[r["factor"]] for r in rows])
        ax2.invert_yaxis()
        ax2.set_xlim(0, 1.35)
        ax2.set_xticks([0, 0.5, 1.0], ["range low", "mid", "range high"])
        ax2.set_title(f"box 1 limits (coverage {box['coverage']:.2f}, density {box['density']:.2f})", fontsize=9)
    ax1.set_xlabel("coverage")
    ax1.set_ylabel("density")
    ax1.set_xlim(0, 1.05)
    ax1.set_ylim(0, 1.05)
    ax1.set_title(f"PRIM peeling trajectory: {result['where']}", fontsize=9)
    fig.suptitle(f"{result['name']} — {result['cases']} of {result['runs']} runs meet {result['where']}", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
