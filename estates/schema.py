"""The canonical building record shared by every partner register.

One schema for every partner: ingest maps each register's own columns onto these fields, geocoding and tagging add
location columns (see ``docs/architecture.md``), classification adds status columns, and the store persists the lot.
Missing facts stay missing (``None``/NaN): nothing here supplies a default value for a fact a partner did not give.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "Field",
    "FIELDS",
    "FIELD_NAMES",
    "PROVENANCE_FIELDS",
    "HOLDING_TYPES",
    "PARTNER_TYPES",
    "STATUSES",
    "field",
]

FieldKind = Literal["text", "number", "date", "code"]


@dataclass(frozen=True, slots=True)
class Field:
    """One field of the canonical building record.

    Parameters
    ----------
    name
        Column name in the canonical table.
    kind
        ``text``, ``number`` (float, units in ``unit``), ``date`` (ISO date) or ``code`` (a small vocabulary).
    label
        Human label for tables and details panels.
    unit
        Unit of a number field, e.g. ``"m²"``.
    description
        What the field means, for docs/schema.md and tooltips.
    """

    name: str
    kind: FieldKind
    label: str
    unit: str = ""
    description: str = ""


FIELDS: tuple[Field, ...] = (
    Field("building_id", "code", "Building ID",
          description="Stable id: '<partner slug>:<partner's own id>' (or a hash of name+address when the "
                      "register has no id)."),
    Field("partner", "text", "Partner", description="Organisation that holds the register, e.g. 'Trafford Council'."),
    Field("partner_type", "code", "Partner type",
          description="council, school, gp, pcn, nhs_trust, central_government, dwp, police, fire, "
                      "housing_association, probation, development_land, leisure, library, community, other."),
    Field("organisation", "text", "Organisation",
          description="The partner organisation the register belongs to: several registers of one organisation "
                      "(e.g. NHS GP practice lists) count as one occupant of a site. Default: the partner."),
    Field("source_id", "text", "Partner's own id", description="The id as written in the partner's register."),
    Field("name", "text", "Name"),
    Field("address_line_1", "text", "Address line 1"),
    Field("address_line_2", "text", "Address line 2"),
    Field("town", "text", "Town"),
    Field("postcode", "text", "Postcode", description="As written in the register (never rewritten)."),
    Field("uprn", "code", "UPRN", description="Unique Property Reference Number (digits only)."),
    Field("x", "number", "X as given",
          description="Coordinate as given: longitude or easting (detected by geocoding)."),
    Field("y", "number", "Y as given", description="Coordinate as given: latitude or northing."),
    Field("tenure", "text", "Tenure", description="e.g. Freehold / Leasehold."),
    Field("tenure_detail", "text", "Tenure detail", description="e.g. Owner Occupied, Vacant, Leasehold Out."),
    Field("holding_type", "code", "Holding type", description="land / building / land+buildings."),
    Field("gia_m2", "number", "Gross internal area", "m²"),
    Field("land_area_ha", "number", "Land area", "ha"),
    Field("energy_rating", "code", "Energy rating", description="EPC/DEC band A–G."),
    Field("use", "text", "Use / service",
          description="What the building is used for, e.g. School, Library, GP surgery."),
    Field("condition", "code", "Condition", description="A (good) – D (bad/inoperable), RICS condition grades."),
    Field("utilisation_pct", "number", "Utilisation", "%"),
    Field("annual_running_cost", "number", "Annual running cost", "£"),
    Field("lease_end", "date", "Lease end / break date"),
    Field("backlog_maintenance", "number", "Backlog maintenance", "£"),
    Field("historic", "code", "Historic record",
          description="True when the source is known to be out of date (e.g. NHS ODS 2018 sites)."),
    Field("footprint_wkt", "text", "Footprint",
          description="Building outline as WKT (WGS84) when the register gave a polygon; x/y are then its "
                      "representative point."),
    Field("extra", "text", "Other columns",
          description="JSON object of the register's columns that map to no field, values as given."),
)

#: Provenance carried by every record.
PROVENANCE_FIELDS: tuple[Field, ...] = (
    Field("source_file", "text", "Source file"),
    Field("source_sheet", "text", "Source sheet"),
    Field("source_row", "number", "Source row", description="1-based row number in the file, header rows included."),
    Field("ingested_at", "date", "Ingested at", description="UTC timestamp of the ingest."),
)

FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS + PROVENANCE_FIELDS)

HOLDING_TYPES: tuple[str, ...] = ("land", "building", "land+buildings")

#: Vocabulary of ``partner_type``.
PARTNER_TYPES: tuple[str, ...] = (
    "council", "school", "gp", "pcn", "nhs_trust", "central_government", "dwp", "police", "fire",
    "housing_association", "probation", "development_land", "leisure", "library", "community", "other",
)

#: Classification statuses, in display order.
STATUSES: tuple[str, ...] = ("key", "core", "surplus", "needs data")

_BY_NAME = {f.name: f for f in FIELDS + PROVENANCE_FIELDS}


def field(name: str) -> Field:
    """Return the canonical field called ``name`` (KeyError if there is none)."""
    return _BY_NAME[name]
