"""Partner data requests on the demo estate: export, a partner's messy return, import, history, LibreOffice.

The round trip is the issue's acceptance test: Trafford Council's workbook, utilisation filled for 20 sites that need
data ("10%"), "n/a" and "1,200 sq ft" in others, two columns reordered; imported through the CLI, those sites leave
"needs data" by the rules, "n/a" stays missing, the area is stored in m² and ``history`` shows each change.
"""

from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest

from estates.classification import DEFAULT_RULES, load_rules
from estates.cli import main
from estates.facts import (
    completeness,
    deciding_facts,
    facts_frame,
    needs_data_counts,
    preview_import,
    requested_facts,
    write_request,
)
from estates.store import open_store

COUNCIL = "Trafford Council"
SQFT_1200_IN_M2 = round(1200 * 0.09290304, 2)  # 111.48


@pytest.fixture(scope="module")
def rules():
    return load_rules(DEFAULT_RULES)


def _header(ws) -> dict[str, int]:  # noqa: ANN001 - a worksheet
    return {c.value: c.column for c in ws[1] if c.value}


def _swap_columns(ws, a: int, b: int) -> None:  # noqa: ANN001
    """Swap two whole columns (values and number formats), as a partner dragging columns around would."""
    for r in range(1, ws.max_row + 1):
        x, y = ws.cell(r, a), ws.cell(r, b)
        x.value, y.value = y.value, x.value
        x.number_format, y.number_format = y.number_format, x.number_format


def _counts(path: Path, rules) -> tuple[int, int]:  # noqa: ANN001
    with open_store(path) as store:
        return needs_data_counts(facts_frame(store, requested_facts(rules)))


def test_round_trip_on_the_demo_estate(store_path: Path, tmp_path: Path, rules, capsys) -> None:  # noqa: ANN001
    out = tmp_path / "council_request.xlsx"
    assert main(["facts", "export", "--partner", COUNCIL, "--out", str(out)]) == 0
    with open_store(store_path) as store:
        council_sites = facts_frame(store, requested_facts(rules)).query("partner == @COUNCIL")["site_key"].nunique()
    assert f"{council_sites} site(s) of Trafford Council" in capsys.readouterr().out

    book = openpyxl.load_workbook(out)
    ws = book["Facts"]
    col = _header(ws)
    assert ws.column_dimensions["A"].hidden
    assert ws.protection.sheet
    assert ws.freeze_panes == "D2"
    assert ws.cell(2, col["Key"]).protection.locked
    assert ws.cell(2, col["Record ids"]).protection.locked
    assert ws.cell(2, col["Utilisation %"]).protection.locked is False
    filled, na, sqft = [], [], []
    for r in range(2, ws.max_row + 1):
        ids = ws.cell(r, col["Record ids"]).value.split("; ")
        wants_utilisation = "Utilisation" in (ws.cell(r, col["Would be decided by"]).value or "")
        if wants_utilisation and len(filled) < 20:
            ws.cell(r, col["Utilisation %"]).value = "10%"
            filled += ids
        elif wants_utilisation and len(na) < 5:
            ws.cell(r, col["Utilisation %"]).value = "n/a"
            na += ids
        elif ws.cell(r, col["Floor area (m²)"]).value is None and len(sqft) < 3:
            ws.cell(r, col["Floor area (m²)"]).value = "1,200 sq ft"
            sqft += ids
    assert len(filled) == 20
    assert len(na) == 5
    assert len(sqft) == 3
    _swap_columns(ws, col["Utilisation %"], col["Tenure"])
    returned = tmp_path / "council_return.xlsx"
    book.save(returned)

    records_before, sites_before = _counts(store_path, rules)
    assert main(["facts", "import", str(returned), "--dry-run"]) == 0
    preview = capsys.readouterr().out
    assert "20 record(s) leave needs data (surplus 20)" in preview
    assert "dry run: nothing written" in preview
    assert _counts(store_path, rules) == (records_before, sites_before)  # nothing written

    assert main(["facts", "import", str(returned), "--reason", "Council estates return"]) == 0
    result = capsys.readouterr().out
    assert "wrote 23 value(s) on 23 record(s) from council_return.xlsx" in result
    records_after, sites_after = _counts(store_path, rules)
    with capsys.disabled():  # the figures for the report (pytest -s shows them)
        print(f"\nneeds data before: {records_before} records / {sites_before} sites; "
              f"after: {records_after} records / {sites_after} sites")
    assert records_after == records_before - 20
    assert sites_before - 20 <= sites_after < sites_before

    with open_store(store_path) as store:
        frame = store.buildings(ids=filled + na + sqft, columns=["utilisation_pct", "gia_m2", "rule_id"])
    by_id = frame.set_index("building_id")
    assert (by_id.loc[filled, "utilisation_pct"] == 10).all()
    assert (by_id.loc[filled, "rule_id"] == "barely-used").all()  # the rules decide them now
    assert (by_id.loc[filled, "effective_status"] == "surplus").all()
    assert by_id.loc[na, "utilisation_pct"].isna().all()
    assert (by_id.loc[na, "effective_status"] == "needs data").all()
    assert (by_id.loc[sqft, "gia_m2"] == SQFT_1200_IN_M2).all()

    for bid, field, to in ((filled[0], "utilisation_pct", "10"), (sqft[0], "gia_m2", "111.48")):
        assert main(["history", bid]) == 0
        line = next(x for x in capsys.readouterr().out.splitlines() if " facts " in x)
        assert f"{field}: ∅ → {to}" in line
        assert "Council estates return (from council_return.xlsx; row " in line
    assert "converted from square feet" in line

    # importing the same return again changes nothing
    assert main(["facts", "import", str(returned), "--reason", "again"]) == 0
    assert "nothing to write" in capsys.readouterr().out


def _request(store_path: Path, tmp_path: Path, rules) -> tuple[Path, openpyxl.Workbook]:  # noqa: ANN001
    path = tmp_path / "request.xlsx"
    with open_store(store_path) as store:
        write_request(path, facts_frame(store, requested_facts(rules)), COUNCIL, rules)
    return path, openpyxl.load_workbook(path)


def test_what_partners_do_to_spreadsheets(store_path: Path, tmp_path: Path, rules) -> None:  # noqa: ANN001
    _, book = _request(store_path, tmp_path, rules)
    ws = book["Facts"]
    ws.title = "Sheet1"  # renamed
    col = _header(ws)
    ws.cell(1, col["Utilisation %"]).value = "Utilization"  # renamed slightly
    ws.cell(1, col["Lease end / break date"]).value = "Lease end date"
    ws.cell(1, ws.max_column + 1).value = "Our comments"  # extra column
    r1, r2, r3, r5, r6 = 2, 3, 4, 5, 6
    pairs = [(ws.cell(r, col["Name"]).value, ws.cell(r, col["Postcode"]).value) for r in range(2, ws.max_row + 1)]
    r4 = next(r for r in range(7, ws.max_row) if pairs.count(pairs[r - 2]) == 1)  # a unique name + postcode
    deleted = ws.max_row
    ws.cell(r1, col["Utilisation %"]).value = "45 %"
    ws.cell(r1, col["Lease end / break date"]).value = "31/03/2027"
    ws.cell(r1, col["Condition"]).value = "b - satisfactory"
    ws.cell(r2, col["Utilisation %"]).value = "unknown"
    ws.cell(r2, col["Lease end / break date"]).value = "03/31/2027"  # US order
    ws.cell(r2, col["Condition"]).value = "E"
    ws.cell(r2, col["Annual running cost (£)"]).value = "12k"
    ws.cell(r3, col["Key"]).value = None  # key deleted: matched by the record ids
    ws.cell(r3, col["Annual running cost (£)"]).value = "£12,500"
    ws.cell(r3, col["Condition"]).value = "A/B"  # two grades
    ws.cell(r5, col["Condition"]).value = "Poor"  # the RICS word
    ws.cell(r4, col["Key"]).value = None  # key and ids deleted: matched by name + postcode
    ws.cell(r4, col["Record ids"]).value = None
    ws.cell(r4, col["Energy rating"]).value = "=CHAR(67)"  # a formula
    ws.cell(r4, col["Use"]).value = "Day centre"
    ws.cell(r5, col["Floor area (m²)"]).value = "1,200 sq ft"
    ws.delete_rows(deleted)  # a row deleted
    # a duplicated row that disagrees with its original: neither value is used
    last = ws.max_row + 1
    for c in range(1, ws.max_column + 1):
        ws.cell(last, c).value = ws.cell(r6, c).value
    ws.cell(r6, col["Use"]).value = "Offices"
    ws.cell(last, col["Use"]).value = "Depot"
    path = tmp_path / "messy.xlsx"
    book.save(path)

    with open_store(store_path) as store:
        preview = preview_import(store, path, rules)
    assert preview.sheet == "Sheet1"
    assert any("'Utilization' read as 'Utilisation %'" in n for n in preview.notes)
    assert any("Our comments" in n for n in preview.notes)
    assert any("not in the returned workbook" in n for n in preview.notes)
    by_row = preview.rows.set_index("row")
    assert by_row.at[r1, "matched_by"] == "key"
    assert by_row.at[r3, "matched_by"] == "record ids"
    assert by_row.at[r4, "matched_by"] == "name + postcode"
    changes = {(c.row, c.fact): c for c in preview.changes.itertuples()}
    assert changes[(r1, "utilisation_pct")].new == 45.0
    assert changes[(r1, "lease_end")].new == "2027-03-31"
    assert changes[(r1, "condition")].new == "B"
    assert changes[(r3, "annual_running_cost")].new == 12500.0
    assert changes[(r4, "use")].new == "Day centre"
    assert changes[(r5, "gia_m2")].new == SQFT_1200_IN_M2
    assert "square feet" in changes[(r5, "gia_m2")].note
    refused = {(r.row, r.fact): r.reason for r in preview.refused.itertuples()}
    assert "month/day" in refused[(r2, "lease_end")]
    assert "not one of A, B, C, D" in refused[(r2, "condition")]
    assert "not an amount" in refused[(r2, "annual_running_cost")]
    assert "formula" in refused[(r4, "energy_rating")]
    assert "more than one grade" in refused[(r3, "condition")]
    assert changes[(r5, "condition")].new == "C"
    assert "different values" in refused[(r6, "use")]
    assert "different values" in refused[(last, "use")]
    assert (r2, "utilisation_pct") not in refused
    assert (r2, "utilisation_pct") not in changes


@pytest.mark.parametrize(("written", "expected", "refusal"), [
    (["0.45", "0.3"], [45.0, 30.0], None),  # a column of fractions
    (["60", "0.5"], [60.0, None], "ambiguous"),  # 0.5 in a column of percentages
    (["45%", "1"], [45.0, None], "ambiguous"),  # 1: 1% or 100%?
    (["120%", "-5"], [None, None], "over 100%"),
])
def test_percentages_are_read_by_the_column(store_path: Path, tmp_path: Path, rules, written, expected,
                                            refusal) -> None:  # noqa: ANN001
    _, book = _request(store_path, tmp_path, rules)
    ws = book["Facts"]
    col = _header(ws)
    for r, text in zip((2, 3), written, strict=True):
        ws.cell(r, col["Utilisation %"]).value = text
        ws.cell(r, col["Utilisation %"]).number_format = "General"
    path = tmp_path / "percent.xlsx"
    book.save(path)
    with open_store(store_path) as store:
        preview = preview_import(store, path, rules)
    got = {c.row: c.new for c in preview.changes.itertuples() if c.fact == "utilisation_pct"}
    assert [got.get(2), got.get(3)] == expected
    if refusal:
        assert preview.refused["reason"].str.contains(refusal).any()


def test_completeness_and_the_facts_that_would_decide(store_path: Path, rules) -> None:  # noqa: ANN001
    with open_store(store_path) as store:
        facts = requested_facts(rules)
        frame = facts_frame(store, facts)
    table = completeness(frame, facts).set_index("partner")
    records, sites = needs_data_counts(frame)
    assert records == int((frame["effective_status"] == "needs data").sum())
    assert table.at[COUNCIL, "sites"] == frame.loc[frame["partner"] == COUNCIL, "site_key"].nunique()
    # the council register records floor areas for some sites and no utilisation at all
    assert 0 < table.at[COUNCIL, "Floor area (m²)"] < table.at[COUNCIL, "sites"]
    assert table.at[COUNCIL, "Utilisation %"] == 0
    both = completeness(frame, facts, by=("partner", "neighbourhood"))
    council = both[both["partner"] == COUNCIL]
    assert set(council["neighbourhood"]) >= {"North", "West", "Central", "South"}
    assert council["needs_data_sites"].sum() >= table.at[COUNCIL, "needs_data_sites"]  # a site may span two
    deciding = deciding_facts(frame, facts).set_index("fact")
    assert deciding["decides_sites"].max() <= sites
    # utilisation alone would let 'barely-used' decide most of the sites that need data
    assert deciding.index[0] == "utilisation_pct"
    assert deciding.at["utilisation_pct", "decides_sites"] > 100


def test_a_filled_register_template_loads_through_the_register_ingest(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    from estates.ingest import ingest_register

    out = tmp_path / "police_template.xlsx"
    assert main(["facts", "template", "--type", "police", "--out", str(out)]) == 0
    book = openpyxl.load_workbook(out)
    assert book.sheetnames[0] == "Register"
    assert book["Register"].max_row == 1  # no rows: the example is on the instructions sheet
    assert {v.type for v in book["Register"].data_validations.dataValidation} == {"date", "decimal", "list",
                                                                                  "textLength"}
    ws = book["Register"]
    col = _header(ws)
    instructions = "\n".join(str(c.value) for row in book["Instructions"].iter_rows() for c in row if c.value)
    assert "Example row (not read)" in instructions
    # two rows as a partner would fill them in (postcodes of the Town Hall and Sale Waterside, test values only)
    for r, values in ((2, {"Asset ID": "T1", "Name": "Template test row one", "Postcode": "M32 0TH",
                           "Utilisation %": "45%", "Floor area (m²)": "1,200 sq ft", "Condition": "B",
                           "Lease end / break date": "31/03/2027"}),
                      (3, {"Asset ID": "T2", "Name": "Template test row two", "Postcode": "M33 7ZF"})):
        for header, value in values.items():
            ws.cell(r, col[header]).value = value
    filled = tmp_path / "police_register.xlsx"
    book.save(filled)
    result = ingest_register(filled, partner="Police (template test)", partner_type="police")
    assert result.summary["accepted"] == 2
    assert result.summary["rejected"] == 0
    records = result.records.set_index("source_id")
    assert records.at["T1", "utilisation_pct"] == 45.0
    assert round(records.at["T1", "gia_m2"], 2) == SQFT_1200_IN_M2
    assert records.at["T1", "lease_end"] == "2027-03-31"
    assert records.at["T1", "condition"] == "B"
    assert (records["partner_type"] == "police").all()
    assert records["lat"].notna().all()


def test_user_errors_are_one_line(store_path: Path, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    assert main(["facts", "export", "--partner", "Trafford", "--out", str(tmp_path / "x.xlsx")]) == 2
    assert "did you mean: " in capsys.readouterr().err
    not_xlsx = tmp_path / "not.xlsx"
    not_xlsx.write_text("name,postcode\n")
    assert main(["facts", "import", str(not_xlsx), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: not.xlsx: not an Excel workbook")
    assert len(err.strip().splitlines()) == 1
    assert main(["facts", "import", str(not_xlsx)]) == 2
    assert "--reason" in capsys.readouterr().err
    assert main(["facts", "template", "--type", "pirates", "--out", str(tmp_path / "t.xlsx")]) == 2
    capsys.readouterr()
    assert main(["facts", "export", "--partner", "Trafford Council", "--out", str(tmp_path / "x.csv")]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / 'x.csv'}: unknown output format '.csv' (use xlsx)\n"
    (tmp_path / "kept.xlsx").write_bytes(b"kept")
    assert main(["facts", "export", "--partner", "Trafford Council", "--out", str(tmp_path / "kept.xlsx")]) == 2
    assert "kept.xlsx exists; use --force to overwrite it" in capsys.readouterr().err
    assert (tmp_path / "kept.xlsx").read_bytes() == b"kept"


def _soffice(*args: str, cwd: Path) -> None:
    binary = shutil.which("soffice") or shutil.which("libreoffice")
    if binary is None:
        pytest.fail("LibreOffice is needed (scripts/install-system-deps installs libreoffice-calc-nogui)")
    profile = (cwd / "lo-profile").as_uri()
    subprocess.run([binary, "--headless", "--norestore", f"-env:UserInstallation={profile}", *args], cwd=cwd,
                   check=True, capture_output=True, timeout=180)


def test_the_workbook_opens_in_libreoffice_with_its_validation_and_instructions(
        store_path: Path, tmp_path: Path, rules) -> None:  # noqa: ANN001
    path, book = _request(store_path, tmp_path, rules)
    ws = book["Facts"]
    col = _header(ws)
    ws.cell(2, col["Utilisation %"]).value = "10%"
    ws.cell(2, col["Floor area (m²)"]).value = "1,200 sq ft"
    edited = tmp_path / "edited.xlsx"
    book.save(edited)
    _soffice("--convert-to", "pdf", "--outdir", "pdf", str(path), cwd=tmp_path)
    assert (tmp_path / "pdf" / "request.pdf").read_bytes()[:5] == b"%PDF-"
    # every sheet as CSV (LibreOffice ≥ 7.2: sheet -1)
    _soffice("--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,false,false,-1",
             "--outdir", "csv", str(path), cwd=tmp_path)
    with open(tmp_path / "csv" / "request-Instructions.csv", encoding="utf-8") as f:
        instructions = list(csv.reader(f))
    assert instructions[0][0] == f"Data request: {COUNCIL}"
    assert any(r[0] == "Utilisation %" and "'barely-used' (surplus)" in r[2] for r in instructions if len(r) > 2)
    with open(tmp_path / "csv" / "request-Facts.csv", encoding="utf-8") as f:
        facts_rows = list(csv.reader(f))
    assert facts_rows[0][:3] == ["Key", "Record ids", "Name"]
    assert len(facts_rows) == 1 + book["Facts"].max_row - 1
    # saved again as .xlsx by LibreOffice: validation, protection and the hidden key survive, and it reads the same
    _soffice("--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", "lo", str(edited), cwd=tmp_path)
    saved = openpyxl.load_workbook(tmp_path / "lo" / "edited.xlsx")["Facts"]
    kinds = sorted({v.type for v in saved.data_validations.dataValidation})
    assert kinds == ["date", "decimal", "list", "textLength"]
    assert saved.protection.sheet
    assert saved.column_dimensions["A"].hidden
    with open_store(store_path) as store:
        ours = preview_import(store, edited, rules)
        theirs = preview_import(store, tmp_path / "lo" / "edited.xlsx", rules)
    assert len(ours.changes) == 2
    assert len(ours.refused) == 0
    assert theirs.changes[["building_id", "fact", "new"]].equals(ours.changes[["building_id", "fact", "new"]])
    assert theirs.unchanged == ours.unchanged
