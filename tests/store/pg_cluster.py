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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

__all__ = ["PostgresServer", "PostgresUnavailable", "throwaway_postgres", "throwaway_server"]


class PostgresUnavailable(RuntimeError):
    """PostgreSQL or PostGIS is not installed here."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(cmd: list[str], *, as_postgres: bool, check: bool = True) -> subprocess.CompletedProcess[str]:
    if as_postgres:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=120)


@dataclass
class PostgresServer:
    """A running throwaway server: its URL (a database with PostGIS), and stop/start/restart for fault tests."""

    url: str
    bindir: Path
    data: Path
    log: Path
    options: str
    as_postgres: bool

    def stop(self) -> None:
        """Stop the server (``-m fast``: every session is told "terminating connection due to administrator")."""
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"],
             as_postgres=self.as_postgres)

    def is_running(self) -> bool:
        """True while the server is up (``pg_ctl status``: 0 running, 3 not)."""
        return _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "status"], as_postgres=self.as_postgres,
                    check=False).returncode == 0

    def start(self) -> None:
        """Start the server again on the same port."""
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", self.options, "-l", str(self.log), "-w",
              "start"], as_postgres=self.as_postgres)

    def restart(self, *, down_for: float = 0.0) -> None:
        """Stop the server, stay down ``down_for`` seconds, start it again (what an upgrade or a crash looks like)."""
        self.stop()
        time.sleep(down_for)
        self.start()


@contextmanager
def throwaway_postgres(*, durable: bool = False) -> Iterator[str]:
    """Start a server in a temporary folder; yield the URL of a database with PostGIS; stop and delete it after.

    Parameters
    ----------
    durable
        Keep PostgreSQL's default fsync settings (for benchmarks). Tests turn fsync off: they kill clients, not
        the server.
    """
    with throwaway_server(durable=durable) as server:
        yield server.url


@contextmanager
def throwaway_server(*, durable: bool = False) -> Iterator[PostgresServer]:
    """:func:`throwaway_postgres`, yielding the :class:`PostgresServer` (to restart it mid-test)."""
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
        server = PostgresServer(f"postgresql://postgres@127.0.0.1:{port}/estates_test", bindir, data,
                                tmp / "server.log", options, as_postgres)
        server.start()
        try:
            import psycopg

            with psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres", autocommit=True) as conn:
                conn.execute("CREATE DATABASE estates_test")
            with psycopg.connect(server.url, autocommit=True) as conn:
                conn.execute("CREATE EXTENSION postgis")
            yield server
        finally:  # not checked: a fault test may have left it stopped
            _run([str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"],
                 as_postgres=as_postgres, check=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
