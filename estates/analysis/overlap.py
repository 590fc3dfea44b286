"""What estate sits in each neighbourhood × PCN piece: building counts and floor area per piece and as matrices.

The geometry, areas and population of the pieces come from :mod:`geo.overlap`; this module adds the estate. A
building belongs to the piece named by its own location tags, ``(neighbourhood, pcn_code)`` — the same point-in-polygon
tags every page shows (:func:`geo.tagging.tag`), so counts here agree with the building lists. Buildings with no
location, or located outside the place, belong to no piece: they are counted on their own row
(:data:`NOT_IN_PIECE`), never dropped. Floor area (``gia_m2``) is summed where a register gives it; buildings
without it are counted and reported, never taken as 0.

All functions take a plain DataFrame of buildings — e.g. :func:`estates.estate.current_estate` — with columns
``building_id``, ``partner``, ``status`` (key / core / surplus / needs data), ``gia_m2``, ``lon``, ``lat``,
``neighbourhood``, ``pcn_code`` and ``pcn_name``.
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
import pandas as pd

from estates.schema import STATUSES
from geo import boundaries
from geo.overlap import overlap_matrix, registered_patients_matrix
from geo.place import Place, load_place

__all__ = [
    "MATRICES",
    "NOT_IN_PIECE",
    "building_matrix",
    "buildings_by_piece",
    "floor_area_by_piece",
    "floor_area_matrix",
    "floor_area_missing_matrix",
    "locate_in_pieces",
    "overlap_tables",
    "pieces_with_estate",
    "status_slug",
    "tidy_matrices",
]

#: Label of the row holding buildings that are in no piece (not located, or outside the place).
NOT_IN_PIECE = "not in any piece"

#: The neighbourhood × PCN matrices of :func:`overlap_tables`: key → readable title.
MATRICES: dict[str, str] = {
    "area_ha": "Area (ha)",
    "population": "Resident population, mid-2024 (apportioned from LSOAs)",
    "registered_patients": "Registered patients of the PCN's practices, by the practice's neighbourhood",
    "buildings": "Buildings (all statuses)",
    "floor_area_m2": "Floor area, GIA m² (buildings that give one)",
}

_PIECE_KEY = ["neighbourhood", "pcn_code"]


def status_slug(status: str) -> str:
    """Column-name form of a status: ``"needs data"`` → ``"needs_data"``."""
    return str(status).replace(" ", "_")


def _text(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(pd.NA, index=frame.index, dtype="string")
    return frame[column].astype("string")


def _located(frame: pd.DataFrame) -> np.ndarray:
    if "lon" not in frame.columns or "lat" not in frame.columns:
        return np.zeros(len(frame), bool)
    lon = pd.to_numeric(frame["lon"], errors="coerce")
    lat = pd.to_numeric(frame["lat"], errors="coerce")
    return (lon.notna() & lat.notna()).to_numpy()


def _tagged(frame: pd.DataFrame, pcn_column: str) -> np.ndarray:
    return (_text(frame, "neighbourhood").notna() & _text(frame, pcn_column).notna()).to_numpy()


def locate_in_pieces(buildings: pd.DataFrame, pieces: pd.DataFrame) -> pd.DataFrame:
    """Say which piece each building is in, or why it is in none.

    Parameters
    ----------
    buildings
        Buildings with ``lon``, ``lat``, ``neighbourhood``, ``pcn_code`` (tags from :func:`geo.tagging.tag`).
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`.

    Returns
    -------
    pandas.DataFrame
        A copy of ``buildings`` (same index and order) with ``in_piece`` (bool), ``piece_is_sliver`` (bool) and
        ``not_in_piece_reason``: ``""`` when in a piece, else ``"not located"`` (no coordinates), ``"outside the
        place"`` (located but untagged: outside the boundary) or ``"tags match no piece"`` (should not happen
        with tags and pieces from the same layers; reported rather than hidden).
    """
    out = buildings.copy()
    located, tagged = _located(out), _tagged(out, "pcn_code")
    hood = _text(out, "neighbourhood")
    code = _text(out, "pcn_code")
    known = pd.MultiIndex.from_frame(pd.DataFrame(pieces[_PIECE_KEY]).astype("str"))
    slivers = dict(zip(known, pieces["is_sliver"].astype(bool), strict=True))
    keys = list(zip(hood.fillna("").astype(str), code.fillna("").astype(str), strict=True))
    matched = np.fromiter((k in slivers for k in keys), bool, count=len(keys))
    in_piece = located & tagged & matched
    reason = np.where(in_piece, "", np.where(~located, "not located",
                                             np.where(~tagged, "outside the place", "tags match no piece")))
    out["in_piece"] = in_piece
    out["piece_is_sliver"] = np.fromiter((slivers.get(k, False) for k in keys), bool, count=len(keys)) & in_piece
    out["not_in_piece_reason"] = pd.Series(reason, index=out.index, dtype="str")
    return out


def _categories(values: pd.Series, by: str) -> list[str]:
    if by == "status":
        extra = sorted(set(values.dropna().astype(str)) - set(STATUSES))
        return [*STATUSES, *extra]
    return sorted(values.dropna().astype(str).unique())


def _per_piece(buildings: pd.DataFrame, pieces: pd.DataFrame, by: str, value: str | None) -> pd.DataFrame:
    located = locate_in_pieces(buildings, pieces)
    groups = _text(located, by).fillna("(none)")
    categories = _categories(groups, by)
    if "(none)" in set(groups):
        categories.append("(none)")
    hood = _text(located, "neighbourhood").where(located["in_piece"], NOT_IN_PIECE)
    code = _text(located, "pcn_code").where(located["in_piece"], "")
    keyed = pd.DataFrame({"neighbourhood": hood.astype(str), "pcn_code": code.fillna("").astype(str),
                          "category": groups.astype(str)})
    if value is None:
        keyed["value"] = 1.0
    else:
        keyed["value"] = pd.to_numeric(located[value], errors="coerce").to_numpy()
    table = keyed.pivot_table(index=_PIECE_KEY, columns="category", values="value", aggfunc="sum",
                              fill_value=0, observed=True)
    rows = pd.DataFrame(pieces[["neighbourhood", "pcn_code", "pcn_name", "is_sliver"]]).astype(
        {"neighbourhood": "str", "pcn_code": "str", "pcn_name": "str"})
    rows = pd.concat([rows, pd.DataFrame({"neighbourhood": [NOT_IN_PIECE], "pcn_code": [""], "pcn_name": [""],
                                          "is_sliver": [False]})], ignore_index=True)
    index = pd.MultiIndex.from_frame(rows[_PIECE_KEY])
    table = table.reindex(index=index, columns=categories, fill_value=0).fillna(0)
    table.columns = [str(c) for c in table.columns]
    result = pd.concat([rows.reset_index(drop=True), table.reset_index(drop=True)], axis=1)
    result["total"] = table.sum(axis=1).to_numpy()
    result.columns.name = None
    return result


def buildings_by_piece(buildings: pd.DataFrame, pieces: pd.DataFrame, *, by: str = "status") -> pd.DataFrame:
    """Count buildings in each piece, split by status (or partner, or any column).

    Parameters
    ----------
    buildings
        The estate (see the module docstring).
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`.
    by
        Column to split the counts by: ``"status"`` (columns in :data:`estates.schema.STATUSES` order),
        ``"partner"``, ``"partner_type"`` …; missing values count as ``"(none)"``.

    Returns
    -------
    pandas.DataFrame
        One row per piece in ``pieces`` order (``neighbourhood``, ``pcn_code``, ``pcn_name``, ``is_sliver``), then
        one row with ``neighbourhood`` = :data:`NOT_IN_PIECE` for buildings not located or outside the place; one
        integer column per value of ``by``, and ``total``. The totals add up to ``len(buildings)``.
    """
    table = _per_piece(buildings, pieces, by, None)
    counts = [c for c in table.columns if c not in ("neighbourhood", "pcn_code", "pcn_name", "is_sliver")]
    return table.astype(dict.fromkeys(counts, np.int64))


def floor_area_by_piece(buildings: pd.DataFrame, pieces: pd.DataFrame, *, by: str = "status") -> pd.DataFrame:
    """Sum floor area (``gia_m2``) in each piece by status; count the buildings that give none.

    Returns
    -------
    pandas.DataFrame
        Rows as :func:`buildings_by_piece`; one column of m² per value of ``by``, ``total`` (m²), and
        ``without_floor_area``: how many of the piece's buildings have no ``gia_m2`` (not in the sums).
    """
    table = _per_piece(buildings, pieces, by, "gia_m2")
    missing = buildings.assign(_no_gia=pd.to_numeric(buildings["gia_m2"], errors="coerce").isna())
    lacking = _per_piece(missing[missing["_no_gia"]], pieces, by, None)
    table["without_floor_area"] = lacking["total"].astype(np.int64).to_numpy()
    return table


def _axes(place: Place) -> tuple[list[str], list[str]]:
    hoods = sorted(boundaries.neighbourhood_definition(place)["neighbourhood"].dropna().astype(str).unique())
    pcns = sorted(boundaries.pcn_footprints(place)["pcn_name"].dropna().astype(str).unique())
    return hoods, pcns


def _select(buildings: pd.DataFrame, column: str, wanted: str | Iterable[str] | None) -> pd.DataFrame:
    if wanted is None:
        return buildings
    values = {wanted} if isinstance(wanted, str) else {str(v) for v in wanted}
    return buildings[_text(buildings, column).isin(values).fillna(False).to_numpy()]


def _matrix(buildings: pd.DataFrame, value: str | None, place: Place) -> pd.DataFrame:
    hoods, pcns = _axes(place)
    hood = _text(buildings, "neighbourhood")
    pcn = _text(buildings, "pcn_name")
    keep = _located(buildings) & _tagged(buildings, "pcn_name")
    values = (pd.Series(1.0, index=buildings.index) if value is None
              else pd.to_numeric(buildings[value], errors="coerce"))
    frame = pd.DataFrame({"neighbourhood": hood[keep].astype(str), "pcn_name": pcn[keep].astype(str),
                          "value": values[keep].to_numpy()})
    table = frame.pivot_table(index="neighbourhood", columns="pcn_name", values="value", aggfunc="sum",
                              fill_value=0, observed=True)
    table = table.reindex(index=hoods, columns=pcns, fill_value=0).fillna(0)
    table.index.name, table.columns.name = "neighbourhood", "pcn_name"
    return table


def building_matrix(
    buildings: pd.DataFrame,
    *,
    status: str | Iterable[str] | None = None,
    partner: str | Iterable[str] | None = None,
    place: Place | None = None,
) -> pd.DataFrame:
    """Neighbourhood × PCN count of buildings (4 × 5 for Trafford), optionally of some statuses or partners.

    Parameters
    ----------
    buildings
        The estate (see the module docstring).
    status, partner
        Count only buildings with this status / partner (or one of these).
    place
        The place, for the row and column order (default: the current place).

    Returns
    -------
    pandas.DataFrame
        Integer counts; rows neighbourhoods, columns PCN names, both sorted as :func:`geo.overlap.overlap_matrix`.
        Buildings in no piece are left out; their number is in ``attrs["not_in_any_piece"]``.
    """
    place = place if place is not None else load_place()
    chosen = _select(_select(buildings, "status", status), "partner", partner)
    table = _matrix(chosen, None, place).astype(np.int64)
    table.attrs["not_in_any_piece"] = int(len(chosen) - table.to_numpy().sum())
    return table


def floor_area_matrix(
    buildings: pd.DataFrame,
    *,
    status: str | Iterable[str] | None = None,
    place: Place | None = None,
) -> pd.DataFrame:
    """Neighbourhood × PCN sum of floor area (GIA m²), optionally of some statuses only.

    Buildings with no ``gia_m2`` are not in the sums and are never taken as 0: :func:`floor_area_missing_matrix`
    counts them cell by cell, and the result's ``attrs["without_floor_area"]`` (how many in all) and
    ``attrs["note"]`` say so.

    Parameters
    ----------
    buildings
        The estate (see the module docstring).
    status
        Sum only buildings with this status (or one of these).
    place
        The place, for the row and column order (default: the current place).

    Returns
    -------
    pandas.DataFrame
        Float m²; rows neighbourhoods, columns PCN names.
    """
    place = place if place is not None else load_place()
    chosen = _select(buildings, "status", status)
    table = _matrix(chosen, "gia_m2", place)
    lacking = int(floor_area_missing_matrix(chosen, place=place).to_numpy().sum())
    in_pieces = int(_matrix(chosen, None, place).to_numpy().sum())
    table.attrs["without_floor_area"] = lacking
    table.attrs["note"] = (f"{lacking} of {in_pieces} buildings in the pieces give no floor area (GIA) and are "
                           "not in these sums")
    return table


def floor_area_missing_matrix(
    buildings: pd.DataFrame,
    *,
    status: str | Iterable[str] | None = None,
    place: Place | None = None,
) -> pd.DataFrame:
    """Neighbourhood × PCN count of buildings that give no floor area (``gia_m2`` missing).

    Parameters are as :func:`floor_area_matrix`; the result is an integer matrix of the same shape.
    """
    place = place if place is not None else load_place()
    chosen = _select(buildings, "status", status)
    lacking = chosen[pd.to_numeric(chosen["gia_m2"], errors="coerce").isna().to_numpy()]
    return _matrix(lacking, None, place).astype(np.int64)


def pieces_with_estate(pieces: gpd.GeoDataFrame, buildings: pd.DataFrame | None) -> gpd.GeoDataFrame:
    """The pieces with their estate: building counts and floor area by status, for maps, tooltips and exports.

    Parameters
    ----------
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`.
    buildings
        The estate, or ``None`` for the pieces alone.

    Returns
    -------
    geopandas.GeoDataFrame
        ``pieces`` plus ``buildings``, ``buildings_<status>`` (``buildings_needs_data`` …), ``gia_m2``,
        ``gia_m2_<status>`` and ``buildings_without_gia_m2``; geometry last.
    """
    if buildings is None:
        return pieces.copy()
    counts = buildings_by_piece(buildings, pieces).iloc[:-1]
    areas = floor_area_by_piece(buildings, pieces).iloc[:-1]
    out = pieces.copy()
    out["buildings"] = counts["total"].to_numpy()
    for status in STATUSES:
        out[f"buildings_{status_slug(status)}"] = counts[status].to_numpy()
    out["gia_m2"] = areas["total"].to_numpy()
    for status in STATUSES:
        out[f"gia_m2_{status_slug(status)}"] = areas[status].to_numpy()
    out["buildings_without_gia_m2"] = areas["without_floor_area"].to_numpy()
    return out[[c for c in out.columns if c != "geometry"] + ["geometry"]]


def overlap_tables(
    pieces: pd.DataFrame,
    buildings: pd.DataFrame | None = None,
    *,
    place: Place | None = None,
) -> dict[str, pd.DataFrame]:
    """Every neighbourhood × PCN matrix of :data:`MATRICES`, slivers included so rows and columns add up.

    Parameters
    ----------
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`.
    buildings
        The estate; without it the ``buildings`` and ``floor_area_m2`` matrices are left out.
    place
        The place (default: the current place).

    Returns
    -------
    dict of str to pandas.DataFrame
        Keyed as :data:`MATRICES`, each with neighbourhoods as rows and PCN names as columns.
    """
    place = place if place is not None else load_place()
    tables = {"area_ha": overlap_matrix(pieces, "area_ha"), "population": overlap_matrix(pieces, "population"),
              "registered_patients": registered_patients_matrix(place)}
    if buildings is not None:
        tables["buildings"] = building_matrix(buildings, place=place)
        tables["floor_area_m2"] = floor_area_matrix(buildings, place=place)
    for table in tables.values():
        table.index.name, table.columns.name = "neighbourhood", "pcn_name"
    return tables


def tidy_matrices(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The matrices as one long table: ``measure``, ``neighbourhood``, ``pcn_name``, ``value``.

    Parameters
    ----------
    tables
        From :func:`overlap_tables`.
    """
    parts = []
    for measure, table in tables.items():
        long = table.rename_axis(index="neighbourhood", columns="pcn_name").stack().rename("value").reset_index()
        long.insert(0, "measure", measure)
        parts.append(long)
    out = pd.concat(parts, ignore_index=True)
    out["value"] = out["value"].astype(float)
    return out
