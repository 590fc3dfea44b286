"""Estate counts per neighbourhood × PCN piece (estates.analysis.overlap) on the real demo estate and Trafford
layers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estates.analysis.overlap import (
    MATRICES,
    NOT_IN_PIECE,
    building_matrix,
    buildings_by_piece,
    floor_area_by_piece,
    floor_area_matrix,
    floor_area_missing_matrix,
    locate_in_pieces,
    overlap_tables,
    pieces_with_estate,
    tidy_matrices,
)
from estates.estate import current_estate
from estates.schema import STATUSES
from geo.overlap import overlap_pieces


@pytest.fixture(scope="module")
def pieces():
    return overlap_pieces()


@pytest.fixture(scope="module")
def estate():
    return current_estate(use_store=False)


def test_the_estate_is_every_accepted_register_record_with_its_sites_status(estate):
    assert len(estate) == 979  # 985 rows; the 6 rejected ones are never records of the estate
    assert estate["building_id"].is_unique
    assert set(estate["status"]) <= set(STATUSES)
    assert (estate.groupby("site_id")["status"].nunique() == 1).all()  # the status belongs to the site
    assert (estate["status_source"] == "rule").all()


def test_every_building_is_in_one_piece_or_counted_as_in_none(estate, pieces):
    table = buildings_by_piece(estate, pieces)
    assert table["total"].sum() == len(estate)
    assert list(table.columns[4:]) == [*STATUSES, "total"]
    outside = table[table["neighbourhood"] == NOT_IN_PIECE].iloc[0]
    # The 6 council rows that could not be located were rejected (not records); 5 records lie outside Trafford.
    reasons = locate_in_pieces(estate, pieces)["not_in_piece_reason"].value_counts()
    assert reasons.get("not located", 0) == 0  # rows that could not be located were rejected: not records
    # 103 more carry only a district that straddles the boundary (M33, WA14, ...): never claimed inside (issue 17).
    assert reasons["outside the place"] == 108
    assert outside["total"] == 108
    # Per-status counts add back to each piece's total and to the estate's status counts.
    assert (table[list(STATUSES)].sum(axis=1) == table["total"]).all()
    assert table[list(STATUSES)].sum().to_dict() == estate["status"].value_counts().reindex(STATUSES).to_dict()


def test_a_building_belongs_to_the_piece_its_own_tags_name(estate, pieces):
    located = locate_in_pieces(estate, pieces)
    row = located[located["name"].astype(str).str.contains("Stretford", na=False) & located["in_piece"]].iloc[0]
    table = buildings_by_piece(estate[estate["building_id"] == row["building_id"]], pieces)
    hit = table[table["total"] == 1]
    assert (hit["neighbourhood"].item(), hit["pcn_code"].item()) == (row["neighbourhood"], row["pcn_code"])


def test_buildings_without_location_are_counted_separately(estate, pieces):
    sample = estate[locate_in_pieces(estate, pieces)["in_piece"].to_numpy()].head(20).copy()
    sample.loc[sample.index[:3], ["lon", "lat"]] = np.nan  # a register row that lost its coordinates
    table = buildings_by_piece(sample, pieces)
    assert table.loc[table["neighbourhood"] == NOT_IN_PIECE, "total"].item() == 3
    assert table["total"].sum() == 20
    assert building_matrix(sample).attrs["not_in_any_piece"] == 3


def test_matrices_are_four_by_five_and_agree_with_the_piece_tables(estate, pieces):
    tables = overlap_tables(pieces, estate)
    assert list(tables) == list(MATRICES)
    for name, table in tables.items():
        assert table.shape == (4, 5), name
        assert list(table.index) == ["Central", "North", "South", "West"]
        assert list(table.columns) == list(tables["area_ha"].columns), name
    counts = tables["buildings"]
    assert counts.to_numpy().sum() == len(estate) - 108
    assert counts.loc["North", "North Trafford PCN"] == 163  # 184 before issue 17 (straddling districts)
    assert counts.attrs["not_in_any_piece"] == 108
    # Per status, the matrices add up to the all-status matrix.
    by_status = sum(building_matrix(estate, status=s).to_numpy() for s in STATUSES)
    assert (by_status == counts.to_numpy()).all()


def test_floor_area_never_treats_missing_as_zero(estate, pieces):
    area = floor_area_matrix(estate)
    gia = pd.to_numeric(estate["gia_m2"], errors="coerce")
    in_piece = locate_in_pieces(estate, pieces)["in_piece"].to_numpy()
    assert area.to_numpy().sum() == pytest.approx(gia[in_piece].sum())
    lacking = floor_area_missing_matrix(estate)
    assert lacking.shape == (4, 5)
    assert lacking.to_numpy().sum() == int(gia[in_piece].isna().sum()) == area.attrs["without_floor_area"]
    assert f"{lacking.to_numpy().sum()} of {in_piece.sum()} buildings" in area.attrs["note"]
    per_piece = floor_area_by_piece(estate, pieces)
    assert per_piece["without_floor_area"].sum() == int(gia.isna().sum())
    assert per_piece["total"].sum() == pytest.approx(gia.sum())
    # A piece whose buildings all lack GIA shows 0 m² *and* says how many lack it.
    sale_south = per_piece[(per_piece["neighbourhood"] == "South") & (per_piece["pcn_name"] == "Sale Central PCN")]
    assert sale_south["total"].item() == 0
    assert sale_south["without_floor_area"].item() == 2


def test_pieces_with_estate_carry_counts_for_tooltips_and_exports(estate, pieces):
    out = pieces_with_estate(pieces, estate)
    assert len(out) == len(pieces)
    assert out.columns[-1] == "geometry"
    status_columns = ["buildings_key", "buildings_core", "buildings_surplus", "buildings_needs_data"]
    assert (out[status_columns].sum(axis=1) == out["buildings"]).all()
    assert out["buildings"].sum() == len(estate) - 108
    assert pieces_with_estate(pieces, None).columns.tolist() == pieces.columns.tolist()


def test_counts_by_partner(estate, pieces):
    table = buildings_by_piece(estate, pieces, by="partner")
    assert set(table.columns[4:-1]) == set(estate["partner"])
    assert table["total"].sum() == len(estate)


def test_tidy_matrices_is_one_long_table(estate, pieces):
    long = tidy_matrices(overlap_tables(pieces, estate))
    assert list(long.columns) == ["measure", "neighbourhood", "pcn_name", "value"]
    assert len(long) == 5 * 4 * 5
    assert long.groupby("measure")["value"].sum()["buildings"] == len(estate) - 108
