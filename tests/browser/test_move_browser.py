"""Moving a site in a real browser (Classify), and a click on overlapping markers offering the choice.

The move map must give context offline: the neighbouring sites (labelled markers), the site's postcode centre, the
ward and LSOA outlines; a typed postcode or a click proposes the new point (with its distance) before anything is
saved; saving re-tags and audits. A tile server configured for the app (a loopback one here) is used on the move map.
On the Estate map and Classify, a click where two sites' markers overlap at the current zoom lists both.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from playwright.sync_api import Frame, Page

from estates.service import read_estate
from estates.store import open_store

from .harness import ARTIFACTS_DIR, assert_map_rendered, run_streamlit, serve_directory, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
MOVE_TOGGLE = "Move this site: type where it is or click the map"
TYPE_BOX = "Type a postcode, an easting, northing, or a latitude, longitude"

_CLICK_POINT_JS = """([id, zoom]) => {
    const layer = Object.values(window.map._layers).find(l => l.options && l.options.buildingId === id);
    if (!layer) return null;
    window.map.setView(layer.getLatLng(), zoom, {animate: false});
    const p = window.map.latLngToContainerPoint(layer.getLatLng());
    return [p.x, p.y]; }"""
# A boundary feature with this property value drawn on the map now (a hidden layer's features are not).
_FEATURE_SHOWN_JS = """([property, value]) => Object.values(window.map._layers).some(l => l.feature
    && l.feature.properties && l.feature.properties[property] === value && window.map.hasLayer(l))"""


@pytest.fixture(scope="module")
def tiles() -> Iterator[str]:
    """A loopback 'tile server' (an empty folder: every tile is a 404, but each request shows it was used)."""
    with serve_directory(ARTIFACTS_DIR) as url:
        yield url


@pytest.fixture(scope="module")
def app_url(module_store: Path, tiles: str) -> Iterator[str]:
    env = {"ESTATES_DATABASE_URL": str(module_store), "ESTATES_BASEMAP_URL": tiles + "tiles/{z}/{x}/{y}.png",
           "ESTATES_BASEMAP_ATTRIBUTION": "Test tiles on loopback"}
    with run_streamlit(APP, env=env, log_path=ARTIFACTS_DIR / "streamlit-move.log") as url:
        yield url


def _sites(store_path: Path):  # noqa: ANN202 - an Estate
    with open_store(store_path) as store:
        return read_estate(store)


def _lonely_sites(store_path: Path, *, neighbourhood: str) -> list[str]:
    """Located sites with a postcode in a neighbourhood, no other site within 100 m (a click selects them alone),
    but some within 300 m (neighbours to draw)."""
    sites = _sites(store_path).sites
    located = sites[sites["lat"].notna()].reset_index(drop=True)
    east, north = located["easting"].to_numpy(), located["northing"].to_numpy()
    gaps = np.hypot(east[:, None] - east[None, :], north[:, None] - north[None, :])
    alone = ((gaps < 100).sum(axis=1) == 1) & ((gaps < 300).sum(axis=1) >= 2)
    chosen = located[alone & (located["neighbourhood"] == neighbourhood) & located["postcode"].notna()]
    return chosen.sort_values("site_id")["site_id"].tolist()


def _map_frame(page: Page, selector: str, timeout_s: float = 30) -> Frame:
    """The frame of the map that holds ``selector``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for frame in page.frames:
            try:
                if frame.query_selector(selector) is not None:
                    return frame
            except Exception:  # noqa: BLE001 - a frame detached while we looked
                continue
        page.wait_for_timeout(200)
    raise AssertionError(f"no map frame with {selector}")


def _click_site(page: Page, frame: Frame, site_id: str, zoom: int) -> None:
    point = frame.evaluate(_CLICK_POINT_JS, [site_id, zoom])
    assert point is not None, f"{site_id} is not on the map"
    page.wait_for_timeout(400)
    point = frame.evaluate(_CLICK_POINT_JS, [site_id, zoom])
    frame.locator(".leaflet-container").click(position={"x": point[0], "y": point[1]})


def _start_moving(page: Page, app_url: str, site_id: str, console_log) -> Frame:  # noqa: ANN001
    page.goto(app_url + "classify")
    page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
    report = assert_map_rendered(page, "move_classify", console=console_log)
    _click_site(page, report.frame, site_id, 17)
    page.get_by_text("Selected sites (1)").wait_for(timeout=30_000)
    wait_until_idle(page)
    page.get_by_text(MOVE_TOGGLE).click()
    page.get_by_label(TYPE_BOX).wait_for(timeout=30_000)
    wait_until_idle(page)
    frame = _map_frame(page, ".estates-move-current")
    # The move map opens on the site (street zoom), not on the whole place, and has stopped re-fitting.
    frame.wait_for_function("() => window.map && window.map.getZoom() >= 15", timeout=10_000)
    page.wait_for_timeout(1600)
    return frame


def test_moving_by_typed_postcode_with_the_context_drawn(page, app_url, module_store, tiles, console_log):
    site_id = _lonely_sites(module_store, neighbourhood="South")[0]
    site = _sites(module_store).sites.set_index("site_id").loc[site_id]
    frame = _start_moving(page, app_url, site_id, console_log)

    # Context: neighbours with their names, the postcode's centre, the site now, ward and LSOA outlines, tiles.
    assert frame.locator(".estates-move-neighbour").count() >= 1
    assert frame.locator(".estates-move-postcode").count() == 1
    assert str(site["postcode"]) in frame.locator(".estates-move-postcode").inner_text()
    assert frame.locator(".estates-move-current").inner_text().startswith("Now: ")
    assert frame.evaluate(_FEATURE_SHOWN_JS, ["ward_name", site["ward_name"]])
    assert frame.evaluate(_FEATURE_SHOWN_JS, ["lsoa_code", site["lsoa_code"]])
    srcs = frame.eval_on_selector_all(".leaflet-tile", "tiles => tiles.map(t => t.src)")
    assert srcs
    assert all(s.startswith(tiles + "tiles/") for s in srcs)
    # The move control sits beside the map, not below it.
    box = page.get_by_label(TYPE_BOX).bounding_box()
    iframe = frame.frame_element().bounding_box()
    assert box["x"] + box["width"] <= iframe["x"]
    assert iframe["y"] <= box["y"] <= iframe["y"] + iframe["height"]

    page.get_by_label(TYPE_BOX).fill("M32 0TH")
    page.get_by_label(TYPE_BOX).press("Enter")
    page.get_by_text("Proposed:").wait_for(timeout=30_000)
    frame = _map_frame(page, ".estates-move-proposed")
    assert "m from now" in frame.locator(".estates-move-proposed").inner_text()
    assert "neighbourhood North" in page.locator("body").inner_text()
    page.screenshot(path=ARTIFACTS_DIR / "move_typed.png")
    with open_store(module_store) as store:  # nothing saved yet
        assert read_estate(store).sites.set_index("site_id").loc[site_id, "position_source"] != "manual"

    page.get_by_label("Reason for the new position (required)").fill("Lease gives M32 0TH: browser test")
    wait_until_idle(page)
    page.get_by_role("button", name="Save position").click()
    page.get_by_text("Moved to 53.458999, -2.287483").wait_for(timeout=30_000)

    after = _sites(module_store)
    moved = after.site_records(site_id)
    assert set(moved["ward_name"]) == {"Gorse Hill & Cornbrook"}
    assert set(moved["neighbourhood"]) == {"North"}
    with open_store(module_store) as store:
        entry = store.history(str(moved["building_id"].iloc[0]))[-1]
    assert (entry.action, entry.actor, entry.reason) == ("reposition", getpass.getuser(),
                                                        "Lease gives M32 0TH: browser test")


def test_moving_by_a_click_on_the_move_map(page, app_url, module_store, console_log):
    site_id = _lonely_sites(module_store, neighbourhood="West")[0]
    frame = _start_moving(page, app_url, site_id, console_log)
    size = frame.evaluate("() => [window.map.getSize().x, window.map.getSize().y]")
    target = [size[0] / 2 + 120, size[1] / 2 + 60]  # container pixels: right of and below the centre
    expected = frame.evaluate("(p) => { const l = window.map.containerPointToLatLng(p); return [l.lat, l.lng]; }",
                              target)

    iframe = frame.frame_element()
    iframe.scroll_into_view_if_needed()
    box = iframe.bounding_box()
    page.mouse.click(box["x"] + target[0], box["y"] + target[1])
    page.get_by_text("Proposed:").wait_for(timeout=30_000)
    text = page.locator("body").inner_text()
    assert "clicked on the map" in text
    assert _map_frame(page, ".estates-move-proposed").locator(".estates-move-proposed").count() == 1
    page.get_by_label("Reason for the new position (required)").fill("Seen on site: browser test")
    wait_until_idle(page)
    page.get_by_role("button", name="Save position").click()
    page.get_by_text("Moved to").wait_for(timeout=30_000)

    site = _sites(module_store).sites.set_index("site_id").loc[site_id]
    assert site["lat"] == pytest.approx(expected[0], abs=2e-6)
    assert site["lon"] == pytest.approx(expected[1], abs=2e-6)
    assert site["position_source"] == "manual"


def _close_pair(store_path: Path) -> tuple[str, str, str]:
    """Two sites 20-40 m apart with no other site within 400 m: one blob at zoom 12. (ids, second's name)"""
    sites = _sites(store_path).sites
    located = sites[sites["lat"].notna()].reset_index(drop=True)
    east, north = located["easting"].to_numpy(), located["northing"].to_numpy()
    gaps = np.hypot(east[:, None] - east[None, :], north[:, None] - north[None, :])
    crowd = (gaps < 400).sum(axis=1)
    first, second = next((i, j) for i, j in zip(*np.nonzero((gaps > 20) & (gaps < 40)), strict=True)
                         if crowd[i] == 2 and isinstance(located.at[j, "name"], str)
                         and located.at[j, "name"] != located.at[i, "name"])
    return str(located.at[first, "site_id"]), str(located.at[second, "site_id"]), str(located.at[second, "name"])


def test_a_click_on_two_overlapping_sites_offers_the_choice(page, app_url, module_store, console_log):
    a, b, b_name = _close_pair(module_store)

    page.goto(app_url + "classify")
    page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
    report = assert_map_rendered(page, "move_choice_classify", console=console_log)
    _click_site(page, report.frame, a, 12)
    choice = page.get_by_text("2 sites are drawn where you clicked: which one?")
    choice.wait_for(timeout=30_000)
    assert page.get_by_text("Selected sites (0)").count() == 1  # nothing chosen for the person
    page.get_by_text(f"{b_name} · {b}").click()
    page.get_by_text("Selected sites (1)").wait_for(timeout=30_000)
    assert page.get_by_role("heading", name=b_name).count() >= 1

    page.goto(app_url)
    report = assert_map_rendered(page, "move_choice_estate_map", console=console_log)
    _click_site(page, report.frame, a, 12)
    page.get_by_text("2 sites are drawn where you clicked: which one?").wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    page.screenshot(path=ARTIFACTS_DIR / "move_choice_estate_map.png")
    options = page.locator("body").inner_text()
    assert f"{b_name} · {b}" in options
    assert f" · {a}" in options
    page.screenshot(path=ARTIFACTS_DIR / "move_choice_estate_map.png")
