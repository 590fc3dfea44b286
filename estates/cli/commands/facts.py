"""``python -m estates facts export|import|template|completeness``: partner data requests from the command line.

``export --partner NAME --out FILE.xlsx`` writes a partner's data-request workbook; ``import FILE.xlsx --reason TEXT``
reads it back as returned, shows every change and refusal, and (unless ``--dry-run``) stores the facts with an audit
row each and re-runs the rules; ``template --type TYPE --out FILE.xlsx`` writes the register template for a partner
type with no register; ``completeness`` prints how many sites have each fact and which missing facts would decide
the most "needs data" sites. See ``docs/facts.md``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import pandas as pd

from estates.cli import Handler, UserError, command
from estates.cli.commands.store import add_store_option, open_cli_store
from estates.identity import local_user


def _rules(path: Path | None):  # noqa: ANN202 - a RuleSet
    from estates.classification import DEFAULT_RULES, RulesError, load_rules

    try:
        return load_rules(path or DEFAULT_RULES)
    except (RulesError, OSError) as exc:
        raise UserError(str(exc)) from None


def _output(path: Path, force: bool) -> Path:
    from estates.exports import check_table_target

    return check_table_target(path, force=force, formats=("xlsx",))


def _save(target: Path, write) -> None:  # noqa: ANN001 - write(path)
    """Write to a temporary file beside ``target`` and move it into place: never a half-written workbook."""
    fd, tmp = tempfile.mkstemp(prefix=".facts-", suffix=".xlsx", dir=target.parent)
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@command("facts", help="Partner data requests: export a partner's workbook, import a returned one, register "
                       "templates, completeness.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    exp = sub.add_parser("export", help="write a partner's data-request workbook (one row per site)")
    exp.add_argument("--partner", required=True, help="partner name as in the store, e.g. 'Trafford Council'")
    exp.add_argument("--out", type=Path, required=True, metavar="FILE.xlsx")
    exp.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    imp = sub.add_parser("import", help="read a returned workbook: preview, then store the facts and re-run the rules")
    imp.add_argument("file", type=Path, metavar="FILE.xlsx")
    imp.add_argument("--reason", help="why these facts are recorded (kept in the audit trail; needed to write)")
    imp.add_argument("--dry-run", action="store_true", help="show what would change; write nothing")
    tpl = sub.add_parser("template", help="write the register template for a partner type with no register yet")
    tpl.add_argument("--type", dest="partner_type", required=True, help="partner type, e.g. police")
    tpl.add_argument("--out", type=Path, required=True, metavar="FILE.xlsx")
    tpl.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    com = sub.add_parser("completeness", help="sites with each fact, per partner or neighbourhood; the facts that "
                                              "would decide the most 'needs data' sites")
    com.add_argument("--by", default="partner", choices=("partner", "neighbourhood", "both"),
                     help="group sites by partner, neighbourhood, or both (partner × neighbourhood)")
    for p in (exp, imp, tpl, com):
        add_store_option(p)
        p.add_argument("--rules", type=Path, help="rules file (default: the place's classification.yaml)")
    return run


def run(args: argparse.Namespace) -> int:
    return {"export": _export, "import": _import, "template": _template, "completeness": _completeness}[
        args.action](args)


def _export(args: argparse.Namespace) -> int:
    from estates.facts import facts_frame, requested_facts, write_request

    target = _output(args.out, args.force)
    rules = _rules(args.rules)
    with open_cli_store(args.store) as store:
        frame = facts_frame(store, requested_facts(rules))
    partners = sorted(frame["partner"].dropna().unique(), key=str.casefold)
    if args.partner not in partners:
        close = [p for p in partners if args.partner.casefold() in p.casefold()]
        raise UserError(f"no records of partner '{args.partner}' in the store"
                        + (f"; did you mean: {', '.join(close)}" if close else f" (partners: {', '.join(partners)})"))
    n = 0

    def write(path: str) -> None:
        nonlocal n
        n = write_request(path, frame, args.partner, rules)

    _save(target, write)
    print(f"wrote {target}: {n} site(s) of {args.partner}")
    return 0


def _template(args: argparse.Namespace) -> int:
    from estates.facts import write_register_template
    from estates.schema import PARTNER_TYPES

    if args.partner_type not in PARTNER_TYPES:
        raise UserError(f"unknown partner type '{args.partner_type}' (use one of {', '.join(PARTNER_TYPES)})")
    target = _output(args.out, args.force)
    rules = _rules(args.rules)
    _save(target, lambda path: write_register_template(path, args.partner_type, rules))
    print(f"wrote {target}: register template for {args.partner_type}")
    return 0


def _import(args: argparse.Namespace) -> int:
    from estates.facts import apply_import, preview_import
    from estates.store import StaleVersionError

    path: Path = args.file
    if not path.is_file():
        raise UserError(f"{path}: no such file")
    if not args.dry_run and not (args.reason or "").strip():
        raise UserError("give --reason (kept in the audit trail), or --dry-run to only preview")
    rules = _rules(args.rules)
    with open_cli_store(args.store) as store:
        try:
            preview = preview_import(store, path, rules)
        except ValueError as exc:
            raise UserError(f"{path.name}: {exc}") from None
        _print_preview(preview)
        if args.dry_run:
            print("dry run: nothing written")
            return 0
        if preview.changes.empty:
            print("nothing to write")
            return 0
        try:
            result = apply_import(store, preview, rules, actor=local_user(), reason=args.reason)
        except StaleVersionError as exc:
            raise UserError(f"{exc} Run the import again to preview the current values.") from None
    print(f"wrote {result.changed_values} value(s) on {len(result.versions)} record(s) from {preview.file}; "
          f"{result.rule_changes} rule status(es) changed.")
    print(result.moves.describe())
    return 0


def _print_preview(preview) -> None:  # noqa: ANN001 - ImportPreview
    print(preview.summary())
    with pd.option_context("display.width", 200, "display.max_colwidth", 60, "display.max_rows", 400):
        if len(preview.changes):
            shown = preview.changes[["row", "building_id", "label", "old", "new", "as_written", "note"]]
            print("\nchanges (old → new):")
            print(shown.fillna("∅").to_string(index=False))
        if len(preview.refused):
            print("\nrefused:")
            print(preview.refused.to_string(index=False))
        odd = preview.rows[preview.rows["note"] != ""]
        if len(odd):
            print("\nrows:")
            print(odd.to_string(index=False))


def _completeness(args: argparse.Namespace) -> int:
    from estates.facts import completeness, deciding_facts, facts_frame, needs_data_counts, requested_facts

    rules = _rules(args.rules)
    with open_cli_store(args.store) as store:
        facts = requested_facts(rules)
        frame = facts_frame(store, facts)
    records, sites = needs_data_counts(frame)
    print(f"needs data: {records} record(s) on {sites} site(s)")
    with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 200):
        by = ("partner", "neighbourhood") if args.by == "both" else args.by
        print(completeness(frame, facts, by=by).to_string(index=False))
        print("\nmissing facts that would decide the most 'needs data' sites:")
        print(deciding_facts(frame, facts).to_string(index=False))
    return 0
