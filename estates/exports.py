"""Writing tables, layers and maps for people and other tools.

Two kinds of writer live here:

* :func:`write_table`: any table as CSV, XLSX, GeoJSON (RFC 7946) or GeoPackage (used by ``geocode``, ``ingest``,
  ``pipeline``).
* :func:`export_overlap` and :func:`export_buildings`: the neighbourhood × PCN overlap analysis and the classified
  estate in every format a strategy team asks for — ``html`` (standalone offline interactive map), ``png``/``pdf``
  (print-quality static map), ``gpkg`` (layers ``neighbourhoods``, ``pcns``, ``overlaps``, ``buildings`` for QGIS),
  ``geojson`` (RFC 7946), ``csv`` and ``xlsx`` (matrices, pieces, building lists and a notes sheet). See
  ``docs/overlap.md``. :func:`export_bytes` gives the same files in memory for the app's download buttons.

Safety rules every writer follows:

* spreadsheet formulas are neutralised in CSV/XLSX (a text cell that starts with ``=``, ``+``, ``-``, ``@``, tab or
  CR is prefixed with an apostrophe unless it is a plain number; XLSX cells are also written as strings, never as
  formulas or links);
* nothing is overwritten without ``force``; output paths with control characters are refused, folders are never
  created, and a folder export writes only fixed file names inside the folder given;
* files are written to a temporary name in the target folder and moved into place when complete, so a failed
  export never leaves half a file (or half-replaced GeoPackage) behind.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import re
import sys
import tempfile
import unicodedata
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv

from estates._frames import is_missing
from geo.place import Place, load_place
from geo.projection import BNG, WGS84

if TYPE_CHECKING:  # geopandas is imported where a layer is written: a CSV export never needs it
    import geopandas as gpd

    from estates.analysis.access import AccessAnalysis
    from estates.analysis.filters import Filters

__all__ = [
    "ACCESS_FORMATS",
    "EXPORT_FORMATS",
    "EXPORT_KINDS",
    "VIEW_FORMATS",
    "export_sites",
    "export_view",
    "site_list",
    "view_export_bytes",
    "view_filename",
    "profile_filename",
    "MIME_TYPES",
    "PLAIN_TABLE_FORMATS",
    "TABLE_FORMATS",
    "ExportError",
    "ExportFile",
    "access_export_bytes",
    "access_notes",
    "building_table",
    "check_table_target",
    "export_access",
    "export_buildings",
    "export_bytes",
    "export_filename",
    "export_overlap",
    "export_table",
    "method_notes",
    "neutralise_formulas",
    "resolve_output",
    "safe_filename",
    "table_bytes",
    "to_geodataframe",
    "write_table",
]

TABLE_FORMATS = (".csv", ".xlsx", ".geojson", ".gpkg")
_TABLE_FORMAT_NAMES = tuple(suffix.lstrip(".") for suffix in TABLE_FORMATS)

#: Formats of :func:`export_overlap` and :func:`export_buildings`.
EXPORT_FORMATS: tuple[str, ...] = ("html", "png", "pdf", "gpkg", "geojson", "csv", "xlsx")

#: What can be exported.
EXPORT_KINDS: tuple[str, ...] = ("overlap", "buildings", "sites")

#: MIME type of each export format (for downloads).
MIME_TYPES: dict[str, str] = {
    "html": "text/html",
    "png": "image/png",
    "pdf": "application/pdf",
    "gpkg": "application/geopackage+sqlite3",
    "geojson": "application/geo+json",
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$")
_XLSX_OPTIONS = {"strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False}


class ExportError(Exception):
    """The export cannot be written as asked (exists, unknown format, unwritable); message is for the user."""


# ------------------------------------------------------------------------------------------------ cell safety


def _neutralise(value: object) -> object:
    if isinstance(value, str) and value.startswith(_FORMULA_START) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def _neutralised_column(values: pd.Series) -> pd.Series | None:
    """``values`` with its formula cells prefixed by an apostrophe, or ``None`` when no cell is one.

    Vectorised: the first character of every cell against the trigger characters (Arrow kernels for Arrow-backed
    text), the plain-number test only on the cells that start with one, and a new column only when a cell changes.
    """
    triggered = _formula_starts(values)
    if triggered is None:  # an object column without a single string
        return None
    if not len(triggered):
        return None
    candidates = values.iloc[triggered]
    plain = candidates.str.fullmatch(_PLAIN_NUMBER).to_numpy(dtype=bool, na_value=False)
    if plain.all():
        return None
    out = values.copy()
    out.iloc[triggered[~plain]] = ("'" + candidates[~plain]).to_numpy()
    return out


#: The first UTF-8 byte of a cell that starts with a trigger character (all are ASCII: one byte each).
_FORMULA_BYTES = np.zeros(256, dtype=bool)
_FORMULA_BYTES[[ord(c) for c in _FORMULA_START]] = True


def _formula_starts(values: pd.Series) -> np.ndarray | None:
    """Positions of the cells starting with a trigger character; ``None`` for a column without text.

    For Arrow-backed text, the first byte of every cell is read straight from the array's offsets and data buffers
    (one gather over the column, no new strings); other text goes through ``str[:1]``.
    """
    arrow = values.array.__arrow_array__() if hasattr(values.array, "__arrow_array__") else None
    chunks = arrow.chunks if isinstance(arrow, pa.ChunkedArray) else [arrow]
    if arrow is not None and all(pa.types.is_string(c.type) or pa.types.is_large_string(c.type) for c in chunks):
        found, start = [], 0
        for chunk in chunks:
            _, offsets, data = chunk.buffers()
            offset_type = np.int64 if pa.types.is_large_string(chunk.type) else np.int32
            ends = np.frombuffer(offsets, dtype=offset_type)[chunk.offset:chunk.offset + len(chunk) + 1]
            content = np.frombuffer(data, dtype=np.uint8) if data is not None else np.zeros(0, dtype=np.uint8)
            filled = ends[1:] > ends[:-1]  # a null or empty cell starts with nothing
            hit = np.zeros(len(chunk), dtype=bool)
            hit[filled] = _FORMULA_BYTES[content[ends[:-1][filled]]]
            found.append(np.flatnonzero(hit) + start)
            start += len(chunk)
        return np.concatenate(found) if found else np.zeros(0, dtype=np.intp)
    try:
        first = values.str[:1]
    except AttributeError:
        return None
    return np.flatnonzero(first.isin(_FORMULA_START).to_numpy(dtype=bool, na_value=False))


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return ``frame`` with text cells that cannot run as spreadsheet formulas (CSV/formula injection).

    Only text columns are looked at and only the columns with a formula cell are replaced; ``frame`` itself is left
    unchanged. Column names are neutralised too.
    """
    out = frame.copy(deep=False)
    for position in range(frame.shape[1]):
        values = frame.iloc[:, position]
        fixed = None
        if pd.api.types.is_string_dtype(values.dtype):
            fixed = _neutralised_column(values)
        elif isinstance(values.dtype, pd.CategoricalDtype) and _neutralised_column(
                pd.Series(values.cat.categories, dtype=object)) is not None:
            fixed = _neutralised_column(values.astype(object))
        if fixed is not None:
            out.isetitem(position, fixed)
    out.columns = [_neutralise(str(c)) for c in frame.columns]
    return out


def to_geodataframe(frame: pd.DataFrame, *, lon: str = "lon", lat: str = "lat") -> gpd.GeoDataFrame:
    """Points from ``lon``/``lat`` (WGS84); rows without a location keep an empty (null) geometry."""
    import geopandas as gpd

    x = pd.to_numeric(frame[lon], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    y = pd.to_numeric(frame[lat], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    geometry = gpd.points_from_xy(x, y, crs=WGS84)
    geometry[~(np.isfinite(x) & np.isfinite(y))] = None
    return gpd.GeoDataFrame(frame.drop(columns="geometry", errors="ignore"), geometry=geometry, crs=WGS84)


# ------------------------------------------------------------------------------------------------ paths


def _has_control_characters(text: str) -> bool:
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in text)


def safe_filename(name: str, *, default: str = "export") -> str:
    """A file name safe on every common file system: letters, digits, ``.``, ``-`` and ``_`` only.

    Anything else (spaces, slashes, control characters, quotes …) becomes ``_``; leading dots and separators are
    dropped so the name can neither hide nor climb out of its folder.
    """
    ascii_name = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._-")
    cleaned = re.sub(r"\.{2,}", ".", cleaned)[:120]
    return cleaned or default


def _either(choices: Sequence[str]) -> str:
    """``"a, b or c"``: the choices a message offers."""
    return " or ".join(", ".join(choices).rsplit(", ", 1))


def _check_path_text(path: Path) -> None:
    text = os.fspath(path)
    if not text.strip():
        raise ExportError("the output path is empty")
    if _has_control_characters(text):
        raise ExportError(f"{text!r}: the output path contains control characters; choose another name")
    if path.name in ("", ".", ".."):
        raise ExportError(f"{text}: give a file name, not '{path.name or text}'")


def resolve_output(path: str | os.PathLike[str], fmt: str | None = None, *, folder_ok: bool = False,
                   formats: Sequence[str] = EXPORT_FORMATS, format_option: bool = True) -> tuple[Path, str, bool]:
    """Check an output path and decide the format.

    Parameters
    ----------
    path
        File to write; for ``csv`` with ``folder_ok``, an existing folder (or a path ending in ``/``) to write one
        file per table into.
    fmt
        One of :data:`EXPORT_FORMATS`; ``None`` infers it from the file's extension. A path without an extension
        gets ``.<fmt>`` appended.
    folder_ok
        Whether a folder is acceptable (CSV of the overlap matrices).
    formats
        The formats this export writes (default: all of :data:`EXPORT_FORMATS`); the messages name these.
    format_option
        Whether the command has ``--format`` (a path without an extension is then told to give it).

    Returns
    -------
    (path, fmt, is_folder)

    Raises
    ------
    ExportError
        Control characters, no file name, unknown or mismatched format, a folder where a file is needed, or a
        parent folder that does not exist (folders are never created).
    """
    text = os.fspath(path)
    path = Path(text)
    if _has_control_characters(text):
        raise ExportError(f"{text!r}: the output path contains control characters; choose another name")
    listed, dotted = ", ".join(formats), [f".{f}" for f in formats]
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt not in formats:
            raise ExportError(f"unknown format '{fmt}' (use {listed})")
    is_folder = path.is_dir() or text.endswith(("/", os.sep))
    if is_folder:
        if not folder_ok or (fmt or "csv") != "csv":
            ending = f".{fmt}" if fmt else _either(dotted)
            hint = " (only the overlap CSV export writes into a folder)" if tuple(formats) == EXPORT_FORMATS else ""
            raise ExportError(f"{text} is a folder; give a file name ending {ending}{hint}")
        if not path.is_dir():
            raise ExportError(f"{text}: no such folder (folders are not created)")
        return path, "csv", True
    _check_path_text(path)
    suffix = path.suffix.lower().lstrip(".")
    if fmt is None:
        if not suffix:
            remedy = f"give --format ({listed})" if format_option else f"end the name with {_either(dotted)}"
            raise ExportError(f"{text}: cannot tell the format without an extension; {remedy}")
        if suffix not in formats:
            raise ExportError(f"{text}: unknown output format '.{suffix}' (use {listed})")
        fmt = suffix
    elif not suffix:
        path = path.with_name(f"{path.name}.{fmt}")
    elif suffix != fmt:
        raise ExportError(f"{text}: the extension '.{suffix}' does not match --format {fmt}")
    if not path.parent.is_dir():
        raise ExportError(f"{path.parent}: no such folder (folders are not created)")
    return path, fmt, False


def _write_files(files: Sequence[tuple[Path, Callable[[Path], None]]], *, force: bool) -> list[Path]:
    """Write each file via a temporary name in its folder, then move it into place; refuse to overwrite."""
    for target, _writer in files:
        if target.is_dir():
            raise ExportError(f"{target} is a folder; give a file name")
        if target.exists() and not force:
            raise ExportError(f"{target} exists; use --force to overwrite it")
    written = []
    for target, writer in files:
        try:
            with tempfile.TemporaryDirectory(dir=target.parent, prefix=".export-") as scratch:
                partial = Path(scratch) / target.name
                writer(partial)
                if target.exists() and not force:
                    raise ExportError(f"{target} appeared while exporting; use --force to overwrite it")
                os.replace(partial, target)
        except OSError as exc:
            raise ExportError(f"cannot write {target}: {exc.strerror or exc}") from None
        written.append(target)
    return written


# ------------------------------------------------------------------------------------------------ format writers


def _as_text(values: pd.Series) -> pd.Series:
    """An object column as plain strings (JSON for dicts/lists), missing kept missing."""
    return values.map(lambda v: None if is_missing(v)
                      else json.dumps(v, ensure_ascii=False, default=str) if isinstance(v, dict | list) else str(v))


def _text_columns_for_layers(frame: pd.DataFrame) -> pd.DataFrame:
    """Object columns as plain strings (JSON for dicts/lists) so GDAL drivers accept them.

    Columns that are not ``object`` (numbers, booleans, pandas/Arrow strings) are passed through untouched, and
    ``frame`` is returned as it is when it has no other column.
    """
    objects = [i for i, (name, dtype) in enumerate(frame.dtypes.items())
               if dtype == np.dtype(object) and name != "geometry"]
    if not objects:
        return frame
    out = frame.copy(deep=False)
    for position in objects:
        out.isetitem(position, _as_text(frame.iloc[:, position]))
    return out


def _arrow_column(values: pd.Series) -> pa.Array | pa.ChunkedArray:
    """One column for the CSV writer: as Arrow keeps it, but booleans and times written as pandas wrote them."""
    if isinstance(values.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_dtype(values.dtype):
        values = values.astype("string")  # 2026-01-02 10:00:00+00:00, as before (Arrow would write …00.000000Z)
    try:
        array = pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # mixed objects
        array = None
    if array is None or pa.types.is_nested(array.type):  # dicts and lists as JSON text, mixed values as text
        array = pa.array(_as_text(values), type=pa.string(), from_pandas=True)
    # Dictionary columns (categoricals) stay encoded: Arrow's CSV writer decodes them slice by slice on its threads.
    if pa.types.is_boolean(array.type):
        array = pc.if_else(array, "True", "False")
    return array


def _write_csv(frame: pd.DataFrame, path: Path, *, bom: bool = False) -> None:
    """CSV through Arrow's writer: formulas neutralised, text values quoted, missing values empty (UTF-8, BOM if asked).

    Booleans are written ``True``/``False`` and times as pandas writes them, so files read as they always did.
    """
    table = neutralise_formulas(pd.DataFrame(frame).drop(columns="geometry", errors="ignore"))
    arrow = pa.Table.from_arrays([_arrow_column(table.iloc[:, i]) for i in range(table.shape[1])],
                                 names=[str(c) for c in table.columns])
    # The header as the csv module writes it (quoted only where needed); Arrow would quote every name.
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(arrow.column_names)
    with pa.OSFile(os.fspath(path), "wb") as sink:
        sink.write((codecs.BOM_UTF8 if bom else b"") + header.getvalue().encode("utf-8"))
        _write_csv_rows(arrow, sink)


#: Rows formatted per task by :func:`_write_csv_rows`: about 15 MB of text at typical widths.
_CSV_SLICE_ROWS = 64 * 1024


def _write_csv_rows(table: pa.Table, sink: pa.NativeFile) -> None:
    """``table``'s rows as CSV (no header) into ``sink``, formatted slice by slice on two threads where there are
    the cores for it.

    Arrow's writer formats on one thread and releases the GIL, so two slices formatted side by side take a million
    rows from 1.0 s to 0.8–0.9 s on two cores. At most two slices are held at a time, so memory stays bounded.
    """
    options = pa_csv.WriteOptions(include_header=False, batch_size=64 * 1024)
    if (os.cpu_count() or 1) < 2 or table.num_rows <= _CSV_SLICE_ROWS:
        pa_csv.write_csv(table, sink, write_options=options)
        return

    def format_slice(start: int) -> pa.Buffer:
        text = pa.BufferOutputStream()
        pa_csv.write_csv(table.slice(start, _CSV_SLICE_ROWS), text, write_options=options)
        return text.getvalue()

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="csv") as pool:
        pending: deque[Future[pa.Buffer]] = deque()
        for start in range(0, table.num_rows, _CSV_SLICE_ROWS):
            if len(pending) == 2:
                sink.write(pending.popleft().result())
            pending.append(pool.submit(format_slice, start))
        while pending:
            sink.write(pending.popleft().result())


def _naive_utc(frame: pd.DataFrame) -> pd.DataFrame:
    """Time-zone-aware datetimes as naive UTC (Excel has no time zones; the notes say times are UTC)."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert("UTC").dt.tz_localize(None)
    return out


def _write_xlsx(sheets: Sequence[tuple[str, pd.DataFrame]], path: Path) -> None:
    with pd.ExcelWriter(path, engine="xlsxwriter", engine_kwargs={"options": _XLSX_OPTIONS}) as writer:
        for name, frame in sheets:
            table = neutralise_formulas(_text_columns_for_layers(_naive_utc(
                pd.DataFrame(frame).drop(columns="geometry", errors="ignore"))))
            table.to_excel(writer, sheet_name=name[:31], index=False)
            sheet = writer.sheets[name[:31]]
            sheet.freeze_panes(1, 0)
            for i, column in enumerate(table.columns):
                lengths = [len(str(v)) for v in table[column].head(200).tolist() if not is_missing(v)]
                width = max([len(str(column)), *lengths])
                sheet.set_column(i, i, min(max(width + 2, 8), 60))


def _in_wgs84(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """``frame`` in WGS84 (not reprojected when it already is), polygons repaired for GDAL."""
    from geo.geometry import clean_polygons

    return clean_polygons(frame if frame.crs is not None and frame.crs.equals(WGS84) else frame.to_crs(WGS84))


def _write_geojson(frame: gpd.GeoDataFrame, path: Path) -> None:
    layer = _text_columns_for_layers(_in_wgs84(frame))
    layer.to_file(path, driver="GeoJSON", engine="pyogrio", use_arrow=True,
                  layer_options={"RFC7946": "YES", "WRITE_NAME": "NO"})


def _wkb_points(x: np.ndarray, y: np.ndarray, located: np.ndarray) -> pa.BinaryArray:
    """Little-endian 2D WKB points (byte order 1, type 1, x, y: 21 bytes each), null where not ``located``: the
    bytes ``shapely.to_wkb(shapely.points(x, y))`` gives, written in one numpy pass instead of through a Python
    geometry object per row (a million rows: 1 s)."""
    point = np.zeros(int(located.sum()), dtype=[("order", "u1"), ("type", "<u4"), ("x", "<f8"), ("y", "<f8")])
    point["order"], point["type"], point["x"], point["y"] = 1, 1, x[located], y[located]
    offsets = np.zeros(len(x) + 1, dtype=np.int32)
    np.cumsum(np.where(located, point.dtype.itemsize, 0), out=offsets[1:])
    validity = pa.py_buffer(np.packbits(located, bitorder="little"))
    return pa.BinaryArray.from_buffers(pa.binary(), len(x), [validity, pa.py_buffer(offsets),
                                                             pa.py_buffer(point.tobytes())],
                                       null_count=len(x) - len(point))


def _write_points(frame: pd.DataFrame, path: Path, *, driver: str, layer: str | None = None) -> None:
    """Rows as a point layer from their ``lon``/``lat`` (WGS84; a null geometry where a row has no location) through
    pyogrio's Arrow writer, as geopandas would write ``to_geodataframe(frame)`` — without building the GeoDataFrame:
    a million rows reach GDAL 1.5 s sooner."""
    import pyogrio

    x, y = (pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan) for c in ("lon", "lat"))
    located = np.isfinite(x) & np.isfinite(y)
    attributes = _text_columns_for_layers(pd.DataFrame(frame).drop(columns="geometry", errors="ignore"))
    table = pa.Table.from_pandas(attributes, preserve_index=False)
    for position, field in enumerate(table.schema):  # GDAL has no null type: columns without a value as text
        if pa.types.is_null(field.type):  # (as pyogrio's own writer does)
            text = pa.string()
        elif pa.types.is_dictionary(field.type) and pa.types.is_null(field.type.value_type):  # no categories
            text = pa.dictionary(field.type.index_type, pa.string())
        else:
            continue
        table = table.set_column(position, field.with_type(text), table.column(position).cast(text))
    table = table.append_column("geometry", _wkb_points(x, y, located))
    options = {"RFC7946": "YES", "WRITE_NAME": "NO"} if driver == "GeoJSON" else None
    pyogrio.write_arrow(table, path, layer=layer, driver=driver, geometry_name="geometry",
                        geometry_type="Point" if located.any() else "Unknown", crs=WGS84, layer_options=options)


def _write_gpkg(layers: Sequence[tuple[str, pd.DataFrame]], path: Path) -> None:
    import geopandas as gpd
    import pyogrio

    for name, frame in layers:
        table = _text_columns_for_layers(frame)
        if isinstance(table, gpd.GeoDataFrame):
            _in_wgs84(table).to_file(path, driver="GPKG", layer=name, engine="pyogrio", use_arrow=True,
                                     mode="a" if path.exists() else "w")
        else:
            pyogrio.write_dataframe(table, path, layer=name, driver="GPKG", append=False, use_arrow=True)


def _is_geodataframe(frame: pd.DataFrame) -> bool:
    """True for a GeoDataFrame; a frame made where geopandas was never imported cannot be one."""
    geopandas = sys.modules.get("geopandas")
    return geopandas is not None and isinstance(frame, geopandas.GeoDataFrame)


def check_table_target(path: str | os.PathLike[str], *, force: bool = False,
                       formats: Sequence[str] = _TABLE_FORMAT_NAMES) -> Path:
    """Check that :func:`write_table` can write ``path``, before any work is spent on the rows.

    Commands call this before reading their input, so a mistyped or existing output fails at once rather than after
    a long geocoding run (and a second output never fails after the first was written).

    Parameters
    ----------
    path
        The output file; its extension names the format (``.csv``, ``.xlsx``, ``.geojson``, ``.gpkg``).
    force
        Whether an existing file may be overwritten.
    formats
        The formats this output may have, as :func:`resolve_output` names them (``"csv"``; default: every format
        :func:`write_table` writes).

    Returns
    -------
    Path
        ``path`` as a :class:`~pathlib.Path`.

    Raises
    ------
    ExportError
        What :func:`resolve_output` refuses (control characters, no file name, an extension not in ``formats``, a
        missing parent folder, a folder), or an existing file without ``force``.
    """
    target, _, _ = resolve_output(path, formats=formats, format_option=False)
    if target.exists() and not force:
        raise ExportError(f"{target} exists; use --force to overwrite it")
    return target


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
    path = check_table_target(path, force=force)
    suffix = path.suffix.lower()

    def write(target: Path) -> None:
        if suffix == ".csv":
            _write_csv(frame, target)
        elif suffix == ".xlsx":
            _write_xlsx([("rows", frame)], target)
        elif _is_geodataframe(frame):
            if suffix == ".geojson":
                _write_geojson(frame, target)
            else:
                _write_gpkg([(layer, frame)], target)
        else:
            _write_points(frame, target, driver="GeoJSON" if suffix == ".geojson" else "GPKG",
                          layer=layer if suffix == ".gpkg" else None)

    _write_files([(path, write)], force=force)


# ------------------------------------------------------------------------------------------------ overlap data


@dataclass
class _Overlap:
    """Everything an overlap or buildings export draws on, computed once."""

    place: Place
    sliver_ha: float
    pieces: gpd.GeoDataFrame
    buildings: pd.DataFrame
    tables: dict[str, pd.DataFrame]


def _overlap(place: Place | None, sliver_ha: float, buildings: pd.DataFrame | None) -> _Overlap:
    from estates.analysis.overlap import overlap_tables, pieces_with_estate
    from geo.overlap import overlap_pieces

    if not np.isfinite(sliver_ha) or sliver_ha < 0:
        raise ExportError(f"--sliver-ha must be a number ≥ 0, not {sliver_ha}")
    place = place if place is not None else load_place()
    if buildings is None:
        from estates.estate import current_estate

        buildings = current_estate(place)
    pieces = overlap_pieces(place, sliver_ha=sliver_ha)
    tables = overlap_tables(pieces, buildings, place=place)
    return _Overlap(place=place, sliver_ha=sliver_ha, pieces=pieces_with_estate(pieces, buildings),
                    buildings=buildings, tables=tables)


#: Columns of the building list, first in this order (the rest follow as they come).
_BUILDING_COLUMNS_FIRST = (
    "building_id", "site_id", "name", "partner", "organisation", "partner_type", "status", "status_source",
    "rule_status", "rule_id", "use", "tenure", "tenure_detail", "holding_type", "gia_m2", "land_area_ha",
    "address_line_1", "address_line_2",
    "town", "postcode", "uprn", "lon", "lat", "easting", "northing", "geocode_method", "geocode_precision",
    "geocode_issue", "ward_code", "ward_name", "neighbourhood", "pcn_code", "pcn_name", "piece", "lsoa_code",
    "lsoa_name", "imd_decile", "outcome", "issues",
)
_BUILDING_COLUMNS_DROPPED = ("geometry", "explanation_detail", "rule_detail", "in_piece", "piece_is_sliver")


def building_table(buildings: pd.DataFrame, pieces: pd.DataFrame) -> pd.DataFrame:
    """The building list as exported: useful columns first, each building's ``piece`` (or why it has none).

    Parameters
    ----------
    buildings
        The estate (e.g. :func:`estates.estate.current_estate`).
    pieces
        Pieces from :func:`geo.overlap.overlap_pieces`.
    """
    from estates.analysis.overlap import NOT_IN_PIECE, locate_in_pieces

    located = locate_in_pieces(buildings, pieces)
    piece = (located["neighbourhood"].astype("string").fillna("") + " × "
             + located["pcn_name"].astype("string").fillna(""))
    located["piece"] = piece.where(located["in_piece"].to_numpy(),
                                   NOT_IN_PIECE + " (" + located["not_in_piece_reason"].astype("string") + ")")
    first = [c for c in _BUILDING_COLUMNS_FIRST if c in located.columns]
    rest = [c for c in located.columns if c not in first and c not in _BUILDING_COLUMNS_DROPPED
            and c != "not_in_piece_reason"]
    return pd.DataFrame(located[first + rest]).reset_index(drop=True)


def _context_layers(data: _Overlap) -> list[tuple[str, gpd.GeoDataFrame]]:
    from geo import boundaries
    from geo.overlap import registered_patients_matrix

    place = data.place
    hoods = boundaries.neighbourhoods(place)
    population = boundaries.wards(place).groupby("neighbourhood")["population_2024"].sum()
    hoods = hoods.assign(population_2024=hoods["neighbourhood"].map(population))
    hoods = hoods[["neighbourhood", "wards", "area_ha", "population_2024", "geometry"]]
    pcns = boundaries.pcn_footprints(place)
    pcns = pcns.assign(area_ha=pcns.to_crs(BNG).area / 1e4)
    by_pcn = data.pieces.groupby("pcn_code")["population"].sum()
    patients = registered_patients_matrix(place).sum(axis=0)
    practices = boundaries.gp_practices(place).groupby("pcn_code").size()
    pcns = pcns.assign(population_2024=pcns["pcn_code"].map(by_pcn).round(1),
                       registered_patients=pcns["pcn_name"].map(patients).astype("Int64"),
                       practices=pcns["pcn_code"].map(practices).astype("Int64"))
    keep = ["pcn_code", "pcn_name", "area_ha", "population_2024", "registered_patients", "practices", "geometry"]
    return [("neighbourhoods", hoods), ("pcns", pcns[[c for c in keep if c in pcns.columns]])]


def _gpkg_layers(data: _Overlap) -> list[tuple[str, pd.DataFrame]]:
    from estates.analysis.overlap import tidy_matrices

    buildings = to_geodataframe(building_table(data.buildings, data.pieces))
    return [*_context_layers(data), ("overlaps", data.pieces), ("buildings", buildings),
            ("overlap_matrices", tidy_matrices(data.tables))]


def method_notes(place: Place | None = None, *, sliver_ha: float | None = None,
                 pieces: pd.DataFrame | None = None, buildings: pd.DataFrame | None = None) -> pd.DataFrame:
    """How the overlap figures were made, as a two-column table (``topic``, ``note``) for notes sheets and files.

    Parameters
    ----------
    place
        The place (default: the current place).
    sliver_ha
        The sliver threshold used.
    pieces
        Pieces (to name the slivers).
    buildings
        The estate (to say how many buildings are in no piece, and how many lack a floor area).
    """
    from estates.analysis.overlap import MATRICES, locate_in_pieces
    from geo.overlap import registered_patients_matrix

    place = place if place is not None else load_place()
    notes: list[tuple[str, str]] = [
        ("title", f"{place.name}: neighbourhoods × primary care networks (PCNs) — overlap analysis"),
        ("generated", date.today().isoformat() + " (times in the tables are UTC)"),
        ("geometry", "Every non-empty neighbourhood ∩ PCN footprint, computed in British National Grid "
                     "(EPSG:27700); areas in hectares from BNG. Layers are stored in WGS84 (EPSG:4326). "
                     "Neighbourhoods are dissolved from the 2023 wards; PCN footprints are derived from LSOAs "
                     "(docs/pcn_footprints.md)."),
        ("population", "ONS mid-2024 resident population, apportioned area-weighted: each LSOA's population is "
                       "spread evenly over its area, then the pieces of each ward are scaled so the ward adds up "
                       "to its ONS mid-2024 estimate. Neighbourhood totals therefore equal the ONS ward sums."),
        ("registered patients", "Registered patients (NHS Digital, Jan 2026) of each PCN's member practices, "
                                "counted in the neighbourhood the practice building sits in (not where patients "
                                "live)."),
        ("estate", "Buildings from the partner registers, geocoded and tagged offline, classified key / core / "
                   "surplus / needs data by the rules (or a person's override in the store). A building is in the "
                   "piece its own neighbourhood and PCN tags name; buildings with no location or outside the place "
                   "are counted as 'not in any piece'. Floor area is the registers' gross internal area (GIA); "
                   "buildings without one are counted, never taken as 0."),
    ]
    missing = registered_patients_matrix(place).attrs.get("missing", [])
    if missing:
        notes.append(("registered patients: missing", "No published list size (counted as 0): "
                      + ", ".join(map(str, missing))))
    if sliver_ha is not None:
        text = (f"Pieces smaller than {sliver_ha:g} ha are slivers from boundary mismatch: kept in every total "
                "so areas add back, but not drawn as overlaps.")
        if pieces is not None:
            slivers = pieces[pieces["is_sliver"].astype(bool)]
            names = [f"{r.neighbourhood} × {r.pcn_name} ({r.area_ha:.2f} ha)" for r in slivers.itertuples()]
            text += f" {len(names)} sliver(s): " + ("; ".join(names) if names else "none") + "."
        notes.append(("slivers", text))
    if buildings is not None and pieces is not None:
        located = locate_in_pieces(buildings, pieces)
        reasons = located.loc[~located["in_piece"], "not_in_piece_reason"].value_counts()
        gia = pd.to_numeric(buildings["gia_m2"], errors="coerce")
        notes.append(("estate: counts", f"{len(buildings)} buildings; {int(located['in_piece'].sum())} in a piece; "
                      f"not in any piece: {int(reasons.sum())}"
                      + (" (" + ", ".join(f"{k} {v}" for k, v in reasons.items()) + ")" if len(reasons) else "")
                      + f". {int(gia.isna().sum())} of {len(buildings)} buildings give no floor area."))
    notes += [(f"matrix: {key}", title) for key, title in MATRICES.items()]
    notes += [("attribution", line) for line in place.attribution]
    return pd.DataFrame(notes, columns=["topic", "note"])


def _matrix_sheet(table: pd.DataFrame, *, total_label: str = "Total") -> pd.DataFrame:
    """A wide matrix with row and column totals, neighbourhood as the first column."""
    out = table.copy()
    out.attrs = {}
    out[total_label] = out.sum(axis=1)
    out.loc[total_label] = out.sum(axis=0)
    out.index.name = "neighbourhood"
    out.columns.name = None
    return out.reset_index()


# ------------------------------------------------------------------------------------------------ exports


def export_overlap(
    fmt: str | None,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    place: Place | None = None,
    sliver_ha: float | None = None,
    buildings: pd.DataFrame | None = None,
    filters: Filters | None = None,
) -> list[Path]:
    """Export the neighbourhood × PCN overlap analysis.

    Parameters
    ----------
    fmt
        ``html``, ``png``, ``pdf``, ``gpkg``, ``geojson``, ``csv`` or ``xlsx``; ``None``: from ``path``'s extension.
    path
        The file to write. For ``csv``, an existing folder writes one file per matrix
        (``area_ha.csv`` … with row and column totals), ``pieces.csv`` and ``notes.csv`` into it; a file gets one
        long table (``measure``, ``neighbourhood``, ``pcn_name``, ``value``).
    force
        Overwrite existing files.
    place
        The place (default: the current place).
    sliver_ha
        Pieces smaller than this (hectares) are slivers: not drawn, flagged in tables
        (default :data:`geo.overlap.DEFAULT_SLIVER_HA`).
    buildings
        The estate (default: :func:`estates.estate.current_estate`).
    filters
        The filters that chose ``buildings``: the ``png``/``pdf`` map names them in its subtitle (the geography,
        and so the extent, stays the whole place).

    Returns
    -------
    list of pathlib.Path
        The files written.

    Raises
    ------
    ExportError
        For any problem the user can fix (path, format, existing file, unwritable folder).

    Notes
    -----
    ``html``: standalone interactive map, every asset inlined, opens offline. ``png``/``pdf``: A4 landscape static
    map. ``gpkg``: layers ``neighbourhoods``, ``pcns``, ``overlaps``, ``buildings`` (EPSG:4326, areas computed in
    BNG) and the attribute table ``overlap_matrices``. ``geojson``: the overlap pieces (RFC 7946; slivers included,
    flagged ``is_sliver``). ``xlsx``: one sheet per matrix, ``pieces``, ``buildings_by_partner``,
    ``floor_area_missing`` and ``notes`` (method and attribution).
    """
    from geo.overlap import DEFAULT_SLIVER_HA

    target, fmt, is_folder = resolve_output(path, fmt, folder_ok=True)
    sliver = DEFAULT_SLIVER_HA if sliver_ha is None else float(sliver_ha)
    data = _overlap(place, sliver, buildings)
    return _write_files(_overlap_writers(data, target, fmt, is_folder, filters=filters), force=force)


def _pieces_table(data: _Overlap) -> pd.DataFrame:
    return pd.DataFrame(data.pieces.drop(columns="geometry"))


def _overlap_writers(data: _Overlap, target: Path, fmt: str, is_folder: bool, *,
                     filters: Filters | None = None) -> list[tuple[Path, Callable[[Path], None]]]:
    from estates.analysis.overlap import buildings_by_piece, floor_area_missing_matrix, tidy_matrices

    notes = method_notes(data.place, sliver_ha=data.sliver_ha, pieces=data.pieces, buildings=data.buildings)
    if is_folder:
        files: list[tuple[Path, Callable[[Path], None]]] = [
            (target / f"{safe_filename(key)}.csv", lambda p, t=table: _write_csv(_matrix_sheet(t), p, bom=True))
            for key, table in data.tables.items()
        ]
        files.append((target / "pieces.csv", lambda p: _write_csv(_pieces_table(data), p, bom=True)))
        files.append((target / "notes.csv", lambda p: _write_csv(notes, p, bom=True)))
        return files
    if fmt == "html":
        return [(target, lambda p: _write_html(data, p, title=None))]
    if fmt in ("png", "pdf"):
        return [(target, lambda p: _write_static(data, p, fmt, title=None, filters=filters))]
    if fmt == "gpkg":
        return [(target, lambda p: _write_gpkg(_gpkg_layers(data), p))]
    if fmt == "geojson":
        return [(target, lambda p: _write_geojson(data.pieces, p))]
    if fmt == "csv":
        return [(target, lambda p: _write_csv(tidy_matrices(data.tables), p, bom=True))]

    def xlsx(p: Path) -> None:
        sheets = [(key, _matrix_sheet(table)) for key, table in data.tables.items()]
        if "floor_area_m2" in data.tables:
            missing = floor_area_missing_matrix(data.buildings, place=data.place)
            sheets.append(("floor_area_missing", _matrix_sheet(missing)))
        sheets += [("pieces", _pieces_table(data)),
                   ("buildings_by_partner", buildings_by_piece(data.buildings, data.pieces, by="partner")),
                   ("notes", notes)]
        _write_xlsx(sheets, p)

    return [(target, xlsx)]


def _write_html(data: _Overlap, path: Path, *, title: str | None) -> None:
    from estates.maps.overlap import overlap_map

    m = overlap_map(data.pieces, data.buildings, place=data.place, sliver_ha=data.sliver_ha, title=title)
    path.write_text(m.get_root().render(), encoding="utf-8")


def _write_static(data: _Overlap, path: Path, fmt: str, *, title: str | None, filters: Filters | None = None,
                  fit: bool = False) -> None:
    from estates.maps.static import overlap_figure, render_figure

    figure = overlap_figure(data.pieces, data.buildings, place=data.place, sliver_ha=data.sliver_ha, title=title,
                            filters=filters, fit=fit)
    render_figure(figure, path, fmt=fmt)


def export_buildings(
    fmt: str | None,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    buildings: pd.DataFrame | None = None,
    place: Place | None = None,
    sliver_ha: float | None = None,
    filters: Filters | None = None,
) -> list[Path]:
    """Export the tagged, classified estate: one row (or point) per building.

    Parameters
    ----------
    fmt
        ``html``, ``png``, ``pdf``, ``gpkg``, ``geojson``, ``csv`` or ``xlsx``; ``None``: from ``path``'s extension.
    path
        The file to write.
    force
        Overwrite an existing file.
    buildings
        The estate (default: :func:`estates.estate.current_estate`).
    place
        The place (default: the current place).
    sliver_ha
        Sliver threshold of the pieces drawn under the buildings on maps.
    filters
        The filters that chose ``buildings`` (the app's sidebar): the ``png``/``pdf`` map names them under its title
        and is fitted to their neighbourhoods, PCNs and wards.

    Returns
    -------
    list of pathlib.Path
        The file written.

    Notes
    -----
    ``csv``: the building list (:func:`building_table`). ``xlsx``: sheets ``buildings``, ``by_piece_status``,
    ``by_piece_partner``, ``floor_area_by_piece`` and ``notes``. ``geojson``: building points (RFC 7946; buildings
    without a location have a null geometry). ``gpkg``: the same four layers as :func:`export_overlap`. ``html``,
    ``png``, ``pdf``: the overlap map titled for the estate, buildings coloured by status.
    """
    from estates.analysis.overlap import buildings_by_piece, floor_area_by_piece
    from geo.overlap import DEFAULT_SLIVER_HA

    target, fmt, _ = resolve_output(path, fmt, folder_ok=False)
    data = _overlap(place, DEFAULT_SLIVER_HA if sliver_ha is None else float(sliver_ha), buildings)
    title = f"{data.place.name} estate: buildings by status"
    table = building_table(data.buildings, data.pieces)
    if fmt == "html":
        writer: Callable[[Path], None] = lambda p: _write_html(data, p, title=title)  # noqa: E731
    elif fmt in ("png", "pdf"):
        writer = lambda p: _write_static(data, p, fmt, title=title, filters=filters, fit=True)  # noqa: E731
    elif fmt == "gpkg":
        writer = lambda p: _write_gpkg(_gpkg_layers(data), p)  # noqa: E731
    elif fmt == "geojson":
        writer = lambda p: _write_points(table, p, driver="GeoJSON")  # noqa: E731
    elif fmt == "csv":
        writer = lambda p: _write_csv(table, p, bom=True)  # noqa: E731
    else:
        notes = method_notes(data.place, sliver_ha=data.sliver_ha, pieces=data.pieces, buildings=data.buildings)
        writer = lambda p: _write_xlsx([  # noqa: E731
            ("buildings", table),
            ("by_piece_status", buildings_by_piece(data.buildings, data.pieces)),
            ("by_piece_partner", buildings_by_piece(data.buildings, data.pieces, by="partner")),
            ("floor_area_by_piece", floor_area_by_piece(data.buildings, data.pieces)),
            ("notes", notes),
        ], p)
    return _write_files([(target, writer)], force=force)


#: Columns of the site list that read as people's words first (the rest of :func:`estates.sites.site_table` follows).
_SITE_COLUMNS_FIRST = ("site_id", "name", "status", "status_source", "partners", "partner_count", "record_count",
                       "record_ids")


def site_list(sites: pd.DataFrame) -> pd.DataFrame:
    """The site list as exported: one row per site, ``site_id``, ``name``, ``status``, ``partners`` (occupant
    organisations, "; "-joined), ``record_ids`` ("; "-joined), then the location and tags."""
    first = [c for c in _SITE_COLUMNS_FIRST if c in sites.columns]
    return pd.DataFrame(sites[first + [c for c in sites.columns if c not in first]]).reset_index(drop=True)


def export_sites(
    fmt: str | None,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    sites: pd.DataFrame | None = None,
    place: Place | None = None,
    sliver_ha: float | None = None,
) -> list[Path]:
    """Export the estate's sites: one row (or point) per site, its status, occupants and records.

    Parameters
    ----------
    fmt, path, force, place, sliver_ha
        As :func:`export_buildings`.
    sites
        The sites (default: :func:`estates.estate.current_sites`).

    Returns
    -------
    list of pathlib.Path
        The file written.

    Notes
    -----
    ``csv``/``xlsx``: the site list (:func:`site_list`). ``geojson``/``gpkg``: site points (RFC 7946 / a ``sites``
    layer for QGIS). ``html``, ``png``, ``pdf``: the overlap map titled for the sites, coloured by status.
    """
    from geo.overlap import DEFAULT_SLIVER_HA

    target, fmt, _ = resolve_output(path, fmt, folder_ok=False)
    place = place if place is not None else load_place()
    if sites is None:
        from estates.estate import current_sites

        sites = current_sites(place).sites
    table = site_list(sites)
    if fmt in ("html", "png", "pdf"):
        drawn = table.assign(partner=table["partners"])  # the maps label points by partner
        data = _overlap(place, DEFAULT_SLIVER_HA if sliver_ha is None else float(sliver_ha), drawn)
        title = f"{place.name} estate: sites by status"
        writer: Callable[[Path], None] = ((lambda p: _write_html(data, p, title=title)) if fmt == "html"
                                          else (lambda p: _write_static(data, p, fmt, title=title)))
    elif fmt == "gpkg":
        writer = lambda p: _write_points(table, p, driver="GPKG", layer="sites")  # noqa: E731
    elif fmt == "geojson":
        writer = lambda p: _write_points(table, p, driver="GeoJSON")  # noqa: E731
    elif fmt == "csv":
        writer = lambda p: _write_csv(table, p, bom=True)  # noqa: E731
    else:
        writer = lambda p: _write_xlsx([("sites", table)], p)  # noqa: E731
    return _write_files([(target, writer)], force=force)


@dataclass(frozen=True)
class ExportFile:
    """An export held in memory, for a download button.

    Attributes
    ----------
    name
        Safe file name, e.g. ``trafford-overlap.gpkg``.
    mime
        MIME type.
    data
        The file's bytes.
    """

    name: str
    mime: str
    data: bytes


def export_filename(kind: str, fmt: str, *, place: Place | None = None) -> str:
    """The download name of an export, e.g. ``trafford-overlap.gpkg`` (always a safe file name)."""
    place = place if place is not None else load_place()
    return safe_filename(f"{place.slug}-{kind}") + f".{safe_filename(fmt)}"


def export_bytes(
    kind: str,
    fmt: str,
    *,
    place: Place | None = None,
    sliver_ha: float | None = None,
    buildings: pd.DataFrame | None = None,
    filters: Filters | None = None,
) -> ExportFile:
    """Build an export in memory (written to a private temporary folder, read back, removed).

    Parameters
    ----------
    kind
        ``overlap`` or ``buildings``.
    fmt
        One of :data:`EXPORT_FORMATS` (``csv`` of ``overlap`` is the single long table).
    place, sliver_ha, buildings
        As :func:`export_overlap`.
    filters
        The filters that chose ``buildings``: the ``png``/``pdf`` maps name them in the subtitle; the buildings map
        is fitted to their area (:func:`export_buildings`).

    Returns
    -------
    ExportFile
    """
    if kind not in EXPORT_KINDS:
        raise ExportError(f"unknown export '{kind}' (use {', '.join(EXPORT_KINDS)})")
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown format '{fmt}' (use {', '.join(EXPORT_FORMATS)})")
    place = place if place is not None else load_place()
    name = export_filename(kind, fmt, place=place)
    with tempfile.TemporaryDirectory(prefix="estates-export-") as scratch:
        path = Path(scratch) / name
        if kind == "sites":
            export_sites(fmt, path, place=place, sliver_ha=sliver_ha)
        elif kind == "overlap":
            export_overlap(fmt, path, place=place, sliver_ha=sliver_ha, buildings=buildings, filters=filters)
        else:
            export_buildings(fmt, path, place=place, sliver_ha=sliver_ha, buildings=buildings, filters=filters)
        return ExportFile(name=name, mime=MIME_TYPES[fmt], data=path.read_bytes())


# ------------------------------------------------------------------------------------------------ access

#: Formats of :func:`export_access`.
ACCESS_FORMATS: tuple[str, ...] = ("csv", "xlsx", "png", "pdf")


def access_notes(analysis: AccessAnalysis) -> pd.DataFrame:
    """How the access figures were made, as a two-column table (``topic``, ``note``) for notes sheets and files."""
    from estates.analysis.access import kind_label

    place = analysis.place
    residents = analysis.reached
    notes: list[tuple[str, str]] = [
        ("title", f"{place.name}: access to {kind_label(analysis.kind)}"
                  + (f" — {analysis.neighbourhood} {place.neighbourhood_term}" if analysis.neighbourhood else "")),
        ("generated", date.today().isoformat()),
        ("residents", f"{residents['residents'].sum():,.0f} residents (ONS mid-2024, by LSOA) represented by "
                      f"{len(residents):,} live postcode unit centroids (ONSPD Nov 2025), each sharing its LSOA's "
                      "population equally; no population below LSOA is in the open data."),
        ("sites", f"{len(analysis.facilities):,} sites of the kind: located, current records placed by coordinates "
                  "or full postcode (historic records and sector/district centroids left out unless asked); one "
                  "point per site. "
                  + "; ".join(f"{reason}: {count}" for reason, count in analysis.excluded.items())),
        ("distance", "Straight-line distance in British National Grid (EPSG:27700) metres to the nearest site"
                     + (f", multiplied by a detour factor of {analysis.detour_factor:g} to approximate walking "
                        "distance" if analysis.detour_factor != 1 else "")
                     + ". Not road-network travel time. Sites outside the place are not counted, so residents "
                       "near its edge may have a nearer one across the boundary."),
        ("bands", "within_N_m: residents at or under N metres; median and 90th percentile are population-weighted."),
        ("gap", "gap_score = IMD 2019 score × population-weighted mean distance (km); rank 1 is the largest gap."),
    ]
    if analysis.closed:
        notes.append(("closure", f"Closed: {', '.join(analysis.closed)}"
                      + (f"; merged into {analysis.hub}" if analysis.hub else "")
                      + ". Only residents whose nearest site closed are counted; after_m is the distance to their "
                        "nearest remaining site."))
    notes += [("attribution", line) for line in place.attribution]
    return pd.DataFrame(notes, columns=["topic", "note"])


def _access_default_table(tables: dict[str, pd.DataFrame]) -> str:
    return "closure_by_imd_decile" if "closure_by_imd_decile" in tables else "by_imd_decile"


def export_access(
    analysis: AccessAnalysis,
    fmt: str | None,
    path: str | os.PathLike[str],
    *,
    force: bool = False,
    table: str | None = None,
) -> list[Path]:
    """Export an access analysis (:func:`estates.analysis.access.access_analysis`).

    Parameters
    ----------
    analysis
        The analysis.
    fmt
        ``csv`` (one table), ``xlsx`` (every table and a notes sheet), ``png`` or ``pdf`` (map: rings round the
        sites, the gap LSOAs, closed sites); ``None``: from ``path``'s extension.
    path
        The file to write.
    force
        Overwrite an existing file.
    table
        For ``csv``: which table of :func:`estates.analysis.access.access_tables` (default: ``closure_by_imd_decile``
        when
        sites close, else ``by_imd_decile``).

    Returns
    -------
    list of pathlib.Path
        The file written.
    """
    from estates.analysis.access import access_tables

    target, fmt, _ = resolve_output(path, fmt, formats=ACCESS_FORMATS)
    tables = access_tables(analysis)
    name = table or _access_default_table(tables)
    if name not in tables:
        raise ExportError(f"no table '{name}' (use {', '.join(tables)})")
    if fmt == "csv":
        writer: Callable[[Path], None] = lambda p: _write_csv(tables[name], p, bom=True)  # noqa: E731
    elif fmt == "xlsx":
        writer = lambda p: _write_xlsx([*tables.items(), ("notes", access_notes(analysis))], p)  # noqa: E731
    else:
        def writer(p: Path) -> None:
            from estates.maps.static import access_figure, render_figure

            render_figure(access_figure(analysis), p, fmt=fmt)
    return _write_files([(target, writer)], force=force)


def access_export_bytes(analysis: AccessAnalysis, fmt: str, *, table: str | None = None) -> ExportFile:
    """:func:`export_access` in memory, for a download button (name e.g. ``trafford-access-library.csv``)."""
    if fmt not in ACCESS_FORMATS:
        raise ExportError(f"access exports are {', '.join(ACCESS_FORMATS)}, not {fmt}")
    name = export_filename(f"access-{analysis.kind}" + (f"-{table}" if table else ""), fmt, place=analysis.place)
    with tempfile.TemporaryDirectory(prefix="estates-export-") as scratch:
        path = Path(scratch) / name
        export_access(analysis, fmt, path, table=table)
        return ExportFile(name=name, mime=MIME_TYPES[fmt], data=path.read_bytes())


# ------------------------------------------------------------------------------------------------ plain tables

#: Formats of :func:`export_table`.
PLAIN_TABLE_FORMATS: tuple[str, ...] = ("csv", "xlsx")


def export_table(frame: pd.DataFrame, fmt: str | None, path: str | os.PathLike[str], *, sheet: str = "rows",
                 force: bool = False) -> list[Path]:
    """Write a table people read in a spreadsheet (e.g. the "What changed" feed): CSV or one XLSX sheet.

    Parameters
    ----------
    frame
        The rows, columns named in people's words.
    fmt
        ``csv`` (UTF-8 with a byte-order mark, so Excel reads accents and arrows) or ``xlsx``; ``None``: from
        ``path``'s extension.
    path
        The file to write (never overwritten unless ``force``).
    sheet
        The XLSX sheet's name.
    force
        Overwrite an existing file.

    Returns
    -------
    list of pathlib.Path
        The file written. Text that a spreadsheet would run as a formula is neutralised in both formats.
    """
    target, fmt, _ = resolve_output(path, fmt, formats=PLAIN_TABLE_FORMATS)
    if fmt == "csv":
        writer: Callable[[Path], None] = lambda p: _write_csv(frame, p, bom=True)  # noqa: E731
    else:
        writer = lambda p: _write_xlsx([(sheet, frame)], p)  # noqa: E731
    return _write_files([(target, writer)], force=force)


def table_bytes(frame: pd.DataFrame, fmt: str, *, kind: str, sheet: str = "rows",
                place: Place | None = None) -> ExportFile:
    """:func:`export_table` in memory, for a download button (name e.g. ``trafford-changes.xlsx``)."""
    if fmt not in PLAIN_TABLE_FORMATS:
        raise ExportError(f"tables are written as {' or '.join(PLAIN_TABLE_FORMATS)}, not {fmt}")
    name = export_filename(kind, fmt, place=place)
    with tempfile.TemporaryDirectory(prefix="estates-export-") as scratch:
        path = Path(scratch) / name
        export_table(frame, fmt, path, sheet=sheet)
        return ExportFile(name=name, mime=MIME_TYPES[fmt], data=path.read_bytes())


# ------------------------------------------------------------------------------------------------ a page's view

#: Formats of :func:`export_view`: the map (print and interactive) and the data behind it.
VIEW_FORMATS: tuple[str, ...] = ("png", "pdf", "html", "csv", "xlsx", "geojson", "gpkg")


def _view_notes(sites: pd.DataFrame, *, place: Place, title: str, filters: Filters | None,
                area: tuple[str, str] | None) -> pd.DataFrame:
    from estates.maps._view import subtitle_text, view_area, view_title

    heading = view_title(title, place=place, area=view_area(filters, area))
    notes = [("title", heading),
             ("view", subtitle_text(filters, shown=len(sites),
                                    unlocated=int(pd.to_numeric(sites["lat"], errors="coerce").isna().sum()))),
             ("generated", date.today().isoformat()),
             ("sites", "One row per site (one physical property): its status (a person's decision, else the "
                       "rules'), occupant organisations and register records. The rows are exactly the sites the "
                       "page showed with these filters.")]
    notes += [("attribution", line) for line in place.attribution]
    return pd.DataFrame(notes, columns=["topic", "note"])


def export_view(
    fmt: str | None,
    path: str | os.PathLike[str],
    *,
    sites: pd.DataFrame,
    place: Place | None = None,
    title: str | None = None,
    filters: Filters | None = None,
    area: tuple[str, str] | None = None,
    paper: str = "A4",
    force: bool = False,
) -> list[Path]:
    """Export what a map page shows: its sites as a print map, an offline HTML map, or their data.

    Parameters
    ----------
    fmt
        One of :data:`VIEW_FORMATS`; ``None``: from ``path``'s extension.
    path
        The file to write.
    sites
        The sites the page shows (after its filters): the map's markers and the data's rows, exactly.
    place
        The place (default: the current place).
    title
        The page's title (default "<place> estate: sites by status"); the area's name is added.
    filters
        The filters that chose ``sites``: named in the title/subtitle (maps) and the notes (XLSX); their
        neighbourhoods, PCNs and wards set the maps' extent.
    area
        The page's own area, e.g. ``("neighbourhood", "North")``.
    paper
        ``A4`` or ``A3`` landscape (``png``/``pdf``).
    force
        Overwrite an existing file.

    Returns
    -------
    list of pathlib.Path
        The file written.

    Notes
    -----
    ``png``/``pdf``: :func:`estates.maps.static.sites_figure` (PNG at 200 dpi); ``html``:
    :func:`estates.maps.sites.sites_map`, every asset inlined, with a scale bar; ``csv``: the site list
    (:func:`site_list`); ``xlsx``: sheets ``sites`` and ``notes`` (title, filters, date, attribution);
    ``geojson``/``gpkg``: site points (sites without a location have no geometry; layer ``sites``).
    """
    target, fmt, _ = resolve_output(path, fmt, formats=VIEW_FORMATS)
    place = place if place is not None else load_place()
    title = title or f"{place.name} estate: sites by status"
    table = site_list(sites)
    if fmt in ("png", "pdf"):
        def writer(p: Path) -> None:
            from estates.maps.static import render_figure, sites_figure

            render_figure(sites_figure(sites, place=place, title=title, filters=filters, area=area, paper=paper),
                          p, fmt=fmt)
    elif fmt == "html":
        def writer(p: Path) -> None:
            from estates.maps.sites import sites_map

            m = sites_map(sites, place=place, title=title, filters=filters, area=area)
            p.write_text(m.get_root().render(), encoding="utf-8")
    elif fmt == "gpkg":
        writer = lambda p: _write_points(table, p, driver="GPKG", layer="sites")  # noqa: E731
    elif fmt == "geojson":
        writer = lambda p: _write_points(table, p, driver="GeoJSON")  # noqa: E731
    elif fmt == "csv":
        writer = lambda p: _write_csv(table, p, bom=True)  # noqa: E731
    else:
        notes = _view_notes(sites, place=place, title=title, filters=filters, area=area)
        writer = lambda p: _write_xlsx([("sites", table), ("notes", notes)], p)  # noqa: E731
    return _write_files([(target, writer)], force=force)


def view_filename(name: str, fmt: str, *, area: tuple[str, str] | None = None, place: Place | None = None) -> str:
    """The download name of a page's export, e.g. ``trafford-locality-north.png`` (always a safe file name)."""
    stem = name if area is None else f"{name}-{area[1]}"
    return export_filename(safe_filename(stem.lower().replace(" ", "-")), fmt, place=place)


def profile_filename(area_name: str, fmt: str, *, place: Place | None = None) -> str:
    """The download name of an area's one-page profile, e.g. ``trafford-north-profile.pdf`` (a safe file name)."""
    return view_filename(f"{area_name} profile", fmt, place=place)


def view_export_bytes(
    fmt: str,
    *,
    sites: pd.DataFrame,
    name: str = "map",
    place: Place | None = None,
    title: str | None = None,
    filters: Filters | None = None,
    area: tuple[str, str] | None = None,
    paper: str = "A4",
) -> ExportFile:
    """:func:`export_view` in memory, for a download button (name from :func:`view_filename`)."""
    if fmt not in VIEW_FORMATS:
        raise ExportError(f"map exports are {', '.join(VIEW_FORMATS)}, not {fmt}")
    from estates.maps._view import view_area

    place = place if place is not None else load_place()
    filename = view_filename(name, fmt, area=view_area(filters, area), place=place)
    with tempfile.TemporaryDirectory(prefix="estates-export-") as scratch:
        path = Path(scratch) / filename
        export_view(fmt, path, sites=sites, place=place, title=title, filters=filters, area=area, paper=paper)
        return ExportFile(name=filename, mime=MIME_TYPES[fmt], data=path.read_bytes())
