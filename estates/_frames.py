"""Private helpers for column-wise work on large register tables."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

__all__ = ["is_missing", "map_unique"]


def map_unique(values: pd.Series, func: Callable[[pd.Series], pd.Series], *, dtype: object = object) -> pd.Series:
    """Apply a vectorised ``func`` to the distinct non-missing values of ``values`` only, then spread the result.

    Registers repeat values (towns, tenures, postcodes), so a 200,000-row column often has a few thousand
    distinct values: text clean-up and checks then cost what those cost. Missing stays missing (``None``/NaN).

    Parameters
    ----------
    values
        Any column.
    func
        Maps a Series of distinct values to a Series of the same length (its index is ignored).
    dtype
        dtype of the result.
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)
    mapped = func(pd.Series(np.asarray(uniques, dtype=object), dtype=object))
    mapped = np.asarray(mapped, dtype=object)
    missing = None if dtype is object else np.nan
    out = np.empty(len(codes), dtype=object)
    present = codes >= 0
    out[present] = mapped[codes[present]]
    out[~present] = missing
    return pd.Series(out, index=values.index, dtype=dtype)


def is_missing(value: object) -> bool:
    """True for a missing scalar: None, NaN, ``pd.NA`` and ``NaT`` (lists, dicts and text are values, even empty)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, float | np.floating) and bool(np.isnan(value))

