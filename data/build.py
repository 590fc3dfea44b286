"""Rebuild the committed reference data (Trafford's place folder and the local-authority names) from the raw data.

Run from the project root::

    python data/build.py --raw ../shared/data/raw

It runs the same builder as ``python -m estates place build`` (``geo.builder``) with Trafford's recipe
(``data/trafford/recipe.toml``: its local authority code and its richer source files), and writes
``data/local_authorities.csv``. Every output is committed, so a fresh clone works offline without ``../shared``.
Provenance, vintages and licences are in ``data/README.md``; the PCN footprint method is in
``docs/pcn_footprints.md``. The build is deterministic: running it twice gives byte-identical files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from geo.builder import build_local_authority_names, build_place, sources_from_recipe  # noqa: E402
from geo.place import PlaceError  # noqa: E402

DATA = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, default=Path("../shared/data/raw"), help="folder of raw open data")
    parser.add_argument("--recipe", type=Path, default=DATA / "trafford" / "recipe.toml",
                        help="the place's recipe (default: data/trafford/recipe.toml)")
    parser.add_argument("--out", type=Path, default=None, help="output folder (default: the recipe's folder)")
    parser.add_argument("--names", type=Path, default=DATA / "local_authorities.csv",
                        help="where to write the local-authority names (default: data/local_authorities.csv)")
    args = parser.parse_args(argv)
    raw: Path = args.raw
    if not (raw / "SOURCES.md").exists():
        print(f"error: {raw} is not the raw data folder (no SOURCES.md there)", file=sys.stderr)
        return 2
    try:
        sources, recipe = sources_from_recipe(args.recipe)
        info = recipe.get("place", {})
        out = args.out or args.recipe.parent
        template = info.get("place_toml")
        report = build_place(raw, out, la_code=info["la_code"], sources=sources, name=info.get("name"),
                             slug=info.get("slug"), place_toml=args.recipe.parent / template if template else None)
        names = build_local_authority_names(raw, args.names)
    except (PlaceError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(report)
    print(f"  local-authority names: {names:,} in {args.names}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
