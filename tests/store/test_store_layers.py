"""The stores as GIS tools see them: a GeoPackage QGIS and GDAL open, PostGIS layers with registered geometry."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import geopandas as gpd
import pandas as pd
import psycopg
import pyogrio
import pytest
from store_helpers import trafford_records

from estates.store import open_store
from estates.store._sql import SCHEMA_VERSION
from estates.store.postgis import split_url

TOWN_HALL = "trafford-council:TMBC0001/T0000003"


def _filled(url: str) -> None:
    with open_store(url) as store:
        store.upsert_buildings(trafford_records(), actor="ingest", source="assets.csv")
        frame = store.buildings()
        store.save_rule_results(pd.DataFrame({"building_id": frame["building_id"], "rule_status": "core"}),
                                actor="rules")
        store.set_status(TOWN_HALL, "key", reason="Civic centre", actor="alice",
                         expected_version=store.building(TOWN_HALL).version)
        ids = frame["building_id"].tolist()
        membership = pd.DataFrame({"building_id": ids, "site_id": ["site:" + i for i in ids]})
        sites = pd.DataFrame({"site_id": membership["site_id"], "name": frame["name"], "partner_count": 1,
                              "building_count": 1, "lon": frame["lon"], "lat": frame["lat"]})
        matches = pd.DataFrame(columns=["building_id_a", "building_id_b"])
        store.save_site_matches(type("M", (), {"matches": matches, "sites": sites, "membership": membership})(),
                                actor="matcher", source="test")


def test_embedded_store_is_a_geopackage_gdal_reads(tmp_path: Path) -> None:
    path = tmp_path / "var" / "estates.gpkg"
    _filled(str(path))
    assert path.read_bytes()[68:72] == b"GPKG"  # application_id in the main file's header, where readers look
    layers = dict(pyogrio.list_layers(path).tolist())
    assert layers == {"buildings": "Point", "sites": "Point", "buildings_status": "Point", "classifications": None,
                      "rule_explanations": None,
                      "site_members": None, "site_matches": None, "audit": None, "rejected_rows": None}
    buildings = gpd.read_file(path, layer="buildings")
    assert buildings.crs.to_epsg() == 4326
    assert len(buildings) == 51
    with open_store(str(path)) as store:
        ours = store.buildings().set_index("building_id")
        log = store.audit_log()
    theirs = buildings.set_index("building_id").loc[ours.index]
    assert theirs.geometry.isna().tolist() == ours.geometry.isna().tolist()
    located = ours.geometry.notna()
    assert theirs.geometry[located].geom_equals(ours.geometry[located]).all()
    assert theirs.loc[TOWN_HALL, "name"] == "Altrincham Town Hall"
    assert theirs.loc[TOWN_HALL, "version"] == 2
    status = gpd.read_file(path, layer="buildings_status").set_index("building_id")
    assert (status.loc[TOWN_HALL, "effective_status"], status.loc[TOWN_HALL, "rule_status"]) == ("key", "core")
    assert len(gpd.read_file(path, layer="sites")) == 51
    audit = pyogrio.read_dataframe(path, layer="audit")
    assert len(audit) == len(log)
    assert set(audit["action"]) == {"ingest", "rule_run", "override"}
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("SELECT srs_id FROM gpkg_spatial_ref_sys ORDER BY srs_id").fetchall() == [(-1,), (0,),
                                                                                                     (4326,)]
        assert dict(conn.execute("SELECT table_name, data_type FROM gpkg_contents").fetchall())["audit"] == \
            "attributes"
        assert conn.execute("SELECT max(version) FROM estates_schema").fetchone()[0] == SCHEMA_VERSION


def test_gis_tools_in_another_process_see_the_live_store(tmp_path: Path) -> None:
    """QGIS (another process, its own SQLite) reads committed changes while the app's store is open (WAL)."""
    path = tmp_path / "estates.gpkg"
    _filled(str(path))
    code = ("import sys, pyogrio; f = pyogrio.read_dataframe(sys.argv[1], layer='buildings_status'); "
            "print(int((f['effective_status'] == 'surplus').sum()), len(pyogrio.read_dataframe(sys.argv[1], "
            "layer='audit')))")
    with open_store(str(path)) as store:
        store.bulk_set_status({i: store.building(i).version for i in store.buildings()["building_id"][:7]},
                              "surplus", reason="Disposal list", actor="alice")
        assert (path.parent / "estates.gpkg-wal").exists()  # the change is in the WAL, not yet in the main file
        out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
        assert out.stdout.split() == ["7", str(len(store.audit_log()))]
        assert store.building(TOWN_HALL).override_status in ("surplus", "key")  # our connection is unharmed


@pytest.mark.postgis
def test_postgis_store_registers_point_layers(postgres_url: str) -> None:
    url = f"{postgres_url}{'&' if '?' in postgres_url else '?'}schema=layers_test"
    try:
        _filled(url)
        conninfo, schema = split_url(url)
        with psycopg.connect(conninfo) as conn:
            columns = conn.execute(
                "SELECT f_table_name, type, srid FROM geometry_columns WHERE f_table_schema = %s ORDER BY 1",
                (schema,)).fetchall()
            assert columns == [("buildings", "POINT", 4326), ("buildings_status", "POINT", 4326),
                               ("sites", "POINT", 4326)]
            point = conn.execute(f'SELECT ST_AsText(geom) FROM "{schema}".buildings WHERE building_id = %s',
                                 (TOWN_HALL,)).fetchone()
            assert point == ("POINT(-2.3520922 53.3879587)",)
            status = conn.execute(f'SELECT effective_status FROM "{schema}".buildings_status '
                                  "WHERE building_id = %s", (TOWN_HALL,)).fetchone()
            assert status == ("key",)
    finally:
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS "layers_test" CASCADE')
