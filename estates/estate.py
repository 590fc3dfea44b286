"""The current estate: every partner's buildings, located, tagged and classified, as one table.

Pages, exports and notebooks all read the estate through :func:`current_estate`, so they agree. The table comes
from the registers in the partner list (:func:`estates.ingest.run_pipeline`: ingest → geocode → tag → check →
match sites) and the classification rules (:func:`estates.classification.classify`); both are cached per process.
When a store exists (``ESTATES_DATABASE_URL``, or the embedded file :data:`DEFAULT_STORE_PATH`) and holds buildings,
the store is the source — data flows register → … → store → pages/exports — so people's overrides and
repositions show everywhere (:func:`estates.app_data.load_estate`).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

import pandas as pd

from geo.place import Place, load_place

__all__ = ["DEFAULT_STORE_PATH", "ESTATE_STATUS_COLUMNS", "current_estate"]

#: The embedded store the app uses when ``ESTATES_DATABASE_URL`` is not set (``var/`` is git-ignored).
DEFAULT_STORE_PATH: Path = Path(__file__).resolve().parent.parent / "var" / "estates.gpkg"

#: Columns :func:`current_estate` adds to the pipeline's records.
ESTATE_STATUS_COLUMNS: tuple[str, ...] = ("rule_status", "rule_id", "rule_explanation", "status", "status_source")


@lru_cache(maxsize=4)
def _classified(place: Place) -> pd.DataFrame:
    from estates.classification import DEFAULT_RULES, classify, load_rules
    from estates.ingest import run_pipeline

    records = run_pipeline(progress=False, place=place).records
    classified = classify(records, load_rules(DEFAULT_RULES))
    frame = records.copy()
    frame["rule_status"] = classified["rule_status"].astype("str")
    frame["rule_id"] = classified["rule_id"].astype("str")
    frame["rule_explanation"] = classified["explanation"].astype("str")
    return frame


def _store_target(store: str | os.PathLike[str] | None) -> str | None:
    from estates.store import ENV_URL

    if store is not None:
        return os.fspath(store)
    if os.environ.get(ENV_URL):
        return os.environ[ENV_URL]
    return os.fspath(DEFAULT_STORE_PATH) if DEFAULT_STORE_PATH.exists() else None


def _from_store(target: str) -> pd.DataFrame | None:
    """The store's estate, or None when the store holds no building yet."""
    from estates.app_data import load_estate
    from estates.store import NoStoreError, open_store

    try:
        opened = open_store(target, read_only=True)  # reading never creates, migrates or writes a store
    except NoStoreError:
        return None
    with opened:
        frame = load_estate(opened)  # one read: an empty store answers an empty frame
    return None if frame.empty else frame


def current_estate(
    place: Place | None = None,
    *,
    use_store: bool = True,
    store: str | os.PathLike[str] | None = None,
    refresh: bool = False,
) -> pd.DataFrame:
    """Every building of the estate with its location tags and its status.

    Parameters
    ----------
    place
        The place (default: the current place).
    use_store
        Read the store when there is one (default). ``False`` gives the registers with the rules' suggestions only,
        which is what tests on the demo estate want.
    store
        Path or URL of the store (default: ``ESTATES_DATABASE_URL``, else :data:`DEFAULT_STORE_PATH` if that file
        exists). A store is only read, never created.
    refresh
        Run the registers and rules again instead of using this process's cached result.

    Returns
    -------
    pandas.DataFrame
        One row per register record (rows that could not be located included, with ``lon``/``lat`` missing and
        ``outcome`` ``rejected``): the canonical fields, geocode and tag columns (``docs/architecture.md``),
        ``outcome``/``issues``, ``site_id``, then ``rule_status``, ``rule_id``, ``status`` (the status that counts:
        ``key``, ``core``, ``surplus`` or ``needs data``) and ``status_source`` (``rule``, or ``override`` when a
        person set it in the store). From the registers the table also has ``rule_explanation``; from the store it
        has the store's columns (``version``, ``override_*``, ``position_source`` …, see
        :func:`estates.app_data.load_estate`).
    """
    place = place if place is not None else load_place()
    target = _store_target(store) if use_store else None
    if target is not None:
        stored = _from_store(target)
        if stored is not None:
            return stored
    if refresh:
        _classified.cache_clear()
    frame = _classified(place).copy()
    frame["status"] = frame["rule_status"]
    frame["status_source"] = pd.Series("rule", index=frame.index, dtype="str")
    return frame
