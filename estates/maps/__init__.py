"""Maps for the estates pages: boundaries, buildings by status, deprivation, co-location, all offline.

Every map is built by a plain function that returns a :class:`folium.Map` (testable without Streamlit) and goes
through :func:`estates.maps._offline.offline_map` last, so it needs no network::

    from streamlit_folium import st_folium

    from estates.maps._offline import offline_map
    from estates.maps import base_map

    m = base_map(location=(53.42, -2.35), zoom_start=11, tiles=None,
                 attribution="Contains OS data © Crown copyright and database right 2024")
    folium.GeoJson(wards).add_to(m)
    st_folium(offline_map(m), height=600, returned_objects=[])

The estate pages split a map in two so a save or a filter change redraws only the buildings: the static part
(:func:`estate_base_map`: basemap, boundary layers, legends) keeps its view, and the buildings come as feature groups
(:func:`building_layers`) handed to ``st_folium(feature_group_to_add=...)``. :func:`estate_map` joins both into one
map for tests, exports and benchmarks.

Buildings are Leaflet circle markers on one canvas (``preferCanvas``), built in the browser from a compact array
rather than one folium object each: 50,000 buildings draw in about a second (``benchmarks/bench_app_render.py``).
A click on a building reports the building's own position (Leaflet does that for circle markers up to 10 px), which
:func:`buildings_at` maps back to the buildings there. Every text from a register (names, partners) is
HTML-escaped before it reaches the page.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, TypeVar

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from branca.element import Element, MacroElement
from folium.elements import ElementAddToElement
from folium.map import Layer
from folium.template import Template

from estates.maps._offline import offline_map
from estates.schema import STATUSES
from geo import boundaries
from geo.filecache import CACHE_DIR, source_digest, write_atomically
from geo.place import Place, load_place
from geo.projection import BNG

__all__ = [
    "BASEMAP_ATTRIBUTION_ENV",
    "BASEMAP_URL_ENV",
    "CLICK_PIXELS",
    "DISPLAY_CACHE_DIR",
    "IMD_COLOURS",
    "NO_BASEMAP",
    "STATUS_COLOURS",
    "Basemap",
    "BoundaryLayer",
    "BuildingPoints",
    "Legend",
    "attribution_text",
    "base_map",
    "boundary_map",
    "building_layers",
    "buildings_at",
    "colocation_layers",
    "configured_basemaps",
    "estate_base_map",
    "escape_text",
    "estate_map",
    "imd_legend_html",
    "prepare_maps",
    "status_legend_html",
]

# folium's default for tile layers, so tiled and tile-less maps zoom alike.
_MAX_ZOOM = 18

#: Status colours of every map (ColorBrewer RdBu ends, orange and grey: distinct with common colour-vision
#: deficiencies).
STATUS_COLOURS: dict[str, str] = {"key": "#B2182B", "core": "#2166AC", "surplus": "#F28E2B", "needs data": "#7F7F7F"}


#: IMD 2019 decile fills, decile 1 (most deprived 10 % of England) darkest.
IMD_COLOURS: dict[int, str] = {
    1: "#3f007d", 2: "#54278f", 3: "#6a51a3", 4: "#807dba", 5: "#9e9ac8",
    6: "#bcbddc", 7: "#d4d4e8", 8: "#e6e5f1", 9: "#f2f0f7", 10: "#fcfbfd",
}

#: Environment variable with a basemap tile URL template (``https://tiles.example/{z}/{x}/{y}.png``); unset: none.
BASEMAP_URL_ENV = "ESTATES_BASEMAP_URL"
#: Environment variable with the attribution the basemap's provider requires.
BASEMAP_ATTRIBUTION_ENV = "ESTATES_BASEMAP_ATTRIBUTION"

_BUILDING_RADIUS_PX = 6
_SELECTED_COLOUR = "#111111"
_CLUSTER_COLOUR = "#00796B"
_PAIR_COLOUR = "#6A3D9A"
_COORD_DECIMALS = 6  # ~0.1 m: enough to give a click back its building
_DISPLAY_TOLERANCE_M = 8.0
#: How close on screen (pixels) another site must be drawn to a clicked one to be offered as a choice: two markers
#: of :data:`_BUILDING_RADIUS_PX` this close overlap.
CLICK_PIXELS = 2 * _BUILDING_RADIUS_PX


def escape_text(value: object) -> str:
    """Text from a register or a user, made safe for a map: HTML-escaped, and braces as entities.

    Braces matter as much as angle brackets here: branca renders each folium element's script and then compiles
    the result as a Jinja template, so ``{{ … }}`` in a building name would be *run on the server* while the map
    is rendered. As HTML entities they display as braces and mean nothing to Jinja.
    """
    return html.escape("" if value is None else str(value)).replace("{", "&#123;").replace("}", "&#125;")


class _Verbatim(Element):
    """Rendered text added to a figure as it is (branca would compile it again as a Jinja template)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self._text = text

    def render(self, **kwargs: Any) -> str:
        return self._text


class _VerbatimMacroElement(MacroElement):
    """A ``MacroElement`` whose rendered header/html/script reach the page verbatim.

    branca's ``MacroElement.render`` wraps each rendered macro in ``Element(text)``, which compiles the text as a
    Jinja template: slow for large data (the boundary GeoJSON), and dangerous for text from registers (template
    injection). The elements of this module render through here instead.
    """

    def render(self, **kwargs: Any) -> None:
        figure = self.get_root()
        macros = self._template.module.__dict__
        for part in ("header", "html", "script"):
            macro = macros.get(part)
            if macro is not None:
                getattr(figure, part).add_child(_Verbatim(macro(self, kwargs)), name=self.get_name())
        for child in self._children.values():
            child.render(**kwargs)


class _Attribution(_VerbatimMacroElement):
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
    prefer_canvas: bool = False,
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
    prefer_canvas : bool, default False
        Draw vector layers (boundaries, circle markers) on one canvas instead of SVG elements: needed for large
        numbers of buildings, and it keeps clicks on buildings and hovers on areas working together.

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
    escaped = escape_text(attribution)
    m = folium.Map(location=list(location), zoom_start=zoom_start, tiles=None, prefer_canvas=prefer_canvas)
    # Leaflet takes the map's zoom range from its tile layers; with no basemap
    # there is none, and MarkerCluster then throws "Map has no maxZoom specified".
    m.options["max_zoom"] = _MAX_ZOOM
    if tiles is None:
        _Attribution(escaped).add_to(m)
    else:
        folium.TileLayer(tiles=tiles, attr=escaped, control=False, max_zoom=_MAX_ZOOM).add_to(m)
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


# ------------------------------------------------------------------------------------------------ basemaps


@dataclass(frozen=True)
class Basemap:
    """A basemap choice.

    Attributes
    ----------
    name
        Shown in the page's basemap chooser.
    url
        Tile URL template (``{z}/{x}/{y}``), or ``None`` for no basemap (works with no tile server).
    attribution
        What the tile provider requires to be shown (plain text); added to the data attribution.
    """

    name: str
    url: str | None
    attribution: str = ""


#: No basemap: boundaries and buildings on a plain background; needs nothing from any server.
NO_BASEMAP = Basemap("No basemap (offline)", None)


def configured_basemaps(environ: Mapping[str, str] | None = None) -> tuple[Basemap, ...]:
    """The basemaps this installation offers: always :data:`NO_BASEMAP`, then the configured tile server, if any.

    Parameters
    ----------
    environ
        Where to read :data:`BASEMAP_URL_ENV` and :data:`BASEMAP_ATTRIBUTION_ENV` (default: ``os.environ``). Point
        the URL at a tile server the users can reach (an internal one for offline use).

    Returns
    -------
    tuple of Basemap
        :data:`NO_BASEMAP` first (the default).

    Raises
    ------
    ValueError
        If a URL is configured without its attribution, or is not an http(s) ``{z}/{x}/{y}`` template.
    """
    environ = os.environ if environ is None else environ
    url = (environ.get(BASEMAP_URL_ENV) or "").strip()
    if not url:
        return (NO_BASEMAP,)
    attribution = (environ.get(BASEMAP_ATTRIBUTION_ENV) or "").strip()
    if not url.startswith(("http://", "https://")) or not all(part in url for part in ("{z}", "{x}", "{y}")):
        raise ValueError(f"{BASEMAP_URL_ENV} must be an http(s) tile URL template with {{z}}, {{x}} and {{y}}: "
                         f"{url!r}")
    if not attribution:
        raise ValueError(f"{BASEMAP_URL_ENV} is set but {BASEMAP_ATTRIBUTION_ENV} is not: tile providers must be "
                         "credited on the map")
    return (NO_BASEMAP, Basemap("Tiles: " + url.split("/")[2], url, attribution))


# ------------------------------------------------------------------------------------------------ legends


class Legend(_VerbatimMacroElement):
    """A Leaflet control holding fixed HTML, e.g. a legend; optionally shown only while a layer is on the map.

    Parameters
    ----------
    html_text
        The control's HTML. Build it from escaped text only (:func:`status_legend_html`, :func:`imd_legend_html`).
    position
        ``topleft``, ``topright``, ``bottomleft`` or ``bottomright``.
    layer
        A layer of the same map: the legend shows while that layer is shown (layer control on/off).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = L.control({position: {{ this.position|tojson }}});
            {{ this.get_name() }}.onAdd = function (map) {
                var div = L.DomUtil.create('div', 'estates-legend');
                div.innerHTML = {{ this.html|tojson }};
                L.DomEvent.disableClickPropagation(div);
                L.DomEvent.disableScrollPropagation(div);
                return div;
            };
            {{ this.get_name() }}.addTo({{ this._parent.get_name() }});
            {%- if this.layer is not none %}
            (function (map, control, layer) {
                function sync() {
                    control.getContainer().style.display = map.hasLayer(layer) ? '' : 'none';
                }
                map.on('overlayadd overlayremove', sync);
                sync();
            })({{ this._parent.get_name() }}, {{ this.get_name() }}, {{ this.layer.get_name() }});
            {%- endif %}
        {% endmacro %}
        """
    )

    def __init__(self, html_text: str, *, position: str = "bottomleft", layer: MacroElement | None = None) -> None:
        super().__init__()
        self._name = "Legend"
        self.html = html_text
        self.position = position
        self.layer = layer


# Compact attribution and legends, so the credit (always shown) does not cover the map on narrow screens.
_MAP_CSS = """<style>
.leaflet-control-attribution { font-size: 10px; line-height: 1.35; max-width: 75%; }
.estates-legend { margin-top: 6px !important; }
</style>"""

class _MapStyle(Element):
    """The stylesheet above, as an element whose template is compiled once (not per map)."""

    _template = Template(_MAP_CSS)


_LEGEND_BOX = ("background:rgba(255,255,255,0.92);padding:6px 9px;border-radius:4px;font:12px/1.4 sans-serif;"
               "box-shadow:0 1px 4px rgba(0,0,0,0.3)")


def status_legend_html(*, title: str = "Building status") -> str:
    """Legend HTML for building status colours (:data:`STATUS_COLOURS`)."""
    dot = ("<span style='display:inline-block;width:11px;height:11px;margin-right:6px;vertical-align:middle;"
           "border-radius:50%;background:{colour};border:1px solid #fff;box-shadow:0 0 0 1px #666'></span>")
    rows = "".join(f"<div>{dot.format(colour=STATUS_COLOURS[s])}{html.escape(s)}</div>" for s in STATUSES)
    return f"<div style='{_LEGEND_BOX}'><b>{html.escape(title)}</b>{rows}</div>"


def imd_legend_html() -> str:
    """Legend HTML for the IMD decile choropleth (:data:`IMD_COLOURS`)."""
    box = ("<span style='display:inline-block;width:16px;height:11px;margin-right:6px;vertical-align:middle;"
           "background:{colour};border:1px solid #999'></span>")
    rows = "".join(f"<div>{box.format(colour=c)}{d}{' (most deprived)' if d == 1 else ''}"
                   f"{' (least deprived)' if d == 10 else ''}</div>" for d, c in IMD_COLOURS.items())
    return (f"<div style='{_LEGEND_BOX}'><b>IMD 2019 decile</b><div style='color:#555'>of England's LSOAs</div>"
            f"{rows}</div>")


# ------------------------------------------------------------------------------------------------ boundaries


def _rounded(geometry: gpd.GeoSeries, decimals: int = 5) -> gpd.GeoSeries:
    """Coordinates rounded to ~1 m: a third of the page weight of full doubles, invisible on screen."""
    return gpd.GeoSeries(shapely.transform(geometry.values, lambda xy: np.round(xy, decimals)),
                         index=geometry.index, crs=geometry.crs)


def _for_display(frame: gpd.GeoDataFrame, columns: Sequence[str]) -> dict[str, Any]:
    """GeoJSON of ``frame`` simplified as a coverage (shared edges stay shared), text properties escaped."""
    projected = frame.to_crs(BNG)
    simplified = projected.set_geometry(projected.geometry.simplify_coverage(_DISPLAY_TOLERANCE_M)).to_crs(frame.crs)
    simplified = simplified.set_geometry(_rounded(simplified.geometry))
    features = []
    for geometry, (_, row) in zip(simplified.geometry, simplified[list(columns)].iterrows(), strict=True):
        props: dict[str, Any] = {}
        for column in columns:
            value = row[column]
            if isinstance(value, np.generic):
                value = value.item()
            if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
                props[column] = ""
            elif isinstance(value, str):
                props[column] = escape_text(value)
            else:
                props[column] = value
        features.append({"type": "Feature", "geometry": shapely.geometry.mapping(geometry), "properties": props})
    return {"type": "FeatureCollection", "features": features}


_BOUNDARY_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    # layer → (what it is, property columns kept for tooltips and styling)
    "neighbourhoods": ("neighbourhoods", ("neighbourhood", "wards")),
    "wards": ("wards", ("ward_name", "ward_code", "neighbourhood")),
    "pcn": ("PCN footprints", ("pcn_name", "pcn_code")),
    "lsoas": ("LSOAs", ("lsoa_name", "lsoa_code", "imd_decile", "imd_rank", "population")),
}


#: Where display versions of boundary layers (and the bounds maps fit to) are kept between runs (``var/cache``,
#: git-ignored); unwritable: no cache. A plain file cache rather than ``st.cache_data(persist="disk")``: the map
#: builders here also serve the CLI's exports and the tests, and ``estates`` never imports Streamlit.
DISPLAY_CACHE_DIR: Path = CACHE_DIR
#: Bump when the display format changes (simplification, properties, escaping), so old cache files are not used.
_DISPLAY_FORMAT = 1

Bounds = tuple[tuple[float, float], tuple[float, float]]
_T = TypeVar("_T")


def _display_cache_file(place: Place, layer: str) -> Path:
    """Cache file for a layer, named by what it derives from (the place's files, sizes and times; the format)."""
    sources = [place.folder / name for name in (*place.layers.values(), place.tables["neighbourhood_wards"])]
    digest = source_digest(sources, _DISPLAY_FORMAT, _DISPLAY_TOLERANCE_M, layer, str(place.folder.resolve()))
    return DISPLAY_CACHE_DIR / f"{place.slug}-{layer}-{digest}.json"


def _build_display(place: Place, layer: str) -> tuple[str, Bounds]:
    if layer == "neighbourhoods":
        frame = boundaries.neighbourhoods(place, generalised=True)
    elif layer == "wards":
        frame = boundaries.wards(place, generalised=True)
    elif layer == "pcn":
        frame = boundaries.pcn_footprints(place)
    else:
        frame = boundaries.lsoas(place)
        frame = frame.assign(population=frame["population_2024"])
    text = json.dumps(_for_display(frame, _BOUNDARY_SOURCES[layer][1]), separators=(",", ":"))
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return text.replace("<", "\\u003c").replace(">", "\\u003e"), ((south, west), (north, east))


def _cached_display(place: Place, key: str, build: Callable[[], dict[str, Any]], parse: Callable[[Any], _T]) -> _T:
    """``parse(build())`` for one display artefact of a place, the JSON payload kept in :data:`DISPLAY_CACHE_DIR`.

    The file name changes whenever a source file or the display format does (:func:`_display_cache_file`), so a
    stale file is never read; a damaged file (unreadable, or ``parse`` fails on it) is built again and replaced; an
    unwritable cache only means building again.
    """
    try:
        cache: Path | None = _display_cache_file(place, key)
    except (OSError, KeyError):
        cache = None
    if cache is not None:
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError, AttributeError):
            return parse(json.loads(cache.read_text("utf-8")))
    payload = build()
    if cache is not None:
        with contextlib.suppress(OSError):
            write_atomically(cache, json.dumps(payload).encode("utf-8"))
    return parse(payload)


def _bounds(value: Any) -> Bounds:
    """``((south, west), (north, east))`` from its JSON form (lists) or itself."""
    (south, west), (north, east) = value
    return (float(south), float(west)), (float(north), float(east))


@lru_cache(maxsize=16)
def _boundary_geojson(place: Place, layer: str) -> tuple[str, Bounds]:
    """One boundary layer as display GeoJSON text, safe inside ``<script>``, and its bounds.

    Cached per process, and on disk in :data:`DISPLAY_CACHE_DIR` between runs (the file name changes whenever a
    source file or the display format does, so a stale file is never read).
    """
    if layer not in _BOUNDARY_SOURCES:
        raise ValueError(f"unknown boundary layer {layer!r}")

    def build() -> dict[str, Any]:
        text, bounds = _build_display(place, layer)
        return {"text": text, "bounds": bounds}

    return _cached_display(place, layer, build, lambda payload: (str(payload["text"]), _bounds(payload["bounds"])))


def _total_bounds(frame: gpd.GeoDataFrame) -> Bounds:
    """A frame's bounds as ``((south, west), (north, east))``."""
    west, south, east, north = (float(v) for v in frame.total_bounds)
    return (south, west), (north, east)


def _build_extents(place: Place) -> dict[str, Any]:
    """:func:`_extents`' payload, from the place's files."""
    hoods = boundaries.neighbourhoods(place, generalised=True)
    names = hoods["neighbourhood"].dropna().astype(str).unique()
    return {"place": _total_bounds(boundaries.boundary(place)),
            "neighbourhoods": {name: _total_bounds(hoods[hoods["neighbourhood"] == name]) for name in names}}


@lru_cache(maxsize=8)
def _extents(place: Place) -> tuple[Bounds, dict[str, Bounds]]:
    """The bounds a map fits to: the place's boundary, and each neighbourhood (dissolved from generalised wards).

    Cached like the display layers, so a process fits its maps without reading the boundary file through GDAL
    (~0.05 s of a cold start) or dissolving the wards (locality page); the answer only changes with the place's
    files.
    """
    return _cached_display(place, "extents", lambda: _build_extents(place), _parse_extents)


def _parse_extents(payload: Any) -> tuple[Bounds, dict[str, Bounds]]:
    """:func:`_extents`' answer from its JSON payload."""
    return _bounds(payload["place"]), {str(k): _bounds(v) for k, v in payload["neighbourhoods"].items()}


class BoundaryLayer(Layer):
    """A boundary layer of the place (GeoJSON), styled and labelled in the browser, cheap to render again.

    The GeoJSON text is built once per place and pasted into the page as it is, and the style, hover highlight
    and tooltip are small JavaScript functions: re-rendering the map on every Streamlit run costs almost nothing
    (folium's ``GeoJson`` would restyle every feature in Python and walk every vertex for the bounds each time).
    Property values are HTML-escaped text.

    Parameters
    ----------
    place
        The place.
    layer
        ``neighbourhoods``, ``wards``, ``pcn`` or ``lsoas``.
    name
        Name in the layer control.
    style
        A JavaScript function ``feature -> Leaflet path style``.
    tooltip
        ``(property, label)`` pairs shown on hover (label ``""``: the value alone).
    show
        Shown when the map opens.
    highlight
        Outline a feature under the mouse.
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        var {{ this.get_name() }} = L.geoJson({{ this.data }}, {
            style: {{ this.style }},
            onEachFeature: function (feature, layer) {
                {%- if this.highlight %}
                layer.on({
                    mouseover: function (e) { e.target.setStyle({weight: 2.5, color: '#222222'}); },
                    mouseout: function (e) { {{ this.get_name() }}.resetStyle(e.target); }
                });
                {%- endif %}
            }
        });
        {{ this.get_name() }}.bindTooltip(function (layer) {
            var p = layer.feature.properties, fields = {{ this.tooltip|tojson }}, out = [];
            for (var i = 0; i < fields.length; i++) {
                var v = p[fields[i][0]];
                if (v === '' || v === null || v === undefined) continue;
                if (typeof v === 'number') v = v.toLocaleString('en-GB');
                out.push(fields[i][1] ? fields[i][1] + ': <b>' + v + '</b>' : '<b>' + v + '</b>');
            }
            return out.join('<br>');
        }, {sticky: true});
        {% endmacro %}
        """
    )

    def __init__(self, place: Place, layer: str, *, name: str, style: str,
                 tooltip: Sequence[tuple[str, str]], show: bool = False, highlight: bool = False) -> None:
        super().__init__(name=name, overlay=True, control=True, show=show)
        self._name = "BoundaryLayer"
        self.data, self._bounds = _boundary_geojson(place, layer)
        self.style = style
        self.tooltip = [list(t) for t in tooltip]
        self.highlight = highlight

    def _get_self_bounds(self) -> list[list[float]]:
        return [list(self._bounds[0]), list(self._bounds[1])]

    def render(self, **kwargs: Any) -> None:
        """As ``folium.map.Layer.render`` (added to the map when shown), but verbatim (``_VerbatimMacroElement``)."""
        if self.show:
            self.add_child(ElementAddToElement(element_name=self.get_name(),
                                               element_parent_name=self._parent.get_name()),
                           name=self.get_name() + "_add")
        _VerbatimMacroElement.render(self, **kwargs)


def _layer_title(place: Place) -> str:
    term = place.neighbourhood_term.strip() or "neighbourhood"
    return term[:1].upper() + term[1:] + "s"


def _add_boundaries(m: folium.Map, place: Place, *, show: Iterable[str], focus: str | None) -> dict[str, Any]:
    shown = set(show)
    unknown = shown - {"neighbourhoods", "pcn", "wards", "imd"}
    if unknown:
        raise ValueError(f"unknown boundary layers {sorted(unknown)}: use neighbourhoods, pcn, wards, imd")
    imd_fill = json.dumps({str(k): v for k, v in IMD_COLOURS.items()})
    focus_js = json.dumps(escape_text(focus)) if focus is not None else "null"
    layers: dict[str, Any] = {
        "imd": BoundaryLayer(
            place, "lsoas", name="Deprivation (IMD 2019 by LSOA)", show="imd" in shown, highlight=True,
            style=f"function (f) {{ return {{color: '#ffffff', weight: 0.5, fillOpacity: 0.62, "
                  f"fillColor: ({imd_fill})[f.properties.imd_decile] || '#cccccc'}}; }}",
            tooltip=[("lsoa_name", "LSOA"), ("imd_decile", "IMD decile"),
                     ("imd_rank", "IMD rank (1 = most deprived)"), ("population", "Residents (mid-2024)")]),
        "wards": BoundaryLayer(
            place, "wards", name="Wards", show="wards" in shown,
            style="function (f) { return {color: '#555555', weight: 2, fill: false, dashArray: '5 4'}; }",
            tooltip=[("ward_name", ""), ("neighbourhood", _layer_title(place)[:-1])]),
        "pcn": BoundaryLayer(
            place, "pcn", name="PCN footprints", show="pcn" in shown,
            style="function (f) { return {color: '#b5651d', weight: 2, fill: false, dashArray: '5 4'}; }",
            tooltip=[("pcn_name", "")]),
        "neighbourhoods": BoundaryLayer(
            place, "neighbourhoods", name=_layer_title(place), show="neighbourhoods" in shown,
            style=f"function (f) {{ var focus = {focus_js}, on = focus !== null && "
                  "f.properties.neighbourhood === focus; return {color: on ? '#0b3954' : '#1f5f8b', "
                  "weight: on ? 4 : 2, fill: focus === null, fillOpacity: 0.04}; }",
            tooltip=[("neighbourhood", "")]),
    }
    for layer in layers.values():
        layer.add_to(m)
    return layers


def estate_base_map(
    place: Place | None = None,
    *,
    basemap: Basemap = NO_BASEMAP,
    show: Iterable[str] = ("neighbourhoods",),
    focus: str | None = None,
) -> folium.Map:
    """The static part of an estate map: basemap, boundary layers and legends, no buildings, no layer control.

    Parameters
    ----------
    place
        The place (default: the current place).
    basemap
        Tiles or :data:`NO_BASEMAP` (default). The place's attribution is always shown, the provider's too.
    show
        Boundary layers shown at first (the others can be switched on): any of ``neighbourhoods``, ``pcn``
        (PCN footprints), ``wards``, ``imd`` (LSOA deprivation choropleth, with its legend).
    focus
        A neighbourhood to zoom to and outline (e.g. ``place.pilot_neighbourhood``).

    Returns
    -------
    folium.Map
        Drawn on a canvas. Add :func:`building_layers` and a ``folium.LayerControl`` (or give both to ``st_folium``),
        then :func:`estates.maps._offline.offline_map`.
    """
    place = place if place is not None else load_place()
    credit = attribution_text(place)
    if basemap.url is not None:
        credit = f"{credit} | {basemap.attribution}" if basemap.attribution else credit
    m = base_map(location=place.centre, zoom_start=place.zoom, tiles=basemap.url, attribution=credit,
                 prefer_canvas=True)
    m.options["zoom_snap"] = 0.25  # fit the place or neighbourhood snugly
    # Leaflet alone: these maps use no popups (folium's need jQuery), Bootstrap or icon fonts. Leaving those out
    # makes every map (and every st_folium rerun) about 1.3 MB lighter, once inlined by offline_map.
    m.default_js = [(name, url) for name, url in m.default_js if name == "leaflet"]
    m.default_css = [(name, url) for name, url in m.default_css if name == "leaflet_css"]
    m.get_root().header.add_child(_MapStyle(), name="estates_css")
    layers = _add_boundaries(m, place, show=show, focus=focus)
    Legend(status_legend_html(), position="topleft").add_to(m)
    # Bottom right, stacked above the attribution (Leaflet puts a later bottom control above the earlier ones): at
    # the bottom left the wrapped attribution covered "10 (least deprived)" on narrower maps.
    Legend(imd_legend_html(), position="bottomright", layer=layers["imd"]).add_to(m)
    whole, per_neighbourhood = _extents(place)
    if focus is None:
        (south, west), (north, east) = whole
    elif focus in per_neighbourhood:
        (south, west), (north, east) = per_neighbourhood[focus]
    else:
        raise ValueError(f"no {place.neighbourhood_term} called {focus!r} in {place.name}")
    m.fit_bounds([[south, west], [north, east]])
    return m


# ------------------------------------------------------------------------------------------------ buildings


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


class BuildingPoints(_VerbatimMacroElement):
    """Buildings as canvas circle markers of a feature group, coloured by status, built in the browser.

    One compact array (lat, lon, status, id, name, partner, set-by-hand) instead of one folium object per
    building: the page stays small and Leaflet draws tens of thousands of points at once. Tooltips are assembled
    on hover from escaped text. Each marker carries ``buildingId`` in its options (tests and benchmarks count
    markers by it).

    Parameters
    ----------
    buildings
        Rows with ``lat``, ``lon``, ``building_id``, ``status`` and (for the tooltip) ``name``, ``partner``,
        ``status_source``. Rows without a location are skipped.
    radius
        Marker radius in pixels (at most 10, so a click reports the building's own position).
    """

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        (function (group) {
            var colours = {{ this.colours|tojson }};
            var statuses = {{ this.statuses|tojson }};
            var partners = {{ this.partners|tojson }};
            var rows = {{ this.rows|tojson }};
            var renderer = window.estatesCanvas || (window.estatesCanvas = L.canvas({padding: 0.3, tolerance: 3}));
            for (var i = 0; i < rows.length; i++) {
                var r = rows[i];
                group.addLayer(L.circleMarker([r[0], r[1]], {
                    renderer: renderer, radius: {{ this.radius }}, weight: 1, color: '#ffffff', opacity: 0.95,
                    fillColor: colours[r[2]], fillOpacity: 0.92, buildingId: r[3], row: r
                }));
            }
            // Text is HTML-escaped in Python; only markup of our own is added here.
            group.bindTooltip(function (layer) {
                var r = layer.options.row;
                return '<b>' + (r[4] || '(no name)') + '</b><br>' + partners[r[5]] + '<br><span style="color:'
                    + colours[r[2]] + '">&#9679;</span> ' + statuses[r[2]] + (r[6] ? ' (set by hand)' : '');
            }, {direction: 'top', offset: [0, -6]});
        })({{ this._parent.get_name() }});
        {% endmacro %}
        """
    )

    def __init__(self, buildings: pd.DataFrame | _Points, *, radius: int = _BUILDING_RADIUS_PX) -> None:
        super().__init__()
        if not 1 <= radius <= 10:
            raise ValueError("radius must be 1–10 px (larger circles report the click position, not theirs)")
        self._name = "BuildingPoints"
        self.radius = int(radius)
        self.statuses = [*STATUSES, "not classified"]
        self.colours = [*(STATUS_COLOURS[s] for s in STATUSES), "#bbbbbb"]
        points = buildings if isinstance(buildings, _Points) else _Points.of(buildings)
        # Partners numbered in order of appearance (as pandas.factorize would), each name sent once.
        numbers: dict[str, int] = {}
        partner_codes = [numbers.setdefault(p, len(numbers)) for p in points.partners]
        self.partners = [escape_text(p) for p in numbers]
        self.rows = [[a, b, c, i, nm, p, h] for a, b, c, i, nm, p, h in
                     zip(points.lat, points.lon, points.status, points.ids, points.names, partner_codes,
                         points.by_hand, strict=True)]
        self.count = len(points)


@dataclass(frozen=True)
class _Points:
    """Located buildings as plain per-row lists, ready for :class:`BuildingPoints`.

    Converting the columns once and then splitting the lists per layer is what keeps :func:`building_layers` cheap:
    pandas operations on each of 18 partner slices cost more than the whole conversion.
    """

    lat: list[float]
    lon: list[float]
    status: list[int]
    ids: list[Any]
    names: list[str]
    partners: list[str]
    by_hand: list[int]

    def __len__(self) -> int:
        return len(self.lat)

    @classmethod
    def of(cls, buildings: pd.DataFrame, *, id_column: str = "building_id") -> _Points:
        """The rows of ``buildings`` that have a location (see :class:`BuildingPoints` for the columns)."""
        located = buildings[buildings["lat"].notna() & buildings["lon"].notna()]
        n = len(located)
        index = {s: i for i, s in enumerate(STATUSES)}
        status = located["status"].astype("str").tolist() if "status" in located else [None] * n
        who = "partner" if "partner" in located else "partners"  # a site lists its occupants
        partner = located[who].astype("str").fillna("").tolist() if who in located else [""] * n
        by_hand = (located["status_source"].astype("str") == "override").tolist() if "status_source" in located \
            else [False] * n
        return cls(
            lat=np.round(located["lat"].to_numpy(dtype=float), _COORD_DECIMALS).tolist(),
            lon=np.round(located["lon"].to_numpy(dtype=float), _COORD_DECIMALS).tolist(),
            status=[index.get(s, len(STATUSES)) for s in status],
            ids=located[id_column].astype("str").tolist(),
            names=[escape_text(_text(v)) for v in located["name"]] if "name" in located else [""] * n,
            partners=partner,
            by_hand=[int(h) for h in by_hand],
        )

    def take(self, rows: Sequence[int]) -> _Points:
        """These rows (positions), in this order."""
        return _Points(*([column[i] for i in rows] for column in (self.lat, self.lon, self.status, self.ids,
                                                                    self.names, self.partners, self.by_hand)))


def building_layers(
    buildings: pd.DataFrame,
    *,
    by: str = "partner",
    selected: Iterable[str] = (),
    radius: int = _BUILDING_RADIUS_PX,
    id_column: str = "building_id",
) -> list[folium.FeatureGroup]:
    """Buildings (or sites) as one toggleable feature group per partner (or per ``by`` value), plus the selection.

    Parameters
    ----------
    buildings
        Rows with ``lat``, ``lon``, the id, ``status``, ``name``, ``partner`` (or a site's ``partners``); unlocated
        rows are skipped.
    by
        Column that splits the layers (``partner`` by default; ``status`` or ``partner_type`` work too).
    selected
        Building ids to ring in black (a last, non-clickable "Selected" layer).
    radius
        Marker radius in pixels (1–10).
    id_column
        The rows' id (``building_id``; ``site_id`` for sites): what ``selected`` names and markers carry.

    Returns
    -------
    list of folium.FeatureGroup
        Named ``"<value> (<count>)"`` (escaped), sorted by name; each holds one :class:`BuildingPoints`. Pass them
        through :func:`estates.maps._offline.offline_map` (or add them to a map that is) before rendering.
    """
    groups: list[folium.FeatureGroup] = []
    columns = list(dict.fromkeys(c for c in ("lat", "lon", id_column, "status", "name", "partner", "partners",
                                             "status_source", by) if c in buildings))
    located = buildings.loc[(buildings["lat"].notna() & buildings["lon"].notna()).to_numpy(), columns]
    points = _Points.of(located, id_column=id_column)
    layer_rows: dict[str, list[int]] = {}
    for row, value in enumerate(located[by].astype("str").fillna("(none)").tolist() if len(located) else []):
        layer_rows.setdefault(value, []).append(row)
    for value in sorted(layer_rows):
        rows = layer_rows[value]
        group = folium.FeatureGroup(name=escape_text(f"{value} ({len(rows):,})"), show=True)
        BuildingPoints(points.take(rows), radius=radius).add_to(group)
        groups.append(group)
    chosen = located[located[id_column].astype("str").isin({str(s) for s in selected})]
    if len(chosen):
        ring = folium.FeatureGroup(name=f"Selected ({len(chosen)})", show=True)
        for row in chosen[["lat", "lon"]].itertuples(index=False):
            folium.CircleMarker([float(row.lat), float(row.lon)], radius=radius + 5, color=_SELECTED_COLOUR,
                                weight=3, fill=False, interactive=False).add_to(ring)
        groups.append(ring)
    return groups


def buildings_at(buildings: pd.DataFrame, lat: float, lng: float, *, tolerance_deg: float = 2e-6,
                 zoom: float | None = None, pixels: float = CLICK_PIXELS) -> pd.DataFrame:
    """The buildings drawn at a clicked point (``st_folium``'s ``last_object_clicked``).

    A click on a circle marker reports the marker's own position, so this finds exactly the buildings drawn
    there — one, or several that share a location (e.g. practices in one health centre). Given the map's zoom, it
    also finds the buildings drawn within ``pixels`` of that point on screen, whose markers overlap the clicked one:
    the person may have meant any of them (at borough zoom two sites 28 m apart are one blob).

    Parameters
    ----------
    buildings
        The frame the map was drawn from (``lat``, ``lon``).
    lat, lng
        The clicked object's position.
    tolerance_deg
        How far (degrees, ~0.2 m by default) a building may be from the point.
    zoom
        The map's zoom level when it was clicked (``st_folium``'s ``zoom``); None: the point only.
    pixels
        With ``zoom``: how far on screen (Web Mercator pixels at that zoom) a building may be drawn from the point.

    Returns
    -------
    pandas.DataFrame
        The matching rows (possibly none): in the frame's order without ``zoom``; with it, nearest on screen first
        (ties in the frame's order).
    """
    near = ((buildings["lat"] - lat).abs() <= tolerance_deg) & ((buildings["lon"] - lng).abs() <= tolerance_deg)
    if zoom is None:
        return buildings[near.fillna(False).to_numpy(dtype=bool)]
    x, y = _screen_pixels(buildings["lon"].to_numpy(dtype=float), buildings["lat"].to_numpy(dtype=float), zoom)
    x0, y0 = _screen_pixels(np.array([float(lng)]), np.array([float(lat)]), zoom)
    away = np.hypot(x - x0[0], y - y0[0])
    hits = near.fillna(False).to_numpy(dtype=bool) | (away <= pixels)
    order = np.argsort(np.where(hits, away, np.inf), kind="stable")[: int(hits.sum())]
    return buildings.iloc[order]


def _screen_pixels(lon: np.ndarray, lat: np.ndarray, zoom: float) -> tuple[np.ndarray, np.ndarray]:
    """Web Mercator pixel coordinates at a zoom level, as Leaflet draws them (256-pixel tiles)."""
    scale = 256.0 * 2.0 ** float(zoom)
    clipped = np.radians(np.clip(lat, -85.0511, 85.0511))
    x = (lon + 180.0) / 360.0 * scale
    y = (1.0 - np.log(np.tan(clipped) + 1.0 / np.cos(clipped)) / math.pi) / 2.0 * scale
    return x, y


def colocation_layers(
    clusters: pd.DataFrame,
    pairs: pd.DataFrame | None = None,
) -> list[folium.FeatureGroup]:
    """Co-location opportunities (``estates.analysis.colocation``) as map layers.

    Parameters
    ----------
    clusters
        :func:`estates.analysis.colocation.colocation_clusters` output: ``rank``, ``hub_lat``, ``hub_lon``,
        ``radius_m``,
        ``hub_name``, ``partner_count``, ``buildings``, ``partners``, ``imd_decile``.
    pairs
        :func:`estates.analysis.colocation.surplus_near_key` output (``surplus_lat`` … ``key_lon``), or None.

    Returns
    -------
    list of folium.FeatureGroup
        "Co-location opportunities" (a dashed circle round each cluster, numbered by rank) and, when ``pairs`` is
        given, "Surplus near key" (a line from each surplus building to its nearest key building).
    """
    groups = []
    hubs = folium.FeatureGroup(name=f"Co-location opportunities ({len(clusters)})", show=True)
    for row in clusters.itertuples(index=False):
        decile = "–" if pd.isna(row.imd_decile) else str(int(row.imd_decile))
        tip = (f"<b>#{int(row.rank)}: {escape_text(_text(row.hub_name))}</b><br>{int(row.buildings)} buildings, "
               f"{int(row.partner_count)} partners: {escape_text(_text(row.partners))}<br>IMD decile {decile}")
        folium.Circle([float(row.hub_lat), float(row.hub_lon)], radius=max(float(row.radius_m), 40.0) + 25,
                      color=_CLUSTER_COLOUR, weight=2, dash_array="6 4", fill=True, fill_opacity=0.06,
                      tooltip=tip).add_to(hubs)
    groups.append(hubs)
    if pairs is not None:
        lines = folium.FeatureGroup(name=f"Surplus near key ({len(pairs)})", show=True)
        for row in pairs.itertuples(index=False):
            tip = (f"Surplus <b>{escape_text(_text(row.surplus_name))}</b> is {row.distance_m:,.0f} m from key "
                   f"<b>{escape_text(_text(row.key_name))}</b>")
            folium.PolyLine([[float(row.surplus_lat), float(row.surplus_lon)],
                             [float(row.key_lat), float(row.key_lon)]],
                            color=_PAIR_COLOUR, weight=3, dash_array="2 5", tooltip=tip).add_to(lines)
        groups.append(lines)
    return groups


def prepare_maps(place: Place | None = None) -> None:
    """Do the once-per-process work of the estate maps ahead of time (e.g. while the app server starts).

    Reads and simplifies the place's boundary layers and inlines the vendored Leaflet files; later maps reuse both.

    Parameters
    ----------
    place
        The place (default: the current place).
    """
    offline_map(estate_base_map(place, show=()))


def estate_map(
    buildings: pd.DataFrame,
    place: Place | None = None,
    *,
    basemap: Basemap = NO_BASEMAP,
    show: Iterable[str] = ("neighbourhoods",),
    focus: str | None = None,
    selected: Iterable[str] = (),
    extra_layers: Sequence[folium.FeatureGroup] = (),
) -> folium.Map:
    """A complete, offline estate map: boundaries, buildings by status per partner, legends and a layer control.

    Parameters
    ----------
    buildings
        Buildings to draw (``lat``, ``lon``, ``building_id``, ``status``, ``name``, ``partner``).
    place, basemap, show, focus
        As :func:`estate_base_map`.
    selected
        Building ids to ring.
    extra_layers
        More feature groups, e.g. :func:`colocation_layers`.

    Returns
    -------
    folium.Map
        Passed through :func:`estates.maps._offline.offline_map`; renders with no network.
    """
    m = estate_base_map(place, basemap=basemap, show=show, focus=focus)
    for group in [*building_layers(buildings, selected=selected), *extra_layers]:
        group.add_to(m)
    folium.LayerControl(collapsed=True).add_to(m)
    return offline_map(m)
