"""Headless Chromium: the maps of Peru draw offline (no request leaves the app's host on any page) and a click
on a region of the Logistics map drills down."""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from benchmarks import screenshots as shots
from tests.conftest import free_port

pytestmark = pytest.mark.browser


@dataclass
class Seen:
    """What the browser asked for while visiting pages."""

    local: list[str] = field(default_factory=list)
    foreign: list[str] = field(default_factory=list)  # requests that left the app's host
    refused: list[str] = field(default_factory=list)  # requests the page tried and the CSP refused
    csp: list[str] = field(default_factory=list)  # any Content-Security-Policy violation the console reported
    severe: list[str] = field(default_factory=list)  # console errors
    animated: list[str] = field(default_factory=list)  # CSS animations still running once the page has drawn


# an endless animation on a page that has finished keeps the browser redrawing (a core, a laptop's battery)
RUNNING_ANIMATIONS = ("return document.getAnimations().filter(a => a.playState === 'running')"
                      ".map(a => (a.animationName || 'animation') + ' on ' + "
                      "(a.effect && a.effect.target ? (a.effect.target.id || a.effect.target.className) : '?'));")


def visit(data_dir: Path, pages: tuple[shots.Page, ...], themes: tuple[str, ...] = ("light",)) -> Seen:
    """Serve the app on ``data_dir`` and load every page in every theme, recording the network and console."""
    seen = Seen()
    with tempfile.TemporaryDirectory() as cache, shots.Server(data_dir, Path(cache)) as srv, \
            tempfile.TemporaryDirectory() as profile:
        driver = shots.chromium(1280, 1000, Path(profile))
        try:
            for theme in themes:
                shots.set_theme(driver, srv.url, theme)
                for i, page in enumerate(pages):
                    if i == 0:  # the app loaded once per theme, then every page reached as its link reaches it
                        driver.get(srv.url + page.path)
                        shots.settle(driver, page.ready, timeout=90)
                    else:
                        shots.navigate(driver, page.path, page.ready, timeout=90)
                    time.sleep(0.5)
                    urls = shots.requested_urls(driver)
                    seen.foreign += shots.foreign(urls, srv.url)
                    seen.local += [u for u in urls if u.startswith(srv.url)]
                    logs = driver.get_log("browser")
                    seen.refused += [e["message"] for e in logs
                                     if re.search(r"Refused to (connect|load)", e.get("message", ""))]
                    seen.csp += [f"{theme} {page.path}: {e['message']}" for e in logs
                                 if "Content Security Policy" in e.get("message", "")
                                 or "Refused to" in e.get("message", "")]
                    seen.severe += [f"{theme} {page.path}: {e['message']}" for e in logs if e.get("level") == "SEVERE"]
                    seen.animated += [f"{theme} {page.path}: {a}" for a in driver.execute_script(RUNNING_ANIMATIONS)]
        finally:
            driver.quit()
    return seen


def test_no_page_sends_a_request_off_the_app_host(trained_dir):
    """Every page (light and dark; the app loaded once per theme, then each page reached in place as its navbar
    link reaches it), maps included, served with the app's Content-Security-Policy: nothing is
    fetched from another host, nothing is refused, no policy violation and no error in the console; once drawn,
    no page keeps an animation running (a progress bar animates only while its job runs)."""
    seen = visit(trained_dir, shots.all_pages(), ("light", "dark"))
    assert seen.foreign == [] and seen.refused == []
    assert seen.csp == [] and seen.severe == []
    assert seen.animated == []
    # the maps asked plotly's base-layer topology from the app itself, and drew from the shipped outlines
    assert any(u.endswith("/assets/plotly-geo/world_110m.json") for u in seen.local)
    assert len(seen.local) > 50  # the check watched real traffic (bundles, callbacks, assets)


def test_the_check_catches_a_map_that_would_reach_a_cdn(trained_dir, monkeypatch):
    """Control: without the app's own topojsonURL, plotly.js reaches for cdn.plot.ly and the check above sees it."""
    from components import maps

    monkeypatch.setattr(maps, "graph_config", lambda **extra: {"displaylogo": False, **extra})
    overview = next(p for p in shots.PAGES if p.name == "overview")
    seen = visit(trained_dir, (shots.Page(overview.name, overview.path, "#overview-map .main-svg"),))
    assert any("cdn.plot.ly" in x for x in seen.foreign + seen.refused), (seen.foreign, seen.refused)


def test_click_on_a_region_drills_down(dash_duo, trained_settings, app_factory, browser_errors):
    from selenium.webdriver.common.action_chains import ActionChains

    app = app_factory(trained_settings)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_page(url=f"{dash_duo.server_url}/logistics?start=2024-10-01&end=2024-12-31", timeout=30)
    dash_duo.wait_for_element("#logistics-map .choroplethlocation", timeout=60)
    dash_duo.wait_for_contains_text("#logistics-drill-title", "Haga clic en una región", timeout=30)
    assert "Haga clic en una región del mapa o del ranking" in dash_duo.find_element("#logistics-heat").text
    # click where Puno is drawn (its name sits inside it)
    label = next(el for el in dash_duo.find_elements("#logistics-map .scattergeo text") if el.text == "Puno")
    ActionChains(dash_duo.driver).move_to_element(label).click().perform()
    dash_duo.wait_for_contains_text("#logistics-drill-title", "Detalle de Puno", timeout=30)
    dash_duo.wait_for_element("#logistics-heat .heatmaplayer", timeout=30)
    assert "region=PE-PUN" in dash_duo.driver.current_url
    # and a bar of the ranking drills down just the same
    bars = dash_duo.find_elements("#logistics-ranking .barlayer .point")
    ranked = [el.text for el in dash_duo.find_elements("#logistics-ranking .ytick text")]
    assert len(bars) == len(ranked) == 25
    target = ranked[-1]  # plotly writes the y ticks bottom-up; the top bar is the last tick
    ActionChains(dash_duo.driver).move_to_element(bars[-1]).click().perform()
    dash_duo.wait_for_contains_text("#logistics-drill-title", f"Detalle de {target}", timeout=30)
    assert browser_errors(dash_duo) == []
