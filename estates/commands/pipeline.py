"""``python -m estates pipeline``: ingest every register of the partner list, geocode, tag, match sites, report."""

from __future__ import annotations

import argparse
from pathlib import Path

from estates.cli import Handler, UserError, command
from estates.commands._online import add_online_options, online_progress_bar, online_settings
from estates.exports import write_table
from estates.ingest import format_pipeline_summary, run_pipeline
from estates.partners import ConfigError


@command("pipeline", help="Ingest every configured register, geocode, tag, match sites across partners and report.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("--config", type=Path, help="partner list (default: data/registers/registers.yaml)")
    parser.add_argument("--decisions", type=Path, help="match decisions CSV (default: the one the list names)")
    parser.add_argument("--out", type=Path, metavar="FOLDER",
                        help="write records.csv, issues.csv, sites.csv and matches.csv to FOLDER")
    parser.add_argument("--force", action="store_true", help="overwrite files in --out")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_online_options(parser)
    return run


def run(args: argparse.Namespace) -> int:
    if args.out is not None and not args.out.is_dir():
        raise UserError(f"--out {args.out}: no such folder")
    online = online_settings(args)
    try:
        with online_progress_bar(online) as update:
            per_register = None
            if update is not None and not args.no_progress:
                def per_register(key: str, done: int, total: int) -> None:
                    update(done, total, key)
            result = run_pipeline(args.config, progress=False if args.no_progress else None,
                                  decisions_path=args.decisions, online=online, online_progress=per_register)
    except (ConfigError, ValueError) as exc:
        raise UserError(str(exc)) from None
    print(format_pipeline_summary(result))
    if args.out is not None:
        for name, table in (("records", result.records), ("issues", result.issues), ("sites", result.sites),
                            ("matches", result.matches)):
            write_table(table, args.out / f"{name}.csv", force=args.force)
        print(f"wrote records.csv, issues.csv, sites.csv and matches.csv to {args.out}")
    return 1 if result.errors else 0
