"""Minimal Streamlit page showing the demo map through ``st_folium``.

The ``assets`` query parameter lets tests check that the harness catches each way
a map silently fails inside ``st_folium``:

- ``offline`` (default): ``offline_map`` applied; the map must render.
- ``cdn``: ``offline_map`` skipped; Leaflet cannot load, so there is no map at all.
- ``no-jquery``: everything inline but jQuery left out; Leaflet builds the map,
  folium's popup code then throws, and st_folium's iframe stays 0 px high.
"""

import streamlit as st
from streamlit_folium import st_folium

from estates.maps._offline import offline_map
from tests.browser.demo_map import build_demo_map

st.title("Offline map test app")
assets = st.query_params.get("assets", "offline")
m = build_demo_map()
if assets != "cdn":
    offline_map(m)
if assets == "no-jquery":
    m.default_js = [(name, url) for name, url in m.default_js if name != "jquery"]
st_folium(m, height=450, width=700, returned_objects=[], key="map")
