"""Segments: customer features and the k = 2..10 sweep, against a naive baseline, side by side.

Subject: the engine's narwhals aggregation (Polars) for the features, then k-means for k = 2..10 with
the restart policy of ``analytics.segments.model`` and the silhouette on a fixed 4,000-customer sample.
Baseline: what a notebook would do: pandas ``groupby().apply`` with a Python function per customer,
then k-means (10 restarts, scikit-learn's classic default) and the full silhouette for every k.

The full silhouette is O(n²): on 200,000 customers it would take ~6 minutes per k on the reference
machine, so at that size the baseline's silhouette is timed on 40,000 customers per k and scaled by
(n / 40,000)² (said so in the row). A second row at 20,000 customers measures everything in full.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from analytics.demo_orders import _customer_count, generate_dataset
from analytics.engine.polars_engine import PolarsEngine
from analytics.segments.features import CAPITAL_REGIONS, DEAL_DISCOUNT_PCT, customer_features
from analytics.segments.model import design_matrix, sample_index, sweep
from analytics.threads import openmp_threads

KS = tuple(range(2, 11))
SIL_CAP = 40_000


def orders_for(customers: int) -> int:
    n = customers * 17
    while _customer_count(n) < customers:
        n = int(n * 1.02) + 1
    return n


def pandas_features(orders: pd.DataFrame) -> pd.DataFrame:
    """The naive baseline: one Python call per customer."""
    ref = orders["order_date"].max()

    def one(g: pd.DataFrame) -> pd.Series:
        cats = g["category"].value_counts(normalize=True)
        return pd.Series({
            "orders": len(g),
            "monetary_pen": g["amount_pen"].sum(),
            "avg_items": g["quantity"].mean(),
            "discount_mean_pct": g["discount_pct"].mean(),
            "deal_share": (g["discount_pct"] >= DEAL_DISCOUNT_PCT).mean(),
            "late_share": g["is_late"].mean(),
            "capital_share": g["region"].isin(CAPITAL_REGIONS).mean(),
            "recency_days": (ref - g["order_date"].max()).days,
            "tenure_days": (ref - g["order_date"].min()).days,
            "region": g["region"].mode().iloc[0],
            **{f"cat_{c}": v for c, v in cats.items()},
        })

    wide = orders.groupby("customer_id").apply(one, include_groups=False).unstack()
    return wide.infer_objects().fillna(0)


def baseline_sweep(X: np.ndarray, sil_n: int) -> tuple[float, float, float]:
    """k-means (10 restarts) + full silhouette per k; returns (kmeans_s, silhouette_s_measured, scale)."""
    idx = sample_index(len(X), sil_n, 0)
    t_km = t_sil = 0.0
    for k in KS:
        t = time.perf_counter()
        with openmp_threads(1):  # as the subject (analytics.segments.model)
            km = KMeans(k, n_init=10, random_state=0).fit(X)
        t_km += time.perf_counter() - t
        t = time.perf_counter()
        silhouette_score(X[idx], km.labels_[idx])
        t_sil += time.perf_counter() - t
    return t_km, t_sil, (len(X) / len(idx)) ** 2


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def run(quick: bool = False) -> list[dict]:
    customers = 3_000 if quick else 200_000
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="chasqui-bench-seg-") as tmp:
        d = Path(tmp)
        generate_dataset(d, n_orders=orders_for(customers), seed=7)
        eng = PolarsEngine(d)
        eng.frame("orders")  # read + validate once, as the running app has it in memory
        feats, t_feat = _timed(lambda: customer_features(eng))
        orders_pd = pl.read_parquet(d / "orders.parquet").to_pandas()
        base, t_base = _timed(lambda: pandas_features(orders_pd))
        assert len(base) == feats.height
        assert np.isclose(base["monetary_pen"].sum(), feats["monetary_pen"].sum())
        n = feats.height
        rows.append({"benchmark": "segments.features", "subject": "narwhals group_by on the Polars engine",
                     "baseline": "pandas groupby().apply, one Python call per customer",
                     "subject_s": t_feat, "baseline_s": t_base, "ratio": t_base / t_feat,
                     "goal": "≥ 20× faster", "n": n})
        X, _ = design_matrix(feats)

        # everything measured in full, on a subsample small enough for the full silhouette
        small = min(n, 20_000 if not quick else n)
        Xs = X[sample_index(n, small, 1)]
        _, t_sub_s = _timed(lambda: sweep(Xs, KS, seed=0))
        t_km, t_sil, _ = baseline_sweep(Xs, len(Xs))
        rows.append({"benchmark": f"segments.sweep_k2-10.n{small}", "subject": "k-means++ (policy restarts) + "
                     "silhouette on a 4,000 sample", "baseline": "k-means 10 restarts + full silhouette, per k",
                     "subject_s": t_sub_s, "baseline_s": t_km + t_sil, "ratio": (t_km + t_sil) / t_sub_s,
                     "goal": "≥ 5× faster", "n": small})

        if not quick:
            _, t_sub = _timed(lambda: sweep(X, KS, seed=0))
            t_km, t_sil, scale = baseline_sweep(X, SIL_CAP)
            t_b = t_km + t_sil * scale
            rows.append({"benchmark": f"segments.sweep_k2-10.n{n}", "subject": "k-means++ (policy restarts) + "
                         "silhouette on a 4,000 sample",
                         "baseline": f"k-means 10 restarts (measured {t_km:.1f} s) + full silhouette "
                                     f"(timed on {SIL_CAP:,}, ×{scale:.0f} for O(n²))",
                         "subject_s": t_sub, "baseline_s": t_b, "ratio": t_b / t_sub,
                         "goal": "segment 200k customers for k = 2..10 in < 60 s", "n": n})
            rows.append({"benchmark": "segments.end_to_end", "subject": "features + sweep (subject)",
                         "baseline": "pandas features + baseline sweep",
                         "subject_s": t_feat + t_sub, "baseline_s": t_base + t_b,
                         "ratio": (t_base + t_b) / (t_feat + t_sub), "goal": "< 60 s for 200k customers", "n": n})
    return rows


if __name__ == "__main__":
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
