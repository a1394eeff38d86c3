"""Throughput: this commit's engines against the engine of commit 346a798, in one run.

    .venv/bin/python benchmarks/throughput.py [--repeats 5] [--claims] [--out benchmarks/results.md]

Three engines run the same scenarios (the ``hangzhou`` preset of each commit,
seed 7, 2012–2035) in the same run, in fresh processes, interleaved
(``old, numpy, compiled, old, numpy, compiled, …``) so that load from other
work on the machine falls on all of them alike; the report gives medians
(and the fastest) over the repeats:

- **old** — commit 346a798 (the previous release; the user's view), which
  this script installs into a temporary virtual environment (``git archive``
  of the commit, ``pip install --no-deps``; NumPy, pyarrow, … are this
  environment's own, so only hardtech's code differs);
- **numpy** — this commit with ``HARDTECH_ENGINE=numpy``: the NumPy
  reference path of the same rules (the like-for-like comparison, since
  the model's rules changed after 346a798);
- **compiled** — this commit's default engine (Numba kernels), timed with a
  *cold* compile cache (an empty ``NUMBA_CACHE_DIR``: the first run after
  an install pays for compiling) and a *warm* one (every later run).

Measured:

1. the model of a default run (scale 0.01): ``HardtechModel(sc).run()`` —
   building the world and the 96 quarters — and the result tables;
2. ``hardtech run hangzhou`` as a whole process (start-up, imports, model,
   tables, DuckDB store, HTML report, printed summary), wall time; also as a
   user runs it (no ``HARDTECH_ENGINE``: one replication runs the NumPy
   reference, see ``hardtech run --help``), the measure the target is read on;
3. runs per second at the claims' screening scale (0.002; a run =
   ``hardtech.run`` plus the scalar outcomes claims read) on 1 and 2 worker
   processes (after one warm-up run per worker);
4. full scale (1:1) seconds and peak memory (``ru_maxrss``) of the model;
5. the memory-bandwidth floor of the default run: the bytes of the agent
   state (every column of the live rows of talent, firms, niches and links,
   summed over the quarters) divided by a NumPy copy bandwidth measured in
   the same process (``np.copyto`` of a 256 MB array, best of 5; bytes
   copied per second), and the ratio of the model's time to it;
6. with ``--claims full`` (or ``quick``): ``hardtech claims`` (20 paired
   replications, 64 Sobol samples, 2 workers; ``--quick``: the screening
   suite) on the compiled engine and on the NumPy reference path — the
   claims suite of this commit (346a798's suite was a different, smaller
   one: its time is not comparable).

The machine may be shared: the 1-minute load average before and after is
printed. ``--quick`` runs fewer repeats and smaller batches (a smoke test).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

OLD_COMMIT = "346a798"
ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve()
SEED = 7
DEFAULT_SCALE = 0.01
FULL_WARMUP_QUARTERS = 4  # full-scale quarters run (untimed) to fill the warm compile cache for that scale
SCREENING_SCALE = 0.002
TARGETS = {"model": 5.0, "process": 3.0, "screening": 5.0, "claims": 5.0, "full_s": 10.0, "full_gb": 1.0, "floor": 5.0}


# -- child processes (run with the engine's own interpreter) ---------------------------------
def _state_bytes(world) -> int:
    """Bytes of every column over the live rows of the world's agent tables."""
    import numpy as np

    total = 0
    for table in (world.talent, world.firms, world.niches, world.links):
        n = len(table)
        total += 8 * n  # ids
        total += n * sum(np.dtype(t).itemsize for t in table._dtypes.values())
    return total


def _copy_bandwidth(mb: int = 256, repeats: int = 5) -> float:
    """Bytes per second of ``np.copyto`` between two large arrays (best of ``repeats``)."""
    import numpy as np

    src = np.ones(mb * (1 << 20) // 8)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # touch both
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - t0)
    return src.nbytes / best


def _import_result_modules() -> None:
    """Import what building the result tables needs, so that ``tables_s`` times the building alone.

    pyarrow imports pandas at its first conversion of a NumPy array whenever pandas is installed
    (apache/arrow#34994): an engine that imports pandas itself at start-up pays that in its import
    time, one that does not would pay it in its result tables. Both pay it here, before the clock
    starts; the whole-process row counts it for both.
    """
    import importlib

    import pyarrow as pa

    pa.array([0])
    for name in ("hardtech.result", "hardtech.runner"):  # 346a798 has no hardtech.result
        try:
            importlib.import_module(name)
        except ImportError:
            pass


def child_model(scale: float, seed: int, floor: bool, quarters: int | None = None) -> dict:
    """One run's model time (build + steps) and result-table time, in this fresh process.

    ``quarters``: stop after that many (a warm-up that compiles what a scale needs), else run them all.
    """
    import resource

    t_import = time.perf_counter()
    from hardtech.model import HardtechModel
    from hardtech.scenario import load

    _import_result_modules()
    imported = time.perf_counter() - t_import
    sc = load("hangzhou", {"scale": scale, "seed": seed})
    state = []
    after = (lambda m: state.append(_state_bytes(m.world))) if floor else None
    t0 = time.perf_counter()
    model = HardtechModel(sc)
    for _ in range(sc.steps if quarters is None else min(quarters, sc.steps)):
        model.step()
        if after is not None:
            after(model)
    t1 = time.perf_counter()
    tables = model.results()
    t2 = time.perf_counter()
    out = {
        "import_s": imported,
        "model_s": t1 - t0,
        "tables_s": t2 - t1,
        "steps": model.steps,
        "talent_end": len(model.world.talent),
        "firms_end": len(model.world.firms),
        "rows": int(sum(t.num_rows for t in tables.values())),
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "phase_s": {k: round(v, 4) for k, v in model.loop.seconds.items()},
    }
    if floor:
        # the state's own time in the model is not counted twice: bytes are summed after each step
        out["state_bytes_total"] = int(sum(state))
        out["state_mb_mean"] = sum(state) / len(state) / 1e6
        out["copy_gb_s"] = _copy_bandwidth() / 1e9
        out["floor_s"] = out["state_bytes_total"] / (out["copy_gb_s"] * 1e9)
    return out


def _screening_run(job: tuple) -> float:
    import hardtech
    from hardtech.evidence.ensembles import run_metrics

    sc, k = job
    return len(run_metrics(hardtech.run(sc, replication=k)))


def child_screening(runs: int, workers: int, seed: int) -> dict:
    """Runs per second of ``runs`` screening-scale runs on ``workers`` processes (after a warm-up)."""
    from concurrent.futures import ProcessPoolExecutor

    from hardtech.scenario import load

    sc = load("hangzhou", {"scale": SCREENING_SCALE, "seed": seed})
    jobs = [(sc, 100 + k) for k in range(runs)]
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(_screening_run, [(sc, 1000 + w) for w in range(workers)]))  # warm-up: imports, caches
        t0 = time.perf_counter()
        list(pool.map(_screening_run, jobs))
        wall = time.perf_counter() - t0
    return {"runs": runs, "workers": workers, "wall_s": wall, "runs_per_s": runs / wall}


def child_main(argv: list[str]) -> None:
    kind, *rest = argv
    if kind == "model":
        out = child_model(float(rest[0]), int(rest[1]), rest[2] == "1", int(rest[3]) if len(rest) > 3 else None)
    elif kind == "screening":
        out = child_screening(int(rest[0]), int(rest[1]), int(rest[2]))
    else:
        raise SystemExit(f"unknown child task {kind!r}")
    print("RESULT " + json.dumps(out))


# -- the parent: environments, interleaving, report ------------------------------------------
class Engine:
    """An interpreter plus environment variables that select one engine."""

    def __init__(self, name: str, python: Path, env: dict[str, str]) -> None:
        self.name, self.python, self.extra = name, python, env

    def env(self, cache_dir: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HARDTECH_", "NUMBA_"))}
        env.update(self.extra)
        env["NUMBA_CACHE_DIR"] = str(cache_dir)
        return env

    @property
    def bin(self) -> Path:
        return self.python.parent


def build_old_env(work: Path) -> Path:
    """A virtual environment with commit 346a798 installed; returns its python."""
    src, venv = work / "old-src", work / "old-venv"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD_COMMIT], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    purelib = subprocess.run(
        [sys.executable, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    site = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # the dependencies are this environment's (same NumPy, pyarrow, …): a plain path line, so this
    # environment's own editable hardtech is not put on the path (its finder lives in a .pth file)
    Path(site, "_bench_dependencies.pth").write_text(purelib + "\n")
    subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--no-deps", str(src)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return venv / "bin" / "python"


def run_child(engine: Engine, cache: Path, *args: object, timeout: float = 3600) -> dict:
    proc = subprocess.run(
        [str(engine.python), str(HERE), "--child", *map(str, args)],
        env=engine.env(cache),
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tempfile.gettempdir(),
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise RuntimeError(f"{engine.name} child {args} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return json.loads(line[len("RESULT ") :])


def time_process(engine: Engine, cache: Path, work: Path, args: list[str]) -> float:
    """Wall time of ``hardtech <args>`` as a whole process, in a fresh directory."""
    cwd = Path(tempfile.mkdtemp(dir=work))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [str(engine.bin / "hardtech"), *args], env=engine.env(cache), cwd=cwd, capture_output=True, text=True
    )
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{engine.name}: hardtech {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    shutil.rmtree(cwd, ignore_errors=True)
    return wall


def load_average() -> float:
    return os.getloadavg()[0]


def _med(xs: list[float]) -> float:
    return statistics.median(xs)


def _fmt_s(x: float) -> str:
    return f"{x:.2f} s" if x >= 1 else f"{1000 * x:.0f} ms"


def measure(args: argparse.Namespace) -> dict:
    work = Path(tempfile.mkdtemp(prefix="hardtech-throughput-"))
    try:
        return _measure(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(args: argparse.Namespace, work: Path) -> dict:
    t_start = time.perf_counter()
    load_before = load_average()
    print(f"building the {OLD_COMMIT} environment …", file=sys.stderr)
    old_python = build_old_env(work)
    here = Path(sys.executable)
    old = Engine("old", old_python, {})
    ref = Engine("numpy", here, {"HARDTECH_ENGINE": "numpy"})
    new = Engine("compiled", here, {"HARDTECH_ENGINE": "numba"})
    user = Engine("default", here, {})  # what a user runs: the command's own engine choice
    warm_cache = work / "cache-warm"
    warm_cache.mkdir()

    def cold_cache() -> Path:
        path = Path(tempfile.mkdtemp(dir=work, prefix="cache-cold-"))
        return path

    R = args.repeats
    res: dict = {"repeats": R, "load_before": load_before, "commit": _git(["rev-parse", "--short", "HEAD"])}
    # 1. model of a default run -----------------------------------------------------------------
    print("default runs …", file=sys.stderr)
    run_child(new, warm_cache, "model", DEFAULT_SCALE, SEED, 0)  # fills the warm cache
    model = {k: [] for k in ("old", "numpy", "cold", "warm")}
    for _ in range(R):
        model["old"].append(run_child(old, warm_cache, "model", DEFAULT_SCALE, SEED, 0))
        model["numpy"].append(run_child(ref, warm_cache, "model", DEFAULT_SCALE, SEED, 0))
        cold = cold_cache()
        model["cold"].append(run_child(new, cold, "model", DEFAULT_SCALE, SEED, 0))
        shutil.rmtree(cold, ignore_errors=True)
        model["warm"].append(run_child(new, warm_cache, "model", DEFAULT_SCALE, SEED, 1))
    res["model"] = model
    # 2. whole process ----------------------------------------------------------------------------
    print("whole processes …", file=sys.stderr)
    cli = ["run", "hangzhou", "--seed", str(SEED)]
    proc = {k: [] for k in ("old", "numpy", "cold", "warm", "default")}
    for _ in range(R):
        proc["old"].append(time_process(old, warm_cache, work, cli))
        proc["default"].append(time_process(user, warm_cache, work, cli))
        proc["numpy"].append(time_process(ref, warm_cache, work, cli))
        cold = cold_cache()
        proc["cold"].append(time_process(new, cold, work, cli))
        shutil.rmtree(cold, ignore_errors=True)
        proc["warm"].append(time_process(new, warm_cache, work, cli))
    res["process"] = proc
    # 3. screening-scale runs per second ----------------------------------------------------------
    print("screening-scale throughput …", file=sys.stderr)
    screening = {}
    for workers in (1, 2):
        for name, engine in (("old", old), ("numpy", ref), ("warm", new)):
            # the slower engines get fewer runs (the rate is what counts)
            n = (args.screening_runs if name == "warm" else max(3, args.screening_runs // 3)) * workers
            screening[(name, workers)] = run_child(engine, warm_cache, "screening", n, workers, SEED)
    res["screening"] = {f"{k[0]}/{k[1]}": v for k, v in screening.items()}
    # 4. full scale -------------------------------------------------------------------------------
    print("full scale …", file=sys.stderr)
    # kernels that only tables above GroupRanks.SORT_BELOW rows call are first compiled at full
    # scale: a few full-scale quarters put them in the warm cache, as a user's earlier run would
    run_child(new, warm_cache, "model", 1.0, SEED, 0, FULL_WARMUP_QUARTERS)
    full = {"warm": run_child(new, warm_cache, "model", 1.0, SEED, 0)}
    if not args.quick:
        full["old"] = run_child(old, warm_cache, "model", 1.0, SEED, 0)
    res["full"] = full
    # 6. claims -----------------------------------------------------------------------------------
    if args.claims:
        print(f"claims ({args.claims}; long) …", file=sys.stderr)
        cmd = ["claims", "--json", "--out", "claims.duckdb"] + (["--quick"] if args.claims == "quick" else [])
        claims = {"suite": args.claims}
        for name, engine in (("warm", new), ("numpy", ref)):
            claims[name] = time_process(engine, warm_cache, work, cmd)
        res["claims"] = claims
    res["load_after"] = load_average()
    res["total_s"] = time.perf_counter() - t_start
    return res


def _git(args: list[str]) -> str:
    out = subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)
    return out.stdout.strip()


def report(res: dict) -> str:
    import numpy as np

    R = res["repeats"]
    m, p, s = res["model"], res["process"], res["screening"]
    model_s = {k: [r["model_s"] for r in v] for k, v in m.items()}
    tables_s = {k: [r["tables_s"] for r in v] for k, v in m.items()}
    floor = [r["floor_s"] for r in m["warm"]]
    lines = [
        f"# Throughput: this commit ({res['commit']}) against {OLD_COMMIT}, in one run",
        "",
        f"{dt.date.today().isoformat()}; {platform.processor() or platform.machine()}, {os.cpu_count()} core(s), "
        f"Python {platform.python_version()}, NumPy {np.__version__}; hangzhou preset, seed {SEED}, 96 quarters. "
        f"1-minute load average before / after: {res['load_before']:.2f} / {res['load_after']:.2f} "
        "(2 cores: above ~1 other work competed). Fresh process per measurement, engines interleaved, "
        f"{R} repeats: median (fastest in parentheses).",
        "",
        f"Engines: **{OLD_COMMIT}** (installed by this script into a temporary virtual environment), "
        "**NumPy reference** (this commit, `HARDTECH_ENGINE=numpy`), **compiled** (this commit's default, "
        "Numba kernels) with a cold compile cache (empty `NUMBA_CACHE_DIR`) and a warm one.",
        "",
        "| measure | " + OLD_COMMIT + " | NumPy reference | compiled, cold cache | compiled, warm cache "
        f"| warm vs {OLD_COMMIT} | warm vs NumPy reference |",
        "|---|---|---|---|---|---|---|",
    ]

    def row(label: str, values: dict[str, list[float]], target: float | None = None) -> None:
        med = {k: _med(v) for k, v in values.items()}
        cells = [f"{_fmt_s(med[k])} ({_fmt_s(min(values[k]))})" for k in ("old", "numpy", "cold", "warm")]
        r_old, r_ref = med["old"] / med["warm"], med["numpy"] / med["warm"]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | **{r_old:.1f}×** | {r_ref:.1f}× |")

    row("model of a default run (scale 0.01: build + 96 quarters)", model_s)
    row("result tables of that run (the modules they need, pandas among them, imported first)", tables_s)
    row("`hardtech run hangzhou` as a whole process", p)
    if "default" in p:
        lines += [
            "",
            "`hardtech run hangzhou` as a user runs it (no `HARDTECH_ENGINE`: one replication runs the NumPy "
            f"reference): {_fmt_s(_med(p['default']))} ({_fmt_s(min(p['default']))}), "
            f"**{_med(p['old']) / _med(p['default']):.1f}×** faster than {OLD_COMMIT}.",
        ]
    sc = {k: v["runs_per_s"] for k, v in s.items()}
    lines += [
        "",
        f"Screening scale ({SCREENING_SCALE}), runs per second (a run = `hardtech.run` + the scalar outcomes "
        "claims read; after one warm-up run per worker; compiled = warm cache):",
        "",
        (
            f"| workers | {OLD_COMMIT} | NumPy reference | compiled | compiled vs {OLD_COMMIT} | compiled vs NumPy "
            "reference |"
        ),
        "|---|---|---|---|---|---|",
    ]
    for w in (1, 2):
        o, n, c = sc[f"old/{w}"], sc[f"numpy/{w}"], sc[f"warm/{w}"]
        lines.append(f"| {w} | {o:.2f} | {n:.2f} | {c:.2f} | **{c / o:.1f}×** | {c / n:.1f}× |")
    full = res["full"]
    fw = full["warm"]
    lines += [
        "",
        "Full scale (1:1), the model (build + 96 quarters + result tables), one run; compiled: warm cache, "
        f"warmed at this scale by {FULL_WARMUP_QUARTERS} untimed quarters:",
        "",
    ]
    lines.append(
        f"- compiled: **{fw['model_s'] + fw['tables_s']:.1f} s**, peak memory **{fw['peak_mb'] / 1024:.2f} GB** "
        f"({fw['talent_end']:,} talent agents and {fw['firms_end']:,} firms at the end)"
    )
    if "old" in full:
        fo = full["old"]
        lines.append(
            f"- {OLD_COMMIT}: {fo['model_s'] + fo['tables_s']:.1f} s, {fo['peak_mb'] / 1024:.2f} GB "
            f"({(fo['model_s'] + fo['tables_s']) / (fw['model_s'] + fw['tables_s']):.1f}× the compiled time)"
        )
    w0 = m["warm"][0]
    lines += [
        "",
        "Memory-bandwidth floor of the default run (compiled, warm): the agent state "
        f"(mean {w0['state_mb_mean']:.1f} MB over the quarters) read once per quarter at the NumPy copy "
        f"bandwidth measured in the same process ({_med([r['copy_gb_s'] for r in m['warm']]):.1f} GB/s) takes "
        f"{_fmt_s(_med(floor))}; the model takes {_fmt_s(_med(model_s['warm']))}: "
        f"**{_med(model_s['warm']) / _med(floor):.1f}× the floor**.",
    ]
    phases = m["warm"][0]["phase_s"]
    lines += [
        "",
        "Compiled engine, time by phase (first warm run): "
        + ", ".join(f"{k} {_fmt_s(v)}" for k, v in sorted(phases.items(), key=lambda kv: -kv[1])),
    ]
    if "claims" in res:
        c = res["claims"]
        what = (
            "the full `hardtech claims` (20 paired replications, 64 Sobol samples"
            if c["suite"] == "full"
            else "`hardtech claims --quick` (screening: scale 0.002, 3 paired replications, 8 Sobol samples"
        )
        lines += [
            "",
            f"Claims, {what}, 2 workers; this commit's suite, which 346a798 did not have): compiled "
            f"**{c['warm'] / 60:.1f} min**, NumPy reference {c['numpy'] / 60:.1f} min: "
            f"**{c['numpy'] / c['warm']:.1f}× shorter**.",
        ]
    ratio = {
        "model": _med(model_s["old"]) / _med(model_s["warm"]),
        "process": _med(p["old"]) / _med(p.get("default", p["warm"])),
        "screening": min(sc[f"warm/{w}"] / sc[f"old/{w}"] for w in (1, 2)),
        "floor": _med(model_s["warm"]) / _med(floor),
    }
    full_s = fw["model_s"] + fw["tables_s"]
    checks = [
        (
            f"model of a default run ≥ {TARGETS['model']:g}× faster than {OLD_COMMIT}",
            ratio["model"] >= TARGETS["model"],
            f"{ratio['model']:.1f}×",
        ),
        (
            f"`hardtech run hangzhou` ≥ {TARGETS['process']:g}× faster (as a user runs it)",
            ratio["process"] >= TARGETS["process"],
            f"{ratio['process']:.1f}×",
        ),
        (
            f"screening-scale runs per second ≥ {TARGETS['screening']:g}× (1 and 2 workers)",
            ratio["screening"] >= TARGETS["screening"],
            f"{ratio['screening']:.1f}× (the smaller)",
        ),
        (
            f"full scale under {TARGETS['full_s']:g} s and {TARGETS['full_gb']:g} GB",
            full_s < TARGETS["full_s"] and fw["peak_mb"] / 1024 < TARGETS["full_gb"],
            f"{full_s:.1f} s, {fw['peak_mb'] / 1024:.2f} GB",
        ),
        (
            f"default run within {TARGETS['floor']:g}× of the memory-bandwidth floor",
            ratio["floor"] <= TARGETS["floor"],
            f"{ratio['floor']:.1f}×",
        ),
    ]
    if "claims" in res:
        cr = res["claims"]["numpy"] / res["claims"]["warm"]
        suite = "full claims" if res["claims"]["suite"] == "full" else "claims --quick (the full suite not timed)"
        checks.append(
            (
                f"{suite} ≥ {TARGETS['claims']:g}× shorter than on the NumPy reference",
                cr >= TARGETS["claims"],
                f"{cr:.1f}×",
            )
        )
    lines += ["", "Targets (issue #14):", ""]
    lines += [f"- {text}: **{'met' if ok else 'NOT met'}** ({value})" for text, ok, value in checks]
    lines += ["", f"_Total benchmark time {res['total_s'] / 60:.1f} min._", ""]
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--screening-runs", type=int, default=16, help="runs per worker on this commit's engines")
    ap.add_argument(
        "--claims", choices=("quick", "full"), help="also time `hardtech claims` (--quick, or the full suite: long)"
    )
    ap.add_argument("--quick", action="store_true", help="2 repeats, small batches, no old full-scale run")
    ap.add_argument("--out", type=Path, help="append the report to this Markdown file")
    ap.add_argument("--json", type=Path, help="also write the raw figures as JSON")
    args = ap.parse_args()
    if args.quick:
        args.repeats, args.screening_runs = min(args.repeats, 2), min(args.screening_runs, 4)
    res = measure(args)
    if args.json:
        args.json.write_text(json.dumps(res, indent=1))
    text = report(res)
    print(text)
    if args.out:
        with args.out.open("a") as fh:
            fh.write("\n" + text)


if __name__ == "__main__":
    main()
