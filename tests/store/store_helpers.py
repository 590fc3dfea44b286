"""Trafford-shaped records and checks shared by the store tests, benchmarks and worker processes."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from estates.store import Store

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "store_trafford_assets.csv"
_HOLDING = {"Land": "land", "Buildings": "building", "Land/Buildings": "land+buildings"}


def trafford_records(copies: int = 1) -> pd.DataFrame:
    """Canonical records built from the real council asset rows in ``tests/fixtures/store_trafford_assets.csv``.

    Parameters
    ----------
    copies
        How many times to repeat the 51 rows; copy ``k`` ≥ 2 gets ids ending ``#k`` (values unchanged).
    """
    raw = pd.read_csv(FIXTURE, dtype=str, keep_default_na=False)
    wgs84 = raw["CoordinateReferenceSystem"].eq("WGS84") & raw["GeoX"].ne("")
    number = lambda s: pd.to_numeric(s.replace("", np.nan))  # noqa: E731
    text = lambda s: s.replace("", np.nan)  # noqa: E731
    base = pd.DataFrame({
        "building_id": "trafford-council:" + raw["AssetCode"],
        "partner": "Trafford Council",
        "partner_type": "council",
        "source_id": raw["AssetCode"],
        "name": text(raw["PropertyName"]),
        "address_line_1": text((raw["StreetNumber"] + " " + raw["StreetName"]).str.strip()),
        "town": text(raw["PostTown"]),
        "postcode": text(raw["PostCode"]),
        "uprn": text(raw["UPRN"]),
        "x": number(raw["GeoX"]),
        "y": number(raw["GeoY"]),
        "tenure": text(raw["TenureType"]),
        "tenure_detail": text(raw["TenureDetail"]),
        "holding_type": raw["HoldingType"].map(_HOLDING),
        "gia_m2": number(raw["BuildingSize"]),
        "land_area_ha": number(raw["LandArea"]),
        "energy_rating": text(raw["EnergyRating"]),
        "use": text(raw["OtherDetail"]),
        "historic": False,
        "extra": [json.dumps({"OrganisationURI": u, "EffectiveDate": d}) for u, d in
                  zip(raw["OrganisationURI"], raw["EffectiveDate"], strict=True)],
        "source_file": FIXTURE.name,
        "source_row": np.arange(2, len(raw) + 2, dtype=float),
        "ingested_at": "2025-01-01T00:00:00Z",
        "lon": number(raw["GeoX"]).where(wgs84),
        "lat": number(raw["GeoY"]).where(wgs84),
        "geocode_method": np.where(wgs84, "coordinates", "none"),
        "geocode_precision": np.where(wgs84, "high", "none"),
        "geocode_issue": np.where(wgs84, "", "no coordinates"),
        "outside_trafford": pd.array(np.where(wgs84, False, None), dtype="boolean"),
    })
    frames = [base] + [base.assign(building_id=base["building_id"] + f"#{k}") for k in range(2, copies + 1)]
    return pd.concat(frames, ignore_index=True)


def check_audit_matches_data(store: Store) -> dict[str, int]:
    """Assert the audit history explains the current data exactly; return counts.

    For every building: its version is the number of changes (distinct change ids) in its history other than rule
    runs (which do not bump versions); ``updated_by`` is the actor of the last of those; replaying the
    ``rule_status`` and ``override_status`` rows gives the stored values.
    """
    frame = store.buildings()
    log = store.audit_log()
    versioned = log[log["action"] != "rule_run"]
    changes = versioned.groupby("building_id")["change_id"].nunique()
    last_actor = versioned.groupby("building_id")["actor"].last()
    replay: dict[str, dict[str, object]] = defaultdict(dict)
    for bid, field, to in zip(log["building_id"], log["field"], log["to_value"], strict=True):
        if field in ("rule_status", "override_status"):
            replay[bid][field] = None if pd.isna(to) else to
    for row in frame.itertuples(index=False):
        bid = row.building_id
        assert row.version == changes[bid], f"{bid}: version {row.version} but {changes[bid]} audited changes"
        assert row.updated_by == last_actor[bid], f"{bid}: updated_by {row.updated_by} != {last_actor[bid]}"
        for field in ("rule_status", "override_status"):
            stored = getattr(row, field)
            stored = None if pd.isna(stored) else stored
            assert replay[bid].get(field) == stored, f"{bid}: {field} {stored!r} but history says " \
                                                     f"{replay[bid].get(field)!r}"
    return {"buildings": len(frame), "audit_rows": len(log)}
