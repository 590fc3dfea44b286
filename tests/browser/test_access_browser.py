"""The North locality page's "Access to sites" section in headless Chromium, every outside host blocked.

A planner chooses a kind of site and a site that closes: the map shows the rings round it, the top gap LSOAs and the
closing site; the "if it closes" table appears with the figures of :func:`estates.analysis.access.access_tables`; and
the
table's CSV download holds exactly what the table shows.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Frame, Page

from estates.analysis.access import GAP_TOP, RING_COLOURS, access_analysis, access_tables, facility_points, kind_label
from estates.service import read_estate
from estates.store import open_store
from pages._access import closure_view

from .harness import ARTIFACTS_DIR, ConsoleLog, choose_option, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
SITE = "Lostock Library"

_COUNT_JS = """(name) => window.map ? Object.values(window.map._layers)
    .filter(l => l.options && l.options.className === name).length : -1"""


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _access_map(page: Page, timeout_s: float = 60) -> Frame:
    """The map frame that draws the access layers (the page has two maps)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.evaluate(_COUNT_JS, "access-ring") > 0:
                    return frame
            except Exception:  # noqa: BLE001 - a frame navigating or without a map yet
                continue
        page.wait_for_timeout(250)
    raise AssertionError("no map with access rings on the page")


def _wait_count(frame: Frame, name: str, count: int, timeout_s: float = 30) -> int:
    """Wait until the map has ``count`` layers of class ``name`` (st_folium redraws its layers after a rerun)."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        seen = int(frame.evaluate(_COUNT_JS, name))
        if seen == count:
            return seen
        frame.page.wait_for_timeout(200)
    return seen


def _choose(page: Page, widget: str, label: str, option: str) -> None:
    choose_option(page, label, option, widget=widget)


def test_choosing_a_kind_and_a_site_shows_rings_gap_and_the_closure_table_and_its_export(
        page: Page, app_url: str, module_store: Path, console_log: ConsoleLog) -> None:
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status >= 400 else None)
    page.goto(app_url)
    page.get_by_role("link", name="North neighbourhood").click()
    page.get_by_text("Access to sites", exact=True).wait_for(timeout=90_000)
    wait_until_idle(page, timeout_ms=60_000)

    _choose(page, "stSelectbox", "Kind of site", kind_label("gp"))
    _choose(page, "stSelectbox", "Kind of site", kind_label("library"))
    _choose(page, "stMultiSelect", "If these sites close", f"{SITE} (North)")
    table = page.locator('[data-testid="stTable"]')
    table.wait_for(timeout=60_000)

    with open_store(module_store) as store:
        estate = read_estate(store).records
    libraries = facility_points(estate, "library")
    closed = libraries.loc[libraries["name"] == SITE, "facility_id"].tolist()
    analysis = access_analysis(estate, "library", closed=closed, neighbourhood="North")
    expected = closure_view(access_tables(analysis)["closure_by_imd_decile"])

    # The table as the browser shows it.
    headers = [h.inner_text().strip() for h in table.locator("thead th").all()]
    rows = [[c.inner_text().strip() for c in row.locator("td").all()] for row in table.locator("tbody tr").all()]
    shown = pd.DataFrame(rows, columns=headers[-len(rows[0]):])
    assert list(shown.columns) == list(expected.columns)
    assert shown.to_numpy().tolist() == expected.astype(str).to_numpy().tolist()
    assert int(expected["Residents whose nearest closes"].sum()) > 1_000

    # The map: three rings round the closing site, the top gap LSOAs of the North, the closing site in red.
    frame = _access_map(page)
    assert _wait_count(frame, "access-closed", 1) == 1
    assert _wait_count(frame, "access-ring", len(RING_COLOURS)) == len(RING_COLOURS)
    assert _wait_count(frame, "access-gap", min(GAP_TOP, len(analysis.gap()))) == min(GAP_TOP, len(analysis.gap()))
    assert _wait_count(frame, "access-site", len(libraries) - 1) == len(libraries) - 1
    frame.frame_element().scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS_DIR / "app_locality_access.png")

    # The export matches the view.
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Download this table (CSV)").click()
    data = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    exported = closure_view(pd.read_csv(io.StringIO(data)))
    assert exported.astype(str).to_numpy().tolist() == shown.to_numpy().tolist()
    assert not console_log.errors, missing
