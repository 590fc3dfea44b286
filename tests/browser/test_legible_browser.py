"""Legibility in headless Chromium at a desktop width (1600 × 1000), every outside host blocked.

The "Estate by partner and status" chart labels every bar with its partner's whole name (Vega renders SVG: the axis
labels are text in the page), the pilot area has one name in the menu and the page, and the estate map takes most of
the page's width.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from estates.analysis.profiles import estate_breakdown
from estates.service import read_estate
from estates.store import open_store

from .harness import ARTIFACTS_DIR, NetworkGuard, assert_map_rendered, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
_LABELS_JS = """() => Array.from(document.querySelectorAll('[data-testid="stVegaLiteChart"] .role-axis-label text'))
    .map(t => t.textContent)"""


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


@pytest.fixture
def wide_page(chromium: Browser) -> Iterator[Page]:
    context = chromium.new_context(viewport={"width": 1600, "height": 1000})
    guard = NetworkGuard()
    guard.install(context)
    yield context.new_page()
    context.close()
    assert not guard.blocked, guard.report()


def _squashed(text: str) -> str:
    return "".join(text.split())  # a wrapped label's lines are separate tspans: compare without the spaces


def test_every_bar_of_estate_by_partner_has_its_whole_name(wide_page: Page, app_url: str, module_store: Path) -> None:
    with open_store(module_store) as store:
        records = read_estate(store).records
    breakdown = estate_breakdown(records[records["neighbourhood"].astype("object") == "North"])
    partners = [p for p in breakdown["partner"] if p != "total"]

    wide_page.goto(app_url + "locality")
    wide_page.get_by_text("Estate by partner and status").wait_for(timeout=60_000)
    chart = wide_page.locator('[data-testid="stVegaLiteChart"]').first
    chart.scroll_into_view_if_needed()
    wide_page.wait_for_function(f"() => ({_LABELS_JS})().length > {len(partners)}", timeout=30_000)
    labels = wide_page.evaluate(_LABELS_JS)

    assert len(partners) >= 15
    shown = {_squashed(label) for label in labels}
    missing = [p for p in partners if _squashed(p) not in shown]
    assert not missing, f"bars without their label: {missing}"
    assert not any("…" in label for label in labels)
    chart.screenshot(path=ARTIFACTS_DIR / "legible_estate_by_partner.png")

    # One name for the pilot area: the menu entry is the page's heading.
    assert wide_page.get_by_role("link", name="North neighbourhood").count() == 1
    assert wide_page.get_by_role("heading", name="North neighbourhood").count() == 1


def test_the_estate_map_uses_most_of_the_page_width(wide_page: Page, app_url: str) -> None:
    wide_page.goto(app_url)
    wide_page.get_by_text("Trafford estate map", exact=True).wait_for(timeout=60_000)
    report = assert_map_rendered(wide_page, "legible_estate_map")
    wait_until_idle(wide_page)
    content = wide_page.evaluate("""() => {
        const e = document.querySelector('[data-testid="stMainBlockContainer"]'), s = getComputedStyle(e);
        return e.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight); }""")

    assert report.iframe_box is not None
    assert report.iframe_box["width"] >= 0.95 * content
