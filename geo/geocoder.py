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
import pyarrow as pa
import pyarrow.compute as pa_compute
from numpy.typing import NDArray

from geo._columns import text_column
from geo.place import Place, load_place
from geo.postcodes import PostcodeKind, local_authority_names, normalise_postcodes, postcode_table
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
           "postcode_district", "online_postcodes_io", "online_postcodes_io_terminated", "online_nominatim", "none")
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


#: Python's ``[,\s]`` written for Arrow's regular expressions (RE2), whose ``\s`` is ASCII only: a comma and every
#: character ``str.isspace`` finds (none lies above U+3000).
_SEPARATORS = "[," + "".join(f"\\x{{{code:x}}}" for code in range(0x3001) if chr(code).isspace()) + "]"


def _numbers(frame: pd.DataFrame, column: object | None) -> NDArray[np.float64]:
    if column is None:
        return np.full(len(frame), np.nan)
    values = frame[column]
    if pd.api.types.is_numeric_dtype(values):
        return values.to_numpy(dtype=float, na_value=np.nan)
    # Text numbers may carry thousands separators or stray spaces ("383,736"); removed by Arrow's kernel.
    cleaned = values.astype("string[pyarrow]").str.replace(_SEPARATORS, "", regex=True)
    try:  # Arrow's cast reads a clean column 5x faster than pandas, and agrees wherever it reads at all
        return pa_compute.cast(pa.array(cleaned), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a value Arrow cannot read: pandas coerces it to NaN
        return pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan)


def _in_northern_ireland(postcodes: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Normalised postcodes ("BT1 1AA", "" when invalid) of the BT area (Northern Ireland, whose grid is the Irish
    Grid), through Arrow's regex kernel."""
    found = pa_compute.match_substring_regex(pa.array(postcodes, type=pa.string()), r"^BT[0-9]")
    return np.asarray(found.fill_null(False), dtype=bool)


def _format_pair(x: float, y: float) -> str:
    return f"({x:g}, {y:g})"


class _Vocabulary:
    """Distinct strings and their codes: most rows share a handful of issues, so store each once."""

    def __init__(self, *initial: str) -> None:
        self.values: list[str] = []
        self._codes: dict[str, int] = {}
        for value in initial:
            self.code(value)

    def code(self, value: str) -> int:
        if value not in self._codes:
            self._codes[value] = len(self.values)
            self.values.append(value)
        return self._codes[value]


def _postcode_issue(raw: object, normalised: str, kind: str, table: object) -> str:
    if kind == PostcodeKind.INVALID:
        return f"'{str(raw).strip()}' is not a valid UK postcode"
    if kind == PostcodeKind.FULL:
        district = normalised.split(" ")[0]
        where = ("the postcode table covers its district, so it is terminated or newer than the table"
                 if table.covers_district(district) else "its district is outside the area the table covers")
        return f"postcode {normalised} was not found ({where})"
    return f"partial postcode {normalised} was not found in the postcode table"


def _locate_postcodes(values: pd.Series | None, n: int, place: Place | None, issues: _Vocabulary) -> dict:
    """Look up each distinct postcode once; return per-row arrays."""
    table = postcode_table(place)
    if values is None:
        codes, uniques = np.full(n, -1, dtype=np.intp), pd.Index([], dtype=object)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    m = len(uniques)
    norm = normalise_postcodes(pd.Series(uniques, dtype=object))
    u_norm = np.append(norm["postcode_normalised"].to_numpy(dtype=object), "")
    u_kind = np.append(norm["postcode_kind"].to_numpy(dtype=object), PostcodeKind.EMPTY)
    u_found = np.zeros(m + 1, dtype=bool)
    u_xy = np.full((m + 1, 4), np.nan)  # easting, northing, lon, lat
    u_method = np.full(m + 1, METHODS.index("none"), dtype=np.int8)
    for level, level_method in ((PostcodeKind.FULL, "postcode"), (PostcodeKind.SECTOR, "postcode_sector"),
                                (PostcodeKind.DISTRICT, "postcode_district")):
        rows = np.flatnonzero(u_kind == level)
        if rows.size:
            found, e, nn, lo, la = table.locate(u_norm[rows], level)
            hit = rows[found]
            u_found[hit] = True
            u_xy[hit] = np.column_stack([e, nn, lo, la])[found]
            u_method[hit] = METHODS.index(level_method)
    u_issue = np.zeros(m + 1, dtype=np.int32)  # code 0 is ""
    u_span = np.full(m + 1, "", dtype=object)  # partial postcodes whose area straddles the place's boundary
    place = place if place is not None else load_place()
    names = local_authority_names()
    for level in (PostcodeKind.SECTOR, PostcodeKind.DISTRICT):
        rows = np.flatnonzero(u_found & (u_kind == level))
        for i, members in zip(rows, table.local_authorities(u_norm[rows], level), strict=True):
            if len(members) > 1 and place.la_code in members:
                spans = ", ".join(names.get(code, code) for code in members)
                u_span[i] = f"; it spans {spans}, so it is not claimed inside {place.name}"
    for i in np.flatnonzero(~u_found & (u_kind != PostcodeKind.EMPTY)):
        u_issue[i] = issues.code(_postcode_issue(uniques[i], u_norm[i], u_kind[i], table))
    take = np.where(codes < 0, m, codes)
    # Per row only what every row needs, as numbers (a million rows share a few thousand postcodes); the text of a
    # row's postcode and its straddle note are looked up through its code where a row needs them.
    return {"normalised_codes": take, "normalised_values": u_norm, "empty": (u_kind == PostcodeKind.EMPTY)[take],
            "found": u_found[take], "xy": tuple(u_xy[:, k][take] for k in range(4)), "method": u_method[take],
            "issue": u_issue[take], "span": u_span}


def geocode(frame: pd.DataFrame, *, postcode: object | None = None, x: object | None = None,
            y: object | None = None, place: Place | None = None, categorical: bool = False) -> pd.DataFrame:
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
    categorical
        The text columns (normalised postcode, method, precision, issue) as pandas categoricals — the same values
        kept as codes, no string per row — for callers that only write the rows out (the ``geocode`` command).

    Returns
    -------
    pandas.DataFrame
        ``frame``'s columns followed by :data:`GEOCODE_COLUMNS`, same index and order. An input column whose name
        clashes with an output column is kept as ``<name>_input``.
    """
    n = len(frame)
    none, high, medium, low = (PRECISIONS.index(p) for p in ("none", "high", "medium", "low"))
    issues = _Vocabulary("")
    pc = _locate_postcodes(frame[postcode] if postcode is not None else None, n, place, issues)
    east, north, lon, lat = pc["xy"]  # the row's own arrays (taken per row), changed below
    method, issue = pc["method"], pc["issue"]

    def row_postcode(i: int) -> str:
        return pc["normalised_values"][pc["normalised_codes"][i]]

    is_unit = method == METHODS.index("postcode")
    precision = np.where(pc["found"], np.where(is_unit, medium, low), none).astype(np.int8)
    partial = pc["found"] & ~is_unit
    for i in np.flatnonzero(partial):
        level = "sector" if method[i] == METHODS.index("postcode_sector") else "district"
        issue[i] = issues.code(f"only a partial postcode ({row_postcode(i)}); "
                               f"located at its {level} centroid{pc['span'][pc['normalised_codes'][i]]}")

    # --- coordinates win where usable
    xs, ys = _numbers(frame, x), _numbers(frame, y)
    coord_kind = classify_coordinates(xs, ys)
    # Northern Ireland's grid numbers are Irish Grid: read as British National Grid they land near Chester.
    irish = (coord_kind == CoordinateKind.BNG) & _in_northern_ireland(pc["normalised_values"])[pc["normalised_codes"]]
    coord_kind[irish] = CoordinateKind.MISSING
    wgs = coord_kind == CoordinateKind.WGS84
    swapped = coord_kind == CoordinateKind.SWAPPED
    bng = coord_kind == CoordinateKind.BNG
    degrees = wgs | swapped
    has_coords = degrees | bng
    pc_east, pc_north = east.copy(), north.copy()
    lon[wgs], lat[wgs] = xs[wgs], ys[wgs]
    lon[swapped], lat[swapped] = ys[swapped], xs[swapped]
    if degrees.any():
        east[degrees], north[degrees] = to_bng(lon[degrees], lat[degrees])
    if bng.any():
        east[bng], north[bng] = xs[bng], ys[bng]
        lon[bng], lat[bng] = to_wgs84(xs[bng], ys[bng])
    method[wgs] = METHODS.index("coordinates")
    method[swapped] = METHODS.index("coordinates_swapped")
    method[bng] = METHODS.index("coordinates_bng")
    precision[has_coords] = high
    issue[has_coords] = 0
    issue[swapped] = issues.code("latitude and longitude were given the wrong way round; swapped")

    # The row's own full postcode is the check on its grid numbers: an easting/northing pair given the wrong way
    # round lands far away, and swapped back it lands on the postcode — then the swap is evident, so fix it.
    gap = np.hypot(east - pc_east, north - pc_north)
    swap_gap = np.hypot(ys - pc_east, xs - pc_north)
    grid_swapped = bng & pc["found"] & is_unit & (gap > DISAGREEMENT_M) & (swap_gap <= DISAGREEMENT_M)
    if grid_swapped.any():
        east[grid_swapped], north[grid_swapped] = ys[grid_swapped], xs[grid_swapped]
        lon[grid_swapped], lat[grid_swapped] = to_wgs84(east[grid_swapped], north[grid_swapped])
        method[grid_swapped] = METHODS.index("coordinates_swapped")
        for i in np.flatnonzero(grid_swapped):
            issue[i] = issues.code(
                f"easting and northing were given the wrong way round {_format_pair(xs[i], ys[i])}: swapped, "
                f"which puts the row {swap_gap[i]:.0f} m from its postcode {row_postcode(i)} instead of "
                f"{gap[i] / 1000:.1f} km")
        gap = np.hypot(east - pc_east, north - pc_north)
    # Coordinates that disagree with their own full postcode are kept (usually the better fix) but flagged.
    for i in np.flatnonzero(has_coords & pc["found"] & is_unit & (gap > DISAGREEMENT_M)):
        note = (f"coordinates are {gap[i] / 1000:.1f} km from the centroid of postcode "
                f"{row_postcode(i)}; coordinates kept")
        previous = issues.values[issue[i]]
        issue[i] = issues.code(f"{previous}; {note}" if previous else note)

    for i in np.flatnonzero(coord_kind == CoordinateKind.INVALID):
        note = (f"coordinates {_format_pair(xs[i], ys[i])} are neither longitude/latitude nor "
                "eastings/northings in Great Britain")
        previous = issues.values[issue[i]]
        outcome = "postcode used" if pc["found"][i] else "not located"
        issue[i] = issues.code(f"{note}; {outcome}" + (f" ({previous})" if previous else ""))
    for i in np.flatnonzero(irish):
        outcome = "postcode used" if pc["found"][i] else "not located"
        previous = issues.values[issue[i]]
        note = (f"grid numbers {_format_pair(xs[i], ys[i])} with the Northern Ireland postcode {row_postcode(i)} are "
                f"Irish Grid, not British National Grid; coordinates not used, {outcome}")
        issue[i] = issues.code(f"{note} ({previous})" if previous else note)
    empty = ~has_coords & ~pc["found"] & pc["empty"] & (coord_kind != CoordinateKind.INVALID)
    issue[empty] = issues.code("no postcode or coordinates")

    index = frame.index
    added = pd.DataFrame({
        "postcode_normalised": text_column(pc["normalised_codes"], list(pc["normalised_values"]), index,
                                           categorical=categorical),
        "lon": lon, "lat": lat, "easting": east, "northing": north,
        "geocode_method": text_column(method, list(METHODS), index, categorical=categorical),
        "geocode_precision": text_column(precision, list(PRECISIONS), index, categorical=categorical),
        "geocode_issue": text_column(issue, issues.values, index, categorical=categorical),
    }, index=index)
    # An input column that shares a name with an output (often "lon"/"lat") is kept under "<name>_input".
    renamed = frame.rename(columns={c: f"{c}_input" for c in added.columns if c in frame.columns})
    return pd.concat([renamed, added], axis=1)
