"""Locality explorer (place-based pilot): one neighbourhood's buildings over deprivation, its summary, and
co-location opportunities ranked by the deprivation of the area they serve. Defaults to the pilot neighbourhood."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from estates.analysis.colocation import DEFAULT_DISTANCE_M, colocation_clusters, eligible_buildings, surplus_near_key
from estates.analysis.filters import filter_buildings
from estates.analysis.profiles import area_lsoas, area_profiles, estate_breakdown
from estates.maps import STATUS_COLOURS, building_layers, colocation_layers, estate_base_map
from estates.maps._offline import offline_map
from estates.schema import STATUSES
from geo import boundaries
from pages import _common as common
from pages._access import access_section
from pages._charts import bar_chart, show_bar_chart
from pages._downloads import map_downloads
from pages._profile_sheet import profile_downloads
from pages._tables import show_table

place = common.place()
if not boundaries.has_neighbourhoods(place):  # a place built without the council's ward grouping (docs/places.md)
    st.title(f"{place.name} {place.neighbourhood_term}s")
    st.info(f"{place.name} has no neighbourhood layer: it was built without the council's ward → neighbourhood "
            "file, and none is invented. Rebuild the place with `--neighbourhoods FILE`; meanwhile the estate map "
            "and the area profiles (by PCN and ward) work as usual.")
    st.stop()
everything = common.estate().records
hoods = sorted(boundaries.neighbourhood_definition(place)["neighbourhood"].dropna().unique())
term = place.neighbourhood_term

st.title(f"{place.name} {term}s")
controls = st.columns([2, 2, 3])
default = hoods.index(place.pilot_neighbourhood) if place.pilot_neighbourhood in hoods else 0
hood = controls[0].selectbox(term.capitalize(), hoods, index=default, key="locality_neighbourhood")
distance = controls[1].slider("Walking distance (m)", 100, 1500, int(DEFAULT_DISTANCE_M), step=50,
                              key="locality_distance", help="Buildings within this straight-line distance of a hub "
                              "building count as co-located (400 m is about a five-minute walk).")
with controls[2]:
    include_historic = st.checkbox("Count historic records (e.g. NHS ODS 2018)", key="locality_historic")
    include_approximate = st.checkbox("Count approximate locations (postcode sector/district)",
                                      key="locality_approximate")

st.header(f"{hood} {term}")
if hood == place.pilot_neighbourhood and place.pilot_description:
    st.caption(common.md(place.pilot_description))

# The page chooses its own area: the sidebar's geography filters do not apply here, its other filters do.
filters = common.current_filters().without("neighbourhoods", "pcns", "wards")
area = filter_buildings(everything[everything["neighbourhood"].astype("object") == hood], filters)
area_total = int((everything["neighbourhood"].astype("object") == hood).sum())
if common.current_filters() != common.current_filters().without("neighbourhoods", "pcns", "wards"):
    st.caption("The sidebar's neighbourhood, PCN and ward filters do not apply on this page; its other filters do.")

with st.spinner("Working out population and deprivation…"):
    profile = area_profiles(area, "neighbourhood", place=place).set_index("area").loc[hood]
metrics = st.columns(6)
metrics[0].metric("Residents", f"{profile['population']:,.0f}", help="ONS mid-2024 estimate")
metrics[1].metric("IMD score", f"{profile['imd_score']:.1f}", help="Population-weighted IMD 2019 score of its "
                  "LSOAs; higher is more deprived (England's median LSOA scores about 17).")
metrics[2].metric("Most deprived", f"{profile['most_deprived_20pct_share']:.0%}",
                  help="Share of residents living in LSOAs among England's 20 % most deprived (IMD deciles 1–2).")
metrics[3].metric("Buildings", f"{int(profile['buildings']):,}")
metrics[4].metric("Surplus", f"{int(profile['surplus']):,}")
metrics[5].metric("Floor area (m²)", f"{profile['gia_m2']:,.0f}",
                  help=f"Gross internal area of the {int(profile['gia_recorded'])} buildings whose register "
                       "records it.")
profile_downloads(place, common.estate(), area_kind="neighbourhood", area_name=hood, filters=common.current_filters())

with st.spinner("Finding co-location opportunities…"):
    clusters, members = colocation_clusters(area, distance_m=distance, include_historic=include_historic,
                                            include_approximate=include_approximate)
    pairs = surplus_near_key(area, distance_m=distance, include_historic=include_historic,
                             include_approximate=include_approximate)
used = len(eligible_buildings(area, include_historic=include_historic, include_approximate=include_approximate))

st.markdown(common.count_caption(area, area_total, what=f"buildings in {common.md(hood)} shown"))
layers = [*building_layers(area), *colocation_layers(clusters, pairs)]
st_folium(offline_map(estate_base_map(place, basemap=common.basemap(), show=("neighbourhoods", "imd"), focus=hood)),
          key="locality_map", height=common.MAP_HEIGHT, use_container_width=True, returned_objects=[],
          feature_group_to_add=[offline_map(g) for g in layers], layer_control=folium.LayerControl(collapsed=True))
map_downloads(area, title=f"{place.name} estate: sites by status", filters=filters, area=("neighbourhood", hood),
              name="locality")

st.subheader("Co-location opportunities")
st.markdown(f"Clusters of buildings of two or more partners (on two or more sites) within **{distance:,} m** of a "
            f"hub building, ranked by the deprivation of the hub's LSOA (most deprived first). {used:,} of "
            f"{len(area):,} buildings are counted (historic records and approximate locations are left out unless "
            "ticked above).")
if clusters.empty:
    st.info("No co-location clusters at this distance.")
else:
    view = clusters[["rank", "hub_name", "partner_count", "buildings", "partners", "surplus", "key", "gia_m2",
                     "radius_m", "lsoa_name", "imd_decile", "imd_rank"]]
    show_table(view, placeholder="–", column_config={
        "rank": "Rank", "hub_name": "Around", "partner_count": "Partners", "buildings": "Buildings",
        "partners": "Whose", "surplus": "Surplus", "key": "Key",
        "gia_m2": st.column_config.NumberColumn("Floor area (m²)", format="%,.0f"),
        "radius_m": st.column_config.NumberColumn("Radius (m)", format="%.0f"), "lsoa_name": "LSOA",
        "imd_decile": "IMD decile", "imd_rank": "IMD rank"})
    chosen = st.selectbox("Buildings of cluster", clusters["rank"].tolist(), key="locality_cluster",
                          format_func=lambda r: f"#{r}: around {clusters.set_index('rank').loc[r, 'hub_name']}")
    cluster_id = clusters.set_index("rank").loc[chosen, "cluster_id"]
    show_table(members[members["cluster_id"] == cluster_id].drop(columns="cluster_id"), column_config={
        "distance_m": st.column_config.NumberColumn("Distance to hub (m)", format="%,.0f")})

st.subheader("Surplus buildings near key ones")
if pairs.empty:
    st.info(f"No surplus building within {distance:,} m of a key building here.")
else:
    show_table(pairs[["rank", "surplus_name", "surplus_partner", "surplus_use", "key_name", "distance_m",
                      "keys_within", "lsoa_name", "imd_decile"]])

access_section(place, everything, hood)

st.subheader("Estate by partner and status")
breakdown = estate_breakdown(area)
# One under the other, each the page's width: the names and every column stay whole.
show_table(breakdown, column_config={"partner": st.column_config.Column("Partner", width="large")})
show_bar_chart(bar_chart(breakdown[breakdown["partner"] != "total"], category="partner", values=list(STATUSES),
                         title="Buildings", colours=STATUS_COLOURS, legend_title="Status"),
               key="locality_partner_chart")

with st.expander(f"Deprivation of {hood}'s LSOAs"):
    show_table(area_lsoas("neighbourhood", hood, place=place).drop(columns="area"))
