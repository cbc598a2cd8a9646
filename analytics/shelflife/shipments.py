"""Shipments of the demo traceability lots as lot histories (what the forecasts and ``trace_quality`` read).

A shipment is a loading event for a buyer plus the voyage events that carry its bill of lading
(``departing``, ``arriving`` at the port abroad with the reefer logger's readings, ``receiving`` at the
buyer; :mod:`analytics.traceability.demo_lots`). :func:`demo_lot_history` turns a lot's shipments into the
lots/readings frames of :mod:`analytics.shelflife.histories` (plus ``planned`` readings for the part of a
route not travelled yet); :func:`shipment_histories` does it for every perishable lot.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analytics.shelflife.histories import (
    BUYER_LOCODE,
    DESTINATION_HOURS,
    LOT_SCHEMA,
    PHASE_CODE,
    PORT_LOCODE,
    READING_SCHEMA,
    make_route,
    uses_ca,
)
from analytics.shelflife.kinetics import PRODUCTS, UnknownProduct, product

# demo-lot readings say which ones are the plan (the voyage at the optimum) rather than logged
DEMO_READING_SCHEMA: dict[str, Any] = {**READING_SCHEMA, "planned": pl.Boolean}


class ShelfLifeInputError(ValueError):
    """Bad what-if or command-line input, or a lot without a shipment to forecast."""


def _harvest_time(timeline: list[dict[str, Any]], master: dict[str, Any]) -> datetime:
    for t in timeline:
        if t["cte"] == "Harvesting" and isinstance(t["time"], datetime):
            return t["time"]
    raise ShelfLifeInputError(f"lot {master.get('lot_code')}: no harvest event to start the history from")


def _hours(t: datetime, harvest: datetime) -> float:
    return (t - harvest).total_seconds() / 3600.0


def demo_lot_history(data_dir: Path | str, lot: str, gtin: str | None = None) -> tuple[pl.DataFrame, pl.DataFrame,
                                                                                         dict[str, Any]]:
    """(shipments as lots, their readings, lot info) for a traceability lot.

    A shipment is a loading event for a buyer plus the voyage events that carry its bill of lading
    (``departing``, ``arriving``, ``receiving`` at the buyer). Its readings are the lot's up to loading (other
    shipments' loading and voyage readings excluded), then its own voyage and delivery readings. A shipment
    received by the buyer (``arrived``) ends there; one still on its way continues with the rest of its route's
    planned time at the product's optimum (``planned`` readings) from its last reading or its departure.
    """
    from analytics.traceability.agro_chains import BUYERS, site_by_gln
    from analytics.traceability.lots import lookup, lot_view

    data_dir = Path(data_dir)
    ref = lookup(data_dir, lot, gtin)[0]
    view = lot_view(data_dir, ref.gtin, ref.lot)
    master = view.master
    key = master.get("crop") or ""
    if key not in PRODUCTS:
        what = master.get("product_en") or key or "an imported lot of unknown product"
        raise UnknownProduct(f"lot {ref.lot} is {what}: no shelf-life model (perishable products: "
                             f"{', '.join(sorted(PRODUCTS))})")
    kin = product(key)
    harvest = _harvest_time(view.timeline, master)
    buyer_by_name = {b[0]: b for b in BUYERS}
    sites = site_by_gln()
    loads = [t for t in view.timeline if t["biz_step"] == "loading" and t["destinations"]]
    if not loads:
        raise ShelfLifeInputError(f"lot {ref.lot} has not been loaded for a buyer yet: no route to forecast")
    # which shipment each event belongs to: the loading event itself or an event sharing its documents (the B/L)
    owner: dict[str, str] = {}
    for t in loads:
        docs = set(t["documents"])
        for e in view.timeline:
            if e["event_key"] == t["event_key"] or (docs and docs & set(e["documents"])):
                owner.setdefault(e["event_key"], t["event_key"])
    lot_rows: list[dict[str, Any]] = []
    reading_frames: list[pl.DataFrame] = []
    for t in loads:
        buyer = buyer_by_name.get(t["destinations"][0])
        site = sites.get(t["gln"] or "")
        if buyer is None or site is None or site.key not in PORT_LOCODE:
            raise ShelfLifeInputError(f"lot {ref.lot}: loading event {t['event_key']} has no known port or buyer")
        route = make_route(PORT_LOCODE[site.key], BUYER_LOCODE[buyer[2]], "sea")
        planned_h = route.planned_days * 24.0
        shipment_id = f"{ref.lot}>{route.destination}#{len(lot_rows) + 1}"
        mine = {k for k, o in owner.items() if o == t["event_key"]}
        steps = {e["biz_step"]: e for e in view.timeline if e["event_key"] in mine and e is not t}
        own = [r for r in view.readings if r["event_key"] not in owner or r["event_key"] in mine]
        obs_h = np.array([_hours(r["time"], harvest) for r in own], float)
        obs_t = np.array([r["temp_c"] for r in own], float)
        voyage_keys = {steps[s]["event_key"] for s in ("arriving",) if s in steps}
        dest_keys = {steps[s]["event_key"] for s in ("receiving",) if s in steps}
        phase = np.array([PHASE_CODE["voyage"] if r["event_key"] in voyage_keys else
                          PHASE_CODE["destination"] if r["event_key"] in dest_keys else PHASE_CODE["port"]
                          for r in own], np.int8)
        own_load = [h for h, r in zip(obs_h, own, strict=True) if r["event_key"] == t["event_key"]]
        if "departing" in steps:
            depart_h = _hours(steps["departing"]["time"], harvest)
        else:  # the vessel sails after loading: at the loading event or its last reading, whichever is later
            depart_h = max([_hours(t["time"], harvest), *own_load])
        port_h = _hours(steps["arriving"]["time"], harvest) if "arriving" in steps else None
        arrived = "receiving" in steps
        if arrived:
            end_h = _hours(steps["receiving"]["time"], harvest)
            keep = obs_h <= end_h + 1e-9
            plan_h = np.zeros(0)
        else:
            keep = obs_h <= (port_h if port_h is not None else depart_h) + 1e-9
            start = max([depart_h, *obs_h[keep]])
            end_h = (port_h + sum(DESTINATION_HOURS) / 2 if port_h is not None else depart_h + planned_h)
            end_h = max(end_h, start + 1.0)
            n_plan = max(1, int(np.ceil(end_h - start)))
            plan_h = start + (end_h - start) * np.arange(n_plan) / n_plan
            plan_h = plan_h[1:] if keep.any() and np.isclose(obs_h[keep].max(), start) else plan_h
        n_plan = plan_h.size
        plan_phase = PHASE_CODE["destination"] if port_h is not None else PHASE_CODE["voyage"]
        reading_frames.append(pl.DataFrame({
            "lot_id": shipment_id, "hours": np.concatenate([obs_h[keep], plan_h]),
            "temp_c": np.concatenate([obs_t[keep], np.full(n_plan, kin.optimum_c)]),
            "phase": np.concatenate([phase[keep], np.full(n_plan, plan_phase, np.int8)]),
            "planned": np.concatenate([np.zeros(int(keep.sum()), bool), np.ones(n_plan, bool)]),
        }, schema=DEMO_READING_SCHEMA).sort("hours"))
        voyage_days = (port_h - depart_h) / 24.0 if port_h is not None else route.planned_days
        lot_rows.append({
            "lot_id": shipment_id, "product": key, "farm": master.get("site_name"), "region": master.get("region"),
            "packhouse": None, "origin": route.origin, "destination": route.destination, "mode": route.mode,
            "route": route.key, "ca": uses_ca(key, route), "harvest_time": harvest,
            "harvest_month": harvest.month, "harvest_day": harvest.day, "transit_hours": end_h,
            "voyage_days": voyage_days, "buyer": buyer[0], "buyer_gln": buyer[2], "departure_hours": depart_h,
            "departed": "departing" in steps, "port_arrival_hours": port_h, "arrived": arrived})
    schema: dict[str, Any] = {**LOT_SCHEMA, "buyer": pl.String, "buyer_gln": pl.String,
                              "departure_hours": pl.Float64, "departed": pl.Boolean,
                              "port_arrival_hours": pl.Float64, "arrived": pl.Boolean}
    lots = pl.DataFrame(lot_rows, schema=schema)
    info = {"lot": ref.lot, "gtin": ref.gtin, "product": key}
    return lots, pl.concat(reading_frames), info


def shipment_histories(data_dir: Path | str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(shipments, readings) of every perishable demo lot, as :func:`demo_lot_history` builds them, with
    ``lot_code`` and ``gtin`` columns; sorted by ``lot_id`` (the shipment id). Lots not loaded yet are left out."""
    from analytics.traceability.lots import list_lots

    master = list_lots(Path(data_dir))
    if master.is_empty():
        return pl.DataFrame(), pl.DataFrame()
    lots, readings = [], []
    for code, gtin, crop in master.select("lot_code", "gtin", "crop").iter_rows():
        if crop not in PRODUCTS:
            continue
        try:
            ship, r, _ = demo_lot_history(data_dir, code, gtin)
        except ShelfLifeInputError:
            continue  # not loaded for a buyer yet: nothing to forecast or record
        lots.append(ship.with_columns(pl.lit(code).alias("lot_code"), pl.lit(gtin).alias("gtin")))
        readings.append(r)
    if not lots:
        return pl.DataFrame(), pl.DataFrame()
    return pl.concat(lots).sort("lot_id"), pl.concat(readings).sort("lot_id", "hours")


__all__ = ["DEMO_READING_SCHEMA", "ShelfLifeInputError", "demo_lot_history", "shipment_histories"]
