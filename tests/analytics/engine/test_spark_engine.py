"""Spark engine behaviour: schema checks and quarantine like Polars, month-partitioned tables in both
engines, time zone, dtypes, errors, the pandas pin."""

from __future__ import annotations

import json
import shutil
import warnings
from datetime import date
from pathlib import Path

import polars as pl
import pytest

from analytics import queries, storage
from analytics.demo_orders import END, START
from analytics.engine.polars_engine import PolarsEngine
from analytics.schemas import SchemaError
from tests.fixtures.spark import assert_same, assert_same_value

pytestmark = pytest.mark.spark


def _copy(demo_dir: Path, dst: Path) -> Path:
    shutil.copytree(demo_dir, dst, ignore=shutil.ignore_patterns(".cache", "quarantine"))
    return dst


def test_quarantine_same_rows_and_reasons(demo_dir, tmp_path, spark_session):
    from analytics.engine.spark_engine import SparkEngine

    d = _copy(demo_dir, tmp_path / "data")
    orders = pl.read_parquet(d / "orders.parquet")
    broken = orders.with_row_index("i").with_columns(
        pl.when(pl.col("i") == 4).then(-1).otherwise(pl.col("quantity")).alias("quantity"),
        pl.when(pl.col("i") == 4).then(pl.lit("teleport")).when(pl.col("i") == 30_001).then(pl.lit("drone"))
        .otherwise(pl.col("shipping_mode")).alias("shipping_mode"),
        pl.when(pl.col("i") == 59_998).then(None).otherwise(pl.col("customer_id")).alias("customer_id"),
        pl.when(pl.col("i") == 12_345).then(float("nan")).otherwise(pl.col("amount_pen")).alias("amount_pen"),
    ).drop("i")
    broken.write_parquet(d / "orders.parquet")

    polars_q = d / "polars-quarantine.parquet"
    assert PolarsEngine(d).row_count("orders") == 60_000 - 4
    shutil.move(storage.quarantine_path(d, "orders"), polars_q)

    se = SparkEngine(d, session=spark_session)
    assert se.row_count("orders") == 60_000 - 4  # in = accepted + rejected
    got = pl.read_parquet(storage.quarantine_path(d, "orders"))
    want = pl.read_parquet(polars_q)
    assert got["row_number"].to_list() == [5, 12_346, 30_002, 59_999]
    assert got["reason"].to_list() == want["reason"].to_list()
    assert got["reason"][0] == "quantity: must be ≥ 1; shipping_mode: must be one of standard, express, air, river"
    assert_same(want, got)
    assert queries.overview_kpis(se)["orders"] == 60_000 - 4
    assert_same_value(queries.overview_kpis(PolarsEngine(d)), queries.overview_kpis(se))


def test_structure_error_like_polars(demo_dir, tmp_path, spark_session):
    from analytics.engine.spark_engine import SparkEngine

    d = _copy(demo_dir, tmp_path / "data")
    pl.read_parquet(d / "customers.parquet").drop("segment").write_parquet(d / "customers.parquet")
    with pytest.raises(SchemaError, match="missing columns: segment"):
        PolarsEngine(d).table("customers")
    with pytest.raises(SchemaError, match="missing columns: segment"):
        SparkEngine(d, session=spark_session).table("customers")


def test_month_partitioned_orders_both_engines(demo_dir, tmp_path, spark_session):
    """orders/ as order_month=YYYY-MM/ folders gives the same answers as orders.parquet, on both engines."""
    from analytics.engine.spark_engine import SparkEngine

    d = _copy(demo_dir, tmp_path / "data")
    storage.write_partitioned(pl.read_parquet(d / "orders.parquet"), d, "orders")
    assert not (d / "orders.parquet").exists()
    months = sorted(p.name for p in (d / "orders").iterdir())
    assert len(months) == (END.year - START.year) * 12 + END.month - START.month + 1
    assert months[0] == f"order_month={START:%Y-%m}" and months[-1] == f"order_month={END:%Y-%m}"
    assert storage.list_tables(d).count("orders") == 1 and storage.has_table(d, "orders")

    pe_part, se_part = PolarsEngine(d), SparkEngine(d, session=spark_session)
    pe_file = PolarsEngine(demo_dir)
    flt = queries.OrderFilter(start=date(2023, 11, 15), end=date(2024, 2, 10), regions=("PE-ARE",))
    want = queries.overview(pe_file, flt)
    for eng in (pe_part, se_part):
        assert eng.row_count("orders") == 60_000
        got = queries.overview(eng, flt)
        assert_same_value(want.kpis, got.kpis)
        assert_same(want.trend, got.trend)
        assert_same(want.regions, got.regions)
        assert "order_month" not in eng.table("orders").collect_schema().names()
    # the cache follows the files: rewriting the folder with fewer rows is seen by both engines
    storage.write_partitioned(pl.read_parquet(demo_dir / "orders.parquet").head(1000), d, "orders")
    assert pe_part.row_count("orders") == se_part.row_count("orders") == 1000


def test_collect_dtypes_and_lima_dates(engines):
    import narwhals as nw

    pe, se = engines
    lf = se.table("orders").filter(nw.col("order_id") == "PE-0000001").select(
        "created_at", "order_date", nw.col("created_at").dt.hour().alias("hour"),
        nw.col("created_at").dt.truncate("1d").alias("day_ts"),
        nw.col("order_date").dt.truncate("1y").alias("year"), nw.len().alias("n"))
    got = se.collect(lf)
    want = pe.collect(pe.table("orders").filter(nw.col("order_id") == "PE-0000001").select(
        "created_at", "order_date", nw.col("created_at").dt.hour().alias("hour"),
        nw.col("created_at").dt.truncate("1d").alias("day_ts"),
        nw.col("order_date").dt.truncate("1y").alias("year"), nw.len().alias("n")))
    assert got.schema["created_at"] == pl.Datetime("us", "America/Lima")
    assert got.schema["day_ts"] == pl.Datetime("us", "America/Lima")  # a timestamp truncated stays one
    assert got.schema["year"] == pl.Date and got.schema["n"].is_integer()
    assert got.row(0) == want.row(0)
    assert got["order_date"][0] == got["created_at"][0].date()  # Lima calendar day, not UTC


def test_classic_driver_same_as_polars(demo_dir, tmp_path, classic_spark_session):
    """``build_session``'s classic in-process driver (the benchmarks' "local Spark" rows; Chasqui itself always
    connects to a Connect server): the same validation, every column type through Arrow, and a month truncation
    back as a Date, found here by expression id in the JVM's plan (on Connect, by reading the plan's text)."""
    import narwhals as nw

    from analytics.engine.spark_engine import SparkEngine

    pe = PolarsEngine(demo_dir)
    se = SparkEngine(demo_dir, session=classic_spark_session, cache_dir=tmp_path / "cache")
    assert not se.is_connect
    assert se.row_count("orders") == pe.row_count("orders") == 60_000
    record = json.loads((tmp_path / "cache" / "spark" / "validated" / "orders.json").read_text())
    assert (record["rows_read"], record["quarantined"]) == (60_000, 0)  # validated here, by this driver

    def months(engine):  # an uncast truncation of a Date: Spark's date_trunc gives a timestamp
        lf = engine.table("orders").group_by(nw.col("order_date").dt.truncate("1mo").alias("month")).agg(nw.len())
        return engine.collect(lf.sort("month"))

    a, b = months(pe), months(se)
    assert b.schema["month"] == pl.Date and a.height > 12
    assert_same(a, b)
    assert_same(pe.collect(pe.table("orders")).sort("order_id"), se.collect(se.table("orders")).sort("order_id"))


def test_bad_master_is_a_clear_error(tmp_path):
    from analytics.engine.spark_engine import SparkEngineError, build_session, is_connect_url

    assert is_connect_url("sc://cluster:15002") and not is_connect_url("spark://m:7077")
    with pytest.raises(SparkEngineError, match="sc://"):
        build_session("sc://")  # no host: rejected before any network call


def test_pandas_pin_keeps_pyspark_quiet():
    """pyspark 4.3 warns for pandas >= 3 (see README, Spark engine); the pin keeps pandas 2.x."""
    import pandas
    from pyspark.sql.pandas.utils import require_minimum_pandas_version

    assert int(pandas.__version__.split(".")[0]) < 3
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        require_minimum_pandas_version()


def test_checks_and_summaries_kept_per_version_for_every_process(demo_dir, tmp_path, spark_session):
    """The first engine validates and makes the per-day summary; another (another process) reads both from the
    cache folder without a Spark job; a new version of the table is validated and summarised again; a date
    filter opens only the month folders it needs."""
    from analytics.engine.spark_engine import SparkEngine

    d, cache = _copy(demo_dir, tmp_path / "data"), tmp_path / "cache"
    orders = pl.read_parquet(d / "orders.parquet")
    storage.write_partitioned(orders, d, "orders")
    first = SparkEngine(d, session=spark_session, cache_dir=cache)
    daily = first.summary(queries.DAILY)
    assert int(daily["orders"].sum()) == orders.height
    record = json.loads((cache / "spark" / "validated" / "orders.json").read_text())
    assert record["rows_read"] == orders.height and record["quarantined"] == 0
    assert len(list((cache / "spark" / "summaries").glob("orders-*.parquet"))) == 1

    other = SparkEngine(d, session=spark_session, cache_dir=cache)

    def no_spark_job(frame):
        raise AssertionError("asked Spark again for an unchanged table")

    other.collect = no_spark_job  # type: ignore[method-assign]
    assert other.row_count("orders") == orders.height
    assert_same(other.summary(queries.DAILY).sort("order_date", "region"), daily.sort("order_date", "region"))
    assert queries.date_bounds(other) == (orders["order_date"].min(), orders["order_date"].max())

    storage.write_partitioned(orders.head(2000), d, "orders")  # a new version
    third = SparkEngine(d, session=spark_session, cache_dir=cache)
    assert int(third.summary(queries.DAILY)["orders"].sum()) == 2000
    assert len(list((cache / "spark" / "summaries").glob("orders-*.parquet"))) == 1  # the old one is gone

    storage.write_partitioned(orders, d, "orders")
    flt = queries.OrderFilter(start=date(2023, 11, 15), end=date(2024, 2, 10), modes=("standard",))
    pruned = queries.scan(third, "orders", flt).to_native()
    assert sorted(p.split("order_month=")[1][:7] for p in pruned.inputFiles()) == [
        "2023-11", "2023-12", "2024-01", "2024-02"]
    assert queries.overview_kpis(third, flt) == pytest.approx(queries.overview_kpis(PolarsEngine(d), flt))
