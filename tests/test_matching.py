"""Cross-partner site matching: scoring routes, thresholds, decisions, sites — and precision on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estates.ingest import run_pipeline
from estates.matching import (
    CONFIDENT,
    PROPOSE,
    candidate_pairs,
    clean_name,
    load_decisions,
    match_sites,
    name_similarity,
    name_variants,
)
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def demo():
    return run_pipeline(progress=False, decisions_path=ROOT / "tests" / "fixtures" / "no_decisions.csv")


def _record(building_id: str, partner: str, name: str, *, postcode: str = "", easting: float = np.nan,
            northing: float = np.nan, uprn: str | None = None, precision: str = "medium",
            address: str | None = None) -> dict[str, object]:
    return {"building_id": building_id, "partner": partner, "name": name, "address_line_1": address,
            "postcode_normalised": postcode, "easting": easting, "northing": northing, "uprn": uprn,
            "geocode_precision": precision, "outcome": "accepted"}


def test_clean_name_and_variants():
    assert clean_name("St. Hugh's RC Primary Sch.") == "st hughs catholic primary school"
    assert clean_name("Altrincham C of E Primary School") == "altrincham ce primary school"
    assert clean_name(None) == ""
    assert name_variants("Sale Library (Integrated Facility in Sale Waterside)")[-1] == "sale library"
    assert name_variants("Urmston Library, Golden Way")[-1] == "urmston library"


def test_name_similarity_orders_sensibly():
    same = name_similarity("coppice avenue library", "coppice library")
    place_only = name_similarity("stretford", "stretford library")
    different = name_similarity("heyes lane infant school", "heyes lane junior school")
    assert same > 85
    assert place_only < same
    assert different < 90


def test_routes_uprn_postcode_distance():
    records = pd.DataFrame([
        _record("a:1", "A", "Altrincham Town Hall", uprn="100012797623", postcode="WA14 1PF"),
        _record("b:1", "B", "Town Hall offices", uprn="100012797623", postcode="WA14 1PF"),
        _record("a:2", "A", "Navigation Primary School", postcode="WA14 1NG"),
        _record("c:2", "C", "Navigation Primary School", postcode="WA14 1NG"),
        _record("a:3", "A", "Victoria Park Junior School", easting=379000, northing=396000, precision="high"),
        _record("c:3", "C", "Victoria Park Junior School", easting=379015, northing=396017, precision="high"),
        _record("a:4", "A", "Victoria Park Junior School", easting=381000, northing=396000, precision="high"),
    ])
    pairs = candidate_pairs(records)
    by_pair = {(a, b): (s, m) for a, b, s, m in pairs[["building_id_a", "building_id_b", "score", "method"]]
               .itertuples(index=False)}
    assert by_pair[("a:1", "b:1")] == (100.0, "uprn")
    assert by_pair[("a:2", "c:2")] == (100.0, "postcode")
    assert by_pair[("a:3", "c:3")] == (100.0, "distance")  # 23 m apart
    assert ("a:4", "c:3") not in by_pair  # 2 km away
    assert ("a:1", "a:2") not in by_pair  # same partner: never paired


def test_distance_penalty_and_same_name_route_only_propose():
    records = pd.DataFrame([
        _record("a:1", "A", "Broadheath Primary School", easting=376000, northing=389000, precision="high"),
        _record("b:1", "B", "Broadheath Primary School", easting=376040, northing=389050, precision="high"),
        _record("a:2", "A", "St Ann's RC Primary School", easting=380000, northing=394000, precision="high"),
        _record("b:2", "B", "St Ann's RC Primary School", easting=380200, northing=394150, precision="high"),
    ])
    matched = match_sites(records)
    status = dict(zip(zip(matched.matches["building_id_a"], matched.matches["building_id_b"], strict=True),
                      matched.matches["status"], strict=True))
    assert status[("a:1", "b:1")] == "proposed"  # 64 m: identical names, but too far to apply
    assert status[("a:2", "b:2")] == "proposed"
    assert matched.matches["score"].between(PROPOSE, CONFIDENT).all()


def test_relation_words_cap_the_score():
    records = pd.DataFrame([
        _record("a:1", "A", "Former Lostock Library", postcode="M32 9PA"),
        _record("b:1", "B", "Lostock Library", postcode="M32 9PA"),
    ])
    pairs = candidate_pairs(records)
    assert pairs["score"].iloc[0] < CONFIDENT


def test_best_match_margin_keeps_infant_and_junior_apart():
    records = pd.DataFrame([
        _record("c:inf", "Council", "Heyes Lane Infant School", postcode="WA15 6BZ"),
        _record("c:jun", "Council", "Heyes Lane Junior School", postcode="WA15 6BZ"),
        _record("g:inf", "GIAS", "Heyes Lane Infant School", postcode="WA15 6BZ"),
        _record("g:jun", "GIAS", "Heyes Lane Junior School", postcode="WA15 6BZ"),
    ])
    matched = match_sites(records)
    applied = matched.matches[matched.matches["status"] == "matched"]
    pairs = set(zip(applied["building_id_a"], applied["building_id_b"], strict=True))
    assert pairs == {("c:inf", "g:inf"), ("c:jun", "g:jun")}
    assert len(matched.sites) == 2


def test_decisions_confirm_reject_and_link(tmp_path):
    records = pd.DataFrame([
        _record("a:1", "A", "Partington Healthy Living Centre", postcode="M31 4FL"),
        _record("b:1", "B", "Partington Health Centre", postcode="M31 4FL"),
        _record("a:2", "A", "Stretford Library", postcode="M32 8AP"),
        _record("b:2", "B", "Stretford Library", postcode="M32 8AP"),
        _record("c:3", "C", "Somewhere else", postcode="M41 5SL"),
    ])
    before = match_sites(records)
    status = dict(zip(before.matches["building_id_a"], before.matches["status"], strict=True))
    assert status == {"a:2": "matched", "a:1": "proposed"}
    path = tmp_path / "decisions.csv"
    path.write_text("building_id_a,building_id_b,decision,decided_at,decided_by,note\n"
                    "b:1,a:1,confirm,2026-01-01,test,same building\n"
                    "a:2,b:2,Reject,2026-01-02,,checked: different floors\n"
                    "a:2,c:3,confirm,2026-01-03,,a person knows better\n", encoding="utf-8")
    decisions = load_decisions(path)
    after = match_sites(records, decisions=decisions)
    status = {(a, b): s for a, b, s in after.matches[["building_id_a", "building_id_b", "status"]]
              .itertuples(index=False)}
    assert status[("a:1", "b:1")] == "confirmed"
    assert status[("a:2", "b:2")] == "rejected"
    assert status[("a:2", "c:3")] == "confirmed"
    site = after.membership.set_index("building_id")["site_id"]
    assert site["a:1"] == site["b:1"]
    assert site["a:2"] != site["b:2"]
    assert site["a:2"] == site["c:3"]


def test_bad_decisions_are_refused(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("building_id_a,building_id_b,decision\na,b,perhaps\n")
    with pytest.raises(ValueError, match="row 2"):
        load_decisions(bad)
    assert len(load_decisions(tmp_path / "missing.csv")) == 0


def test_every_live_record_is_in_exactly_one_site(demo):
    live = demo.records[demo.records["outcome"] != "rejected"]
    assert live["site_id"].notna().all()
    assert demo.records.loc[demo.records["outcome"] == "rejected", "site_id"].isna().all()
    assert demo.sites["building_count"].sum() == len(live)
    assert demo.sites["site_id"].is_unique


def test_council_school_matches_its_gias_school(demo):
    records = demo.records.set_index("building_id")
    council = records[(records["partner"] == "Trafford Council") & (records["name"] == "Navigation Primary School")]
    gias = records[(records["partner"] == "Schools and colleges (DfE GIAS)")
                   & (records["name"] == "Navigation Primary School")]
    assert council["site_id"].iloc[0] == gias["site_id"].iloc[0]
    assert gias.index[0] == "schools-and-colleges-dfe-gias:106283"  # the GIAS URN


def test_council_libraries_match_the_libraries_list(demo):
    records = demo.records
    site_of = records.set_index("building_id")["site_id"]
    libraries = records[records["partner"] == "Trafford libraries"].set_index("name")
    council = records[records["partner"] == "Trafford Council"].set_index("name")
    for council_name, library_name in [("Altrincham Library", "Altrincham Library"),
                                       ("Coppice Avenue Library", "Coppice Library"),
                                       ("Urmston Library, Golden Way", "Urmston Library"),
                                       ("Sale Library (Integrated Facility in Sale Waterside)", "Sale Library")]:
        assert site_of[council.loc[council_name, "building_id"]] == site_of[libraries.loc[library_name, "building_id"]]


def test_hospital_footprints_join_their_nhs_sites(demo):
    sites = demo.sites.set_index("name")
    general = demo.sites[demo.sites["name"].str.casefold() == "trafford general hospital"]
    assert len(general) == 1
    assert general["partner_count"].iloc[0] >= 5
    assert "Hospital buildings (OS OpenMap Local)" in general["partners"].iloc[0]
    assert sites.loc["Priory Hospital Altrincham", "building_count"] == 6  # one complex, six OS polygons


def test_hand_checked_sample_precision(demo):
    sample = pd.read_csv(ROOT / "tests" / "fixtures" / "matching_sample.csv", comment="#")
    assert len(sample) >= 20
    applied = demo.matches[demo.matches["status"] == "matched"]
    found = set(zip(applied["building_id_a"], applied["building_id_b"], strict=True))
    missing = [(a, b) for a, b in zip(sample["building_id_a"], sample["building_id_b"], strict=True)
               if (a, b) not in found]
    assert not missing, f"hand-checked matches no longer applied: {missing[:5]}"
    precision = (sample["verdict"].astype(str).str.lower() == "true").mean()
    assert precision >= 0.95
