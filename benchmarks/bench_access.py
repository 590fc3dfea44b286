"""Benchmark: the whole borough's access to one kind of site (target: recompute ≤ 1 s), and the CLI as run.

In-process, what the page redoes when a filter changes: pick the sites of the kind from the estate, find every
resident point's nearest and second-nearest site (KD-tree), and build every table (reach by IMD decile,
neighbourhood, PCN and LSOA, the access gap, and a closure). Trafford: 11,272 live postcode points against every
located site (``any``; with ``--all-records`` historic and approximately placed records too). The registers are read
once first (as the app holds the estate in memory). Then the CLI process, start to exit, as a user runs it
(``python -m estates access any --no-store``: Python start-up, reading the registers and rules, the analysis,
printing).

    python benchmarks/bench_access.py [--runs 7] [--all-records]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from estates.access import access_analysis, access_tables, facility_points  # noqa: E402
from estates.estate import current_estate  # noqa: E402
from geo.access import resident_points  # noqa: E402

TARGET_S = 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--all-records", action="store_true",
                        help="count historic and approximately placed records as sites too")
    args = parser.parse_args()
    options = {"include_historic": args.all_records, "include_approximate": args.all_records}

    estate = current_estate(use_store=False)
    residents = resident_points()
    sites = facility_points(estate, "any", **options)
    closing = sites["facility_id"].iloc[: max(1, len(sites) // 50)].tolist()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        analysis = access_analysis(estate, "any", closed=closing, **options)
        tables = access_tables(analysis)
        times.append(time.perf_counter() - start)
    assert abs(tables["by_imd_decile"]["residents"].sum() - residents["residents"].sum()) < 1e-6
    median = statistics.median(times)
    print(f"recompute: {len(residents):,} resident points × {len(sites):,} sites, {len(closing)} closing, every "
          f"table: median {median:.3f} s, best {min(times):.3f} s over {args.runs} runs "
          f"(target ≤ {TARGET_S:.1f} s) {'OK' if median <= TARGET_S else 'SLOW'}")

    command = [sys.executable, "-m", "estates", "access", "any", "--no-store", "--top", "10"]
    if args.all_records:
        command += ["--include-historic", "--include-approximate"]
    cli = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
        cli.append(time.perf_counter() - start)
    print(f"CLI process ({' '.join(command[1:])}): median {statistics.median(cli):.2f} s over 3 runs")
    return 0 if median <= TARGET_S else 1


if __name__ == "__main__":
    sys.exit(main())
