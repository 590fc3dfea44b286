"""Recognise a register's column names and map them onto the canonical building record.

Partners name the same fact in many ways (``PostCode``, ``Post Code``, ``PC``, ``GeoX``/``Easting``, ``AddrLn1``…).
:func:`recognise_columns` maps names it knows onto canonical fields (see :mod:`estates.schema`); a per-partner
mapping from ``data/registers/registers.yaml`` overrides or completes it. Columns that map to no field are kept
as *extra attributes*, never dropped. :func:`apply_mapping` builds the canonical table of text values; parsing
and checking those values is :mod:`estates.ingest.validation`'s job.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from estates._frames import map_unique
from estates.schema import FIELDS

__all__ = [
    "ALIASES",
    "MAPPABLE_FIELDS",
    "ColumnMapping",
    "ColumnMappingError",
    "name_key",
    "recognise_name",
    "recognise_unit",
    "recognise_columns",
    "apply_mapping",
    "NULL_TOKENS",
]

#: Canonical fields a register column can fill (the rest are set by ingest, geocoding or classification).
MAPPABLE_FIELDS: tuple[str, ...] = tuple(
    f.name for f in FIELDS
    if f.name not in {"building_id", "partner", "partner_type", "organisation", "historic", "footprint_wkt", "extra"}
)

#: Recognised column names per field, as :func:`name_key` keys, best first. ``street_number`` is a helper:
#: a house-number column is prefixed to ``address_line_1`` ("105" + "Mainwood Road").
ALIASES: dict[str, tuple[str, ...]] = {
    "source_id": (
        "assetcode", "assetid", "assetref", "assetreference", "assetno", "assetnumber", "propertyref",
        "propertyreference", "propertyid", "propertycode", "propertyno", "siteid", "sitecode", "siteref",
        "buildingid", "buildingcode", "buildingref", "premisesid", "premisescode", "organisationcode", "orgcode",
        "odscode", "practicecode", "uniquereferencenumber", "urn", "localid", "reference", "ref", "id", "code",
    ),
    "name": (
        "propertyname", "assetname", "sitename", "buildingname", "premisesname", "establishmentname", "schoolname",
        "practicename", "pharmacyname", "surgeryname", "hospitalname", "stationname", "libraryname", "centrename",
        "facilityname", "venuename", "organisationname", "orgname", "name", "distname", "communityhub", "property",
        "site", "building", "premises", "title",
    ),
    "street_number": ("streetnumber", "streetno", "housenumber", "houseno", "buildingnumber"),
    "address_line_1": (
        "addressline1", "address1", "addr1", "addrln1", "addressln1", "add1", "addline1", "line1", "address",
        "streetaddress", "fulladdress", "streetname", "street", "road",
    ),
    # Not "locality": Trafford calls its neighbourhoods localities, so that column is an area, not an address.
    "address_line_2": ("addressline2", "address2", "addr2", "addrln2", "addressln2", "add2", "addline2", "line2"),
    "town": ("posttown", "town", "towncity", "city"),
    "postcode": ("postcode", "postalcode", "pcode", "pc", "zip", "zipcode", "sitepostcode", "practicepostcode",
                 "propertypostcode", "pcds", "pcd"),
    "uprn": ("uprn", "uniquepropertyreferencenumber", "propertyuprn", "siteuprn"),
    "x": ("geox", "easting", "eastings", "oseast1m", "longitude", "long", "lon", "lng", "pclon", "xcoordinate",
          "xcoord", "gridx", "x"),
    "y": ("geoy", "northing", "northings", "osnrth1m", "latitude", "lat", "pclat", "ycoordinate", "ycoord", "gridy",
          "y"),
    "tenure": ("tenuretype", "tenure", "freeholdleasehold", "ownership"),
    "tenure_detail": ("tenuredetail", "occupancystatus", "occupationstatus", "occupation"),
    "holding_type": ("holdingtype", "holding", "landorbuilding"),
    # NIA (net internal area) is the floor area some registers give instead of GIA.
    "gia_m2": ("giam2", "gia", "grossinternalarea", "grossinternalaream2", "grossinternalfloorarea", "gifa",
               "buildingsize", "buildingsizem2", "floorarea", "flooraream2", "internalarea", "nia",
               "netinternalarea", "netinternalfloorarea"),
    "land_area_ha": ("landareaha", "landarea", "siteareaha", "sitearea", "areaha", "hectares"),
    "energy_rating": ("energyrating", "epcrating", "epcband", "epc", "decrating", "dec", "energyband"),
    "use": ("use", "currentuse", "primaryuse", "usage", "service", "servicetype", "propertytype", "usetype"),
    "condition": ("condition", "conditiongrade", "conditionrating", "overallcondition", "conditioncategory"),
    "utilisation_pct": ("utilisationpct", "utilisationpercent", "utilisation", "utilization", "utilisationrate",
                        "occupancyrate", "spaceutilisation"),
    "annual_running_cost": ("annualrunningcost", "runningcost", "runningcosts", "annualrunningcosts", "annualcost",
                            "costperannum", "opex", "revenuecost"),
    "lease_end": ("leaseend", "leaseenddate", "leaseexpiry", "leaseexpirydate", "expirydate", "breakdate",
                  "leasebreakdate", "leasebreak", "nextbreak", "leaseendbreakdate", "leaseendorbreakdate"),
    "backlog_maintenance": ("backlogmaintenance", "maintenancebacklog", "backlog", "backlogcost",
                            "backlogmaintenancecost"),
}

#: Cell values that mean "no value" (compared case-insensitively after trimming).
NULL_TOKENS: frozenset[str] = frozenset(
    {"", "na", "n/a", "n.a.", "nan", "null", "none", "nil", "-", "--", "#n/a", "unknown", "not known", "tbc"}
)

_BY_KEY: dict[str, str] = {}
_RANK: dict[str, int] = {}
for _field, _names in ALIASES.items():
    for _rank, _name in enumerate(_names):
        _BY_KEY.setdefault(_name, _field)
        _RANK.setdefault(_name, _rank)

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


class ColumnMappingError(ValueError):
    """A configured column mapping names a field or column that does not exist (message is for the user)."""


def name_key(name: object) -> str:
    """Reduce a column name to its comparison key: lower case, letters and digits only.

    Examples
    --------
    >>> name_key(" Post Code ")
    'postcode'
    >>> name_key("Address_Line_1")
    'addressline1'
    """
    return _NON_ALNUM.sub("", str(name).lower().replace("²", "2"))


#: Unit words at the end of an area column's name ("GIA (sq ft)", "Floor area m²", "NIA sqm"), as key suffixes.
_UNIT_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("squarefeet", "sqft"), ("sqfeet", "sqft"), ("sqft", "sqft"), ("ft2", "sqft"),
    ("squaremetres", "m2"), ("squaremeters", "m2"), ("sqmetres", "m2"), ("sqm", "m2"), ("m2", "m2"),
    ("hectares", "ha"), ("ha", "ha"), ("acres", "acres"), ("acre", "acres"),
)
#: The units each area field understands (see :mod:`estates.ingest.validation`).
_AREA_UNITS: dict[str, tuple[str, ...]] = {"gia_m2": ("m2", "sqft"), "land_area_ha": ("ha", "m2", "acres")}


def _recognised_key(name: object) -> tuple[str | None, str | None]:
    """The alias key a column name matches, and the area unit its name states (``sqft``, ``m2``, ...)."""
    key = name_key(name)
    for suffix, unit in _UNIT_SUFFIXES:
        base = key.removesuffix(suffix)
        if base != key and base:
            field_name = _BY_KEY.get(key) or _BY_KEY.get(base)
            if unit in _AREA_UNITS.get(field_name or "", ()):
                return (key if key in _BY_KEY else base), unit
    return (key if key in _BY_KEY else None), None


def recognise_name(name: object) -> str | None:
    """Return the canonical field a column name is recognised as, or ``None``.

    An area column may carry its unit in its name: ``GIA (sq ft)`` and ``NIA sqm`` are floor areas.
    """
    key, _ = _recognised_key(name)
    return _BY_KEY.get(key) if key is not None else None


def recognise_unit(name: object) -> str | None:
    """The unit an area column's name states (``sqft``, ``m2``, ``ha``, ``acres``), else ``None``.

    Examples
    --------
    >>> recognise_unit("GIA (sq ft)")
    'sqft'
    >>> recognise_unit("Floor area m²")
    'm2'
    """
    return _recognised_key(name)[1]


@dataclass(frozen=True)
class ColumnMapping:
    """Which register columns fill which canonical fields.

    Attributes
    ----------
    fields
        Canonical field -> source columns; several columns are joined in order (``address_line_1`` from
        ``StreetNumber`` + ``StreetName``).
    extra
        Source columns kept as extra attributes.
    configured
        Fields whose columns come from the partner's configured mapping rather than recognition.
    units
        Field -> unit of the source values when not the canonical one (``land_area_ha: m2``).
    units_from_header
        Fields whose unit was read from the column's name ("GIA (sq ft)") rather than configured.
    """

    fields: dict[str, tuple[str, ...]]
    extra: tuple[str, ...]
    configured: frozenset[str] = frozenset()
    units: dict[str, str] = field(default_factory=dict)
    units_from_header: frozenset[str] = frozenset()

    def describe(self) -> list[str]:
        """One readable line per mapped field, e.g. ``"postcode <- PostCode (recognised)"``."""
        lines = []
        for name, columns in self.fields.items():
            how = "configured" if name in self.configured else "recognised"
            if name in self.units_from_header:
                how += f"; unit {self.units[name]} read from the column name"
            lines.append(f"{name} <- {' + '.join(columns)} ({how})")
        if self.extra:
            lines.append(f"kept as extra attributes: {', '.join(self.extra)}")
        return lines


def _as_columns(value: object, *, field_name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    if isinstance(value, Sequence) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ColumnMappingError(f"mapping for '{field_name}' must be a column name or a list of names, got {value!r}")


def recognise_columns(
    columns: Iterable[object],
    *,
    overrides: Mapping[str, object] | None = None,
    units: Mapping[str, str] | None = None,
) -> ColumnMapping:
    """Map register column names onto canonical fields.

    Parameters
    ----------
    columns
        The register's column names, in file order.
    overrides
        Per-partner mapping: field -> column name, list of names (joined in order), or ``None`` to leave the
        field unmapped even if a column is recognised. Column names match exactly, else by :func:`name_key`.
    units
        Field -> unit of the source values (passed through to validation).

    Returns
    -------
    ColumnMapping

    Raises
    ------
    ColumnMappingError
        When ``overrides`` names an unknown field or a column the register does not have.
    """
    columns = [str(c) for c in columns]
    by_key: dict[str, str] = {}
    for column in columns:
        by_key.setdefault(name_key(column), column)
    overrides = dict(overrides or {})
    fields: dict[str, tuple[str, ...]] = {}
    used: set[str] = set()
    for name, value in overrides.items():
        if name not in MAPPABLE_FIELDS:
            raise ColumnMappingError(f"unknown field '{name}' in column mapping; fields are: "
                                     f"{', '.join(MAPPABLE_FIELDS)}")
        resolved = []
        for column in _as_columns(value, field_name=name):
            actual = column if column in columns else by_key.get(name_key(column))
            if actual is None:
                raise ColumnMappingError(f"column mapping {name}: '{column}' is not a column of this register "
                                         f"(columns: {', '.join(columns)})")
            resolved.append(actual)
        if resolved:
            fields[name] = tuple(resolved)
            used.update(resolved)
    # Recognition: each unused column goes to its field; when several columns claim one field, the alias ranked
    # first wins ("PropertyName" beats "Site"), the rest stay extra attributes.
    claims: dict[str, list[tuple[int, int, str]]] = {}
    for position, column in enumerate(columns):
        if column in used:
            continue
        key, _ = _recognised_key(column)
        target = _BY_KEY.get(key) if key is not None else None
        if target is not None and target not in overrides:
            claims.setdefault(target, []).append((_RANK[key], position, column))
    street_number: str | None = None
    for target, found in claims.items():
        winner = min(found)[2]
        if target == "street_number":
            street_number = winner
            continue
        fields[target] = (winner,)
        used.add(winner)
    if street_number is not None and "address_line_1" in fields and "address_line_1" not in overrides:
        fields["address_line_1"] = (street_number, *fields["address_line_1"])
        used.add(street_number)
    ordered = {name: fields[name] for name in MAPPABLE_FIELDS if name in fields}
    extra = tuple(c for c in columns if c not in used)
    # A unit in the column's name ("GIA (sq ft)") applies unless the partner's configuration gives one.
    all_units = dict(units or {})
    from_header = {name: unit for name, chosen in ordered.items() if len(chosen) == 1 and name not in all_units
                   and (unit := recognise_unit(chosen[0])) is not None and unit in _AREA_UNITS.get(name, ())}
    all_units.update(from_header)
    return ColumnMapping(ordered, extra, frozenset(k for k, v in overrides.items() if v), all_units,
                         frozenset(from_header))


def _clean_distinct(values: pd.Series) -> pd.Series:
    text = [" ".join(str(v).split()) for v in values]
    return pd.Series([None if t.lower() in NULL_TOKENS else t for t in text], dtype=object)


def _clean(values: pd.Series) -> pd.Series:
    """Trim text, treat :data:`NULL_TOKENS` as missing; returns object dtype with ``None`` for missing."""
    return map_unique(values, _clean_distinct)


def apply_mapping(frame: pd.DataFrame, mapping: ColumnMapping) -> pd.DataFrame:
    """Build the canonical text table of a raw register.

    Parameters
    ----------
    frame
        Raw register rows (text cells, missing as NA), as read by :func:`estates.ingest.registers.read_register`.
    mapping
        From :func:`recognise_columns`.

    Returns
    -------
    pandas.DataFrame
        Same index as ``frame``; one object column per mapped field (text, ``None`` when missing — joined
        columns skip missing parts) and ``extra``: a JSON object of the extra attributes' non-missing values
        (``None`` when there are none).
    """
    out = pd.DataFrame(index=frame.index)
    for name, columns in mapping.fields.items():
        parts = [_clean(frame[c]) for c in columns]
        if len(parts) == 1:
            out[name] = parts[0]
            continue
        # A house number joins its street with a space ("105 Mainwood Road"); other parts with a comma.
        separator = " " if _BY_KEY.get(name_key(columns[0])) == "street_number" else ", "
        joined = [separator.join(v for v in values if v is not None) or None
                  for values in zip(*parts, strict=True)]
        out[name] = pd.Series(joined, index=frame.index, dtype=object)
    out["extra"] = _extra_json(frame, mapping.extra)
    return out


def _extra_json(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    """JSON object text of each row's non-missing extra values (``None`` when none), built column by column."""
    body = np.full(len(frame), "", dtype=object)
    for name in columns:
        key = json.dumps(str(name), ensure_ascii=False) + ": "
        encoded = map_unique(frame[name], lambda u, key=key: pd.Series(
            [key + json.dumps(str(v), ensure_ascii=False) for v in u], dtype=object))
        part = encoded.to_numpy(dtype=object)
        has = pd.notna(part)
        filled = body != ""
        body = np.where(has & filled, body + ", " + np.where(has, part, ""), np.where(has, part, body))
    out = np.where(body != "", "{" + body + "}", None)
    return pd.Series(out, index=frame.index, dtype=object)
