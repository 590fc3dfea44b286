"""The app itself (app.py) in headless Chromium with every outside host blocked."""

from __future__ import annotations

from pathlib import Path

import pytest

from .harness import assert_map_rendered

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]

APP = Path(__file__).resolve().parents[2] / "app.py"


def test_estate_map_page_draws_the_four_neighbourhoods_offline(page, streamlit_app, console_log):
    page.goto(streamlit_app(APP))
    report = assert_map_rendered(page, "app_estate_map", console=console_log)
    # Four neighbourhood polygons are visible; the PCN and ward layers start hidden.
    assert report.interactive_paths >= 4
    assert report.frame.locator(".leaflet-control-layers").count() == 1
    assert "Crown copyright" in report.frame.locator(".leaflet-control-attribution").inner_text()
