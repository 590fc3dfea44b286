"""The shared building filters of the app's sidebar, as plain data and one pure function.

Every page applies the same :class:`Filters` with :func:`filter_buildings`, so "N of M buildings shown" means the
same thing everywhere. Empty choices mean "all". A value that is missing in the data (no neighbourhood because the
point is outside the place, no holding type recorded …) is offered and matched as :data:`MISSING_LABEL`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["DIMENSIONS", "MISSING_LABEL", "Filters", "filter_buildings", "filter_options", "filter_sites"]

#: How a missing value is offered in a choice list and matched.
MISSING_LABEL = "(none)"

#: Filter field → (column of the estate frame, label). The order is the sidebar's order.
DIMENSIONS: dict[str, tuple[str, str]] = {
    "partners": ("partner", "Partner"),
    "partner_types": ("partner_type", "Partner type"),
    "statuses": ("status", "Status"),
    "neighbourhoods": ("neighbourhood", "Neighbourhood"),
    "pcns": ("pcn_name", "PCN"),
    "wards": ("ward_name", "Ward"),
    "holding_types": ("holding_type", "Holding"),
}

_SPACES = re.compile(r"\s+")


@dataclass(frozen=True)
class Filters:
    """A choice of buildings. Empty tuples mean "any"; all given conditions must hold.

    Attributes
    ----------
    partners, partner_types, statuses, neighbourhoods, pcns, wards, holding_types
        Allowed values of ``partner``, ``partner_type``, ``status`` (the status that counts), ``neighbourhood``,
        ``pcn_name``, ``ward_name`` and ``holding_type``; :data:`MISSING_LABEL` selects rows where it is missing.
    search
        Free text: part of the name, the start of a postcode (spaces and case ignored: ``m320th``), a UPRN
        (or its start), or part of the building id.
    include_historic
        Keep records from sources known to be out of date (``historic``, e.g. NHS ODS 2018).
    """

    partners: tuple[str, ...] = ()
    partner_types: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    neighbourhoods: tuple[str, ...] = ()
    pcns: tuple[str, ...] = ()
    wards: tuple[str, ...] = ()
    holding_types: tuple[str, ...] = ()
    search: str = ""
    include_historic: bool = True

    @property
    def active(self) -> bool:
        """True when any condition narrows the estate."""
        return self != Filters()

    def replace(self, **changes: object) -> Filters:
        """A copy with some fields changed (lists become tuples)."""
        cleaned = {k: tuple(v) if isinstance(v, list | set | frozenset) else v for k, v in changes.items()}
        return dataclasses.replace(self, **cleaned)  # type: ignore[arg-type]

    def without(self, *fields: str) -> Filters:
        """A copy with the named fields back at "any" (e.g. a page that chooses its own neighbourhood)."""
        defaults = Filters()
        return dataclasses.replace(self, **{f: getattr(defaults, f) for f in fields})

    def describe(self) -> str:
        """One line for captions and exports, e.g. ``"Status: surplus; Search: 'library'"``; ``""`` if inactive."""
        parts = []
        for name, (_, label) in DIMENSIONS.items():
            values = getattr(self, name)
            if values:
                parts.append(f"{label}: {', '.join(values)}")
        if self.search.strip():
            parts.append(f"Search: {self.search.strip()!r}")
        if not self.include_historic:
            parts.append("historic records left out")
        return "; ".join(parts)


def _labels(values: pd.Series) -> pd.Series:
    """Values as text, missing ones as :data:`MISSING_LABEL`."""
    text = values.astype("object").where(values.notna(), None)
    return text.map(lambda v: MISSING_LABEL if v is None or (isinstance(v, str) and not v.strip()) else str(v))


def filter_options(buildings: pd.DataFrame) -> dict[str, list[str]]:
    """The values each filter can take in ``buildings``, sorted (missing last, as :data:`MISSING_LABEL`).

    Parameters
    ----------
    buildings
        The estate (columns of :data:`DIMENSIONS`; absent columns give no options).

    Returns
    -------
    dict
        Filter field (``partners``, ``statuses`` …) → sorted distinct values.
    """
    options: dict[str, list[str]] = {}
    for name, (column, _) in DIMENSIONS.items():
        if column not in buildings:
            options[name] = []
            continue
        values = set(_labels(buildings[column]).unique())
        options[name] = sorted(values - {MISSING_LABEL}, key=str.casefold) + (
            [MISSING_LABEL] if MISSING_LABEL in values else [])
    return options


def _text_column(buildings: pd.DataFrame, column: str) -> pd.Series:
    if column not in buildings:
        return pd.Series("", index=buildings.index, dtype="str")
    return buildings[column].astype("str").fillna("")


def _search_mask(buildings: pd.DataFrame, query: str) -> np.ndarray:
    query = query.strip()
    if not query:
        return np.ones(len(buildings), dtype=bool)
    folded = query.casefold()
    mask = _text_column(buildings, "name").str.casefold().str.contains(folded, regex=False).to_numpy(
        dtype=bool, copy=True)
    mask |= _text_column(buildings, "building_id").str.casefold().str.contains(folded, regex=False).to_numpy()
    compact = _SPACES.sub("", query).upper()
    if compact:
        for column in ("postcode_normalised", "postcode"):
            codes = _text_column(buildings, column).str.replace(_SPACES, "", regex=True).str.upper()
            mask |= codes.str.startswith(compact).to_numpy() & (codes != "").to_numpy()
    if query.isdigit():
        mask |= _text_column(buildings, "uprn").str.startswith(query).to_numpy()
    return mask


def filter_buildings(buildings: pd.DataFrame, filters: Filters | Mapping[str, object] | None) -> pd.DataFrame:
    """The buildings that pass the filters, in their original order (index kept).

    Parameters
    ----------
    buildings
        The estate's records, e.g. :func:`estates.service.read_estate`'s ``records`` or
        :func:`estates.estate.current_estate`.
    filters
        A :class:`Filters`, a mapping of its fields, or None (no filtering).

    Returns
    -------
    pandas.DataFrame
        A filtered view of ``buildings`` (same columns).

    Examples
    --------
    >>> filter_buildings(estate, Filters(statuses=("surplus",), neighbourhoods=("North",)))  # doctest: +SKIP
    """
    if filters is None:
        return buildings
    if not isinstance(filters, Filters):
        filters = Filters().replace(**dict(filters))
    mask = np.ones(len(buildings), dtype=bool)
    for name, (column, _) in DIMENSIONS.items():
        wanted: Iterable[str] = getattr(filters, name)
        wanted = set(wanted)
        if not wanted:
            continue
        if column not in buildings:
            mask &= MISSING_LABEL in wanted
            continue
        mask &= _labels(buildings[column]).isin(wanted).to_numpy()
    if not filters.include_historic and "historic" in buildings:
        mask &= ~buildings["historic"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    mask &= _search_mask(buildings, filters.search)
    return buildings[mask]


def filter_sites(estate: Any, filters: Filters | Mapping[str, object] | None) -> pd.DataFrame:
    """The sites that pass the filters: a site matches when any of its records does.

    A partner filter therefore matches a site when any occupant matches; ``status`` is the site's (every record
    carries its site's status). Searching finds a site by any record's name, postcode, UPRN or id, or by site id.

    Parameters
    ----------
    estate
        An :class:`estates.service.Estate` (``records`` and ``sites``).
    filters
        As :func:`filter_buildings`.

    Returns
    -------
    pandas.DataFrame
        Rows of ``estate.sites``, in their order.
    """
    if filters is None:
        return estate.sites
    if not isinstance(filters, Filters):
        filters = Filters().replace(**dict(filters))
    if not filters.active:
        return estate.sites
    matched = set(filter_buildings(estate.records, filters)["site_id"].astype("str"))
    query = filters.search.strip().casefold()
    by_id = estate.sites["site_id"].astype("str")
    mask = by_id.isin(matched)
    if query and not filters.replace(search="").active:
        mask |= by_id.str.casefold().str.contains(query, regex=False)
    return estate.sites[mask.to_numpy(dtype=bool)]

