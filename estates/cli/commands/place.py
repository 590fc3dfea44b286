"""``python -m estates place build --la CODE --out DIR``: build a place folder for a local authority from open data."""

from __future__ import annotations

import argparse
import re
import shlex
import sys
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from geo.builder import Sources, build_place, sources_from_recipe
from geo.place import DATA_DIR, PlaceError
from geo.postcodes import PostcodeKind, PostcodeTable, normalise_postcodes

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
    build.add_argument("--rules", type=Path, metavar="FILE",
                       help="classification rules (YAML, docs/classification.md) to copy in as the place's own")
    build.add_argument("--demo-registers", action="store_true",
                       help="also write a demo estate of the borough's open NHS registers (ODS GP sites, practice → "
                            "PCN) to OUT/registers with its registers.yaml")
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
    if args.rules is not None and not args.rules.is_file():
        raise UserError(f"{args.rules}: no such file")
    config = {}
    if args.rules is not None:
        config["classification"] = "classification.yaml"
    if args.demo_registers:
        config["registers"] = "registers/registers.yaml"
    template = info.get("place_toml")
    report = build_place(raw, out, la_code=la_code, sources=sources, name=args.name or info.get("name"),
                         slug=args.slug or info.get("slug"), pilot=args.pilot,
                         place_toml=args.recipe.parent / template if template else None, config=config,
                         command="python -m estates " + shlex.join(sys.argv[1:] if sys.argv[1:] else ["place"]))
    if args.rules is not None:
        text = args.rules.read_text(encoding="utf-8")
        # The rules name their place; a copied file is this place's own from now on.
        text = re.sub(r"(?m)^place:.*$", f"place: {report.slug}", text)
        (out / "classification.yaml").write_text(text, encoding="utf-8")
    if args.demo_registers:
        write_demo_registers(raw, out, sources=sources, la_code=la_code, name=report.name, slug=report.slug)
    print(report)
    print(f"use it with: ESTATES_PLACE={out} python -m estates geocode …")
    return 0


def _in_authority(postcodes: pd.Series, la_code: str) -> pd.Series:
    """True for rows whose postcode ONSPD puts in ``la_code``."""
    normalised = normalise_postcodes(postcodes)["postcode_normalised"].to_numpy(dtype=object)
    members = PostcodeTable(pd.DataFrame()).local_authorities(normalised, PostcodeKind.FULL)
    return pd.Series([la_code in m for m in members], index=postcodes.index)


def write_demo_registers(raw: Path, out: Path, *, sources: Sources, la_code: str, name: str, slug: str) -> None:
    """A demo estate of the borough's open NHS registers, as they arrived (rows whose postcode is in the borough).

    Writes ``registers/<slug>_uprn_gp_practices.csv`` (NHS ODS GP-practice-role sites), ``registers/<slug>_gp_practice_
    pcn_map_<date>.csv`` (NHS Digital practice → PCN) and ``registers/registers.yaml`` (the partner list).
    """
    folder = out / "registers"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    if sources.practice_sites is not None:
        path = raw / sources.practice_sites  # an absolute path stays itself
        if not path.exists():
            raise PlaceError(f"practice_sites source {path} does not exist")
        sites = pd.read_excel(path, dtype=str) if path.suffix.lower() == ".xlsx" else pd.read_csv(path, dtype=str)
        sites = sites[_in_authority(sites["Postcode"], la_code)]
        if "UPRN" in sites.columns:  # stored as a float in the workbook: "10090372480.0" → "10090372480"
            sites["UPRN"] = sites["UPRN"].str.replace(r"\.0$", "", regex=True)
        file = f"{slug}_uprn_gp_practices.csv"
        sites.to_csv(folder / file, index=False)
        entries.append(f"""  - key: gp_role_sites
    partner: NHS ODS prescribing settings (GP role)
    partner_type: gp
    file: {file}
    columns:
      address_line_2: [Address_Line_2, Address_Line_3]
      x: null
      y: null
    note: ODS sites with the GP-practice role in {name}, with UPRN (NHS Transformation Unit asset mapping, 2025-06).
""")
    path = raw / sources.pcn_map
    pcn = pd.read_csv(path, dtype=str)
    pcn = pcn[_in_authority(pcn["PRACTICE_POSTCODE"], la_code)]
    date = pd.to_datetime(pcn["EXTRACT_DATE"].iloc[0], format="%d%b%Y").strftime("%Y-%m")
    file = f"{slug}_gp_practice_pcn_map_{date}.csv"
    pcn.to_csv(folder / file, index=False)
    entries.append(f"""  - key: pcn_membership
    partner: Primary Care Networks (NHS Digital, {date})
    partner_type: pcn
    file: {file}
    historic: true
    note: Practice -> PCN membership ({date}), the practice sites each PCN works from; check against a current list.
""")
    (folder / "registers.yaml").write_text(f"""# The demo estate of {name}: its open NHS registers as they arrived,
# written by `python -m estates place build --demo-registers`
# (format: data/registers/registers.yaml; sources: data/README.md).
place: {slug}

registers:
{chr(10).join(entries)}""", encoding="utf-8")
