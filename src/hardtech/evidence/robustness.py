"""Robustness: whether each claim holds across the plausible values of the assumptions.

A verdict at one parameter point says little when most inputs are guesses.
This module maps each declared claim (``registry.toml``) across the
plausible ranges of the scenario's ``[ASSUMPTION]`` parameters (declared in
:mod:`hardtech.scenario.schema`), in two stages:

1. **Screening** (Morris elementary effects, SALib): ``r`` trajectories over
   all screened parameters, ``r·(k + 1)`` points. At each point every claim's
   declared arms run over ``morris_replications`` paired replications (common
   random numbers: the same seed at every point and in every arm); the
   outputs are each claim's effect statistic and the key outcomes (world and
   focal-region dragons and survival, and the history targets when the
   scenario covers 2012–2025). μ* ranks the parameters per output; the
   ``keep`` parameters with the largest μ* (relative to the largest of their
   output) over all outputs go on; among the tops of different outputs (all
   at 1), those with the larger mean relative μ* over every output first.
2. **Mapping** (Latin hypercube over the kept parameters, the others at the
   scenario's values): at each of ``points`` points every claim's arms run
   over ``replications`` paired replications, and the claim's effect gets a
   paired bootstrap interval (:func:`hardtech.evidence.claims.paired_interval`).
   A point **supports** the claim when the interval lies above zero (the
   declared sign: statistics are positive when the claim holds), is
   **contrary** when it lies below zero, and **unresolved** (within noise)
   otherwise. A point where one of the claim's runs stopped with an error is
   **failed**, counted apart (the four shares are over every point), and the
   Morris trajectories through such points are left out of the screening
   (:func:`failure_summary`; docs/robustness.md).

Per claim: the shares of supported / contrary / unresolved points with
Wilson 95% intervals, and the parameters that decide it — the kept
parameters ranked by the Spearman correlation of the point effects with the
parameter, with the supported share in four equal bins of its plausible
range. Per key outcome: which inputs move it most (Morris μ*, and Spearman
correlations on the hypercube).

A share counts as *screening* unless it rests on at least
:data:`FULL` (Morris r ≥ 6, ≥ 64 hypercube points × ≥ 4 paired replications).

Runs go through :func:`hardtech.evidence.ensembles.run_many` on any
:class:`concurrent.futures.Executor` (in-process, a local process pool or
Dask, see :mod:`hardtech.experiments.executors`). Every finished run's row is
written at once to the DuckDB store (table ``robustness_runs``, keyed by a
fingerprint of the model and of the code that measures a run, and the run id: see
:func:`code_fingerprint`), so an interrupted study resumes
where it stopped; the design points and the result go to ``robustness_points``
and ``robustness_results``.
"""

from __future__ import annotations

import concurrent.futures as cf
import datetime as dt
import hashlib
import json
import math
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

import hardtech
from hardtech.evidence.claims import arm_rows, paired_interval
from hardtech.evidence.ensembles import FAILED, run_many
from hardtech.evidence.registry import Claim, arm_statistic, declared_claims
from hardtech.experiments.designs import rng_for
from hardtech.runner import run_id_for
from hardtech.scenario import Scenario, load, to_toml
from hardtech.scenario.schema import ParamInfo, parameters

FULL = {"trajectories": 6, "points": 64, "replications": 4}
"""The least design a share needs not to be labelled 'screening' (issue #15)."""
QUICK = {"scale": 0.002, "years": 5, "trajectories": 2, "keep": 4, "points": 8, "replications": 2}
"""``--quick``: scale 0.002, the first five years, 2 trajectories, 4 kept parameters, 8 points × 2 replications."""
BINS = 4
_MORRIS_STREAM, _LHS_STREAM, _ANALYSIS_STREAM = 3, 4, 5  # spawn keys of the study seed (designs.py uses 0–2)
STATUSES = ("supported", "contrary", "unresolved")
FAILED_STATUS = "failed"
"""A point where one of a claim's runs stopped with an error (counted apart from the three)."""


class RobustnessError(ValueError):
    """Settings that cannot be used (one line naming the option)."""


# -- what is screened ---------------------------------------------------------------------------


def assumptions(scenario: Scenario, fixed: Sequence[str] = ()) -> list[ParamInfo]:
    """Every [ASSUMPTION] parameter of the scenario with a non-empty plausible range, except ``fixed`` paths."""
    out = []
    for p in parameters():
        if (
            p.tag == "ASSUMPTION"
            and "*" not in p.path
            and p.kind in ("number", "integer")
            and isinstance(p.plausible, list)
            and p.plausible[0] < p.plausible[1]
            and p.path not in fixed
        ):
            out.append(p)
    return out


def select_parameters(available: Sequence[ParamInfo], wanted: str | None) -> list[ParamInfo]:
    """The screened parameters: all, or those named by ``wanted``.

    ``wanted`` is a comma-separated list of paths or prefixes such as ``capital.``.
    """
    if not wanted:
        return list(available)
    chosen: dict[str, ParamInfo] = {}
    for item in (w.strip() for w in wanted.split(",") if w.strip()):
        hits = [p for p in available if p.path == item or (item.endswith(".") and p.path.startswith(item))]
        if not hits:
            shown = ", ".join(p.path for p in available[:8])
            raise RobustnessError(
                f"--params: {item!r} names no screened [ASSUMPTION] parameter; allowed: paths such as "
                f"{shown}, … or a block prefix such as 'capital.' (list them: hardtech robustness --list)"
            )
        chosen.update((p.path, p) for p in hits)
    return list(chosen.values())


def _value(p: ParamInfo, x: float) -> Any:
    """A design coordinate as the field's value (integers rounded, floats to 6 significant digits)."""
    if p.kind == "integer":
        return int(round(x))
    return float(f"{x:.6g}")


# -- settings and results --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """What a robustness study runs (see the module docstring)."""

    claims: tuple[str, ...]
    region: str
    parameters: tuple[str, ...]
    trajectories: int = FULL["trajectories"]
    levels: int = 4
    morris_replications: int = 1
    keep: int = 8
    points: int = FULL["points"]
    replications: int = FULL["replications"]
    seed: int = 0

    @property
    def screening(self) -> bool:
        """Fewer than the issue's design: shares are labelled 'screening'."""
        return (
            self.trajectories < FULL["trajectories"]
            or self.points < FULL["points"]
            or self.replications < FULL["replications"]
        )

    def check(self) -> None:
        """Refuse settings out of range (:class:`RobustnessError` naming the option)."""
        if self.trajectories < 1:
            raise RobustnessError(f"--trajectories: {self.trajectories} must be at least 1")
        if self.levels < 2 or self.levels % 2:
            raise RobustnessError(f"--levels: {self.levels} must be an even number ≥ 2")
        if self.morris_replications < 1:
            raise RobustnessError(f"--morris-replications: {self.morris_replications} must be at least 1")
        if self.keep < 1:
            raise RobustnessError(f"--keep: {self.keep} must be at least 1")
        if self.points < 2:
            raise RobustnessError(f"--samples: {self.points} must be at least 2")
        if self.replications < 2:
            raise RobustnessError(
                f"--replications: {self.replications} must be at least 2 (a point's effect needs an interval)"
            )
        if not self.parameters:
            raise RobustnessError("--params: no [ASSUMPTION] parameter left to screen")


# What a stored run row depends on besides the model (the model's version is part of every run's key
# and of the fingerprint): the code that builds a run's tables and measures them, and the data the
# measures read. Glob patterns relative to the package, as provenance.MODEL_SOURCES.
# tests/test_robustness.py checks this against the modules a process running the measures loads.
MEASURE_SOURCES = (
    "__init__.py",
    "_simd.py",  # which NumPy kernels run (set before NumPy is imported)
    "runner.py",
    "result.py",
    "analysis/__init__.py",
    "analysis/outcomes.py",
    "evidence/__init__.py",
    "evidence/ensembles.py",
    "evidence/history.py",
    "data/**/*",
)
# Loaded by such a process but computing nothing in a row: the model's version (hashed through
# model_version) and the results store's reading and writing.
NOT_MEASURING = ("provenance.py", "store/")  # path prefixes


def code_fingerprint(root: Path | None = None) -> str:
    """A hash of the code and data a run's stored row depends on (a stored row is reused only under the same one).

    The model's version (its normalised source, :func:`hardtech.provenance.source_hash`) and the
    exact bytes of :data:`MEASURE_SOURCES`: editing the reports, the claims' statistics or the CLI
    keeps the stored runs of a study usable; editing the model or a measure does not.
    """
    from hardtech.provenance import source_hash

    root = Path(hardtech.__file__).resolve().parent if root is None else root
    digest = hashlib.sha256(f"{hardtech.__version__}+{source_hash(root)}".encode())
    for path in measure_files(root):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def measure_files(root: Path) -> list[Path]:
    """The files of :data:`MEASURE_SOURCES` under ``root``, in a fixed order."""
    from hardtech.provenance import package_files

    return package_files(MEASURE_SOURCES, root)


def wilson(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a share k / n."""
    if n == 0:
        return float("nan"), float("nan")
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)


# -- the store ------------------------------------------------------------------------------------


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON data: NumPy scalars and arrays unwrapped, NaN and ±∞ as None (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(value: Any) -> str:
    return json.dumps(jsonable(value), allow_nan=False, default=str)


class RobustnessStore:
    """The robustness tables in a :class:`~hardtech.store.ResultsStore` file; the coordinator is the only writer.

    Opening checks the path and waits for another process's lock as the store does (``HARDTECH_LOCK_WAIT``).
    """

    def __init__(self, path: str | Path, code: str, on_wait: Callable[[str], None] | None = None) -> None:
        from hardtech.store import ResultsStore

        self.path, self.code = Path(path), code
        self.results = ResultsStore(self.path, wait=None, on_wait=on_wait)
        self.con = self.results.con
        self.lock = threading.Lock()
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS robustness_runs (code VARCHAR, kind VARCHAR, key VARCHAR, "
            "row VARCHAR, PRIMARY KEY (code, kind, key))"
        )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS robustness_points (study_id VARCHAR, stage VARCHAR, point INTEGER, "
            "parameters VARCHAR, outputs VARCHAR, PRIMARY KEY (study_id, stage, point))"
        )
        self.con.execute(
            "CREATE TABLE IF NOT EXISTS robustness_results (study_id VARCHAR PRIMARY KEY, created_at VARCHAR, "
            "code VARCHAR, scenario_toml VARCHAR, settings VARCHAR, result VARCHAR)"
        )

    def __enter__(self) -> RobustnessStore:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def close(self) -> None:
        """Close the underlying results store."""
        self.results.close()

    def rows(self, kind: str) -> dict[str, dict]:
        """The cached run rows of ``kind`` for this code version (key → row)."""
        found = self.con.execute(
            "SELECT key, row FROM robustness_runs WHERE code = ? AND kind = ?", [self.code, kind]
        ).fetchall()
        return {key: json.loads(row) for key, row in found}

    def save_row(self, kind: str, key: str, row: Mapping[str, Any]) -> None:
        """Store one run row of ``kind`` under ``key`` (kept if already there)."""
        text = _dumps(row)
        with self.lock:
            self.con.execute(
                "INSERT INTO robustness_runs VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING", [self.code, kind, key, text]
            )

    def save_points(
        self, study_id: str, stage: str, points: Sequence[Mapping[str, Any]], outputs: Sequence[Mapping[str, Any]]
    ) -> None:
        """Replace a study stage's design points with ``points`` and their ``outputs``, in one transaction."""
        with self.lock:
            self.con.execute("BEGIN TRANSACTION")
            self.con.execute("DELETE FROM robustness_points WHERE study_id = ? AND stage = ?", [study_id, stage])
            self.con.executemany(
                "INSERT INTO robustness_points VALUES (?, ?, ?, ?, ?)",
                [
                    [study_id, stage, i, _dumps(p), _dumps(o)]
                    for i, (p, o) in enumerate(zip(points, outputs, strict=True))
                ],
            )
            self.con.execute("COMMIT")

    def save_result(self, study_id: str, scenario: Scenario, settings: Settings, result: Mapping[str, Any]) -> None:
        """Store (or replace) a study's finished result with its scenario and settings."""
        with self.lock:
            self.con.execute(
                "INSERT OR REPLACE INTO robustness_results VALUES (?, ?, ?, ?, ?, ?)",
                [
                    study_id,
                    dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                    self.code,
                    to_toml(scenario),
                    _dumps(asdict(settings)),
                    _dumps(result),
                ],
            )

    def result(self, study_id: str) -> dict[str, Any] | None:
        """A study's stored result, or None if it has none yet."""
        found = self.con.execute("SELECT result FROM robustness_results WHERE study_id = ?", [study_id]).fetchall()
        return json.loads(found[0][0]) if found else None


class StoredCache(dict):
    """A run cache (run key → row) that writes every new row to the store as it arrives.

    It holds every row the store has for this code; ``used`` and ``added`` say which this study read
    and which it ran (a store may hold other studies' runs too).
    """

    def __init__(self, store: RobustnessStore, kind: str) -> None:
        super().__init__(store.rows(kind))
        self.store, self.kind = store, kind
        self.used: set[str] = set()
        self.added: set[str] = set()

    def __getitem__(self, key: str) -> dict:
        self.used.add(key)
        return super().__getitem__(key)

    def __setitem__(self, key: str, row: dict) -> None:
        super().__setitem__(key, row)
        self.added.add(key)
        self.store.save_row(self.kind, key, row)


def study_id(scenario: Scenario, settings: Settings, code: str) -> str:
    """The id of a study: the scenario's name and a digest of its scenario, settings and code version."""
    text = to_toml(scenario) + json.dumps(asdict(settings), sort_keys=True) + code
    return f"robustness-{scenario.name}-" + hashlib.sha256(text.encode()).hexdigest()[:12]


# -- running the points -------------------------------------------------------------------------


def _history_values(job: tuple[Scenario, int]) -> dict[str, Any]:
    """One run's history-target values (module level: pickled to worker processes)."""
    from hardtech.evidence.history import history_row

    scenario, replication = job
    return {"replication": replication, **history_row(hardtech.run(scenario, replication=replication), timeline=False)}


def history_targets(scenario: Scenario) -> list[tuple[str, str]]:
    """(id, name) of the history targets the scenario can be compared on (none if it cannot)."""
    from hardtech.evidence.history import check_scenario, load_targets

    targets = load_targets()[1]
    try:
        check_scenario(scenario, targets)
    except ValueError:
        return []
    return [(t.id, t.name) for t in targets]


@dataclass
class Runner:
    """Runs the claims' arms and the key outcomes at design points, through one executor and two stored caches.

    A run that stops with an error does not stop the study: it is kept as a failed row
    (:func:`hardtech.evidence.ensembles.run_many`), listed in ``failed_runs`` (run id → scenario,
    replication, error), and a point's claim whose runs include a failed one has the status
    ``failed``; a key outcome of a point whose base runs failed is NaN.
    """

    claims: Sequence[Claim]
    region: str
    executor: cf.Executor | None
    parallelism: int
    detail: dict
    history: dict
    history_ids: Sequence[str]
    on_done: Callable[[], None] | None = None
    seed: int = 0
    failed_runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def key_outcomes(self) -> list[str]:
        """The outcomes recorded at every point: dragons and survival (world and region) and the history targets."""
        return ["dragons", f"dragons_{self.region}", "survival", f"survival_{self.region}", *self.history_ids]

    def _record_failure(self, job: tuple, row: Mapping[str, Any]) -> None:
        scenario, replication = job[0], job[1]
        self.failed_runs[run_id_for(scenario, replication)] = {
            "scenario": scenario,
            "replication": replication,
            "error": row[FAILED],
        }

    def evaluate(self, scenarios: Sequence[Scenario], replications: int) -> list[dict[str, Any]]:
        """Per point: each claim's effect interval and each key outcome's mean over ``replications``."""
        plain: list[tuple[Scenario, int]] = []
        owner: list[tuple[int, str]] = []  # per plain job: its point and the claim it is for ("" for the base)
        for i, sc in enumerate(scenarios):
            plain += [(sc, k) for k in range(replications)]
            owner += [(i, "")] * replications
            for claim in self.claims:
                n = replications * claim.replication_factor
                for arm, over in claim.arms.items():
                    if arm not in claim.inject:
                        plain += [(load(sc, dict(over)), k) for k in range(n)]
                        owner += [(i, claim.id)] * n
        # one batch for every run that needs no other run (each distinct run once)
        base_rows = run_many(
            plain,
            executor=self.executor,
            on_done=self.on_done,
            cache=self.detail,
            detail=True,
            on_failed=self._record_failure,
        )
        broken = {who for who, bad in zip(owner, _failed_mask(base_rows), strict=True) if bad}
        if self.history_ids:
            hist = [(sc, k) for sc in scenarios for k in range(replications)]
            hist_rows = run_many(
                hist,
                executor=self.executor,
                on_done=self.on_done,
                cache=self.history,
                measure=_history_values,
                on_failed=self._record_failure,
            )
            hist_bad = _failed_mask(hist_rows)
        index = 0
        outputs: list[dict[str, Any]] = []
        for i, _ in enumerate(scenarios):
            rows = base_rows.iloc[index : index + replications]
            base_failed = (i, "") in broken
            values = {
                name: _mean(rows[name]) if name in rows and not base_failed else float("nan")
                for name in self.key_outcomes()
                if name not in self.history_ids
            }
            if self.history_ids:
                part = slice(i * replications, (i + 1) * replications)
                h, h_failed = hist_rows.iloc[part], bool(hist_bad[part].any())
                values.update({t: _mean(h[t]) if t in h and not h_failed else float("nan") for t in self.history_ids})
            outputs.append({"outcomes": values, "effects": {}})
            if base_failed or (self.history_ids and h_failed):
                outputs[-1]["failed"] = True  # the key outcomes of this point are missing
            index += replications + sum(
                replications * c.replication_factor * sum(a not in c.inject for a in c.arms) for c in self.claims
            )

        # the claims' statistics; arms that inject another arm's recycled money run here (points in parallel)
        def effects(i: int, sc: Scenario) -> dict[str, dict[str, Any]]:
            out = {}
            for claim in self.claims:
                if (i, claim.id) in broken:  # no statistic, and no base run's money path to inject
                    out[claim.id] = _failed_effect()
                    continue
                n = replications * claim.replication_factor
                rows = arm_rows(
                    claim,
                    sc,
                    {"declared": {}},
                    n,
                    executor=self.executor,
                    on_done=self.on_done,
                    cache=self.detail,
                    on_failed=self._record_failure,
                )["declared"]
                if any(_failed_mask(frame).any() for frame in rows.values()):
                    out[claim.id] = _failed_effect()
                    continue
                pairs, compute = arm_statistic(claim.statistic, claim.metric)
                effect = paired_interval({p: rows[p[0]][p[1]].to_numpy(float) for p in pairs}, compute, self.seed)
                out[claim.id] = {
                    "effect": effect.point,
                    "lo": effect.lo,
                    "hi": effect.hi,
                    "se": effect.se,
                    "n": effect.n,
                    "method": effect.method,
                    "status": status(effect.lo, effect.hi, effect.n),
                }
            return out

        threads = self.parallelism if any(c.inject for c in self.claims) and self.executor is not None else 1
        if threads > 1:
            with cf.ThreadPoolExecutor(max_workers=threads) as pool:
                found = list(pool.map(effects, range(len(scenarios)), scenarios))
        else:
            found = [effects(i, sc) for i, sc in enumerate(scenarios)]
        for out, eff in zip(outputs, found, strict=True):
            out["effects"] = eff
        return outputs


def _failed_mask(rows: pd.DataFrame) -> np.ndarray:
    """Per row: did that run stop with an error (see :func:`hardtech.evidence.ensembles.failed`)."""
    if FAILED not in rows:
        return np.zeros(len(rows), bool)
    return rows[FAILED].map(lambda v: isinstance(v, str) and bool(v)).to_numpy(bool)


def _failed_effect() -> dict[str, Any]:
    """A claim's entry at a point where one of its runs stopped with an error."""
    nan = float("nan")
    return {"effect": nan, "lo": nan, "hi": nan, "se": nan, "n": 0, "method": "", "status": FAILED_STATUS}


def _mean(values: pd.Series) -> float:
    """Mean of the finite values (NaN when there are none, without a warning)."""
    v = values.to_numpy(float)
    v = v[np.isfinite(v)]
    return float(v.mean()) if v.size else float("nan")


def status(lo: float, hi: float, n: int) -> str:
    """Supported (interval above 0), contrary (below 0) or unresolved (it covers 0, or one replication)."""
    if n < 2 or not (np.isfinite(lo) and np.isfinite(hi)):
        return "unresolved"
    if lo > 0:
        return "supported"
    if hi < 0:
        return "contrary"
    return "unresolved"


def planned_runs(claims: Sequence[Claim], points: int, replications: int, history: bool) -> int:
    """Runs a stage needs at most (arms shared between claims and stored runs are done once)."""
    per_point = replications * (1 + history) + sum(replications * c.replication_factor * len(c.arms) for c in claims)
    return points * per_point


# -- the two stages ---------------------------------------------------------------------------


def _problem(params: Sequence[ParamInfo]) -> dict[str, Any]:
    return {"num_vars": len(params), "names": [p.path for p in params], "bounds": [list(p.plausible) for p in params]}


def _scenarios(
    base: Scenario, params: Sequence[ParamInfo], x: np.ndarray
) -> tuple[list[dict[str, Any]], list[Scenario]]:
    values = [{p.path: _value(p, xi) for p, xi in zip(params, row, strict=True)} for row in x]
    return values, [load(base, v) for v in values]


def morris_design(params: Sequence[ParamInfo], settings: Settings) -> np.ndarray:
    """The Morris screening design: points in the unit cube, one row per point (seeded)."""
    from SALib.sample import morris

    rng = rng_for(settings.seed, _MORRIS_STREAM)
    return np.asarray(
        morris.sample(_problem(params), settings.trajectories, num_levels=settings.levels, seed=rng), float
    )


def lhs_design(params: Sequence[ParamInfo], settings: Settings) -> np.ndarray:
    """The Latin hypercube design: points in the unit cube, one row per point (seeded)."""
    from SALib.sample import latin

    rng = rng_for(settings.seed, _LHS_STREAM)
    return np.asarray(latin.sample(_problem(params), settings.points, seed=rng), float)


def morris_effects(
    params: Sequence[ParamInfo],
    x: np.ndarray,
    y: np.ndarray,
    settings: Settings,
    failed: np.ndarray | None = None,
) -> list[dict[str, Any]] | None:
    """μ, μ*, its interval half-width and σ per parameter.

    ``failed`` marks the points where a run stopped with an error: the trajectories through
    them are left out (an elementary effect needs both ends). None when no trajectory is left,
    or the output is not finite everywhere or is constant on the rest.
    """
    from SALib.analyze import morris

    x, y = complete_trajectories(x, y, failed, len(params))
    if not len(y) or not np.all(np.isfinite(y)) or np.ptp(y) == 0:
        return None
    seed = int(np.random.SeedSequence(settings.seed, spawn_key=(_ANALYSIS_STREAM,)).generate_state(1)[0]) + 1
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        res = morris.analyze(
            _problem(params),
            x,
            y,
            num_resamples=1000,
            conf_level=0.95,
            num_levels=settings.levels,
            print_to_console=False,
            seed=seed,
        )
    return [
        {
            "parameter": p.path,
            "mu": _finite(res["mu"][i]),
            "mu_star": _finite(res["mu_star"][i]),
            "mu_star_conf": _finite(res["mu_star_conf"][i]),
            "sigma": _finite(res["sigma"][i]),
        }
        for i, p in enumerate(params)
    ]


def complete_trajectories(
    x: np.ndarray, y: np.ndarray, failed: np.ndarray | None, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the Morris trajectories (``k + 1`` points each) with no failed point."""
    if failed is None or not np.any(failed):
        return x, y
    keep = np.repeat(~broken_trajectories(failed, k), k + 1)
    return x[keep], y[keep]


def broken_trajectories(failed: np.ndarray, k: int) -> np.ndarray:
    """Per Morris trajectory (``k + 1`` points each): does it pass through a failed point."""
    return np.asarray(np.asarray(failed, bool).reshape(-1, k + 1).any(axis=1))


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def keep_parameters(
    screen: Mapping[str, list[dict[str, Any]] | None], params: Sequence[ParamInfo], keep: int
) -> list[dict[str, Any]]:
    """The ``keep`` parameters with the largest μ* relative to the largest μ* of the same output, over all outputs.

    Every output's most influential parameter scores 1, so with more outputs than ``keep`` the
    score ties; ties go to the parameter with the larger mean relative μ* over all the screened
    outputs (the one that matters to more of them), and only then to the name.
    """
    score = {p.path: 0.0 for p in params}
    breadth = {p.path: 0.0 for p in params}
    top_of = {p.path: "" for p in params}
    screened = 0
    for output, rows in screen.items():
        if not rows:
            continue
        largest = max((r["mu_star"] or 0.0) for r in rows)
        if largest <= 0:
            continue
        screened += 1
        for r in rows:
            s = (r["mu_star"] or 0.0) / largest
            breadth[r["parameter"]] += s
            if s > score[r["parameter"]]:
                score[r["parameter"]], top_of[r["parameter"]] = s, output
    ranked = sorted(params, key=lambda p: (-score[p.path], -breadth[p.path], p.path))
    return [
        {
            "parameter": p.path,
            "score": score[p.path],
            "breadth": breadth[p.path] / screened if screened else 0.0,
            "output": top_of[p.path],
            "plausible": list(p.plausible),
            "unit": p.unit,
            "provenance": p.provenance,
        }
        for p in ranked[:keep]
    ]


def _bins(x: np.ndarray, ok: np.ndarray, against: np.ndarray, lo: float, hi: float) -> list[dict[str, Any]]:
    """Shares supported (``ok``) and contrary (``against``) in BINS equal bins of [lo, hi] (the last bin closed).

    ``ci`` is the supported share's Wilson interval, ``contrary_ci`` the contrary share's.
    """
    edges = np.linspace(lo, hi, BINS + 1)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, BINS - 1)
    out = []
    for b in range(BINS):
        inside = which == b
        n, k, c = int(inside.sum()), int(ok[inside].sum()), int(against[inside].sum())
        out.append(
            {
                "lo": float(edges[b]),
                "hi": float(edges[b + 1]),
                "n": n,
                "supported": k / n if n else float("nan"),
                "ci": list(wilson(k, n)),
                "contrary": c / n if n else float("nan"),
                "contrary_ci": list(wilson(c, n)),
            }
        )
    return out


def _fails_when(path: str, bins: Sequence[Mapping[str, Any]]) -> str:
    """'fails when X < a' / '> b' when the supported share is below one half at one end of the range only."""
    shares = [b["supported"] for b in bins]
    if any(not math.isfinite(s) for s in shares):
        return ""
    low = [s < 0.5 for s in shares]
    name = path.split(".")[-1]
    if low[0] and not low[-1]:
        cut = next(i for i, v in enumerate(low) if not v)
        if all(not v for v in low[cut:]):
            return f"fails when {name} < {bins[cut]['lo']:.3g}"
    if low[-1] and not low[0]:
        cut = max(i for i, v in enumerate(low) if not v)
        if all(not v for v in low[: cut + 1]):
            return f"fails when {name} > {bins[cut]['hi']:.3g}"
    return ""


def _spearman(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    good = np.isfinite(x) & np.isfinite(y)
    if good.sum() < 3 or np.ptp(x[good]) == 0 or np.ptp(y[good]) == 0:
        return float("nan"), float("nan")
    rho, p = stats.spearmanr(x[good], y[good])
    return float(rho), float(p)


def claim_summary(
    claim: Claim,
    kept: Sequence[ParamInfo],
    values: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
    settings: Settings,
) -> dict[str, Any]:
    """Shares of supported / contrary / unresolved points and the parameters that decide them."""
    effects = [o["effects"][claim.id] for o in outputs]
    n = len(effects)
    counts = {s: sum(e["status"] == s for e in effects) for s in (*STATUSES, FAILED_STATUS)}
    shares = {  # over every point, failed ones included: a point where the model stops is no evidence either way
        s: {"share": counts[s] / n if n else float("nan"), "ci": list(wilson(counts[s], n)), "points": counts[s]}
        for s in counts
    }
    y = np.array([e["effect"] for e in effects], float)
    ok = np.array([e["status"] == "supported" for e in effects])
    against = np.array([e["status"] == "contrary" for e in effects])
    deciding: list[dict[str, Any]] = []
    for p in kept:
        x = np.array([v[p.path] for v in values], float)
        rho, pval = _spearman(x, y)
        bins = _bins(x, ok, against, *p.plausible)
        deciding.append(
            {
                "parameter": p.path,
                "spearman": rho,
                "p": pval,
                "decides": bool(pval < 0.05),
                "bins": bins,
                "fails_when": _fails_when(p.path, bins),
                "unit": p.unit,
            }
        )
    deciding.sort(key=lambda d: -abs(d["spearman"]) if math.isfinite(d["spearman"]) else 0.0)
    return {
        "claim": claim.id,
        "short": claim.short,
        "statistic": claim.statistic_text,
        "points": n,
        "replications": settings.replications * claim.replication_factor,
        **shares,
        "label": "screening" if settings.screening else "robustness",
        "deciding": deciding,
        "effect_median": float(np.nanmedian(y)) if np.isfinite(y).any() else float("nan"),
    }


def outcome_summary(
    name: str,
    label: str,
    screen: list[dict[str, Any]] | None,
    kept: Sequence[ParamInfo],
    values: Sequence[Mapping[str, Any]],
    outputs: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """Which inputs move a key outcome most: Morris μ* over every screened parameter, Spearman ρ on the hypercube."""
    y = np.array([o["outcomes"].get(name, float("nan")) for o in outputs], float)
    morris_top = sorted((r for r in (screen or []) if r["mu_star"] is not None), key=lambda r: -r["mu_star"])[:5]
    lhs: list[dict[str, Any]] = []
    for p in kept:
        rho, pval = _spearman(np.array([v[p.path] for v in values], float), y)
        lhs.append({"parameter": p.path, "spearman": rho, "p": pval})
    lhs.sort(key=lambda d: -abs(d["spearman"]) if math.isfinite(d["spearman"]) else 0.0)
    finite = y[np.isfinite(y)]
    return {
        "outcome": name,
        "label": label,
        "morris_top": morris_top,
        "lhs": lhs,
        "mean": float(finite.mean()) if finite.size else float("nan"),
        "p10": float(np.quantile(finite, 0.1)) if finite.size else float("nan"),
        "p90": float(np.quantile(finite, 0.9)) if finite.size else float("nan"),
    }


def run_robustness(
    scenario: Scenario,
    settings: Settings,
    store: RobustnessStore,
    executor: cf.Executor | None = None,
    parallelism: int = 1,
    on_done: Callable[[], None] | None = None,
    log: Callable[[str], None] | None = None,
    failed_dir: Path | None = None,
) -> dict[str, Any]:
    """Screen, keep, map; store the points and the result; return the result (see the module docstring).

    Runs that stop with an error are counted in ``result["failed"]``; with ``failed_dir`` each one's
    scenario is written there as ``<run id>.toml`` so that it can be run and reported alone.
    """
    settings.check()
    say = log or (lambda _msg: None)
    by_id = {c.id: c for c in declared_claims(scenario, settings.region)}
    claims = [by_id[c] for c in settings.claims]
    available = {p.path: p for p in parameters()}
    params = [available[path] for path in settings.parameters]
    hist = history_targets(scenario)
    sid = study_id(scenario, settings, store.code)
    detail, history = StoredCache(store, "detail"), StoredCache(store, "history")
    runner = Runner(
        claims, settings.region, executor, parallelism, detail, history, [t for t, _ in hist], on_done, settings.seed
    )

    # 1. screening
    x_m = morris_design(params, settings)
    values_m, scen_m = _scenarios(scenario, params, x_m)
    say(
        f"screening: Morris, {settings.trajectories} trajectories × {len(params) + 1} = {len(scen_m)} points, "
        f"{settings.morris_replications} replication(s) each"
    )
    out_m = runner.evaluate(scen_m, settings.morris_replications)
    store.save_points(sid, "morris", values_m, out_m)
    screen: dict[str, list[dict[str, Any]] | None] = {}
    dropped: dict[str, int] = {}  # output → Morris trajectories left out (they pass through a failed run)
    for c in claims:
        gone = np.array([o["effects"][c.id]["status"] == FAILED_STATUS for o in out_m])
        screen[f"claim:{c.id}"] = morris_effects(
            params, x_m, np.array([o["effects"][c.id]["effect"] for o in out_m]), settings, gone
        )
        dropped[f"claim:{c.id}"] = int(broken_trajectories(gone, len(params)).sum())
    gone = np.array([bool(o.get("failed")) for o in out_m])
    for name in runner.key_outcomes():
        screen[f"outcome:{name}"] = morris_effects(
            params, x_m, np.array([o["outcomes"][name] for o in out_m]), settings, gone
        )
        dropped[f"outcome:{name}"] = int(broken_trajectories(gone, len(params)).sum())
    kept_rows = keep_parameters(screen, params, settings.keep)
    kept = [available[r["parameter"]] for r in kept_rows]

    # 2. mapping
    x_l = lhs_design(kept, settings)
    values_l, scen_l = _scenarios(scenario, kept, x_l)
    say(
        f"mapping: Latin hypercube over {len(kept)} parameters, {len(scen_l)} points × {settings.replications} "
        "paired replications"
    )
    out_l = runner.evaluate(scen_l, settings.replications)
    store.save_points(sid, "lhs", values_l, out_l)

    names = dict(hist)
    result = {
        "study_id": sid,
        "scenario": scenario.name,
        "region": settings.region,
        "scale": scenario.scale,
        "years": [scenario.time.start_year, scenario.time.end_year],
        "seed": scenario.seed,
        "label": "screening" if settings.screening else "robustness",
        "screening": settings.screening,
        "full_design": dict(FULL),
        "settings": asdict(settings),
        "code": store.code,
        "morris": {
            "trajectories": settings.trajectories,
            "levels": settings.levels,
            "points": len(scen_m),
            "replications": settings.morris_replications,
            "parameters": len(params),
            "outputs": {
                k: sorted((r for r in v if r["mu_star"] is not None), key=lambda r: -r["mu_star"])[:8] if v else None
                for k, v in screen.items()
            },
        },
        "kept": kept_rows,
        "lhs": {"points": len(scen_l), "replications": settings.replications},
        "claims": [claim_summary(c, kept, values_l, out_l, settings) for c in claims],
        "outcomes": [
            outcome_summary(name, names.get(name, name), screen[f"outcome:{name}"], kept, values_l, out_l)
            for name in runner.key_outcomes()
        ],
        "history": "" if hist else "history targets need a scenario covering 2012–2025 with the panel's regions",
        "runs": _run_counts(detail, history),
        "failed": failure_summary(runner.failed_runs, dropped, failed_dir),
    }
    store.save_result(sid, scenario, settings, result)
    return result


def failure_summary(
    failed_runs: Mapping[str, Mapping[str, Any]], dropped: Mapping[str, int], failed_dir: Path | None
) -> dict[str, Any]:
    """The runs that stopped with an error: how many, which errors, what the Morris analysis left out.

    With ``failed_dir``, each one's scenario is written there (``<run id>.toml``) and named in ``scenarios``.
    """
    errors: dict[str, int] = {}
    for run in failed_runs.values():
        errors[run["error"]] = errors.get(run["error"], 0) + 1
    written = ""
    if failed_runs and failed_dir is not None:
        failed_dir.mkdir(parents=True, exist_ok=True)
        for run_id, run in sorted(failed_runs.items()):
            header = (
                f"# A run of a robustness study that stopped with: {run['error']}\n"
                f"# replication {run['replication']}; run it alone in Python with\n"
                f"#   hardtech.run(hardtech.scenario.load(<this file>), replication={run['replication']})\n"
            )
            (failed_dir / f"{run_id}.toml").write_text(header + to_toml(run["scenario"]), encoding="utf-8")
        written = str(failed_dir)
    return {
        "runs": len(failed_runs),
        "errors": dict(sorted(errors.items(), key=lambda kv: -kv[1])),
        "morris_trajectories_dropped": {k: v for k, v in dropped.items() if v},
        "scenarios": written,
    }


def _run_counts(*caches: StoredCache) -> dict[str, int]:
    """The distinct runs this study read, how many of them it ran now and how many the store had."""
    used = sum(len(c.used) for c in caches)
    new = sum(len(c.added & c.used) for c in caches)
    return {"distinct": used, "reused_from_store": used - new, "new": new}


def failure_text(result: Mapping[str, Any]) -> tuple[str, str]:
    """What stopped with an error, as (head, rest) of one plain-text paragraph; ("", "") when nothing failed.

    The head counts the runs; the rest names the errors, the Morris trajectories left out, whether a
    hypercube point failed and where the failed scenarios are. The CLI and the report both print it.
    """
    failed = result.get("failed") or {}
    if not failed.get("runs"):
        return "", ""
    errors = "; ".join(f"{n} × {e}" for e, n in failed["errors"].items())
    by_count: dict[int, list[str]] = {}
    for output, n in failed["morris_trajectories_dropped"].items():
        by_count.setdefault(n, []).append(output.split(":", 1)[1])
    left_out = "".join(
        f" Morris left out {n} of {result['morris']['trajectories']} trajectories for {', '.join(outputs)} "
        "(an elementary effect needs both of its ends)."
        for n, outputs in sorted(by_count.items(), reverse=True)
    )
    points = sum(c.get(FAILED_STATUS, {}).get("points", 0) for c in result["claims"])
    hypercube = (
        " Hypercube points where one of a claim's runs failed count as failed for that claim (column 'failed')."
        if points
        else " No hypercube point failed."
    )
    where = f" The failed runs' scenarios: {failed['scenarios']}" if failed.get("scenarios") else ""
    return f"{failed['runs']} runs stopped with an error", f" ({errors}).{left_out}{hypercube}{where}"


def frame_of_claims(result: Mapping[str, Any]) -> pd.DataFrame:
    """One row per claim: shares with their intervals and the deciding parameters (for tables)."""
    rows = []
    for c in result["claims"]:
        top = [d for d in c["deciding"] if d["decides"]][:3]
        rows.append(
            {
                "claim": c["claim"],
                "short": c["short"],
                "points": c["points"],
                "replications": c["replications"],
                **{f"{s}": c[s]["share"] for s in STATUSES},
                **{f"{s}_lo": c[s]["ci"][0] for s in STATUSES},
                **{f"{s}_hi": c[s]["ci"][1] for s in STATUSES},
                "deciding": ", ".join(d["parameter"] for d in top),
                "label": c["label"],
            }
        )
    return pd.DataFrame(rows)
