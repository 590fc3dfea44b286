"""The pages' shared chart and table helpers (pages/_charts.py, estates.app_data.table_columns) on the real estate."""

from __future__ import annotations

import pandas as pd
import pytest

from estates.analysis.profiles import area_profiles, estate_breakdown
from estates.app_data import column_label, table_columns
from estates.estate import current_estate
from estates.maps import STATUS_COLOURS
from estates.schema import STATUSES
from pages._charts import WRAP_CHARACTERS, bar_chart, wrap_label


@pytest.fixture(scope="module")
def demo_records() -> pd.DataFrame:
    return current_estate(use_store=False)


def test_wrap_label_breaks_at_spaces_and_never_cuts() -> None:
    name = "Greater Manchester West Mental Health NHS FT (GMW)"
    lines = wrap_label(name).split("\n")

    assert len(lines) > 1
    assert all(len(line) <= WRAP_CHARACTERS for line in lines)
    assert " ".join(lines) == name
    assert wrap_label("Trafford") == "Trafford"


def test_every_partner_of_the_breakdown_is_a_labelled_bar(demo_records: pd.DataFrame) -> None:
    breakdown = estate_breakdown(demo_records)
    rows = breakdown[breakdown["partner"] != "total"]
    spec = bar_chart(rows, category="partner", values=list(STATUSES), title="Buildings", colours=STATUS_COLOURS,
                     legend_title="Status").to_dict()
    bars, ends = spec["layer"]
    axis = bars["encoding"]["y"]["axis"]

    # Every bar keeps its label: no thinning of overlapping labels, no length limit, one row per bar.
    assert axis["labelOverlap"] is False
    assert axis["labelLimit"] == 0
    assert bars["encoding"]["y"]["sort"] == [wrap_label(p) for p in rows["partner"]]
    assert len(rows) >= 15
    assert spec["height"]["step"] >= 2 * 14  # the longest name's lines fit its row
    legend = bars["encoding"]["color"]["legend"]
    assert legend["labelLimit"] == 0
    assert legend["titleLimit"] == 0
    assert legend["title"] == "Status"
    assert bars["encoding"]["color"]["scale"]["domain"] == list(STATUSES)
    # The data carries the full names and the bar totals agree with the table.
    data = pd.DataFrame(next(iter(spec["datasets"].values())))
    assert set(data["name"]) == set(rows["partner"])
    totals = pd.DataFrame(spec["datasets"][ends["data"]["name"]])
    assert totals["total"].astype(int).tolist() == rows["buildings"].astype(int).tolist()


def test_bar_chart_refuses_repeated_names() -> None:
    with pytest.raises(ValueError, match="names repeat"):
        bar_chart(pd.DataFrame({"a": ["x", "x"], "v": [1, 2]}), category="a", values="v", title="t", colours="#000")


def test_tables_show_words_formatted_numbers_and_ids_last(demo_records: pd.DataFrame) -> None:
    profiles = area_profiles(demo_records, "pcn")
    shown = {c.name: c for c in table_columns(profiles)}

    assert shown["population"].label == "Residents"
    assert shown["population"].number_format == "%,.0f"
    assert shown["most_deprived_20pct_share"].number_format == "percent"
    assert shown["imd_score"].number_format == "%.1f"
    assert not any(c.label.startswith("imd_") or "_" in c.label for c in shown.values())

    frame = pd.DataFrame({"building_id": ["trafford-libraries:~d82a0eb51c9d"], "name": ["Stretford Library"],
                          "source_row": [69.0], "distance_m": [146.7], "residents": [190.7499659118628]})
    columns = table_columns(frame)
    assert [c.name for c in columns] == ["name", "source_row", "distance_m", "residents", "building_id"]
    assert columns[-1].is_id
    assert columns[-1].label == "Record id"
    assert {c.name: c.number_format for c in columns}["source_row"] == "%d"
    assert column_label("distance_m") == "Distance (m)"
    assert column_label("imd_rank") == "IMD rank (1 = most deprived)"
