"""Shared fixtures. Tests run on the real Trafford reference data in data/trafford/."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).parent))

from network_guard import Guard  # noqa: E402
from online_server import FakeGeoServer  # noqa: E402


@pytest.fixture(autouse=True)
def loopback_only():
    """Fail any test that tries to connect to (or resolve) an address off this machine: no request leaves it."""
    Guard.violations.clear()
    Guard.armed = True
    try:
        yield
    finally:
        Guard.armed = False
    assert not Guard.violations, f"non-loopback network access: {Guard.violations}"


@pytest.fixture(autouse=True)
def private_default_store(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's default store is a file of its own (commands that write the store never touch var/)."""
    monkeypatch.setenv("ESTATES_DATABASE_URL", str(tmp_path_factory.mktemp("store") / "estates.gpkg"))


@pytest.fixture(scope="session")
def seeded_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo estate in an embedded store, seeded once per test session (copy it before writing)."""
    from estates.service import load_registers
    from estates.store import open_store

    path = tmp_path_factory.mktemp("seeded") / "template.gpkg"
    with open_store(path) as store:
        load_registers(store)
    return path


@pytest.fixture
def store_path(seeded_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the seeded store, which the app under test uses (``ESTATES_DATABASE_URL``)."""
    path = tmp_path / "estates.gpkg"
    shutil.copyfile(seeded_store, path)
    monkeypatch.setenv("ESTATES_DATABASE_URL", str(path))
    return path


@pytest.fixture(scope="module")
def geo_server() -> Iterator[FakeGeoServer]:
    """A real HTTP server on 127.0.0.1 speaking postcodes.io and Nominatim from fixtures (one per test module)."""
    server = FakeGeoServer().start()
    yield server
    server.stop()


@pytest.fixture
def server(geo_server: FakeGeoServer) -> Iterator[FakeGeoServer]:
    """The module's fake geocoding server with no faults and no recorded requests."""
    geo_server.reset()
    yield geo_server
    geo_server.reset()
