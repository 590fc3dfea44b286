"""Shared backend: PostgreSQL + PostGIS, chosen by a ``postgresql://`` URL.

All tables live in one PostgreSQL schema (``estates`` unless the URL says ``?schema=name``), with geometry as
``geometry(Point, 4326)`` and a GiST index, so QGIS lists ``buildings``, ``sites`` and ``buildings_status`` as point
layers. Connections come from a :class:`psycopg_pool.ConnectionPool` (one per store, living as long as the store):
every store operation borrows one connection for one explicit transaction, so editors in different threads work side
by side and one slow query holds one connection, not the store. A borrowed connection is checked first; after a
server restart the dead ones are dropped and the pool reconnects by itself. Every statement runs under a
``statement_timeout``. Row locks (``SELECT … ORDER BY building_id FOR UPDATE``) are always taken in building-id
order, and machine runs of one kind (ingest, rules, matching, migrations) are serialised with transaction-level
advisory locks.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cache
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg import errors as pgerrors
from psycopg import sql as pgsql
from psycopg_pool import ConnectionPool, PoolTimeout

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
from estates.store.base import StoreError

__all__ = ["DatabaseUnavailableError", "PostGISStore", "StatementTimeoutError", "masked_location", "split_url"]

_log = logging.getLogger(__name__)

_TYPES: dict[ColType, str] = {"text": "text", "real": "double precision", "integer": "bigint",
                              "boolean": "boolean", "json": "jsonb", "timestamp": "timestamptz"}
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_AUDIT_COPY = ("change_id", "building_id", "at", "actor", "action", "field", "from_value", "to_value", "reason",
               "undoes", "restore")

#: The store's own URL options (taken off the URL before it reaches libpq) and their defaults.
POOL_SIZE = 10
POOL_TIMEOUT_S = 30.0
STATEMENT_TIMEOUT_S = 60.0
_OPTIONS = ("schema", "pool_size", "pool_timeout", "statement_timeout")
#: How long the pool retries one lost connection (backoff 1, 2, 4 s …) before starting over (``_reconnect_failed``).
#: Short, so that during a long outage attempts stay seconds apart, not minutes (psycopg_pool's default is 5 minutes
#: of doubling delays): the store is back within a couple of seconds of the server.
_RECONNECT_S = 5.0


class DatabaseUnavailableError(StoreError, ConnectionError):
    """The PostgreSQL server could not be reached, or the connection broke during the operation.

    The message says whether the change was certainly not saved (the connection broke before ``COMMIT``) or may have
    been (it broke during ``COMMIT``: reload and look). The store reconnects by itself; try again.
    """


class StatementTimeoutError(StoreError, TimeoutError):
    """A statement ran (or waited for a lock) longer than the store's ``statement_timeout``; nothing was saved."""


@cache
def _pg_sql(text: str) -> str:
    """``?`` placeholders to psycopg's ``%s`` (literal ``%`` doubled)."""
    return text.replace("%", "%%").replace("?", "%s")


def _split(url: str) -> tuple[str, dict[str, str]]:
    """The libpq URL without the store's own options, and those options (the last of each wins)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    options = {k: v for k, v in query if k in _OPTIONS}
    rest = urlencode([(k, v) for k, v in query if k not in _OPTIONS])
    return urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment)), options


def split_url(url: str, schema: str | None = None) -> tuple[str, str]:
    """Split the store's own options (``?schema=``, ``?pool_size=`` …) off a PostgreSQL URL.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database?schema=estates&application_name=...``
    schema
        Explicit schema; wins over the URL's.

    Returns
    -------
    tuple
        The URL for libpq (without the store's options) and the schema name.
    """
    conninfo, options = _split(url)
    name = schema or options.get("schema") or "estates"
    if not _SCHEMA_NAME.match(name):
        raise ValueError(f"schema {name!r}: use lower-case letters, digits and _ (e.g. 'estates')")
    return conninfo, name


def _number(name: str, given: float | None, text: str | None, default: float, *, integer: bool = False) -> float:
    """An option from the keyword (wins), else the URL, else ``default``; must be ≥ 0 (≥ 1 for a size)."""
    if given is None and text is None:
        return default
    value: float
    try:
        value = float(given if given is not None else str(text))
    except ValueError:
        value = -1.0
    low = 1.0 if integer else 0.0
    if not value >= low or (integer and not value.is_integer()) or value == float("inf"):
        kind = "a whole number ≥ 1" if integer else "a number of seconds ≥ 0"
        raise ValueError(f"{name} must be {kind}, got {given if given is not None else text!r}")
    return value


def _milliseconds(seconds: float) -> int:
    """A timeout in whole milliseconds; a positive one never rounds down to 0 (PostgreSQL's "no limit")."""
    return max(1, round(seconds * 1000)) if seconds > 0 else 0


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


def _connect_timeout(conninfo: str, seconds: float) -> dict[str, int]:
    """A connect timeout unless the URL or ``PGCONNECT_TIMEOUT`` sets one (libpq's default waits forever)."""
    import os

    from psycopg.conninfo import conninfo_to_dict

    if "connect_timeout" in conninfo_to_dict(conninfo) or os.environ.get("PGCONNECT_TIMEOUT"):
        return {}
    return {"connect_timeout": max(1, round(seconds))}


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
    """The store in a PostgreSQL database with PostGIS, used through a pool of connections.

    Parameters
    ----------
    url
        ``postgresql://user:password@host:port/database`` (libpq URL). The store's own options may ride along:
        ``?schema=``, ``?pool_size=``, ``?pool_timeout=``, ``?statement_timeout=`` (keywords win over the URL).
    schema
        Schema holding the store's tables (default: from the URL, else ``estates``); created when missing. A schema
        that already holds other tables but not the store's is refused, never written.
    read_only
        Open for reading only (every transaction ``READ ONLY``): nothing is created, migrated or written; a missing
        schema or one without the store's tables raises :class:`~estates.store.NoStoreError`, another schema version
        :class:`~estates.store.StoreOpenError`.
    pool_size
        Most connections the store holds open (default 10): that many operations run at once, the next ones wait
        for a free connection.
    pool_timeout
        Seconds an operation waits for a connection (all busy, or the server down or restarting) before it fails
        with :class:`DatabaseUnavailableError` (default 30).
    statement_timeout
        Seconds one statement may run, waiting for locks included, before PostgreSQL cancels it and the operation
        fails with :class:`StatementTimeoutError`, nothing saved (default 60; 0: no limit).

    Raises
    ------
    DatabaseUnavailableError
        When the server cannot be reached or refuses the login (the message is libpq's).
    """

    backend: ClassVar[str] = "postgis"
    _column_types: ClassVar[dict[ColType, str]] = _TYPES
    _pool: ConnectionPool[psycopg.Connection[Any]]

    def __init__(self, url: str, *, schema: str | None = None, read_only: bool = False, pool_size: int | None = None,
                 pool_timeout: float | None = None, statement_timeout: float | None = None) -> None:
        super().__init__()
        conninfo, self.schema = split_url(url, schema)
        self.read_only = read_only
        options = _split(url)[1]
        self.pool_size = int(_number("pool_size", pool_size, options.get("pool_size"), POOL_SIZE, integer=True))
        self.pool_timeout = _number("pool_timeout", pool_timeout, options.get("pool_timeout"), POOL_TIMEOUT_S)
        self.statement_timeout = _number("statement_timeout", statement_timeout, options.get("statement_timeout"),
                                         STATEMENT_TIMEOUT_S)
        self.location = masked_location(url, schema)
        # An unreachable host would hang (libpq waits forever): at most 10 s, or what the URL / PGCONNECT_TIMEOUT say.
        kwargs: dict[str, Any] = {"autocommit": True, **_connect_timeout(conninfo, min(self.pool_timeout, 10.0))}
        self._prepare_database(conninfo, kwargs, read_only=read_only)
        self._pool = ConnectionPool(
            conninfo, kwargs=kwargs, min_size=min(2, self.pool_size), max_size=self.pool_size,
            timeout=self.pool_timeout, reconnect_timeout=_RECONNECT_S, reconnect_failed=self._reconnect_failed,
            configure=self._configure, check=self._check, open=False, name=f"estates:{self.schema}")
        try:
            self._pool.open(wait=True, timeout=max(self.pool_timeout, 1.0))
            if read_only:
                self._check_schema()
            else:
                self._migrate()
        except PoolTimeout as exc:
            self._pool.close()
            raise DatabaseUnavailableError(f"cannot connect to {self.location}: {exc}") from exc
        except BaseException:
            self._pool.close()
            raise

    def close(self) -> None:
        """Close the pool: idle connections at once, borrowed ones when their operation ends. Safe to call twice."""
        self._pool.close()

    def _prepare_database(self, conninfo: str, kwargs: dict[str, Any], *, read_only: bool) -> None:
        """PostGIS and the schema, on a connection of its own: a wrong URL or password fails here, with its reason.

        Read-only, nothing is created: a missing schema is :class:`NoStoreError`. Either way a schema holding
        someone else's tables is refused.
        """
        try:
            conn = psycopg.connect(conninfo, **kwargs)
        except psycopg.OperationalError as exc:
            reason = " ".join(str(exc).split())
            raise DatabaseUnavailableError(f"cannot connect to {self.location}: {reason}") from exc
        with conn:
            if read_only:
                if not conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)).fetchone():
                    raise NoStoreError(f"no estates store in {self.location} (the schema does not exist)")
                self._refuse_foreign_schema(conn, reading=True)
                return
            self._refuse_foreign_schema(conn, reading=False)
            if not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'").fetchone():
                try:
                    conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
                except psycopg.Error as exc:
                    raise StoreOpenError(
                        f"PostGIS is not installed in {self.location} and this user cannot install it "
                        f"({str(exc).strip()}); ask an administrator to run CREATE EXTENSION postgis") from None
            conn.execute(pgsql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(pgsql.Identifier(self.schema)))

    def _refuse_foreign_schema(self, conn: psycopg.Connection[Any], *, reading: bool) -> None:
        """Never read as a store, or create the store's tables in, a schema holding other tables (bar extensions')."""
        names = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND NOT EXISTS "
            "(SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid "
            "AND d.deptype = 'e') ORDER BY c.relname", (self.schema,)).fetchall()]
        if names and "estates_schema" not in names:
            shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
            raise StoreOpenError(f"{self.location} is not an estates store (the schema holds {shown})" + (
                "" if reading else ": refusing to write the store's tables into it; name another schema (?schema=…)"))

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        """Session settings of every new pooled connection: UTC, the store's schema first, the statement timeout,
        and every transaction READ ONLY for a store opened to read."""
        conn.execute(
            "SELECT set_config('TimeZone', 'UTC', false), "
            "set_config('search_path', %s || ', ' || current_setting('search_path'), false), "
            "set_config('statement_timeout', %s, false), "
            "set_config('default_transaction_read_only', %s, false)",
            (f'"{self.schema}"', str(_milliseconds(self.statement_timeout)), "on" if self.read_only else "off"))

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        """Health check of a borrowed connection (one empty round trip).

        A dead one means the server went away (restart, failover): drop every idle connection at once, so the next
        operations get new ones instead of each finding a dead one and backing off.
        """
        try:
            ConnectionPool.check_connection(conn)
        except psycopg.Error:
            _log.warning("a pooled connection to %s is dead; reconnecting", self.location)
            self._pool.drain()
            raise

    @staticmethod
    def _reconnect_failed(pool: ConnectionPool[Any]) -> None:
        """The pool gave a lost connection up after ``_RECONNECT_S``: start trying again at once.

        Left alone, psycopg_pool opens the next connection only for the next *new* request, so requests already
        waiting (every editor, during an outage) would sit out their whole ``pool_timeout`` after the server came
        back. ``check()`` lets the pool grow again when it has no connection.
        """
        pool.check()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def _transaction(self, *, write: bool) -> Iterator[psycopg.Cursor[Any]]:
        """A pooled connection for one transaction; connection loss and timeouts become the store's errors."""
        committing = lost = False
        try:
            with self._pool.connection() as conn:
                try:
                    with conn.transaction(), conn.cursor() as cur:
                        if not write:
                            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                        yield cur
                        committing = True
                except psycopg.OperationalError:
                    lost = conn.broken
                    if lost:
                        self._pool.drain()  # the server went away: the idle connections are most likely dead too
                    raise
        except PoolTimeout as exc:
            raise DatabaseUnavailableError(
                f"no connection to {self.location} within {self.pool_timeout:g} s (server down or every "
                f"connection busy){'; nothing was saved' if write else ''}. Try again.") from exc
        except pgerrors.QueryCanceled as exc:
            raise StatementTimeoutError(
                f"the database took longer than statement_timeout ({self.statement_timeout:g} s)"
                f"{'; nothing was saved' if write else ''}. Try again later.") from exc
        except psycopg.OperationalError as exc:
            if not lost:
                raise
            reason = " ".join(str(exc).split()) or type(exc).__name__
            where = f"the connection to {self.location} broke"
            if write and committing:
                message = (f"{where} while saving ({reason}): the change may or may not have been saved; "
                           "reload and check.")
            elif write:
                message = f"{where} ({reason}); nothing was saved. Try again."
            else:
                message = f"{where} ({reason}). Try again."
            raise DatabaseUnavailableError(message) from exc

    @contextmanager
    def _tx(self, *, write: bool) -> Iterator[Cursor]:
        with self._transaction(write=write) as cur:
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
        with (self._transaction(write=False) as cur,
              cur.copy(f"COPY ({_pg_sql(sql)}) TO STDOUT WITH (FORMAT csv)", params or None) as copy):
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
