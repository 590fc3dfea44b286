"""estates.app_data: seeding the store, revisions, the estate as stored, details, registers, uploads."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from estates.app_data import (
    KEEP_AS_EXTRA,
    attention_rows,
    building_details,
    building_record,
    mapping_overrides,
    mapping_table,
    missing_partner_types,
    register_counts,
)
from estates.columns import recognise_columns
from estates.estate import current_estate
from estates.ingest import ingest_register
from estates.registers import read_register
from estates.service import (
    DEFAULT_STORE_PATH,
    LiveEstate,
    ingest_into_store,
    load_registers,
    read_estate,
    read_records,
    reposition_tags,
    store_revision,
    store_target,
)
from estates.sites import status_counts
from estates.store import open_store

TOWN_HALL = "trafford-council:TMBC0008/T0000001"


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("seeded") / "estates.gpkg"
    with open_store(path) as store:
        load_registers(store)
    return path


@pytest.fixture
def store(seeded: Path, tmp_path: Path):  # noqa: ANN201 - a Store
    path = tmp_path / "estates.gpkg"
    shutil.copyfile(seeded, path)
    with open_store(path) as opened:
        yield opened


def test_store_target_prefers_the_environment() -> None:
    assert store_target({}) == str(DEFAULT_STORE_PATH)
    assert store_target({"ESTATES_DATABASE_URL": "/x/y.gpkg"}) == "/x/y.gpkg"


def test_the_seeded_store_holds_the_classified_demo_estate(store) -> None:  # noqa: ANN001
    estate = read_estate(store)
    rules = current_estate(use_store=False)

    # 985 register rows: 979 records of the estate, 6 rejected rows kept with their loads (never records).
    assert len(estate.records) == len(rules) == 979
    assert len(store.rejected_rows()) == 6
    merged = estate.records[["building_id", "status", "lat"]].merge(rules[["building_id", "status", "lat"]],
                                                                    on="building_id", suffixes=("", "_rules"))
    assert (merged["status"] == merged["status_rules"]).all()
    assert estate.caption() == "780 sites from 979 register records (18 registers)"
    assert status_counts(estate.sites) == {"key": 6, "core": 335, "surplus": 186, "needs data": 253}
    assert status_counts(read_records(store)) == {"key": 41, "core": 415, "surplus": 186, "needs data": 337}
    assert (estate.records["status_source"] == "rule").all()
    assert estate.records["site_id"].notna().all()
    assert "geometry" not in estate.records


def test_seeding_again_changes_nothing(store) -> None:  # noqa: ANN001
    revision = store_revision(store)

    report = load_registers(store)

    assert report.buildings == {"inserted": 0, "updated": 0, "unchanged": 979}
    assert report.rejected == 6
    assert report.rule_changes == 0
    assert store_revision(store) == revision


def test_revision_grows_with_every_save(store) -> None:  # noqa: ANN001
    before = store_revision(store)
    version = store.building(TOWN_HALL).version

    store.set_status(TOWN_HALL, "core", reason="test", actor="tester", expected_version=version)

    assert store_revision(store) > before
    assert read_records(store).set_index("building_id").loc[TOWN_HALL, "status"] == "core"


def test_building_details_group_every_fact_as_plain_text(store) -> None:  # noqa: ANN001
    record = building_record(store, TOWN_HALL)

    sections = {s.title: dict(s.rows) for s in building_details(record)}

    assert list(sections) == ["Record", "Classification", "Explanation", "Location", "Areas",
                              "Other register columns", "Provenance"]
    assert sections["Record"]["Name"] == "Trafford Town Hall"
    assert sections["Record"]["UPRN"] == "10091813602"
    assert sections["Classification"]["Deciding rule"] == "designated-key-site"
    assert sections["Classification"]["Decided by"] == "the rules"
    assert "designated key site" in sections["Explanation"]["Why the rules suggest this"]
    assert sections["Location"]["Location precision"] == "high"
    assert sections["Areas"]["Neighbourhood"] == "North"
    assert sections["Areas"]["IMD 2019 decile"] == "4"
    assert sections["Provenance"]["Source file"] == "trafford_land_and_building_assets.csv"
    assert sections["Provenance"]["Source row"] == "9"
    assert "OtherDetail" in sections["Other register columns"] or sections["Other register columns"]
    assert all(isinstance(v, str) and v for rows in sections.values() for v in rows.values())


def test_register_counts_and_attention_rows_add_up(store) -> None:  # noqa: ANN001
    estate = read_records(store)
    rejected = store.rejected_rows()

    counts = register_counts(estate, rejected)
    attention = attention_rows(estate, rejected)

    assert len(counts) == 18
    assert counts["rows"].sum() == len(estate) + len(rejected) == 985
    assert (counts["accepted"] + counts["warned"] + counts["rejected"] == counts["rows"]).all()
    council = counts.set_index("partner").loc["Trafford Council"]
    assert (council["rows"], council["rejected"]) == (608, 6)
    assert len(attention) == counts["needs_attention"].sum()
    assert attention["outcome"].iloc[0] == "rejected"
    assert attention["issues"].str.len().gt(0).all()


def test_partner_types_with_no_register(store) -> None:  # noqa: ANN001
    missing = missing_partner_types(read_records(store))

    assert set(missing["partner_type"]) == {"police", "housing_association", "central_government",
                                            "development_land"}
    assert missing.set_index("partner_type").loc["police", "note"] == "No open estate register found."


def test_mapping_table_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "reg.csv"
    path.write_text("Site,House No,Street,Post Code,Notes\nHub,1,High St,M32 0TH,x\n", encoding="utf-8")
    raw = read_register(path)
    recognised = recognise_columns(raw.frame.columns)

    table = mapping_table(raw.frame, recognised)

    assert dict(zip(table["column"], table["maps_to"], strict=True)) == {
        "Site": "name", "House No": "address_line_1", "Street": "address_line_1", "Post Code": "postcode",
        "Notes": KEEP_AS_EXTRA}
    assert mapping_overrides(table, recognised) == {}
    edited = table.assign(maps_to=["name", KEEP_AS_EXTRA, "address_line_1", "postcode", "use"])
    assert mapping_overrides(edited, recognised) == {"address_line_1": ["Street"], "use": ["Notes"]}
    assert mapping_overrides(table.assign(maps_to=KEEP_AS_EXTRA), recognised) == {
        "name": None, "address_line_1": None, "postcode": None}


def test_an_uploaded_register_is_stored_matched_and_classified(store, tmp_path: Path) -> None:  # noqa: ANN001
    path = tmp_path / "hubs.csv"
    path.write_text("Name,Address,Postcode\nTrafford Town Hall,Talbot Road,M32 0TH\nNew Hub,Chester Rd,M32 0RW\n",
                    encoding="utf-8")
    result = ingest_register(path, partner="Test Partner", partner_type="community")

    outcome = ingest_into_store(store, result.records, actor="tester", source=path.name)

    assert (outcome["inserted"], outcome["updated"]) == (2, 0)
    estate = read_records(store).set_index("building_id")
    mine = estate[estate["partner"] == "Test Partner"]
    assert len(mine) == 2
    assert mine["status"].notna().all()
    log = store.audit_log(building_ids=mine.index)
    assert set(log.loc[log["action"] == "ingest", "actor"]) == {"tester"}
    # Loading the same register again changes nothing.
    again = ingest_into_store(store, result.records, actor="tester", source=path.name)
    assert (again["inserted"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_reposition_tags_for_a_point() -> None:
    tags = reposition_tags(-2.2875, 53.459)

    assert tags["neighbourhood"] == "North"
    assert tags["pcn_name"] == "North Trafford PCN"
    assert tags["outside_trafford"] is False
    assert isinstance(tags["imd_decile"], int)
    outside = reposition_tags(-1.5, 53.8)
    assert outside["outside_trafford"] is True
    assert outside["neighbourhood"] is None


def test_read_records_gives_a_plain_frame_with_status(store) -> None:  # noqa: ANN001
    estate = read_records(store)

    assert isinstance(estate, pd.DataFrame)
    assert (estate["status"] == estate["effective_status"]).all()
    assert estate["historic"].dtype == bool


def test_live_estate_rereads_only_what_changed_and_matches_a_full_read(store) -> None:  # noqa: ANN001
    live = LiveEstate(store)
    revision, first = live.snapshot()
    assert live.snapshot()[1] is first  # nothing saved: the same frame, no read

    version = store.building(TOWN_HALL).version
    store.set_status(TOWN_HALL, "surplus", reason="test", actor="tester", expected_version=version)
    other = "trafford-council:TMBC0001/T0000003"
    store.reposition(other, -2.2875, 53.459, reason="on site", actor="tester",
                     expected_version=store.building(other).version)
    later, patched = live.snapshot()

    assert later > revision
    assert patched is not first
    row = patched.records.set_index("building_id")
    assert (row.loc[TOWN_HALL, "status"], row.loc[TOWN_HALL, "status_source"]) == ("surplus", "override")
    assert (row.loc[other, "lat"], row.loc[other, "position_source"]) == (53.459, "manual")
    full = read_estate(store)
    pd.testing.assert_frame_equal(patched.records, full.records)
    pd.testing.assert_frame_equal(patched.sites, full.sites)
    live.reload()
    pd.testing.assert_frame_equal(live.snapshot()[1].records, patched.records)
