"""The hostile register corpus through ``geocode`` and ``ingest`` as the user runs them (issue 14).

Every file of ``tests/fixtures/hostile/expected.csv`` (built by ``tests/fixtures/make_hostile.py`` from real
Trafford rows) goes through both commands' ``main``: no traceback, no library warning on stderr, every input row
accounted for — ``ingest``'s accepted + warned + rejected add up to the rows and ``geocode`` writes every row —
and each refused file ends with exit 2 and one line. A 200,000-row file is built in a temporary folder.
"""

from __future__ import annotations

import csv
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pandas as pd
import pytest

from estates.cli import main
from tests.conftest import ROOT

HOSTILE = ROOT / "tests" / "fixtures" / "hostile"

with (HOSTILE / "expected.csv").open(encoding="utf-8") as _handle:
    CORPUS = [(row["file"], int(row["rows"]), row["class"]) for row in csv.DictReader(_handle)]

#: The classes of damage issue 14 lists; each must have files in the corpus.
CLASSES = {"encoding", "delimiter", "layout", "rows", "values", "coordinates", "formulas", "columns", "geodata",
           "garbage"}


def _run(capfd: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in this process; library warnings are recorded so that any escaping one fails the test."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        status = main(list(argv))
    out, err = capfd.readouterr()
    assert not caught, [str(w.message) for w in caught]
    return status, out, err


def _ingest(capfd, path: Path, out: Path, *extra: str) -> tuple[int, str, str]:
    return _run(capfd, "ingest", str(path), "--partner", "Hostile", "--type", "other", "--out", str(out),
                "--force", "--dry-run", *extra)  # reading is under test: nothing is written to the store


def _records(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_corpus_has_fifty_files_of_every_class():
    assert len(CORPUS) >= 50
    assert {cls for _, _, cls in CORPUS} == CLASSES
    assert {p.name for p in HOSTILE.iterdir()} >= {name for name, _, _ in CORPUS}


@pytest.mark.parametrize(("name", "rows", "cls"), CORPUS, ids=[name for name, _, _ in CORPUS])
def test_every_file_through_ingest_and_geocode(name, rows, cls, tmp_path, capfd):
    path = HOSTILE / name
    status, out, err = _ingest(capfd, path, tmp_path / "records.csv")
    if rows < 0:
        assert status == 2
        assert len(err.strip().splitlines()) == 1, err
        assert err.startswith("error: "), err
        status, out, err_geocode = _run(capfd, "geocode", str(path), "--out", str(tmp_path / "g.csv"))
        assert status == 2
        assert err_geocode == err  # one reader: the same line from both commands
        return
    assert (status, err) == (0, ""), err
    records = _records(tmp_path / "records.csv")
    assert len(records) == rows
    counts = records["outcome"].value_counts().to_dict()
    assert set(counts) <= {"accepted", "warned", "rejected"}
    assert sum(counts.values()) == rows
    assert f"{rows} rows" in out.splitlines()[0]
    assert (records.loc[records["outcome"] == "rejected", "issues"] != "").all()
    ingest_notes = [line.strip() for line in out.splitlines() if line.startswith("  note: ")]

    status, out, err = _run(capfd, "geocode", str(path), "--out", str(tmp_path / "geocoded.csv"))
    assert (status, err) == (0, ""), err
    geocoded = _records(tmp_path / "geocoded.csv")
    assert len(geocoded) == rows
    assert f"wrote {rows} rows" in out
    assert [line for line in out.splitlines() if line.startswith("note: ")] == ingest_notes  # one set of notes


def test_mixed_encodings_read_line_by_line_without_mojibake(tmp_path, capfd):
    for name in ("mixed_mostly_cp1252.csv", "mixed_mostly_utf8.csv"):
        status, out, _ = _run(capfd, "geocode", str(HOSTILE / name), "--out", str(tmp_path / "g.csv"), "--force")
        assert status == 0
        assert "mixed encodings" in out
        text = (tmp_path / "g.csv").read_text(encoding="utf-8")
        assert "Heatbeat Café" in text
        assert "Ã" not in text
        assert "St. John’s Medical Centre" in text
        flagged = _records(tmp_path / "g.csv")
        assert flagged["geocode_issue"].str.contains("unlike most of the file").sum() == 1


def test_one_bad_feature_is_rejected_with_its_number_the_others_kept(tmp_path, capfd):
    status, out, _ = _ingest(capfd, HOSTILE / "every_damage.geojson", tmp_path / "r.csv")
    assert status == 0
    records = _records(tmp_path / "r.csv")
    rejected = records[records["outcome"] == "rejected"]
    assert rejected["source_row"].astype(int).tolist() == [2, 4, 6, 10, 12]
    for row, reason in zip(rejected["source_row"], rejected["issues"], strict=True):
        assert f"feature {row}:" in reason
    assert "not closed" in rejected["issues"].iloc[1]
    assert "1e400" in rejected["issues"].iloc[2]
    assert "'Hexagon'" in rejected["issues"].iloc[3]
    empty = records[records["source_row"] == "8"].iloc[0]
    assert empty["outcome"] == "warned"
    assert "empty Point" in empty["issues"]
    assert records.loc[records["outcome"] != "rejected", "geocode_method"].ne("none").all()
    for name, number in (("one_point_line.geojson", 3), ("unclosed_ring.geojson", 2), ("coordinates_1e400.geojson", 5),
                         ("unknown_geometry_type.geojson", 4), ("damaged_wkb.gpkg", 4)):
        _ingest(capfd, HOSTILE / name, tmp_path / "r.csv")
        records = _records(tmp_path / "r.csv")
        assert records.loc[records["outcome"] == "rejected", "source_row"].tolist() == [str(number)], name
    _ingest(capfd, HOSTILE / "line_geometry.geojson", tmp_path / "r.csv")
    line = _records(tmp_path / "r.csv").iloc[0]
    assert line["outcome"] == "warned"
    assert "located at a point on the line" in line["issues"]


def test_geocode_reads_geojson_and_geopackage_locations(tmp_path, capfd):
    status, out, _ = _run(capfd, "geocode", str(HOSTILE / "fire_bng_crs.geojson"), "--out", str(tmp_path / "g.csv"))
    assert status == 0
    assert "reprojected from EPSG:27700" in out
    geocoded = _records(tmp_path / "g.csv")
    assert (geocoded["geocode_method"] == "coordinates").all()
    assert geocoded["lon"].astype(float).between(-2.5, -2.2).all()
    assert geocoded["footprint_wkt"].str.startswith("POLYGON").all()
    _run(capfd, "geocode", str(HOSTILE / "coordinates_1e400.geojson"), "--out", str(tmp_path / "g.csv"), "--force")
    fifth = _records(tmp_path / "g.csv").iloc[4]
    assert fifth["geocode_issue"].startswith("feature 5: coordinates are not finite")
    assert fifth["geocode_method"] == "postcode"  # its own postcode property still places it


def test_nested_properties_stay_json(tmp_path, capfd):
    _ingest(capfd, HOSTILE / "nested_properties.geojson", tmp_path / "r.csv")
    extra = _records(tmp_path / "r.csv")["extra"].iloc[0]
    assert '"contact": "{\\"email\\": \\"altrincham.library@trafford.gov.uk\\"' in extra
    assert '"postcode_parts": "[\\"WA14\\", \\"1AH\\"]"' in extra
    assert "{'email'" not in extra


def test_garbage_refused_in_a_separate_process_with_one_line():
    result = subprocess.run([sys.executable, "-m", "estates", "geocode", str(HOSTILE / "random_bytes.csv"),
                             "--out", "unused.csv"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: random_bytes.csv: binary data, not a text table (supported: .csv, .txt, .tsv, .xlsx, .xlsm, "
        ".geojson, .json, .gpkg)"]
    assert not (ROOT / "unused.csv").exists()


def test_header_far_down_found_or_named(tmp_path, capfd):
    _ingest(capfd, HOSTILE / "header_row_40.csv", tmp_path / "r.csv")
    assert _records(tmp_path / "r.csv")["source_row"].iloc[0] == "41"
    status, _, err = _ingest(capfd, HOSTILE / "header_row_150.csv", tmp_path / "r.csv")
    assert status == 2
    assert err == "error: header_row_150.csv: no header found in the first 100 rows; use --header-row\n"
    status, out, _ = _ingest(capfd, HOSTILE / "header_row_150.csv", tmp_path / "r.csv", "--header-row", "150")
    assert status == 0
    assert "10 rows" in out
    status, out, _ = _run(capfd, "geocode", str(HOSTILE / "header_row_150.csv"), "--out", str(tmp_path / "g.csv"),
                          "--header-row", "150")
    assert status == 0
    assert "wrote 10 rows" in out
    status, _, err = _run(capfd, "geocode", str(HOSTILE / "header_row_150.csv"), "--out", str(tmp_path / "g.csv"),
                          "--header-row", "500", "--force")
    assert status == 2
    assert "--header-row 500 is not a row with values" in err


def test_postcode_disproves_coordinates(tmp_path, capfd):
    _run(capfd, "geocode", str(HOSTILE / "swapped_easting_northing.csv"), "--out", str(tmp_path / "g.csv"))
    geocoded = _records(tmp_path / "g.csv")
    assert (geocoded["geocode_method"].iloc[:10] == "coordinates_swapped").all()
    assert geocoded["geocode_issue"].iloc[:10].str.startswith("easting and northing were given the wrong way").all()
    assert (geocoded["geocode_method"].iloc[10:] == "coordinates_bng").all()
    assert (geocoded["outside_trafford"] == "False").all()
    _run(capfd, "geocode", str(HOSTILE / "irish_grid_bt.csv"), "--out", str(tmp_path / "g.csv"), "--force")
    irish = _records(tmp_path / "g.csv")
    assert (irish["geocode_method"] == "none").all()  # never placed near Chester
    assert irish["geocode_issue"].str.contains("Irish Grid, not British National Grid").all()
    _run(capfd, "geocode", str(HOSTILE / "coordinates_far_from_postcode.csv"), "--out", str(tmp_path / "g.csv"),
         "--force")
    far = _records(tmp_path / "g.csv")
    moved = far["geocode_issue"] != ""
    assert moved.any()
    assert far.loc[moved, "geocode_issue"].str.contains("coordinates kept").all()


def test_formula_cells_cached_value_read_else_flagged_per_cell(tmp_path, capfd):
    _ingest(capfd, HOSTILE / "formulas_cached.xlsx", tmp_path / "r.csv")
    cached = _records(tmp_path / "r.csv")
    assert not cached["issues"].str.contains("formula").any()
    assert cached["postcode"].iloc[2] == "M21 9TA"
    assert float(cached["gia_m2"].iloc[3]) == 3882.0  # the cached value of =SUM(…), as a number
    _ingest(capfd, HOSTILE / "formulas_no_value.xlsx", tmp_path / "r.csv")
    missing = _records(tmp_path / "r.csv")
    flagged = missing["issues"].str.count("formula without a value")
    assert flagged.sum() == 4
    assert "cell J4: formula without a value (=\"M21 \"&\"9TA\")" in missing["issues"].iloc[2]


def test_column_names_and_units_from_headers(tmp_path, capfd):
    council = pd.read_csv(ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv", dtype=str,
                          keep_default_na=False)
    sized = council[council["BuildingSize"] != ""].iloc[0:12]
    for name in ("site_name_floor_area_m2.csv", "property_name_gia_sqft.csv", "premises_nia_sqm.xlsx"):
        status, out, _ = _ingest(capfd, HOSTILE / name, tmp_path / "r.csv")
        records = _records(tmp_path / "r.csv")
        assert records["name"].tolist() == sized["PropertyName"].tolist(), name
        given = records["gia_m2"].astype(float).to_numpy()
        assert abs(given - sized["BuildingSize"].astype(float).to_numpy()).max() < 0.01, name
    assert "gia_m2 <- GIA (sq ft) (recognised; unit sqft read from the column name)" in out.replace(
        "column ", "") or "unit m2 read from the column name" in out
    _ingest(capfd, HOSTILE / "case_ids.csv", tmp_path / "r.csv")
    last = _records(tmp_path / "r.csv").iloc[-1]
    assert last["outcome"] == "rejected"
    assert "ids are compared ignoring case and spaces" in last["issues"]


@pytest.mark.slow
def test_two_hundred_thousand_rows_through_both_commands(tmp_path, capfd):
    council = pd.read_csv(ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv", dtype=str,
                          keep_default_na=False)
    columns = ["AssetCode", "PropertyName", "PostCode", "GeoX", "GeoY", "BuildingSize"]
    copies = -(-200_000 // len(council))
    big = pd.concat([council[columns]] * copies, ignore_index=True).iloc[:200_000]
    # Each copy gets its own asset codes so rows stay distinct (real rows, repeated).
    big["AssetCode"] = (big.index // len(council)).astype(str).str.zfill(4) + big["AssetCode"]
    path = tmp_path / "big.csv"
    big.to_csv(path, index=False)
    status, out, err = _run(capfd, "ingest", str(path), "--partner", "Hostile", "--type", "other")
    assert (status, err) == (0, "")
    counts = re.match(r"big\.csv \(Hostile, other\): 200000 rows — (\d+) accepted, (\d+) accepted with warnings, "
                      r"(\d+) rejected", out)
    assert counts is not None
    assert sum(map(int, counts.groups())) == 200_000
    status, out, err = _run(capfd, "geocode", str(path), "--out", str(tmp_path / "g.csv"))
    assert (status, err) == (0, "")
    assert "wrote 200000 rows" in out
