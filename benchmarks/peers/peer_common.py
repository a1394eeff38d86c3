"""Helpers shared by the peer models: a jitted shuffle and Mesa's ``OrthogonalMooreGrid`` as arrays.

Cells are numbered like Mesa's coordinates flattened row-major: the cell at
coordinate ``(i, j)`` with ``0 <= i < width`` and ``0 <= j < height`` has id
``i * height + j``. A neighbour table lists, per cell, the ids of the cells in
its Moore neighbourhood of the given radius (centre excluded), padded with -1,
in the same set Mesa's ``cell.get_neighborhood(radius)`` returns: clipped at
the border unless ``torus`` (Mesa's default is ``torus=False``).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=False)
def shuffled(gen, n):  # pragma: no cover - jitted
    """A uniform random permutation of ``range(n)`` (Fisher-Yates) drawn from ``gen``."""
    order = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(gen.random() * (i + 1))
        t = order[i]
        order[i] = order[j]
        order[j] = t
    return order


def moore_neighbours(width: int, height: int, radius: int = 1, torus: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(table, counts)``: neighbour cell ids per cell (-1 padded) and how many there are."""
    if radius < 1:
        raise ValueError("radius must be at least 1")
    i, j = np.divmod(np.arange(width * height, dtype=np.int64), height)
    offsets = [(di, dj) for di in range(-radius, radius + 1) for dj in range(-radius, radius + 1) if (di, dj) != (0, 0)]
    table = np.full((width * height, len(offsets)), -1, dtype=np.int64)
    for k, (di, dj) in enumerate(offsets):
        ni, nj = i + di, j + dj
        if torus:
            ni, nj = ni % width, nj % height
        ok = (ni >= 0) & (ni < width) & (nj >= 0) & (nj < height)
        table[ok, k] = ni[ok] * height + nj[ok]
    # Left-align the valid entries so a cell's neighbours are table[c, :counts[c]].
    order = np.argsort(table < 0, axis=1, kind="stable")
    table = np.take_along_axis(table, order, axis=1)
    counts = (table >= 0).sum(axis=1).astype(np.int64)
    if torus and min(width, height) <= 2 * radius:
        # On tiny tori an offset can wrap onto the same cell twice; Mesa keeps one copy.
        for c in range(width * height):
            uniq = [x for x in dict.fromkeys(table[c, : counts[c]].tolist()) if x != c]
            table[c] = -1
            table[c, : len(uniq)] = uniq
            counts[c] = len(uniq)
    return table, counts
