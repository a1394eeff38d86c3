"""Take the README's dashboard screenshots from the real page (Debian chromium via Playwright).

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/img] [--scale 0.005]

Starts the dashboard on a free port with an empty results folder, runs the Hangzhou preset
(seed 7) in the page, and saves the plots (dashboard.png), the world view at the last quarter
(dashboard-world.png) and the biography of one of Hangzhou's dragons, opened by clicking its mark
(dashboard-biography.png). About a minute on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _web import CHROMIUM, CHROMIUM_ARGS, serving  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    parser.add_argument("--scale", type=float, default=0.005)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, serving(folder, pace_ms=0) as (url, _srv), sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.goto(f"{url}/?preset=hangzhou&seed=7&o.scale={args.scale}&speed=0")
        page.wait_for_selector("body[data-ready='1']", timeout=30000)
        page.click("#run")
        page.wait_for_selector("body[data-job-status='done']", timeout=300000)
        page.wait_for_timeout(500)
        page.screenshot(path=str(args.out / "dashboard.png"))
        page.click("#tabs button[data-tab='world']")
        page.wait_for_timeout(500)
        page.screenshot(path=str(args.out / "dashboard-world.png"))
        firm = page.evaluate("""() => {
          const marks = [...document.querySelectorAll("svg#world g.region[data-region='hangzhou'] circle.firm.dragon")];
          for (const c of marks.reverse()) {
            const r = c.getBoundingClientRect();
            if (document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2) === c) return c.dataset.firm;
          }
          return null; }""")
        if firm is None:
            raise SystemExit("no Hangzhou dragon mark to click")
        page.locator(f"svg#world circle.firm[data-firm='{firm}']").click()
        page.wait_for_selector("#bio[data-state='ready']", timeout=120000)
        page.wait_for_timeout(300)
        page.screenshot(path=str(args.out / "dashboard-biography.png"))
        browser.close()
    print(f"wrote {args.out}/dashboard.png, dashboard-world.png, dashboard-biography.png (firm {firm})")


if __name__ == "__main__":
    main()
