"""``python -m estates export overlap|buildings|sites|profile --format FMT --out PATH``: maps, layers and tables.

``profile --neighbourhood NAME`` / ``--pcn NAME``: the one-page profile of an area (pdf or png,
:mod:`estates.maps.profile_sheet`).

``overlap``: the neighbourhood × PCN overlap analysis; ``buildings``: the register records with their ``site_id``;
``sites``: one row per site (status, occupants, records). Read from the store — nothing runs the registers again
while a store holds the estate. Formats: html (standalone offline map), png/pdf (print map), gpkg (QGIS), geojson
(RFC 7946), csv, xlsx — see docs/overlap.md.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from estates.cli import Handler, UserError, command
from estates.exports import EXPORT_FORMATS, EXPORT_KINDS, export_buildings, export_overlap, export_sites, resolve_output
from geo.overlap import DEFAULT_SLIVER_HA
from geo.place import Place, load_place


def _sliver(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"must be a number ≥ 0, not {text!r}")
    return value


@command("export", help="Export the neighbourhood × PCN overlap analysis or the classified estate "
                        "(html, png, pdf, gpkg, geojson, csv, xlsx).")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("what", choices=(*EXPORT_KINDS, "profile"),
                        help="overlap: neighbourhood × PCN pieces and matrices; buildings: the register records; "
                             "sites: one row per site; profile: one-page profile of an area (pdf, png)")
    area = parser.add_mutually_exclusive_group()
    area.add_argument("--neighbourhood", metavar="NAME", help="profile: the neighbourhood to profile")
    area.add_argument("--pcn", metavar="NAME", help="profile: the PCN (footprint) to profile")
    parser.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS,
                        help="output format (default: from --out's extension)")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="file to write; for 'overlap --format csv', an existing folder gets one CSV per matrix")
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    parser.add_argument("--sliver-ha", type=_sliver, default=DEFAULT_SLIVER_HA, metavar="HA",
                        help=f"pieces smaller than this are slivers, not drawn (default {DEFAULT_SLIVER_HA:g})")
    parser.add_argument("--no-store", action="store_true",
                        help="read the registers and apply the rules only (no store, no people's decisions)")
    return run


def _check_profile_area(args: argparse.Namespace, place: Place) -> None:
    """The area a profile is for, checked before the estate is read (an unknown one lists the valid ones)."""
    from estates.maps.profile_sheet import UnknownAreaError, check_area, profile_areas

    if not (args.neighbourhood or args.pcn):
        hoods = profile_areas("neighbourhood", place=place)
        pcns = "; ".join(profile_areas("pcn", place=place))
        choices = f"--neighbourhood ({'; '.join(hoods)}) or " if hoods else ""
        raise UserError(f"export profile needs an area: {choices}--pcn ({pcns})")
    try:
        check_area("pcn" if args.pcn else "neighbourhood", args.pcn or args.neighbourhood, place)
    except UnknownAreaError as exc:
        raise UserError(str(exc)) from None


def run(args: argparse.Namespace) -> int:
    from estates.estate import current_sites

    place = load_place()
    if args.what == "profile":
        _check_profile_area(args, place)
    elif args.neighbourhood or args.pcn:
        raise UserError("--neighbourhood and --pcn are for 'export profile'")
    # Check the path and format before the estate is read.
    resolve_output(args.out, args.fmt, folder_ok=args.what == "overlap")
    try:
        estate = current_sites(place, use_store=not args.no_store)
    except Exception as exc:  # an unreachable or unreadable store is a setting the user can fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read the store ({reason}); check ESTATES_DATABASE_URL, or use --no-store for "
                        "the rules' statuses") from None
    if args.what == "profile":
        from estates.maps.profile_sheet import export_profile

        kind = "pcn" if args.pcn else "neighbourhood"
        written = export_profile(args.fmt, args.out, force=args.force, place=place, estate=estate, area_kind=kind,
                                 area_name=args.pcn or args.neighbourhood)
    elif args.what == "sites":
        written = export_sites(args.fmt, args.out, force=args.force, place=place, sliver_ha=args.sliver_ha,
                               sites=estate.sites)
    else:
        exporter = export_overlap if args.what == "overlap" else export_buildings
        written = exporter(args.fmt, args.out, force=args.force, place=place, sliver_ha=args.sliver_ha,
                           buildings=estate.records)
    for path in written:
        print(f"wrote {path}")
    return 0
