"""The results folder as the dashboard sees it: its own stores written by one writer, the rest read-only.

The server writes only two files of the folder, each from one place under its
own lock (DuckDB allows one writer per file):

* ``<results>/dashboard.duckdb`` — runs and comparisons (one batch per job),
  labels of runs (table ``run_labels``) and uploaded scenario files (table
  ``scenario_files``);
* ``<results>/dashboard-sweeps.duckdb`` — sweeps started from the page
  (``sweeps``, ``sweep_runs`` and the runs' kept tables, as ``hardtech sweep``
  writes them). While a sweep runs it holds this file open; readers are told
  it is busy rather than made to wait.

Every ``*.duckdb`` file directly inside the folder — e.g. the CLI's
``results/hangzhou.duckdb`` — is browsed read-only; a file another process is
writing at that moment is reported as unavailable. Runs can be deleted from
the server's own files only; the file is then rewritten (:func:`_compact`), as
DuckDB reuses the space of deleted rows but never shrinks a file.

Clients name runs by id only. A run id is looked up in the stores; no path
from a request is ever opened, and nothing outside the folder is read.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import tomllib

from hardtech.analysis.outcomes import outcomes
from hardtech.scenario import Scenario, ScenarioError, validate
from hardtech.store import ResultsStore
from hardtech.web.series import bands, dragon_rows, jsonable, payloads

OWN_STORE = "dashboard.duckdb"
SWEEP_STORE = "dashboard-sweeps.duckdb"
LABELS = "run_labels"
SCENARIO_FILES = "scenario_files"
MAX_SIBLINGS = 20


class RunNotFound(LookupError):
    """No store in the results folder holds this run id (or sweep, or scenario file)."""


class StoreBusy(RuntimeError):
    """A store file is locked by another process (or by a sweep of this server)."""


class Refused(RuntimeError):
    """A request the folder will not carry out (HTTP 409), e.g. deleting a run of a store it only reads."""


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class ResultsFolder:
    """Access to the ``.duckdb`` stores in one folder (the server's single writer lives here)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.own = self.folder / OWN_STORE
        self.sweeps_path = self.folder / SWEEP_STORE
        self._lock = threading.RLock()  # serialises every access to our own file (writes and reads)
        self._sweep_gate = _ReadersWriter()  # our sweep file: readers share it, a writer (a sweep) excludes them

    # -- files -------------------------------------------------------------------------------
    def files(self) -> list[Path]:
        """Store files directly in the folder (ours first); symlinks leading elsewhere are ignored."""
        found = []
        for p in sorted(self.folder.glob("*.duckdb")):
            try:
                real = p.resolve(strict=True)
            except OSError:
                continue
            if real.parent == self.folder and real.is_file():
                found.append(real)
        return sorted(found, key=lambda p: (p.name != OWN_STORE, p.name != SWEEP_STORE, p.name))

    def is_ours(self, path: Path) -> bool:
        """Whether ``path`` is one of the dashboard's own store files."""
        return path in (self.own, self.sweeps_path)

    @contextmanager
    def _held(self, path: Path, wait: bool, write: bool = False) -> Iterator[None]:
        """The lock of one of our files (none for others). Readers of the sweep file never wait for a sweep."""
        if path == self.own:
            with self._lock:
                yield
        elif path == self.sweeps_path:
            with self._sweep_gate.hold(write=write, wait=wait):
                yield
        else:
            yield

    @contextmanager
    def _open(self, path: Path) -> Iterator[ResultsStore]:
        if path.parent != self.folder:  # defence in depth: only files of the folder
            raise PermissionError(f"{path} is outside the results folder")
        with self._held(path, wait=False):
            try:
                store = ResultsStore(path, read_only=True)
            except duckdb.Error as exc:
                raise StoreBusy(f"{path.name}: {str(exc).splitlines()[0]}") from None
            try:
                yield store
            finally:
                store.close()

    @contextmanager
    def _write(self, path: Path | None = None, wait: bool = False, compact: bool = False) -> Iterator[ResultsStore]:
        """One of our files open for writing; ``compact``: rewrite it afterwards so deleted rows give back space."""
        path = path or self.own
        with self._held(path, wait, write=True):
            with ResultsStore(path) as store:
                yield store
            if compact:
                _compact(path)

    @contextmanager
    def sweep_store(self) -> Iterator[ResultsStore]:
        """Our sweep store, open for writing (held for a whole sweep)."""
        with self._write(self.sweeps_path, wait=True) as store:
            yield store

    # -- writing (the single writer) -----------------------------------------------------------
    def write(self, results: list[Any]) -> str:
        """Write runs (``RunResult``s) to our own store in one go; returns the store's file name."""
        with self._write() as store:
            for r in results:
                store.write_run(r.run_id, r.meta, r.tables, replace=True)
        return self.own.name

    def set_label(self, run_id: str, label: str) -> str | None:
        """Name a run of any store of the folder (kept in our own store); an empty label removes it."""
        self.locate(run_id)
        label = " ".join(label.split())
        with self._write() as store:
            store.con.execute(
                f"CREATE TABLE IF NOT EXISTS {LABELS} (labelled_run VARCHAR PRIMARY KEY, "
                "label VARCHAR, updated_at VARCHAR)"
            )
            store.con.execute(f"DELETE FROM {LABELS} WHERE labelled_run = ?", [run_id])
            if label:
                store.con.execute(f"INSERT INTO {LABELS} VALUES (?, ?, ?)", [run_id, label, _now()])
        return label or None

    def delete_run(self, run_id: str) -> dict[str, Any]:
        """Delete a run from our own store: every table's rows of it, and its label."""
        path = self.locate(run_id)
        if not self.is_ours(path):
            raise Refused(
                f"run {run_id!r} is in {path.name}, which the dashboard only reads; delete it there "
                "(e.g. with duckdb) or remove the file"
            )
        before = path.stat().st_size
        with self._write(path, compact=True) as store:
            if (
                "sweep_runs" in store.tables()
                and store.query("SELECT 1 FROM sweep_runs WHERE run_id = ? LIMIT 1", [run_id]).shape[0]
            ):
                raise Refused(f"run {run_id!r} belongs to a sweep; delete the sweep instead (DELETE /api/sweeps/<id>)")
            with store._transaction() as con:
                for name in ["runs", *store.tables()]:
                    if "run_id" in store._columns(name):
                        con.execute(f'DELETE FROM "{name}" WHERE run_id = ?', [run_id])
                if LABELS in store.tables():
                    con.execute(f"DELETE FROM {LABELS} WHERE labelled_run = ?", [run_id])
        if path != self.own:
            self._unlabel([run_id])
        return {"run_id": run_id, "store": path.name, "bytes_before": before, "bytes_after": path.stat().st_size}

    def delete_sweep(self, sweep_id: str) -> dict[str, Any]:
        """Delete a sweep of our sweep store: its row, its runs and their tables."""
        if not self.sweeps_path.exists():
            raise RunNotFound(f"sweep {sweep_id!r} not found in {SWEEP_STORE}")
        with self._write(self.sweeps_path, compact=True) as store:
            if "sweeps" not in store.tables() or not len(
                store.query("SELECT 1 FROM sweeps WHERE sweep_id = ?", [sweep_id])
            ):
                raise RunNotFound(
                    f"sweep {sweep_id!r} not found in {SWEEP_STORE} (the dashboard deletes only its own sweeps)"
                )
            ids = (
                store.query("SELECT run_id FROM sweep_runs WHERE sweep_id = ?", [sweep_id]).run_id.tolist()
                if "sweep_runs" in store.tables()
                else []
            )
            others = (
                store.query("SELECT DISTINCT run_id FROM sweep_runs WHERE sweep_id <> ?", [sweep_id]).run_id.tolist()
                if "sweep_runs" in store.tables()
                else []
            )
            shared = set(others)
            with store._transaction() as con:
                con.execute("DELETE FROM sweeps WHERE sweep_id = ?", [sweep_id])
                if "sweep_runs" in store.tables():
                    con.execute("DELETE FROM sweep_runs WHERE sweep_id = ?", [sweep_id])
                gone = [r for r in ids if r not in shared]  # a run another sweep links to stays
                if gone:
                    con.register("_gone", pa.table({"run_id": pa.array(gone, pa.string())}))
                    for name in ["runs", *store.tables()]:
                        if name != "sweep_runs" and "run_id" in store._columns(name):
                            con.execute(f'DELETE FROM "{name}" WHERE run_id IN (SELECT run_id FROM _gone)')
                    con.unregister("_gone")
        self._unlabel(gone)
        return {"sweep_id": sweep_id, "runs_deleted": len(gone)}

    def _unlabel(self, run_ids: list[str]) -> None:
        if not run_ids or not self.own.exists():
            return
        with self._write() as store:
            if LABELS in store.tables():
                for run_id in run_ids:
                    store.con.execute(f"DELETE FROM {LABELS} WHERE labelled_run = ?", [run_id])

    def save_scenario_file(self, filename: str, text: str, scenario: Scenario) -> dict[str, Any]:
        """Keep an uploaded scenario file (validated by the caller) in our own store; its id is a hash of the text."""
        scenario_id = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
        with self._write() as store:
            store.con.execute(
                f"CREATE TABLE IF NOT EXISTS {SCENARIO_FILES} (scenario_id VARCHAR PRIMARY KEY, "
                "name VARCHAR, filename VARCHAR, description VARCHAR, toml VARCHAR, uploaded_at VARCHAR)"
            )
            store.con.execute(
                f"INSERT INTO {SCENARIO_FILES} VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                [scenario_id, scenario.name, filename, scenario.description, text, _now()],
            )
        return self.scenario_file(scenario_id)

    def scenario_file(self, scenario_id: str) -> dict[str, Any]:
        """An uploaded scenario file's row, with its text (:class:`RunNotFound` if there is none)."""
        for row in self.scenario_files(with_text=True):
            if row["id"] == scenario_id:
                return row
        raise RunNotFound(f"scenario file {scenario_id!r} not found (upload it again: POST /api/scenarios)")

    def scenario_files(self, with_text: bool = False) -> list[dict[str, Any]]:
        """Uploaded scenario files, newest first (their text only with ``with_text``)."""
        if not self.own.exists():
            return []
        with self._open(self.own) as store:
            if SCENARIO_FILES not in store.tables():
                return []
            frame = store.query(f"SELECT * FROM {SCENARIO_FILES} ORDER BY uploaded_at DESC, scenario_id")
        rows = []
        for r in frame.to_dict("records"):
            row = {
                "id": r["scenario_id"],
                "base": f"file:{r['scenario_id']}",
                "name": r["name"],
                "filename": r["filename"],
                "description": r["description"] or "",
                "uploaded_at": r["uploaded_at"],
            }
            if with_text:
                row["toml"] = r["toml"]
            rows.append(row)
        return rows

    # -- reading -------------------------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        """The runs' labels (run id → label)."""
        if not self.own.exists():
            return {}
        try:
            with self._open(self.own) as store:
                if LABELS not in store.tables():
                    return {}
                frame = store.query(f"SELECT labelled_run, label FROM {LABELS}")
        except StoreBusy:
            return {}
        return dict(zip(frame.labelled_run, frame.label, strict=True))

    def list_runs(self, include_sweeps: bool = False) -> tuple[list[dict[str, Any]], list[str], int]:
        """All runs of all stores (newest first; a run id stored twice is listed once, ours first).

        Runs of sweeps are left out unless ``include_sweeps``; their number is returned third.
        """
        runs: dict[str, dict[str, Any]] = {}
        hidden: set[str] = set()
        labels = self.labels()

        def read(store: ResultsStore) -> Any:
            if "runs" not in store._all_tables():
                return None
            frame = store.query(
                "SELECT run_id, scenario_name, seed, replication, scale, steps, started_at, wall_seconds FROM runs"
            )
            no_dragon = 0 if "dragons" in store.tables() else None  # a stored run without rows had none
            in_sweep = (
                dict(
                    store.query("SELECT run_id, any_value(sweep_id) AS s FROM sweep_runs GROUP BY run_id").itertuples(
                        index=False, name=None
                    )
                )
                if "sweep_runs" in store.tables()
                else {}
            )
            return frame, _dragon_counts(store), no_dragon, in_sweep

        found, unavailable = self._read_all(read)
        for path, (frame, counts, no_dragon, in_sweep) in found:
            for row in frame.to_dict("records"):
                if row["run_id"] in runs or row["run_id"] in hidden:
                    continue
                if row["run_id"] in in_sweep and not include_sweeps:
                    hidden.add(row["run_id"])
                    continue
                row = jsonable(row)
                row["dragons"] = counts.get(row["run_id"], no_dragon)
                row["store"] = path.name
                row["label"] = labels.get(row["run_id"])
                row["deletable"] = self.is_ours(path) and row["run_id"] not in in_sweep
                row["sweep_id"] = in_sweep.get(row["run_id"])
                runs[row["run_id"]] = row
        ordered = sorted(runs.values(), key=lambda r: (r.get("started_at") or "", r["run_id"]), reverse=True)
        return ordered, unavailable, len(hidden)

    def _read_all(self, read: Callable[[ResultsStore], Any]) -> tuple[list[tuple[Path, Any]], list[str]]:
        """``read(store)`` on every store of the folder: [(path, value)] where it gave one, and the unreadable files."""
        out: list[tuple[Path, Any]] = []
        unavailable: list[str] = []
        for path in self.files():
            try:
                with self._open(path) as store:
                    value = read(store)
            except (StoreBusy, duckdb.Error) as exc:
                unavailable.append(str(exc) if isinstance(exc, StoreBusy) else path.name)
                continue
            if value is not None:
                out.append((path, value))
        return out, unavailable

    def locate(self, run_id: str) -> Path:
        """The store file holding ``run_id`` (ours first) or :class:`RunNotFound`."""
        busy = []
        for path in self.files():
            try:
                with self._open(path) as store:
                    if "runs" in store._all_tables() and store.has_run(run_id):
                        return path
            except (StoreBusy, duckdb.Error):
                busy.append(path.name)
        extra = f" (could not read {', '.join(busy)})" if busy else ""
        raise RunNotFound(f"run {run_id!r} not found in the results store{extra}")

    def meta(self, run_id: str) -> dict[str, Any]:
        """A stored run's ``runs`` row, with its dragon counts."""
        path = self.locate(run_id)
        with self._open(path) as store:
            frame = store.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
            counts = _dragon_counts(store, run_id)
        row = jsonable(frame.to_dict("records")[0])
        row["dragons"] = counts.get(run_id)
        row["store"] = path.name
        row["label"] = self.labels().get(run_id)
        row["deletable"] = self.is_ours(path)
        return row

    def scenario_toml(self, run_id: str) -> str:
        """A stored run's scenario as TOML ('' if not stored)."""
        return str(self.meta(run_id).get("scenario_toml") or "")

    def scenario(self, run_id: str) -> tuple[Scenario, int]:
        """A stored run's scenario (validated with this version's schema) and replication number."""
        meta = self.meta(run_id)
        try:
            sc = validate(tomllib.loads(str(meta.get("scenario_toml") or "")))
        except (tomllib.TOMLDecodeError, ScenarioError) as exc:
            raise Refused(
                f"run {run_id!r}: its stored scenario does not load with this version of hardtech ({exc})"
            ) from None
        return sc, int(meta.get("replication") or 0)

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        """One result table of one run (without the run_id column); empty if the store lacks it."""
        path = self.locate(run_id)
        with self._open(path) as store:
            if name not in store.tables():
                return pd.DataFrame()
            frame = store.table(name, run_id)
        return frame.drop(columns=["run_id"], errors="ignore")

    def firm_rows(self, run_id: str, firm_id: int) -> dict[str, pd.DataFrame | None]:
        """The stored firm_events and dragons rows of one firm (None where the run did not keep the table)."""
        path = self.locate(run_id)
        out: dict[str, pd.DataFrame | None] = {}
        with self._open(path) as store:
            have = set(store.tables())
            for name in ("firm_events", "dragons"):
                out[name] = (
                    store.query(
                        f'SELECT * EXCLUDE (run_id) FROM "{name}" WHERE run_id = ? AND firm_id = ?', [run_id, firm_id]
                    )
                    if name in have
                    else None
                )
        return out

    def download(self, run_id: str, name: str, fmt: str) -> bytes:
        """A stored run's table ``name`` as CSV or Parquet bytes."""
        frame = self.table(run_id, name)
        if fmt == "csv":
            return frame.to_csv(index=False).encode("utf-8")
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
        return buf.getvalue()

    def _metric_frames(self, store: ResultsStore, run_id: str) -> dict[str, pd.DataFrame]:
        have = set(store.tables())
        return {
            n: (store.table(n, run_id) if n in have else pd.DataFrame())
            for n in ("step_metrics", "region_metrics", "field_metrics", "dragons")
        }

    def detail(self, run_id: str) -> dict[str, Any]:
        """What the page needs to show a stored run: step payloads, dragons, outcomes, bands over its replications."""
        meta = self.meta(run_id)
        regions, fields, labels = _names(meta.get("scenario_toml") or "")
        path = self.locate(run_id)
        with self._open(path) as store:
            frames = self._metric_frames(store, run_id)
            # the other replications of the same resolved scenario (seed included) in the same store
            siblings = store.query(
                "SELECT run_id FROM runs WHERE scenario_toml = (SELECT scenario_toml FROM runs "
                "WHERE run_id = ?) ORDER BY replication, run_id",
                [run_id],
            ).run_id.tolist()[:MAX_SIBLINGS]
            others = {s: self._metric_frames(store, s) for s in siblings if s != run_id} if len(siblings) > 1 else {}
        sm, rm, fm = frames["step_metrics"], frames["region_metrics"], frames["field_metrics"]
        if not regions:
            regions = list(dict.fromkeys(sm.get("region", pd.Series(dtype=str)).tolist()))
        if not fields:
            fields = list(dict.fromkeys(fm.get("field", pd.Series(dtype=str)).tolist()))
            labels = {f: f for f in fields}
        steps = payloads(sm, rm, fm, regions, fields)
        band = None
        if others:
            runs = [steps] + [
                payloads(f["step_metrics"], f["region_metrics"], f["field_metrics"], regions, fields)
                for f in others.values()
            ]
            band = bands([r for r in runs if r])
        dragons = frames["dragons"]
        if len(dragons) and "dragon_step" in dragons:
            dragons = dragons.sort_values(["dragon_step", "firm_id"], kind="stable")
        try:
            outs = (
                jsonable(outcomes({"step_metrics": sm, "region_metrics": rm, "field_metrics": fm})) if len(sm) else {}
            )
        except (KeyError, ValueError, ZeroDivisionError):  # an older store without some columns
            outs = {}
        info = {
            k: meta.get(k)
            for k in (
                "run_id",
                "scenario_name",
                "seed",
                "replication",
                "scale",
                "steps",
                "started_at",
                "wall_seconds",
                "dragons",
                "store",
                "label",
                "deletable",
            )
        }
        return {
            "run": info,
            "regions": regions,
            "fields": fields,
            "field_labels": labels,
            "steps": steps,
            "dragons": dragon_rows(dragons) if len(dragons) else [],
            "outcomes": outs,
            "siblings": siblings,
            "bands": band,
            "base": f"run:{run_id}",
        }

    # -- sweeps -------------------------------------------------------------------------------------
    def list_sweeps(self) -> tuple[list[dict[str, Any]], list[str]]:
        """Sweeps of every store of the folder (newest first)."""

        def read(store: ResultsStore) -> Any:
            if "sweeps" not in store.tables():
                return None
            frame = store.query("SELECT sweep_id, name, design, samples, replications, runs, created_at FROM sweeps")
            stored = (
                dict(
                    store.query("SELECT sweep_id, count(*) AS n FROM sweep_runs GROUP BY sweep_id").itertuples(
                        index=False, name=None
                    )
                )
                if "sweep_runs" in store.tables()
                else {}
            )
            return frame, stored

        found: list[dict[str, Any]] = []
        tables, unavailable = self._read_all(read)
        for path, (frame, stored) in tables:
            for row in frame.to_dict("records"):
                found.append({**jsonable(row), "stored": int(stored.get(row["sweep_id"], 0)), "store": path.name})
        found.sort(key=lambda r: (r.get("created_at") or "", r["sweep_id"]), reverse=True)
        return found, unavailable

    def sweep(self, sweep_id: str) -> tuple[dict[str, Any], pd.DataFrame]:
        """A stored sweep's ``sweeps`` row and its ``sweep_runs`` rows."""
        for path in self.files():
            try:
                with self._open(path) as store:
                    if "sweeps" not in store.tables():
                        continue
                    row = store.query("SELECT * FROM sweeps WHERE sweep_id = ?", [sweep_id])
                    if not len(row):
                        continue
                    runs = (
                        store.query(
                            "SELECT * FROM sweep_runs WHERE sweep_id = ? ORDER BY sample, replication", [sweep_id]
                        )
                        if "sweep_runs" in store.tables()
                        else pd.DataFrame()
                    )
            except (StoreBusy, duckdb.Error):
                continue
            info = jsonable(row.to_dict("records")[0])
            info["store"] = path.name
            for key in ("factors", "outcomes"):
                info[key] = json.loads(info.get(key) or "[]")
            return info, runs
        raise RunNotFound(f"sweep {sweep_id!r} not found in the results folder")


class _ReadersWriter:
    """Many readers or one writer. DuckDB will not open a file read-only and for writing in one process at once."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None  # thread id of the writer (it may also read, e.g. a sweep's own checks)

    @contextmanager
    def hold(self, *, write: bool, wait: bool) -> Iterator[None]:
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:  # re-entrant for the writing thread
                depth_owner = False
            else:
                depth_owner = True
                if write:
                    while self._writer is not None or self._readers:  # readers are quick: always wait for them
                        if self._writer is not None and not wait:
                            raise StoreBusy(f"{SWEEP_STORE}: a sweep is being written to it")
                        self._cond.wait(0.5)
                    self._writer = me
                else:
                    if self._writer is not None:
                        raise StoreBusy(f"{SWEEP_STORE}: a sweep is being written to it")
                    self._readers += 1
        try:
            yield
        finally:
            if depth_owner:
                with self._cond:
                    if write:
                        self._writer = None
                    else:
                        self._readers -= 1
                    self._cond.notify_all()


def _compact(path: Path) -> None:
    """Rewrite a store so that deleted rows give their space back.

    DuckDB reuses freed blocks but never shrinks a file. Copies every table into a fresh file beside
    it, then swaps it in; on any error the old file stays.
    """
    tmp = path.with_name(path.name + ".compacting")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"ATTACH '{path}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{tmp}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        con.execute("DETACH dst")
        con.execute("DETACH src")
    except duckdb.Error:
        con.close()
        tmp.unlink(missing_ok=True)
        raise
    con.close()
    tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    os.replace(tmp, path)


def _dragon_counts(store: ResultsStore, run_id: str | None = None) -> dict[str, int]:
    if "dragons" not in store.tables():
        return {}
    if run_id is None:
        frame = store.query("SELECT run_id, count(*) AS n FROM dragons GROUP BY run_id")
    else:
        frame = store.query("SELECT run_id, count(*) AS n FROM dragons WHERE run_id = ? GROUP BY run_id", [run_id])
    counts = {str(r): int(n) for r, n in zip(frame.run_id, frame.n, strict=True)}
    if run_id is not None:
        counts.setdefault(run_id, 0)
    return counts


def _names(toml_text: str) -> tuple[list[str], list[str], dict[str, str]]:
    """Region and field names (in scenario order) and field labels from a stored scenario TOML."""
    try:
        raw = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError:
        return [], [], {}
    regions = list((raw.get("regions") or {}).keys())
    fields_raw = raw.get("fields") or {}
    fields = list(fields_raw.keys())
    labels = {f: str((fields_raw[f] or {}).get("label", f)) for f in fields}
    return regions, fields, labels
