"""Keras model that predicts the sustainability score of suppliers whose audits are incomplete.

Learned from the fully audited suppliers: features are everything known without the audit
(ingredient category, region type, certifications, practices, transport, price, quality, lead time,
capacity, on-time record, social flags) plus the audit sections that *were* done (value and mask).
Training copies each audited supplier with random audit sections masked, so the network learns to
fill in what an incomplete audit lacks. It is judged on held-out audited suppliers (with the sections
masked) against the mean-score baseline; the model card fragment reports both errors.

TensorFlow/Keras is imported only inside ``fit``/``predict``/``train_sourcing_model``/``load``, never
at module import. Artifacts go through analytics.artifacts (SHA-256 manifest, ``safe_mode=True``).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import artifacts, geo, storage
from analytics.datadir import SOURCING_MODEL, SOURCING_PREDICTIONS, DataDir
from analytics.sourcing.ingredients import (
    AUDIT_SECTIONS,
    CERTIFICATION_IDS,
    INGREDIENT_BY_ID,
    INGREDIENTS,
    MODES,
    PRACTICE_IDS,
)
from analytics.sourcing.sustainability import score_components

Progress = Callable[[str, float], None]

MODEL_FILE = SOURCING_MODEL
PREDICTIONS_FILE = SOURCING_PREDICTIONS
FEATURE_VERSION = 1
SEED = 8
TEST_SHARE = 0.25
MIN_AUDITED = 40
CATEGORIES: tuple[str, ...] = tuple(sorted({i.category for i in INGREDIENTS}))
NATURAL: tuple[str, ...] = ("costa", "sierra", "selva")
# every non-empty set of missing audit sections (the patterns incomplete audits have)
MISSING_PATTERNS: tuple[tuple[int, ...], ...] = tuple(
    c for k in (1, 2, 3) for c in itertools.combinations(range(len(AUDIT_SECTIONS)), k))


class NotFittedError(RuntimeError):
    """predict() was called before fit() (scikit-learn's contract)."""


def feature_names() -> list[str]:
    names = [f"cat={c}" for c in CATEGORIES] + [f"nat={n}" for n in NATURAL]
    names += [f"cert={c}" for c in CERTIFICATION_IDS] + [f"prac={p}" for p in PRACTICE_IDS]
    names += [f"mode={m}" for m in MODES]
    names += ["co2e_kg_per_kg", "log_distance", "price_ratio", "quality", "lead_time", "log_capacity",
              "on_time_rate", "is_coop", "women_led", "fair_price_premium"]
    names += [f"{s}_value" for s in AUDIT_SECTIONS] + [f"{s}_known" for s in AUDIT_SECTIONS]
    return names


def feature_matrix(scored: pl.DataFrame, missing: np.ndarray | None = None) -> np.ndarray:
    """Features for each supplier (rows of ``scored``, which has score_components' columns).

    ``missing``: optional boolean (n, 3) array of audit sections to hide on top of the null ones.
    """
    n = scored.height
    cols: list[np.ndarray] = []
    cat = np.array([INGREDIENT_BY_ID[i].category for i in scored["ingredient_id"].to_list()])
    cols += [(cat == c).astype(float) for c in CATEGORIES]
    nat = np.array([geo.REGION_BY_CODE[r].natural_region for r in scored["region"].to_list()])
    cols += [(nat == c).astype(float) for c in NATURAL]
    certs = [set(x.split(",")) if x else set() for x in scored["certifications"].to_list()]
    cols += [np.array([c in s for s in certs], float) for c in CERTIFICATION_IDS]
    pracs = [set(x.split(",")) if x else set() for x in scored["practices"].to_list()]
    cols += [np.array([p in s for s in pracs], float) for p in PRACTICE_IDS]
    mode = scored["transport_mode"].to_numpy()
    cols += [(mode == m).astype(float) for m in MODES]
    ref = np.array([INGREDIENT_BY_ID[i].price_pen_kg for i in scored["ingredient_id"].to_list()])
    cols += [
        scored["co2e_kg_per_kg"].to_numpy().astype(float),
        np.log1p(scored["distance_km"].to_numpy().astype(float)) / 7.0,
        scored["price_pen_kg"].to_numpy().astype(float) / ref,
        scored["quality_score"].to_numpy().astype(float) / 100.0,
        scored["lead_time_days"].to_numpy().astype(float) / 10.0,
        np.log1p(scored["capacity_kg_month"].to_numpy().astype(float)) / 10.0,
        scored["on_time_rate"].to_numpy().astype(float),
        scored["is_coop"].to_numpy().astype(float),
        scored["women_led"].to_numpy().astype(float),
        scored["fair_price_premium"].to_numpy().astype(float),
    ]
    audit = np.column_stack([scored[s].to_numpy().astype(float) for s in AUDIT_SECTIONS]) if n else \
        np.zeros((0, len(AUDIT_SECTIONS)))
    known = ~np.isnan(audit)
    if missing is not None:
        known &= ~missing
    cols += [np.where(known[:, j], audit[:, j] / 100.0, 0.0) for j in range(len(AUDIT_SECTIONS))]
    cols += [known[:, j].astype(float) for j in range(len(AUDIT_SECTIONS))]
    return np.column_stack(cols).astype("float32") if n else np.zeros((0, len(feature_names())), "float32")


class KerasScoreRegressor:
    """A small Keras MLP with scikit-learn's estimator contract (fit returns self; ``model_`` learned)."""

    def __init__(self, hidden: tuple[int, ...] = (48, 24), epochs: int = 120, batch_size: int = 32,
                 learning_rate: float = 3e-3, l2: float = 1e-4, dropout: float = 0.05, seed: int = SEED) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.l2 = l2
        self.dropout = dropout
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"hidden": list(self.hidden), "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "l2": self.l2, "dropout": self.dropout, "seed": self.seed}

    def fit(self, X: np.ndarray, y: np.ndarray) -> KerasScoreRegressor:
        import keras  # heavy: only when training

        keras.utils.set_random_seed(self.seed)
        reg = keras.regularizers.L2(self.l2)
        layers: list[Any] = [keras.Input(shape=(X.shape[1],))]
        for units in self.hidden:
            layers.append(keras.layers.Dense(units, activation="relu", kernel_regularizer=reg))
            if self.dropout:
                layers.append(keras.layers.Dropout(self.dropout, seed=self.seed))
        layers.append(keras.layers.Dense(1, activation="sigmoid"))  # score / 100 in (0, 1)
        model = keras.Sequential(layers, name="sourcing_score")
        # many batches per compiled call instead of one: the same steps in the same order (the same weights),
        # a third less CPU on the ~30 batches an epoch has here
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="mse", steps_per_execution=64)
        model.fit(X, y.reshape(-1, 1), epochs=self.epochs, batch_size=self.batch_size, shuffle=True, verbose=0)
        self.model_ = model
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Predicted score 0–100."""
        if not hasattr(self, "model_"):
            raise NotFittedError("KerasScoreRegressor is not fitted: call fit() or load() first")
        if X.shape[0] == 0:
            return np.zeros(0)
        return 100.0 * np.asarray(self.model_(X.astype("float32"), training=False)).reshape(-1)

    @classmethod
    def load(cls, path: Path | str, expected_sha256: str | None = None) -> KerasScoreRegressor:
        """Verify the SHA-256 against the manifest, then load with ``safe_mode=True``."""
        manifest = artifacts.verify(path, expected_sha256)
        params = dict(manifest.get("params") or {})
        if params.get("feature_names") != feature_names():
            raise artifacts.ArtifactError(f"{Path(path).name} was trained on other features; retrain")
        model = artifacts.load(path, expected_sha256=expected_sha256)
        est = cls(**{k: (tuple(v) if k == "hidden" else v)  # type: ignore[arg-type]
                     for k, v in (params.get("estimator") or {}).items()})
        est.model_ = model
        est.n_features_in_ = len(params["feature_names"])
        return est


def split_audited(scored: pl.DataFrame, seed: int = SEED, test_share: float = TEST_SHARE) -> tuple[list[str], list[str]]:
    """Deterministic (train_ids, test_ids) over the fully audited suppliers."""
    ids = sorted(scored.filter(pl.col("audited_score").is_not_null())["supplier_id"].to_list())
    perm = np.random.default_rng([seed, 1]).permutation(len(ids))
    n_test = max(1, int(round(test_share * len(ids))))
    test = sorted(ids[i] for i in perm[:n_test])
    train = sorted(ids[i] for i in perm[n_test:])
    return train, test


def augment(scored: pl.DataFrame, copies: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Training rows: each audited supplier once complete and ``copies`` times with sections masked."""
    rng = np.random.default_rng([seed, 2])
    n = scored.height
    xs = [feature_matrix(scored)]
    for _ in range(copies):
        pat = rng.choice(len(MISSING_PATTERNS), size=n)
        miss = np.zeros((n, len(AUDIT_SECTIONS)), bool)
        for i, p in enumerate(pat):
            miss[i, list(MISSING_PATTERNS[p])] = True
        xs.append(feature_matrix(scored, miss))
    y = np.tile(scored["audited_score"].to_numpy().astype("float32") / 100.0, copies + 1)
    return np.vstack(xs), y


def evaluate(est: KerasScoreRegressor, test: pl.DataFrame, baseline: float) -> dict[str, float]:
    """MAE / RMSE of the model and of the baseline on held-out suppliers, every missing pattern."""
    y = test["audited_score"].to_numpy().astype(float)
    errs, errs_all = [], []
    n = test.height
    for pat in MISSING_PATTERNS:
        miss = np.zeros((n, len(AUDIT_SECTIONS)), bool)
        miss[:, list(pat)] = True
        e = est.predict(feature_matrix(test, miss)) - y
        errs.append(e)
        if len(pat) == len(AUDIT_SECTIONS):
            errs_all.append(e)
    e = np.concatenate(errs)
    ea = np.concatenate(errs_all)
    b = baseline - y
    return {
        "mae": round(float(np.mean(np.abs(e))), 3),
        "rmse": round(float(np.sqrt(np.mean(e ** 2))), 3),
        "mae_no_audit_at_all": round(float(np.mean(np.abs(ea))), 3),
        "baseline_mae": round(float(np.mean(np.abs(b))), 3),
        "baseline_rmse": round(float(np.sqrt(np.mean(b ** 2))), 3),
        "mae_improvement_pct": round(100.0 * (1 - float(np.mean(np.abs(e))) / float(np.mean(np.abs(b)))), 1),
    }


def load_scored_suppliers(data_dir: Path) -> pl.DataFrame:
    return score_components(storage.load_table(data_dir, "sourcing_suppliers").frame)


def train_sourcing_model(data_dir: Path, progress: Progress | None = None,
                         estimator: KerasScoreRegressor | None = None) -> dict[str, Any]:
    """Trainer for ``python app.py train``: fit, judge against the baseline, save, predict.

    Writes ``models/sourcing_score.keras`` (+ manifest) and ``models/sourcing_score_predictions.json``
    (+ manifest): the predicted score of every supplier whose audit is incomplete.
    """
    from analytics.model_card import SkipTraining

    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    if not storage.has_table(data_dir, "sourcing_suppliers"):
        raise SkipTraining("no sourcing_suppliers table (run `python app.py generate`)")
    scored = load_scored_suppliers(data_dir)
    train_ids, test_ids = split_audited(scored)
    if len(train_ids) < MIN_AUDITED:
        raise SkipTraining(f"only {len(train_ids)} fully audited suppliers to learn from (need {MIN_AUDITED})")
    train = scored.filter(pl.col("supplier_id").is_in(train_ids)).sort("supplier_id")
    test = scored.filter(pl.col("supplier_id").is_in(test_ids)).sort("supplier_id")
    report("sourcing: features", 0.05)
    X, y = augment(train, copies=8, seed=SEED)
    est = estimator or KerasScoreRegressor()
    report("sourcing: fitting Keras model", 0.1)
    est.fit(X, y)
    baseline = float(train["audited_score"].mean())  # type: ignore[arg-type]
    metrics = evaluate(est, test, baseline)
    metrics["baseline_mean_score"] = round(baseline, 3)
    report("sourcing: saving", 0.8)
    layout = DataDir(data_dir)
    path = layout.sourcing_model
    fingerprint = artifacts.frame_fingerprint(storage.load_table(data_dir, "sourcing_suppliers").frame)
    params = {"estimator": est.get_params(), "feature_names": feature_names(), "feature_version": FEATURE_VERSION,
              "train_suppliers": len(train_ids), "test_suppliers": len(test_ids), "train_rows": int(X.shape[0]),
              "target": "sustainability_score (0-100)", "baseline": "mean audited score of the training suppliers"}
    manifest = artifacts.save(est.model_, path, fmt="keras", params=params, metrics=metrics,
                              data_fingerprint=fingerprint)
    # round trip through the safe loader (hash check + safe_mode) before predicting
    loaded = KerasScoreRegressor.load(path, expected_sha256=manifest["sha256"])
    incomplete = scored.filter(pl.col("audited_score").is_null()).sort("supplier_id")
    preds = loaded.predict(feature_matrix(incomplete))
    pred_map = {sid: round(float(p), 3) for sid, p in zip(incomplete["supplier_id"].to_list(), preds, strict=True)}
    artifacts.save({"model_sha256": manifest["sha256"], "suppliers_fingerprint": fingerprint,
                    "baseline": round(baseline, 3), "predictions": pred_map},
                   layout.sourcing_predictions, fmt="json", data_fingerprint=fingerprint,
                   params={"model_sha256": manifest["sha256"]})
    report("sourcing: done", 1.0)
    return {"sourcing_score": {
        "kind": "keras_mlp_regressor",
        "purpose": "predict the 0-100 sustainability score of suppliers with incomplete audits",
        "file": MODEL_FILE, "sha256": manifest["sha256"], "created_at": manifest["created_at"],
        "trained_on": f"{len(train_ids)} fully audited suppliers ({X.shape[0]} rows with masked audit sections)",
        "evaluated_on": f"{len(test_ids)} held-out audited suppliers × {len(MISSING_PATTERNS)} missing-section patterns",
        "metrics": metrics,
        "beats_baseline": bool(metrics["mae"] < metrics["baseline_mae"]),
        "predicted_suppliers": len(pred_map),
        "data_fingerprint": fingerprint,
    }}


class PredictionsUnavailable(Exception):
    """No usable model predictions (not trained, or trained on other supplier data)."""


def load_predictions(data_dir: Path, suppliers: pl.DataFrame | None = None) -> tuple[dict[str, float], float]:
    """(predictions by supplier_id, baseline) written by training, hash-checked; no TensorFlow needed.

    Raises PredictionsUnavailable when there are none or they belong to other supplier data, and
    artifacts.ArtifactHashError when a file was altered.
    """
    layout = DataDir(Path(data_dir))
    path = layout.sourcing_predictions
    if not path.exists():
        raise PredictionsUnavailable("the sourcing model is not trained (run `python app.py train`)")
    payload = artifacts.load(path)
    model_path = layout.sourcing_model
    artifacts.verify(model_path, payload.get("model_sha256"))
    if suppliers is not None and payload.get("suppliers_fingerprint") != artifacts.frame_fingerprint(suppliers):
        raise PredictionsUnavailable("the sourcing model was trained on other supplier data (run `python app.py train`)")
    preds = {str(k): float(v) for k, v in (payload.get("predictions") or {}).items() if math.isfinite(float(v))}
    return preds, float(payload.get("baseline", float("nan")))
