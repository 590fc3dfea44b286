"""Regenerate the app's screenshots in ``docs/screenshots/`` (one per page, 1600×1000).

Run from the project root::

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

Starts the app on 127.0.0.1 on a temporary store seeded from the demo registers (so the pictures show the demo
estate, not whatever a local store holds), opens each page in Debian's headless Chromium with every outside host
blocked, performs the interaction the page is about (a building clicked, a building selected for classifying …) and
saves a palette PNG. Fails if a page tried to reach another host or a map did not render.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

APP = ROOT / "app.py"
TOWN_HALL = "trafford-council:TMBC0008/T0000001"
VIEWPORT = {"width": 1600, "height": 1000}
PAGES = ("estate_map", "classify", "locality", "profiles", "data", "overlap")

_POINT_JS = """([id, zoom]) => {
    const l = Object.values(window.map._layers).find(l => l.options && l.options.buildingId === id);
    window.map.setView(l.getLatLng(), zoom, {animate: false});
    const p = window.map.latLngToContainerPoint(l.getLatLng());
    return [p.x, p.y]; }"""
_DRAWN_JS = """() => window.map && Object.values(window.map._layers)
    .some(l => l.options && l.options.buildingId !== undefined)"""


def _idle(page, extra_ms: int = 800) -> None:  # noqa: ANN001
    """Wait until Streamlit has finished running and the page has settled."""
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=60_000)
    page.wait_for_timeout(extra_ms)


def _map(page):  # noqa: ANN001, ANN202 - playwright Frame
    from tests.browser.harness import assert_map_rendered

    frame = assert_map_rendered(page, "screenshot-check").frame
    frame.wait_for_function(_DRAWN_JS, timeout=60_000)
    return frame


def _click_building(page, building_id: str, zoom: float) -> None:  # noqa: ANN001
    frame = _map(page)
    frame.evaluate(_POINT_JS, [building_id, zoom])
    page.wait_for_timeout(400)
    x, y = frame.evaluate(_POINT_JS, [building_id, zoom])
    frame.locator(".leaflet-container").click(position={"x": x, "y": y})


def _scroll_to(page, text: str) -> None:  # noqa: ANN001
    page.get_by_text(text, exact=True).first.scroll_into_view_if_needed()
    page.wait_for_timeout(500)


def _fold_sidebar(page) -> None:  # noqa: ANN001
    """Collapse the sidebar so the page has the whole width (its filters still apply)."""
    page.evaluate("() => document.querySelector('[data-testid=\"stSidebarCollapseButton\"] button')?.click()")
    page.wait_for_timeout(800)


def _save(page, path: Path) -> None:  # noqa: ANN001
    """Screenshot, then reduce to a 256-colour palette PNG (a third of the size, no visible loss for UI)."""
    from PIL import Image

    page.screenshot(path=path)
    with Image.open(path) as image:
        image.convert("RGB").quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE).save(
            path, optimize=True)
    print(f"  {path}  {path.stat().st_size / 1024:.0f} KB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--only", default=",".join(PAGES), help=f"comma-separated pages (default all: {PAGES})")
    args = parser.parse_args()
    only = set(args.only.split(","))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from estates.service import load_registers, read_estate, resolve_site
    from estates.store import open_store
    from tests.browser.harness import CHROMIUM_ARGS, CHROMIUM_PATH, NetworkGuard, run_streamlit

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        store_path = Path(folder) / "estates.gpkg"
        with open_store(store_path) as store:
            load_registers(store)
            town_hall = resolve_site(read_estate(store), TOWN_HALL)  # the map's markers are sites
        with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(store_path)}) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS))
            context = browser.new_context(viewport=VIEWPORT)
            guard = NetworkGuard()
            guard.install(context)
            page = context.new_page()

            # 1. Estate map: every building by status, a building clicked and its details.
            if "estate_map" in only:
                _estate_map(page, url, out, town_hall)
            if "classify" in only:
                _classify(page, url, out)
            if "locality" in only:
                _locality(page, url, out)
            if "profiles" in only:
                _profiles(page, url, out)
            if "data" in only:
                _data(page, url, out)
            if "overlap" in only:
                _overlap(page, url, out)

            context.close()
            browser.close()
            if guard.blocked:
                raise SystemExit(f"a page tried to reach outside hosts: {guard.blocked[:5]}")
    print(f"done in {time.perf_counter() - started:.0f} s")


def _estate_map(page, url: str, out: Path, town_hall: str) -> None:  # noqa: ANN001
    page.goto(url)
    page.get_by_text("Trafford estate map", exact=True).wait_for(timeout=60_000)
    _click_building(page, town_hall, 18)  # close in: the town hall's library is a few metres away
    page.get_by_text("Register records on this site").wait_for(timeout=30_000)
    _map(page).evaluate("() => { window.map.setZoom(11.75, {animate: false}); }")
    _idle(page, 1500)
    _save(page, out / "estate_map.png")
    page.get_by_text("Register records on this site").first.scroll_into_view_if_needed()
    _idle(page, 800)
    _save(page, out / "estate_map_details.png")


def _classify(page, url: str, out: Path) -> None:  # noqa: ANN001

    # 2. Classify: the surplus buildings of North, one selected on the map, its status panel below.
    page.goto(url + "classify")
    page.get_by_text("Classify buildings", exact=True).wait_for(timeout=60_000)
    box = page.get_by_label("Search name, postcode or UPRN")
    box.fill("Stretford")
    box.press("Enter")
    _idle(page)
    frame = _map(page)
    first = frame.evaluate("""() => Object.values(window.map._layers)
        .filter(l => l.options && l.options.buildingId).map(l => l.options.buildingId).sort()[0]""")
    _click_building(page, first, 15)
    page.get_by_text("Selected buildings (1)").wait_for(timeout=30_000)
    _idle(page, 1000)
    _map(page).evaluate("() => { window.map.setZoom(13, {animate: false}); }")
    _idle(page, 800)
    _save(page, out / "classify.png")
    _scroll_to(page, "Set status")
    page.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Vacant since March 2024, confirmed by the site manager")
    _idle(page, 1000)
    _save(page, out / "classify_status.png")
    box = page.get_by_label("Search name, postcode or UPRN")
    box.fill("")
    box.press("Enter")
    _idle(page)



def _locality(page, url: str, out: Path) -> None:  # noqa: ANN001
    # 3. North neighbourhood: deprivation, buildings and co-location opportunities (sidebar folded away).
    page.goto(url + "locality")
    page.get_by_role("heading", name="North neighbourhood").wait_for(timeout=60_000)
    _fold_sidebar(page)
    _map(page)
    _idle(page, 1500)
    _save(page, out / "locality.png")
    _scroll_to(page, "Co-location opportunities")
    _idle(page, 800)
    _save(page, out / "locality_colocation.png")
    _scroll_to(page, "Estate by partner and status")
    _idle(page, 1200)
    _save(page, out / "locality_partners.png")


def _profiles(page, url: str, out: Path) -> None:  # noqa: ANN001
    # 4. Profiles: neighbourhoods, then PCN footprints (their long names).
    page.goto(url + "profiles")
    page.get_by_text("Buildings by status").wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 1500)
    _save(page, out / "profiles.png")
    page.get_by_text("PCN footprints", exact=True).click()
    page.get_by_text("PCN footprints", exact=True).wait_for(timeout=60_000)
    _idle(page, 1500)
    _save(page, out / "profiles_pcn.png")


def _data(page, url: str, out: Path) -> None:  # noqa: ANN001
    # 5. Data.
    page.goto(url + "data")
    page.get_by_text("Registers loaded").wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 1500)
    _save(page, out / "data.png")


def _overlap(page, url: str, out: Path) -> None:  # noqa: ANN001
    # 6. Overlap: the map, then the pieces table.
    page.goto(url + "overlap")
    page.get_by_text("Pieces", exact=True).wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 2500)
    _save(page, out / "overlap.png")
    _scroll_to(page, "Pieces")
    _idle(page, 800)
    _save(page, out / "overlap_pieces.png")


if __name__ == "__main__":
    main()
