"""The North neighbourhood page's one-page profile download in headless Chromium, every outside host blocked: the PDF
is made when pressed, downloads, is one A4 page and says the area's name and its headline figures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page
from test_profile_sheet import _pdf_text  # tests/ is on sys.path (pytest imports tests/browser as a package from it)

from estates.analysis.profiles import area_profiles
from estates.service import read_estate
from estates.store import open_store

from .harness import ARTIFACTS_DIR, ConsoleLog, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def test_north_locality_downloads_its_one_page_profile(page: Page, app_url: str, module_store: Path,
                                                       console_log: ConsoleLog) -> None:
    page.goto(app_url)
    page.get_by_role("link", name="North neighbourhood").click()
    button = page.get_by_role("button", name="One-page profile (PDF)")
    button.wait_for(timeout=90_000)
    wait_until_idle(page, timeout_ms=60_000)
    assert page.get_by_role("button", name="One-page profile (PNG)").is_visible()
    button.scroll_into_view_if_needed()
    page.screenshot(path=ARTIFACTS_DIR / "app_locality_profile_button.png")

    with page.expect_download(timeout=120_000) as download:
        button.click()
    assert download.value.suggested_filename == "trafford-north-profile.pdf"
    data = Path(download.value.path()).read_bytes()

    assert data.startswith(b"%PDF")
    text = _pdf_text(data)
    assert "North neighbourhood, Tra" in text  # "ff" is one ligature glyph in the PDF
    with open_store(module_store) as store:
        records = read_estate(store).records
    north = records[records["neighbourhood"].astype("object") == "North"]
    profile = area_profiles(north, "neighbourhood").set_index("area").loc["North"]
    assert f"{profile['population']:,.0f}" in text
    assert f"{north['site_id'].nunique():,}" in text
    assert not console_log.errors
