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
    """Entry point of the ``hardtech`` script.

    Typer runs in non-standalone mode so that option errors are printed here as
    one line (``error: Invalid value for '--seed': …``) with exit code 2.
    """
    from hardtech.cli import run_cmd  # noqa: F401  (registers commands)
    from hardtech.cli import experiment_cmd  # noqa: F401
    from hardtech.cli import serve_cmd  # noqa: F401
    from hardtech.cli import evidence_cmd  # noqa: F401
    from hardtech.cli import history_cmd  # noqa: F401
    from hardtech.cli import robustness_cmd  # noqa: F401

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        err.print("aborted")
        sys.exit(130)
    except (ScenarioError, UsageError) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.TyperException as exc:  # click's usage errors: bad option values, unknown options
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message())
            sys.exit(0)
        err.print(f"[bold red]error:[/] {exc.format_message()}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    sys.exit(code if isinstance(code, int) else 0)
