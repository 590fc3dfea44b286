"""Embedded backend: one OGC GeoPackage file (SQLite in WAL mode), readable by QGIS and ``geopandas.read_file``.

The file is a real GeoPackage: ``application_id`` 'GPKG', ``gpkg_spatial_ref_sys`` with EPSG:4326, ``gpkg_contents``
and ``gpkg_geometry_columns``. ``buildings`` and ``sites`` (and the ``buildings_status`` view) are point feature
layers with GeoPackage binary geometry (GP header + little-endian WKB, no envelope); ``classifications``,
``site_members`` and ``audit`` are attribute tables. There is no R-tree spatial index: its triggers call SpatiaLite/GDAL
SQL functions that plain SQLite does not have, and a few thousand points do not need it.

Do not read the file with GDAL (pyogrio, geopandas, fiona) *in the same process* while a store on it is open: GDAL
brings its own copy of SQLite, and two SQLite libraries in one process break each other's POSIX locks (stale reads,
"disk I/O error"; see sqlite.org/howtocorrupt.html §2.2.1). Other processes — QGIS, a second Python — are fine.

Concurrency: WAL lets readers run alongside the single writer and gives every read transaction a snapshot; writes
start with ``BEGIN IMMEDIATE`` (the file's write lock) and wait up to ``busy_timeout`` for another writer.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from estates.store._open import NoStoreError, StoreOpenError
from estates.store._sql import STATUS_VIEW, TABLES, ColType, Column, Cursor, SqlStore, Table, q

__all__ = ["GeoPackageStore"]

_APPLICATION_ID = 0x47504B47  # "GPKG"
_USER_VERSION = 10300  # GeoPackage 1.3
_WKT_4326 = (
    'GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],'
    'AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0,AUTHORITY["EPSG","8901"]],'
    'UNIT["degree",0.0174532925199433,AUTHORITY["EPSG","9122"]],AXIS["Latitude",NORTH],AXIS["Longitude",EAST],'
    'AUTHORITY["EPSG","4326"]]'
)
_GPKG_CORE = (
    "CREATE TABLE IF NOT EXISTS gpkg_spatial_ref_sys (srs_name TEXT NOT NULL, srs_id INTEGER NOT NULL PRIMARY KEY, "
    "organization TEXT NOT NULL, organization_coordsys_id INTEGER NOT NULL, definition TEXT NOT NULL, "
    "description TEXT)",
    "CREATE TABLE IF NOT EXISTS gpkg_contents (table_name TEXT NOT NULL PRIMARY KEY, data_type TEXT NOT NULL, "
    "identifier TEXT UNIQUE, description TEXT DEFAULT '', "
    "last_change DATETIME NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')), "
    "min_x DOUBLE, min_y DOUBLE, max_x DOUBLE, max_y DOUBLE, srs_id INTEGER, "
    "CONSTRAINT fk_gc_r_srs_id FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys(srs_id))",
    "CREATE TABLE IF NOT EXISTS gpkg_geometry_columns (table_name TEXT NOT NULL, column_name TEXT NOT NULL, "
    "geometry_type_name TEXT NOT NULL, srs_id INTEGER NOT NULL, z TINYINT NOT NULL, m TINYINT NOT NULL, "
    "CONSTRAINT pk_geom_cols PRIMARY KEY (table_name, column_name), "
    "CONSTRAINT uk_gc_table_name UNIQUE (table_name), "
    "CONSTRAINT fk_gc_tn FOREIGN KEY (table_name) REFERENCES gpkg_contents(table_name), "
    "CONSTRAINT fk_gc_srs FOREIGN KEY (srs_id) REFERENCES gpkg_spatial_ref_sys (srs_id))",
)
_SRS = (
    ("Undefined cartesian SRS", -1, "NONE", -1, "undefined", "undefined cartesian coordinate reference system"),
    ("Undefined geographic SRS", 0, "NONE", 0, "undefined", "undefined geographic coordinate reference system"),
    ("WGS 84 geodetic", 4326, "EPSG", 4326, _WKT_4326,
     "longitude/latitude coordinates in decimal degrees on the WGS 84 spheroid"),
)
_TYPES: dict[ColType, str] = {"text": "TEXT", "real": "REAL", "integer": "INTEGER", "boolean": "BOOLEAN",
                              "json": "TEXT", "timestamp": "DATETIME"}
_GP_HEADER = b"GP\x00\x01" + struct.pack("<i", 4326)  # magic, version 0, flags: little-endian, no envelope; srs_id
_MIN_SQLITE = (3, 39, 0)  # IS DISTINCT FROM, UPDATE … FROM, json_each


def gpkg_point(lon: float | None, lat: float | None) -> bytes | None:
    """GeoPackage binary for a WGS84 point (None when a coordinate is missing)."""
    if lon is None or lat is None:
        return None
    return _GP_HEADER + struct.pack("<BIdd", 1, 1, lon, lat)


def _ts(value: datetime) -> str:
    """GeoPackage DATETIME text: ``YYYY-MM-DDTHH:MM:SS.SSSZ`` (UTC)."""
    value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


class _SqliteCursor:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.staged: list[str] = []

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self._conn.execute(sql, params).rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        return self._conn.executemany(sql, rows).rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, params).fetchall()


class GeoPackageStore(SqlStore):
    """The store in a single GeoPackage file.

    Parameters
    ----------
    path
        The ``.gpkg`` file; created (with its folder) when missing, migrated when older. A file that already holds
        tables but not the store's (someone else's GeoPackage) is refused, never written.
    busy_timeout_ms
        How long a write waits for another process's write to finish before failing.
    synchronous
        SQLite ``synchronous`` setting: ``FULL`` (default; every commit is on disk) or ``NORMAL`` (WAL commits may be
        lost on power failure, never corrupted; faster).
    read_only
        Open for reading only (SQLite ``mode=ro``): nothing is created, migrated or written; a missing file raises
        :class:`~estates.store.NoStoreError`, a file without the store's tables or at another schema version
        :class:`~estates.store.StoreOpenError`.
    """

    backend: ClassVar[str] = "gpkg"
    _column_types: ClassVar[dict[ColType, str]] = _TYPES
    _conn: sqlite3.Connection

    def __init__(self, path: str | os.PathLike[str], *, busy_timeout_ms: int = 60_000,
                 synchronous: str = "FULL", read_only: bool = False) -> None:
        super().__init__()
        if sqlite3.sqlite_version_info < _MIN_SQLITE:
            raise RuntimeError(f"the GeoPackage store needs SQLite ≥ {'.'.join(map(str, _MIN_SQLITE))}; "
                               f"this Python has {sqlite3.sqlite_version}")
        if synchronous not in ("FULL", "NORMAL"):
            raise ValueError("synchronous must be 'FULL' or 'NORMAL'")
        self.path = Path(path)
        self.location = str(self.path)
        if read_only:
            if not self.path.is_file():
                raise NoStoreError(f"no store at {self.path}")
            self._conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None,
                                         check_same_thread=False, timeout=busy_timeout_ms / 1000)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=busy_timeout_ms / 1000)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            if read_only:
                self._conn.create_function("gpkg_point", 2, gpkg_point, deterministic=True)
                self._refuse_foreign_file(reading=True)
                self._check_schema()
                return
            self._refuse_foreign_file(reading=False)
            if self._conn.execute("PRAGMA application_id").fetchone()[0] != _APPLICATION_ID:
                # Before WAL: readers such as GDAL check these header bytes in the main file, not in the WAL.
                self._conn.execute(f"PRAGMA application_id = {_APPLICATION_ID}")
                self._conn.execute(f"PRAGMA user_version = {_USER_VERSION}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise RuntimeError(f"could not switch {self.path} to WAL mode (got {mode})")
            self._conn.execute(f"PRAGMA synchronous = {synchronous}")
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA temp_store = MEMORY")
            self._conn.execute("PRAGMA cache_size = -65536")  # 64 MB: bulk saves rewrite each page once
            self._conn.create_function("gpkg_point", 2, gpkg_point, deterministic=True)
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _refuse_foreign_file(self, *, reading: bool) -> None:
        """Never read as a store, or create the store's tables in, a file holding other tables (a partner's GPKG)."""
        names = [r[0] for r in self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY "
            "name LIKE 'gpkg%' OR name LIKE 'rtree%', name")]  # the owner's own layers first
        if names and "estates_schema" not in names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise StoreOpenError(f"{self.path} is not an estates store (it holds {shown})" + (
                "" if reading else ": refusing to write the store's tables into it; name a new .gpkg file"))

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Cursor]:
        with self._lock:
            conn = self._conn
            conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            cur = _SqliteCursor(conn)
            try:
                yield cur
                for name in cur.staged:
                    conn.execute(f"DROP TABLE IF EXISTS temp.{q(name)}")
                if write:
                    conn.execute("UPDATE gpkg_contents SET last_change = ? WHERE table_name IN "
                                 "(SELECT value FROM json_each(?))",
                                 (_ts(datetime.now(UTC)), json.dumps([t.name for t in TABLES])))
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------------ dialect
    def _in_list(self) -> str:
        return "IN (SELECT value FROM json_each(?))"

    def _list_param(self, values: Sequence[str]) -> Any:
        return json.dumps(list(values))

    def _for_update(self, alias: str) -> str:
        return ""  # BEGIN IMMEDIATE already holds the file's write lock

    def _point(self, lon: str, lat: str) -> str:
        return f"gpkg_point({lon}, {lat})"

    def _json_text(self, expr: str) -> str:
        return expr

    def _serialise(self, cur: Cursor, what: str) -> None:
        return None  # one writer at a time already

    def _lock_tables(self, cur: Cursor, *tables: Table) -> None:
        return None  # BEGIN IMMEDIATE holds the whole file's write lock

    def _stage(self, cur: Cursor, name: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> None:
        assert isinstance(cur, _SqliteCursor)
        cur.execute(f"DROP TABLE IF EXISTS temp.{q(name)}")
        cur.execute(f"CREATE TEMP TABLE {q(name)} ({', '.join(f'{q(c.name)} {_TYPES[c.type]}' for c in columns)})")
        cur.staged.append(name)
        convert = [i for i, c in enumerate(columns) if c.type in ("timestamp", "boolean")]
        if convert:
            rows = [tuple(self._param(columns[i].type, v) if i in convert else v for i, v in enumerate(r))
                    for r in rows]
        cur.executemany(f"INSERT INTO {q(name)} VALUES ({', '.join('?' * len(columns))})", rows)

    def _append_audit(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        cur.executemany(
            'INSERT INTO audit (change_id, building_id, "at", actor, action, field, from_value, to_value, reason, '
            "undoes, restore) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(*r[:2], _ts(r[2]), *r[3:]) for r in rows],
        )

    def _param(self, ctype: ColType, value: Any) -> Any:
        if value is None:
            return None
        if ctype == "timestamp":
            return _ts(value)
        if ctype == "boolean":
            return int(bool(value))
        return value

    def _value(self, ctype: ColType, raw: Any) -> Any:
        if raw is None:
            return None
        if ctype == "timestamp":
            return datetime.fromisoformat(raw).astimezone(UTC) if isinstance(raw, str) else raw
        if ctype == "boolean":
            return bool(raw)
        return raw

    # ------------------------------------------------------------------ schema
    def _create_table_sql(self, table: Table) -> list[str]:
        parts = [f"{q(table.pk)} INTEGER PRIMARY KEY AUTOINCREMENT"]
        if table.geometry:
            parts.append(f"{q(table.geometry)} POINT")
        parts += table.column_definitions(_TYPES)
        return [f"CREATE TABLE IF NOT EXISTS {q(table.name)} ({', '.join(parts)})", *table.index_definitions()]

    def _existing_columns(self, cur: Cursor, table: str) -> set[str]:
        return {r[0] for r in cur.query("SELECT name FROM pragma_table_info(?)", (table,))}

    def _after_create(self, cur: Cursor) -> None:
        for statement in _GPKG_CORE:
            cur.execute(statement)
        cur.executemany("INSERT OR IGNORE INTO gpkg_spatial_ref_sys (srs_name, srs_id, organization, "
                        "organization_coordsys_id, definition, description) VALUES (?, ?, ?, ?, ?, ?)", _SRS)
        now = _ts(datetime.now(UTC))
        contents = [(t.name, t.contents, t.name, t.description, 4326 if t.geometry else None) for t in TABLES]
        contents.append((STATUS_VIEW, "features", STATUS_VIEW,
                         "Buildings with their effective status (read-only view for maps)", 4326))
        cur.executemany("INSERT OR REPLACE INTO gpkg_contents (table_name, data_type, identifier, description, "
                        "last_change, srs_id) VALUES (?, ?, ?, ?, ?, ?)",
                        [(*c[:4], now, c[4]) for c in contents])
        geometry = [(t.name, t.geometry) for t in TABLES if t.geometry] + [(STATUS_VIEW, "geom")]
        cur.executemany("INSERT OR REPLACE INTO gpkg_geometry_columns (table_name, column_name, geometry_type_name, "
                        "srs_id, z, m) VALUES (?, ?, 'POINT', 4326, 0, 0)", geometry)
