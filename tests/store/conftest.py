"""Store fixtures: every store test runs against both backends, the embedded GeoPackage and a real PostGIS.

PostgreSQL: ``ESTATES_TEST_DATABASE_URL`` (a database where this user may create schemas; PostGIS installed or
installable) if set, else a throwaway cluster started here on 127.0.0.1 with Debian's ``initdb``/``pg_ctl`` (run as
the ``postgres`` OS user when we are root). Without PostgreSQL + PostGIS the PostGIS half fails under CI (``CI`` set)
and is skipped with the reason otherwise.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from estates.store import Store, open_store

BACKENDS = ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostGIS store tests cannot run under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a PostgreSQL database with PostGIS, for the whole session."""
    given = os.environ.get("ESTATES_TEST_DATABASE_URL")
    if given:
        yield given
        return
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        _unavailable("PostgreSQL is not installed (apt-get install postgresql postgresql-15-postgis-3), "
                     "and ESTATES_TEST_DATABASE_URL is not set")
    bindir = Path(bins[-1]).parent
    version = bindir.parent.name
    if not glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
        _unavailable(f"PostGIS for PostgreSQL {version} is not installed (apt-get install "
                     f"postgresql-{version}-postgis-3)")
    as_postgres = os.geteuid() == 0  # postgres refuses to run as root
    tmp = Path(tempfile.mkdtemp(prefix="estates-pg-"))
    if as_postgres:
        shutil.chown(tmp, user="postgres")
    data, port = tmp / "data", _free_port()
    _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync"],
         as_postgres=as_postgres)
    options = (f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off "
               "-c max_connections=50")
    _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(tmp / "server.log"), "-w", "start"],
         as_postgres=as_postgres)
    try:
        import psycopg

        admin = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute("CREATE DATABASE estates_test")
        url = f"postgresql://postgres@127.0.0.1:{port}/estates_test"
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION postgis")
        yield url
    finally:
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], as_postgres=as_postgres)
        shutil.rmtree(tmp, ignore_errors=True)


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
