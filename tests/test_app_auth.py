"""The app's start-up guard and embedded-default banner (AppTest): bound beyond this machine without sign-in, the
app refuses to start and shows no data; on 127.0.0.1 it says sign-in is not configured and who changes are recorded
as. The real ``streamlit run app.py`` process bound to every interface without sign-in exits at start-up, before
answering anything. (Sign-in itself, with a real identity provider, is in ``tests/browser/test_signin_browser.py``.)
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit import config
from streamlit.testing.v1 import AppTest

from estates.identity import local_user

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")


@pytest.fixture
def bind_address() -> Iterator[None]:
    """Restore ``server.address`` after a test changes it."""
    before = config.get_option("server.address")
    yield
    config.set_option("server.address", before)


@pytest.mark.usefixtures("bind_address")
@pytest.mark.parametrize("address", ["0.0.0.0", "192.0.2.10", None])
def test_refuses_to_start_beyond_loopback_without_sign_in(store_path: Path, address: str | None) -> None:
    config.set_option("server.address", address)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    assert len(at.error) == 1
    assert "Not started" in at.error[0].value
    assert "sign-in is not configured" in at.error[0].value
    assert not at.dataframe  # no data shown
    assert not at.sidebar.multiselect  # not even the filters


@pytest.mark.usefixtures("bind_address")
def test_loopback_without_sign_in_shows_banner_and_os_user(store_path: Path) -> None:
    config.set_option("server.address", "127.0.0.1")
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    assert not at.exception
    banners = [b.value for b in at.sidebar.info]
    assert f"Sign-in is not configured: changes are recorded as **{local_user()}**." in banners


# ------------------------------------------------------------------ the real server process: refused at start-up
ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start(address: str, secrets: Path, store: Path) -> tuple[subprocess.Popen[str], int]:
    """``streamlit run app.py --server.address ADDRESS`` as a user types it (plus a free port and our secrets file;
    ``browser.serverAddress`` only keeps Streamlit from looking up this machine's public IP on the internet)."""
    port = _free_port()
    env = {**os.environ, "ESTATES_DATABASE_URL": str(store), "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.address", address,
               "--server.port", str(port), "--secrets.files", str(secrets), "--browser.serverAddress", "127.0.0.1",
               "--server.fileWatcherType", "none"]
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True), port


def _health(port: int) -> int | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as response:
            return response.status
    except (OSError, urllib.error.URLError):
        return None


def test_server_bound_to_every_interface_without_sign_in_exits_at_start_up(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text("# no [auth]: sign-in is not configured\n", encoding="utf-8")
    process, port = _start("0.0.0.0", secrets, tmp_path / "estates.gpkg")
    deadline = time.monotonic() + 120
    try:
        while process.poll() is None:  # poll the health check for as long as the process lives
            assert _health(port) is None, "the server answered a request"
            assert time.monotonic() < deadline, "the server neither refused nor started"
            time.sleep(0.05)
    finally:
        if process.poll() is None:
            process.kill()
    out, err = process.communicate()
    assert process.returncode == 2, (out, err)
    ours = [line for line in err.splitlines() if line.startswith("error: ")]
    assert ours == ["error: This app is listening on 0.0.0.0 but sign-in is not configured, so anyone who can "
                    "reach it could change the estate. It will not start like this. Either listen on this machine "
                    "only (server.address = \"127.0.0.1\" in .streamlit/config.toml) or configure sign-in ([auth] "
                    "in .streamlit/secrets.toml, see docs/deployment.md)."]
    assert "Traceback" not in err
    assert not (tmp_path / "estates.gpkg").exists()  # nothing was opened, let alone written


def test_server_bound_to_every_interface_with_sign_in_configured_starts(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text('[auth]\nredirect_uri = "http://127.0.0.1:9/oauth2callback"\ncookie_secret = "x' + "7" * 40
                       + '"\nclient_id = "c"\nclient_secret = "s"\n'
                       'server_metadata_url = "http://127.0.0.1:9/.well-known/openid-configuration"\n',
                       encoding="utf-8")
    process, port = _start("0.0.0.0", secrets, tmp_path / "estates.gpkg")
    try:
        deadline = time.monotonic() + 120
        while _health(port) != 200:
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.2)
    finally:
        process.terminate()
        process.communicate(timeout=30)
