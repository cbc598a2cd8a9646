"""CHASQUI_ENGINE=spark: the app runs its pages on Spark with the same numbers."""

from __future__ import annotations

import sys

import pytest

pytestmark = pytest.mark.spark


def test_overview_callback_same_on_spark(settings, app_factory, spark_session):
    from analytics.engine.spark_engine import SparkEngine
    from callbacks.overview import update_overview
    from web.runtime import configure

    configure(settings)
    want = update_overview("2023-01-01", "2023-06-30", "en", "light")
    spark_settings = settings.replace(engine="spark", spark_master="local[2]")
    app = app_factory(spark_settings)  # the factory configures the runtime with the Spark engine
    from web.runtime import runtime

    assert isinstance(runtime().engine, SparkEngine) and "pyspark" in sys.modules
    got = update_overview("2023-01-01", "2023-06-30", "en", "light")
    kpis_w, trend_w, regions_w, status_w, query_w = want
    kpis_g, trend_g, regions_g, status_g, query_g = got
    assert str(kpis_g) == str(kpis_w) and status_g is None and query_g == query_w
    assert list(trend_g.data[0].x) == list(trend_w.data[0].x)
    assert list(trend_g.data[0].y) == pytest.approx(list(trend_w.data[0].y), rel=1e-9)
    assert list(regions_g.data[0].y) == list(regions_w.data[0].y)
    assert list(regions_g.data[0].x) == pytest.approx(list(regions_w.data[0].x), rel=1e-9)
    assert app.server.test_client().get("/healthz").status_code == 200
    configure(settings)  # leave the Polars runtime for other tests
