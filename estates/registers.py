"""Read a partner's register file — CSV, XLSX, GeoJSON or GeoPackage — into a raw table with provenance.

Registers arrive messy: CSV in UTF-8, UTF-8 with BOM or Windows-1252, comma/semicolon/tab/pipe separated;
spreadsheets with title rows above the header, merged header cells and several sheets; GeoJSON with polygons.
:func:`read_register` copes with all of these and returns every data row as text (missing cells as NA), with
the row's number in the file so each later message can point the partner at the row to fix. Nothing here
interprets values: column mapping is :mod:`estates.columns`, checks are :mod:`estates.validation`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import math
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from estates._frames import is_missing, map_unique
from estates.columns import recognise_name

__all__ = ["RawRegister", "RegisterError", "read_register", "detect_encoding", "detect_delimiter",
           "find_header_row", "SUPPORTED_SUFFIXES"]

#: File suffixes :func:`read_register` reads (anything else is sniffed by content).
SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".geojson", ".json", ".gpkg")

_DELIMITERS = (",", ";", "\t", "|")
_HEADER_SCAN_ROWS = 30
_SNIFF_BYTES = 256 * 1024
# openpyxl needs the full (slow) mode to see merged cells; beyond this size read values only.
_XLSX_FULL_MODE_MAX_BYTES = 15 * 1024 * 1024

csv.field_size_limit(2**31 - 1)


class RegisterError(ValueError):
    """A register file cannot be read at all (message is one readable line for the user)."""


@dataclass
class RawRegister:
    """A register as read from its file.

    Attributes
    ----------
    frame
        One row per data row, in file order — blank rows inside the data included, so nothing is lost —
        with the header's column names. Cells are trimmed text; empty cells are NA. The index is 0..n-1.
    source_rows
        1-based row number in the file of each row of ``frame`` (header and title rows counted; for GeoJSON and
        GeoPackage, the feature number).
    path, format, sheet
        Where the rows came from; ``sheet`` is the worksheet or layer name (``None`` for CSV).
    encoding, delimiter
        What was detected for a CSV.
    header_row
        1-based row number of the header (``None`` when the file has no header at all).
    geometry
        For GeoJSON/GeoPackage: columns ``x``, ``y`` (WGS84 lon/lat of the point, or of the polygon's
        representative point) and ``footprint_wkt`` (the polygon as WKT, else NA), aligned with ``frame``.
    row_notes
        Per-row reading problems: list of ``(position, code, reason)``.
    notes
        Readable notes about the whole file ("header found on row 3 under 2 title rows", ...).
    """

    frame: pd.DataFrame
    source_rows: np.ndarray
    path: Path
    format: str
    sheet: str | None = None
    encoding: str | None = None
    delimiter: str | None = None
    header_row: int | None = None
    geometry: pd.DataFrame | None = None
    row_notes: list[tuple[int, str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.frame)


# --------------------------------------------------------------------------------------------------- format


def _sniff_format(path: Path, head: bytes) -> str:
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise RegisterError(f"{path.name}: old Excel .xls (or another OLE file) is not supported; "
                            "save it as .xlsx or CSV")
    if head.startswith(b"PK"):
        try:
            with zipfile.ZipFile(path) as archive:
                if any(n.startswith("xl/") for n in archive.namelist()):
                    return "xlsx"
        except zipfile.BadZipFile:
            pass
        raise RegisterError(f"{path.name}: a ZIP archive that is not an Excel workbook")
    if head.startswith(b"SQLite format 3"):
        return "gpkg"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"{") and (b'"type"' in head or b"FeatureCollection" in head):
        return "geojson"
    return "csv"


def _format_of(path: Path, head: bytes) -> str:
    """The format by content (a CSV named ``.xlsx`` is still a CSV); the suffix only sharpens errors."""
    sniffed = _sniff_format(path, head)
    suffix = path.suffix.lower()
    if suffix == ".gpkg" and sniffed != "gpkg":
        raise RegisterError(f"{path.name}: not a GeoPackage (no SQLite header)")
    if suffix in (".geojson", ".json") and sniffed != "geojson":
        raise RegisterError(f"{path.name}: not a GeoJSON FeatureCollection")
    return sniffed


# ------------------------------------------------------------------------------------------------------ CSV


def detect_encoding(data: bytes) -> str:
    """Detect the text encoding of a register's bytes.

    BOMs win (UTF-8, UTF-16); then strict UTF-8; then, because UK registers saved from Excel are almost always
    Windows-1252, that — unless the bytes look like UTF-16 without a BOM, or are not valid Windows-1252, when
    ``charset_normalizer`` decides (``latin-1`` as the last resort: it decodes anything).

    Returns
    -------
    str
        A Python codec name: ``utf-8-sig``, ``utf-8``, ``utf-16``, ``cp1252``, ...
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:_SNIFF_BYTES]
    looks_utf16 = sample.count(b"\x00") > len(sample) // 4
    if not looks_utf16:
        try:
            data.decode("utf-8")
            return "utf-8"
        except UnicodeDecodeError:
            pass
        try:
            data.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            pass
    from charset_normalizer import from_bytes

    best = from_bytes(sample).best()
    if best is not None:
        try:
            data.decode(best.encoding)
            return best.encoding
        except (UnicodeDecodeError, LookupError):
            pass
    return "latin-1"


def detect_delimiter(text: str) -> str:
    """Pick the delimiter (``,`` ``;`` tab ``|``) that splits the first lines into the most consistent columns."""
    lines = [line for line in text[:_SNIFF_BYTES].splitlines()[:200] if line.strip()][:60]
    if not lines:
        return ","
    best, best_score = ",", (0.0, 0)
    for delimiter in _DELIMITERS:
        try:
            counts = [len(row) for row in csv.reader(lines, delimiter=delimiter)]
        except csv.Error:
            continue
        # Title rows have one cell; judge consistency on the multi-cell rows.
        multi = [c for c in counts if c > 1]
        if not multi:
            continue
        mode, hits = Counter(multi).most_common(1)[0]
        score = (hits / len(lines), mode)
        if score > best_score:
            best, best_score = delimiter, score
    return best


def _parse_csv(text: str, delimiter: str) -> tuple[list[list[str]], bool]:
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    widths = Counter(len(r) for r in rows if len(r) > 1)
    width = widths.most_common(1)[0][0] if widths else 1
    # An unbalanced quote makes the csv module swallow following lines into one field; such a field holds line
    # breaks *and* about a row's worth of delimiters. Then read each line on its own, so only that line suffers.
    runaway = any("\n" in cell and cell.count(delimiter) >= max(3, width - 1) for row in rows for cell in row)
    if runaway:
        rows = [next(csv.reader([line], delimiter=delimiter), []) for line in text.splitlines()]
    return rows, runaway


# --------------------------------------------------------------------------------------------------- header


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def find_header_row(rows: list[list[object]], *, scan: int = _HEADER_SCAN_ROWS) -> int | None:
    """Return the 0-based index of the header row among the first ``scan`` rows, or ``None`` if all are blank.

    The header is the row with the most recognised column names (:func:`estates.columns.recognise_name`);
    when no row has two, it is the first row that is as wide as the table and holds text, not numbers —
    so title rows ("Trafford Council asset register 2024") above the header are skipped.
    """
    top = rows[:scan]
    filled = [[str(c).strip() for c in row if c is not None and str(c).strip()] for row in top]
    width = max((len(f) for f in filled), default=0)
    if width == 0:
        return None
    recognised = [len({recognise_name(c) for c in f} - {None}) for f in filled]
    best = max(range(len(top)), key=lambda i: (recognised[i], -i))
    if recognised[best] >= 2:
        return best
    for i, cells in enumerate(filled):
        if len(cells) >= max(1, math.ceil(0.6 * width)) and sum(_is_number(c) for c in cells) <= len(cells) // 4:
            return i
    return next(i for i, cells in enumerate(filled) if cells)


def _header_names(cells: list[object]) -> list[str]:
    names: list[str] = []
    seen: Counter[str] = Counter()
    for i, cell in enumerate(cells):
        name = " ".join(str(cell).split()) if cell is not None else ""
        name = name or f"column_{i + 1}"
        seen[name] += 1
        names.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return names


def _table_from_rows(rows: list[list[object]], first_row_number: int, register: RawRegister,
                     *, header: int | None, sub_header: bool = False) -> None:
    """Fill ``register.frame``/``source_rows`` from parsed rows (cells already text or None)."""
    if header is None:
        register.notes.append("the file has no header and no rows")
        register.frame = pd.DataFrame()
        register.source_rows = np.empty(0, dtype=np.int64)
        return
    header_cells = list(rows[header])
    data_start = header + 1
    if sub_header:
        below = rows[header + 1]
        width = max(len(header_cells), len(below))
        tops = [str(header_cells[i]).strip() if i < len(header_cells) and header_cells[i] is not None else ""
                for i in range(width)]
        subs = [str(below[i]).strip() if i < len(below) and below[i] is not None else "" for i in range(width)]
        counts = Counter(subs)
        # The lower row holds the real names; the merged group above only disambiguates repeated ones
        # ("Line 1" under both "Site address" and "Postal address").
        header_cells = [sub if sub and counts[sub] == 1 else
                        (f"{top} {sub}" if top and sub and top != sub else sub or top)
                        for top, sub in zip(tops, subs, strict=True)]
        data_start += 1
        register.notes.append(f"two-row header (rows {first_row_number + header}-{first_row_number + header + 1}) "
                              "under merged group cells: the lower row's names used")
    register.header_row = first_row_number + header
    if header > 0:
        register.notes.append(f"header found on row {register.header_row} under {header} title row(s)")
    body = rows[data_start:]
    # Trailing blank rows are not data (spreadsheets and editors leave them); blank rows inside the data are
    # kept so validation can report them.
    while body and not any(c is not None and str(c).strip() for c in body[-1]):
        body.pop()
    names = _header_names(header_cells)
    width = len(names)
    spill = 0
    for position, row in enumerate(body):
        filled = [c for c in row[width:] if c is not None and str(c).strip()]
        if filled:
            register.row_notes.append((position, "ragged_row", f"row has {len(filled)} more value(s) than the "
                                                                "header has columns; kept as extra columns"))
            spill = max(spill, len(row) - width)
        elif 1 < len(row) < width and any(c is not None and str(c).strip() for c in row):
            register.row_notes.append((position, "ragged_row", f"row has only {len(row)} of the header's {width} "
                                                                "columns; the rest are missing"))
    names += [f"extra_value_{i + 1}" for i in range(spill)]
    width = len(names)
    matrix = [row if len(row) == width else list(row[:width]) + [None] * (width - len(row)) for row in body]
    frame = pd.DataFrame(matrix, columns=names, dtype=object) if matrix else pd.DataFrame(columns=names,
                                                                                           dtype=object)
    register.frame = _tidy_text(frame)
    register.source_rows = np.arange(len(body), dtype=np.int64) + first_row_number + data_start
    if not body:
        register.notes.append("the file has a header but no data rows")


def _tidy_distinct(values: pd.Series) -> pd.Series:
    text = [str(v).replace("\u00a0", " ").replace("\ufeff", "").strip() for v in values]
    return pd.Series([t if t else None for t in text], dtype=object)


def _tidy_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Trim cells; empty cells become NA. Returns string columns."""
    out = {name: map_unique(frame[name], _tidy_distinct).astype("str") for name in frame.columns}
    return pd.DataFrame(out, index=frame.index, columns=frame.columns)


def _read_csv(path: Path, data: bytes, register: RawRegister, *, encoding: str | None,
              delimiter: str | None) -> None:
    register.encoding = encoding or detect_encoding(data)
    try:
        text = data.decode(register.encoding)
    except (UnicodeDecodeError, LookupError) as exc:
        raise RegisterError(f"{path.name}: cannot decode as {register.encoding}: {exc}") from None
    if register.encoding not in ("utf-8", "utf-8-sig"):
        register.notes.append(f"text decoded as {register.encoding}")
    text = text.lstrip("\ufeff").replace("\x00", "")
    if not text.strip():
        register.notes.append("the file is empty")
        _table_from_rows([], 1, register, header=None)
        return
    register.delimiter = delimiter or detect_delimiter(text)
    if register.delimiter != ",":
        register.notes.append(f"values separated by {_delimiter_name(register.delimiter)}")
    rows, runaway = _parse_csv(text, register.delimiter)
    if runaway:
        register.notes.append("unbalanced quote marks: read line by line, so a value may run on; check ragged rows")
    _table_from_rows(rows, 1, register, header=find_header_row(rows))


def _delimiter_name(delimiter: str) -> str:
    return {",": "commas", ";": "semicolons", "\t": "tabs", "|": "pipes"}.get(delimiter, repr(delimiter))


# ----------------------------------------------------------------------------------------------------- XLSX


def cell_text(value: object) -> str | None:
    """Text of a spreadsheet cell: integers without ``.0``, dates as ISO, ``None`` for empty."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return None
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time(0) else value.isoformat(sep=" ")
    if isinstance(value, (dt.date, dt.time)):
        return value.isoformat()
    text = str(value).strip()
    return text or None


def _sheet_rows(sheet: object, *, full: bool) -> tuple[list[list[object]], set[int]]:
    """Rows of a worksheet as text, merged ranges filled with their top-left value.

    Returns the rows and the 0-based indexes of rows holding a horizontally merged cell.
    """
    rows = [[cell_text(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    merged_rows: set[int] = set()
    if full:
        for merged in sheet.merged_cells.ranges:
            value = rows[merged.min_row - 1][merged.min_col - 1] if merged.min_row - 1 < len(rows) else None
            for r in range(merged.min_row - 1, min(merged.max_row, len(rows))):
                row = rows[r]
                if len(row) < merged.max_col:
                    row.extend([None] * (merged.max_col - len(row)))
                for c in range(merged.min_col - 1, merged.max_col):
                    row[c] = value
                if merged.max_col > merged.min_col:
                    merged_rows.add(r)
    return rows, merged_rows


def _header_score(rows: list[list[object]]) -> tuple[int, int]:
    header = find_header_row(rows)
    if header is None:
        return (-1, 0)
    recognised = len({recognise_name(c) for c in rows[header] if c} - {None})
    return (recognised, len(rows) - header)


def _looks_like_names(row: list[object]) -> bool:
    cells = [str(c).strip() for c in row if c is not None and str(c).strip()]
    return bool(cells) and not any(_is_number(c) for c in cells)


def _read_xlsx(path: Path, register: RawRegister, *, sheet: str | None) -> None:
    import openpyxl

    full = path.stat().st_size <= _XLSX_FULL_MODE_MAX_BYTES
    try:
        book = openpyxl.load_workbook(path, read_only=not full, data_only=True)
    except Exception as exc:  # openpyxl raises many types for damaged files
        raise RegisterError(f"{path.name}: cannot open the workbook: {exc}") from None
    try:
        names = book.sheetnames
        if sheet is not None:
            if sheet not in names:
                raise RegisterError(f"{path.name}: no sheet '{sheet}' (sheets: {', '.join(names)})")
            chosen = sheet
            rows, merged_rows = _sheet_rows(book[sheet], full=full)
        else:
            candidates = {n: _sheet_rows(book[n], full=full) for n in names}
            chosen = max(names, key=lambda n: (_header_score(candidates[n][0]), -names.index(n)))
            rows, merged_rows = candidates[chosen]
            if len(names) > 1:
                register.notes.append(f"picked sheet '{chosen}' of {len(names)} ({', '.join(names)})")
    finally:
        book.close()
    register.sheet = chosen
    header = find_header_row(rows)
    sub_header = False
    if header is not None:
        if header - 1 >= 0 and header - 1 in merged_rows and _looks_like_names(rows[header - 1]):
            # Merged group cells ("Address" over Line 1 / Line 2 / Postcode) sit above the real names.
            header, sub_header = header - 1, True
        elif header in merged_rows and header + 1 < len(rows) and _looks_like_names(rows[header + 1]):
            sub_header = len({recognise_name(c) for c in rows[header + 1] if c} - {None}) >= 1
    _table_from_rows(rows, 1, register, header=header, sub_header=sub_header)


# -------------------------------------------------------------------------------------------- GeoJSON/GPKG


def _read_geo(path: Path, register: RawRegister, *, layer: str | None) -> None:
    import geopandas as gpd
    import pyogrio
    import shapely

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise RegisterError(f"{path.name}: cannot read as {register.format}: {exc}") from None
    if layer is not None and layer not in layers:
        raise RegisterError(f"{path.name}: no layer '{layer}' (layers: {', '.join(layers)})")
    chosen = layer if layer is not None else (layers[0] if layers else None)
    try:
        frame = gpd.read_file(path, layer=chosen, engine="pyogrio")
    except Exception as exc:
        raise RegisterError(f"{path.name}: cannot read as {register.format}: {exc}") from None
    if len(layers) > 1 and layer is None:
        register.notes.append(f"read layer '{chosen}' of {len(layers)} ({', '.join(layers)})")
    register.sheet = chosen if register.format == "gpkg" else None
    geometry = frame.geometry
    if frame.crs is None:
        bounds = geometry.total_bounds if len(frame) and not geometry.is_empty.all() else None
        if bounds is not None and (abs(bounds[0]) > 180 or abs(bounds[3]) > 90):
            geometry = geometry.set_crs(27700)
            register.notes.append("no CRS given and coordinates are metres: read as British National Grid")
        else:
            geometry = geometry.set_crs(4326)
    if geometry.crs is not None and not geometry.crs.equals("EPSG:4326") and "CRS84" not in geometry.crs.srs:
        register.notes.append(f"reprojected from {geometry.crs.to_string()} to WGS84")
        geometry = geometry.to_crs(4326)
    values = np.asarray(geometry.values, dtype=object)
    points = np.empty(len(values), dtype=object)
    footprints = np.empty(len(values), dtype=object)
    for i, geom in enumerate(values):
        if geom is None or geom.is_empty:
            points[i] = footprints[i] = None
            continue
        if geom.geom_type == "Point":
            points[i], footprints[i] = geom, None
            continue
        try:
            points[i] = geom.representative_point()
        except shapely.errors.GEOSException:
            points[i] = shapely.make_valid(geom).representative_point()
        footprints[i] = shapely.to_wkt(geom, rounding_precision=7) if geom.geom_type in (
            "Polygon", "MultiPolygon") else None
    xs = np.array([p.x if p is not None else np.nan for p in points], dtype=float)
    ys = np.array([p.y if p is not None else np.nan for p in points], dtype=float)
    register.geometry = pd.DataFrame({"x": xs, "y": ys, "footprint_wkt": pd.Series(footprints, dtype=object)})
    properties = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    text = pd.DataFrame({name: [cell_text(v) if not is_missing(v) else None for v in properties[name]]
                         for name in properties.columns}, dtype=object)
    text.columns = _header_names(list(properties.columns))
    register.frame = _tidy_text(text) if len(text.columns) else pd.DataFrame(index=range(len(frame)))
    register.source_rows = np.arange(1, len(frame) + 1, dtype=np.int64)
    if len(frame) == 0:
        register.notes.append("the file has no features")
    n_polygons = int(sum(f is not None for f in footprints))
    if n_polygons:
        register.notes.append(f"{n_polygons} polygon footprint(s): located at their representative point, "
                              "footprint kept")


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or head.count(b"\x00") > len(head) // 4:
        return False  # UTF-16 text
    control = sum(1 for b in head if b < 9 or 13 < b < 32)
    return control > len(head) // 10


# ------------------------------------------------------------------------------------------------------ API


def read_register(
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
) -> RawRegister:
    """Read any supported register file into a :class:`RawRegister`.

    Parameters
    ----------
    path
        CSV/TSV/TXT, XLSX/XLSM, GeoJSON or GeoPackage file. The format is taken from the content when the
        suffix is wrong (a CSV named ``.xlsx`` is read as CSV).
    sheet
        Worksheet (XLSX) or layer (GeoPackage) to read. Default: the sheet whose header is recognised best;
        the first layer.
    encoding, delimiter
        Force a CSV's encoding or delimiter instead of detecting them.

    Returns
    -------
    RawRegister

    Raises
    ------
    RegisterError
        When the file is missing, not a supported format, or too damaged to read. An empty file, or one with
        only a header, is *not* an error: it reads as zero rows with a note.
    """
    path = Path(path)
    if not path.exists():
        raise RegisterError(f"file not found: {path}")
    if path.is_dir():
        raise RegisterError(f"{path} is a folder, not a register file")
    with path.open("rb") as handle:
        head = handle.read(8192)
    fmt = "csv" if not head else _format_of(path, head)
    register = RawRegister(frame=pd.DataFrame(), source_rows=np.empty(0, dtype=np.int64), path=path, format=fmt)
    if fmt == "csv":
        data = path.read_bytes()
        if _looks_binary(head):
            raise RegisterError(f"{path.name}: binary data, not a text table (supported: "
                                f"{', '.join(SUPPORTED_SUFFIXES)})")
        _read_csv(path, data, register, encoding=encoding, delimiter=delimiter)
    elif fmt == "xlsx":
        _read_xlsx(path, register, sheet=sheet)
    else:
        _read_geo(path, register, layer=sheet)
    register.frame.index = pd.RangeIndex(len(register.frame))
    return register
