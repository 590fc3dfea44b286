"""``python -m estates COMMAND`` imports only what the command needs (start-up time is part of every command)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import estates.cli
from estates.cli.commands import MODULES, load
from estates.cli.commands._online import _ENV_PREFIX

ROOT = Path(__file__).resolve().parent.parent
COUNCIL = ROOT / "data" / "registers" / "trafford_community_hubs.csv"


def _offline_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(_ENV_PREFIX)}


def test_geocode_imports_neither_the_other_commands_nor_the_online_geocoder(tmp_path: Path):
    # Nor geopandas or GDAL, to write a CSV: the boundary layers come from their BNG cache files (geo.boundaries).
    script = textwrap.dedent(f"""
        import sys
        from estates.cli import main
        status = main(["geocode", {str(COUNCIL)!r}, "--out", {str(tmp_path / "out.csv")!r}])
        print(status, sorted(m for m in sys.modules if m.startswith(("estates.cli.commands.", "geo.online")))
              + sorted(m for m in ("geopandas", "pyogrio") if m in sys.modules))
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env=_offline_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    status, modules = result.stdout.strip().splitlines()[-1].split(" ", 1)
    assert status == "0"
    # its own module and the two helpers it shares with ingest (the online options, the output checks)
    assert modules == str([f"estates.cli.commands.{name}" for name in ("_online", "_outputs", "geocode")])
    assert (tmp_path / "out.csv").exists()


def test_online_settings_from_the_environment_are_still_read(tmp_path: Path):
    # No --online flag: an ESTATES_ONLINE_* variable alone must still reach the online settings (here: refused).
    result = subprocess.run([sys.executable, "-m", "estates", "geocode", str(COUNCIL), "--out",
                             str(tmp_path / "out.csv")], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**_offline_env(), f"{_ENV_PREFIX}ENABLED": "perhaps"})
    assert result.returncode == 2
    assert result.stderr.startswith("error: ")
    assert f"{_ENV_PREFIX}ENABLED" in result.stderr
    assert not (tmp_path / "out.csv").exists()


def test_the_command_table_names_the_module_of_every_registered_command():
    load()  # every module
    registered = {name: configure.__module__ for name, (_, configure) in estates.cli._COMMANDS.items()}
    assert registered == {name: f"estates.cli.commands.{module}" for name, module in MODULES.items()}


def test_help_lists_every_command():
    result = subprocess.run([sys.executable, "-m", "estates", "--help"], cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0
    assert all(f"    {name} " in result.stdout for name in MODULES)


def test_the_environment_prefix_is_the_online_geocoders():
    from geo.online import ENV_PREFIX

    assert _ENV_PREFIX == ENV_PREFIX


def test_commands_use_the_system_allocator_for_arrow_unless_told_otherwise(tmp_path: Path):
    script = textwrap.dedent(f"""
        import pyarrow
        from estates.cli import main
        status = main(["geocode", {str(COUNCIL)!r}, "--out", {str(tmp_path / "out.csv")!r}, "--force"])
        print(status, pyarrow.default_memory_pool().backend_name)
    """)
    assert _last_line(script, "ARROW_DEFAULT_MEMORY_POOL", None) == "0 system"
    assert _last_line(script, "ARROW_DEFAULT_MEMORY_POOL", "mimalloc") == "0 mimalloc"


def test_python_m_estates_starts_numpy_without_blas_worker_threads_unless_told(tmp_path: Path):
    script = textwrap.dedent(f"""
        import os, runpy, sys
        sys.argv = ["estates", "geocode", {str(COUNCIL)!r}, "--out", {str(tmp_path / "out.csv")!r}, "--force"]
        try:
            runpy.run_module("estates", run_name="__main__")
        except SystemExit as exit:
            print(exit.code, os.environ.get("OPENBLAS_NUM_THREADS"))
    """)
    assert _last_line(script, "OPENBLAS_NUM_THREADS", None) == "0 1"
    assert _last_line(script, "OPENBLAS_NUM_THREADS", "2") == "0 2"


def test_python_m_estates_leaves_its_objects_to_the_os_at_exit_with_output_and_status_as_before(tmp_path: Path):
    out = tmp_path / "out.csv"
    script = textwrap.dedent(f"""
        import gc, runpy, sys
        runs = (["geocode", {str(COUNCIL)!r}, "--out", {str(out)!r}], ["geocode", "no-such.csv", "--out", "x.csv"])
        for argv in runs:
            sys.argv = ["estates", *argv]
            try:
                runpy.run_module("estates", run_name="__main__")
            except SystemExit as exit:
                print("status", exit.code, "frozen", gc.get_freeze_count() > 0)
            gc.unfreeze()
    """)
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                            env=_offline_env(), timeout=120)
    assert result.returncode == 0, result.stderr
    statuses = [line for line in result.stdout.splitlines() if line.startswith("status")]
    assert statuses == ["status 0 frozen True", "status 2 frozen True"]
    assert "wrote " in result.stdout
    assert len(out.read_text().splitlines()) == len(COUNCIL.read_text().splitlines())
    assert result.stderr.strip() == "error: no-such.csv: no such file"


def _last_line(script: str, variable: str, value: str | None) -> str:
    """The last line a Python ``script`` prints, run offline with ``variable`` set to ``value`` (None: unset)."""
    env = {k: v for k, v in _offline_env().items() if k != variable} | ({variable: value} if value else {})
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, env=env,
                            timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip().splitlines()[-1]
