"""Deterministic synthetic demo data built on real Peruvian geography and real disruptions.

The generative model is documented in data/README.md; keep the two in step. Same seed and the
same number of orders give the same bytes. Everything is vectorised with NumPy so that one
million orders take seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from analytics import geo, storage
from analytics.schemas import LIMA_TZ

Progress = Callable[[str, float], None]  # (label, fraction done 0..1)

# The data starts three months before the first disruption episode (Callao, January 2022) so that every
# episode can be replayed with at least three months of history before it.
START = date(2021, 10, 1)
END = date(2024, 12, 31)
N_DAYS = (END - START).days + 1

CATEGORIES = ("electronics", "fashion", "home", "groceries", "health_beauty", "hardware", "toys", "sports")
# median unit price (S/) and unit weight (kg) by category
CATEGORY_PRICE = {"electronics": 850.0, "fashion": 110.0, "home": 240.0, "groceries": 55.0,
                  "health_beauty": 65.0, "hardware": 170.0, "toys": 85.0, "sports": 190.0}
CATEGORY_WEIGHT = {"electronics": 3.0, "fashion": 0.8, "home": 6.0, "groceries": 5.0,
                   "health_beauty": 0.5, "hardware": 8.0, "toys": 1.5, "sports": 3.0}
IMPORTED_CATEGORIES = ("electronics", "toys", "home")  # stock that comes through Callao
PRODUCTS_PER_CATEGORY = 40


@dataclass(frozen=True)
class Archetype:
    name: str
    share: float  # share of customers
    rate: float  # orders per active month
    basket: float  # quantity multiplier
    discount: float  # mean discount %
    promo_boost: float  # extra weight on Cyber Wow days
    express_bias: float  # multiplier on the chance of express/air
    lima_bias: float  # multiplier on Lima/Callao weight
    category_mix: tuple[float, ...]  # weights over CATEGORIES


ARCHETYPES: tuple[Archetype, ...] = (
    Archetype("champions", 0.07, 2.4, 2.6, 3.0, 1.0, 2.0, 1.6, (4, 2, 3, 2, 2, 3, 1, 2)),
    Archetype("loyal", 0.17, 0.85, 1.3, 5.0, 1.0, 1.0, 1.0, (2, 3, 3, 4, 3, 2, 2, 2)),
    Archetype("price_hunters", 0.20, 0.6, 0.7, 28.0, 6.0, 0.6, 1.0, (4, 5, 2, 1, 3, 1, 3, 2)),
    Archetype("occasional", 0.31, 0.1, 1.0, 6.0, 1.5, 1.0, 0.9, (2, 3, 3, 2, 2, 2, 2, 2)),
    Archetype("lapsed", 0.15, 0.7, 1.1, 7.0, 1.2, 1.0, 1.0, (2, 3, 3, 3, 2, 2, 2, 2)),
    Archetype("new", 0.10, 1.3, 1.0, 9.0, 1.5, 1.0, 1.1, (2, 3, 2, 3, 3, 1, 2, 2)),
)

ROAD_CARRIERS = ("Chaski Express", "Andes Cargo", "Rápido Inca", "Ruta Sur Transportes",
                 "Norte Cargo", "Selva Trans")
AIR_CARRIERS = ("Cóndor Air Cargo", "Amazonía Aérea")
RIVER_CARRIERS = ("Fluvial Amazonía", "Naviera Ucayali")
CARRIERS = ROAD_CARRIERS + AIR_CARRIERS + RIVER_CARRIERS
# Carrier delay factor by natural region of destination (costa, sierra, selva); >1 is slower.
CARRIER_FACTOR: dict[str, tuple[float, float, float]] = {
    "Chaski Express": (0.92, 1.05, 1.25),
    "Andes Cargo": (1.02, 0.90, 1.10),
    "Rápido Inca": (1.28, 1.35, 1.40),
    "Ruta Sur Transportes": (0.95, 0.97, 1.20),
    "Norte Cargo": (0.94, 1.12, 1.22),
    "Selva Trans": (1.15, 1.20, 0.95),
    "Cóndor Air Cargo": (0.92, 0.92, 0.95),
    "Amazonía Aérea": (1.10, 1.12, 1.08),
    "Fluvial Amazonía": (1.0, 1.0, 1.0),
    "Naviera Ucayali": (1.22, 1.22, 1.22),
}
# A few carrier-region trouble spots (depot problems), multiplying the factor above.
CARRIER_REGION_TROUBLE = {("Rápido Inca", "PE-CAJ"): 1.25, ("Norte Cargo", "PE-AMA"): 1.2,
                          ("Chaski Express", "PE-MDD"): 1.2, ("Andes Cargo", "PE-HUV"): 1.15}

# Road carriers by DC (weights follow the order of ROAD_CARRIERS).
DC_CARRIER_WEIGHTS = {
    "DC-LIM": (4, 3, 2, 1, 1, 0.5), "DC-AQP": (2, 2, 1.5, 4, 0, 0), "DC-CUZ": (2, 3, 1.5, 3, 0, 0.5),
    "DC-TRU": (3, 1, 1.5, 0, 4, 0), "DC-CIX": (3, 1, 1.5, 0, 4, 1), "DC-PIU": (3, 1, 1.5, 0, 4, 0),
    "DC-HYO": (2, 4, 1.5, 0, 0, 1), "DC-PCL": (1, 1, 1, 0, 0, 4), "DC-IQT": (1, 0, 1, 0, 0, 4),
}

MODE_SPEED_KM_DAY = {"costa": 520.0, "sierra": 290.0, "selva": 250.0}
EXPRESS_SPEEDUP = 1.6
RAIN_PROB_BY_MONTH = {12: 0.22, 1: 0.36, 2: 0.42, 3: 0.32, 4: 0.14}

# Disruption severities (generator-only physics, data/README.md step 6): drawn once per seed from these ranges
# (uniform), on their own random stream, so that no constant anywhere else can match them by construction.
# Road cuts: the share of the episode's days on which the roads into each region were cut.
BLOCKADE_CUT_RANGE = {"PE-PUN": (0.55, 0.85), "PE-APU": (0.40, 0.75), "PE-CUS": (0.35, 0.70),
                      "PE-ARE": (0.20, 0.50), "PE-ICA": (0.10, 0.40)}
YAKU_CUT_RANGE = {"PE-TUM": (0.55, 0.80), "PE-PIU": (0.55, 0.80), "PE-LAM": (0.45, 0.70), "PE-LAL": (0.35, 0.60)}
# Duration of effect of a cut: a shipment that meets one waits Exp(1) x factor x (1 + 5 x share) days.
CUT_WAIT_FACTOR_RANGE = (0.9, 1.3)
# Flood rain (Yaku): chance that a road shipment into a flooded region (city deliveries too) is held by
# flooded streets, and the mean of its Exp wait in days.
FLOOD_RAIN_CHANCE_RANGE = (0.22, 0.30)
FLOOD_RAIN_DAYS_RANGE = (1.6, 2.4)
# Callao port congestion: chance that an imported item shipped from Lima is held at the port, and the mean of
# its Exp hold in days. Drawn once per seed for the port; each spell scales both by its own factor.
PORT_HOLD_CHANCE_RANGE = (0.50, 0.65)
PORT_HOLD_DAYS_RANGE = (1.8, 2.5)
PORT_SPELL_FACTOR_RANGE = (0.95, 1.05)
SEVERITY_STREAM = 17  # the severities' random stream: default_rng([seed, SEVERITY_STREAM])


@dataclass(frozen=True)
class EpisodeSeverity:
    """How hard one disruption episode hit, in this dataset (drawn per seed; see :func:`draw_severities`)."""

    episode: str
    kind: str
    start: date
    end: date
    regions: tuple[str, ...]
    cut_share: dict[str, float]  # region -> share of days its roads were cut (blockades, floods)
    wait_factor: float = 1.0  # duration of effect of a cut
    rain_chance: float = 0.0  # floods: chance a road shipment is held by flooded streets
    rain_days: float = 0.0  # ... and its mean wait
    hold_chance: float = 0.0  # port congestion: chance an imported item from Lima is held
    hold_days: float = 0.0  # ... and its mean hold

    def to_dict(self) -> dict[str, object]:
        return {"episode": self.episode, "kind": self.kind, "start": self.start.isoformat(),
                "end": self.end.isoformat(), "cut_share": dict(self.cut_share), "wait_factor": self.wait_factor,
                "rain_chance": self.rain_chance, "rain_days": self.rain_days, "hold_chance": self.hold_chance,
                "hold_days": self.hold_days}


def draw_severities(seed: int) -> tuple[EpisodeSeverity, ...]:
    """Every episode's severity for a seed (deterministic), in the order of :data:`analytics.geo.DISRUPTIONS`.

    Draws come from their own stream so that the rest of the dataset does not depend on how many there are."""
    rng = np.random.default_rng([seed, SEVERITY_STREAM])
    port_chance = float(rng.uniform(*PORT_HOLD_CHANCE_RANGE))
    port_days = float(rng.uniform(*PORT_HOLD_DAYS_RANGE))
    out = []
    for ep in geo.DISRUPTIONS:
        start, end = date.fromisoformat(ep["start"]), date.fromisoformat(ep["end"])
        regions = tuple(ep["regions"])
        kw: dict = {}
        if ep["kind"] in ("road_blockade", "flood"):
            ranges = BLOCKADE_CUT_RANGE if ep["kind"] == "road_blockade" else YAKU_CUT_RANGE
            kw["cut_share"] = {r: round(float(rng.uniform(*ranges[r])), 4) for r in regions if r in ranges}
            kw["wait_factor"] = round(float(rng.uniform(*CUT_WAIT_FACTOR_RANGE)), 4)
            if ep["kind"] == "flood":
                kw["rain_chance"] = round(float(rng.uniform(*FLOOD_RAIN_CHANCE_RANGE)), 4)
                kw["rain_days"] = round(float(rng.uniform(*FLOOD_RAIN_DAYS_RANGE)), 4)
        elif ep["kind"] == "port_congestion":
            kw["cut_share"] = {}
            kw["hold_chance"] = round(min(port_chance * float(rng.uniform(*PORT_SPELL_FACTOR_RANGE)), 0.95), 4)
            kw["hold_days"] = round(port_days * float(rng.uniform(*PORT_SPELL_FACTOR_RANGE)), 4)
        else:  # pragma: no cover - geo lists only the kinds above
            raise ValueError(f"no generator physics for episode kind {ep['kind']!r}")
        out.append(EpisodeSeverity(ep["episode"], ep["kind"], start, end, regions, **kw))
    return tuple(out)



def _day_index(d: str | date) -> int:
    if isinstance(d, str):
        d = date.fromisoformat(d)
    return (d - START).days


def _calendar() -> dict[str, np.ndarray]:
    days = np.arange(N_DAYS)
    dates = np.array([START + timedelta(days=int(i)) for i in days])
    month = np.array([d.month for d in dates])
    dom = np.array([d.day for d in dates])
    weekday = np.array([d.weekday() for d in dates])
    cyber = np.zeros(N_DAYS, bool)
    for a, b in geo.CYBER_WOW:  # Cyber Wow (Peru's online sales event), real dates
        cyber[_day_index(a): _day_index(b) + 1] = True
    fiestas = (month == 7) & (dom >= 20) & (dom <= 31)
    christmas = (month == 12) & (dom >= 10) & (dom <= 24)
    peak = fiestas | christmas | cyber
    # backlog after a peak: 6 days following each peak day
    backlog = np.convolve(peak.astype(float), np.ones(7), mode="full")[:N_DAYS] > 0
    return {"month": month, "weekday": weekday, "cyber": cyber, "fiestas": fiestas,
            "christmas": christmas, "backlog": backlog}


def _day_weights(cal: dict[str, np.ndarray], promo_boost: float) -> np.ndarray:
    t = np.arange(N_DAYS) / 365.0
    w = (1.0 + 0.14 * t) * np.where(cal["weekday"] >= 5, 0.85, 1.0)
    w = w * np.where(cal["fiestas"], 1.35, 1.0) * np.where(cal["christmas"], 1.6, 1.0)
    w = w * np.where(cal["cyber"], 2.0 * promo_boost, 1.0)
    return w


def _sample_days(rng: np.random.Generator, weights: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Sample one day index per row in [lo, hi] (inclusive) with the given day weights."""
    cum = np.concatenate([[0.0], np.cumsum(weights)])
    a, b = cum[lo], cum[hi + 1]
    u = a + rng.random(lo.shape[0]) * (b - a)
    return np.clip(np.searchsorted(cum, u, side="right") - 1, lo, hi)


def _haversine(lat1, lon1, lat2, lon2):  # vectorised
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(lon2 - lon1)
    a = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * 6371.0 * np.arcsin(np.sqrt(a))


def reference_tables() -> dict[str, pl.DataFrame]:
    """Real-facts tables: regions, distribution centres, carriers, disruption episodes."""
    regions = pl.DataFrame(
        [
            {"code": r.code, "name": r.name, "capital": r.capital, "lat": r.lat, "lon": r.lon,
             "natural_region": r.natural_region, "population": r.population, "altitude_m": r.altitude_m}
            for r in geo.REGIONS
        ]
    )
    dcs = pl.DataFrame(
        [{"dc_id": d.dc_id, "city": d.city, "region": d.region, "lat": d.lat, "lon": d.lon,
          "road_link": d.road_link} for d in geo.DCS]
    )
    modes = {c: "standard,express" for c in ROAD_CARRIERS}
    modes.update({c: "air" for c in AIR_CARRIERS})
    modes.update({c: "river" for c in RIVER_CARRIERS})
    carriers = pl.DataFrame({"carrier": list(modes), "modes": list(modes.values())})
    disruptions = pl.DataFrame(
        [{"episode": e["episode"], "kind": e["kind"], "start": date.fromisoformat(e["start"]),
          "end": date.fromisoformat(e["end"]), "regions": ",".join(e["regions"]),
          "description": e["description"]} for e in geo.DISRUPTIONS]
    )
    return {"regions": regions, "dcs": dcs, "carriers": carriers, "disruptions": disruptions}


def generate_products(rng: np.random.Generator) -> pl.DataFrame:
    rows = []
    for ci, cat in enumerate(CATEGORIES):
        prices = CATEGORY_PRICE[cat] * rng.lognormal(0.0, 0.45, PRODUCTS_PER_CATEGORY)
        weights = CATEGORY_WEIGHT[cat] * rng.lognormal(0.0, 0.35, PRODUCTS_PER_CATEGORY)
        for j in range(PRODUCTS_PER_CATEGORY):
            rows.append({"product_id": f"P{ci}{j:03d}", "name": f"{cat.replace('_', ' ').title()} {j + 1:02d}",
                         "category": cat, "unit_price_pen": round(float(prices[j]), 2),
                         "weight_kg": round(float(weights[j]), 3)})
    return pl.DataFrame(rows)


def _customer_count(n_orders: int) -> int:
    months = np.array([39, 35, 37, 39, 14, 3.5])  # active months in the data window, by archetype
    rates = np.array([a.rate for a in ARCHETYPES])
    shares = np.array([a.share for a in ARCHETYPES])
    per_customer = float((months * rates * shares).sum())
    return max(60, int(round(n_orders / per_customer)))


def generate_customers(rng: np.random.Generator, n_orders: int) -> tuple[pl.DataFrame, dict[str, np.ndarray]]:
    n = _customer_count(n_orders)
    shares = np.array([a.share for a in ARCHETYPES])
    arch = rng.choice(len(ARCHETYPES), size=n, p=shares / shares.sum())
    # every archetype present even in tiny datasets
    arch[: len(ARCHETYPES)] = np.arange(len(ARCHETYPES))
    pop = np.array([r.population for r in geo.REGIONS], float)
    lima_mask = np.array([r.code in ("PE-LIM", "PE-CAL") for r in geo.REGIONS])
    pop = pop * np.where(lima_mask, 1.35, 1.0)  # e-commerce concentrates in Lima
    region_idx = np.empty(n, int)
    for ai, a in enumerate(ARCHETYPES):
        m = arch == ai
        w = pop * np.where(lima_mask, a.lima_bias, 1.0)
        region_idx[m] = rng.choice(len(geo.REGIONS), size=int(m.sum()), p=w / w.sum())
    codes = np.array(geo.REGION_CODES)[region_idx]
    second = rng.random(n) < 0.25
    city = np.array([r.capital for r in geo.REGIONS])[region_idx].astype(object)
    for code, (cname, _, _) in geo.SECOND_CITIES.items():
        city[(codes == code) & second] = cname
    # active windows (day indices)
    start = np.zeros(n, int)
    end = np.full(n, N_DAYS - 1)
    # sign-up days are drawn on the calendar of 1 Jan 2022 (when the window used to start), so that extending the
    # window three months back shows the same customers earlier rather than different ones
    shift = (date(2022, 1, 1) - START).days
    signup = rng.integers(-200, 540, n) + shift  # many customers predate the data window
    for ai, a in enumerate(ARCHETYPES):
        m = arch == ai
        k = int(m.sum())
        if a.name == "lapsed":
            signup[m] = rng.integers(-200, 150, k) + shift
            end[m] = rng.integers(_day_index("2022-09-01"), _day_index("2023-06-30"), k)
        elif a.name == "new":
            signup[m] = rng.integers(_day_index("2024-06-01"), _day_index("2024-11-30"), k)
        elif a.name == "occasional":
            signup[m] = rng.integers(-400, 300, k) + shift
    start = np.maximum(signup, 0)
    segment = np.where(arch == 0, np.where(rng.random(n) < 0.6, "corporate", "home_office"),
                       np.where(rng.random(n) < 0.08, "home_office", "consumer"))
    signup_dates = np.datetime64(START.isoformat()) + signup.astype("timedelta64[D]")
    df = pl.DataFrame({
        "customer_id": [f"C{i:07d}" for i in range(n)],
        "region": codes,
        "city": city.astype(str),
        "segment": segment,
        "signup_date": signup_dates.astype("datetime64[D]"),
        "archetype": np.array([a.name for a in ARCHETYPES])[arch],
    }).with_columns(pl.col("signup_date").cast(pl.Date))
    return df, {"arch": arch, "region_idx": region_idx, "start": start, "end": end,
                "city": city.astype(str)}


@dataclass(frozen=True)
class _Destinations:
    """Each order's destination region: index into geo.REGIONS, ISO code, natural region, capital, altitude."""

    idx: np.ndarray
    code: np.ndarray
    natural: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    altitude_m: np.ndarray

    @classmethod
    def of(cls, idx: np.ndarray) -> _Destinations:
        reg = [geo.REGIONS[i] for i in range(len(geo.REGIONS))]
        return cls(idx, np.array(geo.REGION_CODES)[idx], np.array([r.natural_region for r in reg])[idx],
                   np.array([r.lat for r in reg])[idx], np.array([r.lon for r in reg])[idx],
                   np.array([r.altitude_m for r in reg], float)[idx])


@dataclass(frozen=True)
class _Baskets:
    """What each order buys: category, product (position in the products table), quantity, discount, amount."""

    cat_idx: np.ndarray
    prod_pos: np.ndarray
    quantity: np.ndarray
    discount: np.ndarray
    amount: np.ndarray
    weight_kg: np.ndarray


@dataclass(frozen=True)
class _Routes:
    """How each order ships: origin DC (index into geo.DCS), mode, carrier and distance."""

    origin: np.ndarray
    mode: np.ndarray
    carrier: np.ndarray
    distance: np.ndarray
    road: np.ndarray  # standard or express, by truck
    city_local: np.ndarray  # delivered in the DC's own city
    in_blockade: np.ndarray  # into a blockaded region during the southern blockade


def _order_days(rng: np.random.Generator, n_orders: int, customers: dict[str, np.ndarray],
                cal: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Step 2: who orders (customers weighted by archetype rate × active window) and on which day."""
    arch, start, end = customers["arch"], customers["start"], customers["end"]
    rates = np.array([a.rate for a in ARCHETYPES])[arch]
    weight = rates * (end - start + 1)
    cust = rng.choice(arch.shape[0], size=n_orders, p=weight / weight.sum())
    oarch = arch[cust]
    day = np.empty(n_orders, int)
    for ai, a in enumerate(ARCHETYPES):
        m = oarch == ai
        if m.any():
            day[m] = _sample_days(rng, _day_weights(cal, a.promo_boost), start[cust[m]], end[cust[m]])
    return cust, day


def _baskets(rng: np.random.Generator, oarch: np.ndarray, day: np.ndarray, cal: dict[str, np.ndarray],
             products: pl.DataFrame) -> _Baskets:
    """Step 3: category by archetype mix, one of the category's products, quantity, discount."""
    n_orders = len(oarch)
    mix = np.array([a.category_mix for a in ARCHETYPES], float)
    mix = mix / mix.sum(axis=1, keepdims=True)
    cat_idx = (rng.random(n_orders)[:, None] > np.cumsum(mix, axis=1)[oarch]).sum(axis=1)
    cat_idx = np.minimum(cat_idx, len(CATEGORIES) - 1)
    prod_j = rng.integers(0, PRODUCTS_PER_CATEGORY, n_orders)
    prod_pos = cat_idx * PRODUCTS_PER_CATEGORY + prod_j
    price = products["unit_price_pen"].to_numpy()[prod_pos]
    unit_w = products["weight_kg"].to_numpy()[prod_pos]
    basket = np.array([a.basket for a in ARCHETYPES])[oarch]
    quantity = 1 + rng.poisson(np.maximum(basket - 1.0, 0.05) * 1.5)
    disc_mean = np.array([a.discount for a in ARCHETYPES])[oarch]
    disc_mean = disc_mean * np.where(cal["cyber"][day], 1.4, 1.0)
    discount = np.clip(rng.normal(disc_mean, disc_mean * 0.35 + 1.0), 0, 60).round(1)
    amount = np.round(quantity * price * (1 - discount / 100.0), 2)
    weight_kg = np.round(quantity * unit_w, 3)
    return _Baskets(cat_idx, prod_pos, quantity, discount, amount, weight_kg)


def _routes(rng: np.random.Generator, oarch: np.ndarray, day: np.ndarray, dest: _Destinations,
            dc_index: dict[str, int]) -> _Routes:
    """Step 4: origin DC (the primary one, Lima's central stock, Loreto's river and air links), mode,
    distance (great circle × road circuity, × river circuity, or same-city), then the carrier."""
    n_orders = len(oarch)
    primary = np.array([dc_index[geo.PRIMARY_DC[c]] for c in geo.REGION_CODES])[dest.idx]
    lim, iqt, pcl = dc_index["DC-LIM"], dc_index["DC-IQT"], dc_index["DC-PCL"]
    u = rng.random(n_orders)
    origin = np.where(u < 0.18, lim, primary)
    is_lor = dest.code == "PE-LOR"
    origin = np.where(is_lor, np.where(u < 0.2, lim, np.where(u < 0.3, pcl, iqt)), origin)
    d_lat = np.array([d.lat for d in geo.DCS])[origin]
    d_lon = np.array([d.lon for d in geo.DCS])[origin]
    crow = _haversine(d_lat, d_lon, dest.lat, dest.lon)
    city_local = crow < 30
    exp_bias = np.array([a.express_bias for a in ARCHETYPES])[oarch]
    v = rng.random(n_orders)
    in_blockade = (day >= _day_index("2022-12-10")) & (day <= _day_index("2023-02-28")) & np.isin(
        dest.code, list(BLOCKADE_CUT_RANGE))
    p_air = np.where(crow > 550, 0.10 * exp_bias, 0.0) + np.where(in_blockade & (crow > 300), 0.12, 0.0)
    p_express = 0.26 * exp_bias
    mode = np.where(v < p_air, "air", np.where(v < p_air + p_express, "express", "standard")).astype(object)
    mode[is_lor & (origin == lim)] = "air"
    mode[is_lor & (origin == pcl)] = "river"
    mode = mode.astype(str)
    road = (mode == "standard") | (mode == "express")
    circuity = np.array([geo.ROAD_CIRCUITY[n] for n in dest.natural])
    local_km = 6 + rng.exponential(9, n_orders)
    distance = np.where(city_local, local_km,
                        np.where(mode == "river", crow * geo.RIVER_CIRCUITY,
                                 np.where(mode == "air", crow + 25.0, crow * circuity)))
    distance = np.round(distance, 1)
    carrier = _carriers(rng, mode, road, origin, dc_index)
    return _Routes(origin, mode, carrier, distance, road, city_local, in_blockade)


def _carriers(rng: np.random.Generator, mode: np.ndarray, road: np.ndarray, origin: np.ndarray,
              dc_index: dict[str, int]) -> np.ndarray:
    """Road carriers by origin DC (DC_CARRIER_WEIGHTS); two air and two river carriers."""
    carrier = np.empty(mode.shape[0], dtype=object)
    road_names = np.array(ROAD_CARRIERS, dtype=object)
    for dc, w in DC_CARRIER_WEIGHTS.items():
        m = road & (origin == dc_index[dc])
        if m.any():
            w_arr = np.array(w, float)
            carrier[m] = road_names[rng.choice(len(w_arr), size=int(m.sum()), p=w_arr / w_arr.sum())]
    m_air, m_riv = mode == "air", mode == "river"
    carrier[m_air] = np.where(rng.random(int(m_air.sum())) < 0.65, AIR_CARRIERS[0], AIR_CARRIERS[1])
    carrier[m_riv] = np.where(rng.random(int(m_riv.sum())) < 0.6, RIVER_CARRIERS[0], RIVER_CARRIERS[1])
    return carrier.astype(str)


def _nominal_days(route: _Routes, dest: _Destinations) -> np.ndarray:
    """Step 5: nominal transit = handling + distance / speed (+ altitude by road); air and river flat-ish."""
    mode, road = route.mode, route.road
    speed = np.array([MODE_SPEED_KM_DAY[n] for n in dest.natural]) * np.where(mode == "express", EXPRESS_SPEEDUP, 1.0)
    handling = np.select([mode == "express", mode == "air", mode == "river"], [0.4, 1.0, 1.0], 1.0)
    alt_pen = np.where(road, dest.altitude_m / 4000.0, 0.0)
    return np.select(
        [road, mode == "air", mode == "river"],
        [handling + route.distance / speed + alt_pen, handling + 0.5 + np.where(dest.natural == "costa", 0.2, 0.6),
         handling + route.distance / 160.0],
    )


def _promised_days(mode: np.ndarray, nominal: np.ndarray) -> np.ndarray:
    """Step 5: the promise (company policy, the same rule for every carrier)."""
    return np.ceil(np.select(
        [mode == "standard", mode == "express", mode == "air"],
        [nominal * 1.08, nominal * 1.05, nominal + 0.5], nominal * 1.1 + 0.5)).astype(int)


def _actual_days(rng: np.random.Generator, nominal: np.ndarray, route: _Routes, dest: _Destinations,
                 day: np.ndarray, cat_idx: np.ndarray, cal: dict[str, np.ndarray], lima_dc: int,
                 severities: tuple[EpisodeSeverity, ...]) -> np.ndarray:
    """Step 6, what actually happened: carrier reliability and trouble spots, noise, last-mile failures, rain,
    holiday backlog, cut roads (blockade, Yaku floods), flooded streets and Callao port congestion, the
    episodes' severities as drawn for this seed."""
    n_orders = len(nominal)
    mode, carrier, r_code, r_nat = route.mode, route.carrier, dest.code, dest.natural
    nat_i = np.select([r_nat == "costa", r_nat == "sierra"], [0, 1], 2)
    cf_table = np.array([CARRIER_FACTOR[c] for c in CARRIERS])
    c_index = {c: i for i, c in enumerate(CARRIERS)}
    cidx = np.array([c_index[c] for c in carrier]) if n_orders else np.zeros(0, int)
    cfac = cf_table[cidx, nat_i]
    for (cname, rcode), f in CARRIER_REGION_TROUBLE.items():
        cfac = np.where((carrier == cname) & (r_code == rcode), cfac * f, cfac)
    sigma = np.select([mode == "air", mode == "river"], [0.12, 0.2], 0.15)
    actual = nominal * cfac * np.exp(rng.normal(0.0, 1.0, n_orders) * sigma)

    # last mile: failed first delivery attempt (nobody home, wrong address), worse at peaks
    fail_p = np.where(carrier == "Rápido Inca", 0.22, 0.035) * np.where(cal["backlog"][day], 1.8, 1.0)
    fail_p = fail_p * np.where(r_nat == "costa", 1.0, 1.3)
    actual += (rng.random(n_orders) < fail_p) * (1.0 + rng.exponential(0.6, n_orders))

    rain_p = np.array([RAIN_PROB_BY_MONTH.get(int(m), 0.0) for m in range(13)])[cal["month"][day]]
    rain_p = rain_p * np.where(r_nat == "costa", 0.0, 1.0) * np.where(mode == "air", 0.3, 1.0)
    rain_hit = rng.random(n_orders) < rain_p
    actual += rain_hit * rng.exponential(0.35 * nominal + 1.0)

    peak = cal["backlog"][day]
    peak_p = np.where(mode == "standard", 0.35, np.where(mode == "express", 0.2, 0.08))
    actual += (peak & (rng.random(n_orders) < peak_p)) * rng.exponential(1.1, n_orders)

    cut = np.zeros(n_orders)
    wait_f = np.ones(n_orders)
    rain_c = np.zeros(n_orders)
    rain_d = np.zeros(n_orders)
    hold_c = np.zeros(n_orders)
    hold_d = np.zeros(n_orders)
    imported = np.isin(cat_idx, [CATEGORIES.index(c) for c in IMPORTED_CATEGORIES])
    for sev in severities:
        in_ep = (day >= _day_index(sev.start)) & (day <= _day_index(sev.end))
        for code, share in sev.cut_share.items():
            m = in_ep & (r_code == code)
            cut = np.where(m, share, cut)
            wait_f = np.where(m, sev.wait_factor, wait_f)
        if sev.rain_chance:
            m = in_ep & np.isin(r_code, list(sev.regions))
            rain_c = np.where(m, sev.rain_chance, rain_c)
            rain_d = np.where(m, sev.rain_days, rain_d)
        if sev.hold_chance:
            m = in_ep & (route.origin == lima_dc) & imported
            hold_c = np.where(m, sev.hold_chance, hold_c)
            hold_d = np.where(m, sev.hold_days, hold_d)
    # a road shipment meets a cut road with probability `share` (city deliveries 30% of it: urban pickets,
    # not the highway) and waits for it to reopen: the more days are cut, the longer the road stays shut
    meet = cut * np.where(route.road, 1.0, 0.0) * np.where(route.city_local, 0.3, 1.0)
    blocked = rng.random(n_orders) < meet
    actual += blocked * (rng.exponential(1.0, n_orders) * wait_f * (1.0 + 5.0 * cut))
    # flooded streets hold road shipments, city deliveries included
    flooded = route.road & (rng.random(n_orders) < rain_c)
    actual += flooded * rng.exponential(1.0, n_orders) * rain_d
    # Callao port congestion: imported stock shipped from Lima waits at the port
    held = rng.random(n_orders) < hold_c
    actual += held * rng.exponential(1.0, n_orders) * hold_d
    return np.maximum(1, np.ceil(actual - 0.15)).astype(int)


def _shipping_cost(mode: np.ndarray, weight_kg: np.ndarray, distance: np.ndarray) -> np.ndarray:
    """Step 7: fixed fee by mode + a per-kg-km rate × max(weight, 0.5 kg) × distance, in soles."""
    fixed = np.select([mode == "express", mode == "air", mode == "river"], [15.0, 28.0, 10.0], 8.0)
    per_kgkm = np.select([mode == "express", mode == "air", mode == "river"], [0.0021, 0.0060, 0.0008], 0.0012)
    return np.round(fixed + per_kgkm * np.maximum(weight_kg, 0.5) * distance, 2)


def _timestamps(rng: np.random.Generator, day: np.ndarray) -> np.ndarray:
    """Order times: the day plus an evening-heavy hour of day (naive; localised to Lima later)."""
    n_orders = len(day)
    hour_w = np.array([1, 0.5, 0.3, 0.2, 0.2, 0.4, 1, 2, 3, 4, 4.5, 5, 5, 5, 4.5, 4.5, 5, 5.5, 6, 7, 8, 7.5, 5, 2.5])
    hour = rng.choice(24, size=n_orders, p=hour_w / hour_w.sum())
    secs = hour * 3600 + rng.integers(0, 3600, n_orders)
    base = np.datetime64(START.isoformat(), "us")
    return base + day.astype("timedelta64[D]").astype("timedelta64[us]") + (secs * 1_000_000).astype("timedelta64[us]")


ORDER_COLUMNS = ["order_id", "customer_id", "created_at", "order_date", "country", "region", "city", "category",
                 "product_id", "quantity", "amount_pen", "discount_pct", "shipping_mode", "carrier", "origin_dc",
                 "distance_km", "weight_kg", "shipping_cost_pen", "promised_days", "actual_days", "is_late"]


def generate_orders(rng: np.random.Generator, n_orders: int, customers: dict[str, np.ndarray],
                    products: pl.DataFrame, progress: Progress,
                    severities: tuple[EpisodeSeverity, ...] | None = None) -> pl.DataFrame:
    """The orders table, following data/README.md steps 2–7: dates, baskets, routing, promise, what actually
    happened, cost. The random draws happen in that order, so the same seed gives the same bytes.
    ``severities``: the episodes' severities (default: those of seed 0)."""
    severities = draw_severities(0) if severities is None else severities
    cal = _calendar()
    cust, day = _order_days(rng, n_orders, customers, cal)
    oarch = customers["arch"][cust]
    progress("orders: calendar", 0.25)
    dest = _Destinations.of(customers["region_idx"][cust])
    basket = _baskets(rng, oarch, day, cal, products)
    progress("orders: baskets", 0.4)
    dc_ids = [d.dc_id for d in geo.DCS]
    dc_index = {d: i for i, d in enumerate(dc_ids)}
    route = _routes(rng, oarch, day, dest, dc_index)
    progress("orders: routing", 0.55)
    nominal = _nominal_days(route, dest)
    promised = _promised_days(route.mode, nominal)
    actual_days = _actual_days(rng, nominal, route, dest, day, basket.cat_idx, cal, dc_index["DC-LIM"], severities)
    progress("orders: delays", 0.7)
    cost = _shipping_cost(route.mode, basket.weight_kg, route.distance)
    ts = _timestamps(rng, day)
    order = np.lexsort((cust, ts))

    df = pl.DataFrame({
        "customer_id": cust[order],
        "created_at": ts[order],
        "region": dest.code[order],
        "city": customers["city"][cust][order],
        "category": np.array(CATEGORIES)[basket.cat_idx][order],
        "product_id": products["product_id"].to_numpy()[basket.prod_pos][order],
        "quantity": basket.quantity[order].astype(np.int64),
        "amount_pen": basket.amount[order],
        "discount_pct": basket.discount[order].astype(float),
        "shipping_mode": route.mode[order],
        "carrier": route.carrier[order],
        "origin_dc": np.array(dc_ids)[route.origin][order],
        "distance_km": route.distance[order],
        "weight_kg": basket.weight_kg[order],
        "shipping_cost_pen": cost[order],
        "promised_days": promised[order].astype(np.int64),
        "actual_days": actual_days[order].astype(np.int64),
        "is_late": (actual_days > promised)[order],
    })
    width = max(7, len(str(n_orders)))
    df = df.with_columns(
        pl.format("PE-{}", pl.int_range(1, pl.len() + 1).cast(pl.String).str.zfill(width)).alias("order_id"),
        pl.format("C{}", pl.col("customer_id").cast(pl.String).str.zfill(7)).alias("customer_id"),
        pl.col("created_at").dt.replace_time_zone(LIMA_TZ),
        pl.lit("PE").alias("country"),
    ).with_columns(pl.col("created_at").dt.date().alias("order_date"))
    return df.select(ORDER_COLUMNS)


Extension = Callable[[Path, int, Progress], dict[str, int]]


def extensions() -> tuple[Extension, ...]:
    """Generators of the page areas' tables, run in order after the core tables are written: the sourcing
    suppliers (they read the orders table) and the traceability lots. Called as ``fn(data_dir, seed, progress)``."""
    from analytics.sourcing.demo_suppliers import generate_suppliers
    from analytics.traceability.demo_lots import generate as generate_lots

    return (generate_suppliers, generate_lots)


def generate_dataset(data_dir: Path | str, n_orders: int = 200_000, seed: int = 7,
                     progress: Progress | None = None, with_extensions: bool = True) -> dict[str, int]:
    """Write every demo table into ``data_dir``; returns row counts by table.

    ``with_extensions=False`` writes the core tables only (reference tables, products, customers, orders): what
    the scenario backtests need, without the sourcing and traceability tables."""
    if n_orders < 1:
        raise ValueError("--orders must be at least 1")
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda label, frac: None)
    rng = np.random.default_rng(seed)
    counts: dict[str, int] = {}
    for name, df in reference_tables().items():
        storage.write_table(df, data_dir, name)
        counts[name] = df.height
    products = generate_products(rng)
    storage.write_table(products, data_dir, "products")
    counts["products"] = products.height
    customers, cust_arrays = generate_customers(rng, n_orders)
    report("customers", 0.1)
    orders = generate_orders(rng, n_orders, cust_arrays, products, report, draw_severities(seed))
    report("writing orders", 0.8)
    storage.write_table(customers, data_dir, "customers")
    storage.write_table(orders, data_dir, "orders")
    counts["customers"] = customers.height
    counts["orders"] = orders.height
    extra_generators = extensions() if with_extensions else ()
    for i, fn in enumerate(extra_generators):
        extra = fn(data_dir, seed, report)
        counts.update(extra or {})
        n = len(extra_generators)
        report(f"extensions {i + 1}/{n}", 0.85 + 0.15 * (i + 1) / max(1, n))
    report("done", 1.0)
    return counts


def describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{k}={v:,}" for k, v in sorted(counts.items()))


__all__ = ["ARCHETYPES", "CATEGORIES", "CARRIERS", "EpisodeSeverity", "draw_severities", "extensions",
           "generate_dataset", "math"]
