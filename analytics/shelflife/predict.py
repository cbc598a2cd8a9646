"""Predicted remaining shelf life at arrival for a lot, what-ifs, the drivers, and the command line.

In a demo lot's journey (``analytics.traceability``, read only) each loading event for a buyer is a
*shipment*, followed by its voyage events (``departing``, ``arriving`` at the port abroad with the reefer
logger's readings, ``receiving`` at the buyer). A shipment the buyer has received is forecast from its
whole recorded history and shown next to the quality recorded at arrival (``trace_quality``,
:mod:`analytics.shelflife.arrivals`). One still on its way has the lot's readings up to departure (other
shipments' readings excluded) followed by the rest of its route's planned time
(:attr:`analytics.shelflife.histories.Route.planned_days`) at the product's optimum, hour by hour: the
best case until the reefer's own readings are recorded. A lot's forecast is that of its worst shipment
(lowest P50).

A what-if inserts ``extra_hours`` at ``at_temp_c`` at departure ("if this lot waits 12 h at 15 °C
at the port"), which lengthens the transit and adds exposure; the forecast can only fall.

``at_risk``: P50 below the product's minimum market life. Drivers add up to the P50: the default
nominal life, minus the transit days, minus the heat above the optimum and the chilling injury (both
in days by the default kinetics), plus what the model learned beyond the physics (product, season,
route, true parameters).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics.datadir import SHELFLIFE_META, DataDir
from analytics.shelflife.features import EXPOSURE_COLUMNS, exposures, feature_frame
from analytics.shelflife.histories import PHASE_CODE, make_route
from analytics.shelflife.kinetics import PRODUCTS, UnknownProduct, grade, product
from analytics.shelflife.model import CARD_SECTION, ShelfLifeModel, load_model
from analytics.shelflife.shipments import DEMO_READING_SCHEMA, ShelfLifeInputError, demo_lot_history

MAX_EXTRA_HOURS = 24.0 * 30
# product names of the live IoT stream (analytics.live.coldchain.PROFILES) -> shelf-life products
LIVE_PRODUCTS = {"blueberries": "blueberry", "avocados": "avocado", "grapes": "grape", "asparagus": "asparagus",
                 "mangoes": "mango"}
TEMP_LIMITS_C = (-5.0, 45.0)


@dataclass(frozen=True)
class Driver:
    key: str  # nominal | transit | heat | chill | learned
    label_es: str
    label_en: str
    days: float  # contribution to the P50 (signed)
    value: float | None  # the exposure behind it, in ``unit``
    unit: str


@dataclass(frozen=True)
class ShipmentForecast:
    lot: str
    product: str
    route: str
    buyer: str | None
    transit_days: float
    planned_voyage_days: float
    remaining_days_p10: float
    remaining_days_p50: float
    remaining_days_p90: float
    min_market_days: float
    at_risk: bool
    grade: str
    physics_days: float
    hours_out_of_range: float
    hours_unobserved: float
    drivers: tuple[Driver, ...]
    extra_hours: float = 0.0
    at_temp_c: float | None = None
    # received by the buyer: the quality recorded at arrival (table ``trace_quality``) next to the forecast
    arrived: bool = False
    voyage_days: float | None = None  # departure to the port abroad: recorded once there, else the planned days
    recorded_remaining_days: float | None = None
    recorded_grade: str | None = None


@dataclass(frozen=True)
class LotForecast:
    lot: str
    gtin: str | None
    product: str
    shipments: tuple[ShipmentForecast, ...]
    model: str

    @property
    def worst(self) -> ShipmentForecast:
        return min(self.shipments, key=lambda s: s.remaining_days_p50)

    def summary(self) -> dict[str, Any]:
        """The command's JSON object (the worst shipment's band)."""
        w = self.worst
        return {"lot": self.lot, "product": self.product, "remaining_days_p10": round(w.remaining_days_p10, 1),
                "remaining_days_p50": round(w.remaining_days_p50, 1),
                "remaining_days_p90": round(w.remaining_days_p90, 1), "at_risk": bool(w.at_risk)}

    def to_dict(self) -> dict[str, Any]:
        return {"lot": self.lot, "gtin": self.gtin, "product": self.product, "model": self.model,
                "shipments": [asdict(s) for s in self.shipments]}


@dataclass(frozen=True)
class FleetForecast:
    """Every demo lot: forecasts for perishable ones; the rest listed with the reason (counts add up)."""

    forecasts: tuple[LotForecast, ...]
    not_perishable: tuple[str, ...]
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def at_risk(self) -> list[ShipmentForecast]:
        """Shipments on their way whose P50 is below the minimum market life (a received one has its recorded
        quality instead: it is history, not an alert)."""
        return [s for f in self.forecasts for s in f.shipments if s.at_risk and not s.arrived]


# ---------------------------------------------------------------- what-ifs

def _validate_whatif(extra_hours: float, at_temp_c: float | None) -> tuple[float, float | None]:
    try:
        h = float(extra_hours or 0.0)
    except (TypeError, ValueError):
        raise ShelfLifeInputError(f"extra hours must be a number, not {extra_hours!r}") from None
    if not np.isfinite(h) or h < 0 or h > MAX_EXTRA_HOURS:
        raise ShelfLifeInputError(f"extra hours must be between 0 and {MAX_EXTRA_HOURS:.0f}")
    if at_temp_c is None:
        if h > 0:
            raise ShelfLifeInputError("extra hours need a temperature (--at-temp)")
        return h, None
    try:
        t = float(at_temp_c)
    except (TypeError, ValueError):
        raise ShelfLifeInputError(f"temperature must be a number, not {at_temp_c!r}") from None
    if not np.isfinite(t) or not TEMP_LIMITS_C[0] <= t <= TEMP_LIMITS_C[1]:
        raise ShelfLifeInputError(f"temperature must be between {TEMP_LIMITS_C[0]:.0f} and {TEMP_LIMITS_C[1]:.0f} °C")
    if h == 0:
        raise ShelfLifeInputError("a temperature without extra hours changes nothing (add --extra-hours)")
    return h, t


def add_exposure(lots: pl.DataFrame, readings: pl.DataFrame, hours: float, temp_c: float,
                 at_hours: Sequence[float] | np.ndarray | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Insert ``hours`` at ``temp_c`` into every lot's history at ``at_hours`` (default: at arrival).

    Readings from that point on move later by ``hours`` and the transit grows by ``hours``.
    """
    h, t = _validate_whatif(hours, temp_c)
    if h == 0 or t is None:
        return lots, readings
    at = lots["transit_hours"].to_numpy() if at_hours is None else np.asarray(at_hours, float)
    if at.size != lots.height:
        raise ShelfLifeInputError("one insertion time per lot is needed")
    ins = pl.DataFrame({"lot_id": lots["lot_id"], "_at": at})
    moved = (readings.join(ins, on="lot_id", how="left")
             .with_columns(pl.when(pl.col("hours") >= pl.col("_at")).then(pl.col("hours") + h)
                           .otherwise(pl.col("hours")).alias("hours")).drop("_at"))
    n = max(1, int(np.ceil(h)))
    step = h / n
    extra = pl.DataFrame({
        "lot_id": np.repeat(lots["lot_id"].to_numpy(), n),
        "hours": (at[:, None] + step * np.arange(n)[None, :]).reshape(-1),
        "temp_c": np.full(lots.height * n, t),
    })
    fill = {"phase": PHASE_CODE["port"], "planned": False}  # a wait before departure, as if observed
    extra = extra.with_columns([pl.lit(fill.get(c), dtype=readings.schema[c]).alias(c)
                                for c in readings.columns if c not in extra.columns])
    extra = extra.cast({c: readings.schema[c] for c in readings.columns})
    new_readings = pl.concat([moved.select(readings.columns), extra.select(readings.columns)]).sort("lot_id", "hours")
    return lots.with_columns(pl.col("transit_hours") + h), new_readings


# ---------------------------------------------------------------- forecasts

def _drivers(feat: dict[str, Any], exp: dict[str, Any], p50: float) -> tuple[Driver, ...]:
    kin = product(feat["product"])
    chill = kin.chill_days_per_degree_day * exp["chill_degree_hours"] / 24.0
    heat = exp["kinetic_loss_days"] - chill
    physics = kin.nominal_days - exp["transit_days"] - heat - chill
    return (
        Driver("nominal", "Vida nominal a temperatura óptima", "Nominal life at the optimum",
               round(kin.nominal_days, 2), kin.optimum_c, "°C"),
        Driver("transit", "Días de tránsito", "Transit days", round(-exp["transit_days"], 2),
               round(exp["transit_days"], 2), "d"),
        Driver("heat", "Calor sobre el óptimo", "Heat above the optimum", round(-heat, 2),
               round(exp["degree_hours_above_opt"], 1), "°C·h"),
        Driver("chill", "Daño por frío", "Chilling injury", round(-chill, 2),
               round(exp["chill_degree_hours"], 1), "°C·h"),
        Driver("learned", "Producto, temporada y ruta (aprendido)", "Product, season and route (learned)",
               round(p50 - physics, 2), None, ""),
    )


def forecast_histories(model: ShelfLifeModel, lots: pl.DataFrame, readings: pl.DataFrame, *,
                       extra_hours: float = 0.0, at_temp_c: float | None = None) -> list[ShipmentForecast]:
    """Forecast every lot (shipment) of a lots/readings pair, with an optional what-if."""
    h, t = _validate_whatif(extra_hours, at_temp_c)
    if h > 0 and t is not None:
        at = lots["departure_hours"].to_numpy() if "departure_hours" in lots.columns else None
        lots, readings = add_exposure(lots, readings, h, t, at)
    exp = exposures(readings, lots)
    feats = feature_frame(lots, exp)
    q = model.predict_quantiles(feats)
    out = []
    for i, (row, frow, erow) in enumerate(zip(lots.iter_rows(named=True), feats.iter_rows(named=True),
                                              exp.select(EXPOSURE_COLUMNS).iter_rows(named=True), strict=True)):
        kin = product(row["product"])
        p10, p50, p90 = (float(v) for v in q[i])
        drivers = _drivers(frow, erow, p50)
        physics = max(0.0, kin.nominal_days - erow["transit_days"] - erow["kinetic_loss_days"])
        route = make_route(row["origin"], row["destination"], row["mode"])
        out.append(ShipmentForecast(
            lot=row["lot_id"], product=row["product"], route=row["route"], buyer=row.get("buyer"),
            transit_days=round(erow["transit_days"], 2), planned_voyage_days=round(route.planned_days, 2),
            remaining_days_p10=p10, remaining_days_p50=p50, remaining_days_p90=p90,
            min_market_days=kin.min_market_days, at_risk=bool(p50 < kin.min_market_days),
            grade=str(grade(row["product"], p50)), physics_days=round(physics, 2),
            hours_out_of_range=round(erow["hours_out_of_range"], 2),
            hours_unobserved=round(erow["hours_unobserved"], 2), drivers=drivers, extra_hours=h, at_temp_c=t,
            arrived=bool(row.get("arrived") or False),
            voyage_days=round(float(row["voyage_days"]), 2) if row.get("voyage_days") is not None else None))
    return out


def with_recorded(data_dir: Path | str, shipments: Sequence[ShipmentForecast]) -> tuple[ShipmentForecast, ...]:
    """The shipments with the quality recorded at arrival (``trace_quality``) filled in for those received."""
    from dataclasses import replace

    from analytics.shelflife.arrivals import recorded_quality

    recorded = recorded_quality(data_dir)
    out = []
    for sh in shipments:
        rec = recorded.get(sh.lot) if sh.arrived else None
        out.append(replace(sh, recorded_remaining_days=rec[0], recorded_grade=rec[1]) if rec else sh)
    return tuple(out)


def whatif_curve(model: ShelfLifeModel, lots: pl.DataFrame, readings: pl.DataFrame, hours: Sequence[float],
                 at_temp_c: float) -> np.ndarray:
    """P50 for each of ``hours`` extra at ``at_temp_c`` (rows: hours, columns: lots)."""
    rows = []
    for h in hours:
        fc = forecast_histories(model, lots, readings, extra_hours=h, at_temp_c=at_temp_c if h > 0 else None)
        rows.append([f.remaining_days_p50 for f in fc])
    return np.array(rows)


def model_for(data_dir: Path | str) -> ShelfLifeModel:
    """The trained model of a data directory, hash-verified (also against the model card when it has one).

    Loaded models are cached per process by the version of every file in the model's folder and the card's
    hash, so a retrained (or altered) model is loaded and verified again on next use."""
    from analytics.model_card import read_card

    layout = DataDir(Path(data_dir))
    expected = None
    try:
        section = read_card(layout.root).get(CARD_SECTION)
        expected = section.get("sha256") if isinstance(section, dict) else None
    except (OSError, ValueError):
        expected = None
    folder = layout.shelflife_models
    if not (folder / SHELFLIFE_META).exists():
        return load_model(layout.models, expected_sha256=expected)  # raises FileNotFoundError: not trained
    files = sorted(p for p in folder.iterdir() if p.is_file())
    version = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _load_cached(str(layout.models), expected, version)


@lru_cache(maxsize=2)
def _load_cached(models_dir: str, expected: str | None, _version: tuple[tuple[str, int, int], ...]) -> ShelfLifeModel:
    return load_model(models_dir, expected_sha256=expected)


def predict_lot(data_dir: Path | str, lot: str, *, gtin: str | None = None, extra_hours: float = 0.0,
                at_temp_c: float | None = None, model: ShelfLifeModel | None = None) -> LotForecast:
    """Forecast of one traceability lot (every shipment of it), optionally with a what-if."""
    _validate_whatif(extra_hours, at_temp_c)  # a bad what-if is refused before any reading or model loading
    lots, readings, info = demo_lot_history(data_dir, lot, gtin)
    m = model or model_for(data_dir)
    shipments = forecast_histories(m, lots, readings, extra_hours=extra_hours, at_temp_c=at_temp_c)
    return LotForecast(info["lot"], info["gtin"], info["product"], with_recorded(data_dir, shipments), m.name)


@dataclass(frozen=True)
class LotOutlook:
    """A lot's forecast as planned and, with a what-if, the same lot if it waits ``extra_hours`` at ``at_temp_c``
    before departure (what the Traceability page shows)."""

    forecast: LotForecast
    whatif: LotForecast | None = None

    @property
    def whatif_change_days(self) -> float | None:
        """Change of the worst shipment's P50 under the what-if (≤ 0), None without one."""
        if self.whatif is None:
            return None
        return self.whatif.worst.remaining_days_p50 - self.forecast.worst.remaining_days_p50


def lot_outlook(data_dir: Path | str, lot: str, *, gtin: str | None = None, extra_hours: float = 0.0,
                at_temp_c: float | None = None, model: ShelfLifeModel | None = None) -> LotOutlook:
    """The lot's forecast and, when ``extra_hours`` > 0, its what-if (history and model loaded once)."""
    h, t = _validate_whatif(extra_hours, at_temp_c)
    lots, readings, info = demo_lot_history(data_dir, lot, gtin)
    m = model or model_for(data_dir)

    def forecast(**whatif: Any) -> LotForecast:
        return LotForecast(info["lot"], info["gtin"], info["product"],
                           with_recorded(data_dir, forecast_histories(m, lots, readings, **whatif)), m.name)

    return LotOutlook(forecast(), forecast(extra_hours=h, at_temp_c=t) if h > 0 else None)


def with_live_readings(lots: pl.DataFrame, readings: pl.DataFrame, live: Sequence[tuple[datetime, float]],
                       now: datetime) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Replace the planned (optimum) voyage up to ``now`` by the live logger readings of the lot.

    ``lots``/``readings`` come from :func:`demo_lot_history`. Live readings between departure and
    ``now`` become observed history; the plan at the optimum continues after ``now``. A vessel still
    at sea after its planned arrival is assumed to arrive ``now`` (the least it can have lost). Live
    readings say the lot is at sea now: a shipment the tables show as received is taken back to its
    departure and planned from there (its recorded voyage is not mixed with the live one).
    """
    if now.tzinfo is None:
        raise ShelfLifeInputError("now must be timezone-aware")
    out_lots, frames = [], []
    for row in lots.iter_rows(named=True):
        harvest: datetime = row["harvest_time"]
        now_h = (now - harvest).total_seconds() / 3600.0
        depart = row["departure_hours"]
        mine = readings.filter(pl.col("lot_id") == row["lot_id"])
        if row.get("arrived") or row.get("port_arrival_hours") is not None:
            kin = product(row["product"])
            end = depart + make_route(row["origin"], row["destination"], row["mode"]).planned_days * 24.0
            n = max(1, int(np.ceil(end - depart)))
            plan_h = (depart + (end - depart) * np.arange(n) / n)[1:]
            mine = pl.concat([mine.filter(pl.col("hours") <= depart), pl.DataFrame({
                "lot_id": row["lot_id"], "hours": plan_h, "temp_c": kin.optimum_c,
                "phase": np.full(plan_h.size, PHASE_CODE["voyage"], np.int8), "planned": True},
                schema=DEMO_READING_SCHEMA)])
            row = {**row, "transit_hours": end, "arrived": False, "port_arrival_hours": None,
                   "voyage_days": (end - depart) / 24.0}
        hist = mine.filter(~pl.col("planned") | (pl.col("hours") > now_h))
        live_h = np.array([(t - harvest).total_seconds() / 3600.0 for t, _ in live], float)
        live_t = np.array([float(v) for _, v in live], float)
        if not np.isfinite(live_t).all():
            raise ShelfLifeInputError("live readings must be finite temperatures")
        sel = (live_h > depart) & (live_h <= now_h)
        frames.append(pl.concat([hist, pl.DataFrame({
            "lot_id": row["lot_id"], "hours": live_h[sel], "temp_c": live_t[sel],
            "phase": np.full(int(sel.sum()), PHASE_CODE["voyage"], np.int8), "planned": False},
            schema=DEMO_READING_SCHEMA)]).sort("hours"))
        out_lots.append({**row, "transit_hours": max(row["transit_hours"], now_h)})
    return pl.DataFrame(out_lots, schema=lots.schema), pl.concat(frames)


def forecast_in_transit(data_dir: Path | str, lot: str, live: Sequence[tuple[datetime, float]], now: datetime, *,
                        model: ShelfLifeModel | None = None) -> LotForecast:
    """Forecast of a lot at sea from its history, the live readings so far and the rest of the plan."""
    lots, readings, info = demo_lot_history(data_dir, lot)
    lots, readings = with_live_readings(lots, readings, live, now)
    m = model or model_for(data_dir)
    return LotForecast(info["lot"], info["gtin"], info["product"], tuple(forecast_histories(m, lots, readings)),
                       m.name)


def forecast_all(data_dir: Path | str, model: ShelfLifeModel | None = None) -> FleetForecast:
    """Forecasts for every lot in ``trace_lots``: perishable ones forecast, the others listed."""
    from analytics.traceability.lots import LotNotFound, list_lots

    lots = list_lots(Path(data_dir))
    if lots.is_empty():
        return FleetForecast((), ())
    m = model or model_for(data_dir)
    done, skipped, failed = [], [], {}
    for code, g, crop in lots.select("lot_code", "gtin", "crop").iter_rows():
        if crop not in PRODUCTS:
            skipped.append(code)
            continue
        try:
            done.append(predict_lot(data_dir, code, gtin=g, model=m))
        except (ShelfLifeInputError, LotNotFound) as exc:
            failed[code] = str(exc)
    return FleetForecast(tuple(done), tuple(skipped), failed)


def shelf_life_command(data_dir: Path | str, lot: str, *, extra_hours: float = 0.0,
                       at_temp_c: float | None = None, model: ShelfLifeModel | None = None,
                       gtin: str | None = None) -> str:
    """Exactly one JSON line: lot, product, remaining_days_p10/p50/p90 and at_risk."""
    fc = predict_lot(data_dir, lot, gtin=gtin, extra_hours=extra_hours, at_temp_c=at_temp_c, model=model)
    return json.dumps(fc.summary(), ensure_ascii=False)


def cli(args: Any) -> int:
    """``python app.py shelf-life --data-dir DIR --lot LOT [--gtin G] [--extra-hours H --at-temp C] [--json]``.

    Exit 0 with the forecast: with ``--json`` exactly one JSON line (the six contract keys); without it the same
    keys one per line, then each shipment's P50 and, for one received by the buyer, the quality recorded at arrival
    (``trace_quality``). Exit 2 with ``error: ...`` on stderr for a lot that is not perishable, a bad what-if, an
    unknown lot, or a data folder without a trained model.
    """
    import sys

    from analytics.artifacts import ArtifactError
    from analytics.traceability.lots import LotNotFound

    try:
        fc = predict_lot(args.data_dir, args.lot, gtin=getattr(args, "gtin", None),
                         extra_hours=getattr(args, "extra_hours", 0.0) or 0.0, at_temp_c=getattr(args, "at_temp", None))
    except LotNotFound as exc:
        print(f"error: unknown lot {args.lot!r}: {exc}", file=sys.stderr)
        return 2
    except (UnknownProduct, ShelfLifeInputError, FileNotFoundError, ArtifactError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "json", False):
        print(json.dumps(fc.summary(), ensure_ascii=False))
    else:
        for k, v in fc.summary().items():
            print(f"{k}: {v}")
        for sh in fc.shipments:
            state = (f"received, recorded {sh.recorded_remaining_days:.1f} days (grade {sh.recorded_grade})"
                     if sh.recorded_remaining_days is not None else "received" if sh.arrived else "on its way")
            print(f"shipment {sh.lot}: P50 {sh.remaining_days_p50:.1f} days; {state}")
    return 0


__all__ = [
    "LIVE_PRODUCTS", "MAX_EXTRA_HOURS", "TEMP_LIMITS_C", "Driver", "FleetForecast", "LotForecast", "LotOutlook",
    "ShelfLifeInputError", "ShipmentForecast", "add_exposure", "cli", "demo_lot_history", "forecast_all",
    "forecast_histories", "forecast_in_transit", "lot_outlook", "model_for", "predict_lot", "shelf_life_command",
    "whatif_curve", "with_live_readings", "with_recorded",
]
