"""geo.locations: a typed postcode, easting/northing or latitude/longitude, read and checked against Trafford.

Reference points are real: M32 0TH's unit centroid in the ONS Postcode Directory is 381009 E, 395844 N (inside
Trafford, Stretford); M1 1AE is Manchester city centre, 2.6 km beyond Trafford's boundary.
"""

from __future__ import annotations

import pandas as pd
import pytest

from geo.locations import LocationError, distance_m, located_point, parse_location
from geo.tagging import tag

M32_0TH = (381009.0, 395844.0)


@pytest.mark.parametrize("text", ["M32 0TH", "m320th", " M32  0TH "])
def test_a_postcode_is_its_unit_centroid(text: str) -> None:
    point = parse_location(text)

    assert (point.kind, point.inside, point.note) == ("postcode", True, "")
    assert (point.easting, point.northing) == M32_0TH
    assert point.label == "postcode M32 0TH (centre of the postcode unit)"
    tags = tag(pd.DataFrame({"lon": [point.lon], "lat": [point.lat]})).iloc[0]
    assert (tags["ward_name"], tags["neighbourhood"]) == ("Gorse Hill & Cornbrook", "North")


@pytest.mark.parametrize(("text", "kind"), [
    ("381009, 395844", "grid"), ("E 381009 N 395844", "grid"), ("381009 395844", "grid"),
    ("395844, 381009", "grid_swapped"),
])
def test_an_easting_northing_either_way_round_lands_in_the_place(text: str, kind: str) -> None:
    point = parse_location(text)

    assert (point.kind, point.inside) == (kind, True)
    assert (point.easting, point.northing) == M32_0TH
    assert distance_m(point.lon, point.lat, -2.287483, 53.458999) < 0.2
    assert ("northing, easting" in point.note) == (kind == "grid_swapped")


@pytest.mark.parametrize(("text", "kind"), [
    ("53.459, -2.2875", "latlon"), ("-2.2875, 53.459", "lonlat"), ("53.459° N, 2.2875° W", "latlon"),
    ("lat 53.459 lon -2.2875", "latlon"), ("53.459;-2.2875", "latlon"),
])
def test_a_pasted_latitude_longitude_in_either_order(text: str, kind: str) -> None:
    point = parse_location(text)

    assert (point.kind, point.inside, point.lat, point.lon) == (kind, True, 53.459, -2.2875)
    assert point.label == "latitude 53.459000, longitude -2.287500"
    assert distance_m(point.lon, point.lat, -2.287483, 53.458999) < 2  # beside M32 0TH's centroid


@pytest.mark.parametrize("text", ["M1 1AE", "384756, 398553", "53.483471, -2.231184"])
def test_a_point_outside_the_place_is_kept_and_said_to_be_outside(text: str) -> None:
    point = parse_location(text)

    assert point.inside is False
    assert point.note == "This point is outside Trafford, 2.6 km beyond its boundary: check it before saving."


@pytest.mark.parametrize(("text", "says"), [
    ("", "Type a full postcode"),
    ("hello", "Could not read 'hello' as a location"),
    ("M32", "M32 is only part of a postcode"),
    ("M32 0", "M32 0 is only part of a postcode"),
    ("M32 9ZZ", "M32 9ZZ is not a current postcode"),
    ("40.7128, -74.006", "is not a point in Great Britain"),
    ("0, 0", "is not a point in Great Britain"),
    ("1 2 3", "Could not read"),
    ("=cmd|' /C calc'!A0", "Could not read"),
])
def test_garbage_gives_one_readable_line(text: str, says: str) -> None:
    with pytest.raises(LocationError) as caught:
        parse_location(text)

    message = str(caught.value)
    assert says in message
    assert "\n" not in message
    # Every refusal says what to type instead, with an example inside the place.
    assert "postcode" in message


def test_the_help_example_is_itself_a_point_in_the_place() -> None:
    with pytest.raises(LocationError) as caught:
        parse_location("somewhere")
    example = str(caught.value).split("(e.g. ")[2].split(")")[0]

    assert parse_location(example).inside


def test_distance_is_measured_on_the_national_grid() -> None:
    # M32 0TH to M16 0LN (ONSPD unit centroids): 381009/395844 and 381767/395884.
    assert distance_m(-2.287483, 53.458999, -2.27607, 53.459386) == pytest.approx(759.05, abs=0.5)


def test_a_clicked_point_is_located_like_a_typed_one() -> None:
    point = located_point(-2.2875, 53.459, kind="map")

    assert (point.kind, point.inside, point.easting, point.northing) == ("map", True, 381007.89, 395844.08)
    assert located_point(-2.231184, 53.483471).inside is False
