"""The compiled in-place compaction of :meth:`hardtech.engine.AgentTable.remove`.

Imported when first needed: this module imports Numba.
"""

from __future__ import annotations

import numba
from numba import literal_unroll

from hardtech.engine.jit import OPTIONS


@numba.njit(cache=True, **OPTIONS)
def compact_columns(columns, mask, first, n):  # pragma: no cover - compiled
    """Move the rows of every column (a tuple of arrays) not marked in ``mask`` down, in order, from row ``first``."""
    for col in literal_unroll(columns):
        j = first
        for i in range(first, n):
            if not mask[i]:  # usually: a removal is a few rows in a hundred, so the branch is predictable
                col[j] = col[i]
                j += 1
