"""Struct-of-arrays agent tables with stable integer ids.

An :class:`AgentTable` keeps one NumPy column per attribute. Live rows are
always the first ``len(table)`` rows and stay sorted by id: ``add`` appends rows
with fresh, increasing ids and ``remove`` compacts the survivors in order. So a
row lookup by id is a binary search, iteration order never depends on history,
and every operation is vectorized over rows.

``remove`` gathers the survivors into a second, preallocated set of columns
and swaps the two (no fresh multi-megabyte temporaries, no copy back): the
table holds up to twice its live storage once it has removed rows, and a
view taken before ``add`` or ``remove`` must not be used after it.
:attr:`AgentTable.version` counts the adds and removes, so callers can tell
whether something they derived from the rows (group counts, say) is still
current.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from hardtech.engine.jit import compiled

HEADROOM = 1.25
"""Rows allocated per expected row (growing populations need no regrowth while they are created)."""
SPARE_ROWS = 1024
"""Rows allocated beyond that, so small tables rarely regrow."""


def capacity_for(expected: float) -> int:
    """Rows to allocate up front for a table expected to hold ``expected`` rows."""
    return int(HEADROOM * expected) + SPARE_ROWS


def _compact_columns(columns, removed, n) -> None:
    """Drop rows ``removed`` (ascending) of every column, keeping order, in place (compiled)."""
    from hardtech.engine._compact import compact_columns

    compact_columns(columns, removed, n)


class AgentTable:
    """A growable table of agents stored column by column.

    Parameters
    ----------
    schema:
        Column name -> NumPy dtype (anything ``np.dtype`` accepts but a subarray dtype: one value per row).
    capacity:
        Rows allocated up front; the table doubles its storage when full.
        Without it, :func:`capacity_for` ``expected`` rows (64 if neither is given).
    defaults:
        Column name -> value given to new rows that do not set it (0 otherwise).
    expected:
        Rows the table is expected to hold (sets the capacity when ``capacity`` is not given).
    """

    def __init__(
        self,
        schema: Mapping[str, np.typing.DTypeLike],
        capacity: int | None = None,
        defaults: Mapping[str, object] | None = None,
        expected: float | None = None,
    ) -> None:
        if capacity is None:
            capacity = capacity_for(expected) if expected is not None else 64
        if "id" in schema:
            raise ValueError("'id' is reserved for the table's own stable ids")
        self._dtypes = {name: np.dtype(dt) for name, dt in schema.items()}
        for name, dt in self._dtypes.items():
            if dt.shape:  # the in-place removal and the row operations move one value per row
                raise ValueError(f"column {name!r} has dtype {dt}: a column holds one value per row")
        self._defaults = dict(defaults or {})
        unknown = set(self._defaults) - set(self._dtypes)
        if unknown:
            raise ValueError(f"defaults for unknown columns: {sorted(unknown)}")
        capacity = max(int(capacity), 1)
        self._data = {name: np.zeros(capacity, dt) for name, dt in self._dtypes.items()}
        self._ids = np.zeros(capacity, np.int64)
        self._spare: dict[str, np.ndarray] | None = None  # reference remove's spare columns, made on first use
        self._n = 0
        self._next_id = 0
        self._version = 0
        self._lookup: tuple[int, np.ndarray] | None = None  # (version, dense id → row array) of rows_of
        self._search_cost: tuple[int, float] = (0, 0.0)  # (version, binary-search work of rows_of so far)

    # -- shape ---------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the attribute columns (without ``id``)."""
        return tuple(self._dtypes)

    @property
    def ids(self) -> np.ndarray:
        """Stable ids of the live rows, ascending (a read-only view)."""
        view = self._ids[: self._n]
        view.flags.writeable = False
        return view

    @property
    def capacity(self) -> int:
        """Rows allocated (live rows plus room to add without regrowing)."""
        return len(self._ids)

    @property
    def next_id(self) -> int:
        """The id the next added row will get."""
        return self._next_id

    @property
    def version(self) -> int:
        """Changes so far: each ``add``, ``remove`` (of at least one row) and ``touch`` counts one.

        Writes into columns through views are not seen: whoever changes a
        column that others derive something from calls :meth:`touch`.
        """
        return self._version

    def touch(self) -> None:
        """Note that columns changed in place (bumps :attr:`version`)."""
        self._version += 1

    # -- column access -----------------------------------------------------------
    def __getitem__(self, name: str) -> np.ndarray:
        """A writable view of column ``name`` over the live rows."""
        if name == "id":
            return self.ids
        return self._data[name][: self._n]

    def __setitem__(self, name: str, values: object) -> None:
        self._data[name][: self._n] = values

    def __contains__(self, name: str) -> bool:
        return name == "id" or name in self._dtypes

    # -- growth and shrinkage ----------------------------------------------------
    def _reserve(self, n_total: int) -> None:
        capacity = len(self._ids)
        if n_total <= capacity:
            return
        new_capacity = max(n_total, 2 * capacity)
        for name, col in self._data.items():
            grown = np.zeros(new_capacity, col.dtype)
            grown[: self._n] = col[: self._n]
            self._data[name] = grown
        grown_ids = np.zeros(new_capacity, np.int64)
        grown_ids[: self._n] = self._ids[: self._n]
        self._ids = grown_ids
        self._spare = None  # remade at the new capacity when next needed

    def add(self, n: int, **values: object) -> np.ndarray:
        """Append ``n`` rows; return their new ids.

        Each keyword sets a column, as a scalar or an array of length ``n``;
        columns not named get their default.
        """
        n = int(n)
        if n < 0:
            raise ValueError("cannot add a negative number of rows")
        unknown = set(values) - set(self._dtypes)
        if unknown:
            raise KeyError(f"unknown columns: {sorted(unknown)}")
        start, stop = self._n, self._n + n
        self._reserve(stop)
        for name, col in self._data.items():
            col[start:stop] = values.get(name, self._defaults.get(name, 0))
        new_ids = np.arange(self._next_id, self._next_id + n, dtype=np.int64)
        self._ids[start:stop] = new_ids
        self._n = stop
        self._next_id += n
        self._version += 1
        return new_ids

    def remove(self, mask: np.ndarray) -> int:
        """Drop the live rows where boolean ``mask`` is true, keeping order.

        Returns the number of rows removed.
        """
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (self._n,):
            raise ValueError(f"mask has shape {mask.shape}, table has {self._n} rows")
        removed = int(np.count_nonzero(mask))
        if removed == 0:
            return 0
        if compiled():
            # move the runs of kept rows down in place, one memmove each: no gather through an
            # index, no second set of columns to write into (4-8x faster on a firm table of
            # 7,000 rows × 43 columns, 2x on 4 million talent rows)
            _compact_columns((*self._data.values(), self._ids), np.flatnonzero(mask), self._n)
            self._n -= removed
            self._version += 1
            return removed
        keep = np.flatnonzero(~mask)  # ascending: survivors keep their order
        kept = keep.size
        if self._spare is None:
            self._spare = {name: np.empty_like(col) for name, col in self._data.items()}
            self._spare["id"] = np.empty_like(self._ids)
        spare = self._spare
        # gather into the spare columns, then swap: one pass over each column.
        # mode="clip" skips the bounds check that would buffer the output (the rows are valid).
        for name, col in self._data.items():
            np.take(col[: self._n], keep, out=spare[name][:kept], mode="clip")
            self._data[name], spare[name] = spare[name], col
        np.take(self._ids[: self._n], keep, out=spare["id"][:kept], mode="clip")
        self._ids, spare["id"] = spare["id"], self._ids
        self._n = kept
        self._version += 1
        return removed

    # -- lookups ------------------------------------------------------------------
    def rows_of(self, ids: np.ndarray) -> np.ndarray:
        """Row positions of the given ids; -1 where an id is not live (or negative).

        Lookups go through a dense id → row array (one gather each) when one
        is built for the current :attr:`version`, or when building it costs
        less than the binary searches it saves: a lookup of more ids than a
        quarter of the ids ever issued, or repeated lookups whose searches
        in this version add up to the ids ever issued. Otherwise a binary
        search over the sorted live ids.
        """
        ids = np.asarray(ids, dtype=np.int64)
        if self._lookup is None or self._lookup[0] != self._version:
            spent = self._search_cost[1] if self._search_cost[0] == self._version else 0.0
            spent += ids.size * np.log2(self._n + 2)
            self._search_cost = (self._version, spent)
            if spent >= self._next_id or self._next_id <= 4 * ids.size:
                lookup = np.full(self._next_id + 1, -1, dtype=np.int64)  # last slot: any invalid id
                lookup[self._ids[: self._n]] = np.arange(self._n)
                self._lookup = (self._version, lookup)
        if self._lookup is not None and self._lookup[0] == self._version:
            lookup = self._lookup[1]
            return lookup[np.where((ids >= 0) & (ids < self._next_id), ids, self._next_id)]
        live = self._ids[: self._n]
        rows = np.searchsorted(live, ids)
        rows_clipped = np.minimum(rows, max(self._n - 1, 0))
        found = (self._n > 0) & (live[rows_clipped] == ids) if self._n else np.zeros(ids.shape, bool)
        return np.where(found, rows_clipped, -1)

    def row_lookup(self) -> np.ndarray:
        """The dense id → row array of the current version (−1 for ids not live; read-only).

        ``lookup[id]`` for ids in ``[0, next_id)``; the last slot, ``lookup[next_id]``,
        is −1 and stands for any id outside that range (what :meth:`rows_of` maps them to).
        """
        if self._lookup is None or self._lookup[0] != self._version:
            lookup = np.full(self._next_id + 1, -1, dtype=np.int64)
            lookup[self._ids[: self._n]] = np.arange(self._n)
            lookup.setflags(write=False)
            self._lookup = (self._version, lookup)
        return self._lookup[1]

    def to_dict(self) -> dict[str, np.ndarray]:
        """Copies of all live columns, ``id`` first."""
        out = {"id": self._ids[: self._n].copy()}
        out.update({name: col[: self._n].copy() for name, col in self._data.items()})
        return out

    @property
    def nbytes(self) -> int:
        """Bytes allocated for the table's storage."""
        return int(self._ids.nbytes + sum(c.nbytes for c in self._data.values()))

    def __repr__(self) -> str:
        return f"AgentTable(rows={self._n}, columns={list(self._dtypes)})"
