"""Which points lie within a distance of each other: one spatial-index query, in metres (British National Grid)."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import ArrayLike, NDArray

__all__ = ["pairs_within"]


def pairs_within(easting: ArrayLike, northing: ArrayLike, distance_m: float) -> tuple[NDArray[np.intp],
                                                                                      NDArray[np.intp]]:
    """Every ordered pair of points no more than ``distance_m`` apart (each point is paired with itself too).

    Parameters
    ----------
    easting, northing
        Point coordinates in metres (EPSG:27700); NaN points are never paired.
    distance_m
        The distance (inclusive).

    Returns
    -------
    tuple of numpy.ndarray
        ``(i, j)`` positions, sorted by ``i`` then ``j`` (a shapely ``STRtree`` ``dwithin`` query).
    """
    east = np.asarray(easting, dtype=float)
    north = np.asarray(northing, dtype=float)
    valid = np.isfinite(east) & np.isfinite(north)
    positions = np.flatnonzero(valid)
    points = shapely.points(east[positions], north[positions])
    source, target = shapely.STRtree(points).query(points, predicate="dwithin", distance=distance_m)
    i, j = positions[source], positions[target]
    order = np.lexsort((j, i))
    return i[order], j[order]
