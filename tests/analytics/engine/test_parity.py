"""Every engine query gives the same result on Polars and Spark (demo data, 60,000 orders), Spark on the
run's Spark Connect server.

Tests marked ``ON_CLUSTERS`` (or ``also_on_clusters``) run a second time on a standalone cluster
(``-m cluster``): the representative subset, one case per kind of query (the per-day summary with filters, a
date truncation read back as a Date, bounds and distinct values, validation of every table, every column type
and time zone through Arrow). The Segments, Scenarios and
Sourcing queries run on both deployments through their pages' callbacks (``test_spark_app``)."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from analytics import queries
from analytics.demo_orders import END, START
from analytics.queries import OrderFilter
from analytics.scenarios.calibrate import calibrate, data_end, observed_late_share
from analytics.segments import features
from analytics.sourcing import shortlist
from tests.fixtures.spark import ON_CLUSTERS, also_on_clusters, assert_same, assert_same_value

pytestmark = pytest.mark.spark

MONTHS = (END.year - START.year) * 12 + END.month - START.month + 1  # of demo orders

FILTERS = {
    "all": None,
    "h1-2023-lima-cusco-express": OrderFilter(start=date(2023, 1, 1), end=date(2023, 6, 30),
                                              regions=("PE-LIM", "PE-CUS"), modes=("express", "standard")),
    "air-river-electronics": OrderFilter(modes=("air", "river"), categories=("electronics", "groceries"),
                                         dcs=("DC-LIM", "DC-IQT", "DC-PUC")),
    "empty": OrderFilter(start=date(2030, 1, 1)),
}


@pytest.mark.parametrize("name", FILTERS)
def test_overview_kpis_same(engines, name):
    pe, se = engines
    a, b = queries.overview_kpis(pe, FILTERS[name]), queries.overview_kpis(se, FILTERS[name])
    assert_same_value(a, b)
    if name == "all":
        assert a["orders"] == 60_000 and b["orders"] == 60_000


@also_on_clusters("name", ["all", "h1-2023-lima-cusco-express"], ["h1-2023-lima-cusco-express"])
def test_monthly_trend_same(engines, name):
    pe, se = engines
    a, b = queries.monthly_trend(pe, FILTERS[name]), queries.monthly_trend(se, FILTERS[name])
    assert b.schema["month"] == pl.Date  # Spark's date_trunc gives a timestamp; the engine returns a Date
    assert_same(a, b)
    assert a.height == (MONTHS if name == "all" else 6)


@pytest.mark.parametrize("name", ["all", "air-river-electronics"])
def test_region_summary_same(engines, name):
    pe, se = engines
    assert_same(queries.region_summary(pe, FILTERS[name]), queries.region_summary(se, FILTERS[name]))


def test_daily_summary_same(engines):
    pe, se = engines
    flt = FILTERS["h1-2023-lima-cusco-express"]
    a, b = queries.daily_summary(pe, flt), queries.daily_summary(se, flt)
    assert_same(a, b, ordered=False)  # a group-by: no promised order
    assert a["orders"].sum() == queries.overview_kpis(pe, flt)["orders"]


@also_on_clusters("name", ["all", "h1-2023-lima-cusco-express", "empty"], ["h1-2023-lima-cusco-express"])
def test_overview_same(engines, name):
    pe, se = engines
    a, b = queries.overview(pe, FILTERS[name]), queries.overview(se, FILTERS[name])
    assert_same_value(a.kpis, b.kpis)
    assert_same(a.trend, b.trend)
    assert_same(a.regions, b.regions)
    assert (a.peru, a.bounds) == (b.peru, b.bounds)


@ON_CLUSTERS
def test_bounds_distinct_peru_same(engines):
    pe, se = engines
    assert queries.date_bounds(pe) == queries.date_bounds(se) == (START, END)
    assert queries.is_peru_dataset(pe) is queries.is_peru_dataset(se) is True
    for column, table in (("region", "orders"), ("carrier", "orders"), ("shipping_mode", "orders"),
                          ("origin_dc", "orders"), ("segment", "customers"), ("natural_region", "regions")):
        a, b = queries.distinct_values(pe, column, table), queries.distinct_values(se, column, table)
        assert a == b and a, (column, a, b)


@ON_CLUSTERS
def test_row_counts_and_tables_same(engines):
    pe, se = engines
    for name in ("orders", "customers", "products", "regions", "dcs", "carriers", "disruptions"):
        assert pe.row_count(name) == se.row_count(name) > 0
        assert se.has_table(name)
    assert not se.has_table("nope")
    with pytest.raises(FileNotFoundError, match="nope"):
        se.table("nope")


@ON_CLUSTERS
def test_full_tables_round_trip(engines, spark_target):
    """Every column of every demo table, including tz-aware timestamps, comes back identical (on the standalone
    cluster: the orders, which have every column type: text, tz-aware timestamp, date, integer, float, boolean)."""
    pe, se = engines
    for name in ("orders", "customers", "regions", "disruptions") if spark_target.name == "connect" else ("orders",):
        a, b = pe.collect(pe.table(name)), se.collect(se.table(name))
        key = a.columns[0]
        assert_same(a.sort(key), b.sort(key))
    created = se.collect(se.table("orders").select("created_at")).schema["created_at"]
    assert created == pl.Datetime("us", "America/Lima")


# -- the page queries (segments, scenarios, sourcing): same numbers on Spark ------------------------
def test_segments_customer_features_same(engines):
    pe, se = engines
    flt = OrderFilter(start=date(2023, 1, 1), end=date(2024, 6, 30))
    a, b = features.customer_features(pe, flt), features.customer_features(se, flt)
    assert a.height > 1000
    assert_same(a, b)


def test_scenarios_calibration_same(engines):
    import numpy as np

    pe, se = engines
    assert data_end(pe) == data_end(se)
    as_of = date(2024, 7, 1)
    a, b = calibrate(pe, as_of), calibrate(se, as_of)
    for field, u in vars(a).items():
        v = getattr(b, field)
        if isinstance(u, np.ndarray) and u.dtype.kind == "f":
            np.testing.assert_allclose(v, u, rtol=1e-9, atol=1e-12, err_msg=field)
        elif isinstance(u, np.ndarray):
            np.testing.assert_array_equal(v, u, err_msg=field)
        else:
            assert_same_value(u, v)
    regions = ("PE-LIM", "PE-CAL")
    assert_same_value(observed_late_share(pe, regions, date(2023, 1, 1), date(2023, 3, 31)),
                      observed_late_share(se, regions, date(2023, 1, 1), date(2023, 3, 31)))


def test_sourcing_tables_same(engines):
    pe, se = engines
    assert_same(shortlist.ingredient_table(pe), shortlist.ingredient_table(se), ordered=False)
    a, b = shortlist.scored_suppliers(pe), shortlist.scored_suppliers(se)
    assert a.notice == b.notice
    assert_same(a.frame, b.frame, ordered=False)
