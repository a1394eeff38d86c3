"""Helpers shared by the peer models: a jitted shuffle and Mesa's ``OrthogonalMooreGrid`` as arrays.

Cells are numbered like Mesa's coordinates flattened row-major: the cell at
coordinate ``(i, j)`` with ``0 <= i < width`` and ``0 <= j < height`` has id
``i * height + j``. A neighbour table lists, per cell, the ids of the cells in
its Moore neighbourhood of the given radius (centre excluded), padded with -1,
in the same set Mesa's ``cell.get_neighborhood(radius)`` returns on a grid that
does not wrap (``torus=False``, what both Mesa examples use): clipped at the border.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=False)
def shuffled(u):  # pragma: no cover - jitted
    """A uniform random permutation of ``range(len(u))`` (Fisher-Yates) driven by uniforms ``u``.

    ``u`` is drawn in bulk from a named stream (``gen.random(n)``); ``u[0]`` is unused.
    """
    n = u.size
    order = np.arange(n)
    for i in range(n - 1, 0, -1):
        j = int(u[i] * (i + 1))
        t = order[i]
        order[i] = order[j]
        order[j] = t
    return order


def moore_neighbours(width: int, height: int, radius: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """``(table, counts)``: neighbour cell ids per cell (-1 padded, valid ones first) and how many."""
    if radius < 1:
        raise ValueError("radius must be at least 1")
    i, j = np.divmod(np.arange(width * height, dtype=np.int64), height)
    offsets = [(di, dj) for di in range(-radius, radius + 1) for dj in range(-radius, radius + 1) if (di, dj) != (0, 0)]
    table = np.full((width * height, len(offsets)), -1, dtype=np.int64)
    for k, (di, dj) in enumerate(offsets):
        ni, nj = i + di, j + dj
        ok = (ni >= 0) & (ni < width) & (nj >= 0) & (nj < height)
        table[ok, k] = ni[ok] * height + nj[ok]
    order = np.argsort(table < 0, axis=1, kind="stable")
    table = np.take_along_axis(table, order, axis=1)
    return table, (table >= 0).sum(axis=1).astype(np.int64)


@nb.njit(cache=False, inline="always")
def _rotl(x, k):  # pragma: no cover - jitted
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@nb.njit(cache=False)
def fill_uniforms(state, out):  # pragma: no cover - jitted
    """Fill the 1-d float array ``out`` with uniforms in [0, 1) from xoshiro256** ``state`` (4 uint64, advanced).

    The same conversion as NumPy's ``Generator.random`` (the top 53 bits over 2^53).
    The state is seeded from a named stream (:func:`uniform_state`), so every
    number still comes from the run's ``RandomStreams``; generating them in the
    compiled loop costs about a third of a NumPy ``random(out=...)`` call.
    """
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    scale = 1.0 / 9007199254740992.0
    for i in range(out.size):
        result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
        t = s1 << np.uint64(17)
        s2 ^= s0
        s3 ^= s1
        s1 ^= s2
        s0 ^= s3
        s2 ^= t
        s3 = _rotl(s3, 45)
        out[i] = (result >> np.uint64(11)) * scale
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3


def uniform_state(gen: np.random.Generator) -> np.ndarray:
    """A xoshiro256** state for :func:`fill_uniforms`, drawn from the generator ``gen`` (never all zero)."""
    state = gen.bit_generator.random_raw(4).astype(np.uint64)
    if not state.any():  # pragma: no cover - probability 2^-256
        state[0] = 1
    return state
