"""``python -m estates match {list,confirm,reject}``: review proposed site matches; decisions survive re-ingests."""

from __future__ import annotations

import argparse
from pathlib import Path

from estates.cli import Handler, UserError, command
from estates.ingest import run_pipeline
from estates.matching import record_decision
from estates.partners import ConfigError, load_registers_config


@command("match", help="List proposed site matches, or confirm/reject one (kept across re-ingests).")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("action", choices=("list", "confirm", "reject"))
    parser.add_argument("building_ids", nargs="*", metavar="BUILDING_ID", help="two ids for confirm/reject")
    parser.add_argument("--config", type=Path, help="partner list (default: data/registers/registers.yaml)")
    parser.add_argument("--decisions", type=Path, help="decisions CSV (default: the one the partner list names)")
    parser.add_argument("--note", default="", help="why (kept with the decision)")
    parser.add_argument("--by", default="", help="who decided")
    return run


def run(args: argparse.Namespace) -> int:
    try:
        config = load_registers_config(args.config)
    except ConfigError as exc:
        raise UserError(str(exc)) from None
    decisions = args.decisions or config.decisions
    if decisions is None:
        raise UserError("no decisions file: name one with --decisions or 'decisions:' in the partner list")
    if args.action == "list":
        result = run_pipeline(config, progress=False, decisions_path=decisions)
        proposed = result.matches[result.matches["status"] == "proposed"]
        for row in proposed.itertuples(index=False):
            print(f"{row.score:5.1f}  {row.building_id_a}  {row.building_id_b}\n       {row.name_a} | {row.name_b}"
                  f"\n       {row.reason}")
        print(f"{len(proposed)} proposed matches")
        return 0
    if len(args.building_ids) != 2:
        raise UserError(f"{args.action} needs two building ids")
    try:
        record_decision(decisions, *args.building_ids, args.action, decided_by=args.by, note=args.note)
    except (ValueError, OSError) as exc:
        raise UserError(str(exc)) from None
    print(f"recorded: {args.action} {args.building_ids[0]} ~ {args.building_ids[1]} in {decisions}")
    return 0
