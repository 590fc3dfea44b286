"""What the app reads and writes, as plain functions on a :class:`estates.store.Store` (no Streamlit here).

Data flows one way: register → geocode → tag → classify → **store** → pages. The app never runs the pipeline on a
normal start: it reads the estate from the store (:func:`load_estate`, a few hundredths of a second for the demo
estate). Only a new, empty store is seeded from the partner list (:func:`seed_store`: pipeline, site matching,
rules), once. :func:`store_revision` is a cheap number that changes whenever anything is saved, so pages can cache
the estate per revision and show a save at once. Every write here goes through the store API with an actor.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from estates.schema import FIELDS, PARTNER_TYPES, PROVENANCE_FIELDS, STATUSES
from estates.store import ENV_URL, Store
from geo.place import Place, load_place
from geo.tagging import TAG_COLUMNS

__all__ = [
    "INGEST_ACTOR",
    "MATCH_ACTOR",
    "RULES_ACTOR",
    "DetailSection",
    "LiveEstate",
    "SeedReport",
    "attention_rows",
    "building_details",
    "building_record",
    "KEEP_AS_EXTRA",
    "ingest_into_store",
    "mapping_overrides",
    "mapping_table",
    "load_estate",
    "missing_partner_types",
    "register_counts",
    "reposition_tags",
    "seed_store",
    "store_revision",
    "store_target",
]

#: Actors of the machine runs the app starts (people's changes carry the person's name).
INGEST_ACTOR = "ingest"
RULES_ACTOR = "rules"
MATCH_ACTOR = "matching"

Progress = Callable[[str, float], None]

_revision_lock = threading.Lock()
_revisions: dict[str, int] = {}


def store_target(environ: Mapping[str, str] | None = None) -> str:
    """Where the app's store lives: ``ESTATES_DATABASE_URL``, else the embedded default file.

    Parameters
    ----------
    environ
        Environment to read (default ``os.environ``).

    Returns
    -------
    str
        A ``postgresql://`` URL or a ``.gpkg`` path (the embedded default is ``estates.estate.DEFAULT_STORE_PATH``,
        created on first use).
    """
    from estates.estate import DEFAULT_STORE_PATH

    environ = os.environ if environ is None else environ
    return environ.get(ENV_URL) or os.fspath(DEFAULT_STORE_PATH)


def store_revision(store: Store) -> int:
    """A number that grows whenever a change is saved: the id of the store's latest audit row (0 when empty).

    Reads only the audit rows added since the last call for this store, so calling it on every page run is cheap.

    Parameters
    ----------
    store
        An open store.

    Returns
    -------
    int
        The revision; cache the estate on it (``load_estate`` once per revision).
    """
    with _revision_lock:
        known = _revisions.get(store.location, 0)
    newer = store.audit_log(since_id=known)
    if len(newer):
        known = max(known, int(newer["id"].max()))
    elif known and len(store.audit_log(since_id=known - 1)) == 0:
        # The row we last saw is gone: a store replaced under the same name (a restored backup). Start again.
        everything = store.audit_log(since_id=0)
        known = int(everything["id"].max()) if len(everything) else 0
    with _revision_lock:
        _revisions[store.location] = known
    return known


@dataclass
class SeedReport:
    """What :func:`seed_store` did.

    Attributes
    ----------
    buildings
        ``upsert_buildings`` counts (inserted / updated / unchanged).
    sites
        ``save_site_matches`` counts.
    rule_changes
        Buildings whose rule status changed.
    registers
        Registers read; ``errors`` lists ``(partner, message)`` for those that could not be read.
    """

    buildings: dict[str, int]
    sites: dict[str, int]
    rule_changes: int
    registers: int
    errors: list[tuple[str, str]] = field(default_factory=list)


def seed_store(
    store: Store,
    *,
    config: str | os.PathLike[str] | None = None,
    place: Place | None = None,
    progress: Progress | None = None,
) -> SeedReport:
    """Fill a store from a partner list: ingest every register, match sites, classify, save all (audited).

    Idempotent: running it on a store that already holds the same records changes nothing.

    Parameters
    ----------
    store
        The store to fill.
    config
        Partner list (default: the demo estate, ``data/registers/registers.yaml``).
    place
        The place (default: the partner list's).
    progress
        ``progress(label, fraction)`` with fraction 0–1, e.g. to drive a progress bar.

    Returns
    -------
    SeedReport
    """
    from estates.classification import DEFAULT_RULES, classify, load_rules
    from estates.ingest import run_pipeline
    from estates.matching import SiteMatches

    report = progress or (lambda _label, _fraction: None)
    pipeline_share = 0.8

    def pipeline_progress(label: str, done: int, total: int) -> None:
        report(f"Reading registers: {label}" if label != "done" else "Registers read",
               pipeline_share * done / max(total, 1))

    config = config if config is not None else demo_config_path()
    pipeline = run_pipeline(config, progress=pipeline_progress, place=place)
    records = pipeline.records
    report("Saving buildings", 0.85)
    counts = store.upsert_buildings(records, actor=INGEST_ACTOR, source="partner registers (seed)")
    report("Saving sites", 0.9)
    membership = records.loc[records["site_id"].notna(), ["building_id", "site_id"]].reset_index(drop=True)
    sites = store.save_site_matches(SiteMatches(matches=pipeline.matches, sites=pipeline.sites,
                                                membership=membership),
                                    actor=MATCH_ACTOR, source="partner registers (seed)")
    report("Classifying", 0.95)
    rules = classify(records, load_rules(DEFAULT_RULES))
    changed = store.save_rule_results(rules, actor=RULES_ACTOR)
    report("Done", 1.0)
    return SeedReport(buildings=counts, sites=sites, rule_changes=changed, registers=len(pipeline.summary),
                      errors=list(pipeline.errors))


def load_estate(store: Store, *, ids: Iterable[str] | None = None) -> pd.DataFrame:
    """The estate as the store holds it now: one row per building, with its effective status.

    Parameters
    ----------
    store
        An open store.
    ids
        Only these buildings (default: all).

    Returns
    -------
    pandas.DataFrame
        The store's building columns (record, geocode, tags, provenance, ``site_id``, ``version``,
        ``position_source``, ``rule_status``/``rule_id``, ``override_*``), ``status`` (the status that counts:
        override, else rule) and ``status_source`` (``override`` / ``rule``), without the geometry column
        (``lon``/``lat`` hold the position), sorted by ``building_id``. The rules' long explanations are left out:
        :func:`building_record` has them for one building.
    """
    frame = pd.DataFrame(store.buildings(ids=None if ids is None else list(ids)).drop(columns="geometry"))
    frame["status"] = frame["effective_status"]
    if "historic" in frame:
        frame["historic"] = frame["historic"].astype("boolean").fillna(False).astype(bool)
    return frame.sort_values("building_id", kind="stable", ignore_index=True)


class LiveEstate:
    """The estate of a store, kept in step cheaply: after a save only the buildings that changed are read again.

    Each :meth:`snapshot` asks the store for the audit rows written since the last one (usually none) and re-reads
    just the buildings they name, so a person's save shows at once without re-reading the whole estate — which
    matters at 50,000 buildings. Safe to share between threads (one per store per process, e.g. in
    ``st.cache_resource``).

    Parameters
    ----------
    store
        An open store.
    full_reload_share
        Re-read everything instead when more than this share of the estate changed (e.g. a rule run).

    Notes
    -----
    Site matching is not audited (it is a machine suggestion): after a register is loaded and sites matched again,
    call :meth:`reload`.
    """

    def __init__(self, store: Store, *, full_reload_share: float = 0.2) -> None:
        self._store = store
        self._share = full_reload_share
        self._lock = threading.Lock()
        self._frame: pd.DataFrame | None = None
        self._revision = 0

    @property
    def loaded(self) -> bool:
        """True once the estate has been read (the next :meth:`snapshot` is cheap)."""
        return self._frame is not None

    def reload(self) -> None:
        """Forget the cached estate: the next :meth:`snapshot` reads all of it."""
        with self._lock:
            self._frame = None

    def snapshot(self) -> tuple[int, pd.DataFrame]:
        """The store's revision and its estate now (treat the frame as read-only: it is shared).

        Returns
        -------
        tuple
            ``(revision, frame)``: the id of the latest audit row seen, and :func:`load_estate` output.
        """
        with self._lock:
            if self._frame is None:
                # The process-wide revision: after the first look it costs two tiny queries, where reading the
                # whole audit log again (as many rows as buildings, and more) would not.
                revision = store_revision(self._store)
                self._frame, self._revision = load_estate(self._store), revision
                return self._revision, self._frame
            newer = self._store.audit_log(since_id=self._revision)
            if not len(newer):
                return self._revision, self._frame
            changed = newer["building_id"].dropna().astype("str").unique()
            if len(changed) > self._share * max(len(self._frame), 1):
                self._frame = load_estate(self._store)
            else:
                fresh = load_estate(self._store, ids=changed)
                kept = self._frame[~self._frame["building_id"].isin(changed)]
                self._frame = pd.concat([kept, fresh], ignore_index=True).sort_values(
                    "building_id", kind="stable", ignore_index=True)
            self._revision = int(newer["id"].max())
            return self._revision, self._frame


def building_record(store: Store, building_id: str) -> dict[str, Any]:
    """One building as the store holds it now, with the rules' explanation (which :func:`load_estate` leaves out).

    Parameters
    ----------
    store
        An open store.
    building_id
        The building (``BuildingNotFoundError`` when unknown).

    Returns
    -------
    dict
        The record's columns (as :func:`load_estate`), ``status``, ``status_source``, ``version``, the rule and
        override fields, ``rule_explanation`` and ``rule_detail``.
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
        One row of :func:`load_estate` (or ``BuildingState.record`` plus its status fields).
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


def reposition_tags(lon: float, lat: float, *, place: Place | None = None) -> dict[str, Any]:
    """Location tags and grid coordinates for a point placed by hand (for ``Store.reposition(tags=...)``).

    Parameters
    ----------
    lon, lat
        The new position (WGS84).
    place
        The place (default: the current place).

    Returns
    -------
    dict
        ``geo.tagging.tag`` columns (ward, neighbourhood, LSOA and IMD, PCN, outside flag) with missing values as
        None.
    """
    from geo.tagging import tag

    place = place if place is not None else load_place()
    tagged = tag(pd.DataFrame({"lon": [float(lon)], "lat": [float(lat)]}), place=place).iloc[0]
    tags: dict[str, Any] = {}
    for column in (*TAG_COLUMNS, place.outside_column):
        value = tagged[column]
        tags[column] = None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)
    return tags


# ------------------------------------------------------------------------------------------------ registers


def register_counts(estate: pd.DataFrame) -> pd.DataFrame:
    """Registers loaded, one row per partner and file, with their ingest counts.

    Parameters
    ----------
    estate
        :func:`load_estate` output.

    Returns
    -------
    pandas.DataFrame
        ``partner``, ``partner_type``, ``source_file``, ``rows``, ``accepted``, ``warned``, ``rejected``,
        ``located`` (rows with a position), ``needs_attention`` (warned + rejected), ``historic`` (the source is
        known to be out of date), sorted by rows, most first.
    """
    outcome = estate["outcome"].astype("str")
    table = pd.DataFrame({
        "partner": estate["partner"].astype("str"),
        "partner_type": estate["partner_type"].astype("str"),
        "source_file": estate["source_file"].astype("str").fillna("(unknown)"),
        "accepted": (outcome == "accepted").to_numpy(),
        "warned": (outcome == "warned").to_numpy(),
        "rejected": (outcome == "rejected").to_numpy(),
        "located": estate["lat"].notna().to_numpy(),
        "historic": estate["historic"].astype(bool).to_numpy() if "historic" in estate else False,
    })
    grouped = table.groupby(["partner", "partner_type", "source_file"], dropna=False, sort=False)
    counts = grouped.agg(rows=("accepted", "size"), accepted=("accepted", "sum"), warned=("warned", "sum"),
                         rejected=("rejected", "sum"), located=("located", "sum"),
                         historic=("historic", "any")).reset_index()
    counts["needs_attention"] = counts["warned"] + counts["rejected"]
    columns = ["partner", "partner_type", "source_file", "rows", "accepted", "warned", "rejected", "located",
               "needs_attention", "historic"]
    return counts[columns].sort_values(["rows", "partner"], ascending=[False, True], ignore_index=True)


def attention_rows(estate: pd.DataFrame) -> pd.DataFrame:
    """Rows that need a person's attention: rejected, or accepted with warnings, with every reason.

    Parameters
    ----------
    estate
        :func:`load_estate` output (or pipeline records).

    Returns
    -------
    pandas.DataFrame
        ``partner``, ``source_file``, ``source_row``, ``building_id``, ``name``, ``postcode``, ``outcome``,
        ``issues``; rejected rows first, then by partner and row. Register text is as written: neutralise
        formulas before writing it to a spreadsheet (``estates.exports.neutralise_formulas``).
    """
    rows = estate[estate["outcome"].astype("str").isin(["warned", "rejected"])]
    columns = ["partner", "source_file", "source_row", "building_id", "name", "postcode", "outcome", "issues"]
    table = rows[[c for c in columns if c in rows]].copy()
    table["_order"] = (table["outcome"] != "rejected").astype(int)
    return table.sort_values(["_order", "partner", "source_row"], ignore_index=True).drop(columns="_order")


def missing_partner_types(estate: pd.DataFrame, *, config: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Partner types with no register loaded yet, with the partner list's note on each where it has one.

    Parameters
    ----------
    estate
        :func:`load_estate` output.
    config
        Partner list (default: the demo estate's) whose ``no_register`` entries give labels and notes.

    Returns
    -------
    pandas.DataFrame
        ``partner_type``, ``label``, ``note``, in :data:`estates.schema.PARTNER_TYPES` order.
    """
    from estates.partners import load_registers_config

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
        ``estates.registers.read_register(...).frame``.
    mapping
        ``estates.columns.recognise_columns(frame.columns)`` (a :class:`estates.columns.ColumnMapping`).
    examples
        How many distinct example values to show per column.

    Returns
    -------
    pandas.DataFrame
        ``column`` (the register's name), ``examples`` (first distinct values, joined by " | "), ``maps_to`` (a
        field of :data:`estates.columns.MAPPABLE_FIELDS`, or :data:`KEEP_AS_EXTRA`), in file order.
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


def ingest_into_store(
    store: Store,
    records: pd.DataFrame,
    *,
    actor: str,
    source: str,
    config: str | os.PathLike[str] | None = None,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Write an ingested register to the store, then match sites and classify the whole estate again.

    Parameters
    ----------
    store
        The store.
    records
        ``estates.ingest.ingest_register(...).records`` (rejected rows included: they are kept with their reasons).
    actor
        The person loading the register (audited as ``ingest`` by them).
    source
        The file's name, for the audit.
    config
        Partner list whose match decisions file also applies (default: the demo estate's).
    progress
        ``progress(label, fraction)``.

    Returns
    -------
    dict
        ``inserted``, ``updated``, ``unchanged`` (buildings), ``sites``, ``rule_changes``.
    """
    from estates.classification import DEFAULT_RULES, load_rules
    from estates.matching import load_decisions, match_sites
    from estates.partners import load_registers_config
    from estates.store import reclassify

    report = progress or (lambda _label, _fraction: None)
    report("Saving buildings", 0.1)
    counts = store.upsert_buildings(records, actor=actor, source=source)
    report("Matching sites", 0.4)
    estate = load_estate(store)
    decisions_file = load_registers_config(config).decisions
    decisions = pd.concat([load_decisions(decisions_file), store.match_decisions()], ignore_index=True)
    matched = match_sites(estate.drop(columns=["site_id", "site_partner_count"], errors="ignore"),
                          decisions=decisions)
    sites = store.save_site_matches(matched, actor=MATCH_ACTOR, source=source)
    report("Classifying", 0.8)
    changed = reclassify(store, load_rules(DEFAULT_RULES), actor=RULES_ACTOR)
    report("Done", 1.0)
    return {**counts, "sites": int(sites.get("sites", 0)), "rule_changes": int(changed)}


def status_counts(estate: pd.DataFrame) -> dict[str, int]:
    """Buildings per status, every status present (0 when none)."""
    counts = estate["status"].astype("str").value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}


def demo_config_path() -> Path:
    """The demo estate's partner list: the current place's own (``[config] registers`` in its place.toml, e.g. one
    built with ``place build --demo-registers``), else ``data/registers/registers.yaml``."""
    from estates.partners import DEFAULT_CONFIG

    place = load_place()
    if "registers" in place.config:
        return place.path("config", "registers")
    return Path(DEFAULT_CONFIG)
