"""estates.analysis.filters on the real demo estate: every dimension, missing values, free-text search, historic
records."""

from __future__ import annotations

import pandas as pd
import pytest

from estates.analysis.filters import DIMENSIONS, MISSING_LABEL, Filters, filter_buildings, filter_options
from estates.estate import current_estate


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    return current_estate(use_store=False)


def test_no_filters_keep_everything_in_order(estate: pd.DataFrame) -> None:
    shown = filter_buildings(estate, Filters())

    assert shown.index.equals(estate.index)
    assert filter_buildings(estate, None) is estate
    assert not Filters().active
    assert Filters().describe() == ""


@pytest.mark.parametrize(("field", "value"), [
    ("partners", "Trafford libraries"), ("partner_types", "school"), ("statuses", "surplus"),
    ("neighbourhoods", "North"), ("pcns", "Sale Central PCN"), ("wards", "Stretford & Humphrey Park"),
    ("holding_types", "land"),
])
def test_each_dimension_selects_exactly_its_value(estate: pd.DataFrame, field: str, value: str) -> None:
    column = DIMENSIONS[field][0]
    shown = filter_buildings(estate, Filters().replace(**{field: [value]}))

    assert len(shown) == int((estate[column] == value).sum()) > 0
    assert (shown[column] == value).all()


def test_conditions_combine_and_values_within_one_filter_add_up(estate: pd.DataFrame) -> None:
    north = filter_buildings(estate, Filters(neighbourhoods=("North",)))
    north_or_west = filter_buildings(estate, Filters(neighbourhoods=("North", "West")))
    north_surplus = filter_buildings(estate, Filters(neighbourhoods=("North",), statuses=("surplus",)))

    assert len(north_or_west) == len(north) + int((estate["neighbourhood"] == "West").sum())
    assert len(north_surplus) == int(((estate["neighbourhood"] == "North") & (estate["status"] == "surplus")).sum())
    assert 0 < len(north_surplus) < len(north)


def test_missing_values_are_offered_and_matched_as_none(estate: pd.DataFrame) -> None:
    options = filter_options(estate)
    unplaced = filter_buildings(estate, Filters(neighbourhoods=(MISSING_LABEL,)))

    assert options["neighbourhoods"] == ["Central", "North", "South", "West", MISSING_LABEL]
    assert options["statuses"] == ["core", "key", "needs data", "surplus"]
    assert len(unplaced) == int(estate["neighbourhood"].isna().sum()) > 0
    assert unplaced["neighbourhood"].isna().all()


@pytest.mark.parametrize(("query", "expected_id"), [
    ("trafford town hall", "trafford-council:TMBC0008/T0000001"),  # name, any case
    ("m320th", "trafford-council:TMBC0008/T0000001"),  # postcode without its space, lower case
    ("M32 0TH", "trafford-council:TMBC0008/T0000001"),
    ("10091813602", "trafford-council:TMBC0008/T0000001"),  # UPRN
    ("TMBC0008/T0000001", "trafford-council:TMBC0008/T0000001"),  # the partner's own id in the building id
])
def test_search_finds_by_name_postcode_uprn_and_id(estate: pd.DataFrame, query: str, expected_id: str) -> None:
    shown = filter_buildings(estate, Filters(search=query))

    assert expected_id in set(shown["building_id"])
    assert len(shown) < 10


def test_search_by_postcode_district_takes_the_start_of_postcodes_only(estate: pd.DataFrame) -> None:
    shown = filter_buildings(estate, Filters(search="M32"))

    normalised = shown["postcode_normalised"].fillna("").str.replace(" ", "")
    as_written = shown["postcode"].astype("str").fillna("").str.replace(" ", "").str.upper()
    text = (shown["name"].fillna("") + " " + shown["building_id"]).str.casefold()  # e.g. ODS code RM321
    assert (normalised.str.startswith("M32") | as_written.str.startswith("M32") | text.str.contains("m32")).all()
    assert len(shown) > 20


def test_search_treats_regex_characters_as_text(estate: pd.DataFrame) -> None:
    assert len(filter_buildings(estate, Filters(search="(.*)"))) == 0


def test_historic_records_can_be_left_out(estate: pd.DataFrame) -> None:
    shown = filter_buildings(estate, Filters(include_historic=False))

    assert len(shown) == int((~estate["historic"].astype(bool)).sum())
    assert Filters(include_historic=False).describe() == "historic records left out"


def test_a_mapping_works_like_filters_and_describe_reads_well(estate: pd.DataFrame) -> None:
    as_mapping = filter_buildings(estate, {"statuses": ["key"], "search": "hospital"})
    filters = Filters(statuses=("key",), search="hospital")

    assert as_mapping.index.equals(filter_buildings(estate, filters).index)
    assert filters.describe() == "Status: key; Search: 'hospital'"
    assert filters.without("statuses") == Filters(search="hospital")
