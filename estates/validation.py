"""Check every row of a register: parse its values, record each problem with a severity and a readable reason.

Each row ends **accepted** (no issue), **warned** (accepted with warnings) or **rejected** (at least one error),
and the three counts always add up to the rows read. A rejected row is still kept — with its reasons — so a
partner can fix it; nothing is dropped silently. Checks come in two steps, around geocoding:

1. :func:`check_fields` parses the canonical text (numbers, dates, codes, UPRN, coordinates) and checks each
   value; :func:`check_duplicates` finds repeated ids and exact repeated rows;
2. :func:`check_locations` runs after :func:`geo.geocoder.geocode` and :func:`geo.tagging.tag`: no location at
   all, approximate location, swapped coordinates, outside the place.

The rules, codes and severities are listed in ``docs/schema.md``. A bad value is never repaired by guessing:
it is left missing and the reason quotes what the register said.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import numpy as np
import pandas as pd

from estates._frames import map_unique
from geo.postcodes import PostcodeKind, normalise_postcodes

__all__ = [
    "SEVERITIES",
    "OUTCOMES",
    "ISSUE_COLUMNS",
    "RULES",
    "FieldCheck",
    "check_fields",
    "check_duplicates",
    "check_locations",
    "make_issues",
    "outcomes",
    "issue_text",
    "summarise",
]

SEVERITIES: tuple[str, ...] = ("error", "warning")
OUTCOMES: tuple[str, ...] = ("accepted", "warned", "rejected")

#: Columns of an issues table: ``row`` is the record's index label.
ISSUE_COLUMNS: tuple[str, ...] = ("row", "field", "severity", "code", "reason")

#: Every issue code with its severity and meaning (the source of the table in docs/schema.md).
RULES: dict[str, tuple[str, str]] = {
    "blank_row": ("error", "the row has no values at all"),
    "duplicate_row": ("error", "an exact copy of an earlier row"),
    "duplicate_id": ("error", "the partner's id is already used by an earlier row of the file"),
    "no_location": ("error", "no usable coordinates and no postcode that can be located"),
    "id_reused": ("warning", "this row's id is used again by later rows (which are rejected)"),
    "same_identity": ("warning", "no id, and the same name, address and postcode as an earlier row"),
    "ragged_row": ("warning", "more or fewer values than the header has columns (surplus kept as extra columns)"),
    "no_name": ("warning", "no name"),
    "invalid_postcode": ("warning", "not a UK postcode (kept as written)"),
    "partial_postcode": ("warning", "only the district or sector of a postcode"),
    "invalid_uprn": ("warning", "not a UPRN (1–12 digits); not used"),
    "invalid_coordinate": ("warning", "a coordinate that is not a number, half a pair, or 0,0; not used"),
    "invalid_number": ("warning", "a number field that does not read as a number; not used"),
    "negative_value": ("warning", "a negative area, cost or percentage; not used"),
    "absurd_value": ("warning", "a value far beyond any real building (e.g. floor area over 500,000 m²); not used"),
    "unusual_value": ("warning", "a value that is possible but worth checking (e.g. utilisation over 100%); kept"),
    "invalid_date": ("warning", "a date that cannot be read; not used"),
    "invalid_code": ("warning", "a code outside its vocabulary (energy rating A–G, condition A–D, holding type)"),
    "formula_text": ("warning", "text that starts like a spreadsheet formula; kept as text, neutralised on export"),
    "html_text": ("warning", "text that contains HTML markup; kept as text, always shown escaped"),
    "approximate_location": ("warning", "located only at a postcode sector or district centroid"),
    "swapped_coordinates": ("warning", "latitude and longitude were given the wrong way round; swapped"),
    "location_issue": ("warning", "another geocoding remark (e.g. coordinates far from their own postcode)"),
    "outside_place": ("warning", "the location is outside the place's boundary"),
    "bad_geometry": ("error", "a feature's geometry cannot be used (too few points, unclosed ring, non-finite "
                              "coordinates, unknown type); the other features are kept"),
    "geometry_issue": ("warning", "an empty geometry (no location from it) or a line (located at a point on it)"),
    "formula_without_value": ("warning", "a spreadsheet formula cell with no saved result; left blank"),
    "mixed_encoding": ("warning", "a line in another text encoding than most of the file; decoded on its own"),
}

_TEXT_FIELDS = ("source_id", "name", "address_line_1", "address_line_2", "town", "postcode", "tenure",
                "tenure_detail", "use")
_NUMBER_FIELDS = ("gia_m2", "land_area_ha", "utilisation_pct", "annual_running_cost", "backlog_maintenance")

#: Upper limits beyond which a value cannot describe one public building or site.
_ABSURD = {"gia_m2": 500_000.0, "land_area_ha": 10_000.0, "utilisation_pct": 1_000.0,
           "annual_running_cost": 1e9, "backlog_maintenance": 1e9}
_UNITS = {"gia_m2": {"m2": 1.0, "sqft": 0.09290304},
          "land_area_ha": {"ha": 1.0, "m2": 1e-4, "acres": 0.40468564224}}
_LABEL = {"gia_m2": "floor area", "land_area_ha": "land area", "utilisation_pct": "utilisation",
          "annual_running_cost": "running cost", "backlog_maintenance": "backlog maintenance"}

_FORMULA = re.compile(r"^\s*(?:=|@|\+[^\d\s]|-[^\d\s])")
_HTML = re.compile(r"<\s*/?\s*[a-zA-Z][a-zA-Z0-9]*(?:\s[^<>]*)?/?\s*>|&(?:#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")
_NUMBER_JUNK = re.compile(r"(?i)[£$€,\s]|(sq\.?\s*m\.?|m2|m²|sqm|hectares|ha|acres|%|sq\.?\s*ft|sqft|ft2)$")
_ENERGY = re.compile(r"^(A\+{0,2}|[B-G])$")
_CONDITION_WORDS = {"GOOD": "A", "SATISFACTORY": "B", "POOR": "C", "BAD": "D"}
_HOLDING = {"land": "land", "building": "building", "buildings": "building", "land/buildings": "land+buildings",
            "land/building": "land+buildings", "land & buildings": "land+buildings",
            "land and buildings": "land+buildings", "land+buildings": "land+buildings",
            "land + buildings": "land+buildings", "buildings and land": "land+buildings"}
_DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d-%b-%Y", "%d-%b-%y", "%d %B %Y",
                 "%B %Y", "%b %Y", "%Y%m%d", "%Y/%m/%d")


def make_issues(rows: object, *, field: str, code: str, reason: object) -> pd.DataFrame:
    """Build an issues table for ``rows`` (index labels) sharing one field and code; ``reason`` per row or one."""
    rows = list(rows)
    reasons = [reason] * len(rows) if isinstance(reason, str) else list(reason)
    return pd.DataFrame({"row": rows, "field": field, "severity": RULES[code][0], "code": code,
                         "reason": reasons}, columns=list(ISSUE_COLUMNS))


def _concat(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in ISSUE_COLUMNS})
    return pd.concat(parts, ignore_index=True)


def _present(values: pd.Series) -> pd.Series:
    return values.notna()


def _objects(values: pd.Series) -> pd.Series:
    """Object dtype with ``None`` for missing: how text and code fields are held."""
    out = values.astype(object)
    return out.where(values.notna(), None)


def _quote(value: object, limit: int = 60) -> str:
    text = str(value)
    return f"'{text[:limit]}…'" if len(text) > limit else f"'{text}'"


@dataclass
class FieldCheck:
    """Result of :func:`check_fields`.

    Attributes
    ----------
    values
        Typed canonical values, same index: text fields as text, number fields as float (NaN missing), ``uprn``
        as digit text, ``lease_end`` as ISO date text, code fields from their vocabulary, ``x``/``y`` as float.
    issues
        One row per problem (:data:`ISSUE_COLUMNS`).
    """

    values: pd.DataFrame
    issues: pd.DataFrame


def _numbers(text: pd.Series) -> tuple[pd.Series, pd.Series, pd.Series]:
    """Parse text numbers; returns (values, unreadable mask, given-in-square-feet mask)."""
    present = text.notna()
    raw = text.astype("string")
    in_feet = raw.str.contains(r"(?i)(?:ft2?|sq\.?\s*ft|sqft)\s*$", regex=True).fillna(False).astype(bool)
    cleaned = raw.str.strip().str.replace(_NUMBER_JUNK, "", regex=True)
    # Accounting style "(1,234)" is a negative number.
    brackets = cleaned.str.fullmatch(r"\(.*\)").fillna(False).astype(bool)
    cleaned = cleaned.where(~brackets, "-" + cleaned.str.strip("()"))
    values = pd.Series(pd.to_numeric(cleaned, errors="coerce").to_numpy(dtype=float, na_value=np.nan),
                       index=text.index)
    bad = present & values.isna()
    return values, bad, in_feet


def _check_numbers(text: pd.DataFrame, units: Mapping[str, str]) -> tuple[dict[str, pd.Series], list]:
    out, issues = {}, []
    for name in _NUMBER_FIELDS:
        if name not in text:
            continue
        values, bad, suffix = _numbers(text[name])
        label = _LABEL[name]
        if bad.any():
            issues.append(make_issues(text.index[bad], field=name, code="invalid_number",
                                      reason=[f"{label} {_quote(v)} is not a number" for v in text[name][bad]]))
        unit = units.get(name)
        if unit is not None:
            factor = _UNITS.get(name, {}).get(unit)
            if factor is None:
                raise ValueError(f"unknown unit '{unit}' for {name} (known: {', '.join(_UNITS.get(name, {}))})")
            values = values * factor
        if name == "gia_m2" and unit != "sqft":
            in_feet = suffix & values.notna()
            values = values.where(~in_feet, values * _UNITS["gia_m2"]["sqft"])
        if name == "utilisation_pct":
            given = values.dropna()
            if len(given) and (given.abs() <= 1).all() and (given > 0).any() and not text[name].str.contains(
                    "%", regex=False, na=False).any():
                # Every value is a fraction of one: the register gave utilisation as 0–1, not 0–100.
                values = values * 100
                issues.append(make_issues(text.index[values.notna()], field=name, code="unusual_value",
                                          reason="utilisation given as fractions of 1; read as percentages"))
        negative = values < 0
        if negative.any():
            issues.append(make_issues(text.index[negative], field=name, code="negative_value",
                                      reason=[f"{label} {_quote(v)} is negative; not used" for v in
                                              text[name][negative]]))
        absurd = values > _ABSURD[name]
        if absurd.any():
            issues.append(make_issues(text.index[absurd], field=name, code="absurd_value",
                                      reason=[f"{label} {_quote(v)} is beyond any real building "
                                              f"(limit {_ABSURD[name]:,.0f}); not used" for v in text[name][absurd]]))
        if name == "utilisation_pct":
            over = (values > 100) & ~absurd
            if over.any():
                issues.append(make_issues(text.index[over], field=name, code="unusual_value",
                                          reason=[f"utilisation {v:g}% is over 100%" for v in values[over]]))
        out[name] = values.where(~negative & ~absurd)
    return out, issues


def _uprn(value: str) -> tuple[str | None, str | None]:
    """Digits of a UPRN, or ``(None, reason)``."""
    text = value.strip().replace(" ", "")
    if re.fullmatch(r"\d{1,12}(\.0+)?", text):
        digits = text.split(".")[0].lstrip("0")
        return (digits, None) if digits else (None, f"UPRN {_quote(value)} is zero; not used")
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None, f"UPRN {_quote(value)} is not a number of 1–12 digits; not used"
    if number != number.to_integral_value() or number <= 0 or number >= Decimal(10) ** 12:
        return None, f"UPRN {_quote(value)} is not a number of 1–12 digits; not used"
    significant = len(number.normalize().as_tuple().digits)
    integer = int(number)
    if "e" in text.lower() and significant < len(str(integer)):
        return None, (f"UPRN {_quote(value)} was shortened by a spreadsheet (scientific notation, digits lost); "
                      "not used")
    return str(integer), None


def _check_uprn(text: pd.Series) -> tuple[pd.Series, list]:
    present = text.dropna()
    parsed = {v: _uprn(str(v)) for v in pd.unique(present)}
    values = text.map(lambda v: parsed[v][0] if v in parsed else None).astype(object)
    bad = present.index[[parsed[v][1] is not None for v in present]]
    issues = [make_issues(bad, field="uprn", code="invalid_uprn", reason=[parsed[v][1] for v in text[bad]])]
    return _objects(values), issues


def _check_dates(text: pd.Series, name: str) -> tuple[pd.Series, list]:
    present = text.dropna()
    parsed: dict[str, str | None] = {}
    for value in pd.unique(present):
        parsed[value] = _parse_date(str(value))
    values = _objects(text.map(lambda v: parsed.get(v) if v is not None and v in parsed else None))
    bad = present.index[[parsed[v] is None for v in present]]
    issues = [make_issues(bad, field=name, code="invalid_date",
                          reason=[f"date {_quote(v)} cannot be read; not used" for v in text[bad]])]
    return values, issues


def _parse_date(value: str) -> str | None:
    text = value.strip()
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T].*)?", text):
        stamp = pd.to_datetime(text[:10], format="%Y-%m-%d", errors="coerce")
        return None if pd.isna(stamp) else stamp.date().isoformat()
    if re.fullmatch(r"\d{5}(\.\d+)?", text):
        serial = float(text)
        if 20_000 <= serial <= 80_000:  # Excel day numbers: 1954-10 to 2119-01
            return (pd.Timestamp("1899-12-30") + pd.Timedelta(days=int(serial))).date().isoformat()
        return None
    for fmt in _DATE_FORMATS:
        stamp = pd.to_datetime(text, format=fmt, errors="coerce")
        if not pd.isna(stamp):
            return stamp.date().isoformat()
    return None


def _check_codes(text: pd.DataFrame) -> tuple[dict[str, pd.Series], list]:
    out, issues = {}, []
    if "energy_rating" in text:
        raw = text["energy_rating"]
        cleaned = raw.str.upper().str.replace(r"^(EPC|DEC)\s*(RATING|BAND)?\s*[:\-]?\s*", "", regex=True).str.strip()
        ok = cleaned.str.fullmatch(_ENERGY.pattern).fillna(False).astype(bool)
        bad = raw.notna() & ~ok
        out["energy_rating"] = _objects(cleaned.where(ok))
        issues.append(make_issues(text.index[bad], field="energy_rating", code="invalid_code",
                                  reason=[f"energy rating {_quote(v)} is not a band A–G; not used"
                                          for v in raw[bad]]))
    if "condition" in text:
        raw = text["condition"]
        cleaned = raw.str.upper().str.replace(r"^(CONDITION|GRADE|CAT(EGORY)?)\s*[:\-]?\s*", "", regex=True)
        cleaned = cleaned.str.strip().map(lambda v: _CONDITION_WORDS.get(v, v) if isinstance(v, str) else v)
        ok = cleaned.str.fullmatch(r"[A-D]").fillna(False).astype(bool)
        bad = raw.notna() & ~ok
        out["condition"] = _objects(cleaned.where(ok))
        issues.append(make_issues(text.index[bad], field="condition", code="invalid_code",
                                  reason=[f"condition {_quote(v)} is not one grade A–D; not used" for v in raw[bad]]))
    if "holding_type" in text:
        raw = text["holding_type"]
        mapped = raw.str.lower().str.strip().map(lambda v: _HOLDING.get(v) if isinstance(v, str) else None)
        bad = raw.notna() & mapped.isna()
        out["holding_type"] = _objects(mapped)
        issues.append(make_issues(text.index[bad], field="holding_type", code="invalid_code",
                                  reason=[f"holding type {_quote(v)} is not land, building or land+buildings; "
                                          "not used" for v in raw[bad]]))
    return out, issues


def _check_coordinates(text: pd.DataFrame) -> tuple[dict[str, pd.Series], list]:
    if "x" not in text and "y" not in text:
        return {}, []
    index = text.index
    x_text = text["x"] if "x" in text else pd.Series(None, index=index, dtype=object)
    y_text = text["y"] if "y" in text else pd.Series(None, index=index, dtype=object)
    x, x_bad, _ = _numbers(x_text)
    y, y_bad, _ = _numbers(y_text)
    issues = []
    for name, raw, bad in (("x", x_text, x_bad), ("y", y_text, y_bad)):
        if bad.any():
            issues.append(make_issues(index[bad], field=name, code="invalid_coordinate",
                                      reason=[f"coordinate {_quote(v)} is not a number; not used" for v in raw[bad]]))
    half = x.notna() ^ y.notna()
    half &= ~(x_bad | y_bad)
    if half.any():
        issues.append(make_issues(index[half], field="x", code="invalid_coordinate",
                                  reason="only one of the two coordinates is given; not used"))
    zero = (x == 0) & (y == 0)
    if zero.any():
        issues.append(make_issues(index[zero], field="x", code="invalid_coordinate",
                                  reason="coordinates 0, 0 are a placeholder, not a place; not used"))
    unusable = half | zero | x_bad | y_bad
    return {"x": x.where(~unusable), "y": y.where(~unusable)}, issues


def _check_postcodes(text: pd.Series) -> list:
    kinds = normalise_postcodes(text)["postcode_kind"]
    invalid = text.notna() & (kinds == PostcodeKind.INVALID)
    partial = kinds.isin([PostcodeKind.SECTOR, PostcodeKind.DISTRICT])
    return [
        make_issues(text.index[invalid], field="postcode", code="invalid_postcode",
                    reason=[f"postcode {_quote(v)} is not a valid UK postcode" for v in text[invalid]]),
        make_issues(text.index[partial], field="postcode", code="partial_postcode",
                    reason=[f"postcode {_quote(v)} is only a postcode {k}" for v, k in
                            zip(text[partial], kinds[partial], strict=True)]),
    ]


def _check_text(text: pd.DataFrame) -> list:
    issues = []
    for name in _TEXT_FIELDS:
        if name not in text:
            continue
        values = text[name]
        formula = map_unique(values, lambda u: u.str.contains(_FORMULA, na=False)).fillna(False).astype(bool)
        if formula.any():
            issues.append(make_issues(text.index[formula], field=name, code="formula_text",
                                      reason=[f"{name} {_quote(v)} starts like a spreadsheet formula; kept as text"
                                              for v in values[formula]]))
        html = map_unique(values, lambda u: u.str.contains(_HTML, na=False)).fillna(False).astype(bool)
        if html.any():
            issues.append(make_issues(text.index[html], field=name, code="html_text",
                                      reason=[f"{name} {_quote(v)} contains HTML markup; shown escaped"
                                              for v in values[html]]))
    return issues


def check_fields(text: pd.DataFrame, *, units: Mapping[str, str] | None = None,
                 has_geometry: np.ndarray | None = None) -> FieldCheck:
    """Parse and check the canonical text of a register (output of :func:`estates.columns.apply_mapping`).

    Parameters
    ----------
    text
        Canonical fields as text (``None`` missing), plus ``extra``.
    units
        Field -> unit of the source numbers when not the canonical one: ``gia_m2``: ``m2``/``sqft``;
        ``land_area_ha``: ``ha``/``m2``/``acres``.
    has_geometry
        Per row, True when the file gave a geometry (GeoJSON/GPKG) — such a row is never blank.

    Returns
    -------
    FieldCheck
    """
    units = dict(units or {})
    issues: list[pd.DataFrame] = []
    values = pd.DataFrame(index=text.index)
    for name in _TEXT_FIELDS:
        if name in text:
            values[name] = text[name]
    numbers, found = _check_numbers(text, units)
    issues += found
    for name, series in numbers.items():
        values[name] = series
    if "uprn" in text:
        values["uprn"], found = _check_uprn(text["uprn"])
        issues += found
    if "lease_end" in text:
        values["lease_end"], found = _check_dates(text["lease_end"], "lease_end")
        issues += found
    codes, found = _check_codes(text)
    issues += found
    for name, series in codes.items():
        values[name] = series
    coordinates, found = _check_coordinates(text)
    issues += found
    for name, series in coordinates.items():
        values[name] = series
    if "postcode" in text:
        issues += _check_postcodes(text["postcode"])
    issues += _check_text(text)
    blank = text.isna().all(axis=1)
    if has_geometry is not None:
        blank &= ~np.asarray(has_geometry, dtype=bool)
    if blank.any():
        issues.append(make_issues(text.index[blank], field="", code="blank_row", reason="blank row: no values"))
    no_name = ~blank & (text["name"].isna() if "name" in text else True)
    if np.any(no_name):
        issues.append(make_issues(text.index[np.asarray(no_name, dtype=bool)], field="name", code="no_name",
                                  reason="no name"))
    if "extra" in text:
        values["extra"] = text["extra"]
    return FieldCheck(values=values, issues=_concat(issues))


def check_duplicates(raw: pd.DataFrame, source_id: pd.Series | None, source_rows: np.ndarray,
                     *, blank: pd.Series | None = None) -> pd.DataFrame:
    """Find exact repeated rows and repeated partner ids within one file.

    The first occurrence is kept (with a warning when its id is reused); later ones are rejected with the row
    number of the first, so the partner can tell which to fix.

    Parameters
    ----------
    raw
        The raw register rows (all columns as read).
    source_id
        The partner's own id per row (``None`` when the register has none), same index as ``raw``.
    source_rows
        Row numbers in the file, aligned with ``raw``.
    blank
        Rows already known to be blank (not reported as duplicates of each other).

    Returns
    -------
    pandas.DataFrame
        Issues (:data:`ISSUE_COLUMNS`).
    """
    index = raw.index
    row_number = pd.Series(source_rows, index=index)
    skip = blank if blank is not None else pd.Series(False, index=index)
    issues = []
    if len(raw.columns):
        hashed = pd.util.hash_pandas_object(raw.astype(object), index=False)
        hashed = hashed[~skip.to_numpy()]
        repeated = hashed.duplicated(keep="first")
        if repeated.any():
            first_by_hash = pd.Series(hashed[~repeated].index, index=hashed[~repeated].to_numpy())
            labels = hashed.index[repeated]
            firsts = first_by_hash.loc[hashed[repeated].to_numpy()].to_numpy()
            issues.append(make_issues(labels, field="", code="duplicate_row",
                                      reason=[f"exact copy of row {row_number[f]}" for f in firsts]))
            skip = skip.copy()
            skip[labels] = True
    if source_id is not None:
        # Ids are compared as a partner's system would: case and spacing aside ("h0000" is "H0000").
        present = ~skip.to_numpy() & source_id.notna().to_numpy()
        given = source_id[present]
        ids = map_unique(given, lambda u: u.astype(str).str.split().str.join(" ").str.upper())
        again = ids.duplicated(keep="first")
        if again.any():
            first_label = pd.Series(ids[~again].index, index=ids[~again].to_numpy())
            later = ids[again]
            reasons = []
            for label, key in later.items():
                first = first_label[key]
                written = given[first]
                how = "" if given[label] == written else f" as {_quote(written)} (ids are compared ignoring case " \
                                                          "and spaces)"
                reasons.append(f"id {_quote(given[label])} is already used on row {row_number[first]}{how}")
            issues.append(make_issues(later.index, field="source_id", code="duplicate_id", reason=reasons))
            reused: dict[object, list[int]] = {}
            for label, value in later.items():
                reused.setdefault(value, []).append(int(row_number[label]))
            issues.append(make_issues([first_label[v] for v in reused], field="source_id", code="id_reused",
                                      reason=[f"id {_quote(given[first_label[v]])} is used again on row(s) "
                                              f"{', '.join(map(str, rows[:10]))}{' …' if len(rows) > 10 else ''}"
                                              for v, rows in reused.items()]))
    return _concat(issues)


def check_locations(located: pd.DataFrame, *, outside_column: str | None = None, place_name: str = "the place",
                    field_issues: pd.DataFrame | None = None) -> pd.DataFrame:
    """Check geocoded and tagged rows; returns location issues and the field issues they supersede removed.

    Parameters
    ----------
    located
        Output of :func:`geo.tagging.tag` (after :func:`geo.geocoder.geocode`): needs ``geocode_method`` and
        ``geocode_issue``; ``outside_column`` when given.
    outside_column, place_name
        The ``outside_<place>`` column and the place's display name for messages.
    field_issues
        Issues from :func:`check_fields`. A postcode warning on a row whose location error or approximate-location
        warning already explains it is dropped, so each problem is told once.

    Returns
    -------
    pandas.DataFrame
        ``field_issues`` (less superseded rows) followed by the location issues.
    """
    method = located["geocode_method"].astype(object)
    remark = located["geocode_issue"].fillna("").astype(str)
    issues = []
    none = method == "none"
    if none.any():
        issues.append(make_issues(located.index[none], field="location", code="no_location",
                                  reason=[f"not located: {r}" if r else "not located: no postcode or coordinates"
                                          for r in remark[none]]))
    approximate = method.isin(["postcode_sector", "postcode_district"])
    if approximate.any():
        issues.append(make_issues(located.index[approximate], field="location", code="approximate_location",
                                  reason=[r or "located at a postcode sector or district centroid"
                                          for r in remark[approximate]]))
    swapped = method == "coordinates_swapped"
    if swapped.any():
        issues.append(make_issues(located.index[swapped], field="location", code="swapped_coordinates",
                                  reason=list(remark[swapped].replace("", RULES["swapped_coordinates"][1]))))
    other = ~none & ~approximate & ~swapped & (remark != "")
    if other.any():
        issues.append(make_issues(located.index[other], field="location", code="location_issue",
                                  reason=list(remark[other])))
    if outside_column is not None and outside_column in located:
        outside = located[outside_column].fillna(False).astype(bool)
        if outside.any():
            issues.append(make_issues(located.index[outside], field="location", code="outside_place",
                                      reason=f"outside {place_name}: the location is beyond its boundary"))
    kept = field_issues if field_issues is not None else _concat([])
    if len(kept):
        explained = set(located.index[none | approximate])
        superseded = kept["code"].isin(["invalid_postcode", "partial_postcode"]) & kept["row"].isin(explained)
        kept = kept[~superseded]
    return _concat([kept, *issues])


def outcomes(index: pd.Index, issues: pd.DataFrame) -> pd.Series:
    """Outcome per row: ``rejected`` with any error, else ``warned`` with any warning, else ``accepted``."""
    outcome = pd.Series("accepted", index=index, dtype=object)
    if len(issues):
        warned = issues.loc[issues["severity"] == "warning", "row"].unique()
        rejected = issues.loc[issues["severity"] == "error", "row"].unique()
        outcome[outcome.index.isin(warned)] = "warned"
        outcome[outcome.index.isin(rejected)] = "rejected"
    return outcome


def issue_text(index: pd.Index, issues: pd.DataFrame) -> pd.Series:
    """All reasons of each row in one readable string ("error: …; warning: …"), empty when none."""
    out = pd.Series("", index=index, dtype=object)
    if len(issues):
        ordered = issues.assign(_order=issues["severity"].map({"error": 0, "warning": 1}))
        ordered = ordered.sort_values(["row", "_order"], kind="stable")
        texts = (ordered["severity"] + ": " + ordered["reason"].astype(str)).to_numpy(dtype=object)
        rows = ordered["row"].to_numpy()
        # Group boundaries of the sorted rows; joining slices is far faster than a groupby over many groups.
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        ends = np.r_[starts[1:], len(rows)]
        joined = ["; ".join(texts[a:b]) for a, b in zip(starts, ends, strict=True)]
        out.loc[rows[starts]] = joined
    return out


def summarise(outcome: pd.Series) -> dict[str, int]:
    """Counts of ``rows``, ``accepted``, ``warned`` and ``rejected``; they always add up."""
    counts = {name: int((outcome == name).sum()) for name in OUTCOMES}
    rows = len(outcome)
    if sum(counts.values()) != rows:
        raise AssertionError(f"outcome counts {counts} do not add up to {rows} rows")
    return {"rows": rows, **counts}
