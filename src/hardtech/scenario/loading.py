"""Loading scenarios: presets, TOML files, ``--set`` overrides, clear errors.

Every failure is a :class:`ScenarioError` whose message is one line naming the
field (as a dotted path), the value and what is allowed.
"""

from __future__ import annotations

import copy
import difflib
from importlib import resources
from pathlib import Path
from typing import Any

import tomli_w
import tomllib
from pydantic import BaseModel, ValidationError

from hardtech.scenario.schema import Scenario


class ScenarioError(ValueError):
    """A scenario that cannot be used, with a one-line reason naming the field."""


def presets() -> list[str]:
    """Names of the scenarios shipped with the package."""
    folder = resources.files("hardtech.scenario") / "presets"
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".toml"))


def preset_text(name: str) -> str:
    """The TOML text of a shipped preset."""
    if name not in presets():
        raise ScenarioError(
            f"scenario: unknown preset {name!r}; allowed: {', '.join(presets())} or a path to a .toml file"
        )
    return (resources.files("hardtech.scenario") / "presets" / f"{name}.toml").read_text(encoding="utf-8")


def read_raw(source: str | Path) -> dict[str, Any]:
    """The raw (unvalidated) mapping of a preset name or TOML path."""
    text_source = str(source)
    path = Path(text_source)
    if text_source.endswith(".toml") or path.exists():
        if not path.is_file():
            raise ScenarioError(f"scenario: file {text_source!r} not found")
        text, origin = path.read_text(encoding="utf-8"), text_source
    else:
        text, origin = preset_text(text_source), text_source
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{origin}: not valid TOML ({exc})") from None


def parse_value(text: str) -> Any:
    """A ``--set`` value: TOML syntax (numbers, true/false, [..], "..."), else a bare string."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _model_at(path: list[str]) -> type[BaseModel] | None:
    """The pydantic model class that holds the field at ``path`` (None if not a model)."""
    model: Any = Scenario
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        if part in model.model_fields:
            annotation = model.model_fields[part].annotation
            model = _unwrap(annotation)
        else:
            return None
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _unwrap(annotation: Any) -> Any:
    """For dict[str, M] return M (so paths like regions.X.field resolve)."""
    args: tuple[Any, ...] = getattr(annotation, "__args__", ())
    if getattr(annotation, "__origin__", None) is dict and len(args) == 2:
        return _DictOf(args[1])
    return annotation


class _DictOf:
    def __init__(self, inner: Any) -> None:
        self.inner = inner


def apply_override(raw: dict[str, Any], key: str, value: Any) -> None:
    """Set ``raw[a][b][c] = value`` for key 'a.b.c', refusing keys that do not exist.

    List items are addressed by index (``events.0.intensity``).
    """
    parts = key.split(".")
    if not all(parts):
        raise ScenarioError(f"--set {key}: empty part in the key")
    node: Any = raw
    schema: Any = Scenario
    for depth, part in enumerate(parts):
        here = ".".join(parts[: depth + 1])
        last = depth == len(parts) - 1
        if isinstance(schema, _DictOf):
            if part not in node:
                raise ScenarioError(f"{here}: unknown key {part!r}; allowed: {', '.join(node) or '(none)'}")
            schema = schema.inner
        elif isinstance(schema, type) and issubclass(schema, BaseModel):
            if part not in schema.model_fields:
                allowed = list(schema.model_fields)
                raise ScenarioError(f"{here}: unknown key{_suggest(part, allowed)}; allowed: {', '.join(allowed)}")
            schema = _unwrap(schema.model_fields[part].annotation)
            if not last and part not in node:
                node[part] = {}
        elif isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError(f"{here}: no item {part!r}; allowed: 0..{len(node) - 1}")
            part = int(part)  # type: ignore[assignment]
            args = getattr(schema, "__args__", ())
            schema = args[0] if args else None
        else:
            raise ScenarioError(f"{here}: {'.'.join(parts[:depth])} has no sub-keys")
        if last:
            node[part] = value
        else:
            node = node[part]


def _describe(error: dict[str, Any]) -> str:
    """One line for the first pydantic error."""
    loc = [str(p) for p in error["loc"]]
    path = ".".join(loc) or "scenario"
    kind = error["type"]
    if kind == "extra_forbidden":
        model = _model_at(_schema_path(loc[:-1]))
        allowed = list(model.model_fields) if model else []
        return (
            f"{path}: unknown key{_suggest(loc[-1], allowed)}; allowed: {', '.join(allowed) or 'see `hardtech show`'}"
        )
    if kind == "missing":
        return f"{path}: required but missing"
    msg = error["msg"]
    if msg.startswith("Value error, "):
        return msg[len("Value error, ") :]
    value = error.get("input")
    return f"{path}: {msg.lower()} (got {value!r})"


def _suggest(word: str, allowed: list[str]) -> str:
    close = difflib.get_close_matches(word, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _schema_path(loc: list[str]) -> list[str]:
    """Drop dict keys and list indexes from a location, leaving field names."""
    out: list[str] = []
    model: Any = Scenario
    i = 0
    while i < len(loc):
        part = loc[i]
        if isinstance(model, _DictOf):
            model = model.inner
            i += 1
            continue
        if isinstance(model, type) and issubclass(model, BaseModel) and part in model.model_fields:
            out.append(part)
            model = _unwrap(model.model_fields[part].annotation)
            args = getattr(model, "__args__", ())
            if getattr(model, "__origin__", None) is list and args:
                model = args[0]
                i += 1  # skip the index
        i += 1
    return out


def validate(raw: dict[str, Any]) -> Scenario:
    """Validate a raw mapping into a :class:`Scenario` or raise :class:`ScenarioError`."""
    try:
        return Scenario.model_validate(raw)
    except ValidationError as exc:
        # a misspelt key also makes the right one "missing": report the misspelling
        # pydantic's ErrorDetails are TypedDicts: read as plain dicts here
        errors: list[Any] = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        raise ScenarioError(_describe(errors[0])) from None


def load(source: str | Path | Scenario = "hangzhou", overrides: dict[str, Any] | list[str] | None = None) -> Scenario:
    """Load a preset name or TOML path, apply overrides, validate.

    ``overrides`` is a mapping ``{"regions.hangzhou.living_cost": 0.8}`` or a
    list of ``"KEY=VALUE"`` strings as given to ``--set``.
    """
    if isinstance(source, Scenario):
        raw = source.model_dump(mode="python")
    else:
        raw = read_raw(source)
    raw = copy.deepcopy(raw)
    for key, value in _pairs(overrides):
        apply_override(raw, key, value)
    return validate(raw)


def _pairs(overrides: dict[str, Any] | list[str] | None) -> list[tuple[str, Any]]:
    if not overrides:
        return []
    if isinstance(overrides, dict):
        return list(overrides.items())
    pairs = []
    for item in overrides:
        if "=" not in item:
            raise ScenarioError(f"--set {item!r}: expected KEY=VALUE, e.g. regions.hangzhou.living_cost=0.8")
        key, _, value = item.partition("=")
        pairs.append((key.strip(), parse_value(value.strip())))
    return pairs


def to_toml(scenario: Scenario) -> str:
    """The fully resolved scenario as TOML (round-trips through :func:`load`)."""
    return tomli_w.dumps(scenario.model_dump(mode="json", exclude_none=True))
