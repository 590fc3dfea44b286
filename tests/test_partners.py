"""The partner list (registers.yaml) and the demo registers it names."""

from __future__ import annotations

import filecmp
import sys
from pathlib import Path

import pytest

from estates.ingest.partners import DEFAULT_CONFIG, ConfigError, load_registers_config, partner_slug
from estates.schema import PARTNER_TYPES
from tests.conftest import ROOT


def test_demo_partner_list_loads_and_names_existing_files():
    config = load_registers_config()
    assert config.path == DEFAULT_CONFIG
    assert config.place == "trafford"
    assert len(config.registers) >= 15
    for spec in config.registers:
        assert spec.file.exists(), spec.file
        assert spec.partner_type in PARTNER_TYPES
    types = {spec.partner_type for spec in config.registers}
    assert {"council", "school", "gp", "pcn", "nhs_trust", "library", "leisure", "community", "fire", "dwp",
            "probation"} <= types
    assert all(spec.historic for spec in config.registers if spec.partner_type == "nhs_trust")
    assert config.register("trafford_council").columns["source_id"] == "AssetCode"
    assert {entry.partner_type for entry in config.no_register} == {"police", "housing_association",
                                                                    "central_government", "development_land"}
    assert config.decisions is not None
    assert config.decisions.name == "match_decisions.csv"


def test_partner_slug():
    assert partner_slug("Trafford Council") == "trafford-council"
    assert partner_slug("Pennine Care NHS FT") == "pennine-care-nhs-ft"
    with pytest.raises(ConfigError):
        partner_slug("***")


@pytest.mark.parametrize(("text", "message"), [
    ("registers: 3", "expected a 'registers:' list"),
    ("registers:\n  - key: a\n    partner: A\n    partner_type: spaceship\n    file: x.csv\n", "not one of"),
    ("registers:\n  - key: a\n    partner: A\n    partner_type: council\n", "'file' is missing"),
    ("registers:\n  - key: a\n    partner: A\n    partner_type: council\n    file: x.csv\n    colour: red\n",
     "unknown setting"),
    ("registers:\n  - key: a\n    partner: A\n    partner_type: council\n    file: x.csv\n    columns: {pc: X}\n",
     "'pc' is not a field"),
    ("registers:\n  - {key: a, partner: A, partner_type: council, file: x.csv}\n"
     "  - {key: b, partner: A, partner_type: council, file: y.csv}\n", "share the partner"),
    ("registers: [\n", "not valid YAML"),
])
def test_malformed_partner_lists_are_one_clear_message(tmp_path, text, message):
    path = tmp_path / "registers.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_registers_config(path)


def test_missing_partner_list():
    with pytest.raises(ConfigError, match="not found"):
        load_registers_config(Path("nowhere.yaml"))


RAW = ROOT.parent / "shared" / "data" / "raw"


@pytest.mark.skipif(not RAW.is_dir(), reason="needs ../shared/data/raw")
def test_build_registers_reproduces_the_committed_files(tmp_path):
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_registers", ROOT / "data" / "build_registers.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    built = module.build(RAW, tmp_path)
    for name, _ in built:
        assert filecmp.cmp(tmp_path / name, ROOT / "data" / "registers" / name, shallow=False), name
