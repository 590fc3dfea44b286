"""``python -m estates pipeline``: load every register of the partner list into the store; per-partner report.

Reads, geocodes, tags and checks every register, writes the accepted records to the store (rejected rows stay with
their load), matches sites with the store's decisions and re-runs the rules. ``--dry-run`` reads and matches in
memory and writes nothing.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from estates.cli import Handler, UserError, command
from estates.cli.commands._online import add_online_options, online_progress_bar, online_settings
from estates.cli.commands.store import add_store_option, open_cli_store
from estates.exports import check_table_target, write_table
from estates.ingest import format_pipeline_summary, run_pipeline
from estates.ingest.partners import ConfigError


def _out_tables(*, dry_run: bool) -> tuple[str, ...]:
    """The tables ``--out`` receives as CSV files (sites and matches only from a dry run: the store keeps them)."""
    return ("records", "issues", "sites", "matches") if dry_run else ("records", "issues")


@command("pipeline", help="Load every configured register into the store: geocode, tag, match sites, classify.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--config", type=Path, help="partner list (default: data/registers/registers.yaml)")
    parser.add_argument("--decisions", type=Path,
                        help="match decisions CSV for --dry-run (default: the one the list names; the store keeps "
                             "its own decisions and imports the list's file once)")
    parser.add_argument("--out", type=Path, metavar="FOLDER",
                        help="also write records.csv, issues.csv (and with --dry-run sites.csv, matches.csv) to FOLDER")
    parser.add_argument("--force", action="store_true", help="overwrite files in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--dry-run", action="store_true", help="read and match in memory: write nothing to the store")
    add_store_option(parser)
    add_online_options(parser)
    return run


def run(args: argparse.Namespace) -> int:
    if args.out is not None:
        if not args.out.is_dir():
            raise UserError(f"--out {args.out}: no such folder")
        for name in _out_tables(dry_run=args.dry_run):
            check_table_target(args.out / f"{name}.csv", force=args.force)
    online = online_settings(args)
    store = None if args.dry_run else open_cli_store(args.store)
    try:
        with online_progress_bar(online) as update:
            per_register = None
            if update is not None and not args.no_progress:
                def per_register(key: str, done: int, total: int) -> None:
                    update(done, total, key)
            if store is None:
                result = run_pipeline(args.config, progress=False if args.no_progress else None,
                                      decisions_path=args.decisions, online=online, online_progress=per_register)
            else:
                from estates.service import load_registers

                report = load_registers(store, config=args.config, online=online, online_progress=per_register)
                result = report.pipeline
    except (ConfigError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(format_pipeline_summary(result))
    if store is not None:
        from estates.service import read_estate

        estate = read_estate(store)
        proposed = int(store.sites()["proposed"].gt(0).sum()) if len(estate.sites) else 0
        shared = int((estate.sites["partner_count"] > 1).sum())
        print(f"store {store.location}: {estate.caption()}; {shared} sites shared by more than one partner, "
              f"{proposed} with proposed matches awaiting a decision (python -m estates match list); "
              f"{report.rejected} rejected rows kept with their loads; {report.decisions} match decisions imported")
        store.close()
    if args.out is not None:
        names = _out_tables(dry_run=store is None)
        for name in names:
            write_table(getattr(result, name), args.out / f"{name}.csv", force=args.force)
        print(f"wrote {', '.join(n + '.csv' for n in names)} to {args.out}")
    return 1 if result.errors else 0
