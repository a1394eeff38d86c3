"""The declared claims: read ``registry.toml`` and resolve it for a scenario.

The registry is data, fixed before anything runs (see the header of
``registry.toml`` for its syntax). :func:`declared_claims` resolves it for a
scenario and a focal region into :class:`Claim` objects whose arms are plain
scenario overrides; :func:`evaluate` computes a statistic or a side figure
from the arms' outcomes. Expressions are parsed with :mod:`ast` and evaluated
by a small interpreter that knows only numbers, names, attribute access,
arithmetic, comparisons, conditionals and ``min``, ``max``, ``abs``, ``clip``:
a registry entry cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np
import tomllib

from hardtech.scenario import Scenario

INJECT = "@inject"  # arm key: money injected from the same label's base arm ("path" or "once")


@dataclass(frozen=True)
class Manipulation:
    """What shows the manipulated input still acts under the control."""

    quantity: str  # an outcome name
    text: str
    between: tuple[str, str] | None = None  # arms whose difference (second − first) must not vanish
    null: float | None = None  # or: the quantity's value when the manipulation is inactive


@dataclass(frozen=True)
class Claim:
    """One declared claim, resolved for a scenario and a focal region."""

    id: str
    title: str
    short: str
    article: str
    statement: str
    channel: str
    metric: str
    statistic: str
    statistic_text: str
    margin: Mapping[str, Any]
    arms: Mapping[str, Mapping[str, Any]]
    inject: Mapping[str, str]  # arm -> "path" | "once"
    control_text: str
    control: Mapping[str, Any]
    manipulation: Manipulation | None
    ablation_rules: tuple[str, ...]
    ablation: Mapping[str, Any]
    ablation_note: str
    sweeps: tuple[tuple[str, Mapping[str, Any]], ...] = ()
    also: Mapping[str, str] = field(default_factory=dict)
    derived: str | None = None
    history: tuple[Mapping[str, str], ...] = ()
    replication_factor: int = 1
    kind: str = "arms"  # "arms" or "sobol" (H10)
    tables: tuple[str, ...] = ()  # extra tables the claim reports (e.g. "scene_years")

    @property
    def arm_names(self) -> list[str]:
        """The names of the claim's arms, in declaration order."""
        return list(self.arms)


@lru_cache(maxsize=1)
def registry() -> dict[str, dict[str, Any]]:
    """The registry as parsed TOML (one table per claim id, in declaration order)."""
    text = resources.files("hardtech.evidence").joinpath("registry.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


def claim_ids() -> list[str]:
    """Declared claim ids in numeric order (H1, H2, …, H11)."""
    return sorted(registry(), key=lambda c: int(c[1:]))


def blocked_bloc(scenario: Scenario) -> str:
    """The bloc the scenario's blockade events target most (the first bloc if there are none)."""
    hits: dict[str, float] = {}
    for ev in scenario.events:
        hits[ev.target] = hits.get(ev.target, 0.0) + max(ev.intensity, 0.0)
    return max(hits, key=hits.__getitem__) if hits else scenario.blocs[0]


def declared_claims(scenario: Scenario, region: str | None = None) -> list[Claim]:
    """Every declared claim, resolved for ``scenario`` with ``region`` (default: the first) as the focal region."""
    region = region or next(iter(scenario.regions))
    if region not in scenario.regions:
        raise ValueError(f"--region: unknown region {region!r}; allowed: {', '.join(scenario.regions)}")
    names = {"focal": region, "blocked": blocked_bloc(scenario)}
    return [_resolve(cid, registry()[cid], scenario, names) for cid in claim_ids()]


def _resolve(cid: str, entry: Mapping[str, Any], sc: Scenario, names: Mapping[str, str]) -> Claim:
    def text(key: str) -> str:
        return str(entry.get(key, "")).format(**names)

    def overrides(table: Mapping[str, Any]) -> dict[str, Any]:
        return expand_overrides(table, sc, names)

    arms, inject = {}, {}
    for arm, table in entry.get("arms", {}).items():
        table = dict(table)
        if INJECT in table:
            inject[arm] = str(table.pop(INJECT))
            if inject[arm] not in ("path", "once"):
                raise ValueError(f"registry {cid}.arms.{arm}: {INJECT} must be 'path' or 'once'")
        arms[arm] = overrides(table)
    control = entry.get("control", {})
    man = control.get("manipulation")
    manipulation = None
    if man:
        between = tuple(man["between"]) if "between" in man else None
        manipulation = Manipulation(man["quantity"].format(**names), man.get("text", ""), between, man.get("null"))
    ablation = entry.get("ablation", {})
    return Claim(
        id=cid,
        title=text("title"),
        short=text("short"),
        article=text("article"),
        statement=text("statement"),
        channel=text("channel"),
        metric=text("metric"),
        statistic=text("statistic"),
        statistic_text=text("statistic_text"),
        margin={k: (v.format(**names) if isinstance(v, str) else v) for k, v in entry.get("margin", {}).items()},
        arms=arms,
        inject=inject,
        control_text=str(control.get("text", "")).format(**names),
        control=overrides(control.get("overrides", {})),
        manipulation=manipulation,
        ablation_rules=tuple(ablation.get("rules", ())),
        ablation=overrides(ablation.get("overrides", {})),
        ablation_note=str(ablation.get("note", "")),
        sweeps=tuple((s["label"], overrides(s.get("overrides", {}))) for s in entry.get("sweep", [])),
        also={k: v.format(**names) for k, v in entry.get("also", {}).items()},
        derived=entry.get("derived"),
        history=tuple(entry.get("history", ())),
        replication_factor=int(entry.get("replication_factor", 1)),
        kind=str(entry.get("kind", "arms")),
        tables=tuple(entry.get("tables", ())),
    )


# -- overrides ----------------------------------------------------------------------------------
def expand_overrides(table: Mapping[str, Any], sc: Scenario, names: Mapping[str, str]) -> dict[str, Any]:
    """Registry overrides as plain ``{dotted.path: value}``: wildcards expanded, expressions evaluated."""
    out: dict[str, Any] = {}
    focal = sc.regions[names["focal"]]
    for key, value in table.items():
        key = key.format(**names)
        parts = key.split(".")
        if len(parts) > 1 and parts[1] == "*" and parts[0] in ("fields", "regions"):
            items = sc.fields if parts[0] == "fields" else sc.regions
            for name, item in items.items():
                scope = {
                    "field" if parts[0] == "fields" else "region": item,
                    "focal": focal,
                    "blocked": names["blocked"],
                }
                out[".".join([parts[0], name, *parts[2:]])] = _value(value, scope)
        else:
            out[key] = _value(value, {"focal": focal, "blocked": names["blocked"]})
    return out


def _value(value: Any, scope: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("="):
        result = evaluate(value[1:], lambda name: _lookup(scope, name), attribute=_attribute)
        if isinstance(result, float):
            return round(result, 6)
        return result
    return value


def _lookup(scope: Mapping[str, Any], name: str) -> Any:
    if name not in scope:
        raise ValueError(f"unknown name {name!r} in a registry expression; allowed: {', '.join(scope)}")
    return scope[name]


def _attribute(obj: Any, name: str) -> Any:
    if name.startswith("_") or not hasattr(obj, name):
        raise ValueError(f"unknown attribute {name!r} in a registry expression")
    value = getattr(obj, name)
    return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


# -- expressions ------------------------------------------------------------------------------------
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": lambda *a: _fold(np.minimum, a),
    "max": lambda *a: _fold(np.maximum, a),
    "abs": np.abs,
    "clip": lambda x, lo, hi: np.clip(x, lo, hi),
}


def _fold(op: Callable[[Any, Any], Any], args: tuple[Any, ...]) -> Any:
    out = args[0]
    for a in args[1:]:
        out = op(out, a)
    return float(out) if np.ndim(out) == 0 else out


@lru_cache(maxsize=512)
def _parse(expression: str) -> ast.Expression:
    try:
        return ast.parse(expression.strip(), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"registry expression {expression!r} is not valid: {exc.msg}") from None


def evaluate(
    expression: str,
    name: Callable[[str], Any],
    attribute: Callable[[Any, str], Any] | None = None,
    pair: Callable[[str, str], Any] | None = None,
) -> Any:
    """Evaluate ``expression`` with the given name and attribute look-ups.

    ``name(n)`` gives a bare name's value, ``attribute(v, a)`` ``v.a``, and ``pair(n, a)`` (if
    given) ``n.a`` for a bare name ``n`` (an arm and one of its outcomes).

    Works element-wise on NumPy arrays (``min``/``max`` of arrays are element-wise).
    """

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if pair is not None and isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            return pair(node.value.id, node.attr)
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, bool, str)):
            return node.value
        if isinstance(node, ast.Name):
            return name(node.id)
        if isinstance(node, ast.Attribute) and attribute is not None:
            return attribute(ev(node.value), node.attr)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            return _BINARY[type(node.op)](ev(node.left), ev(node.right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = ev(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and type(node.ops[0]) in _COMPARE:
            return _COMPARE[type(node.ops[0])](ev(node.left), ev(node.comparators[0]))
        if isinstance(node, ast.IfExp):
            return ev(node.body) if ev(node.test) else ev(node.orelse)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in _FUNCTIONS
            and not node.keywords
        ):
            return _FUNCTIONS[node.func.id](*[ev(a) for a in node.args])
        raise ValueError(f"registry expression: {ast.dump(node)[:60]} is not allowed")

    return ev(_parse(expression))


def references(expression: str, metric: str) -> list[tuple[str, str]]:
    """The (arm, outcome) pairs an arm expression reads: ``arm`` → (arm, metric), ``arm.x`` → (arm, x)."""
    found: list[tuple[str, str]] = []

    def walk(node: ast.AST) -> None:
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            found.append((node.value.id, node.attr))
            return
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            found.append((node.id, metric))
            return
        if isinstance(node, ast.Call):
            for a in node.args:
                walk(a)
            return
        for child in ast.iter_child_nodes(node):
            walk(child)

    walk(_parse(expression))
    return list(dict.fromkeys(found))


def arm_statistic(
    expression: str, metric: str
) -> tuple[list[tuple[str, str]], Callable[[Mapping[tuple[str, str], Any]], Any]]:
    """An arm expression as (the pairs it reads, a function of {pair: value} → value)."""
    pairs = references(expression, metric)

    def compute(values: Mapping[tuple[str, str], Any]) -> Any:
        return evaluate(expression, lambda arm: values[(arm, metric)], pair=lambda arm, outcome: values[(arm, outcome)])

    return pairs, compute
