"""Reading and validating a classification rules file (private to :mod:`estates.classification`).

The rules file is YAML written by an estates lead (see ``docs/classification.md``). This module turns it into frozen
dataclasses and refuses anything it cannot read unambiguously, with an error that names the rule and the key at fault.
Nothing here touches a table of buildings.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from estates.schema import FIELDS, PROVENANCE_FIELDS, STATUSES

__all__ = [
    "AnyOf",
    "Condition",
    "DesignatedSite",
    "FieldInfo",
    "KNOWN_FIELDS",
    "OPERATORS",
    "Rule",
    "RuleSet",
    "RulesError",
    "SITE_MATCH_KEYS",
    "load_rules",
    "parse_rules",
]

Kind = Literal["text", "number", "date", "flag"]


class RulesError(ValueError):
    """A rules file that cannot be used, with a message naming the file, the rule and the key at fault."""


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What the classifier knows about a field a rule may test.

    Parameters
    ----------
    name
        Column name in the building table.
    kind
        ``text``, ``number``, ``date`` or ``flag`` (true/false); decides which operators are allowed.
    label
        Human name used in explanations, e.g. ``"tenure detail"``.
    unit
        Unit appended to numbers in explanations (``"%"``, ``" m²"``, ``"£"`` is put in front).
    inputs
        For a derived field, the facts it is computed from (these are what is reported missing).
    """

    name: str
    kind: Kind
    label: str
    unit: str = ""
    inputs: tuple[str, ...] = ()


def _label(text: str) -> str:
    """Lower-case the first word of a schema label unless it is an acronym (``UPRN``)."""
    first, _, rest = text.partition(" ")
    if first.isupper() and len(first) > 1:
        return text
    return (first[:1].lower() + first[1:] + (" " + rest if rest else "")).strip()


def _known_fields() -> dict[str, FieldInfo]:
    kinds: dict[str, Kind] = {"text": "text", "code": "text", "number": "number", "date": "date"}
    out: dict[str, FieldInfo] = {}
    for f in FIELDS + PROVENANCE_FIELDS:
        kind: Kind = "flag" if f.name == "historic" else kinds[f.kind]
        out[f.name] = FieldInfo(f.name, kind, _label(f.label), f.unit)
    # Geocoding and tagging columns (docs/architecture.md), and site matching.
    extra: list[FieldInfo] = [
        FieldInfo("postcode_normalised", "text", "postcode"),
        FieldInfo("lon", "number", "longitude"),
        FieldInfo("lat", "number", "latitude"),
        FieldInfo("easting", "number", "easting", " m"),
        FieldInfo("northing", "number", "northing", " m"),
        FieldInfo("geocode_method", "text", "geocode method"),
        FieldInfo("geocode_precision", "text", "geocode precision"),
        FieldInfo("geocode_issue", "text", "geocode issue"),
        FieldInfo("ward_code", "text", "ward code"),
        FieldInfo("ward_name", "text", "ward"),
        FieldInfo("neighbourhood", "text", "neighbourhood"),
        FieldInfo("lsoa_code", "text", "LSOA code"),
        FieldInfo("lsoa_name", "text", "LSOA"),
        FieldInfo("imd_rank", "number", "IMD rank"),
        FieldInfo("imd_decile", "number", "IMD decile"),
        FieldInfo("lsoa_population", "number", "LSOA population"),
        FieldInfo("pcn_code", "text", "PCN code"),
        FieldInfo("pcn_name", "text", "PCN"),
        FieldInfo("site_id", "text", "site"),
        # From site matching; when a table has site_id but not this column, the classifier counts the distinct
        # partners with a current (not historic) record sharing each site_id in the table.
        FieldInfo("site_partner_count", "number", "number of partners on the same site"),
        # Derived: computed by the classifier from recorded facts, never stored.
        FieldInfo("running_cost_per_m2", "number", "running cost per m²", "£/m²",
                  inputs=("annual_running_cost", "gia_m2")),
    ]
    for info in extra:
        out[info.name] = info
    return out


#: Every field a rule may test, by column name.
KNOWN_FIELDS: dict[str, FieldInfo] = _known_fields()

_OUTSIDE = re.compile(r"^outside_[a-z0-9_]+$")

#: Operator -> field kinds it applies to.
OPERATORS: dict[str, frozenset[str]] = {
    "equals": frozenset({"text", "number", "flag"}),
    "not_equals": frozenset({"text", "number"}),
    "in": frozenset({"text", "number"}),
    "not_in": frozenset({"text", "number"}),
    "contains": frozenset({"text"}),
    "lt": frozenset({"number"}),
    "le": frozenset({"number"}),
    "gt": frozenset({"number"}),
    "ge": frozenset({"number"}),
    "within_months": frozenset({"date"}),
    "missing": frozenset({"text", "number", "date", "flag"}),
    "is_true": frozenset({"flag"}),
}

#: Keys a designated key site's ``match`` alternative may use.
SITE_MATCH_KEYS: tuple[str, ...] = ("uprn", "postcode", "name", "name_contains", "source_id", "partner", "partner_type")

_RULE_KEYS = frozenset({"id", "status", "description", "when"})
_SITE_KEYS = frozenset({"name", "reason", "match"})
_TOP_KEYS = frozenset({"version", "place", "designated_key_sites", "rules", "fallback"})


@dataclass(frozen=True, slots=True)
class Condition:
    """One test of one field, e.g. ``tenure_detail equals 'Vacant'``.

    Parameters
    ----------
    field
        Column tested.
    op
        Operator name (a key of :data:`OPERATORS`).
    value
        Normalised operand: case-folded text, a tuple of those, a float, an int (months) or a bool.
    written
        The operand as written in the file, for explanations.
    """

    field: str
    op: str
    value: Any
    written: Any

    @property
    def facts(self) -> tuple[str, ...]:
        """The recorded facts this condition needs (a derived field's inputs)."""
        return field_info(self.field).inputs or (self.field,)


@dataclass(frozen=True, slots=True)
class AnyOf:
    """True when at least one of ``options`` (each an all-of list of tests) is true."""

    options: tuple[tuple[Condition | AnyOf, ...], ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One ordered rule.

    Parameters
    ----------
    id
        Short stable name, e.g. ``"vacant"``.
    status
        ``key``, ``core``, ``surplus`` or ``needs data``.
    description
        One human sentence saying why a building matching the rule gets ``status``.
    when
        Tests that must all be true (an :class:`AnyOf` is true when one of its options is).
    position
        1-based position in the file (rules are tried in this order).
    """

    id: str
    status: str
    description: str
    when: tuple[Condition | AnyOf, ...]
    position: int

    @property
    def conditions(self) -> tuple[Condition, ...]:
        """Every leaf test of the rule, in the order written."""
        return tuple(_leaves(self.when))

    @property
    def needs(self) -> tuple[str, ...]:
        """The recorded facts the rule needs, in the order first written."""
        return tuple(dict.fromkeys(f for c in self.conditions for f in c.facts))


@dataclass(frozen=True, slots=True)
class DesignatedSite:
    """A site the partnership has designated key.

    Parameters
    ----------
    name
        Name of the site, used in explanations.
    reason
        Why the partnership designated it.
    match
        Alternatives; a building matches when every key of one alternative matches. Values are normalised
        (case-folded text; UPRNs as digits; postcodes without spaces) and each key holds a tuple of accepted values.
    """

    name: str
    reason: str
    match: tuple[Mapping[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A validated rules file.

    Parameters
    ----------
    rules
        Ordered rules; the first one that is true for a building decides its status.
    designated_sites
        Designated key sites, tried before every rule.
    apply_to_whole_site
        When true, a building whose ``site_id`` is shared with a designated building is key too.
    fallback_description
        Text used when no rule decides (status ``needs data``).
    place
        Place the rules are for, e.g. ``"trafford"``.
    version
        Version number written in the file.
    source
        Path the rules were read from (empty when parsed from a mapping).
    """

    rules: tuple[Rule, ...]
    designated_sites: tuple[DesignatedSite, ...] = ()
    apply_to_whole_site: bool = True
    fallback_description: str = "No rule decided the status."
    place: str = ""
    version: int = 1
    source: str = ""

    @property
    def fields(self) -> tuple[str, ...]:
        """Every field the rules test, in the order first written."""
        return tuple(dict.fromkeys(c.field for r in self.rules for c in r.conditions))

    def rule(self, rule_id: str) -> Rule:
        """Return the rule called ``rule_id`` (KeyError if there is none)."""
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)


def _leaves(when: Sequence[Condition | AnyOf]) -> list[Condition]:
    out: list[Condition] = []
    for item in when:
        if isinstance(item, AnyOf):
            for option in item.options:
                out.extend(_leaves(option))
        else:
            out.append(item)
    return out


#: Prefix of a register column kept in the ``extra`` JSON field, e.g. ``extra.OtherDetail``.
EXTRA_PREFIX = "extra."


def field_info(name: str) -> FieldInfo:
    """Return what is known about ``name``.

    ``outside_<place>`` columns are flags; ``extra.<Column>`` is a register column that maps to no canonical field
    and that ingest keeps in the ``extra`` JSON object (text).
    """
    if name in KNOWN_FIELDS:
        return KNOWN_FIELDS[name]
    if _OUTSIDE.match(name):
        return FieldInfo(name, "flag", name.replace("_", " "))
    if name.startswith(EXTRA_PREFIX) and name[len(EXTRA_PREFIX):].strip():
        return FieldInfo(name, "text", f"register column {name[len(EXTRA_PREFIX):]}")
    raise KeyError(name)


def fold(text: object) -> str:
    """Normalise text for comparison: trimmed, inner whitespace collapsed, case-folded."""
    return " ".join(str(text).split()).casefold()


def digits(value: object) -> str:
    """UPRN/ids as written in a rules file: ``100012797623`` or ``"100012797623"`` -> ``"100012797623"``."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return re.sub(r"\s+", "", str(value))


def postcode_key(value: object) -> str:
    """Postcode comparison key: upper case without spaces."""
    return re.sub(r"\s+", "", str(value)).upper()


class _Where:
    """Builds readable error messages for one place in the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, message: str) -> RulesError:
        prefix = f"rules file {self.source}: " if self.source else "rules: "
        return RulesError(f"{prefix}{where}: {message}")


def _suggest(word: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" — did you mean '{close[0]}'?" if close else ""


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(float(value))


def _parse_condition(fieldname: str, op: str, operand: object, info: FieldInfo, where: str, w: _Where) -> Condition:
    if op not in OPERATORS:
        raise w.fail(where, f"unknown operator '{op}' for field '{fieldname}'{_suggest(op, list(OPERATORS))}; "
                            f"operators are: {', '.join(OPERATORS)}")
    if info.kind not in OPERATORS[op]:
        allowed = [o for o, kinds in OPERATORS.items() if info.kind in kinds]
        raise w.fail(where, f"operator '{op}' does not apply to {info.kind} field '{fieldname}'; "
                            f"use one of: {', '.join(allowed)}")
    if op in {"missing", "is_true"}:
        if not isinstance(operand, bool):
            raise w.fail(where, f"'{op}' for field '{fieldname}' must be true or false, got {operand!r}")
        return Condition(fieldname, op, operand, operand)
    if op == "within_months":
        if not (_is_number(operand) and float(operand).is_integer() and int(operand) > 0):
            raise w.fail(where, f"'within_months' for field '{fieldname}' needs a whole number of months "
                                f"greater than 0, got {operand!r}")
        return Condition(fieldname, op, int(operand), int(operand))
    if op in {"lt", "le", "gt", "ge"}:
        if not _is_number(operand):
            raise w.fail(where, f"threshold '{op}' for field '{fieldname}' must be a number, got {operand!r}")
        return Condition(fieldname, op, float(operand), operand)
    if op in {"in", "not_in"}:
        if not isinstance(operand, list) or not operand:
            raise w.fail(where, f"'{op}' for field '{fieldname}' needs a non-empty list, e.g. [A, B], got {operand!r}")
        values = tuple(_scalar(fieldname, op, v, info, where, w) for v in operand)
        return Condition(fieldname, op, values, tuple(operand))
    if op == "contains":
        items = operand if isinstance(operand, list) else [operand]
        if not items or not all(isinstance(v, str) and v.strip() for v in items):
            raise w.fail(where, f"'contains' for field '{fieldname}' needs text (or a list of texts), got {operand!r}")
        return Condition(fieldname, op, tuple(fold(v) for v in items), tuple(items))
    # equals / not_equals
    if isinstance(operand, list):
        raise w.fail(where, f"'{op}' for field '{fieldname}' takes one value; use 'in' for a list")
    return Condition(fieldname, op, _scalar(fieldname, op, operand, info, where, w), operand)


def _scalar(fieldname: str, op: str, value: object, info: FieldInfo, where: str, w: _Where) -> object:
    if info.kind == "number":
        if not _is_number(value):
            raise w.fail(where, f"'{op}' for number field '{fieldname}' needs numbers, got {value!r}")
        return float(value)  # type: ignore[arg-type]
    if info.kind == "flag":
        if not isinstance(value, bool):
            raise w.fail(where, f"'{op}' for flag field '{fieldname}' needs true or false, got {value!r}")
        return value
    if value is None or isinstance(value, (list, dict)) or (isinstance(value, str) and not value.strip()):
        raise w.fail(where, f"'{op}' for field '{fieldname}' needs a non-empty text value, got {value!r}")
    return fold(value)


def _parse_when(when: object, where: str, w: _Where, depth: int = 0) -> tuple[Condition | AnyOf, ...]:
    if not isinstance(when, Mapping) or not when:
        raise w.fail(where, "'when' must be a mapping of field: {operator: value} with at least one test")
    out: list[Condition | AnyOf] = []
    for fieldname, tests in when.items():
        fieldname = str(fieldname)
        if fieldname == "any":
            if not isinstance(tests, list) or len(tests) < 2:
                raise w.fail(where, "'any' needs a list of at least two alternatives, each a mapping of "
                                    "field: {operator: value}")
            options = tuple(_parse_when(opt, f"{where}, any[{i + 1}]", w, depth + 1) for i, opt in enumerate(tests))
            out.append(AnyOf(options))
            continue
        try:
            info = field_info(fieldname)
        except KeyError:
            raise w.fail(where, f"unknown field '{fieldname}'{_suggest(fieldname, list(KNOWN_FIELDS))}; a register "
                                f"column kept as an extra attribute is written extra.<Column>") from None
        if not isinstance(tests, Mapping) or not tests:
            raise w.fail(where, f"field '{fieldname}' needs {{operator: value}}, e.g. {{equals: Vacant}}, "
                                f"got {tests!r}")
        for op, operand in tests.items():
            out.append(_parse_condition(fieldname, str(op), operand, info, where, w))
    return tuple(out)


def _parse_rule(raw: object, position: int, w: _Where) -> Rule:
    where = f"rule {position}"
    if not isinstance(raw, Mapping):
        raise w.fail(where, f"each rule must be a mapping with id, status, description and when, got {raw!r}")
    rule_id = raw.get("id")
    if not isinstance(rule_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", rule_id):
        raise w.fail(where, f"'id' must be a short name of letters, digits, '-', '_' or '.', got {rule_id!r}")
    where = f"rule '{rule_id}' (rule {position})"
    unknown = sorted(set(map(str, raw)) - _RULE_KEYS)
    if unknown:
        raise w.fail(where, f"unknown key '{unknown[0]}'{_suggest(unknown[0], sorted(_RULE_KEYS))}; "
                            f"a rule has: {', '.join(sorted(_RULE_KEYS))}")
    status = raw.get("status")
    if status not in STATUSES:
        raise w.fail(where, f"'status' must be one of {', '.join(STATUSES)}, got {status!r}")
    description = raw.get("description")
    if not isinstance(description, str) or not description.strip():
        raise w.fail(where, "'description' must say, in a sentence, why a matching building gets its status")
    when = _parse_when(raw.get("when"), where, w)
    return Rule(rule_id, str(status), " ".join(description.split()), when, position)


def _parse_site(raw: object, position: int, w: _Where) -> DesignatedSite:
    where = f"designated key site {position}"
    if not isinstance(raw, Mapping):
        raise w.fail(where, f"must be a mapping with name, reason and match, got {raw!r}")
    name = raw.get("name")
    if isinstance(name, str) and name.strip():
        where = f"designated key site '{name}'"
    else:
        raise w.fail(where, "'name' is required")
    unknown = sorted(set(map(str, raw)) - _SITE_KEYS)
    if unknown:
        raise w.fail(where, f"unknown key '{unknown[0]}'{_suggest(unknown[0], sorted(_SITE_KEYS))}; "
                            f"a designated site has: name, reason, match")
    reason = raw.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        raise w.fail(where, "'reason' is required: say why the partnership designated this site")
    match = raw.get("match")
    if not isinstance(match, list) or not match:
        raise w.fail(where, "'match' must be a list of alternatives, e.g. [{uprn: '10091813602'}]")
    alternatives: list[Mapping[str, tuple[str, ...]]] = []
    for i, alt in enumerate(match, start=1):
        if not isinstance(alt, Mapping) or not alt:
            raise w.fail(f"{where}, match[{i}]", f"must be a mapping of {', '.join(SITE_MATCH_KEYS)}, got {alt!r}")
        parsed: dict[str, tuple[str, ...]] = {}
        for key, value in alt.items():
            key = str(key)
            if key not in SITE_MATCH_KEYS:
                raise w.fail(f"{where}, match[{i}]", f"unknown key '{key}'{_suggest(key, SITE_MATCH_KEYS)}; "
                                                     f"match on: {', '.join(SITE_MATCH_KEYS)}")
            values = value if isinstance(value, list) else [value]
            if not values or any(v is None or isinstance(v, (dict, list, bool)) or not str(v).strip()
                                 for v in values):
                raise w.fail(f"{where}, match[{i}]", f"'{key}' needs a value (or a list of values), got {value!r}")
            if key == "uprn":
                keys = tuple(digits(v) for v in values)
                if not all(k.isdigit() for k in keys):
                    raise w.fail(f"{where}, match[{i}]", f"'uprn' must be digits, got {value!r}")
            elif key == "postcode":
                keys = tuple(postcode_key(v) for v in values)
            else:
                keys = tuple(fold(v) for v in values)
            parsed[key] = keys
        alternatives.append(parsed)
    return DesignatedSite(" ".join(name.split()), " ".join(reason.split()), tuple(alternatives))


def parse_rules(data: object, *, source: str = "") -> RuleSet:
    """Validate an already-loaded rules mapping and return a :class:`RuleSet`.

    Parameters
    ----------
    data
        The mapping read from YAML.
    source
        Where it came from, used in error messages.

    Returns
    -------
    RuleSet

    Raises
    ------
    RulesError
        With a message naming the rule (or site) and the key at fault.
    """
    w = _Where(source)
    if not isinstance(data, Mapping):
        raise w.fail("top level", "must be a mapping with 'rules' (and optionally designated_key_sites, fallback)")
    unknown = sorted(set(map(str, data)) - _TOP_KEYS)
    if unknown:
        raise w.fail("top level", f"unknown key '{unknown[0]}'{_suggest(unknown[0], sorted(_TOP_KEYS))}; "
                                  f"allowed: {', '.join(sorted(_TOP_KEYS))}")
    version = data.get("version", 1)
    if version != 1:
        raise w.fail("top level", f"'version' must be 1, got {version!r}")
    raw_rules = data.get("rules")
    if not isinstance(raw_rules, list) or not raw_rules:
        raise w.fail("top level", "'rules' must be a non-empty list of rules")
    rules = tuple(_parse_rule(r, i, w) for i, r in enumerate(raw_rules, start=1))
    seen: set[str] = set()
    for r in rules:
        if r.id in seen:
            raise w.fail(f"rule '{r.id}' (rule {r.position})",
                         "the same id is used by an earlier rule; ids must be unique")
        seen.add(r.id)
        if len(r.needs) > 12:
            raise w.fail(f"rule '{r.id}' (rule {r.position})", "a rule may test at most 12 facts; split it")

    sites_raw = data.get("designated_key_sites") or {}
    if not isinstance(sites_raw, Mapping):
        raise w.fail("designated_key_sites", "must be a mapping with 'sites' (a list) and optionally "
                                             "'apply_to_whole_site' (true/false)")
    unknown = sorted(set(map(str, sites_raw)) - {"sites", "apply_to_whole_site"})
    if unknown:
        raise w.fail("designated_key_sites", f"unknown key '{unknown[0]}'; allowed: sites, apply_to_whole_site")
    whole = sites_raw.get("apply_to_whole_site", True)
    if not isinstance(whole, bool):
        raise w.fail("designated_key_sites", f"'apply_to_whole_site' must be true or false, got {whole!r}")
    site_list = sites_raw.get("sites") or []
    if not isinstance(site_list, list):
        raise w.fail("designated_key_sites", "'sites' must be a list")
    sites = tuple(_parse_site(s, i, w) for i, s in enumerate(site_list, start=1))

    fallback = data.get("fallback") or {}
    if not isinstance(fallback, Mapping):
        raise w.fail("fallback", "must be a mapping with 'description' (and 'status: needs data')")
    unknown = sorted(set(map(str, fallback)) - {"status", "description"})
    if unknown:
        raise w.fail("fallback", f"unknown key '{unknown[0]}'; allowed: status, description")
    if fallback.get("status", "needs data") != "needs data":
        raise w.fail("fallback", f"'status' must be 'needs data' (rules never guess), got {fallback.get('status')!r}")
    description = fallback.get("description", "No rule decided the status.")
    if not isinstance(description, str) or not description.strip():
        raise w.fail("fallback", "'description' must be text")
    place = data.get("place", "")
    return RuleSet(rules, sites, whole, " ".join(description.split()), str(place or ""), 1, source)


def load_rules(path: str | Path) -> RuleSet:
    """Read and validate a YAML rules file.

    Parameters
    ----------
    path
        The rules file, e.g. ``data/trafford/classification.yaml``.

    Returns
    -------
    RuleSet

    Raises
    ------
    RulesError
        When the file is not valid YAML or a rule uses an unknown field, unknown operator or bad threshold; the
        message names the file, the rule and the key.
    FileNotFoundError
        When ``path`` does not exist.
    """
    p = Path(path)
    text = p.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"rules file {p}: not valid YAML: {exc}") from None
    return parse_rules(data, source=str(p))
