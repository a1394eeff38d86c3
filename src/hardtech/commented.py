"""A resolved scenario as TOML a person can edit: every field with its unit, ranges and provenance.

:func:`commented_toml` is what ``hardtech show`` prints. Each field gets a
comment line with its description and, after the value, its unit, the range
the schema allows, the range worth exploring (``plausible``) and its
provenance tag, all read from the schema (:func:`hardtech.scenario.schema.Param`).
Where the scenario came from a preset or a file, the note that file gives a
value (its trailing or preceding comment, e.g. ``[SOURCE: HZ3]``) is quoted,
unless the value was changed since. Schedules stay on one line. The text
loads back to the same scenario (``load(path) == scenario``).

It lives outside :mod:`hardtech.scenario` on purpose: it only displays, and
the scenario package's source is part of the model version.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, get_args, get_origin

import annotated_types
import tomllib
from pydantic import BaseModel

import hardtech
from hardtech.scenario import Scenario
from hardtech.scenario.loading import preset_text
from hardtech.scenario.schema import meta

__all__ = ["commented_toml", "source_notes", "source_text"]

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")
_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=\s*(.*)$")

HEADER = """\
# Scenario {name!r}, fully resolved by `hardtech show` (hardtech {version}): every field, defaults filled in.
# Each field: a comment describing it, then `key = value  # unit | allowed | plausible | provenance`.
#   allowed:    what the schema accepts (anything else is refused with the field's name);
#   plausible:  the range worth exploring in an analysis (a sweep, a robustness study);
#   provenance: [SOURCE: <docs/FACTS.md id>], [CALIBRATED], [ASSUMPTION: why], [DEFINITION: …] or [INPUT: …];
#   "note:" quotes what the scenario's file says about that value.
# Edit values, then run it: `hardtech run FILE.toml`.
"""


def _key(name: str) -> str:
    return name if _BARE.match(name) else json.dumps(name, ensure_ascii=False)


def value_text(value: Any) -> str:
    """One TOML value on one line (arrays and tables inline)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(value_text(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {value_text(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML form for {type(value).__name__}")


def _number(x: Any) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def _allowed(model: type[BaseModel], name: str, extra: dict[str, Any]) -> str:
    """The allowed range: an interval from the field's bounds (``(0, 10]``), else the declared values."""
    lo = hi = None
    for item in model.model_fields[name].metadata:
        if isinstance(item, (annotated_types.Gt, annotated_types.Ge)):
            lo = ("(" if isinstance(item, annotated_types.Gt) else "[", getattr(item, "gt", getattr(item, "ge", None)))
        if isinstance(item, (annotated_types.Lt, annotated_types.Le)):
            hi = (")" if isinstance(item, annotated_types.Lt) else "]", getattr(item, "lt", getattr(item, "le", None)))
    if lo and hi:
        return f"{lo[0]}{_number(lo[1])}, {_number(hi[1])}{hi[0]}"
    if lo:
        return f"{'>' if lo[0] == '(' else '≥'} {_number(lo[1])}"
    if hi:
        return f"{'<' if hi[0] == ')' else '≤'} {_number(hi[1])}"
    allowed = extra.get("allowed")
    if isinstance(allowed, list) and len(allowed) == 2 and all(isinstance(v, bool) for v in allowed):
        return "true or false"
    if isinstance(allowed, list) and len(allowed) == 2 and all(isinstance(v, (int, float)) for v in allowed):
        return f"[{_number(allowed[0])}, {_number(allowed[1])}]"
    if isinstance(allowed, list):
        return "any of " + ", ".join(str(v) for v in allowed)
    return str(allowed) if allowed else "—"


def _plausible(extra: dict[str, Any]) -> str:
    p = extra.get("plausible")
    if isinstance(p, list) and len(p) == 2 and all(isinstance(v, bool) for v in p):
        return "true or false"
    if isinstance(p, list) and len(p) == 2 and all(isinstance(v, (int, float)) for v in p):
        return _number(p[0]) if p[0] == p[1] else f"[{_number(p[0])}, {_number(p[1])}]"
    if isinstance(p, list):
        return ", ".join(str(v) for v in p)
    return str(p) if p else "—"


def _field_comment(model: type[BaseModel], name: str, note: str | None) -> str:
    extra = meta(model, name)
    provenance = extra.get("provenance") or "—"
    if provenance.startswith("[INPUT"):  # an input is tagged where the file sets it: the note is its tag
        provenance = "[INPUT]"
    parts = [
        extra.get("unit") or "—",
        f"allowed {_allowed(model, name, extra)}",
        f"plausible {_plausible(extra)}",
        provenance,
    ]
    if note:
        parts.append(f"note: {note}")
    return " | ".join(parts)


def _description(text: str | None) -> list[str]:
    return [f"# {line}" for line in (text or "").strip().splitlines() if line.strip()]


def _inner(annotation: Any) -> tuple[str, type[BaseModel] | None]:
    """How a field is written: 'value', 'block' (M), 'blocks' (dict[str, M]), 'list' (list[M]) or 'rows'."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "block", annotation
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is dict and args:
        inner = args[-1]
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            return "blocks", inner
        if get_origin(inner) is dict:
            return "rows", None
    if origin is list and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
        return "list", args[0]
    return "value", None


def _emit(
    data: dict[str, Any],
    model: type[BaseModel],
    path: list[str],
    out: list[str],
    notes: dict[str, str],
    raw: dict[str, Any],
    describe: bool = True,
) -> None:
    """Write one block: its values (each with a comment), then its sub-blocks.

    ``describe``: write each field's description (only the first of several
    blocks of one kind — regions, fields, events — gets them).
    """
    later: list[tuple[str, str, type[BaseModel] | None, Any]] = []
    for name, info in model.model_fields.items():
        if name not in data:
            continue
        kind, inner = _inner(info.annotation)
        if kind != "value":
            later.append((name, kind, inner, data[name]))
            continue
        dotted = ".".join([*path, name])
        note = notes.get(dotted)
        before = _lookup(raw, [*path, name])
        if note is not None and before != data[name]:  # the file's note was about a value changed since
            note = f"changed; the file had {value_text(before)}: {note}"
        if describe:
            out.extend(_description(info.description))
        out.append(f"{_key(name)} = {value_text(data[name])}  # {_field_comment(model, name, note)}")
    for name, kind, inner, value in later:
        here = [*path, name]
        description = model.model_fields[name].description
        if kind == "block" and inner is not None:
            out.extend(["", f"[{'.'.join(map(_key, here))}]", *(_description(description) if describe else [])])
            _emit(value, inner, here, out, notes, raw, describe)
        elif kind == "blocks" and inner is not None:
            for k, (key, block) in enumerate(value.items()):
                first = describe and k == 0
                out.extend(
                    ["", f"[{'.'.join(map(_key, [*here, key]))}]", *(_description(inner.__doc__) if first else [])]
                )
                _emit(block, inner, [*here, key], out, notes, raw, first)
        elif kind == "list" and inner is not None:
            for k, block in enumerate(value):
                first = describe and k == 0
                out.extend(["", f"[[{'.'.join(map(_key, here))}]]", *(_description(description) if first else [])])
                _emit(block, inner, [*here, str(k)], out, notes, raw, first)
        else:  # a table of rows (distances, relatedness): one inline row per key
            out.extend(
                [
                    "",
                    f"[{'.'.join(map(_key, here))}]",
                    *_description(description),
                    f"# {_field_comment(model, name, None)}",
                ]
            )
            out.extend(f"{_key(k)} = {value_text(row)}" for k, row in value.items())


def _lookup(raw: Any, path: list[str]) -> Any:
    node = raw
    for part in path:
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return _MISSING
    return node


_MISSING = object()


def source_notes(text: str) -> dict[str, str]:
    """The comment a TOML file gives each ``key = value`` (trailing, else the comment lines just above it).

    Keys are dotted paths (``regions.hangzhou.living_cost``; array-of-tables
    items by index: ``events.0.note``). Only single-line values are read.
    """
    notes: dict[str, str] = {}
    table: list[str] = []
    counts: dict[str, int] = {}
    above: list[str] = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped:
            above = []
            continue
        if stripped.startswith("#"):
            body = stripped.lstrip("#").strip()
            if body and not set(body) <= set("-=~ "):
                above.append(body)
            continue
        header = _HEADER.match(line)
        if header:
            parts = [p.strip().strip('"') for p in header.group(2).split(".")]
            if header.group(1) == "[[":
                base = ".".join(parts)
                counts[base] = counts.get(base, -1) + 1
                parts = [*parts, str(counts[base])]
            table, above = parts, []
            continue
        key = _KEY.match(line)
        if key:
            trailing = _trailing_comment(key.group(2))
            note = trailing or " ".join(above)
            if note:
                notes[".".join([*table, key.group(1)])] = note
        above = []
    return notes


def _trailing_comment(rest: str) -> str:
    """The comment after a value on its line ('' if none), minding '#' inside strings."""
    quote = None
    for i, ch in enumerate(rest):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return rest[i + 1 :].strip()
    return ""


def source_text(source: str | Path) -> str:
    """The TOML text of a preset name or a file path (as :func:`hardtech.load` reads it)."""
    path = Path(str(source))
    if str(source).endswith(".toml") or path.exists():
        return path.read_text(encoding="utf-8")
    return preset_text(str(source))


def commented_toml(scenario: Scenario, source_text: str | None = None) -> str:
    """The fully resolved ``scenario`` as commented TOML (see the module docstring).

    ``source_text``: the TOML the scenario was loaded from (a preset's or a
    file's text), whose notes on values still unchanged are quoted.
    """
    data = scenario.model_dump(mode="json", exclude_none=True)
    notes = source_notes(source_text) if source_text else {}
    raw = tomllib.loads(source_text) if source_text else {}
    raw = Scenario.model_validate(raw).model_dump(mode="json", exclude_none=True) if raw else {}
    out = HEADER.format(name=scenario.name, version=hardtech.__version__).splitlines()
    out.append("")
    _emit(data, Scenario, [], out, notes, raw)
    return "\n".join(out) + "\n"
