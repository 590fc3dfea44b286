"""Code the concurrency tests run in other processes (spawned, so it must be importable by name)."""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

import pandas as pd

from estates.schema import STATUSES
from estates.store import StaleVersionError, open_store


def editor(url: str, actor: str, ids: list[str], successes: int, seed: int, start: Any, out: Any) -> None:
    """Read a building, set its status on the version read; repeat until ``successes`` edits were saved.

    Every tenth attempt deliberately reuses a version this process already changed, so conflicts happen for sure
    (the other process causes more). Reports every saved edit and every refusal.
    """
    store = open_store(url)
    rng = random.Random(seed)
    saved: list[tuple[str, int, str]] = []  # (building, new version, status)
    refused: list[tuple[str, int, int, str | None, str]] = []  # (building, expected, current, changed_by, message)
    stale: dict[str, int] = {}
    attempts = 0
    start.wait()
    while len(saved) < successes:
        bid = rng.choice(ids)
        attempts += 1
        expected = stale[bid] if attempts % 10 == 0 and bid in stale else store.building(bid).version
        status = rng.choice(STATUSES)
        try:
            version = store.set_status(bid, status, reason=f"{actor} attempt {attempts}", actor=actor,
                                       expected_version=expected)
        except StaleVersionError as exc:
            c = exc.conflicts[0]
            refused.append((c.building_id, c.expected_version, c.current_version, c.changed_by, str(exc)))
            continue
        saved.append((bid, version, status))
        stale[bid] = expected
    store.close()
    out.put({"actor": actor, "attempts": attempts, "saved": saved, "refused": refused})


def bulk_saver(url: str, ids: list[str], progress: str) -> None:
    """Save rule results for all ``ids`` in one transaction, alternating statuses, forever (until killed)."""
    store = open_store(url)
    run = 0
    while True:
        status = ("core", "surplus")[run % 2]
        store.save_rule_results(pd.DataFrame({"building_id": ids, "rule_status": status,
                                              "explanation": f"run {run}"}), actor=f"rules run {run}")
        run += 1
        Path(progress).write_text(str(run))


def flipper(url: str, rounds: int, ready: Any, done: Any) -> None:
    """Alternate bulk rule runs and bulk overrides over every building, ``rounds`` times."""
    store = open_store(url)
    ready.wait()
    try:
        for k in range(rounds):
            status = ("core", "surplus")[k % 2]
            store.save_rule_results(pd.DataFrame({"building_id": store.buildings()["building_id"],
                                                  "rule_status": status, "explanation": f"run {k}"}),
                                    actor=f"rules {k}")
            frame = store.buildings()
            versions = dict(zip(frame["building_id"], frame["version"].astype(int), strict=True))
            store.bulk_set_status(versions, ("key", "needs data")[k % 2], reason=f"bulk {k}", actor=f"lead {k}")
            time.sleep(0.01)
    finally:
        done.set()
        store.close()


def reader(url: str, ready: Any, done: Any, out: Any) -> None:
    """Poll ``buildings()`` until the writer is done; count snapshots that mix two states."""
    store = open_store(url)
    snapshots, mixed, states = 0, [], set()
    columns = ["rule_status", "rule_explanation", "override_status", "override_reason", "version", "updated_by"]
    ready.set()
    while True:
        finished = done.is_set()
        frame = store.buildings(columns=columns)
        snapshots += 1
        distinct = frame[columns].astype(str).drop_duplicates()
        if len(distinct) != 1:
            mixed.append(distinct.head(3).to_dict("records"))
        else:
            states.add(tuple(distinct.iloc[0]))
        if finished:
            break
    store.close()
    out.put({"snapshots": snapshots, "mixed": mixed, "states": len(states), "rows": len(frame)})
