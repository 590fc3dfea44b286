"""The Data page's online lookups in headless Chromium: off by default, run in the background, shown live, written.

The app (app.py) runs on a loopback port with its online settings (``ESTATES_ONLINE_*``) pointing at a fake
postcodes.io/Nominatim server on 127.0.0.1 (tests/online_server.py) and its store on a private copy of the seeded
store. An admin (the embedded default: the OS user) uploads the council asset register with its coordinates blanked
(about 240 rows need online help), switches the lookups on and previews. While the job runs the progress element is
visible and counts up, the page answers other widgets (the sidebar search) and another page opens; back on the Data
page the preview shows the online counts, and it is written to the store. The fake server must have received the
lookups; the browser must not have tried any other host (the ``page`` fixture's guard).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from online_registers import write_council_register_without_coordinates
from online_server import FakeGeoServer
from playwright.sync_api import Page

from estates.store import open_store
from geo.online import METHOD_NOMINATIM

from .harness import ARTIFACTS_DIR, REPO_ROOT, run_streamlit, search_estate, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = REPO_ROOT / "app.py"
PARTNER = "Council copy"
#: Gap between two requests to the fake Nominatim: ~240 addresses then take about 6 s, long enough to watch.
MIN_INTERVAL_S = 0.025
_COUNTS = re.compile(r"Looking up ([\d,]+) of ([\d,]+) rows online")


@pytest.fixture
def app_url(store_path: Path, geo_server: FakeGeoServer, tmp_path: Path) -> Iterator[str]:
    """The app on a private store, its online lookups pointed at the fake server (available, not enabled)."""
    env = {"ESTATES_DATABASE_URL": str(store_path), "ESTATES_ONLINE_ENABLED": "0",
           "ESTATES_ONLINE_POSTCODES_IO_URL": geo_server.url, "ESTATES_ONLINE_NOMINATIM_URL": geo_server.url,
           "ESTATES_ONLINE_CACHE_PATH": str(tmp_path / "geocache.sqlite"),
           "ESTATES_ONLINE_NOMINATIM_MIN_INTERVAL_S": str(MIN_INTERVAL_S),
           "ESTATES_ONLINE_CONTACT": "estates-tests@example.invalid", "ESTATES_ONLINE_TRUST_ENV": "0"}
    with run_streamlit(APP, env=env) as url:
        yield url


def _progress_counts(page: Page) -> tuple[int, int] | None:
    """(done, total) from the progress element's text, or None when it is not counting lookups (yet)."""
    bar = page.locator('[data-testid="stProgress"]')
    if not bar.count():
        return None
    found = _COUNTS.search(bar.first.inner_text())
    return (int(found[1].replace(",", "")), int(found[2].replace(",", ""))) if found else None


def _wait_counting(page: Page, above: int = -1, timeout_s: float = 30) -> tuple[int, int]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        counts = _progress_counts(page)
        if counts is not None and counts[0] > above:
            return counts
        page.wait_for_timeout(50)
    raise AssertionError(f"the progress element did not count past {above} lookups in {timeout_s} s")


def test_online_lookups_run_in_the_background_with_live_progress(page, app_url, geo_server, store_path, tmp_path,
                                                                  network_guard, console_log):
    register = write_council_register_without_coordinates(tmp_path / "upload")
    page.goto(app_url + "data")
    page.get_by_text("Load a register", exact=True).first.wait_for(timeout=60_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(register)
    page.get_by_text("rows read as CSV").wait_for(timeout=30_000)
    name = page.get_by_label("New partner's name")
    name.fill(PARTNER)
    name.press("Enter")
    wait_until_idle(page)

    # Off by default; the caption says where rows would go.
    switch = page.get_by_role("switch", name="Look up missing locations online")
    assert not switch.is_checked()
    caption = page.get_by_text("Sends to postcodes.io").inner_text()
    assert f"({geo_server.url})" in caption
    assert "Answers are cached" in caption
    assert geo_server.requests == []

    page.get_by_text("Look up missing locations online", exact=True).click()  # as a person does: the label
    wait_until_idle(page)
    assert switch.is_checked()
    page.get_by_text("Look up missing locations online", exact=True).scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS_DIR / "app_data_online_switch.png")
    page.get_by_role("button", name="Preview the load").click()

    # Running: the progress element is there and counts up on its own (the fragment polls; no click needed).
    page.locator('[data-testid="stProgress"]').wait_for(state="visible", timeout=30_000)
    first = _wait_counting(page)
    page.screenshot(path=ARTIFACTS_DIR / "app_data_online_progress.png")
    later = _wait_counting(page, above=first[0])
    assert later[1] == first[1] > 200

    # The page answers other widgets meanwhile: a sidebar search runs the whole script and finishes mid-job.
    search_estate(page, "library")
    after_search = _wait_counting(page, above=later[0])
    assert after_search[0] < after_search[1], "the lookups ended before the page could be used meanwhile"
    assert page.get_by_label("Search name, postcode or UPRN").input_value() == "library"

    # ... and so does the rest of the app: another page opens while the lookups go on.
    page.get_by_role("link", name="Profiles").click()
    page.get_by_text("Buildings by status").first.wait_for(timeout=30_000)
    opened = time.monotonic()
    page.get_by_role("link", name="Data").click()

    # Back on the Data page: the job survived the visit and its result is shown.
    page.get_by_text("Located online").first.wait_for(timeout=60_000)
    wait_until_idle(page)
    searches = geo_server.requests_to("/search")
    assert searches[-1].t > opened, "the lookups had ended before another page was opened"
    assert page.locator('[data-testid="stException"]').count() == 0
    metrics = {m.locator('[data-testid="stMetricLabel"]').inner_text().strip():
               m.locator('[data-testid="stMetricValue"]').inner_text().strip()
               for m in page.locator('[data-testid="stMetric"]').all()}
    assert metrics["Rows"] == "608"
    assert metrics["Looked up online"] == f"{first[1]:,}"
    located = int(metrics["Located online"])
    assert located >= 4
    summary = page.get_by_text(re.compile(r"rows looked up online: \d+ located \(Nominatim \d+\)")).inner_text()
    assert f"{first[1]:,} of 608 rows looked up online" in summary
    page.get_by_text("Previewing").scroll_into_view_if_needed()  # the app scrolls inside its own pane
    page.screenshot(path=ARTIFACTS_DIR / "app_data_online_result.png")
    print(f"\nlookups went on {searches[-1].t - opened:.1f} s after another page had opened; "
          f"{after_search[0]} of {after_search[1]} done after the sidebar search")

    # Written to the store as previewed.
    page.get_by_text(f"Write these 608 rows for {PARTNER} to the store").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Write to the store").click()
    page.get_by_text(re.compile(r"\d+ new, 0 updated, 0 unchanged, \d+ rejected")).wait_for(timeout=60_000)
    with open_store(store_path) as store:
        rows = store.buildings()
        rejected = store.rejected_rows()
    mine = rows[rows["partner"] == PARTNER]
    # Every row is accounted for: records of the estate, or rejected rows kept with the load (never records).
    assert len(mine) + int((rejected["partner"] == PARTNER).sum()) == 608
    assert int((mine["geocode_method"] == METHOD_NOMINATIM).sum()) == located

    # The lookups reached the fake server, and nothing else was tried from the browser.
    assert len(searches) > 200
    assert geo_server.requests_to("/postcodes")
    assert all("estates-tests@example.invalid" in r.headers.get("User-Agent", "") for r in geo_server.requests)
    assert network_guard.blocked == [], network_guard.report()
    assert not [e for e in console_log.errors if "Error" in e and "favicon" not in e], console_log.errors
