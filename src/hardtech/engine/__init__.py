"""Generic agent-based simulation engine: no domain words live here.

- :class:`AgentTable` — struct-of-arrays agents with stable ids.
- :class:`RandomStreams` — one named NumPy generator per mechanism.
- :class:`StepLoop`, :class:`Phase` — a step made of named, timed phases.
- :class:`Recorder` — per-step aggregates collected into Arrow tables.
- :mod:`hardtech.engine.ops` — grouped sums and weighted draws used by models.
"""

from .random import RandomStreams
from .recorder import Recorder
from .schedule import Phase, StepLoop
from .table import AgentTable

__all__ = ["AgentTable", "Phase", "Recorder", "RandomStreams", "StepLoop"]
