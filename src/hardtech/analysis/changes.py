"""What a scenario changes: its fields that differ from a reference (the preset, or the other arm).

    >>> from hardtech.analysis.changes import changed_fields, preset_of
    >>> sc = hardtech.scenario.load("hangzhou", {"regions.hangzhou.living_cost": 0.8})
    >>> changed_fields(sc, preset_of(sc))
    [{'path': 'regions.hangzhou.living_cost', 'reference': 1.0, 'value': 0.8}]

Paths are the dotted override paths ``hardtech run --set`` takes; a scheduled
lever is one value (its list of ``[year, value]`` pairs). Used by the HTML
report (the changed levers at the top), the dashboard's comparisons and its
"base scenario" note.
"""

from __future__ import annotations

from typing import Any

from hardtech.scenario import Scenario, ScenarioError, load, presets

__all__ = ["changed_fields", "describe_changes", "flatten", "preset_of"]

IGNORED = ("name", "description")


def flatten(scenario: Scenario | dict[str, Any]) -> dict[str, Any]:
    """Dotted path → value of every field (lists, e.g. schedules and events, stay whole)."""
    data = scenario.model_dump(mode="json") if isinstance(scenario, Scenario) else scenario
    out: dict[str, Any] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{prefix}{key}.")
        else:
            out[prefix[:-1]] = node

    walk(data, "")
    return out


def changed_fields(scenario: Scenario, reference: Scenario | None) -> list[dict[str, Any]]:
    """Fields of ``scenario`` that differ from ``reference`` (in ``scenario``'s field order); [] without one.

    A field only one of them has (e.g. a region the other lacks) has ``None`` on the missing side.
    """
    if reference is None:
        return []
    mine, theirs = flatten(scenario), flatten(reference)
    keys = list(mine) + [k for k in theirs if k not in mine]
    return [
        {"path": k, "reference": theirs.get(k), "value": mine.get(k)}
        for k in keys
        if k.split(".", 1)[0] not in IGNORED and mine.get(k) != theirs.get(k)
    ]


def preset_of(scenario: Scenario) -> Scenario | None:
    """The shipped preset a scenario is named after (its reference for "changed"), or None."""
    if scenario.name not in presets():
        return None
    try:
        return load(scenario.name)
    except ScenarioError:
        return None


def _short(value: Any) -> str:
    if isinstance(value, list):
        if value and all(isinstance(x, list) and len(x) == 2 for x in value):
            return "schedule " + ", ".join(
                f"{y:g}: {v:g}" if isinstance(v, (int, float)) else f"{y}: {v}" for y, v in value
            )
        return f"[{len(value)} items]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def describe_changes(changes: list[dict[str, Any]]) -> list[str]:
    """``"path: reference → value"`` lines for people."""
    return [f"{c['path']}: {_short(c['reference'])} → {_short(c['value'])}" for c in changes]
