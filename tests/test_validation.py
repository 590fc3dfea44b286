"""Per-row checks: parsing, severities, readable reasons, outcomes that always add up."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estates.validation import (
    RULES,
    SEVERITIES,
    check_duplicates,
    check_fields,
    check_locations,
    issue_text,
    make_issues,
    outcomes,
    summarise,
)


def _text(**columns: list[object]) -> pd.DataFrame:
    return pd.DataFrame(columns, dtype=object)


def _codes(issues: pd.DataFrame, row: int) -> set[str]:
    return set(issues.loc[issues["row"] == row, "code"])


def test_every_rule_has_a_known_severity_and_meaning():
    for severity, meaning in RULES.values():
        assert severity in SEVERITIES
        assert meaning


def test_numbers_parse_units_and_reject_nonsense():
    text = _text(name=["a"] * 7, gia_m2=["415.05", "1,234 sq m", "-120", "9999999", "about 300", "1076 sq ft", None])
    checked = check_fields(text)
    gia = checked.values["gia_m2"]
    assert gia[0] == pytest.approx(415.05)
    assert gia[1] == 1234
    assert np.isnan(gia[2])
    assert "negative_value" in _codes(checked.issues, 2)
    assert np.isnan(gia[3])
    assert "absurd_value" in _codes(checked.issues, 3)
    assert np.isnan(gia[4])
    assert "invalid_number" in _codes(checked.issues, 4)
    assert gia[5] == pytest.approx(1076 * 0.09290304)
    assert np.isnan(gia[6])
    assert not _codes(checked.issues, 6)


def test_units_from_the_mapping():
    checked = check_fields(_text(name=["a"], land_area_ha=["25000"]), units={"land_area_ha": "m2"})
    assert checked.values.loc[0, "land_area_ha"] == pytest.approx(2.5)
    with pytest.raises(ValueError, match="unknown unit"):
        check_fields(_text(name=["a"], land_area_ha=["1"]), units={"land_area_ha": "furlongs"})


def test_square_feet_from_the_header_are_not_converted_twice():
    checked = check_fields(_text(name=["a", "b"], gia_m2=["1000", "1000 sq ft"]), units={"gia_m2": "sqft"})
    assert checked.values["gia_m2"].tolist() == pytest.approx([92.90304, 92.90304])


def test_utilisation_fractions_and_over_100():
    fractions = check_fields(_text(name=["a", "b"], utilisation_pct=["0.85", "0.4"]))
    assert list(fractions.values["utilisation_pct"]) == [85.0, 40.0]
    assert "unusual_value" in set(fractions.issues["code"])
    over = check_fields(_text(name=["a", "b"], utilisation_pct=["85%", "120"]))
    assert list(over.values["utilisation_pct"]) == [85.0, 120.0]  # kept, but flagged
    assert _codes(over.issues, 1) == {"unusual_value"}


@pytest.mark.parametrize(("value", "digits", "code"), [
    ("100012797623", "100012797623", None),
    ("100012797623.0", "100012797623", None),
    ("1.00012797623E+11", "100012797623", None),
    ("1.00013E+11", None, "invalid_uprn"),  # Excel cut the digits
    ("UPRN-unknown", None, "invalid_uprn"),
    ("0", None, "invalid_uprn"),
])
def test_uprn(value, digits, code):
    checked = check_fields(_text(name=["a"], uprn=[value]))
    assert checked.values.loc[0, "uprn"] == digits
    assert (code in _codes(checked.issues, 0)) if code else not _codes(checked.issues, 0)


@pytest.mark.parametrize(("value", "iso"), [
    ("31/03/2030", "2030-03-31"), ("2031-09-30", "2031-09-30"), ("45000", "2023-03-15"),
    ("30-Jun-2028", "2028-06-30"), ("March 2027", "2027-03-01"), ("13/13/2029", None), ("next year", None),
])
def test_dates(value, iso):
    checked = check_fields(_text(name=["a"], lease_end=[value]))
    assert checked.values.loc[0, "lease_end"] == iso
    assert ("invalid_date" in _codes(checked.issues, 0)) == (iso is None)


def test_codes_energy_condition_holding():
    checked = check_fields(_text(name=["a"] * 4, energy_rating=["E", "epc b", "Z", None],
                                 condition=["Condition C", "good", "B/C", None],
                                 holding_type=["Land/Buildings", "Buildings", "Shed", "Land"]))
    values = checked.values
    assert list(values["energy_rating"][:3]) == ["E", "B", None]
    assert list(values["condition"][:3]) == ["C", "A", None]
    assert list(values["holding_type"]) == ["land+buildings", "building", None, "land"]
    assert _codes(checked.issues, 2) == {"invalid_code"}


def test_coordinates_placeholders_and_halves():
    checked = check_fields(_text(name=["a"] * 4, x=["-2.35", "0", "west", "-2.3"], y=["53.38", "0", "53.4", None]))
    x = checked.values["x"]
    assert x[0] == pytest.approx(-2.35)
    assert np.isnan(x[1])
    assert np.isnan(x[2])
    assert np.isnan(x[3])
    for row in (1, 2, 3):
        assert "invalid_coordinate" in _codes(checked.issues, row)


def test_postcodes_invalid_and_partial_but_lowercase_is_fine():
    checked = check_fields(_text(name=["a"] * 4, postcode=["m337zf", "M32 OXZ", "M31", "WA14 1PF"]))
    assert not _codes(checked.issues, 0)
    assert _codes(checked.issues, 1) == {"invalid_postcode"}
    assert _codes(checked.issues, 2) == {"partial_postcode"}
    assert checked.values.loc[0, "postcode"] == "m337zf"  # kept as written; normalised by geocoding


def test_formulas_and_html_are_flagged_and_kept_verbatim():
    names = ['=HYPERLINK("http://x","y")', "<script>alert(1)</script>", "Broome &amp; House", "-5 Acres Depot",
             "- Vacant", "Sale Waterside"]
    checked = check_fields(_text(name=names))
    assert _codes(checked.issues, 0) == {"formula_text"}
    assert _codes(checked.issues, 1) == {"html_text"}
    assert _codes(checked.issues, 2) == {"html_text"}
    assert not _codes(checked.issues, 3)  # a leading minus and digit is not a formula
    assert not _codes(checked.issues, 5)
    assert checked.values.loc[0, "name"] == names[0]


def test_blank_rows_and_missing_names():
    checked = check_fields(_text(name=[None, None], postcode=[None, "M33 7ZF"], extra=[None, None]))
    assert _codes(checked.issues, 0) == {"blank_row"}
    assert _codes(checked.issues, 1) == {"no_name"}
    geometry = check_fields(_text(name=[None], extra=[None]), has_geometry=np.array([True]))
    assert _codes(geometry.issues, 0) == {"no_name"}


def test_duplicates_first_kept_later_rejected_with_the_first_row_number():
    raw = pd.DataFrame({"id": ["A", "B", "A", "B", "C"], "name": ["x", "y", "x", "other", "z"]}, dtype=object)
    issues = check_duplicates(raw, raw["id"], np.array([2, 3, 4, 5, 6]))
    assert _codes(issues, 2) == {"duplicate_row"}
    assert "row 2" in issues.loc[issues["row"] == 2, "reason"].iloc[0]
    assert _codes(issues, 3) == {"duplicate_id"}
    assert "row 3" in issues.loc[issues["row"] == 3, "reason"].iloc[0]
    assert _codes(issues, 1) == {"id_reused"}
    assert not _codes(issues, 0)
    assert not _codes(issues, 4)


def test_ids_differing_only_in_case_or_spacing_are_duplicates_and_the_reason_says_so():
    raw = pd.DataFrame({"id": ["H0000", "h0000", "X 1", "x  1", "H0000"], "name": ["a", "b", "c", "d", "e"]},
                       dtype=object)
    issues = check_duplicates(raw, raw["id"], np.array([2, 3, 4, 5, 6]))
    reasons = issues.set_index(["row", "code"])["reason"]
    assert reasons[(1, "duplicate_id")] == ("id 'h0000' is already used on row 2 as 'H0000' (ids are compared "
                                            "ignoring case and spaces)")
    assert reasons[(4, "duplicate_id")] == "id 'H0000' is already used on row 2"
    assert "ignoring case" in reasons[(3, "duplicate_id")]
    assert reasons[(0, "id_reused")] == "id 'H0000' is used again on row(s) 3, 6"
    assert _codes(issues, 2) == {"id_reused"}


def _located(method: list[str], issue: list[str], outside: list[object]) -> pd.DataFrame:
    return pd.DataFrame({"geocode_method": method, "geocode_issue": issue,
                         "outside_trafford": pd.array(outside, dtype="boolean")})


def test_location_checks_and_superseded_postcode_warnings():
    located = _located(["none", "postcode_district", "coordinates_swapped", "coordinates", "postcode"],
                       ["'XYZ' is not a valid UK postcode", "only a partial postcode (M31); located at its district "
                        "centroid", "latitude and longitude were given the wrong way round; swapped",
                        "coordinates are 1.3 km from the centroid of postcode M32 9AH; coordinates kept", ""],
                       [None, False, False, False, True])
    field_issues = pd.concat([make_issues([0], field="postcode", code="invalid_postcode", reason="bad"),
                              make_issues([1], field="postcode", code="partial_postcode", reason="partial")])
    issues = check_locations(located, outside_column="outside_trafford", place_name="Trafford",
                             field_issues=field_issues)
    assert _codes(issues, 0) == {"no_location"}  # the postcode warning is told once, inside the error
    assert "not located: 'XYZ'" in issues.loc[issues["row"] == 0, "reason"].iloc[0]
    assert _codes(issues, 1) == {"approximate_location"}
    assert _codes(issues, 2) == {"swapped_coordinates"}
    assert _codes(issues, 3) == {"location_issue"}
    assert _codes(issues, 4) == {"outside_place"}
    assert "outside Trafford" in issues.loc[issues["row"] == 4, "reason"].iloc[0]


def test_outcomes_issue_text_and_summary_add_up():
    index = pd.RangeIndex(4)
    issues = pd.concat([make_issues([1], field="name", code="no_name", reason="no name"),
                        make_issues([2], field="", code="blank_row", reason="blank row"),
                        make_issues([2], field="name", code="no_name", reason="no name")])
    outcome = outcomes(index, issues)
    assert list(outcome) == ["accepted", "warned", "rejected", "accepted"]
    text = issue_text(index, issues)
    assert text[2] == "error: blank row; warning: no name"
    assert text[0] == ""
    assert summarise(outcome) == {"rows": 4, "accepted": 2, "warned": 1, "rejected": 1}
    with pytest.raises(AssertionError, match="do not add up"):
        summarise(pd.Series(["accepted", "lost"]))


def test_docs_describe_every_rule_and_field():
    from estates.schema import FIELDS, PROVENANCE_FIELDS
    from tests.conftest import ROOT

    text = (ROOT / "docs" / "schema.md").read_text(encoding="utf-8")
    for code, (severity, _) in RULES.items():
        assert f"| `{code}` | {severity} |" in text, code
    for field in FIELDS + PROVENANCE_FIELDS:
        assert f"`{field.name}`" in text, field.name
