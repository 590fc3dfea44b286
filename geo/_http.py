"""HTTP plumbing for the online geocoders (private to :mod:`geo.online`).

* :class:`RateLimiter` - minimum spacing between requests to one host, shared
  process-wide (:func:`rate_limiter_for`) and safe across threads.
* :class:`CircuitBreaker` - stops talking to a service after N consecutive
  failed attempts (per run).
* :class:`ServiceClient` - one JSON request with a hard total deadline,
  retries with exponential backoff (honouring ``Retry-After``), content-type
  and JSON checks. Every failure ends in :class:`ServiceUnavailable` carrying
  a readable reason; nothing can hang.
"""

from __future__ import annotations

import contextlib
import email.utils
import json
import math
import threading
import time
from collections.abc import Callable, Container, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

__all__ = [
    "AttemptFailed",
    "CircuitBreaker",
    "JsonResponse",
    "RateLimiter",
    "ServiceClient",
    "ServiceUnavailable",
    "rate_limiter_for",
]

#: Largest response body accepted (bytes); protects against runaway answers.
MAX_BODY_BYTES = 16 * 1024 * 1024


# --------------------------------------------------------------------------- errors
class AttemptFailed(Exception):
    """One HTTP attempt failed.

    Parameters
    ----------
    reason : str
        Short readable reason, e.g. ``"HTTP 503"`` or ``"timed out after 10 s"``.
    retryable : bool
        Whether another attempt may help.
    retry_after : float or None
        Seconds the server asked us to wait (``Retry-After``), if any.
    """

    def __init__(self, reason: str, *, retryable: bool = True, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


class ServiceUnavailable(Exception):
    """A request gave up (retries exhausted, not retryable, or circuit open).

    Parameters
    ----------
    message : str
        Readable description for ``geocode_issue``.
    circuit_open : bool
        True when no request was (or will be) sent because the breaker is open.
    """

    def __init__(self, message: str, *, circuit_open: bool = False):
        super().__init__(message)
        self.message = message
        self.circuit_open = circuit_open


# --------------------------------------------------------------------- rate limiter
class RateLimiter:
    """Keeps at least ``min_interval`` seconds between requests to one host.

    The interval is measured from the *end* of the previous request to the
    start of the next one, and requests through one limiter are serialised, so
    the server never sees two requests closer than the interval (this is what
    the Nominatim usage policy asks for: no parallel requests, at most one per
    second).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_end: float | None = None

    @contextlib.contextmanager
    def slot(self, min_interval: float, *, sleep: Callable[[float], None] = time.sleep) -> Iterator[None]:
        """Wait for this host's next free slot and hold it while the request runs.

        Parameters
        ----------
        min_interval : float
            Seconds required since the previous request ended.
        sleep : callable, optional
            Sleep function (for tests).
        """
        with self._lock:
            if self._last_end is not None and min_interval > 0:
                wait = self._last_end + min_interval - time.monotonic()
                while wait > 0:
                    sleep(wait)
                    wait = self._last_end + min_interval - time.monotonic()
            try:
                yield
            finally:
                self._last_end = time.monotonic()


_LIMITERS: dict[str, RateLimiter] = {}
_LIMITERS_LOCK = threading.Lock()


def rate_limiter_for(url: str) -> RateLimiter:
    """Return the process-wide rate limiter of the host serving ``url``.

    Parameters
    ----------
    url : str
        Any URL on the host (scheme and ``host:port`` form the key).

    Returns
    -------
    RateLimiter
        The same object for every caller in this process.
    """
    parts = urlsplit(url)
    key = f"{parts.scheme}://{parts.netloc}".lower()
    with _LIMITERS_LOCK:
        limiter = _LIMITERS.get(key)
        if limiter is None:
            limiter = _LIMITERS[key] = RateLimiter()
        return limiter


# ------------------------------------------------------------------- circuit breaker
class CircuitBreaker:
    """Opens after ``threshold`` consecutive failed attempts; stays open for the run.

    Parameters
    ----------
    name : str
        Service name used in messages (``"postcodes.io"``).
    threshold : int
        Consecutive failed attempts that open the breaker (>= 1).
    """

    def __init__(self, name: str, threshold: int) -> None:
        self.name = name
        self.threshold = max(1, int(threshold))
        self._lock = threading.Lock()
        self.consecutive_failures = 0
        self.total_failures = 0
        self.last_reason = ""
        self.is_open = False

    def record_success(self) -> None:
        """Reset the consecutive-failure count."""
        with self._lock:
            self.consecutive_failures = 0

    def record_failure(self, reason: str) -> None:
        """Count one failed attempt; open the breaker at the threshold."""
        with self._lock:
            self.consecutive_failures += 1
            self.total_failures += 1
            self.last_reason = reason
            if self.consecutive_failures >= self.threshold:
                self.is_open = True

    def describe(self) -> str:
        """Readable state, e.g. ``"postcodes.io: 3 failures, last: HTTP 503"``."""
        with self._lock:
            return f"{self.name}: {self.consecutive_failures} failures, last: {self.last_reason}"


# ------------------------------------------------------------------------ client
@dataclass(frozen=True)
class JsonResponse:
    """A successful exchange: HTTP status and parsed JSON (``None`` when not parsed)."""

    status: int
    data: Any


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _describe_connection_error(exc: BaseException) -> str:
    """Short reason for a requests connection-level exception."""
    text = repr(exc)
    if "NewConnectionError" in text or "Connection refused" in text or "Failed to establish" in text:
        return "could not connect (connection refused or host unreachable)"
    if "NameResolutionError" in text or "getaddrinfo" in text or "Name or service" in text:
        return "could not resolve the host name"
    if "timed out" in text.lower():
        return "timed out"
    if "SSLError" in text or "CERTIFICATE" in text:
        return "TLS/SSL error"
    return "connection dropped"


class ServiceClient:
    """JSON over HTTP for one service, with deadline, retries and a breaker.

    Parameters
    ----------
    name : str
        Service name for messages.
    session : requests.Session
        Session to send through (owned by the caller).
    user_agent : str
        ``User-Agent`` header.
    timeout_s : float
        Hard limit for one attempt, connect + full body (seconds).
    max_retries : int
        Extra attempts after the first.
    backoff_s : float
        First retry delay; doubles on every retry.
    max_backoff_s : float
        Ceiling for one backoff delay.
    max_retry_after_s : float
        Longest ``Retry-After`` honoured; a longer one gives up at once
        (waiting longer would stall the run; retrying sooner would be rude).
    breaker : CircuitBreaker
        Breaker for this service (per run).
    limiter : RateLimiter or None
        Shared rate limiter; ``None`` for no spacing.
    min_interval_s : float
        Spacing used with ``limiter``.
    sleep : callable, optional
        Sleep function (tests).
    """

    def __init__(
        self,
        *,
        name: str,
        session: requests.Session,
        user_agent: str,
        timeout_s: float,
        max_retries: int,
        backoff_s: float,
        max_backoff_s: float,
        max_retry_after_s: float,
        breaker: CircuitBreaker,
        limiter: RateLimiter | None = None,
        min_interval_s: float = 0.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.session = session
        self.user_agent = user_agent
        self.timeout_s = float(timeout_s)
        self.max_retries = max(0, int(max_retries))
        self.backoff_s = max(0.0, float(backoff_s))
        self.max_backoff_s = max(0.0, float(max_backoff_s))
        self.max_retry_after_s = max(0.0, float(max_retry_after_s))
        self.breaker = breaker
        self.limiter = limiter
        self.min_interval_s = float(min_interval_s)
        self._sleep = sleep
        #: HTTP attempts actually sent (for the run summary).
        self.attempts = 0

    # ------------------------------------------------------------------ public
    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json_body: Any = None,
        accept_status: Container[int] = (200,),
        parse_status: Container[int] = (200,),
        validate: Callable[[Any], None] | None = None,
    ) -> JsonResponse:
        """Send one logical request, retrying transient failures.

        Parameters
        ----------
        method, url : str
            HTTP method and absolute URL.
        params : mapping, optional
            Query-string parameters.
        json_body : object, optional
            Body sent as JSON.
        accept_status : container of int
            Statuses that are answers (e.g. ``(200, 404)`` when 404 means
            "not found"). 429 and 5xx are always retried; other statuses fail
            without retry.
        parse_status : container of int
            Accepted statuses whose body must be JSON; for the others ``data``
            is ``None`` and the body is ignored.
        validate : callable, optional
            Called with the parsed JSON; raises ``ValueError`` when the shape
            is wrong (counted as a failed attempt, retried).

        Returns
        -------
        JsonResponse

        Raises
        ------
        ServiceUnavailable
            When no usable answer could be obtained.
        """
        attempt = 0
        while True:
            if self.breaker.is_open:
                raise ServiceUnavailable(f"online geocoding unavailable ({self.breaker.describe()})", circuit_open=True)
            try:
                response = self._attempt(
                    method,
                    url,
                    params=params,
                    json_body=json_body,
                    accept_status=accept_status,
                    parse_status=parse_status,
                    validate=validate,
                )
            except AttemptFailed as failure:
                self.breaker.record_failure(failure.reason)
                attempts = attempt + 1
                if self.breaker.is_open:
                    raise ServiceUnavailable(
                        f"online geocoding unavailable ({self.breaker.describe()})",
                        circuit_open=True,
                    ) from failure
                if not failure.retryable or attempt >= self.max_retries:
                    plural = "attempt" if attempts == 1 else "attempts"
                    raise ServiceUnavailable(
                        f"online geocoding failed ({self.name}: {failure.reason} after {attempts} {plural})"
                    ) from failure
                if failure.retry_after is not None:
                    delay = failure.retry_after
                else:
                    delay = min(self.backoff_s * (2**attempt), self.max_backoff_s)
                if delay > 0:
                    self._sleep(delay)
                attempt += 1
                continue
            self.breaker.record_success()
            return response

    # ----------------------------------------------------------------- private
    def _attempt(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None,
        json_body: Any,
        accept_status: Container[int],
        parse_status: Container[int],
        validate: Callable[[Any], None] | None,
    ) -> JsonResponse:
        slot = (
            self.limiter.slot(self.min_interval_s, sleep=self._sleep)
            if self.limiter is not None
            else contextlib.nullcontext()
        )
        with slot:
            deadline = time.monotonic() + self.timeout_s
            headers = {"User-Agent": self.user_agent, "Accept": "application/json"}
            self.attempts += 1
            try:
                resp = self.session.request(
                    method,
                    url,
                    params=dict(params) if params else None,
                    json=json_body,
                    headers=headers,
                    timeout=(self.timeout_s, self.timeout_s),
                    stream=True,
                )
            except requests.Timeout as exc:
                raise AttemptFailed(f"timed out after {self.timeout_s:g} s") from exc
            except requests.ConnectionError as exc:
                raise AttemptFailed(_describe_connection_error(exc)) from exc
            except requests.RequestException as exc:
                raise AttemptFailed(f"request error ({type(exc).__name__})") from exc
            try:
                return self._read(resp, deadline, accept_status, parse_status, validate)
            finally:
                resp.close()

    def _read(
        self,
        resp: requests.Response,
        deadline: float,
        accept_status: Container[int],
        parse_status: Container[int],
        validate: Callable[[Any], None] | None,
    ) -> JsonResponse:
        status = resp.status_code
        if status == 429:
            retry_after = _parse_retry_after(resp.headers.get("Retry-After"))
            if retry_after is not None and retry_after > self.max_retry_after_s:
                raise AttemptFailed(
                    f"HTTP 429 (Retry-After {retry_after:g} s is longer than {self.max_retry_after_s:g} s)",
                    retryable=False,
                )
            raise AttemptFailed("HTTP 429 (too many requests)", retry_after=retry_after)
        if status >= 500:
            raise AttemptFailed(f"HTTP {status}", retry_after=_parse_retry_after(resp.headers.get("Retry-After")))
        if status not in accept_status:
            raise AttemptFailed(f"HTTP {status}", retryable=False)
        body = self._read_body(resp, deadline)
        if status not in parse_status:
            return JsonResponse(status, None)
        content_type = resp.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            shown = content_type.split(";")[0].strip() or "none"
            raise AttemptFailed(f"unexpected content type '{shown}'")
        try:
            data = json.loads(body.decode(resp.encoding or "utf-8"))
        except (ValueError, LookupError) as exc:
            raise AttemptFailed("malformed JSON response") from exc
        if validate is not None:
            try:
                validate(data)
            except (ValueError, TypeError, KeyError) as exc:
                raise AttemptFailed(f"unexpected response shape ({exc})") from exc
        return JsonResponse(status, data)

    def _read_body(self, resp: requests.Response, deadline: float) -> bytes:
        # read1 returns as soon as *some* bytes arrive, so a server that trickles
        # its body cannot keep us past the deadline (each read is itself bounded
        # by the socket timeout).
        chunks: list[bytes] = []
        size = 0
        raw = resp.raw
        while True:
            if time.monotonic() > deadline:
                raise AttemptFailed(f"timed out after {self.timeout_s:g} s")
            try:
                chunk = raw.read1(65536, decode_content=True)
            except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
                if "timed out" in repr(exc).lower():
                    raise AttemptFailed(f"timed out after {self.timeout_s:g} s") from exc
                raise AttemptFailed("connection dropped while reading the response") from exc
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise AttemptFailed("response too large", retryable=False)
        if time.monotonic() > deadline:
            raise AttemptFailed(f"timed out after {self.timeout_s:g} s")
        return b"".join(chunks)
