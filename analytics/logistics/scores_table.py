"""The ``logistics_scores`` table: every order with its late risk and P50/P90 delivery window.

Scoring once per (orders file, model artifacts) keeps the page's queries plain engine queries
(Polars or Spark) instead of model calls. The table is rewritten after training and whenever the
orders table or the models changed since it was written (``scores_key.json`` records both).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import polars as pl

from analytics import storage
from analytics.datadir import DataDir
from analytics.logistics import load_models, score

SCORES_TABLE = "logistics_scores"
SCORING_VERSION = 2  # bump when the scores table changes shape or meaning
_LOCK = threading.Lock()


def _orders_version(data_dir: Path) -> str:
    return storage.table_version(data_dir, "orders")  # one file or a month-partitioned folder


def _key_path(data_dir: Path) -> Path:
    return DataDir(data_dir).logistics_scores_key


def scores_fresh(data_dir: Path | str) -> bool:
    data_dir = Path(data_dir)
    kp = _key_path(data_dir)
    if not (kp.exists() and storage.has_table(data_dir, SCORES_TABLE) and storage.has_table(data_dir, "orders")):
        return False
    key = json.loads(kp.read_text(encoding="utf-8"))
    models = load_models(DataDir(data_dir).models)
    return key == {"orders": _orders_version(data_dir), "models": models.key, "version": SCORING_VERSION}


def refresh_scores(data_dir: Path | str, force: bool = False) -> bool:
    """Rewrite the scores table if stale (or ``force``); returns True if it was rewritten.

    Raises analytics.logistics.ModelsNotTrainedError before training.
    """
    data_dir = Path(data_dir)
    with _LOCK:
        if not force and scores_fresh(data_dir):
            return False
        models = load_models(DataDir(data_dir).models)
        version = _orders_version(data_dir)
        orders = storage.load_table(data_dir, "orders").frame
        scored = pl.concat([orders, score(models, orders)], how="horizontal").with_columns(
            (pl.col("late_risk") * pl.col("amount_pen")).alias("risk_value"))
        storage.write_table(scored, data_dir, SCORES_TABLE)
        storage.write_json(_key_path(data_dir), {"orders": version, "models": models.key, "version": SCORING_VERSION})
        return True


__all__ = ["SCORES_TABLE", "refresh_scores", "scores_fresh"]
