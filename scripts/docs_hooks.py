"""MkDocs hooks for the documentation site (mkdocs.yml ``hooks:``).

- Every object an API page documents with ``::: module`` must have a
  docstring, and so must each of its public functions, classes, methods and
  properties: a missing one is a warning, which ``mkdocs build --strict``
  (``make docs``, ``make test``) turns into a failure.
- ``reference/scenario-fields.md`` is generated from the scenario schema
  (:func:`hardtech.scenario.schema.parameters`): every field with its unit,
  allowed and plausible range, provenance and description, so the page
  cannot drift from the code.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import re
from typing import Any

from mkdocs.structure.files import File, Files

log = logging.getLogger("mkdocs.plugins.hardtech")

DIRECTIVE = re.compile(r"^:::\s+([\w.]+)\s*\n((?:[ \t]+\S.*\n?)*)", re.M)  # the path, then its indented options
FIELDS_PAGE = "reference/scenario-fields.md"


# -- missing docstrings ---------------------------------------------------------------------------


def _own_doc(obj: Any) -> bool:
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else getattr(obj, "__doc__", None)
    return bool(doc and doc.strip())


def _public_members(module: Any) -> list[tuple[str, Any]]:
    names = getattr(module, "__all__", None)
    if names is None:
        names = [
            n
            for n, v in vars(module).items()
            if not n.startswith("_")
            and getattr(v, "__module__", None) == module.__name__
            and (inspect.isclass(v) or inspect.isfunction(v))
        ]
    return [
        (n, getattr(module, n)) for n in names if inspect.isclass(getattr(module, n)) or callable(getattr(module, n))
    ]


def _class_gaps(cls: type, where: str) -> list[str]:
    gaps = []
    for name, value in vars(cls).items():
        if name.startswith("_"):
            continue
        if isinstance(value, property):
            if not _own_doc(value.fget):
                gaps.append(f"{where}.{name} (property)")
        elif isinstance(value, (staticmethod, classmethod)):
            if not _own_doc(value.__func__):
                gaps.append(f"{where}.{name}")
        elif inspect.isfunction(value) and not _own_doc(value):
            gaps.append(f"{where}.{name}")
    return gaps


def missing_docstrings(path: str, members: list[str] | None = None) -> list[str]:
    """Public objects under ``path`` (a module, or a module's class/function) without a docstring.

    ``members``: only these members of a module (the directive's ``members`` option).
    """
    parts = path.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for attr in parts[cut:]:
            obj = getattr(obj, attr)
        break
    else:
        return [f"{path} (cannot be imported)"]
    gaps = [] if _own_doc(obj) else [path]
    if inspect.ismodule(obj):
        listed = _public_members(obj) if members is None else [(n, getattr(obj, n)) for n in members]
        for name, member in listed:
            if not _own_doc(member):
                gaps.append(f"{path}.{name}")
            if inspect.isclass(member) and getattr(member, "__module__", "").startswith("hardtech"):
                gaps.extend(_class_gaps(member, f"{path}.{name}"))
    elif inspect.isclass(obj):
        gaps.extend(_class_gaps(obj, path))
    return gaps


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """Warn about every documented API object without a docstring."""
    import yaml

    for path, block in DIRECTIVE.findall(markdown):
        options = (yaml.safe_load(block) or {}).get("options", {}) if block.strip() else {}
        for gap in missing_docstrings(path, options.get("members")):
            log.warning("%s: no docstring for %s", page.file.src_uri, gap)
    return markdown


# -- the scenario fields page -----------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "—"
    if isinstance(value, list):
        if len(value) == 2 and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return f"{value[0]:g} – {value[1]:g}"
        return ", ".join(str(v).lower() if isinstance(v, bool) else str(v) for v in value)
    return str(value).replace("|", "\\|")


def scenario_fields_markdown() -> str:
    """The generated page: one table row per scenario field, a section per block."""
    from hardtech.scenario.schema import Scenario, _blocks, parameters

    blocks = {name for name, info in Scenario.model_fields.items() if _blocks(info.annotation) is not None}
    sections: dict[str, list[str]] = {}
    intro: dict[str, str] = {}
    for p in parameters():
        top = p.path.split(".")[0]
        section = top if top in blocks else "top level"
        if p.path == top and top in blocks:
            intro[section] = " ".join(p.description.split())
            continue
        if p.kind == "structure" and not p.path.endswith(("blocs", "channels")):
            continue  # a sub-block (e.g. regions.*.policy): its fields follow
        default = "—" if p.default is None else f"`{p.default!r}`"
        sections.setdefault(section, []).append(
            f"| `{p.path}` | {_cell(p.unit)} | {_cell(p.allowed)} | {_cell(p.plausible)} | {default} | "
            f"{_cell(p.provenance)} | {_cell(' '.join(p.description.split()))} |"
        )
    lines = [
        "# Scenario fields",
        "",
        "Every field of a scenario, generated from the schema (`hardtech.scenario.schema.parameters()`) when the",
        "site is built. *allowed* is what the schema accepts; *plausible* is the range worth exploring in an",
        "analysis; *provenance* says where the default comes from (`[INPUT: …]` fields are set by the preset, which",
        "tags each value there: `hardtech show` quotes those tags). `*` stands for every region, field or event.",
    ]
    for section, rows in sections.items():
        title = "Top level" if section == "top level" else f"`{section}`"
        lines += ["", f"## {title}", ""]
        if intro.get(section):
            lines += [intro[section], ""]
        lines += [
            "| field | unit | allowed | plausible | default | provenance | description |",
            "|---|---|---|---|---|---|---|",
            *rows,
        ]
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any, **_: Any) -> Files:
    """Add the generated scenario fields page."""
    files.append(File.generated(config, FIELDS_PAGE, content=scenario_fields_markdown()))
    return files
