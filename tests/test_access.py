"""Access analysis on the real Trafford data: resident points, nearest sites, bands, the gap, closures, CLI, exports.

Distances are checked against an independent brute force (shapely, every point against every library read straight
from the libraries register), populations against the LSOA layer.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from estates.analysis.access import access_analysis, access_kinds, access_tables, facility_points
from estates.estate import current_estate
from estates.exports import ExportError, export_access
from estates.maps.static import access_figure
from geo import boundaries
from geo.access import (
    DISTANCE_BANDS_M,
    access_gap,
    closure_impact,
    nearest_facilities,
    reach_summary,
    resident_points,
    weighted_quantile,
)
from geo.projection import BNG

ROOT = Path(__file__).resolve().parent.parent
LIMELIGHT_LSOA = "E01006112"  # Trafford 001D, Old Trafford (IMD decile 2): the Limelight library's (M16 9NW) LSOA
BOROUGH_POPULATION = 241_025  # ONS mid-2024, sum of the 139 LSOAs


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    return current_estate(use_store=False)


@pytest.fixture(scope="module")
def libraries(estate: pd.DataFrame) -> pd.DataFrame:
    return facility_points(estate, "library")


@pytest.fixture(scope="module")
def reached(libraries: pd.DataFrame) -> pd.DataFrame:
    return nearest_facilities(resident_points(), libraries)


def test_resident_points_share_each_lsoa_population_over_its_live_postcodes() -> None:
    points = resident_points()
    table = pd.read_csv(ROOT / "data/trafford/postcodes.csv", dtype=str)
    trafford = table[table["la_code"] == "E08000009"]
    assert len(points) == len(trafford) == 11_272
    assert points["residents"].sum() == pytest.approx(BOROUGH_POPULATION)
    lsoas = boundaries.lsoas().set_index("lsoa_code")
    assert points["residents"].sum() == pytest.approx(lsoas["population_2024"].sum())
    one = points[points["lsoa_code"] == LIMELIGHT_LSOA]
    assert len(one) == int((trafford["lsoa_code"] == LIMELIGHT_LSOA).sum())
    assert np.allclose(one["residents"], lsoas.loc[LIMELIGHT_LSOA, "population_2024"] / len(one))
    # Postcodes newer than the LSOA lookup got an LSOA by point-in-polygon; every point has its area tags.
    assert trafford["lsoa_code"].isna().sum() == 10
    assert points[["lsoa_code", "neighbourhood", "imd_decile", "pcn_code"]].notna().all().all()
    assert set(points["neighbourhood"]) == {"North", "West", "Central", "South"}


def test_a_known_lsoa_residents_nearest_library_matches_a_brute_force(reached: pd.DataFrame) -> None:
    register = gpd.read_file(ROOT / "data/registers/trafford_libraries.geojson").to_crs(BNG)
    table = pd.read_csv(ROOT / "data/trafford/postcodes.csv", dtype=str)
    own = table[table["lsoa_code"] == LIMELIGHT_LSOA]
    homes = shapely.points(own["easting"].astype(float), own["northing"].astype(float))
    distances = shapely.distance(homes[:, None], register.geometry.to_numpy()[None, :])
    expected_name = register["name"].to_numpy()[distances.argmin(axis=1)]
    expected_m = distances.min(axis=1)

    got = reached.set_index("postcode").loc[own["postcode"]]
    names = facility_points(current_estate(use_store=False), "library").set_index("facility_id")["name"]
    assert list(got["nearest_id"].map(names)) == list(expected_name)
    assert np.allclose(got["nearest_m"], expected_m, atol=0.01)
    # The real answer: Old Trafford's residents are nearest to the Limelight library, a few hundred metres away.
    assert set(expected_name) == {"Old Trafford Library at Limelight"}
    assert 0 < expected_m.max() < 800
    second = np.sort(distances, axis=1)[:, 1]
    assert np.allclose(got["second_m"], second, atol=0.01)


def test_residents_by_band_add_up_to_the_borough_population(reached: pd.DataFrame) -> None:
    by_lsoa = reach_summary(reached, by="lsoa_code")
    assert len(by_lsoa) == 139
    assert by_lsoa["residents"].sum() == pytest.approx(BOROUGH_POPULATION)
    last = f"within_{DISTANCE_BANDS_M[-1]:g}_m"
    assert np.allclose(by_lsoa[last] + by_lsoa[f"beyond_{DISTANCE_BANDS_M[-1]:g}_m"], by_lsoa["residents"])
    whole = reach_summary(reached)
    for band in DISTANCE_BANDS_M:
        column = f"within_{band:g}_m"
        assert whole[column].iloc[0] == pytest.approx(by_lsoa[column].sum())
        expected = reached.loc[reached["nearest_m"] <= band, "residents"].sum()
        assert whole[column].iloc[0] == pytest.approx(expected)
    assert (np.diff(whole[[f"within_{b:g}_m" for b in DISTANCE_BANDS_M]].to_numpy()[0]) >= 0).all()
    for by in ("imd_decile", "neighbourhood", ["pcn_code", "pcn_name"], ["neighbourhood", "imd_decile"]):
        assert reach_summary(reached, by=by)["residents"].sum() == pytest.approx(BOROUGH_POPULATION)
    assert reach_summary(reached, by="imd_decile")["imd_decile"].tolist() == list(range(1, 11))


def test_population_weighted_quantiles(reached: pd.DataFrame) -> None:
    assert weighted_quantile([100, 200, 900], [1, 1, 2], 0.5) == 200.0
    assert weighted_quantile([100, 200, 900], [1, 1, 2], 0.9) == 900.0
    whole = reach_summary(reached).iloc[0]
    order = reached.sort_values("nearest_m")
    share = order["residents"].cumsum() / order["residents"].sum()
    assert whole["median_m"] == order["nearest_m"].to_numpy()[np.searchsorted(share.to_numpy(), 0.5)]
    assert whole["median_m"] <= whole["p90_m"]


def test_the_detour_factor_scales_every_distance(reached: pd.DataFrame, libraries: pd.DataFrame) -> None:
    walked = nearest_facilities(resident_points(), libraries, detour_factor=1.3)
    assert np.allclose(walked["nearest_m"], 1.3 * reached["nearest_m"])
    assert (walked["nearest_id"] == reached["nearest_id"]).all()
    with pytest.raises(ValueError, match="detour factor"):
        nearest_facilities(resident_points(), libraries, detour_factor=0.5)


def test_closing_a_site_moves_exactly_the_residents_whose_nearest_it_was(
        reached: pd.DataFrame, libraries: pd.DataFrame) -> None:
    closed = libraries.loc[libraries["name"] == "Trafford Town Hall Library", "facility_id"].iloc[0]
    impact = closure_impact(reached, libraries, [closed])
    after = nearest_facilities(resident_points(), libraries[libraries["facility_id"] != closed])
    moved = after["nearest_id"] != reached["nearest_id"]
    assert set(impact["postcode"]) == set(reached.loc[moved, "postcode"])
    assert set(impact["postcode"]) == set(reached.loc[reached["nearest_id"] == closed, "postcode"])
    assert np.allclose(reached.loc[~moved, "nearest_m"], after.loc[~moved, "nearest_m"])
    by_postcode = after.set_index("postcode")
    assert np.allclose(impact["after_m"], by_postcode.loc[impact["postcode"], "nearest_m"])
    assert (impact["after_id"].to_numpy() == by_postcode.loc[impact["postcode"], "nearest_id"].to_numpy()).all()
    # Their next-nearest is the second-nearest they had before, and never nearer than what they lost.
    assert np.allclose(impact["after_m"], reached.set_index("postcode").loc[impact["postcode"], "second_m"])
    assert (impact["extra_m"] >= 0).all()
    assert impact["residents"].sum() > 10_000
    with pytest.raises(ValueError, match="not among the facilities"):
        closure_impact(reached, libraries, ["no-such-site"])


def test_merging_into_a_hub_serves_the_closed_sites_residents_from_the_hub_or_nearer(
        estate: pd.DataFrame, libraries: pd.DataFrame) -> None:
    closed = libraries.loc[libraries["name"].isin(["Stretford Library", "Lostock Library"]), "facility_id"].tolist()
    hub = facility_points(estate, "any")
    hub = hub[hub["name"] == "Stretford Sports Village, Chester Centre"]  # a leisure site, not a library's
    assert len(hub) == 1
    assert not hub["facility_id"].isin(libraries["facility_id"]).any()
    analysis = access_analysis(estate, "library", closed=closed, hub=str(hub["facility_id"].iloc[0]))
    impact = analysis.impact
    hub_xy = hub[["easting", "northing"]].to_numpy(dtype=float)[0]
    to_hub = np.hypot(impact["easting"] - hub_xy[0], impact["northing"] - hub_xy[1])
    assert len(impact) > 0
    assert (impact["after_m"] <= to_hub + 1e-6).all()
    assert set(impact["closed_id"]) == set(closed)
    assert (impact["after_id"] == hub["facility_id"].iloc[0]).any()


def test_the_access_gap_ranks_lsoas_by_deprivation_times_distance(reached: pd.DataFrame) -> None:
    gap = access_gap(reached)
    assert gap["rank"].tolist() == list(range(1, 140))
    assert gap["gap_score"].is_monotonic_decreasing
    first = gap.iloc[0]
    own = reached[reached["lsoa_code"] == first["lsoa_code"]]
    mean_km = (own["nearest_m"] * own["residents"]).sum() / own["residents"].sum() / 1000
    assert first["gap_score"] == pytest.approx(first["imd_score"] * mean_km)


def test_sites_of_a_kind_are_one_point_per_site(estate: pd.DataFrame, libraries: pd.DataFrame) -> None:
    assert {"key", "any", "gp", "library", "leisure"} <= set(access_kinds(estate))
    assert len(libraries) == 13
    assert libraries["facility_id"].is_unique
    anything = facility_points(estate, "any")
    assert anything["facility_id"].is_unique
    # One point per site of the current, precisely placed records (site matching already joined the registers).
    current = estate[estate["easting"].notna() & ~estate["historic"].astype(bool)
                     & (estate["geocode_precision"] != "low") & (estate["outcome"] != "rejected")]
    assert set(anything["facility_id"]) == set(current["site_id"].fillna(current["building_id"]))
    assert anything["records"].sum() == len(current)
    assert set(facility_points(estate, "key")["status"]) == {"key"}
    with pytest.raises(ValueError, match="unknown kind"):
        facility_points(estate, "castles")


def test_analysis_tables_focus_on_a_neighbourhood(estate: pd.DataFrame, libraries: pd.DataFrame) -> None:
    closed = libraries.loc[libraries["name"] == "Trafford Town Hall Library", "facility_id"].tolist()
    analysis = access_analysis(estate, "library", closed=closed, neighbourhood="North")
    tables = access_tables(analysis)
    north = analysis.reached[analysis.reached["neighbourhood"] == "North"]
    assert tables["by_imd_decile"]["residents"].sum() == pytest.approx(north["residents"].sum())
    assert set(tables["gap"]["neighbourhood"]) == {"North"}
    closure = tables["closure_by_imd_decile"]
    assert closure["residents"].sum() == pytest.approx(analysis.impact_in_view["residents"].sum())
    assert tables["closure_by_site"]["closed_name"].tolist() == ["Trafford Town Hall Library"]
    with pytest.raises(ValueError, match="unknown neighbourhood"):
        access_analysis(estate, "library", neighbourhood="Atlantis")


def test_exports_write_the_tables_and_a_decorated_map(estate: pd.DataFrame, tmp_path: Path) -> None:
    analysis = access_analysis(estate, "library", close_surplus=False, neighbourhood="North")
    tables = access_tables(analysis)
    [csv] = export_access(analysis, None, tmp_path / "reach.csv")
    assert np.allclose(pd.read_csv(csv, encoding="utf-8-sig")["residents"], tables["by_imd_decile"]["residents"])
    [xlsx] = export_access(analysis, "xlsx", tmp_path / "access.xlsx")
    assert set(pd.ExcelFile(xlsx).sheet_names) == {*tables, "notes"}
    with pytest.raises(ExportError, match="exists"):
        export_access(analysis, "csv", csv)
    with pytest.raises(ExportError, match=r"unknown format 'gpkg' \(use csv, xlsx, png, pdf\)"):
        export_access(analysis, "gpkg", tmp_path / "a.gpkg")
    figure = access_figure(analysis)
    gids = {a.get_gid() for a in figure.findobj()}
    assert {"title", "legend", "scale-bar", "north-arrow", "attribution"} <= gids


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ESTATES_DATABASE_URL"}
    return subprocess.run([sys.executable, "-m", "estates", "access", *args, "--no-store"], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env=env)


def test_cli_closure_prints_and_exports_what_the_tables_hold(tmp_path: Path, estate: pd.DataFrame) -> None:
    out = tmp_path / "closure.csv"
    result = _cli("library", "--close", "Trafford Town Hall Library", "--neighbourhood", "North", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "residents lose their nearest site" in result.stdout
    closed = facility_points(estate, "library")
    closed = closed.loc[closed["name"] == "Trafford Town Hall Library", "facility_id"].tolist()
    expected = access_tables(access_analysis(estate, "library", closed=closed,
                                             neighbourhood="North"))["closure_by_imd_decile"]
    written = pd.read_csv(out, encoding="utf-8-sig")
    assert written["imd_decile"].tolist() == expected["imd_decile"].tolist()
    assert np.allclose(written["after_median_m"], expected["after_median_m"])


def test_cli_user_error_is_one_line_and_exit_2() -> None:
    result = _cli("castles")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: unknown kind 'castles' (use key, any, community, council, dwp, fire, gp, leisure, library, "
        "nhs_trust, other, pcn, probation, school)"]


@pytest.mark.parametrize(("args", "message"), [
    (("library", "--close", "Atlantis Library"), "no library sites 'Atlantis Library'"),
    (("library", "--close", "Stretford Library", "--hub", "Stretford Library"), "also among the sites that close"),
    (("library", "--hub", "Stretford Library"), "a hub needs sites to merge into it"),
    (("nhs_trust",), "no nhs trust sites to measure access to: 115 record(s)"),
    (("library", "--out", "/no/such/folder/a.csv"), "no such folder"),
    (("library", "--out", "a.gpkg"), "a.gpkg: unknown output format '.gpkg' (use csv, xlsx, png, pdf)"),
    (("library", "--out", "."), ". is a folder; give a file name ending .csv, .xlsx, .png or .pdf"),
])
def test_cli_user_errors(args: tuple[str, ...], message: str, capsys: pytest.CaptureFixture[str],
                         monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from estates.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["access", *args, "--no-store"]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_cli_rejects_a_detour_factor_under_one(capsys: pytest.CaptureFixture[str]) -> None:
    from estates.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["access", "library", "--detour-factor", "0.5"])
    assert exit_.value.code == 2
    assert "must be a number ≥ 1" in capsys.readouterr().err
