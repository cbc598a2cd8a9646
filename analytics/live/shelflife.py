"""Shelf-life alerts for the live tiles: shipments whose predicted shelf life at arrival falls below the product's
minimum market life (:mod:`analytics.shelflife`).

Computed on a schedule, never when a tile is polled: :class:`ShelfLifeWatch` runs in the process that holds the
live listener and, every ``interval`` seconds, writes the alerts to the live diskcache, which every worker reads
with the tiles' snapshot. Each computation forecasts:

- lots whose loggers report live (IoT events naming a lot, kept per lot by :class:`analytics.live.state.LiveStore`)
  with :func:`analytics.shelflife.predict.forecast_in_transit`: their history, the live readings so far and the rest
  of the planned voyage at the optimum;
- every other perishable traceability lot with :func:`analytics.shelflife.predict.forecast_all` (the planned voyage
  at the optimum), recomputed only when the data folder changes (new lots, a retrained model).

A lot that is not perishable has no forecast and raises no alert; without a trained model there are no alerts and
the reason is kept (``error``).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from analytics.datadir import CacheDir

log = logging.getLogger(__name__)
LIMA = ZoneInfo("America/Lima")
SHELF_LIFE_INTERVAL_S = 300.0
MAX_ALERTS = 100


@dataclass(frozen=True)
class ShelfLifeAlerts:
    """At-risk shipments (worst first) and the counts behind them: ``lots`` forecast = ``live_lots`` forecast from
    live readings + the others from the plan; lots with live readings that could not be forecast are in
    ``skipped`` with the reason."""

    computed_at: float
    alerts: tuple[dict[str, Any], ...]
    lots: int
    shipments: int
    live_lots: int
    not_perishable: int
    skipped: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        return {"computed_at": self.computed_at, "alerts": list(self.alerts), "lots": self.lots,
                "shipments": self.shipments, "at_risk": len(self.alerts), "live_lots": self.live_lots,
                "not_perishable": self.not_perishable, "skipped": dict(self.skipped), "error": None}


def _alert(fc: Any, ship: Any, live: bool) -> dict[str, Any]:
    from analytics.shelflife.kinetics import product

    kin = product(fc.product)
    return {"kind": "shelf_life", "lot": fc.lot, "gtin": fc.gtin, "product": fc.product,
            "product_es": kin.name_es, "product_en": kin.name_en, "shipment": ship.lot,
            "destination": ship.route.split("-")[1] if ship.route.count("-") == 2 else ship.route,
            "remaining_days_p10": round(ship.remaining_days_p10, 2),
            "remaining_days_p50": round(ship.remaining_days_p50, 2),
            "remaining_days_p90": round(ship.remaining_days_p90, 2),
            "min_market_days": ship.min_market_days, "transit_days": ship.transit_days, "live": live}


def compute_alerts(data_dir: Path | str, lot_readings: Mapping[str, Sequence[tuple[float, float]]], now: datetime, *,
                   fleet: Any = None, model: Any = None) -> ShelfLifeAlerts:
    """The at-risk shipments of every perishable lot: from live readings where a lot has some, else as planned.

    ``lot_readings``: lot (code, SSCC or Digital Link) -> [(unix seconds, temp_c)]; ``fleet``: a
    :class:`analytics.shelflife.predict.FleetForecast` already computed for this data version (else computed here).
    Raises FileNotFoundError without a trained model.
    """
    from analytics.shelflife.kinetics import UnknownProduct
    from analytics.shelflife.predict import ShelfLifeInputError, forecast_all, forecast_in_transit, model_for
    from analytics.traceability.lots import LotNotFound

    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    m = model if model is not None else model_for(data_dir)
    fleet = fleet if fleet is not None else forecast_all(data_dir, m)
    forecasts = {(f.gtin, f.lot): f for f in fleet.forecasts}
    live: set[tuple[str | None, str]] = set()
    skipped: dict[str, str] = {}
    for lot, rows in lot_readings.items():
        readings = [(datetime.fromtimestamp(ts, LIMA), float(temp)) for ts, temp in rows]
        try:
            fc = forecast_in_transit(data_dir, lot, readings, now, model=m)
        except UnknownProduct:
            skipped[lot] = "not perishable"
            continue
        except (LotNotFound, ShelfLifeInputError) as exc:
            skipped[lot] = str(exc)
            continue
        forecasts[(fc.gtin, fc.lot)] = fc
        live.add((fc.gtin, fc.lot))
    # a shipment the buyer has already received is history (its quality is recorded), not an alert
    alerts = [_alert(f, s, key in live) for key, f in forecasts.items() for s in f.shipments
              if s.at_risk and not s.arrived]
    alerts.sort(key=lambda a: (a["remaining_days_p50"] - a["min_market_days"], a["lot"], a["shipment"]))
    return ShelfLifeAlerts(computed_at=now.timestamp(), alerts=tuple(alerts[:MAX_ALERTS]), lots=len(forecasts),
                           shipments=sum(len(f.shipments) for f in forecasts.values()), live_lots=len(live),
                           not_perishable=len(fleet.not_perishable), skipped=skipped)


def _readings_key(lot_readings: Mapping[str, Sequence[tuple[float, float]]]) -> str:
    h = hashlib.sha256()
    for lot in sorted(lot_readings):
        rows = lot_readings[lot]
        h.update(f"{lot}\0{len(rows)}\0{rows[-1] if rows else ''}\n".encode())
    return h.hexdigest()


class ShelfLifeWatch:
    """Recomputes the shelf-life alerts every ``interval`` seconds in its own thread and stores them for the tiles.

    The fleet forecast (every lot as planned) is redone only when the data folder's version changes; the lots
    with live readings only when their readings changed. :meth:`refresh` does one round (tests call it).
    """

    def __init__(self, data_dir: Path | str, cache_dir: Path | str, interval: float = SHELF_LIFE_INTERVAL_S) -> None:
        self.data_dir = Path(data_dir)
        self.cache_dir = Path(cache_dir)
        self.interval = interval
        self._version: str | None = None
        self._fleet: Any = None
        self._model: Any = None
        self._error: str | None = None
        self._key: tuple[str, str] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def refresh(self, now: datetime | None = None) -> dict[str, Any]:
        """One round: recompute what changed, store the alerts, return what was stored."""
        from analytics import storage
        from analytics.live.state import LiveStore

        now = now or datetime.now(LIMA)
        store = LiveStore(CacheDir(self.cache_dir).live)
        try:
            readings = store.lot_readings()
            version = storage.data_version(self.data_dir, skip=(self.cache_dir,))
            if version != self._version:  # new lots or a retrained model: forecast every lot again
                self._version, self._fleet, self._model, self._error = version, None, None, None
                try:
                    from analytics.shelflife.predict import forecast_all, model_for

                    self._model = model_for(self.data_dir)
                    self._fleet = forecast_all(self.data_dir, self._model)
                except (FileNotFoundError, ValueError) as exc:  # no model or no lots yet: no alerts, say why
                    self._error = f"{type(exc).__name__}: {exc}"
            key = (version, _readings_key(readings))
            if self._error is not None:
                payload: dict[str, Any] = {"computed_at": now.timestamp(), "alerts": [], "at_risk": 0,
                                           "error": self._error}
            elif key == self._key and (cached := store.read_shelf_life()) is not None:
                return cached  # nothing changed since the last round
            else:
                payload = compute_alerts(self.data_dir, readings, now, fleet=self._fleet, model=self._model).to_dict()
            store.write_shelf_life(payload)
            self._key = key
            return payload
        finally:
            store.close()

    def start(self) -> ShelfLifeWatch:
        self._thread = threading.Thread(target=self.run, name="chasqui-shelf-life", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        while not self._stop.is_set():
            t0 = time.perf_counter()
            try:
                payload = self.refresh()
                log.info("shelf-life alerts: %s at risk (%.1fs)", payload.get("at_risk"), time.perf_counter() - t0)
            except Exception as exc:  # the watch must survive anything: log and try again next round
                log.warning("shelf-life alerts not computed: %s: %s", type(exc).__name__, exc)
            self._stop.wait(self.interval)

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)


__all__ = ["SHELF_LIFE_INTERVAL_S", "ShelfLifeAlerts", "ShelfLifeWatch", "compute_alerts"]
