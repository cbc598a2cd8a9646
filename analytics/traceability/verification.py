"""Verification of a lot against the ledger: every event's hash recomputed and proven included under a signed,
consistent checkpoint, with the log key pinned on first use."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analytics.datadir import LAST_CHECKPOINT, LEDGER_PUBLIC_KEY, PINNED_KEY, DataDir
from analytics.traceability import store
from analytics.traceability.lots import lot_event_keys
from ledger_client import LedgerError, epcis
from ledger_client.checkpoint import Verifier
from ledger_client.client import FileTrustStore, HTTPTransport, LedgerClient, LocalTransport


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
    return DataDir(Path(data_dir)).ledger_trust


def pinned_verifier(tdir: Path, ledger: Path) -> Verifier:
    """The pinned log key: pinned on first use into the trust directory, then never re-read from the log."""
    pin = Path(tdir) / PINNED_KEY
    if pin.exists():
        return Verifier.from_string(pin.read_text())
    v = Verifier.from_string((ledger / LEDGER_PUBLIC_KEY).read_text())
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

    ``ledger`` is the local log (default ``DataDir.ledger``); with ``ledger_url`` the same checks run
    against a remote log over HTTP. ``trust`` holds the pinned key and the last checkpoint seen
    (default ``DataDir.ledger_trust``: the trust folder in the cache folder).
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
        store_ = FileTrustStore(tdir / LAST_CHECKPOINT)
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
