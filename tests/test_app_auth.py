"""The app's start-up guard and embedded-default banner (AppTest): bound beyond this machine without sign-in, the
app refuses to start and shows no data; on 127.0.0.1 it says sign-in is not configured and who changes are recorded
as. (Sign-in itself, with a real identity provider, is in ``tests/browser/test_signin_browser.py``.)
"""

from __future__ import annotations

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
