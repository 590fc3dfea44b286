"""Shared backend: PostgreSQL + PostGIS, chosen by a ``postgresql://`` URL.

All tables live in one PostgreSQL schema (``estates`` unless the URL says ``?schema=name``), with geometry as
``geometry(Point, 4326)`` and a GiST index, so QGIS lists ``buildings``, ``sites`` and ``buildings_status`` as point
layers. The connection runs in autocommit mode and every store operation opens an explicit transaction. Row locks
(``SELECT … ORDER BY building_id FOR UPDATE``) are always taken in building-id order, and machine runs of one kind
(ingest, rules, matching, migrations) are serialised with transaction-level advisory locks.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg import sql as pgsql

from estates.store._open import NoStoreError, StoreOpenError
from estates.store._sql import (
    AUDIT,
    CLASSIFICATIONS,
    TABLES,
    ColType,
    Column,
    Cursor,
    SqlStore,
    Table,
    arrow_frame,
    dump_json,
    q,
)

__all__ = ["PostGISStore", "masked_location", "split_url"]

_TYPES: dict[ColType, str] = {"text": "text", "real": "double precision", "integer": "bigint",
                              "boolean": "boolean", "json": "jsonb", "timestamp": "timestamptz"}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_AUDIT_COPY = ("change_id", "building_id", "at", "actor", "action", "field", "from_value", "to_value", "reason",
               "undoes", "restore")


@cache
def _pg_sql(text: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (literal ``%`` doubled)."""
    return text.replace("%", "%%").replace("?", "%s")


def split_url(url: str, schema: str | None = None) -> tuple[str, str]:
    """Split the store's ``?schema=`` option off a PostgreSQL URL.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database?schema=estates&application_name=...``
    schema
        Explicit schema; wins over the URL's.

    Returns
    -------
    tuple
        The URL for libpq (without ``schema``) and the schema name.
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    from_url = [v for k, v in query if k == "schema"]
    name = schema or (from_url[-1] if from_url else "estates")
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"schema {name!r}: use lower-case letters, digits and _ (e.g. 'estates')")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), name


def masked_location(url: str, schema: str | None = None) -> str:
    """How messages name a store: its URL without the password, and its schema."""
    try:
        conninfo, name = split_url(url, schema)
    except ValueError:
        return "(a PostgreSQL URL that cannot be read)"
    return f"{_masked(conninfo)} (schema {name})"


def _masked(url: str) -> str:
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return url


def _connect_timeout(conninfo: str) -> dict[str, int]:
    """A 10 s connect timeout unless the URL or ``PGCONNECT_TIMEOUT`` sets one (libpq's default waits forever)."""
    import os

    from psycopg.conninfo import conninfo_to_dict

    if "connect_timeout" in conninfo_to_dict(conninfo) or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": 10}


class _PgCursor:
    def __init__(self, cur: psycopg.Cursor[Any]) -> None:
        self.raw = cur

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        self.raw.execute(_pg_sql(sql), params)  # type: ignore[arg-type]
        return self.raw.rowcount

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> int:
        rows = list(rows)
        if not rows:
            return 0
        self.raw.executemany(_pg_sql(sql), rows)  # type: ignore[arg-type]
        return self.raw.rowcount

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        self.raw.execute(_pg_sql(sql), params)  # type: ignore[arg-type]
        return self.raw.fetchall()


class PostGISStore(SqlStore):
    """The store in a PostgreSQL database with PostGIS.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database`` (libpq URL; ``?schema=name`` picks the schema).
    schema
        Schema holding the store's tables (default: from the URL, else ``estates``); created when missing. A schema
        that already holds other tables but not the store's is refused, never written.
    read_only
        Open for reading only (every transaction ``READ ONLY``): nothing is created, migrated or written; a missing
        schema or one without the store's tables raises :class:`~estates.store.NoStoreError`, another schema version
        :class:`~estates.store.StoreOpenError`.
    """

    backend: ClassVar[str] = "postgis"
    _column_types: ClassVar[dict[ColType, str]] = _TYPES
    _conn: psycopg.Connection[Any]

    def __init__(self, url: str, *, schema: str | None = None, read_only: bool = False) -> None:
        super().__init__()
        conninfo, self.schema = split_url(url, schema)
        self.location = masked_location(url, schema)
        self._conn = psycopg.connect(conninfo, autocommit=True, **_connect_timeout(conninfo))
        try:
            self._conn.execute("SET TimeZone = 'UTC'")
            if read_only:
                self._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
                if not self._conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone():
                    raise NoStoreError(f"no estates store in {self.location} (the schema does not exist)")
                path = self._conn.execute("SELECT current_setting('search_path')").fetchone()
                self._conn.execute("SELECT set_config('search_path', %s, false)",
                                   (f'"{self.schema}", {path[0] if path else "public"}',))
                self._refuse_foreign_schema(reading=True)
                self._check_schema()
                return
            self._refuse_foreign_schema(reading=False)
            has = self._conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone()
            if not has:
                try:
                    self._conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise StoreOpenError(
                        f"PostGIS is not installed in {self.location} and this user cannot install it "
                        f"({str(exc).strip()}); ask an administrator to run CREATE EXTENSION postgis") from None
            self._conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self.schema)))
            path = self._conn.execute("SELECT current_setting('search_path')").fetchone()
            self._conn.execute("SELECT set_config('search_path', %s, false)",
                               (f'"{self.schema}", {path[0] if path else "public"}',))
            self._migrate()
        except BaseException:
            self._conn.close()
            raise

    def _refuse_foreign_schema(self, *, reading: bool) -> None:
        """Never read as a store, or create the store's tables in, a schema holding other tables (bar extensions')."""
        names = [r[0] for r in self._conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT EXISTS "
            "(SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
            "AND d.deptype = 'e') ORDER BY c.relname", (self.schema,)).fetchall()]
        if names and "estates_schema" not in names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise StoreOpenError(f"{self.location} is not an estates store (the schema holds {shown})" + (
                "" if reading else ": refusing to write the store's tables into it; name another schema (?schema=…)"))

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Cursor]:
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            if not write:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield _PgCursor(cur)

    def _read_table(self, sql: str, params: Sequence[Any], columns: Sequence[Column]) -> pd.DataFrame:
        """Read through ``COPY (query) TO STDOUT`` as CSV, parsed columnar by pyarrow: no Python object per value.

        Parameters are bound by psycopg (COPY takes no server-side parameters); one statement in a REPEATABLE READ
        transaction is one snapshot.
        """
        import pyarrow as pa
        import pyarrow.csv as pacsv

        kinds = {"text": pa.large_string(), "json": pa.large_string(), "real": pa.float64(), "integer": pa.int64(),
                 "boolean": pa.bool_(), "timestamp": pa.large_string()}
        buffer = io.BytesIO()
        with self._lock, self._conn.transaction(), self._conn.cursor() as cur:
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            with cur.copy(f"COPY ({_pg_sql(sql)}) TO STDOUT WITH (FORMAT csv)", params or None) as copy:
                for block in copy:
                    buffer.write(block)
        buffer.seek(0)
        if not buffer.getbuffer().nbytes:
            table = pa.table({c.name: pa.array([], type=kinds[c.type]) for c in columns})
        else:
            table = pacsv.read_csv(
                buffer,
                read_options=pacsv.ReadOptions(column_names=[c.name for c in columns]),
                convert_options=pacsv.ConvertOptions(
                    column_types={c.name: kinds[c.type] for c in columns}, null_values=[""], true_values=["t"],
                    false_values=["f"], strings_can_be_null=True, quoted_strings_can_be_null=False),
            )
        frame = arrow_frame(table, [Column(c.name, "text") if c.type == "timestamp" else c for c in columns])
        for c in columns:
            if c.type == "timestamp":
                frame[c.name] = pd.to_datetime(frame[c.name], utc=True, format="ISO8601").astype("datetime64[ms, UTC]")
            elif c.type == "json":  # jsonb's own text form -> the store's canonical JSON text
                frame[c.name] = pd.Series([None if pd.isna(v) else dump_json(json.loads(v)) for v in frame[c.name]],
                                          dtype="str")
        return frame

    # ------------------------------------------------------------------ dialect
    def _in_list(self) -> str:
        return "= ANY(?::text[])"

    def _list_param(self, values: Sequence[str]) -> Any:
        return list(values)

    def _for_update(self, alias: str) -> str:
        return f" FOR UPDATE OF {alias}"

    def _point(self, lon: str, lat: str) -> str:
        return f"ST_SetSRID(ST_MakePoint(({lon})::float8, ({lat})::float8), 4326)"

    def _json_text(self, expr: str) -> str:
        return f"({expr})::text"

    def _serialise(self, cur: Cursor, what: str) -> None:
        cur.query("SELECT pg_advisory_xact_lock(hashtext(?))", (f"estates:{self.schema}:{what}",))

    def _lock_tables(self, cur: Cursor, *tables: Table) -> None:
        # EXCLUSIVE: plain reads go on; writers (and SELECT … FOR UPDATE) wait until this run commits. Cheaper than
        # 100,000 row locks, and deadlock-free because every bulk run locks its tables first, in TABLES order.
        order = [t for t in TABLES if t in tables]
        cur.execute(f"LOCK TABLE {', '.join(q(t.name) for t in order)} IN EXCLUSIVE MODE")

    def _stage(self, cur: Cursor, name: str, columns: Sequence[Column], rows: list[tuple[Any, ...]]) -> None:
        assert isinstance(cur, _PgCursor)
        cols = ", ".join(f"{q(c.name)} {_TYPES[c.type]}" for c in columns)
        cur.execute(f"DROP TABLE IF EXISTS pg_temp.{q(name)}")
        cur.execute(f"CREATE TEMP TABLE {q(name)} ({cols}) ON COMMIT DROP")
        with cur.raw.copy(f"COPY {q(name)} ({', '.join(q(c.name) for c in columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _append_audit(self, cur: Cursor, rows: list[tuple[Any, ...]]) -> None:
        assert isinstance(cur, _PgCursor)
        if len(rows) < 20:
            cur.executemany(
                f"INSERT INTO audit ({', '.join(q(c) for c in _AUDIT_COPY)}) VALUES ({', '.join('?' * 11)})", rows)
            return
        with cur.raw.copy(f"COPY audit ({', '.join(q(c) for c in _AUDIT_COPY)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def _param(self, ctype: ColType, value: Any) -> Any:
        return value

    def _value(self, ctype: ColType, raw: Any) -> Any:
        if raw is None:
            return None
        if ctype == "timestamp":
            return raw.astimezone(UTC) if isinstance(raw, datetime) else datetime.fromisoformat(raw)
        if ctype == "json":
            return dump_json(raw)  # psycopg parsed the jsonb; back to canonical text
        return raw

    # ------------------------------------------------------------------ schema
    def _create_table_sql(self, table: Table) -> list[str]:
        parts = [f"{q(table.pk)} bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"]
        if table.geometry:
            parts.append(f"{q(table.geometry)} geometry(Point, 4326)")
        parts += table.column_definitions(_TYPES)
        # classifications are rewritten by every rule run: room on each page lets PostgreSQL update in place (HOT)
        storage = " WITH (fillfactor = 50)" if table is CLASSIFICATIONS else ""
        statements = [f"CREATE TABLE IF NOT EXISTS {q(table.name)} ({', '.join(parts)}){storage}",
                      *table.index_definitions()]
        if table.geometry:
            statements.append(f"CREATE INDEX IF NOT EXISTS {q('idx_' + table.name + '_geom')} "
                              f"ON {q(table.name)} USING GIST ({q(table.geometry)})")
        if table is AUDIT:
            statements.append(f"COMMENT ON TABLE {q(table.name)} IS 'append-only: never UPDATE or DELETE'")
        return statements

    def _existing_columns(self, cur: Cursor, table: str) -> set[str]:
        rows = cur.query("SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
                         "AND table_name = ?", (self.schema, table))
        return {r[0] for r in rows}
