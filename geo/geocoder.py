"""Offline geocoding of a table from its postcode and/or coordinate columns.

Every input row comes back, in order, with a location or a readable reason why not:

* coordinates win when they are usable (WGS84, swapped lat/lon, or BNG eastings/northings — detected per row);
* else a full postcode gives its unit centroid (medium precision);
* else a sector or district postcode ("M33 7", "M31") gives that area's centroid (low precision);
* a well-formed postcode missing from the table (terminated, new, or outside the covered districts) is flagged,
  not guessed.

The columns added are described in ``docs/architecture.md``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.place import Place
from geo.postcodes import PostcodeKind, normalise_postcodes, postcode_table
from geo.projection import CoordinateKind, classify_coordinates, to_bng, to_wgs84

__all__ = [
    "GEOCODE_COLUMNS",
    "METHODS",
    "PRECISIONS",
    "LocationColumns",
    "detect_location_columns",
    "geocode",
]

GEOCODE_COLUMNS = ("postcode_normalised", "lon", "lat", "easting", "northing", "geocode_method",
                   "geocode_precision", "geocode_issue")
METHODS = ("coordinates", "coordinates_swapped", "coordinates_bng", "postcode", "postcode_sector",
           "postcode_district", "online_postcodes_io", "online_nominatim", "none")
PRECISIONS = ("high", "medium", "low", "none")

#: Coordinates further than this from their own postcode's centroid are kept but flagged.
DISAGREEMENT_M = 1_000.0

# Column names seen in real registers, compared after lower-casing and dropping non-letters/digits.
_POSTCODE_NAMES = ("postcode", "postcodes", "pcd", "pcds", "pcode", "pc", "postalcode", "zip", "sitepostcode",
                   "propertypostcode", "practicepostcode")
_X_NAMES = ("lon", "long", "longitude", "lng", "x", "geox", "easting", "eastings", "east", "oseast1m",
            "xcoordinate", "gridx", "pclon")
_Y_NAMES = ("lat", "latitude", "y", "geoy", "northing", "northings", "north", "osnrth1m", "ycoordinate",
            "gridy", "pclat")


class LocationColumns(dict):
    """Detected column names: keys ``postcode``, ``x``, ``y`` (values may be None)."""


def _key(name: object) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def detect_location_columns(columns: Iterable[object]) -> LocationColumns:
    """Find the postcode and coordinate columns among ``columns`` by their common names.

    Parameters
    ----------
    columns
        Column names as given.

    Returns
    -------
    LocationColumns
        ``{"postcode": name | None, "x": name | None, "y": name | None}``; x and y are only returned as a pair.
    """
    keyed = {_key(c): c for c in reversed(list(columns))}  # first occurrence wins

    def first(names: tuple[str, ...]) -> object | None:
        return next((keyed[n] for n in names if n in keyed), None)

    x, y = first(_X_NAMES), first(_Y_NAMES)
    if x is None or y is None:
        x = y = None
    return LocationColumns(postcode=first(_POSTCODE_NAMES), x=x, y=y)


def _numbers(frame: pd.DataFrame, column: object | None) -> NDArray[np.float64]:
    if column is None:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    # Text numbers may carry thousands separators or stray spaces ("383,736").
    cleaned = values.astype("string").str.replace(r"[,\s]", "", regex=True)
    return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _format_pair(x: float, y: float) -> str:
    return f"({x:g}, {y:g})"


def geocode(frame: pd.DataFrame, *, postcode: object | None = None, x: object | None = None,
            y: object | None = None, place: Place | None = None) -> pd.DataFrame:
    """Geocode every row of ``frame`` offline.

    Parameters
    ----------
    frame
        Input rows; never modified.
    postcode, x, y
        Column names. ``x``/``y`` hold longitude/latitude or easting/northing (detected per row, swapped lat/lon
        too). Pass None for a column the table does not have.
    place
        The place whose postcode table is used (default: the current place).

    Returns
    -------
    pandas.DataFrame
        ``frame``'s columns followed by :data:`GEOCODE_COLUMNS`, same index and order. An input column whose name
        clashes with an output column is kept as ``<name>_input``.
    """
    n = len(frame)
    table = postcode_table(place)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    east = np.full(n, np.nan)
    north = np.full(n, np.nan)
    method = np.full(n, "none", dtype=object)
    precision = np.full(n, "none", dtype=object)
    issue = np.full(n, "", dtype=object)

    # --- postcodes
    if postcode is not None:
        norm = normalise_postcodes(frame[postcode])
        normalised = norm["postcode_normalised"].to_numpy(dtype=object)
        kind = norm["postcode_kind"].to_numpy(dtype=object)
        raw = frame[postcode].astype("string").fillna("").to_numpy(dtype=object)
    else:
        normalised = np.full(n, "", dtype=object)
        kind = np.full(n, PostcodeKind.EMPTY, dtype=object)
        raw = normalised
    pc_found = np.zeros(n, dtype=bool)
    pc_e, pc_n, pc_lon, pc_lat = (np.full(n, np.nan) for _ in range(4))
    pc_method = np.full(n, "none", dtype=object)
    for level, level_method in ((PostcodeKind.FULL, "postcode"), (PostcodeKind.SECTOR, "postcode_sector"),
                                (PostcodeKind.DISTRICT, "postcode_district")):
        rows = np.flatnonzero(kind == level)
        if rows.size == 0:
            continue
        found, e, nn, lo, la = table.locate(normalised[rows], level)
        hit = rows[found]
        pc_found[hit] = True
        pc_e[hit], pc_n[hit], pc_lon[hit], pc_lat[hit] = e[found], nn[found], lo[found], la[found]
        pc_method[hit] = level_method
    pc_issue = np.full(n, "", dtype=object)
    for i in np.flatnonzero(~pc_found & (kind != PostcodeKind.EMPTY)):
        if kind[i] == PostcodeKind.INVALID:
            pc_issue[i] = f"'{raw[i].strip()}' is not a valid UK postcode"
        elif kind[i] == PostcodeKind.FULL:
            district = normalised[i].split(" ")[0]
            where = ("the postcode table covers its district, so it is terminated or newer than the table"
                     if table.covers_district(district) else "its district is outside the area the table covers")
            pc_issue[i] = f"postcode {normalised[i]} was not found ({where})"
        else:
            pc_issue[i] = f"partial postcode {normalised[i]} was not found in the postcode table"

    # --- coordinates
    xs, ys = _numbers(frame, x), _numbers(frame, y)
    coord_kind = classify_coordinates(xs, ys)
    wgs = coord_kind == CoordinateKind.WGS84
    swapped = coord_kind == CoordinateKind.SWAPPED
    bng = coord_kind == CoordinateKind.BNG
    lon[wgs], lat[wgs] = xs[wgs], ys[wgs]
    lon[swapped], lat[swapped] = ys[swapped], xs[swapped]
    degrees = wgs | swapped
    if degrees.any():
        east[degrees], north[degrees] = to_bng(lon[degrees], lat[degrees])
    if bng.any():
        east[bng], north[bng] = xs[bng], ys[bng]
        lon[bng], lat[bng] = to_wgs84(xs[bng], ys[bng])
    method[wgs], method[swapped], method[bng] = "coordinates", "coordinates_swapped", "coordinates_bng"
    has_coords = degrees | bng
    precision[has_coords] = "high"
    issue[swapped] = "latitude and longitude were given the wrong way round; swapped"

    # Coordinates that disagree with their own full postcode are kept (they are usually the better fix) but flagged.
    both = has_coords & pc_found & (pc_method == "postcode")
    gap = np.hypot(east - pc_e, north - pc_n)
    for i in np.flatnonzero(both & (gap > DISAGREEMENT_M)):
        note = f"coordinates are {gap[i] / 1000:.1f} km from the centroid of postcode {normalised[i]}; coordinates kept"
        issue[i] = f"{issue[i]}; {note}" if issue[i] else note

    # --- postcode fallback where coordinates are missing or unusable
    use_pc = ~has_coords & pc_found
    lon[use_pc], lat[use_pc] = pc_lon[use_pc], pc_lat[use_pc]
    east[use_pc], north[use_pc] = pc_e[use_pc], pc_n[use_pc]
    method[use_pc] = pc_method[use_pc]
    precision[use_pc] = np.where(pc_method[use_pc] == "postcode", "medium", "low")
    partial = use_pc & (pc_method != "postcode")
    issue[partial] = [f"only a partial postcode ({normalised[i]}); located at its "
                      f"{'sector' if pc_method[i] == 'postcode_sector' else 'district'} centroid"
                      for i in np.flatnonzero(partial)]

    bad_coords = coord_kind == CoordinateKind.INVALID
    for i in np.flatnonzero(bad_coords):
        note = (f"coordinates {_format_pair(xs[i], ys[i])} are neither longitude/latitude nor "
                "eastings/northings in Great Britain")
        issue[i] = f"{note}; {'postcode used' if use_pc[i] else 'not located'}" + (f" ({issue[i]})" if issue[i] else "")
    failed = ~has_coords & ~pc_found
    for i in np.flatnonzero(failed & ~bad_coords):
        issue[i] = pc_issue[i] or "no postcode or coordinates"
    for i in np.flatnonzero(failed & bad_coords & (pc_issue != "")):
        issue[i] = f"{issue[i]}; {pc_issue[i]}"

    added = pd.DataFrame({
        "postcode_normalised": normalised, "lon": lon, "lat": lat, "easting": east, "northing": north,
        "geocode_method": method, "geocode_precision": precision, "geocode_issue": issue,
    }, index=frame.index)
    # An input column that shares a name with an output (often "lon"/"lat") is kept under "<name>_input".
    renamed = frame.rename(columns={c: f"{c}_input" for c in added.columns if c in frame.columns})
    return pd.concat([renamed, added], axis=1)
