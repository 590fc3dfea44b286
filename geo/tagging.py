"""Tag points with the areas they fall in: ward, neighbourhood, LSOA (with IMD and population), PCN footprint and
local authority.

Vectorised: each distinct location is located once per layer with :class:`geo._pip.PolygonIndex`, so a table of
a million rows drawn from a few thousand postcodes costs what those few thousand points cost. Points outside the
place keep their row, get empty tags and ``outside_<place> = True``. A point exactly on a boundary goes to the
polygon with the lowest GSS code, so the answer never depends on file order.

The local authority (``la_code``, ``la_name``) of a row located by a full postcode is ONSPD's ``laua``; of a row
located by a sector or district, the one authority the whole area lies in. A partial postcode whose area straddles
the place's boundary is never claimed inside: its tags stay empty and ``outside_<place>`` is unknown (<NA>). Rows
located by coordinates inside the place get the place's own code; outside it, the authority of the place's
``local_authorities`` layer that holds the point, where the place has that layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo import boundaries
from geo._columns import text_column
from geo._pip import PolygonIndex
from geo.place import Place, PlaceError, load_place
from geo.postcodes import PostcodeKind, local_authority_names, postcode_table
from geo.projection import to_bng

__all__ = ["LA_COLUMNS", "TAG_COLUMNS", "tag", "tag_columns"]

#: Tag columns, in output order, before the ``outside_<place>`` flag.
TAG_COLUMNS = ("ward_code", "ward_name", "neighbourhood", "lsoa_code", "lsoa_name", "imd_rank", "imd_decile",
               "lsoa_population", "pcn_code", "pcn_name")
#: Local-authority columns, after :data:`TAG_COLUMNS` (kept apart: the store's schema does not hold them yet).
LA_COLUMNS = ("la_code", "la_name")

_PARTIAL_METHODS = {"postcode_sector": PostcodeKind.SECTOR, "postcode_district": PostcodeKind.DISTRICT}


def tag_columns(place: Place | None = None) -> tuple[str, ...]:
    """All columns :func:`tag` adds for ``place``, including ``outside_<slug>``."""
    place = place if place is not None else load_place()
    return (*TAG_COLUMNS, *LA_COLUMNS, place.outside_column)


@dataclass(frozen=True)
class _Layer:
    index: PolygonIndex
    attributes: pd.DataFrame  # one row per polygon, same order as the index; last row is all-missing


def _layer(layer: boundaries.ProjectedLayer, key: str, columns: dict[str, str],
           definition: pd.DataFrame | None = None) -> _Layer:
    """``layer`` sorted by ``key``, its ``columns`` renamed; ``definition`` (joined on ``key``) adds columns."""
    frame = layer.attributes
    if definition is not None:
        frame = frame.merge(definition, on=key, how="left")  # a left merge keeps the layer's row order
    order = np.argsort(frame[key].to_numpy(dtype=object), kind="stable")
    attributes = frame[list(columns)].iloc[order].rename(columns=columns).reset_index(drop=True).convert_dtypes()
    # The extra last row, all <NA>, is what unlocated and outside points point at.
    attributes = attributes.reindex(range(len(attributes) + 1))
    return _Layer(PolygonIndex(layer.geometry[order]), attributes)


@lru_cache(maxsize=8)
def _layers(place: Place) -> dict[str, _Layer]:
    definition = boundaries.neighbourhood_definition(place)[["ward_code", "neighbourhood"]]
    return {
        "ward": _layer(boundaries.projected(place, "wards"), "ward_code",
                       {"ward_code": "ward_code", "ward_name": "ward_name", "neighbourhood": "neighbourhood"},
                       definition),
        "lsoa": _layer(boundaries.projected(place, "lsoas"), "lsoa_code",
                       {"lsoa_code": "lsoa_code", "lsoa_name": "lsoa_name", "imd_rank": "imd_rank",
                        "imd_decile": "imd_decile", "population_2024": "lsoa_population"}),
        "pcn": _layer(boundaries.projected(place, "pcn_footprints"), "pcn_code",
                      {"pcn_code": "pcn_code", "pcn_name": "pcn_name"}),
    }


@lru_cache(maxsize=8)
def _local_authority_layer(place: Place) -> tuple[PolygonIndex, NDArray[np.object_]] | None:
    """The place's neighbouring authorities (its own polygon left out: the wards decide "inside"), if it has them."""
    if "local_authorities" not in place.layers:
        return None
    try:
        layer = boundaries.projected(place, "local_authorities")
    except PlaceError:
        return None
    codes = layer.attributes["la_code"].to_numpy(dtype=object)
    keep = np.flatnonzero(codes != place.la_code)
    keep = keep[np.argsort(codes[keep], kind="stable")]
    return PolygonIndex(layer.geometry[keep]), codes[keep]


def _postcode_authorities(frame: pd.DataFrame, place: Place, located: NDArray[np.bool_]
                          ) -> tuple[NDArray[np.int32], NDArray[np.bool_], NDArray[np.bool_]]:
    """Per row: the ONSPD authority of its postcode / area (index into the national ``la_codes``; -1 where not by
    postcode or straddling), whether a partial postcode's area straddles the place's boundary, and whether it lies
    wholly outside the place."""
    n = len(frame)
    la = np.full(n, -1, dtype=np.int32)
    straddles = np.zeros(n, dtype=bool)
    elsewhere = np.zeros(n, dtype=bool)
    if "geocode_method" not in frame.columns or "postcode_normalised" not in frame.columns:
        return la, straddles, elsewhere
    # Factorised once (Arrow-backed text): a million rows share a few thousand postcodes and ten methods.
    method_codes, methods = pd.factorize(frame["geocode_method"])
    postcode_codes, postcodes = pd.factorize(frame["postcode_normalised"])
    postcodes = np.asarray(postcodes, dtype=object)
    table = postcode_table(place)
    position = {code: i for i, code in enumerate(table.national.la_codes)}
    for name, kind in (("postcode", PostcodeKind.FULL), *_PARTIAL_METHODS.items()):
        if name not in methods:
            continue
        rows = np.flatnonzero(located & (method_codes == methods.get_loc(name)))
        if rows.size == 0:
            continue
        codes = postcode_codes[rows]
        used = np.flatnonzero(np.bincount(codes, minlength=len(postcodes)))  # no sort: O(rows)
        single = np.full(len(postcodes), -1, dtype=np.int32)
        if kind == PostcodeKind.FULL:
            single[used] = table.unit_authorities(postcodes[used])
            la[rows] = single[codes]
            continue
        members = table.local_authorities(postcodes[used], kind)
        single[used] = [position[m[0]] if len(m) == 1 else -1 for m in members]
        la[rows] = single[codes]
        split = np.zeros(len(postcodes), dtype=bool)
        away = np.zeros(len(postcodes), dtype=bool)
        split[used] = [len(m) > 1 and place.la_code in m for m in members]
        away[used] = [len(m) > 0 and place.la_code not in m for m in members]
        straddles[rows] = split[codes]
        elsewhere[rows] = away[codes]
    return la, straddles, elsewhere


def _distinct(easting: NDArray[np.float64], northing: NDArray[np.float64]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    """Codes of distinct locations (to the decimetre) and the first row of each."""
    key = np.round(easting * 10).astype(np.int64) * 20_000_000 + np.round(northing * 10).astype(np.int64)
    codes, uniques = pd.factorize(key)
    first = np.full(len(uniques), -1, dtype=np.intp)
    first[codes[::-1]] = np.arange(len(codes))[::-1]
    return codes, first


def _take_categorical(attributes: pd.DataFrame, pos: NDArray[np.intp], index: pd.Index) -> pd.DataFrame:
    """``attributes.iloc[pos]`` with the text columns as categoricals of the layer's own values: codes per row and
    no string per row, which is most of the cost of tagging a million rows."""
    codes = np.where(pos == len(attributes) - 1, -1, pos).astype(np.int32)  # the all-missing last row: no value
    columns = {}
    for column, values in attributes.items():
        if pd.api.types.is_string_dtype(values.dtype):
            columns[column] = text_column(codes, [None if pd.isna(v) else str(v) for v in values.iloc[:-1]], index,
                                          categorical=True)
        else:
            columns[column] = pd.Series(values.array.take(pos), index=index)
    return pd.DataFrame(columns, index=index)


def tag(frame: pd.DataFrame, *, place: Place | None = None, categorical: bool = False) -> pd.DataFrame:
    """Add area tags to geocoded rows.

    Parameters
    ----------
    frame
        Rows with ``easting``/``northing`` (BNG) or ``lon``/``lat`` (WGS84) columns, NaN where not located —
        the output of :func:`geo.geocoder.geocode`.
    place
        The place whose layers are used (default: the current place).
    categorical
        Text tags as pandas categoricals (the same values, kept as codes into each layer's few names) instead of
        one string per row: for callers that only write the rows out (the ``geocode`` command), tagging a million
        rows costs a third of a second less, and Arrow's CSV writer takes them as they are.

    Returns
    -------
    pandas.DataFrame
        ``frame`` followed by :func:`tag_columns`, same index and order. ``outside_<place>`` is True for located
        points outside the place, False inside, and missing (<NA>) for rows with no location and for partial
        postcodes whose area straddles the place's boundary. With ``geocode_method`` and ``postcode_normalised``
        (the geocoder's output) the local authority of postcode rows comes from ONSPD.
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
    inside_point = found["ward"] >= 0
    row_inside = np.zeros(len(frame), dtype=bool)
    row_inside[rows] = inside_point[codes]
    postcode_la, straddles, elsewhere = _postcode_authorities(frame, place, located)
    # A partial postcode is never claimed inside unless its whole area is in the place.
    row_inside &= ~straddles & ~elsewhere
    parts = []
    for name, layer in layers.items():
        missing = len(layer.attributes) - 1
        pos = np.full(len(frame), missing)
        pos[rows] = np.where(found[name] >= 0, found[name], missing)[codes]
        pos[~row_inside] = missing
        parts.append(_take_categorical(layer.attributes, pos, frame.index) if categorical
                     else layer.attributes.iloc[pos].set_index(frame.index))
    tags = pd.concat(parts, axis=1)
    vocabulary = [str(code) for code in postcode_table(place).national.la_codes]
    position = {code: i for i, code in enumerate(vocabulary)}
    la_code = postcode_la.copy()
    by_point = located & (la_code < 0) & ~straddles
    la_code[by_point & row_inside] = position.get(place.la_code, -1)
    neighbours = _local_authority_layer(place)
    away = np.flatnonzero(by_point & ~row_inside)
    if neighbours is not None and away.size:
        index, neighbour_codes = neighbours
        hit = index.locate(east[away], north[away])
        la_code[away[hit >= 0]] = [position.get(code, -1) for code in neighbour_codes[hit[hit >= 0]]]
    names = local_authority_names()
    tags["la_code"] = text_column(la_code, vocabulary, frame.index, categorical=True)
    tags["la_name"] = text_column(la_code, [names.get(code) for code in vocabulary], frame.index, categorical=True)
    outside = pd.array(located & ~row_inside, dtype="boolean")
    outside[~located | straddles] = pd.NA
    tags[place.outside_column] = outside
    overlap = [c for c in tags.columns if c in frame.columns]
    return pd.concat([frame.drop(columns=overlap), tags], axis=1)
