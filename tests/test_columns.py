"""Column recognition and per-partner mapping onto the canonical record."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from estates.columns import (
    MAPPABLE_FIELDS,
    ColumnMappingError,
    apply_mapping,
    name_key,
    recognise_columns,
    recognise_name,
    recognise_unit,
)
from estates.registers import read_register
from tests.conftest import ROOT


@pytest.mark.parametrize(("name", "field"), [
    ("PostCode", "postcode"), ("Post Code", "postcode"), ("postcode", "postcode"), ("PC", "postcode"),
    ("post_code", "postcode"), ("GeoX", "x"), ("GeoY", "y"), ("Easting", "x"), ("Northing", "y"),
    ("Longitude", "x"), ("LAT", "y"), ("AddrLn1", "address_line_1"), ("Address Line 2", "address_line_2"),
    ("UPRN", "uprn"), ("AssetCode", "source_id"), ("PropertyName", "name"), ("BuildingSize", "gia_m2"),
    ("GIA (m²)", "gia_m2"), ("EPC Rating", "energy_rating"), ("Lease Expiry Date", "lease_end"),
    ("Backlog Maintenance", "backlog_maintenance"), ("Utilisation %", "utilisation_pct"),
    ("StreetNumber", "street_number"), ("Favourite colour", None), ("locality", None),
    ("Pharmacy Name", "name"), ("Site Name", "name"), ("Property Name", "name"), ("Premises", "name"),
    ("GIA (sq ft)", "gia_m2"), ("Floor area m²", "gia_m2"), ("NIA sqm", "gia_m2"), ("Site area (acres)",
                                                                                      "land_area_ha"),
    ("pha", None), ("Alpha", None),
])
def test_recognise_name(name, field):
    assert recognise_name(name) == field


def test_name_key():
    assert name_key(" Post-Code ") == "postcode"
    assert name_key("GIA m²") == "giam2"


def test_council_columns_are_recognised_and_unknown_ones_kept():
    raw = read_register(ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv")
    mapping = recognise_columns(raw.frame.columns)
    assert mapping.fields["postcode"] == ("PostCode",)
    assert mapping.fields["address_line_1"] == ("StreetNumber", "StreetName")  # house number joins its street
    assert mapping.fields["x"] == ("GeoX",)
    assert mapping.fields["gia_m2"] == ("BuildingSize",)
    assert {"OrganisationLabel", "EffectiveDate", "OtherDetail"} <= set(mapping.extra)
    used = {c for columns in mapping.fields.values() for c in columns}
    assert used.isdisjoint(mapping.extra)
    assert used | set(mapping.extra) == set(raw.frame.columns)  # every column is either mapped or kept


def test_overrides_replace_unmap_and_join():
    columns = ["Ref", "Site", "Addr 1", "Addr 2", "Post Code", "lon", "lat", "type"]
    mapping = recognise_columns(columns, overrides={"source_id": "Ref", "address_line_1": ["Addr 1", "Addr 2"],
                                                    "x": None, "y": None, "use": "TYPE"})
    assert mapping.fields["source_id"] == ("Ref",)
    assert mapping.fields["address_line_1"] == ("Addr 1", "Addr 2")
    assert mapping.fields["use"] == ("type",)  # matched by key when the case differs
    assert "x" not in mapping.fields
    assert {"lon", "lat"} <= set(mapping.extra)
    assert mapping.configured == frozenset({"source_id", "address_line_1", "use"})
    assert any("configured" in line for line in mapping.describe())


@pytest.mark.parametrize(("overrides", "message"), [
    ({"colour": "Ref"}, "unknown field 'colour'"),
    ({"name": "Nope"}, "'Nope' is not a column"),
    ({"name": 3}, "must be a column name"),
])
def test_bad_overrides_are_readable_errors(overrides, message):
    with pytest.raises(ColumnMappingError, match=message):
        recognise_columns(["Ref", "Name"], overrides=overrides)


def test_best_alias_wins_when_two_columns_claim_a_field():
    mapping = recognise_columns(["Site", "PropertyName", "Postcode", "pcds"])
    assert mapping.fields["name"] == ("PropertyName",)
    assert mapping.fields["postcode"] == ("Postcode",)
    assert set(mapping.extra) == {"Site", "pcds"}


def test_apply_mapping_text_nulls_and_extra_json():
    frame = pd.DataFrame({"AssetCode": ["A1", "A2", None], "PropertyName": ["  Town   Hall ", "N/A", None],
                          "StreetNumber": ["1", None, None], "StreetName": ["Market Street", "Talbot Road", None],
                          "Colour": ["blue", None, None]}, dtype=object)
    mapping = recognise_columns(frame.columns)
    text = apply_mapping(frame, mapping)
    assert text.loc[0, "name"] == "Town Hall"
    assert text.loc[1, "name"] is None  # "N/A" means missing
    assert text.loc[0, "address_line_1"] == "1 Market Street"
    assert text.loc[1, "address_line_1"] == "Talbot Road"
    assert json.loads(text.loc[0, "extra"]) == {"Colour": "blue"}
    assert text.loc[1, "extra"] is None
    assert text.loc[2].isna().all()


def test_mappable_fields_exclude_what_ingest_sets():
    assert "building_id" not in MAPPABLE_FIELDS
    assert "partner" not in MAPPABLE_FIELDS
    assert {"postcode", "uprn", "gia_m2", "lease_end"} <= set(MAPPABLE_FIELDS)


@pytest.mark.parametrize(("name", "unit"), [
    ("GIA (sq ft)", "sqft"), ("Floor area m²", "m2"), ("NIA sqm", "m2"), ("GIA sq. ft", "sqft"),
    ("Site area (acres)", "acres"), ("Land Area ha", "ha"), ("BuildingSize", None), ("Postcode", None),
])
def test_recognise_unit(name, unit):
    assert recognise_unit(name) == unit


def test_unit_in_a_header_converts_unless_configured():
    mapping = recognise_columns(["Pharmacy Name", "GIA (sq ft)", "Postcode"])
    assert mapping.fields == {"name": ("Pharmacy Name",), "postcode": ("Postcode",), "gia_m2": ("GIA (sq ft)",)}
    assert mapping.units == {"gia_m2": "sqft"}
    assert "gia_m2 <- GIA (sq ft) (recognised; unit sqft read from the column name)" in mapping.describe()
    configured = recognise_columns(["GIA (sq ft)"], units={"gia_m2": "m2"})
    assert configured.units == {"gia_m2": "m2"}
    assert not configured.units_from_header
