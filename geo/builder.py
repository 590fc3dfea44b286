"""Build a place folder (the ``place.toml`` contract) for an English local authority from open ONS/NHS files.

One function, :func:`build_place`, turns a local-authority code and a set of source files into the folder
``geo.place.load_place`` reads: boundary, wards, LSOAs with IMD (and population where a source has it), the
postcodes of the authority with their ward and LSOA, GP practices, practice → PCN membership and the derived PCN
footprints (docs/pcn_footprints.md). :class:`Sources` names every input; its defaults are the Greater Manchester and
England-wide files of ``../shared/data/raw`` (SOURCES.md §1.11), and each can point at another file of the same
standard layout, so a council outside Greater Manchester can build its own place from the files it downloads.

Nothing is invented: without a neighbourhood file the place has no neighbourhood layer; without a population
source the population columns are empty ("not available"); an LSOA with no IMD 2019 parent keeps empty IMD.
The output is deterministic (same inputs, byte-identical files).
"""

from __future__ import annotations

import re
import shutil
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from numpy.typing import NDArray

from geo._onspd import decode_keys, national_postcodes
from geo.pcn import derive_pcn_footprints
from geo.place import PlaceError
from geo.postcodes import PostcodeKind, PostcodeTable, normalise_postcodes
from geo.projection import BNG, WGS84, to_wgs84

__all__ = ["Sources", "BuildReport", "build_place", "build_local_authority_names", "slug_for", "sources_from_recipe"]

#: IMD 2019 index/domain names (as in the Data Lab long file) → short column prefixes.
IMD_DOMAINS = {
    "Index of Multiple Deprivation": "imd", "Income": "income", "Employment": "employment",
    "Education": "education", "Health Deprivation and Disability": "health", "Crime": "crime",
    "Barriers to Housing and Services": "barriers", "Living Environment": "living_environment",
    "Income Deprivation Affecting Children": "idaci", "Income Deprivation Affecting Older People": "idaopi",
}

ATTRIBUTION = (
    "Contains National Statistics and OS data © Crown copyright and database right 2025",
    "Contains Royal Mail data © Royal Mail copyright and database right 2025",
    "ONS, NHS Digital / NHS England and MHCLG data, Open Government Licence v3.0",
)


@dataclass(frozen=True)
class Sources:
    """Input files of a build, relative to ``raw`` unless absolute. ``None`` means "this source is not available".

    Attributes
    ----------
    boundary
        Local-authority polygons (``area_code``/``area_name`` or ONS ``LADyyCD``/``LADyyNM``); the row of the
        authority is the boundary. All rows are shipped as the ``local_authorities`` layer when
        ``local_authorities`` is None.
    local_authorities
        Neighbouring authorities' polygons for tagging coordinates outside the place (default: ``boundary``).
    wards, wards_generalised
        2023 wards (``area_code``, ``area_name`` and, for multi-authority files, ``local_authority_area_code``).
    ward_population, lsoa_population
        ONS mid-year estimates in the Trafford Data Lab layout (``area_code``, ``sex``, ``all_ages``); optional.
    lsoas
        LSOA 2021 polygons (``area_code``, ``area_name``; names start with the authority's name).
    imd
        IMD 2019: MHCLG File 1 (``.xlsx``, rank and decile) or the Data Lab long file (``.csv``, every domain).
    lsoa11_parents
        LSOA 2021 → 2011 code for LSOAs whose code changed in 2021 (IMD 2019 is on 2011 LSOAs).
    postcodes
        An ONSPD extract (``pcds``, ``laua``, ``oseast1m``, ``osnrth1m``, ``lat``, ``long``); default: every
        postcode of the authority in the installed national ONSPD.
    postcode_areas
        Postcode → ``ward_code`` / ``lsoa_code`` from ONS (Data Lab layout); default: point in polygon.
    pcn_map
        NHS Digital practice → PCN map (``PRACTICE_CODE``, ``PRACTICE_NAME``, ``PRACTICE_POSTCODE``, ``PCN_CODE``,
        ``PCN_NAME``); practices whose postcode is in the authority are kept.
    practice_sites
        NHS ODS GP-practice sites (epraccur layout, ``.xlsx``/``.csv``: ``Organisation_Code``, address lines,
        ``Postcode``, ``PC_Lat``, ``PC_Lon``) for locations and addresses.
    practice_registrations, practice_locations
        Trafford Data Lab layout: registered patients per practice and practice lon/lat (optional; list sizes are
        "not available" without them and the footprints are then unweighted, docs/pcn_footprints.md).
    neighbourhoods
        The council's ward → neighbourhood grouping: CSV (``ward_code``, ``neighbourhood``) or a Markdown table
        (neighbourhood | ward names). Optional: without it the place has no neighbourhood layer.
    """

    boundary: str | None = "gm-datalab-spatial/local_authority/2023/gm_local_authority_generalised.geojson"
    local_authorities: str | None = None
    wards: str | None = "gm-datalab-spatial/ward/2023/gm_ward_generalised.geojson"
    wards_generalised: str | None = "gm-datalab-spatial/ward/2023/gm_ward_generalised.geojson"
    ward_population: str | None = None
    lsoas: str | None = "gm-datalab-spatial/lsoa/2021/gm_lsoa_generalised.geojson"
    lsoa_population: str | None = None
    imd: str | None = "england-imd2019/IMD_2019.xlsx"
    lsoa11_parents: Mapping[str, str] = field(default_factory=dict)
    postcodes: str | None = None
    postcode_areas: str | None = None
    pcn_map: str | None = "england-gp-pcn-2022/gp-reg-pat-prac-map.csv"
    practice_sites: str | None = "england-nhs-ods-uprn/uprn_gp_practices.xlsx"
    practice_registrations: str | None = None
    practice_locations: str | None = None
    neighbourhoods: str | None = None


@dataclass
class BuildReport:
    """What a build produced, for the command's summary."""

    folder: Path
    name: str
    slug: str
    la_code: str
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"built {self.name} ({self.la_code}) in {self.folder}"]
        lines += [f"  {k}: {v:,}" for k, v in self.counts.items()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def sources_from_recipe(path: Path) -> tuple[Sources, dict]:
    """Read a recipe TOML: ``[sources]`` (fields of :class:`Sources`) and ``[place]`` (name, slug, extra settings).

    Returns
    -------
    (sources, recipe)
    """
    try:
        recipe = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise PlaceError(f"cannot read recipe {path}: {exc}") from None
    known = {f.name for f in fields(Sources)}
    given = recipe.get("sources", {})
    unknown = sorted(set(given) - known)
    if unknown:
        raise PlaceError(f"{path}: unknown [sources] entries {', '.join(unknown)}")
    return replace(Sources(), **given), recipe


# ----------------------------------------------------------------------------------------------------- helpers
def write_geojson(frame: gpd.GeoDataFrame, path: Path, *, precision: int = 6) -> None:
    """Write RFC 7946 GeoJSON (WGS84, no ``crs`` member) with fixed coordinate precision."""
    frame = frame.to_crs(WGS84)
    frame = frame.set_geometry(shapely.set_precision(frame.geometry.values, 10**-precision))
    frame.to_file(path, driver="GeoJSON", engine="pyogrio", layer_options={
        "RFC7946": "YES", "COORDINATE_PRECISION": str(precision), "WRITE_NAME": "NO"})


def _source(raw: Path, rel: str | None, what: str) -> Path | None:
    if rel is None:
        return None
    path = Path(rel) if Path(rel).is_absolute() else raw / rel
    if not path.exists():
        raise PlaceError(f"{what} source {path} does not exist")
    return path


def _read_layer(path: Path) -> gpd.GeoDataFrame:
    try:
        frame = gpd.read_file(path, engine="pyogrio")
    except Exception as exc:  # pyogrio raises several types for unreadable files
        raise PlaceError(f"cannot read {path}: {exc}") from None
    return frame.set_crs(WGS84) if frame.crs is None else frame


def _code_name_columns(frame: pd.DataFrame, prefix: str, path: Path) -> tuple[str, str]:
    """The code and name columns of an ONS or Data Lab layer (``area_code``/``area_name`` or e.g. ``LAD23CD``)."""
    if {"area_code", "area_name"} <= set(frame.columns):
        return "area_code", "area_name"
    code = next((c for c in frame.columns if re.fullmatch(rf"{prefix}\d\dCD", str(c), re.I)), None)
    name = next((c for c in frame.columns if re.fullmatch(rf"{prefix}\d\dNM", str(c), re.I)), None)
    if code is None or name is None:
        raise PlaceError(f"{path} has neither area_code/area_name nor {prefix}yyCD/{prefix}yyNM columns")
    return code, name


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        return pd.read_excel(path)
    return pd.read_csv(path)


def _persons(path: Path | None, key: str) -> pd.DataFrame | None:
    if path is None:
        return None
    pop = pd.read_csv(path)
    pop = pop[pop["sex"] == "Persons"][["area_code", "all_ages"]]
    return pop.rename(columns={"area_code": key, "all_ages": "population_2024"})


# ------------------------------------------------------------------------------------------------------ layers
def _boundary(raw: Path, sources: Sources, la_code: str) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    path = _source(raw, sources.boundary, "boundary")
    if path is None:
        raise PlaceError("a boundary source is required")
    layer = _read_layer(path)
    code, name = _code_name_columns(layer, "LAD", path)
    layer = layer.rename(columns={code: "la_code", name: "la_name"})[["la_code", "la_name", "geometry"]]
    boundary = layer[layer["la_code"] == la_code].reset_index(drop=True)
    if len(boundary) != 1:
        raise PlaceError(f"{path} has no local authority {la_code}")
    neighbours_path = _source(raw, sources.local_authorities, "local_authorities")
    if neighbours_path is not None:
        neighbours = _read_layer(neighbours_path)
        code, name = _code_name_columns(neighbours, "LAD", neighbours_path)
        layer = neighbours.rename(columns={code: "la_code", name: "la_name"})[["la_code", "la_name", "geometry"]]
    return boundary, layer.sort_values("la_code", ignore_index=True)


def _wards(raw: Path, rel: str | None, la_code: str, boundary_bng: shapely.Geometry, what: str
           ) -> gpd.GeoDataFrame:
    path = _source(raw, rel, what)
    if path is None:
        raise PlaceError(f"a {what} source is required")
    layer = _read_layer(path)
    code, name = _code_name_columns(layer, "WD", path)
    if "local_authority_area_code" in layer.columns:
        layer = layer[layer["local_authority_area_code"] == la_code]
    else:  # a single-authority file, or one without the column: keep wards whose inside point is in the boundary
        inside = shapely.contains(boundary_bng, layer.to_crs(BNG).geometry.representative_point().values)
        layer = layer[inside]
    layer = layer.rename(columns={code: "ward_code", name: "ward_name"})[["ward_code", "ward_name", "geometry"]]
    if layer.empty:
        raise PlaceError(f"{path} has no wards of {la_code}")
    return layer.sort_values("ward_code", ignore_index=True)


def _neighbourhoods(path: Path, wards: gpd.GeoDataFrame) -> pd.DataFrame:
    """The council's ward → neighbourhood table: a CSV, or the rows of a Markdown table (name | ward names).

    Ward names in a Markdown table are matched case-insensitively (the Trafford Data Lab README writes
    "FLixton"); every ward must be listed exactly once.
    """
    if path.suffix.lower() == ".md":
        by_name = {n.casefold(): c for c, n in zip(wards["ward_code"], wards["ward_name"], strict=True)}
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if len(cells) != 2 or cells[0] in {"Locality", ":---"} or cells[0].startswith(":"):
                continue
            for ward in cells[1].split(","):
                ward_code = by_name.get(ward.strip().casefold())
                if ward_code is None:
                    raise PlaceError(f"{path}: ward '{ward.strip()}' is not a ward of the place")
                rows.append({"ward_code": ward_code, "neighbourhood": cells[0]})
        definition = pd.DataFrame(rows)
    else:
        definition = pd.read_csv(path, dtype=str)
        if not {"ward_code", "neighbourhood"} <= set(definition.columns):
            raise PlaceError(f"{path} needs ward_code and neighbourhood columns")
        definition = definition[["ward_code", "neighbourhood"]]
    if definition.empty or sorted(definition["ward_code"]) != sorted(wards["ward_code"]):
        raise PlaceError(f"{path} does not list each of the place's {len(wards)} wards exactly once")
    definition = definition.merge(wards[["ward_code", "ward_name"]], on="ward_code")
    return definition[["ward_code", "ward_name", "neighbourhood"]].sort_values("ward_code", ignore_index=True)


def fit_lsoas(lsoa: gpd.GeoDataFrame, boundary: shapely.Geometry) -> gpd.GeoDataFrame:
    """Clip LSOAs (BNG) to the boundary and give each uncovered sliver to the LSOA it shares most edge with.

    Generalised LSOAs miss or overshoot the borough edge; fitted, they partition the borough exactly, which
    tagging and PCN footprints rely on.
    """
    clipped = shapely.intersection(lsoa.geometry.values, boundary)
    gaps = shapely.get_parts(shapely.difference(boundary, shapely.union_all(clipped)))
    pieces = [[g] for g in clipped]
    for gap in gaps:
        shared = shapely.length(shapely.intersection(shapely.boundary(clipped), shapely.buffer(gap, 0.5)))
        pieces[int(np.argmax(shared))].append(gap)
    fitted = [shapely.make_valid(shapely.union_all(p)) for p in pieces]
    fitted = [shapely.get_parts(g) for g in fitted]
    lsoa = lsoa.copy()
    lsoa["geometry"] = [shapely.multipolygons([p for p in g if p.geom_type == "Polygon"]) for g in fitted]
    return lsoa


def _imd(path: Path | None) -> pd.DataFrame:
    """IMD 2019 per 2011 LSOA (``lsoa11_code`` + ``<domain>_rank``/``_decile``[/``_score``])."""
    if path is None:
        return pd.DataFrame({"lsoa11_code": pd.Series(dtype=str)})
    if path.suffix.lower() in {".xlsx", ".xlsm"}:
        sheets = pd.read_excel(path, sheet_name=None)
        frame = next((s for s in sheets.values() if "LSOA code (2011)" in s.columns), None)
        if frame is None:
            raise PlaceError(f"{path} has no sheet with an 'LSOA code (2011)' column (MHCLG IMD 2019 File 1)")
        return frame.rename(columns={
            "LSOA code (2011)": "lsoa11_code", "Index of Multiple Deprivation (IMD) Rank": "imd_rank",
            "Index of Multiple Deprivation (IMD) Decile": "imd_decile"})[["lsoa11_code", "imd_rank", "imd_decile"]]
    imd = pd.read_csv(path)
    imd = imd[imd["year"] == 2019]
    imd["domain"] = imd["index_domain"].map(lambda d: IMD_DOMAINS[d.split(",")[0].strip()])
    wide = imd.pivot_table(index="lsoa11cd", columns="domain", values=["rank", "decile", "score"], aggfunc="first")
    wide.columns = [f"{domain}_{stat}" for stat, domain in wide.columns]
    return wide.reset_index().rename(columns={"lsoa11cd": "lsoa11_code"})


def _lsoas(raw: Path, sources: Sources, la_name: str, boundary_bng: shapely.Geometry,
           report: BuildReport) -> gpd.GeoDataFrame:
    path = _source(raw, sources.lsoas, "lsoas")
    if path is None:
        raise PlaceError("an LSOA source is required")
    layer = _read_layer(path)
    code, name = _code_name_columns(layer, "LSOA", path)
    layer = layer.rename(columns={code: "lsoa_code", name: "lsoa_name"})
    # ONS names every LSOA after its authority ("Salford 001A").
    layer = layer[layer["lsoa_name"].str.match(rf"{re.escape(la_name)} \d{{3}}[A-Z]$")]
    if layer.empty:
        raise PlaceError(f"{path} has no LSOAs named '{la_name} nnnX'")
    lsoa = layer[["lsoa_code", "lsoa_name", "geometry"]].to_crs(BNG).sort_values("lsoa_code", ignore_index=True)
    lsoa = fit_lsoas(lsoa, boundary_bng)

    pop = _persons(_source(raw, sources.lsoa_population, "lsoa_population"), "lsoa_code")
    if pop is None:
        lsoa["population_2024"] = pd.array([pd.NA] * len(lsoa), dtype="Int64")
        report.notes.append("no LSOA population source: population is 'not available'")
    else:
        lsoa = lsoa.merge(pop, on="lsoa_code", how="left", validate="1:1")

    wide = _imd(_source(raw, sources.imd, "imd"))
    lsoa11 = set(wide["lsoa11_code"])
    parents = dict(sources.lsoa11_parents)
    lsoa["lsoa11_code"] = [code if code in lsoa11 else parents.get(code) for code in lsoa["lsoa_code"]]
    orphans = int(lsoa["lsoa11_code"].isna().sum())
    if orphans:
        report.notes.append(f"{orphans} LSOA 2021 codes have no IMD 2019 (2011) parent: their IMD is empty")
    lsoa = lsoa.merge(wide, on="lsoa11_code", how="left")
    if "imd_score" not in lsoa.columns:  # File 1 has rank and decile only: the score is "not available"
        lsoa["imd_score"] = np.nan
    for col in [c for c in lsoa.columns if c.endswith(("_rank", "_decile"))]:
        lsoa[col] = lsoa[col].astype("Int64" if lsoa[col].isna().any() else "int64")
    lsoa["area_ha"] = (lsoa.area / 1e4).round(3)
    ordered = [c for c in ("lsoa_code", "lsoa_name", "lsoa11_code", "population_2024", "area_ha", "imd_rank",
                           "imd_decile", "imd_score") if c in lsoa.columns]
    rest = sorted(c for c in lsoa.columns if c not in ordered and c != "geometry")
    return gpd.GeoDataFrame(lsoa[ordered + rest + ["geometry"]], geometry="geometry", crs=BNG)


# --------------------------------------------------------------------------------------------------- postcodes
def _assign(points: NDArray[np.object_], polygons: gpd.GeoDataFrame, key: str) -> pd.Series:
    """The ``key`` of the first polygon (by key) holding each point, <NA> where none does."""
    polygons = polygons.to_crs(BNG).sort_values(key, ignore_index=True)
    tree = shapely.STRtree(polygons.geometry.values)
    pt_idx, poly_idx = tree.query(points, predicate="intersects")
    found = pd.Series(polygons[key].to_numpy()[poly_idx], index=pt_idx)
    found = found[~found.index.duplicated()]
    return found.reindex(range(len(points)))


def _postcodes(raw: Path, sources: Sources, la_code: str, wards: gpd.GeoDataFrame, lsoa: gpd.GeoDataFrame
               ) -> pd.DataFrame:
    """Postcodes of the authority (plus any the extract adds) with ward and LSOA.

    From an ONSPD extract with ONS's own ward/LSOA per postcode (``postcode_areas``) those are used; a postcode the
    areas file lacks gets its ward by point in polygon (``ward_source``). Without ``postcode_areas`` ward and LSOA
    both come from point in polygon.
    """
    extract = _source(raw, sources.postcodes, "postcodes")
    if extract is not None:
        table = pd.read_csv(extract).rename(columns={"pcds": "postcode", "oseast1m": "easting",
                                                     "osnrth1m": "northing", "long": "lon", "laua": "la_code"})
    else:
        national = national_postcodes()
        rows = np.flatnonzero(national.la_codes[national.la] == la_code)
        east, north = national.easting[rows].astype(float), national.northing[rows].astype(float)
        lon, lat = to_wgs84(east, north)
        table = pd.DataFrame({"postcode": decode_keys(national.keys[rows]), "la_code": la_code,
                              "easting": east, "northing": north, "lon": np.round(lon, 6),
                              "lat": np.round(lat, 6)})
    areas_path = _source(raw, sources.postcode_areas, "postcode_areas")
    if areas_path is not None:
        areas = pd.read_csv(areas_path, usecols=["postcode", "ward_code", "lsoa_code"])
        table = table.merge(areas, on="postcode", how="left", validate="1:1")
        # A postcode the areas file put in the place that the newer ONSPD codes to a neighbour loses its areas.
        moved = table["la_code"] != la_code
        table.loc[moved, ["ward_code", "lsoa_code"]] = np.nan
        table["ward_source"] = np.where(table["ward_code"].notna(), "datalab_feb2025", "")
        new = table["ward_code"].isna() & (table["la_code"] == la_code) & table["easting"].notna()
        if new.any():
            pts = shapely.points(table.loc[new, "easting"], table.loc[new, "northing"])
            codes = _assign(pts, wards, "ward_code")
            codes.index = table.index[new]
            codes = codes.dropna()
            table.loc[codes.index, "ward_code"] = codes
            table.loc[codes.index, "ward_source"] = "point_in_polygon"
    else:
        located = table["easting"].notna() & (table["la_code"] == la_code)
        pts = shapely.points(table.loc[located, "easting"], table.loc[located, "northing"])
        for key, frame in (("ward_code", wards), ("lsoa_code", lsoa)):
            values = _assign(pts, frame, key)
            values.index = table.index[located]
            table[key] = values.reindex(table.index)
        table["ward_source"] = np.where(table["ward_code"].notna(), "point_in_polygon", "")
    table["district"] = table["postcode"].str.split(" ").str[0]
    table["sector"] = table["postcode"].str[:-2]
    cols = ["postcode", "sector", "district", "la_code", "easting", "northing", "lon", "lat", "ward_code",
            "lsoa_code", "ward_source"]
    table = table[cols].sort_values("postcode", ignore_index=True)
    table["easting"] = table["easting"].astype("Int64")
    table["northing"] = table["northing"].astype("Int64")
    return table


# --------------------------------------------------------------------------------------------------- practices
def _national() -> PostcodeTable:
    """National postcode lookups, independent of any place."""
    return PostcodeTable(pd.DataFrame())


def _membership(raw: Path, sources: Sources, la_code: str) -> pd.DataFrame:
    path = _source(raw, sources.pcn_map, "pcn_map")
    if path is None:
        raise PlaceError("a practice → PCN map is required (pcn_map)")
    pcn = pd.read_csv(path, dtype=str)
    normalised = normalise_postcodes(pcn["PRACTICE_POSTCODE"])["postcode_normalised"].to_numpy(dtype=object)
    members = _national().local_authorities(normalised, PostcodeKind.FULL)
    pcn = pcn[[la_code in m for m in members]].reset_index(drop=True)
    if pcn.empty:
        raise PlaceError(f"{path} lists no practice with a postcode in {la_code}")
    return pcn


def _practices_from_datalab(raw: Path, sources: Sources, pcn: pd.DataFrame, postcodes: pd.DataFrame
                            ) -> pd.DataFrame:
    """GP practices located and sized by the Trafford Data Lab files (list size Jan 2026)."""
    regs = pd.read_csv(_source(raw, sources.practice_registrations, "practice_registrations"))
    sites = pd.read_csv(_source(raw, sources.practice_locations, "practice_locations"))
    sites = sites.rename(columns={"name": "practice_name_2026"})
    regs = regs.merge(sites[["practice_name_2026", "address", "postcode", "lon", "lat"]],
                      left_on=["practice_name", "practice_postcode"], right_on=["practice_name_2026", "postcode"],
                      how="left", validate="1:1")
    if regs["lon"].isna().any():
        raise PlaceError(f"practices without a location: {regs.loc[regs['lon'].isna(), 'practice_name'].tolist()}")
    practices = pcn[["PRACTICE_CODE", "PRACTICE_NAME", "PRACTICE_POSTCODE"]].rename(columns={
        "PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name", "PRACTICE_POSTCODE": "postcode"})
    practices["practice_name"] = practices["practice_name"].str.title()
    practices = practices.merge(
        regs[["practice_code", "practice_name", "address", "practice_postcode", "registered_patients", "lon",
              "lat"]].rename(columns={"practice_name": "name_2026"}), on="practice_code", how="left")
    practices["location_source"] = np.where(practices["lon"].notna(), "datalab_jan2026", "postcode_2022")
    # A practice no longer in the 2026 list is placed at its 2022 postcode's centroid and has no list size:
    # that is "needs data", not zero.
    gone = practices["lon"].isna()
    pc = postcodes.set_index("postcode")
    practices.loc[gone, "lon"] = practices.loc[gone, "postcode"].map(pc["lon"])
    practices.loc[gone, "lat"] = practices.loc[gone, "postcode"].map(pc["lat"])
    practices["postcode"] = practices["practice_postcode"].fillna(practices["postcode"])
    practices["practice_name"] = practices["name_2026"].fillna(practices["practice_name"])
    practices["registered_patients"] = practices["registered_patients"].astype("Int64")
    return practices


def _practices_from_ods(raw: Path, sources: Sources, pcn: pd.DataFrame) -> pd.DataFrame:
    """GP practices located at their ODS site postcode centroid (list size not available)."""
    practices = pcn[["PRACTICE_CODE", "PRACTICE_NAME", "PRACTICE_POSTCODE"]].rename(columns={
        "PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name", "PRACTICE_POSTCODE": "postcode"})
    practices["practice_name"] = practices["practice_name"].str.title()
    practices["address"] = pd.NA
    practices["lon"] = np.nan
    practices["lat"] = np.nan
    practices["location_source"] = "postcode_2022"
    sites_path = _source(raw, sources.practice_sites, "practice_sites")
    if sites_path is not None:
        sites = _read_table(sites_path).drop_duplicates("Organisation_Code").set_index("Organisation_Code")
        known = practices["practice_code"].isin(sites.index)
        site = sites.reindex(practices["practice_code"])
        lines = site[[c for c in site.columns if c.startswith("Address_Line")]]
        address = lines.apply(lambda r: ", ".join(str(v).title() for v in r if isinstance(v, str) and v), axis=1)
        practices.loc[known, "address"] = address.to_numpy()[known.to_numpy()]
        practices.loc[known, "postcode"] = site["Postcode"].to_numpy()[known.to_numpy()]
    normalised = normalise_postcodes(practices["postcode"])["postcode_normalised"].to_numpy(dtype=object)
    found, _, _, lon, lat = _national().locate(normalised, PostcodeKind.FULL)
    practices["lon"], practices["lat"] = np.where(found, lon, np.nan), np.where(found, lat, np.nan)
    if sites_path is not None:
        practices.loc[known & found, "location_source"] = "ods_postcode_centroid"
    practices["registered_patients"] = pd.array([pd.NA] * len(practices), dtype="Int64")
    return practices


def _practices(raw: Path, sources: Sources, la_code: str, postcodes: pd.DataFrame
               ) -> tuple[pd.DataFrame, pd.DataFrame]:
    pcn = _membership(raw, sources, la_code)
    membership = pcn.rename(columns={"PRACTICE_CODE": "practice_code", "PRACTICE_NAME": "practice_name",
                                     "PCN_CODE": "pcn_code", "PCN_NAME": "pcn_name"})
    membership["pcn_name"] = membership["pcn_name"].str.title().str.replace("Pcn", "PCN")
    membership["practice_name"] = membership["practice_name"].str.title()
    extract = pd.to_datetime(pcn["EXTRACT_DATE"].iloc[0], format="%d%b%Y").strftime("%Y-%m-%d")
    membership["extract_date"] = extract
    membership = membership[["practice_code", "practice_name", "pcn_code", "pcn_name", "extract_date"]]
    if sources.practice_registrations is not None:
        practices = _practices_from_datalab(raw, sources, pcn, postcodes)
    else:
        practices = _practices_from_ods(raw, sources, pcn)
    practices = practices[["practice_code", "practice_name", "address", "postcode", "lon", "lat",
                           "registered_patients", "location_source"]]
    return practices.sort_values("practice_code", ignore_index=True), membership


# ------------------------------------------------------------------------------------------------------ place
def slug_for(name: str) -> str:
    """Folder name and column suffix for a place name ("Stockport" → "stockport")."""
    return re.sub(r"[^a-z0-9]+", "_", name.casefold()).strip("_")


def _place_toml(*, name: str, slug: str, la_code: str, centre: tuple[float, float], has_neighbourhoods: bool,
                pilot: str | None, command: str, config: Mapping[str, str]) -> str:
    pilot_lines = f'pilot_neighbourhood = "{pilot}"\n' if pilot else ""
    neighbourhood_line = ('neighbourhood_wards = "neighbourhood_wards.csv" # ward_code -> neighbourhood (the '
                          "council's definition)\n") if has_neighbourhoods else (
        "# no neighbourhood_wards: this place was built without the council's ward grouping (none is invented)\n")
    return f"""# Built by: {command}
# Everything the code needs to know about a place lives in this folder; the code knows none of it.
# Rebuild with the same command; see docs/places.md.

[place]
name = "{name}"
slug = "{slug}"
la_code = "{la_code}"
neighbourhood_term = "neighbourhood"
{pilot_lines}centre = [{centre[0]:.3f}, {centre[1]:.3f}]
zoom = 12

[layers]
boundary = "boundary.geojson"
wards = "wards.geojson"
wards_generalised = "wards_generalised.geojson"
lsoas = "lsoas.geojson"
pcn_footprints = "pcn_footprints.geojson"
local_authorities = "local_authorities.geojson"

[tables]
{neighbourhood_line}postcodes = "postcodes.csv"
gp_practices = "gp_practices.csv"
practice_pcn = "practice_pcn.csv"
{"".join(chr(10) + "[config]" + chr(10) + "".join(f'{k} = "{v}"' + chr(10) for k, v in config.items())
         if config else "")}
[attribution]
lines = [
{chr(10).join(f'  "{line}",' for line in ATTRIBUTION)}
]
"""


def build_place(raw: Path, out: Path, *, la_code: str, sources: Sources | None = None, name: str | None = None,
                slug: str | None = None, pilot: str | None = None, place_toml: Path | None = None,
                config: Mapping[str, str] | None = None, command: str = "python -m estates place build"
                ) -> BuildReport:
    """Build the place folder of local authority ``la_code`` into ``out``.

    Parameters
    ----------
    raw
        Folder the relative paths of ``sources`` are under (``../shared/data/raw``).
    out
        Output folder (created; files are overwritten).
    la_code
        ONS GSS code of the local authority (E06/E07/E08/E09…).
    sources
        Input files (default: the Greater Manchester / England files of ``raw``).
    name, slug
        Display name (default: the boundary file's name) and folder/column id (default: from the name).
    pilot
        The neighbourhood pages default to (only with a neighbourhood file).
    place_toml
        A hand-written ``place.toml`` to copy instead of writing one (Trafford's has its own comments and pilot).
    config
        ``[config]`` entries of the written ``place.toml`` (file names in the folder, e.g. classification rules).
    command
        The command line recorded at the top of the written ``place.toml``.

    Returns
    -------
    BuildReport
    """
    sources = sources if sources is not None else Sources()
    boundary, authorities = _boundary(raw, sources, la_code)
    name = name or str(boundary["la_name"].iloc[0])
    slug = slug or slug_for(name)
    report = BuildReport(folder=out, name=name, slug=slug, la_code=la_code)
    out.mkdir(parents=True, exist_ok=True)
    write_geojson(boundary, out / "boundary.geojson")
    write_geojson(authorities, out / "local_authorities.geojson")
    boundary_bng = boundary.to_crs(BNG).geometry.iloc[0]

    ward_pop = _persons(_source(raw, sources.ward_population, "ward_population"), "ward_code")
    wards = {}
    for key, rel, file in (("full", sources.wards, "wards.geojson"),
                           ("generalised", sources.wards_generalised, "wards_generalised.geojson")):
        w = _wards(raw, rel, la_code, boundary_bng, key)
        wards[key] = w
        if ward_pop is None:
            w = w.assign(population_2024=pd.array([pd.NA] * len(w), dtype="Int64"))
        else:
            w = w.merge(ward_pop, on="ward_code", how="left", validate="1:1")
        w["area_ha"] = (w.to_crs(BNG).area / 1e4).round(2)
        write_geojson(w, out / file)
    neighbourhood_path = _source(raw, sources.neighbourhoods, "neighbourhoods")
    if neighbourhood_path is not None:
        _neighbourhoods(neighbourhood_path, wards["full"]).to_csv(out / "neighbourhood_wards.csv", index=False)
    else:
        (out / "neighbourhood_wards.csv").unlink(missing_ok=True)
        report.notes.append("no neighbourhood file: the place has no neighbourhood layer")

    lsoa = _lsoas(raw, sources, name, boundary_bng, report)
    write_geojson(lsoa, out / "lsoas.geojson")

    postcodes = _postcodes(raw, sources, la_code, wards["full"], lsoa)
    postcodes.to_csv(out / "postcodes.csv", index=False)

    practices, membership = _practices(raw, sources, la_code, postcodes)
    practices.to_csv(out / "gp_practices.csv", index=False)
    membership.to_csv(out / "practice_pcn.csv", index=False)
    assignment, footprints = derive_pcn_footprints(lsoa, practices, membership, postcodes)
    assignment.to_csv(out / "pcn_lsoa_assignment.csv", index=False)
    write_geojson(footprints, out / "pcn_footprints.geojson")
    if practices["registered_patients"].isna().all():
        report.notes.append("no list sizes: PCN footprints are unweighted (docs/pcn_footprints.md)")

    if place_toml is not None:
        if place_toml.resolve() != (out / "place.toml").resolve():
            shutil.copyfile(place_toml, out / "place.toml")
    else:
        centre_point = boundary.to_crs(BNG).geometry.iloc[0].representative_point()
        lon, lat = to_wgs84(np.array([centre_point.x]), np.array([centre_point.y]))
        (out / "place.toml").write_text(_place_toml(
            name=name, slug=slug, la_code=la_code, centre=(float(lat[0]), float(lon[0])),
            has_neighbourhoods=neighbourhood_path is not None, pilot=pilot, command=command, config=config or {}),
            encoding="utf-8")
    report.counts = {"wards": len(wards["full"]), "lsoas": len(lsoa), "postcodes": len(postcodes),
                     "postcodes in the place": int((postcodes["la_code"] == la_code).sum()),
                     "practices": len(practices), "pcns": len(footprints),
                     "lsoa nearest-practice disagreements": int(
                         (assignment["pcn_code"] != assignment["nearest_practice_pcn"]).sum())}
    return report


def build_local_authority_names(raw: Path, out: Path, *, imd: str = "england-imd2019/IMD_2019.xlsx") -> int:
    """Write ``la_code, la_name, source`` for every English local authority named in MHCLG's IMD 2019 File 1.

    Authorities created since 2019 (and those of Scotland and Wales) are not in it: their names are "not
    available" rather than guessed. Returns the number of rows.
    """
    path = _source(raw, imd, "imd")
    sheets = pd.read_excel(path, sheet_name=None)
    frame = next(s for s in sheets.values() if "Local Authority District code (2019)" in s.columns)
    names = frame[["Local Authority District code (2019)", "Local Authority District name (2019)"]].drop_duplicates()
    names.columns = ["la_code", "la_name"]
    names["source"] = "MHCLG IMD 2019 File 1 (LAD 2019 names)"
    names.sort_values("la_code", ignore_index=True).to_csv(out, index=False)
    return len(names)
