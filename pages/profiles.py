"""Profiles: each neighbourhood and PCN footprint — population, deprivation, estate by partner and status, floor
area — as a table, with charts where a chart reads faster."""

from __future__ import annotations

import streamlit as st

from estates.analysis.filters import filter_buildings
from estates.analysis.profiles import area_lsoas, area_profiles, estate_breakdown
from estates.maps import STATUS_COLOURS
from estates.schema import STATUSES
from geo import boundaries
from pages import _common as common
from pages._charts import bar_chart, show_bar_chart
from pages._downloads import map_downloads
from pages._profile_sheet import profile_downloads
from pages._tables import show_table

place = common.place()
everything = common.estate().records
filters = common.current_filters()
shown = filter_buildings(everything, filters)

st.title("Area profiles")
kinds = {"neighbourhood": f"{place.neighbourhood_term.capitalize()}s", "pcn": "PCN footprints"}
kind = st.segmented_control("Areas", list(kinds), format_func=kinds.get, key="profiles_kind",
                            default="neighbourhood", required=True) or "neighbourhood"
if kind == "neighbourhood" and not boundaries.has_neighbourhoods(place):  # a place built without the grouping
    st.info(f"{place.name} has no neighbourhood layer: it was built without the council's ward → neighbourhood "
            "file, and none is invented. Choose PCN footprints above.")
    st.stop()
st.markdown(common.count_caption(shown, len(everything), what="buildings counted", on_map=False) +
            (f" — filters: {common.md(filters.describe())}" if filters.active else ""))

with st.spinner("Working out population and deprivation…"):
    profiles = area_profiles(shown, kind, place=place)

show_table(profiles, column_config={
    "area": st.column_config.Column(kinds[kind][:-1] if kind == "neighbourhood" else "PCN", width=260),
    "population": st.column_config.NumberColumn("Residents", format="%,.0f"),
    "lsoas": "LSOAs",
    "imd_score": st.column_config.NumberColumn("IMD score", format="%.1f",
                                               help="Population-weighted IMD 2019 score; higher is more deprived"),
    "most_deprived_20pct_population": st.column_config.NumberColumn("In most deprived 20 %", format="%,.0f"),
    "most_deprived_20pct_share": st.column_config.NumberColumn("Share", format="percent"),
    "most_deprived_lsoa": "Most deprived LSOA", "most_deprived_decile": "its decile",
    "buildings": "Buildings", "partners": "Partners",
    "gia_m2": st.column_config.NumberColumn("Floor area (m²)", format="%,.0f"),
    "gia_recorded": "With floor area",
    "buildings_per_10k_residents": st.column_config.NumberColumn("Per 10k residents", format="%.1f"),
})

charts = st.columns(3)
with charts[0]:
    st.markdown("**Buildings by status**")
    show_bar_chart(bar_chart(profiles, category="area", values=list(STATUSES), title="Buildings",
                             colours=STATUS_COLOURS, legend_title="Status"), key="profiles_status_chart")
with charts[1]:
    st.markdown("**Residents in England's most deprived 20 %**")
    show_bar_chart(bar_chart(profiles, category="area", values="most_deprived_20pct_share", percent=True,
                             title="Share of residents", colours="#54278f"), key="profiles_deprived_chart")
with charts[2]:
    st.markdown("**Recorded floor area**")
    show_bar_chart(bar_chart(profiles, category="area", values="gia_m2", title="Floor area (m²)",
                             colours="#2166AC"), key="profiles_floor_chart")

st.subheader("One area in detail")
area = st.selectbox("Area", profiles["area"].tolist(), key="profiles_area")
profile_downloads(place, common.estate(), area_kind=kind, area_name=area, filters=filters)
column = "neighbourhood" if kind == "neighbourhood" else "pcn_name"
mine = shown[shown[column].astype("object") == area]
left, right = st.columns([3, 2])
with left:
    st.markdown(f"**Estate of {common.md(area)} by partner and status**")
    show_table(estate_breakdown(mine), column_config={"partner": st.column_config.Column("Partner", width="large")})
with right:
    st.markdown(f"**Deprivation of {common.md(area)}'s LSOAs**")
    lsoas = area_lsoas(kind, area, place=place).drop(columns="area")
    show_table(lsoas, height=320)
st.caption("Population: ONS mid-2024 estimates; deprivation: IMD 2019 (MHCLG) by LSOA, each LSOA counted in the "
           "area its representative point falls in; floor area only where the register records it.")
map_downloads(mine, title=f"{place.name} area profile", filters=filters, area=(kind, area), name="profile")
