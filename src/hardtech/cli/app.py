"""The Typer application and the error boundary shared by every command.

Bad input of any kind (scenario file, ``--set``, option values) ends with one
line on stderr naming the field and what is allowed, and exit code 2 — never
a traceback, and never after anything was written to a results store. So do
the known failure modes: a results store that cannot be written (a
directory, read-only, not a DuckDB file, locked by another process for too
long), a run needing more memory than the machine has, an analysis with
nothing to contrast. Ctrl-C ends with a one-line message and exit code 130.
Anything else — a bug — is one line naming the exception and pointing to
``hardtech --debug …`` (or ``HARDTECH_DEBUG=1``), which shows the traceback;
exit code 1.
"""

from __future__ import annotations

import inspect
import os
import shlex
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

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


DEBUG_ENV = "HARDTECH_DEBUG"
_debug = {"on": False}


@app.callback()
def _options(
    debug: Annotated[
        bool, typer.Option("--debug", help=f"On an unexpected error, show the full traceback (also: {DEBUG_ENV}=1).")
    ] = False,
) -> None:
    """Simulate regional hardtech innovation ecosystems (the 'Hangzhou phenomenon')."""
    _debug["on"] = debug


def debugging() -> bool:
    """Whether tracebacks are shown: ``--debug`` given or the debug environment variable set (not 0)."""
    return _debug["on"] or os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def _raised(*known: type[BaseException], lazy: tuple[str, ...] = ()) -> tuple[type[BaseException], ...]:
    """``known`` and the exception classes ``module:Class`` of ``lazy`` among modules already imported.

    A module not imported cannot have raised its error, so main() names its known errors this way
    and the CLI's start-up imports none of their modules (the store's pandas and DuckDB, the
    engine's NumPy and Arrow): each command imports what it needs.
    """
    loaded = (getattr(sys.modules[m], c) for m, _, c in (n.partition(":") for n in lazy) if m in sys.modules)
    return (*known, *loaded)


INTERRUPTS = ("duckdb:InterruptException",)
INPUT_ERRORS = (
    "hardtech.scenario.loading:ScenarioError",
    "hardtech.store.duckdb_store:StoreError",
    "hardtech.resources:ResourceError",
    "hardtech.engine.jit:EngineChoiceError",
)
ENGINE_VARIABLES = ("HARDTECH_ENGINE", "HARDTECH_DRAWS")  # checked before any command starts


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(no message)"


# Which module registers each command: a command imports only its own module (and run_cmd's,
# so the app always has several commands), not every command's dependencies.
COMMAND_MODULES = {
    "run": "run_cmd",
    "presets": "run_cmd",
    "show": "run_cmd",
    "sweep": "experiment_cmd",
    "sensitivity": "experiment_cmd",
    "discover": "experiment_cmd",
    "serve": "serve_cmd",
    "ensemble": "evidence_cmd",
    "compare": "evidence_cmd",
    "claims": "evidence_cmd",
    "validate": "evidence_cmd",
    "calibrate": "evidence_cmd",
    "history": "history_cmd",
    "robustness": "robustness_cmd",
    "import": "store_cmd",
}
MODULES = (
    "run_cmd",
    "experiment_cmd",
    "serve_cmd",
    "evidence_cmd",
    "history_cmd",
    "robustness_cmd",
    "store_cmd",
)  # help's order


def _register(argv: list[str]) -> None:
    """Import the command modules a command line needs (all of them for help or an unknown command)."""
    import importlib

    first = next((a for a in argv if not a.startswith("-")), None)
    needed = ("run_cmd", COMMAND_MODULES[first]) if first in COMMAND_MODULES else MODULES
    for module in dict.fromkeys(needed):
        importlib.import_module(f"hardtech.cli.{module}")
    for command in app.registered_commands:
        if command.help is None and command.callback is not None and command.callback.__doc__:
            command.help = reflowed(command.callback.__doc__)


def reflowed(doc: str) -> str:
    """A docstring as help text: each paragraph's lines joined into one, for the terminal to wrap.

    Typer's help keeps a docstring's single line breaks, so source lines wider than the terminal
    would show as a wrapped line followed by a short one. Paragraphs holding a list (lines starting
    with ``-`` or ``*``) or an indented block, and the part after a form feed (hidden from help),
    are kept as written.
    """
    shown, feed, hidden = inspect.cleandoc(doc).partition("\f")
    paragraphs = []
    for paragraph in shown.split("\n\n"):
        lines = paragraph.splitlines()
        if any(line.startswith((" ", "-", "*", "\b")) for line in lines):
            paragraphs.append(paragraph)
        else:
            paragraphs.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(paragraphs) + feed + hidden


def main() -> None:
    """Entry point of the ``hardtech`` script.

    Typer runs in non-standalone mode so that option errors are printed here as
    one line (``error: Invalid value for '--seed': …``) with exit code 2.
    """
    _register(sys.argv[1:])
    try:
        if any(name in os.environ for name in ENGINE_VARIABLES):  # (the engine's module imports NumPy)
            from hardtech.engine.jit import check_environment

            check_environment()
        code = app(standalone_mode=False)
    except _raised(typer.Abort, KeyboardInterrupt, lazy=INTERRUPTS):  # (evaluated only once something is raised)
        err.print("interrupted (Ctrl-C); nothing half-written was kept", highlight=False)
        sys.exit(130)
    except _raised(UsageError, lazy=INPUT_ERRORS) as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except typer.TyperException as exc:  # click's usage errors: bad option values, unknown options
        if type(exc).__name__ == "NoArgsIsHelpError":
            typer.echo(exc.format_message())
            sys.exit(0)
        err.print(f"[bold red]error:[/] {exc.format_message()}", highlight=False, soft_wrap=True, markup=True)
        sys.exit(getattr(exc, "exit_code", 2) or 2)
    except MemoryError:
        if debugging():
            raise
        err.print(
            "[bold red]error:[/] out of memory: the run needed more memory than the machine could give; "
            "lower `scale` or the regions' `talent`, or use fewer workers",
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(2)
    except Exception as exc:  # the generic guard: a bug, in one line unless --debug
        if debugging():
            raise
        again = shlex.join(["hardtech", "--debug", *[a for a in sys.argv[1:] if a != "--debug"]])
        err.print(
            "[bold red]error:[/] "
            + escape(
                f"unexpected {type(exc).__name__}: {_first_line(exc)} — a bug in "
                f"hardtech, please report it; `{again}` shows the traceback"
            ),
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
