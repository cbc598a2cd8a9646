"""Traceability storage: EPCIS events, their items (lots, pallets, quantities) and the ledger anchor.

Tables (Parquet in the data directory, schemas in ``analytics.traceability.schemas``):

* ``trace_events``: one row per stored EPCIS event as a one-event EPCIS 2.0 document (``document``), its
  CBV 2.0 hash as computed when it was stored (``event_hash``) and its ledger position
  (``leaf_index``; null = not anchored).
* ``trace_items``: what each event says about lots and pallets (role, GTIN, lot, SSCC, quantity),
  derived from the event itself; used for look-ups and the mock recall.
* ``trace_lots``: master data of each lot (product, farm, SENASA site, region).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from analytics import storage
from analytics.datadir import DataDir
from ledger_client import epcis
from ledger_client.gs1 import normalise_identifier, parse_digital_link
from ledger_client.log import MerkleLog

LIMA = ZoneInfo("America/Lima")
EVENTS, ITEMS, LOTS = "trace_events", "trace_items", "trace_lots"
CHASQUI_NS = "https://chasqui.pe/voc/"
DOC_CONTEXT: list[Any] = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
                          {"chasqui": CHASQUI_NS}]

EVENT_COLUMNS = {
    "event_key": pl.String, "seq": pl.Int64, "event_hash": pl.String, "leaf_index": pl.Int64,
    "event_type": pl.String, "biz_step": pl.String, "event_time": pl.Datetime("us", "America/Lima"),
    "read_point": pl.String, "source": pl.String, "document": pl.String,
}
ITEM_COLUMNS = {
    "event_key": pl.String, "role": pl.String, "gtin": pl.String, "lot": pl.String,
    "sscc": pl.String, "quantity_kg": pl.Float64, "party": pl.String,
}


def ledger_dir(data_dir: Path) -> Path:
    """The local Merkle log the store anchors events in (``DataDir.ledger``)."""
    return DataDir(Path(data_dir)).ledger


def _short(value: str | None) -> str | None:
    if not value:
        return None
    return value.rsplit("-", 1)[-1] if value.startswith("https://ref.gs1.org/cbv/") else value


def _kg(q: Mapping[str, Any]) -> float | None:
    qty = q.get("quantity")
    if not isinstance(qty, (int, float)) or isinstance(qty, bool):
        return None
    uom = q.get("uom", "KGM")
    factor = {"KGM": 1.0, "TNE": 1000.0, "GRM": 0.001, "LBR": 0.45359237}.get(uom)
    return None if factor is None else float(qty) * factor


def _class_key(epc_class: Any) -> tuple[str | None, str | None]:
    if not isinstance(epc_class, str):
        return None, None
    dl = normalise_identifier(epc_class)
    parsed = parse_digital_link(dl) if dl else None
    if parsed is None or parsed.ai != "01":
        return None, None
    return parsed.value, parsed.get("10")


def _sscc(epc: Any) -> str | None:
    if not isinstance(epc, str):
        return None
    dl = normalise_identifier(epc)
    parsed = parse_digital_link(dl) if dl else None
    return parsed.value if parsed is not None and parsed.ai == "00" else None


def _sgtin_key(epc: Any) -> tuple[str | None, str | None]:
    dl = normalise_identifier(epc) if isinstance(epc, str) else None
    parsed = parse_digital_link(dl) if dl else None
    if parsed is None or parsed.ai != "01":
        return None, None
    return parsed.value, parsed.get("10")


def items_of_event(key: str, ev: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Lots, pallets and parties an event mentions, with the role they play in it."""
    out: list[dict[str, Any]] = []
    etype = epcis.event_type(ev)
    action = ev.get("action")

    def add(role: str, gtin=None, lot=None, sscc=None, qty=None, party=None) -> None:
        out.append({"event_key": key, "role": role, "gtin": gtin, "lot": lot, "sscc": sscc,
                    "quantity_kg": qty, "party": party})

    def quantities(field: str, role: str) -> None:
        for q in ev.get(field) or []:
            if isinstance(q, Mapping):
                g, lot = _class_key(q.get("epcClass"))
                if g:
                    add(role, g, lot, qty=_kg(q))

    def epcs(field: str, role: str) -> None:
        for e in ev.get(field) or []:
            s = _sscc(e)
            if s:
                add(role, sscc=s)
            else:
                g, lot = _sgtin_key(e)
                if g:
                    add(role, g, lot)

    if etype == "TransformationEvent":
        quantities("inputQuantityList", "input")
        quantities("outputQuantityList", "output")
        epcs("inputEPCList", "input")
        epcs("outputEPCList", "output")
    elif etype == "AggregationEvent":
        parent = _sscc(ev.get("parentID"))
        role = "packed" if action == "ADD" else ("unpacked" if action == "DELETE" else "observed")
        for q in ev.get("childQuantityList") or []:
            if isinstance(q, Mapping):
                g, lot = _class_key(q.get("epcClass"))
                if g:
                    add(role, g, lot, sscc=parent, qty=_kg(q))
        for e in ev.get("childEPCs") or []:
            s = _sscc(e)
            add(role, sscc=s) if s else None
        if parent:
            add("parent", sscc=parent)
    else:
        role = "created" if action == "ADD" and etype == "ObjectEvent" else "observed"
        quantities("quantityList", role)
        epcs("epcList", role)
    for d in ev.get("destinationList") or []:
        if isinstance(d, Mapping) and isinstance(d.get("destination"), str):
            add("destination", party=normalise_identifier(d["destination"]) or d["destination"])
    for s in ev.get("sourceList") or []:
        if isinstance(s, Mapping) and isinstance(s.get("source"), str):
            add("source", party=normalise_identifier(s["source"]) or s["source"])
    return out


def _event_time(ev: Mapping[str, Any]) -> datetime:
    t = epcis.canonical_time(str(ev.get("eventTime", "")))
    try:
        return datetime.strptime(t, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=ZoneInfo("UTC")).astimezone(LIMA)
    except ValueError as exc:
        raise epcis.EPCISError(f"eventTime {ev.get('eventTime')!r} is not an ISO 8601 timestamp") from exc


def _read_point(ev: Mapping[str, Any]) -> str | None:
    rp = ev.get("readPoint")
    rid = rp.get("id") if isinstance(rp, Mapping) else rp
    if not isinstance(rid, str):
        return None
    return normalise_identifier(rid) or rid


def build_rows(hashed: epcis.HashedDocument, start_seq: int, source: str,
               key_prefix: str = "EV") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Event and item rows for a hashed document's events (no ledger position yet).

    Each event is stored as ``hashed.standalone(i)``: a one-event document that keeps the context, the
    ignore list and the vocabulary of the document it came from, so it hashes to ``hashed.hashes[i]``
    again wherever it is verified.
    """
    ev_rows: list[dict[str, Any]] = []
    item_rows: list[dict[str, Any]] = []
    for i, (ev, h) in enumerate(zip(hashed.events, hashed.hashes, strict=True)):
        seq = start_seq + i
        key = f"{key_prefix}-{seq:07d}"
        ev_rows.append({
            "event_key": key, "seq": seq, "event_hash": h, "leaf_index": None,
            "event_type": str(epcis.event_type(ev)), "biz_step": _short(epcis.canonical_value(ev["bizStep"]))
            if isinstance(ev.get("bizStep"), str) else None,
            "event_time": _event_time(ev), "read_point": _read_point(ev), "source": source,
            "document": hashed.standalone_json(i),
        })
        item_rows.extend(items_of_event(key, ev))
    return ev_rows, item_rows


def event_of(document: str | Mapping[str, Any]) -> dict[str, Any]:
    """The one event of a stored ``document`` column value (a one-event EPCISDocument, or a bare event)."""
    doc = json.loads(document) if isinstance(document, str) else dict(document)
    body = doc.get("epcisBody")
    if isinstance(body, Mapping):
        events = body.get("eventList")
        if isinstance(events, list) and len(events) == 1 and isinstance(events[0], Mapping):
            return dict(events[0])
        raise epcis.EPCISError(f"stored document holds {len(events) if isinstance(events, list) else 0} events")
    return {k: v for k, v in doc.items() if k != "@context"}


def _frame(rows: list[dict[str, Any]], columns: Mapping[str, Any]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=dict(columns), orient="row") if rows else pl.DataFrame(schema=dict(columns))


# the last few tables read, by file and version: a lot's page (and building every shipment's history) reads the
# same events and items tables several times per lot; a table written since (a new file) is read again
_READ: OrderedDict[tuple[str, int, int, int], pl.DataFrame] = OrderedDict()
_READ_KEEP = 6
_READ_LOCK = threading.Lock()


def load(data_dir: Path, name: str) -> pl.DataFrame:
    if not storage.has_table(data_dir, name):
        known: dict[str, Mapping[str, Any]] = {EVENTS: EVENT_COLUMNS, ITEMS: ITEM_COLUMNS}
        cols = known.get(name)
        if cols is None:
            raise FileNotFoundError(f"no {name} table in {data_dir}")
        return pl.DataFrame(schema=dict(cols))
    path = storage.table_path(data_dir, name)
    if path.is_dir():  # a partitioned folder: no single file to tell a version by
        return pl.read_parquet(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_ino, st.st_size, st.st_mtime_ns)
    with _READ_LOCK:
        frame = _READ.get(key)
        if frame is not None:
            _READ.move_to_end(key)
            return frame
    frame = pl.read_parquet(path)
    with _READ_LOCK:
        _READ[key] = frame
        while len(_READ) > _READ_KEEP:
            _READ.popitem(last=False)
    return frame


def append_and_anchor(data_dir: Path, ev_rows: list[dict[str, Any]], item_rows: list[dict[str, Any]],
                      anchor: bool = True) -> range:
    """Append event rows (and items), anchoring every event hash in the local Merkle log."""
    data_dir = Path(data_dir)
    indices = range(0)
    if anchor and ev_rows:
        with MerkleLog(ledger_dir(data_dir)) as log:
            indices = log.append_digests(epcis.hash_digest(r["event_hash"]) for r in ev_rows)
        for r, idx in zip(ev_rows, indices, strict=True):
            r["leaf_index"] = idx
    events = pl.concat([load(data_dir, EVENTS), _frame(ev_rows, EVENT_COLUMNS)], how="vertical_relaxed")
    items = pl.concat([load(data_dir, ITEMS), _frame(item_rows, ITEM_COLUMNS)], how="vertical_relaxed")
    storage.write_table(events, data_dir, EVENTS)
    storage.write_table(items, data_dir, ITEMS)
    return indices


def next_seq(data_dir: Path) -> int:
    ev = load(data_dir, EVENTS)
    top = ev["seq"].max()
    return int(top) + 1 if isinstance(top, int) else 1
