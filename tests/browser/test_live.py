"""Headless Chromium: the live tiles on the Overview page follow the shared state (how fast: `make bench`)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from analytics.live.coldchain import PRODUCTS
from analytics.live.contracts import decode
from analytics.live.state import LiveStore, Scored
from tests.conftest import free_port
from tests.fixtures.live import enc, order

pytestmark = pytest.mark.browser


def test_live_tiles_follow_the_shared_state(dash_duo, settings, app_factory, browser_errors, tmp_path):
    s = settings.replace(cache_dir=tmp_path / "cache")
    app = app_factory(s, start_live=False)
    dash_duo.start_server(app, port=free_port())
    dash_duo.wait_for_contains_text("#live-section", "Ingresos de hoy", timeout=60)
    dash_duo.wait_for_contains_text("#live-section", "Esperando eventos", timeout=60)
    # the listener (here: the store it writes to) applies an order of S/ 1,234.50 placed now
    store = LiveStore(tmp_path / "cache" / "live", writer=True)
    now = datetime.now(ZoneInfo("America/Lima")).replace(microsecond=0)
    ev = decode("order", enc(order(1, amount_pen=1234.5, created_at=now.isoformat())), PRODUCTS)
    store.apply([Scored(ev, "chasqui.orders", high_risk=True, risk=0.9)], [], {"chasqui.orders": 1})
    dash_duo.wait_for_contains_text("#live-section", "S/ 1,234.50", timeout=60)  # a condition, not a speed
    text = dash_duo.find_element("#live-section").text
    assert "100.0%" in text and "1 eventos aplicados" in text
    assert browser_errors(dash_duo) == []
