"""Neighbourhood × PCN overlap geometry and population (geo.overlap) on the real Trafford layers."""

import pytest

from geo import boundaries
from geo.overlap import overlap_matrix, overlap_pieces, registered_patients_matrix
from geo.projection import BNG


@pytest.fixture(scope="module")
def pieces():
    return overlap_pieces()


def test_overlap_areas_add_back_to_each_neighbourhood_and_pcn(pieces):
    hood_area = boundaries.neighbourhoods().to_crs(BNG).set_index("neighbourhood").area / 1e4
    pcn_area = boundaries.pcn_footprints().to_crs(BNG).set_index("pcn_code").area / 1e4
    by_hood = pieces.groupby("neighbourhood")["area_ha"].sum()
    by_pcn = pieces.groupby("pcn_code")["area_ha"].sum()
    for name, area in hood_area.items():
        assert by_hood[name] == pytest.approx(area, rel=1e-3)
    for code, area in pcn_area.items():
        assert by_pcn[code] == pytest.approx(area, rel=1e-3)
    assert pieces.groupby("neighbourhood")["share_of_neighbourhood_area"].sum().tolist() == pytest.approx([1] * 4)


def test_population_shares_add_to_the_ons_neighbourhood_totals(pieces):
    wards = boundaries.wards()
    ons = wards.groupby("neighbourhood")["population_2024"].sum()
    by_hood = pieces.groupby("neighbourhood")["population"].sum()
    for name, total in ons.items():
        assert by_hood[name] == pytest.approx(total, abs=0.5)
    assert pieces["population"].sum() == pytest.approx(241_025, abs=0.5)
    shares = pieces.groupby("neighbourhood")["share_of_neighbourhood_population"].sum()
    assert shares.tolist() == pytest.approx([1.0] * 4)


def test_the_crosswalks_the_partnership_knows_hold(pieces):
    area = overlap_matrix(pieces, "area_ha")
    share = area.div(area.sum(axis=1), axis=0)
    # North Trafford PCN ≈ North locality, Trafford West PCN ≈ West locality, Sale Central PCN ≈ Central.
    assert share.loc["North", "North Trafford PCN"] > 0.95
    assert share.loc["West", "Trafford West PCN"] > 0.9
    assert share.loc["Central", "Sale Central PCN"] > 0.95
    assert area.shape == (4, 5)


def test_slivers_are_flagged_but_kept_in_totals(pieces):
    slivers = pieces[pieces["is_sliver"]]
    assert len(slivers) > 0
    assert (slivers["area_ha"] < 2.0).all()
    strict = overlap_pieces(sliver_ha=0.0)
    assert not strict["is_sliver"].any()


def test_registered_patients_by_practice_neighbourhood():
    table = registered_patients_matrix()
    assert table.loc["North", "North Trafford PCN"] == 47_875
    assert table.loc["West", "Trafford West PCN"] == 53_993
    # Bodmin Road Health Centre (Sale Central PCN) sits in Bucklow-St Martins ward, West locality.
    assert table.loc["West", "Sale Central PCN"] > 0
    assert table.attrs["missing"] == ["Grove Medical Practice"]
