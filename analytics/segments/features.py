"""Per-customer features for segmentation, computed by the engine.

The aggregation is written once with narwhals over ``engine.table("orders")`` so it runs on Polars
and on Spark; only the (one row per customer) result is collected, and the few derived columns
(recency and tenure in days) are computed on that small frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

import narwhals as nw
import polars as pl

from analytics.engine import Engine
from analytics.queries import OrderFilter

# Orders with at least this discount count as "bought on a deal" (discount sensitivity).
DEAL_DISCOUNT_PCT = 15.0
CAPITAL_REGIONS = ("PE-LIM", "PE-CAL")  # Lima and Callao: the capital's e-commerce market

FEATURE_COLUMNS = (
    "customer_id", "orders", "monetary_pen", "avg_order_value_pen", "avg_items", "discount_mean_pct",
    "deal_share", "late_share", "capital_share", "first_order", "last_order", "recency_days", "tenure_days",
    "region",
)


class SegmentInputError(ValueError):
    """The inputs of a segmentation run cannot be used (bad k, empty selection, missing columns)."""


REQUIRED_ORDER_COLUMNS = ("customer_id", "order_date", "region", "category", "quantity", "amount_pen",
                          "discount_pct", "is_late")


def _cat_col(category: str) -> str:
    return f"cat_{category}"


def category_columns(features: pl.DataFrame) -> list[str]:
    return [c for c in features.columns if c.startswith("cat_")]


def customer_features(engine: Engine, flt: OrderFilter | None = None,
                      reference_date: date | None = None) -> pl.DataFrame:
    """One row per customer with at least one order in the filter.

    Columns: ``FEATURE_COLUMNS`` plus ``cat_<category>`` shares (category mix, summing to 1).
    Recency and tenure are measured in days up to ``reference_date`` (default: the filter's end,
    else the last order date in the selection).
    """
    lf = engine.table("orders")
    missing = [c for c in REQUIRED_ORDER_COLUMNS if c not in lf.collect_schema().names()]
    if missing:
        raise SegmentInputError(f"orders table lacks columns needed for segments: {', '.join(missing)}")
    lf = (flt or OrderFilter()).apply(lf)
    cats = engine.collect(lf.select("category").unique())["category"].drop_nulls().sort().to_list()
    lf = lf.with_columns(
        nw.col("is_late").cast(nw.Float64).alias("_late"),
        (nw.col("discount_pct") >= DEAL_DISCOUNT_PCT).cast(nw.Float64).alias("_deal"),
        nw.col("region").is_in(list(CAPITAL_REGIONS)).cast(nw.Float64).alias("_capital"),
        *[(nw.col("category") == c).cast(nw.Float64).alias(_cat_col(c)) for c in cats],
    )
    agg = lf.group_by("customer_id").agg(
        nw.len().alias("orders"),
        nw.col("amount_pen").sum().alias("monetary_pen"),
        nw.col("quantity").cast(nw.Float64).mean().alias("avg_items"),
        nw.col("discount_pct").mean().alias("discount_mean_pct"),
        nw.col("_deal").mean().alias("deal_share"),
        nw.col("_late").mean().alias("late_share"),
        nw.col("_capital").mean().alias("capital_share"),
        nw.col("order_date").min().alias("first_order"),
        nw.col("order_date").max().alias("last_order"),
        *[nw.col(_cat_col(c)).mean().alias(_cat_col(c)) for c in cats],
    )
    # home region = the region most of the customer's orders went to (ties: alphabetical)
    by_region = lf.group_by("customer_id", "region").agg(nw.len().alias("_n"))
    home = (by_region.with_columns(nw.col("_n").max().over("customer_id").alias("_mx"))
            .filter(nw.col("_n") == nw.col("_mx"))
            .group_by("customer_id").agg(nw.col("region").min().alias("region")))
    out = engine.collect(agg.join(home, on="customer_id", how="left"))
    return finish_features(out, cats, reference_date or (flt.end if flt else None))


def finish_features(raw: pl.DataFrame, categories: Sequence[str], reference_date: date | None) -> pl.DataFrame:
    """Derived columns on the per-customer frame (recency, tenure, average order value), sorted by id."""
    if raw.height == 0:
        return raw
    ref = reference_date or raw["last_order"].max()
    ref_lit = pl.lit(ref, dtype=pl.Date)
    out = raw.with_columns(
        pl.col("orders").cast(pl.Int64),
        pl.col("first_order").cast(pl.Date),
        pl.col("last_order").cast(pl.Date),
    ).with_columns(
        (pl.col("monetary_pen") / pl.col("orders")).alias("avg_order_value_pen"),
        (ref_lit - pl.col("last_order")).dt.total_days().clip(0, None).cast(pl.Int64).alias("recency_days"),
        (ref_lit - pl.col("first_order")).dt.total_days().clip(0, None).cast(pl.Int64).alias("tenure_days"),
    )
    cat_cols = [_cat_col(c) for c in categories]
    return out.select(*FEATURE_COLUMNS, *cat_cols).sort("customer_id")


def features_from_frame(orders: Any, flt: OrderFilter | None = None, reference_date: date | None = None) -> pl.DataFrame:
    """Features of an in-memory orders frame (Polars/pandas/anything narwhals reads); used by tests and the CLI."""

    class _Mem:
        name = "memory"

        def __init__(self, frame: Any) -> None:
            self._lf = nw.from_native(frame).lazy() if not isinstance(frame, pl.DataFrame) else nw.from_native(frame.lazy())

        def table(self, name: str) -> nw.LazyFrame[Any]:
            return self._lf

        def collect(self, frame: nw.LazyFrame[Any]) -> pl.DataFrame:
            return frame.collect(backend="polars").to_native()

    return customer_features(_Mem(orders), flt, reference_date)  # type: ignore[arg-type]
