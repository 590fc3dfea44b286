"""The pages' tables, shown one way: headings in people's words, numbers formatted, internal ids last.

:func:`show_table` is ``st.dataframe`` with a ``column_config`` built from :func:`estates.app_data.table_columns`
(the one mapping of column → heading and number format); a page's own ``column_config`` entries still win.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import streamlit as st

from estates.app_data import table_columns

__all__ = ["show_table", "table_config"]


def table_config(frame: pd.DataFrame) -> dict[str, Any]:
    """Streamlit column settings for every column of ``frame``: its heading and, for numbers, its format."""
    config: dict[str, Any] = {}
    for column in table_columns(frame):
        if column.number_format is not None:
            config[column.name] = st.column_config.NumberColumn(column.label, format=column.number_format)
        else:
            config[column.name] = st.column_config.Column(column.label)
    return config


def show_table(frame: pd.DataFrame, *, column_config: Mapping[str, Any] | None = None, hide_index: bool = True,
               width: str = "stretch", **options: Any) -> None:
    """``st.dataframe`` of ``frame`` with readable headings and formatted numbers, identifier columns last.

    Parameters
    ----------
    frame
        The table (its index is not shown unless ``hide_index=False``).
    column_config
        The page's own settings for some columns; they replace the defaults for those columns.
    hide_index, width
        As ``st.dataframe``.
    **options
        Anything else ``st.dataframe`` takes (``height``, ``placeholder``, ``key`` …).
    """
    order = [c.name for c in table_columns(frame)]
    config = table_config(frame)
    config.update(column_config or {})
    st.dataframe(frame[order], hide_index=hide_index, width=width, column_config=config,
                 column_order=order, **options)

