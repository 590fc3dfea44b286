"""``python -m estates classify`` and ``history`` against a real embedded store seeded from the demo estate."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from estates.store import open_store

ROOT = Path(__file__).resolve().parent.parent
TOWN_HALL = "trafford-council:TMBC0008/T0000001"  # Trafford Town Hall, Talbot Road


def run(*args: str, store: Path | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ESTATES_ACTOR": "estates.lead@trafford.example"}
    env.pop("ESTATES_DATABASE_URL", None)
    if store is not None:
        env["ESTATES_DATABASE_URL"] = str(store)
    return subprocess.run([sys.executable, "-m", "estates", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.fixture(scope="module")
def classified(tmp_path_factory):
    path = tmp_path_factory.mktemp("store") / "estate.gpkg"
    result = run("classify", "--store", str(path))
    assert result.returncode == 0, result.stderr
    return path, result.stdout


def test_classify_seeds_an_empty_store_and_prints_partner_by_status(classified):
    _, out = classified
    assert "is empty: loading the partner registers first" in out
    council = next(line for line in out.splitlines() if line.startswith("Trafford Council"))
    key, core, surplus, needs_data, total = (int(v) for v in council.split()[-5:])
    assert surplus == 186  # every site whose records are all surplus: the council's Vacant assets
    assert total == 602  # 608 rows, 6 rejected (kept with the load, never records)
    assert key + core + surplus + needs_data == total


def test_classify_again_keeps_overrides_and_records_who_ran_it(classified):
    path, _ = classified
    store = open_store(str(path))
    version = store.building(TOWN_HALL).version
    store.set_status(TOWN_HALL, "core", reason="test: consolidation review", actor="a.person",
                     expected_version=version)
    result = run("classify", "--store", str(path))
    assert result.returncode == 0, result.stderr
    assert "0 record(s) changed rule suggestion (run by estates.lead@trafford.example)" in result.stdout
    state = store.building(TOWN_HALL)
    assert state.effective_status == "core"  # the person's override wins
    assert state.rule_status == "key"  # the rules' suggestion stays visible


def test_history_prints_who_when_from_to_and_why(classified):
    path, _ = classified
    result = run("history", TOWN_HALL, "--store", str(path))
    assert result.returncode == 0, result.stderr
    assert "rule_status: ∅ → key" in result.stdout
    assert "a.person" in result.stdout
    assert "test: consolidation review" in result.stdout


def test_unknown_building_is_one_readable_line(classified):
    path, _ = classified
    result = run("history", "no-such-building", "--store", str(path))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: no site or record 'no-such-building' in {path}"


def test_exports_read_the_store_so_a_persons_override_shows(classified, tmp_path):
    path, _ = classified
    out = tmp_path / "buildings.csv"
    result = run("export", "buildings", "--format", "csv", "--out", str(out), store=path)
    assert result.returncode == 0, result.stderr
    import pandas as pd

    exported = pd.read_csv(out, dtype=str, encoding="utf-8-sig").set_index("building_id")
    assert exported.loc[TOWN_HALL, "status"] == "core"  # overridden above; the rules still say key
