"""The demo's main pages at 360 px in Korean: no serious or critical axe-core violations (axe-core
bundled by axe-playwright-python, run through page.evaluate, so nothing comes from a CDN and the CSP
holds), and each page under 100 KB of HTML + CSS + JS."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from bench.pages_bytes import BUDGET, measure
from farmstore import demo

pytestmark = pytest.mark.browser


@pytest.fixture
def demo_site(app):
    with app.app_context():
        demo.seed(now=datetime.now(UTC))
    return app


def test_demo_pages_have_no_serious_accessibility_violations_and_stay_light(demo_site, live_server, page: Page, capsys):
    figures = measure(demo_site)
    axe = Axe()
    serious = {}
    for name, (url, _html, total) in figures.items():
        page.goto(live_server + url)
        assert page.locator("html").get_attribute("lang") == "ko"
        result = axe.run(page).response
        assert len(result["passes"]) > 10  # axe really ran over the page
        violations = result["violations"]
        found = [
            f"{v['id']} ({v['impact']}, {len(v['nodes'])})"
            for v in violations
            if v["impact"] in {"serious", "critical"}
        ]
        if found:
            serious[name] = found
        with capsys.disabled():
            print(f"\n  {name:10} {total / 1024:5.1f} KB html+css+js,", end=" ")
            print(f"axe: {len(result['passes'])} rules passed, {len(violations)} violations, {len(found)} serious")
        assert total < BUDGET, f"{url} weighs {total} bytes"
    assert serious == {}
