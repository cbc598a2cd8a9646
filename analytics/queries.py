"""Queries written once with narwhals; they run on any Engine (Polars by default, Spark too)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import narwhals as nw
import polars as pl

from analytics.engine import Engine, Summary


@dataclass(frozen=True)
class OrderFilter:
    """Filters shared by the pages; empty tuples mean "all"."""

    start: date | None = None
    end: date | None = None
    regions: tuple[str, ...] = field(default_factory=tuple)
    carriers: tuple[str, ...] = field(default_factory=tuple)
    modes: tuple[str, ...] = field(default_factory=tuple)
    categories: tuple[str, ...] = field(default_factory=tuple)
    dcs: tuple[str, ...] = field(default_factory=tuple)

    def apply(self, lf: nw.LazyFrame[Any]) -> nw.LazyFrame[Any]:
        preds = []
        if self.start is not None:
            preds.append(nw.col("order_date") >= self.start)
        if self.end is not None:
            preds.append(nw.col("order_date") <= self.end)
        for col, values in (("region", self.regions), ("carrier", self.carriers),
                            ("shipping_mode", self.modes), ("category", self.categories),
                            ("origin_dc", self.dcs)):
            if values:
                preds.append(nw.col(col).is_in(list(values)))
        return lf.filter(*preds) if preds else lf


    @property
    def date_range(self) -> tuple[date | None, date | None] | None:
        """(start, end) when the filter bounds the order date (an engine may then read fewer files)."""
        return (self.start, self.end) if self.start is not None or self.end is not None else None


def scan(engine: Engine, table: str, flt: OrderFilter | None) -> nw.LazyFrame[Any]:
    """``table`` filtered by ``flt``; an engine that stores it by month (Spark) opens only the months in range."""
    flt = flt or OrderFilter()
    rng = flt.date_range
    lf = engine.table(table, date_range=rng) if rng is not None else engine.table(table)
    return flt.apply(lf)


def _orders(engine: Engine, flt: OrderFilter | None) -> nw.LazyFrame[Any]:
    return scan(engine, "orders", flt)


# One pass over the orders into per-day sums (a few thousand rows): the Overview, the date bounds and the
# Peru check read it instead of the orders; computed once per version of the orders (Engine.summary).
DAILY = Summary("orders", ("order_date", "country", "region"), (
    nw.len().alias("orders"),
    nw.col("amount_pen").sum().alias("revenue_pen"),
    nw.col("is_late").cast(nw.Int64).sum().alias("late"),
    nw.col("is_late").count().alias("late_n"),
    nw.col("actual_days").sum().alias("days_sum"),
    nw.col("actual_days").count().alias("days_n"),
))
# The filter dropdowns' columns: one pass gives every column's distinct values.
OPTION_COLUMNS = ("country", "region", "carrier", "shipping_mode", "category", "origin_dc")
OPTIONS = Summary("orders", OPTION_COLUMNS, (nw.len().alias("orders"),))


def date_bounds(engine: Engine) -> tuple[date | None, date | None]:
    """First and last order date."""
    daily = engine.summary(DAILY)
    if daily.height == 0:
        return None, None
    return daily["order_date"].min(), daily["order_date"].max()  # type: ignore[return-value]


def _kpi_exprs() -> list[nw.Expr]:
    return [
        nw.len().alias("orders"),
        nw.col("amount_pen").sum().alias("revenue_pen"),
        (1.0 - nw.col("is_late").cast(nw.Float64).mean()).alias("on_time_rate"),
        nw.col("actual_days").cast(nw.Float64).mean().alias("avg_delivery_days"),
        nw.col("is_late").cast(nw.Float64).mean().alias("late_rate"),
    ]


def overview_kpis(engine: Engine, flt: OrderFilter | None = None) -> dict[str, float | int | None]:
    """Orders, revenue (S/), on-time rate, average delivery days, late rate."""
    res = engine.collect(_orders(engine, flt).select(*_kpi_exprs()))
    row = res.row(0, named=True) if res.height else {}
    out: dict[str, float | int | None] = {
        "orders": int(row.get("orders") or 0),
        "revenue_pen": float(row["revenue_pen"]) if row.get("revenue_pen") is not None else 0.0,
        "on_time_rate": row.get("on_time_rate"),
        "avg_delivery_days": row.get("avg_delivery_days"),
        "late_rate": row.get("late_rate"),
    }
    return out


def monthly_trend(engine: Engine, flt: OrderFilter | None = None) -> pl.DataFrame:
    """One row per month: month (first day), orders, revenue_pen, late_rate, avg_delivery_days."""
    lf = (
        _orders(engine, flt)
        .with_columns(nw.col("order_date").dt.truncate("1mo").cast(nw.Date).alias("month"))
        .group_by("month")
        .agg(*_kpi_exprs())
        .sort("month")
    )
    return engine.collect(lf).select("month", "orders", "revenue_pen", "late_rate", "avg_delivery_days")


def region_summary(engine: Engine, flt: OrderFilter | None = None) -> pl.DataFrame:
    """One row per (country, region): orders, revenue_pen, late_rate, avg_delivery_days; by revenue."""
    lf = (
        _orders(engine, flt)
        .group_by("country", "region")
        .agg(*_kpi_exprs())
        .sort(["revenue_pen", "region"], descending=[True, False])
    )
    return engine.collect(lf).select("country", "region", "orders", "revenue_pen", "late_rate",
                                     "avg_delivery_days")


def distinct_values(engine: Engine, column: str, table: str = "orders") -> list[str]:
    """Sorted distinct non-null values of a column (for filter dropdowns)."""
    if table == OPTIONS.table and column in OPTION_COLUMNS:
        values = engine.summary(OPTIONS)[column].drop_nulls().unique().sort()
        return [str(v) for v in values.to_list()]
    res = engine.collect(engine.table(table).select(nw.col(column)).unique().filter(
        ~nw.col(column).is_null()).sort(column))
    return [str(v) for v in res[column].to_list()]


def is_peru_dataset(engine: Engine) -> bool:
    """True when every order is in Peru (the map can be drawn); imports may be global."""
    daily = engine.summary(DAILY).filter(pl.col("country").is_not_null())
    total = int(daily["orders"].sum()) if daily.height else 0
    if not total:
        return False
    return int(daily.filter(pl.col("country") == "PE")["orders"].sum()) / total >= 0.999


__all__: Sequence[str] = ["DAILY", "OPTIONS", "OrderFilter", "date_bounds", "distinct_values", "is_peru_dataset",
                          "monthly_trend", "overview_kpis", "region_summary", "scan"]


@dataclass(frozen=True)
class Overview:
    kpis: dict[str, float | int | None]
    trend: pl.DataFrame
    regions: pl.DataFrame
    peru: bool
    bounds: tuple[date | None, date | None]


def daily_summary(engine: Engine, flt: OrderFilter | None = None) -> pl.DataFrame:
    """Per (order_date, country, region) the additive sums every overview figure is derived from (orders,
    revenue, late count, delivery-day sums): from ``DAILY`` when ``flt`` only bounds dates and regions, else
    one pass over the filtered orders."""
    flt = flt or OrderFilter()
    if not (flt.carriers or flt.modes or flt.categories or flt.dcs):
        daily = engine.summary(DAILY)
        preds = []
        if flt.start is not None:
            preds.append(pl.col("order_date") >= flt.start)
        if flt.end is not None:
            preds.append(pl.col("order_date") <= flt.end)
        if flt.regions:
            preds.append(pl.col("region").is_in(list(flt.regions)))
        return daily.filter(*preds) if preds else daily
    lf = (
        _orders(engine, flt)
        .group_by("order_date", "country", "region")
        .agg(
            nw.len().alias("orders"),
            nw.col("amount_pen").sum().alias("revenue_pen"),
            nw.col("is_late").cast(nw.Int64).sum().alias("late"),
            nw.col("is_late").count().alias("late_n"),
            nw.col("actual_days").sum().alias("days_sum"),
            nw.col("actual_days").count().alias("days_n"),
        )
    )
    return engine.collect(lf)


def _ratios(df: pl.DataFrame) -> list[pl.Expr]:
    return [
        pl.col("orders").sum().alias("orders"),
        pl.col("revenue_pen").sum().alias("revenue_pen"),
        (pl.col("late").sum() / pl.col("late_n").sum()).alias("late_rate"),
        (pl.col("days_sum").sum() / pl.col("days_n").sum()).alias("avg_delivery_days"),
    ]


def overview(engine: Engine, flt: OrderFilter | None = None) -> Overview:
    """Everything the Overview page shows for a filter: one scan of the orders, then small frames."""
    daily = daily_summary(engine, flt).with_columns(pl.col("orders").cast(pl.Int64))
    tot = daily.select(_ratios(daily)).row(0, named=True) if daily.height else {}
    late = tot.get("late_rate")
    kpis: dict[str, float | int | None] = {
        "orders": int(tot.get("orders") or 0),
        "revenue_pen": float(tot.get("revenue_pen") or 0.0),
        "on_time_rate": None if late is None else 1.0 - late,
        "avg_delivery_days": tot.get("avg_delivery_days"),
        "late_rate": late,
    }
    trend = (daily.group_by(pl.col("order_date").dt.truncate("1mo").alias("month")).agg(_ratios(daily))
             .sort("month").select("month", "orders", "revenue_pen", "late_rate", "avg_delivery_days"))
    regions = (daily.group_by("country", "region").agg(_ratios(daily))
               .sort(["revenue_pen", "region"], descending=[True, False])
               .select("country", "region", "orders", "revenue_pen", "late_rate", "avg_delivery_days"))
    return Overview(kpis=kpis, trend=trend, regions=regions, peru=is_peru_dataset(engine),
                    bounds=date_bounds(engine))
