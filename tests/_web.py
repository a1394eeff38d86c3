"""Helpers shared by the dashboard's test modules: a live server in a thread, job polling, SSE, Chromium."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless=new",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(results: Any, **options: Any):
    """The dashboard on 127.0.0.1:<free port> in a background thread; yields (base URL, uvicorn server)."""
    import uvicorn

    from hardtech.web.app import create_app

    port = free_port()
    app = create_app(results, **options)
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2)
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", srv
    finally:
        srv.should_exit = True
        thread.join(10)


def call(base: str, path: str, body: Any = None, method: str | None = None) -> Any:
    """A JSON request to a live server (urllib; no extra client)."""
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(
        base + path,
        data=data,
        method=method or ("POST" if body is not None else "GET"),
        headers={"Content-Type": "application/json"} if data else {},
    )
    with urllib.request.urlopen(req, timeout=60) as response:
        text = response.read().decode()
    return json.loads(text) if text and text[0] in "[{" else text


def wait_job(get: Any, job_id: str, status: set[str], timeout: float = 60.0) -> dict[str, Any]:
    """Poll ``get(path)`` (a TestClient's or a live server's) until the job reaches one of ``status``."""
    deadline = time.monotonic() + timeout
    info: dict[str, Any] = {}
    while time.monotonic() < deadline:
        info = get(f"/api/jobs/{job_id}")
        if info["status"] in status:
            return info
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} did not reach {status}: {info}")


@contextlib.contextmanager
def offline_page(sync_api: Any, width: int = 1200, height: int = 900):
    """A headless Chromium page that serves file:// only: yields (page, urls refused, script errors).

    ``sync_api`` is ``playwright.sync_api``; a Chromium that does not start skips the test.
    """
    import pytest

    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - a chromium that does not start is an environment problem
            pytest.skip(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        try:
            page = chromium.new_page(viewport={"width": width, "height": height})
            outside: list[str] = []
            errors: list[str] = []
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith("file:")
                    else (outside.append(route.request.url), route.abort())
                ),
            )
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            yield page, outside, errors
        finally:
            chromium.close()
