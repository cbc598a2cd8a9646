"""Every malformed kind maps to its reason code; valid events decode to exact values."""

from __future__ import annotations

import pytest

from analytics.live.coldchain import PRODUCTS, excursion
from analytics.live.contracts import REASONS, InvalidEvent, decode
from tests.fixtures.live import enc, order

IOT = {"schema": "chasqui.iot.v1", "event_id": "i1", "device_id": "LOG-1", "product": "blueberries",
       "shipment_id": "SH-1", "ts": "2026-11-23T10:00:00-05:00", "temp_c": 1.2, "humidity_pct": 92.0}
SHIP = {"schema": "chasqui.shipment.v1", "event_id": "s1", "shipment_id": "SH-1", "order_id": "O1",
        "status": "in_transit", "ts": "2026-11-23T10:00:00-05:00", "carrier": "Olva Courier",
        "lat": -12.05, "lon": -77.04}

CASES = [
    ("order", b"", "empty_payload"),
    ("order", None, "empty_payload"),
    ("order", b"   ", "empty_payload"),
    ("order", b"\x89PNG\r\n\x1a\n\x00\x00\xff", "binary_payload"),
    ("order", b'{"schema": "chasqui.order.v1", ', "invalid_json"),
    ("order", b"[1, 2]", "not_an_object"),
    ("order", enc({k: v for k, v in order(1).items() if k != "region"}), "missing_field"),
    ("order", enc(order(1, customer_id=None)), "missing_field"),
    ("order", enc(order(1, quantity="3")), "wrong_type"),
    ("order", enc(order(1, amount_pen="12.50")), "wrong_type"),
    ("order", enc(order(1, quantity=True)), "wrong_type"),
    ("order", enc(order(1, quantity=0)), "out_of_range"),
    ("order", enc(order(1, region="PE-XYZ")), "unknown_region"),
    ("order", enc(order(1, region="US-CA")), "unknown_region"),
    ("order", enc(order(1, amount_pen=-0.01)), "negative_amount"),
    ("order", enc(order(1)).replace(b'"amount_pen": 101.0', b'"amount_pen": NaN'), "nan_value"),
    ("order", enc(order(1)).replace(b'"amount_pen": 101.0', b'"amount_pen": Infinity'), "nan_value"),
    ("order", enc(order(1, created_at="yesterday")), "bad_timestamp"),
    ("order", enc(order(1, created_at="2026-11-23T10:15:00")), "bad_timestamp"),
    ("order", enc(order(1, schema="chasqui.order.v2")), "unknown_schema"),
    ("order", enc({k: v for k, v in order(1).items() if k != "schema"}), "unknown_schema"),
    ("order", enc(order(1, shipping_mode="teleport")), "unknown_value"),
    ("shipment", enc({**SHIP, "status": "lost_in_space"}), "unknown_value"),
    ("shipment", enc({k: v for k, v in SHIP.items() if k != "lat"}), "missing_field"),
    ("shipment", enc({**SHIP, "lat": 40.7}), "out_of_range"),
    ("iot", enc({**IOT, "product": "kiwi"}), "unknown_product"),
    ("iot", enc({**IOT, "humidity_pct": 140}), "out_of_range"),
    ("iot", enc({**IOT, "temp_c": "cold"}), "wrong_type"),
    ("iot", enc({k: v for k, v in IOT.items() if k != "shipment_id"}), "missing_field"),
    ("weather", enc(IOT), "unknown_topic"),
]


@pytest.mark.parametrize(("kind", "payload", "reason"), CASES)
def test_malformed_payload_gets_its_reason(kind, payload, reason):
    assert reason in REASONS
    with pytest.raises(InvalidEvent) as err:
        decode(kind, payload, PRODUCTS)
    assert err.value.reason == reason


def test_valid_events_decode_exactly():
    o = decode("order", enc(order(7)), PRODUCTS)
    assert (o.event_id, o.region, o.amount_pen, o.quantity, o.shipping_mode) == ("ord-7", "PE-LOR", 107.0, 2, "river")
    assert o.created_at.utcoffset().total_seconds() == -5 * 3600
    z = decode("order", enc(order(2, created_at="2026-11-23T15:15:00Z")), PRODUCTS)
    assert z.created_at.utcoffset().total_seconds() == 0
    i = decode("iot", enc(IOT), PRODUCTS)
    assert (i.product, i.temp_c, i.humidity_pct, i.lot_id) == ("blueberries", 1.2, 92.0, None)
    s = decode("shipment", enc(SHIP), PRODUCTS)
    assert (s.status, s.lat, s.lon) == ("in_transit", -12.05, -77.04)


def test_cold_chain_limits_blueberries_zero_to_two():
    assert excursion("blueberries", 0.0) is None and excursion("blueberries", 2.0) is None
    assert excursion("blueberries", 2.1) == "high"
    assert excursion("blueberries", -0.1) == "low"
    assert excursion("vaccines", 9.0) == "high" and excursion("vaccines", 5.0) is None
