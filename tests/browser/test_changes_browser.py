"""What changed in a real browser: a person's change is in the feed filtered by person and dates, its link opens the
site on Classify, and the CSV and Excel downloads hold it (Debian Chromium, every outside host blocked)."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page

from estates.service import LOCAL_TIME, read_estate, resolve_site, set_site_status
from estates.store import open_store

from .harness import ARTIFACTS_DIR, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
TOWN_HALL = "trafford-council:TMBC0008/T0000001"  # Trafford Town Hall, Talbot Road
PERSON = "feed.tester@trafford.example"
REASON = "Civic offices move to Sale Waterside (browser test)"


@pytest.fixture(scope="module")
def changed(module_store: Path) -> tuple[Path, str]:
    """The module's store with two people's changes: the tester's to the Town Hall, someone else's to 3 sites."""
    with open_store(module_store) as store:
        estate = read_estate(store)
        town_hall = resolve_site(estate, TOWN_HALL)
        others = [s for s in estate.sites["site_id"] if s != town_hall][:3]
        set_site_status(store, others, "core", reason="Another person's bulk change", actor="someone.else")
        set_site_status(store, [town_hall], "surplus", reason=REASON, actor=PERSON)
    return module_store, town_hall


@pytest.fixture(scope="module")
def app_url(changed: tuple[Path, str]) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(changed[0])}) as url:
        yield url


def _cells(page: Page, *, until: Callable[[list[str]], bool] = bool, timeout_s: float = 30) -> list[str]:
    """The text of the feed's cells (Streamlit's grid keeps an accessible copy of what it draws), once ``until``
    holds for them (the copy follows the drawing a moment later)."""
    cells = page.locator('[data-testid="stDataFrame"]').first.locator('[role="gridcell"]')
    deadline = time.monotonic() + timeout_s
    texts: list[str] = []
    while time.monotonic() < deadline:
        texts = [c.strip() for c in cells.all_inner_texts()]
        if until(texts):
            return texts
        page.wait_for_timeout(200)
    return texts


def _choose(page: Page, label: str, option: str) -> None:
    """Pick ``option`` in the page's (not the sidebar's) multiselect ``label`` and wait for the rerun."""
    page.get_by_test_id("stMainBlockContainer").get_by_role("combobox", name=label).click()
    page.get_by_role("option", name=option, exact=True).click()
    page.keyboard.press("Escape")
    wait_until_idle(page)


def _set_dates(page: Page, first: datetime, last: datetime) -> None:
    """Type a date range into the page's date field (day, month and year segments, as a person types them)."""
    for end, day in (("start", first), ("end", last)):
        page.get_by_role("spinbutton", name=f"day, Dates (UK time) {end} date").click()
        page.keyboard.type(f"{day:%d%m%Y}")
    page.get_by_role("heading", name="What changed").click()  # the field takes the dates when it loses focus
    wait_until_idle(page)


def test_a_persons_change_is_in_the_feed_links_to_its_site_and_downloads(page, app_url, changed, console_log,
                                                                         tmp_path):
    _, town_hall = changed
    page.goto(app_url + "changes")
    page.get_by_text("What changed", exact=True).first.wait_for(timeout=60_000)
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
    cells = _cells(page)
    assert "someone.else" in cells
    assert PERSON in cells

    # Filter by person: only the tester's change.
    _choose(page, "Who", PERSON)
    page.get_by_text("1 change of").first.wait_for(timeout=30_000)
    cells = _cells(page, until=lambda cells: "someone.else" not in cells)
    assert PERSON in cells
    assert "someone.else" not in cells
    assert "Trafford Town Hall" in cells
    assert "status set" in cells

    # Dates: the days before today hold none of it; today does.
    today = datetime.now(LOCAL_TIME)
    _set_dates(page, today - timedelta(days=9), today - timedelta(days=1))
    page.get_by_text("Nothing changed with these filters").wait_for(timeout=30_000)
    _set_dates(page, today, today)
    page.get_by_text("1 change of").first.wait_for(timeout=30_000)
    assert PERSON in _cells(page, until=lambda cells: PERSON in cells)
    page.set_viewport_size({"width": 1600, "height": 1000})
    page.screenshot(path=ARTIFACTS_DIR / "changes_filtered.png")

    # Downloads: what the table shows, in CSV and Excel.
    downloads = {}
    for label, name in (("Download CSV", "feed.csv"), ("Download Excel", "feed.xlsx")):
        wait_until_idle(page)  # a click landing during a rerun (the resize above, the previous download) is lost
        with page.expect_download(timeout=60_000) as info:
            page.locator('[data-testid="stDownloadButton"]').filter(has_text=label).locator("button").click()
        info.value.save_as(tmp_path / name)
        downloads[name] = tmp_path / name
    rows = list(csv.DictReader(io.StringIO(downloads["feed.csv"].read_text("utf-8-sig"))))
    assert [(r["Who"], r["Change"], r["Site"], r["Reason"]) for r in rows] == [
        (PERSON, "status set", "Trafford Town Hall", REASON)]
    sheet = openpyxl.load_workbook(downloads["feed.xlsx"]).active
    header, *values = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert len(values) == 1
    assert dict(zip(header, values[0], strict=True))["Site id"] == town_hall

    # Select the row: its sites are listed, each with a link; the link opens the site on Classify.
    grid = page.locator('[data-testid="stDataFrame"]').first
    box = grid.bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # the first row's selection box
    link = page.get_by_role("link", name="Open Trafford Town Hall in Classify")
    link.wait_for(timeout=30_000)
    assert page.get_by_text(REASON).count() >= 1  # the change's reason, in full
    with page.context.expect_page() as opened:
        link.click()
    site_page = opened.value
    site_page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
    site_page.get_by_text("Register records on this site").wait_for(timeout=60_000)
    wait_until_idle(site_page)
    assert site_page.get_by_role("heading", name="Trafford Town Hall").count() == 1
    assert "site=" not in site_page.url  # taken once: the person's own choices win afterwards
    site_page.get_by_text("Selected sites (1)").wait_for(timeout=30_000)  # selected, ready to act on
    site_page.get_by_text("Status: surplus (set by hand)").wait_for(timeout=30_000)  # the tester's change
    site_page.screenshot(path=ARTIFACTS_DIR / "changes_link_opened.png")
