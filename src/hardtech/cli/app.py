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


# Which module registers each command: a command imports only its own module (and run_cmd's,
# so the app always has several commands), not every command's dependencies.
COMMAND_MODULES = {
    "run": "run_cmd", "presets": "run_cmd", "show": "run_cmd",
    "sweep": "experiment_cmd", "sensitivity": "experiment_cmd", "discover": "experiment_cmd",
    "serve": "serve_cmd",
    "ensemble": "evidence_cmd", "compare": "evidence_cmd", "claims": "evidence_cmd", "validate": "evidence_cmd",
    "calibrate": "evidence_cmd",
    "history": "history_cmd",
}
MODULES = ("run_cmd", "experiment_cmd", "serve_cmd", "evidence_cmd", "history_cmd")  # help lists them in this order


def _register(argv: list[str]) -> None:
    """Import the command modules a command line needs (all of them for help or an unknown command)."""
    import importlib

    first = next((a for a in argv if not a.startswith("-")), None)
    needed = ("run_cmd", COMMAND_MODULES[first]) if first in COMMAND_MODULES else MODULES
    for module in dict.fromkeys(needed):
        importlib.import_module(f"hardtech.cli.{module}")


def main() -> None:
    """Entry point of the ``hardtech`` script.

    Typer runs in non-standalone mode so that option errors are printed here as
    one line (``error: Invalid value for '--seed': …``) with exit code 2.
    """
    _register(sys.argv[1:])
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
