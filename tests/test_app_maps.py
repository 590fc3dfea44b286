"""estates.maps for the app: offline, escaped, buildings per partner on a canvas, clicks mapped back, basemaps."""

from __future__ import annotations

import os
import re
from typing import Any

import folium
import numpy as np
import pandas as pd
import pytest
import streamlit_folium

from estates.analysis.colocation import colocation_clusters, surplus_near_key
from estates.estate import current_estate
from estates.maps import (
    BASEMAP_ATTRIBUTION_ENV,
    BASEMAP_URL_ENV,
    NO_BASEMAP,
    STATUS_COLOURS,
    Basemap,
    BoundaryLayer,
    BuildingPoints,
    building_layers,
    buildings_at,
    colocation_layers,
    configured_basemaps,
    escape_text,
    estate_base_map,
    estate_map,
)
from estates.maps._offline import external_asset_urls, offline_map

HOSTILE = "<script>alert('x')</script><img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    return current_estate(use_store=False)


def test_estate_map_renders_with_no_outside_asset_and_every_located_building(estate: pd.DataFrame) -> None:
    html = estate_map(estate).get_root().render()

    assert external_asset_urls(html) == []
    assert "preferCanvas" in html
    assert html.count("buildingId: r[3]") == estate["partner"].nunique()
    located = estate[estate["lat"].notna()]
    assert all(f'"{i}"' in html for i in located["building_id"].sample(50, random_state=1))
    assert sum(html.count(f'"{i}"') >= 1 for i in located["building_id"]) == len(located)


def test_register_text_is_escaped_in_tooltips_and_layer_names(estate: pd.DataFrame) -> None:
    frame = estate.head(3).copy()
    frame["name"] = HOSTILE
    frame["partner"] = "Evil <b>Partner</b>"

    html = estate_map(frame).get_root().render()

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "Evil <b>Partner</b>" not in html
    assert "Evil \\u0026lt;b\\u0026gt;Partner" in html  # escaped, then JSON-encoded for the page


def test_one_layer_per_partner_with_counts_and_a_selection_ring(estate: pd.DataFrame) -> None:
    chosen = estate["building_id"].iloc[0]

    groups = building_layers(estate, selected=[chosen])

    names = [g.layer_name for g in groups]
    assert names[-1] == "Selected (1)"
    partners = sorted(estate.loc[estate["lat"].notna(), "partner"].unique())
    assert len(names) == len(partners) + 1
    counts = sum(int(re.search(r"\((\d[\d,]*)\)$", n).group(1).replace(",", "")) for n in names[:-1])
    assert counts == int(estate["lat"].notna().sum())
    points = [c for g in groups[:-1] for c in g._children.values() if isinstance(c, BuildingPoints)]
    assert sum(p.count for p in points) == counts


def test_building_colours_follow_status(estate: pd.DataFrame) -> None:
    points = BuildingPoints(estate)

    colours = {row[3]: points.colours[row[2]] for row in points.rows}
    for row in estate[estate["lat"].notna()].head(50).itertuples():
        assert colours[row.building_id] == STATUS_COLOURS[row.status]


def test_a_click_is_mapped_back_to_every_building_at_that_point(estate: pd.DataFrame) -> None:
    points = BuildingPoints(estate)
    lat, lon = points.rows[0][0], points.rows[0][1]

    here = buildings_at(estate, lat, lon)

    assert points.rows[0][3] in set(here["building_id"])
    assert buildings_at(estate, 0.0, 0.0).empty
    # Practices in one health centre share a point: a click there offers all of them.
    shared = estate.groupby(["lat", "lon"]).size().sort_values()
    (lat2, lon2), count = shared.index[-1], int(shared.iloc[-1])
    assert count > 3
    assert len(buildings_at(estate, round(lat2, 6), round(lon2, 6))) == count


def test_marker_radius_stays_small_enough_for_clicks(estate: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="1–10 px"):
        BuildingPoints(estate, radius=12)


def test_base_map_has_every_boundary_layer_and_legends_and_no_colormap() -> None:
    m = offline_map(estate_base_map(show=("neighbourhoods", "imd")))
    html = m.get_root().render()

    layers = {c.layer_name: c.show for c in m._children.values() if isinstance(c, BoundaryLayer)}
    assert layers == {"Deprivation (IMD 2019 by LSOA)": True, "Wards": False, "PCN footprints": False,
                      "Neighbourhoods": True}
    assert "IMD 2019 decile" in html
    assert "Building status" in html
    assert "fitBounds" in html
    assert "Crown copyright" in html


def test_focus_zooms_to_a_neighbourhood_and_rejects_unknown_ones() -> None:
    html = estate_base_map(focus="North").get_root().render()

    assert "fitBounds" in html
    with pytest.raises(ValueError, match="Atlantis"):
        estate_base_map(focus="Atlantis")


def test_no_basemap_by_default_and_a_configured_tile_server_with_its_credit() -> None:
    assert configured_basemaps({}) == (NO_BASEMAP,)
    env = {BASEMAP_URL_ENV: "https://tiles.internal.example/{z}/{x}/{y}.png",
           BASEMAP_ATTRIBUTION_ENV: "© OpenStreetMap contributors"}
    choices = configured_basemaps(env)

    assert choices[0] is NO_BASEMAP
    assert choices[1] == Basemap("Tiles: tiles.internal.example", env[BASEMAP_URL_ENV], env[BASEMAP_ATTRIBUTION_ENV])
    html = estate_base_map(basemap=choices[1]).get_root().render()
    assert "tiles.internal.example/{z}/{x}/{y}.png" in html
    assert "OpenStreetMap contributors" in html
    assert "Crown copyright" in html
    with pytest.raises(ValueError, match="ATTRIBUTION"):
        configured_basemaps({BASEMAP_URL_ENV: env[BASEMAP_URL_ENV]})
    with pytest.raises(ValueError, match="template"):
        configured_basemaps({BASEMAP_URL_ENV: "tiles.example/x.png", BASEMAP_ATTRIBUTION_ENV: "x"})


def test_colocation_layers(estate: pd.DataFrame) -> None:
    clusters, _ = colocation_clusters(estate)
    pairs = surplus_near_key(estate)

    groups = colocation_layers(clusters, pairs)

    assert [g.layer_name for g in groups] == [f"Co-location opportunities ({len(clusters)})",
                                              f"Surplus near key ({len(pairs)})"]
    html = estate_map(estate.head(5), extra_layers=groups).get_root().render()
    assert html.count("L.circle(") == len(clusters)
    assert html.count("L.polyline(") == len(pairs)


def test_st_folium_gets_inline_assets_for_the_base_and_the_building_layers(
    estate: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    sent: dict[str, Any] = {}
    monkeypatch.setattr(streamlit_folium, "_component_func", lambda **kwargs: sent.update(kwargs))

    layers = [offline_map(g) for g in building_layers(estate)]
    streamlit_folium.st_folium(offline_map(estate_base_map()), feature_group_to_add=layers,
                               layer_control=folium.LayerControl(), returned_objects=["last_object_clicked"])

    assert sent["js_links"]
    assert all(link.startswith("data:") for link in sent["js_links"] + sent["css_links"])
    assert sent["feature_group"].count("buildingId: r[3]") == len(layers)
    assert sent["returned_objects"] == ["last_object_clicked"]


@pytest.mark.parametrize("payload", ["{{ 7*7 }}", "{% for i in range(3) %}Z{% endfor %}",
                                     "{{ cycler.__init__.__globals__.os.getcwd() }}", "{# hidden #}"])
def test_register_text_is_never_run_as_a_template(estate: pd.DataFrame, payload: str) -> None:
    # branca compiles each rendered script as a Jinja template: register text must not reach it as syntax.
    frame = estate.head(4).copy()
    frame["name"] = payload
    frame["partner"] = payload
    frame["building_id"] = [f"x:{payload}:{i}" for i in range(4)]
    clusters, _ = colocation_clusters(estate)
    pairs = surplus_near_key(estate)
    clusters = clusters.assign(hub_name=payload, partners=payload)
    pairs = pairs.assign(surplus_name=payload, key_name=payload)

    html = estate_map(frame, extra_layers=colocation_layers(clusters, pairs)).get_root().render()

    assert "ZZZ" not in html
    assert os.getcwd() not in html
    assert "\\u0026#123;" in html  # the braces are there, as entities (JSON-encoded)
    assert f"x:{payload}:0" in html  # ids are data, kept exactly (never compiled)


def test_escape_text() -> None:
    assert escape_text("<b>{{ x }}</b> & co") == "&lt;b&gt;&#123;&#123; x &#125;&#125;&lt;/b&gt; &amp; co"
    assert escape_text(None) == ""


def test_boundary_layers_are_cached_on_disk_and_rebuilt_when_a_source_changes(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import estates.maps as maps
    from geo.place import load_place

    monkeypatch.setattr(maps, "DISPLAY_CACHE_DIR", tmp_path)
    place = load_place()
    maps._boundary_geojson.cache_clear()
    text, bounds = maps._boundary_geojson(place, "pcn")
    files = list(tmp_path.glob("trafford-pcn-*.json"))
    assert len(files) == 1

    maps._boundary_geojson.cache_clear()
    monkeypatch.setattr(maps, "_build_display", lambda *_a: pytest.fail("rebuilt although cached"))
    assert maps._boundary_geojson(place, "pcn") == (text, bounds)  # read back from the file, same result

    stamp = maps._display_cache_file(place, "pcn")
    monkeypatch.setattr(maps, "_DISPLAY_FORMAT", maps._DISPLAY_FORMAT + 1)
    assert maps._display_cache_file(place, "pcn") != stamp  # a new format (or a changed source file) -> new name
    maps._boundary_geojson.cache_clear()


def test_map_extents_come_from_the_cache_and_match_the_boundary_files(
    tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import estates.maps as maps
    from geo import boundaries
    from geo.place import load_place

    place = load_place()
    west, south, east, north = (float(v) for v in boundaries.boundary(place).total_bounds)
    hoods = boundaries.neighbourhoods(place, generalised=True)
    h_west, h_south, h_east, h_north = (float(v) for v in hoods[hoods["neighbourhood"] == "North"].total_bounds)

    monkeypatch.setattr(maps, "DISPLAY_CACHE_DIR", tmp_path)
    maps._extents.cache_clear()
    try:
        whole, per_neighbourhood = maps._extents(place)
        assert whole == ((south, west), (north, east))
        assert per_neighbourhood["North"] == ((h_south, h_west), (h_north, h_east))
        assert len(list(tmp_path.glob("trafford-extents-*.json"))) == 1

        # A new process (cache cleared) fits the map without reading or dissolving a boundary file.
        maps._extents.cache_clear()
        monkeypatch.setattr(maps, "_build_extents", lambda *_a: pytest.fail("rebuilt although cached"))
        html = estate_base_map(place, focus="North").get_root().render()
        assert f"[[{h_south}, {h_west}], [{h_north}, {h_east}]]" in html
        with pytest.raises(ValueError, match="Atlantis"):
            estate_base_map(place, focus="Atlantis")
    finally:
        maps._extents.cache_clear()


def test_a_damaged_display_cache_file_is_rebuilt_and_replaced(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    import estates.maps as maps
    from geo.place import load_place

    monkeypatch.setattr(maps, "DISPLAY_CACHE_DIR", tmp_path)
    place = load_place()
    maps._extents.cache_clear()
    try:
        expected = maps._extents(place)
        cache = maps._display_cache_file(place, "extents")
        cache.write_text('{"place": "not bounds"}', "utf-8")  # valid JSON, wrong shape
        maps._extents.cache_clear()
        assert maps._extents(place) == expected
        assert "neighbourhoods" in json.loads(cache.read_text("utf-8"))  # the file was written again
    finally:
        maps._extents.cache_clear()


def test_building_layers_split_by_any_column_in_the_frame_order(estate: pd.DataFrame) -> None:
    frame = estate.head(40).copy()
    frame.loc[frame.index[:3], "partner"] = None  # missing values get their own layer

    groups = building_layers(frame, by="partner")
    counts = {g.layer_name: next(iter(g._children.values())).count for g in groups}
    located = frame[frame["lat"].notna() & frame["lon"].notna()]
    expected = located["partner"].astype("str").fillna("(none)").value_counts()
    assert counts == {escape_text(f"{k} ({v:,})"): v for k, v in sorted(expected.items())}
    for group in groups:  # rows keep the frame's order within a layer
        points = next(iter(group._children.values()))
        ids = [row[3] for row in points.rows]
        assert ids == [i for i in located["building_id"].astype("str") if i in set(ids)]


def test_a_click_offers_the_buildings_drawn_within_a_few_pixels_at_that_zoom(estate: pd.DataFrame) -> None:
    located = estate[estate["lat"].notna()].drop_duplicates(["lat", "lon"])
    # Two buildings 20-40 m apart (on the grid), nobody else within 400 m of the first.
    east, north = located["easting"].to_numpy(), located["northing"].to_numpy()
    gaps = np.hypot(east[:, None] - east[None, :], north[:, None] - north[None, :])
    crowd = (gaps < 400).sum(axis=1)
    pairs = [(i, j) for i, j in zip(*np.nonzero((gaps > 20) & (gaps < 40)), strict=True) if crowd[i] == 2]
    first, second = pairs[0]
    a, b = located.iloc[first], located.iloc[second]

    # Zoom 12 (~23 m a pixel here): one blob, both offered, the clicked one first.
    here = buildings_at(located, a["lat"], a["lon"], zoom=12)
    assert here["building_id"].tolist() == [a["building_id"], b["building_id"]]
    # Zoom 18 (~0.36 m a pixel): 20-40 m is 55-110 px, well apart: only the clicked one.
    assert buildings_at(located, a["lat"], a["lon"], zoom=18)["building_id"].tolist() == [a["building_id"]]
    # Without a zoom, as before: the point only.
    assert buildings_at(located, a["lat"], a["lon"])["building_id"].tolist() == [a["building_id"]]


def test_the_move_map_draws_its_context_escaped_and_uses_configured_tiles() -> None:
    from estates.maps.move import move_base_map, move_basemap, move_layers
    from geo.place import load_place

    neighbours = pd.DataFrame({"lat": [53.4592, float("nan")], "lon": [-2.2870, -2.29], "name": [HOSTILE, "x"],
                               "status": ["key", "core"], "away_m": [42.4, 10.0]})
    groups = move_layers({"lat": 53.4590, "lon": -2.2875, "name": "Town {{ 7*7 }} Hall", "status": "core"},
                         neighbours, postcode=("M32 0TH", 53.458999, -2.287483, 1.2),
                         proposed=(53.4600, -2.2880, 119.0))
    m = move_base_map(load_place())
    for group in groups:
        group.add_to(m)
    folium.LayerControl().add_to(m)
    html = offline_map(m).get_root().render()

    assert [g.layer_name for g in groups] == ["Sites nearby (1)", "Postcode centre", "Now", "Proposed"]
    for kind in ("neighbour", "postcode", "current", "proposed"):
        assert f"estates-move-{kind}" in html
    assert "<script>alert" not in html
    assert "Now: Town \\u0026#123;\\u0026#123; 7*7 \\u0026#125;\\u0026#125; Hall" in html  # braces inert for Jinja
    assert "Town 49 Hall" not in html
    for label in ("42 m", "M32 0TH centre", "119 m from now", "LSOA outlines"):
        assert label in html
    assert external_asset_urls(html) == []
    assert move_basemap({}) is NO_BASEMAP
    env = {BASEMAP_URL_ENV: "https://tiles.internal.example/{z}/{x}/{y}.png", BASEMAP_ATTRIBUTION_ENV: "© OSM"}
    assert move_basemap(env).url == env[BASEMAP_URL_ENV]
