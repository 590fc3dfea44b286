"""Online geocoding (geo.online) against a real HTTP server on 127.0.0.1.

The server (tests/online_server.py) speaks the postcodes.io and Nominatim
response shapes from real Trafford fixture data and can misbehave on demand.
Nothing is mocked on the client side: requests, sockets, SQLite and pyproj are
real. The suite-wide loopback guard (tests/network_guard.py, armed in conftest)
makes any attempt to reach a non-loopback address (connect or DNS lookup) fail.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import FrozenInstanceError
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from geo.geocoder import geocode
from geo.online import (
    METHOD_NOMINATIM,
    METHOD_POSTCODES_IO,
    METHOD_POSTCODES_IO_TERMINATED,
    OnlineGeocoder,
    OnlineSettings,
    fill_online,
    fill_online_with_summary,
    load_online_settings,
    nominatim_precision,
)

sys.path.insert(0, str(Path(__file__).parent))
from network_guard import Guard  # noqa: E402
from online_server import Fault, load_nominatim_fixture, load_postcodes_fixture  # noqa: E402

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
#: Trafford's bounding box (2023 boundary, trafford-datalab-spatial), min_lon, min_lat, max_lon, max_lat.
TRAFFORD_BBOX = (-2.4784396, 53.35742464, -2.25302233, 53.4803738)
POSTCODES = load_postcodes_fixture()
NOMINATIM = load_nominatim_fixture()
#: Real Trafford postcodes that are in ONSPD Nov 2025 but not in the Feb 2025 Trafford Data Lab list
#: (new-builds: exactly what an offline table built earlier misses).
NEW_BUILDS = ["M16 0ZP", "M17 8AY", "M31 4TR", "M33 0LJ", "M33 7HQ", "M41 7GG", "WA14 1AU", "WA14 4YH"]


# ====================================================================== fixtures
def make_settings(url: str, cache: Path, **changes: Any) -> OnlineSettings:
    """Fast settings for tests: short timeout and backoff, loopback URLs."""
    values: dict[str, Any] = {
        "enabled": True,
        "postcodes_io_url": url,
        "nominatim_url": url,
        "cache_path": cache,
        "contact": "estates-tests@example.invalid",
        "timeout_s": 0.3,
        "max_retries": 2,
        "backoff": 0.01,
        "max_backoff_s": 0.05,
        "max_retry_after_s": 5.0,
        "nominatim_min_interval_s": 0.02,
        "circuit_breaker_failures": 50,
        "place_name": "Trafford",
        "place_bbox": TRAFFORD_BBOX,
        "accept_within_km": 5.0,
        "trust_env": False,
    }
    values.update(changes)
    return OnlineSettings(**values)


def offline_frame(rows: list[dict[str, Any]], index: list[Any] | None = None) -> pd.DataFrame:
    """A frame as the offline geocoder returns it (original columns + geocode contract)."""
    defaults = {
        "postcode_normalised": "",
        "lon": np.nan,
        "lat": np.nan,
        "easting": np.nan,
        "northing": np.nan,
        "geocode_method": "none",
        "geocode_precision": "none",
        "geocode_issue": "",
    }
    return pd.DataFrame([{**defaults, **row} for row in rows], index=index)


def unresolved(name: str, postcode: str, address: str | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "PostCode": postcode,
        "address": address,
        "postcode_normalised": postcode,
        "geocode_issue": f"postcode {postcode} was not found in the postcode table",
    }


def partial(name: str, district: str, address: str | None, lon: float, lat: float) -> dict[str, Any]:
    return {
        "name": name,
        "PostCode": district,
        "address": address,
        "postcode_normalised": district,
        "lon": lon,
        "lat": lat,
        "easting": 0.0,
        "northing": 0.0,
        "geocode_method": "postcode_district",
        "geocode_precision": "low",
        "geocode_issue": f"only a partial postcode ({district}); located at its district centroid",
    }


def run(frame: pd.DataFrame, settings: OnlineSettings, **kwargs: Any):
    address = frame.get("address")
    return fill_online_with_summary(frame, postcode=frame["PostCode"], address=address, settings=settings, **kwargs)


def closed_port_url() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"  # nothing listens here any more


# ================================================================ off by default
def test_guard_refuses_non_loopback_connections():
    with pytest.raises(RuntimeError, match="non-loopback"):
        socket.create_connection(("192.0.2.1", 80), timeout=0.1)  # TEST-NET-1; blocked before any packet
    with pytest.raises(RuntimeError, match="non-loopback"):
        socket.getaddrinfo("api.postcodes.io", 443)
    Guard.violations.clear()


def test_disabled_by_default_sends_nothing(server, tmp_path):
    defaults = OnlineSettings()
    assert defaults.enabled is False
    frame = offline_frame([unresolved("New build", "M33 7HQ", "Former Sale Magistrates Courts, Sale")])
    # Public default URLs: the loopback guard would fail the test on any connection or DNS lookup.
    out = fill_online(frame, postcode=frame["PostCode"], address=frame["address"], settings=defaults)
    pd.testing.assert_frame_equal(out, frame)
    assert out is not frame
    # Same with the fake server configured but enabled=False: it sees nothing, no cache file is made.
    cache = tmp_path / "cache.sqlite"
    off = make_settings(server.url, cache, enabled=False)
    out, summary = run(frame, off)
    pd.testing.assert_frame_equal(out, frame)
    assert server.requests == []
    assert not cache.exists()
    assert summary.enabled is False
    assert "off" in str(summary)


# ================================================================= postcodes.io
def test_postcodes_io_locates_postcodes_missing_offline(server, tmp_path):
    rows = [unresolved(f"site {pc}", pc) for pc in NEW_BUILDS]
    rows.append(
        {
            "name": "Trafford Town Hall",
            "PostCode": "M32 0TH",
            "postcode_normalised": "M32 0TH",
            "lon": -2.287483,
            "lat": 53.458999,
            "easting": 381009.0,
            "northing": 395844.0,
            "geocode_method": "postcode",
            "geocode_precision": "medium",
        }
    )
    frame = offline_frame(rows)
    out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))

    posts = server.requests_to("/postcodes")
    assert len(posts) == 1
    assert posts[0].method == "POST"
    assert posts[0].json() == {"postcodes": NEW_BUILDS}  # the medium row is not sent
    assert "estates-tests@example.invalid" in posts[0].headers["User-Agent"]
    for i, pc in enumerate(NEW_BUILDS):
        row, real = out.iloc[i], POSTCODES[pc]
        assert row["geocode_method"] == METHOD_POSTCODES_IO
        assert row["geocode_precision"] == "medium"
        assert row["geocode_issue"] == ""
        assert (row["lon"], row["lat"]) == (real["longitude"], real["latitude"])
        assert (row["easting"], row["northing"]) == (real["eastings"], real["northings"])
    pd.testing.assert_series_equal(out.iloc[-1], frame.iloc[-1], check_names=False)
    assert summary.located == {METHOD_POSTCODES_IO: len(NEW_BUILDS)}
    assert summary.postcodes_sent == len(NEW_BUILDS)


def test_bulk_batches_never_exceed_100_and_progress_from_worker_thread(server, tmp_path):
    postcodes = list(POSTCODES)[:250]
    frame = offline_frame([unresolved(f"site {i}", pc.lower().replace(" ", "")) for i, pc in enumerate(postcodes)])
    frame["postcode_normalised"] = ""  # make it use the raw postcode column, spelt "m337hq"
    calls: list[tuple[int, int]] = []
    settings = make_settings(server.url, tmp_path / "c.sqlite")

    def work():
        thread = threading.current_thread().name
        result = fill_online(
            frame,
            postcode=frame["PostCode"],
            address=None,
            settings=settings,
            progress=lambda done, total: calls.append((done, total)),
        )
        return result, thread

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="geo-worker") as pool:
        out, thread = pool.submit(work).result(timeout=60)
    assert thread.startswith("geo-worker")

    sizes = [len(r.json()["postcodes"]) for r in server.requests_to("/postcodes")]
    assert sizes == [100, 100, 50]
    assert max(sizes) <= 100
    assert (out["geocode_method"] == METHOD_POSTCODES_IO).all()
    assert out["postcode_normalised"].tolist() == postcodes
    assert calls[0] == (0, 250)
    assert calls[-1] == (250, 250)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) >= 4  # reported per batch, not only at the end


def test_terminated_and_unknown_postcodes(server, tmp_path):
    frame = offline_frame([unresolved("old site", "E1W 1UU"), unresolved("typo", "M33 9ZZ")])
    out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))

    terminated, unknown = out.iloc[0], out.iloc[1]
    assert terminated["geocode_method"] == METHOD_POSTCODES_IO_TERMINATED
    assert terminated["geocode_precision"] == "low"
    assert terminated["geocode_issue"] == "postcode E1W 1UU terminated in 2007-12; located at its last centroid"
    assert (terminated["lon"], terminated["lat"]) == (-0.051135, 51.508774)
    assert (terminated["easting"], terminated["northing"]) == (534812, 180747)

    assert unknown["geocode_method"] == "none"
    assert np.isnan(unknown["lon"])
    assert unknown["geocode_issue"] == (
        "postcode M33 9ZZ not found on postcodes.io (neither live nor terminated); offline result kept "
        "(postcode M33 9ZZ was not found in the postcode table)"
    )
    paths = [r.path for r in server.requests]
    assert paths == ["/postcodes", "/terminated_postcodes/E1W%201UU", "/terminated_postcodes/M33%209ZZ"]
    assert summary.rows_not_found == 1


# =================================================================== Nominatim
def test_nominatim_for_address_only_rows(server, tmp_path):
    frame = offline_frame(
        [
            partial("courts", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42),
            partial("library", "WA15", "Hale Library Site, Hale", -2.33, 53.37),
            partial("street", "WA14", "Regent Road, Altrincham", -2.35, 53.39),
            partial("town", "M31", "Partington", -2.42, 53.42),
            unresolved("Sonova House", "WA1 1RX", "Sonova House, Lakeside Drive, Warrington"),
            partial("unknown", "M41", "Jeremy Field, Urmston", -2.36, 53.45),
            partial("no address", "M32", None, -2.30, 53.45),
        ]
    )
    out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))
    by = out.set_index("name")

    courts = by.loc["courts"]
    real = NOMINATIM["former sale magistrates courts, sale"]
    assert courts["geocode_method"] == METHOD_NOMINATIM
    assert courts["geocode_precision"] == "medium"
    assert courts["geocode_issue"] == ""
    assert (courts["lon"], courts["lat"]) == (float(real["lon"]), float(real["lat"]))
    # BNG computed with pyproj (EPSG:4326 -> 27700) since Nominatim gives none; close to the M33 7 postcodes.
    assert courts["easting"] == pytest.approx(378479, abs=2)
    assert courts["northing"] == pytest.approx(392208, abs=2)
    assert by.loc["library", "geocode_precision"] == "medium"

    street = by.loc["street"]
    assert (street["geocode_method"], street["geocode_precision"]) == (METHOD_NOMINATIM, "low")
    assert street["geocode_issue"].startswith("located by Nominatim at street level only ('Regent Road")

    town = by.loc["town"]  # an area-level match is no better than a district centroid
    assert (town["geocode_method"], town["lon"]) == ("postcode_district", -2.42)
    assert "only to an area" in town["geocode_issue"]
    assert town["geocode_issue"].endswith(
        "offline result kept (only a partial postcode (M31); located at its district centroid)"
    )

    far = by.loc["Sonova House"]  # found, but 7.8 km outside Trafford's box: rejected
    assert far["geocode_method"] == "none"
    assert np.isnan(far["lon"])
    assert "7.8 km outside the Trafford area; not used" in far["geocode_issue"]
    assert far["geocode_issue"].startswith("postcode WA1 1RX not found on postcodes.io")

    assert by.loc["unknown", "geocode_issue"].startswith("address 'Jeremy Field, Urmston' not found by Nominatim")
    pd.testing.assert_series_equal(by.loc["no address"], frame.set_index("name").loc["no address"])

    searches = server.requests_to("/search")
    assert len(searches) == 6
    for request in searches:
        params = {k: v[0] for k, v in request.query.items()}
        assert params["format"] == "jsonv2"
        assert params["countrycodes"] == "gb"
        assert params["limit"] == "1"
        assert params["addressdetails"] == "0"
        assert params["viewbox"] == ",".join(f"{v:.6f}" for v in TRAFFORD_BBOX)
        assert "bounded" not in params  # bias, not a hard limit
        assert "estates-tests@example.invalid" in request.headers["User-Agent"]
    assert summary.rows_rejected == 1
    assert summary.rows_not_found == 1  # Sonova House counts as rejected, not also as not found
    assert summary.located == {METHOD_NOMINATIM: 3}


def test_structured_address_search(server, tmp_path):
    frame = offline_frame([partial("library", "WA15", None, -2.33, 53.37)])
    structured = pd.DataFrame({"amenity": ["Hale Library Site"], "city": ["Hale"]}, index=frame.index)
    out = fill_online(
        frame, postcode=frame["PostCode"], address=structured, settings=make_settings(server.url, tmp_path / "c.sqlite")
    )
    assert out.loc[0, "geocode_method"] == METHOD_NOMINATIM
    (request,) = server.requests_to("/search")
    assert request.query["amenity"] == ["Hale Library Site"]
    assert request.query["city"] == ["Hale"]
    assert "q" not in request.query


def test_nominatim_rate_limit_is_one_per_second_across_threads(server, tmp_path):
    queries = [
        "Former Sale Magistrates Courts, Sale",
        "Hale Library Site, Hale",
        "Former Royal Mail Sorting Office, Stretford",
        "Regent Road, Altrincham",
    ]
    settings = make_settings(server.url, tmp_path / "c.sqlite", nominatim_min_interval_s=1.0)

    def work(pair: list[str]) -> pd.DataFrame:
        frame = offline_frame([partial(q, "M33", q, -2.3, 53.4) for q in pair])
        return fill_online(frame, postcode=frame["PostCode"], address=frame["address"], settings=settings)

    with ThreadPoolExecutor(max_workers=2) as pool:  # two runs at once share the process-wide limiter
        outs = list(pool.map(work, [queries[:2], queries[2:]]))

    times = sorted(r.t for r in server.requests_to("/search"))
    assert len(times) == 4
    gaps = np.diff(times)
    assert (gaps >= 1.0).all(), gaps
    print(f"\nNominatim request gaps (s): {np.round(gaps, 3).tolist()}")
    assert all((o["geocode_method"] == METHOD_NOMINATIM).all() for o in outs)


# ======================================================================= cache
def test_cache_prevents_second_call_across_instances(server, tmp_path):
    cache = tmp_path / "shared.sqlite"
    frame = offline_frame(
        [
            unresolved("new", "M33 7HQ"),
            unresolved("terminated", "E1W 1UU"),
            unresolved("unknown", "M33 9ZZ"),  # negative answers are cached too
            partial("courts", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42),
            partial("nothing", "M41", "Jeremy Field, Urmston", -2.36, 53.45),
        ]
    )
    settings = make_settings(server.url, cache)
    with OnlineGeocoder(settings) as first:
        out1, s1 = first.fill(frame, postcode=frame["PostCode"], address=frame["address"])
    sent = len(server.requests)
    assert sent == 5  # 1 bulk + 2 terminated checks + 2 searches
    assert s1.http_requests == sent

    with OnlineGeocoder(settings) as second:  # a new instance (a new run) on the same file
        out2, s2 = second.fill(frame, postcode=frame["PostCode"], address=frame["address"])
    assert len(server.requests) == sent  # nothing sent again
    pd.testing.assert_frame_equal(out1, out2)
    assert (s2.postcodes_cached, s2.terminated_cached, s2.addresses_cached) == (3, 2, 2)
    assert s2.http_requests == 0

    with sqlite3.connect(cache) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        stored = dict(conn.execute("SELECT query, answer FROM answers WHERE service = 'postcodes_io'").fetchall())
    assert json.loads(stored["M33 9ZZ"]) is None

    out3, s3 = run(frame, settings.replace(refresh=True))  # refresh: asks again, still writes
    assert len(server.requests) == 2 * sent
    pd.testing.assert_frame_equal(out1, out3)
    assert s3.postcodes_cached == 0


def test_cache_entries_expire_negative_sooner(server, tmp_path):
    cache = tmp_path / "c.sqlite"
    frame = offline_frame([unresolved("new", "M33 7HQ"), unresolved("unknown", "M33 9ZZ")])
    settings = make_settings(server.url, cache, cache_max_age_days=30, negative_cache_max_age_days=7)
    run(frame, settings)
    assert len(server.requests) == 2  # 1 bulk + 1 terminated check
    with sqlite3.connect(cache) as conn:  # as if fetched 10 days ago
        conn.execute("UPDATE answers SET fetched_at = datetime('now', '-10 days') || '+00:00'")
    server.reset()
    out, summary = run(frame, settings)
    # The "not found" answers (older than 7 days) are asked again; the found postcode (younger than 30) is not.
    assert [r.path for r in server.requests] == ["/postcodes", "/terminated_postcodes/M33%209ZZ"]
    assert server.requests[0].json() == {"postcodes": ["M33 9ZZ"]}
    assert (summary.postcodes_cached, out.loc[0, "geocode_method"]) == (1, METHOD_POSTCODES_IO)
    server.reset()
    run(frame, settings.replace(cache_max_age_days=5))  # now the found one is too old as well (9ZZ was just asked)
    assert [r.json() for r in server.requests_to("/postcodes")] == [{"postcodes": ["M33 7HQ"]}]


# ====================================================================== faults
def test_transient_faults_are_retried_until_success(server, tmp_path):
    server.add_fault(Fault("status", path_prefix="/postcodes", status=503, times=1))
    server.add_fault(Fault("drop", path_prefix="/postcodes", times=1))
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    out, _ = run(frame, make_settings(server.url, tmp_path / "c.sqlite", max_retries=3))
    assert len(server.requests_to("/postcodes")) == 3
    assert out.loc[0, "geocode_method"] == METHOD_POSTCODES_IO
    assert out.loc[0, "geocode_issue"] == ""


def test_retry_after_is_honoured(server, tmp_path):
    server.add_fault(Fault("429", path_prefix="/postcodes", retry_after="1", times=1))
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    out, _ = run(frame, make_settings(server.url, tmp_path / "c.sqlite", backoff=0.01))
    first, second = server.requests_to("/postcodes")
    assert second.t - first.t >= 1.0  # not the 0.01 s backoff
    assert out.loc[0, "geocode_method"] == METHOD_POSTCODES_IO


def test_retry_after_longer_than_allowed_gives_up_at_once(server, tmp_path):
    server.add_fault(Fault("429", path_prefix="/postcodes", retry_after="3600"))
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    out, _ = run(frame, make_settings(server.url, tmp_path / "c.sqlite", max_retry_after_s=2.0))
    assert len(server.requests_to("/postcodes")) == 1
    assert "Retry-After 3600 s is longer than 2 s" in out.loc[0, "geocode_issue"]
    assert out.loc[0, "geocode_issue"].startswith("online geocoding failed (postcodes.io: HTTP 429")


def test_circuit_breaker_opens_and_stops_requests(server, tmp_path):
    server.add_fault(Fault("status", path_prefix="/postcodes", status=503))
    postcodes = list(POSTCODES)[:250]
    rows = [unresolved(f"site {i}", pc) for i, pc in enumerate(postcodes)]
    rows.append(partial("courts", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42))
    frame = offline_frame(rows)
    settings = make_settings(server.url, tmp_path / "c.sqlite", max_retries=1, circuit_breaker_failures=3)
    out, summary = run(frame, settings)

    # batch 1: 2 attempts (2 failures); batch 2: 1 attempt -> 3 consecutive failures -> open; batch 3: nothing.
    assert len(server.requests_to("/postcodes")) == 3
    assert not server.requests_to("/terminated_postcodes")
    issues = out["geocode_issue"].tolist()
    assert all(
        i.startswith("online geocoding failed (postcodes.io: HTTP 503 after 2 attempts); offline result kept")
        for i in issues[:100]
    )
    assert all(
        i.startswith(
            "online geocoding unavailable (postcodes.io: 3 failures, last: HTTP 503); offline result kept (postcode "
        )
        for i in issues[100:250]
    )
    assert (out["geocode_method"].iloc[:250] == "none").all()
    # The breaker is per service: Nominatim still answers for the address row.
    assert out["geocode_method"].iloc[250] == METHOD_NOMINATIM
    assert any("postcodes.io circuit breaker opened (3 failures, last: HTTP 503)" in m for m in summary.messages)
    assert summary.rows_failed == 250


def test_server_down_completes_with_offline_results(tmp_path):
    url = closed_port_url()
    frame = offline_frame(
        [
            unresolved("a", "M33 7HQ"),
            unresolved("b", "M41 7GG", "Hale Library Site, Hale"),
            partial("c", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42),
        ]
    )
    started = time.monotonic()
    out, summary = run(frame, make_settings(url, tmp_path / "c.sqlite", circuit_breaker_failures=3))
    assert time.monotonic() - started < 10
    geo_cols = ["lon", "lat", "geocode_method", "geocode_precision"]
    pd.testing.assert_frame_equal(out[geo_cols], frame[geo_cols])
    for issue in out["geocode_issue"]:
        assert "could not connect" in issue
        assert "offline result kept" in issue
    assert out.loc[2, "geocode_issue"].startswith(
        "online geocoding unavailable (Nominatim: 3 failures, last: could not connect"
    )
    assert len(summary.messages) == 2  # one per service whose breaker opened
    assert summary.rows_located == 0


# ================================================================ fault matrix
# Each fault below would last far longer than a run may (a 30 s trickle, an hour's Retry-After); the contract under
# test is the documented bound (docs/online_geocoding.md, "When the network is down"): one request takes at most
# (max_retries + 1) x timeout_s plus its waits, and nothing runs past run_deadline_s. The bound is behaviour (no
# hang), not a speed target: the margin is generous.
TIMEOUT_S, RETRIES, MAX_BACKOFF_S, MAX_RETRY_AFTER_S = 0.3, 2, 0.05, 5.0
REQUEST_BOUND_S = (RETRIES + 1) * TIMEOUT_S + RETRIES * MAX_BACKOFF_S
MARGIN_S = 2.0
LATER = "Fri, 01 Jan 2100 00:00:00 GMT"
#: id -> (fault, reason in geocode_issue, attempts the server sees).
MATRIX = {
    "timeout": (Fault("slow", delay_s=5.0), "timed out after 0.3 s after 3 attempts", 3),
    "header_drip": (Fault("header_drip", delay_s=30.0), "timed out after 0.3 s after 3 attempts", 3),
    "body_drip": (Fault("drip", delay_s=30.0), "timed out after 0.3 s after 3 attempts", 3),
    "429_retry_after_3600": (Fault("429", retry_after="3600"),
                             "HTTP 429 (Retry-After 3600 s is longer than 5 s) after 1 attempt", 1),
    "503_retry_after_3600": (Fault("status", status=503, retry_after="3600"),
                             "HTTP 503 (Retry-After 3600 s is longer than 5 s) after 1 attempt", 1),
    "503_retry_after_date": (Fault("status", status=503, retry_after=LATER), "HTTP 503 (Retry-After ", 1),
    "500": (Fault("status", status=500), "HTTP 500 after 3 attempts", 3),
    "502": (Fault("status", status=502), "HTTP 502 after 3 attempts", 3),
    "503_body_drip": (Fault("status_drip", status=503, delay_s=30.0), "HTTP 503 after 3 attempts", 3),
    "truncated": (Fault("drop"), "connection dropped while reading the response after 3 attempts", 3),
    "malformed_json": (Fault("malformed_json"), "malformed JSON response after 3 attempts", 3),
    "wrong_content_type": (Fault("wrong_content_type"), "unexpected content type 'text/html' after 3 attempts", 3),
    "reset": (Fault("reset"), "connection dropped after 3 attempts", 3),
    "longitude_1e308": (Fault("coordinates", value=1e308), "not a valid coordinate; answer not used", 1),
    "coordinates_nan": (Fault("coordinates", value=float("nan")), "not a valid coordinate; answer not used", 1),
    "coordinates_text": (Fault("coordinates", value="north"), "not a valid coordinate; answer not used", 1),
}


def fault_frame(service: str) -> pd.DataFrame:
    if service == "postcodes.io":
        return offline_frame([unresolved("a", "M33 7HQ"), unresolved("b", "M41 7GG")])
    return offline_frame([partial("a", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42)])


def assert_offline_kept(out: pd.DataFrame, frame: pd.DataFrame, reason: str) -> None:
    geo_cols = ["lon", "lat", "easting", "northing", "geocode_method", "geocode_precision"]
    pd.testing.assert_frame_equal(out[geo_cols], frame[geo_cols])
    for issue, offline_issue in zip(out["geocode_issue"], frame["geocode_issue"], strict=True):
        assert reason in issue, issue
        assert issue.endswith(f"; offline result kept ({offline_issue})"), issue


@pytest.mark.parametrize("service", ["postcodes.io", "Nominatim"])
@pytest.mark.parametrize("case", list(MATRIX))
def test_fault_matrix_ends_within_its_bound_and_keeps_offline_results(server, tmp_path, service, case):
    fault, reason, attempts = MATRIX[case]
    path = "/postcodes" if service == "postcodes.io" else "/search"
    server.add_fault(Fault(fault.kind, path_prefix=path, status=fault.status, delay_s=fault.delay_s,
                           retry_after=fault.retry_after, value=fault.value))
    frame = fault_frame(service)
    settings = make_settings(server.url, tmp_path / "c.sqlite", timeout_s=TIMEOUT_S, max_retries=RETRIES,
                             max_backoff_s=MAX_BACKOFF_S, max_retry_after_s=MAX_RETRY_AFTER_S)
    started = time.monotonic()
    out, summary = run(frame, settings)
    elapsed = time.monotonic() - started

    assert elapsed < REQUEST_BOUND_S + MARGIN_S, elapsed
    assert len(server.requests_to(path)) == attempts
    assert_offline_kept(out, frame, reason)
    assert all(issue.startswith(f"online geocoding failed ({service}") for issue in out["geocode_issue"])
    assert summary.rows_failed == len(frame)
    assert summary.rows_located == 0
    with sqlite3.connect(tmp_path / "c.sqlite") as conn:  # failures and unusable answers are never cached
        assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 0


def test_impossible_coordinates_fail_only_their_own_postcode(server, tmp_path):
    server.postcodes = {**server.postcodes, "M33 7HQ": {**server.postcodes["M33 7HQ"], "longitude": 1e308}}
    try:
        frame = offline_frame([unresolved("bad", "M33 7HQ"), unresolved("good", "M41 7GG")])
        out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))
    finally:
        server.postcodes = POSTCODES
    assert out.loc[0, "geocode_method"] == "none"
    assert np.isnan(out.loc[0, "lon"])
    assert out.loc[0, "geocode_issue"].startswith(
        "online geocoding failed (postcodes.io answered longitude 1e+308 for 'M33 7HQ', not a valid coordinate")
    assert out.loc[1, "geocode_method"] == METHOD_POSTCODES_IO  # the rest of the batch is used
    assert (summary.rows_failed, summary.rows_located) == (1, 1)


def test_a_cached_answer_with_impossible_coordinates_is_asked_again(server, tmp_path):
    cache = tmp_path / "c.sqlite"
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    run(frame, make_settings(server.url, cache))
    with sqlite3.connect(cache) as conn:  # as an older version stored it
        conn.execute("UPDATE answers SET answer = json_set(answer, '$.longitude', 1e308)")
    out, summary = run(frame, make_settings(server.url, cache))
    assert len(server.requests_to("/postcodes")) == 2
    assert (summary.postcodes_cached, out.loc[0, "lon"]) == (0, POSTCODES["M33 7HQ"]["longitude"])


def test_redirect_to_another_host_is_refused_and_sends_nothing_there(server, tmp_path):
    from online_server import FakeGeoServer

    other = FakeGeoServer().start()
    try:
        for path in ("/postcodes", "/search"):
            server.add_fault(Fault("redirect", path_prefix=path, location=f"{other.url}{path}"))
        frame = offline_frame([unresolved("a", "M33 7HQ"),
                               partial("b", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42)])
        out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))
        assert other.requests == []  # no request left the configured host
    finally:
        other.stop()
    host = other.url.removeprefix("http://")
    assert_offline_kept(out, frame, f"HTTP 302 redirect to another host ({host}) refused after 1 attempt")
    assert len(server.requests) == 2
    assert summary.rows_failed == 2


def test_redirect_on_the_same_host_is_followed(server, tmp_path):
    server.add_fault(Fault("redirect", path_prefix="/postcodes", location="/postcodes", status=307, times=1))
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    out, _ = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))
    assert out.loc[0, "geocode_method"] == METHOD_POSTCODES_IO
    assert [r.method for r in server.requests_to("/postcodes")] == ["POST", "POST"]


def test_the_run_deadline_stops_the_run_and_keeps_offline_results(server, tmp_path):
    server.add_fault(Fault("slow", delay_s=5.0))
    addresses = ["Former Sale Magistrates Courts, Sale", "Hale Library Site, Hale", "Regent Road, Altrincham",
                 "Former Royal Mail Sorting Office, Stretford", "Partington", "Jeremy Field, Urmston"]
    frame = offline_frame([partial(f"site {i}", "M33", a, -2.33, 53.42) for i, a in enumerate(addresses)])
    settings = make_settings(server.url, tmp_path / "c.sqlite", run_deadline_s=1.0, max_retries=0)
    started = time.monotonic()
    out, summary = run(frame, settings)
    assert time.monotonic() - started < settings.run_deadline_s + MARGIN_S
    assert 1 <= len(server.requests) <= 4  # 0.3 s attempts (fewer on a busy machine), the last one cut short
    assert_offline_kept(out, frame, "online geocoding ")
    assert out["geocode_issue"].iloc[-1].startswith(
        "online geocoding stopped (Nominatim: the run's deadline of 1 s passed); offline result kept")
    assert "the run's deadline of 1 s passed; no more requests were sent" in " ".join(summary.messages)


def test_a_retry_after_within_the_cap_but_past_the_deadline_gives_up(server, tmp_path):
    server.add_fault(Fault("status", path_prefix="/postcodes", status=503, retry_after="4"))
    frame = offline_frame([unresolved("a", "M33 7HQ")])
    started = time.monotonic()
    out, _ = run(frame, make_settings(server.url, tmp_path / "c.sqlite", run_deadline_s=2.0))
    assert time.monotonic() - started < 2.0
    assert len(server.requests) == 1
    assert_offline_kept(out, frame, "online geocoding stopped (postcodes.io: the run's deadline of 2 s passed)")


# ================================================================== row safety
def test_rows_are_never_lost_reordered_or_changed(server, tmp_path):
    rows = [
        {
            "name": "given coords",
            "PostCode": "WA14 1PF",
            "address": "Altrincham Town Hall",
            "postcode_normalised": "WA14 1PF",
            "lon": -2.3520922,
            "lat": 53.3879587,
            "easting": 376716.0,
            "northing": 388066.0,
            "geocode_method": "coordinates",
            "geocode_precision": "high",
        },
        unresolved("new", "m33 7hq", None),
        partial("courts", "M33", "Former Sale Magistrates Courts, Sale", -2.33, 53.42),
        {"name": "nothing", "PostCode": None, "address": None, "geocode_issue": "no postcode or coordinates"},
        unresolved("unknown", "M33 9ZZ", "Jeremy Field, Urmston"),
        unresolved("new again", "M33 7HQ", None),
    ]
    frame = offline_frame(rows, index=["r5", "r1", "r9", "r2", "r7", "r3"])
    frame["extra"] = [1.5, None, 3.0, 4.0, None, 6.0]
    frame["geocode_precision"] = frame["geocode_precision"].astype("category")
    before = frame.copy(deep=True)
    original_columns = ["name", "PostCode", "address", "extra"]

    out, summary = run(frame, make_settings(server.url, tmp_path / "c.sqlite"))

    pd.testing.assert_frame_equal(frame, before)  # input untouched
    assert list(out.index) == list(frame.index)
    assert list(out.columns) == list(frame.columns)
    pd.testing.assert_frame_equal(out[original_columns], frame[original_columns])
    pd.testing.assert_series_equal(out.loc["r5"], frame.loc["r5"])  # high precision: untouched
    pd.testing.assert_series_equal(out.loc["r2"], frame.loc["r2"])  # nothing to go on: untouched
    assert out.loc["r1", "geocode_method"] == out.loc["r3", "geocode_method"] == METHOD_POSTCODES_IO
    assert out.loc["r9", "geocode_method"] == METHOD_NOMINATIM
    assert isinstance(out["geocode_precision"].dtype, pd.CategoricalDtype)
    assert summary.postcodes_unique == 2  # "m33 7hq" and "M33 7HQ" are one query
    assert summary.rows == 6


def test_fills_the_offline_geocoder_output_for_the_asset_register(server, tmp_path):
    """End to end with geo.geocoder on the council asset register (coordinates dropped: postcodes only)."""
    register = pd.read_csv(ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv", dtype=str)
    offline = geocode(register, postcode="PostCode")
    street = (register["StreetNumber"].fillna("") + " " + register["StreetName"].fillna("")).str.strip()
    address = pd.concat([register["PropertyName"], street, register["PostTown"]], axis=1).apply(
        lambda r: ", ".join(v for v in r if isinstance(v, str) and v), axis=1
    )
    settings = make_settings(server.url, tmp_path / "c.sqlite", nominatim_min_interval_s=0.0)

    out, summary = fill_online_with_summary(offline, postcode=register["PostCode"], address=address, settings=settings)

    assert len(out) == len(register)
    pd.testing.assert_frame_equal(out[register.columns], register)
    untouched = offline["geocode_precision"].isin(["high", "medium"])
    pd.testing.assert_frame_equal(out[untouched], offline[untouched])
    by_name = out.set_index("PropertyName")
    for name in (
        "Former Sale Magistrates Courts",
        "Hale Library Site",
        "Former Royal Mail Sorting Office",
        "Hale Shopping Centre (ground lease)",
    ):
        assert by_name.loc[name, "geocode_method"] == METHOD_NOMINATIM, name
        assert by_name.loc[name, "geocode_precision"] == "medium"
    # Both are council assets beyond the borough; with national offline postcodes (issue 17) a full postcode is
    # located offline wherever it is, and only a partial one goes online (where it is found too far away).
    for name in ("Sonova House", "The Fort"):
        row = by_name.loc[name]
        assert (row["geocode_method"] == "postcode"
                or "km outside the Trafford area" in row["geocode_issue"]), (name, row["geocode_issue"])
    searched = len(server.requests_to("/search"))
    assert searched == summary.addresses_sent == summary.addresses_unique
    assert searched > 100  # most of the partial-postcode third of the register had address text
    print("\n" + str(summary))


# =================================================================== settings
def test_settings_loaders_and_validation(tmp_path):
    env = {
        "ESTATES_ONLINE_ENABLED": "yes",
        "ESTATES_ONLINE_NOMINATIM_URL": "https://nominatim.council.example/",
        "ESTATES_ONLINE_PLACE_BBOX": "-2.48,53.36,-2.25,53.48",
        "ESTATES_ONLINE_CACHE_PATH": str(tmp_path / "x.sqlite"),
        "ESTATES_ONLINE_NOMINATIM_MIN_INTERVAL_S": "2.5",
    }
    settings = load_online_settings(
        {"timeout_s": "4", "enabled": False, "contact": "gis@trafford.example"},
        environ=env,
        refresh=True,
        max_retries=None,
    )
    assert settings.enabled is True  # environment beats the config mapping
    assert settings.refresh is True  # explicit option (CLI --refresh)
    assert settings.max_retries == 3  # None = flag not given
    assert settings.timeout_s == 4.0
    assert settings.nominatim_url == "https://nominatim.council.example"
    assert settings.place_bbox == (-2.48, 53.36, -2.25, 53.48)
    assert settings.cache_path == tmp_path / "x.sqlite"
    assert "gis@trafford.example" in settings.effective_user_agent
    assert load_online_settings(environ={}) == OnlineSettings()
    assert load_online_settings({"enabled": "true"}, environ={}).enabled is True
    with pytest.raises(FrozenInstanceError):
        settings.enabled = False  # type: ignore[misc]
    with pytest.raises(ValueError, match="unknown"):
        load_online_settings({"enable": True}, environ={})
    with pytest.raises(ValueError, match="1 request per second"):
        OnlineSettings(nominatim_min_interval_s=0.5)
    with pytest.raises(ValueError, match="http"):
        OnlineSettings(postcodes_io_url="ftp://example.invalid")
    with pytest.raises(ValueError, match="batch"):
        OnlineSettings(postcodes_io_batch_size=101)
    with pytest.raises(TypeError):
        OnlineSettings(True)  # type: ignore[misc]  # keyword-only


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("TIMEOUT_S", "inf", "timeout_s='inf' (from ESTATES_ONLINE_TIMEOUT_S): expected a finite number"),
        ("TIMEOUT_S", "nan", "expected a finite number"),
        ("TIMEOUT_S", "abc", "timeout_s='abc' (from ESTATES_ONLINE_TIMEOUT_S): could not convert"),
        ("TIMEOUT_S", "0", "timeout_s must be > 0"),
        ("MAX_RETRIES", "2.5", "max_retries='2.5'"),
        ("RUN_DEADLINE_S", "-1", "run_deadline_s must be > 0"),
        ("ENABLED", "maybe", "enabled='maybe' (from ESTATES_ONLINE_ENABLED): expected a yes/no value"),
        ("PLACE_BBOX", "-2.4,53.3,inf,53.5", "expected a finite number"),
    ],
)
def test_bad_settings_are_refused_naming_the_field(variable, value, message):
    with pytest.raises(ValueError, match="online geocoding setting|must be") as caught:
        load_online_settings(environ={f"ESTATES_ONLINE_{variable}": value})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_typed_values_are_checked_in_code_too():
    with pytest.raises(ValueError, match="timeout_s=inf: expected a finite number"):
        OnlineSettings(timeout_s=float("inf"))
    with pytest.raises(ValueError, match="max_retries=2.5: expected a whole number"):
        OnlineSettings(max_retries=2.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="enabled=1: expected a yes/no value"):
        OnlineSettings(enabled=1)  # type: ignore[arg-type]
    assert OnlineSettings(timeout_s=3, max_retries=2.0).max_retries == 2  # type: ignore[arg-type]


def test_cli_infinite_timeout_is_one_line_and_exit_2(tmp_path):
    # (every command reads its settings through estates/cli/commands/_online.py; pipeline with "soon" is in
    # tests/test_online_ingest.py)
    register = ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv"
    result = subprocess.run([sys.executable, "-m", "estates", "geocode", str(register), "--out",
                             str(tmp_path / "x.csv"), "--online"], cwd=ROOT, capture_output=True, text=True,
                            timeout=170, env={**os.environ, "ESTATES_ONLINE_TIMEOUT_S": "inf"})
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines() == [
        "error: online geocoding setting timeout_s='inf' (from ESTATES_ONLINE_TIMEOUT_S): expected a finite number"]
    assert not (tmp_path / "x.csv").exists()


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        ({"category": "building", "type": "yes"}, ("medium", "address")),
        ({"category": "amenity", "type": "townhall"}, ("medium", "address")),
        ({"category": "office", "type": "government"}, ("medium", "address")),
        ({"category": "place", "type": "house"}, ("medium", "address")),
        ({"class": "highway", "type": "residential"}, ("low", "street")),
        ({"category": "place", "type": "suburb"}, ("low", "area")),
        ({"category": "place", "type": "postcode"}, ("low", "area")),
        ({"category": "boundary", "type": "administrative"}, ("low", "area")),
    ],
)
def test_nominatim_precision_mapping(answer, expected):
    assert nominatim_precision(answer) == expected
