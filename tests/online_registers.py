"""Registers for tests of online geocoding through ingest and the app: the council asset register without coordinates.

With its GeoX/GeoY blanked, the council register is located by postcode alone: about 240 of its 608 rows have only a
district postcode such as "M41" (or none), so they need online help; the Nominatim fixture
(``tests/fixtures/online/nominatim_trafford.json``) knows some of their addresses.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from estates.ingest.partners import RegisterSpec, load_registers_config

__all__ = ["COUNCIL_REGISTER", "KNOWN_TO_NOMINATIM", "OUTSIDE_TRAFFORD", "council_spec",
           "write_council_register_without_coordinates"]

ROOT = Path(__file__).resolve().parent.parent
#: The council's land & building assets register as published (data/registers/).
COUNCIL_REGISTER = ROOT / "data" / "registers" / "trafford_land_and_building_assets.csv"
#: Rows of the coordinate-free council register (partial postcodes) the Nominatim fixture places at building level.
KNOWN_TO_NOMINATIM = ("Former Sale Magistrates Courts", "Hale Library Site", "Former Royal Mail Sorting Office",
                      "Hale Shopping Centre (ground lease)")
#: Real council assets outside Trafford (Warrington, Wigan): Nominatim finds them, too far away to be used.
OUTSIDE_TRAFFORD = ("Sonova House", "The Fort")


def council_spec() -> RegisterSpec:
    """The council's entry of the demo partner list (``data/registers/registers.yaml``): partner, type, mapping."""
    return next(spec for spec in load_registers_config().registers if spec.file.name == COUNCIL_REGISTER.name)


def write_council_register_without_coordinates(folder: Path) -> Path:
    """Write the council register with GeoX/GeoY blanked to ``folder`` (same file name); return its path.

    Every other cell is kept byte for byte as text, so names, streets and towns reach the online address search
    exactly as in the published file.
    """
    register = pd.read_csv(COUNCIL_REGISTER, dtype=str, keep_default_na=False)
    register[["GeoX", "GeoY"]] = ""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / COUNCIL_REGISTER.name
    register.to_csv(path, index=False)
    return path
