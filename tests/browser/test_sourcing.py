"""Headless Chromium: /sourcing loads from a shareable URL, reacts to the ingredient picker, no errors."""

from __future__ import annotations

import polars as pl
import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from analytics import storage
from tests.conftest import free_port

pytestmark = pytest.mark.browser


def test_sourcing_page(dash_duo, settings, app_factory, browser_errors) -> None:
    suppliers = storage.load_table(settings.data_dir, "sourcing_suppliers").frame
    cheapest = suppliers.filter(pl.col("ingredient_id") == "cacao").sort("price_pen_kg")["name"][0]
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/sourcing?ing=cacao&w=0,100,0,0", timeout=30)
    dash_duo.wait_for_contains_text("#sourcing-grid", cheapest, timeout=30)
    first = dash_duo.find_element("#sourcing-grid .ag-center-cols-container .ag-row[row-index='0']")
    assert cheapest in first.text
    dash_duo.wait_for_contains_text("#sourcing-menu-result", "S/", timeout=30)
    # main interaction: add an ingredient with the picker; the ranking, charts and URL follow
    dash_duo.find_element("#sourcing-ingredients").click()
    dash_duo.wait_for_element(".dash-dropdown-search", timeout=10).send_keys("Maca")
    dash_duo.wait_for_element(".dash-dropdown-option input[value='maca']", timeout=10).find_element(
        "xpath", "./ancestor::label").click()
    dash_duo.find_element(".dash-dropdown-search").send_keys(Keys.ESCAPE)
    dash_duo.wait_for_contains_text("#sourcing-grid", "Maca", timeout=30)
    dash_duo.wait_for_element("#sourcing-pareto .main-svg", timeout=60)
    until(lambda: "maca" in dash_duo.driver.current_url, timeout=30)
    assert "ing=cacao%2Cmaca" in dash_duo.driver.current_url or "ing=cacao,maca" in dash_duo.driver.current_url
    assert "Abastecimiento sostenible" in dash_duo.find_element("body").text
    assert browser_errors(dash_duo) == []
