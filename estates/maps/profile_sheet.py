"""A one-page profile of one neighbourhood or PCN footprint (A4 portrait, PNG or PDF): the page a planner takes to
a locality board.

The page holds, top to bottom:

* a title (area, place) with the date, and what the area is (the place's pilot description, the filters);
* a **map** of the area's sites, coloured by status, over the IMD 2019 decile of each LSOA, the area outlined and
  the rest of the place faded; the top co-location clusters are drawn as numbered dashed circles (the numbers of
  the table below); scale bar, north arrow, legend;
* **headline figures** from :func:`estates.analysis.profiles.area_profiles` — the JSNA-style measures the Profiles
  and locality pages show: residents, LSOAs, average IMD score, share of residents in England's most deprived 20 %,
  the most deprived LSOA, recorded floor area — and the area's sites (and surplus sites). A figure the data does
  not give is written "not available", never estimated;
* the **estate by partner and status** (:func:`estates.analysis.profiles.estate_breakdown`, the register records by
  partner, coloured by their site's status), every bar labelled with its full (wrapped) name and its count;
* the **top co-location opportunities** (:func:`estates.analysis.colocation.colocation_clusters`), ranked by the
  deprivation of the hub's LSOA;
* a footer with the sources, the method and the place's attribution.

The area's estate is the register records tagged to it (by their own point), after any filters; its sites are the
sites those records are on. Everything is drawn on one :class:`matplotlib.figure.Figure` (no ``pyplot``) in
British National Grid, with the decorations of :mod:`estates.maps.static`. Each part has a ``gid`` so tests and
callers can find it: ``title``, ``date``, ``subtitle``; the ``map`` axes (``sites-<status>``, ``cluster``,
``cluster-label``, ``scale-bar``, ``north-arrow``); ``legend`` and ``legend-lines`` (sites), ``imd-legend``;
``headline-label`` / ``-value`` / ``-note``; the ``breakdown`` axes (``breakdown-total``, ``breakdown-count``),
``breakdown-title`` / ``-note`` / ``-legend``; ``colocation`` (the table), ``colocation-title`` / ``-note``;
``sources`` and ``attribution``.

The layout is worked out bottom up on the A4 page: the footer, the co-location table and the chart take the height
their (measured, wrapped) text needs, and the map row the rest; when the page is full the table lists fewer
clusters (never under three) before the map shrinks. Text is wrapped by its measured width in matplotlib's font,
so nothing runs off the page or into its neighbour (tested on the real areas).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Circle, Patch, Rectangle
from matplotlib.textpath import TextToPath

from estates.analysis.colocation import DEFAULT_DISTANCE_M, colocation_clusters
from estates.analysis.filters import Filters, filter_buildings
from estates.analysis.profiles import AREA_KINDS, AreaKind, _area_names, area_profiles, estate_breakdown
from estates.exports import MIME_TYPES, ExportError, ExportFile, _write_files, profile_filename, resolve_output
from estates.maps import IMD_COLOURS, STATUS_COLOURS, attribution_text
from estates.maps.static import _north_arrow, _scale_bar, render_figure
from estates.schema import STATUSES
from estates.service import Estate
from geo import boundaries
from geo.place import Place, load_place
from geo.projection import BNG, to_bng

__all__ = ["PROFILE_FORMATS", "ProfileFigures", "UnknownAreaError", "check_area", "export_profile",
           "profile_export_bytes", "profile_areas",
           "profile_figures", "profile_sheet"]

#: Formats :func:`export_profile` writes.
PROFILE_FORMATS: tuple[str, ...] = ("pdf", "png")

#: A4 portrait, inches.
_A4_PORTRAIT = (8.27, 11.69)
_POINTS_PER_INCH = 72.0
_MARGIN_PT = 30.0
_NOT_AVAILABLE = "not available"
_AREA_LINE = "#111111"
_TEXT = "#222222"
_MUTED = "#555555"
_RULE = "#BBBBBB"
_PLACE_LINE = "#666666"
_OUTSIDE = "#E4E4E4"  # beyond the place: no LSOAs drawn (unlike decile 10, which is nearly white)
_SMALL = 7.0  # chart labels and table text (points)
_LINE = 8.0  # their line height
_GAP = 1.8  # between bars
_LABEL_PT = 215.0  # the chart's partner names
_FOOT = 6.3  # footer text
_FOOT_LINE = 7.6
_FOOT_DROP = 10.0  # the footer sits this far into the bottom margin
_COLUMN_PT = 190.0  # the column beside the map: headline figures and legends
_MAP_ROW_PT = 300.0  # the least the map row may have
_MAP_ROW_MAX_PT = 430.0
_TEXT_TO_PATH = TextToPath()


class UnknownAreaError(ValueError):
    """The area is not one of the place's areas of that kind (the message lists the ones there are)."""


def profile_areas(area_kind: AreaKind, *, place: Place | None = None) -> list[str]:
    """The areas of a kind a profile can be made for, in name order.

    Parameters
    ----------
    area_kind
        ``neighbourhood`` or ``pcn`` (PCN footprint, by name).
    place
        The place (default: the current place).

    Returns
    -------
    list of str
        Empty for neighbourhoods when the place has no neighbourhood layer (none is invented).
    """
    if area_kind not in AREA_KINDS:
        raise ValueError(f"area_kind must be one of {', '.join(AREA_KINDS)}, not {area_kind!r}")
    place = place if place is not None else load_place()
    if area_kind == "neighbourhood" and not boundaries.has_neighbourhoods(place):
        return []
    return [str(name) for name in _area_names(area_kind, place)]


def check_area(area_kind: AreaKind, area_name: str, place: Place) -> None:
    """Raise :class:`UnknownAreaError` (listing the areas there are) unless the place has this area."""
    names = profile_areas(area_kind, place=place)
    if area_name in names:
        return
    if area_kind == "neighbourhood" and not names:
        pcns = "; ".join(profile_areas("pcn", place=place))
        raise UnknownAreaError(f"{place.name} has no {place.neighbourhood_term} layer (it was built without the "
                               f"council's ward grouping, and none is invented); profile a PCN instead: {pcns}")
    what = place.neighbourhood_term if area_kind == "neighbourhood" else "PCN"
    raise UnknownAreaError(f"{area_name!r} is not a {what} of {place.name}; choose one of: {'; '.join(names)}")


# ------------------------------------------------------------------------------------------------ the figures


@dataclass(frozen=True)
class ProfileFigures:
    """What one profile shows, computed once (the sheet draws it; tests compare it with the analysis).

    Attributes
    ----------
    place, area_kind, area_name
        The area.
    records
        The area's register records (after any filters): tagged to the area by their own point.
    sites
        The sites those records are on (one row each, from ``Estate.sites``).
    profile
        The area's row of :func:`estates.analysis.profiles.area_profiles` (of ``records``).
    breakdown
        :func:`estates.analysis.profiles.estate_breakdown` of ``records`` (with its ``total`` row).
    clusters
        :func:`estates.analysis.colocation.colocation_clusters` of ``records`` (every cluster, ranked).
    distance_m
        The walking distance the clusters use.
    filters
        The filters applied, if any.
    """

    place: Place
    area_kind: AreaKind
    area_name: str
    records: pd.DataFrame
    sites: pd.DataFrame
    profile: pd.Series
    breakdown: pd.DataFrame
    clusters: pd.DataFrame
    distance_m: float
    filters: Filters | None

    @property
    def surplus_sites(self) -> int:
        """Sites whose status is surplus."""
        return int((self.sites["status"].astype("str") == "surplus").sum())

    def headline(self) -> list[tuple[str, str, str]]:
        """The headline figures as ``(label, value, note)`` text, "not available" where the data gives none."""
        p = self.profile
        people = p["population"]
        share = p["most_deprived_20pct_share"]
        deprived = p["most_deprived_20pct_population"]
        gia_recorded = int(p["gia_recorded"])
        worst = p["most_deprived_lsoa"]
        return [
            ("Residents", _number(people), "ONS mid-2024 estimate"),
            ("LSOAs", f"{int(p['lsoas']):,}", "census small areas"),
            ("Average IMD score", _number(p["imd_score"], ".1f"), "IMD 2019, weighted by residents; higher is "
             "more deprived"),
            ("In England's most deprived 20 %", _number(share, ".0%"),
             f"of residents ({deprived:,.0f} people)" if _present(share) else ""),
            ("Sites", f"{len(self.sites):,}", f"holding {len(self.records):,} register record"
             + ("s" if len(self.records) != 1 else "")),
            ("Surplus sites", f"{self.surplus_sites:,}", "by the rules or a person's decision"),
            ("Recorded floor area", f"{p['gia_m2']:,.0f} m²" if gia_recorded else _NOT_AVAILABLE,
             f"from the {gia_recorded:,} of {len(self.records):,} records that give it" if gia_recorded
             else "no register here records floor area"),
            ("Most deprived LSOA", str(worst) if _present(worst) else _NOT_AVAILABLE,
             f"IMD decile {int(p['most_deprived_decile'])}" if _present(worst) else ""),
        ]


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and np.isnan(value)) and value is not pd.NA


def _number(value: object, spec: str = ",.0f") -> str:
    return format(float(value), spec) if _present(value) else _NOT_AVAILABLE  # type: ignore[arg-type]


def profile_figures(
    estate: Estate,
    *,
    place: Place | None = None,
    area_kind: AreaKind,
    area_name: str,
    filters: Filters | None = None,
    distance_m: float = DEFAULT_DISTANCE_M,
) -> ProfileFigures:
    """Work out what the profile of one area shows.

    Parameters
    ----------
    estate
        The estate (:func:`estates.service.read_estate`, :func:`estates.estate.current_sites`).
    place
        The place (default: the current place).
    area_kind
        ``neighbourhood`` or ``pcn``.
    area_name
        The neighbourhood, or the PCN by name.
    filters
        Sidebar filters to apply (their neighbourhood / PCN / ward choices are ignored: the area is chosen here).
    distance_m
        Walking distance for the co-location clusters (default 400 m).

    Returns
    -------
    ProfileFigures

    Raises
    ------
    UnknownAreaError
        When the place has no such area (the message lists the areas there are).
    """
    place = place if place is not None else load_place()
    check_area(area_kind, area_name, place)
    column = AREA_KINDS[area_kind]
    records = estate.records
    records = records[records[column].astype("object") == area_name]
    if filters is not None:
        filters = filters.without("neighbourhoods", "pcns", "wards")
        records = filter_buildings(records, filters)
    site_ids = set(records["site_id"].astype("str"))
    sites = estate.sites[estate.sites["site_id"].astype("str").isin(site_ids).to_numpy()]
    profile = area_profiles(records, area_kind, place=place).set_index("area").loc[area_name]
    clusters, _ = colocation_clusters(records, distance_m=distance_m)
    return ProfileFigures(place=place, area_kind=area_kind, area_name=area_name, records=records, sites=sites,
                          profile=profile, breakdown=estate_breakdown(records), clusters=clusters,
                          distance_m=distance_m, filters=filters if filters is not None and filters.active else None)


# ------------------------------------------------------------------------------------------------ drawing


class _Page:
    """Figure-fraction positions from points measured from the page's top-left corner."""

    def __init__(self, fig: Figure) -> None:
        self.fig = fig
        self.width_pt, self.height_pt = (s * _POINTS_PER_INCH for s in fig.get_size_inches())

    def x(self, pt: float) -> float:
        return pt / self.width_pt

    def y(self, pt_from_top: float) -> float:
        return 1 - pt_from_top / self.height_pt

    def box(self, left: float, top: float, width: float, height: float) -> tuple[float, float, float, float]:
        """``(left, bottom, width, height)`` in figure fractions of a box given in points from the top-left."""
        return (self.x(left), self.y(top + height), width / self.width_pt, height / self.height_pt)

    def text(self, left: float, top: float, text: str, **kwargs: object) -> None:
        kwargs.setdefault("va", "top")
        self.fig.text(self.x(left), self.y(top), text, **kwargs)  # type: ignore[arg-type]

    def rule(self, top: float, *, left: float = _MARGIN_PT, right: float | None = None, **kwargs: object) -> None:
        right = self.width_pt - _MARGIN_PT if right is None else right
        kwargs.setdefault("color", _RULE)
        kwargs.setdefault("linewidth", 0.6)
        self.fig.add_artist(Line2D([self.x(left), self.x(right)], [self.y(top), self.y(top)],
                                   transform=self.fig.transFigure, **kwargs))  # type: ignore[arg-type]


def _area_shape(place: Place, area_kind: AreaKind, area_name: str) -> gpd.GeoDataFrame:
    if area_kind == "neighbourhood":
        layer = boundaries.neighbourhoods(place)
        return layer[layer["neighbourhood"].astype("object") == area_name].to_crs(BNG)
    layer = boundaries.pcn_footprints(place)
    return layer[layer["pcn_name"].astype("object") == area_name].to_crs(BNG)


def _area_label(figures: ProfileFigures) -> str:
    if figures.area_kind == "neighbourhood":
        return f"{figures.area_name} {figures.place.neighbourhood_term}"
    return figures.area_name


@lru_cache(maxsize=8192)
def _width(text: str, size: float, bold: bool = False) -> float:
    """Width of one line of ``text`` in points, in matplotlib's default font (measured, not estimated)."""
    prop = FontProperties(size=size, weight="bold" if bold else "normal")
    return float(_TEXT_TO_PATH.get_text_width_height_descent(text, prop, ismath=False)[0])


def _wrap(text: object, width_pt: float, size: float, *, bold: bool = False) -> list[str]:
    """Lines of ``text`` that each fit ``width_pt`` at font ``size`` (words kept whole unless one alone is wider)."""
    lines: list[str] = []
    for word in str(text).split():
        candidate = f"{lines[-1]} {word}" if lines else word
        if lines and _width(candidate, size, bold) <= width_pt * 0.96:  # room for the renderer's hinting
            lines[-1] = candidate
            continue
        while _width(word, size, bold) > width_pt and len(word) > 1:  # a word wider than the column: break it
            cut = max(1, max(n for n in range(1, len(word) + 1) if _width(word[:n], size, bold) <= width_pt))
            lines.append(word[:cut])
            word = word[cut:]
        lines.append(word)
    return lines or [""]


def _fit(text: str, width_pt: float, size: float, *, bold: bool = False, smallest: float = 7.0) -> float:
    """The largest font size up to ``size`` at which ``text`` fits ``width_pt`` on one line (not below
    ``smallest``)."""
    return max(smallest, min(size, size * width_pt / max(_width(text, size, bold), 1e-9)))


def _title(page: _Page, figures: ProfileFigures, on: dt.date) -> float:
    """Title, date and what the area is; returns where the content starts (points from the top)."""
    place = figures.place
    title = f"{_area_label(figures)}, {place.name}"
    date_text = f"Profile at {on.day} {on:%B %Y}"
    room = page.width_pt - 2 * _MARGIN_PT - _width(date_text, 9) - 16
    page.text(_MARGIN_PT, _MARGIN_PT - 8, title, fontsize=_fit(title, room, 17, bold=True), fontweight="bold",
              color=_TEXT, gid="title")
    page.text(page.width_pt - _MARGIN_PT, _MARGIN_PT - 3, date_text, fontsize=9, color=_MUTED, ha="right",
              gid="date")
    parts = [f"A {place.neighbourhood_term} of {place.name}" if figures.area_kind == "neighbourhood"
             else f"A primary care network (PCN) footprint in {place.name}"]
    if figures.area_kind == "neighbourhood" and figures.area_name == place.pilot_neighbourhood \
            and place.pilot_description:
        parts.append(place.pilot_description)
    if figures.filters is not None:
        parts.append(f"filters: {figures.filters.describe()}")
    lines = _wrap(" · ".join(parts), page.width_pt - 2 * _MARGIN_PT, 9)
    page.text(_MARGIN_PT, _MARGIN_PT + 15, "\n".join(lines), fontsize=9, color=_MUTED, linespacing=1.3,
              gid="subtitle")
    bottom = _MARGIN_PT + 15 + 11.7 * len(lines) + 2
    page.rule(bottom, color=_TEXT, linewidth=0.9)
    return bottom + 7


def _extent(bounds: Sequence[float], ratio: float) -> tuple[float, float, float, float]:
    """The area's bounds with a margin, widened in one direction to the map box's width / height ``ratio`` (so the
    whole area shows, centred, and the rest of the box shows its surroundings)."""
    minx, miny, maxx, maxy = (float(b) for b in bounds)
    pad = 0.04 * max(maxx - minx, maxy - miny)
    width, height = maxx - minx + 2 * pad, maxy - miny + 2 * pad
    if width / height < ratio:
        width = height * ratio
    else:
        height = width / ratio
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    return cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2


def _label_points(x: np.ndarray, y: np.ndarray, radii: np.ndarray, *, metres_per_pt: float
                  ) -> list[tuple[float, float]]:
    """Where each cluster's number goes: on its circle (at least 9 pt from the hub), at the one of four corners
    farthest from the numbers already placed, so neighbouring clusters' numbers do not collide."""
    placed: list[tuple[float, float]] = []
    for cx, cy, radius in zip(x, y, radii, strict=True):
        reach = max(radius, 9 * metres_per_pt) * 0.71
        corners = [(cx + dx * reach, cy + dy * reach) for dx, dy in ((1, 1), (-1, 1), (1, -1), (-1, -1))]
        if placed:
            corners.sort(key=lambda c: -min(np.hypot(c[0] - px, c[1] - py) for px, py in placed))
        placed.append(corners[0])
    return placed


def _draw_map(page: _Page, figures: ProfileFigures, top_clusters: pd.DataFrame, *, left: float, top: float,
              width: float, height: float) -> None:
    """The area's sites over LSOA deprivation, the area outlined, the rest of the place faded."""
    place = figures.place
    ax = page.fig.add_axes(page.box(left, top, width, height))
    ax.set_gid("map")
    ax.set_axis_off()
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, facecolor=_OUTSIDE, edgecolor="none", zorder=0))
    area = _area_shape(place, figures.area_kind, figures.area_name)
    x0, y0, x1, y1 = _extent(area.total_bounds, width / height)
    view = shapely.box(x0, y0, x1, y1)

    lsoas = boundaries.lsoas(place).to_crs(BNG)
    lsoas = lsoas[lsoas.intersects(view).to_numpy()]
    deciles = pd.to_numeric(lsoas["imd_decile"], errors="coerce")
    lsoas.plot(ax=ax, color=[IMD_COLOURS.get(int(d), "#FFFFFF") if pd.notna(d) else "#FFFFFF" for d in deciles],
               edgecolor="white", linewidth=0.3, zorder=1)
    outside = shapely.difference(view, area.union_all())
    gpd.GeoSeries([outside], crs=BNG).plot(ax=ax, color="white", alpha=0.62, linewidth=0, zorder=2)
    boundaries.boundary(place).to_crs(BNG).boundary.plot(ax=ax, color=_PLACE_LINE, linewidth=0.8,
                                                         linestyle=(0, (4, 2)), zorder=3)
    area.boundary.plot(ax=ax, color="white", linewidth=4.0, zorder=4)
    area.boundary.plot(ax=ax, color=_AREA_LINE, linewidth=1.8, zorder=5)

    sites = figures.sites
    located = sites["easting"].notna().to_numpy() & sites["northing"].notna().to_numpy()
    east = sites["easting"].to_numpy(dtype=float)[located]
    north = sites["northing"].to_numpy(dtype=float)[located]
    status = sites["status"].astype("string").fillna("needs data").to_numpy()[located]
    for order, value in enumerate(("needs data", "core", "surplus", "key")):  # key and surplus drawn on top
        chosen = status == value
        ax.scatter(east[chosen], north[chosen], s=30, color=STATUS_COLOURS[value], edgecolors="white",
                   linewidths=0.8, zorder=6 + order / 10, gid=f"sites-{value}")

    if len(top_clusters):
        hub_x, hub_y = to_bng(top_clusters["hub_lon"].to_numpy(dtype=float),
                              top_clusters["hub_lat"].to_numpy(dtype=float))
        radii = np.maximum(top_clusters["radius_m"].to_numpy(dtype=float), 60.0)
        labels = _label_points(hub_x, hub_y, radii, metres_per_pt=(x1 - x0) / width)
        for rank, (lx, ly) in zip(top_clusters["rank"], labels, strict=True):
            ax.text(lx, ly, str(rank), fontsize=7.5, fontweight="bold", ha="center", va="center", zorder=9,
                    gid="cluster-label", bbox={"boxstyle": "circle,pad=0.2", "facecolor": "white",
                                               "edgecolor": _AREA_LINE, "linewidth": 0.8})
        for x, y, radius in zip(hub_x, hub_y, radii, strict=True):
            ax.add_patch(Circle((x, y), radius, facecolor="none", edgecolor=_AREA_LINE, linewidth=1.1,
                                linestyle=(0, (3, 2)), zorder=7, gid="cluster"))

    span = x1 - x0
    _scale_bar(ax, x0=x0 + span * 0.04, y0=y0 + (y1 - y0) * 0.035, span_m=span)
    _north_arrow(ax)
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    ax.set_aspect("equal", adjustable="box")  # the extent already has the box's shape: metres are square
    ax.add_patch(Rectangle((0, 0), 1, 1, transform=ax.transAxes, fill=False, edgecolor="#999999", linewidth=0.6,
                           zorder=11))
    missing = len(sites) - int(located.sum())
    if missing:
        ax.text(0.01, 0.99, f"{missing} site{'s' if missing != 1 else ''} without a location not shown",
                transform=ax.transAxes, ha="left", va="top", fontsize=7, color=_MUTED, zorder=10,
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.5})


def _headline(page: _Page, figures: ProfileFigures, *, left: float, top: float, width: float) -> float:
    """The headline figures in two columns; returns the bottom (points from the top)."""
    column = width / 2
    room = column - 8
    y = top
    items = figures.headline()
    for row in range(0, len(items), 2):
        bottoms = []
        for col, (label, value, note) in enumerate(items[row:row + 2]):
            x = left + col * column
            label_lines = _wrap(label, room, 7.5)
            page.text(x, y, "\n".join(label_lines), fontsize=7.5, color=_MUTED, linespacing=1.1,
                      gid="headline-label")
            at = y + 9 * len(label_lines) + 1.5
            size = _fit(value, room, 14.0, bold=True) if value != _NOT_AVAILABLE else 10.0
            page.text(x, at, value, fontsize=size, fontweight="bold", color=_TEXT, gid="headline-value")
            at += 17.5
            note_lines = _wrap(note, room, 6.5) if note else []
            if note_lines:
                page.text(x, at, "\n".join(note_lines), fontsize=6.5, color=_MUTED, linespacing=1.1,
                          gid="headline-note")
            bottoms.append(at + 7.8 * len(note_lines))
        y = max(bottoms) + 8
    return y


def _site_legends(page: _Page, figures: ProfileFigures, top_clusters: pd.DataFrame, *, left: float, top: float,
                  width: float) -> float:
    """The sites' legend beside the map (statuses in two columns, then the lines and circles); returns the
    bottom."""
    status = figures.sites["status"].astype("string").fillna("needs data")
    dots = [Line2D([], [], marker="o", linestyle="", markersize=6.5, markerfacecolor=STATUS_COLOURS[s],
                   markeredgecolor="white", label=f"{s} ({int((status == s).sum()):,})") for s in STATUSES]
    legend = page.fig.legend(handles=dots, bbox_to_anchor=(page.x(left), page.y(top)), ncols=2,
                             title="Sites by status (number)", columnspacing=1.2, **_LEGEND_STYLE)
    legend.set_gid("legend")
    y = top + 12 + 2 * 11 + 5
    label = "\n".join(_wrap(f"{_area_label(figures)} boundary", width - 30, 7.5))
    lines: list[Patch | Line2D] = [Line2D([], [], color=_AREA_LINE, linewidth=1.8, label=label),
                                   Line2D([], [], color=_PLACE_LINE, linewidth=0.8, linestyle=(0, (4, 2)),
                                          label=f"{figures.place.name} boundary")]
    if len(top_clusters):
        lines.append(Line2D([], [], marker="o", linestyle="", markersize=10, markerfacecolor="none",
                            markeredgecolor=_AREA_LINE, label="co-location cluster,\nnumbered as in the table"))
    areas = page.fig.legend(handles=lines, bbox_to_anchor=(page.x(left), page.y(y)), **_LEGEND_STYLE)
    areas.set_gid("legend-lines")
    return y + sum(11 * (h.get_label().count("\n") + 1) for h in lines)


def _imd_key(page: _Page, *, left: float, top: float) -> None:
    """The IMD decile key, one row under the map."""
    deciles = [Patch(facecolor=IMD_COLOURS[d], edgecolor="#888888", linewidth=0.5, label=str(d)) for d in IMD_COLOURS]
    imd = page.fig.legend(handles=deciles, bbox_to_anchor=(page.x(left), page.y(top)), ncols=len(deciles),
                          **{**_LEGEND_STYLE, "title_fontsize": 7.5, "handlelength": 1.5, "handletextpad": 0.3,
                             "columnspacing": 0.8},
                          title="LSOAs by IMD 2019 decile: 1 = England's 10 % most deprived, 10 = least deprived")
    imd.set_gid("imd-legend")


#: What every legend on the page shares.
_LEGEND_STYLE: dict[str, object] = {"frameon": False, "fontsize": 7.5, "alignment": "left", "borderaxespad": 0,
                                    "borderpad": 0, "handletextpad": 0.5, "labelspacing": 0.3, "title_fontsize": 8,
                                    "loc": "upper left"}
_IMD_KEY_PT = 28.0  # the key's row under the map


def _breakdown_labels(figures: ProfileFigures) -> list[list[str]]:
    partners = figures.breakdown[figures.breakdown["partner"] != "total"]["partner"]
    return [_wrap(name, _LABEL_PT - 8, _SMALL) for name in partners]


def _breakdown_height(page: _Page, labels: list[list[str]]) -> float:
    head = 14 + 9 * len(_wrap(_BREAKDOWN_NOTE, page.width_pt - 2 * _MARGIN_PT, 7)) + 4
    return head + (sum(len(lines) * _LINE + _GAP for lines in labels) + 22 if labels else 18)


_BREAKDOWN_NOTE = ("Register records in the area by partner, coloured by their site's status; a site shared by "
                   "partners counts once for each.")


def _breakdown(page: _Page, figures: ProfileFigures, labels: list[list[str]], *, top: float) -> float:
    """Register records by partner, stacked by status, every bar labelled; returns the bottom."""
    table = figures.breakdown[figures.breakdown["partner"] != "total"]
    full = page.width_pt - 2 * _MARGIN_PT
    title_top = top
    page.text(_MARGIN_PT, top, "Estate by partner and status", fontsize=10.5, fontweight="bold", color=_TEXT,
              gid="breakdown-title")
    note = _wrap(_BREAKDOWN_NOTE, full, 7)
    page.text(_MARGIN_PT, top + 14, "\n".join(note), fontsize=7, color=_MUTED, linespacing=1.2, gid="breakdown-note")
    top += 14 + 9 * len(note) + 4
    if not labels:
        page.text(_MARGIN_PT, top, "No register records in this area.", fontsize=8, color=_TEXT, gid="breakdown")
        return top + 18
    heights = np.array([len(lines) * _LINE + _GAP for lines in labels])
    centres = np.cumsum(heights) - heights / 2
    height = float(heights.sum())
    left = _MARGIN_PT + _LABEL_PT
    width = full - _LABEL_PT - 30
    ax = page.fig.add_axes(page.box(left, top, width, height))
    ax.set_gid("breakdown")
    counts = table[list(STATUSES)].to_numpy(dtype=float)
    most = float(counts.sum(axis=1).max()) or 1.0
    ax.set_xlim(0, most * 1.08)
    ax.set_ylim(height, 0)
    per_record = width / (most * 1.08)
    start = np.zeros(len(table))
    for i, value in enumerate(STATUSES):
        ax.barh(centres, counts[:, i], left=start, height=min(_LINE, 7.5), color=STATUS_COLOURS[value],
                edgecolor="white", linewidth=0.4, label=value)
        for centre, begin, count in zip(centres, start, counts[:, i], strict=True):
            if count and count * per_record >= _width(f"{count:.0f}", 6) + 4:
                ax.text(begin + count / 2, centre, f"{count:.0f}", ha="center", va="center", fontsize=6,
                        color="white", gid="breakdown-count")
        start = start + counts[:, i]
    for centre, total in zip(centres, start, strict=True):
        ax.text(total + most * 0.012, centre, f"{total:,.0f}", ha="left", va="center", fontsize=_SMALL, color=_TEXT,
                gid="breakdown-total")
    ax.set_yticks(centres, ["\n".join(lines) for lines in labels], fontsize=_SMALL, linespacing=1.0)
    ax.tick_params(axis="y", length=0, pad=4)
    ax.tick_params(axis="x", labelsize=6.5, length=2, colors=_MUTED, pad=1.5)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color("#999999")
    ax.grid(axis="x", color="#E5E5E5", linewidth=0.5)
    ax.set_axisbelow(True)
    handles = [Patch(facecolor=STATUS_COLOURS[s], label=s) for s in STATUSES]
    legend = page.fig.legend(handles=handles, ncols=len(handles),
                             bbox_to_anchor=(page.x(page.width_pt - _MARGIN_PT), page.y(title_top)),
                             **{**_LEGEND_STYLE, "loc": "upper right", "handlelength": 1.4, "columnspacing": 1.0},
                             title=None)
    legend.set_gid("breakdown-legend")
    return top + height + 22


_COLUMNS = (  # (heading, left edge in points from the margin, width, alignment)
    ("#", 0, 12, "left"),
    ("Around (hub)", 14, 150, "left"),
    ("Partners in the cluster", 170, 214, "left"),
    ("Sites", 384, 26, "right"),
    ("Surplus", 414, 34, "right"),
    ("Hub's LSOA (decile)", 456, 79, "left"),
)


def _cluster_rows(clusters: pd.DataFrame) -> list[list[list[str]]]:
    """Each cluster as table cells, each cell as wrapped lines."""
    rows = []
    for cluster in clusters.itertuples(index=False):
        decile = f" ({int(cluster.imd_decile)})" if _present(cluster.imd_decile) else ""
        values = [str(cluster.rank), cluster.hub_name if _present(cluster.hub_name) else _NOT_AVAILABLE,
                  f"{cluster.partner_count}: {cluster.partners}", f"{cluster.site_count}", f"{cluster.surplus}",
                  f"{cluster.lsoa_name}{decile}" if _present(cluster.lsoa_name) else _NOT_AVAILABLE]
        rows.append([_wrap(value, width, _SMALL) for value, (_, _, width, _) in zip(values, _COLUMNS, strict=True)])
    return rows


def _colocation_note(figures: ProfileFigures, shown: int) -> str:
    total = len(figures.clusters)
    if not total:
        return (f"Sites of two or more partners within {figures.distance_m:,.0f} m of a hub building: there are "
                "none here.")
    which = f"the top {shown} of {total}" if total > shown else f"all {total}"
    return (f"Sites of two or more partners within {figures.distance_m:,.0f} m of a hub building, ranked by the "
            f"deprivation of the hub's LSOA (most deprived first): {which}, numbered as on the map.")


def _colocation_height(page: _Page, figures: ProfileFigures, rows: list[list[list[str]]]) -> float:
    head = 14 + 9 * len(_wrap(_colocation_note(figures, len(rows)), page.width_pt - 2 * _MARGIN_PT, 7)) + 4
    return head + (10 + sum(_LINE * max(len(c) for c in cells) + 5 for cells in rows) + 4 if rows else 18)


def _colocation(page: _Page, figures: ProfileFigures, rows: list[list[list[str]]], *, top: float) -> float:
    """The top co-location clusters as a ranked table; returns the bottom."""
    page.text(_MARGIN_PT, top, "Top co-location opportunities", fontsize=10.5, fontweight="bold", color=_TEXT,
              gid="colocation-title")
    note = _wrap(_colocation_note(figures, len(rows)), page.width_pt - 2 * _MARGIN_PT, 7)
    page.text(_MARGIN_PT, top + 14, "\n".join(note), fontsize=7, color=_MUTED, linespacing=1.2,
              gid="colocation-note")
    top += 14 + 9 * len(note) + 4
    if not rows:
        page.text(_MARGIN_PT, top, f"No cluster of two or more partners within {figures.distance_m:,.0f} m.",
                  fontsize=8, color=_TEXT, gid="colocation")
        return top + 18
    for heading, x, width, align in _COLUMNS:
        page.text(_MARGIN_PT + x + (width if align == "right" else 0), top, heading, fontsize=_SMALL,
                  fontweight="bold", color=_MUTED, ha=align, gid="colocation")
    top += 10
    page.rule(top)
    for cells in rows:
        top += 3
        for lines, (_, x, width, align) in zip(cells, _COLUMNS, strict=True):
            page.text(_MARGIN_PT + x + (width if align == "right" else 0), top, "\n".join(lines), fontsize=_SMALL,
                      color=_TEXT, ha=align, linespacing=1.05, gid="colocation")
        top += _LINE * max(len(lines) for lines in cells) + 2
        page.rule(top, color="#E0E0E0")
    return top + 4


def _footer_lines(page: _Page, figures: ProfileFigures) -> tuple[list[str], list[str]]:
    """Sources and method, and the place's attribution, as wrapped lines."""
    area = figures.place.neighbourhood_term if figures.area_kind == "neighbourhood" else "PCN footprint"
    boundary = ("neighbourhoods — the council's grouping of wards" if figures.area_kind == "neighbourhood"
                else "PCN footprints — from their member practices' registered patients (docs/pcn_footprints.md)")
    sources = (
        "Sources: sites and register records — the partners' registers as held by the estates tool (status by the "
        "classification rules or a person's recorded decision); residents — ONS mid-2024 population estimates by "
        f"LSOA, scaled to ward totals; deprivation — English Indices of Deprivation 2019 (MHCLG) by LSOA; {boundary}."
    )
    method = (
        f"Method: an LSOA counts in the {area} its representative point falls in; a register record counts where "
        "its own point falls, and a site is in the area when one of its records is. The average IMD score is "
        "weighted by residents. Floor area is the gross internal area where a register records it, never "
        "estimated; a figure the data does not give is shown as “not available”. Co-location: sites of two or "
        f"more partner organisations within {figures.distance_m:,.0f} m (straight line) of a hub building; "
        "historic records and approximate (postcode sector) locations left out. Map grid: British National Grid "
        "(EPSG:27700)."
    )
    width = page.width_pt - 2 * _MARGIN_PT
    return ([*_wrap(sources, width, _FOOT), *_wrap(method, width, _FOOT)],
            _wrap(attribution_text(figures.place), width, _FOOT))


def _footer(page: _Page, text: list[str], credit: list[str]) -> None:
    """Sources, method and attribution, set on the bottom margin."""
    bottom = page.height_pt - _MARGIN_PT + _FOOT_DROP
    page.fig.text(page.x(_MARGIN_PT), page.y(bottom), "\n".join(credit), fontsize=_FOOT, color=_TEXT,
                  va="bottom", linespacing=1.2, gid="attribution")
    page.fig.text(page.x(_MARGIN_PT), page.y(bottom - _FOOT_LINE * len(credit) - 3), "\n".join(text),
                  fontsize=_FOOT, color=_MUTED, va="bottom", linespacing=1.2, gid="sources")


def profile_sheet(
    estate: Estate,
    *,
    place: Place | None = None,
    area_kind: AreaKind,
    area_name: str,
    filters: Filters | None = None,
    distance_m: float = DEFAULT_DISTANCE_M,
    top: int = 5,
    on: dt.date | None = None,
) -> Figure:
    """Draw the one-page profile of a neighbourhood or PCN footprint (A4 portrait).

    Parameters
    ----------
    estate
        The estate (:func:`estates.service.read_estate`, :func:`estates.estate.current_sites`).
    place
        The place (default: the current place).
    area_kind
        ``neighbourhood`` or ``pcn``.
    area_name
        The neighbourhood, or the PCN by name (:func:`profile_areas` lists them).
    filters
        Sidebar filters to apply, said in the subtitle (their neighbourhood / PCN / ward choices are ignored).
    distance_m
        Walking distance for the co-location clusters (default 400 m).
    top
        How many co-location clusters the table lists and the map numbers, at most (fewer when the page is full:
        the table says "the top N of M").
    on
        The date printed on the page (default: today).

    Returns
    -------
    matplotlib.figure.Figure
        One A4 page; write it with :func:`estates.maps.static.render_figure` (PNG, PDF or SVG).

    Raises
    ------
    UnknownAreaError
        When the place has no such area (the message lists the areas there are).
    """
    figures = profile_figures(estate, place=place, area_kind=area_kind, area_name=area_name, filters=filters,
                              distance_m=distance_m)
    fig = Figure(figsize=_A4_PORTRAIT, layout=None)
    fig.patch.set_facecolor("white")
    page = _Page(fig)
    content_top = _title(page, figures, on or dt.date.today())

    # Bottom up: the footer, the table and the chart take what they need, the map row the rest (at least what the
    # headline figures and legends beside it need; the table lists fewer clusters before the map gets less).
    text, credit = _footer_lines(page, figures)
    floor = page.height_pt - _MARGIN_PT + _FOOT_DROP - _FOOT_LINE * (len(text) + len(credit)) - 3 - 14
    labels = _breakdown_labels(figures)
    chart = _breakdown_height(page, labels)
    shown = max(0, top)
    while True:
        rows = _cluster_rows(figures.clusters.head(shown))
        map_row = floor - _colocation_height(page, figures, rows) - chart - content_top
        if map_row >= _MAP_ROW_PT or shown <= 3:
            break
        shown -= 1
    top_clusters = figures.clusters.head(shown)
    map_row = min(map_row, _MAP_ROW_MAX_PT)
    map_height = map_row - _IMD_KEY_PT
    map_width = page.width_pt - 2 * _MARGIN_PT - _COLUMN_PT - 14

    _draw_map(page, figures, top_clusters, left=_MARGIN_PT, top=content_top, width=map_width, height=map_height)
    _imd_key(page, left=_MARGIN_PT, top=content_top + map_height + 5)
    right = page.width_pt - _MARGIN_PT - _COLUMN_PT
    bottom = _headline(page, figures, left=right, top=content_top, width=_COLUMN_PT)
    _site_legends(page, figures, top_clusters, left=right, top=bottom + 2, width=_COLUMN_PT)
    y = content_top + map_row + 10
    page.rule(y - 8)
    y = _breakdown(page, figures, labels, top=y)
    page.rule(y - 8)
    _colocation(page, figures, rows, top=y)
    _footer(page, text, credit)
    return fig


def export_profile(
    fmt: str | None,
    path: str | Path,
    *,
    estate: Estate,
    area_kind: AreaKind,
    area_name: str,
    force: bool = False,
    place: Place | None = None,
    filters: Filters | None = None,
    on: dt.date | None = None,
) -> list[Path]:
    """Write the one-page profile of an area as PDF or PNG (never overwriting without ``force``).

    Parameters
    ----------
    fmt
        ``pdf`` or ``png`` (default: from ``path``'s extension).
    path
        File to write; its folder must exist.
    estate, area_kind, area_name, place, filters, on
        As :func:`profile_sheet`.
    force
        Overwrite ``path`` if it exists.

    Returns
    -------
    list of pathlib.Path
        The file written.

    Raises
    ------
    estates.exports.ExportError
        An unusable path or format, or an area the place does not have (the message lists the ones there are).
    """
    target, fmt, _ = resolve_output(path, fmt, formats=PROFILE_FORMATS)
    place = place if place is not None else load_place()
    try:
        figure = profile_sheet(estate, place=place, area_kind=area_kind, area_name=area_name, filters=filters, on=on)
    except UnknownAreaError as exc:
        raise ExportError(str(exc)) from None
    data = render_figure(figure, fmt=fmt)
    return _write_files([(target, lambda partial: partial.write_bytes(data))], force=force)


def profile_export_bytes(
    fmt: str,
    *,
    estate: Estate,
    area_kind: AreaKind,
    area_name: str,
    place: Place | None = None,
    filters: Filters | None = None,
) -> ExportFile:
    """:func:`export_profile` in memory, for a download button (name from :func:`estates.exports.profile_filename`)."""
    if fmt not in PROFILE_FORMATS:
        raise ExportError(f"a profile is written as {' or '.join(PROFILE_FORMATS)}, not {fmt}")
    place = place if place is not None else load_place()
    figure = profile_sheet(estate, place=place, area_kind=area_kind, area_name=area_name, filters=filters)
    return ExportFile(name=profile_filename(area_name, fmt, place=place), mime=MIME_TYPES[fmt],
                      data=render_figure(figure, fmt=fmt))
