"""Self-contained HTML report of one simulation run.

:func:`write_report` writes a single HTML file with a metadata header, the
levers the run changed from its preset, the region table, Plotly charts with
labelled axes and units, the dragon table and a glossary of every term it uses
(:mod:`hardtech.analysis.glossary`, the same definitions as the CLI and the
dashboard). Tables fit the page (headings wrap), counts print as integers and
ids without thousands separators. plotly.js is embedded inline once (with the
first chart), so the file opens in a browser with no network.

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
import pkgutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
from plotly.colors import qualitative
from plotly.io import to_html

try:  # plotly >= 6: what Figure.to_dict does to arrays (typed arrays in base64, a smaller page)
    from _plotly_utils.utils import convert_to_base64
except ImportError:  # pragma: no cover - older plotly writes arrays as lists, as its Figure did
    convert_to_base64 = None

from hardtech.analysis.changes import changed_fields, describe_changes, preset_of
from hardtech.analysis.glossary import glossary_html, lookup
from hardtech.engine.ops import group_sum
from hardtech.scenario import Scenario

__all__ = ["write_report", "PLOT_TITLES", "COLUMN_HEADINGS"]

PLOT_TITLES = {
    "dragons": "Dragons over time by region",
    "fields": "Technology maturity and demand by field",
    "talent": "Talent flows by region",
    "capital": "Capital by region and year",
    "gap": "Gap to the technology frontier",
}

DRAGON_COLUMNS = ["firm_id", "region", "field", "founded", "dragon_quarter", "valuation_musd"]

# Column key -> (heading with unit, glossary term). Keys not listed show as they are.
COLUMN_HEADINGS: dict[str, tuple[str, str | None]] = {
    "region": ("region", None),
    "field": ("field", None),
    "firm_id": ("firm", None),
    "dragons": ("dragons", "dragon"),
    "births": ("births", "births"),
    "firms_end": ("firms at end", "firms"),
    "talent_start": ("talent at start (persons)", "talent"),
    "talent_end": ("talent at end (persons)", "talent"),
    "net_inflow_pct_2020_24": ("inflow %/y 20-24", "inflow %/y 20-24"),
    "investor_capital_end": ("VC pool at end (M USD)", "VC pool"),
    "invested": ("invested (M USD)", "invested"),
    "returned": ("returned (M USD)", "returned"),
    "gap_to_frontier_end": ("gap at end (log capability)", "gap"),
    "founded": ("founded", "births"),
    "dragon_quarter": ("became a dragon", "dragon"),
    "valuation_musd": ("valuation (M USD)", "valuation"),
    "spinout": ("spin-out", "spin-out"),
    "niche": ("in a niche", "niches"),
}
# ids and codes: printed as they are, never with thousands separators
ID_COLUMNS = frozenset({"firm_id", "seed", "replication", "run_id", "founder", "parent", "step", "year", "sample"})

_PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Safe

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
       color: #1f2933; background: #f7f8fa; }
main { max-width: 1100px; margin: 0 auto; padding: 1.5rem 1.5rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 1rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .6rem; border-bottom: 1px solid #d9dee5; padding-bottom: .3rem; }
section { background: #fff; border: 1px solid #e3e7ec; border-radius: 6px; padding: .8rem 1rem; margin: 1rem 0; }
table { border-collapse: collapse; font-size: .82rem; margin: .4rem 0; width: 100%; }
th, td { padding: .25rem .45rem; border-bottom: 1px solid #eceff3; text-align: left; }
th { background: #f0f3f6; font-weight: 600; white-space: normal; vertical-align: bottom; }
td { white-space: nowrap; }
th.num { text-align: right; }
th[title] { text-decoration: underline dotted #9aa5b1; cursor: help; }
table.meta { width: auto; }
ul.changes { margin: .3rem 0; padding-left: 1.2rem; }
ul.changes code { font-size: .85rem; }
dl.glossary { display: grid; grid-template-columns: minmax(9rem, max-content) 1fr; \
gap: .25rem 1rem; font-size: .86rem; }
dl.glossary dt { font-weight: 600; }
dl.glossary dd { margin: 0; }
dl.glossary .unit { font-weight: normal; color: #7b8794; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
table.meta th { background: none; color: #52606d; font-weight: 500; }
.note { color: #7b8794; font-style: italic; }
.scroll { overflow-x: auto; }
footer { color: #9aa5b1; font-size: .8rem; margin-top: 2rem; }
"""


# -- formatting -------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _fmt(value: Any, column: str | None = None) -> str:
    """A value for a table cell: ids as they are, whole numbers without decimals, others to 4 digits."""
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
        x = float(value)
        if math.isnan(x):
            return "–"
        if x.is_integer() and abs(x) < 1e15:
            value = int(x)  # a count that went through a mean or a float column: 211, not 211.0
        else:
            if x != 0 and (abs(x) >= 1e9 or abs(x) < 1e-3):
                return f"{x:.3g}"
            if abs(x) >= 100:
                return f"{x:,.1f}".removesuffix(".0")  # 9,371, not 9,371.0 (for 9370.95)
            return f"{x:.4g}"
    if isinstance(value, numbers.Integral):
        return str(int(value)) if column in ID_COLUMNS else f"{int(value):,}"
    return str(value)


def _cell(value: Any, column: str | None = None) -> str:
    cls = ' class="num"' if _is_number(value) and column not in ID_COLUMNS else ""
    return f"<td{cls}>{html.escape(_fmt(value, column))}</td>"


def _heading(column: str, numeric: bool) -> str:
    label, term = COLUMN_HEADINGS.get(column, (column.replace("_", " "), None))
    entry = lookup(term or column)
    title = f' title="{html.escape(entry.definition)}"' if entry else ""
    cls = ' class="num"' if numeric else ""
    return f"<th{cls}{title}>{html.escape(label)}</th>"


def _html_table(rows: Sequence[Mapping[str, Any]], columns: Sequence[str] | None = None) -> str:
    if columns is None:
        columns = []
        for row in rows:
            columns.extend(k for k in row if k not in columns)
    numeric = {c: c not in ID_COLUMNS and any(_is_number(r.get(c)) for r in rows) for c in columns}
    head = "".join(_heading(str(c), numeric[c]) for c in columns)
    body = "".join("<tr>" + "".join(_cell(row.get(c), str(c)) for c in columns) + "</tr>" for row in rows)
    return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def _meta_table(meta: Mapping[str, Any]) -> str:
    if not meta:
        return ""
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th>{_cell(v, str(k))}</tr>" for k, v in meta.items())
    return f'<table class="meta"><tbody>{rows}</tbody></table>'


def _note(text: str) -> str:
    return f'<p class="note">{html.escape(text)}</p>'


# -- data helpers -----------------------------------------------------------
# A table is a pandas DataFrame or a pyarrow Table; the charts read its columns as NumPy arrays, so
# ``hardtech run`` hands over its Arrow tables without converting them to DataFrames.

Tables = Mapping[str, Any]
Columns = dict[str, np.ndarray]


def _column_names(table: Any) -> list[str]:
    return list(table.column_names) if isinstance(table, pa.Table) else [str(c) for c in table.columns]


def _usable(tables: Tables, name: str, columns: Sequence[str], optional: Sequence[str] = ()) -> Columns | str:
    """The table's ``columns`` and those of ``optional`` it has; a note instead if it is empty or lacks ``columns``."""
    table = tables.get(name)
    if table is None or len(table) == 0:
        return f"No data: table {name} is empty."
    have = _column_names(table)
    missing = [c for c in columns if c not in have]
    if missing:
        return f"No data: table {name} lacks column(s) {', '.join(missing)}."
    wanted = [*columns, *(c for c in optional if c in have)]
    if isinstance(table, pa.Table):
        return {c: table.column(c).to_numpy() for c in wanted}
    return {c: table[c].to_numpy() for c in wanted}


def _colors(keys: Sequence[Any]) -> dict[Any, str]:
    return {k: _PALETTE[i % len(_PALETTE)] for i, k in enumerate(keys)}


def _sorted_unique(values: np.ndarray) -> list[Any]:
    """The distinct values that are not missing (None, NaN), sorted by their text."""
    distinct = dict.fromkeys(values.tolist())
    return sorted((v for v in distinct if v is not None and v == v), key=str)


def _numeric(values: np.ndarray) -> np.ndarray:
    """Values as floats, NaN where one is not a number (as ``pandas.to_numeric(errors="coerce")``)."""
    if values.dtype.kind in "biuf":
        return values.astype(float)

    def number(v: Any) -> float:
        try:
            return float(v)
        except (TypeError, ValueError):
            return float("nan")

    return np.array([number(v) for v in values.tolist()], dtype=float)


def _sum_by(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in ascending order and the sum of ``values`` over each key's rows, as pandas' groupby sums.

    Rows whose key is missing (NaN) are left out and values that are NaN are skipped; integers stay
    integers. Floats are added in row order (pandas compensates its sums: the last binary digit can differ).
    """
    return _group_totals(keys, values)[:2]


def _mean_by(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys in ascending order and the mean of the values that are not NaN (NaN if none)."""
    distinct, sums, counts = _group_totals(keys, values)
    with np.errstate(invalid="ignore", divide="ignore"):
        return distinct, np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def _group_totals(keys: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Distinct keys, the per-key sums (see :func:`_sum_by`) and the per-key counts of values added."""
    if keys.dtype.kind == "f":
        kept = ~np.isnan(keys)
        keys, values = keys[kept], values[kept]
    distinct, group = np.unique(keys, return_inverse=True)
    if values.dtype.kind == "f":
        kept = ~np.isnan(values)
        group, values = group[kept], values[kept]
    sums = group_sum(group, values, len(distinct))
    if values.dtype.kind != "f":
        sums = sums.astype(np.int64)  # exact: the report's counts are far below 2**53
    return distinct, sums, group_sum(group, None, len(distinct))


def _calendar_years(year: np.ndarray) -> np.ndarray:
    return np.floor(year.astype(float)).astype(int)


# -- figures ----------------------------------------------------------------
# Figures are plain dicts in plotly's JSON schema, written out with validate=False: building them as
# go.Figure objects (every property validated, the template copied into each) cost most of a second per
# report. The dicts are what go.Figure and make_subplots would give (tests/test_report.py compares them).

TEMPLATE = "plotly_white"
Figure = dict[str, Any]


@functools.cache
def _template() -> dict[str, Any]:
    """The plotly_white template as plotly ships it (what ``layout.template="plotly_white"`` expands to)."""
    data = pkgutil.get_data("plotly", f"package_data/templates/{TEMPLATE}.json")
    if data is None:  # pragma: no cover - a plotly without its package data as files
        import plotly.io as pio

        return pio.templates[TEMPLATE].to_plotly_json()
    return json.loads(data)


def _line(x: Any, y: Any, name: str, color: str, **extra: Any) -> dict[str, Any]:
    """A line trace; ``extra`` holds other trace properties, ``line`` entries beyond the colour under ``line``."""
    line = {"color": color, **extra.pop("line", {})}
    return {
        "type": "scatter",
        "x": np.asarray(x),
        "y": np.asarray(y),
        "name": name,
        **extra,
        "mode": "lines",
        "line": line,
    }


def _bar(x: Any, y: Any, name: str, color: str, **extra: Any) -> dict[str, Any]:
    return {"type": "bar", "x": np.asarray(x), "y": np.asarray(y), "name": name, **extra, "marker": {"color": color}}


class _Grid:
    """The layout of ``plotly.subplots.make_subplots`` for a full grid of x-y panels (rows from the top).

    The same domains (computed in the same order, so to the same bits), axis anchors, subplot-title
    annotations and, with ``shared_xaxes``, the same ``matches`` and hidden tick labels.
    """

    def __init__(
        self,
        rows: int,
        cols: int,
        titles: Sequence[str],
        horizontal_spacing: float,
        vertical_spacing: float = 0.0,
        shared_xaxes: bool = False,
    ) -> None:
        self.rows, self.cols = rows, cols
        widths = [(1.0 - horizontal_spacing * (cols - 1)) / cols] * cols
        heights = [(1.0 - vertical_spacing * (rows - 1)) / rows] * rows
        self.layout: dict[str, Any] = {}
        spans = []
        for r in range(rows):
            below = rows - 1 - r  # make_subplots counts rows from the bottom of the page
            y_s = sum(heights[:below]) + below * vertical_spacing
            y_e = min(y_s + heights[-1 - r], 1.0)  # make_subplots rounds an end just above 1 to 1
            for c in range(cols):
                x_s = sum(widths[:c]) + c * horizontal_spacing
                x = [x_s, x_s + widths[c]]
                spans.append((x, [y_s, y_e]))
                k = self._n(r + 1, c + 1)
                self.layout[f"xaxis{k}"] = {"domain": [max(0.0, x[0]), min(1.0, x[1])], "anchor": f"y{k}"}
                self.layout[f"yaxis{k}"] = {"domain": [max(0.0, y_s), min(1.0, y_e)], "anchor": f"x{k}"}
        if shared_xaxes and rows > 1:
            for c in range(1, cols + 1):
                for r in range(1, rows):  # every panel follows the bottom one of its column
                    self.layout[f"xaxis{self._n(r, c)}"].update(matches=f"x{self._n(rows, c)}", showticklabels=False)
        self.layout["annotations"] = [
            {
                "y": y[1],
                "xref": "paper",
                "x": sum(x) / 2.0,
                "yref": "paper",
                "text": title,
                "showarrow": False,
                "font": {"size": 16},
                "xanchor": "center",
                "yanchor": "bottom",
            }
            for title, (x, y) in zip(titles, spans, strict=False)
            if title
        ]

    def _n(self, row: int, col: int) -> str:
        k = (row - 1) * self.cols + col
        return "" if k == 1 else str(k)

    def axes(self, row: int, col: int) -> dict[str, str]:
        """The trace properties placing a trace in panel (row, col), counted from 1."""
        return {"xaxis": f"x{self._n(row, col)}", "yaxis": f"y{self._n(row, col)}"}

    def update(self, axis: str, row: int | None = None, col: int | None = None, **props: Any) -> None:
        """Like ``fig.update_xaxes``/``update_yaxes`` (``axis`` "x" or "y"): every panel, or only (row, col)."""
        keys = [k for k in self.layout if k.startswith(f"{axis}axis")] if row is None else []
        if row is not None and col is not None:
            keys = [f"{axis}axis{self._n(row, col)}"]
        for key in keys:
            self.layout[key].update(props)


def _figure(traces: list[dict[str, Any]], layout: dict[str, Any], height: int = 420) -> Figure:
    """A figure in the report's style: the template, its height, margins and a horizontal legend on top."""
    return {
        "data": traces,
        "layout": {
            **layout,
            "template": _template(),
            "height": height,
            "margin": {"l": 60, "r": 20, "t": 80, "b": 40},
            "legend": {"orientation": "h", "yanchor": "bottom", "y": 1.08, "x": 0},
            "hovermode": "x unified",
        },
    }


def _title(text: str) -> dict[str, Any]:
    return {"title": {"text": text}}


def _ready(fig: Figure) -> Figure:
    """The figure as plotly's ``Figure.to_dict`` gives it to ``to_html``: arrays as base64 typed arrays."""
    if convert_to_base64 is not None:
        convert_to_base64(fig)
    return fig


# -- plots ------------------------------------------------------------------


def _plot_dragons(tables: Tables) -> Figure | str:
    df = _usable(tables, "step_metrics", ["year", "region", "dragons"])
    if isinstance(df, str):
        return df
    traces = []
    for region, color in _colors(_sorted_unique(df["region"])).items():
        rows = df["region"] == region
        years, dragons = _sum_by(df["year"][rows], df["dragons"][rows])  # summed over fields
        traces.append(_line(years, dragons, str(region), color))
    layout = {"xaxis": _title("year"), "yaxis": {**_title("dragons (cumulative count)"), "rangemode": "tozero"}}
    return _figure(traces, layout)


def _plot_fields(tables: Tables) -> Figure | str:
    df = _usable(tables, "field_metrics", ["year", "field", "maturity", "adoption"])
    if isinstance(df, str):
        return df
    grid = _Grid(1, 2, ("maturity", "adoption (demand)"), horizontal_spacing=0.08)
    traces = []
    for field, color in _colors(_sorted_unique(df["field"])).items():
        rows = np.flatnonzero(df["field"] == field)
        rows = rows[np.argsort(df["year"][rows], kind="stable")]
        for col, value in ((1, "maturity"), (2, "adoption")):
            traces.append(
                _line(
                    df["year"][rows],
                    df[value][rows],
                    str(field),
                    color,
                    legendgroup=str(field),
                    showlegend=col == 1,
                    line={"dash": "solid" if col == 1 else "dash"},
                    **grid.axes(1, col),
                )
            )
    grid.update("x", **_title("year"))
    grid.update("y", 1, 1, **_title("maturity (0–1)"), range=[0, 1.02])
    grid.update("y", 1, 2, **_title("adoption (share of potential customers, 0–1)"), range=[0, 1.02])
    return _figure(traces, grid.layout)


def _plot_talent(tables: Tables) -> Figure | str:
    df = _usable(tables, "region_metrics", ["year", "region", "arrivals", "departures", "talent"])
    if isinstance(df, str):
        return df
    net = df["arrivals"] - df["departures"]
    grid = _Grid(1, 2, ("net inflow per year (arrivals − departures)", "talent stock"), horizontal_spacing=0.08)
    traces = []
    for region, color in _colors(_sorted_unique(df["region"])).items():
        rows = df["region"] == region
        calendar_years, yearly = _sum_by(_calendar_years(df["year"][rows]), net[rows])
        years, stock = _sum_by(df["year"][rows], df["talent"][rows])
        traces.append(_bar(calendar_years, yearly, str(region), color, legendgroup=str(region), **grid.axes(1, 1)))
        traces.append(
            _line(years, stock, str(region), color, legendgroup=str(region), showlegend=False, **grid.axes(1, 2))
        )
    grid.update("x", **_title("year"))
    grid.update("y", 1, 1, **_title("net inflow (persons per year)"))
    grid.update("y", 1, 2, **_title("talent (persons)"))
    return _figure(traces, {**grid.layout, "barmode": "group"})


def _plot_capital(tables: Tables) -> Figure | str:
    regions = _usable(tables, "region_metrics", ["year", "region", "investor_capital"])
    flows = _usable(tables, "step_metrics", ["year", "invested", "returned"])
    if isinstance(regions, str) and isinstance(flows, str):
        return regions + " " + flows
    grid = _Grid(
        1,
        2,
        ("investor capital by region (M USD)", "invested and returned per year (M USD)"),
        horizontal_spacing=0.08,
    )
    traces = []
    if not isinstance(regions, str):
        for region, color in _colors(_sorted_unique(regions["region"])).items():
            rows = regions["region"] == region
            years, capital = _sum_by(regions["year"][rows], regions["investor_capital"][rows])
            traces.append(_line(years, capital, str(region), color, **grid.axes(1, 1)))
    if not isinstance(flows, str):
        calendar_years = _calendar_years(flows["year"])
        for value, color in (("invested", "#3b6fb6"), ("returned", "#e8833a")):
            years, money = _sum_by(calendar_years, flows[value])  # every region and field
            traces.append(_bar(years, money, value, color, **grid.axes(1, 2)))
    grid.update("x", **_title("year"))
    grid.update("y", 1, 1, **_title("investor capital (M USD)"))
    grid.update("y", 1, 2, **_title("M USD per year"))
    return _figure(traces, {**grid.layout, "barmode": "group"})


def _plot_gap(tables: Tables) -> Figure | str:
    df = _usable(tables, "step_metrics", ["year", "region", "gap_to_frontier"], optional=["field"])
    if isinstance(df, str):
        return df
    gap = _numeric(df["gap_to_frontier"])
    colors = _colors(_sorted_unique(df["region"]))
    fields = _sorted_unique(df["field"]) if "field" in df else []

    n_panels = 1 + len(fields)
    ncols = min(3, n_panels)
    nrows = math.ceil(n_panels / ncols)
    titles = ["mean over fields"] + [str(f) for f in fields]
    grid = _Grid(
        nrows,
        ncols,
        titles,
        horizontal_spacing=0.06,
        vertical_spacing=0.16 if nrows > 1 else 0.0,
        shared_xaxes=True,
    )
    traces = []
    for region, color in colors.items():
        rows = df["region"] == region
        years, mean = _mean_by(df["year"][rows], gap[rows])
        traces.append(_line(years, mean, str(region), color, legendgroup=str(region), **grid.axes(1, 1)))
    for i, field in enumerate(fields, start=1):
        for region, color in colors.items():
            rows = (df["field"] == field) & (df["region"] == region)
            years, mean = _mean_by(df["year"][rows], gap[rows])
            traces.append(
                _line(
                    years,
                    mean,
                    str(region),
                    color,
                    legendgroup=str(region),
                    showlegend=False,
                    line={"width": 1.5},
                    **grid.axes(i // ncols + 1, i % ncols + 1),
                )
            )
    grid.update("y", **_title("gap (log capability)"))  # every panel has its own range: each says its unit
    grid.update("x", **_title("year"), showticklabels=True)
    return _figure(traces, grid.layout, height=max(420, 300 * nrows))


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
    tables: Tables,
    *,
    scenario: Scenario | None = None,
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
        region, every key rendered as a column; optionally ``changes``: the
        changed fields (:func:`hardtech.analysis.changes.changed_fields`) when
        no ``scenario`` is given. Missing keys render as empty.
    tables:
        ``step_metrics``, ``region_metrics`` and ``field_metrics``, as pandas
        DataFrames or pyarrow Tables (see the module docstring). A chart whose
        table is missing or empty is replaced by a short note.
    scenario:
        The run's scenario: the report lists the fields it changed from the
        preset it is named after.

    plotly.js is inlined once, with the first chart; the file needs no network.
    """
    path = Path(path)
    parts: list[str] = [f"<h1>{html.escape(title)}</h1>", _meta_table(summary.get("meta") or {})]
    parts.append(_changes_section(summary, scenario))

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
        figure = to_html(
            _ready(result), full_html=False, include_plotlyjs=not plotly_included, config=config, validate=False
        )
        parts.append("<section>" + figure + "</section>")
        plotly_included = True

    # the full dragon list (it can be long), folded when it is
    dragons = list(summary.get("dragons") or [])
    parts.append(f"<h2>Dragons ({len(dragons)})</h2>")
    if dragons:
        extra = [k for row in dragons for k in row if k not in DRAGON_COLUMNS]
        columns = DRAGON_COLUMNS + list(dict.fromkeys(extra))
        table = _html_table(dragons, columns)
        parts.append(
            table if len(dragons) <= 30 else f"<details><summary>show all {len(dragons)}</summary>{table}</details>"
        )
    else:
        parts.append(_note("no dragons"))

    parts.append('<h2 id="glossary">Glossary</h2>')
    parts.append(f"<section>{glossary_html()}</section>")
    return write_page(path, title, parts)


def _changes_section(summary: Mapping[str, Any], scenario: Scenario | None) -> str:
    """The fields the run changed from its preset, as a list at the top of the report."""
    if scenario is not None:
        reference = preset_of(scenario)
        if reference is None:
            return _note(f"Scenario {scenario.name!r} is not a shipped preset: no reference to list changes against.")
        changes = changed_fields(scenario, reference)
        where = f"preset {scenario.name}"
    elif "changes" in summary:
        changes, where = list(summary["changes"]), "the preset"
    else:
        return _note("Changed levers: not known (this report was written without its scenario).")
    if not changes:
        return f"<p><b>Changed from {html.escape(where)}:</b> nothing — the preset's values.</p>"
    items = "".join(f"<li><code>{html.escape(line)}</code></li>" for line in describe_changes(changes))
    return f'<p><b>Changed from {html.escape(where)}</b> ({len(changes)}):</p><ul class="changes">{items}</ul>'


def write_page(path: str | Path, title: str, parts: Sequence[str], css: str = "") -> Path:
    """Write an HTML page of ``parts`` (HTML fragments) with the report style; return its path."""
    path = Path(path)
    doc = (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}{css}</style>\n</head>\n<body>\n<main>\n"
        + "\n".join(p for p in parts if p)
        + "\n<footer>Generated by hardtech.</footer>\n</main>\n</body>\n</html>\n"
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(doc, encoding="utf-8")
    return path
