"""The conformance set: runs whose every bit a change of the engine must keep.

A faster kernel or a refactor that is meant to leave the model's results alone
still gives a new model version (the version hashes the code, see
:mod:`hardtech.provenance`), and a long README block stamped with the old
version would then have to be regenerated: hours of runs that would print
the same text. This set is how such a change shows that it left results alone.
``tests/golden/conformance.json`` holds, for the model version that wrote it,
the digest of every result table (:func:`hardtech.evidence.ensembles.run_digest`)
of each run below. ``tests/test_conformance.py`` recomputes them with today's
code and requires the same bits, and ``tests/test_readme.py`` accepts a long
block stamped with the file's version only while they agree.

The runs span what the README's long blocks run:

* the preset at its own scale (replication 0, on both engines, since a single
  ``hardtech run`` uses NumPy and studies use the kernels) and at the
  screening scale (replication 1);
* every arm of every claim, with the claim's control and ablation on top of
  its first arm, at the screening scale;
* a Latin hypercube over every [ASSUMPTION] parameter's plausible range (the
  space the robustness studies sample), a different replication per point;
* the robustness point where the model stops with an error
  (``tests/data/overflow-market-split.toml``): its error text is kept too.

It is a sample: a change that altered results only away from these runs would
pass. A change meant to alter results must therefore rewrite this file
(``make conformance``) and regenerate the long blocks (``make readme-full``);
the set is for changes that, by design, keep every operation.

Import it after hardtech (as pytest does, conftest.py first): a process that
imported NumPy first runs NumPy's AVX-512 kernels and other bits
(docs/reproducibility.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import qmc

import hardtech
from hardtech.engine import jit
from hardtech.evidence.ensembles import run_digest
from hardtech.evidence.registry import declared_claims
from hardtech.evidence.robustness import _value as design_value
from hardtech.evidence.robustness import assumptions
from hardtech.provenance import model_version, platform_key
from hardtech.result import run_id_for
from hardtech.scenario import Scenario, load

FILE = Path(__file__).resolve().parent / "golden" / "conformance.json"
FAILING = Path(__file__).resolve().parent / "data" / "overflow-market-split.toml"
UPDATE_ENV = "HARDTECH_UPDATE_CONFORMANCE"
PRESET = "hangzhou"
SCREENING = {"scale": 0.002}  # the claims' and robustness studies' scale
LHS_POINTS = 12
LHS_SEED = 20261202


def jobs() -> dict[str, tuple[Scenario, int, str]]:
    """Every run of the set by name: (scenario, replication, engine)."""
    preset = load(PRESET)
    small = load(preset, SCREENING)
    out: dict[str, tuple[Scenario, int, str]] = {
        f"preset/{PRESET}/r0/numpy": (preset, 0, "numpy"),
        f"preset/{PRESET}/r0/numba": (preset, 0, "numba"),
        f"preset/{PRESET}/screening/r1": (small, 1, "numba"),
    }
    for claim in declared_claims(small):
        arms = {arm: over for arm, over in claim.arms.items() if arm not in claim.inject}
        for arm, over in arms.items():
            out[f"claim/{claim.id}/{arm}"] = (load(small, over), 0, "numba")
        first = next(iter(arms.values()), {})
        for kind, over in (("control", claim.control), ("ablation", claim.ablation)):
            if over:
                out[f"claim/{claim.id}/{kind}"] = (load(small, {**first, **over}), 0, "numba")
    params = assumptions(small)
    unit = qmc.LatinHypercube(d=len(params), seed=np.random.default_rng(LHS_SEED)).random(LHS_POINTS)
    for k, row in enumerate(unit):
        values = {p.path: design_value(p, _within(p.plausible, x)) for p, x in zip(params, row, strict=True)}
        out[f"lhs/{k:02d}"] = (load(small, values), k, "numba")
    out["robustness/overflow-market-split"] = (load(FAILING), 0, "numba")
    return out


def _within(bounds: list[float], x: float) -> float:
    return bounds[0] + x * (bounds[1] - bounds[0])


def outcome(job: tuple[Scenario, int, str]) -> str:
    """A run's digest, or ``failed: <error type>: <first line>`` if it stops with an error."""
    scenario, replication, engine = job
    with jit.use_engine(engine):
        try:
            return run_digest(hardtech.run(scenario, replication=replication))
        except Exception as exc:  # the error a run stops with is part of what the model does
            first = (str(exc).strip().splitlines() or [""])[0]
            return f"failed: {type(exc).__name__}: {first}"


def compute(workers: int = 2) -> dict[str, str]:
    """Every run's outcome today, by name (``workers`` processes; a run two names share runs once)."""
    todo = jobs()
    key = {name: (run_id_for(sc, k), engine) for name, (sc, k, engine) in todo.items()}
    distinct = {key[name]: job for name, job in todo.items()}
    with ProcessPoolExecutor(workers) as pool:
        done = dict(zip(distinct, pool.map(outcome, distinct.values()), strict=True))
    return {name: done[key[name]] for name in todo}


def recorded() -> dict[str, Any]:
    """The committed record: the model version and platform family that wrote it, and each run's outcome."""
    return json.loads(FILE.read_text(encoding="utf-8"))


def write(outcomes: Mapping[str, str]) -> None:
    """Record today's outcomes as the set (``make conformance``)."""
    record = {
        "about": "tests/conformance.py: every run's table digest; rewrite with `make conformance`",
        "model": model_version(),
        "platform": platform_key(),
        "runs": dict(outcomes),
    }
    FILE.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


def differences(record: Mapping[str, Any], outcomes: Mapping[str, str]) -> list[str]:
    """What today's outcomes change against the record, one line per run (empty: the same bits)."""
    shown = record["runs"]
    lines = [f"{name}: not in the record" for name in outcomes if name not in shown]
    lines += [f"{name}: in the record, not in the set" for name in shown if name not in outcomes]
    lines += [f"{name}: {shown[name]} then, {now} now" for name, now in outcomes.items() if shown.get(name, now) != now]
    return lines


def updating() -> bool:
    """Whether this test session rewrites the record instead of checking it."""
    return os.environ.get(UPDATE_ENV) == "1"
