"""Several processes on one store, on both backends: no lost update, crash safety, consistent reads."""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import sqlite3
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
import store_workers
from store_helpers import check_audit_matches_data, trafford_records

from estates.store import open_store
from estates.store.postgis import split_url

SPAWN = mp.get_context("spawn")
EDITS = 500  # saved edits per process


def test_two_processes_editing_the_same_buildings_lose_nothing(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert_buildings(trafford_records(), actor="ingest", source="assets.csv")
        ids = store.buildings()["building_id"].head(8).tolist()
    start, out = SPAWN.Event(), SPAWN.Queue()
    workers = [SPAWN.Process(target=store_workers.editor, args=(store_url, actor, ids, EDITS, seed, start, out))
               for actor, seed in (("alice", 1), ("bob", 2))]
    for w in workers:
        w.start()
    start.set()
    reports = {r["actor"]: r for r in (out.get(timeout=240) for _ in workers)}
    for w in workers:
        w.join(timeout=60)
        assert w.exitcode == 0
    saved = [(actor, *s) for actor, r in reports.items() for s in r["saved"]]
    print({a: {"attempts": r["attempts"], "saved": len(r["saved"]), "refused": len(r["refused"])}
           for a, r in reports.items()})
    for actor, r in reports.items():
        assert len(r["saved"]) == EDITS
        assert len(r["saved"]) + len(r["refused"]) == r["attempts"]  # every attempt saved or refused, loudly
        assert len(r["refused"]) >= EDITS // 20, f"{actor} saw too few conflicts to prove anything"
        for bid, expected, current, changed_by, message in r["refused"]:
            assert current > expected
            assert changed_by in ("alice", "bob")
            assert f"building {bid} was changed by {changed_by} at " in message
    with open_store(store_url) as store:
        frame = store.buildings(ids=ids).set_index("building_id")
        log = store.audit_log(building_ids=ids)
        overrides = log[log["action"] == "override"]
        by_building: dict[str, list[tuple[int, str, str]]] = defaultdict(list)
        for actor, bid, version, status in saved:
            by_building[bid].append((version, status, actor))
        for bid in ids:
            edits = sorted(by_building[bid])
            # each saved edit produced exactly the next version: none overwrote another unseen
            assert [v for v, _, _ in edits] == list(range(2, 2 + len(edits)))
            assert frame.loc[bid, "version"] == 1 + len(edits)
            final = edits[-1] if edits else None
            assert frame.loc[bid, "override_status"] == (final[1] if final else None)
            trail = overrides[overrides["building_id"] == bid]
            assert list(zip(trail["to_value"], trail["actor"], strict=True)) == [(s, a) for _, s, a in edits]
        assert len(overrides) == 2 * EDITS
        check_audit_matches_data(store)


def _writer_in_transaction(url: str, conninfo: str | None) -> bool:
    """Whether the killed-to-be writer is inside its write transaction right now."""
    if conninfo is None:  # GeoPackage: the write lock is held from BEGIN IMMEDIATE to COMMIT
        probe = sqlite3.connect(url, timeout=0, isolation_level=None)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
            return False
        except sqlite3.OperationalError:
            return True
        finally:
            probe.close()
    with psycopg.connect(conninfo, autocommit=True) as conn:  # PostgreSQL: a transaction that has written
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'estates-kill-test' "
                           "AND backend_xid IS NOT NULL").fetchone()
        return bool(row and row[0])


def _runs_done(progress: Path) -> int:
    """Bulk saves the writer has finished, from its progress file (which may be caught mid-write, i.e. empty)."""
    try:
        text = progress.read_text().strip()
    except FileNotFoundError:
        return 0
    return int(text) if text.isdigit() else 0


def test_writer_killed_mid_bulk_save_leaves_a_consistent_store(store_url: str, tmp_path: Path) -> None:
    pg = store_url.startswith("postgresql")
    with open_store(store_url) as store:
        store.upsert_buildings(trafford_records(copies=200), actor="ingest", source="assets.csv")  # 10,200
        ids = store.buildings()["building_id"].tolist()
    writer_url = f"{store_url}&application_name=estates-kill-test" if pg else store_url
    conninfo = split_url(store_url)[0] if pg else None
    progress = tmp_path / "progress.txt"
    writer = SPAWN.Process(target=store_workers.bulk_saver, args=(writer_url, ids, str(progress)))
    writer.start()
    try:
        deadline = time.monotonic() + 120
        while _runs_done(progress) < 2:
            assert writer.is_alive(), "bulk saver died"
            assert time.monotonic() < deadline, "bulk saver did not get going"
            time.sleep(0.01)
        while not _writer_in_transaction(store_url, conninfo):
            assert time.monotonic() < deadline
        os.kill(writer.pid, signal.SIGKILL)  # type: ignore[arg-type]
        writer.join(timeout=30)
    finally:
        if writer.is_alive():
            writer.kill()
    assert writer.exitcode == -signal.SIGKILL
    committed = int(progress.read_text())
    print(f"killed after {committed} committed bulk saves of {len(ids)} rule results")
    if pg:  # the server notices the dead client and rolls its transaction back
        deadline = time.monotonic() + 30
        while _writer_in_transaction(store_url, conninfo):
            assert time.monotonic() < deadline
            time.sleep(0.05)
    with open_store(store_url) as store:
        frame = store.buildings(columns=["rule_explanation"])
        assert frame["rule_status"].nunique() == 1
        assert frame["rule_explanation"].nunique() == 1
        runs = store.audit_log()
        runs = runs[runs["action"] == "rule_run"]
        per_building = Counter(runs["building_id"])
        assert set(per_building.values()) == {len(set(runs["change_id"]))}  # every run touched every building
        assert len(set(runs["change_id"])) in (committed, committed + 1)  # killed before or just after COMMIT
        check_audit_matches_data(store)
        store.set_status(ids[0], "key", reason="still writable", actor="alice",
                         expected_version=store.building(ids[0]).version)
    if not pg:
        with sqlite3.connect(store_url) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_reader_never_sees_half_a_bulk_update(store_url: str) -> None:
    with open_store(store_url) as store:
        store.upsert_buildings(trafford_records(copies=40), actor="ingest", source="assets.csv")  # 2,040
    ready, done, out = SPAWN.Event(), SPAWN.Event(), SPAWN.Queue()
    reader = SPAWN.Process(target=store_workers.reader, args=(store_url, ready, done, out))
    writer = SPAWN.Process(target=store_workers.flipper, args=(store_url, 12, ready, done))
    reader.start()
    writer.start()
    report = out.get(timeout=240)
    for p in (reader, writer):
        p.join(timeout=60)
        assert p.exitcode == 0
    print({k: v for k, v in report.items() if k != "mixed"}, "mixed:", len(report["mixed"]))
    assert report["rows"] == 2040
    assert report["mixed"] == [], f"{len(report['mixed'])} of {report['snapshots']} snapshots were half-updated"
    assert report["states"] >= 3, f"the reader saw only {report['states']} states: it did not overlap the writer"
    with open_store(store_url) as store:
        check_audit_matches_data(store)


@pytest.fixture(autouse=True)
def _no_leftover_processes() -> Iterator[None]:
    yield
    for child in SPAWN.active_children():
        child.kill()
