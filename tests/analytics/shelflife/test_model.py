"""Shelf-life models on generated lots: quality targets per seed, monotonic what-ifs, contract, persistence."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from analytics import artifacts
from analytics.shelflife.features import physics_baseline
from analytics.shelflife.model import (
    GbmQuantiles,
    KerasQuantileNet,
    NotFittedError,
    PhysicsBaseline,
    conformal_margin,
    load_model,
    pinball_loss,
    read_meta,
    save_model,
)
from analytics.shelflife.predict import whatif_curve

from .conftest import SEEDS

ROOT = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("seed", SEEDS)
def test_quality_targets_on_held_out_lots(fitted_by_seed, seed: int) -> None:
    f = fitted_by_seed[seed]
    card = f.result["card"]
    te = f.test_rows()
    y = f.y[te]
    xte = f.features[te.tolist()]
    baseline_mae = float(np.abs(physics_baseline(xte) - y).mean())
    q = f.result["model"].predict_quantiles(xte)
    mae = float(np.abs(q[:, 1] - y).mean())
    cov = float(((y >= q[:, 0]) & (y <= q[:, 2])).mean())
    # the card reports what the kept model really does on these held-out lots
    assert card["mae"] == pytest.approx(mae, abs=1e-3)
    assert card["baseline_mae"] == pytest.approx(baseline_mae, abs=1e-3)
    assert card["coverage_80"] == pytest.approx(cov, abs=1e-3)
    assert mae <= 0.7 * baseline_mae, (seed, mae, baseline_mae)
    assert 0.72 <= cov <= 0.88, (seed, cov)
    assert (q[:, 0] <= q[:, 1]).all() and (q[:, 1] <= q[:, 2]).all() and (q >= 0).all()
    # the better learned candidate on validation lots is the one kept
    cands = card["candidates"]
    assert set(cands) == {"gbm", "keras"}
    assert card["kind"] == min(cands, key=lambda k: cands[k]["val_mae"])
    assert pinball_loss(y, q) == pytest.approx(cands[card["kind"]]["pinball"], abs=1e-3)


def test_p50_falls_monotonically_with_extra_exposure(fitted) -> None:
    lots = fitted.lots[fitted.test_rows()[:60].tolist()]
    readings = fitted.readings.filter(pl.col("lot_id").is_in(lots["lot_id"].implode()))
    hours = [0.0, 3.0, 6.0, 12.0, 24.0, 48.0, 96.0]
    sensitive = lots["product"].is_in(["mango", "avocado"]).to_numpy()
    assert sensitive.any()
    for name, model in fitted.result["estimators"].items():  # both learned candidates, kept or not
        for temp in (15.0, 25.0):
            curve = whatif_curve(model, lots, readings, hours, temp)
            assert (np.diff(curve, axis=0) <= 1e-6).all(), (name, temp)
            drop = curve[0] - curve[-1]
            assert drop.mean() > 3.0, (name, temp, drop.mean())
        # colder than the chilling threshold costs mangoes and avocados life too
        cold = whatif_curve(model, lots, readings, [0.0, 48.0], 0.0)
        assert (cold[1] <= cold[0] + 1e-6).all()
        assert (cold[0] - cold[1])[sensitive].mean() > 1.0, name


def test_estimators_follow_the_sklearn_contract(fitted) -> None:
    x = fitted.features.head(20)
    for est in (PhysicsBaseline(), GbmQuantiles(), KerasQuantileNet()):
        with pytest.raises(NotFittedError):
            est.predict(x)
    gbm = GbmQuantiles(max_iter=20, seed=3)
    assert gbm.fit(fitted.features.head(300), fitted.y[:300]) is gbm
    assert hasattr(gbm, "models_") and gbm.get_params()["max_iter"] == 20
    with pytest.raises(ValueError, match="≥ 0"):
        gbm.predict(x.with_columns(pl.lit(-1.0).alias("transit_days")))
    with pytest.raises(ValueError, match="lacks"):
        gbm.predict(x.drop("route"))
    # unseen routes or products still predict (the "unseen" category)
    odd = x.with_columns(pl.lit("PECLL-XXXXX-sea").alias("route"))
    assert np.isfinite(gbm.predict(odd)).all()


def test_conformal_margin_hits_the_target_coverage() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(10, 2, 2000)
    narrow = np.column_stack([np.full(2000, 9.5), np.full(2000, 10.0), np.full(2000, 10.5)])
    m = conformal_margin(y, narrow)
    assert m > 0
    widened = narrow + np.array([-m, 0, m])
    assert 0.79 <= float(((y >= widened[:, 0]) & (y <= widened[:, 2])).mean()) <= 0.82


def test_saved_model_loads_only_with_matching_hashes(fitted, tmp_path: Path) -> None:
    model = fitted.result["model"]
    x = fitted.features[fitted.test_rows()[:50].tolist()]
    manifest = save_model(model, tmp_path, fitted.result["card"], world={"seed": fitted.seed})
    loaded = load_model(tmp_path, expected_sha256=manifest["sha256"])
    assert loaded.kind == model.kind and loaded.margin == model.margin
    assert loaded.predict_quantiles(x) == pytest.approx(model.predict_quantiles(x), abs=1e-4)
    meta = read_meta(tmp_path)
    assert meta is not None and meta["card"]["mae"] == fitted.result["card"]["mae"]
    with pytest.raises(artifacts.ArtifactHashError):
        load_model(tmp_path, expected_sha256="0" * 64)
    # a changed artifact is refused before it is deserialised
    target = next(p for p in (tmp_path / "shelflife").iterdir() if p.suffix in (".keras", ".skops"))
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(artifacts.ArtifactHashError):
        load_model(tmp_path)
    with pytest.raises(FileNotFoundError, match="train"):
        load_model(tmp_path / "elsewhere")


def test_both_kinds_persist(fitted, tmp_path: Path) -> None:
    x = fitted.features.head(30)
    for kind, model in fitted.result["estimators"].items():
        save_model(model, tmp_path, {"mae": 1.0})
        loaded = load_model(tmp_path)
        assert loaded.kind == kind
        assert loaded.predict_quantiles(x) == pytest.approx(model.predict_quantiles(x), abs=1e-4)
        hashes = json.loads((tmp_path / "shelflife" / "shelflife_meta.json").read_text())["hashes"]
        assert all(len(h) == 64 for h in hashes.values()) and len(hashes) >= 2


def test_the_default_path_never_imports_tensorflow(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from analytics.shelflife import predict, model, kinetics, features, truth, histories\n"
        "from analytics.shelflife.model import training_set, GbmQuantiles\n"
        "f, y, _ = training_set(300, 1)\n"
        "GbmQuantiles(max_iter=10).fit(f, y).predict(f)\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'tensorflow imported'\n"
        "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "ok"
