"""Exports of a lot: FSMA 204 key data elements (CSV or XLSX) and the recall as CSV, safe against formula injection."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from analytics.csv_export import cell, dicts_csv
from analytics.traceability import store
from analytics.traceability.lots import items_table, lot_view, place_of
from analytics.traceability.mock_recall import recall
from ledger_client.gs1 import normalise_identifier


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
    """Rows as CSV text (header from the first row's keys), safe against formula injection."""
    return dicts_csv(rows)


def _csv_safe(v: Any) -> Any:
    """Neutralise spreadsheet formula injection in user-controlled text (lot codes are user input)."""
    return cell(v)


FSMA_COLUMNS = [
    "Traceability Lot Code", "Traceability Lot Code Source", "Product Description", "GTIN",
    "Quantity", "Unit of Measure", "Critical Tracking Event", "Event Date", "Event Time (Lima)",
    "Location GLN", "Location Description", "Immediate Previous Source", "Immediate Subsequent Recipient",
    "Reference Document Type", "Reference Document Number", "SENASA Site", "Event Hash",
]


def fsma204_rows(data_dir: Path, gtin: str, lot: str) -> list[dict[str, Any]]:
    """The lot's critical tracking events and key data elements, one row each, sorted by time."""
    view = lot_view(Path(data_dir), gtin, lot)
    m = view.master
    items = items_table(Path(data_dir))
    rows = []
    for t in view.timeline:
        if t["cte"] == "Other":
            continue
        its = items.filter(pl.col("event_key") == t["event_key"])
        mine = its.filter((pl.col("gtin") == gtin) & (pl.col("lot") == lot))
        qty = float(mine["quantity_kg"].fill_null(0).sum()) if mine.height else None
        ev_doc = store.load(Path(data_dir), store.EVENTS).filter(pl.col("event_key") == t["event_key"])["document"][0]
        ev = store.event_of(ev_doc)
        srcs = [place_of(normalise_identifier(s.get("source", "")) or s.get("source"))
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
        return dicts_csv(rows, FSMA_COLUMNS).encode("utf-8")
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
