"""Late-delivery risk and delivery-time models (scikit-learn estimator contract).

- :class:`FeatureEncoder` turns :func:`~analytics.logistics.features.build_features` output into a
  float matrix (categoricals as integer codes, unseen values → NaN = "missing").
- :class:`LateRiskModel` wraps a fitted classifier (scikit-learn HistGradientBoosting or the Keras
  dense net in :mod:`analytics.logistics.keras_net`) plus a Platt-scaling calibrator (:class:`PlattCalibrator`).
  ``predict_proba(orders)`` returns calibrated P(late) per order (1-D), ``explain`` the top reasons.
- :class:`DeliveryDaysModel` holds P50 and P90 quantile regressors with a conformal shift on the
  P90 so that its coverage holds on held-back months. ``predict(orders)`` returns p50/p90 days. Delivery days
  are whole numbers, so the P90 is an *interpolated* conformal bound: an order whose shifted quantile is
  4.3 days gets day 4 or day 5, day 5 for 30% of such orders (a fixed pseudo-random number per order, from
  its features: the same order always gets the same day), which is what lets coverage land on 90% when most
  deliveries take 2 to 6 days.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import polars as pl

from analytics.logistics.features import CATEGORICAL, FEATURES, GROUPS, NUMERIC, build_features
from analytics.threads import openmp_threads

MAX_CATEGORIES = 250  # HistGradientBoosting allows at most 255 bins per categorical feature


def limited_threads(threads: int | None = None) -> Any:
    """Context manager capping OpenMP threads for model fit/predict (default one: ``analytics.threads``).

    Large batches (``analytics.logistics.score``) pass every core: there the work per thread
    dwarfs the spin-waiting that hurts small calls on a loaded machine."""
    return openmp_threads(threads)


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


class IsotonicCalibrator:
    """Isotonic regression of the outcome on the raw probability (monotone steps; used on small data where the
    out-of-fold predictions fall in a few clusters a sigmoid does not fit). Kept as its thresholds, so the
    artifact is plain JSON."""

    def fit(self, p: np.ndarray, y: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(np.asarray(p, float), y)
        self.x_ = np.asarray(iso.X_thresholds_, float)
        self.y_ = np.asarray(iso.y_thresholds_, float)
        return self

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": self.x_.tolist(), "y": self.y_.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, list[float]]) -> IsotonicCalibrator:
        cal = cls()
        cal.x_, cal.y_ = np.asarray(d["x"], float), np.asarray(d["y"], float)
        return cal

    def predict(self, p: np.ndarray) -> np.ndarray:
        if not hasattr(self, "x_"):
            raise NotFittedError("IsotonicCalibrator is not fitted")
        return np.interp(np.asarray(p, float), self.x_, self.y_)


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


def tie_break(x: np.ndarray) -> np.ndarray:
    """A fixed pseudo-random number in [0, 1) per row of the encoded feature matrix (the same order, the same
    number): a hash of the row's bytes."""
    v = np.nan_to_num(np.ascontiguousarray(x, dtype=np.float32)).view(np.uint32).astype(np.uint64)
    golden = np.uint64(0x9E3779B97F4A7C15)
    h = np.full(v.shape[0], golden, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(v.shape[1]):
            h ^= v[:, j] + golden + (h << np.uint64(6)) + (h >> np.uint64(2))
        h ^= h >> np.uint64(30)
        h *= np.uint64(0xBF58476D1CE4E5B9)
        h ^= h >> np.uint64(27)
        h *= np.uint64(0x94D049BB133111EB)
        h ^= h >> np.uint64(31)
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def interpolated_bound(raw: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Whole-day bound of a fractional one: ``floor(raw)``, plus one day when ``u < frac(raw)``."""
    base = np.floor(raw + 1e-9)
    return base + (u < (raw - base))


def interpolated_coverage(raw: np.ndarray, actual: np.ndarray, lower: np.ndarray | None = None) -> float:
    """Expected share of ``actual`` within the interpolated bound of ``raw`` (over the tie-break draw), the bound
    never below ``lower`` (the P50 day) when given."""
    base = np.floor(raw + 1e-9)
    frac = raw - base
    cov = (actual <= base) + frac * (actual == base + 1)
    if lower is not None:
        lower = np.asarray(lower, float)
        # at or above base + 1 the P50 is the bound whatever the draw; at base it only lifts the draw's low case
        cov = np.where(lower >= base + 1, actual <= lower, cov)
    return float(np.mean(cov))


def conformal_shift(raw: np.ndarray, actual: np.ndarray, target: float = 0.9,
                    lower: np.ndarray | None = None) -> float:
    """The shift ``s`` for which the interpolated bound of ``raw + s`` (never below ``lower``) covers ``target`` of
    ``actual`` (expected coverage is continuous and non-decreasing in ``s``: bisection)."""
    raw, actual = np.asarray(raw, float), np.asarray(actual, float)
    if raw.size == 0:
        return 0.0
    lo, hi = -float(np.max(raw)) - 2.0, float(np.max(actual) - np.min(raw)) + 2.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if interpolated_coverage(raw + mid, actual, lower) < target:
            lo = mid
        else:
            hi = mid
    return float(hi)


class DeliveryDaysModel:
    """P50 and P90 of delivery days (whole days); ``p90_shift_`` is the conformal correction.

    Delivery days are integers: the P50 is the rounded median (never below ``min_days``, the shortest delivery
    seen in training) and the P90 the interpolated bound of the shifted 90% quantile (module docstring), never
    below the P50.
    """

    def __init__(self, encoder: FeatureEncoder, p50: Any, p90: Any, p90_shift: float = 0.0,
                 min_days: float = 0.0) -> None:
        self.encoder = encoder
        self.p50 = p50
        self.p90 = p90
        self.p90_shift_ = p90_shift
        self.min_days_ = min_days

    def raw_matrix(self, x: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The quantile models' continuous P50 and shifted P90."""
        with limited_threads(threads):
            return self.p50.predict(x), self.p90.predict(x) + self.p90_shift_

    def predict_matrix(self, x: np.ndarray, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        raw50, raw90 = self.raw_matrix(x, threads)
        # deliveries are counted in whole days: the most likely day, and the last day of the window
        p50 = np.maximum(np.round(raw50), self.min_days_)
        p90 = np.maximum(interpolated_bound(raw90, tie_break(x)), p50)
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


def bootstrap_intervals(y: np.ndarray, p: np.ndarray, resamples: int = 200, level: float = 0.95,
                        seed: int = 0) -> dict[str, list[float]]:
    """Percentile bootstrap intervals of ROC AUC and ECE (10 bins) over orders resampled with replacement."""
    from sklearn.metrics import roc_auc_score

    y, p = np.asarray(y, float), np.asarray(p, float)
    rng = np.random.default_rng(seed)
    aucs, eces = [], []
    for _ in range(resamples):
        i = rng.integers(0, y.size, y.size)
        if 0 < y[i].sum() < y.size:
            aucs.append(roc_auc_score(y[i], p[i]))
        eces.append(expected_calibration_error(y[i], p[i], 10))
    a = (1 - level) / 2 * 100
    return {"roc_auc": [round(float(v), 4) for v in np.percentile(aucs, [a, 100 - a])] if aucs else [],
            "ece": [round(float(v), 4) for v in np.percentile(eces, [a, 100 - a])]}


def coverage_interval(covered: np.ndarray, resamples: int = 200, level: float = 0.95, seed: int = 0) -> list[float]:
    """Percentile bootstrap interval of a coverage (share of ``covered``)."""
    c = np.asarray(covered, float)
    rng = np.random.default_rng(seed)
    means = [c[rng.integers(0, c.size, c.size)].mean() for _ in range(resamples)] if c.size else [0.0]
    a = (1 - level) / 2 * 100
    return [round(float(v), 4) for v in np.percentile(means, [a, 100 - a])]


__all__ = [
    "DeliveryDaysModel", "FeatureEncoder", "IsotonicCalibrator", "LateRiskModel", "NotFittedError", "as_features",
    "bootstrap_intervals",
    "calibration_curve", "conformal_shift", "coverage_interval", "expected_calibration_error",
    "interpolated_bound", "interpolated_coverage", "roc_points", "tie_break",
]
