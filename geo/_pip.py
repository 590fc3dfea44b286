"""Fast point-in-polygon location for many points against a partition of polygons."""

from __future__ import annotations

import numpy as np
import shapely
from numpy.typing import NDArray

__all__ = ["PolygonIndex"]


class PolygonIndex:
    """Locate points in a list of polygons; the first polygon (in the order given) wins ties.

    Points exactly on a shared edge lie in both polygons; giving them to the first one in a fixed order (callers
    sort by GSS code) makes the answer deterministic. Testing each polygon's prepared geometry against only the
    points inside its bounding box is several times faster here than ``STRtree.query`` for 10⁵ points.

    Parameters
    ----------
    geometries
        Polygons in the same CRS as the points that will be located.
    """

    def __init__(self, geometries: NDArray[np.object_]) -> None:
        self.geometries = np.asarray(geometries, dtype=object)
        for geometry in self.geometries:
            shapely.prepare(geometry)
        self.bounds = shapely.bounds(self.geometries)

    def locate(self, x: NDArray[np.float64], y: NDArray[np.float64]) -> NDArray[np.int32]:
        """Return, per point, the index of the polygon that contains or touches it, or -1 if none does."""
        found = np.full(len(x), -1, dtype=np.int32)
        open_ = np.ones(len(x), dtype=bool)
        for i, (geometry, (x0, y0, x1, y1)) in enumerate(zip(self.geometries, self.bounds, strict=True)):
            candidates = np.flatnonzero(open_ & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1))
            if candidates.size == 0:
                continue
            hit = candidates[shapely.intersects_xy(geometry, x[candidates], y[candidates])]
            found[hit] = i
            open_[hit] = False
        return found
