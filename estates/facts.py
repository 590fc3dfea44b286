"""Partner data requests: the facts that decide each site's status, how complete they are, and partners' returns.

The rules (``data/<place>/classification.yaml``) can only decide a building whose register records the facts they
test; today most registers lack utilisation, condition, running cost, floor area, tenure, lease dates and use, so a
third of the estate is "needs data". This module turns the rules into a request a partner can answer:

* :func:`requested_facts` — which recorded facts the rules need (and which rules need each one, for "why it
  matters"), with the vocabulary each takes;
* :func:`completeness` and :func:`deciding_facts` — per partner or neighbourhood, how many sites have each fact,
  and which missing facts would decide the most "needs data" records and sites;
* :func:`request_rows` / :func:`write_request` — one row per site a partner occupies (its records' own ids, name,
  address, postcode, status, the facts that would decide it, the facts already known) as an Excel workbook
  (``estates/_workbook.py``); :func:`write_register_template` — the same workbook with no rows, for a partner type
  with no register yet (it loads through :func:`estates.ingest.ingest_register`);
* :func:`preview_import` / :func:`apply_import` — a returned workbook read tolerantly, every cell that would change
  (old → new) and every cell refused with its reason, and where "needs data" would go; nothing is written until
  :func:`apply_import`, which stores the facts through :meth:`estates.store.Store.update_facts` (audited) and re-runs
  the rules with :func:`estates.store.reclassify`.

Facts live on register records; a row is a *site* (records of one physical property, ``site_id`` from site
matching), so a fact given on a row is written to each of the partner's records listed on it. A site's status is the
estate's (:func:`estates.sites.site_table`: an override, else its records' strongest suggestion).

Examples
--------
>>> from estates.classification import DEFAULT_RULES, load_rules
>>> from estates.facts import requested_facts
>>> [f.name for f in requested_facts(load_rules(DEFAULT_RULES))][:3]
['utilisation_pct', 'condition', 'annual_running_cost']
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estates.schema import field as schema_field

if TYPE_CHECKING:
    from estates.classification._rules import RuleSet
    from estates.store import Store

__all__ = [
    "Fact",
    "ImportPreview",
    "ImportResult",
    "StatusMoves",
    "apply_import",
    "completeness",
    "deciding_facts",
    "facts_frame",
    "needs_data_counts",
    "preview_import",
    "request_rows",
    "requested_facts",
    "site_statuses",
    "write_register_template",
    "write_request",
]

NEEDS_DATA = "needs data"

#: Record fields that say what and where a building is, never asked for as facts.
_IDENTITY = frozenset({
    "building_id", "partner", "partner_type", "organisation", "source_id", "name", "address_line_1",
    "address_line_2", "town", "postcode", "uprn", "x", "y", "historic", "footprint_wkt", "extra",
    "holding_type", "land_area_ha",
})

#: Facts asked for even when no rule tests them today (the issue's list), and the order of the columns.
_ALWAYS = ("tenure",)
_ORDER = ("utilisation_pct", "condition", "annual_running_cost", "gia_m2", "tenure", "tenure_detail", "lease_end",
          "use", "energy_rating", "backlog_maintenance")

#: Column headers of the workbooks: each is recognised by ``estates.ingest.columns.recognise_name`` as its field, so a
#: returned register template loads through the normal register ingest.
HEADERS: Mapping[str, str] = {
    "utilisation_pct": "Utilisation %",
    "condition": "Condition",
    "annual_running_cost": "Annual running cost (£)",
    "gia_m2": "Floor area (m²)",
    "tenure": "Tenure",
    "tenure_detail": "Tenure detail",
    "lease_end": "Lease end / break date",
    "use": "Use",
    "energy_rating": "Energy rating",
    "backlog_maintenance": "Backlog maintenance (£)",
}

#: How each fact is entered: ``percent`` (0–100 %, stored as a percentage), ``number``, ``money``, ``date``,
#: ``grade`` (a fixed list), ``choice`` (a list drawn from the rules and the registers) or ``text``.
_ENTRY: Mapping[str, str] = {
    "utilisation_pct": "percent", "gia_m2": "area", "annual_running_cost": "money", "backlog_maintenance": "money",
    "lease_end": "date", "condition": "grade", "energy_rating": "grade", "tenure": "choice",
    "tenure_detail": "choice", "use": "text",
}

#: Fixed vocabularies (estates.schema descriptions and estates.ingest.validation's accepted bands).
_GRADES: Mapping[str, tuple[str, ...]] = {
    "condition": ("A", "B", "C", "D"),
    "energy_rating": ("A++", "A+", "A", "B", "C", "D", "E", "F", "G"),
}

_HOW: Mapping[str, str] = {
    "percent": "a percentage, e.g. 45% (share of the available time the building is in use)",
    "area": "square metres, e.g. 850; '1,200 sq ft' is converted to m²",
    "money": "pounds a year, e.g. 12,500",
    "date": "a date, e.g. 31/03/2027 (day/month/year)",
    "grade": "one of the listed values",
    "choice": "pick from the list (or type the partner's own term)",
    "text": "in a few words, e.g. Library, GP surgery, Offices",
}


@dataclass(frozen=True, slots=True)
class Fact:
    """A recorded fact a partner is asked for.

    Parameters
    ----------
    name
        Canonical field (``estates.schema``).
    header
        Workbook column header.
    label
        Human name.
    unit
        Unit of a number (``%``, ``m²``, ``£``) or empty.
    entry
        How it is entered: ``percent``, ``area``, ``money``, ``date``, ``grade``, ``choice`` or ``text``.
    description
        What it means.
    how
        How to write it.
    rules
        ``(rule id, status, description)`` of every rule that tests it: why it matters.
    choices
        The dropdown's values (``grade`` and ``choice`` facts).
    """

    name: str
    header: str
    label: str
    unit: str
    entry: str
    description: str
    how: str
    rules: tuple[tuple[str, str, str], ...] = ()
    choices: tuple[str, ...] = ()


def _rule_values(rules: RuleSet, name: str) -> list[str]:
    """Values the rules compare ``name`` with, as written (e.g. Vacant, Owner Occupied)."""
    out: list[str] = []
    for rule in rules.rules:
        for c in rule.conditions:
            if c.field == name and c.op in {"equals", "in"}:
                written = c.written if isinstance(c.written, (list, tuple)) else [c.written]
                out += [str(w) for w in written]
    return out


def requested_facts(rules: RuleSet, *, frame: pd.DataFrame | None = None) -> tuple[Fact, ...]:
    """The recorded facts the rules need (plus tenure), in request order, each with the rules that use it.

    Parameters
    ----------
    rules
        From :func:`estates.classification.load_rules`.
    frame
        Buildings whose recorded values extend the ``choice`` dropdowns (e.g. every tenure detail in the registers);
        default: only the values the rules and the schema name.

    Returns
    -------
    tuple of Fact
    """
    needed: dict[str, list[tuple[str, str, str]]] = {}
    for rule in rules.rules:
        for name in rule.needs:
            if name in _ENTRY and name not in _IDENTITY:
                needed.setdefault(name, []).append((rule.id, rule.status, " ".join(rule.description.split())))
    for name in _ALWAYS:
        needed.setdefault(name, [])
    out = []
    for name in sorted(needed, key=lambda n: _ORDER.index(n) if n in _ORDER else len(_ORDER)):
        info = schema_field(name)
        entry = _ENTRY[name]
        choices: tuple[str, ...] = _GRADES.get(name, ())
        if entry == "choice":
            seen = _rule_values(rules, name)
            if name == "tenure":
                seen += ["Freehold", "Leasehold"]  # the schema's description of the field
            if frame is not None and name in frame:
                seen += [str(v).strip() for v in frame[name].dropna().unique().tolist() if str(v).strip()]
            folded: dict[str, str] = {}
            for value in seen:
                folded.setdefault(value.casefold(), value)
            choices = tuple(sorted(folded.values(), key=str.casefold))
        out.append(Fact(name=name, header=HEADERS[name], label=info.label, unit=info.unit, entry=entry,
                        description=info.description or info.label, how=_HOW[entry],
                        rules=tuple(needed[name]), choices=choices))
    return tuple(out)


# ------------------------------------------------------------------------------------------------- the estate
#: Columns :func:`facts_frame` reads besides the facts.
_FRAME_COLUMNS = ("partner", "partner_type", "organisation", "name", "address_line_1", "address_line_2", "town",
                  "postcode", "neighbourhood", "site_id", "rule_detail", "rule_id", "historic", "override_reason",
                  "override_by", "override_at", "position_source", "geocode_precision")


def facts_frame(store: Store, facts: Sequence[Fact], *, extra: Iterable[str] = (),
                place: str | None = None) -> pd.DataFrame:
    """The buildings with what a request needs: identity, site, status, the rules' detail and the facts.

    Parameters
    ----------
    store
        The store.
    facts
        From :func:`requested_facts`.
    extra
        More store columns to read (e.g. what the rules test, for a projection).
    place
        The place whose buildings to read (default: the current place; a store may hold several).

    Returns
    -------
    pandas.DataFrame
        One row per building (``building_id``, ``version``, ``effective_status`` …) plus ``site_key``: the
        ``site_id``, or the building's own id for a building matching put on no site.
    """
    columns = dict.fromkeys([*_FRAME_COLUMNS, *(f.name for f in facts), *extra])
    if place is None:
        from geo.place import load_place

        place = load_place().slug
    frame = pd.DataFrame(store.buildings(columns=list(columns), place=place).drop(columns="geometry"))
    frame["site_key"] = frame["site_id"].astype(object).where(frame["site_id"].notna(), frame["building_id"])
    return frame


def _detail(value: object) -> Mapping[str, Any]:
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value:
        try:
            parsed = json.loads(value)
        except ValueError:
            return {}
        return parsed if isinstance(parsed, Mapping) else {}
    return {}


def site_statuses(frame: pd.DataFrame) -> pd.Series:
    """Each site's status as the estate shows it (:func:`estates.sites.site_table`): a person's override, else the
    strongest suggestion of its records (key > core > needs data > surplus); "needs data" when nothing decided.

    Parameters
    ----------
    frame
        Buildings with ``site_key`` and the rule and override columns (:func:`facts_frame`).

    Returns
    -------
    pandas.Series
        Indexed by ``site_key``.
    """
    from estates.sites import site_table

    sites = site_table(frame.assign(site_id=frame["site_key"].to_numpy()))
    status = sites.set_index("site_id")["status"].astype(object)
    return status.where(status.notna(), NEEDS_DATA).sort_index()


def needs_data_counts(frame: pd.DataFrame) -> tuple[int, int]:
    """``(records, sites)`` in "needs data" (a building with no status yet counts as needing data)."""
    status = frame["effective_status"].astype(object).where(frame["effective_status"].notna(), NEEDS_DATA)
    return int((status == NEEDS_DATA).sum()), int((site_statuses(frame) == NEEDS_DATA).sum())


def completeness(frame: pd.DataFrame, facts: Sequence[Fact], *, by: str | Sequence[str] = "partner") -> pd.DataFrame:
    """How many sites have each fact, per partner, neighbourhood, or both (any columns).

    Parameters
    ----------
    frame
        :func:`facts_frame` output.
    facts
        From :func:`requested_facts`.
    by
        Column(s) to group by, e.g. ``"partner"`` or ``("partner", "neighbourhood")``.

    Returns
    -------
    pandas.DataFrame
        The ``by`` column(s), ``sites`` (distinct sites with a record of the group), ``needs_data_sites`` (of those,
        sites whose status is "needs data"), then one column per fact (header as column name): sites
        where a record of the group records it. Sorted by ``needs_data_sites``, most first.
    """
    keys = [by] if isinstance(by, str) else list(by)
    status = frame["site_key"].map(site_statuses(frame))
    data = pd.DataFrame({k: frame[k].astype(object).where(frame[k].notna(), "(none)").to_numpy() for k in keys})
    data["site_key"] = frame["site_key"].to_numpy()
    data["needs"] = (status == NEEDS_DATA).to_numpy()
    for f in facts:
        data[f.header] = frame[f.name].notna().to_numpy() & (frame[f.name].astype(str).str.strip() != "").to_numpy()
    per_site = data.groupby([*keys, "site_key"], sort=False).any()
    levels = list(range(len(keys)))
    table = per_site.groupby(level=levels).sum()
    table.insert(0, "sites", per_site.groupby(level=levels).size())
    table = table.rename(columns={"needs": "needs_data_sites"}).astype(int).reset_index()
    return table.sort_values(["needs_data_sites", "sites", *keys], ascending=[False, False] + [True] * len(keys),
                             ignore_index=True)


def deciding_facts(frame: pd.DataFrame, facts: Sequence[Fact], *, partner: str | None = None) -> pd.DataFrame:
    """Which missing facts would decide the most "needs data" records and sites: the list for the next conversation.

    Parameters
    ----------
    frame
        :func:`facts_frame` output (with ``rule_detail``).
    facts
        From :func:`requested_facts`.
    partner
        Only this partner's records.

    Returns
    -------
    pandas.DataFrame
        ``fact``, ``label``, ``decides_records`` / ``decides_sites`` (needs-data records / sites where a rule that
        could not be checked lacks only this fact: recording it lets that rule decide, one way or the other),
        ``helps_records`` / ``helps_sites`` (where the fact is among the missing ones), most decisive first.
    """
    # records that need data on sites that need data: a site another record keeps key or core is decided already
    site_status = frame["site_key"].map(site_statuses(frame))
    own = frame["effective_status"].astype(object).where(frame["effective_status"].notna(), NEEDS_DATA)
    keep = (own == NEEDS_DATA).to_numpy() & (site_status == NEEDS_DATA).to_numpy()
    if partner is not None:
        keep &= (frame["partner"] == partner).fillna(False).to_numpy(dtype=bool)
    rows = frame[keep]
    wanted = {f.name: f for f in facts}
    alone: dict[str, set[int]] = {f: set() for f in wanted}
    among: dict[str, set[int]] = {f: set() for f in wanted}
    sites: dict[str, tuple[set[object], set[object]]] = {f: (set(), set()) for f in wanted}
    for n, (detail, site) in enumerate(zip(rows["rule_detail"].tolist(), rows["site_key"].tolist(), strict=True)):
        d = _detail(detail)
        for name in d.get("missing_facts", []):
            if name in wanted:
                among[name].add(n)
                sites[name][1].add(site)
        for item in d.get("not_checked", []):
            missing = item.get("missing", [])
            if len(missing) == 1 and missing[0] in wanted:
                alone[missing[0]].add(n)
                sites[missing[0]][0].add(site)
    table = pd.DataFrame([{"fact": name, "label": wanted[name].label, "decides_records": len(alone[name]),
                           "decides_sites": len(sites[name][0]), "helps_records": len(among[name]),
                           "helps_sites": len(sites[name][1])} for name in wanted],
                         columns=["fact", "label", "decides_records", "decides_sites", "helps_records",
                                  "helps_sites"])
    return table.sort_values(["decides_sites", "helps_sites", "fact"], ascending=[False, False, True],
                             ignore_index=True)


# ---------------------------------------------------------------------------------------------------- request
def _address(row: Mapping[str, Any]) -> str:
    parts = [row.get(k) for k in ("address_line_1", "address_line_2", "town")]
    return ", ".join(str(p).strip() for p in parts if isinstance(p, str) and p.strip())


def _agreed(values: Sequence[object]) -> tuple[object, str | None]:
    """The one value the records agree on (None when none recorded), or None and a note when they differ."""
    present = [v for v in values if v is not None and v is not pd.NA and not (isinstance(v, float) and np.isnan(v))
               and not (isinstance(v, str) and not v.strip())]
    distinct = list(dict.fromkeys(present))
    if len(distinct) <= 1:
        return (distinct[0] if distinct else None), None
    return None, ", ".join(str(v) for v in distinct)


def request_rows(frame: pd.DataFrame, partner: str, facts: Sequence[Fact]) -> pd.DataFrame:
    """One row per site ``partner`` has a record on, for its data request.

    Parameters
    ----------
    frame
        :func:`facts_frame` output.
    partner
        The partner, exactly as in the store.
    facts
        From :func:`requested_facts`.

    Returns
    -------
    pandas.DataFrame
        ``key`` (site and record ids, the workbook's hidden key), ``record_ids`` (``; ``-separated), ``name``,
        ``address``, ``postcode``, ``status`` (the site's), ``decided_by`` (labels of the facts that would let a rule
        decide), one column per fact with the value the records agree on (missing when unknown or when they differ), and
        ``notes`` (facts the records disagree on). Sites that need data first, then by name.

    Raises
    ------
    KeyError
        When the store has no record of ``partner``.
    """
    mine = frame[(frame["partner"] == partner).fillna(False).to_numpy(dtype=bool)]
    if mine.empty:
        raise KeyError(f"no records of partner {partner!r} in the store")
    site_status = site_statuses(frame)
    wanted = {f.name: f for f in facts}
    columns = ["building_id", "site_key", "name", "address_line_1", "address_line_2", "town", "postcode",
               "effective_status", "rule_detail", *wanted]
    records = pd.DataFrame({c: mine[c].astype(object).to_numpy() for c in columns}).to_dict("records")
    sites: dict[object, list[dict[str, Any]]] = {}
    for record in sorted(records, key=lambda r: str(r["building_id"])):
        sites.setdefault(record["site_key"], []).append(record)
    rows = []
    for site, group in sites.items():
        first = group[0]
        status = [NEEDS_DATA if r["effective_status"] is None or r["effective_status"] is pd.NA
                  or (isinstance(r["effective_status"], float)) else str(r["effective_status"]) for r in group]
        statuses = sorted(set(status))
        missing: list[str] = []
        for r, st in zip(group, status, strict=True):
            if st == NEEDS_DATA:
                missing += [m for m in _detail(r["rule_detail"]).get("missing_facts", []) if m in wanted]
        ids = [str(r["building_id"]) for r in group]
        row: dict[str, Any] = {
            "key": "|".join([str(site), *ids]),
            "record_ids": "; ".join(ids),
            "name": _plain(first["name"]),
            "address": _address(first),
            "postcode": _plain(first["postcode"]),
            "status": site_status.get(site, NEEDS_DATA if NEEDS_DATA in statuses else " / ".join(statuses)),
            "decided_by": ", ".join(wanted[m].label for m in dict.fromkeys(missing)),
        }
        notes = []
        for f in facts:
            value, differ = _agreed([r[f.name] for r in group])
            row[f.name] = _plain(value)
            if differ:
                notes.append(f"{f.label} differs between the records: {differ}")
        row["notes"] = "; ".join(notes)
        rows.append(row)
    table = pd.DataFrame(rows, columns=["key", "record_ids", "name", "address", "postcode", "status", "decided_by",
                                        *wanted, "notes"])
    order = (table["status"] != NEEDS_DATA).astype(int)
    return (table.assign(_o=order, _n=table["name"].astype(str).str.casefold())
            .sort_values(["_o", "_n"], kind="stable").drop(columns=["_o", "_n"]).reset_index(drop=True))


def write_request(
    target: str | os.PathLike[str] | IO[bytes], frame: pd.DataFrame, partner: str, rules: RuleSet,
    *, today: date | None = None,
) -> int:
    """Write ``partner``'s data-request workbook.

    Parameters
    ----------
    target
        ``.xlsx`` path or binary stream.
    frame
        :func:`facts_frame` output.
    partner
        The partner.
    rules
        The rules (what each fact is for).
    today
        Date written on the instructions (default: today).

    Returns
    -------
    int
        Number of site rows written.
    """
    from estates._workbook import write_workbook

    facts = requested_facts(rules, frame=frame)
    rows = request_rows(frame, partner, facts)
    write_workbook(target, rows=rows, facts=facts, partner=partner, today=today or date.today())
    return len(rows)


def write_register_template(
    target: str | os.PathLike[str] | IO[bytes], partner_type: str, rules: RuleSet, *,
    frame: pd.DataFrame | None = None, label: str | None = None, today: date | None = None,
) -> None:
    """Write the register template for a partner type with no register yet: the request workbook with no rows.

    Its register sheet has the identity columns and every requested fact, with validation; an example row (on the
    instructions sheet, marked as an example, never read). Filled in and returned, it loads through the normal
    register ingest (:func:`estates.ingest.ingest_register`).

    Parameters
    ----------
    target
        ``.xlsx`` path or binary stream.
    partner_type
        One of :data:`estates.schema.PARTNER_TYPES`.
    rules
        The rules.
    frame
        Buildings whose recorded values extend the dropdowns.
    label
        Name of the partner (type) on the instructions, e.g. "Police (Greater Manchester Police)".
    today
        Date written on the instructions.
    """
    from estates._workbook import write_workbook

    write_workbook(target, rows=None, facts=requested_facts(rules, frame=frame),
                   partner=label or partner_type.replace("_", " ").capitalize(), today=today or date.today(),
                   partner_type=partner_type)


# ----------------------------------------------------------------------------------------------------- return
@dataclass(frozen=True, slots=True)
class StatusMoves:
    """Where "needs data" went: counts before and after, and the statuses records and sites left it for.

    Parameters
    ----------
    records_before, records_after, sites_before, sites_after
        Records / sites in "needs data".
    records_left, sites_left
        ``{new status: count}`` of the records / sites that left "needs data".
    """

    records_before: int
    records_after: int
    sites_before: int
    sites_after: int
    records_left: Mapping[str, int]
    sites_left: Mapping[str, int]

    def describe(self) -> str:
        """One readable paragraph, e.g. "20 records on 20 sites leave needs data (surplus 20) …"."""
        def spread(counts: Mapping[str, int]) -> str:
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))

        n_records, n_sites = sum(self.records_left.values()), sum(self.sites_left.values())
        text = (f"{n_records} record(s) leave needs data" + (f" ({spread(self.records_left)})" if n_records else "")
                + f"; {n_sites} site(s) leave needs data" + (f" ({spread(self.sites_left)})" if n_sites else "")
                + f". Needs data: {self.records_before} → {self.records_after} records, "
                  f"{self.sites_before} → {self.sites_after} sites.")
        return text


def _moves(before: pd.DataFrame, after: pd.DataFrame) -> StatusMoves:
    """Compare two :func:`facts_frame`-like tables (same buildings) by ``effective_status``."""
    b = before.set_index("building_id")["effective_status"].astype(object).fillna(NEEDS_DATA)
    a = after.set_index("building_id")["effective_status"].astype(object).fillna(NEEDS_DATA).reindex(b.index)
    left = a[(b == NEEDS_DATA) & (a != NEEDS_DATA)]
    sb, sa = site_statuses(before), site_statuses(after).reindex(site_statuses(before).index)
    sites_left = sa[(sb == NEEDS_DATA) & (sa != NEEDS_DATA)]
    rb, sbn = needs_data_counts(before)
    ra, san = needs_data_counts(after)
    return StatusMoves(rb, ra, sbn, san, dict(Counter(left.tolist())), dict(Counter(sites_left.tolist())))


@dataclass
class ImportPreview:
    """What importing a returned workbook would do; nothing is written until :func:`apply_import`.

    Attributes
    ----------
    file
        The workbook's file name (the audit's source).
    sheet
        The sheet read.
    changes
        One row per record and fact that would change: ``row`` (sheet row), ``building_id``, ``name``,
        ``fact``, ``label``, ``old``, ``new`` (as stored), ``as_written``, ``note`` (e.g. a unit conversion),
        ``expected_version``.
    refused
        One row per cell not used: ``row``, ``name``, ``fact``, ``as_written``, ``reason``.
    rows
        One row per sheet row: ``row``, ``name``, ``matched_by`` (``key``, ``record ids``, ``name + postcode``,
        or empty), ``record_ids``, ``note``.
    notes
        Sheet-level notes: renamed, extra or missing columns; rows not returned.
    moves
        The projected effect on "needs data" (rules re-run on the store with the changes).
    unchanged
        Cells whose value equals the stored one.
    """

    file: str
    sheet: str
    changes: pd.DataFrame
    refused: pd.DataFrame
    rows: pd.DataFrame
    notes: list[str]
    moves: StatusMoves
    unchanged: int = 0

    def summary(self) -> str:
        """A few readable lines for the CLI and the app."""
        matched = self.rows[self.rows["matched_by"] != ""]
        ways = Counter(matched["matched_by"].tolist())
        lines = [
            f"{self.file} (sheet '{self.sheet}'): {len(self.rows)} row(s), {len(matched)} matched "
            f"({', '.join(f'{v} by {k}' for k, v in ways.items()) or 'none'}).",
            f"{len(self.changes)} value(s) would change on {self.changes['building_id'].nunique()} record(s); "
            f"{self.unchanged} already recorded; {len(self.refused)} cell(s) refused.",
            f"If confirmed: {self.moves.describe()}",
        ]
        return "\n".join(lines + [f"note: {n}" for n in self.notes])


@dataclass(frozen=True, slots=True)
class ImportResult:
    """What :func:`apply_import` wrote.

    Attributes
    ----------
    versions
        ``{building_id: new version}`` of the records changed.
    changed_values
        Number of values written (one audit row each).
    rule_changes
        Buildings whose rule status changed when the rules re-ran.
    moves
        The effect on "needs data", measured in the store.
    """

    versions: Mapping[str, int]
    changed_values: int
    rule_changes: int
    moves: StatusMoves = field(repr=False)


def _same(old: object, new: object) -> bool:
    if old is None or (isinstance(old, float) and np.isnan(old)):
        return new is None
    if isinstance(new, float) and isinstance(old, (int, float, np.floating)):
        return abs(float(old) - new) < 1e-6
    return str(old).strip().casefold() == str(new).strip().casefold() if isinstance(new, str) else old == new


def preview_import(
    store: Store, source: str | os.PathLike[str] | IO[bytes], rules: RuleSet, *, file_name: str | None = None,
    today: date | None = None,
) -> ImportPreview:
    """Read a returned data-request workbook and show what it would change; writes nothing.

    Parameters
    ----------
    store
        The store.
    source
        The returned ``.xlsx`` (path or binary stream).
    rules
        The rules (re-run on the changed facts for the projection).
    file_name
        Name to record as the source (default: the path's name).
    today
        Date the rules count from.

    Returns
    -------
    ImportPreview

    Raises
    ------
    ValueError
        When the file is not a workbook with a recognisable facts sheet (the message says why).
    """
    from estates._workbook import read_workbook
    from estates.classification import classify, rule_columns

    name = file_name or (Path(os.fspath(source)).name if isinstance(source, (str, os.PathLike)) else "workbook.xlsx")
    facts = requested_facts(rules)
    returned = read_workbook(source, facts=facts)
    wanted = {f.name: f for f in facts}
    frame = facts_frame(store, facts, extra=[c for c in (rule_columns(rules) or []) if c not in _FRAME_COLUMNS])
    by_id = frame.set_index("building_id", drop=False)
    known_ids = set(by_id.index)

    # which partner: the one whose records the keys and ids name (for name + postcode matching)
    partner = returned.partner
    if partner is None:
        named = [i for r in returned.rows for i in r.record_ids if i in known_ids]
        partner = Counter(by_id.loc[named, "partner"].tolist()).most_common(1)[0][0] if named else None
    candidates = frame if partner is None else frame[frame["partner"] == partner]
    by_name: dict[tuple[str, str], list[str]] = {}
    for bid, nm, pc in zip(candidates["building_id"], candidates["name"], candidates["postcode"], strict=True):
        by_name.setdefault((_fold(nm), _fold_postcode(pc)), []).append(bid)

    row_rows, refused, proposals = [], [], {}
    for r in returned.rows:
        ids: list[str] = []
        how, note = "", ""
        key_ids = [i for i in r.key_ids if i in known_ids]
        listed = [i for i in r.record_ids if i in known_ids]
        if key_ids:
            ids, how = key_ids, "key"
            if r.record_ids and set(r.record_ids) != set(r.key_ids):
                note = "record ids edited; the hidden key was used"
        elif listed:
            ids, how = listed, "record ids"
            note = "no key (row pasted or key cleared): matched by its record ids"
            unknown = [i for i in r.record_ids if i not in known_ids]
            if unknown:
                note += f"; not in the store: {', '.join(unknown)}"
        elif r.name or r.postcode:
            found = by_name.get((_fold(r.name), _fold_postcode(r.postcode)), [])
            sites = {by_id.at[i, "site_key"] for i in found}
            if found and len(sites) == 1:
                ids, how = sorted(found), "name + postcode"
                note = "no key or record ids: matched by name and postcode"
            elif found:
                note = f"name and postcode match records on {len(sites)} different sites: not matched"
            else:
                note = "no record with this name and postcode" + (f" for {partner}" if partner else "") + \
                       ": not matched"
        else:
            note = "no key, record ids, name or postcode: not matched"
        row_rows.append({"row": r.row, "name": r.name or "", "matched_by": how, "record_ids": "; ".join(ids),
                         "note": note})
        for fact_name, parsed in r.values.items():
            if parsed.refused:
                refused.append({"row": r.row, "name": r.name or "", "fact": fact_name, "as_written": parsed.raw,
                                "reason": parsed.refused})
                continue
            if parsed.value is None or not ids:
                continue
            for bid in ids:
                proposals.setdefault((bid, fact_name), []).append((r.row, r.name or "", parsed))

    changes, unchanged = [], 0
    for (bid, fact_name), offers in proposals.items():
        distinct = {_canonical(p.value) for _, _, p in offers}
        if len(distinct) > 1:
            for row, nm, p in offers:
                refused.append({"row": row, "name": nm, "fact": fact_name, "as_written": p.raw,
                                "reason": "rows " + ", ".join(str(o[0]) for o in offers)
                                          + f" give different values for {bid}; none used"})
            continue
        row, nm, parsed = offers[0]
        old = by_id.at[bid, fact_name]
        if _same(old, parsed.value):
            unchanged += 1
            continue
        changes.append({"row": row, "building_id": bid, "name": by_id.at[bid, "name"], "fact": fact_name,
                        "label": wanted[fact_name].label, "old": _plain(old), "new": parsed.value,
                        "as_written": parsed.raw, "note": parsed.note or "",
                        "expected_version": int(by_id.at[bid, "version"])})
    change_table = pd.DataFrame(changes, columns=["row", "building_id", "name", "fact", "label", "old", "new",
                                                  "as_written", "note", "expected_version"])
    refused_table = pd.DataFrame(refused, columns=["row", "name", "fact", "as_written", "reason"]).drop_duplicates()

    notes = list(returned.notes)
    if partner is not None:
        asked = candidates["site_key"].nunique()
        matched_sites = {by_id.at[i, "site_key"] for rr in row_rows for i in rr["record_ids"].split("; ") if i}
        if asked > len(matched_sites):
            notes.append(f"{asked - len(matched_sites)} of {partner}'s {asked} site(s) are not in the returned "
                         "workbook (rows deleted): left unchanged")

    after = frame.copy()
    position = {bid: i for i, bid in enumerate(frame["building_id"].tolist())}
    for fact_name, group in change_table.groupby("fact", sort=False):
        values = after[fact_name].astype(object).to_numpy(copy=True)
        for bid, new in zip(group["building_id"], group["new"], strict=True):
            values[position[bid]] = new
        after[fact_name] = values
    moves = _projected_moves(frame, after, rules, classify, today)
    return ImportPreview(file=name, sheet=returned.sheet, changes=change_table,
                         refused=refused_table.reset_index(drop=True), rows=pd.DataFrame(
                             row_rows, columns=["row", "name", "matched_by", "record_ids", "note"]),
                         notes=notes, moves=moves, unchanged=unchanged)


def _projected_moves(before: pd.DataFrame, after: pd.DataFrame, rules: RuleSet, classify: Any,
                     today: date | None) -> StatusMoves:
    """The rules re-run on ``after``; overrides stay in force (as :func:`estates.store.reclassify` keeps them)."""
    result = classify(after, rules, today=today)
    projected = after.copy()
    projected["rule_status"] = result["rule_status"].astype(object).to_numpy()
    projected["effective_status"] = after["override_status"].astype(object).where(
        after["override_status"].notna(), result["rule_status"].astype(object))
    return _moves(before, projected)


def _canonical(value: object) -> object:
    return round(value, 6) if isinstance(value, float) else (value.casefold() if isinstance(value, str) else value)


def _plain(value: object) -> object:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return None
    return value.item() if isinstance(value, np.generic) else value


def _fold(text: object) -> str:
    return " ".join(str(text).split()).casefold() if isinstance(text, str) else ""


def _fold_postcode(text: object) -> str:
    return "".join(str(text).split()).upper() if isinstance(text, str) else ""


def apply_import(store: Store, preview: ImportPreview, rules: RuleSet, *, actor: str, reason: str,
                 today: date | None = None) -> ImportResult:
    """Write a previewed import: the changed facts (audited with ``reason`` and the file name), then re-run the rules.

    Parameters
    ----------
    store
        The store.
    preview
        From :func:`preview_import` (its versions guard against changes made since).
    rules
        The rules to re-run.
    actor
        Who confirms.
    reason
        Why (mandatory), e.g. "Trafford Council estates return, March 2026".
    today
        Date the rules count from.

    Returns
    -------
    ImportResult

    Raises
    ------
    estates.store.StaleVersionError
        A record changed since the preview; nothing was written (preview again).
    ValueError
        No reason given.
    """
    from estates.service import reclassify

    if not isinstance(reason, str) or not reason.strip():
        raise ValueError("a reason is required: say why these facts are recorded (e.g. the partner's return)")
    facts = requested_facts(rules)
    before = facts_frame(store, facts)
    changes = preview.changes
    table = pd.DataFrame({
        "building_id": changes["building_id"], "expected_version": changes["expected_version"],
        "field": changes["fact"], "value": changes["new"].astype(object),
        "note": [f"row {r}" + (f"; {n}" if n else "") for r, n in zip(changes["row"], changes["note"], strict=True)],
    })
    versions = store.update_facts(table, actor=actor, reason=reason.strip(), source=preview.file) if len(table) else {}
    rule_changes = reclassify(store, rules, actor=actor, today=today)
    after = facts_frame(store, facts)
    return ImportResult(versions=versions, changed_values=len(table), rule_changes=rule_changes,
                        moves=_moves(before, after))
