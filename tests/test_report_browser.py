"""The run report (`hardtech run`'s HTML) in headless Chromium (Playwright, /usr/bin/chromium), offline.

Opens a report written from a small run from file:// with every network request refused and checks
that its five charts draw the traces the figures hold, with no script error; saves
test-artifacts/report.png. `make test` installs chromium when missing; without it this module skips.
"""

from __future__ import annotations

import pytest

from _web import ARTIFACTS, CHROMIUM, offline_page

if not CHROMIUM.exists():
    pytest.skip(
        f"{CHROMIUM} is missing (as root: apt-get install -y chromium, or run `make test`)", allow_module_level=True
    )
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright (Python) is not installed: pip install -e '.[dev]'"
)


def test_the_run_report_draws_every_chart_offline(small_run, tmp_path):
    from hardtech.analysis.report import _PLOTS, PLOT_TITLES, write_report
    from hardtech.runner import summarise

    tables = {k: small_run.frame(k) for k in ("step_metrics", "region_metrics", "field_metrics")}
    path = write_report(tmp_path / "run.html", "hardtech — test", summarise([small_run]), tables)
    expected = [len(build(tables)["data"]) for build in _PLOTS.values()]
    with offline_page(sync_api) as (page, outside, errors):
        page.goto(path.as_uri())
        page.wait_for_function(
            f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {len(PLOT_TITLES)}", timeout=20000
        )
        drawn = page.evaluate(
            "[...document.querySelectorAll('.js-plotly-plot')].map(p => p.querySelectorAll('.trace').length)"
        )
        assert drawn == expected
        # axes carry their titles; the plotly_white template is applied (its grid colour, #EBF0F8)
        assert page.locator(".js-plotly-plot .xtitle").first.text_content() == "year"
        grid = page.evaluate("document.querySelector('.js-plotly-plot .ygrid').style.stroke")
        assert grid == "rgb(235, 240, 248)"
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        assert not outside, f"the report asked the network for {outside[:3]}"
        assert not errors, errors
