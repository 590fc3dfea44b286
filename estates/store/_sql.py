"""The store's behaviour, written once for both engines.

:class:`SqlStore` implements every :class:`~estates.store.base.Store` method with SQL that SQLite (≥ 3.39) and
PostgreSQL both understand (``UPDATE … FROM``, ``INSERT … ON CONFLICT``, ``IS DISTINCT FROM``). SQL is written with
``?`` placeholders; values are always parameters, and identifiers only ever come from the table definitions below.
A backend subclass supplies the few things that really differ: connecting and transactions, a list parameter
(``json_each`` vs ``= ANY``), row locks (``FOR UPDATE`` on PostgreSQL; SQLite locks the whole file with
``BEGIN IMMEDIATE``), the point constructor, bulk loading (``executemany`` vs ``COPY``), type conversion, and the
DDL type names (plus GeoPackage's own metadata tables).
"""

from __future__ import annotations

import abc
import hashlib
import json
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

import numpy as np
import pandas as pd
import pyarrow as pa

from estates._frames import is_missing
from estates.schema import FIELDS, PROVENANCE_FIELDS, STATUSES, Field
from estates.store.base import (
    DECISIONS,
    UNDOABLE_ACTIONS,
    AuditEntry,
    BuildingNotFoundError,
    BuildingState,
    Conflict,
    MatchDecision,
    NothingToUndoError,
    StaleVersionError,
    Store,
)

if TYPE_CHECKING:
    import geopandas as gpd

__all__ = [
    "SCHEMA_VERSION",
    "arrow_frame",
    "TABLES",
    "Column",
    "Cursor",
    "SqlStore",
    "Table",
]

ColType = Literal["text", "real", "integer", "boolean", "json", "timestamp"]

#: Schema version this code writes. Bump it and add a step to ``SqlStore._MIGRATIONS`` for any structural change.
SCHEMA_VERSION = 3


# ---------------------------------------------------------------------------------------------------------- tables
@dataclass(frozen=True, slots=True)
class Column:
    """A column of a store table: name, logical type, constraints."""

    name: str
    type: ColType
    not_null: bool = False
    default: str | None = None  # SQL literal, same in both engines
    references: str | None = None  # "table(column)"


@dataclass(frozen=True, slots=True)
class Table:
    """A store table. ``contents`` is its GeoPackage data type (``features``/``attributes``)."""

    name: str
    pk: str
    columns: tuple[Column, ...]
    contents: Literal["features", "attributes"]
    description: str
    geometry: str | None = None
    unique: tuple[tuple[str, ...], ...] = ()
    indexes: tuple[tuple[str, ...], ...] = ()

    def column(self, name: str) -> Column:
        """The column called ``name``."""
        return _column_index(self)[name]

    def column_definitions(self, types: Mapping[str, str]) -> list[str]:
        """DDL of the columns and UNIQUE constraints (not the key or geometry), with each engine's ``types``."""
        parts = []
        for c in self.columns:
            spec = f"{q(c.name)} {types[c.type]}"
            if c.not_null:
                spec += " NOT NULL"
            if c.default is not None:
                spec += f" DEFAULT {c.default}"
            if c.references:
                ref_table, ref_col = c.references.rstrip(")").split("(")
                spec += f" REFERENCES {q(ref_table)} ({q(ref_col)})"
            parts.append(spec)
        return parts + [f"UNIQUE ({', '.join(q(c) for c in u)})" for u in self.unique]

    def index_definitions(self) -> list[str]:
        """``CREATE INDEX`` statements of the table's ``indexes`` (the same SQL in both engines)."""
        return [
            f"CREATE INDEX IF NOT EXISTS {q('idx_' + self.name + '_' + '_'.join(ix))} "
            f"ON {q(self.name)} ({', '.join(q(c) for c in ix)})"
            for ix in self.indexes
        ]


@cache
def _column_index(table: Table) -> dict[str, Column]:
    return {c.name: c for c in table.columns}


def _field_type(f: Field) -> ColType:
    if f.name == "historic":
        return "boolean"
    return "real" if f.kind == "number" else "text"


#: Canonical record columns (estates.schema), building_id first.
RECORD_COLUMNS: tuple[Column, ...] = tuple(Column(f.name, _field_type(f)) for f in FIELDS + PROVENANCE_FIELDS)

#: Position columns from geocoding (docs/architecture.md).
POSITION_COLUMNS: tuple[Column, ...] = (
    Column("lon", "real"), Column("lat", "real"), Column("easting", "real"), Column("northing", "real"),
    Column("geocode_method", "text"), Column("geocode_precision", "text"), Column("geocode_issue", "text"),
)

#: Location tags from tagging (docs/architecture.md). ``outside_<place>`` is stored as ``outside_place``.
TAG_COLUMNS: tuple[Column, ...] = (
    Column("ward_code", "text"), Column("ward_name", "text"), Column("neighbourhood", "text"),
    Column("lsoa_code", "text"), Column("lsoa_name", "text"), Column("imd_rank", "integer"),
    Column("imd_decile", "integer"), Column("lsoa_population", "integer"), Column("pcn_code", "text"),
    Column("pcn_name", "text"), Column("outside_place", "boolean"), Column("la_code", "text"),
    Column("la_name", "text"),
)

#: Ingest's check results (``estates.ingest``): the row's outcome and all its reasons.
CHECK_COLUMNS: tuple[Column, ...] = (Column("outcome", "text"), Column("issues", "text"))

#: Columns an ingest may write (building_id is the key, never "changed"; ``extra`` is merged, see upsert).
INGEST_COLUMNS: tuple[Column, ...] = (
    RECORD_COLUMNS[1:] + (Column("postcode_normalised", "text"),) + POSITION_COLUMNS + TAG_COLUMNS + CHECK_COLUMNS
)

#: Columns a manual position protects from re-ingest.
MANUAL_POSITION_KEEPS: frozenset[str] = frozenset(c.name for c in POSITION_COLUMNS + TAG_COLUMNS)

BUILDINGS = Table(
    "buildings", "fid",
    (
        Column("building_id", "text", not_null=True),
        *INGEST_COLUMNS,
        Column("position_source", "text", not_null=True, default="'ingest'"),
        Column("version", "integer", not_null=True),
        Column("created_at", "timestamp"),
        Column("updated_by", "text"),
        Column("updated_at", "timestamp"),
        Column("place", "text"),
    ),
    "features", "Buildings from every partner register: canonical record, position, version, and the place "
    "(data/<place>/place.toml slug) whose estate the record belongs to.",
    geometry="geom", unique=(("building_id",),), indexes=(("place",),),
)

RULE_EXPLANATIONS = Table(
    "rule_explanations", "fid",
    (Column("rule_hash", "text", not_null=True), Column("explanation", "text"), Column("detail", "json")),
    "attributes", "Every distinct rule explanation (readable text and JSON detail), shared by the buildings it "
    "explains and kept for history; classifications.rule_hash points here.",
    unique=(("rule_hash",),),
)

CLASSIFICATIONS = Table(
    "classifications", "fid",
    (
        Column("building_id", "text", not_null=True, references="buildings(building_id)"),
        Column("rule_status", "text"), Column("rule_id", "text"),
        Column("rule_hash", "text"), Column("rule_by", "text"),  # -> rule_explanations (no FK: 100k checks)
        Column("rule_at", "timestamp"),
        Column("override_status", "text"), Column("override_reason", "text"),
        Column("override_by", "text"), Column("override_at", "timestamp"),
        Column("effective_status", "text"),
        Column("site_name", "text"),
    ),
    "attributes", "Rule suggestion, human override and effective status per building.",
    unique=(("building_id",),),
)

#: Site columns as estates.sites.matching.SiteMatches.sites gives them.
SITE_COLUMNS: tuple[Column, ...] = (
    Column("site_id", "text", not_null=True), Column("name", "text"), Column("partners", "text"),
    Column("partner_count", "integer"), Column("building_count", "integer"), Column("building_ids", "text"),
    Column("lon", "real"), Column("lat", "real"), Column("easting", "real"), Column("northing", "real"),
    Column("match_score", "real"), Column("match_reason", "text"), Column("proposed", "integer"),
)

SITES = Table(
    "sites", "fid",
    (*SITE_COLUMNS, Column("source", "text"), Column("updated_by", "text"), Column("updated_at", "timestamp"),
     Column("place", "text")),
    "features", "Sites: records of several partners found to be the same place (from the latest matching run of "
    "their place).",
    geometry="geom", unique=(("site_id",),), indexes=(("place",),),
)

SITE_MEMBERS = Table(
    "site_members", "fid",
    (Column("site_id", "text", not_null=True),
     Column("building_id", "text", not_null=True, references="buildings(building_id)")),
    "attributes", "Which site each building is in (from the latest matching run).",
    unique=(("building_id",),), indexes=(("site_id",),),
)

#: Pair columns as estates.sites.matching.SiteMatches.matches gives them.
MATCH_COLUMNS: tuple[Column, ...] = (
    Column("building_id_a", "text", not_null=True, references="buildings(building_id)"),
    Column("building_id_b", "text", not_null=True, references="buildings(building_id)"),
    Column("partner_a", "text"), Column("partner_b", "text"), Column("name_a", "text"), Column("name_b", "text"),
    Column("score", "real"), Column("method", "text"), Column("reason", "text"), Column("distance_m", "real"),
    Column("status", "text"),
)

SITE_MATCHES = Table(
    "site_matches", "fid",
    (
        *MATCH_COLUMNS,
        Column("current", "boolean", not_null=True, default="TRUE"),
        Column("decision", "text"), Column("decision_note", "text"),
        Column("decided_by", "text"), Column("decided_at", "timestamp"),
    ),
    "attributes", "Scored cross-partner pairs with the human confirm/reject decision (kept across re-ingests).",
    unique=(("building_id_a", "building_id_b"),), indexes=(("building_id_b",),),
)

AUDIT = Table(
    "audit", "id",
    (
        Column("change_id", "text", not_null=True), Column("building_id", "text", not_null=True),
        Column("at", "timestamp", not_null=True), Column("actor", "text", not_null=True),
        Column("action", "text", not_null=True), Column("field", "text"),
        Column("from_value", "text"), Column("to_value", "text"), Column("reason", "text"),
        Column("undoes", "text"), Column("restore", "json"),
    ),
    "attributes", "Append-only history of every change: who, when, what, from, to, why.",
    indexes=(("building_id", "id"), ("change_id",)),
)

#: Rows a register load rejected, with their reasons: kept with the load, never part of the estate.
REJECTED_COLUMNS: tuple[Column, ...] = (
    Column("row_id", "text", not_null=True), Column("partner", "text", not_null=True),
    Column("partner_type", "text"), Column("source_file", "text", not_null=True), Column("source_sheet", "text"),
    Column("source_row", "integer"), Column("name", "text"), Column("postcode", "text"), Column("issues", "text"),
    Column("record", "json"),
)

REJECTED_ROWS = Table(
    "rejected_rows", "fid",
    (*REJECTED_COLUMNS, Column("loaded_by", "text"), Column("loaded_at", "timestamp"), Column("place", "text")),
    "attributes", "Register rows a load rejected, with every reason (never part of the estate; a re-load of the "
    "same partner's file replaces them).",
    unique=(("row_id",),), indexes=(("partner", "source_file"),),
)

TABLES: tuple[Table, ...] = (BUILDINGS, RULE_EXPLANATIONS, CLASSIFICATIONS, SITES, SITE_MEMBERS, SITE_MATCHES, AUDIT,
                             REJECTED_ROWS)
_TABLES_BY_NAME = {t.name: t for t in TABLES}

#: A features view for GIS users: buildings with their status, ready to style in QGIS.
STATUS_VIEW = "buildings_status"
STATUS_VIEW_SQL = (
    f"CREATE VIEW {STATUS_VIEW} AS SELECT b.fid AS fid, b.geom AS geom, b.building_id AS building_id, "
    "b.partner AS partner, b.name AS name, b.postcode AS postcode, b.\"use\" AS \"use\", "
    "b.holding_type AS holding_type, b.ward_name AS ward_name, b.neighbourhood AS neighbourhood, "
    "b.geocode_precision AS geocode_precision, b.position_source AS position_source, b.version AS version, "
    "c.rule_status AS rule_status, c.override_status AS override_status, c.override_reason AS override_reason, "
    "c.effective_status AS effective_status "
    "FROM buildings b LEFT JOIN classifications c ON c.building_id = b.building_id"
)

_AUDIT_INSERT = ("change_id", "building_id", "at", "actor", "action", "field", "from_value", "to_value", "reason",
                 "undoes", "restore")

#: Columns callers may pass that the store manages itself (ignored by upsert_buildings).
_MANAGED = frozenset(
    {"fid", "geom", "geometry", "version", "created_at", "updated_by", "updated_at", "position_source",
     "status_source", "site_id", "site_partner_count", "explanation", "explanation_detail"}
    | {c.name for c in CLASSIFICATIONS.columns if c.name != "building_id"}
)
_OUTSIDE = re.compile(r"^outside_[a-z0-9_]+$")


def q(name: str) -> str:
    """Quote an identifier taken from the table definitions (never from user input)."""
    return '"' + name.replace('"', '""') + '"'


# ---------------------------------------------------------------------------------------------------------- values
_TRUE = frozenset({"true", "t", "yes", "y", "1"})
_FALSE = frozenset({"false", "f", "no", "n", "0"})


def now_utc() -> datetime:
    """Current UTC time, to the millisecond (what both engines store)."""
    t = datetime.now(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def to_utc(v: object) -> datetime:
    """Any timestamp-like value (datetime, pd.Timestamp, ISO string) as an aware UTC datetime, ms precision."""
    ts = pd.Timestamp(v)  # type: ignore[arg-type]
    ts = ts.tz_localize(UTC) if ts.tzinfo is None else ts.tz_convert(UTC)
    d = ts.to_pydatetime()
    return d.replace(microsecond=d.microsecond // 1000 * 1000)


def _json_default(v: object) -> object:
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, (datetime, date, pd.Timestamp)):
        return v.isoformat()
    if isinstance(v, (set, frozenset, tuple)):
        return list(v)
    return str(v)


_ENCODER = json.JSONEncoder(sort_keys=True, ensure_ascii=False, default=_json_default, allow_nan=False)


def dump_json(v: object) -> str | None:
    """Canonical JSON text (sorted keys), or None for a missing value."""
    if is_missing(v):
        return None
    return _ENCODER.encode(v)


def clean_value(v: object, ctype: ColType, column: str) -> Any:
    """Normalise one inbound value to the Python form the store compares and writes.

    Raises
    ------
    ValueError
        When the value cannot be read as the column's type (the message names the column and the value).
    """
    if is_missing(v):
        return None
    try:
        match ctype:
            case "text":
                if isinstance(v, str):
                    return v
                if isinstance(v, (bool, np.bool_)):
                    return "true" if v else "false"
                if isinstance(v, (int, np.integer)):
                    return str(int(v))
                if isinstance(v, (float, np.floating)):
                    return str(int(v)) if float(v).is_integer() else repr(float(v))
                if isinstance(v, (datetime, date, pd.Timestamp)):
                    return v.isoformat()
                return str(v)
            case "real":
                if isinstance(v, (bool, np.bool_)):
                    raise ValueError
                if isinstance(v, str):
                    v = v.strip().replace(",", "")
                    if not v:
                        return None
                return float(v)  # type: ignore[arg-type]
            case "integer":
                if isinstance(v, str):
                    v = v.strip().replace(",", "")
                    if not v:
                        return None
                f = float(v)  # type: ignore[arg-type]
                if not f.is_integer():
                    raise ValueError
                return int(f)
            case "boolean":
                if isinstance(v, (bool, np.bool_)):
                    return bool(v)
                if isinstance(v, (int, np.integer)) and int(v) in (0, 1):
                    return bool(v)
                if isinstance(v, str) and v.strip().lower() in _TRUE | _FALSE:
                    return v.strip().lower() in _TRUE
                raise ValueError
            case "json":
                return dump_json(v)
            case "timestamp":
                return to_utc(v)
    except (ValueError, TypeError, OverflowError):
        pass
    raise ValueError(f"column {column!r}: {v!r} is not a valid {ctype} value")


def clean_column(values: pd.Series, ctype: ColType, column: str) -> list[Any]:
    """Vectorised :func:`clean_value` for a whole column (fast paths for the common dtypes)."""
    if ctype == "text":  # str values pass as they are; only the rest go through clean_value
        return [x if type(x) is str else clean_value(x, "text", column) for x in values.tolist()]
    if ctype == "real" and pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values):
        return [None if x != x else float(x) for x in values.astype("float64").tolist()]
    return [clean_value(x, ctype, column) for x in values.tolist()]


def display(v: object) -> str | None:
    """A value as audit text: None stays None; floats without noise; booleans as true/false."""
    if v is None:
        return None
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return str(int(v)) if v.is_integer() and abs(v) < 1e15 else repr(v)
    if isinstance(v, datetime):
        return v.isoformat().replace("+00:00", "Z")
    return str(v)


def point_text(lon: float | None, lat: float | None) -> str | None:
    """``POINT (lon lat)`` or None."""
    if lon is None or lat is None:
        return None
    return f"POINT ({lon!r} {lat!r})"


def _jsonable(v: object) -> object:
    return v.isoformat() if isinstance(v, datetime) else v


def _require_reason(reason: str | None) -> str:
    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a reason is required for every human change: say why (reason='...').")
    return reason.strip()


def _require_status(status: str) -> str:
    if status not in STATUSES:
        raise ValueError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}.")
    return status


def _require_version(v: object, building_id: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise ValueError(f"expected_version for {building_id} must be the integer version you read, got {v!r}")
    return int(v)


# ---------------------------------------------------------------------------------------------------------- backend
class Cursor(Protocol):
    """What the shared code needs from a backend's cursor (``?`` placeholders)."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run one statement; return the affected row count."""
        ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        """Run one statement per row; return the total affected row count."""
        ...

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query; return all rows."""
        ...


class _Connection(Protocol):
    """What the shared code needs from a backend's connection: closing it."""

    def close(self) -> None:
        """Close the connection (safe to call twice)."""
        ...


@dataclass(frozen=True, slots=True)
class _Locked:
    version: int
    updated_by: str | None
    updated_at: datetime | None


class SiteMatchesLike(Protocol):
    """What :meth:`SqlStore.save_site_matches` reads: ``estates.sites.matching.SiteMatches`` or the same three
    frames."""

    matches: pd.DataFrame
    sites: pd.DataFrame
    membership: pd.DataFrame


def _parse_extra(value: object, building_id: str) -> tuple[dict[str, Any] | None, str | None]:
    """The ``extra`` field as (object, text as given); text is re-serialised when a dict was given."""
    if is_missing(value):
        return None, None
    if isinstance(value, Mapping):
        obj = {str(k): json.loads(dump_json(v) or "null") for k, v in value.items()}
        return obj, json.dumps(obj, ensure_ascii=False)
    if isinstance(value, str):
        if not value.strip():
            return None, None
        try:
            obj = json.loads(value)
        except json.JSONDecodeError:
            obj = None
        if isinstance(obj, dict):
            return obj, value
    raise ValueError(f"building {building_id}: extra must be a JSON object, got {value!r}")


def _extra_display(v: object) -> str | None:
    if v is None:
        return None
    return v if isinstance(v, str) else dump_json(v)


class SqlStore(Store):
    """Store behaviour shared by both engines; see the module docstring for what a backend supplies."""

    #: The engine's DDL type name of each logical column type (set by the backend).
    _column_types: ClassVar[Mapping[ColType, str]]

    #: The backend's open database connection (``sqlite3`` or ``psycopg``), closed by :meth:`close`.
    _conn: _Connection

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._outside_name: str | None = None
        self._schema_version = 0

    def close(self) -> None:
        """Close the backend's connection, once no other thread is using it. Safe to call twice."""
        with self._lock:
            self._conn.close()

    # ------------------------------------------------------------------ backend hooks
    @abc.abstractmethod
    def _tx(self, *, write: bool) -> AbstractContextManager[Cursor]:
        """One transaction. Writes take the write lock at once (SQLite ``BEGIN IMMEDIATE``); reads see a snapshot."""

    @abc.abstractmethod
    def _in_list(self) -> str:
        """SQL fragment testing membership of a list parameter, e.g. ``IN (SELECT value FROM json_each(?))``."""

    @abc.abstractmethod
    def _list_param(self, values: Sequence[str]) -> Any:
        """The parameter for :meth:`_in_list`."""

    @abc.abstractmethod
    def _for_update(self, alias: str) -> str:
        """Row-lock suffix for a SELECT (empty where the transaction already holds the write lock)."""

    @abc.abstractmethod
    def _point(self, lon: str, lat: str) -> str:
        """SQL expression for a WGS84 point geometry from two SQL expressions (NULL when either is NULL)."""

    @abc.abstractmethod
    def _json_text(self, expr: str) -> str:
        """SQL expression turning a JSON column into text."""

    @abc.abstractmethod
    def _serialise(self, cur: Cursor, what: str) -> None:
        """Make transactions of kind ``what`` (migrations) run one at a time, even before any table exists."""

    @abc.abstractmethod
    def _lock_tables(self, cur: Cursor, *tables: Table) -> None:
        """Lock whole tables against other writers (not readers) for a bulk machine run, always in TABLES order."""

    @abc.abstractmethod
    def _stage(self, cur: Cursor, name: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> None:
        """Create temporary table ``name`` (gone at commit) holding ``rows`` (values as :func:`clean_value`)."""

    @abc.abstractmethod
    def _append_audit(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        """Append audit rows (tuples in ``_AUDIT_INSERT`` order, Python values)."""

    @abc.abstractmethod
    def _param(self, ctype: ColType, value: Any) -> Any:
        """A cleaned Python value as the engine's parameter."""

    @abc.abstractmethod
    def _value(self, ctype: ColType, raw: Any) -> Any:
        """An engine value back in cleaned Python form (JSON as canonical text, timestamps as UTC datetimes)."""

    @abc.abstractmethod
    def _create_table_sql(self, table: Table) -> list[str]:
        """DDL for ``table`` (table, constraints, indexes)."""

    def _add_column_sql(self, table: Table, column: Column) -> str:
        """DDL adding ``column`` to an existing ``table``."""
        return f"ALTER TABLE {q(table.name)} ADD COLUMN {q(column.name)} {self._column_types[column.type]}"

    @abc.abstractmethod
    def _existing_columns(self, cur: Cursor, table: str) -> set[str]:
        """Column names ``table`` has in the database."""

    def _after_create(self, cur: Cursor) -> None:  # noqa: B027 - optional hook
        """Backend extras after the tables exist (GeoPackage registers them in its metadata tables)."""

    # ------------------------------------------------------------------ schema
    @property
    def schema_version(self) -> int:
        return self._schema_version

    def _migrate(self) -> None:
        """Create the schema or bring it up to :data:`SCHEMA_VERSION`, in one serialised transaction."""
        with self._tx(write=True) as cur:
            self._serialise(cur, "migrate")
            cur.execute("CREATE TABLE IF NOT EXISTS estates_schema "
                        "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL, description TEXT NOT NULL)")
            cur.execute("CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT)")
            current = cur.query("SELECT max(version) FROM estates_schema")[0][0] or 0
            if current > SCHEMA_VERSION:
                raise RuntimeError(
                    f"{self.location} has store schema version {current}, newer than this tool understands "
                    f"({SCHEMA_VERSION}): update the tool."
                )
            for version in range(current + 1, SCHEMA_VERSION + 1):
                description = self._MIGRATIONS[version](self, cur)
                cur.execute("INSERT INTO estates_schema (version, applied_at, description) VALUES (?, ?, ?)",
                            (version, now_utc().isoformat(), description))
            for table in TABLES:  # canonical fields added to estates.schema since the store was created
                have = self._existing_columns(cur, table.name)
                for column in table.columns:
                    if column.name not in have:
                        cur.execute(self._add_column_sql(table, column))
            rows = cur.query("SELECT value FROM store_meta WHERE key = ?", ("outside_column",))
            self._outside_name = rows[0][0] if rows else None
        self._schema_version = SCHEMA_VERSION

    def _check_schema(self) -> None:
        """Open for reading only: the store's tables must exist at this tool's schema version; nothing is written."""
        from estates.store._open import NoStoreError, StoreOpenError

        with self._tx(write=False) as cur:
            if not self._existing_columns(cur, "estates_schema"):
                raise NoStoreError(f"no estates store in {self.location} (none of its tables are there)")
            current = cur.query("SELECT max(version) FROM estates_schema")[0][0] or 0
            missing = [f"{t.name}.{c.name}" for t in TABLES
                       for have in [self._existing_columns(cur, t.name)] for c in t.columns if c.name not in have]
            if current != SCHEMA_VERSION or missing:
                raise StoreOpenError(
                    f"{self.location} has store schema version {current} and this tool reads version "
                    f"{SCHEMA_VERSION}" + (f" (missing {', '.join(missing[:3])})" if missing else "") + ": "
                    + ("update the tool" if current > SCHEMA_VERSION else
                       "run a command that writes (e.g. python -m estates classify) to upgrade it first"))
            rows = cur.query("SELECT value FROM store_meta WHERE key = ?", ("outside_column",))
            self._outside_name = rows[0][0] if rows else None
        self._schema_version = current

    def _migration_1(self, cur: Cursor) -> str:
        for table in TABLES[:7]:  # the tables of schema version 1; later versions add theirs
            for statement in self._create_table_sql(table):
                cur.execute(statement)
        cur.execute(STATUS_VIEW_SQL)
        self._after_create(cur)
        return ("buildings, rule_explanations, classifications, sites, site_members, site_matches, audit; "
                "buildings_status view")

    def _migration_2(self, cur: Cursor) -> str:
        # Version 1 kept rejected register rows as buildings (status "needs data", on the map and in the counts).
        # They move to their load's rejected_rows, whole record kept; their audit rows stay (append-only).
        for statement in self._create_table_sql(REJECTED_ROWS):
            cur.execute(statement)
        for statement in AUDIT.index_definitions():
            cur.execute(statement)
        record_cols = [c.name for c in INGEST_COLUMNS]
        rows = cur.query(
            f"SELECT building_id, {', '.join(q(c) for c in record_cols)}, updated_by, updated_at FROM buildings "
            "WHERE outcome = 'rejected'")
        types = {c.name: c.type for c in INGEST_COLUMNS}
        moved = []
        for r in rows:
            record = {c: self._value(types[c], v) for c, v in zip(record_cols, r[1:-2], strict=True)}
            moved.append((r[0], record.get("partner") or "(unknown)", record.get("partner_type"),
                          record.get("source_file") or "(unknown)", record.get("source_sheet"),
                          None if is_missing(record.get("source_row")) else int(record["source_row"]),
                          record.get("name"), record.get("postcode"), record.get("issues"),
                          dump_json({"building_id": r[0], **record}), r[-2], self._value("timestamp", r[-1])))
        if moved:
            cols = [*REJECTED_COLUMNS, Column("loaded_by", "text"), Column("loaded_at", "timestamp")]
            cur.executemany(f"INSERT INTO rejected_rows ({', '.join(q(c.name) for c in cols)}) "
                            f"VALUES ({', '.join('?' for _ in cols)})",
                            [tuple(self._param(c.type, v) for c, v in zip(cols, row, strict=True)) for row in moved])
            ids = [(m[0],) for m in moved]
            for table, column in (("site_matches", "building_id_a"), ("site_matches", "building_id_b"),
                                  ("site_members", "building_id"), ("classifications", "building_id"),
                                  ("buildings", "building_id")):
                cur.executemany(f"DELETE FROM {q(table)} WHERE {q(column)} = ?", ids)
        return f"rejected_rows (moved {len(moved)} rejected register rows out of buildings); audit change_id index"

    def _migration_3(self, cur: Cursor) -> str:
        # One store holds several places: each record, site and rejected row names the place it was loaded for.
        # Rows already stored were loaded for one place: the one their outside_<place> column names (store_meta),
        # else the default place (ESTATES_PLACE, else geo.place's default).
        for table in (BUILDINGS, SITES, REJECTED_ROWS):
            have = self._existing_columns(cur, table.name)
            for column in table.columns:
                if column.name not in have:
                    cur.execute(self._add_column_sql(table, column))
            for statement in table.index_definitions():
                cur.execute(statement)
        rows = cur.query("SELECT value FROM store_meta WHERE key = ?", ("outside_column",))
        if rows and rows[0][0] and str(rows[0][0]).startswith("outside_"):
            slug = str(rows[0][0])[len("outside_"):]
        else:
            from geo.place import load_place

            slug = load_place().slug
        moved = {t.name: cur.execute(f"UPDATE {q(t.name)} SET place = ? WHERE place IS NULL", (slug,))
                 for t in (BUILDINGS, SITES, REJECTED_ROWS)}
        return (f"place on buildings, sites, rejected_rows ({moved['buildings']} records, {moved['sites']} sites, "
                f"{moved['rejected_rows']} rejected rows given place {slug!r}); la_code, la_name on buildings")

    _MIGRATIONS: ClassVar[dict[int, Callable[[SqlStore, Cursor], str]]] = {
        1: _migration_1, 2: _migration_2, 3: _migration_3}

    # ------------------------------------------------------------------ shared write helpers
    def _lock_rows(self, cur: Cursor, ids: Iterable[str]) -> dict[str, _Locked]:
        """Lock these buildings (in id order, so two writers never deadlock); refuse unknown ids."""
        ids = sorted(set(ids))
        rows = cur.query(
            "SELECT b.building_id, b.version, b.updated_by, b.updated_at FROM buildings b "
            f"WHERE b.building_id {self._in_list()} ORDER BY b.building_id{self._for_update('b')}",
            (self._list_param(ids),),
        )
        found = {r[0]: _Locked(r[1], r[2], self._value("timestamp", r[3])) for r in rows}
        missing = [i for i in ids if i not in found]
        if missing:
            shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            raise BuildingNotFoundError(f"no building {shown} in the store")
        return found

    def _lock_and_check(self, cur: Cursor, expected: Mapping[str, int],
                        also: Iterable[str] = ()) -> dict[str, _Locked]:
        """Lock the buildings (and ``also``), refusing unknown ids and stale versions: nothing is written."""
        found = self._lock_rows(cur, [*expected, *also])
        conflicts = [
            Conflict(i, expected[i], found[i].version, found[i].updated_by, found[i].updated_at)
            for i in sorted(expected) if found[i].version != expected[i]
        ]
        if conflicts:
            raise StaleVersionError(conflicts)
        return found

    def _bump(self, cur: Cursor, expected: Mapping[str, int], actor: str, at: datetime) -> dict[str, int]:
        """New version for each building, guarded by ``WHERE version = expected`` (rowcount checked)."""
        p_at = self._param("timestamp", at)
        n = cur.executemany(
            "UPDATE buildings SET version = version + 1, updated_by = ?, updated_at = ? "
            "WHERE building_id = ? AND version = ?",
            [(actor, p_at, i, v) for i, v in sorted(expected.items())],
        )
        if n != len(expected):  # cannot happen after _lock_and_check; refuse rather than half-write
            self._lock_and_check(cur, expected)
            raise RuntimeError("version check failed after locking; nothing saved")
        return {i: v + 1 for i, v in expected.items()}

    def _fetch(self, cur: Cursor, table: Table, columns: Sequence[str],
               key: Mapping[str, Any]) -> dict[str, Any] | None:
        where = " AND ".join(f"{q(k)} = ?" for k in key)
        rows = cur.query(f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table.name)} WHERE {where}",
                         tuple(key.values()))
        if not rows:
            return None
        return {c: self._value(table.column(c).type, v) for c, v in zip(columns, rows[0], strict=True)}

    def _write_values(self, cur: Cursor, table: Table, values: Mapping[str, Any], key: Mapping[str, Any]) -> None:
        """UPDATE row ``key`` of ``table`` with ``values``; derived columns (geometry, effective status) follow."""
        sets = [f"{q(c)} = ?" for c in values]
        params = [self._param(table.column(c).type, v) for c, v in values.items()]
        if table is BUILDINGS and "lon" in values:
            sets.append(f"geom = {self._point('?', '?')}")
            params += [values["lon"], values["lat"]]
        if table is CLASSIFICATIONS and "override_status" in values:
            sets.append("effective_status = COALESCE(?, rule_status)")
            params.append(values["override_status"])
        where = " AND ".join(f"{q(k)} = ?" for k in key)
        n = cur.execute(f"UPDATE {q(table.name)} SET {', '.join(sets)} WHERE {where}", (*params, *key.values()))
        if n != 1:
            raise RuntimeError(f"expected to update one {table.name} row for {dict(key)}, updated {n}")

    @staticmethod
    def _audit_row(
        change_id: str, building_id: str, at: datetime, actor: str, action: str, field: str | None,
        from_value: str | None, to_value: str | None, reason: str | None, *, undoes: str | None = None,
        restore: Mapping[str, Any] | None = None,
    ) -> tuple[Any, ...]:
        return (change_id, building_id, at, actor, action, field, from_value, to_value, reason, undoes,
                None if restore is None else dump_json(restore))

    @staticmethod
    def _restore(table: Table, key: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
        """What undo needs: the row, and the values its columns had before the change."""
        return {"table": table.name, "key": dict(key), "values": {k: _jsonable(v) for k, v in values.items()}}

    def _outside_key(self, name: str) -> str:
        """``outside_<place>`` → the stored column ``outside_place`` (one place per store)."""
        if self._outside_name and name != self._outside_name:
            raise ValueError(f"this store holds {self._outside_name!r}, not {name!r} (one place per store)")
        return "outside_place"

    def _external(self, column: str) -> str:
        """Column name as callers know it (``outside_place`` → e.g. ``outside_trafford``)."""
        return self._outside_name or column if column == "outside_place" else column

    def _remember_outside(self, cur: Cursor, name: str | None) -> None:
        if name and name != self._outside_name:
            cur.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) "
                        "DO UPDATE SET value = excluded.value", ("outside_column", name))

    # ------------------------------------------------------------------ buildings
    def upsert_buildings(self, frame: pd.DataFrame, *, actor: str, source: str,
                         place: str | None = None) -> dict[str, int]:
        self._authorise(actor, "ingest")
        place = _require_place(place)
        if "building_id" not in frame.columns:
            raise ValueError("upsert_buildings needs a building_id column")
        ids = clean_column(frame["building_id"], "text", "building_id")
        if any(i is None or not i.strip() for i in ids):
            raise ValueError("every building needs a building_id (some rows have none)")
        if len(set(ids)) != len(ids):
            seen: set[str] = set()
            dupes = sorted({i for i in ids if i in seen or seen.add(i)})  # type: ignore[func-returns-value]
            raise ValueError(f"building_id must be unique within one ingest; repeated: {', '.join(dupes[:5])}")

        known = {c.name: c for c in INGEST_COLUMNS if c.name != "extra"}
        outside = [c for c in frame.columns if isinstance(c, str) and _OUTSIDE.match(c) and c != "outside_place"]
        outside_name = outside[0] if len(outside) == 1 else None
        if outside_name and place is not None:
            if outside_name != f"outside_{place}":
                raise ValueError(f"records loaded for {place!r} carry {outside_name!r}, not 'outside_{place}'")
        elif outside_name:
            self._outside_key(outside_name)
        given: dict[str, list[Any]] = {}
        extra_cols: list[str] = []
        for name in frame.columns:
            key = "outside_place" if name == outside_name else str(name)
            if key in known:
                given[key] = clean_column(frame[name], known[key].type, key)
            elif key not in _MANAGED and key not in ("building_id", "extra"):
                extra_cols.append(key)
        given_extra = ([_parse_extra(v, b) for v, b in zip(frame["extra"].tolist(), ids, strict=True)]
                       if "extra" in frame.columns else None)
        extra_values = {c: frame[c].tolist() for c in extra_cols}
        cols = list(given)
        all_cols = [c.name for c in INGEST_COLUMNS]

        at, change_id = now_utc(), uuid.uuid4().hex
        reason = f"ingest from {source}"
        with self._tx(write=True) as cur:
            self._lock_tables(cur, BUILDINGS, CLASSIFICATIONS)
            stored = self._stored_buildings(cur, ids)
            if place is not None:
                theirs = sorted(i for i, old in stored.items() if old["place"] not in (None, place))
                if theirs:
                    raise ValueError(
                        f"building {theirs[0]} belongs to {stored[theirs[0]]['place']!r}'s estate"
                        + (f" (and {len(theirs) - 1} more)" if len(theirs) > 1 else "")
                        + f": a load for {place!r} cannot take it (a record belongs to one place); nothing saved")
            external = f"outside_{place}" if place is not None else None
            inserts: list[tuple[Any, ...]] = []
            updates: list[tuple[Any, ...]] = []
            audit: list[tuple[Any, ...]] = []
            for n, bid in enumerate(ids):
                new = {c: given[c][n] for c in cols}
                old = stored.get(bid)
                old_text = old["extra"] if old else None
                old_obj = json.loads(old_text) if old_text else {}
                if given_extra is None and not extra_cols:
                    new_obj, new_text = old_obj, old_text
                else:
                    base, new_text = given_extra[n] if given_extra is not None else (old_obj, old_text)
                    new_obj = dict(base or {})
                    if extra_cols:
                        for c in extra_cols:
                            v = extra_values[c][n]
                            if is_missing(v):
                                new_obj.pop(c, None)
                            else:
                                new_obj[c] = json.loads(dump_json(v) or "null")
                        new_text = json.dumps(new_obj, ensure_ascii=False) if new_obj else None
                if old is None:
                    row = {c: new.get(c) for c in all_cols}
                    row["extra"] = new_text
                    inserts.append((bid, *(row[c] for c in all_cols)))
                    audit.append(self._audit_row(change_id, bid, at, actor, "ingest", "record", None, "created",
                                                 reason))
                    continue
                keep = MANUAL_POSITION_KEEPS if old["position_source"] == "manual" else frozenset()
                changes = [(external if external and c == "outside_place" else self._external(c), display(old[c]),
                            display(new[c])) for c in cols
                           if c not in keep and c != "ingested_at" and old[c] != new[c]]
                changes += [(f"extra.{k}", _extra_display(old_obj.get(k)), _extra_display(new_obj.get(k)))
                            for k in dict.fromkeys([*old_obj, *new_obj]) if old_obj.get(k) != new_obj.get(k)]
                if not changes:
                    continue
                row = {c: (new[c] if c in new and c not in keep else old[c]) for c in all_cols}
                row["extra"] = new_text
                updates.append((bid, *(row[c] for c in all_cols), old["version"]))
                audit += [self._audit_row(change_id, bid, at, actor, "ingest", f, a, b, reason)
                          for f, a, b in changes]
            stage_cols = [Column("building_id", "text"), *INGEST_COLUMNS]
            target = ", ".join(q(c.name) for c in stage_cols)
            p_at = self._param("timestamp", at)
            if inserts:
                self._stage(cur, "stage_new", stage_cols, inserts)
                cur.execute(
                    f"INSERT INTO buildings ({target}, geom, position_source, version, created_at, updated_by, "
                    f"updated_at, place) SELECT {', '.join('s.' + q(c.name) for c in stage_cols)}, "
                    f"{self._point('s.lon', 's.lat')}, 'ingest', 1, ?, ?, ?, ? FROM stage_new s",
                    (p_at, actor, p_at, place),
                )
                cur.execute("INSERT INTO classifications (building_id) SELECT building_id FROM stage_new")
            if updates:
                self._stage(cur, "stage_changed", [*stage_cols, Column("version", "integer")], updates)
                sets = ", ".join(f"{q(c.name)} = s.{q(c.name)}" for c in stage_cols[1:])
                n = cur.execute(
                    f"UPDATE buildings SET {sets}, geom = {self._point('s.lon', 's.lat')}, "
                    "version = buildings.version + 1, updated_by = ?, updated_at = ? FROM stage_changed s "
                    "WHERE buildings.building_id = s.building_id AND buildings.version = s.version",
                    (actor, p_at),
                )
                if n != len(updates):
                    raise RuntimeError("ingest: buildings changed during the ingest transaction; nothing saved")
            if place is not None:  # records stored before they had a place are taken into this one
                unplaced = [i for i, old in stored.items() if old["place"] is None]
                if unplaced:
                    cur.execute(f"UPDATE buildings SET place = ? WHERE place IS NULL AND building_id {self._in_list()}",
                                (place, self._list_param(unplaced)))
            if audit:
                self._append_audit(cur, audit)
            if place is None:
                self._remember_outside(cur, outside_name)
        if outside_name and place is None:
            self._outside_name = outside_name
        return {"inserted": len(inserts), "updated": len(updates),
                "unchanged": len(ids) - len(inserts) - len(updates)}

    def _stored_buildings(self, cur: Cursor, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Stored ingest columns of these buildings (the table is locked), as cleaned Python values."""
        columns = [*INGEST_COLUMNS, Column("position_source", "text"), Column("version", "integer"),
                   Column("place", "text")]
        rows = cur.query(
            f"SELECT b.building_id, {', '.join('b.' + q(c.name) for c in columns)} FROM buildings b "
            f"WHERE b.building_id {self._in_list()}",
            (self._list_param(sorted(ids)),),
        )
        return {r[0]: {c.name: self._value(c.type, v) for c, v in zip(columns, r[1:], strict=True)} for r in rows}

    _READ_COLUMNS: ClassVar[tuple[Column, ...]] = (
        Column("building_id", "text"), *INGEST_COLUMNS, Column("position_source", "text"),
        Column("version", "integer"), Column("created_at", "timestamp"), Column("updated_by", "text"),
        Column("updated_at", "timestamp"), Column("place", "text"),
    )
    _CLASS_COLUMNS: ClassVar[tuple[Column, ...]] = tuple(c for c in CLASSIFICATIONS.columns
                                                         if c.name not in ("building_id", "rule_hash"))
    _SITE_READ: ClassVar[tuple[Column, ...]] = (Column("site_id", "text"), Column("site_partner_count", "integer"))
    #: Long texts left out of buildings() unless asked for (100,000 explanations are ~150 MB).
    _LONG: ClassVar[frozenset[str]] = frozenset({"rule_explanation", "rule_detail"})
    #: Always read: the key, the point, the version and what status_source needs.
    _ALWAYS: ClassVar[tuple[str, ...]] = ("building_id", "lon", "lat", "version", "rule_status", "override_status",
                                          "effective_status")

    def _read_plan(self, columns: Iterable[str] | None) -> list[tuple[str, Column]]:
        """(SQL expression, column) pairs to read, in table order."""
        plan = ([("b." + q(c.name), c) for c in self._READ_COLUMNS]
                + [("c." + q(c.name), c) for c in self._CLASS_COLUMNS]
                + [("e.explanation", Column("rule_explanation", "text")), ("e.detail", Column("rule_detail", "json"))]
                + [("m.site_id", self._SITE_READ[0]), ("s.partner_count", self._SITE_READ[1])])
        if columns is None:
            return [p for p in plan if p[1].name not in self._LONG]
        wanted = {"outside_place" if _OUTSIDE.match(c) else c for c in columns} | set(self._ALWAYS)
        unknown = wanted - {p[1].name for p in plan}
        if unknown:
            raise ValueError(f"buildings(): no column {', '.join(sorted(unknown))}")
        return [p for p in plan if p[1].name in wanted]

    def _buildings_query(
        self, plan: Sequence[tuple[str, Column]], ids: Sequence[str] | None, statuses: Sequence[str | None] | None,
        place: str | None = None,
    ) -> tuple[str, list[Any]]:
        explained = any(expr.startswith("e.") for expr, _ in plan)
        sql = (f"SELECT {', '.join(f'{expr} AS {q(c.name)}' for expr, c in plan)} "
               "FROM buildings b LEFT JOIN classifications c ON c.building_id = b.building_id "
               + ("LEFT JOIN rule_explanations e ON e.rule_hash = c.rule_hash " if explained else "")
               + "LEFT JOIN site_members m ON m.building_id = b.building_id LEFT JOIN sites s ON s.site_id = m.site_id")
        where: list[str] = []
        params: list[Any] = []
        if ids is not None:
            where.append(f"b.building_id {self._in_list()}")
            params.append(self._list_param(list(ids)))
        if statuses is not None:
            cond = [f"c.effective_status {self._in_list()}"]
            params.append(self._list_param([s for s in statuses if s is not None]))
            if None in statuses:
                cond.append("c.effective_status IS NULL")
            where.append("(" + " OR ".join(cond) + ")")
        if place is not None:
            where.append("b.place = ?")
            params.append(place)
        if where:
            sql += " WHERE " + " AND ".join(where)
        # No ORDER BY: reading in storage order is twice as fast in SQLite; buildings() sorts by id in memory.
        return sql, params

    def _read_table(self, sql: str, params: Sequence[Any], columns: Sequence[Column]) -> pd.DataFrame:
        """Run one query (one snapshot) and return its rows as typed columns. Backends may read columnar."""
        with self._tx(write=False) as cur:
            rows = cur.query(sql, params)
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})

    def buildings(
        self, *, ids: Iterable[str] | None = None, statuses: Iterable[str | None] | None = None,
        columns: Iterable[str] | None = None, place: str | None = None,
    ) -> gpd.GeoDataFrame:
        import geopandas as gpd

        plan = self._read_plan(columns)
        id_list = None if ids is None else [str(i) for i in ids]
        status_list = None if statuses is None else list(statuses)
        sql, params = self._buildings_query(plan, id_list, status_list, place)
        frame = self._read_table(sql, params, [c for _, c in plan])
        frame = frame.sort_values("building_id", kind="stable", ignore_index=True)
        outside = f"outside_{place}" if place is not None else self._outside_name
        if outside and "outside_place" in frame:
            frame = frame.rename(columns={"outside_place": outside})
        frame["status_source"] = pd.Series(
            np.where(frame["override_status"].notna(), "override",
                     np.where(frame["rule_status"].notna(), "rule", None)),
            index=frame.index, dtype="str",
        )
        return gpd.GeoDataFrame(frame, geometry=_points(frame), crs="EPSG:4326")

    def _series(self, ctype: ColType, values: Sequence[Any]) -> pd.Series:
        match ctype:
            case "text":
                # Through Arrow: ~10x faster than pandas' own conversion of 100,000 Python strings.
                return pd.Series(pa.array(values, pa.string()), dtype=pd.StringDtype("pyarrow", na_value=np.nan))
            case "real":
                return pd.Series([np.nan if v is None else v for v in values], dtype="float64")
            case "integer":
                return pd.Series(values, dtype="Int64")
            case "boolean":
                return pd.Series([None if v is None else bool(v) for v in values], dtype="boolean")
            case "timestamp":
                text = any(isinstance(v, str) for v in values)
                stamps = pd.to_datetime(pd.Series(values, dtype=object), utc=True,
                                        format="ISO8601" if text else None)
                return stamps.astype("datetime64[ms, UTC]")
            case "json":  # canonical JSON text; BuildingState parses it
                return pd.Series([None if v is None else self._value("json", v) for v in values], dtype="str")
        raise AssertionError(ctype)

    def building(self, building_id: str) -> BuildingState:
        plan = self._read_plan([c.name for c in (*self._READ_COLUMNS, *self._CLASS_COLUMNS, *self._SITE_READ)]
                               + ["rule_explanation", "rule_detail"])
        sql, params = self._buildings_query(plan, [building_id], None)
        with self._tx(write=False) as cur:
            rows = cur.query(sql, params)
        if not rows:
            raise BuildingNotFoundError(f"no building {building_id} in the store")
        v = {c.name: self._value(c.type, x) for (_, c), x in zip(plan, rows[0], strict=True)}
        record = {c.name: v[c.name] for c in (*self._READ_COLUMNS, *self._SITE_READ)}
        outside = f"outside_{record['place']}" if record.get("place") else self._outside_name
        if outside:
            record[outside] = record.pop("outside_place")
        return BuildingState(
            building_id=v["building_id"], version=v["version"], updated_by=v["updated_by"],
            updated_at=v["updated_at"], record=record, lon=v["lon"], lat=v["lat"],
            position_source=v["position_source"], rule_status=v["rule_status"], rule_id=v["rule_id"],
            rule_explanation=v["rule_explanation"],
            rule_detail=None if v["rule_detail"] is None else json.loads(v["rule_detail"]),
            rule_by=v["rule_by"], rule_at=v["rule_at"],
            override_status=v["override_status"], override_reason=v["override_reason"],
            override_by=v["override_by"], override_at=v["override_at"], effective_status=v["effective_status"],
        )

    # ------------------------------------------------------------------ classification
    def save_rule_results(self, results: pd.DataFrame, *, actor: str) -> int:
        self._authorise(actor, "rule_run")
        missing = {"building_id", "rule_status"} - set(results.columns)
        if missing:
            raise ValueError("rule results need building_id and rule_status columns (estates.classification."
                             f"classify output); missing: {', '.join(sorted(missing))}")
        ids = clean_column(results["building_id"], "text", "building_id")
        statuses = clean_column(results["rule_status"], "text", "rule_status")
        bad = sorted({s for s in statuses if s not in STATUSES}, key=str)
        if bad:
            raise ValueError(f"unknown rule status {bad[0]!r}: rules must give one of {', '.join(STATUSES)}")
        if len(set(ids)) != len(ids):
            raise ValueError("rule results must have one row per building_id")
        n_rows = len(ids)
        rule_ids = clean_column(results["rule_id"], "text", "rule_id") if "rule_id" in results else [None] * n_rows
        texts = (clean_column(results["explanation"], "text", "explanation") if "explanation" in results
                 else [None] * n_rows)
        details = results["explanation_detail"].tolist() if "explanation_detail" in results else [None] * n_rows
        # The explanation text stands for its detail (both are the same outcome): a result whose status, rule id
        # and text are unchanged is left alone without serialising its detail. Without a text, the detail counts.
        seen: dict[str, str | None] = {}  # explanations repeat a lot: fingerprint each distinct text once
        digests = [(seen[t] if t in seen else seen.setdefault(t, _digest(t))) if t is not None
                   else _digest(dump_json(d)) for t, d in zip(texts, details, strict=True)]
        at, change_id = now_utc(), uuid.uuid4().hex
        p_at = self._param("timestamp", at)
        with self._tx(write=True) as cur:
            self._lock_tables(cur, CLASSIFICATIONS)
            self._stage(cur, "stage_rule_keys",
                        [Column("building_id", "text"), Column("rule_status", "text"), Column("rule_id", "text"),
                         Column("rule_hash", "text")],
                        list(zip(ids, statuses, rule_ids, digests, strict=True)))
            unknown = cur.query("SELECT s.building_id FROM stage_rule_keys s LEFT JOIN buildings b "
                                "ON b.building_id = s.building_id WHERE b.building_id IS NULL LIMIT 5")
            if unknown:
                raise BuildingNotFoundError(
                    f"rule results name buildings not in the store ({', '.join(r[0] for r in unknown)}); "
                    "nothing saved")
            changed = {r[0] for r in cur.query(
                "SELECT s.building_id FROM stage_rule_keys s JOIN classifications c ON c.building_id = s.building_id "
                "WHERE c.rule_status IS DISTINCT FROM s.rule_status OR c.rule_id IS DISTINCT FROM s.rule_id "
                "OR c.rule_hash IS DISTINCT FROM s.rule_hash")}
            if not changed:
                return 0
            # explanations: each distinct one is stored once, and only if it is new
            needed: dict[str, int] = {}
            for n, (i, h) in enumerate(zip(ids, digests, strict=True)):
                if h is not None and i in changed and h not in needed:
                    needed[h] = n
            known = {r[0] for r in cur.query(f"SELECT rule_hash FROM rule_explanations WHERE rule_hash "
                                             f"{self._in_list()}", (self._list_param(list(needed)),))}
            new = [(h, texts[n], dump_json(details[n])) for h, n in needed.items() if h not in known]
            if new:
                self._stage(cur, "stage_explanations", RULE_EXPLANATIONS.columns, new)
                cur.execute("INSERT INTO rule_explanations (rule_hash, explanation, detail) "
                            "SELECT rule_hash, explanation, detail FROM stage_explanations")
            differs = ("(c.rule_status IS DISTINCT FROM s.rule_status OR c.rule_id IS DISTINCT FROM s.rule_id "
                       "OR c.rule_hash IS DISTINCT FROM s.rule_hash)")
            # Rule runs are audited but do not bump building versions: they only replace the rules' suggestion,
            # which no person's save writes, so nobody editing a building should be told it changed under them.
            n = cur.execute(
                f"INSERT INTO audit ({', '.join(q(c) for c in _AUDIT_INSERT[:9])}) "
                "SELECT ?, s.building_id, ?, ?, 'rule_run', 'rule_status', c.rule_status, s.rule_status, "
                "'rule ' || s.rule_id FROM stage_rule_keys s JOIN classifications c ON c.building_id = s.building_id "
                "WHERE c.rule_status IS DISTINCT FROM s.rule_status ORDER BY s.building_id",
                (change_id, p_at, actor),
            )
            cur.execute(
                "UPDATE classifications SET rule_status = s.rule_status, rule_id = s.rule_id, rule_hash = s.rule_hash, "
                "rule_by = ?, rule_at = ?, effective_status = COALESCE(classifications.override_status, "
                "s.rule_status) FROM stage_rule_keys s WHERE classifications.building_id = s.building_id AND "
                + differs.replace("c.", "classifications."),
                (actor, p_at),
            )
        return n

    def _override(
        self, expected: Mapping[str, int], status: str | None, reason: str, actor: str, action: str
    ) -> dict[str, int]:
        expected = {str(i): _require_version(v, str(i)) for i, v in expected.items()}
        if not expected:
            return {}
        self._authorise(actor, action, sorted(expected))
        at, change_id = now_utc(), uuid.uuid4().hex
        cols = ("override_status", "override_reason", "override_by", "override_at")
        with self._tx(write=True) as cur:
            self._lock_and_check(cur, expected)
            rows = cur.query(
                f"SELECT building_id, {', '.join(cols)} FROM classifications WHERE building_id {self._in_list()}",
                (self._list_param(sorted(expected)),),
            )
            prior = {r[0]: dict(zip(cols, (r[1], r[2], r[3], self._value("timestamp", r[4])), strict=True))
                     for r in rows}
            if status is None:
                not_overridden = [i for i in sorted(expected) if prior[i]["override_status"] is None]
                if not_overridden:
                    raise ValueError(f"building {not_overridden[0]} has no override to clear")
            versions = self._bump(cur, expected, actor, at)
            p_at = self._param("timestamp", at) if status else None
            cur.executemany(
                "UPDATE classifications SET override_status = ?, override_reason = ?, override_by = ?, "
                "override_at = ?, effective_status = COALESCE(?, rule_status) WHERE building_id = ?",
                [(status, reason if status else None, actor if status else None, p_at, status, i)
                 for i in sorted(expected)],
            )
            self._append_audit(cur, [
                self._audit_row(change_id, i, at, actor, action, "override_status", prior[i]["override_status"],
                                status, reason, restore=self._restore(CLASSIFICATIONS, {"building_id": i}, prior[i]))
                for i in sorted(expected)
            ])
        return versions

    def set_status(self, building_id: str, status: str, *, reason: str, actor: str, expected_version: int) -> int:
        reason = _require_reason(reason)
        return self._override({building_id: expected_version}, _require_status(status), reason, actor,
                              "override")[building_id]

    def bulk_set_status(
        self, expected_versions: Mapping[str, int], status: str, *, reason: str, actor: str
    ) -> dict[str, int]:
        reason = _require_reason(reason)
        return self._override(expected_versions, _require_status(status), reason, actor, "override")

    def clear_override(self, building_id: str, *, reason: str, actor: str, expected_version: int) -> int:
        reason = _require_reason(reason)
        return self._override({building_id: expected_version}, None, reason, actor, "clear_override")[building_id]

    def set_site_name(self, expected_versions: Mapping[str, int], name: str | None, *, reason: str,
                      actor: str) -> dict[str, int]:
        reason = _require_reason(reason)
        name = None if name is None or not str(name).strip() else " ".join(str(name).split())
        expected = {str(i): _require_version(v, str(i)) for i, v in expected_versions.items()}
        if not expected:
            return {}
        self._authorise(actor, "rename", sorted(expected))
        at, change_id = now_utc(), uuid.uuid4().hex
        with self._tx(write=True) as cur:
            self._lock_and_check(cur, expected)
            rows = cur.query(f"SELECT building_id, site_name FROM classifications WHERE building_id {self._in_list()}",
                             (self._list_param(sorted(expected)),))
            prior = {r[0]: r[1] for r in rows}
            versions = self._bump(cur, expected, actor, at)
            cur.executemany("UPDATE classifications SET site_name = ? WHERE building_id = ?",
                            [(name, i) for i in sorted(expected)])
            self._append_audit(cur, [
                self._audit_row(change_id, i, at, actor, "rename", "site_name", prior[i], name, reason,
                                restore=self._restore(CLASSIFICATIONS, {"building_id": i}, {"site_name": prior[i]}))
                for i in sorted(expected)])
        return versions

    def clear_overrides(self, expected_versions: Mapping[str, int], *, reason: str, actor: str) -> dict[str, int]:
        reason = _require_reason(reason)
        return self._override(expected_versions, None, reason, actor, "clear_override")

    def reposition(
        self, building_id: str, lon: float, lat: float, *, reason: str, actor: str, expected_version: int,
        tags: Mapping[str, Any] | None = None,
    ) -> int:
        return self.bulk_reposition({building_id: expected_version}, lon, lat, reason=reason, actor=actor,
                                    tags=tags)[building_id]

    def bulk_reposition(
        self, expected_versions: Mapping[str, int], lon: float, lat: float, *, reason: str, actor: str,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        reason = _require_reason(reason)
        lon, lat = float(lon), float(lat)
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            raise ValueError(f"({lon}, {lat}) is not a WGS84 longitude/latitude")
        tag_types = {c.name: c.type for c in TAG_COLUMNS} | {"easting": "real", "northing": "real"}
        new_tags: dict[str, Any] = {}
        outside_name = None
        for k, v in (tags or {}).items():
            key = "outside_place" if _OUTSIDE.match(k) else k
            if key not in tag_types:
                raise ValueError(f"{k!r} is not a location tag ({', '.join(tag_types)}, outside_<place>)")
            if key != k:
                outside_name = k
            new_tags[key] = clean_value(v, tag_types[key], k)
        expected = {str(i): _require_version(v, str(i)) for i, v in expected_versions.items()}
        if not expected:
            return {}
        self._authorise(actor, "reposition", sorted(expected))
        # Grid coordinates come with the tags (the caller projects; the store only persists): none given, none kept.
        easting, northing = new_tags.pop("easting", None), new_tags.pop("northing", None)
        position = {"lon": lon, "lat": lat, "easting": easting, "northing": northing,
                    "geocode_method": "manual", "geocode_precision": "high", "geocode_issue": "",
                    "position_source": "manual"}
        at, change_id = now_utc(), uuid.uuid4().hex
        unplaced = False
        with self._tx(write=True) as cur:
            self._lock_and_check(cur, expected)
            priors = {}
            for building_id in sorted(expected):
                prior = self._fetch(cur, BUILDINGS, [*position, *new_tags, "place"], {"building_id": building_id})
                assert prior is not None
                if outside_name and outside_name != "outside_place":  # the building's own place's flag only
                    if prior["place"] is not None and outside_name != f"outside_{prior['place']}":
                        raise ValueError(f"building {building_id} is in {prior['place']!r}: its flag is "
                                         f"'outside_{prior['place']}', not {outside_name!r}")
                    if prior["place"] is None:
                        self._outside_key(outside_name)
                priors[building_id] = prior
            versions = self._bump(cur, expected, actor, at)
            audit = []
            # One change for every building moved together (a site's records): one row in the feed, one undo.
            for building_id, prior in priors.items():
                key = {"building_id": building_id}
                self._write_values(cur, BUILDINGS, {**position, **new_tags}, key)
                audit.append(self._audit_row(
                    change_id, building_id, at, actor, "reposition", "position",
                    point_text(prior["lon"], prior["lat"]), point_text(lon, lat), reason,
                    restore=self._restore(BUILDINGS, key, {k: prior[k] for k in position})))
                audit += [
                    self._audit_row(change_id, building_id, at, actor, "reposition",
                                    outside_name if k == "outside_place" and outside_name else self._external(k),
                                    display(prior[k]), display(v), reason,
                                    restore=self._restore(BUILDINGS, key, {k: prior[k]}))
                    for k, v in new_tags.items() if prior[k] != v
                ]
                unplaced = unplaced or prior["place"] is None
            self._append_audit(cur, audit)
            if unplaced and outside_name != "outside_place":
                self._remember_outside(cur, outside_name)
        if outside_name and outside_name != "outside_place" and unplaced:
            self._outside_name = outside_name
        return versions

    def undo(self, building_id: str, *, actor: str, expected_version: int, reason: str | None = None) -> int:
        expected = {building_id: _require_version(expected_version, building_id)}
        self._authorise(actor, "undo", [building_id])
        at, change_id = now_utc(), uuid.uuid4().hex
        with self._tx(write=True) as cur:
            # Read first, lock after: every change bumps the version, so the check below catches any change in
            # between, and all the change's buildings are then locked together in id order.
            mine = cur.query("SELECT change_id, action, undoes, field FROM audit WHERE building_id = ? ORDER BY id",
                             (building_id,))
            undone = {r[2] for r in mine if r[1] == "undo"}
            target = next((r[0] for r in reversed(mine) if r[1] in UNDOABLE_ACTIONS and r[0] not in undone), None)
            if target is None:
                self._lock_and_check(cur, expected)
                raise NothingToUndoError(f"building {building_id} has no change left to undo "
                                         "(rule runs and ingests are not undone: re-run them)")
            # The whole change is undone as one: every building it touched (a site's records, a bulk change, both
            # sides of a match decision); the other buildings are bumped, not checked.
            rows = cur.query('SELECT building_id, "at", actor, action, field, restore FROM audit '
                             "WHERE change_id = ? ORDER BY id", (target,))
            found = self._lock_and_check(cur, expected, also=[r[0] for r in rows])
            when = self._value("timestamp", rows[0][1]).strftime("%Y-%m-%d %H:%M:%S UTC")
            why = reason.strip() if reason and reason.strip() else f"undo {rows[0][3]} of {when} by {rows[0][2]}"
            touched = sorted({r[0] for r in rows})
            versions = self._bump(cur, {i: found[i].version for i in touched}, actor, at)
            restores: dict[str, tuple[Table, dict[str, Any], dict[str, Any], dict[str, Any]]] = {}
            audit = []
            for bid, _, _, _, field, spec_text in rows:
                spec = json.loads(self._value("json", spec_text))
                table = _TABLES_BY_NAME[spec["table"]]
                ident = dump_json([spec["table"], spec["key"], sorted(spec["values"])]) or ""
                if ident not in restores:
                    values = {k: clean_value(v, table.column(k).type, k) for k, v in spec["values"].items()}
                    current = self._fetch(cur, table, list(values), spec["key"])
                    if current is None:
                        raise RuntimeError(f"cannot undo: {table.name} row {spec['key']} is gone")
                    restores[ident] = (table, spec["key"], values, current)
                table, key, values, current = restores[ident]
                audit.append(self._audit_row(
                    change_id, bid, at, actor, "undo", field, self._shown(field, current),
                    self._shown(field, values), why, undoes=target, restore=self._restore(table, key, current)))
            for table, key, values, _ in restores.values():
                self._write_values(cur, table, values, key)
            self._append_audit(cur, audit)
        return versions[building_id]

    @staticmethod
    def _shown(field: str | None, values: Mapping[str, Any]) -> str | None:
        if field == "position":
            return point_text(values.get("lon"), values.get("lat"))
        if field and field.startswith("match:"):
            return display(values.get("decision"))
        if field and _OUTSIDE.match(field):
            field = "outside_place"
        return display(values.get(field)) if field else None

    # ------------------------------------------------------------------ history
    _AUDIT_READ: ClassVar[tuple[Column, ...]] = tuple(c for c in AUDIT.columns if c.name != "restore")

    def history(self, building_id: str) -> list[AuditEntry]:
        with self._tx(write=False) as cur:
            rows = cur.query(
                f"SELECT id, {', '.join(q(c.name) for c in self._AUDIT_READ)} FROM audit "
                "WHERE building_id = ? ORDER BY id", (building_id,))
        return [AuditEntry(r[0], *(self._value(c.type, v) for c, v in zip(self._AUDIT_READ, r[1:], strict=True)))
                for r in rows]

    def audit_log(self, *, building_ids: Iterable[str] | None = None, since_id: int = 0) -> pd.DataFrame:
        sql = f"SELECT id, {', '.join(q(c.name) for c in self._AUDIT_READ)} FROM audit WHERE id > ?"
        params: list[Any] = [int(since_id)]
        if building_ids is not None:
            sql += f" AND building_id {self._in_list()}"
            params.append(self._list_param([str(i) for i in building_ids]))
        with self._tx(write=False) as cur:
            rows = cur.query(sql + " ORDER BY id", params)
        columns = [Column("id", "integer"), *self._AUDIT_READ]
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})

    def audit_between(self, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
        sql = f"SELECT id, {', '.join(q(c.name) for c in self._AUDIT_READ)} FROM audit WHERE id > 0"
        params: list[Any] = []
        for bound, test in ((since, '"at" >= ?'), (until, '"at" < ?')):
            if bound is not None:
                sql += f" AND {test}"
                params.append(self._param("timestamp", to_utc(bound)))
        with self._tx(write=False) as cur:
            rows = cur.query(sql + " ORDER BY id", params)
        columns = [Column("id", "integer"), *self._AUDIT_READ]
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})

    # ------------------------------------------------------------------ sites
    def save_site_matches(self, result: SiteMatchesLike, *, actor: str, source: str,
                          place: str | None = None) -> dict[str, int]:
        self._authorise(actor, "match_run")
        place = _require_place(place)
        site_rows = _rows(result.sites, SITE_COLUMNS, "sites")
        member_rows = _rows(result.membership, (Column("site_id", "text"), Column("building_id", "text")),
                            "membership")
        pairs = _rows(result.matches, MATCH_COLUMNS, "matches")
        pair_rows: dict[tuple[str, str], tuple[Any, ...]] = {}
        for p in pairs:
            a, b, pa, pb, na, nb, *rest = p
            if a is None or b is None or a == b:
                raise ValueError(f"a match pair needs two different building ids, got {a!r}, {b!r}")
            row = (a, b, pa, pb, na, nb, *rest) if a < b else (b, a, pb, pa, nb, na, *rest)
            if (row[0], row[1]) in pair_rows:
                raise ValueError(f"pair {row[0]} / {row[1]} appears twice in the matches")
            pair_rows[(row[0], row[1])] = row
        at = now_utc()
        p_at = self._param("timestamp", at)
        with self._tx(write=True) as cur:
            self._lock_tables(cur, SITES, SITE_MEMBERS, SITE_MATCHES)
            self._stage(cur, "stage_sites", SITE_COLUMNS, site_rows)
            self._stage(cur, "stage_members", [Column("site_id", "text"), Column("building_id", "text")],
                        member_rows)
            self._stage(cur, "stage_pairs", MATCH_COLUMNS, list(pair_rows.values()))
            unknown = cur.query(
                "SELECT x.building_id FROM (SELECT building_id FROM stage_members UNION "
                "SELECT building_id_a FROM stage_pairs UNION SELECT building_id_b FROM stage_pairs) x "
                "LEFT JOIN buildings b ON b.building_id = x.building_id WHERE b.building_id IS NULL LIMIT 5")
            if unknown:
                raise BuildingNotFoundError(
                    f"site matches name buildings not in the store ({', '.join(r[0] for r in unknown)}); "
                    "nothing saved")
            # A run of one place replaces that place's sites only; without a place, the whole store's (one place).
            mine = "" if place is None else " AND building_id IN (SELECT building_id FROM buildings WHERE place = ?)"
            scope: tuple[Any, ...] = () if place is None else (place,)
            if place is not None:
                strangers = cur.query(
                    "SELECT x.building_id, b.place FROM (SELECT building_id FROM stage_members UNION "
                    "SELECT building_id_a FROM stage_pairs UNION SELECT building_id_b FROM stage_pairs) x "
                    "JOIN buildings b ON b.building_id = x.building_id WHERE b.place IS DISTINCT FROM ? LIMIT 5",
                    (place,))
                if strangers:
                    raise ValueError(
                        f"a matching run for {place!r} names records of another place ("
                        + ", ".join(f"{r[0]} in {r[1]!r}" for r in strangers)
                        + "): sites never join records of two places; nothing saved")
            cur.execute("DELETE FROM site_members WHERE true" + mine, scope)
            cur.execute("DELETE FROM sites" + ("" if place is None else " WHERE place = ?"), scope)
            site_cols = ", ".join(q(c.name) for c in SITE_COLUMNS)
            cur.execute(f"INSERT INTO sites ({site_cols}, geom, source, updated_by, updated_at, place) "
                        f"SELECT {site_cols}, {self._point('lon', 'lat')}, ?, ?, ?, ? FROM stage_sites",
                        (source, actor, p_at, place))
            cur.execute("INSERT INTO site_members (site_id, building_id) SELECT site_id, building_id "
                        "FROM stage_members")
            pair_scope = "" if place is None else mine.replace("building_id IN", "building_id_a IN")
            cur.execute("UPDATE site_matches SET current = FALSE WHERE NOT EXISTS (SELECT 1 FROM stage_pairs s "
                        "WHERE s.building_id_a = site_matches.building_id_a "
                        "AND s.building_id_b = site_matches.building_id_b)" + pair_scope, scope)
            dropped = cur.execute("DELETE FROM site_matches WHERE current = FALSE AND decision IS NULL" + pair_scope,
                                  scope)
            pair_cols = ", ".join(q(c.name) for c in MATCH_COLUMNS)
            updates = ", ".join(f"{q(c.name)} = excluded.{q(c.name)}" for c in MATCH_COLUMNS[2:])
            cur.execute(f"INSERT INTO site_matches ({pair_cols}, current) SELECT {pair_cols}, TRUE FROM stage_pairs "
                        f"WHERE true ON CONFLICT (building_id_a, building_id_b) DO UPDATE SET {updates}, "
                        "current = TRUE")
        return {"sites": len(site_rows), "members": len(member_rows), "pairs": len(pair_rows),
                "dropped_pairs": dropped}

    def set_match_decision(
        self, building_id_a: str, building_id_b: str, decision: MatchDecision, *, reason: str, actor: str,
        expected_versions: Mapping[str, int],
    ) -> dict[str, int]:
        a, b = sorted((str(building_id_a), str(building_id_b)))
        if set(expected_versions) != {a, b}:
            raise ValueError(f"expected_versions must give the versions of both {a} and {b}")
        return self.set_match_decisions([(a, b)], decision, reason=reason, actor=actor,
                                        expected_versions=expected_versions)

    def set_match_decisions(
        self, pairs: Sequence[tuple[str, str]], decision: MatchDecision, *, reason: str, actor: str,
        expected_versions: Mapping[str, int],
    ) -> dict[str, int]:
        reason = _require_reason(reason)
        if decision not in DECISIONS:
            raise ValueError(f"decision must be 'confirm' or 'reject', not {decision!r}")
        keys = sorted({tuple(sorted((str(x), str(y)))) for x, y in pairs})
        if not keys:
            raise ValueError("no pair to decide")
        if any(a == b for a, b in keys):
            raise ValueError("a match decision needs two different buildings")
        named = {i for pair in keys for i in pair}
        if set(expected_versions) != named:
            raise ValueError("expected_versions must give the version of every building of the pairs")
        expected = {i: _require_version(v, i) for i, v in expected_versions.items()}
        self._authorise(actor, "match_decision", sorted(named))
        at, change_id = now_utc(), uuid.uuid4().hex
        cols = ["decision", "decision_note", "decided_by", "decided_at"]
        with self._tx(write=True) as cur:
            self._lock_and_check(cur, expected)
            places = dict(cur.query(f"SELECT building_id, place FROM buildings WHERE building_id {self._in_list()}",
                                    (self._list_param(sorted(named)),)))
            for a, b in keys:
                if places.get(a) != places.get(b):
                    raise ValueError(f"{a} is in {places.get(a)!r} and {b} in {places.get(b)!r}: records of two "
                                     "places are never one site; nothing saved")
            audit = []
            for a, b in keys:
                key = {"building_id_a": a, "building_id_b": b}
                prior = self._fetch(cur, SITE_MATCHES, cols, key)
                if prior is None:  # a pair the matcher never proposed: a person links (or separates) them by hand
                    cur.execute("INSERT INTO site_matches (building_id_a, building_id_b, current) "
                                "VALUES (?, ?, FALSE)", (a, b))
                    prior = dict.fromkeys(cols)
                self._write_values(cur, SITE_MATCHES, {"decision": decision, "decision_note": reason,
                                                       "decided_by": actor, "decided_at": at}, key)
                audit += [self._audit_row(change_id, x, at, actor, "match_decision", f"match:{other}",
                                          prior["decision"], decision, reason,
                                          restore=self._restore(SITE_MATCHES, key, prior))
                          for x, other in ((a, b), (b, a))]
            versions = self._bump(cur, expected, actor, at)
            self._append_audit(cur, audit)
        return versions

    def match_decisions(self) -> pd.DataFrame:
        with self._tx(write=False) as cur:
            rows = cur.query("SELECT building_id_a, building_id_b, decision, decided_at, decided_by, decision_note "
                             "FROM site_matches WHERE decision IS NOT NULL ORDER BY decided_at, building_id_a, "
                             "building_id_b")
        columns = [Column("building_id_a", "text"), Column("building_id_b", "text"), Column("decision", "text"),
                   Column("decided_at", "timestamp"), Column("decided_by", "text"), Column("note", "text")]
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})

    def sites(self, *, place: str | None = None) -> gpd.GeoDataFrame:
        import geopandas as gpd

        columns = [*SITE_COLUMNS, Column("source", "text"), Column("updated_by", "text"),
                   Column("updated_at", "timestamp"), Column("place", "text")]
        where, params = ("", ()) if place is None else (" WHERE place = ?", (place,))
        with self._tx(write=False) as cur:
            rows = cur.query(f"SELECT {', '.join(q(c.name) for c in columns)} FROM sites{where} ORDER BY site_id",
                             params)
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        frame = pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})
        return gpd.GeoDataFrame(frame, geometry=_points(frame), crs="EPSG:4326")

    def site_matches(self, *, building_id: str | None = None, place: str | None = None) -> pd.DataFrame:
        columns = list(SITE_MATCHES.columns)
        sql = f"SELECT {', '.join(q(c.name) for c in columns)} FROM site_matches"
        where: list[str] = []
        params: tuple[Any, ...] = ()
        if building_id is not None:
            where.append("(building_id_a = ? OR building_id_b = ?)")
            params = (building_id, building_id)
        if place is not None:  # both records of a pair are of one place (set_match_decisions refuses others)
            where.append("building_id_a IN (SELECT building_id FROM buildings WHERE place = ?)")
            params = (*params, place)
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._tx(write=False) as cur:
            rows = cur.query(sql + " ORDER BY building_id_a, building_id_b", params)
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(columns, raw, strict=True)})

    # ------------------------------------------------------------------ facts
    #: Record fields update_facts may change: the facts, not the identity, the position or the extra columns.
    _FACT_FIELDS: ClassVar[frozenset[str]] = frozenset(
        f.name for f in FIELDS
        if f.name not in {"building_id", "partner", "partner_type", "organisation", "x", "y", "footprint_wkt", "extra"})

    def update_facts(self, changes: pd.DataFrame, *, actor: str, reason: str, source: str) -> dict[str, int]:
        reason = _require_reason(reason)
        missing = {"building_id", "expected_version", "field", "value"} - set(changes.columns)
        if missing:
            raise ValueError(f"update_facts needs columns building_id, expected_version, field, value; missing: "
                             f"{', '.join(sorted(missing))}")
        n = len(changes)
        ids = clean_column(changes["building_id"], "text", "building_id")
        fields = clean_column(changes["field"], "text", "field")
        notes = clean_column(changes["note"], "text", "note") if "note" in changes else [None] * n
        expected: dict[str, int] = {}
        wanted: dict[str, dict[str, tuple[Any, str | None]]] = {}
        for bid, version, name, value, note in zip(ids, changes["expected_version"].tolist(), fields,
                                                    changes["value"].tolist(), notes, strict=True):
            if bid is None or not bid.strip():
                raise ValueError("every fact change needs a building_id")
            if name not in self._FACT_FIELDS:
                raise ValueError(f"{name!r} is not a fact update_facts may change "
                                 f"(one of: {', '.join(sorted(self._FACT_FIELDS))})")
            version = _require_version(version, bid)
            if expected.setdefault(bid, version) != version:
                raise ValueError(f"building {bid} is given with two expected versions")
            per = wanted.setdefault(bid, {})
            if name in per:
                raise ValueError(f"building {bid}: two values for {name}")
            per[name] = (clean_value(value, BUILDINGS.column(name).type, name), note)
        if not expected:
            return {}
        self._authorise(actor, "facts", sorted(expected))
        where = f"from {str(source).strip()}" if source and str(source).strip() else "source not given"
        at, change_id = now_utc(), uuid.uuid4().hex
        with self._tx(write=True) as cur:
            self._lock_and_check(cur, expected)
            writes: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {}
            for bid in sorted(wanted):
                prior = self._fetch(cur, BUILDINGS, sorted(wanted[bid]), {"building_id": bid})
                assert prior is not None  # _lock_and_check refused unknown ids
                changed = {f: v for f, (v, _) in wanted[bid].items() if prior[f] != v}
                if changed:
                    writes[bid] = (prior, changed)
            if not writes:
                return {}
            versions = self._bump(cur, {b: expected[b] for b in writes}, actor, at)
            audit = []
            for bid, (prior, changed) in writes.items():
                key = {"building_id": bid}
                self._write_values(cur, BUILDINGS, changed, key)
                for name, value in changed.items():
                    note = wanted[bid][name][1]
                    why = f"{reason} ({where}" + (f"; {note})" if note else ")")
                    audit.append(self._audit_row(change_id, bid, at, actor, "facts", name, display(prior[name]),
                                                 display(value), why,
                                                 restore=self._restore(BUILDINGS, key, {name: prior[name]})))
            self._append_audit(cur, audit)
        return versions


    # ------------------------------------------------------------------ places
    def places(self) -> dict[str | None, int]:
        with self._tx(write=False) as cur:
            rows = cur.query("SELECT place, count(*) FROM buildings GROUP BY place ORDER BY place")
        return {r[0]: int(r[1]) for r in rows}

    # ------------------------------------------------------------------ rejected rows
    _REJECTED_READ: ClassVar[tuple[Column, ...]] = (*REJECTED_COLUMNS, Column("loaded_by", "text"),
                                                    Column("loaded_at", "timestamp"), Column("place", "text"))

    def save_rejected_rows(self, frame: pd.DataFrame, *, partner: str, source_file: str, actor: str,
                           place: str | None = None) -> int:
        self._authorise(actor, "ingest")
        place = _require_place(place)
        at = now_utc()
        rows = _rows(frame, REJECTED_COLUMNS, "rejected rows") if len(frame) else []
        if any(r[1] != partner or r[3] != source_file for r in rows):
            raise ValueError("rejected rows must all come from the one load (partner and source file) they replace")
        with self._tx(write=True) as cur:
            self._lock_tables(cur, REJECTED_ROWS)
            cur.execute("DELETE FROM rejected_rows WHERE partner = ? AND source_file = ?"
                        + ("" if place is None else " AND place = ?"),
                        (partner, source_file) if place is None else (partner, source_file, place))
            if rows:
                cols = self._REJECTED_READ
                cur.executemany(
                    f"INSERT INTO rejected_rows ({', '.join(q(c.name) for c in cols)}) "
                    f"VALUES ({', '.join('?' for _ in cols)}) ON CONFLICT (row_id) DO UPDATE SET "
                    + ", ".join(f"{q(c.name)} = excluded.{q(c.name)}" for c in cols[1:]),
                    [tuple(self._param(c.type, v) for c, v in zip(cols, (*r, actor, at, place), strict=True))
                     for r in rows])
        return len(rows)

    def rejected_rows(self, *, place: str | None = None) -> pd.DataFrame:
        cols = self._REJECTED_READ
        where, params = ("", ()) if place is None else ("WHERE place = ? ", (place,))
        with self._tx(write=False) as cur:
            rows = cur.query(f"SELECT {', '.join(q(c.name) for c in cols)} FROM rejected_rows {where}"
                             "ORDER BY partner, source_file, source_row", params)
        raw = list(zip(*rows, strict=True)) if rows else [() for _ in cols]
        return pd.DataFrame({c.name: self._series(c.type, v) for c, v in zip(cols, raw, strict=True)})

def _rows(frame: pd.DataFrame, columns: Sequence[Column], what: str) -> list[tuple[Any, ...]]:
    """``frame``'s ``columns`` as cleaned row tuples (absent optional columns are None)."""
    required = [c.name for c in columns if c.not_null] or [columns[0].name]
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} need column(s) {', '.join(missing)}")
    values = [clean_column(frame[c.name], c.type, c.name) if c.name in frame.columns else [None] * len(frame)
              for c in columns]
    return list(zip(*values, strict=True)) if len(frame) else []


def _require_place(place: object) -> str | None:
    """A place slug (``data/<place>/place.toml``'s ``slug``) or None; blank or non-text is refused."""
    if place is None:
        return None
    if not isinstance(place, str) or not place.strip():
        raise ValueError(f"place must be a place slug such as 'trafford', got {place!r}")
    return place.strip()


def _digest(text: str | None) -> str | None:
    """Short, stable fingerprint of a text (64-bit BLAKE2b, hex)."""
    return None if text is None else hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()


def _points(frame: pd.DataFrame) -> Any:
    """Point geometry from ``lon``/``lat`` (None where either is missing)."""
    import geopandas as gpd

    lon = frame["lon"].to_numpy("float64")
    lat = frame["lat"].to_numpy("float64")
    has = ~(np.isnan(lon) | np.isnan(lat))
    geometry = np.where(has, np.asarray(gpd.points_from_xy(lon, lat)), None)
    return gpd.GeoSeries(geometry, index=frame.index, crs="EPSG:4326")


_STR_TYPES: dict[Any, Any] = {}


def arrow_frame(table: Any, columns: Sequence[Column]) -> pd.DataFrame:
    """A pyarrow Table read columnar by a backend, typed exactly as :meth:`SqlStore._series` types row reads."""
    import pyarrow as pa

    if not _STR_TYPES:  # pandas' default "str" dtype, Arrow-backed: no Python object per value
        _STR_TYPES[pa.large_string()] = pd.Series([], dtype="str").dtype
    data: dict[str, pd.Series] = {}
    for c in columns:
        col = table.column(c.name)
        match c.type:
            case "text" | "json":
                series = pd.Series(col.cast(pa.large_string()).to_pandas(types_mapper=_STR_TYPES.get))
            case "real":
                series = pd.Series(col.cast(pa.float64()).to_pandas(), dtype="float64")
            case "integer":
                series = pd.Series(col.cast(pa.int64()).to_pandas(types_mapper={pa.int64(): pd.Int64Dtype()}.get))
            case "boolean":
                series = pd.Series(col.cast(pa.bool_()).to_pandas(types_mapper={pa.bool_(): pd.BooleanDtype()}.get))
            case "timestamp":
                series = pd.Series(col.cast(pa.timestamp("ms", tz="UTC")).to_pandas()).astype("datetime64[ms, UTC]")
        data[c.name] = series.reset_index(drop=True)
    return pd.DataFrame(data)
