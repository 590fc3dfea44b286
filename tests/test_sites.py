"""Sites are the estate: the service layer on a real store with the demo registers (issue: one version of the truth).

Load, match decisions (confirm, reject, split, merge, undo), site status and its audit, rejected rows kept apart,
the migration of a store written by schema-1 code, and no pipeline run while a store holds the estate.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from estates import service
from estates.sites import SITE_STATUS_ORDER, site_table
from estates.store import NothingToUndoError, open_store

ROOT = Path(__file__).resolve().parent.parent
LEAD = "estates.lead@trafford.gov.uk"
V1_STORE = ROOT / "tests" / "fixtures" / "store_v1.gpkg"


@pytest.fixture
def store(seeded_store: Path, tmp_path: Path):  # noqa: ANN201 - a Store
    path = tmp_path / "estates.gpkg"
    shutil.copyfile(seeded_store, path)
    with open_store(path) as opened:
        yield opened


def _cli(*args: str, env_store: Path) -> subprocess.CompletedProcess[str]:
    import os

    env = {**os.environ, "ESTATES_DATABASE_URL": str(env_store)}
    return subprocess.run([sys.executable, "-m", "estates", *args], capture_output=True, text=True, cwd=ROOT,
                          env=env, timeout=600, check=False)


def test_pipeline_writes_the_demo_estate_as_sites_and_exports_read_the_store(tmp_path: Path) -> None:
    target = tmp_path / "fresh.gpkg"
    run = _cli("pipeline", "--no-progress", env_store=target)
    assert run.returncode == 0, run.stderr
    total = next(line for line in run.stdout.splitlines() if line.startswith("total:"))
    numbers = [int(w) for w in total.replace(",", " ").split() if w.isdigit()]
    rows, accepted, warned, rejected = numbers[:4]
    assert rows == accepted + warned + rejected
    assert rejected > 0
    assert "sites from" in run.stdout

    assert _cli("export", "buildings", "--out", str(tmp_path / "b.csv"), env_store=target).returncode == 0
    assert _cli("export", "sites", "--out", str(tmp_path / "s.csv"), env_store=target).returncode == 0
    buildings = pd.read_csv(tmp_path / "b.csv", dtype=str)
    sites = pd.read_csv(tmp_path / "s.csv", dtype=str)
    assert len(buildings) == accepted + warned  # rejected rows are never records of the estate
    assert buildings["site_id"].notna().all()
    assert len(sites) < len(buildings)
    assert set(sites["site_id"]) == set(buildings["site_id"])
    assert {"site_id", "name", "status", "partners", "record_ids", "lon", "lat", "ward_name"} <= set(sites.columns)
    delamere = buildings[buildings["name"].str.contains("Delamere Medical", case=False, na=False)]
    assert len(delamere) >= 3
    assert delamere["site_id"].nunique() == 1
    site = sites[sites["site_id"] == delamere["site_id"].iloc[0]].iloc[0]
    assert set(site["record_ids"].split("; ")) >= set(delamere["building_id"])


def test_match_confirm_history_and_undo_on_the_command_line(tmp_path: Path, seeded_store: Path) -> None:
    target = tmp_path / "estates.gpkg"
    shutil.copyfile(seeded_store, target)
    listed = _cli("match", "list", env_store=target)
    assert listed.returncode == 0, listed.stderr
    first = listed.stdout.splitlines()[0].split()
    score, a, b = float(first[0]), first[1], first[2]
    assert 0 < score < 100
    with open_store(target) as opened:
        estate = service.read_estate(opened)
        assert service.resolve_site(estate, a) != service.resolve_site(estate, b)

    reason = "Same building: checked on the council's floor plans"
    confirmed = _cli("match", "confirm", a, b, "--reason", reason, env_store=target)
    assert confirmed.returncode == 0, confirmed.stderr
    with open_store(target) as opened:
        estate = service.read_estate(opened)
        assert service.resolve_site(estate, a) == service.resolve_site(estate, b)
    history = _cli("history", a, env_store=target)
    line = next(x for x in history.stdout.splitlines() if "match_decision" in x)
    assert reason in line
    assert "confirm" in line
    from estates.identity import local_user

    assert local_user() in line

    assert _cli("match", "confirm", a, b, env_store=target).returncode == 2  # a decision needs a reason
    undone = _cli("match", "undo", a, "--reason", "decided too early", env_store=target)
    assert undone.returncode == 0, undone.stderr
    with open_store(target) as opened:
        estate = service.read_estate(opened)
        assert service.resolve_site(estate, a) != service.resolve_site(estate, b)


def test_split_and_merge_are_audited_decisions(store) -> None:  # noqa: ANN001
    estate = service.read_estate(store)
    shared = estate.sites[estate.sites["record_count"] >= 2].iloc[0]
    record = shared["record_ids"].split("; ")[0]
    before = len(estate.sites)

    service.split_record(store, record, reason="A separate building on the same campus", actor=LEAD)
    after = service.read_estate(store)
    assert len(after.sites) == before + 1
    assert service.resolve_site(after, record) != service.resolve_site(after, shared["record_ids"].split("; ")[1])

    service.merge_sites(store, record, shared["record_ids"].split("; ")[1], reason="One property after all",
                        actor=LEAD)
    merged = service.read_estate(store)
    assert len(merged.sites) == before
    entries = [e for e in service.site_history(store, record) if e.action == "match_decision"]
    assert [e.to_value for e in entries][-1] == "confirm"
    assert all(e.actor == LEAD for e in entries)

    assert service.undo_latest(store, record, actor=LEAD) == "match_decision"  # the merge
    assert len(service.read_estate(store).sites) == before + 1


def test_status_belongs_to_the_site_and_a_change_is_undone_as_one(store) -> None:  # noqa: ANN001
    estate = service.read_estate(store)
    site = estate.sites[estate.sites["record_count"] >= 3].iloc[0]
    site_id = site["site_id"]
    new = "surplus" if site["status"] != "surplus" else "core"

    service.set_site_status(store, [site_id], new, reason="Board decision 2026-11", actor=LEAD,
                            expected=estate.record_versions([site_id]))
    after = service.read_estate(store)
    row = after.sites.set_index("site_id").loc[site_id]
    assert (row["status"], row["status_source"], row["override_by"]) == (new, "override", LEAD)
    assert (after.site_records(site_id)["status"] == new).all()  # every record shows its site's status

    assert service.undo_latest(store, site_id, actor=LEAD) == "override"
    back = service.read_estate(store).sites.set_index("site_id").loc[site_id]
    assert (back["status"], back["status_source"]) == (site["status"], "rule")
    with pytest.raises(NothingToUndoError):
        service.undo_latest(store, site_id, actor=LEAD)


def test_site_rule_status_is_the_strongest_record_suggestion_and_names_the_record() -> None:
    records = pd.DataFrame({
        "building_id": ["a", "b", "c", "d"], "site_id": ["s1", "s1", "s1", "s2"],
        "name": ["Hub", "Hub annex", None, "Depot"], "partner": ["Council", "NHS", "NHS", "Council"],
        "partner_type": ["council", "nhs_trust", "nhs_trust", "council"],
        "rule_status": ["surplus", "needs data", "core", "surplus"], "rule_id": ["vacant", "x", "y", "vacant"],
        "lon": [-2.3, -2.3, -2.3, -2.31], "lat": [53.45, 53.45, 53.45, 53.46],
        "geocode_precision": ["high", "medium", "high", "high"],
    })
    sites = site_table(records).set_index("site_id")
    assert SITE_STATUS_ORDER.index("core") < SITE_STATUS_ORDER.index("surplus")
    assert (sites.at["s1", "rule_status"], sites.at["s1", "rule_record"]) == ("core", "c")
    assert sites.at["s1", "partners"] == "Council; NHS"
    assert sites.at["s1", "partner_count"] == 2
    assert sites.at["s1", "name"] == "Hub"  # the best-located named record's name
    assert (sites.at["s2", "status"], sites.at["s2", "record_count"]) == ("surplus", 1)


def test_rejected_rows_stay_with_their_load_and_a_clean_reload_clears_them(store, tmp_path: Path) -> None:  # noqa: ANN001
    from estates.ingest import ingest_register

    register = tmp_path / "hubs.csv"
    register.write_text("Name,Postcode\nStretford hub,M32 0TH\nHub twice,M32 0TH\nHub twice,M32 0TH\n,\n"
                        "Nowhere,ZZ99 9ZZ\n", encoding="utf-8")
    result = ingest_register(register, partner="Test partner", partner_type="community")
    rejected_ids = set(result.records.loc[result.records["outcome"] == "rejected", "building_id"])
    assert rejected_ids

    outcome = service.ingest_into_store(store, result.records, actor=LEAD, source=register.name)
    assert outcome["rejected"] == len(rejected_ids)
    estate = service.read_estate(store)
    assert not rejected_ids & set(estate.records["building_id"])
    kept = store.rejected_rows()
    kept = kept[kept["partner"] == "Test partner"]
    assert set(kept["row_id"]) == rejected_ids
    assert kept["issues"].str.len().gt(0).all()

    register.write_text("Name,Postcode\nStretford hub,M32 0TH\n", encoding="utf-8")
    fixed = ingest_register(register, partner="Test partner", partner_type="community")
    service.ingest_into_store(store, fixed.records, actor=LEAD, source=register.name)
    assert not len(store.rejected_rows()[lambda t: t["partner"] == "Test partner"])


def test_a_store_written_by_schema_1_code_migrates_with_every_override_and_audit_row(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "old.gpkg"
    shutil.copyfile(V1_STORE, path)
    with sqlite3.connect(path) as raw:
        audit_before = raw.execute("SELECT count(*) FROM audit").fetchone()[0]
        overrides_before = raw.execute("SELECT building_id, override_status, override_reason, override_by "
                                       "FROM classifications WHERE override_status IS NOT NULL").fetchall()
        rejected_before = {r[0] for r in raw.execute("SELECT building_id FROM buildings WHERE outcome = 'rejected'")}
        decisions_before = raw.execute("SELECT count(*) FROM site_matches WHERE decision IS NOT NULL").fetchone()[0]
    assert overrides_before
    assert rejected_before
    assert audit_before > 1000

    with open_store(path) as store:
        assert store.schema_version >= 2
        audit = store.audit_log()
        assert len(audit) == audit_before
        records = service.read_records(store)
        assert not rejected_before & set(records["building_id"])
        assert set(store.rejected_rows()["row_id"]) == rejected_before
        kept = records.set_index("building_id")
        for building_id, status, reason, by in overrides_before:
            assert (kept.at[building_id, "override_status"], kept.at[building_id, "override_reason"],
                    kept.at[building_id, "override_by"]) == (status, reason, by)
        assert len(store.match_decisions()) == decisions_before
        estate = service.read_estate(store)
        library_site = service.resolve_site(estate, overrides_before[0][0])
        assert estate.sites.set_index("site_id").at[library_site, "status"] == overrides_before[0][1]
        assert any(e.action == "override" for e in service.site_history(store, library_site, estate=estate))


def test_nothing_runs_the_registers_while_a_store_holds_the_estate(store_path: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import estates.ingest
    from estates.cli import main
    from estates.estate import current_estate, current_sites

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the pipeline ran while a store holds the estate")

    monkeypatch.setattr(estates.ingest, "run_pipeline", refuse)
    assert len(current_sites().sites) < len(current_estate())
    for args in (["export", "buildings", "--out", str(tmp_path / "b.csv")],
                 ["export", "sites", "--out", str(tmp_path / "s.geojson")],
                 ["export", "overlap", "--out", str(tmp_path / "o.csv")],
                 ["match", "list"], ["classify"]):
        assert main(args) == 0, args
    from streamlit.testing.v1 import AppTest

    for page in ("estate_map.py", "classify.py", "matches.py", "data.py", "locality.py", "profiles.py",
                 "overlap.py"):
        app = AppTest.from_file(str(ROOT / "pages" / "_shell.py"), default_timeout=120)
        app.run()
        if page != "estate_map.py":
            app.switch_page(page).run()
        assert not app.exception, (page, [e.value for e in app.exception])


def test_a_site_named_by_a_person_keeps_its_name_and_the_rename_is_undone_as_one(store) -> None:  # noqa: ANN001
    estate = service.read_estate(store)
    site = estate.sites[estate.sites["record_count"] >= 2].iloc[0]
    service.rename_site(store, site["site_id"], "  Partington   Health Hub ", reason="The name on the door",
                        actor=LEAD)
    renamed = service.read_estate(store).sites.set_index("site_id")
    assert renamed.at[site["site_id"], "name"] == "Partington Health Hub"
    entries = [e for e in service.site_history(store, site["site_id"]) if e.action == "rename"]
    assert len(entries) == site["record_count"]
    assert {(e.to_value, e.reason, e.actor) for e in entries} == {("Partington Health Hub", "The name on the door",
                                                                    LEAD)}
    assert service.undo_latest(store, site["site_id"], actor=LEAD) == "rename"
    assert service.read_estate(store).sites.set_index("site_id").at[site["site_id"], "name"] == site["name"]


def test_nearby_sites_are_other_sites_within_the_distance_nearest_first(store) -> None:  # noqa: ANN001
    estate = service.read_estate(store)
    town_hall = service.resolve_site(estate, "trafford-council:TMBC0008/T0000001")
    near = estate.nearby_sites(town_hall, within_m=250)
    assert len(near) >= 1
    assert town_hall not in set(near["site_id"])
    assert near["away_m"].is_monotonic_increasing
    assert near["away_m"].max() <= 250
