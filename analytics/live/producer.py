"""Demo producer: replays events derived from the orders table (plus shipment status updates and
cold-chain IoT readings) into the live topics at a configurable rate.

Orders are sampled from ``DIR/orders.parquet`` and re-stamped with the current Lima time and fresh
ids. About a quarter of the shipments are cold chain (perishables, vaccines) and carry a logger
that reports temperature and humidity while in transit; a few readings drift out of range or come
from a failing sensor, and a small share of messages are deliberately malformed (``malformed_share``)
so the dead-letter path is visible in the demo.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from analytics import geo
from analytics.live import coldchain
from analytics.live.contracts import (
    IOT_SCHEMA,
    ORDER_SCHEMA,
    SHIPMENT_SCHEMA,
    TOPIC_IOT,
    TOPIC_ORDERS,
    TOPIC_SHIPMENTS,
)

log = logging.getLogger(__name__)
LIMA = ZoneInfo("America/Lima")
ORDER_COLUMNS = ("customer_id", "region", "category", "quantity", "amount_pen", "shipping_mode", "carrier",
                 "origin_dc", "promised_days")
COLD_CATEGORIES = ("groceries", "health_beauty")

Message = tuple[str, bytes, bytes]  # topic, key, value


@dataclass
class _Shipment:
    shipment_id: str
    order_id: str
    carrier: str
    origin: tuple[float, float]
    dest: tuple[float, float]
    steps: int
    step: int = 0
    product: str | None = None
    device_id: str | None = None
    fails: bool = False
    glitchy: bool = False


def _dumps(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


class DemoEventSource:
    """An endless, seeded stream of (topic, key, value) messages derived from the orders table."""

    def __init__(self, data_dir: Path | str, seed: int = 7, sample: int = 5000, malformed_share: float = 0.002,
                 cold_chain_share: float = 0.25):
        import polars as pl

        from analytics import storage

        df = pl.read_parquet(storage.table_path(data_dir, "orders"), columns=list(ORDER_COLUMNS))
        df = df.drop_nulls().filter(pl.col("region").is_in(list(geo.REGION_CODES)))
        if df.height == 0:
            raise ValueError(f"no Peruvian orders in {data_dir} to replay")
        self.rows = df.sample(min(sample, df.height), seed=seed).to_dicts()
        self.rng = np.random.default_rng(seed)
        self.malformed_share = malformed_share
        self.cold_chain_share = cold_chain_share
        self.active: list[_Shipment] = []
        self.i = 0
        self._products = sorted(coldchain.PROFILES)

    def _now(self) -> datetime:
        return datetime.now(LIMA)

    def _eid(self) -> str:
        return uuid.UUID(int=int(self.rng.integers(0, 2**63)) << 64 | int(self.rng.integers(0, 2**63))).hex

    def order(self) -> tuple[Message, _Shipment]:
        row = self.rows[self.i % len(self.rows)]
        self.i += 1
        order_id = f"LIVE-{self._eid()[:12].upper()}"
        ev = {"schema": ORDER_SCHEMA, "event_id": self._eid(), "order_id": order_id,
              "created_at": self._now().isoformat(timespec="milliseconds"), **{k: row[k] for k in ORDER_COLUMNS}}
        ev["amount_pen"] = round(float(ev["amount_pen"]), 2)
        ev["quantity"], ev["promised_days"] = int(ev["quantity"]), int(ev["promised_days"])
        dc = geo.DC_BY_ID.get(row["origin_dc"])
        reg = geo.REGION_BY_CODE[row["region"]]
        origin = (dc.lat, dc.lon) if dc else (reg.lat, reg.lon)
        ship = _Shipment(f"SH-{order_id[5:]}", order_id, row["carrier"], origin, (reg.lat, reg.lon),
                         steps=int(self.rng.integers(3, 9)), fails=bool(self.rng.random() < 0.03))
        if row["category"] in COLD_CATEGORIES or self.rng.random() < self.cold_chain_share / 2:
            if self.rng.random() < self.cold_chain_share * 2:
                ship.product = self._products[int(self.rng.integers(0, len(self._products)))]
                ship.device_id = f"LOG-{int(self.rng.integers(1000, 9999))}"
                ship.glitchy = bool(self.rng.random() < 0.05)
        return (TOPIC_ORDERS, order_id.encode(), _dumps(ev)), ship

    def shipment(self, s: _Shipment, status: str, **extra: Any) -> Message:
        ev = {"schema": SHIPMENT_SCHEMA, "event_id": self._eid(), "shipment_id": s.shipment_id,
              "order_id": s.order_id, "status": status, "ts": self._now().isoformat(timespec="milliseconds"),
              "carrier": s.carrier, **extra}
        return TOPIC_SHIPMENTS, s.shipment_id.encode(), _dumps(ev)

    def reading(self, s: _Shipment) -> Message:
        assert s.product is not None
        p = coldchain.PROFILES[s.product]
        temp = p.temp_mid_c + self.rng.normal(0, 0.3) * p.temp_half_range
        hum = self.rng.normal((p.humidity_min_pct + p.humidity_max_pct) / 2,
                              (p.humidity_max_pct - p.humidity_min_pct) / 4)
        r = self.rng.random()
        if r < 0.02:  # door left open / reefer failure
            temp = p.temp_max_c + self.rng.uniform(1.0, 6.0)
        elif r < 0.03:
            temp = p.temp_min_c - self.rng.uniform(0.5, 3.0)
        if s.glitchy and self.rng.random() < 0.3:  # failing humidity sensor
            hum = hum - 55.0
        ev = {"schema": IOT_SCHEMA, "event_id": self._eid(), "device_id": s.device_id, "product": s.product,
              "shipment_id": s.shipment_id, "ts": self._now().isoformat(timespec="milliseconds"),
              "temp_c": round(float(temp), 2), "humidity_pct": round(float(np.clip(hum, 0, 100)), 1)}
        return TOPIC_IOT, (s.device_id or "").encode(), _dumps(ev)

    def malformed(self) -> Message:
        kinds = [b"", b"\xff\xfe\x00binary", b"{not json", b'{"schema":"chasqui.order.v0","event_id":"x"}',
                 _dumps({"schema": ORDER_SCHEMA, "event_id": self._eid(), "amount_pen": -5})]
        return TOPIC_ORDERS, b"bad", kinds[int(self.rng.integers(0, len(kinds)))]

    def __iter__(self) -> Iterator[Message]:
        while True:
            if self.malformed_share and self.rng.random() < self.malformed_share:
                yield self.malformed()
            msg, ship = self.order()
            yield msg
            yield self.shipment(ship, "picked")
            self.active.append(ship)
            # advance the oldest shipments one step each
            still: list[_Shipment] = []
            for s in self.active[:3]:
                s.step += 1
                if s.step >= s.steps:
                    yield self.shipment(s, "exception", reason="failed_delivery_attempt") if s.fails else \
                        self.shipment(s, "delivered")
                    continue
                f = s.step / s.steps
                lat = s.origin[0] + (s.dest[0] - s.origin[0]) * f
                lon = s.origin[1] + (s.dest[1] - s.origin[1]) * f
                yield self.shipment(s, "in_transit", lat=round(lat, 4), lon=round(lon, 4))
                if s.product:
                    yield self.reading(s)
                still.append(s)
            self.active = self.active[3:] + still

    def take(self, n: int) -> list[Message]:
        out: list[Message] = []
        for m in self:
            out.append(m)
            if len(out) >= n:
                return out
        return out  # pragma: no cover


class DemoProducer:
    """Sends a :class:`DemoEventSource` to the broker at ``rate`` messages per second (a thread)."""

    def __init__(self, bootstrap: str, data_dir: Path | str, rate: float = 20.0, seed: int | None = None,
                 malformed_share: float = 0.002):
        if rate <= 0:
            raise ValueError("demo feed rate must be > 0 events per second")
        self.bootstrap = bootstrap
        self.data_dir = Path(data_dir)
        self.rate = rate
        self.seed = seed if seed is not None else int(time.time())
        self.malformed_share = malformed_share
        self.sent = 0
        self.errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> DemoProducer:
        self._thread = threading.Thread(target=self.run, name="chasqui-demo-producer", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        from kafka import KafkaProducer

        try:
            source = iter(DemoEventSource(self.data_dir, seed=self.seed, malformed_share=self.malformed_share))
        except (FileNotFoundError, ValueError) as exc:
            log.warning("demo feed off: %s", exc)
            return
        producer = None
        t0, sent_at_t0 = time.monotonic(), 0
        pending: Message | None = None
        while not self._stop.is_set():
            try:
                if producer is None:
                    producer = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="chasqui-demo-feed",
                                             linger_ms=10, max_block_ms=5000, reconnect_backoff_max_ms=2000)
                    t0, sent_at_t0 = time.monotonic(), self.sent
                due = int((time.monotonic() - t0) * self.rate) - (self.sent - sent_at_t0)
                for _ in range(max(0, min(due, 5000))):
                    msg = pending or next(source)
                    pending = msg
                    producer.send(msg[0], key=msg[1], value=msg[2])
                    pending = None
                    self.sent += 1
                self._stop.wait(0.05)
            except Exception as exc:  # broker restarting: wait and reconnect, keep the unsent message
                self.errors += 1
                log.info("demo feed: %s; retrying", exc)
                if producer is not None:
                    try:
                        producer.close(timeout=1)
                    except Exception:
                        pass
                producer = None
                self._stop.wait(1.0)
        if producer is not None:
            try:
                producer.flush(timeout=2)
                producer.close(timeout=2)
            except Exception:
                pass
