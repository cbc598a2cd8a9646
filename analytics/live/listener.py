"""The live listener: a kafka-python consumer group that validates, scores and applies events.

Loop: poll -> decode/validate each message (bad ones become dead letters) -> score new orders
(late risk) and IoT readings (limits + IsolationForest) -> every ``flush_interval`` seconds (or
``max_pending`` messages): send fresh dead letters to ``chasqui.dlq`` and wait for the broker's ack,
apply the batch to the diskcache store in one transaction (dedup by event_id), then commit the
offsets. Any error (broker gone, commit refused after a rebalance, ...) drops the consumer and builds
a new one, which resumes from the last committed offsets; a broker that lost its state is detected by
:class:`_BrokerWatch` and the consumer rewinds to the committed offsets. Replays are recognised and
counted as duplicates, so nothing is lost or counted twice. Input never stops the loop.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import numpy as np

from analytics.live import coldchain
from analytics.live.contracts import (
    INPUT_TOPICS,
    TOPIC_DLQ,
    InvalidEvent,
    IotEvent,
    OrderEvent,
    decode,
)
from analytics.live.state import DeadLetter, LiveStore, Scored

log = logging.getLogger(__name__)

Factory = Callable[[], Any]


def _resolve(obj: Any) -> Any:
    return obj() if callable(obj) and not hasattr(obj, "score") and not hasattr(obj, "predict") else obj


class Listener:
    """Consume ``topics`` (topic -> kind) into ``store``; run it with :meth:`start` / :meth:`stop`.

    ``scorer`` / ``detector`` may be objects or zero-argument factories (called in the listener
    thread, so loading models never delays the app's start-up).
    ``exit_before_commit_after``: test hook: after that many flushes the *process* exits right
    before committing offsets (simulates a consumer killed between apply and commit).
    """

    def __init__(self, bootstrap: str, store: LiveStore, scorer: Any, detector: Any, *,
                 topics: dict[str, str] | None = None, group_id: str = "chasqui-live",
                 dlq_topic: str = TOPIC_DLQ, flush_interval: float = 0.2, max_pending: int = 5000,
                 lag_interval: float = 1.0, info: dict[str, Any] | None = None,
                 exit_before_commit_after: int | None = None, record_latencies: bool = False):
        self.bootstrap = bootstrap
        self.store = store
        self._scorer_src, self._detector_src = scorer, detector
        self.scorer: Any = None
        self.detector: Any = None
        self.topics = dict(topics or INPUT_TOPICS)
        self.group_id = group_id
        self.dlq_topic = dlq_topic
        self.flush_interval = flush_interval
        self.max_pending = max_pending
        self.lag_interval = lag_interval
        self.info = dict(info or {})
        self.exit_before_commit_after = exit_before_commit_after
        self.latencies: deque[float] = deque(maxlen=200_000) if record_latencies else deque(maxlen=0)
        self.flushes = 0
        self.first_record_at: float | None = None  # perf_counter() of the first record polled
        self.last_flush_at: float | None = None  # perf_counter() after the last committed flush
        self.flushes_committed = 0  # flushes whose offsets are committed (== flushes: nothing in flight)
        self.errors = 0
        self.resets = 0  # broker resets recovered in place (rewind / re-subscribe)
        self.last_error: str | None = None
        self.ready = threading.Event()  # set once partitions are assigned and polling
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> Listener:
        self._thread = threading.Thread(target=self.run, name="chasqui-live-listener", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def run(self) -> None:
        """Consume until stopped; reconnects with back-off on any error."""
        from analytics.live import metrics  # noqa: F401  (register the metrics in this process)

        if self.scorer is None:
            try:
                self.scorer = _resolve(self._scorer_src)
            except Exception as exc:  # e.g. no orders table yet: keep consuming, orders stay unscored
                log.warning("late-risk scorer unavailable (%s); orders are counted but not scored", exc)
                self.scorer = UnavailableScorer(f"{type(exc).__name__}: {exc}")
            try:
                self.detector = _resolve(self._detector_src)
            except Exception as exc:  # a tampered artifact: fall back to a freshly trained detector
                log.warning("saved anomaly detector unusable (%s); training one in memory", exc)
                self.detector = coldchain.train_detector()[0]
            self.info.update({"scorer": getattr(self.scorer, "name", type(self.scorer).__name__)})
        backoff = 0.5
        while not self._stop.is_set():
            consumer: Any = None
            producer: Any = None
            try:
                consumer, producer = self._connect()
                backoff = 0.5
                self._loop(consumer, producer)
            except Exception as exc:  # the listener must survive anything: log, rebuild, resume
                self.errors += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.warning("live listener error (%s); reconnecting in %.1fs", self.last_error, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)
            finally:
                self.ready.clear()
                _close(consumer, autocommit=False)
                _close(producer, timeout=1)

    def _connect(self) -> tuple[Any, Any]:
        from kafka import KafkaConsumer, KafkaProducer

        from analytics.live.broker import ensure_topics

        try:  # the in-memory broker forgets its topics on restart; create ours with 3 partitions
            ensure_topics(self.bootstrap, [*self.topics, self.dlq_topic])
        except Exception as exc:  # a managed cluster may forbid it; topics then exist
            log.info("could not ensure topics: %s", exc)
        consumer = KafkaConsumer(
            *self.topics, bootstrap_servers=self.bootstrap, group_id=self.group_id, client_id="chasqui-live",
            enable_auto_commit=False, auto_offset_reset="earliest", max_poll_records=self.max_pending,
            metadata_max_age_ms=5000, session_timeout_ms=6000, heartbeat_interval_ms=1000,
            max_poll_interval_ms=10000, reconnect_backoff_max_ms=2000, request_timeout_ms=15000,
            fetch_max_wait_ms=100,
        )
        producer = KafkaProducer(bootstrap_servers=self.bootstrap, client_id="chasqui-live-dlq", acks="all",
                                 linger_ms=5, max_block_ms=5000, request_timeout_ms=5000,
                                 reconnect_backoff_max_ms=2000)
        return consumer, producer

    # -- the loop --------------------------------------------------------------------------------
    def _loop(self, consumer: Any, producer: Any) -> None:
        pending: list[Any] = []
        first_at = 0.0
        last_lag = 0.0
        watch = _BrokerWatch(consumer, list(self.topics))
        while not self._stop.is_set():
            batches = consumer.poll(timeout_ms=50, max_records=self.max_pending)
            if consumer.assignment():
                self.ready.set()
            action = watch.check()
            if action is not None:
                # drop what was polled but not committed and resume from the committed offsets
                log.warning("live listener: %s; resuming from the committed offsets", action[1])
                pending = []
                self.resets += 1
                self._resume(consumer, action[0])
                watch.reset()
                continue
            for msgs in batches.values():
                if msgs and not pending:
                    first_at = time.monotonic()
                    if self.first_record_at is None:
                        self.first_record_at = time.perf_counter()
                pending.extend(msgs)
            now_m = time.monotonic()
            lag_due = now_m - last_lag >= self.lag_interval
            if pending and (len(pending) >= self.max_pending or now_m - first_at >= self.flush_interval or lag_due):
                lag = self._lag(consumer) if lag_due else None
                self._flush(consumer, producer, pending, lag)
                pending = []
                if lag_due:
                    last_lag = now_m
            elif lag_due and consumer.assignment():
                self.store.record_lag(self._lag(consumer), info=self.info)
                self._set_lag_metric(self.store.state["lag"])
                last_lag = now_m

    def _resume(self, consumer: Any, how: str) -> None:
        """Rewind every assigned partition to its committed offset (or the start when the broker
        forgot it), or re-subscribe so the group is joined again (partitions changed)."""
        from analytics.live.broker import ensure_topics

        try:  # a broker that lost its state lost its topics too
            ensure_topics(self.bootstrap, [*self.topics, self.dlq_topic])
        except Exception as exc:
            log.info("could not ensure topics: %s", exc)
        if how == "resubscribe":
            consumer.unsubscribe()
            consumer.subscribe(list(self.topics))
            return
        for tp in consumer.assignment():
            committed = consumer.committed(tp, timeout_ms=5000)
            if committed is None:
                consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, committed)

    def _lag(self, consumer: Any) -> dict[str, int]:
        lag: dict[str, int] = {t: 0 for t in self.topics}
        for tp in consumer.assignment():
            hw = consumer.highwater(tp)
            if hw is None:
                continue
            try:
                pos = consumer.position(tp, timeout_ms=100)
            except Exception:  # position unknown right after a rebalance
                continue
            if pos is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(0, hw - pos)
        return lag

    def _set_lag_metric(self, lag: dict[str, int]) -> None:
        from analytics.live.metrics import CONSUMER_LAG

        for topic, n in lag.items():
            CONSUMER_LAG.labels(topic).set(n)

    def _flush(self, consumer: Any, producer: Any, records: list[Any], lag: dict[str, int] | None) -> None:
        from kafka.structs import OffsetAndMetadata, TopicPartition

        from analytics.live.metrics import (
            EVENT_TO_TILE,
            EVENTS_APPLIED,
            EVENTS_DEAD_LETTERED,
            EVENTS_DUPLICATE,
        )

        consumed: dict[str, int] = {}
        offsets: dict[TopicPartition, int] = {}
        dead: list[DeadLetter] = []
        valid: list[tuple[Any, Any]] = []
        products = coldchain.PRODUCTS
        for m in records:
            consumed[m.topic] = consumed.get(m.topic, 0) + 1
            tp = TopicPartition(m.topic, m.partition)
            if m.offset + 1 > offsets.get(tp, -1):
                offsets[tp] = m.offset + 1
            try:
                ev = decode(self.topics.get(m.topic, "?"), m.value, products)
            except InvalidEvent as exc:
                dead.append(DeadLetter(m.topic, m.partition, m.offset, m.key, m.value, exc.reason, exc.detail,
                                       m.timestamp))
            except Exception as exc:  # a validator bug must not stop the stream either
                dead.append(DeadLetter(m.topic, m.partition, m.offset, m.key, m.value, "unprocessable",
                                       f"{type(exc).__name__}: {exc}"[:200], m.timestamp))
            else:
                valid.append((m, ev))
        scored = self._score(valid)
        fresh = self.store.fresh_dead_letters(dead)
        if fresh:
            futures = [producer.send(self.dlq_topic, key=d.key, value=d.value or b"", headers=_headers(d))
                       for d in fresh]
            producer.flush(timeout=10)
            for f in futures:
                f.get(timeout=10)  # raises if the broker did not take it: nothing is committed then
        res = self.store.apply(scored, dead, consumed, lag=lag, info=self.info)
        done = time.time()
        for (m, _ev), s in zip(valid, scored, strict=True):
            if not s.duplicate and m.timestamp and m.timestamp > 0:
                d = max(0.0, done - m.timestamp / 1000.0)
                EVENT_TO_TILE.observe(d)
                self.latencies.append(d)
        for topic, n in res.applied.items():
            EVENTS_APPLIED.labels(topic).inc(n)
        for topic, n in res.duplicates.items():
            EVENTS_DUPLICATE.labels(topic).inc(n)
        for (topic, reason), n in res.dead_lettered.items():
            EVENTS_DEAD_LETTERED.labels(topic, reason).inc(n)
        if lag is not None:
            self._set_lag_metric(lag)
        self.flushes += 1
        if self.exit_before_commit_after is not None and self.flushes >= self.exit_before_commit_after:
            log.error("test hook: exiting before committing offsets")
            os._exit(17)
        consumer.commit({tp: OffsetAndMetadata(off, "", -1) for tp, off in offsets.items()})
        self.last_flush_at = time.perf_counter()
        self.flushes_committed += 1

    def _score(self, valid: list[tuple[Any, Any]]) -> list[Scored]:
        scored: list[Scored] = []
        orders: list[tuple[int, OrderEvent]] = []
        iots: list[tuple[int, IotEvent]] = []
        seen = self.store.seen
        batch: set[str] = set()
        for i, (m, ev) in enumerate(valid):
            s = Scored(ev, m.topic)
            scored.append(s)
            if seen(ev.event_id) or ev.event_id in batch:
                s.duplicate = True
                continue
            batch.add(ev.event_id)
            if isinstance(ev, OrderEvent):
                orders.append((i, ev))
            elif isinstance(ev, IotEvent):
                iots.append((i, ev))
        if orders:
            try:
                risk = self.scorer.score([o for _, o in orders])
                thr = self.scorer.threshold
                for (i, _), r in zip(orders, risk, strict=True):
                    scored[i].risk = float(r)
                    scored[i].high_risk = bool(r >= thr)
            except Exception as exc:  # the order still counts, just unscored
                log.warning("late-risk scoring failed: %s", exc)
        if iots:
            for i, ev in iots:
                scored[i].excursion = coldchain.excursion(ev.product, ev.temp_c)
            try:
                flags = self.detector.predict([e.product for _, e in iots],
                                              np.array([e.temp_c for _, e in iots]),
                                              np.array([e.humidity_pct for _, e in iots]))
                for (i, _), f in zip(iots, flags, strict=True):
                    scored[i].anomaly = bool(f)
            except Exception as exc:
                log.warning("anomaly detection failed: %s", exc)
        return scored


class UnavailableScorer:
    """Used when no late-risk scorer could be loaded: nothing is flagged high-risk."""

    name = "unavailable"
    threshold = float("inf")

    def __init__(self, reason: str):
        self.reason = reason

    def score(self, orders: Any) -> np.ndarray:
        return np.full(len(orders), np.nan)


def _close(client: Any, **kw: Any) -> None:
    if client is None:
        return
    try:
        client.close(**kw)
    except Exception:  # closing a client of a dead broker may fail; nothing to do
        pass


class _BrokerWatch:
    """Detects a broker that lost its state, which kafka-python 2.3.3 does not always recover from.

    Against Tansu (memory storage) a restart wipes logs, groups and committed offsets, but the
    consumer may keep its old positions and its old assignment: it would skip the first messages of
    the new logs or never fetch the new partitions. Signs watched for, on every poll, and the answer:

    - the group coordinator became unknown (connection lost) and came back -> ``rewind``
    - a partition's high watermark fell below our position -> ``rewind``
    - the topics' partitions changed while the assignment did not, for ``settle_s`` -> ``resubscribe``

    ``rewind`` seeks every assigned partition to its committed offset (the start if the broker has
    none); ``resubscribe`` leaves and re-joins the group. The same consumer is kept (a new member
    could wait on the stale one's rebalance). Replayed events are recognised as duplicates.
    """

    def __init__(self, consumer: Any, topics: list[str], settle_s: float = 5.0):
        self.consumer = consumer
        self.topics = topics
        self.settle_s = settle_s
        # the assignment and the topics' partitions when it was made (kept across a rewind, so a
        # partition change that happened during the outage is still noticed afterwards)
        self.assignment: frozenset[Any] = frozenset()
        self.assigned_parts: dict[str, frozenset[int]] = {}
        self.reset()

    def reset(self) -> None:
        self.coordinator_lost = False
        self.mismatch_since: float | None = None
        self.last_meta = 0.0

    def check(self) -> tuple[str, str] | None:
        c = self.consumer
        coord = getattr(c, "_coordinator", None)
        if coord is not None and self.assignment:
            try:
                unknown = coord.coordinator_unknown()
            except Exception:  # private API guard
                unknown = False
            if unknown:
                self.coordinator_lost = True
            elif self.coordinator_lost:
                return "rewind", "the group coordinator was lost and came back"
        assignment = frozenset(c.assignment())
        if assignment != self.assignment:
            self.assignment = assignment
            self.assigned_parts = {t: frozenset(c.partitions_for_topic(t) or ()) for t in self.topics}
            self.mismatch_since = None
        subs = getattr(c, "_subscription", None)
        for tp in assignment:
            hw = c.highwater(tp)
            state = subs.assignment.get(tp) if subs is not None else None
            pos = getattr(getattr(state, "position", None), "offset", None)
            if hw is not None and pos is not None and hw < pos:
                return "rewind", f"the high watermark of {tp.topic}[{tp.partition}] fell below our position"
        now = time.monotonic()
        if assignment and now - self.last_meta >= 1.0:
            self.last_meta = now
            parts = {t: frozenset(c.partitions_for_topic(t) or ()) for t in self.topics}
            if parts != self.assigned_parts:
                self.mismatch_since = self.mismatch_since or now
                if now - self.mismatch_since > self.settle_s:
                    return "resubscribe", "the topics' partitions changed without a rebalance"
            else:
                self.mismatch_since = None
        return None


def _headers(d: DeadLetter) -> list[tuple[str, bytes]]:
    return [("reason", d.reason.encode()), ("source_topic", d.topic.encode()),
            ("source_partition", str(d.partition).encode()), ("source_offset", str(d.offset).encode()),
            ("detail", d.detail.encode("utf-8", "replace")[:500]),
            ("source_timestamp_ms", str(d.timestamp_ms or "").encode())]
