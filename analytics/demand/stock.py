"""Safety stock, reorder points and days of cover per DC x category, and the on-hand CSV import.

For each series, demand over a lead time L (days) is taken as normal with mean ``d L`` and variance
``s^2 L / 7``: ``d`` is the forecast P50 per day over the weeks the lead time spans, ``s`` the
standard deviation of the chosen model's weekly forecast errors 1-4 weeks ahead in the backtest
(out of sample), weekly errors independent. L follows the DC's lead-time distribution
(:mod:`analytics.demand.leadtime`). The reorder point is the service-level quantile of lead-time
demand over that mixture,

    mean over the lead-time quantiles L_k of  Phi((ROP - d L_k) / (s sqrt(L_k / 7)))  =  service level,

and safety stock is what it keeps above the expected lead-time demand, ``ROP - d E[L]``. The reorder
point rises with the service level and with any lengthening of the lead times (for a fixed ROP > 0
each term falls as L_k grows), which the tests check. Days of cover: on-hand units / ``d``.

On-hand figures come from a CSV ``origin_dc,category,on_hand_units`` (:func:`read_on_hand`): every
data row is accepted or quarantined with its 1-based row number and the reason, and
``rows_in == accepted + quarantined``.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics.demand.leadtime import LeadTime, LeadTimes
from analytics.demand.weekly_forecast import DemandForecast

SERVICE_LEVEL_RANGE = (0.5, 0.999)
DEFAULT_SERVICE_LEVEL = 0.95
ON_HAND_COLUMNS: tuple[str, ...] = ("origin_dc", "category", "on_hand_units")
STOCK_JSON_KEYS: tuple[str, ...] = ("origin_dc", "category", "safety_stock", "reorder_point", "lead_time_p50_days",
                                    "lead_time_p90_days")


class StockInputError(ValueError):
    """A stock input (service level, on-hand file) is out of range or unreadable."""


def reorder_point(demand_per_day: float, error_sd_week: float, lead_grid: np.ndarray, service_level: float) -> float:
    """The ``service_level`` quantile of demand over a lead time drawn from ``lead_grid`` (see module doc)."""
    from scipy.special import ndtr

    if not SERVICE_LEVEL_RANGE[0] <= service_level <= SERVICE_LEVEL_RANGE[1]:
        raise StockInputError(f"service level must be between {SERVICE_LEVEL_RANGE[0]} and "
                              f"{SERVICE_LEVEL_RANGE[1]}, got {service_level}")
    d = max(float(demand_per_day), 0.0)
    L = np.maximum(np.asarray(lead_grid, dtype=float), 1e-3)
    sd = np.maximum(float(error_sd_week), 1e-9) * np.sqrt(L / 7.0)
    mean = d * L

    def cdf(x: float) -> float:
        return float(np.mean(ndtr((x - mean) / sd)))

    lo, hi = 0.0, float((mean + 8.0 * sd).max()) + 1.0
    if cdf(lo) >= service_level:
        return 0.0
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        if cdf(mid) < service_level:
            lo = mid
        else:
            hi = mid
    return hi


@dataclass(frozen=True)
class OnHandImport:
    """An on-hand CSV after validation: ``rows_in == len(accepted) + len(quarantined)``."""

    rows_in: int
    accepted: dict[tuple[str, str], float]
    quarantined: list[dict[str, Any]]  # row_number (1-based data row), reason, raw

    def as_json(self) -> dict[str, Any]:
        return {"rows_in": self.rows_in, "accepted": len(self.accepted), "quarantined": len(self.quarantined),
                "rejected_rows": [{"row_number": q["row_number"], "reason": q["reason"]} for q in self.quarantined]}

    def write_quarantine(self, path: Path) -> Path:
        """Write the quarantined rows (row_number, reason, raw) as CSV, atomically."""
        import os

        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        with tmp.open("w", encoding="utf-8", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=["row_number", "reason", "raw"])
            w.writeheader()
            w.writerows(self.quarantined)
        os.replace(tmp, path)
        return path


def _decode(raw: bytes) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def read_on_hand(source: Path | str | bytes, known: set[tuple[str, str]] | None = None) -> OnHandImport:
    """Validate an on-hand CSV (a path, or the file's bytes).

    A row is quarantined when it is empty, has the wrong number of fields, misses a value, has an
    on-hand figure that is not a finite number >= 0, names a series not in ``known`` (when given) or
    repeats a series already accepted. A header without the three columns quarantines every row."""
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    lines = _decode(raw).splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return OnHandImport(0, {}, [])
    delimiter = ";" if lines[0].count(";") > lines[0].count(",") else ","
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter=delimiter)
    header = [h.strip().lower() for h in next(reader)]
    missing = [c for c in ON_HAND_COLUMNS if c not in header]
    accepted: dict[tuple[str, str], float] = {}
    bad: list[dict[str, Any]] = []
    for n, fields in enumerate(reader, start=1):
        text = delimiter.join(fields)

        def reject(reason: str, n: int = n, text: str = text) -> None:
            bad.append({"row_number": n, "reason": reason, "raw": text})

        if not any(f.strip() for f in fields):
            reject("empty row")
            continue
        if missing:
            reject("header lacks " + ", ".join(missing) + " (expected origin_dc,category,on_hand_units)")
            continue
        if len(fields) != len(header):
            reject(f"expected {len(header)} fields, got {len(fields)}")
            continue
        rec = {h: f.strip() for h, f in zip(header, fields)}
        dc, cat, units = rec["origin_dc"], rec["category"], rec["on_hand_units"]
        if not dc or not cat or not units:
            reject("missing " + ", ".join(c for c in ON_HAND_COLUMNS if not rec[c]))
            continue
        try:
            value = float(units)
        except ValueError:
            reject(f"on_hand_units: not a number ({units!r})")
            continue
        if not math.isfinite(value) or value < 0:
            reject(f"on_hand_units: must be a finite number >= 0 ({units!r})")
            continue
        key = (dc, cat)
        if known is not None and key not in known:
            reject(f"unknown series {dc} x {cat} (not in the forecast)")
            continue
        if key in accepted:
            reject(f"duplicate series {dc} x {cat}")
            continue
        accepted[key] = value
    return OnHandImport(len(accepted) + len(bad), accepted, bad)


@dataclass(frozen=True)
class StockRow:
    origin_dc: str
    category: str
    safety_stock: float
    reorder_point: float
    lead_time_p50_days: float
    lead_time_p90_days: float
    lead_time_mean_days: float
    demand_per_day: float
    forecast_error_sd_week: float
    on_hand_units: float | None = None
    days_of_cover: float | None = None  # None: no on-hand figure, or no demand forecast to cover

    def contract(self) -> dict[str, Any]:
        """The command line's row: origin_dc, category, safety_stock, reorder_point, lead times (P50, P90)."""
        return {"origin_dc": self.origin_dc, "category": self.category,
                "safety_stock": round(self.safety_stock, 2), "reorder_point": round(self.reorder_point, 2),
                "lead_time_p50_days": round(self.lead_time_p50_days, 2),
                "lead_time_p90_days": round(self.lead_time_p90_days, 2)}


@dataclass(frozen=True)
class StockPlan:
    service_level: float
    rows: list[StockRow]
    lead_time_source: str
    fallback: str | None
    on_hand: OnHandImport | None = None
    notes: list[str] = field(default_factory=list)

    def table(self) -> pl.DataFrame:
        return pl.DataFrame([r.__dict__ for r in self.rows], schema={
            "origin_dc": pl.String, "category": pl.String, "safety_stock": pl.Float64, "reorder_point": pl.Float64,
            "lead_time_p50_days": pl.Float64, "lead_time_p90_days": pl.Float64, "lead_time_mean_days": pl.Float64,
            "demand_per_day": pl.Float64, "forecast_error_sd_week": pl.Float64, "on_hand_units": pl.Float64,
            "days_of_cover": pl.Float64})


def stock_plan(fc: DemandForecast, leads: LeadTimes, service_level: float,
               on_hand: OnHandImport | None = None) -> StockPlan:
    """Safety stock and reorder point of every forecast series at ``service_level`` (0.5-0.999)."""
    if not SERVICE_LEVEL_RANGE[0] <= float(service_level) <= SERVICE_LEVEL_RANGE[1]:
        raise StockInputError(f"service level must be between {SERVICE_LEVEL_RANGE[0]} and "
                              f"{SERVICE_LEVEL_RANGE[1]}, got {service_level}")
    error_sd = fc.backtest.best.error_sd
    rows = []
    notes = []
    for s, (dc, cat) in enumerate(fc.keys):
        lt: LeadTime | None = leads.by_dc.get(dc)
        if lt is None:
            notes.append(f"{dc}: no orders to measure a lead time on; left out")
            continue
        weeks = max(1, math.ceil(lt.p90 / 7.0))
        d = float(fc.demand_per_day(weeks)[s])
        rop = reorder_point(d, float(error_sd[s]), lt.grid, float(service_level))
        cycle = d * lt.mean
        ss = max(rop - cycle, 0.0)
        held = on_hand.accepted.get((dc, cat)) if on_hand is not None else None
        cover = (held / d) if held is not None and d > 0 else None
        rows.append(StockRow(dc, cat, ss, max(rop, cycle), lt.p50, lt.p90, lt.mean, d, float(error_sd[s]),
                             held, cover))
    return StockPlan(float(service_level), rows, leads.source, leads.fallback, on_hand, notes)


__all__ = ["DEFAULT_SERVICE_LEVEL", "ON_HAND_COLUMNS", "SERVICE_LEVEL_RANGE", "STOCK_JSON_KEYS", "OnHandImport", "StockInputError",
           "StockPlan", "StockRow", "read_on_hand", "reorder_point", "stock_plan"]
