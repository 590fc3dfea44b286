"""Real-browser test harness: Debian's Chromium through Playwright, no outside network.

The pieces are plain functions and classes so tests can use them directly; the
pytest fixtures in ``conftest.py`` wire them together:

- :class:`NetworkGuard` lets a browser context reach only loopback hosts and inline
  URLs, and records every other request it aborts.
- :func:`serve_directory` and :func:`run_streamlit` serve pages on 127.0.0.1;
  :func:`wait_until_idle` waits for a Streamlit run to finish, :func:`search_estate`
  types into the app's sidebar search.
- :func:`assert_map_rendered` finds a Leaflet map (in the page or inside
  ``st_folium``'s iframe), checks it really has a size, counts what it drew and
  saves a screenshot in ``test-artifacts/``.
"""

from __future__ import annotations

import functools
import ipaddress
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import (
    BrowserContext,
    ConsoleMessage,
    ElementHandle,
    Error,
    FloatRect,
    Frame,
    Page,
    Route,
    WebSocketRoute,
)

__all__ = [
    "ARTIFACTS_DIR",
    "CHROMIUM_ARGS",
    "CHROMIUM_PATH",
    "REPO_ROOT",
    "ConsoleLog",
    "MapReport",
    "NetworkGuard",
    "assert_map_rendered",
    "free_port",
    "is_local_url",
    "open_popup",
    "run_streamlit",
    "search_estate",
    "serve_directory",
    "wait_until_idle",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = REPO_ROOT / "test-artifacts"
CHROMIUM_PATH = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)

_INLINE_SCHEMES = frozenset({"data", "blob", "about"})
_NETWORK_SCHEMES = frozenset({"http", "https", "ws", "wss"})
# Leaflet draws a CircleMarker as an SVG arc ("M x,y a r,r ..."); polygons and
# lines only use M/L/Z, so an "a" in the path data marks a circle.
_COUNT_CIRCLES_JS = """
() => Array.from(document.querySelectorAll('path.leaflet-interactive'))
    .filter(p => /a/i.test(p.getAttribute('d') || '')).length
"""


def is_local_url(url: str) -> bool:
    """Tell whether a browser may load ``url`` in an offline test.

    Parameters
    ----------
    url : str
        Any URL the page asks for.

    Returns
    -------
    bool
        True for ``data:``, ``blob:`` and ``about:`` URLs and for http(s)/ws(s) to
        ``localhost`` or a loopback address (127.0.0.0/8, ::1); False otherwise.
    """
    parts = urlsplit(url)
    if parts.scheme in _INLINE_SCHEMES:
        return True
    if parts.scheme not in _NETWORK_SCHEMES or not parts.hostname:
        return False
    if parts.hostname == "localhost":
        return True
    try:
        return ipaddress.ip_address(parts.hostname).is_loopback
    except ValueError:
        return False


@dataclass
class NetworkGuard:
    """Route a browser context so nothing leaves the machine, and remember what tried.

    Attributes
    ----------
    blocked : list of str
        URLs of aborted requests and refused WebSockets, in order.
    """

    blocked: list[str] = field(default_factory=list)

    def install(self, context: BrowserContext) -> None:
        """Route every request and outside WebSocket of ``context`` through the guard.

        Parameters
        ----------
        context : playwright.sync_api.BrowserContext
            A fresh context, before any page is opened in it.
        """
        context.route("**/*", self._on_request)
        # Only outside sockets are routed: Streamlit's own socket to 127.0.0.1
        # must stay a real, unproxied connection.
        context.route_web_socket(lambda url: not is_local_url(url), self._on_socket)

    def _on_request(self, route: Route) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort("blockedbyclient")

    def _on_socket(self, socket_route: WebSocketRoute) -> None:
        self.blocked.append(socket_route.url)
        socket_route.close()

    def report(self) -> str:
        """Describe the blocked requests for a failure message.

        Returns
        -------
        str
            One line per blocked URL (long ``data``-like URLs are cut), or ``""``.
        """
        return "\n".join(f"  {url[:200]}" for url in self.blocked)


@dataclass
class ConsoleLog:
    """Console errors and uncaught exceptions of a page, for failure messages.

    Attributes
    ----------
    errors : list of str
        ``console.error`` texts and uncaught exception messages, in order.
    """

    errors: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        """Start recording ``page``'s errors.

        Parameters
        ----------
        page : playwright.sync_api.Page
            The page to watch (its iframes included).
        """
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago.

    Returns
    -------
    int
        The port number.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        """Keep pytest output clean; the tests check requests themselves."""


@contextmanager
def serve_directory(directory: Path) -> Iterator[str]:
    """Serve a folder over HTTP on 127.0.0.1 from a background thread.

    Parameters
    ----------
    directory : pathlib.Path
        Folder whose files are served.

    Yields
    ------
    str
        Base URL, ending in ``/``.
    """
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def _local_get(url: str, timeout_s: float) -> str:
    """GET a loopback URL, ignoring any proxy set in the environment."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout_s) as response:
        return response.read().decode("utf-8", "replace")


@contextmanager
def run_streamlit(
    script: Path,
    *,
    startup_timeout_s: float = 60.0,
    env: Mapping[str, str | None] | None = None,
    port: int | None = None,
    extra_args: Sequence[str] = (),
    log_path: Path | None = None,
) -> Iterator[str]:
    """Run ``streamlit run script`` on a loopback port for the block's duration.

    The repo root is put on ``PYTHONPATH`` so the app can import ``estates`` and
    ``geo``. Output goes to ``test-artifacts/streamlit-<script>.log`` unless
    ``log_path`` says otherwise.

    Parameters
    ----------
    script : pathlib.Path
        The Streamlit script.
    startup_timeout_s : float, default 60
        How long to wait for the server's health check to answer.
    env : mapping, optional
        Changes to this process's environment for the app (e.g. ``ESTATES_DATABASE_URL`` for a temporary store);
        a value of ``None`` removes that variable.
    port : int, optional
        The port to listen on (from :func:`free_port`), for a caller that needs the URL before the app starts
        (e.g. a sign-in redirect URI); default a free one.
    extra_args : sequence of str, default ()
        More ``streamlit run`` options, after the harness's own (e.g. ``("--secrets.files", path)``).
    log_path : pathlib.Path, optional
        Where the server's output goes, for a caller that reads it afterwards or runs the same script twice.

    Yields
    ------
    str
        The app's URL, ``http://127.0.0.1:<port>/``.

    Raises
    ------
    RuntimeError
        If the server exits or does not answer in time (with the log's tail).
    """
    port = free_port() if port is None else port
    log_path = ARTIFACTS_DIR / f"streamlit-{script.stem}.log" if log_path is None else log_path
    log_path.parent.mkdir(parents=True, exist_ok=True)
    app_env = {**os.environ}
    for name, value in (env or {}).items():
        if value is None:
            app_env.pop(name, None)
        else:
            app_env[name] = value
    app_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), app_env.get("PYTHONPATH", "")) if p)
    # fmt: off
    command = [
        sys.executable, "-m", "streamlit", "run", str(script),
        "--server.headless", "true",
        "--server.address", "127.0.0.1",
        "--server.port", str(port),
        "--browser.gatherUsageStats", "false",
        # No reloads wanted in tests, and watching the tree costs CPU on 2 cores.
        "--server.fileWatcherType", "none",
        *extra_args,
    ]
    # fmt: on
    url = f"http://127.0.0.1:{port}/"
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=REPO_ROOT, env=app_env, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_for_health(url, process, log_path, startup_timeout_s)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_for_health(url: str, process: subprocess.Popen[bytes], log_path: Path, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if _local_get(url + "_stcore/health", timeout_s=2).strip() == "ok":
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # not listening yet
        time.sleep(0.2)
    tail = log_path.read_text("utf-8", "replace")[-3000:]
    state = "exited" if process.poll() is not None else "did not answer in time"
    raise RuntimeError(f"streamlit at {url} {state}; log tail:\n{tail}")


def wait_until_idle(page: Page, timeout_ms: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script (its status widget has gone).

    Parameters
    ----------
    page : playwright.sync_api.Page
        A page of a Streamlit app, after an action that reruns the script.
    timeout_ms : float, default 30000
        How long the run may take.
    """
    page.wait_for_timeout(300)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stStatusWidget\"]')", timeout=timeout_ms)


def search_estate(page: Page, text: str) -> None:
    """Search the estate app's buildings from the sidebar (name, postcode or UPRN) and wait for the rerun.

    Parameters
    ----------
    page : playwright.sync_api.Page
        A page of the estate app (app.py).
    text : str
        What to search for.
    """
    box = page.get_by_label("Search name, postcode or UPRN")
    box.fill(text)
    box.press("Enter")
    wait_until_idle(page)


def choose_option(page: Page, label: str, option: str, *, widget: str = "stMultiSelect",
                  within: str = "", exact: bool = False, timeout_ms: float = 60_000) -> None:
    """Open a select box (the last one labelled ``label``), pick ``option`` exactly and wait for the rerun.

    Parameters
    ----------
    page : playwright.sync_api.Page
        A page of a Streamlit app.
    label : str
        Text of the widget's label.
    option : str
        Text the option contains (all of its text with ``exact``).
    widget : str, default "stMultiSelect"
        The widget's ``data-testid`` (``stSelectbox`` for a select box).
    within : str, default ""
        A CSS selector to look in first, e.g. ``[data-testid="stSidebar"]``.
    exact : bool, default False
        Match the option's whole text (``North``, not ``North Trafford PCN``).
    timeout_ms : float, default 60000
        How long the rerun the choice starts may take.
    """
    box = page.locator(f'{within} [data-testid="{widget}"]'.strip()).filter(has_text=label).last
    choice = (page.get_by_role("option", name=option, exact=True) if exact
              else page.get_by_role("option").filter(has_text=option)).first
    for attempt in range(5):  # a click while Streamlit redraws the widget may not open it, or may close the list
        box.locator("input").click()
        if attempt % 2:  # a long list draws only the options in view: type to bring it into view
            box.locator("input").fill("")
            box.locator("input").press_sequentially(option)
        try:
            choice.wait_for(state="visible", timeout=5_000)
            choice.click(timeout=5_000)  # a rerun between seeing the option and clicking it redraws the list
            break
        except Exception:  # noqa: BLE001 - Playwright's TimeoutError: try again
            page.keyboard.press("Escape")
            wait_until_idle(page, timeout_ms=60_000)
    else:
        raise AssertionError(f"could not choose {option!r} in {label!r} after 5 tries")
    page.keyboard.press("Escape")
    wait_until_idle(page, timeout_ms=timeout_ms)


@dataclass(frozen=True)
class MapReport:
    """What :func:`assert_map_rendered` found.

    Attributes
    ----------
    frame : playwright.sync_api.Frame
        The frame holding the map (the page's main frame, or st_folium's iframe).
    iframe_box : FloatRect or None
        Bounding box of the iframe holding the map; None when the map is in the page.
    container_box : FloatRect
        Bounding box of the ``.leaflet-container``.
    markers : int
        Elements in Leaflet's marker pane: every marker and cluster icon, whatever
        its icon type.
    marker_icons : int
        ``.leaflet-marker-icon`` elements: image markers, DivIcons and clusters.
        Awesome markers (``folium.Icon``) replace Leaflet's classes and are not
        counted here, only in ``markers``.
    interactive_paths : int
        ``path.leaflet-interactive`` elements (SVG vector layers, circles included).
    circle_markers : int
        Those paths that are circles (CircleMarker/Circle).
    screenshot : pathlib.Path
        PNG of the whole page.
    """

    frame: Frame
    iframe_box: FloatRect | None
    container_box: FloatRect
    markers: int
    marker_icons: int
    interactive_paths: int
    circle_markers: int
    screenshot: Path


def find_map_frame(page: Page, deadline: float) -> Frame | None:
    """The first frame of ``page`` holding a Leaflet map, waiting until ``deadline`` (``time.monotonic()``) for one;
    ``None`` if none appears. Look again after a rerun: Streamlit may replace a component's iframe."""
    while True:
        for frame in page.frames:
            try:
                if frame.query_selector(".leaflet-container") is not None:
                    return frame
            except Error:
                continue  # frame navigated or detached while we looked
        if time.monotonic() >= deadline:
            return None
        page.wait_for_timeout(100)


def _has_area(box: FloatRect | None) -> bool:
    return box is not None and box["width"] > 0 and box["height"] > 0


def _describe_iframes(page: Page) -> str:
    lines = []
    for handle in page.query_selector_all("iframe"):
        box = handle.bounding_box()
        size = f"{box['width']:.0f}x{box['height']:.0f} px" if box else "not laid out"
        title = handle.get_attribute("title") or handle.get_attribute("src") or "?"
        lines.append(f"  iframe {title[:80]!r}: {size}")
    return "\n".join(lines) or "  (no iframes)"


def _wait_for_box(handle: ElementHandle, page: Page, deadline: float) -> FloatRect | None:
    """Bounding box of ``handle`` once it has an area and has stopped changing.

    Streamlit resizes component iframes in steps (first to the empty component's
    height, then to the map's), so the first non-zero box is not yet the final one.
    Returns the last box seen if that does not happen before ``deadline``.
    """
    previous = None
    while True:
        box = handle.bounding_box()
        if (_has_area(box) and box == previous) or time.monotonic() >= deadline:
            return box
        previous = box
        page.wait_for_timeout(100)


def assert_map_rendered(
    page: Page,
    name: str,
    *,
    timeout_ms: float = 30_000,
    console: ConsoleLog | None = None,
) -> MapReport:
    """Assert a Leaflet map really shows on ``page``; count its layers; screenshot it.

    Looks for ``.leaflet-container`` in every frame, so it finds both a plain folium
    page and the map inside ``st_folium``'s iframe. A map whose script failed has no
    container; one whose iframe Streamlit never sized is 0 px high. Both fail here
    with the iframe sizes, console errors and a screenshot path in the message. If a
    rerun replaces the map's iframe while it is measured, the new one is measured.

    Parameters
    ----------
    page : playwright.sync_api.Page
        The page, already navigated.
    name : str
        Screenshot file name (without ``.png``) under ``test-artifacts/``.
    timeout_ms : float, default 30000
        How long to wait for the map and its size.
    console : ConsoleLog, optional
        Console errors to quote if the assertion fails.

    Returns
    -------
    MapReport
        Sizes and counts, for the test's own assertions.

    Raises
    ------
    AssertionError
        If no map appears in time, or the map or its iframe has no area.
    """
    deadline = time.monotonic() + timeout_ms / 1000
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    screenshot = ARTIFACTS_DIR / f"{name}.png"

    def fail(problem: str) -> AssertionError:
        page.screenshot(path=screenshot, full_page=True)
        errors = "\n".join(f"  {e[:300]}" for e in (console.errors if console else []))
        return AssertionError(
            f"{problem}\niframes:\n{_describe_iframes(page)}\n"
            f"console errors:\n{errors or '  (none recorded)'}\n"
            f"screenshot: {screenshot}"
        )

    while True:
        frame = find_map_frame(page, deadline)
        if frame is None:
            raise fail(f"no Leaflet map (.leaflet-container) in any frame of {page.url}")
        try:
            return _measure_map(page, frame, screenshot, deadline, fail)
        except (Error, AssertionError):
            if not frame.is_detached() or time.monotonic() >= deadline:
                raise
            # A rerun replaced the map's iframe while it was measured (a page redrawn after its first run;
            # a detached iframe has no box either): measure the map that replaced it.


def _measure_map(page: Page, frame: Frame, screenshot: Path, deadline: float,
                 fail: Callable[[str], AssertionError]) -> MapReport:
    iframe = frame.frame_element() if frame.parent_frame is not None else None
    iframe_box = _wait_for_box(iframe, page, deadline) if iframe else None
    if iframe is not None and not _has_area(iframe_box):
        raise fail(f"the map's iframe has no area: {iframe_box}")
    container = frame.query_selector(".leaflet-container")
    container_box = _wait_for_box(container, page, deadline) if container else None
    if container_box is None or not _has_area(container_box):
        raise fail(f"the Leaflet container has no area: {container_box}")
    page.screenshot(path=screenshot, full_page=True)
    return MapReport(
        frame=frame,
        iframe_box=iframe_box,
        container_box=container_box,
        markers=len(frame.query_selector_all(".leaflet-marker-pane > *")),
        marker_icons=len(frame.query_selector_all(".leaflet-marker-icon")),
        interactive_paths=len(frame.query_selector_all("path.leaflet-interactive")),
        circle_markers=int(frame.evaluate(_COUNT_CIRCLES_JS)),
        screenshot=screenshot,
    )


def open_popup(frame: Frame, marker_selector: str, *, timeout_ms: float = 5000) -> str:
    """Click a marker and return the text of the popup it opens.

    Parameters
    ----------
    frame : playwright.sync_api.Frame
        Frame holding the map (``MapReport.frame``).
    marker_selector : str
        CSS selector of the marker to click; the first match is used.
    timeout_ms : float, default 5000
        How long to wait for the popup.

    Returns
    -------
    str
        The popup's visible text, stripped.
    """
    frame.locator(marker_selector).first.click()
    content = frame.locator(".leaflet-popup-content")
    content.wait_for(state="visible", timeout=timeout_ms)
    return content.inner_text().strip()
