"""The plain geopandas script ``bench_tagging.py`` times the ``geocode`` command against, as a whole process.

What a GIS analyst would write without this tool: read the CSV with pandas, merge a postcode table on a normalised
postcode, take coordinate columns where there is no postcode (WGS84, swapped, or BNG), then one ``gpd.sjoin`` per
boundary layer, and write CSV with ``DataFrame.to_csv``. It reads the same reference files the tool does
(``data/trafford``) and imports nothing from this project::

    python benchmarks/geopandas_script.py INPUT.csv OUTPUT.csv
"""

from __future__ import annotations

import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd

PLACE = Path(__file__).resolve().parent.parent / "data" / "trafford"


def locate_and_tag(frame: pd.DataFrame, table: pd.DataFrame, layers: list[gpd.GeoDataFrame]) -> gpd.GeoDataFrame:
    """Postcodes merged on ``table`` (``postcode``, ``lon``, ``lat``), coordinates where there are none, then one
    ``gpd.sjoin`` per layer (the first polygon wins where a point is on a shared boundary)."""
    pc = frame["postcode"].str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    frame["pc_key"] = pc.str[:-3] + " " + pc.str[-3:]
    frame = frame.merge(table, left_on="pc_key", right_on="postcode", how="left", suffixes=("", "_table"))
    deg = frame["x"].between(-8.7, 1.8) & frame["y"].between(49.8, 60.9)
    swapped = frame["y"].between(-8.7, 1.8) & frame["x"].between(49.8, 60.9)
    bng = frame["x"].between(1000, 700000) & frame["y"].between(1000, 1300000) & ~deg & ~swapped
    frame.loc[deg, "lon"], frame.loc[deg, "lat"] = frame.loc[deg, "x"], frame.loc[deg, "y"]
    frame.loc[swapped, "lon"], frame.loc[swapped, "lat"] = frame.loc[swapped, "y"], frame.loc[swapped, "x"]
    points = gpd.GeoDataFrame(frame, geometry=gpd.points_from_xy(frame["lon"], frame["lat"]), crs=4326)
    moved = gpd.GeoSeries(gpd.points_from_xy(frame.loc[bng, "x"], frame.loc[bng, "y"]), crs=27700).to_crs(4326)
    points.loc[bng, "geometry"] = moved.values
    for layer in layers:
        points = gpd.sjoin(points, layer, how="left", predicate="within").drop(columns="index_right")
        points = points[~points.index.duplicated()]
    return points


def main(source: str, target: str) -> None:
    table = pd.read_csv(PLACE / "postcodes.csv", usecols=["postcode", "lon", "lat"])
    hoods = pd.read_csv(PLACE / "neighbourhood_wards.csv", usecols=["ward_code", "neighbourhood"])
    wards = gpd.read_file(PLACE / "wards.geojson")[["ward_code", "ward_name", "geometry"]].merge(hoods, how="left")
    lsoas = gpd.read_file(PLACE / "lsoas.geojson")[
        ["lsoa_code", "lsoa_name", "imd_rank", "imd_decile", "population_2024", "geometry"]]
    pcns = gpd.read_file(PLACE / "pcn_footprints.geojson")[["pcn_code", "pcn_name", "geometry"]]
    points = locate_and_tag(pd.read_csv(source, dtype={"postcode": "string"}), table, [wards, lsoas, pcns])
    pd.DataFrame(points.drop(columns="geometry")).to_csv(target, index=False)


if __name__ == "__main__":
    main(*sys.argv[1:3])
