"""History: the model against a panel of real firms, by pattern targets declared in advance.

The panel (``hardtech/data/history_panel.csv``, documented in docs/history.md)
lists real firms of the five fields in the six regions with the year each first
reached a valuation of 1 bn USD, and a source per row. The targets
(``hardtech/data/history_targets.toml``) were committed before any parameter
was fitted to them; each is one statistic, computed by :func:`statistic` in
the same way on the panel and on a model run, and a band:

* ``calibration`` targets use dragons up to 2019 only;
* ``held_out`` targets use 2020-2025 and are never fitted.

Both sides go through the same dragon rule (:func:`apply_rule`): a firm is a
dragon in the year it first reaches the threshold, if that is at most
``max_age_years`` after its founding, not before the model's start, and it was
founded no earlier than the model's oldest initial start-ups.

:func:`run_history` runs replications and returns, per target, the observed
value, the model's distribution over seeds and the share of seeds meeting the
band, plus the dragons-per-region timeline of every seed.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import tomllib
from scipy import stats

import hardtech
from hardtech.evidence.ensembles import run_many
from hardtech.scenario import Scenario

KINDS = ("count", "leader", "fields", "rank_corr", "within_factor", "years_to_dragon", "founding_median", "net_inflow")
SPLITS = ("calibration", "held_out")
PANEL_COLUMNS = (
    "name",
    "city",
    "region",
    "founding_region",
    "field",
    "founded",
    "dragon_year",
    "valuation",
    "basis",
    "grade",
    "source",
    "source_date",
    "url",
    "note",
)
GRADES = ("A", "B", "C")
BASES = ("round", "index", "acquisition", "listing", "secondary", "estimate", "none")


@dataclass(frozen=True)
class Rule:
    """The dragon rule applied to panel rows and model dragons alike (see the targets file)."""

    threshold_musd: float = 1000.0
    max_age_years: float = 10.0
    first_year: int = 2012
    min_founded: int = 2007
    last_year: int = 2025
    region_rule: str = "at_dragon"
    china: tuple[str, ...] = ("hangzhou", "shenzhen", "beijing", "shanghai")


@dataclass(frozen=True)
class Target:
    """One pattern target: a statistic of dragons (or of talent flows) and its band."""

    id: str
    name: str
    split: str
    kind: str
    observed: float
    lo: float
    hi: float
    regions: tuple[str, ...] = ()
    region: str = ""
    from_year: int = 2012
    to_year: int = 2025
    factor: float = 2.0

    @property
    def held_out(self) -> bool:
        """Whether the target is held out (never fitted, out of sample)."""
        return self.split == "held_out"

    def needs_regions(self) -> set[str]:
        """The regions the target's statistic reads."""
        return set(self.regions) | ({self.region} if self.region else set())

    def met(self, value: float) -> bool:
        """Whether ``value`` lies in the band (a missing value never does)."""
        return bool(np.isfinite(value) and self.lo <= value <= self.hi)


@dataclass
class HistoryResult:
    """What :func:`run_history` returns."""

    targets: pd.DataFrame  # one row per target: observed, band, model distribution, share met
    values: pd.DataFrame  # replication × target: value, met
    timeline: pd.DataFrame  # replication × region × year: cumulative dragons (model)
    panel_timeline: pd.DataFrame  # region × year: cumulative dragons (panel)
    rule: Rule
    replications: int
    meta: dict[str, Any] = field(default_factory=dict)


# -- the declared files ---------------------------------------------------------------------------
def _data(name: str) -> Path:
    return Path(str(resources.files("hardtech") / "data" / name))


def load_targets(path: str | Path | None = None) -> tuple[Rule, list[Target]]:
    """The rule and the targets of the declared targets file (default: the package's)."""
    doc = tomllib.loads(Path(path or _data("history_targets.toml")).read_text(encoding="utf-8"))
    raw = dict(doc.get("rule", {}))
    rule = Rule(
        **{k: (tuple(v) if isinstance(v, list) else v) for k, v in raw.items()}
        | ({"china": tuple(doc["china"])} if "china" in doc else {})
    )
    targets = []
    for t in doc.get("target", []):
        t = dict(t)
        t["regions"] = tuple(t.get("regions", ()))
        target = Target(**t)
        if target.kind not in KINDS or target.split not in SPLITS:
            raise ValueError(f"target {target.id}: kind {target.kind!r} / split {target.split!r} not allowed")
        targets.append(target)
    return rule, targets


def load_panel(path: str | Path | None = None) -> pd.DataFrame:
    """The panel of real firms (one row per firm; ``founded``/``dragon_year`` nullable integers)."""
    panel = pd.read_csv(path or _data("history_panel.csv"), dtype={"founding_region": "string"}, keep_default_na=True)
    for col in ("founded", "dragon_year"):
        panel[col] = panel[col].astype("Int64")
    panel["founding_region"] = panel["founding_region"].fillna(panel["region"])
    return panel


# -- dragons, the same way on both sides --------------------------------------------------------
def apply_rule(dragons: pd.DataFrame, rule: Rule) -> pd.DataFrame:
    """Rows that count as dragons under ``rule`` (columns region, field, founded, dragon_year)."""
    d = dragons.dropna(subset=["founded", "dragon_year"])
    age = d["dragon_year"] - d["founded"]
    keep = (
        (d["founded"] >= rule.min_founded)
        & (age >= 0)
        & (age <= rule.max_age_years)
        & (d["dragon_year"] >= rule.first_year)
        & (d["dragon_year"] <= rule.last_year)
    )
    out = d.loc[keep, ["region", "field", "founded", "dragon_year"]].copy()
    return out.astype({"founded": int, "dragon_year": int}).reset_index(drop=True)


def panel_dragons(panel: pd.DataFrame, rule: Rule, region_rule: str | None = None) -> pd.DataFrame:
    """The panel's dragons; ``region_rule`` 'at_dragon' (default of the rule) or 'at_founding'."""
    frame = panel.copy()
    if (region_rule or rule.region_rule) == "at_founding":
        frame["region"] = frame["founding_region"]
    return apply_rule(frame, rule)


def model_dragons(result: hardtech.RunResult, rule: Rule) -> pd.DataFrame:
    """A run's dragons (its ``dragons`` table) through the same rule."""
    d = result.frame("dragons")
    frame = pd.DataFrame(
        {
            "region": d["region"].astype(str),
            "field": d["field"].astype(str),
            "founded": d["founded_quarter"].str.slice(0, 4).astype(int) if len(d) else pd.Series([], dtype=int),
            "dragon_year": d["dragon_quarter"].str.slice(0, 4).astype(int) if len(d) else pd.Series([], dtype=int),
        }
    )
    return apply_rule(frame, rule)


def net_inflow(region_metrics: pd.DataFrame, region: str, from_year: int, to_year: int) -> float:
    """Mean net talent inflow of ``region`` over the years, % of its mean talent a year.

    The formula of the run summary's ``net_inflow_pct_2020_24``.
    """
    r = region_metrics[
        (region_metrics.region == region) & (region_metrics.year >= from_year) & (region_metrics.year <= to_year)
    ]
    if r.empty:
        return float("nan")
    years = len(r) / 4.0
    return float(100.0 * (r.arrivals - r.departures).sum() / max(r.talent.mean(), 1.0) / years)


def _counts(dragons: pd.DataFrame, regions: Sequence[str], from_year: int, to_year: int) -> np.ndarray:
    window = dragons[(dragons.dragon_year >= from_year) & (dragons.dragon_year <= to_year)]
    return window.groupby("region").size().reindex(list(regions), fill_value=0).to_numpy(dtype=float)


def statistic(
    target: Target,
    dragons: pd.DataFrame,
    reference: pd.DataFrame,
    inflow: Callable[[str, int, int], float] | None = None,
) -> float:
    """The target's statistic of ``dragons`` (rule applied).

    ``reference`` is the panel's dragons, needed by the kinds that compare with it (rank_corr,
    within_factor). ``inflow(region, from, to)`` gives net talent inflow; without it (the panel
    side) ``net_inflow`` targets return the declared observed value, which comes from a sourced
    figure, not from firms.
    """
    t, k = target, target.kind
    first = t.from_year
    if k == "count":
        return float(_counts(dragons, t.regions, first, t.to_year).sum())
    if k == "leader":
        counts = dict(zip(t.regions, _counts(dragons, t.regions, first, t.to_year), strict=True))
        own = counts[t.region]
        return float(own > 0 and all(own >= v for v in counts.values()))
    if k == "fields":
        d = dragons[(dragons.region == t.region) & (dragons.dragon_year <= t.to_year)]
        return float(d["field"].nunique())
    if k == "rank_corr":
        model = _counts(dragons, t.regions, first, t.to_year)
        panel = _counts(reference, t.regions, first, t.to_year)
        if np.ptp(model) == 0 or np.ptp(panel) == 0:
            return float("nan")  # no ranking to compare
        return float(stats.spearmanr(model, panel).statistic)
    if k == "within_factor":
        model = _counts(dragons, t.regions, first, t.to_year)
        panel = _counts(reference, t.regions, first, t.to_year)
        ok = (model >= panel / t.factor) & (model <= np.maximum(panel * t.factor, 1.0))
        return float(ok.sum())
    window = dragons[(dragons.dragon_year >= first) & (dragons.dragon_year <= t.to_year)]
    if k == "years_to_dragon":
        w = window[window.region.isin(t.regions)]
        return float((w.dragon_year - w.founded).median()) if len(w) else float("nan")
    if k == "founding_median":
        w = window[window.region == t.region]
        return float(w.founded.median()) if len(w) else float("nan")
    if k == "net_inflow":
        return t.observed if inflow is None else inflow(t.region, first, t.to_year)
    raise ValueError(f"unknown target kind {k!r}")


def panel_values(panel: pd.DataFrame | None = None, targets_path: str | Path | None = None) -> dict[str, float]:
    """Every target's statistic on the panel (to check against the declared ``observed``)."""
    rule, targets = load_targets(targets_path)
    reference = panel_dragons(load_panel() if panel is None else panel, rule)
    return {t.id: statistic(t, reference, reference) for t in targets}


def cumulative(dragons: pd.DataFrame, regions: Sequence[str], years: Sequence[int]) -> pd.DataFrame:
    """Cumulative dragons per region at the end of each year (long: region, year, dragons)."""
    rows = [(r, y, int(((dragons.region == r) & (dragons.dragon_year <= y)).sum())) for r in regions for y in years]
    return pd.DataFrame(rows, columns=["region", "year", "dragons"])


# -- the model side -----------------------------------------------------------------------------
def _timeline_rule(rule: Rule, sc: Scenario) -> Rule:
    """The rule with the model's whole horizon, for the timeline plot only."""
    return Rule(**{**rule.__dict__, "last_year": sc.time.end_year})


def _history_job(args: tuple[Scenario, int]) -> dict[str, Any]:
    """One replication: every target's value and the cumulative dragons per region and year."""
    scenario, replication = args
    return {"replication": replication, **history_row(hardtech.run(scenario, replication=replication))}


def history_row(result: hardtech.RunResult, timeline: bool = True) -> dict[str, Any]:
    """Every target's value on one run (keys: target ids).

    With ``timeline``, also the cumulative dragons per region and year (keys ``tl|<region>|<year>``).
    """
    scenario = result.scenario
    rule, targets = load_targets()
    reference = panel_dragons(load_panel(), rule)
    dragons = model_dragons(result, rule)
    rm = result.region_metrics

    def inflow(region: str, first: int, last: int) -> float:
        return net_inflow(rm, region, first, last)

    row: dict[str, Any] = {t.id: statistic(t, dragons, reference, inflow) for t in targets}
    if not timeline:
        return row
    everything = model_dragons(result, _timeline_rule(rule, scenario))
    years = range(scenario.time.start_year, scenario.time.end_year + 1)
    for r, y, n in cumulative(everything, list(scenario.regions), years).itertuples(index=False):
        row[f"tl|{r}|{y}"] = n
    return row


def check_scenario(sc: Scenario, targets: Sequence[Target] | None = None) -> None:
    """Raise ValueError naming what is missing when the scenario cannot be compared with the panel."""
    if targets is None:
        targets = load_targets()[1]
    need = set().union(*(t.needs_regions() for t in targets))
    missing = sorted(need - set(sc.regions))
    if missing:
        raise ValueError(
            f"the history targets need regions {', '.join(sorted(need))}; scenario {sc.name!r} lacks "
            f"{', '.join(missing)}"
        )
    if sc.time.start_year > 2012 or sc.time.end_year < 2025:
        raise ValueError(
            f"time: the history covers 2012-2025; scenario {sc.name!r} runs {sc.time.start_year}-{sc.time.end_year}"
        )


def run_history(
    scenario: Scenario,
    replications: int = 4,
    executor: Executor | None = None,
    on_done: Callable[[], None] | None = None,
) -> HistoryResult:
    """Run ``replications`` seeds of ``scenario`` and compare every target with the panel."""
    rule, targets = load_targets()
    check_scenario(scenario, targets)
    rows = run_many(
        [(scenario, k) for k in range(replications)], executor=executor, on_done=on_done, measure=_history_job
    )
    values = rows.melt(id_vars="replication", value_vars=[t.id for t in targets], var_name="target", value_name="value")
    by_id = {t.id: t for t in targets}
    values["met"] = [by_id[t].met(v) for t, v in zip(values.target, values.value, strict=True)]
    tl_cols = [c for c in rows.columns if str(c).startswith("tl|")]
    timeline = rows.melt(id_vars="replication", value_vars=tl_cols, var_name="key", value_name="dragons")
    parts = timeline.pop("key").str.split("|", expand=True)
    timeline["region"], timeline["year"] = parts[1], parts[2].astype(int)
    timeline = timeline[["replication", "region", "year", "dragons"]]
    reference = panel_dragons(load_panel(), rule)
    panel_tl = cumulative(reference, list(scenario.regions), range(rule.first_year, rule.last_year + 1))
    return HistoryResult(
        targets=summarise(targets, values),
        values=values,
        timeline=timeline,
        panel_timeline=panel_tl,
        rule=rule,
        replications=replications,
    )


def summarise(targets: Sequence[Target], values: pd.DataFrame) -> pd.DataFrame:
    """Per target: observed, band, and the model's distribution over seeds.

    The model's median, 10th/90th percentiles and mean over seeds, the number of seeds with a value,
    and the share of all seeds meeting the band.
    """
    out = []
    for t in targets:
        v = values[values.target == t.id]
        finite = v.value.to_numpy(dtype=float)
        finite = finite[np.isfinite(finite)]
        q = np.quantile(finite, [0.1, 0.5, 0.9]) if finite.size else [math.nan] * 3
        out.append(
            {
                "id": t.id,
                "name": t.name,
                "split": t.split,
                "held_out": t.held_out,
                "kind": t.kind,
                "observed": t.observed,
                "lo": t.lo,
                "hi": t.hi,
                "model_median": float(q[1]),
                "model_p10": float(q[0]),
                "model_p90": float(q[2]),
                "model_mean": float(finite.mean()) if finite.size else math.nan,
                "seeds_with_value": int(finite.size),
                "share_met": float(v.met.mean()) if len(v) else math.nan,
            }
        )
    return pd.DataFrame(out)


# -- report ---------------------------------------------------------------------------------------
def timeline_figure(result: HistoryResult):
    """Dragons per region per year: the model's median and 10-90% band across seeds, the panel's points."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    regions = list(dict.fromkeys(result.timeline.region)) or list(dict.fromkeys(result.panel_timeline.region))
    cols = 3
    rows = max(1, math.ceil(len(regions) / cols))
    titles = [r + (" (panel incomplete)" if r == "rest_of_world" else "") for r in regions]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_xaxes=True)
    grouped = result.timeline.groupby(["region", "year"]).dragons
    band = pd.DataFrame({"p10": grouped.quantile(0.1), "p50": grouped.quantile(0.5), "p90": grouped.quantile(0.9)})
    for i, region in enumerate(regions):
        r, c = i // cols + 1, i % cols + 1
        first = i == 0
        if region in band.index.get_level_values(0):
            b = band.loc[region]
            x = list(b.index)
            fig.add_trace(
                go.Scatter(
                    x=x + x[::-1],
                    y=list(b.p90) + list(b.p10[::-1]),
                    fill="toself",
                    line=dict(width=0),
                    fillcolor="rgba(59,111,182,0.2)",
                    name="model 10-90% of seeds",
                    showlegend=first,
                    legendgroup="band",
                    hoverinfo="skip",
                ),
                row=r,
                col=c,
            )
            fig.add_trace(
                go.Scatter(
                    x=x,
                    y=list(b.p50),
                    mode="lines",
                    line=dict(color="#3b6fb6"),
                    name="model median",
                    showlegend=first,
                    legendgroup="median",
                ),
                row=r,
                col=c,
            )
        p = result.panel_timeline[result.panel_timeline.region == region]
        fig.add_trace(
            go.Scatter(
                x=p.year,
                y=p.dragons,
                mode="markers",
                marker=dict(color="#c53030", size=6),
                name="panel (real firms)",
                showlegend=first,
                legendgroup="panel",
            ),
            row=r,
            col=c,
        )
    fig.update_layout(
        template="plotly_white",
        height=300 * rows,
        margin=dict(l=50, r=20, t=60, b=40),
        legend=dict(orientation="h", yanchor="bottom", y=1.04, x=0),
    )
    fig.update_yaxes(title_text="dragons (cumulative)", col=1)
    return fig


def write_history_report(path: str | Path, result: HistoryResult, meta: Mapping[str, Any]) -> Path:
    """One self-contained HTML page: metadata, the targets table and the timeline plot."""
    import html

    from hardtech.analysis.report import _meta_table, write_page

    def fmt(x: float) -> str:
        return "–" if not np.isfinite(x) else f"{x:,.2f}".rstrip("0").rstrip(".")

    head = ("target", "split", "observed", "band", "model median [10%, 90%]", "share of seeds meeting")
    rows = []
    for t in result.targets.itertuples(index=False):
        split = "<b>held out</b>" if t.held_out else "calibration"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{c}</td>"
                for c in (
                    f"{html.escape(t.id)} {html.escape(t.name)}",
                    split,
                    fmt(t.observed),
                    f"[{fmt(t.lo)}, {fmt(t.hi)}]",
                    f"{fmt(t.model_median)} [{fmt(t.model_p10)}, {fmt(t.model_p90)}]",
                    f"{100 * t.share_met:.0f}%",
                )
            )
            + "</tr>"
        )
    table = (
        "<table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )
    fig = timeline_figure(result).to_html(full_html=False, include_plotlyjs=True, config={"displaylogo": False})
    parts = [
        f"<h1>{html.escape(str(meta.get('title', 'hardtech history')))}</h1>",
        _meta_table(meta),
        "<h2>Pattern targets</h2>",
        "<p>Declared before calibration (src/hardtech/data/history_targets.toml); held-out targets use "
        "2020-2025 only and are never fitted. Panel and model go through the same dragon rule; see "
        "docs/history.md.</p>",
        table,
        "<h2>Dragons per region per year</h2>",
        fig,
    ]
    return write_page(path, str(meta.get("title", "hardtech history")), parts)
