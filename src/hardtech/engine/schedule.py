"""A step loop made of named phases, each timed.

A phase is a callable taking no arguments (bind state with a closure or
``functools.partial``); the loop calls the phases in order once per step and
keeps the wall time each phase used, for profiling.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Phase:
    """One named part of a step."""

    name: str
    run: Callable[[], None]


@dataclass
class StepLoop:
    """Calls its phases in order, once per :meth:`step`."""

    phases: list[Phase]
    steps_done: int = 0
    seconds: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        names = [p.name for p in self.phases]
        if len(set(names)) != len(names):
            raise ValueError(f"phase names must be unique: {names}")
        self.seconds = {p.name: 0.0 for p in self.phases}

    def step(self) -> None:
        """Run every phase once."""
        for phase in self.phases:
            t0 = time.perf_counter()
            phase.run()
            self.seconds[phase.name] += time.perf_counter() - t0
        self.steps_done += 1

    def run(self, steps: int, after_step: Callable[[int], None] | None = None) -> None:
        """Run ``steps`` steps, calling ``after_step(step_index)`` after each."""
        for _ in range(int(steps)):
            self.step()
            if after_step is not None:
                after_step(self.steps_done - 1)

    @classmethod
    def of(cls, phases: Iterable[tuple[str, Callable[[], None]]]) -> StepLoop:
        """Build a loop from (name, callable) pairs."""
        return cls([Phase(name, fn) for name, fn in phases])
