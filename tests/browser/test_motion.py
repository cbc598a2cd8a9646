"""Headless Chromium: a visitor whose system asks for less motion gets still loading indicators (Dash's spinners
stopped by the app's stylesheet, Bootstrap's striped bars by Bootstrap's); everyone else sees them move."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest
from dash.testing.wait import until

from benchmarks import screenshots as shots
from tests.conftest import ROOT

pytestmark = pytest.mark.browser

REDUCED = "--force-prefers-reduced-motion"
# in one step: null while no spinner is drawn, else how many animations run inside it
SPINNER_ANIMATIONS = ("const s = document.querySelector('.dash-spinner'); if (!s) return null;"
                      "return document.getAnimations().filter(a => a.playState === 'running' && a.effect"
                      " && a.effect.target && s.contains(a.effect.target)).length;")
BAR_ANIMATIONS = ("return document.getAnimations().filter(a => a.playState === 'running' && a.effect"
                  " && a.effect.target && a.effect.target.closest && a.effect.target.closest('.progress')).length;")


def _app():
    """The app's own stylesheets (assets/) around a dcc.Loading whose callback takes a few seconds, and one of
    the moving bars the app shows while a computation runs."""
    import dash_bootstrap_components as dbc
    from dash import Dash, Input, Output, dcc, html

    app = Dash(__name__, assets_folder=str(ROOT / "assets"))
    app.layout = html.Div([html.Button("go", id="go"), dcc.Loading(html.Div("idle", id="out")),
                           dbc.Progress(value=100, striped=True, animated=True, style={"height": "6px"})])

    @app.callback(Output("out", "children"), Input("go", "n_clicks"), prevent_initial_call=True)
    def slow(n: int) -> str:
        time.sleep(4)
        return f"done {n}"

    return app


def _animations_while_busy(*flags: str) -> tuple[int, int]:
    """(animations running in the spinner while the callback runs, animations running in the striped bar)."""
    with shots.Server.of(_app().server) as srv, tempfile.TemporaryDirectory() as profile:
        driver = shots.chromium(1000, 700, Path(profile), *flags)
        try:
            driver.get(srv.url + "/")
            until(lambda: driver.execute_script("return document.getElementById('go') !== null"), timeout=30)
            bar = driver.execute_script(BAR_ANIMATIONS)
            driver.execute_script("document.getElementById('go').click()")
            spinning, deadline = None, time.monotonic() + 30
            while spinning is None and time.monotonic() < deadline:
                spinning = driver.execute_script(SPINNER_ANIMATIONS)
                time.sleep(0.05)
            assert spinning is not None, "no spinner was drawn while the callback ran"
            until(lambda: "done" in driver.execute_script("return document.getElementById('out').innerText"),
                  timeout=30)
            return int(spinning), int(bar)
        finally:
            driver.quit()


def test_spinners_and_bars_stand_still_for_reduced_motion():
    assert _animations_while_busy(REDUCED) == (0, 0)


def test_control_they_move_by_default():
    """Without the preference the same page animates both: the check above would see a moving spinner."""
    spinning, bar = _animations_while_busy()
    assert spinning > 0 and bar > 0
