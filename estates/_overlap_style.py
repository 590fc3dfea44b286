"""Colours, labels and number formats shared by the interactive and the static overlap maps (private)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from estates.maps import escape_text
from estates.schema import STATUSES

#: Paul Tol's "bright" colours (distinguishable with the common colour-vision deficiencies), in PCN-name order.
PCN_PALETTE: tuple[str, ...] = ("#CCBB44", "#AA3377", "#228833", "#EE6677", "#4477AA", "#66CCEE", "#BBBBBB")


#: Neighbourhood boundary line.
NEIGHBOURHOOD_LINE = "#1A1A1A"

#: GP practice marker.
PRACTICE_COLOUR = "#FFFFFF"


def pcn_colours(names: Iterable[str]) -> dict[str, str]:
    """A colour per PCN name, stable for a given set of names (sorted, then the palette in order)."""
    ordered = sorted({str(n) for n in names})
    return {name: PCN_PALETTE[i % len(PCN_PALETTE)] for i, name in enumerate(ordered)}


def fmt_number(value: object, *, decimals: int = 0) -> str:
    """``12,345`` style, or an en dash for a missing value."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    if math.isnan(number):
        return "–"
    return f"{number:,.{decimals}f}"


def fmt_share(value: object) -> str:
    """A 0–1 share as a percentage with one decimal (``"97.1%"``)."""
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(number) else f"{number:.1%}"


def piece_title(piece: Mapping[str, object]) -> str:
    """``"North × North Trafford PCN"`` (plain text)."""
    return f"{piece['neighbourhood']} × {piece['pcn_name']}"


def piece_lines(piece: Mapping[str, object]) -> list[tuple[str, str]]:
    """The piece's figures as (label, value) lines in plain text, for tooltips and tables.

    Expects the columns of :func:`geo.overlap.overlap_pieces`, plus those of
    :func:`estates.overlap.pieces_with_estate` when present.
    """
    hood, pcn = str(piece["neighbourhood"]), str(piece["pcn_name"])
    lines = [
        ("Area", f"{fmt_number(piece['area_ha'], decimals=1)} ha"),
        (f"share of {hood}", fmt_share(piece["share_of_neighbourhood_area"])),
        (f"share of {pcn}", fmt_share(piece["share_of_pcn_area"])),
        ("Residents (mid-2024)", fmt_number(piece["population"])),
        (f"share of {hood}'s residents", fmt_share(piece["share_of_neighbourhood_population"])),
        (f"share of {pcn}'s residents", fmt_share(piece["share_of_pcn_population"])),
    ]
    if "buildings" in piece:
        by_status = ", ".join(f"{status} {fmt_number(piece['buildings_' + status.replace(' ', '_')])}"
                              for status in STATUSES)
        lines.append(("Buildings", f"{fmt_number(piece['buildings'])} ({by_status})"))
        floor = f"{fmt_number(piece['gia_m2'])} m²"
        lacking = int(piece.get("buildings_without_gia_m2", 0) or 0)
        if lacking:
            floor += f" ({fmt_number(lacking)} without a floor area)"
        lines.append(("Floor area (GIA)", floor))
    return lines


def piece_html(piece: Mapping[str, object]) -> str:
    """The piece's title and figures as a small HTML table; every text is escaped."""
    rows = "".join(f"<tr><th style='text-align:left;padding-right:8px;font-weight:normal;color:#555'>"
                   f"{escape_text(label)}</th><td>{escape_text(value)}</td></tr>"
                   for label, value in piece_lines(piece))
    return f"<b>{escape_text(piece_title(piece))}</b><table>{rows}</table>"
