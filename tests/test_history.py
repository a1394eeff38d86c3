"""History: the panel file, the pattern targets (known inputs -> known values) and `hardtech history`."""

import json
import subprocess
import sys

import duckdb
import numpy as np
import pandas as pd
import pytest
import tomllib

from hardtech.evidence import history as h
from hardtech.scenario import load

RULE = h.Rule()


def frame(rows):
    return pd.DataFrame(rows, columns=["region", "field", "founded", "dragon_year"])


# a hand-made panel (already a dragons frame) and a hand-made model output
PANEL = frame(
    [
        ("beijing", "ai_models", 2011, 2017),
        ("beijing", "ai_models", 2012, 2018),
        ("beijing", "games", 2019, 2023),
        ("shanghai", "games", 2014, 2021),
        ("shanghai", "ai_models", 2021, 2023),
        ("hangzhou", "spatial_design", 2011, 2019),
        ("hangzhou", "bci", 2015, 2023),
        ("hangzhou", "ai_models", 2023, 2025),
        ("us_hub", "ai_models", 2015, 2019),
        ("us_hub", "bci", 2016, 2020),
    ]
)
MODEL = frame(
    [
        ("shanghai", "games", 2010, 2016),
        ("shanghai", "games", 2013, 2018),
        ("shanghai", "bci", 2013, 2022),
        ("beijing", "ai_models", 2012, 2015),
        ("hangzhou", "games", 2014, 2020),
        ("hangzhou", "games", 2016, 2024),
        ("us_hub", "ai_models", 2012, 2014),
        ("us_hub", "ai_models", 2012, 2021),
        ("us_hub", "games", 2015, 2022),
        ("us_hub", "games", 2018, 2030),  # after 2025: outside every target window
    ]
)
CHINA = ("hangzhou", "shenzhen", "beijing", "shanghai")


def target(kind, **kw):
    base = dict(id="X", name="x", split="held_out", kind=kind, observed=0.0, lo=0.0, hi=1.0)
    return h.Target(**(base | kw))


def test_the_rule_keeps_only_young_firms_in_the_model_window():
    rows = frame(
        [
            ("hangzhou", "games", 2006, 2014),  # founded before the model's oldest start-ups
            ("hangzhou", "games", 2010, 2021),  # 11 years: too old
            ("hangzhou", "games", 2005, 2011),  # before 2012 and too early founded
            ("hangzhou", "games", 2020, 2026),  # after the panel's last year
            ("hangzhou", "games", 2015, None),  # never reached the threshold
            ("hangzhou", "games", 2007, 2017),  # exactly 10 years: kept
            ("hangzhou", "games", 2012, 2012),
        ]
    )  # kept
    kept = h.apply_rule(rows, RULE)
    assert kept[["founded", "dragon_year"]].values.tolist() == [[2007, 2017], [2012, 2012]]


@pytest.mark.parametrize(
    "t, model_value, panel_value",
    [
        (target("count", regions=CHINA, to_year=2019), 3.0, 3.0),
        (target("count", regions=("us_hub",), from_year=2020, to_year=2025), 2.0, 1.0),
        (target("leader", region="beijing", regions=CHINA, to_year=2019), 0.0, 1.0),
        (target("leader", region="shanghai", regions=CHINA, to_year=2019), 1.0, 0.0),
        (target("fields", region="hangzhou", to_year=2025), 1.0, 3.0),
        (
            target("years_to_dragon", regions=CHINA + ("us_hub",), to_year=2019),
            4.0,
            6.0,
        ),  # model 6,5,3,2; panel 6,6,8,4
        (target("years_to_dragon", regions=CHINA + ("us_hub",), from_year=2020, to_year=2025), 8.0, 4.0),
        (target("founding_median", region="hangzhou", from_year=2020, to_year=2025), 2015.0, 2019.0),
        (target("within_factor", regions=CHINA + ("us_hub",), from_year=2020, to_year=2025), 4.0, 5.0),
    ],
)
def test_targets_give_known_values_on_hand_made_panel_and_model(t, model_value, panel_value):
    assert h.statistic(t, MODEL, PANEL) == model_value
    assert h.statistic(t, PANEL, PANEL) == panel_value


def test_rank_correlation_and_within_factor_compare_with_the_panel():
    # by 2025: panel beijing 3, hangzhou 3, shanghai 2, shenzhen 0; model shanghai 3, hangzhou 2, beijing 1, shenzhen 0
    t = target("rank_corr", regions=CHINA, to_year=2025)
    rho = h.statistic(t, MODEL, PANEL)
    expected = pd.Series([2, 0, 1, 3]).corr(pd.Series([3, 0, 3, 2]), method="spearman")
    assert rho == pytest.approx(expected) and rho < 0.8
    assert h.statistic(t, PANEL, PANEL) == pytest.approx(1.0)
    assert np.isnan(h.statistic(t, frame([]), PANEL))  # no dragons at all: no ranking, never "met"
    # within a factor of 2, 2020-2025: panel hz 2, sh 2, bj 1, sz 0, us 1; model hz 2, sh 1, bj 0, sz 0, us 2
    # -> hangzhou yes, shanghai yes (1 >= 2/2), beijing no (0 < 1/2), shenzhen yes (0 <= 1), us yes (2 <= 2)
    assert (
        h.statistic(target("within_factor", regions=CHINA + ("us_hub",), from_year=2020, to_year=2025), MODEL, PANEL)
        == 4.0
    )


def test_net_inflow_is_arrivals_minus_departures_over_mean_talent_per_year():
    rm = pd.DataFrame(
        {
            "region": ["hangzhou"] * 8 + ["beijing"] * 8,
            "year": [2019, 2019, 2019, 2019, 2020, 2020, 2020, 2020] * 2,
            "arrivals": [0] * 4 + [30, 30, 30, 30] + [5] * 8,
            "departures": [9] * 4 + [10, 10, 10, 10] + [0] * 8,
            "talent": [1000.0] * 8 + [500.0] * 8,
        }
    )
    assert h.net_inflow(rm, "hangzhou", 2020, 2020) == pytest.approx(100 * 80 / 1000 / 1.0)
    assert h.net_inflow(rm, "hangzhou", 2019, 2020) == pytest.approx(100 * (80 - 36) / 1000 / 2.0)
    t = target("net_inflow", region="hangzhou", from_year=2020, to_year=2020, observed=1.4)
    assert h.statistic(t, MODEL, PANEL, lambda r, a, b: h.net_inflow(rm, r, a, b)) == pytest.approx(8.0)
    assert h.statistic(t, PANEL, PANEL) == 1.4  # the panel side: the declared sourced figure


def test_model_dragons_read_years_from_the_quarter_labels():
    class Fake:
        def frame(self, name):
            assert name == "dragons"
            return pd.DataFrame(
                {
                    "region": ["hangzhou", "us_hub"],
                    "field": ["bci", "games"],
                    "founded_quarter": ["2009Q3", "2020Q1"],
                    "dragon_quarter": ["2019Q2", "2026Q1"],
                }
            )

    d = h.model_dragons(Fake(), RULE)
    assert d.values.tolist() == [["hangzhou", "bci", 2009, 2019]]  # 2026 is after the panel's window


def test_panel_file_is_well_formed():
    panel = h.load_panel()
    sc = load("hangzhou")
    assert list(panel.columns) == list(h.PANEL_COLUMNS)
    assert len(panel) >= 40 and panel.name.is_unique
    assert panel.source.str.strip().str.len().gt(10).all(), "every row names its source"
    assert panel.grade.isin(h.GRADES).all() and panel.basis.isin(h.BASES).all()
    assert set(panel.region) <= set(sc.regions) and set(panel.founding_region) <= set(sc.regions)
    assert set(panel.field) <= set(sc.fields)
    founded, year = panel.founded.dropna(), panel.dragon_year.dropna()
    assert founded.between(1980, 2025).all() and year.between(2000, 2025).all()
    both = panel.dropna(subset=["founded", "dragon_year"])
    assert (both.dragon_year >= both.founded).all()
    # rows without a dragon year say why (a note), and firms that moved say so
    assert panel[panel.dragon_year.isna()].note.notna().all()
    assert (panel[panel.founding_region != panel.region].note.str.contains("Hangzhou|Shenzhen|Boston")).all()
    assert panel[panel.region.isin(["hangzhou", "shenzhen", "beijing", "shanghai"])].shape[0] >= 20


def test_declared_targets_match_the_panel_and_split_correctly():
    rule, targets = h.load_targets()
    assert len(targets) >= 6 and sum(t.held_out for t in targets) >= 3
    declared = h.panel_values()
    for t in targets:
        assert declared[t.id] == pytest.approx(t.observed), t.id
        assert t.lo <= t.hi
        if t.split == "calibration":
            assert t.to_year <= 2019, f"{t.id} is a calibration target but sees data after 2019"
        else:
            assert t.to_year >= 2020
    assert rule.min_founded == load("hangzhou").time.start_year - 5  # initial start-ups: up to 20 quarters old


def test_city_counts_name_index_year_and_definition():
    counts = pd.read_csv(h._data("history_city_counts.csv"))
    assert counts[["index", "as_of", "definition", "source"]].notna().all().all()
    assert counts.grade.isin(h.GRADES).all()
    for _, row in counts.dropna(subset=["beijing", "shanghai"]).iterrows():
        assert row.beijing > row.shanghai  # every public count puts Beijing first


def hardtech(*args, cwd):
    return subprocess.run([sys.executable, "-m", "hardtech", *args], capture_output=True, text=True, cwd=cwd)


def test_history_cli_json_store_and_report(tmp_path):
    store = tmp_path / "h.duckdb"
    proc = hardtech("history", "--set", "scale=0.002", "-r", "2", "--json", "--out", str(store), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    rows = doc["targets"]
    assert len(rows) >= 6 and sum(r["held_out"] for r in rows) >= 3
    for r in rows:
        assert {"observed", "lo", "hi", "model_median", "model_p10", "model_p90", "share_met"} <= set(r)
        assert 0.0 <= r["share_met"] <= 1.0
    con = duckdb.connect(str(store), read_only=True)
    assert con.execute("SELECT count(*) FROM history_targets").fetchone()[0] == len(rows)
    assert con.execute("SELECT count(DISTINCT replication) FROM history_values").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM history_timeline WHERE region = 'hangzhou'").fetchone()[0] == 2 * 24
    con.close()
    page = store.with_suffix(".html").read_text(encoding="utf-8")
    assert "Dragons per region per year" in page and "held out" in page and "panel (real firms)" in page


def test_history_is_the_same_whatever_the_worker_count():
    from concurrent.futures import ProcessPoolExecutor

    sc = load("hangzhou", {"scale": 0.002})
    one = h.run_history(sc, replications=2)
    with ProcessPoolExecutor(2) as pool:
        two = h.run_history(sc, replications=2, executor=pool)
    pd.testing.assert_frame_equal(one.values, two.values)
    pd.testing.assert_frame_equal(one.timeline, two.timeline)


def test_history_cli_bad_input_exits_2_and_writes_nothing(tmp_path):
    store = tmp_path / "h.duckdb"
    proc = hardtech("history", "--set", "time.end_year=2020", "--out", str(store), cwd=tmp_path)
    assert proc.returncode == 2 and "2012-2025" in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and not store.exists()
    proc = hardtech("history", "--set", "scale=0.002", "--out", str(tmp_path / "x.db"), cwd=tmp_path)
    assert proc.returncode == 2 and "--out" in proc.stderr


def test_targets_file_parses_with_tomllib():
    doc = tomllib.loads(h._data("history_targets.toml").read_text(encoding="utf-8"))
    assert "declared" not in doc and doc["rule"]["max_age_years"] == load("hangzhou").dragon.max_age_years
