"""One Chromium test per defect that issue #16 found in the dashboard and the HTML report (and #11's lost server).

Each test drives the page (or the report) as the issue's user did and asserts the fixed behaviour;
each fails on commit 346a798 (checked with a worktree of it: PYTHONPATH=<it>/src pytest this file).
The helpers fall back to that version's layout (no tabs) where it is cheap, so that there a test
fails at the defect itself, not at a missing button. Runs are tiny (scale 0.002, a few years).
"""

from __future__ import annotations

import re
import time

import pytest

from _web import CHROMIUM, CHROMIUM_ARGS, call, serving, wait_job

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (as root: apt-get install -y chromium, or run `make test`)", allow_module_level=True
    )
pytest.importorskip("uvicorn")
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (Python) is not installed: pip install -e '.[dev]'"
)

import hardtech  # noqa: E402

OLD_PANELS = {"compare": "#compare-panel", "runs": "#runs-panel"}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("defects")


@pytest.fixture(scope="module")
def server(folder):
    with serving(folder, pace_ms=60) as (url, _srv):  # the page sends its own pace; 60 ms is for 346a798's
        yield url


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as pw:
        try:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except Exception as exc:  # noqa: BLE001
            pytest.skip(f"chromium at {CHROMIUM} does not start under Playwright: {exc}")
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    pg.on("dialog", lambda dialog: dialog.accept())
    pg.goto(server + "/")
    pg.wait_for_selector("body[data-ready='1']", timeout=20000)
    yield pg
    context.close()


def set_number(page, key, value):
    box = page.locator(f".control[data-key='{key}'] input.number")
    box.evaluate("n => { const d = n.closest('details'); if (d) d.open = true; }")  # its group may be folded
    box.fill(str(value))
    box.dispatch_event("change")


def speed(page, value):
    """The run's pace (ms after each streamed quarter); 346a798 had no such control (its server's default: 60 ms)."""
    if page.locator("#speed").count():
        page.select_option("#speed", value)


def show(page, name):
    tab = page.locator(f"#tabs button[data-tab='{name}']")
    if tab.count():
        tab.click()
    elif name in OLD_PANELS:
        page.locator(OLD_PANELS[name]).scroll_into_view_if_needed()


def jobs(server):
    return [j for j in call(server, "/api/jobs") if j["status"] in ("queued", "running")]


def stop_all(server):
    for j in jobs(server):
        call(server, f"/api/jobs/{j['id']}/cancel", {})
    deadline = time.monotonic() + 10
    while jobs(server) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_open_loads_the_runs_whole_scenario_into_the_controls(page, server, folder):
    # a run stored by the CLI: seed 7, a changed lever, another scale and horizon
    hardtech.run(
        "hangzhou",
        seed=7,
        overrides={"scale": 0.002, "time.end_year": 2013, "regions.shenzhen.policy.talent_subsidy": 12.0},
        store=folder / "cli.duckdb",
    )
    run_id = next(r["run_id"] for r in call(server, "/api/runs")["runs"] if r["store"] == "cli.duckdb")
    show(page, "runs")
    page.click("#refresh-runs")
    page.locator(f"#runs tbody tr[data-run='{run_id}'] button.open-run").click()
    page.wait_for_selector(f"body[data-opened='{run_id}']")
    value = lambda key: page.locator(f".control[data-key='{key}'] input.number").input_value()  # noqa: E731
    assert value("seed") == "7", "the sidebar keeps another seed next to the stored seed-7 run"
    assert value("scale") == "0.002" and value("time.end_year") == "2013"
    assert value("regions.shenzhen.policy.talent_subsidy") == "12"
    # and Run runs that scenario, not the sidebar's old one: the same run id
    page.click("#run")
    page.wait_for_selector("body[data-job-status='done']", timeout=60000)
    assert page.inner_text("#run-links code") == run_id


def test_a_reload_mid_run_keeps_the_levers_and_the_job_stays_stoppable(page, server):
    set_number(page, "scale", 0.002)
    set_number(page, "regions.hangzhou.living_cost", 0.7)
    speed(page, "200")
    page.click("#run")
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 2", timeout=30000)
    page.reload()
    page.wait_for_selector("body[data-ready='1']", timeout=20000)
    lever = page.locator(".control[data-key='regions.hangzhou.living_cost']")
    assert lever.locator("input.number").input_value() == "0.7", "a refresh loses the lever changes"
    assert "changed" in (lever.get_attribute("class") or "")
    assert page.locator(".control[data-key='scale'] input.number").input_value() == "0.002"
    # reattached: the running job is shown and can be stopped from the page
    page.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 3", timeout=20000)
    assert page.get_attribute("body", "data-job-status") == "running"
    assert page.is_disabled("#run") and page.is_enabled("#stop")
    page.click("#stop")
    page.wait_for_selector("body[data-job-status='cancelled']", timeout=20000)
    assert not jobs(server)


def test_a_fast_double_click_on_run_queues_one_job(page, server):
    set_number(page, "scale", 0.002)
    set_number(page, "regions.beijing.living_cost", 1.1)
    speed(page, "200")
    page.locator("#run").dblclick()
    page.locator("#run").click(force=True, no_wait_after=True, timeout=2000)  # a third click, on a disabled button
    page.wait_for_timeout(800)
    running = jobs(server)
    stop_all(server)
    assert len(running) == 1, f"{len(running)} jobs were queued"


def test_stop_keeps_the_finished_replications(page, server):
    set_number(page, "scale", 0.002)
    set_number(page, "regions.shanghai.living_cost", 1.2)
    set_number(page, "time.end_year", 2028)  # 68 quarters: long enough to stop in replication 2
    page.fill("#replications", "3")
    page.dispatch_event("#replications", "change")
    speed(page, "0")
    page.click("#run")
    page.wait_for_function("document.querySelector('#status').textContent.includes('replication 2')", timeout=60000)
    page.click("#stop")
    page.wait_for_selector("body[data-job-status='cancelled']", timeout=20000)
    status = page.inner_text("#status")
    kept = re.search(r"kept (\d) finished replication", status)
    assert kept, f"Stop discarded the finished replications: {status!r}"
    assert 1 <= int(kept.group(1)) < 3
    stored = {r["run_id"] for r in call(server, "/api/runs")["runs"]}
    assert any(r.endswith("-r0") for r in stored)


def test_compare_shows_paired_differences_that_fit_for_the_focal_region(page):
    set_number(page, "scale", 0.002)
    set_number(page, "time.end_year", 2013)
    page.locator(".control[data-key='regions.hangzhou.policy.startup_support'] input.number").fill("0.8")
    page.locator(".control[data-key='regions.hangzhou.policy.startup_support'] input.number").dispatch_event("change")
    show(page, "compare")
    page.fill("#compare-reps", "2")
    page.click("#compare")
    page.wait_for_selector("body[data-compare-status='done']", timeout=60000)
    header = page.inner_text("#compare-table thead")
    body = page.inner_text("#compare-table tbody")
    assert "B − A" in header, f"no paired difference: {header!r}"
    assert not re.search(r"\[\s*[−-]\d", body), "intervals that go negative for counts"
    assert "fewer than 5 pairs" in page.inner_text("#compare-note")  # no interval below 5, and it says why
    assert "births — hangzhou" in body and "births — world" in body  # the focal region, not only world totals
    page.select_option("#focal", "shenzhen")
    assert "births — shenzhen" in page.inner_text("#compare-table tbody")
    assert "regions.hangzhou.policy.startup_support" in page.inner_text("#compare-changed")  # the changed lever named
    fits = page.evaluate("""() => { const t = document.querySelector('#compare-table'); const w = t.parentElement;
        const last = t.querySelector('thead th:last-child').getBoundingClientRect();
        return w.scrollWidth <= w.clientWidth + 1 && last.right <= window.innerWidth; }""")
    assert fits, "the comparison table overflows and hides side B"
    # from 5 pairs up: bootstrap intervals
    page.fill("#compare-reps", "5")
    set_number(page, "time.end_year", 2012)
    page.click("#compare")
    page.wait_for_selector("body[data-compare-status='done']", timeout=60000)
    page.wait_for_function("document.querySelector('#compare-table thead').textContent.includes('95% interval')")
    assert re.search(r"\[[\d.,−-]+, [\d.,−-]+\]", page.inner_text("#compare-table tbody"))


def test_every_plot_shows_mean_and_band_over_replications(page):
    set_number(page, "scale", 0.002)
    set_number(page, "time.end_year", 2013)
    set_number(page, "regions.hangzhou.policy.procurement", 40)
    page.fill("#replications", "3")
    page.dispatch_event("#replications", "change")
    speed(page, "0")
    page.click("#run")
    page.wait_for_selector("body[data-job-status='done']", timeout=60000)
    for chart in ("dragons", "talent", "capital", "gap", "maturity", "demand"):
        assert page.get_attribute(f"#chart-{chart}", "data-bands") == "3", f"{chart}: only the first replication"
    assert "95% band" in page.inner_text("#plots-note")


def test_sliders_span_plausible_ranges_and_explain_themselves(page):
    subsidy = page.locator(".control[data-key='regions.hangzhou.policy.talent_subsidy'] input.slider")
    assert float(subsidy.get_attribute("max")) <= 30, "talent subsidy slider far wider than plausible"
    cost = page.locator(".control[data-key='regions.hangzhou.living_cost'] input.slider")
    assert float(cost.get_attribute("max")) <= 3 and float(cost.get_attribute("min")) >= 0.3, "living cost slider 0–10"
    # one click in the middle of the subsidy slider gives a plausible value, not 50
    box = subsidy.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert (
        float(page.locator(".control[data-key='regions.hangzhou.policy.talent_subsidy'] input.number").input_value())
        <= 20
    )
    # a one-line explanation on hover and on focus
    page.hover(".control[data-key='regions.hangzhou.policy.startup_support'] .control-label")
    assert page.locator("#tip").is_visible() and "experiment" in page.inner_text("#tip")
    page.mouse.move(5, 5)
    page.focus(".control[data-key='regions.hangzhou.living_cost'] input.number")
    assert page.locator("#tip").is_visible() and "Cost-of-living" in page.inner_text("#tip")
    assert "index" in page.inner_text(".control[data-key='regions.hangzhou.living_cost'] .unit")


def test_every_term_is_defined_on_the_page(page):
    show(page, "info")
    assert page.locator("#glossary").count() == 1, "no Info panel"
    text = page.inner_text("#glossary")
    for word in ("dragon", "gap", "births", "inflow %/y 20-24", "returned", "usable from"):
        assert re.search(rf"^{re.escape(word)}\b", text, re.M), word
    show(page, "plots")
    page.hover("#plots .term[data-term='gap']")
    assert "frontier" in page.inner_text("#tip")


def test_the_report_fits_the_page_and_formats_numbers(browser, tmp_path):
    from hardtech.analysis.report import write_report
    from hardtech.runner import summarise

    results = [
        hardtech.run(
            "hangzhou",
            seed=7,
            replication=k,
            overrides={"scale": 0.002, "time.end_year": 2026, "regions.hangzhou.living_cost": 0.8},
        )
        for k in range(2)
    ]
    summary = summarise(results)  # means over 2 replications: floats such as 211.0
    assert any(isinstance(r["births"], float) for r in summary["regions"])
    tables = {k: results[0].frame(k) for k in ("step_metrics", "region_metrics", "field_metrics")}
    meta = {"scenario": "hangzhou", "seed": 7, "replications": 2, "run_id": results[0].run_id}
    kwargs = {"scenario": results[0].scenario}
    try:
        path = write_report(tmp_path / "r.html", "report", {**summary, "meta": meta}, tables, **kwargs)
    except TypeError:  # an older write_report without the scenario
        path = write_report(tmp_path / "r.html", "report", {**summary, "meta": meta}, tables)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    pg = context.new_page()
    pg.goto(path.as_uri())
    try:
        widths = pg.evaluate("""() => [...document.querySelectorAll('table')].map(t => [t.scrollWidth,
            t.closest('section, main').clientWidth])""")
        assert all(w <= c + 1 for w, c in widths), f"a table is wider than the page: {widths}"
        cells = pg.evaluate("() => [...document.querySelectorAll('td')].map(td => td.textContent.trim())")
        assert not [c for c in cells if re.fullmatch(r"[\d,]+\.0", c)], "counts printed as 211.0"
        ids = pg.evaluate("""() => { const t = [...document.querySelectorAll('table')]
            .find(t => t.textContent.includes('valuation'));
            if (!t) return []; const i = [...t.querySelectorAll('th')].findIndex(th => /firm/.test(th.textContent));
            return [...t.querySelectorAll('tbody tr')].map(tr => tr.children[i].textContent); }""")
        assert ids and not [i for i in ids if "," in i], "firm ids printed with thousands separators"
        titles = pg.evaluate("""() => [...document.querySelectorAll('.plotly-graph-div')].map(d =>
            Object.entries(d.layout).filter(([k]) => k.startsWith('yaxis'))
            .map(([, a]) => (a.title && a.title.text) || ''))""")
        gap, fields = titles[4], titles[1]
        assert all("log capability" in t for t in gap), f"gap axes without unit: {gap}"
        assert any("maturity" in t and "0–1" in t for t in fields), f"maturity axis without unit: {fields}"
        text = pg.inner_text("main")
        assert "regions.hangzhou.living_cost: 1 → 0.8" in text, "the report does not say which levers were changed"
        assert "Glossary" in text and "inflow %/y 20-24" in pg.inner_text("#glossary ~ section")
    finally:
        context.close()


def test_past_runs_can_be_labelled_and_deleted(page, server):
    info = call(server, "/api/jobs/run", {"overrides": {"scale": 0.002, "time.end_year": 2012}, "seed": 11})
    run_id = wait_job(lambda p: call(server, p), info["id"], {"done"})["run_ids"][0]
    show(page, "runs")
    page.click("#refresh-runs")
    row = page.locator(f"#runs tbody tr[data-run='{run_id}']")
    row.locator("button.label-run").click()
    row.locator("input.label-input").fill("baseline 2012")
    row.locator("input.label-input").press("Enter")
    page.wait_for_function(
        f"document.querySelector(\"#runs tbody tr[data-run='{run_id}']\").textContent.includes('baseline 2012')"
    )
    assert {r["run_id"]: r for r in call(server, "/api/runs")["runs"]}[run_id]["label"] == "baseline 2012"
    page.locator(f"#runs tbody tr[data-run='{run_id}'] button.delete-run").click()
    page.wait_for_function(f"!document.querySelector(\"#runs tbody tr[data-run='{run_id}']\")")
    assert run_id not in {r["run_id"] for r in call(server, "/api/runs")["runs"]}


def test_the_world_and_its_firms_can_be_seen(page):
    set_number(page, "scale", 0.002)
    set_number(page, "time.end_year", 2016)
    speed(page, "0")
    page.click("#run")
    page.wait_for_selector("body[data-job-status='done']", timeout=60000)
    show(page, "world")
    assert page.locator("svg#world g.region").count() == 6, "no view of the world"
    assert page.locator("svg#world circle.firm").count() > 20
    flows = page.locator("svg#world path.flow")
    assert flows.count() > 0 and float(flows.first.get_attribute("stroke-width")) > 0
    page.locator("svg#world circle.firm").last.click()  # the inspector: click a firm, see it
    page.wait_for_selector("#bio[data-state='ready']", timeout=30000)
    assert "Funding rounds" in page.inner_text("#bio-body")


def test_load_ones_own_scenario_file_with_errors_at_the_field(page, tmp_path):
    from hardtech.scenario import load, to_toml

    text = to_toml(load("hangzhou", {"scale": 0.002, "regions.beijing.living_cost": 0.9}))
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace("living_cost = 0.9", "living_cost = -3.0"))
    page.set_input_files("#scenario-file", str(bad))
    page.wait_for_selector("#file-error:not([hidden])")
    assert "regions.beijing.living_cost" in page.inner_text("#file-error")
    assert page.locator(".control.invalid[data-key='regions.beijing.living_cost']").count() == 1
    good = tmp_path / "mine.toml"
    good.write_text(text)
    page.set_input_files("#scenario-file", str(good))
    page.wait_for_function("document.body.dataset.base.startsWith('file:')")
    assert page.locator(".control[data-key='regions.beijing.living_cost'] input.number").input_value() == "0.9"
    assert "base=file%3A" in page.url or "base=file:" in page.url


def test_a_sweep_runs_from_the_page_and_reopens(page, server):
    set_number(page, "scale", 0.002)
    set_number(page, "time.end_year", 2012)
    show(page, "experiments")
    page.fill("#sweep-samples", "3")
    page.dispatch_event("#sweep-samples", "change")
    page.click("#sweep-run")
    page.wait_for_selector("body[data-sweep-status='done']", timeout=90000)
    sweep = page.get_attribute("#sweep-result", "data-sweep")
    assert page.get_attribute("#sweep-result", "data-rows") == "3"
    page.reload()
    page.wait_for_selector("body[data-ready='1']")
    show(page, "experiments")
    page.locator(f"#sweeps tbody tr[data-sweep='{sweep}'] button.open-sweep").click()
    page.wait_for_selector(f"#sweep-result[data-sweep='{sweep}']")
    assert page.locator("#sweep-corr tbody tr").count() == 2


def test_a_lost_server_is_shown_within_seconds(browser, tmp_path):
    with serving(tmp_path, pace_ms=100) as (url, srv):
        context = browser.new_context()
        pg = context.new_page()
        pg.goto(url + "/")
        pg.wait_for_selector("body[data-ready='1']", timeout=20000)
        box = pg.locator(".control[data-key='scale'] input.number")
        box.fill("0.002")
        box.dispatch_event("change")
        pg.click("#run")
        pg.wait_for_function("Number(document.querySelector('#chart-dragons').dataset.points) >= 2", timeout=30000)
        srv.should_exit = True  # the server goes away mid-run
        t0 = time.monotonic()
        pg.wait_for_selector("#offline:not([hidden])", timeout=10000)
        seconds = time.monotonic() - t0
        assert seconds < 8, seconds
        assert "unreachable" in pg.inner_text("#offline").lower() and pg.is_disabled("#run")
        context.close()
