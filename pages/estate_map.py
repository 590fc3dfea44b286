"""Estate map: every building coloured by status, per-partner and boundary layers, a details panel on click."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from estates._offline import offline_map
from estates.app_data import building_record, status_counts
from estates.filters import filter_buildings
from estates.maps import building_layers, buildings_at, estate_base_map
from estates.store import NotFoundError
from pages import _common as common

place = common.place()
everything = common.estate()
shown = filter_buildings(everything, common.current_filters())

st.title(f"{place.name} estate map")
counts = status_counts(shown)
st.markdown(common.count_caption(shown, len(everything)) + " — " +
            " · ".join(f"{status} **{count:,}**" for status, count in counts.items()))

map_column, detail_column = st.columns([3, 2], gap="medium")
selected = st.session_state.get("estate_map_selected")
with map_column:
    base = offline_map(estate_base_map(place, basemap=common.basemap(), show=("neighbourhoods",)))
    layers = [offline_map(g) for g in building_layers(shown, selected=[selected] if selected else [])]
    result = st_folium(base, key="estate_map", height=common.MAP_HEIGHT, use_container_width=True,
                       returned_objects=["last_object_clicked"], feature_group_to_add=layers,
                       layer_control=folium.LayerControl(collapsed=True))
    st.caption("Click a building for its details. Layers (top right): one per partner, and boundaries — "
               "neighbourhoods, PCN footprints, wards and the LSOA deprivation choropleth.")

clicked = (result or {}).get("last_object_clicked")
if clicked and clicked != st.session_state.get("estate_map_last_click"):
    st.session_state["estate_map_last_click"] = clicked
    here = buildings_at(shown, clicked["lat"], clicked["lng"])
    if len(here):
        st.session_state["estate_map_here"] = here["building_id"].tolist()
        st.session_state["estate_map_selected"] = here["building_id"].iloc[0]
        st.rerun()

with detail_column:
    here_ids = [i for i in st.session_state.get("estate_map_here", []) if i in set(everything["building_id"])]
    if not selected:
        st.info("Click a building on the map to see everything known about it: the record, where it came from, "
                "how precisely it is located, its areas and deprivation, and why it has its status.")
    else:
        if len(here_ids) > 1:
            names = everything.set_index("building_id").loc[here_ids, "name"].fillna("(no name)")
            st.radio(f"{len(here_ids)} buildings at this point", here_ids, key="estate_map_selected",
                     format_func=lambda i: f"{names[i]} · {i}")
        try:
            record = building_record(common.store(), st.session_state["estate_map_selected"])
        except NotFoundError:
            st.warning("That building is no longer in the store.")
        else:
            common.show_details(record, where=place)
