"""On-disk answer cache for the online geocoders (private to :mod:`geo.online`).

One SQLite file (WAL journal) holds every answer a service gave, keyed by
``(service, normalised query)``, with when it was fetched. Negative answers (the
service said "no such postcode" / "nothing found") are stored as JSON ``null``
so they are not asked again either, but expire sooner than positive ones (new
postcodes and new map objects appear). Failures (timeouts, HTTP 5xx, ...) are
never stored.

The cache is safe to share between threads (one connection guarded by a lock)
and between processes (SQLite locking, WAL, busy timeout).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import sqlite3
import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

__all__ = ["GeoCache"]

_log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    service    TEXT NOT NULL,
    query      TEXT NOT NULL,
    answer     TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    PRIMARY KEY (service, query)
)
"""

#: SQLite limits the number of bound parameters; stay well below it.
_CHUNK = 400


class GeoCache:
    """Thread-safe ``(service, query) -> JSON answer`` store.

    Parameters
    ----------
    path : pathlib.Path or None
        SQLite file to use (created with its parent folder when missing).
        ``None`` keeps the cache in memory for this instance only.

    Notes
    -----
    If the file cannot be opened as a SQLite database (corrupt, unwritable
    folder) a warning is logged and an in-memory cache is used instead, so
    a broken cache never stops geocoding.
    """

    def __init__(self, path: Path | None) -> None:
        self._lock = threading.Lock()
        self.path: Path | None = path
        self._conn = self._open(path)

    # ------------------------------------------------------------------ setup
    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                conn = sqlite3.connect(str(path), timeout=30.0, check_same_thread=False, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA busy_timeout=30000")
                conn.execute(_SCHEMA)
                return conn
            except (sqlite3.Error, OSError) as exc:
                _log.warning("online geocoding cache %s unusable (%s); using an in-memory cache", path, exc)
                self.path = None
        conn = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        conn.execute(_SCHEMA)
        return conn

    # ----------------------------------------------------------------- access
    def get_many(self, service: str, queries: Iterable[str], *, max_age_s: float = math.inf,
                 negative_max_age_s: float = math.inf) -> dict[str, Any]:
        """Return the stored answers for ``queries`` that are still fresh.

        Parameters
        ----------
        service : str
            Service name, e.g. ``"postcodes_io"``.
        queries : iterable of str
            Normalised query keys.
        max_age_s, negative_max_age_s : float
            Oldest answer used (seconds since it was fetched): a positive one, and a negative one (``null``).

        Returns
        -------
        dict
            ``{query: answer}`` for the queries found and fresh; a stored negative answer is present with value
            ``None``. Queries not in the cache, expired or unreadable are absent (to be asked again).
        """
        keys = list(dict.fromkeys(queries))
        found: dict[str, Any] = {}
        now = datetime.now(UTC)
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                try:
                    rows = self._conn.execute(
                        f"SELECT query, answer, fetched_at FROM answers WHERE service = ? AND query IN ({marks})",
                        [service, *chunk],
                    ).fetchall()
                except sqlite3.Error as exc:
                    _log.warning("online geocoding cache read failed: %s", exc)
                    return found
                for query, answer, fetched_at in rows:
                    try:
                        value = json.loads(answer)
                        age = (now - datetime.fromisoformat(fetched_at)).total_seconds()
                    except (ValueError, TypeError):
                        continue  # unreadable entry: ask again
                    if 0 <= age <= (negative_max_age_s if value is None else max_age_s):
                        found[query] = value
        return found

    def put_many(self, service: str, answers: Mapping[str, Any]) -> None:
        """Store (or replace) answers.

        Parameters
        ----------
        service : str
            Service name.
        answers : mapping
            ``{query: answer}``; ``answer`` must be JSON serialisable, ``None``
            for a negative answer.
        """
        if not answers:
            return
        now = datetime.now(UTC).isoformat(timespec="seconds")
        rows = [(service, query, json.dumps(answer, separators=(",", ":")), now) for query, answer in answers.items()]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO answers (service, query, answer, fetched_at) VALUES (?, ?, ?, ?)",
                    rows,
                )
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                _log.warning("online geocoding cache write failed: %s", exc)
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close the underlying connection (idempotent)."""
        with self._lock, contextlib.suppress(sqlite3.Error):
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
