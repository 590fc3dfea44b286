"""What the app shows, as plain functions (no Streamlit here): details panels, register counts, column mapping.

The estate itself — reading it, loading registers, match decisions, statuses — is :mod:`estates.service`'s; this
module turns what the service reads into the tables and labelled sections the pages draw.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from estates.schema import FIELDS, PARTNER_TYPES, PROVENANCE_FIELDS
from estates.store import Store
from geo.place import Place, load_place
from geo.tagging import TAG_COLUMNS

if TYPE_CHECKING:
    from estates.service import Estate

__all__ = [
        "site_details",
    "DetailSection",
    "attention_rows",
    "building_details",
    "building_record",
    "KEEP_AS_EXTRA",
    "mapping_overrides",
    "mapping_table",
    "missing_partner_types",
    "register_counts",
    "ColumnDisplay",
    "column_label",
    "table_columns",
]

def building_record(store: Store, building_id: str) -> dict[str, Any]:
    """One record as the store holds it now, with the rules' explanation (which
    :func:`estates.service.read_records` leaves out).

    Parameters
    ----------
    store
        An open store.
    building_id
        The building (``BuildingNotFoundError`` when unknown).

    Returns
    -------
    dict
        The record's columns (as :func:`estates.service.read_records`), ``status``, ``status_source``, ``version``,
        the rule and override fields, ``rule_explanation`` and ``rule_detail``.
    """
    state = store.building(building_id)
    record = dict(state.record)
    record.update({
        "building_id": state.building_id, "version": state.version, "updated_by": state.updated_by,
        "updated_at": state.updated_at, "lon": state.lon, "lat": state.lat, "position_source": state.position_source,
        "rule_status": state.rule_status, "rule_id": state.rule_id, "rule_explanation": state.rule_explanation,
        "rule_detail": state.rule_detail, "rule_by": state.rule_by, "rule_at": state.rule_at,
        "override_status": state.override_status,
        "override_reason": state.override_reason, "override_by": state.override_by,
        "override_at": state.override_at, "status": state.effective_status, "status_source": state.status_source,
    })
    return record


# ------------------------------------------------------------------------------------------------ details

_LABELS: dict[str, str] = {f.name: f.label + (f" ({f.unit})" if f.unit else "") for f in FIELDS + PROVENANCE_FIELDS}
_LABELS.update({
    "status": "Status", "status_source": "Decided by", "rule_status": "Rules suggest", "rule_id": "Deciding rule",
    "override_status": "Override", "override_reason": "Override reason", "override_by": "Overridden by",
    "override_at": "Overridden at", "rule_by": "Rules run by", "rule_at": "Rules run at",
    "lon": "Longitude", "lat": "Latitude", "easting": "Easting", "northing": "Northing",
    "postcode_normalised": "Postcode (normalised)", "geocode_method": "Located by",
    "geocode_precision": "Location precision", "geocode_issue": "Location remark", "position_source": "Position",
    "ward_name": "Ward", "ward_code": "Ward code", "neighbourhood": "Neighbourhood", "lsoa_name": "LSOA",
    "lsoa_code": "LSOA code", "imd_rank": "IMD 2019 rank (1 = most deprived)", "imd_decile": "IMD 2019 decile",
    "lsoa_population": "LSOA residents (mid-2024)", "pcn_name": "PCN", "pcn_code": "PCN code",
    "site_id": "Site", "site_partner_count": "Partners on the site", "outcome": "Ingest outcome",
    "issues": "Ingest remarks", "version": "Version", "created_at": "In the store since",
    "updated_by": "Last changed by", "updated_at": "Last changed at",
})

_RECORD = ("name", "partner", "partner_type", "source_id", "address_line_1", "address_line_2", "town", "postcode",
           "uprn", "use", "holding_type", "tenure", "tenure_detail", "gia_m2", "land_area_ha", "energy_rating",
           "condition", "utilisation_pct", "annual_running_cost", "lease_end", "backlog_maintenance", "historic",
           "building_id")
_CLASSIFICATION = ("status", "status_source", "override_status", "override_reason", "override_by", "override_at",
                   "rule_status", "rule_id", "rule_by", "rule_at")
_LOCATION = ("lat", "lon", "easting", "northing", "postcode_normalised", "geocode_method", "geocode_precision",
             "geocode_issue", "position_source", "x", "y")
_PROVENANCE = ("source_file", "source_sheet", "source_row", "ingested_at", "outcome", "issues", "site_id",
               "site_partner_count", "version", "created_at", "updated_by", "updated_at")


@dataclass(frozen=True)
class DetailSection:
    """One block of the details panel.

    Attributes
    ----------
    title
        Block heading.
    rows
        ``(label, value)`` pairs as plain text (never HTML: show them with widgets that escape, or escape them).
    """

    title: str
    rows: tuple[tuple[str, str], ...]

    def frame(self) -> pd.DataFrame:
        """The rows as a two-column table (``field``, ``value``)."""
        return pd.DataFrame(list(self.rows), columns=["field", "value"])


def _shown(value: object) -> str | None:
    """Plain text for a value, or None when it is missing."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float):
        if math.isnan(value):
            return None
        return f"{value:,.6f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, pd.Timestamp | datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value.tzinfo else value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "yes" if value else "no"
    text = str(value)
    return text if text.strip() else None


_SOURCES = {"rule": "the rules", "override": "a person (override)"}


def _section(title: str, record: Mapping[str, Any], names: tuple[str, ...]) -> DetailSection:
    rows = []
    for name in names:
        value = record.get(name)
        text = _SOURCES.get(str(value), str(value)) if name == "status_source" and value else _shown(value)
        if text is not None:
            rows.append((_LABELS.get(name, name), text))
    return DetailSection(title, tuple(rows))


def building_details(record: Mapping[str, Any], *, place: Place | None = None) -> list[DetailSection]:
    """Everything known about one building, grouped for a details panel.

    Parameters
    ----------
    record
        One row of :func:`estates.service.read_records` (or ``BuildingState.record`` plus its status fields).
    place
        The place (for the name of the outside-the-place flag; default: the current place).

    Returns
    -------
    list of DetailSection
        "Record" (canonical fields), "Classification" (status, who decided, the rules' suggestion),
        "Explanation" (the rules' reasoning), "Location" (position, how it was found, its precision),
        "Areas" (ward, neighbourhood, LSOA and deprivation, PCN), "Other register columns" (the register's own
        columns that map to no field), "Provenance" (file, sheet, row, ingest outcome and remarks, site, version).
        Missing facts are left out, not shown as blanks; sections with nothing to show are dropped.
    """
    place = place if place is not None else load_place()
    sections = [_section("Record", record, _RECORD), _section("Classification", record, _CLASSIFICATION)]
    explanation = _shown(record.get("rule_explanation"))
    if explanation:
        sections.append(DetailSection("Explanation", (("Why the rules suggest this", explanation),)))
    sections.append(_section("Location", record, _LOCATION))
    areas = _section("Areas", record, tuple(c for c in TAG_COLUMNS))
    outside = record.get(place.outside_column)
    if outside is not None and outside is not pd.NA and bool(outside):
        areas = DetailSection("Areas", (*areas.rows, (f"Outside {place.name}", "yes")))
    sections.append(areas)
    extra_text = record.get("extra")
    if isinstance(extra_text, str) and extra_text.strip():
        try:
            extra = json.loads(extra_text)
        except ValueError:
            extra = {"extra": extra_text}
        rows = tuple((str(k), text) for k, v in extra.items() if (text := _shown(v)) is not None)
        sections.append(DetailSection("Other register columns", rows))
    sections.append(_section("Provenance", record, _PROVENANCE))
    return [s for s in sections if s.rows]


# ------------------------------------------------------------------------------------------------ registers


def register_counts(records: pd.DataFrame, rejected: pd.DataFrame | None = None) -> pd.DataFrame:
    """Registers loaded, one row per partner and file, with their ingest counts.

    Parameters
    ----------
    records
        The estate's records (``estates.service.read_estate(...).records``).
    rejected
        The loads' rejected rows (``Store.rejected_rows()``).

    Returns
    -------
    pandas.DataFrame
        ``partner``, ``partner_type``, ``source_file``, ``rows``, ``accepted``, ``warned``, ``rejected``,
        ``located`` (records with a position), ``needs_attention`` (warned + rejected), ``historic`` (the source is
        known to be out of date), sorted by rows, most first.
    """
    outcome = records["outcome"].astype("str")
    table = pd.DataFrame({
        "partner": records["partner"].astype("str"),
        "partner_type": records["partner_type"].astype("str"),
        "source_file": records["source_file"].astype("str").fillna("(unknown)"),
        "accepted": (outcome == "accepted").to_numpy(),
        "warned": (outcome == "warned").to_numpy(),
        "rejected": False,
        "located": records["lat"].notna().to_numpy(),
        "historic": records["historic"].astype(bool).to_numpy() if "historic" in records else False,
    })
    if rejected is not None and len(rejected):
        table = pd.concat([table, pd.DataFrame({
            "partner": rejected["partner"].astype("str"), "partner_type": rejected["partner_type"].astype("str"),
            "source_file": rejected["source_file"].astype("str"), "accepted": False, "warned": False,
            "rejected": True, "located": False, "historic": False})], ignore_index=True)
    grouped = table.groupby(["partner", "partner_type", "source_file"], dropna=False, sort=False)
    counts = grouped.agg(rows=("accepted", "size"), accepted=("accepted", "sum"), warned=("warned", "sum"),
                         rejected=("rejected", "sum"), located=("located", "sum"),
                         historic=("historic", "any")).reset_index()
    counts["needs_attention"] = counts["warned"] + counts["rejected"]
    columns = ["partner", "partner_type", "source_file", "rows", "accepted", "warned", "rejected", "located",
               "needs_attention", "historic"]
    return counts[columns].sort_values(["rows", "partner"], ascending=[False, True], ignore_index=True)


def attention_rows(records: pd.DataFrame, rejected: pd.DataFrame | None = None) -> pd.DataFrame:
    """Rows that need a person's attention: rejected rows of the loads, then records accepted with warnings.

    Parameters
    ----------
    records
        The estate's records (or pipeline records, whose rejected rows are then included).
    rejected
        The loads' rejected rows (``Store.rejected_rows()``): never records, listed here with their reasons.

    Returns
    -------
    pandas.DataFrame
        ``partner``, ``source_file``, ``source_row``, ``building_id`` (the row's id), ``name``, ``postcode``,
        ``outcome``, ``issues``; rejected rows first, then by partner and row. Register text is as written:
        neutralise formulas before writing it to a spreadsheet (``estates.exports.neutralise_formulas``).
    """
    columns = ["partner", "source_file", "source_row", "building_id", "name", "postcode", "outcome", "issues"]
    rows = records[records["outcome"].astype("str").isin(["warned", "rejected"])]
    parts = [rows[[c for c in columns if c in rows]]]
    if rejected is not None and len(rejected):
        parts.append(pd.DataFrame({
            "partner": rejected["partner"], "source_file": rejected["source_file"],
            "source_row": rejected["source_row"], "building_id": rejected["row_id"], "name": rejected["name"],
            "postcode": rejected["postcode"], "outcome": "rejected", "issues": rejected["issues"]}))
    table = pd.concat([p for p in parts if len(p)], ignore_index=True) if any(len(p) for p in parts) \
        else pd.DataFrame(columns=columns)
    table["_order"] = (table["outcome"] != "rejected").astype(int)
    return table.sort_values(["_order", "partner", "source_row"], ignore_index=True).drop(columns="_order")


def missing_partner_types(estate: pd.DataFrame, *, config: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Partner types with no register loaded yet, with the partner list's note on each where it has one.

    Parameters
    ----------
    estate
        :func:`estates.service.read_records` output.
    config
        Partner list (default: the demo estate's) whose ``no_register`` entries give labels and notes.

    Returns
    -------
    pandas.DataFrame
        ``partner_type``, ``label``, ``note``, in :data:`estates.schema.PARTNER_TYPES` order.
    """
    from estates.ingest.partners import load_registers_config

    loaded = set(estate["partner_type"].dropna().astype("str"))
    notes = {entry.partner_type: entry for entry in load_registers_config(config).no_register}
    rows = []
    for partner_type in PARTNER_TYPES:
        if partner_type in loaded:
            continue
        entry = notes.get(partner_type)
        rows.append({"partner_type": partner_type,
                     "label": entry.label if entry else partner_type.replace("_", " ").capitalize(),
                     "note": entry.note if entry else ""})
    return pd.DataFrame(rows, columns=["partner_type", "label", "note"])


#: The "maps to" choice of a register column that fills no field (kept in ``extra``).
KEEP_AS_EXTRA = "(keep as extra column)"


def mapping_table(frame: pd.DataFrame, mapping: Any, *, examples: int = 3) -> pd.DataFrame:
    """A register's columns with the field each fills, for a person to check (and change) before ingest.

    Parameters
    ----------
    frame
        ``estates.ingest.registers.read_register(...).frame``.
    mapping
        ``estates.ingest.columns.recognise_columns(frame.columns)`` (a :class:`estates.ingest.columns.ColumnMapping`).
    examples
        How many distinct example values to show per column.

    Returns
    -------
    pandas.DataFrame
        ``column`` (the register's name), ``examples`` (first distinct values, joined by " | "), ``maps_to`` (a
        field of :data:`estates.ingest.columns.MAPPABLE_FIELDS`, or :data:`KEEP_AS_EXTRA`), in file order.
    """
    field_of = {column: name for name, columns in mapping.fields.items() for column in columns}
    rows = []
    for column in frame.columns:
        values = frame[column].dropna().astype("str")
        sample = list(dict.fromkeys(v for v in values.head(200) if v.strip()))[:examples]
        rows.append({"column": str(column), "examples": " | ".join(v[:40] for v in sample),
                     "maps_to": field_of.get(str(column), KEEP_AS_EXTRA)})
    return pd.DataFrame(rows, columns=["column", "examples", "maps_to"])


def mapping_overrides(table: pd.DataFrame, mapping: Any) -> dict[str, list[str] | None]:
    """Turn an edited :func:`mapping_table` into the ``mapping=`` overrides of ``ingest_register``.

    Parameters
    ----------
    table
        :func:`mapping_table` output, possibly with ``maps_to`` changed. Several columns mapped to one field are
        joined in file order (e.g. house number + street).
    mapping
        The recognised mapping the table started from.

    Returns
    -------
    dict
        Field → columns for every field whose columns differ from recognition, and field → None for a recognised
        field no column fills any more; empty when nothing was changed.
    """
    chosen: dict[str, list[str]] = {}
    for column, target in zip(table["column"], table["maps_to"], strict=True):
        if isinstance(target, str) and target and target != KEEP_AS_EXTRA:
            chosen.setdefault(target, []).append(str(column))
    overrides: dict[str, list[str] | None] = {}
    for name, columns in chosen.items():
        if tuple(columns) != tuple(mapping.fields.get(name, ())):
            overrides[name] = columns
    for name in mapping.fields:
        if name not in chosen:
            overrides[name] = None
    return overrides



# ------------------------------------------------------------------------------------------------ sites

_SITE_SUMMARY = (("status", "Status"), ("partners", "Occupants (partner organisations)"),
                 ("record_count", "Register records"), ("address_line_1", "Address"), ("town", "Town"),
                 ("postcode", "Postcode"), ("uprn", "UPRN"), ("ward_name", "Ward"), ("neighbourhood", "Neighbourhood"),
                 ("pcn_name", "PCN"), ("lsoa_name", "LSOA"), ("imd_decile", "IMD 2019 decile (1 = most deprived)"),
                 ("geocode_precision", "Location precision"), ("match_reason", "Why these records are one site"),
                 ("proposed", "Proposed matches awaiting a decision"), ("site_id", "Site id"))


def site_details(estate: Estate, site_id: str, *, pairs: pd.DataFrame | None = None,
                 explanation: str | None = None) -> tuple[list[DetailSection], pd.DataFrame]:
    """Everything about one site, for a details panel: a summary, how its status was decided, and its records.

    Parameters
    ----------
    estate
        ``estates.service.read_estate`` output.
    site_id
        The site.
    pairs
        ``Store.site_matches()``: says which decision put each record on the site.
    explanation
        The rules' explanation of the deciding record (``building_record(...)["rule_explanation"]``).

    Returns
    -------
    tuple
        The sections ("Site", "Classification") and one row per record: ``record_id``, ``partner``,
        ``organisation``, ``name``, ``source``, ``rules suggest``, ``on this site because``, the main facts.
    """
    site = estate.sites[estate.sites["site_id"].astype("str") == str(site_id)].iloc[0].to_dict()
    summary = tuple((label, text) for key, label in _SITE_SUMMARY
                    if (text := _shown(site.get(key))) is not None and not (key == "proposed" and text == "0"))
    decided: list[tuple[str, str]] = []
    if site.get("status_source") == "override":
        decided += [("Decided by", "a person (override)"), ("Set by", _shown(site.get("override_by")) or ""),
                    ("Set at", _shown(site.get("override_at")) or ""),
                    ("Reason", _shown(site.get("override_reason")) or "")]
        if site.get("rule_status"):
            decided.append(("Rules suggest", str(site["rule_status"])))
    else:
        decided.append(("Decided by", "the rules"))
    records = estate.site_records(site_id)
    decider = records[records["building_id"].astype("str") == str(site.get("rule_record"))]
    if len(decider):
        row = decider.iloc[0]
        decided.append(("Deciding record", f"{_shown(row.get('name')) or '(no name)'} — {row['partner']} "
                                           f"({row['building_id']}), rule {_shown(row.get('rule_id')) or '–'}"))
    if explanation:
        decided.append(("Why", explanation))
    reasons = _joined_because(records, pairs)
    table = pd.DataFrame({
        "record_id": records["building_id"].astype("str"),
        "partner": records["partner"].astype("str"),
        "organisation": records["organisation"] if "organisation" in records else records["partner"],
        "name": records["name"],
        "source": [f"{f} row {int(r)}" if pd.notna(r) else str(f) for f, r in
                   zip(records["source_file"].astype("str"), records["source_row"], strict=True)],
        "rules suggest": records["rule_status"],
        "on this site because": [reasons.get(str(i), "") for i in records["building_id"]],
        **{_LABELS[c]: records[c] for c in ("use", "tenure_detail", "gia_m2", "utilisation_pct", "condition",
                                            "lease_end") if c in records},
    })
    sections = [DetailSection("Site", summary), DetailSection("Classification", tuple(decided))]
    return sections, table.reset_index(drop=True)


def _joined_because(records: pd.DataFrame, pairs: pd.DataFrame | None) -> dict[str, str]:
    """For each record, the applied pairs that tie it to the site's other records, as readable text."""
    ids = set(records["building_id"].astype("str"))
    if len(ids) == 1:
        return dict.fromkeys(ids, "the only record of this site")
    because: dict[str, list[str]] = {i: [] for i in ids}
    if pairs is not None and len(pairs):
        inside = pairs[pairs["building_id_a"].astype("str").isin(ids) & pairs["building_id_b"].astype("str").isin(ids)]
        for row in inside.itertuples(index=False):
            decision = str(row.decision) if isinstance(row.decision, str) else ""
            if decision == "reject":
                continue
            if decision == "confirm":
                text = f"confirmed by {row.decided_by}: {row.decision_note}"
            elif str(row.status) == "matched":
                text = f"{row.reason} (score {row.score:.0f})" if pd.notna(row.score) else str(row.reason)
            else:
                continue
            because[str(row.building_id_a)].append(f"{text} — with {row.building_id_b}")
            because[str(row.building_id_b)].append(f"{text} — with {row.building_id_a}")
    return {i: "; ".join(v) for i, v in because.items()}



# ------------------------------------------------------------------------------------------------ tables

# Columns of the analysis tables (profiles, co-location, access, overlap) in people's words; the record fields use
# _LABELS above (the details panel's words), except where a table says it shorter.
_TABLE_LABELS: dict[str, str] = {
    "area": "Area", "population": "Residents", "residents": "Residents", "lsoas": "LSOAs", "imd_score": "IMD score",
    "imd_rank": "IMD rank (1 = most deprived)", "imd_decile": "IMD decile (1 = most deprived)",
    "most_deprived_20pct_population": "Residents in England's most deprived 20 %",
    "most_deprived_20pct_share": "Share in most deprived 20 %", "most_deprived_lsoa": "Most deprived LSOA",
    "most_deprived_decile": "Its IMD decile", "buildings": "Buildings", "partners": "Partners",
    "gia_m2": "Floor area (m²)", "gia_recorded": "With floor area", "total": "Total",
    "buildings_per_10k_residents": "Buildings per 10,000 residents", "key": "Key", "core": "Core",
    "surplus": "Surplus", "needs data": "Needs data", "needs_data": "Needs data", "rank": "Rank",
    "hub_name": "Around", "partner_count": "Partners", "site_count": "Sites", "radius_m": "Radius (m)",
    "distance_m": "Distance (m)", "surplus_name": "Surplus building", "surplus_partner": "Its partner",
    "surplus_use": "Its use", "surplus_gia_m2": "Its floor area (m²)", "key_name": "Nearest key building",
    "key_partner": "Key building's partner", "keys_within": "Key buildings within reach", "area_ha": "Area (ha)",
    "is_sliver": "Sliver", "pcn_name": "PCN", "pcn_code": "PCN code", "lsoa_population": "LSOA residents",
    "record_id": "Record id", "building_id": "Record id", "site_id": "Site id", "facility_id": "Site id",
    "cluster_id": "Cluster id", "hub_building_id": "Hub record id", "surplus_building_id": "Surplus record id",
    "key_building_id": "Key record id", "source_row": "Row", "median_m": "Median distance (m)",
    "mean_m": "Mean distance (m)", "p90_m": "90th percentile distance (m)", "record_count": "Records",
    "buildings_without_gia_m2": "Buildings without floor area", "partner_types": "Partner types",
}

#: Columns counting people: shown as whole numbers (an apportioned 190.7499… residents is "191").
_PEOPLE = frozenset({"population", "residents", "lsoa_population", "registered_patients", "patients",
                     "most_deprived_20pct_population"})
#: Codes and ordinals: whole numbers without a thousands separator.
_CODES = frozenset({"uprn", "source_row", "imd_decile", "most_deprived_decile", "version", "rank"})
#: Identifier columns: kept in a table, after the columns people read.
_ID_SUFFIXES = ("_id", "_ids")


@dataclass(frozen=True)
class ColumnDisplay:
    """How a table shows one column.

    Attributes
    ----------
    name
        The column.
    label
        Its heading, in people's words.
    number_format
        For a number column: a printf-style format (``"%,.0f"``: whole, thousands separated) or ``"percent"`` (a
        share 0–1 shown as a percentage); None for text or a column shown as it is.
    is_id
        An internal identifier (shown after the other columns).
    """

    name: str
    label: str
    number_format: str | None
    is_id: bool


def column_label(name: str) -> str:
    """A column's heading in people's words (``imd_rank`` → "IMD rank (1 = most deprived)", ``distance_m`` →
    "Distance (m)", an unknown ``some_thing`` → "Some thing")."""
    if name in _TABLE_LABELS:
        return _TABLE_LABELS[name]
    if name in _LABELS:
        return _LABELS[name]
    text, unit = name, ""
    for suffix, shown in (("_m2", "m²"), ("_ha", "ha"), ("_km", "km"), ("_m", "m"), ("_pct", "%")):
        if name.endswith(suffix):
            text, unit = name[: -len(suffix)], f" ({shown})"
            break
    words = text.replace("_", " ").strip()
    return (words[:1].upper() + words[1:] + unit) if words else name


def _number_format(name: str, values: pd.Series) -> str | None:
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        return None
    if name in _CODES:
        return "%d"
    if "share" in name:
        return "percent"
    if name in _PEOPLE or name.endswith(("_population", "_residents", "_patients")) or name.startswith("residents"):
        return "%,.0f"
    if name in ("lat", "lon", "hub_lat", "hub_lon") or name.endswith(("_lat", "_lon")):
        return "%.5f"
    if name.endswith("_ha"):
        return "%,.1f"
    if name.endswith("_km"):
        return "%,.2f"
    if name.endswith(("_m", "_m2")) or name in ("easting", "northing", "imd_rank"):
        return "%,.0f"
    if name in ("imd_score",) or name.endswith("_score"):
        return "%.1f"
    if pd.api.types.is_integer_dtype(values):
        return "%,d"
    finite = pd.to_numeric(values, errors="coerce").dropna()
    if len(finite) and bool((finite == finite.round()).all()):
        return "%,.0f"
    return "%,.2f"


def table_columns(frame: pd.DataFrame) -> list[ColumnDisplay]:
    """How a table shows each column of ``frame``, in the order to show them: the columns people read first (in
    ``frame``'s order), internal identifiers last.

    Parameters
    ----------
    frame
        Any table the app shows.

    Returns
    -------
    list of ColumnDisplay
    """
    shown = [ColumnDisplay(str(c), column_label(str(c)), _number_format(str(c), frame[c]),
                           str(c).endswith(_ID_SUFFIXES) or str(c) == "record_id") for c in frame.columns]
    return [c for c in shown if not c.is_id] + [c for c in shown if c.is_id]
