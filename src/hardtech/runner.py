"""Running scenarios from Python: the API behind ``hardtech run``.

    >>> import hardtech
    >>> result = hardtech.run("hangzhou", seed=7, overrides={"regions.hangzhou.living_cost": 0.8})
    >>> result.metrics.head()          # step × region × field metrics (pandas)
    >>> result.dragons                 # the firms that became dragons
    >>> result.save("results/my.duckdb")
    >>> runs = hardtech.ensemble("hangzhou", replications=5, workers=2)
    >>> runs.summary()                 # every outcome: mean and 95% interval

:func:`run` gives a :class:`~hardtech.result.RunResult`, :func:`ensemble` an
:class:`~hardtech.result.Ensemble` of them (see :mod:`hardtech.result`).
"""

from __future__ import annotations

import datetime as dt
import functools
import subprocess
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from hardtech.model import HardtechModel
from hardtech.result import Ensemble, RunResult, run_id_for
from hardtech.scenario import Scenario, ScenarioError, load
from hardtech.store import check_store_path

__all__ = ["Ensemble", "RunResult", "ensemble", "run", "run_id_for", "summarise"]


@functools.lru_cache(maxsize=1)
def _git_commit() -> str:
    """The source tree's commit (asked of git once per process: a subprocess costs more than a small run's tables)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def run(
    scenario: str | Path | Scenario = "hangzhou",
    *,
    seed: int | None = None,
    replication: int = 0,
    overrides: dict[str, Any] | list[str] | None = None,
    store: str | Path | None = None,
    after_step: Callable[[HardtechModel], None] | None = None,
) -> RunResult:
    """Run one replication of a scenario.

    Parameters
    ----------
    scenario:
        A preset name, a TOML path or a :class:`Scenario`.
    seed:
        Overrides the scenario's seed.
    replication:
        Replication number (independent random streams for each).
    overrides:
        ``{"dotted.key": value}`` or ``["dotted.key=value", ...]``, validated like the file.
    store:
        If given, the path of a DuckDB file the run is written to.
    after_step:
        Called with the model after every quarter (for progress bars, live plots).
    """
    sc = _resolve(scenario, seed, overrides)
    if store is not None:
        check_store_path(store)  # before the run: a bad location must not cost a simulation
    return _run_one(sc, replication, store, after_step)


def _resolve(
    scenario: str | Path | Scenario, seed: int | None, overrides: dict[str, Any] | list[str] | None
) -> Scenario:
    extra = dict(overrides) if isinstance(overrides, dict) else None
    sc = load(scenario, extra if extra is not None else overrides)
    return load(sc, {"seed": seed}) if seed is not None else sc


def _run_one(
    sc: Scenario,
    replication: int,
    store: str | Path | None = None,
    after_step: Callable[[HardtechModel], None] | None = None,
) -> RunResult:
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    model = HardtechModel(sc, replication).run(after_step=after_step)
    wall = time.perf_counter() - t0
    result = model.results()
    result.meta.update(
        {
            "git_commit": _git_commit(),
            "started_at": started.isoformat(timespec="seconds"),
            "wall_seconds": round(wall, 4),
        }
    )
    if store is not None:
        result.save(store)
    return result


def _replication(job: tuple[Scenario, int]) -> RunResult:
    return _run_one(*job)


def ensemble(
    scenario: str | Path | Scenario = "hangzhou",
    *,
    replications: int = 10,
    seed: int | None = None,
    overrides: dict[str, Any] | list[str] | None = None,
    workers: int = 1,
    executor: Executor | None = None,
    store: str | Path | None = None,
) -> Ensemble:
    """Run ``replications`` replications of one scenario and keep every run.

    Replication k is exactly what ``run(scenario, seed=seed, replication=k)``
    gives, whatever ``workers`` or ``executor`` run it: the result is the same
    on one process or many. ``store``: a DuckDB file all replications are
    written to in one transaction. For hundreds of replications, where only
    the scalar outcomes matter, :func:`hardtech.evidence.ensembles.replicate`
    keeps one row per run instead of its tables.

    Parameters
    ----------
    scenario:
        A preset name, a TOML path or a :class:`Scenario`.
    replications:
        How many (1–1000).
    seed:
        Overrides the scenario's seed.
    overrides:
        ``{"dotted.key": value}`` or ``["dotted.key=value", ...]``, validated like the file.
    workers:
        Local processes (ignored when ``executor`` is given).
    executor:
        Any :class:`concurrent.futures.Executor` (e.g. a Dask ``Client.get_executor()``).
    store:
        If given, the path of a DuckDB file the replications are written to.
    """
    if not 1 <= replications <= 1000:
        raise ScenarioError(f"replications: must be 1–1000 (got {replications})")
    sc = _resolve(scenario, seed, overrides)
    if store is not None:
        check_store_path(store)
    jobs = [(sc, k) for k in range(replications)]
    if executor is None and workers > 1:
        with ProcessPoolExecutor(min(workers, replications)) as pool:
            runs = list(pool.map(_replication, jobs))
    elif executor is not None:
        runs = list(executor.map(_replication, jobs))
    else:
        runs = [_replication(job) for job in jobs]
    result = Ensemble(tuple(runs))
    if store is not None:
        result.save(store)
    return result


def summarise(results: list[RunResult]) -> dict[str, Any]:
    """The summary the CLI prints: dragons (first replication), regions and fields.

    With several replications, region figures are means and ``dragons_ci`` gives
    each region's dragon count as mean with a 95% interval over replications.
    """
    first = results[0]
    sc = first.scenario
    dragon_rows = _dragon_rows(first) if "dragons" in first else []  # a store of an old run may lack the table
    per_rep = [_region_rows(r) for r in results]
    regions = []
    for name in sc.regions:
        rows = [next(x for x in rep if x["region"] == name) for rep in per_rep]
        merged: dict[str, Any] = {"region": name}
        for key in rows[0]:
            if key != "region":
                merged[key] = round(float(np.mean([x[key] for x in rows])), 3)
        regions.append(merged)
    out: dict[str, Any] = {
        "scenario": sc.name,
        "seed": sc.seed,
        "replications": len(results),
        "scale": sc.scale,
        "run_ids": [r.run_id for r in results],
        "dragons": dragon_rows,
        "regions": regions,
        "fields": _field_rows(first),
        "wall_seconds": [r.meta["wall_seconds"] for r in results],
    }
    if len(results) > 1:
        out["dragons_ci"] = {
            row["region"]: _mean_ci([rep[i]["dragons"] for rep in per_rep]) for i, row in enumerate(per_rep[0])
        }
    return out


def _mean_ci(values: list[float]) -> dict[str, float]:
    """Mean with a normal-approximation 95% interval (t would be wider for tiny n)."""
    from scipy import stats

    v = np.asarray(values, float)
    mean = float(v.mean())
    if len(v) < 2 or v.std(ddof=1) == 0:
        return {"mean": mean, "lo": mean, "hi": mean}
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return {"mean": round(mean, 3), "lo": round(mean - half, 3), "hi": round(mean + half, 3)}


def _dragon_rows(result: RunResult) -> list[dict[str, Any]]:
    """The run's dragons in the order they became dragons (then by region), as the summary lists them."""
    names = ("firm_id", "region", "field", "founded_quarter", "dragon_quarter", "dragon_step", "valuation_musd")
    d = _columns(result, "dragons", names)
    # by quarter, then region; ties keep the table's order (a stable sort, as pandas' sort_values)
    order = sorted(range(len(d["firm_id"])), key=lambda i: (d["dragon_step"][i], d["region"][i]))
    return [
        {
            "firm_id": int(d["firm_id"][i]),
            "region": d["region"][i],
            "field": d["field"][i],
            "founded": d["founded_quarter"][i],
            "dragon_quarter": d["dragon_quarter"][i],
            "valuation_musd": round(float(d["valuation_musd"][i]), 1),
        }
        for i in order
    ]


def _columns(result: RunResult, table: str, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Columns of one of a run's Arrow tables as NumPy arrays (strings as objects, nulls as NaN)."""
    t = result[table]
    return {c: t.column(c).to_numpy() for c in names}


def _sum(x: np.ndarray) -> float:
    """Sum of the values that are not NaN, as pandas' ``Series.sum`` adds them (NaN counted as 0, in place)."""
    return float(np.where(np.isnan(x), 0.0, x).sum())


def _mean(x: np.ndarray) -> float:
    """Mean of the values that are not NaN (NaN if none), as pandas' ``Series.mean`` computes it."""
    n = int((~np.isnan(x)).sum())
    return _sum(x) / n if n else float("nan")


def _region_rows(result: RunResult) -> list[dict[str, Any]]:
    sm = _columns(
        result,
        "step_metrics",
        ("step", "region", "dragons", "births", "firms", "invested", "returned", "gap_to_frontier"),
    )
    rm = _columns(result, "region_metrics", ("region", "year", "talent", "arrivals", "departures", "investor_capital"))
    last = sm["step"].max()
    rows = []
    for name in result.scenario.regions:
        s = sm["region"] == name
        r = rm["region"] == name
        end = s & (sm["step"] == last)
        window = r & (rm["year"] >= 2020) & (rm["year"] < 2025)
        quarters = int(window.sum())
        talent = rm["talent"][r]
        net = (
            _sum(rm["arrivals"][window] - rm["departures"][window])
            / max(_mean(rm["talent"][window]), 1.0)
            / max(quarters / 4, 1e-9)
        )
        rows.append(
            {
                "region": name,
                "dragons": int(sm["dragons"][end].sum()),
                "births": int(sm["births"][s].sum()),
                "firms_end": int(sm["firms"][end].sum()),
                "talent_start": float(talent[0]),
                "talent_end": float(talent[-1]),
                "net_inflow_pct_2020_24": round(100 * float(net), 2) if quarters else float("nan"),
                "investor_capital_end": round(float(rm["investor_capital"][r][-1]), 1),
                "invested": round(_sum(sm["invested"][s]), 1),
                "returned": round(_sum(sm["returned"][s]), 1),
                "gap_to_frontier_end": round(_mean(sm["gap_to_frontier"][end]), 3),
            }
        )
    return rows


def _field_rows(result: RunResult) -> list[dict[str, Any]]:
    fm = _columns(
        result, "field_metrics", ("field", "quarter", "usable", "demand_started", "maturity", "adoption", "niches")
    )
    rows = []
    for name in dict.fromkeys(fm["field"]):  # in order of first appearance
        g = fm["field"] == name
        usable = fm["quarter"][g & fm["usable"]]
        demand = fm["quarter"][g & fm["demand_started"]]
        rows.append(
            {
                "field": name,
                "usable_from": usable[0] if len(usable) else "",
                "demand_from": demand[0] if len(demand) else "",
                "maturity_end": round(float(fm["maturity"][g][-1]), 3),
                "adoption_end": round(float(fm["adoption"][g][-1]), 3),
                "niches_end": int(fm["niches"][g][-1]),
            }
        )
    return rows
