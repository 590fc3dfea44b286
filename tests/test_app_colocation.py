"""estates.analysis.colocation: clusters within walking distance of a hub, surplus near key — on the real demo estate
and
on small hand-made layouts whose answer is known."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from estates.analysis.colocation import colocation_clusters, eligible_buildings, surplus_near_key
from estates.estate import current_estate


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    return current_estate(use_store=False)


def _layout(rows: list[tuple[str, str, str, float, float, str]]) -> pd.DataFrame:
    """Buildings (id, partner, site, easting, northing, status) on a flat grid in metres."""
    frame = pd.DataFrame(rows, columns=["building_id", "partner", "site_id", "easting", "northing", "status"])
    frame["name"] = frame["building_id"].str.upper()
    frame["lat"], frame["lon"] = 53.4 + frame["northing"] / 111_000, -2.3 + frame["easting"] / 66_000
    frame["imd_rank"] = 1000
    frame["imd_decile"] = 1
    return frame


def test_a_hub_takes_every_building_within_the_distance_and_needs_two_partners_on_two_sites() -> None:
    frame = _layout([
        ("a", "Council", "s1", 0, 0, "core"), ("b", "NHS", "s2", 300, 0, "core"), ("c", "School", "s3", -300, 0, "key"),
        ("d", "Council", "s4", 2000, 0, "surplus"), ("e", "NHS", "s4", 2000, 10, "core"),  # one site: no opportunity
        ("f", "Police", "s5", 5000, 0, "core"),
    ])

    clusters, members = colocation_clusters(frame, distance_m=400)

    assert clusters[["hub_building_id", "partner_count", "site_count", "buildings"]].values.tolist() == [["a", 3, 3, 3]]
    assert sorted(members["building_id"]) == ["a", "b", "c"]
    assert clusters.loc[0, "radius_m"] == pytest.approx(300)
    assert clusters.loc[0, "partners"] == "Council; NHS; School"
    assert (clusters.loc[0, "key"], clusters.loc[0, "core"]) == (1, 2)


def test_members_are_within_the_distance_of_their_hub_not_chained() -> None:
    # Five buildings 350 m apart in a line: single linkage would make one 1.4 km cluster.
    frame = _layout([(f"b{i}", f"P{i % 2}", f"s{i}", 350 * i, 0, "core") for i in range(5)])

    clusters, members = colocation_clusters(frame, distance_m=400)

    assert members["distance_m"].max() <= 400
    assert clusters["hub_building_id"].tolist() == ["b1", "b3"]  # b1 takes b0 and b2; then b3 with b4
    assert clusters["buildings"].tolist() == [3, 2]
    assert not members["building_id"].duplicated().any()


def test_real_north_clusters_keep_every_promise(estate: pd.DataFrame) -> None:
    north = estate[estate["neighbourhood"] == "North"]

    clusters, members = colocation_clusters(north)

    assert len(clusters) >= 10
    assert clusters["rank"].tolist() == list(range(1, len(clusters) + 1))
    assert pd.to_numeric(clusters["imd_rank"]).is_monotonic_increasing  # most deprived area first
    assert (clusters["partner_count"] >= 2).all()
    assert (clusters["site_count"] >= 2).all()
    assert members["distance_m"].max() <= 400
    assert not members["building_id"].duplicated().any()
    used = estate.set_index("building_id").loc[members["building_id"]]
    assert not used["historic"].astype(bool).any()
    assert (used["geocode_precision"] != "low").all()
    # Sizes add up: each cluster's members are listed.
    assert members.groupby("cluster_id").size().sort_index().tolist() == \
        clusters.set_index("cluster_id")["buildings"].sort_index().tolist()


def test_the_result_does_not_depend_on_row_order(estate: pd.DataFrame) -> None:
    north = estate[estate["neighbourhood"] == "North"]

    first, _ = colocation_clusters(north)
    shuffled, _ = colocation_clusters(north.sample(frac=1.0, random_state=7))

    pd.testing.assert_frame_equal(first, shuffled)


def test_historic_and_approximate_records_only_count_when_asked(estate: pd.DataFrame) -> None:
    default = eligible_buildings(estate)
    everything = eligible_buildings(estate, include_historic=True, include_approximate=True)

    assert len(default) < len(everything) <= int(estate["easting"].notna().sum())
    assert len(colocation_clusters(estate, include_historic=True)[0]) != len(colocation_clusters(estate)[0])


def test_surplus_near_key_names_the_nearest_key_on_another_site() -> None:
    frame = _layout([
        ("s", "Council", "x1", 0, 0, "surplus"), ("k1", "NHS", "x2", 250, 0, "key"), ("k2", "NHS", "x3", 120, 0, "key"),
        ("same", "Council", "x1", 0, 5, "key"),  # same site as the surplus building: not a pair
        ("far", "Council", "x9", 9000, 0, "surplus"),
    ])

    pairs = surplus_near_key(frame, distance_m=400)

    assert pairs[["surplus_building_id", "key_building_id", "keys_within"]].values.tolist() == [["s", "k2", 2]]
    assert pairs.loc[0, "distance_m"] == pytest.approx(120)


def test_real_surplus_near_key(estate: pd.DataFrame) -> None:
    pairs = surplus_near_key(estate)

    assert len(pairs) >= 3
    assert (pairs["distance_m"] <= 400).all()
    top = pairs.set_index("surplus_name").loc["Former Friars Court Site"]
    assert top["key_name"].startswith("Sale Library")
    assert top["distance_m"] == pytest.approx(25, abs=5)
    assert np.isfinite(pd.to_numeric(pairs["imd_rank"])).all()


def test_bad_distance_is_refused(estate: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="positive"):
        colocation_clusters(estate, distance_m=0)
    with pytest.raises(ValueError, match="positive"):
        surplus_near_key(estate, distance_m=-1)
