"""The robustness report in headless Chromium (Playwright, Debian's /usr/bin/chromium), offline.

Writes the report of a tiny study, opens it from file:// with every network request refused,
and checks that the claims table and one plot per claim render; saves test-artifacts/robustness.png.
`make test` installs chromium when missing (scripts/ensure-chromium.sh); without it this module skips.
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


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    from hardtech.evidence.robustness import RobustnessStore, Settings, code_fingerprint, run_robustness
    from hardtech.evidence.robustness_report import write_robustness_report
    from hardtech.scenario import load

    sc = load("hangzhou", {"scale": 0.002, "time.end_year": 2013})
    settings = Settings(
        claims=("H2", "H3"),
        region="hangzhou",
        parameters=("entrepreneurship.young_founding_factor", "labour.cost_weight"),
        trajectories=1,
        keep=2,
        points=4,
        replications=2,
    )
    folder = tmp_path_factory.mktemp("robustness-report")
    with RobustnessStore(folder / "study.duckdb", code_fingerprint()) as store:
        result = run_robustness(sc, settings, store)
    path = write_robustness_report(
        folder / "study.html", result, {"title": "hardtech robustness — test", "scale": 0.002}
    )
    return path, result


def test_report_renders_offline(report):
    path, result = report
    with offline_page(sync_api) as (page, outside, errors):
        page.goto(path.as_uri())
        n = len(result["claims"])
        page.wait_for_function(f"document.querySelectorAll('.js-plotly-plot .main-svg').length >= {n}", timeout=20000)
        for c in result["claims"]:
            plot = page.locator(f"#plot-{c['claim']}")
            assert plot.count() == 1
            # one subplot per plotted deciding parameter, each with a line of supported and one of contrary shares
            assert plot.locator(".scatterlayer .trace").count() == 2 * min(3, len(c["deciding"]))
        rows = page.locator("table.claims tbody tr")
        assert rows.count() == n and "H2" in rows.nth(0).inner_text()
        assert "Screening" in page.locator(".banner").inner_text()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "robustness.png"), full_page=True)
        assert not outside, f"the report asked the network for {outside[:3]}"
        assert not errors, errors
