"""``Store.audit_between``: the audit rows of a period, on both backends (the What changed feed reads it)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from store_helpers import trafford_records

from estates.store import Store


def test_audit_between_reads_only_the_rows_of_the_period(store: Store) -> None:
    records = trafford_records()
    store.upsert_buildings(records, actor="ingest", source="assets.csv")
    first = str(records["building_id"].iloc[0])
    time.sleep(0.01)  # the store keeps milliseconds: the two changes get different times
    middle = datetime.now(UTC)
    time.sleep(0.01)
    store.set_status(first, "key", reason="Stays", actor="alice", expected_version=store.building(first).version)

    everything = store.audit_log()
    after = store.audit_between(middle, None)
    before = store.audit_between(None, middle)
    assert list(after.columns) == list(everything.columns)
    assert after[["actor", "action", "to_value"]].values.tolist() == [["alice", "override", "key"]]
    assert len(before) == len(records)  # one "record created" row each
    assert set(before["action"]) == {"ingest"}
    assert store.audit_between(middle, middle).empty  # until is excluded
    naive = middle.replace(tzinfo=None)  # naive times are UTC
    assert len(store.audit_between(naive, None)) == 1
    assert store.audit_between(middle + timedelta(days=1), None).empty
