"""Demo agro lots and their EPCIS 2.0 journeys (farm → packhouse → cold store → port → voyage → buyer).

Listed in ``analytics.demo_orders.extensions()`` (``generate``).
Every event is hashed (GS1 CBV 2.0) and anchored in the data directory's Merkle log.

After the pallets are loaded at the terminal for a buyer, each shipment sails on the real sea route from
Callao or Paita to the buyer's port (:data:`analytics.traceability.agro_chains.BUYER_PORT`), with a
transit time drawn from the route's service range (:data:`analytics.shelflife.histories.SEA_DAYS`):

- ``departing`` at the Peruvian terminal when the vessel sails (a few hours after loading);
- ``arriving`` at the destination port, carrying the reefer logger's voyage readings (one every
  :data:`VOYAGE_READING_HOURS` h, downloaded at discharge; malfunctions, wrong set points and other
  excursions drawn as the shelf-life histories draw them, :func:`analytics.shelflife.histories.leg_temperatures`);
- ``receiving`` at the buyer after discharge, customs and delivery, with that leg's readings.

The demo world is seen as of :data:`AS_OF` (the EPCIS document's creation date): a shipment whose next
step falls after it has not got there yet (at sea, or at the destination port). The generator seed and the
world seed of the ground truth are kept in ``trace_world.json`` (:attr:`analytics.datadir.DataDir.trace_world`);
the quality at arrival of every received shipment is then derived from these tables
(:func:`analytics.shelflife.arrivals.write_quality`, table ``trace_quality``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import polars as pl

from analytics import storage
from analytics.datadir import DataDir
from analytics.shelflife.histories import PORT_LOCODE, leg_temperatures, make_route
from analytics.shelflife.kinetics import PRODUCTS
from analytics.traceability import store
from analytics.traceability.agro_chains import (
    BUYER_PORT,
    BUYERS,
    COMPANY_PREFIX,
    CROP_CODE,
    CROPS,
    DEST_PORTS,
    REGION_SHORT,
    SITES,
    Crop,
)
from ledger_client import epcis
from ledger_client.gs1 import gln, gtin14, sscc

LIMA = ZoneInfo("America/Lima")
DL = "https://id.gs1.org"
LOTS_PER_CROP = {"blueberry": 14, "avocado": 12, "grape": 10, "asparagus": 8, "mango": 8,
                 "coffee": 12, "cacao": 8, "quinoa": 8}
EXPORTER_PGLN = gln(COMPANY_PREFIX, "00000")
AS_OF = datetime(2024, 12, 31, 12, 0, tzinfo=LIMA)  # the demo world's "now": the document's creation date
VOYAGE_READING_HOURS = 4.0  # one reefer logger reading every 4 h at sea and on the way to the buyer
SAIL_AFTER_LOADING_H = (4.0, 18.0)  # loading (2 h of readings) to the vessel's departure
SEASON_MONTHS = {"blueberry": (8, 12), "avocado": (4, 8), "grape": (11, 12), "asparagus": (1, 12),
                 "mango": (11, 12), "coffee": (4, 8), "cacao": (3, 7), "quinoa": (4, 6)}


def site_gln(key: str) -> str:
    return gln(COMPANY_PREFIX, SITES[key].loc_ref)


def lot_uri(gtin: str, lot: str) -> str:
    return f"{DL}/01/{gtin}/10/{lot}"


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


def _loc(key: str) -> dict[str, str]:
    return {"id": f"{DL}/414/{site_gln(key)}"}


def _base(etype: str, t: datetime, step: str, read_point: str, **kw: Any) -> dict[str, Any]:
    ev: dict[str, Any] = {"type": etype, "eventTime": _iso(t), "eventTimeZoneOffset": "-05:00"}
    ev.update(kw)
    ev["bizStep"] = step
    ev["readPoint"] = _loc(read_point)
    return ev


def _sensors(rng: random.Random, start: datetime, hours: float, crop: Crop, excursion: bool,
             n: int = 6) -> list[dict[str, Any]]:
    lo, hi = crop.temp_min_c, crop.temp_max_c
    assert lo is not None and hi is not None
    mid = (lo + hi) / 2
    spike = rng.randrange(n) if excursion else -1
    elements = []
    for i in range(n):
        t = start + timedelta(hours=hours * i / max(1, n - 1))
        temp = round(mid + rng.uniform(-0.35, 0.35) * (hi - lo), 1)
        if i == spike:
            temp = round(hi + rng.uniform(2.0, 5.0), 1)
        elements.append({
            "sensorMetadata": {"time": _iso(t), "deviceID": f"urn:epc:id:giai:{COMPANY_PREFIX}.TL{rng.randint(100, 999)}"},
            "sensorReport": [{"type": "Temperature", "value": temp, "uom": "CEL"},
                             {"type": "RelativeHumidity", "value": round(rng.uniform(85, 95), 1), "uom": "P1"}],
        })
    return elements


def _logger(rng: np.random.Generator, start: datetime, hours: float, temps: np.ndarray) -> list[dict[str, Any]]:
    """One reefer logger's readings (one every VOYAGE_READING_HOURS) of hourly temperatures from ``start``."""
    device = f"urn:epc:id:giai:{COMPANY_PREFIX}.RF{int(rng.integers(1000, 9999))}"
    step = hours / len(temps)
    out = []
    for i in range(0, len(temps), int(VOYAGE_READING_HOURS)):
        t = start + timedelta(hours=step * i)
        out.append({"sensorMetadata": {"time": _iso(t), "deviceID": device},
                    "sensorReport": [{"type": "Temperature", "value": round(float(temps[i]), 1), "uom": "CEL"}]})
    return out


class _Journeys:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed * 7919 + 204)
        # the voyages draw from their own stream, so the journeys up to loading stay those of earlier versions
        self.sea_rng = np.random.default_rng([seed, 7207])
        self.events: list[dict[str, Any]] = []
        self.lots: list[dict[str, Any]] = []
        self.pallet_seq = 0
        self.doc_seq = 0

    def new_sscc(self) -> str:
        self.pallet_seq += 1
        return sscc(COMPANY_PREFIX, f"{self.pallet_seq:09d}")

    def doc(self, prefix: str) -> str:
        self.doc_seq += 1
        return f"urn:epcglobal:cbv:bt:{EXPORTER_PGLN}:{prefix}-{2024}{self.doc_seq:05d}"

    def harvest(self, crop: Crop, farm_key: str, lot: str, t: datetime, qty: int) -> str:
        farm = SITES[farm_key]
        gtin = gtin14(COMPANY_PREFIX, crop.item_ref)
        senasa = f"{REGION_SHORT[farm.region]}-{CROP_CODE[crop.key]}-{int(farm.loc_ref) % 1000:04d}"
        self.lots.append({"lot_code": lot, "gtin": gtin, "crop": crop.key, "product_es": crop.name_es,
                          "product_en": crop.name_en, "region": farm.region, "site_gln": site_gln(farm_key),
                          "site_name": farm.name, "senasa_code": senasa, "created_date": t.date(),
                          "quantity_kg": float(qty), "kind": "harvest"})
        self.events.append(_base(
            "ObjectEvent", t, "commissioning", farm_key, action="ADD",
            quantityList=[{"epcClass": lot_uri(gtin, lot), "quantity": qty, "uom": "KGM"}],
            bizLocation=_loc(farm_key),
            ilmd={"cbvmda:countryOfOrigin": "PE", "cbvmda:harvestStartDate": t.date().isoformat(),
                  "chasqui:senasaSite": senasa, "chasqui:crop": crop.key},
        ))
        return gtin

    def move(self, t: datetime, ssccs: list[str], src: str, dst_key: str | None, step: str,
             crop: Crop | None, excursion: bool, hours: float, buyer: tuple | None = None) -> None:
        kw: dict[str, Any] = {"epcList": [f"{DL}/00/{s}" for s in ssccs], "action": "OBSERVE"}
        ev = _base("ObjectEvent", t, step, src, **kw)
        ev["disposition"] = "in_transit"
        ev["bizTransactionList"] = [{"type": "desadv", "bizTransaction": self.doc("GR")}]
        ev["sourceList"] = [{"type": "owning_party", "source": f"{DL}/417/{EXPORTER_PGLN}"},
                            {"type": "location", "source": _loc(src)["id"]}]
        if buyer is not None:
            ev["bizTransactionList"].append({"type": "bol", "bizTransaction": self.doc("BL")})
            ev["destinationList"] = [{"type": "owning_party", "destination": f"{DL}/417/{buyer[2]}"}]
        elif dst_key is not None:
            ev["destinationList"] = [{"type": "location", "destination": _loc(dst_key)["id"]}]
        if crop is not None and crop.perishable:
            ev["sensorElementList"] = _sensors(self.rng, t, hours, crop, excursion)
        self.events.append(ev)

    def receive(self, t: datetime, ssccs: list[str], at: str) -> None:
        ev = _base("ObjectEvent", t, "receiving", at, epcList=[f"{DL}/00/{s}" for s in ssccs], action="OBSERVE")
        ev["disposition"] = "in_progress"
        ev["bizLocation"] = _loc(at)
        self.events.append(ev)

    def pack(self, t: datetime, gtin: str, lot: str, qty: float, at: str, pallet_kg: int) -> list[str]:
        pallets = []
        remaining = qty
        while remaining > 0.5:
            q = round(min(pallet_kg, remaining), 1)
            remaining = round(remaining - q, 1)
            s = self.new_sscc()
            pallets.append(s)
            ev = _base("AggregationEvent", t, "packing", at, parentID=f"{DL}/00/{s}", action="ADD",
                       childQuantityList=[{"epcClass": lot_uri(gtin, lot), "quantity": q, "uom": "KGM"}])
            ev["bizLocation"] = _loc(at)
            self.events.append(ev)
            t += timedelta(minutes=7)
        return pallets

    def export(self, crop: Crop, gtin: str, lot: str, qty: float, t: datetime, pack_at: str,
               port_store: str) -> None:
        """Pack into pallets, ship to the port cold store/terminal, load for one or two buyers (a split)."""
        rng = self.rng
        pallets = self.pack(t, gtin, lot, qty, pack_at, crop.pallet_kg)
        terminal = "PORT-PAITA" if "PAITA" in port_store else "PORT-CALLAO"
        excursion = crop.perishable and rng.random() < 0.25
        t += timedelta(hours=rng.uniform(2, 6))
        hours = 18.0 if SITES[pack_at].region not in ("PE-LIM", "PE-CAL") else 3.0
        self.move(t, pallets, pack_at, port_store, "shipping", crop, excursion, hours)
        t += timedelta(hours=hours)
        self.receive(t, pallets, port_store)
        # Split: pallets go to one or two buyers.
        candidates = [b for b in BUYERS]
        rng.shuffle(candidates)
        n_buyers = 2 if len(pallets) > 1 and rng.random() < 0.6 else 1
        cut = max(1, len(pallets) // 2) if n_buyers == 2 else len(pallets)
        groups = [pallets[:cut], pallets[cut:]] if n_buyers == 2 else [pallets]
        for g, buyer in zip(groups, candidates, strict=False):
            t += timedelta(hours=rng.uniform(8, 30))
            self.move(t, g, terminal if port_store != terminal else port_store, None, "loading", crop,
                      False, 2.0, buyer=buyer)
            self.voyage(t, g, terminal, crop, buyer)

    def voyage(self, loaded: datetime, ssccs: list[str], terminal: str, crop: Crop, buyer: tuple) -> None:
        """The reefer voyage of a loaded shipment to the buyer's port, and its receipt at the buyer (up to AS_OF)."""
        rng = self.sea_rng
        bl = self.events[-1]["bizTransactionList"][-1]  # the loading event's bill of lading
        dest = BUYER_PORT[buyer[2]]
        port_gln = DEST_PORTS[dest][2]
        route = make_route(PORT_LOCODE[terminal], dest, "sea")
        # the reefer's set point: the product's optimum (ambient 20 °C for the dry cargo, which logs nothing)
        setp = PRODUCTS[crop.key].optimum_c if crop.key in PRODUCTS else 20.0
        (_, sea_h, sea_t), (_, dest_h, dest_t) = leg_temperatures(rng, setp, route)
        depart = loaded + timedelta(hours=float(rng.uniform(*SAIL_AFTER_LOADING_H)))
        epcs = [f"{DL}/00/{s}" for s in ssccs]
        owner = [{"type": "owning_party", "source": f"{DL}/417/{EXPORTER_PGLN}"}]
        if depart > AS_OF:
            return
        ev = _base("ObjectEvent", depart, "departing", terminal, epcList=epcs, action="OBSERVE")
        ev["disposition"] = "in_transit"
        ev["bizTransactionList"] = [dict(bl)]
        ev["sourceList"] = [*owner, {"type": "location", "source": _loc(terminal)["id"]}]
        ev["destinationList"] = [{"type": "location", "destination": f"{DL}/414/{port_gln}"}]
        self.events.append(ev)
        at_port = depart + timedelta(hours=sea_h)
        if at_port > AS_OF:
            return
        self._observed_at(at_port, "arriving", terminal, epcs, port_gln, "in_transit", bl, None,
                          _logger(rng, depart, sea_h, sea_t) if crop.perishable else None)
        received = at_port + timedelta(hours=dest_h)
        if received > AS_OF:
            return
        self._observed_at(received, "receiving", terminal, epcs, buyer[2], "in_progress", bl, owner,
                          _logger(rng, at_port, dest_h, dest_t) if crop.perishable else None)

    def _observed_at(self, when: datetime, step: str, terminal: str, epcs: list[str], gln: str, disposition: str,
                     bl: dict[str, Any], source: list[dict[str, str]] | None,
                     logger: list[dict[str, Any]] | None) -> None:
        """An ObjectEvent read abroad, at the site with GLN ``gln`` (a port, a buyer), with the voyage logger's
        readings when the cargo logs any."""
        ev = _base("ObjectEvent", when, step, terminal, epcList=epcs, action="OBSERVE")
        ev["readPoint"] = {"id": f"{DL}/414/{gln}"}
        ev["disposition"] = disposition
        ev["bizLocation"] = {"id": f"{DL}/414/{gln}"}
        ev["bizTransactionList"] = [dict(bl)]
        if source is not None:
            ev["sourceList"] = source
        if logger is not None:
            ev["sensorElementList"] = logger
        self.events.append(ev)

    def fresh_lot(self, crop: Crop, farm_key: str, n: int, year: int) -> None:
        rng = self.rng
        farm = SITES[farm_key]
        m0, m1 = SEASON_MONTHS[crop.key]
        t = datetime(year, rng.randint(m0, m1), rng.randint(1, 28), rng.randint(6, 10), rng.choice([0, 15, 30]),
                     tzinfo=LIMA)
        lot = f"{CROP_CODE[crop.key]}-{REGION_SHORT[farm.region]}-{year % 100:02d}{n:03d}"
        qty = rng.randrange(crop.lot_kg[0], crop.lot_kg[1], 50)
        gtin = self.harvest(crop, farm_key, lot, t, qty)
        pack_at = crop.packhouse[farm.region]
        t += timedelta(hours=rng.uniform(2, 5))
        if crop.perishable:
            # Cooling: forced-air pre-cooling in the packhouse cold room (FSMA 204 "cooling" CTE).
            ev = _base("ObjectEvent", t, "storing", pack_at, action="OBSERVE",
                       quantityList=[{"epcClass": lot_uri(gtin, lot), "quantity": qty, "uom": "KGM"}])
            ev["disposition"] = "in_progress"
            ev["bizLocation"] = _loc(pack_at)
            ev["sensorElementList"] = _sensors(rng, t, 6.0, crop, excursion=rng.random() < 0.15)
            self.events.append(ev)
            t += timedelta(hours=rng.uniform(6, 12))
        packed = round(qty * rng.uniform(0.96, 0.99), 1)  # sorting shrink (merma) before packing
        self.export(crop, gtin, lot, packed, t, pack_at, crop.port[farm.region])

    def merged_lots(self, crop: Crop, n: int, year: int) -> None:
        """Several farm lots gathered, shipped to a plant and transformed (merged) into one lot."""
        rng = self.rng
        assert crop.transform_plant and crop.output_item_ref
        m0, m1 = SEASON_MONTHS[crop.key]
        t0 = datetime(year, rng.randint(m0, m1), rng.randint(1, 20), 7, 0, tzinfo=LIMA)
        inputs = []
        for j in range(rng.choice([2, 3])):
            farm_key = rng.choice(crop.farms)
            farm = SITES[farm_key]
            lot = f"{CROP_CODE[crop.key]}-{REGION_SHORT[farm.region]}-{year % 100:02d}{n:03d}{'ABC'[j]}"
            qty = rng.randrange(crop.lot_kg[0], crop.lot_kg[1], 50)
            t = t0 + timedelta(days=j, hours=rng.uniform(0, 4))
            gtin = self.harvest(crop, farm_key, lot, t, qty)
            hub = crop.packhouse[farm.region]
            pallets = self.pack(t + timedelta(days=3), gtin, lot, float(qty), hub, crop.pallet_kg)
            t2 = t + timedelta(days=4)
            self.move(t2, pallets, hub, crop.transform_plant, "shipping", crop, False, 20.0)
            self.receive(t2 + timedelta(hours=26), pallets, crop.transform_plant)
            unpack_t = t2 + timedelta(hours=28)
            for s in pallets:
                ev = _base("AggregationEvent", unpack_t, "unpacking", crop.transform_plant,
                           parentID=f"{DL}/00/{s}", action="DELETE")
                self.events.append(ev)
            inputs.append((gtin, lot, float(qty), farm_key))
        t = t0 + timedelta(days=8)
        plant = SITES[crop.transform_plant]
        out_gtin = gtin14(COMPANY_PREFIX, crop.output_item_ref)
        out_lot = f"{CROP_CODE[crop.key]}T-{REGION_SHORT[plant.region]}-{year % 100:02d}{n:03d}"
        in_kg = sum(q for _, _, q, _ in inputs)
        out_kg = round(in_kg * crop.transform_yield, 1)
        self.lots.append({"lot_code": out_lot, "gtin": out_gtin, "crop": crop.key,
                          "product_es": crop.output_name_es, "product_en": crop.output_name_en,
                          "region": plant.region, "site_gln": site_gln(crop.transform_plant),
                          "site_name": plant.name, "senasa_code": None, "created_date": t.date(),
                          "quantity_kg": out_kg, "kind": "transformed"})
        ev = _base("TransformationEvent", t, "commissioning", crop.transform_plant,
                   inputQuantityList=[{"epcClass": lot_uri(g, lot), "quantity": q, "uom": "KGM"}
                                      for g, lot, q, _ in inputs],
                   outputQuantityList=[{"epcClass": lot_uri(out_gtin, out_lot), "quantity": out_kg, "uom": "KGM"}],
                   transformationID=f"urn:epc:id:gdti:{COMPANY_PREFIX}.00001.{crop.transform}-{n}")
        ev["bizLocation"] = _loc(crop.transform_plant)
        ev["ilmd"] = {"cbvmda:countryOfOrigin": "PE", "chasqui:process": crop.transform,
                      "chasqui:yieldPct": round(crop.transform_yield * 100, 1)}
        self.events.append(ev)
        # Processed lots leave from Callao (the plants are in Lima and Puno).
        self.export(crop, out_gtin, out_lot, out_kg, t + timedelta(days=1), crop.transform_plant, "PORT-CALLAO")


def build(seed: int = 7, scale: float = 1.0) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(events, lots) of the demo journeys; deterministic for a seed."""
    j = _Journeys(seed)
    for key, crop in CROPS.items():
        count = max(1, round(LOTS_PER_CROP[key] * scale))
        for n in range(1, count + 1):
            year = 2023 + (n % 2)
            if crop.transform and n % 2 == 0:
                j.merged_lots(crop, n, year)
            else:
                j.fresh_lot(crop, j.rng.choice(crop.farms), n, year)
    return j.events, j.lots


def generate(data_dir: Path, seed: int, progress: Callable[[str, float], None] | None = None) -> dict[str, int]:
    """Write trace tables and anchor every event hash in ``data_dir/ledger`` (an ``analytics.demo_orders.extensions()`` entry)."""
    from analytics.shelflife.arrivals import QUALITY, write_quality

    data_dir = Path(data_dir)
    for name in (store.EVENTS, store.ITEMS, store.LOTS, QUALITY):
        p = storage.table_path(data_dir, name)
        if p.exists():
            p.unlink()
    led = store.ledger_dir(data_dir)
    if led.exists():
        import shutil

        shutil.rmtree(led)
    events, lots = build(seed)
    doc = {"@context": store.DOC_CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2024-12-31T12:00:00.000-05:00", "epcisBody": {"eventList": events}}
    hashed = epcis.hash_document(doc, strict_context=True)  # the demo names only bundled contexts
    ev_rows, item_rows = store.build_rows(hashed, 1, "generated")
    store.append_and_anchor(data_dir, ev_rows, item_rows)
    lots_df = pl.DataFrame(lots, schema={
        "lot_code": pl.String, "gtin": pl.String, "crop": pl.String, "product_es": pl.String,
        "product_en": pl.String, "region": pl.String, "site_gln": pl.String, "site_name": pl.String,
        "senasa_code": pl.String, "created_date": pl.Date, "quantity_kg": pl.Float64, "kind": pl.String})
    storage.write_table(lots_df, data_dir, store.LOTS)
    world = DataDir(data_dir).trace_world
    world.write_text(json.dumps({"generator_seed": int(seed), "world_seed": int(seed), "as_of": AS_OF.isoformat()},
                                indent=2) + "\n", encoding="utf-8")
    if progress:
        progress("traceability: quality at arrival", 0.9)
    arrived = write_quality(data_dir)
    if progress:
        progress("traceability", 1.0)
    return {store.EVENTS: len(ev_rows), store.LOTS: lots_df.height, store.ITEMS: len(item_rows), QUALITY: arrived}
