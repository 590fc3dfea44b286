"""Coordinate reference systems: WGS84 for storage and the web, British National Grid for metres.

Also detects which CRS a pair of coordinates is in, because registers mix longitude/latitude, swapped
latitude/longitude and eastings/northings, often in the same two columns.
"""

from __future__ import annotations

import threading

import numpy as np
from numpy.typing import ArrayLike, NDArray
from pyproj import Transformer

__all__ = [
    "WGS84",
    "BNG",
    "to_bng",
    "to_wgs84",
    "CoordinateKind",
    "classify_coordinates",
]

WGS84 = "EPSG:4326"
BNG = "EPSG:27700"

# Extents that decide which CRS a coordinate pair is in. They do not overlap, so the answer is unambiguous:
# GB + NI in degrees, and the BNG grid (eastings 1–700 km, northings 1–1300 km).
_LON = (-8.7, 1.8)
_LAT = (49.8, 60.9)
_EASTING = (1_000.0, 700_000.0)
_NORTHING = (1_000.0, 1_300_000.0)


class CoordinateKind:
    """Codes returned by :func:`classify_coordinates`."""

    MISSING = 0
    WGS84 = 1
    SWAPPED = 2  # latitude given as x, longitude as y
    BNG = 3
    INVALID = 4


_PER_THREAD = threading.local()


def _transformer(source: str, target: str) -> Transformer:
    # One transformer per thread: pyproj objects must not be shared between threads (the app geocodes in workers).
    cache = _PER_THREAD.__dict__.setdefault("transformers", {})
    if (source, target) not in cache:
        cache[source, target] = Transformer.from_crs(source, target, always_xy=True)
    return cache[source, target]


def to_bng(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 longitude/latitude to British National Grid easting/northing (metres)."""
    return _transformer(WGS84, BNG).transform(np.asarray(lon, float), np.asarray(lat, float))


def to_wgs84(easting: ArrayLike, northing: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project British National Grid easting/northing to WGS84 longitude/latitude."""
    return _transformer(BNG, WGS84).transform(np.asarray(easting, float), np.asarray(northing, float))


def _within(values: NDArray[np.float64], bounds: tuple[float, float]) -> NDArray[np.bool_]:
    return (values >= bounds[0]) & (values <= bounds[1])


def classify_coordinates(x: ArrayLike, y: ArrayLike) -> NDArray[np.int8]:
    """Say, per row, which CRS an (x, y) pair is in.

    Parameters
    ----------
    x, y
        Numbers as given (NaN where missing).

    Returns
    -------
    numpy.ndarray of int8
        :class:`CoordinateKind` codes: MISSING when either value is NaN, WGS84 for (lon, lat) in Great Britain,
        SWAPPED for (lat, lon), BNG for eastings/northings, INVALID otherwise (e.g. (0, 0)).
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    kind = np.full(x.shape, CoordinateKind.INVALID, dtype=np.int8)
    kind[_within(x, _EASTING) & _within(y, _NORTHING)] = CoordinateKind.BNG
    kind[_within(x, _LAT) & _within(y, _LON)] = CoordinateKind.SWAPPED
    kind[_within(x, _LON) & _within(y, _LAT)] = CoordinateKind.WGS84
    kind[np.isnan(x) | np.isnan(y)] = CoordinateKind.MISSING
    return kind
