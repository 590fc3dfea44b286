"""Build the project's reference data for Trafford from the raw open data in ``../shared/data/raw``.

Run from the project root::

    python data/build.py --raw ../shared/data/raw

Every output lands in ``data/trafford/`` and is committed, so a fresh clone works offline without ``../shared``.
Provenance, vintages and licences of each output are in ``data/README.md``; the PCN footprint method is in
``docs/pcn_footprints.md``. The script is deterministic: running it twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from geo.pcn import derive_pcn_footprints  # noqa: E402

OUT = Path(__file__).resolve().parent / "trafford"
LA_CODE = "E08000009"
BNG = "EPSG:27700"
WGS84 = "EPSG:4326"

#: IMD 2019 index/domain names (as in the Data Lab file) → short column prefixes.
IMD_DOMAINS = {
    "Index of Multiple Deprivation": "imd", "Income": "income", "Employment": "employment",
    "Education": "education", "Health Deprivation and Disability": "health", "Crime": "crime",
    "Barriers to Housing and Services": "barriers", "Living Environment": "living_environment",
    "Income Deprivation Affecting Children": "idaci", "Income Deprivation Affecting Older People": "idaopi",
}



def _write_geojson(frame: gpd.GeoDataFrame, path: Path, *, precision: int = 6) -> None:
    """Write RFC 7946 GeoJSON (WGS84, no ``crs`` member) with fixed coordinate precision."""
    frame = frame.to_crs(WGS84)
    frame = frame.set_geometry(shapely.set_precision(frame.geometry.values, 10**-precision))
    frame.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={
        "RFC7946": "YES", "COORDINATE_PRECISION": str(precision), "WRITE_NAME": "NO"})


def _read(raw: Path, rel: str) -> gpd.GeoDataFrame:
    return gpd.read_file(raw / rel, engine="pyogrio")


def build_neighbourhood_definition(raw: Path, wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Parse the Data Lab README's ward → locality table for May 2023 onwards.

    The README is the definition; its spelling slips ("FLixton") are matched to ward names case-insensitively.
    """
    text = (raw / "trafford-datalab-spatial/council_defined/2023/README.md").read_text(encoding="utf-8")
    by_name = {name.casefold(): code for code, name in zip(wards["ward_code"], wards["ward_name"], strict=True)}
    rows = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) != 2 or cells[0] in {"Locality", ":---"} or cells[0].startswith(":"):
            continue
        for ward in cells[1].split(","):
            code = by_name.get(ward.strip().casefold())
            if code is None:
                raise SystemExit(f"README ward '{ward.strip()}' is not a 2023 ward name")
            rows.append({"ward_code": code, "neighbourhood": cells[0]})
    definition = pd.DataFrame(rows)
    if sorted(definition["ward_code"]) != sorted(wards["ward_code"]):
        raise SystemExit("The README's locality table does not cover each 2023 ward exactly once")
    definition = definition.merge(wards[["ward_code", "ward_name"]], on="ward_code")
    return definition[["ward_code", "ward_name", "neighbourhood"]].sort_values("ward_code", ignore_index=True)


def build_lsoas(raw: Path, boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """LSOA 2021 polygons fitted to the full-resolution boundary, with population and IMD 2019.

    Only generalised LSOAs are published in the snapshot; they miss or overshoot the borough edge by 29.6 ha in
    all (0.28 %). Clipping to the boundary and giving each uncovered sliver to the LSOA it shares most edge with
    makes the LSOAs an exact partition of the borough, which tagging and PCN footprints rely on.
    """
    lsoa = _read(raw, "trafford-datalab-spatial/lsoa/2021/trafford_lsoa_generalised.geojson").to_crs(BNG)
    lsoa = lsoa.rename(columns={"area_code": "lsoa_code", "area_name": "lsoa_name"})[
        ["lsoa_code", "lsoa_name", "geometry"]].sort_values("lsoa_code", ignore_index=True)
    clipped = shapely.intersection(lsoa.geometry.values, boundary)
    gaps = shapely.get_parts(shapely.difference(boundary, shapely.union_all(clipped)))
    pieces = [[g] for g in clipped]
    for gap in gaps:
        shared = shapely.length(shapely.intersection(shapely.boundary(clipped), shapely.buffer(gap, 0.5)))
        pieces[int(np.argmax(shared))].append(gap)
    fitted = [shapely.make_valid(shapely.union_all(p)) for p in pieces]
    fitted = [shapely.get_parts(g) for g in fitted]
    lsoa["geometry"] = [shapely.multipolygons([p for p in g if p.geom_type == "Polygon"]) for g in fitted]

    pop = pd.read_csv(raw / "trafford-datalab-open-data/population/mid_year_2024/"
                      "mid-year_2024_population_estimates_lsoa.csv")
    pop = pop[pop["sex"] == "Persons"][["area_code", "all_ages"]].rename(
        columns={"area_code": "lsoa_code", "all_ages": "population_2024"})
    lsoa = lsoa.merge(pop, on="lsoa_code", how="left", validate="1:1")

    imd = pd.read_csv(raw / "trafford-datalab-imd19/trafford_imd2019_lsoa11_long.csv")
    imd = imd[imd["year"] == 2019]
    imd["domain"] = imd["index_domain"].map(lambda d: IMD_DOMAINS[d.split(",")[0].strip()])
    wide = imd.pivot_table(index="lsoa11cd", columns="domain", values=["rank", "decile", "score"], aggfunc="first")
    wide.columns = [f"{domain}_{stat}" for stat, domain in wide.columns]
    wide = wide.reset_index()
    # 2011 → 2021: 137 codes are unchanged; E01006185 was split into E01034000 and E01034001, which each
    # inherit the parent's IMD 2019 values (IMD 2019 was published on 2011 LSOAs only).
    lookup = pd.read_csv(raw / "trafford-datalab-spatial/lookups/2021/statistical_lookup.csv",
                         usecols=["lsoa21cd"]).drop_duplicates()
    lsoa11 = set(wide["lsoa11cd"])
    splits = {"E01034000": "E01006185", "E01034001": "E01006185"}
    parent = {code: (code if code in lsoa11 else splits.get(code)) for code in lsoa["lsoa_code"]}
    missing = [c for c, p in parent.items() if p is None]
    if missing:
        raise SystemExit(f"LSOA 2021 codes with no 2011 parent: {missing}")
    assert set(lsoa["lsoa_code"]) <= set(lookup["lsoa21cd"])
    lsoa["lsoa11_code"] = lsoa["lsoa_code"].map(parent)
    lsoa = lsoa.merge(wide.rename(columns={"lsoa11cd": "lsoa11_code"}), on="lsoa11_code", how="left")
    for col in [c for c in lsoa.columns if c.endswith(("_rank", "_decile"))]:
        lsoa[col] = lsoa[col].astype("int64")
    lsoa["area_ha"] = (lsoa.area / 1e4).round(3)
    ordered = ["lsoa_code", "lsoa_name", "lsoa11_code", "population_2024", "area_ha", "imd_rank", "imd_decile",
               "imd_score"]
    rest = sorted(c for c in lsoa.columns if c not in ordered and c != "geometry")
    return lsoa[ordered + rest + ["geometry"]]


def build_postcodes(raw: Path, wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """Postcode table: ONSPD Nov 2025 locations for Trafford and neighbouring districts + Data Lab ward/LSOA.

    The ONSPD extract has no ward or LSOA; the Data Lab file (ONSPD, Feb 2025) gives them for live Trafford
    postcodes. Postcodes in Trafford that are new since Feb 2025 get their ward by point-in-polygon and no LSOA.
    """
    onspd = pd.read_csv(raw / "onspd-nov2025-qlacref/trafford_area_postcodes_onspd_nov2025.csv")
    onspd = onspd.rename(columns={"pcds": "postcode", "oseast1m": "easting", "osnrth1m": "northing",
                                  "long": "lon", "laua": "la_code"})
    lab = pd.read_csv(raw / "trafford-datalab-spatial/postcodes/trafford_postcodes.csv",
                      usecols=["postcode", "ward_code", "lsoa_code"])
    table = onspd.merge(lab, on="postcode", how="left", validate="1:1")
    # A few postcodes the Feb 2025 list put in Trafford are coded to a neighbour in Nov 2025 (e.g. M15 4ND); the
    # newer ONSPD wins and their Trafford ward/LSOA is dropped.
    moved = table["la_code"] != LA_CODE
    table.loc[moved, ["ward_code", "lsoa_code"]] = np.nan
    table["ward_source"] = np.where(table["ward_code"].notna(), "datalab_feb2025", "")
    new = table["ward_code"].isna() & (table["la_code"] == LA_CODE) & table["easting"].notna()
    if new.any():
        pts = shapely.points(table.loc[new, "easting"], table.loc[new, "northing"])
        w = wards.to_crs(BNG)
        tree = shapely.STRtree(w.geometry.values)
        pt_idx, poly_idx = tree.query(pts, predicate="intersects")
        codes = pd.Series(w["ward_code"].values[poly_idx], index=table.index[new][pt_idx])
        codes = codes[~codes.index.duplicated()]
        table.loc[codes.index, "ward_code"] = codes
        table.loc[codes.index, "ward_source"] = "point_in_polygon"
    table["district"] = table["postcode"].str.split(" ").str[0]
    table["sector"] = table["postcode"].str[:-2]
    cols = ["postcode", "sector", "district", "la_code", "easting", "northing", "lon", "lat", "ward_code",
            "lsoa_code", "ward_source"]
    table = table[cols].sort_values("postcode", ignore_index=True)
    table["easting"] = table["easting"].astype("Int64")
    table["northing"] = table["northing"].astype("Int64")
    return table


def build_partial_centroids(postcodes: pd.DataFrame, level: str) -> pd.DataFrame:
    """Mean centroid of the located postcodes in each sector or district (for partial postcodes)."""
    located = postcodes.dropna(subset=["easting"])
    grouped = located.groupby(level).agg(postcodes=("postcode", "size"), easting=("easting", "mean"),
                                         northing=("northing", "mean"))
    to_wgs = Transformer.from_crs(BNG, WGS84, always_xy=True)
    lon, lat = to_wgs.transform(grouped["easting"].to_numpy(float), grouped["northing"].to_numpy(float))
    grouped["easting"] = grouped["easting"].round(0).astype("int64")
    grouped["northing"] = grouped["northing"].round(0).astype("int64")
    grouped["lon"] = np.round(lon, 6)
    grouped["lat"] = np.round(lat, 6)
    return grouped.reset_index()


def build_practices(raw: Path, postcodes: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """GP practices (location, Jan-2026 list size) and the practice → PCN membership file (Jan 2022)."""
    pcn = pd.read_csv(raw / "nhsx-systemhierarchies-gp-pcn-2022/trafford_gp_practice_pcn_map_2022-01.csv")
    membership = pcn.rename(columns={"PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name",
                                     "PCN_CODE": "pcn_code", "PCN_NAME": "pcn_name"})
    membership["pcn_name"] = membership["pcn_name"].str.title().str.replace("Pcn", "PCN")
    membership["practice_name"] = membership["practice_name"].str.title()
    membership["extract_date"] = "2022-01-01"
    membership = membership[["practice_code", "practice_name", "pcn_code", "pcn_name", "extract_date"]]

    regs = pd.read_csv(raw / "trafford-datalab-open-data/general_practice/patient_registrations/"
                       "trafford_gp_patient_registrations.csv")
    sites = pd.read_csv(raw / "trafford-datalab-open-data/general_practice/trafford_general_practices.csv")
    sites = sites.rename(columns={"name": "practice_name_2026"})
    regs = regs.merge(sites[["practice_name_2026", "address", "postcode", "lon", "lat"]],
                      left_on=["practice_name", "practice_postcode"], right_on=["practice_name_2026", "postcode"],
                      how="left", validate="1:1")
    if regs["lon"].isna().any():
        raise SystemExit(f"practices without a location: {regs.loc[regs['lon'].isna(), 'practice_name'].tolist()}")
    practices = pcn[["PRACTICE_CODE", "PRACTICE_NAME", "PRACTICE_POSTCODE"]].rename(columns={
        "PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name", "PRACTICE_POSTCODE": "postcode"})
    practices["practice_name"] = practices["practice_name"].str.title()
    practices = practices.merge(
        regs[["practice_code", "practice_name", "address", "practice_postcode", "registered_patients", "lon",
              "lat"]].rename(columns={"practice_name": "name_2026"}), on="practice_code", how="left")
    practices["location_source"] = np.where(practices["lon"].notna(), "datalab_jan2026", "postcode_2022")
    # Practices no longer in the 2026 list (Grove Medical Practice) are placed at their 2022 postcode's centroid
    # and have no list size: that is "needs data", not zero.
    gone = practices["lon"].isna()
    pc = postcodes.set_index("postcode")
    practices.loc[gone, "lon"] = practices.loc[gone, "postcode"].map(pc["lon"])
    practices.loc[gone, "lat"] = practices.loc[gone, "postcode"].map(pc["lat"])
    practices["postcode"] = practices["practice_postcode"].fillna(practices["postcode"])
    practices["practice_name"] = practices["name_2026"].fillna(practices["practice_name"])
    practices["registered_patients"] = practices["registered_patients"].astype("Int64")
    practices = practices[["practice_code", "practice_name", "address", "postcode", "lon", "lat",
                           "registered_patients", "location_source"]]
    return practices.sort_values("practice_code", ignore_index=True), membership


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data/raw"), help="folder of raw open data")
    parser.add_argument("--out", type=Path, default=OUT, help="output folder (default: data/trafford)")
    args = parser.parse_args(argv)
    raw: Path = args.raw
    out: Path = args.out
    if not (raw / "SOURCES.md").exists():
        print(f"error: {raw} is not the raw data folder (no SOURCES.md there)", file=sys.stderr)
        return 2
    out.mkdir(parents=True, exist_ok=True)

    boundary = _read(raw, "trafford-datalab-spatial/local_authority/2023/"
                          "trafford_local_authority_full_resolution.geojson")
    boundary = boundary.rename(columns={"area_code": "la_code", "area_name": "la_name"})[
        ["la_code", "la_name", "geometry"]]
    _write_geojson(boundary, out / "boundary.geojson")
    boundary_bng = boundary.to_crs(BNG).geometry.iloc[0]

    wards = {}
    for res in ("full_resolution", "generalised"):
        w = _read(raw, f"trafford-datalab-spatial/ward/2023/trafford_ward_{res}.geojson")
        w = w.rename(columns={"area_code": "ward_code", "area_name": "ward_name"})[
            ["ward_code", "ward_name", "geometry"]].sort_values("ward_code", ignore_index=True)
        wards[res] = w
    definition = build_neighbourhood_definition(raw, wards["full_resolution"])
    definition.to_csv(out / "neighbourhood_wards.csv", index=False)
    # Neighbourhood polygons are not shipped: geo.boundaries dissolves the wards by neighbourhood_wards.csv, so
    # editing that file is all it takes to redefine the neighbourhoods.
    ward_pop = pd.read_csv(raw / "trafford-datalab-open-data/population/mid_year_2024/"
                                 "mid-year_2024_population_estimates_ward.csv")
    ward_pop = ward_pop[ward_pop["sex"] == "Persons"][["area_code", "all_ages"]].rename(
        columns={"area_code": "ward_code", "all_ages": "population_2024"})
    for res, name in (("full_resolution", "wards.geojson"), ("generalised", "wards_generalised.geojson")):
        w = wards[res].merge(ward_pop, on="ward_code", how="left", validate="1:1")
        w["area_ha"] = (w.to_crs(BNG).area / 1e4).round(2)
        _write_geojson(w, out / name)

    lsoa = build_lsoas(raw, boundary_bng)
    _write_geojson(lsoa, out / "lsoas.geojson")

    postcodes = build_postcodes(raw, wards["full_resolution"])
    postcodes.to_csv(out / "postcodes.csv", index=False)
    for level in ("sector", "district"):
        build_partial_centroids(postcodes, level).to_csv(out / f"postcode_{level}s.csv", index=False)

    practices, membership = build_practices(raw, postcodes)
    practices.to_csv(out / "gp_practices.csv", index=False)
    membership.to_csv(out / "practice_pcn.csv", index=False)
    assignment, footprints = derive_pcn_footprints(lsoa, practices, membership, postcodes)
    assignment.to_csv(out / "pcn_lsoa_assignment.csv", index=False)
    _write_geojson(footprints, out / "pcn_footprints.geojson")

    summary = {
        "wards": len(wards["full_resolution"]), "lsoas": len(lsoa), "postcodes": len(postcodes),
        "postcodes_in_trafford": int((postcodes["la_code"] == LA_CODE).sum()),
        "practices": len(practices), "pcns": footprints[["pcn_code", "lsoas", "population_2024"]].to_dict("records"),
        "lsoa_nearest_practice_disagreements": int(
            (assignment["pcn_code"] != assignment["nearest_practice_pcn"]).sum()),
    }
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
