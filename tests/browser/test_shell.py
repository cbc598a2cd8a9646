"""Headless Chromium: the Overview and Data pages render, react, and log no console errors."""

from __future__ import annotations

from datetime import date

import pytest
from dash.testing.wait import until

from tests.conftest import free_port

pytestmark = pytest.mark.browser


def test_overview_page(dash_duo, settings, app_factory, browser_errors, monkeypatch):
    import threading

    import callbacks.overview as overview_callbacks

    # the query for one date range is held until released: a slow first query (the first one after a data change
    # can take a minute on Spark), to see what the page says meanwhile
    held, release, started = date(2024, 3, 5), threading.Event(), threading.Event()
    real = overview_callbacks.overview

    def slow_for_one_range(engine, flt):
        if flt.start == held:
            started.set()
            release.wait(120)
        return real(engine, flt)

    monkeypatch.setattr(overview_callbacks, "overview", slow_for_one_range)
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_text_to_equal("#shell-navbar .navbar-brand span", "Chasqui", timeout=60)
    dash_duo.wait_for_contains_text("#overview-kpis", "60,000", timeout=60)
    # the region chart is drawn from data (Lima first)
    dash_duo.wait_for_element("#overview-regions .main-svg", timeout=60)
    # navigation links for every page
    links = [a.get_attribute("href") for a in dash_duo.find_elements("#shell-navbar a.nav-link")]
    for path in ("/logistics", "/segments", "/scenarios", "/traceability", "/sourcing", "/data"):
        assert any(h.endswith(path) for h in links), path
    # a shareable URL with a date range filters the numbers
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/?start=2024-01-01&end=2024-01-31", timeout=60)
    dash_duo.wait_for_element("#overview-kpis", timeout=60)
    dash_duo.wait_for_text_to_equal("#overview-kpis .card .text-uppercase", "PEDIDOS", timeout=60)
    text = dash_duo.find_element("#overview-kpis").text
    assert "60,000" not in text
    assert not dash_duo.find_element("#overview-slow").is_displayed()  # quick answers never show the note
    # while a query runs, a note with a moving bar says what is being prepared: it appears only after a second
    # and goes when the answer comes
    note = "#overview-slow"
    try:
        # a date range of its own, so that no earlier test's result is in the result cache
        dash_duo.wait_for_page(url=f"{dash_duo.server_url}/?start={held}&end=2024-03-09", timeout=60)
        until(started.is_set, timeout=60)
        until(lambda: dash_duo.find_element(note).is_displayed(), timeout=30)
        assert "Preparando los datos" in dash_duo.find_element(note).text
        assert dash_duo.find_element(f"{note} .progress-bar-animated") is not None
    finally:
        release.set()
    dash_duo.wait_for_text_to_equal("#overview-kpis .card .text-uppercase", "PEDIDOS", timeout=60)
    until(lambda: "d-none" in dash_duo.find_element(note).get_attribute("class").split(), timeout=30)
    assert not dash_duo.find_element(note).is_displayed()
    assert browser_errors(dash_duo) == []


def test_language_switch_and_data_page(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/data", timeout=60)
    dash_duo.wait_for_contains_text("#data-summary-table", "orders", timeout=60)
    assert "60,000" in dash_duo.find_element("#data-summary-table").text
    assert "Conjuntos de datos" in dash_duo.find_element("body").text
    # switch to English: the cookie is set and the page reloads in English
    dash_duo.find_element("#shell-lang-switch label[for$='1'], #shell-lang-switch input[value='en']").click()
    dash_duo.wait_for_contains_text("body", "Datasets", timeout=60)
    # a table's item draws its columns and rules when it is opened, and lets them go when it is closed
    dash_duo.wait_for_contains_text("#data-summary-table", "orders", timeout=60)
    body = '[id*="data-table-body"][id*="orders"]'
    assert dash_duo.find_element(body).text == ""
    button = dash_duo.find_element(f"#data-accordion .accordion-item:has({body}) .accordion-button")
    dash_duo.driver.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    dash_duo.wait_for_contains_text(body, "amount_pen", timeout=30)
    assert "Float64" in dash_duo.find_element(body).text
    dash_duo.driver.execute_script("arguments[0].click();", button)  # where it is drawn moves while it opens
    until(lambda: dash_duo.find_element(body).text == "", timeout=15)
    assert browser_errors(dash_duo) == []


def test_theme_switch_restyles_page_and_charts(dash_duo, settings, app_factory, browser_errors):
    app = app_factory(settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_element("#overview-trend .main-svg", timeout=60)
    dash_duo.find_element("#shell-theme-switch").click()
    until(lambda: dash_duo.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')") == "dark", timeout=10)
    # the chart is redrawn with the dark template
    until(lambda: dash_duo.driver.execute_script(
        "return document.querySelector('#overview-trend .main-svg').style.background") in
        ("rgb(33, 37, 41)",), timeout=15)
    # the choice survives a reload (local storage)
    dash_duo.driver.refresh()
    until(lambda: dash_duo.driver.execute_script(
        "return document.documentElement.getAttribute('data-bs-theme')") == "dark", timeout=15)
    assert browser_errors(dash_duo) == []

