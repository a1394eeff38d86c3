"""The page's controls, generated from the scenario's JSON schema and a base scenario.

Each control is a dotted override path (what ``hardtech run --set`` takes)
with the label, description, one-line hint, unit and ranges the schema
gives, the schema default, and the base scenario's value (a preset, a stored
run's scenario or an uploaded file). Every scenario field declares its
``unit``, ``allowed`` and ``plausible`` range (:func:`hardtech.scenario.schema.Param`):
the typed number may go anywhere allowed, the slider spans the *plausible*
range — the range worth exploring, which ``hardtech robustness`` samples (a
talent subsidy is allowed 0–100 thousand USD, plausible 0–20) — widened to
show the base's own value if it lies outside, and the page says when a
value leaves it. A field without a plausible range gets 0–3× its value
(:data:`FALLBACK_UP`). The server's own bounds (scale, steps) narrow both.
"""

from __future__ import annotations

import re
from typing import Any

from hardtech.scenario import Scenario

GENERAL = ("seed", "scale", "time.end_year")
MECHANISMS = (
    "innovation.spillovers",
    "capital.recycling",
    "decoupling.enabled",
    "cooperation.enabled",
    "market.expansion_enabled",
)
KEY_PARAMETERS = (
    "entrepreneurship.found_rate",
    "entrepreneurship.local_cost_share",
    "labour.cost_weight",
    "market.home_bias",
    "capital.angel_rate",
    "decoupling.capability_loss",
)
REGION_KEYS = (
    "living_cost",
    "policy.talent_subsidy",
    "policy.startup_support",
    "policy.basic_research",
    "policy.procurement",
    "policy.cluster_programme",
)
HINT_CHARS = 150
FALLBACK_UP = 3.0  # a field without a declared plausible range: a slider from 0 to this many times its value
SCHEMA_SOURCE = "the scenario schema's plausible range (what `hardtech robustness` samples)"
_HIDDEN_UNITS = ("switch", "integer")  # units not worth printing next to a control
_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*[–-]\s*(-?\d+(?:\.\d+)?)")


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


def _unit(node: dict[str, Any]) -> str:
    unit = str(node.get("unit") or "")
    return "" if unit in _HIDDEN_UNITS else unit


def _pair(value: Any) -> tuple[float, float] | None:
    """A numeric [lo, hi] from the schema's metadata (None for anything else)."""
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return float(value[0]), float(value[1])
    return None


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


def hint(description: str) -> str:
    """The first sentence of a description, at most :data:`HINT_CHARS` characters."""
    text = re.split(r"(?<=[.;])\s", description.strip(), maxsplit=1)[0].rstrip(".;")
    return text if len(text) <= HINT_CHARS else text[: HINT_CHARS - 1].rstrip() + "…"


def _plausible(
    node: dict[str, Any], values: list[float], lo: float | None, hi: float | None
) -> tuple[float | None, float | None, str]:
    """The slider's range: the schema's plausible range (or 0–3× the value), widened to the values, within [lo, hi]."""
    declared = _pair(node.get("plausible"))
    if declared is not None and declared[1] > declared[0]:
        a, b = declared
        source = SCHEMA_SOURCE
    else:
        biggest = max([abs(v) for v in values] or [0.0])
        a, b = 0.0, FALLBACK_UP * biggest if biggest > 0 else (float(hi) if hi is not None else 1.0)
        source = f"0–{FALLBACK_UP:g}× the base's value (the schema declares no plausible range)"
    if values:  # the base's own value stays on the slider
        if min(values) < a or max(values) > b:
            source += "; widened to the base's value"
        a, b = min(a, min(values)), max(b, max(values))
    if lo is not None:
        a = max(a, float(lo))
    if hi is not None:
        b = min(b, float(hi))
    if b <= a:
        return lo, hi, ""
    return _round(a), _round(b), source


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def controls(
    base: Scenario,
    *,
    preset: str,
    reference: Scenario | None,
    max_scale: float,
    max_steps: int,
    base_ref: str | None = None,
    base_name: str = "",
) -> dict[str, Any]:
    """The controls of ``base`` (values), with plausible ranges from ``reference`` (its preset) or itself."""
    sc = base
    data = sc.model_dump(mode="json")
    ref_data = (reference or base).model_dump(mode="json")
    root = _schema()
    keys: list[tuple[str, str, str]] = [(k, "General", k) for k in GENERAL]
    keys += [(k, "Mechanisms", k) for k in MECHANISMS]
    keys += [(k, "Key parameters", k) for k in KEY_PARAMETERS]
    for region in sc.regions:
        keys += [(f"regions.{region}.{k}", f"Region: {region}", f"regions.*.{k}") for k in REGION_KEYS]
    out = []
    for key, group, _template in keys:
        node = schema_node(key, root)
        kind = _kind(node)
        description = str(node.get("description", ""))
        value, schedule = _lever(_value_at(data, key))
        ref_value, _ = _lever(_value_at(ref_data, key))
        control: dict[str, Any] = {
            "key": key,
            "group": group,
            "label": _label(node, key, group),
            "type": kind,
            "description": description,
            "hint": hint(description),
            "unit": _unit(node),
            "default": node.get("default"),
            "value": value,
            "schedule": schedule,
            "preset_value": ref_value if reference is not None else None,
            "minimum": None,
            "maximum": None,
            "exclusive_minimum": False,
            "exclusive_maximum": False,
            "slider_max": None,
            "plausible_min": None,
            "plausible_max": None,
            "plausible_source": "",
            "step": 1.0 if kind == "integer" else None,
        }
        if kind != "boolean":
            # numbers or None from the JSON schema, then as the cases below set them
            lo: Any = node.get("minimum", node.get("exclusiveMinimum"))
            hi: Any = node.get("maximum", node.get("exclusiveMaximum"))
            p_lo: float | None
            p_hi: float | None
            control["exclusive_minimum"] = "exclusiveMinimum" in node and "minimum" not in node
            control["exclusive_maximum"] = "exclusiveMaximum" in node and "maximum" not in node
            if lo is None and hi is None:  # a lever: its range is checked by a validator, declared as `allowed`
                allowed = _pair(node.get("allowed"))
                found = _RANGE.findall(description.replace("−", "-"))
                if allowed is not None:
                    lo, hi = allowed
                elif found:
                    lo, hi = (float(x) for x in found[-1])
            if key == "scale":
                hi = min(float(hi), max_scale)
            if key == "time.end_year":
                lo = sc.time.start_year
                hi = sc.time.start_year + max_steps // 4 - 1
            control["minimum"], control["maximum"] = lo, hi
            if key == "scale":
                p_lo, p_hi, source = max(float(lo), 0.001), float(hi), "0.001 to this server's largest scale"
            elif key in ("time.end_year", "seed"):  # any horizon the server allows; a seed has no range worth a slider
                p_lo, p_hi, source = lo, hi, ""
            else:
                values = [
                    float(v)
                    for v in [value] + [x[1] for x in schedule or []]
                    if isinstance(v, (int, float)) and not isinstance(v, bool)
                ]
                p_lo, p_hi, source = _plausible(node, values, lo, hi)
            if key != "seed":
                control["plausible_min"], control["plausible_max"] = p_lo, p_hi
                control["plausible_source"] = source
                control["slider_max"] = p_hi
        out.append(control)
    return {
        "preset": preset,
        "base": base_ref,
        "base_name": base_name or sc.name,
        "description": sc.description,
        "regions": list(sc.regions),
        "fields": list(sc.fields),
        "field_labels": {f: v.label for f, v in sc.fields.items()},
        "start_year": sc.time.start_year,
        "controls": out,
    }


def _lever(value: Any) -> tuple[Any, list[list[float]] | None]:
    """A scheduled lever shows its last value (and the schedule); anything else as it is."""
    if isinstance(value, list):
        schedule = [[float(y), float(v)] for y, v in value]
        return (schedule[-1][1] if schedule else 0.0), schedule
    return value, None
