"""Weekly demand per series (``origin_dc`` x ``category``), aggregated by one narwhals query.

* Units are the sum of ``quantity``; a week starts on Monday of the Lima calendar. ``order_date`` is
  the America/Lima date of ``created_at`` (Spark sessions run in America/Lima too), so an order placed
  at 23:30 on a Sunday in Lima counts in that week even though it is Monday in UTC. The engine
  aggregates by day (:func:`daily_query`, the same expression on Polars and Spark); days are binned
  into Monday weeks on the small collected frame.
* A series is the pair (``origin_dc``, ``category``) as stored in the orders table. For generated
  data that is a distribution centre and a product category. DataCo imports store the DataCo
  ``Market`` (Africa, Europe, LATAM, Pacific Asia, USCA) in ``origin_dc`` (see ``analytics.dataco``):
  the market is where the order is fulfilled from, the closest DataCo has to a DC, so DataCo series
  are Market x ``Category Name``. ``Order Region`` is a destination, not a source of stock, and is
  not used to form series.
* Only complete weeks count: the first week starts on the first Monday on or after the first order
  date, the last week is the last one whose Sunday is on or before the last order date. A week with
  no orders in a series is a zero, not a gap (:func:`dense_panel`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import narwhals as nw
import numpy as np
import polars as pl

from analytics.engine import Engine

SERIES_KEYS: tuple[str, str] = ("origin_dc", "category")
WEEK = "week_start"


class DemandDataError(ValueError):
    """The orders cannot support a forecast (too little history, bad as-of date, no orders)."""


def monday(d: date) -> date:
    """The Monday on or before ``d``."""
    return d - timedelta(days=d.weekday())


def daily_query(engine: Engine, before: date | None = None) -> nw.LazyFrame[Any]:
    """The lazy aggregation the engine runs (one expression tree for Polars and Spark).

    One row per (origin_dc, category, order_date) with orders: ``units`` (sum of quantity),
    ``orders``, ``amount_pen`` and ``discount_sum`` (sum of discount_pct). ``before`` keeps orders with
    ``order_date < before``. Days, not weeks: narwhals has no week truncation that means the same on
    every engine, and a day-level result is small (series x days) whatever the number of orders."""
    lf = engine.table("orders")
    if before is not None:
        lf = lf.filter(nw.col("order_date") < before)
    return (
        lf.filter(~nw.col("origin_dc").is_null(), ~nw.col("category").is_null())
        .group_by(*SERIES_KEYS, "order_date")
        .agg(
            nw.col("quantity").sum().cast(nw.Int64).alias("units"),
            nw.len().cast(nw.Int64).alias("orders"),
            nw.col("amount_pen").sum().alias("amount_pen"),
            nw.col("discount_pct").sum().alias("discount_sum"),
        )
    )


def weekly_demand(engine: Engine, before: date | None = None) -> pl.DataFrame:
    """Weekly demand per series: origin_dc, category, week_start (Date, a Monday of the Lima calendar),
    units, orders, amount_pen, discount_pct (mean over the week's orders). Sorted by series and week.

    The engine aggregates by day (:func:`daily_query`); the days are binned into weeks here, on the
    small collected frame, with the same code whatever engine ran the query."""
    daily = engine.collect(daily_query(engine, before))
    return (
        daily.with_columns(
            pl.col("order_date").cast(pl.Date),
            pl.col("origin_dc").cast(pl.String), pl.col("category").cast(pl.String))
        .with_columns((pl.col("order_date") - pl.duration(days=pl.col("order_date").dt.weekday() - 1)).alias(WEEK))
        .group_by(*SERIES_KEYS, WEEK)
        .agg(pl.col("units").sum().cast(pl.Int64), pl.col("orders").sum().cast(pl.Int64),
             pl.col("amount_pen").sum().cast(pl.Float64), pl.col("discount_sum").sum().cast(pl.Float64))
        .with_columns((pl.col("discount_sum") / pl.col("orders")).alias("discount_pct"))
        .select(*SERIES_KEYS, WEEK, "units", "orders", "amount_pen", "discount_pct")
        .sort(*SERIES_KEYS, WEEK)
    )


def order_date_bounds(engine: Engine) -> tuple[date, date]:
    """First and last order date; DemandDataError when there are no orders."""
    res = engine.collect(engine.table("orders").select(
        nw.col("order_date").min().alias("lo"), nw.col("order_date").max().alias("hi")))
    lo, hi = (res["lo"][0], res["hi"][0]) if res.height else (None, None)
    if lo is None or hi is None:
        raise DemandDataError("the orders table has no orders with a date")
    return lo, hi


def complete_weeks(first_day: date, last_day: date) -> tuple[date, date]:
    """(first, end): the first complete week's Monday and the Monday after the last complete week."""
    first = monday(first_day) if first_day.weekday() == 0 else monday(first_day) + timedelta(days=7)
    end = monday(last_day + timedelta(days=1))  # Sunday last_day -> next Monday; otherwise this week's
    return first, end


TOTAL_KEY: tuple[str, str] = ("TOTAL", "TOTAL")


@dataclass(frozen=True)
class Panel:
    """Dense weekly history: ``units[s, t]`` for series ``keys[s]`` and the week starting ``weeks[t]``.

    Every array holds weekly sums, so series add up: ``orders``, ``amount_pen`` (S/) and
    ``discount_sum`` (sum of discount_pct over orders; divided by ``orders`` it is the mean discount)."""

    keys: tuple[tuple[str, str], ...]
    weeks: tuple[date, ...]
    units: np.ndarray  # [S, T] float
    orders: np.ndarray  # [S, T]
    amount_pen: np.ndarray  # [S, T]
    discount_sum: np.ndarray  # [S, T]

    @property
    def n_series(self) -> int:
        return len(self.keys)

    @property
    def n_weeks(self) -> int:
        return len(self.weeks)

    def week_at(self, i: int) -> date:
        """Monday of week ``i`` (``i >= n_weeks`` is the future)."""
        return self.weeks[0] + timedelta(days=7 * int(i))

    def truncate(self, end: int) -> Panel:
        """The first ``end`` weeks only (what was known before week ``end``)."""
        return Panel(self.keys, self.weeks[:end], self.units[:, :end], self.orders[:, :end],
                     self.amount_pen[:, :end], self.discount_sum[:, :end])

    def with_total(self) -> Panel:
        """This panel plus one last series, :data:`TOTAL_KEY`, the sum of all the others."""
        if TOTAL_KEY in self.keys:
            raise DemandDataError(f"a series is already called {TOTAL_KEY}")

        def add(x: np.ndarray) -> np.ndarray:
            return np.vstack([x, x.sum(axis=0, keepdims=True)])

        return Panel((*self.keys, TOTAL_KEY), self.weeks, add(self.units), add(self.orders), add(self.amount_pen),
                     add(self.discount_sum))


def dense_panel(weekly: pl.DataFrame, first_week: date, end_week: date) -> Panel:
    """Every series x every week in ``[first_week, end_week)``, zeros where a series had no orders."""
    n_weeks = (end_week - first_week).days // 7
    if n_weeks <= 0:
        raise DemandDataError("no complete week of orders before the as-of date")
    weeks = tuple(first_week + timedelta(days=7 * i) for i in range(n_weeks))
    w = weekly.filter((pl.col(WEEK) >= first_week) & (pl.col(WEEK) < end_week))
    keys = tuple(sorted({(str(a), str(b)) for a, b in w.select(*SERIES_KEYS).unique().iter_rows()}))
    if not keys:
        raise DemandDataError("no orders in the complete weeks before the as-of date")
    index = {k: i for i, k in enumerate(keys)}
    s = np.array([index[(str(a), str(b))] for a, b in zip(w["origin_dc"].to_list(), w["category"].to_list())],
                 dtype=np.int64)
    t = np.array([(d - first_week).days // 7 for d in w[WEEK].to_list()], dtype=np.int64)

    def grid(values: pl.Series) -> np.ndarray:
        out = np.zeros((len(keys), n_weeks))
        out[s, t] = values.cast(pl.Float64).fill_null(0.0).to_numpy()
        return out

    return Panel(keys, weeks, grid(w["units"]), grid(w["orders"]), grid(w["amount_pen"]),
                 grid(w["discount_pct"] * w["orders"]))


def load_panel(engine: Engine, as_of: date | None = None) -> tuple[Panel, date]:
    """The dense panel of complete weeks before ``as_of`` and the as-of Monday it was cut at.

    ``as_of`` (default: the day after the last complete week) is moved back to its Monday: the
    week that contains it is forecast, not observed. Raises DemandDataError for an as-of date
    after the data ends or before the first complete week."""
    lo, hi = order_date_bounds(engine)
    first, end = complete_weeks(lo, hi)
    cut = end if as_of is None else monday(as_of)
    if cut > end:
        raise DemandDataError(f"as-of {as_of} is after the last complete week of orders (data ends {hi}; "
                              f"latest possible as-of {end})")
    if cut <= first:
        raise DemandDataError(f"as-of {as_of} leaves no complete week of orders before it (data starts {lo})")
    weekly = weekly_demand(engine, before=cut)
    return dense_panel(weekly, first, cut), cut


__all__ = ["SERIES_KEYS", "TOTAL_KEY", "WEEK", "DemandDataError", "Panel", "complete_weeks", "dense_panel", "load_panel",
           "daily_query", "monday", "order_date_bounds", "weekly_demand"]
