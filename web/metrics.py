"""Prometheus metrics of the web layer, and the ``/metrics`` text (with the analytics layer's metrics).

When PROMETHEUS_MULTIPROC_DIR is set (gunicorn with several workers) prometheus_client writes
per-process files and /metrics aggregates them (gunicorn's config sets it before any worker starts).
The engines' row counters live in ``analytics.engine.metrics`` (imported here, so ``/metrics`` lists them
before the first table is loaded), the live stream's in ``analytics.live.metrics``.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

import analytics.engine.metrics  # noqa: F401  (declares chasqui_rows_loaded_total, chasqui_table_rows)

CALLBACK_SECONDS = Histogram(
    "chasqui_callback_seconds",
    "Dash callback latency in seconds, by callback output",
    ["callback"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_REQUESTS = Counter(
    "chasqui_http_requests_total", "HTTP requests by path group and status", ["path", "status"]
)

MODEL_TRAINED = Gauge(  # alert when a model gets old (time() - this)
    "chasqui_model_trained_timestamp_seconds", "Unix time each model in DIR/models was trained", ["model"],
    multiprocess_mode="max",
)


def render() -> tuple[bytes, str]:
    """Metrics text (aggregated across workers in multiprocess mode) and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST

    mp_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if mp_dir:
        from web import promfiles

        registry = CollectorRegistry()
        registry.register(promfiles.FolderCollector(mp_dir))  # exited job processes' files folded first
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST
