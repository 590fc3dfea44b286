"""The app's shell, run by Streamlit for every page view (start the app with ``streamlit run app.py``).

Page config, the store (seeded from the demo registers on the very first start, with a progress bar), the shared
sidebar filters, and the navigation between the pages of this folder, one module each. It lives in ``pages/`` so
that Streamlit never mistakes the folder for an old-style multipage app (it looks for ``pages/`` beside the script).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import _auth
from pages import _common as common

HERE = Path(__file__).resolve().parent
place = common.use_session_place()  # the place this browser session shows (the sidebar's switcher)
st.set_page_config(page_title=f"{place.name} estates", page_icon="🗺️", layout="wide")

# Before any data: refuse an unsafe start, sign the person in (when configured), show who is acting.
_auth.gate(common.store())
# A place's first start shows its seeding progress and a spinner while its estate is read. They go in one container
# that every run has, so the page below keeps its place on the next run and its map is not drawn a second time.
with st.container():
    common.ensure_store_ready()
    whole = common.estate()

pages = [
    st.Page(HERE / "estate_map.py", title="Estate map", icon=":material/map:", default=True),
    st.Page(HERE / "classify.py", title="Classify", icon=":material/fact_check:", url_path="classify"),
    st.Page(HERE / "matches.py", title="Matches", icon=":material/join:", url_path="matches"),
    st.Page(HERE / "locality.py", title=f"{place.pilot_neighbourhood} {place.neighbourhood_term}"
            if place.pilot_neighbourhood else f"{place.neighbourhood_term.capitalize()}s",
            icon=":material/location_on:", url_path="locality"),
    st.Page(HERE / "profiles.py", title="Profiles", icon=":material/bar_chart:", url_path="profiles"),
    st.Page(HERE / "data.py", title="Data", icon=":material/dataset:", url_path="data"),
    st.Page(HERE / "changes.py", title="What changed", icon=":material/history:", url_path="changes"),
]
# The neighbourhood x PCN overlap page belongs to the exports work; it joins the menu once it is in the tree.
if (HERE / "overlap.py").exists():
    pages.insert(4, st.Page(HERE / "overlap.py", title="Overlap", icon=":material/join_inner:", url_path="overlap"))

navigation = st.navigation(pages)
common.render_place_switcher()
common.render_sidebar(whole, where=place)
navigation.run()
