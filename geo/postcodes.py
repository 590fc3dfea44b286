"""UK postcodes: normalisation, and unit / sector / district centroid lookups from a place's postcode table.

A *unit* is a full postcode ("M33 7ZF"); its *sector* drops the last two letters ("M33 7") and its *district* is
the outward code ("M33"). Registers write postcodes in every shape: lower case, no space, stray punctuation,
or only the district. Normalisation is done once per distinct value, so a million rows cost what their few
thousand distinct postcodes cost.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from geo.place import Place, load_place

__all__ = [
    "PostcodeKind",
    "normalise_postcode",
    "normalise_postcodes",
    "PostcodeTable",
    "postcode_table",
]

_OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
_FULL = re.compile(rf"^({_OUTWARD})([0-9][A-Z]{{2}})$")
_SECTOR_SPACED = re.compile(rf"^({_OUTWARD}) ([0-9])$")
_DISTRICT = re.compile(rf"^{_OUTWARD}$")
_NOT_POSTCODE_CHARS = re.compile(r"[^A-Z0-9 ]+")


class PostcodeKind:
    """What a normalised value is."""

    EMPTY = "empty"
    FULL = "full"
    SECTOR = "sector"
    DISTRICT = "district"
    INVALID = "invalid"


def normalise_postcode(value: object) -> tuple[str, str]:
    """Normalise one postcode-like value.

    Parameters
    ----------
    value
        Anything a register may hold in its postcode column.

    Returns
    -------
    (normalised, kind)
        ``normalised`` is "M33 7ZF" / "M33 7" / "M33" (empty when invalid); ``kind`` is a :class:`PostcodeKind`.

    Examples
    --------
    >>> normalise_postcode(" m337zf ")
    ('M33 7ZF', 'full')
    >>> normalise_postcode("M33 7")
    ('M33 7', 'sector')
    >>> normalise_postcode("M31.")
    ('M31', 'district')
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "", PostcodeKind.EMPTY
    text = " ".join(_NOT_POSTCODE_CHARS.sub(" ", str(value).upper()).split())
    if not text:
        return "", PostcodeKind.EMPTY
    compact = text.replace(" ", "")
    if match := _FULL.match(compact):
        return f"{match[1]} {match[2]}", PostcodeKind.FULL
    # Without a space "M331" is ambiguous (M33 + sector 1, or M3 3 + 1?); only a spaced "M33 1" is a sector.
    if match := _SECTOR_SPACED.match(text):
        return f"{match[1]} {match[2]}", PostcodeKind.SECTOR
    if _DISTRICT.match(compact):
        return compact, PostcodeKind.DISTRICT
    return "", PostcodeKind.INVALID


def normalise_postcodes(values: pd.Series) -> pd.DataFrame:
    """Vectorised :func:`normalise_postcode` over a column.

    Returns
    -------
    pandas.DataFrame
        Columns ``postcode_normalised`` and ``postcode_kind``, same index as ``values``.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    normal = np.empty(len(uniques) + 1, dtype=object)
    kinds = np.empty(len(uniques) + 1, dtype=object)
    for i, value in enumerate(uniques):
        normal[i], kinds[i] = normalise_postcode(value)
    normal[-1], kinds[-1] = "", PostcodeKind.EMPTY  # code -1 (missing) indexes the last slot
    return pd.DataFrame({"postcode_normalised": normal[codes], "postcode_kind": kinds[codes]}, index=values.index)


@dataclass(frozen=True)
class _Centroids:
    index: pd.Index
    easting: NDArray[np.float64]
    northing: NDArray[np.float64]
    lon: NDArray[np.float64]
    lat: NDArray[np.float64]


class PostcodeTable:
    """Postcode unit, sector and district centroids of a place and its neighbours.

    Parameters
    ----------
    units, sectors, districts
        Tables with ``postcode`` / ``sector`` / ``district`` keys and ``easting``, ``northing``, ``lon``, ``lat``.
    """

    def __init__(self, units: pd.DataFrame, sectors: pd.DataFrame, districts: pd.DataFrame) -> None:
        self.units = units
        self._levels = {
            PostcodeKind.FULL: self._centroids(units, "postcode"),
            PostcodeKind.SECTOR: self._centroids(sectors, "sector"),
            PostcodeKind.DISTRICT: self._centroids(districts, "district"),
        }

    @staticmethod
    def _centroids(frame: pd.DataFrame, key: str) -> _Centroids:
        located = frame.dropna(subset=["easting", "northing"])
        return _Centroids(pd.Index(located[key].astype(str)), located["easting"].to_numpy(float),
                          located["northing"].to_numpy(float), located["lon"].to_numpy(float),
                          located["lat"].to_numpy(float))

    def locate(self, normalised: NDArray[np.object_], kind: str) -> tuple[NDArray[np.bool_], NDArray[np.float64],
                                                                          NDArray[np.float64], NDArray[np.float64],
                                                                          NDArray[np.float64]]:
        """Look up centroids of normalised postcodes of one kind.

        Returns
        -------
        (found, easting, northing, lon, lat)
            Arrays aligned with ``normalised``; NaN where not found.
        """
        level = self._levels[kind]
        pos = level.index.get_indexer(pd.Index(normalised, dtype=object))
        found = pos >= 0
        safe = np.where(found, pos, 0)

        def pick(values: NDArray[np.float64]) -> NDArray[np.float64]:
            return np.where(found, values[safe], np.nan) if len(values) else np.full(len(pos), np.nan)

        return found, pick(level.easting), pick(level.northing), pick(level.lon), pick(level.lat)

    def covers_district(self, district: str) -> bool:
        """True when the table holds the postcodes of ``district`` (so an unknown unit there is terminated/new)."""
        return district in self._levels[PostcodeKind.DISTRICT].index


@lru_cache(maxsize=8)
def postcode_table(place: Place | None = None) -> PostcodeTable:
    """The cached :class:`PostcodeTable` of a place (default: the current place)."""
    place = place if place is not None else load_place()
    units = pd.read_csv(place.path("tables", "postcodes"), dtype={"postcode": str, "ward_code": str,
                                                                   "lsoa_code": str})
    sectors = pd.read_csv(place.path("tables", "postcode_sectors"), dtype={"sector": str})
    districts = pd.read_csv(place.path("tables", "postcode_districts"), dtype={"district": str})
    return PostcodeTable(units, sectors, districts)
