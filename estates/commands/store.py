"""``python -m estates classify`` and ``python -m estates history``: the store from the command line."""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from estates.identity import local_user
from estates.store import NotFoundError, Store, format_history, open_store, reclassify


def _add_store_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--store", help="store path (.gpkg) or postgresql:// URL "
                                        "(default: ESTATES_DATABASE_URL, else the embedded file under var/)")


def _open(target: str | None, *, read_only: bool = False) -> Store:
    from estates.app_data import store_target

    try:
        return open_store(target or store_target(), read_only=read_only)
    except (ValueError, OSError) as exc:
        raise UserError(f"cannot open the store: {exc}") from None


def status_table(frame: pd.DataFrame) -> pd.DataFrame:
    """Partner × effective status (a person's override, else the rules'), with totals."""
    from estates.classification import status_counts

    effective = frame["override_status"].fillna(frame["rule_status"]).fillna("needs data")
    table = status_counts(frame, pd.DataFrame({"rule_status": effective}, index=frame.index))
    table.columns.name = None
    return table


@command("classify", help="Re-run the classification rules over every building in the store; print partner × status.")
def configure_classify(parser: argparse.ArgumentParser) -> Handler:
    _add_store_option(parser)
    parser.add_argument("--rules", type=Path, help="rules file (default: the place's classification.yaml)")
    return run_classify


def run_classify(args: argparse.Namespace) -> int:
    from estates.app_data import seed_store
    from estates.classification import DEFAULT_RULES, RulesError, load_rules

    try:
        rules = load_rules(args.rules or DEFAULT_RULES)
    except (RulesError, OSError) as exc:
        raise UserError(str(exc)) from None
    store = _open(args.store)
    actor = local_user()
    if len(store.buildings(columns=["partner"])) == 0:
        print(f"{store.location} is empty: loading the partner registers first…")
        report = seed_store(store)
        print(f"  {report.buildings}")
    changed = reclassify(store, rules, actor=actor)
    frame = store.buildings(columns=["partner", "rule_status", "override_status"])
    print(f"{changed} building(s) changed rule status (run by {actor}); overrides kept.")
    print(status_table(frame).to_string())
    return 0


@command("history", help="Print the audit history of one building: who, when, from, to, reason.")
def configure_history(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("building_id", help="e.g. trafford-council:TMBC0008/T0000001")
    _add_store_option(parser)
    return run_history


def run_history(args: argparse.Namespace) -> int:
    store = _open(args.store, read_only=True)  # reading never creates, migrates or writes a store
    try:
        entries = store.history(args.building_id)
        store.building(args.building_id)
    except NotFoundError:
        raise UserError(f"no building '{args.building_id}' in {store.location}") from None
    print(format_history(entries))
    return 0
