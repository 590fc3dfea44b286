"""The one-page area profile (estates.maps.profile_sheet) on the real demo estate: what the page says equals what
the profiles compute, every part is whole and nothing overlaps; the CLI writes it; a place without neighbourhoods
profiles its PCNs."""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
import sys
import zlib
from itertools import combinations
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.transforms import Bbox

from estates.analysis.profiles import area_profiles, estate_breakdown
from estates.estate import current_sites
from estates.maps.profile_sheet import UnknownAreaError, profile_areas, profile_sheet
from estates.schema import STATUSES
from estates.service import Estate
from geo.place import load_place

ROOT = Path(__file__).resolve().parents[1]
DAY = dt.date(2026, 12, 5)


@pytest.fixture(scope="module")
def estate() -> Estate:
    return current_sites(use_store=False)


def _texts(fig: Figure, gid: str) -> list[str]:
    return [t.get_text() for t in fig.findobj() if getattr(t, "get_gid", lambda: None)() == gid
            and hasattr(t, "get_text")]


def _boxes(fig: Figure) -> dict[str, Bbox]:
    """Window extent of each part of the page (its texts and axes together)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    parts: dict[str, list[Bbox]] = {}
    for artist in fig.get_children():
        gid = artist.get_gid()
        if gid is None:
            continue
        group = gid.split("-")[0] if gid.startswith(("headline", "breakdown", "colocation")) else gid
        box = artist.get_tightbbox(renderer) if hasattr(artist, "get_tightbbox") else artist.get_window_extent()
        parts.setdefault(group, []).append(box)
    return {name: Bbox.union(boxes) for name, boxes in parts.items()}


def _north(estate: Estate) -> pd.DataFrame:
    return estate.records[estate.records["neighbourhood"].astype("object") == "North"]


def test_north_profile_says_what_the_profiles_compute(estate: Estate) -> None:
    fig = profile_sheet(estate, area_kind="neighbourhood", area_name="North", on=DAY)

    records = _north(estate)
    expected = area_profiles(records, "neighbourhood").set_index("area").loc["North"]
    sites = estate.sites[estate.sites["site_id"].isin(records["site_id"])]
    assert _texts(fig, "title") == ["North neighbourhood, Trafford"]
    assert _texts(fig, "date") == ["Profile at 5 December 2026"]
    assert "place-based pilot: Old Trafford & Stretford" in _texts(fig, "subtitle")[0]
    values = _texts(fig, "headline-value")
    assert values == [f"{expected['population']:,.0f}", f"{expected['lsoas']:,}", f"{expected['imd_score']:.1f}",
                      f"{expected['most_deprived_20pct_share']:.0%}", f"{len(sites):,}",
                      f"{int((sites['status'] == 'surplus').sum()):,}", f"{expected['gia_m2']:,.0f} m²",
                      expected["most_deprived_lsoa"]]
    assert values[0] == "61,147"
    assert values[4] == "128"
    assert f"{len(records):,} register records" in " ".join(_texts(fig, "headline-note")).replace("\n", " ")

    # Legends whole: every status with its count of sites, all ten deciles.
    legend = next(a for a in fig.legends if a.get_gid() == "legend")
    assert [t.get_text() for t in legend.get_texts()] == [
        f"{s} ({int((sites['status'] == s).sum()):,})" for s in STATUSES]
    imd = next(a for a in fig.legends if a.get_gid() == "imd-legend")
    assert [t.get_text() for t in imd.get_texts()] == [str(d) for d in range(1, 11)]
    # Every bar labelled with its partner's full name and its count.
    chart = next(a for a in fig.axes if a.get_gid() == "breakdown")
    partners = estate_breakdown(records).query("partner != 'total'")
    assert [t.get_text().replace("\n", " ") for t in chart.get_yticklabels()] == partners["partner"].tolist()
    totals = [t.get_text() for t in chart.texts if t.get_gid() == "breakdown-total"]
    assert totals == [f"{n:,}" for n in partners["buildings"]]
    # Five clusters in the table and numbered on the map.
    table = " ".join(_texts(fig, "colocation"))
    assert "TRAFFORD DRUG SERVICE" in table
    assert "Trafford 001G (2)" in table
    map_axes = next(a for a in fig.axes if a.get_gid() == "map")
    assert sorted(t.get_text() for t in map_axes.texts if t.get_gid() == "cluster-label") == list("12345")
    assert {"scale-bar", "north-arrow"} <= {a.get_gid() for a in map_axes.get_children()}
    assert "Crown copyright" in _texts(fig, "attribution")[0]


def test_the_parts_of_the_page_are_on_it_and_do_not_overlap(estate: Estate) -> None:
    for kind, name in (("neighbourhood", "North"), ("pcn", "Altrincham Healthcare Alliance PCN")):
        fig = profile_sheet(estate, area_kind=kind, area_name=name, on=DAY)
        boxes = _boxes(fig)
        page = fig.bbox
        assert {"title", "date", "map", "headline", "legend", "imd-legend", "breakdown", "colocation", "sources",
                "attribution"} <= set(boxes)
        for part, box in boxes.items():
            assert page.contains(box.x0, box.y0), (name, part)
            assert page.contains(box.x1, box.y1), (name, part)
        for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
            if {a, b} == {"legend", "legend-lines"}:
                continue
            assert not box_a.overlaps(box_b), (name, a, b)


def test_a_pcn_profile_and_filters_said_on_the_page(estate: Estate) -> None:
    from estates.analysis.filters import Filters

    fig = profile_sheet(estate, area_kind="pcn", area_name="North Trafford PCN", on=DAY,
                        filters=Filters(partners=("Trafford Council",), pcns=("Sale Central PCN",)))

    records = estate.records[(estate.records["pcn_name"].astype("object") == "North Trafford PCN")
                             & (estate.records["partner"] == "Trafford Council")]
    expected = area_profiles(records, "pcn").set_index("area").loc["North Trafford PCN"]
    assert _texts(fig, "title") == ["North Trafford PCN, Trafford"]
    subtitle = _texts(fig, "subtitle")[0]
    assert "Partner: Trafford Council" in subtitle
    assert "Sale Central" not in subtitle
    assert _texts(fig, "headline-value")[0] == f"{expected['population']:,.0f}"
    chart = next(a for a in fig.axes if a.get_gid() == "breakdown")
    assert [t.get_text() for t in chart.get_yticklabels()] == ["Trafford Council"]


def test_unknown_areas_are_refused_with_the_valid_ones(estate: Estate) -> None:
    with pytest.raises(UnknownAreaError, match="'Nowhere' is not a neighbourhood of Trafford; choose one of: "
                                               "Central; North; South; West"):
        profile_sheet(estate, area_kind="neighbourhood", area_name="Nowhere")
    with pytest.raises(UnknownAreaError, match="North Trafford PCN"):
        profile_sheet(estate, area_kind="pcn", area_name="North")


def _stockport_estate() -> Estate:
    from estates.classification import classify, load_rules
    from estates.ingest import run_pipeline
    from estates.service import estate_from_records

    place = load_place("stockport")
    pipeline = run_pipeline(place.path("config", "registers"), progress=False, place=place)
    records = pipeline.records[pipeline.records["outcome"].astype("str") != "rejected"].reset_index(drop=True)
    rules = classify(records, load_rules(place.path("config", "classification")))
    records = records.assign(rule_status=rules["rule_status"].astype("str").to_numpy(),
                             rule_id=rules["rule_id"].astype("str").to_numpy(),
                             rule_explanation=rules["explanation"].astype("str").to_numpy())
    return estate_from_records(records, pipeline.sites, place.outside_column)


def test_a_stockport_pcn_profile_works_without_neighbourhoods() -> None:
    place = load_place("stockport")
    estate = _stockport_estate()

    assert profile_areas("neighbourhood", place=place) == []
    with pytest.raises(UnknownAreaError, match="Stockport has no neighbourhood layer.*profile a PCN instead: "
                                               ".*Victoria PCN"):
        profile_sheet(estate, place=place, area_kind="neighbourhood", area_name="North")
    fig = profile_sheet(estate, place=place, area_kind="pcn", area_name="Victoria PCN", on=DAY)

    records = estate.records[estate.records["pcn_name"].astype("object") == "Victoria PCN"]
    assert _texts(fig, "title") == ["Victoria PCN, Stockport"]
    values = _texts(fig, "headline-value")
    # Stockport's LSOA file has no population: residents and the weighted measures are not available, never 0.
    assert values[0] == values[2] == values[3] == "not available"
    assert values[1] == str(area_profiles(records, "pcn", place=place).set_index("area").loc["Victoria PCN",
                                                                                                "lsoas"])
    assert values[4] == f"{records['site_id'].nunique():,}"
    assert int(values[4]) > 0
    assert values[6] == "not available"  # no Stockport register records floor area


def _pdf_text(data: bytes) -> str:
    """The text of each text object in a PDF's (zlib-compressed) content streams, one per line."""
    found = []
    for stream in re.finditer(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S):
        try:
            content = zlib.decompress(stream.group(1))
        except zlib.error:
            continue
        for block in re.findall(rb"BT\b(.*?)\bET", content, re.S):
            found.append(b"".join(re.findall(rb"\(((?:\\.|[^\\)])*)\)", block)).decode("latin-1"))
    return "\n".join(found)


def _cli(*args: str, place: str = "trafford") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ESTATES_PLACE": place}
    return subprocess.run([sys.executable, "-m", "estates", "export", "profile", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_writes_the_profile_pdf_and_refuses_unknown_areas(tmp_path: Path) -> None:
    out = tmp_path / "north.pdf"
    result = _cli("--neighbourhood", "North", "--out", str(out), "--no-store")
    assert result.returncode == 0, result.stderr
    data = out.read_bytes()
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b(?!s)", data)) == 1
    text = _pdf_text(data)
    assert "North neighbourhood, Tra" in text
    assert "Top co-location opportunities" in text

    png = tmp_path / "pcn.png"
    assert _cli("--pcn", "North Trafford PCN", "--out", str(png), "--no-store").returncode == 0
    assert png.read_bytes().startswith(b"\x89PNG")

    bad = _cli("--neighbourhood", "Nowhere", "--out", str(tmp_path / "x.pdf"))
    assert bad.returncode == 2
    assert bad.stderr.strip().splitlines() == [
        "error: 'Nowhere' is not a neighbourhood of Trafford; choose one of: Central; North; South; West"]
    assert not (tmp_path / "x.pdf").exists()
    stockport = _cli("--neighbourhood", "North", "--out", str(tmp_path / "s.pdf"), place="stockport")
    assert stockport.returncode == 2
    assert len(stockport.stderr.strip().splitlines()) == 1
    assert "no neighbourhood layer" in stockport.stderr
    assert "Victoria PCN" in stockport.stderr


def test_the_pages_helper_leaves_matplotlib_out_of_the_app_start() -> None:
    code = "import sys, pages._profile_sheet; print('matplotlib' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
