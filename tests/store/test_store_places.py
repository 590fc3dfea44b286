"""One store, several places (issue 17): each record, site and rejected row belongs to one place, reads of a place
see only its estate, a matching run never joins records of two places, and a version-2 store migrates to version 3
with every row given the place it was loaded for. Every test runs on both engines (GeoPackage and a real PostGIS)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from store_helpers import trafford_records

from estates.store import Store, open_store

STOCKPORT_GP = Path(__file__).resolve().parents[2] / "data" / "stockport" / "registers" / \
    "stockport_uprn_gp_practices.csv"


def stockport_records() -> pd.DataFrame:
    """Stockport's GP practice sites (NHS ODS, shipped in data/stockport) as canonical records of that place."""
    raw = pd.read_csv(STOCKPORT_GP, dtype=str, keep_default_na=False)
    lat, lon = pd.to_numeric(raw["PC_Lat"]), pd.to_numeric(raw["PC_Lon"])
    return pd.DataFrame({
        "building_id": "nhs-ods-gp:" + raw["Organisation_Code"], "partner": "NHS ODS prescribing settings (GP role)",
        "partner_type": "gp", "source_id": raw["Organisation_Code"], "name": raw["Organisation_Name"],
        "postcode": raw["Postcode"], "uprn": raw["UPRN"], "source_file": STOCKPORT_GP.name,
        "source_row": np.arange(2, len(raw) + 2, dtype=float), "lon": lon, "lat": lat,
        "geocode_method": "coordinates", "geocode_precision": "high", "la_code": "E08000007", "la_name": "Stockport",
        "outside_stockport": pd.array([False] * len(raw), dtype="boolean"),
    })


class _Run:
    """A matching run: every record its own site (what estates.sites.matching gives without pairs)."""

    def __init__(self, ids: list[str], pairs: list[tuple[str, str]] = ()) -> None:
        self.membership = pd.DataFrame({"building_id": ids, "site_id": ["site:" + i for i in ids]})
        self.sites = pd.DataFrame({"site_id": self.membership["site_id"], "name": "site", "partner_count": 1,
                                   "building_count": 1, "lon": -2.2, "lat": 53.4})
        self.matches = pd.DataFrame({"building_id_a": [a for a, _ in pairs], "building_id_b": [b for _, b in pairs],
                                     "score": 90.0, "status": "proposed"})


def _two_places(store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
    trafford, stockport = trafford_records(), stockport_records()
    store.upsert_buildings(trafford, actor="ingest", source="assets.csv", place="trafford")
    store.upsert_buildings(stockport, actor="ingest", source=STOCKPORT_GP.name, place="stockport")
    return trafford, stockport


def test_two_places_in_one_store_are_read_apart_with_their_own_flag_and_local_authority(store: Store) -> None:
    trafford, stockport = _two_places(store)
    assert store.places() == {"stockport": len(stockport), "trafford": len(trafford)}
    mine = store.buildings(place="stockport")
    assert set(mine["building_id"]) == set(stockport["building_id"])
    assert "outside_stockport" in mine
    assert "outside_trafford" not in mine
    assert (mine["place"] == "stockport").all()
    assert (mine["la_code"] == "E08000007").all()
    assert (mine["la_name"] == "Stockport").all()
    theirs = store.buildings(place="trafford")
    assert set(theirs["building_id"]) == set(trafford["building_id"])
    assert "outside_trafford" in theirs
    assert len(store.buildings()) == len(trafford) + len(stockport)  # every place at once
    one = store.building(stockport["building_id"].iloc[0])
    assert one.record["place"] == "stockport"
    assert one.record["outside_stockport"] is False


def test_a_record_of_one_place_is_never_taken_by_a_load_for_another(store: Store) -> None:
    trafford, _ = _two_places(store)
    taken = trafford.head(2).rename(columns={"outside_trafford": "outside_stockport"})
    with pytest.raises(ValueError, match="belongs to 'trafford'"):
        store.upsert_buildings(taken, actor="ingest", source="gm.csv", place="stockport")
    with pytest.raises(ValueError, match="outside_stockport"):
        store.upsert_buildings(trafford.head(2), actor="ingest", source="gm.csv", place="stockport")
    assert set(store.buildings(place="trafford")["building_id"]) == set(trafford["building_id"])
    assert store.places()["trafford"] == len(trafford)


def test_a_matching_run_of_one_place_keeps_the_other_places_sites_and_never_joins_two(store: Store) -> None:
    trafford, stockport = _two_places(store)
    t_ids, s_ids = trafford["building_id"].tolist(), stockport["building_id"].tolist()
    store.save_site_matches(_Run(t_ids), actor="matching", source="t", place="trafford")
    store.save_site_matches(_Run(s_ids, [(s_ids[0], s_ids[1])]), actor="matching", source="s", place="stockport")
    assert len(store.sites(place="trafford")) == len(t_ids)
    assert len(store.sites(place="stockport")) == len(s_ids)
    assert set(store.sites()["place"]) == {"trafford", "stockport"}
    assert store.site_matches(place="stockport")[["building_id_a", "building_id_b"]].values.tolist() == [
        sorted(s_ids[:2])]
    assert store.site_matches(place="trafford").empty
    store.save_site_matches(_Run(s_ids), actor="matching", source="s2", place="stockport")  # pair dropped
    assert len(store.sites(place="trafford")) == len(t_ids)  # untouched
    assert store.site_matches().empty
    with pytest.raises(ValueError, match="never join records of two places"):
        store.save_site_matches(_Run([t_ids[0], s_ids[0]]), actor="matching", source="x", place="stockport")
    versions = {t_ids[0]: store.building(t_ids[0]).version, s_ids[0]: store.building(s_ids[0]).version}
    with pytest.raises(ValueError, match="never one site"):
        store.set_match_decision(t_ids[0], s_ids[0], "confirm", reason="same?", actor="fred",
                                 expected_versions=versions)
    assert len(store.buildings(place="stockport").query("site_id.notna()")) == len(s_ids)


def test_rejected_rows_are_kept_per_place(store: Store) -> None:
    row = {"row_id": "x:1", "partner": "P", "partner_type": "gp", "source_file": "f.csv", "source_row": 2,
           "issues": "error: no location"}
    store.save_rejected_rows(pd.DataFrame([row]), partner="P", source_file="f.csv", actor="ingest", place="trafford")
    store.save_rejected_rows(pd.DataFrame([{**row, "row_id": "x:2"}]), partner="P", source_file="f.csv",
                             actor="ingest", place="stockport")
    assert store.rejected_rows(place="trafford")["row_id"].tolist() == ["x:1"]
    assert store.rejected_rows(place="stockport")["row_id"].tolist() == ["x:2"]
    store.save_rejected_rows(pd.DataFrame(columns=list(row)), partner="P", source_file="f.csv", actor="ingest",
                             place="stockport")  # a clean re-load of Stockport's file clears Stockport's only
    assert store.rejected_rows()["row_id"].tolist() == ["x:1"]


def _drop_place_columns(store_url: str) -> None:
    """Turn a store back into the shape version-2 code wrote: no place columns, no version-3 row."""
    statements = ["DROP INDEX IF EXISTS idx_buildings_place", "DROP INDEX IF EXISTS idx_sites_place",
                  "ALTER TABLE buildings DROP COLUMN place", "ALTER TABLE sites DROP COLUMN place",
                  "ALTER TABLE rejected_rows DROP COLUMN place", "DELETE FROM estates_schema WHERE version = 3"]
    if store_url.startswith("postgresql"):
        import psycopg

        from estates.store.postgis import split_url

        conninfo, schema = split_url(store_url)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{schema}", public')
            for sql in statements:
                conn.execute(sql)
    else:
        import sqlite3

        with sqlite3.connect(store_url) as conn:
            for sql in statements:
                conn.execute(sql)


def test_a_version_2_store_migrates_to_3_with_every_row_in_the_place_it_was_loaded_for(store_url: str) -> None:
    records = trafford_records()
    with open_store(store_url) as first:  # written the version-2 way: no place named, outside_trafford remembered
        first.upsert_buildings(records, actor="ingest", source="assets.csv")
        first.save_site_matches(_Run(records["building_id"].tolist()), actor="matching", source="t")
        first.save_rejected_rows(pd.DataFrame([{"row_id": "r:1", "partner": "P", "source_file": "f.csv"}]),
                                 partner="P", source_file="f.csv", actor="ingest")
        override = records["building_id"].iloc[3]
        first.set_status(override, "surplus", reason="Services moved", actor="alice", expected_version=1)
    _drop_place_columns(store_url)
    with open_store(store_url) as migrated:
        assert migrated.schema_version == 3
        assert migrated.places() == {"trafford": len(records)}
        assert (migrated.sites()["place"] == "trafford").all()
        assert migrated.rejected_rows(place="trafford")["row_id"].tolist() == ["r:1"]
        kept = migrated.building(override)
        assert (kept.override_status, kept.override_by, kept.version) == ("surplus", "alice", 2)
        assert "outside_trafford" in migrated.buildings(place="trafford")
        assert len(migrated.audit_log()) == len(records) + 1
