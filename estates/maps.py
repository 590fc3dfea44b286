"""Base maps for the estates pages.

Build every page map with :func:`base_map`, add layers, then pass it through
:func:`estates._offline.offline_map` just before rendering so it needs no network::

    from streamlit_folium import st_folium

    from estates._offline import offline_map
    from estates.maps import base_map

    m = base_map(location=(53.42, -2.35), zoom_start=11, tiles=None,
                 attribution="Contains OS data © Crown copyright and database right 2024")
    folium.GeoJson(wards).add_to(m)
    st_folium(offline_map(m), height=600, returned_objects=[])
"""

from __future__ import annotations

import html

import folium
from branca.element import MacroElement
from folium.template import Template

from estates._offline import offline_map
from geo import boundaries
from geo.place import Place, load_place

__all__ = ["attribution_text", "base_map", "boundary_map"]

# folium's default for tile layers, so tiled and tile-less maps zoom alike.
_MAX_ZOOM = 18


class _Attribution(MacroElement):
    """Add a line to the map's attribution control (bottom-right corner).

    Needed when there is no tile layer: Leaflet only shows the ``attr`` of layers,
    so a map with no basemap would otherwise credit nobody for its boundaries.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            {{ this._parent.get_name() }}.attributionControl.addAttribution(
                {{ this.text|tojavascript }}
            );
        {% endmacro %}
        """
    )

    def __init__(self, text: str) -> None:
        super().__init__()
        self._name = "Attribution"
        self.text = text


def base_map(
    *,
    location: tuple[float, float],
    zoom_start: int,
    tiles: str | None,
    attribution: str,
) -> folium.Map:
    """Create an empty folium map with an optional basemap and a visible attribution.

    Parameters
    ----------
    location : tuple of float
        Initial centre as ``(lat, lon)`` in WGS84.
    zoom_start : int
        Initial Leaflet zoom level.
    tiles : str or None
        Tile URL template (``"https://host/{z}/{x}/{y}.png"``) or a folium/xyzservices
        provider name. ``None`` draws no basemap: a plain background on which
        boundaries and markers still draw, and which needs no tile server.
    attribution : str
        Credit shown in the map's attribution control, as plain text (it is
        HTML-escaped, so ``<a>`` tags show literally; write ``©`` not ``&copy;``).
        Always shown, with or without tiles.

    Returns
    -------
    folium.Map
        The map, with no layers other than the basemap.

    Raises
    ------
    ValueError
        If ``attribution`` is blank.
    """
    if not attribution.strip():
        raise ValueError("attribution must not be blank: every map credits its data")
    escaped = html.escape(attribution)
    m = folium.Map(location=list(location), zoom_start=zoom_start, tiles=None)
    # Leaflet takes the map's zoom range from its tile layers; with no basemap
    # there is none, and MarkerCluster then throws "Map has no maxZoom specified".
    m.options["max_zoom"] = _MAX_ZOOM
    if tiles is None:
        _Attribution(escaped).add_to(m)
    else:
        folium.TileLayer(tiles=tiles, attr=escaped, control=False).add_to(m)
    return m


def attribution_text(place: Place) -> str:
    """The place's attribution lines as one plain-text credit."""
    return " | ".join(place.attribution) or place.name


def boundary_map(place: Place | None = None, *, tiles: str | None = None) -> folium.Map:
    """The place's neighbourhoods, PCN footprints and wards as toggleable layers, ready for rendering offline.

    Parameters
    ----------
    place
        The place (default: the current place).
    tiles
        Basemap tile URL template, or None for no basemap.
    """
    place = place if place is not None else load_place()
    m = base_map(location=place.centre, zoom_start=place.zoom, tiles=tiles, attribution=attribution_text(place))
    layers = (
        ("Neighbourhoods", boundaries.neighbourhoods(place, generalised=True), "neighbourhood", "#1f5f8b", True),
        ("PCN footprints", boundaries.pcn_footprints(place), "pcn_name", "#b5651d", False),
        ("Wards", boundaries.wards(place, generalised=True), "ward_name", "#555555", False),
    )
    for name, frame, label, colour, show in layers:
        folium.GeoJson(
            frame[[label, "geometry"]],
            name=name,
            show=show,
            style_function=lambda _feature, colour=colour: {"color": colour, "weight": 2, "fillOpacity": 0.08},
            tooltip=folium.GeoJsonTooltip(fields=[label], labels=False),
        ).add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)
    return offline_map(m)
