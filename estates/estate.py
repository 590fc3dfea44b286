"""The current estate for notebooks, exports and the CLI: the store's sites and records, read through the service.

When a store exists (``ESTATES_DATABASE_URL``, or the embedded file :data:`estates.service.DEFAULT_STORE_PATH`)
and holds records, it is the only source: nothing runs the registers again, and people's overrides, match decisions
and repositions show everywhere. Only without a store (a fresh clone, or ``use_store=False`` on purpose) are the
registers read and classified in memory (cached per process), with the same site logic and no people's decisions.
"""

from __future__ import annotations

import os
from functools import lru_cache

import pandas as pd

from estates.service import Estate, estate_from_records, read_estate, store_target
from geo.place import Place, load_place

__all__ = ["current_estate", "current_sites"]


@lru_cache(maxsize=4)
def _from_registers(place: Place) -> Estate:
    from estates.classification import DEFAULT_RULES, classify, load_rules
    from estates.ingest import run_pipeline

    pipeline = run_pipeline(progress=False, place=place)
    records = pipeline.records[pipeline.records["outcome"].astype("str") != "rejected"].reset_index(drop=True)
    classified = classify(records, load_rules(DEFAULT_RULES))
    records = records.assign(rule_status=classified["rule_status"].astype("str").to_numpy(),
                             rule_id=classified["rule_id"].astype("str").to_numpy(),
                             rule_explanation=classified["explanation"].astype("str").to_numpy())
    return estate_from_records(records, pipeline.sites, place.outside_column)


def current_sites(
    place: Place | None = None,
    *,
    use_store: bool = True,
    store: str | os.PathLike[str] | None = None,
    refresh: bool = False,
) -> Estate:
    """The estate — sites and their records — from the store when there is one, else from the registers.

    Parameters
    ----------
    place
        The place (default: the current place).
    use_store
        Read the store when there is one (default). ``False`` reads the registers and applies the rules only
        (no people's decisions), which is what tests on the demo estate want.
    store
        Path or URL of the store (default: ``ESTATES_DATABASE_URL``, else the embedded file if it exists). A store
        is only read, never created.
    refresh
        Read the registers again instead of this process's cached result (without a store).

    Returns
    -------
    estates.service.Estate
    """
    place = place if place is not None else load_place()
    if use_store:
        from estates.store import NoStoreError, open_store

        target = os.fspath(store) if store is not None else store_target()
        try:
            opened = open_store(target, read_only=True)  # reading never creates, migrates or writes a store
        except NoStoreError:
            opened = None
        if opened is not None:
            with opened:
                estate = read_estate(opened, place=place)
            if len(estate.records):
                return estate
    if refresh:
        _from_registers.cache_clear()
    return _from_registers(place)


def current_estate(
    place: Place | None = None,
    *,
    use_store: bool = True,
    store: str | os.PathLike[str] | None = None,
    refresh: bool = False,
) -> pd.DataFrame:
    """Every register record of the estate, with its site, location tags and its site's status.

    Parameters are those of :func:`current_sites`.

    Returns
    -------
    pandas.DataFrame
        One row per accepted register record (rejected rows are never records): the canonical fields, geocode and
        tag columns (``docs/architecture.md``), ``outcome``/``issues``, ``site_id``, ``rule_status``/``rule_id``
        (the record's own suggestion), ``status`` (its site's status: ``key``, ``core``, ``surplus`` or
        ``needs data``) and ``status_source`` (``rule``, or ``override`` when a person set it).
    """
    return current_sites(place, use_store=use_store, store=store, refresh=refresh).records.copy()
