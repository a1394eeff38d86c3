"""DuckDB store for simulation results.

One ``.duckdb`` file holds any number of runs. Table ``runs`` has one row of
metadata per run; every other table (``step_metrics``, ``region_metrics``,
``firm_events``, ...) is created on first use with a leading ``run_id``
column, and later runs append to it. :meth:`ResultsStore.write_run` writes a
whole run in one transaction, so a failure never leaves a partial run behind.

Types: the tables a run writes have declared column types
(:mod:`hardtech.store.schemas`), so the first run stored — even one with no
dragons, no events or no panel rows — creates tables every later run fits.
Missing values are stored as SQL NULL, never as NaN: a NaN in a
floating-point column (e.g. ``field_metrics.small_share_niche`` of a quarter
in which niches earned nothing: a share of nothing) becomes NULL on the way
in, so ``avg()``, ``sum()`` and friends skip it as SQL does (read back with
pandas, NULL is NaN again).

Concurrency: DuckDB allows only one process to open a file for writing at a
time (other processes may open it with ``read_only=True`` only while no
process holds it for writing). Run replications in parallel, but let a single
process write their results to the store. A process that finds the file
locked can wait for the lock (``wait`` seconds, retrying with back-off) and
then raises :class:`StoreLockedError`; ``hardtech`` then saves the computed
runs beside the store (:mod:`hardtech.store.spill`) so nothing is lost.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import math
import os
import re
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from hardtech.store.schemas import conform

__all__ = [
    "ResultsStore",
    "RunExistsError",
    "StoreError",
    "StoreLockedError",
    "StorePathError",
    "check_store_path",
    "lock_wait",
]

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
    "model_version": "VARCHAR",  # package version + hash of the model's source (hardtech.provenance)
    "started_at": "VARCHAR",  # ISO 8601 text
    "wall_seconds": "DOUBLE",
    "extra": "VARCHAR",  # JSON text of the remaining meta keys
}
_META_KEYS = [c for c in RUN_COLUMNS if c not in ("run_id", "extra")]
_INSERT_RUN = f"INSERT INTO {_RUNS} ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' for _ in RUN_COLUMNS)})"


BATCHES = "batches"
# A replication batch (``hardtech run --replications N``): registered before its first
# replication runs, completed_at set when the last one is stored.
BATCH_COLUMNS = (
    "batch_id VARCHAR PRIMARY KEY, scenario_name VARCHAR, replications INTEGER, run_ids VARCHAR, "
    "model_version VARCHAR, command VARCHAR, started_at VARCHAR, completed_at VARCHAR"
)
DUCKDB_MAGIC = b"DUCK"  # bytes 8-11 of every DuckDB database file
LOCK_WAIT_ENV = "HARDTECH_LOCK_WAIT"
DEFAULT_LOCK_WAIT = 60.0


class RunExistsError(ValueError):
    """A run with this id is already in the store."""


class StoreError(Exception):
    """A results store that cannot be used; the message is one line naming the file and the cause."""


class StorePathError(StoreError, ValueError):
    """The location cannot hold a results store (a directory, read-only, not a DuckDB file, …)."""


class StoreLockedError(StoreError, duckdb.IOException):
    """Another process holds the store's write lock (and kept it for as long as we waited)."""

    def __init__(self, path: Path, pid: int | None, waited: float) -> None:
        self.path, self.pid, self.waited = path, pid, waited
        holder = f"another process (PID {pid})" if pid else "another process"
        super().__init__(f"{path} is locked by {holder}" + (f"; waited {waited:g} s" if waited else ""))


def lock_wait(default: float = DEFAULT_LOCK_WAIT) -> float:
    """Seconds to wait for a store's lock: ``HARDTECH_LOCK_WAIT`` if set (a number ≥ 0), else ``default``."""
    raw = os.environ.get(LOCK_WAIT_ENV, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StoreError(f"{LOCK_WAIT_ENV}={raw!r} is not a number of seconds") from None
    if not math.isfinite(value) or value < 0:
        raise StoreError(f"{LOCK_WAIT_ENV}={raw!r}: give a number of seconds ≥ 0")
    return value


def table_digest(table: pa.Table) -> str:
    """SHA-256 of an Arrow table's exact content: names, types, validity and value bytes, column by column."""
    h = hashlib.sha256()
    for field, column in zip(table.schema, table.columns, strict=True):
        col = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        h.update(f"{field.name}:{field.type}:{len(col)}\0".encode())
        h.update(np.packbits(col.is_valid().to_numpy(zero_copy_only=False)).tobytes())
        if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
            h.update("\x1f".join(col.fill_null("").to_pylist()).encode())
        elif pa.types.is_boolean(col.type):
            h.update(col.fill_null(False).to_numpy(zero_copy_only=False).astype(np.uint8).tobytes())
        else:
            values = col.fill_null(0).to_numpy(zero_copy_only=False)
            h.update(values.astype(values.dtype.newbyteorder("<")).tobytes())
    return h.hexdigest()


def _writable(path: Path) -> bool:
    """Writable by us, and not marked read-only (no write bit at all) even when we are root."""
    try:
        return os.access(path, os.W_OK) and bool(path.stat().st_mode & 0o222)
    except OSError:
        return False


def check_store_path(path: str | Path) -> Path:
    """Check, before any work, that ``path`` can hold a results store; returns it as a Path.

    Accepted: an existing DuckDB file we may write, or a path that does not
    exist yet under a directory we may write (missing directories are created
    when the store opens). Raises :class:`StorePathError` with a one-line
    message otherwise: a directory, a read-only file (no write bit, even for
    root) or directory, a file that is not a DuckDB database, a parent that is
    a file. A lock held by another process is not an error here (see ``wait``).
    """
    p = Path(path)
    if p.is_dir():
        raise StorePathError(f"{p} is a directory; give the path of a .duckdb file")
    if p.exists():
        try:
            with p.open("rb") as fh:
                head = fh.read(12)
        except OSError as exc:
            raise StorePathError(f"{p} cannot be read ({exc.strerror or exc})") from None
        if not head:
            raise StorePathError(f"{p} is an empty file, not a DuckDB database; remove it or give another path")
        if head[8:12] != DUCKDB_MAGIC:
            raise StorePathError(f"{p} is not a DuckDB database (some other file); give another path")
        if not _writable(p):
            raise StorePathError(f"{p} is read-only; make it writable or give another path")
        try:
            duckdb.connect(str(p), read_only=True).close()
        except duckdb.Error as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            if "lock" not in first.lower() and "different configuration" not in first.lower():
                raise StorePathError(f"{p} cannot be opened as a DuckDB database ({first})") from None
        return p
    parent = p.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise StorePathError(f"{p}: {parent} is a file, not a directory")
    if not _writable(parent):
        raise StorePathError(f"{p}: the directory {parent} is read-only")
    return p


_LOCK_RE = re.compile(r"Could not set lock on file", re.IGNORECASE)
_PID_RE = re.compile(r"PID (\d+)")


def _connect(
    path: Path, read_only: bool, wait: float, on_wait: Callable[[str], None] | None
) -> duckdb.DuckDBPyConnection:
    """``duckdb.connect``, retrying with back-off for up to ``wait`` seconds while another process holds the lock."""
    deadline = time.monotonic() + wait
    delay, told = 0.05, False
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.IOException as exc:
            if not _LOCK_RE.search(str(exc)):
                raise
            pid = int(m.group(1)) if (m := _PID_RE.search(str(exc))) else None
            left = deadline - time.monotonic()
            if left <= 0:
                raise StoreLockedError(path, pid, wait) from None
            if on_wait is not None and not told:
                holder = f"another process (PID {pid})" if pid else "another process"
                on_wait(f"{path} is locked by {holder}; waiting up to {wait:g} s for it ({LOCK_WAIT_ENV})")
                told = True
            time.sleep(min(delay, left))
            delay = min(delay * 2, 1.0)


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ValueError(f"invalid table name {name!r}: must match {_NAME_RE.pattern}")
    if name == _RUNS:
        raise ValueError(f"table name {_RUNS!r} is reserved for run metadata")


def _finite(value: Any) -> Any:
    """``value`` with every NaN/∞ float (also inside lists and dicts) as None: JSON has no NaN."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:  # NumPy scalar
        return _finite(value.item())
    return value


def _json_default(value: Any) -> Any:
    if isinstance(value, (_dt.datetime, _dt.date)):
        return value.isoformat()
    if hasattr(value, "item"):  # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):  # NumPy arrays
        return value.tolist()
    return str(value)


def _arrow_tables(tables: Mapping[str, pa.Table | pd.DataFrame]) -> dict[str, pa.Table]:
    """Checked Arrow versions of a run's tables as stored.

    Declared types, NaN as NULL; tables without columns dropped.
    """
    arrow: dict[str, pa.Table] = {}
    for name, data in tables.items():
        _check_name(name)
        tbl = pa.Table.from_pandas(data, preserve_index=False) if isinstance(data, pd.DataFrame) else data
        if not isinstance(tbl, pa.Table):
            raise TypeError(f"table {name!r} must be a pyarrow.Table or pandas.DataFrame")
        if "run_id" in tbl.column_names:
            raise ValueError(f"table {name!r} must not have its own 'run_id' column")
        tbl = conform(name, tbl)
        if tbl.num_columns:
            arrow[name] = tbl
    return arrow


def _meta_row(run_id: str, meta: Mapping[str, Any]) -> list[Any]:
    row: list[Any] = [run_id]
    for key in _META_KEYS:
        value = meta.get(key)
        if key == "started_at" and isinstance(value, (_dt.datetime, _dt.date)):
            value = value.isoformat()
        row.append(_finite(value))
    extra = {k: _finite(v) for k, v in meta.items() if k not in RUN_COLUMNS}
    row.append(json.dumps(extra, default=_json_default, sort_keys=True, allow_nan=False) if extra else None)
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
    wait:
        Seconds to wait for another process's lock (retrying with back-off)
        before raising :class:`StoreLockedError`; 0 (the default) raises at
        once, None reads ``HARDTECH_LOCK_WAIT`` (default 60).
    on_wait:
        Called once with a one-line message when the store is locked and we
        start waiting.

    Notes
    -----
    Use as a context manager or call :meth:`close`. Only one process may write
    to a file at a time.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        wait: float | None = 0.0,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self.path = Path(path)
        if not read_only:
            check_store_path(self.path)
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._con: duckdb.DuckDBPyConnection | None = _connect(
            self.path, read_only, lock_wait() if wait is None else wait, on_wait
        )
        if not read_only:
            try:
                cols = ", ".join(f"{name} {typ}" for name, typ in RUN_COLUMNS.items())
                self._con.execute(f"CREATE TABLE IF NOT EXISTS {_RUNS} ({cols})")
                have = set(self._columns(_RUNS))
                for name, typ in RUN_COLUMNS.items():  # a store written by an older hardtech
                    if name not in have:
                        self._con.execute(f'ALTER TABLE {_RUNS} ADD COLUMN "{name}" {typ}')
            except BaseException:
                self.close()
                raise

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
        """One transaction: committed if the block ends normally, rolled back on any error.

        The original error is kept even if cleaning up fails.
        """
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

    def write_runs(
        self,
        runs: Sequence[tuple[str, Mapping[str, Any], Mapping[str, pa.Table | pd.DataFrame]]],
        *,
        replace: bool = False,
    ) -> None:
        """Write several runs, each whole, in one transaction (one INSERT per table).

        Same rules as :meth:`write_run`; raises :class:`RunExistsError` (and
        writes nothing) if any of the runs is already stored, unless
        ``replace`` (then their old rows are deleted in the same transaction).
        Cheaper than one transaction per run when many small runs arrive together.
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
            if stored and not replace:
                raise RunExistsError(f"run {stored[0][0]!r} already exists in {self.path}")
            if stored:
                old = [r[0] for r in stored]
                for name in [_RUNS, *self.tables()]:
                    if "run_id" in self._columns(name):
                        con.execute(f'DELETE FROM "{name}" WHERE list_contains(?, run_id)', [old])
            con.executemany(_INSERT_RUN, [p[1] for p in prepared])
            names = list(dict.fromkeys(name for p in prepared for name in p[2]))
            for name in names:
                parts = [
                    tables[name].add_column(
                        0, "run_id", pa.repeat(pa.scalar(run_id, pa.string()), tables[name].num_rows)
                    )
                    for run_id, _, tables in prepared
                    if name in tables
                ]
                self._append(name, None, pa.concat_tables(parts, promote_options="default"))

    def append(self, name: str, run_id: str, table: pa.Table) -> None:
        """Append rows tagged ``run_id`` to table ``name`` alone, in one transaction.

        For rows that belong to a run already stored, such as a sweep's index row.
        """
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
            types = dict(
                con.execute(f"SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM {_SRC})").fetchall()
            )
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

    def read_run(self, run_id: str, tables: Sequence[str] | None = None) -> tuple[dict[str, Any], dict[str, pa.Table]]:
        """A stored run as it was written: its metadata and its tables.

        Tables are Arrow, with declared types, in row order; only ``tables`` if given.
        """
        row = self.con.execute(f"SELECT * FROM {_RUNS} WHERE run_id = ?", [run_id]).df()
        if row.empty:
            raise KeyError(f"run {run_id!r} is not in {self.path}")
        rec = row.iloc[0].to_dict()
        meta = {
            k: (None if isinstance(v, float) and math.isnan(v) else v)
            for k, v in rec.items()
            if k not in ("run_id", "extra")
        }
        meta.update(json.loads(rec["extra"]) if isinstance(rec.get("extra"), str) else {})
        out = {}
        for name in self.tables():
            if "run_id" not in self._columns(name) or (tables is not None and name not in tables):
                continue
            rel = self.con.sql(
                f'SELECT * EXCLUDE (run_id) FROM "{name}" WHERE run_id = $1 ORDER BY rowid', params=[run_id]
            )
            tbl = rel.to_arrow_table() if hasattr(rel, "to_arrow_table") else rel.arrow()
            if isinstance(tbl, pa.RecordBatchReader):
                tbl = tbl.read_all()
            out[name] = conform(name, tbl)
        return meta, out

    def digest(self, run_id: str, tables: Sequence[str] | None = None) -> dict[str, str]:
        """SHA-256 of each result table of a run (``tables``, default all) and of them all (key ``"*"``).

        Exact: every value's bits (floats as IEEE 754 bytes, NULLs marked),
        column names and types, rows in stored order. The ``runs`` row (times,
        machine, versions) is not part of it. Two stores hold the same results
        for a run exactly when the digests agree.
        """
        _, out = self.read_run(run_id, tables)
        digests = {name: table_digest(tbl) for name, tbl in sorted(out.items())}
        digests["*"] = hashlib.sha256("\n".join(f"{k}:{v}" for k, v in digests.items()).encode()).hexdigest()
        return digests

    # -- replication batches ----------------------------------------------------------

    def begin_batch(
        self, batch_id: str, *, scenario_name: str, run_ids: Sequence[str], model_version: str, command: str = ""
    ) -> None:
        """Register a batch of runs before its first run (kept as first registered if it exists)."""
        with self._transaction() as con:
            con.execute(f"CREATE TABLE IF NOT EXISTS {BATCHES} ({BATCH_COLUMNS})")
            con.execute(
                f"INSERT INTO {BATCHES} VALUES (?, ?, ?, ?, ?, ?, ?, NULL) ON CONFLICT DO NOTHING",
                [
                    batch_id,
                    scenario_name,
                    len(run_ids),
                    json.dumps(list(run_ids)),
                    model_version,
                    command,
                    _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                ],
            )

    def finish_batch(self, batch_id: str) -> None:
        """Mark a batch complete (every one of its runs is stored)."""
        missing = [r for r in self.batch(batch_id)["run_ids"] if not self.has_run(r)]
        if missing:
            raise ValueError(f"batch {batch_id}: {len(missing)} run(s) not stored yet, e.g. {missing[0]}")
        self.con.execute(
            f"UPDATE {BATCHES} SET completed_at = ? WHERE batch_id = ? AND completed_at IS NULL",
            [_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"), batch_id],
        )

    def batch(self, batch_id: str) -> dict[str, Any]:
        """One batch: its row, with ``run_ids`` as a list, ``stored`` and ``complete``.

        ``stored`` holds the batch's run ids that are in the store.
        """
        if BATCHES not in self._all_tables():
            raise KeyError(f"no batch {batch_id!r} in {self.path}")
        rows = self.con.execute(f"SELECT * FROM {BATCHES} WHERE batch_id = ?", [batch_id]).df()
        if rows.empty:
            raise KeyError(f"no batch {batch_id!r} in {self.path}")
        rec = rows.iloc[0].to_dict()
        rec["run_ids"] = json.loads(rec["run_ids"])
        rec["stored"] = [r for r in rec["run_ids"] if self.has_run(r)]
        rec["complete"] = isinstance(rec["completed_at"], str) and bool(rec["completed_at"])
        return rec

    def batches(self) -> pd.DataFrame:
        """The ``batches`` table (empty if no batch was ever registered)."""
        if BATCHES not in self._all_tables():
            return pd.DataFrame(columns=[c.split()[0] for c in BATCH_COLUMNS.split(", ")])
        return self.con.execute(f"SELECT * FROM {BATCHES} ORDER BY started_at, batch_id").df()

    def query(self, sql: str, params: list[Any] | Mapping[str, Any] | None = None) -> pd.DataFrame:
        """Run any SQL against the store and return the result as a DataFrame."""
        if params is None:
            return self.con.execute(sql).df()
        return self.con.execute(sql, params).df()

    def __repr__(self) -> str:
        state = "closed" if self._con is None else "open"
        return f"ResultsStore({str(self.path)!r}, {state})"
