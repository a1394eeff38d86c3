"""The robustness report: one self-contained HTML page (plotly.js inline, opens offline).

Per claim: the shares of the plausible space that support it, contradict it
or leave it unresolved, with Wilson intervals, and a plot of the supported
and the contrary share along each of its leading parameters (four equal bins
of the plausible range).
Then the key outcomes and the inputs that move them most, and the screening.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hardtech.analysis.report import _meta_table, write_page
from hardtech.evidence.robustness import failure_text

PLOTTED = 3  # deciding parameters plotted per claim

_CSS = """
.banner { background: #fff4e5; border: 1px solid #f0b429; padding: .5rem .8rem; border-radius: 4px; }
.claim-plot { min-height: 300px; }
table.claims td:last-child { white-space: normal; min-width: 18rem; }  /* deciding parameters: one per line */
"""


def _pct(x: float) -> str:
    return "–" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def _share(entry: Mapping[str, Any]) -> str:
    lo, hi = entry["ci"]
    return f"{_pct(entry['share'])} [{_pct(lo)}, {_pct(hi)}]"


def _num(x: Any) -> str:
    if x is None or not isinstance(x, (int, float)) or not math.isfinite(x):
        return "–"
    return f"{x:,.3g}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<div class="scroll"><table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table></div>'


def _share_trace(go, bins: Sequence[Mapping[str, Any]], key: str, ci: str, name: str, color: str, first: bool):
    """One line of a bin share (``key``) with its Wilson interval (``ci``) as error bars."""

    def finite(b):
        return math.isfinite(b[key])

    return go.Scatter(
        x=[(b["lo"] + b["hi"]) / 2 for b in bins],
        y=[b[key] if finite(b) else None for b in bins],
        mode="lines+markers",
        name=name,
        legendgroup=name,
        showlegend=first,
        error_y=dict(
            type="data",
            array=[(b[ci][1] - b[key]) if finite(b) else None for b in bins],
            arrayminus=[(b[key] - b[ci][0]) if finite(b) else None for b in bins],
            visible=True,
        ),
        line=dict(color=color),
        text=[f"{b['n']} point(s)" for b in bins],
        hovertemplate="%{x:.3g}: %{y:.0%} (%{text})",
    )


def claim_figure(claim: Mapping[str, Any]):
    """Supported and contrary shares (Wilson 95% intervals) in bins of each leading parameter's plausible range.

    Both lines are drawn: a claim contrary almost everywhere has a flat supported line at 0, and only
    the contrary line shows where it is less so. Studies stored before the contrary share was kept
    per bin draw the supported line alone.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    shown = claim["deciding"][:PLOTTED]
    cols = max(1, len(shown))
    titles = [
        f"{d['parameter']} (ρ = {_num(d['spearman'])}{'' if d.get('decides') else ', p ≥ 0.05'})" for d in shown
    ] or ["no parameter kept"]
    fig = make_subplots(rows=1, cols=cols, subplot_titles=titles, shared_yaxes=True)
    for i, d in enumerate(shown):
        bins = d["bins"]
        fig.add_trace(_share_trace(go, bins, "supported", "ci", "share supported", "#2f855a", i == 0), row=1, col=i + 1)
        if all("contrary" in b for b in bins):
            fig.add_trace(
                _share_trace(go, bins, "contrary", "contrary_ci", "share contrary", "#c53030", i == 0), row=1, col=i + 1
            )
        fig.update_xaxes(
            title_text=f"{d['parameter'].split('.')[-1]} ({d['unit']})", title_font_size=11, row=1, col=i + 1
        )
    fig.update_yaxes(range=[-0.05, 1.05], tickformat=".0%", title_text="share of points", col=1)
    fig.update_annotations(font_size=11)  # the subplot titles: three full parameter paths fit side by side
    fig.update_layout(
        template="plotly_white",
        height=340,
        margin=dict(l=60, r=20, t=80, b=50),
        title=dict(
            text=f"{claim['claim']} {claim['short']}: supported and contrary shares along its leading parameters",
            font=dict(size=13),
        ),
    )
    return fig


def write_robustness_report(path: str | Path, result: Mapping[str, Any], meta: Mapping[str, Any]) -> Path:
    """Write the page; returns its path."""
    screening = result["screening"]
    parts = [f"<h1>{html.escape(str(meta.get('title', 'hardtech robustness')))}</h1>", _meta_table(meta)]
    full = result["full_design"]
    if screening:
        parts.append(
            f'<p class="banner"><b>Screening.</b> Fewer runs than a robustness statement needs (Morris r ≥ '
            f"{full['trajectories']}, ≥ {full['points']} hypercube points × ≥ {full['replications']} paired "
            "replications): read the shares as a first look, not as the claims' robustness.</p>"
        )
    lhs, morris = result["lhs"], result["morris"]
    parts.append(
        "<p>Each claim's declared arms ran at every point of a Latin hypercube over the parameters the screening kept "
        f"({len(result['kept'])} of {morris['parameters']} [ASSUMPTION] parameters; the others at the scenario's "
        f"values), {lhs['points']} points × {lhs['replications']} paired replications (common random numbers). "
        "A point <b>supports</b> a claim when the paired bootstrap 95% interval of its effect lies above zero (the "
        "declared sign), is <b>contrary</b> when it lies below zero and <b>unresolved</b> (within noise) otherwise. "
        "Shares carry Wilson 95% intervals. The deciding parameters are the kept parameters ranked by the Spearman "
        "correlation of the point effects with them (marked when p &lt; 0.05).</p>"
    )
    with_failed = any(c.get("failed", {}).get("points") for c in result["claims"])
    head, rest = failure_text(result)
    if head:
        parts.append(f'<p class="banner"><b>{html.escape(head)}</b>{html.escape(rest)}</p>')
    rows = []
    for c in result["claims"]:
        deciding = [d for d in c["deciding"] if d["decides"]][:3]
        text = (
            "<br>".join(
                f"{html.escape(d['parameter'])} (ρ {_num(d['spearman'])})"
                + (f" — {html.escape(d['fails_when'])}" if d["fails_when"] else "")
                for d in deciding
            )
            or "none"
        )
        rows.append(
            [
                f"<b>{html.escape(c['claim'])}</b> {html.escape(c['short'])}",
                _share(c["supported"]),
                _share(c["contrary"]),
                _share(c["unresolved"]),
                *([_share(c["failed"])] if with_failed else []),
                f"{c['points']} × {c['replications']}",
                text,
            ]
        )
    statuses = ("supported", "contrary", "unresolved", *(("failed",) if with_failed else ()))
    parts += [
        "<h2>Claims across the plausible space</h2>",
        _table(("claim", *statuses, "points × replications", "deciding parameters"), rows, "claims"),
    ]
    for i, c in enumerate(result["claims"]):
        fig = claim_figure(c).to_html(
            full_html=False, include_plotlyjs=i == 0, div_id=f"plot-{c['claim']}", config={"displaylogo": False}
        )
        parts += [
            f"<h3>{html.escape(c['claim'])} {html.escape(c['short'])}</h3>",
            f"<p>{html.escape(c['statistic'])}; median effect over the points {_num(c['effect_median'])}.</p>",
            f'<div class="claim-plot">{fig}</div>',
        ]
    orows = []
    for o in result["outcomes"]:
        top = ", ".join(f"{html.escape(r['parameter'])} ({_num(r['mu_star'])})" for r in o["morris_top"][:3]) or "–"
        lhs_top = (
            ", ".join(
                f"{html.escape(r['parameter'])} (ρ {_num(r['spearman'])})"
                for r in o["lhs"][:3]
                if math.isfinite(r["spearman"])
            )
            or "–"
        )
        label = o["outcome"] if o["label"] == o["outcome"] else f"{o['outcome']} {o['label']}"
        orows.append([html.escape(label), f"{_num(o['mean'])} [{_num(o['p10'])}, {_num(o['p90'])}]", top, lhs_top])
    parts += [
        "<h2>Key outcomes: which inputs move them most</h2>",
        "<p>Mean over the hypercube points [10%, 90%]; Morris μ* (the mean absolute change of the outcome "
        "across a parameter's plausible range, over every screened parameter); Spearman ρ on the hypercube.</p>",
        _table(("outcome", "mean [10%, 90%]", "largest Morris μ*", "largest |ρ| on the hypercube"), orows),
    ]
    if result.get("history"):
        parts.append(f'<p class="note">{html.escape(result["history"])}.</p>')
    krows = [
        [
            html.escape(k["parameter"]),
            f"{_num(k['plausible'][0])} – {_num(k['plausible'][1])} {html.escape(k['unit'])}",
            _num(k["score"]),
            html.escape(k["output"]),
        ]
        for k in result["kept"]
    ]
    parts += [
        "<h2>Screening</h2>",
        f"<p>Morris elementary effects: {morris['trajectories']} trajectories × ({morris['parameters']} + 1) = "
        f"{morris['points']} points, {morris['replications']} replication(s) each. A parameter's score is its "
        "largest μ* relative to the largest μ* of the same output; the highest scores were kept.</p>",
        _table(("kept parameter", "plausible range", "score", "output it moves most"), krows),
    ]
    return write_page(path, str(meta.get("title", "hardtech robustness")), parts, css=_CSS)
