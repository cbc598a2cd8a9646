"""The Keras score model: beats the mean baseline on held-out suppliers, safe artifacts, lazy TF."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import artifacts, storage
from analytics.datadir import DataDir
from analytics.sourcing.model import (
    MODEL_FILE,
    KerasScoreRegressor,
    NotFittedError,
    evaluate,
    feature_matrix,
    feature_names,
    load_predictions,
    load_scored_suppliers,
    split_audited,
    train_sourcing_model,
)
from analytics.training import default_trainers
from tests.conftest import ROOT


def test_registered_trainer() -> None:
    assert train_sourcing_model in default_trainers()


def test_model_beats_mean_baseline_on_held_out(trained: tuple[Path, dict]) -> None:
    d, card = trained
    frag = card["sourcing_score"]
    m = frag["metrics"]
    assert frag["beats_baseline"] is True
    assert m["mae"] < 0.5 * m["baseline_mae"], m
    assert m["mae_no_audit_at_all"] < m["baseline_mae"]
    # recompute independently from the saved artifact on the held-out suppliers
    scored = load_scored_suppliers(d)
    train_ids, test_ids = split_audited(scored)
    assert not set(train_ids) & set(test_ids) and len(test_ids) >= 20
    est = KerasScoreRegressor.load(DataDir(d).sourcing_model)
    test = scored.filter(pl.col("supplier_id").is_in(test_ids)).sort("supplier_id")
    baseline = float(scored.filter(pl.col("supplier_id").is_in(train_ids))["audited_score"].mean())
    again = evaluate(est, test, baseline)
    assert again["mae"] == pytest.approx(m["mae"], abs=1e-3)
    assert again["baseline_mae"] == pytest.approx(m["baseline_mae"], abs=1e-3)
    # the baseline really is the mean: its error equals mean |mean − y|
    y = test["audited_score"].to_numpy()
    assert again["baseline_mae"] == pytest.approx(np.mean(np.abs(baseline - y)), abs=1e-3)


def test_manifest_and_predictions(trained: tuple[Path, dict]) -> None:
    d, card = trained
    manifest = artifacts.read_manifest(DataDir(d).sourcing_model)
    assert manifest["sha256"] == artifacts.sha256_file(DataDir(d).sourcing_model) == card["sourcing_score"]["sha256"]
    assert manifest["params"]["feature_names"] == feature_names()
    assert manifest["metrics"]["baseline_mae"] > manifest["metrics"]["mae"]
    suppliers = storage.load_table(d, "sourcing_suppliers").frame
    preds, baseline = load_predictions(d, suppliers)
    incomplete = set(suppliers.filter(pl.col("audit_completeness") < 1)["supplier_id"])
    assert set(preds) == incomplete and card["sourcing_score"]["predicted_suppliers"] == len(incomplete)
    assert all(0 <= v <= 100 for v in preds.values())
    assert baseline == pytest.approx(manifest["metrics"]["baseline_mean_score"])


def test_refuses_a_tampered_model(trained: tuple[Path, dict], tmp_path: Path) -> None:
    d, _ = trained
    models = tmp_path / "models"
    shutil.copytree(DataDir(d).models, models)
    path = models / MODEL_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactHashError):
        KerasScoreRegressor.load(path)
    # the predictions refer to the model by hash, so they are refused too
    with pytest.raises(artifacts.ArtifactHashError):
        load_predictions(tmp_path)
    # and a manifest whose features differ is refused before loading
    path.write_bytes((DataDir(d).sourcing_model).read_bytes())
    mpath = artifacts.manifest_path(path)
    man = json.loads(mpath.read_text())
    man["params"]["feature_names"] = ["other"]
    mpath.write_text(json.dumps(man))
    with pytest.raises(artifacts.ArtifactError, match="other features"):
        KerasScoreRegressor.load(path)


def test_not_fitted_and_feature_shape(scored: pl.DataFrame) -> None:
    with pytest.raises(NotFittedError):
        KerasScoreRegressor().predict(np.zeros((2, len(feature_names())), "float32"))
    X = feature_matrix(scored)
    assert X.shape == (scored.height, len(feature_names())) and np.isfinite(X).all()
    miss = np.ones((scored.height, 3), bool)
    Xm = feature_matrix(scored, miss)
    assert (Xm[:, -6:] == 0).all()  # audit values and masks all hidden


def test_tensorflow_not_imported_on_the_default_path() -> None:
    code = ("import sys, app; import callbacks.sourcing, analytics.sourcing.model, analytics.sourcing.shortlist;"
            "bad=[m for m in ('tensorflow','keras','pyspark') if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
