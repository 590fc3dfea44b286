"""Store fixtures: every store test runs against both backends, the embedded GeoPackage and a real PostGIS.

PostgreSQL: ``ESTATES_TEST_DATABASE_URL`` (a database where this user may create schemas; PostGIS installed or
installable) if set, else a throwaway cluster started here on 127.0.0.1 with Debian's ``initdb``/``pg_ctl`` (run as
the ``postgres`` OS user when we are root). Without PostgreSQL + PostGIS the PostGIS half fails under CI (``CI`` set)
and is skipped with the reason otherwise.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pg_cluster import PostgresUnavailable, throwaway_postgres

from estates.store import Store, open_store

BACKENDS = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS store tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database with PostGIS, for the whole session."""
    given = os.environ.get("ESTATES_TEST_DATABASE_URL")
    if given:
        yield given
        return
    try:
        server = throwaway_postgres()
        url = server.__enter__()
    except PostgresUnavailable as exc:
        _unavailable(f"{exc}, and ESTATES_TEST_DATABASE_URL is not set")
    try:
        yield url
    finally:
        server.__exit__(None, None, None)


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty store location: a GeoPackage path, or a PostGIS URL with a schema of its own."""
    if request.param == "gpkg":
        yield str(tmp_path / "estates.gpkg")
        return
    base = request.getfixturevalue("postgres_url")
    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield f"{base}{'&' if '?' in base else '?'}schema={schema}"
    import psycopg

    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An open, empty store on either backend."""
    s = open_store(store_url)
    yield s
    s.close()
