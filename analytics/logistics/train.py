"""Train the logistics models: `python app.py train` calls :func:`train` via analytics.training.

Time split (never random): the latest 6 calendar months are the test period, the 6 before them
validate (model choice, calibration, the P90 conformal shift), everything earlier trains. A
scikit-learn HistGradientBoosting classifier and a Keras dense net compete on validation ROC AUC;
the winner is calibrated with isotonic regression on the validation months.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from analytics import artifacts, storage
from analytics.logistics.features import FEATURES, GROUPS, build_features
from analytics.logistics.model import (
    DeliveryDaysModel,
    FeatureEncoder,
    LateRiskModel,
    PlattCalibrator,
    calibration_curve,
    expected_calibration_error,
    limited_threads,
    roc_points,
)

Progress = Callable[[str, float], None]
MODELS_SUBDIR = "logistics"
META_FILE = "logistics_meta.json"
REPORT_FILE = "logistics_report.json"
MAX_TRAIN_ROWS = 400_000
MAX_NET_ROWS = 200_000


def _months_back(d: date, months: int) -> date:
    m = d.year * 12 + d.month - 1 - months
    return date(m // 12, m % 12 + 1, 1)


def time_split(order_date: pl.Series) -> tuple[date, date, date]:
    """(val_start, test_start, last_day): 6 + 6 latest months, or 60/20/20 by date if that is lopsided."""
    last = cast(date | None, order_date.max())
    if last is None:
        raise ValueError("no order dates to split on")
    test_start = _months_back(last, 5)
    val_start = _months_back(last, 11)
    n = order_date.len()
    test_share = float((order_date >= test_start).sum()) / n
    val_share = float(((order_date >= val_start) & (order_date < test_start)).sum()) / n
    if not (0.05 <= test_share <= 0.45 and val_share >= 0.05 and 1 - test_share - val_share >= 0.3):
        ordered = order_date.sort()
        val_start, test_start = cast(date, ordered[int(0.6 * n)]), cast(date, ordered[int(0.8 * n)])
    return val_start, test_start, last


def _hgb_classifier(enc: FeatureEncoder, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        max_iter=200, learning_rate=0.08, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0,
        categorical_features=enc.categorical_mask, early_stopping=False, random_state=seed)


def _hgb_quantile(enc: FeatureEncoder, q: float, seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

    return HistGradientBoostingRegressor(
        loss="quantile", quantile=q, max_iter=80, learning_rate=0.2, max_leaf_nodes=15,
        categorical_features=enc.categorical_mask, early_stopping=False, random_state=seed)


def _sample(mask: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    idx = np.flatnonzero(mask)
    if idx.size > cap:
        idx = np.sort(rng.choice(idx, cap, replace=False))
    return idx


def group_importance(model: LateRiskModel, x: np.ndarray, y: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Permutation importance per feature group: drop in ROC AUC when the group is shuffled."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    base = roc_auc_score(y, model.proba_matrix(x))
    idx = {c: i for i, c in enumerate(FEATURES)}
    out = {}
    for group, cols in GROUPS.items():
        xs = x.copy()
        perm = rng.permutation(x.shape[0])
        for c in cols:
            xs[:, idx[c]] = x[perm, idx[c]]
        out[group] = round(float(base - roc_auc_score(y, model.proba_matrix(xs))), 5)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def fit_models(orders: pl.DataFrame, progress: Progress | None = None, *, seed: int = 0,
               train_net: bool = True) -> dict[str, Any]:
    """Fit everything on an orders frame; returns models, metrics and the report (nothing written)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    report = progress or (lambda label, frac: None)
    rng = np.random.default_rng(seed)
    orders = orders.filter(pl.col("is_late").is_not_null())
    if orders.height < 1000 or orders["is_late"].n_unique() < 2:
        raise ValueError(f"not enough delivered orders to train on ({orders.height:,}; need ≥ 1,000 with both outcomes)")
    feats = build_features(orders)
    val_start, test_start, last = time_split(orders["order_date"])
    od = orders["order_date"]
    tr = (od < val_start).to_numpy()
    va = ((od >= val_start) & (od < test_start)).to_numpy()
    te = (od >= test_start).to_numpy()
    y = orders["is_late"].cast(pl.Int8).to_numpy()
    enc = FeatureEncoder().fit(feats.filter(pl.Series(tr)))
    x = enc.transform(feats)
    itr = _sample(tr, MAX_TRAIN_ROWS, rng)
    report("late risk: gradient boosting", 0.05)
    t0 = time.perf_counter()
    with limited_threads():
        gbm = _hgb_classifier(enc, seed).fit(x[itr], y[itr])
    candidates: dict[str, dict[str, float]] = {}
    gbm_model = LateRiskModel(enc, gbm, name="HistGradientBoostingClassifier")
    candidates["gbm"] = {"val_roc_auc": float(roc_auc_score(y[va], gbm_model.raw_proba_matrix(x[va]))),
                         "fit_seconds": round(time.perf_counter() - t0, 2)}
    chosen, chosen_name = gbm_model, "gbm"
    net = None
    if train_net:
        report("late risk: Keras dense net", 0.3)
        from analytics.logistics.keras_net import KerasLateRiskNet

        t0 = time.perf_counter()
        inet = _sample(tr, MAX_NET_ROWS, rng)
        net = KerasLateRiskNet(seed=seed).fit(x[inet], y[inet], x[va], y[va])
        net_model = LateRiskModel(enc, net, name="Keras dense net (64-32)")
        candidates["keras"] = {"val_roc_auc": float(roc_auc_score(y[va], net_model.raw_proba_matrix(x[va]))),
                               "fit_seconds": round(time.perf_counter() - t0, 2)}
        if candidates["keras"]["val_roc_auc"] > candidates["gbm"]["val_roc_auc"]:
            chosen, chosen_name = net_model, "keras"
    report("late risk: calibration", 0.5)
    # Calibrate on a full year of out-of-time predictions (seasons balanced): the chosen model's on
    # the validation months, plus, for the GBM, a twin trained on data up to 6 months earlier
    # predicting the 6 months before validation. Platt scaling on the logit (smooth, few params).
    cal_x, cal_y = [chosen.raw_proba_matrix(x[va])], [y[va]]
    early_start = _months_back(val_start, 6)
    early_tr = (od < early_start).to_numpy()
    early_va = ((od >= early_start) & (od < val_start)).to_numpy()
    if chosen_name == "gbm" and early_tr.sum() >= 0.2 * len(y) and early_va.sum() >= 500:
        itwin = _sample(early_tr, MAX_TRAIN_ROWS, rng)
        with limited_threads():
            twin = _hgb_classifier(enc, seed).fit(x[itwin], y[itwin])
        cal_x.append(LateRiskModel(enc, twin).raw_proba_matrix(x[early_va]))
        cal_y.append(y[early_va])
    calibrator = PlattCalibrator().fit(np.concatenate(cal_x), np.concatenate(cal_y))
    chosen.calibrator = calibrator
    chosen.name = f"{chosen.name} + Platt calibration"
    p_te = chosen.proba_matrix(x[te])
    late_risk = {
        "roc_auc": round(float(roc_auc_score(y[te], p_te)), 4),
        "pr_auc": round(float(average_precision_score(y[te], p_te)), 4),
        "brier": round(float(brier_score_loss(y[te], p_te)), 4),
        "ece": round(expected_calibration_error(y[te], p_te, 10), 4),
        "features": list(FEATURES),
        "model": chosen.name,
        "test_period": [test_start.isoformat(), last.isoformat()],
    }

    report("delivery days: P50/P90 quantile models", 0.6)
    delivered = orders["actual_days"].is_not_null().to_numpy()
    a = orders["actual_days"].cast(pl.Float64).to_numpy()
    iq = _sample(tr & delivered, MAX_TRAIN_ROWS, rng)
    with limited_threads():
        p50 = _hgb_quantile(enc, 0.5, seed).fit(x[iq], a[iq])
        p90 = _hgb_quantile(enc, 0.9, seed).fit(x[iq], a[iq])
    vd, td = va & delivered, te & delivered
    # conformal shift: the P90 is moved so that exactly 90% of validation deliveries fall under it
    with limited_threads():
        resid = a[vd] - p90.predict(x[vd])
    shift = float(np.quantile(resid, 0.9, method="higher")) if resid.size else 0.0
    days = DeliveryDaysModel(enc, p50, p90, shift)
    q50, q90 = days.predict_matrix(x[td])
    promised = orders["promised_days"].cast(pl.Float64).to_numpy()[td]
    delivery_days = {
        "mae": round(float(np.abs(q50 - a[td]).mean()), 4),
        "baseline_mae": round(float(np.abs(promised - a[td]).mean()), 4),
        "p90_coverage": round(float((a[td] <= q90).mean()), 4),
    }
    report("importance and curves", 0.75)
    ite = _sample(te, 30_000, rng)
    report_json = {
        "periods": {"train": [cast(date, od.min()).isoformat(), val_start.isoformat()],
                    "validation": [val_start.isoformat(), test_start.isoformat()],
                    "test": [test_start.isoformat(), last.isoformat()]},
        "rows": {"train": int(tr.sum()), "validation": int(va.sum()), "test": int(te.sum())},
        "candidates": candidates, "chosen": chosen_name,
        "calibration": calibration_curve(y[te], p_te, 10),
        "roc": roc_points(y[te], p_te),
        "importance": group_importance(chosen, x[ite], y[ite], seed),
        "late_share_test": round(float(y[te].mean()), 4),
        "p90_shift": shift,
    }
    return {"late_risk": chosen, "delivery_days": days, "gbm": gbm_model, "net": net, "chosen": chosen_name,
            "card": {"late_risk": late_risk, "delivery_days": delivery_days}, "report": report_json}


def save_models(fitted: dict[str, Any], models_dir: Path, data_fingerprint: str) -> dict[str, str]:
    """Write every artifact with its manifest plus the meta file listing their hashes."""
    final = Path(models_dir) / MODELS_SUBDIR
    # write into a fresh folder and swap it in at the end: a cancelled or failed retrain leaves the
    # previous, consistent set of artifacts in place
    out = final.with_name(f"{MODELS_SUBDIR}.tmp-{os.getpid()}")
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    risk: LateRiskModel = fitted["late_risk"]
    days: DeliveryDaysModel = fitted["delivery_days"]
    card = fitted["card"]
    common: dict[str, Any] = {"data_fingerprint": data_fingerprint}
    hashes: dict[str, str] = {}

    def put(obj: Any, name: str, **kw: Any) -> None:
        hashes[name] = artifacts.save(obj, out / name, **common, **kw)["sha256"]

    put(risk.encoder.to_dict(), "encoder.json")
    if fitted["chosen"] == "keras":
        hashes.update(risk.estimator.save(out, "late_risk_net", metrics=card["late_risk"], **common))
    else:
        put(risk.estimator, "late_risk_gbm.skops", params=_jsonable(risk.estimator.get_params()),
            metrics=card["late_risk"])
    assert isinstance(risk.calibrator, PlattCalibrator)
    put(risk.calibrator.model_, "late_risk_calibrator.skops")
    put(days.p50, "delivery_p50.skops", params=_jsonable(days.p50.get_params()), metrics=card["delivery_days"])
    put(days.p90, "delivery_p90.skops", params=_jsonable(days.p90.get_params()), metrics=card["delivery_days"])
    put(fitted["report"], REPORT_FILE)
    meta = {"late_risk": fitted["chosen"], "model_name": risk.name, "p90_shift": days.p90_shift_,
            "hashes": hashes, "data_fingerprint": data_fingerprint, "card": card}
    storage.write_json(out / META_FILE, meta)
    old = final.with_name(f"{MODELS_SUBDIR}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(out, final)
    shutil.rmtree(old, ignore_errors=True)
    return hashes


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)) for k, v in params.items()}


def train(data_dir: Path | str, progress: Progress | None = None, *, train_net: bool = True) -> dict[str, Any]:
    """Trainer registered in analytics.training.TRAINERS; returns the model-card fragment."""
    from analytics.logistics import scoring
    from analytics.training import SkipTraining, data_fingerprint

    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    report("loading orders", 0.0)
    orders = storage.load_table(data_dir, "orders").frame
    if orders["is_late"].is_null().all():
        raise SkipTraining("orders have no delivery outcomes (is_late) to learn from")
    fitted = fit_models(orders, report, train_net=train_net)
    report("saving artifacts", 0.85)
    save_models(fitted, data_dir / "models", data_fingerprint(data_dir, ("orders",)))
    report("scoring every order", 0.9)
    scoring.refresh_scores(data_dir, force=True)
    return fitted["card"]


def read_report(models_dir: Path | str) -> dict[str, Any] | None:
    """Curves and importance for the model panel (hash-verified), or None before training."""
    path = Path(models_dir) / MODELS_SUBDIR / REPORT_FILE
    if not path.exists():
        return None
    meta = json.loads((path.parent / META_FILE).read_text(encoding="utf-8"))
    return artifacts.load(path, expected_sha256=meta["hashes"].get(REPORT_FILE))


__all__ = ["fit_models", "read_report", "save_models", "time_split", "train"]


def train_in_subprocess(data_dir: Path | str, progress: Progress | None = None) -> dict[str, Any]:
    """Run the logistics training in a fresh Python process and relay its progress.

    Background callbacks run in processes *forked* from the app, and Polars' and OpenMP's thread pools
    do not survive a fork (the child deadlocks on first use: measured). A fresh interpreter avoids that.
    If this process is terminated (the Cancel button), the training process is killed with it.
    """
    import signal
    import subprocess
    import sys

    report = progress or (lambda label, frac: None)
    root = Path(__file__).resolve().parents[2]
    code = "import sys; from analytics.logistics.train import _worker_main; _worker_main(sys.argv[1])"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen([sys.executable, "-c", code, str(data_dir)], cwd=root, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)

    def _stop(signum: int, frame: Any) -> None:
        proc.kill()
        raise SystemExit(1)

    try:
        old = signal.signal(signal.SIGTERM, _stop)
    except ValueError:  # not the main thread: cancellation then relies on the finally below
        old = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                continue
            if "progress" in msg:
                report(str(msg["progress"][0]), float(msg["progress"][1]))
            elif "card" in msg:
                proc.wait()
                return dict(msg["card"])
            elif "error" in msg:
                proc.wait()
                raise ValueError(str(msg["error"]))
        proc.wait()
        raise RuntimeError(f"training process ended without a result (exit code {proc.returncode})")
    finally:
        if proc.poll() is None:
            proc.kill()
        if old is not None:
            signal.signal(signal.SIGTERM, old)


def _worker_main(data_dir: str) -> None:
    """Entry point of the training process: progress and the result as JSON lines on stdout."""
    from analytics.training import train_all

    def emit(payload: dict[str, Any]) -> None:
        print(json.dumps(payload, default=str), flush=True)

    try:
        card = train_all(data_dir, lambda label, frac: emit({"progress": [label, frac]}),
                         only=["analytics.logistics.train"])
        emit({"card": card})
    except Exception as exc:  # reported to the caller, which raises it
        emit({"error": f"{type(exc).__name__}: {exc}"})
