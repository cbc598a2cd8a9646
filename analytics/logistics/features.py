"""Order-time features for the logistics models.

Only what is known when an order is placed or dispatched: where it goes, what it is, how and with
whom it ships, what was promised, and the calendar. Never the outcome — ``actual_days``,
``is_late``, delivery/order status, shipping date or anything derived from them (see
:data:`LEAKY_COLUMNS`; :func:`build_features` never reads them, and the leakage test checks it).

The calendar of retail peaks (Cyber Wow, Fiestas Patrias, Christmas) and the disruption episodes
in :mod:`analytics.geo` are public record, known in advance or at dispatch time.
"""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from analytics import geo

CATEGORICAL: tuple[str, ...] = (
    "region", "natural_region", "country", "category", "shipping_mode", "carrier", "origin_dc",
)
NUMERIC: tuple[str, ...] = (
    "distance_km", "weight_kg", "promised_days", "quantity", "amount_pen", "discount_pct",
    "month", "day_of_year", "weekday", "hour", "after_peak", "disruption_active",
)
FEATURES: tuple[str, ...] = CATEGORICAL + NUMERIC

# Order columns the features are built from (the only ones build_features reads).
INPUT_COLUMNS: tuple[str, ...] = (
    "created_at", "order_date", "country", "region", "category", "quantity", "amount_pen",
    "discount_pct", "shipping_mode", "carrier", "origin_dc", "distance_km", "weight_kg",
    "promised_days",
)
# Outcome columns (and DataCo's outcome fields) that must never reach a model.
LEAKY_COLUMNS: tuple[str, ...] = (
    "actual_days", "is_late", "delivery_status", "order_status", "late_delivery_risk",
    "shipping_date", "days_for_shipping_real", "delivered_at", "shipped_at",
)

# Groups used for the per-order "top reasons" (occlusion attributions), with their labels.
GROUPS: dict[str, tuple[str, ...]] = {
    "destination": ("region", "natural_region", "country", "distance_km"),
    "carrier": ("carrier",),
    "shipping_mode": ("shipping_mode",),
    "origin_dc": ("origin_dc",),
    "category": ("category",),
    "season": ("month", "day_of_year"),
    "weekday": ("weekday", "hour"),
    "peak": ("after_peak",),
    "disruption": ("disruption_active",),
    "parcel": ("weight_kg", "quantity", "amount_pen", "discount_pct"),
    "promise": ("promised_days",),
}

# Public retail calendar: Cyber Wow editions (real dates, geo.CYBER_WOW), Fiestas Patrias and Christmas rush.
BACKLOG_DAYS = 6  # carriers work off a peak's backlog for about a week


_NATURAL = {r.code: r.natural_region for r in geo.REGIONS}


def _covered_days() -> list[date]:
    days: set[date] = set()
    for a, b in geo.CYBER_WOW:
        d, end = date.fromisoformat(a), date.fromisoformat(b) + timedelta(days=BACKLOG_DAYS)
        while d <= end:
            days.add(d)
            d += timedelta(days=1)
    return sorted(days)


_CYBER_BACKLOG = _covered_days()


def _after_peak(order_date: pl.Expr) -> pl.Expr:
    """1 when the order falls on a retail peak day or within the backlog week after one."""
    month, dom = order_date.dt.month(), order_date.dt.day()
    fiestas = ((month == 7) & (dom >= 20)) | ((month == 8) & (dom <= BACKLOG_DAYS))
    christmas = (month == 12) & dom.is_between(10, 24 + BACKLOG_DAYS)
    return (fiestas | christmas | order_date.is_in(_CYBER_BACKLOG)).cast(pl.Int8)


def _disruption_active(order_date: pl.Expr, region: pl.Expr) -> pl.Expr:
    """1 when a public disruption episode (blockade, flood, port congestion) covers the order."""
    expr = pl.lit(False)
    for ep in geo.DISRUPTIONS:
        start, end = date.fromisoformat(ep["start"]), date.fromisoformat(ep["end"])
        expr = expr | (order_date.is_between(pl.lit(start), pl.lit(end)) & region.is_in(list(ep["regions"])))
    return expr.cast(pl.Int8)


def build_features(df: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """Model features for each order, in the input order (order-time information only).

    Needs :data:`INPUT_COLUMNS` (``distance_km``/``weight_kg`` may be null; ``created_at`` may be
    missing if ``order_date`` is present). Raises ValueError naming any missing column.
    """
    lf = df.lazy() if isinstance(df, pl.DataFrame) else df
    schema = lf.collect_schema()
    required = [c for c in INPUT_COLUMNS if c not in ("created_at", "distance_km", "weight_kg")]
    missing = [c for c in required if c not in schema]
    if "created_at" not in schema and "order_date" not in schema:
        missing.append("order_date")
    if missing:
        raise ValueError(f"build_features: missing order columns: {', '.join(sorted(set(missing)))}")
    od = pl.col("order_date") if "order_date" in schema else pl.col("created_at").dt.date()
    hour = pl.col("created_at").dt.hour().cast(pl.Int16) if "created_at" in schema else pl.lit(None, pl.Int16)
    num = {c: (pl.col(c) if c in schema else pl.lit(None)).cast(pl.Float64) for c in ("distance_km", "weight_kg")}
    region = pl.col("region").cast(pl.String)
    out = lf.select(
        region.fill_null("?").alias("region"),
        region.replace_strict(_NATURAL, default="other", return_dtype=pl.String).alias("natural_region"),
        pl.col("country").cast(pl.String).fill_null("?").alias("country"),
        pl.col("category").cast(pl.String).fill_null("?").alias("category"),
        pl.col("shipping_mode").cast(pl.String).fill_null("?").alias("shipping_mode"),
        pl.col("carrier").cast(pl.String).fill_null("?").alias("carrier"),
        pl.col("origin_dc").cast(pl.String).fill_null("?").alias("origin_dc"),
        num["distance_km"].alias("distance_km"),
        num["weight_kg"].alias("weight_kg"),
        pl.col("promised_days").cast(pl.Float64).alias("promised_days"),
        pl.col("quantity").cast(pl.Float64).alias("quantity"),
        pl.col("amount_pen").cast(pl.Float64).alias("amount_pen"),
        pl.col("discount_pct").cast(pl.Float64).alias("discount_pct"),
        od.dt.month().cast(pl.Float64).alias("month"),
        od.dt.ordinal_day().cast(pl.Float64).alias("day_of_year"),
        od.dt.weekday().cast(pl.Float64).alias("weekday"),
        hour.cast(pl.Float64).alias("hour"),
        _after_peak(od).cast(pl.Float64).alias("after_peak"),
        _disruption_active(od, region).cast(pl.Float64).alias("disruption_active"),
    )
    return out.collect()


__all__ = ["CATEGORICAL", "FEATURES", "GROUPS", "INPUT_COLUMNS", "LEAKY_COLUMNS", "NUMERIC", "build_features"]
