"""The dashboard page in headless Chromium (Playwright for Python, Debian's /usr/bin/chromium): a tour.

Starts ``hardtech.web`` on 127.0.0.1 with a free port in a background thread and drives the page
as a user would: move a lever, run, watch the plots and the world view grow, step a paused run in
the world view, open a dragon's biography and check its funding rounds and valuation against the
stored tables, download data, compare two scenarios, and check the layout at 1,280 × 800. Saves
screenshots to test-artifacts/ (the README's come from here). The defects of issue #16, one test
each, are in test_dashboard_defects.py. `make test` installs chromium when missing
(scripts/ensure-chromium.sh); without it this module skips.
"""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from _web import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, call, serving
from hardtech.scenario import load

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (as root: apt-get install -y chromium, or run `make test`)", allow_module_level=True
    )
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (Python) is not installed: pip install -e '.[dev]'"
)

IGNORED_CONSOLE = ("status of 422", "status of 404", "status of 409")  # refusals the tests provoke; the page shows them


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with serving(tmp_path_factory.mktemp("browser-results"), pace_ms=0) as (url, _srv):
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001 - a chromium that does not start is an environment problem
            pytest.skip(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        yield chromium
        chromium.close()


def open_page(browser, url, width=1400, height=900):
    context = browser.new_context(viewport={"width": width, "height": height}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and not any(t in msg.text for t in IGNORED_CONSOLE) else None
        ),
    )
    pg.on("dialog", lambda dialog: dialog.accept())
    pg.goto(url)
    pg.wait_for_selector("body[data-ready='1']", timeout=20000)
    return context, pg, errors


@pytest.fixture(scope="module")
def page(server, browser):
    context, pg, errors = open_page(browser, server + "/")
    yield pg
    context.close()
    assert not errors, f"errors in the page: {errors}"


def points(page, chart: str = "dragons") -> int:
    return int(page.get_attribute(f"#chart-{chart}", "data-points") or 0)


def set_number(page, key: str, value) -> None:
    box = page.locator(f".control[data-key='{key}'] input.number")
    box.evaluate("n => { const d = n.closest('details'); if (d) d.open = true; }")  # its group may be folded
    box.fill(str(value))
    box.dispatch_event("change")


def tab(page, name: str) -> None:
    page.click(f"#tabs button[data-tab='{name}']")


def test_a_run_streams_into_the_plots_and_the_world_view(page):
    assert page.locator("#preset option").first.inner_text() == "hangzhou"
    for key in (
        "regions.hangzhou.policy.startup_support",
        "regions.beijing.living_cost",
        "innovation.spillovers",
        "capital.recycling",
        "decoupling.enabled",
        "cooperation.enabled",
        "seed",
        "scale",
    ):
        assert page.locator(f".control[data-key='{key}']").count() == 1, key
    lever = page.locator(".control[data-key='regions.hangzhou.policy.startup_support']")
    preset = f"{load('hangzhou').regions['hangzhou'].policy.startup_support:g}"
    assert lever.locator("input.number").input_value() == preset
    lever.locator("input.slider").fill("0.4")
    assert lever.locator("input.number").input_value() == "0.4" and "changed" in (lever.get_attribute("class") or "")
    page.locator(".control[data-key='capital.recycling'] input.switch").uncheck()
    page.click("#reset")
    assert lever.locator("input.number").input_value() == preset and page.locator(".control.changed").count() == 0
    lever.locator("input.slider").fill("0.4")

    # a bad value is refused by the server and the control says why
    set_number(page, "regions.hangzhou.living_cost", -1)
    page.click("#run")
    page.wait_for_selector("#error:not([hidden])")
    assert "regions.hangzhou.living_cost" in page.inner_text("#error")
    bad = page.locator(".control.invalid[data-key='regions.hangzhou.living_cost']")
    assert bad.count() == 1 and "greater than 0" in bad.locator(".field-error").inner_text()
    set_number(page, "regions.hangzhou.living_cost", 1.0)

    # run (slowly enough to watch): plots grow, the world view steps with it, dragons appear while it goes
    set_number(page, "scale", 0.002)
    set_number(page, "time.end_year", 2024)
    page.select_option("#speed", "60")
    page.click("#run")
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 4", timeout=30000)
    first = points(page)
    page.wait_for_timeout(500)
    assert page.get_attribute("body", "data-job-status") != "done", "the run ended too soon to watch"
    assert points(page) > first and points(page, "maturity") > 0
    tab(page, "world")
    page.wait_for_function("Number(document.querySelector('svg#world').dataset.frames) >= 6", timeout=20000)
    assert page.locator("svg#world g.region").count() == 6
    assert page.locator("svg#world circle.firm").count() > 0
    assert (
        page.locator("svg#world path.flow.talent").count() > 0
        and page.locator("svg#world path.flow.capital").count() > 0
    )
    page.select_option("#speed", "0")  # speed changes while the run goes
    page.wait_for_selector("body[data-job-status='done']", timeout=60000)
    assert "Done" in page.inner_text("#status")
    assert page.get_attribute("svg#world", "data-quarter") == "2024Q4"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "dashboard-world.png"))
    tab(page, "plots")
    assert points(page) == 52 and page.locator("#summary tbody tr").count() == 6
    count = int(page.inner_text("#dragon-count"))
    assert count == page.locator("#dragons tbody tr").count() > 0
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"))
    run_id = page.inner_text("#run-links code")
    assert f"run={run_id}" in page.url and "o.regions.hangzhou.policy.startup_support=0.4" in page.url

    # download the run's data by id
    with page.expect_download() as info:
        page.click("#run-links a.dl-csv")
    csv = Path(info.value.path()).read_text()
    assert csv.startswith("step,quarter,year,region,field") and len(csv.splitlines()) == 52 * 30 + 1
    with page.expect_download() as info:
        page.click("#run-links a.dl-toml")
    toml = Path(info.value.path()).read_text()
    assert "startup_support = 0.4" in toml and "scale = 0.002" in toml


def test_step_the_world_view_and_check_a_dragons_biography(page, server):
    """Done when: a browser test steps a run in the world view, clicks a dragon and checks that its
    biography's rounds and valuation match the stored tables."""
    set_number(page, "time.end_year", 2023)  # another scenario than the test before
    page.select_option("#speed", "200")
    page.click("#run")
    tab(page, "world")
    page.wait_for_function("Number(document.querySelector('svg#world').dataset.frames) >= 3", timeout=30000)
    page.click("#pause")
    page.wait_for_selector("body[data-paused='1']")
    page.wait_for_timeout(700)  # the quarter in progress ends, then the run holds
    held = int(page.get_attribute("svg#world", "data-step"))
    page.wait_for_timeout(600)
    assert int(page.get_attribute("svg#world", "data-step")) == held, "a paused run goes on"
    for k in (1, 2):
        page.click("#step")
        page.wait_for_function(
            f"Number(document.querySelector('svg#world').dataset.step) === {held + k}", timeout=10000
        )
        page.wait_for_timeout(500)
        assert int(page.get_attribute("svg#world", "data-step")) == held + k  # one quarter per click
    page.select_option("#speed", "0")
    page.click("#pause")  # now "Resume"
    page.wait_for_selector("body[data-job-status='done']", timeout=60000)
    run_id = page.inner_text("#run-links code")

    # scrub back with the time slider, then forward to the end
    page.locator("#world-slider").fill("10")
    assert page.get_attribute("svg#world", "data-step") == "10" and page.inner_text("#world-quarter") == "2014Q3"
    page.locator("#world-slider").fill(str(int(page.get_attribute("#world-slider", "max"))))
    firm = page.evaluate("""() => {
      for (const c of document.querySelectorAll('svg#world circle.firm.dragon')) {
        const r = c.getBoundingClientRect();
        if (document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c) return Number(c.dataset.firm);
      }
      return null; }""")
    assert firm is not None, "no dragon mark to click"
    page.locator(f"svg#world circle.firm[data-firm='{firm}']").click()
    page.wait_for_selector("#bio[data-state='ready']", timeout=30000)

    events = pd.read_csv(io.StringIO(call(server, f"/api/runs/{run_id}/data?table=firm_events&format=csv")))
    dragons = pd.read_csv(io.StringIO(call(server, f"/api/runs/{run_id}/data?table=dragons&format=csv")))
    funded = events[(events.firm_id == firm) & (events.event == "funded")].sort_values("step")
    rows = page.locator("#bio-rounds tbody tr")
    assert rows.count() == len(funded) > 0
    quarters = [rows.nth(i).locator("td").nth(0).inner_text() for i in range(rows.count())]
    amounts = [float(rows.nth(i).locator("td").nth(2).inner_text().replace(",", "")) for i in range(rows.count())]
    assert quarters == funded.quarter.tolist()
    assert amounts == pytest.approx(funded.value.tolist(), rel=0.01, abs=0.01)  # as shown (3 digits)
    mine = dragons[dragons.firm_id == firm].iloc[0]
    facts = page.inner_text("#bio-body")
    assert f"Became a dragon in {mine.dragon_quarter}" in facts
    assert f"valued {round(mine.valuation_musd)} M USD" in facts.replace(",", "")
    assert "✓ matches funding rounds" in facts and "✓ matches valuation when it became a dragon" in facts
    assert "replaying the stored run" in facts
    page.screenshot(path=str(ARTIFACTS / "dashboard-biography.png"))
    with page.expect_download() as info:
        page.click("#bio a.bio-csv")
    panel = pd.read_csv(info.value.path())
    assert (panel.firm_id == firm).all() and panel.round_musd.notna().sum() == len(funded)
    page.click("#bio-close")
    tab(page, "plots")


def test_compare_two_scenarios(page):
    set_number(page, "time.end_year", 2013)
    page.locator(".control[data-key='regions.hangzhou.policy.startup_support'] input.slider").fill("0.5")
    tab(page, "compare")
    page.fill("#compare-reps", "5")
    page.click("#compare")
    page.wait_for_selector("body[data-compare-status='done']", timeout=90000)
    header = page.inner_text("#compare-table thead")
    assert "B − A" in header and "95% interval" in header
    body = page.inner_text("#compare-table tbody")
    assert "births — hangzhou" in body and "births — world" in body
    assert "regions.hangzhou.policy.startup_support" in page.inner_text("#compare-changed")
    assert int(page.get_attribute("#chart-compare", "data-intervals")) == 10
    assert int(page.get_attribute("#chart-compare-time", "data-bands")) == 4  # A and B, focal and world
    page.screenshot(path=str(ARTIFACTS / "dashboard-compare.png"))


def test_the_page_is_usable_at_1280_by_800(browser, server):
    context, pg, errors = open_page(browser, server + "/", 1280, 800)
    try:
        first_row = [pg.locator(f"#chart-{c}").bounding_box() for c in ("dragons", "talent", "capital")]
        for box in first_row:
            assert box["y"] >= 0 and box["y"] + box["height"] <= 800, box  # above the fold, whole
        second_row = pg.locator("#chart-gap").bounding_box()
        assert second_row["y"] < 800  # the second row starts on screen too
        sidebar = pg.locator("#sidebar").bounding_box()
        assert sidebar["x"] + sidebar["width"] <= first_row[0]["x"]  # the controls beside the plots, not above
        assert pg.locator("#run").bounding_box()["y"] < 120 and pg.locator("#run").is_visible()
        # opening every control group scrolls the sidebar, not the page
        for d in pg.locator("#control-groups details").all():
            d.evaluate("n => n.open = true")
        assert pg.locator("#chart-dragons").bounding_box()["y"] == first_row[0]["y"]
        assert pg.evaluate(
            "document.querySelector('#sidebar').scrollHeight > document.querySelector('#sidebar').clientHeight"
        )
        for name in ("world", "compare", "runs"):
            tab(pg, name)
            assert pg.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), name  # nothing sticks out
        tab(pg, "world")
        assert pg.locator("svg#world").bounding_box()["y"] < 200
    finally:
        context.close()
    assert not errors, errors


def test_page_with_a_token(browser, tmp_path):
    token = "browser-test-token"
    with serving(tmp_path, token=token) as (url, _srv):
        context = browser.new_context()
        pg = context.new_page()
        assert pg.goto(url + "/").status == 401
        pg.goto(f"{url}/?token={token}")
        pg.wait_for_selector("body[data-ready='1']", timeout=20000)
        assert pg.locator(".control").count() > 30 and "Ready" in pg.inner_text("#status")
        # the page's own requests carry the token (header, query for event streams, or the cookie it got)
        assert pg.evaluate("fetch('/api/health').then(r => r.status)") == 200
        assert f"token={token}" in pg.url  # the URL the page keeps still works when reloaded
        context.close()
