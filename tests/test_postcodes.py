"""Postcode normalisation and centroid lookups (geo.postcodes)."""

import numpy as np
import pandas as pd
import pytest

from geo.postcodes import PostcodeKind, normalise_postcode, normalise_postcodes, postcode_table


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M33 7ZF", ("M33 7ZF", PostcodeKind.FULL)),
        (" m337zf ", ("M33 7ZF", PostcodeKind.FULL)),
        ("m33  7zf", ("M33 7ZF", PostcodeKind.FULL)),
        ("WA14-1PF.", ("WA14 1PF", PostcodeKind.FULL)),
        ("M16 0RA", ("M16 0RA", PostcodeKind.FULL)),
        ("M33 7", ("M33 7", PostcodeKind.SECTOR)),
        ("M31", ("M31", PostcodeKind.DISTRICT)),
        ("wa15", ("WA15", PostcodeKind.DISTRICT)),
        ("", ("", PostcodeKind.EMPTY)),
        (None, ("", PostcodeKind.EMPTY)),
        (float("nan"), ("", PostcodeKind.EMPTY)),
        ("Trafford", ("", PostcodeKind.INVALID)),
        ("12345", ("", PostcodeKind.INVALID)),
    ],
)
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


def test_normalise_postcodes_keeps_index_and_handles_missing():
    values = pd.Series(["m337zf", None, "M31", "bad", "m337zf"], index=[10, 11, 12, 13, 14])
    out = normalise_postcodes(values)
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out["postcode_normalised"].tolist() == ["M33 7ZF", "", "M31", "", "M33 7ZF"]
    assert out["postcode_kind"].tolist() == ["full", "empty", "district", "invalid", "full"]


def test_unit_sector_and_district_lookups_use_the_onspd_table():
    table = postcode_table()
    found, east, north, lon, lat = table.locate(np.array(["M33 7ZF", "ZZ9 9ZZ"], dtype=object), PostcodeKind.FULL)
    assert found.tolist() == [True, False]
    # ONSPD Nov 2025 grid reference of M33 7ZF (Sale Waterside)
    assert (east[0], north[0]) == (378833.0, 392083.0)
    assert np.isnan(lon[1])
    found, *_ = table.locate(np.array(["M33 7", "M31", "WA15"], dtype=object), PostcodeKind.SECTOR)
    assert found.tolist() == [True, False, False]
    found, *_ = table.locate(np.array(["M31", "WA15"], dtype=object), PostcodeKind.DISTRICT)
    assert found.tolist() == [True, True]
    assert table.covers_district("M33")
    assert not table.covers_district("SW1A")
