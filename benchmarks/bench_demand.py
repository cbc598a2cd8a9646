"""Demand: forecasting every DC x category series 8 weeks ahead, against the seasonal-naive baseline's time.

Subject: ``analytics.demand.weekly_forecast`` as the page and ``python app.py forecast`` run it: the weekly
aggregation of the orders (Polars), the rolling-origin backtest of the three candidates (gradient boosting,
seasonal naive, ETS/Croston), the choice, the final fit and the reconciled P10/P50/P90 of every series.
Baseline: the same pipeline with the seasonal naive forecast alone (aggregation, backtest, forecast): what a
planner gets from "same week last year". The ratio (subject / baseline) says what the measured choice and the
learned model cost on top; the second row times the weekly aggregation alone, the part that grows with orders.

Full: 1,000,000 orders; quick: 100,000. Each time is the best of ``REPEAT`` runs on the same data.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from analytics.demand.weekly import load_panel
from analytics.demand.weekly_forecast import weekly_forecast
from analytics.demo_orders import generate_dataset
from analytics.engine.polars_engine import PolarsEngine
from benchmarks.run import best_of

HORIZON = 8
REPEAT = 2


def run(quick: bool = False) -> list[dict]:
    n = 100_000 if quick else 1_000_000
    with tempfile.TemporaryDirectory(prefix="chasqui-bench-demand-") as tmp:
        d = Path(tmp) / "data"
        generate_dataset(d, n_orders=n, seed=7)
        engine = PolarsEngine(d)
        got = {}

        def subject() -> None:
            got["fc"] = weekly_forecast(engine, None, HORIZON)

        def baseline() -> None:
            got["naive"] = weekly_forecast(engine, None, HORIZON, candidates=("seasonal_naive",))

        subject_s = best_of(subject, REPEAT)
        baseline_s = best_of(baseline, REPEAT)
        agg_s = best_of(lambda: load_panel(engine), REPEAT)
        fc = got["fc"]
        s = fc.summary()
        note = (f"{s['series']} series, chosen {fc.model}, rel. MAE {s['relative_mae']:.3f}, "
                f"cov80 {s['coverage_80']:.3f}")
        return [
            {"benchmark": "demand forecast, 8 weeks, every series", "n": n,
             "subject": f"backtest 3 candidates + fit ({note})", "baseline": "seasonal naive pipeline",
             "subject_s": subject_s, "baseline_s": baseline_s, "ratio": subject_s / baseline_s,
             "goal": "ratio = subject/baseline: what the measured choice costs"},
            {"benchmark": "demand weekly aggregation", "n": n, "subject": "load_panel (Polars)",
             "baseline": "whole forecast", "subject_s": agg_s, "baseline_s": subject_s,
             "ratio": subject_s / agg_s, "goal": "aggregation a small share of the forecast"},
        ]
