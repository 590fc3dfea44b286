"""Tag points with the areas they fall in: ward, neighbourhood, LSOA (with IMD and population) and PCN footprint.

Vectorised: each distinct location is located once per layer with :class:`geo._pip.PolygonIndex`, so a table of
a million rows drawn from a few thousand postcodes costs what those few thousand points cost. Points outside the
place keep their row, get empty tags and ``outside_<place> = True``. A point exactly on a boundary goes to the
polygon with the lowest GSS code, so the answer never depends on file order.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo import boundaries
from geo._pip import PolygonIndex
from geo.place import Place, load_place
from geo.projection import BNG, to_bng

__all__ = ["TAG_COLUMNS", "tag", "tag_columns"]

#: Tag columns, in output order, before the ``outside_<place>`` flag.
TAG_COLUMNS = ("ward_code", "ward_name", "neighbourhood", "lsoa_code", "lsoa_name", "imd_rank", "imd_decile",
               "lsoa_population", "pcn_code", "pcn_name")


def tag_columns(place: Place | None = None) -> tuple[str, ...]:
    """All columns :func:`tag` adds for ``place``, including ``outside_<slug>``."""
    place = place if place is not None else load_place()
    return (*TAG_COLUMNS, place.outside_column)


@dataclass(frozen=True)
class _Layer:
    index: PolygonIndex
    attributes: pd.DataFrame  # one row per polygon, same order as the index; last row is all-missing


def _layer(frame: pd.DataFrame, key: str, columns: dict[str, str]) -> _Layer:
    frame = frame.sort_values(key, ignore_index=True)
    attributes = frame[list(columns)].rename(columns=columns).convert_dtypes()
    # The extra last row, all <NA>, is what unlocated and outside points point at.
    attributes = attributes.reindex(range(len(attributes) + 1))
    return _Layer(PolygonIndex(frame.to_crs(BNG).geometry.values), attributes)


@lru_cache(maxsize=8)
def _layers(place: Place) -> dict[str, _Layer]:
    lsoa = boundaries.lsoas(place)
    return {
        "ward": _layer(boundaries.wards(place), "ward_code",
                       {"ward_code": "ward_code", "ward_name": "ward_name", "neighbourhood": "neighbourhood"}),
        "lsoa": _layer(lsoa, "lsoa_code", {"lsoa_code": "lsoa_code", "lsoa_name": "lsoa_name",
                                           "imd_rank": "imd_rank", "imd_decile": "imd_decile",
                                           "population_2024": "lsoa_population"}),
        "pcn": _layer(boundaries.pcn_footprints(place), "pcn_code", {"pcn_code": "pcn_code", "pcn_name": "pcn_name"}),
    }


def _distinct(easting: NDArray[np.float64], northing: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Codes of distinct locations (to the decimetre) and the first row of each."""
    key = np.round(easting * 10).astype(np.int64) * 20_000_000 + np.round(northing * 10).astype(np.int64)
    codes, uniques = pd.factorize(key)
    first = np.full(len(uniques), -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return codes, first


def tag(frame: pd.DataFrame, *, place: Place | None = None) -> pd.DataFrame:
    """Add area tags to geocoded rows.

    Parameters
    ----------
    frame
        Rows with ``easting``/``northing`` (BNG) or ``lon``/``lat`` (WGS84) columns, NaN where not located —
        the output of :func:`geo.geocoder.geocode`.
    place
        The place whose layers are used (default: the current place).

    Returns
    -------
    pandas.DataFrame
        ``frame`` followed by :func:`tag_columns`, same index and order. ``outside_<place>`` is True for located
        points outside the place, False inside, and missing (<NA>) for rows with no location.
    """
    place = place if place is not None else load_place()
    if "easting" in frame.columns and "northing" in frame.columns:
        east = frame["easting"].to_numpy(dtype=float, na_value=np.nan)
        north = frame["northing"].to_numpy(dtype=float, na_value=np.nan)
    else:
        east, north = to_bng(frame["lon"].to_numpy(dtype=float, na_value=np.nan),
                             frame["lat"].to_numpy(dtype=float, na_value=np.nan))
    located = np.isfinite(east) & np.isfinite(north)
    rows = np.flatnonzero(located)
    codes, first = _distinct(east[rows], north[rows])
    ux, uy = east[rows][first], north[rows][first]

    layers = _layers(place)
    # Wards partition the place, so "in no ward" is "outside": every layer's tags are left empty there.
    found = {name: layer.index.locate(ux, uy) for name, layer in layers.items()}
    inside = found["ward"] >= 0
    parts = []
    for name, layer in layers.items():
        missing = len(layer.attributes) - 1
        pos = np.full(len(frame), missing)
        pos[rows] = np.where(inside & (found[name] >= 0), found[name], missing)[codes]
        parts.append(layer.attributes.iloc[pos].set_index(frame.index))
    tags = pd.concat(parts, axis=1)
    outside = np.zeros(len(frame), dtype=bool)
    outside[rows] = ~inside[codes]
    outside = pd.array(outside, dtype="boolean")
    outside[~located] = pd.NA
    tags[place.outside_column] = outside
    overlap = [c for c in tags.columns if c in frame.columns]
    return pd.concat([frame.drop(columns=overlap), tags], axis=1)
