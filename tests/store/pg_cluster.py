"""A throwaway PostgreSQL + PostGIS server on 127.0.0.1, for the store tests and benchmarks.

Uses Debian's ``initdb``/``pg_ctl`` (``apt-get install postgresql postgresql-15-postgis-3``); when we are root the
server runs as the ``postgres`` OS user (PostgreSQL refuses to run as root).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["PostgresUnavailable", "throwaway_postgres"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is not installed here."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool) -> None:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)


@contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """Start a server in a temporary folder; yield the URL of a database with PostGIS; stop and delete it after.

    Parameters
    ----------
    durable
        Keep PostgreSQL's default fsync settings (for benchmarks). Tests turn fsync off: they kill clients, not
        the server.
    """
    bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not bins:
        raise PostgresUnavailable("PostgreSQL is not installed (apt-get install postgresql postgresql-15-postgis-3)")
    bindir = Path(bins[-1]).parent
    version = bindir.parent.name
    if not glob.glob(f"/usr/share/postgresql/{version}/extension/postgis.control"):
        raise PostgresUnavailable(f"PostGIS for PostgreSQL {version} is not installed "
                                  f"(apt-get install postgresql-{version}-postgis-3)")
    as_postgres = os.geteuid() == 0
    tmp = Path(tempfile.mkdtemp(prefix="estates-pg-"))
    if as_postgres:
        shutil.chown(tmp, user="postgres")
    data, port = tmp / "data", _free_port()
    try:
        _run([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8",
              "--no-sync"], as_postgres=as_postgres)
        options = f"-p {port} -k {tmp} -c listen_addresses=127.0.0.1 -c max_connections=50"
        if not durable:
            options += " -c fsync=off -c full_page_writes=off"
        _run([str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(tmp / "server.log"), "-w",
              "start"], as_postgres=as_postgres)
        try:
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE estates_test")
            url = f"postgresql://postgres@127.0.0.1:{port}/estates_test"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
            yield url
        finally:
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                 as_postgres=as_postgres)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
