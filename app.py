"""Streamlit entry point: ``streamlit run app.py`` (see README for the one-command start).

The shell: page config, the store (seeded from the demo registers on the very first start, with a progress bar),
the shared sidebar filters, and one module per page under ``pages/``.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from pages import _common as common

place = common.place()
st.set_page_config(page_title=f"{place.name} estates", page_icon="🗺️", layout="wide")

common.ensure_store_ready()

pages = [
    st.Page("pages/estate_map.py", title="Estate map", icon=":material/map:", default=True),
    st.Page("pages/classify.py", title="Classify", icon=":material/fact_check:", url_path="classify"),
    st.Page("pages/locality.py", title=f"{place.pilot_neighbourhood} locality", icon=":material/location_on:",
            url_path="locality"),
    st.Page("pages/profiles.py", title="Profiles", icon=":material/bar_chart:", url_path="profiles"),
    st.Page("pages/data.py", title="Data", icon=":material/dataset:", url_path="data"),
]
# The neighbourhood x PCN overlap page belongs to the exports work; it joins the menu once it is in the tree.
if (Path(__file__).parent / "pages" / "overlap.py").exists():
    pages.insert(4, st.Page("pages/overlap.py", title="Overlap", icon=":material/join_inner:", url_path="overlap"))

navigation = st.navigation(pages)
common.render_sidebar(common.estate(), where=place)
navigation.run()
