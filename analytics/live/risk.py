"""Late-risk scoring of each new order as it arrives.

Preferred: the trained logistics late-risk model (``DIR/models``), loaded with
``analytics.logistics.load_models``. Until ``python app.py train`` has produced it, the listener uses
:class:`HistoricalLateRateFallback`: the historical late rate of the order's region × shipping mode
in the orders table (with the overall rate where a cell has fewer than ``min_orders``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from analytics.datadir import DataDir
from analytics.live.contracts import OrderEvent

log = logging.getLogger(__name__)

MODEL_THRESHOLD = 0.5  # same cut as the Logistics page (analytics.logistics.queries.HIGH_RISK)


class RiskScorer(Protocol):
    name: str
    threshold: float

    def score(self, orders: Sequence[OrderEvent]) -> np.ndarray: ...


class HistoricalLateRateFallback:
    """Fallback scorer: P(late) = historical late rate of (region, shipping_mode) in the orders table.

    ``threshold`` is the order-weighted 80th percentile of the cell rates, so in steady state about
    one order in five is flagged high-risk (the cells with the worst history).
    """

    name = "historical_late_rate_fallback"

    def __init__(self, rates: dict[tuple[str, str], float], overall: float, threshold: float):
        self.rates = rates
        self.overall = overall
        self.threshold = threshold

    @classmethod
    def from_orders(cls, data_dir: Path | str, min_orders: int = 30) -> HistoricalLateRateFallback:
        import polars as pl

        from analytics import storage

        path = storage.table_path(data_dir, "orders")
        df = pl.read_parquet(path, columns=["region", "shipping_mode", "is_late"]).drop_nulls()
        if df.height == 0:
            raise ValueError(f"orders table at {path} has no rows with region, shipping_mode and is_late")
        overall = float(df["is_late"].cast(pl.Float64).mean())  # type: ignore[arg-type]
        cells = df.group_by("region", "shipping_mode").agg(
            pl.len().alias("n"), pl.col("is_late").cast(pl.Float64).mean().alias("rate"))
        rates = {(r, m): float(rate) for r, m, n, rate in cells.iter_rows() if n >= min_orders}
        # order-weighted 80th percentile of the cell rates
        per_order = cells.filter(pl.col("n") >= min_orders).sort("rate")
        cum = (per_order["n"].cum_sum() / per_order["n"].sum()).to_numpy()
        idx = int(np.searchsorted(cum, 0.8)) if len(cum) else 0
        threshold = float(per_order["rate"][min(idx, len(cum) - 1)]) if len(cum) else 1.0
        return cls(rates, overall, threshold)

    def score(self, orders: Sequence[OrderEvent]) -> np.ndarray:
        get, overall = self.rates.get, self.overall
        return np.fromiter((get((o.region, o.shipping_mode), overall) for o in orders), float, len(orders))


class LogisticsModelScorer:
    """Adapter for the logistics late-risk model (``predict_proba`` over order rows)."""

    def __init__(self, model: Any, name: str = "logistics_late_risk_model", threshold: float = MODEL_THRESHOLD):
        self.model = model
        self.name = name
        self.threshold = threshold

    def score(self, orders: Sequence[OrderEvent]) -> np.ndarray:
        if not orders:
            return np.zeros(0)
        import polars as pl

        frame = pl.DataFrame({
            "created_at": [o.created_at for o in orders],
            "order_date": [o.created_at.date() for o in orders],
            "country": ["PE"] * len(orders),
            "region": [o.region for o in orders],
            "category": [o.category for o in orders],
            "quantity": [o.quantity for o in orders],
            "amount_pen": [o.amount_pen for o in orders],
            "discount_pct": [0.0] * len(orders),
            "shipping_mode": [o.shipping_mode for o in orders],
            "carrier": [o.carrier for o in orders],
            "origin_dc": [o.origin_dc for o in orders],
            "distance_km": [None] * len(orders),
            "weight_kg": [None] * len(orders),
            "promised_days": [o.promised_days for o in orders],
        }, schema_overrides={"distance_km": pl.Float64, "weight_kg": pl.Float64})
        return np.asarray(self.model.predict_proba(frame), dtype=float)


def _logistics_model(data_dir: Path) -> Any | None:
    """The trained logistics late-risk model (``analytics.logistics.load_models``), or None if untrained."""
    try:
        from analytics.logistics import load_models
    except ImportError:
        return None
    try:
        return load_models(DataDir(Path(data_dir)).models).late_risk
    except FileNotFoundError:  # ModelsNotTrainedError: `python app.py train` has not run yet
        return None
    except Exception as exc:  # a broken or tampered artifact must not stop the live feed
        log.warning("late-risk model not usable (%s); using the historical fallback", exc)
        return None


def load_scorer(data_dir: Path | str) -> RiskScorer:
    """The trained logistics model when available, else :class:`HistoricalLateRateFallback`."""
    model = _logistics_model(Path(data_dir))
    if model is not None:
        return LogisticsModelScorer(model)
    return HistoricalLateRateFallback.from_orders(data_dir)
