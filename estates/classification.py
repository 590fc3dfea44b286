"""Key / core / surplus classification of the partnership estate by readable, ordered rules.

The rules live in a YAML file an estates lead edits (``data/<place>/classification.yaml``; the format and the
statuses are in ``docs/classification.md``). :func:`load_rules` validates it; :func:`classify` applies it to a table of
canonical building records (``estates/schema.py``, plus geocoding/tagging and site-matching columns when present):

1. a building matching one of the partnership's **designated key sites** is ``key``;
2. otherwise the **first rule** (in file order) whose tests are all true decides the status;
3. otherwise the status is ``needs data``, listing the facts that would have let a rule decide.

A missing fact never satisfies a test (three-valued logic: a test on a missing value is *unknown*, and a rule with an
unknown test and no false test is reported as "could not be checked", never as fired). Every result carries a readable
``explanation`` and a JSON-able ``explanation_detail``. Evaluation is vectorised: each rule is one boolean mask over the
whole table, so 100,000 buildings classify in well under two seconds.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from estates._rules import (
    EXTRA_PREFIX,
    AnyOf,
    Condition,
    DesignatedSite,
    Rule,
    RulesError,
    RuleSet,
    field_info,
    load_rules,
    parse_rules,
)
from estates.schema import STATUSES
from geo.place import load_place

__all__ = [
    "DEFAULT_RULES",
    "FALLBACK_RULE_ID",
    "DESIGNATED_RULE_ID",
    "RuleSet",
    "RulesError",
    "classify",
    "load_rules",
    "parse_rules",
    "rule_columns",
    "status_crosstab",
]

#: The current place's rules file (``[config] classification`` in its place.toml; ``ESTATES_PLACE`` picks the place).
DEFAULT_RULES: Path = load_place().path("config", "classification")

#: ``rule_id`` of a building matched by the designated key sites list.
DESIGNATED_RULE_ID = "designated-key-site"

#: ``rule_id`` of a building no rule decided (status ``needs data``).
FALLBACK_RULE_ID = "no-rule-decided"

def _key(name: object) -> str:
    """Column-name comparison key: lower case letters and digits only."""
    return re.sub(r"[^a-z0-9]+", "", str(name).lower())


_FLAG_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FLAG_FALSE = frozenset({"false", "no", "n", "0", "f"})

Mask = np.ndarray  # boolean array, one entry per building


# --------------------------------------------------------------------------------------------------------- facts
@dataclass(frozen=True, slots=True)
class _Text:
    """A text column as codes into its distinct values: every text test runs once per distinct value."""

    codes: np.ndarray  # per row: index into raw/folded, -1 when missing
    raw: np.ndarray  # distinct values, trimmed, as written
    folded: np.ndarray  # distinct values, single-spaced and case-folded
    missing: Mask  # per row

    @staticmethod
    def lift(per_value: np.ndarray, codes: np.ndarray, *, missing: bool = False) -> Mask:
        """Per-distinct-value booleans -> per-row booleans (``missing`` for rows with no value)."""
        return np.append(np.asarray(per_value, dtype=bool), missing)[codes]

    def where(self, per_value: np.ndarray) -> Mask:
        """Rows whose value satisfies ``per_value`` (never a missing row)."""
        return self.lift(per_value, self.codes) & ~self.missing

    def raw_at(self, rows: np.ndarray, *, na: object = "") -> np.ndarray:
        """Values as written at ``rows`` (``na`` where missing)."""
        return np.append(self.raw, na)[self.codes[rows]]


class _Facts:
    """Lazily parsed, cached views of the columns the rules test (one parse per column, whatever the rule count)."""

    def __init__(self, frame: pd.DataFrame, today: date) -> None:
        self.frame = frame
        self.n = len(frame)
        self.today = pd.Timestamp(today)
        self._cache: dict[tuple[str, str], Any] = {}

    def _column(self, name: str) -> pd.Series | None:
        if name in self.frame.columns:
            col = self.frame[name]
            return col.reset_index(drop=True) if isinstance(col, pd.Series) else None
        return None

    def text(self, name: str) -> _Text:
        """The column factorised to its distinct values, trimmed and case-folded once per distinct value."""
        key = ("text", name)
        if key not in self._cache:
            col = self._extra(name[len(EXTRA_PREFIX):]) if name.startswith(EXTRA_PREFIX) else self._column(name)
            if col is None:
                codes, uniques = np.full(self.n, -1, np.int64), np.array([], dtype=object)
            else:
                if pd.api.types.is_float_dtype(col.dtype) and bool((col.dropna() % 1 == 0).all()):
                    col = col.astype("Int64")  # ids read as floats (UPRN 100012797623.0)
                codes, values = pd.factorize(col, use_na_sentinel=True)
                uniques = np.asarray(values, dtype=object)
            raw = np.array([str(v).strip() for v in uniques.tolist()], dtype=object)
            folded = np.array([" ".join(v.split()).casefold() for v in raw.tolist()], dtype=object)
            missing = _Text.lift(folded == "", codes, missing=True)
            self._cache[key] = _Text(np.asarray(codes, np.int64), raw, folded, missing)
        return self._cache[key]

    def _extra(self, column: str) -> pd.Series | None:
        """One register column out of the ``extra`` JSON objects (decoded once per distinct object)."""
        col = self._column("extra")
        if col is None:
            return None
        values = col.to_numpy(dtype=object)
        if any(isinstance(v, Mapping) for v in values[:1000].tolist()):
            values = np.array([json.dumps(v, sort_keys=True) if isinstance(v, Mapping) else v
                               for v in values.tolist()], dtype=object)
        codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
        wanted = _key(column)
        picked: list[object] = []
        for text in np.asarray(uniques, dtype=object).tolist():
            try:
                obj = json.loads(text) if isinstance(text, str) else None
            except ValueError:
                obj = None
            value = None
            if isinstance(obj, Mapping):
                value = obj.get(column)
                if value is None:  # column names compared without case, spaces or punctuation
                    value = next((v for k, v in obj.items() if _key(k) == wanted), None)
            picked.append(None if value is None else str(value))
        lookup = np.array([*picked, None], dtype=object)  # code -1 (no extra object) -> None
        return pd.Series(lookup[codes], dtype=object)

    def number(self, name: str) -> tuple[np.ndarray, Mask]:
        """Float values (NaN when missing or not a number) and the missing mask."""
        key = ("number", name)
        if key not in self._cache:
            info = field_info(name)
            if info.inputs:  # derived field
                values = self._derived(name)
            else:
                col = self._column(name)
                if name == "site_partner_count" and "site_id" in self.frame.columns:
                    # One definition wherever the table comes from (pipeline or store): counted here.
                    values = self._partners_per_site()
                elif col is None:
                    values = np.full(self.n, np.nan)
                elif pd.api.types.is_numeric_dtype(col.dtype) and not pd.api.types.is_bool_dtype(col.dtype):
                    values = col.to_numpy(dtype=float, na_value=np.nan)
                else:  # text: parse each distinct value once
                    codes, uniques = pd.factorize(col, use_na_sentinel=True)
                    parsed = pd.to_numeric(pd.Series(np.asarray(uniques, dtype=object), dtype=object),
                                           errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                    values = np.append(parsed, np.nan)[codes]
            self._cache[key] = (values, np.isnan(values))
        return self._cache[key]

    def _partners_per_site(self) -> np.ndarray:
        """Distinct partner organisations with a current record on each row's ``site_id`` (NaN where no site_id).

        Several registers of one organisation count once (:func:`estates.sites.organisations`). Records flagged
        ``historic`` are not counted: a 2018 list is no evidence that a partner is there now.
        """
        from estates.sites import organisations

        site = self.text("site_id")
        if "partner" in self.frame:
            org_codes = pd.factorize(organisations(self.frame).where(self.frame["partner"].notna()),
                                     use_na_sentinel=True)[0]
        else:
            org_codes = np.full(self.n, -1)
        historic, _ = self.flag("historic")
        known = ~site.missing & (org_codes >= 0) & ~historic
        pairs = np.unique(np.stack([site.codes[known], org_codes[known]]), axis=1)
        per_site = np.bincount(pairs[0], minlength=len(site.raw)).astype(float)
        values = np.append(per_site, np.nan)[site.codes]
        values[site.missing] = np.nan
        return values

    def _derived(self, name: str) -> np.ndarray:
        if name == "running_cost_per_m2":
            cost, _ = self.number("annual_running_cost")
            gia, _ = self.number("gia_m2")
            with np.errstate(divide="ignore", invalid="ignore"):
                return np.where(gia > 0, cost / gia, np.nan)
        raise KeyError(name)  # pragma: no cover - every derived field is listed above

    def date(self, name: str) -> tuple[np.ndarray, Mask]:
        """datetime64[ns] values (NaT when missing or unreadable) and the missing mask."""
        key = ("date", name)
        if key not in self._cache:
            col = self._column(name)
            if col is None:
                values = np.full(self.n, np.datetime64("NaT"), dtype="datetime64[ns]")
            else:
                if pd.api.types.is_datetime64_any_dtype(col.dtype):
                    if getattr(col.dt, "tz", None) is not None:
                        col = col.dt.tz_localize(None)
                    values = col.to_numpy(dtype="datetime64[ns]")
                else:  # text or date objects: parse each distinct value once
                    codes, uniques = pd.factorize(col, use_na_sentinel=True)
                    parsed = pd.to_datetime(pd.Series(np.asarray(uniques, dtype=object), dtype=object),
                                            errors="coerce", format="ISO8601")
                    if getattr(parsed.dt, "tz", None) is not None:
                        parsed = parsed.dt.tz_localize(None)
                    values = np.append(parsed.to_numpy(dtype="datetime64[ns]"),
                                       np.datetime64("NaT", "ns"))[codes]
            self._cache[key] = (values, np.isnat(values))
        return self._cache[key]

    def flag(self, name: str) -> tuple[Mask, Mask]:
        """True/False values of a flag column and its missing mask (unreadable text counts as missing)."""
        key = ("flag", name)
        if key not in self._cache:
            col = self._column(name)
            if col is None:
                value, missing = np.zeros(self.n, bool), np.ones(self.n, bool)
            elif pd.api.types.is_bool_dtype(col.dtype):
                missing = col.isna().to_numpy(dtype=bool)
                value = col.fillna(False).to_numpy(dtype=bool)
            elif pd.api.types.is_numeric_dtype(col.dtype):
                num = pd.to_numeric(col, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                missing = np.isnan(num)
                value = ~missing & (num != 0)
            else:
                text = self.text(name)
                is_true = text.where(np.isin(text.folded, list(_FLAG_TRUE)))
                is_false = text.where(np.isin(text.folded, list(_FLAG_FALSE)))
                value, missing = is_true, ~(is_true | is_false)
            self._cache[key] = (value, missing)
        return self._cache[key]

    def missing(self, name: str) -> Mask:
        """Missing mask of a field, whatever its kind."""
        kind = field_info(name).kind
        if kind == "number":
            return self.number(name)[1]
        if kind == "date":
            return self.date(name)[1]
        if kind == "flag":
            return self.flag(name)[1]
        return self.text(name).missing

    def fact_missing(self, fact: str, derived_from: str | None = None) -> Mask:
        """Missing mask of a recorded fact; as an input of ``running_cost_per_m2`` a zero area counts as missing."""
        mask = self.missing(fact)
        if derived_from == "running_cost_per_m2" and fact == "gia_m2":
            gia, _ = self.number("gia_m2")
            with np.errstate(invalid="ignore"):
                mask = mask | ~(gia > 0)
        return mask

    # -- values for explanations (only ever asked for the rows a rule decided)
    def display(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Readable values of ``name`` at ``rows`` (object array of str)."""
        info = field_info(name)
        if info.kind == "number":
            values = self.number(name)[0][rows]
            text = np.array([f"{v:,.2f}".rstrip("0").rstrip(".") for v in values], dtype=object)
            if info.unit == "£":
                return "£" + text
            if info.unit == "£/m²":
                return "£" + text + "/m²"
            if info.unit == "%":
                return text + "%"
            return text + (f" {info.unit.strip()}" if info.unit else "")
        if info.kind == "date":
            return pd.DatetimeIndex(self.date(name)[0][rows]).strftime("%Y-%m-%d").to_numpy(dtype=object)
        if info.kind == "flag":
            return np.where(self.flag(name)[0][rows], "true", "false").astype(object)
        return "'" + self.text(name).raw_at(rows) + "'"

    def json_values(self, name: str, rows: np.ndarray) -> list[Any]:
        """JSON-able values of ``name`` at ``rows`` (None when missing)."""
        info = field_info(name)
        if info.kind == "number":
            values = self.number(name)[0][rows]
            return [None if v != v else float(v) for v in values.tolist()]
        if info.kind == "date":
            values, missing = self.date(name)
            text = pd.DatetimeIndex(values[rows]).strftime("%Y-%m-%d").to_numpy(dtype=object)
            return [None if m else t for t, m in zip(text.tolist(), missing[rows].tolist(), strict=True)]
        if info.kind == "flag":
            value, missing = self.flag(name)
            return [None if m else v for v, m in zip(value[rows].tolist(), missing[rows].tolist(), strict=True)]
        text = self.text(name)
        raw = text.raw_at(rows, na=None)
        return [None if m else v for v, m in zip(raw.tolist(), text.missing[rows].tolist(), strict=True)]


# ---------------------------------------------------------------------------------------------------- evaluation
def _evaluate_condition(c: Condition, facts: _Facts) -> tuple[Mask, Mask]:
    """Return (true, unknown) masks of one test. A missing value makes a test unknown, never true."""
    info = field_info(c.field)
    if c.op == "missing":
        missing = facts.missing(c.field)
        return (missing if c.value else ~missing), np.zeros(facts.n, bool)
    if info.kind == "flag":
        value, missing = facts.flag(c.field)
        if c.op == "is_true":
            return value & ~missing, np.zeros(facts.n, bool)
        return (value == c.value) & ~missing, missing  # equals
    if info.kind == "number":
        values, missing = facts.number(c.field)
        with np.errstate(invalid="ignore"):
            if c.op == "equals":
                truth = values == c.value
            elif c.op == "not_equals":
                truth = values != c.value
            elif c.op == "in":
                truth = np.isin(values, np.asarray(c.value, dtype=float))
            elif c.op == "not_in":
                truth = ~np.isin(values, np.asarray(c.value, dtype=float))
            elif c.op == "lt":
                truth = values < c.value
            elif c.op == "le":
                truth = values <= c.value
            elif c.op == "gt":
                truth = values > c.value
            else:  # ge
                truth = values >= c.value
        return truth & ~missing, missing
    if info.kind == "date":  # within_months: on or before today + N months (already passed counts)
        values, missing = facts.date(c.field)
        horizon = (facts.today + pd.DateOffset(months=int(c.value))).to_datetime64()
        return (values <= horizon) & ~missing, missing
    text = facts.text(c.field)
    folded = text.folded.tolist()
    if c.op == "equals":
        per_value = [v == c.value for v in folded]
    elif c.op == "not_equals":
        per_value = [v != c.value for v in folded]
    elif c.op == "in":
        per_value = [v in c.value for v in folded]
    elif c.op == "not_in":
        per_value = [v not in c.value for v in folded]
    else:  # contains
        per_value = [any(term in v for term in c.value) for v in folded]
    return text.where(np.asarray(per_value, dtype=bool)), text.missing


def _evaluate(when: Sequence[Condition | AnyOf], facts: _Facts, leaves: dict[int, tuple[Mask, Mask]]
              ) -> tuple[Mask, Mask]:
    """Kleene AND over ``when``: true if all true; false if any false; unknown otherwise."""
    all_true = np.ones(facts.n, bool)
    any_false = np.zeros(facts.n, bool)
    for item in when:
        if isinstance(item, AnyOf):
            any_true = np.zeros(facts.n, bool)
            all_false = np.ones(facts.n, bool)
            for option in item.options:
                t, u = _evaluate(option, facts, leaves)
                any_true |= t
                all_false &= ~t & ~u
            t, f = any_true, all_false
        else:
            t, u = _evaluate_condition(item, facts)
            leaves[id(item)] = (t, u)
            f = ~t & ~u
        all_true &= t
        any_false |= f
    return all_true, ~all_true & ~any_false


def _site_match(site: DesignatedSite, facts: _Facts) -> list[Mask]:
    """One mask per match alternative of a designated site (missing values never match)."""
    out: list[Mask] = []
    for alternative in site.match:
        mask = np.ones(facts.n, bool)
        for key, accepted in alternative.items():
            text = facts.text(_SITE_KEY_FIELD[key])
            folded = text.folded.tolist()
            if key == "uprn":
                per_value = [re.sub(r"\D", "", v) in accepted for v in folded]
            elif key == "postcode":
                per_value = [v.replace(" ", "").upper() in accepted for v in folded]
            elif key == "name_contains":
                per_value = [any(term in v for term in accepted) for v in folded]
            else:
                per_value = [v in accepted for v in folded]
            mask &= text.where(np.asarray(per_value, dtype=bool))
        out.append(mask)
    return out


_SITE_KEY_FIELD = {"uprn": "uprn", "postcode": "postcode", "name": "name", "name_contains": "name",
                   "source_id": "source_id", "partner": "partner", "partner_type": "partner_type"}


def _matched_fields(alternative: Mapping[str, tuple[str, ...]] | None) -> tuple[str, ...]:
    """Columns a designated-site alternative matched on (``site_id`` for a whole-site match)."""
    if alternative is None:
        return ("site_id",)
    return tuple(dict.fromkeys(_SITE_KEY_FIELD[k] for k in alternative))


# -------------------------------------------------------------------------------------------------- explanation
def _leaf_sentence(c: Condition, facts: _Facts, rows: np.ndarray) -> np.ndarray:
    """Readable 'label is value (...)' for a true test at ``rows`` (object array)."""
    info = field_info(c.field)
    label = info.label
    if c.op == "missing":
        if c.value:
            return np.full(len(rows), f"{label} is missing", dtype=object)
        return f"{label} is recorded: " + facts.display(c.field, rows)
    if c.op == "is_true":
        return np.full(len(rows), f"{label} is true", dtype=object)
    value = f"{label} is " + facts.display(c.field, rows)
    written = c.written
    if c.op in {"lt", "le", "gt", "ge"}:
        words = {"lt": "below", "le": "at most", "gt": "above", "ge": "at least"}[c.op]
        return value + f", {words} {written:g}"
    if c.op == "within_months":
        dates = facts.date(c.field)[0][rows]
        today = facts.today.strftime("%Y-%m-%d")
        past = np.where(dates < facts.today.to_datetime64(), f" (already passed on {today})",
                        f" (within {written} months of {today})").astype(object)
        return value + past
    if c.op == "in":
        return value + f" (one of: {', '.join(map(str, written))})"
    if c.op == "not_in":
        return value + f" (not one of: {', '.join(map(str, written))})"
    if c.op == "contains":
        return value + " (contains " + " or ".join(f"'{w}'" for w in written) + ")"
    if c.op == "not_equals":
        return value + f" (not '{written}')"
    return value


def _fired_text(rule: Rule, facts: _Facts, rows: np.ndarray, leaves: dict[int, tuple[Mask, Mask]]) -> np.ndarray:
    """'a and b' over the true tests of ``rule`` at ``rows``."""
    out = np.full(len(rows), "", dtype=object)
    for c in rule.conditions:
        true_here = leaves[id(c)][0][rows]
        if not true_here.any():
            continue
        sentence = np.full(len(rows), "", dtype=object)
        sentence[true_here] = _leaf_sentence(c, facts, rows[true_here])
        joiner = np.where((out != "") & true_here, " and ", "").astype(object)
        out = out + joiner + sentence
    return out


def _join_labels(fields: Sequence[str]) -> str:
    return ", ".join(field_info(f).label for f in fields)


# ---------------------------------------------------------------------------------------------------- classify
def classify(frame: pd.DataFrame, rules: RuleSet, *, today: date | None = None) -> pd.DataFrame:
    """Suggest a key / core / surplus status for every building, with its explanation.

    Parameters
    ----------
    frame
        Canonical building records (``estates/schema.py``), optionally with tagging columns and ``site_id`` /
        ``site_partner_count`` from site matching. Columns the rules test but the table lacks count as missing facts.
    rules
        Rules from :func:`load_rules`.
    today
        The date ``within_months`` tests count from; defaults to today's date.

    Returns
    -------
    pandas.DataFrame
        Same index and row order as ``frame``, with columns:

        ``building_id``
            Copied from ``frame`` (empty when absent).
        ``rule_status``
            ``key``, ``core``, ``surplus`` or ``needs data``.
        ``rule_id``
            The deciding rule's id, ``designated-key-site`` or ``no-rule-decided``.
        ``explanation``
            Readable sentences: what decided, on which values, which other rules matched, which could not be
            checked and which facts were missing.
        ``explanation_detail``
            The same as a JSON-able dict: ``status``, ``rule_id``; ``decided_by`` (``kind`` = ``rule``,
            ``designated_key_site`` or ``fallback``, with the rule's description or the site's name and reason);
            ``values`` (field -> value the decision was made on); ``also_matched`` (later rules that are also
            true); ``not_checked`` (rules tried before the decision that needed missing facts, with those facts);
            ``missing_facts`` (their union). Parts shared by buildings with the same outcome are the same objects:
            treat the detail as read-only.
    """
    today = today or date.today()
    n = len(frame)
    facts = _Facts(frame, today)
    n_rules = len(rules.rules)

    # 1. every rule as (true, unknown) masks over the whole table
    leaves: dict[int, tuple[Mask, Mask]] = {}
    truth = np.zeros((n_rules, n), bool)
    unknown = np.zeros((n_rules, n), bool)
    for j, rule in enumerate(rules.rules):
        truth[j], unknown[j] = _evaluate(rule.when, facts, leaves)

    # 2. designated key sites (first matching site and alternative wins)
    # designated_labels[k]: (site, alternative matched, or None for "same site_id as a matched building")
    designated_labels: list[tuple[DesignatedSite, Mapping[str, tuple[str, ...]] | None]] = []
    designated = np.zeros(n, np.int32)  # 0 = none, else 1 + index into designated_labels
    for site in rules.designated_sites:
        for alternative, mask in zip(site.match, _site_match(site, facts), strict=True):
            designated_labels.append((site, alternative))
            designated[(designated == 0) & mask] = len(designated_labels)
    if rules.apply_to_whole_site and rules.designated_sites and "site_id" in frame.columns:
        site_text = facts.text("site_id")
        site_missing = site_text.missing
        direct = designated > 0
        if direct.any():
            # first designated code per distinct site_id, spread to every row of that site
            per_site = np.zeros(len(site_text.raw) + 1, np.int32)
            hit_rows = np.flatnonzero(direct & ~site_missing)[::-1]  # reversed: the first row is written last
            per_site[site_text.codes[hit_rows]] = designated[hit_rows]
            per_site[-1] = 0
            propagated = np.zeros(n, np.int32)
            codes = per_site[site_text.codes]
            for code in np.unique(codes[(codes > 0) & ~direct & ~site_missing]):
                designated_labels.append((designated_labels[code - 1][0], None))
                propagated[(codes == code) & ~direct & ~site_missing] = len(designated_labels)
            designated = np.where(direct, designated, propagated)

    # 3. the first true rule decides; n_rules means no rule decided
    any_true = truth.any(axis=0)
    decided = np.where(any_true, truth.argmax(axis=0) if n_rules else 0, n_rules)
    is_designated = designated > 0

    # 4. outcome signature per row: (outcome, per-rule code); code 1 = also matched, 2 + bitmask = not checked
    rule_index = np.arange(n_rules)[:, None]
    codes = np.zeros((n_rules, n), np.int64)
    relevant_unknown = unknown & ((rule_index < decided[None, :]) & ~is_designated[None, :])
    also = truth & ((rule_index > decided[None, :]) | is_designated[None, :])
    codes[also] = 1
    facts_per_rule: list[tuple[str, ...]] = []
    for j, rule in enumerate(rules.rules):
        needs = rule.needs
        facts_per_rule.append(needs)
        if not relevant_unknown[j].any():
            continue
        bits = np.zeros(n, np.int64)
        for c in rule.conditions:
            if c.op in {"missing", "is_true"}:
                continue
            for fact in c.facts:
                miss = facts.fact_missing(fact, c.field if c.facts != (c.field,) else None)
                bits |= miss.astype(np.int64) << needs.index(fact)
        codes[j] = np.where(relevant_unknown[j], 2 + bits, codes[j])
    outcome = np.where(is_designated, n_rules + designated, decided)
    signature, _ = pd.factorize(outcome)
    for j in range(n_rules):  # combine column by column; re-factorising keeps the key below n
        signature, _ = pd.factorize(signature.astype(np.int64) * (int(codes[j].max(initial=0)) + 1) + codes[j])
    uniques, first_rows = np.unique(signature, return_index=True)

    # 5. per signature: the fixed text before and after the per-row values, and the detail template
    n_sig = len(uniques)
    prefix = np.empty(n_sig, dtype=object)
    suffix = np.empty(n_sig, dtype=object)
    status_of = np.empty(n_sig, dtype=object)
    rule_id_of = np.empty(n_sig, dtype=object)
    template: list[dict[str, Any]] = []
    for s, row in zip(uniques.tolist(), first_rows.tolist(), strict=True):
        out_code = int(outcome[row])
        also_rules = [rules.rules[j] for j in range(n_rules) if codes[j, row] == 1]
        unchecked: list[tuple[Rule, list[str]]] = []
        for j in range(n_rules):
            code = int(codes[j, row])
            if code >= 2:
                bits = code - 2
                unchecked.append((rules.rules[j], [f for i, f in enumerate(facts_per_rule[j]) if bits >> i & 1]))
        missing_facts = list(dict.fromkeys(f for _, fs in unchecked for f in fs))
        tail = ""
        if also_rules:
            tail += " Also matches: " + "; ".join(f"'{r.id}' ({r.status})" for r in also_rules) + "."
        if unchecked:
            groups: dict[tuple[str, ...], list[str]] = {}
            for r, fs in unchecked:
                groups.setdefault(tuple(fs), []).append(f"'{r.id}'")
            tail += " Could not be checked: " + "; ".join(
                f"{', '.join(ids)} ({_join_labels(fs)} missing)" for fs, ids in groups.items()) + "."
        detail: dict[str, Any] = {
            "also_matched": [{"rule": r.id, "status": r.status} for r in also_rules],
            "not_checked": [{"rule": r.id, "status": r.status, "missing": fs} for r, fs in unchecked],
            "missing_facts": missing_facts,
        }
        if out_code > n_rules:  # designated
            site, alternative = designated_labels[out_code - n_rules - 1]
            status, rule_id = "key", DESIGNATED_RULE_ID
            how = "matched on " if alternative is not None else "on the same site as a building matched by it: "
            prefix[s] = f"key — designated key site '{site.name}' ({how}"
            tail = f"): {site.reason}" + tail
            detail["decided_by"] = {"kind": "designated_key_site", "rule": rule_id, "site": site.name,
                                    "reason": site.reason}
        elif out_code == n_rules:  # fallback
            status, rule_id = "needs data", FALLBACK_RULE_ID
            prefix[s] = f"needs data — no rule decided: {rules.fallback_description}"
            if missing_facts:
                prefix[s] += f" Facts that would let a rule decide: {_join_labels(missing_facts)}."
            else:
                prefix[s] += " Every rule could be checked and none matched the recorded facts."
            detail["decided_by"] = {"kind": "fallback", "rule": rule_id, "description": rules.fallback_description}
        else:
            rule = rules.rules[out_code]
            status, rule_id = rule.status, rule.id
            prefix[s] = f"{rule.status} — rule '{rule.id}': {rule.description} Fired on: "
            tail = "." + tail
            detail["decided_by"] = {"kind": "rule", "rule": rule.id, "description": rule.description}
        suffix[s] = tail
        status_of[s], rule_id_of[s] = status, rule_id
        detail = {"status": status, "rule_id": rule_id, "decided_by": detail.pop("decided_by"), "values": {},
                  **detail}
        template.append(detail)

    # 6. per-row values: the tests that fired, or the values a designated site matched on (vectorised per group)
    middle = np.full(n, "", dtype=object)
    details: list[dict[str, Any]] = [template[s] for s in signature.tolist()]
    groups: list[tuple[np.ndarray, tuple[str, ...]]] = []
    for k, (_, alternative) in enumerate(designated_labels, start=1):
        rows = np.flatnonzero(designated == k)
        if len(rows):
            fields = _matched_fields(alternative)
            text = np.full(len(rows), "", dtype=object)
            for f in fields:
                text = text + np.where(text != "", " and ", "").astype(object) + (
                    f"{field_info(f).label} " + facts.display(f, rows))
            middle[rows] = text
            groups.append((rows, fields))
    for j, rule in enumerate(rules.rules):
        rows = np.flatnonzero((decided == j) & ~is_designated)
        if len(rows):
            middle[rows] = _fired_text(rule, facts, rows, leaves)
            groups.append((rows, tuple(dict.fromkeys(c.field for c in rule.conditions))))
    for rows, fields in groups:
        columns = [facts.json_values(f, rows) for f in fields]
        if len(fields) == 1:
            only = fields[0]
            for r, v in zip(rows.tolist(), columns[0], strict=True):
                details[r] = {**details[r], "values": {} if v is None else {only: v}}
        else:
            for r, values in zip(rows.tolist(), zip(*columns, strict=True), strict=True):
                details[r] = {**details[r], "values": {f: v for f, v in zip(fields, values, strict=True)
                                                       if v is not None}}

    explanation = prefix[signature] + middle + suffix[signature]
    index = frame.index
    if "building_id" in frame.columns:
        building_id = pd.Series(frame["building_id"].to_numpy(), index=index, dtype=frame["building_id"].dtype)
    else:
        building_id = pd.Series(pd.NA, index=index, dtype="str")
    return pd.DataFrame(
        {
            "building_id": building_id,
            # few distinct values: convert those, then gather
            "rule_status": pd.Series(pd.array(status_of.tolist(), dtype="str").take(signature), index=index),
            "rule_id": pd.Series(pd.array(rule_id_of.tolist(), dtype="str").take(signature), index=index),
            # one long sentence per row: kept as Python str objects (no copy into another string store)
            "explanation": pd.Series(explanation, index=index, dtype=object),
            "explanation_detail": pd.Series(details, index=index, dtype=object),
        },
        index=index,
    )


def status_crosstab(frame: pd.DataFrame, classified: pd.DataFrame, *, by: str = "partner",
                    margins: bool = True) -> pd.DataFrame:
    """Count buildings by ``by`` (default partner) × status.

    Parameters
    ----------
    frame
        The building table that was classified (for the ``by`` column).
    classified
        The result of :func:`classify` for ``frame`` (same index).
    by
        Column of ``frame`` to group by.
    margins
        Add a ``total`` row and column.

    Returns
    -------
    pandas.DataFrame
        One row per value of ``by``, one column per status in :data:`estates.schema.STATUSES` order.
    """
    groups = frame[by].astype("str").fillna("(none)") if by in frame.columns else pd.Series("(none)", index=frame.index)
    table = pd.crosstab(groups.rename(by), classified["rule_status"].rename("status"))
    table = table.reindex(columns=list(STATUSES), fill_value=0)
    table.columns.name = "status"
    if margins:
        table["total"] = table.sum(axis=1)
        table.loc["total"] = table.sum(axis=0)
    return table


#: Record columns the classifier reads whatever the rules say: partners and sites (designated key sites, the
#: whole-site rule and the partner count fallback).
_CLASSIFIER_BASE = ("partner", "organisation", "partner_type", "historic", "name", "postcode", "uprn", "site_id",
                    "site_partner_count")


def rule_columns(rules: RuleSet) -> list[str] | None:
    """The store columns ``classify`` needs for these rules (reading only those is ~3× faster at 100,000).

    Parameters
    ----------
    rules
        The rule set.

    Returns
    -------
    list of str or None
        Column names for ``Store.buildings(columns=...)``, or ``None`` (read everything) when a field cannot be
        resolved.
    """
    needed = dict.fromkeys(_CLASSIFIER_BASE)
    for name in rules.fields:
        if name.startswith(EXTRA_PREFIX):
            needed["extra"] = None
            continue
        try:
            info = field_info(name)
        except (KeyError, ValueError):
            return None
        for column in info.inputs or (name,):
            needed[column] = None
    return list(needed)
