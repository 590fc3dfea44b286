"""The map for moving a site by hand: enough context to place it without a basemap.

Offline there are no tiles, so a site alone at street zoom is a dot on grey. This map draws what a person needs to
judge a position instead: the ward and LSOA outlines (the areas a move re-tags), the neighbouring sites with their
names, the centre of the site's postcode unit, the site where it is now, and the proposed new point joined to it with
its distance. Where a tile server is configured (:func:`estates.maps.configured_basemaps`) its tiles are drawn too.

Everything here is non-interactive except the boundaries' hover text, so a click anywhere reaches the map (that click
is the proposed point). Names are escaped (:func:`estates.maps.escape_text`). Each marker is a ``DivIcon`` with a class
of its own (``estates-move-neighbour``, ``estates-move-postcode``, ``estates-move-current``,
``estates-move-proposed``), so what the map shows can be checked in the page's DOM.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import folium
import pandas as pd
from folium.template import Template

from estates.maps import (
    NO_BASEMAP,
    STATUS_COLOURS,
    Basemap,
    BoundaryLayer,
    _VerbatimMacroElement,
    configured_basemaps,
    escape_text,
    estate_base_map,
)
from geo.place import Place

__all__ = ["move_base_map", "move_basemap", "move_layers"]

_LABEL = ("position:absolute;left:15px;top:{top}px;white-space:nowrap;font:11px/1.3 sans-serif;color:#222;"
          "background:rgba(255,255,255,0.85);padding:0 3px;border-radius:2px")
# Label offsets (px from the dot's top): the site now above, the proposed point below, so the two never overlap.
_LABEL_TOP = {"current": -17, "proposed": 14, "postcode": 0, "neighbour": -3}
_PROPOSED_COLOUR = "#D81B60"
_POSTCODE_COLOUR = "#6A3D9A"


def move_basemap(environ: Mapping[str, str] | None = None) -> Basemap:
    """The tiles to draw under the move map: the configured tile server if there is one, else none.

    Parameters
    ----------
    environ
        As :func:`estates.maps.configured_basemaps` (default ``os.environ``).
    """
    return next((b for b in configured_basemaps(environ) if b.url is not None), NO_BASEMAP)


def move_base_map(place: Place, *, around: Sequence[tuple[float, float]] = (), basemap: Basemap = NO_BASEMAP,
                  margin_m: float = 150.0) -> folium.Map:
    """The static part of the move map: tiles if any, ward and LSOA outlines shown, legends, fitted to the points.

    Parameters
    ----------
    place
        The place.
    around
        ``(lat, lon)`` points the map opens on (the site, its postcode's centre, a typed point), with ``margin_m``
        round them; none: the whole place.
    basemap
        Tiles (:func:`move_basemap`) or :data:`estates.maps.NO_BASEMAP`.
    margin_m
        Metres shown beyond the points on every side.

    Returns
    -------
    folium.Map
        As :func:`estates.maps.estate_base_map`. The view is part of the map (``st_folium``'s ``center``/``zoom``
        are not used), so the map opens on the site at once.
    """
    m = estate_base_map(place, basemap=basemap, show=("wards",))
    BoundaryLayer(place, "lsoas", name="LSOA outlines", show=True,
                  style="function (f) { return {color: '#7b3294', weight: 1.2, opacity: 0.7, fill: false}; }",
                  tooltip=[("lsoa_name", "LSOA"), ("lsoa_code", "")]).add_to(m)
    points = [(float(lat), float(lon)) for lat, lon in around if not (pd.isna(lat) or pd.isna(lon))]
    if points:
        lats, lons = [p[0] for p in points], [p[1] for p in points]
        dlat = margin_m / 111_320.0
        dlon = margin_m / (111_320.0 * math.cos(math.radians(sum(lats) / len(lats))))
        _FitWhenShown([[min(lats) - dlat, min(lons) - dlon], [max(lats) + dlat, max(lons) + dlon]]).add_to(m)
    return m


class _FitWhenShown(_VerbatimMacroElement):
    """Fit the map to a box, again a few times while Streamlit lays its iframe out, until the person moves it.

    A fit made while the script runs does not hold (measured in Chromium: the map opened at zoom 11.5 on the whole
    borough although the script had fitted it to the site, and st_folium's ``center``/``zoom`` did no better); a fit
    repeated over the first 1.5 s and on resizes does, and stops as soon as the person pans or zooms.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (map, bounds) {
            var touched = false;
            function fit() {
                var size = map.getSize();
                if (!touched && size.x > 0 && size.y > 0) { map.fitBounds(bounds, {animate: false}); }
            }
            map.on('resize', fit);
            map.on('mousedown touchstart wheel keydown', function () { touched = true; });
            map.whenReady(function () { [0, 250, 750, 1500].forEach(function (ms) { setTimeout(fit, ms); }); });
        })({{ this._parent.get_name() }}, {{ this.bounds|tojson }});
        {% endmacro %}
        """
    )

    def __init__(self, bounds: list[list[float]]) -> None:
        super().__init__()
        self._name = "FitWhenShown"
        self.bounds = bounds


def _marker(lat: float, lon: float, *, kind: str, dot: str, label: str) -> folium.Marker:
    """A non-interactive marker: a dot (HTML) and a label beside it, with class ``estates-move-<kind>``."""
    style = _LABEL.format(top=_LABEL_TOP.get(kind, 0))
    html_text = f"{dot}<span class='estates-move-label' style='{style}'>{label}</span>"
    icon = folium.DivIcon(html=html_text, icon_size=(12, 12), icon_anchor=(6, 6), class_name=f"estates-move-{kind}")
    return folium.Marker([lat, lon], icon=icon, interactive=False, keyboard=False)


def _dot(colour: str, *, shape: str = "50%", size: int = 12, ring: str = "#ffffff") -> str:
    return (f"<div style='width:{size}px;height:{size}px;border-radius:{shape};background:{colour};"
            f"border:2px solid {ring};box-shadow:0 0 0 1px #444;box-sizing:border-box'></div>")


def _name(value: object) -> str:
    return escape_text(value if isinstance(value, str) and value.strip() else "(no name)")


def move_layers(
    site: Mapping[str, object],
    neighbours: pd.DataFrame,
    *,
    postcode: tuple[str, float, float, float] | None = None,
    proposed: tuple[float, float, float] | None = None,
) -> list[folium.FeatureGroup]:
    """The move map's markers, as feature groups for ``st_folium(feature_group_to_add=...)``.

    Parameters
    ----------
    site
        The site being moved: ``lat``, ``lon``, ``name``, ``status`` (no position: no "now" marker).
    neighbours
        :meth:`estates.service.Estate.nearby_sites`: ``lat``, ``lon``, ``name``, ``status``, ``away_m``.
    postcode
        ``(postcode, lat, lon, metres from the site)`` of the site's postcode unit centre, or None.
    proposed
        ``(lat, lon, metres from the site)`` of the new point not saved yet, or None.

    Returns
    -------
    list of folium.FeatureGroup
        "Sites nearby (n)", "Postcode centre", "Now" and "Proposed" (those that have something to show). Pass each
        through :func:`estates.maps._offline.offline_map`.
    """
    groups: list[folium.FeatureGroup] = []
    located = neighbours[neighbours["lat"].notna() & neighbours["lon"].notna()]
    if len(located):
        near = folium.FeatureGroup(name=f"Sites nearby ({len(located):,})", show=True)
        for row in located.itertuples(index=False):
            colour = STATUS_COLOURS.get(str(row.status), "#bbbbbb")
            _marker(float(row.lat), float(row.lon), kind="neighbour", dot=_dot(colour, size=11),
                    label=f"{_name(row.name)} · {float(row.away_m):,.0f} m").add_to(near)
        groups.append(near)
    if postcode is not None:
        code, lat, lon, away = postcode
        centre = folium.FeatureGroup(name="Postcode centre", show=True)
        _marker(lat, lon, kind="postcode", dot=_dot(_POSTCODE_COLOUR, shape="2px"),
                label=f"{escape_text(code)} centre · {away:,.0f} m").add_to(centre)
        groups.append(centre)
    here_lat, here_lon = site.get("lat"), site.get("lon")
    has_here = isinstance(here_lat, float) and isinstance(here_lon, float) and not pd.isna(here_lat) \
        and not pd.isna(here_lon)
    if has_here:
        now = folium.FeatureGroup(name="Now", show=True)
        colour = STATUS_COLOURS.get(str(site.get("status")), "#bbbbbb")
        _marker(float(here_lat), float(here_lon), kind="current", dot=_dot(colour, size=16, ring="#111111"),
                label=f"<b>Now: {_name(site.get('name'))}</b>").add_to(now)
        groups.append(now)
    if proposed is not None:
        lat, lon, away = proposed
        new = folium.FeatureGroup(name="Proposed", show=True)
        if has_here:
            folium.PolyLine([[float(here_lat), float(here_lon)], [lat, lon]], color=_PROPOSED_COLOUR, weight=2,
                            dash_array="5 4", interactive=False).add_to(new)
        _marker(lat, lon, kind="proposed", dot=_dot(_PROPOSED_COLOUR, size=16),
                label=f"<b>New position (not saved) · {away:,.0f} m from now</b>").add_to(new)
        groups.append(new)
    return groups
