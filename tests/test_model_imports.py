"""The model's import graph: no circle; the world imports no mechanism; no mechanism imports another.

Mechanisms read what several rules derive from the state (cost per head,
segment spending, related activity, …) from :mod:`hardtech.model.shared`,
which sits below them and imports none of them. Every ``import`` counts,
including those inside functions.
"""

from __future__ import annotations

import ast
from pathlib import Path

MODEL = Path(__file__).resolve().parents[1] / "src" / "hardtech" / "model"
MECHANISMS = {
    "capital",
    "cooperation",
    "decoupling",
    "entrepreneurship",
    "innovation",
    "labour",
    "market",
    "metrics",
    "observables",
    "policy",
    "technology",
}
BELOW = {"world", "shared", "kernels"}  # what mechanisms may import from the model


def _runtime_nodes(tree: ast.AST):
    """Every node except those under ``if TYPE_CHECKING:`` (imports for annotations only, never run)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING":
            stack.extend(node.orelse)
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def imports_of(path: Path) -> set[str]:
    """Model modules ``path`` imports (``hardtech.model.X`` → ``X``), wherever the import stands
    (inside functions too; not under ``if TYPE_CHECKING:``)."""
    found = set()
    for node in _runtime_nodes(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "hardtech.model":
                found |= {alias.name for alias in node.names}
            elif node.module.startswith("hardtech.model."):
                found.add(node.module.split(".")[2])
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("hardtech.model."):
                    found.add(alias.name.split(".")[2])
    return found


def graph() -> dict[str, set[str]]:
    return {p.stem: imports_of(p) - {p.stem} for p in MODEL.glob("*.py") if p.stem != "__init__"}


def test_every_model_module_is_classified():
    assert set(graph()) == MECHANISMS | BELOW | {"model"}


def test_world_imports_no_mechanism():
    g = graph()
    assert not g["world"] & MECHANISMS, g["world"]
    assert not g["shared"] & (MECHANISMS | {"world"}), g["shared"]  # world may use shared at set-up
    assert not g["kernels"], g["kernels"]


def test_no_mechanism_imports_another():
    g = graph()
    for name in MECHANISMS:
        assert g[name] <= BELOW, f"{name} imports {sorted(g[name] - BELOW)}"


def test_no_import_circle():
    g = graph()
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(g.get(node, ())):
            assert state.get(nxt) != 1, "import circle: " + " → ".join(path + [nxt])
            if nxt not in state:
                visit(nxt, path + [nxt])
        state[node] = 2

    for start in sorted(g):
        if start not in state:
            visit(start, [start])


def test_the_check_sees_imports_inside_functions(tmp_path):
    f = tmp_path / "m.py"
    f.write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from hardtech.model.world import World\n"
        "def f():\n    from hardtech.model.labour import set_wages\n    import hardtech.model.market\n"
    )
    assert imports_of(f) == {"labour", "market"}
