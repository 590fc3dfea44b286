"""data/build.py rebuilds the committed reference data byte for byte from the raw open data, with the same builder
as ``python -m estates place build`` (geo.builder) and Trafford's recipe."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
RAW = ROOT.parent / "shared" / "data" / "raw"
GENERATED = ("boundary.geojson", "wards.geojson", "wards_generalised.geojson", "lsoas.geojson", "postcodes.csv",
             "neighbourhood_wards.csv", "gp_practices.csv", "practice_pcn.csv", "pcn_lsoa_assignment.csv",
             "pcn_footprints.geojson", "local_authorities.geojson")


# The raw data sits beside the project in development and CI; a bare clone elsewhere has only the built files.
@pytest.mark.skipif(not RAW.is_dir(), reason="needs ../shared/data/raw (present in development and CI)")
def test_build_reproduces_the_committed_reference_data(tmp_path: Path):
    result = subprocess.run([sys.executable, "data/build.py", "--raw", str(RAW), "--out", str(tmp_path),
                             "--names", str(tmp_path / "local_authorities.csv")], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    for name in GENERATED:
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "trafford" / name).read_bytes(), name
    assert (tmp_path / "place.toml").read_bytes() == (ROOT / "data" / "trafford" / "place.toml").read_bytes()
    names = tmp_path / "local_authorities.csv"
    assert names.read_bytes() == (ROOT / "data" / "local_authorities.csv").read_bytes()


def test_build_refuses_a_folder_without_sources(tmp_path: Path):
    result = subprocess.run([sys.executable, "data/build.py", "--raw", str(tmp_path), "--out", str(tmp_path / "o")],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "is not the raw data folder" in result.stderr
