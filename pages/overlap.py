"""Overlap: how the neighbourhoods and the PCN footprints cut across each other, and what estate sits in each piece.

A thin page over ``geo.overlap`` (pieces, areas, population), ``estates.analysis.overlap`` (estate counts),
``estates.maps.overlap`` (the map) and ``estates.exports`` (the downloads). The sidebar filters apply to the buildings
counted; the geography is always the whole place. Method: docs/overlap.md.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from estates.analysis.filters import filter_buildings
from estates.analysis.overlap import MATRICES, buildings_by_piece, overlap_tables, pieces_with_estate
from estates.exports import EXPORT_FORMATS, MIME_TYPES, export_bytes, export_filename
from estates.maps.overlap import overlap_map
from geo import boundaries
from geo.overlap import DEFAULT_SLIVER_HA, overlap_pieces
from geo.place import Place
from pages import _common as common
from pages._downloads import map_downloads
from pages._tables import show_table

place = common.place()
if not boundaries.has_neighbourhoods(place):  # a place built without the council's ward grouping (docs/places.md)
    st.title("Neighbourhoods and PCNs")
    st.info(f"{place.name} has no neighbourhood layer: it was built without the council's ward → neighbourhood "
            "file, and none is invented. Rebuild the place with `--neighbourhoods FILE` to compare neighbourhoods "
            "with PCN footprints.")
    st.stop()
everything = common.estate().records
filters = common.current_filters()
shown = filter_buildings(everything, filters)

_FORMAT_LABELS = {"html": "HTML map", "png": "PNG", "pdf": "PDF", "gpkg": "GeoPackage", "geojson": "GeoJSON",
                  "csv": "CSV", "xlsx": "Excel"}
_FORMAT_HELP = {
    "html": "Interactive map in one file: opens offline, e.g. from an e-mail attachment",
    "png": "Print-quality static map (A4 landscape, 200 dpi)",
    "pdf": "Print-quality static map (A4 landscape, vector)",
    "gpkg": "Layers neighbourhoods, pcns, overlaps, buildings (WGS84) for QGIS",
    "geojson": "RFC 7946 GeoJSON",
    "csv": "Overlap: the matrices as one long table; buildings: the building list",
    "xlsx": "Overlap: a sheet per matrix, pieces and notes; buildings: the list and counts by piece",
}
_VIEWS = {"values": "Values", "rows": "Share of each neighbourhood", "columns": "Share of each PCN"}


@st.cache_resource(max_entries=4, show_spinner="Cutting the neighbourhoods by the PCN footprints…")
def _pieces(where: Place, sliver_ha: float) -> pd.DataFrame:
    # cache_resource: the GeoDataFrame is shared read-only, never copied or pickled.
    return overlap_pieces(where, sliver_ha=sliver_ha)


def _heatmap(table: pd.DataFrame, view: str, *, decimals: int) -> object:
    """The matrix (or its row/column shares) with totals, coloured as a heatmap (pandas Styler, no network)."""
    if view == "rows":
        body = table.div(table.sum(axis=1).where(lambda s: s != 0), axis=0)
        styled = body.style.format("{:.1%}", na_rep="–")
    elif view == "columns":
        body = table.div(table.sum(axis=0).where(lambda s: s != 0), axis=1)
        styled = body.style.format("{:.1%}", na_rep="–")
    else:
        body = table.copy()
        body["Total"] = body.sum(axis=1)
        body.loc["Total"] = body.sum(axis=0)
        styled = body.style.format(f"{{:,.{decimals}f}}", na_rep="–")
    inner = (body.index[body.index != "Total"], [c for c in body.columns if c != "Total"])
    return styled.background_gradient(cmap="Blues", axis=None, subset=inner)


def _downloader(kind: str, fmt: str, sliver_ha: float, buildings: pd.DataFrame) -> object:
    def make() -> bytes:
        return export_bytes(kind, fmt, place=place, sliver_ha=sliver_ha, buildings=buildings, filters=filters).data

    return make


st.title(f"{place.name}: {place.neighbourhood_term}s × primary care networks")
sliver_ha = float(st.number_input(
    "Sliver threshold (ha)", min_value=0.0, max_value=50.0, value=float(DEFAULT_SLIVER_HA), step=0.5,
    key="overlap_sliver_ha",
    help="Pieces smaller than this are slivers from boundary mismatch: kept in every total, not drawn as overlaps"))
pieces = _pieces(place, sliver_ha)
with_estate = pieces_with_estate(pieces, shown)
tables = overlap_tables(pieces, shown, place=place)
slivers = pieces[pieces["is_sliver"]]
st.markdown(common.count_caption(shown, len(everything), what="buildings counted", on_map=False)
            + (f" — filters: {common.md(filters.describe())}" if filters.active else "")
            + f" · **{len(pieces) - len(slivers)}** overlap pieces, {len(slivers)} slivers under {sliver_ha:g} ha")

st_folium(overlap_map(with_estate, shown, place=place, sliver_ha=sliver_ha, compact=True), key="overlap_map",
          height=common.MAP_HEIGHT, use_container_width=True, returned_objects=[])
st.caption("Pieces are filled by PCN; heavy lines are neighbourhood boundaries. Hover a piece for its area, shares, "
           "residents, buildings by status and floor area. The legend (top left) and the layers (top right: "
           "buildings by status, GP practices) open on a click.")

st.subheader("Neighbourhood × PCN matrices")
view = st.segmented_control("Show", list(_VIEWS), format_func=_VIEWS.get, default="values",
                            key="overlap_view") or "values"
tabs = st.tabs([MATRICES[key].split(",")[0].split(" (")[0] for key in tables])
for tab, (key, table) in zip(tabs, tables.items(), strict=True):
    with tab:
        st.markdown(f"**{common.md(MATRICES[key])}**")
        decimals = 1 if key == "area_ha" else 0
        st.dataframe(_heatmap(table, view, decimals=decimals), width="stretch")
        if key == "floor_area_m2":
            st.caption(common.md(table.attrs.get("note", "")))
        if key == "registered_patients" and table.attrs.get("missing"):
            st.caption("No published list size (counted as 0): " + common.md(", ".join(table.attrs["missing"])))
        if key == "buildings" and table.attrs.get("not_in_any_piece"):
            st.caption(f"{table.attrs['not_in_any_piece']:,} buildings are in no piece (no location, or outside "
                       f"{common.md(place.name)}); they are listed under the pieces table.")

st.subheader("Pieces")
piece_table = pd.DataFrame(with_estate.drop(columns="geometry"))
show_table(piece_table, column_config={
    "area_ha": st.column_config.NumberColumn("Area (ha)", format="%,.1f"),
    "share_of_neighbourhood_area": st.column_config.NumberColumn("of neighbourhood", format="percent"),
    "share_of_pcn_area": st.column_config.NumberColumn("of PCN", format="percent"),
    "population": st.column_config.NumberColumn("Residents", format="%,.0f"),
    "share_of_neighbourhood_population": st.column_config.NumberColumn("of neighbourhood's", format="percent"),
    "share_of_pcn_population": st.column_config.NumberColumn("of PCN's", format="percent"),
    "gia_m2": st.column_config.NumberColumn("Floor area (m²)", format="%,.0f"),
})
with st.expander("Buildings by piece: status and partner"):
    show_table(buildings_by_piece(shown, pieces))
    show_table(buildings_by_piece(shown, pieces, by="partner"))

st.subheader("Downloads")
st.caption("Each file is built when you click. Maps and files carry the data attribution; spreadsheet formulas in "
           "register text are neutralised. The buildings are the ones counted above (sidebar filters apply).")
for kind, heading in (("overlap", "Overlap analysis"), ("buildings", "Buildings")):
    st.markdown(f"**{heading}**")
    columns = st.columns(len(EXPORT_FORMATS))
    for column, fmt in zip(columns, EXPORT_FORMATS, strict=True):
        with column:
            st.download_button(_FORMAT_LABELS[fmt], data=_downloader(kind, fmt, sliver_ha, shown),
                               file_name=export_filename(kind, fmt, place=place), mime=MIME_TYPES[fmt],
                               key=f"download_{kind}_{fmt}", help=_FORMAT_HELP[fmt], width="stretch",
                               icon=":material/download:")
st.caption("Method: geometry in British National Grid; residents are ONS mid-2024 LSOA estimates spread by area and "
           "scaled to each ward's ONS total; registered patients are counted where the practice sits; floor area "
           "only where a register gives one. See docs/overlap.md.")
map_downloads(shown, title=f"{place.name} estate: sites by status", filters=filters, name="overlap")
