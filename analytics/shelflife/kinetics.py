"""Kinetic shelf-life model of Peru's perishable agro exports (the physics behind the shelf-life forecasts).

One number per lot is tracked: the *days of shelf life at the optimum temperature* the fruit still has.
At the optimum, one day in transit costs one day. Warmer, the fruit ages faster by the temperature
quotient Q10 (the rate multiplies by Q10 for every 10 °C), and the Q10 itself falls as it gets warmer,
as the USDA handbook tabulates for fresh produce:

=============  ============
temperature    Q10
=============  ============
0–10 °C        2.5–4.0
10–20 °C       2.0–2.5
20–30 °C       1.5–2.0
30–40 °C       1.0–1.5
=============  ============

(M. E. Saltveit, "Respiratory metabolism", in K. C. Gross, C. Y. Wang, M. Saltveit (eds.), *The
Commercial Storage of Fruits, Vegetables, and Florist and Nursery Stocks*, USDA-ARS Agriculture
Handbook 66; reproduced as table 20.3 in *Produce Degradation: Pathways and Prevention*, CRC Press
2005, ch. 20.) The relative rate at ``T`` is therefore the integral
``ln r(T) = ∫_{T_opt}^{T} ln Q10(θ) / 10 dθ`` of the band Q10s; at the default (mid-range) Q10s one
hour at 20 °C costs about 7 hours at 0 °C and one hour at 30 °C about 13 hours.

Colder than the optimum the fruit does not age faster, but chilling-sensitive fruit (avocado,
mango) and fruit near its freezing point (berries, grapes, asparagus) is injured below a threshold;
that costs ``chill_days_per_degree_day`` days per °C·day under the threshold. The chilling thresholds
come from the sources below; the loss rate per °C·day is a demo assumption (no single published
figure exists), which is why its range is wide.

Per product (all values in :data:`PRODUCTS`, each with its sources):

- ``optimum_c``: recommended carrying temperature (the reefer set point).
- ``nominal_days`` and ``nominal_range``: shelf life at the optimum in export packaging (modified-
  atmosphere liners for berries, SO2 pads for grapes). The handbooks give storage life in air; export
  packaging extends it, so the ranges are wide and the default is their middle.
- ``min_market_days``: days of life a buyer needs at arrival for distribution, retail and the consumer
  (a commercial parameter, not a published constant; below it a lot is *at risk*).
- ``season_months``: Peru's export harvest window (first and last month, may wrap over New Year).

What is *not* in this physics model (and is in :mod:`analytics.shelflife.truth`): the real parameter
values of a given world (seed), late-season fruit having less life, controlled-atmosphere containers
slowing decay on long voyages, and lot-to-lot variation. The physics-only baseline is
``nominal_days - transit_days - kinetic_loss_days`` with the defaults here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

# Q10 temperature bands (°C, lower edge inclusive): (upper edge, default, (low, high)) from HB66.
Q10_BAND_EDGES: tuple[float, ...] = (10.0, 20.0, 30.0)  # bands: <10, 10–20, 20–30, ≥30
Q10_RANGES: tuple[tuple[float, float], ...] = ((2.5, 4.0), (2.0, 2.5), (1.5, 2.0), (1.0, 1.5))
Q10_DEFAULTS: tuple[float, ...] = tuple(round((lo + hi) / 2, 3) for lo, hi in Q10_RANGES)

UCD = "UC Davis Postharvest Research and Extension Center, Produce Facts sheets"


@dataclass(frozen=True)
class ProductKinetics:
    """Default kinetic parameters of one product, with the published ranges the truth draws from."""

    key: str  # crop key in analytics.traceability.agro_chains.CROPS
    name_es: str
    name_en: str
    optimum_c: float
    nominal_days: float
    nominal_range: tuple[float, float]
    chill_threshold_c: float
    chill_days_per_degree_day: float
    chill_range: tuple[float, float]
    min_market_days: float
    season_months: tuple[int, int]
    q10: tuple[float, ...] = Q10_DEFAULTS
    sources: tuple[str, ...] = field(default=())


PRODUCTS: dict[str, ProductKinetics] = {p.key: p for p in (
    ProductKinetics(
        "blueberry", "Arándano", "Blueberries", optimum_c=0.0, nominal_days=38.0, nominal_range=(31.0, 45.0),
        chill_threshold_c=-1.0, chill_days_per_degree_day=1.0, chill_range=(0.5, 1.5), min_market_days=10.0,
        season_months=(8, 12),
        sources=("Extension guides (e.g. NC Cooperative Extension, postharvest handling of blueberries): "
                 "0.5–1 °C, 90–95 % RH, storage life 2–3 weeks in air; hot harvest weather promotes ripening",
                 "Sustainability 10(11):3916 (2018): modified-atmosphere liners (Xtend) added 9–15 days over air",
                 "Jackson et al., Postharvest Biol. Technol. 15:117–126 (1999): delays before cooling",
                 "Demo assumption above the air-storage figures: Peru's export blueberries still reach Asian "
                 "markets after 4–5 weeks at sea")),
    ProductKinetics(
        "avocado", "Palta Hass", "Hass avocados", optimum_c=5.0, nominal_days=35.0, nominal_range=(28.0, 42.0),
        chill_threshold_c=3.0, chill_days_per_degree_day=0.6, chill_range=(0.3, 1.0), min_market_days=7.0,
        season_months=(4, 9),
        sources=(f"{UCD}, Avocado (Kader & Arpaia): mature-green 5–13 °C by cultivar; chilling injury at 0–2 °C; "
                 "late-season fruit ripens faster (12 h vs 48 h of ethylene)",
                 "FDA/foodrisk.org PPOD, avocado: Hass 5–7 °C early season, 4–5.5 °C late season",
                 "Cargo Handbook, Avocados: Hass 5–8 °C, storage life 2–3 weeks; CA 2–5 % O2 + 3–10 % CO2")),
    ProductKinetics(
        "grape", "Uva de mesa", "Table grapes", optimum_c=-0.5, nominal_days=56.0, nominal_range=(42.0, 70.0),
        chill_threshold_c=-1.5, chill_days_per_degree_day=1.0, chill_range=(0.5, 1.5), min_market_days=14.0,
        season_months=(10, 2),
        sources=("Handling guides: −1 to 0 °C (about 30–32 °F), 90–95 % RH, SO2 fumigation or SO2 pads",
                 "Higuchi et al., Plants 13(19):2827 (2024): SO2-pad grapes 45 d at 1 °C plus 3 d shelf life",
                 "Isofruit storage guide, table grapes: −0.5 to 0 °C, 4–10 weeks")),
    ProductKinetics(
        "asparagus", "Espárrago verde", "Green asparagus", optimum_c=1.0, nominal_days=19.0,
        nominal_range=(14.0, 24.0), chill_threshold_c=0.0, chill_days_per_degree_day=0.8, chill_range=(0.4, 1.2),
        min_market_days=5.0, season_months=(1, 12),
        sources=(f"{UCD}, Asparagus (Suslow): 0–2 °C, 95–100 % RH, 14–21 days at 2 °C, up to 31 days with "
                 "modified atmosphere; 10–12 days in air at 0 °C may cause chilling injury",
                 "Klieber & Wills, Aust. J. Exp. Agric. 32:529–534 (1992): optimum 1.5 °C; later in the season "
                 "spears lost up to 3 of 4 weeks of storage life; CA added about 1 week")),
    ProductKinetics(
        "mango", "Mango Kent", "Kent mangoes", optimum_c=10.0, nominal_days=30.0, nominal_range=(24.0, 36.0),
        chill_threshold_c=9.0, chill_days_per_degree_day=0.8, chill_range=(0.4, 1.2), min_market_days=5.0,
        season_months=(11, 3),
        sources=("Handling guides (UC Davis Produce Facts, cargo guides): mature-green 10–13 °C, 2–4 weeks; "
                 "chilling injury below about 10 °C",
                 "Cargo/handling guides: 8–10 °C gives 3–4 weeks for chilling-tolerant cultivars (Kent)",
                 "Demo assumption: export fruit is ripened at destination, so a buyer needs about 5 days")),
)}


class UnknownProduct(ValueError):
    """A product without a shelf-life model (not perishable, or not one of PRODUCTS)."""


def product(key: str) -> ProductKinetics:
    try:
        return PRODUCTS[key]
    except KeyError:
        raise UnknownProduct(
            f"no shelf-life model for product {key!r} (perishable products: {', '.join(sorted(PRODUCTS))})"
        ) from None


def relative_rate(temp_c: np.ndarray | float, optimum_c: float | np.ndarray,
                  q10: tuple[float, ...] | np.ndarray = Q10_DEFAULTS) -> np.ndarray:
    """Ageing rate relative to the optimum: 1 at or below the optimum, Q10-banded above it.

    ``q10`` is either the four band values (shared by every reading) or an array of shape (n, 4).
    """
    t = np.asarray(temp_c, dtype=float)
    opt = np.broadcast_to(np.asarray(optimum_c, dtype=float), t.shape)
    hi = np.maximum(t, opt)
    q = np.asarray(q10, dtype=float)
    lnq = np.log(q) / 10.0
    lows = (-np.inf, *Q10_BAND_EDGES)
    highs = (*Q10_BAND_EDGES, np.inf)
    expo = np.zeros(t.shape)
    for b, (lo, up) in enumerate(zip(lows, highs, strict=True)):
        overlap = np.clip(hi, lo, up) - np.clip(opt, lo, up)
        expo = expo + overlap * (lnq[..., b] if q.ndim > 1 else lnq[b])
    return np.exp(expo)


def chill_degrees(temp_c: np.ndarray | float, threshold_c: float | np.ndarray) -> np.ndarray:
    """°C below the chilling/freezing-injury threshold (0 above it)."""
    return np.maximum(0.0, np.asarray(threshold_c, dtype=float) - np.asarray(temp_c, dtype=float))


def kinetic_loss_days(temps_c: np.ndarray, hours: np.ndarray, prod: ProductKinetics,
                      q10: tuple[float, ...] | None = None, chill_per_degree_day: float | None = None) -> float:
    """Days of shelf life lost *beyond* the elapsed time (heat above the optimum plus chilling injury).

    ``hours[i]`` is how long the fruit spent at ``temps_c[i]``. Zero for a history at the optimum.
    """
    t = np.asarray(temps_c, dtype=float)
    h = np.asarray(hours, dtype=float)
    if t.shape != h.shape:
        raise ValueError("temps_c and hours must have the same length")
    if (h < 0).any():
        raise ValueError("durations must be ≥ 0")
    excess = (relative_rate(t, prod.optimum_c, q10 or prod.q10) - 1.0) * h
    chill = chill_degrees(t, prod.chill_threshold_c) * h
    k = prod.chill_days_per_degree_day if chill_per_degree_day is None else chill_per_degree_day
    return float(excess.sum() / 24.0 + k * chill.sum() / 24.0)


def physics_remaining_days(key: str, transit_days: np.ndarray | float,
                           kinetic_loss: np.ndarray | float) -> np.ndarray:
    """Physics-only remaining shelf life at arrival: nominal − transit − kinetic loss, never below 0."""
    p = product(key)
    return np.maximum(0.0, p.nominal_days - np.asarray(transit_days, float) - np.asarray(kinetic_loss, float))


def season_position(key: str, month: np.ndarray | int, day: np.ndarray | int) -> np.ndarray:
    """Where a harvest date falls in the product's export season: 0 at its start, 1 at its end.

    For a year-round crop (asparagus) it is the summer heat index instead: 1 in mid-February (the hottest
    weeks on Peru's coast), 0 in mid-August.
    """
    p = product(key)
    m = np.asarray(month, dtype=float)
    d = np.asarray(day, dtype=float)
    m0, m1 = p.season_months
    if (m0, m1) == (1, 12):
        doy = (m - 1) * 30.44 + d
        return (1.0 + np.cos(2 * np.pi * (doy - 45.0) / 365.25)) / 2.0
    length = ((m1 - m0) % 12) + 1  # months, wrapping over New Year
    pos = (((m - m0) % 12) + (d - 1) / 30.44) / length
    return np.clip(pos, 0.0, 1.0)


GRADES = ("A", "B", "C", "D")


def grade(key: str, remaining_days: np.ndarray | float) -> np.ndarray:
    """A: at least twice the minimum market life; B: at least the minimum; C: some life left; D: none."""
    p = product(key)
    r = np.asarray(remaining_days, dtype=float)
    return np.where(r >= 2 * p.min_market_days, "A",
                    np.where(r >= p.min_market_days, "B", np.where(r > 0.5, "C", "D")))


__all__ = [
    "GRADES", "PRODUCTS", "Q10_DEFAULTS", "Q10_RANGES", "ProductKinetics", "UnknownProduct", "chill_degrees",
    "grade", "kinetic_loss_days", "physics_remaining_days", "product", "relative_rate", "season_position",
]
