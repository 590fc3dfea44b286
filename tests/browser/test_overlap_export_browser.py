"""The standalone HTML overlap export in headless Chromium with every outside host blocked.

The file is written by ``estates.exports.export_overlap`` from the real layers and the demo estate (with hostile
building names), served from a loopback folder exactly as saved, and must: draw every non-sliver piece, show each
piece's figures on hover, show the legend, layer control and attribution, and show register text as text.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from playwright.sync_api import Dialog, Frame, Page

from estates.estate import current_estate
from estates.exports import export_buildings, export_overlap
from geo.overlap import overlap_pieces

from .harness import ConsoleLog, assert_map_rendered, serve_directory

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

IMG = "<img src=x onerror=alert(1)>"
SCRIPT = "<script>alert(2)</script>"

_MAP_JS = "Object.values(window).find(v => v instanceof L.Map)"

# Every piece layer (the features whose tooltip carries the piece's figures), by title.
_PIECE_TITLES_JS = f"""
() => {{
    const titles = [];
    {_MAP_JS}.eachLayer(l => {{
        if (l.feature && l.feature.properties && l.feature.properties.figures) titles.push(l.feature.properties.piece);
    }});
    return titles;
}}
"""

# Zoom to one piece and return a viewport point where that piece's own path is the top element.
_FOCUS_PIECE_JS = f"""
(title) => {{
    const map = {_MAP_JS};
    let layer = null;
    map.eachLayer(l => {{ if (l.feature && l.feature.properties.piece === title && l._path) layer = l; }});
    if (!layer) return null;
    map.fitBounds(layer.getBounds(), {{animate: false, padding: [80, 80]}});
    const r = layer._path.getBoundingClientRect();
    for (let n = 8; n <= 64; n *= 2) {{
        for (let i = 1; i < n; i++) for (let j = 1; j < n; j++) {{
            const x = r.left + r.width * i / n, y = r.top + r.height * j / n;
            if (document.elementFromPoint(x, y) === layer._path) return [x, y];
        }}
    }}
    return null;
}}
"""

# Open the popup of the building whose popup HTML mentions ``needle`` (escaped).
_OPEN_BUILDING_POPUP_JS = f"""
(needle) => {{
    const map = {_MAP_JS};
    let found = null;
    map.eachLayer(l => {{
        if (!found && l.feature && typeof l.feature.properties.popup === 'string'
            && l.feature.properties.popup.includes(needle)) found = l;
    }});
    if (!found) return null;
    map.setView(found.getLatLng(), 16, {{animate: false}});
    // A click on this very point (several buildings can share a postcode centroid, so a mouse click at its
    // pixel could hit a neighbour); the click propagates to the layer group that binds the popup.
    found.fire('click', {{latlng: found.getLatLng()}}, true);
    return true;
}}
"""


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    frame = current_estate(use_store=False).copy()
    located = frame.index[frame["neighbourhood"].notna()]
    frame.loc[located[0], "name"] = IMG
    frame.loc[located[1], "name"] = SCRIPT
    return frame


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory, estate: pd.DataFrame) -> Iterator[str]:
    """Both HTML exports, written to a folder served on 127.0.0.1; yields the base URL."""
    folder = tmp_path_factory.mktemp("html-export")
    export_overlap("html", folder / "overlap.html", buildings=estate)
    export_buildings("html", folder / "estate.html", buildings=estate)
    with serve_directory(folder) as base_url:
        yield base_url


@pytest.fixture
def dialogs(page: Page) -> list[str]:
    """Messages of any alert/confirm the page opens (an executed payload would open one)."""
    seen: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        seen.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    return seen


def _hide_buildings(frame: Frame) -> None:
    for label in frame.locator(".leaflet-control-layers-overlays label").all():
        if label.inner_text().strip().startswith("Buildings:"):
            box = label.locator("input")
            if box.is_checked():
                box.click()


def test_overlap_export_draws_every_piece_and_hover_shows_its_figures(
    page: Page, served: str, console_log: ConsoleLog, estate: pd.DataFrame, dialogs: list[str]
) -> None:
    pieces = overlap_pieces()
    drawn = pieces[~pieces["is_sliver"]]
    expected = {f"{r.neighbourhood} × {r.pcn_name}" for r in drawn.itertuples()}
    located = int(pd.to_numeric(estate["lon"]).notna().sum())

    page.goto(served + "overlap.html")
    report = assert_map_rendered(page, "overlap-export-html", console=console_log)
    frame = report.frame
    assert report.iframe_box is None
    # One path per non-sliver piece (a MultiPolygon is one path) and one circle per located building. (Leaflet
    # leaves the path of a circle far outside the view empty, so circles are not counted by their arcs here.)
    assert report.interactive_paths == len(drawn) + located
    titles = frame.evaluate(_PIECE_TITLES_JS)
    assert len(titles) == len(drawn) == 10
    assert set(titles) == expected
    # Legend, layer control and attribution.
    legend = frame.locator(".overlap-legend")
    assert legend.is_visible()
    for name in pieces["pcn_name"].unique():
        assert name in legend.inner_text()
    assert "6 sliver piece(s) (under 2 ha" in legend.inner_text()
    assert frame.locator(".leaflet-control-layers").count() == 1
    assert "Crown copyright" in frame.locator(".leaflet-control-attribution").inner_text()

    # Hover each piece (buildings hidden so their points cannot get in the way): its own figures show.
    _hide_buildings(frame)
    assert report.frame.locator("path.leaflet-interactive").count() == len(drawn)
    tooltip = frame.locator(".leaflet-tooltip")
    for title in sorted(expected):
        point = frame.evaluate(_FOCUS_PIECE_JS, title)
        assert point is not None, f"no visible pixel of {title}"
        page.mouse.move(0, 0)
        page.mouse.move(point[0], point[1])
        tooltip.first.wait_for(state="visible", timeout=5000)
        text = tooltip.first.inner_text()
        assert title in text
        for label in ("Area", "ha", "share of", "Residents (mid-2024)", "Buildings", "key", "surplus",
                      "needs data", "Floor area (GIA)"):
            assert label in text, (title, label, text)
    north = drawn[(drawn["neighbourhood"] == "North") & (drawn["pcn_name"] == "North Trafford PCN")].iloc[0]
    frame.evaluate(_FOCUS_PIECE_JS, "North × North Trafford PCN")
    point = frame.evaluate(_FOCUS_PIECE_JS, "North × North Trafford PCN")
    page.mouse.move(point[0], point[1])
    assert f"{north['area_ha']:,.1f} ha" in tooltip.first.inner_text()
    page.screenshot(path=str(Path(report.screenshot).with_name("overlap-export-html-hover.png")))
    assert not console_log.errors
    assert not dialogs


def test_register_text_in_popups_is_shown_as_text(
    page: Page, served: str, console_log: ConsoleLog, dialogs: list[str]
) -> None:
    page.goto(served + "overlap.html")
    report = assert_map_rendered(page, "overlap-export-escape", console=console_log)
    frame = report.frame
    for name, needle in ((IMG, "&lt;img src=x"), (SCRIPT, "&lt;script&gt;alert(2)")):
        assert frame.evaluate(_OPEN_BUILDING_POPUP_JS, needle) is True
        content = frame.locator(".leaflet-popup-content")
        content.wait_for(state="visible", timeout=5000)
        assert name in content.inner_text()
        assert content.locator("img, script").count() == 0
        frame.evaluate(f"() => {_MAP_JS}.closePopup()")
        content.wait_for(state="detached", timeout=5000)
    assert not dialogs
    assert frame.locator("img[src='x']").count() == 0
    assert not console_log.errors


def test_buildings_export_renders_offline(page: Page, served: str, console_log: ConsoleLog,
                                          estate: pd.DataFrame) -> None:
    page.goto(served + "estate.html")
    report = assert_map_rendered(page, "buildings-export-html", console=console_log)
    assert report.interactive_paths == 10 + int(pd.to_numeric(estate["lon"]).notna().sum())
    assert "estate: buildings by status" in report.frame.locator(".overlap-legend").inner_text()
    assert not console_log.errors
