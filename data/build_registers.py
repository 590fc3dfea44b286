"""Copy the demo estate's partner registers from the raw open data into ``data/registers/``.

Run from the project root::

    python data/build_registers.py --raw ../shared/data/raw

Each output is one partner's register *as it arrived*: the bytes are copied unchanged, except where a file held
several partners (the NHS ODS 2018 trust-site list, the Greater Manchester probation offices), which is split
into one file per partner by keeping whole rows (native columns, order and values untouched). Provenance and
licences are in ``data/registers/README.md``; the partner list and column mappings are in
``data/registers/registers.yaml``. Running the script twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

OUT = Path(__file__).resolve().parent / "registers"


@dataclass(frozen=True)
class Copy:
    """Copy ``source`` (relative to the raw folder) to ``target`` unchanged."""

    source: str
    target: str


@dataclass(frozen=True)
class RowFilter:
    """Copy the rows of CSV ``source`` whose ``column`` starts with one of ``prefixes`` to ``target``."""

    source: str
    target: str
    column: str
    prefixes: tuple[str, ...]


ETRUST = "nhs-ods-etrust-2018/trafford_etrust_sites_2018-09.csv"

#: What goes where. ODS organisation codes start with the trust's code (R0A MFT, RW3 the former CMFT, ...).
MANIFEST: tuple[Copy | RowFilter, ...] = (
    Copy("trafford-council-open-data/transparency_code/local_authority_land/trafford_land_and_building_assets.csv",
         "trafford_land_and_building_assets.csv"),
    Copy("trafford-datalab-open-data/schools_and_colleges/trafford_schools_and_colleges.csv",
         "trafford_schools_and_colleges.csv"),
    Copy("trafford-datalab-open-data/general_practice/trafford_general_practices.csv",
         "trafford_general_practices.csv"),
    Copy("nhsx-systemhierarchies-gp-pcn-2022/trafford_gp_practice_pcn_map_2022-01.csv",
         "trafford_gp_practice_pcn_map_2022-01.csv"),
    Copy("trafford-datalab-open-data/general_practice/patient_registrations/trafford_gp_patient_registrations.csv",
         "trafford_gp_patient_registrations.csv"),
    Copy("nhs-tu-asset-mapping/trafford_uprn_gp_practices.csv", "trafford_uprn_gp_practices.csv"),
    RowFilter(ETRUST, "nhs_ods_2018_mft.csv", "organisation_code", ("R0A", "RW3")),
    RowFilter(ETRUST, "nhs_ods_2018_pennine_care.csv", "organisation_code", ("RT2",)),
    RowFilter(ETRUST, "nhs_ods_2018_bridgewater.csv", "organisation_code", ("RY2",)),
    RowFilter(ETRUST, "nhs_ods_2018_gmw.csv", "organisation_code", ("RXV",)),
    RowFilter(ETRUST, "nhs_ods_2018_nwas.csv", "organisation_code", ("RX7",)),
    RowFilter(ETRUST, "nhs_ods_2018_other_trusts.csv", "organisation_code",
              ("RJN", "RM2", "RM3", "RMC", "RWW", "RXA", "RXX")),
    Copy("trafford-council-open-data/assets/libraries/libraries.geojson", "trafford_libraries.geojson"),
    Copy("trafford-council-open-data/assets/leisure_centres/trafford_leisure_centres.csv",
         "trafford_leisure_centres.csv"),
    Copy("trafford-council-open-data/assets/community_hubs/trafford_community_hubs.csv",
         "trafford_community_hubs.csv"),
    Copy("trafford-datalab-open-data/hospitals/trafford_hospitals.geojson", "trafford_hospitals.geojson"),
    Copy("trafford-datalab-open-data/fire_stations/trafford_fire_stations.geojson",
         "trafford_fire_stations.geojson"),
    Copy("trafford-datalab-open-data/jobcentre_plus/trafford_jobcentreplus.csv", "trafford_jobcentreplus.csv"),
    RowFilter("trafford-datalab-open-data/probation/gm_probation_offices.csv", "trafford_probation_offices.csv",
              "area_code", ("E08000009",)),
)


def _filter_rows(source: Path, target: Path, column: str, prefixes: tuple[str, ...]) -> int:
    """Write the header and the matching rows of ``source`` to ``target``; return the number of rows kept."""
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    header = next(csv.reader([lines[0]]))
    if column not in header:
        raise SystemExit(f"{source}: no column '{column}'")
    position = header.index(column)
    kept = [lines[0]]
    # Filter physical lines; the check below proves no record spans lines, so bytes are kept as they were.
    for line in lines[1:]:
        fields = next(csv.reader(io.StringIO(line)))
        if len(fields) != len(header):
            raise SystemExit(f"{source}: a record spans lines; cannot filter it line by line")
        if fields[position].startswith(prefixes):
            kept.append(line)
    target.write_bytes("".join(kept).encode("utf-8"))
    return len(kept) - 1


def build(raw: Path, out: Path = OUT) -> list[tuple[str, str]]:
    """Copy every register of :data:`MANIFEST` from ``raw`` to ``out``.

    Returns
    -------
    list of (file name, what was done)
    """
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for item in MANIFEST:
        source = raw / item.source
        if not source.exists():
            raise SystemExit(f"missing raw file: {source}")
        target = out / item.target
        if isinstance(item, Copy):
            shutil.copyfile(source, target)
            done.append((item.target, f"copied unchanged ({target.stat().st_size:,} bytes)"))
        else:
            kept = _filter_rows(source, target, item.column, item.prefixes)
            done.append((item.target, f"{kept} rows with {item.column} starting {'/'.join(item.prefixes)}"))
    return done


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data/raw"),
                        help="folder holding the raw open data (default: ../shared/data/raw)")
    args = parser.parse_args(argv)
    if not args.raw.is_dir():
        print(f"error: raw data folder not found: {args.raw}", file=sys.stderr)
        return 2
    for name, what in build(args.raw):
        print(f"{name}: {what}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
