"""Online geocoding through ingest and the pipeline (``--online``/``--refresh``), against a real loopback server.

The register is the council's real asset register with its coordinates blanked, so the rows must be placed from
their postcodes and addresses: the full postcodes go to postcodes.io, the partial-postcode rows' address text
("name, street, town") to Nominatim. tests/online_server.py answers from real Trafford fixture data.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml
from online_registers import COUNCIL_REGISTER as COUNCIL
from online_registers import KNOWN_TO_NOMINATIM, OUTSIDE_TRAFFORD, write_council_register_without_coordinates
from online_registers import council_spec as demo_council_spec

from estates.ingest import format_ingest_summary, ingest_register, online_address, run_pipeline
from geo.online import METHOD_NOMINATIM, OnlineSettings, OnlineSummary

pytestmark = pytest.mark.timeout(180)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def council_without_coordinates(tmp_path_factory) -> Path:
    """The council register as published, but with GeoX/GeoY blanked."""
    return write_council_register_without_coordinates(tmp_path_factory.mktemp("registers"))


@pytest.fixture(scope="module")
def council_spec():
    return demo_council_spec()


def online_env(url: str, cache: Path) -> dict[str, str]:
    """Settings as an admin would give them: environment variables pointing at the loopback server."""
    return {"ESTATES_ONLINE_POSTCODES_IO_URL": url, "ESTATES_ONLINE_NOMINATIM_URL": url,
            "ESTATES_ONLINE_CACHE_PATH": str(cache), "ESTATES_ONLINE_NOMINATIM_MIN_INTERVAL_S": "0",
            "ESTATES_ONLINE_BACKOFF": "0.01", "ESTATES_ONLINE_TIMEOUT_S": "2",
            "ESTATES_ONLINE_CONTACT": "estates-tests@example.invalid", "ESTATES_ONLINE_TRUST_ENV": "no"}


def settings_for(url: str, cache: Path) -> OnlineSettings:
    return OnlineSettings(enabled=True, postcodes_io_url=url, nominatim_url=url, cache_path=cache,
                          nominatim_min_interval_s=0.0, backoff=0.01, timeout_s=2.0,
                          contact="estates-tests@example.invalid", trust_env=False)


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "estates", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=170)


def test_online_address_joins_name_street_and_town():
    records = pd.DataFrame({"name": ["Hale Library Site", None, "  "], "address_line_1": [None, "Talbot Road", None],
                            "address_line_2": [None, None, None], "town": ["Hale", "Old Trafford", None]})
    assert online_address(records).tolist() == ["Hale Library Site, Hale", "Talbot Road, Old Trafford", ""]


def test_ingest_is_offline_unless_asked(server, council_without_coordinates, council_spec, tmp_path):
    result = ingest_register(council_without_coordinates, partner=council_spec.partner, partner_type="council",
                             mapping=council_spec.columns)
    assert result.online is None
    assert not result.records["geocode_method"].str.startswith("online").any()
    off = settings_for(server.url, tmp_path / "c.sqlite").replace(enabled=False)
    result = ingest_register(council_without_coordinates, partner=council_spec.partner, partner_type="council",
                             mapping=council_spec.columns, online=off)
    assert result.online is None
    assert server.requests == []


def test_ingest_online_places_what_the_services_know_and_flags_the_rest(
        server, council_without_coordinates, council_spec, tmp_path):
    progress: list[tuple[int, int]] = []
    result = ingest_register(council_without_coordinates, partner=council_spec.partner, partner_type="council",
                             mapping=council_spec.columns, online=settings_for(server.url, tmp_path / "c.sqlite"),
                             online_progress=lambda done, total: progress.append((done, total)))
    records = result.records.set_index("name")
    summary = result.summary
    # No row lost: every row of the file is a record with an outcome.
    assert summary["rows"] == len(pd.read_csv(COUNCIL)) == 608
    assert summary["accepted"] + summary["warned"] + summary["rejected"] == 608
    for name in KNOWN_TO_NOMINATIM:
        assert records.loc[name, "geocode_method"] == METHOD_NOMINATIM, name
        assert records.loc[name, "geocode_precision"] == "medium"
        assert records.loc[name, "neighbourhood"] in {"North", "West", "Central", "South"}
    for name in OUTSIDE_TRAFFORD:
        # Their full postcodes are found offline (national ONSPD, issue 17) and flagged outside; never online.
        assert (records.loc[name, "geocode_method"] == "postcode"
                or "km outside the Trafford area" in records.loc[name, "geocode_issue"]), name
        assert records.loc[name, "outside_trafford"] in (True, "True", 1), name
        assert not str(records.loc[name, "geocode_method"]).startswith("online")
    # Offline results stand where the services had nothing better, and say why.
    assert records.loc["Moss View Centre", "geocode_method"] == "postcode_district"
    assert "not found by Nominatim" in records.loc["Moss View Centre", "issues"]
    # The postcode as registered is never changed.
    original = pd.read_csv(COUNCIL, dtype=str, keep_default_na=False)
    assert result.records["postcode"].fillna("").tolist() == [p.strip() for p in original["PostCode"]]
    online = result.online
    assert online is not None
    assert online.enabled
    assert online.located.get(METHOD_NOMINATIM) == online.rows_located >= len(KNOWN_TO_NOMINATIM)
    assert online.rows_considered == progress[-1][0] == progress[-1][1]
    assert online.addresses_sent == len(server.requests_to("/search"))
    assert "online geocoding:" in format_ingest_summary(result)


def test_pipeline_online_is_cached_across_runs(server, council_without_coordinates, tmp_path):
    config = tmp_path / "registers.yaml"
    config.write_text(yaml.safe_dump({
        "place": "trafford",
        "registers": [
            {"key": "council", "partner": "Trafford Council", "partner_type": "council",
             "file": str(council_without_coordinates),
             "columns": {"source_id": "AssetCode", "name": "PropertyName",
                         "address_line_1": ["StreetNumber", "StreetName"], "town": "PostTown"}},
            {"key": "libraries", "partner": "Trafford libraries", "partner_type": "library",
             "file": str(ROOT / "data" / "registers" / "trafford_libraries.geojson"), "columns": {"use": "type"}},
        ]}), encoding="utf-8")
    settings = settings_for(server.url, tmp_path / "c.sqlite")
    seen: list[str] = []
    first = run_pipeline(config, progress=False, online=settings,
                         online_progress=lambda key, done, total: seen.append(key))
    assert set(seen) <= {"council", "libraries"}
    assert "council" in seen
    assert first.online is not None
    assert first.online.rows_located >= len(KNOWN_TO_NOMINATIM)
    assert (first.records["geocode_method"] == METHOD_NOMINATIM).sum() == first.online.located[METHOD_NOMINATIM]
    sent = len(server.requests)
    assert sent > 100

    second = run_pipeline(config, progress=False, online=settings)
    assert len(server.requests) == sent  # every answer came from the cache
    assert second.online.addresses_sent == 0
    assert second.online.addresses_cached == first.online.addresses_unique
    pd.testing.assert_series_equal(first.records["geocode_method"], second.records["geocode_method"])

    refreshed = run_pipeline(config, progress=False, online=settings.replace(refresh=True))
    assert refreshed.online.addresses_sent == first.online.addresses_unique
    assert len(server.requests) > sent


def test_combined_summary_adds_counts_and_keeps_notes_once():
    a = OnlineSummary(enabled=True, rows=10, rows_considered=4, addresses_sent=3, located={"online_nominatim": 2},
                      messages=["Nominatim circuit breaker opened"])
    b = OnlineSummary(enabled=True, rows=5, rows_considered=1, located={"online_nominatim": 1,
                                                                        "online_postcodes_io": 1},
                      messages=["Nominatim circuit breaker opened"], elapsed_s=1.5)
    total = OnlineSummary.combine([a, b])
    assert (total.rows, total.rows_considered, total.addresses_sent, total.elapsed_s) == (15, 5, 3, 1.5)
    assert total.located == {"online_nominatim": 3, "online_postcodes_io": 1}
    assert total.messages == ["Nominatim circuit breaker opened"]
    assert total.rows_located == 4


def test_cli_ingest_online(server, council_without_coordinates, tmp_path):
    env = online_env(server.url, tmp_path / "c.sqlite")
    out = tmp_path / "records.csv"
    offline = cli("ingest", str(council_without_coordinates), "--partner", "trafford_council", "--out", str(out),
                  env=env)
    assert offline.returncode == 0, offline.stderr
    assert server.requests == []  # never online unless asked
    assert "online geocoding" not in offline.stdout

    result = cli("ingest", str(council_without_coordinates), "--partner", "trafford_council", "--online",
                 "--out", str(out), "--force", env=env)
    assert result.returncode == 0, result.stderr
    assert "online geocoding: " in result.stdout
    assert "located by online_nominatim" in result.stdout
    records = pd.read_csv(out, dtype=str, keep_default_na=False).set_index("name")
    assert len(records) == 608
    for name in KNOWN_TO_NOMINATIM:
        assert records.loc[name, "geocode_method"] == METHOD_NOMINATIM


def test_cli_pipeline_online_with_the_service_down_keeps_offline_results(tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on: the service is down
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    env = {**online_env(url, tmp_path / "c.sqlite"), "ESTATES_ONLINE_MAX_RETRIES": "0",
           "ESTATES_ONLINE_CIRCUIT_BREAKER_FAILURES": "2"}
    out = tmp_path / "out"
    out.mkdir()
    result = cli("pipeline", "--online", "--no-progress", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    assert "circuit breaker opened" in result.stdout
    records = pd.read_csv(out / "records.csv", dtype=str, keep_default_na=False)
    offline = run_pipeline(progress=False).records
    assert len(records) == len(offline)
    assert records["geocode_method"].tolist() == offline["geocode_method"].astype(str).tolist()
    failed = records["geocode_issue"].str.contains("online geocoding unavailable")
    assert failed.any()


def test_cli_refresh_without_online_is_one_line(tmp_path):
    for command in (["pipeline", "--no-progress"], ["ingest", str(COUNCIL), "--partner", "trafford_council"],
                    ["geocode", str(COUNCIL), "--out", str(tmp_path / "x.csv")]):
        result = cli(*command, "--refresh", env={})
        assert result.returncode == 2, (command, result.stdout)
        assert result.stderr.strip().splitlines() == ["error: --refresh only applies with --online"]


def test_cli_bad_online_setting_is_one_line(tmp_path):
    result = cli("pipeline", "--online", env={"ESTATES_ONLINE_TIMEOUT_S": "soon"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "timeout_s" in lines[0]
    assert "soon" in lines[0]
