"""``python -m estates match …``: review proposed site matches and decide, in the store (audited, undoable).

``list`` prints one line per proposal (score, record A, record B) with the names and why; ``confirm A B`` puts two
records on one site, ``reject A B`` keeps them apart, ``split RECORD`` takes a record out of its site, ``merge A B``
makes two sites (or the sites of two records) one, ``undo ID`` reverses the latest decision on a site or record.
Every decision needs ``--reason`` and is made as the signed-in or operating-system user.
"""

from __future__ import annotations

import argparse

from estates.cli import Handler, UserError, command
from estates.cli.commands.store import add_store_option, open_cli_store
from estates.store import NothingToUndoError, StaleVersionError, StoreError

_NEEDS = {"list": 0, "confirm": 2, "reject": 2, "split": 1, "merge": 2, "undo": 1}


@command("match", help="List proposed site matches; confirm/reject a pair, split a record out, merge sites, undo.")
def configure(parser: argparse.ArgumentParser) -> Handler:
    parser.add_argument("action", choices=tuple(_NEEDS))
    parser.add_argument("ids", nargs="*", metavar="ID", help="record ids (confirm/reject/split), site or record ids "
                                                           "(merge/undo)")
    parser.add_argument("--reason", default="", help="why (required for a decision; kept in the audit trail)")
    add_store_option(parser)
    return run


def run(args: argparse.Namespace) -> int:
    from estates import service
    from estates.identity import local_user

    needed = _NEEDS[args.action]
    if len(args.ids) != needed:
        raise UserError(f"match {args.action} needs {needed} id{'s' if needed != 1 else ''}, got {len(args.ids)}")
    if args.action != "list" and not args.reason.strip():
        raise UserError(f"match {args.action} needs --reason TEXT (kept with the decision)")
    store = open_cli_store(args.store)
    if args.action == "list":
        from estates.sites.matching import undecided_proposals
        from geo.place import load_place

        proposed = undecided_proposals(store.site_matches(place=load_place().slug))  # this place's pairs
        for row in proposed.itertuples(index=False):
            print(f"{row.score:5.1f}  {row.building_id_a}  {row.building_id_b}\n       {row.name_a} | {row.name_b}"
                  f"\n       {row.reason}")
        print(f"{len(proposed)} proposed matches")
        return 0
    actor, reason = local_user(), args.reason.strip()
    try:
        if args.action in ("confirm", "reject"):
            service.decide_match(store, args.ids[0], args.ids[1], args.action, reason=reason, actor=actor)
        elif args.action == "split":
            service.split_record(store, args.ids[0], reason=reason, actor=actor)
        elif args.action == "merge":
            service.merge_sites(store, args.ids[0], args.ids[1], reason=reason, actor=actor)
        else:
            done = service.undo_latest(store, args.ids[0], actor=actor, reason=reason)
            print(f"undone: the latest {done.replace('_', ' ')} on {args.ids[0]} (by {actor})")
    except (NothingToUndoError, StaleVersionError) as exc:
        raise UserError(str(exc)) from None
    except (StoreError, KeyError, ValueError, PermissionError) as exc:
        raise UserError(str(exc).strip("'\"")) from None
    estate = service.read_estate(store)
    if args.action != "undo":
        sites = [service.resolve_site(estate, i) for i in args.ids]
        print(f"{args.action}: {' '.join(args.ids)} — now {len(set(sites))} site{'s' if len(set(sites)) != 1 else ''}"
              f" ({', '.join(dict.fromkeys(sites))}); by {actor}: {reason}")
    print(estate.caption())
    return 0
