"""What every command that writes a results store shares.

Check the location first, wait for the lock, and never lose computed runs:

* :func:`check_out` — before any work: ``--out`` ends in ``.duckdb`` and can
  hold a store (:func:`hardtech.store.check_store_path`); else one line, exit 2.
* :func:`open_store` — opens it for writing, waiting up to
  ``HARDTECH_LOCK_WAIT`` seconds (default 60) while another process holds it,
  with a message; still locked: one line, exit 2 (use it only before any work).
* :func:`store_runs` — writes computed runs, each whole; still locked after
  the wait: the runs are saved beside the store (``<name>.pending/``, Parquet)
  and the one-line error gives the exact ``hardtech import`` command that
  stores them, exit 2.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

from hardtech.cli.app import err, fail
from hardtech.store import ResultsStore, StoreLockedError, StorePathError, check_store_path, spill_runs

RunRows = Sequence[tuple[str, Mapping[str, Any], Mapping[str, pa.Table]]]


def check_out(path: Path, option: str = "--out") -> Path:
    """``path`` if it ends in .duckdb and can hold a store; else one error line, exit 2."""
    if path.suffix != ".duckdb":
        fail(f"{option}: {str(path)!r} must end in .duckdb")
    try:
        return check_store_path(path)
    except StorePathError as exc:
        fail(f"{option}: {exc}")
    raise AssertionError  # unreachable


def _waiting(message: str) -> None:
    err.print(message + " …", highlight=False, soft_wrap=True)


def open_store(path: Path, option: str = "--out") -> ResultsStore:
    """The store opened for writing (waiting for another process's lock, with a message)."""
    try:
        return ResultsStore(path, wait=None, on_wait=_waiting)
    except StoreLockedError as exc:
        fail(f"{option}: {exc}; nothing was run — try again when it is free")
    except StorePathError as exc:
        fail(f"{option}: {exc}")
    raise AssertionError  # unreachable


def import_command(spilled: Path, store_path: Path) -> str:
    """The ``hardtech import`` command line that stores the runs saved in ``spilled`` into ``store_path``."""
    return shlex.join(["hardtech", "import", str(spilled), "--out", str(store_path)])


def store_runs(
    path: Path, runs: RunRows, *, then: str = "", also: Callable[[ResultsStore], None] | None = None
) -> None:
    """Write ``runs`` (replacing runs of the same id), each whole, in one transaction.

    Then ``also(store)`` runs on the same connection (e.g. to mark a batch complete).

    If the store stays locked for longer than ``HARDTECH_LOCK_WAIT``, saves the
    runs beside it and exits 2 with one line that names the saved directory and
    the command storing them (``then`` is appended, e.g. how to go on).
    """
    try:
        with ResultsStore(path, wait=None, on_wait=_waiting) as store:
            store.write_runs(runs, replace=True)
            if also is not None:
                also(store)
    except StoreLockedError as exc:
        spilled = spill_runs(path, runs)
        fail(
            f"{exc}; the {len(runs)} computed run(s) are saved in {spilled} — store them with: "
            f"{import_command(spilled, path)}{then}"
        )
