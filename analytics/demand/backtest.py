"""Rolling-origin backtest of the demand forecasters on the weeks before the as-of date.

Folds of ``REFIT_WEEKS`` (13) weeks each. A model is fitted on the weeks before a fold's first week
and forecasts 1..H weeks ahead from every week of the fold (the origin rolls weekly; each forecast
uses the weeks before its origin only). Only target weeks before the as-of date are scored.

- The first fold (the 13 weeks before the evaluation window) only calibrates bands.
- The evaluation window is the last ``WINDOW_WEEKS`` (26 weeks, six months) before the as-of date.
  Each fold's series bands are calibrated (:class:`analytics.demand.forecast.BandScale`) on the earlier
  folds' forecasts of weeks before that fold starts; the national band
  (:class:`analytics.demand.forecast.RelativeBand`) is recalibrated at every origin on the forecasts
  whose actuals are known by then. Nothing a forecast is scored on was seen.
- Scores: MAE relative to the seasonal naive forecast (same week a year earlier),
  ``sum |actual - P50| / sum |actual - naive|``, and the share of actuals inside [P10, P90]
  (``coverage_80``), pooled over every (series, origin, horizon) cell at the series level
  (DC x category) and at the national level (reconciled), plus per series and per horizon.

Per-series figures are listed, not required to meet the targets one by one: with 26 scored weeks a
series' coverage has a sampling spread of about +-0.08 around its true value, so a perfect model
would put several of 72 series outside 0.72-0.88 by chance alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import polars as pl

from analytics.demand.forecast import BandScale, Forecaster, RelativeBand
from analytics.demand.reconcile import reconcile
from analytics.demand.weekly import DemandDataError, Panel

WINDOW_WEEKS = 26
REFIT_WEEKS = 13
SEASON = 52
MIN_TRAIN_WEEKS = SEASON + 8  # the seasonal naive baseline and the yearly features need a year and a bit
CALIBRATION_WEEKS = 52  # out-of-sample forecasts before the window that calibrate the bands
CALIBRATION_FOLD_WEEKS = 26
ERROR_HORIZONS = 4  # the forecast errors behind safety stock: 1-4 weeks ahead (lead times are days)
RELATIVE_MAE_MAX = 0.85  # target: MAE at most 85% of the seasonal naive forecast's
COVERAGE_RANGE: tuple[float, float] = (0.72, 0.88)  # target: share of actuals inside the 80% band


def min_weeks(window: int = WINDOW_WEEKS) -> int:
    """Weeks of history a backtest needs before the as-of date (with the shortest calibration)."""
    return MIN_TRAIN_WEEKS + REFIT_WEEKS + window


@dataclass(frozen=True)
class Scores:
    relative_mae: float
    coverage_80: float
    mae: float
    naive_mae: float
    cells: int

    @classmethod
    def of(cls, actual: np.ndarray, naive: np.ndarray, q: np.ndarray) -> Scores:
        a = np.asarray(actual, float).reshape(-1)
        n = np.asarray(naive, float).reshape(-1)
        qq = q.reshape(-1, 3)
        mae = float(np.abs(a - qq[:, 1]).mean()) if a.size else float("nan")
        nmae = float(np.abs(a - n).mean()) if a.size else float("nan")
        cov = float(((a >= qq[:, 0]) & (a <= qq[:, 2])).mean()) if a.size else float("nan")
        rel = mae / nmae if nmae > 0 else float("nan")
        return cls(rel, cov, mae, nmae, int(a.size))

    def meets_targets(self) -> bool:
        lo, hi = COVERAGE_RANGE
        return bool(self.relative_mae <= RELATIVE_MAE_MAX and lo <= self.coverage_80 <= hi)

    def as_dict(self) -> dict[str, float | int]:
        return {"relative_mae": round(self.relative_mae, 4), "coverage_80": round(self.coverage_80, 4),
                "mae": round(self.mae, 4), "naive_mae": round(self.naive_mae, 4), "cells": self.cells}


@dataclass(frozen=True)
class Cells:
    """Scored forecasts: one row per (origin, horizon) and, for series, per series."""

    origin: np.ndarray  # [N] week index of the origin
    horizon: np.ndarray  # [N]
    series: np.ndarray  # [N, S, 3] reconciled quantiles (calibrated)
    total: np.ndarray  # [N, 3]

    @property
    def target(self) -> np.ndarray:
        return self.origin + self.horizon - 1


@dataclass(frozen=True)
class CandidateBacktest:
    """One model's backtest: scores, the band scale for its final forecast, its forecast errors."""

    model: str
    series: Scores
    total: Scores
    per_series: pl.DataFrame  # origin_dc, category, relative_mae, coverage_80, mae, naive_mae
    by_horizon: pl.DataFrame  # horizon, relative_mae, coverage_80 (series level), total_relative_mae, ...
    band: BandScale  # learned on every fold: applied to the final forecast's series
    total_band: RelativeBand  # the national band of the final forecast
    error_sd: np.ndarray  # [S] sd of out-of-sample weekly errors (actual - P50), 1-4 weeks ahead
    fit_seconds: float

    def summary(self) -> dict[str, object]:
        return {"model": self.model, "series": self.series.as_dict(), "total": self.total.as_dict(),
                "fit_seconds": round(self.fit_seconds, 2)}


@dataclass(frozen=True)
class BacktestReport:
    as_of: date
    window: tuple[date, date]  # first and last scored week (Mondays)
    origins: int
    candidates: dict[str, CandidateBacktest]
    chosen: str
    reason: str
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> CandidateBacktest:
        return self.candidates[self.chosen]


def _fold_starts(T: int, window: int) -> tuple[list[int], int]:
    """Fold starts (week indices) and how many of the first folds only calibrate bands.

    Calibration folds cover up to CALIBRATION_WEEKS before the window, in folds of
    CALIBRATION_FOLD_WEEKS (fewer when the history is short, at least one REFIT_WEEKS fold); the
    window is scored in folds of REFIT_WEEKS."""
    first_eval = T - window
    room = first_eval - MIN_TRAIN_WEEKS
    span = min(CALIBRATION_WEEKS, (room // REFIT_WEEKS) * REFIT_WEEKS)
    if span < REFIT_WEEKS:
        raise DemandDataError("not enough history for a calibration fold before the backtest window")
    step = CALIBRATION_FOLD_WEEKS if span % CALIBRATION_FOLD_WEEKS == 0 else REFIT_WEEKS
    calib = list(range(first_eval - span, first_eval, step))
    return calib + list(range(first_eval, T, REFIT_WEEKS)), len(calib)


def _predict_folds(factory: Callable[[], Forecaster], full: Panel, starts: list[int]
                   ) -> tuple[list[tuple[np.ndarray, np.ndarray]], float]:
    """Per fold: (origins [P], raw quantiles [P, S+1, H, 3]) from a model fitted before the fold."""
    T = full.n_weeks
    out = []
    t0 = time.perf_counter()
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else T
        model = factory().fit(full.truncate(start))
        origins = np.arange(start, end)
        out.append((origins, model.predict_origins(full, origins)))
    return out, time.perf_counter() - t0


def _flatten(origins: np.ndarray, q: np.ndarray, T: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(origin [N], horizon [N], quantiles [N, S+1, 3]) for the cells whose target is before T."""
    P, S1, H, _ = q.shape
    o = np.repeat(origins, H)
    h = np.tile(np.arange(1, H + 1), P)
    keep = o + h - 1 < T
    flat = q.transpose(0, 2, 1, 3).reshape(P * H, S1, 3)
    return o[keep], h[keep], flat[keep]


def run_candidate(factory: Callable[[], Forecaster], full: Panel, window: int = WINDOW_WEEKS
                  ) -> tuple[Cells, BandScale, RelativeBand, float]:
    """Backtest one model on ``full`` (series + national total last). Returns the scored cells (evaluation
    window only, reconciled, bands calibrated on earlier forecasts only), the bands learned on every
    fold (for the final forecast) and the fitting time.

    Series bands are calibrated per fold on the forecasts of weeks before the fold starts. The national
    band is calibrated per origin, online: a forecast made at origin ``o`` uses every earlier forecast
    whose target week is before ``o`` (from any fold, its actual is known at ``o``) (:class:`RelativeBand`)."""
    T = full.n_weeks
    starts, n_calib = _fold_starts(T, window)
    folds, seconds = _predict_folds(factory, full, starts)
    y = full.units
    S = full.n_series - 1
    flat_folds = []
    for origins, q in folds:
        o, h, flat = _flatten(origins, q, T)
        # reconciliation moves P50s only by the series' common factor: do it on the raw bands first
        _, national_p50 = reconcile(flat[:, :S, None, :], flat[:, S, None, 1])
        flat_folds.append((o, h, flat, national_p50[:, 0]))
    all_o = np.concatenate([f[0] for f in flat_folds])
    all_t = all_o + np.concatenate([f[1] for f in flat_folds]) - 1
    all_p = np.concatenate([f[3] for f in flat_folds])
    all_a = y[-1, all_t]
    cells_o, cells_h, cells_s, cells_t = [], [], [], []
    series_q = np.concatenate([f[2][:, :S, :] for f in flat_folds])
    for i in range(n_calib, len(flat_folds)):
        o, h, flat, _ = flat_folds[i]
        known = all_t < starts[i]  # series bands: weeks before this fold only
        band = BandScale.learn(series_q[known], y[:S, all_t[known]].T)
        s_rec, t_p50 = reconcile(band.apply(flat[:, :S, :])[:, :, None, :], flat[:, S, None, 1])
        t_p50 = t_p50[:, 0]
        national = np.empty((o.size, 3))
        for origin in np.unique(o):
            seen = all_t < origin  # national band: every forecast whose actual is known at this origin
            tband = RelativeBand.learn(all_p[seen], all_a[seen])
            m = o == origin
            national[m] = tband.apply(t_p50[m])
        cells_o.append(o)
        cells_h.append(h)
        cells_s.append(s_rec[:, :, 0, :])
        cells_t.append(national)
    band = BandScale.learn(series_q, y[:S, all_t].T)
    tband = RelativeBand.learn(all_p, all_a)
    cells = Cells(np.concatenate(cells_o), np.concatenate(cells_h), np.concatenate(cells_s), np.concatenate(cells_t))
    return cells, band, tband, seconds


def score_candidate(name: str, cells: Cells, full: Panel, band: BandScale, tband: RelativeBand,
                    seconds: float, horizon: int | None = None) -> CandidateBacktest:
    """Scores of one model's cells; the headline and per-series figures cover horizons 1..``horizon``
    (all by default), the per-horizon table every horizon."""
    y = full.units
    all_cells = cells
    if horizon is not None:
        keep = cells.horizon <= horizon
        cells = Cells(cells.origin[keep], cells.horizon[keep], cells.series[keep], cells.total[keep])
    tgt = cells.target
    S = full.n_series - 1
    actual = y[:S, tgt].T  # [N, S]
    naive = y[:S, tgt - SEASON].T
    t_actual, t_naive = y[-1, tgt], y[-1, tgt - SEASON]
    series = Scores.of(actual, naive, cells.series)
    total = Scores.of(t_actual, t_naive, cells.total)
    per = [Scores.of(actual[:, s], naive[:, s], cells.series[:, s, :]) for s in range(S)]
    keys = full.keys[:S]
    per_series = pl.DataFrame({
        "origin_dc": [k[0] for k in keys], "category": [k[1] for k in keys],
        "relative_mae": [p.relative_mae for p in per], "coverage_80": [p.coverage_80 for p in per],
        "mae": [p.mae for p in per], "naive_mae": [p.naive_mae for p in per],
    })
    rows = []
    a_tgt = all_cells.target
    a_act, a_naive = y[:S, a_tgt].T, y[:S, a_tgt - SEASON].T
    for h in np.unique(all_cells.horizon):
        m = all_cells.horizon == h
        sh = Scores.of(a_act[m], a_naive[m], all_cells.series[m])
        th = Scores.of(y[-1, a_tgt[m]], y[-1, a_tgt[m] - SEASON], all_cells.total[m])
        rows.append({"horizon": int(h), "relative_mae": sh.relative_mae, "coverage_80": sh.coverage_80,
                     "total_relative_mae": th.relative_mae, "total_coverage_80": th.coverage_80})
    short = all_cells.horizon <= ERROR_HORIZONS
    err = a_act[short] - all_cells.series[short, :, 1]
    error_sd = np.sqrt((err ** 2).mean(axis=0)) if err.size else np.zeros(S)
    return CandidateBacktest(name, series, total, per_series, pl.DataFrame(rows), band, tband, error_sd, seconds)


def choose(candidates: dict[str, CandidateBacktest]) -> tuple[str, str]:
    """The model with the lowest series-level MAE among those whose series-level 80% band covers 72-88%
    of the actuals (all candidates if none does); returns (name, reason).

    The national coverage is reported, not used to choose: it is measured on 26 weeks whose errors are
    correlated, so its sampling spread (about +-0.1) is wider than the differences it would decide."""
    lo, hi = COVERAGE_RANGE

    def calibrated(c: CandidateBacktest) -> bool:
        return lo <= c.series.coverage_80 <= hi

    pool = [c for c in candidates.values() if calibrated(c)] or list(candidates.values())
    best = min(pool, key=lambda c: c.series.mae)
    others = ", ".join(f"{c.model} {c.series.relative_mae:.3f}" for c in candidates.values() if c is not best)
    why = (f"lowest series-level MAE: {best.series.relative_mae:.3f} of the seasonal naive's ({others})"
           + ("; its 80% band covers " + f"{best.series.coverage_80:.0%} of the actuals" if calibrated(best)
              else "; no candidate's 80% band covered 72-88% of the actuals"))
    return best.model, why


def backtest(panel: Panel, as_of: date, factories: dict[str, Callable[[], Forecaster]],
             window: int = WINDOW_WEEKS, horizon: int | None = None,
             progress: Callable[[str, float], None] | None = None) -> BacktestReport:
    """Backtest every candidate on ``panel`` (the series, complete weeks before ``as_of``) and choose one.
    Headline scores cover horizons 1..``horizon`` (every horizon the models forecast by default)."""
    report = progress or (lambda label, frac: None)
    T = panel.n_weeks
    if T < min_weeks(window):
        raise DemandDataError(f"a backtest needs {min_weeks(window)} complete weeks before the as-of date "
                              f"({T} available): at least a year to learn from plus the {window}-week window")
    full = panel.with_total()
    out: dict[str, CandidateBacktest] = {}
    for i, (name, factory) in enumerate(factories.items()):
        report(f"backtest: {name}", i / max(1, len(factories)))
        cells, band, tband, seconds = run_candidate(factory, full, window)
        out[name] = score_candidate(name, cells, full, band, tband, seconds, horizon)
    chosen, reason = choose(out)
    first = T - window
    return BacktestReport(as_of, (panel.week_at(first), panel.week_at(T - 1)), window, out, chosen, reason)


def by_horizon_table(report: BacktestReport) -> pl.DataFrame:
    """Every candidate's per-horizon scores in one long table (model, horizon, ...)."""
    return pl.concat([c.by_horizon.with_columns(pl.lit(c.model).alias("model")).select("model", pl.exclude("model"))
                      for c in report.candidates.values()])


__all__ = ["COVERAGE_RANGE", "ERROR_HORIZONS", "REFIT_WEEKS", "RELATIVE_MAE_MAX", "WINDOW_WEEKS", "BacktestReport", "CandidateBacktest",
           "Cells", "Scores", "backtest", "by_horizon_table", "choose", "min_weeks", "run_candidate", "score_candidate"]
