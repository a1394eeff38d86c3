"""Sweep throughput and memory: runs per second on 1 and 2 local workers, RSS over a long sweep.

    .venv/bin/python benchmarks/sweep_bench.py [--runs 2000] [--calib 300] [--out benchmarks/results.md]

A tiny scenario (scale 0.001, 2012–2018, a Latin hypercube over three levers)
keeps a run at ≈0.2 s, so dispatch and the coordinator's writes (≈10 ms of
CPU per run, one DuckDB transaction each) weigh about as much as they ever
will. Phase 1 runs the first ``--calib`` runs on one worker process; phase 2
runs all ``--runs`` runs on two. Rates are steady-state
(from the 10th stored run on, so process start-up is excluded) and the
parallel efficiency is rate(2) / (2 × rate(1)). Memory (RSS) of the
coordinator (this process, which writes the store) and of the worker
processes is sampled over the 40 runs before the 200th, the middle and the
last run of phase 2 (medians: a worker may be in the middle of a run at any one
moment). The coordinator caps DuckDB's buffer cache (``run_sweep``'s
``memory_limit``), so its memory does not grow with the store.

The machine may be shared: the 1-minute load average is printed with the
table, and a baseline of plain runs (``hardtech.run`` in 1 and 2 processes,
no sweep machinery) shows how well the machine itself scales from one to
two processes right now; the sweep's efficiency is also given relative to it.
Prints a Markdown table; ``--out FILE`` appends it to FILE.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import psutil

from hardtech.experiments import load_spec, open_executor, plan_sweep, run_sweep
from hardtech.store import ResultsStore

SPEC = """
name = "sweep-bench"
base = "hangzhou"
design = "lhs"
samples = {samples}
seed = 99
outcomes = ["dragons", "births_hangzhou", "firms_end"]

[set]
scale = 0.001
time.end_year = 2018

[[factors]]
path = "regions.hangzhou.policy.startup_support"
range = [0.0, 0.9]

[[factors]]
path = "regions.hangzhou.living_cost"
range = [0.6, 1.4]

[[factors]]
path = "regions.hangzhou.policy.talent_subsidy"
range = [0.0, 30.0]
"""
MB = 1024 * 1024
SKIP = 10  # runs excluded from the steady-state rate (worker start-up)
WINDOW = 40  # RSS is the median over the last WINDOW runs before 200 and before --runs


def _workers(me: psutil.Process) -> list[psutil.Process]:
    """The pool's worker processes (spawned children running spawn_main, not the resource tracker)."""
    out = []
    for child in me.children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
        except psutil.Error:
            continue
        if "spawn_main" in cmd and "resource_tracker" not in cmd:
            out.append(child)
    return out


def _rss(procs: list[psutil.Process]) -> float:
    values = []
    for p in procs:
        try:
            values.append(p.memory_info().rss / MB)
        except psutil.Error:
            pass
    return max(values) if values else float("nan")


def _plain_runs(n: int, seed: int) -> int:
    """n runs of the bench scenario with no sweep machinery (the machine's own ceiling)."""
    import hardtech

    for i in range(n):
        hardtech.run("hangzhou", seed=seed + i, overrides={"scale": 0.001, "time.end_year": 2018})
    return n


def _plain_rate(processes: int, runs_each: int) -> float:
    """Runs per second of `processes` plain processes each doing `runs_each` runs (after a warm-up run)."""
    import concurrent.futures as cf
    import multiprocessing

    with cf.ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_plain_runs, [1] * processes, range(processes)))  # start-up and imports
        t0 = time.perf_counter()
        done = sum(pool.map(_plain_runs, [runs_each] * processes, [1000 * (k + 1) for k in range(processes)]))
        return done / (time.perf_counter() - t0)


def _sweep(plan, workers: int, db: Path, marks: tuple[int, ...] = ()) -> dict:
    me = psutil.Process()
    times: list[tuple[float, int]] = []  # (when, runs done): runs of one task are reported together
    samples: dict[int, list[tuple[float, float]]] = {m: [] for m in marks}

    def progress(done: int, total: int) -> None:
        if done == 0:
            return
        times.append((time.perf_counter(), done))
        for m in marks:  # RSS over the WINDOW runs up to each mark (a worker may be mid-run at any one moment)
            if m - WINDOW < done <= m:
                samples[m].append((me.memory_info().rss / MB, _rss(_workers(me))))

    start, cpu0 = time.perf_counter(), time.process_time()
    with ResultsStore(db) as store, open_executor(workers=workers) as ex:
        report = run_sweep(plan, store, ex, progress=progress)
    cpu = time.process_time() - cpu0
    assert report.complete and not report.failed, report.as_dict()
    n = times[-1][1] if times else 0
    first = next((k for k, (_, done) in enumerate(times) if done >= SKIP), None)
    if first is not None and times[-1][0] > times[first][0]:
        steady = (n - times[first][1]) / (times[-1][0] - times[first][0])
    else:
        steady = float("nan")
    end = times[-1][0] if times else start
    memory = {
        m: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for m, v in samples.items() if v
    }
    return {
        "runs": n,
        "wall": end - start,
        "rate_wall": n / max(end - start, 1e-9),
        "rate": steady,
        "memory": memory,
        "coord_ms": 1000 * cpu / max(n, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2000, help="runs of the long two-worker sweep (default 2000)")
    parser.add_argument("--calib", type=int, default=300, help="runs of the one-worker sweep (default 300)")
    parser.add_argument("--plain", type=int, default=40, help="runs per process of the plain baseline (default 40)")
    parser.add_argument("--out", type=Path, help="append the Markdown table to this file")
    args = parser.parse_args()
    marks = tuple(sorted({min(200, args.runs), args.runs // 2, args.runs} - {0}))

    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp:
        spec = Path(tmp) / "bench.toml"
        spec.write_text(SPEC.format(samples=args.runs), encoding="utf-8")
        load_before = os.getloadavg()[0]
        plain1, plain2 = _plain_rate(1, args.plain), _plain_rate(2, args.plain)
        print(f"plain: {plain1:.2f} runs/s (1 process), {plain2:.2f} runs/s (2 processes)", file=sys.stderr)
        plan = plan_sweep(load_spec(spec))
        one = _sweep(replace(plan, tasks=plan.tasks[: args.calib]), 1, Path(tmp) / "one.duckdb")
        print(f"1 worker: {one['runs']} runs, {one['rate']:.2f} runs/s", file=sys.stderr)
        plan = plan_sweep(load_spec(spec))  # planned again: the scenario schema may change under a shared tree
        two = _sweep(plan, 2, Path(tmp) / "two.duckdb", marks)
        print(f"2 workers: {two['runs']} runs, {two['rate']:.2f} runs/s", file=sys.stderr)
        load_after = os.getloadavg()[0]
        db_mb = (Path(tmp) / "two.duckdb").stat().st_size / MB

    eff = two["rate"] / (2 * one["rate"])
    machine = plain2 / (2 * plain1)
    mem = two["memory"]
    lines = [
        f"### Sweep throughput and memory ({dt.date.today().isoformat()})",
        "",
        f"Tiny scenario (scale 0.001, 2012–2018, LHS over 3 levers), {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}; 1-min load average {load_before:.1f} before, {load_after:.1f} after. "
        f"Rates are steady-state (from the {SKIP}th stored run); the coordinator writes each task's runs to "
        f"DuckDB in one transaction, each run whole.",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| runs/s, 1 worker ({one['runs']} runs) | {one['rate']:.2f} |",
        f"| runs/s, 2 workers ({two['runs']} runs) | {two['rate']:.2f} |",
        f"| parallel efficiency, rate(2) / (2 × rate(1)) (target ≥ 90%) | {100 * eff:.0f}% |",
        f"| machine ceiling: plain runs/s without the sweep, 1 / 2 processes | {plain1:.2f} / {plain2:.2f} |",
        f"| machine's own scaling, plain(2) / (2 × plain(1)) | {100 * machine:.0f}% |",
        f"| sweep efficiency relative to the machine's scaling | {100 * eff / machine:.0f}% |",
        f"| wall time incl. start-up: 1 worker / 2 workers | {one['wall']:.0f} s / {two['wall']:.0f} s |",
        f"| coordinator CPU per run (planning, writing, bookkeeping), 2 workers | {two['coord_ms']:.1f} ms |",
    ]
    for n in marks:
        coord, worker = mem.get(n, (float("nan"), float("nan")))
        lines.append(
            f"| RSS after {n} runs (median over runs {n - WINDOW + 1}–{n}): coordinator / largest worker "
            f"| {coord:.0f} MB / {worker:.0f} MB |"
        )
    if len(marks) >= 2 and all(m in mem for m in marks):
        for a, b in zip(marks, marks[1:], strict=False):  # consecutive marks: one pair fewer than marks
            (c1, w1), (c2, w2) = mem[a], mem[b]
            lines.append(f"| RSS change {a} → {b} runs: coordinator / worker | {c2 - c1:+.0f} MB / {w2 - w1:+.0f} MB |")
    lines.append(f"| store size after {two['runs']} runs (runs + step_metrics + sweep_runs) | {db_mb:.0f} MB |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out:
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n" + table)


if __name__ == "__main__":
    main()
