"""Read a partner's register file — CSV, XLSX, GeoJSON or GeoPackage — into a raw table with provenance.

Registers arrive messy: CSV in UTF-8, UTF-8 with BOM or Windows-1252, comma/semicolon/tab/pipe separated;
spreadsheets with title rows above the header, merged header cells and several sheets; GeoJSON with polygons.
:func:`read_register` copes with all of these and returns every data row as text (missing cells as NA), with
the row's number in the file so each later message can point the partner at the row to fix. Nothing here
interprets values: column mapping is :mod:`estates.ingest.columns`, checks are :mod:`estates.ingest.validation`.
"""

from __future__ import annotations

import bisect
import codecs
import contextlib
import csv
import datetime as dt
import functools
import io
import json
import math
import re
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from estates._frames import is_missing, map_unique
from estates.ingest.columns import recognise_name

__all__ = ["RawRegister", "RegisterError", "read_register", "detect_encoding", "detect_delimiter",
           "find_header_row", "SUPPORTED_SUFFIXES", "HEADER_SCAN_ROWS"]

#: File suffixes :func:`read_register` reads (anything else is sniffed by content).
SUPPORTED_SUFFIXES: tuple[str, ...] = (".csv", ".txt", ".tsv", ".xlsx", ".xlsm", ".geojson", ".json", ".gpkg")

_DELIMITERS = (",", ";", "\t", "|")
#: How many rows from the top are searched for the header (``--header-row`` names one further down).
HEADER_SCAN_ROWS = 100
_HEADER_SCAN_ROWS = HEADER_SCAN_ROWS
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
            raise RegisterError(f"{path.name}: a damaged or incomplete ZIP file (a workbook cut short?)") from None
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


def _utf16_without_bom(sample: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when NUL bytes sit on the odd/even positions as in UTF-16 text, else None."""
    if len(sample) < 4 or sample.count(b"\x00") <= len(sample) // 4:
        return None
    odd, even = sample[1::2].count(0), sample[0::2].count(0)
    if odd > 3 * max(even, 1):
        return "utf-16-le"
    if even > 3 * max(odd, 1):
        return "utf-16-be"
    return None


def detect_encoding(data: bytes) -> str:
    """Detect the text encoding of a register's bytes.

    BOMs win (UTF-8, UTF-16); then UTF-16 without a BOM (NUL bytes on every other position); then strict
    UTF-8; then, because UK registers saved from Excel are almost always Windows-1252, that — unless the bytes
    are not valid Windows-1252, when ``charset_normalizer`` decides (``latin-1`` as the last resort: it decodes
    anything). A file whose lines mix UTF-8 and Windows-1252 is decoded line by line by :func:`read_register`.

    Returns
    -------
    str
        A Python codec name: ``utf-8-sig``, ``utf-8``, ``utf-16``, ``utf-16-le``, ``cp1252``, ...
    """
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    sample = data[:_SNIFF_BYTES]
    utf16 = _utf16_without_bom(sample)
    if utf16 is not None:
        try:
            data.decode(utf16)
            return utf16
        except UnicodeDecodeError:
            pass
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


def _decode_lines(data: bytes) -> tuple[str, dict[int, str], Counter[str]]:
    """Decode text that is not UTF-8 as a whole one line at a time: UTF-8, else Windows-1252, else Latin-1.

    Returns the text, ``{0-based line: codec}`` for every line holding non-ASCII bytes, and the count per codec.
    """
    decoded: list[str] = []
    codecs_used: dict[int, str] = {}
    for number, line in enumerate(data.split(b"\n")):
        if line.isascii():
            decoded.append(line.decode("ascii"))
            continue
        for codec in ("utf-8", "cp1252", "latin-1"):
            try:
                decoded.append(line.decode(codec))
            except UnicodeDecodeError:
                continue
            codecs_used[number] = codec
            break
    return "\n".join(decoded), codecs_used, Counter(codecs_used.values())


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


def _parse_csv(text: str, delimiter: str, *, track_lines: bool = False,
               ) -> tuple[list[list[str]], bool, list[int]]:
    """Rows of the text, whether the line-by-line fallback was needed, and (with ``track_lines``) each row's
    first 0-based line."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    rows: list[list[str]] = []
    starts: list[int] = []
    if track_lines:
        previous = 0
        for row in reader:
            # line_num counts the lines read so far: a row starts on the line after the previous row ended.
            starts.append(previous)
            rows.append(row)
            previous = reader.line_num
    else:
        rows = list(reader)
    widths = Counter(len(r) for r in rows if len(r) > 1)
    width = widths.most_common(1)[0][0] if widths else 1
    # An unbalanced quote makes the csv module swallow following lines into one field; such a field holds line
    # breaks *and* about a row's worth of delimiters. Then read each line on its own, so only that line suffers.
    runaway = any("\n" in cell and cell.count(delimiter) >= max(3, width - 1) for row in rows for cell in row)
    if runaway:
        lines = text.split("\n")
        rows = [next(csv.reader([line.rstrip("\r")], delimiter=delimiter), []) for line in lines]
        if rows and not lines[-1]:
            rows.pop()
        starts = list(range(len(rows)))
    return rows, runaway, starts


# --------------------------------------------------------------------------------------------------- header


def _is_number(text: str) -> bool:
    try:
        float(text.replace(",", ""))
    except ValueError:
        return False
    return True


def find_header_row(rows: list[list[object]], *, scan: int = _HEADER_SCAN_ROWS) -> int | None:
    """Return the 0-based index of the header row among the first ``scan`` rows, or ``None`` if all are blank.

    The header is the row with the most recognised column names (:func:`estates.ingest.columns.recognise_name`);
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


def _header_index(rows: list[list[object]], path: Path, *, header_row: int | None) -> int | None:
    """The 0-based header row: the one the user named (1-based ``header_row``), else :func:`find_header_row`.

    Raises :class:`RegisterError` when the table's columns only start below the rows searched, so every row
    would otherwise be read under a title line ("no header found in the first N rows; use --header-row").
    """
    if header_row is not None:
        if not 1 <= header_row <= len(rows) or not any(c is not None and str(c).strip()
                                                        for c in rows[header_row - 1]):
            raise RegisterError(f"{path.name}: --header-row {header_row} is not a row with values "
                                f"(the file has {len(rows)} rows)")
        return header_row - 1
    header = find_header_row(rows)
    if header is None:
        return None

    def width(row: list[object]) -> int:
        return sum(1 for c in row if c is not None and str(c).strip())

    widths = Counter(width(row) for row in rows[:20_000])
    multi = {w: n for w, n in widths.items() if w > 1}
    if multi:
        # The table's usual width; when no row searched is nearly that wide, the header lies further down.
        table_width = max(multi, key=lambda w: (multi[w], w))
        if max(width(row) for row in rows[:HEADER_SCAN_ROWS]) < math.ceil(0.6 * table_width):
            raise RegisterError(f"{path.name}: no header found in the first {HEADER_SCAN_ROWS} rows; "
                                "use --header-row")
    return header


def _table_from_rows(rows: list[list[object]], first_row_number: int, register: RawRegister,
                     *, header: int | None, sub_header: bool = False,
                     row_flags: dict[int, list[tuple[str, str]]] | None = None) -> None:
    """Fill ``register.frame``/``source_rows`` from parsed rows (cells already text or None).

    ``row_flags`` holds reading problems by 0-based index into ``rows``; those on data rows become
    ``row_notes``, the others (title rows, trailing rows without values) file notes.
    """
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
    for index, flags in sorted((row_flags or {}).items()):
        position = index - data_start
        for code, reason in flags:
            if 0 <= position < len(body):
                register.row_notes.append((position, code, reason))
            else:  # above the data, or on a trailing row that holds no value
                register.notes.append(f"row {first_row_number + index}: {reason}")
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
              delimiter: str | None, header_row: int | None) -> None:
    line_codecs: dict[int, str] = {}
    if encoding is None and not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
            and data[:_SNIFF_BYTES].count(b"\x00") <= len(data[:_SNIFF_BYTES]) // 4 and not _is_utf8(data):
        text, line_codecs, used = _decode_lines(data)
        register.encoding = used.most_common(1)[0][0] if used else "cp1252"
    else:
        register.encoding = encoding or detect_encoding(data)
        try:
            text = data.decode(register.encoding)
        except (UnicodeDecodeError, LookupError) as exc:
            raise RegisterError(f"{path.name}: cannot decode as {register.encoding}: {exc}") from None
        used = Counter()
    if len(used) > 1:
        register.notes.append("mixed encodings: " + ", ".join(f"{n} line(s) {codec}" for codec, n in
                                                               used.most_common()) + "; each line decoded on its own")
    elif register.encoding not in ("utf-8", "utf-8-sig"):
        register.notes.append(f"text decoded as {register.encoding}")
    text = text.lstrip("\ufeff").replace("\x00", "")
    if not text.strip():
        raise RegisterError(f"{path.name}: the file is empty" if not data else
                            f"{path.name}: the file holds only blank lines, no table")
    register.delimiter = delimiter or detect_delimiter(text)
    if register.delimiter != ",":
        register.notes.append(f"values separated by {_delimiter_name(register.delimiter)}")
    if len(used) <= 1 and _read_csv_arrow(text, register, header_row=header_row):
        return
    rows, runaway, starts = _parse_csv(text, register.delimiter, track_lines=len(used) > 1)
    if runaway:
        register.notes.append("unbalanced quote marks: read line by line, so a value may run on; check ragged rows")
    flags: dict[int, list[tuple[str, str]]] = {}
    if len(used) > 1:
        majority = used.most_common(1)[0][0]
        for line, codec in line_codecs.items():
            if codec != majority:
                row = bisect.bisect_right(starts, line) - 1
                flags.setdefault(row, []).append((
                    "mixed_encoding", f"line {line + 1} is {codec}, unlike most of the file ({majority}); "
                    f"decoded as {codec} — check its accented letters"))
    header = _header_index(rows, path, header_row=header_row)
    if header is None:
        raise RegisterError(f"{path.name}: the file holds delimiters but no values, no table")
    _table_from_rows(rows, 1, register, header=header, row_flags=flags)


#: Rows the careful parser reads at the head of the file to find the header and cross-check pyarrow's rows.
_HEAD_ROWS = 20_000


def _read_csv_arrow(text: str, register: RawRegister, *, header_row: int | None) -> bool:
    """Read a plain delimited table with pyarrow's CSV parser, into the same frame and notes as the careful path.

    Plain means: the header is the first row (no title rows, no ``--header-row`` further down), every row has
    the header's width (blank lines aside), no value holds a quote mark or a line break (no multi-line cells,
    escaped or unbalanced quotes), and pyarrow's reading of the first rows equals the ``csv`` module's. Returns
    ``False`` without touching ``register`` whenever the file is not plain, so the careful path reads it (with its
    notes on title rows, ragged rows, runaway quotes).
    """
    import pyarrow as pa
    import pyarrow.compute as pc
    from pyarrow import csv as arrow_csv

    if header_row not in (None, 1) or len(register.delimiter) != 1 or register.delimiter in "\"\r\n":
        return False
    pieces = text.split("\n", _HEAD_ROWS)
    head, _, _ = _parse_csv("\n".join(pieces[:_HEAD_ROWS]), register.delimiter)
    del pieces
    if not head:
        return False
    try:
        if _header_index(head, register.path, header_row=header_row) != 0:
            return False
    except RegisterError:
        return False
    names = _header_names(head[0])
    width = len(names)
    if len(set(names)) != width:
        return False
    quoted = '"' in text
    try:
        table = arrow_csv.read_csv(
            pa.py_buffer(text.encode("utf-8")),
            read_options=arrow_csv.ReadOptions(column_names=[f"c{i}" for i in range(width)]),
            parse_options=arrow_csv.ParseOptions(delimiter=register.delimiter, newlines_in_values=quoted,
                                                 ignore_empty_lines=False),
            convert_options=arrow_csv.ConvertOptions(column_types={f"c{i}": pa.string() for i in range(width)},
                                                     null_values=[], strings_can_be_null=False,
                                                     quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return False  # a row of another width, most often: the careful path tells which
    if table.num_rows <= 1:
        return False
    columns = [table.column(i) for i in range(width)]
    del table
    if quoted and any(pc.any(pc.match_substring_regex(c, r"[\"\r\n]")).as_py() for c in columns):
        return False
    # The csv module's rows at the head, as pyarrow reads them (a blank line is a row of empty cells there).
    for i, column in enumerate(columns):
        if column.slice(0, len(head)).to_pylist() != [row[i] if i < len(row) else "" for row in head]:
            return False
    odd_spaces = "\u00a0" in text or "\ufeff" in text
    tidy = [_tidy_arrow(column.slice(1), odd_spaces=odd_spaces) for column in columns]
    filled = np.zeros(len(tidy[0]), dtype=bool)
    for column in tidy:
        filled |= column.notna().to_numpy()
    rows = int(np.flatnonzero(filled)[-1]) + 1 if filled.any() else 0
    if rows == 0:
        return False
    frame = pd.DataFrame({name: column.iloc[:rows].reset_index(drop=True) for name, column in
                          zip(names, tidy, strict=True)}, columns=names)
    register.header_row = 1
    register.frame = frame
    register.source_rows = np.arange(rows, dtype=np.int64) + 2
    return True


@functools.cache
def _python_whitespace() -> str:
    """Every character ``str.strip()`` removes (``str.isspace``; none lies above U+3000)."""
    return "".join(chr(code) for code in range(0x3001) if chr(code).isspace())


def _tidy_arrow(column: object, *, odd_spaces: bool) -> pd.Series:
    """:func:`_tidy_text` for one pyarrow string column: cells trimmed, empty cells NA, as a ``str`` Series.

    A cell is already tidy when trimming the characters Python's ``str.strip`` removes leaves it as it is and,
    unless ``odd_spaces``, it holds no no-break space or BOM; only the others go through :func:`_tidy_distinct`,
    so the result is the careful path's exactly.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    length = pc.binary_length(column)
    empty = pc.equal(length, 0)
    untidy = pc.not_equal(pc.binary_length(pc.utf8_trim(column, characters=_python_whitespace())), length)
    if odd_spaces:
        untidy = pc.or_(untidy, pc.or_(pc.match_substring(column, "\u00a0"), pc.match_substring(column, "\ufeff")))
    values = pd.Series(pc.if_else(empty, pa.scalar(None, pa.string()), column), dtype=pd.StringDtype(na_value=np.nan))
    if pc.any(untidy).as_py():
        positions = np.flatnonzero(untidy.to_numpy(zero_copy_only=False))
        values.iloc[positions] = map_unique(values.iloc[positions], _tidy_distinct).to_numpy(dtype=object)
    return values


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


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
    if isinstance(value, (dict, list, tuple)):  # nested GeoJSON properties stay JSON, not a Python repr
        return json.dumps(value, ensure_ascii=False, default=str)
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


_FORMULA_TAG = re.compile(rb"<(?:\w+:)?f[ >/]")


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of the workbook holds a formula (an ``<f>`` element), without parsing it."""
    with zipfile.ZipFile(path) as archive:
        return any(_FORMULA_TAG.search(archive.read(name)) for name in archive.namelist()
                   if name.startswith("xl/worksheets/") and name.endswith(".xml"))


def _formulas_without_values(path: Path, sheet_name: str, rows: list[list[object]], *, full: bool,
                             ) -> dict[int, list[tuple[str, str]]]:
    """Cells holding a formula but no saved result, by 0-based row index into ``rows``.

    A workbook written by a program (not saved by a spreadsheet) keeps ``="M33 "&"7WU"`` without its value;
    the value read is then empty, and the row is told so rather than silently given a blank.
    """
    import openpyxl
    from openpyxl.utils import get_column_letter

    book = openpyxl.load_workbook(path, read_only=not full, data_only=False)
    try:
        worksheet = book[sheet_name]
        flags: dict[int, list[tuple[str, str]]] = {}
        for r, row in enumerate(worksheet.iter_rows(values_only=True)):
            for c, formula in enumerate(row):
                text = getattr(formula, "text", formula)  # array formulas carry their text
                if not (isinstance(text, str) and text.startswith("=")):
                    continue
                value = rows[r][c] if r < len(rows) and c < len(rows[r]) else None
                if value is None:
                    cell = f"{get_column_letter(c + 1)}{r + 1}"  # iter_rows starts at row 1
                    flags.setdefault(r, []).append((
                        "formula_without_value", f"cell {cell}: formula without a value ({text[:60]}): the "
                        "file was not saved by a spreadsheet, so its result is unknown; left blank"))
    finally:
        book.close()
    return flags


def _read_xlsx(path: Path, register: RawRegister, *, sheet: str | None, header_row: int | None) -> None:
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
    if not any(c is not None for row in rows for c in row):
        raise RegisterError(f"{path.name}: sheet '{chosen}' is empty, no table")
    flags = _formulas_without_values(path, chosen, rows, full=full) if _has_formulas(path) else {}
    if flags:
        register.notes.append(f"{sum(len(f) for f in flags.values())} formula cell(s) without a saved value: "
                              "open and save the workbook in a spreadsheet to store their results")
    header = _header_index(rows, path, header_row=header_row)
    sub_header = False
    if header is not None and header_row is None:
        if header - 1 >= 0 and header - 1 in merged_rows and _looks_like_names(rows[header - 1]):
            # Merged group cells ("Address" over Line 1 / Line 2 / Postcode) sit above the real names.
            header, sub_header = header - 1, True
        elif header in merged_rows and header + 1 < len(rows) and _looks_like_names(rows[header + 1]):
            sub_header = len({recognise_name(c) for c in rows[header + 1] if c} - {None}) >= 1
    _table_from_rows(rows, 1, register, header=header, sub_header=sub_header, row_flags=flags)


# -------------------------------------------------------------------------------------------- GeoJSON/GPKG


_KNOWN_GEOMETRIES = ("Point", "MultiPoint", "LineString", "MultiLineString", "Polygon", "MultiPolygon",
                     "GeometryCollection")


def _open_rings(geometry: dict) -> bool:
    """Whether a GeoJSON polygon's rings do not end where they start (shapely would close them silently)."""
    kind = geometry.get("type")
    polygons = [geometry.get("coordinates")] if kind == "Polygon" else (
        geometry.get("coordinates") if kind == "MultiPolygon" else [])
    for polygon in polygons or []:
        for ring in polygon or []:
            if isinstance(ring, list) and len(ring) >= 2 and ring[0] != ring[-1]:
                return True
    return False


def _geojson_geometry(geometry: object) -> tuple[object | None, tuple[str, str] | None]:
    """A shapely geometry from a GeoJSON geometry object, or ``None`` and ``(code, reason)`` saying why not."""
    import shapely
    from shapely.geometry import shape

    if geometry is None:
        return None, None
    if not isinstance(geometry, dict):
        return None, ("bad_geometry", f"geometry is not a GeoJSON object ({str(geometry)[:40]})")
    kind = geometry.get("type")
    if kind not in _KNOWN_GEOMETRIES:
        return None, ("bad_geometry", f"unknown geometry type {str(kind)[:30]!r}; not used")
    coordinates = geometry.get("coordinates")
    if kind == "Point" and isinstance(coordinates, list) and 0 < len(coordinates) < 2:
        return None, ("bad_geometry", f"a Point needs two coordinates, this has {len(coordinates)}; not used")
    if kind == "LineString" and isinstance(coordinates, list) and len(coordinates) == 1:
        return None, ("bad_geometry", "a LineString of one point (it needs two or more); not used")
    if _open_rings(geometry):
        return None, ("bad_geometry", "a polygon ring is not closed (its last point is not its first); not used")
    try:
        return shape(geometry), None
    except (ValueError, TypeError, IndexError, KeyError, AttributeError, shapely.errors.ShapelyError) as exc:
        message = " ".join(str(exc).split()).removeprefix("IllegalArgumentException: ")
        return None, ("bad_geometry", f"{kind} cannot be read ({message[:80]}); not used")


def _check_geometry(geometry: object) -> tuple[object | None, tuple[str, str] | None]:
    """Reject non-finite coordinates; flag empty geometries and lines (located at a point on the line)."""
    import shapely

    if geometry is None:
        return None, None
    if geometry.is_empty:
        return None, ("geometry_issue", f"empty {geometry.geom_type}: no location from the geometry")
    if not np.isfinite(shapely.get_coordinates(geometry)).all():
        return None, ("bad_geometry", "coordinates are not finite numbers (e.g. 1e400); not used")
    if geometry.geom_type in ("LineString", "MultiLineString"):
        return geometry, ("geometry_issue", f"a {geometry.geom_type}, not a point or polygon; located at a "
                                            "point on the line")
    return geometry, None


def _geojson_crs(document: dict, register: RawRegister) -> object | None:
    """The CRS an old-style GeoJSON names in its ``crs`` member (RFC 7946 files are WGS84 and have none)."""
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    name = ((document.get("crs") or {}).get("properties") or {}).get("name") if isinstance(
        document.get("crs"), dict) else None
    if not name:
        return None
    try:
        return CRS.from_user_input(str(name))
    except CRSError:
        register.notes.append(f"unknown CRS {str(name)[:60]!r}: coordinates judged by their values")
        return None


def _read_geojson(path: Path, register: RawRegister) -> None:
    data = path.read_bytes()
    try:
        document = json.loads(data.decode(detect_encoding(data)).lstrip("\ufeff"))
    except (UnicodeDecodeError, LookupError, ValueError) as exc:
        raise RegisterError(f"{path.name}: not valid JSON ({exc})") from None
    if isinstance(document, dict) and document.get("type") == "Feature":
        features = [document]
    elif isinstance(document, dict) and isinstance(document.get("features"), list):
        features = document["features"]
    else:
        raise RegisterError(f"{path.name}: not a GeoJSON FeatureCollection")
    columns: dict[str, None] = {}
    records: list[dict] = []
    geometries: list[object | None] = []
    problems: dict[int, list[tuple[str, str]]] = {}
    for number, feature in enumerate(features):
        if not isinstance(feature, dict):
            records.append({})
            geometries.append(None)
            problems[number] = [("bad_geometry", "not a GeoJSON Feature object; not used")]
            continue
        properties = feature.get("properties") if isinstance(feature.get("properties"), dict) else {}
        records.append(properties)
        columns.update(dict.fromkeys(map(str, properties)))
        geometry, problem = _geojson_geometry(feature.get("geometry"))
        geometries.append(geometry)
        if problem is not None:
            problems[number] = [problem]
    frame = pd.DataFrame({name: [record.get(name) for record in records] for name in columns}, dtype=object,
                         index=range(len(records)))
    _geo_table(register, frame, geometries, _geojson_crs(document, register), problems)


def _read_gpkg(path: Path, register: RawRegister, *, layer: str | None) -> None:
    import pyogrio
    import shapely

    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
    except Exception as exc:  # pyogrio raises DataSourceError and friends
        raise RegisterError(f"{path.name}: cannot read as {register.format}: {exc}") from None
    if layer is not None and layer not in layers:
        raise RegisterError(f"{path.name}: no layer '{layer}' (layers: {', '.join(layers)})")
    chosen = layer if layer is not None else (layers[0] if layers else None)
    if chosen is None:
        raise RegisterError(f"{path.name}: the GeoPackage has no layers")
    try:
        frame = pyogrio.read_dataframe(path, layer=chosen, read_geometry=False)
        meta, _, wkb, _ = pyogrio.raw.read(path, layer=chosen, columns=[])
    except Exception as exc:
        raise RegisterError(f"{path.name}: cannot read as {register.format}: {exc}") from None
    if len(layers) > 1 and layer is None:
        register.notes.append(f"read layer '{chosen}' of {len(layers)} ({', '.join(layers)})")
    register.sheet = chosen
    geometries: list[object | None] = [None] * len(frame)
    problems: dict[int, list[tuple[str, str]]] = {}
    stored = _gpkg_stored_geometries(path, chosen)
    if wkb is not None:
        parsed = shapely.from_wkb(wkb, on_invalid="ignore")
        for number, (blob, geometry) in enumerate(zip(wkb, parsed, strict=True)):
            # GDAL hands back no geometry for a blob it cannot parse: the file itself says one was stored.
            damaged = geometry is None and (blob is not None or (
                stored is not None and len(stored) == len(parsed) and stored[number]))
            if damaged:
                problems[number] = [("bad_geometry", "the stored geometry cannot be read (damaged or invalid); "
                                                     "not used")]
            geometries[number] = geometry
    from pyproj import CRS

    _geo_table(register, pd.DataFrame(frame), geometries, CRS.from_user_input(meta["crs"]) if meta.get("crs")
               else None, problems)


def _gpkg_stored_geometries(path: Path, layer: str) -> np.ndarray | None:
    """Per feature (in fid order), whether the GeoPackage stores a geometry blob; ``None`` when unknown."""
    import sqlite3

    try:
        with contextlib.closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
            found = db.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                               (layer,)).fetchone()
            if found is None:
                return None
            table, column = layer.replace('"', '""'), str(found[0]).replace('"', '""')
            rows = db.execute(f'SELECT "{column}" IS NOT NULL FROM "{table}" ORDER BY rowid').fetchall()
    except sqlite3.Error:
        return None
    return np.array([bool(r[0]) for r in rows], dtype=bool)


def _geo_table(register: RawRegister, properties: pd.DataFrame, geometries: list[object | None],
               crs: object | None, problems: dict[int, list[tuple[str, str]]]) -> None:
    """Fill a GeoJSON/GeoPackage register: properties as text, each feature located (or rejected) on its own."""
    import geopandas as gpd
    import shapely

    checked: list[object | None] = []
    for number, geometry in enumerate(geometries):
        geometry, problem = _check_geometry(geometry)
        checked.append(geometry)
        if problem is not None:
            problems.setdefault(number, []).append(problem)
    series = gpd.GeoSeries(checked, crs=crs)
    usable = series.notna() & ~series.is_empty
    if series.crs is None:
        bounds = series[usable].total_bounds if usable.any() else None
        if bounds is not None and (abs(bounds[0]) > 180 or abs(bounds[3]) > 90):
            series = series.set_crs(27700)
            register.notes.append("no CRS given and coordinates are metres: read as British National Grid")
        else:
            series = series.set_crs(4326)
    if not series.crs.equals("EPSG:4326") and "CRS84" not in series.crs.srs:
        register.notes.append(f"reprojected from {series.crs.to_string()} to WGS84")
        series = series.to_crs(4326)
    values = np.asarray(series.values, dtype=object)
    points = np.empty(len(values), dtype=object)
    footprints = np.empty(len(values), dtype=object)
    for i, geom in enumerate(values):
        if geom is None or geom.is_empty:
            points[i] = footprints[i] = None
            continue
        if not np.isfinite(shapely.get_coordinates(geom)).all():
            problems.setdefault(i, []).append(("bad_geometry", "coordinates cannot be projected to WGS84; "
                                                               "not used"))
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
    text = pd.DataFrame({name: [cell_text(v) if not is_missing(v) else None for v in properties[name]]
                         for name in properties.columns}, dtype=object, index=range(len(properties)))
    text.columns = _header_names(list(properties.columns))
    register.frame = _tidy_text(text) if len(text.columns) else pd.DataFrame(index=range(len(values)))
    register.source_rows = np.arange(1, len(values) + 1, dtype=np.int64)
    for number, found in sorted(problems.items()):
        for code, reason in found:
            register.row_notes.append((number, code, f"feature {number + 1}: {reason}"))
    if len(values) == 0:
        register.notes.append("the file has no features")
    rejected = sum(any(code == "bad_geometry" for code, _ in found) for found in problems.values())
    if rejected:
        register.notes.append(f"{rejected} feature(s) with a geometry that cannot be used: rejected one by one, "
                              "the others kept")
    n_polygons = int(sum(f is not None for f in footprints))
    if n_polygons:
        register.notes.append(f"{n_polygons} polygon footprint(s): located at their representative point, "
                              "footprint kept")


#: Signatures of common binary files that are not registers (images, PDF, archives, executables).
_BINARY_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!", b"\x7fELF")


def _looks_binary(head: bytes) -> bool:
    """True for bytes that are no text table: a known binary signature, NUL bytes outside UTF-16, or control
    characters that text never holds."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or _utf16_without_bom(head) is not None:
        return False  # UTF-16 text
    if head.startswith(_BINARY_MAGIC):
        return True
    if b"\x00" in head:
        return True
    control = sum(1 for b in head if b < 9 or 13 < b < 32 or b == 127)
    return control > max(2, len(head) // 100)


# ------------------------------------------------------------------------------------------------------ API


def read_register(
    path: str | Path,
    *,
    sheet: str | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    header_row: int | None = None,
) -> RawRegister:
    """Read any supported register file into a :class:`RawRegister`.

    The one reader behind ``ingest``, ``geocode``, ``pipeline`` and the app's Data page: what one reads, all
    read, with the same notes.

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
    header_row
        1-based row number of the header in a CSV or XLSX file, when it is not found among the first
        :data:`HEADER_SCAN_ROWS` rows.

    Returns
    -------
    RawRegister

    Raises
    ------
    RegisterError
        When the file is missing, empty (zero bytes or blank lines only), binary, not a supported format, or
        too damaged to read. A file with only a header is *not* an error: it reads as zero rows with a note.
        Library warnings never escape: they become notes.
    """
    path = Path(path)
    if not path.exists():
        raise RegisterError(f"file not found: {path}")
    if path.is_dir():
        raise RegisterError(f"{path} is a folder, not a register file")
    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        raise RegisterError(f"{path.name}: the file is empty")
    fmt = _format_of(path, head)
    register = RawRegister(frame=pd.DataFrame(), source_rows=np.empty(0, dtype=np.int64), path=path, format=fmt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if fmt == "csv":
            if _looks_binary(head):
                raise RegisterError(f"{path.name}: binary data, not a text table (supported: "
                                    f"{', '.join(SUPPORTED_SUFFIXES)})")
            _read_csv(path, path.read_bytes(), register, encoding=encoding, delimiter=delimiter,
                      header_row=header_row)
        elif fmt == "xlsx":
            _read_xlsx(path, register, sheet=sheet, header_row=header_row)
        elif fmt == "geojson":
            _read_geojson(path, register)
        else:
            _read_gpkg(path, register, layer=sheet)
    for message in dict.fromkeys(" ".join(str(w.message).split()) for w in caught):
        register.notes.append(f"reader warning: {message}")
    register.frame.index = pd.RangeIndex(len(register.frame))
    return register
