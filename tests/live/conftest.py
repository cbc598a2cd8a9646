"""Fixtures for the live tests: the bundled broker (real Tansu), models, event builders, helpers."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(scope="session")
def broker():
    from analytics.live.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        yield b


@pytest.fixture(scope="session")
def scorer(demo_dir: Path):
    from analytics.live.risk import HistoricalLateRateFallback

    return HistoricalLateRateFallback.from_orders(demo_dir)


@pytest.fixture(scope="session")
def detector():
    from analytics.live.coldchain import train_detector

    return train_detector()[0]


@pytest.fixture()
def topics(broker) -> dict[str, str]:
    """Fresh topic names for one test (so tests sharing the broker do not see each other)."""
    from analytics.live.broker import ensure_topics

    tag = uuid.uuid4().hex[:8]
    names = {f"t{tag}.orders": "order", f"t{tag}.shipments": "shipment", f"t{tag}.iot": "iot",
             f"t{tag}.dlq": "dlq"}
    ensure_topics(broker.bootstrap, names, partitions=2)
    return names


def order(i: int, **over: Any) -> dict[str, Any]:
    ev = {"schema": "chasqui.order.v1", "event_id": f"ord-{i}", "order_id": f"O{i:06d}",
          "created_at": "2026-11-23T10:15:00-05:00", "customer_id": f"C{i % 50:05d}",
          "region": ["PE-LIM", "PE-ARE", "PE-CUS", "PE-LOR"][i % 4], "category": "groceries",
          "amount_pen": 100.0 + i, "quantity": 1 + i % 3,
          "shipping_mode": ["standard", "express", "air", "river"][i % 4], "carrier": "Olva Courier",
          "origin_dc": "DC-LIM", "promised_days": 3}
    ev.update(over)
    return ev


def enc(obj: Any) -> bytes:
    return json.dumps(obj).encode()


def produce(bootstrap: str, messages: list[tuple[str, bytes | None]]) -> None:
    from kafka import KafkaProducer

    p = KafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
    try:
        for topic, value in messages:
            p.send(topic, key=b"k" if value is None else None, value=value)
        p.flush(30)
    finally:
        p.close(5)


def wait_for(pred: Callable[[], bool], timeout: float = 60.0, what: str | Callable[[], str] = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what() if callable(what) else what}")


def totals(store) -> dict[str, int]:
    st = store.read_state()["totals"]
    return {k: int(sum(v.values())) for k, v in st.items()}


def read_dlq(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Any]:
    """All messages of a DLQ topic (plain assign + seek, no consumer group)."""
    from kafka import KafkaConsumer, TopicPartition

    c = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in (c.partitions_for_topic(topic) or {0})]
        c.assign(parts)
        c.seek_to_beginning(*parts)
        out: list[Any] = []
        deadline = time.monotonic() + timeout
        while len(out) < expected and time.monotonic() < deadline:
            for msgs in c.poll(200).values():
                out.extend(msgs)
        return out
    finally:
        c.close()
