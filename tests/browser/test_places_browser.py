"""The place switcher in a real browser (issue 17): the app starts on Trafford's estate; choosing Stockport in the
sidebar seeds Stockport's demo registers into the same store on its first start, fits the map to Stockport and
shows Stockport's sites only — in that browser session; Trafford's estate stays in the store as it was."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Error, Page

from estates.service import read_estate
from estates.store import open_store
from geo import boundaries
from geo.place import load_place

from .harness import assert_map_rendered, choose_option, find_map_frame, run_streamlit

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
# The site ids on the map and the centre of its view, read together: a rerun may replace the map's iframe between
# two reads.
_VIEW_JS = """() => window.map ? {
    ids: Object.values(window.map._layers).filter(l => l.options && l.options.buildingId !== undefined)
        .map(l => l.options.buildingId),
    centre: (c => [c.lat, c.lng])(window.map.getBounds().getCenter())} : null"""


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _markers_become(page: Page, wanted: set[str], timeout_s: float = 60) -> tuple[set[str], list[float] | None]:
    """The site ids on the page's map once they are ``wanted`` (or at the timeout), with the centre of the map's
    view at that moment — read through whichever frame holds the map on each poll, since a rerun after switching
    place may replace the map's iframe."""
    deadline = time.monotonic() + timeout_s
    seen: set[str] = set()
    centre = None
    while time.monotonic() < deadline:
        frame = find_map_frame(page, deadline)
        try:
            view = frame.evaluate(_VIEW_JS) if frame else None
        except Error:
            if not frame.is_detached():
                raise
            continue  # replaced while we read it: read the new one
        seen, centre = (set(view["ids"]), view["centre"]) if view else (set(), None)
        if seen == wanted:
            break
        page.wait_for_timeout(250)
    return seen, centre


def _located(store_path: Path, slug: str) -> set[str]:
    with open_store(store_path) as store:
        sites = read_estate(store, place=slug).sites
    return set(sites.loc[sites["lat"].notna(), "site_id"].astype(str))


def _inside(centre: list[float], slug: str) -> bool:
    west, south, east, north = boundaries.boundary(load_place(slug)).total_bounds
    return bool(south <= centre[0] <= north and west <= centre[1] <= east)


def test_switching_place_fits_the_map_to_the_new_borough_and_shows_its_sites(page, app_url, module_store,
                                                                             console_log):
    trafford = _located(module_store, "trafford")
    page.goto(app_url)
    assert_map_rendered(page, "place_trafford", console=console_log)
    seen, centre = _markers_become(page, trafford)
    assert seen == trafford
    assert _inside(centre, "trafford")

    # First start of Stockport: its registers are loaded into the store.
    frames_drawn: list[float] = []  # when each new frame was attached
    page.on("frameattached", lambda _: frames_drawn.append(time.monotonic()))
    choose_option(page, "Place", "Stockport", widget="stSelectbox", within='[data-testid="stSidebar"]',
                  timeout_ms=180_000)
    page.get_by_role("heading", name="Stockport estate map").wait_for(timeout=120_000)
    stockport = _located(module_store, "stockport")
    assert len(stockport) > 30
    assert_map_rendered(page, "place_stockport", console=console_log)
    seen, centre = _markers_become(page, stockport)
    assert seen == stockport  # Stockport's sites, no Trafford one
    assert _inside(centre, "stockport")
    assert not _inside(centre, "trafford")
    # The map is drawn once: the run after the first start (no progress box then) keeps the page, and its map, where
    # they were, rather than drawing the map again in a new frame.
    page.wait_for_timeout(3_000)
    assert len(frames_drawn) == 1, (f"after switching place the page drew {len(frames_drawn)} frames"
                                    + (f", {frames_drawn[-1] - frames_drawn[0]:.1f} s apart" if frames_drawn else ""))
    assert _located(module_store, "trafford") == trafford  # Trafford's estate is kept, apart
