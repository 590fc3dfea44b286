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
from pg_cluster import PostgresServer, PostgresUnavailable, throwaway_server

from estates.store import Store, open_store

BACKENDS = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS store tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer | None]:
    """The session's throwaway PostgreSQL server; None when ``ESTATES_TEST_DATABASE_URL`` names one instead."""
    if os.environ.get("ESTATES_TEST_DATABASE_URL"):
        yield None
        return
    try:
        context = throwaway_server()
        server = context.__enter__()
    except PostgresUnavailable as exc:
        _unavailable(f"{exc}, and ESTATES_TEST_DATABASE_URL is not set")
    try:
        yield server
    finally:
        context.__exit__(None, None, None)


@pytest.fixture(scope="session")
def postgres_url(postgres_server: PostgresServer | None) -> str:
    """URL of a PostgreSQL database with PostGIS, for the whole session."""
    return postgres_server.url if postgres_server else os.environ["ESTATES_TEST_DATABASE_URL"]


@pytest.fixture
def restartable_postgres(postgres_server: PostgresServer | None) -> Iterator[PostgresServer]:
    """The session's throwaway server, for tests that stop and restart it (not possible on a given URL); running
    again afterwards, so a test that failed while it was down leaves the next tests a server."""
    if postgres_server is None:
        _unavailable("restart tests need the throwaway server, not ESTATES_TEST_DATABASE_URL")
    assert postgres_server is not None
    yield postgres_server
    if not postgres_server.is_running():
        postgres_server.start()


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
