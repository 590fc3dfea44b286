"""Area profiles: population, deprivation and estate of each neighbourhood or PCN footprint.

* **Population**: ONS mid-2024 residents, from :func:`geo.overlap.overlap_pieces` (LSOA populations spread by area
  and scaled to ward totals), so a neighbourhood's figure is the sum of its wards and every figure agrees with the
  overlap page.
* **Deprivation**: IMD 2019 by LSOA. Each LSOA belongs to the area its representative point falls in (LSOAs nest
  in PCN footprints exactly; they almost nest in wards). Reported as the population-weighted average IMD score,
  the number of LSOAs, and the residents living in LSOAs among the 20 % most deprived in England (deciles 1–2).
* **Estate**: the buildings tagged to the area (by their point), by partner and status, with recorded floor area
  (GIA): an area's floor area counts only buildings whose register records it, and says how many that is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
import pandas as pd

from estates.schema import STATUSES
from geo import boundaries
from geo.place import Place, load_place
from geo.tagging import tag

__all__ = ["AREA_KINDS", "area_lsoas", "area_profiles", "estate_breakdown"]

AreaKind = Literal["neighbourhood", "pcn"]

#: Area kind → the estate column holding the area's name.
AREA_KINDS: dict[str, str] = {"neighbourhood": "neighbourhood", "pcn": "pcn_name"}

_PROFILE_COLUMNS = ["area", "population", "lsoas", "imd_score", "most_deprived_20pct_population",
                    "most_deprived_20pct_share", "most_deprived_lsoa", "most_deprived_decile", "buildings",
                    *STATUSES, "partners", "gia_m2", "gia_recorded", "buildings_per_10k_residents"]


def _check_kind(kind: str) -> str:
    if kind not in AREA_KINDS:
        raise ValueError(f"kind must be one of {', '.join(AREA_KINDS)}, not {kind!r}")
    return AREA_KINDS[kind]


@lru_cache(maxsize=8)
def _lsoa_areas(place: Place) -> pd.DataFrame:
    lsoas = boundaries.lsoas(place)
    points = lsoas.geometry.representative_point()
    located = tag(pd.DataFrame({"lon": points.x.to_numpy(), "lat": points.y.to_numpy()}), place=place)
    return pd.DataFrame({
        "lsoa_code": lsoas["lsoa_code"].to_numpy(), "lsoa_name": lsoas["lsoa_name"].to_numpy(),
        "population": lsoas["population_2024"].to_numpy(dtype=float),
        "imd_score": lsoas["imd_score"].to_numpy(dtype=float), "imd_rank": lsoas["imd_rank"].to_numpy(),
        "imd_decile": lsoas["imd_decile"].to_numpy(),
        "neighbourhood": located["neighbourhood"].to_numpy(), "pcn_name": located["pcn_name"].to_numpy(),
    })


def area_lsoas(kind: AreaKind, area: str | None = None, *, place: Place | None = None) -> pd.DataFrame:
    """The LSOAs of each area (or of one), with population and IMD 2019.

    Parameters
    ----------
    kind
        ``neighbourhood`` or ``pcn`` (PCN footprint, by name).
    area
        Only this area.
    place
        The place (default: the current place).

    Returns
    -------
    pandas.DataFrame
        ``area``, ``lsoa_code``, ``lsoa_name``, ``population``, ``imd_score``, ``imd_rank``, ``imd_decile``,
        most deprived first.
    """
    column = _check_kind(kind)
    place = place if place is not None else load_place()
    table = _lsoa_areas(place).rename(columns={column: "area"})
    if area is not None:
        table = table[table["area"] == area]
    columns = ["area", "lsoa_code", "lsoa_name", "population", "imd_score", "imd_rank", "imd_decile"]
    return table[columns].sort_values(["imd_rank", "lsoa_code"], ignore_index=True)


@lru_cache(maxsize=8)
def _populations(place: Place) -> dict[str, pd.Series]:
    from geo.overlap import overlap_pieces

    pieces = overlap_pieces(place)
    # min_count=1: a place without population shows "not available" (NaN), never 0.
    return {"neighbourhood": pieces.groupby("neighbourhood")["population"].sum(min_count=1),
            "pcn": pieces.groupby("pcn_name")["population"].sum(min_count=1)}


def _area_names(kind: str, place: Place) -> list[str]:
    if kind == "neighbourhood":
        return sorted(boundaries.neighbourhood_definition(place)["neighbourhood"].dropna().unique())
    return sorted(boundaries.pcn_footprints(place)["pcn_name"].dropna().unique())


def area_profiles(buildings: pd.DataFrame, kind: AreaKind, *, place: Place | None = None) -> pd.DataFrame:
    """One row per neighbourhood (or PCN footprint): population, deprivation and estate.

    Parameters
    ----------
    buildings
        The estate, or a filtered part of it (``status``, ``partner``, ``gia_m2`` and the area column
        ``neighbourhood`` / ``pcn_name``).
    kind
        ``neighbourhood`` or ``pcn``.
    place
        The place (default: the current place).

    Returns
    -------
    pandas.DataFrame
        ``area``, ``population`` (mid-2024), ``lsoas``, ``imd_score`` (population-weighted average IMD 2019
        score; higher is more deprived), ``most_deprived_20pct_population`` and ``_share`` (residents in LSOAs of
        deciles 1–2, and their share), ``most_deprived_lsoa`` and its ``most_deprived_decile``, ``buildings``,
        buildings per status, ``partners`` (distinct), ``gia_m2`` (recorded floor area), ``gia_recorded``
        (buildings with a floor area), ``buildings_per_10k_residents``; every area of the place, in name order.
    """
    column = _check_kind(kind)
    place = place if place is not None else load_place()
    names = _area_names(kind, place)
    lsoas = area_lsoas(kind, place=place)
    population = _populations(place)[kind]
    rows = []
    for name in names:
        mine = lsoas[lsoas["area"] == name]
        weight = mine["population"].to_numpy(dtype=float)
        deprived = mine["imd_decile"].to_numpy(dtype=float) <= 2
        estate = buildings[buildings[column].astype("object") == name] if column in buildings else buildings.iloc[:0]
        status = estate["status"].astype("str")
        gia = estate["gia_m2"].astype(float) if "gia_m2" in estate else pd.Series(dtype=float)
        people = float(population.get(name, np.nan))
        worst = mine.iloc[0] if len(mine) else None
        rows.append({
            "area": name,
            "population": people,
            "lsoas": len(mine),
            "imd_score": float(np.average(mine["imd_score"], weights=weight)) if weight.sum() else np.nan,
            "most_deprived_20pct_population": float(weight[deprived].sum()),
            "most_deprived_20pct_share": float(weight[deprived].sum() / weight.sum()) if weight.sum() else np.nan,
            "most_deprived_lsoa": worst["lsoa_name"] if worst is not None else None,
            "most_deprived_decile": int(worst["imd_decile"]) if worst is not None else None,
            "buildings": len(estate),
            **{s: int((status == s).sum()) for s in STATUSES},
            "partners": int(estate["partner"].nunique()) if len(estate) else 0,
            "gia_m2": float(gia.sum()) if gia.notna().any() else 0.0,
            "gia_recorded": int(gia.notna().sum()),
            "buildings_per_10k_residents": len(estate) / people * 1e4 if people else np.nan,
        })
    return pd.DataFrame(rows, columns=_PROFILE_COLUMNS)


def estate_breakdown(buildings: pd.DataFrame, *, by: str = "partner") -> pd.DataFrame:
    """Buildings and recorded floor area by ``by`` (e.g. partner) and status.

    Parameters
    ----------
    buildings
        The buildings of one area (or any selection).
    by
        Row grouping column (``partner``, ``partner_type`` …).

    Returns
    -------
    pandas.DataFrame
        One row per value of ``by`` (most buildings first) with a column per status (counts), ``buildings``,
        ``gia_m2`` (recorded floor area) and ``gia_recorded``; a final ``total`` row.
    """
    status = buildings["status"].astype("str")
    keys = buildings[by].astype("object").where(buildings[by].notna(), "(none)").astype("str")
    counts = pd.crosstab(keys, status).reindex(columns=list(STATUSES), fill_value=0)
    counts.index.name = by
    gia = buildings["gia_m2"].astype(float)
    counts["buildings"] = counts[list(STATUSES)].sum(axis=1)
    counts["gia_m2"] = gia.groupby(keys).sum().reindex(counts.index).fillna(0.0)
    counts["gia_recorded"] = gia.notna().groupby(keys).sum().reindex(counts.index).fillna(0).astype(int)
    counts = counts.sort_values(["buildings", by], ascending=[False, True]) if len(counts) else counts
    table = counts.reset_index()
    total = {by: "total", **{s: int(table[s].sum()) for s in STATUSES}, "buildings": int(table["buildings"].sum()),
             "gia_m2": float(table["gia_m2"].sum()), "gia_recorded": int(table["gia_recorded"].sum())}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)
