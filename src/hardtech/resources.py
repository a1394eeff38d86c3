"""How much memory a run needs, estimated from its scenario before it starts, and how much there is.

A run's memory is dominated by its talent agents (struct-of-arrays columns,
allocated for 1.25 × the start population) and by its firms (represented one
to one whatever the scale, with their events and yearly panel rows). From
measurements of the Hangzhou preset (peak resident memory 0.28 GB at scale
0.002, 0.36 GB at 0.2, 0.65 GB at 1:1 with 4.9 million talent agents; about
100,000 firms founded over 2012–2035 from 4.4 million people):

    bytes ≈ 200 MB (Python, NumPy, pandas, DuckDB)
          + 170 MB with the compiled engine (Numba, LLVM and the kernels: a two-year run at
            scale 0.002 peaks at 183 MB with NumPy and 337 MB compiled)
          + 80 B × 1.25 × Σ regions' talent × scale          (talent agents)
          + 1.5 kB × (firms at the start + 0.001 × Σ talent × years)   (firms)

which over-estimates those runs by 25–50%: a margin, not a forecast.
:func:`check_memory` refuses a run whose estimate exceeds the memory
available (Linux ``MemAvailable``, or the cgroup's limit if lower) with a
one-line message, before anything is allocated.

``HARDTECH_MEMORY_CHECK=0`` turns the check off; ``HARDTECH_MEMORY_AVAILABLE``
(e.g. ``8GB``) overrides the detected memory (for tests and for machines
where the detection is wrong).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from hardtech.engine.table import HEADROOM as TALENT_CAPACITY  # the talent table is allocated for 1.25 × the start
from hardtech.scenario import Scenario

BASE_BYTES = 200e6
COMPILED_BYTES = 170e6  # Numba, LLVM and the compiled kernels (hardtech.engine.jit), when they run
TALENT_ROW_BYTES = 80.0
FIRM_BYTES = 1500.0
BIRTHS_PER_PERSON_YEAR = 1e-3
CHECK_ENV, AVAILABLE_ENV = "HARDTECH_MEMORY_CHECK", "HARDTECH_MEMORY_AVAILABLE"
_UNITS = {
    "": 1,
    "B": 1,
    "K": 1e3,
    "KB": 1e3,
    "M": 1e6,
    "MB": 1e6,
    "G": 1e9,
    "GB": 1e9,
    "T": 1e12,
    "TB": 1e12,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}


class ResourceError(ValueError):
    """A run that needs more than the machine has (one line, exit code 2)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Estimated peak memory of one run of a scenario."""

    bytes: float
    talent_agents: int
    firms: int

    def describe(self) -> str:
        """The estimate in words: its size and the agents and firms it counts."""
        return f"{gb(self.bytes)} ({self.talent_agents:,} talent agents, ~{self.firms:,} firms)"


def gb(n: float) -> str:
    """A byte count as text: GB from 0.1 GB up, else MB."""
    return f"{n / 1e9:.1f} GB" if n >= 1e8 else f"{n / 1e6:.0f} MB"


def estimate_run_memory(sc: Scenario) -> MemoryEstimate:
    """Peak memory of one run of ``sc`` (see the module docstring for the formula and its basis)."""
    people = sum(r.talent for r in sc.regions.values())
    agents = people * sc.scale
    years = sc.time.end_year - sc.time.start_year + 1
    start_firms = sum(r.incumbents + r.startups for r in sc.regions.values()) * len(sc.fields)
    firms = start_firms + BIRTHS_PER_PERSON_YEAR * people * years
    from hardtech.engine.jit import compiled

    base = BASE_BYTES + (COMPILED_BYTES if compiled() else 0.0)
    total = base + TALENT_ROW_BYTES * TALENT_CAPACITY * agents + FIRM_BYTES * firms
    return MemoryEstimate(total, int(round(agents)), int(round(firms)))


def parse_size(text: str) -> float:
    """'8GB', '512 MiB', '1e9' -> bytes."""
    m = re.fullmatch(r"\s*([0-9.]+(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)\s*", text or "")
    unit = m.group(2).upper() if m else ""
    if not m or unit not in _UNITS:
        raise ResourceError(f"{AVAILABLE_ENV}={text!r} is not a size like 8GB or 512MB")
    return float(m.group(1)) * _UNITS[unit]


def _cgroup_room() -> float | None:
    """Memory left under this process's cgroup limit (v2, then v1), None if there is none."""
    for limit_file, usage_file in (
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory/memory.usage_in_bytes"),
    ):
        try:
            limit = Path(limit_file).read_text().strip()
            usage = float(Path(usage_file).read_text().strip())
        except (OSError, ValueError):
            continue
        if limit == "max" or not limit.isdigit() or float(limit) >= 2**60:
            return None
        return max(float(limit) - usage, 0.0)
    return None


def available_memory() -> float | None:
    """Bytes of memory a new run may use; None where unknown.

    ``HARDTECH_MEMORY_AVAILABLE``, else the lower of Linux's ``MemAvailable`` and the room under
    the cgroup limit.
    """
    forced = os.environ.get(AVAILABLE_ENV, "").strip()
    if forced:
        return parse_size(forced)
    found = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found = float(line.split()[1]) * 1024
                break
    except (OSError, ValueError, IndexError):
        pass
    if found is None and hasattr(os, "sysconf"):
        try:
            found = float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            found = None
    room = _cgroup_room()
    if room is not None:
        found = room if found is None else min(found, room)
    return found


def check_memory(scenarios: list[Scenario] | Scenario, processes: int = 1, what: str = "the run") -> MemoryEstimate:
    """Refuse (:class:`ResourceError`) runs that would not fit in memory; returns the largest estimate.

    Refused when ``processes`` runs of the largest of ``scenarios`` at once would need more memory
    than is available.
    """
    scs = scenarios if isinstance(scenarios, list) else [scenarios]
    est = max((estimate_run_memory(s) for s in scs), key=lambda e: e.bytes)
    if os.environ.get(CHECK_ENV, "").strip() == "0":
        return est
    have = available_memory()
    need = est.bytes * max(processes, 1)
    if have is not None and need > have:
        times = f"{processes} processes × " if processes > 1 else ""
        raise ResourceError(
            f"{what} would need about {times}{est.describe()} of memory, estimated from the scenario, but "
            f"{gb(have)} is available; lower `scale` or the regions' `talent`"
            + (", or use fewer workers" if processes > 1 else "")
            + f" ({CHECK_ENV}=0 skips this check)"
        )
    return est
