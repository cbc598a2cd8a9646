"""Traceability benchmarks: ledger append and lot verification.

1. Append throughput of the on-disk Merkle log (leaf hashing + cached subtree hashes + fsync + signed
   checkpoint) against hashing the same leaves in memory only.
2. Verifying a 30-event lot against a log of 1,000,000 entries (signed checkpoint, consistency with the
   remembered checkpoint, CBV 2.0 hash recomputed, inclusion proof for each event) against only
   recomputing the 30 event hashes. Goal: full verification ≤ 3× the hashing alone.

Here ``ratio`` is subject_s / baseline_s (how many times the hashing-only time the full work takes).
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
from pathlib import Path

from analytics.traceability import store
from analytics.traceability.demo_lots import build
from analytics.traceability.verification import verify_events
from benchmarks.run import best_of as _best
from ledger_client import epcis, merkle
from ledger_client.checkpoint import Verifier
from ledger_client.client import LedgerClient, LocalTransport
from ledger_client.log import MerkleLog


def _lot_events(n: int = 30) -> list[dict]:
    events, _ = build(seed=7)
    return [{"@context": store.DOC_CONTEXT, **e} for e in events[:n]]


def _append_benchmark(tmp: Path, n_append: int, quick: bool) -> dict:
    """1. Append throughput of the on-disk log against hashing the same leaves in memory."""
    digests = [hashlib.sha256(i.to_bytes(8, "big")).digest() for i in range(n_append)]
    log_dir = tmp / "append"

    def append() -> None:
        if log_dir.exists():
            shutil.rmtree(log_dir)
        with MerkleLog(log_dir) as lg:
            for k in range(0, n_append, 10_000):  # batches of 10k, as an import would do
                lg.append_digests(digests[k:k + 10_000])

    def hash_only() -> None:
        for d in digests:
            merkle.leaf_hash(d)

    a_s, h_s = _best(append, 2 if quick else 3), _best(hash_only, 2 if quick else 3)
    return {"benchmark": "ledger append", "subject": f"MerkleLog.append ({n_append / a_s:,.0f}/s)",
            "baseline": "leaf hashing in memory", "subject_s": a_s, "baseline_s": h_s,
            "ratio": a_s / h_s, "goal": "report entries/s (ratio = subject/baseline)", "n": n_append}


def _log_with_lot(path: Path, n_log: int, hashes: list[str], positions: list[int]) -> Verifier:
    """A log of ``n_log`` entries with the lot's event hashes at ``positions`` and filler elsewhere."""
    with MerkleLog(path) as lg:
        batch: list[bytes] = []
        pos_iter = iter(zip(positions, hashes, strict=True))
        nxt = next(pos_iter, None)
        for i in range(n_log):
            if nxt is not None and i == nxt[0]:
                batch.append(epcis.hash_digest(nxt[1]))
                nxt = next(pos_iter, None)
            else:
                batch.append(hashlib.sha256(b"filler" + i.to_bytes(8, "big")).digest())
            if len(batch) == 100_000:
                lg.append_digests(batch)
                batch = []
        if batch:
            lg.append_digests(batch)
        return lg.verifier


def _verify_benchmark(tmp: Path, n_log: int) -> dict:
    """2. Verifying a 30-event lot against a big log against only recomputing its 30 event hashes."""
    docs = _lot_events(30)
    hashes = [epcis.event_hash(d, d["@context"]) for d in docs]
    rng = random.Random(7)
    positions = sorted(rng.sample(range(n_log), len(docs)))
    big = tmp / "big"
    verifier = _log_with_lot(big, n_log, hashes, positions)
    rows = [{"event_key": f"EV-{i}", "document": json.dumps(d), "event_hash": h, "leaf_index": p}
            for i, (d, h, p) in enumerate(zip(docs, hashes, positions, strict=True))]
    client = LedgerClient(LocalTransport(big), verifier)
    client.refresh()  # the client has seen this log before (remembered checkpoint)

    def full() -> None:
        results, _size = verify_events(client, rows)
        assert all(r["status"] == "verified" for r in results), results[:2]

    def recompute() -> None:
        for r in rows:
            d = json.loads(r["document"])
            assert epcis.event_hash(d, d.get("@context")) == r["event_hash"]

    full()
    f_s, r_s = _best(full, 5), _best(recompute, 5)
    client.close()
    return {"benchmark": "verify 30-event lot", "subject": f"full verification, log of {n_log:,}",
            "baseline": "recompute 30 event hashes", "subject_s": f_s, "baseline_s": r_s,
            "ratio": f_s / r_s, "goal": "≤ 3× (ratio = subject/baseline)", "n": n_log}


def run(quick: bool) -> list[dict]:
    n_log = 50_000 if quick else 1_000_000
    n_append = 20_000 if quick else 200_000
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-bench-trace-"))
    try:
        return [_append_benchmark(tmp, n_append, quick), _verify_benchmark(tmp, n_log)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    import sys

    for row in run(quick="--quick" in sys.argv):
        print(row)
