"""Deterministic demo suppliers of gourmet Peruvian ingredients (real origins, synthetic firms).

Listed in ``analytics.demo_orders.extensions()`` (``generate_suppliers``);
it runs after the core tables are written, so the on-time record can come from the orders table.
The generative model is documented in data/README.md (section "Sourcing").
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics import geo, storage
from analytics.sourcing.ingredients import (
    AUDIT_SECTIONS,
    INGREDIENTS,
    LIMA_LAT,
    LIMA_LON,
    Ingredient,
    Origin,
)
from analytics.sourcing.schemas import SOURCING_INGREDIENTS, SOURCING_SUPPLIERS

Progress = Callable[[str, float], None]

N_SUPPLIERS = 240
MIN_PER_INGREDIENT = 6
PUCALLPA = geo.REGION_BY_CODE["PE-UCA"]
# Late-delivery prior by natural region, used where the orders table has < MIN_ORDERS for a region/mode.
PRIOR_LATE = {"costa": 0.10, "sierra": 0.16, "selva": 0.20}
MIN_ORDERS = 30
STREAM = 8  # this generator's own random stream (a fixed key), independent of the core tables

_SUFFIXES = ("Los Andes", "Nueva Esperanza", "Santa Rosa", "Inti", "Pachamama", "Allin Kawsay", "Sumaq",
             "Wayra", "Virgen del Carmen", "San Juan", "Qori", "Illari", "Mamacha", "Tawa", "Kusi",
             "Urpi", "Yaku", "Killa", "Ñawi", "Chaska")
_FAMILIES = ("Quispe", "Mamani", "Huamán", "Condori", "Flores", "Rojas", "Ccori", "Apaza", "Ramos",
             "Chávez", "Torres", "Vargas", "Salazar", "Paucar", "Ticona", "Gutiérrez")


def _haversine(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    return geo.haversine_km(lat1, lon1, lat2, lon2)


def legs(origin_lat: float, origin_lon: float, region: str, mode: str) -> tuple[float, float, float]:
    """(road_km, river_km, air_km) from an origin to Lima for a transport mode.

    road / road_reefer: straight line × road circuity of the origin's natural region.
    air: feeder road to the regional capital's airport (≥ 15 km) + straight line capital→Lima × 1.05.
    river_road: river to Pucallpa × river circuity, then road Pucallpa→Lima (selva circuity).
    """
    reg = geo.REGION_BY_CODE[region]
    circ = geo.ROAD_CIRCUITY[reg.natural_region]
    if mode in ("road", "road_reefer"):
        return round(_haversine(origin_lat, origin_lon, LIMA_LAT, LIMA_LON) * circ, 1), 0.0, 0.0
    if mode == "air":
        feeder = max(15.0, _haversine(origin_lat, origin_lon, reg.lat, reg.lon) * circ)
        air = _haversine(reg.lat, reg.lon, LIMA_LAT, LIMA_LON) * 1.05
        return round(feeder, 1), 0.0, round(air, 1)
    if mode == "river_road":
        river = _haversine(origin_lat, origin_lon, PUCALLPA.lat, PUCALLPA.lon) * geo.RIVER_CIRCUITY
        road = _haversine(PUCALLPA.lat, PUCALLPA.lon, LIMA_LAT, LIMA_LON) * geo.ROAD_CIRCUITY["selva"]
        return round(road, 1), round(river, 1), 0.0
    raise ValueError(f"unknown transport mode {mode!r}")


def _choose_mode(rng: np.random.Generator, ing: Ingredient, origin: Origin) -> str:
    road_link = origin.region != "PE-LOR"  # Loreto has no road to Lima
    far = _haversine(origin.lat, origin.lon, LIMA_LAT, LIMA_LON) * geo.ROAD_CIRCUITY[
        geo.REGION_BY_CODE[origin.region].natural_region] > 900
    u = rng.random()
    if not road_link:
        if ing.perishable:
            return "air" if u < 0.65 else "river_road"
        return "river_road" if u < 0.8 else "air"
    if ing.perishable:
        if far and u < 0.35:
            return "air"
        return "road_reefer"
    return "road"


def _allocation(rng: np.random.Generator, n: int) -> list[tuple[Ingredient, Origin]]:
    """Which ingredient and origin each supplier has: every origin at least once, ≥ 6 per ingredient."""
    counts = {i.ingredient_id: MIN_PER_INGREDIENT for i in INGREDIENTS}
    weights = np.array([sum(o.weight for o in i.origins) for i in INGREDIENTS])
    rest = n - MIN_PER_INGREDIENT * len(INGREDIENTS)
    extra = rng.multinomial(rest, weights / weights.sum())
    out: list[tuple[Ingredient, Origin]] = []
    for ing, k in zip(INGREDIENTS, extra, strict=True):
        total = counts[ing.ingredient_id] + int(k)
        ow = np.array([o.weight for o in ing.origins])
        picks = list(range(len(ing.origins)))  # every origin once
        picks += list(rng.choice(len(ing.origins), size=total - len(picks), p=ow / ow.sum()))
        out.extend((ing, ing.origins[j]) for j in sorted(picks))
    return out


def regional_late_rates(data_dir: Path) -> dict[tuple[str, str], tuple[float, int]]:
    """Late share and order count by (region, mode class) from the orders table, if there is one.

    Mode class: ``road`` (orders shipped standard/express), ``air``, ``river``.
    """
    if not storage.has_table(data_dir, "orders"):
        return {}
    orders = storage.load_table(data_dir, "orders").frame
    agg = (
        orders.lazy()
        .filter(pl.col("is_late").is_not_null())
        .with_columns(
            pl.when(pl.col("shipping_mode").is_in(["standard", "express"])).then(pl.lit("road"))
            .otherwise(pl.col("shipping_mode")).alias("mode_class")
        )
        .group_by("region", "mode_class")
        .agg(pl.col("is_late").mean().alias("late"), pl.len().alias("n"))
        .collect()
    )
    return {(r, m): (float(lt), int(k)) for r, m, lt, k in agg.iter_rows()}


def _mode_class(mode: str) -> str:
    return {"road": "road", "road_reefer": "road", "air": "air", "river_road": "river"}[mode]


def _name(rng: np.random.Generator, ing: Ingredient, origin: Origin, coop: bool, used: set[str]) -> str:
    place = origin.locality.split(" (")[0].split(" / ")[0]
    suffix = _SUFFIXES[int(rng.integers(len(_SUFFIXES)))]
    if coop:
        if ing.category in ("fish", "seafood"):
            kind = "Asociación de Maricultores" if ing.category == "seafood" else "Asociación de Acuicultores"
        elif ing.ingredient_id == "cushuro":
            kind = "Comunidad Campesina"
        else:
            kind = ("Cooperativa Agraria", "Asociación de Productores", "Cooperativa de Servicios")[
                int(rng.integers(3))]
        name = f"{kind} {suffix} de {place}"
    else:
        fam = _FAMILIES[int(rng.integers(len(_FAMILIES)))]
        if ing.category == "fish":
            name = f"Piscigranja {suffix} ({place})"
        else:
            name = (f"{fam} e Hijos SAC ({place})", f"Agroindustrias {suffix} SAC ({place})",
                    f"Fundo {suffix} ({place})", f"Comercializadora {fam} EIRL ({place})")[int(rng.integers(4))]
    base, k = name, 2
    while name in used:
        name = f"{base} {k}"
        k += 1
    used.add(name)
    return name


# audit "environment" bonus of a supplier's best practice
_PRACTICE_ENV_BONUS = {"agroforestry": 12, "traditional_andean": 9, "wild_harvest_managed": 10,
                       "solar_evaporation": 8, "bottom_culture": 5, "aquaculture": 0, "wild_harvest": -4,
                       "smallholder_coop": 3, "conventional": -12}


def _practices(rng: np.random.Generator, ing: Ingredient, virtue: float) -> tuple[list[str], bool]:
    """The supplier's practices (conventional more likely when badly run) and whether it is a co-op."""
    practices = [p for p in ing.practices if p != "conventional"]
    p_conv = 0.45 - 0.2 * virtue if "conventional" in ing.practices else 0.0
    if rng.random() < p_conv or not practices:
        chosen = ["conventional"]
    else:
        chosen = [practices[int(rng.integers(len(practices)))]]
        for p in practices:
            if p not in chosen and rng.random() < 0.25 + 0.1 * virtue:
                chosen.append(p)
    conventional = chosen == ["conventional"]
    coop = "smallholder_coop" in chosen or (not conventional and rng.random() < 0.2)
    if coop and "smallholder_coop" in ing.practices and "smallholder_coop" not in chosen:
        chosen.append("smallholder_coop")
    return chosen, coop


def _certifications(rng: np.random.Generator, ing: Ingredient, origin: Origin, virtue: float, chosen: list[str],
                    coop: bool) -> list[str]:
    """Certifications that follow the ingredient: MSC only for wild harvest, ASC only for farmed, DOP only at
    real DOP origins; organic/ASC/MSC and Fairtrade/Rainforest Alliance likelier for well-run suppliers."""
    conventional = chosen == ["conventional"]
    certs = []
    for c in ing.certifications:
        if c == "senasa":
            prob = 0.9
        elif c == "dop":
            prob = 0.85 if origin.dop else 0.0
        elif c in ("organic", "asc", "msc"):
            prob = 1 / (1 + math.exp(-(-0.6 + 1.1 * virtue - (1.2 if conventional else 0.0))))
            if c == "msc" and "wild_harvest" not in chosen:
                prob = 0.0
            if c == "asc" and not ({"aquaculture", "bottom_culture"} & set(chosen)):
                prob = 0.0
        else:  # fairtrade, rainforest_alliance
            prob = 1 / (1 + math.exp(-(-1.4 + 0.9 * virtue + (0.9 if coop else -0.8))))
        if rng.random() < prob:
            certs.append(c)
    return certs


def _price(rng: np.random.Generator, ing: Ingredient, certs: list[str], coop: bool, fair_premium: bool,
           road_km: float, river_km: float, air_km: float) -> float:
    """Reference price × certification premiums × lognormal noise, plus freight passed on."""
    premium = 1.0 + 0.14 * ("organic" in certs) + 0.08 * ("fairtrade" in certs) \
        + 0.06 * ("rainforest_alliance" in certs) + 0.1 * bool({"asc", "msc"} & set(certs)) \
        + 0.07 * ("dop" in certs) + 0.05 * coop * fair_premium
    price = ing.price_pen_kg * premium * float(rng.lognormal(0.0, 0.16))
    price *= 1.0 + (0.00045 * air_km) + 0.00004 * (road_km + river_km)  # freight passed on
    return price


def _lead_time_and_capacity(rng: np.random.Generator, ing: Ingredient, mode: str, road_km: float, river_km: float,
                            coop: bool) -> tuple[int, float]:
    """Lead time (handling + transit days) and monthly capacity in kg (co-ops pool more)."""
    handling = int(rng.integers(1, 4))
    transit = {"air": 1 + road_km / 300, "river_road": river_km / 160 + road_km / 420}.get(
        mode, road_km / 420)
    lead = max(1, math.ceil(transit) + handling)
    capacity = 40_000.0 / ing.price_pen_kg * float(rng.lognormal(0.0, 0.6)) * (1.8 if coop else 1.0)
    return lead, float(round(max(20.0, capacity), 0))


def _audits(rng: np.random.Generator, virtue: float, chosen: list[str], certs: list[str], coop: bool,
            women: bool) -> tuple[list[float | None], int]:
    """Three audit sections scored 0-100 by an auditor, some never done: (scores with None, sections missing)."""
    env = 62 + 9 * virtue + max(_PRACTICE_ENV_BONUS[p] for p in chosen) + 5 * ("organic" in certs) \
        + rng.normal(0, 7)
    lab = 58 + 9 * virtue + 10 * ("fairtrade" in certs) + 6 * coop + 4 * women + rng.normal(0, 7)
    tra = 55 + 8 * virtue + 8 * bool({"dop", "asc", "msc", "organic"} & set(certs)) + rng.normal(0, 8)
    audit = [float(np.clip(round(v, 1), 0, 100)) for v in (env, lab, tra)]
    p_full = 1 / (1 + math.exp(-(0.45 + 0.5 * virtue + 0.6 * bool(certs and certs != ["senasa"]))))
    missing: list[int] = []
    if rng.random() > p_full:
        k = int(rng.choice([1, 2, 3], p=[0.4, 0.35, 0.25]))
        missing = sorted(int(x) for x in rng.choice(3, size=k, replace=False))
    return [None if j in missing else audit[j] for j in range(3)], len(missing)


def _on_time_record(rng: np.random.Generator, origin: Origin, mode: str, virtue: float,
                    late_rates: dict[tuple[str, str], tuple[float, int]]) -> tuple[int, int, float, str]:
    """The supplier's deliveries over the last 12 months, late with the probability observed for orders in its
    region and mode (orders table, else a prior by natural region), scaled by how well it is run.
    Returns (deliveries, late deliveries, the region's late share, where that share came from)."""
    nat = geo.REGION_BY_CODE[origin.region].natural_region
    late_region, n_orders = late_rates.get((origin.region, _mode_class(mode)), (float("nan"), 0))
    if n_orders >= MIN_ORDERS:
        source, base_late = "orders", late_region
    else:
        source, base_late = "prior", PRIOR_LATE[nat]
    p_late = float(np.clip(base_late * math.exp(0.35 * rng.normal() - 0.25 * virtue), 0.005, 0.7))
    deliveries = int(max(6, rng.poisson(24)))
    late = int(rng.binomial(deliveries, p_late))
    return deliveries, late, base_late, source


def _supplier(rng: np.random.Generator, idx: int, ing: Ingredient, origin: Origin,
              late_rates: dict[tuple[str, str], tuple[float, int]], used: set[str]) -> dict[str, Any]:
    """One supplier row. Its hidden "how well run" factor (``virtue``) raises the odds of good practices,
    certifications, audit scores, quality and punctuality. The draws happen in a fixed order (same seed,
    same suppliers)."""
    virtue = float(rng.normal())  # latent: how well run and how sustainable the supplier is
    chosen, coop = _practices(rng, ing, virtue)
    certs = _certifications(rng, ing, origin, virtue, chosen, coop)
    women = bool(rng.random() < (0.35 if coop else 0.18))
    fair_premium = "fairtrade" in certs or bool(rng.random() < (0.3 + 0.1 * virtue if coop else 0.08))

    mode = _choose_mode(rng, ing, origin)
    lat = origin.lat + float(rng.uniform(-0.04, 0.04))
    lon = origin.lon + float(rng.uniform(-0.04, 0.04))
    road_km, river_km, air_km = legs(lat, lon, origin.region, mode)
    price = _price(rng, ing, certs, coop, fair_premium, road_km, river_km, air_km)
    quality = float(np.clip(72 + 7 * virtue + 5 * ("dop" in certs) + rng.normal(0, 6), 35, 100))
    lead, capacity = _lead_time_and_capacity(rng, ing, mode, road_km, river_km, coop)
    audit_vals, n_missing = _audits(rng, virtue, chosen, certs, coop, women)
    deliveries, late, base_late, source = _on_time_record(rng, origin, mode, virtue, late_rates)
    return {
        "supplier_id": f"SUP-{idx + 1:03d}",
        "name": _name(rng, ing, origin, coop, used),
        "ingredient_id": ing.ingredient_id,
        "variety": origin.variety,
        "region": origin.region,
        "locality": origin.locality,
        "lat": round(lat, 4),
        "lon": round(lon, 4),
        "certifications": ",".join(sorted(certs)),
        "practices": ",".join(sorted(chosen)),
        "is_coop": bool(coop),
        "women_led": women,
        "fair_price_premium": bool(fair_premium),
        "transport_mode": mode,
        "road_km": road_km,
        "river_km": river_km,
        "air_km": air_km,
        "distance_km": round(road_km + river_km + air_km, 1),
        "price_pen_kg": round(price, 2),
        "quality_score": round(quality, 1),
        "lead_time_days": int(lead),
        "capacity_kg_month": capacity,
        AUDIT_SECTIONS[0]: audit_vals[0],
        AUDIT_SECTIONS[1]: audit_vals[1],
        AUDIT_SECTIONS[2]: audit_vals[2],
        "audit_completeness": round((3 - n_missing) / 3, 4),
        "deliveries_12m": deliveries,
        "late_deliveries_12m": late,
        "on_time_rate": round(1 - late / deliveries, 4),
        "region_on_time_rate": round(1 - base_late, 4),
        "on_time_source": source,
        "is_incumbent": False,
    }


def _mark_incumbents(suppliers: pl.DataFrame) -> pl.DataFrame:
    """The kitchen's current supplier of each ingredient: the biggest conventional supplier (kitchens often buy
    from the largest aggregator); the biggest of all where none is conventional; ties by id."""
    incumbent = (
        suppliers.with_columns((pl.col("practices") == "conventional").alias("_conv"))
        .sort(["_conv", "capacity_kg_month", "supplier_id"], descending=[True, True, False])
        .group_by("ingredient_id", maintain_order=True).first().get_column("supplier_id")
    )
    return suppliers.with_columns(pl.col("supplier_id").is_in(incumbent.implode()).alias("is_incumbent"))


def _ingredients_frame() -> pl.DataFrame:
    return pl.DataFrame([
        {"ingredient_id": i.ingredient_id, "name_es": i.name_es, "name_en": i.name_en, "category": i.category,
         "perishable": i.perishable,
         "origin_regions": ",".join(dict.fromkeys(o.region for o in i.origins)),
         "dop_regions": ",".join(dict.fromkeys(o.region for o in i.origins if o.dop)),
         "reference_price_pen_kg": i.price_pen_kg}
        for i in INGREDIENTS
    ])


def build_suppliers(seed: int, late_rates: dict[tuple[str, str], tuple[float, int]] | None = None,
                    n: int = N_SUPPLIERS) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(ingredients, suppliers) frames; pure function of ``seed``, ``n`` and ``late_rates``."""
    if not 100 <= n <= 300:
        raise ValueError("the demo has between 100 and 300 suppliers")
    late_rates = late_rates or {}
    rng = np.random.default_rng([seed, STREAM])
    used: set[str] = set()
    rows = [_supplier(rng, idx, ing, origin, late_rates, used) for idx, (ing, origin) in enumerate(_allocation(rng, n))]
    suppliers = _mark_incumbents(pl.DataFrame(rows, schema_overrides={s: pl.Float64 for s in AUDIT_SECTIONS}))
    return _ingredients_frame().select(SOURCING_INGREDIENTS.names), suppliers.select(SOURCING_SUPPLIERS.names)


def generate_suppliers(data_dir: Path, seed: int, progress: Progress | None = None) -> dict[str, int]:
    """Write ``sourcing_ingredients`` and ``sourcing_suppliers`` into ``data_dir``; returns row counts."""
    report = progress or (lambda label, frac: None)
    data_dir = Path(data_dir)
    report("sourcing: on-time record from orders", 0.86)
    ingredients, suppliers = build_suppliers(seed, regional_late_rates(data_dir))
    storage.write_table(ingredients, data_dir, "sourcing_ingredients")
    storage.write_table(suppliers, data_dir, "sourcing_suppliers")
    report("sourcing: suppliers", 0.9)
    return {"sourcing_ingredients": ingredients.height, "sourcing_suppliers": suppliers.height}
