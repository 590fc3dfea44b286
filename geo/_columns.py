"""Text columns built from per-row codes into a small vocabulary: the geocoder's and the tagger's output columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from numpy.typing import NDArray

__all__ = ["text_column"]


def text_column(codes: NDArray[np.integer], vocabulary: list[str | None], index: pd.Index,
                *, categorical: bool = False) -> pd.Series:
    """A text column: row ``i`` holds ``vocabulary[codes[i]]``.

    Parameters
    ----------
    codes
        One code per row.
    vocabulary
        The values (repeats allowed).
    index
        The rows' index.
    categorical
        A pandas categorical of the distinct values — no string per row, for callers that only write the rows out;
        here a code of -1 or a None entry is a missing value. Otherwise a ``str`` column, built in Arrow (10x faster
        than object arrays; every code must then point at a string).
    """
    if categorical:
        names = pd.Index([v for v in dict.fromkeys(vocabulary) if v is not None], dtype=object)
        recode = np.append(names.get_indexer(pd.Index(vocabulary, dtype=object)), -1).astype(np.int32)
        return pd.Series(pd.Categorical.from_codes(recode[codes], categories=names), index=index)
    # large_string: the Arrow type of pandas' str columns, so pandas takes the array as it is (no cast, no copy)
    array = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(vocabulary, pa.large_string()))
    return pd.Series(array.dictionary_decode(), dtype=pd.StringDtype("pyarrow", na_value=np.nan), index=index)
