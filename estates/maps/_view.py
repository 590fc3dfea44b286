"""What a page's map shows, for its exports: the chosen area, the extent fitted to it, and the words that say
which filters made the view (private; shared by the static and the interactive exports).

An export must show what the page shows: a view filtered to one neighbourhood is drawn at that neighbourhood's
extent (not the whole place with the sites squeezed into a corner), and its title and subtitle name the filters.
The area comes from the page (``area=("neighbourhood", "North")``: the locality page's own choice) and from the
sidebar's geography filters (neighbourhood, PCN, ward; several filters intersect, as the filters do).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd
import shapely
from shapely.geometry.base import BaseGeometry

from estates.analysis.filters import MISSING_LABEL, Filters
from geo import boundaries
from geo.place import Place
from geo.projection import BNG, to_bng

__all__ = ["AREA_KINDS", "area_label", "area_shape", "fitted_extent", "located_bng", "subtitle_text", "view_area",
           "view_title"]

#: Kinds of area a view can be fitted to: kind → (boundary accessor, name column).
AREA_KINDS: dict[str, tuple[str, str]] = {
    "neighbourhood": ("neighbourhoods", "neighbourhood"),
    "pcn": ("pcn_footprints", "pcn_name"),
    "ward": ("wards", "ward_name"),
}

#: Sidebar geography filter → kind of area.
_FILTER_AREAS: dict[str, str] = {"neighbourhoods": "neighbourhood", "pcns": "pcn", "wards": "ward"}

#: Smallest side of an extent (metres): one site alone still shows its streets' worth of context.
MIN_SPAN_M = 2_000.0

#: Margin round the extent, as a share of its larger side.
MARGIN = 0.06


def _layer(place: Place, kind: str) -> pd.DataFrame:
    accessor, _column = AREA_KINDS[kind]
    return getattr(boundaries, accessor)(place).to_crs(BNG)


def _union(place: Place, kind: str, names: Sequence[str]) -> BaseGeometry:
    layer = _layer(place, kind)
    column = AREA_KINDS[kind][1]
    chosen = layer[layer[column].astype("str").isin([str(n) for n in names])]
    if chosen.empty:
        raise ValueError(f"no {kind} called {', '.join(map(repr, names))} in {place.name}")
    return shapely.union_all(chosen.geometry.to_numpy())


def area_shape(place: Place, *, filters: Filters | None = None,
               area: tuple[str, str] | None = None) -> BaseGeometry | None:
    """The part of the place the view is about, in British National Grid, or ``None`` for the whole place.

    Parameters
    ----------
    place
        The place.
    filters
        The sidebar filters: their neighbourhoods, PCNs and wards (each a union of its choices) narrow the area.
        A choice of "(none)" (sites with no such area) means the filter cannot be drawn as an area: it is skipped.
    area
        The page's own area, ``(kind, name)`` with kind one of :data:`AREA_KINDS`.

    Returns
    -------
    shapely geometry or None
        The intersection of the area and the filters' areas (their union when they do not meet).
    """
    shapes: list[BaseGeometry] = []
    if area is not None:
        kind, name = area
        if kind not in AREA_KINDS:
            raise ValueError(f"unknown kind of area {kind!r} (use {', '.join(AREA_KINDS)})")
        shapes.append(_union(place, kind, [name]))
    if filters is not None:
        for field, kind in _FILTER_AREAS.items():
            values = tuple(getattr(filters, field))
            if values and MISSING_LABEL not in values:
                shapes.append(_union(place, kind, values))
    if not shapes:
        return None
    common = shapely.intersection_all(shapes)
    return common if not common.is_empty else shapely.union_all(shapes)


def located_bng(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Easting, northing of the rows that have a location, and the mask of those rows."""
    lon = pd.to_numeric(rows["lon"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    lat = pd.to_numeric(rows["lat"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    has = np.isfinite(lon) & np.isfinite(lat)
    x, y = to_bng(lon[has], lat[has])
    return np.asarray(x, dtype=float), np.asarray(y, dtype=float), has


def fitted_extent(rows: pd.DataFrame | None, shape: BaseGeometry | None, *, place: Place,
                  margin: float = MARGIN, min_span_m: float = MIN_SPAN_M) -> tuple[float, float, float, float]:
    """The view's extent in British National Grid: the area (else the whole place) and the rows in the place,
    with a margin.

    Parameters
    ----------
    rows
        Sites (or records) drawn, with ``lon``/``lat``; rows without a location, and rows tagged as outside the
        place (``outside_<place>``), do not stretch the extent (a site far outside would shrink the rest).
    shape
        :func:`area_shape`'s area; its whole boundary is always inside the extent. ``None``: the place's boundary.
    place
        The place.
    margin
        Share of the larger side added on every side.
    min_span_m
        Each side is at least this long (metres).

    Returns
    -------
    (minx, miny, maxx, maxy)
    """
    if shape is not None:
        boxes = [tuple(shape.bounds)]
    else:
        boxes = [tuple(boundaries.boundary(place).to_crs(BNG).total_bounds)]
    if rows is not None and len(rows):
        inside = rows
        if place.outside_column in rows:
            inside = rows[~rows[place.outside_column].astype("boolean").fillna(False).to_numpy(dtype=bool)]
        x, y, _ = located_bng(inside)
        if len(x):
            boxes.append((float(x.min()), float(y.min()), float(x.max()), float(y.max())))
    minx, miny = min(b[0] for b in boxes), min(b[1] for b in boxes)
    maxx, maxy = max(b[2] for b in boxes), max(b[3] for b in boxes)
    cx, cy = (minx + maxx) / 2, (miny + maxy) / 2
    half_w, half_h = max(maxx - minx, min_span_m) / 2, max(maxy - miny, min_span_m) / 2
    pad = margin * 2 * max(half_w, half_h)
    return (cx - half_w - pad, cy - half_h - pad, cx + half_w + pad, cy + half_h + pad)


def view_area(filters: Filters | None, area: tuple[str, str] | None) -> tuple[str, str] | None:
    """The area a view is named after: the page's own, else the one area the sidebar's filters chose (if one)."""
    if area is not None or filters is None:
        return area
    chosen = [(kind, getattr(filters, field)) for field, kind in _FILTER_AREAS.items() if getattr(filters, field)]
    if len(chosen) == 1 and len(chosen[0][1]) == 1 and chosen[0][1][0] != MISSING_LABEL:
        return chosen[0][0], str(chosen[0][1][0])
    return None


def area_label(place: Place, area: tuple[str, str] | None) -> str:
    """``"North neighbourhood"``, ``"North Trafford PCN"``, ``"Longford ward"``, or ``""``."""
    if area is None:
        return ""
    kind, name = area
    if kind == "neighbourhood":
        return f"{name} {place.neighbourhood_term}"
    if kind == "ward" and not name.lower().endswith("ward"):
        return f"{name} ward"
    return str(name)


def view_title(title: str, *, place: Place, area: tuple[str, str] | None = None) -> str:
    """The page's title with its area, e.g. ``"Trafford localities — North neighbourhood"``."""
    where = area_label(place, area)
    return f"{title} — {where}" if where and where not in title else title


def subtitle_text(filters: Filters | None, *, shown: int, unlocated: int = 0, what: str = "sites",
                  made: date | None = None) -> str:
    """One line naming the filters, the count and the date, e.g.
    ``"Filters: Neighbourhood: North; Status: surplus · 45 sites (2 without a location not drawn) · 5 December
    2026"``."""
    described = filters.describe() if filters is not None and filters.active else ""
    parts = [f"Filters: {described}" if described else f"No filters: every {what[:-1] if what.endswith('s') else what}"]
    count = f"{shown:,} {what}"
    if unlocated:
        count += f" ({unlocated:,} without a location not drawn)"
    parts.append(count)
    made = made or date.today()
    parts.append(f"{made.day} {made:%B %Y}")
    return " · ".join(parts)
