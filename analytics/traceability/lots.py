"""Lots: look-up by lot code, GTIN + lot, SSCC or Digital Link, and a lot's journey (timeline, path, cold chain)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analytics import geo, storage
from analytics.traceability import store
from analytics.traceability.agro_chains import BUYERS, CROPS, DEST_PORTS, site_by_gln
from ledger_client import epcis
from ledger_client.gs1 import normalise_identifier, parse_digital_link


class LotNotFound(LookupError):
    """No lot matches the query."""


@dataclass(frozen=True)
class LotView:
    """A lot's journey as the page shows it. Rows (timeline events, path points, readings) are records."""

    master: dict[str, Any]  # the lot's master data (crop, product, producer, dates, quantities)
    gtin: str
    lot: str
    timeline: list[dict[str, Any]]  # one per event, in time order
    path: list[dict[str, Any]]  # the places it went through (consecutive repeats merged)
    readings: list[dict[str, Any]]  # temperature readings, with excursions marked
    temp_band: tuple[float | None, float | None]  # the crop's cold-chain band (°C), None when unknown
    digital_link: str
    # shipments leaving Peru: from the Peruvian site (name, lat, lon) to a buyer abroad (to, country,
    # to_lat, to_lon), in event order; the path above stays within the sites the lot went through
    exits: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class LotRef:
    gtin: str
    lot: str
    via: str  # lot | gtin+lot | sscc | digital_link


def items_table(data_dir: Path) -> pl.DataFrame:
    return store.load(data_dir, store.ITEMS)


def lookup(data_dir: Path, query: str, gtin: str | None = None) -> list[LotRef]:
    """Lots matching a lot code, GTIN + lot, SSCC (18 digits or URI), or GS1 Digital Link / EPC URN."""
    q = (query or "").strip()
    if not q or len(q) > 300:
        raise LotNotFound("empty or too long query")
    items = items_table(Path(data_dir)).filter(pl.col("lot").is_not_null())
    via = "lot"
    want_gtin, want_lot, want_sscc = (gtin.strip() if gtin else None), None, None
    dl = normalise_identifier(q) if ":" in q else None
    if dl:
        parsed = parse_digital_link(dl)
        if parsed is not None and parsed.ai == "01" and parsed.get("10"):
            want_gtin, want_lot, via = parsed.value, parsed.get("10"), "digital_link"
        elif parsed is not None and parsed.ai == "00":
            want_sscc, via = parsed.value, "sscc"
        else:
            raise LotNotFound("the link names no lot (needs /01/<GTIN>/10/<lot> or /00/<SSCC>)")
    elif q.isdigit() and len(q) == 18:
        want_sscc, via = q, "sscc"
    else:
        want_lot = q
        via = "gtin+lot" if want_gtin else "lot"
    if want_sscc:
        hits = items.filter(pl.col("sscc") == want_sscc)
    else:
        hits = items.filter(pl.col("lot").str.to_lowercase() == str(want_lot).lower())
        if want_gtin:
            hits = hits.filter(pl.col("gtin") == want_gtin.zfill(14))
    refs = hits.select("gtin", "lot").unique(maintain_order=True).rows()
    if not refs:
        raise LotNotFound(f"no lot matches {q!r}")
    return [LotRef(g, lot, via) for g, lot in refs]


def _lot_master(data_dir: Path, gtin: str, lot: str) -> dict[str, Any]:
    if storage.has_table(data_dir, store.LOTS):
        df = pl.read_parquet(storage.table_path(data_dir, store.LOTS)).filter(
            (pl.col("gtin") == gtin) & (pl.col("lot_code") == lot))
        if df.height:
            return df.row(0, named=True)
    return {"lot_code": lot, "gtin": gtin, "crop": None, "product_es": None, "product_en": None,
            "region": None, "site_gln": None, "site_name": None, "senasa_code": None,
            "created_date": None, "quantity_kg": None, "kind": "imported"}


def lot_event_keys(data_dir: Path, gtin: str, lot: str) -> list[str]:
    """Events that mention the lot or any pallet (SSCC) the lot was packed into."""
    items = items_table(data_dir)
    direct = items.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot))
    ssccs = direct.filter(pl.col("sscc").is_not_null())["sscc"].unique().to_list()
    keys = set(direct["event_key"].to_list())
    if ssccs:
        keys |= set(items.filter(pl.col("sscc").is_in(ssccs))["event_key"].to_list())
    return sorted(keys)


# ---------------------------------------------------------------- lot view

CTE = {  # (event type, bizStep) -> FSMA 204 critical tracking event
    ("ObjectEvent", "commissioning"): "Harvesting",
    ("ObjectEvent", "storing"): "Cooling",
    ("AggregationEvent", "packing"): "Initial Packing",
    ("ObjectEvent", "shipping"): "Shipping",
    ("ObjectEvent", "loading"): "Shipping",
    ("ObjectEvent", "departing"): "Shipping",
    ("ObjectEvent", "receiving"): "Receiving",
    ("ObjectEvent", "arriving"): "Receiving",
    ("TransformationEvent", "commissioning"): "Transformation",
}


def place_of(gln_uri: str | None) -> dict[str, Any]:
    """Name, coordinates, region and kind of a GLN (a demo site, a buyer, a port abroad, or just the GLN)."""
    if not gln_uri:
        return {"gln": None, "name": None, "lat": None, "lon": None, "region": None, "country": None, "kind": None}
    parsed = parse_digital_link(gln_uri)
    g = parsed.value if parsed is not None and parsed.ai in ("414", "417") else gln_uri
    site = site_by_gln().get(g)
    if site is not None:
        return {"gln": g, "name": site.name, "lat": site.lat, "lon": site.lon, "region": site.region, "country": "PE",
                "kind": site.kind}
    for kind, places in (("buyer", BUYERS), ("port_abroad", tuple(DEST_PORTS.values()))):
        for name, country, bg, lat, lon in places:
            if bg == g:
                return {"gln": g, "name": name, "lat": lat, "lon": lon, "region": None, "country": country,
                        "kind": kind}
    return {"gln": g, "name": None, "lat": None, "lon": None, "region": None, "country": None, "kind": None}


def _readings(ev: Mapping[str, Any], t_min: float | None, t_max: float | None) -> list[dict[str, Any]]:
    out = []
    for el in ev.get("sensorElementList") or []:
        md = el.get("sensorMetadata") or {}
        for rep in el.get("sensorReport") or []:
            if rep.get("type") in ("Temperature", "gs1:Temperature") and isinstance(rep.get("value"), (int, float)):
                v = float(rep["value"])
                exc = (t_min is not None and v < t_min) or (t_max is not None and v > t_max)
                out.append({"time": _lima(str(md.get("time") or ev.get("eventTime"))),
                            "temp_c": v, "excursion": bool(exc)})
    return out


_CANONICAL_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")


def _lima(ts: str) -> Any:
    """An EPCIS timestamp as a Lima-time datetime (the text itself if it does not parse)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    text = epcis.canonical_time(ts)
    try:
        if _CANONICAL_TIME.fullmatch(text):  # the usual shape: read without strptime (a lot's page has thousands)
            t = datetime.fromisoformat(text[:-1]).replace(tzinfo=UTC)
        else:
            t = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        return t.astimezone(ZoneInfo("America/Lima"))
    except ValueError:
        return text


def lot_view(data_dir: Path, gtin: str, lot: str) -> LotView:
    """Everything the page shows about a lot: master data, timeline, path, cold chain."""
    data_dir = Path(data_dir)
    master = _lot_master(data_dir, gtin, lot)
    keys = lot_event_keys(data_dir, gtin, lot)
    if not keys:
        raise LotNotFound(f"no events for lot {lot}")
    events = store.load(data_dir, store.EVENTS).filter(pl.col("event_key").is_in(keys)).sort("event_time", "seq")
    crop = CROPS.get(master.get("crop") or "")
    t_min, t_max = (crop.temp_min_c, crop.temp_max_c) if crop else (None, None)
    timeline, readings, exits = [], [], []
    for row in events.iter_rows(named=True):
        ev = store.event_of(row["document"])
        place = place_of(row["read_point"])
        dests = [normalise_identifier(d.get("destination", "")) or d.get("destination")
                 for d in ev.get("destinationList") or [] if isinstance(d, Mapping)]
        docs = [b.get("bizTransaction") for b in ev.get("bizTransactionList") or [] if isinstance(b, Mapping)]
        r = _readings(ev, t_min, t_max)
        for x in r:
            x["event_key"] = row["event_key"]
        readings.extend(r)
        for d in dests if row["biz_step"] != "departing" else ():  # a departure names the port, not the buyer
            to = place_of(d) if d else None
            if to and to["country"] not in (None, "PE") and to["lat"] is not None and place["lat"] is not None:
                exits.append({"from": place["name"] or place["gln"], "lat": place["lat"], "lon": place["lon"],
                              "to": to["name"] or to["gln"], "country": to["country"], "to_lat": to["lat"],
                              "to_lon": to["lon"], "time": row["event_time"],
                              "heading": geo.sea_heading(place["lat"], place["lon"], to["lat"], to["lon"])})
        timeline.append({
            "event_key": row["event_key"], "event_type": row["event_type"], "biz_step": row["biz_step"],
            "cte": CTE.get((row["event_type"], row["biz_step"] or ""), "Other"),
            "time": row["event_time"], "place": place["name"] or place["gln"], "gln": place["gln"],
            "lat": place["lat"], "lon": place["lon"], "country": place["country"], "place_kind": place["kind"],
            "disposition": _short_voc(ev.get("disposition")),
            "destinations": [place_of(d)["name"] or d for d in dests if d], "documents": [d for d in docs if d],
            "excursions": sum(1 for x in r if x["excursion"]), "event_hash": row["event_hash"],
            "leaf_index": row["leaf_index"],
        })
    # the path stays in Peru; the voyage abroad is drawn by ``exits`` (the ports and buyers abroad are in the timeline)
    path = [{"name": t["place"], "lat": t["lat"], "lon": t["lon"], "time": t["time"], "cte": t["cte"]}
            for t in timeline if t["lat"] is not None and t["country"] in (None, "PE")]
    dedup = [p for i, p in enumerate(path) if i == 0 or p["name"] != path[i - 1]["name"]]
    return LotView(master=master, gtin=gtin, lot=lot, timeline=timeline, path=dedup, readings=readings,
                   temp_band=(t_min, t_max), digital_link=f"https://id.gs1.org/01/{gtin}/10/{lot}", exits=exits)


def _short_voc(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    return v.rsplit("-", 1)[-1] if v.startswith("https://ref.gs1.org/cbv/") else v


def list_lots(data_dir: Path) -> pl.DataFrame:
    """Lot master data (for the page's example list)."""
    if not storage.has_table(Path(data_dir), store.LOTS):
        return pl.DataFrame()
    return pl.read_parquet(storage.table_path(Path(data_dir), store.LOTS))
