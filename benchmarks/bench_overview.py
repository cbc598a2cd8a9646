"""Overview query at 1,000,000 orders: the Polars engine against a straightforward pandas version."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from analytics.demo_orders import generate_dataset
from analytics.engine.polars_engine import PolarsEngine
from analytics.queries import OrderFilter, overview
from benchmarks.run import best_of as _best

FILTER = OrderFilter(start=date(2023, 1, 1), end=date(2024, 6, 30))


def pandas_overview(df: pd.DataFrame, start: date, end: date) -> dict:
    """The same numbers the Overview page shows, written the usual pandas way."""
    d = df[(df["order_date"] >= pd.Timestamp(start)) & (df["order_date"] <= pd.Timestamp(end))]
    kpis = {"orders": len(d), "revenue_pen": d["amount_pen"].sum(), "on_time_rate": 1 - d["is_late"].mean(),
            "avg_delivery_days": d["actual_days"].mean()}
    month = d["order_date"].dt.to_period("M")
    trend = d.groupby(month).agg(orders=("order_id", "size"), revenue_pen=("amount_pen", "sum"),
                                 late_rate=("is_late", "mean"), avg_delivery_days=("actual_days", "mean"))
    regions = d.groupby(["country", "region"]).agg(orders=("order_id", "size"), revenue_pen=("amount_pen", "sum"),
                                                   late_rate=("is_late", "mean"),
                                                   avg_delivery_days=("actual_days", "mean")
                                                   ).sort_values("revenue_pen", ascending=False)
    peru = (df["country"] == "PE").mean() >= 0.999
    bounds = (df["order_date"].min(), df["order_date"].max())
    return {"kpis": kpis, "trend": trend, "regions": regions, "peru": peru, "bounds": bounds}



def run(quick: bool = False) -> list[dict]:
    n = 50_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        t0 = time.perf_counter()
        generate_dataset(d, n_orders=n, seed=7)
        t_generate = time.perf_counter() - t0
        engine = PolarsEngine(d)
        engine.frame("orders")  # load once, as the app does
        pdf = pd.read_parquet(d / "orders.parquet")
        pdf["order_date"] = pd.to_datetime(pdf["order_date"])
        # same answer first
        ours = overview(engine, FILTER)
        theirs = pandas_overview(pdf, FILTER.start, FILTER.end)
        assert ours.kpis["orders"] == theirs["kpis"]["orders"]
        assert abs(ours.kpis["revenue_pen"] - theirs["kpis"]["revenue_pen"]) < 1e-3 * max(1, ours.kpis["revenue_pen"])
        repeat = 3 if quick else 7
        t_polars = _best(lambda: overview(engine, FILTER), repeat)
        t_pandas = _best(lambda: pandas_overview(pdf, FILTER.start, FILTER.end), repeat)
        t_cold_polars = _best(lambda: (engine.invalidate(), overview(engine, FILTER)), 2)
        t_cold_pandas = _best(lambda: pandas_overview(pd.read_parquet(d / "orders.parquet").assign(
            order_date=lambda x: pd.to_datetime(x["order_date"])), FILTER.start, FILTER.end), 2)
    return [
        {"benchmark": "generate demo dataset (all tables)", "n": n, "subject": "generate", "subject_s": t_generate,
         "baseline": "60 s budget", "baseline_s": 60.0, "ratio": 60.0 / t_generate, "goal": "under 60 s (ratio > 1)"},
        {"benchmark": "overview query (in memory)", "n": n, "subject": "polars engine", "subject_s": t_polars,
         "baseline": "pandas", "baseline_s": t_pandas, "ratio": t_pandas / t_polars, "goal": "≥ 5×"},
        {"benchmark": "overview query (cold: read + validate + query)", "n": n, "subject": "polars engine",
         "subject_s": t_cold_polars, "baseline": "pandas (read + query, no validation)",
         "baseline_s": t_cold_pandas, "ratio": t_cold_pandas / t_cold_polars, "goal": "—"},
    ]
