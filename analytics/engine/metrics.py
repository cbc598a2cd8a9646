"""Prometheus metrics of the engines (exact names are a contract; see the README).

Declared in the analytics layer, like ``analytics.live.metrics``; the web layer's ``/metrics`` route
(``web.metrics.render``) serves them with its own, aggregated across workers in multiprocess mode.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

ROWS_LOADED = Counter("chasqui_rows_loaded_total", "Rows loaded into the engine, by table", ["table"])
TABLE_ROWS = Gauge(
    "chasqui_table_rows", "Rows in each table as last loaded", ["table"], multiprocess_mode="max"
)
