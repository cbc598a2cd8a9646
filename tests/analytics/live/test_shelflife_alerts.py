"""Shelf-life alerts on the live tiles: at-risk shipments from the plan, from live logger readings of a lot at sea,
computed by the watch (not per poll) and rendered in the tiles' alert feed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from plotly.utils import PlotlyJSONEncoder

from analytics.datadir import CacheDir
from analytics.live.contracts import IotEvent
from analytics.live.shelflife import ShelfLifeWatch, compute_alerts
from analytics.live.state import LiveStore, Scored, read_snapshot
from analytics.shelflife.predict import demo_lot_history, forecast_all, model_for
from components import live as live_view


def _iot(i: int, lot: str, ts, temp: float) -> Scored:
    ev = IotEvent(event_id=f"sl-{i}", device_id="LOG-7001", product="blueberries", shipment_id=None, lot_id=lot,
                  ts=ts, temp_c=temp, humidity_pct=90.0)
    return Scored(event=ev, topic="iot")


def test_without_live_readings_the_alerts_are_the_planned_at_risk_shipments(shelf_dir: Path, tmp_path: Path) -> None:
    fleet = forecast_all(shelf_dir)
    watch = ShelfLifeWatch(shelf_dir, tmp_path / "cache")
    payload = watch.refresh()
    assert payload["error"] is None
    assert payload["lots"] == len(fleet.forecasts) and payload["live_lots"] == 0
    assert payload["not_perishable"] == len(fleet.not_perishable)
    assert payload["shipments"] == sum(len(f.shipments) for f in fleet.forecasts)
    assert payload["at_risk"] == len(fleet.at_risk) > 0
    assert {a["shipment"] for a in payload["alerts"]} == {s.lot for s in fleet.at_risk}
    for a in payload["alerts"]:
        assert a["remaining_days_p50"] < a["min_market_days"] and a["live"] is False
    # stored for every worker: the snapshot the tiles poll carries it, and polling computes nothing
    snap = read_snapshot(tmp_path / "cache")
    assert snap["shelf_life"] == payload
    assert watch.refresh() == payload  # nothing changed: the stored alerts, not a new computation


def test_a_lot_warming_at_sea_becomes_an_alert_on_the_tiles(shelf_dir: Path, tmp_path: Path) -> None:
    model = model_for(shelf_dir)
    fleet = forecast_all(shelf_dir, model)
    safe = next(f for f in fleet.forecasts if f.product == "blueberry" and not any(s.at_risk for s in f.shipments))
    ship, _, _ = demo_lot_history(shelf_dir, safe.lot, safe.gtin)
    row = ship.row(0, named=True)
    depart = row["harvest_time"] + timedelta(hours=max(ship["departure_hours"].to_list()))
    now = depart + timedelta(days=5)
    cache = tmp_path / "cache"
    writer = LiveStore(CacheDir(cache).live, writer=True)
    try:  # the reefer on this lot has run at 20 °C for five days (an hourly logger)
        events = [_iot(k, safe.lot, depart + timedelta(hours=k + 0.5), 20.0) for k in range(5 * 24)]
        writer.apply(events[:60], [], {"iot": 60}, now=now.timestamp())
        writer.apply(events[60:] + events[:3], [], {"iot": 63}, now=now.timestamp())  # replayed ones count once
        assert len(writer.lot_readings()[safe.lot]) == 5 * 24
    finally:
        writer.close()
    payload = ShelfLifeWatch(shelf_dir, cache).refresh(now)
    mine = [a for a in payload["alerts"] if a["lot"] == safe.lot]
    assert mine and all(a["live"] and a["product"] == "blueberry" for a in mine)
    assert payload["live_lots"] == 1
    # the same numbers as the forecast from the live readings
    direct = compute_alerts(shelf_dir, {safe.lot: [(e.event.ts.timestamp(), 20.0) for e in events]}, now,
                            model=model)
    assert [a for a in direct.alerts if a["lot"] == safe.lot] == mine
    # the other lots' alerts are still the planned ones
    planned = {s.lot for s in fleet.at_risk}
    assert {a["shipment"] for a in payload["alerts"] if a["lot"] != safe.lot} == planned
    # the Overview's alert feed shows it first, worst shipments first, linking to the lot's page
    snap = read_snapshot(cache)
    _, _, items, _ = live_view.render(snap, "en", "light")
    rendered = json.dumps(items, cls=PlotlyJSONEncoder)
    first = json.dumps(items[0], cls=PlotlyJSONEncoder)
    assert len(items) == len(payload["alerts"][:30])
    assert "days of shelf life predicted at arrival" in rendered and "from the live readings" in rendered
    worst = payload["alerts"][0]
    assert worst["lot"] in first and f"/traceability?lot={worst['lot']}" in first


def test_no_model_no_alerts_and_the_reason(shelf_dir: Path, tmp_path: Path) -> None:
    import shutil

    bare = tmp_path / "bare"
    shutil.copytree(shelf_dir, bare, ignore=shutil.ignore_patterns(".cache", "models"))
    payload = ShelfLifeWatch(bare, tmp_path / "cache").refresh()
    assert payload["alerts"] == [] and "FileNotFoundError" in payload["error"]
    snap = read_snapshot(tmp_path / "cache")
    _, _, items, _ = live_view.render(snap, "es", "light")
    assert "Sin alertas" in json.dumps(items, cls=PlotlyJSONEncoder)


@pytest.mark.parametrize("lang", ["es", "en"])
def test_alert_text_is_translated(lang: str) -> None:
    alert = {"kind": "shelf_life", "lot": "AR-LAL-24001", "gtin": "07750000000001", "product": "blueberry",
             "product_es": "Arándano", "product_en": "Blueberries", "destination": "CNSHA",
             "remaining_days_p10": 4.0, "remaining_days_p50": 6.5, "remaining_days_p90": 9.0,
             "min_market_days": 10.0, "live": False}
    (item,) = live_view.shelf_life_items({"alerts": [alert]}, lang)
    text = json.dumps(item, cls=PlotlyJSONEncoder, ensure_ascii=False)
    expected = ("Arándano · lote AR-LAL-24001 → CNSHA: 6.5 días" if lang == "es"
                else "Blueberries · lot AR-LAL-24001 → CNSHA: 6.5 days")
    assert expected in text
