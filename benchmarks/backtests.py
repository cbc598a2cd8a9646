"""Scenario backtests of every episode preset, and calibration on small DataCo-shaped data: the tables of
benchmarks/RESULTS.md. Not a timing benchmark (``make bench`` does not run it)::

    python -m benchmarks.backtests --seeds 1 2 3 --orders 300000 --dataco-seeds 0 1 2 3 4

Backtests: each preset replayed as of the day before its episode on a dataset generated with each seed
(core tables only); the generator's drawn severity is printed next to it (the planner never sees it).
Calibration: 6,000 DataCo-format rows per seed through ``import_dataco`` and ``fit_models`` (GBM only), with
the small-data path (out-of-fold Platt, interpolated conformal P90) against the validation-window path and the
former whole-day P90 rule (``floor(P90 + 90th percentile of validation residuals)``) on the same split.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np


def backtest_rows(seeds: list[int], orders: int, work: Path) -> list[str]:
    from analytics import geo
    from analytics.demo_orders import draw_severities, generate_dataset
    from analytics.engine import EngineConfig, make_engine
    from analytics.scenarios import backtest

    out = ["| preset | seed | drawn severity (hidden) | P10 | P50 | P90 | observed | P50 within 25% / 2 pp | "
           "inside P10–P90 | port hold learned from |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for seed in seeds:
        d = work / f"bt{seed}"
        generate_dataset(d, n_orders=orders, seed=seed, with_extensions=False)
        engine = make_engine(EngineConfig(d))
        sev = {s.episode: s for s in draw_severities(seed)}
        for e in geo.DISRUPTIONS:
            r = backtest(engine, e["episode"], runs=1000, seed=0, cache_dir=work / "cache")
            s = sev[e["episode"]]
            if s.kind == "port_congestion":
                drawn = f"hold {s.hold_chance:.2f} × {s.hold_days:.2f} d"
            else:
                shares = "/".join(f"{v:.2f}" for v in s.cut_share.values())
                drawn = f"cut {shares}, w {s.wait_factor:.2f}" + (f", rain {s.rain_chance:.2f}" if s.rain_chance else "")
            pp = {k: 100 * r[k] for k in ("late_rate_uplift_p10", "late_rate_uplift_p50", "late_rate_uplift_p90",
                                          "observed_uplift")}
            out.append(f"| {e['episode']} | {seed} | {drawn} | {pp['late_rate_uplift_p10']:+.1f} | "
                       f"{pp['late_rate_uplift_p50']:+.1f} | {pp['late_rate_uplift_p90']:+.1f} | "
                       f"{pp['observed_uplift']:+.1f} | {'yes' if r['within_25pct'] else 'NO'} | "
                       f"{'yes' if r['band_contains'] else 'NO'} | {r['parameters']['port_hold_days']['source']} |")
    return out


def calibration_rows(seeds: list[int], work: Path) -> list[str]:
    import polars as pl

    import analytics.logistics.train as lt
    from analytics import storage
    from analytics.dataco import import_dataco
    from analytics.logistics.model import LateRiskModel
    from tests.fixtures.dataco_like import write_dataco_like

    out = ["| seed | path | ROC AUC (95% CI) | ECE (95% CI) | P90 coverage (95% CI) | former whole-day P90 rule |",
           "| --- | --- | --- | --- | --- | --- |"]
    for seed in seeds:
        d = work / f"dataco{seed}"
        d.mkdir(parents=True, exist_ok=True)
        import_dataco(write_dataco_like(d / "dataco.csv", 6000, seed), d / "data")
        orders = storage.load_table(d / "data", "orders").frame
        for path, min_rows in (("small-data (out-of-fold)", lt.MIN_VALIDATION_ROWS), ("validation window", 0)):
            old = lt.MIN_VALIDATION_ROWS
            lt.MIN_VALIDATION_ROWS = min_rows
            try:
                fitted = lt.fit_models(orders, train_net=False)
            finally:
                lt.MIN_VALIDATION_ROWS = old
            lr, dd = fitted["card"]["late_risk"], fitted["card"]["delivery_days"]
            former = ""
            if min_rows == 0:  # the former rule on the same split: last whole day of P90 + validation residual
                s = lt._split(orders.filter(pl.col("is_late").is_not_null()))
                days = fitted["delivery_days"]
                a = s.x, orders.filter(pl.col("is_late").is_not_null())["actual_days"].to_numpy()
                raw_va = days.p90.predict(a[0][s.va])
                shift = float(np.quantile(a[1][s.va] - raw_va, 0.9, method="higher"))
                bound = np.floor(days.p90.predict(a[0][s.te]) + shift + 1e-9)
                former = f"{(a[1][s.te] <= bound).mean():.3f}"
                assert isinstance(fitted["late_risk"], LateRiskModel)
            ci = lr["intervals"]
            out.append(f"| {seed} | {path} | {lr['roc_auc']:.3f} ({ci['roc_auc'][0]:.3f}–{ci['roc_auc'][1]:.3f}) | "
                       f"{lr['ece']:.3f} ({ci['ece'][0]:.3f}–{ci['ece'][1]:.3f}) | {dd['p90_coverage']:.3f} "
                       f"({dd['intervals']['p90_coverage'][0]:.3f}–{dd['intervals']['p90_coverage'][1]:.3f}) | "
                       f"{former or '—'} |")
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="*", default=[1, 2, 3])
    ap.add_argument("--orders", type=int, default=300_000)
    ap.add_argument("--dataco-seeds", type=int, nargs="*", default=[0, 1, 2, 3, 4])
    ap.add_argument("--only", choices=("backtests", "calibration"), default=None)
    args = ap.parse_args()
    print(f"{datetime.now():%Y-%m-%d %H:%M} — {platform.machine()} — {os.cpu_count()} CPUs — "
          f"Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if args.only in (None, "backtests"):
            print("\n".join(backtest_rows(args.seeds, args.orders, work)))
        if args.only in (None, "calibration"):
            print("\n".join(calibration_rows(args.dataco_seeds, work)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
