"""Ensembles, H10's Sobol indices and stylized facts: the machinery and quick, seeded checks (claims: test_claims.py)."""

import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import duckdb
import numpy as np
import pytest

from hardtech.evidence.ensembles import bootstrap_interval, mean_interval, paired_difference, replicate, summarise_outcomes
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
    for fact in ("F2", "F3", "F5", "F6", "F7", "F8"):
        lo, hi = bands[fact]
        assert lo <= values[fact] <= hi, (fact, values[fact])


def test_lever_sobol_is_reproducible_intervals_included():
    """Same scenario and seed, same indices and the same bootstrap intervals (SALib ignores seed 0)."""
    from hardtech.evidence.interactions import lever_sobol

    sc = load("hangzhou", {**QUICK, "time.end_year": 2014})
    a, b = (lever_sobol(sc, base_samples=2, seed=0) for _ in range(2))
    assert a["S1"] == b["S1"]
    assert a["S1_conf"] == b["S1_conf"] and a["ST_conf"] == b["ST_conf"]
    assert (a["sum_S1_lo"], a["sum_S1_hi"]) == (b["sum_S1_lo"], b["sum_S1_hi"])
