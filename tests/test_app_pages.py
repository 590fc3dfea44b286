"""Every page of the app through Streamlit's AppTest (the shell, pages/_shell.py), on a private copy of a seeded store.

Renders without exceptions; filters change the counts and persist across pages; a classification made through the
page reaches the store with the right audit entry; a conflicting save shows the conflict and saves nothing; the
reason is mandatory; bulk changes need a confirmation; undo and re-positioning are audited; an upload is previewed
before it is written. (What AppTest cannot do — click the map or a table row — the browser tests do.)
"""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estates.analysis.filters import Filters, filter_sites
from estates.service import read_estate, resolve_site
from estates.store import open_store

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")
TOWN_HALL = "trafford-council:TMBC0008/T0000001"
TOWN_HALL_UPRN = "10091813602"
PAGES = {
    "estate_map": ("estate_map.py", "Trafford estate map"),
    "classify": ("classify.py", "Classify sites"),
    "locality": ("locality.py", "Trafford neighbourhoods"),
    "profiles": ("profiles.py", "Area profiles"),
    "data": ("data.py", "Data: partner registers"),
}


@pytest.fixture
def app(store_path: Path) -> AppTest:
    """The app (not run yet), on the test's store."""
    return AppTest.from_file(APP, default_timeout=120)


def _open(at: AppTest, page: str) -> AppTest:
    at.run()
    if page != "estate_map":
        at.switch_page(PAGES[page][0]).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _classify_one(at: AppTest, *, status: str, reason: str) -> AppTest:
    """On the classify page: narrow the table to the Town Hall, choose a status and a reason (not saved yet)."""
    _open(at, "classify")
    at.text_input(key="filter_search").set_value(TOWN_HALL_UPRN).run()
    at.radio(key="classify_scope").set_value("filtered").run()
    at.segmented_control(key="classify_status").set_value(status)
    at.text_area(key="classify_reason").set_value(reason)
    return at.run()


@pytest.mark.parametrize("page", list(PAGES))
def test_every_page_renders(app: AppTest, page: str) -> None:
    _open(app, page)

    assert PAGES[page][1] in [t.value for t in app.title]
    assert not app.exception


def test_filters_change_the_counts_and_persist_across_pages(app: AppTest, store_path: Path) -> None:
    _open(app, "estate_map")
    with open_store(store_path) as store:
        estate = read_estate(store)
    total = len(estate.sites)
    assert estate.caption() in _markdown(app)
    assert f"**{total:,}** of {total:,} sites shown" in _markdown(app)

    app.multiselect(key="filter_statuses").set_value(["surplus"]).run()
    surplus = len(filter_sites(estate, Filters(statuses=("surplus",))))
    assert 100 < surplus < total
    assert f"**{surplus:,}** of {total:,} sites shown" in _markdown(app)

    app.text_input(key="filter_search").set_value("land").run()
    both = len(filter_sites(estate, Filters(statuses=("surplus",), search="land")))
    assert 0 < both < surplus
    assert f"**{both:,}** of {total:,} sites shown" in _markdown(app)

    app.switch_page(PAGES["classify"][0]).run()
    assert f"**{both:,}** of {total:,} sites in the table" in _markdown(app)
    assert len(app.dataframe[0].value) == both


def test_locality_defaults_to_the_pilot_and_ranks_colocation(app: AppTest) -> None:
    _open(app, "locality")

    assert app.selectbox(key="locality_neighbourhood").value == "North"
    assert "North neighbourhood" in [h.value for h in app.header]
    clusters = app.dataframe[0].value
    assert len(clusters) >= 5
    assert list(clusters["rank"]) == list(range(1, len(clusters) + 1))
    assert clusters["imd_rank"].is_monotonic_increasing

    assert clusters["radius_m"].max() <= 400
    app.slider(key="locality_distance").set_value(150).run()
    closer = app.dataframe[0].value
    assert closer["radius_m"].max() <= 150 < clusters["radius_m"].max()
    app.selectbox(key="locality_neighbourhood").set_value("South").run()
    assert "South neighbourhood" in [h.value for h in app.header]
    assert not app.exception


def test_profiles_switch_between_neighbourhoods_and_pcns(app: AppTest) -> None:
    _open(app, "profiles")
    assert list(app.dataframe[0].value["area"]) == ["Central", "North", "South", "West"]

    app.segmented_control(key="profiles_kind").set_value("pcn").run()

    assert len(app.dataframe[0].value) == 5
    assert app.dataframe[0].value["population"].sum() == pytest.approx(240_000, rel=0.05)


def test_a_classification_through_the_page_reaches_the_store_with_its_audit_entry(
    app: AppTest, store_path: Path
) -> None:
    reason = "Offices move to Sale Waterside in 2026"
    _classify_one(app, status="core", reason=reason)
    with open_store(store_path) as store:
        before = store.building(TOWN_HALL)

    app.button(key="classify_save").click().run()

    assert [s.value for s in app.success] == ["Saved: 1 site set to 'core' (one change: one undo reverses it)."]
    with open_store(store_path) as store:
        after = store.building(TOWN_HALL)
        entry = store.history(TOWN_HALL)[-1]
    assert (after.override_status, after.effective_status, after.version) == ("core", "core", before.version + 1)
    assert (entry.action, entry.field, entry.actor, entry.reason) == ("override", "override_status",
                                                                       getpass.getuser(), reason)
    assert (entry.from_value, entry.to_value) == (None, "core")
    # The page shows the new status straight away (the estate is re-read per store revision).
    assert app.dataframe[0].value["Status"].tolist() == ["core"]
    assert app.text_area(key="classify_reason").value == ""


def test_the_reason_is_mandatory(app: AppTest, store_path: Path) -> None:
    _classify_one(app, status="surplus", reason="   ")

    app.button(key="classify_save").click().run()

    assert any("A reason is required" in e.value for e in app.error)
    with open_store(store_path) as store:
        assert store.building(TOWN_HALL).override_status is None


def test_a_conflicting_save_shows_the_conflict_and_saves_nothing(app: AppTest, store_path: Path) -> None:
    _classify_one(app, status="surplus", reason="Vacant from next year")
    # Someone else saves the same building after this page was drawn.
    with open_store(store_path) as store:
        version = store.building(TOWN_HALL).version
        store.set_status(TOWN_HALL, "core", reason="Still our HQ", actor="alice", expected_version=version)

    app.button(key="classify_save").click().run()

    messages = [e.value for e in app.error]
    assert len(messages) == 1
    assert "Someone else changed this meanwhile" in messages[0]
    assert "alice" in messages[0]
    assert "Nothing was saved" in messages[0]
    with open_store(store_path) as store:
        state = store.building(TOWN_HALL)
        assert (state.override_status, state.override_by) == ("core", "alice")
    # After reloading (the page now shows alice's version) the same save goes through.
    app.text_area(key="classify_reason").set_value("Vacant from next year").run()
    app.button(key="classify_save").click().run()
    assert app.success


def test_bulk_set_needs_confirmation_and_saves_all_or_nothing(app: AppTest, store_path: Path) -> None:
    _open(app, "classify")
    app.multiselect(key="filter_partners").set_value(["Trafford community hubs"]).run()
    app.radio(key="classify_scope").set_value("filtered").run()
    app.segmented_control(key="classify_status").set_value("core")
    app.text_area(key="classify_reason").set_value("Hubs are commissioned services").run()

    app.button(key="classify_save").click().run()
    assert any("Tick the box to confirm changing 6 sites" in e.value for e in app.error)

    app.checkbox(key="classify_confirm").check().run()
    app.button(key="classify_save").click().run()
    assert [s.value for s in app.success] == ["Saved: 6 sites set to 'core' (one change: one undo reverses it)."]
    with open_store(store_path) as store:
        hubs = store.buildings(statuses=["core"])
        hubs = hubs[hubs["partner"] == "Trafford community hubs"]
        log = store.audit_log(building_ids=hubs["building_id"])
    assert len(hubs) == 6
    assert (hubs["override_by"] == getpass.getuser()).all()
    assert (log["action"] == "override").sum() == 6
    assert log.loc[log["action"] == "override", "change_id"].nunique() == 1  # one change: one undo


def test_history_and_undo_of_the_selected_site(app: AppTest, store_path: Path) -> None:
    with open_store(store_path) as store:
        version = store.building(TOWN_HALL).version
        store.set_status(TOWN_HALL, "surplus", reason="Test", actor=getpass.getuser(), expected_version=version)
        site = resolve_site(read_estate(store), TOWN_HALL)
    _open(app, "classify")
    app.session_state["classify_selected"] = [site]  # what a table row or map click does
    app.run()
    assert "Trafford Town Hall" in [s.value for s in app.subheader]

    app.button(key="classify_undo").click().run()

    assert any("Undone" in s.value for s in app.success)
    with open_store(store_path) as store:
        state = store.building(TOWN_HALL)
        entry = store.history(TOWN_HALL)[-1]
    assert (state.override_status, state.effective_status) == (None, "key")
    assert entry.action == "undo"


def test_repositioning_by_a_map_click_is_audited_and_retagged(app: AppTest, store_path: Path) -> None:
    building = "trafford-council:TMBC0001/T0000003"
    with open_store(store_path) as store:
        site = resolve_site(read_estate(store), building)
    _open(app, "classify")
    app.session_state["classify_selected"] = [site]
    app.run()
    app.toggle(key="classify_moving").set_value(True).run()
    app.session_state["classify_move_point"] = (-2.2875, 53.4590)  # what a click on the map sets
    app.text_input(key="classify_move_reason").set_value("Checked on site").run()

    app.button(key="classify_save_position").click().run()

    assert any("Moved to 53.459000, -2.287500" in s.value for s in app.success)
    with open_store(store_path) as store:
        state = store.building(building)
        entry = store.history(building)[-1]
    assert (state.position_source, state.lon, state.lat) == ("manual", -2.2875, 53.459)
    assert state.record["neighbourhood"] == "North"
    assert (entry.action, entry.actor, entry.reason) == ("reposition", getpass.getuser(), "Checked on site")


def test_an_upload_is_previewed_before_anything_is_written(app: AppTest, store_path: Path) -> None:
    register = (b"Site Name,Address,Post Code,UPRN,Notes\n"
                b"<script>alert(1)</script> Centre,1 Talbot Road,M32 0TH,,hostile name\n"
                b"Stretford Hub,Chester Road,M32 0RW,,\n"
                b"Nowhere House,,ZZ99 9ZZ,,\n")
    _open(app, "data")
    with open_store(store_path) as store:
        before = len(store.buildings())

    app.file_uploader[0].set_value(("new partner.csv", register, "text/csv")).run()
    mapping = app.data_editor[0].value
    assert dict(zip(mapping["column"], mapping["maps_to"], strict=True))["Site Name"] == "name"
    app.text_input(key="data_partner_name").set_value("Test Partner").run()
    app.button(key="data_preview_button").click().run()

    assert not app.exception
    assert [m.value for m in app.metric][-5:] == ["3", "1", "1", "1", "2"]
    with open_store(store_path) as store:
        assert len(store.buildings()) == before  # nothing written yet

    app.checkbox(key="data_confirm").check().run()
    app.button(key="data_write").click().run()

    assert any("2 new" in s.value and "1 rejected" in s.value for s in app.success)
    with open_store(store_path) as store:
        rows = store.buildings()
        mine = rows[rows["partner"] == "Test Partner"]
        log = store.audit_log(building_ids=mine["building_id"])
        rejected = store.rejected_rows()
    assert len(rows) == before + 2  # the row that cannot be located stays with the load, never a record
    assert set(rejected.loc[rejected["partner"] == "Test Partner", "name"]) == {"Nowhere House"}
    assert "<script>alert(1)</script> Centre" in set(mine["name"])
    assert set(log.loc[log["action"] == "ingest", "actor"]) == {getpass.getuser()}
    assert mine["rule_status"].notna().all()
