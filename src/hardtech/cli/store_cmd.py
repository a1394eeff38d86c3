"""``hardtech import``: store runs that were saved beside a locked store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from hardtech.cli.app import app, fail, out
from hardtech.cli.storing import check_out, open_store
from hardtech.store import import_runs


@app.command("import")
def import_cmd(
    source: Annotated[
        Path, typer.Argument(help="A <store>.pending directory (or one run's directory in it).", show_default=False)
    ],
    out_path: Annotated[Path, typer.Option("--out", help="The DuckDB store to write the runs to.", show_default=False)],
    keep: Annotated[bool, typer.Option("--keep", help="Keep the saved files after importing them.")] = False,
) -> None:
    """Store runs that were saved beside a store another process kept locked (each whole; then removed)."""
    if not source.is_dir():
        fail(f"SOURCE: {str(source)!r} is not a directory of saved runs (a <store>.pending directory)")
    check_out(out_path)
    with open_store(out_path) as store:
        try:
            ids = import_runs(source, store, remove=not keep)
        except (FileNotFoundError, ValueError, KeyError) as exc:
            fail(f"SOURCE: {exc}")
    out.print(f"imported {len(ids)} run(s) into [bold]{out_path}[/]: {', '.join(ids)}", highlight=False, soft_wrap=True)
