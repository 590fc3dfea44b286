"""Tagging points with ward, neighbourhood, LSOA/IMD and PCN (geo.tagging) on real Trafford data."""

import numpy as np
import pandas as pd
import shapely

from geo import boundaries
from geo.postcodes import postcode_table
from geo.projection import BNG
from geo.tagging import tag


def test_every_trafford_postcode_centroid_lands_in_its_ons_ward():
    """Acceptance: point-in-polygon agrees with the ONS postcode table's ward for >= 99.5 % of postcodes."""
    units = postcode_table().units
    trafford = units[(units["la_code"] == "E08000009") & (units["ward_source"] == "datalab_feb2025")
                     & units["easting"].notna()]
    assert len(trafford) > 11_000
    out = tag(trafford[["postcode", "easting", "northing"]].assign(table_ward=trafford["ward_code"]))
    agreement = (out["ward_code"] == out["table_ward"]).mean()
    assert agreement >= 0.995, agreement
    assert not out["outside_trafford"].any()  # every Trafford postcode falls inside the boundary


def test_points_outside_trafford_keep_their_row_and_are_flagged():
    # Manchester Piccadilly station and Trafford Town Hall.
    frame = pd.DataFrame({"lon": [-2.2309, -2.2874833], "lat": [53.4774, 53.4590163]})
    out = tag(frame)
    assert out["outside_trafford"].tolist() == [True, False]
    assert out["ward_code"].isna().tolist() == [True, False]
    assert out.loc[1, "neighbourhood"] == "North"
    assert out.loc[1, "pcn_code"] == "U66368"


def test_unlocated_rows_have_no_tags_and_unknown_outside_flag():
    out = tag(pd.DataFrame({"lon": [np.nan], "lat": [np.nan]}))
    assert out["ward_code"].isna().all()
    assert out["outside_trafford"].isna().all()


def test_a_point_exactly_on_a_ward_boundary_gets_one_deterministic_ward():
    wards = boundaries.wards().to_crs(BNG).set_index("ward_code")
    shared = shapely.intersection(wards.loc["E05015253"].geometry.boundary,  # Old Trafford
                                  wards.loc["E05015247"].geometry.boundary)  # Gorse Hill & Cornbrook
    vertex = shapely.get_coordinates(shared)[len(shapely.get_coordinates(shared)) // 2]
    frame = pd.DataFrame({"easting": [vertex[0]] * 3, "northing": [vertex[1]] * 3})
    first = tag(frame)["ward_code"].tolist()
    assert first == ["E05015247"] * 3  # the lower GSS code wins
    assert tag(frame.iloc[::-1])["ward_code"].tolist() == first


def test_imd_and_population_come_from_the_lsoa():
    out = tag(pd.DataFrame({"easting": [381009.0], "northing": [395846.0]}))
    lsoa = boundaries.lsoas().set_index("lsoa_code").loc[out.loc[0, "lsoa_code"]]
    assert out.loc[0, "imd_decile"] == lsoa["imd_decile"]
    assert out.loc[0, "lsoa_population"] == lsoa["population_2024"]


def test_local_authority_of_postcodes_comes_from_onspd_and_of_coordinates_from_the_layer():
    from geo.geocoder import geocode

    frame = pd.DataFrame({"postcode": ["M33 7ZF", "M23 9AA", "SW1A 1AA", None, None],
                          "lon": [None, None, None, -2.2309, -2.2874833], "lat": [None, None, None, 53.4774,
                                                                                   53.4590163]})
    out = tag(geocode(frame, postcode="postcode", x="lon", y="lat"))
    # Sale Waterside (Trafford), Wythenshawe (Manchester), Buckingham Palace (Westminster): ONSPD Nov 2025 laua.
    assert out["la_code"].tolist()[:3] == ["E08000009", "E08000003", "E09000033"]
    assert out["la_name"].tolist()[:3] == ["Trafford", "Manchester", "Westminster"]
    assert out["outside_trafford"].tolist() == [False, True, True, True, False]
    # Piccadilly station by coordinates: the GM boroughs layer says Manchester; the Town Hall is in Trafford.
    assert out["la_code"].tolist()[3:] == ["E08000003", "E08000009"]


def test_a_partial_postcode_straddling_the_boundary_is_flagged_and_never_claimed_inside():
    from geo.geocoder import geocode

    out = tag(geocode(pd.DataFrame({"postcode": ["M23 9", "M33 7", "M4"]}), postcode="postcode"))
    straddling, inside, elsewhere = out.to_dict("records")
    # M23 9 (Wythenshawe) is mostly Manchester with a few Trafford postcodes: located, flagged, not claimed.
    assert straddling["geocode_method"] == "postcode_sector"
    assert "it spans Manchester, Trafford, so it is not claimed inside Trafford" in straddling["geocode_issue"]
    assert pd.isna(straddling["outside_trafford"])
    assert pd.isna(straddling["ward_code"])
    assert pd.isna(straddling["la_code"])
    # M33 7 (Sale) is wholly in Trafford.
    assert bool(inside["outside_trafford"]) is False
    assert inside["la_code"] == "E08000009"
    assert inside["ward_name"] == "Sale Central"
    # M4 (Manchester city centre) is wholly elsewhere.
    assert bool(elsewhere["outside_trafford"]) is True
    assert elsewhere["la_code"] == "E08000003"


def test_categorical_tags_hold_the_same_values_as_text_tags():
    from geo.geocoder import geocode

    # Inside (several wards and neighbourhoods), outside, a partial postcode, unlocated.
    frame = pd.DataFrame({"postcode": ["M32 0TH", "M31 4EL", "WA14 1PF", "M33 7ZF", "M16 0RA", "M1 1AE", "M33 7",
                                       "NOT KNOWN", None]})
    located = geocode(frame, postcode="postcode")
    text, coded = tag(located), tag(located, categorical=True)
    assert list(coded.columns) == list(text.columns)
    for column in ("ward_code", "ward_name", "neighbourhood", "lsoa_code", "lsoa_name", "pcn_code", "pcn_name"):
        assert isinstance(coded[column].dtype, pd.CategoricalDtype), column
        assert coded[column].astype(object).where(coded[column].notna(), None).tolist() == \
            text[column].astype(object).where(text[column].notna(), None).tolist(), column
    for column in ("imd_rank", "imd_decile", "lsoa_population", "outside_trafford"):
        pd.testing.assert_series_equal(coded[column], text[column])
    assert coded["neighbourhood"].tolist()[:2] == ["North", "West"]  # Stretford, Urmston
    assert coded["ward_code"].isna().tolist()[-4:] == [True, False, True, True]  # outside, sector, unlocated
