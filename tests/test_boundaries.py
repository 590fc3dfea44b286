"""Reference layers (geo.boundaries, geo.pcn): neighbourhoods, LSOAs, PCN footprints on the real Trafford data."""

import numpy as np
import pandas as pd
import pytest

from geo import boundaries
from geo.projection import BNG

# The Trafford Data Lab definition (council_defined/2023/README.md), written out independently of the data files.
DATALAB_NEIGHBOURHOODS = {
    "Central": {"Ashton upon Mersey", "Brooklands", "Manor", "Sale Central", "Sale Moor"},
    "North": {"Gorse Hill & Cornbrook", "Longford", "Lostock & Barton", "Old Trafford", "Stretford & Humphrey Park"},
    "South": {"Altrincham", "Bowdon", "Broadheath", "Hale", "Hale Barns & Timperley South", "Timperley Central",
              "Timperley North"},
    "West": {"Bucklow-St Martins", "Davyhulme", "Flixton", "Urmston"},
}
# Areas of the Data Lab's own locality polygons (trafford_localities_full_resolution.geojson, "area", m²).
DATALAB_LOCALITY_AREA_M2 = {"Central": 13249113.762, "North": 21348868.496, "South": 45986888.96,
                            "West": 25457217.162}


def test_21_may_2023_wards_each_in_the_datalab_neighbourhood():
    wards = boundaries.wards()
    assert len(wards) == 21
    assert wards["ward_code"].str.match(r"^E050152(39|4\d|5\d)$").all()
    got = {hood: set(group["ward_name"]) for hood, group in wards.groupby("neighbourhood")}
    assert got == DATALAB_NEIGHBOURHOODS


def test_neighbourhood_polygons_match_the_datalab_localities():
    hoods = boundaries.neighbourhoods().to_crs(BNG).set_index("neighbourhood")
    for name, area in DATALAB_LOCALITY_AREA_M2.items():
        assert hoods.loc[name].geometry.area == pytest.approx(area, rel=1e-4)


def test_lsoas_partition_the_borough_with_population_and_imd():
    lsoas = boundaries.lsoas().to_crs(BNG)
    border = boundaries.boundary().to_crs(BNG).geometry.iloc[0]
    assert len(lsoas) == 139
    assert lsoas.geometry.area.sum() == pytest.approx(border.area, rel=1e-6)
    assert lsoas["population_2024"].sum() == 241_025  # ONS mid-2024 total for Trafford
    assert lsoas["imd_decile"].between(1, 10).all()
    # The split 2011 LSOA: both 2021 children inherit E01006185's IMD 2019 rank.
    split = lsoas.set_index("lsoa_code").loc[["E01034000", "E01034001"]]
    assert (split["lsoa11_code"] == "E01006185").all()
    assert split["imd_rank"].nunique() == 1


def test_every_practice_in_the_membership_file_gets_its_pcn():
    practices = boundaries.gp_practices()
    assert len(practices) == 27
    assert practices["pcn_code"].notna().all()
    assert practices.set_index("practice_code").loc["P91020", "pcn_name"] == "North Trafford PCN"  # Limelight
    assert practices.set_index("practice_code").loc["P91017", "pcn_name"] == "Sale Central PCN"  # Bodmin Road
    assert practices["lon"].notna().all()


def test_five_pcn_footprints_cover_trafford_without_gaps_or_overlaps():
    pcns = boundaries.pcn_footprints().to_crs(BNG)
    border = boundaries.boundary().to_crs(BNG).geometry.iloc[0]
    assert sorted(pcns["pcn_code"]) == ["U42898", "U66368", "U79881", "U83990", "U95344"]
    assert pcns["lsoas"].sum() == 139
    areas = pcns.geometry.area
    assert areas.sum() == pytest.approx(border.area, rel=1e-6)  # no gaps (union = borough) ...
    union = pcns.geometry.union_all()
    assert union.area == pytest.approx(areas.sum(), rel=1e-9)  # ... and no overlaps
    assert pcns["population_2024"].sum() == 241_025


def test_pcn_derivation_is_reproducible_from_the_membership_file():
    from geo.pcn import derive_pcn_footprints
    from geo.postcodes import postcode_table

    assignment, footprints = derive_pcn_footprints(boundaries.lsoas(), boundaries.gp_practices(),
                                                   boundaries.practice_pcn(), postcode_table().units)
    shipped = boundaries.pcn_footprints().set_index("pcn_code")
    derived = footprints.set_index("pcn_code")
    assert (derived["lsoas"] == shipped.loc[derived.index, "lsoas"]).all()
    assert np.all(assignment["share"].between(0.2, 1.0))


def test_projected_layers_are_the_geojson_in_bng_and_come_back_from_the_cache(tmp_path, monkeypatch):
    import shapely

    from geo.place import load_place

    monkeypatch.setattr(boundaries, "CACHE_DIR", tmp_path)
    place = load_place()
    expected = boundaries.lsoas(place).to_crs(BNG)
    boundaries.projected.cache_clear()
    try:
        built = boundaries.projected(place, "lsoas")
        assert [p.name.split("-bng-")[0] for p in tmp_path.glob("*.arrow")] == ["trafford-lsoas"]
        boundaries.projected.cache_clear()
        monkeypatch.setattr(boundaries, "_layer", lambda *_a: pytest.fail("read the GeoJSON although cached"))
        cached = boundaries.projected(place, "lsoas")
        for layer in (built, cached):
            assert layer.attributes.equals(pd.DataFrame(expected.drop(columns="geometry")))
            # Bit for bit: WKB carries every double as it was.
            assert (shapely.to_wkb(layer.geometry) == shapely.to_wkb(expected.geometry.to_numpy())).all()
            assert layer.attributes["lsoa_code"].iloc[0] == expected["lsoa_code"].iloc[0]
    finally:
        boundaries.projected.cache_clear()


def test_a_damaged_projected_layer_file_is_rebuilt(tmp_path, monkeypatch):
    from geo.place import load_place

    monkeypatch.setattr(boundaries, "CACHE_DIR", tmp_path)
    place = load_place()
    boundaries.projected.cache_clear()
    try:
        wards = boundaries.projected(place, "wards")
        (cache,) = tmp_path.glob("trafford-wards-bng-*.arrow")
        cache.write_bytes(b"ARROW1 but not really")
        boundaries.projected.cache_clear()
        again = boundaries.projected(place, "wards")
        assert again.attributes.equals(wards.attributes)
        assert len(again.geometry) == 21
        assert cache.read_bytes()[:6] == b"ARROW1"
        assert cache.stat().st_size > 1000  # written again, whole
    finally:
        boundaries.projected.cache_clear()


def test_a_changed_source_file_gives_a_new_cache_name(tmp_path):
    from geo.filecache import source_digest

    source = tmp_path / "wards.geojson"
    source.write_text('{"type": "FeatureCollection", "features": []}')
    first = source_digest([source], 1, BNG)
    assert source_digest([source], 1, BNG) == first
    assert source_digest([source], 2, BNG) != first  # a new format
    source.write_text('{"type": "FeatureCollection", "features": [] }')
    assert source_digest([source], 1, BNG) != first  # the file changed (size and time)
    assert source_digest([tmp_path / "absent.geojson"], 1, BNG) == source_digest([], 1, BNG)
