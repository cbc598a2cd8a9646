"""Ground-truth quality at arrival: remaining shelf life (days) and a grade per lot.

The truth integrates the lot's own temperature history with the *world's* parameters, which are
drawn per seed from the published ranges in :mod:`analytics.shelflife.kinetics` (nominal shelf
life, the four band Q10s, the chilling-injury loss rate), so no model can succeed by copying the
defaults. On top of the temperature kinetics it applies three documented effects that the
physics-only baseline leaves out, and noise:

- **Season**: fruit harvested late in its export season has less life. Klieber & Wills (Aust. J. Exp.
  Agric. 32:529, 1992) saw asparagus lose up to 3 of 4 weeks of storage life as the season
  progressed; UC Davis' avocado sheet notes that late-season Hass ripen after a quarter of the ethylene
  exposure early fruit needs (12 h vs 48 h), and FDA's PPOD lists colder storage for late-season Hass;
  hot harvest weather hastens berry ripening. Loss at the end of the season: a fraction drawn per product from :data:`SEASON_LOSS_RANGES`.
- **Controlled atmosphere** on long sea routes (lots with ``ca``): the decay rate during the voyage is
  multiplied by a factor from :data:`CA_FACTOR_RANGES` (CA for avocados: 2–5 % O2 + 3–10 % CO2, a
  "moderate" benefit in cargo guides; for blueberries modified atmospheres add 1–2 weeks).
- **Lot variation**: each lot's shelf life at harvest varies log-normally (:data:`LOT_SIGMA`, maturity
  and orchard), its Q10s by :data:`Q10_SIGMA`, and the arrival inspection that measures the remaining
  life has a normal error of :data:`INSPECTION_SD_DAYS`.

Remaining life never goes below zero. ``grade`` follows :func:`analytics.shelflife.kinetics.grade`.
With :func:`default_world` and ``noise=False`` the truth equals the physics model exactly, so a lot
that never left its optimum loses only its transit days.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analytics.shelflife.features import reading_durations
from analytics.shelflife.histories import PHASE_CODE
from analytics.shelflife.kinetics import PRODUCTS, Q10_RANGES, chill_degrees, grade, product, relative_rate

SEASON_LOSS_RANGES: dict[str, tuple[float, float]] = {
    "blueberry": (0.06, 0.20), "avocado": (0.08, 0.25), "grape": (0.05, 0.15), "asparagus": (0.15, 0.40),
    "mango": (0.06, 0.20)}
CA_FACTOR_RANGES: dict[str, tuple[float, float]] = {
    "blueberry": (0.60, 0.85), "avocado": (0.55, 0.80), "mango": (0.65, 0.90), "grape": (1.0, 1.0),
    "asparagus": (0.60, 0.85)}
LOT_SIGMA = 0.05
Q10_SIGMA = 0.04
INSPECTION_SD_DAYS = 1.0


@dataclass(frozen=True)
class ProductWorld:
    """One world's true parameters for a product."""

    nominal_days: float
    q10: tuple[float, ...]
    chill_days_per_degree_day: float
    season_loss: float  # fraction of shelf life lost by fruit harvested at the very end of the season
    ca_factor: float  # decay-rate multiplier during a controlled-atmosphere voyage


@dataclass(frozen=True)
class World:
    seed: int | None
    products: dict[str, ProductWorld]
    noise: bool = True

    def params(self) -> dict[str, dict[str, object]]:
        return {k: {"nominal_days": round(p.nominal_days, 3), "q10": [round(q, 4) for q in p.q10],
                    "chill_days_per_degree_day": round(p.chill_days_per_degree_day, 4),
                    "season_loss": round(p.season_loss, 4), "ca_factor": round(p.ca_factor, 4)}
                for k, p in self.products.items()}


def draw_world(seed: int) -> World:
    """True parameters drawn uniformly from the documented ranges (deterministic for a seed)."""
    rng = np.random.default_rng([seed, 2301])
    out = {}
    for key, p in PRODUCTS.items():
        out[key] = ProductWorld(
            nominal_days=float(rng.uniform(*p.nominal_range)),
            q10=tuple(float(rng.uniform(lo, hi)) for lo, hi in Q10_RANGES),
            chill_days_per_degree_day=float(rng.uniform(*p.chill_range)),
            season_loss=float(rng.uniform(*SEASON_LOSS_RANGES[key])),
            ca_factor=float(rng.uniform(*CA_FACTOR_RANGES[key])))
    return World(seed, out)


def default_world() -> World:
    """The physics model's defaults, without season, atmosphere or noise."""
    return World(None, {k: ProductWorld(p.nominal_days, p.q10, p.chill_days_per_degree_day, 0.0, 1.0)
                        for k, p in PRODUCTS.items()}, noise=False)


def arrival_quality(lots: pl.DataFrame, readings: pl.DataFrame, world: World, *, seed: int = 0,
                    noise: bool | None = None) -> pl.DataFrame:
    """Remaining shelf life at arrival and grade for every lot (in ``lots`` order).

    ``lots`` needs ``lot_id``, ``product``, ``transit_hours``, ``harvest_month``, ``harvest_day`` and
    ``ca``; ``readings`` needs ``lot_id``, ``hours``, ``temp_c`` and ``phase`` (see histories). Gaps
    between readings are integrated as they are (the truth knows the history; no hold cap).
    """
    from analytics.shelflife.kinetics import season_position

    noisy = world.noise if noise is None else noise
    rng = np.random.default_rng([seed, 4409])
    order = pl.DataFrame({"lot_id": lots["lot_id"], "_pos": np.arange(lots.height)})
    r = readings.join(order, on="lot_id", how="inner").sort("_pos", "hours")
    pos = r["_pos"].to_numpy()
    temps = r["temp_c"].to_numpy().astype(float)
    end = lots["transit_hours"].to_numpy().astype(float)
    held, unobserved = reading_durations(pos, r["hours"].to_numpy().astype(float), end, max_hold_h=np.inf)
    keys = lots["product"].to_list()
    n = lots.height
    for k in set(keys):
        product(k)
    pw = [world.products[k] for k in keys]
    q10 = np.array([p.q10 for p in pw])  # (lots, 4)
    if noisy:
        q10 = np.maximum(1.0, q10 * np.exp(rng.normal(0.0, Q10_SIGMA, q10.shape)))
    opt = np.array([PRODUCTS[k].optimum_c for k in keys])
    thr = np.array([PRODUCTS[k].chill_threshold_c for k in keys])
    kchill = np.array([p.chill_days_per_degree_day for p in pw])
    rate = relative_rate(temps, opt[pos], q10[pos])
    ca = lots["ca"].to_numpy().astype(bool)
    voyage = r["phase"].to_numpy() == PHASE_CODE["voyage"]
    factor = np.where(ca[pos] & voyage, np.array([p.ca_factor for p in pw])[pos], 1.0)
    consumed = (np.bincount(pos, weights=rate * factor * held, minlength=n)
                + np.bincount(pos, weights=kchill[pos] * chill_degrees(temps, thr[pos]) * held, minlength=n)
                + unobserved) / 24.0
    season = np.zeros(n)
    months, days = lots["harvest_month"].to_numpy(), lots["harvest_day"].to_numpy()
    for k in set(keys):
        m = np.array([x == k for x in keys])
        season[m] = season_position(k, months[m], days[m])
    at_harvest = np.array([p.nominal_days for p in pw]) * (1.0 - np.array([p.season_loss for p in pw]) * season)
    if noisy:
        at_harvest = at_harvest * np.exp(rng.normal(0.0, LOT_SIGMA, n))
    remaining = at_harvest - consumed
    if noisy:
        remaining = remaining + rng.normal(0.0, INSPECTION_SD_DAYS, n)
    remaining = np.maximum(0.0, remaining)
    grades = np.empty(n, dtype=object)
    for k in set(keys):
        m = np.array([x == k for x in keys])
        grades[m] = grade(k, remaining[m])
    return pl.DataFrame({"lot_id": lots["lot_id"], "shelf_life_at_harvest_days": at_harvest,
                         "consumed_days": consumed, "remaining_days": remaining,
                         "grade": pl.Series(grades.tolist(), dtype=pl.String)})


__all__ = ["CA_FACTOR_RANGES", "ProductWorld", "SEASON_LOSS_RANGES", "World", "arrival_quality", "default_world",
           "draw_world"]
