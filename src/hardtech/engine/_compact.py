"""The compiled in-place compaction of :meth:`hardtech.engine.AgentTable.remove`.

Imported when first needed: this module imports Numba.
"""

from __future__ import annotations

import numba
from numba import literal_unroll, types
from numba.core import cgutils
from numba.extending import intrinsic

from hardtech.engine.jit import OPTIONS


@intrinsic
def _move_down(typingctx, column, to, start, count):  # pragma: no cover - compiled
    """``column[to : to + count] = column[start : start + count]`` by one ``memmove`` (ranges may overlap).

    A loop over the elements cannot be vectorised when source and destination
    overlap, as they do here; ``memmove`` copies whole cache lines.
    """
    sig = types.void(column, types.intp, types.intp, types.intp)

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        col, dst, src, n = args
        data = context.make_array(array_type)(context, builder, col).data
        itemsize = context.get_abi_sizeof(context.get_data_type(array_type.dtype))
        cgutils.raw_memmove(builder, cgutils.gep(builder, data, dst), cgutils.gep(builder, data, src), n, itemsize)
        return context.get_dummy_value()

    return sig, codegen


@numba.njit(cache=True, **OPTIONS)
def compact_columns(columns, removed, n):  # pragma: no cover - compiled
    """Drop rows ``removed`` (ascending, at least one) of every 1-d contiguous column in ``columns``, keeping order.

    Each run of kept rows between two removed ones moves down by the number
    of rows removed before it: rows before the first removed one stay put.
    """
    runs = removed.size
    for col in literal_unroll(columns):
        to = removed[0]
        for k in range(runs):
            start = removed[k] + 1
            end = removed[k + 1] if k + 1 < runs else n
            if end > start:
                _move_down(col, to, start, end - start)  # type: ignore[call-arg]  # Numba passes typingctx
                to += end - start
