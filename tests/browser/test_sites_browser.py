"""Sites in a real browser: a confirmed match leaves one marker where there were two; an upload's rejected rows are
nowhere on the map (the status colour of a site's one marker is checked in test_app_browser.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Frame

from estates.service import read_estate, resolve_site
from estates.store import open_store

from .harness import ARTIFACTS_DIR, assert_map_rendered, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"
_IDS_JS = """() => window.map ? Object.values(window.map._layers)
    .filter(l => l.options && l.options.buildingId !== undefined).map(l => l.options.buildingId) : null"""


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _marker_ids(frame: Frame, expected_total: int, timeout_s: float = 30) -> list[str]:
    """The site ids of the markers drawn, once the map shows ``expected_total`` of them."""
    deadline = time.monotonic() + timeout_s
    ids: list[str] = []
    while time.monotonic() < deadline:
        ids = frame.evaluate(_IDS_JS) or []
        if len(ids) == expected_total:
            return ids
        frame.page.wait_for_timeout(200)
    return ids


def _located_sites(store_path: Path) -> int:
    with open_store(store_path) as store:
        return int(read_estate(store).sites["lat"].notna().sum())


def test_confirming_a_proposal_leaves_one_marker_where_there_were_two(page, app_url, module_store, console_log):
    with open_store(module_store) as store:
        estate = read_estate(store)
        pairs = store.site_matches()
    proposed = pairs[(pairs["status"] == "proposed") & pairs["decision"].isna() & pairs["current"].astype(bool)]
    first = proposed.sort_values("score", ascending=False, ignore_index=True).iloc[0]  # the page's default
    a, b = str(first["building_id_a"]), str(first["building_id_b"])
    before = {resolve_site(estate, a), resolve_site(estate, b)}
    assert len(before) == 2

    page.goto(app_url)
    report = assert_map_rendered(page, "sites_before_confirm", console=console_log)
    ids = _marker_ids(report.frame, _located_sites(module_store))
    assert len(before & set(ids)) == 2

    page.goto(app_url + "matches")
    page.get_by_text("Matches: are these the same site?", exact=True).wait_for(timeout=60_000)
    assert_map_rendered(page, "sites_matches_view", console=console_log)
    page.get_by_label("Reason (required)").fill("Same building: browser test")
    wait_until_idle(page)
    page.get_by_role("button", name="Confirm: one site").click()
    page.get_by_text("are now one site").wait_for(timeout=60_000)
    page.screenshot(path=ARTIFACTS_DIR / "sites_matches_confirmed.png")

    with open_store(module_store) as store:
        after = read_estate(store)
    merged = resolve_site(after, a)
    assert merged == resolve_site(after, b)
    page.goto(app_url)
    report = assert_map_rendered(page, "sites_after_confirm", console=console_log)
    ids = _marker_ids(report.frame, _located_sites(module_store))
    assert len(ids) == len(after.sites[after.sites["lat"].notna()])
    assert [i for i in ids if i in before | {merged}] == [merged]


def test_rejected_rows_of_an_upload_appear_nowhere_on_the_map(page, app_url, module_store, tmp_path, console_log):
    register = tmp_path / "browser_hubs.csv"
    register.write_text("Name,Postcode\nBrowser test hub,M32 0TH\nBrowser twin,M33 7ZF\nBrowser twin,M33 7ZF\n"
                        "Browser nowhere,ZZ99 9ZZ\n", encoding="utf-8")
    page.goto(app_url + "data")
    page.get_by_text("Load a register", exact=True).first.wait_for(timeout=60_000)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(register)
    page.get_by_text("rows read as CSV").wait_for(timeout=30_000)
    name = page.get_by_label("New partner's name")
    name.fill("Browser test partner")
    name.press("Enter")
    wait_until_idle(page)
    page.get_by_role("button", name="Preview the load").click()
    page.get_by_text("Write these 4 rows for Browser test partner to the store").click()
    wait_until_idle(page)
    page.get_by_role("button", name="Write to the store").click()
    page.get_by_text("rejected (kept with the load").wait_for(timeout=60_000)

    with open_store(module_store) as store:
        rejected = store.rejected_rows()
        records = read_estate(store).records
    mine = rejected[rejected["partner"] == "Browser test partner"]
    assert len(mine) >= 2  # the repeated row and the row that cannot be located
    assert not set(mine["row_id"]) & set(records["building_id"])

    page.goto(app_url)
    report = assert_map_rendered(page, "sites_after_upload", console=console_log)
    ids = _marker_ids(report.frame, _located_sites(module_store))
    assert ids
    assert not [i for i in ids if any(r in i for r in mine["row_id"])]
    shown = page.locator("body").inner_text()
    assert "Browser nowhere" not in shown
