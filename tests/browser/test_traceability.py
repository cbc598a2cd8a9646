"""Headless Chromium: /traceability?lot=... opens the lot, a search opens another, no console errors."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.conftest import free_port

pytestmark = pytest.mark.browser


def test_traceability_page(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/traceability?lot=AR-LAL-24001&utm=x", timeout=30)
    dash_duo.wait_for_contains_text("#trace-verdict", "verificado", timeout=60)
    dash_duo.wait_for_element("#trace-qr img", timeout=30)
    dash_duo.wait_for_element("#trace-map .main-svg", timeout=30)
    # the shelf-life panel answers for the open lot (this dataset has no shelf-life model yet)
    dash_duo.wait_for_contains_text("#trace-shelf", "python app.py train", timeout=60)
    assert "AR-LAL-24001" in dash_duo.find_element("#trace-summary").text
    # search another lot (a merged coffee lot) with a hostile-looking GTIN-free query first
    box = dash_duo.find_element("#trace-query")
    box.clear()
    box.send_keys("<b>x</b>")
    dash_duo.find_element("#trace-search").click()
    dash_duo.wait_for_contains_text("#trace-status", "<b>x</b>", timeout=30)
    box.clear()
    box.send_keys("CFT-LIM-23002")
    dash_duo.find_element("#trace-search").click()
    until(lambda: "CFT-LIM-23002" in dash_duo.find_element("#trace-summary").text, timeout=60)
    dash_duo.wait_for_contains_text("#trace-recall", "CF-", timeout=30)
    assert browser_errors(dash_duo) == []
