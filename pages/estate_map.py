"""Estate map page: the place's boundaries (buildings arrive with the register and store work)."""

from __future__ import annotations

import streamlit as st
from streamlit_folium import st_folium

from estates.maps import boundary_map
from geo.place import load_place

place = load_place()
st.title(f"{place.name}: neighbourhoods and PCN footprints")
st_folium(boundary_map(place), height=620, use_container_width=True, returned_objects=[])
