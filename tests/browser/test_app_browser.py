"""The app itself (app.py) in headless Chromium with every outside host blocked, on a temporary store.

Each page must open and draw its map for real (non-zero size, the expected number of building markers on the
canvas, pixels painted); a click on a building shows its details; a classification made through the UI reaches the
store with the right audit entry and recolours the building on the map. The ``page`` fixture fails any test whose
page tried to reach another host. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from estates.analysis.filters import Filters, filter_sites
from estates.maps import STATUS_COLOURS
from estates.service import read_estate, resolve_site
from estates.store import open_store

from .harness import (
    ARTIFACTS_DIR,
    assert_map_rendered,
    choose_option,
    run_streamlit,
    search_estate,
    wait_until_idle,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
TOWN_HALL = "trafford-council:TMBC0008/T0000001"
TOWN_HALL_UPRN = "10091813602"

_MARKERS_JS = """() => window.map ? Object.values(window.map._layers)
    .filter(l => l.options && l.options.buildingId !== undefined).length : -1"""
# Non-transparent pixels on the map's canvases: the markers were really painted, not just created.
_PAINTED_JS = """() => Array.from(document.querySelectorAll('.leaflet-overlay-pane canvas')).reduce((n, c) => {
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) n++;
    return n; }, 0)"""
_POINT_JS = """(id) => {
    const layer = Object.values(window.map._layers).find(l => l.options && l.options.buildingId === id);
    if (!layer) return null;
    window.map.setView(layer.getLatLng(), 16, {animate: false});
    const p = window.map.latLngToContainerPoint(layer.getLatLng());
    return [p.x, p.y]; }"""
_COLOUR_JS = """(id) => { const l = Object.values(window.map._layers)
    .find(l => l.options && l.options.buildingId === id); return l ? l.options.fillColor : null; }"""


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    """The app on a loopback port, reading and writing the module's store."""
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _estate(store_path: Path):  # noqa: ANN202 - an Estate
    with open_store(store_path) as store:
        return read_estate(store)


def _located(frame) -> int:  # noqa: ANN001
    return int(frame["lat"].notna().sum())


def _wait_markers(frame: Frame, count: int, timeout_s: float = 30) -> int:
    """Wait until the map shows ``count`` building markers (Streamlit redraws them after a rerun)."""
    deadline = time.monotonic() + timeout_s
    seen = -1
    while time.monotonic() < deadline:
        seen = int(frame.evaluate(_MARKERS_JS))
        if seen == count:
            return seen
        frame.page.wait_for_timeout(200)
    return seen


def _frame_with_markers(page, count: int, timeout_s: float = 30) -> Frame | None:  # noqa: ANN001
    """The map frame showing ``count`` building markers, once one does (None if none does in time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.evaluate(_MARKERS_JS) == count:
                    return frame
            except Exception:  # noqa: BLE001, S112 - a frame navigated or detached while we looked
                continue
        page.wait_for_timeout(200)
    return None


def _wait_colour(frame: Frame, building_id: str, colour: str, timeout_s: float = 30) -> str | None:
    """The fill colour of ``building_id``'s marker once it is ``colour`` (the page reran after a save and redrew the
    map), or as it is at the timeout."""
    deadline = time.monotonic() + timeout_s
    while (seen := frame.evaluate(_COLOUR_JS, building_id)) != colour and time.monotonic() < deadline:
        frame.page.wait_for_timeout(100)
    return seen


def _click_building(frame: Frame, building_id: str, *, shows: str) -> None:
    """Click ``building_id``'s marker and wait for ``shows`` on the page; click again, as a person would, if a
    redraw of the map swallowed the first click (twice at most)."""
    for attempt in (1, 2):
        # Zooming in reports the new zoom to the app, whose rerun redraws the markers: click once that is done.
        wait_until_idle(frame.page)
        frame.page.wait_for_timeout(400)
        point = frame.evaluate(_POINT_JS, building_id)
        assert point is not None, f"{building_id} is not on the map"
        frame.locator(".leaflet-container").click(position={"x": point[0], "y": point[1]})
        try:
            frame.page.get_by_text(shows).first.wait_for(timeout=15_000 if attempt == 1 else 30_000)
            return
        except PlaywrightTimeoutError:
            if attempt == 2:
                raise


@pytest.mark.parametrize(
    ("path", "name", "title"),
    [("", "app_estate_map", "Trafford estate map"), ("classify", "app_classify", "Classify sites"),
     ("locality", "app_locality", "North neighbourhood")],
)
def test_map_pages_open_and_draw_every_building_offline(page, app_url, module_store, console_log, path, name, title):
    page.goto(app_url + path)
    page.get_by_text(title, exact=True).first.wait_for(timeout=60_000)
    report = assert_map_rendered(page, name, console=console_log)
    estate = _estate(module_store)
    records = estate.records
    # One marker per site on the estate map and Classify; the locality page draws the records of its area.
    expected = _located(estate.sites if path != "locality" else records[records["neighbourhood"] == "North"])

    # The locality page has a second map further down (access to sites): look at the one with the buildings.
    frame = _frame_with_markers(page, expected) or report.frame
    assert _wait_markers(frame, expected) == expected
    assert frame.evaluate(_PAINTED_JS) > 1000
    assert report.iframe_box["height"] >= 500
    assert report.frame.locator(".leaflet-control-layers").count() == 1
    assert "Crown copyright" in report.frame.locator(".leaflet-control-attribution").inner_text()
    assert report.frame.locator(".estates-legend").first.is_visible()
    page.screenshot(path=ARTIFACTS_DIR / f"{name}.png")


@pytest.mark.parametrize(
    ("path", "title", "text"),
    [("profiles", "Area profiles", "Buildings by status"), ("data", "Data: partner registers", "Registers loaded")],
)
def test_table_pages_open_offline(page, app_url, console_log, path, title, text):
    page.goto(app_url + path)
    page.get_by_text(title, exact=True).first.wait_for(timeout=60_000)
    page.get_by_text(text).first.wait_for(timeout=30_000)
    wait_until_idle(page)

    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=ARTIFACTS_DIR / f"app_{path}.png")


def test_filter_draws_the_expected_markers_and_persists_across_pages(page, app_url, module_store, console_log):
    page.goto(app_url)
    report = assert_map_rendered(page, "app_filter_all", console=console_log)
    estate = _estate(module_store)
    assert _wait_markers(report.frame, _located(estate.sites)) == _located(estate.sites)

    search_estate(page, "library")
    libraries = filter_sites(estate, Filters(search="library"))
    expected = _located(libraries)
    assert 5 < expected < 100
    assert _wait_markers(report.frame, expected) == expected
    page.get_by_text(f"{len(libraries):,} of {len(estate.sites):,} sites shown").first.wait_for()

    # Same session, another page: the filter is still applied.
    page.get_by_role("link", name="Classify").click()
    page.get_by_text("Classify sites", exact=True).wait_for()
    classify = assert_map_rendered(page, "app_filter_classify", console=console_log)
    assert _wait_markers(classify.frame, expected) == expected
    assert page.get_by_label("Search name, postcode or UPRN").input_value() == "library"


def test_clicking_a_site_shows_its_occupants_and_records(page, app_url, module_store, console_log):
    town_hall = resolve_site(_estate(module_store), TOWN_HALL)
    page.goto(app_url)
    search_estate(page, TOWN_HALL_UPRN)
    report = assert_map_rendered(page, "app_details", console=console_log)
    assert _wait_markers(report.frame, 1) == 1

    _click_building(report.frame, town_hall, shows="Register records on this site")

    assert page.get_by_role("heading", name="Trafford Town Hall").count() == 1
    for section in ("Site", "Classification"):
        assert page.get_by_text(section, exact=True).count() >= 1
    page.screenshot(path=ARTIFACTS_DIR / "app_details.png")


def test_classifying_through_the_ui_reaches_the_store_and_the_map(page, app_url, module_store, console_log):
    town_hall = resolve_site(_estate(module_store), TOWN_HALL)
    with open_store(module_store) as store:
        before = store.building(TOWN_HALL)
    assert before.effective_status == "key"
    page.goto(app_url + "classify")
    search_estate(page, TOWN_HALL_UPRN)
    report = assert_map_rendered(page, "app_classify_before", console=console_log)
    assert _wait_markers(report.frame, 1) == 1

    _click_building(report.frame, town_hall, shows="Selected sites (1)")  # selects the site (and its table row)
    page.get_by_text("History", exact=False).first.wait_for()
    page.locator('[data-testid="stButtonGroup"]').get_by_text("core", exact=True).click()
    reason = "Civic offices moving to Sale Waterside; browser test"
    page.get_by_label("Reason (required, kept in the audit trail)").fill(reason)
    page.get_by_role("button", name="Save status").click()
    page.get_by_text("Saved: 1 site set to 'core'").wait_for(timeout=30_000)

    with open_store(module_store) as store:
        after = store.building(TOWN_HALL)
        entry = store.history(TOWN_HALL)[-1]
    assert after.override_status == "core"
    assert after.effective_status == "core"
    assert after.version == before.version + 1
    assert (entry.action, entry.actor, entry.reason, entry.to_value) == ("override", getpass.getuser(), reason, "core")

    # The site's one marker takes the site's status.
    assert _wait_colour(report.frame, town_hall, STATUS_COLOURS["core"]) == STATUS_COLOURS["core"]
    assert _wait_markers(report.frame, 1) == 1
    page.screenshot(path=ARTIFACTS_DIR / "app_classify_saved.png")


def test_a_deep_link_as_first_visit_after_a_start_gets_the_whole_app(page, module_store, console_log):
    # Streamlit would run a pages/<name>.py bare if it took pages/ for an old-style multipage folder.
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        page.goto(url + "classify")
        page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
        report = assert_map_rendered(page, "app_deep_link", console=console_log)

        assert page.get_by_label("Search name, postcode or UPRN").count() == 1
        assert page.get_by_role("link", name="North neighbourhood").count() == 1
        assert page.get_by_role("link", name="common").count() == 0  # no bare pages-folder menu
        assert _wait_markers(report.frame, _located(_estate(module_store).sites)) > 700


def _hub_overrides(store_path: Path, partner: str) -> list[str | None]:
    with open_store(store_path) as store:
        rows = store.buildings()
    return [None if v is None or v != v else v for v in rows.loc[rows["partner"] == partner, "override_status"]]


def test_bulk_status_starts_unchosen_asks_to_confirm_and_undoes_in_one_step(page, app_url, module_store, console_log):
    hubs = "Trafford community hubs"
    sites = _estate(module_store).sites
    hub_sites = sites[sites["partners"].astype("string").str.contains(hubs, regex=False, na=False)]
    page.goto(app_url + "classify")
    page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
    choose_option(page, "Partner", hubs, within=".st-key-filter_partners", exact=True)
    page.get_by_text("All 6 in the table").click(timeout=60_000)
    wait_until_idle(page)

    # No status is chosen: nothing in the control is active and Save cannot be pressed.
    status = page.locator(".st-key-classify_status")
    assert status.locator('[role="radio"][aria-checked="true"]').count() == 0
    assert page.get_by_role("button", name="Save status").is_disabled()
    assert page.get_by_text("I confirm:").count() == 0  # nothing to confirm before a status is chosen

    status.get_by_text("core", exact=True).click()
    wait_until_idle(page)
    page.get_by_label("Reason (required, kept in the audit trail)").fill("Hubs are commissioned services")
    wait_until_idle(page)
    page.get_by_text("What will change:").wait_for()
    assert status.locator('[role="radio"][aria-checked="true"]').all_inner_texts() == ["core"]  # seen when chosen
    page.get_by_role("button", name="Save status").click()
    page.get_by_text("Tick the box to confirm changing 6 sites").wait_for(timeout=30_000)
    assert _hub_overrides(module_store, hubs) == [None] * 6  # refused until confirmed: nothing written

    page.get_by_text("I confirm: change 6 sites to 'core'").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Save status").click()
    page.get_by_text("Saved: 6 sites set to 'core' (one change: one undo reverses it).").wait_for(timeout=30_000)
    assert _hub_overrides(module_store, hubs) == ["core"] * 6
    with open_store(module_store) as store:
        rows = store.buildings()
        log = store.audit_log(building_ids=rows.loc[rows["partner"] == hubs, "building_id"])
    assert log.loc[log["action"] == "override", "change_id"].nunique() == 1  # one change

    # One site selected on the map: its Undo reverses the whole bulk change.
    report = assert_map_rendered(page, "app_classify_bulk", console=console_log)
    assert _wait_markers(report.frame, 6) == 6
    hub = str(hub_sites["site_id"].iloc[0])
    # Click once the map is the one redrawn after the save (a click on the map being replaced is lost).
    assert _wait_colour(report.frame, hub, STATUS_COLOURS["core"]) == STATUS_COLOURS["core"]
    _click_building(report.frame, hub, shows="Selected sites (1)")
    page.get_by_role("button", name="Undo the latest change").click()
    page.get_by_text("Undone").first.wait_for(timeout=30_000)
    assert _hub_overrides(module_store, hubs) == [None] * 6  # every site of the change, in one undo
    page.screenshot(path=ARTIFACTS_DIR / "app_classify_bulk_undone.png")
