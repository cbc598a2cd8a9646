"""Remaining shelf life at arrival, P10/P50/P90: a Keras quantile net against gradient boosting and physics.

Candidates, all following scikit-learn's estimator contract (``fit`` returns self, learned attributes
end in ``_``, predicting before ``fit`` raises :class:`NotFittedError`):

- :class:`PhysicsBaseline`: nominal shelf life − transit days − kinetic loss, default parameters.
- :class:`KerasQuantileNet`: a small Keras net trained with the pinball (quantile) loss. Its P50 is
  ``base(context) − Σ_k w_k(context) · exposure_k`` with ``w_k ≥ 0`` (softplus), so more exposure can
  only lower it (what-ifs are monotonic by construction); P10/P90 sit a softplus spread below/above.
  TensorFlow/Keras is imported only inside ``fit`` (and ``load`` of a model saved without its weights
  file): predictions run the same layers in NumPy from the trained weights (checked against Keras after
  fitting), so the page, the command and the live alerts never import TensorFlow (its import alone took
  ~20 s on the loaded 2-core machine).
- :class:`GbmQuantiles`: scikit-learn ``HistGradientBoostingRegressor``: a centre with decreasing
  monotonic constraints on the exposure features, plus ``loss="quantile"`` models of its residuals.

:func:`fit_and_compare` splits lots at random (60 % train, 20 % validation, 20 % test), fits both
learned candidates, widens or narrows each one's band by split-conformal calibration on the
validation lots (so that 80 % of them fall inside), keeps the one with the lower validation MAE and
reports its held-out test figures next to the physics baseline's. :func:`train` is the
``python app.py train`` entry (it returns the model card's ``quality`` section): it trains on the demo
tables' received shipments (``trace_quality``) when they are enough (:data:`MIN_TABLE_SHIPMENTS`), else on
simulated histories of the same world, with the tables' shipments as a further held-out test
(``quality.tables``; ``quality.training_data`` says which); :func:`save_model`
and :func:`load_model` persist through :mod:`analytics.artifacts` (SHA-256 manifests, verified on load).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import artifacts
from analytics.datadir import SHELFLIFE_META, SHELFLIFE_MODELS, DataDir, shelflife_models
from analytics.shelflife.features import CATEGORICAL, CONTEXT_NUMERIC, EXPOSURE, FEATURES, physics_baseline
from analytics.threads import openmp_threads

Progress = Callable[[str, float], None]
QUANTILES = (0.1, 0.5, 0.9)
COVERAGE = QUANTILES[2] - QUANTILES[0]
MODELS_SUBDIR = SHELFLIFE_MODELS
META_FILE = SHELFLIFE_META
CARD_SECTION = "quality"
DEFAULT_TRAIN_LOTS = 4000
MIN_TABLE_SHIPMENTS = 1000  # received shipments the tables need before the model is trained on them
Y_SCALE = 10.0  # days; the net learns remaining days / Y_SCALE
# HistGradientBoosting keeps its loss/link functions as functools.partial objects (as in logistics).
SKOPS_TRUSTED = ["functools.partial"]


class NotFittedError(RuntimeError):
    """Predicting before fitting."""


def _check_features(x: pl.DataFrame) -> None:
    missing = [c for c in FEATURES if c not in x.columns]
    if missing:
        raise ValueError(f"feature frame lacks {', '.join(missing)}")
    for c in EXPOSURE:
        col = x[c]
        if col.null_count() or (col < 0).any():
            raise ValueError(f"exposure feature {c!r} must be present and ≥ 0")


def _vocab(values: list[str]) -> list[str]:
    return sorted(set(values))


def _codes(values: list[str], vocab: list[str]) -> np.ndarray:
    """Index of each value in the vocabulary; unseen values get len(vocab)."""
    index = {v: i for i, v in enumerate(vocab)}
    return np.array([index.get(v, len(vocab)) for v in values], dtype=np.int64)


def pinball_loss(y: np.ndarray, q: np.ndarray, quantiles: tuple[float, ...] = QUANTILES) -> float:
    """Mean pinball (quantile) loss over the quantile columns of ``q``."""
    e = np.asarray(y, float)[:, None] - np.asarray(q, float)
    tau = np.asarray(quantiles)[None, :]
    return float(np.maximum(tau * e, (tau - 1) * e).mean())


def coverage(y: np.ndarray, q: np.ndarray) -> float:
    """Share of outcomes inside [P10, P90]."""
    return float(((y >= q[:, 0]) & (y <= q[:, 2])).mean())


def _finish(q: np.ndarray, margin: float = 0.0) -> np.ndarray:
    """Apply a conformal margin, keep P10 ≤ P50 ≤ P90 and never predict below zero days."""
    out = np.asarray(q, float).copy()
    out[:, 0] -= margin
    out[:, 2] += margin
    out[:, 0] = np.minimum(out[:, 0], out[:, 1])
    out[:, 2] = np.maximum(out[:, 2], out[:, 1])
    return np.maximum(out, 0.0)


# ---------------------------------------------------------------- physics

class PhysicsBaseline:
    """Nominal shelf life − transit days − kinetic loss with the default parameters (no learning)."""

    def fit(self, x: pl.DataFrame, y: np.ndarray | None = None) -> PhysicsBaseline:
        _check_features(x)
        self.fitted_ = True
        return self

    def predict(self, x: pl.DataFrame) -> np.ndarray:
        if not getattr(self, "fitted_", False):
            raise NotFittedError("PhysicsBaseline is not fitted; call fit() first")
        _check_features(x)
        return physics_baseline(x)


# ---------------------------------------------------------------- gradient boosting

class GbmQuantiles:
    """P10/P50/P90 from scikit-learn HistGradientBoosting: a monotone centre plus quantile residuals.

    The centre is a squared-error ``HistGradientBoostingRegressor`` with decreasing monotonic
    constraints on the exposure features. The quantiles are ``loss="quantile"`` regressors of the
    centre's residuals on the context features only (product, route, season). Quantile regressors on
    all features would not do: for the quantile loss scikit-learn re-fits each leaf's value after the
    tree is grown, which does not respect monotonic constraints (measured: a what-if could raise the
    P50). This way every quantile is the monotone centre plus a shift the what-if cannot change.
    """

    def __init__(self, max_iter: int = 150, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
                 min_samples_leaf: int = 20, l2_regularization: float = 1.0, quantile_iter: int = 60,
                 seed: int = 0) -> None:
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.quantile_iter = quantile_iter
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"max_iter": self.max_iter, "learning_rate": self.learning_rate,
                "max_leaf_nodes": self.max_leaf_nodes, "min_samples_leaf": self.min_samples_leaf,
                "l2_regularization": self.l2_regularization, "quantile_iter": self.quantile_iter,
                "seed": self.seed}

    def _matrix(self, x: pl.DataFrame) -> np.ndarray:
        cols = [_codes(x[c].to_list(), self.vocab_[c]).astype(float) for c in CATEGORICAL]
        cols += [x[c].to_numpy().astype(float) for c in (*CONTEXT_NUMERIC, *EXPOSURE)]
        return np.column_stack(cols)

    def fit(self, x: pl.DataFrame, y: np.ndarray) -> GbmQuantiles:
        from sklearn.ensemble import HistGradientBoostingRegressor

        _check_features(x)
        y = np.asarray(y, float)
        self.vocab_ = {c: _vocab(x[c].to_list()) for c in CATEGORICAL}
        xm = self._matrix(x)
        n_ctx = len(CATEGORICAL) + len(CONTEXT_NUMERIC)
        cat = [True] * len(CATEGORICAL) + [False] * (len(CONTEXT_NUMERIC) + len(EXPOSURE))
        mono = [0] * n_ctx + [-1] * len(EXPOSURE)
        common = {"max_leaf_nodes": self.max_leaf_nodes, "min_samples_leaf": self.min_samples_leaf,
                  "l2_regularization": self.l2_regularization, "early_stopping": False,
                  "random_state": self.seed}
        with openmp_threads(1):
            centre = HistGradientBoostingRegressor(
                loss="squared_error", max_iter=self.max_iter, learning_rate=self.learning_rate,
                categorical_features=cat, monotonic_cst=mono, **common).fit(xm, y)
            resid = y - centre.predict(xm)
            models = [HistGradientBoostingRegressor(
                loss="quantile", quantile=q, max_iter=self.quantile_iter, learning_rate=self.learning_rate,
                categorical_features=cat[:n_ctx], **common).fit(xm[:, :n_ctx], resid) for q in QUANTILES]
        self.centre_ = centre
        self.models_ = models
        return self

    def predict_quantiles(self, x: pl.DataFrame) -> np.ndarray:
        if not hasattr(self, "models_"):
            raise NotFittedError("GbmQuantiles is not fitted; call fit() first")
        _check_features(x)
        xm = self._matrix(x)
        n_ctx = len(CATEGORICAL) + len(CONTEXT_NUMERIC)
        with openmp_threads(1):
            centre = self.centre_.predict(xm)
            return np.column_stack([centre + m.predict(xm[:, :n_ctx]) for m in self.models_])

    def predict(self, x: pl.DataFrame) -> np.ndarray:
        return self.predict_quantiles(x)[:, 1]

    def save(self, directory: Path, stem: str, **manifest: Any) -> dict[str, str]:
        hashes = {}
        named = [(f"{stem}_centre.skops", self.centre_)]
        named += [(f"{stem}_p{int(q * 100)}.skops", m) for q, m in zip(QUANTILES, self.models_, strict=True)]
        for name, m in named:
            hashes[name] = artifacts.save(m, directory / name, params=_jsonable(m.get_params()), **manifest)["sha256"]
        name = f"{stem}_vocab.json"
        hashes[name] = artifacts.save({"params": self.get_params(), "vocab": self.vocab_}, directory / name,
                                      **manifest)["sha256"]
        return hashes

    @classmethod
    def load(cls, directory: Path, stem: str, hashes: dict[str, str]) -> GbmQuantiles:
        meta = artifacts.load(directory / f"{stem}_vocab.json", expected_sha256=_need(hashes, f"{stem}_vocab.json"))
        est = cls(**meta["params"])
        est.vocab_ = meta["vocab"]
        est.centre_ = artifacts.load(directory / f"{stem}_centre.skops",
                                     expected_sha256=_need(hashes, f"{stem}_centre.skops"), trusted=SKOPS_TRUSTED)
        est.models_ = [artifacts.load(directory / f"{stem}_p{int(q * 100)}.skops",
                                      expected_sha256=_need(hashes, f"{stem}_p{int(q * 100)}.skops"),
                                      trusted=SKOPS_TRUSTED)
                       for q in QUANTILES]
        return est


# ---------------------------------------------------------------- Keras

def _inv_softplus(v: np.ndarray) -> np.ndarray:
    v = np.maximum(np.asarray(v, float), 1e-4)
    return v + np.log(-np.expm1(-v))


class KerasQuantileNet:
    """Monotone quantile net: P50 = base(context) − Σ softplus-weights(context) · exposures."""

    def __init__(self, hidden: int = 32, epochs: int = 40, batch_size: int = 256, learning_rate: float = 0.015,
                 patience: int = 6, seed: int = 0) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.patience = patience
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {"hidden": self.hidden, "epochs": self.epochs, "batch_size": self.batch_size,
                "learning_rate": self.learning_rate, "patience": self.patience, "seed": self.seed}

    # -- preprocessing (numpy only) ---------------------------------------------------------------
    def _prep_fit(self, x: pl.DataFrame) -> None:
        scales = []
        for c in EXPOSURE:
            v = x[c].to_numpy().astype(float)
            pos = v[v > 0]
            scales.append(float(pos.mean()) if pos.size else 1.0)
        self.prep_: dict[str, Any] = {"vocab": {c: _vocab(x[c].to_list()) for c in CATEGORICAL},
                                      "exposure_scale": scales}

    def _inputs(self, x: pl.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        p = self.prep_
        blocks = []
        for c in CATEGORICAL:
            vocab = p["vocab"][c]
            codes = _codes(x[c].to_list(), vocab)
            onehot = np.zeros((x.height, len(vocab) + 1), np.float32)  # last column: unseen
            onehot[np.arange(x.height), codes] = 1.0
            blocks.append(onehot)
        blocks.append(np.column_stack([x[c].to_numpy() for c in CONTEXT_NUMERIC]).astype(np.float32))
        ctx = np.concatenate(blocks, axis=1)
        exp = np.column_stack([x[c].to_numpy() / s for c, s in zip(EXPOSURE, p["exposure_scale"], strict=True)])
        return ctx, exp.astype(np.float32)

    def _build(self, n_ctx: int, y_mean: float) -> Any:
        import keras

        ctx = keras.Input(shape=(n_ctx,), name="context")
        exp = keras.Input(shape=(len(EXPOSURE),), name="exposure")
        h = keras.layers.Dense(self.hidden, activation="relu")(ctx)
        h = keras.layers.Dense(self.hidden, activation="relu")(h)
        base = keras.layers.Dense(1, bias_initializer=keras.initializers.Constant(y_mean), name="base")(h)
        # physics-informed start: one day per transit day, one per kinetic-loss day, little for the rest
        scale = np.array(self.prep_["exposure_scale"])
        start = np.array([1.0, 1.0, 0.0, 0.0, 0.0]) * scale / Y_SCALE + 0.01
        w = keras.layers.Dense(len(EXPOSURE), activation="softplus", name="loss_weights",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.01, seed=self.seed),
                               bias_initializer=keras.initializers.Constant(_inv_softplus(start)))(h)
        loss = keras.layers.Dot(axes=1, name="exposure_loss")([w, exp])
        p50 = keras.layers.Subtract(name="p50")([base, loss])
        hs = keras.layers.Concatenate()([h, exp])
        lo = keras.layers.Dense(1, activation="softplus", name="spread_low")(hs)
        hi = keras.layers.Dense(1, activation="softplus", name="spread_high")(hs)
        p10 = keras.layers.Subtract(name="p10")([p50, lo])
        p90 = keras.layers.Add(name="p90")([p50, hi])
        out = keras.layers.Concatenate(name="quantiles")([p10, p50, p90])
        return keras.Model([ctx, exp], out)

    # -- estimator contract ---------------------------------------------------------------------
    def fit(self, x: pl.DataFrame, y: np.ndarray, x_val: pl.DataFrame | None = None,
            y_val: np.ndarray | None = None) -> KerasQuantileNet:
        import keras

        _check_features(x)
        keras.utils.set_random_seed(self.seed)
        self._prep_fit(x)
        ctx, exp = self._inputs(x)
        yt = (np.asarray(y, np.float32) / Y_SCALE).reshape(-1, 1)
        model = self._build(ctx.shape[1], float(yt.mean()))
        tau = keras.ops.convert_to_tensor(np.array([QUANTILES], np.float32))

        def pinball(y_true: Any, y_pred: Any) -> Any:
            e = y_true - y_pred
            return keras.ops.mean(keras.ops.maximum(tau * e, (tau - 1.0) * e), axis=-1)

        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss=pinball, steps_per_execution=8)
        callbacks: list[Any] = []
        val = None
        if x_val is not None and y_val is not None:
            _check_features(x_val)
            val = (list(self._inputs(x_val)), (np.asarray(y_val, np.float32) / Y_SCALE).reshape(-1, 1))
            callbacks.append(keras.callbacks.EarlyStopping(patience=self.patience, restore_best_weights=True))
        hist = model.fit([ctx, exp], yt, epochs=self.epochs, batch_size=self.batch_size, validation_data=val,
                         callbacks=callbacks, verbose=0, shuffle=True)
        self.epochs_run_ = len(hist.history["loss"])
        self.model_ = model
        self.weights_ = self._weights_of(model)
        n = min(512, ctx.shape[0])
        gap = float(np.abs(np.asarray(model.predict_on_batch([ctx[:n], exp[:n]]), float)
                           - self._forward(ctx[:n], exp[:n])).max())
        if gap > 1e-3:  # the NumPy layers must be the Keras layers
            raise RuntimeError(f"NumPy forward pass differs from Keras by {gap:.2g} (scaled days)")
        return self

    # -- the layers in NumPy (no TensorFlow at prediction time) ---------------------------------
    HEADS = ("base", "loss_weights", "spread_low", "spread_high")

    @classmethod
    def _weights_of(cls, model: Any) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """Kernel and bias of every Dense layer: the two hidden layers (in graph order) and the named heads."""
        dense = [layer for layer in model.layers if type(layer).__name__ == "Dense"]
        hidden = [layer for layer in dense if layer.name not in cls.HEADS]
        if len(hidden) != 2 or len(dense) != 2 + len(cls.HEADS):
            raise ValueError(f"unexpected shelf-life net layers: {[layer.name for layer in model.layers]}")
        layers = {"hidden1": hidden[0], "hidden2": hidden[1], **{n: model.get_layer(n) for n in cls.HEADS}}
        out = {}
        for key, layer in layers.items():
            kernel, bias = layer.get_weights()
            out[key] = (np.asarray(kernel, np.float64), np.asarray(bias, np.float64))
        return out

    def _forward(self, ctx: np.ndarray, exp: np.ndarray) -> np.ndarray:
        """(P10, P50, P90) / Y_SCALE: the Keras graph of :meth:`_build`, layer by layer."""
        w = self.weights_

        def dense(key: str, x: np.ndarray) -> np.ndarray:
            kernel, bias = w[key]
            return x @ kernel + bias

        def softplus(x: np.ndarray) -> np.ndarray:
            return np.logaddexp(0.0, x)

        exp = np.asarray(exp, np.float64)
        h = np.maximum(dense("hidden1", np.asarray(ctx, np.float64)), 0.0)
        h = np.maximum(dense("hidden2", h), 0.0)
        p50 = dense("base", h)[:, 0] - (softplus(dense("loss_weights", h)) * exp).sum(axis=1)
        hs = np.concatenate([h, exp], axis=1)
        lo, hi = softplus(dense("spread_low", hs))[:, 0], softplus(dense("spread_high", hs))[:, 0]
        return np.column_stack([p50 - lo, p50, p50 + hi])

    def predict_quantiles(self, x: pl.DataFrame) -> np.ndarray:
        if not hasattr(self, "weights_"):
            raise NotFittedError("KerasQuantileNet is not fitted; call fit() first")
        _check_features(x)
        ctx, exp = self._inputs(x)
        return self._forward(ctx, exp) * Y_SCALE

    def predict(self, x: pl.DataFrame) -> np.ndarray:
        return self.predict_quantiles(x)[:, 1]

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: Path, stem: str, **manifest: Any) -> dict[str, str]:
        """The Keras model (``.keras``), its preprocessing and its layers' weights (JSON, what predictions use)."""
        params = self.get_params()
        m1 = artifacts.save(self.model_, directory / f"{stem}.keras", params=params, **manifest)
        m2 = artifacts.save({"params": params, "prep": self.prep_}, directory / f"{stem}_prep.json", **manifest)
        weights = {k: {"kernel": kernel.tolist(), "bias": bias.tolist()} for k, (kernel, bias) in self.weights_.items()}
        m3 = artifacts.save({"weights": weights}, directory / f"{stem}_weights.json", **manifest)
        return {f"{stem}.keras": m1["sha256"], f"{stem}_prep.json": m2["sha256"], f"{stem}_weights.json": m3["sha256"]}

    @classmethod
    def load(cls, directory: Path, stem: str, hashes: dict[str, str]) -> KerasQuantileNet:
        """Every file's hash is verified; the weights load without TensorFlow (a model saved before the weights
        file existed is read from its ``.keras`` file, with TensorFlow)."""
        meta = artifacts.load(directory / f"{stem}_prep.json", expected_sha256=_need(hashes, f"{stem}_prep.json"))
        net = cls(**meta["params"])
        net.prep_ = meta["prep"]
        keras_file = directory / f"{stem}.keras"
        if f"{stem}_weights.json" in hashes:
            artifacts.verify(keras_file, _need(hashes, f"{stem}.keras"))
            saved = artifacts.load(directory / f"{stem}_weights.json", expected_sha256=hashes[f"{stem}_weights.json"])
            net.weights_ = {k: (np.asarray(v["kernel"], np.float64), np.asarray(v["bias"], np.float64))
                            for k, v in saved["weights"].items()}
            missing = {"hidden1", "hidden2", *cls.HEADS} - set(net.weights_)
            if missing:
                raise artifacts.ArtifactError(f"{stem}_weights.json lacks {', '.join(sorted(missing))}")
        else:
            net.model_ = artifacts.load(keras_file, expected_sha256=_need(hashes, f"{stem}.keras"))
            net.weights_ = cls._weights_of(net.model_)
        return net


# ---------------------------------------------------------------- the kept model

class ShelfLifeModel:
    """The kept candidate plus its conformal margin; quantiles are ordered and never below zero."""

    def __init__(self, estimator: Any, kind: str, name: str, margin: float = 0.0) -> None:
        self.estimator = estimator
        self.kind = kind  # "keras" | "gbm"
        self.name = name
        self.margin = margin

    def predict_quantiles(self, x: pl.DataFrame) -> np.ndarray:
        return _finish(self.estimator.predict_quantiles(x), self.margin)

    def predict(self, x: pl.DataFrame) -> np.ndarray:
        return self.predict_quantiles(x)[:, 1]


def conformal_margin(y: np.ndarray, q: np.ndarray, target: float = COVERAGE) -> float:
    """Split-conformal widening (negative: narrowing) of [P10, P90] so ``target`` of ``y`` falls inside."""
    y = np.asarray(y, float)
    score = np.maximum(q[:, 0] - y, y - q[:, 2])
    n = y.size
    level = min(1.0, target * (n + 1) / n)
    return float(np.quantile(score, level, method="higher"))


def split_indices(n: int, seed: int, val_share: float = 0.2, test_share: float = 0.2) -> tuple[np.ndarray, ...]:
    perm = np.random.default_rng([seed, 77]).permutation(n)
    n_test, n_val = int(round(n * test_share)), int(round(n * val_share))
    return np.sort(perm[n_test + n_val:]), np.sort(perm[n_test:n_test + n_val]), np.sort(perm[:n_test])


def _take(x: pl.DataFrame, idx: np.ndarray) -> pl.DataFrame:
    return x[idx.tolist()]


def fit_and_compare(features: pl.DataFrame, y: np.ndarray, *, seed: int = 0, train_net: bool = True,
                    progress: Progress | None = None) -> dict[str, Any]:
    """Fit the candidates on one set of lots and compare them on held-out lots (nothing is written).

    Returns ``{"model": ShelfLifeModel, "card": {...}, "candidates": {...}, "split": (train, val, test),
    "estimators": {kind: ShelfLifeModel}}`` (every learned candidate with its own conformal margin).
    """
    report = progress or (lambda label, frac: None)
    _check_features(features)
    y = np.asarray(y, float)
    if features.height != y.size:
        raise ValueError("one outcome per lot is needed")
    if features.height < 200:
        raise ValueError(f"not enough lots to train on ({features.height}; need ≥ 200)")
    tr, va, te = split_indices(features.height, seed)
    xtr, xva, xte = _take(features, tr), _take(features, va), _take(features, te)
    physics = PhysicsBaseline().fit(xtr)
    candidates: dict[str, dict[str, Any]] = {}
    fitted: dict[str, tuple[Any, float]] = {}
    report("gradient boosting (P10/P50/P90)", 0.1)
    t0 = time.perf_counter()
    gbm = GbmQuantiles(seed=seed).fit(xtr, y[tr])
    fitted["gbm"] = (gbm, time.perf_counter() - t0)
    if train_net:
        report("Keras quantile net", 0.4)
        t0 = time.perf_counter()
        net = KerasQuantileNet(seed=seed).fit(xtr, y[tr], xva, y[va])
        fitted["keras"] = (net, time.perf_counter() - t0)
    report("comparing on held-out lots", 0.8)
    for kind, (est, secs) in fitted.items():
        qv = est.predict_quantiles(xva)
        margin = conformal_margin(y[va], _finish(qv))
        qv, qt = _finish(qv, margin), _finish(est.predict_quantiles(xte), margin)
        candidates[kind] = {
            "val_mae": round(float(np.abs(qv[:, 1] - y[va]).mean()), 4),
            "mae": round(float(np.abs(qt[:, 1] - y[te]).mean()), 4),
            "coverage_80": round(coverage(y[te], qt), 4),
            "pinball": round(pinball_loss(y[te], qt), 4),
            "conformal_margin_days": round(margin, 4),
            "fit_seconds": round(secs, 2),
        }
        if kind == "keras":
            candidates[kind]["epochs"] = int(est.epochs_run_)
    chosen = min(candidates, key=lambda k: candidates[k]["val_mae"])
    est = fitted[chosen][0]
    name = {"gbm": "HistGradientBoosting monotone centre + quantile residuals",
            "keras": "Keras monotone quantile net"}[chosen]
    model = ShelfLifeModel(est, chosen, name, candidates[chosen]["conformal_margin_days"])
    base_te = physics.predict(xte)
    baseline_mae = float(np.abs(base_te - y[te]).mean())
    card = {
        "mae": candidates[chosen]["mae"],
        "baseline_mae": round(baseline_mae, 4),
        "coverage_80": candidates[chosen]["coverage_80"],
        "mae_reduction": round(1.0 - candidates[chosen]["mae"] / baseline_mae, 4) if baseline_mae > 0 else None,
        "model": name,
        "kind": chosen,
        "candidates": candidates,
        "lots": {"train": int(tr.size), "validation": int(va.size), "test": int(te.size)},
        "features": list(FEATURES),
        "quantiles": list(QUANTILES),
    }
    estimators = {k: ShelfLifeModel(e, k, k, candidates[k]["conformal_margin_days"]) for k, (e, _) in fitted.items()}
    return {"model": model, "card": card, "candidates": candidates, "split": (tr, va, te), "estimators": estimators}


# ---------------------------------------------------------------- persistence

def _need(hashes: dict[str, str], name: str) -> str:
    if name not in hashes:
        raise artifacts.ArtifactError(f"{META_FILE} lists no hash for {name}; refusing to load")
    return hashes[name]


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)) for k, v in params.items()}


def save_model(model: ShelfLifeModel, models_dir: Path | str, card: dict[str, Any], *,
               data_fingerprint: str | None = None, world: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write the kept model under ``models_dir/shelflife`` (swapped in whole); returns the meta manifest."""
    final = shelflife_models(models_dir)
    out = final.with_name(f"{MODELS_SUBDIR}.tmp-{os.getpid()}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    common: dict[str, Any] = {"data_fingerprint": data_fingerprint, "metrics": {
        k: card.get(k) for k in ("mae", "baseline_mae", "coverage_80")}}
    stem = f"shelflife_{model.kind}"
    hashes = model.estimator.save(out, stem, **common)
    meta = {"kind": model.kind, "name": model.name, "stem": stem, "margin": model.margin, "hashes": hashes,
            "card": card, "world": world or {}, "features": list(FEATURES), "quantiles": list(QUANTILES)}
    manifest = artifacts.save(meta, out / META_FILE, **common)
    old = final.with_name(f"{MODELS_SUBDIR}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(out, final)
    shutil.rmtree(old, ignore_errors=True)
    return manifest


def load_model(models_dir: Path | str, expected_sha256: str | None = None) -> ShelfLifeModel:
    """Load the kept model after verifying every file's SHA-256 (meta against its manifest and, when
    given, ``expected_sha256`` from the model card; each artifact against the meta's hashes)."""
    directory = shelflife_models(models_dir)
    meta_path = directory / META_FILE
    if not meta_path.exists():
        raise FileNotFoundError(f"no shelf-life model in {Path(models_dir)} (run `python app.py train`)")
    meta = artifacts.load(meta_path, expected_sha256=expected_sha256)
    kind = meta.get("kind")
    cls: Any = {"keras": KerasQuantileNet, "gbm": GbmQuantiles}.get(kind)
    if cls is None:
        raise artifacts.ArtifactError(f"{META_FILE}: unknown model kind {kind!r}")
    est = cls.load(directory, meta["stem"], meta["hashes"])
    return ShelfLifeModel(est, kind, meta["name"], float(meta["margin"]))


def read_meta(models_dir: Path | str) -> dict[str, Any] | None:
    """The saved model's meta (card, world, hashes), hash-verified; None before training."""
    path = shelflife_models(models_dir) / META_FILE
    if not path.exists():
        return None
    return artifacts.load(path)


# ---------------------------------------------------------------- training data and trainer

def training_set(n_lots: int, seed: int) -> tuple[pl.DataFrame, np.ndarray, Any]:
    """(features, remaining days at arrival, world) of ``n_lots`` generated lots for a world seed."""
    from analytics.shelflife.features import exposures, feature_frame
    from analytics.shelflife.histories import generate_histories
    from analytics.shelflife.truth import arrival_quality, draw_world

    batch = generate_histories(n_lots, seed)
    world = draw_world(seed)
    truth = arrival_quality(batch.lots, batch.readings, world, seed=seed)
    feats = feature_frame(batch.lots, exposures(batch.readings, batch.lots))
    return feats, truth["remaining_days"].to_numpy(), world


def world_seed(data_dir: Path | str) -> int:
    """The world (true kinetic parameters) the demo lots live in: the seed ``trace_world.json`` keeps.

    A data folder generated before the generator kept it falls back to a seed derived from the lot codes
    (which depend on the generator's seed), so training and those lots still agree."""
    import hashlib

    from analytics import storage
    from analytics.shelflife.arrivals import world_info
    from analytics.traceability import store

    if not storage.has_table(Path(data_dir), store.LOTS):
        raise FileNotFoundError(f"no {store.LOTS} table in {data_dir}")
    try:
        return int(world_info(data_dir)["world_seed"])
    except FileNotFoundError:
        pass
    codes = pl.read_parquet(storage.table_path(Path(data_dir), store.LOTS), columns=["lot_code"])["lot_code"]
    digest = hashlib.sha256("|".join(sorted(codes.to_list())).encode()).hexdigest()
    return int(digest[:8], 16) % (2**31)


def evaluate(model: ShelfLifeModel, features: pl.DataFrame, y: np.ndarray) -> dict[str, Any]:
    """MAE, the physics baseline's MAE and the share inside [P10, P90] of a fitted model on other lots."""
    y = np.asarray(y, float)
    if features.height != y.size or y.size == 0:
        raise ValueError("one outcome per lot is needed, and at least one lot")
    q = model.predict_quantiles(features)
    base = physics_baseline(features)
    return {"shipments": int(y.size), "mae": round(float(np.abs(q[:, 1] - y).mean()), 4),
            "baseline_mae": round(float(np.abs(base - y).mean()), 4), "coverage_80": round(coverage(y, q), 4),
            "source": "trace_quality"}


def train(data_dir: Path | str, progress: Progress | None = None, *, n_lots: int = DEFAULT_TRAIN_LOTS,
          seed: int | None = None, train_net: bool = True,
          min_table_shipments: int = MIN_TABLE_SHIPMENTS) -> dict[str, Any]:
    """Trainer for analytics.training.TRAINERS: fit, compare, save; returns ``{"quality": card}``.

    Trains on the shipments the traceability tables recorded at arrival (``trace_quality``) when there are at
    least ``min_table_shipments`` of them; otherwise on ``n_lots`` simulated histories of the same world, and
    the tables' received shipments are the held-out evaluation (card section ``quality.tables``).
    ``training_data`` in the card says which."""
    from analytics.model_card import SkipTraining

    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    if seed is None:
        try:
            seed = world_seed(data_dir)
        except FileNotFoundError as exc:
            raise SkipTraining(f"no traceability lots to forecast shelf life for ({exc})") from exc
    from analytics.shelflife.arrivals import evaluation_set
    from analytics.shelflife.truth import draw_world

    report("reading the shipments received in the traceability tables", 0.0)
    table_x, table_y = evaluation_set(data_dir)
    if table_y.size >= min_table_shipments:
        feats, y, world = table_x, table_y, draw_world(seed)
        fingerprint = f"trace_quality:{table_y.size}:{seed}"
        data = {"source": "tables", "shipments": int(table_y.size),
                "note": "trained and tested on the shipments received in the traceability tables (trace_quality)"}
    else:
        report("generating lot histories", 0.05)
        feats, y, world = training_set(n_lots, seed)
        fingerprint = f"simulated:shelflife-histories:{n_lots}:{seed}"
        data = {"source": "simulated", "lots": n_lots, "table_shipments": int(table_y.size),
                "note": f"trained and tested on {n_lots} simulated lot histories of the same world: the tables hold "
                        f"{table_y.size} received shipments (fewer than {min_table_shipments}), which are the "
                        "held-out evaluation in 'tables'"}
    fitted = fit_and_compare(feats, y, seed=seed, train_net=train_net,
                             progress=lambda label, frac: report(label, 0.1 + 0.8 * frac))
    card = dict(fitted["card"])
    card["world_seed"] = seed
    card["training_data"] = data
    if data["source"] == "simulated" and table_y.size:
        card["tables"] = evaluate(fitted["model"], table_x, table_y)
    report("saving artifacts", 0.9)
    manifest = save_model(fitted["model"], DataDir(data_dir).models, card, data_fingerprint=fingerprint,
                          world=world.params())
    card["artifact"] = f"{MODELS_SUBDIR}/{META_FILE}"
    card["sha256"] = manifest["sha256"]
    report("done", 1.0)
    return {CARD_SECTION: card}


__all__ = [
    "CARD_SECTION", "MIN_TABLE_SHIPMENTS", "GbmQuantiles", "KerasQuantileNet", "NotFittedError", "PhysicsBaseline",
    "QUANTILES", "ShelfLifeModel", "conformal_margin", "coverage", "evaluate", "fit_and_compare", "load_model", "pinball_loss",
    "read_meta", "save_model", "split_indices", "train", "training_set", "world_seed",
]
