"""The results folder as the dashboard sees it: one writer, read-only browsing.

The server writes only ``<results>/dashboard.duckdb`` and only from its job
worker, one run batch at a time under a lock (DuckDB allows one writer per
file). Every ``*.duckdb`` file directly inside the folder — e.g. the CLI's
``results/hangzhou.duckdb`` — is browsed read-only; a file another process is
writing at that moment is reported as unavailable rather than waited for.

Clients name runs by id only. A run id is looked up in the stores; no path
from a request is ever opened, and nothing outside the folder is read.
"""

from __future__ import annotations

import io
import threading
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hardtech.analysis.outcomes import outcomes
from hardtech.store import ResultsStore
from hardtech.web.series import dragon_rows, jsonable, step_payload

OWN_STORE = "dashboard.duckdb"


class RunNotFound(LookupError):
    """No store in the results folder holds this run id."""


class StoreBusy(RuntimeError):
    """A store file is locked by another process."""


class ResultsFolder:
    """Access to the ``.duckdb`` stores in one folder (the server's single writer lives here)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder).resolve()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.own = self.folder / OWN_STORE
        self._lock = threading.RLock()  # serialises every access to our own file (writes and reads)

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
        return sorted(found, key=lambda p: (p.name != OWN_STORE, p.name))

    @contextmanager
    def _open(self, path: Path) -> Iterator[ResultsStore]:
        if path.parent != self.folder:  # defence in depth: only files of the folder
            raise PermissionError(f"{path} is outside the results folder")
        own = path == self.own
        if own:
            self._lock.acquire()
        try:
            try:
                store = ResultsStore(path, read_only=True)
            except duckdb.Error as exc:
                raise StoreBusy(f"{path.name}: {str(exc).splitlines()[0]}") from None
            try:
                yield store
            finally:
                store.close()
        finally:
            if own:
                self._lock.release()

    # -- writing (the single writer) -----------------------------------------------------------
    def write(self, results: list[Any]) -> str:
        """Write runs (``RunResult``s) to our own store in one go; returns the store's file name."""
        with self._lock, ResultsStore(self.own) as store:
            for r in results:
                store.write_run(r.run_id, r.meta, r.tables, replace=True)
        return self.own.name

    # -- reading -------------------------------------------------------------------------------
    def list_runs(self) -> tuple[list[dict[str, Any]], list[str]]:
        """All runs of all stores (newest first; a run id stored twice is listed once, ours first)."""
        runs: dict[str, dict[str, Any]] = {}
        unavailable: list[str] = []
        for path in self.files():
            try:
                with self._open(path) as store:
                    if "runs" not in store._all_tables():
                        continue
                    frame = store.query(
                        "SELECT run_id, scenario_name, seed, replication, scale, steps, started_at, wall_seconds FROM runs"
                    )
                    counts = _dragon_counts(store)
                    no_dragon = 0 if "dragons" in store.tables() else None  # a stored run without rows had none
            except (StoreBusy, duckdb.Error) as exc:
                unavailable.append(str(exc) if isinstance(exc, StoreBusy) else path.name)
                continue
            for row in frame.to_dict("records"):
                if row["run_id"] in runs:
                    continue
                row = jsonable(row)
                row["dragons"] = counts.get(row["run_id"], no_dragon)
                row["store"] = path.name
                runs[row["run_id"]] = row
        ordered = sorted(runs.values(), key=lambda r: (r.get("started_at") or "", r["run_id"]), reverse=True)
        return ordered, unavailable

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
        path = self.locate(run_id)
        with self._open(path) as store:
            frame = store.query("SELECT * FROM runs WHERE run_id = ?", [run_id])
            counts = _dragon_counts(store, run_id)
        row = jsonable(frame.to_dict("records")[0])
        row["dragons"] = counts.get(run_id)
        row["store"] = path.name
        return row

    def scenario_toml(self, run_id: str) -> str:
        return str(self.meta(run_id).get("scenario_toml") or "")

    def table(self, run_id: str, name: str) -> pd.DataFrame:
        """One result table of one run (without the run_id column); empty if the store lacks it."""
        path = self.locate(run_id)
        with self._open(path) as store:
            if name not in store.tables():
                return pd.DataFrame()
            frame = store.table(name, run_id)
        return frame.drop(columns=["run_id"], errors="ignore")

    def download(self, run_id: str, name: str, fmt: str) -> bytes:
        frame = self.table(run_id, name)
        if fmt == "csv":
            return frame.to_csv(index=False).encode("utf-8")
        buf = io.BytesIO()
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
        return buf.getvalue()

    def detail(self, run_id: str) -> dict[str, Any]:
        """What the page needs to show a stored run: step payloads, dragons, outcomes."""
        meta = self.meta(run_id)
        regions, fields, labels = _names(meta.get("scenario_toml") or "")
        path = self.locate(run_id)
        with self._open(path) as store:
            have = set(store.tables())
            frames = {n: (store.table(n, run_id) if n in have else pd.DataFrame())
                      for n in ("step_metrics", "region_metrics", "field_metrics", "dragons")}
        sm, rm, fm = frames["step_metrics"], frames["region_metrics"], frames["field_metrics"]
        if not regions:
            regions = list(dict.fromkeys(sm.get("region", pd.Series(dtype=str)).tolist()))
        if not fields:
            fields = list(dict.fromkeys(fm.get("field", pd.Series(dtype=str)).tolist()))
            labels = {f: f for f in fields}
        steps = []
        by_step = {name: dict(tuple(f.groupby("step", sort=True))) if "step" in f else {}
                   for name, f in (("sm", sm), ("rm", rm), ("fm", fm))}
        for s in sorted(set(by_step["sm"]) | set(by_step["rm"]) | set(by_step["fm"])):
            parts = [by_step[k].get(s) for k in ("sm", "rm", "fm")]
            cols = [p.to_dict("list") if p is not None else {} for p in parts]
            steps.append(step_payload(cols[0], cols[1], cols[2], regions, fields))
        dragons = frames["dragons"]
        if len(dragons) and "dragon_step" in dragons:
            dragons = dragons.sort_values(["dragon_step", "firm_id"], kind="stable")
        try:
            outs = jsonable(outcomes({"step_metrics": sm, "region_metrics": rm, "field_metrics": fm})) if len(sm) else {}
        except (KeyError, ValueError, ZeroDivisionError):  # an older store without some columns
            outs = {}
        info = {k: meta.get(k) for k in ("run_id", "scenario_name", "seed", "replication", "scale", "steps",
                                         "started_at", "wall_seconds", "dragons", "store")}
        return {"run": info, "regions": regions, "fields": fields, "field_labels": labels, "steps": steps,
                "dragons": dragon_rows(dragons) if len(dragons) else [], "outcomes": outs}


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
