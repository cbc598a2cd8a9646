"""Batch scoring on Spark (mapInArrow) equals driver-side scoring with the same artifacts; the
logistics page queries agree on both engines."""

from __future__ import annotations

from datetime import date

import narwhals as nw
import polars as pl
import pytest

from analytics import storage
from analytics.datadir import DataDir
from analytics.demo_orders import END, START
from analytics.logistics import queries as lq
from analytics.queries import OrderFilter
from tests.fixtures.spark import ON_CLUSTERS, assert_same, assert_same_value, spark_engine_for

pytestmark = pytest.mark.spark


@ON_CLUSTERS
def test_spark_scores_equal_driver_scores(trained_spark_dir, spark_target):
    """On a cluster the models run in the executors' Python workers (the same interpreter and checkout)."""
    from analytics.engine.spark_logistics_scores import score_frame
    from analytics.logistics import load_models, score

    se = spark_engine_for(spark_target, trained_spark_dir)
    sample = se.spark_frame("orders").filter("order_id <= 'PE-0003000' OR order_id >= 'PE-0059001'")
    got = se.collect(nw.from_native(score_frame(sample.repartition(3), DataDir(trained_spark_dir).models)))
    assert got.height == 4000 and got["late_risk"].is_between(0, 1).all()
    orders = storage.load_table(trained_spark_dir, "orders").frame.filter(pl.col("order_id").is_in(got["order_id"]))
    want = pl.concat([orders, score(load_models(DataDir(trained_spark_dir).models), orders)], how="horizontal")
    assert_same(want.sort("order_id"), got.sort("order_id"), rel=1e-12)
    assert (got["p90_days"] >= got["p50_days"]).all()
    se.stop()


def test_write_scores_table_read_by_both_engines(trained_spark_dir, tmp_path, spark_session):
    import shutil

    from analytics.engine.polars_engine import PolarsEngine
    from analytics.engine.spark_engine import SparkEngine
    from analytics.engine.spark_logistics_scores import write_scores

    d = tmp_path / "data"
    shutil.copytree(trained_spark_dir, d, ignore=shutil.ignore_patterns(".cache"))
    se = SparkEngine(d, session=spark_session)
    path = write_scores(se, DataDir(d).models, out_table="spark_scores")
    assert path.is_dir() and len(list(path.glob("order_month=*"))) == (END.year - START.year) * 12 + END.month - START.month + 1
    driver = storage.load_table(d, "logistics_scores").frame.sort("order_id")
    for eng in (PolarsEngine(d), se):
        got = eng.collect(eng.table("spark_scores")).sort("order_id")
        assert got.schema["created_at"] == pl.Datetime("us", "America/Lima")
        assert_same(driver.select(got.columns), got, rel=1e-12)


@ON_CLUSTERS
def test_logistics_queries_same(trained_spark_dir, spark_target):
    from analytics.engine.polars_engine import PolarsEngine

    pe, se = PolarsEngine(trained_spark_dir), spark_engine_for(spark_target, trained_spark_dir)
    assert_same_value(lq.options(pe), lq.options(se))
    flt = OrderFilter(start=date(2024, 10, 1), end=date(2024, 12, 31), modes=("standard", "express"))
    assert_same(lq.region_summary(pe, flt), lq.region_summary(se, flt))
    a, b = lq.top_orders(pe, flt, limit=200), lq.top_orders(se, flt, limit=200)
    assert a.height == 200
    assert_same(a, b)
    for x, y in zip(lq.region_drilldown(pe, flt, "PE-LIM"), lq.region_drilldown(se, flt, "PE-LIM")):
        assert_same(x, y)
    se.stop()
