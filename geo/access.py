"""Access: how far residents live from the nearest facility, and whose nearest moves how far if some close.

Pure geography: facilities are any points with an id (``facility_id``) and British National Grid coordinates
(``easting``, ``northing``); this module knows nothing about estates.

**Where people live** (:func:`resident_points`). The open data here has no population below LSOA level, so each
LSOA's residents (ONS mid-2024) are represented by its live postcode unit centroids (ONSPD), sharing the LSOA's
population equally. Postcodes new since the LSOA lookup was made are put in their LSOA by point-in-polygon.

**Reach** (:func:`nearest_facilities`). Straight-line distance in metres from each resident point to its nearest and
second-nearest facility, found with a KD-tree (``scipy.spatial.cKDTree``), optionally multiplied by a *detour
factor* to approximate walking distance along streets (1.0, the default, is the straight line; urban walking routes
are typically 1.2–1.4 times it). :func:`reach_summary` turns that into residents within 400 / 800 / 1,600 m and the
population-weighted median and 90th-percentile distance, by any grouping (LSOA, neighbourhood, PCN, IMD decile).

**The access gap** (:func:`access_gap`): LSOAs ranked by deprivation × distance (IMD 2019 score × mean distance of
its residents to the nearest facility, in km), the places where a new or kept facility would do most for inequality.

**What if it closes** (:func:`closure_impact`): remove facilities (or merge them into a hub) and, for the residents
whose nearest facility was one of those closed, how far their new nearest is.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy.spatial import cKDTree

from geo import boundaries
from geo._pip import PolygonIndex
from geo.place import Place, load_place
from geo.postcodes import postcode_table
from geo.projection import BNG

__all__ = [
    "DISTANCE_BANDS_M",
    "RESIDENT_COLUMNS",
    "access_gap",
    "closure_impact",
    "closure_summary",
    "nearest_facilities",
    "reach_summary",
    "resident_points",
    "weighted_quantile",
]

ArrayLikeFloat = Sequence[float] | NDArray[np.float64]

#: Distance bands reported (metres): about 5, 10 and 20 minutes' walk.
DISTANCE_BANDS_M: tuple[float, ...] = (400.0, 800.0, 1600.0)

#: Columns of :func:`resident_points`.
RESIDENT_COLUMNS: tuple[str, ...] = ("postcode", "easting", "northing", "lsoa_code", "lsoa_name", "ward_code",
                                     "neighbourhood", "pcn_code", "pcn_name", "imd_decile", "imd_rank", "imd_score",
                                     "residents")


@lru_cache(maxsize=4)
def _resident_points(place: Place) -> pd.DataFrame:
    table = postcode_table(place).units
    points = table[(table["la_code"] == place.la_code) & table["easting"].notna() & table["northing"].notna()]
    points = points[["postcode", "easting", "northing", "ward_code", "lsoa_code"]].astype(
        {"postcode": "object", "ward_code": "object", "lsoa_code": "object"}).reset_index(drop=True)
    points = points.astype({"easting": float, "northing": float})
    lsoas = boundaries.lsoas(place).sort_values("lsoa_code", ignore_index=True)
    east, north = points["easting"].to_numpy(), points["northing"].to_numpy()
    unknown = points["lsoa_code"].isna().to_numpy()
    if unknown.any():  # postcodes newer than the lookup: their LSOA by point-in-polygon (lowest code wins ties)
        found = PolygonIndex(lsoas.to_crs(BNG).geometry.values).locate(east[unknown], north[unknown])
        codes = np.where(found >= 0, lsoas["lsoa_code"].to_numpy(object)[np.maximum(found, 0)], None)
        points.loc[unknown, "lsoa_code"] = codes
    points = points[points["lsoa_code"].isin(lsoas["lsoa_code"])].reset_index(drop=True)
    stats = lsoas.set_index("lsoa_code")[["lsoa_name", "population_2024", "imd_decile", "imd_rank", "imd_score"]]
    points = points.join(stats, on="lsoa_code")
    # Each LSOA's population shared equally by its postcodes.
    points["residents"] = points["population_2024"] / points.groupby("lsoa_code")["postcode"].transform("size")
    hoods = boundaries.neighbourhood_definition(place).set_index("ward_code")["neighbourhood"]
    points["neighbourhood"] = points["ward_code"].map(hoods)
    pcns = boundaries.pcn_footprints(place).sort_values("pcn_code", ignore_index=True)
    at = PolygonIndex(pcns.to_crs(BNG).geometry.values).locate(points["easting"].to_numpy(),
                                                                 points["northing"].to_numpy())
    for column in ("pcn_code", "pcn_name"):
        values = pcns[column].to_numpy(object)[np.maximum(at, 0)]
        points[column] = pd.Series(np.where(at >= 0, values, None), dtype="object")
    points["imd_decile"] = points["imd_decile"].astype("Int64")
    points["imd_rank"] = points["imd_rank"].astype("Int64")
    return points[list(RESIDENT_COLUMNS)]


def resident_points(place: Place | None = None) -> pd.DataFrame:
    """Where the place's residents live: one point per live postcode unit, with its share of its LSOA's population.

    Parameters
    ----------
    place
        The place (default: the current place).

    Returns
    -------
    pandas.DataFrame
        :data:`RESIDENT_COLUMNS`: the postcode, its centroid (``easting``/``northing``, BNG metres), its LSOA (name,
        IMD 2019 decile, rank and score), ward, neighbourhood, PCN footprint (by point-in-polygon; empty if in
        none) and ``residents``: the LSOA's mid-2024 population divided by its number of postcodes. The
        ``residents`` column adds up to the place's population whenever every LSOA holds a postcode (Trafford's
        139 all do). Cached; a shallow copy is returned.
    """
    return _resident_points(place if place is not None else load_place()).copy(deep=False)


def _check_facilities(facilities: pd.DataFrame) -> tuple[NDArray[np.object_], NDArray[np.float64]]:
    missing = {"facility_id", "easting", "northing"} - set(facilities.columns)
    if missing:
        raise ValueError(f"facilities need columns {sorted(missing)}")
    xy = facilities[["easting", "northing"]].to_numpy(dtype=float, na_value=np.nan)
    ok = np.isfinite(xy).all(axis=1)
    ids = facilities["facility_id"].astype("object").to_numpy()[ok]
    if pd.Index(ids).has_duplicates:
        raise ValueError("facility ids must be unique")
    return ids, xy[ok]


def _check_detour(detour_factor: float) -> float:
    value = float(detour_factor)
    if not np.isfinite(value) or value < 1.0:
        raise ValueError(f"the detour factor must be a number ≥ 1, not {detour_factor!r}")
    return value


def _query(ids: NDArray[np.object_], xy: NDArray[np.float64], points: NDArray[np.float64],
           k: int) -> tuple[NDArray[np.object_], NDArray[np.float64]]:
    """Ids and straight-line distances of the ``k`` nearest facilities of each point (None / NaN when fewer)."""
    out_ids = np.full((len(points), k), None, dtype=object)
    out_d = np.full((len(points), k), np.nan)
    if len(ids) == 0 or len(points) == 0:
        return out_ids, out_d
    distance, index = cKDTree(xy).query(points, k=k)
    distance, index = distance.reshape(len(points), k), index.reshape(len(points), k)
    found = index < len(ids)
    out_ids[found] = ids[index[found]]
    out_d[found] = distance[found]
    return out_ids, out_d


def nearest_facilities(
    residents: pd.DataFrame,
    facilities: pd.DataFrame,
    *,
    detour_factor: float = 1.0,
) -> pd.DataFrame:
    """Each resident point's nearest and second-nearest facility, and how far they are.

    Parameters
    ----------
    residents
        Points with ``easting``/``northing`` (BNG), e.g. :func:`resident_points`.
    facilities
        ``facility_id`` (unique), ``easting``, ``northing``; rows without coordinates are ignored.
    detour_factor
        Multiplies every straight-line distance (≥ 1; 1 is the straight line). A documented stand-in for walking
        distance until a road network is supplied.

    Returns
    -------
    pandas.DataFrame
        ``residents`` with ``nearest_id``, ``nearest_m``, ``second_id``, ``second_m`` added (None / NaN when there
        are fewer facilities). Between exactly equidistant facilities the KD-tree picks one, the same one every
        run.
    """
    factor = _check_detour(detour_factor)
    ids, xy = _check_facilities(facilities)
    points = residents[["easting", "northing"]].to_numpy(dtype=float)
    near_ids, near_d = _query(ids, xy, points, 2)
    out = residents.copy(deep=False)
    out["nearest_id"] = near_ids[:, 0]
    out["nearest_m"] = near_d[:, 0] * factor
    out["second_id"] = near_ids[:, 1]
    out["second_m"] = near_d[:, 1] * factor
    return out


def weighted_quantile(values: ArrayLikeFloat, weights: ArrayLikeFloat, q: float) -> float:
    """The population-weighted ``q`` quantile: the smallest value below or at which ``q`` of the weight lies.

    Examples
    --------
    >>> weighted_quantile([100, 200, 900], [1, 1, 2], 0.5)
    200.0
    """
    result = _grouped_quantiles(np.zeros(len(np.asarray(values)), dtype=np.intp), np.asarray(values, dtype=float),
                                np.asarray(weights, dtype=float), 1, (q,))
    return float(result[0][0])


def _grouped_quantiles(codes: NDArray[np.intp], values: NDArray[np.float64], weights: NDArray[np.float64],
                       groups: int, qs: Sequence[float]) -> list[NDArray[np.float64]]:
    """Weighted quantiles per group (inverted CDF); a missing value counts as infinitely far."""
    values = np.where(np.isnan(values), np.inf, values)
    order = np.lexsort((values, codes))
    c, v, w = codes[order], values[order], weights[order]
    totals = np.bincount(c, weights=w, minlength=groups)
    before = np.concatenate([[0.0], np.cumsum(totals)[:-1]])
    within = np.cumsum(w) - before[c]
    results = []
    for q in qs:
        out = np.full(groups, np.nan)
        reached = np.flatnonzero(within >= q * totals[c] - 1e-9 * np.maximum(totals[c], 1.0))
        group, first = np.unique(c[reached], return_index=True)
        out[group] = v[reached[first]]
        out[~np.isfinite(out)] = np.nan
        results.append(out)
    return results


def _band_label(metres: float) -> str:
    return f"within_{metres:g}_m"


def reach_summary(
    reached: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = None,
    bands: Sequence[float] = DISTANCE_BANDS_M,
    distance: str = "nearest_m",
) -> pd.DataFrame:
    """Residents within each distance band and the population-weighted median / 90th percentile, per group.

    Parameters
    ----------
    reached
        :func:`nearest_facilities` output (``residents`` and the ``distance`` column).
    by
        Column(s) to group by (e.g. ``"lsoa_code"``, ``"neighbourhood"``, ``["neighbourhood", "imd_decile"]``);
        ``None``: one row for everyone. Points whose group is missing form their own group (shown as missing).
    bands
        Distances (metres, ascending).
    distance
        The distance column to summarise.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``postcodes``, ``residents``, ``within_<b>_m`` (residents at or under ``b`` metres, one
        column per band), ``beyond_<last>_m`` (the rest, including residents with no facility at all),
        ``share_within_<b>_m``, ``mean_m``, ``median_m`` and ``p90_m`` (population-weighted).
    """
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    if keys:
        grouped = reached.groupby(keys, dropna=False, sort=True, observed=True)
        codes = grouped.ngroup().to_numpy(dtype=np.intp)
        out = grouped.size().reset_index()[keys]
    else:
        codes = np.zeros(len(reached), dtype=np.intp)
        out = pd.DataFrame(index=range(1))
    n = len(out)
    weights = reached["residents"].to_numpy(dtype=float)
    values = reached[distance].to_numpy(dtype=float, na_value=np.nan)
    out["postcodes"] = np.bincount(codes, minlength=n)
    total = np.bincount(codes, weights=weights, minlength=n)
    out["residents"] = total
    for band in bands:
        out[_band_label(band)] = np.bincount(codes, weights=weights * (values <= band), minlength=n)
    out[f"beyond_{bands[-1]:g}_m"] = total - out[_band_label(bands[-1])]
    for band in bands:
        out[f"share_{_band_label(band)}"] = np.divide(out[_band_label(band)], total, out=np.full(n, np.nan),
                                                      where=total > 0)
    finite = np.isfinite(values)
    weighted = np.bincount(codes[finite], weights=(weights * values)[finite], minlength=n)
    counted = np.bincount(codes[finite], weights=weights[finite], minlength=n)
    out["mean_m"] = np.divide(weighted, counted, out=np.full(n, np.nan), where=counted > 0)
    out["median_m"], out["p90_m"] = _grouped_quantiles(codes, values, weights, n, (0.5, 0.9))
    return out


def access_gap(reached: pd.DataFrame, *, distance: str = "nearest_m") -> pd.DataFrame:
    """LSOAs ranked by deprivation × distance: where a facility would do most for inequality.

    Parameters
    ----------
    reached
        :func:`nearest_facilities` output for the resident points of a place.
    distance
        The distance column (default ``nearest_m``).

    Returns
    -------
    pandas.DataFrame
        One row per LSOA, ``rank`` 1 first: ``lsoa_code``, ``lsoa_name``, ``neighbourhood`` (of most of its
        residents), ``imd_decile``, ``imd_rank``, ``imd_score``, the :func:`reach_summary` columns, and
        ``gap_score`` = IMD 2019 score × population-weighted mean distance in km. Ties go to the more deprived
        (lower IMD rank). LSOAs with no facility in reach at all have no score and come last.
    """
    summary = reach_summary(reached, by="lsoa_code", distance=distance)
    first = reached.groupby("lsoa_code", sort=True).agg(
        lsoa_name=("lsoa_name", "first"), imd_decile=("imd_decile", "first"), imd_rank=("imd_rank", "first"),
        imd_score=("imd_score", "first"))
    hood = (reached.groupby(["lsoa_code", "neighbourhood"])["residents"].sum().reset_index()
            .sort_values(["lsoa_code", "residents", "neighbourhood"], ascending=[True, False, True])
            .drop_duplicates("lsoa_code").set_index("lsoa_code")["neighbourhood"])
    table = summary.join(first, on="lsoa_code")
    table.insert(2, "neighbourhood", table["lsoa_code"].map(hood))
    table["gap_score"] = table["imd_score"] * table["mean_m"] / 1000.0
    table = table.sort_values(["gap_score", "imd_rank", "lsoa_code"], ascending=[False, True, True],
                              na_position="last", ignore_index=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    front = ["rank", "lsoa_code", "lsoa_name", "neighbourhood", "imd_decile", "imd_rank", "imd_score", "gap_score"]
    return table[front + [c for c in table.columns if c not in front]]


def closure_impact(
    reached: pd.DataFrame,
    facilities: pd.DataFrame,
    closed: Iterable[object],
    *,
    hub: pd.DataFrame | None = None,
    detour_factor: float = 1.0,
) -> pd.DataFrame:
    """The residents whose nearest facility closes, and how far their nearest is then.

    Parameters
    ----------
    reached
        :func:`nearest_facilities` output, computed over ``facilities`` with the same ``detour_factor``.
    facilities
        The facilities before the change (``facility_id``, ``easting``, ``northing``).
    closed
        Ids of the facilities that close (or merge into ``hub``).
    hub
        Facilities the closed ones merge into (same columns), added to those left if not already among them;
        ``None``: plain closure.
    detour_factor
        As for :func:`nearest_facilities`.

    Returns
    -------
    pandas.DataFrame
        One row per resident point whose nearest facility was closed: its resident columns, ``closed_id`` (the
        nearest before), ``before_m``, ``after_id`` and ``after_m`` (the nearest of the facilities left, NaN if
        none is left) and ``extra_m``. Points whose nearest stays open are unaffected by a closure and are not
        listed (a hub that is a new point may also become some other residents' nearest: they gain, and are not
        listed either).
    """
    factor = _check_detour(detour_factor)
    gone = set(closed)
    known = set(facilities["facility_id"])
    if unknown := gone - known:
        raise ValueError(f"not among the facilities: {', '.join(sorted(map(str, unknown)))}")
    left = facilities[~facilities["facility_id"].isin(gone)]
    if hub is not None:
        left = pd.concat([left, hub[~hub["facility_id"].isin(left["facility_id"])]], ignore_index=True)
    affected = reached[reached["nearest_id"].isin(gone)]
    ids, xy = _check_facilities(left)
    after_ids, after_d = _query(ids, xy, affected[["easting", "northing"]].to_numpy(dtype=float), 1)
    out = affected.drop(columns=["second_id", "second_m"], errors="ignore").rename(
        columns={"nearest_id": "closed_id", "nearest_m": "before_m"})
    out["after_id"] = after_ids[:, 0]
    out["after_m"] = after_d[:, 0] * factor
    out["extra_m"] = out["after_m"] - out["before_m"]
    return out.reset_index(drop=True)


def closure_summary(
    impact: pd.DataFrame,
    *,
    by: str | Sequence[str] | None = "imd_decile",
    bands: Sequence[float] = DISTANCE_BANDS_M,
) -> pd.DataFrame:
    """:func:`closure_impact` summed by group (default: IMD decile): who loses their nearest, and how far it goes.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns, ``postcodes``, ``residents`` (whose nearest closes), ``before_median_m``,
        ``after_median_m``, ``after_p90_m`` (population-weighted), ``extra_mean_m``, and ``within_<b>_m_after``:
        how many of them still have a facility within each band.
    """
    after = reach_summary(impact, by=by, bands=bands, distance="after_m")
    before = reach_summary(impact, by=by, bands=bands, distance="before_m")
    keys = [] if by is None else [by] if isinstance(by, str) else list(by)
    out = after[keys + ["postcodes", "residents"]].copy()
    out["before_median_m"] = before["median_m"]
    out["after_median_m"] = after["median_m"]
    out["after_p90_m"] = after["p90_m"]
    out["extra_mean_m"] = after["mean_m"] - before["mean_m"]
    for band in bands:
        out[f"{_band_label(band)}_after"] = after[_band_label(band)]
    return out
