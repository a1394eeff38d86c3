"""The compiled engine against the NumPy reference (issue #14, item 3).

Two kinds of evidence, each saying which it is:

- **bit-identical** — with ``draws="reference"`` the kernels draw exactly the
  random numbers the NumPy rules draw, and do the same floating-point
  operations in the same order: every result table of a run is the same to
  the last bit (``run_digest``), on runs that exercise every rule;
- **equivalent (TOST)** — with economical draws (``HARDTECH_DRAWS=economical``, not the default) a compiled rule
  skips numbers the reference draws and discards (an innovation step for
  every firm, used only by those that succeed), so realisations differ while
  the law is the same. Over 30 seeds, the paired mean difference of dragons
  (all regions) and of firm survival (1 − deaths / births) between
  economical and reference draws must have its
  90% interval inside the declared margins (dragons ±5% of the reference
  mean, survival ±1 point): two one-sided tests at α = 0.05. Both arms run
  compiled (the first test ties the reference draws to the NumPy rules), at
  the claims' screening scale, so the 60 runs stay cheap.

The kernels themselves contain no fused multiply-add (no ``fastmath``, no
contraction): checked on the machine code Numba made for this processor.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute  # noqa: F401
import pytest
from scipy import stats

import hardtech
from hardtech.engine import jit
from hardtech.evidence.ensembles import run_digest
from hardtech.model import HardtechModel
from hardtech.scenario import load

pytest.importorskip("numba")

SHORT = {"scale": 0.002, "time.end_year": 2015}  # 16 quarters: every rule runs (exits, scenes, blockades, …)
SEEDS = 30
TOST_RUN = {"scale": 0.002}  # the whole horizon: ~270 dragons a run with the calibrated preset (~105 by 2029, too few
# for ±5% at 30 seeds: the design assumed ~150 when it was written)
MARGINS = {"dragons": ("relative", 0.05), "survival": ("absolute", 0.01)}


def _run(overrides: dict, engine: str, draws: str = "reference", seed: int = 7):
    with jit.use_engine(engine, draws):
        return hardtech.run(load("hangzhou", {**overrides, "seed": seed}))


@pytest.mark.parametrize(
    "overrides",
    [
        SHORT,
        {**SHORT, "seed": 3, "innovation.spillovers": False, "decoupling.enabled": False, "market.capacity_ratio": 0.0},
        {
            **SHORT,
            "seed": 11,
            "cooperation.enabled": False,
            "capital.constrained": False,
            "innovation.local_knowledge": False,
        },
    ],
    ids=["preset", "switches-a", "switches-b"],
)
def test_compiled_kernels_with_reference_draws_are_bit_identical(overrides):
    ref = _run(overrides, "numpy")
    fast = _run(overrides, "numba", "reference")
    assert sorted(ref.tables) == sorted(fast.tables)
    for name, table in ref.tables.items():
        other = fast.tables[name]
        assert table.schema == other.schema and table.num_rows == other.num_rows, name
        for column in table.column_names:  # NaN where NaN, every other value to the bit
            a = table.column(column).to_numpy(zero_copy_only=False)
            b = other.column(column).to_numpy(zero_copy_only=False)
            same = np.array_equal(a, b, equal_nan=True) if a.dtype.kind == "f" else np.array_equal(a, b)
            assert same, f"{name}.{column} differs"
    assert run_digest(ref) == run_digest(fast)


def test_engine_choice_is_honoured():
    with jit.use_engine("numpy"):
        assert not jit.compiled() and not jit.economical_draws()
    with jit.use_engine("numba", "reference"):
        assert jit.compiled() and not jit.economical_draws()
    with jit.use_engine("numba", "economical"):
        assert jit.compiled() and jit.economical_draws()
    with jit.use_engine("numba"):  # the default: bit-identical draws
        assert jit.compiled() and not jit.economical_draws()
    with pytest.raises(ValueError, match="engine must be one of"):
        with jit.use_engine("fortran"):
            pass


def test_economical_draws_change_realisations_but_are_reproducible():
    a = _run(SHORT, "numba", "economical")
    b = _run(SHORT, "numba", "economical")
    ref = _run(SHORT, "numba", "reference")
    assert run_digest(a) == run_digest(b)  # same seed, same bits
    assert run_digest(a) != run_digest(ref)  # the draws differ: this is not a bit-identity claim


def _tost(diff: np.ndarray, margin: float) -> tuple[float, float]:
    """90% paired-t interval of the mean difference (TOST at α = 0.05 is: it lies inside ±margin)."""
    n = diff.size
    half = stats.t.ppf(0.95, n - 1) * diff.std(ddof=1) / np.sqrt(n)
    return diff.mean() - half, diff.mean() + half


def _dragons_and_survival(draws: str, seed: int) -> dict[str, float]:
    """A compiled run's dragons (all regions) and firm survival, 1 − deaths / births, from its step metrics."""
    with jit.use_engine("numba", draws):
        model = HardtechModel(load("hangzhou", {**TOST_RUN, "seed": seed})).run()
    sm = model.recorder.table("step_metrics")
    births, deaths = (float(pa.compute.sum(sm.column(c)).as_py()) for c in ("births", "deaths"))
    return {"dragons": float(model.world.dragons_total.sum()), "survival": 1.0 - deaths / births}


def test_economical_draws_are_equivalent_by_tost():
    rows = {"economical": [], "reference": []}
    for seed in range(1, SEEDS + 1):
        for draws in rows:
            rows[draws].append(_dragons_and_survival(draws, seed))
    for metric, (kind, size) in MARGINS.items():
        ref = np.array([r[metric] for r in rows["reference"]])
        eco = np.array([r[metric] for r in rows["economical"]])
        margin = size * abs(ref.mean()) if kind == "relative" else size
        lo, hi = _tost(eco - ref, margin)
        assert -margin < lo and hi < margin, (
            f"{metric}: 90% interval of the difference [{lo:.4g}, {hi:.4g}] not inside ±{margin:.4g} "
            f"(reference mean {ref.mean():.4g}, economical {eco.mean():.4g})"
        )


def test_tost_rejects_a_shift_of_the_margin():
    """The test can fail: a difference the size of the margin is not called equivalent."""
    rng = np.random.default_rng(0)
    diff = 1.0 + rng.normal(0, 0.5, SEEDS)
    lo, hi = _tost(diff, 1.0)
    assert not (-1.0 < lo and hi < 1.0)


def test_kernels_hold_no_fused_multiply_add():
    """No contraction of a·b + c into one rounding: the same bits on processors with and without FMA."""
    from hardtech.engine import ops
    from hardtech.model import kernels

    _run({**SHORT, "time.end_year": 2012}, "numba")  # compiles (or loads) the kernels for this machine
    import numba

    checked = 0
    for module, name in [(m, n) for m in (kernels, ops) for n in dir(m)]:
        k = getattr(module, name)
        dispatcher = k.dispatcher if isinstance(k, jit._Lazy) else None
        if dispatcher is None or not dispatcher.signatures:
            continue
        # the same options, uncached (Numba does not show the machine code of cached functions)
        fresh = numba.njit(k.py, **jit.OPTIONS, cache=False)
        for sig in dispatcher.signatures:
            fresh.compile(sig)
            asm = fresh.inspect_asm(sig).lower()
            assert asm and "vfmadd" not in asm and "vfmsub" not in asm and "vfnmadd" not in asm, name
            checked += 1
    assert checked >= 10
    # the check can fail: with fast maths Numba does fuse a·b + c on this processor (if it has FMA)
    import llvmlite.binding as llvm

    if "+fma" in llvm.get_host_cpu_features().flatten():

        def axpy(a, b, c, out):  # pragma: no cover - compiled
            for i in range(out.size):
                out[i] = a[i] * b[i] + c[i]

        fused = numba.njit(axpy, fastmath=True)
        x = np.ones(8)
        fused(x, x, x, np.empty(8))
        assert "vfmadd" in fused.inspect_asm(fused.signatures[0]).lower()
