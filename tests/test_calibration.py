"""Bayesian calibration (ABC-SMC): targets kept apart, identifiability, reproducibility."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import duckdb
import numpy as np
import pytest

import hardtech
from hardtech.evidence.abc import (
    Prior,
    abc_calibrate,
    calibration_targets,
    distance,
    parse_priors,
    particle_seed,
    summaries,
)
from hardtech.evidence.history import load_targets
from hardtech.scenario import load

TINY = {"scale": 0.002, "time.end_year": 2014}
TRUE_RATE = 0.0008


def test_calibration_uses_no_held_out_target_and_no_validated_fact():
    from hardtech.evidence.facts import untargeted

    names = set(calibration_targets())
    held_out = {t.id for t in load_targets()[1] if t.held_out}
    assert names and not names & held_out
    assert not names & {f.id for f in untargeted()}  # validate reports only what calibration never sees


def test_distance_and_priors():
    assert distance({"a": 3.0, "b": 1.0}, {"a": 1.0, "b": 1.0}, {"a": 2.0, "b": 1.0}) == pytest.approx(np.sqrt(0.5))
    assert distance({"a": float("nan")}, {"a": 1.0}, {"a": 1.0}) == pytest.approx(3.0)  # missing: 3 scales
    assert parse_priors(["x.y=1:2", "x.z=log:0.1:1"]) == (Prior("x.y", 1, 2), Prior("x.z", 0.1, 1, "loguniform"))
    with pytest.raises(ValueError, match="PATH=LOW:HIGH"):
        parse_priors(["x.y=1"])
    with pytest.raises(ValueError, match="low < high"):
        Prior("x", 2.0, 1.0)
    assert particle_seed(0, {"a": 1.0}) == particle_seed(0, {"a": 1.0}) != particle_seed(1, {"a": 1.0})


@pytest.fixture(scope="module")
def synthetic():
    """The model's own output at a known founding rate: what an identifiable calibration must recover."""
    sc = load("hangzhou", TINY)
    truth = summaries(
        hardtech.run(load(sc, {"entrepreneurship.found_rate": TRUE_RATE, "seed": 99})), ["births", "deaths"]
    )
    return sc, truth


def _recover(sc, truth, executor=None, seed=1, population=10, generations=3):
    return abc_calibrate(
        sc,
        [Prior("entrepreneurship.found_rate", 2e-4, 2e-3, "loguniform")],
        population=population,
        generations=generations,
        names=list(truth),
        observed=truth,
        scale={k: 0.1 * v for k, v in truth.items()},
        executor=executor,
        seed=seed,
    )


def test_abc_recovers_a_known_parameter_from_the_models_own_output(synthetic):
    sc, truth = synthetic
    with ProcessPoolExecutor(2) as pool:
        post = _recover(sc, truth, pool)
    row = post.summary().iloc[0]
    assert row["q05"] <= TRUE_RATE <= row["q95"], row.to_dict()
    assert abs(np.log(row["median"] / TRUE_RATE)) < 0.25, row.to_dict()  # within ~25% of the truth
    assert row["sd_over_prior_sd"] < 0.5  # the data narrowed the prior
    assert list(post.generations["t"]) == [0, 1, 2]
    assert (np.diff(post.generations["epsilon"]) < 0).all()  # the tolerance shrinks


def test_abc_posterior_does_not_depend_on_the_workers(synthetic):
    sc, truth = synthetic
    serial = _recover(sc, truth, None, seed=5, population=4, generations=2)
    with ProcessPoolExecutor(2) as pool:
        parallel = _recover(sc, truth, pool, seed=5, population=4, generations=2)
    assert serial.particles.equals(parallel.particles)
    assert serial.simulations == parallel.simulations


def test_calibrate_cli_stores_the_posterior_and_refuses_bad_priors(tmp_path):
    out = tmp_path / "cal.toml"
    cmd = [
        sys.executable,
        "-m",
        "hardtech",
        "calibrate",
        "--quick",
        "--set",
        "time.end_year=2013",
        "--param",
        "entrepreneurship.found_rate=log:0.0003:0.002",
        "--population",
        "4",
        "--generations",
        "1",
        "--workers",
        "1",
        "--json",
        "--out",
        str(out),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert payload["summary"][0]["parameter"] == "entrepreneurship.found_rate"
    assert set(payload["observed"]) == set(calibration_targets())
    with duckdb.connect(str(out.with_suffix(".duckdb")), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM posterior").fetchone()[0] == 4
        assert con.execute("SELECT count(*) FROM abc_generations").fetchone()[0] == 1
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# calibrated by hardtech calibrate (ABC-SMC") and "posterior medians" in text
    load(out)  # the calibrated scenario is a valid scenario file
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardtech",
            "calibrate",
            "--param",
            "market.capability_weight=50:90",
            "--out",
            str(tmp_path / "bad.toml"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "capability_weight" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "bad.duckdb").exists()
