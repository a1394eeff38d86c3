"""Persistent storage of simulation results (DuckDB)."""

from hardtech.store.duckdb_store import (
    ResultsStore,
    RunExistsError,
    StoreError,
    StoreLockedError,
    StorePathError,
    check_store_path,
    lock_wait,
)
from hardtech.store.spill import import_runs, spill_runs

__all__ = [
    "ResultsStore",
    "RunExistsError",
    "StoreError",
    "StoreLockedError",
    "StorePathError",
    "check_store_path",
    "import_runs",
    "lock_wait",
    "spill_runs",
]
