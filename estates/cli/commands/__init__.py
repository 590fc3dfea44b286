"""Sub-commands of ``python -m estates``; importing a module registers its commands with :mod:`estates.cli`.

The CLI imports only the module of the command it runs (:func:`load`): a command's start-up does not pay for the
imports of every other one.
"""

from __future__ import annotations

import importlib

__all__ = ["MODULES", "load"]

#: The module (in this package) that registers each command.
MODULES: dict[str, str] = {
    "access": "access", "changes": "changes", "classify": "store", "export": "export", "facts": "facts",
    "geocode": "geocode", "history": "store", "ingest": "ingest", "match": "match", "pipeline": "pipeline",
    "place": "place",
}


def load(name: str | None = None) -> None:
    """Import the module of command ``name``, or of every command when ``name`` is not one (``--help``, a typo)."""
    for module in [MODULES[name]] if name in MODULES else dict.fromkeys(MODULES.values()):
        importlib.import_module(f"{__name__}.{module}")
