"""Collects per-step records into Arrow tables.

Each :meth:`Recorder.record` call appends one chunk of equal-length columns to a
named table; :meth:`Recorder.table` concatenates the chunks into a
``pyarrow.Table`` only when asked, so recording costs one small dict per step.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pyarrow as pa


class Recorder:
    """Named tables built from column chunks."""

    def __init__(self) -> None:
        self._chunks: dict[str, list[dict[str, np.ndarray]]] = defaultdict(list)

    def record(self, table: str, **columns: object) -> None:
        """Append one chunk to ``table``.

        Columns are arrays of one common length; scalars are repeated to it.
        """
        arrays = {k: np.asarray(v) for k, v in columns.items()}
        lengths = {a.shape[0] for a in arrays.values() if a.ndim > 0}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length for {table!r}: {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        chunk = {k: (np.full(n, a) if a.ndim == 0 else a.copy()) for k, a in arrays.items()}
        previous = self._chunks[table]
        if previous and list(previous[0]) != list(chunk):
            raise ValueError(f"columns of {table!r} changed: {list(previous[0])} -> {list(chunk)}")
        previous.append(chunk)

    @property
    def tables(self) -> list[str]:
        """Names of the tables recorded so far."""
        return list(self._chunks)

    def table(self, name: str) -> pa.Table:
        """All chunks of ``name`` as one Arrow table."""
        chunks = self._chunks.get(name)
        if not chunks:
            return pa.table({})
        return pa.table({col: np.concatenate([c[col] for c in chunks]) for col in chunks[0]})
