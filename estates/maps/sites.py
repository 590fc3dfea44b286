"""The sites a page shows as one standalone, offline HTML map: the export twin of :func:`estates.maps.static
.sites_figure` (same area, same extent, same title and filters), with a scale bar.

Every script and style is inlined by :func:`estates.maps._offline.offline_map`, so the file opens from a disk or an
e-mail attachment with no network and no CDN.
"""

from __future__ import annotations

from datetime import date

import folium
import numpy as np
import pandas as pd

from estates.analysis.filters import Filters
from estates.maps import _LEGEND_BOX, NO_BASEMAP, Basemap, Legend, building_layers, escape_text, estate_base_map
from estates.maps._offline import offline_map
from estates.maps._view import area_shape, fitted_extent, subtitle_text, view_area, view_title
from geo.place import Place, load_place
from geo.projection import to_wgs84

__all__ = ["sites_map"]


def sites_map(
    sites: pd.DataFrame,
    *,
    place: Place | None = None,
    title: str | None = None,
    filters: Filters | None = None,
    area: tuple[str, str] | None = None,
    made: date | None = None,
    basemap: Basemap = NO_BASEMAP,
) -> folium.Map:
    """An offline interactive map of the sites a page shows, fitted to the filtered area, with a scale bar.

    Parameters
    ----------
    sites
        The sites shown (``lat``, ``lon``, ``site_id``, ``status``, ``name``, ``partners``): one canvas marker each,
        one layer per status, a tooltip with the name, occupants and status.
    place, title, filters, area, made
        As :func:`estates.maps.static.sites_figure`: the title (with the area's name) and a subtitle naming the
        filters, the count and the date show in a box at the top right; the map opens on the area's extent.
    basemap
        Tiles (only when the users can reach a tile server) or :data:`estates.maps.NO_BASEMAP` (default).

    Returns
    -------
    folium.Map
        Passed through :func:`estates.maps._offline.offline_map`; ``m.get_root().render()`` is the whole file.
    """
    place = place if place is not None else load_place()
    named = view_area(filters, area)
    heading = view_title(title or f"{place.name} estate: sites by status", place=place, area=named)
    unlocated = int((pd.to_numeric(sites["lat"], errors="coerce").isna()
                     | pd.to_numeric(sites["lon"], errors="coerce").isna()).sum())
    subtitle = subtitle_text(filters, shown=len(sites), unlocated=unlocated, made=made)
    focus = named[1] if named is not None and named[0] == "neighbourhood" else None
    m = estate_base_map(place, basemap=basemap, show=("neighbourhoods",), focus=focus)
    m.control_scale = True  # folium's own option (Leaflet's scale control): metric and imperial, bottom left
    m.get_root().title = escape_text(heading)
    Legend(f"<div style='{_LEGEND_BOX};max-width:420px'><div style='font-size:15px;font-weight:bold'>"
           f"{escape_text(heading)}</div><div style='color:#333'>{escape_text(subtitle)}</div></div>",
           position="topright").add_to(m)
    for group in building_layers(sites, by="status", id_column="site_id"):
        group.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    minx, miny, maxx, maxy = fitted_extent(sites, area_shape(place, filters=filters, area=area), place=place,
                                           margin=0.02)
    lon, lat = to_wgs84(np.array([minx, maxx]), np.array([miny, maxy]))
    m.fit_bounds([[float(lat[0]), float(lon[0])], [float(lat[1]), float(lon[1])]])
    return offline_map(m)
