"""``python -m estates export overlap|buildings|sites|map|profile --format FMT --out PATH``: maps, layers and tables.

``profile --neighbourhood NAME`` / ``--pcn NAME``: the one-page profile of an area (pdf or png,
:mod:`estates.maps.profile_sheet`).

``overlap``: the neighbourhood × PCN overlap analysis; ``buildings``: the register records with their ``site_id``;
``sites``: one row per site (status, occupants, records); ``map``: the app's map downloads for the sites the filters
choose (``--neighbourhood North --status surplus``), exactly as a page gives them (estates.exports.export_view).
Read from the store — nothing runs the registers again
while a store holds the estate. Formats: html (standalone offline map), png/pdf (print map), gpkg (QGIS), geojson
(RFC 7946), csv, xlsx — see docs/overlap.md.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import TYPE_CHECKING

from estates.cli import Handler, UserError, command
from estates.exports import (
    EXPORT_FORMATS,
    EXPORT_KINDS,
    VIEW_FORMATS,
    export_buildings,
    export_overlap,
    export_sites,
    export_view,
    resolve_output,
)
from geo.overlap import DEFAULT_SLIVER_HA
from geo.place import Place, load_place

if TYPE_CHECKING:
    from estates.service import Estate


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
    parser.add_argument("what", choices=(*EXPORT_KINDS, "map", "profile"),
                        help="overlap: neighbourhood × PCN pieces and matrices; buildings: the register records; "
                             "sites: one row per site; map: the sites the filters choose, as the app's map downloads "
                             f"({', '.join(VIEW_FORMATS)}); profile: one-page profile of one --neighbourhood or --pcn "
                             "(pdf, png)")
    parser.add_argument("--format", dest="fmt", choices=EXPORT_FORMATS,
                        help="output format (default: from --out's extension)")
    parser.add_argument("--out", type=Path, required=True, metavar="PATH",
                        help="file to write; for 'overlap --format csv', an existing folder gets one CSV per matrix")
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    parser.add_argument("--sliver-ha", type=_sliver, default=DEFAULT_SLIVER_HA, metavar="HA",
                        help=f"pieces smaller than this are slivers, not drawn (default {DEFAULT_SLIVER_HA:g})")
    parser.add_argument("--no-store", action="store_true",
                        help="read the registers and apply the rules only (no store, no people's decisions)")
    parser.add_argument("--all-places", action="store_true",
                        help="sites or buildings of every place the store holds (e.g. Greater Manchester), with a "
                             "place column; tables only (csv, xlsx, gpkg, geojson)")
    chosen = parser.add_argument_group("map: which sites (as the app's sidebar filters; repeat an option for several)")
    for option, field in _FILTER_OPTIONS.items():
        chosen.add_argument(f"--{option}", dest=field, action="append", default=[], metavar="NAME")
    chosen.add_argument("--search", default="", metavar="TEXT", help="part of a name, a postcode start, a UPRN")
    chosen.add_argument("--paper", choices=("A4", "A3"), default="A4", help="print size of png/pdf (landscape)")
    return run


def _all_places(args: argparse.Namespace) -> int:
    from estates.service import read_all_places, store_target
    from estates.store import NoStoreError, StoreOpenError, open_store

    if args.what == "overlap":
        raise UserError("--all-places exports sites or buildings; the overlap is one place's (set ESTATES_PLACE)")
    _, fmt, _ = resolve_output(args.out, args.fmt, folder_ok=False)
    if fmt in ("html", "png", "pdf"):
        raise UserError(f"--all-places writes a table (csv, xlsx, gpkg or geojson), not {fmt}")
    try:
        with open_store(store_target(), read_only=True) as store:
            estate = read_all_places(store)
    except (NoStoreError, StoreOpenError) as exc:
        raise UserError(str(exc)) from None
    place = load_place()
    if args.what == "sites":
        written = export_sites(fmt, args.out, force=args.force, place=place, sites=estate.sites)
    else:
        written = export_buildings(fmt, args.out, force=args.force, place=place, buildings=estate.records)
    for path in written:
        print(f"wrote {path}")
    counts = estate.sites.groupby("place").size()
    print("sites per place: " + ", ".join(f"{p} {n:,}" for p, n in counts.items()))
    return 0


#: ``export map`` option → field of :class:`estates.analysis.filters.Filters`.
_FILTER_OPTIONS: dict[str, str] = {"partner": "partners", "partner-type": "partner_types", "status": "statuses",
                                   "neighbourhood": "neighbourhoods", "pcn": "pcns", "ward": "wards",
                                   "holding": "holding_types"}


def _check_profile_area(args: argparse.Namespace, place: Place) -> None:
    """The area a profile is for, checked before the estate is read (an unknown one lists the valid ones)."""
    from estates.maps.profile_sheet import UnknownAreaError, check_area, profile_areas

    if len(args.neighbourhoods) + len(args.pcns) != 1:
        hoods = profile_areas("neighbourhood", place=place)
        pcns = "; ".join(profile_areas("pcn", place=place))
        choices = f"--neighbourhood ({'; '.join(hoods)}) or " if hoods else ""
        raise UserError(f"export profile needs one area: {choices}--pcn ({pcns})")
    try:
        check_area(*_profile_area(args), place)
    except UnknownAreaError as exc:
        raise UserError(str(exc)) from None


def _profile_area(args: argparse.Namespace) -> tuple[str, str]:
    """(kind, name) of the one area ``export profile`` is for (:func:`_check_profile_area` checked there is one)."""
    return ("pcn", args.pcns[0]) if args.pcns else ("neighbourhood", args.neighbourhoods[0])


def run(args: argparse.Namespace) -> int:
    from estates.estate import current_sites

    if args.all_places:
        return _all_places(args)
    place = load_place()
    if args.what == "profile":
        _check_profile_area(args, place)
    # Check the path and format before the estate is read.
    resolve_output(args.out, args.fmt, folder_ok=args.what == "overlap")
    try:
        estate = current_sites(place, use_store=not args.no_store)
    except Exception as exc:  # an unreachable or unreadable store is a setting the user can fix
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(f"cannot read the store ({reason}); check ESTATES_DATABASE_URL, or use --no-store for "
                        "the rules' statuses") from None
    if args.what == "map":
        written = _export_map(args, estate, place)
    elif args.what == "profile":
        from estates.maps.profile_sheet import export_profile

        kind, name = _profile_area(args)
        written = export_profile(args.fmt, args.out, force=args.force, place=place, estate=estate, area_kind=kind,
                                 area_name=name)
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


def _export_map(args: argparse.Namespace, estate: Estate, place: Place) -> list[Path]:
    from estates.analysis.filters import Filters, filter_options, filter_sites

    filters = Filters().replace(search=args.search, **{f: tuple(getattr(args, f)) for f in _FILTER_OPTIONS.values()})
    options = filter_options(estate.records)
    for option, field in _FILTER_OPTIONS.items():
        unknown = [v for v in getattr(filters, field) if v not in options[field]]
        if unknown:
            raise UserError(f"--{option} {unknown[0]!r} is not in the estate (choose from: "
                            f"{', '.join(options[field][:12])}{' …' if len(options[field]) > 12 else ''})")
    sites = filter_sites(estate, filters)
    written = export_view(args.fmt, args.out, sites=sites, place=place, filters=filters, paper=args.paper,
                         force=args.force)
    print(f"{len(sites):,} sites" + (f" ({filters.describe()})" if filters.active else ""))
    return written
