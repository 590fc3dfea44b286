"""Which points lie within a distance of each other: spatial-index queries, in metres (British National Grid)."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = ["pairs_between", "pairs_within"]

Pairs = tuple[NDArray[np.intp], NDArray[np.intp]]


def pairs_between(easting_a: ArrayLike, northing_a: ArrayLike, easting_b: ArrayLike, northing_b: ArrayLike,
                  distance_m: float) -> Pairs:
    """Every pair of a point of set A and a point of set B no more than ``distance_m`` apart.

    Parameters
    ----------
    easting_a, northing_a, easting_b, northing_b
        Point coordinates in metres (EPSG:27700); NaN points are never paired.
    distance_m
        The distance (inclusive).

    Returns
    -------
    tuple of numpy.ndarray
        ``(i, j)``: positions in A and in B, sorted by ``i`` then ``j`` (a shapely ``STRtree`` ``dwithin`` query over
        B). Only pairs that qualify are ever built, so memory follows the answer, not the product of the sets.
    """
    ea, na = np.asarray(easting_a, dtype=float), np.asarray(northing_a, dtype=float)
    eb, nb = np.asarray(easting_b, dtype=float), np.asarray(northing_b, dtype=float)
    pa = np.flatnonzero(np.isfinite(ea) & np.isfinite(na))
    pb = np.flatnonzero(np.isfinite(eb) & np.isfinite(nb))
    if not len(pa) or not len(pb):
        empty = np.zeros(0, dtype=np.intp)
        return empty, empty
    tree = shapely.STRtree(shapely.points(eb[pb], nb[pb]))
    source, target = tree.query(shapely.points(ea[pa], na[pa]), predicate="dwithin", distance=distance_m)
    i, j = pa[source], pb[target]
    order = np.lexsort((j, i))
    return i[order], j[order]


def pairs_within(easting: ArrayLike, northing: ArrayLike, distance_m: float) -> Pairs:
    """Every ordered pair of points of one set no more than ``distance_m`` apart (each point is paired with itself).

    Returns
    -------
    tuple of numpy.ndarray
        ``(i, j)`` positions, sorted by ``i`` then ``j``.
    """
    return pairs_between(easting, northing, easting, northing, distance_m)
