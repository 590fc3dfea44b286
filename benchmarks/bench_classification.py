"""Benchmark: re-classify 100,000 buildings against the Trafford rules (target: ≤ 2 s).

Rows are drawn with replacement from real records: the committed sample of real register rows
(``tests/fixtures/classification_sample.csv``), plus the whole council asset register when ``../shared`` is present.
A third of the draws get measured facts (utilisation, condition, running cost, lease end, co-location count) so the
performance rules and their explanations are exercised too, not only the "could not be checked" path.

    python benchmarks/bench_classification.py [--rows 100000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from estates.classification import DEFAULT_RULES, classify, load_rules, status_crosstab  # noqa: E402

SAMPLE = ROOT / "tests" / "fixtures" / "classification_sample.csv"
COUNCIL = (ROOT.parent / "shared" / "data" / "raw" / "trafford-council-open-data" / "transparency_code"
           / "local_authority_land" / "trafford_land_and_building_assets.csv")
TARGET_S = 2.0
TODAY = date(2025, 6, 1)


def council_register() -> pd.DataFrame | None:
    """The whole council register mapped to canonical columns (the mapping used for the test sample)."""
    if not COUNCIL.exists():
        return None
    raw = pd.read_csv(COUNCIL, dtype=str, keep_default_na=False)
    holding = {"land": "land", "buildings": "building", "land/buildings": "land+buildings"}
    # OtherDetail maps to no canonical field: ingest keeps it (with the other unmapped columns) in `extra`.
    extra = ["" if not v else json.dumps({"OtherDetail": v}) for v in raw["OtherDetail"].tolist()]
    return pd.DataFrame({
        "building_id": "trafford-council:" + raw["AssetCode"],
        "partner": "Trafford Council",
        "partner_type": "council",
        "source_id": raw["AssetCode"],
        "name": raw["PropertyName"],
        "postcode": raw["PostCode"],
        "uprn": raw["UPRN"],
        "tenure": raw["TenureType"],
        "tenure_detail": raw["TenureDetail"],
        "holding_type": raw["HoldingType"].str.lower().map(holding),
        "gia_m2": raw["BuildingSize"],
        "energy_rating": raw["EnergyRating"],
        "historic": "False",
        "extra": extra,
    })


def population() -> pd.DataFrame:
    sample = pd.read_csv(SAMPLE, dtype=str, keep_default_na=False)
    council = council_register()
    if council is None:
        return sample
    others = sample[sample["partner_type"] != "council"]
    return pd.concat([council, others], ignore_index=True)


def draw(base: pd.DataFrame, rows: int, seed: int = 20250601) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = base.iloc[rng.integers(0, len(base), rows)].reset_index(drop=True)
    frame["building_id"] = frame["building_id"] + "#" + pd.RangeIndex(rows).astype(str)
    measured = rng.random(rows) < 1 / 3
    k = int(measured.sum())
    # The same columns the registers would carry, as text, missing elsewhere.
    frame["utilisation_pct"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame.loc[measured, "utilisation_pct"] = rng.integers(0, 101, k).astype(str)
    frame["condition"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame.loc[measured, "condition"] = rng.choice(list("ABCD"), k)
    frame["annual_running_cost"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    frame.loc[measured, "annual_running_cost"] = rng.integers(1_000, 400_000, k).astype(str)
    frame["lease_end"] = pd.Series(pd.NA, index=frame.index, dtype="str")
    ends = pd.Timestamp(TODAY) + pd.to_timedelta(rng.integers(-200, 2000, k), unit="D")
    frame.loc[measured, "lease_end"] = ends.strftime("%Y-%m-%d")
    frame["site_partner_count"] = np.where(measured, rng.integers(1, 4, rows), np.nan)
    return frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args(argv)

    rules = load_rules(DEFAULT_RULES)
    base = population()
    frame = draw(base, args.rows)
    print(f"rules: {DEFAULT_RULES.relative_to(ROOT)} ({len(rules.rules)} rules, "
          f"{len(rules.designated_sites)} designated key sites)")
    print(f"buildings: {args.rows:,} drawn from {len(base):,} real records "
          f"({'council register + sample' if COUNCIL.exists() else 'committed sample only'})")

    classify(frame.head(1000), rules, today=TODAY)  # warm-up (imports, caches)
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = classify(frame, rules, today=TODAY)
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"classify: median {median:.3f} s over {args.runs} runs "
          f"(min {min(times):.3f}, max {max(times):.3f}); target ≤ {TARGET_S:.1f} s -> "
          f"{'PASS' if median <= TARGET_S else 'FAIL'}")
    print(f"throughput: {args.rows / median:,.0f} buildings/s")
    print()
    print("statuses of the drawn buildings (partner × status):")
    print(status_crosstab(frame, result).to_string())
    print()
    real = classify(base, rules, today=TODAY)
    print(f"the {len(base)} real records as they are (partner × status):")
    print(status_crosstab(base, real).to_string())
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
