"""hardtech: an agent-based simulator of regional hardtech innovation ecosystems.

Quick use::

    import hardtech
    result = hardtech.run("hangzhou", seed=7)
    result.metrics      # pandas DataFrame, one row per quarter × region × field
"""

__version__ = "0.1.0"

from hardtech.model import HardtechModel  # noqa: E402
from hardtech.runner import RunResult, run, summarise  # noqa: E402
from hardtech.scenario import Scenario, ScenarioError, load, presets, to_toml  # noqa: E402

__all__ = ["HardtechModel", "RunResult", "Scenario", "ScenarioError", "load", "presets", "run", "summarise", "to_toml"]
