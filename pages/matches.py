"""Matches (estates leads): each proposed match of two partners' records side by side on a small map; Confirm puts
them on one site, Reject keeps them apart. Decisions are saved in the store with the person and a reason, audited,
undoable (Classify → Undo) and kept across re-loads of the same registers.
"""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from estates import service
from estates.maps import building_layers, estate_base_map
from estates.maps._offline import offline_map
from estates.sites.matching import undecided_proposals
from estates.store import StaleVersionError, StoreError
from estates.store.base import MatchDecision
from pages import _auth
from pages import _common as common

place = common.place()
whole = common.estate()
pairs = common.store().site_matches(place=place.slug)
state = st.session_state

st.title("Matches: are these the same site?")
proposed = undecided_proposals(pairs)
decided = pairs[pairs["decision"].notna()]
st.markdown(f"**{len(proposed):,}** proposed matches await a decision; {len(decided):,} decided so far. "
            f"{whole.caption()}.")

message = state.pop("matches_message", None)
if message is not None:
    getattr(st, message[0])(message[1])

if proposed.empty:
    st.success("No proposed match is waiting: every pair the matcher was unsure of has been decided.")
    st.stop()

labels = {n: f"{row.score:.0f} · {row.name_a or '(no name)'} | {row.name_b or '(no name)'}"
          for n, row in proposed.iterrows()}
choice = st.selectbox("Proposal (highest score first)", list(labels), format_func=labels.get, key="matches_pick")
pair = proposed.loc[choice]
records = whole.records.set_index("building_id")
ids = [str(pair["building_id_a"]), str(pair["building_id_b"])]
missing = [i for i in ids if i not in records.index]
if missing:
    st.warning("One of these records is no longer in the store.")
    st.stop()

FIELDS = {"name": "Name", "partner": "Partner", "address_line_1": "Address", "town": "Town", "postcode": "Postcode",
          "uprn": "UPRN", "use": "Use", "geocode_precision": "Location precision", "site_id": "Site now",
          "source_file": "Source file", "source_row": "Source row"}
side = pd.DataFrame({"field": list(FIELDS.values()),
                     "record A": [records.at[ids[0], f] if f in records else None for f in FIELDS],
                     "record B": [records.at[ids[1], f] if f in records else None for f in FIELDS]}).astype("str")
left, right = st.columns([1, 1], gap="medium")
with left:
    distance = pair["distance_m"]
    st.markdown(f"**Score {pair['score']:.0f}** ({common.md(pair['method'])}) — {common.md(pair['reason'])}"
                + (f"; **{distance:,.0f} m** apart" if pd.notna(distance) else ""))
    st.dataframe(side, hide_index=True, width="stretch")
    st.caption(f"Record A: {common.md(ids[0])} · Record B: {common.md(ids[1])}")
with right:
    two = whole.records[whole.records["building_id"].isin(ids)]
    centre = [float(two["lat"].mean()), float(two["lon"].mean())] if two["lat"].notna().any() else None
    layers = [offline_map(g) for g in building_layers(two, by="partner", selected=ids)]
    st_folium(offline_map(estate_base_map(place, basemap=common.basemap())), key="matches_map", height=340,
              use_container_width=True, returned_objects=[], feature_group_to_add=layers,
              layer_control=folium.LayerControl(collapsed=True), center=centre, zoom=17 if centre else None)


def _decide(decision: MatchDecision) -> None:
    reason = (state.get("matches_reason") or "").strip()
    if not reason:
        state["matches_message"] = ("error", "A reason is required (it is kept with the decision).")
        return
    try:
        service.decide_match(common.store(), ids[0], ids[1], decision, reason=reason, actor=common.current_actor())
    except StaleVersionError as exc:
        state["matches_message"] = ("error", f"Someone else changed these records meanwhile: {common.md(exc)}")
        return
    except (StoreError, PermissionError, ValueError, KeyError) as exc:
        state["matches_message"] = ("error", f"Not saved: {common.md(exc)}")
        return
    common.reload_estate()
    state["matches_reason"] = ""
    done = "now one site" if decision == "confirm" else "kept as separate sites"
    state["matches_message"] = ("success", f"Saved: {common.md(pair['name_a'])} and {common.md(pair['name_b'])} "
                                           f"are {done}. Undo it from the site on Classify.")


if _auth.may("match_decision"):
    st.text_input("Reason (required)", key="matches_reason",
                  placeholder="e.g. Same building: the practice is inside the health centre")
    buttons = st.columns(2)
    buttons[0].button("Confirm: one site", key="matches_confirm", type="primary", on_click=_decide, args=("confirm",))
    buttons[1].button("Reject: different sites", key="matches_reject", on_click=_decide, args=("reject",))
else:
    st.info("You can look but not decide: match decisions need the editor role.")
