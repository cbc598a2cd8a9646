"""The weekly demand forecast as of a date: backtest the candidates, choose one, fit it, reconcile.

:func:`weekly_forecast` is what the command line, the page and the model card call. It reads the
orders before the as-of date only (complete Lima weeks, :func:`analytics.demand.weekly.load_panel`),
backtests every candidate model on the last six months before it (:mod:`analytics.demand.backtest`),
keeps the one with the lowest series-level MAE whose bands are calibrated, refits it on every week
before the as-of date and forecasts 1..``horizon`` weeks ahead with P10/P50/P90, bands calibrated on
the backtest's out-of-sample forecasts and DC figures reconciled with the national total.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import storage
from analytics.datadir import CacheDir, DataDir
from analytics.demand.backtest import COVERAGE_RANGE, RELATIVE_MAE_MAX, BacktestReport, Scores, backtest
from analytics.demand.forecast import EtsCroston, Forecaster, GradientBoostingForecaster, SeasonalNaive
from analytics.demand.reconcile import reconcile
from analytics.demand.weekly import DemandDataError, Panel, load_panel
from analytics.engine import Engine

CACHE_VERSION = 2  # bump when a forecast's meaning changes (2: series bands, one multiplier for both edges)
MAX_HORIZON = 12  # the models always forecast 12 weeks; a shorter horizon is a slice of the same forecast
DEFAULT_HORIZON = 8
CANDIDATES: tuple[str, ...] = ("gradient_boosting", "seasonal_naive", "ets_croston")
Progress = Callable[[str, float], None]


def make_model(name: str, seed: int = 0) -> Forecaster:
    """A fresh, unfitted candidate model (every one forecasts MAX_HORIZON weeks)."""
    if name == "gradient_boosting":
        return GradientBoostingForecaster(horizon=MAX_HORIZON, seed=seed)
    if name == "seasonal_naive":
        return SeasonalNaive(horizon=MAX_HORIZON)
    if name == "ets_croston":
        return EtsCroston(horizon=MAX_HORIZON)
    raise ValueError(f"unknown demand model {name!r}; choose from {CANDIDATES}")


@dataclass(frozen=True)
class DemandForecast:
    """P10/P50/P90 of weekly units per series and nationally, with the backtest that chose the model."""

    as_of: date  # Monday of the first forecast week; only orders before it were used
    horizon: int
    model: str
    reason: str
    keys: tuple[tuple[str, str], ...]  # (origin_dc, category) per series
    weeks: tuple[date, ...]  # forecast weeks (Mondays)
    series: np.ndarray  # [S, H, 3] reconciled: series P50s add up to the national P50
    national: np.ndarray  # [H, 3]
    backtest: BacktestReport
    history: Panel  # the complete weeks before as_of
    elapsed_s: float

    @property
    def n_series(self) -> int:
        return len(self.keys)

    @property
    def scores(self) -> tuple[Scores, Scores]:
        """(series level, national) backtest scores of the chosen model for horizons 1..horizon."""
        best = self.backtest.best
        return best.series, best.total

    def table(self) -> pl.DataFrame:
        """origin_dc, category, week_start (Date), p10, p50, p90: one row per series and week."""
        S, H = self.n_series, self.horizon
        return pl.DataFrame({
            "origin_dc": [k[0] for k in self.keys for _ in range(H)],
            "category": [k[1] for k in self.keys for _ in range(H)],
            "week_start": [w for _ in range(S) for w in self.weeks],
            "p10": self.series[:, :, 0].reshape(-1), "p50": self.series[:, :, 1].reshape(-1),
            "p90": self.series[:, :, 2].reshape(-1),
        }, schema={"origin_dc": pl.String, "category": pl.String, "week_start": pl.Date, "p10": pl.Float64,
                   "p50": pl.Float64, "p90": pl.Float64})

    def national_table(self) -> pl.DataFrame:
        """week_start, p10, p50, p90 of the national total (p50 = the sum of the series' p50)."""
        return pl.DataFrame({"week_start": list(self.weeks), "p10": self.national[:, 0],
                             "p50": self.national[:, 1], "p90": self.national[:, 2]},
                            schema={"week_start": pl.Date, "p10": pl.Float64, "p50": pl.Float64, "p90": pl.Float64})

    def actuals(self, weeks: int = 52) -> pl.DataFrame:
        """origin_dc, category, week_start, units of the last ``weeks`` complete weeks (for the chart)."""
        p = self.history
        start = max(0, p.n_weeks - weeks)
        n = p.n_weeks - start
        return pl.DataFrame({
            "origin_dc": [k[0] for k in p.keys for _ in range(n)],
            "category": [k[1] for k in p.keys for _ in range(n)],
            "week_start": [p.weeks[t] for _ in p.keys for t in range(start, p.n_weeks)],
            "units": p.units[:, start:].reshape(-1),
        }, schema={"origin_dc": pl.String, "category": pl.String, "week_start": pl.Date, "units": pl.Float64})

    def demand_per_day(self, weeks: int) -> np.ndarray:
        """[S] mean daily P50 over the first ``weeks`` forecast weeks (1..horizon)."""
        w = int(np.clip(weeks, 1, self.horizon))
        return self.series[:, :w, 1].mean(axis=1) / 7.0

    def summary(self) -> dict[str, Any]:
        """The command line's JSON line: series, horizon, as_of, relative_mae, coverage_80 (series level)."""
        s, _ = self.scores
        return {"series": self.n_series, "horizon": self.horizon, "as_of": self.as_of.isoformat(),
                "relative_mae": round(s.relative_mae, 4), "coverage_80": round(s.coverage_80, 4)}


def weekly_forecast(engine: Engine, as_of: date | None = None, horizon: int = DEFAULT_HORIZON, seed: int = 0,
                    candidates: tuple[str, ...] = CANDIDATES, progress: Progress | None = None) -> DemandForecast:
    """Forecast every series 1..``horizon`` weeks from ``as_of`` (default: after the last complete week).

    Raises DemandDataError for a bad horizon, an as-of date outside the data or too short a history."""
    if not 1 <= int(horizon) <= MAX_HORIZON:
        raise DemandDataError(f"horizon must be 1 to {MAX_HORIZON} weeks, got {horizon}")
    if not candidates or any(c not in CANDIDATES for c in candidates):
        raise DemandDataError(f"candidates must be among {CANDIDATES}, got {candidates}")
    report = progress or (lambda label, frac: None)
    t0 = time.perf_counter()
    report("weekly demand", 0.0)
    panel, cut = load_panel(engine, as_of)
    factories: dict[str, Callable[[], Forecaster]] = {name: partial(make_model, name, seed) for name in candidates}
    bt = backtest(panel, cut, factories, horizon=int(horizon),
                  progress=lambda label, frac: report(label, 0.05 + 0.8 * frac))
    report(f"fitting {bt.chosen}", 0.85)
    full = panel.with_total()
    raw = make_model(bt.chosen, seed).fit(full).predict(full)  # [S+1, 12, 3]
    best = bt.best
    S = panel.n_series
    series, national_p50 = reconcile(best.band.apply(raw[:S]), raw[S, :, 1])
    national = best.total_band.apply(national_p50)
    H = int(horizon)
    weeks = tuple(cut + timedelta(days=7 * h) for h in range(H))
    report("done", 1.0)
    return DemandForecast(cut, H, bt.chosen, bt.reason, panel.keys, weeks, series[:, :H], national[:H], bt, panel,
                          round(time.perf_counter() - t0, 3))


def cached_forecast(data_dir: Path | str, engine: Engine, as_of: date | None, horizon: int, seed: int = 0,
                    use_cache: bool = True, progress: Progress | None = None,
                    cache_dir: Path | str | None = None) -> DemandForecast:
    """:func:`weekly_forecast`, kept in ``CACHE/demand`` (``cache_dir``, default ``DIR/.cache``) by the
    orders table's version, as-of date, horizon and seed, so that ``stock`` after ``forecast`` (same
    defaults) and the page's slider moves do not fit the models again. A read-only folder just computes."""
    data_dir = Path(data_dir)
    folder = CacheDir(Path(cache_dir)).demand if cache_dir is not None else DataDir(data_dir).cache.demand
    if not use_cache:
        return weekly_forecast(engine, as_of, horizon, seed, progress=progress)
    from analytics.shared_cache import open_cache

    key = ("forecast", CACHE_VERSION, storage.table_version(data_dir, "orders"), engine.name,
           as_of.isoformat() if as_of else None, int(horizon), int(seed))
    try:
        with open_cache(folder, size_limit=256 * 2**20) as cache:
            hit = cache.get(key)
            if isinstance(hit, DemandForecast):
                return hit
            fc = weekly_forecast(engine, as_of, horizon, seed, progress=progress)
            cache.set(key, fc, expire=7 * 86400)
            return fc
    except OSError:
        return weekly_forecast(engine, as_of, horizon, seed, progress=progress)


def model_card_section(fc: DemandForecast) -> dict[str, Any]:
    """The ``demand`` section of the model card: what was chosen, why, and every candidate's backtest."""
    series, total = fc.scores
    return {
        "as_of": fc.as_of.isoformat(), "horizon_weeks": fc.horizon, "series": fc.n_series, "model": fc.model,
        "reason": fc.reason, "backtest_window": [fc.backtest.window[0].isoformat(), fc.backtest.window[1].isoformat()],
        "relative_mae": round(series.relative_mae, 4), "coverage_80": round(series.coverage_80, 4),
        "national": {"relative_mae": round(total.relative_mae, 4), "coverage_80": round(total.coverage_80, 4)},
        "candidates": {name: c.summary() for name, c in fc.backtest.candidates.items()},
        "targets": {"relative_mae_max": RELATIVE_MAE_MAX, "coverage_80": list(COVERAGE_RANGE)},
    }


__all__ = ["CANDIDATES", "DEFAULT_HORIZON", "MAX_HORIZON", "DemandForecast", "cached_forecast", "make_model",
           "model_card_section",
           "weekly_forecast"]
