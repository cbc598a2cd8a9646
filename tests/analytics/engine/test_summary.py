"""The one-pass path the pages use: ``Engine.summary`` (per-day sums kept per table version) answers what the
full scans answered; month-partitioned tables are opened only for the months a date filter needs."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import narwhals as nw
import polars as pl
import pytest

from analytics import queries, storage
from analytics.engine.polars_engine import PolarsEngine
from analytics.queries import OrderFilter


def _scan_daily(engine: PolarsEngine, flt: OrderFilter) -> pl.DataFrame:
    """daily_summary's scan path, for any filter (what the summary replaces)."""
    lf = flt.apply(engine.table("orders")).group_by("order_date", "country", "region").agg(
        nw.len().alias("orders"), nw.col("amount_pen").sum().alias("revenue_pen"),
        nw.col("is_late").cast(nw.Int64).sum().alias("late"), nw.col("is_late").count().alias("late_n"),
        nw.col("actual_days").sum().alias("days_sum"), nw.col("actual_days").count().alias("days_n"))
    return engine.collect(lf)


def _sorted(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(pl.col("orders").cast(pl.Int64)).sort("order_date", "region")


def test_summary_answers_what_the_scan_answered(demo_dir):
    pe = PolarsEngine(demo_dir)
    orders = pe.frame("orders")
    for flt in (OrderFilter(), OrderFilter(start=date(2023, 3, 2), end=date(2023, 9, 30), regions=("PE-LIM",))):
        got, want = _sorted(queries.daily_summary(pe, flt)), _sorted(_scan_daily(pe, flt))
        assert got.columns == want.columns and got.height == want.height > 0
        assert got.drop("revenue_pen").equals(want.drop("revenue_pen"))
        assert got["revenue_pen"].to_list() == pytest.approx(want["revenue_pen"].to_list(), rel=1e-12)
    assert queries.date_bounds(pe) == (orders["order_date"].min(), orders["order_date"].max())
    assert queries.is_peru_dataset(pe) is True
    for col in queries.OPTION_COLUMNS:
        assert queries.distinct_values(pe, col) == sorted(str(v) for v in orders[col].drop_nulls().unique())
    # a filter on a column the summary does not keep goes to the orders themselves
    flt = OrderFilter(modes=("air",))
    assert queries.overview(pe, flt).kpis["orders"] == orders.filter(pl.col("shipping_mode") == "air").height


def test_summary_follows_the_table_version(demo_dir, tmp_path):
    d = tmp_path / "data"
    shutil.copytree(demo_dir, d, ignore=shutil.ignore_patterns(".cache"))
    pe = PolarsEngine(d)
    first = pe.summary(queries.DAILY)
    assert pe.summary(queries.DAILY) is first  # kept, not recomputed
    storage.write_table(pl.read_parquet(d / "orders.parquet").head(500), d, "orders")
    assert int(pe.summary(queries.DAILY)["orders"].sum()) == 500
    assert queries.DAILY.digest != queries.OPTIONS.digest and len(queries.DAILY.digest) == 16


def test_months_in_range_keeps_only_overlapping_partitions():
    from analytics.engine.spark_engine import _months_in_range

    files = [Path(f"/d/orders/order_month=2023-{m:02d}/part-0.parquet") for m in range(1, 13)]
    got = _months_in_range(files, (date(2023, 3, 31), date(2023, 5, 1)))
    assert [f.parent.name for f in got or []] == ["order_month=2023-03", "order_month=2023-04", "order_month=2023-05"]
    assert _months_in_range(files, (None, date(2023, 1, 15))) == files[:1]
    assert _months_in_range(files, (date(2024, 1, 1), None)) == []
    assert _months_in_range([Path("/d/orders.parquet")], (date(2023, 1, 1), None)) is None  # not partitioned
