"""Optional online geocoding: postcodes.io for postcodes, Nominatim for addresses.

Off by default. The offline geocoder (:mod:`geo.geocoder`) runs first; this module only fills its gaps, and only
when :class:`OnlineSettings` ``enabled=True``:

1. rows whose ``geocode_precision`` is ``none``/``low`` and that carry a full-format postcode are looked up on
   postcodes.io in bulk (<= 100 per request); postcodes unknown there are checked on ``/terminated_postcodes``
   (a terminated postcode is located at its last centroid, ``low``, and flagged);
2. rows that still have no ``medium``/``high`` location but have address text are searched on Nominatim (at most
   one request per second, biased to the place's bounding box; results further than ``accept_within_km`` from it
   are rejected; :func:`nominatim_precision` grades a match, and an area-level one never replaces an offline
   ``low`` result).

Every answer (also "not found") is cached on disk for a while, so a query is not sent twice; failures and answers
with impossible coordinates keep the offline result and explain why in ``geocode_issue``. Transport, retries and
deadlines: :mod:`geo._http`. See ``docs/online_geocoding.md``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import numbers
import os
import re
import time
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote, urlencode, urlsplit

import numpy as np
import pandas as pd

from geo._geocache import GeoCache
from geo._http import CircuitBreaker, ServiceClient, ServiceUnavailable, rate_limiter_for
from geo.geocoder import GEOCODE_COLUMNS
from geo.place import Place, load_place
from geo.postcodes import PostcodeKind, normalise_postcode
from geo.projection import to_bng

__all__ = [
    "DEFAULT_CACHE_PATH",
    "ENV_PREFIX",
    "GEOCODE_COLUMNS",
    "METHOD_NOMINATIM",
    "METHOD_POSTCODES_IO",
    "METHOD_POSTCODES_IO_TERMINATED",
    "NOMINATIM_STRUCTURED_FIELDS",
    "OnlineGeocoder",
    "OnlineSettings",
    "OnlineSummary",
    "ProgressCallback",
    "fill_online",
    "fill_online_with_summary",
    "load_online_settings",
    "nominatim_precision",
    "online_settings_for_place",
]

_log = logging.getLogger(__name__)

#: Prefix of the environment variables read by :meth:`OnlineSettings.from_env`.
ENV_PREFIX = "ESTATES_ONLINE_"
#: Cache file used when ``OnlineSettings.cache_path`` is not set (``var/`` is git-ignored).
DEFAULT_CACHE_PATH = Path(__file__).resolve().parents[1] / "var" / "online_geocache.sqlite"
METHOD_POSTCODES_IO = "online_postcodes_io"
METHOD_POSTCODES_IO_TERMINATED = "online_postcodes_io_terminated"
METHOD_NOMINATIM = "online_nominatim"
#: Columns accepted when ``address`` is a DataFrame (Nominatim structured search).
NOMINATIM_STRUCTURED_FIELDS = ("amenity", "street", "city", "county", "state", "postalcode")

ProgressCallback = Callable[[int, int], None]
"""``progress(done, total)``: rows finished out of rows that need online help."""

_PUBLIC_NOMINATIM_HOST = "nominatim.openstreetmap.org"
_APP = "trafford-estates-mapper/1.0"
_POSTCODES_IO_MAX_BATCH = 100
_DAY_S = 86400.0

_MEDIUM_CATEGORIES = frozenset({"building", "amenity", "office", "shop", "craft", "healthcare", "tourism", "leisure",
                                "emergency", "historic", "club", "man_made", "railway", "public_transport"})
_HOUSE_TYPES = frozenset({"house", "building", "house_number"})
_STREET_CATEGORIES = frozenset({"highway"})
_STREET_TYPES = frozenset({"street", "road"})

_TRUE = frozenset({"1", "true", "yes", "on", "y"})
_FALSE = frozenset({"0", "false", "no", "off", "n", ""})


# =========================================================================== settings
@dataclass(frozen=True, kw_only=True)
class OnlineSettings:
    """How (and whether) to geocode online. Immutable; use :meth:`replace`.

    Every field is checked and converted on construction (``"2.5"`` -> 2.5, ``"yes"`` -> True,
    ``"min_lon,min_lat,max_lon,max_lat"`` -> a tuple); numbers must be finite. A bad value raises ``ValueError``
    naming the field.

    Parameters
    ----------
    enabled : bool
        Master switch, ``False`` by default: nothing leaves the machine.
    use_postcodes_io, use_nominatim : bool
        Per-service switches (e.g. allow postcodes but never send addresses).
    postcodes_io_url, nominatim_url : str
        Base URLs (a council's own postcodes.io instance, a Nominatim mirror). No request leaves their host: a
        redirect to another host is refused.
    contact : str
        Contact (e-mail or URL) put in the User-Agent, as the Nominatim usage policy asks.
    user_agent : str or None
        Full User-Agent override; ``None`` builds one from the app name and ``contact``.
    timeout_s : float
        Hard limit for one HTTP attempt: connect + headers + whole body, seconds.
    max_retries : int
        Retries after the first attempt (timeouts, connection errors, 429, 5xx, malformed/non-JSON answers).
    backoff : float
        urllib3 backoff factor: the n-th consecutive retry waits ``backoff * 2**(n-1)`` s (the first at once),
        at most ``max_backoff_s``; a ``Retry-After`` replaces it.
    max_backoff_s : float
        Ceiling of one backoff delay.
    max_retry_after_s : float
        Longest ``Retry-After`` honoured (429, 503, any status); a longer one fails the request at once.
    run_deadline_s : float
        Deadline of a whole run (one :class:`OnlineGeocoder`, e.g. one register): no attempt runs past it, the
        rows left keep their offline result.
    nominatim_min_interval_s : float
        Minimum gap between Nominatim requests, retries included (process-wide per host); >= 1 for the public
        server (its usage policy).
    circuit_breaker_failures : int
        Consecutive failed attempts after which a service is not called again in this run.
    cache_path : pathlib.Path or None
        SQLite answer cache; ``None`` uses :data:`DEFAULT_CACHE_PATH`.
    cache_max_age_days, negative_cache_max_age_days : float
        How long a cached answer is used: a found place, and a "not found" (sooner: new postcodes and new OSM
        objects appear).
    refresh : bool
        Ignore cached answers (still store the new ones).
    place_name : str
        Place name for messages ("Trafford").
    place_bbox : tuple of float or None
        ``(min_lon, min_lat, max_lon, max_lat)``: Nominatim ``viewbox`` bias and the acceptance check.
    accept_within_km : float
        Nominatim results further than this from ``place_bbox`` are rejected.
    postcodes_io_batch_size : int
        Postcodes per bulk request (1-100).
    trust_env : bool
        Let requests use proxy settings / .netrc from the environment.
    """

    enabled: bool = False
    use_postcodes_io: bool = True
    use_nominatim: bool = True
    postcodes_io_url: str = "https://api.postcodes.io"
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    contact: str = ""
    user_agent: str | None = None
    timeout_s: float = 10.0
    max_retries: int = 3
    backoff: float = 0.5
    max_backoff_s: float = 30.0
    max_retry_after_s: float = 120.0
    run_deadline_s: float = 1800.0
    nominatim_min_interval_s: float = 1.0
    circuit_breaker_failures: int = 5
    cache_path: Path | None = None
    cache_max_age_days: float = 365.0
    negative_cache_max_age_days: float = 30.0
    refresh: bool = False
    place_name: str = ""
    place_bbox: tuple[float, float, float, float] | None = None
    accept_within_km: float = 5.0
    postcodes_io_batch_size: int = 100
    trust_env: bool = True

    def __post_init__(self) -> None:
        for name, (kind, optional) in _field_kinds().items():
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, _convert(value, kind, optional))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"online geocoding setting {name}={value!r}: {exc}") from None
        if self.place_bbox is not None:
            if len(self.place_bbox) != 4:
                raise ValueError("place_bbox must be (min_lon, min_lat, max_lon, max_lat)")
            min_lon, min_lat, max_lon, max_lat = self.place_bbox
            if not (-180 <= min_lon < max_lon <= 180 and -90 <= min_lat < max_lat <= 90):
                raise ValueError(f"place_bbox {self.place_bbox} is not (min_lon, min_lat, max_lon, max_lat)")
        for name in ("postcodes_io_url", "nominatim_url"):
            parts = urlsplit(url := getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
            object.__setattr__(self, name, url.rstrip("/"))
        for name in ("timeout_s", "run_deadline_s", "circuit_breaker_failures"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0")
        for name in ("max_retries", "backoff", "max_backoff_s", "max_retry_after_s", "nominatim_min_interval_s",
                     "accept_within_km", "cache_max_age_days", "negative_cache_max_age_days"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0")
        if not 1 <= self.postcodes_io_batch_size <= _POSTCODES_IO_MAX_BATCH:
            raise ValueError(f"postcodes_io_batch_size must be 1..{_POSTCODES_IO_MAX_BATCH}")
        host = (urlsplit(self.nominatim_url).hostname or "").lower()
        if host == _PUBLIC_NOMINATIM_HOST and self.nominatim_min_interval_s < 1.0:
            raise ValueError("the public Nominatim server allows at most 1 request per second "
                             "(nominatim_min_interval_s must be >= 1.0)")

    @property
    def effective_user_agent(self) -> str:
        """The User-Agent sent with every request."""
        if self.user_agent:
            return self.user_agent
        contact = self.contact.strip() or "contact not configured"
        return f"{_APP} (Trafford estates & neighbourhood mapping tool; contact: {contact})"

    @property
    def effective_cache_path(self) -> Path:
        """The cache file actually used."""
        return self.cache_path if self.cache_path is not None else DEFAULT_CACHE_PATH

    def replace(self, **changes: Any) -> OnlineSettings:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def for_place(self, place: Place) -> OnlineSettings:
        """A copy biased to ``place``: its name for messages and its bounding box for Nominatim.

        A ``place_bbox`` already set (e.g. from ``ESTATES_ONLINE_PLACE_BBOX``) is kept.
        """
        from geo.boundaries import boundary

        bbox = self.place_bbox
        if bbox is None:
            west, south, east, north = (float(v) for v in boundary(place).total_bounds)
            bbox = (west, south, east, north)
        return self.replace(place_name=self.place_name or place.name, place_bbox=bbox)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any]) -> Self:
        """Build settings from a dict (e.g. a config file section); ``ValueError`` on an unknown key or bad value."""
        return cls(**_known(mapping, "setting"))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, *, prefix: str = ENV_PREFIX) -> Self:
        """Build settings from environment variables ``<prefix><FIELD>`` (default :data:`os.environ`).

        e.g. ``ESTATES_ONLINE_ENABLED=1``, ``ESTATES_ONLINE_NOMINATIM_URL=https://nominatim.council.example``.
        """
        return cls(**_env_fields(environ, prefix))


@functools.cache
def _field_kinds() -> dict[str, tuple[type, bool]]:
    """``{field: (type, optional)}`` of :class:`OnlineSettings`, from its resolved type hints."""
    kinds: dict[str, tuple[type, bool]] = {}
    for name, hint in typing.get_type_hints(OnlineSettings).items():
        args = typing.get_args(hint)
        optional = type(None) in args
        base = next(a for a in args if a is not type(None)) if optional else hint
        kinds[name] = (typing.get_origin(base) or base, optional)
    return kinds


def _convert(value: Any, kind: type, optional: bool) -> Any:
    """``value`` (a string from the environment or config, or already typed) as ``kind``; numbers finite."""
    text = value.strip() if isinstance(value, str) else None
    if optional and (value is None or text == ""):
        return None
    if kind is bool:
        if isinstance(value, bool):
            return value
        if text is not None and text.lower() in _TRUE | _FALSE:
            return text.lower() in _TRUE
        raise ValueError("expected a yes/no value")
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        number = float(text if text is not None else value)
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        if kind is float:
            return number
        if text is not None:
            return int(text)  # "2.5" is refused
        if not number.is_integer():
            raise ValueError("expected a whole number")
        return int(number)
    if kind is tuple:
        parts = [p for p in re.split(r"[,\s]+", text) if p] if text is not None else list(value)
        return tuple(_convert(p, float, False) for p in parts)
    if kind is Path:
        return Path(value).expanduser()
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _known(mapping: Mapping[str, Any], source: str) -> dict[str, Any]:
    unknown = sorted(set(mapping) - {f.name for f in dataclasses.fields(OnlineSettings)})
    if unknown:
        raise ValueError(f"unknown online geocoding {source}: {', '.join(unknown)}")
    return dict(mapping)


def _env_fields(environ: Mapping[str, str] | None, prefix: str) -> dict[str, Any]:
    env = os.environ if environ is None else environ
    kinds = _field_kinds()
    found: dict[str, Any] = {}
    for name, (kind, optional) in kinds.items():
        if (variable := prefix + name.upper()) in env:
            try:
                found[name] = _convert(env[variable], kind, optional)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"online geocoding setting {name}={env[variable]!r} (from {variable}): {exc}",
                                 ) from None
    return found


def load_online_settings(mapping: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
                         prefix: str = ENV_PREFIX, **overrides: Any) -> OnlineSettings:
    """Settings from defaults < ``mapping`` (config) < environment < ``overrides`` (CLI).

    Parameters
    ----------
    mapping : mapping, optional
        Config values (field names), e.g. an ``[online]`` section of a TOML file.
    environ : mapping, optional
        Environment to read ``<prefix><FIELD>`` from (default :data:`os.environ`).
    prefix : str
        Environment variable prefix.
    **overrides
        Final values, e.g. ``enabled=args.online, refresh=args.refresh``; ``None`` is ignored (flag not given).

    Returns
    -------
    OnlineSettings

    Raises
    ------
    ValueError
        On an unknown key or a value that is not of the field's type (one line naming the field).
    """
    values = _known(mapping or {}, "setting")
    values.update(_env_fields(environ, prefix))
    values.update(_known({k: v for k, v in overrides.items() if v is not None}, "option"))
    return OnlineSettings(**values)


# =========================================================================== summary
@dataclass
class OnlineSummary:
    """What one online run did (for the CLI / app to show).

    Attributes
    ----------
    enabled : bool
        False when online geocoding was off (nothing else happened).
    rows, rows_considered : int
        Rows in the frame; rows that needed online help.
    postcodes_unique, postcodes_cached, postcodes_sent : int
        Distinct postcodes to look up; answered from the cache; sent to postcodes.io.
    terminated_cached, terminated_sent : int
        Terminated-postcode checks answered from the cache / sent.
    addresses_unique, addresses_cached, addresses_sent : int
        Distinct address queries; from the cache; sent to Nominatim.
    http_requests : int
        HTTP attempts made (retries included).
    located : dict
        Rows located online, by ``geocode_method``.
    rows_failed : int
        Rows where a service failed (offline result kept).
    rows_not_found : int
        Rows the services answered "not found" for.
    rows_rejected : int
        Rows whose Nominatim match was too far from the place.
    messages : list of str
        Run-level notes (circuit breaker opened, placeholder contact, ...).
    elapsed_s : float
        Wall time.
    """

    enabled: bool = False
    rows: int = 0
    rows_considered: int = 0
    postcodes_unique: int = 0
    postcodes_cached: int = 0
    postcodes_sent: int = 0
    terminated_cached: int = 0
    terminated_sent: int = 0
    addresses_unique: int = 0
    addresses_cached: int = 0
    addresses_sent: int = 0
    http_requests: int = 0
    located: dict[str, int] = field(default_factory=dict)
    rows_failed: int = 0
    rows_not_found: int = 0
    rows_rejected: int = 0
    messages: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    @classmethod
    def combine(cls, summaries: Iterable[OnlineSummary]) -> OnlineSummary:
        """One summary for several runs (e.g. every register of a pipeline): counts added, notes once each."""
        total = cls()
        for part in summaries:
            total.enabled = total.enabled or part.enabled
            for item in dataclasses.fields(cls):
                value = getattr(part, item.name)
                if item.name == "located":
                    for method, count in value.items():
                        total.located[method] = total.located.get(method, 0) + count
                elif item.name == "messages":
                    total.messages.extend(m for m in value if m not in total.messages)
                elif item.name != "enabled":
                    setattr(total, item.name, getattr(total, item.name) + value)
        return total

    @property
    def rows_located(self) -> int:
        """Rows located online (all methods)."""
        return sum(self.located.values())

    def lines(self) -> list[str]:
        """Human-readable summary, one line per item."""
        if not self.enabled:
            return ["online geocoding: off (enable with --online)"]
        out = [
            f"online geocoding: {self.rows_considered} of {self.rows} rows needed it, "
            f"{self.rows_located} located online in {self.elapsed_s:.1f} s",
            f"  postcodes.io: {self.postcodes_unique} postcodes ({self.postcodes_cached} cached, "
            f"{self.postcodes_sent} sent), terminated checks {self.terminated_cached} cached / "
            f"{self.terminated_sent} sent",
            f"  Nominatim: {self.addresses_unique} addresses ({self.addresses_cached} cached, "
            f"{self.addresses_sent} sent)",
            f"  HTTP requests: {self.http_requests}",
        ]
        for method, count in sorted(self.located.items()):
            out.append(f"  located by {method}: {count}")
        if self.rows_not_found:
            out.append(f"  not found: {self.rows_not_found} rows")
        if self.rows_rejected:
            out.append(f"  rejected (too far from the place): {self.rows_rejected} rows")
        if self.rows_failed:
            out.append(f"  failed (offline result kept): {self.rows_failed} rows")
        out.extend(f"  note: {m}" for m in self.messages)
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ========================================================================== helpers
def _full_postcode(value: object) -> str | None:
    """``"M33 7ZZ"`` for a full-format postcode, else ``None``."""
    if value is pd.NA:
        return None
    normalised, kind = normalise_postcode(value)
    return normalised if kind == PostcodeKind.FULL else None


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _precision(value: object) -> str:
    text = _text(value).lower()
    return text if text in ("high", "medium", "low") else "none"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def nominatim_precision(answer: Mapping[str, Any]) -> tuple[str, str]:
    """Precision and level of a Nominatim match.

    Parameters
    ----------
    answer : mapping
        One jsonv2 search result (``category`` or ``class``, ``type``,
        ``addresstype``).

    Returns
    -------
    (precision, level)
        ``("medium", "address")`` for building/house-level objects,
        ``("low", "street")`` for streets, ``("low", "area")`` otherwise.

    Examples
    --------
    >>> nominatim_precision({"category": "amenity", "type": "library"})
    ('medium', 'address')
    >>> nominatim_precision({"category": "highway", "type": "residential"})
    ('low', 'street')
    >>> nominatim_precision({"category": "place", "type": "suburb"})
    ('low', 'area')
    """
    category = str(answer.get("category") or answer.get("class") or "").lower()
    kind = str(answer.get("type") or "").lower()
    addresstype = str(answer.get("addresstype") or "").lower()
    if category in _MEDIUM_CATEGORIES or kind in _HOUSE_TYPES or addresstype in _HOUSE_TYPES:
        return "medium", "address"
    if category in _STREET_CATEGORIES or kind in _STREET_TYPES or addresstype in _STREET_TYPES:
        return "low", "street"
    return "low", "area"


def _km_outside_bbox(lon: float, lat: float, bbox: tuple[float, float, float, float]) -> float:
    """Distance (km) from a point to a lon/lat box; 0 inside (equirectangular, fine at city scale)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    dlon = max(min_lon - lon, 0.0, lon - max_lon)
    dlat = max(min_lat - lat, 0.0, lat - max_lat)
    km_per_deg_lat = 110.574
    km_per_deg_lon = 111.320 * math.cos(math.radians(min(max(lat, min_lat), max_lat)))
    return math.hypot(dlon * km_per_deg_lon, dlat * km_per_deg_lat)


def _aligned(series: pd.Series | pd.DataFrame, frame: pd.DataFrame, name: str) -> Any:
    if series.index.equals(frame.index):
        return series
    if (
        len(series) == len(frame)
        and frame.index.is_unique
        and series.index.is_unique
        and set(series.index) == set(frame.index)
    ):
        return series.reindex(frame.index)
    raise ValueError(f"{name} must have the same index as frame")


#: Fields of a postcodes.io ``/postcodes`` result kept in the cache.
_POSTCODE_FIELDS = ("postcode", "longitude", "latitude", "eastings", "northings", "admin_district", "admin_ward",
                    "lsoa", "codes")
#: Fields of a postcodes.io ``/terminated_postcodes`` result kept in the cache.
_TERMINATED_FIELDS = ("postcode", "year_terminated", "month_terminated", "longitude", "latitude", "eastings",
                      "northings")
#: Fields of a Nominatim jsonv2 search result kept in the cache.
_NOMINATIM_FIELDS = ("lat", "lon", "category", "class", "type", "addresstype", "place_rank", "display_name")
#: Valid range of each coordinate an answer may carry (British National Grid for eastings/northings).
_COORDINATE_RANGES = {"longitude": (-180, 180), "latitude": (-90, 90), "lon": (-180, 180), "lat": (-90, 90),
                      "eastings": (0, 800_000), "northings": (0, 1_400_000)}


def _usable(service: str, query: str, result: Mapping[str, Any], fields: Iterable[str]) -> Any:
    """What the cache keeps of a service's answer (those of ``fields`` it has), or why it cannot be used.

    Parameters
    ----------
    service, query : str
        Service name and query, for the message.
    result : mapping
        One result object from postcodes.io or Nominatim.
    fields : iterable of str
        The fields to keep (:data:`_POSTCODE_FIELDS`, :data:`_TERMINATED_FIELDS`, :data:`_NOMINATIM_FIELDS`).

    Returns
    -------
    dict or ServiceUnavailable
        The kept fields in ``fields`` order (a field the answer lacks is left out); a :class:`ServiceUnavailable`
        (a failed lookup, never cached) when a coordinate is not a finite number in its range, e.g. longitude 1e308.
    """
    kept = {k: result.get(k) for k in fields if k in result}
    if (bad := _bad_coordinate(kept)) is not None:
        return ServiceUnavailable(f"online geocoding failed ({service} answered {bad[0]} {bad[1]!r} for '{query}', "
                                  "not a valid coordinate; answer not used)")
    return kept


def _bad_coordinate(answer: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The first coordinate field of ``answer`` that is not a finite number in its range, with its value."""
    for key, (low, high) in _COORDINATE_RANGES.items():
        value = answer.get(key)
        if value is not None and not ((number := _number(value)) is not None and low <= number <= high):
            return key, value
    return None


def _validate_bulk(batch: list[str]) -> Callable[[Any], None]:
    def check(data: Any) -> None:
        if not isinstance(data, dict) or not isinstance(data.get("result"), list):
            raise ValueError("no 'result' list")
        seen = set()
        for item in data["result"]:
            if not isinstance(item, dict) or "query" not in item:
                raise ValueError("result item without 'query'")
            if item.get("result") is not None and not isinstance(item["result"], dict):
                raise ValueError("result item is not an object or null")
            seen.add(_full_postcode(item["query"]))
        if missing := [pc for pc in batch if pc not in seen]:
            raise ValueError(f"no answer for {len(missing)} postcodes")

    return check


def _validate_terminated(data: Any) -> None:
    if not isinstance(data, dict) or not isinstance(data.get("result"), dict):
        raise ValueError("no 'result' object")


def _validate_search(data: Any) -> None:
    if not isinstance(data, list):
        raise ValueError("search answer is not a list")
    if data and not isinstance(data[0], dict):
        raise ValueError("search result is not an object")
    if data and ("lat" not in data[0] or "lon" not in data[0]):
        raise ValueError("search result without lat/lon")  # (their values are checked by _usable)


def _column_like(values: list[Any], original: pd.Series | None, index: pd.Index) -> pd.Series:
    """Series of ``values`` keeping the original column's dtype where possible."""
    if original is None:
        return pd.Series(values, index=index, dtype=str)
    dtype = original.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = list(dtype.categories)
        cats += [v for v in dict.fromkeys(values) if v is not None and v not in set(cats)]
        return pd.Series(pd.Categorical(values, categories=cats), index=index)
    try:
        return pd.Series(values, index=index, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values, index=index)


# ======================================================================== geocoder
_NOT_FOUND, _REJECTED, _FAILED = 1, 2, 3  # why a row kept its offline result; the worst one counts


@dataclass
class _Rows:
    """Mutable per-row geocode state while a run is in progress."""

    postcode_normalised: list[str]
    lon: np.ndarray
    lat: np.ndarray
    easting: np.ndarray
    northing: np.ndarray
    method: list[str]
    precision: list[str]
    offline_issue: list[str]
    notes: list[list[str]]
    online: np.ndarray  # located online
    outcome: np.ndarray  # 0, or _NOT_FOUND / _REJECTED / _FAILED

    def keep_offline(self, i: int, note: str, outcome: int = 0) -> None:
        """Row ``i`` keeps its offline result, saying why (``outcome`` counts it in the summary)."""
        self.notes[i].append(note)
        self.outcome[i] = max(self.outcome[i], outcome)


Answer = dict[str, Any] | None | ServiceUnavailable
"""One lookup's outcome: the (trimmed) answer, ``None`` for "not found", or why it failed."""


class OnlineGeocoder:
    """Online lookups for one run; owns the HTTP sessions, the cache connection and the run's deadline.

    Parameters
    ----------
    settings : OnlineSettings
        Configuration. Nothing is opened when ``settings.enabled`` is False.

    Notes
    -----
    Use one instance per thread and run (``with OnlineGeocoder(s) as g: ...``); the run's deadline
    (``settings.run_deadline_s``) starts here. The Nominatim rate limit is shared by every instance in the process.
    """

    def __init__(self, settings: OnlineSettings) -> None:
        self.settings = settings
        self._cache: GeoCache | None = None
        self.breakers = {name: CircuitBreaker(name, settings.circuit_breaker_failures)
                         for name in ("postcodes.io", "Nominatim")}
        self._clients: dict[str, ServiceClient] = {}
        if not settings.enabled:
            return
        self._cache = GeoCache(settings.effective_cache_path)
        deadline = time.monotonic() + settings.run_deadline_s
        for name, url in (("postcodes.io", settings.postcodes_io_url), ("Nominatim", settings.nominatim_url)):
            spaced = name == "Nominatim"
            self._clients[name] = ServiceClient(
                name=name, user_agent=settings.effective_user_agent, timeout_s=settings.timeout_s,
                max_retries=settings.max_retries, backoff_s=settings.backoff, max_backoff_s=settings.max_backoff_s,
                max_retry_after_s=settings.max_retry_after_s, deadline=deadline,
                run_deadline_s=settings.run_deadline_s, breaker=self.breakers[name],
                limiter=rate_limiter_for(url) if spaced else None,
                min_interval_s=settings.nominatim_min_interval_s if spaced else 0.0, trust_env=settings.trust_env)

    # ---------------------------------------------------------------- lifecycle
    def close(self) -> None:
        """Close the cache and the HTTP sessions."""
        if self._cache is not None:
            self._cache.close()
            self._cache = None
        for client in self._clients.values():
            client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def http_requests(self) -> int:
        """HTTP attempts made so far by this instance."""
        return sum(client.attempts for client in self._clients.values())

    # ------------------------------------------------------------ raw lookups
    def _require_enabled(self) -> GeoCache:
        if not self.settings.enabled or self._cache is None:
            raise RuntimeError("online geocoding is disabled (OnlineSettings.enabled=False)")
        return self._cache

    def _cached(self, service: str, keys: list[str]) -> dict[str, Any]:
        """Cached answers still fresh for ``keys`` (none with ``refresh``; one with impossible coordinates, stored by
        an older version, is asked again)."""
        if self.settings.refresh:
            return {}
        hits = self._require_enabled().get_many(
            service, keys, max_age_s=self.settings.cache_max_age_days * _DAY_S,
            negative_max_age_s=self.settings.negative_cache_max_age_days * _DAY_S)
        return {k: v for k, v in hits.items() if not isinstance(v, dict) or _bad_coordinate(v) is None}

    def lookup_postcodes(self, postcodes: Iterable[str], *, summary: OnlineSummary | None = None,
                         ) -> dict[str, Answer]:
        """Look up full postcodes on postcodes.io (cache first, bulk <= 100).

        Parameters
        ----------
        postcodes : iterable of str
            Full postcodes in any spelling; others are ignored.
        summary : OnlineSummary, optional
            Counters to update.

        Returns
        -------
        dict
            ``{normalised postcode: result dict | None (unknown) | ServiceUnavailable}``.
        """
        results: dict[str, Answer] = {}
        for batch_results in self._iter_postcode_batches(postcodes, summary):
            results.update(batch_results)
        return results

    def _iter_postcode_batches(self, postcodes: Iterable[str], summary: OnlineSummary | None,
                               ) -> Iterator[dict[str, Answer]]:
        cache = self._require_enabled()
        summary = summary if summary is not None else OnlineSummary()
        unique = [pc for pc in dict.fromkeys(_full_postcode(p) for p in postcodes) if pc]
        cached = self._cached("postcodes_io", unique)
        summary.postcodes_unique += len(unique)
        summary.postcodes_cached += len(cached)
        if cached:
            yield dict(cached)
        to_send = [pc for pc in unique if pc not in cached]
        size = self.settings.postcodes_io_batch_size
        for start in range(0, len(to_send), size):
            batch = to_send[start : start + size]
            if not self.breakers["postcodes.io"].is_open:
                summary.postcodes_sent += len(batch)
            try:
                response = self._clients["postcodes.io"].request_json(
                    "POST", f"{self.settings.postcodes_io_url}/postcodes", json_body={"postcodes": batch},
                    validate=_validate_bulk(batch))
            except ServiceUnavailable as exc:
                yield dict.fromkeys(batch, exc)
                continue
            by_query = {_full_postcode(item["query"]): item.get("result") for item in response.data["result"]}
            answers: dict[str, Answer] = {
                pc: _usable("postcodes.io", pc, by_query[pc], _POSTCODE_FIELDS) if by_query[pc] else None
                for pc in batch}
            cache.put_many("postcodes_io", {k: v for k, v in answers.items() if not isinstance(v, Exception)})
            yield answers

    def lookup_terminated(self, postcode: str, *, summary: OnlineSummary | None = None) -> Answer:
        """Check one postcode on ``/terminated_postcodes``.

        Returns
        -------
        dict, None or ServiceUnavailable
            The termination record, ``None`` when not a terminated postcode (HTTP 404), or the failure.
        """
        summary = summary if summary is not None else OnlineSummary()
        if (pc := _full_postcode(postcode)) is None:
            return None
        if pc in (hit := self._cached("postcodes_io_terminated", [pc])):
            summary.terminated_cached += 1
            return hit[pc]
        if not self.breakers["postcodes.io"].is_open:
            summary.terminated_sent += 1
        try:
            response = self._clients["postcodes.io"].request_json(
                "GET", f"{self.settings.postcodes_io_url}/terminated_postcodes/{quote(pc)}", accept_status=(200, 404),
                validate=_validate_terminated)
        except ServiceUnavailable as exc:
            return exc
        if response.status != 200:
            answer = None
        elif isinstance(answer := _usable("postcodes.io", pc, response.data["result"], _TERMINATED_FIELDS),
                        ServiceUnavailable):
            return answer
        self._require_enabled().put_many("postcodes_io_terminated", {pc: answer})
        return answer

    def _search_params(self, query: Mapping[str, str]) -> tuple[dict[str, str], str]:
        params = {"format": "jsonv2", "countrycodes": "gb", "limit": "1", "addressdetails": "0", **query}
        key_parts = {k: v.casefold() for k, v in query.items()}
        key_parts["countrycodes"] = "gb"
        if (bbox := self.settings.place_bbox) is not None:
            viewbox = ",".join(f"{v:.6f}" for v in bbox)
            params["viewbox"] = key_parts["viewbox"] = viewbox  # bias only: no bounded=1, near-border still works
        return params, urlencode(sorted(key_parts.items()))

    def search_address(self, query: Mapping[str, str] | str, *, summary: OnlineSummary | None = None) -> Answer:
        """Search one address on Nominatim (cache first; rate limited).

        Parameters
        ----------
        query : str or mapping
            Free text (sent as ``q``) or structured fields (:data:`NOMINATIM_STRUCTURED_FIELDS`).

        Returns
        -------
        dict, None or ServiceUnavailable
            The first result (trimmed jsonv2 object), ``None`` when nothing was found, or the failure.
        """
        summary = summary if summary is not None else OnlineSummary()
        fields = {"q": _text(query)} if isinstance(query, str) else {k: _text(v) for k, v in query.items() if _text(v)}
        if not any(fields.values()):
            return None
        params, key = self._search_params(fields)
        if key in (hit := self._cached("nominatim", [key])):
            summary.addresses_cached += 1
            return hit[key]
        if not self.breakers["Nominatim"].is_open:
            summary.addresses_sent += 1
        try:
            response = self._clients["Nominatim"].request_json(
                "GET", f"{self.settings.nominatim_url}/search", params=params, validate=_validate_search)
        except ServiceUnavailable as exc:
            return exc
        shown = fields.get("q") or ", ".join(fields.values())
        answer = _usable("Nominatim", shown, response.data[0], _NOMINATIM_FIELDS) if response.data else None
        if not isinstance(answer, ServiceUnavailable):
            self._require_enabled().put_many("nominatim", {key: answer})
        return answer

    # ------------------------------------------------------------------ table
    def fill(self, frame: pd.DataFrame, *, postcode: pd.Series | None = None,
             address: pd.Series | pd.DataFrame | None = None, progress: ProgressCallback | None = None,
             ) -> tuple[pd.DataFrame, OnlineSummary]:
        """Fill the gaps of an offline-geocoded frame. See :func:`fill_online`."""
        started = time.monotonic()
        out = frame.copy()
        summary = OnlineSummary(enabled=self.settings.enabled, rows=len(out))
        if not self.settings.enabled:
            return out, summary
        self._warn_placeholder_contact(summary)
        requests_before = self.http_requests
        rows = self._read_rows(out)
        n = len(out)

        postcodes = self._row_postcodes(out, postcode)
        queries = self._row_queries(out, address)
        eligible = [rows.precision[i] in ("none", "low") for i in range(n)]
        pc_rows = [i for i in range(n) if eligible[i] and postcodes[i] and self.settings.use_postcodes_io]
        addr_possible = {i for i in range(n) if eligible[i] and queries[i] and self.settings.use_nominatim}
        considered = sorted(set(pc_rows) | addr_possible)
        summary.rows_considered = len(considered)
        tracker = _Progress(len(considered), progress)

        def wants_address(i: int) -> bool:
            return i in addr_possible and rows.precision[i] in ("none", "low")

        # ---- phase 1: postcodes.io
        rows_by_pc: dict[str, list[int]] = {}
        for i in pc_rows:
            rows_by_pc.setdefault(postcodes[i], []).append(i)
        if rows_by_pc:
            for answers in self._iter_postcode_batches(list(rows_by_pc), summary):
                for pc, answer in answers.items():
                    if answer is None:
                        answer = self._terminated_or_none(pc, summary)
                    for i in rows_by_pc[pc]:
                        self._apply_postcode(rows, i, pc, answer)
                    tracker.finish(r for r in rows_by_pc[pc] if not wants_address(r))

        # ---- phase 2: Nominatim
        rows_by_query: dict[tuple[tuple[str, str], ...], list[int]] = {}
        for i in considered:
            if wants_address(i):
                key = tuple(sorted(queries[i].items()))  # type: ignore[union-attr]
                rows_by_query.setdefault(key, []).append(i)
            else:
                tracker.finish([i])
        summary.addresses_unique = len(rows_by_query)
        for key, idx in rows_by_query.items():
            query = dict(key)
            answer = self.search_address(query, summary=summary)
            for i in idx:
                self._apply_nominatim(rows, i, query, answer)
            tracker.finish(idx)

        tracker.finish(considered)
        self._write_rows(out, rows)
        summary.http_requests = self.http_requests - requests_before
        for name, breaker in self.breakers.items():
            if breaker.is_open:
                summary.messages.append(f"{name} circuit breaker opened ({breaker.consecutive_failures} failures, "
                                        f"last: {breaker.last_reason}); no more requests were sent this run")
        if any(client.out_of_time for client in self._clients.values()):
            summary.messages.append(f"the run's deadline of {self.settings.run_deadline_s:g} s passed; no more "
                                    "requests were sent and the rows left kept their offline result")
        for i in np.flatnonzero(rows.online):
            summary.located[rows.method[i]] = summary.located.get(rows.method[i], 0) + 1
        kept = rows.outcome[~rows.online]
        summary.rows_failed, summary.rows_rejected, summary.rows_not_found = (
            int(np.count_nonzero(kept == outcome)) for outcome in (_FAILED, _REJECTED, _NOT_FOUND))
        summary.elapsed_s = time.monotonic() - started
        return out, summary

    # ------------------------------------------------------------- internals
    def _warn_placeholder_contact(self, summary: OnlineSummary) -> None:
        settings = self.settings
        host = (urlsplit(settings.nominatim_url).hostname or "").lower()
        if settings.use_nominatim and host == _PUBLIC_NOMINATIM_HOST and not (settings.user_agent or
                                                                              settings.contact.strip()):
            message = (f"no contact configured for the public Nominatim server; set {ENV_PREFIX}CONTACT (its usage "
                       "policy asks for an identifying User-Agent)")
            _log.warning(message)
            summary.messages.append(message)

    def _terminated_or_none(self, pc: str, summary: OnlineSummary) -> Any:
        terminated = self.lookup_terminated(pc, summary=summary)
        if isinstance(terminated, ServiceUnavailable):
            return terminated
        return {"_terminated": terminated} if terminated else {"_not_found": True}

    @staticmethod
    def _read_rows(out: pd.DataFrame) -> _Rows:
        n = len(out)

        def text_col(name: str, default: str) -> list[str]:
            if name not in out:
                return [default] * n
            return [_text(v) or default for v in out[name].tolist()]

        def num_col(name: str) -> np.ndarray:
            if name not in out:
                return np.full(n, np.nan)
            return pd.to_numeric(out[name], errors="coerce").to_numpy(dtype=float, copy=True)

        precision = [_precision(v) for v in out["geocode_precision"].tolist()] if "geocode_precision" in out else (
            ["none"] * n)
        return _Rows(postcode_normalised=text_col("postcode_normalised", ""), lon=num_col("lon"), lat=num_col("lat"),
                     easting=num_col("easting"), northing=num_col("northing"),
                     method=text_col("geocode_method", "none"), precision=precision,
                     offline_issue=text_col("geocode_issue", ""), notes=[[] for _ in range(n)],
                     online=np.zeros(n, dtype=bool), outcome=np.zeros(n, dtype=np.int8))

    @staticmethod
    def _row_postcodes(out: pd.DataFrame, postcode: pd.Series | None) -> list[str | None]:
        n = len(out)
        from_frame = [_full_postcode(v) for v in out["postcode_normalised"].tolist()] if (
            "postcode_normalised" in out) else [None] * n
        if postcode is None:
            return from_frame
        raw = _aligned(postcode, out, "postcode").tolist()
        return [from_frame[i] or _full_postcode(raw[i]) for i in range(n)]

    @staticmethod
    def _row_queries(out: pd.DataFrame, address: pd.Series | pd.DataFrame | None) -> list[dict[str, str] | None]:
        n = len(out)
        if address is None:
            return [None] * n
        aligned = _aligned(address, out, "address")
        if isinstance(aligned, pd.DataFrame):
            unknown = sorted(set(map(str, aligned.columns)) - set(NOMINATIM_STRUCTURED_FIELDS))
            if unknown:
                raise ValueError(f"address columns must be among {NOMINATIM_STRUCTURED_FIELDS}, got {unknown}")
            return [{str(k): _text(v) for k, v in record.items() if _text(v)} or None
                    for record in aligned.to_dict(orient="records")]
        return [{"q": t} if (t := _text(v)) else None for v in aligned.tolist()]

    def _apply_postcode(self, rows: _Rows, i: int, pc: str, answer: Any) -> None:
        if isinstance(answer, ServiceUnavailable):
            rows.keep_offline(i, answer.message, _FAILED)
            return
        if "_not_found" in answer:
            rows.keep_offline(i, f"postcode {pc} not found on postcodes.io (neither live nor terminated)",
                              _NOT_FOUND)
            return
        terminated = answer.get("_terminated")
        record = terminated if terminated is not None else answer
        lon, lat = _number(record.get("longitude")), _number(record.get("latitude"))
        if lon is None or lat is None:
            rows.keep_offline(i, f"postcode {pc} is known to postcodes.io but has no coordinates")
            return
        rows.lon[i], rows.lat[i] = lon, lat
        east, north = _number(record.get("eastings")), _number(record.get("northings"))
        rows.easting[i] = east if east is not None else np.nan
        rows.northing[i] = north if north is not None else np.nan
        rows.postcode_normalised[i] = _full_postcode(record.get("postcode")) or pc
        rows.online[i] = True
        if terminated is not None:
            year, month = terminated.get("year_terminated"), terminated.get("month_terminated")
            when = f"{int(year)}-{int(month):02d}" if year and month else "the past"
            rows.method[i] = METHOD_POSTCODES_IO_TERMINATED
            rows.precision[i] = "low"
            rows.notes[i].append(f"postcode {pc} terminated in {when}; located at its last centroid")
        else:
            rows.method[i] = METHOD_POSTCODES_IO
            rows.precision[i] = "medium"

    def _apply_nominatim(self, rows: _Rows, i: int, query: Mapping[str, str], answer: Answer) -> None:
        shown = query.get("q") or ", ".join(query.values())
        if isinstance(answer, ServiceUnavailable):
            rows.keep_offline(i, answer.message, _FAILED)
            return
        if answer is None:
            rows.keep_offline(i, f"address '{shown}' not found by Nominatim", _NOT_FOUND)
            return
        lon, lat = float(answer["lon"]), float(answer["lat"])
        name = _text(answer.get("display_name")) or f"{lat:.5f}, {lon:.5f}"
        bbox = self.settings.place_bbox
        if bbox is not None:
            km = _km_outside_bbox(lon, lat, bbox)
            if km > self.settings.accept_within_km:
                place = f"the {self.settings.place_name} area" if self.settings.place_name else "the place's area"
                rows.keep_offline(i, f"Nominatim placed '{shown}' at '{name}', {km:.1f} km outside {place}; "
                                  "not used", _REJECTED)
                return
        precision, level = nominatim_precision(answer)
        if level == "area" and rows.precision[i] == "low":
            rows.keep_offline(i, f"Nominatim matched '{shown}' only to an area ('{name}'); not better than "
                              "the existing result")
            return
        rows.lon[i], rows.lat[i] = lon, lat
        rows.easting[i] = rows.northing[i] = np.nan  # Nominatim gives no grid reference: computed below
        rows.method[i] = METHOD_NOMINATIM
        rows.precision[i] = precision
        rows.online[i] = True
        if precision != "medium":
            rows.notes[i].append(f"located by Nominatim at {level} level only ('{name}')")
        elif rows.notes[i]:
            rows.notes[i].append("located from the address by Nominatim instead")

    def _write_rows(self, out: pd.DataFrame, rows: _Rows) -> None:
        n = len(out)
        missing = rows.online & ~(np.isfinite(rows.easting) & np.isfinite(rows.northing))
        missing &= np.isfinite(rows.lon) & np.isfinite(rows.lat)
        if missing.any():
            east, north = to_bng(rows.lon[missing], rows.lat[missing])
            rows.easting[missing] = np.round(east, 1)
            rows.northing[missing] = np.round(north, 1)
        issues: list[str] = []
        for i in range(n):
            if rows.online[i]:
                issues.append("; ".join(rows.notes[i]))
            elif rows.notes[i]:
                text = "; ".join([*rows.notes[i], "offline result kept"])
                if rows.offline_issue[i]:
                    text += f" ({rows.offline_issue[i]})"
                issues.append(text)
            else:
                issues.append(rows.offline_issue[i])
        index = out.index
        values: dict[str, Any] = {"postcode_normalised": rows.postcode_normalised, "lon": rows.lon, "lat": rows.lat,
                                  "easting": rows.easting, "northing": rows.northing, "geocode_method": rows.method,
                                  "geocode_precision": rows.precision, "geocode_issue": issues}
        for name, column in values.items():
            original = out.get(name)
            if isinstance(column, np.ndarray):
                out[name] = pd.Series(column, index=index, dtype=float)
            else:
                out[name] = _column_like(list(column), original, index)


class _Progress:
    """Calls ``progress(done, total)`` when the number of finished rows grows."""

    def __init__(self, total: int, callback: ProgressCallback | None) -> None:
        self.total = total
        self.callback = callback
        self.done: set[int] = set()
        self._reported = -1
        self._report()

    def finish(self, rows: Iterable[int]) -> None:
        self.done.update(rows)
        self._report()

    def _report(self) -> None:
        if self.callback is not None and len(self.done) != self._reported:
            self._reported = len(self.done)
            self.callback(self._reported, self.total)


# ====================================================================== entry point
def fill_online_with_summary(frame: pd.DataFrame, *, postcode: pd.Series | None,
                             address: pd.Series | pd.DataFrame | None, settings: OnlineSettings,
                             progress: ProgressCallback | None = None) -> tuple[pd.DataFrame, OnlineSummary]:
    """Like :func:`fill_online`, also returning the run's :class:`OnlineSummary`."""
    with OnlineGeocoder(settings) as geocoder:
        return geocoder.fill(frame, postcode=postcode, address=address, progress=progress)


def fill_online(frame: pd.DataFrame, *, postcode: pd.Series | None, address: pd.Series | pd.DataFrame | None,
                settings: OnlineSettings, progress: ProgressCallback | None = None) -> pd.DataFrame:
    """Fill the gaps of an offline-geocoded frame with postcodes.io and Nominatim.

    Parameters
    ----------
    frame : pandas.DataFrame
        Output of the offline geocoder (geocode contract columns; missing ones
        are treated as "not geocoded").
    postcode : pandas.Series or None
        Raw postcode per row (same index as ``frame``); ``None`` uses
        ``frame["postcode_normalised"]`` only.
    address : pandas.Series, pandas.DataFrame or None
        Address text per row (free-text Nominatim ``q``), or a frame with
        columns among :data:`NOMINATIM_STRUCTURED_FIELDS` for structured search.
    settings : OnlineSettings
        With ``enabled=False`` (the default) a copy of ``frame`` is returned and
        no request is sent.
    progress : callable, optional
        ``progress(done, total)`` over the rows that need online help.

    Returns
    -------
    pandas.DataFrame
        A copy of ``frame``, same rows in the same order, with the geocode
        columns updated: located rows get ``geocode_method``
        ``online_postcodes_io`` / ``online_postcodes_io_terminated`` /
        ``online_nominatim``; rows that could not be improved keep their offline
        result and say why in ``geocode_issue``. Other columns are untouched.

    Notes
    -----
    Safe to call from a worker thread; each call has its own sessions, cache
    connection and run deadline, and shares only the process-wide Nominatim
    rate limiter.
    """
    return fill_online_with_summary(frame, postcode=postcode, address=address, settings=settings,
                                    progress=progress)[0]


def online_settings_for_place(place: Place | None = None, **overrides: Any) -> OnlineSettings:
    """:func:`load_online_settings` with the place's name and bounding box filled in (for Nominatim's bias/check).

    Parameters
    ----------
    place
        The place (default: the current place).
    **overrides
        As for :func:`load_online_settings` (e.g. ``enabled=True, refresh=None``).
    """
    return load_online_settings(**overrides).for_place(place if place is not None else load_place())
