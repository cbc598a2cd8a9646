"""Gunicorn settings for Chasqui: ``gunicorn -c deploy/gunicorn.conf.py app:server``.

Prometheus multiprocess mode: every worker writes its metrics to files in PROMETHEUS_MULTIPROC_DIR
and ``/metrics`` (any worker) sums them. The variable must be set before ``prometheus_client`` is
imported anywhere, which is why it is set here, in the master, before any worker imports the app.
The folder is emptied at start-up (stale files from a previous run would be summed in) and a
worker's live gauges are dropped when it exits.

Workers are gevent workers: each connection is a greenlet, so a client that sends its headers or body a byte
at a time holds a few kilobytes, not a thread. With the threaded worker, 16 such clients took every thread of
4 workers × 4 threads and ``/healthz`` stopped answering (the liveness probe would restart every pod).
Background jobs stay separate processes (forked from a fork server, never from a worker; ``web.jobs``), the result cache and the job
manager are diskcache files (SQLite, no sockets), and the live listener's Kafka client is plain sockets, so
they work unchanged under gevent's cooperative sockets (``tests/web/test_attack_slow_clients.py`` runs a
Segments job and the health check while slow clients are held). SECURITY.md says why gevent rather than
waitress or nginx in front.

Proxy headers: only with ``CHASQUI_TRUST_PROXY`` > 0 does gunicorn trust ``X-Forwarded-Proto`` (from any address:
the app's ``ProxyFix`` counts the trusted hops); otherwise from none, so plain HTTP never gets HSTS.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_mp_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or os.path.join(tempfile.gettempdir(), "chasqui-prometheus")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = _mp_dir
Path(_mp_dir).mkdir(parents=True, exist_ok=True)  # (only gunicorn sets it: CLI commands stay single-process)

bind = os.environ.get("GUNICORN_BIND") or (
    f"{os.environ.get('CHASQUI_HOST', '0.0.0.0')}:{os.environ.get('CHASQUI_PORT', '8050')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "web.gunicorn_worker.ChasquiGeventWorker"  # gevent, closing idle keep-alives on stop
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))  # open connections per worker
timeout = 120  # background callbacks run outside the request; a slow page callback stays well under this
graceful_timeout = 30
keepalive = 65  # longer than a load balancer's idle timeout (60 s is common): no reset races
max_requests = 5000  # recycle workers now and then (memory); jitter avoids recycling all at once
max_requests_jitter = 500
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190

def _forwarded_allow_ips(environ: dict[str, str]) -> str:
    """Addresses whose X-Forwarded-Proto gunicorn believes: none unless CHASQUI_TRUST_PROXY says there is a proxy in
    front (then FORWARDED_ALLOW_IPS if given, else any: the app counts the hops itself)."""
    try:
        trusted = int(environ.get("CHASQUI_TRUST_PROXY") or "0")
    except ValueError:
        trusted = 0  # the app refuses the setting at start-up with its own message
    if trusted <= 0:
        return ""
    return environ.get("FORWARDED_ALLOW_IPS") or "*"


forwarded_allow_ips = _forwarded_allow_ips(dict(os.environ))
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("CHASQUI_LOG_LEVEL", "info").lower()
# Workers each build their own app (create_app on first access of app:server); no preload, so no
# threads or broker connections are created in the master and inherited across fork.
preload_app = False


def on_starting(server) -> None:
    """Empty (or create) the multiprocess folder before the first worker starts, and name this master as the
    server the workers' job processes belong to (they end themselves when it is gone: ``web.jobs``)."""
    os.environ["CHASQUI_SERVER_PID"] = str(os.getpid())
    path = Path(_mp_dir)
    if path.exists():
        for child in path.iterdir():
            if child.is_file() and child.suffix == ".db":
                child.unlink()
            elif child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
    path.mkdir(parents=True, exist_ok=True)


def post_worker_init(worker) -> None:
    """Run Dash's one-time set-up before this worker accepts connections.

    Dash does it in a first-request hook that iterates and fills its callback map; with several threads,
    two first requests run it at once ("dictionary changed size during iteration" → a 500 for one of
    them, seen in the load test). One internal request here, in a single thread, does it safely.
    """
    app = worker.wsgi
    if hasattr(app, "test_client"):
        app.test_client().get("/_dash-dependencies")
        from web.jobs import start_job_server

        start_job_server()  # the fork server of this worker's background jobs imports now, not on the first job


WARM_EVERY_SECONDS = 60.0
_warmer: list[subprocess.Popen] = []


def _start_warmer(server) -> subprocess.Popen | None:
    """Unless ``CHASQUI_WARM=0``: ``python app.py warm --watch 60`` as the master's child, so that the first visitor
    after a deploy or a restart, or after a ``prepare``, ``train`` or import, finds every page's default view in the
    result cache (as ``python app.py serve`` does). A process of its own, not a thread: of the app, the master
    imports only ``web.settings`` (standard library only) before it forks the workers. It ends by itself when the
    master is gone."""
    from web.settings import Settings, SettingsError

    try:
        if not Settings.from_env(os.environ).warm:
            return None
    except SettingsError:
        return None  # the workers refuse the setting with its own message
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # it serves no metrics
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, str(root / "app.py"), "warm", "--watch", str(WARM_EVERY_SECONDS)],
                            cwd=root, env=env, stdin=subprocess.DEVNULL)
    _warmer.append(proc)
    server.log.info("warm-up watcher started (pid %s)", proc.pid)
    return proc


def on_exit(server) -> None:
    """Stop the warm-up watcher with the master."""
    for proc in _warmer:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def when_ready(server) -> None:
    """Start the warm-up watcher; with METRICS_PORT set, the master serves the summed metrics itself on that port.

    The master handles no page traffic, so a scrape there stays fast when every worker thread is busy
    with callbacks (``/metrics`` on the app port waits in the same queue as page requests). Keep the
    port internal (no sign-in on it): Prometheus only.
    """
    _start_warmer(server)
    port = os.environ.get("METRICS_PORT")
    if not port:
        return
    from prometheus_client import CollectorRegistry, start_http_server

    registry = CollectorRegistry()
    registry.register(_MasterCollector())
    start_http_server(int(port), addr=os.environ.get("METRICS_ADDR", "0.0.0.0"), registry=registry)
    server.log.info("metrics (all workers) on :%s/metrics", port)


MODEL_METRIC = "chasqui_model_trained_timestamp_seconds"


def _model_timestamps() -> dict[str, float]:
    """When each model in the data folder was trained, read like the app reads it (``analytics.model_card``,
    stdlib only, so the master never imports polars before forking)."""
    from analytics.model_card import trained_timestamps
    from web.settings import Settings, SettingsError

    try:
        data = Settings.from_env(os.environ).data
    except SettingsError:
        return {}
    return trained_timestamps(data.root)


class _MasterCollector:
    """The workers' metrics summed from the multiprocess files, plus model ages read from the data folder."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from web import promfiles

        for family in promfiles.FolderCollector(_mp_dir).collect():  # exited job processes' files folded first
            if family.name != MODEL_METRIC:
                yield family
        gauge = GaugeMetricFamily(MODEL_METRIC, "Unix time each model in DIR/models was trained", labels=["model"])
        for model, ts in sorted(_model_timestamps().items()):
            gauge.add_metric([model], ts)
        yield gauge


def child_exit(server, worker) -> None:
    """Drop the exited worker's live gauges (counters and histograms keep counting)."""
    from prometheus_client import multiprocess

    from web import promfiles

    with promfiles.locked(_mp_dir):
        multiprocess.mark_process_dead(worker.pid)
