"""The simulator's mechanism parameters, learned from history before the as-of date.

Every parameter is a :class:`Param`: a central value, where it came from and how uncertain it is. The
simulator draws it run by run, so its uncertainty shows in the P10–P90 band. Where it comes from, in order:

1. **Earlier episodes of the same kind** (public record, :data:`analytics.geo.DISRUPTIONS`) that ended before
   the as-of date: a 2024 Callao congestion learns from the 2022 one. The episode's *exposed* orders (treated)
   are compared with orders that were not exposed (control): for a port spell, imported goods from Lima
   against the other goods from Lima on the same days; for a road blockade or a flood, road shipments into
   the episode's regions against the same regions on the same calendar days of another year (else the weeks
   just before). A held share ``h`` and a mean wait ``m`` are fitted by maximum likelihood to the delivery
   days: ``treated ≈ (1 − h) · control + h · (control + Exp(m))`` (a wait adds whole days to a delivery that
   had a uniform fraction of a day left), with bootstrap standard errors. The fit is then read as the
   mechanism's parameters (for a blockade: the share of days cut from the city deliveries' hold and the open
   spell from the wait; for a flood: the hold left after the cut road's share, per intensity level).
2. **A documented prior** (:mod:`analytics.scenarios.inputs`) when the data has no earlier episode of the kind;
   its spread is wide enough to show what we do not know.

Nothing here reads the demo generator: only orders dated before the as-of date and the public record.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import narwhals as nw
import numpy as np

from analytics import geo
from analytics.scenarios import inputs

MAX_DAYS = 40  # delivery-day histogram bins (longer deliveries share the last bin)
BOOTSTRAP = 40
MIN_ORDERS = 60  # fewer treated or control orders than this: the episode teaches nothing
# Two episodes of the same kind are not identical: a learned parameter keeps at least this relative spread.
EPISODE_SPREAD = 0.15
_H_GRID = np.linspace(0.0, 1.0, 101)
_M_GRID = np.geomspace(0.1, 15.0, 90)


@dataclass(frozen=True)
class Param:
    """One mechanism parameter. ``dist``: ``fixed``; ``lognormal`` (``spread`` = sigma of the log);
    ``beta`` (a share; ``spread`` = concentration, higher is narrower); ``uniform`` (value × (1 ± spread))."""

    value: float
    source: str
    dist: str = "fixed"
    spread: float = 0.0

    def draw(self, rng: np.random.Generator, size: int | tuple[int, ...]) -> np.ndarray:
        v = float(self.value)
        if self.dist == "lognormal":
            return v * np.exp(self.spread * rng.standard_normal(size))
        if self.dist == "beta":
            k = max(self.spread, 1e-3)
            return rng.beta(max(k * v, 1e-3), max(k * (1 - v), 1e-3), size)
        if self.dist == "uniform":
            return v * rng.uniform(1 - self.spread, 1 + self.spread, size)
        return np.full(size, v)

    def draw_one(self, rnd: Any) -> float:
        """One draw with a ``random.Random`` (the plain-loop reference simulator)."""
        v = float(self.value)
        if self.dist == "lognormal":
            return v * math.exp(self.spread * rnd.gauss(0, 1))
        if self.dist == "beta":
            k = max(self.spread, 1e-3)
            return float(rnd.betavariate(max(k * v, 1e-3), max(k * (1 - v), 1e-3)))
        if self.dist == "uniform":
            return v * rnd.uniform(1 - self.spread, 1 + self.spread)
        return v

    def band(self) -> tuple[float, float]:
        """P10 and P90 of the parameter (a fixed draw, the same every call)."""
        x = self.draw(np.random.default_rng(0), 20_000)
        return float(np.quantile(x, 0.1)), float(np.quantile(x, 0.9))

    def to_dict(self) -> dict[str, Any]:
        lo, hi = self.band()
        return {"value": round(self.value, 4), "source": self.source, "p10": round(lo, 4), "p90": round(hi, 4)}


def priors() -> dict[str, Param]:
    """The documented priors (:mod:`analytics.scenarios.inputs`), used when the data has no earlier episode."""
    return {
        "blockade_cut_share": Param(inputs.BLOCKADE_CUT_SHARE_PRIOR, "prior", "beta", inputs.CUT_SHARE_CONCENTRATION),
        "open_spell_days": Param(inputs.OPEN_SPELL_DAYS, "prior", "lognormal", inputs.OPEN_SPELL_SIGMA),
        # highways cut by floods or closures (not pickets): never learned from blockades
        "corridor_open_spell_days": Param(inputs.OPEN_SPELL_DAYS, "prior", "lognormal", inputs.OPEN_SPELL_SIGMA),
        "air_shift_share": Param(inputs.AIR_SHIFT_PRIOR, "prior", "uniform", inputs.AIR_SHIFT_SPREAD),
        "urban_exposure": Param(inputs.URBAN_EXPOSURE, "prior"),
        "flood_hit_per_level": Param(inputs.RAIN_HIT_PER_LEVEL, "prior", "uniform", inputs.RAIN_HIT_SPREAD),
        "flood_wait_days": Param(inputs.FLOOD_WAIT_DAYS, "prior", "lognormal", inputs.FLOOD_WAIT_SIGMA),
        "port_hold_share": Param(inputs.PORT_HOLD_SHARE_PRIOR, "prior", "beta", inputs.PORT_HOLD_CONCENTRATION),
        "port_hold_days": Param(inputs.PORT_HOLD_DAYS_PRIOR, "prior", "lognormal", inputs.PORT_HOLD_SIGMA),
    }


# --- the hold fit ---------------------------------------------------------------------------------

def _shift_pmf(m: float) -> np.ndarray:
    """Whole days added by an Exp(m) wait to a delivery with a uniform fraction of a day left:
    P(K >= k) = m e^(-k/m) (e^(1/m) - 1) for k >= 1."""
    k = np.arange(MAX_DAYS + 1, dtype=float)
    sf = np.minimum(m * np.exp(-k / m) * np.expm1(1.0 / m), 1.0)
    sf[0] = 1.0
    pmf = sf - np.append(sf[1:], 0.0)
    return np.clip(pmf, 0.0, None)


_SHIFTS = np.stack([_shift_pmf(float(m)) for m in _M_GRID])  # [M, K]


def _held_pmfs(control: np.ndarray) -> np.ndarray:
    """For every mean wait of the grid: the delivery-day distribution of a held order. [M, D]"""
    p = control / max(control.sum(), 1e-12)
    out = np.zeros((_M_GRID.size, p.size))
    for d in np.flatnonzero(p):
        k = p.size - d
        out[:, d:] += p[d] * _SHIFTS[:, :k]
    out[:, -1] += 1.0 - out.sum(1)  # the tail beyond the last bin
    return np.clip(out, 1e-12, None)


def _mle(control: np.ndarray, treated: np.ndarray) -> tuple[float, float]:
    """The grid point (share held, mean wait) of highest likelihood for the treated histogram. Only the days some
    treated order took enter the log-likelihood (the others have weight 0): ~3x fewer logs than every bin,
    same grid point (checked on 400 simulated holds)."""
    p = np.clip(control / max(control.sum(), 1e-12), 1e-12, None)
    held = _held_pmfs(control)  # [M, D]
    seen = np.flatnonzero(treated)
    mix = (1 - _H_GRID)[:, None, None] * p[None, None, seen] + _H_GRID[:, None, None] * held[None, :, seen]
    ll = np.log(mix) @ treated[seen]  # [H, M]
    i, j = np.unravel_index(int(np.argmax(ll)), ll.shape)
    return float(_H_GRID[i]), float(_M_GRID[j])


@dataclass(frozen=True)
class HoldFit:
    """A fitted hold: share of exposed orders held, mean wait (days), their bootstrap standard errors."""

    share: float
    wait_days: float
    share_se: float
    wait_se: float
    treated: int
    control: int


def fit_hold(control: np.ndarray, treated: np.ndarray, seed: int = 0) -> HoldFit:
    """Fit ``treated ≈ (1 − h) · control + h · (control + Exp(m))`` on delivery-day histograms (index = days)."""
    control = np.asarray(control, float)
    treated = np.asarray(treated, float)
    h, m = _mle(control, treated)
    rng = np.random.default_rng(seed)
    nc, nt = int(control.sum()), int(treated.sum())
    hs, ms = [], []
    for _ in range(BOOTSTRAP):
        c = rng.multinomial(nc, control / nc).astype(float)
        t = rng.multinomial(nt, treated / nt).astype(float)
        bh, bm = _mle(c, t)
        hs.append(bh)
        ms.append(bm)
    return HoldFit(h, m, float(np.std(hs)), float(np.std(ms)), nt, nc)


def _histogram(frame: Any) -> np.ndarray:
    out = np.zeros(MAX_DAYS + 1)
    if frame.height:
        d = np.clip(frame["d"].to_numpy().astype(int), 0, MAX_DAYS)
        np.add.at(out, d, frame["n"].to_numpy().astype(float))
    return out


def _days_histogram(engine: Any, lf: Any) -> np.ndarray:
    res = engine.collect(lf.group_by("actual_days").agg(nw.len().alias("n")).rename({"actual_days": "d"}))
    return _histogram(res)


# --- which orders an episode exposed, and their control -------------------------------------------

def _orders(engine: Any, start: date, end: date) -> Any:
    lf = engine.table("orders")
    return lf.filter(nw.col("order_date") >= start, nw.col("order_date") <= end,
                     nw.col("region").is_in(list(geo.REGION_CODES)), ~nw.col("actual_days").is_null())


def _episodes_before(kind: str, as_of: date) -> list[dict[str, Any]]:
    return [e for e in geo.DISRUPTIONS if e["kind"] == kind and date.fromisoformat(e["end"]) < as_of]


def _overlaps_episode(start: date, end: date, regions: tuple[str, ...]) -> bool:
    for e in geo.DISRUPTIONS:
        s, t = date.fromisoformat(e["start"]), date.fromisoformat(e["end"])
        if s <= end and start <= t and set(e["regions"]) & set(regions):
            return True
    return False


def _shift_year(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:  # 29 February
        return d.replace(year=d.year + years, day=28)


def control_window(engine: Any, start: date, end: date, regions: tuple[str, ...], as_of: date,
                   data_start: date) -> tuple[date, date, str]:
    """The same calendar days one year later (if before the as-of date) or earlier (if in the data) when no
    episode touched the regions then; else the weeks just before the episode."""
    for years in (1, -1, 2, -2):
        s, t = _shift_year(start, years), _shift_year(end, years)
        if s >= data_start and t < as_of and not _overlaps_episode(s, t, regions):
            return s, t, f"same days {s.year}"
    length = (end - start).days + 1
    s = max(start - timedelta(days=length), data_start)
    return s, start - timedelta(days=1), "weeks before"


def _road(lf: Any) -> Any:
    return lf.filter(nw.col("shipping_mode").is_in(["standard", "express"]))


def _lima_dcs() -> list[str]:
    return [d.dc_id for d in geo.DCS if d.region in ("PE-CAL", "PE-LIM")]


def port_fit(engine: Any, episode: dict[str, Any]) -> HoldFit | None:
    """Imported goods from Lima against the other goods from Lima, the same days."""
    s, t = date.fromisoformat(episode["start"]), date.fromisoformat(episode["end"])
    lf = _orders(engine, s, t).filter(nw.col("origin_dc").is_in(_lima_dcs()))
    imported = nw.col("category").is_in(list(inputs.IMPORTED_CATEGORIES))
    treated, control = _days_histogram(engine, lf.filter(imported)), _days_histogram(engine, lf.filter(~imported))
    if treated.sum() < MIN_ORDERS or control.sum() < MIN_ORDERS:
        return None
    return fit_hold(control, treated)


def road_fit(engine: Any, episode: dict[str, Any], as_of: date, data_start: date,
             trips: str = "all") -> tuple[HoldFit, str] | None:
    """Road shipments into the episode's regions against the same regions in the control window; ``trips``:
    ``all``, ``long`` (≥ 30 km) or ``local`` (city deliveries, < 30 km)."""
    s, t = date.fromisoformat(episode["start"]), date.fromisoformat(episode["end"])
    regions = tuple(episode["regions"])
    cs, ct, how = control_window(engine, s, t, regions, as_of, data_start)

    def hist(a: date, b: date) -> np.ndarray:
        lf = _road(_orders(engine, a, b).filter(nw.col("region").is_in(list(regions))))
        if trips == "long":
            lf = lf.filter(nw.col("distance_km").fill_null(0.0) >= inputs.LOCAL_KM)
        elif trips == "local":
            lf = lf.filter(nw.col("distance_km").fill_null(0.0) < inputs.LOCAL_KM)
        return _days_histogram(engine, lf)

    treated, control = hist(s, t), hist(cs, ct)
    if treated.sum() < MIN_ORDERS or control.sum() < MIN_ORDERS:
        return None
    return fit_hold(control, treated), how


def cut_from_holds(long: HoldFit, local: HoldFit | None, urban: float) -> tuple[float, float]:
    """The share of days cut ``c`` and the open spell ``o`` (days) read from an episode's fitted holds in the
    simulator's terms: a city delivery is held with probability ``urban · c`` (so ``c`` comes from the city
    deliveries' hold when there are enough of them, else from the long-haul hold), and a held shipment waits
    ``c / (1 − c) · o`` days on average (so ``o`` comes from the long-haul wait)."""
    c = local.share / urban if local is not None and local.share > 0 else long.share
    c = float(np.clip(c, 0.02, 0.95))
    return c, float(max(long.wait_days * (1 - c) / c, 0.1))


def _beta_from(value: float, se: float) -> float:
    """A Beta concentration with this mean and the fit's standard error combined with the episode-to-episode
    spread."""
    sd = max(math.hypot(se, EPISODE_SPREAD * min(value, 1 - value)), 1e-3)
    return float(np.clip(value * (1 - value) / sd ** 2 - 1, 4.0, 400.0))


def _lognormal_from(value: float, se: float) -> float:
    return float(math.hypot(se / max(value, 1e-6), EPISODE_SPREAD))


def _air_share_change(engine: Any, episode: dict[str, Any], s: date, t: date, cs: date, ct: date) -> float | None:
    """Share of long-haul road-eligible orders into the regions moved to air during the episode."""
    def share(a: date, b: date) -> tuple[float, int]:
        lf = _orders(engine, a, b).filter(nw.col("region").is_in(list(episode["regions"])),
                                          nw.col("shipping_mode").is_in(["standard", "express", "air"]))
        res = engine.collect(lf.select((nw.col("shipping_mode") == "air").cast(nw.Float64).mean().alias("a"),
                                       nw.len().alias("n")))
        return float(res["a"][0] or 0.0), int(res["n"][0])

    ep, n_ep = share(s, t)
    ctl, n_ctl = share(cs, ct)
    if n_ep < MIN_ORDERS or n_ctl < MIN_ORDERS:
        return None
    long_share = _long_share(engine, episode, cs, ct)
    return float(np.clip((ep - ctl) / max(1 - ctl, 1e-3) / max(long_share, 0.05), 0.0, 0.6))


def _long_share(engine: Any, episode: dict[str, Any], a: date, b: date) -> float:
    lf = _road(_orders(engine, a, b).filter(nw.col("region").is_in(list(episode["regions"]))))
    res = engine.collect(lf.select((nw.col("distance_km").fill_null(0.0) > inputs.AIR_SHIFT_MIN_KM)
                                   .cast(nw.Float64).mean().alias("x")))
    return float(res["x"][0] or 0.0) if res.height else 0.0


def _local_share(engine: Any, episode: dict[str, Any], a: date, b: date) -> float:
    lf = _road(_orders(engine, a, b).filter(nw.col("region").is_in(list(episode["regions"]))))
    res = engine.collect(lf.select((nw.col("distance_km").fill_null(0.0) < inputs.LOCAL_KM)
                                   .cast(nw.Float64).mean().alias("x")))
    return float(res["x"][0] or 0.0) if res.height else 0.0


def _mean(values: Sequence[float], weights: Sequence[float]) -> float:
    w = np.asarray(weights, float)
    return float(np.average(np.asarray(values, float), weights=w)) if w.sum() > 0 else float(np.mean(values))


def learn(engine: Any, as_of: date, data_start: date) -> tuple[dict[str, Param], list[str]]:
    """Every mechanism parameter for a network as of ``as_of`` (see the module docstring), and notes."""
    params = priors()
    notes: list[str] = []

    ports: list[tuple[dict[str, Any], HoldFit]] = []
    for e in _episodes_before("port_congestion", as_of):
        fit = port_fit(engine, e)
        if fit is not None:
            ports.append((e, fit))
    if ports:
        names = ",".join(e["episode"] for e, _ in ports)
        w = [f.treated for _, f in ports]
        h = _mean([f.share for _, f in ports], w)
        m = _mean([f.wait_days for _, f in ports], w)
        h_se = _mean([f.share_se for _, f in ports], w)
        m_se = _mean([f.wait_se for _, f in ports], w)
        params["port_hold_share"] = Param(h, names, "beta", _beta_from(h, h_se))
        params["port_hold_days"] = Param(m, names, "lognormal", _lognormal_from(m, m_se))
        notes.append(f"port congestion learned from {names}: {h:.0%} of imported goods held, {m:.1f} days")

    blockades = []
    urban = params["urban_exposure"].value
    for e in _episodes_before("road_blockade", as_of):
        fitted = road_fit(engine, e, as_of, data_start, trips="long")
        if fitted is None:
            continue
        fit, how = fitted
        local = road_fit(engine, e, as_of, data_start, trips="local")
        s, t = date.fromisoformat(e["start"]), date.fromisoformat(e["end"])
        c, o = cut_from_holds(fit, local[0] if local else None, urban)
        cs, ct, _ = control_window(engine, s, t, tuple(e["regions"]), as_of, data_start)
        blockades.append((e, fit, c, o, _air_share_change(engine, e, s, t, cs, ct), how))
    if blockades:
        names = ",".join(b[0]["episode"] for b in blockades)
        w = [b[1].treated for b in blockades]
        c = _mean([b[2] for b in blockades], w)
        o = _mean([b[3] for b in blockades], w)
        se_c = _mean([b[1].share_se / urban for b in blockades], w)
        se_o = _mean([b[1].wait_se / max(b[1].wait_days, 1e-3) * b[3] for b in blockades], w)
        params["blockade_cut_share"] = Param(c, names, "beta", _beta_from(c, se_c))
        params["open_spell_days"] = Param(o, names, "lognormal", _lognormal_from(o, se_o))
        airs = [b[4] for b in blockades if b[4] is not None]
        if airs:
            a = float(np.mean(airs))
            params["air_shift_share"] = Param(a, names, "uniform", 0.3)
        notes.append(f"road cuts learned from {names} ({blockades[0][5]}): roads cut {c:.0%} of days, "
                     f"open spells of {o:.1f} days")

    floods = []
    for e in _episodes_before("flood", as_of):
        fitted = road_fit(engine, e, as_of, data_start)
        if fitted is None:
            continue
        fit, how = fitted
        level, cut_share = inputs.FLOOD_EPISODE_LEVEL, inputs.FLOOD_EPISODE_CUT_SHARE
        s, t = date.fromisoformat(e["start"]), date.fromisoformat(e["end"])
        ls = _local_share(engine, e, s, t)
        urban = params["urban_exposure"].value
        # the cut road's part of the hold (long-haul trips meet it, city deliveries only partly)
        cut_part = (1 - ls) * cut_share + ls * urban * cut_share
        floods.append((e, fit, max(fit.share - cut_part, 0.0) / max(1 - cut_part, 1e-3) / level, fit.wait_days))
    if floods:
        names = ",".join(f[0]["episode"] for f in floods)
        w = [f[1].treated for f in floods]
        hit = _mean([f[2] for f in floods], w)
        wait = _mean([f[3] for f in floods], w)
        se = _mean([f[1].share_se / inputs.FLOOD_EPISODE_LEVEL for f in floods], w)
        params["flood_hit_per_level"] = Param(hit, names, "uniform", float(np.clip(
            math.hypot(se / max(hit, 1e-3), EPISODE_SPREAD) * math.sqrt(3), 0.1, 0.9)))
        params["flood_wait_days"] = Param(wait, names, "lognormal",
                                          _lognormal_from(wait, _mean([f[1].wait_se for f in floods], w)))
        notes.append(f"floods learned from {names}: {hit:.0%} of road shipments held per intensity level, "
                     f"{wait:.1f} days")
    return params, notes


__all__ = ["HoldFit", "Param", "control_window", "cut_from_holds", "fit_hold", "learn", "port_fit", "priors",
           "road_fit"]
