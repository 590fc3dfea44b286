"""The service layer: every operation on the estate, written once. Pages, the CLI and exports call these.

Data flows one way — register → geocode → tag → **sites** → classify → **store** → pages / CLI / exports — and
this module owns each step that touches the store:

* **load** (:func:`load_registers`): every register of a partner list into the store — accepted records become
  buildings, rejected rows stay with their load (:meth:`Store.save_rejected_rows`) — then match sites and classify;
* **ingest** (:func:`ingest_into_store`): one register the same way (the Data page's upload, ``ingest``);
* **match** (:func:`decide_match`, :func:`split_record`, :func:`merge_sites`, :func:`undo_latest`): people's
  decisions, kept in the store with actor, time and reason, audited and undoable, then sites are matched again;
* **classify** (:func:`reclassify`, :func:`set_site_status`, :func:`clear_site_override`): the rules suggest, a
  person decides per site;
* **reposition** (:func:`reposition_site`, :func:`reposition_tags`);
* **read the estate** (:func:`read_estate`, :class:`LiveEstate`, :func:`site_history`): the store's records and
  their sites. With a store present nothing here runs the registers again;
* **what changed** (:func:`change_feed`): the audit trail as a feed in people's words, one row per change.

The store (:mod:`estates.store`) only persists; site logic is :mod:`estates.sites`, rules :mod:`estates.classification`.
"""

from __future__ import annotations

import os
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from estates.sites import site_table
from estates.store import ENV_URL, AuditEntry, NotFoundError, NothingToUndoError, Store
from estates.store.base import MatchDecision

if TYPE_CHECKING:
    from estates.classification import RuleSet
    from estates.ingest import PipelineResult
    from estates.ingest.partners import RegistersConfig
    from geo.online import OnlineSettings
    from geo.place import Place

__all__ = [
    "CHANGE_KINDS",
    "DEFAULT_STORE_PATH",
    "FEED_COLUMNS",
    "INGEST_ACTOR",
    "MATCH_ACTOR",
    "RULES_ACTOR",
    "Estate",
    "estate_from_records",
    "LOCAL_TIME",
    "LiveEstate",
    "LoadReport",
    "change_feed",
    "clear_site_override",
    "decide_match",
    "estate_caption",
    "import_decisions",
    "ingest_into_store",
    "load_registers",
    "merge_sites",
    "place_of",
    "read_all_places",
    "read_estate",
    "read_records",
    "reclassify",
    "rematch",
    "rename_site",
    "reposition_site",
    "reposition_tags",
    "resolve_site",
    "set_site_status",
    "site_history",
    "split_record",
    "store_revision",
    "store_target",
    "undo_latest",
    "write_records",
]

#: The embedded store used when ``ESTATES_DATABASE_URL`` is not set (``var/`` is git-ignored).
DEFAULT_STORE_PATH: Path = Path(__file__).resolve().parent.parent / "var" / "estates.gpkg"

#: Actors of the machine's own runs (people's changes carry the person's name).
INGEST_ACTOR = "ingest"
RULES_ACTOR = "rules"
MATCH_ACTOR = "matching"

Progress = Callable[[str, float], None]

#: Record fields that say who and what the record is: always written by a load (the rest are facts a load may lack).
_IDENTITY_FIELDS = frozenset({"building_id", "partner", "partner_type", "organisation", "historic", "extra"})


def store_target(environ: Mapping[str, str] | None = None) -> str:
    """Where the store lives: ``ESTATES_DATABASE_URL``, else the embedded :data:`DEFAULT_STORE_PATH`.

    Parameters
    ----------
    environ
        Environment to read (default ``os.environ``).

    Returns
    -------
    str
        A ``postgresql://`` URL or a ``.gpkg`` path.
    """
    environ = os.environ if environ is None else environ
    return environ.get(ENV_URL) or os.fspath(DEFAULT_STORE_PATH)


# ------------------------------------------------------------------------------------------------ places

def _place(place: Place | str | None) -> Place:
    """The place meant: a :class:`geo.place.Place`, a slug or folder, or ``None`` for the current place."""
    from geo.place import load_place

    return place if place is not None and not isinstance(place, str) else load_place(place)


def _slug(place: Place | str | None) -> str:
    """The slug the store keeps for a place; a slug the store knows but ``data/`` does not is taken as it is."""
    from geo.place import PlaceError

    try:
        return _place(place).slug
    except PlaceError:
        if isinstance(place, str) and place.strip():
            return place.strip()
        raise


def place_of(store: Store, identifier: str) -> str | None:
    """The place a record or a site belongs to (``None`` when the store has no such id).

    Operations on one site (status, split, merge, undo, history) work in the place of the site they name, whatever
    place the caller is showing.
    """
    rows = store.buildings(ids=[identifier], columns=["place"])
    if len(rows):
        return None if pd.isna(rows["place"].iloc[0]) else str(rows["place"].iloc[0])
    sites = store.sites()
    hit = sites[sites["site_id"].astype("str") == str(identifier)]
    if len(hit) and pd.notna(hit["place"].iloc[0]):
        return str(hit["place"].iloc[0])
    if str(identifier).startswith("site:"):  # a record not yet in a site is its own site
        return place_of(store, str(identifier)[len("site:"):])
    return None


def _place_for(store: Store, identifier: str, place: Place | str | None) -> str:
    """The given place, else the place of the record or site ``identifier`` names, else the current place."""
    if place is not None:
        return _slug(place)
    return place_of(store, identifier) or _slug(None)


# ------------------------------------------------------------------------------------------------ reading


def read_records(store: Store, *, ids: Iterable[str] | None = None, place: Place | str | None = None) -> pd.DataFrame:
    """The register records of the estate as the store holds them (rejected rows are never records).

    Parameters
    ----------
    store
        An open store.
    ids
        Only these records (default: all of the place's).
    place
        The place whose records to read (a :class:`geo.place.Place` or slug; default: the current place).

    Returns
    -------
    pandas.DataFrame
        The store's building columns (record, position, tags with ``la_code``/``la_name`` and
        ``outside_<place>``, provenance, ``place``, ``site_id``, ``version``, rule and ``override_*`` columns)
        without geometry, sorted by ``building_id``. ``status``/``status_source`` are the record's own here;
        :func:`read_estate` gives every record its site's.
    """
    frame = pd.DataFrame(store.buildings(ids=None if ids is None else list(ids), place=_slug(place))
                         .drop(columns="geometry"))
    frame["status"] = frame["effective_status"]
    if "historic" in frame:
        frame["historic"] = frame["historic"].astype("boolean").fillna(False).astype(bool)
    return frame.sort_values("building_id", kind="stable", ignore_index=True)


@dataclass(frozen=True)
class Estate:
    """The estate: its sites, and the register records in them.

    Attributes
    ----------
    records
        One row per accepted register record, with ``site_id`` and, in ``status``/``status_source``, its site's
        status (the record's own rule suggestion stays in ``rule_status``).
    sites
        :func:`estates.sites.site_table`: one row per site.
    registers
        How many registers (partner + file) the records come from.
    """

    records: pd.DataFrame
    sites: pd.DataFrame
    registers: int

    def caption(self) -> str:
        """``"780 sites from 979 register records (18 registers)"``."""
        return estate_caption(len(self.sites), len(self.records), self.registers)

    def site_records(self, site_id: str) -> pd.DataFrame:
        """The records of one site."""
        return self.records[self.records["site_id"].astype("str") == str(site_id)]

    def nearby_sites(self, site_id: str, *, within_m: float = 250.0, most: int = 20) -> pd.DataFrame:
        """Other sites within ``within_m`` metres (British National Grid) of a site, nearest first, with ``away_m``
        (what a person may merge it with); empty when the site has no position."""
        sites = self.sites
        here = sites[sites["site_id"].astype("str") == str(site_id)]
        if not len(here) or pd.isna(here["easting"].iloc[0]):
            return sites.iloc[0:0].assign(away_m=pd.Series(dtype=float))
        away = np.hypot(sites["easting"] - here["easting"].iloc[0], sites["northing"] - here["northing"].iloc[0])
        near = sites.assign(away_m=away)[(away <= within_m).to_numpy() & (sites["site_id"] != site_id).to_numpy()]
        return near.sort_values("away_m", kind="stable").head(most)

    def record_versions(self, site_ids: Iterable[str]) -> dict[str, int]:
        """``{building_id: version}`` of every record of these sites (what a save expects)."""
        wanted = {str(s) for s in site_ids}
        rows = self.records[self.records["site_id"].astype("str").isin(wanted)]
        return dict(zip(rows["building_id"].astype("str"), rows["version"].astype(int), strict=True))


def estate_caption(sites: int, records: int, registers: int) -> str:
    """``"780 sites from 979 register records (18 registers)"``."""
    return (f"{sites:,} site{'s' if sites != 1 else ''} from {records:,} register record{'s' if records != 1 else ''}"
            f" ({registers:,} register{'s' if registers != 1 else ''})")


def estate_from_records(records: pd.DataFrame, matches: pd.DataFrame | None, outside_column: str | None) -> Estate:
    records = records.copy()
    # A record not (yet) in a site — a store written before matching ran — is its own site.
    missing = records["site_id"].isna()
    if missing.any():
        records.loc[missing, "site_id"] = "site:" + records.loc[missing, "building_id"].astype("str")
    sites = site_table(records, matches=matches, outside_column=outside_column)
    status = sites.set_index("site_id")[["status", "status_source"]]
    records["status"] = records["site_id"].map(status["status"])
    records["status_source"] = records["site_id"].map(status["status_source"])
    registers = int(records[["partner", "source_file"]].astype("str").drop_duplicates().shape[0]) if len(records) \
        else 0
    return Estate(records=records, sites=sites, registers=registers)


def _outside_column(records: pd.DataFrame) -> str | None:
    return next((c for c in records.columns if isinstance(c, str) and c.startswith("outside_")), None)


def read_estate(store: Store, *, place: Place | str | None = None) -> Estate:
    """One place's estate as the store holds it now: its sites and their records (no pipeline run).

    Parameters
    ----------
    store
        An open store.
    place
        The place (a :class:`geo.place.Place` or slug; default: the current place). Only its records and sites
        are read: a store holding several places keeps them apart. :func:`read_all_places` reads them all.

    Returns
    -------
    Estate
    """
    slug = _slug(place)
    records = read_records(store, place=slug)
    return estate_from_records(records, store.sites(place=slug), _outside_column(records))


def read_all_places(store: Store) -> Estate:
    """Every place's estate in the store at once (e.g. Greater Manchester): each place's sites, side by side.

    Each place is read and its sites derived on their own (a site never joins records of two places); the rows
    carry ``place`` (the slug), and the place's flag ``outside_<place>`` is given as ``outside_place``. Records
    stored without a place (direct store use, never the service) are not part of any place and are left out.

    Parameters
    ----------
    store
        An open store.

    Returns
    -------
    Estate
        ``records`` and ``sites`` of every place, sorted by place then id; ``registers`` summed over places.
    """
    records, sites, registers = [], [], 0
    for slug in sorted(p for p in store.places() if p is not None):
        estate = read_estate(store, place=slug)
        flag = {f"outside_{slug}": "outside_place"}
        records.append(estate.records.rename(columns=flag).assign(place=slug))
        sites.append(estate.sites.rename(columns=flag).assign(place=slug))
        registers += estate.registers
    if not records:
        empty = read_estate(store, place=_slug(None))
        return Estate(records=empty.records.assign(place=pd.Series(dtype="str")),
                      sites=empty.sites.assign(place=pd.Series(dtype="str")), registers=0)
    return Estate(records=pd.concat(records, ignore_index=True), sites=pd.concat(sites, ignore_index=True),
                  registers=registers)


def resolve_site(estate: Estate, identifier: str) -> str:
    """The site an id names: a site id, or the site of a record id.

    Raises
    ------
    NotFoundError
        When the id is neither.
    """
    if (estate.sites["site_id"].astype("str") == identifier).any():
        return identifier
    rows = estate.records[estate.records["building_id"].astype("str") == identifier]
    if len(rows):
        return str(rows["site_id"].iloc[0])
    raise NotFoundError(f"no site or record '{identifier}' in the store")


_revision_lock = threading.Lock()
_revisions: dict[str, int] = {}


def store_revision(store: Store) -> int:
    """A number that grows whenever a change is saved: the id of the store's latest audit row (0 when empty).

    Reads only the audit rows added since the last call for this store, so calling it on every page run is cheap.
    """
    with _revision_lock:
        known = _revisions.get(store.location, 0)
    newer = store.audit_log(since_id=known)
    if len(newer):
        known = max(known, int(newer["id"].max()))
    elif known and len(store.audit_log(since_id=known - 1)) == 0:
        # The row we last saw is gone: a store replaced under the same name (a restored backup). Start again.
        everything = store.audit_log(since_id=0)
        known = int(everything["id"].max()) if len(everything) else 0
    with _revision_lock:
        _revisions[store.location] = known
    return known


class LiveEstate:
    """The estate of a store, kept in step cheaply: after a save only the records that changed are read again.

    Each :meth:`snapshot` asks the store for the audit rows written since the last one (usually none), re-reads just
    the records they name and derives the sites again (a pandas group-by, milliseconds). Safe to share between
    threads (one per store per process, e.g. in ``st.cache_resource``).

    Parameters
    ----------
    store
        An open store.
    full_reload_share
        Re-read everything instead when more than this share of the records changed (e.g. a rule run).
    place
        The place whose estate to keep (default: the current place, when constructed).

    Notes
    -----
    Site matching is not audited (it is a machine suggestion): after sites are matched again, call :meth:`reload`.
    """

    def __init__(self, store: Store, *, full_reload_share: float = 0.2, place: Place | str | None = None) -> None:
        self._store = store
        self._place = _slug(place)
        self._share = full_reload_share
        self._lock = threading.Lock()
        self._records: pd.DataFrame | None = None
        self._matches: pd.DataFrame | None = None
        self._estate: Estate | None = None
        self._revision = 0

    @property
    def loaded(self) -> bool:
        """True once the estate has been read (the next :meth:`snapshot` is cheap)."""
        return self._estate is not None

    def reload(self) -> None:
        """Forget the cached estate: the next :meth:`snapshot` reads all of it."""
        with self._lock:
            self._estate = None
            self._records = None

    def snapshot(self) -> tuple[int, Estate]:
        """The store's revision and its estate now (treat it as read-only: it is shared)."""
        with self._lock:
            if self._records is None or self._estate is None:
                revision = store_revision(self._store)
                self._records = read_records(self._store, place=self._place)
                self._matches = self._store.sites(place=self._place)
                self._revision = revision
                self._estate = estate_from_records(self._records, self._matches, _outside_column(self._records))
                return self._revision, self._estate
            newer = self._store.audit_log(since_id=self._revision)
            if not len(newer):
                return self._revision, self._estate
            changed = newer["building_id"].dropna().astype("str").unique()
            if len(changed) > self._share * max(len(self._records), 1):
                self._records = read_records(self._store, place=self._place)
            else:
                fresh = read_records(self._store, ids=changed, place=self._place)
                kept = self._records[~self._records["building_id"].isin(changed)]
                self._records = pd.concat([kept, fresh], ignore_index=True).sort_values(
                    "building_id", kind="stable", ignore_index=True)
            if newer["action"].astype("str").eq("match_decision").any() or newer["action"].astype("str").eq(
                    "undo").any():
                self._matches = self._store.sites(place=self._place)
            self._estate = estate_from_records(self._records, self._matches, _outside_column(self._records))
            self._revision = int(newer["id"].max())
            return self._revision, self._estate


def site_history(store: Store, identifier: str, *, estate: Estate | None = None,
                 place: Place | str | None = None) -> list[AuditEntry]:
    """The audit history of a site (every record of it) or of one record, oldest first.

    Parameters
    ----------
    store
        An open store.
    identifier
        A site id or a record (building) id.
    estate
        The estate already read (default: read the estate of the place the id belongs to).
    place
        The place (default: the one the id belongs to).

    Raises
    ------
    NotFoundError
        When the id is neither a site nor a record.
    """
    if estate is None and len(store.buildings(ids=[identifier], columns=["building_id"])):
        return store.history(identifier)  # a record: its own history, whatever place it is in
    estate = estate if estate is not None else read_estate(store, place=_place_for(store, identifier, place))
    if (estate.records["building_id"].astype("str") == identifier).any():
        return store.history(identifier)
    site_id = resolve_site(estate, identifier)
    ids = estate.site_records(site_id)["building_id"].astype("str").tolist()
    entries = [e for i in ids for e in store.history(i)]
    return sorted(entries, key=lambda e: e.id)


# ------------------------------------------------------------------------------------------------ load / ingest


@dataclass
class LoadReport:
    """What :func:`load_registers` did.

    Attributes
    ----------
    pipeline
        The registers as read (``summary`` per register, ``records`` with every row's outcome).
    buildings
        ``upsert_buildings`` counts of the accepted records (inserted / updated / unchanged).
    rejected
        Rejected rows kept with their loads.
    sites
        Sites after matching.
    rule_changes
        Records whose rule suggestion changed.
    decisions
        Match decisions imported from the partner list's decisions file.
    """

    pipeline: PipelineResult
    buildings: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    sites: int = 0
    rule_changes: int = 0
    decisions: int = 0

    @property
    def registers(self) -> int:
        """Registers read."""
        return len(self.pipeline.summary)

    @property
    def errors(self) -> list[tuple[str, str]]:
        """``(partner, message)`` of registers that could not be read."""
        return list(self.pipeline.errors)


def write_records(store: Store, records: pd.DataFrame, *, actor: str, source: str,
                  place: Place | str | None = None) -> tuple[dict[str, int], int]:
    """Write ingested records: accepted ones as buildings, rejected ones with their load (never as buildings).

    Parameters
    ----------
    store
        The store.
    records
        ``ingest_register(...).records`` or pipeline records (every row, with ``outcome`` and ``issues``).
    actor, source
        Who loads, and from what (for the audit).
    place
        The place the records are loaded for (default: the current place): they belong to its estate. A record
        already in another place's estate is rejected with the reason (a record belongs to one place).

    Returns
    -------
    tuple
        ``upsert_buildings`` counts, and how many rejected rows were kept.
    """
    from estates.ingest import rejected_rows
    from estates.schema import FIELDS

    slug = _slug(place)
    records = _refuse_other_places(store, records, slug)
    accepted = records[records["outcome"].astype("str") != "rejected"].drop(columns=["site_id"], errors="ignore")
    # A fact the register does not give at all (a column empty for the whole load) is left as the store has it,
    # so loading a register again never wipes what a partner returned on a data request (estates.facts).
    facts = [f.name for f in FIELDS if f.name not in _IDENTITY_FIELDS and f.name in accepted]
    counts = {"inserted": 0, "updated": 0, "unchanged": 0}
    for _, load in accepted.groupby(["partner", "source_file"], sort=False, dropna=False):
        absent = [c for c in facts if load[c].isna().all()]
        done = store.upsert_buildings(load.drop(columns=absent), actor=actor, source=source, place=slug)
        counts = {k: counts[k] + done.get(k, 0) for k in counts}
    kept = 0
    loads = records[["partner", "source_file"]].astype("str").drop_duplicates()
    rejects = rejected_rows(records)
    for partner, source_file in loads.itertuples(index=False):
        mine = rejects[(rejects["partner"] == partner) & (rejects["source_file"] == source_file)]
        kept += store.save_rejected_rows(mine, partner=partner, source_file=source_file, actor=actor, place=slug)
    return counts, kept


def _refuse_other_places(store: Store, records: pd.DataFrame, slug: str) -> pd.DataFrame:
    """Records whose id another place's estate holds already become rejected rows, with the reason."""
    if not len(records) or "building_id" not in records:
        return records
    live = records["outcome"].astype("str") != "rejected"
    ids = records.loc[live, "building_id"].dropna().astype("str").unique().tolist()
    held = store.buildings(ids=ids, columns=["place"]) if ids else pd.DataFrame(columns=["building_id", "place"])
    other = held[held["place"].notna() & (held["place"].astype("object") != slug)]
    if not len(other):
        return records
    owner = dict(zip(other["building_id"].astype("str"), other["place"].astype("str"), strict=True))
    hit = live & records["building_id"].astype("str").isin(owner)
    records = records.copy()
    reasons = records.loc[hit, "building_id"].astype("str").map(
        lambda i: f"error: record {i} is already in {owner[i]}'s estate (a record belongs to one place)")
    before = records.loc[hit, "issues"].fillna("").astype("str")
    records["issues"] = records["issues"].astype("object")
    records.loc[hit, "issues"] = [f"{r}; {b}" if b else r for r, b in zip(reasons, before, strict=True)]
    records.loc[hit, "outcome"] = "rejected"
    return records


def load_registers(
    store: Store,
    *,
    config: str | os.PathLike[str] | RegistersConfig | None = None,
    place: Place | None = None,
    progress: Progress | None = None,
    online: OnlineSettings | None = None,
    online_progress: Callable[[str, int, int], None] | None = None,
    actor: str = INGEST_ACTOR,
) -> LoadReport:
    """Load every register of a partner list into the store, match sites, classify. Idempotent.

    The partner list's decisions file (``decisions:``) is imported into the store the first time a pair is seen
    (:func:`import_decisions`); after that the store's decisions are the only ones.

    Parameters
    ----------
    store
        The store to fill (or bring up to date).
    config
        Partner list (default: the place's own, ``[config] registers`` in its place.toml, else the demo estate
        ``data/registers/registers.yaml``).
    place
        The place the estate is loaded for (default: the partner list's, else the current place). Its records,
        sites and rules only: other places in the store are not touched. A partner list that names another place
        is refused (``ConfigError``).
    progress
        ``progress(label, fraction)`` with fraction 0–1.
    online, online_progress
        Online geocoding, as :func:`estates.ingest.run_pipeline`.
    actor
        Who loads (audited).

    Returns
    -------
    LoadReport
    """
    from estates.ingest import run_pipeline
    from estates.ingest.partners import ConfigError, RegistersConfig, load_registers_config, place_registers_path

    report = progress or (lambda _label, _fraction: None)
    if config is None:
        config = place_registers_path(_place(place))
    share = 0.75

    def pipeline_progress(label: str, done: int, total: int) -> None:
        report(f"Reading registers: {label}" if label != "done" else "Registers read", share * done / max(total, 1))

    loaded = config if isinstance(config, RegistersConfig) else load_registers_config(config)
    where = _place(place if place is not None else loaded.place)
    if loaded.place is not None and _slug(loaded.place) != where.slug:
        raise ConfigError(f"{loaded.path} is {loaded.place}'s partner list, not {where.slug}'s")
    pipeline = run_pipeline(loaded, progress=pipeline_progress, place=where, online=online,
                            online_progress=online_progress, match=False)
    report("Saving records", 0.8)
    counts, rejected = write_records(store, pipeline.records, actor=actor, source="partner registers",
                                     place=where)
    report("Importing match decisions", 0.85)
    imported = (import_decisions(store, loaded.decisions, place=where.slug) if loaded.decisions is not None
                else 0)
    report("Matching sites", 0.9)
    sites = rematch(store, source="partner registers", place=where.slug)
    report("Classifying", 0.95)
    changed = reclassify(store, place=where)
    report("Done", 1.0)
    return LoadReport(pipeline=pipeline, buildings=counts, rejected=rejected, sites=sites, rule_changes=changed,
                      decisions=imported)


def ingest_into_store(
    store: Store,
    records: pd.DataFrame,
    *,
    actor: str,
    source: str,
    progress: Progress | None = None,
    place: Place | str | None = None,
) -> dict[str, int]:
    """Write one ingested register to the store, then match sites and classify the place's estate again.

    Parameters
    ----------
    store
        The store.
    records
        ``estates.ingest.ingest_register(...).records`` (every row: rejected ones are kept with the load only).
    actor
        The person loading the register.
    source
        The file's name, for the audit.
    progress
        ``progress(label, fraction)``.
    place
        The place the register is loaded for (default: the current place).

    Returns
    -------
    dict
        ``inserted``, ``updated``, ``unchanged`` (records), ``rejected`` (kept with the load), ``sites``,
        ``rule_changes``.
    """
    report = progress or (lambda _label, _fraction: None)
    where = _place(place)
    report("Saving records", 0.1)
    counts, rejected = write_records(store, records, actor=actor, source=source, place=where)
    report("Matching sites", 0.4)
    sites = rematch(store, source=source, place=where.slug)
    report("Classifying", 0.8)
    changed = reclassify(store, place=where)
    report("Done", 1.0)
    return {**counts, "rejected": rejected, "sites": sites, "rule_changes": int(changed)}


def rematch(store: Store, *, source: str = "matching", place: Place | str | None = None) -> int:
    """Match one place's records into sites again (default: the current place), with every decision the store
    holds on them; other places' sites are left alone. Returns the place's site count."""
    from estates.sites.matching import match_sites

    slug = _slug(place)
    records = read_records(store, place=slug)
    decisions = store.match_decisions()
    ids = set(records["building_id"].astype("str"))
    decisions = decisions[decisions["building_id_a"].astype("str").isin(ids)
                          & decisions["building_id_b"].astype("str").isin(ids)]
    matched = match_sites(records.drop(columns=["site_id", "site_partner_count"], errors="ignore"),
                          decisions=decisions)
    store.save_site_matches(matched, actor=MATCH_ACTOR, source=source, place=slug)
    return len(matched.sites)


def reclassify(store: Store, rules: RuleSet | None = None, *, actor: str = RULES_ACTOR,
               today: date | None = None, place: Place | str | None = None) -> int:
    """Re-run a place's classification rules over its records in the store and save the suggestions.

    Reads only the columns the rules need (:func:`estates.classification.rule_columns`), classifies, saves in one
    transaction (audited where a suggestion changed; people's overrides untouched).

    Parameters
    ----------
    store
        The store.
    rules
        From :func:`estates.classification.load_rules` (default: the place's own rules file, ``[config]
        classification`` in its place.toml).
    actor
        Who runs the rules.
    today
        Date the rules' ``within_months`` tests count from (default: today).
    place
        The place whose records to classify (default: the current place); other places' records keep their own
        rules' suggestions.

    Returns
    -------
    int
        Records whose rule suggestion changed.
    """
    from estates.classification import classify, load_rules, rule_columns

    where = _place(place)
    rules = rules if rules is not None else load_rules(where.path("config", "classification"))
    results = classify(store.buildings(columns=rule_columns(rules), place=where.slug), rules, today=today)
    return store.save_rule_results(results, actor=actor)


def import_decisions(store: Store, path: str | os.PathLike[str], *, actor: str = MATCH_ACTOR,
                     place: Place | str | None = None) -> int:
    """Import a match decisions CSV (``estates.sites.matching.load_decisions``) into the store; returns pairs imported.

    Only pairs whose two records are in the place's estate (default: the current place) and that the store has no
    decision for are imported, so a re-load never overrides a decision made since. Each decision keeps who made
    it, when and why in its reason.
    """
    from estates.sites.matching import load_decisions

    decisions = load_decisions(path)
    if not len(decisions):
        return 0
    mine = store.buildings(columns=["building_id"], place=_slug(place))
    versions = dict(zip(*(mine[c] for c in ("building_id", "version")), strict=True))
    decided = {tuple(sorted(p)) for p in store.match_decisions()[["building_id_a", "building_id_b"]]
               .astype("str").itertuples(index=False)}
    latest: dict[tuple[str, str], Any] = {}
    for row in decisions.itertuples(index=False):
        latest[tuple(sorted((str(row.building_id_a), str(row.building_id_b))))] = row
    imported = 0
    for (a, b), row in latest.items():
        if (a, b) in decided or a not in versions or b not in versions:
            continue
        who = str(row.decided_by or "").strip() or "unknown"
        when = str(row.decided_at or "").strip()
        note = str(row.note or "").strip()
        reason = f"imported from {Path(path).name}: decided by {who}{' on ' + when if when else ''}" + (
            f" — {note}" if note else "")
        decision: MatchDecision = "confirm" if str(row.decision).strip().lower() == "confirm" else "reject"
        new = store.set_match_decision(a, b, decision, reason=reason, actor=actor,
                                       expected_versions={a: versions[a], b: versions[b]})
        versions.update(new)
        imported += 1
    return imported


# ------------------------------------------------------------------------------------------------ match decisions


def _versions(store: Store, ids: Iterable[str]) -> dict[str, int]:
    ids = sorted({str(i) for i in ids})
    frame = store.buildings(ids=ids, columns=["building_id"])
    found = dict(zip(frame["building_id"].astype("str"), frame["version"].astype(int), strict=True))
    missing = [i for i in ids if i not in found]
    if missing:
        raise NotFoundError(f"no record {', '.join(missing[:3])} in the store")
    return found


def _after_match_change(store: Store, source: str, place: str) -> None:
    rematch(store, source=source, place=place)
    reclassify(store, place=place)


def decide_match(store: Store, building_id_a: str, building_id_b: str, decision: MatchDecision, *, reason: str,
                 actor: str) -> dict[str, int]:
    """Confirm (one site) or reject (two sites) a pair of records; audited, undoable; sites matched again.

    Returns
    -------
    dict
        ``{building_id: new version}`` of the two records.
    """
    versions = _versions(store, (building_id_a, building_id_b))
    saved = store.set_match_decision(building_id_a, building_id_b, decision, reason=reason, actor=actor,
                                     expected_versions=versions)
    _after_match_change(store, f"match {decision} by {actor}", _place_for(store, building_id_a, None))
    return saved


def split_record(store: Store, building_id: str, *, reason: str, actor: str) -> dict[str, int]:
    """Take a record out of its site: every pair it forms with the site's other records is rejected, as one change.

    Raises
    ------
    ValueError
        When the record is alone on its site already.
    """
    where = _place_for(store, building_id, None)
    estate = read_estate(store, place=where)
    site_id = resolve_site(estate, building_id)
    others = [i for i in estate.site_records(site_id)["building_id"].astype("str") if i != building_id]
    if not others:
        raise ValueError(f"record {building_id} is the only record of its site: nothing to split")
    versions = _versions(store, [building_id, *others])
    saved = store.set_match_decisions([(building_id, o) for o in others], "reject", reason=reason, actor=actor,
                                      expected_versions=versions)
    _after_match_change(store, f"split by {actor}", where)
    return saved


def merge_sites(store: Store, site_a: str, site_b: str, *, reason: str, actor: str) -> dict[str, int]:
    """Make two sites one: their lead records are confirmed as a pair (one change, undoable)."""
    estate = read_estate(store, place=_place_for(store, site_a, None))
    a, b = resolve_site(estate, site_a), resolve_site(estate, site_b)
    if a == b:
        raise ValueError("those are the same site already")
    return decide_match(store, _lead_record(estate, a), _lead_record(estate, b), "confirm", reason=reason,
                        actor=actor)


def _lead_record(estate: Estate, site_id: str) -> str:
    rows = estate.site_records(site_id)
    named = rows[rows["name"].notna()]
    return str((named if len(named) else rows)["building_id"].iloc[0])


def undo_latest(store: Store, identifier: str, *, actor: str, reason: str | None = None) -> str:
    """Undo the latest change a person made to a site (any of its records) or to one record, as one change.

    Returns
    -------
    str
        What was undone (the audit action, e.g. ``override`` or ``match_decision``).

    Raises
    ------
    NothingToUndoError
        When no change by a person is left to undo.
    """
    from estates.store import UNDOABLE_ACTIONS

    where = _place_for(store, identifier, None)
    estate = read_estate(store, place=where)
    is_record = (estate.records["building_id"].astype("str") == identifier).any()
    ids = [identifier] if is_record else estate.site_records(resolve_site(estate, identifier))["building_id"] \
        .astype("str").tolist()
    log = store.audit_log(building_ids=ids)
    undone = set(log.loc[log["action"] == "undo", "undoes"].dropna().astype("str"))
    candidates = log[log["action"].isin(UNDOABLE_ACTIONS) & ~log["change_id"].astype("str").isin(undone)]
    if not len(candidates):
        raise NothingToUndoError(f"{identifier} has no change left to undo (rule runs and loads are not undone: "
                                 "re-run them)")
    latest = candidates.iloc[-1]
    target = str(latest["building_id"])
    version = _versions(store, [target])[target]
    store.undo(target, actor=actor, expected_version=version, reason=reason)
    if latest["action"] == "match_decision":
        _after_match_change(store, f"undo by {actor}", where)
    return str(latest["action"])


# ------------------------------------------------------------------------------------------------ status


def _site_versions(store: Store, site_ids: Sequence[str], expected: Mapping[str, int] | None) -> dict[str, int]:
    """The record versions a change to these sites checks: the ones the person was looking at when given (a page
    passes :meth:`Estate.record_versions` of its snapshot: no read here), else the store's now."""
    if expected is not None:
        return {str(i): int(v) for i, v in expected.items()}
    estate = read_estate(store, place=_place_for(store, str(site_ids[0]), None) if len(site_ids) else None)
    return estate.record_versions([resolve_site(estate, s) for s in site_ids])


def set_site_status(store: Store, site_ids: Sequence[str], status: str, *, reason: str, actor: str,
                    expected: Mapping[str, int] | None = None) -> dict[str, int]:
    """Set the status of one or more sites (every record of each), with a reason, as one change (one undo).

    Parameters
    ----------
    store
        The store.
    site_ids
        Sites (a record id stands for its site).
    status
        ``key``, ``core``, ``surplus`` or ``needs data``.
    reason, actor
        Why, and who (audited).
    expected
        ``{building_id: version}`` the person was looking at (:meth:`Estate.record_versions`); a record changed
        since refuses the whole save (``StaleVersionError``). Default: as the store is now.

    Returns
    -------
    dict
        ``{building_id: new version}``.
    """
    versions = _site_versions(store, site_ids, expected)
    return store.bulk_set_status(versions, status, reason=reason, actor=actor)


def clear_site_override(store: Store, site_id: str, *, reason: str, actor: str,
                        expected: Mapping[str, int] | None = None) -> dict[str, int]:
    """Hand a site back to the rules: remove the override of every record of it that has one (one change)."""
    estate = read_estate(store, place=_place_for(store, site_id, None))
    site = resolve_site(estate, site_id)
    rows = estate.site_records(site)
    overridden = rows[rows["override_status"].notna()]["building_id"].astype("str").tolist()
    if not overridden:
        raise ValueError(f"site {site} has no override to clear")
    versions = _site_versions(store, [site], expected)
    return store.clear_overrides({i: versions[i] for i in overridden}, reason=reason, actor=actor)


def rename_site(store: Store, site_id: str, name: str | None, *, reason: str, actor: str,
                expected: Mapping[str, int] | None = None) -> dict[str, int]:
    """Give a site a name (kept on each of its records; one change, undoable); ``None`` hands it back to the rule."""
    versions = _site_versions(store, [site_id], expected)
    return store.set_site_name(versions, name, reason=reason, actor=actor)


# ------------------------------------------------------------------------------------------------ position


def reposition_tags(lon: float, lat: float, *, place: Place | None = None) -> dict[str, Any]:
    """Grid coordinates and location tags of a point placed by hand (for ``Store.reposition(tags=...)``).

    Returns
    -------
    dict
        ``easting``/``northing`` (British National Grid, metres) and ``geo.tagging.tag`` columns (ward,
        neighbourhood, LSOA and IMD, PCN, outside flag) with missing values as None.
    """
    from geo.place import load_place
    from geo.projection import to_bng
    from geo.tagging import tag, tag_columns

    place = place if place is not None else load_place()
    tagged = tag(pd.DataFrame({"lon": [float(lon)], "lat": [float(lat)]}), place=place).iloc[0]
    tags: dict[str, Any] = {}
    for column in tag_columns(place):  # the areas, the local authority (la_code/la_name), outside_<place>
        value = tagged[column]
        tags[column] = None if pd.isna(value) else (value.item() if hasattr(value, "item") else value)
    easting, northing = to_bng([float(lon)], [float(lat)])
    tags["easting"], tags["northing"] = round(float(easting[0]), 2), round(float(northing[0]), 2)
    return tags


def reposition_site(store: Store, site_id: str, lon: float, lat: float, *, reason: str, actor: str,
                    expected: Mapping[str, int] | None = None, place: Place | None = None) -> dict[str, int]:
    """Move a site (each of its records, as one change: one undo) to a point placed by hand; its areas are tagged
    again.

    Returns
    -------
    dict
        ``{building_id: new version}``.
    """
    versions = _site_versions(store, [site_id], expected)
    tags = reposition_tags(lon, lat, place=place if place is not None else _place(_place_for(store, site_id, None)))
    return store.bulk_reposition(versions, lon, lat, reason=reason, actor=actor, tags=tags)


# ------------------------------------------------------------------------------------------------ what changed

#: The kinds of change :func:`change_feed` tells apart, in people's words, each from what the audit holds: a match
#: decision is ``match confirmed`` or ``match rejected`` (a merge on Classify confirms the two sites' lead records),
#: ``split`` when one record was separated from several others in one change.
CHANGE_KINDS: tuple[str, ...] = (
    "status set", "override cleared", "moved", "renamed", "match confirmed", "match rejected", "split",
    "facts updated", "undone", "register loaded", "rules re-run",
)

#: The columns of :func:`change_feed`, in order.
FEED_COLUMNS: tuple[str, ...] = (
    "When", "Who", "Change", "Site", "Site id", "Sites", "Records", "Partners", "Neighbourhood", "From → to",
    "Reason", "Change id",
)

#: The feed's local time. The tool covers Great Britain (ONSPD postcodes, British National Grid): one time zone.
LOCAL_TIME = ZoneInfo("Europe/London")

_ACTION_KINDS = {"ingest": "register loaded", "rule_run": "rules re-run", "override": "status set",
                 "clear_override": "override cleared", "reposition": "moved", "rename": "renamed",
                 "facts": "facts updated", "undo": "undone"}
_DECIDED = {"confirm": "one site", "reject": "separate sites"}
#: Location tags a move (or a reload) rewrites; only these two are worth a line in the feed.
_TAGS_SHOWN = {"ward_name": "ward", "neighbourhood": "neighbourhood"}
_TAGS_HIDDEN = frozenset({"easting", "northing", "ward_code", "lsoa_code", "lsoa_name", "imd_rank", "imd_decile",
                          "lsoa_population", "pcn_code", "pcn_name", "la_code", "la_name", "geocode_method",
                          "geocode_precision", "geocode_issue", "postcode_normalised", "lon", "lat"})
_POINT = re.compile(r"^POINT \(([-+0-9.eE]+) ([-+0-9.eE]+)\)$")
_MOST = 3


def _feed_bound(value: date | datetime | None, *, end: bool) -> datetime | None:
    """A feed bound as an aware datetime: a date is a whole local day (``end``: up to the next midnight)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=LOCAL_TIME)
    return datetime.combine(value + timedelta(days=1) if end else value, time(), tzinfo=LOCAL_TIME)


def _few(values: Iterable[str], *, most: int = _MOST, joiner: str = "; ") -> str:
    """``a; b; c and 4 more`` (in the order given, duplicates dropped)."""
    unique = list(dict.fromkeys(v for v in values if v))
    more = f" and {len(unique) - most:,} more" if len(unique) > most else ""
    return joiner.join(unique[:most]) + more


def _moved(from_value: str | None, to_value: str | None) -> str:
    """``moved 120 m`` from two ``POINT (lon lat)`` texts (distance on the British National Grid)."""
    from geo.projection import to_bng

    a, b = (_POINT.match(v or "") for v in (from_value, to_value))
    if a is None:
        return "placed on the map" if b is not None else "position changed"
    if b is None:
        return "taken off the map"
    e, n = to_bng([float(a[1]), float(b[1])], [float(a[2]), float(b[2])])
    return f"moved {float(np.hypot(e[1] - e[0], n[1] - n[0])):,.0f} m"


@dataclass(frozen=True, slots=True)
class _Row:
    """One audit row as the feed reads it (missing values as None)."""

    id: int
    change_id: str
    building_id: str
    at: pd.Timestamp
    actor: str
    action: str
    field: str | None
    from_value: str | None
    to_value: str | None
    reason: str | None


def _describe(row: _Row, names: Mapping[str, str], labels: Mapping[str, str]) -> str | None:
    """One audit row in people's words (None for the bookkeeping a person does not need to read)."""
    field_name, old, new = row.field, row.from_value, row.to_value
    if field_name == "override_status":
        return f"{old or 'the rules’ status'} → {new or 'the rules’ status'}"
    if field_name == "rule_status":
        return f"{old or 'none'} → {new or 'none'}"
    if field_name == "site_name":
        return f"“{old or 'the lead record’s name'}” → “{new or 'the lead record’s name'}”"
    if field_name == "position":
        return _moved(old, new)
    if field_name == "record":
        return "record added"
    if field_name is None:
        return None
    if field_name.startswith("match:"):
        a, b = sorted((row.building_id, field_name.removeprefix("match:")))
        return f"{names.get(a, a)} and {names.get(b, b)}: {_DECIDED.get(new or '', 'no decision')}"
    if field_name in _TAGS_SHOWN:
        return f"{_TAGS_SHOWN[field_name]} {old or '–'} → {new or '–'}"
    if field_name in _TAGS_HIDDEN or field_name.startswith("outside_"):
        return None
    label = labels.get(field_name, field_name.replace("_", " "))
    return f"{label}: {old if old is not None else '–'} → {new if new is not None else '–'}"


def _kind(rows: Sequence[_Row]) -> str:
    """The kind of one change (:data:`CHANGE_KINDS`) from its audit rows."""
    action = rows[0].action
    if action != "match_decision":
        return _ACTION_KINDS.get(action, action)
    if all(r.to_value == "confirm" for r in rows):
        return "match confirmed"
    pairs = len(rows) // 2
    most = max(Counter(r.building_id for r in rows).values())
    return "split" if pairs > 1 and most == pairs else "match rejected"


def _summary(texts: Sequence[str]) -> str:
    """One change's from → to: the same for every site, or the commonest with their counts."""
    counts = Counter(t for t in texts if t).most_common()
    if len(counts) <= 1:
        return counts[0][0] if counts else ""
    shown = [f"{t} ({n:,} site{'s' if n != 1 else ''})" for t, n in counts[:_MOST]]
    return "; ".join(shown) + (f"; and {len(counts) - _MOST:,} more" if len(counts) > _MOST else "")


def _empty_feed() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="datetime64[s]" if c == "When" else "int64" if c in ("Sites", "Records")
                                      else object) for c in FEED_COLUMNS})


@dataclass
class _SiteChange:
    """What one change did to one site."""

    change_id: str
    site_id: str
    site: str
    neighbourhood: str
    first: int
    at: pd.Timestamp
    actor: str
    records: set[str] = field(default_factory=set)
    partners: set[str] = field(default_factory=set)
    texts: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    added: int = 0


def change_feed(
    store: Store,
    *,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    people: Iterable[str] = (),
    partners: Iterable[str] = (),
    neighbourhoods: Iterable[str] = (),
    kinds: Iterable[str] = (),
    by: Literal["change", "site"] = "change",
    estate: Estate | None = None,
) -> pd.DataFrame:
    """What changed: the audit trail as a feed, one row per change (a bulk change is one row), newest first.

    Parameters
    ----------
    store
        An open store.
    since, until
        The first and last day shown (local dates, both included), or exact times (naive: local time); ``None``
        leaves that end open.
    people
        Only changes by these actors (a person's name, or ``ingest`` / ``rules`` / ``matching`` for the machine).
    partners
        Only changes touching a record of one of these partners.
    neighbourhoods
        Only changes touching a site in one of these neighbourhoods (where the site is now).
    kinds
        Only these kinds of change (:data:`CHANGE_KINDS`).
    by
        ``change``: one row per change; ``site``: one row per site of each change (a bulk change listed).
    estate
        The estate already read (default: read it).

    Returns
    -------
    pandas.DataFrame
        :data:`FEED_COLUMNS`: ``When`` (local time, :data:`LOCAL_TIME`, to the second, no zone), ``Who``,
        ``Change`` (one of :data:`CHANGE_KINDS`), ``Site`` (its name now; "and N more sites" for a bulk change),
        ``Site id`` (the first site's), ``Sites`` and ``Records`` (how many the change touched), ``Partners`` and
        ``Neighbourhood`` (of those records and sites), ``From → to`` in people's words (a status, ``moved 120 m``,
        a new name, the facts …; for a bulk change the commonest with their counts), ``Reason`` and ``Change id``
        (the audit's ``change_id``). Sites are the ones the records are on now; a record no longer in the store
        shows as such.

    Raises
    ------
    ValueError
        For an unknown kind, or ``until`` before ``since``.
    """
    wanted_kinds = {str(k) for k in kinds}
    unknown = sorted(wanted_kinds - set(CHANGE_KINDS))
    if unknown:
        raise ValueError(f"unknown kind of change {unknown[0]!r} (use {', '.join(CHANGE_KINDS)})")
    start, end = _feed_bound(since, end=False), _feed_bound(until, end=True)
    if start is not None and end is not None and end <= start:
        raise ValueError("the end of the period is before its start")
    log = store.audit_between(start, end)
    wanted_people = {str(p) for p in people}
    if wanted_people:
        log = log[log["actor"].astype("str").isin(wanted_people)]
    if not len(log):
        return _empty_feed()

    from estates.schema import FIELDS

    estate = estate if estate is not None else read_estate(store)
    records = estate.records
    site_of = dict(zip(records["building_id"].astype("str"), records["site_id"].astype("str"), strict=True))
    partner_of = dict(zip(records["building_id"].astype("str"), records["partner"], strict=True))
    names = {str(i): f"{n if isinstance(n, str) else i} ({p})" if isinstance(p, str) else str(n)
             for i, n, p in zip(records["building_id"], records["name"], records["partner"], strict=True)}
    sites = estate.sites
    site_names = dict(zip(sites["site_id"].astype("str"), sites["name"], strict=True))
    site_hoods = dict(zip(sites["site_id"].astype("str"), sites["neighbourhood"], strict=True))
    labels = {f.name: f.label for f in FIELDS}

    columns = [log[c].astype(object).where(log[c].notna(), None).tolist() for c in _Row.__slots__]
    by_change: dict[str, list[_Row]] = {}
    for values in zip(*columns, strict=True):
        row = _Row(*values)
        by_change.setdefault(str(row.change_id), []).append(row)
    kind_of = {cid: _kind(rows) for cid, rows in by_change.items()}
    wanted_partners, wanted_hoods = {str(p) for p in partners}, {str(n) for n in neighbourhoods}

    def matches(part: _SiteChange) -> bool:
        return ((not wanted_partners or bool(wanted_partners & part.partners))
                and (not wanted_hoods or part.neighbourhood in wanted_hoods))

    feed: list[dict[str, Any]] = []
    for cid, rows in by_change.items():
        if wanted_kinds and kind_of[cid] not in wanted_kinds:
            continue
        parts: dict[str, _SiteChange] = {}
        for row in rows:
            bid = str(row.building_id)
            site_id = site_of.get(bid)
            key = site_id if site_id is not None else f"record:{bid}"
            part = parts.get(key)
            if part is None:
                name, hood = site_names.get(site_id or ""), site_hoods.get(site_id or "")
                part = parts[key] = _SiteChange(
                    change_id=cid, site_id=site_id or "", first=int(row.id), at=row.at, actor=str(row.actor),
                    site=(name if isinstance(name, str) else "(no name)") if site_id is not None
                    else f"(record no longer in the store: {bid})",
                    neighbourhood=hood if isinstance(hood, str) else "")
            part.records.add(bid)
            if isinstance(partner_of.get(bid), str):
                part.partners.add(partner_of[bid])
            text = _describe(row, names, labels)
            if text:
                part.texts.append(text)
            if row.reason:
                part.reasons.append(str(row.reason))
            part.added += row.field == "record"
        chosen = [p for p in parts.values() if matches(p)]
        if not chosen:
            continue
        groups = [[p] for p in chosen] if by == "site" else [list(parts.values())]
        for group in groups:
            feed.append(_feed_row(group, kind_of[cid]))
    if not feed:
        return _empty_feed()
    frame = pd.DataFrame(feed).sort_values("_order", ascending=False, kind="stable", ignore_index=True)
    frame["When"] = pd.to_datetime(frame["When"], utc=True).dt.tz_convert(LOCAL_TIME).dt.tz_localize(None) \
        .dt.floor("s")
    return frame[list(FEED_COLUMNS)].astype({"Sites": "int64", "Records": "int64"})


def _feed_row(parts: Sequence[_SiteChange], kind: str) -> dict[str, Any]:
    """One row of the feed: a change (or one site of it), in people's words."""
    parts = sorted(parts, key=lambda p: p.first)
    head = parts[0]
    n_sites, n_records = len(parts), sum(len(p.records) for p in parts)
    site = head.site + (f" and {n_sites - 1:,} more site{'s' if n_sites > 2 else ''}" if n_sites > 1 else "")
    if kind == "register loaded":
        added = sum(p.added for p in parts)
        change = ", ".join(t for t in (f"{added:,} record{'s' if added != 1 else ''} added" if added else "",
                                       f"{n_records - added:,} updated" if n_records > added else "") if t)
    else:
        change = _summary([_few(p.texts) for p in parts])
    return {
        "When": min(p.at for p in parts), "Who": head.actor, "Change": kind, "Site": site, "Site id": head.site_id,
        "Sites": n_sites, "Records": n_records, "Partners": _few(sorted({x for p in parts for x in p.partners})),
        "Neighbourhood": _few([p.neighbourhood for p in parts], joiner=", "), "From → to": change,
        "Reason": _few(r for p in parts for r in p.reasons), "Change id": head.change_id,
        "_order": max(p.first for p in parts),
    }
