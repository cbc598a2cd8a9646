"""Logistics benchmarks: batch scoring and the filter-change callback.

1. Batch scoring of 1,000,000 orders: ``analytics.logistics.score`` (features + encoding + calibrated
   late risk + P50/P90) against the bare GBM ``predict_proba`` on a pre-built matrix (the floor), both
   on every core.
   ratio = subject / baseline (the cost of everything around the classifier).
2. The page's filter-change callback (``callbacks.logistics.update_view``: validation, engine
   queries, top-reason attributions for the grid, map figure, grid rows, KPI cards) at 1,000,000
   orders against the bare engine queries it wraps (``region_summary`` + ``top_orders``).
   ratio = callback / query; goal ≤ 2×.

Models are trained on a separate 200,000-order dataset (same generator, another seed) and applied to
the 1,000,000-order one, as in production (train once, score what arrives).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks.run import best_of as _best


def _batch_scoring(models: Any, orders: Any, n: int, quick: bool) -> dict:
    """1. ``score()`` on every order against the bare GBM ``predict_proba`` on a ready matrix."""
    from analytics.logistics import BATCH_THREADS, score
    from analytics.logistics.features import build_features
    from analytics.logistics.model import limited_threads

    t_score = _best(lambda: score(models, orders), 1 if not quick else 2)
    x = models.late_risk.encoder.transform(build_features(orders))

    def bare() -> None:
        with limited_threads(BATCH_THREADS):
            models.late_risk.estimator.predict_proba(x)

    t_bare = _best(bare, 1 if not quick else 2)
    return {"benchmark": "logistics: batch scoring", "subject": "score(): features + risk + P50/P90",
            "baseline": "bare GBM predict_proba on a ready matrix", "subject_s": t_score,
            "baseline_s": t_bare, "ratio": t_score / t_bare,
            "goal": "1M orders in < 30 s (ratio = subject/baseline)", "n": n}


def _filter_change(big: Path, cache_dir: Path, n: int, repeat: int) -> list[dict]:
    """2. The filter-change callback against the engine queries it wraps, and a repeat visit from the cache."""
    from analytics.logistics import queries as lq
    from analytics.logistics.scores_table import refresh_scores
    from callbacks import logistics as cb
    from web.runtime import configure
    from web.settings import Settings

    refresh_scores(big, force=True)
    rt = configure(Settings(data_dir=big, live=False, demo_feed=False, cache_dir=cache_dir))
    cases = {"last quarter, 2 carriers": ("2024-10-01", "2024-12-31", ["Rápido Inca", "Andes Cargo"]),
             "all dates, no filter": ("2022-01-01", "2024-12-31", None)}
    rows = []
    for label, (start, end, carriers) in cases.items():
        flt = cb.parse_filter(start, end, carriers, None, None, None)

        def callback(start: str = start, end: str = end, carriers: Any = carriers) -> None:
            # the computation itself (a first visit): past the result cache (web.jobs)
            cb.update_view.__wrapped__(start, end, carriers, None, None, None, "risk", 0, "es", "light")

        def cached(start: str = start, end: str = end, carriers: Any = carriers) -> None:
            cb.update_view(start, end, carriers, None, None, None, "risk", 0, "es", "light")

        def query(flt: Any = flt) -> None:
            lq.region_summary(rt.engine, flt)
            lq.top_orders(rt.engine, flt)

        callback()
        query()  # warm: tables in memory, models loaded
        cached()  # stores the result
        t_cb, t_q, t_hit = _best(callback, repeat), _best(query, repeat), _best(cached, repeat)
        rows.append({"benchmark": f"logistics: filter change ({label})", "subject": "update_view callback",
                     "baseline": "bare engine queries (region_summary + top_orders)", "subject_s": t_cb,
                     "baseline_s": t_q, "ratio": t_cb / t_q, "goal": "callback ≤ 2× query", "n": n})
        rows.append({"benchmark": f"logistics: same filter again ({label})",
                     "subject": "update_view from the result cache", "baseline": "computing it (update_view)",
                     "subject_s": t_hit, "baseline_s": t_cb, "ratio": t_hit / t_cb,
                     "goal": "a repeat visit well under the computation", "n": n})
    return rows


def run(quick: bool = False) -> list[dict]:
    from analytics import storage
    from analytics.datadir import DataDir
    from analytics.demo_orders import generate_dataset
    from analytics.logistics import load_models
    from analytics.logistics.train import train

    n = 50_000 if quick else 1_000_000
    n_train = 30_000 if quick else 200_000
    repeat = 3 if quick else 5
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-bench-logistics-"))
    try:
        train_dir, big = tmp / "train", tmp / "big"
        generate_dataset(train_dir, n_orders=n_train, seed=11)
        train(train_dir, train_net=False)
        generate_dataset(big, n_orders=n, seed=7)
        shutil.copytree(DataDir(train_dir).models, DataDir(big).models)
        models = load_models(DataDir(big).models)
        orders = storage.load_table(big, "orders").frame
        return [_batch_scoring(models, orders, n, quick), *_filter_change(big, tmp / "cache", n, repeat)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":  # pragma: no cover
    import sys

    for r in run(quick="--quick" in sys.argv):
        print(r)
