"""``python -m estates geocode`` end to end, as a user runs it."""

import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "estates", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


@pytest.fixture
def register(tmp_path: Path) -> Path:
    # Real rows of the council's asset register, one with a partial postcode and one with nothing usable.
    path = tmp_path / "assets.csv"
    pd.DataFrame({
        "PropertyName": ["Trafford Town Hall", "Moss View Centre", "Sale Waterside", "=HYPERLINK(\"x\")"],
        "PostCode": ["M32 0TH", "M31", "m337zf", ""],
        "GeoX": [-2.2874833, None, None, None],
        "GeoY": [53.4590163, None, None, None],
    }).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("suffix", [".csv", ".geojson", ".gpkg"])
def test_geocode_writes_every_row_with_tags(register: Path, tmp_path: Path, suffix: str):
    out = tmp_path / f"out{suffix}"
    result = run("geocode", str(register), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "4 rows" in result.stdout
    assert "need attention: 2" in result.stdout
    frame = pd.read_csv(out) if suffix == ".csv" else gpd.read_file(out)
    assert len(frame) == 4
    assert frame["geocode_method"].tolist() == ["coordinates", "postcode_district", "postcode", "none"]
    assert frame["neighbourhood"].tolist()[:3] == ["North", "West", "Central"]
    if suffix == ".csv":
        assert frame["PropertyName"].iloc[3].startswith("'=")  # formula neutralised
    else:
        assert gpd.read_file(out).crs.to_epsg() == 4326


def test_column_options_override_detection(tmp_path: Path):
    src = tmp_path / "odd.csv"
    pd.DataFrame({"where": ["WA14 1PF"], "name": ["Altrincham Town Hall"]}).to_csv(src, index=False)
    out = tmp_path / "out.csv"
    assert run("geocode", str(src), "--out", str(out)).returncode == 2
    result = run("geocode", str(src), "--out", str(out), "--postcode-column", "where")
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(out)["ward_name"].tolist() == ["Altrincham"]


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda d: ["geocode", str(d / "missing.csv"), "--out", str(d / "o.csv")], "no such file"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "o.csv")], "no postcode or coordinate column"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "o.csv"), "--postcode-column", "zzz"],
         "is not a column"),
        (lambda d: ["geocode", str(d / "garbage.xlsx"), "--out", str(d / "o.csv")], "damaged or incomplete ZIP"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "o.txt"), "--postcode-column", "a"],
         "unknown output format"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "exists.csv"), "--postcode-column", "a"],
         "use --force"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d), "--postcode-column", "a"],
         "is a folder; give a file name ending .csv"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "rows"), "--postcode-column", "a"],
         "cannot tell the format without an extension"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "no" / "o.csv"), "--postcode-column", "a"],
         "no such folder"),
        (lambda d: ["geocode", str(d / "nocols.csv"), "--out", str(d / "nocols.csv"), "--postcode-column", "a",
                    "--force"], "nocols.csv is the input file; write the result to another file"),
    ],
)
def test_user_errors_exit_2_with_one_readable_line(tmp_path: Path, make_args, message):
    (tmp_path / "nocols.csv").write_text("a,b\n1,2\n")
    (tmp_path / "garbage.xlsx").write_bytes(b"PK\x03\x04 this is not a spreadsheet")
    (tmp_path / "exists.csv").write_text("x\n")
    result = run(*make_args(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]


def test_an_existing_output_is_refused_before_the_input_is_read(tmp_path: Path):
    # The input does not even exist: the output's check comes first, so a long run never ends on this mistake.
    (tmp_path / "exists.gpkg").write_bytes(b"kept")
    result = run("geocode", str(tmp_path / "missing.csv"), "--out", str(tmp_path / "exists.gpkg"))
    assert result.returncode == 2
    assert result.stderr == f"error: {tmp_path / 'exists.gpkg'} exists; use --force to overwrite it\n"
    assert result.stdout == ""
    assert (tmp_path / "exists.gpkg").read_bytes() == b"kept"


def test_online_flag_fills_postcodes_beyond_the_table_from_a_local_postcodes_io(tmp_path: Path):
    """--online against a real local HTTP server speaking postcodes.io (no request leaves the machine)."""
    import os

    sys.path.insert(0, str(Path(__file__).parent))
    from online_server import FakeGeoServer

    # A postcode newer than the offline ONSPD (Nov 2025) release: only postcodes.io can know it. (Every older GB
    # postcode is found offline, issue 17.) "M4 9ZZ" is well formed and absent from ONSPD Nov 2025; the server
    # answers with the location of the Manchester city-centre probation office (Trafford Data Lab GM list).
    m4 = {"postcode": "M4 9ZZ", "longitude": -2.234017, "latitude": 53.483394, "eastings": None,
          "northings": None, "admin_district": "Manchester", "codes": {"admin_district": "E08000003"}}
    server = FakeGeoServer(postcodes={"M4 9ZZ": m4}).start()
    try:
        src = tmp_path / "new.csv"
        pd.DataFrame({"name": ["City Centre probation office", "nowhere"],
                      "postcode": ["M4 9ZZ", "M99 9ZZ"]}).to_csv(src, index=False)
        out = tmp_path / "out.csv"
        env = {**os.environ, "ESTATES_ONLINE_POSTCODES_IO_URL": server.url,
               "ESTATES_ONLINE_NOMINATIM_URL": server.url, "ESTATES_ONLINE_CACHE_PATH": str(tmp_path / "c.sqlite"),
               "ESTATES_ONLINE_BACKOFF": "0.01"}
        offline = subprocess.run([sys.executable, "-m", "estates", "geocode", str(src), "--out", str(out)],
                                 cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
        assert offline.returncode == 0, offline.stderr
        assert server.requests == []  # never online unless asked
        result = subprocess.run([sys.executable, "-m", "estates", "geocode", str(src), "--out", str(out), "--force",
                                 "--online"], cwd=ROOT, capture_output=True, text=True, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        frame = pd.read_csv(out, keep_default_na=False)
        assert len(frame) == 2
        assert len(server.requests_to("/postcodes")) == 1
        assert frame["geocode_method"].tolist() == ["online_postcodes_io", "none"]
        assert frame.loc[0, "outside_trafford"]
        assert frame.loc[1, "geocode_issue"] != ""  # unknown everywhere: flagged, not guessed
    finally:
        server.stop()
