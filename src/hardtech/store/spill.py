"""Runs saved beside a store that could not be written, and their import.

When another process keeps a store locked for longer than we may wait, the
computed runs are not thrown away: :func:`spill_runs` writes each one to
``<store>.pending/<run_id>/`` beside the store — ``meta.json`` (the run's
metadata) and one Parquet file per table, already in the types and with the
NULLs the store would hold — and ``hardtech import <store>.pending --out
<store>`` (:func:`import_runs`) later writes them to the store, each whole, as
if they had been stored directly, then removes the files it imported.
"""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hardtech.store.duckdb_store import ResultsStore, _arrow_tables, _json_default

META_FILE = "meta.json"
FORMAT = 1


def pending_dir(store_path: str | Path) -> Path:
    """Where runs meant for ``store_path`` are saved when it stays locked: ``<name>.pending`` beside it."""
    p = Path(store_path)
    return p.with_name(p.stem + ".pending")


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def spill_runs(store_path: str | Path, runs: Sequence[tuple[str, Mapping[str, Any], Mapping[str, pa.Table]]]) -> Path:
    """Save runs ``(run_id, meta, tables)`` under ``<store>.pending/``; returns that directory.

    Each run is written to a temporary directory first and renamed into place,
    so a run directory that exists is complete.
    """
    root = pending_dir(store_path)
    root.mkdir(parents=True, exist_ok=True)
    for run_id, meta, tables in runs:
        final = root / run_id
        tmp = root / f".{run_id}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, tbl in _arrow_tables(tables).items():
            pq.write_table(tbl, tmp / f"{name}.parquet")
        body = {"format": FORMAT, "run_id": run_id, "store": str(store_path), "meta": _clean(dict(meta))}
        (tmp / META_FILE).write_text(json.dumps(body, default=_json_default, indent=1), encoding="utf-8")
        shutil.rmtree(final, ignore_errors=True)
        tmp.rename(final)
    return root


def _run_dirs(source: Path) -> list[Path]:
    if (source / META_FILE).is_file():
        return [source]
    return sorted(
        p for p in source.iterdir() if p.is_dir() and not p.name.startswith(".") and (p / META_FILE).is_file()
    )


def read_spilled(run_dir: Path) -> tuple[str, dict[str, Any], dict[str, pa.Table]]:
    """One saved run: ``(run_id, meta, tables)``."""
    body = json.loads((run_dir / META_FILE).read_text(encoding="utf-8"))
    if body.get("format") != FORMAT:
        raise ValueError(f"{run_dir / META_FILE}: unknown format {body.get('format')!r} (expected {FORMAT})")
    tables = {p.stem: pq.read_table(p) for p in sorted(run_dir.glob("*.parquet"))}
    return body["run_id"], body["meta"], tables


def import_runs(source: str | Path, store: ResultsStore, *, remove: bool = True) -> list[str]:
    """Write every run saved under ``source`` (a ``.pending`` directory or one run's directory) to ``store``.

    All runs go in one transaction (each whole; a run already stored is
    replaced). Afterwards the imported run directories are removed (and
    ``source`` if it is then empty) unless ``remove`` is false. Returns the
    imported run ids.
    """
    source = Path(source)
    if not source.is_dir():
        raise FileNotFoundError(f"{source} is not a directory of saved runs")
    dirs = _run_dirs(source)
    if not dirs:
        raise FileNotFoundError(f"{source} holds no saved runs (no */{META_FILE})")
    runs = [read_spilled(d) for d in dirs]
    store.write_runs(runs, replace=True)
    if remove:
        for d in dirs:
            shutil.rmtree(d)
        if source.exists() and not any(source.iterdir()):
            source.rmdir()
    return [r[0] for r in runs]
