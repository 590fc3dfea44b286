"""The Data page's partner data requests in headless Chromium: request → download → fill → upload → preview → confirm.

And a partner type with no register: its register template is downloaded, filled in and loaded through the page's
normal register upload as that partner's register. Every outside host is blocked (the ``page`` fixture).
"""

from __future__ import annotations

import getpass
import re
from collections.abc import Iterator
from pathlib import Path

import openpyxl
import pytest
from playwright.sync_api import Page

from estates.store import open_store

from .harness import ARTIFACTS_DIR, run_streamlit, wait_until_idle

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

APP = Path(__file__).resolve().parents[2] / "app.py"


@pytest.fixture(scope="module")
def app_url(module_store: Path) -> Iterator[str]:
    """The app on a loopback port, reading and writing the module's store."""
    with run_streamlit(APP, env={"ESTATES_DATABASE_URL": str(module_store)}) as url:
        yield url


def _download(page: Page, label: str | re.Pattern[str], target: Path) -> Path:
    button = page.locator('[data-testid="stDownloadButton"]').filter(has_text=label)
    with page.expect_download() as info:
        button.locator("button, a").first.click()
    info.value.save_as(target)
    return target


def test_request_upload_preview_confirm(page: Page, app_url: str, module_store: Path, tmp_path: Path,
                                        console_log) -> None:  # noqa: ANN001
    page.goto(app_url + "data")
    page.get_by_text("Partner data requests", exact=True).wait_for(timeout=60_000)
    page.get_by_role("button", name="Prepare the data request").click()
    wait_until_idle(page)
    request = _download(page, re.compile("Download the data request"), tmp_path / "request.xlsx")

    book = openpyxl.load_workbook(request)
    ws = book["Facts"]
    col = {c.value: c.column for c in ws[1]}
    assert ws.cell(2, col["Record ids"]).value.startswith("trafford-council:")  # the partner most in need first
    filled: list[str] = []
    for r in range(2, ws.max_row + 1):
        if "Utilisation" in (ws.cell(r, col["Would be decided by"]).value or "") and len(filled) < 3:
            ws.cell(r, col["Utilisation %"]).value = "10%"
            filled += ws.cell(r, col["Record ids"]).value.split("; ")
    ws.cell(2 + len(filled), col["Condition"]).value = "Z"  # refused, with its reason
    returned = tmp_path / "council_return.xlsx"
    book.save(returned)

    page.get_by_text("Load a returned data request", exact=True).click()
    wait_until_idle(page)
    page.locator('.st-key-facts_file input[type="file"]').set_input_files(returned)
    page.get_by_text(re.compile(r"If confirmed: 3 record\(s\) leave needs data \(surplus 3\)")).wait_for(
        timeout=60_000)
    assert page.get_by_text("Refused (not written), with the reason").is_visible()
    confirm = page.get_by_role("button", name="Confirm: write these facts")
    assert confirm.is_disabled()  # no reason yet
    with open_store(module_store) as store:
        assert store.buildings(ids=filled, columns=["utilisation_pct"])["utilisation_pct"].isna().all()
    page.screenshot(path=ARTIFACTS_DIR / "app_data_facts_preview.png", full_page=True)

    reason = page.get_by_label("Reason (kept in the audit trail with the file name)")
    reason.fill("Council return (browser test)")
    reason.press("Enter")
    wait_until_idle(page)
    confirm.click()
    page.get_by_text(re.compile(r"Wrote 3 value\(s\) on 3 record\(s\) from council_return\.xlsx")).wait_for(
        timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    with open_store(module_store) as store:
        frame = store.buildings(ids=filled, columns=["utilisation_pct"])
        entry = next(e for e in store.history(filled[0]) if e.action == "facts")
    assert (frame["utilisation_pct"] == 10).all()
    assert (frame["effective_status"] == "surplus").all()
    assert entry.actor == getpass.getuser()
    assert entry.reason.startswith("Council return (browser test) (from council_return.xlsx; row ")


def test_a_register_template_goes_out_and_comes_back_as_a_register(page: Page, app_url: str, module_store: Path,
                                                                    tmp_path: Path, console_log) -> None:  # noqa: ANN001
    page.goto(app_url + "data")
    page.get_by_text("Partner data requests", exact=True).wait_for(timeout=60_000)
    template = _download(page, re.compile(r"^Register template: Police"), tmp_path / "template.xlsx")
    book = openpyxl.load_workbook(template)
    ws = book["Register"]
    col = {c.value: c.column for c in ws[1]}
    # test values (postcodes of the Town Hall and Sale Waterside), as a partner would type them
    for r, values in ((2, {"Asset ID": "T1", "Name": "Template test row one", "Postcode": "M32 0TH",
                           "Utilisation %": "45%", "Condition": "B"}),
                      (3, {"Asset ID": "T2", "Name": "Template test row two", "Postcode": "M33 7ZF"})):
        for header, value in values.items():
            ws.cell(r, col[header]).value = value
    filled = tmp_path / "police_register.xlsx"
    book.save(filled)

    page.locator('.st-key-data_file input[type="file"]').set_input_files(filled)
    page.get_by_text("rows read as XLSX").wait_for(timeout=30_000)
    name = page.get_by_label("New partner's name")
    name.fill("Police (template test)")
    name.press("Enter")
    wait_until_idle(page)
    page.get_by_test_id("stMainBlockContainer").get_by_role("combobox", name="Partner type").click()
    page.get_by_role("option", name="police", exact=True).click()
    wait_until_idle(page)
    page.get_by_role("button", name="Preview the load").click()
    page.get_by_text(re.compile(r"Write these 2 rows")).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"Write these 2 rows")).click()
    wait_until_idle(page)
    page.get_by_role("button", name="Write to the store").click()
    page.get_by_text(re.compile(r"Loaded police_register\.xlsx: 2 new")).wait_for(timeout=60_000)
    with open_store(module_store) as store:
        rows = store.buildings(columns=["partner", "partner_type", "utilisation_pct", "condition"])
    mine = rows[rows["partner"] == "Police (template test)"].set_index("building_id")
    assert len(mine) == 2
    assert (mine["partner_type"] == "police").all()
    assert mine["utilisation_pct"].max() == 45.0
