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


def test_custom_scenario_from_scenarios_and_an_on_hand_upload(dash_duo, settings, app_factory, browser_errors,
                                                              tmp_path):
    """/scenarios' "see the effect on stock" link opens /demand with the scenario's query string; the affected
    DCs are compared; an uploaded on-hand CSV adds days of cover and lists its rejected row. Its own cache folder:
    background jobs an earlier test's server left running in this process hold the shared folder's job slots."""
    app = app_factory(settings.replace(cache_dir=tmp_path / "cache"), start_live=False)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/scenarios?blockade_days=20&blockade_regions=PE-PUN", timeout=30)
    until(lambda: "blockade_days=20" in (dash_duo.find_element("#scenarios-stock-link").get_attribute("href") or ""),
          timeout=120)
    # the scenario's insights (tornado, mitigations) finish first, as a planner reads them before moving on
    until(lambda: dash_duo.find_element("#scenarios-mitigations").text.strip() != "", timeout=240)
    link = dash_duo.find_element("#scenarios-stock-link")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", link)
    dash_duo.driver.execute_script("arguments[0].click();", link)  # the page's sticky parts may cover it
    until(lambda: "/demand?" in dash_duo.driver.current_url, timeout=30)
    dash_duo.wait_for_contains_text("#demand-summary", "series", timeout=240)
    dash_duo.wait_for_element("#demand-comparison tbody tr", timeout=240)
    assert "blockade_regions=PE-PUN" in dash_duo.driver.current_url
    assert "DC-" in dash_duo.find_element("#demand-comparison tbody").text
    errors = browser_errors(dash_duo)  # the logs are read once: keep what the first half logged
    csv_file = tmp_path / "stock.csv"
    rows = ["origin_dc,category,on_hand_units", "DC-NOWHERE,electronics,5"]
    rows += [f"{d},{c},100" for d in ("DC-LIM",) for c in ("electronics", "fashion")]
    csv_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
    dash_duo.find_element("#demand-on-hand input[type=file]").send_keys(str(csv_file))
    dash_duo.wait_for_contains_text("#demand-on-hand-result", "3", timeout=240)
    result = dash_duo.find_element("#demand-on-hand-result").text
    assert "stock.csv" in result and "unknown series" in result
    assert len(dash_duo.find_elements("#demand-stock thead th")) == 8  # with on hand and days of cover
    errors += browser_errors(dash_duo)
    assert errors == [], errors
