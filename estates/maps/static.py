"""Print-quality static overlap maps (PNG, PDF, SVG) drawn with matplotlib: no browser, no basemap, no network.

The map is drawn in British National Grid (metres), so the scale bar is exact and the north arrow points to grid
north (within half a degree of true north across Trafford). Every figure carries a title, a legend, a scale bar,
a north arrow and the place's attribution. Figures are plain :class:`matplotlib.figure.Figure` objects (no
``pyplot`` state), rendered by the Agg/PDF/SVG canvases, so this works in a server, a test or a notebook. Fonts
are matplotlib's bundled DejaVu Sans.

Each decoration has a ``gid`` (``title``, ``legend``, ``scale-bar``, ``north-arrow``, ``attribution``) so tests
and callers can find it: ``[a.get_gid() for a in fig.findobj()]``.
"""

from __future__ import annotations

import math
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import geopandas as gpd
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Rectangle

from estates.analysis.overlap import locate_in_pieces
from estates.maps import STATUS_COLOURS, attribution_text
from estates.maps._overlap_style import NEIGHBOURHOOD_LINE, pcn_colours
from estates.maps._view import (
    AREA_KINDS,
    area_label,
    area_shape,
    fitted_extent,
    located_bng,
    subtitle_text,
    view_area,
    view_title,
)
from estates.schema import STATUSES
from geo import boundaries
from geo.place import Place, load_place
from geo.projection import BNG, to_bng

if TYPE_CHECKING:
    from datetime import date

    from estates.analysis.access import AccessAnalysis
    from estates.analysis.filters import Filters

__all__ = ["STATIC_FORMATS", "access_figure", "overlap_figure", "render_figure", "sites_figure"]

#: Formats :func:`render_figure` writes.
STATIC_FORMATS: tuple[str, ...] = ("png", "pdf", "svg")

#: A4 landscape, inches.
_A4_LANDSCAPE = (11.69, 8.27)

#: Print sizes :func:`sites_figure` offers (landscape, inches).
PAPER_SIZES: dict[str, tuple[float, float]] = {"A4": _A4_LANDSCAPE, "A3": (16.54, 11.69)}

#: Opacity of area fills under building or site markers: pale, so a marker never sits on a fill of its own hue.
_PALE_FILL_ALPHA = 0.35

#: Outline of building and site markers: dark, so a marker stands out from any fill and from its neighbours.
_MARKER_EDGE = "#1A1A1A"

#: Fill of the area a view is about (neutral grey: no status colour is close to it).
_AREA_FILL = "#EFEFEF"


def _nice_length(span_m: float) -> float:
    """A round scale-bar length (1, 2 or 5 × 10ⁿ metres) close to a fifth of ``span_m``."""
    target = span_m / 5
    power = 10 ** math.floor(math.log10(target))
    return max(m * power for m in (1, 2, 5) if m * power <= target)


def _scale_bar(ax: Axes, *, x0: float, y0: float, span_m: float) -> None:
    """Alternating black/white scale bar in data (metre) coordinates, labelled in km or m."""
    length = _nice_length(span_m)
    height = span_m / 120
    segments = 4
    for i in range(segments):
        ax.add_patch(Rectangle((x0 + i * length / segments, y0), length / segments, height,
                               facecolor="black" if i % 2 == 0 else "white", edgecolor="black", linewidth=0.8,
                               gid="scale-bar", zorder=10))
    in_km = length >= 1000
    for value in (0, length / 2, length):
        text = f"{value / 1000:g}" if in_km else f"{value:g}"
        ax.text(x0 + value, y0 + height * 1.6, text, ha="center", va="bottom", fontsize=8, gid="scale-bar",
                zorder=10)
    ax.text(x0 + length + span_m / 80, y0 + height / 2, "km" if in_km else "m", ha="left", va="center",
            fontsize=8, gid="scale-bar", zorder=10)


def _north_arrow(ax: Axes) -> None:
    """An arrow and "N" in the map's bottom-right corner (axes fraction coordinates), clear of the borough."""
    ax.annotate("", xy=(0.95, 0.14), xytext=(0.95, 0.04), xycoords="axes fraction",
                arrowprops={"facecolor": "black", "edgecolor": "black", "width": 4, "headwidth": 12,
                            "headlength": 12},
                gid="north-arrow")
    ax.text(0.95, 0.15, "N", transform=ax.transAxes, ha="center", va="bottom", fontsize=13, fontweight="bold",
            gid="north-arrow")


def _set_extent(ax: Axes, extent: tuple[float, float, float, float]) -> None:
    """Limit the map to ``extent`` (BNG metres) and draw the scale bar and north arrow inside it."""
    minx, miny, maxx, maxy = extent
    ax.set_xlim(minx, maxx)
    ax.set_ylim(miny, maxy)
    width, height = maxx - minx, maxy - miny
    x0, y0 = minx + 0.03 * width, miny + 0.03 * height
    ax.add_patch(Rectangle((x0 - 0.01 * width, y0 - 0.012 * height), 0.22 * width, 0.075 * height,
                           facecolor="white", edgecolor="none", alpha=0.8, gid="scale-bar", zorder=9))
    _scale_bar(ax, x0=x0, y0=y0, span_m=0.75 * width)
    _north_arrow(ax)


def _footer(fig: Figure, notes: list[str], place: Place) -> None:
    """The notes beside the legend (the grid last) and the attribution along the foot of a print map."""
    fig.text(0.74, 0.2, "\n".join([*notes, "Grid: British National Grid (EPSG:27700)."]), fontsize=8,
             color="#444444", va="bottom")
    fig.text(0.02, 0.02, attribution_text(place), fontsize=7, color="#333333", va="bottom", wrap=True,
             gid="attribution")


def _date_stamp(fig: Figure, made: date | None) -> None:
    """"Made 5 December 2026" in the bottom-right corner."""
    from datetime import date as _date

    made = made or _date.today()
    fig.text(0.98, 0.02, f"Made {made.day} {made:%B %Y}", fontsize=7.5, color="#333333", ha="right", va="bottom",
             gid="date")


def overlap_figure(
    pieces: gpd.GeoDataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    place: Place | None = None,
    title: str | None = None,
    sliver_ha: float | None = None,
    figsize: tuple[float, float] = _A4_LANDSCAPE,
    filters: Filters | None = None,
    made: date | None = None,
    fit: bool = False,
) -> Figure:
    """Draw the neighbourhood × PCN pieces (and the estate) as a static map.

    Parameters
    ----------
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`; slivers (``is_sliver``) are not drawn.
    buildings
        The estate (e.g. :func:`estates.estate.current_estate`): located buildings are drawn as points by status.
    place
        The place (default: the current place).
    title
        Title (default: "<place>: neighbourhoods and primary care networks").
    sliver_ha
        The sliver threshold the pieces were made with, for the note under the legend (optional).
    figsize
        Inches (default A4 landscape).
    filters
        The filters that chose ``buildings`` (the app's sidebar): named in the subtitle (with the date).
    made
        The date printed on the map (default: today).
    fit
        Fit the map to the filters' neighbourhoods, PCNs and wards (the buildings export) rather than the whole
        place (the overlap analysis, whose geography is always the whole place).

    Returns
    -------
    matplotlib.figure.Figure
        Title, map, legend, scale bar, north arrow, attribution and date; save it with :func:`render_figure`.
    """
    place = place if place is not None else load_place()
    title = title or f"{place.name}: neighbourhoods and primary care networks"
    if fit:
        title = view_title(title, place=place, area=view_area(filters, None))
    colours = pcn_colours(pieces["pcn_name"])
    fig = Figure(figsize=figsize, layout=None)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0.02, 0.09, 0.70, 0.82))
    ax.set_aspect("equal")
    ax.set_axis_off()

    # Under buildings the fills are pale, so no status colour (core's blue, key's red) sits on a fill like it.
    fill_alpha = 0.75 if buildings is None else _PALE_FILL_ALPHA
    drawn = pieces[~pieces["is_sliver"].astype(bool)].to_crs(BNG)
    for name, group in drawn.groupby("pcn_name"):
        group.plot(ax=ax, color=colours[str(name)], alpha=fill_alpha, edgecolor="white", linewidth=0.6, zorder=1,
                   gid="fill")
    hoods = boundaries.neighbourhoods(place).to_crs(BNG)
    hoods.boundary.plot(ax=ax, color=NEIGHBOURHOOD_LINE, linewidth=2.0, zorder=3)
    for name, point in zip(hoods["neighbourhood"].astype(str), hoods.representative_point(), strict=True):
        ax.text(point.x, point.y, name, ha="center", va="center", fontsize=12, fontweight="bold",
                color=NEIGHBOURHOOD_LINE, zorder=6, clip_on=True,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})

    handles: list[Patch | Line2D] = [Patch(facecolor=c, alpha=fill_alpha, edgecolor="#555555", label=n)
                                     for n, c in colours.items()]
    handles.append(Line2D([], [], color=NEIGHBOURHOOD_LINE, linewidth=2.0, label="Neighbourhood boundary"))
    not_shown = 0
    if buildings is not None:
        located = locate_in_pieces(buildings, pieces)
        has_point = (located["not_in_piece_reason"] != "not located").to_numpy()
        not_shown = int((~has_point).sum())
        located = located[has_point]
        x, y = to_bng(pd.to_numeric(located["lon"]).to_numpy(), pd.to_numeric(located["lat"]).to_numpy())
        status = located["status"].astype("string").fillna("needs data").to_numpy()
        for value in STATUSES:
            chosen = status == value
            ax.scatter(x[chosen], y[chosen], s=16, color=STATUS_COLOURS[value], edgecolors=_MARKER_EDGE,
                       linewidths=0.5, zorder=4, gid="markers")
            handles.append(Line2D([], [], marker="o", linestyle="", markersize=6,
                                  markerfacecolor=STATUS_COLOURS[value], markeredgecolor=_MARKER_EDGE,
                                  label=f"{value} ({int(chosen.sum())})"))

    shape = area_shape(place, filters=filters) if filters is not None and fit else None
    if shape is None:
        minx, miny, maxx, maxy = drawn.total_bounds
        pad = 0.03 * max(maxx - minx, maxy - miny)
        minx, miny, maxx, maxy = minx - pad, miny - pad, maxx + pad, maxy + pad
    else:
        minx, miny, maxx, maxy = fitted_extent(None, shape, place=place)
    _set_extent(ax, (minx, miny, maxx, maxy))

    fig.text(0.02, 0.965, title, fontsize=17, fontweight="bold", va="top", gid="title")
    what = ("Pieces filled by primary care network (PCN); heavy lines are neighbourhood boundaries"
            + ("; points are buildings by status" if buildings is not None else ""))
    if filters is not None or made is not None:
        shown = 0 if buildings is None else len(buildings)
        what = subtitle_text(filters, shown=shown, unlocated=not_shown, what="buildings", made=made) + "\n" + what
    fig.text(0.02, 0.925, what, fontsize=9.5, color="#333333", va="top", gid="subtitle")
    if "\n" in what:
        ax.set_position((0.02, 0.08, 0.70, 0.79))
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.74, 0.88), frameon=False,
                        fontsize=9, title="PCN" + (" · buildings by status" if buildings is not None else ""),
                        title_fontsize=10, alignment="left")
    legend.set_gid("legend")
    notes = []
    slivers = int(pieces["is_sliver"].sum())
    if slivers:
        size = f"under {sliver_ha:g} ha" if sliver_ha is not None else "tiny"
        notes.append(f"{slivers} sliver pieces ({size}, boundary mismatch)\nnot drawn; kept in every total.")
    if not_shown:
        notes.append(f"{not_shown} buildings without a location not shown.")
    _footer(fig, notes, place)
    if filters is not None or made is not None:
        _date_stamp(fig, made)
    return fig


def render_figure(fig: Figure, path: str | Path | None = None, *, fmt: str | None = None, dpi: int = 200) -> bytes:
    """Render a figure to PNG, PDF or SVG bytes, and write them to ``path`` when given.

    Parameters
    ----------
    fig
        From :func:`overlap_figure`.
    path
        File to write (not checked here: exports check paths before rendering).
    fmt
        ``png``, ``pdf`` or ``svg`` (default: from ``path``'s extension, else ``png``).
    dpi
        Resolution of raster output (200 dpi on A4 ≈ 2340 × 1650 px).

    Returns
    -------
    bytes
        The rendered file.
    """
    fmt = (fmt or (Path(path).suffix.lstrip(".") if path is not None else "png")).lower()
    if fmt not in STATIC_FORMATS:
        raise ValueError(f"unknown static map format {fmt!r} (use {', '.join(STATIC_FORMATS)})")
    buffer = BytesIO()
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    title = texts.get("title") or (fig.texts[0].get_text() if fig.texts else None)
    metadata: dict[str, str] | None = None
    if title:  # the title and subtitle (filters) travel in the file: PDF Title/Subject, PNG Title/Description
        metadata = {"Title": title}
        if texts.get("subtitle") and fmt in ("pdf", "png"):
            metadata["Subject" if fmt == "pdf" else "Description"] = texts["subtitle"].replace("\n", " — ")
    fig.savefig(buffer, format=fmt, dpi=dpi, facecolor="white", metadata=metadata)
    data = buffer.getvalue()
    if path is not None:
        Path(path).write_bytes(data)
    return data


def access_figure(
    analysis: AccessAnalysis,
    *,
    title: str | None = None,
    gap_top: int | None = None,
    figsize: tuple[float, float] = _A4_LANDSCAPE,
) -> Figure:
    """Draw an access analysis: LSOAs by deprivation, the gap LSOAs, the sites, rings round the chosen ones.

    Parameters
    ----------
    analysis
        :func:`estates.analysis.access.access_analysis`; its focus neighbourhood (if any) sets the extent.
    title
        Title (default: "<place>: access to <kind>").
    gap_top
        How many top-ranked gap LSOAs to outline (default :data:`estates.analysis.access.GAP_TOP`).
    figsize
        Inches (default A4 landscape).

    Returns
    -------
    matplotlib.figure.Figure
        Same decorations as :func:`overlap_figure` (title, legend, scale bar, north arrow, attribution).
    """
    from estates.analysis.access import CLOSED_COLOUR, GAP_COLOUR, GAP_TOP, RING_COLOURS, SITE_COLOUR, kind_label
    from estates.maps import IMD_COLOURS

    place = analysis.place
    where = f" — {analysis.neighbourhood} {place.neighbourhood_term}" if analysis.neighbourhood else ""
    title = title or f"{place.name}: access to {kind_label(analysis.kind)}{where}"
    fig = Figure(figsize=figsize, layout=None)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0.02, 0.09, 0.70, 0.82))
    ax.set_aspect("equal")
    ax.set_axis_off()

    lsoas = boundaries.lsoas(place).to_crs(BNG)
    deciles = pd.to_numeric(lsoas["imd_decile"], errors="coerce")
    lsoas.plot(ax=ax, color=[IMD_COLOURS.get(int(d), "#FFFFFF") if pd.notna(d) else "#FFFFFF" for d in deciles],
               edgecolor="white", linewidth=0.3, alpha=0.8, zorder=1)
    hoods = boundaries.neighbourhoods(place).to_crs(BNG)
    hoods.boundary.plot(ax=ax, color=NEIGHBOURHOOD_LINE, linewidth=1.6, zorder=3)
    gap = analysis.gap().head(GAP_TOP if gap_top is None else gap_top)
    gap_shapes = lsoas[lsoas["lsoa_code"].isin(gap["lsoa_code"])]
    gap_shapes.boundary.plot(ax=ax, color=GAP_COLOUR, linewidth=2.2, zorder=4)
    ringed = analysis.ringed()
    for band, colour in sorted(RING_COLOURS.items(), reverse=True):
        rings = gpd.GeoSeries(gpd.points_from_xy(ringed["easting"], ringed["northing"]), crs=BNG).buffer(band)
        rings.boundary.plot(ax=ax, color=colour, linewidth=1.1, zorder=5)
    sites = analysis.facilities
    closed = sites["facility_id"].isin(analysis.closed).to_numpy()
    ax.scatter(sites["easting"][~closed], sites["northing"][~closed], s=22, color=SITE_COLOUR, edgecolors="white",
               linewidths=0.5, zorder=6)
    ax.scatter(sites["easting"][closed], sites["northing"][closed], s=60, marker="X", color=CLOSED_COLOUR,
               edgecolors="white", linewidths=0.5, zorder=7)

    if analysis.neighbourhood is not None:
        extent = hoods[hoods["neighbourhood"] == analysis.neighbourhood].total_bounds
    else:
        extent = lsoas.total_bounds
    minx, miny, maxx, maxy = extent
    pad = 0.05 * max(maxx - minx, maxy - miny)
    ax.set_xlim(minx - pad, maxx + pad)
    ax.set_ylim(miny - pad, maxy + pad)
    _scale_bar(ax, x0=minx, y0=miny - pad * 0.6, span_m=maxx - minx)
    _north_arrow(ax)

    handles: list[Patch | Line2D] = [
        Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=SITE_COLOUR, markeredgecolor="white",
               label=f"{kind_label(analysis.kind).capitalize()} ({len(sites) - int(closed.sum())})")]
    if closed.any():
        handles.append(Line2D([], [], marker="X", linestyle="", markersize=9, markerfacecolor=CLOSED_COLOUR,
                              markeredgecolor="white", label=f"Closing ({int(closed.sum())})"))
    handles += [Line2D([], [], color=colour, linewidth=1.5, label=f"{band:,.0f} m" + (
        f" (× detour {analysis.detour_factor:g} not applied to rings)" if analysis.detour_factor != 1 and
        band == max(RING_COLOURS) else "")) for band, colour in RING_COLOURS.items()]
    handles.append(Patch(facecolor="none", edgecolor=GAP_COLOUR, linewidth=2.0,
                         label=f"Top {len(gap)} access-gap LSOAs"))
    handles += [Patch(facecolor=IMD_COLOURS[d], edgecolor="#999999", label=f"IMD decile {d}") for d in (1, 3, 5, 10)]
    handles.append(Line2D([], [], color=NEIGHBOURHOOD_LINE, linewidth=1.6, label="Neighbourhood boundary"))
    fig.text(0.02, 0.965, title, fontsize=17, fontweight="bold", va="top", gid="title")
    fig.text(0.02, 0.925, "Straight-line distance rings round the " + ("sites that close" if analysis.closed
             else "sites") + "; red outlines: LSOAs ranked highest by deprivation × distance; fill: IMD 2019 decile",
             fontsize=9.5, color="#333333", va="top")
    legend = fig.legend(handles=handles, loc="upper left", bbox_to_anchor=(0.74, 0.88), frameon=False, fontsize=9,
                        title="Access", title_fontsize=10, alignment="left")
    legend.set_gid("legend")
    fig.text(0.74, 0.2, "Grid: British National Grid (EPSG:27700).\nResidents: postcode centroids sharing their "
             "LSOA's\npopulation (ONS mid-2024).", fontsize=8, color="#444444", va="bottom")
    fig.text(0.02, 0.02, attribution_text(place), fontsize=7, color="#333333", va="bottom", wrap=True,
             gid="attribution")
    return fig


def _site_status(rows: pd.DataFrame) -> pd.Series:
    return rows["status"].astype("string").fillna("needs data") if "status" in rows else pd.Series(
        "needs data", index=rows.index, dtype="string")


def sites_figure(
    sites: pd.DataFrame,
    *,
    place: Place | None = None,
    title: str | None = None,
    filters: Filters | None = None,
    area: tuple[str, str] | None = None,
    made: date | None = None,
    paper: str = "A4",
) -> Figure:
    """Draw the sites a page shows as a print map: fitted to the filtered area, the filters in the subtitle.

    Parameters
    ----------
    sites
        The sites shown (``lon``, ``lat``, ``status``); one marker per located site, coloured by status.
    place
        The place (default: the current place).
    title
        The page's title (default: "<place> estate: sites by status"); the area's name is added to it.
    filters
        The filters that chose ``sites`` (the app's sidebar): named in the subtitle; their neighbourhoods, PCNs
        and wards, with ``area``, are the area the map is fitted to.
    area
        The page's own area, ``("neighbourhood", "North")``, ``("pcn", name)`` or ``("ward", name)``: outlined,
        lightly filled and always wholly inside the map.
    made
        The date printed on the map (default: today).
    paper
        ``A4`` or ``A3`` (landscape).

    Returns
    -------
    matplotlib.figure.Figure
        Title (``gid="title"``), subtitle (filters, count, date), the map in British National Grid with the
        context boundaries (neighbourhoods, PCN footprints, wards) drawn lightly, the sites by status, legend,
        scale bar, north arrow, attribution and date; save it with :func:`render_figure`.
    """
    place = place if place is not None else load_place()
    if paper not in PAPER_SIZES:
        raise ValueError(f"unknown paper size {paper!r} (use {', '.join(PAPER_SIZES)})")
    heading = view_title(title or f"{place.name} estate: sites by status", place=place,
                         area=view_area(filters, area))
    shape = area_shape(place, filters=filters, area=area)
    extent = fitted_extent(sites, shape, place=place)

    fig = Figure(figsize=PAPER_SIZES[paper], layout=None)
    fig.patch.set_facecolor("white")
    ax = fig.add_axes((0.02, 0.08, 0.70, 0.79))
    ax.set_aspect("equal")
    ax.set_axis_off()

    handles: list[Patch | Line2D] = []
    if shape is not None:
        area_frame = gpd.GeoSeries([shape], crs=BNG)
        area_frame.plot(ax=ax, color=_AREA_FILL, edgecolor="none", zorder=1, gid="fill")
        area_frame.boundary.plot(ax=ax, color=NEIGHBOURHOOD_LINE, linewidth=2.2, zorder=4)
        handles.append(Patch(facecolor=_AREA_FILL, edgecolor=NEIGHBOURHOOD_LINE, linewidth=2.0,
                             label=area_label(place, view_area(filters, area)) or "Area shown"))
    context = (("ward", "#9A9A9A", 0.5, ":", "Ward"), ("pcn", "#B5651D", 0.9, "--", "PCN footprint"),
               ("neighbourhood", "#555555", 1.2, "-", place.neighbourhood_term.capitalize()))
    for kind, colour, width, style, label in context:
        layer = getattr(boundaries, AREA_KINDS[kind][0])(place).to_crs(BNG)
        layer.boundary.plot(ax=ax, color=colour, linewidth=width, linestyle=style, alpha=0.8, zorder=2)
        handles.append(Line2D([], [], color=colour, linewidth=max(width, 0.8), linestyle=style, label=label))
        if kind == "neighbourhood":
            for name, point in zip(layer[AREA_KINDS[kind][1]].astype(str), layer.representative_point(),
                                   strict=True):
                if extent[0] < point.x < extent[2] and extent[1] < point.y < extent[3]:
                    ax.text(point.x, point.y, name, ha="center", va="center", fontsize=11, color="#555555",
                            alpha=0.8, zorder=3, clip_on=True)

    x, y, located = located_bng(sites)
    status = _site_status(sites).to_numpy()[located]
    for value in reversed(STATUSES):  # needs data underneath, key on top
        chosen = status == value
        ax.scatter(x[chosen], y[chosen], s=30, color=STATUS_COLOURS[value], edgecolors=_MARKER_EDGE,
                   linewidths=0.6, zorder=5, gid="markers")
    status_handles = [Line2D([], [], marker="o", linestyle="", markersize=7, markerfacecolor=STATUS_COLOURS[v],
                             markeredgecolor=_MARKER_EDGE, label=f"{v} ({int((status == v).sum()):,})")
                      for v in STATUSES]
    _set_extent(ax, extent)

    unlocated = int((~located).sum())
    beyond = int(((x < extent[0]) | (x > extent[2]) | (y < extent[1]) | (y > extent[3])).sum())
    fig.text(0.02, 0.965, heading, fontsize=17, fontweight="bold", va="top", gid="title")
    fig.text(0.02, 0.925, subtitle_text(filters, shown=len(sites), unlocated=unlocated, made=made)
             + "\nOne marker per site, coloured by the site's status; boundaries for context.",
             fontsize=9.5, color="#333333", va="top", gid="subtitle")
    legend = fig.legend(handles=status_handles + handles, loc="upper left", bbox_to_anchor=(0.74, 0.86),
                        frameon=False, fontsize=9, title="Sites by status", title_fontsize=10, alignment="left")
    legend.set_gid("legend")
    notes = []
    if unlocated:
        notes.append(f"{unlocated:,} sites without a location are not drawn.")
    if beyond:
        notes.append(f"{beyond:,} sites outside {place.name} lie beyond this view.")
    _footer(fig, notes, place)
    _date_stamp(fig, made)
    return fig
