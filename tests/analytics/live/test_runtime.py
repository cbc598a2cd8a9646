"""analytics.live.start: the host lock, embedded broker + demo feed end to end, multiprocess metrics."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import textwrap

import analytics.live as live
from tests.conftest import ROOT
from tests.fixtures.live import wait_for


def test_disabled_when_live_is_off(settings):
    h = live.start(settings.live_config())  # the session settings have live=False
    assert h.role == "disabled" and h.broker is None and h.listener is None
    h.stop()


def test_start_embedded_broker_demo_feed_and_lock(settings, tmp_path):
    s = settings.replace(live=True, demo_feed=True, demo_feed_rate=150.0, kafka_bootstrap=None,
                         cache_dir=tmp_path / "cache")
    h = live.start(s.live_config())
    try:
        assert h.role == "leader" and h.broker is not None and h.producer is not None
        second = live.start(s.live_config())  # another worker on the same host only reads
        assert second.role == "reader" and second.listener is None
        second.stop()

        def progressed() -> bool:
            snap = live.snapshot(s.cache_dir)
            return sum(snap["totals"]["applied"].values()) >= 300 and snap["tiles"]["revenue_today"]["value"] > 0

        wait_for(progressed, 60, "demo events on the tiles")
        snap = live.snapshot(s.cache_dir)
        t = snap["totals"]
        consumed = sum(t["consumed"].values())
        assert consumed == sum(t["applied"].values()) + sum(t["dead_lettered"].values()) + sum(t["duplicates"].values())
        assert sum(snap["tiles"]["orders_per_min"]["spark"]) == t["applied"]["chasqui.orders"]
        assert snap["tiles"]["shipments_in_transit"]["value"] > 0
        # the session dataset has no trained models, so the listener must have loaded the historical fallback
        # (an "unavailable" scorer would flag nothing and leave the high-risk share at zero)
        assert snap["info"]["scorer"] == "historical_late_rate_fallback"
        assert 0.0 < snap["tiles"]["high_risk_share"]["value"] <= 1.0
        port = h.broker.port
    finally:
        h.stop()
    with socket.socket() as sock:  # the broker is gone and its port released
        assert sock.connect_ex(("127.0.0.1", port)) != 0
    again = live.start(s.live_config())  # the lock was released
    try:
        assert again.role == "leader"
    finally:
        again.stop()


CONSUME = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from analytics.live.broker import ensure_topics
    from analytics.live.coldchain import train_detector
    from analytics.live.listener import Listener
    from analytics.live.risk import HistoricalLateRateFallback
    from analytics.live.state import LiveStore
    from tests.fixtures.live import enc, order, produce, totals, wait_for
    bootstrap, store_dir, data_dir, tag = sys.argv[1:5]
    t = f"m{tag}.orders"
    produce(bootstrap, [(t, enc(order(i))) for i in range(7)] + [(t, b"[]"), (t, enc(order(1)))])
    store = LiveStore(Path(store_dir), writer=True)
    lst = Listener(bootstrap, store, HistoricalLateRateFallback.from_orders(data_dir), train_detector(n=2000)[0],
                   topics={t: "order"}, dlq_topic=f"m{tag}.dlq", group_id=f"g{tag}").start()
    wait_for(lambda: totals(store)["consumed"] == 9, 60)
    lst.stop()
""")
RENDER = "from web.metrics import render; import sys; sys.stdout.write(render()[0].decode())"


def test_metrics_aggregate_across_processes(broker, demo_dir, tmp_path):
    mp = tmp_path / "prom"
    mp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PROMETHEUS_MULTIPROC_DIR": str(mp)}
    procs = [subprocess.Popen([sys.executable, "-c", CONSUME, broker.bootstrap, str(tmp_path / tag), str(demo_dir),
                               tag], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)
             for tag in ("a1", "b2")]  # two processes (two workers' worth) write their own metric files
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err.decode()[-2000:]
    assert len(list(mp.glob("gauge_livemax_*.db"))) == 2  # each consumer exported its lag while it ran
    out = subprocess.run([sys.executable, "-c", RENDER], env=env, capture_output=True, timeout=60, cwd=ROOT)
    text = out.stdout.decode()

    def value(pattern: str) -> float:
        m = re.search(pattern + r" ([0-9.e+]+)", text)
        assert m, f"{pattern} not in /metrics output"
        return float(m.group(1))

    for tag in ("a1", "b2"):
        assert value(rf'chasqui_events_applied_total\{{topic="m{tag}.orders"\}}') == 7
        assert value(rf'chasqui_events_dead_lettered_total\{{reason="not_an_object",topic="m{tag}.orders"\}}') == 1
        assert value(rf'chasqui_events_duplicate_total\{{topic="m{tag}.orders"\}}') == 1
    assert value(r"chasqui_event_to_tile_seconds_count") == 14
    # both consumers have exited: their lag is no longer a current lag (dropped, as mark_process_dead does),
    # while their counters and histograms were folded into the archives and still count (above)
    assert "# TYPE chasqui_consumer_lag gauge" not in text and not list(mp.glob("gauge_livemax_*.db"))
    assert sorted(p.name for p in mp.glob("*.db")) == ["counter_archive.db", "histogram_archive.db"]
