"""Primary care network footprints derived from member practices, for places with no official PCN boundaries.

PCNs are groups of GP practices, not areas. To show and count things "in a PCN" each LSOA is given to one PCN
with a Huff gravity model over the PCN's member practices (see docs/pcn_footprints.md for the method, parameters
and limits). The result is one layer a place can swap for an official file.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.projection import BNG, to_bng

__all__ = ["DISTANCE_DECAY", "MIN_DISTANCE_M", "derive_pcn_footprints"]

#: Distance-decay exponent β of the Huff model.
DISTANCE_DECAY = 2.0
#: Distances below this floor (metres) count as this: living next door to a surgery is not infinitely attractive.
MIN_DISTANCE_M = 500.0


def derive_pcn_footprints(lsoa: gpd.GeoDataFrame, practices: pd.DataFrame, membership: pd.DataFrame,
                          postcodes: pd.DataFrame, *, decay: float = DISTANCE_DECAY,
                          min_distance_m: float = MIN_DISTANCE_M) -> tuple[pd.DataFrame, gpd.GeoDataFrame]:
    """Assign every LSOA to one PCN with a Huff gravity model and dissolve LSOAs into PCN footprints.

    Attraction of PCN *p* for LSOA *i* = Σ over p's practices of list size / max(d, d_min)^β, with d the straight-line
    distance from the LSOA's postcode-weighted centroid (a proxy for where residents live) to the practice.
    The LSOA goes to the PCN with the largest attraction; its share of the total is kept as a confidence measure.

    Parameters
    ----------
    lsoa
        LSOA polygons (``lsoa_code``, ``population_2024``) that partition the place.
    practices
        ``practice_code``, ``lon``, ``lat``, ``registered_patients`` (missing → the practice exerts no pull; all
        missing → every practice pulls alike, method ``…_unweighted``). A practice without a location is left out.
    membership
        ``practice_code`` → ``pcn_code``, ``pcn_name``.
    postcodes
        Postcode table with ``lsoa_code``, ``easting``, ``northing`` (for population-weighted centres).
    decay, min_distance_m
        Distance-decay exponent β and the distance floor d_min in metres.

    Returns
    -------
    (assignment, footprints)
        One row per LSOA (``pcn_code``, ``share``, ``nearest_practice_pcn``) and one polygon per PCN (BNG).
    """
    lsoa = lsoa.to_crs(BNG)
    pts = postcodes.dropna(subset=["lsoa_code", "easting"])
    centre = pts.groupby("lsoa_code")[["easting", "northing"]].mean()
    geom_centre = lsoa.set_index("lsoa_code").geometry.representative_point()
    centre = centre.reindex(lsoa["lsoa_code"])
    no_pc = centre["easting"].isna()
    centre.loc[no_pc, "easting"] = geom_centre[no_pc].x
    centre.loc[no_pc, "northing"] = geom_centre[no_pc].y

    prac = practices[["practice_code", "lon", "lat", "registered_patients"]].dropna(subset=["lon", "lat"]).merge(
        membership[["practice_code", "pcn_code"]], on="practice_code")
    px, py = to_bng(prac["lon"].to_numpy(float), prac["lat"].to_numpy(float))
    # A practice without a published list size (closed since 2022) exerts no pull; where no practice has one (no
    # open list-size source for the place) every practice pulls alike and the method name says so.
    weight = prac["registered_patients"].astype("float64").fillna(0.0).to_numpy()
    unweighted = not (weight > 0).any()
    if unweighted:
        weight = np.ones(len(prac))
    d = np.hypot(centre["easting"].to_numpy()[:, None] - px[None, :],
                 centre["northing"].to_numpy()[:, None] - py[None, :])
    pull = weight[None, :] / np.maximum(d, min_distance_m) ** decay
    pcn_codes = sorted(prac["pcn_code"].unique())
    by_pcn = np.stack([pull[:, (prac["pcn_code"] == c).to_numpy()].sum(axis=1) for c in pcn_codes], axis=1)
    best = by_pcn.argmax(axis=1)
    assignment = pd.DataFrame({
        "lsoa_code": lsoa["lsoa_code"],
        "pcn_code": [pcn_codes[i] for i in best],
        "share": np.round(by_pcn.max(axis=1) / by_pcn.sum(axis=1), 3),
        "nearest_practice_pcn": prac["pcn_code"].to_numpy()[d.argmin(axis=1)],
    })
    names = membership.drop_duplicates("pcn_code").set_index("pcn_code")["pcn_name"]
    assignment["pcn_name"] = assignment["pcn_code"].map(names)
    joined = lsoa[["lsoa_code", "population_2024", "geometry"]].merge(assignment, on="lsoa_code")
    no_population = joined["population_2024"].isna().all()
    footprints = joined.dissolve(by="pcn_code", aggfunc={"pcn_name": "first", "population_2024": "sum",
                                                         "lsoa_code": "count"}).reset_index()
    if no_population:  # "not available", never a sum of nothing shown as 0
        footprints["population_2024"] = pd.array([pd.NA] * len(footprints), dtype="Int64")
    footprints = footprints.rename(columns={"lsoa_code": "lsoas", "population_2024": "population_2024"})
    footprints["area_ha"] = (footprints.area / 1e4).round(2)
    footprints["method"] = f"huff_beta{decay:g}_dmin{min_distance_m:g}m_lsoa2021" + ("_unweighted" if unweighted
                                                                                    else "")
    return assignment, footprints[["pcn_code", "pcn_name", "lsoas", "population_2024", "area_ha", "method",
                                   "geometry"]]
