"""The interactive neighbourhood × PCN overlap map (folium), for the app page and the standalone HTML export.

Pieces are filled by PCN, neighbourhood boundaries are drawn over them as heavy dark lines (with labels), and
hovering a piece shows its figures: area, shares, residents, buildings by status and floor area. Slivers (pieces
flagged ``is_sliver``) are not drawn; the legend says how many were left out. Buildings are points coloured by
status, one toggleable layer per status, with a popup each. Every text from a register (building names, partners)
is HTML-escaped before it reaches the page. The map is passed through :func:`estates._offline.offline_map`, so it
needs no network: :func:`overlap_map_html` is a single file that opens from disk or an e-mail attachment.
"""

from __future__ import annotations

import json

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
from branca.element import MacroElement
from folium.template import Template

from estates._offline import offline_map
from estates._overlap_style import (
    NEIGHBOURHOOD_LINE,
    fmt_number,
    pcn_colours,
    piece_html,
)
from estates.maps import STATUS_COLOURS, attribution_text, base_map, escape_text
from estates.overlap import locate_in_pieces, pieces_with_estate
from estates.schema import STATUSES
from geo import boundaries
from geo.geometry import clean_polygons
from geo.place import Place, load_place
from geo.projection import BNG

__all__ = ["overlap_map", "overlap_map_html"]

_PIECE_LAYER = "Neighbourhood × PCN pieces"


class _HtmlControl(MacroElement):
    """A Leaflet control holding fixed HTML (the legend): works in a saved page and inside ``st_folium``."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function (map) {
                var div = L.DomUtil.create('div', {{ this.css_class|tojson }});
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str = "topleft", css_class: str = "overlap-legend") -> None:
        super().__init__()
        self._name = "HtmlControl"
        self.html = html_text
        self.position = position
        self.css_class = css_class


def _features(frame: gpd.GeoDataFrame, properties: dict[str, list[object]]) -> dict[str, object]:
    """A GeoJSON FeatureCollection with exactly the given properties (JSON-safe, no numpy types)."""
    geometry = json.loads(frame.geometry.to_json())["features"]
    features = []
    for i, feature in enumerate(geometry):
        props = {}
        for key, values in properties.items():
            value = values[i]
            if isinstance(value, np.generic):
                value = value.item()
            props[key] = value
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": props})
    return {"type": "FeatureCollection", "features": features}


def _display_geometry(frame: gpd.GeoDataFrame, tolerance_m: float) -> gpd.GeoDataFrame:
    """Simplify a coverage for the web (shared edges stay shared), in metres."""
    projected = clean_polygons(frame.to_crs(BNG), grid=0.01)
    projected = projected.set_geometry(projected.geometry.simplify_coverage(tolerance_m))
    return projected.to_crs(frame.crs)


def _building_popup(row: pd.Series) -> str:
    fields = (
        ("Partner", row.get("partner")),
        ("Status", row.get("status")),
        ("Use", row.get("use")),
        ("Floor area (GIA)", None if pd.isna(row.get("gia_m2")) else f"{fmt_number(row.get('gia_m2'))} m²"),
        ("Piece", row.get("piece")),
        ("Location precision", row.get("geocode_precision")),
        ("Building id", row.get("building_id")),
    )
    lines = "".join(f"<tr><th style='text-align:left;padding-right:8px;font-weight:normal;color:#555'>"
                    f"{escape_text(label)}</th><td>{escape_text(str(value))}</td></tr>"
                    for label, value in fields if value is not None and not (isinstance(value, float) and
                                                                             np.isnan(value)))
    name = row.get("name")
    title = escape_text(str(name)) if name is not None and not pd.isna(name) else "(no name)"
    return f"<b class='building-name'>{title}</b><table>{lines}</table>"


def _legend_html(colours: dict[str, str], *, title: str, slivers: int, sliver_ha: float | None,
                 with_buildings: bool, not_shown: int, folded: bool = False) -> str:
    swatch = ("<span style='display:inline-block;width:14px;height:12px;margin-right:6px;vertical-align:middle;"
              "background:{colour};opacity:0.75;border:1px solid #333'></span>")
    dot = ("<span style='display:inline-block;width:10px;height:10px;margin:0 8px 0 2px;vertical-align:middle;"
           "border-radius:50%;background:{colour};border:1px solid #fff;box-shadow:0 0 0 1px #555'></span>")
    parts = ["<div style='font-weight:bold'>PCN (fill)</div>"]
    parts += [f"<div>{swatch.format(colour=c)}{escape_text(name)}</div>" for name, c in colours.items()]
    parts.append(f"<div style='margin-top:4px'><span style='display:inline-block;width:18px;height:0;"
                 f"border-top:3px solid {NEIGHBOURHOOD_LINE};margin-right:6px;vertical-align:middle'></span>"
                 "Neighbourhood boundary</div>")
    if with_buildings:
        parts.append("<div style='font-weight:bold;margin-top:4px'>Buildings (status)</div>")
        parts += [f"<div>{dot.format(colour=STATUS_COLOURS[s])}{escape_text(s)}</div>" for s in STATUSES]
    if slivers:
        size = f"under {sliver_ha:g} ha" if sliver_ha is not None else "tiny"
        parts.append(f"<div style='margin-top:4px;color:#444'>{slivers} sliver piece(s) ({size}, from boundary "
                     "mismatch) not drawn; kept in the totals</div>")
    if with_buildings and not_shown:
        parts.append(f"<div style='color:#444'>{not_shown} building(s) without a location not shown</div>")
    parts.append("<div style='color:#444'>Hover a piece for its figures</div>")
    style = ("background:rgba(255,255,255,0.92);padding:8px 10px;border-radius:4px;font:12px/1.35 sans-serif;"
             "box-shadow:0 1px 4px rgba(0,0,0,0.3);max-width:260px")
    summary = (f"<summary style='font-weight:bold;cursor:pointer;margin-bottom:4px'>{escape_text(title)}"
               "</summary>")
    return f"<details{'' if folded else ' open'} style='{style}'>{summary}{''.join(parts)}</details>"


def overlap_map(
    pieces: gpd.GeoDataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    place: Place | None = None,
    sliver_ha: float | None = None,
    show_practices: bool = False,
    title: str | None = None,
    compact: bool = False,
) -> folium.Map:
    """The neighbourhood × PCN pieces, neighbourhood boundaries and (optionally) the estate, ready offline.

    Parameters
    ----------
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces` (optionally already through
        :func:`estates.overlap.pieces_with_estate`).
    buildings
        The estate (e.g. :func:`estates.estate.current_estate`): counts go into the hover text and located
        buildings are drawn as points, one layer per status. ``None``: pieces only.
    place
        The place (default: the current place).
    sliver_ha
        The sliver threshold the pieces were made with, for the legend's note (optional).
    show_practices
        Show the GP practices layer when the map opens (it is always in the layer control).
    title
        Legend title (default: "<place>: neighbourhoods × PCNs").
    compact
        Start with the layer control and the legend folded (for a map inside a page); both open on a click.

    Returns
    -------
    folium.Map
        With a layer control, an HTML legend (top left) and the place's attribution; already passed through
        :func:`estates._offline.offline_map`.
    """
    place = place if place is not None else load_place()
    if buildings is not None and "buildings" not in pieces.columns:
        pieces = pieces_with_estate(pieces, buildings)
    drawn = pieces[~pieces["is_sliver"].astype(bool)].reset_index(drop=True)
    colours = pcn_colours(pieces["pcn_name"])
    m = base_map(location=place.centre, zoom_start=place.zoom, tiles=None, attribution=attribution_text(place))
    title = title or f"{place.name}: neighbourhoods × PCNs"
    m.get_root().title = escape_text(title)

    shown = _display_geometry(drawn, 5.0)
    records = drawn.drop(columns="geometry").to_dict("records")
    piece_data = _features(shown, {
        "piece": [f"{r['neighbourhood']} × {r['pcn_name']}" for r in records],
        "pcn_name": [str(r["pcn_name"]) for r in records],
        "colour": [colours[str(r["pcn_name"])] for r in records],
        "figures": [piece_html(r) for r in records],
    })
    folium.GeoJson(
        piece_data,
        name=_PIECE_LAYER,
        style_function=lambda feature: {"fillColor": feature["properties"]["colour"], "color": "#FFFFFF",
                                        "weight": 1, "fillOpacity": 0.6},
        highlight_function=lambda _feature: {"weight": 3, "color": "#000000", "fillOpacity": 0.8},
        tooltip=folium.GeoJsonTooltip(fields=["figures"], labels=False, sticky=True),
    ).add_to(m)

    hoods = boundaries.neighbourhoods(place, generalised=True)
    outlines = folium.FeatureGroup(name="Neighbourhood boundaries", control=True)
    folium.GeoJson(
        _features(hoods, {"neighbourhood": hoods["neighbourhood"].astype(str).tolist()}),
        style_function=lambda _feature: {"color": NEIGHBOURHOOD_LINE, "weight": 3, "fill": False, "opacity": 0.9},
        interactive=False,
        control=False,
    ).add_to(outlines)
    labels = hoods.to_crs(BNG).representative_point().to_crs(hoods.crs)
    for name, point in zip(hoods["neighbourhood"].astype(str), labels, strict=True):
        folium.Marker(
            (point.y, point.x),
            icon=folium.DivIcon(
                html=(f"<div style='font:bold 13px sans-serif;color:{NEIGHBOURHOOD_LINE};white-space:nowrap;"
                      "text-shadow:0 0 3px #fff,0 0 3px #fff,0 0 3px #fff;transform:translate(-50%,-50%)'>"
                      f"{escape_text(name)}</div>"),
                icon_size=(0, 0),
            ),
            interactive=False,
        ).add_to(outlines)
    outlines.add_to(m)

    not_shown = 0
    if buildings is not None:
        located = locate_in_pieces(buildings, pieces)
        has_point = located["not_in_piece_reason"] != "not located"
        not_shown = int((~has_point).sum())
        located = located[has_point.to_numpy()].copy()
        located["piece"] = np.where(
            located["in_piece"],
            located["neighbourhood"].astype("string").fillna("") + " × " + located["pcn_name"].astype(
                "string").fillna(""),
            "outside " + place.name)
        points = gpd.GeoDataFrame(located, geometry=gpd.points_from_xy(
            pd.to_numeric(located["lon"]), pd.to_numeric(located["lat"])), crs="EPSG:4326")
        status = points["status"].astype("string").fillna("needs data")
        for value in [*STATUSES, *sorted(set(status) - set(STATUSES))]:
            chosen = points[(status == value).to_numpy()]
            if chosen.empty:
                continue
            colour = STATUS_COLOURS.get(value, "#000000")
            data = _features(chosen, {"popup": [_building_popup(r) for _, r in chosen.iterrows()],
                                      "status": [value] * len(chosen)})
            folium.GeoJson(
                data,
                name=f"Buildings: {escape_text(value)} ({len(chosen)})",
                marker=folium.CircleMarker(radius=4, fill=True),
                style_function=lambda _feature, colour=colour: {"color": "#FFFFFF", "weight": 1,
                                                                "fillColor": colour, "fillOpacity": 0.95},
                popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
            ).add_to(m)

    practices = boundaries.gp_practices(place)
    practices = practices[practices["lon"].notna() & practices["lat"].notna()]
    practice_points = gpd.GeoDataFrame(practices, geometry=gpd.points_from_xy(practices["lon"], practices["lat"]),
                                       crs="EPSG:4326")
    practice_popups = [
        f"<b>{escape_text(str(r['practice_name']))}</b><br>{escape_text(str(r['pcn_name']))}<br>"
        f"Registered patients: {escape_text(fmt_number(r['registered_patients']))}"
        for _, r in practice_points.iterrows()
    ]
    folium.GeoJson(
        _features(practice_points, {"popup": practice_popups}),
        name=f"GP practices ({len(practice_points)})",
        show=show_practices,
        marker=folium.CircleMarker(radius=6, fill=True),
        style_function=lambda _feature: {"color": "#000000", "weight": 2, "fillColor": "#FFFFFF",
                                         "fillOpacity": 1.0},
        popup=folium.GeoJsonPopup(fields=["popup"], labels=False),
    ).add_to(m)

    _HtmlControl(_legend_html(colours, title=title, slivers=int(pieces["is_sliver"].sum()), sliver_ha=sliver_ha,
                              with_buildings=buildings is not None, not_shown=not_shown, folded=compact)).add_to(m)
    folium.LayerControl(collapsed=compact).add_to(m)
    minx, miny, maxx, maxy = pieces.total_bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return offline_map(m)


def overlap_map_html(
    pieces: gpd.GeoDataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    place: Place | None = None,
    sliver_ha: float | None = None,
) -> str:
    """The overlap map as one standalone HTML page: every script, style and image inlined, no network needed.

    Parameters are as :func:`overlap_map`.
    """
    return overlap_map(pieces, buildings, place=place, sliver_ha=sliver_ha).get_root().render()
