"""Access to the estate: who lives within reach of which sites, and who loses it if sites close or merge.

The geography is :mod:`geo.access` (resident points, nearest facility, reach by area, the access gap, closures).
This module only picks the *facilities* from the estate and puts the pieces together for the CLI, the exports and
the North neighbourhood page, so all three show the same tables.

**Facilities of a kind** (:func:`facility_points`): the sites (``site_id``; a record with none is its own site) with
at least one record of the kind that is located, current and precisely placed (as
:func:`estates.analysis.colocation.eligible_buildings`: historic records and postcode sector/district centroids are
left out
unless asked). Kinds: ``key`` (status key), ``any`` (every site), or a partner type present in the estate (``gp``,
``library``, ``leisure``, ``school`` …). A site's point is its best-placed qualifying record (coordinates given,
then full postcode); its status is the site's own (:mod:`estates.sites`: every record carries it).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from estates.analysis.colocation import eligible_buildings
from geo.access import (
    DISTANCE_BANDS_M,
    access_gap,
    closure_impact,
    closure_summary,
    nearest_facilities,
    reach_summary,
    resident_points,
)
from geo.place import Place, load_place

__all__ = [
    "AccessAnalysis",
    "CLOSED_COLOUR",
    "FACILITY_COLUMNS",
    "GAP_COLOUR",
    "GAP_TOP",
    "GENERAL_KINDS",
    "access_analysis",
    "access_kinds",
    "access_tables",
    "available_kinds",
    "facility_points",
    "kind_label",
    "RING_COLOURS",
    "SITE_COLOUR",
]

#: Kinds that are not a partner type.
GENERAL_KINDS: dict[str, str] = {"key": "key sites", "any": "any site"}

#: Columns of :func:`facility_points`.
FACILITY_COLUMNS: tuple[str, ...] = ("facility_id", "name", "partner", "status", "records", "easting", "northing",
                                     "lat", "lon", "neighbourhood", "lsoa_code", "postcode")

#: How many of the top-ranked gap LSOAs maps highlight.
GAP_TOP = 10

#: Ring colour per distance band (ColorBrewer Greens, nearest darkest).
RING_COLOURS: dict[float, str] = {400.0: "#006D2C", 800.0: "#31A354", 1600.0: "#74C476"}
#: Outline of the gap LSOAs.
GAP_COLOUR = "#D7301F"
#: Sites of the kind, and sites that close.
SITE_COLOUR = "#08519C"
CLOSED_COLOUR = "#E31A1C"

_PRECISION_ORDER = {"high": 0, "medium": 1, "low": 2}


def access_kinds(buildings: pd.DataFrame) -> list[str]:
    """The kinds of site one can measure access to in this estate: ``key``, ``any``, then its partner types."""
    types = sorted(str(t) for t in buildings["partner_type"].dropna().unique())
    return [*GENERAL_KINDS, *types]


def available_kinds(
    buildings: pd.DataFrame,
    *,
    include_historic: bool = False,
    include_approximate: bool = False,
) -> list[str]:
    """The kinds of :func:`access_kinds` that have at least one site :func:`facility_points` would count."""
    counted = eligible_buildings(buildings, include_historic=include_historic,
                                 include_approximate=include_approximate)
    present = {"any"} if len(counted) else set()
    if (counted["status"].astype("object") == "key").any():
        present.add("key")
    present |= {str(t) for t in counted["partner_type"].dropna().unique()}
    return [k for k in access_kinds(buildings) if k in present]


def kind_label(kind: str) -> str:
    """A readable name of a kind, e.g. ``key sites``, ``library sites``."""
    return GENERAL_KINDS.get(kind, f"{kind.replace('_', ' ')} sites")


def facility_points(
    buildings: pd.DataFrame,
    kind: str,
    *,
    include_historic: bool = False,
    include_approximate: bool = False,
) -> pd.DataFrame:
    """The sites of one kind, one point each.

    Parameters
    ----------
    buildings
        The estate (:func:`estates.estate.current_estate`).
    kind
        ``key``, ``any`` or a partner type (see :func:`access_kinds`).
    include_historic, include_approximate
        As :func:`estates.analysis.colocation.eligible_buildings`.

    Returns
    -------
    pandas.DataFrame
        :data:`FACILITY_COLUMNS`, one row per site, sorted by ``facility_id``.

    Raises
    ------
    ValueError
        For a kind the estate does not have.
    """
    if kind not in access_kinds(buildings):
        raise ValueError(f"unknown kind '{kind}' (use {', '.join(access_kinds(buildings))})")
    records = eligible_buildings(buildings, include_historic=include_historic,
                                 include_approximate=include_approximate).copy()
    site = records["site_id"].astype("object") if "site_id" in records else pd.Series(None, index=records.index)
    records["facility_id"] = site.where(site.notna(), records["building_id"].astype("str"))
    # Every record carries its site's status (estates.sites: the service layer decides it), so any row gives it.
    if kind == "key":
        chosen = records[records["status"].astype("object") == "key"]
    elif kind == "any":
        chosen = records
    else:
        chosen = records[records["partner_type"].astype("object") == kind]
    chosen = chosen.assign(_precision=chosen["geocode_precision"].astype("object").map(_PRECISION_ORDER).fillna(9))
    chosen = chosen.sort_values(["facility_id", "_precision", "building_id"])
    counts = chosen.groupby("facility_id").size()
    sites = chosen.drop_duplicates("facility_id").reset_index(drop=True)
    sites["records"] = sites["facility_id"].map(counts).astype(int)
    sites = sites.astype({"easting": float, "northing": float, "lat": float, "lon": float})
    return sites[list(FACILITY_COLUMNS)].reset_index(drop=True)


@dataclass
class AccessAnalysis:
    """One run of the access analysis: the facilities, every resident point's reach, and the tables.

    Attributes
    ----------
    kind
        The kind of site.
    facilities
        :func:`facility_points` (before any closure).
    reached
        :func:`geo.access.nearest_facilities` over every resident point of the place.
    detour_factor
        The factor applied to straight-line distances.
    closed
        Ids of the facilities closed (or merged into ``hub``); empty: no closure asked.
    hub
        Id of the site they merge into, or None.
    hub_site
        That site's :func:`facility_points` row (None without a hub).
    impact
        :func:`geo.access.closure_impact` (empty when nothing closes).
    neighbourhood
        The neighbourhood the view focuses on (None: the whole place).
    place
        The place.
    excluded
        Counts of records left out, by reason (for the notes).
    """

    kind: str
    facilities: pd.DataFrame
    reached: pd.DataFrame
    detour_factor: float
    closed: tuple[str, ...]
    hub: str | None
    hub_site: pd.DataFrame | None
    impact: pd.DataFrame
    neighbourhood: str | None
    place: Place
    excluded: dict[str, int] = field(default_factory=dict)

    @property
    def residents(self) -> pd.DataFrame:
        """Resident points in view (the focus neighbourhood, or all)."""
        if self.neighbourhood is None:
            return self.reached
        return self.reached[self.reached["neighbourhood"] == self.neighbourhood]

    @property
    def impact_in_view(self) -> pd.DataFrame:
        """:attr:`impact` rows in view."""
        if self.neighbourhood is None or self.impact.empty:
            return self.impact
        return self.impact[self.impact["neighbourhood"] == self.neighbourhood]

    def ringed(self) -> pd.DataFrame:
        """The sites maps draw rings round: those that close (and the hub), else every site of the kind in view."""
        if self.closed:
            chosen = self.facilities[self.facilities["facility_id"].isin(self.closed)]
            if self.hub_site is None:
                return chosen
            return pd.concat([chosen, self.hub_site[~self.hub_site["facility_id"].isin(chosen["facility_id"])]],
                             ignore_index=True)
        if self.neighbourhood is None:
            return self.facilities
        return self.facilities[self.facilities["neighbourhood"] == self.neighbourhood]

    def gap(self) -> pd.DataFrame:
        """:func:`geo.access.access_gap` of the LSOAs in view (ranked within the view)."""
        gap = access_gap(self.reached)
        if self.neighbourhood is not None:
            gap = gap[gap["neighbourhood"] == self.neighbourhood].reset_index(drop=True)
            gap["rank"] = np.arange(1, len(gap) + 1)
        return gap


def access_analysis(
    buildings: pd.DataFrame,
    kind: str,
    *,
    closed: Iterable[str] = (),
    close_surplus: bool = False,
    hub: str | None = None,
    detour_factor: float = 1.0,
    neighbourhood: str | None = None,
    include_historic: bool = False,
    include_approximate: bool = False,
    place: Place | None = None,
) -> AccessAnalysis:
    """Reach of one kind of site over the place's residents, and the effect of closing some of them.

    Parameters
    ----------
    buildings
        The estate.
    kind
        See :func:`access_kinds`.
    closed
        Site ids (``facility_id``) that close.
    close_surplus
        Also close every surplus site of the kind.
    hub
        A site id (any located site of the estate, of any kind) the closed sites merge into: it serves their
        residents from then on.
    detour_factor
        Multiplies straight-line distances (≥ 1), see :func:`geo.access.nearest_facilities`.
    neighbourhood
        Focus the tables on one neighbourhood (distances still count sites anywhere in the place).
    include_historic, include_approximate
        See :func:`facility_points`.
    place
        The place (default: the current place).

    Returns
    -------
    AccessAnalysis

    Raises
    ------
    ValueError
        Unknown kind, site id or neighbourhood; a detour factor under 1; a hub without closures.
    """
    place = place if place is not None else load_place()
    facilities = facility_points(buildings, kind, include_historic=include_historic,
                                 include_approximate=include_approximate)
    if facilities.empty:
        left_out = _not_counted(buildings, kind, facilities)
        raise ValueError(f"no {kind_label(kind)} to measure access to: {left_out} record(s) of that kind are "
                         "historic, approximately placed or not located (see --include-historic, "
                         "--include-approximate)")
    residents = resident_points(place)
    if neighbourhood is not None and neighbourhood not in set(residents["neighbourhood"].dropna()):
        raise ValueError(f"unknown neighbourhood '{neighbourhood}'")
    reached = nearest_facilities(residents, facilities, detour_factor=detour_factor)
    gone = list(dict.fromkeys(closed))
    unknown = [s for s in gone if s not in set(facilities["facility_id"])]
    if unknown:
        raise ValueError(f"not a {kind_label(kind).removesuffix('s')} in use: {', '.join(unknown)} "
                         f"(list them with --list)")
    if close_surplus:
        gone += [s for s in facilities.loc[facilities["status"] == "surplus", "facility_id"] if s not in gone]
    hub_point = None
    if hub is not None:
        if not gone:
            raise ValueError("a hub needs sites to merge into it (give sites to close)")
        every = facility_points(buildings, "any", include_historic=include_historic,
                                include_approximate=include_approximate)
        hub_point = every[every["facility_id"] == hub]
        if hub_point.empty:
            raise ValueError(f"the hub {hub} is not a located site")
        if hub in gone:
            raise ValueError(f"the hub {hub} is also among the sites that close")
    impact = closure_impact(reached, facilities, gone, hub=hub_point, detour_factor=detour_factor)
    excluded = {"records of the kind not counted (historic, approximate or not located)":
                _not_counted(buildings, kind, facilities)}
    return AccessAnalysis(kind=kind, facilities=facilities, reached=reached, detour_factor=float(detour_factor),
                          closed=tuple(gone), hub=hub, hub_site=hub_point, impact=impact,
                          neighbourhood=neighbourhood, place=place, excluded=excluded)


def _not_counted(buildings: pd.DataFrame, kind: str, facilities: pd.DataFrame) -> int:
    if kind == "key":
        of_kind = buildings["status"].astype("object") == "key"
    elif kind == "any":
        of_kind = pd.Series(True, index=buildings.index)
    else:
        of_kind = buildings["partner_type"].astype("object") == kind
    return int(of_kind.sum()) - int(facilities["records"].sum())


def _named(frame: pd.DataFrame, facilities: pd.DataFrame, column: str, label: str) -> pd.DataFrame:
    names = facilities.set_index("facility_id")["name"]
    out = frame.copy()
    position = out.columns.get_loc(column) + 1
    out.insert(position, label, out[column].map(names))
    return out


def access_tables(analysis: AccessAnalysis, *, bands: Sequence[float] = DISTANCE_BANDS_M) -> dict[str, pd.DataFrame]:
    """Every table of an analysis, as shown on the page and written by the exports.

    Returns
    -------
    dict of str to pandas.DataFrame
        ``by_imd_decile``, ``by_neighbourhood``, ``by_pcn``, ``by_lsoa``, ``gap`` (LSOAs ranked by deprivation ×
        distance), ``sites`` (the facilities with the residents whose nearest each is), and when sites close:
        ``closure_by_imd_decile``, ``closure_by_site`` and ``closure_postcodes`` (one row per postcode affected).
        The area tables cover the view (the focus neighbourhood, or the place); distances are in metres.
    """
    view = analysis.residents
    facilities = analysis.facilities
    served = view.groupby("nearest_id")["residents"].sum()
    sites = facilities.assign(residents_nearest=facilities["facility_id"].map(served).fillna(0.0))
    tables = {
        "by_imd_decile": reach_summary(view, by="imd_decile", bands=bands),
        "by_neighbourhood": reach_summary(analysis.reached, by="neighbourhood", bands=bands),
        "by_pcn": reach_summary(view, by=["pcn_code", "pcn_name"], bands=bands),
        "by_lsoa": reach_summary(view, by=["lsoa_code", "lsoa_name", "imd_decile"], bands=bands),
        "gap": analysis.gap(),
        "sites": sites,
    }
    if analysis.closed:
        impact = analysis.impact_in_view
        tables["closure_by_imd_decile"] = closure_summary(impact, by="imd_decile", bands=bands)
        every = facilities
        if analysis.hub_site is not None:
            extra = analysis.hub_site[~analysis.hub_site["facility_id"].isin(facilities["facility_id"])]
            every = pd.concat([facilities, extra], ignore_index=True)
        by_site = closure_summary(impact, by="closed_id", bands=bands)
        tables["closure_by_site"] = _named(by_site, every, "closed_id", "closed_name")
        columns = ["postcode", "lsoa_code", "lsoa_name", "neighbourhood", "imd_decile", "residents", "closed_id",
                   "before_m", "after_id", "after_m", "extra_m"]
        tables["closure_postcodes"] = _named(_named(impact[columns], every, "closed_id", "closed_name"), every,
                                             "after_id", "after_name")
    return tables

