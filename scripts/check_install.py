"""List what is installed in this Python and fail if a test-only package is among them.

`make demo` runs it right after installing hardtech with its base dependencies
into a fresh .venv, and tests/test_install.py runs it in a fresh venv holding
the built wheel: it shows that `make demo` (and `pip install hardtech`) bring
no test, docs or lint tool. "Test-only" means a requirement of the ``dev``
extra in pyproject.toml that is not a base dependency.

    python scripts/check_install.py          # exit 1 if a test-only package is installed
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def canonical(name: str) -> str:
    """A distribution name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """``'mesa[network]>=3.3'`` → ``'mesa'``."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"cannot read a name from requirement {requirement!r}")
    return canonical(match.group(1))


def test_only(pyproject: Path = PYPROJECT) -> set[str]:
    """The ``dev`` extra's packages that are not base dependencies."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    base = {requirement_name(r) for r in project["dependencies"]}
    dev = {requirement_name(r) for r in project["optional-dependencies"]["dev"]}
    return dev - base


def installed() -> dict[str, str]:
    """Every distribution installed in this Python: canonical name → version."""
    return {canonical(d.metadata["Name"]): d.version for d in metadata.distributions()}


def main() -> int:
    have = installed()
    extra = sorted(test_only() & set(have))
    print(f"installed: {len(have)} packages ({', '.join(sorted(have))})")
    if extra:
        print(f"error: test-only packages installed: {', '.join(extra)}", file=sys.stderr)
        return 1
    print(f"none of the {len(test_only())} test-only packages of the dev extra is installed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
