"""The page's controls, generated from the scenario's JSON schema and a preset.

Each control is a dotted override path (what ``hardtech run --set`` takes)
with the label, description, unit and range the schema gives, the schema
default, and the preset's value. Ranges come from the schema's
``minimum``/``maximum`` (and exclusive) keywords; policy levers, whose ranges
are checked by a validator rather than declared, take theirs from the
"range a–b" in their description. The server's own bounds (scale, steps)
narrow the schema's.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hardtech.scenario import Scenario, load

GENERAL = ("seed", "scale", "time.end_year")
MECHANISMS = ("innovation.spillovers", "capital.recycling", "decoupling.enabled", "cooperation.enabled",
              "market.expansion_enabled")
KEY_PARAMETERS = ("entrepreneurship.found_rate", "entrepreneurship.local_cost_share", "labour.cost_weight",
                  "market.home_bias", "capital.angel_rate", "decoupling.capability_loss")
REGION_KEYS = ("living_cost", "policy.talent_subsidy", "policy.startup_support", "policy.basic_research",
               "policy.procurement", "policy.cluster_programme")

_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*[–-]\s*(-?\d+(?:\.\d+)?)")
_UNITS = (
    (re.compile(r"(?:thousand|million) USD(?: per [a-z]+)?"), None),
    (re.compile(r"multiple of the base rate"), "× base rate"),
    (re.compile(r"Cost-of-living index"), "index, Hangzhou 2012 = 1"),
    (re.compile(r"^Share\b|\bas a share\b"), "share"),
    (re.compile(r"^Chance per quarter"), "per quarter"),
    (re.compile(r"\bper year\b"), "per year"),
    (re.compile(r"^Elasticity\b"), "elasticity"),
    (re.compile(r"^Logit weight\b"), "logit weight"),
    (re.compile(r"log[- ]capability", re.I), "log capability"),
    (re.compile(r"Share of the real talent population"), "share of real talent"),
)


def _schema() -> dict[str, Any]:
    return Scenario.model_json_schema()


def _resolve(node: dict[str, Any], root: dict[str, Any]) -> dict[str, Any]:
    """Follow a $ref, keeping the referring node's own keys (its description wins)."""
    while "$ref" in node:
        target = root["$defs"][node["$ref"].rsplit("/", 1)[-1]]
        node = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def schema_node(path: str, root: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON-schema node of a dotted scenario path (dict keys such as region names pass through)."""
    root = root or _schema()
    node = root
    for part in path.split("."):
        node = _resolve(node, root)
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            raise KeyError(path)
    return _resolve(node, root)


def _kind(node: dict[str, Any]) -> str:
    types = [node.get("type")] + [alt.get("type") for alt in node.get("anyOf", [])]
    if "boolean" in types:
        return "boolean"
    if "integer" in types and "number" not in types:
        return "integer"
    return "number"


def _unit(description: str) -> str:
    for pattern, unit in _UNITS:
        m = pattern.search(description)
        if m:
            return unit if unit is not None else m.group(0)
    return ""


def _nice_ceil(x: float) -> float:
    """Round up to 1, 2 or 5 × a power of ten."""
    if x <= 0:
        return 1.0
    exp = math.floor(math.log10(x))
    for m in (1, 2, 5, 10):
        if m * 10**exp >= x * (1 - 1e-12):
            return float(m * 10**exp)
    return float(10 ** (exp + 1))


def _label(node: dict[str, Any], key: str, group: str) -> str:
    """The schema's title in sentence case; a bare "Enabled" takes its block's name; key parameters name their block."""
    parts = key.split(".")
    title = (node.get("title") or parts[-1]).replace("_", " ").strip()
    if title.lower() == "enabled" and len(parts) > 1:
        title = parts[-2].replace("_", " ")
    elif group == "Key parameters" and len(parts) > 1:
        title = f"{title} ({parts[-2]})"
    return title[:1].upper() + title[1:].lower()


def _value_at(data: dict[str, Any], path: str) -> Any:
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def controls(preset: str, *, max_scale: float, max_steps: int) -> dict[str, Any]:
    """The controls of ``preset`` (raises ScenarioError for an unknown preset)."""
    sc = load(preset)
    data = sc.model_dump(mode="json")
    root = _schema()
    keys: list[tuple[str, str, str]] = [(k, "General", k) for k in GENERAL]
    keys += [(k, "Mechanisms", k) for k in MECHANISMS]
    keys += [(k, "Key parameters", k) for k in KEY_PARAMETERS]
    for region in sc.regions:
        keys += [(f"regions.{region}.{k}", f"Region: {region}", f"regions.*.{k}") for k in REGION_KEYS]
    out = []
    slider_by_template: dict[str, float] = {}
    for key, group, template in keys:
        node = schema_node(key, root)
        kind = _kind(node)
        description = str(node.get("description", ""))
        value = _value_at(data, key)
        schedule = None
        if isinstance(value, list):  # a scheduled lever: show its last value
            schedule = [[float(y), float(v)] for y, v in value]
            value = schedule[-1][1] if schedule else 0.0
        control: dict[str, Any] = {
            "key": key, "group": group, "label": _label(node, key, group), "type": kind, "description": description,
            "unit": _unit(description), "default": node.get("default"), "value": value, "schedule": schedule,
            "minimum": None, "maximum": None, "exclusive_minimum": False, "exclusive_maximum": False,
            "slider_max": None, "step": 1.0 if kind == "integer" else None,
        }
        if kind != "boolean":
            lo = node.get("minimum", node.get("exclusiveMinimum"))
            hi = node.get("maximum", node.get("exclusiveMaximum"))
            control["exclusive_minimum"] = "exclusiveMinimum" in node and "minimum" not in node
            control["exclusive_maximum"] = "exclusiveMaximum" in node and "maximum" not in node
            if lo is None and hi is None:
                found = _RANGE.findall(description.replace("−", "-"))
                if found:
                    lo, hi = (float(x) for x in found[-1])
            if key == "scale":
                hi = min(float(hi), max_scale)
            if key == "time.end_year":
                lo = sc.time.start_year
                hi = sc.time.start_year + max_steps // 4 - 1
            control["minimum"] = lo
            control["maximum"] = hi
            if key != "seed" and hi is not None:
                biggest = max([abs(float(v)) for v in ([value] + [s[1] for s in schedule or []]) if v is not None] or [0])
                if kind == "integer" or key == "time.end_year":
                    slider = float(hi)
                elif biggest > 0 and float(hi) > 20 * biggest:
                    slider = _nice_ceil(10 * biggest)
                elif float(hi) > 1000:
                    slider = 1000.0
                else:
                    slider = float(hi)
                slider_by_template[template] = max(slider_by_template.get(template, 0.0), slider)
        out.append((template, control))
    for template, control in out:
        if template in slider_by_template:
            control["slider_max"] = slider_by_template[template]
    return {
        "preset": preset, "description": sc.description, "regions": list(sc.regions), "fields": list(sc.fields),
        "field_labels": {f: v.label for f, v in sc.fields.items()}, "start_year": sc.time.start_year,
        "controls": [c for _, c in out],
    }
