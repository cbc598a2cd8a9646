"""Headless Chromium: /demand loads (a sentence, then the chart and tables), a scenario preset from the URL shows the
affected DCs side by side, choosing a DC redraws and the URL follows, no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.conftest import free_port

pytestmark = pytest.mark.browser


def test_demand_page(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings, start_live=False)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/demand?scenario=blockade-south-2022&utm=x", timeout=30)
    # the first run fits the models (background job with progress): the summary appears when it is done
    dash_duo.wait_for_contains_text("#demand-summary", "series", timeout=240)
    dash_duo.wait_for_element("#demand-chart .main-svg .scatterlayer .trace", timeout=30)
    assert len(dash_duo.find_elements("#demand-chart .scatterlayer .trace")) == 3  # band, actuals, P50
    assert len(dash_duo.find_elements("#demand-backtest tbody tr")) == 3  # the candidate models
    stock_rows = dash_duo.find_elements("#demand-stock tbody tr")
    assert len(stock_rows) >= 1
    assert "DC-AQP" in dash_duo.find_element("#demand-comparison").text
    until(lambda: "scenario=blockade-south-2022" in dash_duo.driver.current_url, timeout=30)
    until(lambda: "dc=DC-" in dash_duo.driver.current_url and "level=0.95" in dash_duo.driver.current_url,
          timeout=30)
    # choose another DC: the chart's title and the stock table follow, so does the URL
    dash_duo.select_dcc_dropdown("#demand-dc", value="DC-CUZ")
    dash_duo.wait_for_contains_text("#demand-stock h5", "DC-CUZ", timeout=120)
    until(lambda: "dc=DC-CUZ" in dash_duo.driver.current_url, timeout=30)
    assert browser_errors(dash_duo) == []
