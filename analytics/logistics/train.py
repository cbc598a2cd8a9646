"""Train the logistics models: `python app.py train` calls :func:`train` via analytics.training.

Time split (never random): the latest 6 calendar months are the test period, the 6 before them
validate (model choice, calibration, the P90 conformal shift), everything earlier trains. A
scikit-learn HistGradientBoosting classifier and a Keras dense net compete on validation ROC AUC;
the winner is calibrated with Platt scaling (a logistic regression on the raw probability's logit) on the
validation months.

Small data (fewer than ``MIN_VALIDATION_ROWS`` validation orders, e.g. a 6,000-row DataCo sample): a few
hundred validation rows make a noisy calibration, so the models are refitted on every order before the test
period and both the calibration (isotonic there) and the P90's conformal shift are fitted on *out-of-fold*
predictions from time-ordered folds (blocked cross-validation: each block of consecutive months predicted by
models fitted on the other blocks, the same way and on nearly as many orders as the final model). The model card
carries percentile-bootstrap 95% intervals of ROC AUC, ECE and P90 coverage on the test period.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, cast

import numpy as np
import polars as pl

from analytics import artifacts, storage
from analytics.datadir import LOGISTICS_META, LOGISTICS_MODELS, LOGISTICS_REPORT, DataDir, logistics_models
from analytics.logistics.features import FEATURES, GROUPS, build_features
from analytics.logistics.model import (
    DeliveryDaysModel,
    FeatureEncoder,
    IsotonicCalibrator,
    LateRiskModel,
    PlattCalibrator,
    bootstrap_intervals,
    calibration_curve,
    conformal_shift,
    coverage_interval,
    expected_calibration_error,
    limited_threads,
    roc_points,
)

Progress = Callable[[str, float], None]
MAX_TRAIN_ROWS = 400_000
MAX_NET_ROWS = 200_000
MIN_VALIDATION_ROWS = 5_000  # fewer validation orders: calibrate on out-of-fold predictions
OOF_FOLDS = 5  # time-ordered blocks of the months before the test period, each predicted out of fold
BOOTSTRAP_RESAMPLES = 200
INTERVAL_LEVEL = 0.95


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


def _hgb_classifier(enc: FeatureEncoder, seed: int, small: bool = False) -> Any:
    """The late-risk GBM; on small data (``small``) a more regularised one (fewer, larger leaves, fewer and
    smaller steps): measured on 6,000-row DataCo-shaped data, its calibrated ECE was 0.02-0.04 against
    0.03-0.05 for the default settings, at the same ROC AUC."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if small:
        return HistGradientBoostingClassifier(
            max_iter=100, learning_rate=0.05, max_leaf_nodes=7, min_samples_leaf=80, l2_regularization=3.0,
            categorical_features=enc.categorical_mask, early_stopping=False, random_state=seed)
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


@dataclass(frozen=True)
class _Split:
    """The time split of the orders (never random) and the encoded features."""

    od: pl.Series  # order dates
    val_start: date
    test_start: date
    last: date
    tr: np.ndarray  # train rows
    va: np.ndarray  # validation rows
    te: np.ndarray  # test rows
    y: np.ndarray  # 1 = late
    enc: FeatureEncoder
    x: np.ndarray

    @property
    def small(self) -> bool:
        """Too few validation orders for a steady calibration: out-of-fold calibration and small-data settings."""
        return int(self.va.sum()) < MIN_VALIDATION_ROWS


def _split(orders: pl.DataFrame) -> _Split:
    feats = build_features(orders)
    val_start, test_start, last = time_split(orders["order_date"])
    od = orders["order_date"]
    tr = (od < val_start).to_numpy()
    enc = FeatureEncoder().fit(feats.filter(pl.Series(tr)))
    return _Split(od, val_start, test_start, last, tr, ((od >= val_start) & (od < test_start)).to_numpy(),
                  (od >= test_start).to_numpy(), orders["is_late"].cast(pl.Int8).to_numpy(), enc, enc.transform(feats))


def _late_risk_candidates(
        s: _Split, rng: np.random.Generator, seed: int, train_net: bool, report: Progress,
) -> tuple[LateRiskModel, str, LateRiskModel, Any, dict[str, dict[str, float]]]:
    """A HistGradientBoosting classifier and (optionally) a Keras dense net, compared on validation ROC AUC.
    Returns (chosen model, its name, the GBM, the net or None, the candidates' figures)."""
    from sklearn.metrics import roc_auc_score

    x, y, va = s.x, s.y, s.va
    itr = _sample(s.tr, MAX_TRAIN_ROWS, rng)
    report("late risk: gradient boosting", 0.05)
    t0 = time.perf_counter()
    with limited_threads():
        gbm = _hgb_classifier(s.enc, seed, s.small).fit(x[itr], y[itr])
    candidates: dict[str, dict[str, float]] = {}
    gbm_model = LateRiskModel(s.enc, gbm, name="HistGradientBoostingClassifier")
    candidates["gbm"] = {"val_roc_auc": float(roc_auc_score(y[va], gbm_model.raw_proba_matrix(x[va]))),
                         "fit_seconds": round(time.perf_counter() - t0, 2)}
    chosen, chosen_name = gbm_model, "gbm"
    net = None
    if train_net:
        report("late risk: Keras dense net", 0.3)
        from analytics.logistics.keras_net import KerasLateRiskNet

        t0 = time.perf_counter()
        inet = _sample(s.tr, MAX_NET_ROWS, rng)
        net = KerasLateRiskNet(seed=seed).fit(x[inet], y[inet], x[va], y[va])
        net_model = LateRiskModel(s.enc, net, name="Keras dense net (64-32)")
        candidates["keras"] = {"val_roc_auc": float(roc_auc_score(y[va], net_model.raw_proba_matrix(x[va]))),
                               "fit_seconds": round(time.perf_counter() - t0, 2)}
        if candidates["keras"]["val_roc_auc"] > candidates["gbm"]["val_roc_auc"]:
            chosen, chosen_name = net_model, "keras"
    return chosen, chosen_name, gbm_model, net, candidates


def _platt_calibrate(chosen: LateRiskModel, chosen_name: str, s: _Split, rng: np.random.Generator,
                     seed: int) -> None:
    """Calibrate on a full year of out-of-time predictions (seasons balanced): the chosen model's on the
    validation months, plus, for the GBM, a twin trained on data up to 6 months earlier predicting the
    6 months before validation. Platt scaling on the logit (smooth, few params)."""
    x, y = s.x, s.y
    cal_x, cal_y = [chosen.raw_proba_matrix(x[s.va])], [y[s.va]]
    early_start = _months_back(s.val_start, 6)
    early_tr = (s.od < early_start).to_numpy()
    early_va = ((s.od >= early_start) & (s.od < s.val_start)).to_numpy()
    if chosen_name == "gbm" and early_tr.sum() >= 0.2 * len(y) and early_va.sum() >= 500:
        itwin = _sample(early_tr, MAX_TRAIN_ROWS, rng)
        with limited_threads():
            twin = _hgb_classifier(s.enc, seed).fit(x[itwin], y[itwin])
        cal_x.append(LateRiskModel(s.enc, twin).raw_proba_matrix(x[early_va]))
        cal_y.append(y[early_va])
    chosen.calibrator = PlattCalibrator().fit(np.concatenate(cal_x), np.concatenate(cal_y))
    chosen.name = f"{chosen.name} + Platt calibration"


def time_blocks(s: _Split, k: int = OOF_FOLDS) -> list[np.ndarray]:
    """The orders before the test period in ``k`` consecutive blocks of equal size, oldest first."""
    idx = np.flatnonzero(s.tr | s.va)
    order = idx[np.argsort(s.od.to_numpy()[idx], kind="stable")]
    return [b for b in np.array_split(order, k) if b.size]


def _out_of_fold(blocks: list[np.ndarray], fit_predict: Callable[[np.ndarray, np.ndarray], np.ndarray]
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Blocked cross-validation over time: each block of consecutive months predicted by a model fitted on the
    other blocks (never a shuffled split: neighbouring days stay together). Returns (rows, predictions)."""
    rows, preds = [], []
    for j in range(len(blocks)):
        train_rows = np.concatenate([b for i, b in enumerate(blocks) if i != j])
        rows.append(blocks[j])
        preds.append(fit_predict(train_rows, blocks[j]))
    return np.concatenate(rows), np.concatenate(preds)


def _oof_calibrate(chosen: LateRiskModel, chosen_name: str, s: _Split, seed: int) -> LateRiskModel:
    """Small data: isotonic calibration on out-of-fold predictions (time-ordered folds: some 4,800 of them for a
    6,000-row sample, enough for monotone steps; measured on DataCo-shaped data, ECE 0.03-0.045 against
    0.03-0.053 with Platt scaling); the chosen kind of model is then refitted, as the fold models were, on every
    order before the test period."""
    x, y = s.x, s.y

    def fit_predict(train_rows: np.ndarray, rows: np.ndarray) -> np.ndarray:
        if chosen_name == "keras":
            from analytics.logistics.keras_net import KerasLateRiskNet

            net = KerasLateRiskNet(seed=seed).fit(x[train_rows], y[train_rows])
            return LateRiskModel(s.enc, net).raw_proba_matrix(x[rows])
        with limited_threads():
            gbm = _hgb_classifier(s.enc, seed, small=True).fit(x[train_rows], y[train_rows])
        return LateRiskModel(s.enc, gbm).raw_proba_matrix(x[rows])

    rows, p = _out_of_fold(time_blocks(s), fit_predict)
    # the final model is fitted the way the fold models were, on every order before the test period
    pre = np.flatnonzero(s.tr | s.va)
    if chosen_name == "keras":
        from analytics.logistics.keras_net import KerasLateRiskNet

        final = LateRiskModel(s.enc, KerasLateRiskNet(seed=seed).fit(x[pre], y[pre]), name=chosen.name)
    else:
        with limited_threads():
            gbm = _hgb_classifier(s.enc, seed, small=True).fit(x[pre], y[pre])
        final = LateRiskModel(s.enc, gbm, name=chosen.name)
    final.calibrator = IsotonicCalibrator().fit(p, y[rows])
    final.name = f"{chosen.name} + isotonic calibration (out-of-fold, {OOF_FOLDS} time-ordered folds)"
    return final


def _late_risk_card(chosen: LateRiskModel, s: _Split, p_te: np.ndarray) -> dict[str, Any]:
    """The model card's ``late_risk`` entry: test-period metrics of the calibrated model."""
    from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

    y_te = s.y[s.te]
    ci = bootstrap_intervals(y_te, p_te, BOOTSTRAP_RESAMPLES, INTERVAL_LEVEL)
    return {
        "roc_auc": round(float(roc_auc_score(y_te, p_te)), 4),
        "pr_auc": round(float(average_precision_score(y_te, p_te)), 4),
        "brier": round(float(brier_score_loss(y_te, p_te)), 4),
        "ece": round(expected_calibration_error(y_te, p_te, 10), 4),
        "features": list(FEATURES),
        "model": chosen.name,
        "test_period": [s.test_start.isoformat(), s.last.isoformat()],
        "intervals": {**ci, "level": INTERVAL_LEVEL, "resamples": BOOTSTRAP_RESAMPLES},
    }


def _delivery_days(orders: pl.DataFrame, s: _Split, rng: np.random.Generator, seed: int,
                   small: bool) -> tuple[DeliveryDaysModel, dict[str, Any]]:
    """P50/P90 quantile models of the delivery days, the P90 moved by a conformal shift so that 90% of held-back
    deliveries fall within its interpolated whole-day bound (validation months; out-of-fold predictions of
    time-ordered folds on small data, with the models refitted on every order before the test period); returns
    the model and its card entry (test period, with a bootstrap interval of the coverage)."""
    x = s.x
    delivered = orders["actual_days"].is_not_null().to_numpy()
    a = orders["actual_days"].cast(pl.Float64).to_numpy()

    def fit(rows: np.ndarray) -> tuple[Any, Any]:
        iq = rows[delivered[rows]]
        if iq.size > MAX_TRAIN_ROWS:
            iq = np.sort(rng.choice(iq, MAX_TRAIN_ROWS, replace=False))
        with limited_threads():
            return (_hgb_quantile(s.enc, 0.5, seed).fit(x[iq], a[iq]),
                    _hgb_quantile(s.enc, 0.9, seed).fit(x[iq], a[iq]))

    fitted_on = np.flatnonzero(s.tr | s.va) if small else np.flatnonzero(s.tr)
    seen = a[fitted_on][delivered[fitted_on]]
    min_days = float(seen.min()) if seen.size else 0.0

    def predict(q50: Any, q90: Any, rows: np.ndarray) -> np.ndarray:
        """[raw P90, P50 day] of ``rows`` (the P50 day is the bound's floor, as in DeliveryDaysModel)."""
        with limited_threads():
            return np.column_stack([q90.predict(x[rows]), np.maximum(np.round(q50.predict(x[rows])), min_days)])

    if small:
        rows, held = _out_of_fold(time_blocks(s), lambda train_rows, rows: predict(*fit(train_rows), rows))
        keep = delivered[rows]
        shift = conformal_shift(held[keep, 0], a[rows][keep], lower=held[keep, 1])
        p50, p90 = fit(fitted_on)
    else:
        p50, p90 = fit(fitted_on)
        vd = np.flatnonzero(s.va & delivered)
        held = predict(p50, p90, vd)
        shift = conformal_shift(held[:, 0], a[vd], lower=held[:, 1])
    days = DeliveryDaysModel(s.enc, p50, p90, shift, min_days)
    td = s.te & delivered
    q50, q90 = days.predict_matrix(x[td])
    promised = orders["promised_days"].cast(pl.Float64).to_numpy()[td]
    covered = a[td] <= q90
    return days, {
        "mae": round(float(np.abs(q50 - a[td]).mean()), 4),
        "baseline_mae": round(float(np.abs(promised - a[td]).mean()), 4),
        "p90_coverage": round(float(covered.mean()), 4),
        "intervals": {"p90_coverage": coverage_interval(covered, BOOTSTRAP_RESAMPLES, INTERVAL_LEVEL),
                      "level": INTERVAL_LEVEL, "resamples": BOOTSTRAP_RESAMPLES},
    }


def fit_models(orders: pl.DataFrame, progress: Progress | None = None, *, seed: int = 0,
               train_net: bool = True) -> dict[str, Any]:
    """Fit everything on an orders frame; returns models, metrics and the report (nothing written).

    Steps: the time split; the late-risk candidates; Platt calibration of the winner; the delivery-day
    quantile models; then test-period curves and permutation importance for the report."""
    report = progress or (lambda label, frac: None)
    rng = np.random.default_rng(seed)
    orders = orders.filter(pl.col("is_late").is_not_null())
    if orders.height < 1000 or orders["is_late"].n_unique() < 2:
        raise ValueError(f"not enough delivered orders to train on ({orders.height:,}; "
                         "need ≥ 1,000 with both outcomes)")
    s = _split(orders)
    chosen, chosen_name, gbm_model, net, candidates = _late_risk_candidates(s, rng, seed, train_net, report)
    small = s.small
    report("late risk: calibration", 0.5)
    if small:
        chosen = _oof_calibrate(chosen, chosen_name, s, seed)
    else:
        _platt_calibrate(chosen, chosen_name, s, rng, seed)
    p_te = chosen.proba_matrix(s.x[s.te])
    late_risk = _late_risk_card(chosen, s, p_te)

    report("delivery days: P50/P90 quantile models", 0.6)
    days, delivery_days = _delivery_days(orders, s, rng, seed, small)
    report("importance and curves", 0.75)
    ite = _sample(s.te, 30_000, rng)
    y_te = s.y[s.te]
    report_json = {
        "periods": {"train": [cast(date, s.od.min()).isoformat(), s.val_start.isoformat()],
                    "validation": [s.val_start.isoformat(), s.test_start.isoformat()],
                    "test": [s.test_start.isoformat(), s.last.isoformat()]},
        "rows": {"train": int(s.tr.sum()), "validation": int(s.va.sum()), "test": int(s.te.sum())},
        "candidates": candidates, "chosen": chosen_name,
        "calibration": calibration_curve(y_te, p_te, 10),
        "roc": roc_points(y_te, p_te),
        "importance": group_importance(chosen, s.x[ite], s.y[ite], seed),
        "late_share_test": round(float(y_te.mean()), 4),
        "p90_shift": days.p90_shift_,
        "calibrated_on": (f"out-of-fold predictions, {OOF_FOLDS} time-ordered folds" if small
                          else "validation months"),
    }
    return {"late_risk": chosen, "delivery_days": days, "gbm": gbm_model, "net": net, "chosen": chosen_name,
            "card": {"late_risk": late_risk, "delivery_days": delivery_days}, "report": report_json}


def save_models(fitted: dict[str, Any], models_dir: Path, data_fingerprint: str) -> dict[str, str]:
    """Write every artifact with its manifest plus the meta file listing their hashes."""
    final = logistics_models(models_dir)
    # write into a fresh folder and swap it in at the end: a cancelled or failed retrain leaves the
    # previous, consistent set of artifacts in place
    out = final.with_name(f"{LOGISTICS_MODELS}.tmp-{os.getpid()}")
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
    if isinstance(risk.calibrator, IsotonicCalibrator):
        put(risk.calibrator.to_dict(), "late_risk_calibrator.json")
        calibrator = "isotonic"
    else:
        assert isinstance(risk.calibrator, PlattCalibrator)
        put(risk.calibrator.model_, "late_risk_calibrator.skops")
        calibrator = "platt"
    put(days.p50, "delivery_p50.skops", params=_jsonable(days.p50.get_params()), metrics=card["delivery_days"])
    put(days.p90, "delivery_p90.skops", params=_jsonable(days.p90.get_params()), metrics=card["delivery_days"])
    put(fitted["report"], LOGISTICS_REPORT)
    meta = {"late_risk": fitted["chosen"], "model_name": risk.name, "p90_shift": days.p90_shift_,
            "min_days": days.min_days_, "calibrator": calibrator, "hashes": hashes, "data_fingerprint": data_fingerprint, "card": card}
    storage.write_json(out / LOGISTICS_META, meta)
    old = final.with_name(f"{LOGISTICS_MODELS}.old-{os.getpid()}")
    if final.exists():
        os.replace(final, old)
    os.replace(out, final)
    shutil.rmtree(old, ignore_errors=True)
    return hashes


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (v if isinstance(v, (int, float, str, bool, type(None))) else repr(v)) for k, v in params.items()}


def train(data_dir: Path | str, progress: Progress | None = None, *, train_net: bool = True) -> dict[str, Any]:
    """Trainer listed in analytics.training.default_trainers; returns the model-card fragment."""
    from analytics.logistics import scores_table
    from analytics.model_card import SkipTraining, data_fingerprint

    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    report("loading orders", 0.0)
    orders = storage.load_table(data_dir, "orders").frame
    if orders["is_late"].is_null().all():
        raise SkipTraining("orders have no delivery outcomes (is_late) to learn from")
    fitted = fit_models(orders, report, train_net=train_net)
    report("saving artifacts", 0.85)
    save_models(fitted, DataDir(data_dir).models, data_fingerprint(data_dir, ("orders",)))
    report("scoring every order", 0.9)
    scores_table.refresh_scores(data_dir, force=True)
    return fitted["card"]


def read_report(models_dir: Path | str) -> dict[str, Any] | None:
    """Curves and importance for the model panel (hash-verified), or None before training."""
    path = logistics_models(models_dir) / LOGISTICS_REPORT
    if not path.exists():
        return None
    meta = json.loads((path.parent / LOGISTICS_META).read_text(encoding="utf-8"))
    return artifacts.load(path, expected_sha256=meta["hashes"].get(LOGISTICS_REPORT))


__all__ = ["fit_models", "read_report", "save_models", "time_split", "train"]
