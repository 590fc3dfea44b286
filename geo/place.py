"""Places: the folder of data and config that describes one area (Trafford is the first).

Everything place-specific — boundaries, neighbourhood definitions, PCN membership, postcode table, attribution —
is read from ``data/<slug>/place.toml`` and the files it names. Code never names a place.
"""

from __future__ import annotations

import os
import tomllib
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

__all__ = ["Place", "PlaceError", "DATA_DIR", "available_places", "choose_place", "load_place"]

#: The project's ``data/`` folder.
DATA_DIR = Path(__file__).resolve().parent.parent / "data"

_DEFAULT_PLACE = "trafford"

#: The place chosen for the current context (e.g. one app session's script run), over ``ESTATES_PLACE``.
_CHOSEN: ContextVar[str | None] = ContextVar("estates_place", default=None)


class PlaceError(Exception):
    """A place folder or one of its files is missing or malformed (message is for the user)."""


@dataclass(frozen=True)
class Place:
    """One place's settings, as read from its ``place.toml``.

    Attributes
    ----------
    folder
        The place's data folder.
    name, slug, la_code
        Display name, short id (used in column names such as ``outside_trafford``) and ONS GSS code.
    neighbourhood_term
        What the council calls its groups of wards.
    pilot_neighbourhood, pilot_description
        The place-based pilot neighbourhood pages default to (None for a place without neighbourhoods).
    centre, zoom
        Initial map view (lat, lon).
    layers, tables, config
        File names relative to ``folder`` (config: e.g. the classification rules and the roles file).
    attribution
        Attribution lines every map and export must show.
    """

    folder: Path
    name: str
    slug: str
    la_code: str
    neighbourhood_term: str
    pilot_neighbourhood: str | None
    pilot_description: str
    centre: tuple[float, float]
    zoom: int
    layers: dict[str, str] = field(hash=False, compare=False)
    tables: dict[str, str] = field(hash=False, compare=False)
    config: dict[str, str] = field(default_factory=dict, hash=False, compare=False)
    attribution: tuple[str, ...] = ()

    @property
    def outside_column(self) -> str:
        """Name of the tag column that is True for points outside the place, e.g. ``outside_trafford``."""
        return f"outside_{self.slug}"

    def path(self, kind: str, key: str) -> Path:
        """Return the path of ``key`` in ``kind`` (``"layers"``, ``"tables"`` or ``"config"``)."""
        names = {"layers": self.layers, "tables": self.tables, "config": self.config}[kind]
        try:
            path = self.folder / names[key]
        except KeyError:
            raise PlaceError(f"{self.folder / 'place.toml'} has no [{kind}] entry '{key}'") from None
        if not path.exists():
            raise PlaceError(f"{path} is missing (named by [{kind}] {key} in place.toml)")
        return path


def choose_place(slug: str | None) -> None:
    """Make ``slug`` the current place of this context: what :func:`load_place` gives without an argument.

    The app calls it at the start of every run of a session's script with the place that browser session chose,
    so one process serves several places at once without touching the process environment. A new thread starts
    with no choice (``ESTATES_PLACE`` then applies). ``None`` drops the choice.
    """
    _CHOSEN.set(slug or None)


def load_place(slug: str | None = None) -> Place:
    """Load a place by folder name under ``data/`` (default: the place chosen for this context
    (:func:`choose_place`), else ``$ESTATES_PLACE``, else ``trafford``).

    Parameters
    ----------
    slug
        Folder name under ``data/`` (tried first), or a path to a place folder (relative to the working directory).

    Returns
    -------
    Place
    """
    return _load_place(slug or _CHOSEN.get() or os.environ.get("ESTATES_PLACE") or _DEFAULT_PLACE)


def available_places(root: Path = DATA_DIR) -> tuple[Place, ...]:
    """Every place folder under ``root`` (a folder holding a ``place.toml``), sorted by name."""
    found = [_load_place(str(folder)) for folder in sorted(root.iterdir())
             if folder.is_dir() and (folder / "place.toml").exists()]
    return tuple(sorted(found, key=lambda p: p.name))


@lru_cache(maxsize=16)
def _load_place(slug: str) -> Place:
    # A folder name under data/ first ("stockport"), else a path ("data/stockport", "/srv/places/salford").
    under_data = DATA_DIR / slug
    folder = under_data if (under_data / "place.toml").exists() else Path(slug).expanduser().resolve()
    config_path = folder / "place.toml"
    if not config_path.exists():
        raise PlaceError(f"no place.toml in {folder}: unknown place '{slug}'")
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
        info = config["place"]
        return Place(
            folder=folder,
            name=info["name"],
            slug=info["slug"],
            la_code=info["la_code"],
            neighbourhood_term=info.get("neighbourhood_term", "neighbourhood"),
            pilot_neighbourhood=info.get("pilot_neighbourhood"),
            pilot_description=info.get("pilot_description", ""),
            centre=(float(info["centre"][0]), float(info["centre"][1])),
            zoom=int(info.get("zoom", 12)),
            layers=dict(config["layers"]),
            tables=dict(config["tables"]),
            config=dict(config.get("config", {})),
            attribution=tuple(config.get("attribution", {}).get("lines", ())),
        )
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as exc:
        raise PlaceError(f"{config_path} is malformed: {exc}") from None
