"""The locality page's "Access to sites" section through Streamlit's AppTest, on a private copy of a seeded store.

Choosing a kind and a site shows the "if it closes" table with the figures of :func:`estates.access.access_tables`
on the store's estate; without a site the page says how to get one. (The map and the download are checked in a real
browser: tests/browser/test_access_browser.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estates.access import access_analysis, access_tables, facility_points
from estates.service import read_estate
from estates.store import open_store
from pages._access import closure_view

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def test_choosing_a_kind_and_a_site_shows_who_loses_it(store_path: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    app.switch_page("locality.py").run()
    assert not app.exception, [e.value for e in app.exception]
    assert app.selectbox(key="access_kind").value == "library"
    assert any("Choose a site above" in i.value for i in app.info)
    assert len(app.table) == 0

    with open_store(store_path) as store:
        estate = read_estate(store).records
    libraries = facility_points(estate, "library")
    town_hall = libraries.loc[libraries["name"] == "Trafford Town Hall Library", "facility_id"].iloc[0]
    app.multiselect(key="access_close").set_value([town_hall]).run()
    assert not app.exception, [e.value for e in app.exception]
    shown = app.table[0].value
    expected = closure_view(access_tables(access_analysis(estate, "library", closed=[town_hall],
                                                          neighbourhood="North"))["closure_by_imd_decile"])
    assert shown.reset_index(drop=True).astype(str).equals(expected.astype(str))
    assert int(expected["Residents whose nearest closes"].sum()) > 10_000

    app.selectbox(key="access_kind").set_value("gp").run()
    assert not app.exception, [e.value for e in app.exception]
    assert len(app.table) == 0


def test_merging_into_a_hub_on_the_page(store_path: Path) -> None:
    app = AppTest.from_file(APP, default_timeout=180)
    app.run()
    app.switch_page("locality.py").run()
    with open_store(store_path) as store:
        estate = read_estate(store).records
    libraries = facility_points(estate, "library")
    stretford = libraries.loc[libraries["name"] == "Stretford Library", "facility_id"].iloc[0]
    hub = facility_points(estate, "any")
    hub = hub.loc[hub["name"] == "Stretford Sports Village, Chester Centre", "facility_id"].iloc[0]
    app.multiselect(key="access_close").set_value([stretford]).run()
    app.selectbox(key="access_hub").set_value(hub).run()
    assert not app.exception, [e.value for e in app.exception]
    assert any("merging into" in m.value and "Chester Centre" in m.value for m in app.markdown)
    expected = closure_view(access_tables(access_analysis(estate, "library", closed=[stretford], hub=hub,
                                                          neighbourhood="North"))["closure_by_imd_decile"])
    assert app.table[0].value.reset_index(drop=True).astype(str).equals(expected.astype(str))
