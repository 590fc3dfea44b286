"""``python -m estates access KIND``: who lives within reach of a kind of site, and who loses it if some close.

Prints reach by IMD decile, the access-gap LSOAs and, with ``--close``/``--close-surplus`` (``--hub``), the effect
of closing (or merging) sites; ``--out`` writes CSV/XLSX tables or a PNG/PDF map. Method: ``docs/access.md``.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from estates.exports import ACCESS_FORMATS

_TABLES = ("by_imd_decile", "by_neighbourhood", "by_pcn", "by_lsoa", "gap", "sites", "closure_by_imd_decile",
           "closure_by_site", "closure_postcodes")


def _detour(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 1:
        raise argparse.ArgumentTypeError(f"must be a number ≥ 1 (1 = straight line), not {text!r}")
    return value


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be ≥ 0, not {text!r}")
    return value


@command("access", help="Residents' distance to the nearest site of a kind (key, any, gp, library, leisure …), the "
                        "access gap, and what changes if sites close or merge into a hub.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("kind", help="key (key sites), any (every located site), or a partner type such as gp, "
                                     "library, leisure, school")
    parser.add_argument("--list", action="store_true", help="list the sites of the kind (id, name, status) and stop")
    parser.add_argument("--close", action="append", default=[], metavar="SITE",
                        help="a site that closes: its id (from --list) or its exact name; repeat for several")
    parser.add_argument("--close-surplus", action="store_true", help="close every surplus site of the kind")
    parser.add_argument("--hub", metavar="SITE", help="the site (any kind; id or exact name) the closed sites "
                                                      "merge into")
    parser.add_argument("--detour-factor", type=_detour, default=1.0, metavar="F",
                        help="multiply straight-line distances by F to approximate walking (default 1; "
                             "1.2–1.4 is typical in towns)")
    parser.add_argument("--neighbourhood", metavar="NAME", help="focus the tables on one neighbourhood")
    parser.add_argument("--top", type=_count, default=10, metavar="N", help="gap LSOAs to print (default 10)")
    parser.add_argument("--out", type=Path, metavar="PATH",
                        help=f"write the analysis: {', '.join(ACCESS_FORMATS)} (csv: one --table; xlsx: all)")
    parser.add_argument("--format", dest="fmt", choices=ACCESS_FORMATS, help="output format (default: from --out)")
    parser.add_argument("--table", choices=_TABLES, help="the table a CSV holds (default: closure_by_imd_decile "
                                                         "when sites close, else by_imd_decile)")
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    parser.add_argument("--include-historic", action="store_true", help="count records from out-of-date sources")
    parser.add_argument("--include-approximate", action="store_true",
                        help="count sites placed only at a postcode sector or district centroid")
    parser.add_argument("--no-store", action="store_true",
                        help="use the registers and the rules' statuses only, even when a store exists")
    return run


def _estate(no_store: bool) -> pd.DataFrame:
    from estates.estate import current_estate

    if no_store:
        return current_estate(use_store=False)
    try:
        return current_estate()
    except Exception as exc:  # an unreachable or unreadable store is a setting the user can fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read the store ({reason}); check ESTATES_DATABASE_URL, or use --no-store") from None


def _resolve(value: str, sites: pd.DataFrame, what: str) -> str:
    """A site id from an id or an exact (case-insensitive) name."""
    if value in set(sites["facility_id"]):
        return value
    named = sites[sites["name"].astype("string").str.casefold() == value.casefold()]
    if len(named) == 1:
        return str(named["facility_id"].iloc[0])
    if len(named) > 1:
        raise UserError(f"{len(named)} {what} are called '{value}'; give one of their ids: "
                        + ", ".join(named["facility_id"].astype(str)))
    raise UserError(f"no {what} '{value}' (list them with --list)")


def _print_table(frame: pd.DataFrame) -> None:
    with pd.option_context("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 40):
        print(frame.to_string(index=False))


def _reach_view(table: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    view = table[keys + ["residents"]].copy()
    for column in [c for c in table.columns if c.startswith("share_within_")]:
        view[column.removeprefix("share_") + " %"] = (100 * table[column]).round(1)
    view["median_m"] = table["median_m"].round(0)
    view["p90_m"] = table["p90_m"].round(0)
    view["residents"] = view["residents"].round(0).astype("Int64")
    return view


def run(args: argparse.Namespace) -> int:
    from estates.analysis.access import access_analysis, access_kinds, access_tables, facility_points, kind_label
    from estates.exports import ACCESS_FORMATS, export_access, resolve_output

    if args.out is not None:
        resolve_output(args.out, args.fmt, formats=ACCESS_FORMATS)  # a bad path fails before the estate is built
    estate = _estate(args.no_store)
    kinds = access_kinds(estate)
    if args.kind not in kinds:
        raise UserError(f"unknown kind '{args.kind}' (use {', '.join(kinds)})")
    options = {"include_historic": args.include_historic, "include_approximate": args.include_approximate}
    sites = facility_points(estate, args.kind, **options)
    if args.list:
        _print_table(sites[["facility_id", "name", "partner", "status", "postcode", "neighbourhood"]])
        print(f"{len(sites)} {kind_label(args.kind)}")
        return 0
    closed = [_resolve(value, sites, kind_label(args.kind)) for value in args.close]
    hub = _resolve(args.hub, facility_points(estate, "any", **options), "located site") if args.hub else None
    try:
        analysis = access_analysis(estate, args.kind, closed=closed, close_surplus=args.close_surplus, hub=hub,
                                   detour_factor=args.detour_factor, neighbourhood=args.neighbourhood, **options)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    tables = access_tables(analysis)
    where = args.neighbourhood or analysis.place.name
    detour = f", detour factor {args.detour_factor:g}" if args.detour_factor != 1 else ""
    print(f"Access to {kind_label(args.kind)} ({len(sites)} sites) from {where}'s "
          f"{analysis.residents['residents'].sum():,.0f} residents{detour}")
    _print_table(_reach_view(tables["by_imd_decile"], ["imd_decile"]))
    if args.top:
        print(f"\nAccess gap: the {args.top} LSOAs ranked highest by IMD score × mean distance")
        gap = tables["gap"].head(args.top)
        _print_table(gap[["rank", "lsoa_code", "lsoa_name", "neighbourhood", "imd_decile"]].assign(
            residents=gap["residents"].round(0).astype("Int64"), mean_m=gap["mean_m"].round(0),
            gap_score=gap["gap_score"].round(1)))
    if analysis.closed:
        impact = analysis.impact_in_view
        print(f"\nIf {len(analysis.closed)} site(s) close" + (f" and merge into {hub}" if hub else "")
              + f": {impact['residents'].sum():,.0f} residents lose their nearest site")
        summary = tables["closure_by_imd_decile"]
        view = summary[["imd_decile", "residents", "before_median_m", "after_median_m", "after_p90_m"]].copy()
        _print_table(view.round(0).astype({"residents": "Int64"}))
    if args.out is not None:
        for path in export_access(analysis, args.fmt, args.out, force=args.force, table=args.table):
            print(f"wrote {path}")
    return 0
