"""What a worker does: run a batch of runs and hand back small, whole results.

:func:`run_batch` is the function submitted to the executor (in-process,
process pool or Dask). It is a plain module-level function of plain data, so
it pickles by reference; it keeps nothing between calls (no caches), and it
returns per run the kept outcomes, the run's metadata and the kept tables as
Arrow tables — the coordinator alone writes the store.
"""

from __future__ import annotations

import gc
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

OUTCOME_TABLES = ("step_metrics", "region_metrics", "field_metrics")


@dataclass(frozen=True)
class RunTask:
    """One run to do: a design sample, a replication, its seed and scenario overrides."""

    sample: int
    replication: int
    seed: int
    run_id: str
    overrides: dict[str, Any]
    tables: bool = True  # False: the run is already stored (another sweep); only outcomes are needed


@dataclass(frozen=True)
class Batch:
    """Several runs sharing one base scenario (sent to a worker as one task)."""

    base_toml: str
    runs: tuple[RunTask, ...]
    outcomes: tuple[str, ...]
    keep_tables: tuple[str, ...]


@dataclass
class RunOutput:
    """A finished (or failed) run as a worker returns it."""

    task: RunTask
    outcomes: dict[str, float] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, pa.Table] = field(default_factory=dict)
    seconds: float = 0.0
    error: str | None = None


def run_one(
    base_raw: dict[str, Any], task: RunTask, outcomes: tuple[str, ...], keep_tables: tuple[str, ...]
) -> RunOutput:
    """Run one task and compute its outcomes; errors come back as text in ``RunOutput.error``."""
    from hardtech.analysis.outcomes import outcomes as compute_outcomes
    from hardtech.experiments.spec import scenario_for
    from hardtech.runner import run, run_id_for

    t0 = time.perf_counter()
    try:
        sc = scenario_for(base_raw, {**task.overrides, "seed": task.seed})
        run_id = run_id_for(sc, task.replication)
        if run_id != task.run_id:  # checked before running: a mismatch would store results under a wrong key
            raise RuntimeError(
                f"run id {run_id} differs from the coordinator's {task.run_id}: the worker resolves the scenario "
                "differently (is the same hardtech version installed?)"
            )
        result = run(sc, replication=task.replication)
        frames = {name: result.tables[name].to_pandas() for name in OUTCOME_TABLES}
        values = compute_outcomes(frames)
        kept = {name: float(values[name]) for name in outcomes}
        missing = [name for name in keep_tables if name not in result.tables]
        if missing:
            raise ValueError(f"keep_tables: the run has no table {missing[0]!r}; it has: {', '.join(result.tables)}")
        tables = {name: result.tables[name] for name in keep_tables} if task.tables else {}
        meta = result.meta if task.tables else {}
        del result, frames
        return RunOutput(task, kept, meta, tables, time.perf_counter() - t0)
    except Exception as exc:  # noqa: BLE001 - one failing run must not lose the batch
        tb = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return RunOutput(task, seconds=time.perf_counter() - t0, error=tb)


def run_batch(batch: Batch) -> list[RunOutput]:
    """Run every task of a batch in order (the task submitted to executors)."""
    import tomllib

    base_raw = tomllib.loads(batch.base_toml)
    out = [run_one(base_raw, task, batch.outcomes, batch.keep_tables) for task in batch.runs]
    gc.collect()  # the model's object graph has cycles: free it before the next batch
    return out
