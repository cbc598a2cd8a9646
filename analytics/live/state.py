"""Live tile state in diskcache, so every gunicorn worker renders the same numbers.

One process per host writes (the listener holding the file lock); every worker reads. A flush of
the listener is ONE diskcache transaction holding the dedup ids it applied, the dead-letter marks
and the new tile state, so a crash leaves either all of a batch or none of it; offsets are committed
to Kafka only after that transaction (at-least-once delivery + idempotent apply = counted once).

Windows are by arrival minute (Lima wall clock), kept for 60 minutes; revenue is per order date.

Two more entries sit next to the tile state: the live logger readings of each traceability lot (IoT events that
name a lot, written in the same transaction as their flush) and the shelf-life alerts that
:mod:`analytics.live.shelflife` computes from them on a schedule (every worker reads them with the snapshot).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from analytics.datadir import CacheDir
from analytics.live.contracts import Event, IotEvent, OrderEvent, ShipmentEvent
from analytics.shared_cache import open_cache

LIMA = ZoneInfo("America/Lima")
WINDOW_MINUTES = 60
DEDUP_TTL_S = 7 * 24 * 3600
MAX_ALERTS = 50
STATE_KEY = "state"
STATE_VERSION = 1
LOT_READINGS_KEY = "lot_readings"  # ("lot_readings", lot) -> [(unix seconds, temp_c), ...] of the loggers on a lot
LOT_INDEX_KEY = "lot_readings_index"  # the lots with live readings
MAX_LOT_READINGS = 20_000  # per lot, the newest kept (a reading a minute for two weeks)
LOT_READINGS_TTL_S = 60 * 86_400
SHELF_LIFE_KEY = "shelf_life"  # the latest shelf-life alerts (analytics.live.shelflife)
TILES = ("orders_per_min", "revenue_today", "high_risk_share", "shipments_in_transit",
         "cold_chain_excursions", "anomalies", "consumer_lag", "dead_lettered")
# per-minute bucket slots
_ORD, _REV, _RISK, _EXC, _ANOM, _DEAD, _TRANSIT, _LAG = range(8)
_ACTIVE = ("picked", "in_transit")


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    reason: str
    detail: str
    timestamp_ms: int | None = None

    @property
    def fingerprint(self) -> str:
        h = hashlib.sha1(usedforsecurity=False)
        h.update(f"{self.topic}|{self.partition}|{self.offset}|".encode())
        h.update(self.value or b"")
        return h.hexdigest()


@dataclass
class Scored:
    """A valid event plus what the listener derived for it."""

    event: Event
    topic: str
    high_risk: bool = False
    risk: float | None = None
    excursion: str | None = None
    anomaly: bool = False
    duplicate: bool = False  # already applied before this batch (set by the listener's pre-check)


@dataclass
class ApplyResult:
    applied: dict[str, int] = field(default_factory=dict)
    duplicates: dict[str, int] = field(default_factory=dict)
    dead_lettered: dict[tuple[str, str], int] = field(default_factory=dict)


def empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION, "minutes": {}, "revenue_by_day": {}, "in_transit": 0, "shipments": {},
        "alerts": [], "lag": {}, "updated_at": None, "info": {},
        "totals": {"consumed": {}, "applied": {}, "dead_lettered": {}, "duplicates": {}, "dead_by_reason": {}},
    }


def _inc(d: dict[Any, Any], k: Any, n: float = 1) -> None:
    d[k] = d.get(k, 0) + n


def _add_totals(totals: dict[str, Any], res: ApplyResult) -> None:
    """Running totals per topic (``consumed = applied + dead-lettered + duplicates``)."""
    for topic, n in res.applied.items():
        _inc(totals["applied"], topic, n)
    for topic, n in res.duplicates.items():
        _inc(totals["duplicates"], topic, n)
    for (topic, _reason), n in res.dead_lettered.items():
        _inc(totals["dead_lettered"], topic, n)


def minute_of(ts: float) -> int:
    return int(ts // 60)


class LiveStore:
    """diskcache-backed tile state. ``writer=True`` loads the dedup set into memory (listener only)."""

    def __init__(self, directory: Path | str, writer: bool = False):
        self.directory = Path(directory)
        self.cache = open_cache(self.directory, size_limit=2**30, eviction_policy="none")
        self.writer = writer
        self._seen: set[str] = set()
        self.state: dict[str, Any] = empty_state()
        if writer:
            self._load()

    # -- reading (any process) ------------------------------------------------------------------
    def read_state(self) -> dict[str, Any]:
        st = self.cache.get(STATE_KEY)
        return st if isinstance(st, dict) and st.get("version") == STATE_VERSION else empty_state()

    def close(self) -> None:
        self.cache.close()

    # -- writing (the listener) -----------------------------------------------------------------
    def _load(self) -> None:
        self.state = self.read_state()
        for key in self.cache.iterkeys():
            if isinstance(key, tuple) and key and key[0] == "dedup":
                ids = self.cache.get(key)
                if ids:
                    self._seen.update(ids)

    def seen(self, event_id: str) -> bool:
        return event_id in self._seen

    def fresh_dead_letters(self, dead: Sequence[DeadLetter]) -> list[DeadLetter]:
        """Dead letters not yet recorded (a replay after a crash must not be sent or counted twice)."""
        out, batch = [], set()
        for d in dead:
            fp = d.fingerprint
            if fp not in batch and ("dead", fp) not in self.cache:
                out.append(d)
                batch.add(fp)
        return out

    def apply(self, scored: Sequence[Scored], dead: Sequence[DeadLetter], consumed: dict[str, int],
              lag: dict[str, int] | None = None, now: float | None = None,
              info: dict[str, Any] | None = None) -> ApplyResult:
        """Apply one flush atomically; returns what was applied / duplicate / dead-lettered.

        In one diskcache transaction: the new events (duplicates by ``event_id`` counted, not applied), the
        dead letters (each recorded once), the totals, this minute's bucket, the alerts and the dedup ids."""
        assert self.writer, "only the writer store applies events"
        now = time.time() if now is None else now
        st = self.state
        res = ApplyResult()
        new_ids: list[str] = []
        batch_ids: set[str] = set()
        minute = minute_of(now)
        bucket = st["minutes"].get(minute) or [0, 0.0, 0, 0, 0, 0, 0, 0]
        alerts: list[dict[str, Any]] = []
        lot_readings: dict[str, list[tuple[float, float]]] = {}
        for topic, n in consumed.items():
            _inc(st["totals"]["consumed"], topic, n)
        with self.cache.transact():
            for s in scored:
                eid = s.event.event_id
                if eid in self._seen or eid in batch_ids:
                    _inc(res.duplicates, s.topic)
                    continue
                batch_ids.add(eid)
                new_ids.append(eid)
                _inc(res.applied, s.topic)
                self._apply_event(s, bucket, alerts)
                if isinstance(s.event, IotEvent) and s.event.lot_id:
                    lot_readings.setdefault(s.event.lot_id, []).append((s.event.ts.timestamp(), s.event.temp_c))
            self._apply_dead_letters(dead, bucket, res)
            _add_totals(st["totals"], res)
            if lag is not None:
                st["lag"] = dict(lag)
            bucket[_TRANSIT] = st["in_transit"]
            bucket[_LAG] = max(bucket[_LAG], sum(st["lag"].values()))
            st["minutes"][minute] = bucket
            self._prune(now)
            if alerts:
                st["alerts"] = (alerts[::-1] + st["alerts"])[:MAX_ALERTS]
            st["updated_at"] = now
            if info:
                st["info"].update(info)
            if new_ids:
                self.cache.set(("dedup", time.time_ns()), new_ids, expire=DEDUP_TTL_S)
            self._append_lot_readings(lot_readings)
            self.cache.set(STATE_KEY, st)
        self._seen.update(new_ids)
        return res

    def _apply_event(self, s: Scored, bucket: list[Any], alerts: list[dict[str, Any]]) -> None:
        """One new valid event: orders (count, revenue, high risk) and IoT readings (excursions, anomalies) go
        into this minute's bucket; shipments update the in-transit set."""
        ev = s.event
        if isinstance(ev, OrderEvent):
            bucket[_ORD] += 1
            bucket[_REV] += ev.amount_pen
            if s.high_risk:
                bucket[_RISK] += 1
            day = ev.created_at.astimezone(LIMA).date().isoformat()
            _inc(self.state["revenue_by_day"], day, ev.amount_pen)
        elif isinstance(ev, ShipmentEvent):
            self._apply_shipment(ev, alerts)
        elif isinstance(ev, IotEvent):
            if s.excursion:
                bucket[_EXC] += 1
                alerts.append(_alert(ev, "excursion", s.excursion))
            if s.anomaly:
                bucket[_ANOM] += 1
                if not s.excursion:
                    alerts.append(_alert(ev, "anomaly", None))

    def _apply_dead_letters(self, dead: Sequence[DeadLetter], bucket: list[Any], res: ApplyResult) -> None:
        """Record each dead letter once (by fingerprint); a replayed one counts as a duplicate."""
        for d in dead:
            key = ("dead", d.fingerprint)
            if self.cache.add(key, d.reason, expire=DEDUP_TTL_S):
                _inc(res.dead_lettered, (d.topic, d.reason))
                bucket[_DEAD] += 1
                _inc(self.state["totals"]["dead_by_reason"], d.reason)
            else:
                _inc(res.duplicates, d.topic)

    def _apply_shipment(self, ev: ShipmentEvent, alerts: list[dict[str, Any]]) -> None:
        st = self.state
        ships = st["shipments"]
        ts = ev.ts.timestamp()
        prev = ships.get(ev.shipment_id)
        if prev is not None and ts < prev[1]:
            return  # an older status arriving late does not move the shipment back
        was_active = prev is not None and prev[0] in _ACTIVE
        is_active = ev.status in _ACTIVE
        ships[ev.shipment_id] = (ev.status, ts)
        st["in_transit"] += int(is_active) - int(was_active)
        if ev.status == "exception":
            alerts.append({"kind": "shipment_exception", "ts": ev.ts.isoformat(), "shipment_id": ev.shipment_id,
                           "order_id": ev.order_id, "carrier": ev.carrier, "reason": ev.reason or ""})

    def _prune(self, now: float) -> None:
        st = self.state
        oldest = minute_of(now) - WINDOW_MINUTES
        for m in [m for m in st["minutes"] if m <= oldest]:
            del st["minutes"][m]
        today = datetime.fromtimestamp(now, LIMA).date().isoformat()
        for day in [d for d in st["revenue_by_day"] if d < today and len(st["revenue_by_day"]) > 2]:
            del st["revenue_by_day"][day]
        ships = st["shipments"]
        if len(ships) > 50_000:  # forget finished shipments after a day, stale active ones after a week
            for sid, (status, ts) in list(ships.items()):
                age = now - ts
                if (status not in _ACTIVE and age > 86_400) or age > 7 * 86_400:
                    del ships[sid]
                    if status in _ACTIVE:
                        st["in_transit"] -= 1

    def _append_lot_readings(self, batch: dict[str, list[tuple[float, float]]]) -> None:
        """Add a flush's readings to each lot's series (inside the flush's transaction)."""
        if not batch:
            return
        index = {lot for lot in self.cache.get(LOT_INDEX_KEY) or () if (LOT_READINGS_KEY, lot) in self.cache}
        for lot, rows in batch.items():
            key = (LOT_READINGS_KEY, lot)
            old = self.cache.get(key) or []
            self.cache.set(key, (old + rows)[-MAX_LOT_READINGS:], expire=LOT_READINGS_TTL_S)
            index.add(lot)
        self.cache.set(LOT_INDEX_KEY, sorted(index))

    def lot_readings(self) -> dict[str, list[tuple[float, float]]]:
        """The live logger readings of every lot that has some: lot -> [(unix seconds, temp_c)], oldest first."""
        out = {}
        for lot in self.cache.get(LOT_INDEX_KEY) or ():
            rows = self.cache.get((LOT_READINGS_KEY, lot))
            if rows:
                out[lot] = sorted(rows)
        return out

    def read_shelf_life(self) -> dict[str, Any] | None:
        """The latest shelf-life alerts (None before the first computation)."""
        got = self.cache.get(SHELF_LIFE_KEY)
        return got if isinstance(got, dict) else None

    def write_shelf_life(self, payload: dict[str, Any]) -> None:
        self.cache.set(SHELF_LIFE_KEY, payload)

    def record_lag(self, lag: dict[str, int], now: float | None = None, info: dict[str, Any] | None = None) -> None:
        """Idle tick: store the consumer lag (and keep the sparkline's gauges moving)."""
        self.apply([], [], {}, lag=lag, now=now, info=info)

    def reset(self) -> None:
        """Forget every tile and dedup id (tests and `make clean`)."""
        self.cache.clear()
        self._seen.clear()
        self.state = empty_state()


def _alert(ev: IotEvent, kind: str, direction: str | None) -> dict[str, Any]:
    return {"kind": kind, "ts": ev.ts.isoformat(), "product": ev.product, "temp_c": ev.temp_c,
            "humidity_pct": ev.humidity_pct, "device_id": ev.device_id, "direction": direction,
            "shipment_id": ev.shipment_id, "lot_id": ev.lot_id}


def snapshot(state: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """Tiles (value + 60 per-minute sparkline points, oldest first), alerts and totals at ``now``."""
    now = time.time() if now is None else now
    cur = minute_of(now)
    minutes = state["minutes"]
    span = range(cur - WINDOW_MINUTES + 1, cur + 1)
    rows = [minutes.get(m) for m in span]

    def series(slot: int) -> list[float]:
        return [float(r[slot]) if r else 0.0 for r in rows]

    def gauge(slot: int, current: float) -> list[float]:
        out, last = [], None
        for r in rows:  # a gauge carries its last value through minutes without events
            if r:
                last = float(r[slot])
            out.append(last if last is not None else 0.0)
        if out:
            out[-1] = float(current)
        return out

    orders, risk = series(_ORD), series(_RISK)
    frac = (now % 60) / 60.0
    per_min = orders[-1] + orders[-2] * (1.0 - frac) if len(orders) > 1 else orders[-1]
    share_spark = [r / o if o else 0.0 for r, o in zip(risk, orders, strict=True)]
    n_orders, n_risk = sum(orders), sum(risk)
    today = datetime.fromtimestamp(now, LIMA).date().isoformat()
    lag_now = float(sum(state.get("lag", {}).values()))
    tiles = {
        "orders_per_min": {"value": per_min, "spark": orders},
        "revenue_today": {"value": float(state["revenue_by_day"].get(today, 0.0)), "spark": series(_REV)},
        "high_risk_share": {"value": (n_risk / n_orders) if n_orders else None, "spark": share_spark},
        "shipments_in_transit": {"value": float(state["in_transit"]), "spark": gauge(_TRANSIT, state["in_transit"])},
        "cold_chain_excursions": {"value": sum(series(_EXC)), "spark": series(_EXC)},
        "anomalies": {"value": sum(series(_ANOM)), "spark": series(_ANOM)},
        "consumer_lag": {"value": lag_now, "spark": gauge(_LAG, lag_now)},
        "dead_lettered": {"value": sum(series(_DEAD)), "spark": series(_DEAD)},
    }
    t = state["totals"]
    return {
        "tiles": tiles, "alerts": list(state["alerts"]), "updated_at": state["updated_at"],
        "totals": {k: dict(v) for k, v in t.items()}, "info": dict(state.get("info", {})),
        "minutes": [datetime.fromtimestamp(m * 60, LIMA).strftime("%H:%M") for m in span],
    }


def read_snapshot(cache_dir: Path | str, now: float | None = None) -> dict[str, Any]:
    store = LiveStore(CacheDir(Path(cache_dir)).live)
    try:
        snap = snapshot(store.read_state(), now)
        snap["shelf_life"] = store.read_shelf_life()
        return snap
    finally:
        store.close()

