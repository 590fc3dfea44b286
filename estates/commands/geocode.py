"""``python -m estates geocode INPUT --out OUTPUT``: geocode and tag any table of places (offline unless
``--online``)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from estates.cli import Handler, UserError, command, read_table
from estates.commands._online import add_online_options, online_progress_bar, online_settings
from estates.exports import write_table
from geo.geocoder import detect_location_columns, geocode
from geo.place import load_place
from geo.tagging import tag

if TYPE_CHECKING:
    from geo.online import OnlineSettings


@command("geocode", help="Geocode and tag a CSV/XLSX table offline (postcode and/or coordinate columns).")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("input", type=Path, help="CSV or XLSX file")
    parser.add_argument("--out", type=Path, required=True, help="output .csv, .geojson or .gpkg")
    parser.add_argument("--postcode-column", help="column holding postcodes (default: detected by name)")
    parser.add_argument("--x-column", help="column holding longitude or easting (default: detected)")
    parser.add_argument("--y-column", help="column holding latitude or northing (default: detected)")
    parser.add_argument("--sheet", help="XLSX sheet name (default: the first)")
    parser.add_argument("--address-column", action="append", default=[], metavar="COLUMN",
                        help="column(s) whose text make the address for online lookup (repeat for several)")
    add_online_options(parser)
    parser.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    return run


def run(args: argparse.Namespace) -> int:
    place = load_place()
    online = online_settings(args)
    frame = read_table(args.input, sheet=args.sheet)
    columns = detect_location_columns(frame.columns)
    for option, key in (("postcode_column", "postcode"), ("x_column", "x"), ("y_column", "y")):
        chosen = getattr(args, option)
        if chosen is not None:
            if chosen not in frame.columns:
                raise UserError(f"--{option.replace('_', '-')} '{chosen}' is not a column of {args.input} "
                                f"(columns: {', '.join(map(str, frame.columns))})")
            columns[key] = chosen
    if (columns["x"] is None) != (columns["y"] is None):
        raise UserError("give both --x-column and --y-column, or neither")
    if columns["postcode"] is None and columns["x"] is None:
        raise UserError(f"{args.input} has no postcode or coordinate column I recognise "
                        f"(columns: {', '.join(map(str, frame.columns))}); name one with --postcode-column or "
                        "--x-column/--y-column")
    missing = [c for c in args.address_column if c not in frame.columns]
    if missing:
        raise UserError(f"--address-column {missing[0]!r} is not a column of {args.input}")
    located = geocode(frame, postcode=columns["postcode"], x=columns["x"], y=columns["y"], place=place)
    if online is not None:
        located = _fill_online(located, frame, postcode_column=columns["postcode"],
                               address_columns=args.address_column, settings=online.for_place(place))
    result = tag(located, place=place)
    write_table(result, args.out, force=args.force)
    print(summarise(result, outside_column=place.outside_column))
    print(f"wrote {len(result)} rows to {args.out}")
    return 0


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
    for column in ("geocode_method", "geocode_precision"):
        counts = result[column].value_counts()
        lines.append(f"  by {column.removeprefix('geocode_')}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    attention = (result["geocode_issue"] != "") | result[outside_column].fillna(False).astype(bool)
    lines.append(f"  need attention: {int(attention.sum())} "
                 f"(not located {int((result['geocode_method'] == 'none').sum())}, "
                 f"outside {int(result[outside_column].fillna(False).astype(bool).sum())})")
    return "\n".join(lines)
