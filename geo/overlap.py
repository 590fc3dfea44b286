"""How a place's neighbourhoods and PCN footprints cut across each other: overlap pieces, areas and population.

Geometry is computed in British National Grid (metres). Resident population (ONS mid-2024) is apportioned to each
piece in two steps: each LSOA's population is spread evenly over its area (area-weighting), then the estimates
inside each ward are scaled so the ward adds up to its own ONS mid-2024 estimate. Wards nest exactly in
neighbourhoods, so each neighbourhood's pieces add up to the sum of its wards' ONS figures, and the borough to the
ONS total. Pieces smaller than ``sliver_ha`` are flagged ``is_sliver``: they are kept in every total (so areas add
back) but are not real overlaps and are not drawn.
"""

from __future__ import annotations

from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo import boundaries
from geo.place import Place, load_place
from geo.projection import BNG, WGS84
from geo.tagging import tag

__all__ = [
    "DEFAULT_SLIVER_HA",
    "overlap_pieces",
    "overlap_matrix",
    "registered_patients_matrix",
]

#: Pieces below this area (hectares) are slivers from boundary mismatch, not overlaps.
DEFAULT_SLIVER_HA = 2.0


@lru_cache(maxsize=4)
def _ward_lsoa_pcn(place: Place) -> gpd.GeoDataFrame:
    """Three-way overlay wards × LSOAs × PCN footprints in BNG, with area-weighted, ward-scaled population."""
    wards = boundaries.wards(place).to_crs(BNG)[["ward_code", "neighbourhood", "population_2024", "geometry"]]
    # A place built without population has all-empty columns (read as objects): numbers, NaN = not available.
    wards = wards.rename(columns={"population_2024": "ward_population"}).astype({"ward_population": float})
    lsoas = boundaries.lsoas(place).to_crs(BNG)[["lsoa_code", "population_2024", "geometry"]].astype(
        {"population_2024": float})
    lsoas["lsoa_area"] = lsoas.area
    pcns = boundaries.pcn_footprints(place).to_crs(BNG)[["pcn_code", "pcn_name", "geometry"]]
    pieces = gpd.overlay(wards, lsoas, how="intersection", keep_geom_type=True)
    pieces = gpd.overlay(pieces, pcns, how="intersection", keep_geom_type=True)
    pieces["area_m2"] = pieces.area
    estimate = pieces["population_2024"] * pieces["area_m2"] / pieces["lsoa_area"]
    ward_sum = estimate.groupby(pieces["ward_code"]).transform("sum")
    pieces["population"] = estimate * pieces["ward_population"] / ward_sum
    return pieces


def overlap_pieces(place: Place | None = None, *, sliver_ha: float = DEFAULT_SLIVER_HA) -> gpd.GeoDataFrame:
    """Every non-empty neighbourhood ∩ PCN footprint, with its area, population and their shares.

    Parameters
    ----------
    place
        The place (default: the current place).
    sliver_ha
        Pieces smaller than this are flagged ``is_sliver`` (kept in totals, not drawn as overlaps).

    Returns
    -------
    geopandas.GeoDataFrame
        One row per (neighbourhood, PCN) piece in WGS84 with ``area_ha``, ``share_of_neighbourhood_area``,
        ``share_of_pcn_area``, ``population``, ``share_of_neighbourhood_population``, ``share_of_pcn_population``
        (shares are fractions 0–1) and ``is_sliver``.
    """
    place = place if place is not None else load_place()
    base = _ward_lsoa_pcn(place)
    pieces = base.dissolve(by=["neighbourhood", "pcn_code"], aggfunc={"pcn_name": "first", "area_m2": "sum",
                                                                      "population": "sum"}).reset_index()
    pieces["area_ha"] = pieces["area_m2"] / 1e4
    for key, label in (("neighbourhood", "neighbourhood"), ("pcn_code", "pcn")):
        pieces[f"share_of_{label}_area"] = pieces["area_m2"] / pieces.groupby(key)["area_m2"].transform("sum")
        pieces[f"share_of_{label}_population"] = (pieces["population"]
                                                  / pieces.groupby(key)["population"].transform("sum"))
    pieces["is_sliver"] = pieces["area_ha"] < sliver_ha
    columns = ["neighbourhood", "pcn_code", "pcn_name", "area_ha", "share_of_neighbourhood_area",
               "share_of_pcn_area", "population", "share_of_neighbourhood_population", "share_of_pcn_population",
               "is_sliver", "geometry"]
    pieces = pieces[columns].sort_values(["neighbourhood", "pcn_code"], ignore_index=True).to_crs(WGS84)
    # Reprojecting hair-thin parts left by the overlay makes rings touch themselves; repair (areas are from BNG).
    return pieces.set_geometry(shapely.make_valid(pieces.geometry.values, method="structure"))


def overlap_matrix(pieces: pd.DataFrame, value: str, *, include_slivers: bool = True) -> pd.DataFrame:
    """A neighbourhood × PCN table of ``value`` (e.g. ``area_ha`` or ``population``) from :func:`overlap_pieces`.

    Missing combinations are 0; rows and columns are in a fixed order (neighbourhood name, PCN name).
    """
    rows = pieces if include_slivers else pieces[~pieces["is_sliver"]]
    table = rows.pivot_table(index="neighbourhood", columns="pcn_name", values=value, aggfunc="sum",
                             fill_value=0, observed=True)
    hoods = sorted(pieces["neighbourhood"].unique())
    pcn_names = sorted(pieces["pcn_name"].unique())
    return table.reindex(index=hoods, columns=pcn_names, fill_value=0)


def registered_patients_matrix(place: Place | None = None) -> pd.DataFrame:
    """Registered patients of each PCN's practices, by the neighbourhood each practice sits in.

    Practices with no published list size count as 0 here and are named in the ``attrs["missing"]`` of the result.
    """
    place = place if place is not None else load_place()
    practices = boundaries.gp_practices(place)
    tagged = tag(practices[["practice_code", "practice_name", "pcn_name", "registered_patients", "lon", "lat"]]
                 .rename(columns={"pcn_name": "member_pcn"}), place=place)
    table = tagged.pivot_table(index="neighbourhood", columns="member_pcn", values="registered_patients",
                               aggfunc="sum", fill_value=0, observed=True)
    hoods = sorted(boundaries.neighbourhood_definition(place)["neighbourhood"].unique())
    table = table.reindex(index=hoods, columns=sorted(practices["pcn_name"].dropna().unique()), fill_value=0)
    table = table.astype(np.int64)
    table.attrs["missing"] = tagged.loc[tagged["registered_patients"].isna(), "practice_name"].tolist()
    return table
