"""The folium map the browser tests render, and what a working render shows.

Shared by the static-page test and the Streamlit test app so both check one map
that uses every kind of asset we vendor: Leaflet's default marker image, awesome
markers with Glyphicons and Font Awesome icons, popups (jQuery), a GeoJson polygon,
a circle marker, a MarkerCluster and a LayerControl.
"""

from __future__ import annotations

import folium
from folium.plugins import MarkerCluster

from estates.maps import base_map

__all__ = [
    "ATTRIBUTION",
    "CLUSTERED_MARKERS",
    "DEFAULT_MARKER_POPUP",
    "EXPECTED_CIRCLES",
    "EXPECTED_INTERACTIVE_PATHS",
    "EXPECTED_MARKERS",
    "EXPECTED_MARKER_ICONS",
    "build_demo_map",
]

CENTRE = (53.4200, -2.3500)
ATTRIBUTION = "Test boundaries © Offline Test Co <not a tag>"
DEFAULT_MARKER_POPUP = "Sale Waterside (default icon)"
CLUSTERED_MARKERS = 5
# Three single markers plus one cluster icon standing for the clustered markers.
EXPECTED_MARKERS = 4
# Of those, the default-icon marker and the cluster carry .leaflet-marker-icon;
# the two awesome markers do not.
EXPECTED_MARKER_ICONS = 2
# The GeoJson polygon and the circle marker.
EXPECTED_INTERACTIVE_PATHS = 2
EXPECTED_CIRCLES = 1


def build_demo_map() -> folium.Map:
    """Build the test map (not yet passed through ``offline_map``).

    Returns
    -------
    folium.Map
        A map with no basemap, centred on Trafford at zoom 13.
    """
    lat, lon = CENTRE
    m = base_map(location=CENTRE, zoom_start=13, tiles=None, attribution=ATTRIBUTION)
    square = {
        "type": "Feature",
        "properties": {"name": "Test ward"},
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [lon - 0.02, lat - 0.01],
                    [lon + 0.02, lat - 0.01],
                    [lon + 0.02, lat + 0.01],
                    [lon - 0.02, lat + 0.01],
                    [lon - 0.02, lat - 0.01],
                ]
            ],
        },
    }
    folium.GeoJson(square, name="Wards", tooltip="Test ward").add_to(m)
    folium.CircleMarker((lat - 0.005, lon + 0.012), radius=8, popup="Circle").add_to(m)
    folium.Marker((lat + 0.004, lon - 0.012), popup=DEFAULT_MARKER_POPUP).add_to(m)
    folium.Marker((lat + 0.004, lon), popup="Glyphicon marker", icon=folium.Icon(color="red")).add_to(m)
    folium.Marker(
        (lat + 0.004, lon + 0.012),
        popup="Font Awesome marker",
        icon=folium.Icon(color="green", prefix="fa", icon="house", angle=15),
    ).add_to(m)
    cluster = MarkerCluster(name="Buildings").add_to(m)
    for i in range(CLUSTERED_MARKERS):
        folium.Marker((lat - 0.006 + i * 0.0002, lon - 0.008), popup=f"B{i}").add_to(cluster)
    folium.LayerControl().add_to(m)
    return m
