"""Running scenarios from Python: the API behind ``hardtech run``.

    >>> import hardtech
    >>> result = hardtech.run("hangzhou", seed=7, overrides={"regions.hangzhou.living_cost": 0.8})
    >>> result.metrics.head()          # step × region × field metrics (pandas)
    >>> result.dragons                 # the firms that became dragons
    >>> result.save("results/my.duckdb")

A run is identified by a hash of the fully resolved scenario (seed included),
the replication number and the model version (package version + a hash of
the model's source, :func:`hardtech.provenance.model_version`), so the same
inputs to the same model always get the same run id, and runs of two model
versions never share one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

import hardtech
from hardtech.model import HardtechModel
from hardtech.provenance import model_version, platform_info
from hardtech.scenario import Scenario, load, to_toml
from hardtech.store import ResultsStore, check_store_path


def run_id_for(scenario: Scenario, replication: int) -> str:
    """Stable id of (resolved scenario incl. seed, replication, model version).

    The model version is in the id because a run id names a result, and the
    result depends on the model's code as much as on its inputs: a store can
    then hold runs of two versions side by side without one replacing or
    passing for the other, a sweep never links a run another version computed,
    and a batch resumed after the code changed starts afresh instead of mixing.
    """
    text = f"{to_toml(scenario)}\nreplication={replication}\nmodel={model_version()}"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{scenario.name}-{digest[:12]}-r{replication}"


def _git_commit() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5,
                             cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


@dataclass
class RunResult:
    """The outputs of one replication of a scenario."""

    run_id: str
    scenario: Scenario
    replication: int
    tables: dict[str, pa.Table]
    meta: dict[str, Any]
    store_path: Path | None = None
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def frame(self, name: str) -> pd.DataFrame:
        """One result table as a pandas DataFrame (cached)."""
        if name not in self._frames:
            if name not in self.tables:
                raise KeyError(f"no table {name!r}; have: {', '.join(self.tables)}")
            self._frames[name] = self.tables[name].to_pandas()
        return self._frames[name]

    @property
    def metrics(self) -> pd.DataFrame:
        """Per step × region × field metrics."""
        return self.frame("step_metrics")

    @property
    def region_metrics(self) -> pd.DataFrame:
        return self.frame("region_metrics")

    @property
    def field_metrics(self) -> pd.DataFrame:
        return self.frame("field_metrics")

    @property
    def events(self) -> pd.DataFrame:
        """Firm events: founded, funded, dragon, pivot, exits, failures, scenes."""
        return self.frame("firm_events")

    @property
    def firms(self) -> pd.DataFrame:
        """Firms alive at the end."""
        return self.frame("firms")

    @property
    def dragons(self) -> pd.DataFrame:
        """Every firm that became a dragon (alive or not at the end)."""
        return self.frame("dragons")

    def save(self, path: str | Path, replace: bool = True, wait: float | None = None) -> Path:
        """Write this run to a DuckDB store (one transaction).

        ``wait``: seconds to wait for another process's lock on the store
        (default ``HARDTECH_LOCK_WAIT``, else 60); then
        :class:`hardtech.store.StoreLockedError`.
        """
        path = Path(path)
        with ResultsStore(path, wait=wait) as store:
            store.write_run(self.run_id, self.meta, self.tables, replace=replace)
        self.store_path = path
        return path


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
    extra = dict(overrides) if isinstance(overrides, dict) else None
    sc = load(scenario, extra if extra is not None else overrides)
    if seed is not None:
        sc = load(sc, {"seed": seed})
    if store is not None:
        check_store_path(store)  # before the run: a bad location must not cost a simulation
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    model = HardtechModel(sc, replication).run(after_step=after_step)
    wall = time.perf_counter() - t0
    meta = {
        "scenario_name": sc.name, "scenario_toml": to_toml(sc), "seed": sc.seed, "replication": replication,
        "scale": sc.scale, "steps": sc.steps, "package_version": hardtech.__version__, "git_commit": _git_commit(),
        "model_version": model_version(), "started_at": started.isoformat(timespec="seconds"),
        "wall_seconds": round(wall, 4), "phase_seconds": {k: round(v, 4) for k, v in model.loop.seconds.items()},
        "platform": platform_info(),
    }
    result = RunResult(run_id_for(sc, replication), sc, replication, model.results(), meta)
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
    dragons = first.dragons.sort_values(["dragon_step", "region"]).to_dict("records")
    dragon_rows = [
        {"firm_id": int(d["firm_id"]), "region": d["region"], "field": d["field"], "founded": d["founded_quarter"],
         "dragon_quarter": d["dragon_quarter"], "valuation_musd": round(float(d["valuation_musd"]), 1)}
        for d in dragons
    ]
    per_rep = [_region_rows(r) for r in results]
    regions = []
    for name in sc.regions:
        rows = [next(x for x in rep if x["region"] == name) for rep in per_rep]
        merged = {"region": name}
        for key in rows[0]:
            if key != "region":
                merged[key] = round(float(np.mean([x[key] for x in rows])), 3)
        regions.append(merged)
    out: dict[str, Any] = {
        "scenario": sc.name, "seed": sc.seed, "replications": len(results), "scale": sc.scale,
        "run_ids": [r.run_id for r in results],
        "dragons": dragon_rows, "regions": regions, "fields": _field_rows(first),
        "wall_seconds": [r.meta["wall_seconds"] for r in results],
    }
    if len(results) > 1:
        out["dragons_ci"] = {
            row["region"]: _mean_ci([rep[i]["dragons"] for rep in per_rep])
            for i, row in enumerate(per_rep[0])
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


def _region_rows(result: RunResult) -> list[dict[str, Any]]:
    sm, rm = result.metrics, result.region_metrics
    last = sm["step"].max()
    rows = []
    for name in result.scenario.regions:
        s, r = sm[sm.region == name], rm[rm.region == name]
        window = r[(r.year >= 2020) & (r.year < 2025)]
        net = (window.arrivals - window.departures).sum() / max(window.talent.mean(), 1.0) / max(len(window) / 4, 1e-9)
        rows.append({
            "region": name,
            "dragons": int(s[s.step == last].dragons.sum()),
            "births": int(s.births.sum()),
            "firms_end": int(s[s.step == last].firms.sum()),
            "talent_start": float(r.talent.iloc[0]),
            "talent_end": float(r.talent.iloc[-1]),
            "net_inflow_pct_2020_24": round(100 * float(net), 2) if len(window) else float("nan"),
            "investor_capital_end": round(float(r.investor_capital.iloc[-1]), 1),
            "invested": round(float(s.invested.sum()), 1),
            "returned": round(float(s.returned.sum()), 1),
            "gap_to_frontier_end": round(float(s[s.step == last].gap_to_frontier.mean()), 3),
        })
    return rows


def _field_rows(result: RunResult) -> list[dict[str, Any]]:
    fm = result.field_metrics
    rows = []
    for name, g in fm.groupby("field", sort=False):
        usable = g[g.usable]
        demand = g[g.demand_started]
        rows.append({
            "field": name,
            "usable_from": usable.quarter.iloc[0] if len(usable) else "",
            "demand_from": demand.quarter.iloc[0] if len(demand) else "",
            "maturity_end": round(float(g.maturity.iloc[-1]), 3),
            "adoption_end": round(float(g.adoption.iloc[-1]), 3),
            "niches_end": int(g.niches.iloc[-1]),
        })
    return rows
