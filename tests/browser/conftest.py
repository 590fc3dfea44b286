"""pytest fixtures for real-browser tests (see ``harness.py`` for the pieces).

- ``chromium``: one headless Debian Chromium for the session (never a downloaded one).
- ``page``: a fresh context and page whose requests may only reach loopback hosts
  and inline URLs; the test fails at teardown if anything tried to go elsewhere,
  unless it is marked ``outside_requests_expected`` (for tests of that failure).
- ``network_guard`` / ``console_log``: what the ``page`` fixture recorded.
- ``streamlit_app``: start a Streamlit script on a loopback port, once per session.
- ``module_store``: a copy of the seeded demo store shared by one test module (the app that module starts writes
  to it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from .harness import (
    CHROMIUM_ARGS,
    CHROMIUM_PATH,
    ConsoleLog,
    NetworkGuard,
    run_streamlit,
)


def pytest_configure(config: pytest.Config) -> None:
    """Register this suite's marker."""
    config.addinivalue_line(
        "markers",
        "outside_requests_expected: the test checks blocked outside requests itself; "
        "the page fixture does not fail on them",
    )


@pytest.fixture(scope="session")
def chromium() -> Iterator[Browser]:
    """Debian's headless Chromium, shared by the session."""
    if not CHROMIUM_PATH.is_file():
        pytest.fail(f"{CHROMIUM_PATH} not found: browser tests need Debian's Chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM_PATH), args=list(CHROMIUM_ARGS), headless=True
        )
        yield browser
        browser.close()


@pytest.fixture
def network_guard() -> NetworkGuard:
    """The guard the ``page`` fixture installs; its ``blocked`` list is readable."""
    return NetworkGuard()


@pytest.fixture
def console_log() -> ConsoleLog:
    """Console errors of the ``page`` fixture's page."""
    return ConsoleLog()


@pytest.fixture
def page(
    chromium: Browser,
    network_guard: NetworkGuard,
    console_log: ConsoleLog,
    request: pytest.FixtureRequest,
) -> Iterator[Page]:
    """A page that cannot reach outside hosts; fails the test if it tried to."""
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    network_guard.install(context)
    page = context.new_page()
    console_log.attach(page)
    yield page
    context.close()
    expected = request.node.get_closest_marker("outside_requests_expected")
    if network_guard.blocked and expected is None:
        pytest.fail(
            f"the page tried to reach {len(network_guard.blocked)} outside URL(s) (blocked):\n{network_guard.report()}"
        )


@pytest.fixture(scope="session")
def streamlit_app() -> Iterator[Callable[[Path], str]]:
    """Start a Streamlit script (once per session per script) and return its URL.

    Every server started is stopped at the end of the session.
    """
    urls: dict[Path, str] = {}
    with ExitStack() as stack:

        def start(script: Path) -> str:
            script = script.resolve()
            if script not in urls:
                urls[script] = stack.enter_context(run_streamlit(script))
            return urls[script]

        yield start


@pytest.fixture(scope="module")
def module_store(seeded_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the seeded store (``seeded_store``) for one test module and the app it starts.

    Parameters
    ----------
    seeded_store : pathlib.Path
        The demo estate, seeded once per session (``tests/conftest.py``).
    tmp_path_factory : pytest.TempPathFactory
        Where the copy goes.

    Returns
    -------
    pathlib.Path
        The copy's ``estates.gpkg``; the module's tests see each other's writes.
    """
    path = tmp_path_factory.mktemp("module-store") / "estates.gpkg"
    shutil.copyfile(seeded_store, path)
    return path
