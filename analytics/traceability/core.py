"""Traceability queries: import, look-up, lot journey, verification against the ledger, recall, FSMA 204."""

from __future__ import annotations

import argparse
import csv
import io
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analytics import storage
from analytics.traceability import store
from analytics.traceability.catalog import BUYERS, SITES, site_by_gln
from ledger_client import LedgerError, epcis
from ledger_client.checkpoint import Verifier
from ledger_client.client import FileTrustStore, HTTPTransport, LedgerClient, LocalTransport
from ledger_client.gs1 import normalise_identifier, parse_digital_link
from ledger_client.log import MerkleLog


class LotNotFound(LookupError):
    """No lot matches the query."""


# ---------------------------------------------------------------- import

def import_epcis(path: Path, data_dir: Path) -> dict[str, Any]:
    """Import an EPCIS 2.0 JSON/JSON-LD document (document, query document or single event).

    Every event is hashed, stored and anchored; an invalid document raises ``EPCISError`` and
    nothing is stored.
    """
    path, data_dir = Path(path), Path(data_dir)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise epcis.EPCISError(f"cannot read {path}: {exc.strerror or exc}") from exc
    doc = epcis.parse_document(raw)
    events, context = epcis.extract_events(doc)
    hashes = epcis.event_hashes(doc)  # validates every event before anything is written
    seq = store.next_seq(data_dir)
    ev_rows, item_rows = store.build_rows(events, context, hashes, seq, f"import:{path.name}", key_prefix="IM")
    indices = store.append_and_anchor(data_dir, ev_rows, item_rows)
    dup = len(hashes) - len(set(hashes))
    lots = sorted({f"{r['gtin']}/{r['lot']}" for r in item_rows if r["lot"]})
    with MerkleLog(store.ledger_dir(data_dir), create=False, writable=False) as log:
        size = log.size
    return {"events": len(ev_rows), "anchored": len(indices), "duplicates_in_document": dup,
            "lots": len(lots), "ledger_size": size, "first_leaf": indices.start if indices else None,
            "file": str(path)}


def cli_import(args: argparse.Namespace) -> int:
    """``python app.py import epcis FILE --data-dir DIR``: prints one JSON line."""
    try:
        report = import_epcis(Path(args.file), Path(args.data_dir))
    except (LedgerError, OSError) as exc:
        print(json.dumps({"events": 0, "error": str(exc), "file": str(args.file)}, ensure_ascii=False))
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


# ---------------------------------------------------------------- look-up

@dataclass(frozen=True)
class LotRef:
    gtin: str
    lot: str
    via: str  # lot | gtin+lot | sscc | digital_link


def _items(data_dir: Path) -> pl.DataFrame:
    return store.load(data_dir, store.ITEMS)


def lookup(data_dir: Path, query: str, gtin: str | None = None) -> list[LotRef]:
    """Lots matching a lot code, GTIN + lot, SSCC (18 digits or URI), or GS1 Digital Link / EPC URN."""
    q = (query or "").strip()
    if not q or len(q) > 300:
        raise LotNotFound("empty or too long query")
    items = _items(Path(data_dir)).filter(pl.col("lot").is_not_null())
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
    items = _items(data_dir)
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


def _place(gln_uri: str | None) -> dict[str, Any]:
    if not gln_uri:
        return {"gln": None, "name": None, "lat": None, "lon": None, "region": None}
    parsed = parse_digital_link(gln_uri)
    g = parsed.value if parsed is not None and parsed.ai in ("414", "417") else gln_uri
    site = site_by_gln().get(g)
    if site is not None:
        return {"gln": g, "name": site.name, "lat": site.lat, "lon": site.lon, "region": site.region}
    for name, _country, bg, lat, lon in BUYERS:
        if bg == g:
            return {"gln": g, "name": name, "lat": lat, "lon": lon, "region": None}
    return {"gln": g, "name": None, "lat": None, "lon": None, "region": None}


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


def _lima(ts: str) -> Any:
    """An EPCIS timestamp as a Lima-time datetime (the text itself if it does not parse)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    text = epcis.canonical_time(ts)
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=ZoneInfo("UTC")).astimezone(ZoneInfo("America/Lima"))
    except ValueError:
        return text


def lot_view(data_dir: Path, gtin: str, lot: str) -> dict[str, Any]:
    """Everything the page shows about a lot: master data, timeline, path, cold chain."""
    from analytics.traceability.catalog import CROPS

    data_dir = Path(data_dir)
    master = _lot_master(data_dir, gtin, lot)
    keys = lot_event_keys(data_dir, gtin, lot)
    if not keys:
        raise LotNotFound(f"no events for lot {lot}")
    events = store.load(data_dir, store.EVENTS).filter(pl.col("event_key").is_in(keys)).sort("event_time", "seq")
    crop = CROPS.get(master.get("crop") or "")
    t_min, t_max = (crop.temp_min_c, crop.temp_max_c) if crop else (None, None)
    timeline, readings = [], []
    for row in events.iter_rows(named=True):
        ev = json.loads(row["document"])
        place = _place(row["read_point"])
        dests = [normalise_identifier(d.get("destination", "")) or d.get("destination")
                 for d in ev.get("destinationList") or [] if isinstance(d, Mapping)]
        docs = [b.get("bizTransaction") for b in ev.get("bizTransactionList") or [] if isinstance(b, Mapping)]
        r = _readings(ev, t_min, t_max)
        for x in r:
            x["event_key"] = row["event_key"]
        readings.extend(r)
        timeline.append({
            "event_key": row["event_key"], "event_type": row["event_type"], "biz_step": row["biz_step"],
            "cte": CTE.get((row["event_type"], row["biz_step"] or ""), "Other"),
            "time": row["event_time"], "place": place["name"] or place["gln"], "gln": place["gln"],
            "lat": place["lat"], "lon": place["lon"], "disposition": _short_voc(ev.get("disposition")),
            "destinations": [_place(d)["name"] or d for d in dests if d], "documents": [d for d in docs if d],
            "excursions": sum(1 for x in r if x["excursion"]), "event_hash": row["event_hash"],
            "leaf_index": row["leaf_index"],
        })
    path = [{"name": t["place"], "lat": t["lat"], "lon": t["lon"], "time": t["time"], "cte": t["cte"]}
            for t in timeline if t["lat"] is not None]
    dedup = [p for i, p in enumerate(path) if i == 0 or p["name"] != path[i - 1]["name"]]
    return {"master": master, "gtin": gtin, "lot": lot, "timeline": timeline, "path": dedup,
            "readings": readings, "temp_band": (t_min, t_max),
            "digital_link": f"https://id.gs1.org/01/{gtin}/10/{lot}"}


def _short_voc(v: Any) -> str | None:
    if not isinstance(v, str):
        return None
    return v.rsplit("-", 1)[-1] if v.startswith("https://ref.gs1.org/cbv/") else v


# ---------------------------------------------------------------- verification

@dataclass
class LotVerification:
    verdict: str  # verified | tampered | incomplete
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_size: int = 0
    seconds: float = 0.0
    error: str | None = None

    @property
    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {"verified": 0, "tampered": 0, "not_anchored": 0}
        for e in self.events:
            c[e["status"]] = c.get(e["status"], 0) + 1
        return c


def trust_dir(data_dir: Path) -> Path:
    """Client-side trust state (pinned key, last checkpoint), kept apart from the log directory."""
    return Path(data_dir) / ".cache" / "ledger-trust"


def pinned_verifier(tdir: Path, ledger: Path) -> Verifier:
    """The pinned log key: pinned on first use into the trust directory, then never re-read from the log."""
    pin = Path(tdir) / "pinned.pub"
    if pin.exists():
        return Verifier.from_string(pin.read_text())
    v = Verifier.from_string((ledger / "verifier.pub").read_text())
    pin.parent.mkdir(parents=True, exist_ok=True)
    pin.write_text(v.to_string() + "\n")
    return v


def verify_events(client: LedgerClient, rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    """Recompute each stored event's hash and check its inclusion under one verified checkpoint."""
    cp = client.refresh()
    out = []
    for row in rows:
        status, reason = "verified", ""
        try:
            doc = json.loads(row["document"])
            ctx = doc.get("@context")
            recomputed = epcis.event_hash(doc, ctx)
        except (ValueError, LedgerError) as exc:
            recomputed, status, reason = None, "tampered", f"stored event unreadable: {exc}"
        if status == "verified":
            if row["leaf_index"] is None:
                status, reason = "not_anchored", "no ledger entry"
            elif recomputed != row["event_hash"]:
                status, reason = "tampered", "stored event no longer matches its anchored hash"
            else:
                try:
                    client.verify_inclusion(row["event_hash"], int(row["leaf_index"]), cp)
                except LedgerError as exc:
                    status, reason = "tampered", f"inclusion proof failed: {exc}"
        out.append({"event_key": row["event_key"], "status": status, "reason": reason,
                    "event_hash": row["event_hash"], "recomputed": recomputed, "leaf_index": row["leaf_index"]})
    return out, cp.size


def verify_lot(data_dir: Path, gtin: str, lot: str, ledger: Path | None = None, trust: Path | None = None,
               ledger_url: str | None = None) -> LotVerification:
    """Verify every event of a lot: hash recomputed, inclusion proof under a signed, consistent checkpoint.

    ``ledger`` is the local log (default ``data_dir/ledger``); with ``ledger_url`` the same checks run
    against a remote log over HTTP. ``trust`` holds the pinned key and the last checkpoint seen
    (default ``data_dir/.cache/ledger-trust``).
    """
    data_dir = Path(data_dir)
    ledger = Path(ledger) if ledger else store.ledger_dir(data_dir)
    tdir = Path(trust) if trust else trust_dir(data_dir)
    t0 = time.perf_counter()
    keys = lot_event_keys(data_dir, gtin, lot)
    rows = store.load(data_dir, store.EVENTS).filter(pl.col("event_key").is_in(keys)).sort(
        "event_time", "seq").to_dicts()
    try:
        verifier = pinned_verifier(tdir, ledger)
        store_ = FileTrustStore(tdir / "last_checkpoint.json")
        transport: Any = HTTPTransport(ledger_url) if ledger_url else LocalTransport(ledger)
        with LedgerClient(transport, verifier, trust=store_) as client:
            results, size = verify_events(client, rows)
    except (LedgerError, OSError) as exc:
        return LotVerification("tampered", [{"event_key": r["event_key"], "status": "tampered",
                                             "reason": str(exc), "event_hash": r["event_hash"],
                                             "recomputed": None, "leaf_index": r["leaf_index"]} for r in rows],
                               0, time.perf_counter() - t0, error=str(exc))
    statuses = {r["status"] for r in results}
    verdict = "tampered" if "tampered" in statuses else ("incomplete" if "not_anchored" in statuses else "verified")
    return LotVerification(verdict, results, size, time.perf_counter() - t0)


# ---------------------------------------------------------------- recall

def recall(data_dir: Path, gtin: str, lot: str) -> dict[str, Any]:
    """One step back (input lots, suppliers) and one step forward (pallets, shipments, customers,
    output lots), with the lot's mass balance in kg."""
    data_dir = Path(data_dir)
    items = _items(data_dir)
    events = store.load(data_dir, store.EVENTS).select("event_key", "event_type", "biz_step", "event_time",
                                                       "read_point", "document")
    mine = items.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot))
    if mine.height == 0:
        raise LotNotFound(f"no events for lot {lot}")

    def q(df: pl.DataFrame) -> float:
        return float(df["quantity_kg"].fill_null(0).sum()) if df.height else 0.0

    created = mine.filter(pl.col("role") == "created")
    produced = mine.filter(pl.col("role") == "output")
    packed = mine.filter(pl.col("role") == "packed")
    consumed = mine.filter(pl.col("role") == "input")

    # one step back
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

    # one step forward
    pallets = [{"sscc": r["sscc"], "quantity_kg": r["quantity_kg"], "event_key": r["event_key"]}
               for r in packed.iter_rows(named=True) if r["sscc"]]
    ssccs = [p["sscc"] for p in pallets]
    ship_keys = items.filter(pl.col("sscc").is_in(ssccs) & (pl.col("role") == "observed"))["event_key"].unique()
    ships = events.filter(pl.col("event_key").is_in(ship_keys) & pl.col("biz_step").is_in(
        ["shipping", "loading", "departing"])).sort("event_time")
    shipments: list[dict[str, Any]] = []
    customers: dict[str, dict[str, Any]] = {}
    for row in ships.iter_rows(named=True):
        ev = json.loads(row["document"])
        docs = [b.get("bizTransaction") for b in ev.get("bizTransactionList") or [] if isinstance(b, Mapping)]
        its = items.filter(pl.col("event_key") == row["event_key"])
        dests = its.filter(pl.col("role") == "destination")["party"].to_list()
        shipped = sorted(set(its.filter(pl.col("sscc").is_in(ssccs))["sscc"].to_list()))
        shipments.append({"event_key": row["event_key"], "time": row["event_time"], "biz_step": row["biz_step"],
                          "from": _place(row["read_point"])["name"] or row["read_point"],
                          "to": [_place(d)["name"] or d for d in dests], "documents": docs, "pallets": shipped})
        for d in dests:
            p = _place(d)
            parsed = parse_digital_link(d) if d else None
            if parsed is not None and parsed.ai == "417":  # a party (customer), not a location
                kg = sum(x["quantity_kg"] or 0 for x in pallets if x["sscc"] in shipped)
                c = customers.setdefault(p["gln"], {"gln": p["gln"], "name": p["name"], "quantity_kg": 0.0,
                                                    "pallets": []})
                c["quantity_kg"] += kg
                c["pallets"] = sorted(set(c["pallets"]) | set(shipped))
    fwd_lots = []
    for ek in consumed["event_key"].unique().to_list():
        outs = items.filter((pl.col("event_key") == ek) & (pl.col("role") == "output"))
        for r in outs.iter_rows(named=True):
            fwd_lots.append({"gtin": r["gtin"], "lot": r["lot"], "quantity_kg": r["quantity_kg"], "event_key": ek})

    in_kg = q(created) + q(produced)
    out_kg = q(packed) + q(consumed)
    diff = in_kg - out_kg
    return {
        "gtin": gtin, "lot": lot,
        "back": {"lots": back_lots, "suppliers": sorted(suppliers.values(), key=lambda s: s["gln"])},
        "forward": {"pallets": pallets, "shipments": shipments,
                    "customers": sorted(customers.values(), key=lambda c: c["gln"]), "lots": fwd_lots},
        "balance": {"in_kg": round(in_kg, 3), "out_kg": round(out_kg, 3), "difference_kg": round(diff, 3),
                    "difference_pct": round(100 * diff / in_kg, 2) if in_kg else None,
                    "balanced": in_kg > 0 and -0.001 <= diff <= 0.05 * in_kg},
    }


def _origin_sites(items: pl.DataFrame, events: pl.DataFrame, gtin: str, lot: str) -> list[dict[str, Any]]:
    keys = items.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot) & (pl.col("role") == "created"))[
        "event_key"].to_list()
    out = []
    for row in events.filter(pl.col("event_key").is_in(keys)).iter_rows(named=True):
        ev = json.loads(row["document"])
        senasa = (ev.get("ilmd") or {}).get("chasqui:senasaSite")
        p = _place(row["read_point"])
        out.append({"gln": p["gln"], "name": p["name"], "senasa_code": senasa, "lot": lot, "gtin": gtin})
    return out


def recall_rows(rc: dict[str, Any]) -> list[dict[str, Any]]:
    """Flat rows of a recall, for CSV export."""
    rows = []
    for x in rc["back"]["lots"]:
        rows.append({"direction": "back", "kind": "input_lot", "id": f"{x['gtin']}/{x['lot']}",
                     "name": "", "quantity_kg": x["quantity_kg"]})
    for s in rc["back"]["suppliers"]:
        rows.append({"direction": "back", "kind": "supplier", "id": s["gln"], "name": s["name"] or "",
                     "quantity_kg": None})
    for p in rc["forward"]["pallets"]:
        rows.append({"direction": "forward", "kind": "pallet", "id": p["sscc"], "name": "", "quantity_kg": p["quantity_kg"]})
    for s in rc["forward"]["shipments"]:
        rows.append({"direction": "forward", "kind": "shipment", "id": " ".join(str(d) for d in s["documents"]),
                     "name": " → ".join([str(s["from"])] + [str(t) for t in s["to"]]), "quantity_kg": None})
    for c in rc["forward"]["customers"]:
        rows.append({"direction": "forward", "kind": "customer", "id": c["gln"], "name": c["name"] or "",
                     "quantity_kg": c["quantity_kg"]})
    for x in rc["forward"]["lots"]:
        rows.append({"direction": "forward", "kind": "output_lot", "id": f"{x['gtin']}/{x['lot']}",
                     "name": "", "quantity_kg": x["quantity_kg"]})
    b = rc["balance"]
    rows.append({"direction": "balance", "kind": "mass_balance", "id": f"{rc['gtin']}/{rc['lot']}",
                 "name": f"in {b['in_kg']} kg, out {b['out_kg']} kg", "quantity_kg": b["difference_kg"]})
    return rows


def rows_to_csv(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0].keys()))
    w.writeheader()
    for r in rows:
        w.writerow({k: _csv_safe(v) for k, v in r.items()})
    return buf.getvalue()


def _csv_safe(v: Any) -> Any:
    """Neutralise spreadsheet formula injection in user-controlled text (lot codes are user input)."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


# ---------------------------------------------------------------- FSMA 204

FSMA_COLUMNS = [
    "Traceability Lot Code", "Traceability Lot Code Source", "Product Description", "GTIN",
    "Quantity", "Unit of Measure", "Critical Tracking Event", "Event Date", "Event Time (Lima)",
    "Location GLN", "Location Description", "Immediate Previous Source", "Immediate Subsequent Recipient",
    "Reference Document Type", "Reference Document Number", "SENASA Site", "Event Hash",
]


def fsma204_rows(data_dir: Path, gtin: str, lot: str) -> list[dict[str, Any]]:
    """The lot's critical tracking events and key data elements, one row each, sorted by time."""
    view = lot_view(Path(data_dir), gtin, lot)
    m = view["master"]
    items = _items(Path(data_dir))
    rows = []
    for t in view["timeline"]:
        if t["cte"] == "Other":
            continue
        its = items.filter(pl.col("event_key") == t["event_key"])
        mine = its.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot))
        qty = float(mine["quantity_kg"].fill_null(0).sum()) if mine.height else None
        ev_doc = store.load(Path(data_dir), store.EVENTS).filter(pl.col("event_key") == t["event_key"])["document"][0]
        ev = json.loads(ev_doc)
        srcs = [_place(normalise_identifier(s.get("source", "")) or s.get("source"))
                for s in ev.get("sourceList") or [] if isinstance(s, Mapping)]
        docs = [(b.get("type", ""), b.get("bizTransaction", "")) for b in ev.get("bizTransactionList") or []
                if isinstance(b, Mapping)]
        rows.append({
            "Traceability Lot Code": lot,
            "Traceability Lot Code Source": m.get("site_name") or m.get("site_gln") or "",
            "Product Description": m.get("product_en") or "",
            "GTIN": gtin, "Quantity": qty, "Unit of Measure": "kg" if qty is not None else "",
            "Critical Tracking Event": t["cte"],
            "Event Date": t["time"].strftime("%Y-%m-%d"), "Event Time (Lima)": t["time"].strftime("%H:%M"),
            "Location GLN": t["gln"] or "", "Location Description": t["place"] or "",
            "Immediate Previous Source": "; ".join(str(s["name"] or s["gln"]) for s in srcs),
            "Immediate Subsequent Recipient": "; ".join(str(d) for d in t["destinations"]),
            "Reference Document Type": "; ".join(d[0] for d in docs),
            "Reference Document Number": "; ".join(d[1] for d in docs),
            "SENASA Site": m.get("senasa_code") or "",
            "Event Hash": t["event_hash"],
        })
    return rows


def write_fsma204(rows: list[dict[str, Any]], fmt: str) -> bytes:
    """Serialise FSMA 204 rows as CSV or XLSX (sortable: header row, autofilter, frozen header)."""
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=FSMA_COLUMNS)
        w.writeheader()
        for r in rows:
            w.writerow({k: _csv_safe(r.get(k)) for k in FSMA_COLUMNS})
        return buf.getvalue().encode("utf-8")
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.title = "FSMA 204"
        ws.append(FSMA_COLUMNS)
        for r in rows:
            ws.append([_csv_safe(r.get(k)) for k in FSMA_COLUMNS])
        ws.auto_filter.ref = ws.dimensions
        ws.freeze_panes = "A2"
        out = io.BytesIO()
        wb.save(out)
        return out.getvalue()
    raise ValueError(f"unknown format {fmt!r} (csv or xlsx)")


def list_lots(data_dir: Path) -> pl.DataFrame:
    """Lot master data (for the page's example list)."""
    if not storage.has_table(Path(data_dir), store.LOTS):
        return pl.DataFrame()
    return pl.read_parquet(storage.table_path(Path(data_dir), store.LOTS))


__all__ = [
    "CTE", "FSMA_COLUMNS", "LotNotFound", "LotRef", "LotVerification", "cli_import", "fsma204_rows",
    "import_epcis", "list_lots", "lookup", "lot_view", "recall", "recall_rows", "rows_to_csv",
    "verify_lot", "write_fsma204", "SITES", "page_view", "export_lot",
]


# ---------------------------------------------------------------- page service

def page_view(data_dir: Path, query: str, gtin: str | None = None, *, ledger: Path | None = None,
              trust: Path | None = None, ledger_url: str | None = None) -> dict[str, Any]:
    """Everything the Traceability page shows for a query: the lot, its journey, verification, recall."""
    data_dir = Path(data_dir)
    refs = lookup(data_dir, query, gtin)
    ref = refs[0]
    view = lot_view(data_dir, ref.gtin, ref.lot)
    ver = verify_lot(data_dir, ref.gtin, ref.lot, ledger=ledger, trust=trust, ledger_url=ledger_url)
    rc = recall(data_dir, ref.gtin, ref.lot)
    sites = [{"name": s.name, "lat": s.lat, "lon": s.lon, "kind": s.kind} for s in SITES.values()]
    return {"ref": {"gtin": ref.gtin, "lot": ref.lot, "via": ref.via},
            "candidates": [{"gtin": r.gtin, "lot": r.lot} for r in refs], "view": view,
            "verification": {"verdict": ver.verdict, "events": ver.events, "counts": ver.counts,
                             "seconds": ver.seconds, "checkpoint_size": ver.checkpoint_size, "error": ver.error},
            "recall": rc, "sites": sites}


def export_lot(data_dir: Path, gtin: str, lot: str, kind: str) -> tuple[str, bytes]:
    """(file name, content) of an export: fsma_csv, fsma_xlsx or recall_csv."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in lot)[:60]
    if kind == "fsma_csv":
        return f"fsma204_{safe}.csv", write_fsma204(fsma204_rows(data_dir, gtin, lot), "csv")
    if kind == "fsma_xlsx":
        return f"fsma204_{safe}.xlsx", write_fsma204(fsma204_rows(data_dir, gtin, lot), "xlsx")
    if kind == "recall_csv":
        return f"recall_{safe}.csv", rows_to_csv(recall_rows(recall(data_dir, gtin, lot))).encode("utf-8")
    raise ValueError(f"unknown export {kind!r}")
