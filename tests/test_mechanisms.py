"""Each mechanism against what it must do: closed forms, conservation, directions."""

import numpy as np
import pandas as pd
import pytest

import hardtech
from hardtech.analysis.outcomes import outcomes
from hardtech.model.market import bass_adoption, bass_advance
from hardtech.model.technology import maturity_of
from hardtech.scenario import load

SCALE = 0.003


# -- closed forms ---------------------------------------------------------------------
def test_bass_closed_form_matches_the_textbook_values():
    p, q = 0.03, 0.38
    peak = np.log(q / p) / (p + q)
    assert peak == pytest.approx(6.19, abs=0.01)
    assert bass_adoption(peak, p, q) == pytest.approx(0.4605, abs=1e-3)
    assert bass_adoption(10.0, p, q) == pytest.approx(0.813, abs=1e-3)


def test_quarterly_bass_steps_follow_the_closed_form():
    a = np.zeros(1)
    for _ in range(40):
        a = bass_advance(a, 0.03, 0.38, 0.25)
    assert a[0] == pytest.approx(bass_adoption(10.0, 0.03, 0.38), rel=1e-9)


def test_model_demand_is_bass_after_onset(small_run):
    sc = small_run.scenario
    fm = small_run.field_metrics
    for name, fld in sc.fields.items():
        g = fm[fm.field == name].reset_index(drop=True)
        started = g.index[g.demand_started]
        if len(started) == 0:
            continue
        onset = started[0]
        years = (g.index[onset:] - onset) / 4.0
        expected = bass_adoption(years.to_numpy(), fld.bass_p, fld.bass_q)
        assert np.allclose(g.adoption.iloc[onset:].to_numpy(), expected, rtol=1e-9, atol=1e-12), name
        assert (g.adoption.iloc[:onset] == 0).all()


def test_maturity_is_the_logistic_of_the_frontier(small_run):
    sc = small_run.scenario
    fm = small_run.field_metrics
    for name, fld in sc.fields.items():
        g = fm[fm.field == name]
        expected = maturity_of(g.frontier.to_numpy(), fld.maturity_midpoint, fld.maturity_steepness)
        assert np.allclose(g.maturity.to_numpy(), expected)
        assert (np.diff(g.frontier.to_numpy()) >= 0).all()  # knowledge is not lost


# -- conservation -------------------------------------------------------------------------
def test_talent_is_conserved_by_region_and_field(small_run):
    sm = small_run.metrics.sort_values(["region", "field", "step"])
    for (_region, _field), g in sm.groupby(["region", "field"]):
        flows = (g.graduates + g.talent_in - g.talent_out - g.retirements).to_numpy()
        stock = g.talent.to_numpy()
        initial = stock[0] - flows[0]
        assert np.allclose(stock, initial + np.cumsum(flows), atol=1e-6)
    per_step = sm.groupby("step")[["talent_in", "talent_out"]].sum()
    assert np.allclose(per_step.talent_in, per_step.talent_out)  # every move leaves one region for another
    assert sm.talent_in.sum() > 0 and sm.graduates.sum() > 0 and sm.retirements.sum() > 0


def test_money_is_accounted_for_every_quarter(small_run):
    ledger = small_run.frame("ledger")
    for _step, g in ledger.groupby("step"):
        amounts = dict(zip(g.account, g.amount, strict=True))
        sources = sum(v for k, v in amounts.items() if k.startswith("source:"))
        sinks = sum(v for k, v in amounts.items() if k.startswith("sink:"))
        change = amounts["stock:after"] - amounts["stock:before"]
        assert change == pytest.approx(sources - sinks, rel=1e-9, abs=1e-6 * amounts["stock:after"])
    accounts = set(ledger.account)
    assert {"source:revenue", "source:exit_proceeds", "sink:operating_costs", "source:lp_inflow"} <= accounts


def test_dragons_are_young_and_above_threshold(small_run):
    sc = small_run.scenario
    d = small_run.dragons
    assert len(d) > 0
    thresholds = d.field.map({k: f.dragon_threshold for k, f in sc.fields.items()})
    assert (d.valuation_musd >= thresholds).all()
    founded = d.founded_quarter.str.slice(0, 4).astype(int) * 4 + d.founded_quarter.str.slice(5).astype(int)
    became = d.dragon_quarter.str.slice(0, 4).astype(int) * 4 + d.dragon_quarter.str.slice(5).astype(int)
    assert ((became - founded) <= sc.dragon.max_age_years * 4).all()
    assert d.firm_id.is_unique


# -- determinism --------------------------------------------------------------------------
def _frames(result):
    return {k: result.frame(k) for k in ("step_metrics", "firm_events", "firms", "ledger")}


def test_same_seed_gives_identical_tables(small_run):
    again = hardtech.run("hangzhou", seed=7, overrides={"scale": SCALE})
    for name, frame in _frames(small_run).items():
        pd.testing.assert_frame_equal(frame, _frames(again)[name], check_exact=True)
    assert again.run_id == small_run.run_id


def test_other_seeds_and_replications_differ(small_run):
    other_seed = hardtech.run("hangzhou", seed=8, overrides={"scale": SCALE})
    other_rep = hardtech.run("hangzhou", seed=7, replication=1, overrides={"scale": SCALE})
    base = small_run.metrics
    for other in (other_seed, other_rep):
        assert not base[["births", "talent"]].equals(other.metrics[["births", "talent"]])
        assert other.run_id != small_run.run_id


# -- directions: each mechanism moves outputs the way it should ------------------------------
def _mean_outcomes(overrides: dict, seeds=(1, 2, 3)) -> dict[str, float]:
    runs = []
    for seed in seeds:
        r = hardtech.run("hangzhou", seed=seed, overrides={"scale": SCALE, **overrides})
        o = outcomes({k: r.frame(k) for k in ("step_metrics", "region_metrics", "field_metrics")})
        sm = r.metrics
        china = sm[(sm.region.isin(["hangzhou", "shenzhen", "beijing", "shanghai"])) & (sm.step == sm.step.max())]
        o["dependency_china_end"] = float(np.average(china.foreign_dependency, weights=china.headcount))
        ledger = r.frame("ledger")
        o["substitution_rd"] = float(ledger.loc[ledger.account == "sink:substitution_rd", "amount"].sum())
        runs.append(o)
    return {k: float(np.mean([r[k] for r in runs])) for k in runs[0]}


@pytest.fixture(scope="module")
def baseline():
    return _mean_outcomes({})


def test_spillovers_off_means_fewer_dragons_and_wider_gaps(baseline):
    off = _mean_outcomes({"innovation.spillovers": False})
    assert off["dragons"] < 0.7 * baseline["dragons"]
    assert off["gap_end"] > baseline["gap_end"]


def test_dearer_hangzhou_loses_talent_and_startups(baseline):
    dear = _mean_outcomes({"regions.hangzhou.living_cost": 2.0})
    assert dear["net_inflow_hangzhou"] < baseline["net_inflow_hangzhou"] - 1.0
    # fewer people come and stay, and staff cost more: fewer startups (living cost no longer
    # enters the founding chance directly, so the fall is milder than the inflow's)
    assert dear["births_hangzhou"] < 0.9 * baseline["births_hangzhou"]
    # the other regions are not the ones that pay
    assert dear["births_beijing"] > 0.9 * baseline["births_beijing"]


def test_without_the_blockade_chinese_firms_keep_foreign_inputs(baseline):
    free = _mean_outcomes({"decoupling.enabled": False})
    assert free["dependency_china_end"] > baseline["dependency_china_end"] + 0.03
    assert free["substitution_rd"] == 0.0 < baseline["substitution_rd"]  # no pressure, no substitution R&D


def test_scenario_scale_changes_agents_not_units():
    small = load("hangzhou", {"scale": 0.002})
    big = load("hangzhou", {"scale": 0.004})
    from hardtech.model import HardtechModel

    a, b = HardtechModel(small), HardtechModel(big)
    assert len(b.world.talent) == pytest.approx(2 * len(a.world.talent), rel=0.01)
    persons_a = len(a.world.talent) * a.world.weight
    persons_b = len(b.world.talent) * b.world.weight
    assert persons_a == pytest.approx(persons_b, rel=0.01)


@pytest.mark.parametrize(("offered", "expected"), [(4.0, "above"), (0.25, "below"), (1.0, "at")])
def test_venture_prices_follow_the_money_on_offer_per_dollar_asked(offered, expected):
    """capital.price_deals: abundance a in every pool moves prices a quarter of the way to a^0.2."""
    from hardtech.model import HardtechModel, capital

    world = HardtechModel(load("hangzhou", {"scale": 0.002})).world
    world.cut = {"market": np.zeros((len(world.bloc_names),) * 2)}
    world.flows = {"offered": np.full(world.n_regions, offered), "asked": np.ones(world.n_regions)}
    capital.price_deals(world)
    assert world.deal_price == pytest.approx(1.0 + 0.25 * (offered**0.2 - 1.0))
    assert {"above": world.deal_price > 1, "below": world.deal_price < 1, "at": world.deal_price == 1}[expected].all()


def test_venture_prices_ignore_money_when_capital_is_never_scarce():
    from hardtech.model import HardtechModel, capital

    world = HardtechModel(load("hangzhou", {"scale": 0.002, "capital.constrained": False})).world
    world.flows = {"offered": np.full(world.n_regions, 4.0), "asked": np.ones(world.n_regions)}
    capital.price_deals(world)
    assert (world.deal_price == 1.0).all()


@pytest.mark.xfail(
    raises=ValueError,
    strict=True,
    reason="known defect (docs/ODD.md §9): the market's revenue split underflows when every supplier of a "
    "bloc's home market is far behind the world frontier; fixing it is a model change",
)
def test_market_split_survives_a_far_behind_bloc():
    """At a plausible point of the H5/H8 robustness study a whole run finishes with finite revenue.

    tests/data/overflow-market-split.toml says what happens there. Strict: once the split is computed
    stably this passes, and the marker must go with the fix.
    """
    from pathlib import Path

    sc = load(Path(__file__).parent / "data" / "overflow-market-split.toml")
    result = hardtech.run(sc, replication=0)
    assert np.isfinite(result.metrics["revenue"].to_numpy(float)).all()
