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
    "NotFoundError",
    "NothingToUndoError",
    "StaleVersionError",
    "Store",
    "StoreError",
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
) -> Store:
    """Open (creating or migrating as needed) the store at a URL or path.

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

    Returns
    -------
    Store
        A :class:`~estates.store.gpkg.GeoPackageStore` or :class:`~estates.store.postgis.PostGISStore`.

    Raises
    ------
    ValueError
        When no store is named, or the name is neither a PostgreSQL URL nor a ``.gpkg`` path.
    """
    target = url_or_path if url_or_path is not None else (os.environ.get(ENV_URL) or default_path)
    if target is None:
        raise ValueError(f"no store given: pass a path or URL, set {ENV_URL}, or give default_path")
    text = os.fspath(target)
    if text.startswith(("postgresql://", "postgres://")):
        from estates.store.postgis import PostGISStore

        pg = PostGISStore(text, schema=schema)
        pg.authoriser = authoriser
        return pg
    if schema is not None:
        raise ValueError("schema= only applies to a PostgreSQL store")
    if Path(text).suffix.lower() == ".gpkg":
        from estates.store.gpkg import GeoPackageStore

        gp = GeoPackageStore(text)
        gp.authoriser = authoriser
        return gp
    raise ValueError(f"{text!r} is neither a postgresql:// URL nor a .gpkg path")
