"""The world view's data: a map-like layout of the regions and one frame per quarter.

* :func:`layout` places the regions from the scenario's distances: classical
  (Torgerson) multidimensional scaling of ``log(1 + km / 100)`` — the log keeps
  the Chinese cities, 165–1,950 km apart, distinguishable next to the 8,000–
  11,000 km to the other regions — then a few relaxation passes push discs
  apart until none overlap. It is a schematic map, not to scale.
* :func:`frame` reads one quarter from a model (a live run's ``after_step``
  or a replay): each region's talent, investor pool, dragons and firms; the
  most valuable young firms of each region as marks (dragons first; incumbents
  are left out); and the quarter's origin–destination flows of talent
  (persons) and capital (seed and round money, M USD) from the recorded
  ``region_flows`` table.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hardtech.scenario import Scenario
from hardtech.web.series import num

MARKS_PER_REGION = 24
BOX = (800.0, 420.0)  # the area the page places region centres in (its view box is 1000 × 640)
MIN_SEPARATION = 205.0  # between region centres, in BOX units (discs are up to 132 across, labels above and below)


def layout(scenario: Scenario) -> dict[str, Any]:
    """Region positions in [0, 1]² of the view box (x right, y down) from the scenario's distances."""
    names = list(scenario.regions)
    n = len(names)
    km = np.array([[scenario.distance(a, b) or 0.0 for b in names] for a in names], dtype=float)
    d = np.log1p(km / 100.0)
    centre = np.eye(n) - 1.0 / n
    b = -0.5 * centre @ (d**2) @ centre
    values, vectors = np.linalg.eigh(b)
    order = np.argsort(values)[::-1][:2]
    xy = vectors[:, order] * np.sqrt(np.maximum(values[order], 0.0))
    if xy.shape[1] < 2:
        xy = np.column_stack([xy, np.zeros(n)])
    for k in range(2):  # eigenvector signs are arbitrary: fix them so the layout is the same everywhere
        col = xy[:, k]
        if col[np.argmax(np.abs(col))] < 0:
            xy[:, k] = -col
    # into the view box (BOX units, aspect kept), then push overlapping discs apart, symmetrically
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    span = float(max((hi - lo).max(), 1e-9))
    box = np.array(BOX, float)
    xy = (xy - (lo + hi) / 2) / span * box.min() + box / 2
    for _ in range(400):
        moved = False
        for i in range(n):
            for j in range(i + 1, n):
                delta = xy[j] - xy[i]
                dist = float(np.hypot(*delta))
                if dist < MIN_SEPARATION:
                    direction = delta / dist if dist > 1e-9 else np.array([np.cos(i + j), np.sin(i + j)])
                    push = (MIN_SEPARATION - dist) / 2.0 + 0.5
                    xy[i] -= direction * push
                    xy[j] += direction * push
                    moved = True
        xy = np.clip(xy, 0.0, box)
        if not moved:
            break
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    fit = np.where(hi - lo > 0, box / np.where(hi - lo > 0, hi - lo, 1.0), 1.0).min()
    xy = (xy - (lo + hi) / 2) * min(fit, 1.0) + box / 2
    pos = xy / box
    return {
        "regions": names,
        "x": [round(float(v), 4) for v in pos[:, 0]],
        "y": [round(float(v), 4) for v in pos[:, 1]],
        "method": "classical MDS of log(1 + distance / 100 km), discs spread apart so none overlap; not to scale",
    }


def _flows(model: Any, column: str) -> list[list[float | None]]:
    """The newest quarter's off-diagonal flows of ``column`` as [from, to, amount] (nonzero only)."""
    fl = model.world.flows.get("talent_od" if column == "talent" else "capital_od")
    if fl is None:
        return []
    r = model.world.n_regions
    matrix = np.asarray(fl, float).reshape(r, r)
    out: list[list[float | None]] = []
    for i in range(r):
        for j in range(r):
            if i != j and matrix[i, j] > 0:
                out.append([i, j, num(matrix[i, j], 5)])
    return out


def frame(model: Any) -> dict[str, Any]:
    """The world view's record of the quarter the model just finished (see the module doc)."""
    w = model.world
    firms = w.firms
    r = w.n_regions
    talent = np.bincount(w.talent["region"].astype(np.int64), minlength=r) * w.weight
    venture = ~firms["incumbent"]
    region = firms["region"].astype(np.int64)
    marks: list[list[Any]] = []
    for k in range(r):
        rows = np.flatnonzero(venture & (region == k))
        if rows.size:
            dragon = firms["dragon_step"][rows] >= 0
            # dragons first, then by valuation (ties: lower id first)
            order = np.lexsort((firms.ids[rows], -firms["valuation"][rows], ~dragon))
            for row in rows[order[:MARKS_PER_REGION]]:
                marks.append(
                    [
                        int(firms.ids[row]),
                        k,
                        int(firms["field"][row]),
                        num(firms["valuation"][row], 4),
                        num(firms["headcount"][row], 3),
                        int(firms["dragon_step"][row] >= 0),
                    ]
                )
    step = w.step - 1  # the model has advanced its clock past the quarter it recorded
    start = model.scenario.time.start_year
    return {
        "step": int(step),
        "quarter": f"{start + step // 4}Q{step % 4 + 1}",
        "talent": [num(v, 5) for v in talent],
        "capital": [num(v, 5) for v in w.pool],
        "dragons": [int(v) for v in w.dragons_total.sum(axis=1)],
        "firms": [int(v) for v in np.bincount(region, minlength=r)],
        "marks": marks,
        "talent_flows": _flows(model, "talent"),
        "capital_flows": _flows(model, "capital"),
    }


MARK_COLUMNS = ["firm_id", "region", "field", "valuation_musd", "headcount", "dragon"]
