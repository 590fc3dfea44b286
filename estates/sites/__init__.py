"""Sites: the estate as physical properties, each with its register records, occupants and one status.

A **site** is one physical property. Every accepted register record belongs to exactly one site (matching decides
which: :mod:`estates.sites.matching`); a site's **occupants** are the partner *organisations* present, so several
registers
of one organisation (the GP practice lists from ODS, prescribing settings and PCN membership) count once.

**Status belongs to the site.** The rules classify each record from its own facts (:mod:`estates.classification`);
the site takes the strongest suggestion of its records in the order of :data:`SITE_STATUS_ORDER` — a site that any
occupant needs stays (key, then core); a site is surplus only when every record says so; a record the rules could
not decide holds the site at "needs data" rather than let it be called surplus — and the explanation names the
record that decided it. A person's status is saved on every record of the site in one change (one undo), so the
site's status is that override; if records of one site carry different overrides (sites merged after people set
them), the latest one counts.

Everything here is a plain function of the store's records (:func:`estates.service.read_estate` calls it); nothing
here reads or writes a store.
"""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pandas as pd

from estates.schema import STATUSES

__all__ = [
    "SITE_COLUMNS",
    "SITE_STATUS_ORDER",
    "organisations",
    "site_table",
    "status_counts",
]

#: Which record's suggestion decides a site: the first status in this order that any of its records has.
SITE_STATUS_ORDER: tuple[str, ...] = ("key", "core", "needs data", "surplus")

#: Columns of :func:`site_table`, in order (tags and the outside flag follow ``lsoa_population``).
SITE_COLUMNS: tuple[str, ...] = (
    "site_id", "name", "status", "status_source", "rule_status", "rule_id", "rule_record",
    "override_status", "override_reason", "override_by", "override_at",
    "partners", "partner_count", "partner_types", "registers", "record_count", "record_ids",
    "address_line_1", "town", "postcode", "uprn", "lon", "lat", "easting", "northing", "geocode_precision",
    "position_source", "historic", "ward_code", "ward_name", "neighbourhood", "lsoa_code", "lsoa_name", "imd_rank",
    "imd_decile", "lsoa_population", "pcn_code", "pcn_name",
)

_PRECISION_RANK = {"high": 0, "medium": 1, "low": 2, "none": 3}
_CARRIED = ("address_line_1", "town", "postcode", "uprn", "lon", "lat", "easting", "northing", "geocode_precision",
            "position_source", "ward_code", "ward_name", "neighbourhood", "lsoa_code", "lsoa_name", "imd_rank",
            "imd_decile", "lsoa_population", "pcn_code", "pcn_name")


def organisations(records: pd.DataFrame) -> pd.Series:
    """Each record's partner organisation: ``organisation`` where the partner list gives one, else ``partner``."""
    partner = records["partner"].astype("str")
    if "organisation" not in records:
        return partner
    org = records["organisation"].astype("str")
    return org.where(records["organisation"].notna() & (org.str.strip() != ""), partner)


def _joined_per_site(site_ids: pd.Series, values: pd.Series) -> pd.Series:
    """Each site's distinct non-blank values, sorted (case ignored) and "; "-joined, in one pass over plain lists."""
    pairs = pd.DataFrame({"site": site_ids.to_numpy(), "value": values.astype("object").to_numpy()}).dropna()
    pairs["value"] = pairs["value"].astype("str")
    pairs = pairs[pairs["value"].str.strip() != ""].drop_duplicates()
    pairs = pairs.assign(key=pairs["value"].str.casefold()).sort_values(["site", "key"], kind="stable")
    joined = {site: "; ".join(value for _, value in group)
              for site, group in itertools.groupby(zip(pairs["site"].tolist(), pairs["value"].tolist(),
                                                       strict=True), key=operator.itemgetter(0))}
    return pd.Series(joined, dtype="object")


def site_table(records: pd.DataFrame, *, matches: pd.DataFrame | None = None,
               outside_column: str | None = None) -> pd.DataFrame:
    """One row per site, from its records.

    Parameters
    ----------
    records
        Accepted register records with ``site_id`` (:func:`estates.service.read_estate`'s ``records``): the
        canonical fields, position and tags, ``rule_status``/``rule_id`` and the ``override_*`` columns.
    matches
        The matcher's site table (``Store.sites()``): adds ``match_score``, ``match_reason`` and ``proposed``
        (pairs touching the site still awaiting a decision) when given.
    outside_column
        The place's ``outside_<place>`` flag to carry (True only when every record of the site is outside).

    Returns
    -------
    pandas.DataFrame
        :data:`SITE_COLUMNS` (plus the outside flag and the match columns when given), sorted by ``site_id``.
        ``name``, the position and the tags are the **lead record**'s: the one placed by hand, else the best
        located, else the first named, by id — unless a person named the site (``site_name``). ``partners`` are the
        occupant organisations ("; "-joined),
        ``record_ids`` the records ("; "-joined).
    """
    if not len(records):
        return pd.DataFrame(columns=[*SITE_COLUMNS, *([outside_column] if outside_column else [])])
    # Only the columns a site needs, so the sorts below move a dozen columns, not the record's sixty.
    wanted = ["site_id", "building_id", "name", "partner", "partner_type", "organisation", "rule_status", "rule_id",
              "position_source", "geocode_precision", "historic", "site_name", "override_status", "override_reason",
              "override_by", "override_at", *_CARRIED, *([outside_column] if outside_column else [])]
    frame = records[[c for c in dict.fromkeys(wanted) if c in records]].reset_index(drop=True)
    frame = frame.assign(
        _org=organisations(frame).to_numpy(),
        _manual=(frame.get("position_source", pd.Series("", index=frame.index)).astype("str") == "manual")
        .map({True: 0, False: 1}).to_numpy(),
        _precision=frame.get("geocode_precision", pd.Series("none", index=frame.index)).astype("str")
        .map(_PRECISION_RANK).fillna(3).to_numpy(),
        _unnamed=frame["name"].isna().to_numpy() if "name" in frame else True,
        _status_rank=_status_rank(frame.get("rule_status")),
    )
    # drop_duplicates, not groupby().first(): first() takes each column's first non-missing value, mixing records
    lead = (frame.sort_values(["site_id", "_manual", "_precision", "_unnamed", "building_id"], kind="stable")
            .drop_duplicates("site_id").set_index("site_id").sort_index())
    groups = frame.groupby("site_id", sort=True)
    sites = pd.DataFrame(index=lead.index)
    sites["name"] = lead["name"]
    if "site_name" in frame:  # a name a person gave the site (kept on its records) wins over the lead record's
        named = (frame[frame["site_name"].notna()]
                 .sort_values(["site_id", "_manual", "_precision", "_unnamed", "building_id"], kind="stable")
                 .drop_duplicates("site_id").set_index("site_id")["site_name"])
        sites["name"] = named.reindex(sites.index).fillna(sites["name"]) if len(named) else sites["name"]
    # The rules: the record with the strongest suggestion decides (ties: the lead-record order above).
    decider = (frame.sort_values(["site_id", "_status_rank", "_manual", "_precision", "_unnamed", "building_id"],
                                 kind="stable").drop_duplicates("site_id").set_index("site_id").sort_index())
    sites["rule_status"] = decider["rule_status"]
    sites["rule_id"] = decider.get("rule_id", None)
    sites["rule_record"] = decider["building_id"]
    overrides = _latest_overrides(frame)
    for column in ("override_status", "override_reason", "override_by", "override_at"):
        sites[column] = overrides[column].reindex(sites.index) if column in overrides else None
    has_override = sites["override_status"].notna()
    sites["status"] = sites["override_status"].where(has_override, sites["rule_status"])
    sites["status_source"] = np.where(has_override, "override", np.where(sites["rule_status"].notna(), "rule", None))
    sites["record_count"] = groups.size()
    # Most sites hold one record: their lists are that record's own values. Only shared sites are joined, so a
    # 50,000-record estate costs a group-by over its few thousand shared sites, not 50,000 Python calls.
    shared = frame[frame["site_id"].isin(sites.index[sites["record_count"] > 1])]
    for target, column in (("partners", "_org"), ("partner_types", "partner_type"), ("registers", "partner"),
                           ("record_ids", "building_id")):
        if column not in frame:
            sites[target] = ""
            continue
        own = lead[column].astype("object").where(lead[column].notna(), "").astype("str")
        joined = _joined_per_site(shared["site_id"], shared[column]) if len(shared) else pd.Series(dtype="object")
        sites[target] = joined.reindex(sites.index).fillna(own)
    sites["partner_count"] = groups["_org"].nunique()
    for column in _CARRIED:
        sites[column] = lead.get(column, None)
    flags = {name: frame[name].astype("boolean").fillna(False).astype(bool)
             for name in ("historic", outside_column) if name and name in frame}
    sites["historic"] = flags["historic"].groupby(frame["site_id"]).all() if "historic" in flags else False
    columns = list(SITE_COLUMNS)
    if outside_column and outside_column in flags:
        sites[outside_column] = flags[outside_column].groupby(frame["site_id"]).all()
        columns.append(outside_column)
    sites = sites.rename_axis("site_id").reset_index()[columns]
    if matches is not None and len(matches):
        extra = pd.DataFrame(matches)[["site_id", "match_score", "match_reason", "proposed"]]
        sites = sites.merge(extra, on="site_id", how="left")
        sites["proposed"] = sites["proposed"].fillna(0).astype(int)
    return sites


def _status_rank(statuses: pd.Series | None) -> np.ndarray:
    if statuses is None:
        return np.zeros(0)
    order = {s: n for n, s in enumerate(SITE_STATUS_ORDER)}
    return statuses.astype("object").map(order).fillna(len(order)).to_numpy()


def _latest_overrides(frame: pd.DataFrame) -> pd.DataFrame:
    """Per site, the override of its most recently overridden record (none where no record has one)."""
    if "override_status" not in frame:
        return pd.DataFrame()
    overridden = frame[frame["override_status"].notna()]
    if not len(overridden):
        return pd.DataFrame(columns=["override_status", "override_reason", "override_by", "override_at"])
    latest = (overridden.sort_values(["site_id", "override_at", "building_id"], kind="stable")
              .drop_duplicates("site_id", keep="last").set_index("site_id"))
    return latest[["override_status", "override_reason", "override_by", "override_at"]]


def status_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Rows (sites or records) per ``status``, every status present (0 when none), in display order."""
    counts = frame["status"].astype("str").value_counts()
    return {s: int(counts.get(s, 0)) for s in STATUSES}
