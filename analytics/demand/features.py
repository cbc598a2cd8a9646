"""Features of the global demand model: one row per (series, forecast origin, horizon).

At an origin ``o`` the weeks ``< o`` are known. Every quantity is divided by the series' scale at
the origin (mean weekly units over the 26 weeks before it), so one model serves a series selling
2 units a week and one selling 200: it learns ratios to the recent level. Predicted quantiles are
multiplied back by the scale (a positive constant known at the origin, so quantiles stay quantiles).

Features (nothing from on or after the origin except the calendar, which is public in advance):

- level and momentum: the last four weeks, the means of the last 4, 8, 13 and 52 weeks, growth
  over the same 13 weeks a year earlier, log of the scale;
- seasonality: the target week a year earlier (and its neighbours), the retail peaks of that week;
- calendar of the target week: week of year, month, Cyber Wow / Fiestas Patrias / Christmas / New
  Year shares, rainy season share (:mod:`analytics.demand.calendar`);
- disruption: share of the last known week under a public disruption episode in the DC's region;
- price and discount: mean discount and mean unit price of the last 4 weeks against the last year;
- the horizon and the series, its origin (DC or market) and its category as categorical features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analytics.demand.calendar import CALENDAR_FEATURES, calendar_matrix, disruption_share
from analytics.demand.weekly import Panel

SCALE_WEEKS = 26
MIN_SCALE = 0.25  # units/week: below this a series' ratios would be noise
MIN_ORIGIN = 13  # weeks of history before the first training origin
SEASON = 52

NUMERIC: tuple[str, ...] = (
    "horizon", "log_scale", "lag1", "lag2", "lag3", "lag4", "mean4", "mean8", "mean13", "mean52", "yoy_growth",
    "season_lag", "season_mean3", "season_cyber", "season_christmas", "season_fiestas",
    *CALENDAR_FEATURES, "disruption_now", "discount_gap", "price_ratio",
)
CATEGORICAL: tuple[str, ...] = ("series_code", "origin_code", "category_code")
FEATURES: tuple[str, ...] = NUMERIC + CATEGORICAL


@dataclass(frozen=True)
class SeriesCodes:
    """Integer codes of the series, their origins and categories (categorical features)."""

    series: np.ndarray  # [S]
    origin: np.ndarray  # [S]
    category: np.ndarray  # [S]

    @classmethod
    def of(cls, keys: tuple[tuple[str, str], ...]) -> SeriesCodes:
        origins = sorted({k[0] for k in keys})
        cats = sorted({k[1] for k in keys})
        return cls(np.arange(len(keys)) % 250, np.array([origins.index(k[0]) for k in keys]) % 250,
                   np.array([cats.index(k[1]) for k in keys]) % 250)


def _window_mean(cum: np.ndarray, end: np.ndarray, width: int) -> np.ndarray:
    """[S, P] mean of the ``width`` weeks before each ``end`` (exclusive) from a cumulative sum with a
    leading 0 column; NaN where the window starts before the first week."""
    T = cum.shape[1] - 1
    hi = np.clip(end, 0, T)
    lo = np.clip(end - width, 0, T)
    vals = (cum[:, hi] - cum[:, lo]) / width
    return np.where((end - width >= 0)[None, :], vals, np.nan)


def level_scale(units: np.ndarray, origins: np.ndarray, cum: np.ndarray | None = None) -> np.ndarray:
    """[S, P] mean weekly units over the SCALE_WEEKS before each origin (fewer at the start, at least
    MIN_SCALE): the unit every feature and target of a series is divided by."""
    if cum is None:
        cum = np.concatenate([np.zeros((units.shape[0], 1)), np.cumsum(units, axis=1)], axis=1)
    o = np.clip(np.asarray(origins, dtype=np.int64), 0, units.shape[1])
    width = np.minimum(o, SCALE_WEEKS)
    vals = (cum[:, o] - cum[:, o - width]) / np.maximum(width, 1)[None, :]
    return np.maximum(vals, MIN_SCALE)


class FeatureBuilder:
    """Builds feature matrices over one panel (history plus the calendar of up to ``max_horizon`` weeks ahead)."""

    def __init__(self, panel: Panel, max_horizon: int) -> None:
        self.panel = panel
        self.max_horizon = max_horizon
        T = panel.n_weeks
        self.calendar = calendar_matrix(panel.weeks[0], T + max_horizon)
        self.disruption = np.stack([disruption_share(k[0], panel.weeks[0], T) for k in panel.keys])
        self.codes = SeriesCodes.of(panel.keys)
        y = panel.units
        self.cum = np.concatenate([np.zeros((y.shape[0], 1)), np.cumsum(y, axis=1)], axis=1)
        self._cal_idx = {c: i for i, c in enumerate(CALENDAR_FEATURES)}

    def scale(self, origins: np.ndarray) -> np.ndarray:
        """[S, len(origins)] the series' level at each origin (see :func:`level_scale`)."""
        return level_scale(self.panel.units, origins, self.cum)

    def rows(self, origins: np.ndarray, horizons: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features for every series at each (origin, horizon) pair.

        ``origins`` and ``horizons`` are equal-length 1-D arrays (origin = index of the first unknown
        week, horizon 1 = that week). Returns (X [S*P, F], scale [S*P], target index [S*P]); rows are
        series-major (row = s * P + p)."""
        y = self.panel.units
        S, T = y.shape
        o = origins.astype(np.int64)
        h = horizons.astype(np.int64)
        P = o.size
        tgt = o + h - 1
        sc = self.scale(o)  # [S, P]
        cols: dict[str, np.ndarray] = {}
        cols["horizon"] = np.broadcast_to(h[None, :], (S, P)).astype(float)
        cols["log_scale"] = np.log(sc)
        for k in (1, 2, 3, 4):
            idx = o - k
            cols[f"lag{k}"] = np.where(idx[None, :] >= 0, y[:, np.clip(idx, 0, T - 1)], np.nan) / sc
        for w in (4, 8, 13, 52):
            cols[f"mean{w}"] = _window_mean(self.cum, o, w) / sc
        prev = _window_mean(self.cum, o - SEASON, 13)
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["yoy_growth"] = np.where(prev > 0, _window_mean(self.cum, o, 13) / prev, np.nan)
        s_idx = tgt - SEASON
        known = (s_idx >= 0) & (s_idx < o)
        cols["season_lag"] = np.where(known[None, :], y[:, np.clip(s_idx, 0, T - 1)], np.nan) / sc
        three = np.zeros((S, P))
        n3 = np.zeros(P)
        for d in (-1, 0, 1):
            j = s_idx + d
            okj = (j >= 0) & (j < o)
            three += np.where(okj[None, :], y[:, np.clip(j, 0, T - 1)], 0.0)
            n3 += okj
        cols["season_mean3"] = np.where(n3[None, :] > 0, three / np.maximum(n3, 1)[None, :], np.nan) / sc
        cal = self.calendar
        for name, src in (("season_cyber", "cyber_share"), ("season_christmas", "christmas_share"),
                          ("season_fiestas", "fiestas_share")):
            cols[name] = np.broadcast_to(np.where(s_idx >= 0, cal[np.clip(s_idx, 0, None), self._cal_idx[src]],
                                                  np.nan)[None, :], (S, P))
        for c, i in self._cal_idx.items():
            cols[c] = np.broadcast_to(cal[tgt, i][None, :], (S, P))
        cols["disruption_now"] = self.disruption[:, np.clip(o - 1, 0, T - 1)]
        pn = self.panel
        cols["discount_gap"] = (_ratio_window(pn.discount_sum, pn.orders, o, 4)
                                - _ratio_window(pn.discount_sum, pn.orders, o, 52))
        with np.errstate(divide="ignore", invalid="ignore"):
            cols["price_ratio"] = (_ratio_window(pn.amount_pen, pn.units, o, 4)
                                   / _ratio_window(pn.amount_pen, pn.units, o, 52))
        cols["series_code"] = np.broadcast_to(self.codes.series[:, None], (S, P)).astype(float)
        cols["origin_code"] = np.broadcast_to(self.codes.origin[:, None], (S, P)).astype(float)
        cols["category_code"] = np.broadcast_to(self.codes.category[:, None], (S, P)).astype(float)
        X = np.stack([np.asarray(cols[f], dtype=float).reshape(S * P) for f in FEATURES], axis=1)
        return X.astype(np.float32), sc.reshape(S * P), np.broadcast_to(tgt[None, :], (S, P)).reshape(S * P)

    def training_set(self, end: int, horizons: range, max_rows: int, seed: int = 0
                     ) -> tuple[np.ndarray, np.ndarray]:
        """(X, jittered y / scale) for every origin and horizon whose target week is before ``end`` (a
        random subset of at most ``max_rows`` rows, seeded)."""
        pairs = [(o, h) for h in horizons for o in range(MIN_ORIGIN, end - h + 1)]
        if not pairs:
            raise ValueError("not enough weeks to train on")
        arr = np.array(pairs)
        S = self.panel.n_series
        if arr.shape[0] * S > max_rows:
            rng = np.random.default_rng(seed)
            keep = np.sort(rng.choice(arr.shape[0], size=max(1, max_rows // S), replace=False))
            arr = arr[keep]
        X, sc, tgt = self.rows(arr[:, 0], arr[:, 1])
        s_of_row = np.repeat(np.arange(S), arr.shape[0])
        # jittered counts (Machado & Santos Silva): y + U(-0.5, 0.5) has no ties, which quantile
        # boosting needs (on raw counts a quarter of the targets sit at exactly 0 and the P10 trees
        # never move off it), and its quantiles bracket the count's
        jitter = np.random.default_rng(seed + 1).random(tgt.size) - 0.5
        target = (self.panel.units[s_of_row, tgt] + jitter) / sc
        return X, target


def _ratio_window(num: np.ndarray, den: np.ndarray, origins: np.ndarray, width: int) -> np.ndarray:
    """[S, P] sum(num) / sum(den) over the ``width`` weeks before each origin (NaN where den sums to 0):
    the mean discount per order, the mean price per unit."""
    S, T = num.shape
    cn = np.concatenate([np.zeros((S, 1)), np.cumsum(num, axis=1)], axis=1)
    cd = np.concatenate([np.zeros((S, 1)), np.cumsum(den, axis=1)], axis=1)
    hi = np.clip(origins, 0, T)
    lo = np.clip(origins - width, 0, T)
    d = cd[:, hi] - cd[:, lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, (cn[:, hi] - cn[:, lo]) / np.where(d > 0, d, 1.0), np.nan)


__all__ = ["CATEGORICAL", "FEATURES", "NUMERIC", "FeatureBuilder", "SeriesCodes", "level_scale"]
