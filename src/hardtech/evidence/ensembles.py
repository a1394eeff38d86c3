"""Ensembles: many replications of one scenario, summarised with intervals.

- :func:`replicate` runs R replications (independent random streams per
  replication, same seed) and returns one row of scalar outcomes per
  replication.
- :func:`summarise_outcomes` gives mean and 95% interval (Student t) per outcome.
- :func:`paired_difference` compares two arms run with the same seeds
  (common random numbers) and gives the mean difference with a bootstrap
  interval over replications.

Workers: ``workers > 1`` uses a process pool; results are ordered by
replication, so they do not depend on the worker count.

Failed runs: by default a run that raises stops the batch. With
``on_failed``, :func:`run_many` keeps going, as the EMA Workbench does with a
failed experiment: the run's row is ``{"replication": k, "_failed": "<error>"}``
(no outcomes; cached and stored like any row, since the same code fails the
same way) and ``on_failed(job, row)`` is told of it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor, ProcessPoolExecutor
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats

import hardtech
from hardtech.analysis.outcomes import outcomes
from hardtech.runner import run_id_for
from hardtech.scenario import Scenario, load

TABLES = ("step_metrics", "region_metrics", "field_metrics", "bloc_metrics", "dragons")


def run_metrics(result: hardtech.RunResult) -> dict[str, float]:
    """Every scalar outcome of a run plus the time-profile metrics claims use."""
    frames = {k: result.frame(k) for k in TABLES}
    out = outcomes(frames)
    out.update(bloc_gap_profile(result))
    return out


def bloc_gap_profile(result: hardtech.RunResult) -> dict[str, float]:
    """Mean gap to the world frontier of each bloc's regions: ``gap_<bloc>_pre|short|long``.

    Before the first blockade, three years after it, and at the end.
    """
    sc = result.scenario
    sm = result.metrics
    events = [e.date for e in sc.events if e.intensity > 0]
    start = sc.time.start_year
    first = min(events) if events else start + (sc.time.end_year - start) / 2
    marks = {"pre": first - 0.25, "short": first + 3.0, "long": float(sc.time.end_year) + 0.75}
    out = {}
    for bloc in sc.blocs:
        regions = [r for r, reg in sc.regions.items() if reg.bloc == bloc]
        rows = sm[sm.region.isin(regions)]
        for name, year in marks.items():
            step = int(np.clip(round((year - start) * 4), 0, sm.step.max()))
            out[f"gap_{bloc}_{name}"] = float(rows[rows.step == step].gap_to_frontier.mean())
    return out


def run_digest(result: hardtech.RunResult) -> str:
    """A digest of every table a run produced: equal digests mean bit-identical runs."""
    digest = hashlib.blake2b(digest_size=16)
    for name in sorted(result.tables):
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.tables[name].schema) as writer:
            writer.write_table(result.tables[name])
        digest.update(name.encode())
        digest.update(sink.getvalue())
    return digest.hexdigest()


def recycled_path(result: hardtech.RunResult) -> dict[str, dict[int, float]]:
    """Per region and calendar year: the exit money recycling returned there (million USD)."""
    rm = result.region_metrics
    if "recycled_in" not in rm:
        return {}
    yearly = rm.assign(calendar=rm["year"].astype(int)).groupby(["region", "calendar"], sort=False)["recycled_in"].sum()
    return {
        region: {int(y): float(v) for (r, y), v in yearly.items() if r == region} for region in result.scenario.regions
    }


def scene_years(result: hardtech.RunResult) -> dict[str, list[float]]:
    """Per region: years from founding to the first scene defined.

    Counted for every firm founded during the run that defined one.
    """
    import pyarrow.compute as pc

    events = result.tables["firm_events"]
    kinds = events.column("event")
    founded = events.filter(pc.equal(kinds, "founded")).select(["firm_id", "step", "region"]).to_pandas()
    scenes = events.filter(pc.equal(kinds, "scene_defined")).select(["firm_id", "step"]).to_pandas()
    first = scenes.groupby("firm_id")["step"].min().rename("scene_step")
    joined = founded.join(first, on="firm_id", how="inner")
    years = (joined["scene_step"] - joined["step"]) / 4.0
    return {
        region: sorted(years[joined["region"] == region].astype(float).tolist()) for region in result.scenario.regions
    }


def _one(args: tuple) -> dict[str, Any]:
    scenario, replication, detail = args if len(args) == 3 else (*args, False)
    result = hardtech.run(scenario, replication=replication)
    row: dict[str, Any] = {"replication": replication, **run_metrics(result)}
    if detail:  # for claims: is this run bit-identical to another, and what did recycling return when
        row["_digest"] = run_digest(result)
        row["_recycled_path"] = recycled_path(result)
        row["_scene_years"] = scene_years(result)
    return row


FAILED = "_failed"
"""The key of a failed run's row: the error's type and first line."""


class Guarded:
    """A measure that returns a failed run's row instead of raising (picklable: it is sent to workers)."""

    def __init__(self, measure: Callable[[tuple], dict]) -> None:
        self.measure = measure

    def __call__(self, job: tuple) -> dict[str, Any]:
        """The measure's row of ``job``, or the failed run's row if it raises."""
        try:
            return self.measure(job)
        except Exception as exc:  # a model error at one point must not end a study of thousands
            first = (str(exc).strip().splitlines() or [""])[0]
            return {"replication": job[1], FAILED: f"{type(exc).__name__}: {first}"}


def failed(row: Mapping[str, Any]) -> bool:
    """True for the row of a run that stopped with an error (see :class:`Guarded`)."""
    value = row.get(FAILED)
    return isinstance(value, str) and bool(value)


def replicate(
    scenario: str | Scenario = "hangzhou",
    overrides: Mapping[str, Any] | None = None,
    replications: int = 10,
    seed: int | None = None,
    workers: int = 1,
    executor: Executor | None = None,
) -> pd.DataFrame:
    """Run ``replications`` replications; one row of outcomes per replication."""
    sc = load(scenario, dict(overrides or {}))
    if seed is not None:
        sc = load(sc, {"seed": seed})
    return run_many([(sc, k) for k in range(replications)], workers=workers, executor=executor)


def run_many(
    jobs: Sequence[tuple[Any, ...]],  # (scenario, replication), and the detail flag once measured here
    workers: int = 1,
    executor: Executor | None = None,
    on_done: Callable[[], None] | None = None,
    cache: dict[str, dict] | None = None,
    detail: bool = False,
    measure: Callable[[tuple], dict] | None = None,
    on_failed: Callable[[tuple, dict], None] | None = None,
) -> pd.DataFrame:
    """Run (scenario, replication) jobs; rows in job order whatever the executor.

    ``cache`` (run id → row) lets experiments that share arms run each run once
    (a cache belongs to one ``measure``). ``measure`` turns a job into its row
    (default: every scalar outcome); it must be a module-level function when
    an executor runs it in other processes. ``detail`` (default measure only)
    adds ``_digest`` (see :func:`run_digest`) and ``_recycled_path`` to each row.
    ``on_failed`` keeps a failed run as a row (see the module docstring) and is
    called with (job, row) for each, whether it ran now or came from ``cache``.
    """
    if executor is None and workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            return run_many(
                jobs,
                executor=pool,
                on_done=on_done,
                cache=cache,
                detail=detail,
                measure=measure,
                on_failed=on_failed,
            )
    cache = {} if cache is None else cache
    keys = [run_id_for(sc, k) + ("+detail" if detail else "") for sc, k in jobs]
    if measure is None:
        measure, jobs = _one, [(*job, detail) for job in jobs]
    if on_failed is not None:
        measure = Guarded(measure)
    todo = dict((key, job) for job, key in zip(jobs, keys, strict=True) if key not in cache)  # each distinct run once
    mapper = executor.map if executor is not None else map
    for key, row in zip(todo, mapper(measure, todo.values()), strict=True):
        cache[key] = row
        if on_done is not None:
            on_done()
    if on_failed is not None:
        for key, job in zip(keys, jobs, strict=True):
            if failed(cache[key]):
                on_failed(job, cache[key])
    return pd.DataFrame([cache[key] for key in keys])


def mean_interval(values: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean and a Student-t interval (the mean itself twice when n < 2 or no spread)."""
    v = np.asarray(values, float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return (float("nan"),) * 3
    mean = float(v.mean())
    if v.size < 2 or v.std(ddof=1) == 0:
        return mean, mean, mean
    half = float(stats.t.ppf(0.5 + level / 2, v.size - 1) * v.std(ddof=1) / np.sqrt(v.size))
    return mean, mean - half, mean + half


def summarise_outcomes(rows: pd.DataFrame, level: float = 0.95) -> pd.DataFrame:
    """Per outcome: mean, lower and upper bound of the interval, replications."""
    cols = [c for c in rows.columns if c != "replication" and not c.startswith("_")]
    data = [(c, *mean_interval(rows[c].to_numpy(), level), int(rows[c].notna().sum())) for c in cols]
    return pd.DataFrame(data, columns=["outcome", "mean", "lo", "hi", "n"]).set_index("outcome")


def bootstrap_interval(
    arms: Mapping[str, np.ndarray],
    statistic: Callable[[Mapping[str, float]], float],
    resamples: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """Statistic of the arms' means with a paired percentile bootstrap interval.

    ``arms`` maps arm name → per-replication values (same replications in
    every arm); replications are resampled jointly, keeping the pairing.
    """
    names = list(arms)
    matrix = np.column_stack([np.asarray(arms[n], float) for n in names])
    keep = np.all(np.isfinite(matrix), axis=1)
    matrix = matrix[keep]
    point = statistic(dict(zip(names, matrix.mean(axis=0), strict=True)))
    if len(matrix) < 2:
        return point, point, point
    rng = np.random.default_rng(np.random.SeedSequence(seed))
    idx = rng.integers(0, len(matrix), size=(resamples, len(matrix)))
    means = matrix[idx].mean(axis=1)  # (resamples, arms)
    values = np.array([statistic(dict(zip(names, row, strict=True))) for row in means])
    lo, hi = np.quantile(values, [(1 - level) / 2, 1 - (1 - level) / 2])
    return float(point), float(lo), float(hi)


def paired_difference(base: np.ndarray, treatment: np.ndarray, **kwargs) -> tuple[float, float, float]:
    """Mean of treatment − base with a paired bootstrap interval."""
    return bootstrap_interval({"base": base, "treatment": treatment}, lambda m: m["treatment"] - m["base"], **kwargs)
