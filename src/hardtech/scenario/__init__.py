"""Scenarios: the pydantic schema, shipped presets, TOML loading and overrides."""

from hardtech.scenario.loading import ScenarioError, load, presets, to_toml, validate
from hardtech.scenario.schema import Scenario, lever_value

__all__ = ["Scenario", "ScenarioError", "lever_value", "load", "presets", "to_toml", "validate"]
