"""The forecasters' contract, no look-ahead, band calibration and reconciliation, on small synthetic panels."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pytest

from analytics.demand.forecast import (
    BandScale,
    EtsCroston,
    GradientBoostingForecaster,
    NotFittedError,
    RelativeBand,
    SeasonalNaive,
)
from analytics.demand.reconcile import reconcile
from analytics.demand.weekly import TOTAL_KEY, Panel

T = 130


def synthetic_panel(seed: int = 0) -> Panel:
    """Six series: three smooth with a yearly peak and growth, two sparse, one trending linearly."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    peak = np.where(t % 52 == 47, 2.0, 1.0)
    means = np.vstack([
        30 * (1 + t / 200) * peak, 12 * (1 + t / 300) * peak, 6 * peak,
        np.full(T, 0.3), np.full(T, 0.6), 5 + 0.4 * t,
    ])
    units = rng.poisson(means).astype(float)
    orders = np.maximum(units - rng.integers(0, 2, units.shape), 0)
    keys = (("DC-A", "x"), ("DC-A", "y"), ("DC-B", "x"), ("DC-B", "y"), ("DC-C", "x"), ("DC-C", "y"))
    weeks = tuple(date(2021, 1, 4) + timedelta(days=7 * i) for i in range(T))
    return Panel(keys, weeks, units, orders, units * 50.0, orders * 5.0)


@pytest.mark.parametrize("model", [SeasonalNaive(12), EtsCroston(12), GradientBoostingForecaster(12, max_iter=15)])
def test_predicting_before_fitting_raises(model):
    with pytest.raises(NotFittedError):
        model.predict(synthetic_panel())


@pytest.mark.parametrize("make", [lambda: SeasonalNaive(12), lambda: EtsCroston(12),
                                  lambda: GradientBoostingForecaster(12, max_iter=20, max_rows=3000)])
def test_a_forecast_from_an_origin_uses_only_the_weeks_before_it(make):
    """The rolling-origin backtest predicts many origins from one panel: each must equal the forecast
    made from the panel cut at that origin, and must not change when later weeks change."""
    panel = synthetic_panel().with_total()
    model = make().fit(panel.truncate(100))
    origins = np.array([100, 107, 115])
    batch = model.predict_origins(panel, origins)
    assert batch.shape == (3, panel.n_series, 12, 3)
    changed = Panel(panel.keys, panel.weeks, panel.units.copy(), panel.orders, panel.amount_pen, panel.discount_sum)
    changed.units[:, 115:] *= 7
    for i, o in enumerate(origins):
        np.testing.assert_allclose(batch[i], model.predict_origins(panel.truncate(int(o)), np.array([o]))[0])
        np.testing.assert_allclose(batch[i], model.predict_origins(changed, np.array([o]))[0])
    assert (batch >= 0).all() and (np.diff(batch, axis=-1) >= 0).all()  # units, never crossing


def test_seasonal_naive_repeats_the_same_week_a_year_earlier():
    panel = synthetic_panel()
    q = SeasonalNaive(12).fit(panel).predict(panel)
    np.testing.assert_array_equal(q[:, :, 1], panel.units[:, T - 52: T - 40])


def test_ets_croston_routes_sparse_series_to_croston_and_follows_a_trend():
    panel = synthetic_panel()
    m = EtsCroston(12).fit(panel)
    assert m.intermittent_.tolist() == [False, False, False, True, True, False]
    q = m.predict(panel)
    # Croston-SBA: about the mean demand rate of the sparse series
    assert q[3, :, 1] == pytest.approx(np.full(12, panel.units[3].mean()), abs=0.25)
    # the trending series: a damped trend keeps rising a little
    assert q[5, -1, 1] > q[5, 0, 1] > panel.units[5, -20:].mean()


def test_gradient_boosting_learns_the_yearly_peak():
    panel = synthetic_panel()
    m = GradientBoostingForecaster(12, max_rows=4000, max_iter=40, seed=1).fit(panel.truncate(93))  # peak: week 99
    q = m.predict(panel.truncate(93))
    peak = 99 - 93
    assert q[0, peak, 1] > 1.4 * np.delete(q[0, :, 1], peak).mean()


def test_band_scale_calibrates_to_80_percent():
    rng = np.random.default_rng(3)
    n = 20_000
    mu = rng.uniform(5, 50, n)
    actual = rng.normal(mu, 0.2 * mu)
    narrow = np.stack([mu - 0.1 * mu, mu, mu + 0.1 * mu], axis=1)  # covers ~38%
    band = BandScale.learn(narrow, actual)
    assert band.lower == pytest.approx(2.56, rel=0.05) and band.upper == pytest.approx(2.56, rel=0.05)
    fresh = rng.normal(mu, 0.2 * mu)
    q = band.apply(narrow)
    assert ((fresh >= q[:, 0]) & (fresh <= q[:, 2])).mean() == pytest.approx(0.8, abs=0.015)


def test_band_scale_learns_the_width_of_errors_not_their_lean():
    """Calibration errors that all lean one way (actuals below the P50: a level error) widen both edges
    alike; the band then covers 80% of the calibration actuals and does not shift its misses to one side,
    so errors that lean the other way next are covered as well as ones leaning the same way."""
    rng = np.random.default_rng(6)
    n = 20_000
    mu = rng.uniform(50, 200, n)
    narrow = np.stack([0.9 * mu, mu, 1.1 * mu], axis=1)
    leaning_low = mu * (0.85 + rng.normal(0, 0.05, n))
    band = BandScale.learn(narrow, leaning_low)
    assert band.lower == band.upper > 1.0
    q = band.apply(narrow)
    assert ((leaning_low >= q[:, 0]) & (leaning_low <= q[:, 2])).mean() == pytest.approx(0.8, abs=0.01)
    leaning_high = mu * (1.15 + rng.normal(0, 0.05, n))
    assert ((leaning_high >= q[:, 0]) & (leaning_high <= q[:, 2])).mean() == pytest.approx(0.8, abs=0.02)


def test_band_scale_on_counts_with_zero_weeks_covers_at_least_80_percent():
    """Counts: a zero week under a band that starts at 0 scores exactly 1, so the multiplier may sit on 1
    and cover a little more than 80%, never less."""
    rng = np.random.default_rng(4)
    n = 20_000
    sparse = rng.random(n) < 0.8
    mu = np.where(sparse, 0.5, 30.0)
    actual = rng.poisson(mu).astype(float)
    q = np.stack([np.where(sparse, 0.0, 27.0), mu, np.where(sparse, 1.5, 33.0)], axis=1)
    band = BandScale.learn(q, actual)
    fresh = rng.poisson(mu).astype(float)
    out = band.apply(q)
    covered = ((fresh >= out[:, 0]) & (fresh <= out[:, 2])).mean()
    assert 0.79 <= covered <= 0.86
    assert band.lower == band.upper == 1.0


def test_relative_band_covers_80_percent_of_relative_errors():
    rng = np.random.default_rng(5)
    p50 = rng.uniform(100, 1000, 5000)
    actual = p50 * (1 + rng.normal(0, 0.1, 5000))
    band = RelativeBand.learn(p50, actual)
    assert band.r == pytest.approx(0.128, rel=0.08)
    q = band.apply(p50)
    assert ((actual >= q[:, 0]) & (actual <= q[:, 2])).mean() == pytest.approx(0.8, abs=0.01)



def test_relative_band_widens_with_level_errors_of_either_sign():
    """The level wanders +-10% around the forecasts (a disruption, then a recovery, twice a year): a band
    learned on one year covers the next half year from the errors' magnitude, whichever their sign."""
    rng = np.random.default_rng(8)
    weeks = np.arange(78)
    p50 = np.full(78, 500.0)
    level = 1 + 0.1 * np.sin(2 * np.pi * weeks / 26)
    actual = p50 * level * (1 + rng.normal(0, 0.03, 78))
    band = RelativeBand.learn(p50[:52], actual[:52])
    q = band.apply(p50[52:])
    inside = ((actual[52:] >= q[:, 0]) & (actual[52:] <= q[:, 2])).mean()
    assert 0.7 <= inside <= 0.95 and 0.08 < band.r < 0.15
    assert (q[:, 0] < q[:, 1]).all() and (q[:, 1] < q[:, 2]).all()
    assert band.apply(np.array([100.0]))[0] == pytest.approx([100 * (1 - band.r), 100, 100 * (1 + band.r)])
    # no usable forecast: the default band, never a division by zero
    assert RelativeBand.learn(np.zeros(3), np.ones(3)) == RelativeBand()


@pytest.mark.parametrize("rule", ["bottom_up", "top_down", "average"])
def test_reconciled_series_add_up_to_the_national_forecast(rule):
    rng = np.random.default_rng(6)
    p50 = rng.uniform(1, 20, (5, 4))
    series = np.stack([0.5 * p50, p50, 1.8 * p50], axis=-1)  # [S, H, 3]
    direct = p50.sum(axis=0) * 1.2
    out, national = reconcile(series, direct, rule)
    np.testing.assert_allclose(out[..., 1].sum(axis=0), national)
    expected = {"bottom_up": p50.sum(0), "top_down": direct, "average": 0.5 * (p50.sum(0) + direct)}[rule]
    np.testing.assert_allclose(national, expected)
    # a series' band keeps its shape (every quantile scaled by the same factor)
    np.testing.assert_allclose(out[..., 0] / out[..., 1], 0.5)
    with pytest.raises(ValueError, match="unknown reconciliation"):
        reconcile(series, direct, "middle_out")


def test_the_national_series_is_the_sum_of_the_others():
    panel = synthetic_panel()
    full = panel.with_total()
    assert full.keys[-1] == TOTAL_KEY and full.n_series == panel.n_series + 1
    np.testing.assert_array_equal(full.units[-1], panel.units.sum(axis=0))
