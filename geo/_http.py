"""HTTP for the online geocoders (private to :mod:`geo.online`).

:class:`ServiceClient`: a requests session with :class:`urllib3.util.Retry` on its ``HTTPAdapter`` (retries, backoff,
``Retry-After``), plus what those lack: a hard limit per attempt (a watchdog shuts the socket down, so a server that
drips its headers cannot hold an attempt), a ``Retry-After`` cap, the run's deadline, a body cap, no redirect to another
host, answer checks and a circuit breaker; every failure is a :class:`ServiceUnavailable` with a readable reason.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import MaxRetryError, NameResolutionError, NewConnectionError
from urllib3.util import Retry

if TYPE_CHECKING:
    from geo.online import OnlineSettings

__all__ = ["RateLimiter", "ServiceClient", "ServiceUnavailable", "rate_limiter_for"]

#: Largest response body accepted (bytes, after decompression); protects against runaway answers.
MAX_BODY_BYTES = 16 * 1024 * 1024
#: Same-host redirects followed for one request (a redirect to another host is never followed).
MAX_REDIRECTS = 5
_RETRY_STATUSES = frozenset({429, *range(500, 600)})


class ServiceUnavailable(Exception):
    """A request gave up (retries exhausted, not retryable, circuit open, deadline passed); ``str()`` says why."""


class _AnswerError(Exception):
    """An answer that arrived but cannot be used (bad body, status, type or shape)."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.retryable = retryable


class RateLimiter:
    """Serialises requests to one host, ``min_interval`` s from the end of one to the start of the next (the Nominatim
    usage policy: no parallel requests, at most one per second)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_end: float | None = None

    @contextlib.contextmanager
    def slot(self, min_interval: float) -> Iterator[None]:
        """Wait for this host's next free slot and hold it while the request (and its retries) runs."""
        with self._lock:
            while self._last_end is not None and (wait := self._last_end + min_interval - time.monotonic()) > 0:
                time.sleep(wait)
            try:
                yield
            finally:
                self._last_end = time.monotonic()


_LIMITERS: dict[str, RateLimiter] = {}


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def rate_limiter_for(url: str) -> RateLimiter:
    """Return the process-wide rate limiter of the host serving ``url`` (scheme and ``host:port`` form the key)."""
    return _LIMITERS.setdefault(_origin(url), RateLimiter())  # (one atomic dict operation: thread-safe)


_LOCAL = threading.local()  # .client: the ServiceClient sending (or last sent) on this thread, for Retry and watchdog


class _Retry(Retry):
    """urllib3's Retry reporting every failed attempt to the client sending, which stops the retries when its breaker
    opens, the ``Retry-After`` is longer than the cap or the wait would pass the run's deadline."""

    def parse_retry_after(self, retry_after: str) -> float:
        try:
            return super().parse_retry_after(retry_after)
        except urllib3.exceptions.InvalidHeader:
            return 0.0  # unreadable: the normal backoff applies

    def get_backoff_time(self) -> float:
        return max(super().get_backoff_time(), _LOCAL.client.min_interval_s)  # a retry is a request too

    def increment(self, method: str | None = None, url: str | None = None, response: Any = None,
                  error: Exception | None = None, _pool: Any = None, _stacktrace: Any = None) -> _Retry:
        client: ServiceClient = _LOCAL.client
        wait = self.get_retry_after(response) if response is not None else None
        client.attempt_failed(error, response, wait)
        if (wait is not None and wait > client.max_retry_after_s) or client.stopped(wait):
            raise MaxRetryError(_pool, url or "", error)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        if client.stopped(wait or retry.get_backoff_time()):
            raise MaxRetryError(_pool, url or "", error)
        return retry


class _WatchedConnection(HTTPConnection):
    """An HTTP connection that starts its client's per-attempt watchdog when it connects or sends."""

    def connect(self) -> None:
        _LOCAL.client.attempt_started(self)
        super().connect()

    def request(self, *args: Any, **kwargs: Any) -> None:  # type: ignore[override]
        _LOCAL.client.attempt_started(self)
        super().request(*args, **kwargs)


_WatchedHTTPSConnection = type("_WatchedHTTPSConnection", (_WatchedConnection, HTTPSConnection), {})  # TLS too
_POOLS = {"http": type("_WatchedPool", (HTTPConnectionPool,), {"ConnectionCls": _WatchedConnection}),
          "https": type("_WatchedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": _WatchedHTTPSConnection})}


class _WatchedAdapter(HTTPAdapter):
    """requests' HTTPAdapter whose pools (direct or through an HTTP proxy) make watched connections."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = _POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        manager.pool_classes_by_scheme = _POOLS
        return manager


class ServiceClient:
    """JSON over HTTP to one service (``name``) for one run, configured by ``settings`` (geo.online.OnlineSettings).

    No attempt runs past ``deadline`` (:func:`time.monotonic`); with ``limiter`` every request, retries included,
    starts ``min_interval_s`` after the previous one. The breaker opens after ``settings.circuit_breaker_failures``
    failed attempts in a row, for the run.
    """

    def __init__(self, name: str, settings: OnlineSettings, *, deadline: float, limiter: RateLimiter | None = None,
                 min_interval_s: float = 0.0) -> None:
        self.name, self.deadline, self.limiter = name, deadline, limiter
        self.timeout_s, self.max_retry_after_s = settings.timeout_s, settings.max_retry_after_s
        self.run_deadline_s, self.threshold = settings.run_deadline_s, settings.circuit_breaker_failures
        self.min_interval_s = min_interval_s if limiter is not None else 0.0
        #: HTTP attempts sent; failed attempts in a row and the last one's reason; breaker open; deadline passed.
        self.attempts = self.failures_in_a_row = 0
        self.last_reason, self.is_open, self.out_of_time = "", False, False
        self._retry = _Retry(total=settings.max_retries, allowed_methods=frozenset({"GET", "POST"}),
                             status_forcelist=_RETRY_STATUSES, backoff_factor=settings.backoff,
                             backoff_max=settings.max_backoff_s, raise_on_status=False)
        self._adapter = _WatchedAdapter(max_retries=self._retry)
        self._session = requests.Session()
        self._session.trust_env = settings.trust_env
        self._session.headers.update({"User-Agent": settings.effective_user_agent, "Accept": "application/json"})
        for prefix in ("http://", "https://"):
            self._session.mount(prefix, self._adapter)
        self._lock = threading.Lock()
        self._watchdog: threading.Timer | None = None
        self._timed_out = self._failed = False

    def close(self) -> None:
        """Close the HTTP session."""
        self._session.close()

    @property
    def breaker_state(self) -> str:
        """e.g. ``"3 failures, last: HTTP 503"``."""
        return f"{self.failures_in_a_row} failures, last: {self.last_reason}"

    def attempt_started(self, conn: HTTPConnection) -> None:
        """Start the watchdog of a new attempt on ``conn`` (no-op within one: it connects, then sends)."""
        with self._lock:
            if self._watchdog is not None:
                if not self._failed:
                    return
                self._watchdog.cancel()
            self.attempts += 1
            self._failed = self._timed_out = False
            limit = max(0.0, min(self.timeout_s, self.deadline - time.monotonic()))
            self._watchdog = threading.Timer(limit, self._expire, (conn,))
            self._watchdog.daemon = True
            self._watchdog.start()

    def _expire(self, conn: HTTPConnection) -> None:
        with self._lock:
            if self._watchdog is not threading.current_thread():
                return  # that attempt already ended
            self._timed_out = True
            if conn.sock is not None:  # wakes a blocked read: the attempt fails at once
                with contextlib.suppress(OSError):
                    conn.sock.shutdown(socket.SHUT_RDWR)

    def _attempt_ended(self) -> None:
        with self._lock:
            if self._watchdog is not None:
                self._watchdog.cancel()
                self._watchdog = None

    def attempt_failed(self, error: BaseException | None, response: Any = None, retry_after: float | None = None,
                       ) -> None:
        """Count a failed attempt on the breaker (its watchdog runs on: urllib3 still reads the failed answer)."""
        with self._lock:
            self._failed = True
        reason = self._describe(error, response)
        if retry_after is not None and retry_after > self.max_retry_after_s:
            reason += f" (Retry-After {retry_after:g} s is longer than {self.max_retry_after_s:g} s)"
        self.last_reason = reason
        self.failures_in_a_row += 1
        self.is_open = self.is_open or self.failures_in_a_row >= self.threshold

    def stopped(self, wait: float | None = 0.0) -> bool:
        """Whether no further attempt may start (after ``wait`` seconds): breaker open or run deadline passed."""
        if time.monotonic() + (wait or 0.0) >= self.deadline:
            self.out_of_time = True
        return self.out_of_time or self.is_open

    def _describe(self, error: BaseException | None, response: Any) -> str:
        if response is not None:
            return f"HTTP {response.status}"
        if isinstance(error, (requests.RequestException, MaxRetryError)):  # the cause, not the wrapper
            inner = error.args[0] if isinstance(error, requests.RequestException) and error.args else error
            error = inner.reason if isinstance(inner, MaxRetryError) and inner.reason is not None else inner
        if isinstance(error, _AnswerError):
            return str(error)
        if isinstance(error, NameResolutionError):
            return "could not resolve the host name"
        if isinstance(error, NewConnectionError):
            return "could not connect (connection refused or host unreachable)"
        if self._timed_out or isinstance(error, (TimeoutError, urllib3.exceptions.TimeoutError, requests.Timeout)):
            return f"timed out after {self.timeout_s:g} s"
        if isinstance(error, (urllib3.exceptions.SSLError, requests.exceptions.SSLError)):
            return "TLS/SSL error"
        return "connection dropped"

    def request_json(self, method: str, url: str, *, params: Mapping[str, str] | None = None, json_body: Any = None,
                     none_on_404: bool = False, extract: Callable[[Any], Any] = lambda data: data) -> Any:
        """Send one request and return ``extract(parsed JSON)``; transient failures are retried (urllib3 Retry).

        A 404 returns ``None`` with ``none_on_404``; another status than 200 fails (429 and 5xx after the retries).
        ``extract`` raising ``ValueError``, ``TypeError``, ``KeyError`` or ``IndexError`` means a wrong shape: a failed
        attempt, retried. :class:`ServiceUnavailable` when no usable answer could be obtained.
        """
        slot = self.limiter.slot(self.min_interval_s) if self.limiter is not None else contextlib.nullcontext()
        first, retry, redirects = self.attempts, self._retry, 0
        with slot:
            while True:
                if self.stopped():
                    raise self._unavailable()
                self._adapter.max_retries = retry  # the budget left after the answer-level failures below
                _LOCAL.client, failures = self, self.failures_in_a_row
                try:
                    resp = self._session.request(method, url, params=params, json=json_body, stream=True,
                                                 timeout=(self.timeout_s, self.timeout_s), allow_redirects=False)
                except requests.RequestException as exc:
                    if self.failures_in_a_row == failures:  # failed without going through Retry (not retryable)
                        self.attempt_failed(exc)
                    self._attempt_ended()
                    raise self._failure(first) from exc
                try:
                    if resp.status_code in _RETRY_STATUSES:  # urllib3 gave up on it, its reason is recorded
                        raise self._failure(first)
                    if resp.is_redirect:
                        url, params = self._redirect_target(url, resp, redirects), None
                        redirects += 1
                        continue
                    answer = self._answer(resp, none_on_404, extract)
                except _AnswerError as exc:
                    if not exc.retryable:
                        self.attempt_failed(exc)
                        raise self._failure(first) from exc
                    try:
                        retry = resp.raw.retries.increment(method, url, error=exc)
                    except MaxRetryError:
                        raise self._failure(first) from exc
                    retry.sleep()
                    continue
                finally:
                    resp.close()
                    self._attempt_ended()
                self.failures_in_a_row = 0
                return answer

    def _unavailable(self) -> ServiceUnavailable:
        if self.is_open:
            return ServiceUnavailable(f"online geocoding unavailable ({self.name}: {self.breaker_state})")
        return ServiceUnavailable(f"online geocoding stopped ({self.name}: the run's deadline of "
                                  f"{self.run_deadline_s:g} s passed)")

    def _failure(self, first: int) -> ServiceUnavailable:
        if self.stopped():
            return self._unavailable()
        attempts = self.attempts - first
        return ServiceUnavailable(f"online geocoding failed ({self.name}: {self.last_reason} after {attempts} "
                                  f"attempt{'' if attempts == 1 else 's'})")

    def _redirect_target(self, url: str, resp: requests.Response, redirects: int) -> str:
        target = urljoin(url, resp.headers.get("Location", ""))
        if _origin(target) != _origin(url):  # no request leaves the configured host
            raise _AnswerError(f"HTTP {resp.status_code} redirect to another host ({urlsplit(target).netloc}) "
                               "refused", retryable=False)
        if resp.status_code == 303 or redirects >= MAX_REDIRECTS:
            raise _AnswerError(f"HTTP {resp.status_code} redirect not followed", retryable=False)
        return target

    def _answer(self, resp: requests.Response, none_on_404: bool, extract: Callable[[Any], Any]) -> Any:
        status = resp.status_code
        if status != 200 and not (none_on_404 and status == 404):
            raise _AnswerError(f"HTTP {status}", retryable=False)
        body = self._read_body(resp)
        if status == 404:
            return None
        content_type = resp.headers.get("Content-Type", "")
        if "json" not in content_type.lower():
            raise _AnswerError(f"unexpected content type '{content_type.split(';')[0].strip() or 'none'}'")
        try:
            data = json.loads(body.decode(resp.encoding or "utf-8"))
        except (ValueError, LookupError) as exc:
            raise _AnswerError("malformed JSON response") from exc
        try:
            return extract(data)
        except (ValueError, TypeError, KeyError, IndexError) as exc:
            raise _AnswerError(f"unexpected response shape ({exc})") from exc

    def _read_body(self, resp: requests.Response) -> bytes:
        # read1 returns as soon as *some* bytes arrive; the watchdog ends a trickle at the attempt's limit.
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := resp.raw.read1(65536, decode_content=True):
                chunks.append(chunk)
                size += len(chunk)
                if size > MAX_BODY_BYTES:
                    raise _AnswerError("response too large", retryable=False)
        except (urllib3.exceptions.HTTPError, requests.RequestException, OSError) as exc:
            if self._timed_out or isinstance(exc, urllib3.exceptions.TimeoutError):
                raise _AnswerError(f"timed out after {self.timeout_s:g} s") from exc
            raise _AnswerError("connection dropped while reading the response") from exc
        if self._timed_out:
            raise _AnswerError(f"timed out after {self.timeout_s:g} s")
        return b"".join(chunks)
