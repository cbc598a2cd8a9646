"""Import of EPCIS 2.0 documents: hash, store and anchor every event (``python app.py import epcis``), and
the event hashes of a document without importing it (``python app.py epcis-hash``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from analytics.traceability import store
from ledger_client import LedgerError, LogError, epcis
from ledger_client.log import MerkleLog


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise epcis.EPCISError(f"cannot read {path}: {exc.strerror or exc}") from exc


def import_epcis(path: Path, data_dir: Path, *, strict_context: bool = False) -> dict[str, Any]:
    """Import an EPCIS 2.0 JSON/JSON-LD document (document, query document or single event).

    Every event is hashed (GS1 CBV 2.0), stored as a one-event document that hashes the same
    (``HashedDocument.standalone``) and anchored in the local Merkle log. A document naming a context
    that is not bundled imports when every term it uses is standard EPCIS/CBV vocabulary, with a warning;
    ``strict_context`` refuses it instead. An invalid document raises ``EPCISError`` and nothing is stored.
    """
    path, data_dir = Path(path), Path(data_dir)
    hashed = epcis.hash_document(_read(path), strict_context=strict_context)  # validates before any write
    seq = store.next_seq(data_dir)
    ev_rows, item_rows = store.build_rows(hashed, seq, f"import:{path.name}", key_prefix="IM")
    indices = store.append_and_anchor(data_dir, ev_rows, item_rows)
    dup = len(hashed.hashes) - len(set(hashed.hashes))
    lots = sorted({f"{r['gtin']}/{r['lot']}" for r in item_rows if r["lot"]})
    try:
        with MerkleLog(store.ledger_dir(data_dir), create=False, writable=False) as log:
            size = log.size
    except LogError:  # nothing anchored yet (a master-data-only document into an empty folder)
        size = 0
    return {"events": len(ev_rows), "anchored": len(indices), "duplicates_in_document": dup,
            "lots": len(lots), "ledger_size": size, "first_leaf": indices.start if indices else None,
            "warnings": list(hashed.warnings), "file": str(path)}


def cli_import(args: argparse.Namespace) -> int:
    """``python app.py import epcis FILE --data-dir DIR [--strict-context]``: prints one JSON line."""
    try:
        report = import_epcis(Path(args.file), Path(args.data_dir),
                              strict_context=bool(getattr(args, "strict_context", False)))
    except (LedgerError, OSError) as exc:
        print(json.dumps({"events": 0, "error": str(exc), "warnings": [], "file": str(args.file)},
                         ensure_ascii=False))
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0


def cli_hash(args: argparse.Namespace) -> int:
    """``python app.py epcis-hash FILE [--prehash] [--strict-context]``: one event hash a line, in document
    order (the layout of GS1's reference ``.hashes`` files); with ``--prehash`` each hash is followed by the
    exact pre-hash string it was computed from. Warnings go to stderr; an invalid document exits 2."""
    try:
        hashed = epcis.hash_document(_read(Path(args.file)),
                                     strict_context=bool(getattr(args, "strict_context", False)))
    except LedgerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    for warning in hashed.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    for h, pre in zip(hashed.hashes, hashed.prehashes, strict=True):
        print(h)
        if getattr(args, "prehash", False):
            print(pre)
    return 0
