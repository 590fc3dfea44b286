"""Store behaviour, the same test functions against both backends (GeoPackage file and PostGIS)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from store_helpers import check_audit_matches_data, trafford_records

from estates.store import (
    BuildingNotFoundError,
    NothingToUndoError,
    StaleVersionError,
    Store,
    format_history,
    open_store,
)

TOWN_HALL = "trafford-council:TMBC0001/T0000003"
ALLOTMENTS = "trafford-council:TMBC0013"


def _ingested(store: Store) -> pd.DataFrame:
    records = trafford_records()
    assert store.upsert_buildings(records, actor="ingest", source="assets.csv")["inserted"] == len(records)
    return records


def _rules(store: Store, status: str = "core", **changes: str) -> int:
    ids = store.buildings()["building_id"].tolist()
    results = pd.DataFrame({
        "building_id": ids,
        "rule_status": [changes.get(i, status) for i in ids],
        "rule_id": "r-test",
        "explanation": [f"rules say {changes.get(i, status)}" for i in ids],
        "explanation_detail": [{"status": changes.get(i, status), "values": {"gia_m2": 1.5}} for i in ids],
    })
    return store.save_rule_results(results, actor="rules")


# ------------------------------------------------------------------------------------------------------- schema
def test_schema_created_then_reopened_without_migrating(store_url: str) -> None:
    from estates.store._sql import SCHEMA_VERSION

    with open_store(store_url) as first:
        assert first.schema_version == SCHEMA_VERSION == 3
        _ingested(first)
    with open_store(store_url) as again:  # existing store: nothing re-created, data intact
        assert again.schema_version == SCHEMA_VERSION
        assert len(again.buildings()) == 51


def test_open_store_chooses_backend_from_url_env_or_default(store_url: str, monkeypatch: pytest.MonkeyPatch,
                                                            tmp_path: object) -> None:
    monkeypatch.setenv("ESTATES_DATABASE_URL", store_url)
    with open_store(default_path="ignored.gpkg") as s:
        assert s.backend == ("postgis" if store_url.startswith("postgresql") else "gpkg")
    monkeypatch.delenv("ESTATES_DATABASE_URL")
    with pytest.raises(ValueError, match="neither"):
        open_store("estates.sqlite")
    with pytest.raises(ValueError, match="no store given"):
        open_store()


# ------------------------------------------------------------------------------------------------------- ingest
def test_upsert_is_idempotent_by_building_id(store: Store) -> None:
    records = _ingested(store)
    before = store.audit_log()
    again = store.upsert_buildings(records.assign(ingested_at="2025-02-02T00:00:00Z"), actor="ingest",
                                   source="assets.csv")
    assert again == {"inserted": 0, "updated": 0, "unchanged": 51}
    assert len(store.audit_log()) == len(before)  # nothing happened, nothing audited
    assert set(store.buildings()["version"]) == {1}

    changed = records.copy()
    changed.loc[changed["building_id"] == TOWN_HALL, "gia_m2"] = 420.0
    assert store.upsert_buildings(changed, actor="ingest", source="assets-v2.csv")["updated"] == 1
    frame = store.buildings()
    assert len(frame) == 51
    assert frame["building_id"].is_unique
    hall = store.building(TOWN_HALL)
    assert hall.version == 2
    assert hall.record["gia_m2"] == 420.0
    last = store.history(TOWN_HALL)[-1]
    assert (last.action, last.field, last.from_value, last.to_value) == ("ingest", "gia_m2", "415.05", "420")
    assert last.reason == "ingest from assets-v2.csv"


def test_record_values_round_trip(store: Store) -> None:
    records = _ingested(store)
    frame = store.buildings().set_index("building_id")
    source = records.set_index("building_id")
    for column in ("name", "postcode", "uprn", "gia_m2", "land_area_ha", "lon", "lat", "holding_type", "extra"):
        left = frame.loc[source.index, column].astype(object).where(frame.loc[source.index, column].notna(), None)
        right = source[column].astype(object).where(source[column].notna(), None)
        assert left.tolist() == right.tolist(), column
    assert frame["geometry"].notna().sum() == source["lon"].notna().sum() == 30
    hall = frame.loc[TOWN_HALL]
    assert (hall.geometry.x, hall.geometry.y) == (-2.3520922, 53.3879587)
    assert json.loads(hall["extra"])["EffectiveDate"] == "2023-09-29"


def test_unknown_columns_are_kept_in_extra(store: Store) -> None:
    records = trafford_records().assign(Ward_Ref=lambda f: "W" + f["source_id"].str[-3:])
    store.upsert_buildings(records, actor="ingest", source="assets.csv")
    extra = json.loads(store.building(TOWN_HALL).record["extra"])
    assert extra["Ward_Ref"] == "W003"
    assert extra["EffectiveDate"] == "2023-09-29"


def test_invalid_records_are_refused_whole(store: Store) -> None:
    records = trafford_records()
    with pytest.raises(ValueError, match="unique"):
        store.upsert_buildings(pd.concat([records, records.head(1)]), actor="ingest", source="x")
    bad = records.copy().astype({"gia_m2": object})
    bad.loc[3, "gia_m2"] = "big"
    with pytest.raises(ValueError, match="gia_m2"):
        store.upsert_buildings(bad, actor="ingest", source="x")
    assert len(store.buildings()) == 0


# ------------------------------------------------------------------------------------------------------- rules
def test_rule_results_audited_only_where_status_changed(store: Store) -> None:
    _ingested(store)
    assert _rules(store, "core") == 51
    assert _rules(store, "core") == 0  # same results again: nothing changes
    assert _rules(store, "core", **{TOWN_HALL: "key"}) == 1
    hall = store.building(TOWN_HALL)
    assert (hall.rule_status, hall.effective_status, hall.status_source) == ("key", "key", "rule")
    assert hall.version == 1  # rule runs are audited but do not bump versions
    assert hall.rule_detail == {"status": "key", "values": {"gia_m2": 1.5}}
    assert hall.rule_id == "r-test"
    runs = [e for e in store.history(TOWN_HALL) if e.action == "rule_run"]
    assert [(e.from_value, e.to_value, e.reason) for e in runs] == [(None, "core", "rule r-test"),
                                                                     ("core", "key", "rule r-test")]
    assert hall.rule_explanation == "rules say key"
    # a new explanation alone is saved (no audit row), its detail with it
    ids = store.buildings()["building_id"].tolist()
    store.save_rule_results(pd.DataFrame({"building_id": ids, "rule_status": ["key" if i == TOWN_HALL else "core"
                                                                              for i in ids],
                                          "rule_id": "r-test", "explanation": "reworded",
                                          "explanation_detail": [{"v": 2}] * len(ids)}), actor="rules")
    reworded = store.building(TOWN_HALL)
    assert (reworded.rule_explanation, reworded.rule_detail, reworded.rule_by) == ("reworded", {"v": 2}, "rules")
    assert len([e for e in store.history(TOWN_HALL) if e.action == "rule_run"]) == 2
    frame = store.buildings()
    assert "rule_explanation" not in frame
    assert "rule_detail" not in frame
    narrow = store.buildings(columns=["name", "rule_explanation"])
    assert set(narrow.columns) == {"building_id", "name", "lon", "lat", "version", "rule_status", "override_status",
                                   "effective_status", "rule_explanation", "status_source", "geometry"}
    assert narrow.set_index("building_id").loc[TOWN_HALL, "rule_explanation"] == "reworded"
    with pytest.raises(BuildingNotFoundError, match="not in the store"):
        store.save_rule_results(pd.DataFrame({"building_id": [TOWN_HALL, "nobody:1"], "rule_status": "surplus"}),
                                actor="rules")
    with pytest.raises(ValueError, match="unknown rule status"):
        store.save_rule_results(pd.DataFrame({"building_id": [TOWN_HALL], "rule_status": "maybe"}), actor="rules")
    assert store.building(TOWN_HALL).rule_status == "key"  # refused runs saved nothing
    check_audit_matches_data(store)


# ------------------------------------------------------------------------------------------------------- overrides
def test_override_wins_and_rule_suggestion_stays_visible(store: Store) -> None:
    _ingested(store)
    _rules(store, "core")
    hall = store.building(TOWN_HALL)
    version = store.set_status(TOWN_HALL, "surplus", reason="Services moving to Sale", actor="alice",
                               expected_version=hall.version)
    after = store.building(TOWN_HALL)
    assert after.version == version == hall.version + 1
    assert (after.effective_status, after.status_source) == ("surplus", "override")
    assert (after.rule_status, after.override_reason, after.override_by) == ("core", "Services moving to Sale",
                                                                              "alice")
    _rules(store, "key")  # the rules change their mind: the override still wins, the suggestion is updated
    again = store.building(TOWN_HALL)
    assert (again.rule_status, again.effective_status) == ("key", "surplus")
    row = store.buildings(statuses=["surplus"]).set_index("building_id").loc[TOWN_HALL]
    assert (row["rule_status"], row["override_status"], row["status_source"]) == ("key", "surplus", "override")
    store.clear_override(TOWN_HALL, reason="Decision reversed", actor="bob", expected_version=again.version)
    cleared = store.building(TOWN_HALL)
    assert (cleared.effective_status, cleared.status_source, cleared.override_status) == ("key", "rule", None)
    entry = store.history(TOWN_HALL)[-1]
    assert (entry.action, entry.actor, entry.from_value, entry.to_value, entry.reason) == (
        "clear_override", "bob", "surplus", None, "Decision reversed")
    check_audit_matches_data(store)


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_human_changes_need_a_reason(store: Store, reason: str | None) -> None:
    _ingested(store)
    hall = store.building(TOWN_HALL)
    allot = store.building(ALLOTMENTS)
    attempts = [
        lambda: store.set_status(TOWN_HALL, "key", reason=reason, actor="alice", expected_version=hall.version),
        lambda: store.bulk_set_status({TOWN_HALL: hall.version}, "key", reason=reason, actor="alice"),
        lambda: store.reposition(TOWN_HALL, -2.35, 53.39, reason=reason, actor="alice",
                                 expected_version=hall.version),
        lambda: store.set_match_decision(TOWN_HALL, ALLOTMENTS, "reject", reason=reason, actor="alice",
                                         expected_versions={TOWN_HALL: hall.version, ALLOTMENTS: allot.version}),
        lambda: store.clear_override(TOWN_HALL, reason=reason, actor="alice", expected_version=hall.version),
    ]
    for attempt in attempts:
        with pytest.raises(ValueError, match="reason is required"):
            attempt()  # type: ignore[no-untyped-call]
    assert store.building(TOWN_HALL).version == hall.version
    assert len(store.history(TOWN_HALL)) == 1


def test_actor_and_status_are_checked(store: Store) -> None:
    _ingested(store)
    v = store.building(TOWN_HALL).version
    with pytest.raises(ValueError, match="actor"):
        store.set_status(TOWN_HALL, "key", reason="why", actor="  ", expected_version=v)
    with pytest.raises(ValueError, match="unknown status 'keep'"):
        store.set_status(TOWN_HALL, "keep", reason="why", actor="alice", expected_version=v)
    with pytest.raises(BuildingNotFoundError, match="no building nobody:1"):
        store.set_status("nobody:1", "key", reason="why", actor="alice", expected_version=1)
    with pytest.raises(ValueError, match="no override to clear"):
        store.clear_override(TOWN_HALL, reason="why", actor="alice", expected_version=v)


def test_stale_version_is_refused_and_nothing_is_overwritten(store: Store) -> None:
    _ingested(store)
    seen_by_bob = store.building(TOWN_HALL)
    store.set_status(TOWN_HALL, "key", reason="Civic centre", actor="alice", expected_version=seen_by_bob.version)
    history = store.history(TOWN_HALL)
    with pytest.raises(StaleVersionError, match=r"changed by alice at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC") as info:
        store.set_status(TOWN_HALL, "surplus", reason="Old plan", actor="bob", expected_version=seen_by_bob.version)
    conflict = info.value.conflicts[0]
    assert (conflict.building_id, conflict.expected_version, conflict.current_version, conflict.changed_by) == (
        TOWN_HALL, 1, 2, "alice")
    assert "Nothing was saved" in str(info.value)
    now = store.building(TOWN_HALL)
    assert (now.override_status, now.override_by, now.version) == ("key", "alice", 2)
    assert store.history(TOWN_HALL) == history
    for stale in (
        lambda: store.reposition(TOWN_HALL, -2.3, 53.4, reason="x", actor="bob", expected_version=1),
        lambda: store.undo(TOWN_HALL, actor="bob", expected_version=1),
        lambda: store.clear_override(TOWN_HALL, reason="x", actor="bob", expected_version=1),
    ):
        with pytest.raises(StaleVersionError, match="changed by alice"):
            stale()  # type: ignore[no-untyped-call]
    assert store.building(TOWN_HALL) == now


def test_bulk_set_is_all_or_nothing(store: Store) -> None:
    _ingested(store)
    frame = store.buildings()
    selection = dict(zip(frame["building_id"].head(20), frame["version"].head(20).astype(int), strict=True))
    store.set_status(ALLOTMENTS, "core", reason="Allotments stay", actor="carol",
                     expected_version=selection[ALLOTMENTS])
    with pytest.raises(StaleVersionError) as info:
        store.bulk_set_status(selection, "surplus", reason="Disposal programme", actor="dave")
    assert [c.building_id for c in info.value.conflicts] == [ALLOTMENTS]
    assert "changed by carol" in str(info.value)
    assert store.buildings(statuses=["surplus"]).empty  # not one of the 20 was changed
    selection[ALLOTMENTS] += 1
    versions = store.bulk_set_status(selection, "surplus", reason="Disposal programme", actor="dave")
    assert versions == {i: v + 1 for i, v in selection.items()}
    assert len(store.buildings(statuses=["surplus"])) == 20
    assert (store.audit_log()["action"] == "override").sum() == 21
    check_audit_matches_data(store)


def test_undo_restores_by_appending(store: Store) -> None:
    _ingested(store)
    _rules(store, "core")
    v = store.building(TOWN_HALL).version
    v = store.set_status(TOWN_HALL, "key", reason="First view", actor="alice", expected_version=v)
    v = store.set_status(TOWN_HALL, "surplus", reason="Second view", actor="bob", expected_version=v)
    before = store.history(TOWN_HALL)
    v = store.undo(TOWN_HALL, actor="carol", expected_version=v)
    after = store.building(TOWN_HALL)
    assert (after.override_status, after.override_reason, after.override_by) == ("key", "First view", "alice")
    history = store.history(TOWN_HALL)
    assert history[: len(before)] == before  # nothing deleted or rewritten
    undo = history[-1]
    assert (undo.action, undo.actor, undo.from_value, undo.to_value) == ("undo", "carol", "surplus", "key")
    assert undo.undoes == before[-1].change_id
    assert "undo override" in (undo.reason or "")
    v = store.undo(TOWN_HALL, actor="carol", expected_version=v, reason="Back to the rules")
    back = store.building(TOWN_HALL)
    assert (back.override_status, back.effective_status, back.status_source) == (None, "core", "rule")
    assert store.history(TOWN_HALL)[-1].reason == "Back to the rules"
    with pytest.raises(NothingToUndoError):
        store.undo(TOWN_HALL, actor="carol", expected_version=v)
    v = store.set_status(TOWN_HALL, "surplus", reason="Third view", actor="dave", expected_version=v)
    store.undo(TOWN_HALL, actor="dave", expected_version=v)  # the newest change is undone first
    assert store.building(TOWN_HALL).override_status is None
    assert "undo" in format_history(store.history(TOWN_HALL))
    check_audit_matches_data(store)


# ------------------------------------------------------------------------------------------------------- position
def test_reposition_is_audited_and_survives_reingest(store: Store) -> None:
    records = _ingested(store)
    target = "trafford-council:TMBC0099"  # Tamworth Court, Old Trafford: only "M15" in the register, no coordinates
    b = store.building(target)
    assert b.lon is None
    assert b.record["outside_trafford"] is None
    # The caller projects (the store only persists): the service's reposition_tags gives easting/northing.
    v = store.reposition(target, -2.265, 53.461, reason="Placed on the map by the site manager", actor="erin",
                         expected_version=b.version, tags={"ward_code": "E05015253", "ward_name": "Old Trafford",
                                                           "outside_trafford": False, "easting": 381_900.5,
                                                           "northing": 396_800.25})
    moved = store.building(target)
    assert (moved.lon, moved.lat, moved.position_source, moved.version) == (-2.265, 53.461, "manual", v)
    assert moved.record["geocode_method"] == "manual"
    assert moved.record["geocode_precision"] == "high"
    assert (moved.record["easting"], moved.record["northing"]) == (381_900.5, 396_800.25)
    entries = [e for e in store.history(target) if e.action == "reposition"]
    assert [(e.field, e.from_value, e.to_value, e.actor) for e in entries] == [
        ("position", None, "POINT (-2.265 53.461)", "erin"), ("ward_code", None, "E05015253", "erin"),
        ("ward_name", None, "Old Trafford", "erin"), ("outside_trafford", None, "false", "erin")]
    # the register is re-ingested with a different (poor) position and a new name: the hand-placed point stays
    again = records.copy()
    row = again["building_id"] == target
    again.loc[row, ["lon", "lat", "geocode_method"]] = [-2.30, 53.45, "postcode_district"]
    again.loc[row, "name"] = "Renamed in the register"
    assert store.upsert_buildings(again, actor="ingest", source="assets-v2.csv")["updated"] == 1
    kept = store.building(target)
    assert (kept.lon, kept.lat, kept.position_source) == (-2.265, 53.461, "manual")
    assert kept.record["name"] == "Renamed in the register"
    assert kept.record["ward_code"] == "E05015253"
    geo = store.buildings(ids=[target]).geometry.iloc[0]
    assert (geo.x, geo.y) == (-2.265, 53.461)
    store.undo(target, actor="erin", expected_version=kept.version)
    undone = store.building(target)
    assert (undone.lon, undone.position_source, undone.record["ward_code"]) == (None, "ingest", None)
    assert store.buildings(ids=[target]).geometry.iloc[0] is None


# ------------------------------------------------------------------------------------------------------- sites
class _Matches:
    """Shaped like estates.sites.matching.SiteMatches."""

    def __init__(self, pairs: list[tuple[str, str, float, str]], ids: list[str]) -> None:
        self.matches = pd.DataFrame({
            "building_id_a": [p[0] for p in pairs], "building_id_b": [p[1] for p in pairs],
            "partner_a": "Trafford Council", "partner_b": "Trafford Council", "name_a": None, "name_b": None,
            "score": [p[2] for p in pairs], "method": "postcode", "reason": "same postcode, similar names",
            "distance_m": 12.5, "status": [p[3] for p in pairs]})
        site_of = {i: "site:" + i for i in ids}
        for a, b, _, status in pairs:
            if status in ("matched", "confirmed"):
                site_of[b] = site_of[a]
        self.membership = pd.DataFrame({"building_id": ids, "site_id": [site_of[i] for i in ids]})
        counts = self.membership.groupby("site_id").size()
        self.sites = pd.DataFrame({"site_id": counts.index, "name": "site", "partners": "Trafford Council",
                                   "partner_count": 1, "building_count": counts.to_numpy(),
                                   "building_ids": "", "lon": -2.35, "lat": 53.39, "easting": 376000.0,
                                   "northing": 388000.0, "match_score": 95.0, "match_reason": "test",
                                   "proposed": 0})


def test_match_decisions_survive_reingest_and_rematching(store: Store) -> None:
    records = _ingested(store)
    ids = records["building_id"].tolist()
    a, b, c = ids[1], ids[2], ids[3]
    store.save_site_matches(_Matches([(a, b, 80.0, "proposed"), (a, c, 75.0, "proposed")], ids),
                            actor="matcher", source="pipeline")
    assert len(store.site_matches()) == 2
    assert len(store.sites()) == 51
    versions = {i: store.building(i).version for i in (a, b)}
    new = store.set_match_decision(b, a, "confirm", reason="Same allotment site", actor="fred",
                                   expected_versions=versions)
    assert new == {a: versions[a] + 1, b: versions[b] + 1}
    entries = [store.history(i)[-1] for i in (a, b)]
    assert [(e.action, e.field, e.to_value) for e in entries] == [("match_decision", f"match:{b}", "confirm"),
                                                                  ("match_decision", f"match:{a}", "confirm")]
    # re-ingest the registers and re-run the matcher: the decision is kept, the undecided pair dropped
    store.upsert_buildings(records.assign(ingested_at="2025-03-01T00:00:00Z"), actor="ingest", source="assets.csv")
    result = store.save_site_matches(_Matches([(a, b, 82.0, "confirmed")], ids), actor="matcher", source="pipeline")
    assert result["dropped_pairs"] == 1
    decisions = store.match_decisions()
    assert decisions[["building_id_a", "building_id_b", "decision", "decided_by", "note"]].values.tolist() == [
        sorted([a, b]) + ["confirm", "fred", "Same allotment site"]]
    pair = store.site_matches(building_id=a).iloc[0]
    assert (pair["score"], bool(pair["current"]), pair["decision"]) == (82.0, True, "confirm")
    assert store.building(a).record["site_id"] == store.building(b).record["site_id"]
    # no longer proposed at all: still kept, because a person decided it
    store.save_site_matches(_Matches([], ids), actor="matcher", source="pipeline")
    assert len(store.match_decisions()) == 1
    assert not bool(store.site_matches().iloc[0]["current"])
    # undo from either side removes the decision for both
    store.undo(b, actor="fred", expected_version=store.building(b).version)
    assert store.match_decisions().empty
    assert store.history(a)[-1].action == "undo"
    assert store.history(b)[-1].action == "undo"
    check_audit_matches_data(store)


def test_history_of_unknown_building_is_empty(store: Store) -> None:
    assert store.history("nobody:1") == []
    assert format_history([]) == "(no history)"


def test_reclassify_runs_the_real_rules_over_the_store(store: Store) -> None:
    from datetime import date

    from estates.classification import DEFAULT_RULES, load_rules
    from estates.service import reclassify

    # the service works on one place's records: load them for the place (Trafford, the default)
    store.upsert_buildings(trafford_records(), actor="ingest", source="assets.csv", place="trafford")
    rules = load_rules(DEFAULT_RULES)
    hall = store.building(TOWN_HALL)
    store.set_status(TOWN_HALL, "surplus", reason="Moving out", actor="alice", expected_version=hall.version)
    assert reclassify(store, rules, actor="rules", today=date(2025, 6, 1)) == 51
    assert reclassify(store, rules, actor="rules", today=date(2025, 6, 1)) == 0
    after = store.building(TOWN_HALL)
    assert (after.rule_status, after.rule_id, after.effective_status) == ("key", "civic-centre", "surplus")
    assert "Town Hall" in (after.rule_explanation or "")
    assert after.rule_detail["rule_id"] == "civic-centre"
    assert set(store.buildings()["rule_status"]) <= {"key", "core", "surplus", "needs data"}
    check_audit_matches_data(store)


def test_reclassify_reads_every_column_the_rules_need(store: Store) -> None:
    """reclassify reads only rule_columns(rules): the outcome must equal classifying the full records."""
    from datetime import date

    from estates.classification import DEFAULT_RULES, classify, load_rules, rule_columns

    records = trafford_records().assign(utilisation_pct=[float(i % 7) * 15 for i in range(51)],
                                        annual_running_cost=[1000.0 * (i % 5) for i in range(51)],
                                        condition=["A", "B", "C", "D", None] * 10 + ["C"],
                                        lease_end="2025-12-31")
    store.upsert_buildings(records, actor="ingest", source="assets.csv")
    rules = load_rules(DEFAULT_RULES)
    columns = rule_columns(rules)
    assert columns is not None
    assert {"utilisation_pct", "annual_running_cost", "gia_m2", "extra"} <= set(columns)
    full = classify(store.buildings(), rules, today=date(2025, 6, 1))
    narrow = classify(store.buildings(columns=columns), rules, today=date(2025, 6, 1))
    pd.testing.assert_frame_equal(full.drop(columns="explanation_detail"),
                                  narrow.drop(columns="explanation_detail"))
    assert full["explanation_detail"].tolist() == narrow["explanation_detail"].tolist()
    assert full["rule_status"].nunique() >= 3


def test_whole_and_filtered_reads_agree(store: Store) -> None:
    """Whole-table reads are columnar (GDAL/Arrow, COPY/Arrow); filtered ones go row by row: same frame."""
    _ingested(store)
    _rules(store, "core", **{TOWN_HALL: "key"})
    store.set_status(ALLOTMENTS, "surplus", reason="Lease ends", actor="alice",
                     expected_version=store.building(ALLOTMENTS).version)
    wanted = ["rule_explanation", "rule_detail", "name", "gia_m2", "historic", "override_at", "outside_trafford"]
    for columns in (None, wanted):
        whole = store.buildings(columns=columns)
        some = store.buildings(ids=whole["building_id"].tolist(), columns=columns)
        pd.testing.assert_frame_equal(pd.DataFrame(whole.drop(columns="geometry")),
                                      pd.DataFrame(some.drop(columns="geometry")))
        assert whole.geometry.equals(some.geometry)
    row = store.buildings(columns=wanted).set_index("building_id").loc[ALLOTMENTS]
    one = store.building(ALLOTMENTS)
    assert row["override_at"] == one.override_at
    assert json.loads(row["rule_detail"]) == one.rule_detail
    assert row["historic"] is False or row["historic"] == one.record["historic"]
