"""Polygon clean-up before writing or drawing layers.

Overlaying full-resolution wards with fitted LSOAs and PCN footprints leaves hair-thin parts (``geo.overlap``
repairs the structure but keeps every part so areas add back exactly). Written at GeoJSON's 7 decimals (~1 cm)
such parts collapse into zero-area rings, which QGIS flags and RFC 7946 readers may reject.
:func:`clean_polygons` repairs the structure, snaps to that grid and drops collapsed parts; the areas it changes
are a few m² at most, and the ``area_ha`` columns (computed before, in BNG) are left as they are.
"""

from __future__ import annotations

import geopandas as gpd
import shapely

__all__ = ["clean_polygons"]

#: 1e-7 degrees ≈ 1 cm: the precision GDAL writes RFC 7946 GeoJSON at.
GRID_DEGREES = 1e-7


def clean_polygons(frame: gpd.GeoDataFrame, *, grid: float = GRID_DEGREES) -> gpd.GeoDataFrame:
    """Valid polygons on a ``grid`` (in the frame's units, WGS84 degrees by default), collapsed parts dropped.

    Parameters
    ----------
    frame
        A polygon layer.
    grid
        Grid size to snap to.

    Returns
    -------
    geopandas.GeoDataFrame
        A copy with repaired geometry; non-polygon rows are returned unchanged.
    """
    values = frame.geometry.values
    polygonal = shapely.get_type_id(values) >= 3  # Polygon, MultiPolygon (and collections)
    fixed = values.copy()
    if polygonal.any():
        repaired = shapely.make_valid(values[polygonal], method="structure", keep_collapsed=False)
        fixed[polygonal] = shapely.set_precision(repaired, grid)
    return frame.set_geometry(gpd.GeoSeries(fixed, index=frame.index, crs=frame.crs))
