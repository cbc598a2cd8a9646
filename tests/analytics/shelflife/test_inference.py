"""The kept Keras net predicts without TensorFlow: its layers run in NumPy from the saved weights, with the same
numbers as Keras, and a changed ``.keras`` file is still refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from analytics import artifacts
from analytics.shelflife.model import KerasQuantileNet, load_model, save_model

ROOT = Path(__file__).resolve().parents[3]


def _keras(fitted) -> object:
    return fitted.result["estimators"]["keras"]


def test_numpy_layers_match_keras(fitted) -> None:
    net = _keras(fitted).estimator
    assert isinstance(net, KerasQuantileNet)
    x = fitted.features[fitted.test_rows()[:300].tolist()]
    ctx, exp = net._inputs(x)
    keras_out = np.asarray(net.model_.predict_on_batch([ctx, exp]), float) * 10.0
    assert net.predict_quantiles(x) == pytest.approx(keras_out, abs=1e-3)


def test_a_saved_net_loads_and_predicts_without_tensorflow(fitted, tmp_path: Path) -> None:
    model = _keras(fitted)
    save_model(model, tmp_path, fitted.result["card"])
    x = fitted.features.head(40)
    want = model.predict_quantiles(x)
    np.save(tmp_path / "want.npy", want)
    fitted.features.head(40).write_parquet(tmp_path / "x.parquet")
    code = (
        "import sys, numpy as np, polars as pl\n"
        "from analytics.shelflife.model import load_model\n"
        f"m = load_model({str(tmp_path)!r})\n"
        f"got = m.predict_quantiles(pl.read_parquet({str(tmp_path / 'x.parquet')!r}))\n"
        f"assert np.abs(got - np.load({str(tmp_path / 'want.npy')!r})).max() < 1e-6, 'different numbers'\n"
        "assert m.kind == 'keras'\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
    # the .keras file is not read to predict, but a changed one is still refused
    target = tmp_path / "shelflife" / "shelflife_keras.keras"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactHashError):
        load_model(tmp_path)
