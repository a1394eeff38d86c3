"""The page's controls, generated from the scenario's JSON schema and a base scenario.

Each control is a dotted override path (what ``hardtech run --set`` takes)
with the label, description, one-line hint, unit and range the schema gives,
the schema default, and the base scenario's value (a preset, a stored run's
scenario or an uploaded file). Ranges come from the schema's
``minimum``/``maximum`` (and exclusive) keywords; policy levers, whose ranges
are checked by a validator rather than declared, take theirs from the
"range a–b" in their description. The server's own bounds (scale, steps)
narrow the schema's.

The sliders span the *plausible* range of :data:`PLAUSIBLE` — where a value
is worth exploring — not the schema's (a talent subsidy may be 0–100 thousand
USD, but the preset pays 1–4); the typed number may still go to the schema's
bounds, and the page says when a value leaves the plausible range.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from hardtech.scenario import Scenario

GENERAL = ("seed", "scale", "time.end_year")
MECHANISMS = ("innovation.spillovers", "capital.recycling", "decoupling.enabled", "cooperation.enabled",
              "market.expansion_enabled")
KEY_PARAMETERS = ("entrepreneurship.found_rate", "entrepreneurship.local_cost_share", "labour.cost_weight",
                  "market.home_bias", "capital.angel_rate", "decoupling.capability_loss")
REGION_KEYS = ("living_cost", "policy.talent_subsidy", "policy.startup_support", "policy.basic_research",
               "policy.procurement", "policy.cluster_programme")



@dataclass(frozen=True)
class Plausible:
    """A slider range: ``[lo, hi]`` widened to ``[down × v_min, up × v_max]`` of the reference preset's values.

    ``lo``/``hi`` None: only the relative part applies. The result is clipped
    to the schema's bounds.
    """

    lo: float | None
    hi: float | None
    down: float = 1.0
    up: float = 1.0
    source: str = ""


# Plausible slider ranges — the one place they are defined. Sources: the analysis ranges of the
# shipped experiment specs (examples/levers-lhs.toml, examples/levers-sobol.toml, which vary
# Hangzhou's levers over these ranges), widened where a preset region's own value times the factor
# reaches further; elsewhere a few times the preset's value either way. When the scenario schema
# gains analysis ranges (the robustness work), read them from there instead.
_LHS = "examples/levers-lhs.toml range, or up to {up}× the preset's value"
PLAUSIBLE: dict[str, Plausible] = {
    "regions.*.policy.talent_subsidy": Plausible(0.0, 30.0, up=3.0, source=_LHS.format(up=3)),
    "regions.*.policy.startup_support": Plausible(0.0, 0.9,
                                                  source="the whole range (schema and examples/levers-lhs.toml)"),
    "regions.*.policy.basic_research": Plausible(0.0, 2000.0, up=3.0, source=_LHS.format(up=3)),
    "regions.*.policy.procurement": Plausible(0.0, 200.0, up=3.0, source=_LHS.format(up=3)),
    "regions.*.policy.cluster_programme": Plausible(0.0, 3.0, up=3.0, source=_LHS.format(up=3)),
    "regions.*.living_cost": Plausible(None, None, down=0.5, up=1.5,
                                       source="0.5–1.5× the region's preset value (examples/levers-lhs.toml: 0.6–1.4 for Hangzhou)"),
    "entrepreneurship.found_rate": Plausible(None, None, down=0.25, up=4.0, source="¼–4× the preset's value"),
    "entrepreneurship.cost_elasticity": Plausible(0.0, None, up=3.0, source="0–3× the preset's value"),
    "labour.cost_weight": Plausible(0.0, None, up=3.0, source="0–3× the preset's value"),
    "market.home_bias": Plausible(0.0, 1.0, source="the whole range (a share)"),
    "capital.angel_rate": Plausible(0.0, None, up=4.0, source="0–4× the preset's value"),
    "decoupling.capability_loss": Plausible(0.0, None, up=3.0, source="0–3× the preset's value"),
}
HINT_CHARS = 150

_RANGE = re.compile(r"(-?\d+(?:\.\d+)?)\s*[–-]\s*(-?\d+(?:\.\d+)?)")
_UNITS = (
    (re.compile(r"(?:thousand|million) USD(?: per [a-z]+)?"), None),
    (re.compile(r"multiple of the base rate"), "× base rate"),
    (re.compile(r"Cost-of-living index"), "index, Hangzhou 2012 = 1"),
    (re.compile(r"^Share\b|\bas a share\b"), "share"),
    (re.compile(r"^Chance per quarter"), "per quarter"),
    (re.compile(r"chance per person per quarter"), "per person per quarter"),
    (re.compile(r"^(Last|First) simulated year"), "year"),
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


def hint(description: str) -> str:
    """The first sentence of a description, at most :data:`HINT_CHARS` characters."""
    text = re.split(r"(?<=[.;])\s", description.strip(), maxsplit=1)[0].rstrip(".;")
    return text if len(text) <= HINT_CHARS else text[: HINT_CHARS - 1].rstrip() + "…"


def _plausible(template: str, values: list[float], lo: float | None, hi: float | None) -> tuple[float | None, float | None, str]:
    rule = PLAUSIBLE.get(template)
    if rule is None:
        return lo, hi, ""
    vmin, vmax = (min(values), max(values)) if values else (0.0, 0.0)
    p_lo = [x for x in (rule.lo, rule.down * vmin if rule.lo is None or vmin > 0 else None) if x is not None]
    p_hi = [x for x in (rule.hi, rule.up * vmax if vmax > 0 else None) if x is not None]
    a = min(p_lo) if p_lo else lo
    b = max(p_hi) if p_hi else hi
    if a is not None and lo is not None:
        a = max(a, float(lo))
    if b is not None and hi is not None:
        b = min(b, float(hi))
    if a is not None and b is not None and b <= a:
        return lo, hi, ""
    return (None if a is None else _round(a)), (None if b is None else _round(b)), rule.source


def _round(x: float) -> float:
    return float(f"{x:.3g}")


def controls(base: Scenario, *, preset: str, reference: Scenario | None, max_scale: float, max_steps: int,
             base_ref: str | None = None, base_name: str = "") -> dict[str, Any]:
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
    for key, group, template in keys:
        node = schema_node(key, root)
        kind = _kind(node)
        description = str(node.get("description", ""))
        value, schedule = _lever(_value_at(data, key))
        ref_value, ref_schedule = _lever(_value_at(ref_data, key))
        control: dict[str, Any] = {
            "key": key, "group": group, "label": _label(node, key, group), "type": kind, "description": description,
            "hint": hint(description), "unit": _unit(description), "default": node.get("default"), "value": value,
            "schedule": schedule, "preset_value": ref_value if reference is not None else None,
            "minimum": None, "maximum": None, "exclusive_minimum": False, "exclusive_maximum": False,
            "slider_max": None, "plausible_min": None, "plausible_max": None, "plausible_source": "",
            "step": 1.0 if kind == "integer" else None,
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
            control["minimum"], control["maximum"] = lo, hi
            if key == "scale":
                p_lo, p_hi, source = max(float(lo), 0.001), float(hi), "0.001 to this server's largest scale"
            elif key in ("time.end_year", "seed"):
                p_lo, p_hi, source = lo, hi, ""
            else:
                values = [float(v) for v in [ref_value, value] + [x[1] for x in (ref_schedule or []) + (schedule or [])]
                          if isinstance(v, (int, float)) and not isinstance(v, bool)]
                p_lo, p_hi, source = _plausible(template, values, lo, hi)
                if not source and hi is not None:  # no rule: the schema's range, a large one cut to 20× the value
                    biggest = max([abs(v) for v in values] or [0.0])
                    p_hi = _nice_ceil(10 * biggest) if biggest > 0 and float(hi) > 20 * biggest else min(float(hi), 1000.0)
                    p_lo = lo
            if key != "seed":
                control["plausible_min"], control["plausible_max"] = p_lo, p_hi
                control["plausible_source"] = source
                control["slider_max"] = p_hi
        out.append(control)
    return {
        "preset": preset, "base": base_ref, "base_name": base_name or sc.name, "description": sc.description,
        "regions": list(sc.regions), "fields": list(sc.fields), "field_labels": {f: v.label for f, v in sc.fields.items()},
        "start_year": sc.time.start_year, "controls": out,
    }


def _lever(value: Any) -> tuple[Any, list[list[float]] | None]:
    """A scheduled lever shows its last value (and the schedule); anything else as it is."""
    if isinstance(value, list):
        schedule = [[float(y), float(v)] for y, v in value]
        return (schedule[-1][1] if schedule else 0.0), schedule
    return value, None
