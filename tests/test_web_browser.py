"""The dashboard page in headless Chromium (Playwright for Python, Debian's /usr/bin/chromium).

Starts ``hardtech.web`` on 127.0.0.1 with a free port in a background thread and drives the page:
move a lever, run, watch the plots grow and the dragon table fill while the run goes, stop a run,
compare two scenarios, open a past run, download its data; saves test-artifacts/dashboard.png.
`make test` installs chromium when missing (scripts/ensure-chromium.sh); without it this module skips.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"{CHROMIUM} is missing (as root: apt-get install -y chromium, or run `make test`)", allow_module_level=True)
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed: pip install -e '.[dev]'")

from hardtech.web.app import create_app  # noqa: E402

ARGS = ["--no-sandbox", "--headless=new", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
PACE_MS = 25  # per streamed quarter: 96 quarters ≈ 4 s, long enough to watch the plots grow


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(results, **options):
    """The dashboard on 127.0.0.1:<free port> in a background thread; yields its base URL."""
    import uvicorn

    port = _free_port()
    app = create_app(results, **options)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                        timeout_graceful_shutdown=2))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the dashboard server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("browser-results"), pace_ms=PACE_MS) as url:
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        except Exception as exc:  # noqa: BLE001 - a chromium that does not start is an environment problem
            pytest.skip(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def page(server, browser):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    expected = "status of 422"  # the deliberately bad lever below; the page shows it, the browser logs it

    def on_console(msg) -> None:
        if msg.type == "error" and expected not in msg.text:
            errors.append(msg.text)

    pg.on("console", on_console)
    pg.goto(server + "/")
    pg.wait_for_selector("body[data-ready='1']", timeout=15000)
    yield pg
    context.close()
    assert not errors, f"errors in the page: {errors}"


def _points(page, chart: str = "dragons") -> int:
    return int(page.get_attribute(f"#chart-{chart}", "data-points") or 0)


def _set_number(page, key: str, value) -> None:
    box = page.locator(f".control[data-key='{key}'] input.number")
    box.fill(str(value))
    box.dispatch_event("change")


def test_dashboard_end_to_end(page):
    # the controls come from the schema and the preset
    assert page.locator("#preset option").first.inner_text() == "hangzhou"
    for key in ("regions.hangzhou.policy.startup_support", "regions.beijing.living_cost", "innovation.spillovers",
                "capital.recycling", "decoupling.enabled", "cooperation.enabled", "seed", "scale"):
        assert page.locator(f".control[data-key='{key}']").count() == 1, key
    lever = page.locator(".control[data-key='regions.hangzhou.policy.startup_support']")
    assert lever.locator("input.number").input_value() == "0.3"

    # move a lever (the slider), and a switch; reset brings the preset back
    lever.locator("input.slider").fill("0.6")
    assert lever.locator("input.number").input_value() == "0.6"
    assert "changed" in (lever.get_attribute("class") or "")
    page.locator(".control[data-key='capital.recycling'] input.switch").uncheck()
    page.click("#reset")
    assert lever.locator("input.number").input_value() == "0.3"
    assert page.locator(".control.changed").count() == 0
    lever.locator("input.slider").fill("0.6")

    # a bad value is refused by the server and the control is marked
    _set_number(page, "regions.hangzhou.living_cost", -1)
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "regions.hangzhou.living_cost" in page.inner_text("#error")
    assert page.locator(".control.invalid[data-key='regions.hangzhou.living_cost']").count() == 1
    _set_number(page, "regions.hangzhou.living_cost", 1.0)

    # run: plots grow and the dragon table fills while the run goes
    _set_number(page, "scale", 0.002)
    page.click("#run")
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 5", timeout=20000)
    first = _points(page)
    page.wait_for_timeout(400)
    second = _points(page)
    assert page.get_attribute("body", "data-job-status") not in ("done", "failed"), "the run ended too soon to watch"
    assert second > first, (first, second)
    assert _points(page, "maturity") > 0 and _points(page, "talent") > 0
    page.wait_for_function("document.querySelectorAll('#dragons tbody tr').length > 0", timeout=20000)
    assert page.get_attribute("body", "data-job-status") != "done", "dragons should appear while the run goes"
    page.wait_for_selector("body[data-job-status='done']", timeout=30000)
    assert _points(page) == 96
    count = int(page.inner_text("#dragon-count"))
    assert count == page.locator("#dragons tbody tr").count() > 0
    assert page.locator("#summary tbody tr").count() == 6
    assert "Done" in page.inner_text("#status")
    run_id = page.inner_text("#run-links code")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-run.png"))

    # download the run's data by id
    with page.expect_download() as info:
        page.click("#run-links a.dl-csv")
    csv = Path(info.value.path()).read_text()
    assert csv.startswith("step,quarter,year,region,field") and len(csv.splitlines()) == 96 * 30 + 1
    with page.expect_download() as info:
        page.click("#run-links a.dl-toml")
    toml = Path(info.value.path()).read_text()
    assert "startup_support = 0.6" in toml and "scale = 0.002" in toml

    # stop: a running job is cancelled and nothing is stored
    page.click("#run")
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 3", timeout=20000)
    page.click("#stop")
    page.wait_for_selector("body[data-job-status='cancelled']", timeout=10000)
    assert "Stopped" in page.inner_text("#status") and _points(page) < 96

    # compare: A = controls (startup support 0.6), B = the preset; 2 replications to 2020
    _set_number(page, "time.end_year", 2020)
    page.fill("#compare-reps", "2")
    page.click("#compare")
    page.wait_for_selector("body[data-compare-status='done']", timeout=60000)
    assert page.get_attribute("#chart-compare", "data-bars") == "12"  # 6 regions × 2 scenarios
    header = page.inner_text("#compare-table thead")
    assert "A: hangzhou with 3 changes" in header and "B: hangzhou (preset)" in header
    assert page.locator("#compare-table tbody tr").count() >= 6 + 5
    assert "[" in page.inner_text("#compare-table tbody")  # intervals shown
    page.locator("#compare-panel").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"))

    # past runs: the stored runs are listed; open one
    page.click("#refresh-runs")
    page.wait_for_function("document.querySelectorAll('#runs tbody tr').length >= 5")
    row = page.locator(f"#runs tbody tr[data-run='{run_id}']")
    row.locator("button.open-run").click()
    page.wait_for_selector(f"body[data-opened='{run_id}']")
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) === 96")
    assert page.locator("#dragons tbody tr").count() == int(page.inner_text("#dragon-count"))
    with page.expect_download() as info:
        row.locator("a.dl-parquet").click()
    assert Path(info.value.path()).read_bytes()[:4] == b"PAR1"

    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)


def test_page_with_a_token(browser, tmp_path):
    token = "browser-test-token"
    with serving(tmp_path, token=token) as url:
        context = browser.new_context()
        pg = context.new_page()
        assert pg.goto(url + "/").status == 401
        pg.goto(f"{url}/?token={token}")
        pg.wait_for_selector("body[data-ready='1']", timeout=15000)
        assert pg.locator(".control").count() > 30 and "Ready" in pg.inner_text("#status")
        # the page's own requests carry the token (header, query for event streams, or the cookie it got)
        assert pg.evaluate("fetch('/api/health').then(r => r.status)") == 200
        context.close()
