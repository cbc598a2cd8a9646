"""Headless Chromium: the Scenarios page loads, a preset drives the simulation, no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.conftest import free_port

pytestmark = pytest.mark.browser


LATE_RATE = "#scenarios-kpis [data-metric='late_rate']"


def settled_text(dash_duo, selector: str) -> str | None:
    """The element's text once no callback is in flight (None until then), read in one step: Dash may render
    the element again between finding it and reading it."""
    return dash_duo.driver.execute_script(
        "if (document.querySelector('[data-dash-is-loading=\"true\"]')) return null;"
        "const el = document.querySelector(arguments[0]); return el ? el.innerText : null;", selector)


def test_scenarios_page(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/scenarios?fuel_pct=10&unknown=1", timeout=30)
    dash_duo.wait_for_element(LATE_RATE, timeout=60)
    base_text = until(lambda: settled_text(dash_duo, LATE_RATE), timeout=60)
    # choose the southern blockade preset: controls change, results recompute, URL carries inputs
    dash_duo.select_dcc_dropdown("#scenarios-preset", value="blockade-south-2022")
    until(lambda: "blockade_days=81" in dash_duo.driver.current_url, timeout=60)
    until(lambda: settled_text(dash_duo, LATE_RATE) not in (None, base_text), timeout=60)
    assert "PE-PUN" in dash_duo.driver.current_url
    dash_duo.wait_for_element("#scenarios-tornado-fig .main-svg", timeout=60)
    # mitigations name the blockaded regions in words (Puno, not PE-PUN)
    dash_duo.wait_for_contains_text("#scenarios-mitigations", "Puno", timeout=60)
    assert browser_errors(dash_duo) == []
