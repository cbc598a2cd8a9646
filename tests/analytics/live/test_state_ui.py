"""Tile state arithmetic (no broker), the live components and the polling callback."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from analytics.live.coldchain import PRODUCTS
from analytics.live.contracts import decode
from analytics.live.state import TILES, DeadLetter, LiveStore, Scored, snapshot
from tests.fixtures.live import enc, order

LIMA = ZoneInfo("America/Lima")


def _ship(i: int, sid: str, status: str, ts: datetime, **kw) -> Scored:
    ev = {"schema": "chasqui.shipment.v1", "event_id": f"s{i}", "shipment_id": sid, "order_id": "O1",
          "status": status, "ts": ts.isoformat(), "carrier": "Olva Courier", **kw}
    return Scored(decode("shipment", enc(ev), PRODUCTS), "chasqui.shipments")


def _iot(i: int, temp: float, hum: float = 92.0, anomaly: bool = False) -> Scored:
    from analytics.live.coldchain import excursion

    ev = {"schema": "chasqui.iot.v1", "event_id": f"i{i}", "device_id": "LOG-1", "product": "blueberries",
          "lot_id": "LOT-7", "ts": "2026-11-23T10:00:00-05:00", "temp_c": temp, "humidity_pct": hum}
    e = decode("iot", enc(ev), PRODUCTS)
    return Scored(e, "chasqui.iot", excursion=excursion("blueberries", temp), anomaly=anomaly)


@pytest.fixture()
def filled(tmp_path):
    """A store with a known history: 10 orders (3 high-risk), shipments, readings, 2 dead letters."""
    now = time.time()
    today = datetime.fromtimestamp(now, LIMA).replace(microsecond=0)
    store = LiveStore(tmp_path / "live", writer=True)
    orders = [Scored(decode("order", enc(order(i, created_at=today.isoformat())), PRODUCTS), "chasqui.orders",
                     high_risk=i < 3, risk=0.9 if i < 3 else 0.1) for i in range(10)]
    yesterday = Scored(decode("order", enc(order(50, created_at=(today - timedelta(days=1)).isoformat())),
                              PRODUCTS), "chasqui.orders")
    t0 = today - timedelta(minutes=30)
    ships = [_ship(1, "A", "picked", t0), _ship(2, "B", "picked", t0), _ship(3, "C", "picked", t0),
             _ship(4, "A", "in_transit", t0 + timedelta(minutes=5), lat=-12.0, lon=-77.0),
             _ship(5, "B", "delivered", t0 + timedelta(minutes=9)),
             _ship(6, "B", "in_transit", t0 + timedelta(minutes=7), lat=-12.0, lon=-77.0),  # late, older: ignored
             _ship(7, "C", "exception", t0 + timedelta(minutes=8), reason="address_not_found")]
    iots = [_iot(1, 1.0), _iot(2, 3.4), _iot(3, 1.5, hum=30.0, anomaly=True)]
    dead = [DeadLetter("chasqui.orders", 0, 5, None, b"{x", "invalid_json", "bad"),
            DeadLetter("chasqui.iot", 1, 9, None, b"", "empty_payload", "empty")]
    res = store.apply(orders[:6] + ships + iots, dead, {"chasqui.orders": 7, "chasqui.shipments": 7,
                                                         "chasqui.iot": 4}, lag={"chasqui.orders": 4}, now=now - 120)
    assert sum(res.applied.values()) == 16
    res2 = store.apply(orders[4:] + [yesterday], dead[:1], {"chasqui.orders": 8}, lag={"chasqui.orders": 0}, now=now)
    assert res2.applied == {"chasqui.orders": 5} and res2.duplicates == {"chasqui.orders": 3}
    return store, now, orders


def test_tiles_from_known_history(filled):
    store, now, orders = filled
    snap = snapshot(store.read_state(), now)
    tiles = snap["tiles"]
    assert list(tiles) == list(TILES)
    assert sum(tiles["orders_per_min"]["spark"]) == 11
    assert tiles["orders_per_min"]["spark"][-3] == 6 and tiles["orders_per_min"]["spark"][-1] == 5
    assert tiles["revenue_today"]["value"] == pytest.approx(sum(100.0 + i for i in range(10)))
    assert tiles["high_risk_share"]["value"] == pytest.approx(3 / 11)
    assert tiles["shipments_in_transit"]["value"] == 1  # A in transit; B delivered; C exception
    assert tiles["cold_chain_excursions"]["value"] == 1 and tiles["anomalies"]["value"] == 1
    assert tiles["dead_lettered"]["value"] == 2
    assert tiles["consumer_lag"]["value"] == 0 and max(tiles["consumer_lag"]["spark"]) == 4
    kinds = [a["kind"] for a in snap["alerts"]]
    assert sorted(kinds) == ["anomaly", "excursion", "shipment_exception"]
    t = snap["totals"]
    consumed = sum(t["consumed"].values())
    assert consumed == sum(t["applied"].values()) + sum(t["dead_lettered"].values()) + sum(t["duplicates"].values())
    assert consumed == 26
    # an hour later everything has left the window except the gauges
    later = snapshot(store.read_state(), now + 3700)["tiles"]
    assert sum(later["orders_per_min"]["spark"]) == 0 and later["dead_lettered"]["value"] == 0
    assert later["shipments_in_transit"]["value"] == 1


def test_dedup_survives_reopening_the_store(filled, tmp_path):
    store, now, orders = filled
    store.close()
    again = LiveStore(tmp_path / "live", writer=True)
    res = again.apply(orders[:2], [], {"chasqui.orders": 2}, now=now)
    assert res.applied == {} and res.duplicates == {"chasqui.orders": 2}
    assert again.fresh_dead_letters([DeadLetter("chasqui.orders", 0, 5, None, b"{x", "invalid_json", "bad")]) == []


def test_components_render_the_numbers(filled):
    from components import live as view

    store, now, _ = filled
    assert view.TILES == TILES
    snap = snapshot(store.read_state(), now)
    texts, figs, alerts, status = view.render(snap, "es", "light", now=now)
    values = dict(zip(TILES, texts, strict=True))
    assert values["revenue_today"] == "S/ 1,045.00"
    assert values["high_risk_share"] == "27.3%"
    assert values["shipments_in_transit"] == "1" and values["dead_lettered"] == "2"
    assert figs[0]["data"][0]["y"] == snap["tiles"]["orders_per_min"]["spark"]
    assert figs[0]["data"][0]["x"] == snap["minutes"] and len(snap["minutes"]) == 60
    text = str(alerts)
    assert "Arándanos: 3.4 °C, sobre el límite de 2 °C" in text
    assert "21 eventos aplicados" in status and "2 rechazados" in status and "3 duplicados" in status
    texts_en, _, alerts_en, status_en = view.render(snap, "en", "dark", now=now)
    assert "Blueberries: 3.4 °C, above the 2 °C limit" in str(alerts_en)
    assert status_en.startswith("Updated 0 s ago")


def test_live_section_layout():
    from components import ids
    from components import live as view

    section = view.live_section("es")
    found: dict[str, list] = {"values": [], "sparks": [], "interval": []}

    def walk(node):
        cid = getattr(node, "id", None)
        if isinstance(cid, dict) and cid.get("type") == ids.LIVE_TILE_VALUE:
            found["values"].append(cid["tile"])
        if isinstance(cid, dict) and cid.get("type") == ids.LIVE_TILE_SPARK:
            found["sparks"].append(cid["tile"])
        if cid == ids.LIVE_INTERVAL:
            found["interval"].append(node.interval)
        children = getattr(node, "children", None)
        for ch in children if isinstance(children, list) else ([children] if children is not None else []):
            if hasattr(ch, "to_plotly_json"):
                walk(ch)

    walk(section)
    assert found["values"] == list(TILES) == found["sparks"]
    assert found["interval"] and found["interval"][0] <= 2000


def test_refresh_callback_reads_shared_state(filled, settings, tmp_path):
    from callbacks import live as cb
    from web.runtime import configure

    store, now, _ = filled
    configure(settings.replace(cache_dir=tmp_path))  # the store lives in tmp_path / "live"
    texts, figs, alerts, status = cb.refresh_live(3, "en", "light")
    assert dict(zip(TILES, texts, strict=True))["revenue_today"] == "S/ 1,045.00"
    assert len(figs) == 8 and "applied" in status
    empty = tmp_path / "empty"
    configure(settings.replace(cache_dir=empty))
    texts, _, alerts, status = cb.refresh_live(1, "es", "light")
    assert texts[1] == "S/ 0.00" and status == "Esperando eventos del flujo en vivo…"


def test_logistics_adapter_builds_the_feature_columns_logistics_expects(scorer):
    """The adapter's order frame goes through the logistics feature builder unchanged (no training)."""
    from analytics.live.risk import LogisticsModelScorer
    from analytics.logistics.features import FEATURES, build_features

    class FeatureEcho:  # stands in for LateRiskModel.predict_proba: build features, return promised_days/10
        def predict_proba(self, frame):
            feats = build_features(frame)
            assert list(feats.columns) == list(FEATURES)
            assert feats["region"].to_list() == ["PE-LIM", "PE-ARE", "PE-CUS"]
            return (feats["promised_days"] / 10).to_numpy()

    evs = [decode("order", enc(order(i, promised_days=i + 2)), PRODUCTS) for i in range(3)]
    got = LogisticsModelScorer(FeatureEcho()).score(evs)
    assert list(got) == pytest.approx([0.2, 0.3, 0.4])
    # the fallback: historical late rate of region × mode, exactly as in the orders table
    lim_std = scorer.rates[("PE-LIM", "standard")]
    assert scorer.score(evs[:1])[0] == lim_std and 0 < scorer.overall < 1
    assert min(scorer.rates.values()) <= scorer.threshold <= max(scorer.rates.values())
