"""hardtech: an agent-based simulator of regional hardtech innovation ecosystems.

Quick use::

    import hardtech
    result = hardtech.run("hangzhou", seed=7)
    result.metrics      # pandas DataFrame, one row per quarter × region × field
"""

__version__ = "0.1.0"

# Before anything imports NumPy: keep it off its AVX-512 kernels (see hardtech/_simd.py).
from hardtech import _simd  # noqa: E402

_simd.configure()

from hardtech.model import HardtechModel  # noqa: E402
from hardtech.provenance import model_version, warn_if_not_portable  # noqa: E402
from hardtech.runner import RunResult, run, summarise  # noqa: E402
from hardtech.scenario import Scenario, ScenarioError, load, presets, to_toml  # noqa: E402

warn_if_not_portable()

__all__ = ["HardtechModel", "RunResult", "Scenario", "ScenarioError", "load", "model_version", "presets", "run",
           "summarise", "to_toml"]
