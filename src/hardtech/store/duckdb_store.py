"""DuckDB store for simulation results.

One ``.duckdb`` file holds any number of runs. Table ``runs`` has one row of
metadata per run; every other table (``step_metrics``, ``region_metrics``,
``firm_events``, ...) is created on first use from the Arrow schema of the
data written to it, with a leading ``run_id`` column, and later runs append
to it. :meth:`ResultsStore.write_run` writes a whole run in one transaction,
so a failure never leaves a partial run behind.

Concurrency: DuckDB allows only one process to open a file for writing at a
time (other processes may open it with ``read_only=True`` only while no
process holds it for writing). Run replications in parallel, but let a single
process write their results to the store.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

__all__ = ["ResultsStore", "RunExistsError"]

_NAME_RE = re.compile(r"^[a-z_][a-z0-9_]*$")
_RUNS = "runs"
_SRC = "_hardtech_write_src"

# Column name -> DuckDB type of the ``runs`` table. Other meta keys go to ``extra``.
RUN_COLUMNS: dict[str, str] = {
    "run_id": "VARCHAR PRIMARY KEY",
    "scenario_name": "VARCHAR",
    "scenario_toml": "VARCHAR",
    "seed": "BIGINT",
    "replication": "INTEGER",
    "scale": "DOUBLE",
    "steps": "INTEGER",
    "package_version": "VARCHAR",
    "git_commit": "VARCHAR",
    "started_at": "VARCHAR",  # ISO 8601 text
    "wall_seconds": "DOUBLE",
    "extra": "VARCHAR",  # JSON text of the remaining meta keys
}
_META_KEYS = [c for c in RUN_COLUMNS if c not in ("run_id", "extra")]
_INSERT_RUN = f"INSERT INTO {_RUNS} ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})"


class RunExistsError(ValueError):
    """A run with this id is already in the store."""


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid table name {name!r}: must match {_NAME_RE.pattern}")
    if name == _RUNS:
        raise ValueError(f"table name {_RUNS!r} is reserved for run metadata")


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):  # NumPy arrays
        return value.tolist()
    return str(value)


def _arrow_tables(tables: Mapping[str, pa.Table | pd.DataFrame]) -> dict[str, pa.Table]:
    """Checked Arrow versions of a run's tables (empty ones dropped)."""
    arrow: dict[str, pa.Table] = {}
    for name, data in tables.items():
        _check_name(name)
        tbl = pa.Table.from_pandas(data, preserve_index=False) if isinstance(data, pd.DataFrame) else data
        if not isinstance(tbl, pa.Table):
            raise TypeError(f"table {name!r} must be a pyarrow.Table or pandas.DataFrame")
        if "run_id" in tbl.column_names:
            raise ValueError(f"table {name!r} must not have its own 'run_id' column")
        if tbl.num_columns:
            arrow[name] = tbl
    return arrow


def _meta_row(run_id: str, meta: Mapping[str, Any]) -> list[Any]:
    row: list[Any] = [run_id]
    for key in _META_KEYS:
        value = meta.get(key)
        if hasattr(value, "item"):  # NumPy scalar -> Python
            value = value.item()
        if key == "started_at" and isinstance(value, (_dt.datetime, _dt.date)):
            value = value.isoformat()
        row.append(value)
    extra = {k: v for k, v in meta.items() if k not in RUN_COLUMNS}
    row.append(json.dumps(extra, default=_json_default, sort_keys=True) if extra else None)
    return row


class ResultsStore:
    """Runs and their result tables in one DuckDB file.

    Parameters
    ----------
    path:
        The ``.duckdb`` file; it and its parent directory are created if missing.
    read_only:
        Open without write access (lets several readers share a file no
        process is writing).

    Use as a context manager or call :meth:`close`. Only one process may write
    to a file at a time.
    """

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(self.path), read_only=read_only)
        if not read_only:
            cols = ", ".join(f"{name} {typ}" for name, typ in RUN_COLUMNS.items())
            self._con.execute(f"CREATE TABLE IF NOT EXISTS {_RUNS} ({cols})")

    # -- lifecycle ---------------------------------------------------------

    def close(self) -> None:
        """Close the database connection (idempotent)."""
        if self._con is not None:
            self._con.close()
            self._con = None

    def __enter__(self) -> ResultsStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def con(self) -> duckdb.DuckDBPyConnection:
        """The underlying DuckDB connection."""
        if self._con is None:
            raise RuntimeError("ResultsStore is closed")
        return self._con

    # -- writing -----------------------------------------------------------

    @contextlib.contextmanager
    def _transaction(self):
        """One transaction: committed if the block ends normally, rolled back on any error
        (the original error is kept even if cleaning up fails)."""
        con = self.con
        con.begin()
        try:
            yield con
            con.commit()
        except BaseException:
            with contextlib.suppress(duckdb.Error):
                con.rollback()
            with contextlib.suppress(duckdb.Error):
                con.unregister(_SRC)  # an aborted transaction refuses even unregister
            raise

    def write_run(
        self,
        run_id: str,
        meta: Mapping[str, Any],
        tables: Mapping[str, pa.Table | pd.DataFrame],
        *,
        replace: bool = False,
    ) -> None:
        """Write one run: a row of ``meta`` in ``runs`` and each table in ``tables``.

        Everything happens in one transaction: on any error the store is left
        exactly as it was and the error is re-raised.

        ``meta`` keys matching the ``runs`` columns (scenario_name,
        scenario_toml, seed, replication, scale, steps, package_version,
        git_commit, started_at, wall_seconds) fill those columns; the other
        keys are stored as JSON text in ``extra``.

        Each table is appended to the DuckDB table of the same name (created
        from its Arrow schema on first use) with a leading ``run_id`` column.
        Columns are matched by name; columns missing from the new data are
        NULL, new columns are added to the stored table (NULL for earlier
        runs), and values that do not convert to the existing column types
        raise. Tables without columns are skipped.
        pandas DataFrames are accepted and converted to Arrow.

        Raises
        ------
        ValueError
            A table name does not match ``^[a-z_][a-z0-9_]*$``, is ``runs``,
            or a table does not fit the existing table.
        RunExistsError
            ``run_id`` is already stored and ``replace`` is false. With
            ``replace=True`` the old run's rows are deleted from every table
            in the same transaction.
        """
        if not isinstance(run_id, str) or not run_id:
            raise ValueError(f"run_id must be a non-empty string, got {run_id!r}")
        arrow = _arrow_tables(tables)
        row = _meta_row(run_id, meta)

        with self._transaction() as con:
            if self._run_exists(run_id):
                if not replace:
                    raise RunExistsError(f"run {run_id!r} already exists in {self.path} (use replace=True)")
                for name in [_RUNS, *self.tables()]:
                    if "run_id" in self._columns(name):
                        con.execute(f'DELETE FROM "{name}" WHERE run_id = ?', [run_id])
            con.execute(_INSERT_RUN, row)
            for name, tbl in arrow.items():
                self._append(name, run_id, tbl)

    def write_runs(self, runs: Sequence[tuple[str, Mapping[str, Any], Mapping[str, pa.Table | pd.DataFrame]]]) -> None:
        """Write several runs, each whole, in one transaction (one INSERT per table).

        Same rules as :meth:`write_run`; raises :class:`RunExistsError` (and
        writes nothing) if any of the runs is already stored. Cheaper than one
        transaction per run when many small runs arrive together.
        """
        prepared = []
        for run_id, meta, tables in runs:
            if not isinstance(run_id, str) or not run_id:
                raise ValueError(f"run_id must be a non-empty string, got {run_id!r}")
            prepared.append((run_id, _meta_row(run_id, meta), _arrow_tables(tables)))
        if not prepared:
            return
        ids = [p[0] for p in prepared]
        if len(set(ids)) != len(ids):
            raise ValueError("write_runs: the same run_id twice in one call")
        with self._transaction() as con:
            stored = con.execute(f"SELECT run_id FROM {_RUNS} WHERE list_contains(?, run_id)", [ids]).fetchall()
            if stored:
                raise RunExistsError(f"run {stored[0][0]!r} already exists in {self.path}")
            con.executemany(_INSERT_RUN, [p[1] for p in prepared])
            names = list(dict.fromkeys(name for p in prepared for name in p[2]))
            for name in names:
                parts = [tables[name].add_column(0, "run_id", pa.array([run_id] * tables[name].num_rows, pa.string()))
                         for run_id, _, tables in prepared if name in tables]
                self._append(name, None, pa.concat_tables(parts, promote_options="default"))

    def append(self, name: str, run_id: str, table: pa.Table) -> None:
        """Append rows tagged ``run_id`` to table ``name`` alone, in one transaction
        (for rows that belong to a run already stored, such as a sweep's index row)."""
        _check_name(name)
        with self._transaction():
            self._append(name, run_id, table)

    def _append(self, name: str, run_id: str | None, tbl: pa.Table) -> None:
        """Append ``tbl`` to table ``name``, tagged ``run_id`` (None: ``tbl`` has its own run_id column first)."""
        con = self.con
        con.register(_SRC, tbl)
        # On error the view stays registered: write_run unregisters it after
        # the rollback (an aborted transaction refuses even ``unregister``).
        existing = self._columns(name)
        tag = "" if run_id is None else "CAST(NULL AS VARCHAR) AS run_id, "
        if not existing:
            con.execute(f'CREATE TABLE "{name}" AS SELECT {tag}* FROM {_SRC} LIMIT 0')
        else:
            # a newer model may record more columns: add them (older runs get NULL)
            types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {_SRC})").fetchall())
            for column in tbl.column_names:
                if column not in existing:
                    con.execute(f'ALTER TABLE "{name}" ADD COLUMN "{column}" {types[column]}')
        if run_id is None:
            con.execute(f'INSERT INTO "{name}" BY NAME SELECT * FROM {_SRC}')
        else:
            con.execute(f'INSERT INTO "{name}" BY NAME SELECT CAST(? AS VARCHAR) AS run_id, * FROM {_SRC}', [run_id])
        con.unregister(_SRC)

    # -- reading -----------------------------------------------------------

    def _run_exists(self, run_id: str) -> bool:
        if _RUNS not in self._all_tables():
            return False
        return self.con.execute(f"SELECT 1 FROM {_RUNS} WHERE run_id = ? LIMIT 1", [run_id]).fetchone() is not None

    def _all_tables(self) -> list[str]:
        rows = self.con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = 'main' AND table_type = 'BASE TABLE' ORDER BY table_name"
        ).fetchall()
        return [r[0] for r in rows]

    def _columns(self, name: str) -> list[str]:
        rows = self.con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'main' AND table_name = ? ORDER BY ordinal_position",
            [name],
        ).fetchall()
        return [r[0] for r in rows]

    def has_run(self, run_id: str) -> bool:
        """Whether ``run_id`` is stored."""
        return self._run_exists(run_id)

    def runs(self) -> pd.DataFrame:
        """The ``runs`` table (one row per run, ordered by start time and id)."""
        if _RUNS not in self._all_tables():
            return pd.DataFrame(columns=list(RUN_COLUMNS))
        return self.con.execute(f"SELECT * FROM {_RUNS} ORDER BY started_at, run_id").df()

    def tables(self) -> list[str]:
        """Names of the result tables in the store (sorted; ``runs`` excluded)."""
        return [t for t in self._all_tables() if t != _RUNS]

    def table(self, name: str, run_id: str | None = None) -> pd.DataFrame:
        """Rows of result table ``name`` for all runs, or only for ``run_id``.

        ``name`` must be one of :meth:`tables` or ``"runs"``; anything else
        raises ValueError.
        """
        allowed = [_RUNS, *self.tables()]
        if name not in allowed:
            raise ValueError(f"unknown table {name!r}; allowed tables: {', '.join(allowed)}")
        if run_id is None:
            return self.con.execute(f'SELECT * FROM "{name}"').df()
        return self.con.execute(f'SELECT * FROM "{name}" WHERE run_id = ?', [run_id]).df()

    def query(self, sql: str, params: list[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run any SQL against the store and return the result as a DataFrame."""
        if params is None:
            return self.con.execute(sql).df()
        return self.con.execute(sql, params).df()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else "open"
        return f"ResultsStore({str(self.path)!r}, {state})"
