"""``python -m estates place build --la CODE --out DIR``: build a place folder for a local authority from open data."""

from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import fields, replace
from pathlib import Path

from estates.cli import Handler, UserError, command
from geo.builder import Sources, build_place, sources_from_recipe
from geo.place import DATA_DIR

#: Default folder of the raw open data (beside the project, as in development and CI).
DEFAULT_RAW = DATA_DIR.parent.parent / "shared" / "data" / "raw"
_FILE_OPTIONS = [f.name for f in fields(Sources) if f.name != "lsoa11_parents"]


@command("place", help="Build a place folder (boundary, wards, LSOAs, postcodes, PCNs) for a local authority.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    sub = parser.add_subparsers(dest="place_command", metavar="ACTION", required=True)
    build = sub.add_parser("build", help="build a place folder from ONS/NHS open data (docs/places.md)",
                           description="Build a place folder from ONS/NHS open data (docs/places.md). Each "
                                       "source option takes a file of the same layout as the default.")
    build.add_argument("--la", required=True, metavar="CODE", help="ONS GSS code of the local authority, e.g. "
                                                                  "E08000006 (Salford)")
    build.add_argument("--out", type=Path, required=True, help="output folder (e.g. data/salford)")
    build.add_argument("--raw", type=Path, default=DEFAULT_RAW,
                       help="folder the default sources are in (default: ../shared/data/raw)")
    build.add_argument("--recipe", type=Path, help="TOML recipe naming the sources (data/trafford/recipe.toml)")
    build.add_argument("--name", help="display name (default: the boundary file's name)")
    build.add_argument("--slug", help="short id used in column names, e.g. outside_salford (default: from name)")
    build.add_argument("--pilot", help="neighbourhood pages default to (only with --neighbourhoods)")
    build.add_argument("--force", action="store_true", help="write into an existing place folder")
    defaults = Sources()
    for name in _FILE_OPTIONS:
        default = getattr(defaults, name)
        build.add_argument(f"--{name.replace('_', '-')}", dest=f"source_{name}", metavar="FILE",
                           help=f"(default: {default or 'none'})")
    return run


def run(args: argparse.Namespace) -> int:
    raw: Path = args.raw
    if not raw.is_dir():
        raise UserError(f"{raw}: no such folder (give the folder of the raw open data with --raw)")
    la_code = args.la.strip().upper()
    if not (len(la_code) == 9 and la_code[0] in "EWS" and la_code[1:].isdigit()):
        raise UserError(f"--la {args.la!r} is not an ONS local-authority code such as E08000006")
    out: Path = args.out
    if (out / "place.toml").exists() and not args.force:
        raise UserError(f"{out} already holds a place (place.toml); add --force to rebuild it")
    sources, recipe = (sources_from_recipe(args.recipe) if args.recipe is not None else (Sources(), {}))
    info = recipe.get("place", {})
    given = {name: str(Path(value).resolve()) for name in _FILE_OPTIONS
             if (value := getattr(args, f"source_{name}")) is not None}
    missing = [value for value in given.values() if not Path(value).exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such file")
    sources = replace(sources, **given)
    template = info.get("place_toml")
    report = build_place(raw, out, la_code=la_code, sources=sources, name=args.name or info.get("name"),
                         slug=args.slug or info.get("slug"), pilot=args.pilot,
                         place_toml=args.recipe.parent / template if template else None,
                         command="python -m estates " + shlex.join(sys.argv[1:] if sys.argv[1:] else ["place"]))
    print(report)
    print(f"use it with: ESTATES_PLACE={out} python -m estates geocode …")
    return 0
