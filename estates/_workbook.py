"""Data-request workbooks: writing them with openpyxl, and reading them back as partners return them.

Private to :mod:`estates.facts`. The writer makes an instructions sheet and a facts sheet (one row per site, a
hidden and locked key column, frozen header, Excel data validation per fact, known facts pre-filled); with no rows
it makes a register template. The reader does not trust the layout it wrote: it finds the sheet by its header (the
sheet may be renamed or moved), matches columns by name (reordered, renamed slightly, extra ones ignored), reads each
cell as a partner may have written it ("n/a", "45 %", "0.45", "1,200 sq ft", "31/03/2027" as text, a LibreOffice
save) and refuses, with a reason, what it cannot read without guessing.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from estates.exports import neutralise_formulas
from estates.ingest.columns import NULL_TOKENS, name_key, recognise_name
from estates.ingest.validation import (
    _CONDITION_WORDS as CONDITION_WORDS,  # the grades' RICS words, read as registers are
)

if TYPE_CHECKING:
    from estates.facts import Fact

__all__ = ["ParsedFact", "ReturnedRow", "ReturnedWorkbook", "read_workbook", "write_workbook"]

DATA_SHEET = "Facts"
TEMPLATE_SHEET = "Register"
INSTRUCTIONS_SHEET = "Instructions"
LISTS_SHEET = "Lists"
#: Marks a workbook this module wrote (document keywords), with the partner as its subject.
MARKER = "estates-data-request"
#: Rows of validation and unlocked cells below the data (a template's room for new rows).
_SPARE_ROWS = 500

#: Roles of the non-fact columns: header written, and other names a partner may have given the column.
_ROLES: Mapping[str, tuple[str, tuple[str, ...]]] = {
    "key": ("Key", ("key", "rowkey", "sitekey")),
    "record_ids": ("Record ids", ("recordids", "recordid", "buildingids", "buildingid", "ids", "records")),
    "name": ("Name", ()),
    "address": ("Address", ("address",)),
    "postcode": ("Postcode", ()),
    "status": ("Current status", ("currentstatus", "status")),
    "decided_by": ("Would be decided by", ("wouldbedecidedby", "decidedby", "factsneeded")),
    "notes": ("Notes", ("notes", "note", "comments", "comment", "remarks")),
}
_TEMPLATE_IDENTITY = (("source_id", "Asset ID"), ("name", "Name"), ("address_line_1", "Address line 1"),
                      ("address_line_2", "Address line 2"), ("town", "Town"), ("postcode", "Postcode"),
                      ("uprn", "UPRN"))
#: Values that say "not known" besides estates.ingest.columns.NULL_TOKENS.
_MISSING = NULL_TOKENS | {"?", "??", "not applicable", "dont know", "don't know", "not recorded", "n / a", "x"}
_SQFT = 0.09290304
_NUMBER_FORMATS = {"percent": "0%", "area": "#,##0.00", "money": "£#,##0", "date": "DD/MM/YYYY"}
_PLAIN = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_PERCENT = re.compile(r"^\s*([+-]?(?:\d+(?:\.\d*)?|\.\d+))\s*(%|per\s*cent|percent|pct)\s*$", re.IGNORECASE)
_AREA = re.compile(r"^\s*([\d,]*\.?\d+)\s*(sq\.?\s*ft\.?|sqft|square\s+feet|ft2|ft²|sq\.?\s*m\.?|sqm|m2|m²|"
                   r"square\s+metres|square\s+meters)?\s*$", re.IGNORECASE)
_MONEY = re.compile(r"^\s*£?\s*([\d,]*\.?\d+)\s*(p\.?a\.?|per\s+(?:year|annum)|a\s+year)?\s*$", re.IGNORECASE)
_GRADE = re.compile(r"^\s*(?:(?:condition|grade|cat(?:egory)?|epc|dec|band|rating)\s*[:\-]?\s*)?"
                    r"([A-G](?:\+{1,2})?)\b", re.IGNORECASE)
_UK_DATE = re.compile(r"^\s*(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})\s*$")
_ISO_DATE = re.compile(r"^\s*(\d{4})-(\d{2})-(\d{2})(?:[ T].*)?$")
_MONTHS = ("%d %b %Y", "%d %B %Y", "%d-%b-%Y", "%d-%b-%y")


# --------------------------------------------------------------------------------------------------------- write
def write_workbook(
    target: str | os.PathLike[str] | IO[bytes], *, rows: pd.DataFrame | None, facts: Sequence[Fact], partner: str,
    today: date, partner_type: str | None = None,
) -> None:
    """Write a data-request workbook (``rows`` from :func:`estates.facts.request_rows`), or with ``rows=None`` the
    register template for ``partner_type``."""
    from openpyxl import Workbook
    from openpyxl.comments import Comment
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    template = rows is None
    book = Workbook()
    sheet = book.active
    sheet.title = TEMPLATE_SHEET if template else DATA_SHEET
    notes_sheet = book.create_sheet(INSTRUCTIONS_SHEET)
    lists = book.create_sheet(LISTS_SHEET)
    lists.sheet_state = "hidden"
    book.properties.keywords = MARKER
    book.properties.subject = partner
    book.properties.title = f"{'Register template' if template else 'Data request'}: {partner}"
    book.properties.creator = "estates"

    # columns: (role or fact name, header, width, locked)
    columns: list[tuple[str, str, int, bool]]
    if template:
        columns = [(n, h, 28 if n in ("name", "address_line_1") else 14, False) for n, h in _TEMPLATE_IDENTITY]
    else:
        columns = [("key", _ROLES["key"][0], 12, True), ("record_ids", _ROLES["record_ids"][0], 30, True),
                   ("name", "Name", 36, True), ("address", "Address", 36, True), ("postcode", "Postcode", 10, True),
                   ("status", _ROLES["status"][0], 13, True), ("decided_by", _ROLES["decided_by"][0], 34, True)]
    columns += [(f.name, f.header, 16, False) for f in facts]
    if not template:
        columns.append(("notes", "Notes", 40, False))
    by_fact = {f.name: f for f in facts}

    header_font = Font(bold=True)
    locked_fill = PatternFill("solid", fgColor="EEEEEE")
    ask_fill = PatternFill("solid", fgColor="FFF2CC")
    for j, (role, header, width, _) in enumerate(columns, start=1):
        cell = sheet.cell(row=1, column=j, value=header)
        cell.font = header_font
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        sheet.column_dimensions[get_column_letter(j)].width = width
        if role in by_fact:
            f = by_fact[role]
            cell.comment = Comment(f"{f.description} Write {f.how}.", "estates")
    sheet.freeze_panes = sheet.cell(row=2, column=4 if not template else 3)

    n_rows = 0 if rows is None else len(rows)
    last = 1 + n_rows + (_SPARE_ROWS if template else 0)
    unlocked = Protection(locked=False)
    if rows is not None and n_rows:
        shown = neutralise_formulas(rows[["record_ids", "name", "address", "postcode", "status", "decided_by",
                                          "notes"]].astype(object))
        values = {role: (rows["key"].tolist() if role == "key" else
                         [_cell_value(by_fact[role], v) for v in rows[role].tolist()] if role in by_fact else
                         [None if v is None or v == "" or (isinstance(v, float) and np.isnan(v)) else v
                          for v in shown[role].tolist()])
                  for role, _, _, _ in columns}
        for j, (role, _, _, locked) in enumerate(columns, start=1):
            fmt = _NUMBER_FORMATS.get(by_fact[role].entry) if role in by_fact else None
            for i, value in enumerate(values[role]):
                cell = sheet.cell(row=2 + i, column=j, value=value)
                if locked:
                    cell.fill = locked_fill
                else:
                    cell.protection = unlocked
                    if role in by_fact and value is None:
                        cell.fill = ask_fill
                if fmt:
                    cell.number_format = fmt
    if template:  # the rows to come: formats on the columns (no sheet protection, nothing to unlock)
        for j, (role, _, _, _) in enumerate(columns, start=1):
            if role in by_fact and by_fact[role].entry in _NUMBER_FORMATS:
                sheet.column_dimensions[get_column_letter(j)].number_format = _NUMBER_FORMATS[by_fact[role].entry]

    # validation per fact, over the data rows and the room below
    list_col = 0
    for j, (role, _, _, _) in enumerate(columns, start=1):
        if role not in by_fact:
            continue
        f = by_fact[role]
        letter = get_column_letter(j)
        area = f"{letter}2:{letter}{max(last, 2)}"
        prompt = f"{f.how[:1].upper()}{f.how[1:]}."[:250]
        if f.entry in ("grade", "choice") and f.choices:
            list_col += 1
            lc = get_column_letter(list_col)
            lists.cell(row=1, column=list_col, value=f.header)
            for k, choice in enumerate(f.choices, start=2):
                lists.cell(row=k, column=list_col, value=choice)
            dv = DataValidation(type="list", formula1=f"{LISTS_SHEET}!${lc}$2:${lc}${len(f.choices) + 1}",
                                allow_blank=True, errorStyle="stop" if f.entry == "grade" else "warning")
            dv.error = (f"Pick one of: {', '.join(f.choices)}" if f.entry == "grade" else
                        "Not one of the usual values: keep it only if it is the right term.")[:250]
        elif f.entry == "percent":
            dv = DataValidation(type="decimal", operator="between", formula1="0", formula2="1", allow_blank=True,
                                errorStyle="stop")
            dv.error = "A percentage between 0% and 100%, e.g. 45%."
        elif f.entry in ("area", "money"):
            dv = DataValidation(type="decimal", operator="greaterThanOrEqual", formula1="0", allow_blank=True,
                                errorStyle="warning")
            dv.error = ("A number of m², e.g. 850 (or write '1,200 sq ft')." if f.entry == "area" else
                        "A number of pounds a year, e.g. 12500.")
        elif f.entry == "date":
            dv = DataValidation(type="date", operator="greaterThan", formula1="1", allow_blank=True,
                                errorStyle="warning")
            dv.error = "A date, e.g. 31/03/2027 (day/month/year)."
        else:
            dv = DataValidation(type="textLength", operator="lessThanOrEqual", formula1="200", allow_blank=True,
                                errorStyle="warning")
            dv.error = "Keep it short (200 characters at most)."
        dv.errorTitle = f.label[:32]
        dv.promptTitle = f.label[:32]
        dv.prompt = prompt
        dv.showErrorMessage = True
        dv.showInputMessage = True
        dv.add(area)
        sheet.add_data_validation(dv)

    if not template:
        sheet.column_dimensions["A"].hidden = True
        sheet.protection.sheet = True  # no password: it guards against slips, not people
        for option in ("formatCells", "formatColumns", "formatRows", "sort", "autoFilter", "deleteRows"):
            setattr(sheet.protection, option, False)
    sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1 + n_rows, 2)}"

    _instructions(notes_sheet, facts, partner=partner, today=today, template=template, partner_type=partner_type,
                  n_rows=n_rows)
    book.active = 1  # open on the instructions
    sheet.sheet_view.tabSelected = False
    notes_sheet.sheet_view.tabSelected = True
    book.save(target)


def _cell_value(fact: Fact, value: object) -> object:
    """A stored fact as the workbook holds it: percentages as fractions (the cell shows 45%), dates as dates."""
    if value is None or value is pd.NA or (isinstance(value, float) and np.isnan(value)):
        return None
    if fact.entry == "percent":
        return round(float(value) / 100, 6)  # type: ignore[arg-type]
    if fact.entry in ("area", "money"):
        return float(value)  # type: ignore[arg-type]
    if fact.entry == "date":
        try:
            return date.fromisoformat(str(value)[:10])
        except ValueError:
            return str(value)
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _instructions(sheet: Any, facts: Sequence[Fact], *, partner: str, today: date, template: bool,
                  partner_type: str | None, n_rows: int) -> None:
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    big = Font(bold=True, size=14)
    wrap = Alignment(wrap_text=True, vertical="top")
    sheet.column_dimensions["A"].width = 26
    sheet.column_dimensions["B"].width = 60
    sheet.column_dimensions["C"].width = 60
    lines: list[tuple[Any, ...]] = []
    if template:
        lines += [(f"Register template: {partner}",), ("Partner type", partner_type or ""),
                  ("Prepared", today.strftime("%d/%m/%Y")), (),
                  ("How to fill it in",
                   f"One row per building or piece of land you hold, on the '{TEMPLATE_SHEET}' sheet. Name and "
                   "postcode are needed to place each building; the other columns are the facts the partnership's "
                   "rules use to decide whether a building is key, core or surplus. Leave a cell blank (or write "
                   "n/a) when you do not know: nothing is guessed. Send the file back as it is (.xlsx).")]
    else:
        lines += [(f"Data request: {partner}",), ("Prepared", today.strftime("%d/%m/%Y")),
                  ("Sites", f"{n_rows} (one row per site where {partner} has a record)"), (),
                  ("How to fill it in",
                   f"On the '{DATA_SHEET}' sheet, fill in the yellow cells you know. 'Would be decided by' lists "
                   "the facts that would let the rules decide a site that 'needs data' today. Values already "
                   "recorded are filled in: correct them if they are wrong. Leave a cell blank (or write n/a or "
                   "unknown) when you do not know: a blank never deletes a recorded value and nothing is guessed."),
                  ("Please keep",
                   "the first (hidden) column and the Record ids: they tell the tool which site each row is. You may "
                   "sort the rows, add columns of your own (they are ignored) or delete rows you cannot answer.")]
    lines += [("Units",
               "Percentages as 45% (0.45 is read as 45% only when the whole column is written that way); floor "
               "area in m² ('1,200 sq ft' is converted); money in pounds a year; dates as day/month/year."), (),
              ("Fact (column)", "What it means and how to write it", "Why it matters (the rules that use it)")]
    for f in facts:
        why = "; ".join(f"'{rid}' ({status}): {text}" for rid, status, text in f.rules) or \
              "Recorded for the estate list; no rule uses it yet."
        lines.append((f.header, f"{f.description} Write {f.how}." +
                      (f" Choices: {', '.join(f.choices)}." if f.choices and f.entry == "grade" else ""), why))
    if template:
        example = {"source_id": "B0001", "name": "Example: Riverside Office", "address_line_1": "1 Example Street",
                   "address_line_2": "", "town": "Stretford", "postcode": "M32 0TH", "uprn": "",
                   "utilisation_pct": "45%", "condition": "B", "annual_running_cost": "12,500",
                   "gia_m2": "850", "tenure": "Freehold", "tenure_detail": "Owner Occupied",
                   "lease_end": "31/03/2027", "use": "Offices", "energy_rating": "C", "backlog_maintenance": "20,000"}
        lines += [(), ("Example row (not read)",
                       f"An illustration of the formats only, not a real building: do not copy it to the "
                       f"'{TEMPLATE_SHEET}' sheet.")]
        for name, header in (*_TEMPLATE_IDENTITY, *((f.name, f.header) for f in facts)):
            lines.append((f"  {header}", example.get(name, "")))
    for i, line in enumerate(lines, start=1):
        for j, value in enumerate(line, start=1):
            cell = sheet.cell(row=i, column=j, value=value)
            cell.alignment = wrap
            if j == 1 and len(line) == 1:
                cell.font = big
            elif j == 1 or line and line[0] == "Fact (column)":
                cell.font = bold


# ---------------------------------------------------------------------------------------------------------- read
@dataclass(frozen=True, slots=True)
class ParsedFact:
    """One returned cell of a fact column.

    Attributes
    ----------
    raw
        The cell as written (text).
    value
        The value to store (canonical unit), or ``None`` when the cell says nothing (blank, n/a, unknown …).
    note
        How it was read when not as written (a unit converted, a fraction read as a percentage).
    refused
        Why the cell is not used (then ``value`` is ``None``).
    """

    raw: str
    value: Any = None
    note: str | None = None
    refused: str | None = None


@dataclass
class ReturnedRow:
    """One data row of a returned workbook."""

    row: int
    key_ids: tuple[str, ...]
    record_ids: tuple[str, ...]
    name: str | None
    postcode: str | None
    values: dict[str, ParsedFact] = field(default_factory=dict)


@dataclass
class ReturnedWorkbook:
    """A returned workbook as read: the sheet used, its rows, and notes on its layout."""

    sheet: str
    rows: list[ReturnedRow]
    notes: list[str]
    partner: str | None


def _role_keys(facts: Sequence[Fact]) -> dict[str, str]:
    """Comparison key (``name_key``) -> role or fact name, for exact matches."""
    keys: dict[str, str] = {}
    for f in facts:
        keys[name_key(f.header)] = f.name
        keys[name_key(f.label)] = f.name
    for role, (header, aliases) in _ROLES.items():
        keys[name_key(header)] = role
        for a in aliases:
            keys[a] = role
    return keys


def _header_role(text: object, facts: Sequence[Fact], keys: Mapping[str, str]) -> tuple[str | None, str]:
    """(role or fact, how) for a header cell: ``exact``, ``recognised`` or ``similar``; (None, "") when unknown."""
    from rapidfuzz import fuzz, process

    if text is None or not str(text).strip():
        return None, ""
    k = name_key(text)
    if k in keys:
        return keys[k], "exact"
    recognised = recognise_name(text)
    fact_names = {f.name for f in facts}
    if recognised in fact_names:
        return recognised, "recognised"
    if recognised in ("name", "postcode"):
        return recognised, "recognised"
    if recognised in ("address_line_1",):
        return "address", "recognised"
    if len(k) >= 4:
        best = process.extractOne(k, list(keys), scorer=fuzz.ratio, score_cutoff=85)
        if best is not None:
            return keys[best[0]], "similar"
    return None, ""


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def read_workbook(source: str | os.PathLike[str] | IO[bytes], *, facts: Sequence[Fact]) -> ReturnedWorkbook:
    """Read a returned data-request workbook.

    Parameters
    ----------
    source
        ``.xlsx`` path or binary stream.
    facts
        The facts to read (``estates.facts.requested_facts``).

    Returns
    -------
    ReturnedWorkbook

    Raises
    ------
    ValueError
        The file is not an xlsx workbook, or no sheet has a header naming at least a key, record ids or name and
        one fact.
    """
    import openpyxl

    try:
        book = openpyxl.load_workbook(source, read_only=True, data_only=False)
    except Exception as exc:  # openpyxl raises many types for damaged or non-xlsx files
        raise ValueError(f"not an Excel workbook (.xlsx) that can be read: {exc}") from None
    try:
        return _read_book(book, facts)
    finally:
        book.close()  # read-only mode keeps the file open until closed


def _read_book(book: Any, facts: Sequence[Fact]) -> ReturnedWorkbook:
    keys = _role_keys(facts)
    fact_names = {f.name for f in facts}
    best: tuple[int, str, int, dict[int, tuple[str, str, str]]] | None = None
    for ws in book.worksheets:
        if ws.sheet_state != "visible" and ws.title == LISTS_SHEET:
            continue
        for r, cells in enumerate(ws.iter_rows(min_row=1, max_row=10, values_only=True), start=1):
            found: dict[int, tuple[str, str, str]] = {}
            for c, value in enumerate(cells):
                role, how = _header_role(value, facts, keys)
                if role is not None:
                    found[c] = (role, how, str(value).strip())
            roles = {v[0] for v in found.values()}
            score = len(roles)
            if roles & {"key", "record_ids", "name"} and roles & fact_names and (best is None or score > best[0]):
                best = (score, ws.title, r, found)
    if best is None:
        raise ValueError("no sheet has a header with a Key, Record ids or Name column and at least one fact column "
                         f"({', '.join(f.header for f in facts)}): is this a returned data request?")
    _, title, header_row, found = best
    ws = book[title]
    notes: list[str] = []
    if title not in (DATA_SHEET, TEMPLATE_SHEET):
        notes.append(f"facts read from sheet '{title}'")
    columns: dict[str, int] = {}
    for c, (role, how, text) in sorted(found.items()):
        if role in columns:
            notes.append(f"a second '{text}' column (column {c + 1}) is ignored: the first one is used")
            continue
        columns[role] = c
        if how != "exact":
            notes.append(f"column '{text}' read as {_header_name(role, facts)}")
    header_cells = next(ws.iter_rows(min_row=header_row, max_row=header_row, values_only=True))
    extra = [str(v).strip() for c, v in enumerate(header_cells) if c not in found and v is not None and
             str(v).strip()]
    if extra:
        notes.append(f"column(s) not used: {', '.join(extra)}")
    absent = [f.header for f in facts if f.name not in columns]
    if absent:
        notes.append(f"fact column(s) not in the file: {', '.join(absent)}")

    raw_rows: list[tuple[int, dict[str, Any]]] = []
    for r, cells in enumerate(ws.iter_rows(min_row=header_row + 1), start=header_row + 1):
        values: dict[str, Any] = {}
        for role, c in columns.items():
            cell = cells[c] if c < len(cells) else None
            if cell is None or cell.value is None or (isinstance(cell.value, str) and not cell.value.strip()):
                continue
            values[role] = cell
        if not values:
            continue
        name = _text(values["name"].value) if "name" in values else ""
        key = _text(values["key"].value) if "key" in values else ""
        if key.casefold() == "example" or name.casefold().startswith("example"):
            notes.append(f"row {r} is marked as an example: not read")
            continue
        raw_rows.append((r, values))

    parsed = _parse_facts(raw_rows, [f for f in facts if f.name in columns])
    rows = []
    for r, values in raw_rows:
        key = _text(values["key"].value) if "key" in values else ""
        ids = _text(values["record_ids"].value) if "record_ids" in values else ""
        rows.append(ReturnedRow(
            row=r, key_ids=tuple(k for k in key.split("|")[1:] if k) if "|" in key else (),
            record_ids=tuple(i for i in re.split(r"[;\s]+", ids) if i),
            name=_text(values["name"].value) or None if "name" in values else None,
            postcode=_text(values["postcode"].value) or None if "postcode" in values else None,
            values={f: parsed[(r, f)] for f in fact_names if (r, f) in parsed}))
    partner = book.properties.subject if (book.properties.keywords or "").strip() == MARKER else None
    return ReturnedWorkbook(sheet=title, rows=rows, notes=notes, partner=partner or None)


def _header_name(role: str, facts: Sequence[Fact]) -> str:
    for f in facts:
        if f.name == role:
            return f"'{f.header}'"
    return f"'{_ROLES[role][0]}'" if role in _ROLES else role


def _parse_facts(
    raw_rows: list[tuple[int, dict[str, Any]]], facts: Sequence[Fact],
) -> dict[tuple[int, str], ParsedFact]:
    """Every fact cell of every row, read column by column (a percentage column is judged as a whole)."""
    out: dict[tuple[int, str], ParsedFact] = {}
    for f in facts:
        cells = [(r, values[f.name]) for r, values in raw_rows if f.name in values]
        if f.entry == "percent":
            out.update(_percent_column(f, cells))
            continue
        for r, cell in cells:
            out[(r, f.name)] = _parse_cell(f, cell)
    return out


def _common(cell: Any) -> ParsedFact | str:
    """The checks every fact cell gets first: a formula is refused, a "not known" is missing; else its text."""
    value = cell.value
    raw = _text(value)
    if cell.data_type == "f" or (isinstance(value, str) and value.lstrip().startswith("=")):
        return ParsedFact(raw, refused="a formula, not a value: type the value itself")
    if isinstance(value, str) and " ".join(value.split()).casefold().rstrip(".") in _MISSING | {
            t.rstrip(".") for t in _MISSING}:
        return ParsedFact(raw)
    if isinstance(value, bool):
        return ParsedFact(raw, refused="TRUE/FALSE is not a value of this fact")
    return raw


def _number(text: str) -> float | None:
    cleaned = text.replace(",", "").replace(" ", "")
    return float(cleaned) if _PLAIN.match(cleaned) else None


def _percent_column(f: Fact, cells: list[tuple[int, Any]]) -> dict[tuple[int, str], ParsedFact]:
    """Percentages: "45%" and %-formatted cells are explicit; bare numbers are read by what the column holds.

    A column whose bare numbers are all within 0–1 was written as fractions (0.45 = 45%); a column with bare
    numbers above 1 is in percent (45 = 45%), and a bare number below 1 in it is ambiguous (0.5% or 50%?): refused.
    """
    out: dict[tuple[int, str], ParsedFact] = {}
    bare: list[tuple[int, str, float]] = []
    for r, cell in cells:
        first = _common(cell)
        if isinstance(first, ParsedFact):
            out[(r, f.name)] = first
            continue
        raw, value = first, cell.value
        if isinstance(value, (int, float)) and "%" in (cell.number_format or ""):
            out[(r, f.name)] = _percent(raw, float(value) * 100, None)
            continue
        if isinstance(value, (int, float)):
            bare.append((r, raw, float(value)))
            continue
        if isinstance(value, (datetime, date, time)):
            out[(r, f.name)] = ParsedFact(raw, refused="a date, not a percentage")
            continue
        m = _PERCENT.match(raw)
        if m:
            out[(r, f.name)] = _percent(raw, float(m.group(1)), None)
            continue
        number = _number(raw)
        if number is None:
            out[(r, f.name)] = ParsedFact(raw, refused=f"'{raw}' is not a percentage (write e.g. 45%)")
            continue
        bare.append((r, raw, number))
    fractions = bool(bare) and all(0 <= v <= 1 for _, _, v in bare) and any(0 < v < 1 for _, _, v in bare)
    for r, raw, v in bare:
        if fractions:
            out[(r, f.name)] = _percent(raw, v * 100, f"'{raw}' read as {v * 100:g}% (this column's plain numbers "
                                                      "are all fractions of 1)")
        elif 0 < v < 1:
            out[(r, f.name)] = ParsedFact(raw, refused=f"'{raw}' is ambiguous in a column of numbers over 1: "
                                                       f"{v:g}% or {v * 100:g}%? Write it with a % sign")
        elif v == 1 and not any(x > 1 for _, _, x in bare):
            out[(r, f.name)] = ParsedFact(raw, refused="'1' is ambiguous: 1% or 100%? Write it with a % sign")
        else:
            out[(r, f.name)] = _percent(raw, v, None)
    return out


def _percent(raw: str, value: float, note: str | None) -> ParsedFact:
    if value < 0:
        return ParsedFact(raw, refused=f"'{raw}' is negative")
    if value > 100:
        return ParsedFact(raw, refused=f"'{raw}' is over 100%")
    return ParsedFact(raw, round(value, 4), note)


def _parse_cell(f: Fact, cell: Any) -> ParsedFact:
    first = _common(cell)
    if isinstance(first, ParsedFact):
        return first
    raw, value = first, cell.value
    if f.entry in ("area", "money"):
        if isinstance(value, (datetime, date, time)):
            return ParsedFact(raw, refused="a date, not a number")
        if isinstance(value, (int, float)):
            number, note = float(value), None
        else:
            m = (_AREA if f.entry == "area" else _MONEY).match(raw)
            if m is None:
                what = "an area in m² or sq ft (e.g. 850 or '1,200 sq ft')" if f.entry == "area" else \
                    "an amount in pounds (e.g. 12,500)"
                return ParsedFact(raw, refused=f"'{raw}' is not {what}")
            number = float(m.group(1).replace(",", ""))
            note = None
            unit = (m.group(2) or "").casefold()
            if f.entry == "area" and unit and ("ft" in unit or "feet" in unit):
                number = number * _SQFT
                note = f"'{raw}' converted from square feet to {number:,.2f} m²"
        if number < 0:
            return ParsedFact(raw, refused=f"'{raw}' is negative")
        return ParsedFact(raw, round(number, 2), note)
    if f.entry == "date":
        if isinstance(value, datetime):
            return ParsedFact(raw, value.date().isoformat())
        if isinstance(value, date):
            return ParsedFact(raw, value.isoformat())
        if isinstance(value, (int, float)):
            return ParsedFact(raw, refused=f"the number {raw} is not a date (write e.g. 31/03/2027)")
        return _date_text(raw)
    if f.entry == "grade":
        word = CONDITION_WORDS.get(raw.strip().upper()) if f.name == "condition" else None
        if word:  # the RICS words for the grades
            return ParsedFact(raw, word, f"'{raw}' read as condition {word}")
        m = _GRADE.match(raw)
        grade = m.group(1).upper() if m else ""
        if grade not in f.choices:
            return ParsedFact(raw, refused=f"'{raw}' is not one of {', '.join(f.choices)}")
        rest = raw[m.end():] if m else ""
        if re.search(r"(?<![A-Za-z])[A-Ga-g](?![A-Za-z])", rest):
            return ParsedFact(raw, refused=f"'{raw}' gives more than one grade: which one?")
        rest = rest.strip(" -–:()")
        return ParsedFact(raw, grade, f"'{raw}' read as {grade}" if rest or raw != grade else None)
    text = " ".join(raw.split())
    if len(text) > 200:
        return ParsedFact(raw[:60] + "…", refused="longer than 200 characters")
    if f.entry == "choice":
        for choice in f.choices:
            if choice.casefold() == text.casefold():
                return ParsedFact(raw, choice)
    return ParsedFact(raw, text)


def _date_text(raw: str) -> ParsedFact:
    m = _ISO_DATE.match(raw)
    if m:
        try:
            return ParsedFact(raw, date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat())
        except ValueError:
            return ParsedFact(raw, refused=f"'{raw}' is not a real date")
    m = _UK_DATE.match(raw)
    if m:
        day, month, year = int(m.group(1)), int(m.group(2)), int(m.group(3))
        if year < 100:
            return ParsedFact(raw, refused=f"'{raw}': write the year in full (e.g. 2027)")
        try:
            parsed = date(year, month, day)
        except ValueError:
            if month > 12 and day <= 12:
                return ParsedFact(raw, refused=f"'{raw}' looks like month/day order; write day/month/year, "
                                               "e.g. 31/03/2027")
            return ParsedFact(raw, refused=f"'{raw}' is not a real date")
        either_way = day <= 12 and month <= 12 and day != month
        return ParsedFact(raw, parsed.isoformat(),
                          f"'{raw}' read day first: {parsed.strftime('%d %B %Y')}" if either_way else None)
    for fmt in _MONTHS:
        try:
            return ParsedFact(raw, datetime.strptime(raw.strip(), fmt).date().isoformat())
        except ValueError:
            continue
    return ParsedFact(raw, refused=f"'{raw}' is not a date (write e.g. 31/03/2027)")
