"""Access on the interactive maps: rings round the chosen sites, the access-gap LSOAs, the sites of the kind.

Plain functions returning folium feature groups, to hand to ``st_folium(feature_group_to_add=...)`` over
:func:`estates.maps.estate_base_map` (or add to any folium map). Register text is HTML-escaped.
"""

from __future__ import annotations

import json

import folium
import pandas as pd
import shapely

from estates.access import (
    CLOSED_COLOUR,
    GAP_COLOUR,
    GAP_TOP,
    RING_COLOURS,
    SITE_COLOUR,
    AccessAnalysis,
    kind_label,
)
from estates.maps import escape_text
from geo import boundaries
from geo.geometry import clean_polygons
from geo.projection import WGS84

__all__ = ["access_layers"]


def _metres(value: object) -> str:
    return "–" if value is None or pd.isna(value) else f"{float(value):,.0f} m"


def access_layers(analysis: AccessAnalysis, *, gap_top: int = GAP_TOP) -> list[folium.FeatureGroup]:
    """The layers of an access analysis.

    Parameters
    ----------
    analysis
        :func:`estates.access.access_analysis`.
    gap_top
        How many of the top-ranked gap LSOAs (in view) to highlight.

    Returns
    -------
    list of folium.FeatureGroup
        "Access gap: top N LSOAs" (red outlines, tooltip with rank, deprivation and distance), "Rings: 400 / 800 /
        1,600 m" round :meth:`~estates.access.AccessAnalysis.ringed` sites, and the sites of the kind (closing ones
        in red). Every path carries a ``className`` (``access-gap``, ``access-ring``, ``access-site``,
        ``access-closed``) so pages and tests can find them.
    """
    gap = analysis.gap().head(gap_top)
    shapes = boundaries.lsoas(analysis.place)[["lsoa_code", "geometry"]].merge(gap, on="lsoa_code")
    shapes = clean_polygons(shapes.to_crs(WGS84))
    gaps = folium.FeatureGroup(name=f"Access gap: top {len(gap)} LSOAs", show=True)
    for row in shapes.itertuples(index=False):
        tip = (f"<b>Gap #{int(row.rank)}: {escape_text(row.lsoa_name)}</b><br>IMD decile {row.imd_decile} · "
               f"{float(row.residents):,.0f} residents<br>mean distance {_metres(row.mean_m)}, "
               f"{float(row.share_within_800_m):.0%} within 800 m")
        style = {"color": GAP_COLOUR, "weight": 3, "fillColor": GAP_COLOUR, "fillOpacity": 0.12,
                 "className": "access-gap"}
        folium.GeoJson(json.loads(shapely.to_geojson(row.geometry)), style_function=lambda _f, s=style: s,
                       tooltip=folium.Tooltip(tip)).add_to(gaps)
    rings = folium.FeatureGroup(name="Rings: " + " / ".join(f"{b:,.0f}" for b in RING_COLOURS) + " m", show=True)
    for site in analysis.ringed().itertuples(index=False):
        for band, colour in sorted(RING_COLOURS.items(), reverse=True):
            folium.Circle([float(site.lat), float(site.lon)], radius=band, color=colour, weight=2, fill=False,
                          class_name="access-ring",
                          tooltip=f"{band:,.0f} m from {escape_text(site.name)}").add_to(rings)
    sites = folium.FeatureGroup(name=f"{kind_label(analysis.kind).capitalize()} ({len(analysis.facilities)})",
                                show=True)
    closed = set(analysis.closed)
    for site in analysis.facilities.itertuples(index=False):
        closing = site.facility_id in closed
        tip = f"<b>{escape_text(site.name)}</b><br>{escape_text(site.partner)} · {escape_text(site.status)}"
        folium.CircleMarker([float(site.lat), float(site.lon)], radius=8 if closing else 6,
                            color="#FFFFFF", weight=1.5, fill=True, fill_opacity=0.95,
                            fill_color=CLOSED_COLOUR if closing else SITE_COLOUR,
                            class_name="access-closed" if closing else "access-site",
                            tooltip=tip + ("<br><b>closes</b>" if closing else "")).add_to(sites)
    return [gaps, rings, sites]

