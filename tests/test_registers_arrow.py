"""The fast CSV path of the registers' reader (pyarrow) reads what the careful path (``csv`` module) reads.

Every delimited file the project ships is read both ways and must give the same frame, row numbers and notes; plain
files must take the fast path, and files it cannot be sure of (title rows, ragged rows, runaway quotes, mixed
encodings, cells across lines) must fall back to the careful path.
"""

from __future__ import annotations

import csv
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from estates.ingest import registers
from estates.ingest.registers import RegisterError, read_register
from tests.conftest import ROOT

REGISTERS = ROOT / "data" / "registers"
FIXTURES = ROOT / "tests" / "fixtures"
HOSTILE = FIXTURES / "hostile"
DELIMITED = sorted(p for folder in (REGISTERS, FIXTURES, HOSTILE) for p in folder.iterdir()
                   if p.suffix in (".csv", ".txt", ".tsv"))


def _careful(path: Path, monkeypatch: pytest.MonkeyPatch) -> registers.RawRegister | str:
    with monkeypatch.context() as patch:
        patch.setattr(registers, "_read_csv_arrow", lambda *args, **kwargs: False)
        return _read(path)


def _read(path: Path) -> registers.RawRegister | str:
    try:
        return read_register(path)
    except RegisterError as exc:
        return f"RegisterError: {exc}"


def _fast_path_taken(path: Path, monkeypatch: pytest.MonkeyPatch) -> bool | None:
    """What the fast path answered for ``path`` (``None``: not asked, e.g. mixed encodings or not a table)."""
    answers = []
    original = registers._read_csv_arrow

    def spy(*args: object, **kwargs: object) -> bool:
        answers.append(original(*args, **kwargs))
        return answers[-1]

    with monkeypatch.context() as patch:
        patch.setattr(registers, "_read_csv_arrow", spy)
        _read(path)
    return answers[0] if answers else None


def _assert_same(fast: registers.RawRegister | str, careful: registers.RawRegister | str) -> None:
    if isinstance(careful, str) or isinstance(fast, str):
        assert fast == careful
        return
    pd.testing.assert_frame_equal(fast.frame, careful.frame)
    np.testing.assert_array_equal(fast.source_rows, careful.source_rows)
    assert (fast.notes, fast.row_notes, fast.header_row, fast.encoding, fast.delimiter) == (
        careful.notes, careful.row_notes, careful.header_row, careful.encoding, careful.delimiter)


@pytest.mark.parametrize("path", DELIMITED, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shipped_delimited_file_reads_the_same_both_ways(path: Path, monkeypatch: pytest.MonkeyPatch):
    _assert_same(_read(path), _careful(path, monkeypatch))


@pytest.mark.parametrize("path", [
    REGISTERS / "trafford_land_and_building_assets.csv", REGISTERS / "nhs_ods_2018_pennine_care.csv",
    HOSTILE / "utf8_bom_schools.csv", HOSTILE / "cp1252_leisure.csv", HOSTILE / "semicolon_council.csv",
    HOSTILE / "pipe_schools.txt", HOSTILE / "utf16_tab_gps.txt", HOSTILE / "blank_rows.csv",
], ids=lambda p: p.name)
def test_plain_files_take_the_fast_path(path: Path, monkeypatch: pytest.MonkeyPatch):
    assert _fast_path_taken(path, monkeypatch) is True


@pytest.mark.parametrize(("name", "note"), [
    ("title_rows.csv", "header found on row 4 under 3 title row(s)"),
    ("header_row_40.csv", "header found on row 40 under 39 title row(s)"),
    ("unbalanced_quote.csv", "unbalanced quote marks: read line by line, so a value may run on; check ragged rows"),
    ("unbalanced_quote_semicolon.csv", "values separated by semicolons"),
    ("ragged_rows.csv", None),
    ("headers_only.csv", "the file has a header but no data rows"),
])
def test_files_the_fast_path_cannot_be_sure_of_fall_back_with_their_notes(name: str, note: str | None,
                                                                          monkeypatch: pytest.MonkeyPatch):
    assert _fast_path_taken(HOSTILE / name, monkeypatch) is False
    raw = read_register(HOSTILE / name)
    assert note is None or note in raw.notes
    if name == "ragged_rows.csv":
        assert [code for _, code, _ in raw.row_notes] == ["ragged_row", "ragged_row"]


def test_mixed_encodings_never_reach_the_fast_path(monkeypatch: pytest.MonkeyPatch):
    assert _fast_path_taken(HOSTILE / "mixed_mostly_cp1252.csv", monkeypatch) is None


def _council_rows(count: int) -> list[list[str]]:
    with (REGISTERS / "trafford_land_and_building_assets.csv").open(encoding="utf-8", newline="") as handle:
        return list(itertools.islice(csv.reader(handle), count))


def _line(cells: list[str]) -> str:
    return ",".join(f'"{c}"' if "," in c else c for c in cells)


def test_untidy_cells_are_trimmed_exactly_as_the_careful_path_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # Real council rows with the damage registers carry: padded and tab-led cells, no-break and other Unicode
    # spaces, a stray BOM inside a cell, NA/NULL as text, quoted delimiters, blank lines inside and at the end, CRLF.
    rows = _council_rows(40)
    damaged = [_line(rows[0])]
    for i, cells in enumerate(rows[1:]):
        cells[5] = [f"  {cells[5]} ", f"\t{cells[5]}", f"{cells[5]}\u00a0", f"\u2003{cells[5]}\u3000",
                    f"\ufeff{cells[5]}", f"{cells[5]}, Trafford", "NA", "NULL", "   "][i % 9]
        cells[9] = cells[9].replace(" ", "\u00a0") if i % 4 == 0 else cells[9]
        damaged.append(_line(cells))
        if i % 13 == 5:
            damaged.append("")
    path = tmp_path / "untidy.csv"
    path.write_bytes(("\r\n".join(damaged) + "\r\n\r\n" + "," * (len(rows[0]) - 1) + "\r\n").encode("utf-8"))
    assert _fast_path_taken(path, monkeypatch) is True
    fast = _read(path)
    _assert_same(fast, _careful(path, monkeypatch))
    assert fast.frame.iloc[6].isna().all()  # the blank line inside the data, kept
    assert fast.frame["PropertyName"].iloc[7] == "NA"  # text, not missing
    assert len(fast) == len(damaged) - 1  # the blank lines at the end dropped
    assert fast.frame["PropertyName"].iloc[1] == "Broomwood Centre"  # the tab trimmed


@pytest.mark.parametrize("cell", ['"Altrincham Town Hall\nMarket Street"', '"Altrincham ""Town"" Hall"'])
def test_cells_across_lines_and_escaped_quotes_fall_back(cell: str, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch):
    rows = _council_rows(20)
    rows[1][5] = "@@"
    path = tmp_path / "quoted.csv"
    path.write_text("\n".join(map(_line, rows)).replace("@@", cell) + "\n", encoding="utf-8")
    assert _fast_path_taken(path, monkeypatch) is False
    raw = _read(path)
    _assert_same(raw, _careful(path, monkeypatch))
    assert raw.frame["PropertyName"].iloc[0] == cell[1:-1].replace('""', '"')
