"""Moving a site to a typed location: the service re-tags every record and audits the move; the Classify page's move
panel reads what is typed, shows the proposed point with its distance and areas, and refuses garbage in one line.

Real data: M32 0TH's unit centroid (ONSPD) lies in Gorse Hill & Cornbrook ward (North), LSOA E01006186.
"""

from __future__ import annotations

import getpass
from pathlib import Path

import pandas as pd
from streamlit.testing.v1 import AppTest

from estates import service
from estates.service import read_estate
from estates.store import open_store
from geo.locations import distance_m, parse_location

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")


def _southern_site(store_path: Path) -> tuple[str, pd.DataFrame]:
    """A site in the South neighbourhood with two or more records (all of them must move), and its records."""
    with open_store(store_path) as store:
        estate = read_estate(store)
    sites = estate.sites
    candidates = sites[(sites["neighbourhood"] == "South") & (sites["record_count"] >= 2) & sites["lat"].notna()]
    site_id = str(candidates.sort_values("site_id")["site_id"].iloc[0])
    return site_id, estate.site_records(site_id)


def test_moving_a_site_by_typed_postcode_retags_every_record_and_is_audited(store_path: Path) -> None:
    site_id, records = _southern_site(store_path)
    assert set(records["ward_name"]) != {"Gorse Hill & Cornbrook"}
    where = parse_location("M32 0TH")

    with open_store(store_path) as store:
        service.reposition_site(store, site_id, where.lon, where.lat, reason="Typed the postcode from the lease",
                                actor="erin", expected=read_estate(store).record_versions([site_id]))
        after = read_estate(store)
        histories = {b: store.history(b)[-1] for b in records["building_id"]}

    moved = after.site_records(site_id)
    assert sorted(moved["building_id"]) == sorted(records["building_id"])
    assert set(moved["ward_name"]) == {"Gorse Hill & Cornbrook"}
    assert set(moved["lsoa_code"]) == {"E01006186"}
    assert set(moved["neighbourhood"]) == {"North"}
    # Stored in WGS84 to 6 decimals (~0.1 m), so the grid point comes back within a few centimetres.
    assert ((moved["easting"] - 381009.0).abs().max(), (moved["northing"] - 395844.0).abs().max()) < (0.1, 0.1)
    assert set(moved["position_source"]) == {"manual"}
    site = after.sites.set_index("site_id").loc[site_id]
    assert (site["ward_name"], site["neighbourhood"]) == ("Gorse Hill & Cornbrook", "North")
    for entry in histories.values():
        assert (entry.action, entry.actor, entry.reason) == ("reposition", "erin", "Typed the postcode from the lease")


def _classify_with(store_path: Path, site_id: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=120)
    app.run()
    app.switch_page("classify.py").run()
    app.session_state["classify_selected"] = [site_id]
    app.run()
    app.toggle(key="classify_moving").set_value(True).run()
    assert not app.exception, [e.value for e in app.exception]
    return app


def test_the_move_panel_shows_a_typed_point_its_distance_and_areas_then_saves_it(store_path: Path) -> None:
    site_id, records = _southern_site(store_path)
    app = _classify_with(store_path, site_id)
    lead = records.iloc[0]

    app.text_input(key="classify_move_text").set_value("m32 0th").run()

    text = "\n".join(m.value for m in app.markdown).replace("\\", "")  # without Markdown escapes
    away = distance_m(float(lead["lon"]), float(lead["lat"]), -2.287483, 53.458999)
    assert "**Proposed:** 53.458999, -2.287483 (typed: postcode M32 0TH (centre of the postcode unit))" in text
    assert f"**{away:,.0f} m** from where it is now" in text
    assert "ward Gorse Hill & Cornbrook, LSOA E01006186, neighbourhood North" in text
    assert app.button(key="classify_save_position").disabled is False

    app.button(key="classify_save_position").click().run()  # no reason yet
    assert any("A reason is required" in e.value for e in app.error)

    app.text_input(key="classify_move_reason").set_value("Lease says M32 0TH").run()
    app.button(key="classify_save_position").click().run()

    assert any("Moved to 53.458999, -2.287483" in s.value for s in app.success)
    with open_store(store_path) as store:
        entry = store.history(str(lead["building_id"]))[-1]
        state = store.building(str(lead["building_id"]))
    assert (entry.action, entry.actor, entry.reason) == ("reposition", getpass.getuser(), "Lease says M32 0TH")
    assert state.record["ward_name"] == "Gorse Hill & Cornbrook"
    assert app.session_state["classify_moving"] is False  # back to the table


def test_the_move_panel_refuses_garbage_and_warns_outside_the_place(store_path: Path) -> None:
    site_id, _ = _southern_site(store_path)
    app = _classify_with(store_path, site_id)

    app.text_input(key="classify_move_text").set_value("behind the library").run()
    assert any("Could not read 'behind the library' as a location" in e.value.replace("\\", "") for e in app.error)
    assert app.button(key="classify_save_position").disabled is True

    app.text_input(key="classify_move_text").set_value("M1 1AE").run()  # Manchester city centre
    assert any("outside Trafford, 2.6 km beyond its boundary" in w.value.replace("\\", "") for w in app.warning)
    assert not any("Could not read" in e.value for e in app.error)
