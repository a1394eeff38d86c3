"""Named, independent random streams derived from one seed.

Each stream is a NumPy ``Generator`` whose ``SeedSequence`` is the run's root
sequence extended by a key derived from the stream's *name* (not its position),
so adding or removing a stream never shifts the draws of another.
"""

from __future__ import annotations

import hashlib

import numpy as np


def _name_key(name: str) -> int:
    """A stable 32-bit key for a stream name (independent of PYTHONHASHSEED)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "little")


class RandomStreams:
    """One ``SeedSequence`` per (seed, replication), one ``Generator`` per name.

    Parameters
    ----------
    seed:
        The scenario's seed (a non-negative integer).
    replication:
        Replication number; replications of one seed get independent streams.
    """

    def __init__(self, seed: int, replication: int = 0) -> None:
        if seed < 0 or replication < 0:
            raise ValueError("seed and replication must be non-negative")
        self.seed = int(seed)
        self.replication = int(replication)
        self.root = np.random.SeedSequence(entropy=self.seed, spawn_key=(self.replication,))
        self._streams: dict[str, np.random.Generator] = {}

    def __getitem__(self, name: str) -> np.random.Generator:
        """The generator for stream ``name``, created on first use."""
        gen = self._streams.get(name)
        if gen is None:
            child = np.random.SeedSequence(
                entropy=self.root.entropy,
                spawn_key=(*self.root.spawn_key, _name_key(name)),
            )
            gen = np.random.Generator(np.random.PCG64(child))
            self._streams[name] = gen
        return gen

    def __contains__(self, name: str) -> bool:
        return name in self._streams

    def names(self) -> list[str]:
        """Streams created so far."""
        return sorted(self._streams)
