"""The store interface: one API, two backends (GeoPackage file, PostgreSQL + PostGIS).

Everything a caller needs is here: the abstract :class:`Store`, the value types it returns (:class:`BuildingState`,
:class:`AuditEntry`, :class:`Conflict`) and the errors it raises. The behaviour itself lives once, in
``estates/store/_sql.py``; ``gpkg.py`` and ``postgis.py`` only supply what differs between the two engines.

Conventions shared by every write method:

* ``actor`` is explicit and mandatory (who is making the change: the OS user, or the signed-in person). Each write
  first calls :meth:`Store._authorise` with the actor and the action: the single place permissions are checked
  (the store's :attr:`Store.authoriser`, see ``estates/auth.py``).
* Human changes (``set_status``, ``bulk_set_status``, ``clear_override``, ``undo``, ``reposition``,
  ``set_match_decision``) take the ``expected_version`` the person was looking at. If the building has changed since,
  :class:`StaleVersionError` is raised ("changed by X at T") and nothing is written.
* Human changes need a reason (:class:`ValueError` otherwise, with a readable message).
* Every write is one transaction: it either happens completely, audit included, or not at all.
"""

from __future__ import annotations

import abc
import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Self

if TYPE_CHECKING:
    import geopandas as gpd
    import pandas as pd

__all__ = [
    "ACTIONS",
    "DECISIONS",
    "AuditEntry",
    "BuildingNotFoundError",
    "BuildingState",
    "Conflict",
    "NotFoundError",
    "NothingToUndoError",
    "StaleVersionError",
    "Store",
    "StoreError",
    "UNDOABLE_ACTIONS",
    "format_history",
]

#: Audit actions, in the order a building usually meets them.
ACTIONS: tuple[str, ...] = (
    "ingest", "rule_run", "override", "clear_override", "reposition", "match_decision", "rename", "undo", "facts",
)

#: Actions a person can undo (the others are machine runs that the next run simply repeats).
UNDOABLE_ACTIONS: tuple[str, ...] = ("override", "clear_override", "reposition", "match_decision", "rename", "facts")

#: A person's decision on a pair of records proposed as the same site (``estates.sites.matching`` vocabulary).
DECISIONS: tuple[str, ...] = ("confirm", "reject")

MatchDecision = Literal["confirm", "reject"]


class StoreError(Exception):
    """Base class of the store's own errors."""


class NotFoundError(StoreError, KeyError):
    """Something (a building, a site membership) that is not in the store."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class BuildingNotFoundError(NotFoundError):
    """A building id that is not in the store."""


class NothingToUndoError(StoreError, ValueError):
    """``undo`` was asked for but the building has no human change left to undo."""


@dataclass(frozen=True, slots=True)
class Conflict:
    """One building whose saved version differs from the version the caller based its change on.

    Parameters
    ----------
    building_id
        The building.
    expected_version
        The version the caller had.
    current_version
        The version in the store now.
    changed_by
        Actor of the change that produced ``current_version``.
    changed_at
        When that change was made (UTC).
    """

    building_id: str
    expected_version: int
    current_version: int
    changed_by: str | None
    changed_at: datetime | None

    def describe(self) -> str:
        """Readable one-liner, e.g. ``"building X was changed by alice at 2025-01-02 10:00:00 UTC (…)"``."""
        when = self.changed_at.strftime("%Y-%m-%d %H:%M:%S UTC") if self.changed_at else "an unknown time"
        return (
            f"building {self.building_id} was changed by {self.changed_by or 'unknown'} at {when} "
            f"(now version {self.current_version}, you had version {self.expected_version})"
        )


class StaleVersionError(StoreError):
    """A change was based on a stale version of one or more buildings; nothing was saved.

    Parameters
    ----------
    conflicts
        One :class:`Conflict` per building that changed in the meantime.

    Notes
    -----
    The message names who changed what and when: "building X was changed by alice at 2025-01-02 10:00:00 UTC
    (now version 5, you had version 4). Nothing was saved; reload and try again."
    """

    def __init__(self, conflicts: Sequence[Conflict]) -> None:
        self.conflicts: tuple[Conflict, ...] = tuple(conflicts)
        shown = "; ".join(c.describe() for c in self.conflicts[:3])
        more = f"; and {len(self.conflicts) - 3} more" if len(self.conflicts) > 3 else ""
        super().__init__(f"{shown}{more}. Nothing was saved; reload and try again.")


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One row of a building's append-only audit history.

    Parameters
    ----------
    id
        Position in the store-wide history (increasing).
    change_id
        Identifier of the change this row belongs to: one change per building per transaction, possibly several rows
        (e.g. an ingest that changed three fields).
    building_id
        The building.
    at
        When (UTC).
    actor
        Who: a person, or the program that ran (e.g. ``rules``, ``ingest``).
    action
        One of :data:`ACTIONS`.
    field
        What changed: a column (``rule_status``, ``override_status``, ``name`` …), ``position`` for the point,
        ``site:<site_id>`` for a match decision, ``record`` when an ingest created the building.
    from_value, to_value
        The value before and after, as text (``None`` for missing). Positions read ``POINT (lon lat)``.
    reason
        Why: the person's reason, the rule explanation, or the ingest source.
    undoes
        For ``undo`` rows, the ``change_id`` that was undone.
    """

    id: int
    change_id: str
    building_id: str
    at: datetime
    actor: str
    action: str
    field: str | None
    from_value: str | None
    to_value: str | None
    reason: str | None
    undoes: str | None = None


@dataclass(frozen=True, slots=True)
class BuildingState:
    """The current state of one building: its record, position, classification and version.

    Parameters
    ----------
    building_id
        The building.
    version
        Optimistic-concurrency version; pass it back as ``expected_version`` when changing the building.
    updated_by, updated_at
        Actor and time (UTC) of the change that produced ``version``.
    record
        Every stored attribute of the building (canonical fields incl. ``extra``, geocode and tag columns, ingest's
        ``outcome``/``issues``, ``site_id``/``site_partner_count`` from the latest matching run), keyed by name.
    lon, lat
        Current position (WGS84), ``None`` when not geocoded.
    position_source
        ``ingest`` or ``manual`` (placed by a person with :meth:`Store.reposition`).
    rule_status, rule_id, rule_explanation, rule_detail, rule_by, rule_at
        What the rules suggest, which rule decided, and why (readable text and the JSON detail), and which run saved
        that; the suggestion stays visible under an override.
    override_status, override_reason, override_by, override_at
        A person's override, if any.
    effective_status
        The status that counts: the override when there is one, else the rule status.
    """

    building_id: str
    version: int
    updated_by: str | None
    updated_at: datetime | None
    record: Mapping[str, Any] = dataclasses.field(repr=False)
    lon: float | None
    lat: float | None
    position_source: str
    rule_status: str | None
    rule_id: str | None
    rule_explanation: str | None
    rule_detail: Any
    rule_by: str | None
    rule_at: datetime | None
    override_status: str | None
    override_reason: str | None
    override_by: str | None
    override_at: datetime | None
    effective_status: str | None

    @property
    def status_source(self) -> Literal["override", "rule"] | None:
        """``override`` when a person's override is in force, ``rule`` when the rules decide, else ``None``."""
        if self.override_status is not None:
            return "override"
        return "rule" if self.rule_status is not None else None


class Store(abc.ABC):
    """Durable, audited store of buildings, sites, classifications and their history.

    Open one with :func:`estates.store.open_store`. A store holds a database connection: close it (or use it as a
    context manager) when done. One ``Store`` object may be shared by threads (calls are serialised); separate
    processes open their own.
    """

    #: ``gpkg`` or ``postgis``.
    backend: ClassVar[str]

    #: Where the store lives (path or URL without password), for messages.
    location: str

    #: Permission check run by every write (``estates.auth.Authoriser`` or any callable
    #: ``(actor, action, building_ids) -> None`` that raises ``PermissionError``); ``None``: any named actor may write.
    authoriser: Callable[[str, str, Sequence[str]], None] | None = None

    # ------------------------------------------------------------------ lifecycle
    @abc.abstractmethod
    def close(self) -> None:
        """Close the connection. Safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    @abc.abstractmethod
    def schema_version(self) -> int:
        """Version of the store's schema (created/migrated by :func:`open_store`)."""

    # ------------------------------------------------------------------ permission hook
    def _authorise(self, actor: str, action: str, building_ids: Sequence[str] = ()) -> None:
        """Single permission check, called by every write before it touches anything.

        Parameters
        ----------
        actor
            Who is writing.
        action
            One of :data:`ACTIONS`, or ``match_run`` for :meth:`save_site_matches`.
        building_ids
            The buildings concerned (empty when the write is store-wide).

        Raises
        ------
        estates.auth.PermissionDenied
            When the store has an :attr:`authoriser` and it refuses ``actor`` doing ``action`` (a
            :class:`PermissionError`). Without one (the embedded default and the CLI) every named actor may write.
        ValueError
            When ``actor`` is empty.
        """
        if not isinstance(actor, str) or not actor.strip():
            raise ValueError("every change needs an actor: say who is making it (actor='...').")
        if self.authoriser is not None:
            self.authoriser(actor, action, building_ids)

    # ------------------------------------------------------------------ buildings
    @abc.abstractmethod
    def upsert_buildings(self, frame: pd.DataFrame, *, actor: str, source: str,
                         place: str | None = None) -> dict[str, int]:
        """Insert new buildings and update changed ones, idempotently by ``building_id``.

        Parameters
        ----------
        frame
            Canonical records (``estates.schema`` fields, geocode/tag columns from ``docs/architecture.md``); other
            columns are kept in ``extra``. Store-managed columns (``version``, statuses …) are ignored. Columns absent
            from ``frame`` leave the stored values alone; a present but missing value (NaN/None) clears it.
        actor
            Who runs the ingest.
        source
            Where the records come from (e.g. the register's file name); written to the audit reason.
        place
            The place (its ``place.toml`` slug) the records are loaded for: new records belong to it, and its flag
            column is ``outside_<place>``. A record of another place is refused (``ValueError``, nothing saved): a
            record belongs to one place. ``None``: the store's one unnamed place (direct API use).

        Returns
        -------
        dict
            Counts: ``inserted``, ``updated``, ``unchanged``.

        Notes
        -----
        Re-ingesting the same records changes nothing (no new version, no audit). A changed record gets a new version
        and one ``ingest`` audit row per changed field. Human decisions survive re-ingest: a building placed by hand
        (``position_source == 'manual'``) keeps its position and location tags; overrides and match decisions live
        in their own tables and are not touched. ``ingested_at`` alone never counts as a change.
        """

    @abc.abstractmethod
    def buildings(
        self, *, ids: Iterable[str] | None = None, statuses: Iterable[str | None] | None = None,
        columns: Iterable[str] | None = None, place: str | None = None,
    ) -> gpd.GeoDataFrame:
        """Current state of buildings, one row each, as a point GeoDataFrame (EPSG:4326).

        Parameters
        ----------
        ids
            Only these buildings.
        statuses
            Only buildings whose effective status is one of these (put ``None`` in to include unclassified ones).
        columns
            Only these columns (plus ``building_id``, ``lon``, ``lat``, ``version``, ``rule_status``,
            ``override_status``, ``effective_status``, always read). Default: every column except the long
            ``rule_explanation`` and ``rule_detail`` (ask for them by name; :meth:`building` has them too).
        place
            Only that place's buildings, with its flag as ``outside_<place>`` (default: every place's).

        Returns
        -------
        geopandas.GeoDataFrame
            The record (canonical fields incl. ``extra`` JSON text, geocode and tag columns, ``outcome``, ``issues``),
            ``position_source``, ``version``, ``created_at``, ``updated_by``, ``updated_at``, ``rule_status``,
            ``rule_id``, ``rule_by``, ``rule_at``, ``override_status``, ``override_reason``, ``override_by``,
            ``override_at``, ``effective_status``, ``site_id``, ``site_partner_count``, ``status_source``
            (``override``/``rule``) and ``geometry``, sorted by ``building_id``. Read in one statement: a consistent
            snapshot.
        """

    @abc.abstractmethod
    def building(self, building_id: str) -> BuildingState:
        """Current state of one building (:class:`BuildingNotFoundError` when unknown)."""

    # ------------------------------------------------------------------ classification
    @abc.abstractmethod
    def save_rule_results(self, results: pd.DataFrame, *, actor: str) -> int:
        """Save the rules' suggestions for many buildings in one transaction.

        Parameters
        ----------
        results
            ``estates.classification.classify`` output: ``building_id``, ``rule_status`` (one of
            ``estates.schema.STATUSES``) and optionally ``rule_id``, ``explanation`` (readable text; also the audit
            reason) and ``explanation_detail`` (any JSON-serialisable value).
        actor
            Who ran the rules (e.g. ``rules`` or the person who pressed the button).

        Returns
        -------
        int
            Number of buildings whose rule status changed (each got a ``rule_run`` audit row).

        Notes
        -----
        Overrides are left alone: the effective status of an overridden building does not move. A changed
        explanation alone is saved without an audit row. Rule runs do not bump building versions: they only replace
        the rules' suggestion, which no person's save writes, so people editing buildings are not told "changed by
        rules" for nothing (``rule_at``/``rule_by`` say when and who). Unknown building ids are refused and nothing
        is saved.
        """

    @abc.abstractmethod
    def set_status(
        self, building_id: str, status: str, *, reason: str, actor: str, expected_version: int
    ) -> int:
        """Override the rules: set a building's status by hand.

        Parameters
        ----------
        building_id
            The building.
        status
            One of ``estates.schema.STATUSES``.
        reason
            Why (mandatory).
        actor
            Who.
        expected_version
            The version the person was looking at.

        Returns
        -------
        int
            The building's new version.

        Raises
        ------
        StaleVersionError
            The building changed since ``expected_version``; nothing saved.
        ValueError
            Unknown status or missing reason.
        BuildingNotFoundError
            Unknown building.
        """

    @abc.abstractmethod
    def bulk_set_status(
        self,
        expected_versions: Mapping[str, int],
        status: str,
        *,
        reason: str,
        actor: str,
    ) -> dict[str, int]:
        """Override many buildings at once, all or nothing.

        Parameters
        ----------
        expected_versions
            ``{building_id: version the person was looking at}`` for every building in the selection.
        status, reason, actor
            As :meth:`set_status`.

        Returns
        -------
        dict
            ``{building_id: new version}``.

        Raises
        ------
        StaleVersionError
            Lists every building of the selection that changed meanwhile; nothing saved.
        """

    @abc.abstractmethod
    def clear_override(self, building_id: str, *, reason: str, actor: str, expected_version: int) -> int:
        """Remove a building's override so the rules decide again; returns the new version."""

    @abc.abstractmethod
    def set_site_name(self, expected_versions: Mapping[str, int], name: str | None, *, reason: str,
                      actor: str) -> dict[str, int]:
        """Name a site by hand: the name is kept on each of its records (``{id: version}``), as one change.

        ``None`` (or blank) hands the name back to the rule (the lead record's name). Audited as ``rename`` of field
        ``site_name``; undoable. Returns the records' new versions.
        """

    @abc.abstractmethod
    def clear_overrides(self, expected_versions: Mapping[str, int], *, reason: str, actor: str) -> dict[str, int]:
        """Remove the overrides of several buildings as one change (one undo); returns their new versions."""

    @abc.abstractmethod
    def undo(self, building_id: str, *, actor: str, expected_version: int, reason: str | None = None) -> int:
        """Undo the latest human change of a building that is not yet undone, by appending to the history.

        Parameters
        ----------
        building_id
            The building.
        actor
            Who.
        expected_version
            The version the person was looking at.
        reason
            Optional; defaults to "undo <action> of <time> by <actor>".

        Returns
        -------
        int
            The new version.

        Raises
        ------
        NothingToUndoError
            No human change left to undo (rule runs and ingests are not undoable: re-run them instead).

        Notes
        -----
        Undo restores the columns that change touched to their values before it — for every building the change
        touched (a bulk or site-wide change, both sides of a match decision) — writes ``undo`` audit rows that name
        the undone change, and never deletes history. Repeated undos walk further back.
        """

    @abc.abstractmethod
    def reposition(
        self,
        building_id: str,
        lon: float,
        lat: float,
        *,
        reason: str,
        actor: str,
        expected_version: int,
        tags: Mapping[str, Any] | None = None,
    ) -> int:
        """Move a building's point by hand (e.g. a poor geocode fixed by clicking the map).

        Parameters
        ----------
        building_id
            The building.
        lon, lat
            New position, WGS84.
        reason, actor, expected_version
            As :meth:`set_status`.
        tags
            Optional location tags for the new point (e.g. ``geo.tagging.tag`` output: ``ward_code``, ``lsoa_code`` …),
            saved and audited in the same change.

        Returns
        -------
        int
            The new version.

        Notes
        -----
        Sets ``lon``/``lat``/``easting``/``northing`` and the geometry, ``geocode_method='manual'``,
        ``geocode_precision='high'``, ``position_source='manual'``; audited as field ``position`` with from/to points.
        Re-ingest keeps a manual position and its tags.
        """

    @abc.abstractmethod
    def bulk_reposition(
        self,
        expected_versions: Mapping[str, int],
        lon: float,
        lat: float,
        *,
        reason: str,
        actor: str,
        tags: Mapping[str, Any] | None = None,
    ) -> dict[str, int]:
        """Move several buildings to one point as **one change** (a site's records: one feed row, one undo).

        As :meth:`reposition` for each building, all or nothing; ``expected_versions`` as
        :meth:`bulk_set_status`. Returns ``{building_id: new version}``.
        """

    # ------------------------------------------------------------------ history
    @abc.abstractmethod
    def history(self, building_id: str) -> list[AuditEntry]:
        """The building's audit history, oldest first (empty list for an unknown id)."""

    @abc.abstractmethod
    def audit_log(self, *, building_ids: Iterable[str] | None = None, since_id: int = 0) -> pd.DataFrame:
        """The audit history as a table (all buildings or some), oldest first, rows with ``id > since_id``."""

    @abc.abstractmethod
    def audit_between(self, since: datetime | None = None, until: datetime | None = None) -> pd.DataFrame:
        """The audit rows written from ``since`` (included) to ``until`` (excluded), oldest first.

        Parameters
        ----------
        since, until
            Time-zone-aware datetimes (naive ones are taken as UTC); ``None`` leaves that end open.

        Returns
        -------
        pandas.DataFrame
            The columns of :meth:`audit_log`.
        """

    # ------------------------------------------------------------------ sites
    @abc.abstractmethod
    def save_site_matches(self, result: Any, *, actor: str, source: str, place: str | None = None) -> dict[str, int]:
        """Save a matching run (``estates.sites.matching.match_sites`` output), keeping human decisions.

        Parameters
        ----------
        result
            An object with ``matches`` (scored pairs: ``building_id_a``, ``building_id_b``, ``partner_a``,
            ``partner_b``, ``name_a``, ``name_b``, ``score``, ``method``, ``reason``, ``distance_m``, ``status``),
            ``sites`` (``site_id``, ``name``, ``partners``, ``partner_count``, ``building_count``, ``building_ids``,
            ``lon``, ``lat``, ``easting``, ``northing``, ``match_score``, ``match_reason``, ``proposed``) and
            ``membership`` (``building_id`` → ``site_id``), e.g. ``estates.sites.matching.SiteMatches``.
        actor, source
            Who ran the matcher and on what.
        place
            The place the run matched: only its sites and pairs are replaced, and a run naming a record of another
            place is refused (``ValueError``): sites never join records of two places. ``None``: the whole store.

        Returns
        -------
        dict
            Counts: ``sites``, ``members``, ``pairs``, ``dropped_pairs`` (undecided pairs no longer proposed).

        Notes
        -----
        Sites and membership are replaced by the run's (they are derived). Pairs are kept by building pair: the
        run's scores replace the old ones, a decided pair the run no longer produces is kept (``current`` false),
        and an undecided one is dropped. Decisions are never changed here; feed :meth:`match_decisions` back to the
        matcher so they apply. A run is a machine suggestion: not audited, no new building versions.
        """

    @abc.abstractmethod
    def set_match_decision(
        self,
        building_id_a: str,
        building_id_b: str,
        decision: MatchDecision,
        *,
        reason: str,
        actor: str,
        expected_versions: Mapping[str, int],
    ) -> dict[str, int]:
        """Confirm or reject that two records (of different partners) are the same site.

        Parameters
        ----------
        building_id_a, building_id_b
            The pair, in either order.
        decision
            ``confirm`` or ``reject``.
        reason
            Why (mandatory; kept as the decision's note).
        actor
            Who.
        expected_versions
            ``{building_id: version}`` for both buildings.

        Returns
        -------
        dict
            ``{building_id: new version}`` for both. Audited on both buildings (field ``match:<other id>``).

        Raises
        ------
        ValueError
            When the two records belong to different places (never one site).
        """

    @abc.abstractmethod
    def set_match_decisions(
        self, pairs: Sequence[tuple[str, str]], decision: MatchDecision, *, reason: str, actor: str,
        expected_versions: Mapping[str, int],
    ) -> dict[str, int]:
        """Confirm or reject several pairs as one change (one undo), e.g. splitting a record out of its site.

        Parameters
        ----------
        pairs
            ``(building_id_a, building_id_b)`` pairs (order within a pair does not matter).
        decision, reason, actor
            As :meth:`set_match_decision`.
        expected_versions
            The version of every building the pairs name.

        Returns
        -------
        dict
            ``{building_id: new version}``.
        """

    # ------------------------------------------------------------------ rejected rows
    @abc.abstractmethod
    def save_rejected_rows(self, frame: pd.DataFrame, *, partner: str, source_file: str, actor: str,
                           place: str | None = None) -> int:
        """Keep the rows one register load rejected, replacing that partner's earlier rejects from the same file.

        Parameters
        ----------
        frame
            ``row_id`` (the row's building id), ``partner``, ``partner_type``, ``source_file``, ``source_sheet``,
            ``source_row``, ``name``, ``postcode``, ``issues`` (every reason) and ``record`` (the whole row as
            JSON). May be empty: a clean re-load clears the file's rejects.
        partner, source_file
            The load these rows belong to.
        actor
            Who loaded the register.
        place
            The place the load was for (its rows replace that place's earlier rejects of the file only).

        Returns
        -------
        int
            Rows kept.

        Notes
        -----
        Rejected rows are never buildings: not on the map, not counted, not classified, not exported as the estate.
        """

    @abc.abstractmethod
    def rejected_rows(self, *, place: str | None = None) -> pd.DataFrame:
        """Every load's rejected rows with their reasons (:meth:`save_rejected_rows` columns, ``loaded_by/at``,
        ``place``); only one place's with ``place``."""

    @abc.abstractmethod
    def match_decisions(self) -> pd.DataFrame:
        """Every decided pair as ``estates.sites.matching`` expects decisions: ``building_id_a``, ``building_id_b``,
        ``decision``, ``decided_at``, ``decided_by``, ``note``."""

    @abc.abstractmethod
    def sites(self, *, place: str | None = None) -> gpd.GeoDataFrame:
        """Sites of the latest matching run (of each place) as a point GeoDataFrame (EPSG:4326), with ``place``;
        only one place's with ``place``."""

    @abc.abstractmethod
    def places(self) -> dict[str | None, int]:
        """``{place: records}`` of every place the store holds records of (``None``: records loaded without one)."""

    @abc.abstractmethod
    def site_matches(self, *, building_id: str | None = None, place: str | None = None) -> pd.DataFrame:
        """Scored pairs with their decisions (all, or those involving ``building_id``, or one place's)."""

    # ------------------------------------------------------------------ facts
    @abc.abstractmethod
    def update_facts(self, changes: pd.DataFrame, *, actor: str, reason: str, source: str) -> dict[str, int]:
        """Change recorded facts of many buildings (e.g. a partner's returned data request), all or nothing.

        Parameters
        ----------
        changes
            One row per building and field: ``building_id``, ``expected_version`` (the version the values were
            read at), ``field`` (a canonical record field of ``estates.schema.FIELDS``, not an id, the partner,
            the position or ``extra``), ``value`` (the new value; missing clears it) and optionally ``note``
            (e.g. "'1,200 sq ft' converted to 111.48 m²"), added to that field's audit reason.
        actor
            Who.
        reason
            Why (mandatory).
        source
            Where the values come from (e.g. the returned workbook's file name), written into every audit reason.

        Returns
        -------
        dict
            ``{building_id: new version}`` for the buildings that changed (a value equal to the stored one is no
            change: no new version, no audit row).

        Raises
        ------
        StaleVersionError
            A building changed since ``expected_version``; nothing saved.
        BuildingNotFoundError
            Unknown building; nothing saved.
        ValueError
            Missing reason, a field that is not a fact, a value that is not of the field's type, or two values for
            one building and field.

        Notes
        -----
        One ``facts`` audit row per changed field: actor, time, from, to, and the reason
        ``"<reason> (from <source>; <note>)"``. Undoable like any human change. Rules are not re-run here: call
        :func:`estates.store.reclassify` afterwards.
        """


def format_history(entries: Sequence[AuditEntry]) -> str:
    """Render a building's history as a plain-text table (for ``python -m estates history``).

    Parameters
    ----------
    entries
        From :meth:`Store.history`.

    Returns
    -------
    str
        One line per entry: time, actor, action, field, from → to, reason.
    """
    if not entries:
        return "(no history)"
    lines = []
    for e in entries:
        when = e.at.strftime("%Y-%m-%d %H:%M:%S")
        change = f"{e.field or ''}: {e.from_value if e.from_value is not None else '∅'} → " \
                 f"{e.to_value if e.to_value is not None else '∅'}"
        why = f"  ({e.reason})" if e.reason else ""
        undone = f"  [undoes {e.undoes}]" if e.undoes else ""
        lines.append(f"{when} UTC  {e.actor:<16} {e.action:<14} {change}{why}{undone}")
    return "\n".join(lines)
