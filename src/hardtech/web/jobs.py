"""The job queue: runs and comparisons on a small worker pool, streamed as events.

A :class:`Job` is one request (run a scenario with replications, or compare
two). Jobs queue on a thread pool of one or two workers, so concurrent
requests wait their turn instead of starving the machine. While a job runs it
appends events to its own list — ``replication``, ``step`` (replication 0 of a
run, one per quarter, with the plot data and any new dragons), ``progress``,
``stored``, ``result`` and finally ``end`` — which any number of Server-Sent
Events clients read from any position (``Last-Event-ID`` resumes).

Cancelling sets a flag the model checks after every quarter; a cancelled job
writes nothing. Finished jobs write all their runs to the results store in
one batch through :class:`~hardtech.web.results.ResultsFolder` — the server's
single writer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import threading
import uuid
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardtech.analysis.outcomes import OUTCOME_DOCS, outcomes
from hardtech.runner import RunResult, _mean_ci, run, run_id_for, summarise
from hardtech.scenario import Scenario
from hardtech.web.results import ResultsFolder
from hardtech.web.series import dragon_rows, jsonable, step_payload

log = logging.getLogger("hardtech.web")

COMPARE_OUTCOMES = ("dragons", "births", "failure_rate", "exits", "talent_end", "net_inflow", "investor_capital_end",
                    "gap_end", "concentration_end")
_STREAM_TABLES = ("step_metrics", "region_metrics", "field_metrics")
_PROGRESS_EVERY = 8  # steps between progress events of replications that are not streamed


class JobCancelled(Exception):
    """Raised inside the model's after_step hook to stop a cancelled job."""


class QueueFull(RuntimeError):
    """Too many jobs are waiting."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Job:
    """One queued or running request and its event log."""

    kind: str
    labels: list[str]
    scenarios: list[Scenario]
    replications: int
    pace_s: float = 0.0
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    result: dict[str, Any] | None = None
    run_ids: list[str] = field(default_factory=list)
    done_steps: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    _events: list[tuple[int, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_steps(self) -> int:
        return sum(sc.steps for sc in self.scenarios) * self.replications

    @property
    def finished(self) -> bool:
        return self.status in ("done", "failed", "cancelled")

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """Append an event (serialised once, here) to the log."""
        text = json.dumps(jsonable(data), separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._events.append((len(self._events), event, text))

    def events_after(self, index: int) -> list[tuple[int, str, str]]:
        """Events with id ≥ ``index``."""
        with self._lock:
            return self._events[max(index, 0):]

    @property
    def event_count(self) -> int:
        with self._lock:
            return len(self._events)

    def finish(self, status: str, error: str | None = None) -> None:
        self.status, self.error, self.finished_at = status, error, _now()
        self.emit("end", {"status": status, "error": error, "run_ids": self.run_ids})

    def check_cancel(self) -> None:
        if self.cancel.is_set():
            raise JobCancelled()

    def info(self, queue_position: int | None = None, with_result: bool = True) -> dict[str, Any]:
        return {
            "id": self.id, "kind": self.kind, "status": self.status, "created_at": self.created_at,
            "started_at": self.started_at, "finished_at": self.finished_at, "labels": self.labels,
            "replications": self.replications, "progress": {"done": self.done_steps, "total": self.total_steps},
            "queue_position": queue_position, "error": self.error, "run_ids": list(self.run_ids),
            "events_url": f"/api/jobs/{self.id}/events", "result": self.result if with_result else None,
        }


class _StepHook:
    """The ``after_step`` hook of one replication: cancellation, progress, streaming."""

    def __init__(self, job: Job, sc: Scenario, side: int, replication: int, stream: bool) -> None:
        self.job, self.side, self.replication, self.stream = job, side, replication, stream
        self.regions, self.fields = list(sc.regions), list(sc.fields)
        self.offsets = dict.fromkeys(_STREAM_TABLES, 0)
        self.dragons_sent = 0
        self.steps = 0

    def __call__(self, model: Any) -> None:
        job = self.job
        job.check_cancel()
        job.done_steps += 1
        self.steps += 1
        if not self.stream:
            if self.steps % _PROGRESS_EVERY == 0:
                job.emit("progress", self._progress())
            return
        rows = {}
        for name in _STREAM_TABLES:  # only the newest step's rows
            table = model.recorder.table(name)
            rows[name] = table.slice(self.offsets[name]).to_pydict() if table.num_rows else {}
            self.offsets[name] = table.num_rows
        payload = step_payload(rows["step_metrics"], rows["region_metrics"], rows["field_metrics"],
                               self.regions, self.fields)
        payload.update(self._progress())
        total = sum(payload["dragons"])
        if total > self.dragons_sent:
            payload["new_dragons"] = dragon_rows(_dragons_so_far(model), self.dragons_sent)
            self.dragons_sent += len(payload["new_dragons"])
        job.emit("step", payload)
        if job.pace_s > 0 and job.cancel.wait(job.pace_s):
            raise JobCancelled()

    def _progress(self) -> dict[str, int]:
        return {"side": self.side, "replication": self.replication, "done": self.job.done_steps,
                "total": self.job.total_steps}


def _dragons_so_far(model: Any) -> Any:
    """The model's dragons table so far (cheap accessor if the model has one)."""
    table_of = getattr(model, "_dragons_table", None)
    return table_of() if callable(table_of) else model.results()["dragons"]


def mean_ci(values: list[float]) -> dict[str, float] | None:
    """Mean and 95% interval over replications, as ``hardtech run`` reports (NaNs dropped)."""
    clean = [float(v) for v in values if v is not None and np.isfinite(v)]
    if not clean:
        return None
    out = _mean_ci(clean)
    return {k: round(float(v), 4) for k, v in out.items()}


def _outcomes(result: RunResult) -> dict[str, float]:
    return outcomes({k: result.frame(k) for k in _STREAM_TABLES})


def run_result(results: list[RunResult]) -> dict[str, Any]:
    """The ``result`` of a run job: the CLI summary (without the dragon list) and rep-0 outcomes."""
    summary = summarise(results)
    summary["dragon_count"] = len(summary.pop("dragons"))
    outs = [_outcomes(r) for r in results]
    summary["outcomes"] = {name: mean_ci([o.get(name, np.nan) for o in outs]) for name in COMPARE_OUTCOMES}
    summary["outcome_docs"] = {name: OUTCOME_DOCS.get(name, "") for name in COMPARE_OUTCOMES}
    summary["regions_order"] = list(results[0].scenario.regions)
    return summary


def compare_result(labels: list[str], groups: list[list[RunResult]]) -> dict[str, Any]:
    """Mean and 95% interval of dragons by region and of a few outcomes, for each scenario."""
    regions: list[str] = []
    for group in groups:
        for r in group[0].scenario.regions:
            if r not in regions:
                regions.append(r)
    sides = []
    for label, group in zip(labels, groups, strict=True):
        outs = [_outcomes(r) for r in group]
        sides.append({
            "label": label,
            "scenario": group[0].scenario.name,
            "run_ids": [r.run_id for r in group],
            "dragons_by_region": {reg: mean_ci([o.get(f"dragons_{reg}", np.nan) for o in outs]) for reg in regions},
            "outcomes": {name: mean_ci([o.get(name, np.nan) for o in outs]) for name in COMPARE_OUTCOMES},
        })
    return {"regions": regions, "replications": len(groups[0]), "sides": sides,
            "outcome_docs": {name: OUTCOME_DOCS.get(name, "") for name in COMPARE_OUTCOMES}}


class JobManager:
    """Queues jobs on ``workers`` threads and keeps the last ``keep`` finished ones."""

    def __init__(self, folder: ResultsFolder, *, workers: int = 1, queue_limit: int = 16, keep: int = 50) -> None:
        if not 1 <= workers <= 2:
            raise ValueError("workers must be 1 or 2 (the machine has few cores)")
        self.folder = folder
        self.queue_limit = queue_limit
        self.keep = keep
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hardtech-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._closed = False

    # -- queue ---------------------------------------------------------------------------------
    def submit(self, kind: str, labels: list[str], scenarios: list[Scenario], replications: int,
               pace_s: float = 0.0) -> Job:
        job = Job(kind=kind, labels=labels, scenarios=scenarios, replications=replications, pace_s=pace_s)
        with self._lock:
            if self._closed:
                raise QueueFull("the server is shutting down")
            waiting = sum(1 for j in self._jobs.values() if j.status == "queued")
            if waiting >= self.queue_limit:
                raise QueueFull(f"{waiting} jobs are already waiting; try again when one has finished")
            self._jobs[job.id] = job
            self._prune()
        job.emit("queued", {"id": job.id, "kind": kind, "labels": labels, "replications": replications,
                            "total": job.total_steps})
        self._pool.submit(self._execute, job)
        return job

    def _prune(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished]
        for job_id in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job_id]

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def queue_position(self, job: Job) -> int | None:
        if job.status != "queued":
            return None
        with self._lock:
            queued = [j.id for j in self._jobs.values() if j.status == "queued"]
        return queued.index(job.id) + 1 if job.id in queued else None

    def cancel(self, job: Job) -> Job:
        """Ask a job to stop (a queued job never starts; a running one stops after the current quarter)."""
        if not job.finished:
            job.cancel.set()
            if job.status == "queued":
                with self._lock:
                    if job.status == "queued":
                        job.finish("cancelled")
        return job

    def shutdown(self) -> None:
        """Cancel everything and stop the workers (does not wait for the current quarter)."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs.values())
        for job in jobs:
            self.cancel(job)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- work ----------------------------------------------------------------------------------
    def _execute(self, job: Job) -> None:
        with self._lock:
            if job.finished:
                return
            job.status, job.started_at = "running", _now()
        job.emit("started", {"kind": job.kind, "labels": job.labels, "replications": job.replications,
                             "total": job.total_steps})
        try:
            groups: list[list[RunResult]] = []
            for side, sc in enumerate(job.scenarios):
                group = []
                for k in range(job.replications):
                    stream = job.kind == "run" and k == 0
                    job.emit("replication", {
                        "side": side, "label": job.labels[side], "replication": k, "run_id": run_id_for(sc, k),
                        "streaming": stream, "regions": list(sc.regions), "fields": list(sc.fields),
                        "field_labels": {f: v.label for f, v in sc.fields.items()}, "steps": sc.steps,
                        "start_year": sc.time.start_year,
                    })
                    group.append(run(sc, replication=k, after_step=_StepHook(job, sc, side, k, stream)))
                    job.emit("progress", {"side": side, "replication": k, "done": job.done_steps,
                                          "total": job.total_steps})
                groups.append(group)
            job.check_cancel()
            flat = [r for g in groups for r in g]
            store = self.folder.write(flat)
            job.run_ids = [r.run_id for r in flat]
            job.emit("stored", {"run_ids": job.run_ids, "store": store})
            result = run_result(flat) if job.kind == "run" else compare_result(job.labels, groups)
            job.result = jsonable(result)
            job.emit("result", job.result)
            job.finish("done")
        except JobCancelled:
            job.finish("cancelled")
        except Exception as exc:  # a failing job must not take the worker down
            log.exception("job %s failed", job.id)
            job.finish("failed", f"{type(exc).__name__}: {exc}")
