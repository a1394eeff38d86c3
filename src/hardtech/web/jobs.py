"""The job queue: runs, comparisons and sweeps on a small worker pool, streamed as events.

A :class:`Job` is one request: run a scenario with replications, compare two
scenarios on common random numbers, or run a sweep through
:mod:`hardtech.experiments`. Jobs queue on a thread pool of one or two
workers, so concurrent requests wait their turn instead of starving the
machine. The same request twice while the first is still queued or running
(a double click, a second tab) gets the first job back.

While a job runs it appends events to its own list — ``replication``,
``step`` (replication 0 of a run, one per quarter, with the plot data, the
world view's frame and any new dragons), ``progress``, ``paused`` /
``resumed``, ``stored``, ``result`` and finally ``end`` — which any number of
Server-Sent Events clients read from any position (``Last-Event-ID``
resumes), so a page that reloads reattaches to the job it left.

A running job can be paused (it holds after the current quarter), stepped one
quarter at a time, resumed, and its pace changed. Cancelling sets a flag the
model checks after every quarter; the replications finished by then are
stored (a comparison stores its finished runs and reports its complete
pairs), the one in progress is dropped. Jobs write to the results store in
one batch through :class:`~hardtech.web.results.ResultsFolder` — the server's
single writer. When the server shuts down every job is cancelled this way and
marked (``note``: "server shut down").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hardtech.analysis.changes import changed_fields
from hardtech.analysis.outcomes import OUTCOME_DOCS, outcomes
from hardtech.evidence.ensembles import bootstrap_interval, paired_difference
from hardtech.runner import RunResult, run, run_id_for, summarise
from hardtech.scenario import Scenario, to_toml
from hardtech.web.results import ResultsFolder
from hardtech.web.series import bands, dragon_rows, jsonable, payloads, step_payload
from hardtech.web.world import frame as world_frame
from hardtech.web.world import layout as world_layout

log = logging.getLogger("hardtech.web")

COMPARE_METRICS = (
    "dragons",
    "births",
    "deaths",
    "exits",
    "survival",
    "talent_end",
    "net_inflow",
    "investor_capital_end",
    "invested",
    "returned",
    "gap_end",
)
WORLD_ONLY = ("failure_rate", "concentration_end")
MIN_BOOTSTRAP = 5  # replications (or pairs) from which an interval is shown
_STREAM_TABLES = ("step_metrics", "region_metrics", "field_metrics")
_PROGRESS_EVERY = 8  # steps between progress events of replications that are not streamed
SHUTDOWN_NOTE = "server shut down"


class JobCancelled(Exception):
    """Raised inside the model's after_step hook to stop a cancelled job."""


class QueueFull(RuntimeError):
    """Too many jobs are waiting."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def job_key(kind: str, scenarios: list[Scenario], replications: int, extra: str = "") -> str:
    """Identity of a request: the same kind, resolved scenarios and replications are the same job."""
    text = "\n--\n".join([kind, str(replications), extra, *(to_toml(sc) for sc in scenarios)])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


@dataclass
class Job:
    """One queued or running request and its event log."""

    kind: str
    labels: list[str]
    scenarios: list[Scenario]
    replications: int
    pace_s: float = 0.0
    spec: dict[str, Any] | None = None
    key: str = ""
    sweep: Any = None  # (ResolvedSpec, SweepPlan) of a sweep job
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = "queued"
    created_at: str = field(default_factory=_now)
    started_at: str | None = None
    finished_at: str | None = None
    error: str | None = None
    note: str | None = None
    result: dict[str, Any] | None = None
    run_ids: list[str] = field(default_factory=list)
    done_steps: int = 0
    total_override: int | None = None
    paused: bool = False
    step_tokens: int = 0
    cancel: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)
    cond: threading.Condition = field(default_factory=threading.Condition)
    _events: list[tuple[int, str, str]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def total_steps(self) -> int:
        """Quarters the job runs in all (over its scenarios and replications)."""
        if self.total_override is not None:
            return self.total_override
        return sum(sc.steps for sc in self.scenarios) * self.replications

    @property
    def finished(self) -> bool:
        """Whether the job has ended (done, failed or cancelled)."""
        return self.status in ("done", "failed", "cancelled")

    def emit(self, event: str, data: dict[str, Any]) -> None:
        """Append an event (serialised once, here) to the log."""
        text = json.dumps(jsonable(data), separators=(",", ":"), allow_nan=False)
        with self._lock:
            self._events.append((len(self._events), event, text))

    def events_after(self, index: int) -> list[tuple[int, str, str]]:
        """Events with id ≥ ``index``."""
        with self._lock:
            return self._events[max(index, 0) :]

    @property
    def event_count(self) -> int:
        """Number of events in the log so far."""
        with self._lock:
            return len(self._events)

    def finish(self, status: str, error: str | None = None) -> None:
        """End the job with ``status`` (and ``error``): emit the end event and wake those waiting."""
        self.error, self.finished_at = error, _now()
        self.emit("end", {"status": status, "error": error, "run_ids": self.run_ids, "note": self.note})
        # the status last: a stream ends once the job is finished and it has sent every event, so a
        # status set before the end event is appended let a stream close without it (seen under load)
        self.status = status
        self.ended.set()

    def check_cancel(self) -> None:
        """Raise :class:`JobCancelled` if the job was asked to stop."""
        if self.cancel.is_set():
            raise JobCancelled()

    def stop(self) -> None:
        """Ask the job to stop (wakes a paused job)."""
        self.cancel.set()
        with self.cond:
            self.cond.notify_all()

    def hold(self) -> None:
        """Between quarters: wait while paused (a step token lets one quarter through); then the pace."""
        with self.cond:
            while self.paused and not self.cancel.is_set() and self.step_tokens == 0:
                self.cond.wait(0.25)
            if self.step_tokens > 0:
                self.step_tokens -= 1
        self.check_cancel()

    def info(self, queue_position: int | None = None, with_result: bool = True) -> dict[str, Any]:
        """The job as the API reports it (:class:`~hardtech.web.schemas.JobInfo`)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "status": self.status,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "labels": self.labels,
            "replications": self.replications,
            "progress": {"done": self.done_steps, "total": self.total_steps},
            "queue_position": queue_position,
            "error": self.error,
            "run_ids": list(self.run_ids),
            "events_url": f"/api/jobs/{self.id}/events",
            "result": self.result if with_result else None,
            "spec": self.spec,
            "paused": self.paused,
            "pace_ms": int(round(self.pace_s * 1000)),
            "note": self.note,
        }


class _StepHook:
    """The ``after_step`` hook of one replication: cancellation, pause, progress, streaming."""

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
            job.hold()
            return
        rows = {}
        for name in _STREAM_TABLES:  # only the newest step's rows
            table = model.recorder.table(name)
            rows[name] = table.slice(self.offsets[name]).to_pydict() if table.num_rows else {}
            self.offsets[name] = table.num_rows
        payload = step_payload(
            rows["step_metrics"], rows["region_metrics"], rows["field_metrics"], self.regions, self.fields
        )
        payload.update(self._progress())
        payload["world"] = world_frame(model)
        total = sum(payload["dragons"])
        if total > self.dragons_sent:
            payload["new_dragons"] = dragon_rows(_dragons_so_far(model), self.dragons_sent)
            self.dragons_sent += len(payload["new_dragons"])
        job.emit("step", payload)
        if job.pace_s > 0 and job.cancel.wait(job.pace_s):
            raise JobCancelled()
        job.hold()

    def _progress(self) -> dict[str, int]:
        return {
            "side": self.side,
            "replication": self.replication,
            "done": self.job.done_steps,
            "total": self.job.total_steps,
        }


def _dragons_so_far(model: Any) -> Any:
    """The model's dragons table so far (cheap accessor if the model has one)."""
    table_of = getattr(model, "_dragons_table", None)
    return table_of() if callable(table_of) else model.results()["dragons"]


def interval(values: Sequence[float | None] | np.ndarray) -> dict[str, Any] | None:
    """Mean over replications with a bootstrap 95% interval from :data:`MIN_BOOTSTRAP` of them up.

    Fewer: the mean with the replications' range (``method = "range"``), or
    the one value (``"single"``) — a t-interval of 2 or 3 replications is
    wider than anything the model can produce and crosses zero for counts.
    """
    v = np.asarray([float(x) for x in values if x is not None], float)
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    mean = float(v.mean())
    if v.size == 1:
        return {"mean": round(mean, 4), "lo": None, "hi": None, "n": 1, "method": "single"}
    if v.size < MIN_BOOTSTRAP:
        return {
            "mean": round(mean, 4),
            "lo": round(float(v.min()), 4),
            "hi": round(float(v.max()), 4),
            "n": int(v.size),
            "method": "range",
        }
    point, lo, hi = bootstrap_interval({"x": v}, lambda m: m["x"])
    return {"mean": round(point, 4), "lo": round(lo, 4), "hi": round(hi, 4), "n": int(v.size), "method": "bootstrap"}


def _outcomes(result: RunResult) -> dict[str, float]:
    return outcomes({k: result.frame(k) for k in (*_STREAM_TABLES, "dragons")})


def _payloads(result: RunResult) -> list[dict[str, Any]]:
    sc = result.scenario
    step_frame, region_frame, field_frame = (result.frame(k) for k in _STREAM_TABLES)
    return payloads(step_frame, region_frame, field_frame, list(sc.regions), list(sc.fields))


def run_result(results: list[RunResult]) -> dict[str, Any]:
    """The ``result`` of a run job: the CLI summary (without the dragon list), intervals and bands over replications."""
    summary = summarise(results)
    summary["dragon_count"] = len(summary.pop("dragons"))
    summary.pop("dragons_ci", None)  # t-intervals; replaced by interval() below
    outs = [_outcomes(r) for r in results]
    regions = list(results[0].scenario.regions)
    summary["intervals"] = {
        f"{m}_{reg}": interval([o.get(f"{m}_{reg}") for o in outs]) for m in ("dragons", "births") for reg in regions
    }
    summary["outcomes"] = {name: interval([o.get(name) for o in outs]) for name in (*COMPARE_METRICS, *WORLD_ONLY)}
    summary["outcome_docs"] = {name: OUTCOME_DOCS.get(name, "") for name in summary["outcomes"]}
    summary["regions_order"] = regions
    summary["interval_note"] = _interval_note(len(results))
    summary["bands"] = bands([_payloads(r) for r in results]) if len(results) > 1 else None
    return summary


def _interval_note(n: int) -> str:
    if n >= MIN_BOOTSTRAP:
        return f"mean over {n} replications with a bootstrap 95% interval (2,000 resamples)"
    if n > 1:
        return (
            f"mean over {n} replications and their range (min–max); a bootstrap interval is shown from "
            f"{MIN_BOOTSTRAP} replications up"
        )
    return "one replication: no interval"


def compare_result(labels: list[str], scenarios: list[Scenario], groups: list[list[RunResult]]) -> dict[str, Any]:
    """Paired B − A over the complete pairs (same seed and replication), for every region and the world."""
    n = min(len(g) for g in groups)
    a_runs, b_runs = groups[0][:n], groups[1][:n]
    regions: list[str] = []
    for sc in scenarios:
        for r in sc.regions:
            if r not in regions:
                regions.append(r)
    out_a, out_b = [_outcomes(r) for r in a_runs], [_outcomes(r) for r in b_runs]
    rows = []
    scopes = [("world", "")] + [(r, f"_{r}") for r in regions]
    for scope, suffix in scopes:
        for metric in (*COMPARE_METRICS, *(WORLD_ONLY if scope == "world" else ())):
            key = f"{metric}{suffix}"
            a = np.array([o.get(key, np.nan) for o in out_a], float)
            b = np.array([o.get(key, np.nan) for o in out_b], float)
            ok = np.isfinite(a) & np.isfinite(b)
            diffs = (b - a)[ok]
            row: dict[str, Any] = {
                "key": key,
                "metric": metric,
                "scope": scope,
                "n": int(ok.sum()),
                "a": _mean(a[ok]),
                "b": _mean(b[ok]),
                "diff": _mean(diffs),
                "lo": None,
                "hi": None,
                "paired": [round(float(x), 4) for x in diffs],
                "significant": None,
            }
            if ok.sum() >= MIN_BOOTSTRAP:
                d, lo, hi = paired_difference(a[ok], b[ok])
                row.update(diff=round(d, 4), lo=round(lo, 4), hi=round(hi, 4), significant=bool(lo > 0 or hi < 0))
            rows.append(row)
    series = {
        side: bands([_payloads(r) for r in runs], metrics=("dragons", "talent", "births"))
        for side, runs in (("a", a_runs), ("b", b_runs))
        if runs
    }
    changes = changed_fields(scenarios[1], scenarios[0])
    return {
        "regions": regions,
        "pairs": n,
        "replications": n,
        "labels": labels,
        "sides": [
            {"label": label, "scenario": sc.name, "run_ids": [r.run_id for r in g]}
            for label, sc, g in zip(labels, scenarios, groups, strict=True)
        ],
        "changed": [{"path": c["path"], "a": c["reference"], "b": c["value"]} for c in changes],
        "outcomes": rows,
        "outcome_docs": {m: OUTCOME_DOCS.get(m, "") for m in (*COMPARE_METRICS, *WORLD_ONLY)},
        "interval": "bootstrap" if n >= MIN_BOOTSTRAP else "none",
        "interval_note": (
            f"B − A paired over {n} replications on common random numbers (the same seeds and "
            "replication numbers); 95% bootstrap interval of the mean difference (2,000 resamples)"
            if n >= MIN_BOOTSTRAP
            else f"B − A paired over {n} replication{'s' if n != 1 else ''} on common random numbers; with "
            f"fewer than {MIN_BOOTSTRAP} pairs no interval is shown (it would mean little): the paired "
            "differences are listed instead"
        ),
        "series": series,
    }


def _mean(v: np.ndarray) -> float | None:
    return round(float(v.mean()), 4) if v.size else None


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
        self._stopping: list[Job] = []  # the jobs a shutdown cancelled
        self.shutdown_summary: list[str] = []

    # -- queue ---------------------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        labels: list[str],
        scenarios: list[Scenario],
        replications: int,
        pace_s: float = 0.0,
        spec: dict[str, Any] | None = None,
        key: str | None = None,
        sweep: Any = None,
        total: int | None = None,
    ) -> tuple[Job, bool]:
        """Queue a job; returns it and whether it is an earlier identical job still queued or running."""
        key = key or job_key(kind, scenarios, replications)
        job = Job(
            kind=kind,
            labels=labels,
            scenarios=scenarios,
            replications=replications,
            pace_s=pace_s,
            spec=spec,
            key=key,
            sweep=sweep,
            total_override=total,
        )
        with self._lock:
            if self._closed:
                raise QueueFull("the server is shutting down")
            for other in self._jobs.values():
                if other.key == key and not other.finished and not other.cancel.is_set():
                    return other, True
            waiting = sum(1 for j in self._jobs.values() if j.status == "queued")
            if waiting >= self.queue_limit:
                raise QueueFull(f"{waiting} jobs are already waiting; try again when one has finished")
            self._jobs[job.id] = job
            self._prune()
        job.emit(
            "queued",
            {"id": job.id, "kind": kind, "labels": labels, "replications": replications, "total": job.total_steps},
        )
        self._pool.submit(self._execute, job)
        return job, False

    def _prune(self) -> None:
        finished = [j.id for j in self._jobs.values() if j.finished]
        for job_id in finished[: max(0, len(finished) - self.keep)]:
            del self._jobs[job_id]

    def get(self, job_id: str) -> Job | None:
        """The job with id ``job_id``, or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def jobs(self) -> list[Job]:
        """All jobs kept, oldest first."""
        with self._lock:
            return list(self._jobs.values())

    def queue_position(self, job: Job) -> int | None:
        """A queued job's place in the queue (1 = next), else None."""
        if job.status != "queued":
            return None
        with self._lock:
            queued = [j.id for j in self._jobs.values() if j.status == "queued"]
        return queued.index(job.id) + 1 if job.id in queued else None

    def cancel(self, job: Job, note: str | None = None) -> Job:
        """Ask a job to stop (a queued job never starts; a running one stops after the current quarter)."""
        if not job.finished:
            if note:
                job.note = note
            job.stop()
            if job.status == "queued":
                with self._lock:
                    if job.status == "queued":
                        job.finish("cancelled")
        return job

    def control(self, job: Job, action: str, pace_ms: int | None = None) -> Job:
        """Pause, resume or step a job, or set its pace (ms after each streamed quarter)."""
        if pace_ms is not None:
            job.pace_s = pace_ms / 1000.0
        if job.finished:
            return job
        with job.cond:
            if action == "pause" and not job.paused:
                job.paused = True
                job.emit("paused", {"done": job.done_steps, "total": job.total_steps})
            elif action == "resume" and job.paused:
                job.paused, job.step_tokens = False, 0
                job.emit("resumed", {"done": job.done_steps, "total": job.total_steps})
            elif action == "step":
                if not job.paused:
                    job.paused = True
                    job.emit("paused", {"done": job.done_steps, "total": job.total_steps})
                job.step_tokens += 1
            elif action == "pace":
                job.emit("pace", {"pace_ms": int(round(job.pace_s * 1000))})
            job.cond.notify_all()
        return job

    def begin_shutdown(self) -> None:
        """Refuse new jobs and cancel every job (quick: it does not wait)."""
        with self._lock:
            self._closed = True
            jobs = [j for j in self._jobs.values() if not j.finished]
            self._stopping.extend(j for j in jobs if j not in self._stopping)
        for job in jobs:
            self.cancel(job, note=SHUTDOWN_NOTE)

    def shutdown(self, wait: float = 10.0) -> list[str]:
        """Cancel everything, let running jobs store what they finished (up to ``wait`` s), stop the workers.

        Returns one line per job that was stopped (also kept in :attr:`shutdown_summary`).
        """
        self.begin_shutdown()
        for job in self._stopping:
            job.ended.wait(wait)
        self._pool.shutdown(wait=False, cancel_futures=True)
        lines = [
            f"cancelled {j.kind} job {j.id} ({j.labels[0] if j.labels else ''}): {j.note or 'stopped'}"
            for j in self._stopping
            if j.started_at is not None
        ]
        queued = sum(1 for j in self._stopping if j.started_at is None)
        if queued:
            lines.append(f"dropped {queued} queued job(s)")
        self.shutdown_summary = lines
        return lines

    # -- work ----------------------------------------------------------------------------------
    def _execute(self, job: Job) -> None:
        with self._lock:
            if job.finished:
                return
            job.status, job.started_at = "running", _now()
        job.emit(
            "started",
            {"kind": job.kind, "labels": job.labels, "replications": job.replications, "total": job.total_steps},
        )
        try:
            if job.kind == "sweep":
                self._execute_sweep(job)
            else:
                self._execute_runs(job)
        except Exception as exc:  # a failing job must not take the worker down
            log.exception("job %s failed", job.id)
            job.finish("failed", f"{type(exc).__name__}: {exc}")

    def _execute_runs(self, job: Job) -> None:
        groups: list[list[RunResult]] = [[] for _ in job.scenarios]
        # a comparison alternates A and B replication by replication, so a stop keeps complete pairs
        order = [(side, k) for k in range(job.replications) for side in range(len(job.scenarios))]
        try:
            for side, k in order:
                sc = job.scenarios[side]
                stream = job.kind == "run" and k == 0
                job.emit(
                    "replication",
                    {
                        "side": side,
                        "label": job.labels[side],
                        "replication": k,
                        "run_id": run_id_for(sc, k),
                        "streaming": stream,
                        "regions": list(sc.regions),
                        "fields": list(sc.fields),
                        "field_labels": {f: v.label for f, v in sc.fields.items()},
                        "steps": sc.steps,
                        "start_year": sc.time.start_year,
                        "layout": world_layout(sc) if stream else None,
                    },
                )
                groups[side].append(run(sc, replication=k, after_step=_StepHook(job, sc, side, k, stream)))
                job.emit(
                    "progress",
                    {
                        "side": side,
                        "replication": k,
                        "done": job.done_steps,
                        "total": job.total_steps,
                        "finished": True,
                    },
                )
            job.check_cancel()
        except JobCancelled:
            self._keep_finished(job, groups)
            return
        self._store_and_report(job, groups)
        job.finish("done")

    def _keep_finished(self, job: Job, groups: list[list[RunResult]]) -> None:
        """A stopped job: store the replications it finished, report what it can, end as cancelled."""
        reason = job.note or "stopped"
        done = sum(len(g) for g in groups)
        if done:
            try:
                self._store_and_report(job, groups)
                kept = f"kept {done} finished replication{'s' if done != 1 else ''}"
            except Exception as exc:  # noqa: BLE001 - e.g. the store is gone at shutdown: say so, end cleanly
                log.warning("job %s: could not store its finished runs: %s", job.id, exc)
                kept = f"could not store its {done} finished replication(s): {type(exc).__name__}: {exc}"
        else:
            kept = "no replication had finished: nothing stored"
        job.note = f"{reason}; {kept}"
        job.finish("cancelled")

    def _store_and_report(self, job: Job, groups: list[list[RunResult]]) -> None:
        flat = [r for g in groups for r in g]
        store = self.folder.write(flat)
        job.run_ids = [r.run_id for r in flat]
        job.emit("stored", {"run_ids": job.run_ids, "store": store})
        if job.kind == "run":
            result = run_result(flat)
        elif min(len(g) for g in groups) >= 1:
            result = compare_result(job.labels, job.scenarios, groups)
        else:
            return
        job.result = jsonable(result)
        job.emit("result", job.result)

    def _execute_sweep(self, job: Job) -> None:
        from hardtech.experiments.executors import open_executor
        from hardtech.experiments.sweep import run_sweep, sweep_frame
        from hardtech.web.experiments import sweep_result

        resolved, plan = job.sweep
        total = len(plan.tasks)
        state = {"done": 0}

        def progress(done: int, total_runs: int) -> None:
            state["done"] = done
            job.done_steps = done
            job.emit("progress", {"done": done, "total": total_runs, "unit": "runs"})
            job.check_cancel()

        try:
            with open_executor() as executor, self.folder.sweep_store() as store:
                try:
                    report = run_sweep(plan, store, executor, progress=progress)
                    frame = sweep_frame(store, resolved)
                except JobCancelled:
                    job.note = (
                        f"{job.note or 'stopped'}; {state['done']} of {total} runs are stored — run the same "
                        "sweep again to resume"
                    )
                    job.emit("stored", {"sweep_id": resolved.sweep_id, "store": self.folder.sweeps_path.name})
                    job.finish("cancelled")
                    return
        except JobCancelled:  # cancelled before the store opened
            job.note = f"{job.note or 'stopped'}; nothing was run"
            job.finish("cancelled")
            return
        job.emit(
            "stored", {"sweep_id": resolved.sweep_id, "store": self.folder.sweeps_path.name, "report": report.as_dict()}
        )
        job.result = jsonable(
            {"sweep_id": resolved.sweep_id, "report": report.as_dict(), **sweep_result(resolved, frame)}
        )
        job.emit("result", job.result)
        job.finish(
            "done" if not report.failed else "failed",
            None if not report.failed else f"{len(report.failed)} run(s) failed; first: {report.failed[0]['error']}",
        )
