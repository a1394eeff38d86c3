"""The claims machinery: statistics on known inputs, the registry, and designs that can fail.

No test here asserts a verdict of the shipped preset. They check that each
statistic is computed correctly (known inputs give known values), that every
control's arms run as different worlds with the manipulation still active,
and that breaking a mechanism on purpose moves the claim's statistic.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor

import duckdb
import numpy as np
import pandas as pd
import pytest

from hardtech.evidence import claims as claims_mod
from hardtech.evidence.claims import (
    MDE_FACTOR,
    Interval,
    arm_rows,
    build_claims,
    equivalent,
    paired_interval,
    run_claim,
    verdict,
)
from hardtech.evidence.registry import arm_statistic, claim_ids, evaluate, expand_overrides, registry
from hardtech.scenario import load

TINY = {"scale": 0.002, "time.end_year": 2024}  # past the first blockade (2022.77), still quick


def _interval(lo, hi, lo90=None, hi90=None, point=0.0):
    return Interval(point, lo, hi, lo if lo90 is None else lo90, hi if hi90 is None else hi90, 0.1, 20, "BCa")


# -- statistics on known inputs ------------------------------------------------------------------
def test_verdicts_follow_the_intervals_and_the_equivalence_margin():
    assert verdict(_interval(0.1, 0.5), margin=0.05) == "supported"
    assert verdict(_interval(-0.5, -0.1), margin=0.05) == "not supported"
    assert verdict(_interval(-0.06, 0.06, -0.04, 0.04), margin=0.05) == "not supported"  # negligible (TOST)
    assert verdict(_interval(-0.06, 0.06, -0.055, 0.04), margin=0.05) == "inconclusive"
    assert verdict(_interval(-0.2, 0.4), margin=0.05) == "inconclusive"
    assert equivalent(_interval(-0.3, 0.3, -0.01, 0.01), 0.02)
    assert not equivalent(_interval(-0.01, 0.01, -0.03, 0.01), 0.02)  # "covers zero" is not "gone"


def test_paired_interval_uses_the_pairing_and_bca_from_ten_replications():
    rng = np.random.default_rng(0)
    base = rng.normal(100, 30, 24)
    treated = base + 1.0 + rng.normal(0, 0.1, 24)  # a tiny effect under huge common noise
    res = paired_interval({"a": base, "b": treated}, lambda m: m["b"] - m["a"])
    assert res.method == "BCa" and res.n == 24
    assert 0.9 < res.lo < res.point < res.hi < 1.1
    assert res.lo < res.lo90 < res.hi90 < res.hi  # the 90% interval is inside the 95% one
    diff = treated - base
    assert res.point == pytest.approx(diff.mean())
    assert res.se == pytest.approx(diff.std(ddof=1) / np.sqrt(24), rel=0.15)  # bootstrap SE ≈ the analytic one
    assert res.mde == pytest.approx(MDE_FACTOR * res.se) and MDE_FACTOR == pytest.approx(2.8016, abs=1e-3)
    few = paired_interval({"a": base[:5], "b": treated[:5]}, lambda m: m["b"] - m["a"])
    assert few.method == "percentile"


def test_paired_interval_degenerate_and_missing_values():
    same = paired_interval({"a": np.ones(6), "b": np.ones(6)}, lambda m: m["b"] - m["a"])
    assert (same.point, same.lo, same.hi, same.se, same.method) == (0.0, 0.0, 0.0, 0.0, "none")
    gappy = paired_interval(
        {"a": np.array([1.0, np.nan, 3.0]), "b": np.array([2.0, 5.0, 5.0])}, lambda m: m["b"] - m["a"]
    )
    assert gappy.n == 2 and gappy.point == pytest.approx(1.5)  # the replication with a gap is dropped in every arm


def test_arm_expressions_read_arms_and_their_outcomes():
    pairs, compute = arm_statistic("sync - max(early, late)", "dragons")
    assert pairs == [("sync", "dragons"), ("early", "dragons"), ("late", "dragons")]
    assert compute({("sync", "dragons"): 10.0, ("early", "dragons"): 12.0, ("late", "dragons"): 3.0}) == -2.0
    pairs, compute = arm_statistic("min(a.x - b.x, (a - b) / 2)", "m")
    assert set(pairs) == {("a", "x"), ("b", "x"), ("a", "m"), ("b", "m")}
    values = {
        ("a", "x"): np.array([3.0, 1.0]),
        ("b", "x"): np.array([1.0, 1.0]),
        ("a", "m"): np.array([8.0, 8.0]),
        ("b", "m"): np.array([2.0, 2.0]),
    }
    assert list(compute(values)) == [2.0, 0.0]  # element-wise, for vectorised bootstraps
    assert evaluate("3 if x > 2 else 4", lambda n: {"x": 5}[n]) == 3
    with pytest.raises(ValueError, match="not allowed"):
        evaluate("__import__('os')", lambda n: n)


def test_registry_overrides_expand_wildcards_and_evaluate_on_the_base_scenario():
    sc = load("hangzhou", {"scale": 0.002})
    names = {"focal": "shanghai", "blocked": "china"}
    out = expand_overrides(
        {
            "fields.*.demand_threshold": "=clip(field.usability_threshold - 0.3, 0.02, 0.95)",
            "regions.{focal}.living_cost": "=focal.living_cost * 0.7",
            "regions.*.policy.basic_research": "=3000.0 if region.bloc == blocked else 0.0",
        },
        sc,
        names,
    )
    for f, fld in sc.fields.items():
        assert out[f"fields.{f}.demand_threshold"] == pytest.approx(max(fld.usability_threshold - 0.3, 0.02))
    assert out["regions.shanghai.living_cost"] == pytest.approx(sc.regions["shanghai"].living_cost * 0.7)
    assert out["regions.us_hub.policy.basic_research"] == 0.0
    assert out["regions.beijing.policy.basic_research"] == 3000.0
    load(sc, out)  # every expanded override is a valid scenario path and value


def test_every_declared_claim_resolves_with_a_channel_a_control_and_a_history():
    sc = load("hangzhou", {"scale": 0.002})
    declared = build_claims(sc, "shenzhen")
    assert [c.id for c in declared] == claim_ids() == [f"H{i}" for i in range(1, 12)]
    for c in declared:
        assert c.statement and c.channel and c.history, c.id
        if c.kind == "sobol":
            continue
        assert c.control and c.manipulation is not None, c.id
        load(sc, c.control)
        for arm in c.arms.values():
            load(sc, {**arm, **c.control, **c.ablation})
        pairs, _ = arm_statistic(c.statistic, c.metric)
        assert {p[0] for p in pairs} <= set(c.arms), c.id
    h2 = next(c for c in declared if c.id == "H2")
    assert h2.metric == "births_shenzhen" and "regions.shenzhen.living_cost" in h2.arms["cheap"]
    with pytest.raises(ValueError, match="unknown region 'atlantis'"):
        build_claims(sc, "atlantis")
    assert set(registry()) == set(claim_ids())


def test_injection_puts_one_base_runs_recycled_money_on_the_same_yearly_path():
    sc = load("hangzhou", {"scale": 0.002, "time.end_year": 2015})
    path = {"hangzhou": {2013: 10.0, 2014: 5.5}, "beijing": {2012: 2.0}}
    over = claims_mod._injection(sc, {}, path, "path")
    assert over["regions.hangzhou.policy.fund_injection"] == [
        [2012.0, 0.0],
        [2013.0, 10.0],
        [2014.0, 5.5],
        [2015.0, 0.0],
    ]
    assert over["regions.beijing.policy.fund_injection"][0] == [2012.0, 2.0]
    once = claims_mod._injection(sc, {}, path, "once")
    assert once["regions.hangzhou.policy.fund_injection"] == [
        [2012.0, 0.0],
        [2013.0, 0.0],
        [2014.0, 0.0],
        [2015.0, 0.0],
    ]
    late = load(sc, {"time.end_year": 2020})
    once = claims_mod._injection(late, {}, path, "once")
    assert dict((int(y), v) for y, v in once["regions.hangzhou.policy.fund_injection"])[2016] == 15.5  # the fifth year
    load(sc, over)


def test_identical_pairs_and_the_manipulation_check():
    rows = {
        "a": pd.DataFrame({"_digest": ["x", "y"], "q": [1.0, 1.0]}),
        "b": pd.DataFrame({"_digest": ["x", "y"], "q": [2.0, 2.5]}),
        "c": pd.DataFrame({"_digest": ["x", "z"], "q": [1.0, 1.0]}),
    }
    assert claims_mod._identical_pairs(rows) == [("a", "b")]
    claim = next(c for c in build_claims(load("hangzhou")) if c.id == "H3")
    man = claim.manipulation
    moved = claims_mod._manipulation(
        claim,
        {
            man.between[0]: rows["a"].rename(columns={"q": man.quantity}),
            man.between[1]: rows["b"].rename(columns={"q": man.quantity}),
        },
        0,
    )
    assert moved.point == pytest.approx(1.25)


# -- designs that can fail: run at a tiny scale ------------------------------------------------------
@pytest.fixture(scope="module")
def pool():
    with ProcessPoolExecutor(2) as executor:
        yield executor


@pytest.fixture(scope="module")
def tiny():
    return load("hangzhou", TINY)


ARM_CLAIMS = [c for c in claim_ids() if registry()[c].get("kind", "arms") == "arms"]


@pytest.mark.parametrize("claim_id", ARM_CLAIMS)
def test_every_label_runs_different_worlds_and_the_control_keeps_the_manipulation(tiny, pool, claim_id):
    """No pair of arms runs bit-identically under any label; the control changes the world; and under
    the control the manipulated input still moves its first intermediate quantity."""
    claim = next(c for c in build_claims(tiny) if c.id == claim_id)
    result = run_claim(claim, tiny, 1, executor=pool)
    for key, label in result.labels.items():
        assert not label.identical_arms, (claim_id, key, label.identical_pairs)
    rows = arm_rows(claim, tiny, {"declared": {}, "control": claim.control}, 1, executor=pool)
    # the control changes the world (an arm without the channel, e.g. H4's spillovers-off arm, may not change)
    assert any(rows["declared"][arm]["_digest"][0] != rows["control"][arm]["_digest"][0] for arm in claim.arms)
    assert result.manipulation_active, (claim_id, result.row()["manipulation"])


# For each claim: overrides that break its mechanism on purpose, and what must then hold.
BREAKAGES = {
    # no demand timing in revenue and no expectations from demand either: early and late arms barely differ
    "H1": ({"market.revenue_needs_adopters": False, "entrepreneurship.push_weight": 1.0}, "moves"),
    # nobody moves: the net inflow side figure is exactly zero in both arms
    "H2": ({"labour.consider_move": 0.0, "labour.young_consider_move": 0.0}, "net_inflow_zero"),
    "H3": ({"entrepreneurship.software_discount": 0.0}, "moves"),
    "H4": (
        {
            "innovation.spillover_strength": 0.0,
            "innovation.density_elasticity": 0.0,
            "innovation.imitation": 0.0,
            "labour.knowledge_weight": 0.0,
        },
        "moves",
    ),
    "H5": ({"capital.constrained": False}, "moves"),
    "H6": ({"market.scale_economies": 0.0, "market.niche_fit_weight": 0.0}, "moves"),
    "H7": ({"market.niche_fit_weight": 0.0}, "moves"),
    "H8": ({"decoupling.capability_loss": 0.0, "technology.science_diffusion": 0.0}, "moves"),
    "H9": ({"cooperation.share_rd": 0.0, "cooperation.risk_pool": 0.0, "cooperation.link_cost": 2.0}, "moves"),
    "H11": ({"market.scene_rate": 0.0}, "zero"),  # no scenes at all: nothing to count in any arm
}


@pytest.mark.parametrize("claim_id", sorted(BREAKAGES, key=lambda c: int(c[1:])))
def test_breaking_the_mechanism_moves_the_statistic(pool, claim_id):
    broken_overrides, expect = BREAKAGES[claim_id]
    intact = load("hangzhou", TINY)
    broken = load(intact, broken_overrides)
    results = [
        run_claim(next(c for c in build_claims(sc) if c.id == claim_id), sc, 2, executor=pool)
        for sc in (intact, broken)
    ]
    a, b = (r.declared for r in results)
    assert a.effect.point != b.effect.point, (claim_id, a.effect, b.effect)
    if expect == "net_inflow_zero":
        assert b.also["net_inflow"] == 0.0 != a.also["net_inflow"]
    if expect == "zero":
        assert b.effect.point == 0.0 != a.effect.point


def test_claims_cli_json_lists_the_checks_and_refuses_bad_input(tmp_path):
    store = tmp_path / "c.duckdb"
    cmd = [
        sys.executable,
        "-m",
        "hardtech",
        "claims",
        "--quick",
        "--only",
        "H3",
        "-r",
        "2",
        "--workers",
        "1",
        "--set",
        "time.end_year=2018",
        "--json",
        "--out",
        str(store),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    row = payload["claims"][0]
    assert row["claim"] == "H3" and payload["screening"] is True
    assert row["verdict"] == "screening" and row["signal"] in {"supported", "not supported", "inconclusive"}
    for key in (
        "identical_arms",
        "control_identical_arms",
        "manipulation_active",
        "manipulation",
        "ablation",
        "mde",
        "margin",
        "margin_text",
        "history",
        "channel",
        "statement",
    ):
        assert key in row, key
    assert row["manipulation"]["quantity"] == "experiment_cost_hangzhou"
    assert store.exists() and store.with_suffix(".html").exists()
    assert "SCREENING" in store.with_suffix(".html").read_text(encoding="utf-8")
    with duckdb.connect(str(store), read_only=True) as con:
        stored = con.execute("SELECT also, manipulation FROM claims WHERE claim = 'H3'").fetchall()[0]
    assert "survival" not in json.loads(stored[0]) and "dragons" in json.loads(stored[0])
    assert json.loads(stored[1])["quantity"] == "experiment_cost_hangzhou"
    bad = subprocess.run(
        [sys.executable, "-m", "hardtech", "claims", "--only", "H42", "--out", str(tmp_path / "x.duckdb")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "unknown claim 'H42'" in bad.stderr and "Traceback" not in bad.stderr
    assert not (tmp_path / "x.duckdb").exists()


def test_quick_claims_title_says_screening(tmp_path):
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardtech",
            "claims",
            "--quick",
            "--only",
            "H9",
            "-r",
            "2",
            "--workers",
            "1",
            "--set",
            "time.end_year=2016",
            "--no-progress",
            "--out",
            str(tmp_path / "q.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert res.returncode == 0, res.stderr
    assert "SCREENING" in res.stdout and "signals, not verdicts" in res.stdout
    assert "supported" not in res.stdout.replace("screening", "")  # no bare verdict is printed


def test_the_odd_holds_the_registry_as_it_is():
    """docs/ODD.md §8 is generated from registry.toml (scripts/registry_doc.py): it may not drift."""
    res = subprocess.run(
        [sys.executable, "scripts/registry_doc.py", "--check"],
        capture_output=True,
        text=True,
        cwd=__import__("pathlib").Path(__file__).resolve().parents[1],
    )
    assert res.returncode == 0, res.stderr


def test_posterior_draws_follow_the_weights_and_the_seed(tmp_path):
    path = tmp_path / "post.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute(
            "CREATE TABLE posterior AS SELECT * FROM (VALUES (1.0, 0.0), (2.0, 1.0)) "
            't("market.capability_weight", weight)'
        )
    draws = claims_mod.posterior_draws(path, 8, seed=3)
    assert draws == [{"market.capability_weight": 2.0}] * 8  # the weightless particle is never drawn
    assert claims_mod.posterior_draws(path, 8, seed=3) == draws
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hardtech",
            "claims",
            "--only",
            "H3",
            "--posterior",
            str(tmp_path / "none.duckdb"),
            "--out",
            str(tmp_path / "c.duckdb"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 2 and "no such file" in res.stderr and not (tmp_path / "c.duckdb").exists()
