"""Persistent storage of simulation results (DuckDB)."""

from hardtech.store.duckdb_store import ResultsStore, RunExistsError

__all__ = ["ResultsStore", "RunExistsError"]
