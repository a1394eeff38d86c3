"""The hardtech model: a Mesa-style façade over the world and its mechanisms.

    >>> from hardtech.scenario import load
    >>> model = HardtechModel(load("hangzhou"))
    >>> model.step()          # one quarter
    >>> model.run()           # to the end of the scenario
    >>> result = model.results()   # a hardtech.RunResult, as hardtech.run() gives

Each step runs the phases below in order; every phase is one rule module.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa

import hardtech
from hardtech.engine import Recorder, StepLoop
from hardtech.model import (
    capital,
    cooperation,
    decoupling,
    entrepreneurship,
    innovation,
    labour,
    market,
    metrics,
    observables,
    policy,
    technology,
)
from hardtech.model.world import World, build_world
from hardtech.provenance import model_version, platform_info
from hardtech.scenario import Scenario, to_toml

if TYPE_CHECKING:
    from hardtech.result import RunResult


class SimulationFinished(RuntimeError):
    """``step()`` was called after the scenario's last quarter."""


class HardtechModel:
    """One replication of a scenario.

    Parameters
    ----------
    scenario:
        A validated scenario (see :func:`hardtech.scenario.load`).
    replication:
        Replication number; with the scenario's seed it fixes every random draw.
    """

    def __init__(self, scenario: Scenario, replication: int = 0) -> None:
        self.scenario = scenario
        self.replication = replication
        self.world: World = build_world(scenario, replication)
        self.recorder = Recorder()
        self._money_before = 0.0
        self.loop = StepLoop.of(
            [
                ("begin", self._begin),
                ("policy", lambda: policy.set_levers(self.world)),
                ("decoupling", lambda: decoupling.set_blockades(self.world)),
                ("technology", lambda: technology.technology_step(self.world)),
                ("market", lambda: market.market_step(self.world)),
                ("labour", self._labour),
                ("innovation", self._innovation),
                ("entrepreneurship", self._entrepreneurship),
                ("capital", self._capital),
                ("accounts", self._accounts),
                ("cooperation", self._cooperation),
                ("metrics", self._record),
            ]
        )

    # -- Mesa-like surface ---------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps (quarters) done so far."""
        return self.world.step

    @property
    def running(self) -> bool:
        """False once the scenario's last quarter is done."""
        return self.world.step < self.scenario.steps

    def step(self) -> None:
        """Advance one quarter; :class:`SimulationFinished` after the scenario's last one."""
        if not self.running:
            sc = self.scenario
            raise SimulationFinished(
                f"the scenario {sc.name!r} ends with {sc.time.end_year}Q4: all {sc.steps} quarters have run "
                f"(model.running is False); read model.results(), or start a new HardtechModel with a later "
                f"time.end_year"
            )
        self.loop.step()

    def run(self, steps: int | None = None, after_step=None) -> HardtechModel:
        """Run ``steps`` quarters (default: to the end), calling ``after_step(model)`` after each."""
        todo = self.scenario.steps - self.world.step if steps is None else steps
        for _ in range(todo):
            if not self.running:
                break
            self.step()
            if after_step is not None:
                after_step(self)
        return self

    # -- phases ----------------------------------------------------------------------
    def _begin(self) -> None:
        metrics.reset_flows(self.world)
        self._money_before = self.world.money_stock()

    def _labour(self) -> None:
        w = self.world
        labour.labour_step(w)
        labour.hire(w)

    def _innovation(self) -> None:
        w = self.world
        effort = innovation.rd_effort(w)
        boost = innovation.spillover_boost(w)
        w.firms["rd_gain"] = innovation.innovate(w, effort, boost)
        innovation.imitate(w, effort, boost)
        decoupling.substitute(w, effort, w.scenario.innovation.zeta)
        cooperation.share_rd(w)
        market.define_scenes(w, innovation.frontier_movers(w))

    def _entrepreneurship(self) -> None:
        w = self.world
        entrepreneurship.experiment(w)
        entrepreneurship.pivot(w)
        entrepreneurship.found(w)

    def _capital(self) -> None:
        w = self.world
        capital.fund_pools(w)
        capital.revalue(w)
        capital.raise_rounds(w)
        capital.price_deals(w)
        capital.exit_firms(w)
        capital.expand_abroad(w)

    def _accounts(self) -> None:
        w = self.world
        entrepreneurship.pay_costs(w)
        cooperation.maintain_links(w)
        cooperation.pool_risk(w)
        entrepreneurship.fail(w)
        observables.detect_dragons(w)

    def _cooperation(self) -> None:
        cooperation.form_links(self.world)
        cooperation.decay_links(self.world)

    def _record(self) -> None:
        metrics.record(self.world, self.recorder, self._money_before)
        if (
            self.world.step + 1
        ) % 4 == 0:  # a yearly firm panel (each year's last quarter), for growth-rate and size facts
            firms = self.world.firms
            self.recorder.record(
                "firm_panel",
                step=self.world.step,
                firm_id=firms.ids.copy(),
                headcount=firms["headcount"],
                revenue=firms["revenue"],
                incumbent=firms["incumbent"],
            )
        self.world.step += 1

    # -- outputs -------------------------------------------------------------------------
    def results(self) -> RunResult:
        """The run so far as a :class:`hardtech.RunResult` (what :func:`hardtech.run` returns).

        Its tables: every recorded table plus ``firm_events``, the ``firms``
        alive now and the ``dragons``; it is also a mapping of those names to
        Arrow tables.
        """
        from hardtech.result import RunResult, run_id_from_toml  # the result module stores; the model does not

        out = {name: self.recorder.table(name) for name in self.recorder.tables}
        out["firm_events"] = self._events_table()
        out["firms"] = self._firms_table()
        out["dragons"] = self._dragons_table()
        sc = self.scenario
        toml = to_toml(sc)
        meta = {
            "scenario_name": sc.name,
            "scenario_toml": toml,
            "seed": sc.seed,
            "replication": self.replication,
            "scale": sc.scale,
            "steps": sc.steps,
            "steps_done": self.steps,
            "package_version": hardtech.__version__,
            "model_version": model_version(),
            "phase_seconds": {k: round(v, 4) for k, v in self.loop.seconds.items()},
            "platform": platform_info(),
        }
        return RunResult(run_id_from_toml(sc.name, toml, self.replication), sc, self.replication, out, meta)

    def _dragons_table(self) -> pa.Table:
        w = self.world
        kinds = {
            "firm_id": np.int64,
            "region": np.int64,
            "field": np.int64,
            "founded": np.int64,
            "dragon_step": np.int64,
            "valuation": np.float64,
            "spinout": np.bool_,
            "niche": np.bool_,
        }
        # typed even when no firm became a dragon, so an empty run's table fits any later run's
        cols: dict[str, np.ndarray] = {
            k: np.concatenate([d[k] for d in w.dragons]).astype(t) if w.dragons else np.zeros(0, t)
            for k, t in kinds.items()
        }
        return pa.table(
            {
                "firm_id": pa.array(cols["firm_id"], pa.int64()),
                "region": _gather(w.region_names, cols["region"]),
                "field": _gather(w.field_names, cols["field"]),
                "founded_quarter": self._label(cols["founded"]),
                "dragon_quarter": self._label(cols["dragon_step"]),
                "dragon_step": pa.array(cols["dragon_step"].astype(np.int32), pa.int32()),
                "valuation_musd": pa.array(cols["valuation"], pa.float64()),
                "spinout": pa.array(cols["spinout"], pa.bool_()),
                "niche": pa.array(cols["niche"], pa.bool_()),
            }
        )

    def _label(self, steps: np.ndarray, missing: int | None = None) -> pa.Array:
        """'2012Q1'-style labels of steps ('' where a step equals ``missing``)."""
        start = self.scenario.time.start_year
        steps = np.asarray(steps, dtype=np.int64)
        if steps.size == 0:
            return pa.array([], pa.string())
        # one label per distinct step, then a gather: events run to hundreds of thousands
        low = min(int(steps.min()), 0)
        labels = [f"{start + s // 4}Q{s % 4 + 1}" for s in range(low, int(steps.max()) + 1)]
        if missing is not None and low <= missing <= steps.max():
            labels[missing - low] = ""
        return _gather(labels, steps - low)

    def _events_table(self) -> pa.Table:
        w = self.world
        ev = w.events
        if not ev:
            return pa.table(
                {
                    "step": pa.array([], pa.int32()),
                    "quarter": pa.array([], pa.string()),
                    "firm_id": pa.array([], pa.int64()),
                    "region": pa.array([], pa.string()),
                    "field": pa.array([], pa.string()),
                    "event": pa.array([], pa.string()),
                    "value": pa.array([], pa.float64()),
                }
            )
        steps = np.concatenate([np.full(len(e.firm_ids), e.step, np.int32) for e in ev])
        kinds = list(dict.fromkeys(e.kind for e in ev))
        return pa.table(
            {
                "step": steps,
                "quarter": self._label(steps),
                "firm_id": np.concatenate([e.firm_ids for e in ev]),
                "region": _gather(w.region_names, np.concatenate([e.region for e in ev])),
                "field": _gather(w.field_names, np.concatenate([e.field for e in ev])),
                "event": _gather(kinds, np.concatenate([np.full(len(e.firm_ids), kinds.index(e.kind)) for e in ev])),
                "value": np.concatenate([e.value for e in ev]),
            }
        )

    def _firms_table(self) -> pa.Table:
        w = self.world
        cols = w.firms.to_dict()
        cols["firm_id"] = cols.pop("id")
        cols["region"] = _gather(w.region_names, cols["region"])
        cols["field"] = _gather(w.field_names, cols["field"])
        cols["founded_quarter"] = self._label(cols["founded"])
        cols["dragon_quarter"] = self._label(cols["dragon_step"], missing=-1)
        for transient in ("rd_gain", "imitated_from", "round_investor"):  # per-quarter traces, not state
            del cols[transient]
        order = ["firm_id", "region", "field"] + [c for c in cols if c not in ("firm_id", "region", "field")]
        return pa.table({c: cols[c] for c in order})


def _gather(names: Sequence[str], codes: np.ndarray) -> pa.Array:
    """The strings ``names[codes]`` as an Arrow string array (one gather in Arrow, no Python string per row)."""
    return pa.array(list(names), pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))
