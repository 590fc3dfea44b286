"""Offline folium maps in a real browser with every outside host blocked.

Each positive test has a twin that renders the same map *without* ``offline_map``
and checks the harness reports the failure, so these tests cannot pass vacuously.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from estates.maps._offline import offline_map

from .demo_map import (
    ATTRIBUTION,
    DEFAULT_MARKER_POPUP,
    EXPECTED_CIRCLES,
    EXPECTED_INTERACTIVE_PATHS,
    EXPECTED_MARKER_ICONS,
    EXPECTED_MARKERS,
    build_demo_map,
)
from .harness import (
    ConsoleLog,
    MapReport,
    NetworkGuard,
    assert_map_rendered,
    is_local_url,
    open_popup,
    serve_directory,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

APP = Path(__file__).parent / "apps" / "offline_map_app.py"
CDN_HOSTS = ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com")


@pytest.fixture
def serve_map(tmp_path: Path) -> Iterator[Callable[[bool], str]]:
    """Write the demo map to an HTML file served on 127.0.0.1; return its URL."""
    with serve_directory(tmp_path) as base_url:

        def write(offline: bool) -> str:
            m = build_demo_map()
            if offline:
                offline_map(m)
            (tmp_path / "map.html").write_text(m.get_root().render(), "utf-8")
            return base_url + "map.html"

        yield write


def _assert_demo_counts(report: MapReport) -> None:
    assert report.markers == EXPECTED_MARKERS
    assert report.marker_icons == EXPECTED_MARKER_ICONS
    assert report.frame.locator(".leaflet-marker-pane .awesome-marker").count() == 2
    assert report.interactive_paths == EXPECTED_INTERACTIVE_PATHS
    assert report.circle_markers == EXPECTED_CIRCLES
    assert report.frame.locator(".marker-cluster").count() == 1
    attribution = report.frame.locator(".leaflet-control-attribution").inner_text()
    assert ATTRIBUTION in attribution


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:8501/x.js", True),
        ("ws://localhost:8501/_stcore/stream", True),
        ("http://127.3.4.5/", True),
        ("http://[::1]:80/", True),
        ("data:text/javascript;base64,AAAA", True),
        ("blob:http://127.0.0.1/uuid", True),
        ("about:blank", True),
        ("https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js", False),
        ("http://10.0.0.1/", False),
        ("http://localhost.example.invalid/", False),
        ("file:///etc/passwd", False),
    ],
)
def test_is_local_url(url: str, local: bool) -> None:
    assert is_local_url(url) is local


def test_offline_map_renders_in_static_page(
    page: Page, serve_map: Callable[[bool], str], console_log: ConsoleLog
) -> None:
    page.goto(serve_map(True))
    report = assert_map_rendered(page, "offline-static-page", console=console_log)

    assert report.iframe_box is None
    _assert_demo_counts(report)
    frame = report.frame
    assert frame.evaluate("typeof jQuery") == "function"
    assert frame.evaluate("typeof bootstrap") == "object"
    # Leaflet's default marker image comes from an inlined data: URL and decoded.
    icon = frame.locator("img.leaflet-marker-icon").first
    assert icon.get_attribute("src").startswith("data:image/png")
    assert icon.evaluate("img => img.complete && img.naturalWidth") > 0
    # Awesome-marker sprite and icon fonts come from the inlined CSS.
    sprite = frame.locator(".awesome-marker").first.evaluate("el => getComputedStyle(el).backgroundImage")
    assert sprite.startswith('url("data:image/png')
    frame.evaluate("document.fonts.ready.then(() => true)")
    loaded = frame.evaluate("[...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)")
    assert {"Glyphicons Halflings", "Font Awesome 6 Free"} <= set(loaded)
    # folium.Icon(angle=15) relies on the generated .fa-rotate-N rules.
    rotated = frame.locator("i.fa-rotate-15").evaluate("el => getComputedStyle(el).transform")
    assert rotated not in ("none", "matrix(1, 0, 0, 1, 0, 0)")
    # Popups are built with jQuery; opening one proves the map script ran to the end.
    assert open_popup(frame, "img.leaflet-marker-icon") == DEFAULT_MARKER_POPUP
    assert not console_log.errors


@pytest.mark.outside_requests_expected
def test_harness_catches_cdn_map_in_static_page(
    page: Page,
    serve_map: Callable[[bool], str],
    network_guard: NetworkGuard,
    console_log: ConsoleLog,
) -> None:
    page.goto(serve_map(False))
    with pytest.raises(AssertionError, match="no Leaflet map"):
        assert_map_rendered(page, "cdn-static-page", timeout_ms=3000, console=console_log)
    assert any(host in url for url in network_guard.blocked for host in CDN_HOSTS)


def test_offline_map_renders_in_st_folium(
    page: Page, streamlit_app: Callable[[Path], str], console_log: ConsoleLog
) -> None:
    page.goto(streamlit_app(APP))
    report = assert_map_rendered(page, "offline-st-folium", console=console_log)

    assert report.iframe_box is not None
    assert report.iframe_box["height"] >= 400
    _assert_demo_counts(report)
    assert open_popup(report.frame, "img.leaflet-marker-icon") == DEFAULT_MARKER_POPUP


@pytest.mark.outside_requests_expected
def test_harness_catches_cdn_map_in_st_folium(
    page: Page,
    streamlit_app: Callable[[Path], str],
    network_guard: NetworkGuard,
    console_log: ConsoleLog,
) -> None:
    page.goto(streamlit_app(APP) + "?assets=cdn")
    page.wait_for_selector("iframe", state="attached", timeout=30_000)
    with pytest.raises(AssertionError, match="no Leaflet map"):
        assert_map_rendered(page, "cdn-st-folium", timeout_ms=5000, console=console_log)
    assert any(host in url for url in network_guard.blocked for host in CDN_HOSTS)


def test_harness_catches_zero_height_st_folium_iframe(
    page: Page, streamlit_app: Callable[[Path], str], console_log: ConsoleLog
) -> None:
    # Leaflet loads and builds the map, but without jQuery folium's popup code
    # throws, st_folium never sizes its iframe, and the page looks empty.
    page.goto(streamlit_app(APP) + "?assets=no-jquery")
    with pytest.raises(AssertionError, match="iframe has no area"):
        assert_map_rendered(page, "no-jquery-st-folium", timeout_ms=5000, console=console_log)
    assert any("$ is not defined" in error for error in console_log.errors)
