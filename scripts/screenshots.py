"""Regenerate the app's screenshots in ``docs/screenshots/`` (one per page, 1600×1000) and of its exports.

Run from the project root::

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots] [--only classify,changes]

Starts the app on 127.0.0.1 on a temporary store seeded from the demo registers (so the pictures show the demo
estate, not whatever a local store holds) plus a few demo decisions by a "demo.lead" (so What changed has a feed),
opens each page in Debian's headless Chromium with every outside host blocked, performs the interaction the page is
about (a site clicked, a site selected for classifying, a site being moved …) and saves a palette PNG. The exports
are downloaded through the pages' own buttons, as a person gets them: PNGs are kept as downloaded, and the first page
of each PDF is drawn with pypdfium2 (``export_*_pdf_page1.png``). Fails if a page tried to reach another host or a
map did not render.
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
PAGES = ("estate_map", "classify", "matches", "locality", "profiles", "data", "overlap", "changes")
DEMO_LEAD = "demo.lead"

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


def _download(page, key: str, path: Path) -> Path:  # noqa: ANN001
    """Press download button ``key`` (its widget key) and keep the file; a PDF's first page is also drawn."""
    with page.expect_download(timeout=180_000) as download:
        page.locator(f".st-key-{key} button >> visible=true").first.click()
    download.value.save_as(path)
    print(f"  {path}  {path.stat().st_size / 1024:.0f} KB (downloaded)")
    if path.suffix == ".pdf":
        _pdf_first_page(path, path.with_name(path.stem + "_pdf_page1.png"))
        path.unlink()  # the picture is what the docs show; the PDF itself is made by the app on demand
    return path


def _pdf_first_page(pdf: Path, png: Path, *, dpi: int = 110) -> None:
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=dpi / 72).to_pil()
    finally:
        document.close()
    image.convert("RGB").quantize(colors=256, method=0, dither=0).save(png, optimize=True)
    print(f"  {png}  {png.stat().st_size / 1024:.0f} KB (first page of the PDF)")


def _demo_decisions(store, estate) -> None:  # noqa: ANN001
    """A morning of an estates lead's decisions, so What changed has something to show (screenshots only)."""
    from estates.service import reposition_site, set_site_status

    sites = estate.sites.sort_values("site_id")
    north = sites[(sites["neighbourhood"] == "North") & sites["lat"].notna()]
    libraries = north[north["name"].str.contains("Library", na=False)]["site_id"].tolist()
    if libraries:
        set_site_status(store, libraries[:1], "key", reason="Pilot hub for the North neighbourhood", actor=DEMO_LEAD)
    set_site_status(store, north["site_id"].tolist()[1:4], "core", reason="Agreed at the North estates review",
                    actor=DEMO_LEAD)
    moved = north.iloc[5]
    reposition_site(store, moved["site_id"], float(moved["lon"]) + 0.0008, float(moved["lat"]) + 0.0004,
                    reason="The entrance is on the next street (site visit)", actor=DEMO_LEAD)


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
            estate = read_estate(store)
            town_hall = resolve_site(estate, TOWN_HALL)  # the map's markers are sites
            _demo_decisions(store, estate)
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
            if "matches" in only:
                _matches(page, url, out)
            if "locality" in only:
                _locality(page, url, out)
            if "profiles" in only:
                _profiles(page, url, out)
            if "data" in only:
                _data(page, url, out)
            if "overlap" in only:
                _overlap(page, url, out)
            if "changes" in only:
                _changes(page, url, out)

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
    page.get_by_text("Download this map and its data").scroll_into_view_if_needed()
    _idle(page, 500)
    _download(page, "estate-map_download_png", out / "export_estate_map.png")
    _download(page, "estate-map_download_pdf", out / "export_estate_map.pdf")


def _classify(page, url: str, out: Path) -> None:  # noqa: ANN001

    # 2. Classify: the Stretford sites, one selected on the map, its status panel, then moving it.
    page.goto(url + "classify")
    page.get_by_text("Classify sites", exact=True).wait_for(timeout=60_000)
    box = page.get_by_label("Search name, postcode or UPRN")
    box.fill("Stretford")
    box.press("Enter")
    _idle(page)
    frame = _map(page)
    first = frame.evaluate("""() => Object.values(window.map._layers)
        .filter(l => l.options && l.options.buildingId).map(l => l.options.buildingId).sort()[0]""")
    _click_building(page, first, 15)
    page.get_by_text("Selected sites (1)").wait_for(timeout=30_000)
    _idle(page, 1000)
    _map(page).evaluate("() => { window.map.setZoom(13, {animate: false}); }")
    _idle(page, 800)
    _save(page, out / "classify.png")
    _scroll_to(page, "Set status")
    page.get_by_label("Reason (required, kept in the audit trail)").fill(
        "Vacant since March 2024, confirmed by the site manager")
    _idle(page, 1000)
    _save(page, out / "classify_status.png")
    page.get_by_label("Reason (required, kept in the audit trail)").fill("")
    page.get_by_text("Move this site: type where it is or click the map").click()
    typed = page.get_by_label("Type a postcode, an easting, northing, or a latitude, longitude")
    typed.wait_for(timeout=30_000)
    _idle(page, 1500)
    typed.fill("M32 0TH")
    typed.press("Enter")
    page.get_by_text("Proposed:").first.wait_for(timeout=30_000)
    _idle(page, 2500)
    page.get_by_text("Move this site: type where it is or click the map").scroll_into_view_if_needed()
    _idle(page, 800)
    _save(page, out / "classify_move.png")
    page.get_by_text("Move this site: type where it is or click the map").click()
    _idle(page)
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
    _download(page, "locality_download_png", out / "export_locality_north.png")
    _download(page, "profile_sheet_neighbourhood_png", out / "profile_sheet_north.png")
    _download(page, "profile_sheet_neighbourhood_pdf", out / "profile_sheet_north.pdf")


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
    _download(page, "profile_sheet_pcn_png", out / "profile_sheet_pcn.png")


def _data(page, url: str, out: Path) -> None:  # noqa: ANN001
    # 5. Data.
    page.goto(url + "data")
    page.get_by_text("Registers loaded").wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 1500)
    _save(page, out / "data.png")


def _overlap(page, url: str, out: Path) -> None:  # noqa: ANN001
    from tests.browser.harness import choose_option

    # 6. Overlap: the map, then the pieces table.
    page.goto(url + "overlap")
    page.get_by_text("Pieces", exact=True).wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 2500)
    _save(page, out / "overlap.png")
    _scroll_to(page, "Pieces")
    _idle(page, 800)
    _save(page, out / "overlap_pieces.png")
    # Filtered to North, as a strategy team takes it to a board: the map and the Overlap's own buildings map.
    page.evaluate("() => { const b = document.querySelector('[data-testid=\"stExpandSidebarButton\"]');"
                  " (b && b.tagName !== 'BUTTON' ? b.querySelector('button') : b)?.click(); }")
    page.wait_for_timeout(800)
    choose_option(page, "Neighbourhood", "North", within='[data-testid="stSidebar"]', exact=True)
    page.get_by_text("sites in North — filters: Neighbourhood: North").wait_for(timeout=60_000)
    _idle(page)
    _download(page, "overlap_download_png", out / "export_overlap_north.png")
    _download(page, "overlap_download_pdf", out / "export_overlap_north.pdf")
    _download(page, "download_buildings_png", out / "export_overlap_buildings_north.png")


def _matches(page, url: str, out: Path) -> None:  # noqa: ANN001
    # Matches: the highest-scoring proposal side by side on its small map.
    page.goto(url + "matches")
    page.get_by_text("Matches: are these the same site?").wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 2000)
    _save(page, out / "matches.png")


def _changes(page, url: str, out: Path) -> None:  # noqa: ANN001
    # What changed: the demo lead's morning, newest first; the move selected.
    page.goto(url + "changes")
    page.get_by_text("What changed", exact=True).first.wait_for(timeout=60_000)
    _fold_sidebar(page)
    _idle(page, 2000)
    _save(page, out / "changes.png")


if __name__ == "__main__":
    main()
