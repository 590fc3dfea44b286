"""Optional online geocoding: postcodes.io for postcodes, Nominatim for addresses.

Off by default (:class:`OnlineSettings`). Fills the gaps of the offline geocoder (:mod:`geo.geocoder`): full postcodes
on postcodes.io (bulk; then ``/terminated_postcodes``), then address text on Nominatim (one request a second, biased to
the place, results too far from it rejected). Answers are cached on disk for a while; failures keep the offline result
and say why in ``geocode_issue``. Transport: :mod:`geo._http`. See ``docs/online_geocoding.md``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging
import math
import numbers
import os
import re
import time
import typing
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

import numpy as np
import pandas as pd

from geo._geocache import GeoCache
from geo._http import ServiceClient, ServiceUnavailable, rate_limiter_for
from geo.geocoder import GEOCODE_COLUMNS, PRECISIONS
from geo.place import Place
from geo.postcodes import PostcodeKind, normalise_postcode
from geo.projection import to_bng

__all__ = [
    "DEFAULT_CACHE_PATH", "ENV_PREFIX", "GEOCODE_COLUMNS", "METHOD_NOMINATIM", "METHOD_POSTCODES_IO",
    "METHOD_POSTCODES_IO_TERMINATED", "NOMINATIM_STRUCTURED_FIELDS", "OnlineGeocoder", "OnlineSettings",
    "OnlineSummary", "ProgressCallback", "fill_online", "fill_online_with_summary", "load_online_settings",
    "nominatim_precision",
]

_log = logging.getLogger(__name__)

#: Prefix of the environment variables read by :func:`load_online_settings`.
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
_DAY_S = 86400.0
_YES_NO = {**dict.fromkeys(("1", "true", "yes", "on", "y"), True),
           **dict.fromkeys(("0", "false", "no", "off", "n", ""), False)}


# =========================================================================== settings
@dataclass(frozen=True, kw_only=True)
class OnlineSettings:
    """How (and whether) to geocode online. Immutable; use :meth:`replace`. Table: ``docs/online_geocoding.md``.

    Every field is checked and converted on construction (``"2.5"`` -> 2.5, ``"yes"`` -> True,
    ``"min_lon,min_lat,max_lon,max_lat"`` -> a tuple; numbers finite); a bad value raises ``ValueError`` naming the
    field.
    """

    enabled: bool = False  #: master switch, off by default: nothing leaves the machine
    use_postcodes_io: bool = True  #: per-service switch (e.g. allow postcodes but never send addresses)
    use_nominatim: bool = True  #: per-service switch
    #: Base URLs; no request leaves their host (a redirect to another host is refused).
    postcodes_io_url: str = "https://api.postcodes.io"
    nominatim_url: str = "https://nominatim.openstreetmap.org"
    contact: str = ""  #: contact put in the User-Agent (the Nominatim usage policy asks for one)
    user_agent: str | None = None  #: full User-Agent, replacing the one built with ``contact``
    timeout_s: float = 10.0  #: hard limit for one HTTP attempt: connect + headers + whole body
    max_retries: int = 3  #: urllib3 ``Retry``: retries after the first attempt
    backoff: float = 0.5  #: the n-th retry waits ``backoff * 2**(n-1)`` s (the first at once) ...
    max_backoff_s: float = 30.0  #: ... at most this
    max_retry_after_s: float = 120.0  #: longest ``Retry-After`` honoured; a longer one fails the request at once
    run_deadline_s: float = 1800.0  #: deadline of a run (one :class:`OnlineGeocoder`): no attempt runs past it
    nominatim_min_interval_s: float = 1.0  #: gap between Nominatim requests, process-wide per host (>= 1 public)
    circuit_breaker_failures: int = 5  #: failed attempts in a row after which a service is left alone for the run
    cache_path: Path | None = None  #: SQLite answer cache; ``None`` uses :data:`DEFAULT_CACHE_PATH`
    cache_max_age_days: float = 365.0  #: how long a cached location is used
    negative_cache_max_age_days: float = 30.0  #: how long a cached "not found" is used (new postcodes appear)
    refresh: bool = False  #: ignore cached answers (still store the new ones)
    place_name: str = ""  #: place for messages
    #: ``(min_lon, min_lat, max_lon, max_lat)``: Nominatim's ``viewbox`` and the acceptance check.
    place_bbox: tuple[float, float, float, float] | None = None
    accept_within_km: float = 5.0  #: Nominatim results further than this outside ``place_bbox`` are rejected
    postcodes_io_batch_size: int = 100  #: postcodes per bulk request (1-100)
    trust_env: bool = True  #: let requests use proxy settings / .netrc from the environment

    def __post_init__(self) -> None:
        for name, (kind, optional) in _field_kinds().items():
            value = getattr(self, name)
            try:
                object.__setattr__(self, name, _convert(value, kind, optional))
            except (TypeError, ValueError) as exc:
                raise ValueError(f"online geocoding setting {name}={value!r}: {exc}") from None
        bbox = self.place_bbox
        if bbox is not None and not (len(bbox) == 4 and -180 <= bbox[0] < bbox[2] <= 180
                                     and -90 <= bbox[1] < bbox[3] <= 90):
            raise ValueError(f"place_bbox {bbox} is not (min_lon, min_lat, max_lon, max_lat)")
        for name in ("postcodes_io_url", "nominatim_url"):
            parts = urlsplit(url := getattr(self, name))
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
            object.__setattr__(self, name, url.rstrip("/"))
        for name, (kind, _) in _field_kinds().items():
            positive = name in ("timeout_s", "run_deadline_s", "circuit_breaker_failures")
            if kind in (int, float) and (getattr(self, name) <= 0 if positive else getattr(self, name) < 0):
                raise ValueError(f"{name} must be {'>' if positive else '>='} 0")
        if not 1 <= self.postcodes_io_batch_size <= 100:
            raise ValueError("postcodes_io_batch_size must be 1..100")
        if _public_nominatim(self.nominatim_url) and self.nominatim_min_interval_s < 1.0:
            raise ValueError("the public Nominatim server allows at most 1 request per second "
                             "(nominatim_min_interval_s must be >= 1.0)")

    @property
    def effective_user_agent(self) -> str:
        """The User-Agent sent with every request."""
        contact = self.contact.strip() or "contact not configured"
        tool = "trafford-estates-mapper/1.0 (Trafford estates & neighbourhood mapping tool"
        return self.user_agent or f"{tool}; contact: {contact})"

    @property
    def effective_cache_path(self) -> Path:
        """The cache file actually used."""
        return self.cache_path if self.cache_path is not None else DEFAULT_CACHE_PATH

    def replace(self, **changes: Any) -> OnlineSettings:
        """Return a copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)

    def for_place(self, place: Place) -> OnlineSettings:
        """A copy biased to ``place``: its name for messages and its bounding box for Nominatim (unless already set)."""
        from geo.boundaries import boundary

        bbox = self.place_bbox or tuple(float(v) for v in boundary(place).total_bounds)
        return self.replace(place_name=self.place_name or place.name, place_bbox=bbox)


def _public_nominatim(url: str) -> bool:
    return (urlsplit(url).hostname or "").lower() == _PUBLIC_NOMINATIM_HOST


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
        if text is not None and text.lower() in _YES_NO:
            return _YES_NO[text.lower()]
        if not isinstance(value, bool):
            raise ValueError("expected a yes/no value")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (str, numbers.Real)):
            raise TypeError(f"expected a number, got {type(value).__name__}")
        number = float(text if text is not None else value)
        if not math.isfinite(number):
            raise ValueError("expected a finite number")
        if kind is int and not number.is_integer():
            raise ValueError("expected a whole number")
        return number if kind is float else int(number)
    if kind is tuple:
        parts = [p for p in re.split(r"[,\s]+", text) if p] if text is not None else list(value)
        return tuple(_convert(p, float, False) for p in parts)
    if kind is Path:
        return Path(value).expanduser()
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value


def _known(mapping: Mapping[str, Any], source: str) -> dict[str, Any]:
    if unknown := sorted(set(mapping) - set(_field_kinds())):
        raise ValueError(f"unknown online geocoding {source}: {', '.join(unknown)}")
    return dict(mapping)


def load_online_settings(mapping: Mapping[str, Any] | None = None, *, environ: Mapping[str, str] | None = None,
                         prefix: str = ENV_PREFIX, **overrides: Any) -> OnlineSettings:
    """Settings from defaults < ``mapping`` (config) < environment ``<prefix><FIELD>`` < ``overrides`` (CLI).

    ``environ`` defaults to :data:`os.environ`; an override of ``None`` is ignored (flag not given). ``ValueError``
    (one line naming the field) on an unknown key or a value that is not of the field's type.
    """
    values = _known(mapping or {}, "setting")
    env = os.environ if environ is None else environ
    for name, (kind, optional) in _field_kinds().items():
        if (variable := prefix + name.upper()) in env:
            try:
                values[name] = _convert(env[variable], kind, optional)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"online geocoding setting {name}={env[variable]!r} (from {variable}): {exc}",
                                 ) from None
    values.update(_known({k: v for k, v in overrides.items() if v is not None}, "option"))
    return OnlineSettings(**values)


# =========================================================================== summary
@dataclass
class OnlineSummary:
    """What one online run did (for the CLI / app to show)."""

    enabled: bool = False  #: False when online geocoding was off (nothing else happened)
    rows: int = 0  #: rows in the frame
    rows_considered: int = 0  #: rows that needed online help
    postcodes_unique: int = 0  #: distinct postcodes to look up on postcodes.io ...
    postcodes_cached: int = 0  #: ... answered from the cache
    postcodes_sent: int = 0  #: ... sent
    terminated_cached: int = 0  #: terminated-postcode checks answered from the cache ...
    terminated_sent: int = 0  #: ... sent
    addresses_unique: int = 0  #: distinct address queries for Nominatim ...
    addresses_cached: int = 0  #: ... answered from the cache
    addresses_sent: int = 0  #: ... sent
    http_requests: int = 0  #: HTTP attempts made (retries included)
    located: dict[str, int] = field(default_factory=dict)  #: rows located online, by ``geocode_method``
    rows_failed: int = 0  #: rows where a service failed (offline result kept)
    rows_not_found: int = 0  #: rows the services answered "not found" for
    rows_rejected: int = 0  #: rows whose Nominatim match was too far from the place
    messages: list[str] = field(default_factory=list)  #: run-level notes (circuit breaker opened, no contact, ...)
    elapsed_s: float = 0.0  #: wall time

    @classmethod
    def combine(cls, summaries: Iterable[OnlineSummary]) -> OnlineSummary:
        """One summary for several runs (e.g. every register of a pipeline): counts added, notes once each."""
        total = cls()
        for part in summaries:
            for name in (f.name for f in dataclasses.fields(cls)):
                mine, theirs = getattr(total, name), getattr(part, name)
                if name == "located":
                    total.located = dict(Counter(mine) + Counter(theirs))
                elif name == "messages":
                    mine.extend(m for m in theirs if m not in mine)
                else:
                    setattr(total, name, (mine or theirs) if name == "enabled" else mine + theirs)
        return total

    @property
    def rows_located(self) -> int:
        """Rows located online (all methods)."""
        return sum(self.located.values())

    def lines(self) -> list[str]:
        """Human-readable summary, one line per item."""
        if not self.enabled:
            return ["online geocoding: off (enable with --online)"]
        out = [f"online geocoding: {self.rows_considered} of {self.rows} rows needed it, "
               f"{self.rows_located} located online in {self.elapsed_s:.1f} s",
               f"  postcodes.io: {self.postcodes_unique} postcodes ({self.postcodes_cached} cached, "
               f"{self.postcodes_sent} sent), terminated checks {self.terminated_cached} cached / "
               f"{self.terminated_sent} sent",
               f"  Nominatim: {self.addresses_unique} addresses ({self.addresses_cached} cached, "
               f"{self.addresses_sent} sent)",
               f"  HTTP requests: {self.http_requests}"]
        out += [f"  located by {method}: {count}" for method, count in sorted(self.located.items())]
        out += [f"  {what}: {count} rows" for count, what in (
            (self.rows_not_found, "not found"), (self.rows_rejected, "rejected (too far from the place)"),
            (self.rows_failed, "failed (offline result kept)")) if count]
        return out + [f"  note: {m}" for m in self.messages]

    def __str__(self) -> str:
        return "\n".join(self.lines())


# ========================================================================== helpers
def _full_postcode(value: object) -> str | None:
    """``"M33 7ZZ"`` for a full-format postcode, else ``None``."""
    normalised, kind = normalise_postcode(value)
    return normalised if kind == PostcodeKind.FULL else None


def _text(value: object) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return " ".join(str(value).split())


def _number(value: Any) -> float | None:
    with contextlib.suppress(TypeError, ValueError):
        if not isinstance(value, bool) and math.isfinite(number := float(value)):
            return number
    return None


_MEDIUM_CATEGORIES = frozenset({"building", "amenity", "office", "shop", "craft", "healthcare", "tourism", "leisure",
                                "emergency", "historic", "club", "man_made", "railway", "public_transport"})
_HOUSE_TYPES = frozenset({"house", "building", "house_number"})
_STREET_TYPES = frozenset({"street", "road"})


def nominatim_precision(answer: Mapping[str, Any]) -> tuple[str, str]:
    """``(precision, level)`` of one Nominatim jsonv2 search result: building/house, street or area.

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
    kinds = {str(answer.get("type") or "").lower(), str(answer.get("addresstype") or "").lower()}
    if category in _MEDIUM_CATEGORIES or kinds & _HOUSE_TYPES:
        return "medium", "address"
    if category == "highway" or kinds & _STREET_TYPES:
        return "low", "street"
    return "low", "area"


def _km_outside_bbox(lon: float, lat: float, bbox: tuple[float, float, float, float]) -> float:
    """Distance (km) from a point to a lon/lat box; 0 inside (equirectangular, fine at city scale)."""
    min_lon, min_lat, max_lon, max_lat = bbox
    dlon = max(min_lon - lon, 0.0, lon - max_lon)
    dlat = max(min_lat - lat, 0.0, lat - max_lat)
    km_per_deg_lon = 111.320 * math.cos(math.radians(min(max(lat, min_lat), max_lat)))
    return math.hypot(dlon * km_per_deg_lon, dlat * 110.574)


def _aligned(series: pd.Series | pd.DataFrame, frame: pd.DataFrame, name: str) -> Any:
    if series.index.equals(frame.index):
        return series
    if (len(series) == len(frame) and frame.index.is_unique and series.index.is_unique
            and set(series.index) == set(frame.index)):
        return series.reindex(frame.index)
    raise ValueError(f"{name} must have the same index as frame")


def _row_postcodes(out: pd.DataFrame, postcode: pd.Series | None) -> list[str | None]:
    """Each row's full postcode: its ``postcode_normalised``, else its raw ``postcode``."""
    found = ([_full_postcode(v) for v in out["postcode_normalised"].tolist()] if "postcode_normalised" in out
             else [None] * len(out))
    if postcode is None:
        return found
    raw = _aligned(postcode, out, "postcode").tolist()
    return [pc or _full_postcode(value) for pc, value in zip(found, raw, strict=True)]


def _row_queries(out: pd.DataFrame, address: pd.Series | pd.DataFrame | None) -> list[dict[str, str] | None]:
    """Each row's Nominatim query: ``{"q": text}`` or structured fields; ``None`` without address text."""
    if address is None:
        return [None] * len(out)
    aligned = _aligned(address, out, "address")
    if isinstance(aligned, pd.Series):
        return [{"q": t} if (t := _text(v)) else None for v in aligned.tolist()]
    if unknown := sorted(set(map(str, aligned.columns)) - set(NOMINATIM_STRUCTURED_FIELDS)):
        raise ValueError(f"address columns must be among {NOMINATIM_STRUCTURED_FIELDS}, got {unknown}")
    return [{str(k): _text(v) for k, v in r.items() if _text(v)} or None for r in aligned.to_dict(orient="records")]


def _shown(query: Mapping[str, str]) -> str:
    return query.get("q") or ", ".join(query.values())


#: Valid range of each coordinate an answer may carry (British National Grid for eastings/northings).
_COORDINATE_RANGES = {"longitude": (-180, 180), "latitude": (-90, 90), "lon": (-180, 180), "lat": (-90, 90),
                      "eastings": (0, 800_000), "northings": (0, 1_400_000)}


def _bad_coordinate(answer: Mapping[str, Any]) -> tuple[str, Any] | None:
    """The first coordinate field of ``answer`` that is not a finite number in its range, with its value."""
    for key, (low, high) in _COORDINATE_RANGES.items():
        value = answer.get(key)
        if value is not None and not ((number := _number(value)) is not None and low <= number <= high):
            return key, value
    return None


def _first_result(data: Any) -> dict[str, Any] | None:
    if not isinstance(data, list):
        raise ValueError("search answer is not a list")
    return _object(data[0], "search result", keys=["lat", "lon"]) if data else None


def _object(value: Any, what: str, *, keys: Iterable[str] = ()) -> dict[str, Any]:
    """``value`` when it is a JSON object with ``keys``, else ``ValueError`` (a wrong shape: the attempt is retried)."""
    if not isinstance(value, dict) or not set(keys) <= value.keys():
        raise ValueError(f"{what} is not an object with {', '.join(keys) or 'fields'}")
    return value


def _column_like(values: list[Any], original: pd.Series | None, index: pd.Index) -> pd.Series:
    """Series of ``values`` keeping the original column's dtype where possible."""
    if original is None:
        return pd.Series(values, index=index, dtype=str)
    dtype = original.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        cats = dict.fromkeys([*dtype.categories, *(v for v in values if v is not None)])
        return pd.Series(pd.Categorical(values, categories=list(cats)), index=index)
    try:
        return pd.Series(values, index=index, dtype=dtype)
    except (TypeError, ValueError):
        return pd.Series(values, index=index)


# ======================================================================== geocoder
_NOT_FOUND, _REJECTED, _FAILED = 1, 2, 3  # why a row kept its offline result; the worst one counts

Answer = dict[str, Any] | None | ServiceUnavailable
"""One lookup's outcome: the (trimmed) answer, ``None`` for "not found", or why it failed."""


class _Service(typing.NamedTuple):
    """One kind of lookup: its cache section, its client, its :class:`OnlineSummary` counters, the fields kept."""

    cache: str
    client: str
    counter: str
    fields: tuple[str, ...]


_POSTCODES = _Service("postcodes_io", "postcodes.io", "postcodes", (
    "postcode", "longitude", "latitude", "eastings", "northings", "admin_district", "admin_ward", "lsoa", "codes"))
_TERMINATED = _Service("postcodes_io_terminated", "postcodes.io", "terminated", (
    "postcode", "year_terminated", "month_terminated", "longitude", "latitude", "eastings", "northings"))
_SEARCH = _Service("nominatim", "Nominatim", "addresses", (
    "lat", "lon", "category", "class", "type", "addresstype", "place_rank", "display_name"))


class _Rows:
    """The geocode columns of a frame while a run changes them, and why rows kept their offline result."""

    def __init__(self, frame: pd.DataFrame) -> None:
        n = len(frame)

        def text(name: str, default: str) -> list[str]:
            return [_text(v) or default for v in frame[name].tolist()] if name in frame else [default] * n

        def number(name: str) -> np.ndarray:
            return pd.to_numeric(frame[name], errors="coerce").to_numpy(float, copy=True) if name in frame else (
                np.full(n, np.nan))

        self.postcode_normalised = text("postcode_normalised", "")
        self.lon, self.lat, self.easting, self.northing = (number(c) for c in ("lon", "lat", "easting", "northing"))
        self.method = text("geocode_method", "none")
        self.precision = [p if p in PRECISIONS else "none" for p in map(str.lower, text("geocode_precision", "none"))]
        self.offline_issue = text("geocode_issue", "")
        self.notes: list[list[str]] = [[] for _ in range(n)]
        self.online = np.zeros(n, dtype=bool)  # located online
        self.outcome = np.zeros(n, dtype=np.int8)  # 0, or _NOT_FOUND / _REJECTED / _FAILED

    def keep_offline(self, i: int, note: str, outcome: int = 0) -> None:
        """Row ``i`` keeps its offline result, saying why (``outcome`` counts it in the summary)."""
        self.notes[i].append(note)
        self.outcome[i] = max(self.outcome[i], outcome)

    def locate(self, i: int, lon: float, lat: float, method: str, precision: str, east: float | None = None,
               north: float | None = None) -> None:
        """Row ``i`` located online (a grid reference not given is computed on :meth:`write`)."""
        self.lon[i], self.lat[i], self.method[i], self.precision[i], self.online[i] = lon, lat, method, precision, True
        self.easting[i], self.northing[i] = (east, north) if east is not None and north is not None else (np.nan,) * 2

    def write(self, out: pd.DataFrame) -> None:
        """Write the columns back into ``out`` (the original dtypes kept where possible)."""
        missing = self.online & ~(np.isfinite(self.easting) & np.isfinite(self.northing))
        if (missing := missing & np.isfinite(self.lon) & np.isfinite(self.lat)).any():
            east, north = to_bng(self.lon[missing], self.lat[missing])
            self.easting[missing], self.northing[missing] = np.round(east, 1), np.round(north, 1)
        issues = [("; ".join(notes) if online else offline) if online or not notes
                  else "; ".join([*notes, "offline result kept"]) + (f" ({offline})" if offline else "")
                  for online, notes, offline in zip(self.online, self.notes, self.offline_issue, strict=True)]
        columns = (self.postcode_normalised, self.lon, self.lat, self.easting, self.northing, self.method,
                   self.precision, issues)
        for name, column in zip(GEOCODE_COLUMNS, columns, strict=True):
            out[name] = (pd.Series(column, index=out.index, dtype=float) if isinstance(column, np.ndarray)
                         else _column_like(column, out.get(name), out.index))


class OnlineGeocoder(contextlib.AbstractContextManager["OnlineGeocoder"]):
    """Online lookups for one run; owns the HTTP sessions, the cache connection and the run's deadline.

    Nothing is opened when ``settings.enabled`` is False. Use one instance per thread and run (``with
    OnlineGeocoder(s) as g: ...``); the run's deadline starts here. The Nominatim rate limit is process-wide.
    """

    def __init__(self, settings: OnlineSettings) -> None:
        self.settings = settings
        self._cache: GeoCache | None = None
        self._clients: dict[str, ServiceClient] = {}
        if settings.enabled:
            self._cache = GeoCache(settings.effective_cache_path)
            deadline = time.monotonic() + settings.run_deadline_s
            self._clients = {
                "postcodes.io": ServiceClient("postcodes.io", settings, deadline=deadline),
                "Nominatim": ServiceClient("Nominatim", settings, deadline=deadline,
                                           limiter=rate_limiter_for(settings.nominatim_url),
                                           min_interval_s=settings.nominatim_min_interval_s)}

    def close(self) -> None:
        """Close the cache and the HTTP sessions."""
        if self._cache is not None:
            self._cache.close()
        for client in self._clients.values():
            client.close()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def http_requests(self) -> int:
        """HTTP attempts made so far by this instance."""
        return sum(client.attempts for client in self._clients.values())

    def _lookups(self, service: _Service, queries: Mapping[str, str], send: Callable[[list[str]], Mapping[str, Any]],
                 summary: OnlineSummary, batch: int = 1) -> Iterator[dict[str, Answer]]:
        """Answers to ``queries`` (cache key -> text for messages), batch by batch: the fresh cached ones, then those
        ``send(keys)`` gets (each key's result or ``None``), trimmed and cached unless a coordinate is impossible."""
        if self._cache is None:
            raise RuntimeError("online geocoding is disabled (OnlineSettings.enabled=False)")
        cached: dict[str, Any] = {} if self.settings.refresh else {
            k: v for k, v in self._cache.get_many(
                service.cache, queries, max_age_s=self.settings.cache_max_age_days * _DAY_S,
                negative_max_age_s=self.settings.negative_cache_max_age_days * _DAY_S).items()
            if not isinstance(v, dict) or _bad_coordinate(v) is None}
        vars(summary)[f"{service.counter}_cached"] += len(cached)
        if cached:
            yield cached
        to_send = [k for k in queries if k not in cached]
        for start in range(0, len(to_send), batch):
            keys = to_send[start : start + batch]
            if not self._clients[service.client].is_open:
                vars(summary)[f"{service.counter}_sent"] += len(keys)
            try:
                results = send(keys)
            except ServiceUnavailable as exc:
                yield dict.fromkeys(keys, exc)
                continue
            answers: dict[str, Answer] = {}
            for key in keys:
                result = results[key]
                answers[key] = kept = {f: result[f] for f in service.fields if f in result} if result else None
                if kept is not None and (bad := _bad_coordinate(kept)) is not None:
                    answers[key] = ServiceUnavailable(
                        f"online geocoding failed ({service.client} answered {bad[0]} {bad[1]!r} for "
                        f"'{queries[key]}', not a valid coordinate; answer not used)")
            self._cache.put_many(service.cache, {k: a for k, a in answers.items()
                                                 if not isinstance(a, ServiceUnavailable)})
            yield answers

    def _send_postcodes(self, batch: list[str]) -> dict[str, Any]:
        def extract(data: Any) -> dict[str, Any]:
            items = [_object(item, "result item", keys=["query"]) for item in _object(data, "answer")["result"]]
            found = {_full_postcode(item["query"]): None if item.get("result") is None else _object(
                item["result"], "result") for item in items}
            if missing := set(batch) - found.keys():
                raise ValueError(f"no answer for {len(missing)} postcodes")
            return found

        return self._clients["postcodes.io"].request_json(
            "POST", f"{self.settings.postcodes_io_url}/postcodes", json_body={"postcodes": batch}, extract=extract)

    def _send_terminated(self, keys: list[str]) -> dict[str, Any]:
        url = f"{self.settings.postcodes_io_url}/terminated_postcodes/{quote(keys[0])}"
        return {keys[0]: self._clients["postcodes.io"].request_json(
            "GET", url, none_on_404=True, extract=lambda data: _object(_object(data, "answer")["result"], "result"))}

    def _send_search(self, keys: list[str], params: Mapping[str, dict[str, str]]) -> dict[str, Any]:
        url = f"{self.settings.nominatim_url}/search"  # (the coordinates' values are checked by _lookups)
        return {keys[0]: self._clients["Nominatim"].request_json("GET", url, params=params[keys[0]],
                                                                 extract=_first_result)}

    def _search_params(self, query: Mapping[str, str]) -> tuple[dict[str, str], str]:
        """The Nominatim parameters of ``query`` and its cache key (casefolded, with the viewbox)."""
        params = {"format": "jsonv2", "countrycodes": "gb", "limit": "1", "addressdetails": "0", **query}
        key_parts = {k: v.casefold() for k, v in query.items()} | {"countrycodes": "gb"}
        if (bbox := self.settings.place_bbox) is not None:
            viewbox = ",".join(f"{v:.6f}" for v in bbox)
            params["viewbox"] = key_parts["viewbox"] = viewbox  # bias only: no bounded=1, near-border still works
        return params, urlencode(sorted(key_parts.items()))

    def fill(self, frame: pd.DataFrame, *, postcode: pd.Series | None = None,
             address: pd.Series | pd.DataFrame | None = None, progress: ProgressCallback | None = None,
             ) -> tuple[pd.DataFrame, OnlineSummary]:
        """Fill the gaps of an offline-geocoded frame. See :func:`fill_online`."""
        started, settings = time.monotonic(), self.settings
        out = frame.copy()
        summary = OnlineSummary(enabled=settings.enabled, rows=len(out))
        if not settings.enabled:
            return out, summary
        if settings.use_nominatim and _public_nominatim(settings.nominatim_url) and not (
                settings.user_agent or settings.contact.strip()):
            message = (f"no contact configured for the public Nominatim server; set {ENV_PREFIX}CONTACT (its usage "
                       "policy asks for an identifying User-Agent)")
            _log.warning(message)
            summary.messages.append(message)
        requests_before = self.http_requests
        rows = _Rows(out)
        postcodes, queries = _row_postcodes(out, postcode), _row_queries(out, address)
        eligible = [i for i, p in enumerate(rows.precision) if p in ("none", "low")]
        pc_rows = [i for i in eligible if postcodes[i] and settings.use_postcodes_io]
        addr_rows = {i for i in eligible if queries[i] and settings.use_nominatim}
        considered = sorted(set(pc_rows) | addr_rows)
        summary.rows_considered = len(considered)
        done: set[int] = set()

        def finish(finished: Iterable[int]) -> None:
            before = len(done)
            done.update(finished)
            if progress is not None and len(done) != before:
                progress(len(done), len(considered))

        def wants_address(i: int) -> bool:
            return i in addr_rows and rows.precision[i] in ("none", "low")

        if progress is not None:
            progress(0, len(considered))

        # ---- postcodes.io; the postcodes it does not know on /terminated_postcodes
        rows_by_pc: dict[str, list[int]] = {}
        for i in pc_rows:
            rows_by_pc.setdefault(postcodes[i], []).append(i)  # type: ignore[arg-type]
        summary.postcodes_unique = len(rows_by_pc)

        def apply_postcodes(answers: Mapping[str, Answer], *, terminated: bool) -> None:
            for pc, answer in answers.items():
                for i in rows_by_pc[pc]:
                    self._apply_postcode(rows, i, pc, answer, terminated=terminated)
                finish(i for i in rows_by_pc[pc] if not wants_address(i))

        for answers in self._lookups(_POSTCODES, {pc: pc for pc in rows_by_pc}, self._send_postcodes, summary,
                                     settings.postcodes_io_batch_size):
            apply_postcodes({pc: a for pc, a in answers.items() if a is not None}, terminated=False)
            unknown = {pc: pc for pc, a in answers.items() if a is None}
            for checked in self._lookups(_TERMINATED, unknown, self._send_terminated, summary):
                apply_postcodes(checked, terminated=True)

        # ---- Nominatim, once per distinct query
        rows_by_key: dict[str, list[int]] = {}
        params: dict[str, dict[str, str]] = {}
        for i in considered:
            if wants_address(i):
                search, key = self._search_params(queries[i])  # type: ignore[arg-type]
                params.setdefault(key, search)
                rows_by_key.setdefault(key, []).append(i)
            else:
                finish([i])
        summary.addresses_unique = len(rows_by_key)
        shown = {key: _shown(queries[idx[0]]) for key, idx in rows_by_key.items()}  # type: ignore[arg-type]
        for answers in self._lookups(_SEARCH, shown, lambda keys: self._send_search(keys, params), summary):
            for key, answer in answers.items():
                for i in rows_by_key[key]:
                    self._apply_nominatim(rows, i, queries[i], answer)  # type: ignore[arg-type]
                finish(rows_by_key[key])

        finish(considered)
        rows.write(out)
        summary.http_requests = self.http_requests - requests_before
        summary.messages += [f"{name} circuit breaker opened ({client.breaker_state}); no more requests were sent "
                             "this run" for name, client in self._clients.items() if client.is_open]
        if any(client.out_of_time for client in self._clients.values()):
            summary.messages.append(f"the run's deadline of {settings.run_deadline_s:g} s passed; no more requests "
                                    "were sent and the rows left kept their offline result")
        summary.located = dict(Counter(rows.method[i] for i in np.flatnonzero(rows.online)))
        kept = rows.outcome[~rows.online]
        summary.rows_failed, summary.rows_rejected, summary.rows_not_found = (
            int(np.count_nonzero(kept == outcome)) for outcome in (_FAILED, _REJECTED, _NOT_FOUND))
        summary.elapsed_s = time.monotonic() - started
        return out, summary

    @staticmethod
    def _apply_postcode(rows: _Rows, i: int, pc: str, answer: Answer, *, terminated: bool) -> None:
        if isinstance(answer, ServiceUnavailable):
            return rows.keep_offline(i, str(answer), _FAILED)
        if answer is None:
            return rows.keep_offline(i, f"postcode {pc} not found on postcodes.io (neither live nor terminated)",
                                     _NOT_FOUND)
        lon, lat = _number(answer.get("longitude")), _number(answer.get("latitude"))
        if lon is None or lat is None:
            return rows.keep_offline(i, f"postcode {pc} is known to postcodes.io but has no coordinates")
        rows.postcode_normalised[i] = _full_postcode(answer.get("postcode")) or pc
        east, north = _number(answer.get("eastings")), _number(answer.get("northings"))
        method, precision = (METHOD_POSTCODES_IO_TERMINATED, "low") if terminated else (METHOD_POSTCODES_IO, "medium")
        rows.locate(i, lon, lat, method, precision, east, north)
        if terminated:
            year, month = answer.get("year_terminated"), answer.get("month_terminated")
            when = f"{int(year)}-{int(month):02d}" if year and month else "the past"
            rows.notes[i].append(f"postcode {pc} terminated in {when}; located at its last centroid")
        return None

    def _apply_nominatim(self, rows: _Rows, i: int, query: Mapping[str, str], answer: Answer) -> None:
        shown = _shown(query)
        if isinstance(answer, ServiceUnavailable):
            return rows.keep_offline(i, str(answer), _FAILED)
        if answer is None:
            return rows.keep_offline(i, f"address '{shown}' not found by Nominatim", _NOT_FOUND)
        lon, lat = float(answer["lon"]), float(answer["lat"])
        name = _text(answer.get("display_name")) or f"{lat:.5f}, {lon:.5f}"
        bbox = self.settings.place_bbox
        if bbox is not None and (km := _km_outside_bbox(lon, lat, bbox)) > self.settings.accept_within_km:
            place = f"the {self.settings.place_name} area" if self.settings.place_name else "the place's area"
            return rows.keep_offline(i, f"Nominatim placed '{shown}' at '{name}', {km:.1f} km outside {place}; "
                                     "not used", _REJECTED)
        precision, level = nominatim_precision(answer)
        if level == "area" and rows.precision[i] == "low":
            return rows.keep_offline(i, f"Nominatim matched '{shown}' only to an area ('{name}'); not better than "
                                     "the existing result")
        had_notes = bool(rows.notes[i])
        rows.locate(i, lon, lat, METHOD_NOMINATIM, precision)  # Nominatim gives no grid reference
        if precision != "medium":
            rows.notes[i].append(f"located by Nominatim at {level} level only ('{name}')")
        elif had_notes:
            rows.notes[i].append("located from the address by Nominatim instead")
        return None


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
        Output of the offline geocoder (missing geocode columns are treated as "not geocoded").
    postcode : pandas.Series or None
        Raw postcode per row (same index as ``frame``); ``None`` uses ``frame["postcode_normalised"]`` only.
    address : pandas.Series, pandas.DataFrame or None
        Address text per row (Nominatim ``q``), or columns among :data:`NOMINATIM_STRUCTURED_FIELDS`.
    settings : OnlineSettings
        With ``enabled=False`` (the default) a copy of ``frame`` is returned and no request is sent.
    progress : callable, optional
        ``progress(done, total)`` over the rows that need online help.

    Returns
    -------
    pandas.DataFrame
        A copy of ``frame``, same rows and order: located rows get ``geocode_method`` ``online_*``, the others keep
        their offline result and say why in ``geocode_issue``. Safe in a worker thread (own sessions, cache
        connection and deadline; only the Nominatim rate limiter is shared).
    """
    return fill_online_with_summary(frame, postcode=postcode, address=address, settings=settings,
                                    progress=progress)[0]
