"""One glossary for every place that shows results: the CLI summary, the HTML report and the dashboard.

Each :class:`Term` is a word or column heading a reader meets ("dragon", "gap",
"inflow %/y 20-24", …) with a one-paragraph definition and its unit. The
definitions follow the model's rules (docs/ODD.md); keep them true when a rule
changes.

    >>> from hardtech.analysis.glossary import define, glossary
    >>> define("gap")                         # by term or alias, case-insensitive
    >>> [t.term for t in glossary("results")] # the terms of one group

:func:`glossary_html` renders the whole list (or some terms) as an HTML
definition list for reports; :func:`footnote` gives one line per term for a
terminal table's caption.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from dataclasses import asdict, dataclass

__all__ = ["GROUPS", "TERMS", "Term", "define", "footnote", "glossary", "glossary_html", "lookup"]


@dataclass(frozen=True)
class Term:
    """A term, its definition, unit and the other spellings it appears under."""

    term: str
    definition: str
    unit: str = ""
    group: str = "results"
    aliases: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        """The term as a JSON-ready dict (``aliases`` as a list)."""
        data = asdict(self)
        data["aliases"] = list(self.aliases)
        return data


GROUPS = {
    "results": "Results",
    "firms": "Firms and money",
    "technology": "Technology and markets",
    "levers": "Levers",
    "runs": "Runs and statistics",
}

TERMS: tuple[Term, ...] = (
    # -- results -------------------------------------------------------------------------------
    Term(
        "dragon",
        "A firm that is not an incumbent and whose valuation reaches its field's dragon threshold "
        "(default 1,000 million USD) within dragon.max_age_years (default 10) of its founding. Counted once, in the "
        "quarter it first qualifies; counts are cumulative, so a dragon that later fails or is sold still counts.",
        "firms (count)",
        aliases=("dragons", "new dragons", "first became a dragon"),
    ),
    Term(
        "births",
        "Firms founded during the period (founders who got a seed round); firms present at the start are not births.",
        "firms (count)",
        aliases=("birth", "founded"),
    ),
    Term(
        "deaths",
        "Firms that closed because their cash fell below zero after paying the quarter's costs and any "
        "help from partners (failure is never drawn at random).",
        "firms (count)",
        aliases=("failed", "failures"),
    ),
    Term("failure rate", "Deaths divided by births over the run.", "ratio"),
    Term(
        "exit",
        "A venture-backed firm old enough and with revenue may exit: an IPO when its valuation is at least "
        "capital.ipo_valuation (it goes on as a listed firm), otherwise a trade sale (the buyer takes it; it leaves "
        "the model).",
        "firms (count)",
        aliases=("exits", "ipo", "trade sale", "acquired"),
    ),
    Term(
        "talent",
        "Tech talent living in the region (persons). Each talent agent stands for 1 / scale persons.",
        "persons",
        aliases=("talent start", "talent end", "talent at end"),
    ),
    Term(
        "arrivals",
        "Talent that moved into the region this quarter from another region (persons); departures are the moves out.",
        "persons per quarter",
        aliases=("departures",),
    ),
    Term(
        "inflow %/y 20-24",
        "Net talent inflow 2020–2024: (arrivals − departures) over the five years, divided by the "
        "region's mean talent in those years and by the years, in percent per year.",
        "% per year",
        aliases=("net_inflow_pct_2020_24", "inflow", "net inflow 2020-24"),
    ),
    Term(
        "net inflow",
        "Mean net talent inflow per year over the whole run, % of the region's mean talent stock.",
        "% per year",
        aliases=("net_inflow",),
    ),
    Term(
        "VC pool",
        "Money in the region's investor pool (venture capital available to fund seeds and rounds) at "
        "the end of the quarter.",
        "million USD",
        aliases=("vc pool end m$", "investor capital", "investor_capital", "investor capital end", "vc pool at end"),
    ),
    Term(
        "invested", "Seeds and later rounds paid into firms by investor pools.", "million USD", aliases=("invested m$",)
    ),
    Term(
        "returned",
        "Exit proceeds paid to investors (their equity share of the exit value). With capital.recycling "
        "on they go back into the lead investor's pool — the closed loop; off, they leave the region.",
        "million USD",
        aliases=("returned m$",),
    ),
    Term(
        "gap",
        "Gap to the technology frontier: the world frontier minus the capability of the region's best firm "
        "in a field, in log capability (0 = at the frontier; 0.1 ≈ 10% behind), averaged over fields. Slightly "
        "negative when the region's best firm moved past the frontier recorded at the start of the quarter.",
        "log capability",
        aliases=("gap to frontier", "gap_to_frontier", "gap at end", "gap_end"),
    ),
    Term(
        "concentration",
        "Herfindahl index of headcount across regions, mean over fields: 1 = all in one region, "
        "1/regions = spread evenly.",
        "0–1",
        aliases=("concentration_end",),
    ),
    Term(
        "firms",
        "Firms alive (incumbents and ventures) in the region and field.",
        "firms (count)",
        aliases=("firms end",),
    ),
    # -- firms and money -----------------------------------------------------------------------
    Term(
        "incumbent", "A large established (listed) firm present at the start; it cannot become a dragon.", "", "firms"
    ),
    Term(
        "spin-out",
        "A firm founded by an employee of a successful firm (a dragon, or valued at 20% of its field's "
        "dragon threshold or more); it starts closer to its parent's capability.",
        "",
        "firms",
        aliases=("spinout", "spin-outs", "parent"),
    ),
    Term(
        "round",
        "Money raised from an investor pool. A seed round comes with the founding; later rounds come when "
        "a firm is short of runway and has reached a milestone (capability or revenue gained) and an investor agrees.",
        "million USD",
        "firms",
        aliases=("rounds", "seed", "funded", "funding round"),
    ),
    Term(
        "investor region",
        "The region whose investor pool paid a round. Pools fund firms of their own region most, "
        "other regions of the same bloc less, other blocs least.",
        "",
        "firms",
        aliases=("investors' region", "lead investor"),
    ),
    Term(
        "valuation",
        "What the firm is worth: a field multiple of its annual revenue (lifted by growth) or of its "
        "share of the spending expected two years ahead, times the deal price for private firms, never below the "
        "fading price of its last round.",
        "million USD",
        "firms",
    ),
    Term("headcount", "Persons the firm employs.", "persons", "firms"),
    Term(
        "revenue",
        "What the firm earns in a quarter from customers and public procurement.",
        "million USD per quarter",
        "firms",
    ),
    Term(
        "capability",
        "A firm's technology level in log units (the frontier's units): +0.1 ≈ 10% better.",
        "log capability",
        "firms",
    ),
    Term(
        "imitation",
        "A successful imitation draw closes part of the gap to the best capability a firm can reach: "
        "its own region's best fully, other regions' best discounted by distance and blockades. The spillover "
        "source is the region of the firm imitated.",
        "",
        "firms",
        aliases=("spillover source", "spillover sources", "imitated"),
    ),
    Term(
        "scene",
        "A new niche (application scenario) opened by a firm that moved past its bloc's frontier; it adds "
        "demand and the firm that defined it sells there first.",
        "",
        "firms",
        aliases=("scenes", "scenes defined", "scene defined"),
    ),
    Term(
        "pivot",
        "A young firm still badly fitted to its niche after two years moves to another niche, keeping half "
        "its fit, at the cost of one experiment.",
        "",
        "firms",
    ),
    Term(
        "experiment",
        "A prototype or test a young firm pays for; each batch improves its fit to its niche. A strong "
        "software base makes experiments cheaper.",
        "count",
        "firms",
        aliases=("experiments",),
    ),
    # -- technology and markets -------------------------------------------------------------------
    Term(
        "frontier",
        "The best capability reached anywhere in the world in a field (log capability).",
        "log capability",
        "technology",
    ),
    Term(
        "maturity",
        "How ripe a field's technology is, 0–1: a logistic function of the world frontier.",
        "0–1",
        "technology",
        aliases=("maturity end",),
    ),
    Term(
        "usable from",
        "The first quarter in which a field's maturity reached its usability threshold: products "
        "work and earn revenue from then on.",
        "quarter",
        "technology",
        aliases=("usable",),
    ),
    Term(
        "demand from",
        "The first quarter in which customers started adopting the field's products (Bass diffusion "
        "begins at the field's demand threshold of maturity).",
        "quarter",
        "technology",
        aliases=("demand started",),
    ),
    Term(
        "adoption",
        "Share of potential customers who have adopted the field's products (Bass diffusion), 0–1.",
        "0–1",
        "technology",
        aliases=("adoption end",),
    ),
    Term("demand", "What customers spend on a field in a quarter.", "million USD per quarter", "technology"),
    Term(
        "niches",
        "Vertical application segments of a field (the start set plus scenes opened since); the platform "
        "segment is the broad market where scale matters.",
        "count",
        "technology",
        aliases=("niches end", "niche"),
    ),
    Term(
        "bloc",
        "A geopolitical bloc (china, us, neutral). Decoupling events cut knowledge, component or market "
        "flows between blocs.",
        "",
        "technology",
        aliases=("blocs", "decoupling"),
    ),
    # -- levers ------------------------------------------------------------------------------------
    Term(
        "living cost",
        "Cost-of-living index (housing and services), Hangzhou 2012 = 1. Higher cost deters migrants and founders.",
        "index",
        "levers",
        aliases=("living_cost",),
    ),
    Term(
        "talent subsidy",
        "Settling subsidy for young talent, paid by the region; it weighs in young people's "
        "migration choice relative to the wage.",
        "thousand USD per person",
        "levers",
        aliases=("talent_subsidy",),
    ),
    Term(
        "startup support",
        "Share of a startup's experiment (prototype, pivot) cost paid by the government.",
        "share 0–0.9",
        "levers",
        aliases=("startup_support",),
    ),
    Term(
        "basic research",
        "Extra public basic-research funding on top of the universities' own; it raises the bloc's science stock.",
        "million USD per year",
        "levers",
        aliases=("basic_research",),
    ),
    Term(
        "procurement",
        "Public purchases of young local firms' niche products (scenario opening).",
        "million USD per year",
        "levers",
    ),
    Term(
        "cluster programme",
        "Extra formation of cooperation links between firms of the region, as a multiple of the base rate.",
        "× base rate",
        "levers",
        aliases=("cluster_programme",),
    ),
    Term(
        "fund injection",
        "Public money paid into the region's investor pool.",
        "million USD per year",
        "levers",
        aliases=("fund_injection",),
    ),
    Term(
        "changed levers",
        "The scenario fields whose values differ from the preset (or from the other arm of a comparison).",
        "",
        "levers",
        aliases=("changes", "changed"),
    ),
    # -- runs and statistics -----------------------------------------------------------------------
    Term("quarter", "One model step. 2012Q1 is step 0 of the shipped preset.", "", "runs", aliases=("step",)),
    Term(
        "scale",
        "Share of the real talent population simulated as agents: 0.01 = one agent per 100 persons. "
        "Smaller scales run faster and are noisier.",
        "share",
        "runs",
    ),
    Term(
        "seed",
        "The base random seed. With the scenario and the replication number it fixes every random draw: "
        "the same three give the same run.",
        "",
        "runs",
    ),
    Term(
        "replication",
        "An independent run of the same scenario and seed with its own random streams (replication 0, 1, …).",
        "",
        "runs",
        aliases=("replications", "rep"),
    ),
    Term(
        "run id",
        "<scenario>-<hash of the resolved scenario and seed>-r<replication>: the same inputs always get the same id.",
        "",
        "runs",
        aliases=("run_id",),
    ),
    Term(
        "paired difference",
        "B − A computed replication by replication: both arms use the same seeds and "
        "replication numbers (common random numbers), so much of the noise cancels.",
        "",
        "runs",
        aliases=("b − a", "b - a", "common random numbers"),
    ),
    Term(
        "bootstrap interval",
        "A 95% percentile interval of a mean (or of a paired difference) from resampling the "
        "replications with replacement (2,000 resamples); shown from 5 replications up, because fewer give "
        "intervals that mean little.",
        "",
        "runs",
        aliases=("95% interval", "bootstrap"),
    ),
    Term(
        "95% band",
        "In a time plot: the range the central 95% of replications fall in (2.5th to 97.5th "
        "percentile) around their mean line; with few replications it is close to their minimum and maximum.",
        "",
        "runs",
        aliases=("band",),
    ),
    Term(
        "replay",
        "Re-running a stored run's scenario, seed and replication: it gives bit-identical state on the "
        "same installation, so a firm's quarter-by-quarter history is re-derived instead of stored.",
        "",
        "runs",
        aliases=("replayed", "biography"),
    ),
)

_INDEX: dict[str, Term] = {}
for _t in TERMS:
    for _name in (_t.term, *_t.aliases):
        _INDEX.setdefault(_name.lower(), _t)


def lookup(name: str) -> Term | None:
    """The term for a word or heading (its name or any alias, case-insensitive), or None."""
    return _INDEX.get(name.strip().lower())


def define(name: str) -> str:
    """The definition of a term (KeyError if the glossary lacks it)."""
    term = lookup(name)
    if term is None:
        raise KeyError(f"{name!r} is not in the glossary")
    return term.definition


def glossary(group: str | None = None) -> list[Term]:
    """Every term (or those of one group of :data:`GROUPS`), in glossary order."""
    if group is not None and group not in GROUPS:
        raise KeyError(f"unknown group {group!r}; allowed: {', '.join(GROUPS)}")
    return [t for t in TERMS if group is None or t.group == group]


def _selected(names: Iterable[str] | None) -> list[Term]:
    if names is None:
        return list(TERMS)
    out: list[Term] = []
    for name in names:
        term = lookup(name)
        if term is None:
            raise KeyError(f"{name!r} is not in the glossary")
        if term not in out:
            out.append(term)
    return out


def footnote(names: Iterable[str]) -> list[str]:
    """One line per term, ``"term (unit): definition"``, for a terminal table's caption."""
    return [f"{t.term}{f' ({t.unit})' if t.unit else ''}: {t.definition}" for t in _selected(names)]


def glossary_html(names: Iterable[str] | None = None) -> str:
    """An HTML ``<dl class="glossary">`` of the terms (all by default), grouped like :data:`GROUPS`."""
    terms = _selected(names)
    parts = ['<dl class="glossary">']
    for t in terms:
        unit = f' <span class="unit">({html.escape(t.unit)})</span>' if t.unit else ""
        parts.append(
            f'<dt id="term-{html.escape(t.term.replace(" ", "-"))}">{html.escape(t.term)}{unit}</dt>'
            f"<dd>{html.escape(t.definition)}</dd>"
        )
    parts.append("</dl>")
    return "".join(parts)
