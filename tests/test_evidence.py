"""Ensembles, H10's Sobol indices and stylized facts: the machinery and quick, seeded checks.

The claims are tested in test_claims.py.
"""

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from hardtech.evidence.ensembles import (
    bootstrap_interval,
    mean_interval,
    paired_difference,
    replicate,
    summarise_outcomes,
)
from hardtech.evidence.facts import FACTS, measure
from hardtech.scenario import load

QUICK = {"scale": 0.002}


def test_paired_bootstrap_uses_the_pairing():
    rng = np.random.default_rng(0)
    base = rng.normal(100, 30, 12)
    treated = base + 1.0 + rng.normal(0, 0.1, 12)  # tiny effect, huge common noise
    diff, lo, hi = paired_difference(base, treated)
    assert 0.8 < lo < diff < hi < 1.2
    point, lo2, hi2 = bootstrap_interval({"a": base, "b": base}, lambda m: m["b"] - m["a"])
    assert point == lo2 == hi2 == 0.0
    mean, lo3, hi3 = mean_interval(np.array([1.0, 2.0, 3.0]))
    assert lo3 < mean == 2.0 < hi3


def test_ensemble_summary_has_intervals():
    rows = replicate("hangzhou", overrides={**QUICK, "time.end_year": 2016}, replications=3)
    assert list(rows.replication) == [0, 1, 2]
    summary = summarise_outcomes(rows)
    births = summary.loc["births"]
    assert births["lo"] <= births["mean"] <= births["hi"] and births["n"] == 3


def test_facts_measured_on_a_run(small_run):
    values = measure(small_run)
    assert set(values) == {f.id for f in FACTS}
    bands = {f.id: (f.lo, f.hi) for f in FACTS}
    for fact in ("F2", "F3", "F5", "F6"):
        lo, hi = bands[fact]
        assert lo <= values[fact] <= hi, (fact, values[fact])
    assert np.isfinite(values["F7"])  # F7 is validation against a null band: measured, not asserted


def test_spending_follows_the_bass_curve_of_the_demand_rule(small_run):
    """The former fact F8, now a unit test of the demand rule: with demand and usability thresholds
    equal, spending is the Bass input itself, so a Bass fit must be near perfect."""
    from hardtech.evidence.facts import bass_fit

    assert bass_fit(small_run) >= 0.95


class _FakeRun:
    """Just what the F7 null needs: step metrics by region and field, a seed and a replication."""

    def __init__(self, innovations, headcount, replication=0):
        cells = [(r, f) for r in ("a", "b", "c") for f in ("x", "y", "z")]
        self.metrics = pd.DataFrame(
            {
                "step": 0,
                "region": [c[0] for c in cells],
                "field": [c[1] for c in cells],
                "scenes_defined": innovations,
                "new_dragons": 0,
                "headcount": headcount,
            }
        )
        self.scenario = type("S", (), {"seed": 3})()
        self.replication = replication


def test_f7_null_band_fails_the_null_and_passes_concentration():
    from hardtech.evidence.facts import innovation_beyond_null

    head = np.array([50, 80, 120, 200, 300, 400, 600, 900, 1500], float)
    rng = np.random.default_rng(11)
    # innovations placed in proportion to headcount (the null itself): about 5% of runs pass
    passes = [innovation_beyond_null(_FakeRun(rng.multinomial(40, head / head.sum()), head, k)) > 0 for k in range(200)]
    assert np.mean(passes) < 0.12
    # the open band "> 0" of the old F7 let most of them through
    from hardtech.evidence.facts import innovation_vs_employment

    assert (
        np.mean(
            [innovation_vs_employment(_FakeRun(rng.multinomial(40, head / head.sum()), head)) > 0 for _ in range(200)]
        )
        > 0.5
    )
    # innovations all in the smallest cells: far more concentrated than headcount, passes
    assert innovation_beyond_null(_FakeRun([20, 20, 0, 0, 0, 0, 0, 0, 0], head)) > 0


def test_f2_null_band_closed_form_matches_scipy_and_separates_laplace_from_gauss():
    from scipy import stats

    from hardtech.evidence.facts import _llr_laplace_gauss

    rng = np.random.default_rng(5)
    lap = rng.laplace(0, 1, 20000)
    loc, scale = stats.laplace.fit(lap)
    mu, sd = stats.norm.fit(lap)
    direct = np.mean(stats.laplace.logpdf(lap, loc, scale) - stats.norm.logpdf(lap, mu, sd))
    assert _llr_laplace_gauss(lap) == pytest.approx(direct, rel=1e-6)
    assert _llr_laplace_gauss(lap) == pytest.approx(0.0724, abs=0.01)  # the value F2's target comes from
    gauss = rng.normal(0, 1, (200, 5000))
    assert np.quantile(_llr_laplace_gauss(gauss), 0.95) < 0  # the null's 95th percentile: Gaussian rates fail


def test_validate_lists_only_untargeted_measurements(tmp_path):
    from hardtech.evidence.calibrate import TARGETS
    from hardtech.evidence.facts import untargeted
    from hardtech.evidence.history import load_targets

    assert {f.id for f in untargeted()} & set(TARGETS) == set()
    assert "F8" not in {f.id for f in FACTS}
    store = tmp_path / "v.duckdb"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardtech",
            "validate",
            "--quick",
            "-r",
            "2",
            "--workers",
            "1",
            "--json",
            "--out",
            str(store),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    rows = json.loads(res.stdout)["facts"]
    ids = [r["fact"] for r in rows]
    held_out = [t.id for t in load_targets()[1] if t.held_out]
    assert set(ids) == {f.id for f in untargeted()} | set(held_out)
    assert not set(ids) & set(TARGETS) and "F8" not in ids
    assert all(np.isfinite(r["band_lo"]) for r in rows)  # every row has a band


def test_lever_sobol_is_reproducible_intervals_included():
    """Same scenario and seed, same indices and the same bootstrap intervals (SALib ignores seed 0)."""
    from hardtech.evidence.interactions import lever_sobol

    sc = load("hangzhou", {**QUICK, "time.end_year": 2014})
    a, b = (lever_sobol(sc, base_samples=2, seed=0) for _ in range(2))
    assert a["S1"] == b["S1"]
    assert a["S1_conf"] == b["S1_conf"] and a["ST_conf"] == b["ST_conf"]
    assert (a["sum_S1_lo"], a["sum_S1_hi"]) == (b["sum_S1_lo"], b["sum_S1_hi"])
