"""UK postcodes: normalisation, and unit / sector / district centroid and local-authority lookups for all of GB.

A *unit* is a full postcode ("M33 7ZF"); its *sector* drops the last two letters ("M33 7") and its *district* is
the outward code ("M33"). Registers write postcodes in every shape: lower case, no space, stray punctuation,
or only the district. Normalisation is done once per distinct value, so a million rows cost what their few
thousand distinct postcodes cost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cached_property, lru_cache, partial

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from geo._onspd import (
    DISTRICT_DIVISOR,
    SECTOR_DIVISOR,
    NationalPostcodes,
    PostcodeAreas,
    encode_pcd7,
    find_sorted,
    national_postcodes,
    to_pcd7,
)
from geo.place import DATA_DIR, Place, load_place
from geo.projection import to_wgs84

__all__ = [
    "PostcodeKind",
    "normalise_postcode",
    "normalise_postcodes",
    "PostcodeTable",
    "postcode_table",
    "local_authority_names",
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
    distinct = uniques.to_numpy(dtype=object)
    ascii_text = _ascii_text(distinct)
    if ascii_text.any():
        normal[:-1][ascii_text], kinds[:-1][ascii_text] = _normalise_ascii(distinct[ascii_text])
    for i in np.flatnonzero(~ascii_text):  # other characters (and non-text values) one by one, as str.upper sees them
        normal[i], kinds[i] = normalise_postcode(distinct[i])
    normal[-1], kinds[-1] = "", PostcodeKind.EMPTY  # code -1 (missing) indexes the last slot
    return pd.DataFrame({"postcode_normalised": normal[codes], "postcode_kind": kinds[codes]}, index=values.index)


def _ascii_text(values: NDArray[np.object_]) -> NDArray[np.bool_]:
    """Which values are strings of ASCII characters only."""
    return np.fromiter((isinstance(v, str) and v.isascii() for v in values), dtype=bool, count=len(values))


def _normalise_ascii(values: NDArray[np.object_]) -> tuple[NDArray[np.object_], NDArray[np.object_]]:
    """:func:`normalise_postcode` of ASCII strings, through Arrow's string kernels: the same steps on every value at
    once (40,000 distinct spellings: 0.12-0.21 s one by one, 0.05 s here).

    On ASCII, ``str.upper`` and Arrow's ``ascii_upper`` agree, and the characters left after removing those that
    cannot be in a postcode are letters, digits and single spaces; non-ASCII text is left to
    :func:`normalise_postcode`, whose ``str.upper`` turns some letters into others ("ß" into "SS").
    """
    text = pc.ascii_upper(pa.array(values, type=pa.string()))
    text = pc.ascii_trim(pc.replace_substring_regex(pc.replace_substring_regex(text, "[^A-Z0-9 ]+", " "), " +", " "),
                         " ")
    compact = pc.replace_substring(text, " ", "")
    full = _matches(compact, _FULL.pattern)
    sector = ~full & _matches(text, _SECTOR_SPACED.pattern)
    district = ~full & ~sector & _matches(compact, _DISTRICT.pattern)
    empty = np.asarray(pc.equal(pc.binary_length(text), 0))
    spaced = pc.binary_join_element_wise(pc.utf8_slice_codeunits(compact, 0, -3),
                                         pc.utf8_slice_codeunits(compact, -3), " ")
    normal = np.full(len(values), "", dtype=object)
    for chosen, source in ((full, spaced), (sector, text), (district, compact)):
        normal[chosen] = np.asarray(source.filter(pa.array(chosen)).to_pylist(), dtype=object)
    kinds = np.full(len(values), PostcodeKind.INVALID, dtype=object)
    for chosen, kind in ((empty, PostcodeKind.EMPTY), (full, PostcodeKind.FULL), (sector, PostcodeKind.SECTOR),
                         (district, PostcodeKind.DISTRICT)):
        kinds[chosen] = kind
    return normal, kinds


def _matches(text: pa.Array, pattern: str) -> NDArray[np.bool_]:
    """Whether each value matches ``pattern`` through Arrow's RE2 kernel: the postcode patterns are anchored ASCII
    character classes and counts, which RE2 and Python's ``re`` read alike."""
    return np.asarray(pc.match_substring_regex(text, pattern))


#: Length of the inward part of a canonical normalised value of each kind ("7ZF", "7", none).
_INWARD = {PostcodeKind.FULL: 3, PostcodeKind.SECTOR: 1, PostcodeKind.DISTRICT: 0}


class PostcodeTable:
    """Unit, sector and district centroids of every GB postcode, with the place's own postcode table beside them.

    Lookups use the national ONS Postcode Directory (:func:`geo._onspd.national_postcodes`): a postcode outside
    the place is found like any other and carries its local authority. Sector and district centroids are the mean
    of **all** their postcodes, wherever the place's boundary runs.

    Parameters
    ----------
    units
        The place's postcode table (``postcode``, ``la_code``, ``easting``, ``northing``, ``lon``, ``lat`` and,
        where the place has them, ``ward_code`` / ``lsoa_code``); kept as :attr:`units` for builders and checks.
        A function returning it is called when :attr:`units` is first read: lookups never need it, so a command
        that only geocodes does not read the file.
    national
        The national table (default: the installed ONSPD).
    """

    def __init__(self, units: pd.DataFrame | Callable[[], pd.DataFrame],
                 national: NationalPostcodes | None = None) -> None:
        self._units = units
        self.national = national if national is not None else national_postcodes()

    @cached_property
    def units(self) -> pd.DataFrame:
        """The place's postcode table."""
        return self._units() if callable(self._units) else self._units

    def _rows(self, normalised: NDArray[np.object_], kind: str) -> tuple[NDArray[np.intp], PostcodeAreas | None]:
        """Row of each value in the unit table (FULL) or in the sector / district table; -1 where absent."""
        keys = encode_pcd7(to_pcd7(normalised, _INWARD[kind]))
        valid = keys >= 0
        if kind == PostcodeKind.FULL:
            return np.where(valid, self.national.find(keys), -1), None
        areas = self.national.sectors if kind == PostcodeKind.SECTOR else self.national.districts
        divisor = SECTOR_DIVISOR if kind == PostcodeKind.SECTOR else DISTRICT_DIVISOR
        return np.where(valid, find_sorted(areas.keys, keys // divisor), -1), areas

    def locate(self, normalised: NDArray[np.object_], kind: str) -> tuple[NDArray[np.bool_], NDArray[np.float64],
                                                                          NDArray[np.float64], NDArray[np.float64],
                                                                          NDArray[np.float64]]:
        """Look up centroids of normalised postcodes of one kind.

        Returns
        -------
        (found, easting, northing, lon, lat)
            Arrays aligned with ``normalised``; NaN where not found. Sector and district centroids are rounded to
            the metre, longitude/latitude to 6 decimals (0.1 m).
        """
        rows, areas = self._rows(normalised, kind)
        found = rows >= 0
        safe = np.where(found, rows, 0)
        if areas is None:
            east, north = self.national.easting, self.national.northing
        else:
            east, north = np.round(areas.easting), np.round(areas.northing)
        easting = np.where(found, east[safe] if len(east) else np.nan, np.nan).astype(np.float64)
        northing = np.where(found, north[safe] if len(north) else np.nan, np.nan).astype(np.float64)
        lon, lat = np.full(len(rows), np.nan), np.full(len(rows), np.nan)
        if found.any():
            lon[found], lat[found] = (np.round(v, 6) for v in to_wgs84(easting[found], northing[found]))
        return found, easting, northing, lon, lat

    def local_authorities(self, normalised: NDArray[np.object_], kind: str) -> list[tuple[str, ...]]:
        """The local authorities (ONSPD ``laua``) each postcode, sector or district lies in.

        Returns
        -------
        list of tuple of str
            One sorted tuple per value: one code for a unit or an area wholly in one authority, several for an
            area that straddles a boundary, none when not found.
        """
        rows, areas = self._rows(normalised, kind)
        codes = self.national.la_codes
        if areas is None:
            return [(str(codes[self.national.la[r]]),) if r >= 0 else () for r in rows]
        out: list[tuple[str, ...]] = []
        for r in rows:
            if r < 0:
                out.append(())
            elif areas.la[r] >= 0:
                out.append((str(codes[areas.la[r]]),))
            else:
                members = np.unique(self.national.la[areas.start[r]:areas.stop[r]])
                out.append(tuple(str(c) for c in codes[members]))
        return out

    def unit_authorities(self, normalised: NDArray[np.object_]) -> NDArray[np.int32]:
        """Index into ``national.la_codes`` of the authority of each full postcode, -1 where not found (fast path of
        :meth:`local_authorities` for many units)."""
        rows, _ = self._rows(normalised, PostcodeKind.FULL)
        return np.where(rows >= 0, self.national.la[np.maximum(rows, 0)], -1).astype(np.int32)

    def covers_district(self, district: str) -> bool:
        """True when ``district`` is a GB postcode district (so an unknown unit there is terminated or new)."""
        rows, _ = self._rows(np.array([district], dtype=object), PostcodeKind.DISTRICT)
        return bool(rows[0] >= 0)


@lru_cache(maxsize=8)
def postcode_table(place: Place | None = None) -> PostcodeTable:
    """The cached :class:`PostcodeTable` of a place (default: the current place)."""
    place = place if place is not None else load_place()
    path = place.path("tables", "postcodes")  # a missing file is reported now, not at first use
    return PostcodeTable(partial(pd.read_csv, path, dtype={"postcode": str, "ward_code": str, "lsoa_code": str,
                                                          "la_code": str}))


@lru_cache(maxsize=1)
def local_authority_names() -> dict[str, str]:
    """ONS GSS code → name of the local authorities named in ``data/local_authorities.csv`` (see data/README.md);
    a code missing from it has no name to show ("not available"), never a guessed one."""
    path = DATA_DIR / "local_authorities.csv"
    if not path.exists():
        return {}
    table = pd.read_csv(path, dtype=str)
    return dict(zip(table["la_code"], table["la_name"], strict=True))
