"""Self-contained HTML report of the evidence: claims, sensitivity and stylized facts.

:func:`write_evidence_report` writes one HTML file with

* a header and the metadata table;
* the claims (H1–H9, rows of :meth:`hardtech.evidence.claims.ClaimResult.row`):
  a table and, per claim, the effect and its control as two horizontal error
  bars on a shared axis with a zero line;
* the Sobol indices of the policy levers (H10, the dict of
  :func:`hardtech.evidence.interactions.lever_sobol`): a table, a bar chart of
  first- and total-order indices with error bars, and the sum of the
  first-order indices;
* the stylized facts (the frame of :func:`hardtech.evidence.facts.validate`):
  a table and, given a run, one diagnostic plot per fact drawn from that run.

A section whose input is ``None`` or empty is replaced by a short note
(:data:`NOTES`). plotly.js is inlined once, with the first chart, so the file
opens offline.
"""

from __future__ import annotations

import html
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import optimize, stats

from hardtech.analysis.report import _PALETTE, _fmt, _meta_table, _note, write_page
from hardtech.evidence import facts as _facts
from hardtech.model.market import bass_adoption

if TYPE_CHECKING:
    from hardtech.runner import RunResult

__all__ = ["write_evidence_report", "claim_plot_title", "FACT_PLOT_TITLES", "SOBOL_PLOT_TITLE", "NOTES"]

FACT_PLOT_TITLES = {
    "F1": "F1 · Firm size: CCDF of non-incumbent headcount with the power-law tail",
    "F2": "F2 · Yearly log sales growth with Laplace and Gaussian fits",
    "F3": "F3 · Growth volatility against size",
    "F4/F5": "F4/F5 · Survival of new firms",
    "F6": "F6 · Exit multiples of venture deals",
    "F7": "F7 · Concentration of innovations and of employment",
    "F8": "F8 · Normalised spending by field with Bass fits",
}
SOBOL_PLOT_TITLE = "H10 · Sobol indices of the policy levers"

NOTES = {
    "claims": "No claims data: the claims were not run.",
    "sobol": "No sensitivity data: the Sobol analysis was not run.",
    "facts": "No facts data: the stylized facts were not validated.",
    "run": "No run given: the per-fact diagnostic plots are skipped.",
}

# BLS survival of new establishments: (years, share alive, source)
BLS_SURVIVAL = [(2, 0.66, "BLS, Knaup 2005"), (4, 0.44, "BLS, Knaup 2005"), (5, 0.50, "BLS BED")]

_VERDICT_CLASS = {"supported": "ok", "not supported": "bad", "inconclusive": "warn"}
_VERDICT_COLOUR = {"supported": "#2f855a", "not supported": "#c53030", "inconclusive": "#b7791f"}
_CONTROL_COLOUR = "#7b8794"

_EXTRA_CSS = """
h3 { font-size: 1rem; margin: .2rem 0 .4rem; }
.ok { color: #2f855a; font-weight: 600; }
.bad { color: #c53030; font-weight: 600; }
.warn { color: #b7791f; font-weight: 600; }
.muted { color: #7b8794; }
td.wrap { max-width: 28rem; }
td.num { white-space: nowrap; }
td.num.wrap { white-space: normal; }
nav { font-size: .9rem; margin: .2rem 0 1rem; }
nav a { margin-right: 1rem; color: #3b6fb6; text-decoration: none; }
p.stat { margin: .4rem 0; }
"""

_CONFIG = {"displaylogo": False, "responsive": True}


# -- small helpers ------------------------------------------------------------------------------


def _float(value: Any) -> float:
    """A float, NaN for None, strings and anything else not numeric."""
    if value is None or isinstance(value, (bool, np.bool_)):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("nan")


def _num(value: Any) -> float | None:
    """A finite float or None (for plotly, which draws None as a gap)."""
    x = _float(value)
    return x if math.isfinite(x) else None


def _fx(value: Any) -> str:
    """A number for the tables: ∞ for infinities, – for missing."""
    if isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_)):
        return _fmt(value)
    x = _float(value)
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    return _fmt(x)


def _interval(point: Any, lo: Any, hi: Any) -> str:
    text = _fx(point)
    if math.isfinite(_float(lo)) or math.isfinite(_float(hi)):
        text += f" [{_fx(lo)}, {_fx(hi)}]"
    return text


def _band(lo: Any, hi: Any) -> str:
    """A pass band; an open end (infinite) gets a parenthesis."""
    left = "(" if math.isinf(_float(lo)) else "["
    right = ")" if math.isinf(_float(hi)) else "]"
    return f"{left}{_fx(lo)}, {_fx(hi)}{right}"


def _yes_no(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return "yes" if bool(value) else "no"


def _td(text: str, cls: str = "") -> str:
    """A table cell from already-escaped HTML."""
    return f'<td class="{cls}">{text}</td>' if cls else f"<td>{text}</td>"


def _table(head: Sequence[str], rows: Sequence[str]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return f'<div class="scroll"><table><thead><tr>{th}</tr></thead><tbody>{"".join(rows)}</tbody></table></div>'


def _verdict_html(verdict: Any) -> str:
    text = "" if verdict is None else str(verdict)
    cls = _VERDICT_CLASS.get(text, "muted")
    return f'<span class="{cls}">{html.escape(text or "–")}</span>'


def _style(fig: go.Figure, height: int = 380, subtitle: str | None = None) -> go.Figure:
    fig.update_layout(
        template="plotly_white",
        height=height,
        margin=dict(l=60, r=20, t=60 if subtitle else 30, b=45),
        legend=dict(orientation="h", yanchor="bottom", y=1.02, x=0),
    )
    if subtitle:
        fig.update_layout(title=dict(text=subtitle, font=dict(size=13), x=0, xanchor="left", y=0.98))
    return fig


class _Plots:
    """Renders figures, inlining plotly.js with the first one only."""

    def __init__(self) -> None:
        self.included = False

    def section(self, title: str, figure: go.Figure | str, anchor: str = "") -> str:
        ident = f' id="{html.escape(anchor)}"' if anchor else ""
        head = f"<section{ident}><h3>{html.escape(title)}</h3>"
        if isinstance(figure, str):
            return head + _note(figure) + "</section>"
        body = figure.to_html(full_html=False, include_plotlyjs=not self.included, config=_CONFIG)
        self.included = True
        return head + body + "</section>"


# -- claims -------------------------------------------------------------------------------------


def claim_plot_title(row: Mapping[str, Any]) -> str:
    """The heading of a claim's plot: its id and title."""
    return f"{row.get('claim', '?')} · {row.get('title', '')}"


def _also(claim: Mapping[str, Any]) -> str:
    """A claim's side figures, ``also_<name>``.

    Each is the statistic on another metric, or a derived figure such as H5's loop gain.
    """
    return "; ".join(f"{k.removeprefix('also_')} = {_fx(v)}" for k, v in claim.items() if k.startswith("also_"))


def _verdict_of(c: Mapping[str, Any]) -> str:
    """The verdict cell's text: 'screening: <signal>' for screening runs."""
    if c.get("verdict") == "screening":
        return f"screening: {c.get('signal', '–')}"
    return str(c.get("verdict", "–"))


def _checks(c: Mapping[str, Any]) -> str:
    notes = []
    if c.get("identical_arms") or c.get("control_identical_arms"):
        notes.append("identical arms: NOT A TEST")
    if not c.get("manipulation_active", True):
        notes.append("manipulation inactive under the control")
    return "; ".join(notes) or "ok"


def _claims_table(claims: Sequence[Mapping[str, Any]]) -> str:
    head = [
        "claim",
        "statement",
        "effect [95% CI]",
        "verdict",
        "mechanism off [95% CI]",
        "gone",
        "without added rules",
        "checks",
        "margin · MDE",
        "replications",
        "also reported",
    ]
    rows = []
    for c in claims:
        control = html.escape(str(c.get("control") or ""))
        abl = c.get("ablation") or {}
        ablation = (
            html.escape(_interval(abl.get("effect"), abl.get("lo"), abl.get("hi")) + " · " + _verdict_of(abl))
            if "effect" in abl
            else "none active"
        )
        if abl.get("note"):
            ablation += f'<br><span class="muted">{html.escape(str(abl["note"]))}</span>'
        rows.append(
            "<tr>"
            + _td(html.escape(f"{c.get('claim', '')} {c.get('short', '')}"))
            + _td(html.escape(str(c.get("statement") or c.get("title", ""))), "wrap")
            + _td(html.escape(_interval(c.get("effect"), c.get("lo"), c.get("hi"))), "num")
            + _td(
                _verdict_html(c.get("signal") if c.get("verdict") == "screening" else c.get("verdict"))
                + (' <span class="muted">(screening)</span>' if c.get("verdict") == "screening" else "")
            )
            + _td(
                html.escape(_interval(c.get("control_effect"), c.get("control_lo"), c.get("control_hi")))
                + (f'<br><span class="muted">{control}</span>' if control else ""),
                "num wrap",
            )
            + _td(html.escape(_yes_no(c.get("control_gone"))))
            + _td(ablation, "wrap")
            + _td(html.escape(_checks(c)), "wrap")
            + _td(html.escape(f"{_fx(c.get('margin'))} · {_fx(c.get('mde'))}"), "num")
            + _td(html.escape(_fx(c.get("replications"))), "num")
            + _td(html.escape(_also(c)), "wrap")
            + "</tr>"
        )
    return _table(head, rows)


def _claim_figure(c: Mapping[str, Any]) -> go.Figure | str:
    abl = c.get("ablation") or {}
    arms = [
        ("mechanism off (control)", c.get("control_effect"), c.get("control_lo"), c.get("control_hi"), _CONTROL_COLOUR)
    ]
    if "effect" in abl:
        arms.append(("without the rules added for it", abl.get("effect"), abl.get("lo"), abl.get("hi"), "#9aa5b1"))
    for s in c.get("sweeps") or []:
        arms.append((str(s.get("label")), s.get("effect"), s.get("lo"), s.get("hi"), "#b7c0c9"))
    shown = c.get("signal") if c.get("verdict") == "screening" else c.get("verdict")
    arms.append(("declared", c.get("effect"), c.get("lo"), c.get("hi"), _VERDICT_COLOUR.get(str(shown), "#3b6fb6")))
    if all(_num(v) is None for _, p, lo, hi, _ in arms for v in (p, lo, hi)):
        return "No finite effect or interval to plot."
    fig = go.Figure()
    for label, p, lo, hi, colour in arms:
        x, a, b = _float(p), _float(lo), _float(hi)
        if not math.isfinite(x) and math.isfinite(a) and math.isfinite(b):
            x = (a + b) / 2  # no point estimate: centre the interval
        plus = _num(b - x) if math.isfinite(b) else None
        minus = _num(x - a) if math.isfinite(a) else None
        fig.add_trace(
            go.Scatter(
                x=[_num(x)],
                y=[label],
                mode="markers",
                name=label,
                showlegend=False,
                marker=dict(color=colour, size=11),
                error_x=dict(
                    type="data", symmetric=False, array=[plus], arrayminus=[minus], color=colour, thickness=2.5, width=8
                ),
                hovertemplate=f"{html.escape(label)}: %{{x:.4g}} [{_fx(a)}, {_fx(b)}]<extra></extra>",
            )
        )
    fig.add_vline(x=0, line=dict(color="#52606d", width=1, dash="dash"))
    margin = _float(c.get("margin"))
    if math.isfinite(margin) and margin > 0:
        for edge in (-margin, margin):
            fig.add_vline(x=edge, line=dict(color="#9aa5b1", width=1, dash="dot"))
    fig.update_xaxes(title_text=str(c.get("statistic") or "effect")[:120], zeroline=False)
    fig.update_yaxes(categoryorder="array", categoryarray=[a[0] for a in arms])
    subtitle = (
        f"verdict: {_verdict_of(c)} · control gone (inside ±margin, dotted): {_yes_no(c.get('control_gone'))}"
        f" · checks: {_checks(c)}"
    )
    return _style(fig, height=200 + 30 * len(arms), subtitle=subtitle)


def _claims_section(claims: Sequence[Mapping[str, Any]] | None, plots: _Plots) -> list[str]:
    parts = ['<h2 id="claims">Claims</h2>']
    claims = [dict(c) for c in (claims or [])]
    if not claims:
        return parts + [_note(NOTES["claims"])]
    if any(c.get("verdict") == "screening" for c in claims):
        parts.append(
            _note(
                "SCREENING: fewer than 20 paired replications (or --quick). The signs below are signals "
                "for where to look, not verdicts."
            )
        )
    parts.append(_claims_table(claims))
    parts.append(
        _note(
            "Effect: the claim's statistic (positive when the claim holds) with a paired bootstrap 95% "
            "interval (BCa from 10 replications). Mechanism off: the same statistic with the claim's causal "
            "channel switched off while its manipulation stays active; it is gone when its 90% interval "
            "lies inside ±margin. Without added rules: the claim with the rules that were added to the "
            "model for it removed. Checks: arms that ran bit-identically are not a test."
        )
    )
    for c in claims:
        if c.get("kind") == "sobol":
            continue
        parts.append(plots.section(claim_plot_title(c), _claim_figure(c), anchor=f"claim-{c.get('claim', '')}"))
        years = (c.get("tables") or {}).get("scene_years")
        if years:
            parts.append(
                _note(
                    f"{c.get('claim')}: years from founding to the first scene defined, by region "
                    "(firms founded in the run; first arm, all replications)"
                )
            )
            parts.append(
                _table(
                    ["region", "firms", "25%", "median", "75%"],
                    [
                        "<tr>"
                        + _td(html.escape(str(y["region"])))
                        + _td(str(y["firms"]), "num")
                        + "".join(_td(html.escape(_fx(y[k])), "num") for k in ("p25", "median", "p75"))
                        + "</tr>"
                        for y in years
                    ],
                )
            )
    return parts


# -- sensitivity --------------------------------------------------------------------------------


def _sobol_section(sobol: Mapping[str, Any] | None, plots: _Plots) -> list[str]:
    parts = ['<h2 id="sobol">Sensitivity (Sobol)</h2>']
    if not sobol or not list(sobol.get("names") or []):
        return parts + [_note(NOTES["sobol"])]
    names = [str(n) for n in sobol["names"]]
    k = len(names)

    def col(key: str) -> list[float]:
        values = list(sobol.get(key) or [])
        return [_float(v) for v in values[:k]] + [float("nan")] * (k - len(values[:k]))

    s1, s1c, st, stc = col("S1"), col("S1_conf"), col("ST"), col("ST_conf")
    outcome = html.escape(str(sobol.get("outcome", "outcome")))
    info = [f"outcome <b>{outcome}</b>"]
    if sobol.get("runs") is not None:
        info.append(f"{html.escape(_fx(sobol['runs']))} runs")
    if sobol.get("mean_outcome") is not None:
        info.append(f"mean {html.escape(_fx(sobol['mean_outcome']))}, sd {html.escape(_fx(sobol.get('sd_outcome')))}")
    parts.append(f'<p class="stat">{" · ".join(info)}</p>')
    rows = [
        "<tr>"
        + _td(html.escape(n))
        + _td(html.escape(f"{_fx(a)} ± {_fx(b)}"), "num")
        + _td(html.escape(f"{_fx(c)} ± {_fx(d)}"), "num")
        + "</tr>"
        for n, a, b, c, d in zip(names, s1, s1c, st, stc, strict=True)
    ]
    parts.append(_table(["factor", "first order S1 ± 95%", "total order ST ± 95%"], rows))
    total = _interval(sobol.get("sum_S1"), sobol.get("sum_S1_lo"), sobol.get("sum_S1_hi"))
    threshold = sobol.get("threshold")
    rule = (
        f" (H10 holds when the upper end is below {html.escape(_fx(threshold))}: the levers interact)"
        if threshold is not None
        else ""
    )
    parts.append(
        f'<p class="stat">Sum of first-order indices ΣS1 = <b>{html.escape(total)}</b>; '
        f"1 − ΣS1 is the share of variance due to interactions and noise{rule}. "
        f"Verdict: {_verdict_html(sobol.get('verdict'))}</p>"
    )

    fig = go.Figure()
    for label, y, err, colour in (("first order S1", s1, s1c, "#4c72b0"), ("total order ST", st, stc, "#dd8452")):
        fig.add_trace(
            go.Bar(
                x=names,
                y=[_num(v) for v in y],
                name=label,
                marker_color=colour,
                error_y=dict(type="data", array=[_num(v) for v in err], visible=True),
            )
        )
    fig.update_layout(barmode="group")
    fig.update_yaxes(title_text="share of variance", zeroline=True)
    subtitle = f"ΣS1 = {total}" + (f" · threshold {_fx(threshold)}" if threshold is not None else "")
    parts.append(plots.section(SOBOL_PLOT_TITLE, _style(fig, height=380, subtitle=subtitle), anchor="sobol-plot"))
    return parts


# -- facts: table -------------------------------------------------------------------------------


def _facts_table(facts: pd.DataFrame) -> str:
    head = ["fact", "name", "model [95% CI]", "empirical", "band", "pass", "source"]
    rows = []
    for r in facts.to_dict("records"):
        ok = r.get("pass")
        mark = (
            '<span class="ok">✓</span>'
            if ok is True or ok is np.True_
            else ('<span class="bad">✗</span>' if ok is False or ok is np.False_ else "–")
        )
        rows.append(
            "<tr>"
            + _td(html.escape(str(r.get("fact", ""))))
            + _td(html.escape(str(r.get("name", ""))), "wrap")
            + _td(html.escape(_interval(r.get("model"), r.get("model_lo"), r.get("model_hi"))), "num")
            + _td(html.escape(str(r.get("empirical", ""))), "wrap")
            + _td(html.escape(_band(r.get("band_lo"), r.get("band_hi"))), "num")
            + _td(mark)
            + _td(html.escape(str(r.get("source", ""))), "wrap")
            + "</tr>"
        )
    return _table(head, rows)


# -- facts: one plot per fact, drawn from one run -------------------------------------------------


def _plot_f1(run) -> go.Figure | str:
    sizes = _facts._final_sizes(run)
    sizes = np.sort(sizes[np.isfinite(sizes) & (sizes > 0)])[::-1]
    n = sizes.size
    if n == 0:
        return "No non-incumbent firms with positive headcount."
    ranks = np.unique(np.geomspace(1, n, min(n, 400)).astype(int))  # thin the body, keep the tail
    fig = go.Figure(
        go.Scatter(
            x=sizes[ranks - 1],
            y=ranks / n,
            mode="markers",
            name="firms (final snapshot)",
            marker=dict(size=5, color="#3b6fb6"),
        )
    )
    alpha, xmin = _facts.tail_fit(sizes)
    subtitle = f"{n:,} firms; tail exponent α = {_fx(alpha)}"
    if math.isfinite(alpha):
        p_xmin = float(np.mean(sizes >= xmin))
        xs = np.geomspace(xmin, sizes[0], 50)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=p_xmin * (xs / xmin) ** (-alpha),
                mode="lines",
                name=f"power law α = {alpha:.3g} from xmin = {xmin:.3g}",
                line=dict(color="#c53030", width=2.5),
            )
        )
        subtitle += f", fitted above xmin = {xmin:.3g} ({int((sizes >= xmin).sum()):,} firms)"
    else:
        subtitle += " (too few firms to fit)"
    fig.update_xaxes(type="log", title_text="headcount s")
    fig.update_yaxes(type="log", title_text="P(S ≥ s)")
    return _style(fig, subtitle=subtitle)


def _plot_f2(growth: pd.DataFrame, run) -> go.Figure | str:
    g = growth["g"].to_numpy(dtype=float)
    g = g[np.isfinite(g)]
    if g.size < 10:
        return "Too few firm-years with sales in two consecutive years."
    bins = int(np.clip(np.sqrt(g.size), 10, 80))
    density, edges = np.histogram(g, bins=bins, density=True)
    centres = (edges[:-1] + edges[1:]) / 2
    fig = go.Figure(
        go.Bar(
            x=centres,
            y=[d if d > 0 else None for d in density],
            width=np.diff(edges),
            name="model (density)",
            marker_color="#9fb3c8",
            marker_line_width=0,
        )
    )
    xs = np.linspace(edges[0], edges[-1], 400)
    loc, scale = stats.laplace.fit(g)
    mu, sd = stats.norm.fit(g)
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=stats.laplace.pdf(xs, loc, scale),
            mode="lines",
            name="Laplace fit",
            line=dict(color="#c53030", width=2.5),
        )
    )
    fig.add_trace(
        go.Scatter(
            x=xs,
            y=stats.norm.pdf(xs, mu, sd),
            mode="lines",
            name="Gaussian fit",
            line=dict(color="#2f855a", width=2, dash="dash"),
        )
    )
    positive = density[density > 0]
    lo = max(float(positive.min()) / 3, 1e-12)
    hi = float(max(positive.max(), stats.laplace.pdf(loc, loc, scale))) * 2
    fig.update_yaxes(type="log", range=[math.log10(lo), math.log10(hi)], title_text="density")
    fig.update_xaxes(title_text="log sales growth g = ln(S<sub>t+1</sub> / S<sub>t</sub>)")
    fig.update_layout(bargap=0)
    llr = _facts.laplace_vs_gauss(run)
    return _style(fig, subtitle=f"{g.size:,} firm-years; log-likelihood Laplace − Gauss per observation = {_fx(llr)}")


def _plot_f3(growth: pd.DataFrame, run) -> go.Figure | str:
    df = growth[np.isfinite(growth["g"]) & (growth["size"] > 0)]
    if len(df) < 20:
        return "Too few firm-years to bin by size."
    df = df.assign(bin=pd.qcut(np.log(df["size"]), 10, labels=False, duplicates="drop"))
    deciles = df.groupby("bin").agg(size=("size", "median"), sigma=("g", "std")).dropna()
    deciles = deciles[deciles.sigma > 0]
    if deciles.empty:
        return "No size decile with a spread of growth rates."
    fig = go.Figure(
        go.Scatter(
            x=deciles["size"],
            y=deciles["sigma"],
            mode="markers+lines",
            name="size deciles",
            marker=dict(size=8, color="#3b6fb6"),
            line=dict(color="#9fb3c8", width=1),
        )
    )
    beta = _facts.volatility_slope(run)
    if math.isfinite(beta):
        # intercept of the least-squares line with the measured slope −β through the decile points
        c = float(np.mean(np.log(deciles["sigma"]) + beta * np.log(deciles["size"])))
        xs = np.geomspace(deciles["size"].min(), deciles["size"].max(), 30)
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=np.exp(c) * xs ** (-beta),
                mode="lines",
                name=f"σ ∝ size^−{beta:.3g}",
                line=dict(color="#c53030", width=2.5),
            )
        )
    fig.update_xaxes(type="log", title_text="sales (last-quarter revenue, median of the size decile)")
    fig.update_yaxes(type="log", title_text="σ of yearly log growth")
    return _style(fig, subtitle=f"fitted slope: β = {_fx(beta)} (Amaral et al.: ≈ 0.20)")


def _plot_survival(run) -> go.Figure | str:
    years = np.arange(0, 11)
    share = [_num(_facts._survival_at(run, float(t))) for t in years]
    if all(s is None for s in share):
        return "No founded firms to follow."
    fig = go.Figure(
        go.Scatter(
            x=years,
            y=share,
            mode="lines+markers",
            name="model: founded firms not failed",
            line=dict(color="#3b6fb6", width=2.5),
        )
    )
    bands = {f.id: f for f in _facts.FACTS}
    bx, by = [], []
    for fid, t in (("F4", 2), ("F5", 5)):
        if fid in bands:
            bx += [t, t, None]
            by += [bands[fid].lo, bands[fid].hi, None]
    if bx:
        fig.add_trace(
            go.Scatter(
                x=bx, y=by, mode="lines", name="pass band (F4, F5)", line=dict(color="rgba(47,133,90,0.35)", width=12)
            )
        )
    fig.add_trace(
        go.Scatter(
            x=[b[0] for b in BLS_SURVIVAL],
            y=[b[1] for b in BLS_SURVIVAL],
            mode="markers+text",
            text=[f"{b[1]:.0%} ({b[2]})" for b in BLS_SURVIVAL],
            textposition="middle right",
            name="BLS",
            marker=dict(symbol="diamond", size=11, color="#c53030"),
        )
    )
    fig.update_xaxes(title_text="years since founding", dtick=1, range=[-0.3, 10.5])
    fig.update_yaxes(title_text="share alive", range=[0, 1.05], tickformat=".0%")

    def pct(x: float | None) -> str:
        return "–" if x is None else f"{x:.0%}"

    subtitle = f"model: {pct(share[2])} after 2 years, {pct(share[5])} after 5 years (exits count as survivors)"
    return _style(fig, subtitle=subtitle)


def _deal_multiples(run) -> pd.Series:
    """Multiple per finished venture deal (exited or failed; failed deals return 0), as in ``returns_from_10x``."""
    ev = run.events
    funded = ev[ev.event == "funded"].groupby("firm_id")["value"].sum()
    exits = ev[ev.event.isin(["exit_ipo", "exit_acquired"])].groupby("firm_id")["value"].sum()
    failed = ev[ev.event == "failed"]["firm_id"].unique()
    done = funded.index.intersection(exits.index.union(pd.Index(failed)))
    return exits.reindex(done).fillna(0.0)


def _plot_f6(run) -> go.Figure | str:
    multiple = _deal_multiples(run)
    multiple = multiple[np.isfinite(multiple)]
    if multiple.empty:
        return "No finished venture deals (exited or failed)."
    zero = int((multiple <= 0).sum())
    logm = np.log10(multiple[multiple > 0].to_numpy())
    fig = make_subplots(rows=1, cols=2, column_widths=[0.12, 0.88], shared_yaxes=True, horizontal_spacing=0.02)
    fig.add_trace(
        go.Bar(x=["failed (0×)"], y=[zero or None], name="failed deals", marker_color="#7b8794"), row=1, col=1
    )
    if logm.size:
        per_decade = 6
        lo, hi = math.floor(logm.min()), math.ceil(logm.max() + 1e-9)
        edges = np.linspace(lo, max(hi, lo + 1), per_decade * max(hi - lo, 1) + 1)
        counts, edges = np.histogram(logm, bins=edges)
        centres = (edges[:-1] + edges[1:]) / 2
        big = edges[:-1] >= 1.0 - 1e-9
        for mask, label, colour in ((~big, "exits below 10×", "#3b6fb6"), (big, "exits ≥ 10×", "#c53030")):
            fig.add_trace(
                go.Bar(
                    x=centres[mask],
                    y=[int(c) if c > 0 else None for c in counts[mask]],
                    width=np.diff(edges)[mask],
                    name=label,
                    marker_color=colour,
                    marker_line_width=0,
                ),
                row=1,
                col=2,
            )
        ticks = list(range(int(edges[0]), int(math.ceil(edges[-1])) + 1))
        fig.update_xaxes(
            tickvals=ticks,
            ticktext=[f"{10.0**t:g}×" for t in ticks],
            title_text="exit multiple (log scale)",
            row=1,
            col=2,
        )
        fig.add_vline(x=1.0, line=dict(color="#52606d", dash="dash", width=1), row=1, col=2)
    fig.update_layout(bargap=0.02)
    fig.update_yaxes(type="log", title_text="deals (log scale)", row=1, col=1)
    fig.update_yaxes(type="log", row=1, col=2)
    share = _facts.returns_from_10x(run)
    share_text = f"{share:.0%}" if math.isfinite(share) else "n/a (fewer than 30 finished deals)"
    subtitle = (
        f"{len(multiple):,} finished deals, {zero:,} failed; "
        f"share of proceeds from ≥10× deals: {share_text} (Horsley Bridge: ≈ 60%)"
    )
    return _style(fig, subtitle=subtitle)


def _gini_parts(run) -> tuple[float, float]:
    """Gini of innovations and of headcount over region × field cells, as in ``innovation_vs_employment``."""
    sm = run.metrics
    innov = sm.groupby(["region", "field"])[["scenes_defined", "new_dragons"]].sum().sum(axis=1)
    emp = sm[sm.step == sm.step.max()].set_index(["region", "field"])["headcount"].reindex(innov.index)
    return _facts._gini(innov.to_numpy()), _facts._gini(emp.to_numpy())


def _plot_f7(run) -> go.Figure | str:
    if run.metrics.empty:
        return "No step metrics."
    g_innov, g_emp = _gini_parts(run)
    if not (math.isfinite(g_innov) or math.isfinite(g_emp)):
        return "No innovations and no employment to compare."
    fig = go.Figure(
        go.Bar(
            x=["innovations (scenes defined + dragons)", "headcount (final quarter)"],
            y=[_num(g_innov), _num(g_emp)],
            marker_color=["#c53030", "#3b6fb6"],
            text=[_fx(g_innov), _fx(g_emp)],
            textposition="outside",
            showlegend=False,
        )
    )
    fig.update_yaxes(title_text="Gini over region × field cells", range=[0, 1.05])
    diff = _facts.innovation_vs_employment(run)
    subtitle = f"Gini(innovations) − Gini(headcount) = {_fx(diff)} (> 0: innovation more concentrated)"
    return _style(fig, subtitle=subtitle)


def _fit_bass(t: np.ndarray, target: np.ndarray) -> tuple[float, float, float] | None:
    """Bass p, q and scale m fitted to normalised spending, with the bounds ``bass_fit`` uses."""

    def curve(t, p, q, m):
        return m * bass_adoption(t, p, q)

    try:
        (p, q, m), _ = optimize.curve_fit(curve, t, target, p0=(0.03, 0.4, 1.0), bounds=([1e-4, 0, 0.1], [1, 5, 2]))
    except (RuntimeError, ValueError):
        return None
    return float(p), float(q), float(m)


def _plot_f8(run) -> go.Figure | str:
    fm = run.field_metrics
    if fm.empty or "demand" not in fm:
        return "No field spending."
    fig = go.Figure()
    drawn = 0
    for i, (field, g) in enumerate(fm.sort_values("step").groupby("field", sort=False)):
        y = g["demand"].to_numpy(dtype=float)
        years = g["year"].to_numpy(dtype=float)
        if not np.isfinite(y).any() or np.nanmax(y) <= 0:
            continue
        colour = _PALETTE[i % len(_PALETTE)]
        norm = y / np.nanmax(y)
        start = int(np.argmax(y > 0))
        t = (np.arange(len(y) - start)) / 4.0
        target = norm[start:]
        fit = _fit_bass(t, target) if len(target) >= 4 and np.isfinite(target).all() else None
        label = str(field)
        if fit is not None:
            p, q, m = fit
            resid = target - m * bass_adoption(t, p, q)
            r2 = 1.0 - resid.var() / target.var() if target.var() > 0 else float("nan")
            label += f" (R² {r2:.4f})"
        fig.add_trace(
            go.Scatter(
                x=years,
                y=[_num(v) for v in norm],
                mode="markers",
                name=label,
                legendgroup=label,
                marker=dict(color=colour, size=4),
            )
        )
        if fit is not None:
            p, q, m = fit
            fig.add_trace(
                go.Scatter(
                    x=years[start:],
                    y=m * bass_adoption(t, p, q),
                    mode="lines",
                    legendgroup=label,
                    name=f"Bass p={p:.3g}, q={q:.3g}",
                    showlegend=False,
                    line=dict(color=colour, width=2),
                    hovertemplate=f"{html.escape(str(field))} Bass p={p:.3g} q={q:.3g}"
                    "<br>%{x:.2f}: %{y:.3f}<extra></extra>",
                )
            )
        drawn += 1
    if not drawn:
        return "No field had positive spending."
    fig.update_xaxes(title_text="year")
    fig.update_yaxes(title_text="spending / field maximum", range=[0, 1.08])
    worst = _facts.bass_fit(run)
    subtitle = f"markers: model spending; lines: fitted Bass curves; worst R² = {_fx(worst)}"
    return _style(fig, height=420, subtitle=subtitle)


def _fact_plots(run) -> list[tuple[str, Callable[[], go.Figure | str]]]:
    growth_cache: dict[str, pd.DataFrame] = {}

    def growth() -> pd.DataFrame:
        if "g" not in growth_cache:
            growth_cache["g"] = _facts._growth(run)
        return growth_cache["g"]

    return [
        ("F1", lambda: _plot_f1(run)),
        ("F2", lambda: _plot_f2(growth(), run)),
        ("F3", lambda: _plot_f3(growth(), run)),
        ("F4/F5", lambda: _plot_survival(run)),
        ("F6", lambda: _plot_f6(run)),
        ("F7", lambda: _plot_f7(run)),
        ("F8", lambda: _plot_f8(run)),
    ]


def _facts_section(facts: pd.DataFrame | None, run, plots: _Plots) -> list[str]:
    parts = ['<h2 id="facts">Stylized facts</h2>']
    if facts is None or len(facts) == 0:
        parts.append(_note(NOTES["facts"]))
    else:
        parts.append(_facts_table(facts))
    if run is None:
        return parts + [_note(NOTES["run"])]
    run_id = getattr(run, "run_id", "")
    parts.append(_note(f"Diagnostic plots from one run ({run_id}); the table's values are means over replications."))
    for key, build in _fact_plots(run):
        try:
            figure = build()
        except Exception as exc:  # a broken diagnostic must not lose the rest of the report
            figure = f"Could not draw this plot: {type(exc).__name__}: {exc}"
        parts.append(plots.section(FACT_PLOT_TITLES[key], figure, anchor=f"fact-{key.replace('/', '-')}"))
    return parts


# -- the report -----------------------------------------------------------------------------------


def write_evidence_report(
    path: str | Path,
    *,
    title: str,
    claims: list[dict] | None,
    sobol: dict | None,
    facts: pd.DataFrame | None,
    run: RunResult | None,
    meta: dict,
) -> Path:
    """Write a self-contained HTML evidence report and return its path.

    Parameters
    ----------
    path:
        Output ``.html`` file (parent directories are created).
    title:
        Report title.
    claims:
        Rows of :meth:`ClaimResult.row` (claim, title, statistic, effect, lo, hi,
        verdict, control, control_effect, control_lo, control_hi,
        control_gone, ablation, identical_arms, manipulation_active, replications, ...).
    sobol:
        The dict of :func:`~hardtech.evidence.interactions.lever_sobol`:
        ``outcome``, ``names``, ``S1``, ``S1_conf``, ``ST``, ``ST_conf``,
        ``sum_S1``, ``sum_S1_lo``, ``sum_S1_hi``, ``verdict`` (optional:
        ``runs``, ``threshold``, ``mean_outcome``, ``sd_outcome``).
    facts:
        The frame of :func:`~hardtech.evidence.facts.validate`.
    run:
        A :class:`~hardtech.RunResult` the per-fact diagnostic plots are drawn
        from (the F1 plot fits a power law: a few seconds on 20 000 firms).
    meta:
        Label → value shown under the title.

    A ``None`` or empty input skips its section with a note (:data:`NOTES`).
    NaN values print as "–" and are left out of the plots.
    """
    path = Path(path)
    plots = _Plots()
    parts: list[str] = [
        f"<h1>{html.escape(title)}</h1>",
        _meta_table(meta or {}),
        '<nav><a href="#claims">Claims</a><a href="#sobol">Sensitivity</a><a href="#facts">Stylized facts</a></nav>',
    ]
    parts += _claims_section(claims, plots)
    parts += _sobol_section(sobol, plots)
    parts += _facts_section(facts, run, plots)
    return write_page(path, title, parts, css=_EXTRA_CSS)
