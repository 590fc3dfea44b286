"""The downloads every map page offers, in one place: the map at print size (PNG, PDF), as a standalone offline
HTML file (with a scale bar), and the data behind it (CSV, Excel, GeoJSON, GeoPackage) — all of exactly the sites the
page shows, fitted to its area and titled with its filters.

A page adds one line: ``map_downloads(shown, title=..., filters=..., area=..., name=...)``. Every file is built only
when its button is pressed (Streamlit runs the button's callable then, in its own thread, while the button shows that
it is working), so a page view never imports matplotlib or builds a file nobody asked for (docs/app.md: cold start).
The work is :func:`estates.exports.view_export_bytes`; this module only wires it to buttons.
"""

from __future__ import annotations

from collections.abc import Callable

import pandas as pd
import streamlit as st

from estates.analysis.filters import Filters
from estates.exports import MIME_TYPES, VIEW_FORMATS, view_export_bytes, view_filename
from estates.maps._view import view_area
from pages import _common as common

__all__ = ["DOWNLOAD_LABELS", "map_downloads", "shown_sites"]

#: Button label of each format (the same on every page).
DOWNLOAD_LABELS: dict[str, str] = {
    "png": "Map (PNG)", "pdf": "Map (PDF)", "html": "Map (HTML)", "csv": "Sites (CSV)", "xlsx": "Sites (Excel)",
    "geojson": "Sites (GeoJSON)", "gpkg": "Sites (GeoPackage)",
}

_HELP: dict[str, str] = {
    "png": "Print map at 200 dpi: fitted to the area shown, filters in the subtitle, legend, scale bar, north "
           "arrow, attribution and date",
    "pdf": "The same print map as a vector PDF",
    "html": "Interactive map in one file, with a scale bar: opens offline, e.g. from an e-mail attachment",
    "csv": "One row per site shown: status, occupants, records, location and areas (formulas neutralised)",
    "xlsx": "The sites shown, and a notes sheet with the filters, the date and the attribution",
    "geojson": "Site points, RFC 7946 (WGS84)",
    "gpkg": "Site points as a 'sites' layer for QGIS (WGS84)",
}


def shown_sites(shown: pd.DataFrame) -> pd.DataFrame:
    """The sites behind the rows a page shows: the rows themselves when they are sites, else the sites of the
    register records shown (a site is shown when any of its records is, as the filters decide)."""
    if "record_ids" in shown.columns or "site_id" not in shown.columns:
        return shown
    sites = common.estate().sites
    return sites[sites["site_id"].astype("str").isin(set(shown["site_id"].astype("str")))]


def _builder(fmt: str, sites: pd.DataFrame, *, name: str, title: str, filters: Filters | None,
             area: tuple[str, str] | None, paper: str) -> Callable[[], bytes]:
    place = common.place()

    def build() -> bytes:
        return view_export_bytes(fmt, sites=sites, name=name, place=place, title=title, filters=filters, area=area,
                                 paper=paper).data

    return build


def map_downloads(
    shown: pd.DataFrame,
    *,
    title: str,
    filters: Filters | None = None,
    area: tuple[str, str] | None = None,
    name: str = "map",
) -> None:
    """Draw the page's download row: PNG, PDF, HTML map and the CSV/XLSX/GeoJSON/GPKG data of the sites shown.

    Parameters
    ----------
    shown
        What the page shows: sites, or register records (then their sites).
    title
        The page's title, for the maps (the area's name is added).
    filters
        The filters that apply on the page (named in the maps' subtitle; their areas set the extent).
    area
        The page's own area, e.g. ``("neighbourhood", "North")``.
    name
        Start of the file names and of the widget keys (unique per page), e.g. ``estate-map``.
    """
    sites = shown_sites(shown)
    place = common.place()
    st.subheader("Download this map and its data")
    described = filters.describe() if filters is not None and filters.active else ""
    where = view_area(filters, area)
    st.caption(f"{len(sites):,} sites" + (f" in {common.md(where[1])}" if where else "")
               + (f" — filters: {common.md(described)}" if described else " — no filters")
               + ". Each file is made when you press its button; maps carry the title, filters, legend, scale bar, "
                 "north arrow, attribution and date.")
    paper = st.segmented_control("Print size", ["A4", "A3"], default="A4", required=True,
                                 key=f"{name}_download_paper") or "A4"
    for column, fmt in zip(st.columns(len(VIEW_FORMATS)), VIEW_FORMATS, strict=True):
        with column:
            st.download_button(
                DOWNLOAD_LABELS[fmt],
                data=_builder(fmt, sites, name=name, title=title, filters=filters, area=area, paper=paper),
                file_name=view_filename(name, fmt, area=where, place=place), mime=MIME_TYPES[fmt],
                key=f"{name}_download_{fmt}", help=_HELP[fmt], width="stretch", icon=":material/download:",
                on_click="ignore")
