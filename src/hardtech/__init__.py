"""hardtech: an agent-based simulator of regional hardtech innovation ecosystems.

Quick use::

    import hardtech
    result = hardtech.run("hangzhou", seed=7)
    result.metrics      # pandas DataFrame, one row per quarter × region × field
    result["dragons"]   # the same run's tables as Arrow
    runs = hardtech.ensemble("hangzhou", replications=5)   # a sequence of the same RunResult

:func:`run`, :meth:`HardtechModel.results` and :func:`ensemble` all give
:class:`RunResult` objects (see :mod:`hardtech.result`).
"""

__version__ = "0.1.0"

# Before anything imports NumPy: keep it off its AVX-512 kernels (see hardtech/_simd.py).
from hardtech import _simd  # noqa: E402

_simd.configure()

if _simd.STATE["numpy_preloaded"]:  # NumPy came first: say now whether results are portable
    from hardtech.provenance import warn_if_not_portable  # noqa: E402

    warn_if_not_portable()

# The rest is imported on first use (PEP 562), so `import hardtech.cli` or `hardtech --help`
# does not pay for NumPy, pyarrow, pandas and pydantic before a command needs them.
_LAZY = {
    "HardtechModel": "hardtech.model",
    "SimulationFinished": "hardtech.model.model",
    "Ensemble": "hardtech.result",
    "RunResult": "hardtech.result",
    "ensemble": "hardtech.runner",
    "run": "hardtech.runner",
    "summarise": "hardtech.runner",
    "Scenario": "hardtech.scenario",
    "ScenarioError": "hardtech.scenario",
    "load": "hardtech.scenario",
    "presets": "hardtech.scenario",
    "to_toml": "hardtech.scenario",
    "model_version": "hardtech.provenance",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hardtech' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "Ensemble",
    "HardtechModel",
    "RunResult",
    "Scenario",
    "ScenarioError",
    "SimulationFinished",
    "ensemble",
    "load",
    "model_version",
    "presets",
    "run",
    "summarise",
    "to_toml",
]
