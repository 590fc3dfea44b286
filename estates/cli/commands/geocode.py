"""``python -m estates geocode INPUT --out OUTPUT``: geocode and tag any table of places (offline unless
``--online``).

The input is read by :func:`estates.ingest.registers.read_register`, the reader behind ``ingest`` and the app: every
format, encoding and layout one reads, the other reads, with the same notes. Per-row reading problems (a
rejected feature geometry, a formula without a value, a line in another encoding) lead the row's
``geocode_issue``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from estates.cli import Handler, UserError, command
from estates.cli.commands._online import add_online_options, online_progress_bar, online_settings
from estates.cli.commands._outputs import check_outputs
from estates.exports import write_table
from estates.ingest.columns import recognise_columns
from estates.ingest.registers import RawRegister, RegisterError, read_register
from geo.geocoder import detect_location_columns, geocode
from geo.place import load_place
from geo.tagging import tag

if TYPE_CHECKING:
    from geo.online import OnlineSettings


@command("geocode", help="Geocode and tag a table offline (CSV, XLSX, GeoJSON, GeoPackage; postcode and/or "
                         "coordinate columns).")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("input", type=Path, help="CSV/TSV/TXT, XLSX, GeoJSON or GeoPackage file")
    parser.add_argument("--out", type=Path, required=True, help="output .csv, .geojson or .gpkg")
    parser.add_argument("--postcode-column", help="column holding postcodes (default: detected by name)")
    parser.add_argument("--x-column", help="column holding longitude or easting (default: detected)")
    parser.add_argument("--y-column", help="column holding latitude or northing (default: detected)")
    parser.add_argument("--sheet", help="XLSX sheet or GeoPackage layer (default: picked automatically)")
    parser.add_argument("--header-row", type=int, metavar="N",
                        help="1-based row of the header, when it is not among the first rows")
    parser.add_argument("--address-column", action="append", default=[], metavar="COLUMN",
                        help="column(s) whose text make the address for online lookup (repeat for several)")
    add_online_options(parser)
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    return run


def run(args: argparse.Namespace) -> int:
    check_outputs({"--out": args.out}, reads=args.input, force=args.force)
    place = load_place()
    online = online_settings(args)
    register = _read(args.input, sheet=args.sheet, header_row=args.header_row)
    frame = register.frame
    columns = detect_location_columns(frame.columns)
    recognised = recognise_columns(frame.columns).fields
    for key in ("postcode", "x", "y"):
        if columns[key] is None and key in recognised and (key == "postcode" or {"x", "y"} <= set(recognised)):
            columns[key] = recognised[key][0]
    for option, key in (("postcode_column", "postcode"), ("x_column", "x"), ("y_column", "y")):
        chosen = getattr(args, option)
        if chosen is not None:
            if chosen not in frame.columns:
                raise UserError(f"--{option.replace('_', '-')} '{chosen}' is not a column of {args.input} "
                                f"(columns: {', '.join(map(str, frame.columns))})")
            columns[key] = chosen
    if (columns["x"] is None) != (columns["y"] is None):
        raise UserError("give both --x-column and --y-column, or neither")
    if columns["postcode"] is None and columns["x"] is None and register.geometry is None:
        raise UserError(f"{args.input} has no postcode or coordinate column I recognise "
                        f"(columns: {', '.join(map(str, frame.columns))}); name one with --postcode-column or "
                        "--x-column/--y-column")
    missing = [c for c in args.address_column if c not in frame.columns]
    if missing:
        raise UserError(f"--address-column {missing[0]!r} is not a column of {args.input}")
    frame, columns = _with_feature_geometry(frame, register, columns, forced=args.x_column is not None)
    # Rows only written out: text columns as categoricals (no string per row), unless online lookups edit them.
    located = geocode(frame, postcode=columns["postcode"], x=columns["x"], y=columns["y"], place=place,
                      categorical=online is None)
    located = located.drop(columns=[c for c in _FEATURE_COLUMNS if c in located.columns])
    if online is not None:
        located = _fill_online(located, frame, postcode_column=columns["postcode"],
                               address_columns=args.address_column, settings=online.for_place(place))
    result = tag(located, place=place, categorical=True)
    result["geocode_issue"] = _with_reading_notes(result["geocode_issue"], register)
    for note in register.notes:
        print(f"note: {note}")
    write_table(result, args.out, force=args.force)
    print(summarise(result, outside_column=place.outside_column))
    print(f"wrote {len(result)} rows to {args.out}")
    return 0


_FEATURE_COLUMNS = ("feature_x", "feature_y")


def _read(path: Path, *, sheet: str | None, header_row: int | None) -> RawRegister:
    """Read the input with the registers' reader; every failure is one line for the user."""
    if not path.exists():
        raise UserError(f"{path}: no such file")
    try:
        return read_register(path, sheet=sheet, header_row=header_row)
    except RegisterError as exc:
        raise UserError(str(exc)) from None


def _with_feature_geometry(frame: pd.DataFrame, register: RawRegister, columns: dict,
                           *, forced: bool) -> tuple[pd.DataFrame, dict]:
    """A GeoJSON/GeoPackage feature's own geometry is its location (its properties' x/y where it has none),
    unless ``--x-column``/``--y-column`` name property columns."""
    if register.geometry is None or forced:
        return frame, columns
    geometry = register.geometry
    has = geometry["x"].notna().to_numpy()
    out = frame.copy()
    for name, axis in zip(_FEATURE_COLUMNS, ("x", "y"), strict=True):
        own = frame[columns[axis]].to_numpy(dtype=object) if columns[axis] is not None else None
        values = geometry[axis].to_numpy(dtype=object)
        out[name] = np.where(has, values, own) if own is not None else values
    if "footprint_wkt" not in out.columns and geometry["footprint_wkt"].notna().any():
        out["footprint_wkt"] = geometry["footprint_wkt"].to_numpy(dtype=object)
    return out, {**columns, "x": _FEATURE_COLUMNS[0], "y": _FEATURE_COLUMNS[1]}


def _with_reading_notes(issue: pd.Series, register: RawRegister) -> pd.Series:
    """Each row's reading problems (as ``ingest`` reports them) ahead of its geocoding remark."""
    if not register.row_notes:
        return issue
    notes: dict[int, list[str]] = {}
    for position, _, reason in register.row_notes:
        notes.setdefault(position, []).append(reason)
    out = np.array(issue.astype(object).fillna(""), dtype=object)
    for position, reasons in notes.items():
        out[position] = "; ".join([*reasons, *([out[position]] if out[position] else [])])
    return pd.Series(out, index=issue.index, dtype="category" if isinstance(issue.dtype, pd.CategoricalDtype)
                     else issue.dtype)


def _fill_online(located: pd.DataFrame, frame: pd.DataFrame, *, postcode_column: object | None,
                 address_columns: list[str], settings: OnlineSettings) -> pd.DataFrame:
    from geo.online import fill_online_with_summary

    address = None
    if address_columns:
        address = frame[address_columns].astype("string").fillna("").agg(", ".join, axis=1).str.strip(", ")
    with online_progress_bar(settings) as update:
        result, summary = fill_online_with_summary(
            located, postcode=frame[postcode_column] if postcode_column is not None else None, address=address,
            settings=settings, progress=update)
    print(summary)
    return result


def summarise(result: pd.DataFrame, *, outside_column: str) -> str:
    """Counts by geocode method and precision, and how many rows need attention."""
    lines = [f"{len(result)} rows"]
    counts = {column: _counts(result[column]) for column in ("geocode_method", "geocode_precision")}
    for column, column_counts in counts.items():
        lines.append(f"  by {column.removeprefix('geocode_')}: " + ", ".join(f"{k} {v}" for k, v in column_counts))
    outside = result[outside_column].fillna(False).astype(bool)
    issue_codes, issue_values = pd.factorize(result["geocode_issue"])
    has_issue = np.asarray([value != "" for value in issue_values] + [True])[issue_codes]  # -1 (missing): as before
    not_located = dict(counts["geocode_method"]).get("none", 0)
    lines.append(f"  need attention: {int((has_issue | outside.to_numpy()).sum())} "
                 f"(not located {not_located}, outside {int(outside.sum())})")
    return "\n".join(lines)


def _counts(values: pd.Series) -> list[tuple[object, int]]:
    """Each value and its count, most frequent first, ties in order of first appearance (text or categorical: a
    million rows are counted through their codes)."""
    codes, uniques = pd.factorize(values)
    counts = np.bincount(codes[codes >= 0], minlength=len(uniques))
    return [(uniques[i], int(counts[i])) for i in np.argsort(-counts, kind="stable")]
