"""Several places in one store, through the service layer (issue 17): Trafford's demo estate and Stockport's shipped
registers loaded into the same store stay apart — reads, sites, rules, site operations — and a GM-wide read sees
both at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from estates import service
from estates.store import NotFoundError, open_store
from geo.place import DATA_DIR, load_place

LEAD = "estates.lead@stockport.gov.uk"


@pytest.fixture
def store(seeded_store: Path, tmp_path: Path):  # noqa: ANN201 - a Store
    path = tmp_path / "estates.gpkg"
    shutil.copyfile(seeded_store, path)  # the Trafford demo estate
    with open_store(path) as opened:
        yield opened


@pytest.fixture
def both(store):  # noqa: ANN001, ANN201 - the store, with Stockport's demo registers loaded beside Trafford's
    service.load_registers(store, place="stockport")
    return store


def test_two_places_loaded_into_one_store_are_read_apart_and_together(store) -> None:  # noqa: ANN001
    before = service.read_estate(store, place="trafford")
    report = service.load_registers(store, place="stockport")
    assert report.buildings["inserted"] > 40

    stockport = service.read_estate(store, place="stockport")
    trafford = service.read_estate(store, place="trafford")
    assert (stockport.records["place"] == "stockport").all()
    assert (trafford.records["place"] == "trafford").all()
    assert not set(stockport.records["building_id"]) & set(trafford.records["building_id"])
    assert not set(stockport.sites["site_id"]) & set(trafford.sites["site_id"])
    assert trafford.sites["site_id"].tolist() == before.sites["site_id"].tolist()  # Trafford untouched
    assert "outside_stockport" in stockport.records
    assert "outside_trafford" not in stockport.records
    # the local authority each record was geocoded in is kept: Stockport's GP sites are in Stockport (E08000007)
    located = stockport.records[stockport.records["lat"].notna()]
    assert (located["la_code"] == "E08000007").mean() > 0.95
    assert set(located.loc[located["la_code"] == "E08000007", "la_name"]) == {"Stockport"}
    assert service.read_estate(store).sites["site_id"].tolist() == before.sites["site_id"].tolist()  # default place

    everywhere = service.read_all_places(store)
    assert len(everywhere.sites) == len(stockport.sites) + len(trafford.sites)
    assert len(everywhere.records) == len(stockport.records) + len(trafford.records)
    assert everywhere.sites.groupby("place").size().to_dict() == {"stockport": len(stockport.sites),
                                                                   "trafford": len(trafford.sites)}
    assert "outside_place" in everywhere.sites
    assert "outside_place" in everywhere.records
    # a site never joins records of two places
    per_site = everywhere.records.groupby("site_id")["place"].nunique()
    assert (per_site == 1).all()


def test_each_place_is_classified_by_its_own_rules(store, tmp_path: Path) -> None:  # noqa: ANN001
    folder = tmp_path / "stockport"
    shutil.copytree(DATA_DIR / "stockport", folder)
    (folder / "classification.yaml").write_text(
        "version: 1\nplace: stockport\nrules:\n  - id: stockport-gp-core\n    status: core\n"
        "    description: Stockport's own rule.\n    when:\n      partner_type: {in: [gp, pcn]}\n", encoding="utf-8")
    trafford_rules = set(service.read_records(store, place="trafford")["rule_id"].dropna())
    service.load_registers(store, place=load_place(str(folder)))
    stockport = service.read_records(store, place="stockport")
    assert set(stockport["rule_id"].dropna()) == {"stockport-gp-core"}
    assert (stockport["rule_status"] == "core").all()
    again = service.read_records(store, place="trafford")
    assert set(again["rule_id"].dropna()) == trafford_rules
    assert "stockport-gp-core" not in trafford_rules
    # re-running Trafford's rules leaves Stockport's suggestions as its own rules made them
    service.reclassify(store, place="trafford")
    assert set(service.read_records(store, place="stockport")["rule_id"].dropna()) == {"stockport-gp-core"}


def test_site_operations_work_in_the_place_of_the_site_named(both) -> None:  # noqa: ANN001
    stockport = service.read_estate(both, place="stockport")
    trafford = service.read_estate(both, place="trafford")
    site = stockport.sites["site_id"].iloc[0]
    # the current place is Trafford (the default), the site is Stockport's: the operation works in Stockport
    service.set_site_status(both, [site], "key", reason="Stockport's hub", actor=LEAD)
    assert service.read_estate(both, place="stockport").sites.set_index("site_id").at[site, "status"] == "key"
    assert any(e.action == "override" for e in service.site_history(both, site))
    assert service.undo_latest(both, site, actor=LEAD) == "override"
    with pytest.raises(NotFoundError):  # two places' sites are never merged into one
        service.merge_sites(both, site, trafford.sites["site_id"].iloc[0], reason="same?", actor=LEAD)
    a, b = stockport.sites["site_id"].iloc[1], stockport.sites["site_id"].iloc[2]
    service.merge_sites(both, a, b, reason="One building", actor=LEAD)
    merged = service.read_estate(both, place="stockport")
    assert len(merged.sites) == len(stockport.sites) - 1
    assert len(service.read_estate(both, place="trafford").sites) == len(trafford.sites)


def test_a_record_another_place_holds_is_rejected_with_the_reason(both) -> None:  # noqa: ANN001
    theirs = service.read_records(both, place="trafford").head(3)
    records = theirs.drop(columns=["outside_trafford"]).assign(outcome="accepted", issues="")
    counts, rejected = service.write_records(both, records, actor=LEAD, source="gm.csv", place="stockport")
    assert counts["inserted"] == counts["updated"] == 0
    assert rejected == 3
    kept = both.rejected_rows(place="stockport")
    assert set(kept["row_id"]) == set(theirs["building_id"])
    assert kept["issues"].str.contains("already in trafford's estate").all()
    assert set(service.read_records(both, place="trafford")["building_id"]) >= set(theirs["building_id"])


def test_a_partner_list_of_another_place_is_refused(store) -> None:  # noqa: ANN001
    from estates.ingest.partners import DEFAULT_CONFIG, ConfigError

    with pytest.raises(ConfigError, match="trafford's partner list, not stockport's"):
        service.load_registers(store, config=DEFAULT_CONFIG, place="stockport")
    assert "stockport" not in store.places()
    assert store.places()["trafford"] > 900  # Trafford's estate untouched


def test_the_gm_wide_view_is_one_command(both, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,  # noqa: ANN001
                                         capsys: pytest.CaptureFixture[str]) -> None:
    import pandas as pd

    from estates.cli import main

    monkeypatch.setenv("ESTATES_DATABASE_URL", both.location)
    expected = service.read_all_places(both).sites.groupby("place").size().to_dict()
    assert main(["export", "sites", "--all-places", "--out", str(tmp_path / "gm.csv")]) == 0
    table = pd.read_csv(tmp_path / "gm.csv", dtype=str)
    assert table.groupby("place").size().to_dict() == expected
    assert "sites per place: stockport" in capsys.readouterr().out
    assert main(["export", "sites", "--all-places", "--out", str(tmp_path / "gm.pdf")]) == 2
    assert "--all-places writes a table" in capsys.readouterr().err
