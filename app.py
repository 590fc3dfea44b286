"""Streamlit entry point: ``streamlit run app.py`` (see README for the one-command start)."""

from __future__ import annotations

import streamlit as st

from geo.place import load_place

place = load_place()
st.set_page_config(page_title=f"{place.name} estates", page_icon="🗺️", layout="wide")

pages = [
    st.Page("pages/estate_map.py", title="Estate map", icon="🗺️", default=True),
]
st.navigation(pages).run()
