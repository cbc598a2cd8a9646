"""Temperature histories of export lots from harvest to arrival at the buyer (the shelf-life training data).

The demo journeys in :mod:`analytics.traceability.demo_lots` carry only about 18 readings per lot
before the vessel sails and one reefer logger reading every few hours at sea, and there are a few
dozen of them: too few to teach a model what weeks at sea do to the fruit. This generator reuses their real products, farms, packhouses, ports and buyers
(``analytics.traceability.agro_chains``, read only) and follows each lot to the buyer, one logger reading
an hour:

1. ``field``: harvest to the packhouse cooler at pulp temperature (coastal daily maximum by region and
   month, minus shade), 1–6 h;
2. ``precool``: forced-air cooling towards the set point (half-cooling time 1–2.5 h, sometimes an
   overloaded cooler at 3–6 h);
3. ``cold_room``: packhouse cold room until dispatch (door-opening/defrost excursions);
4. ``haul``: reefer truck to the port cold store (road distance / 55 km/h; unit failures);
5. ``port``: port cold store and terminal (reefers left unplugged at gate-in drift towards ambient);
6. ``voyage``: the sea voyage (or air freight for asparagus) with its route's transit time; reefer
   malfunctions and wrong set points (too cold: chilling injury for avocados and mangoes);
7. ``destination``: discharge, customs and delivery to the buyer.

Transit times are approximate port-to-port times of direct reefer services from Callao and Paita
(carriers' published schedules vary by service and season; the ranges are what the truth draws from
and their middle is the planned time used for lots still at sea). Long sea routes use controlled-
atmosphere (CA) containers for blueberries, avocados and mangoes, as Peru's exporters do for Europe
and Asia; that is recorded per lot (``ca``) and is part of its route.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analytics.shelflife.kinetics import PRODUCTS, product
from analytics.traceability.agro_chains import BUYER_PORT, BUYERS, CROPS, SITES

LIMA = ZoneInfo("America/Lima")
PHASES = ("field", "precool", "cold_room", "haul", "port", "voyage", "destination")
PHASE_CODE = {name: i for i, name in enumerate(PHASES)}

# cold store / terminal site -> UN/LOCODE of the departure port; air freight leaves from Lima airport
PORT_LOCODE = {"C-CALLAO": "PECLL", "PORT-CALLAO": "PECLL", "C-PAITA": "PEPAI", "PORT-PAITA": "PEPAI"}
AIRPORT = "PELIM"
# buyer GLN -> UN/LOCODE of the port (or airport city) it receives at
BUYER_LOCODE = BUYER_PORT
# approximate transit days of direct reefer services (port to port)
SEA_DAYS: dict[tuple[str, str], tuple[float, float]] = {
    ("PECLL", "USPHL"): (10.0, 14.0), ("PECLL", "USLAX"): (11.0, 15.0), ("PECLL", "NLRTM"): (18.0, 23.0),
    ("PECLL", "BEANR"): (19.0, 24.0), ("PECLL", "DEHAM"): (20.0, 25.0), ("PECLL", "JPTYO"): (21.0, 27.0),
    ("PECLL", "CNSHA"): (24.0, 30.0),
    ("PEPAI", "USPHL"): (9.0, 12.0), ("PEPAI", "USLAX"): (11.0, 14.0), ("PEPAI", "NLRTM"): (16.0, 21.0),
    ("PEPAI", "BEANR"): (17.0, 22.0), ("PEPAI", "DEHAM"): (18.0, 23.0), ("PEPAI", "JPTYO"): (23.0, 29.0),
    ("PEPAI", "CNSHA"): (26.0, 32.0),
}
AIR_DAYS: dict[str, tuple[float, float]] = {  # door to door from Lima, including ground handling
    "USPHL": (1.0, 2.5), "USLAX": (1.0, 2.5), "NLRTM": (1.5, 3.0), "BEANR": (1.5, 3.0), "DEHAM": (1.5, 3.0),
    "JPTYO": (2.0, 4.0), "CNSHA": (2.0, 4.0)}
DESTINATION_HOURS = (24.0, 72.0)  # discharge, customs and delivery after a sea voyage
CA_PRODUCTS = frozenset({"blueberry", "avocado", "mango"})
CA_MIN_PLANNED_DAYS = 18.0
ROAD_FACTOR, TRUCK_KMH = 1.2, 55.0
# mean daily maximum (°C) on the coast by region and its seasonal half-amplitude (peak mid-February):
# approximate demo values for Ica, Trujillo, Chiclayo, Piura and Lima, not measured climate normals
COAST_CLIMATE: dict[str, tuple[float, float]] = {
    "PE-ICA": (27.0, 4.5), "PE-LAL": (24.5, 3.5), "PE-LAM": (28.0, 3.5), "PE-PIU": (31.0, 3.0),
    "PE-LIM": (22.5, 4.0), "PE-CAL": (22.5, 4.0)}
# where the lots go: roughly the shares of Peru's fresh-fruit exports (United States, Europe, Asia)
DESTINATION_WEIGHTS = {"USPHL": 0.28, "USLAX": 0.17, "NLRTM": 0.22, "BEANR": 0.06, "DEHAM": 0.07,
                       "CNSHA": 0.12, "JPTYO": 0.08}
# relative lot shares, as in the demo journeys
LOT_WEIGHTS = {"blueberry": 14, "avocado": 12, "grape": 10, "asparagus": 8, "mango": 8}


class RouteError(ValueError):
    """A route (origin, destination, mode) that no service covers."""


@dataclass(frozen=True)
class Route:
    origin: str  # UN/LOCODE of the departure port or airport
    destination: str  # UN/LOCODE of the arrival port (or the buyer's airport city)
    mode: str  # "sea" | "air"

    @property
    def key(self) -> str:
        return f"{self.origin}-{self.destination}-{self.mode}"

    @property
    def days_range(self) -> tuple[float, float]:
        if self.mode == "air":
            return AIR_DAYS[self.destination]
        return SEA_DAYS[(self.origin, self.destination)]

    @property
    def planned_days(self) -> float:
        """Planned door-to-door days from departure: the middle of the voyage range plus delivery."""
        lo, hi = self.days_range
        extra = 0.0 if self.mode == "air" else sum(DESTINATION_HOURS) / 2 / 24.0
        return (lo + hi) / 2 + extra


def make_route(origin: str, destination: str, mode: str = "sea") -> Route:
    r = Route(origin, destination, mode)
    if mode not in ("sea", "air"):
        raise RouteError(f"unknown transport mode {mode!r} (sea or air)")
    if (mode == "sea" and (origin, destination) not in SEA_DAYS) or (mode == "air" and destination not in AIR_DAYS):
        raise RouteError(f"no {mode} service from {origin} to {destination}")
    return r


def all_routes() -> list[Route]:
    routes = [Route(o, d, "sea") for o, d in SEA_DAYS]
    return routes + [Route(AIRPORT, d, "air") for d in AIR_DAYS]


def uses_ca(product_key: str, route: Route) -> bool:
    """Long sea routes travel in controlled-atmosphere containers for the CA products."""
    lo, hi = route.days_range
    return route.mode == "sea" and product_key in CA_PRODUCTS and (lo + hi) / 2 >= CA_MIN_PLANNED_DAYS


def coast_max_temp(region: str, month: int, day: int) -> float:
    mean, amp = COAST_CLIMATE.get(region, (25.0, 4.0))
    doy = (month - 1) * 30.44 + day
    return mean + amp * math.cos(2 * math.pi * (doy - 45.0) / 365.25)


def road_hours(packhouse: str, cold_store: str) -> float:
    a, b = SITES[packhouse], SITES[cold_store]
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dp, dl = p2 - p1, math.radians(b.lon - a.lon)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    km = 2 * 6371.0 * math.asin(math.sqrt(h))
    return max(1.0, km * ROAD_FACTOR / TRUCK_KMH)


@dataclass(frozen=True)
class HistoryBatch:
    """Lots (one row each) and their logger readings (``lot_id``, ``hours`` since harvest, ``temp_c``, ``phase``)."""

    lots: pl.DataFrame
    readings: pl.DataFrame


LOT_SCHEMA: dict[str, Any] = {
    "lot_id": pl.String, "product": pl.String, "farm": pl.String, "region": pl.String, "packhouse": pl.String,
    "origin": pl.String, "destination": pl.String, "mode": pl.String, "route": pl.String, "ca": pl.Boolean,
    "harvest_time": pl.Datetime("us", "America/Lima"), "harvest_month": pl.Int32, "harvest_day": pl.Int32,
    "transit_hours": pl.Float64, "voyage_days": pl.Float64,
}
READING_SCHEMA: dict[str, Any] = {"lot_id": pl.String, "hours": pl.Float64, "temp_c": pl.Float64, "phase": pl.Int8}


class _Lot:
    """Hourly readings of one lot, appended segment by segment."""

    def __init__(self) -> None:
        self.t = 0.0
        self.hours: list[np.ndarray] = []
        self.temps: list[np.ndarray] = []
        self.phases: list[np.ndarray] = []

    def add(self, phase: str, duration_h: float, temps: np.ndarray) -> None:
        n = len(temps)
        step = duration_h / n
        self.hours.append(self.t + step * np.arange(n))
        self.temps.append(np.asarray(temps, float))
        self.phases.append(np.full(n, PHASE_CODE[phase], np.int8))
        self.t += duration_h


def _n(duration_h: float) -> int:
    return max(1, int(math.ceil(duration_h)))


def _excursion(rng: np.random.Generator, base: np.ndarray, p: float, rise: tuple[float, float],
               length_h: tuple[float, float]) -> np.ndarray:
    """With probability ``p``, raise a stretch of the readings by a few degrees (a door, a failing unit)."""
    if rng.random() >= p or base.size == 0:
        return base
    n = min(base.size, max(1, int(round(rng.uniform(*length_h)))))
    start = int(rng.integers(0, base.size - n + 1))
    out = base.copy()
    out[start:start + n] += rng.uniform(*rise)
    return out


def leg_temperatures(rng: np.random.Generator, setp: float, route: Route) -> list[tuple[str, float, np.ndarray]]:
    """The voyage (sea) or flight (air) and, after a sea voyage, discharge, customs and delivery: hourly
    temperatures of each leg as ``(phase, hours, temps)``. Reefer malfunctions, wrong set points (too cold:
    chilling injury) and tarmac waits as in the module docstring; the demo traceability journeys draw their
    voyages from here too, so the tables carry the same excursions the training histories do."""
    days = rng.uniform(*route.days_range)
    h = days * 24.0
    if route.mode == "sea":
        offset = rng.uniform(-0.3, 0.8)
        if rng.random() < 0.04:  # wrong set point: too cold for the whole voyage
            offset = -rng.uniform(2.0, 5.0)
        base = setp + offset + rng.normal(0, 0.25, _n(h))
        base = _excursion(rng, base, 0.07, (2.0, 6.0), (12, 96))
    else:
        base = setp + rng.uniform(2.0, 6.0) + rng.normal(0, 0.8, _n(h))
        base = _excursion(rng, base, 0.5, (8.0, 18.0), (1, 4))  # tarmac waits
    legs = [("voyage", h, base)]
    if route.mode == "sea":
        h = rng.uniform(*DESTINATION_HOURS)
        base = setp + rng.normal(0.5, 0.4) + rng.normal(0, 0.35, _n(h))
        legs.append(("destination", h, _excursion(rng, base, 0.10, (3.0, 10.0), (2, 12))))
    return legs


def generate_histories(n_lots: int, seed: int, *, products: tuple[str, ...] | None = None,
                       start_year: int = 2021, years: int = 4) -> HistoryBatch:
    """``n_lots`` export lots with hourly temperature histories; deterministic for a seed."""
    if n_lots < 1:
        raise ValueError("n_lots must be at least 1")
    keys = tuple(products or LOT_WEIGHTS)
    for k in keys:
        product(k)
    rng = np.random.default_rng(seed)
    w = np.array([LOT_WEIGHTS.get(k, 1) for k in keys], float)
    picks = rng.choice(len(keys), size=n_lots, p=w / w.sum())
    buyer_p = np.array([DESTINATION_WEIGHTS[BUYER_LOCODE[b[2]]] for b in BUYERS])
    buyer_p = buyer_p / buyer_p.sum()
    lot_rows: list[dict] = []
    r_lot: list[np.ndarray] = []
    r_hours: list[np.ndarray] = []
    r_temp: list[np.ndarray] = []
    r_phase: list[np.ndarray] = []
    for i in range(n_lots):
        key = keys[picks[i]]
        kin, crop = PRODUCTS[key], CROPS[key]
        farm = crop.farms[int(rng.integers(len(crop.farms)))]
        region = SITES[farm].region
        packhouse, cold_store = crop.packhouse[region], crop.port[region]
        m0, m1 = kin.season_months
        month = (m0 - 1 + int(rng.integers(((m1 - m0) % 12) + 1))) % 12 + 1
        day = int(rng.integers(1, 29))
        year = start_year + int(rng.integers(years))
        harvest = datetime(year, month, day, int(rng.integers(6, 11)), int(rng.choice([0, 15, 30, 45])), tzinfo=LIMA)
        buyer = BUYERS[int(rng.choice(len(BUYERS), p=buyer_p))]
        dest = BUYER_LOCODE[buyer[2]]
        mode = "sea"
        if key == "asparagus" and (not dest.startswith("US") or rng.random() < 0.6):
            mode = "air"
        route = make_route(AIRPORT if mode == "air" else PORT_LOCODE[cold_store], dest, mode)
        ca = uses_ca(key, route)
        setp = kin.optimum_c
        ambient = coast_max_temp(region, month, day)
        lot = _Lot()
        # 1 field heat
        h = float(np.clip(rng.lognormal(math.log(2.5), 0.45), 0.75, 8.0))
        pulp0 = ambient - rng.uniform(0.0, 4.0)
        lot.add("field", h, pulp0 + rng.normal(0, 0.8, _n(h)))
        # 2 forced-air precooling
        h = rng.uniform(5.0, 12.0)
        half = rng.uniform(3.0, 6.0) if rng.random() < 0.1 else rng.uniform(1.0, 2.5)
        steps = np.arange(_n(h)) + 0.5
        lot.add("precool", h, setp + (pulp0 - setp) * 0.5 ** (steps / half) + rng.normal(0, 0.25, steps.size))
        # 3 packhouse cold room
        h = rng.uniform(4.0, 30.0)
        base = setp + rng.normal(0.3, 0.3) + rng.normal(0, 0.3, _n(h))
        lot.add("cold_room", h, _excursion(rng, base, 0.08, (3.0, 8.0), (1, 4)))
        # 4 reefer truck to the port cold store (or the airport)
        h = road_hours(packhouse, cold_store) + rng.uniform(0.0, 3.0)
        base = setp + rng.normal(0.5, 0.4) + rng.normal(0, 0.35, _n(h))
        lot.add("haul", h, _excursion(rng, base, 0.15, (4.0, 12.0), (1, 6)))
        # 5 port cold store and terminal; a reefer left unplugged drifts towards ambient
        h = rng.uniform(4.0, 24.0) if mode == "air" else rng.uniform(12.0, 72.0)
        base = setp + rng.normal(0.2, 0.3) + rng.normal(0, 0.3, _n(h))
        if rng.random() < 0.15 and base.size > 2:
            n = min(base.size - 1, int(rng.integers(2, 11)))
            s = int(rng.integers(0, base.size - n + 1))
            target = coast_max_temp("PE-CAL" if "CLL" in route.origin or mode == "air" else "PE-PIU", month, day) - 3
            base[s:s + n] = setp + (target - setp) * (1 - np.exp(-(np.arange(n) + 1) / 8.0))
        lot.add("port", h, base)
        # 6 voyage (sea) or flight (air), 7 discharge, customs and delivery
        legs = leg_temperatures(rng, setp, route)
        for phase, h, base in legs:
            lot.add(phase, h, base)
        days = legs[0][1] / 24.0
        lot_id = f"SL{seed % 1000:03d}-{i:05d}"
        hours = np.concatenate(lot.hours)
        lot_rows.append({
            "lot_id": lot_id, "product": key, "farm": farm, "region": region, "packhouse": packhouse,
            "origin": route.origin, "destination": dest, "mode": mode, "route": route.key, "ca": ca,
            "harvest_time": harvest, "harvest_month": month, "harvest_day": day,
            "transit_hours": float(lot.t), "voyage_days": float(days)})
        r_lot.append(np.full(hours.size, i, np.int64))
        r_hours.append(hours)
        r_temp.append(np.round(np.concatenate(lot.temps), 2))
        r_phase.append(np.concatenate(lot.phases))
    lots = pl.DataFrame(lot_rows, schema=LOT_SCHEMA)
    readings = pl.DataFrame({
        "lot_id": lots["lot_id"].gather(np.concatenate(r_lot)), "hours": np.concatenate(r_hours),
        "temp_c": np.concatenate(r_temp), "phase": np.concatenate(r_phase)}, schema=READING_SCHEMA)
    return HistoryBatch(lots, readings)


__all__ = [
    "AIRPORT", "BUYER_LOCODE", "HistoryBatch", "LOT_SCHEMA", "PHASES", "PORT_LOCODE", "READING_SCHEMA", "Route",
    "RouteError", "SEA_DAYS", "all_routes", "generate_histories", "leg_temperatures", "make_route", "uses_ca",
]
