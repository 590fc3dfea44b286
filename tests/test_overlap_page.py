"""The Overlap page (pages/overlap.py) renders without exceptions under Streamlit's AppTest, on a seeded store."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from estates.analysis.overlap import MATRICES
from estates.service import load_registers
from estates.store import open_store
from geo.overlap import overlap_matrix, overlap_pieces
from pages._downloads import DOWNLOAD_LABELS

PAGE = Path(__file__).resolve().parent.parent / "pages" / "overlap.py"

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An embedded store filled from the demo registers, as the app seeds it on first start."""
    path = tmp_path_factory.mktemp("store") / "estates.gpkg"
    with open_store(path) as store:
        load_registers(store)
    return path


@pytest.fixture
def page(store_path: Path, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("ESTATES_DATABASE_URL", str(store_path))
    app = AppTest.from_file(str(PAGE), default_timeout=180)
    app.run()
    return app


def test_overlap_page_renders_the_map_matrices_and_downloads(page: AppTest) -> None:
    assert not page.exception, [e.value for e in page.exception]
    assert page.title[0].value.endswith("primary care networks")
    assert len(page.tabs) == len(MATRICES)
    # One heatmap per matrix: 4 neighbourhoods × 5 PCNs, plus a Total row and column.
    heatmaps = [frame.value for frame in page.dataframe[: len(MATRICES)]]
    expected_area = overlap_matrix(overlap_pieces(), "area_ha")
    for table in heatmaps:
        assert table.shape == (5, 6)
        assert list(table.index[:4]) == ["Central", "North", "South", "West"]
        assert list(table.columns[:5]) == list(expected_area.columns)
    area = heatmaps[0]
    assert area.iloc[:4, :5].to_numpy() == pytest.approx(expected_area.to_numpy())
    buildings = heatmaps[list(MATRICES).index("buildings")]
    assert buildings.loc["Total", "Total"] == 979 - 108  # every record but the 108 in no piece (issue 17)
    labels = {button.label for button in page.get("download_button")}
    # The overlap and buildings exports, and the map download row every map page shares (pages/_downloads.py).
    assert labels == {"HTML map", "PNG", "PDF", "GeoPackage", "GeoJSON", "CSV", "Excel", *DOWNLOAD_LABELS.values()}
    assert len(page.get("download_button")) == 14 + len(DOWNLOAD_LABELS)


def test_share_views_and_sliver_threshold(page: AppTest) -> None:
    page.segmented_control(key="overlap_view").set_value("rows").run()
    assert not page.exception
    shares = page.dataframe[0].value
    assert shares.shape == (4, 5)
    assert shares.sum(axis=1).tolist() == pytest.approx([1.0] * 4)
    page.number_input(key="overlap_sliver_ha").set_value(0.0).run()
    assert not page.exception
    assert "16** overlap pieces, 0 slivers" in page.markdown[0].value
