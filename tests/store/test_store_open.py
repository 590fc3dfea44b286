"""Opening a store that is not there, not reachable, not ours or damaged: one line, exit 2, no password, no write.

Real engines only: a throwaway PostgreSQL (``pg_cluster.py``) with a password-checked role, and real files — a
partner's GeoPackage written by GDAL, a store cut in half, bytes that are no database. The CLI runs as the user runs
it (``python -m estates …`` in a subprocess).
"""

from __future__ import annotations

import hashlib
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from store_helpers import trafford_records

from estates.store import NoStoreError, StoreOpenError, open_store

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "s3cret-Pa55word-7f2c"  # must never reach stderr
BUILDING = "trafford-council:TMBC0008/T0000001"


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "ESTATES_DATABASE_URL"}
    full.update({"ESTATES_ACTOR": "store.open.test", **(env or {})})
    return subprocess.run([sys.executable, "-m", "estates", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=full)


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    return lines[0]


def digest(path: Path) -> tuple[str, list[str]]:
    """The file's bytes and the names beside it (a write would change one or the other, or add -journal files)."""
    return hashlib.sha256(path.read_bytes()).hexdigest(), sorted(p.name for p in path.parent.iterdir())


# ---------------------------------------------------------------------------------------------- GeoPackage files
@pytest.fixture
def partner_gpkg(tmp_path: Path) -> Path:
    """A partner's own GeoPackage, written by GDAL (pyogrio): one point layer of their sites."""
    import geopandas as gpd
    from shapely.geometry import Point

    path = tmp_path / "partner" / "partner.gpkg"
    path.parent.mkdir()
    frame = gpd.GeoDataFrame({"name": ["Stretford Library"], "postcode": ["M32 0LG"]},
                             geometry=[Point(-2.3105, 53.4465)], crs="EPSG:4326")
    frame.to_file(path, layer="sites", driver="GPKG")
    return path


def test_history_and_export_never_write_a_partners_geopackage(partner_gpkg: Path, tmp_path: Path) -> None:
    before = digest(partner_gpkg)
    line = one_error_line(cli("history", BUILDING, "--store", str(partner_gpkg)))
    assert line.startswith(f"error: {partner_gpkg} is not an estates store (it holds sites, gpkg_contents, ")
    out = tmp_path / "buildings.csv"
    export = cli("export", "buildings", "--out", str(out), env={"ESTATES_DATABASE_URL": str(partner_gpkg)})
    assert "is not an estates store" in one_error_line(export)
    assert not out.exists()
    assert digest(partner_gpkg) == before
    with sqlite3.connect(partner_gpkg) as conn:
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "estates_schema" not in names
    assert "buildings" not in names


def test_a_write_refuses_a_geopackage_that_is_not_ours(partner_gpkg: Path) -> None:
    before = digest(partner_gpkg)
    line = one_error_line(cli("classify", "--store", str(partner_gpkg)))
    assert line.startswith(f"error: {partner_gpkg} is not an estates store (it holds sites, ")
    assert line.endswith("refusing to write the store's tables into it; name a new .gpkg file")
    with pytest.raises(StoreOpenError, match="not an estates store"):
        open_store(partner_gpkg)
    assert digest(partner_gpkg) == before


def test_reading_a_missing_store_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "estates.gpkg"
    assert one_error_line(cli("history", BUILDING, "--store", str(path))) == f"error: no store at {path}"
    with pytest.raises(NoStoreError):
        open_store(path, read_only=True)
    assert not path.parent.exists()


@pytest.fixture(scope="module")
def small_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real store with one building and one person's change (closed, so the file holds everything)."""
    path = tmp_path_factory.mktemp("small") / "estates.gpkg"
    with open_store(path) as store:
        records = trafford_records().head(3)
        store.upsert_buildings(records, actor="ingest", source="assets.csv")
        first = records["building_id"].iloc[0]
        store.set_status(first, "surplus", reason="open test", actor="a.person",
                         expected_version=store.building(first).version)
    return path


def test_history_reads_a_real_store_without_writing_it(small_store: Path) -> None:
    first = trafford_records()["building_id"].iloc[0]
    before = hashlib.sha256(small_store.read_bytes()).hexdigest()
    result = cli("history", first, "--store", str(small_store))
    assert result.returncode == 0, result.stderr
    assert "open test" in result.stdout
    assert hashlib.sha256(small_store.read_bytes()).hexdigest() == before


@pytest.mark.parametrize("damage", ["random bytes", "csv text", "zero header", "cut in half", "empty folder"])
def test_damaged_or_foreign_files_are_one_line(damage: str, small_store: Path, tmp_path: Path) -> None:
    path = tmp_path / "estates.gpkg"
    good = small_store.read_bytes()
    if damage == "random bytes":
        path.write_bytes(os.urandom(20_000))
    elif damage == "csv text":
        path.write_text("name,postcode\nTrafford Town Hall,M32 0TH\n", encoding="utf-8")
    elif damage == "zero header":
        path.write_bytes(b"\0" * 100 + good[100:])
    elif damage == "cut in half":
        path.write_bytes(good[: len(good) // 2])
    else:
        path.mkdir()
    before = None if path.is_dir() else path.read_bytes()
    for args in (("history", BUILDING, "--store", str(path)), ("classify", "--store", str(path))):
        line = one_error_line(cli(*args))
        assert str(path) in line
        if damage != "empty folder":
            assert ("file is not a database" in line or "malformed" in line), line
    if before is not None:
        assert path.read_bytes() == before


# ---------------------------------------------------------------------------------------------- PostgreSQL
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _with(url: str, *, user: str | None = None, password: str | None = None, port: int | None = None,
          database: str | None = None, query: str = "") -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{user or parts.username}{':' + password if password else ''}@{host}:{port or parts.port}"
    return urlunsplit((parts.scheme, netloc, f"/{database}" if database else parts.path, query, ""))


@pytest.fixture(scope="module")
def password_role(postgres_url: str) -> Iterator[str]:
    """A role that must give its password (scram-sha-256 in pg_hba.conf); yields its URL without the password."""
    role = f"pw_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        hba = conn.execute("SHOW hba_file").fetchone()[0]
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{PASSWORD}'")
        conn.execute(f"GRANT CREATE ON DATABASE {urlsplit(postgres_url).path.lstrip('/')} TO {role}")
        original = Path(hba).read_text(encoding="utf-8")
        Path(hba).write_text(f"host all {role} 127.0.0.1/32 scram-sha-256\n{original}", encoding="utf-8")
        conn.execute("SELECT pg_reload_conf()")
    try:
        yield _with(postgres_url, user=role)
    finally:
        Path(hba).write_text(original, encoding="utf-8")
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f"DROP OWNED BY {role} CASCADE")
            conn.execute(f"DROP ROLE {role}")


@pytest.mark.postgis
def test_wrong_password_is_one_line_without_the_password(password_role: str) -> None:
    wrong = _with(password_role, password=PASSWORD + "x", query="schema=wrong_pw")
    for args in (("history", BUILDING, "--store", wrong), ("classify", "--store", wrong)):
        result = cli(*args)
        line = one_error_line(result)
        assert 'password authentication failed for user "pw_' in line
        assert PASSWORD not in result.stderr + result.stdout
        assert ":***@" in line
    with pytest.raises(StoreOpenError, match="password authentication failed") as caught:
        open_store(wrong)
    assert PASSWORD not in str(caught.value)
    # The right password opens it (the check above is the password, not the role).
    right = _with(password_role, password=PASSWORD, query="schema=right_pw")
    with open_store(right) as store:
        assert store.schema_version >= 1


@pytest.mark.postgis
def test_unreachable_server_and_missing_database_are_one_line(postgres_url: str) -> None:
    nobody = _with(postgres_url, password=PASSWORD, port=_free_port())
    result = cli("history", BUILDING, "--store", nobody)
    line = one_error_line(result)
    assert "Connection refused" in line
    assert PASSWORD not in result.stderr
    missing = _with(postgres_url, database=f"no_such_db_{uuid.uuid4().hex[:6]}")
    line = one_error_line(cli("classify", "--store", missing))
    assert "does not exist" in line


@pytest.mark.postgis
def test_reading_never_creates_a_schema_or_writes_into_someone_elses(postgres_url: str) -> None:
    schema = f"partner_{uuid.uuid4().hex[:8]}"
    url = f"{postgres_url}?schema={schema}"
    line = one_error_line(cli("history", BUILDING, "--store", url))
    assert line.startswith("error: no estates store in ")
    assert "the schema does not exist" in line
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        assert conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone() is None
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".sites (id int, name text)')
    try:
        line = one_error_line(cli("history", BUILDING, "--store", url))
        assert line.endswith(f"(schema {schema}) is not an estates store (the schema holds sites)")
        line = one_error_line(cli("classify", "--store", url))
        assert "refusing to write the store's tables into it" in line
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))]
        assert tables == ["sites"]
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.mark.postgis
def test_a_read_only_postgis_store_refuses_writes_at_the_server(postgres_url: str) -> None:
    url = f"{postgres_url}?schema=ro_{uuid.uuid4().hex[:8]}"
    open_store(url).close()  # create it
    with open_store(url, read_only=True) as store, pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        store.upsert_buildings(trafford_records().head(1), actor="ingest", source="assets.csv")
