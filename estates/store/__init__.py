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
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

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

if TYPE_CHECKING:
    from estates.classification import RuleSet

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
    "reclassify",
    "rule_columns",
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

        from estates.store.postgis import PostGISStore, masked_location

        try:
            pg = PostGISStore(text, schema=schema, read_only=read_only)
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


def reclassify(store: Store, rules: RuleSet, *, actor: str, today: date | None = None) -> int:
    """Re-run the classification rules over every building in the store and save the results.

    What ``python -m estates classify`` does: read the buildings (one snapshot), classify them with
    :func:`estates.classification.classify`, save the suggestions in one transaction (audited where a status
    changed; overrides untouched).

    Parameters
    ----------
    store
        The store.
    rules
        From :func:`estates.classification.load_rules`.
    actor
        Who runs the rules (e.g. ``rules`` or the person pressing the button).
    today
        Date the rules' ``within_months`` tests count from (default: today).

    Returns
    -------
    int
        Number of buildings whose rule status changed.
    """
    from estates.classification import classify

    results = classify(store.buildings(columns=rule_columns(rules)), rules, today=today)
    return store.save_rule_results(results, actor=actor)


#: Record columns the classifier reads whatever the rules say: partners and sites (designated key sites, the
#: whole-site rule and the partner count fallback).
_CLASSIFIER_BASE = ("partner", "partner_type", "historic", "name", "postcode", "uprn", "site_id",
                    "site_partner_count")


def rule_columns(rules: RuleSet) -> list[str] | None:
    """The store columns ``classify`` needs for these rules (reading only those is ~3× faster at 100,000).

    Parameters
    ----------
    rules
        The rule set.

    Returns
    -------
    list of str or None
        Column names for :meth:`Store.buildings`, or ``None`` (read everything) when a field cannot be resolved.
    """
    try:
        from estates._rules import EXTRA_PREFIX, field_info
    except ImportError:  # pragma: no cover - the classifier changed shape: read everything
        return None
    needed = dict.fromkeys(_CLASSIFIER_BASE)
    for name in rules.fields:
        if name.startswith(EXTRA_PREFIX):
            needed["extra"] = None
            continue
        try:
            info = field_info(name)
        except (KeyError, ValueError):
            return None
        for column in info.inputs or (name,):
            needed[column] = None
    return list(needed)
