"""Self-contained HTML report of one simulation run.

:func:`write_report` writes a single HTML file with a metadata header, the
dragon and region tables, and Plotly charts. plotly.js is embedded inline once
(with the first chart), so the file opens in a browser with no network.

Expected inputs (extra columns are ignored; money is in million USD):

* ``tables["step_metrics"]``: one row per (step, region, field) with ``year``,
  ``region``, ``field``, ``dragons``, ``invested``, ``returned``,
  ``gap_to_frontier``, ...
* ``tables["region_metrics"]``: ``year``, ``region``, ``talent``, ``arrivals``,
  ``departures``, ``investor_capital``, ...
* ``tables["field_metrics"]``: ``year``, ``field``, ``maturity``, ``adoption``, ...
"""

from __future__ import annotations

import functools
import html
import json
import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["write_report", "PLOT_TITLES"]

PLOT_TITLES = {
    "dragons": "Dragons over time by region",
    "fields": "Technology maturity and demand by field",
    "talent": "Talent flows by region",
    "capital": "Capital by region and year",
    "gap": "Gap to the technology frontier",
}

DRAGON_COLUMNS = ["firm_id", "region", "field", "founded", "dragon_quarter", "valuation_musd"]

# plotly.colors.qualitative Plotly + D3 + Safe (written out: importing plotly's Python side costs more than a report)
_PALETTE = [
    "#636EFA", "#EF553B", "#00CC96", "#AB63FA", "#FFA15A", "#19D3F3", "#FF6692", "#B6E880", "#FF97FF", "#FECB52",
    "#1F77B4", "#FF7F0E", "#2CA02C", "#D62728", "#9467BD", "#8C564B", "#E377C2", "#7F7F7F", "#BCBD22", "#17BECF",
    "rgb(136, 204, 238)", "rgb(204, 102, 119)", "rgb(221, 204, 119)", "rgb(17, 119, 51)", "rgb(51, 34, 136)",
    "rgb(170, 68, 153)", "rgb(68, 170, 153)", "rgb(153, 153, 51)", "rgb(136, 34, 85)", "rgb(102, 17, 0)",
    "rgb(136, 136, 136)",
]

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2933; background: #f7f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #d9dee5; padding-bottom: .3rem; }
section { background: #fff; border: 1px solid #e3e7ec; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .88rem; margin: .4rem 0; }
th, td { padding: .25rem .7rem; border-bottom: 1px solid #eceff3; text-align: left; }
th { background: #f0f3f6; font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meta th { background: none; color: #52606d; font-weight: 500; }
.note { color: #7b8794; font-style: italic; }
.scroll { overflow-x: auto; }
footer { color: #9aa5b1; font-size: .8rem; margin-top: 2rem; }
"""


# -- formatting -------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, numbers.Integral):
        return f"{int(value):,}"
    if isinstance(value, numbers.Real):
        x = float(value)
        if math.isnan(x):
            return "–"
        if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-3):
            return f"{x:.3g}"
        if abs(x) >= 100:
            return f"{x:,.1f}"
        return f"{x:.4g}"
    return str(value)


def _cell(value: Any, tag: str = "td") -> str:
    cls = ' class="num"' if tag == "td" and _is_number(value) else ""
    return f"<{tag}{cls}>{html.escape(_fmt(value))}</{tag}>"


def _html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c)) for c in columns) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _meta_table(meta: Mapping[str, Any]) -> str:
    if not meta:
        return ""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v)}</tr>" for k, v in meta.items())
    return f'<table class="meta"><tbody>{rows}</tbody></table>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


# -- data helpers -----------------------------------------------------------


def _usable(tables: Mapping[str, pd.DataFrame], name: str, columns: Sequence[str]) -> pd.DataFrame | str:
    """The table if it is non-empty and has ``columns``, else a note explaining why not."""
    df = tables.get(name)
    if df is None or len(df) == 0:
        return f"No data: table {name} is empty."
    missing = [c for c in columns if c not in df.columns]
    if missing:
        return f"No data: table {name} lacks column(s) {', '.join(missing)}."
    return df


def _colors(keys: Sequence[Any]) -> dict[Any, str]:
    return {k: _PALETTE[i % len(_PALETTE)] for i, k in enumerate(keys)}


def _sorted_unique(series: pd.Series) -> list[Any]:
    return sorted(series.dropna().unique().tolist(), key=str)


class _Figure:
    """A Plotly figure as the plain JSON plotly.js reads (traces and layout), with a subplot grid.

    Written by hand instead of with ``plotly.graph_objects``, whose validation of
    every property costs about a second per report; the JSON is the same kind
    ``Figure.to_json`` gives (axes, domains and subplot titles as make_subplots lays them).
    """

    def __init__(self, rows: int = 1, cols: int = 1, titles: Sequence[str] = (), hspace: float = 0.2,
                 vspace: float = 0.3, shared_x: bool = False) -> None:
        self.data: list[dict] = []
        self.layout: dict[str, Any] = {}
        self.cols = cols
        width = (1.0 - hspace * (cols - 1)) / cols
        height = (1.0 - vspace * (rows - 1)) / rows
        notes = []
        for r in range(rows):
            for c in range(cols):
                k = r * cols + c + 1
                x = [c * (width + hspace), c * (width + hspace) + width]
                top = 1.0 - r * (height + vspace)
                y = [top - height, top]
                sx = "" if k == 1 else str(k)
                self.layout[f"xaxis{sx}"] = {"anchor": f"y{sx}", "domain": x,
                                             **({"matches": "x"} if shared_x and k > 1 else {})}
                self.layout[f"yaxis{sx}"] = {"anchor": f"x{sx}", "domain": y}
                if k <= len(titles):
                    notes.append({"font": {"size": 16}, "showarrow": False, "text": str(titles[k - 1]),
                                  "x": (x[0] + x[1]) / 2, "xanchor": "center", "xref": "paper", "y": top,
                                  "yanchor": "bottom", "yref": "paper"})
        if notes:
            self.layout["annotations"] = notes

    def add(self, trace: dict, row: int = 1, col: int = 1) -> None:
        k = (row - 1) * self.cols + col
        if k > 1:
            trace = {**trace, "xaxis": f"x{k}", "yaxis": f"y{k}"}
        self.data.append(trace)

    def axes(self, letter: str, **props: Any) -> None:
        for name, axis in self.layout.items():
            if name.startswith(f"{letter}axis"):
                axis.update(props)


def _values(series: Any) -> list:
    """A column as JSON-ready values (NaN becomes null, which plotly.js draws as a gap)."""
    arr = np.asarray(series)
    if arr.dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in arr.tolist()]
    return arr.tolist()


def _line(x: Any, y: Any, name: str, color: str, **extra: Any) -> dict:
    line = {"color": color, **extra.pop("line", {})}
    return {"type": "scatter", "mode": "lines", "x": _values(x), "y": _values(y), "name": name, "line": line, **extra}


def _bar(x: Any, y: Any, name: str, color: str, **extra: Any) -> dict:
    return {"type": "bar", "x": _values(x), "y": _values(y), "name": name, "marker": {"color": color}, **extra}


@functools.lru_cache(maxsize=1)
def _template() -> dict:
    """plotly's ``plotly_white`` template (read from the plotly package's own JSON)."""
    return json.loads(_plotly_file("templates/plotly_white.json"))


def _plotly_file(name: str) -> str:
    from importlib.resources import files

    return files("plotly").joinpath("package_data", name).read_text(encoding="utf-8")


def _layout(fig: _Figure, height: int = 420) -> _Figure:
    fig.layout.update(
        template=_template(),
        height=height,
        margin=dict(l=60, r=20, t=80, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.08, x=0),
        hovermode="x unified",
    )
    return fig


_DIV = 0


def _figure_html(fig: _Figure, include_plotlyjs: bool, config: Mapping[str, Any]) -> str:
    """The figure as a div and a ``Plotly.newPlot`` call; plotly.js inlined before it when asked."""
    global _DIV
    _DIV += 1
    div = f"hardtech-plot-{_DIV}"
    script = (f'<script type="text/javascript">{_plotly_file("plotly.min.js")}</script>' if include_plotlyjs else "")
    payload = json.dumps([fig.data, fig.layout, dict(config)], separators=(",", ":"), allow_nan=False)
    height = fig.layout.get("height", 420)
    return (f'<div style="height:{height}px; width:100%;">{script}<div id="{div}" class="plotly-graph-div" '
            f'style="height:100%; width:100%;"></div><script type="text/javascript">'
            f'(function(){{var a={payload};Plotly.newPlot("{div}",a[0],a[1],a[2]);}})();</script></div>')


# -- plots ------------------------------------------------------------------


def _plot_dragons(tables: Mapping[str, pd.DataFrame]) -> _Figure | str:
    df = _usable(tables, "step_metrics", ["year", "region", "dragons"])
    if isinstance(df, str):
        return df
    agg = df.groupby(["region", "year"], as_index=False)["dragons"].sum().sort_values("year")
    colors = _colors(_sorted_unique(agg["region"]))
    fig = _Figure()
    for region, color in colors.items():
        d = agg[agg["region"] == region]
        fig.add(_line(d["year"], d["dragons"], str(region), color))
    fig.axes("x", title={"text": "year"})
    fig.axes("y", title={"text": "dragons (cumulative)"}, rangemode="tozero")
    return _layout(fig)


def _plot_fields(tables: Mapping[str, pd.DataFrame]) -> _Figure | str:
    df = _usable(tables, "field_metrics", ["year", "field", "maturity", "adoption"])
    if isinstance(df, str):
        return df
    df = df.sort_values("year")
    colors = _colors(_sorted_unique(df["field"]))
    fig = _Figure(rows=1, cols=2, titles=("maturity", "adoption (demand)"), hspace=0.08)
    for field, color in colors.items():
        d = df[df["field"] == field]
        for col, value in ((1, "maturity"), (2, "adoption")):
            fig.add(_line(d["year"], d[value], str(field), color, legendgroup=str(field), showlegend=col == 1,
                          line={"dash": "solid" if col == 1 else "dash"}), row=1, col=col)
    fig.axes("x", title={"text": "year"})
    return _layout(fig)


def _plot_talent(tables: Mapping[str, pd.DataFrame]) -> _Figure | str:
    df = _usable(tables, "region_metrics", ["year", "region", "arrivals", "departures", "talent"])
    if isinstance(df, str):
        return df
    df = df.assign(calendar_year=np.floor(df["year"].astype(float)).astype(int), net=df["arrivals"] - df["departures"])
    yearly = df.groupby(["region", "calendar_year"], as_index=False)["net"].sum()
    stock = df.groupby(["region", "year"], as_index=False)["talent"].sum().sort_values("year")
    colors = _colors(_sorted_unique(df["region"]))
    fig = _Figure(rows=1, cols=2, titles=("net inflow per year (arrivals − departures)", "talent stock"), hspace=0.08)
    for region, color in colors.items():
        y = yearly[yearly["region"] == region]
        st = stock[stock["region"] == region]
        fig.add(_bar(y["calendar_year"], y["net"], str(region), color, legendgroup=str(region)), row=1, col=1)
        fig.add(_line(st["year"], st["talent"], str(region), color, legendgroup=str(region), showlegend=False),
                row=1, col=2)
    fig.layout["barmode"] = "group"
    fig.axes("x", title={"text": "year"})
    return _layout(fig)


def _plot_capital(tables: Mapping[str, pd.DataFrame]) -> _Figure | str:
    regions = _usable(tables, "region_metrics", ["year", "region", "investor_capital"])
    flows = _usable(tables, "step_metrics", ["year", "invested", "returned"])
    if isinstance(regions, str) and isinstance(flows, str):
        return regions + " " + flows
    fig = _Figure(rows=1, cols=2, hspace=0.08,
                  titles=("investor capital by region (M USD)", "invested and returned per year (M USD)"))
    if not isinstance(regions, str):
        cap = regions.groupby(["region", "year"], as_index=False)["investor_capital"].sum().sort_values("year")
        for region, color in _colors(_sorted_unique(cap["region"])).items():
            d = cap[cap["region"] == region]
            fig.add(_line(d["year"], d["investor_capital"], str(region), color), row=1, col=1)
    if not isinstance(flows, str):
        cal = np.floor(flows["year"].astype(float)).astype(int).rename("calendar_year")
        yearly = flows[["invested", "returned"]].groupby(cal).sum().reset_index()
        fig.add(_bar(yearly["calendar_year"], yearly["invested"], "invested", "#3b6fb6"), row=1, col=2)
        fig.add(_bar(yearly["calendar_year"], yearly["returned"], "returned", "#e8833a"), row=1, col=2)
    fig.layout["barmode"] = "group"
    fig.axes("x", title={"text": "year"})
    return _layout(fig)


def _plot_gap(tables: Mapping[str, pd.DataFrame]) -> _Figure | str:
    df = _usable(tables, "step_metrics", ["year", "region", "gap_to_frontier"])
    if isinstance(df, str):
        return df
    df = df.assign(gap_to_frontier=pd.to_numeric(df["gap_to_frontier"], errors="coerce"))
    colors = _colors(_sorted_unique(df["region"]))
    fields = _sorted_unique(df["field"]) if "field" in df.columns else []
    mean = df.groupby(["region", "year"], as_index=False)["gap_to_frontier"].mean().sort_values("year")

    n_panels = 1 + len(fields)
    ncols = min(3, n_panels)
    nrows = math.ceil(n_panels / ncols)
    titles = ["mean over fields"] + [str(f) for f in fields]
    fig = _Figure(rows=nrows, cols=ncols, titles=titles, shared_x=True, hspace=0.06,
                  vspace=0.12 if nrows > 1 else 0.0)
    for region, color in colors.items():
        d = mean[mean["region"] == region]
        fig.add(_line(d["year"], d["gap_to_frontier"], str(region), color, legendgroup=str(region)))
    for i, field in enumerate(fields, start=1):
        sub = df[df["field"] == field].groupby(["region", "year"], as_index=False)["gap_to_frontier"].mean()
        sub = sub.sort_values("year")
        for region, color in colors.items():
            d = sub[sub["region"] == region]
            fig.add(_line(d["year"], d["gap_to_frontier"], str(region), color, legendgroup=str(region),
                          showlegend=False, line={"width": 1.5}), row=i // ncols + 1, col=i % ncols + 1)
    return _layout(fig, height=max(420, 300 * nrows))


_PLOTS = {
    "dragons": _plot_dragons,
    "fields": _plot_fields,
    "talent": _plot_talent,
    "capital": _plot_capital,
    "gap": _plot_gap,
}


# -- report -----------------------------------------------------------------


def write_report(
    path: str | Path,
    title: str,
    summary: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
) -> Path:
    """Write a self-contained HTML report of one run and return its path.

    Parameters
    ----------
    path:
        Output ``.html`` file (parent directories are created).
    title:
        Report title.
    summary:
        ``meta``: dict of label -> value shown under the title;
        ``dragons``: list of dicts with firm_id, region, field, founded,
        dragon_quarter, valuation_musd; ``regions``: list of dicts, one per
        region, every key rendered as a column. Missing keys render as empty.
    tables:
        DataFrames ``step_metrics``, ``region_metrics`` and ``field_metrics``
        (see the module docstring). A chart whose table is missing or empty
        is replaced by a short note.

    plotly.js is inlined once, with the first chart; the file needs no network.
    """
    path = Path(path)
    parts: list[str] = [f"<h1>{html.escape(title)}</h1>", _meta_table(summary.get("meta") or {})]

    regions = list(summary.get("regions") or [])
    parts.append("<h2>Regions</h2>")
    parts.append(_html_table(regions) if regions else _note("no region summary"))

    plotly_included = False
    config = {"displaylogo": False, "responsive": True}
    for key, build in _PLOTS.items():
        parts.append(f"<h2>{html.escape(PLOT_TITLES[key])}</h2>")
        result = build(tables)
        if isinstance(result, str):
            parts.append(_note(result))
            continue
        parts.append(
            "<section>"
            + _figure_html(result, include_plotlyjs=not plotly_included, config=config)
            + "</section>"
        )
        plotly_included = True

    # the full dragon list last (it can be long), folded when it is
    dragons = list(summary.get("dragons") or [])
    parts.append(f"<h2>Dragons ({len(dragons)})</h2>")
    if dragons:
        extra = [k for row in dragons for k in row if k not in DRAGON_COLUMNS]
        columns = DRAGON_COLUMNS + list(dict.fromkeys(extra))
        table = _html_table(dragons, columns)
        parts.append(table if len(dragons) <= 30 else f"<details><summary>show all {len(dragons)}</summary>{table}</details>")
    else:
        parts.append(_note("no dragons"))

    return write_page(path, title, parts)


def write_page(path: str | Path, title: str, parts: Sequence[str], css: str = "") -> Path:
    """Write an HTML page of ``parts`` (HTML fragments) with the report style; return its path."""
    path = Path(path)
    doc = (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(p for p in parts if p)
        + "\n<footer>Generated by hardtech.</footer>\n</main>\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path
