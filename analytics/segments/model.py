"""K-means segmentation on scaled customer features, following scikit-learn's estimator contract.

Design matrix (``design_matrix``): the behavioural core (recency, frequency, monetary, items per
order, discount sensitivity, tenure), each transformed to tame its long tail and standardised with
weight 1; then the secondary features, standardised and down-weighted so that they shape but do not
dominate the distances: the category mix (8 shares together weigh as much as 0.2 of one feature),
the customer's own late-delivery share and their share of orders to Lima/Callao (0.3 each).
Region itself is a filter and a profile column, not a distance (25 one-hot columns would make
segments follow geography instead of behaviour).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from analytics.segments.features import SegmentInputError, category_columns
from analytics.threads import openmp_threads

if TYPE_CHECKING:  # scikit-learn is imported where a model is fitted, not when the app is built
    from sklearn.cluster import KMeans

K_MIN, K_MAX = 2, 10
SILHOUETTE_SAMPLE = 4000

# (feature column, transform, weight)
CORE: tuple[tuple[str, str, float], ...] = (
    ("recency_days", "sqrt", 1.0),
    ("orders", "log1p", 1.0),
    ("monetary_pen", "log1p", 1.0),
    ("avg_items", "log1p", 1.0),
    ("discount_mean_pct", "log1p", 1.0),
    ("tenure_days", "sqrt", 1.0),
)
SECONDARY: tuple[tuple[str, str, float], ...] = (
    ("late_share", "identity", 0.3),
    ("capital_share", "identity", 0.3),
)
CATEGORY_MIX_WEIGHT = 0.2
CORE_NAMES = tuple(c for c, _, _ in CORE)

_TRANSFORMS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sqrt": lambda x: np.sqrt(np.clip(x, 0, None)),
    "log1p": lambda x: np.log1p(np.clip(x, 0, None)),
    "identity": lambda x: x,
}


def check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise SegmentInputError(f"k must be an integer between {K_MIN} and {K_MAX}, not {k!r}")
    if not K_MIN <= int(k) <= K_MAX:
        raise SegmentInputError(f"k must be between {K_MIN} and {K_MAX}, not {k}")
    return int(k)


@dataclass(frozen=True)
class Scaling:
    """Column order, means, standard deviations and weights of the design matrix."""

    columns: tuple[str, ...]
    transforms: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    weight: np.ndarray

    @classmethod
    def fit(cls, features: pl.DataFrame) -> Scaling:
        cats = category_columns(features)
        spec = list(CORE) + list(SECONDARY) + [(c, "identity", CATEGORY_MIX_WEIGHT / np.sqrt(len(cats)))
                                               for c in cats]
        cols = tuple(s[0] for s in spec)
        tfs = tuple(s[1] for s in spec)
        raw = _raw(features, cols, tfs)
        mean = raw.mean(axis=0)
        std = raw.std(axis=0)
        std = np.where(std > 1e-12, std, 1.0)  # a constant column contributes nothing, never NaN
        return cls(cols, tfs, mean, std, np.array([s[2] for s in spec], float))

    def transform(self, features: pl.DataFrame) -> np.ndarray:
        return (_raw(features, self.columns, self.transforms) - self.mean) / self.std * self.weight


def _raw(features: pl.DataFrame, cols: Sequence[str], tfs: Sequence[str]) -> np.ndarray:
    out = np.empty((features.height, len(cols)), float)
    for j, (c, tf) in enumerate(zip(cols, tfs, strict=True)):
        x = (features[c].cast(pl.Float64).fill_null(0.0).to_numpy() if c in features.columns
             else np.zeros(features.height))  # a category absent from this period: share 0
        out[:, j] = _TRANSFORMS[tf](x)
    return out


def design_matrix(features: pl.DataFrame, scaling: Scaling | None = None) -> tuple[np.ndarray, Scaling]:
    if features.height == 0:
        raise SegmentInputError("no customers with orders in this selection")
    scaling = scaling or Scaling.fit(features)
    return scaling.transform(features), scaling


def sample_index(n: int, size: int, seed: int) -> np.ndarray:
    if n <= size:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


def _kmeans(X: np.ndarray, k: int, seed: int, n_init: int | None) -> KMeans:
    """k-means++ with restarts, on one OpenMP thread: k-means on a few features is memory-light
    and several threads oversubscribe the cores when the app or a test suite runs other work
    (measured: 40 s instead of 1.3 s for k = 2..10 on 11k customers on a busy 2-core machine)."""
    from sklearn.cluster import KMeans

    with openmp_threads(1):
        return KMeans(k, n_init=n_init or n_init_for(len(X)), random_state=seed).fit(X)


def n_init_for(n: int) -> int:
    """Restarts of k-means++: more on small data where they are cheap, fewer on large data."""
    return 10 if n <= 5_000 else 4 if n <= 50_000 else 3


@dataclass
class SegmentModel:
    """K-means on the design matrix. ``fit`` returns self; learned attributes end in ``_``."""

    k: int = 6
    seed: int = 0
    n_init: int | None = None

    def fit(self, features: pl.DataFrame) -> SegmentModel:
        k = check_k(self.k)
        X, self.scaling_ = design_matrix(features)
        if features.height < k:
            raise SegmentInputError(f"only {features.height} customers in this selection: fewer than k = {k}")
        self.kmeans_ = _kmeans(X, k, self.seed, self.n_init)
        self.labels_ = self.kmeans_.labels_.astype(np.int32)
        self.inertia_ = float(self.kmeans_.inertia_)
        return self

    def _check(self) -> None:
        if not hasattr(self, "kmeans_"):
            raise RuntimeError("SegmentModel is not fitted: call fit() first")

    def transform(self, features: pl.DataFrame) -> np.ndarray:
        self._check()
        return self.scaling_.transform(features)

    def predict(self, features: pl.DataFrame) -> np.ndarray:
        self._check()
        if features.height == 0:
            return np.zeros(0, np.int32)
        return self.kmeans_.predict(self.transform(features)).astype(np.int32)

    def core_centroids(self) -> np.ndarray:
        """Centroids in standard units of the core features (rows: segments; columns: CORE_NAMES)."""
        self._check()
        w = self.scaling_.weight[: len(CORE)]
        return self.kmeans_.cluster_centers_[:, : len(CORE)] / w


@dataclass(frozen=True)
class SweepPoint:
    k: int
    inertia: float
    silhouette: float
    labels: np.ndarray
    centers: np.ndarray


def sweep(X: np.ndarray, ks: Sequence[int] = tuple(range(K_MIN, K_MAX + 1)), seed: int = 0,
          sample: int = SILHOUETTE_SAMPLE, progress: Callable[[str, float], None] | None = None,
          n_init: int | None = None) -> list[SweepPoint]:
    """Fit k-means for each k; inertia on all points, silhouette on a fixed random sample."""
    ks = [check_k(k) for k in ks]
    from sklearn.metrics import silhouette_score

    idx = sample_index(len(X), sample, seed)
    out = []
    for i, k in enumerate(ks):
        if len(X) <= k:
            break
        km = _kmeans(X, k, seed, n_init)
        lab = km.labels_.astype(np.int32)
        sl = lab[idx]
        sil = float(silhouette_score(X[idx], sl)) if len(np.unique(sl)) > 1 else float("nan")
        out.append(SweepPoint(k, float(km.inertia_), sil, lab, km.cluster_centers_))
        if progress:
            progress(f"k = {k}", (i + 1) / len(ks))
    return out


ELBOW_GAIN = 0.15  # adding a segment that cuts inertia by less than this share is not worth it


def suggest_k(points: Sequence[SweepPoint]) -> int:
    """The elbow of the inertia curve: the smallest k after which one more segment cuts the
    inertia by less than ``ELBOW_GAIN``; if its silhouette is more than 0.05 below the best one,
    the best-silhouette k instead."""
    if not points:
        raise SegmentInputError("no k could be fitted (too few customers)")
    best = max(points, key=lambda p: -np.inf if np.isnan(p.silhouette) else p.silhouette)
    elbow = points[-1]
    for cur, nxt in zip(points, points[1:], strict=False):
        if (cur.inertia - nxt.inertia) / max(cur.inertia, 1e-12) < ELBOW_GAIN:
            elbow = cur
            break
    if np.isnan(elbow.silhouette) or elbow.silhouette < best.silhouette - 0.05:
        return best.k
    return elbow.k


def pca_2d(X: np.ndarray, idx: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """2-D PCA coordinates of the rows ``idx`` (fitted on them) and the explained variance ratios."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=2, random_state=seed).fit(X[idx])
    return pca.transform(X[idx]), pca.explained_variance_ratio_
