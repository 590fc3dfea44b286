"""Reading registers: encodings, delimiters, header rows, sheets, merged headers, geodata, empty and broken files."""

from __future__ import annotations

import codecs
import json
import warnings
import zipfile

import openpyxl
import pytest
import shapely

from estates.registers import (
    RegisterError,
    cell_text,
    detect_delimiter,
    detect_encoding,
    find_header_row,
    read_register,
)
from tests.conftest import ROOT

REGISTERS = ROOT / "data" / "registers"
HOSTILE = ROOT / "tests" / "fixtures" / "hostile"


def test_demo_council_register_reads_all_608_rows_with_row_numbers():
    raw = read_register(REGISTERS / "trafford_land_and_building_assets.csv")
    assert len(raw) == 608
    assert raw.format == "csv"
    assert raw.encoding == "utf-8"
    assert raw.delimiter == ","
    assert raw.header_row == 1
    assert list(raw.source_rows[:2]) == [2, 3]
    first = raw.frame.iloc[0]
    assert first["PropertyName"] == "Altrincham Town Hall"
    assert first["UPRN"] == "100012797623"
    assert raw.frame["StreetNumber"].isna().iloc[0]  # empty cells are missing, not ""


@pytest.mark.parametrize(("data", "expected"), [
    ("Name,Café\n".encode(), "utf-8"),
    (codecs.BOM_UTF8 + b"Name\n", "utf-8-sig"),
    ("Name,Café £5\n".encode("cp1252"), "cp1252"),
    ("Name\tTown\n".encode("utf-16"), "utf-16"),
])
def test_detect_encoding(data, expected):
    assert detect_encoding(data) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("a,b,c\n1,2,3\n", ","),
    ("a;b;c\n1;2,5;3\n", ";"),
    ("a\tb\tc\n1\t2\t3\n", "\t"),
    ("a|b|c\n1|2|3\n", "|"),
    ("Title row\n\na;b;c\n1;2;3\n4;5;6\n", ";"),
])
def test_detect_delimiter(text, expected):
    assert detect_delimiter(text) == expected


def test_find_header_row_skips_title_rows():
    rows = [["Trafford Council asset register 2024"], [], ["Published 1 April"],
            ["Asset ref", "Site name", "Post Code", "GIA"], ["A1", "Town Hall", "M32 0TH", "12426"]]
    assert find_header_row(rows) == 3
    assert find_header_row([[], [None, ""]]) is None


def test_cp1252_file_is_decoded_not_mangled():
    raw = read_register(HOSTILE / "cp1252_leisure.csv")
    assert raw.encoding == "cp1252"
    assert "café" in raw.frame.loc[0, "facilities"]


def test_bom_is_not_part_of_the_first_column_name():
    raw = read_register(HOSTILE / "utf8_bom_schools.csv")
    assert raw.frame.columns[0] == "name"


def test_utf16_tab_separated_excel_unicode_text():
    raw = read_register(HOSTILE / "utf16_tab_gps.txt")
    assert (raw.encoding, raw.delimiter, len(raw)) == ("utf-16", "\t", 26)
    assert raw.frame.loc[0, "name"] == "Park Medical Practice"


def test_xlsx_title_rows_are_skipped():
    raw = read_register(HOSTILE / "title_rows.xlsx")
    assert raw.header_row == 4
    assert "AssetCode" in raw.frame.columns
    assert len(raw) == 50
    assert list(raw.source_rows[:1]) == [5]


def test_xlsx_merged_group_header_combines_into_real_names():
    raw = read_register(HOSTILE / "merged_header.xlsx")
    assert len(raw) == 40
    assert {"AssetCode", "PostCode", "GeoX", "BuildingSize"} <= set(raw.frame.columns)
    assert raw.header_row == 1
    assert raw.source_rows[0] == 3


def test_xlsx_picks_the_data_sheet():
    raw = read_register(HOSTILE / "two_sheets.xlsx")
    assert raw.sheet == "Schools"
    assert len(raw) == 30
    with pytest.raises(RegisterError, match="no sheet 'Nope'"):
        read_register(HOSTILE / "two_sheets.xlsx", sheet="Nope")


def test_xlsx_typed_cells_read_as_register_text():
    raw = read_register(HOSTILE / "typed_cells.xlsx")
    row = raw.frame.iloc[0]
    assert row["UPRN"] == "100012797623"  # an Excel number, without ".0"
    assert row["EffectiveDate"] == "2023-09-29"
    assert row["BuildingSize"] == "415.05"


@pytest.mark.parametrize(("value", "text"), [(None, None), (12.0, "12"), (415.05, "415.05"), (True, "TRUE"),
                                             (100012797623, "100012797623"), ("  x ", "x")])
def test_cell_text(value, text):
    assert cell_text(value) == text


def test_merged_cells_in_a_hand_made_workbook(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Site address", None, "Postal address", None, "UPRN"])
    sheet.merge_cells("A1:B1")
    sheet.merge_cells("C1:D1")
    sheet.merge_cells("E1:E2")
    sheet.append(["Line 1", "Post Code", "Line 1", "Town", None])
    sheet.append(["Market Street", "WA14 1PF", "PO Box 1", "Altrincham", 100012797623])
    path = tmp_path / "merged.xlsx"
    book.save(path)
    raw = read_register(path)
    assert list(raw.frame.columns) == ["Site address Line 1", "Post Code", "Postal address Line 1", "Town", "UPRN"]
    assert raw.frame.loc[0, "UPRN"] == "100012797623"


def test_csv_with_an_xlsx_name_is_read_as_csv():
    raw = read_register(HOSTILE / "csv_named_xlsx.xlsx")
    assert raw.format == "csv"
    assert len(raw) == 10


def test_geojson_polygons_become_representative_points_with_footprints():
    raw = read_register(REGISTERS / "trafford_hospitals.geojson")
    assert len(raw) == 20
    assert raw.geometry is not None
    polygon = shapely.from_wkt(raw.geometry.loc[0, "footprint_wkt"])
    point = shapely.Point(raw.geometry.loc[0, "x"], raw.geometry.loc[0, "y"])
    assert polygon.geom_type in ("Polygon", "MultiPolygon")
    assert polygon.buffer(1e-9).contains(point)
    assert raw.frame.loc[0, "DISTNAME"] == "Trafford General Hospital"


def test_geojson_points_keep_no_footprint():
    raw = read_register(REGISTERS / "trafford_libraries.geojson")
    assert len(raw) == 13
    assert raw.geometry["footprint_wkt"].isna().all()
    assert raw.geometry["x"].between(-2.5, -2.2).all()


def test_null_geometry_feature_is_kept_without_location():
    raw = read_register(HOSTILE / "polygons_and_null.geojson")
    assert len(raw) == 5
    assert raw.geometry["x"].isna().sum() == 1


def test_geopackage_in_bng_is_reprojected():
    raw = read_register(HOSTILE / "fire_bng.gpkg")
    assert raw.sheet == "fire_stations"
    assert len(raw) == 6
    assert raw.geometry["x"].between(-2.5, -2.2).all()
    assert raw.geometry["y"].between(53.3, 53.5).all()
    assert any("reprojected" in n for n in raw.notes)


def test_header_only_file_reads_as_zero_rows_with_a_note():
    raw = read_register(HOSTILE / "headers_only.csv")
    assert len(raw) == 0
    assert raw.notes == ["the file has a header but no data rows"]


@pytest.mark.parametrize(("name", "message"), [
    ("empty.csv", "empty.csv: the file is empty"),
    ("whitespace_only.csv", "whitespace_only.csv: the file holds only blank lines, no table"),
    ("blank_lines_crlf.txt", "blank_lines_crlf.txt: the file holds only blank lines, no table"),
    ("empty_cells_only.csv", "empty_cells_only.csv: the file holds delimiters but no values, no table"),
])
def test_empty_files_are_refused(name, message):
    with pytest.raises(RegisterError) as caught:
        read_register(HOSTILE / name)
    assert str(caught.value) == message


def test_blank_rows_inside_the_data_are_kept_trailing_ones_dropped():
    raw = read_register(HOSTILE / "blank_rows.csv")
    assert len(raw) == 18
    assert raw.frame.isna().all(axis=1).sum() == 3


def test_ragged_rows_keep_surplus_values():
    raw = read_register(HOSTILE / "ragged_rows.csv")
    assert "extra_value_1" in raw.frame.columns
    assert len(raw.row_notes) == 2


def test_unbalanced_quote_costs_one_row_not_the_rest_of_the_file():
    raw = read_register(HOSTILE / "unbalanced_quote.csv")
    assert len(raw) == 10
    assert raw.frame["AssetCode"].iloc[3] == "TMBC0064"


@pytest.mark.parametrize(("name", "message"), [
    ("not_a_table.csv", "binary data"), ("old_excel.xls", "old Excel"), ("random_bytes.csv", "binary data"),
    ("png_named.csv", "binary data"), ("gzip_named.csv", "binary data"), ("pdf_named.csv", "binary data"),
    ("zip_not_xlsx.xlsx", "not an Excel workbook"), ("truncated.xlsx", "a damaged or incomplete ZIP file"),
    ("not_geojson.geojson", "not a GeoJSON FeatureCollection"), ("broken_json.geojson", "not valid JSON"),
])
def test_unreadable_files_are_refused_with_a_message(name, message):
    with pytest.raises(RegisterError, match=message):
        read_register(HOSTILE / name)


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(RegisterError, match="file not found"):
        read_register(tmp_path / "nope.csv")
    with pytest.raises(RegisterError, match="is a folder"):
        read_register(tmp_path)


def test_not_geojson_with_a_geojson_name(tmp_path):
    path = tmp_path / "x.geojson"
    path.write_text(json.dumps([1, 2, 3]))
    with pytest.raises(RegisterError, match="not a GeoJSON"):
        read_register(path)


def test_detect_encoding_utf16_without_bom():
    assert detect_encoding("Name,Town\nCafé,Sale\n".encode("utf-16-le")) == "utf-16-le"
    assert detect_encoding("Name,Town\nCafé,Sale\n".encode("utf-16-be")) == "utf-16-be"
    raw = read_register(HOSTILE / "utf16le_nobom_gps.csv")
    assert raw.encoding == "utf-16-le"
    assert len(raw) == 26
    assert raw.frame["name"].iloc[0] == "Park Medical Practice"


def test_mixed_encodings_are_decoded_per_line_and_the_odd_line_flagged():
    raw = read_register(HOSTILE / "mixed_mostly_cp1252.csv")
    assert raw.notes[0] == "mixed encodings: 2 line(s) cp1252, 1 line(s) utf-8; each line decoded on its own"
    locations = raw.frame["Location"]
    assert locations.str.contains("Heatbeat Café").sum() == 1
    assert not locations.str.contains("Ã").any()
    assert locations.str.contains("St. John’s Medical Centre").sum() == 1
    (position, code, reason), = raw.row_notes
    assert code == "mixed_encoding"
    assert "Heatbeat" in raw.frame["Location"].iloc[position]
    assert reason.startswith(f"line {raw.source_rows[position]} is utf-8, unlike most of the file (cp1252)")


def test_header_far_down_is_found_or_named(tmp_path):
    raw = read_register(HOSTILE / "header_row_40.csv")
    assert raw.header_row == 40
    assert len(raw) == 40
    assert raw.frame.columns[0] == "OrganisationLabel"
    assert read_register(HOSTILE / "header_row_40.xlsx").header_row == 40
    with pytest.raises(RegisterError, match="no header found in the first 100 rows; use --header-row"):
        read_register(HOSTILE / "header_row_150.csv")
    raw = read_register(HOSTILE / "header_row_150.csv", header_row=150)
    assert len(raw) == 10
    assert list(raw.source_rows[:1]) == [151]


def test_formula_cells_read_their_saved_value_or_are_flagged_per_cell():
    cached = read_register(HOSTILE / "formulas_cached.xlsx")
    assert not cached.row_notes
    assert cached.frame["PostCode"].iloc[2] == "M21 9TA"
    assert cached.frame["BuildingSize"].iloc[3] == "3882"
    missing = read_register(HOSTILE / "formulas_no_value.xlsx")
    cells = [reason.split(":")[0] for _, code, reason in missing.row_notes if code == "formula_without_value"]
    assert cells == ["cell J4", "cell R5", "cell R8", "cell J10"]
    assert missing.frame["PostCode"].isna().sum() == 2


def test_each_geojson_feature_is_checked_on_its_own():
    raw = read_register(HOSTILE / "every_damage.geojson")
    assert len(raw) == 13
    codes = {position + 1: code for position, code, _ in raw.row_notes}
    assert codes == {2: "bad_geometry", 4: "bad_geometry", 6: "bad_geometry", 8: "geometry_issue",
                     10: "bad_geometry", 12: "bad_geometry"}
    good = [i for i in range(13) if i + 1 not in codes]
    assert raw.geometry.loc[good, "x"].between(-2.5, -2.2).all()
    assert raw.geometry.loc[[1, 3, 5, 7, 9, 11], "x"].isna().all()
    raw = read_register(HOSTILE / "not_a_feature.geojson")
    assert [(p, code) for p, code, _ in raw.row_notes] == [(6, "bad_geometry"), (7, "bad_geometry")]


def test_nested_properties_are_json_text():
    raw = read_register(HOSTILE / "nested_properties.geojson")
    contact = json.loads(raw.frame["contact"].iloc[0])
    assert contact["email"] == "altrincham.library@trafford.gov.uk"
    assert json.loads(raw.frame["postcode_parts"].iloc[0]) == ["WA14", "1AH"]
    assert cell_text({"a": [1, "é"]}) == '{"a": [1, "é"]}'


def test_damaged_geopackage_geometry_is_one_rejected_feature():
    raw = read_register(HOSTILE / "damaged_wkb.gpkg")
    assert len(raw) == 13
    assert [(p, code) for p, code, _ in raw.row_notes] == [(3, "bad_geometry")]
    assert raw.geometry["x"].notna().sum() == 12


def test_library_warnings_become_notes_not_stderr(tmp_path, capfd):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Name", "Postcode"])
    sheet.append(["Sale Waterside", "M33 7ZF"])
    book.save(tmp_path / "saved.xlsx")
    # A workbook from another program, without a stylesheet: openpyxl warns about it.
    with zipfile.ZipFile(tmp_path / "saved.xlsx") as source, zipfile.ZipFile(tmp_path / "book.xlsx", "w") as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/styles.xml":
                data = (b'<?xml version="1.0"?><styleSheet '
                        b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"></styleSheet>')
            out.writestr(info, data)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        raw = read_register(tmp_path / "book.xlsx")
    assert not caught
    assert len(raw) == 1
    assert raw.notes == ["reader warning: Workbook contains no stylesheet, using openpyxl's defaults"]
    assert capfd.readouterr().err == ""
