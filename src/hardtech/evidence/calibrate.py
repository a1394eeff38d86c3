"""The stylized-fact calibration targets, and reading a parameter off a scenario.

:data:`TARGETS` are the empirical point values of the facts that calibration
fits (docs/FACTS.md); every other fact is validation only (see
:func:`hardtech.evidence.facts.untargeted`). The calibration itself is Bayesian
(ABC-SMC): :mod:`hardtech.evidence.abc`.
"""

from __future__ import annotations

from typing import Any

from hardtech.scenario import Scenario

# empirical point targets inside each fact's band (see docs/FACTS.md); F2's 0.073 is the
# mean log-likelihood ratio Laplace − Gauss that exactly Laplace-distributed growth rates give
TARGETS = {"F1": 1.06, "F2": 0.073, "F3": 0.20, "F4": 0.66, "F5": 0.50, "F6": 0.60}


def getattr_path(scenario: Scenario, path: str) -> float:
    """The value at a dotted scenario path (e.g. ``market.capability_weight``)."""
    obj: Any = scenario
    for part in path.split("."):
        obj = obj[part] if isinstance(obj, dict) else getattr(obj, part)
    return float(obj)
