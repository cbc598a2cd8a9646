"""Mock recall of a lot: one step back (input lots, suppliers), one step forward (pallets, shipments,
customers, output lots) and the lot's mass balance in kg."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from analytics.traceability import store
from analytics.traceability.lots import LotNotFound, items_table, place_of
from ledger_client.gs1 import parse_digital_link


def _kg(df: pl.DataFrame) -> float:
    return float(df["quantity_kg"].fill_null(0).sum()) if df.height else 0.0


def _one_step_back(items: pl.DataFrame, events: pl.DataFrame, gtin: str, lot: str, created: pl.DataFrame,
                   produced: pl.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The input lots the lot was made from (its transformation events) and the supplying sites: those of the
    input lots, or the lot's own harvest site when it was created (harvested) itself."""
    back_lots: list[dict[str, Any]] = []
    suppliers: dict[str, dict[str, Any]] = {}
    for ek in produced["event_key"].unique().to_list():
        ins = items.filter((pl.col("event_key") == ek) & (pl.col("role") == "input"))
        for r in ins.iter_rows(named=True):
            back_lots.append({"gtin": r["gtin"], "lot": r["lot"], "quantity_kg": r["quantity_kg"], "event_key": ek})
            for s in _origin_sites(items, events, r["gtin"], r["lot"]):
                suppliers[s["gln"]] = s
    for s in _origin_sites(items, events, gtin, lot):
        if created.height:
            suppliers[s["gln"]] = s
    return back_lots, sorted(suppliers.values(), key=lambda s: s["gln"])


def _shipments(items: pl.DataFrame, events: pl.DataFrame,
               pallets: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The shipping events that carried the lot's pallets (with their documents and destinations), and the
    customers (parties, GS1 AI 417) they went to, with the kg and pallets each received."""
    ssccs = [p["sscc"] for p in pallets]
    ship_keys = items.filter(pl.col("sscc").is_in(ssccs) & (pl.col("role") == "observed"))["event_key"].unique()
    ships = events.filter(pl.col("event_key").is_in(ship_keys) & pl.col("biz_step").is_in(
        ["shipping", "loading", "departing"])).sort("event_time")
    shipments: list[dict[str, Any]] = []
    customers: dict[str, dict[str, Any]] = {}
    for row in ships.iter_rows(named=True):
        ev = store.event_of(row["document"])
        docs = [b.get("bizTransaction") for b in ev.get("bizTransactionList") or [] if isinstance(b, Mapping)]
        its = items.filter(pl.col("event_key") == row["event_key"])
        dests = its.filter(pl.col("role") == "destination")["party"].to_list()
        shipped = sorted(set(its.filter(pl.col("sscc").is_in(ssccs))["sscc"].to_list()))
        shipments.append({"event_key": row["event_key"], "time": row["event_time"], "biz_step": row["biz_step"],
                          "from": place_of(row["read_point"])["name"] or row["read_point"],
                          "to": [place_of(d)["name"] or d for d in dests], "documents": docs, "pallets": shipped})
        for d in dests:
            p = place_of(d)
            parsed = parse_digital_link(d) if d else None
            if parsed is not None and parsed.ai == "417":  # a party (customer), not a location
                kg = sum(x["quantity_kg"] or 0 for x in pallets if x["sscc"] in shipped)
                c = customers.setdefault(p["gln"], {"gln": p["gln"], "name": p["name"], "quantity_kg": 0.0,
                                                    "pallets": []})
                c["quantity_kg"] += kg
                c["pallets"] = sorted(set(c["pallets"]) | set(shipped))
    return shipments, sorted(customers.values(), key=lambda c: c["gln"])


def _output_lots(items: pl.DataFrame, consumed: pl.DataFrame) -> list[dict[str, Any]]:
    """The lots made from this one (outputs of the transformation events that consumed it)."""
    fwd_lots = []
    for ek in consumed["event_key"].unique().to_list():
        outs = items.filter((pl.col("event_key") == ek) & (pl.col("role") == "output"))
        for r in outs.iter_rows(named=True):
            fwd_lots.append({"gtin": r["gtin"], "lot": r["lot"], "quantity_kg": r["quantity_kg"], "event_key": ek})
    return fwd_lots


def _mass_balance(in_kg: float, out_kg: float) -> dict[str, Any]:
    """kg in (created or produced) against kg out (packed or consumed); balanced within 0-5 % loss."""
    diff = in_kg - out_kg
    return {"in_kg": round(in_kg, 3), "out_kg": round(out_kg, 3), "difference_kg": round(diff, 3),
            "difference_pct": round(100 * diff / in_kg, 2) if in_kg else None,
            "balanced": in_kg > 0 and -0.001 <= diff <= 0.05 * in_kg}


def recall(data_dir: Path, gtin: str, lot: str) -> dict[str, Any]:
    """One step back (input lots, suppliers) and one step forward (pallets, shipments, customers,
    output lots), with the lot's mass balance in kg."""
    data_dir = Path(data_dir)
    items = items_table(data_dir)
    events = store.load(data_dir, store.EVENTS).select("event_key", "event_type", "biz_step", "event_time",
                                                       "read_point", "document")
    mine = items.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot))
    if mine.height == 0:
        raise LotNotFound(f"no events for lot {lot}")
    created = mine.filter(pl.col("role") == "created")
    produced = mine.filter(pl.col("role") == "output")
    packed = mine.filter(pl.col("role") == "packed")
    consumed = mine.filter(pl.col("role") == "input")

    back_lots, suppliers = _one_step_back(items, events, gtin, lot, created, produced)
    pallets = [{"sscc": r["sscc"], "quantity_kg": r["quantity_kg"], "event_key": r["event_key"]}
               for r in packed.iter_rows(named=True) if r["sscc"]]
    shipments, customers = _shipments(items, events, pallets)
    return {
        "gtin": gtin, "lot": lot,
        "back": {"lots": back_lots, "suppliers": suppliers},
        "forward": {"pallets": pallets, "shipments": shipments, "customers": customers,
                    "lots": _output_lots(items, consumed)},
        "balance": _mass_balance(_kg(created) + _kg(produced), _kg(packed) + _kg(consumed)),
    }


def _origin_sites(items: pl.DataFrame, events: pl.DataFrame, gtin: str, lot: str) -> list[dict[str, Any]]:
    keys = items.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot) & (pl.col("role") == "created"))[
        "event_key"].to_list()
    out = []
    for row in events.filter(pl.col("event_key").is_in(keys)).iter_rows(named=True):
        ev = store.event_of(row["document"])
        senasa = (ev.get("ilmd") or {}).get("chasqui:senasaSite")
        p = place_of(row["read_point"])
        out.append({"gln": p["gln"], "name": p["name"], "senasa_code": senasa, "lot": lot, "gtin": gtin})
    return out
