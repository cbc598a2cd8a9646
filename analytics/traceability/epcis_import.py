"""Import of EPCIS 2.0 documents: hash, store and anchor every event (and ``python app.py import epcis``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from analytics.traceability import store
from ledger_client import LedgerError, epcis
from ledger_client.log import MerkleLog


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
