"""``hardtech serve``: the dashboard (REST API + page) on a local web server."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Annotated

import typer

from hardtech.cli.app import app, err, fail, out

TOKEN_ENV = "HARDTECH_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` only listens on this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@app.command("serve")
def serve_cmd(
    host: Annotated[
        str, typer.Option(help="Address to listen on. Anything but loopback requires a token.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    results: Annotated[
        Path,
        typer.Option(
            help="Results folder: stores to browse; runs are written to DIR/dashboard.duckdb.", file_okay=False
        ),
    ] = Path("results"),
    token: Annotated[
        str | None, typer.Option(help=f"Require this token on every request (or set {TOKEN_ENV}).", show_default=False)
    ] = None,
    max_scale: Annotated[float, typer.Option(min=0.0001, max=1.0, help="Largest scale a request may ask for.")] = 0.02,
    max_steps: Annotated[int, typer.Option(min=4, max=800, help="Most quarters a run may have.")] = 160,
    workers: Annotated[int, typer.Option(min=1, max=2, help="Simulations run at once (others queue).")] = 1,
    pace_ms: Annotated[
        int, typer.Option(min=0, max=500, help="Pause after each streamed quarter, ms, so plots visibly grow.")
    ] = 15,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve the dashboard: NetLogo-style controls, live plots, comparisons and past runs (API docs at /docs)."""
    token = token or os.environ.get(TOKEN_ENV) or None
    if not is_loopback(host) and not token:
        fail(f"--host {host}: listening beyond this machine needs a token; pass --token TOKEN or set {TOKEN_ENV}")
    if token is not None and len(token) < 8:
        fail("--token: use at least 8 characters")
    try:
        import uvicorn  # noqa: F401  (checked here: the web extra)

        from hardtech.web import app as web
    except ImportError as exc:
        fail(f"the dashboard needs the web extra: pip install 'hardtech[web]' ({exc})")
    try:
        web_app = web.create_app(
            results,
            token,
            max_scale=max_scale,
            max_steps=max_steps,
            workers=workers,
            pace_ms=pace_ms,
            allowed_hosts=None if token else sorted({*web.LOOPBACK_HOSTS, host}),
        )
    except (OSError, ValueError) as exc:
        fail(f"--results {results}: {exc}")
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}/" + (f"?token={token}" if token else "")
    out.print(
        f"hardtech dashboard on [bold]{url}[/]  (API docs: http://{shown}:{port}/docs; results: {results})",
        highlight=False,
        soft_wrap=True,
    )
    if token:
        err.print("a token is required on every request (Authorization: Bearer …, or ?token= for the page)")
    # Ctrl-C / SIGTERM: jobs cancelled and marked, finished replications kept, no traceback (web.serve)
    web.serve(web_app, host.strip("[]"), port, log_level=log_level)
