"""The table writers of estates.exports on real geocoded rows: formulas neutralised column-wise, CSV through Arrow,
GeoPackage/GeoJSON through pyogrio's Arrow path, every row kept."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest

from estates.exports import neutralise_formulas, write_table
from geo.geocoder import geocode
from geo.place import load_place
from geo.tagging import tag

HOSTILE = ["=HYPERLINK(\"http://evil.example\")", "+SUM(1,1)", "-2+3", "@cmd", "\tTAB", "\rCR"]
PLAIN = ["-2.5", "+44", "-1e5", "Trafford Town Hall", "a=b", ""]


@pytest.fixture(scope="module")
def located() -> pd.DataFrame:
    """Real postcodes geocoded, one register column full of hostile and harmless text."""
    names = HOSTILE + PLAIN + ["=NOW()"]
    frame = pd.DataFrame({
        "name": names,
        "postcode": ["M32 0TH", "M31 4EL", "WA14 1PF", "M33 7ZF", "M41 0AA", "M16 0RA"] * 2 + ["NOT KNOWN"],
        "count": np.arange(len(names)),
    }).astype({"name": "str", "postcode": "str"})
    return geocode(frame, postcode="postcode", place=load_place())


@pytest.fixture(scope="module")
def tagged(located: pd.DataFrame) -> pd.DataFrame:
    """The rows tagged."""
    return tag(located, place=load_place())


def test_only_trigger_cells_of_text_columns_change(tagged):
    before = tagged.copy()
    out = neutralise_formulas(tagged)
    pd.testing.assert_frame_equal(tagged, before)  # the input is left alone
    assert out["name"].tolist() == ["'" + v for v in HOSTILE] + PLAIN + ["'=NOW()"]
    for column in tagged.columns.drop("name"):
        pd.testing.assert_series_equal(out[column], tagged[column])  # numbers, booleans, clean text untouched
    assert out["name"].dtype == tagged["name"].dtype


def test_object_categorical_and_header_cells_are_neutralised():
    frame = pd.DataFrame({
        "mixed": pd.Series(["=1+1", 3, None, "-7"], dtype=object),
        "kind": pd.Categorical(["@x", "ok", "ok", "@x"]),
        "=total": [1.0, 2.0, np.nan, 4.0],
    })
    out = neutralise_formulas(frame)
    assert out["mixed"].tolist() == ["'=1+1", 3, None, "-7"]
    assert out["kind"].tolist() == ["'@x", "ok", "ok", "'@x"]
    assert list(out.columns) == ["mixed", "kind", "'=total"]


def test_csv_keeps_every_row_and_reads_back_as_before(tagged, tmp_path: Path):
    path = tmp_path / "rows.csv"
    frame = tagged.assign(seen=pd.Series([dt.datetime(2026, 1, 2, 10, tzinfo=dt.UTC)] * len(tagged)),
                          extra=[{"a": 1}] + [None] * (len(tagged) - 1))
    write_table(frame, path)
    back = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert len(back) == len(tagged)
    assert back.columns.tolist() == [str(c) for c in frame.columns]
    assert back["name"].tolist() == ["'" + v for v in HOSTILE] + PLAIN + ["'=NOW()"]
    assert set(back["outside_trafford"]) <= {"True", "False", ""}
    assert back["seen"].iloc[0] == "2026-01-02 10:00:00+00:00"
    assert json.loads(back["extra"].iloc[0]) == {"a": 1}
    assert back["ward_name"].iloc[0] == tagged["ward_name"].iloc[0]
    np.testing.assert_allclose(back["lon"].replace("", "nan").astype(float), tagged["lon"].astype(float))
    with path.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[0] == "name"  # the header line is plain, as every CSV reader expects


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_layers_keep_every_row_and_the_neutral_text(tagged, tmp_path: Path, suffix: str):
    path = tmp_path / f"rows{suffix}"
    write_table(tagged, path)
    back = gpd.read_file(path)
    assert len(back) == len(tagged)
    assert back.crs.to_epsg() == 4326
    assert back["name"].tolist() == tagged["name"].tolist()  # GIS formats hold text as text
    located = tagged["lon"].notna().to_numpy()
    assert 0 < located.sum() < len(tagged)
    assert back.geometry[located].notna().all()
    assert back.geometry[~located].isna().all()
    np.testing.assert_allclose(back.geometry[located].x, tagged["lon"][located], atol=1e-6)
    assert back["imd_rank"].dropna().astype(int).tolist() == tagged["imd_rank"].dropna().astype(int).tolist()


def test_csv_written_in_many_slices_keeps_every_row_in_order(tagged, tmp_path: Path, monkeypatch):
    # Large tables are formatted slice by slice on two threads: five rows per slice makes this table three slices.
    whole, sliced = tmp_path / "whole.csv", tmp_path / "sliced.csv"
    write_table(tagged, whole)
    monkeypatch.setattr("estates.exports._CSV_SLICE_ROWS", 5)
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    write_table(tagged, sliced)
    assert sliced.read_bytes() == whole.read_bytes()
    back = pd.read_csv(sliced, dtype=str, keep_default_na=False)
    assert back["name"].tolist() == ["'" + v for v in HOSTILE] + PLAIN + ["'=NOW()"]
    assert back["ward_name"].tolist() == tagged["ward_name"].fillna("").tolist()


@pytest.mark.parametrize("suffix", [".csv", ".gpkg", ".geojson"])
def test_categorical_tags_are_written_as_the_same_text(located, tagged, tmp_path: Path, suffix: str):
    # The geocode command tags with categoricals (no string per row): its files must not change because of it.
    coded = tag(located, place=load_place(), categorical=True)
    assert isinstance(coded["ward_name"].dtype, pd.CategoricalDtype)
    text_path, coded_path = tmp_path / f"text{suffix}", tmp_path / f"coded{suffix}"
    write_table(tagged, text_path)
    write_table(coded, coded_path)
    if suffix == ".gpkg":
        pd.testing.assert_frame_equal(gpd.read_file(coded_path), gpd.read_file(text_path))
    else:
        assert coded_path.read_bytes() == text_path.read_bytes()


def test_point_wkb_is_what_shapely_writes_and_missing_locations_are_null():
    import shapely

    from estates.exports import _wkb_points

    x = np.array([-2.2874833, np.nan, 1e-300, -0.0, 381009.0])
    y = np.array([53.4590163, 53.4, np.nan, 51.5, 395846.0])
    located = np.isfinite(x) & np.isfinite(y)
    wkb = _wkb_points(x, y, located)
    assert wkb.null_count == 2
    expected = shapely.to_wkb(shapely.points(x[located], y[located]))
    assert [v for v in wkb.to_pylist() if v is not None] == list(expected)
    assert [v is None for v in wkb.to_pylist()] == [False, True, True, False, False]


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson"])
def test_point_layers_match_the_geodataframe_writer(tagged, tmp_path: Path, suffix: str):
    from estates.exports import to_geodataframe

    # Columns with no value at all (GDAL has no null type: plain and categorical) and rows without a location.
    frame = tagged.assign(note=pd.Series([None] * len(tagged), dtype=object),
                          group=pd.Categorical([None] * len(tagged), categories=pd.Index([], dtype=object)))
    direct, via_geopandas = tmp_path / f"direct{suffix}", tmp_path / f"geopandas{suffix}"
    write_table(frame, direct)
    write_table(to_geodataframe(frame), via_geopandas)
    if suffix == ".geojson":
        assert direct.read_bytes() == via_geopandas.read_bytes()
    else:
        pd.testing.assert_frame_equal(gpd.read_file(direct), gpd.read_file(via_geopandas))
    nowhere = tagged.head(2).assign(lon=np.nan, lat=np.nan)
    write_table(nowhere, tmp_path / f"nowhere{suffix}")
    back = gpd.read_file(tmp_path / f"nowhere{suffix}")
    assert len(back) == 2
    assert back.geometry.isna().all()
