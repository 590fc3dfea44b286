"""Ingest partner registers into canonical building records, and run the whole estate pipeline.

One register: read → map columns → check fields → geocode (offline, then online when asked) + tag → check locations
(:func:`ingest_register`).
The estate: every register in the partner list, then cross-partner site matching (:func:`run_pipeline`).
Every row read comes out as a record with an ``outcome`` (accepted / warned / rejected) and its reasons; the
counts always add up to the rows read. Results are plain DataFrames for the store to persist.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from estates.ingest.columns import ColumnMapping, ColumnMappingError, apply_mapping, recognise_columns
from estates.ingest.registers import RawRegister, RegisterError, read_register
from estates.ingest.validation import (
    ISSUE_COLUMNS,
    check_duplicates,
    check_fields,
    check_locations,
    issue_text,
    make_issues,
    outcomes,
    summarise,
)
from estates.schema import FIELDS

if TYPE_CHECKING:
    from estates.ingest.partners import NoRegister, RegistersConfig, RegisterSpec
    from geo.online import OnlineSettings, OnlineSummary

__all__ = [
    "IngestError",
    "IngestResult",
    "PipelineResult",
    "RECORD_COLUMNS",
    "building_ids",
    "ingest_register",
    "update_records",
    "rejected_rows",
    "run_pipeline",
    "format_ingest_summary",
    "format_pipeline_summary",
    "online_address",
]

#: Columns added by ingest after geocoding and tagging: the row's outcome and all its reasons in one string.
CHECK_COLUMNS: tuple[str, ...] = ("outcome", "issues")

#: Canonical columns of a record, in order (geocode and tag columns follow the fields when located).
RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in FIELDS)

_ISSUE_OUTPUT = ("building_id", "partner", "source_file", "source_row", *ISSUE_COLUMNS[1:])


class IngestError(ValueError):
    """A register cannot be ingested at all (unreadable file, bad mapping); the message is for the user."""


@dataclass
class IngestResult:
    """What ingesting one register produced.

    Attributes
    ----------
    records
        One row per data row of the file (rejected rows included): :data:`RECORD_COLUMNS`, then (when located)
        the geocode and tag columns, then ``outcome``, ``issues`` and the provenance columns.
    issues
        One row per problem: building_id, partner, source_file, source_row, field, severity, code, reason.
    summary
        ``file``, ``partner``, ``partner_type``, ``rows``, ``accepted``, ``warned``, ``rejected`` and
        ``located`` (False when location checks were not run, so outcomes are provisional).
    mapping
        How the register's columns were mapped.
    notes
        Readable notes about the file (encoding, header row, sheet, ...).
    online
        What online geocoding did, when it was asked for (``None`` otherwise).
    """

    records: pd.DataFrame
    issues: pd.DataFrame
    summary: dict[str, object]
    mapping: ColumnMapping
    notes: list[str] = field(default_factory=list)
    online: OnlineSummary | None = None

    @property
    def accepted(self) -> pd.DataFrame:
        """Records that were not rejected."""
        return self.records[self.records["outcome"] != "rejected"]


# ------------------------------------------------------------------------------------------------ identity


def _identity_text(values: pd.DataFrame) -> pd.Series:
    parts = []
    for name in ("name", "address_line_1", "postcode"):
        column = values[name] if name in values else pd.Series(None, index=values.index, dtype=object)
        text = column.fillna("").astype(str).str.lower().str.replace(r"[^a-z0-9]+", " ", regex=True).str.strip()
        if name == "postcode":
            text = text.str.replace(" ", "", regex=False)
        parts.append(text)
    return parts[0] + "|" + parts[1] + "|" + parts[2]


def building_ids(values: pd.DataFrame, partner: str, *, source_rows: np.ndarray | None = None,
                 rejected: pd.Series | None = None) -> tuple[pd.Series, pd.DataFrame]:
    """Stable building ids: ``<partner slug>:<partner's own id>``, else a hash of name + address + postcode.

    Ids stay the same when a corrected register is ingested again, so records update in place and match
    decisions carry over. A register without ids gets ``<slug>:~<12 hex>``: the hash of the normalised name,
    first address line and postcode (so correcting one of those changes the id — give ids to avoid that).

    Parameters
    ----------
    values
        Canonical values with ``source_id`` (may be missing), ``name``, ``address_line_1``, ``postcode``.
    partner
        The partner's name.
    source_rows
        Row numbers in the file; used to keep ids unique for rejected repeats (``<id>#row<n>``).
    rejected
        Rows already rejected (duplicates): their id gets the row suffix instead of clashing.

    Returns
    -------
    (ids, issues)
        The ids (unique within the register), and ``same_identity`` warnings for id-less rows that share the
        name, address and postcode of an earlier row (they get ``-2``, ``-3``, ...).
    """
    from estates.ingest.partners import partner_slug  # the partner list's module (YAML) only where it is used

    slug = partner_slug(partner)
    index = values.index
    own = values["source_id"] if "source_id" in values else pd.Series(None, index=index, dtype=object)
    hashes = _identity_text(values).map(lambda t: "~" + hashlib.sha1(t.encode("utf-8")).hexdigest()[:12])
    has_own = own.notna()
    local = own.astype(object).where(has_own, hashes)
    ids = (slug + ":" + local.astype(str)).astype(object)
    rows = pd.Series(source_rows if source_rows is not None else np.arange(1, len(index) + 1), index=index)
    rejected = rejected if rejected is not None else pd.Series(False, index=index)
    issues = []
    if rejected.any():
        ids[rejected] = ids[rejected] + "#row" + rows[rejected].astype(str)
    repeated = ids.duplicated(keep="first") & ~rejected
    if repeated.any():
        occurrence = ids.groupby(ids).cumcount() + 1
        first_row = rows.groupby(ids).transform("first")
        hashed_repeat = repeated & ~has_own
        ids[hashed_repeat] = ids[hashed_repeat] + "-" + occurrence[hashed_repeat].astype(str)
        issues.append(make_issues(index[hashed_repeat], field="", code="same_identity",
                                  reason=[f"no id, and the same name, address and postcode as row {r}"
                                          for r in first_row[hashed_repeat]]))
        # Own ids repeated but not rejected cannot happen (check_duplicates rejects them); keep ids unique anyway.
        own_repeat = repeated & has_own
        ids[own_repeat] = ids[own_repeat] + "#row" + rows[own_repeat].astype(str)
    return ids, (pd.concat(issues, ignore_index=True) if issues else make_issues([], field="", code="no_name",
                                                                                 reason=""))


# -------------------------------------------------------------------------------------------------- ingest


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


#: Record fields that make the address text sent to Nominatim, in the order a person writes them.
ADDRESS_FIELDS: tuple[str, ...] = ("name", "address_line_1", "address_line_2", "town")


def online_address(records: pd.DataFrame) -> pd.Series:
    """Each record's address as one line of text (name, address lines, town), for an online address search.

    Empty parts are left out; a record with none gives ``""`` (not searched). The postcode is not included: rows
    reach the address search only when their postcode could not place them.
    """
    parts = [records[f].astype("string").str.strip() for f in ADDRESS_FIELDS if f in records]
    if not parts:
        return pd.Series("", index=records.index, dtype=object)
    table = pd.concat(parts, axis=1).fillna("")
    return table.apply(lambda row: ", ".join(v for v in row if v), axis=1).astype(object)


def _locate(frame: pd.DataFrame, place: object, *, online: OnlineSettings | None = None,
            online_progress: Callable[[int, int], None] | None = None,
            ) -> tuple[pd.DataFrame, str, str, OnlineSummary | None]:
    from geo.geocoder import geocode
    from geo.place import load_place
    from geo.tagging import tag

    place_obj = place if place is not None and not isinstance(place, str) else load_place(place)
    located = geocode(frame, postcode="postcode", x="x", y="y", place=place_obj)
    summary = None
    if online is not None and online.enabled:
        from geo.online import fill_online_with_summary

        located, summary = fill_online_with_summary(
            located, postcode=frame["postcode"], address=online_address(frame), settings=online.for_place(place_obj),
            progress=online_progress)
    return tag(located, place=place_obj), place_obj.outside_column, place_obj.name, summary


def ingest_register(
    path: str | Path,
    *,
    partner: str,
    partner_type: str,
    mapping: Mapping[str, object] | None = None,
    units: Mapping[str, str] | None = None,
    sheet: str | None = None,
    historic: bool = False,
    locate: bool = True,
    place: object | None = None,
    ingested_at: str | None = None,
    online: OnlineSettings | None = None,
    online_progress: Callable[[int, int], None] | None = None,
    organisation: str | None = None,
    header_row: int | None = None,
) -> IngestResult:
    """Ingest one partner register.

    Parameters
    ----------
    path
        The register file (CSV, XLSX, GeoJSON, GeoPackage).
    partner, partner_type
        Who holds it; ``partner`` also makes the building ids (see :func:`building_ids`).
    organisation
        The organisation the register belongs to (default: ``partner``; see ``registers.yaml``).
    mapping
        Column mapping overrides for this partner (field -> column(s) or ``None``), as in ``registers.yaml``.
    units
        Field -> unit of the register's numbers when not canonical.
    sheet
        XLSX sheet / GeoPackage layer (default: picked automatically).
    historic
        Flag every record as from an out-of-date source.
    locate
        Geocode, tag and check locations (default). With False, outcomes only reflect field checks.
    place
        Place slug or :class:`geo.place.Place` for geocoding and tagging (default: the current place).
    ingested_at
        Timestamp to record (default: now, UTC).
    online
        Online geocoding settings (:class:`geo.online.OnlineSettings`). Only when given with ``enabled=True`` are
        rows the offline geocoder could not place (or placed only roughly) looked up on postcodes.io, then by
        address (:func:`online_address`) on Nominatim. Default: offline only.
    online_progress
        ``online_progress(done, total)`` over the rows that need online help (called from this thread).
    header_row
        1-based row of the header in a CSV/XLSX (default: found among the first rows).

    Returns
    -------
    IngestResult

    Raises
    ------
    IngestError
        When the file cannot be read at all or the mapping names columns the file lacks. A file that reads
        but has bad rows is not an error: the rows are rejected with reasons.
    """
    path = Path(path)
    try:
        raw = read_register(path, sheet=sheet, header_row=header_row)
        column_map = recognise_columns(raw.frame.columns, overrides=mapping, units=units)
    except (RegisterError, ColumnMappingError) as exc:
        raise IngestError(str(exc)) from None
    text = apply_mapping(raw.frame, column_map)
    if raw.geometry is not None:
        _use_geometry(text, raw, column_map, mapping)
    has_geometry = raw.geometry["x"].notna().to_numpy() if raw.geometry is not None else None
    try:
        checked = check_fields(text, units=column_map.units, has_geometry=has_geometry)
    except ValueError as exc:
        raise IngestError(f"{path.name}: {exc}") from None
    values = checked.values
    issue_parts = [checked.issues]
    for position, code, reason in raw.row_notes:
        issue_parts.append(make_issues([raw.frame.index[position]], field="", code=code, reason=reason))
    blank = pd.Series(False, index=values.index)
    if len(checked.issues):
        blank[checked.issues.loc[checked.issues["code"] == "blank_row", "row"].to_numpy()] = True
    duplicates = check_duplicates(raw.frame, values.get("source_id"), raw.source_rows, blank=blank)
    issue_parts.append(duplicates)
    repeats = pd.Series(values.index.isin(duplicates.loc[duplicates["code"].isin(
        ["duplicate_row", "duplicate_id"]), "row"]), index=values.index) if len(duplicates) else \
        pd.Series(False, index=values.index)
    ids, identity_issues = building_ids(values, partner, source_rows=raw.source_rows, rejected=repeats | blank)
    issue_parts.append(identity_issues)
    issues = pd.concat([p for p in issue_parts if len(p)], ignore_index=True) if any(
        len(p) for p in issue_parts) else make_issues([], field="", code="no_name", reason="")

    records = pd.DataFrame(index=values.index)
    for name in RECORD_COLUMNS:
        if name in values:
            records[name] = values[name]
        else:
            records[name] = pd.Series(np.nan if _is_number_field(name) else None, index=values.index,
                                      dtype=float if _is_number_field(name) else object)
    records["building_id"] = ids
    records["partner"] = partner
    records["partner_type"] = partner_type
    records["organisation"] = organisation or partner
    records["historic"] = bool(historic)
    if raw.geometry is not None:
        records["footprint_wkt"] = raw.geometry["footprint_wkt"].to_numpy()

    notes = list(raw.notes)
    located = False
    online_summary = None
    if locate and len(records):
        records, outside_column, place_name, online_summary = _locate(records, place, online=online,
                                                                      online_progress=online_progress)
        issues = check_locations(records, outside_column=outside_column, place_name=place_name,
                                 field_issues=issues)
        located = True
        # A blank row is reported as blank, not also as "not located".
        issues = issues[~(issues["row"].isin(blank.index[blank]) & (issues["code"] != "blank_row"))]
    records["outcome"] = outcomes(records.index, issues)
    records["issues"] = issue_text(records.index, issues)
    records["source_file"] = path.name
    records["source_sheet"] = raw.sheet
    records["source_row"] = raw.source_rows
    records["ingested_at"] = ingested_at or _now()
    summary = {"file": path.name, "partner": partner, "partner_type": partner_type,
               **summarise(records["outcome"]), "located": located}
    return IngestResult(records=records.reset_index(drop=True), issues=_issue_table(issues, records),
                        summary=summary, mapping=column_map, notes=notes, online=online_summary)


def _is_number_field(name: str) -> bool:
    return any(f.name == name and f.kind == "number" for f in FIELDS)


def _use_geometry(text: pd.DataFrame, raw: RawRegister, mapping: ColumnMapping,
                  overrides: Mapping[str, object] | None) -> None:
    """A feature's own geometry is its location, unless the mapping explicitly points x/y at properties."""
    configured = overrides or {}
    if "x" in configured or "y" in configured:
        return
    geometry = raw.geometry
    has = geometry["x"].notna()
    for axis in ("x", "y"):
        given = geometry[axis].map(lambda v: None if pd.isna(v) else repr(float(v))).astype(object)
        current = text[axis] if axis in text else pd.Series(None, index=text.index, dtype=object)
        text[axis] = given.where(has, current)


def _issue_table(issues: pd.DataFrame, records: pd.DataFrame) -> pd.DataFrame:
    if not len(issues):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in _ISSUE_OUTPUT})
    lookup = records[["building_id", "partner", "source_file", "source_row"]]
    joined = issues.join(lookup, on="row")
    order = joined.assign(_s=joined["severity"].map({"error": 0, "warning": 1}))
    order = order.sort_values(["source_row", "_s"], kind="stable")
    return order[list(_ISSUE_OUTPUT)].reset_index(drop=True)


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells as text, missing as "" — so a record read back from a CSV compares equal to a fresh one."""
    return frame.astype(object).where(frame.notna(), "").astype(str)


def update_records(existing: pd.DataFrame | None, new: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, int]]:
    """Merge a fresh ingest into the records kept so far, by ``building_id`` (idempotent).

    A partner's register replaces that partner's earlier records: ids seen before are updated in place (no
    duplicates), new ids are added, and ids that the corrected register no longer has are removed. Ingesting
    the same file twice changes nothing.

    Parameters
    ----------
    existing
        Records kept so far (any partners), or ``None``.
    new
        Records of one ingest (:attr:`IngestResult.records`).

    Returns
    -------
    (records, counts)
        The merged records and ``{"added", "updated", "unchanged", "removed"}`` counts.
    """
    if existing is None or not len(existing):
        return new.reset_index(drop=True), {"added": len(new), "updated": 0, "unchanged": 0, "removed": 0}
    partners = set(new["partner"].unique())
    mine = existing[existing["partner"].isin(partners)]
    others = existing[~existing["partner"].isin(partners)]
    before = mine.set_index("building_id")
    after = new.set_index("building_id")
    common = after.index.intersection(before.index)
    compare = [c for c in after.columns if c in before.columns and c != "ingested_at"]
    changed = ~(_as_text(before.loc[common, compare]) == _as_text(after.loc[common, compare])).all(axis=1)
    counts = {"added": int((~after.index.isin(before.index)).sum()), "updated": int(changed.sum()),
              "unchanged": int((~changed).sum()), "removed": int((~before.index.isin(after.index)).sum())}
    merged = pd.concat([others, new], ignore_index=True)
    return merged, counts


# ------------------------------------------------------------------------------------------------ pipeline


@dataclass
class PipelineResult:
    """What :func:`run_pipeline` produced.

    Attributes
    ----------
    records
        All partners' records (rejected ones included, see ``outcome``), with ``site_id``.
    issues
        All issues.
    summary
        One row per register: partner, partner_type, file, rows, accepted, warned, rejected, needs_attention,
        geocoded_<method> counts, in_shared_sites (records in a site with another partner), historic, error.
    sites, matches
        From :func:`estates.sites.matching.match_sites`.
    no_register
        Partner types with no register loaded yet.
    errors
        ``(partner, message)`` for registers that could not be ingested at all.
    seconds
        Wall time.
    online
        What online geocoding did over all registers, when it was asked for (``None`` otherwise).
    """

    records: pd.DataFrame
    issues: pd.DataFrame
    summary: pd.DataFrame
    sites: pd.DataFrame
    matches: pd.DataFrame
    no_register: tuple[NoRegister, ...] = ()
    errors: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    online: OnlineSummary | None = None


ProgressCallback = Callable[[str, int, int], None]


def _progress(progress: bool | ProgressCallback | None, total: int) -> tuple[Callable[[str], None],
                                                                           Callable[[], None]]:
    if callable(progress):
        done = [0]

        def step(label: str) -> None:
            progress(label, done[0], total)
            done[0] += 1

        return step, lambda: progress("done", total, total)
    if progress is False:
        return (lambda label: None), (lambda: None)
    from tqdm import tqdm

    # progress=None: a bar only on an interactive terminal (tqdm's disable=None).
    bar = tqdm(total=total, unit="register", disable=None if progress is None else False, leave=False)

    def advance(label: str) -> None:
        bar.set_description(label[:30])
        bar.update(1)

    return advance, bar.close


def run_pipeline(
    config_path: str | Path | RegistersConfig | None = None,
    *,
    progress: bool | ProgressCallback | None = None,
    decisions_path: str | Path | None = None,
    place: object | None = None,
    locate: bool = True,
    online: OnlineSettings | None = None,
    online_progress: Callable[[str, int, int], None] | None = None,
    match: bool = True,
) -> PipelineResult:
    """Ingest every register of a partner list, geocode and tag, check, and match sites across partners.

    Parameters
    ----------
    config_path
        The partner list (default: the demo estate, ``data/registers/registers.yaml``), or a loaded config.
    progress
        ``None``: a progress bar on an interactive terminal; ``True``/``False``: always/never; or a callable
        ``progress(label, done, total)``.
    decisions_path
        Match decisions file (default: the one the partner list names).
    place
        Place slug or :class:`geo.place.Place` (default: the partner list's ``place``, else the current place).
    locate
        Geocode and tag (default). Without locations, matching uses UPRN and postcode only.
    online
        Online geocoding settings, as for :func:`ingest_register` (default: offline only).
    online_progress
        ``online_progress(register_key, done, total)`` over each register's rows that need online help.
    match
        Match sites across partners in memory (default), with the decisions file. ``False`` when the store will
        match them with its own decisions (:func:`estates.service.load_registers`).

    Returns
    -------
    PipelineResult

    Raises
    ------
    ConfigError
        When the partner list itself is missing or malformed. A register that cannot be read is reported in
        :attr:`PipelineResult.errors` and the run carries on.
    """
    # Imported here: reading one register (the geocode command, the app's upload) needs neither the partner list
    # (YAML) nor site matching (rapidfuzz).
    from estates.ingest.partners import ConfigError, RegistersConfig, load_registers_config
    from estates.sites.matching import load_decisions, match_sites

    started = time.perf_counter()
    config = config_path if isinstance(config_path, RegistersConfig) else load_registers_config(config_path)
    place = place if place is not None else config.place
    if locate:
        from geo.place import PlaceError, load_place

        try:
            place = place if place is not None and not isinstance(place, str) else load_place(place)
        except PlaceError as exc:
            raise ConfigError(str(exc)) from None
    step, finish = _progress(progress, len(config.registers) + 1)
    stamp = _now()
    results: list[tuple[RegisterSpec, IngestResult | None, str]] = []
    for spec in config.registers:
        step(spec.key)
        register_progress = None
        if online_progress is not None:
            def register_progress(done: int, total: int, key: str = spec.key) -> None:
                online_progress(key, done, total)
        try:
            result = ingest_register(spec.file, partner=spec.partner, partner_type=spec.partner_type,
                                     mapping=spec.columns, units=spec.units, sheet=spec.sheet,
                                     historic=spec.historic, locate=locate, place=place, ingested_at=stamp,
                                     online=online, online_progress=register_progress,
                                     organisation=spec.organisation)
            results.append((spec, result, ""))
        except IngestError as exc:
            results.append((spec, None, str(exc)))
    step("matching sites" if match else "done")
    ingested = [r.records for _, r, _ in results if r is not None]
    records = pd.concat(ingested, ignore_index=True) if ingested else pd.DataFrame(columns=list(RECORD_COLUMNS))
    issue_tables = [r.issues for _, r, _ in results if r is not None and len(r.issues)]
    issues = pd.concat(issue_tables, ignore_index=True) if issue_tables else pd.DataFrame(columns=_ISSUE_OUTPUT)
    if match:
        decisions_file = Path(decisions_path) if decisions_path is not None else config.decisions
        decisions = load_decisions(decisions_file) if decisions_file is not None else None
        matched = match_sites(records, decisions=decisions)
        records = records.merge(matched.membership, on="building_id", how="left")
        sites, matches = matched.sites, matched.matches
    else:
        sites, matches = pd.DataFrame(), pd.DataFrame()
    finish()
    summary = _pipeline_summary(results, records)
    online_runs = [r.online for _, r, _ in results if r is not None and r.online is not None]
    online_summary = None
    if online_runs:
        from geo.online import OnlineSummary

        online_summary = OnlineSummary.combine(online_runs)
    return PipelineResult(records=records, issues=issues, summary=summary, sites=sites,
                          matches=matches, no_register=config.no_register,
                          errors=[(spec.partner, message) for spec, r, message in results if r is None],
                          seconds=time.perf_counter() - started, online=online_summary)


def rejected_rows(records: pd.DataFrame) -> pd.DataFrame:
    """The rejected rows of ingested records, as a load keeps them (``Store.save_rejected_rows``).

    Parameters
    ----------
    records
        ``IngestResult.records`` or pipeline records.

    Returns
    -------
    pandas.DataFrame
        ``row_id`` (the row's building id), ``partner``, ``partner_type``, ``source_file``, ``source_sheet``,
        ``source_row``, ``name``, ``postcode``, ``issues`` and ``record`` (the whole row as JSON, so a person can
        see what was in it).
    """
    import json

    rows = records[records["outcome"].astype("str") == "rejected"]
    columns = ["partner", "partner_type", "source_file", "source_sheet", "source_row", "name", "postcode", "issues"]
    table = pd.DataFrame({"row_id": rows["building_id"].astype("str")})
    for column in columns:
        table[column] = rows.get(column, None)
    table["record"] = [json.dumps({k: v for k, v in row.items() if v is not None and not (isinstance(v, float)
                                                                                       and np.isnan(v))},
                                  ensure_ascii=False, default=str)
                       for row in rows.astype(object).where(rows.notna(), None).to_dict("records")]
    return table.reset_index(drop=True)


def _pipeline_summary(results: list[tuple[RegisterSpec, IngestResult | None, str]],
                      records: pd.DataFrame) -> pd.DataFrame:
    rows = []
    shared = set()
    if "site_id" in records and len(records):
        live = records[records["outcome"] != "rejected"]
        partners_per_site = live.groupby("site_id")["partner"].nunique()
        shared = set(partners_per_site.index[partners_per_site > 1])
    for spec, result, message in results:
        row: dict[str, object] = {"partner": spec.partner, "partner_type": spec.partner_type,
                                  "file": spec.file.name, "historic": spec.historic, "error": message}
        if result is not None:
            summary = result.summary
            row.update({k: summary[k] for k in ("rows", "accepted", "warned", "rejected")})
            row["needs_attention"] = summary["warned"] + summary["rejected"]
            mine = records[records["partner"] == spec.partner]
            if "geocode_method" in mine:
                for method, count in mine["geocode_method"].value_counts().items():
                    row[f"geocoded_{method}"] = int(count)
            live = mine[mine["outcome"] != "rejected"]
            row["in_shared_sites"] = int(live["site_id"].isin(shared).sum()) if "site_id" in live else 0
            row["shared_sites"] = int(live.loc[live["site_id"].isin(shared), "site_id"].nunique()) \
                if "site_id" in live else 0
        rows.append(row)
    table = pd.DataFrame(rows)
    counts = [c for c in table.columns if c.startswith("geocoded_") or c in (
        "rows", "accepted", "warned", "rejected", "needs_attention", "in_shared_sites", "shared_sites")]
    table[counts] = table[counts].astype("Int64")
    geocoded = sorted(c for c in table.columns if c.startswith("geocoded_"))
    fixed = ["partner", "partner_type", "file", "rows", "accepted", "warned", "rejected", "needs_attention"]
    tail = ["in_shared_sites", "shared_sites", "historic", "error"]
    return table[[c for c in fixed + geocoded + tail if c in table.columns]]


# ------------------------------------------------------------------------------------------------- reports


def format_ingest_summary(result: IngestResult, *, show_issues: int = 10) -> str:
    """A readable report of one ingest: counts, column mapping, notes and the first issues."""
    s = result.summary
    lines = [f"{s['file']} ({s['partner']}, {s['partner_type']}): {s['rows']} rows — "
             f"{s['accepted']} accepted, {s['warned']} accepted with warnings, {s['rejected']} rejected"]
    if not s["located"]:
        lines.append("  (locations not checked)")
    lines += [f"  note: {n}" for n in result.notes]
    lines += [f"  column {line}" for line in result.mapping.describe()]
    records = result.records
    if "geocode_method" in records:
        counts = records["geocode_method"].value_counts()
        lines.append("  located by: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    if result.online is not None:
        lines += [f"  {line}" for line in result.online.lines()]
    if len(result.issues):
        by_code = result.issues.groupby(["severity", "code"]).size().sort_values(ascending=False)
        lines.append("  issues: " + ", ".join(f"{code} ({sev}) {n}" for (sev, code), n in by_code.items()))
        for item in result.issues.head(show_issues).itertuples():
            lines.append(f"    row {item.source_row}: {item.severity}: {item.reason}")
        if len(result.issues) > show_issues:
            lines.append(f"    … {len(result.issues) - show_issues} more")
    return "\n".join(lines)


def format_pipeline_summary(result: PipelineResult) -> str:
    """A readable per-partner report of a pipeline run (what ``python -m estates pipeline`` prints)."""
    table = result.summary
    lines = []
    methods = [c for c in table.columns if c.startswith("geocoded_")]
    width = max((len(p) for p in table["partner"]), default=10)
    for row in table.itertuples(index=False):
        record = row._asdict()
        if record.get("error"):
            lines.append(f"{record['partner']:<{width}}  NOT LOADED: {record['error']}")
            continue
        located = ", ".join(f"{m.removeprefix('geocoded_')} {int(record[m])}" for m in methods
                            if not pd.isna(record[m]) and record[m])
        lines.append(f"{record['partner']:<{width}}  rows {record['rows']:>4}  accepted {record['accepted']:>4}  "
                     f"warned {record['warned']:>4}  rejected {record['rejected']:>3}  "
                     f"attention {record['needs_attention']:>4}  shared sites {record.get('shared_sites', 0):>3}"
                     f"{'  historic' if record['historic'] else ''}")
        if located:
            lines.append(f"{'':<{width}}  located by: {located}")
    total = table[["rows", "accepted", "warned", "rejected"]].sum()
    lines.append(f"total: {int(total['rows'])} rows — {int(total['accepted'])} accepted, {int(total['warned'])} "
                 f"with warnings, {int(total['rejected'])} rejected")
    sites = result.sites
    if len(sites):
        multi = sites[sites["partner_count"] > 1]
        proposed = result.matches[result.matches["status"] == "proposed"] if len(result.matches) else []
        lines.append(f"sites: {len(sites)} ({len(multi)} shared by more than one partner); "
                     f"{len(proposed)} proposed matches await a decision")
    if result.online is not None:
        lines += result.online.lines()
    for entry in result.no_register:
        lines.append(f"no register loaded yet: {entry.label} ({entry.partner_type})"
                     + (f" — {entry.note}" if entry.note else ""))
    lines.append(f"finished in {result.seconds:.1f} s")
    return "\n".join(lines)

