"""estates.app_jobs (a register preview with online lookups in a background thread) and its switch on the Data page.

The job runs the real ingest in a real thread against a real HTTP server on 127.0.0.1 (tests/online_server.py)
speaking postcodes.io and Nominatim from fixtures; the register is the council's asset register with its coordinates
blanked, so about 240 rows need online help. The suite's loopback guard fails any request that leaves the machine.
The page part uses Streamlit's AppTest, which runs the script but not the fragment's timer: the tests wait for the
job themselves and run the page again (the browser test, tests/browser/test_app_online_browser.py, does the rest).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from online_registers import KNOWN_TO_NOMINATIM, council_spec, write_council_register_without_coordinates
from online_server import FakeGeoServer
from streamlit.testing.v1 import AppTest

from estates.app_jobs import (
    IngestJob,
    JobProgress,
    describe_online_run,
    online_disclosure,
    start_ingest_job,
)
from estates.ingest import ingest_register
from estates.store import open_store
from geo.online import METHOD_NOMINATIM, OnlineSettings, OnlineSummary, load_online_settings
from pages._common import md

pytestmark = pytest.mark.timeout(180)

APP = str(Path(__file__).resolve().parent.parent / "pages" / "_shell.py")


@pytest.fixture(scope="module")
def register(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_council_register_without_coordinates(tmp_path_factory.mktemp("register"))


def settings_for(server: FakeGeoServer, tmp_path: Path, **changes: Any) -> OnlineSettings:
    """Online settings pointing at the fake server, with a private cache (so every test really sends)."""
    values: dict[str, Any] = {"enabled": True, "postcodes_io_url": server.url, "nominatim_url": server.url,
                              "cache_path": tmp_path / "geocache.sqlite", "contact": "estates-tests@example.invalid",
                              "nominatim_min_interval_s": 0.0, "timeout_s": 2.0, "trust_env": False}
    values.update(changes)
    return load_online_settings(environ={}, **values)


def start_council_job(register: Path, online: OnlineSettings | None, **kwargs: Any) -> IngestJob:
    spec = council_spec()
    return start_ingest_job(register, partner=spec.partner, partner_type=spec.partner_type, mapping=spec.columns,
                            online=online, **kwargs)


def watch(job: IngestJob, timeout_s: float = 60) -> list[JobProgress]:
    """Poll a job the way the page does (without waiting on it) until it ends; every snapshot seen."""
    seen = [job.progress()]
    deadline = time.monotonic() + timeout_s
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.005)
        seen.append(job.progress())
    seen.append(job.progress())
    assert job.finished, f"job still running after {timeout_s} s: {seen[-1]}"
    return seen


# ============================================================================================== the job module


def test_a_preview_with_online_lookups_runs_in_a_thread_and_reports_progress(server, register, tmp_path):
    threads: list[threading.Thread] = []

    def ingest(*args: Any, **kwargs: Any):  # noqa: ANN202 - the real ingest, noting which thread runs it
        threads.append(threading.current_thread())
        return ingest_register(*args, **kwargs)

    spec = council_spec()
    started = time.perf_counter()
    job = IngestJob(register, partner=spec.partner, partner_type=spec.partner_type, mapping=spec.columns,
                    online=settings_for(server, tmp_path, nominatim_min_interval_s=0.004), ingest=ingest).start()
    returned_after = time.perf_counter() - started

    assert returned_after < 0.2  # the caller never waits for the ingest
    assert not job.finished
    seen = watch(job)

    assert threads
    assert threads[0] is not threading.current_thread()
    assert job.state == "done"
    assert job.error is None
    result = job.result
    online = result.online
    assert len(result.records) == 608 == result.summary["rows"]
    final = seen[-1]
    assert (final.state, final.stage, final.fraction, final.text) == ("done", "ended", 1.0, "Finished")
    online_snapshots = [p for p in seen if p.stage == "online"]
    assert online_snapshots, "no progress seen while the rows were looked up"
    assert all(p.text == f"Looking up {p.done:,} of {p.total:,} rows online…" for p in online_snapshots)
    assert any(0 < p.done < p.total for p in online_snapshots)
    dones = [p.done for p in seen if p.stage in ("online", "finishing")]
    assert dones == sorted(dones)  # never goes backwards
    assert max(p.total for p in seen) == online.rows_considered > 200
    assert final.done == final.total == online.rows_considered  # the bar ends full
    records = result.records.set_index("name")
    for name in KNOWN_TO_NOMINATIM:
        assert records.loc[name, "geocode_method"] == METHOD_NOMINATIM, name
        assert records.loc[name, "geocode_precision"] == "medium"
    assert online.located.get(METHOD_NOMINATIM, 0) >= len(KNOWN_TO_NOMINATIM)
    assert len(server.requests_to("/search")) == online.addresses_sent > 200
    assert len(server.requests) == online.http_requests


@pytest.mark.parametrize("online", [None, "disabled"])
def test_nothing_is_sent_when_online_is_off(server, register, tmp_path, online):
    settings = settings_for(server, tmp_path, enabled=False) if online == "disabled" else None
    job = start_council_job(register, settings)
    seen = watch(job)

    assert job.state == "done"
    assert server.requests == []
    assert job.result.online is None
    assert not job.online_enabled
    assert {p.stage for p in seen} <= {"offline", "ended"}
    assert len(job.result.records) == 608


def test_cancel_stops_between_lookups_and_keeps_no_result(server, register, tmp_path):
    job = start_council_job(register, settings_for(server, tmp_path, nominatim_min_interval_s=0.03))
    deadline = time.monotonic() + 30
    while job.progress().done < 10 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert job.progress().stage == "online"

    job.cancel()
    assert job.progress().text == "Cancelling after the lookup in progress…"
    assert job.wait(5)

    assert (job.state, job.result, job.error) == ("cancelled", None, None)
    assert job.progress().text == "Cancelled"
    sent = len(server.requests)
    assert sent < 100  # far fewer than the ~240 lookups a whole run sends
    time.sleep(0.2)
    assert len(server.requests) == sent  # and nothing after it ended


def test_a_register_that_cannot_be_ingested_fails_with_the_ingest_message(server, tmp_path):
    path = tmp_path / "hubs.csv"
    path.write_text("Name,Postcode\nHub,M32 0TH\n", encoding="utf-8")
    job = start_ingest_job(path, partner="P", partner_type="council", mapping={"name": "NoSuchColumn"},
                           online=settings_for(server, tmp_path))
    assert job.wait(30)

    assert job.state == "failed"
    assert job.result is None
    assert "'NoSuchColumn' is not a column of this register" in job.error
    assert server.requests == []


def test_an_unexpected_error_is_reported_rather_than_lost(tmp_path):
    def broken(*args: Any, **kwargs: Any):  # noqa: ANN202
        raise RuntimeError("disk on fire")

    job = IngestJob(tmp_path / "x.csv", partner="P", partner_type="council", ingest=broken).start()
    assert job.wait(5)

    assert (job.state, job.error) == ("failed", "unexpected error: RuntimeError: disk on fire")
    assert job.progress().text == "Failed"


def test_progress_text_and_fraction_by_stage():
    def snap(**kw: Any) -> JobProgress:
        return JobProgress(**{"state": "running", "stage": "offline", "done": 0, "total": 0, "elapsed_s": 1.0, **kw})

    assert (snap().fraction, snap().text) == (0.0, "Reading, checking and geocoding the rows offline…")
    assert (snap(stage="online", done=12, total=1241).text) == "Looking up 12 of 1,241 rows online…"
    assert snap(stage="online", done=60, total=240).fraction == 0.25
    assert (snap(stage="finishing", done=240, total=240).text) == "Tagging and checking the rows…"
    assert snap(stage="finishing").fraction == 1.0
    assert snap(stage="online", done=3, total=9, cancel_requested=True).text.startswith("Cancelling")


def test_the_disclosure_says_what_goes_where():
    settings = OnlineSettings(postcodes_io_url="https://pc.council.example", nominatim_url="https://nom.example/",
                              cache_path=Path("/srv/cache.sqlite"))

    text = online_disclosure(settings)

    assert "postcodes.io (https://pc.council.example): full postcodes" in text
    assert "Nominatim (https://nom.example): the name, street and town of rows still not placed" in text
    assert "cached (/srv/cache.sqlite)" in text
    assert "about 1 s each" in text
    no_addresses = online_disclosure(settings.replace(use_nominatim=False))
    assert "Nominatim" not in no_addresses
    assert "postcodes.io" in no_addresses
    assert "nothing would be sent" in online_disclosure(settings.replace(use_nominatim=False, use_postcodes_io=False))


def test_the_run_is_described_by_service():
    summary = OnlineSummary(enabled=True, rows=608, rows_considered=241, located={"online_nominatim": 5,
                            "online_postcodes_io": 2}, rows_not_found=230, rows_rejected=2, rows_failed=2)

    assert describe_online_run(summary) == (
        "241 of 608 rows looked up online: 7 located (Nominatim 5, postcodes.io 2), 230 not found, 2 too far from "
        "the area, 2 failed (offline result kept).")
    assert describe_online_run(OnlineSummary()) == "Online lookups were off."


# ============================================================================================== the Data page


@pytest.fixture
def online_env(server: FakeGeoServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeGeoServer:
    """The app's online settings (environment) pointing at the fake server; not enabled."""
    for name, value in {"POSTCODES_IO_URL": server.url, "NOMINATIM_URL": server.url,
                        "CACHE_PATH": str(tmp_path / "app-geocache.sqlite"), "NOMINATIM_MIN_INTERVAL_S": "0",
                        "CONTACT": "estates-tests@example.invalid", "TRUST_ENV": "0"}.items():
        monkeypatch.setenv(f"ESTATES_ONLINE_{name}", value)
    monkeypatch.delenv("ESTATES_ONLINE_ENABLED", raising=False)
    return server


def _upload(register: Path) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("data.py").run()
    at.file_uploader[0].set_value((register.name, register.read_bytes(), "text/csv")).run()
    at.text_input(key="data_partner_name").set_value("Council copy").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _captions(at: AppTest) -> str:
    return "\n".join(c.value for c in at.caption)


def test_the_switch_is_off_by_default_and_an_offline_preview_sends_nothing(store_path, online_env, register):
    at = _upload(register)

    switch = at.toggle(key="data_online")
    assert switch.value is False
    assert not switch.disabled
    assert md(online_env.url) in _captions(at)
    assert "Answers are cached" in _captions(at)
    at.button(key="data_preview_button").click().run()

    assert not at.exception
    assert [m.value for m in at.metric][-5:][0] == "608"
    assert "data_online_job" not in at.session_state
    assert online_env.requests == []


def test_the_switch_follows_the_settings_and_broken_settings_disable_it(store_path, online_env, register, monkeypatch):
    monkeypatch.setenv("ESTATES_ONLINE_ENABLED", "1")
    at = _upload(register)
    assert at.toggle(key="data_online").value is True

    monkeypatch.setenv("ESTATES_ONLINE_USE_POSTCODES_IO", "0")
    monkeypatch.setenv("ESTATES_ONLINE_USE_NOMINATIM", "no")  # how an admin rules lookups out altogether
    at = _upload(register)
    assert at.toggle(key="data_online").disabled
    assert "nothing would be sent" in _captions(at)

    monkeypatch.setenv("ESTATES_ONLINE_TIMEOUT_S", "soon")
    at = _upload(register)
    assert at.toggle(key="data_online").disabled
    assert at.toggle(key="data_online").value is False
    assert any("Online lookups are unavailable" in e.value and "timeout" in e.value for e in at.error)
    at.button(key="data_preview_button").click().run()
    assert "data_online_job" not in at.session_state
    assert online_env.requests == []


def test_with_the_switch_on_the_preview_runs_in_the_background_then_can_be_written(store_path, online_env, register):
    at = _upload(register)
    at.toggle(key="data_online").set_value(True).run()
    at.button(key="data_preview_button").click().run()

    assert not at.exception, [e.value for e in at.exception]
    job = at.session_state["data_online_job"]
    assert isinstance(job, IngestJob)
    assert job.online_enabled
    assert job.wait(60)
    at.run()  # what the fragment's poll triggers in the browser once the job has ended

    assert not at.exception, [e.value for e in at.exception]
    metrics = {m.label: m.value for m in at.metric}
    online = job.result.online
    assert metrics["Rows"] == "608"
    assert metrics["Looked up online"] == f"{online.rows_considered:,}"
    assert metrics["Located online"] == f"{online.rows_located:,}"
    assert int(metrics["Located online"]) >= len(KNOWN_TO_NOMINATIM)
    assert any(md(describe_online_run(online)) == m.value for m in at.markdown)
    assert len(online_env.requests_to("/search")) == online.addresses_sent > 200
    with open_store(store_path) as store:
        before = len(store.buildings())

    at.checkbox(key="data_online_confirm").check().run()
    at.button(key="data_online_write").click().run()

    with open_store(store_path) as store:
        rows = store.buildings()
        rejected = store.rejected_rows()
    mine = rows[rows["partner"] == "Council copy"]
    kept_apart = int((rejected["partner"] == "Council copy").sum())
    # Every row is accounted for: records of the estate, or rejected rows kept with the load (never records).
    assert len(rows) + kept_apart == before + 608
    assert any("Loaded" in s.value and f"{608 - kept_apart:,} new" in s.value
               and f"{kept_apart:,} rejected" in s.value for s in at.success)
    assert "data_online_job" not in at.session_state
    assert (mine["geocode_method"] == METHOD_NOMINATIM).sum() == online.located[METHOD_NOMINATIM]


def test_a_running_preview_can_be_cancelled_from_the_page(store_path, online_env, register, monkeypatch):
    monkeypatch.setenv("ESTATES_ONLINE_NOMINATIM_MIN_INTERVAL_S", "0.05")  # ~12 s of lookups: time to cancel
    at = _upload(register)
    at.toggle(key="data_online").set_value(True).run()
    at.button(key="data_preview_button").click().run()
    job = at.session_state["data_online_job"]
    assert not job.finished
    assert "data_online_cancel" in [b.key for b in at.button]
    assert "data_preview_button" not in [b.key for b in at.button]  # the job's panel replaces the form meanwhile

    at.button(key="data_online_cancel").click().run()

    assert job.cancel_requested
    assert job.wait(10)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert job.state == "cancelled"
    assert "data_online_job" not in at.session_state
    assert any("cancelled; nothing was written" in i.value for i in at.info)
    assert len(online_env.requests_to("/search")) < 100
