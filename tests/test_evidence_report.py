"""Tests for hardtech.evidence.report.write_evidence_report."""

from __future__ import annotations

import html
import re

import numpy as np
import pandas as pd
import pytest

import hardtech
from hardtech.evidence.facts import FACTS
from hardtech.evidence.report import (
    FACT_PLOT_TITLES,
    NOTES,
    SOBOL_PLOT_TITLE,
    claim_plot_title,
    write_evidence_report,
)

PLOTLY_MARKER = "* plotly.js v"  # banner at the top of the plotly.js bundle


@pytest.fixture(scope="module")
def run():
    return hardtech.run("hangzhou", seed=1, overrides={"scale": 0.002})


def _claims() -> list[dict]:
    return [
        {
            "claim": "H1",
            "title": "Temporal resonance: dragons peak <together>",
            "metric": "dragons",
            "statistic": "dragons(sync) − max(early, late)",
            "effect": 3.5,
            "lo": 1.25,
            "hi": 5.75,
            "verdict": "supported",
            "control": "market.demand_diffusion = false",
            "control_effect": 0.2,
            "control_lo": -1.0,
            "control_hi": 1.4,
            "control_gone": True,
            "replications": 8,
            "mean_early": 2.0,
            "mean_sync": 6.0,
            "mean_late": 1.0,
        },
        {
            "claim": "H6",
            "title": "Division of roles",
            "metric": "small_share_niche",
            "statistic": "niche share − platform share",
            "effect": -0.02,
            "lo": -0.04,
            "hi": 0.01,
            "verdict": "not supported",
            "control": "no scale economies",
            "control_effect": float("nan"),
            "control_lo": float("nan"),
            "control_hi": float("nan"),
            "control_gone": False,
            "replications": 8,
            "mean_base": 0.4,
        },
    ]


def _sobol() -> dict:
    return {
        "outcome": "dragons_hangzhou",
        "names": ["talent_subsidy", "startup_support", "basic_research", "procurement", "cluster_programme"],
        "S1": [0.21, 0.05, 0.12, float("nan"), 0.02],
        "S1_conf": [0.08, 0.04, 0.06, 0.05, 0.03],
        "ST": [0.45, 0.15, 0.33, 0.20, 0.07],
        "ST_conf": [0.10, 0.05, 0.08, 0.06, 0.04],
        "sum_S1": 0.4321,
        "sum_S1_lo": 0.31,
        "sum_S1_hi": 0.55,
        "verdict": "supported",
        "runs": 224,
        "threshold": 0.7,
        "mean_outcome": 12.5,
        "sd_outcome": 4.0,
    }


def _facts() -> pd.DataFrame:
    """Data shaped like ``facts.validate``: one row per fact, one of them unmeasured (NaN)."""
    rows = []
    for i, f in enumerate(FACTS):
        model = float("nan") if f.id == "F3" else (f.lo + (f.hi if np.isfinite(f.hi) else f.lo + 1)) / 2 + 0.01 * i
        if f.id == "F4":
            model = 0.9  # out of band
        rows.append(
            {
                "fact": f.id,
                "name": f.name,
                "model": model,
                "model_lo": model - 0.05,
                "model_hi": model + 0.05,
                "empirical": f.empirical,
                "band_lo": f.lo,
                "band_hi": f.hi,
                "pass": bool(np.isfinite(model) and f.lo <= model <= f.hi),
                "source": f.source,
            }
        )
    return pd.DataFrame(rows)


def _strip_plotlyjs(text: str) -> str:
    """The report without the inlined plotly.js bundle (whose code holds default URLs)."""
    return re.sub(r"<script[^>]*>/\*\*\s*\n\* plotly\.js v.*?</script>", "", text, flags=re.S)


def _assert_offline(text: str) -> None:
    assert not re.search(r"<script[^>]+src=", text)
    assert not re.search(r"<link[^>]+href=", text)
    rest = _strip_plotlyjs(text)
    assert PLOTLY_MARKER not in rest
    assert not re.search(r"https?://", rest), re.findall(r".{60}https?://.{60}", rest)[:3]


@pytest.fixture(scope="module")
def full_report(run, tmp_path_factory):
    path = tmp_path_factory.mktemp("ev") / "sub" / "evidence.html"
    out = write_evidence_report(
        path,
        title="Evidence <hangzhou> & co",
        claims=_claims(),
        sobol=_sobol(),
        facts=_facts(),
        run=run,
        meta={"scenario": "hangzhou", "seed": 1, "scale": 0.002},
    )
    assert out == path
    return out.read_text(encoding="utf-8")


def test_full_report_sections(full_report):
    text = full_report
    assert text.startswith("<!DOCTYPE html>")
    assert "Evidence &lt;hangzhou&gt; &amp; co" in text
    assert "scenario" in text and "0.002" in text
    for c in _claims():
        assert f"<td>{c['claim']} " in text
        assert html.escape(claim_plot_title(c)) in text
    for f in FACTS:
        assert f"<td>{f.id}</td>" in text
    for title in FACT_PLOT_TITLES.values():
        assert html.escape(title) in text
    assert SOBOL_PLOT_TITLE in text
    for note in NOTES.values():
        assert note not in text
    assert "Could not draw" not in text


def test_full_report_tables(full_report):
    text = full_report
    assert "3.5 [1.25, 5.75]" in text  # effect with interval
    assert '<span class="ok">supported</span>' in text and '<span class="bad">not supported</span>' in text
    assert "<td>yes</td>" in text and "<td>no</td>" in text  # control gone
    assert "–" in text  # NaN control effect and unmeasured F3
    assert "0.4321 [0.31, 0.55]" in text  # ΣS1 stated with its interval
    assert "talent_subsidy" in text and "0.21 ± 0.08" in text
    assert '<span class="ok">✓</span>' in text and '<span class="bad">✗</span>' in text
    assert "[0, ∞)" in text and "[0.8, 1.3]" in text  # bands, one open


def test_full_report_plots_offline(full_report):
    text = full_report
    assert text.count(PLOTLY_MARKER) == 1  # plotly.js inlined exactly once
    n_plots = len(_claims()) + 1 + len(FACT_PLOT_TITLES)
    assert text.count("Plotly.newPlot(") == n_plots
    _assert_offline(text)


def test_no_inputs_notes(tmp_path):
    out = write_evidence_report(tmp_path / "e.html", title="t", claims=None, sobol=None, facts=None, run=None, meta={})
    text = out.read_text(encoding="utf-8")
    for note in NOTES.values():
        assert html.escape(note) in text
    assert PLOTLY_MARKER not in text and "Plotly.newPlot(" not in text
    _assert_offline(text)


def test_empty_inputs_and_nan(tmp_path):
    nan = float("nan")
    claims = [
        {
            "claim": "H9",
            "title": "Cluster cooperation",
            "effect": nan,
            "lo": nan,
            "hi": nan,
            "verdict": None,
            "control_effect": None,
            "control_gone": None,
        }
    ]
    sobol = {
        "outcome": "x",
        "names": ["a", "b"],
        "S1": [nan],
        "S1_conf": None,
        "ST": [nan, 0.1],
        "ST_conf": [nan, nan],
        "sum_S1": None,
        "sum_S1_lo": None,
        "sum_S1_hi": None,
        "verdict": "inconclusive",
    }
    out = write_evidence_report(
        tmp_path / "e.html", title="t", claims=claims, sobol=sobol, facts=pd.DataFrame(), run=None, meta={"note": None}
    )
    text = out.read_text(encoding="utf-8")
    assert "H9" in text and "No finite effect" in text
    assert SOBOL_PLOT_TITLE in text and text.count("Plotly.newPlot(") == 1
    assert html.escape(NOTES["facts"]) in text and html.escape(NOTES["run"]) in text
    assert html.escape(NOTES["claims"]) not in text
    _assert_offline(text)
    empty = write_evidence_report(tmp_path / "f.html", title="t", claims=[], sobol={}, facts=None, run=None, meta={})
    text = empty.read_text(encoding="utf-8")
    assert html.escape(NOTES["claims"]) in text and html.escape(NOTES["sobol"]) in text
