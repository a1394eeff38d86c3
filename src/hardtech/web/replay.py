"""Re-deriving what a run did by replaying it: firm biographies and the world view of stored runs.

A run is fixed by its scenario, seed and replication: replaying them with
:class:`~hardtech.model.HardtechModel` on the same installation gives
bit-identical state, quarter by quarter. So the store keeps only what every
run needs (metrics, events, the final firms, dragons, region flows) and the
dashboard re-derives the rest on demand:

* :func:`biography` — one firm's life: how it was founded (spin-out of whom),
  its funding rounds and the investors' regions, headcount, revenue,
  capability, cash and valuation every quarter, the regions it imitated, the
  scenes it defined, and how it ended. A tracer (``after_step``) reads the
  firm's row after every quarter; the replay stops once the firm is gone.
* :func:`world` — the world view's frames (:func:`hardtech.web.world.frame`)
  of every quarter.

Each result says how it was made and checks the replay against the stored
tables (funding rounds and the dragon's valuation against ``firm_events`` and
``dragons``; births and dragons per region, field and quarter against
``step_metrics``): a replay on another version of the model, or on a processor
whose floating point differs, would not match, and the page then says so.
"""

from __future__ import annotations

import contextlib
import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hardtech.model import HardtechModel
from hardtech.scenario import Scenario
from hardtech.web.series import jsonable, num
from hardtech.web.world import frame, layout

PANEL_COLUMNS = (
    "headcount",
    "revenue",
    "capability",
    "valuation",
    "cash",
    "stage",
    "segment",
    "fit",
    "public",
    "expanded",
    "invested",
    "investor_share",
    "imitated_from",
    "round_investor",
    "round_step",
    "post_money",
)
_STATIC = ("region", "field", "founded", "incumbent", "parent", "founder")
END_EVENTS = {
    "failed": "failed in {q} (cash below zero)",
    "exit_ipo": "IPO in {q} (listed; it goes on as a public firm)",
    "exit_acquired": "acquired in a trade sale in {q} (it leaves the model)",
}
METHOD = (
    "Re-derived by replaying the stored run (same scenario, seed and replication give bit-identical state); "
    "the store keeps events, the final firms, dragons and a yearly panel, not every firm's quarter by quarter."
)


class FirmNotFound(LookupError):
    """The firm never existed in the run."""


class _Stop(Exception):
    """Ends a replay early (the traced firm is gone)."""


def _quarter(sc: Scenario, step: int) -> str:
    return f"{sc.time.start_year + step // 4}Q{step % 4 + 1}"


class FirmTracer:
    """``after_step`` hook: one firm's row after every quarter; stops the replay once the firm is gone."""

    def __init__(self, firm_id: int) -> None:
        self.firm_id = int(firm_id)
        self.rows: list[dict[str, Any]] = []
        self.static: dict[str, Any] | None = None
        self.gone_step: int | None = None

    def _row(self, model: HardtechModel) -> int:
        return int(model.world.firms.rows_of(np.array([self.firm_id], np.int64))[0])

    def prime(self, model: HardtechModel) -> None:
        """Before the first quarter: note a firm present at the start."""
        row = self._row(model)
        if row >= 0:
            firms = model.world.firms
            self.static = {k: firms[k][row].item() for k in _STATIC}

    def __call__(self, model: HardtechModel) -> None:
        """After a quarter: record the firm's row, or note that it is gone and stop the replay."""
        firms = model.world.firms
        step = model.world.step - 1
        row = self._row(model)
        if row < 0:
            if self.static is not None or self.firm_id < firms.next_id:
                self.gone_step = step
                raise _Stop()
            return
        if self.static is None:
            self.static = {k: firms[k][row].item() for k in _STATIC}
        values = {k: firms[k][row].item() for k in PANEL_COLUMNS}
        values["frontier"] = float(model.world.frontier[firms["field"][row]])
        values["step"] = step
        self.rows.append(values)


def _run(
    sc: Scenario,
    replication: int,
    hook: Callable[[HardtechModel], None],
    prime: Callable[[HardtechModel], None] | None = None,
) -> HardtechModel:
    model = HardtechModel(sc, replication)
    if prime is not None:
        prime(model)
    with contextlib.suppress(_Stop):
        model.run(after_step=hook)
    return model


def _events_of(model: HardtechModel, firm_id: int) -> pd.DataFrame:
    ev = model.results()["firm_events"].to_pandas()
    return ev[ev.firm_id == firm_id].reset_index(drop=True)


def biography(
    sc: Scenario,
    replication: int,
    firm_id: int,
    *,
    stored_events: pd.DataFrame | None = None,
    stored_dragon: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """One firm's life in a run, re-derived by replay (see the module doc); FirmNotFound if it never existed.

    ``stored_events`` (the run's stored ``firm_events`` rows of this firm) and
    ``stored_dragon`` (its ``dragons`` row, if any) are checked against the replay.
    """
    t0 = time.perf_counter()
    tracer = FirmTracer(firm_id)
    model = _run(sc, replication, tracer, tracer.prime)
    if not tracer.rows:
        if tracer.static is None and firm_id >= model.world.firms.next_id:
            raise FirmNotFound(
                f"firm {firm_id} never existed in this run (firm ids go up to {model.world.firms.next_id - 1})"
            )
        raise FirmNotFound(
            f"firm {firm_id} was never alive at the end of a quarter in this run (it closed in the "
            "quarter it was founded); see its rows in firm_events"
        )
    regions, fields = list(sc.regions), list(sc.fields)
    st = tracer.static
    assert st is not None  # set with the firm's first row, and there are rows
    events = _events_of(model, firm_id)
    by_step = {r["step"]: r for r in tracer.rows}

    def region_name(i: Any) -> str | None:
        return regions[int(i)] if i is not None and 0 <= int(i) < len(regions) else None

    rounds = []
    for e in events[events.event == "funded"].itertuples():
        after = by_step.get(int(e.step), {})
        rounds.append(
            {
                "step": int(e.step),
                "quarter": e.quarter,
                "amount_musd": num(e.value, 6),
                "investor_region": region_name(after.get("round_investor")),
                "post_money_musd": num(after.get("post_money"), 6) if after.get("round_step") == e.step else None,
                "stage": after.get("stage"),
                "kind": "seed" if int(e.step) == st["founded"] else "round",
            }
        )
    niches = model.world.niches
    defined = np.flatnonzero(niches["definer"] == firm_id)
    scenes = [
        {
            "step": int(niches["opened"][i]),
            "quarter": _quarter(sc, int(niches["opened"][i])),
            "niche_id": int(niches.ids[i]),
            "size": num(niches["size"][i], 4),
        }
        for i in defined
    ]
    imitations = [
        {"step": r["step"], "quarter": _quarter(sc, r["step"]), "source": regions[r["imitated_from"]]}
        for r in tracer.rows
        if r["imitated_from"] >= 0
    ]
    by_source: dict[str, int] = {}
    for item in imitations:
        by_source[item["source"]] = by_source.get(item["source"], 0) + 1
    other = {
        k: [
            {"step": int(e.step), "quarter": e.quarter, "value": num(e.value, 6)}
            for e in events[events.event == k].itertuples()
        ]
        for k in ("pivot", "expanded", "dragon")
    }

    founded = int(st["founded"])
    origin: dict[str, Any]
    if st["incumbent"]:
        origin = {"kind": "incumbent", "text": "an incumbent (large listed firm) present at the start"}
    elif founded < 0:
        origin = {
            "kind": "present at start",
            "text": f"a young firm present at the start (founded {_quarter(sc, founded)})",
        }
    elif st["parent"] >= 0:
        origin = {"kind": "spin-out", "text": f"a spin-out of firm {st['parent']}", "parent": int(st["parent"])}
    else:
        origin = {"kind": "founded", "text": "founded by a person who was not employed by a successful firm"}
    origin["founder"] = int(st["founder"]) if st["founder"] >= 0 else None

    last = tracer.rows[-1]
    ends = events[events.event.isin(list(END_EVENTS))]
    end: dict[str, Any]
    if len(ends):
        e = ends.iloc[-1]
        end = {
            "kind": str(e.event),
            "step": int(e.step),
            "quarter": str(e.quarter),
            "text": END_EVENTS[str(e.event)].format(q=e.quarter),
            "value": num(e.value, 6),
        }
        if e.event == "exit_ipo" and tracer.gone_step is None:
            end["text"] += f"; alive at the end of the run ({_quarter(sc, last['step'])})"
        elif e.event == "exit_ipo" and tracer.gone_step is not None:  # (not None: the branch above)
            end["text"] += f"; gone in {_quarter(sc, tracer.gone_step)}"
    else:
        end = {
            "kind": "alive",
            "step": last["step"],
            "quarter": _quarter(sc, last["step"]),
            "text": f"alive at the end of the run ({_quarter(sc, last['step'])})",
        }

    panel_keys = (
        "step",
        "headcount",
        "revenue",
        "capability",
        "frontier",
        "valuation",
        "cash",
        "stage",
        "segment",
        "public",
        "imitated_from",
    )
    panel: dict[str, list[Any]] = {k: [r[k] for r in tracer.rows] for k in panel_keys}
    panel["quarter"] = [_quarter(sc, s) for s in panel["step"]]
    panel["imitated_from"] = [region_name(v) if v >= 0 else None for v in panel["imitated_from"]]
    panel["round_investor"] = [
        region_name(r["round_investor"]) if r["round_step"] == r["step"] else None for r in tracer.rows
    ]

    checks = []
    if stored_events is not None:
        want = stored_events[stored_events.event == "funded"].sort_values("step")
        ok = len(want) == len(rounds) and all(
            int(a) == b["step"] and np.isclose(float(v), b["amount_musd"], rtol=1e-5)
            for a, v, b in zip(want.step, want.value, rounds, strict=False)
        )
        checks.append({"what": "funding rounds (quarter, amount) against the stored firm_events", "ok": bool(ok)})
    if stored_dragon is not None and len(stored_dragon):
        stored_value = float(stored_dragon.valuation_musd.iloc[0])
        mine = other["dragon"][0]["value"] if other["dragon"] else None
        checks.append(
            {
                "what": "valuation when it became a dragon against the stored dragons table",
                "ok": bool(mine is not None and np.isclose(stored_value, mine, rtol=1e-5)),
            }
        )
    return jsonable(
        {
            "firm_id": firm_id,
            "region": regions[st["region"]],
            "field": fields[st["field"]],
            "field_label": sc.fields[fields[st["field"]]].label,
            "incumbent": bool(st["incumbent"]),
            "founded_step": founded,
            "founded_quarter": _quarter(sc, founded),
            "origin": origin,
            "rounds": rounds,
            "scenes": scenes,
            "imitation": {"by_region": by_source, "quarters": imitations},
            "pivots": other["pivot"],
            "expanded": other["expanded"][0] if other["expanded"] else None,
            "dragon": (
                {"quarter": other["dragon"][0]["quarter"], "valuation_musd": other["dragon"][0]["value"]}
                if other["dragon"]
                else None
            ),
            "end": end,
            "panel": panel,
            "source": {
                "method": "replay",
                "text": METHOD,
                "seconds": round(time.perf_counter() - t0, 2),
                "quarters_replayed": (tracer.gone_step + 1) if tracer.gone_step is not None else sc.steps,
                "checks": checks,
            },
        }
    )


def biography_csv(bio: dict[str, Any]) -> str:
    """The quarter-by-quarter panel of a biography as CSV (one row per quarter alive)."""
    panel = bio["panel"]
    frame_ = pd.DataFrame(
        {
            "firm_id": bio["firm_id"],
            **{
                k: panel[k]
                for k in (
                    "step",
                    "quarter",
                    "headcount",
                    "revenue",
                    "capability",
                    "frontier",
                    "valuation",
                    "cash",
                    "stage",
                    "segment",
                    "public",
                    "round_investor",
                    "imitated_from",
                )
            },
        }
    )
    rounds = {r["step"]: r["amount_musd"] for r in bio["rounds"]}
    frame_.insert(frame_.columns.get_loc("round_investor"), "round_musd", [rounds.get(s) for s in panel["step"]])
    buf = io.StringIO()
    frame_.to_csv(buf, index=False)
    return buf.getvalue()


def world(sc: Scenario, replication: int, stored_steps: pd.DataFrame | None = None) -> dict[str, Any]:
    """Every quarter's world-view frame of a run, by replay, with the replay checked against ``stored_steps``."""
    t0 = time.perf_counter()
    frames: list[dict[str, Any]] = []
    model = _run(sc, replication, lambda m: frames.append(frame(m)))
    checks = []
    if stored_steps is not None and len(stored_steps):
        mine = model.results()["step_metrics"].to_pandas()
        cols = ["step", "region", "field", "births", "dragons"]
        a = mine[cols].sort_values(cols[:3]).reset_index(drop=True)
        b = stored_steps[cols].sort_values(cols[:3]).reset_index(drop=True)
        ok = len(a) == len(b) and bool((a.astype(str).to_numpy() == b.astype(str).to_numpy()).all())
        checks.append(
            {"what": "births and dragons per region, field and quarter against the stored step_metrics", "ok": ok}
        )
    return {
        "layout": layout(sc),
        "fields": list(sc.fields),
        "field_labels": {f: v.label for f, v in sc.fields.items()},
        "frames": frames,
        "mark_columns": ["firm_id", "region", "field", "valuation_musd", "headcount", "dragon"],
        "source": {
            "method": "replay",
            "text": "Firms and flows re-derived by replaying the stored run (same "
            "scenario, seed and replication give bit-identical state).",
            "seconds": round(time.perf_counter() - t0, 2),
            "checks": checks,
        },
    }
