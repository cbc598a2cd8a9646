"""Polars engine against local Spark on the main page queries, 1,000,000 and 10,000,000 orders.

``subject`` is Spark (local[*], driver 2g, 4 shuffle partitions), ``baseline`` the Polars engine, both over
the same generated Parquet files; ``ratio`` = polars_s / spark_s (below 1: Spark is slower). "cold" is
the first Overview on a fresh engine (read + schema validation + query); the other rows are the best of
3 warm runs. Quick mode: 20,000 orders, one run each.

    PYTHONPATH=. python benchmarks/bench_spark.py [--quick]
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from analytics import queries
from analytics.demo_orders import generate_dataset
from analytics.engine.polars_engine import PolarsEngine
from analytics.queries import OrderFilter
from benchmarks.run import best_of as _time

FILTER = OrderFilter(start=date(2023, 1, 1), end=date(2024, 6, 30), modes=("standard", "express"))
BENCH_CONF = {"spark.sql.shuffle.partitions": "4", "spark.driver.memory": "2g", "spark.ui.enabled": "false"}

QUERIES: dict[str, Callable[[Any], Any]] = {
    "overview page (all orders)": lambda e: queries.overview(e),
    "overview page (18 months, 2 modes)": lambda e: queries.overview(e, FILTER),
    "monthly_trend": lambda e: queries.monthly_trend(e, FILTER),
    "region_summary": lambda e: queries.region_summary(e, FILTER),
    "filter options (distinct carriers)": lambda e: queries.distinct_values(e, "carrier"),
}



def _row(name: str, n: int, spark_s: float, polars_s: float, cores: int) -> dict:
    return {"benchmark": f"spark: {name}", "subject": f"Spark local[{cores}]", "baseline": "Polars engine",
            "subject_s": spark_s, "baseline_s": polars_s, "ratio": polars_s / spark_s,
            "goal": "record (Spark expected slower on one machine)", "n": n}


def run(quick: bool = False) -> list[dict]:
    import os

    from analytics.engine.spark_engine import SparkEngine, build_session

    sizes = [20_000] if quick else [1_000_000, 10_000_000]
    repeat = 1 if quick else 3
    cores = os.cpu_count() or 1
    spark = build_session("local[*]", BENCH_CONF, app_name="chasqui-bench")
    rows: list[dict] = []
    try:
        for n in sizes:
            with tempfile.TemporaryDirectory(prefix="chasqui-bench-spark-") as tmp:
                d = Path(tmp)
                t0 = time.perf_counter()
                generate_dataset(d, n_orders=n, seed=11)
                print(f"[spark] generated {n:,} orders in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
                pe, se = PolarsEngine(d), SparkEngine(d, session=spark)
                cold_p = _time(lambda pe=pe: queries.overview(pe), 1)
                cold_s = _time(lambda se=se: queries.overview(se), 1)
                rows.append(_row("overview page, cold (read + validate + query)", n, cold_s, cold_p, cores))
                a, b = queries.overview(pe).kpis, queries.overview(se).kpis
                assert a["orders"] == b["orders"] == n and abs(a["revenue_pen"] - b["revenue_pen"]) <= 1e-6 * a[
                    "revenue_pen"], (a, b)
                for name, q in QUERIES.items():
                    tp = _time(lambda q=q, pe=pe: q(pe), repeat)
                    ts = _time(lambda q=q, se=se: q(se), repeat)
                    rows.append(_row(name, n, ts, tp, cores))
                    print(f"[spark] {n:,} {name}: polars {tp:.3f}s spark {ts:.3f}s", file=sys.stderr)
                se.invalidate()
                pe.invalidate()
    finally:
        spark.stop()
    return rows


if __name__ == "__main__":
    for r in run(quick="--quick" in sys.argv):
        print(f"{r['n']:>11,}  {r['benchmark']:<58} polars {r['baseline_s']:8.3f}s  spark {r['subject_s']:8.3f}s"
              f"  ratio {r['ratio']:.3f}")
