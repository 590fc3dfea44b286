"""Co-location opportunities: partners' buildings within walking distance of each other, and surplus near key.

Distances are straight lines in British National Grid metres (``easting``/``northing``), a fair stand-in for a
short walk; 400 m (about five minutes) is the default.

**Clusters** (:func:`colocation_clusters`). Each cluster is a *hub* building and every other building within the
distance of it; a cluster counts when its buildings belong to at least two partner organisations (several registers
of one organisation count once, :func:`estates.sites.organisations`) on at least two sites (two
registers describing one building — the council as landlord and the school as occupier — are one site, already
shared, not an opportunity). Hubs are chosen greedily: the building whose neighbourhood holds the most partners
(then sites, then buildings, then the shortest total distance) becomes a hub, its buildings are taken, and the next
hub is chosen among the rest (ties go to the smaller building id, so the result does not depend on row order). So
every building is in at most one cluster and every member is within the distance of its hub. (Single-linkage
clustering, "linked by any chain of 400 m steps", was tried and rejected: on the demo estate it chains the North
neighbourhood's buildings into one cluster of 41 spanning 1.6 km by 1.2 km, which is no five-minute walk.)

**Surplus near key** (:func:`surplus_near_key`): each surplus building with a key building within the distance (not
on the same site), the nearest one named.

Both are **ranked by the deprivation of the area they serve**: the IMD 2019 rank of the LSOA the hub (or the
surplus building) is in, most deprived first (rank 1 is the most deprived LSOA in England), then by size. Records
from out-of-date sources (``historic``) and approximate locations (``geocode_precision`` low: a postcode sector or
district centroid, often kilometres out) are left out by default.
"""

from __future__ import annotations

import heapq

import numpy as np
import pandas as pd
import shapely

from estates.schema import STATUSES
from estates.sites import organisations
from geo.proximity import pairs_within

__all__ = ["DEFAULT_DISTANCE_M", "colocation_clusters", "eligible_buildings", "surplus_near_key"]

#: Walking distance used by default (metres): about five minutes.
DEFAULT_DISTANCE_M = 400.0

_CLUSTER_COLUMNS = ["rank", "cluster_id", "hub_building_id", "hub_name", "partner_count", "site_count", "buildings",
                    "partners", "key", "core", "surplus", "needs data", "gia_m2", "radius_m", "hub_lat", "hub_lon",
                    "lsoa_code", "lsoa_name", "imd_decile", "imd_rank", "neighbourhood"]
_MEMBER_COLUMNS = ["cluster_id", "building_id", "name", "partner", "status", "distance_m"]
_PAIR_COLUMNS = ["rank", "surplus_building_id", "surplus_name", "surplus_partner", "surplus_use", "surplus_gia_m2",
                 "key_building_id", "key_name", "key_partner", "distance_m", "keys_within", "lsoa_code", "lsoa_name",
                 "imd_decile", "imd_rank", "surplus_lat", "surplus_lon", "key_lat", "key_lon"]


def eligible_buildings(
    buildings: pd.DataFrame,
    *,
    include_historic: bool = False,
    include_approximate: bool = False,
) -> pd.DataFrame:
    """The buildings the analysis uses: located (``easting``/``northing``), current and precisely placed.

    Parameters
    ----------
    buildings
        The estate (``estates.service.read_estate(...).records`` or ``estates.estate.current_estate``).
    include_historic
        Keep records from out-of-date sources (``historic``).
    include_approximate
        Keep points located only at a postcode sector or district centroid (``geocode_precision`` low).

    Returns
    -------
    pandas.DataFrame
        The rows kept, index preserved.
    """
    keep = buildings["easting"].notna().to_numpy() & buildings["northing"].notna().to_numpy()
    if "outcome" in buildings:
        keep &= (buildings["outcome"].astype("str") != "rejected").to_numpy()
    if not include_historic and "historic" in buildings:
        keep &= ~buildings["historic"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    if not include_approximate and "geocode_precision" in buildings:
        keep &= (buildings["geocode_precision"].astype("str") != "low").to_numpy()
    return buildings[keep]


def _sites(frame: pd.DataFrame) -> np.ndarray:
    """Site of each row (its own id when site matching gave none)."""
    site = frame["site_id"].astype("object") if "site_id" in frame else pd.Series(None, index=frame.index)
    own = "own:" + frame["building_id"].astype("str")
    return np.asarray(site.where(site.notna(), own).astype("str"))


def colocation_clusters(
    buildings: pd.DataFrame,
    *,
    distance_m: float = DEFAULT_DISTANCE_M,
    min_partners: int = 2,
    include_historic: bool = False,
    include_approximate: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clusters of buildings of two or more partners within walking distance of a hub building.

    Parameters
    ----------
    buildings
        The estate or part of it (``building_id``, ``name``, ``partner``, ``status``, ``easting``, ``northing``,
        ``lat``, ``lon``, ``site_id``, ``gia_m2`` and the LSOA tags ``lsoa_code``, ``lsoa_name``, ``imd_decile``,
        ``imd_rank``).
    distance_m
        Walking distance: every member is within this of its hub (default 400 m).
    min_partners
        Distinct partners a cluster needs (default 2).
    include_historic, include_approximate
        See :func:`eligible_buildings`.

    Returns
    -------
    clusters : pandas.DataFrame
        One row per cluster, ranked (``rank`` 1 first): ``cluster_id``, the hub (``hub_building_id``,
        ``hub_name``, ``hub_lat``, ``hub_lon``), ``partner_count``, ``site_count``, ``buildings``, ``partners``
        (names joined by "; "), buildings per status (``key``, ``core``, ``surplus``, ``needs data``), ``gia_m2``
        (recorded floor area, summed), ``radius_m`` (farthest member from the hub), the hub's LSOA and its
        deprivation (``lsoa_code``, ``lsoa_name``, ``imd_decile``, ``imd_rank``) and ``neighbourhood``.
    members : pandas.DataFrame
        ``cluster_id``, ``building_id``, ``name``, ``partner``, ``status``, ``distance_m`` (to the hub).
    """
    if distance_m <= 0:
        raise ValueError("distance_m must be positive")
    frame = eligible_buildings(buildings, include_historic=include_historic,
                               include_approximate=include_approximate).reset_index(drop=True)
    empty = (pd.DataFrame(columns=_CLUSTER_COLUMNS), pd.DataFrame(columns=_MEMBER_COLUMNS))
    if len(frame) < 2:
        return empty
    east = frame["easting"].to_numpy(dtype=float)
    north = frame["northing"].to_numpy(dtype=float)
    # Partners are organisations: three GP registers of one practice are one partner, not three.
    partners = organisations(frame).to_numpy()
    sites = _sites(frame)
    source, target = pairs_within(east, north, distance_m)
    starts = np.searchsorted(source, np.arange(len(frame) + 1))
    near = [target[starts[i]:starts[i + 1]] for i in range(len(frame))]
    taken = np.zeros(len(frame), dtype=bool)

    ids = frame["building_id"].astype("str").to_numpy()

    def priority(i: int) -> tuple[int, int, int, int, float, str]:
        """Min-heap key: qualifying hubs first, then most partners, sites, buildings, least total distance, id
        (so the result does not depend on row order)."""
        members = near[i][~taken[near[i]]]
        n_partners, n_sites = len(set(partners[members])), len(set(sites[members]))
        qualifies = n_partners >= min_partners and n_sites >= 2
        distance = float(np.hypot(east[members] - east[i], north[members] - north[i]).sum())
        return (0 if qualifies else 1, -n_partners, -n_sites, -len(members), round(distance, 3), ids[i])

    # Lazy greedy: a hub's priority only worsens as buildings are taken, so a popped hub whose fresh priority
    # still beats the best stored one is the true best.
    heap = [(priority(i), i) for i in range(len(frame))]
    heapq.heapify(heap)
    clusters: list[dict[str, object]] = []
    members_out: list[pd.DataFrame] = []
    while heap:
        _, i = heapq.heappop(heap)
        if taken[i]:
            continue
        fresh = priority(i)
        if heap and fresh > heap[0][0]:
            heapq.heappush(heap, (fresh, i))
            continue
        if fresh[0]:
            break  # the best hub left does not qualify, so none does
        members = near[i][~taken[near[i]]]
        taken[members] = True
        hub = frame.iloc[i]
        part = frame.iloc[members]
        distances = np.hypot(east[members] - east[i], north[members] - north[i])
        cluster_id = f"cluster:{hub['building_id']}"
        status = part["status"].astype("str") if "status" in part else pd.Series("", index=part.index)
        gia = part["gia_m2"].astype(float) if "gia_m2" in part else pd.Series(np.nan, index=part.index)
        clusters.append({
            "cluster_id": cluster_id, "hub_building_id": hub["building_id"], "hub_name": hub.get("name"),
            "partner_count": -fresh[1], "site_count": -fresh[2], "buildings": -fresh[3],
            "partners": "; ".join(sorted(set(partners[members]), key=str.casefold)),
            **{s: int((status == s).sum()) for s in STATUSES},
            "gia_m2": float(gia.sum()) if gia.notna().any() else np.nan,
            "radius_m": float(distances.max()), "hub_lat": float(hub["lat"]), "hub_lon": float(hub["lon"]),
            "lsoa_code": hub.get("lsoa_code"), "lsoa_name": hub.get("lsoa_name"),
            "imd_decile": hub.get("imd_decile"), "imd_rank": hub.get("imd_rank"),
            "neighbourhood": hub.get("neighbourhood"),
        })
        members_out.append(pd.DataFrame({
            "cluster_id": cluster_id, "building_id": part["building_id"].to_numpy(),
            "name": part["name"].to_numpy() if "name" in part else None, "partner": partners[members],
            "status": status.to_numpy(), "distance_m": distances,
        }))
    if not clusters:
        return empty
    table = pd.DataFrame(clusters)
    table["_imd"] = pd.to_numeric(table["imd_rank"], errors="coerce").fillna(np.inf)
    table = table.sort_values(["_imd", "partner_count", "buildings", "cluster_id"],
                              ascending=[True, False, False, True], ignore_index=True).drop(columns="_imd")
    table["rank"] = np.arange(1, len(table) + 1)
    members_table = pd.concat(members_out, ignore_index=True).sort_values(
        ["cluster_id", "distance_m", "building_id"], ignore_index=True)
    return table[_CLUSTER_COLUMNS], members_table[_MEMBER_COLUMNS]


def surplus_near_key(
    buildings: pd.DataFrame,
    *,
    distance_m: float = DEFAULT_DISTANCE_M,
    include_historic: bool = False,
    include_approximate: bool = False,
) -> pd.DataFrame:
    """Surplus buildings with a key building within walking distance (on another site), nearest key named.

    Parameters
    ----------
    buildings
        As :func:`colocation_clusters` (``status`` decides surplus and key).
    distance_m
        Walking distance (default 400 m).
    include_historic, include_approximate
        See :func:`eligible_buildings`.

    Returns
    -------
    pandas.DataFrame
        One row per surplus building: ``rank``, the surplus building (``surplus_building_id``, ``surplus_name``,
        ``surplus_partner``, ``surplus_use``, ``surplus_gia_m2``), its nearest key building (``key_building_id``,
        ``key_name``, ``key_partner``), ``distance_m``, ``keys_within`` (key buildings within the distance), the
        LSOA of the surplus building with its deprivation, and both points (``surplus_lat`` … ``key_lon``); ranked
        most deprived first, then nearest.
    """
    if distance_m <= 0:
        raise ValueError("distance_m must be positive")
    frame = eligible_buildings(buildings, include_historic=include_historic,
                               include_approximate=include_approximate).reset_index(drop=True)
    status = frame["status"].astype("str").to_numpy()
    surplus = np.flatnonzero(status == "surplus")
    key = np.flatnonzero(status == "key")
    if not len(surplus) or not len(key):
        return pd.DataFrame(columns=_PAIR_COLUMNS)
    east = frame["easting"].to_numpy(dtype=float)
    north = frame["northing"].to_numpy(dtype=float)
    sites = _sites(frame)
    tree = shapely.STRtree(shapely.points(east[key], north[key]))
    s_idx, k_pos = tree.query(shapely.points(east[surplus], north[surplus]), predicate="dwithin",
                              distance=distance_m)
    s_rows, k_rows = surplus[s_idx], key[k_pos]
    other_site = sites[s_rows] != sites[k_rows]
    s_rows, k_rows = s_rows[other_site], k_rows[other_site]
    if not len(s_rows):
        return pd.DataFrame(columns=_PAIR_COLUMNS)
    pairs = pd.DataFrame({"s": s_rows, "k": k_rows,
                          "d": np.hypot(east[s_rows] - east[k_rows], north[s_rows] - north[k_rows])})
    pairs["keys_within"] = pairs.groupby("s")["k"].transform("size")
    nearest = pairs.sort_values(["s", "d", "k"]).drop_duplicates("s")

    def col(name: str, rows: np.ndarray) -> np.ndarray:
        return frame[name].to_numpy()[rows] if name in frame else np.full(len(rows), None)

    s, k = nearest["s"].to_numpy(), nearest["k"].to_numpy()
    table = pd.DataFrame({
        "surplus_building_id": col("building_id", s), "surplus_name": col("name", s),
        "surplus_partner": col("partner", s), "surplus_use": col("use", s), "surplus_gia_m2": col("gia_m2", s),
        "key_building_id": col("building_id", k), "key_name": col("name", k), "key_partner": col("partner", k),
        "distance_m": nearest["d"].to_numpy(), "keys_within": nearest["keys_within"].to_numpy(),
        "lsoa_code": col("lsoa_code", s), "lsoa_name": col("lsoa_name", s), "imd_decile": col("imd_decile", s),
        "imd_rank": col("imd_rank", s), "surplus_lat": col("lat", s), "surplus_lon": col("lon", s),
        "key_lat": col("lat", k), "key_lon": col("lon", k),
    })
    table["_imd"] = pd.to_numeric(table["imd_rank"], errors="coerce").fillna(np.inf)
    table = table.sort_values(["_imd", "distance_m", "surplus_building_id"], ignore_index=True).drop(columns="_imd")
    table["rank"] = np.arange(1, len(table) + 1)
    return table[_PAIR_COLUMNS]
