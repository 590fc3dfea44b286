"""Estate map: one marker per site coloured by the site's status, boundary layers, a site's details on click."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from estates.analysis.filters import filter_sites
from estates.maps import building_layers, buildings_at, estate_base_map
from estates.maps._offline import offline_map
from estates.sites import status_counts
from pages import _common as common
from pages._downloads import map_downloads

place = common.place()
whole = common.estate()
shown = filter_sites(whole, common.current_filters())

st.title(f"{place.name} estate map")
counts = status_counts(shown)
st.markdown(whole.caption() + ". " + common.count_caption(shown, len(whole.sites)) + " — " +
            " · ".join(f"{status} **{count:,}**" for status, count in counts.items()))

# The map takes the page's whole width; a site's details follow below it, where their tables have room too.
map_column, detail_column = st.container(), st.container()
selected = st.session_state.get("estate_map_selected")
with map_column:
    base = offline_map(estate_base_map(place, basemap=common.basemap(), show=("neighbourhoods",)))
    layers = [offline_map(g) for g in building_layers(shown, by="status", id_column="site_id",
                                                      selected=[selected] if selected else [])]
    result = st_folium(base, key="estate_map", height=common.MAP_HEIGHT, use_container_width=True,
                       returned_objects=["last_object_clicked", "zoom"], feature_group_to_add=layers,
                       layer_control=folium.LayerControl(collapsed=True))
    st.caption("One marker per site, coloured by the site's status. Click a site for its occupants and records. "
               "Layers (top right): one per status, and boundaries — neighbourhoods, PCN footprints, wards and the "
               "LSOA deprivation choropleth.")

clicked = (result or {}).get("last_object_clicked")
if clicked and clicked != st.session_state.get("estate_map_last_click"):
    st.session_state["estate_map_last_click"] = clicked
    # Every site drawn within a few pixels of the clicked one at this zoom, the clicked one first.
    here = buildings_at(shown, clicked["lat"], clicked["lng"], zoom=(result or {}).get("zoom"))
    if len(here):
        st.session_state["estate_map_here"] = here["site_id"].tolist()
        st.session_state["estate_map_selected"] = here["site_id"].iloc[0]
        st.rerun()

with detail_column:
    known = set(whole.sites["site_id"])
    here_ids = [i for i in st.session_state.get("estate_map_here", []) if i in known]
    if not selected or selected not in known:
        st.info("Click a site on the map to see here everything known about it: its occupants, every register record "
                "and why it is on this site, how precisely it is located, its areas and deprivation, and why it "
                "has its status.")
    else:
        if len(here_ids) > 1:
            names = whole.sites.set_index("site_id").loc[here_ids, "name"].fillna("(no name)")
            st.radio(f"{len(here_ids)} sites are drawn where you clicked: which one?", here_ids,
                     key="estate_map_selected", format_func=lambda i: f"{names[i]} · {i}")
        common.show_site(whole, st.session_state["estate_map_selected"], where=place)
map_downloads(shown, title=f"{place.name} estate map", filters=common.current_filters(), name="estate-map")
