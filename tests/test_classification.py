"""Key / core / surplus classification on real register rows (tests/fixtures/classification_sample.csv)."""

from __future__ import annotations

import json
import textwrap
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from estates.classification import (
    DEFAULT_RULES,
    DESIGNATED_RULE_ID,
    FALLBACK_RULE_ID,
    RulesError,
    classify,
    load_rules,
    parse_rules,
    status_crosstab,
)
from estates.schema import STATUSES

SAMPLE = Path(__file__).resolve().parent / "fixtures" / "classification_sample.csv"
TODAY = date(2025, 6, 1)


@pytest.fixture(scope="module")
def rules():
    return load_rules(DEFAULT_RULES)


@pytest.fixture(scope="module")
def sample() -> pd.DataFrame:
    return pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def result(sample, rules) -> pd.DataFrame:
    return classify(sample, rules, today=TODAY)


def row(sample: pd.DataFrame, result: pd.DataFrame, name: str, **where: str) -> pd.Series:
    mask = sample["name"] == name
    for key, value in where.items():
        mask &= sample[key] == value
    assert mask.sum() == 1, f"expected one row named {name!r} {where}, found {int(mask.sum())}"
    return result[mask].iloc[0]


def rules_from(text: str):
    import yaml

    return parse_rules(yaml.safe_load(textwrap.dedent(text)), source="test.yaml")


# ------------------------------------------------------------------------------------------------ the Trafford rules
def test_default_rules_load(rules):
    assert rules.place == "trafford"
    assert len(rules.rules) >= 10
    assert {r.status for r in rules.rules} <= set(STATUSES)
    assert [s.name for s in rules.designated_sites] == ["Trafford Town Hall", "Sale Waterside",
                                                         "Trafford General Hospital"]
    assert rules.rule("vacant").needs == ("tenure_detail",)
    assert rules.rule("costly-underused").needs == ("utilisation_pct", "annual_running_cost", "gia_m2",
                                                    "energy_rating")


def test_every_building_gets_a_status_and_an_explanation(sample, result):
    assert len(result) == len(sample)
    assert result.index.equals(sample.index)
    assert list(result["building_id"]) == list(sample["building_id"])
    assert set(result["rule_status"]) <= set(STATUSES)
    assert result["explanation"].str.len().min() > 40
    assert result["rule_id"].str.len().min() > 0
    for status, text in zip(result["rule_status"], result["explanation"], strict=True):
        assert text.startswith(f"{status} — ")
    json.dumps(result["explanation_detail"].tolist())  # JSON-able


def test_row_order_and_index_are_kept(sample, rules):
    shuffled = sample.sample(frac=1, random_state=3).set_index(pd.Index([f"r{i}" for i in range(len(sample))]))
    out = classify(shuffled, rules, today=TODAY)
    assert out.index.equals(shuffled.index)
    assert list(out["building_id"]) == list(shuffled["building_id"])
    plain = classify(sample, rules, today=TODAY).set_index(sample["building_id"])
    assert list(out["rule_status"]) == list(plain.loc[shuffled["building_id"], "rule_status"])


def test_vacant_council_assets_are_surplus_quoting_the_tenure(sample, result):
    vacant = sample["tenure_detail"] == "Vacant"
    assert vacant.sum() == 12
    assert (result.loc[vacant, "rule_status"] == "surplus").all()
    assert (result.loc[vacant, "rule_id"] == "vacant").all()
    assert result.loc[vacant, "explanation"].str.contains("tenure detail is 'Vacant'", regex=False).all()
    detail = result.loc[vacant, "explanation_detail"].iloc[0]
    assert detail["values"] == {"tenure_detail": "Vacant"}
    # land-only holdings are classified too: vacant land is a disposal candidate
    land = vacant & (sample["holding_type"] == "land")
    assert land.sum() >= 3
    assert (result.loc[land, "rule_status"] == "surplus").all()


@pytest.mark.parametrize(("name", "site", "matched"), [
    ("Trafford Town Hall", "Trafford Town Hall", "UPRN '10091813602'"),
    ("Sale Waterside (Sale TH/Sale Civic Theatre/Sale TH Annexe), Waterside House", "Sale Waterside",
     "UPRN '10024817974'"),
    ("Sale Library (Integrated Facility in Sale Waterside)", "Sale Waterside", "UPRN '10024817974'"),
])
def test_civic_key_sites_are_key_with_why(sample, result, name, site, matched):
    r = row(sample, result, name)
    assert r["rule_status"] == "key"
    assert r["rule_id"] == DESIGNATED_RULE_ID
    assert f"designated key site '{site}' (matched on {matched})" in r["explanation"]
    assert "no use" in r["explanation"]  # the reason says why it had to be designated
    # the general rules alone would have said core (owner occupied): the explanation shows it
    assert "Also matches: 'partner-occupied' (core)" in r["explanation"]
    assert r["explanation_detail"]["decided_by"]["site"] == site


def test_trafford_general_hospital_is_key_from_every_register(sample, result):
    tgh = sample["name"] == "Trafford General Hospital"
    assert tgh.sum() == 2  # NHS ODS 2018 (historic) and the OS hospital footprint
    assert (result.loc[tgh, "rule_status"] == "key").all()
    ods = row(sample, result, "Trafford General Hospital", source_id="R0A09")
    assert "partner's own id 'R0A09'" in ods["explanation"]
    assert "Also matches: 'historic-record' (needs data)" in ods["explanation"]
    footprint = result[tgh & (sample["partner_type"] == "other")].iloc[0]  # OS footprint: no owner, use 'Hospital'
    assert "name 'Trafford General Hospital'" in footprint["explanation"]
    assert "Also matches" not in footprint["explanation"]  # no general rule would make it key


def test_general_rules_on_other_registers(sample, result):
    # Altrincham Hospital: the 2018 ODS record is historic, the OS footprint has no owner (partner type other)
    assert row(sample, result, "Altrincham Hospital", partner_type="nhs_trust")["rule_id"] == "historic-record"
    assert row(sample, result, "Altrincham Hospital", partner_type="other")["rule_id"] == FALLBACK_RULE_ID
    # the general hospital rule needs an NHS owner and a hospital use
    nhs = sample[sample["name"] == "Altrincham Hospital"].assign(partner_type="nhs_trust", historic="False",
                                                                  use="Hospital")
    assert set(classify(nhs, load_rules(DEFAULT_RULES), today=TODAY)["rule_id"]) == {"hospital"}
    assert row(sample, result, "Dermatology Trafford")["rule_status"] == "needs data"
    assert row(sample, result, "Park Medical Practice")["rule_id"] == "gp-surgery"
    assert row(sample, result, "Navigation Primary School")["rule_id"] == "school"
    assert row(sample, result, "Altrincham Library")["rule_id"] == "library"
    assert row(sample, result, "Sale Leisure Centre", partner_type="leisure")["rule_id"] == "leisure"
    assert row(sample, result, "Old Trafford")["rule_status"] == "needs data"  # community hub: no use recorded
    fire = result[sample["partner_type"] == "fire"].iloc[0]
    assert fire["rule_id"] == "fire-station"
    assert fire["rule_status"] == "core"
    assert row(sample, result, "Altrincham Town Hall")["rule_id"] == "civic-centre"
    assert row(sample, result, "Elmridge Primary School")["rule_id"] == "school"  # 'Leasehold out' + Academy
    assert row(sample, result, "Brookfield Allotments")["rule_status"] == "core"
    assert row(sample, result, "Broome House")["rule_id"] == "service-by-arrangement"
    undocumented = row(sample, result, "Longford Park, Parks Amenities and Trafford College")
    assert undocumented["rule_status"] == "needs data"
    assert undocumented["rule_id"] == "undocumented-tenancy"


def test_needs_data_lists_the_missing_facts(sample, result):
    # Let to a third party with no recorded use: no rule can decide.
    r = row(sample, result, "Broomwood Centre")
    assert r["rule_status"] == "needs data"
    assert r["rule_id"] == FALLBACK_RULE_ID
    detail = r["explanation_detail"]
    assert {"use", "utilisation_pct", "condition", "site_partner_count"} <= set(detail["missing_facts"])
    assert "Facts that would let a rule decide:" in r["explanation"]
    assert "use / service missing" in r["explanation"]
    assert "'school'" in r["explanation"]  # the rules that could not be checked are named
    # the Jobcentre has no tenure at all: the vacancy rule could not be checked
    jcp = result[sample["partner_type"] == "dwp"].iloc[0]
    assert jcp["rule_status"] == "needs data"
    assert {"rule": "vacant", "status": "surplus", "missing": ["tenure_detail"]} in jcp["explanation_detail"][
        "not_checked"]


def test_counts_by_partner_and_status(sample, result):
    table = status_crosstab(sample, result)
    assert list(table.columns) == [*STATUSES, "total"]
    assert table.loc["total", "total"] == len(sample)
    council = table.loc["Trafford Council"]
    assert council["surplus"] == 12
    assert council["key"] == 4
    assert council[list(STATUSES)].sum() == 40


# ------------------------------------------------------------------------------------------------ rule semantics
def test_ordered_evaluation_first_true_rule_wins(sample, result):
    town_hall = sample[sample["name"] == "Altrincham Town Hall"]
    both = """
        rules:
          - id: first
            status: {first}
            description: First.
            when: {{tenure_detail: {{equals: Owner Occupied}}}}
          - id: second
            status: {second}
            description: Second.
            when: {{extra.OtherDetail: {{equals: town hall}}}}
    """
    a = classify(town_hall, rules_from(both.format(first="core", second="key")), today=TODAY).iloc[0]
    b = classify(town_hall, rules_from(both.format(first="key", second="core")), today=TODAY).iloc[0]
    assert (a["rule_id"], a["rule_status"]) == ("first", "core")
    assert (b["rule_id"], b["rule_status"]) == ("first", "key")
    assert a["explanation_detail"]["also_matched"] == [{"rule": "second", "status": "key"}]
    # In the Trafford file civic-centre comes before partner-occupied, so the town hall is key.
    r = row(sample, result, "Altrincham Town Hall")
    assert r["rule_status"] == "key"
    assert "Also matches: 'partner-occupied' (core)" in r["explanation"]


def test_lease_end_within_months_uses_today(sample, rules):
    # Real row (Princess Centre, leased in), with a lease end and utilisation set for the test.
    one = sample[sample["name"] == "Princess Centre (74)"].copy()
    one["lease_end"] = "2026-06-30"
    one["utilisation_pct"] = "30"
    soon = classify(one, rules, today=date(2025, 6, 1)).iloc[0]
    assert soon["rule_id"] == "lease-ending-underused"
    assert soon["rule_status"] == "surplus"
    assert "lease end / break date is 2026-06-30 (within 18 months of 2025-06-01)" in soon["explanation"]
    assert "utilisation is 30%, below 50" in soon["explanation"]
    assert soon["explanation_detail"]["values"] == {"lease_end": "2026-06-30", "utilisation_pct": 30.0}
    later = classify(one, rules, today=date(2024, 6, 1)).iloc[0]  # 25 months ahead: not within 18
    assert later["rule_id"] == "partner-occupied"
    assert later["rule_status"] == "core"
    past = classify(one, rules, today=date(2027, 1, 1)).iloc[0]  # already ended: the most urgent case
    assert past["rule_id"] == "lease-ending-underused"
    assert "(already passed on 2027-01-01)" in past["explanation"]
    edge = classify(one, rules, today=date(2024, 12, 30)).iloc[0]  # exactly 18 months: within
    assert edge["rule_id"] == "lease-ending-underused"
    unreadable = one.assign(lease_end="next spring")
    assert classify(unreadable, rules, today=TODAY).iloc[0]["rule_id"] == "partner-occupied"


def test_no_rule_fires_on_a_missing_value(sample):
    checks = rules_from("""
        rules:
          - id: low-use
            status: surplus
            description: Low use.
            when: {utilisation_pct: {lt: 15}}
          - id: not-vacant
            status: core
            description: Not vacant.
            when: {tenure_detail: {not_equals: Vacant}}
          - id: not-school
            status: core
            description: Not a school.
            when: {use: {not_in: [School]}}
          - id: old-lease
            status: surplus
            description: Lease ends.
            when: {lease_end: {within_months: 1200}}
    """)
    out = classify(sample, checks, today=TODAY)
    no_tenure = sample["tenure_detail"] == ""
    no_use = sample["use"] == ""
    assert (out["rule_id"] != "low-use").all()  # nobody records utilisation
    assert (out["rule_id"] != "old-lease").all()  # nor lease ends
    assert (out.loc[no_tenure & no_use, "rule_status"] == "needs data").all()
    assert not out.loc[no_tenure, "rule_id"].eq("not-vacant").any()
    jcp = out[sample["partner_type"] == "dwp"].iloc[0]["explanation_detail"]
    assert jcp["missing_facts"] == ["utilisation_pct", "tenure_detail", "use", "lease_end"]
    library = out[sample["partner_type"] == "library"].iloc[0]
    assert library["rule_id"] == "not-school"  # use 'Local authority run library' is recorded
    # only rules tried before the deciding one are reported as not checked
    assert library["explanation_detail"]["missing_facts"] == ["utilisation_pct", "tenure_detail"]
    # a blank or unreadable number is missing too, never zero
    blanks = sample.head(3).assign(utilisation_pct=["", "n/a", " "])
    assert (classify(blanks, checks, today=TODAY)["rule_id"] != "low-use").all()
    zero = sample.head(1).assign(utilisation_pct="0")
    assert classify(zero, checks, today=TODAY).iloc[0]["rule_id"] == "low-use"


def test_measured_facts_drive_the_surplus_rules(sample, rules):
    base = sample[sample["name"] == "Partington Healthy Living Centre"]
    assert classify(base, rules, today=TODAY).iloc[0]["rule_id"] == "partner-occupied"
    poor = classify(base.assign(condition="d", utilisation_pct="35"), rules, today=TODAY).iloc[0]
    assert poor["rule_id"] == "poor-condition-underused"
    assert "condition is 'd' (one of: C, D)" in poor["explanation"]
    costly = classify(base.assign(utilisation_pct="35", annual_running_cost="187000"), rules, today=TODAY).iloc[0]
    assert costly["rule_id"] == "costly-underused"  # £187,000 / 935 m² = £200/m²
    assert "running cost per m² is £200/m², above 150" in costly["explanation"]
    busy = classify(base.assign(utilisation_pct="85", annual_running_cost="187000"), rules, today=TODAY).iloc[0]
    assert busy["rule_id"] == "partner-occupied"
    hub = classify(base.assign(site_partner_count=3), rules, today=TODAY).iloc[0]
    assert classify(base.assign(site_partner_count=2), rules, today=TODAY).iloc[0]["rule_id"] == "partner-occupied"
    assert hub["rule_id"] == "co-located-hub"
    assert hub["rule_status"] == "key"


def test_missing_flag_is_not_a_missing_fact(sample, result):
    council = result[sample["partner_type"] == "council"]
    for detail in council["explanation_detail"]:
        assert "historic" not in detail["missing_facts"]
    flags = sample.head(4).assign(historic=["yes", "False", "1", "maybe"])
    out = classify(flags, load_rules(DEFAULT_RULES), today=TODAY)
    assert list(out["rule_id"] == "historic-record") == [True, False, True, False]


def test_partners_per_site_from_site_id(sample, rules):
    # Site matching gives records a site_id; the partner count per site is counted from the table itself.
    names = ["Partington Healthy Living Centre", "Park Medical Practice", "Altrincham Library",
             "Altrincham Medical Practice", "Dermatology Trafford", "Broomwood Centre"]
    rows = sample[sample["name"].isin(names)].copy()
    # a council centre, a GP practice and a library share S1; on S2 a GP practice and a historic NHS record
    rows["site_id"] = rows["name"].map({"Partington Healthy Living Centre": "S1", "Park Medical Practice": "S1",
                                        "Altrincham Library": "S1", "Altrincham Medical Practice": "S2",
                                        "Dermatology Trafford": "S2", "Broomwood Centre": ""})
    out = classify(rows, rules, today=TODAY).set_index(rows["name"])
    assert out.loc["Partington Healthy Living Centre", "rule_id"] == "co-located-hub"
    assert "number of partners on the same site is 3, at least 3" in out.loc["Partington Healthy Living Centre",
                                                                             "explanation"]
    assert out.loc["Park Medical Practice", "rule_id"] == "co-located-hub"
    assert out.loc["Altrincham Medical Practice", "rule_id"] == "gp-surgery"  # the 2018 record does not count
    assert "site_partner_count" in out.loc["Broomwood Centre", "explanation_detail"]["missing_facts"]
    # two partners are not enough under the Trafford threshold
    pair = classify(rows[rows["name"] != "Altrincham Library"], rules, today=TODAY)
    assert not (pair["rule_id"] == "co-located-hub").any()
    # one definition: a site_partner_count column (e.g. read back from the store) does not override the count
    given = classify(rows.assign(site_partner_count=1), rules, today=TODAY)
    assert (given["rule_id"] == "co-located-hub").sum() == 3
    # without site_id, a given site_partner_count is all there is
    alone = classify(rows.drop(columns="site_id").assign(site_partner_count=3), rules, today=TODAY)
    assert set(alone["rule_id"]) == {"co-located-hub", "historic-record"}


def test_designated_site_covers_its_whole_site(sample, rules):
    # An NHS service recorded at Waterside House (real ODS row Y07442 'ADULT CLDT TRAFFORD', another UPRN) is
    # matched to the Sale Waterside site by site matching; here the site_id is given directly.
    waterside = sample[sample["uprn"] == "10091813602"].assign(site_id="S1")  # Trafford Town Hall
    service = pd.DataFrame({"building_id": ["nhs:Y07442"], "partner": ["NHS"], "partner_type": ["nhs_trust"],
                            "name": ["ADULT CLDT TRAFFORD"], "postcode": ["M33 7ZF"], "uprn": ["100012702157"],
                            "site_id": ["S1"]})
    frame = pd.concat([waterside, service], ignore_index=True)
    out = classify(frame, rules, today=TODAY)
    assert list(out["rule_status"]) == ["key", "key"]
    assert "on the same site as a building matched by it: site 'S1'" in out.iloc[1]["explanation"]
    alone = classify(service.drop(columns="site_id"), rules, today=TODAY).iloc[0]
    assert alone["rule_status"] == "needs data"


def test_uprn_and_numbers_given_as_numbers(sample, rules):
    typed = sample.copy()
    typed["uprn"] = pd.to_numeric(typed["uprn"], errors="coerce")  # float64: 10091813602.0
    typed["gia_m2"] = pd.to_numeric(typed["gia_m2"], errors="coerce")
    out = classify(typed, rules, today=TODAY)
    assert out.loc[typed["name"] == "Trafford Town Hall", "explanation"].iloc[0].count("'10091813602'") == 1


def test_register_columns_kept_in_extra(sample):
    checks = rules_from("""
        rules:
          - id: allotment
            status: core
            description: Allotment.
            when: {extra.OtherDetail: {equals: managed allotments}}
    """)
    out = classify(sample, checks, today=TODAY)
    allotments = sample["extra"].str.contains('"OtherDetail": "Managed allotments"', regex=False)
    assert allotments.sum() == 2
    assert list(out["rule_id"] == "allotment") == list(allotments)
    first = out[allotments].iloc[0]
    assert "register column OtherDetail is 'Managed allotments'" in first["explanation"]
    assert first["explanation_detail"]["values"] == {"extra.OtherDetail": "Managed allotments"}
    # a council row without OtherDetail: the fact is missing, and said so
    assert out.iloc[1]["explanation_detail"]["missing_facts"] == ["extra.OtherDetail"]
    # extra given as dicts (not JSON text), and column names compared without case or spacing
    as_dicts = pd.DataFrame({"extra": [{"other detail": "Managed allotments"}, {"OtherDetail": "Parks"}, None, "{bad"]})
    assert list(classify(as_dicts, checks, today=TODAY)["rule_status"]) == ["core", "needs data", "needs data",
                                                                          "needs data"]


def test_contains_and_equals_ignore_case_and_spacing(sample):
    checks = rules_from("""
        rules:
          - id: lease-out
            status: surplus
            description: Let out.
            when: {tenure_detail: {equals: "  LEASEHOLD   out "}}
          - id: library-named
            status: core
            description: Named library.
            when: {name: {contains: [LIBRARY]}}
    """)
    out = classify(sample, checks, today=TODAY)
    lease_out = sample["tenure_detail"].str.lower() == "leasehold out"
    assert lease_out.sum() == 5  # four "Leasehold Out" and the register's one "Leasehold out"
    assert (out.loc[lease_out, "rule_id"] == "lease-out").all()
    named = sample["name"].str.contains("library", case=False) & ~lease_out
    assert (out.loc[named, "rule_id"] == "library-named").all()


def test_empty_and_bare_frames(rules):
    empty = classify(pd.DataFrame({"building_id": pd.Series([], dtype="str")}), rules, today=TODAY)
    assert list(empty.columns) == ["building_id", "rule_status", "rule_id", "explanation", "explanation_detail"]
    assert len(empty) == 0
    bare = classify(pd.DataFrame({"name": ["Somewhere"]}), rules, today=TODAY).iloc[0]
    assert bare["rule_status"] == "needs data"
    assert "tenure_detail" in bare["explanation_detail"]["missing_facts"]


def test_vectorised_on_many_rows(sample, rules):
    many = pd.concat([sample] * 400, ignore_index=True)
    out = classify(many, rules, today=TODAY)
    small = classify(sample, rules, today=TODAY)
    assert list(out["rule_status"]) == list(small["rule_status"]) * 400
    assert list(out["explanation"]) == list(small["explanation"]) * 400


# ------------------------------------------------------------------------------------------------ malformed files
@pytest.mark.parametrize(("body", "message"), [
    ("""
     rules:
       - id: vacant
         status: surplus
         description: Vacant.
         when: {tenure_detial: {equals: Vacant}}
     """, "rule 'vacant' (rule 1): unknown field 'tenure_detial' — did you mean 'tenure_detail'?"),
    ("""
     rules:
       - id: vacant
         status: surplus
         description: Vacant.
         when: {tenure_detail: {equal: Vacant}}
     """, "rule 'vacant' (rule 1): unknown operator 'equal' for field 'tenure_detail' — did you mean 'equals'?"),
    ("""
     rules:
       - id: low
         status: surplus
         description: Low.
         when: {utilisation_pct: {lt: fifteen}}
     """, "rule 'low' (rule 1): threshold 'lt' for field 'utilisation_pct' must be a number, got 'fifteen'"),
    ("""
     rules:
       - id: low
         status: surplus
         description: Low.
         when: {name: {lt: 3}}
     """, "operator 'lt' does not apply to text field 'name'"),
    ("""
     rules:
       - id: lease
         status: surplus
         description: Lease.
         when: {lease_end: {within_months: 0}}
     """, "'within_months' for field 'lease_end' needs a whole number of months greater than 0"),
    ("""
     rules:
       - id: x
         status: disposal
         description: X.
         when: {use: {equals: A}}
     """, "rule 'x' (rule 1): 'status' must be one of key, core, surplus, needs data, got 'disposal'"),
    ("""
     rules:
       - id: x
         status: core
         when: {use: {equals: A}}
     """, "rule 'x' (rule 1): 'description' must say"),
    ("""
     rules:
       - id: x
         status: core
         description: X.
         when: {use: {in: School}}
     """, "'in' for field 'use' needs a non-empty list"),
    ("""
     rules:
       - id: x
         status: core
         description: X.
         when: {use: {equals: A}}
       - id: x
         status: key
         description: Y.
         when: {use: {equals: B}}
     """, "rule 'x' (rule 2): the same id is used by an earlier rule"),
    ("""
     rules:
       - id: x
         status: core
         description: X.
         thresholds: 3
         when: {use: {equals: A}}
     """, "rule 'x' (rule 1): unknown key 'thresholds'"),
    ("""
     designated_key_sites:
       sites:
         - name: Town Hall
           reason: Civic HQ.
           match: [{uprn: "10091813602", postcde: M32 0TH}]
     rules:
       - {id: x, status: core, description: X., when: {use: {equals: A}}}
     """, "designated key site 'Town Hall', match[1]: unknown key 'postcde' — did you mean 'postcode'?"),
    ("""
     rule:
       - {id: x, status: core, description: X., when: {use: {equals: A}}}
     """, "top level: unknown key 'rule' — did you mean 'rules'?"),
    ("""
     rules:
       - {id: x, status: core, description: X., when: {use: {equals: A}}}
     fallback: {status: core}
     """, "fallback: 'status' must be 'needs data'"),
])
def test_malformed_rules_give_readable_errors(tmp_path, body, message):
    path = tmp_path / "rules.yaml"
    path.write_text(textwrap.dedent(body), encoding="utf-8")
    with pytest.raises(RulesError) as info:
        load_rules(path)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_invalid_yaml_is_a_rules_error(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("rules:\n  - id: x\n    when: {use: [unclosed\n", encoding="utf-8")
    with pytest.raises(RulesError, match="not valid YAML"):
        load_rules(path)
