"""Prometheus metrics of the live stream (exact names are a contract; see the README).

Declared at module level in the analytics layer. Under gunicorn, PROMETHEUS_MULTIPROC_DIR is set
before this import, so each process writes its own files and ``web.metrics.render()``
aggregates them: counters and the histogram are summed, the lag gauge takes the live maximum
(only the process holding the listener lock reports it).
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_APPLIED = Counter("chasqui_events_applied_total", "Events applied to the live tiles, by source topic",
                         ["topic"])
EVENTS_DEAD_LETTERED = Counter("chasqui_events_dead_lettered_total",
                               "Events rejected to chasqui.dlq, by source topic and reason", ["topic", "reason"])
EVENTS_DUPLICATE = Counter("chasqui_events_duplicate_total",
                           "Events skipped because their event_id (or dead letter) was already applied",
                           ["topic"])
CONSUMER_LAG = Gauge("chasqui_consumer_lag", "Messages not yet consumed by the live listener, by topic",
                     ["topic"], multiprocess_mode="livemax")
EVENT_TO_TILE = Histogram("chasqui_event_to_tile_seconds",
                          "Seconds from an event's Kafka timestamp to its tile state being stored",
                          buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0))
