"""The pages' bar charts, built one way: every bar labelled with its full name, wrapped, and whole legends.

``st.bar_chart`` lets Vega-Lite thin out category labels that would overlap (the "Estate by partner" chart showed 9
labels for 17 bars) and cuts long ones ("Altrincham Healt…"). :func:`bar_chart` builds the Altair chart instead: one
row of the given height per bar (so no label ever has to be dropped), names wrapped onto lines of
:data:`WRAP_CHARACTERS` at spaces (never cut), the value written at the end of each bar, and a legend whose labels and
title are never shortened. :func:`show_bar_chart` draws it. The pages pass tidy frames; this module knows nothing of
estates.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

__all__ = ["WRAP_CHARACTERS", "bar_chart", "show_bar_chart", "wrap_label"]

#: Longest line of a bar's label (characters) before it wraps at a space.
WRAP_CHARACTERS = 28

_LINE = "\n"
_LINE_PX = 14  # one line of a 12 px label
_BAR_GAP_PX = 12
_LABEL = "label"  # the field holding each bar's wrapped name (lines joined by _LINE)


def wrap_label(text: object, *, width: int = WRAP_CHARACTERS) -> str:
    """A bar's name on lines of at most ``width`` characters, broken at spaces only (a longer word keeps its line).

    Parameters
    ----------
    text
        The name (anything; shown as text, missing as "(none)").
    width
        Longest line, in characters.

    Returns
    -------
    str
        The lines joined by a newline; joined back with spaces they are the name itself.
    """
    name = "(none)" if text is None or (isinstance(text, float) and pd.isna(text)) else str(text)
    lines = textwrap.wrap(name, width=width, break_long_words=False, break_on_hyphens=False)
    return _LINE.join(lines) if lines else name


def bar_chart(frame: pd.DataFrame, *, category: str, values: Sequence[str] | str, title: str,
              colours: Mapping[str, str] | str, legend_title: str | None = None, percent: bool = False,
              width: int | None = None) -> alt.LayerChart:
    """Horizontal bars, one per row of ``frame`` in its order: stacked when there are several value columns.

    Parameters
    ----------
    frame
        One row per bar.
    category
        The column naming each bar (shown whole, wrapped).
    values
        The value column, or several to stack (each a series, in this order, named by its column).
    title
        The value axis title (what the bars measure, with its unit).
    colours
        One colour, or the colour of each value column.
    legend_title
        Title of the legend of stacked series (default: none shown for one series).
    percent
        Values are shares (0–1), shown as percentages.
    width
        Chart width in pixels (default: the width Streamlit gives it).

    Returns
    -------
    altair.LayerChart
        The bars and the total written at the end of each; ``height`` fits every bar's label.
    """
    series = [values] if isinstance(values, str) else list(values)
    if not series:
        raise ValueError("bar_chart needs at least one value column")
    labels = [wrap_label(v) for v in frame[category]]
    if len(set(labels)) != len(labels):
        raise ValueError(f"bar_chart needs one row per {category}: names repeat")
    names = [" ".join(label.split(_LINE)) for label in labels]
    numbers = frame[series].apply(pd.to_numeric, errors="coerce").fillna(0.0)
    long = pd.DataFrame({
        _LABEL: [label for label in labels for _ in series],
        "name": [name for name in names for _ in series],
        "series": series * len(labels),
        "value": numbers.to_numpy(dtype=float).ravel(),
        "order": list(range(len(series))) * len(labels),
    })
    totals = pd.DataFrame({_LABEL: labels, "name": names, "total": numbers.sum(axis=1).to_numpy(dtype=float)})
    lines = max((label.count(_LINE) + 1 for label in labels), default=1)
    step = lines * _LINE_PX + _BAR_GAP_PX
    value_format = ".0%" if percent else ",.0f"
    y = alt.Y(f"{_LABEL}:N", sort=labels, title=None, axis=alt.Axis(
        labelLimit=0, labelOverlap=False, labelFontSize=12, labelLineHeight=_LINE_PX, labelPadding=6,
        labelExpr=f"split(datum.label, '{_LINE.encode('unicode_escape').decode()}')", ticks=False, domain=False))
    x_axis = alt.Axis(format=value_format, title=title, titleFontSize=12, labelFontSize=11, grid=True,
                      labelOverlap=True)
    if isinstance(colours, str):
        colour = alt.value(colours)
    else:
        legend = alt.Legend(title=legend_title, orient="bottom", direction="horizontal", labelLimit=0,
                            titleLimit=0, labelFontSize=12, symbolType="square") if len(series) > 1 else None
        colour = alt.Color("series:N", sort=series, legend=legend, title=legend_title,
                           scale=alt.Scale(domain=series, range=[colours[s] for s in series]))
    tooltip = [alt.Tooltip("name:N", title="Name"), alt.Tooltip("series:N", title=legend_title or "Measure"),
               alt.Tooltip("value:Q", title="Value", format=value_format)]
    top = float(totals["total"].max()) if len(totals) else 0.0
    # Room after the longest bar for its value; nice=True then rounds the end up to a tick.
    scale = alt.Scale(domain=[0, top * 1.12 if top > 0 else 1], nice=True)
    bars = alt.Chart(long).mark_bar(height={"band": 0.8}).encode(
        y=y, x=alt.X("sum(value):Q", stack="zero", axis=x_axis, scale=scale),
        color=colour, order=alt.Order("order:Q"), tooltip=tooltip)
    ends = alt.Chart(totals).mark_text(align="left", baseline="middle", dx=4, fontSize=11, color="#31333F").encode(
        y=alt.Y(f"{_LABEL}:N", sort=labels), x=alt.X("total:Q"), text=alt.Text("total:Q", format=value_format))
    chart = alt.layer(bars, ends).properties(height=alt.Step(step))
    if width is not None:
        chart = chart.properties(width=width)
    return chart.configure_view(strokeWidth=0).configure_scale(bandPaddingInner=0.2)


def show_bar_chart(chart: alt.LayerChart, *, key: str | None = None) -> None:
    """Draw :func:`bar_chart`'s chart across its column (the page's Streamlit theme, its own height)."""
    import streamlit as st

    st.altair_chart(chart, width="stretch", key=key)
