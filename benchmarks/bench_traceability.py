"""Traceability benchmarks: ledger append, and verifying a lot against a 1,000,000-entry log, locally and over
HTTP from the log ``python app.py serve`` serves under ``/ledger/`` (C2SP tlog-tiles).

1. Append throughput of the on-disk Merkle log (leaf hashing + cached subtree hashes + fsync + signed
   checkpoint) against hashing the same leaves in memory only.
2. A lot (every demo event, each at a random position of a log of 1,000,000 entries; the lot with the most
   events) verified locally: signed checkpoint, consistency with the remembered checkpoint, each event's CBV 2.0
   hash recomputed and its inclusion proven, against only recomputing the event hashes. Goal ≤ 3×.
3. The same verification over HTTP against a real ``python app.py serve`` (a fresh client per call, as one
   ``verify-lot`` run makes: checkpoint, then the tiles every proof needs), against the local verification.
4. ``python app.py verify-lot --ledger-url`` as a whole process against ``python app.py verify-lot`` on the
   local log (interpreter start and imports included in both).

``ratio`` is subject_s / baseline_s throughout (how many times the baseline's time the subject takes).
``--quick`` uses a log of 50,000 entries.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from analytics.datadir import DataDir
from analytics.traceability import store
from analytics.traceability.demo_lots import build
from analytics.traceability.lots import lot_event_keys
from analytics.traceability.verification import lot_events, verify_lot
from benchmarks.run import best_of as _best
from ledger_client import epcis, merkle
from ledger_client.log import MerkleLog

ROOT = Path(__file__).resolve().parent.parent


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


def build_data_folder(data_dir: Path, n_log: int, seed: int = 7) -> tuple[str, str, int, float]:
    """Demo lot events stored in ``data_dir`` and anchored at random positions of an ``n_log``-entry log (the
    other entries filler). Returns (GTIN, lot code of the lot with the most events, its events, seconds the
    log took to build)."""
    events, _lots = build(seed)
    doc = {"@context": store.DOC_CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
           "creationDate": "2024-12-31T12:00:00.000-05:00", "epcisBody": {"eventList": events}}
    hashed = epcis.hash_document(doc)
    ev_rows, item_rows = store.build_rows(hashed, 1, "bench")
    positions = sorted(random.Random(seed).sample(range(n_log), len(ev_rows)))
    for row, pos in zip(ev_rows, positions, strict=True):
        row["leaf_index"] = pos
    store.append_and_anchor(data_dir, ev_rows, item_rows, anchor=False)
    at = {pos: epcis.hash_digest(row["event_hash"]) for row, pos in zip(ev_rows, positions, strict=True)}
    t0 = time.perf_counter()
    with MerkleLog(DataDir(data_dir).ledger) as lg:
        for start in range(0, n_log, 100_000):
            lg.append_digests(at.get(i) or hashlib.sha256(b"filler" + i.to_bytes(8, "big")).digest()
                              for i in range(start, min(n_log, start + 100_000)))
    build_s = time.perf_counter() - t0
    lots = {(r["gtin"], r["lot"]) for r in item_rows if r["lot"] and r["role"] == "created"}
    gtin, lot = max(sorted(lots), key=lambda gl: len(lot_event_keys(data_dir, *gl)))
    return gtin, lot, len(lot_event_keys(data_dir, gtin, lot)), build_s


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHASQUI_")}
    env.update(CHASQUI_LIVE="0", CHASQUI_DEMO_FEED="0", CHASQUI_LOG_LEVEL="WARNING",
               CHASQUI_CACHE_DIR=str(tmp / "server-cache"))
    return env


def serve(data_dir: Path, tmp: Path, timeout: float = 600) -> tuple[subprocess.Popen, str]:
    """``python app.py serve`` on a free loopback port; returns the process and its ledger URL once it answers."""
    import httpx

    port = _free_port()
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--data-dir", str(data_dir),
                             "--host", "127.0.0.1", "--port", str(port)], env=_env(tmp), cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/ledger"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"python app.py serve exited with {proc.returncode}")
        try:
            if httpx.get(url + "/checkpoint", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("python app.py serve did not answer in time")


def _verify_benchmarks(tmp: Path, n_log: int, quick: bool) -> list[dict]:
    """2.–4. A lot verified locally, over HTTP, and as whole ``verify-lot`` processes."""
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per tile fetched
    data = tmp / "data"
    gtin, lot, n_events, build_s = build_data_folder(data, n_log)
    events = lot_events(data, gtin, lot)
    http_trust = tmp / "trust-http"

    def local() -> None:
        v = verify_lot(data, gtin, lot)
        assert v.verdict == "verified", v.reason

    def recompute() -> None:
        for e in events:
            assert epcis.event_hashes(e.document) == [e.event_hash]

    local()  # pins the key and remembers the checkpoint, as a second visit would have
    l_s, r_s = _best(local, 5), _best(recompute, 5)
    rows = [{"benchmark": f"verify a {n_events}-event lot (log built in {build_s:.1f} s)",
             "subject": f"local verification, log of {n_log:,}", "baseline": f"recompute {n_events} event hashes",
             "subject_s": l_s, "baseline_s": r_s, "ratio": l_s / r_s, "goal": "≤ 3× (ratio = subject/baseline)",
             "n": n_log}]
    proc, url = serve(data, tmp)
    try:
        def remote() -> None:
            v = verify_lot(data, gtin, lot, ledger_url=url, trust_dir=http_trust)
            assert v.verdict == "verified", v.reason

        remote()
        h_s = _best(remote, 5)
        rows.append({"benchmark": f"verify a {n_events}-event lot over HTTP",
                     "subject": "verify_lot over HTTP (fresh client: checkpoint + tiles)",
                     "baseline": "verify_lot on the local log", "subject_s": h_s, "baseline_s": l_s,
                     "ratio": h_s / l_s, "goal": "report (ratio = subject/baseline)", "n": n_log})
        base = [sys.executable, str(ROOT / "app.py"), "verify-lot", lot, "--gtin", gtin, "--data-dir", str(data)]

        def command(extra: list[str]) -> None:
            out = subprocess.run([*base, *extra], capture_output=True, text=True, env=_env(tmp), cwd=ROOT,
                                 timeout=300)
            assert out.returncode == 0, out.stdout + out.stderr

        reps = 1 if quick else 3
        c_http = _best(lambda: command(["--ledger-url", url]), reps)
        c_local = _best(lambda: command([]), reps)
        rows.append({"benchmark": "python app.py verify-lot (whole process)",
                     "subject": "--ledger-url (served by python app.py serve)", "baseline": "local log",
                     "subject_s": c_http, "baseline_s": c_local, "ratio": c_http / c_local,
                     "goal": "report (ratio = subject/baseline)", "n": n_log})
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    return rows


def run(quick: bool) -> list[dict]:
    n_log = 50_000 if quick else 1_000_000
    n_append = 20_000 if quick else 200_000
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-bench-trace-"))
    try:
        return [_append_benchmark(tmp, n_append, quick), *_verify_benchmarks(tmp, n_log, quick)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    for row in run(quick="--quick" in sys.argv):
        print(row)
