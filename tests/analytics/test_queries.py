"""Engine queries against hand-computed numbers, on a tiny hand-made orders table."""

from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from analytics import storage
from analytics.engine.polars_engine import PolarsEngine
from analytics.queries import OrderFilter, date_bounds, monthly_trend, overview_kpis, region_summary

ROWS = [
    # id, region, date, amount, promised, actual, mode, carrier
    ("A", "PE-LIM", date(2023, 1, 5), 100.0, 2, 1, "standard", "X"),
    ("B", "PE-LIM", date(2023, 1, 20), 300.0, 2, 4, "express", "Y"),
    ("C", "PE-CUS", date(2023, 2, 1), 50.0, 5, 7, "standard", "X"),
    ("D", "PE-CUS", date(2023, 2, 10), 150.0, 5, 5, "air", "Y"),
    ("E", "PE-PUN", date(2023, 3, 3), 400.0, 6, 9, "standard", "X"),
]


@pytest.fixture()
def engine(tmp_path) -> PolarsEngine:
    df = pl.DataFrame({
        "order_id": [r[0] for r in ROWS], "customer_id": ["c1", "c2", "c1", "c3", "c2"],
        "created_at": [datetime(d.year, d.month, d.day, 10) for *_, d, _, _, _, _, _ in
                       [(r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]) for r in ROWS]],
        "order_date": [r[2] for r in ROWS], "country": ["PE"] * 5, "region": [r[1] for r in ROWS],
        "city": ["x"] * 5, "category": ["home"] * 5, "product_id": ["p"] * 5, "quantity": [1] * 5,
        "amount_pen": [r[3] for r in ROWS], "discount_pct": [0.0] * 5, "shipping_mode": [r[6] for r in ROWS],
        "carrier": [r[7] for r in ROWS], "origin_dc": ["DC-LIM"] * 5, "distance_km": [10.0] * 5,
        "weight_kg": [1.0] * 5, "shipping_cost_pen": [5.0] * 5, "promised_days": [r[4] for r in ROWS],
        "actual_days": [r[5] for r in ROWS], "is_late": [r[5] > r[4] for r in ROWS],
    }).with_columns(pl.col("created_at").dt.replace_time_zone("America/Lima"))
    storage.write_table(df, tmp_path, "orders")
    return PolarsEngine(tmp_path)


def test_kpis_by_hand(engine):
    k = overview_kpis(engine)
    assert k["orders"] == 5
    assert k["revenue_pen"] == pytest.approx(1000.0)
    # late: B, C, E
    assert k["late_rate"] == pytest.approx(3 / 5)
    assert k["on_time_rate"] == pytest.approx(2 / 5)
    assert k["avg_delivery_days"] == pytest.approx((1 + 4 + 7 + 5 + 9) / 5)


def test_filters(engine):
    k = overview_kpis(engine, OrderFilter(start=date(2023, 1, 15), end=date(2023, 2, 5)))
    assert k["orders"] == 2 and k["revenue_pen"] == pytest.approx(350.0)
    k = overview_kpis(engine, OrderFilter(regions=("PE-CUS",), carriers=("Y",)))
    assert k["orders"] == 1 and k["late_rate"] == 0.0
    k = overview_kpis(engine, OrderFilter(start=date(2030, 1, 1)))
    assert k["orders"] == 0 and k["revenue_pen"] == 0.0 and k["late_rate"] is None


def test_monthly_trend_by_hand(engine):
    tr = monthly_trend(engine)
    assert tr["month"].to_list() == [date(2023, 1, 1), date(2023, 2, 1), date(2023, 3, 1)]
    assert tr["orders"].to_list() == [2, 2, 1]
    assert tr["revenue_pen"].to_list() == pytest.approx([400.0, 200.0, 400.0])
    assert tr["late_rate"].to_list() == pytest.approx([0.5, 0.5, 1.0])


def test_region_summary_by_hand(engine):
    rs = region_summary(engine)
    assert rs["region"].to_list() == ["PE-LIM", "PE-PUN", "PE-CUS"]  # by revenue, ties by code
    assert rs["revenue_pen"].to_list() == pytest.approx([400.0, 400.0, 200.0])
    assert rs["late_rate"].to_list() == pytest.approx([0.5, 1.0, 0.5])
    assert date_bounds(engine) == (date(2023, 1, 5), date(2023, 3, 3))


def test_bad_rows_are_quarantined_on_load(tmp_path, engine):
    df = pl.read_parquet(tmp_path / "orders.parquet").with_columns(
        pl.when(pl.col("order_id") == "C").then(-5.0).otherwise(pl.col("amount_pen")).alias("amount_pen"))
    storage.write_table(df, tmp_path, "orders")
    engine.invalidate()
    assert overview_kpis(engine)["orders"] == 4
    q = storage.read_quarantine(tmp_path, "orders")
    assert q is not None and q["row_number"].to_list() == [3]
    assert "amount_pen" in q["reason"][0]


def test_missing_column_is_a_schema_error(tmp_path):
    df = pl.DataFrame({"order_id": ["a"]})
    with pytest.raises(storage.SchemaError, match="missing columns"):
        storage.write_table(df, tmp_path, "orders")


def test_one_pass_overview_equals_the_separate_queries(demo_dir):
    from analytics.queries import overview

    engine = PolarsEngine(demo_dir)
    flt = OrderFilter(start=date(2023, 2, 1), end=date(2024, 3, 31), modes=("standard", "express"))
    ov = overview(engine, flt)
    k = overview_kpis(engine, flt)
    for key in ("orders", "revenue_pen", "late_rate", "on_time_rate", "avg_delivery_days"):
        assert ov.kpis[key] == pytest.approx(k[key], rel=1e-9)
    tr = monthly_trend(engine, flt)
    assert ov.trend["month"].to_list() == tr["month"].to_list()
    for col in ("orders", "revenue_pen", "late_rate", "avg_delivery_days"):
        assert ov.trend[col].to_list() == pytest.approx(tr[col].to_list(), rel=1e-9)
    rs = region_summary(engine, flt)
    assert ov.regions["region"].to_list() == rs["region"].to_list()
    assert ov.regions["revenue_pen"].to_list() == pytest.approx(rs["revenue_pen"].to_list(), rel=1e-9)
    assert ov.peru is True and ov.bounds == (date(2021, 10, 1), date(2024, 12, 31))
