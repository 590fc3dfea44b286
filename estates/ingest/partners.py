"""The partner list: which registers make up an estate, and how each register's columns map to the record.

The list is a readable YAML file (the demo estate's is ``data/registers/registers.yaml``); its format is
described at the top of that file. :func:`load_registers_config` reads and checks it, so a typo surfaces as one
clear message rather than a failure halfway through a pipeline run.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from estates.ingest.columns import MAPPABLE_FIELDS
from estates.schema import PARTNER_TYPES

if TYPE_CHECKING:
    from geo.place import Place

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "RegisterSpec",
    "NoRegister",
    "ReferenceFile",
    "RegistersConfig",
    "load_registers_config",
    "partner_slug",
]

#: The demo estate's partner list.
DEFAULT_CONFIG = Path(__file__).resolve().parents[2] / "data" / "registers" / "registers.yaml"

_REGISTER_KEYS = {"key", "partner", "partner_type", "file", "sheet", "columns", "units", "historic", "note",
                  "organisation"}


class ConfigError(ValueError):
    """The partner list is missing or malformed (message is one readable line for the user)."""


def partner_slug(partner: str) -> str:
    """Short, stable id of a partner for building ids: lower case ASCII words joined by hyphens.

    Examples
    --------
    >>> partner_slug("Trafford Council")
    'trafford-council'
    >>> partner_slug("Schools and colleges (DfE GIAS)")
    'schools-and-colleges-dfe-gias'
    """
    ascii_text = unicodedata.normalize("NFKD", str(partner)).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if not slug:
        raise ConfigError(f"partner name {partner!r} has no letters or digits to make an id from")
    return slug


@dataclass(frozen=True)
class RegisterSpec:
    """One partner register of the estate.

    Attributes
    ----------
    key, partner, partner_type
        Short name, organisation and type (one of :data:`estates.schema.PARTNER_TYPES`).
    file
        Absolute path of the register file.
    sheet
        XLSX sheet or GeoPackage layer, ``None`` to pick automatically.
    columns
        Column mapping overrides (field -> column, list of columns, or ``None``).
    units
        Field -> unit of the register's numbers.
    historic
        True when the register is known to be out of date.
    note
        Shown next to the partner's counts.
    organisation
        The organisation the register belongs to (default: ``partner``): registers of one organisation count as
        one occupant of a site.
    """

    key: str
    partner: str
    partner_type: str
    file: Path
    sheet: str | None = None
    columns: Mapping[str, object] = field(default_factory=dict)
    units: Mapping[str, str] = field(default_factory=dict)
    historic: bool = False
    note: str = ""
    organisation: str = ""

    @property
    def slug(self) -> str:
        """:func:`partner_slug` of the partner."""
        return partner_slug(self.partner)


@dataclass(frozen=True)
class NoRegister:
    """A partner type with no register loaded yet (shown as such, never faked)."""

    partner_type: str
    label: str
    note: str = ""


@dataclass(frozen=True)
class ReferenceFile:
    """A file shipped with the registers that describes partners but lists no buildings."""

    file: Path
    note: str = ""


@dataclass(frozen=True)
class RegistersConfig:
    """A whole partner list.

    Attributes
    ----------
    path
        The YAML file.
    place
        Place slug the estate belongs to (``None``: the current place).
    registers, no_register, reference_files
        See the classes.
    decisions
        Path of the match decisions file (confirm/reject of proposed site matches).
    """

    path: Path
    place: str | None
    registers: tuple[RegisterSpec, ...]
    no_register: tuple[NoRegister, ...] = ()
    reference_files: tuple[ReferenceFile, ...] = ()
    decisions: Path | None = None

    def register(self, key: str) -> RegisterSpec:
        """The register called ``key`` (ConfigError if there is none)."""
        for spec in self.registers:
            if spec.key == key:
                return spec
        raise ConfigError(f"no register '{key}' in {self.path} (registers: "
                          f"{', '.join(s.key for s in self.registers)})")


def _text(entry: Mapping[str, object], name: str, where: str, *, required: bool = True) -> str:
    value = entry.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise ConfigError(f"{where}: '{name}' is missing")
        return ""
    if not isinstance(value, (str, int, float)):
        raise ConfigError(f"{where}: '{name}' must be text, got {value!r}")
    return str(value).strip()


def _partner_type(value: str, where: str) -> str:
    if value not in PARTNER_TYPES:
        raise ConfigError(f"{where}: partner_type '{value}' is not one of {', '.join(PARTNER_TYPES)}")
    return value


def _register(entry: object, folder: Path, number: int) -> RegisterSpec:
    where = f"registers[{number}]"
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{where}: expected a mapping of key: value, got {entry!r}")
    where = f"register '{entry.get('key', number)}'"
    unknown = set(entry) - _REGISTER_KEYS
    if unknown:
        raise ConfigError(f"{where}: unknown setting(s) {', '.join(sorted(map(str, unknown)))} "
                          f"(allowed: {', '.join(sorted(_REGISTER_KEYS))})")
    columns = entry.get("columns") or {}
    units = entry.get("units") or {}
    if not isinstance(columns, Mapping) or not isinstance(units, Mapping):
        raise ConfigError(f"{where}: 'columns' and 'units' must be mappings of field: value")
    for name in list(columns) + list(units):
        if name not in MAPPABLE_FIELDS:
            raise ConfigError(f"{where}: '{name}' is not a field of the building record "
                              f"(fields: {', '.join(MAPPABLE_FIELDS)})")
    historic = entry.get("historic", False)
    if not isinstance(historic, bool):
        raise ConfigError(f"{where}: 'historic' must be true or false")
    sheet = entry.get("sheet")
    return RegisterSpec(
        key=_text(entry, "key", where),
        partner=_text(entry, "partner", where),
        partner_type=_partner_type(_text(entry, "partner_type", where), where),
        file=(folder / _text(entry, "file", where)).resolve(),
        sheet=None if sheet is None else str(sheet),
        columns=dict(columns),
        units={str(k): str(v) for k, v in units.items()},
        historic=historic,
        note=_text(entry, "note", where, required=False),
        organisation=_text(entry, "organisation", where, required=False) or _text(entry, "partner", where),
    )


def place_registers_path(place: Place | None = None) -> Path:
    """A place's partner list (``[config] registers`` in its place.toml), else :data:`DEFAULT_CONFIG`.

    Parameters
    ----------
    place
        The place (default: the current place).
    """
    from geo.place import load_place

    place = place if place is not None else load_place()
    return place.path("config", "registers") if "registers" in place.config else DEFAULT_CONFIG


def load_registers_config(path: str | Path | None = None) -> RegistersConfig:
    """Read and check a partner list.

    Parameters
    ----------
    path
        The YAML file (default: the current place's own partner list, ``[config] registers`` in its place.toml —
        e.g. a place built with ``place build --demo-registers`` — else :data:`DEFAULT_CONFIG`). Register file paths
        in it are relative to its folder.

    Returns
    -------
    RegistersConfig

    Raises
    ------
    ConfigError
        When the file is missing, is not valid YAML, or an entry is malformed (unknown field or partner type,
        duplicate key or partner). Register files that do not exist are *not* an error here: the pipeline
        reports them per partner and carries on.
    """
    path = Path(path) if path is not None else place_registers_path()
    if not path.exists():
        raise ConfigError(f"partner list not found: {path}")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{path} is not valid YAML: {first_line}") from None
    if not isinstance(data, Mapping) or not isinstance(data.get("registers"), list):
        raise ConfigError(f"{path}: expected a 'registers:' list")
    folder = path.resolve().parent
    registers = tuple(_register(entry, folder, i) for i, entry in enumerate(data["registers"], start=1))
    for attribute in ("key", "partner"):
        seen: set[str] = set()
        for spec in registers:
            value = getattr(spec, attribute) if attribute == "key" else spec.slug
            if value in seen:
                raise ConfigError(f"{path}: two registers share the {attribute} '{value}'")
            seen.add(value)
    no_register = []
    for i, entry in enumerate(data.get("no_register") or [], start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: no_register[{i}] must be a mapping")
        where = f"no_register[{i}]"
        no_register.append(NoRegister(_partner_type(_text(entry, "partner_type", where), where),
                                      _text(entry, "label", where), _text(entry, "note", where, required=False)))
    references = []
    for i, entry in enumerate(data.get("reference_files") or [], start=1):
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{path}: reference_files[{i}] must be a mapping")
        where = f"reference_files[{i}]"
        references.append(ReferenceFile((folder / _text(entry, "file", where)).resolve(),
                                        _text(entry, "note", where, required=False)))
    decisions = data.get("decisions")
    place = data.get("place")
    return RegistersConfig(
        path=path.resolve(),
        place=None if place is None else str(place),
        registers=registers,
        no_register=tuple(no_register),
        reference_files=tuple(references),
        decisions=(folder / str(decisions)).resolve() if decisions else None,
    )
