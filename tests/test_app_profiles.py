"""estates.analysis.profiles on the real Trafford data: population adds up, deprivation is plausible, estate counts
add up."""

from __future__ import annotations

import pandas as pd
import pytest

from estates.analysis.profiles import area_lsoas, area_profiles, estate_breakdown
from estates.estate import current_estate
from estates.schema import STATUSES
from geo import boundaries


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    return current_estate(use_store=False)


def test_neighbourhood_population_is_the_sum_of_its_wards(estate: pd.DataFrame) -> None:
    profiles = area_profiles(estate, "neighbourhood").set_index("area")
    wards = boundaries.wards().groupby("neighbourhood")["population_2024"].sum()

    assert profiles.index.tolist() == ["Central", "North", "South", "West"]
    for name, people in wards.items():
        assert profiles.loc[name, "population"] == pytest.approx(people, abs=1)


def test_pcn_population_adds_up_to_the_borough(estate: pd.DataFrame) -> None:
    pcns = area_profiles(estate, "pcn")

    assert len(pcns) == 5
    assert pcns["population"].sum() == pytest.approx(boundaries.lsoas()["population_2024"].sum(), rel=1e-6)


def test_every_lsoa_belongs_to_one_area_of_each_kind() -> None:
    for kind in ("neighbourhood", "pcn"):
        table = area_lsoas(kind)
        assert len(table) == len(boundaries.lsoas())
        assert table["area"].notna().all()
        assert not table["lsoa_code"].duplicated().any()


def test_deprivation_figures_are_consistent_and_north_is_more_deprived_than_south(estate: pd.DataFrame) -> None:
    profiles = area_profiles(estate, "neighbourhood").set_index("area")

    assert profiles["lsoas"].sum() == len(boundaries.lsoas())
    assert profiles["most_deprived_20pct_share"].between(0, 1).all()
    assert profiles.loc["North", "imd_score"] > profiles.loc["South", "imd_score"]
    assert profiles.loc["North", "most_deprived_20pct_population"] > profiles.loc["South",
                                                                                  "most_deprived_20pct_population"]
    north = area_lsoas("neighbourhood", "North")
    assert profiles.loc["North", "most_deprived_lsoa"] == north.iloc[0]["lsoa_name"]
    assert north["imd_rank"].is_monotonic_increasing


def test_estate_counts_add_up(estate: pd.DataFrame) -> None:
    profiles = area_profiles(estate, "neighbourhood")

    tagged = estate["neighbourhood"].notna()
    assert profiles["buildings"].sum() == int(tagged.sum())
    assert (profiles[list(STATUSES)].sum(axis=1) == profiles["buildings"]).all()
    assert profiles["gia_m2"].sum() == pytest.approx(estate.loc[tagged, "gia_m2"].sum())
    assert profiles["gia_recorded"].sum() == int(estate.loc[tagged, "gia_m2"].notna().sum())


def test_estate_breakdown_by_partner(estate: pd.DataFrame) -> None:
    north = estate[estate["neighbourhood"] == "North"]

    table = estate_breakdown(north)

    total = table[table["partner"] == "total"].iloc[0]
    rows = table[table["partner"] != "total"]
    assert total["buildings"] == len(north)
    assert rows["buildings"].is_monotonic_decreasing
    assert rows.iloc[0]["partner"] == "Trafford Council"
    assert total["gia_m2"] == pytest.approx(north["gia_m2"].sum())
    assert all(total[s] == int((north["status"] == s).sum()) for s in STATUSES)


def test_an_empty_selection_still_profiles_every_area(estate: pd.DataFrame) -> None:
    profiles = area_profiles(estate.iloc[:0], "neighbourhood")

    assert len(profiles) == 4
    assert (profiles["buildings"] == 0).all()
    assert (profiles["population"] > 40_000).all()


def test_unknown_kind_is_refused(estate: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="neighbourhood, pcn"):
        area_profiles(estate, "ward")  # type: ignore[arg-type]
