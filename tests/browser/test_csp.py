"""Headless Chromium: the Content-Security-Policy is sent and enforced; an upload works under it."""

from __future__ import annotations

import pytest
from dash.testing.wait import until

from tests.conftest import ROOT, free_port

pytestmark = pytest.mark.browser


def _csp_messages(logs: list[dict]) -> list[str]:
    return [e["message"] for e in logs if "Content Security Policy" in e.get("message", "")
            or "Refused to" in e.get("message", "")]


def test_the_policy_is_sent_and_enforced(dash_duo, settings, app_factory, browser_errors):
    """The policy is in the response and the browser enforces it: an injected inline script is refused and
    reported. (Every page, in both themes, is loaded under this policy with no violation and no console error in
    ``test_maps.py``'s check of the requests each page makes.)"""
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.driver.set_script_timeout(120)  # the fetch below waits for the server (slow on a busy machine)
    csp = dash_duo.driver.execute_script(
        "return fetch('/').then(r => r.headers.get('content-security-policy'))")
    assert "script-src 'self' 'sha256-" in csp and "'unsafe-inline'" not in csp.split("style-src")[0]
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/data", timeout=30)
    dash_duo.wait_for_element("#data-summary-table", timeout=40)
    logs = dash_duo.get_logs() or []
    assert _csp_messages(logs) == [] and [e for e in logs if e.get("level") == "SEVERE"] == [], logs
    # a violation is seen: the policy is enforced and the check above would have caught one
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
