"""Features of a lot's cold chain for the shelf-life models.

Readings are irregular in real data (an EPCIS sensor report every few hours, nothing between events),
so each reading stands for the time until the next one, at most :data:`MAX_HOLD_H`; longer gaps count
as *unobserved* time, which ages the fruit at the optimum rate (elapsed time) but is never counted as
an excursion ("cannot check" is not "failed"). The last reading holds until arrival, with the same cap.

Exposure features (each ≥ 0 and never smaller when more time is added; the Keras net and the
gradient-boosting models are constrained to lower the forecast monotonically in them):

- ``transit_days``: harvest to arrival;
- ``kinetic_loss_days``: physics loss beyond the elapsed time with the default parameters
  (:func:`analytics.shelflife.kinetics.kinetic_loss_days`);
- ``degree_hours_above_opt``: °C·h above the product's optimum;
- ``hours_out_of_range``: hours outside the cold-chain band of ``analytics.traceability.agro_chains``;
- ``chill_degree_hours``: °C·h below the chilling/freezing-injury threshold.

Context features: ``product``, ``route`` (origin, destination, mode), and the harvest date as
``season_pos`` (0 at the start of the export season, 1 at its end) and its day of year on a circle.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analytics.shelflife.kinetics import PRODUCTS, chill_degrees, product, relative_rate, season_position
from analytics.traceability.agro_chains import CROPS

MAX_HOLD_H = 4.0
CATEGORICAL = ("product", "route")
CONTEXT_NUMERIC = ("season_pos", "season_sin", "season_cos")
EXPOSURE = ("transit_days", "kinetic_loss_days", "degree_hours_above_opt", "hours_out_of_range",
            "chill_degree_hours")
FEATURES = CATEGORICAL + CONTEXT_NUMERIC + EXPOSURE
EXPOSURE_COLUMNS = ("lot_id", *EXPOSURE, "hours_observed", "hours_unobserved", "max_temp_c", "min_temp_c")


def _band(key: str) -> tuple[float, float]:
    crop = CROPS.get(key)
    if crop is None or crop.temp_min_c is None or crop.temp_max_c is None:
        raise ValueError(f"product {key!r} has no cold-chain band")
    return crop.temp_min_c, crop.temp_max_c


def reading_durations(lot_pos: np.ndarray, hours: np.ndarray, end_hours: np.ndarray,
                      max_hold_h: float = MAX_HOLD_H) -> tuple[np.ndarray, np.ndarray]:
    """(held hours per reading, unobserved hours per lot) for readings sorted by (lot, time).

    ``lot_pos[i]`` is the index of reading i's lot in ``end_hours`` (harvest-to-arrival hours per lot).
    """
    n_lots = end_hours.size
    if hours.size == 0:
        return np.zeros(0), end_hours.astype(float).copy()
    nxt = np.empty_like(hours)
    nxt[:-1] = hours[1:]
    last = np.ones(hours.size, bool)
    last[:-1] = lot_pos[1:] != lot_pos[:-1]
    nxt[last] = end_hours[lot_pos[last]]
    dt = nxt - hours
    if (dt < -1e-9).any():
        bad = int(lot_pos[np.flatnonzero(dt < -1e-9)[0]])
        raise ValueError(f"lot #{bad}: readings out of order or after the arrival time")
    if (hours < -1e-9).any():
        raise ValueError("readings before harvest (negative hours)")
    dt = np.maximum(dt, 0.0)
    held = np.minimum(dt, max_hold_h)
    first = np.ones(hours.size, bool)
    first[1:] = lot_pos[1:] != lot_pos[:-1]
    before = np.bincount(lot_pos[first], weights=hours[first], minlength=n_lots)  # harvest to first reading
    gaps = np.bincount(lot_pos, weights=dt - held, minlength=n_lots)
    no_readings = np.bincount(lot_pos, minlength=n_lots) == 0
    unobserved = before + gaps
    unobserved[no_readings] = end_hours[no_readings]
    return held, unobserved


def exposures(readings: pl.DataFrame, lots: pl.DataFrame) -> pl.DataFrame:
    """One row per lot (in ``lots`` order) with the exposure features and observation counts.

    ``readings``: ``lot_id``, ``hours`` (since harvest), ``temp_c``; ``lots``: ``lot_id``, ``product``,
    ``transit_hours`` (harvest to arrival).
    """
    for col in ("lot_id", "product", "transit_hours"):
        if col not in lots.columns:
            raise ValueError(f"lots need a {col!r} column")
    for col in ("lot_id", "hours", "temp_c"):
        if col not in readings.columns:
            raise ValueError(f"readings need a {col!r} column")
    if lots["lot_id"].n_unique() != lots.height:
        raise ValueError("lot_id must be unique in lots")
    for key in lots["product"].unique().to_list():
        product(key)
    order = pl.DataFrame({"lot_id": lots["lot_id"], "_pos": np.arange(lots.height)})
    r = readings.select("lot_id", "hours", "temp_c").join(order, on="lot_id", how="inner").sort("_pos", "hours")
    if r.height < readings.height:
        raise ValueError(f"{readings.height - r.height} readings belong to no lot in the lots table")
    if r["temp_c"].is_null().any() or r["hours"].is_null().any():
        raise ValueError("readings with a missing time or temperature")
    pos = r["_pos"].to_numpy()
    hours = r["hours"].to_numpy().astype(float)
    temps = r["temp_c"].to_numpy().astype(float)
    end = lots["transit_hours"].to_numpy().astype(float)
    if not np.isfinite(end).all() or (end < 0).any():
        raise ValueError("transit_hours must be finite and ≥ 0")
    held, unobserved = reading_durations(pos, hours, end)
    keys = lots["product"].to_list()
    prods = [PRODUCTS[k] for k in keys]
    opt = np.array([p.optimum_c for p in prods])[pos]
    thr = np.array([p.chill_threshold_c for p in prods])[pos]
    kchill = np.array([p.chill_days_per_degree_day for p in prods])[pos]
    bands = np.array([_band(k) for k in keys]).reshape(-1, 2)
    lo, hi = bands[pos, 0], bands[pos, 1]
    excess = (relative_rate(temps, opt) - 1.0) * held
    chill = chill_degrees(temps, thr) * held
    n = lots.height

    def per_lot(w: np.ndarray) -> np.ndarray:
        return np.bincount(pos, weights=w, minlength=n)

    tmax = np.full(n, np.nan)
    tmin = np.full(n, np.nan)
    if temps.size:
        np.fmax.at(tmax, pos, temps)
        np.fmin.at(tmin, pos, temps)
    return pl.DataFrame({
        "lot_id": lots["lot_id"],
        "transit_days": end / 24.0,
        "kinetic_loss_days": per_lot(excess) / 24.0 + per_lot(kchill * chill) / 24.0,
        "degree_hours_above_opt": per_lot(np.maximum(0.0, temps - opt) * held),
        "hours_out_of_range": per_lot(((temps < lo) | (temps > hi)) * held),
        "chill_degree_hours": per_lot(chill),
        "hours_observed": per_lot(held),
        "hours_unobserved": unobserved,
        "max_temp_c": tmax,
        "min_temp_c": tmin,
    })


def feature_frame(lots: pl.DataFrame, exposure: pl.DataFrame) -> pl.DataFrame:
    """The model's features (``FEATURES``, in order) for lots with ``product``, ``route``,
    ``harvest_month``, ``harvest_day`` and their :func:`exposures` rows (same order)."""
    if exposure.height != lots.height or exposure["lot_id"].to_list() != lots["lot_id"].to_list():
        raise ValueError("exposures must have one row per lot, in the same order")
    months = lots["harvest_month"].to_numpy()
    days = lots["harvest_day"].to_numpy()
    keys = lots["product"].to_list()
    pos = np.zeros(lots.height)
    for key in set(keys):
        m = np.array([k == key for k in keys])
        pos[m] = season_position(key, months[m], days[m])
    doy = (months - 1) * 30.44 + days
    ang = 2 * np.pi * doy / 365.25
    return pl.DataFrame({
        "product": lots["product"], "route": lots["route"], "season_pos": pos,
        "season_sin": np.sin(ang), "season_cos": np.cos(ang),
        **{c: exposure[c] for c in EXPOSURE}})


def physics_baseline(features: pl.DataFrame) -> np.ndarray:
    """Physics-only remaining days: default nominal − transit days − default kinetic loss (≥ 0)."""
    nominal = np.array([product(k).nominal_days for k in features["product"].to_list()])
    out = nominal - features["transit_days"].to_numpy() - features["kinetic_loss_days"].to_numpy()
    return np.maximum(0.0, out)


__all__ = [
    "CATEGORICAL", "CONTEXT_NUMERIC", "EXPOSURE", "EXPOSURE_COLUMNS", "FEATURES", "MAX_HOLD_H", "exposures",
    "feature_frame", "physics_baseline", "reading_durations",
]
