"""Logistics: late-delivery risk, delivery-time windows (P50/P90) and the /logistics page queries.

Public API (other areas depend on it):

- :func:`load_models` ``(models_dir) -> LogisticsModels`` with ``.late_risk.predict_proba(orders)``
  (calibrated P(late) per order, 1-D) and ``.delivery_days.predict(orders)`` (``p50_days``,
  ``p90_days``). Artifacts are hash-verified; TensorFlow loads only if the chosen model is Keras.
- :func:`analytics.logistics.features.build_features` ``(orders) -> features`` (order-time only).
- :func:`score` ``(models, orders) -> DataFrame`` with ``late_risk``, ``p50_days``, ``p90_days``
  (batched; 1,000,000 orders in a few seconds).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import artifacts
from analytics.datadir import LOGISTICS_META, logistics_models
from analytics.logistics.model import (
    DeliveryDaysModel,
    FeatureEncoder,
    IsotonicCalibrator,
    LateRiskModel,
    PlattCalibrator,
)

SCORE_BATCH = 250_000
BATCH_THREADS = os.cpu_count() or 1  # batch scoring uses every core
# HistGradientBoosting keeps its loss/link functions as functools.partial objects.
SKOPS_TRUSTED = ["functools.partial"]


class ModelsNotTrainedError(FileNotFoundError):
    """No logistics models in this data directory yet (run `python app.py train`)."""


@dataclass(frozen=True)
class LogisticsModels:
    late_risk: LateRiskModel
    delivery_days: DeliveryDaysModel
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Identifies this set of artifacts (hash of the hashes)."""
        return str(self.meta.get("key", ""))


def load_models(models_dir: Path | str) -> LogisticsModels:
    """Load the trained logistics models from ``DIR/models`` (verifying every SHA-256).

    Raises ModelsNotTrainedError before training and artifacts.ArtifactHashError for a file whose
    hash does not match its manifest. Loaded models are cached per process by file version.
    """
    meta_path = logistics_models(models_dir) / LOGISTICS_META
    if not meta_path.exists():
        raise ModelsNotTrainedError(f"no logistics models in {models_dir} (run `python app.py train`)")
    # the cache key covers every artifact file's version: a changed file is re-verified on next load
    files = sorted(p for p in meta_path.parent.iterdir() if p.suffix != ".tmp")
    version = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in files)
    return _load_cached(str(meta_path), version)


@lru_cache(maxsize=4)
def _load_cached(meta_path: str, _version: tuple) -> LogisticsModels:
    directory = Path(meta_path).parent
    meta = json.loads(Path(meta_path).read_text(encoding="utf-8"))
    hashes: dict[str, str] = meta["hashes"]

    def get(name: str) -> Any:
        return artifacts.load(directory / name, expected_sha256=hashes.get(name), trusted=SKOPS_TRUSTED)

    if any(name not in hashes for name in ("encoder.json", "delivery_p50.skops", "delivery_p90.skops")):
        raise artifacts.ArtifactError(f"{meta_path} does not list every logistics artifact")
    enc = FeatureEncoder.from_dict(get("encoder.json"))
    if meta["late_risk"] == "keras":
        from analytics.logistics.keras_net import KerasLateRiskNet

        estimator: Any = KerasLateRiskNet.load(directory, "late_risk_net", hashes)
    else:
        estimator = get("late_risk_gbm.skops")
    calibrator: Any = (IsotonicCalibrator.from_dict(get("late_risk_calibrator.json"))
                       if meta.get("calibrator") == "isotonic"
                       else PlattCalibrator.from_model(get("late_risk_calibrator.skops")))
    risk = LateRiskModel(enc, estimator, calibrator, meta.get("model_name", ""))
    days = DeliveryDaysModel(enc, get("delivery_p50.skops"), get("delivery_p90.skops"), float(meta["p90_shift"]),
                             float(meta.get("min_days", 1.0)))
    import hashlib

    key = hashlib.sha256("".join(sorted(hashes.values())).encode()).hexdigest()[:16]
    return LogisticsModels(risk, days, {**meta, "key": key})


def score(models: LogisticsModels, orders: pl.DataFrame, batch: int = SCORE_BATCH) -> pl.DataFrame:
    """``late_risk``, ``p50_days``, ``p90_days`` for every order (input order), in batches."""
    from analytics.logistics.features import build_features

    # every core only for big batches: on a loaded machine OpenMP threads spin on small ones
    threads = BATCH_THREADS if orders.height >= 50_000 else 1
    risk = np.empty(orders.height)
    p50 = np.empty(orders.height)
    p90 = np.empty(orders.height)
    for start in range(0, orders.height, batch):
        chunk = orders.slice(start, batch)
        x = models.late_risk.encoder.transform(build_features(chunk))
        end = start + chunk.height
        risk[start:end] = models.late_risk.proba_matrix(x, threads=threads)
        p50[start:end], p90[start:end] = models.delivery_days.predict_matrix(x, threads=threads)
    return pl.DataFrame({"late_risk": risk, "p50_days": p50, "p90_days": p90})


__all__ = ["LogisticsModels", "ModelsNotTrainedError", "load_models", "score"]
