"""Benchmark: a partner data request as the user runs it — the whole CLI process, export then import preview.

Seeds a store from the demo registers (once, not timed), then times ``python -m estates facts export --partner
"Trafford Council"`` (608 sites) and ``python -m estates facts import FILE --dry-run`` of that workbook with
utilisation filled for every site (read, match, parse, re-run the rules for the projection). Targets: ≤ 10 s each on
the development machine (process start and imports included).

    python benchmarks/bench_facts.py [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TARGET_S = 10.0


def _time(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "estates", *args], cwd=ROOT, env=env, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import openpyxl

    from estates.service import load_registers
    from estates.store import open_store

    with tempfile.TemporaryDirectory() as tmp:
        store = Path(tmp) / "estates.gpkg"
        with open_store(store) as s:
            load_registers(s)
        env = {**os.environ, "ESTATES_DATABASE_URL": str(store), "ESTATES_ACTOR": "bench"}
        request, returned = Path(tmp) / "request.xlsx", Path(tmp) / "returned.xlsx"
        exports = [_time(["facts", "export", "--partner", "Trafford Council", "--out", str(request), "--force"], env)
                   for _ in range(args.runs)]
        book = openpyxl.load_workbook(request)
        ws = book["Facts"]
        col = {c.value: c.column for c in ws[1]}
        for r in range(2, ws.max_row + 1):
            ws.cell(r, col["Utilisation %"]).value = "35%"
        book.save(returned)
        imports = [_time(["facts", "import", str(returned), "--dry-run"], env) for _ in range(args.runs)]
    for what, times in (("export (608 sites)", exports), ("import --dry-run (608 rows)", imports)):
        median = statistics.median(times)
        verdict = "ok" if median <= TARGET_S else "SLOW"
        print(f"{what}: median {median:.2f} s over {len(times)} runs (target ≤ {TARGET_S:.0f} s) {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
