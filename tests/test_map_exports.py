"""A page's map exports show what the page shows (issue 16): estates.maps.static.sites_figure, the buildings print
map with filters, estates.maps.sites.sites_map, estates.exports.export_view, the ``export map`` command.

On the real Trafford layers and the demo estate (the registers and rules in memory). Checked from the figure
(extent, decorations, colours) and from the files themselves (PNG size and text chunks, PDF text and metadata, the
HTML's assets, the data rows). The browser side (downloads from each page):
tests/browser/test_map_downloads_browser.py.
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb
from openpyxl import load_workbook
from PIL import Image

from estates.analysis.filters import Filters, filter_buildings, filter_sites
from estates.cli import main
from estates.estate import current_sites
from estates.exports import ExportError, export_bytes, export_view, view_export_bytes
from estates.maps import STATUS_COLOURS
from estates.maps.sites import sites_map
from estates.maps.static import overlap_figure, sites_figure
from geo import boundaries
from geo.overlap import overlap_pieces
from geo.projection import BNG

REPO = Path(__file__).resolve().parents[1]
NORTH_SURPLUS = Filters(neighbourhoods=("North",), statuses=("surplus", "core"))
DECORATIONS = {"title", "subtitle", "legend", "scale-bar", "north-arrow", "attribution", "date"}


@pytest.fixture(scope="module")
def estate():  # noqa: ANN201 - estates.service.Estate
    return current_sites(use_store=False)


@pytest.fixture(scope="module")
def north_bounds() -> np.ndarray:
    hoods = boundaries.neighbourhoods().to_crs(BNG)
    return hoods[hoods["neighbourhood"] == "North"].total_bounds


# ------------------------------------------------------------------------------------------------ helpers


def _lab(rgb: tuple[float, float, float]) -> np.ndarray:
    """sRGB (0–1) → CIE L*a*b* (D65)."""
    c = np.array(rgb, dtype=float)
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ c
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _delta_e(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
    return float(np.linalg.norm(_lab(a) - _lab(b)))


def _on_white(rgba: np.ndarray) -> tuple[float, float, float]:
    """A fill as printed: its colour blended over the white page by its opacity."""
    rgb, alpha = np.asarray(rgba[:3], dtype=float), float(rgba[3])
    return tuple(alpha * rgb + (1 - alpha) * 1.0)  # type: ignore[return-value]


def _marker_and_fill_colours(fig) -> tuple[set[tuple], set[tuple]]:  # noqa: ANN001
    markers, fills = set(), {(1.0, 1.0, 1.0)}  # the page itself
    for artist in fig.findobj():
        if artist.get_gid() == "markers" and len(artist.get_offsets()):
            markers |= {tuple(np.round(c[:3], 4)) for c in artist.get_facecolor()}
        elif artist.get_gid() == "fill":
            fills |= {tuple(np.round(_on_white(c), 4)) for c in artist.get_facecolor()}
    return markers, fills


def _pdf_text(data: bytes) -> str:
    """The text of a matplotlib PDF, one drawn string per line (its content streams' Tj/TJ strings joined)."""
    lines = []
    for stream in re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream)
        except zlib.error:
            continue
        for block in re.findall(rb"BT(.*?)ET", content, re.S):
            parts = re.findall(rb"\((?:\\.|[^\\)])*\)", block)
            text = b"".join(p[1:-1] for p in parts)
            text = re.sub(rb"\\([()\\])", rb"\1", text)
            lines.append(text.decode("latin-1"))
    return "\n".join(lines)


def _pdf_info(data: bytes, key: str) -> str:
    """A PDF Info entry (matplotlib writes non-ASCII ones as UTF-16 with a byte-order mark)."""
    match = re.search(rb"/" + key.encode() + rb" \(((?:\\.|[^\\)])*)\)", data, re.S)
    assert match is not None, key
    raw = re.sub(rb"\\([()\\])", rb"\1", match.group(1))
    return raw[2:].decode("utf-16-be") if raw.startswith(b"\xfe\xff") else raw.decode("latin-1")


# ------------------------------------------------------------------------------------------------ the figure


def test_sites_figure_is_fitted_to_the_filtered_area_and_names_the_filters(estate, north_bounds) -> None:  # noqa: ANN001
    sites = filter_sites(estate, NORTH_SURPLUS)
    assert 50 < len(sites) < len(estate.sites)
    fig = sites_figure(sites, filters=NORTH_SURPLUS)
    gids = {a.get_gid() for a in fig.findobj()}
    assert gids >= DECORATIONS
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    assert "North" in texts["title"]
    assert "Neighbourhood: North" in texts["subtitle"]
    assert "Status: surplus, core" in texts["subtitle"]
    assert f"{len(sites)} sites" in texts["subtitle"]
    ax = fig.axes[0]
    (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
    minx, miny, maxx, maxy = north_bounds
    # The whole of North is in view, and the view is North with a margin, not the borough.
    assert x0 < minx
    assert y0 < miny
    assert x1 > maxx
    assert y1 > maxy
    span = max(maxx - minx, maxy - miny)
    assert x0 > minx - 0.15 * span
    assert x1 < maxx + 0.15 * span
    assert y0 > miny - 0.15 * span - (span - (maxy - miny))
    assert y1 < maxy + 0.15 * span + (span - (maxy - miny))
    whole = boundaries.boundary().to_crs(BNG).total_bounds
    assert (x1 - x0) * (y1 - y0) < 0.6 * (whole[2] - whole[0]) * (whole[3] - whole[1])
    # Every located site shown is drawn, inside the view.
    drawn = np.vstack([a.get_offsets() for a in fig.findobj() if a.get_gid() == "markers"])
    assert len(drawn) == int(sites["lat"].notna().sum())
    assert ((drawn[:, 0] > x0) & (drawn[:, 0] < x1) & (drawn[:, 1] > y0) & (drawn[:, 1] < y1)).all()


def test_a_page_area_fits_the_map_to_it_and_names_it(estate) -> None:  # noqa: ANN001
    pcn = "North Trafford PCN"
    sites = estate.sites[estate.sites["pcn_name"].astype("object") == pcn]
    fig = sites_figure(sites, title="Trafford area profile", area=("pcn", pcn))
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    assert texts["title"] == f"Trafford area profile — {pcn}"
    assert texts["subtitle"].startswith("No filters")
    footprint = boundaries.pcn_footprints().to_crs(BNG)
    minx, miny, maxx, maxy = footprint[footprint["pcn_name"] == pcn].total_bounds
    (x0, x1), (y0, y1) = fig.axes[0].get_xlim(), fig.axes[0].get_ylim()
    assert x0 < minx < maxx < x1
    assert y0 < miny < maxy < y1
    with pytest.raises(ValueError, match="no pcn called"):
        sites_figure(sites, area=("pcn", "Nowhere PCN"))


def test_marker_colours_stay_distinct_from_every_fill(estate) -> None:  # noqa: ANN001
    north = Filters(neighbourhoods=("North",))
    records = filter_buildings(estate.records, north)
    figures = [sites_figure(filter_sites(estate, north), filters=north),
               overlap_figure(overlap_pieces(), records, title="buildings", filters=north, fit=True)]
    for fig in figures:
        markers, fills = _marker_and_fill_colours(fig)
        assert markers == {tuple(np.round(to_rgb(c), 4)) for c in STATUS_COLOURS.values()}
        assert len(fills) >= 2  # the page and the area's (or the PCNs') fills
        closest = min(_delta_e(m, f) for m in markers for f in fills)
        # ΔE (CIE76) ≥ 30: clearly different colours side by side. The buildings map before issue 16 drew core's
        # blue (#2166AC) on the blue PCN fill (#4477AA at 75 %): ΔE 28.5 ("blue dots on a blue fill").
        assert closest >= 30, closest
    assert _delta_e(to_rgb(STATUS_COLOURS["core"]), _on_white(np.array([*to_rgb("#4477AA"), 0.75]))) < 30


def test_the_buildings_print_map_follows_the_filters(estate, north_bounds) -> None:  # noqa: ANN001
    north = Filters(neighbourhoods=("North",))
    records = filter_buildings(estate.records, north)
    fig = overlap_figure(overlap_pieces(), records, title="Trafford estate: buildings by status", filters=north,
                         fit=True)
    texts = {t.get_gid(): t.get_text() for t in fig.texts if t.get_gid()}
    assert texts["title"] == "Trafford estate: buildings by status — North neighbourhood"
    assert "Filters: Neighbourhood: North" in texts["subtitle"]
    assert {a.get_gid() for a in fig.findobj()} >= DECORATIONS
    (x0, x1), (y0, y1) = fig.axes[0].get_xlim(), fig.axes[0].get_ylim()
    minx, miny, maxx, maxy = north_bounds
    assert x0 < minx
    assert x1 > maxx
    assert y0 < miny
    assert y1 > maxy
    assert x1 - x0 < 1.3 * max(maxx - minx, maxy - miny)
    # The file the Overlap page's "Buildings" PNG button gives, with the page's filters.
    png = export_bytes("buildings", "png", buildings=records, filters=north)
    info = Image.open(io.BytesIO(png.data)).info
    assert "North" in info["Title"]
    assert "Neighbourhood: North" in info["Description"]
    # Without filters the overlap map stays the whole place, as before.
    whole = overlap_figure(overlap_pieces(), None)
    assert whole.axes[0].get_xlim()[1] - whole.axes[0].get_xlim()[0] > 1.5 * (x1 - x0)


# ------------------------------------------------------------------------------------------------ the files


def test_png_and_pdf_files_carry_print_size_title_and_filters(estate) -> None:  # noqa: ANN001
    sites = filter_sites(estate, NORTH_SURPLUS)
    png = view_export_bytes("png", sites=sites, filters=NORTH_SURPLUS, name="estate map")
    assert png.name == "trafford-estate-map-north.png"
    assert png.mime == "image/png"
    image = Image.open(io.BytesIO(png.data))
    assert image.size == (2338, 1654)  # A4 landscape at 200 dpi
    assert image.info["Title"] == "Trafford estate: sites by status — North neighbourhood"
    assert "Status: surplus, core" in image.info["Description"]
    # Not squeezed in a corner: the sites' coloured pixels spread over most of the map's width.
    pixels = np.asarray(image.convert("RGB"), dtype=int)
    core = np.array([int(STATUS_COLOURS["core"][i:i + 2], 16) for i in (1, 3, 5)])
    ys, xs = np.nonzero(np.abs(pixels - core).sum(axis=2) < 30)
    assert len(xs) > 1000
    assert xs.max() - xs.min() > 0.45 * image.size[0]
    a3 = Image.open(io.BytesIO(view_export_bytes("png", sites=sites, filters=NORTH_SURPLUS, paper="A3").data))
    assert a3.size == (3308, 2338)

    pdf = view_export_bytes("pdf", sites=sites, filters=NORTH_SURPLUS, name="estate map").data
    assert pdf.startswith(b"%PDF")
    assert pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 1
    assert _pdf_info(pdf, "Title") == "Trafford estate: sites by status — North neighbourhood"
    text = _pdf_text(pdf)  # (a Type 3 font draws "ff" as one glyph, so "Trafford" is not compared here)
    title_line = next(line for line in text.splitlines() if "estate: sites by status" in line)
    assert title_line.endswith("North neighbourhood")
    assert "Filters: Status: surplus, core; Neighbourhood: North" in text
    assert "Crown copyright" in text
    assert "Made " in text
    assert "km" in text


def test_html_is_offline_with_a_scale_bar_and_escaped_filters(estate) -> None:  # noqa: ANN001
    hostile = Filters(neighbourhoods=("North",), search="<script>alert(1)</script>{{ 7*7 }}")
    sites = filter_sites(estate, Filters(neighbourhoods=("North",)))
    page = sites_map(sites, filters=hostile).get_root().render()
    assert "L.control.scale" in page
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", page)
    # The filters' text reaches the page HTML-escaped (inside a JSON string), braces as entities (never Jinja).
    assert "<script>alert(1)" not in page
    assert "{{ 7*7 }}" not in page
    assert "49" not in page.split("7*7")[0][-40:]
    assert "\\u0026lt;script\\u0026gt;alert(1)" in page
    assert "\\u0026#123;\\u0026#123; 7*7" in page
    assert "<title>Trafford estate: sites by status — North neighbourhood</title>" in page
    assert len(sites) > 100
    assert all(json.dumps(str(i)) in page for i in sites["site_id"])
    data = view_export_bytes("html", sites=sites, filters=Filters(neighbourhoods=("North",)))
    assert data.mime == "text/html"
    assert b"L.control.scale" in data.data


def test_data_files_hold_exactly_the_sites_shown(estate, tmp_path: Path) -> None:  # noqa: ANN001
    sites = filter_sites(estate, NORTH_SURPLUS)
    wanted = sorted(sites["site_id"].astype(str))
    csv = view_export_bytes("csv", sites=sites, filters=NORTH_SURPLUS).data
    assert sorted(pd.read_csv(io.BytesIO(csv), dtype=str)["site_id"]) == wanted
    geojson = json.loads(view_export_bytes("geojson", sites=sites, filters=NORTH_SURPLUS).data)
    assert sorted(f["properties"]["site_id"] for f in geojson["features"]) == wanted
    path = tmp_path / "view.xlsx"
    path.write_bytes(view_export_bytes("xlsx", sites=sites, filters=NORTH_SURPLUS).data)
    book = load_workbook(path, read_only=True)
    assert book.sheetnames == ["sites", "notes"]
    notes = {row[0]: row[1] for row in book["notes"].iter_rows(values_only=True)}
    assert "Neighbourhood: North" in notes["view"]
    assert "North" in notes["title"]
    gpkg = tmp_path / "view.gpkg"
    export_view("gpkg", gpkg, sites=sites)
    import pyogrio

    assert sorted(pyogrio.read_dataframe(gpkg, layer="sites")["site_id"].astype(str)) == wanted
    with pytest.raises(ExportError, match="exists"):
        export_view("gpkg", gpkg, sites=sites)
    with pytest.raises(ExportError, match="map exports are"):
        view_export_bytes("svg", sites=sites)


def test_export_map_command_uses_the_same_filters(estate, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: ANN001
    out = tmp_path / "north.pdf"
    assert main(["export", "map", "--neighbourhood", "North", "--status", "surplus", "--out", str(out),
                 "--no-store"]) == 0
    assert "Neighbourhood: North" in _pdf_info(out.read_bytes(), "Subject")
    shown = filter_sites(estate, Filters(neighbourhoods=("North",), statuses=("surplus",)))
    assert f"{len(shown)} sites" in capsys.readouterr().out
    assert main(["export", "map", "--neighbourhood", "Nowhere", "--out", str(tmp_path / "x.png"), "--no-store"]) == 2
    assert "--neighbourhood 'Nowhere' is not in the estate" in capsys.readouterr().err


def test_the_download_row_does_not_import_matplotlib() -> None:
    """A page view imports pages/_downloads.py; matplotlib waits until a map file is asked for (cold start)."""
    code = ("import sys; import pages._downloads, pages._common; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('matplotlib', 'openpyxl', 'xlsxwriter')))")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
