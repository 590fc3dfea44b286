"""``python -m estates classify`` and ``python -m estates history``: the store from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from estates.identity import local_user
from estates.store import NotFoundError, Store, format_history, open_store


def add_store_option(parser: argparse.ArgumentParser) -> None:
    """The ``--store`` option every command that reads or writes the store shares."""
    parser.add_argument("--store", help="store path (.gpkg) or postgresql:// URL "
                                        "(default: ESTATES_DATABASE_URL, else the embedded file under var/)")


def open_cli_store(target: str | None, *, read_only: bool = False) -> Store:
    """Open the store a command names (``--store``), else the default; a failure is a one-line user error.

    ``read_only`` (history, export, match list): nothing is created, migrated or written.
    """
    from estates.service import store_target

    try:
        return open_store(target or store_target(), read_only=read_only)
    except (ValueError, OSError) as exc:
        raise UserError(f"cannot open the store: {exc}") from None


def status_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Partner × status of the sites they occupy (a person's override, else the rules'), with totals."""
    from estates.classification import status_crosstab

    effective = frame["status"].fillna("needs data")
    table = status_crosstab(frame, pd.DataFrame({"rule_status": effective}, index=frame.index))
    table.columns.name = None
    return table


@command("classify", help="Re-run the classification rules over the store; print partner × site status.")
def configure_classify(parser: argparse.ArgumentParser) -> Handler:
    add_store_option(parser)
    parser.add_argument("--rules", type=Path, help="rules file (default: the place's classification.yaml)")
    return run_classify


def run_classify(args: argparse.Namespace) -> int:
    from estates.classification import DEFAULT_RULES, RulesError, load_rules
    from estates.service import load_registers, read_estate, reclassify

    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
    except (RulesError, OSError) as exc:
        raise UserError(str(exc)) from None
    store = open_cli_store(args.store)
    actor = local_user()
    from geo.place import load_place

    if load_place().slug not in store.places():  # this place's estate is not in the store yet
        print(f"{store.location} is empty: loading the partner registers first…")
        report = load_registers(store)
        print(f"  {report.buildings}")
    changed = reclassify(store, rules, actor=actor)
    estate = read_estate(store)
    print(f"{changed} record(s) changed rule suggestion (run by {actor}); overrides kept. {estate.caption()}.")
    print(status_table(estate.records).to_string())
    return 0


@command("history", help="Print the audit history of a site or a record: who, when, from, to, reason.")
def configure_history(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("id", metavar="ID", help="a site id (site:…) or a record id, e.g. trafford-council:TMBC0008")
    add_store_option(parser)
    return run_history


def run_history(args: argparse.Namespace) -> int:
    from estates.service import site_history

    store = open_cli_store(args.store, read_only=True)  # reading never creates, migrates or writes a store
    try:
        entries = site_history(store, args.id)
    except NotFoundError:
        raise UserError(f"no site or record '{args.id}' in {store.location}") from None
    print(format_history(entries))
    return 0
