"""Customer features on hand-made orders with known recency, frequency and monetary values."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from analytics.engine.polars_engine import PolarsEngine
from analytics.queries import OrderFilter
from analytics.segments.features import SegmentInputError, customer_features, features_from_frame
from tests.fixtures.segments import REF


def row(df: pl.DataFrame, cid: str) -> dict:
    return df.filter(pl.col("customer_id") == cid).row(0, named=True)


def test_rfm_and_behaviour_features(small_orders):
    f = features_from_frame(small_orders, reference_date=REF)
    assert f["customer_id"].to_list() == ["A", "B", "C"]
    a, b, c = row(f, "A"), row(f, "B"), row(f, "C")
    assert (a["recency_days"], a["orders"], a["monetary_pen"]) == (30, 4, 1000.0)
    assert a["tenure_days"] == 365
    assert a["avg_order_value_pen"] == pytest.approx(250.0)
    assert a["avg_items"] == pytest.approx(2.0)
    assert a["discount_mean_pct"] == pytest.approx(10.0)
    assert a["deal_share"] == 0.0
    assert a["late_share"] == pytest.approx(0.25)
    assert a["cat_home"] == pytest.approx(0.75) and a["cat_toys"] == pytest.approx(0.25)
    assert a["region"] == "PE-ARE" and a["capital_share"] == 0.0
    assert (b["recency_days"], b["orders"], b["monetary_pen"], b["tenure_days"]) == (366, 1, 50.0, 366)
    assert b["deal_share"] == 1.0
    assert (c["recency_days"], c["orders"], c["monetary_pen"]) == (0, 2, 4000.0)
    assert c["late_share"] == 1.0 and c["capital_share"] == 1.0
    assert c["cat_electronics"] == pytest.approx(0.5) and c["cat_home"] == 0.0
    # category mix sums to 1 for everyone
    cats = [col for col in f.columns if col.startswith("cat_")]
    assert f.select(pl.sum_horizontal(cats)).to_series().to_list() == pytest.approx([1.0, 1.0, 1.0])


def test_reference_date_defaults_to_last_order(small_orders):
    f = features_from_frame(small_orders)
    assert row(f, "C")["recency_days"] == 0
    assert row(f, "A")["recency_days"] == 30


def test_period_and_region_filters(small_orders):
    flt = OrderFilter(start=date(2024, 1, 1), end=date(2024, 6, 30))
    f = features_from_frame(small_orders, flt)
    assert f["customer_id"].to_list() == ["A"]  # B ordered in 2023, C in December
    a = row(f, "A")
    assert (a["orders"], a["monetary_pen"], a["recency_days"]) == (2, 300.0, (date(2024, 6, 30) - date(2024, 5, 1)).days)
    f = features_from_frame(small_orders, OrderFilter(regions=("PE-CUS", "PE-LIM")))
    assert f["customer_id"].to_list() == ["B", "C"]


def test_home_region_is_the_most_frequent(small_orders):
    extra = small_orders.filter(pl.col("customer_id") == "A").head(1).with_columns(
        pl.lit("PE-LIM").alias("region"), pl.lit("T-999999").alias("order_id"))
    f = features_from_frame(pl.concat([small_orders, extra]))
    assert row(f, "A")["region"] == "PE-ARE"  # 4 of 5 orders
    assert row(f, "A")["capital_share"] == pytest.approx(0.2)


def test_missing_columns_are_a_clear_error(small_orders):
    with pytest.raises(SegmentInputError, match="discount_pct"):
        features_from_frame(small_orders.drop("discount_pct"))


def test_engine_features_match_a_direct_computation(demo_dir):
    eng = PolarsEngine(demo_dir)
    f = customer_features(eng)
    orders = pl.read_parquet(demo_dir / "orders.parquet")
    assert f.height == orders["customer_id"].n_unique()
    assert f["orders"].sum() == orders.height
    assert f["monetary_pen"].sum() == pytest.approx(orders["amount_pen"].sum())
    cid = f["customer_id"][17]
    mine = orders.filter(pl.col("customer_id") == cid)
    r = row(f, cid)
    assert r["orders"] == mine.height
    assert r["late_share"] == pytest.approx(mine["is_late"].mean())
    assert r["recency_days"] == (orders["order_date"].max() - mine["order_date"].max()).days
