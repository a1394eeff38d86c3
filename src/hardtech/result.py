"""The result of a run: one class whichever way the run was made.

:func:`hardtech.run`, :meth:`hardtech.HardtechModel.results` and every
replication of :func:`hardtech.ensemble` give a :class:`RunResult`: the run's
Arrow tables (a read-only mapping, so ``result["dragons"]`` and
``result.items()`` work as the dict ``results()`` used to return), pandas
views of them (``result.metrics``, ``result.dragons``, …), DuckDB SQL over
them (:meth:`RunResult.sql`) and :meth:`RunResult.save` to a results store.
An :class:`Ensemble` is a sequence of them, with every replication's scalar
outcomes and their intervals.

A run is identified by a hash of the fully resolved scenario (seed included),
the replication number and the model version (package version + a hash of
the model's source, :func:`hardtech.provenance.model_version`), so the same
inputs to the same model always get the same run id, and runs of two model
versions never share one.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import pandas as pd
import pyarrow as pa

from hardtech.provenance import model_version
from hardtech.scenario import Scenario, to_toml
from hardtech.store import ResultsStore

__all__ = ["Ensemble", "RunResult", "run_id_for", "run_id_from_toml"]


def run_id_for(scenario: Scenario, replication: int) -> str:
    """Stable id of (resolved scenario incl. seed, replication, model version).

    The model version is in the id because a run id names a result, and the
    result depends on the model's code as much as on its inputs: a store can
    then hold runs of two versions side by side without one replacing or
    passing for the other, a sweep never links a run another version computed,
    and a batch resumed after the code changed starts afresh instead of mixing.
    """
    return run_id_from_toml(scenario.name, to_toml(scenario), replication)


def run_id_from_toml(name: str, toml: str, replication: int) -> str:
    """:func:`run_id_for` from the scenario's name and :func:`~hardtech.scenario.to_toml` text (computed once)."""
    digest = hashlib.sha256(f"{toml}\nreplication={replication}\nmodel={model_version()}".encode()).hexdigest()
    return f"{name}-{digest[:12]}-r{replication}"


def _quarter(scenario: Scenario, step: int) -> str:
    return f"{scenario.time.start_year + step // 4}Q{step % 4 + 1}"


@dataclass(repr=False, eq=False)
class RunResult(Mapping[str, pa.Table]):
    """The outputs of one replication of a scenario.

    A read-only mapping of table name → :class:`pyarrow.Table` (``step_metrics``,
    ``region_metrics``, ``field_metrics``, ``bloc_metrics``, ``firm_panel``,
    ``ledger``, ``firm_events``, ``firms``, ``dragons``), plus pandas views,
    SQL and storage.

    Attributes
    ----------
    run_id:
        Stable id of (scenario, seed, replication, model version); see :func:`run_id_for`.
    scenario:
        The fully resolved scenario that ran.
    replication:
        Replication number (its random streams are independent of the others').
    tables:
        The Arrow tables by name.
    meta:
        What the ``runs`` table of a store records: seed, scale, steps, versions,
        timings, the machine.
    store_path:
        The DuckDB store the run was last saved to, if any.
    """

    run_id: str
    scenario: Scenario
    replication: int
    tables: dict[str, pa.Table]
    meta: dict[str, Any] = field(default_factory=dict)
    store_path: Path | None = None
    _frames: dict[str, pd.DataFrame] = field(default_factory=dict)

    # -- the mapping of Arrow tables (what HardtechModel.results() returned before) ------------
    def __getitem__(self, name: str) -> pa.Table:
        """The Arrow table ``name``."""
        if name not in self.tables:
            raise KeyError(f"no table {name!r}; have: {', '.join(self.tables)}")
        return self.tables[name]

    def __iter__(self) -> Iterator[str]:
        """The table names."""
        return iter(self.tables)

    def __len__(self) -> int:
        """The number of tables."""
        return len(self.tables)

    # -- pandas views -------------------------------------------------------------------------
    def frame(self, name: str) -> pd.DataFrame:
        """One result table as a pandas DataFrame (converted once, then cached)."""
        if name not in self._frames:
            self._frames[name] = self[name].to_pandas()
        return self._frames[name]

    @property
    def metrics(self) -> pd.DataFrame:
        """Per quarter × region × field metrics (``step_metrics``)."""
        return self.frame("step_metrics")

    @property
    def region_metrics(self) -> pd.DataFrame:
        """Per quarter × region metrics: talent, flows, investor capital, policy levers."""
        return self.frame("region_metrics")

    @property
    def field_metrics(self) -> pd.DataFrame:
        """Per quarter × field metrics: frontier, maturity, demand, adoption, niches."""
        return self.frame("field_metrics")

    @property
    def events(self) -> pd.DataFrame:
        """Firm events: founded, funded, dragon, pivot, exits, failures, scenes."""
        return self.frame("firm_events")

    @property
    def firms(self) -> pd.DataFrame:
        """Firms alive at the end."""
        return self.frame("firms")

    @property
    def dragons(self) -> pd.DataFrame:
        """Every firm that became a dragon (alive or not at the end)."""
        return self.frame("dragons")

    # -- SQL and storage ----------------------------------------------------------------------
    def sql(self, query: str) -> pd.DataFrame:
        """Run a DuckDB SQL query over this run's tables (by name) and return a DataFrame.

        >>> result.sql("SELECT region, count(*) AS n FROM dragons GROUP BY region ORDER BY n DESC")
        """
        import duckdb

        con = duckdb.connect()
        try:
            for name, table in self.tables.items():
                con.register(name, table)
            return con.execute(query).df()
        finally:
            con.close()

    def save(self, path: str | Path, replace: bool = True, wait: float | None = None) -> Path:
        """Write this run to a DuckDB store (one transaction).

        ``wait``: seconds to wait for another process's lock on the store
        (default ``HARDTECH_LOCK_WAIT``, else 60); then
        :class:`hardtech.store.StoreLockedError`.
        """
        path = Path(path)
        with ResultsStore(path, wait=wait) as store:
            store.write_run(self.run_id, self.meta, self.tables, replace=replace)
        self.store_path = path
        return path

    @classmethod
    def read(cls, path: str | Path, run_id: str, tables: Sequence[str] | None = None) -> RunResult:
        """A run read back from a DuckDB store (all its tables, or only ``tables``)."""
        import tomllib

        from hardtech.scenario import validate

        with ResultsStore(Path(path), read_only=True, wait=None) as store:
            meta, stored = store.read_run(run_id, tables)
        scenario = validate(tomllib.loads(meta["scenario_toml"]))
        return cls(run_id, scenario, int(meta["replication"]), dict(stored), dict(meta), Path(path))

    # -- display --------------------------------------------------------------------------------
    def _quarters(self) -> str:
        sc = self.scenario
        done = self.meta.get("steps_done", sc.steps)
        span = f"{_quarter(sc, 0)}–{_quarter(sc, max(done - 1, 0))}"
        return span if done == sc.steps else f"{span}, {done} of {sc.steps} quarters"

    def __repr__(self) -> str:
        """One line: the run id, what ran, the dragon count and the table names."""
        dragons = self.tables["dragons"].num_rows if "dragons" in self.tables else "?"
        return (
            f"<RunResult {self.run_id}: seed {self.scenario.seed}, replication {self.replication}, "
            f"{self._quarters()}, scale {self.scenario.scale:g}; {dragons} dragons; "
            f"tables: {', '.join(self.tables)}>"
        )

    __str__ = __repr__

    def _repr_html_(self) -> str:
        """A small table for Jupyter: each table's rows and columns."""
        rows = "".join(
            f"<tr><td><code>{html.escape(n)}</code></td><td>{t.num_rows:,}</td><td>{t.num_columns}</td></tr>"
            for n, t in self.tables.items()
        )
        head = html.escape(repr(self).split(";")[0].lstrip("<"))
        return (
            f"<div><b>{head}</b><table><thead><tr><th>table</th><th>rows</th><th>columns</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


@dataclass(repr=False, eq=False)
class Ensemble(Sequence[RunResult]):
    """Replications of one scenario: a sequence of :class:`RunResult`, in replication order.

    ``ensemble[k]`` is replication k's :class:`RunResult`; :meth:`outcomes`
    gives one row of scalar outcomes per replication and :meth:`summary` their
    means with 95% intervals; :meth:`frame` stacks one table of every
    replication.
    """

    runs: tuple[RunResult, ...]

    @overload
    def __getitem__(self, index: int) -> RunResult: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[RunResult]: ...

    def __getitem__(self, index: int | slice) -> RunResult | Sequence[RunResult]:
        """Replication ``index`` (or a slice of them)."""
        return self.runs[index]

    def __len__(self) -> int:
        """The number of replications."""
        return len(self.runs)

    @property
    def scenario(self) -> Scenario:
        """The scenario every replication ran."""
        return self.runs[0].scenario

    def outcomes(self) -> pd.DataFrame:
        """One row per replication: every scalar outcome (:func:`hardtech.evidence.ensembles.run_metrics`)."""
        from hardtech.evidence.ensembles import run_metrics

        return pd.DataFrame([{"replication": r.replication, **run_metrics(r)} for r in self.runs])

    def summary(self, level: float = 0.95) -> pd.DataFrame:
        """Per outcome: mean, interval bounds (Student t, ``level``) and number of replications."""
        from hardtech.evidence.ensembles import summarise_outcomes

        return summarise_outcomes(self.outcomes(), level)

    def frame(self, name: str) -> pd.DataFrame:
        """Table ``name`` of every replication, stacked, with a leading ``replication`` column."""
        parts = [r.frame(name).assign(replication=r.replication) for r in self.runs]
        stacked = pd.concat(parts, ignore_index=True)
        return stacked[["replication", *[c for c in stacked.columns if c != "replication"]]]

    def save(self, path: str | Path, replace: bool = True, wait: float | None = None) -> Path:
        """Write every replication to a DuckDB store in one transaction."""
        path = Path(path)
        with ResultsStore(path, wait=wait) as store:
            store.write_runs([(r.run_id, r.meta, r.tables) for r in self.runs], replace=replace)
        for r in self.runs:
            r.store_path = path
        return path

    def __repr__(self) -> str:
        """One line: scenario, seed, replications and dragons per replication."""
        sc = self.scenario
        dragons = [r.tables["dragons"].num_rows for r in self.runs if "dragons" in r.tables]
        return (
            f"<Ensemble {sc.name}: seed {sc.seed}, {len(self.runs)} replications, scale {sc.scale:g}; "
            f"dragons per replication: {', '.join(map(str, dragons))}>"
        )

    __str__ = __repr__
