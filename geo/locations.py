"""A location typed by a person: a postcode, an easting/northing or a pasted latitude/longitude, checked.

What people paste is untidy: ``M32 0TH``, ``m320th``, ``381009, 395844``, ``E 381009 N 395844``,
``53.459, -2.2875`` (latitude first, as map sites copy it), ``-2.2875 53.459``, ``53.459° N, 2.2875° W``. The
numbers' ranges tell the coordinate system apart (:func:`geo.projection.classify_coordinates`: degrees in Great
Britain never look like metres, and latitude never looks like longitude). Only an easting/northing pair can be read
both ways round; the place decides it: when the pair as given falls outside the place and the other way round falls
inside, it is read the other way round and the note says so.

A point outside the place is still a point (a partner's building may stand across the border): it comes back with
``inside=False`` and a note saying how far outside it is. Text that is no location raises :class:`LocationError`
with one readable line.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import shapely

from geo import boundaries
from geo.place import Place, load_place
from geo.postcodes import PostcodeKind, PostcodeTable, normalise_postcode, postcode_table
from geo.projection import BNG, CoordinateKind, classify_coordinates, to_bng, to_wgs84

__all__ = ["LocationError", "TypedLocation", "distance_m", "located_point", "parse_location"]

# A number, optionally followed by a degree sign and a hemisphere letter ("2.2875° W"); a letter glued to the
# next word ("379500 North") is not a hemisphere.
_NUMBER = re.compile(r"(?<![\w.])([-+]?\d+(?:\.\d+)?)\s*°?\s*([NSEWnsew](?![A-Za-z]))?")
# Words a person may write around coordinates; anything else makes the text something other than coordinates.
_LABELS = re.compile(r"\b(?:lat(?:itude)?|lon(?:gitude)?|lng|long|east(?:ing)?|north(?:ing)?|x|y|e|n)\b",
                     re.IGNORECASE)
_SEPARATORS = re.compile(r"[\s,;:=/()\[\]°'\"]+")


class LocationError(ValueError):
    """The text is not a location that can be used (the message is one line for the person who typed it)."""


@dataclass(frozen=True)
class TypedLocation:
    """Where a typed location is.

    Attributes
    ----------
    lon, lat
        WGS84 degrees (6 decimals, ~0.1 m).
    easting, northing
        British National Grid metres.
    kind
        How the text was read: ``postcode`` (the unit's centroid), ``grid`` (easting, northing), ``grid_swapped``
        (given northing first), ``lonlat`` or ``latlon``.
    label
        What the point is, for people: ``"postcode M32 0TH (centre of the postcode unit)"``,
        ``"easting 381,009, northing 395,844"``, ``"latitude 53.459000, longitude -2.287500"``.
    inside
        True when the point is inside the place's boundary.
    note
        Anything the person should know: the pair was read the other way round, or the point is outside the place
        (and how far); empty otherwise.
    """

    lon: float
    lat: float
    easting: float
    northing: float
    kind: str
    label: str
    inside: bool
    note: str = ""


def distance_m(lon_a: float, lat_a: float, lon_b: float, lat_b: float) -> float:
    """Distance in metres between two WGS84 points, measured on the British National Grid."""
    east, north = to_bng([lon_a, lon_b], [lat_a, lat_b])
    return float(math.hypot(east[1] - east[0], north[1] - north[0]))


def _examples(place: Place) -> str:
    """``"e.g. M32 0TH"``-style examples at the place's own centre, so the help text never names another place."""
    lat, lon = place.centre
    east, north = (float(v[0]) for v in to_bng([lon], [lat]))
    return (f"a full postcode, an easting, northing (e.g. {east:.0f}, {north:.0f}) or a latitude, longitude "
            f"(e.g. {lat:.4f}, {lon:.4f})")


@lru_cache(maxsize=8)
def _boundary_bng(place: Place) -> shapely.Geometry:
    """The place's boundary in metres, prepared for repeated point tests."""
    shape = shapely.union_all(boundaries.boundary(place).to_crs(BNG).geometry.values)
    shapely.prepare(shape)
    return shape


def _outside_by(place: Place, easting: float, northing: float) -> float | None:
    """Metres outside the place's boundary (None when inside)."""
    shape, point = _boundary_bng(place), shapely.Point(easting, northing)
    if shape.covers(point):
        return None
    return float(shape.distance(point))


def _outside_note(place: Place, metres: float) -> str:
    away = f"{metres / 1000:,.1f} km" if metres >= 1000 else f"{metres:,.0f} m"
    return f"This point is outside {place.name}, {away} beyond its boundary: check it before saving."


def _from_postcode(normalised: str, table: PostcodeTable, place: Place) -> TypedLocation:
    found, easting, northing, lon, lat = table.locate(np.array([normalised], dtype=object), PostcodeKind.FULL)
    if not found[0]:
        raise LocationError(f"{normalised} is not a current postcode in the ONS Postcode Directory: check it, or "
                            "type an easting, northing or a latitude, longitude instead.")
    outside = _outside_by(place, float(easting[0]), float(northing[0]))
    return TypedLocation(lon=float(lon[0]), lat=float(lat[0]), easting=float(easting[0]),
                         northing=float(northing[0]), kind="postcode",
                         label=f"postcode {normalised} (centre of the postcode unit)", inside=outside is None,
                         note="" if outside is None else _outside_note(place, outside))


def _numbers(text: str) -> list[float] | None:
    """The two numbers of a coordinate pair (hemisphere letters applied), or None when the text is not one."""
    values: list[float] = []
    for match in _NUMBER.finditer(text):
        value = float(match[1])
        hemisphere = (match[2] or "").upper()
        if hemisphere in ("S", "W") and abs(value) <= 180:
            value = -abs(value)
        values.append(value)
    rest = _SEPARATORS.sub(" ", _LABELS.sub(" ", _NUMBER.sub(" ", text))).strip()
    if len(values) != 2 or rest:
        return None
    return values


def _from_grid(x: float, y: float, place: Place) -> TypedLocation:
    outside = _outside_by(place, x, y)
    kind, note = "grid", ""
    if outside is not None and _outside_by(place, y, x) is None:
        x, y, outside = y, x, None
        kind = "grid_swapped"
        note = (f"Read as northing, easting: the other way round the point is outside {place.name}, this way it is "
                "inside.")
    lon, lat = (float(v[0]) for v in to_wgs84([x], [y]))
    return TypedLocation(lon=round(lon, 6), lat=round(lat, 6), easting=x, northing=y, kind=kind,
                         label=f"easting {x:,.0f}, northing {y:,.0f}", inside=outside is None,
                         note=note if outside is None else _outside_note(place, outside))


def _from_degrees(lon: float, lat: float, kind: str, place: Place) -> TypedLocation:
    east, north = (float(v[0]) for v in to_bng([lon], [lat]))
    outside = _outside_by(place, east, north)
    return TypedLocation(lon=round(lon, 6), lat=round(lat, 6), easting=round(east, 2), northing=round(north, 2),
                         kind=kind, label=f"latitude {lat:.6f}, longitude {lon:.6f}", inside=outside is None,
                         note="" if outside is None else _outside_note(place, outside))


def located_point(lon: float, lat: float, *, place: Place | None = None, kind: str = "lonlat") -> TypedLocation:
    """A WGS84 point (e.g. clicked on a map) as a :class:`TypedLocation`: grid metres, and inside the place or not.

    Parameters
    ----------
    lon, lat
        WGS84 degrees.
    place
        The place (default: the current place).
    kind
        What to call how the point was given.
    """
    return _from_degrees(float(lon), float(lat), kind, place if place is not None else load_place())


def parse_location(text: str, *, place: Place | None = None, postcodes: PostcodeTable | None = None) -> TypedLocation:
    """Read a typed location: a full postcode, an easting/northing pair or a latitude/longitude pair (either order).

    Parameters
    ----------
    text
        What the person typed or pasted.
    place
        The place the point is checked against (default: the current place).
    postcodes
        The postcode lookup (default: the place's, :func:`geo.postcodes.postcode_table`).

    Returns
    -------
    TypedLocation
        The point, how it was read, and whether it is inside the place.

    Raises
    ------
    LocationError
        Empty text, a postcode that does not exist or is not a full unit, numbers that are not a pair of
        coordinates in Great Britain, or anything else: one readable line saying what to type.

    Examples
    --------
    >>> parse_location("m32 0th").label
    'postcode M32 0TH (centre of the postcode unit)'
    >>> parse_location("53.459, -2.2875").kind
    'latlon'
    """
    place = place if place is not None else load_place()
    cleaned = " ".join(str(text or "").split())
    if not cleaned:
        raise LocationError(f"Type {_examples(place)}.")
    numbers = _numbers(cleaned)
    if numbers is None:
        normalised, kind = normalise_postcode(cleaned)
        if kind == PostcodeKind.FULL:
            return _from_postcode(normalised, postcodes if postcodes is not None else postcode_table(place), place)
        if kind in (PostcodeKind.SECTOR, PostcodeKind.DISTRICT):
            raise LocationError(f"{normalised} is only part of a postcode, too coarse to place a building: type "
                                "the full postcode (both halves).")
        raise LocationError(f"Could not read {cleaned[:60]!r} as a location: type {_examples(place)}.")
    x, y = numbers
    code = int(classify_coordinates([x], [y])[0])
    if code == CoordinateKind.BNG:
        return _from_grid(x, y, place)
    if code == CoordinateKind.WGS84:
        return _from_degrees(x, y, "lonlat", place)
    if code == CoordinateKind.SWAPPED:
        return _from_degrees(y, x, "latlon", place)
    raise LocationError(f"{x:g}, {y:g} is not a point in Great Britain, read either way round: type "
                        f"{_examples(place)}.")
