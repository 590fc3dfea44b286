"""The locality page's "Access to sites" section: reach of a kind of site, the access gap, and "if it closes".

One function, :func:`access_section`, that the locality page calls; the work is done by
:mod:`estates.analysis.access` (the
analysis and its tables), :mod:`estates.maps.access` (map layers) and :mod:`estates.exports` (the downloads, built
from the same tables as the view).
"""

from __future__ import annotations

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from estates.analysis.access import (
    GAP_TOP,
    access_analysis,
    access_tables,
    available_kinds,
    facility_points,
    kind_label,
)
from estates.exports import access_export_bytes
from estates.maps import estate_base_map
from estates.maps._offline import offline_map
from estates.maps.access import access_layers
from geo.place import Place
from pages import _common as common
from pages._tables import show_table

__all__ = ["CLOSURE_COLUMNS", "access_section", "closure_view"]

#: The "if it closes" table as shown (and as its CSV download's first columns).
CLOSURE_COLUMNS: dict[str, str] = {
    "imd_decile": "IMD decile", "residents": "Residents whose nearest closes", "before_median_m": "Median before (m)",
    "after_median_m": "Median after (m)", "after_p90_m": "90th percentile after (m)",
    "within_800_m_after": "Still within 800 m",
}


def closure_view(table: pd.DataFrame) -> pd.DataFrame:
    """The "if it closes" table (:func:`estates.analysis.access.access_tables`' ``closure_by_imd_decile``) as displayed:
    whole residents and metres."""
    view = table[list(CLOSURE_COLUMNS)].copy()
    for column in view.columns:
        view[column] = view[column].round(0).astype("Int64")
    return view.rename(columns=CLOSURE_COLUMNS)


def _forget_closures() -> None:
    """Another kind has other sites: the sites chosen to close no longer apply."""
    st.session_state.pop("access_close", None)


def _downloader(analysis: object, fmt: str, table: str | None) -> object:
    def make() -> bytes:
        return access_export_bytes(analysis, fmt, table=table).data  # type: ignore[arg-type]

    return make


def access_section(place: Place, estate: pd.DataFrame, neighbourhood: str) -> None:
    """Draw the section: choose a kind and sites that close; rings, gap LSOAs, reach and "if it closes" tables.

    Parameters
    ----------
    place
        The place.
    estate
        The whole estate (sites anywhere in the place count: residents cross neighbourhood lines).
    neighbourhood
        The neighbourhood whose residents the tables describe.
    """
    st.subheader("Access to sites")
    st.markdown(f"How far {common.md(neighbourhood)}'s residents live from the nearest site of a kind, which LSOAs "
                "have the largest gap (deprivation × distance), and whose nearest site moves how far if sites close. "
                "Straight-line distances from postcode centroids; see docs/access.md.")
    kinds = available_kinds(estate)
    default = kinds.index("library") if "library" in kinds else 0
    controls = st.columns([2, 4, 2])
    kind = controls[0].selectbox("Kind of site", kinds, index=default, key="access_kind", format_func=kind_label,
                                 on_change=_forget_closures)
    sites = facility_points(estate, kind)
    labels = dict(zip(sites["facility_id"], sites["name"].astype("string").fillna("(no name)") + " ("
                      + sites["neighbourhood"].astype("string").fillna("outside") + ")", strict=True))
    in_view = sites["neighbourhood"] == neighbourhood
    options = [*sites.loc[in_view, "facility_id"], *sites.loc[~in_view, "facility_id"]]
    chosen = controls[1].multiselect("If these sites close", options, key="access_close",
                                     format_func=labels.__getitem__, placeholder="Choose a site")
    hubs = facility_points(estate, "any")
    hub_labels = dict(zip(hubs["facility_id"], hubs["name"].astype("string").fillna("(no name)") + " ("
                          + hubs["neighbourhood"].astype("string").fillna("outside") + ")", strict=True))
    near = hubs["neighbourhood"] == neighbourhood
    hub_options = [None, *hubs.loc[near, "facility_id"], *hubs.loc[~near, "facility_id"]]
    hub = controls[1].selectbox("…merging into a hub (optional)", hub_options, key="access_hub",
                                format_func=lambda h: "no hub: they just close" if h is None else hub_labels[h],
                                help="Any located site; it serves the closing sites' residents from then on")
    if hub is not None and hub in chosen:
        st.warning("The hub is one of the sites that close; it is left out as a hub.")
        hub = None
    with controls[2]:
        surplus = st.checkbox("…and every surplus one", key="access_surplus",
                              help="Close every site of this kind whose status is surplus")
        detour = float(st.number_input("Detour factor", min_value=1.0, max_value=2.0, value=1.0, step=0.1,
                                       key="access_detour", help="Multiplies straight-line distances to "
                                       "approximate walking (1 = straight line; 1.2–1.4 is typical in towns)"))
    closing = bool(chosen) or (surplus and (sites["status"] == "surplus").any())
    with st.spinner("Working out each resident's nearest sites…"):
        analysis = access_analysis(estate, kind, closed=chosen, close_surplus=surplus, hub=hub if closing else None,
                                   detour_factor=detour, neighbourhood=neighbourhood, place=place)
    tables = access_tables(analysis)
    reach = tables["by_imd_decile"]
    residents = float(reach["residents"].sum())
    metrics = st.columns(4)
    metrics[0].metric("Residents", f"{residents:,.0f}")
    for column, band in zip(metrics[1:3], (400, 800), strict=True):
        column.metric(f"Within {band} m", f"{reach[f'within_{band}_m'].sum() / residents:.0%}")
    metrics[3].metric(f"{kind_label(kind).capitalize()} in the place", f"{len(sites):,}")

    layers = access_layers(analysis)
    st_folium(offline_map(estate_base_map(place, basemap=common.basemap(), show=("imd",), focus=neighbourhood)),
              key="access_map", height=common.MAP_HEIGHT, use_container_width=True, returned_objects=[],
              feature_group_to_add=[offline_map(g) for g in layers],
              layer_control=folium.LayerControl(collapsed=True))
    ringed = "the sites that close" if analysis.closed else f"every {kind_label(kind).removesuffix('s')} here"
    st.caption(f"Rings at 400 / 800 / 1,600 m round {ringed}; red outlines: the top {GAP_TOP} access-gap LSOAs.")

    st.markdown("**If it closes**")
    if not analysis.closed:
        st.info("Choose a site above (or tick surplus) to see whose nearest site it is and how far their next is.")
    else:
        impact = analysis.impact_in_view
        merged = f", merging into **{common.md(hub_labels[analysis.hub])}**" if analysis.hub else ""
        st.markdown(f"**{impact['residents'].sum():,.0f}** of {common.md(neighbourhood)}'s residents have one of "
                    f"the {len(analysis.closed)} closing site(s) as their nearest{merged}; by IMD decile "
                    "(1 = most deprived):")
        st.table(closure_view(tables["closure_by_imd_decile"]), hide_index=True)
        st.download_button("Download this table (CSV)", data=_downloader(analysis, "csv", "closure_by_imd_decile"),
                           file_name=f"{place.slug}-access-{kind}-closure.csv", mime="text/csv",
                           key="access_download_closure", icon=":material/download:", on_click="ignore")

    left, right = st.columns(2)
    with left:
        st.markdown("**Reach by IMD decile**")
        show_table(reach[["imd_decile", "residents", "share_within_400_m", "share_within_800_m",
                          "share_within_1600_m", "median_m", "p90_m"]], column_config={
                         "imd_decile": "IMD decile",
                         "residents": st.column_config.NumberColumn("Residents", format="%,.0f"),
                         "share_within_400_m": st.column_config.NumberColumn("≤ 400 m", format="percent"),
                         "share_within_800_m": st.column_config.NumberColumn("≤ 800 m", format="percent"),
                         "share_within_1600_m": st.column_config.NumberColumn("≤ 1,600 m", format="percent"),
                         "median_m": st.column_config.NumberColumn("Median (m)", format="%,.0f"),
                         "p90_m": st.column_config.NumberColumn("90th pct (m)", format="%,.0f")})
    with right:
        st.markdown("**Access gap: LSOAs ranked by deprivation × distance**")
        gap = tables["gap"].head(GAP_TOP)
        show_table(gap[["rank", "lsoa_name", "imd_decile", "residents", "mean_m", "share_within_800_m"]],
                   column_config={
                         "rank": "Rank", "lsoa_name": "LSOA", "imd_decile": "IMD decile",
                         "residents": st.column_config.NumberColumn("Residents", format="%,.0f"),
                         "mean_m": st.column_config.NumberColumn("Mean distance (m)", format="%,.0f"),
                         "share_within_800_m": st.column_config.NumberColumn("≤ 800 m", format="percent")})
    downloads = st.columns(3)
    for column, (fmt, label) in zip(downloads, (("xlsx", "All tables (Excel)"), ("png", "Map (PNG)"),
                                                ("pdf", "Map (PDF)")), strict=True):
        with column:
            st.download_button(label, data=_downloader(analysis, fmt, None),
                               file_name=f"{place.slug}-access-{kind}.{fmt}", key=f"access_download_{fmt}",
                               icon=":material/download:", width="stretch", on_click="ignore")
