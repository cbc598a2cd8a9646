"""Headless Chromium: every page renders under the Content-Security-Policy with no violation logged."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.browser

PAGES = {
    "/": "#overview-trend .main-svg",
    "/logistics": "#logistics-map .main-svg",
    "/segments": "#segments-curves .main-svg",
    "/scenarios": "#scenarios-regions-fig .main-svg",
    "/traceability": "#trace-query",
    "/sourcing": "#sourcing-pareto .main-svg",
    "/data": "#data-summary-table",
}


def _settled(dash_duo) -> bool:
    """No callback in flight and every Plotly graph on the page drawn."""
    return dash_duo.redux_state_rqs == [] and dash_duo.driver.execute_script(
        "return [...document.querySelectorAll('.js-plotly-plot')].every(g => g.querySelector('.main-svg'))")


def _csp_messages(logs: list[dict]) -> list[str]:
    return [e["message"] for e in logs if "Content Security Policy" in e.get("message", "")
            or "Refused to" in e.get("message", "")]


def test_every_page_runs_under_the_csp(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_script_timeout(120)  # the fetch below waits for the server (slow on a busy machine)
    csp = dash_duo.driver.execute_script(
        "return fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    seen = []
    for path, selector in PAGES.items():
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}{path}", timeout=30)
        dash_duo.wait_for_element(selector, timeout=40)
        until(lambda: _settled(dash_duo), timeout=40)  # late callbacks answered, plotly done drawing
        logs = dash_duo.get_logs() or []
        seen.append(path)
        assert _csp_messages(logs) == [], (path, _csp_messages(logs))
        assert [e for e in logs if e.get("level") == "SEVERE"] == [], (path, logs)
    assert len(seen) == len(PAGES)
    # control: the policy is enforced and a violation would be seen by this test
    dash_duo.driver.execute_script(
        "const s = document.createElement('script'); s.textContent = 'window.__pwned = 1';"
        "document.body.appendChild(s);")
    found: list[str] = []
    until(lambda: found.extend(_csp_messages(dash_duo.get_logs() or [])) or found, timeout=5)
    assert "script-src" in found[0]
    assert dash_duo.driver.execute_script("return window.__pwned === undefined")


def test_data_page_upload_in_the_browser(dash_duo, settings, app_factory, writable_demo_dir, tmp_path,
                                         browser_errors):
    """Drop the DataCo sample on the Data page: imported under the CSP, result shown, no console errors."""

    sample = ROOT / "data" / "fixtures" / "dataco_sample.csv"
    app = app_factory(settings.replace(data_dir=writable_demo_dir, cache_dir=tmp_path / "cache"))
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/data", timeout=30)
    dash_duo.wait_for_element("#data-upload input[type=file]", timeout=30)
    dash_duo.find_element("#data-upload input[type=file]").send_keys(str(sample))
    dash_duo.wait_for_contains_text("#data-upload-result", "rows_in", timeout=90)
    text = dash_duo.find_element("#data-upload-result").text
    rows = len(sample.read_text(encoding="utf-8").splitlines()) - 1
    assert f'"rows_in": {rows}' in text and '"imported"' in text and '"quarantined"' in text
    assert browser_errors(dash_duo) == []
