"""Offline geocoding (geo.geocoder) on real Trafford postcodes and coordinates."""

import numpy as np
import pandas as pd
import pytest

from geo.geocoder import detect_location_columns, geocode
from geo.tagging import tag

# Real postcodes, with the ward/neighbourhood the ONS postcode table (Trafford Data Lab, Feb 2025) gives them.
NAMED = [
    ("M16 0RA", "Old Trafford", "E05015247", "North"),  # Old Trafford
    ("M32 0TH", "Trafford Town Hall", "E05015247", "North"),  # Talbot Road, Stretford
    ("M41 0NA", "Urmston", "E05015259", "West"),  # Urmston
    ("M33 7ZF", "Sale Waterside", "E05015254", "Central"),  # Sale
    ("WA14 1PF", "Altrincham Town Hall", "E05015239", "South"),  # Altrincham
]


@pytest.mark.parametrize(("postcode", "place_name", "ward", "neighbourhood"), NAMED)
def test_named_postcodes_land_where_the_ons_table_says(postcode, place_name, ward, neighbourhood):
    out = tag(geocode(pd.DataFrame({"name": [place_name], "PostCode": [postcode.lower().replace(" ", "")]}),
                      postcode="PostCode"))
    row = out.iloc[0]
    assert row["geocode_method"] == "postcode"
    assert row["geocode_precision"] == "medium"
    assert row["ward_code"] == ward
    assert row["neighbourhood"] == neighbourhood
    assert not row["outside_trafford"]


def _one(**columns):
    frame = pd.DataFrame({k: [v] for k, v in columns.items()})
    cols = detect_location_columns(frame.columns)
    return geocode(frame, postcode=cols["postcode"], x=cols["x"], y=cols["y"]).iloc[0]


def test_bng_coordinates_are_detected_and_projected():
    # Trafford Town Hall (council register: -2.2874833, 53.4590163) as eastings/northings instead of degrees.
    row = _one(Easting=381009, Northing=395846)
    assert row["geocode_method"] == "coordinates_bng"
    assert row["geocode_precision"] == "high"
    assert row["lon"] == pytest.approx(-2.2874833, abs=1e-5)
    assert row["lat"] == pytest.approx(53.4590163, abs=1e-5)


def test_swapped_lat_lon_is_detected_and_flagged():
    # The council register's Trafford Town Hall point, with GeoX/GeoY the wrong way round.
    row = _one(GeoX=53.4590163, GeoY=-2.2874833)
    assert row["geocode_method"] == "coordinates_swapped"
    assert (row["lon"], row["lat"]) == (-2.2874833, 53.4590163)
    assert "wrong way round" in row["geocode_issue"]


def test_sector_and_district_postcodes_are_low_precision():
    sector = _one(postcode="M33 7")
    district = _one(postcode="M31")
    assert (sector["geocode_method"], sector["geocode_precision"]) == ("postcode_sector", "low")
    assert (district["geocode_method"], district["geocode_precision"]) == ("postcode_district", "low")
    assert "partial postcode" in district["geocode_issue"]


def test_unknown_postcode_in_a_covered_district_is_flagged_not_guessed():
    row = _one(postcode="M33 9ZZ")
    assert row["geocode_method"] == "none"
    assert np.isnan(row["lon"])
    assert "terminated or newer than the table" in row["geocode_issue"]


def test_invalid_postcode_and_unusable_coordinates_get_readable_issues():
    bad = _one(postcode="Sale", lon=0.0, lat=0.0)
    assert bad["geocode_method"] == "none"
    assert "neither longitude/latitude nor eastings/northings" in bad["geocode_issue"]
    assert "'Sale' is not a valid UK postcode" in bad["geocode_issue"]
    empty = _one(postcode=None, lon=None, lat=None)
    assert empty["geocode_issue"] == "no postcode or coordinates"


def test_coordinates_win_over_postcode_but_a_far_postcode_is_flagged():
    # Trafford Town Hall coordinates with Sale Waterside's postcode (about 4 km away).
    row = _one(postcode="M33 7ZF", GeoX=-2.2874833, GeoY=53.4590163)
    assert row["geocode_method"] == "coordinates"
    assert "km from the centroid of postcode M33 7ZF" in row["geocode_issue"]


def test_rows_and_columns_are_never_lost():
    frame = pd.DataFrame({
        "Site": ["A", "B", "C", "D"],
        "lon": [-2.29, None, "x", 53.44],
        "lat": [53.45, None, "y", -2.29],
        "Post Code": [None, "wa141pf", "M31", None],
    }, index=[7, 3, 9, 1])
    out = geocode(frame, postcode="Post Code", x="lon", y="lat")
    assert list(out.index) == [7, 3, 9, 1]
    assert out["Site"].tolist() == ["A", "B", "C", "D"]
    assert out["lon_input"].tolist()[0] == -2.29  # input columns that clash with outputs are kept
    assert out["geocode_method"].tolist() == ["coordinates", "postcode", "postcode_district",
                                              "coordinates_swapped"]


@pytest.mark.parametrize(
    ("columns", "expected"),
    [
        (["PropertyName", "PostCode", "GeoX", "GeoY"], {"postcode": "PostCode", "x": "GeoX", "y": "GeoY"}),
        (["Post Code", "Easting", "Northing"], {"postcode": "Post Code", "x": "Easting", "y": "Northing"}),
        (["name", "pcds", "long", "lat"], {"postcode": "pcds", "x": "long", "y": "lat"}),
        (["name", "PC"], {"postcode": "PC", "x": None, "y": None}),
        (["name", "longitude"], {"postcode": None, "x": None, "y": None}),  # half a pair is no pair
    ],
)
def test_location_columns_are_detected_by_common_names(columns, expected):
    assert dict(detect_location_columns(columns)) == expected


@pytest.mark.parametrize("separator", [",", " ", "\u00a0", "\u2009", "\t"])
def test_grid_numbers_with_thousands_separators_or_spaces_are_read(separator):
    # Trafford Town Hall's grid numbers (as above) written as registers write numbers: "381,009" / "395 846".
    frame = pd.DataFrame({"x": [f"381{separator}009"], "y": [f"395{separator}846"]}, dtype="str")
    out = geocode(frame, x="x", y="y")
    assert out["geocode_method"].iloc[0] == "coordinates_bng"
    assert (out["easting"].iloc[0], out["northing"].iloc[0]) == (381009.0, 395846.0)


def test_one_unreadable_grid_number_is_missing_and_the_others_are_read():
    # Trafford Town Hall's grid numbers twice; the second row's easting is text no reader takes as a number.
    frame = pd.DataFrame({"x": ["381009", "38l009", "381,009"], "y": ["395846", "395846", "395 846"]}, dtype="str")
    out = geocode(frame, x="x", y="y")
    assert out["geocode_method"].tolist() == ["coordinates_bng", "none", "coordinates_bng"]
    assert out["easting"].iloc[[0, 2]].tolist() == [381009.0, 381009.0]
    assert np.isnan(out["easting"].iloc[1])


def test_categorical_text_columns_hold_the_same_values():
    # Repeats in different shapes (one normalised postcode, two raw ones), partial, unknown, coordinates, nothing.
    frame = pd.DataFrame({
        "postcode": ["m33 7zf", "M33 7ZF", "M337ZF", "M33 7", "M99 9ZZ", "", None, "BT1 1AA", "WA14 1PF"],
        "x": [None, None, None, None, None, "-2.29", None, "338000", "0"],
        "y": [None, None, None, None, None, "53.46", None, "374000", "0"],
    })
    text, coded = geocode(frame, postcode="postcode", x="x", y="y"), geocode(frame, postcode="postcode", x="x",
                                                                              y="y", categorical=True)
    assert list(coded.columns) == list(text.columns)
    for column in ("postcode_normalised", "geocode_method", "geocode_precision", "geocode_issue"):
        assert isinstance(coded[column].dtype, pd.CategoricalDtype), column
        assert coded[column].astype(object).tolist() == text[column].astype(object).tolist(), column
    assert coded["postcode_normalised"].tolist()[:3] == ["M33 7ZF"] * 3
    assert list(coded["postcode_normalised"].cat.categories).count("M33 7ZF") == 1
    pd.testing.assert_frame_equal(coded[["lon", "lat", "easting", "northing"]], text[["lon", "lat", "easting",
                                                                                        "northing"]])
