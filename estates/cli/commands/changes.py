"""``python -m estates changes``: what changed in the store — the audit trail as a feed, printed or written."""

from __future__ import annotations

import argparse
from datetime import date, datetime, timedelta
from pathlib import Path

from estates.cli import Handler, UserError, command
from estates.cli.commands.store import add_store_option, open_cli_store

#: Days the feed covers when no --since is given (today and the six days before), as on the What changed page.
DEFAULT_DAYS = 7

_PRINTED = ("When", "Who", "Change", "Site", "Sites", "Records", "From → to", "Reason")


@command("changes", help="What changed: the audit trail as a feed (one row per change; a bulk change is one row), "
                         "filtered by date, person, partner, neighbourhood and kind; printed, or --out F.csv|F.xlsx.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    from estates.service import CHANGE_KINDS

    parser.add_argument("--since", metavar="YYYY-MM-DD",
                        help=f"first day (UK time; default: {DEFAULT_DAYS} days up to today)")
    parser.add_argument("--until", metavar="YYYY-MM-DD", help="last day, included (default: today)")
    parser.add_argument("--person", action="append", default=[], metavar="NAME",
                        help="only changes by this person (repeat for several; machine runs: ingest, rules)")
    parser.add_argument("--partner", action="append", default=[], metavar="NAME",
                        help="only changes touching this partner's records (repeatable)")
    parser.add_argument("--neighbourhood", action="append", default=[], metavar="NAME",
                        help="only changes touching sites in this neighbourhood (repeatable)")
    parser.add_argument("--kind", action="append", default=[], choices=CHANGE_KINDS, metavar="KIND",
                        help=f"only this kind of change (repeatable): {', '.join(CHANGE_KINDS)}")
    parser.add_argument("--by-site", action="store_true", help="one row per site of each change (bulk changes listed)")
    parser.add_argument("--out", type=Path, metavar="PATH", help="write the feed to a .csv or .xlsx file")
    parser.add_argument("--force", action="store_true", help="overwrite PATH if it exists")
    add_store_option(parser)
    return run


def _day(text: str | None, option: str) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UserError(f"{option} {text!r} is not a date: give it as YYYY-MM-DD, e.g. 2026-12-01") from None


def run(args: argparse.Namespace) -> int:
    from estates.exports import PLAIN_TABLE_FORMATS, check_table_target, export_table
    from estates.service import LOCAL_TIME, change_feed

    today = datetime.now(LOCAL_TIME).date()
    until = _day(args.until, "--until") or today
    since = _day(args.since, "--since") or until - timedelta(days=DEFAULT_DAYS - 1)
    if until < since:
        raise UserError(f"--until {until} is before --since {since}")
    if args.out is not None:  # checked before reading anything
        check_table_target(args.out, force=args.force, formats=PLAIN_TABLE_FORMATS)
    store = open_cli_store(args.store, read_only=True)
    feed = change_feed(store, since=since, until=until, people=args.person, partners=args.partner,
                       neighbourhoods=args.neighbourhood, kinds=args.kind, by="site" if args.by_site else "change")
    rows = "site row" if args.by_site else "change"
    summary = f"{len(feed):,} {rows}{'s' if len(feed) != 1 else ''} from {since} to {until} (UK time)"
    if args.out is not None:
        for path in export_table(feed, None, args.out, sheet="changes", force=args.force):
            print(f"{summary}; wrote {path}")
        return 0
    print(summary)
    if len(feed):
        shown = feed[list(_PRINTED)].assign(When=feed["When"].dt.strftime("%Y-%m-%d %H:%M"))
        print(shown.to_string(index=False, max_colwidth=48))
    return 0
