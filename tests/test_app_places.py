"""The place switcher through Streamlit's AppTest (issue 17): switching a session to Stockport seeds its demo estate
into the same store on its first start, resets the filters, and every page then shows Stockport — pages that need
neighbourhoods say plainly that Stockport has none. The other sessions and the process environment keep Trafford."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estates.service import read_estate
from estates.store import open_store

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")
PAGES = ("classify.py", "matches.py", "locality.py", "profiles.py", "overlap.py", "data.py")


@pytest.fixture
def stockport_session(store_path: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=180)
    at.run()
    assert [t.value for t in at.title][:1] == ["Trafford estate map"]
    at.text_input(key="filter_search").set_value("library").run()
    at.selectbox(key="place_choice").set_value("stockport").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_switching_a_session_to_stockport_seeds_it_and_shows_its_estate(stockport_session: AppTest,
                                                                        store_path: Path) -> None:
    at = stockport_session
    assert [t.value for t in at.title][:1] == ["Stockport estate map"]
    assert at.text_input(key="filter_search").value == ""  # filters start again
    with open_store(store_path) as store:
        places = store.places()
        sites = len(read_estate(store, place="stockport").sites)
    assert set(places) == {"trafford", "stockport"}
    assert f"{sites:,} sites" in at.markdown[0].value
    assert os.environ.get("ESTATES_PLACE") in (None, "", "trafford")  # the process keeps its place


@pytest.mark.parametrize("page", PAGES)
def test_every_page_works_for_a_place_without_neighbourhoods(stockport_session: AppTest, page: str) -> None:
    at = stockport_session.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    text = " ".join([*(t.value for t in at.title), *(m.value for m in at.markdown), *(i.value for i in at.info)])
    assert "Trafford" not in " ".join(t.value for t in at.title)
    if page in ("locality.py", "overlap.py", "profiles.py"):
        assert "Stockport has no neighbourhood layer" in text


def test_stockport_profiles_by_pcn_footprint(stockport_session: AppTest) -> None:
    at = stockport_session.switch_page("profiles.py").run()
    at.segmented_control(key="profiles_kind").set_value("pcn").run()
    assert not at.exception, [e.value for e in at.exception]
    areas = at.dataframe[0].value["area"].tolist()
    assert len(areas) >= 5  # Stockport's PCN footprints (data/stockport/pcn_footprints.geojson)
