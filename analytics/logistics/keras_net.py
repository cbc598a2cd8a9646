"""Keras dense network for late-delivery risk, wrapped to the scikit-learn estimator contract.

TensorFlow/Keras is imported only inside ``fit`` and ``load`` — never when this module is imported.
The model is saved as ``.keras`` (loaded with ``safe_mode=True``) and its preprocessing as JSON.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from analytics import artifacts
from analytics.logistics.features import CATEGORICAL, FEATURES, NUMERIC


class KerasLateRiskNet:
    """One-hot categoricals + standardised numerics → Dense(64) → Dense(32) → sigmoid."""

    def __init__(self, hidden: tuple[int, ...] = (64, 32), epochs: int = 8, batch_size: int = 1024,
                 learning_rate: float = 2e-3, seed: int = 0) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.seed = seed

    # -- preprocessing (numpy only) -------------------------------------------------------------
    def _prep_fit(self, x: np.ndarray) -> None:
        cat_idx = [FEATURES.index(c) for c in CATEGORICAL]
        num_idx = [FEATURES.index(c) for c in NUMERIC]
        sizes = [int(np.nanmax(x[:, i])) + 1 if np.isfinite(x[:, i]).any() else 1 for i in cat_idx]
        mean = np.nanmean(x[:, num_idx], axis=0)
        std = np.nanstd(x[:, num_idx], axis=0)
        self.prep_ = {"cat_idx": cat_idx, "num_idx": num_idx, "sizes": sizes,
                      "mean": np.nan_to_num(mean).tolist(), "std": np.where(std > 0, std, 1.0).tolist()}

    def _transform(self, x: np.ndarray) -> np.ndarray:
        p = self.prep_
        blocks = []
        for i, size in zip(p["cat_idx"], p["sizes"]):
            codes = x[:, i]
            onehot = np.zeros((x.shape[0], size + 1), np.float32)  # last column: unseen / missing
            ok = np.isfinite(codes) & (codes < size)
            onehot[np.arange(x.shape[0]), np.where(ok, np.nan_to_num(codes), size).astype(int)] = 1.0
            blocks.append(onehot)
        num = (x[:, p["num_idx"]] - np.array(p["mean"], np.float32)) / np.array(p["std"], np.float32)
        blocks.append(np.nan_to_num(num).astype(np.float32))
        blocks.append(np.isnan(x[:, p["num_idx"]]).astype(np.float32))
        doy = x[:, FEATURES.index("day_of_year")]
        ang = 2 * np.pi * np.nan_to_num(doy) / 366.0
        blocks.append(np.column_stack([np.sin(ang), np.cos(ang)]).astype(np.float32))
        return np.concatenate(blocks, axis=1)

    # -- estimator contract ---------------------------------------------------------------------
    def fit(self, x: np.ndarray, y: np.ndarray, x_val: np.ndarray | None = None,
            y_val: np.ndarray | None = None) -> KerasLateRiskNet:
        import keras  # heavy: only when a Keras model is trained

        keras.utils.set_random_seed(self.seed)
        self._prep_fit(x)
        xt = self._transform(x)
        inputs = keras.Input(shape=(xt.shape[1],))
        h = inputs
        for units in self.hidden:
            h = keras.layers.Dense(units, activation="relu")(h)
            h = keras.layers.Dropout(0.1)(h)
        out = keras.layers.Dense(1, activation="sigmoid")(h)
        model = keras.Model(inputs, out)
        model.compile(optimizer=keras.optimizers.Adam(self.learning_rate), loss="binary_crossentropy")
        callbacks = []
        val = None
        if x_val is not None and y_val is not None:
            val = (self._transform(x_val), np.asarray(y_val, np.float32))
            callbacks.append(keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True))
        model.fit(xt, np.asarray(y, np.float32), epochs=self.epochs, batch_size=self.batch_size,
                  validation_data=val, callbacks=callbacks, verbose=0)
        self.model_ = model
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise RuntimeError("KerasLateRiskNet is not fitted")
        p = np.asarray(self.model_.predict(self._transform(x), batch_size=65536, verbose=0)).reshape(-1)
        return np.column_stack([1.0 - p, p])

    # -- persistence ----------------------------------------------------------------------------
    def save(self, directory: Path, stem: str, **manifest: Any) -> dict[str, str]:
        params = {"hidden": list(self.hidden), "epochs": self.epochs, "batch_size": self.batch_size,
                  "learning_rate": self.learning_rate, "seed": self.seed}
        m1 = artifacts.save(self.model_, directory / f"{stem}.keras", params=params, **manifest)
        m2 = artifacts.save({"params": params, "prep": self.prep_}, directory / f"{stem}_prep.json", **manifest)
        return {f"{stem}.keras": m1["sha256"], f"{stem}_prep.json": m2["sha256"]}

    @classmethod
    def load(cls, directory: Path, stem: str, hashes: dict[str, str]) -> KerasLateRiskNet:
        meta = artifacts.load(directory / f"{stem}_prep.json", expected_sha256=hashes.get(f"{stem}_prep.json"))
        p = meta["params"]
        net = cls(tuple(p["hidden"]), p["epochs"], p["batch_size"], p["learning_rate"], p["seed"])
        net.prep_ = meta["prep"]
        net.model_ = artifacts.load(directory / f"{stem}.keras", expected_sha256=hashes.get(f"{stem}.keras"))
        return net


__all__ = ["KerasLateRiskNet"]
