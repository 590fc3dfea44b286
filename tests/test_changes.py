"""What changed (the audit trail as a feed): ``estates.service.change_feed`` on the seeded demo estate, the
``changes`` command, the page through AppTest, and a Classify link (``?site=ID``) selecting its site."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from estates.service import (
    FEED_COLUMNS,
    LOCAL_TIME,
    change_feed,
    read_estate,
    reposition_site,
    resolve_site,
    set_site_status,
    split_record,
    undo_latest,
)
from estates.store import open_store

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "pages" / "_shell.py")
TOWN_HALL = "trafford-council:TMBC0008/T0000001"  # Trafford Town Hall, Talbot Road: 3 records on one site


@pytest.fixture
def changed(store_path: Path) -> dict[str, object]:
    """A private copy of the seeded store with people's changes: one status, one bulk, one move, one split."""
    with open_store(store_path) as store:
        estate = read_estate(store)
        town_hall = resolve_site(estate, TOWN_HALL)
        singles = estate.sites[(estate.sites["record_count"] == 1) & estate.sites["lat"].notna()]
        bulk = singles["site_id"].head(12).tolist()
        moved = singles.iloc[20]
        several = estate.sites[(estate.sites["record_count"] >= 3) & (estate.sites["site_id"] != town_hall)]
        taken_out = str(estate.site_records(several["site_id"].iloc[0])["building_id"].iloc[0])
        set_site_status(store, [town_hall], "surplus", reason="Civic offices move", actor="alice")
        set_site_status(store, bulk, "core", reason="Disposal programme paused", actor="bob")
        reposition_site(store, str(moved["site_id"]), float(moved["lon"]) + 0.0015, float(moved["lat"]),
                        reason="checked on site", actor="alice")
        split_record(store, taken_out, reason="not the same building", actor="carol")
    return {"path": store_path, "town_hall": town_hall, "bulk": bulk, "moved": str(moved["site_id"])}


def _feed(path: Path, **options: object) -> pd.DataFrame:
    with open_store(path) as store:
        return change_feed(store, **options)


def test_a_status_change_is_one_row_in_peoples_words(changed):
    feed = _feed(changed["path"], people=["alice"], kinds=["status set"])
    assert list(feed.columns) == list(FEED_COLUMNS)
    assert len(feed) == 1
    row = feed.iloc[0]
    assert (row["Who"], row["Change"], row["Site"], row["Reason"]) == (
        "alice", "status set", "Trafford Town Hall", "Civic offices move")
    assert row["Site id"] == changed["town_hall"]
    assert (row["Sites"], row["Records"]) == (1, 3)  # the site's three records, one change
    assert row["From → to"] == "the rules’ status → surplus"
    assert "Trafford Council" in row["Partners"]
    assert row["Neighbourhood"] == "North"
    now = datetime.now(LOCAL_TIME).replace(tzinfo=None)
    assert timedelta(0) <= now - row["When"] < timedelta(minutes=10)  # local time, no zone, to the second


def test_a_bulk_change_is_one_row_with_its_count_and_lists_its_sites(changed):
    feed = _feed(changed["path"], people=["bob"])
    assert len(feed) == 1
    row = feed.iloc[0]
    assert (row["Change"], row["Sites"], row["Records"]) == ("status set", 12, 12)
    assert row["Site"].endswith(" and 11 more sites")
    by_site = _feed(changed["path"], people=["bob"], by="site")
    assert sorted(by_site["Site id"]) == sorted(changed["bulk"])
    assert set(by_site["Change id"]) == {row["Change id"]}
    assert set(by_site["Sites"]) == {1}


def test_a_move_says_how_far_and_a_split_names_its_records(changed):
    moved = _feed(changed["path"], kinds=["moved"]).iloc[0]
    assert moved["Site id"] == changed["moved"]
    assert moved["From → to"].startswith("moved 1")  # 0.0015° of longitude at 53° N: about 100 m
    assert 90 <= float(moved["From → to"].split()[1]) <= 110
    split = _feed(changed["path"], people=["carol"]).iloc[0]
    assert split["Change"] == "split"  # one record separated from the site's two others in one change
    assert split["Sites"] == 2  # the record's own site now, and the site it left
    assert split["From → to"].count("separate sites") >= 2


def test_filters_by_person_date_partner_neighbourhood_and_kind(changed):
    path = changed["path"]
    everything = _feed(path)
    assert {"alice", "bob", "carol", "ingest", "rules"} <= set(everything["Who"])
    assert everything["When"].is_monotonic_decreasing
    assert set(_feed(path, people=["alice"])["Change"]) == {"status set", "moved"}
    # The days the store's changes were made on (two when the fixture ran across midnight), not "today".
    alice_days = _feed(path, people=["alice"])["When"].dt.date
    assert len(_feed(path, since=alice_days.min(), until=alice_days.max(), people=["alice"])) == 2
    assert _feed(path, since=alice_days.max() + timedelta(days=1), people=["alice"]).empty
    first, last = everything["When"].min().date(), everything["When"].max().date()
    assert _feed(path, until=first - timedelta(days=1)).empty  # nothing before the store's first change
    assert _feed(path, since=last + timedelta(days=1)).empty
    assert len(_feed(path, since=first, until=last)) == len(everything)
    council = _feed(path, partners=["Trafford libraries"], people=["alice", "bob", "carol"])
    assert "Civic offices move" in set(council["Reason"])  # the Town Hall site has the library's record
    north = _feed(path, neighbourhoods=["North"], kinds=["status set"])
    assert all("North" in n for n in north["Neighbourhood"])
    with pytest.raises(ValueError, match="unknown kind of change"):
        _feed(path, kinds=["deleted"])


def test_an_undone_bulk_change_is_one_row_too(changed):
    with open_store(changed["path"]) as store:
        undo_latest(store, changed["bulk"][0], actor="bob", reason="wrong list")
    row = _feed(changed["path"], kinds=["undone"]).iloc[0]
    assert (row["Who"], row["Sites"], row["Reason"], row["From → to"]) == (
        "bob", 12, "wrong list", "core → the rules’ status")


def test_the_store_reads_the_audit_between_two_times(changed):
    with open_store(changed["path"]) as store:
        everything = store.audit_log()
        last = everything["at"].max()
        newest = store.audit_between(last, None)
        older = store.audit_between(None, last)
    assert len(newest) + len(older) == len(everything)
    assert (newest["at"] == last).all()
    assert list(newest.columns) == list(everything.columns)


def _run(*args: str, store: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESTATES_DATABASE_URL": str(store)}
    return subprocess.run([sys.executable, "-m", "estates", "changes", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=300, env=env)


def test_the_changes_command_prints_and_writes_the_feed(changed, tmp_path):
    path = changed["path"]
    printed = _run("--person", "bob", store=path)
    assert printed.returncode == 0, printed.stderr
    assert printed.stdout.startswith("1 change from ")
    assert "Disposal programme paused" in printed.stdout
    out = tmp_path / "bob.xlsx"
    written = _run("--person", "bob", "--by-site", "--out", str(out), store=path)
    assert written.returncode == 0, written.stderr
    sheet = openpyxl.load_workbook(out).active
    header, *rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert header == list(FEED_COLUMNS)
    assert len(rows) == 12
    csv_out = tmp_path / "today.csv"
    today = f"{datetime.now(LOCAL_TIME):%Y-%m-%d}"
    assert _run("--since", today, "--kind", "moved", "--out", str(csv_out), store=path).returncode == 0
    assert "moved 1" in csv_out.read_text("utf-8-sig")


@pytest.mark.parametrize(("args", "message"), [
    (("--since", "2026-13-01"), "is not a date"),
    (("--since", "2026-12-05", "--until", "2026-12-01"), "is before --since"),
    (("--out", "feed.geojson"), "unknown output format '.geojson' (use csv, xlsx)"),
    (("--out", "feed"), "cannot tell the format without an extension; end the name with .csv or .xlsx"),
])
def test_the_changes_command_says_what_is_wrong_in_one_line(changed, args, message):
    result = _run(*args, store=changed["path"])
    assert result.returncode == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_page_filters_the_feed_and_a_link_selects_its_site(changed):
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page("changes.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert "What changed" in [t.value for t in at.title]
    at.multiselect(key="changes_people").set_value(["bob"]).run()
    caption = next(m.value for m in at.markdown if "change" in m.value and "in the period" in m.value)
    assert caption.startswith("**1** change of ")
    shown = at.dataframe[0].value
    assert shown["Sites"].tolist() == [12]
    assert shown["Open"].iloc[0] == "classify?site=" + changed["bulk"][0].replace(":", "%3A")

    # The link: Classify opened with ?site=ID has that site selected, and the parameter is taken once.
    classify = AppTest.from_file(APP, default_timeout=120)
    classify.query_params["site"] = changed["town_hall"]
    classify.run()
    classify.switch_page("classify.py").run()
    assert not classify.exception, [e.value for e in classify.exception]
    assert classify.session_state["classify_selected"] == [changed["town_hall"]]
    assert "site" not in classify.query_params


def test_downloads_neutralise_formulas_and_keep_words(changed, tmp_path):
    from estates.exports import table_bytes

    with open_store(changed["path"]) as store:
        set_site_status(store, [changed["town_hall"]], "core", reason='=HYPERLINK("http://x.example","y")',
                        actor="mallory")
        feed = change_feed(store, people=["mallory"])
    text = table_bytes(feed, "csv", kind="changes").data.decode("utf-8-sig")
    assert "'=HYPERLINK" in text
    assert "surplus → core" in text  # UTF-8 with a byte-order mark: the arrow survives Excel
    book = tmp_path / "feed.xlsx"
    book.write_bytes(table_bytes(feed, "xlsx", kind="changes", sheet="What changed").data)
    sheet = openpyxl.load_workbook(book)["What changed"]
    reasons = [row[10] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert reasons == ['\'=HYPERLINK("http://x.example","y")']


def test_moving_a_site_of_several_records_is_one_change_and_one_undo(store_path: Path):
    with open_store(store_path) as store:
        estate = read_estate(store)
        town_hall = resolve_site(estate, TOWN_HALL)
        records = estate.site_records(town_hall)["building_id"].astype(str).tolist()
        before = estate.records.set_index("building_id").loc[records, ["lon", "lat"]].astype(float)
        site = estate.sites.set_index("site_id").loc[town_hall]
        reposition_site(store, town_hall, float(site["lon"]) + 0.001, float(site["lat"]), reason="the entrance",
                        actor="alice")
        moved = read_estate(store).records.set_index("building_id").loc[records, "lon"].astype(float)
        feed = change_feed(store, kinds=["moved"])
        assert len(records) == 3
        assert len(feed) == 1
        assert feed.iloc[0][["Sites", "Records"]].tolist() == [1, 3]
        undo_latest(store, town_hall, actor="alice")
        after = read_estate(store).records.set_index("building_id").loc[records, ["lon", "lat"]].astype(float)
    assert (moved.round(7) == round(float(site["lon"]) + 0.001, 7)).all()
    pd.testing.assert_frame_equal(after, before)  # every record back where it was, not one of three
