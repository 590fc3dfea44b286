"""Offline folium maps without a browser: rendered HTML, st_folium links, vendor files.

The browser behaviour is checked in ``tests/browser/test_offline_map_browser.py``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import re
from typing import Any
from urllib.parse import unquote

import branca.colormap
import folium
import pytest
import streamlit_folium
from folium import plugins

from estates.maps import base_map
from estates.maps._offline import (
    VENDOR_DIR,
    OfflineAssetError,
    external_asset_urls,
    offline_map,
    vendor_data_url,
)

CENTRE = (53.42, -2.35)


def _full_map(tiles: str | None = None) -> folium.Map:
    """A map using markers, popups, GeoJson, MarkerCluster, FastMarkerCluster, LayerControl."""
    m = base_map(location=CENTRE, zoom_start=12, tiles=tiles, attribution="Test data")
    folium.GeoJson({"type": "Point", "coordinates": [CENTRE[1], CENTRE[0]]}, name="Points").add_to(m)
    folium.Marker(CENTRE, popup="Default icon").add_to(m)
    folium.Marker(CENTRE, popup="Glyphicon", icon=folium.Icon(color="red")).add_to(m)
    folium.Marker(CENTRE, popup="Font Awesome", icon=folium.Icon(prefix="fa", icon="house")).add_to(m)
    folium.CircleMarker(CENTRE, radius=5, popup="Circle").add_to(m)
    cluster = plugins.MarkerCluster(name="Cluster").add_to(m)
    folium.Marker(CENTRE, popup=folium.Popup("<b>In cluster</b>")).add_to(cluster)
    plugins.FastMarkerCluster([CENTRE, CENTRE], name="Fast").add_to(m)
    folium.LayerControl().add_to(m)
    return m


def test_rendered_offline_map_fetches_nothing_from_other_hosts() -> None:
    rendered = offline_map(_full_map()).get_root().render()

    assert external_asset_urls(rendered) == []
    sources = re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', rendered)
    assert len(sources) >= 10
    assert all(src.startswith("data:") for src in sources)


def test_rendered_map_without_offline_map_uses_cdns() -> None:
    # The check above must be able to fail: folium's defaults point at CDNs.
    urls = external_asset_urls(_full_map().get_root().render())

    assert any("leaflet" in url and url.startswith("https://") for url in urls)
    assert any("markercluster" in url for url in urls)


def test_repr_html_of_offline_map_fetches_nothing_from_other_hosts() -> None:
    iframe = offline_map(_full_map())._repr_html_()
    srcdoc = re.search(r'srcdoc="([^"]*)"', iframe)

    assert srcdoc is not None
    assert external_asset_urls(html.unescape(srcdoc.group(1))) == []


def test_st_folium_receives_only_inline_assets(monkeypatch: pytest.MonkeyPatch) -> None:
    sent: dict[str, Any] = {}

    def fake_component(**kwargs: Any) -> None:
        sent.update(kwargs)

    monkeypatch.setattr(streamlit_folium, "_component_func", fake_component)
    streamlit_folium.st_folium(offline_map(_full_map()), returned_objects=[])

    links = sent["js_links"] + sent["css_links"]
    assert len(sent["js_links"]) >= 5
    assert all(link.startswith("data:") for link in links)
    assert "http" not in "".join(re.findall(r"<(?:script|link)[^>]*>", sent["header"]))


def test_offline_map_changes_only_the_instances() -> None:
    cdn_js = list(folium.Map.default_js)
    cdn_css = list(plugins.MarkerCluster.default_css)
    offline_map(_full_map())

    assert folium.Map.default_js == cdn_js
    assert plugins.MarkerCluster.default_css == cdn_css
    assert external_asset_urls(_full_map().get_root().render())


def test_offline_map_is_idempotent_and_picks_up_later_layers() -> None:
    m = offline_map(_full_map())
    plugins.MarkerCluster(name="Added later").add_to(m)
    offline_map(m)

    assert external_asset_urls(m.get_root().render()) == []


def test_leaflet_asset_points_default_icon_at_inline_images() -> None:
    m = offline_map(folium.Map(tiles=None))
    leaflet_js = dict(m.default_js)["leaflet"]

    assert leaflet_js.startswith("data:text/javascript")
    script = base64.b64decode(leaflet_js.split(",", 1)[1]).decode("utf-8")
    assert 'L.Icon.Default.imagePath = ""' in script
    assert '"iconUrl": "data:image/png;base64,' in script


def test_unvendored_plugin_is_refused() -> None:
    m = _full_map()
    plugins.Fullscreen().add_to(m)

    with pytest.raises(OfflineAssetError, match="Fullscreen needs https://"):
        offline_map(m)


def test_colormap_legend_is_refused() -> None:
    m = _full_map()
    branca.colormap.linear.YlOrRd_09.scale(1, 10).add_to(m)

    with pytest.raises(OfflineAssetError, match="d3"):
        offline_map(m)


@pytest.mark.parametrize(
    "relative",
    ["leaflet/leaflet.css", "leaflet.awesome-markers/leaflet.awesome-markers.css"],
)
def test_vendor_css_has_its_images_inlined(relative: str) -> None:
    css = unquote(vendor_data_url(relative).split(",", 1)[1])
    references = re.findall(r"""url\(\s*['"]?([^'")]*)""", css)

    assert references
    assert all(ref.startswith(("data:image/png;base64,", "#")) for ref in references)


def test_vendor_font_css_keeps_only_vendored_formats() -> None:
    css = unquote(vendor_data_url("fontawesome/css/solid.min.css").split(",", 1)[1])

    assert 'url("data:font/woff2;base64,' in css
    assert ".ttf" not in css


@pytest.mark.parametrize("relative", ["../../requirements.txt", "leaflet/missing.js"])
def test_vendor_data_url_refuses_files_outside_the_vendor_folder(relative: str) -> None:
    with pytest.raises(OfflineAssetError):
        vendor_data_url(relative)


def test_vendor_md_lists_every_vendored_file_with_its_hash() -> None:
    rows = re.findall(
        r"^\| `([^`]+)` \| [^|]+ \| [^|]+ \| [^|]+ \| `([0-9a-f]{64})` \|$",
        (VENDOR_DIR / "VENDOR.md").read_text("utf-8"),
        flags=re.MULTILINE,
    )
    listed = dict(rows)
    on_disk = {
        path.relative_to(VENDOR_DIR).as_posix()
        for path in VENDOR_DIR.rglob("*")
        if path.is_file() and path.name not in {"VENDOR.md", "update_vendor.py"} and "__pycache__" not in path.parts
    }

    assert set(listed) == on_disk
    for relative, digest in listed.items():
        assert hashlib.sha256((VENDOR_DIR / relative).read_bytes()).hexdigest() == digest


def test_base_map_without_tiles_still_shows_escaped_attribution() -> None:
    m = base_map(location=CENTRE, zoom_start=11, tiles=None, attribution="Data © <Trafford>")
    rendered = m.get_root().render()

    assert "tileLayer" not in rendered
    assert "addAttribution(" in rendered
    # Escaped for HTML, then for the script block (no raw "<" inside <script>).
    assert "Data \\u00a9 \\u0026lt;Trafford\\u0026gt;" in rendered


def test_base_map_with_tiles_credits_them() -> None:
    m = base_map(
        location=CENTRE,
        zoom_start=11,
        tiles="http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png",
        attribution="Local tiles <b>",
    )
    rendered = m.get_root().render()

    assert "http://127.0.0.1:8080/tiles/{z}/{x}/{y}.png" in rendered
    assert '"attribution": "Local tiles \\u0026lt;b\\u0026gt;"' in rendered


def test_base_map_refuses_blank_attribution() -> None:
    with pytest.raises(ValueError, match="attribution"):
        base_map(location=CENTRE, zoom_start=11, tiles=None, attribution="  ")
