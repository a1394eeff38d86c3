"""The Typer application and the error boundary shared by every command.

Bad input of any kind (scenario file, ``--set``, option values) ends with one
line on stderr naming the field and what is allowed, and exit code 2 — never
a traceback, and never after anything was written to a results store.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from hardtech.scenario import ScenarioError

app = typer.Typer(
    name="hardtech",
    help="Simulate regional hardtech innovation ecosystems (the 'Hangzhou phenomenon').",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
out = Console(width=max(Console().width, 110))
err = Console(stderr=True)


class UsageError(ValueError):
    """A bad option value caught by our own checks (exit code 2)."""


def fail(message: str) -> None:
    """Print one error line and exit with code 2."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code=2)


def main() -> None:
    """Entry point of the ``hardtech`` script."""
    from hardtech.cli import run_cmd  # noqa: F401  (registers commands)

    try:
        app(standalone_mode=True)
    except (ScenarioError, UsageError) as exc:  # pragma: no cover - typer handles inside
        err.print(f"error: {exc}")
        sys.exit(2)
