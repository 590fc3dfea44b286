"""Classify (estates leads): a filtered table of sites beside the map, selection in sync both ways; set a site's
status with a reason, bulk-set with a confirmation, history and undo, split a record out of a site or merge two
sites, re-position a poorly located site by clicking the map.

Every save goes through the service layer with the person's name and the record versions they were looking at: if
someone else changed a site meanwhile, nothing is saved and the page says who changed what, and when.
"""

from __future__ import annotations

from collections.abc import Callable

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from estates import service
from estates.analysis.filters import filter_sites
from estates.maps import building_layers, buildings_at, estate_base_map
from estates.maps._offline import offline_map
from estates.maps.move import move_base_map, move_basemap, move_layers
from estates.schema import STATUSES
from estates.store import NotFoundError, NothingToUndoError, StaleVersionError, StoreError
from geo.locations import LocationError, distance_m, located_point, parse_location
from pages import _auth
from pages import _common as common

TABLE = "classify_table"
MAP = "classify_map"
SELECTED = "classify_selected"  # site ids, the one source of truth for the selection
SEEN = "classify_seen_versions"  # {building_id: version} of the records of the sites on screen
TABLE_IDS = "classify_table_ids"  # ids in table row order, as last drawn
MESSAGE = "classify_message"
MOVE = "classify_move_point"  # (lon, lat) of the proposed new position, not saved yet
MOVE_HOW = "classify_move_how"  # (how the point was given, a note about it)
MOVE_MAP = "classify_move_map"
MOVE_CENTRE = "classify_move_centre"  # where the move map looks (the site, or a typed point)
CHOICE = "classify_choice_ids"  # sites drawn where the map was clicked, when more than one

COLUMNS = {"status": "Status", "name": "Name", "partners": "Occupants", "status_source": "Decided by",
           "rule_status": "Rules suggest", "record_count": "Records", "neighbourhood": "Neighbourhood",
           "postcode": "Postcode", "geocode_precision": "Location precision", "site_id": "Site id"}
COLUMN_CONFIG = {"Status": st.column_config.TextColumn(width="small"),
                 "Name": st.column_config.TextColumn(width="medium"),
                 "Occupants": st.column_config.TextColumn(width="medium")}

place = common.place()
whole = common.estate()
everything = whole.sites
shown = filter_sites(whole, common.current_filters())
shown = shown.iloc[shown["name"].astype("str").fillna("\uffff").str.casefold().argsort(kind="stable")]
state = st.session_state
state.setdefault(SELECTED, [])
if (linked := common.linked_site(whole)) is not None:  # opened from a link, e.g. on What changed
    state[SELECTED] = [linked]


def _say(kind: str, text: str) -> None:
    """Queue a message for the next run; ``text`` is Markdown (escape register text with ``common.md``)."""
    state[MESSAGE] = (kind, text)


def _on_table_select() -> None:
    rows = state.get(TABLE, {}).get("selection", {}).get("rows", [])
    ids = state.get(TABLE_IDS, [])
    state[SELECTED] = [ids[r] for r in rows if 0 <= r < len(ids)]
    state.pop(MOVE, None)


def _on_map_click() -> None:
    value = state.get(MAP) or {}
    clicked = value.get("last_object_clicked")
    if not clicked or clicked == state.get("classify_last_click"):
        return
    state["classify_last_click"] = clicked
    frame = filter_sites(common.estate(), common.current_filters())
    ids = buildings_at(frame, clicked["lat"], clicked["lng"], zoom=value.get("zoom"))["site_id"].tolist()
    if len(ids) > 1:  # markers drawn over each other at this zoom: the person chooses (under the map)
        state[CHOICE] = ids
    elif ids:
        state.pop(CHOICE, None)
        _select(ids)


def _select(ids: list[str]) -> None:
    add = state.get("classify_add_clicks", False)
    state[SELECTED] = list(dict.fromkeys([*state[SELECTED], *ids])) if add else list(ids)
    state.pop(MOVE, None)


def _on_choice() -> None:
    chosen, ids = state.get("classify_choice"), state.pop(CHOICE, [])
    if chosen == "__all__":
        _select(ids)
    elif chosen:
        _select([chosen])


def _on_move_map_click() -> None:
    """A click on the move map (on the map itself, or on an outline under it) is the proposed new position."""
    value = state.get(MOVE_MAP) or {}
    for what in ("last_clicked", "last_object_clicked"):
        point = value.get(what)
        if point and point != state.get(f"classify_move_seen_{what}"):
            state[f"classify_move_seen_{what}"] = point
            state[MOVE] = (round(float(point["lng"]), 6), round(float(point["lat"]), 6))
            state[MOVE_HOW] = ("clicked on the map", "")
            return


def _on_move_text() -> None:
    """A typed postcode, easting/northing or latitude/longitude is the proposed new position (or says why not)."""
    text = (state.get("classify_move_text") or "").strip()
    if not text:
        return
    try:
        where = parse_location(text, place=place)
    except LocationError as exc:
        state["classify_move_error"] = str(exc)
        return
    state.pop("classify_move_error", None)
    state[MOVE] = (where.lon, where.lat)
    state[MOVE_HOW] = (f"typed: {where.label}", where.note if where.kind == "grid_swapped" else "")
    state[MOVE_CENTRE] = [where.lat, where.lon]


def _stop_moving() -> None:
    state["classify_moving"] = False
    for key in (MOVE, MOVE_HOW, MOVE_CENTRE, "classify_move_error"):
        state.pop(key, None)
    state["classify_move_text"] = ""


def _expected(site_ids: list[str]) -> dict[str, int]:
    """The record versions the person was looking at, for these sites' records."""
    seen = state.get(SEEN, {})
    ids = whole.record_versions(site_ids)
    return {i: int(seen.get(i, v)) for i, v in ids.items()}


def _store_write(write: Callable[[], object], *, not_done: str = "Not saved") -> bool:
    """Run one store write; when the store refuses it, say why (for the next run) instead.

    Parameters
    ----------
    write
        The write, e.g. ``lambda: service.undo_latest(common.store(), ...)``.
    not_done
        How a refusal's message starts (``Not saved: <why>``).

    Returns
    -------
    bool
        True when the write went through; False when a message says why it did not (someone changed the building
        meanwhile, nothing left to undo, no permission, or a value the store rejected).
    """
    try:
        write()
    except StaleVersionError as exc:
        _say("conflict", common.md(exc))
    except NothingToUndoError as exc:
        _say("warning", common.md(exc))
    except (StoreError, PermissionError, ValueError, KeyError) as exc:
        _say("error", f"{not_done}: {common.md(exc)}")
    else:
        return True
    return False


def _save_status() -> None:
    status, reason = state.get("classify_status"), (state.get("classify_reason") or "").strip()
    scope = state.get("classify_scope", "selected")
    ids = list(state[SELECTED]) if scope == "selected" else list(state.get(TABLE_IDS, []))
    if not ids:
        _say("warning", "Nothing to change: select sites in the table or on the map first.")
        return
    if status not in STATUSES:
        _say("error", "Choose the new status first.")
        return
    if not reason:
        _say("error", "A reason is required: say why the status changes (it is kept in the audit trail).")
        return
    if len(ids) > 1 and not state.get("classify_confirm"):
        _say("error", f"Tick the box to confirm changing {len(ids):,} sites to '{status}'.")
        return
    expected = _expected(ids)
    if not _store_write(lambda: service.set_site_status(common.store(), ids, status, reason=reason,
                                                        actor=common.current_actor(), expected=expected)):
        return
    state["classify_reason"] = ""
    state["classify_confirm"] = False
    state["classify_status"] = None
    _say("success", f"Saved: {len(ids):,} site{'s' if len(ids) != 1 else ''} set to '{status}' "
                    "(one change: one undo reverses it).")


def _undo(site_id: str) -> None:
    if _store_write(lambda: service.undo_latest(common.store(), site_id, actor=common.current_actor()),
                    not_done="Not undone"):
        common.reload_estate()
        _say("success", "Undone: the site's latest change was reversed as one (the history keeps both).")


def _clear_override(site_id: str) -> None:
    reason = (state.get("classify_reason") or "").strip()
    if not reason:
        _say("error", "A reason is required to hand the decision back to the rules.")
        return
    if _store_write(lambda: service.clear_site_override(common.store(), site_id, reason=reason,
                                                        actor=common.current_actor(), expected=_expected([site_id]))):
        state["classify_reason"] = ""
        _say("success", "Override removed: the rules decide this site's status again.")


def _split(site_id: str) -> None:
    record, reason = state.get("classify_split_record"), (state.get("classify_split_reason") or "").strip()
    if not record or not reason:
        _say("error", "Choose the record to take out of the site and say why.")
        return
    if _store_write(lambda: service.split_record(common.store(), record, reason=reason,
                                                 actor=common.current_actor())):
        common.reload_estate()
        state["classify_split_reason"] = ""
        _say("success", f"Split: {common.md(record)} is now a site of its own.")


def _merge(site_id: str) -> None:
    other, reason = state.get("classify_merge_site"), (state.get("classify_split_reason") or "").strip()
    if not other or not reason:
        _say("error", "Choose the nearby site to merge with and say why.")
        return
    if _store_write(lambda: service.merge_sites(common.store(), site_id, other, reason=reason,
                                                actor=common.current_actor())):
        common.reload_estate()
        state["classify_split_reason"] = ""
        state[SELECTED] = []
        _say("success", "Merged: the two sites are one.")


def _rename(site_id: str) -> None:
    name, reason = (state.get("classify_site_name") or "").strip(), (state.get("classify_split_reason") or "").strip()
    if not reason:
        _say("error", "A reason is required to rename a site.")
        return
    if _store_write(lambda: service.rename_site(common.store(), site_id, name or None, reason=reason,
                                                actor=common.current_actor(), expected=_expected([site_id]))):
        state["classify_split_reason"] = ""
        _say("success", f"Renamed: {common.md(name)}." if name else "The site's name is chosen by the rule again.")


def _save_position(site_id: str) -> None:
    point, reason = state.get(MOVE), (state.get("classify_move_reason") or "").strip()
    if point is None:
        _say("warning", "Type where the building really is, or click the map there, first.")
        return
    if not reason:
        _say("error", "A reason is required for a new position (e.g. 'checked on site', 'address in register').")
        return
    lon, lat = point
    if not _store_write(lambda: service.reposition_site(common.store(), site_id, lon, lat, reason=reason,
                                                        actor=common.current_actor(), expected=_expected([site_id]),
                                                        place=place)):
        return
    _stop_moving()
    state["classify_move_reason"] = ""
    _say("success", f"Moved to {lat:.6f}, {lon:.6f}; its areas were tagged again.")


# ------------------------------------------------------------------------------------------------ page

st.title("Classify sites")
st.markdown(whole.caption() + ". " + common.count_caption(shown, len(everything), what="sites in the table") +
            " — select rows (or click sites on the map), then set their status below.")

# Always present, so a message appearing does not move the map (Streamlit would redraw it from scratch).
notice = st.container()
message = state.pop(MESSAGE, None)
if message is not None:
    kind, text = message
    if kind == "conflict":
        notice.error(f"**Someone else changed this meanwhile — nothing was saved.** {text}", icon="⚠️")
    else:
        getattr(notice, kind)(text)

visible_ids = set(shown["site_id"])
selected = [i for i in state[SELECTED] if i in visible_ids]
table = shown[list(COLUMNS)].rename(columns=COLUMNS).reset_index(drop=True)
table_ids = shown["site_id"].tolist()
positions = {b: n for n, b in enumerate(table_ids)}
wanted_rows = sorted(positions[i] for i in selected)
current_rows = sorted(state.get(TABLE, {}).get("selection", {}).get("rows", [])) if TABLE in state else []
if wanted_rows != current_rows or state.get(TABLE_IDS) != table_ids:
    state[TABLE] = {"selection": {"rows": wanted_rows, "columns": []}}
state[TABLE_IDS] = table_ids
state[SEEN] = whole.record_versions(table_ids)

can_edit = _auth.may("override")  # the store refuses a viewer's write anyway; this only hides the controls
moving_id = selected[0] if can_edit and len(selected) == 1 and state.get("classify_moving") else None
if moving_id is not None and moving_id not in set(everything["site_id"]):
    moving_id = None


def _move_panel(site: pd.Series) -> None:
    """Beside the move map: where the site is, where it would go (typed or clicked), the reason, save or cancel."""
    st.subheader(f"Move: {common.md(site.get('name') if isinstance(site.get('name'), str) else '(no name)')}")
    here = [f"{label} {common.md(site.get(key))}" for key, label in
            (("ward_name", "ward"), ("lsoa_code", "LSOA"), ("postcode", "postcode"))
            if isinstance(site.get(key), str) and site.get(key)]
    located = pd.notna(site.get("lat")) and pd.notna(site.get("lon"))
    st.markdown(f"**Now:** {site['lat']:.6f}, {site['lon']:.6f} — " + ", ".join(here)
                if located else "**Now:** no position")
    st.text_input("Type a postcode, an easting, northing, or a latitude, longitude", key="classify_move_text",
                  on_change=_on_move_text, placeholder="e.g. M32 0TH · 381009, 395844 · 53.4590, -2.2875")
    st.caption("…or click the map where the building really is. Nothing is saved until you press Save position.")
    if state.get("classify_move_error"):
        st.error(common.md(state["classify_move_error"]))
    if state.get(MOVE):
        lon, lat = state[MOVE]
        how, note = state.get(MOVE_HOW) or ("clicked on the map", "")
        where = located_point(lon, lat, place=place)
        tags = service.reposition_tags(lon, lat, place=place)
        away = f" — **{distance_m(site['lon'], site['lat'], lon, lat):,.0f} m** from where it is now" \
            if located else ""
        areas = [f"{label} {common.md(tags.get(key))}" for key, label in
                 (("ward_name", "ward"), ("lsoa_code", "LSOA"), ("neighbourhood", place.neighbourhood_term))
                 if tags.get(key)]
        st.markdown(f"**Proposed:** {lat:.6f}, {lon:.6f} ({common.md(how)}){away}. "
                    + ("Would be in " + ", ".join(areas) + "." if areas else ""))
        if note:
            st.info(common.md(note))
        if not where.inside:
            st.warning(common.md(where.note))
    st.text_input("Reason for the new position (required)", key="classify_move_reason",
                  placeholder="e.g. Checked on site; the register's postcode is the sorting office's")
    buttons = st.columns(2)
    buttons[0].button("Save position", key="classify_save_position", type="primary", on_click=_save_position,
                      args=(str(site.name),), disabled=not state.get(MOVE))
    buttons[1].button("Cancel the move", key="classify_move_cancel", on_click=_stop_moving)


def _move_map(site: pd.Series) -> None:
    """The move map: outlines, neighbours, the postcode's centre, the site now and the proposed point."""
    site_id = str(site.name)
    located = pd.notna(site.get("lat")) and pd.notna(site.get("lon"))
    postcode = None
    if isinstance(site.get("postcode"), str) and site.get("postcode"):
        try:
            unit = parse_location(site["postcode"], place=place)
        except LocationError:
            unit = None
        if unit is not None and unit.kind == "postcode":
            away = distance_m(site["lon"], site["lat"], unit.lon, unit.lat) if located else 0.0
            postcode = (site["postcode"], unit.lat, unit.lon, away)
    proposed = None
    if state.get(MOVE):
        lon, lat = state[MOVE]
        proposed = (lat, lon, distance_m(site["lon"], site["lat"], lon, lat) if located else 0.0)
    neighbours = whole.nearby_sites(site_id, within_m=300, most=25)
    layers = move_layers({"lat": site.get("lat"), "lon": site.get("lon"), "name": site.get("name"),
                          "status": site.get("status")}, neighbours, postcode=postcode, proposed=proposed)
    around = [(site.get("lat"), site.get("lon"))] if located else []
    around += [(postcode[1], postcode[2])] if postcode else []
    around += [tuple(state[MOVE_CENTRE])] if state.get(MOVE_CENTRE) else []
    # The nearest few neighbours in view too: they are what the person recognises.
    around += list(zip(neighbours["lat"], neighbours["lon"], strict=True))[:4] if located else []
    st_folium(offline_map(move_base_map(place, around=around, basemap=move_basemap())), key=MOVE_MAP,
              height=common.MAP_HEIGHT, use_container_width=True,
              returned_objects=["last_clicked", "last_object_clicked"],
              feature_group_to_add=[offline_map(g) for g in layers], on_change=_on_move_map_click,
              layer_control=folium.LayerControl(collapsed=True))
    st.caption("Outlines: wards (dashed grey) and LSOAs (purple). Labelled dots: sites within 300 m (by status); "
               "purple square: the centre of the site's postcode unit; ringed: the site now; pink: the proposed point.")


table_column, map_column = st.columns([2, 3] if moving_id is not None else [1, 1], gap="medium")
if moving_id is not None:
    moving_site = everything.set_index("site_id").loc[moving_id]
    with table_column:
        _move_panel(moving_site)
    with map_column:
        _move_map(moving_site)
else:
    with table_column:
        st.dataframe(table, key=TABLE, on_select=_on_table_select, selection_mode="multi-row", hide_index=True,
                     height=common.MAP_HEIGHT - 40, width="stretch", placeholder="–", column_config=COLUMN_CONFIG)
    with map_column:
        focus = shown[shown["site_id"].isin(selected) & shown["lat"].notna()]
        layers = building_layers(shown, by="status", id_column="site_id", selected=selected)
        centre = [float(focus["lat"].iloc[-1]), float(focus["lon"].iloc[-1])] if len(focus) else None
        st_folium(offline_map(estate_base_map(place, basemap=common.basemap())), key=MAP, height=common.MAP_HEIGHT,
                  use_container_width=True, returned_objects=["last_object_clicked", "zoom"],
                  feature_group_to_add=[offline_map(g) for g in layers], on_change=_on_map_click,
                  layer_control=folium.LayerControl(collapsed=True), center=centre, zoom=16 if centre else None)
        choice = [i for i in state.get(CHOICE, []) if i in visible_ids]
        if len(choice) > 1:
            names = shown.set_index("site_id").loc[choice, "name"]
            labels = {i: f"{names[i] if isinstance(names[i], str) else '(no name)'} · {i}" for i in choice}
            labels["__all__"] = f"All {len(choice)} of them"
            st.radio(f"{len(choice)} sites are drawn where you clicked: which one?", list(labels), index=None,
                     key="classify_choice", format_func=labels.get, on_change=_on_choice)
        st.checkbox("Map clicks add to the selection", key="classify_add_clicks")
with map_column:
    if can_edit and len(selected) == 1:
        st.toggle("Move this site: type where it is or click the map", key="classify_moving",
                  help="Shows the site among its neighbours, its postcode's centre and the ward and LSOA outlines")

st.divider()
action_column, detail_column = st.columns([1, 1], gap="large")
with action_column:
    st.subheader("Set status")
    if not can_edit:
        st.info("You can look but not change: classifying sites needs the editor role.")
    else:
        n_selected = len(selected)
        scopes = {"selected": f"Selected sites ({n_selected:,})", "filtered": f"All {len(shown):,} in the table"}
        st.radio("Apply to", list(scopes), format_func=scopes.get, key="classify_scope", horizontal=True)
        scope_count = n_selected if state.get("classify_scope", "selected") == "selected" else len(shown)
        # No status is chosen until the person picks one: a stray Save must not mark anything surplus.
        st.segmented_control("New status", list(STATUSES), key="classify_status", default=None)
        st.text_area("Reason (required, kept in the audit trail)", key="classify_reason",
                     placeholder="e.g. Vacant since March 2024, confirmed by the site manager")
        if scope_count > 1:
            scope_ids = selected if state.get("classify_scope", "selected") == "selected" else table_ids
            before = shown[shown["site_id"].isin(scope_ids)]["status"].astype("str").value_counts()
            st.markdown("What will change: " + ", ".join(
                f"**{n:,}** {common.md(old)} → {common.md(state.get('classify_status') or '?')}"
                for old, n in before.items()))
            if state.get("classify_status"):  # nothing to confirm until a status is chosen (not "to None")
                st.checkbox(f"I confirm: change {scope_count:,} sites to {state.get('classify_status')!r}",
                            key="classify_confirm")
        st.button("Save status", key="classify_save", type="primary", on_click=_save_status,
                  disabled=scope_count == 0 or not state.get("classify_status"))

with detail_column:
    if len(selected) != 1:
        st.subheader("History")
        st.info("Select one site to see its records and history, undo a change, split or merge it, or move it."
                if not selected else f"{len(selected):,} sites selected.")
    else:
        site_id = selected[0]
        if site_id not in set(everything["site_id"]):
            st.warning("That site is no longer in the store (its records were matched again).")
            st.stop()
        site = everything.set_index("site_id").loc[site_id]
        common.show_site(whole, site_id, where=place)
        try:
            history = service.site_history(common.store(), site_id, estate=whole)
        except NotFoundError:
            history = []
        human = [e for e in history if e.action not in ("ingest", "rule_run")]
        rows = pd.DataFrame([{"when (UTC)": e.at.strftime("%Y-%m-%d %H:%M"), "who": e.actor, "what": e.action,
                              "record": e.building_id, "field": e.field, "from": e.from_value, "to": e.to_value,
                              "why": e.reason} for e in reversed(history)])
        st.markdown(f"**History** ({len(history):,} entries, {len(human):,} by people)")
        st.dataframe(rows, hide_index=True, width="stretch", height=220)
        if not can_edit:
            st.stop()
        buttons = st.columns(2)
        buttons[0].button("Undo the latest change", key="classify_undo", on_click=_undo, args=(site_id,),
                          disabled=not human)
        buttons[1].button("Hand back to the rules", key="classify_clear", on_click=_clear_override, args=(site_id,),
                          disabled=site.get("status_source") != "override",
                          help="Removes the override (uses the reason above)")
        with st.expander("Rename, split or merge this site", expanded=False):
            members = whole.site_records(site_id)
            labels = {str(r.building_id): f"{r.name if isinstance(r.name, str) else '(no name)'} · {r.partner}"
                      for r in members.itertuples(index=False)}
            nearby = whole.nearby_sites(site_id, within_m=250)
            st.text_input("Reason (required)", key="classify_split_reason")
            st.text_input("Site name (blank: the lead record's name)", key="classify_site_name",
                          placeholder=str(site.get("name") or ""))
            st.button("Rename", key="classify_rename", on_click=_rename, args=(site_id,))
            if len(members) > 1:
                st.selectbox("Record to take out of this site", list(labels), key="classify_split_record",
                             format_func=labels.get)
                st.button("Split it out", key="classify_split", on_click=_split, args=(site_id,))
            if len(nearby):
                near_labels = {str(r.site_id): f"{r.name if isinstance(r.name, str) else '(no name)'} · "
                                               f"{r.away_m:,.0f} m" for r in nearby.itertuples(index=False)}
                st.selectbox("Merge with a site within 250 m", list(near_labels), key="classify_merge_site",
                             format_func=near_labels.get)
                st.button("Merge", key="classify_merge", on_click=_merge, args=(site_id,))
        precision = site.get("geocode_precision")
        st.caption(f"Position: {common.md(precision if isinstance(precision, str) else 'unknown')} precision. "
                   "To move the site, switch on **Move this site** under the map.")
