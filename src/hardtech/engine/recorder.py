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
        self._chunks: dict[str, list[tuple[int, dict[str, np.ndarray]]]] = defaultdict(list)  # (rows, columns)

    def record(self, table: str, **columns: object) -> None:
        """Append one chunk to ``table``.

        Columns are arrays of one common length; scalars are repeated to it.
        """
        arrays = {k: np.asarray(v) for k, v in columns.items()}
        lengths = {a.shape[0] for a in arrays.values() if a.ndim > 0}
        if len(lengths) > 1:
            raise ValueError(f"columns of unequal length for {table!r}: {sorted(lengths)}")
        n = lengths.pop() if lengths else 1
        # scalars stay scalars until table() repeats them: a per-agent chunk then costs its copies alone
        chunk = {k: (a.copy() if a.ndim else a) for k, a in arrays.items()}
        previous = self._chunks[table]
        if previous and list(previous[0][1]) != list(chunk):
            raise ValueError(f"columns of {table!r} changed: {list(previous[0][1])} -> {list(chunk)}")
        previous.append((n, chunk))

    @property
    def tables(self) -> list[str]:
        """Names of the tables recorded so far."""
        return list(self._chunks)

    def table(self, name: str) -> pa.Table:
        """All chunks of ``name`` as one Arrow table."""
        chunks = self._chunks.get(name)
        if not chunks:
            return pa.table({})
        return pa.table(
            {
                col: np.concatenate([c[col] if c[col].ndim else np.full(n, c[col]) for n, c in chunks])
                for col in chunks[0][1]
            }
        )
