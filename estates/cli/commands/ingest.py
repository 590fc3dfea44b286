"""``python -m estates ingest FILE --partner NAME [--type TYPE]``: ingest one partner register into the store.

Accepted records join the estate (sites matched, rules re-run); rejected rows stay with the load, with their reasons.
``--dry-run`` reports without writing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from estates.cli.commands._online import add_online_options, online_progress_bar, online_settings
from estates.cli.commands._outputs import check_outputs
from estates.cli.commands.store import add_store_option, open_cli_store
from estates.exports import neutralise_formulas, write_table
from estates.ingest import IngestError, format_ingest_summary, ingest_register, update_records
from estates.ingest.partners import ConfigError, RegisterSpec, load_registers_config, partner_slug
from estates.schema import PARTNER_TYPES


@command("ingest", help="Ingest one partner register (CSV, XLSX, GeoJSON, GeoPackage): map, check, geocode, report.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("file", type=Path, help="the register file")
    parser.add_argument("--partner", required=True,
                        help="partner name (or the key of a register in the partner list, whose mapping is used)")
    parser.add_argument("--type", dest="partner_type", choices=PARTNER_TYPES,
                        help="partner type (default: from the partner list)")
    parser.add_argument("--sheet", help="XLSX sheet or GeoPackage layer (default: picked automatically)")
    parser.add_argument("--header-row", type=int, metavar="N",
                        help="1-based row of the header, when it is not among the first rows")
    parser.add_argument("--column", action="append", default=[], metavar="FIELD=COLUMN",
                        help="map a register column to a field, e.g. --column postcode='Post Code' (repeatable; "
                             "FIELD= leaves the field unmapped)")
    parser.add_argument("--historic", action="store_true", help="flag the records as from an out-of-date source")
    add_online_options(parser)
    parser.add_argument("--config", type=Path, help="partner list (default: data/registers/registers.yaml)")
    parser.add_argument("--out", type=Path, help="write the records to .csv/.xlsx/.geojson/.gpkg")
    parser.add_argument("--issues", type=Path, help="write one row per issue to .csv/.xlsx")
    parser.add_argument("--update", type=Path, metavar="RECORDS_CSV",
                        help="merge into a records CSV by building id (re-ingesting updates, never duplicates)")
    parser.add_argument("--force", action="store_true", help="overwrite --out/--issues if they exist")
    parser.add_argument("--show", type=int, default=10, help="how many issues to print (default 10)")
    parser.add_argument("--dry-run", action="store_true", help="report only: write nothing to the store")
    add_store_option(parser)
    return run


def _configured(args: argparse.Namespace) -> RegisterSpec | None:
    try:
        config = load_registers_config(args.config)
    except ConfigError as exc:
        if args.config is not None:
            raise UserError(str(exc)) from None
        return None
    wanted = partner_slug(args.partner) if any(c.isalnum() for c in args.partner) else ""
    for spec in config.registers:
        if args.partner == spec.key or wanted == spec.slug:
            return spec
    return None


def _column_overrides(values: list[str]) -> dict[str, object]:
    overrides: dict[str, object] = {}
    for value in values:
        field, sep, column = value.partition("=")
        if not sep or not field.strip():
            raise UserError(f"--column expects FIELD=COLUMN, got '{value}'")
        overrides[field.strip()] = column.strip() or None
    return overrides


def run(args: argparse.Namespace) -> int:
    if not args.file.exists():
        raise UserError(f"{args.file}: no such file")
    check_outputs({"--out": args.out, "--issues": args.issues}, reads=args.file, force=args.force)
    spec = _configured(args)
    partner = spec.partner if spec is not None else args.partner
    partner_type = args.partner_type or (spec.partner_type if spec is not None else None)
    if partner_type is None:
        raise UserError(f"partner '{args.partner}' is not in the partner list: give its type with --type "
                        f"({', '.join(PARTNER_TYPES)})")
    mapping = dict(spec.columns) if spec is not None else {}
    mapping.update(_column_overrides(args.column))
    online = online_settings(args)
    try:
        with online_progress_bar(online) as report_online:
            result = ingest_register(args.file, partner=partner, partner_type=partner_type, mapping=mapping,
                                     units=spec.units if spec is not None else None,
                                     sheet=args.sheet or (spec.sheet if spec is not None else None),
                                     historic=args.historic or (spec.historic if spec is not None else False),
                                     online=online, online_progress=report_online, header_row=args.header_row)
    except IngestError as exc:
        raise UserError(str(exc)) from None
    print(format_ingest_summary(result, show_issues=args.show))
    if args.out is not None:
        write_table(result.records, args.out, force=args.force)
        print(f"wrote {len(result.records)} records to {args.out}")
    if args.issues is not None:
        write_table(result.issues, args.issues, force=args.force)
        print(f"wrote {len(result.issues)} issues to {args.issues}")
    if args.update is not None:
        update(args.update, result.records)
    if not args.dry_run:
        from estates.identity import local_user
        from estates.service import ingest_into_store, read_estate

        with open_cli_store(args.store) as store:
            outcome = ingest_into_store(store, result.records, actor=local_user(), source=args.file.name)
            caption = read_estate(store).caption()
        print(f"store {store.location}: {outcome['inserted']} new, {outcome['updated']} updated, "
              f"{outcome['unchanged']} unchanged records; {outcome['rejected']} rejected rows kept with the load "
              f"(not in the estate); {caption}")
    return 0


def update(path: Path, records: pd.DataFrame) -> None:
    """Merge ``records`` into the records CSV at ``path`` (created when missing) and print what changed."""
    existing = None
    if path.exists():
        try:
            existing = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
        except (OSError, ValueError, pd.errors.ParserError) as exc:
            raise UserError(f"cannot read {path}: {exc}") from None
        if "building_id" not in existing or "partner" not in existing:
            raise UserError(f"{path} is not a records file (no building_id/partner columns)")
    # Compare as the file stores them: text, formulas neutralised.
    fresh = neutralise_formulas(records).astype(str).replace({"nan": "", "None": "", "<NA>": ""})
    merged, counts = update_records(existing, fresh)
    write_table(merged, path, force=True)
    print(f"updated {path}: {counts['added']} added, {counts['updated']} updated, {counts['unchanged']} unchanged, "
          f"{counts['removed']} removed ({len(merged)} records)")
