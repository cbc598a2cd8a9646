"""Stream contracts: topic names, event schemas and their validation.

Every message is decoded with :func:`decode`, which returns a typed event or raises
:class:`InvalidEvent` with a stable ``reason`` code (used as the DLQ header and as the metric label).
The README section "Live operations" documents these contracts for real producers.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from analytics.geo import REGION_CODES, SHIPPING_MODES

TOPIC_ORDERS = "chasqui.orders"
TOPIC_SHIPMENTS = "chasqui.shipments"
TOPIC_IOT = "chasqui.iot"
TOPIC_DLQ = "chasqui.dlq"
INPUT_TOPICS: dict[str, str] = {TOPIC_ORDERS: "order", TOPIC_SHIPMENTS: "shipment", TOPIC_IOT: "iot"}
ALL_TOPICS = (TOPIC_ORDERS, TOPIC_SHIPMENTS, TOPIC_IOT, TOPIC_DLQ)

ORDER_SCHEMA = "chasqui.order.v1"
SHIPMENT_SCHEMA = "chasqui.shipment.v1"
IOT_SCHEMA = "chasqui.iot.v1"
SCHEMA_OF_KIND = {"order": ORDER_SCHEMA, "shipment": SHIPMENT_SCHEMA, "iot": IOT_SCHEMA}

SHIPMENT_STATUSES = ("picked", "in_transit", "delivered", "exception")
# Peru's bounding box (with a margin): positions outside it are rejected as out_of_range.
PERU_LAT = (-18.6, 0.2)
PERU_LON = (-81.6, -68.4)

# Stable reason codes (DLQ header "reason", metric label "reason").
REASONS = (
    "empty_payload", "binary_payload", "invalid_json", "not_an_object", "unknown_schema",
    "missing_field", "wrong_type", "nan_value", "negative_amount", "out_of_range",
    "unknown_region", "unknown_value", "unknown_product", "bad_timestamp", "unknown_topic", "unprocessable",
)

_REGIONS = frozenset(REGION_CODES)
_MODES = frozenset(SHIPPING_MODES)
_STATUSES = frozenset(SHIPMENT_STATUSES)


class InvalidEvent(ValueError):
    """A message that breaks its stream's contract; ``reason`` is one of :data:`REASONS`."""

    def __init__(self, reason: str, detail: str):
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True, slots=True)
class OrderEvent:
    event_id: str
    order_id: str
    created_at: datetime
    customer_id: str
    region: str
    category: str
    amount_pen: float
    quantity: int
    shipping_mode: str
    carrier: str
    origin_dc: str
    promised_days: int
    kind = "order"


@dataclass(frozen=True, slots=True)
class ShipmentEvent:
    event_id: str
    shipment_id: str
    order_id: str
    status: str
    ts: datetime
    carrier: str
    lat: float | None
    lon: float | None
    reason: str | None
    kind = "shipment"


@dataclass(frozen=True, slots=True)
class IotEvent:
    event_id: str
    device_id: str
    product: str
    shipment_id: str | None
    lot_id: str | None
    ts: datetime
    temp_c: float
    humidity_pct: float
    kind = "iot"


Event = OrderEvent | ShipmentEvent | IotEvent


def _reject_constant(name: str) -> Any:
    raise InvalidEvent("nan_value", f"JSON constant {name} is not allowed")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def parse_json(value: bytes | None) -> dict[str, Any]:
    """Bytes -> JSON object, or InvalidEvent (empty, binary, invalid JSON, NaN, not an object)."""
    if not value or not value.strip():
        raise InvalidEvent("empty_payload", "message has no payload")
    try:
        text = value.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidEvent("binary_payload", f"payload is not UTF-8 (byte {exc.start})") from None
    if "\x00" in text:
        raise InvalidEvent("binary_payload", "payload contains NUL bytes")
    try:
        obj = _DECODER.decode(text)
    except json.JSONDecodeError as exc:
        raise InvalidEvent("invalid_json", f"{exc.msg} at char {exc.pos}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("not_an_object", f"payload is a JSON {type(obj).__name__}, not an object")
    return obj


def _field(obj: dict[str, Any], name: str) -> Any:
    try:
        v = obj[name]
    except KeyError:
        raise InvalidEvent("missing_field", f"{name} is missing") from None
    if v is None:
        raise InvalidEvent("missing_field", f"{name} is null")
    return v


def _str(obj: dict[str, Any], name: str) -> str:
    v = _field(obj, name)
    if type(v) is not str:
        raise InvalidEvent("wrong_type", f"{name} must be a string, got {type(v).__name__}")
    if not v.strip():
        raise InvalidEvent("missing_field", f"{name} is empty")
    return v


def _opt_str(obj: dict[str, Any], name: str) -> str | None:
    v = obj.get(name)
    if v is None:
        return None
    if type(v) is not str:
        raise InvalidEvent("wrong_type", f"{name} must be a string, got {type(v).__name__}")
    return v or None


def _num(obj: dict[str, Any], name: str) -> float:
    v = _field(obj, name)
    t = type(v)
    if t is not float and t is not int:  # bool is rejected (type(True) is bool)
        raise InvalidEvent("wrong_type", f"{name} must be a number, got {t.__name__}")
    f = float(v)
    if not math.isfinite(f):
        raise InvalidEvent("nan_value", f"{name} is not finite")
    return f


def _opt_num(obj: dict[str, Any], name: str) -> float | None:
    return None if obj.get(name) is None else _num(obj, name)


def _int(obj: dict[str, Any], name: str, minimum: int) -> int:
    v = _field(obj, name)
    if type(v) is not int:
        raise InvalidEvent("wrong_type", f"{name} must be an integer, got {type(v).__name__}")
    if v < minimum:
        raise InvalidEvent("out_of_range", f"{name} must be ≥ {minimum}, got {v}")
    return v


def _ts(obj: dict[str, Any], name: str) -> datetime:
    v = _field(obj, name)
    if type(v) is not str:
        raise InvalidEvent("wrong_type", f"{name} must be an ISO-8601 string, got {type(v).__name__}")
    try:
        dt = datetime.fromisoformat(v)
    except ValueError:
        raise InvalidEvent("bad_timestamp", f"{name} is not ISO-8601: {v[:40]!r}") from None
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise InvalidEvent("bad_timestamp", f"{name} has no UTC offset: {v[:40]!r}")
    return dt


def _schema(obj: dict[str, Any], expected: str) -> None:
    s = obj.get("schema")
    if s != expected:
        raise InvalidEvent("unknown_schema", f"schema {str(s)[:40]!r} is not {expected!r}")


def validate_order(obj: dict[str, Any]) -> OrderEvent:
    _schema(obj, ORDER_SCHEMA)
    amount = _num(obj, "amount_pen")
    if amount < 0:
        raise InvalidEvent("negative_amount", f"amount_pen is negative ({amount})")
    region = _str(obj, "region")
    if region not in _REGIONS:
        raise InvalidEvent("unknown_region", f"region {region[:20]!r} is not an ISO 3166-2:PE code")
    mode = _str(obj, "shipping_mode")
    if mode not in _MODES:
        raise InvalidEvent("unknown_value", f"shipping_mode {mode[:20]!r} is not one of {', '.join(SHIPPING_MODES)}")
    return OrderEvent(
        event_id=_str(obj, "event_id"), order_id=_str(obj, "order_id"), created_at=_ts(obj, "created_at"),
        customer_id=_str(obj, "customer_id"), region=region, category=_str(obj, "category"),
        amount_pen=amount, quantity=_int(obj, "quantity", 1), shipping_mode=mode,
        carrier=_str(obj, "carrier"), origin_dc=_str(obj, "origin_dc"),
        promised_days=_int(obj, "promised_days", 0),
    )


def validate_shipment(obj: dict[str, Any]) -> ShipmentEvent:
    _schema(obj, SHIPMENT_SCHEMA)
    status = _str(obj, "status")
    if status not in _STATUSES:
        raise InvalidEvent("unknown_value", f"status {status[:20]!r} is not one of {', '.join(SHIPMENT_STATUSES)}")
    lat, lon = _opt_num(obj, "lat"), _opt_num(obj, "lon")
    if status == "in_transit" and (lat is None or lon is None):
        raise InvalidEvent("missing_field", "in_transit needs lat and lon")
    if lat is not None and not PERU_LAT[0] <= lat <= PERU_LAT[1]:
        raise InvalidEvent("out_of_range", f"lat {lat} is outside Peru")
    if lon is not None and not PERU_LON[0] <= lon <= PERU_LON[1]:
        raise InvalidEvent("out_of_range", f"lon {lon} is outside Peru")
    return ShipmentEvent(
        event_id=_str(obj, "event_id"), shipment_id=_str(obj, "shipment_id"), order_id=_str(obj, "order_id"),
        status=status, ts=_ts(obj, "ts"), carrier=_str(obj, "carrier"), lat=lat, lon=lon,
        reason=_opt_str(obj, "reason"),
    )


def validate_iot(obj: dict[str, Any], products: frozenset[str]) -> IotEvent:
    _schema(obj, IOT_SCHEMA)
    product = _str(obj, "product")
    if product not in products:
        raise InvalidEvent("unknown_product", f"product {product[:30]!r} has no cold-chain limits")
    temp = _num(obj, "temp_c")
    if not -60.0 <= temp <= 80.0:
        raise InvalidEvent("out_of_range", f"temp_c {temp} is not a plausible reading")
    hum = _num(obj, "humidity_pct")
    if not 0.0 <= hum <= 100.0:
        raise InvalidEvent("out_of_range", f"humidity_pct {hum} is outside 0–100")
    shipment_id, lot_id = _opt_str(obj, "shipment_id"), _opt_str(obj, "lot_id")
    if shipment_id is None and lot_id is None:
        raise InvalidEvent("missing_field", "one of shipment_id or lot_id is required")
    return IotEvent(
        event_id=_str(obj, "event_id"), device_id=_str(obj, "device_id"), product=product,
        shipment_id=shipment_id, lot_id=lot_id, ts=_ts(obj, "ts"), temp_c=temp, humidity_pct=hum,
    )


def decode(kind: str, value: bytes | None, products: frozenset[str]) -> Event:
    """Validate one message of a stream kind ("order", "shipment", "iot"); raises InvalidEvent."""
    obj = parse_json(value)
    if kind == "order":
        return validate_order(obj)
    if kind == "shipment":
        return validate_shipment(obj)
    if kind == "iot":
        return validate_iot(obj, products)
    raise InvalidEvent("unknown_topic", f"no schema for stream kind {kind!r}")
