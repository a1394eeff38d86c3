"""hardtech: an agent-based simulator of regional hardtech innovation ecosystems.

Quick use::

    import hardtech
    result = hardtech.run("hangzhou", seed=7)
    result.metrics      # pandas DataFrame, one row per quarter × region × field
"""

__version__ = "0.1.0"

# Imported on first use (PEP 562), so `import hardtech.cli` or `hardtech --help` does not
# pay for NumPy, pyarrow, pandas and pydantic before a command needs them.
_LAZY = {
    "HardtechModel": "hardtech.model",
    "RunResult": "hardtech.runner", "run": "hardtech.runner", "summarise": "hardtech.runner",
    "Scenario": "hardtech.scenario", "ScenarioError": "hardtech.scenario", "load": "hardtech.scenario",
    "presets": "hardtech.scenario", "to_toml": "hardtech.scenario",
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


__all__ = ["HardtechModel", "RunResult", "Scenario", "ScenarioError", "load", "presets", "run", "summarise", "to_toml"]
