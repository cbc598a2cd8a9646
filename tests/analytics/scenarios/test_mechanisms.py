"""The hold fit (``treated ≈ (1 − h) · control + h · (control + Exp(m))``): it recovers a hold simulated the way
the model describes it, and its grid search equals the plain likelihood over every day bin."""

from __future__ import annotations

import numpy as np

from analytics.scenarios import mechanisms as m


def _simulate(rng: np.random.Generator, orders: int, share: float, wait: float) -> tuple[np.ndarray, np.ndarray]:
    """Control and treated delivery-day histograms: treated orders are held with probability ``share`` and a held
    one waits Exp(``wait``) days, landing whole days later (a uniform fraction of its day was left)."""
    base = np.array([0, 5, 40, 120, 200, 160, 90, 50, 25, 10, 5, 2, 1], float)
    days = rng.choice(base.size, size=orders, p=base / base.sum())
    control = np.bincount(rng.choice(base.size, size=orders, p=base / base.sum()), minlength=m.MAX_DAYS + 1)
    late = np.floor(rng.uniform(0, 1, orders) + rng.exponential(wait, orders))
    treated_days = np.clip(days + np.where(rng.uniform(size=orders) < share, late, 0), 0, m.MAX_DAYS).astype(int)
    return control.astype(float), np.bincount(treated_days, minlength=m.MAX_DAYS + 1).astype(float)


def _every_bin(control: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """The likelihood summed over all day bins, as the model is written (the reference for the fit's shortcut)."""
    p = np.clip(control / control.sum(), 1e-12, None)
    held = m._held_pmfs(control)
    mix = (1 - m._H_GRID)[:, None, None] * p[None, None, :] + m._H_GRID[:, None, None] * held[None, :, :]
    ll = (np.log(mix) * treated[None, None, :]).sum(-1)
    i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)
    return float(m._H_GRID[i]), float(m._M_GRID[j])


def test_the_fit_recovers_a_simulated_hold():
    rng = np.random.default_rng(3)
    for share, wait in ((0.3, 2.0), (0.6, 5.0)):
        control, treated = _simulate(rng, 20_000, share, wait)
        fit = m.fit_hold(control, treated, seed=1)
        assert abs(fit.share - share) < 0.05, (share, wait, fit)
        assert abs(fit.wait_days - wait) / wait < 0.2, (share, wait, fit)
        assert 0 < fit.share_se < 0.05 and fit.treated == fit.control == 20_000
    # a small hold with short waits is weakly identified (a short wait often adds no whole day): the fit is
    # less precise and its bootstrap errors say so
    control, treated = _simulate(rng, 20_000, 0.15, 1.0)
    fit = m.fit_hold(control, treated, seed=1)
    assert abs(fit.share - 0.15) < 3 * fit.share_se and abs(fit.wait_days - 1.0) < 3 * fit.wait_se, fit
    assert fit.share_se > 0.03


def test_the_grid_search_equals_the_likelihood_over_every_bin():
    rng = np.random.default_rng(7)
    for _ in range(60):
        control, treated = _simulate(rng, int(rng.integers(100, 4000)), rng.uniform(0, 0.9), rng.uniform(0.2, 9))
        assert m._mle(control, treated) == _every_bin(control, treated)
