"""A real HTTP server on 127.0.0.1 that speaks postcodes.io and Nominatim (for tests).

Answers come from fixture data in ``tests/fixtures/online/``. Faults can be
switched on per path prefix (slow answers, 429 + Retry-After, 5xx with an
optional Retry-After, malformed JSON, a connection dropped mid-body or reset
before any answer, a trickled body or trickled headers, the wrong content type,
impossible coordinates in a real answer, a redirect), and every request is
recorded with its arrival time (``time.monotonic``), so tests can check spacing,
batch sizes and counts from the server's side.
"""

from __future__ import annotations

import csv
import json
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

__all__ = [
    "FIXTURES",
    "Fault",
    "FakeGeoServer",
    "RecordedRequest",
    "load_nominatim_fixture",
    "load_postcodes_fixture",
    "load_terminated_fixture",
    "normalise_query",
]

FIXTURES = Path(__file__).parent / "fixtures" / "online"

FAULT_KINDS = (
    "slow",
    "drip",
    "header_drip",
    "status",
    "status_drip",
    "429",
    "malformed_json",
    "drop",
    "reset",
    "wrong_content_type",
    "coordinates",
    "redirect",
)


def normalise_query(text: str) -> str:
    """Key used for Nominatim fixture lookups: casefolded, single spaces."""
    return " ".join(text.split()).casefold()


def _postcode_key(text: str) -> str:
    compact = "".join(ch for ch in str(text).upper() if ch.isalnum())
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 3 else compact


def load_postcodes_fixture(path: Path = FIXTURES / "postcodes_io_trafford.csv") -> dict[str, dict[str, Any]]:
    """postcodes.io ``result`` objects keyed by postcode, built from the fixture CSV."""

    def opt(value: str) -> str | None:
        return value or None

    results: dict[str, dict[str, Any]] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            results[row["postcode"]] = {
                "postcode": row["postcode"],
                "quality": 1,
                "eastings": int(row["eastings"]),
                "northings": int(row["northings"]),
                "country": "England",
                "longitude": float(row["longitude"]),
                "latitude": float(row["latitude"]),
                "region": "North West",
                "admin_district": row["admin_district"],
                "admin_ward": opt(row["admin_ward"]),
                "lsoa": opt(row["lsoa"]),
                "codes": {
                    "admin_district": row["admin_district_code"],
                    "admin_ward": opt(row["admin_ward_code"]),
                    "lsoa": opt(row["lsoa_code"]),
                },
            }
    return results


def load_terminated_fixture(path: Path = FIXTURES / "postcodes_io_terminated.json") -> dict[str, dict[str, Any]]:
    """postcodes.io terminated-postcode records keyed by postcode."""
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def load_nominatim_fixture(path: Path = FIXTURES / "nominatim_trafford.json") -> dict[str, dict[str, Any]]:
    """Nominatim jsonv2 results keyed by :func:`normalise_query` of the query."""
    return json.loads(path.read_text(encoding="utf-8"))["results"]


def _with_coordinates(payload: Any, value: Any) -> Any:
    """``payload`` (a postcodes.io or Nominatim answer) with every coordinate field set to ``value``."""
    if isinstance(payload, list):
        return [_with_coordinates(item, value) for item in payload]
    if not isinstance(payload, dict):
        return payload
    keys = {"longitude", "latitude", "eastings", "northings", "lon", "lat"}
    return {k: (value if k in keys else _with_coordinates(v, value)) for k, v in payload.items()}


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it."""

    t: float
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body.decode("utf-8"))


@dataclass
class Fault:
    """A misbehaviour for requests whose path starts with ``path_prefix``.

    ``times`` is how many matching requests it affects (``None``: all). ``retry_after`` is sent with a 429
    (default "1") or a ``status`` fault (none by default); ``value`` replaces every coordinate of a real answer
    (``coordinates``); ``location`` is where a ``redirect`` (``status`` 302 by default) points; ``status_drip``
    trickles the body of a ``status`` answer for ``delay_s``.
    """

    kind: str
    path_prefix: str = "/"
    times: int | None = None
    status: int = 503
    delay_s: float = 1.0
    retry_after: str | None = None
    value: Any = None
    location: str = ""
    remaining: int | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault {self.kind!r}")
        self.remaining = self.times


class _QuietServer(ThreadingHTTPServer):
    """Says nothing when a client goes away mid-exchange (what the fault tests make clients do)."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class FakeGeoServer:
    """ThreadingHTTPServer in a background thread on a random free loopback port."""

    def __init__(
        self,
        *,
        postcodes: dict[str, dict[str, Any]] | None = None,
        terminated: dict[str, dict[str, Any]] | None = None,
        nominatim: dict[str, dict[str, Any]] | None = None,
    ) -> None:
        self.postcodes = postcodes if postcodes is not None else load_postcodes_fixture()
        self.terminated = terminated if terminated is not None else load_terminated_fixture()
        self.nominatim = nominatim if nominatim is not None else load_nominatim_fixture()
        self._lock = threading.Lock()
        self._requests: list[RecordedRequest] = []
        self._faults: list[Fault] = []
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler_class())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-geo-server", daemon=True)

    # ------------------------------------------------------------------ control
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeGeoServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def reset(self) -> None:
        """Forget recorded requests and faults."""
        with self._lock:
            self._requests.clear()
            self._faults.clear()

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, prefix: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path.startswith(prefix)]

    # --------------------------------------------------------------- internals
    def _record(self, request: RecordedRequest) -> Fault | None:
        with self._lock:
            self._requests.append(request)
            for fault in self._faults:
                if request.path.startswith(fault.path_prefix) and (fault.remaining is None or fault.remaining > 0):
                    if fault.remaining is not None:
                        fault.remaining -= 1
                    return fault
        return None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # no 40 ms delayed-ACK stalls between header and body writes
            server_version = "FakeGeo/1.0"

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
                return

            # ---------------------------------------------------------- verbs
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                self._handle("GET")

            def do_POST(self) -> None:  # noqa: N802 - stdlib name
                self._handle("POST")

            # -------------------------------------------------------- helpers
            def _handle(self, method: str) -> None:
                arrived = time.monotonic()
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = RecordedRequest(
                    t=arrived,
                    method=method,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    body=body,
                    headers=dict(self.headers.items()),
                )
                fault = server._record(request)
                try:
                    if fault is not None and self._fault(fault, request):
                        return
                    status, payload = self._answer(request)
                    self._send_json(status, payload)
                except OSError:  # the client went away (or gave up): nothing more to send
                    self.close_connection = True

            def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                for key, value in (extra or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)
                self.wfile.flush()

            def _send_json(self, status: int, payload: Any, extra: dict[str, str] | None = None) -> None:
                self._send(status, json.dumps(payload).encode("utf-8"), "application/json; charset=utf-8", extra)

            def _fault(self, fault: Fault, request: RecordedRequest) -> bool:
                """Apply ``fault``; True when the response has been dealt with."""
                if fault.kind == "slow":
                    time.sleep(fault.delay_s)
                    return False  # then answer normally (too late for the client)
                if fault.kind == "status":
                    extra = {"Retry-After": fault.retry_after} if fault.retry_after is not None else None
                    self._send_json(fault.status, {"status": fault.status, "error": "fault injected"}, extra)
                    return True
                if fault.kind == "429":
                    self._send_json(
                        429,
                        {"status": 429, "error": "Too Many Requests"},
                        {"Retry-After": fault.retry_after or "1"},
                    )
                    return True
                if fault.kind == "coordinates":
                    status, payload = self._answer(request)
                    self._send_json(status, _with_coordinates(payload, fault.value))
                    return True
                if fault.kind == "redirect":
                    self._send_json(fault.status if 300 <= fault.status < 400 else 302, {"moved": True},
                                    {"Location": fault.location})
                    return True
                if fault.kind == "reset":  # RST before any byte of an answer (SO_LINGER 0, then close)
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    self.close_connection = True
                    return True
                if fault.kind == "header_drip":  # the status line and headers, one byte at a time
                    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + b"X-Pad: " + b"a" * 10_000
                    end = time.monotonic() + fault.delay_s
                    for byte in head:
                        if time.monotonic() > end:
                            break
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(0.02)
                    self.close_connection = True
                    return True
                if fault.kind == "malformed_json":
                    self._send(200, b'{"status": 200, "result": [{"query": ', "application/json")
                    return True
                if fault.kind == "wrong_content_type":
                    self._send(200, b"<html><body>Please sign in to the network</body></html>", "text/html")
                    return True
                if fault.kind == "drop":
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "5000")
                    self.end_headers()
                    self.wfile.write(b'{"status": 200, "result": [')
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return True
                if fault.kind in ("drip", "status_drip"):  # the body, one space at a time
                    self.send_response(200 if fault.kind == "drip" else fault.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000")
                    self.end_headers()
                    end = time.monotonic() + fault.delay_s
                    while time.monotonic() < end:
                        self.wfile.write(b" ")
                        self.wfile.flush()
                        time.sleep(0.02)
                    self.close_connection = True
                    return True
                raise AssertionError(fault.kind)

            def _answer(self, request: RecordedRequest) -> tuple[int, Any]:
                path = request.path
                if request.method == "POST" and path == "/postcodes":
                    try:
                        postcodes = json.loads(request.body)["postcodes"]
                    except (ValueError, KeyError, TypeError):
                        return 400, {"status": 400, "error": "Invalid JSON submitted"}
                    if len(postcodes) > 100:
                        return 400, {"status": 400, "error": "Too many postcodes submitted (limit 100)"}
                    return 200, {
                        "status": 200,
                        "result": [
                            {"query": pc, "result": server.postcodes.get(_postcode_key(pc))} for pc in postcodes
                        ],
                    }
                if request.method == "GET" and path.startswith("/terminated_postcodes/"):
                    pc = _postcode_key(unquote(path.rsplit("/", 1)[1]))
                    record = server.terminated.get(pc)
                    if record is None:
                        return 404, {"status": 404, "error": "Terminated postcode not found"}
                    return 200, {"status": 200, "result": record}
                if request.method == "GET" and path == "/search":
                    query = {k: v[0] for k, v in request.query.items()}
                    if query.get("format") != "jsonv2":
                        return 400, {"error": "this fake only speaks format=jsonv2"}
                    if "q" in query:
                        key = normalise_query(query["q"])
                    else:
                        fields = ("amenity", "street", "city", "county", "state", "postalcode")
                        key = normalise_query(", ".join(query[f] for f in fields if query.get(f)))
                    hit = server.nominatim.get(key)
                    return 200, [hit] if hit else []
                return 404, {"status": 404, "error": "Resource not found"}

        return Handler
