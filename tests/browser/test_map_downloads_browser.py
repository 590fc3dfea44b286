"""Map downloads in headless Chromium, every outside host blocked (issue 16): each map page (Estate map, North
locality, Profiles, Overlap) offers the same download set, and on Overlap filtered to North the PNG and PDF that
arrive are fitted to North and titled with the filter — checked from the files themselves.
"""

from __future__ import annotations

import io
import re
import shutil
import zlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Locator, Page

from estates.maps import STATUS_COLOURS
from pages._downloads import DOWNLOAD_LABELS

from .harness import ARTIFACTS_DIR, ConsoleLog, choose_option, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
#: Page → the name its download row was given (file names and widget keys).
PAGES = {"Estate map": "estate-map", "North neighbourhood": "locality", "Profiles": "profile", "Overlap": "overlap"}


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _open(page: Page, name: str) -> list[str]:
    """Open a page; the labels of its map download row, once drawn."""
    page.get_by_role("link", name=name).click()
    wait_until_idle(page, timeout_ms=90_000)
    page.get_by_text("Download this map and its data").wait_for(timeout=90_000)
    labels: list[str] = []
    for _ in range(120):  # the previous page's elements go as the new page's arrive
        labels = _download_labels(page, PAGES[name])
        if len(labels) == len(DOWNLOAD_LABELS):
            break
        page.wait_for_timeout(500)
    return labels


def _download_labels(page: Page, row: str) -> list[str]:
    buttons = page.locator(f'[class*="st-key-{row}_download_"] [data-testid="stDownloadButton"]')
    return [b.inner_text().strip().splitlines()[-1].strip() for b in buttons.all()]  # the label after the icon


def _button(page: Page, key: str) -> Locator:
    """The (visible) download button of widget ``key``."""
    return page.locator(f".st-key-{key} button >> visible=true").first


def _pdf_subject(data: bytes) -> str:
    raw = re.search(rb"/Subject \(((?:\\.|[^\\)])*)\)", data, re.S)
    assert raw is not None
    text = re.sub(rb"\\([()\\])", rb"\1", raw.group(1))
    return text[2:].decode("utf-16-be") if text.startswith(b"\xfe\xff") else text.decode("latin-1")


def test_every_map_page_offers_the_same_downloads(page: Page, app_url: str, console_log: ConsoleLog) -> None:
    page.goto(app_url)
    page.get_by_text("estate map").first.wait_for(timeout=90_000)
    for name in PAGES:
        assert _open(page, name) == list(DOWNLOAD_LABELS.values()), name
    assert not console_log.errors


def test_overlap_filtered_to_north_downloads_a_north_png_and_pdf(
        page: Page, app_url: str, console_log: ConsoleLog) -> None:
    page.goto(app_url)
    page.get_by_text("estate map").first.wait_for(timeout=90_000)
    _open(page, "Overlap")
    choose_option(page, "Neighbourhood", "North", within='[data-testid="stSidebar"]', exact=True)
    # The download row (the last thing on the page) has been drawn again for North.
    page.get_by_text(re.compile(r"^\d+ sites in North — filters: Neighbourhood: North")).wait_for(timeout=60_000)
    wait_until_idle(page, timeout_ms=60_000)

    with page.expect_download(timeout=120_000) as png_download:
        _button(page, "overlap_download_png").click()
    assert png_download.value.suggested_filename == "trafford-overlap-north.png"
    png = Path(png_download.value.path()).read_bytes()
    image = Image.open(io.BytesIO(png))
    assert image.size == (2338, 1654)
    assert image.info["Title"] == "Trafford estate: sites by status — North neighbourhood"
    assert image.info["Description"].startswith("Filters: Neighbourhood: North")
    # Fitted to North: its sites spread across the map rather than sitting in one corner of the borough.
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    core = np.array([int(STATUS_COLOURS["core"][i:i + 2], 16) for i in (1, 3, 5)])
    _ys, xs = np.nonzero(np.abs(pixels - core).sum(axis=2) < 30)
    assert xs.max() - xs.min() > 0.45 * image.size[0]
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    shutil.copyfile(png_download.value.path(), ARTIFACTS_DIR / "overlap-north-download.png")

    with page.expect_download(timeout=120_000) as pdf_download:
        _button(page, "overlap_download_pdf").click()
    pdf = Path(pdf_download.value.path()).read_bytes()
    assert pdf.startswith(b"%PDF")
    assert _pdf_subject(pdf).startswith("Filters: Neighbourhood: North")
    drawn = b"".join(zlib.decompress(s) for s in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.S)
                     if s[:1] == b"x")
    assert b"(N) " in drawn  # the page's text is drawn (the full check of the PDF's text: tests/test_map_exports.py)

    # The Overlap page's own Buildings PNG follows the same filter.
    with page.expect_download(timeout=120_000) as buildings:
        _button(page, "download_buildings_png").click()
    info = Image.open(io.BytesIO(Path(buildings.value.path()).read_bytes())).info
    assert buildings.value.suggested_filename == "trafford-buildings.png"
    assert info["Title"] == "Trafford estate: buildings by status — North neighbourhood"
    assert not console_log.errors
