"""Headless Chromium: /segments loads, changing k re-segments, the URL follows, no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until
from selenium.webdriver.common.keys import Keys

from tests.conftest import free_port

pytestmark = pytest.mark.browser


def test_segments_page_change_k(dash_duo, settings, app_factory):
    app = app_factory(settings, start_live=False)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/segments?k=6&utm=x", timeout=30)
    dash_duo.wait_for_contains_text("#segments-summary", "k = 6", timeout=120)
    assert "Campeones" in dash_duo.find_element("#segments-profile").text
    dash_duo.wait_for_element("#segments-sankey .main-svg", timeout=30)
    rows = dash_duo.find_elements("#segments-profile tbody tr")
    assert len(rows) == 6
    # change k to 4 with the slider (keyboard on its thumb: two steps left)
    thumb = dash_duo.find_element("#segments-k [role='slider']")
    thumb.send_keys(Keys.ARROW_LEFT)
    thumb.send_keys(Keys.ARROW_LEFT)
    dash_duo.wait_for_contains_text("#segments-summary", "k = 4", timeout=120)
    until(lambda: len(dash_duo.find_elements("#segments-profile tbody tr")) == 4, timeout=30)
    until(lambda: "k=4" in dash_duo.driver.current_url, timeout=10)
    # the theme switch restyles the segment charts too (not only on their next run)
    bg = "return document.querySelector('#segments-curves .main-svg').style.background"
    assert dash_duo.driver.execute_script(bg) in ("white", "rgb(255, 255, 255)")
    dash_duo.find_element("#shell-theme-switch").click()
    until(lambda: dash_duo.driver.execute_script(bg) == "rgb(33, 37, 41)", timeout=60)
    assert "k = 4" in dash_duo.find_element("#segments-summary").text
    assert dash_duo.get_logs() == []
