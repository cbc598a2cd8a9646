"""Page runs: diskcache by inputs, filters, movement between two snapshots."""

from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl
import pytest

from analytics.engine.polars_engine import PolarsEngine
from analytics.segments.features import SegmentInputError
from analytics.segments.segmentation import SegmentParams, movement, page_view, run_sweep, segment


def test_sweep_is_cached_by_inputs(demo_dir, tmp_path):
    eng = PolarsEngine(demo_dir)
    cache = tmp_path / "cache"
    seen: list[str] = []
    first = run_sweep(eng, SegmentParams(k=6), cache, lambda label, f: seen.append(label))
    assert "k = 10" in seen and "cache" not in seen
    seen.clear()
    again = run_sweep(eng, SegmentParams(k=4), cache, lambda label, f: seen.append(label))  # k is not a key
    assert seen == ["cache"]
    assert [p.inertia for p in again.points] == [p.inertia for p in first.points]
    assert (again.point(6).labels == first.point(6).labels).all()
    seen.clear()
    run_sweep(eng, SegmentParams(k=6, seed=1), cache, lambda label, f: seen.append(label))
    assert "cache" not in seen  # another seed is another run


def test_cache_follows_the_data_file(writable_demo_dir, tmp_path):
    eng = PolarsEngine(writable_demo_dir)
    cache = tmp_path / "cache"
    before = run_sweep(eng, SegmentParams(), cache)
    orders = pl.read_parquet(writable_demo_dir / "orders.parquet")
    orders.filter(pl.col("region") == "PE-LIM").write_parquet(writable_demo_dir / "orders.parquet")
    eng.invalidate()
    after = run_sweep(eng, SegmentParams(), cache)
    assert after.features.height < before.features.height
    assert set(after.features["region"]) == {"PE-LIM"}


def test_region_and_period_filters(demo_dir, tmp_path):
    eng = PolarsEngine(demo_dir)
    p = SegmentParams(k=4, start=date(2024, 1, 1), end=date(2024, 12, 31), regions=("PE-CUS", "PE-ARE"))
    res = segment(eng, p, tmp_path)
    orders = pl.read_parquet(demo_dir / "orders.parquet").filter(
        (pl.col("order_date") >= date(2024, 1, 1)) & pl.col("region").is_in(["PE-CUS", "PE-ARE"]))
    assert res.members.height == orders["customer_id"].n_unique()
    assert res.members["monetary_pen"].sum() == pytest.approx(orders["amount_pen"].sum())
    assert set(res.profile["top_region"]) <= {"PE-CUS", "PE-ARE"}
    assert res.members["recency_days"].min() >= 0
    assert res.pca.height == min(3000, res.members.height)
    with pytest.raises(SegmentInputError):
        SegmentParams(start=date(2024, 2, 1), end=date(2024, 1, 1))
    with pytest.raises(SegmentInputError, match="customers"):
        segment(eng, SegmentParams(start=date(2030, 1, 1)), tmp_path)


def test_movement_between_snapshots(demo_dir, tmp_path):
    eng = PolarsEngine(demo_dir)
    params = SegmentParams(k=6)
    flows = movement(eng, params, date(2023, 12, 31), tmp_path)
    res = segment(eng, params, tmp_path)
    orders = pl.read_parquet(demo_dir / "orders.parquet")
    earlier = orders.filter(pl.col("order_date") <= date(2023, 12, 31))["customer_id"].n_unique()
    assert flows.filter(pl.col("to_label") >= 0)["customers"].sum() == res.members.height
    assert flows.filter(pl.col("from_label") >= 0)["customers"].sum() == earlier
    assert flows.filter((pl.col("from_label") < 0) & (pl.col("to_label") < 0)).height == 0
    names = {i: res.name(i, "en") for i in range(6)}
    lab = {v: k for k, v in names.items()}
    # the planted "new" customers signed up in the second half of 2024: they arrive from "no purchases"
    new_in = flows.filter(pl.col("to_label") == lab["New"])
    assert new_in.filter(pl.col("from_label") == -1)["customers"].sum() / new_in["customers"].sum() > 0.9
    # loyal customers a year earlier mostly stay loyal
    from_loyal = flows.filter(pl.col("from_label") == lab["Loyal"])
    stay = from_loyal.filter(pl.col("to_label") == lab["Loyal"])["customers"].sum()
    assert stay / from_loyal["customers"].sum() > 0.6
    with pytest.raises(SegmentInputError):
        movement(eng, SegmentParams(end=date(2023, 6, 30)), date(2024, 1, 1), tmp_path)


def test_page_view_defaults_to_one_year_earlier(demo_dir, tmp_path):
    steps: list[float] = []
    pv = page_view(PolarsEngine(demo_dir), SegmentParams(k=5), None, tmp_path, lambda label, f: steps.append(f))
    last = pl.read_parquet(demo_dir / "orders.parquet")["order_date"].max()
    assert pv.compare_end == last.replace(year=last.year - 1)
    assert pv.flows is not None and pv.result.k == 5
    assert steps[-1] == 1.0 and np.all(np.diff(steps) >= 0)
