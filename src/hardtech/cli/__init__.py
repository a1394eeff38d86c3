"""The ``hardtech`` command line (Typer). Each command group lives in its own module."""

from hardtech.cli.app import app, main

__all__ = ["app", "main"]
