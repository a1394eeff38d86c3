"""Sweeps: plan every run of a spec, run what is missing, store each run whole.

The coordinator (the process calling :func:`run_sweep`) is the only process
that opens the DuckDB store for writing. Workers get plain data (the base
scenario as TOML, the runs' overrides and seeds) and return plain data (the
kept outcomes, the run's metadata and its kept tables as Arrow tables). This
is deliberate: DuckDB lets one process write a file at a time, and a single
writer makes "a run is stored whole or not at all" a matter of
transactions (the runs of one task, each whole, commit together) rather than
of locks between processes.

Store layout (besides the usual ``runs`` / ``step_metrics`` / … of
:class:`hardtech.store.ResultsStore`):

* ``sweeps``: one row per sweep — ``sweep_id`` (hash of the resolved spec),
  name, design, sizes, seed, factor paths and outcomes (JSON), the spec and
  the resolved base scenario as TOML;
* ``sweep_runs``: one row per run of a sweep — ``run_id``, ``sweep_id``,
  ``sample`` (design row), ``replication``, ``seed``, one column per factor
  (named by its dotted path) and one per kept outcome.

A run's ``runs`` row, its kept tables and its ``sweep_runs`` row are written
whole, in the one transaction that stores its task's batch as it arrives, then
dropped. Re-running a sweep
skips the (sample, replication) pairs already in ``sweep_runs``; a run already
stored by another sweep (same scenario, seed and replication, hence the same
``run_id``) only gets its ``sweep_runs`` row.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import json
import math
import re
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import tomllib

from hardtech.experiments.designs import Design, design_matrix, run_seed
from hardtech.experiments.executors import ExecutorInfo
from hardtech.experiments.spec import ResolvedSpec, SpecError, scenario_for
from hardtech.experiments.worker import Batch, RunOutput, RunTask, run_batch
from hardtech.resources import estimate_run_memory
from hardtech.runner import run_id_for
from hardtech.scenario import Scenario, ScenarioError
from hardtech.store import ResultsStore, RunExistsError

SWEEPS, SWEEP_RUNS = "sweeps", "sweep_runs"
KEY_COLUMNS = ("sweep_id", "sample", "replication", "seed")
TARGET_TASK_SECONDS = 2.0  # batch runs so that one task takes about this long (its runs are stored in one transaction)
MAX_BATCH = 64
MAX_POOL_RESTARTS = 3
FAIL_FAST = 20  # stop when this many runs failed and none succeeded


class SweepError(RuntimeError):
    """A sweep that could not go on (e.g. the worker pool kept crashing)."""


# -- planning ---------------------------------------------------------------------------------


@dataclass
class SweepPlan:
    """Every run of a sweep, in (sample, replication) order."""

    resolved: ResolvedSpec
    design: Design
    base_toml: str
    tasks: list[RunTask]
    largest: Scenario | None = None  # the sample needing the most memory (hardtech.resources)

    @property
    def sweep_id(self) -> str:
        """The id of the sweep (a hash of the resolved spec and the model version)."""
        return self.resolved.sweep_id


def plan_sweep(resolved: ResolvedSpec) -> SweepPlan:
    """Draw the design and resolve every run's scenario and ``run_id``.

    Every sample's scenario is validated here, before anything runs or is
    written; an invalid combination raises :class:`SpecError` naming the sample.
    """
    spec = resolved.spec
    design = design_matrix(resolved)
    base_toml = resolved.base_toml
    base_raw = tomllib.loads(base_toml)
    tasks: list[RunTask] = []
    largest, most = None, -1.0
    for i, values in enumerate(design.values):
        seed = run_seed(spec.seed, i)
        try:
            sc = scenario_for(base_raw, {**values, "seed": seed})
        except ScenarioError as exc:
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items())
            raise SpecError(f"{resolved.origin}: sample {i} ({shown}) does not validate: {exc}") from None
        if (need := estimate_run_memory(sc).bytes) > most:
            largest, most = sc, need
        for r in range(spec.replications):
            tasks.append(RunTask(i, r, seed, run_id_for(sc, r), dict(values)))
    return SweepPlan(resolved, design, base_toml, tasks, largest)


# -- the store side ---------------------------------------------------------------------------


class SweepStore:
    """The sweep tables of a :class:`ResultsStore` (the coordinator's side)."""

    def __init__(self, store: ResultsStore) -> None:
        self.store = store
        self.con = store.con

    def _has_table(self, name: str) -> bool:
        return (
            self.con.execute(
                "SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
            ).fetchall()
            != []
        )

    def register(self, plan: SweepPlan) -> None:
        """Record the sweep in ``sweeps`` (once; later calls keep the first row)."""
        r = plan.resolved
        self.con.execute(
            f"CREATE TABLE IF NOT EXISTS {SWEEPS} (sweep_id VARCHAR PRIMARY KEY, name VARCHAR, description VARCHAR, "
            "design VARCHAR, samples INTEGER, replications INTEGER, runs INTEGER, seed BIGINT, factors VARCHAR, "
            "outcomes VARCHAR, spec_toml VARCHAR, base_toml VARCHAR, created_at VARCHAR)"
        )
        self.con.execute(
            f"INSERT INTO {SWEEPS} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                r.sweep_id,
                r.spec.name,
                r.spec.description,
                r.spec.design,
                len(plan.design),
                r.spec.replications,
                len(plan.tasks),
                r.spec.seed,
                json.dumps([f.path for f in r.factors]),
                json.dumps(r.spec.outcomes),
                r.to_toml(),
                plan.base_toml,
                dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            ],
        )

    def done(self, sweep_id: str) -> set[tuple[int, int]]:
        """(sample, replication) pairs of the sweep already stored."""
        if not self._has_table(SWEEP_RUNS):
            return set()
        rows = self.con.execute(
            f"SELECT sample, replication FROM {SWEEP_RUNS} WHERE sweep_id = ?", [sweep_id]
        ).fetchall()
        return {(int(s), int(r)) for s, r in rows}

    def stored_run_ids(self, run_ids: list[str]) -> set[str]:
        """Which of ``run_ids`` are in the store's ``runs`` table."""
        if not run_ids or not self._has_table("runs"):
            return set()
        self.con.register("_hardtech_ids", pa.table({"run_id": pa.array(run_ids, pa.string())}))
        try:
            rows = self.con.execute("SELECT r.run_id FROM runs r JOIN _hardtech_ids i USING (run_id)").fetchall()
        finally:
            self.con.unregister("_hardtech_ids")
        return {r[0] for r in rows}

    def row(self, resolved: ResolvedSpec, out: RunOutput) -> pa.Table:
        """The ``sweep_runs`` row of a finished run (without run_id; the store adds it)."""
        t = out.task
        arrays: dict[str, pa.Array] = {
            "sweep_id": pa.array([resolved.sweep_id], pa.string()),
            "sample": pa.array([t.sample], pa.int64()),
            "replication": pa.array([t.replication], pa.int64()),
            "seed": pa.array([t.seed], pa.int64()),
        }
        types = {"float64": pa.float64(), "int64": pa.int64(), "bool": pa.bool_(), "string": pa.string()}
        for f in resolved.factors:
            arrays[f.path] = pa.array([f.column_value(t.overrides[f.path])], types[f.column_type])
        for name in resolved.spec.outcomes:
            arrays[name] = pa.array([out.outcomes[name]], pa.float64())
        return pa.table(arrays)

    def write_many(self, resolved: ResolvedSpec, outs: list[RunOutput]) -> list[str]:
        """Store runs that arrived together, each whole, in one transaction; returns each run's status.

        Falls back to one by one (``write``) when any of them is already stored.
        """
        fresh = [o for o in outs if o.task.tables]
        if len(fresh) == len(outs) and len(outs) > 1:
            try:
                self.store.write_runs(
                    [(o.task.run_id, o.meta, {**o.tables, SWEEP_RUNS: self.row(resolved, o)}) for o in outs]
                )
                return ["stored"] * len(outs)
            except RunExistsError:
                pass
        return [self.write(resolved, o) for o in outs]

    def write(self, resolved: ResolvedSpec, out: RunOutput) -> str:
        """Store one finished run whole; returns ``stored``, ``linked`` (run already stored) or ``duplicate``."""
        row = self.row(resolved, out)
        if out.task.tables:
            try:
                self.store.write_run(out.task.run_id, out.meta, {**out.tables, SWEEP_RUNS: row})
                return "stored"
            except RunExistsError:
                pass
        if (out.task.sample, out.task.replication) in self._done_one(resolved.sweep_id, out.task):
            return "duplicate"
        self._insert_row(out.task.run_id, row)
        return "linked"

    def _done_one(self, sweep_id: str, task: RunTask) -> set[tuple[int, int]]:
        if not self._has_table(SWEEP_RUNS):
            return set()
        hit = self.con.execute(
            f"SELECT 1 FROM {SWEEP_RUNS} WHERE sweep_id = ? AND sample = ? AND replication = ?",
            [sweep_id, task.sample, task.replication],
        ).fetchall()
        return {(task.sample, task.replication)} if hit else set()

    def _insert_row(self, run_id: str, row: pa.Table) -> None:
        """Append a ``sweep_runs`` row alone (its run is already stored), in one transaction."""
        self.store.append(SWEEP_RUNS, run_id, row)

    def frame(self, resolved: ResolvedSpec) -> pd.DataFrame:
        """The sweep's ``sweep_runs`` rows (only its own columns), sorted by sample and replication."""
        cols = ["run_id", *KEY_COLUMNS, *(f.path for f in resolved.factors), *resolved.spec.outcomes]
        if not self._has_table(SWEEP_RUNS):
            return pd.DataFrame(columns=cols)
        sql = ", ".join(f'"{c}"' for c in cols)
        return self.con.execute(
            f"SELECT {sql} FROM {SWEEP_RUNS} WHERE sweep_id = ? ORDER BY sample, replication", [resolved.sweep_id]
        ).df()


# -- running ----------------------------------------------------------------------------------


@dataclass
class SweepReport:
    """What one call of :func:`run_sweep` did."""

    sweep_id: str
    total: int
    already: int = 0  # stored before this call
    stored: int = 0  # simulated and stored now
    linked: int = 0  # run already stored by another sweep: only its sweep_runs row written
    failed: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    executor: str = ""

    @property
    def complete(self) -> bool:
        """Whether every run of the sweep is stored now."""
        return self.already + self.stored + self.linked == self.total

    def as_dict(self) -> dict[str, Any]:
        """The report as a JSON-ready dict (what ``--json`` prints)."""
        return {
            "sweep_id": self.sweep_id,
            "runs_total": self.total,
            "runs_already_stored": self.already,
            "runs_stored_now": self.stored,
            "runs_linked": self.linked,
            "runs_failed": len(self.failed),
            "failures": self.failed[:20],
            "seconds": round(self.seconds, 2),
            "executor": self.executor,
            "complete": self.complete,
        }


ProgressFn = Callable[[int, int], None]


def run_sweep(
    plan: SweepPlan,
    store: ResultsStore,
    executor: ExecutorInfo,
    *,
    progress: ProgressFn | None = None,
    batch_size: int | None = None,
    memory_limit: str | None = "64MB",
) -> SweepReport:
    """Run every run of ``plan`` not yet in ``store`` on ``executor``; write each run as it arrives.

    ``progress(done, total)`` is called after every stored run (``done``
    counts runs stored before too). ``batch_size`` fixes the runs per
    submitted task; by default it adapts so a task takes about
    :data:`TARGET_TASK_SECONDS` (1 in-process). Failed runs are reported in
    :attr:`SweepReport.failed` (nothing is stored for them; re-running retries
    them); :class:`SweepError` is raised if the first :data:`FAIL_FAST` runs
    all fail (e.g. workers running another hardtech version) or the process
    pool keeps breaking. KeyboardInterrupt cancels what has not started and propagates;
    everything written so far stays. ``memory_limit`` caps DuckDB's buffer
    cache on the store's connection while the sweep runs (restored after), so
    the coordinator's memory stays flat however large the store grows; None
    leaves DuckDB's default (a share of the machine's memory).
    """
    t_start = time.perf_counter()
    previous_limit = None
    if memory_limit:
        previous_limit = store.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        if not re.fullmatch(r"\d+(\.\d+)?\s*[KMGT]i?B", memory_limit):
            raise ValueError(f"memory_limit: {memory_limit!r} is not a size like '64MB'")
        store.con.execute(f"SET memory_limit = '{memory_limit}'")
    try:
        return _run_sweep(plan, store, executor, progress, batch_size, t_start)
    finally:
        if previous_limit is not None:
            try:
                store.con.execute(f"SET memory_limit = '{previous_limit}'")
            except duckdb.Error:
                pass


def _run_sweep(
    plan: SweepPlan,
    store: ResultsStore,
    executor: ExecutorInfo,
    progress: ProgressFn | None,
    batch_size: int | None,
    t_start: float,
) -> SweepReport:
    resolved = plan.resolved
    sweeps = SweepStore(store)
    sweeps.register(plan)
    done = sweeps.done(plan.sweep_id)
    todo = [t for t in plan.tasks if (t.sample, t.replication) not in done]
    elsewhere = sweeps.stored_run_ids([t.run_id for t in todo])
    todo = [
        RunTask(t.sample, t.replication, t.seed, t.run_id, t.overrides, tables=t.run_id not in elsewhere) for t in todo
    ]
    report = SweepReport(plan.sweep_id, len(plan.tasks), already=len(plan.tasks) - len(todo), executor=executor.label)
    written: set[tuple[int, int]] = set(done)
    if progress:
        progress(len(written), report.total)

    pending = deque(todo)
    in_flight: dict[cf.Future, Batch] = {}
    outcomes, keep = tuple(resolved.spec.outcomes), tuple(resolved.spec.keep_tables)
    per_run: float | None = None
    restarts = 0
    parallelism = executor.parallelism
    last_refresh = time.monotonic()

    def next_size() -> int:
        if batch_size:
            return batch_size
        if executor.inline or per_run is None:
            return 1
        k = max(1, min(MAX_BATCH, round(TARGET_TASK_SECONDS / max(per_run, 1e-6))))
        return max(1, min(k, math.ceil(len(pending) / max(parallelism, 1))))

    try:
        while pending or in_flight:
            if executor.refresh and time.monotonic() - last_refresh > 5:
                parallelism, last_refresh = executor.refresh(), time.monotonic()
            window = 1 if executor.inline else 2 * max(parallelism, 1)
            while pending and len(in_flight) < window:
                k = next_size()
                batch = Batch(
                    plan.base_toml, tuple(pending.popleft() for _ in range(min(k, len(pending)))), outcomes, keep
                )
                in_flight[executor.executor.submit(run_batch, batch)] = batch
            finished, _ = cf.wait(list(in_flight), timeout=1.0, return_when=cf.FIRST_COMPLETED)
            for fut in finished:
                batch = in_flight.pop(fut)
                try:
                    outputs = fut.result()
                except BrokenProcessPool:
                    # a worker process died: requeue everything in flight on a fresh pool
                    restarts += 1
                    lost = [batch, *in_flight.values()]
                    in_flight.clear()
                    if executor.rebuild is None or restarts > MAX_POOL_RESTARTS:
                        raise SweepError(
                            f"the worker pool broke {restarts} time(s); stored runs are kept — "
                            "re-run the same command to resume"
                        ) from None
                    _shutdown_now(executor.executor)
                    executor.executor = executor.rebuild()
                    for b in reversed(lost):
                        pending.extendleft(reversed(b.runs))
                    break
                except Exception as exc:  # noqa: BLE001 - e.g. dask KilledWorker: report, go on
                    outputs = [RunOutput(t, error=f"{type(exc).__name__}: {exc}") for t in batch.runs]
                arrived: list[RunOutput] = []
                for out in outputs:
                    key = (out.task.sample, out.task.replication)
                    if key in written or any((o.task.sample, o.task.replication) == key for o in arrived):
                        continue  # delivered twice (a retried task): keep the first
                    if out.error:
                        report.failed.append(
                            {"sample": key[0], "replication": key[1], "run_id": out.task.run_id, "error": out.error}
                        )
                        if report.stored + report.linked == 0 and len(report.failed) >= FAIL_FAST:
                            raise SweepError(
                                f"the first {len(report.failed)} runs all failed, e.g. sample {key[0]} "
                                f"replication {key[1]}: {out.error}"
                            )
                        continue
                    arrived.append(out)
                # the runs of one task arrive together: store them in one transaction, each whole
                for out, status in zip(arrived, sweeps.write_many(resolved, arrived), strict=True):
                    written.add((out.task.sample, out.task.replication))
                    if status == "stored":
                        report.stored += 1
                    elif status == "linked":
                        report.linked += 1
                    per_run = out.seconds if per_run is None else 0.8 * per_run + 0.2 * out.seconds
                if arrived and progress:
                    progress(len(written), report.total)
                del outputs
    except BaseException:
        for fut in in_flight:
            fut.cancel()
        if not executor.inline:
            _shutdown_now(executor.executor)
        raise
    finally:
        report.seconds = time.perf_counter() - t_start
    return report


def _shutdown_now(executor: cf.Executor) -> None:
    """Stop an executor without waiting, cancelling what has not started (Dask's has no cancel_futures)."""
    try:
        executor.shutdown(wait=False, cancel_futures=True)
    except TypeError:
        executor.shutdown(wait=False)


def sweep_frame(store: ResultsStore, resolved: ResolvedSpec) -> pd.DataFrame:
    """The stored ``sweep_runs`` rows of a sweep (its own columns), by sample and replication."""
    return SweepStore(store).frame(resolved)
