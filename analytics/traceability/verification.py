"""Verification of a lot against the ledger, with three verdicts (``ledger_client.verify``):

* ``verified``: every event's CBV 2.0 hash recomputed from the stored document matches its anchored hash and
  is proven included under a checkpoint signed by the trusted key, consistent with the last one seen (and
  cosigned by enough witnesses when asked);
* ``tampered``: a hash or proof check failed (the events are named), or the log rewrote its history or
  showed a split view;
* ``unverifiable``: the check could not be made (ledger unreachable, no trusted key, no checkpoint, an
  event not anchored yet, too few witnesses); the reason says why. An outage is never ``tampered``.

The log is the local one (``DataDir.ledger``) or, with ``ledger_url``, a log served over HTTP in the C2SP
tlog-tiles layout (``python app.py serve`` serves one under ``/ledger/``); then no local log is needed.
The trusted key is ``trust_key``, else the key pinned earlier in the trust folder, else
``DIR/ledger/verifier.pub`` (pinned on first use). ``python app.py verify-lot`` is :func:`cli_verify_lot`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analytics.datadir import DataDir
from analytics.traceability import store
from analytics.traceability.lots import LotNotFound, lookup, lot_event_keys
from ledger_client import verify
from ledger_client.verify import TAMPERED, UNVERIFIABLE, VERIFIED, StoredEvent, VerdictName

__all__ = ["LotVerification", "REASON_CLASSES", "TAMPERED", "UNVERIFIABLE", "VERIFIED", "cli_verify_lot",
           "lot_events", "reason_class", "verify_lot", "verify_lot_query"]


# What a verdict's reason is about, for the page's short explanation (es/en). The reasons are written by
# ledger_client.verify; the first phrase found names the class (order matters: the specific ones first).
REASON_CLASSES = (
    ("no such lot", "no_events"),
    ("no events to verify", "no_events"),
    ("not signed by the trusted key", "wrong_key"),
    ("split view", "split_view"),
    ("rewrote its history", "rewritten"),
    ("forged signature", "forged"),
    ("checkpoint does not verify", "bad_checkpoint"),
    ("failed a hash or proof check", "events"),
    ("unreachable", "unreachable"),
    ("no checkpoint", "no_checkpoint"),
    ("not enough witnesses", "witnesses"),
    ("witness cosignatures required", "witnesses"),
    ("cannot be checked yet", "pending"),
    ("key", "no_key"),
)


def reason_class(verdict: str, reason: str) -> str:
    """``ok`` for a verified lot, else the class of the reason (``unreachable``, ``events``, ...; ``other``)."""
    if verdict == VERIFIED:
        return "ok"
    return next((code for phrase, code in REASON_CLASSES if phrase in reason), "other")


@dataclass(frozen=True)
class LotVerification:
    """A lot's verdict, with every event's check (``event_key``, ``status``, ``reason``, hashes, leaf)."""

    gtin: str
    lot: str
    verdict: VerdictName
    reason: str
    events: list[dict[str, Any]] = field(default_factory=list)
    checkpoint_size: int | None = None
    witnesses: list[str] = field(default_factory=list)
    seconds: float = 0.0
    transport: str = ""

    @property
    def counts(self) -> dict[str, int]:
        """Events per status: verified, tampered, unanchored (no ledger entry), unchecked (not checked)."""
        c = {"verified": 0, "tampered": 0, "unanchored": 0, "unchecked": 0}
        for e in self.events:
            c[e["status"]] = c.get(e["status"], 0) + 1
        return c

    @property
    def why(self) -> str:
        """The class of the reason (see :data:`REASON_CLASSES`), for a short explanation in the UI."""
        return reason_class(self.verdict, self.reason)

    def keys(self, status: str) -> list[str]:
        return [e["event_key"] for e in self.events if e["status"] == status]

    @property
    def tampered(self) -> list[str]:
        """The events that failed a hash or proof check."""
        return self.keys("tampered")

    @property
    def exit_code(self) -> int:
        """0 verified, 1 tampered, 2 unverifiable."""
        return {VERIFIED: 0, TAMPERED: 1, UNVERIFIABLE: 2}[self.verdict]

    def to_json(self) -> dict[str, Any]:
        """``{"lot", "verdict", "events", "verified", "tampered", "unanchored", "reason", "witnesses", ...}``."""
        return {"lot": self.lot, "gtin": self.gtin, "verdict": self.verdict, "events": len(self.events),
                "verified": self.counts["verified"], "tampered": self.tampered,
                "unanchored": self.keys("unanchored"), "reason": self.reason, "witnesses": list(self.witnesses),
                "checkpoint_size": self.checkpoint_size}


def lot_events(data_dir: Path, gtin: str, lot: str) -> list[StoredEvent]:
    """The stored events of a lot (and of the pallets it was packed into), in time order."""
    keys = lot_event_keys(Path(data_dir), gtin, lot)
    rows = store.load(Path(data_dir), store.EVENTS).filter(pl.col("event_key").is_in(keys)).sort(
        "event_time", "seq").select("event_key", "document", "event_hash", "leaf_index").rows()
    return [StoredEvent(k, doc, h, None if leaf is None else int(leaf)) for k, doc, h, leaf in rows]


def verify_lot(data_dir: Path, gtin: str, lot: str, *, ledger_dir: Path | None = None,
               ledger_url: str | None = None, trust_key: Path | None = None, trust_dir: Path | None = None,
               witness_keys: Sequence[Path] = (), min_witnesses: int = 0,
               timeout: float = 10.0) -> LotVerification:
    """Verify every event of a lot against the local log (default ``DataDir.ledger``) or ``ledger_url``.

    ``trust_dir`` keeps the pinned key and the last checkpoint seen (default ``DataDir.ledger_trust``).
    Never raises for an outage or a bad key: those are ``unverifiable`` with the reason.
    """
    data_dir = Path(data_dir)
    layout = DataDir(data_dir)
    t0 = time.perf_counter()
    events = lot_events(data_dir, gtin, lot)
    try:
        v = verify.verify_events(events, ledger_dir=Path(ledger_dir) if ledger_dir else layout.ledger,
                                 ledger_url=ledger_url or None, trust_key=trust_key,
                                 trust_dir=Path(trust_dir) if trust_dir else layout.ledger_trust,
                                 witness_keys=list(witness_keys), min_witnesses=min_witnesses, timeout=timeout)
    except OSError as exc:  # e.g. the trust folder cannot be written: cannot check, not a failure
        reason = f"cannot check: {exc.strerror or exc}"
        return LotVerification(gtin, lot, UNVERIFIABLE, reason,
                               [{"event_key": e.key, "status": "unchecked", "reason": reason,
                                 "event_hash": e.event_hash, "recomputed": None, "leaf_index": e.leaf_index}
                                for e in events], seconds=time.perf_counter() - t0)
    return LotVerification(gtin, lot, v.verdict, v.reason, [e.as_dict() for e in v.events],
                           v.checkpoint.size if v.checkpoint else None, list(v.witnesses),
                           time.perf_counter() - t0, v.transport)


def verify_lot_query(data_dir: Path, query: str, gtin: str | None = None, **kw: Any) -> LotVerification:
    """Verify the lot a query names (lot code, GTIN + lot, SSCC or Digital Link, as the page looks lots up).

    A query that matches no lot, or several lots without a GTIN, is ``unverifiable`` with the reason.
    """
    try:
        refs = lookup(Path(data_dir), query, gtin)
    except LotNotFound as exc:
        return LotVerification(gtin or "", query, UNVERIFIABLE, f"no such lot in {data_dir}: {exc}")
    if len(refs) > 1:
        found = ", ".join(f"{r.gtin}/{r.lot}" for r in refs[:5])
        return LotVerification(gtin or "", query, UNVERIFIABLE,
                               f"{len(refs)} lots match {query!r} ({found}); name one with --gtin")
    return verify_lot(Path(data_dir), refs[0].gtin, refs[0].lot, **kw)


def cli_verify_lot(args: argparse.Namespace) -> int:
    """``python app.py verify-lot LOT --data-dir DIR [--ledger-url URL] [--trust-key FILE] [--witness-key FILE
    ...] [--min-witnesses N]``: prints one JSON line; exits 0 verified, 1 tampered, 2 unverifiable."""
    v = verify_lot_query(Path(args.data_dir), args.lot, getattr(args, "gtin", None),
                         ledger_dir=getattr(args, "ledger_dir", None), ledger_url=getattr(args, "ledger_url", None),
                         trust_key=getattr(args, "trust_key", None), trust_dir=getattr(args, "trust_dir", None),
                         witness_keys=list(getattr(args, "witness_key", None) or []),
                         min_witnesses=int(getattr(args, "min_witnesses", 0) or 0))
    print(json.dumps(v.to_json(), ensure_ascii=False))
    return v.exit_code
