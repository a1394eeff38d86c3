"""Tests for hardtech.analysis.report.write_report."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from hardtech.analysis.report import PLOT_TITLES, write_report

PLOTLY_MARKER = "* plotly.js v"  # banner at the top of the plotly.js bundle
REGIONS = ["hangzhou", "shenzhen", "rest_of_world"]
FIELDS = ["robotics", "ai_chips", "batteries"]


def _tables(n_steps: int = 12) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(0)
    steps = np.arange(n_steps)
    quarters = [f"{2012 + s // 4}Q{s % 4 + 1}" for s in steps]
    idx = pd.MultiIndex.from_product([steps, REGIONS, FIELDS], names=["step", "region", "field"]).to_frame(index=False)
    n = len(idx)
    step_metrics = idx.assign(
        quarter=[quarters[s] for s in idx["step"]],
        year=2012.0 + idx["step"] * 0.25,
        dragons=(idx["step"] // 4).astype(int),
        invested=rng.uniform(0, 50, n),
        returned=rng.uniform(0, 20, n),
        gap_to_frontier=np.where(rng.random(n) < 0.1, np.nan, rng.uniform(0, 1, n)),
        firms=rng.integers(0, 100, n),
        unused_extra=1,
    )
    ridx = pd.MultiIndex.from_product([steps, REGIONS], names=["step", "region"]).to_frame(index=False)
    region_metrics = ridx.assign(
        quarter=[quarters[s] for s in ridx["step"]],
        year=2012.0 + ridx["step"] * 0.25,
        talent=rng.integers(1000, 2000, len(ridx)),
        arrivals=rng.integers(0, 50, len(ridx)),
        departures=rng.integers(0, 50, len(ridx)),
        investor_capital=rng.uniform(100, 500, len(ridx)),
        wage=1.0,
    )
    fidx = pd.MultiIndex.from_product([steps, FIELDS], names=["step", "field"]).to_frame(index=False)
    field_metrics = fidx.assign(
        quarter=[quarters[s] for s in fidx["step"]],
        year=2012.0 + fidx["step"] * 0.25,
        frontier=np.linspace(1, 2, len(fidx)),
        maturity=np.linspace(0, 1, len(fidx)),
        adoption=np.linspace(0, 0.5, len(fidx)),
        demand=1.0,
    )
    return {"step_metrics": step_metrics, "region_metrics": region_metrics, "field_metrics": field_metrics}


def _summary(dragons: list[dict] | None = None) -> dict:
    return {
        "meta": {"scenario": "hangzhou", "seed": 42, "scale": 0.1, "steps": 12},
        "dragons": dragons
        if dragons is not None
        else [
            {
                "firm_id": 17,
                "region": "hangzhou",
                "field": "robotics",
                "founded": "2012Q2",
                "dragon_quarter": "2014Q1",
                "valuation_musd": 1234.5,
            },
        ],
        "regions": [
            {"region": r, "firms": 10 + i, "dragons": i, "talent": 1000.0 * (i + 1)} for i, r in enumerate(REGIONS)
        ],
    }


def _strip_plotlyjs(text: str) -> str:
    """The report without the inlined plotly.js bundle (whose code holds default URLs)."""
    return re.sub(r"<script[^>]*>/\*\*\s*\n\* plotly\.js v.*?</script>", "", text, flags=re.S)


def test_report_written(tmp_path):
    out = write_report(tmp_path / "sub" / "report.html", "Run <one> & two", _summary(), _tables())
    assert out.exists() and out == tmp_path / "sub" / "report.html"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "Run &lt;one&gt; &amp; two" in text
    for title in PLOT_TITLES.values():
        assert title in text
    # plotly.js is inlined exactly once
    assert text.count(PLOTLY_MARKER) == 1
    assert text.count("Plotly.newPlot(") == len(PLOT_TITLES)
    # nothing loaded from the network: no external scripts/styles, no CDN outside the bundle's own code
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    rest = _strip_plotlyjs(text)
    assert PLOTLY_MARKER not in rest and len(rest) < len(text) // 2
    assert "cdn." not in rest and "https://cdn" not in rest
    # tables
    assert "1,234.5" in text and "2014Q1" in text
    for region in REGIONS:
        assert region in text
    assert "no dragons" not in text
    assert "seed" in text and "42" in text


def test_no_dragons(tmp_path):
    text = write_report(tmp_path / "r.html", "t", _summary(dragons=[]), _tables()).read_text()
    assert "no dragons" in text


def test_empty_tables_are_skipped_with_note(tmp_path):
    tables = _tables()
    tables["field_metrics"] = tables["field_metrics"].iloc[0:0]
    tables["step_metrics"] = tables["step_metrics"].drop(columns=["gap_to_frontier"])
    del tables["region_metrics"]
    text = write_report(tmp_path / "r.html", "t", _summary(), tables).read_text()
    for title in PLOT_TITLES.values():
        assert title in text
    assert "table field_metrics is empty" in text
    assert "gap_to_frontier" in text
    assert text.count(PLOTLY_MARKER) == 1  # still exactly once: inlined with the first drawn chart
    assert text.count("Plotly.newPlot(") == 2  # dragons and capital (invested/returned only)


def test_everything_empty(tmp_path):
    text = write_report(tmp_path / "r.html", "t", {}, {}).read_text()
    assert "no dragons" in text
    assert PLOTLY_MARKER not in text
    assert "Plotly.newPlot(" not in text


@pytest.mark.parametrize("n_steps", [1, 5])
def test_short_runs(tmp_path, n_steps):
    text = write_report(tmp_path / "r.html", "t", _summary(), _tables(n_steps)).read_text()
    assert text.count(PLOTLY_MARKER) == 1


@pytest.mark.parametrize(
    ("rows", "cols", "titles", "h", "v", "shared"),
    [
        (1, 2, ("maturity", "adoption (demand)"), 0.08, 0.0, False),
        (1, 3, ("mean over fields", "a", "b"), 0.06, 0.0, True),
        (2, 2, ("mean over fields", "a", "b"), 0.06, 0.16, True),  # a panel without a title
        (2, 3, ("mean over fields", "a", "b", "c", "d", "e"), 0.06, 0.16, True),
        (3, 3, tuple("abcdefg"), 0.06, 0.16, True),
        (3, 2, ("", "x", "y", "z", "w", "v"), 0.1, 0.05, False),
    ],
)
def test_the_report_grid_is_plotlys_make_subplots(rows, cols, titles, h, v, shared):
    """The report writes figures as dicts; its subplot grid must be what make_subplots gives."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from hardtech.analysis.report import _Grid

    expected = make_subplots(
        rows=rows,
        cols=cols,
        subplot_titles=titles,
        horizontal_spacing=h,
        vertical_spacing=v,
        shared_xaxes=shared,
    )
    expected.update_yaxes(title_text="gap", row=rows, col=cols)
    expected.update_xaxes(title_text="year")
    grid = _Grid(rows, cols, titles, horizontal_spacing=h, vertical_spacing=v, shared_xaxes=shared)
    grid.update("y", rows, cols, title={"text": "gap"})
    grid.update("x", title={"text": "year"})
    layout = expected.to_dict()["layout"]
    layout.pop("template")
    assert grid.layout == layout
    assert go.Layout(grid.layout)  # valid for plotly's schema too (raises if not)
    # a trace in the last panel lands on the axes make_subplots gives it
    expected.add_scatter(x=[1], y=[2], row=rows, col=cols)
    trace = expected.to_dict()["data"][0]
    assert {k: trace[k] for k in ("xaxis", "yaxis")} == grid.axes(rows, cols)


def test_report_figures_are_valid_plotly_figures(tmp_path):
    """Every figure dict passes plotly's own validation and keeps the report's template and size."""
    import plotly.graph_objects as go

    from hardtech.analysis.report import _PLOTS, _ready

    tables = _tables()
    for key, build in _PLOTS.items():
        fig = build(tables)
        assert isinstance(fig, dict), key
        checked = go.Figure(_ready(fig))  # raises on any property plotly does not know
        assert checked.layout.template.layout.paper_bgcolor == "white"  # plotly_white
        assert checked.layout.height >= 420 and checked.layout.legend.orientation == "h"
        assert len(checked.data) == len(fig["data"]) > 0


def test_charts_from_arrow_tables_are_the_charts_from_dataframes():
    """``hardtech run`` hands the report Arrow tables, the dashboard DataFrames: the figures must not differ."""
    import pyarrow as pa

    from hardtech.analysis.report import _PLOTS

    frames = _tables()
    arrow = {k: pa.Table.from_pandas(df, preserve_index=False) for k, df in frames.items()}
    for key, build in _PLOTS.items():
        a, b = build(frames), build(arrow)
        assert len(a["data"]) == len(b["data"]) > 0, key
        for ta, tb in zip(a["data"], b["data"], strict=True):
            assert {k: v for k, v in ta.items() if k not in "xy"} == {k: v for k, v in tb.items() if k not in "xy"}
            for axis in "xy":
                assert ta[axis].dtype == tb[axis].dtype and np.array_equal(ta[axis], tb[axis], equal_nan=True), key


@pytest.mark.parametrize("dtype", [float, int])
def test_chart_aggregates_are_pandas_groupby(dtype):
    """Sums and means by key as pandas' groupby gives them: NaN keys dropped, NaN values skipped, keys sorted."""
    from hardtech.analysis.report import _mean_by, _sum_by

    rng = np.random.default_rng(5)
    keys = rng.choice([2013.25, 2012.0, 2012.5, np.nan, 2020.75], size=400)
    values = rng.normal(100, 40, 400).astype(dtype) if dtype is int else rng.normal(100, 40, 400)
    if dtype is float:
        values[rng.random(400) < 0.2] = np.nan
        values[keys == 2020.75] = np.nan  # a key whose values are all missing: sum 0, mean NaN
    frame = pd.DataFrame({"k": keys, "v": values})
    expected_sum = frame.groupby("k")["v"].sum()
    expected_mean = frame.groupby("k")["v"].mean()
    got_keys, got_sum = _sum_by(keys, values)
    assert np.array_equal(got_keys, expected_sum.index.to_numpy())
    assert got_sum.dtype == expected_sum.dtype
    np.testing.assert_allclose(got_sum, expected_sum.to_numpy(), rtol=1e-13)
    mean_keys, got_mean = _mean_by(keys, values)
    assert np.array_equal(mean_keys, expected_mean.index.to_numpy())
    np.testing.assert_allclose(got_mean, expected_mean.to_numpy(), rtol=1e-13)
