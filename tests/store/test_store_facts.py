"""``Store.update_facts`` on both backends: audited per field, optimistic versions, all or nothing, undoable."""

from __future__ import annotations

import pandas as pd
import pytest
from store_helpers import check_audit_matches_data, trafford_records

from estates.store import BuildingNotFoundError, StaleVersionError, Store


def _changes(rows: list[tuple[str, int, str, object, str | None]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["building_id", "expected_version", "field", "value", "note"])


@pytest.fixture
def loaded(store: Store) -> Store:
    store.upsert_buildings(trafford_records(), actor="ingest", source="store_trafford_assets.csv")
    return store


def test_facts_are_written_with_one_audit_row_per_changed_field(loaded: Store) -> None:
    b = loaded.buildings(columns=["gia_m2", "utilisation_pct"]).iloc[0]
    bid, gia = b["building_id"], b["gia_m2"]
    versions = loaded.update_facts(_changes([
        (bid, int(b["version"]), "utilisation_pct", 10.0, "row 2"),
        (bid, int(b["version"]), "condition", "B", None),
        (bid, int(b["version"]), "gia_m2", gia, None),  # the value it already has: no change, no audit row
    ]), actor="alice", reason="Council return", source="council_return.xlsx")
    assert versions == {bid: int(b["version"]) + 1}
    state = loaded.building(bid)
    assert state.record["utilisation_pct"] == 10.0
    assert state.record["condition"] == "B"
    rows = [e for e in loaded.history(bid) if e.action == "facts"]
    assert [(e.field, e.from_value, e.to_value, e.actor) for e in rows] == [
        ("utilisation_pct", None, "10", "alice"), ("condition", None, "B", "alice")]  # in the order given
    assert rows[0].reason == "Council return (from council_return.xlsx; row 2)"
    assert rows[1].reason == "Council return (from council_return.xlsx)"
    check_audit_matches_data(loaded)
    # undo restores both fields of the change
    loaded.undo(bid, actor="alice", expected_version=state.version)
    again = loaded.building(bid)
    assert again.record["utilisation_pct"] is None
    assert again.record["condition"] is None


def test_a_stale_version_or_a_bad_value_writes_nothing(loaded: Store) -> None:
    frame = loaded.buildings(columns=["utilisation_pct"])
    a, b = frame.iloc[0], frame.iloc[1]
    loaded.set_status(b["building_id"], "core", reason="checked on site", actor="bob",
                      expected_version=int(b["version"]))
    with pytest.raises(StaleVersionError, match="changed by bob"):
        loaded.update_facts(_changes([(a["building_id"], int(a["version"]), "utilisation_pct", 20.0, None),
                                      (b["building_id"], int(b["version"]), "utilisation_pct", 30.0, None)]),
                            actor="alice", reason="return", source="x.xlsx")
    assert loaded.building(a["building_id"]).record["utilisation_pct"] is None
    with pytest.raises(ValueError, match="not a fact"):
        loaded.update_facts(_changes([(a["building_id"], int(a["version"]), "partner", "Someone else", None)]),
                            actor="alice", reason="return", source="x.xlsx")
    with pytest.raises(ValueError, match="not a valid real"):
        loaded.update_facts(_changes([(a["building_id"], int(a["version"]), "gia_m2", "big", None)]),
                            actor="alice", reason="return", source="x.xlsx")
    with pytest.raises(ValueError, match="reason"):
        loaded.update_facts(_changes([(a["building_id"], int(a["version"]), "gia_m2", 5.0, None)]),
                            actor="alice", reason=" ", source="x.xlsx")
    with pytest.raises(BuildingNotFoundError):
        loaded.update_facts(_changes([("no-such:building", 1, "gia_m2", 5.0, None)]),
                            actor="alice", reason="return", source="x.xlsx")
    assert not [e for e in loaded.history(a["building_id"]) if e.action == "facts"]
