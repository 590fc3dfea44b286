"""The "One-page profile (PDF / PNG)" downloads of an area, shared by the locality and Profiles pages.

The page is drawn only when a button is pressed (Streamlit's deferred download: the button shows it is working
while the file is made, and the page does not rerun), and matplotlib is imported only then: the app's cold start
never loads it (docs/app.md).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from estates.analysis.filters import Filters
from estates.exports import MIME_TYPES, profile_filename
from estates.service import Estate
from geo.place import Place

__all__ = ["profile_downloads"]


def _maker(estate: Estate, place: Place, kind: str, name: str, filters: Filters | None, fmt: str
           ) -> Callable[[], bytes]:
    def make() -> bytes:
        from estates.maps.profile_sheet import profile_export_bytes

        return profile_export_bytes(fmt, estate=estate, place=place, area_kind=kind,  # type: ignore[arg-type]
                                    area_name=name, filters=filters).data

    return make


def profile_downloads(place: Place, estate: Estate, *, area_kind: str, area_name: str | None,
                      filters: Filters | None = None) -> None:
    """Draw the two buttons that download the one-page profile of an area as PDF and PNG.

    Parameters
    ----------
    place
        The place.
    estate
        The whole estate (the profile takes the area's records and sites from it).
    area_kind
        ``neighbourhood`` or ``pcn``.
    area_name
        The area (None: the place has none of this kind, and nothing is drawn).
    filters
        The sidebar's filters (their geography is ignored; the rest are applied and named on the page).
    """
    if area_name is None:
        return
    columns = st.columns([1, 1, 3])
    for column, fmt in zip(columns, ("pdf", "png"), strict=False):
        column.download_button(f"One-page profile ({fmt.upper()})",
                               data=_maker(estate, place, area_kind, area_name, filters, fmt),
                               file_name=profile_filename(area_name, fmt, place=place),
                               mime=MIME_TYPES[fmt],
                               key=f"profile_sheet_{area_kind}_{fmt}", icon=":material/download:",
                               on_click="ignore", width="stretch",
                               help="A4 page for a board paper: map of sites over deprivation, headline figures, "
                                    "estate by partner and status, co-location opportunities. Made when pressed.")
