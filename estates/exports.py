"""Writing tables and layers for people and other tools: CSV, XLSX, GeoJSON (RFC 7946) and GeoPackage.

Spreadsheet formulas are neutralised in CSV/XLSX (a cell that starts with ``=``, ``+``, ``-``, ``@``, tab or CR is
prefixed with an apostrophe unless it is a plain number), and nothing is overwritten without ``force``.
"""

from __future__ import annotations

import re
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.projection import WGS84

__all__ = ["ExportError", "TABLE_FORMATS", "neutralise_formulas", "to_geodataframe", "write_table"]

TABLE_FORMATS = (".csv", ".xlsx", ".geojson", ".gpkg")

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")


class ExportError(Exception):
    """The export cannot be written as asked (exists, unknown format, unwritable); message is for the user."""


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells cannot run as spreadsheet formulas (CSV/formula injection)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(_neutralise, na_action="ignore")
    out.columns = [_neutralise(str(c)) for c in out.columns]
    return out


def to_geodataframe(frame: pd.DataFrame, *, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    """Points from ``lon``/``lat`` (WGS84); rows without a location keep an empty (null) geometry."""
    x = frame[lon].to_numpy(dtype=float, na_value=np.nan)
    y = frame[lat].to_numpy(dtype=float, na_value=np.nan)
    geometry = gpd.points_from_xy(x, y, crs=WGS84)
    geometry[~(np.isfinite(x) & np.isfinite(y))] = None
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=WGS84)


def _prepare(path: Path, force: bool) -> str:
    suffix = path.suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise ExportError(f"{path}: unknown output format '{suffix}' (use {', '.join(TABLE_FORMATS)})")
    if path.exists() and not force:
        raise ExportError(f"{path} exists; use --force to overwrite it")
    if not path.parent.exists():
        raise ExportError(f"{path.parent}: no such folder")
    return suffix


def write_table(frame: pd.DataFrame, path: Path, *, force: bool = False, layer: str = "rows") -> None:
    """Write ``frame`` to ``path`` in the format its extension names.

    Parameters
    ----------
    frame
        Rows to write; geospatial formats need ``lon``/``lat`` columns (or a GeoDataFrame).
    path
        ``.csv``, ``.xlsx``, ``.geojson`` or ``.gpkg``.
    force
        Overwrite an existing file.
    layer
        Layer name in a GeoPackage.
    """
    path = Path(path)
    suffix = _prepare(path, force)
    try:
        if suffix == ".csv":
            neutralise_formulas(pd.DataFrame(frame).drop(columns="geometry", errors="ignore")).to_csv(
                path, index=False, encoding="utf-8")
        elif suffix == ".xlsx":
            neutralise_formulas(pd.DataFrame(frame).drop(columns="geometry", errors="ignore")).to_excel(
                path, index=False, engine="xlsxwriter")
        else:
            layer_frame = frame if isinstance(frame, gpd.GeoDataFrame) else to_geodataframe(frame)
            if suffix == ".geojson":
                if path.exists():
                    path.unlink()
                layer_frame.to_crs(WGS84).to_file(path, driver="GeoJSON", engine="pyogrio",
                                                   layer_options={"RFC7946": "YES", "WRITE_NAME": "NO"})
            else:
                layer_frame.to_file(path, driver="GPKG", layer=layer, engine="pyogrio",
                                    mode="w" if force else "a")
    except OSError as exc:
        raise ExportError(f"cannot write {path}: {exc.strerror or exc}") from None
