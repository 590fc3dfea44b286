"""Durable, audited store of buildings, sites, classifications and their history.

One interface (:class:`Store`), two backends with the same behaviour:

* embedded (default): a single GeoPackage file (SQLite, WAL mode) that also opens in QGIS;
* shared: PostgreSQL + PostGIS, chosen by a ``postgresql://`` URL (e.g. in ``ESTATES_DATABASE_URL``).

See ``docs/store.md``.

Examples
--------
>>> from estates.store import open_store
>>> store = open_store(default_path="var/estates.gpkg")  # doctest: +SKIP
>>> b = store.building("trafford-council:TMBC0001/T0000003")  # doctest: +SKIP
>>> store.set_status(b.building_id, "surplus", reason="Vacant since 2023", actor="alice",
...                  expected_version=b.version)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from estates.store._open import NoStoreError, StoreOpenError, one_line, without_password
from estates.store.base import (
    ACTIONS,
    DECISIONS,
    UNDOABLE_ACTIONS,
    AuditEntry,
    BuildingNotFoundError,
    BuildingState,
    Conflict,
    NotFoundError,
    NothingToUndoError,
    StaleVersionError,
    Store,
    StoreError,
    format_history,
)

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "ENV_URL",
    "UNDOABLE_ACTIONS",
    "AuditEntry",
    "BuildingNotFoundError",
    "BuildingState",
    "Conflict",
    "NoStoreError",
    "NotFoundError",
    "NothingToUndoError",
    "StaleVersionError",
    "Store",
    "StoreError",
    "StoreOpenError",
    "format_history",
    "open_store",
]

#: Environment variable naming the store when the caller gives none.
ENV_URL = "ESTATES_DATABASE_URL"


def open_store(
    url_or_path: str | os.PathLike[str] | None = None,
    *,
    default_path: str | os.PathLike[str] | None = None,
    schema: str | None = None,
    authoriser: Callable[[str, str, Sequence[str]], None] | None = None,
    read_only: bool = False,
) -> Store:
    """Open the store at a URL or path: for writing (creating or migrating it as needed), or for reading only.

    Parameters
    ----------
    url_or_path
        ``postgresql://…`` (or ``postgres://…``) for PostGIS; a path ending ``.gpkg`` for the embedded GeoPackage.
        ``None``: the ``ESTATES_DATABASE_URL`` environment variable, else ``default_path``.
    default_path
        The embedded file to use when neither ``url_or_path`` nor the environment names a store (the caller decides
        where that lives, e.g. ``var/estates.gpkg``).
    schema
        PostGIS only: schema for the tables (default ``?schema=`` in the URL, else ``estates``).
    authoriser
        Permission check every write runs (an :class:`estates.auth.Authoriser`); ``None`` (the embedded default and
        the CLI): any named actor may write.
    read_only
        Read only (``history``, ``export``): nothing is created, migrated or written, whatever is at the target.

    Returns
    -------
    Store
        A :class:`~estates.store.gpkg.GeoPackageStore` or :class:`~estates.store.postgis.PostGISStore`.

    Raises
    ------
    ValueError
        When no store is named, or the name is neither a PostgreSQL URL nor a ``.gpkg`` path.
    StoreOpenError
        When the store cannot be opened: the server is unreachable or refuses the login, the file is not a
        GeoPackage or is damaged, it (or the schema) holds someone else's tables, or its schema version is one this
        tool cannot use. One line, naming the store without its password.
    NoStoreError
        ``read_only`` and nothing is stored there yet.
    """
    target = url_or_path if url_or_path is not None else (os.environ.get(ENV_URL) or default_path)
    if target is None:
        raise ValueError(f"no store given: pass a path or URL, set {ENV_URL}, or give default_path")
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        import psycopg

        from estates.store.postgis import DatabaseUnavailableError, PostGISStore, masked_location

        try:
            pg = PostGISStore(text, schema=schema, read_only=read_only)
        except DatabaseUnavailableError as exc:  # unreachable, or the login refused: its message names no password
            raise StoreOpenError(without_password(one_line(exc), text)) from None
        except (psycopg.Error, RuntimeError) as exc:  # RuntimeError: a schema version newer than this tool's
            where = without_password(masked_location(text, schema), text)
            raise StoreOpenError(without_password(f"cannot open the store {where}: {one_line(exc)}", text)) from None
        pg.authoriser = authoriser
        return pg
    if schema is not None:
        raise ValueError("schema= only applies to a PostgreSQL store")
    if Path(text).suffix.lower() == ".gpkg":
        import sqlite3

        from estates.store.gpkg import GeoPackageStore

        try:
            gp = GeoPackageStore(text, read_only=read_only)
        except sqlite3.DatabaseError as exc:
            damaged = isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError)
            hint = " (not a GeoPackage, or a damaged one)" if damaged else ""
            raise StoreOpenError(f"cannot open the store {text}: {one_line(exc)}{hint}") from None
        except RuntimeError as exc:  # an old SQLite, no WAL, or a schema version newer than this tool's
            raise StoreOpenError(f"cannot open the store {text}: {one_line(exc)}") from None
        gp.authoriser = authoriser
        return gp
    raise ValueError(f"{text!r} is neither a postgresql:// URL nor a .gpkg path")
