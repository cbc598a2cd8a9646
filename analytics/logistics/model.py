"""Late-delivery risk and delivery-time models (scikit-learn estimator contract).

- :class:`FeatureEncoder` turns :func:`~analytics.logistics.features.build_features` output into a
  float matrix (categoricals as integer codes, unseen values → NaN = "missing").
- :class:`LateRiskModel` wraps a fitted classifier (scikit-learn HistGradientBoosting or the Keras
  dense net in :mod:`analytics.logistics.keras_net`) plus a Platt-scaling calibrator (:class:`PlattCalibrator`).
  ``predict_proba(orders)`` returns calibrated P(late) per order (1-D), ``explain`` the top reasons.
- :class:`DeliveryDaysModel` holds P50 and P90 quantile regressors with a conformal shift on the
  P90 so that its coverage holds on held-back months. ``predict(orders)`` returns p50/p90 days.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import polars as pl

from analytics.logistics.features import CATEGORICAL, FEATURES, GROUPS, NUMERIC, build_features

MAX_CATEGORIES = 250
# scikit-learn's OpenMP threads spin badly when the machine is shared (gunicorn workers, other jobs):
# measured 10-20x slower fits/predictions with 2 threads under load, so the models run on one.
OMP_THREADS = 1


def limited_threads(threads: int | None = None) -> Any:
    """Context manager capping OpenMP threads for model fit/predict (default OMP_THREADS).

    Large batches (``analytics.logistics.score``) pass every core: there the work per thread
    dwarfs the spin-waiting that hurts small calls on a loaded machine."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads or OMP_THREADS, user_api="openmp")  # HistGradientBoosting allows at most 255 bins per categorical feature


class NotFittedError(RuntimeError):
    """Predicting before fitting."""


def as_features(frame: pl.DataFrame) -> pl.DataFrame:
    """Accept either raw orders or an already-built feature frame."""
    if all(c in frame.columns for c in FEATURES) and frame.schema["month"] == pl.Float64:
        return frame.select(FEATURES)
    return build_features(frame)


class FeatureEncoder:
    """Categorical vocabularies (most frequent first, capped) and numeric medians, learned by fit."""

    def __init__(self, max_categories: int = MAX_CATEGORIES) -> None:
        self.max_categories = max_categories

    def fit(self, feats: pl.DataFrame) -> FeatureEncoder:
        self.vocab_: dict[str, list[str]] = {}
        for c in CATEGORICAL:
            counts = feats[c].value_counts(sort=True)
            self.vocab_[c] = [str(v) for v in counts[c].head(self.max_categories).to_list()]
        self.medians_ = {c: float(cast(float, feats[c].median())) if feats[c].null_count() < feats.height else 0.0
                         for c in NUMERIC}
        # a feature the data never has (DataCo: no distances) becomes a constant 0
        self.absent_ = [c for c in NUMERIC if feats[c].null_count() == feats.height]
        # reference order for attributions: the most common value / the median of each feature
        self.reference_: dict[str, Any] = {c: self.vocab_[c][0] if self.vocab_[c] else None for c in CATEGORICAL}
        self.reference_.update(self.medians_)
        return self

    def _check(self) -> None:
        if not hasattr(self, "vocab_"):
            raise NotFittedError("FeatureEncoder is not fitted")

    def transform(self, feats: pl.DataFrame) -> np.ndarray:
        """Float32 matrix in FEATURES order; categoricals as codes (NaN if unseen/missing)."""
        self._check()
        exprs = [pl.col(c).replace_strict({v: i for i, v in enumerate(self.vocab_[c])}, default=None,
                                          return_dtype=pl.Float32).alias(c) for c in CATEGORICAL]
        exprs += [(pl.lit(0.0) if c in self.absent_ else pl.col(c)).cast(pl.Float32).alias(c) for c in NUMERIC]
        return feats.select(exprs).to_numpy().astype(np.float32, copy=False)

    @property
    def categorical_mask(self) -> np.ndarray:
        return np.array([c in CATEGORICAL for c in FEATURES])

    def to_dict(self) -> dict[str, Any]:
        self._check()
        return {"max_categories": self.max_categories, "vocab": self.vocab_, "medians": self.medians_,
                "reference": self.reference_, "absent": self.absent_}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FeatureEncoder:
        enc = cls(d["max_categories"])
        enc.vocab_, enc.medians_, enc.reference_ = d["vocab"], d["medians"], d["reference"]
        enc.absent_ = list(d.get("absent", []))
        return enc


def _reference_matrix_row(encoder: FeatureEncoder) -> np.ndarray:
    ref = pl.DataFrame({c: [encoder.reference_[c]] for c in FEATURES},
                       schema={c: (pl.String if c in CATEGORICAL else pl.Float64) for c in FEATURES})
    return encoder.transform(ref)[0]


class PlattCalibrator:
    """Platt scaling on the logit of the raw probability (a 1-feature logistic regression)."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> PlattCalibrator:
        from sklearn.linear_model import LogisticRegression

        self.model_ = LogisticRegression(C=1e4).fit(_logit(p)[:, None], y)
        return self

    @classmethod
    def from_model(cls, model: Any) -> PlattCalibrator:
        """Wrap a saved LogisticRegression (the artifact stores only the scikit-learn object)."""
        cal = cls()
        cal.model_ = model
        return cal

    def predict(self, p: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("PlattCalibrator is not fitted")
        z = self.model_.coef_[0, 0] * _logit(p) + self.model_.intercept_[0]
        return 1.0 / (1.0 + np.exp(-z))


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=np.float64), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


class LateRiskModel:
    """Calibrated P(late). ``estimator`` has ``predict_proba(X)`` on the encoded matrix."""

    def __init__(self, encoder: FeatureEncoder, estimator: Any, calibrator: Any | None = None,
                 name: str = "") -> None:
        self.encoder = encoder
        self.estimator = estimator
        self.calibrator = calibrator
        self.name = name

    def raw_proba_matrix(self, x: np.ndarray, threads: int | None = None) -> np.ndarray:
        with limited_threads(threads):
            p = np.asarray(self.estimator.predict_proba(x))
        return p[:, 1] if p.ndim == 2 else p

    def proba_matrix(self, x: np.ndarray, threads: int | None = None) -> np.ndarray:
        p = self.raw_proba_matrix(x, threads)
        if self.calibrator is not None:
            p = self.calibrator.predict(p)
        return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)

    def predict_proba(self, frame: pl.DataFrame) -> np.ndarray:
        """Calibrated probability that each order is delivered late (1-D array, input order)."""
        if frame.height == 0:
            return np.zeros(0)
        return self.proba_matrix(self.encoder.transform(as_features(frame)))

    def explain(self, frame: pl.DataFrame, top: int = 3,
                threads: int | None = None) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """Per-order attributions by occlusion: for each feature group, how much the risk drops when
        the group takes the reference order's values. Returns (risk, top reasons per order) where a
        reason is (group, +probability points), only positive contributions, largest first."""
        feats = as_features(frame)
        x = self.encoder.transform(feats)
        contrib = self.contributions_matrix(x, threads)
        risk = contrib.pop("__risk__")
        names = list(contrib)
        mat = np.column_stack([contrib[n] for n in names]) if names else np.zeros((x.shape[0], 0))
        order = np.argsort(-mat, axis=1)[:, :top]
        reasons = []
        for i in range(x.shape[0]):
            reasons.append([(names[j], float(mat[i, j])) for j in order[i] if mat[i, j] > 0.005])
        return risk, reasons

    def contributions_matrix(self, x: np.ndarray, threads: int | None = None) -> dict[str, np.ndarray]:
        ref = _reference_matrix_row(self.encoder)
        idx = {c: i for i, c in enumerate(FEATURES)}
        n = x.shape[0]
        # one stacked predict call (the order itself + one occluded copy per group): a single call
        # is far cheaper than twelve for the few hundred rows of a grid
        stacked = np.tile(x, (len(GROUPS) + 1, 1))
        for g, cols in enumerate(GROUPS.values(), start=1):
            for c in cols:
                stacked[g * n:(g + 1) * n, idx[c]] = ref[idx[c]]
        p = self.proba_matrix(stacked, threads)
        base = p[:n]
        out: dict[str, np.ndarray] = {"__risk__": base}
        for g, group in enumerate(GROUPS, start=1):
            out[group] = base - p[g * n:(g + 1) * n]
        return out


class DeliveryDaysModel:
    """P50 and P90 of delivery days (whole days); ``p90_shift_`` is the conformal correction.

    Delivery days are integers, so ``actual <= floor(p90)`` exactly when ``actual <= p90``: the
    whole-day window keeps the coverage measured on the continuous quantile.
    """

    def __init__(self, encoder: FeatureEncoder, p50: Any, p90: Any, p90_shift: float = 0.0) -> None:
        self.encoder = encoder
        self.p50 = p50
        self.p90 = p90
        self.p90_shift_ = p90_shift

    def predict_matrix(self, x: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        with limited_threads(threads):
            raw50 = self.p50.predict(x)
            raw90 = self.p90.predict(x) + self.p90_shift_
        # deliveries are counted in whole days: the most likely day, and the last day of the window
        p50 = np.maximum(np.round(raw50), 1.0)
        p90 = np.maximum(np.floor(raw90 + 1e-9), p50)
        return p50, p90

    def predict(self, frame: pl.DataFrame) -> pl.DataFrame:
        """``p50_days`` (most likely) and ``p90_days`` (safe ETA) per order, input order."""
        if frame.height == 0:
            return pl.DataFrame(schema={"p50_days": pl.Float64, "p90_days": pl.Float64})
        p50, p90 = self.predict_matrix(self.encoder.transform(as_features(frame)))
        return pl.DataFrame({"p50_days": p50, "p90_days": p90})


# ---- metrics ---------------------------------------------------------------------------------

def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = 10) -> float:
    """ECE over equal-width probability bins: sum_b (n_b/n) |mean(y_b) - mean(p_b)|."""
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    ece = 0.0
    for b in range(bins):
        m = which == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def calibration_curve(y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict[str, list[Any]]:
    y, p = np.asarray(y, float), np.asarray(p, float)
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges[1:-1], right=True), 0, bins - 1)
    pred, obs, n = [], [], []
    for b in range(bins):
        m = which == b
        if m.any():
            pred.append(float(p[m].mean()))
            obs.append(float(y[m].mean()))
            n.append(int(m.sum()))
    return {"predicted": pred, "observed": obs, "count": n}


def roc_points(y: np.ndarray, p: np.ndarray, n_points: int = 60) -> dict[str, list[float]]:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(n_points, len(fpr))).astype(int))
    return {"fpr": [float(v) for v in fpr[keep]], "tpr": [float(v) for v in tpr[keep]]}


__all__ = [
    "DeliveryDaysModel", "FeatureEncoder", "LateRiskModel", "NotFittedError", "as_features",
    "calibration_curve", "expected_calibration_error", "roc_points",
]
