"""Benchmark: read → geocode → tag 1,000,000 rows drawn from real postcodes, against a plain geopandas script.

Run from the project root::

    python benchmarks/bench_tagging.py [--rows 1000000] [--repeat 3] [--process-rows 200000 1000000]

Two comparisons, in one run:

* **in-process** (``--rows``): the core (read → geocode → tag, reference data warm) against the same steps written
  with a pandas merge and ``gpd.sjoin``;
* **whole processes, as a user runs them** (``--process-rows``; issue 15): ``python -m estates geocode INPUT --out
  OUT.csv`` (and ``.gpkg``) against ``benchmarks/geopandas_script.py`` (pandas merge on the postcode table +
  ``gpd.sjoin``, reading and writing CSV), each timed from launch to exit, interpreter start, imports, reference
  data and I/O included, with the process's own peak memory. Targets: ≥ 3× the script on 200,000 rows; 1,000,000
  rows to CSV in ≤ 3 s and to GPKG in ≤ 5 s, ≤ 1 GB.

The input mixes ~88 % postcode rows (real postcodes of Trafford and its neighbours, in the messy shapes registers
use), ~10 % coordinate-only rows (real postcode centroids moved up to 50 m, half in WGS84, a quarter swapped, a
quarter in BNG) and ~2 % bad rows. Each approach runs in its own process so its peak memory (max RSS) is its own.
Targets (issue 2): ≤ 5 s and ≤ 2 GB for this tool, and ≥ 3× faster than the geopandas script; (issue 17) the
in-process geocode + tag of 1M rows ≤ 1.5 s with national postcodes, and loading the national postcode table
(every GB postcode, ``geo._onspd``) ≤ 0.5 s and ≤ 300 MB in a fresh process once its cache file exists.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def make_input(path: Path, rows: int, *, seed: int = 2026) -> None:
    """Write the benchmark CSV (not timed)."""
    from geo.postcodes import postcode_table

    rng = np.random.default_rng(seed)
    units = postcode_table().units.dropna(subset=["easting"]).reset_index(drop=True)
    pick = units.iloc[rng.integers(0, len(units), rows)].reset_index(drop=True)
    kind = rng.choice(["postcode", "coords", "bad"], size=rows, p=[0.88, 0.10, 0.02])
    postcode = pick["postcode"].to_numpy(dtype=object).copy()
    messy = rng.random(rows)
    postcode[messy < 0.2] = [p.lower() for p in postcode[messy < 0.2]]
    postcode[(messy >= 0.2) & (messy < 0.35)] = [p.replace(" ", "") for p in postcode[(messy >= 0.2) & (messy < 0.35)]]
    x = np.full(rows, np.nan)
    y = np.full(rows, np.nan)
    coords = kind == "coords"
    jitter = rng.uniform(-50, 50, size=(rows, 2))
    east = pick["easting"].to_numpy(float) + jitter[:, 0]
    north = pick["northing"].to_numpy(float) + jitter[:, 1]
    from geo.projection import to_wgs84

    lon, lat = to_wgs84(east, north)
    style = rng.random(rows)
    wgs, swapped, bng = coords & (style < 0.5), coords & (style >= 0.5) & (style < 0.75), coords & (style >= 0.75)
    x[wgs], y[wgs] = lon[wgs], lat[wgs]
    x[swapped], y[swapped] = lat[swapped], lon[swapped]
    x[bng], y[bng] = east[bng], north[bng]
    postcode[coords] = ""
    bad = kind == "bad"
    bad_values = np.array(["NOT KNOWN", "M99 9ZZ", "TBC", "", "00000"], dtype=object)
    postcode[bad] = bad_values[rng.integers(0, len(bad_values), bad.sum())]
    x[bad & (style < 0.3)] = 0.0
    y[bad & (style < 0.3)] = 0.0
    frame = pd.DataFrame({"asset_id": np.arange(rows), "name": "Asset " + pd.Series(np.arange(rows)).astype(str),
                          "postcode": postcode, "x": x, "y": y})
    frame.to_csv(path, index=False)


def run_tool(path: Path) -> dict:
    """This project's pipeline: read CSV → geo.geocoder.geocode → geo.tagging.tag."""
    from geo.boundaries import lsoas, pcn_footprints, wards
    from geo.geocoder import geocode
    from geo.place import load_place
    from geo.postcodes import postcode_table
    from geo.tagging import _layers, tag

    # Reference data loads once per process in real use (cached); warm it so the figure is the per-table cost.
    place = load_place()
    postcode_table(place), wards(place), lsoas(place), pcn_footprints(place), _layers(place)
    start = time.perf_counter()
    frame = pd.read_csv(path, engine="pyarrow", dtype={"postcode": "string"})
    out = tag(geocode(frame, postcode="postcode", x="x", y="y", place=place), place=place)
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": len(out), "located": int((out["geocode_method"] != "none").sum()),
            "in_ward": int(out["ward_code"].notna().sum())}


def run_geopandas(path: Path) -> dict:
    """A plain geopandas script: merge the postcode table, then one ``sjoin`` per layer."""
    from geopandas_script import locate_and_tag

    from geo.boundaries import lsoas, pcn_footprints, wards
    from geo.postcodes import postcode_table

    table = postcode_table().units[["postcode", "lon", "lat"]]
    layers = (wards()[["ward_code", "ward_name", "neighbourhood", "geometry"]],
              lsoas()[["lsoa_code", "lsoa_name", "imd_rank", "imd_decile", "population_2024", "geometry"]],
              pcn_footprints()[["pcn_code", "pcn_name", "geometry"]])
    start = time.perf_counter()
    points = locate_and_tag(pd.read_csv(path, dtype={"postcode": "string"}), table, list(layers))
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": len(points), "in_ward": int(points["ward_code"].notna().sum())}


def run_stages(path: Path) -> dict:
    """Where the ``geocode`` command's time goes: its own steps, one after another in one fresh process (CPU s)."""
    clock = time.process_time()
    stages: dict[str, float] = {}

    def lap(name: str) -> None:
        nonlocal clock
        now = time.process_time()
        stages[name] = round(now - clock, 3)
        clock = now

    import pyarrow as pa

    from estates.exports import write_table
    from estates.ingest.registers import read_register
    from geo.geocoder import geocode
    from geo.place import load_place
    from geo.tagging import tag

    pa.set_memory_pool(pa.system_memory_pool())  # as the command does (estates.cli)
    lap("imports (beyond pandas and numpy)")
    place = load_place()
    frame = read_register(path).frame
    lap("read (estates.ingest.registers.read_register)")
    located = geocode(frame, postcode="postcode", x="x", y="y", place=place, categorical=True)  # as the command
    lap("geocode (reference data included)")
    result = tag(located, place=place, categorical=True)
    lap("tag (boundary layers included)")
    with tempfile.TemporaryDirectory() as tmp:
        write_table(result, Path(tmp) / "out.csv")
        lap("write CSV")
        write_table(result, Path(tmp) / "out.gpkg")
        lap("write GPKG")
    return stages


def run_national_load(_path: Path) -> dict:
    """Load the national postcode table in a fresh process: time and memory it adds (cache file warm)."""
    import numpy  # noqa: F401  (imported by every caller anyway: not part of the table's cost)

    def rss_mb() -> float:  # current resident set, not the peak: the import above already set the peak
        fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
        return int(fields["VmRSS"].split()[0]) / 1024

    before = rss_mb()
    start = time.perf_counter()
    from geo._onspd import national_postcodes

    table = national_postcodes()
    elapsed = time.perf_counter() - start
    return {"seconds": elapsed, "rows": len(table.keys), "added_mb": rss_mb() - before}


def _child(which: str, path: str) -> None:
    runner = {"tool": run_tool, "geopandas": run_geopandas, "stages": run_stages,
              "national": run_national_load}[which]
    result = runner(Path(path))
    result["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(result))


def _spawn(which: str, path: Path) -> dict:
    proc = subprocess.run([sys.executable, __file__, "--child", which, str(path)], capture_output=True, text=True,
                          cwd=ROOT, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _timed_process(command: list[str]) -> dict:
    """Wall time from launch to exit and the peak RSS of one process (``os.wait4`` gives the child's own usage)."""
    with tempfile.TemporaryFile() as errors:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            errors.seek(0)
            raise RuntimeError(f"{' '.join(command)} failed ({proc.returncode}): {errors.read().decode()[-2000:]}")
    return {"seconds": seconds, "cpu": usage.ru_utime + usage.ru_stime, "max_rss_mb": usage.ru_maxrss / 1024}


def compile_project() -> None:
    """Byte-compile the project's modules, as ``pip install`` does and as any run leaves behind unless
    ``PYTHONDONTWRITEBYTECODE`` is set (it is in some sandboxes: then every run compiles ~25 modules again, 0.05 s
    that no user pays). The script's libraries in site-packages were compiled when they were installed."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    subprocess.run([sys.executable, "-m", "compileall", "-q", "estates", "geo"], cwd=ROOT, env=env, check=True,
                   stdout=subprocess.DEVNULL)


def compare_processes(rows: int, folder: Path, *, repeat: int) -> dict:
    """The ``geocode`` command (to CSV and GPKG) and the plain geopandas script, each as a whole process."""
    source = folder / f"input-{rows}.csv"
    make_input(source, rows)
    compile_project()
    cli = [sys.executable, "-m", "estates", "geocode", str(source), "--force", "--out"]
    script = [sys.executable, str(ROOT / "benchmarks" / "geopandas_script.py"), str(source)]
    result = {}
    # Interleaved, so a busy moment on a shared machine falls on both sides alike.
    for _ in range(repeat):
        for name, command in (("cli_csv", [*cli, str(folder / "out.csv")]),
                              ("script_csv", [*script, str(folder / "script.csv")]),
                              ("cli_gpkg", [*cli, str(folder / "out.gpkg")])):
            result.setdefault(name, []).append(_timed_process(command))
    stages = _spawn("stages", source)
    for name, runs in result.items():
        result[name] = {"seconds": float(np.median([r["seconds"] for r in runs])),
                        "cpu": float(np.median([r["cpu"] for r in runs])),
                        "max_rss_mb": max(r["max_rss_mb"] for r in runs),
                        "runs": [round(r["seconds"], 2) for r in runs]}
    result["stages"] = stages
    return result


def _report_processes(rows: int, result: dict) -> None:
    cli, script, gpkg = result["cli_csv"], result["script_csv"], result["cli_gpkg"]
    for label, r in (("geocode → CSV ", cli), ("script  → CSV ", script), ("geocode → GPKG", gpkg)):
        print(f"  {label}: median {r['seconds']:.2f} s (CPU {r['cpu']:.2f} s), peak RSS {r['max_rss_mb']:.0f} MB, "
              f"runs {r['runs']}")
    stages = {k: v for k, v in result["stages"].items() if k != "max_rss_mb"}
    print("  the command's steps, CPU s in one process: " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    ratio, ratio_cpu = script["seconds"] / cli["seconds"], script["cpu"] / cli["cpu"]
    print(f"  speed-up of the command over the script: {ratio:.2f}x wall, {ratio_cpu:.2f}x CPU (target ≥ 3x: "
          f"{'OK' if ratio >= 3 else 'MISSED'})")
    if rows >= 1_000_000:
        print(f"  targets at {rows:,} rows: CSV ≤ 3 s {'OK' if cli['seconds'] <= 3 else 'MISSED'}, "
              f"GPKG ≤ 5 s {'OK' if gpkg['seconds'] <= 5 else 'MISSED'}, ≤ 1024 MB "
              f"{'OK' if max(cli['max_rss_mb'], gpkg['max_rss_mb']) <= 1024 else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the in-process comparison (0: skip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--process-rows", type=int, nargs="*", default=[200_000, 1_000_000],
                        help="row counts of the whole-process comparison (none: skip)")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        for rows in args.process_rows:
            result = compare_processes(rows, Path(tmp), repeat=args.repeat)
            print(f"whole processes, {rows:,} rows (launch to exit, I/O included; load average "
                  f"{os.getloadavg()[0]:.1f}):")
            _report_processes(rows, result)
        if args.rows:
            in_process(args.rows, Path(tmp), repeat=args.repeat)
    return 0


def in_process(rows: int, folder: Path, *, repeat: int) -> None:
    """The core, in-process, against the same steps written with pandas + ``gpd.sjoin``."""
    path = folder / "input.csv"
    make_input(path, rows)  # also builds the national table's cache file if it is missing
    national = [_spawn("national", path) for _ in range(repeat)]
    print(f"in-process, input: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB CSV")
    tool = [_spawn("tool", path) for _ in range(repeat)]
    base = [_spawn("geopandas", path) for _ in range(max(1, repeat // 2))]
    t_tool = float(np.median([r["seconds"] for r in tool]))
    t_base = float(np.median([r["seconds"] for r in base]))
    rss = max(r["max_rss_mb"] for r in tool)
    print(f"  tool      : median {t_tool:.2f} s over {len(tool)} runs, peak RSS {rss:.0f} MB, "
          f"located {tool[0]['located']:,}, in a ward {tool[0]['in_ward']:,}")
    print(f"  geopandas : median {t_base:.2f} s over {len(base)} runs, peak RSS {base[0]['max_rss_mb']:.0f} MB, "
          f"in a ward {base[0]['in_ward']:,}")
    print(f"  speed-up  : {t_base / t_tool:.1f}x   targets: ≤ 5 s {'OK' if t_tool <= 5 else 'MISSED'}, "
          f"≤ 2048 MB {'OK' if rss <= 2048 else 'MISSED'}, ≥ 3x {'OK' if t_base / t_tool >= 3 else 'MISSED'}")
    t_load = float(np.median([r["seconds"] for r in national]))
    mb_load = max(r["added_mb"] for r in national)
    print(f"  national  : {national[0]['rows']:,} GB postcodes loaded in median {t_load:.2f} s, +{mb_load:.0f} MB "
          f"peak RSS   targets: ≤ 0.5 s {'OK' if t_load <= 0.5 else 'MISSED'}, "
          f"≤ 300 MB {'OK' if mb_load <= 300 else 'MISSED'}")


if __name__ == "__main__":
    sys.exit(main())
