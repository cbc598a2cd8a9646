"""Locust user flows for Chasqui: what a browser does on each page load, and a Prometheus-like scraper.

    locust -f benchmarks/locustfile.py --headless -u 50 -r 50 -t 60s --host http://127.0.0.1:8050 \\
        --stop-timeout 120 --csv benchmarks/out/load --html benchmarks/out/load.html [--master-metrics URL]

``make loadtest`` (``benchmarks/loadtest.py``) prepares the data, starts gunicorn and runs this headless.

Each simulated browser loops over the pages in a random order (every page once per round) with a think time
of 0.5–1.5 s between pages, and loads a page as the Dash renderer does: GET the page, POST the page router
callback (the layout), then POST every callback that fires on load, in the renderer's order (a callback whose
input another on-load callback produces waits for it and gets its output; the others get the layout's initial
values); background callbacks are polled at their interval until they answer. Locust records every request
(``/logistics GET``, ``/logistics router``, ``/logistics cb logistics-map``, ``... poll ...``) and two
derived entries per page: ``load`` (router + every on-load callback: what a visitor waits for after the HTML)
and ``total`` (the GET included).

While users run, ``/metrics`` is scraped every 2 s (and the gunicorn master's metrics port with
``--master-metrics``). When the run stops, the counters summed over every worker are checked against the
requests sent during the run: HTTP requests (health probes and the dependency graph left out) and callback
requests. A
mismatch, like a failed request, makes the run exit non-zero; the check is printed and written to
``<csv prefix>_metrics_check.json`` when ``--csv`` is given.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import requests
from locust import HttpUser, constant, events, task
from locust.env import Environment
from locust.exception import StopUser
from locust.runners import STATE_RUNNING, STATE_SPAWNING, LocalRunner

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.loadtest import PAGES, Site, load_page, metric_sum, slowest_callbacks

SCRAPE_SECONDS = 2.0
POLL_LIMIT_SECONDS = 600.0


class Run:
    """What one locust process knows about the run: the site, requests sent, counters at the start."""

    def __init__(self) -> None:
        self.site: Site | None = None
        self.sent = {"page": 0, "callback": 0, "metrics": 0}
        self.before = 0.0
        self.callbacks_before = 0.0
        self.scraper: gevent.Greenlet | None = None
        self.stopping = False
        self.check: dict[str, Any] | None = None


RUN = Run()


@events.init_command_line_parser.add_listener
def _options(parser: Any) -> None:
    parser.add_argument("--master-metrics", default="", help="the gunicorn master's metrics URL (METRICS_PORT), "
                        "scraped with /metrics and read for the final counter check")


def _request(environment: Environment, kind: str, name: str, seconds: float, exc: Exception | None = None) -> None:
    environment.events.request.fire(request_type=kind, name=name, response_time=seconds * 1000.0,
                                    response_length=0, exception=exc, context={})


def _scrape(environment: Environment, master: str) -> None:
    """GET /metrics every 2 s until the users stop, as Prometheus would (the master's port too, if given)."""
    base = environment.host.rstrip("/")
    with requests.Session() as s:
        while not RUN.stopping:
            for url, name in ((base + "/metrics", "/metrics"), (master, "master metrics")):
                if not url:
                    continue
                if name == "/metrics":
                    RUN.sent["metrics"] += 1
                t0 = time.perf_counter()
                try:
                    r = s.get(url, timeout=30)
                    exc = None if r.status_code == 200 else RuntimeError(f"HTTP {r.status_code}")
                except requests.RequestException as e:
                    exc = e
                _request(environment, "GET", name, time.perf_counter() - t0, exc)
            gevent.sleep(SCRAPE_SECONDS)


def _prepare(environment: Environment) -> None:
    """Read the site (callback graph, shell stores) and the counters, and start the scraper."""
    base = (environment.host or "").rstrip("/")
    with requests.Session() as s:
        RUN.site = Site(base, s)
        text = s.get(base + "/metrics", timeout=30).text
        RUN.before = metric_sum(text, "chasqui_http_requests_total")
        RUN.callbacks_before = metric_sum(text, "chasqui_callback_seconds_count")
    RUN.sent = {"page": 0, "callback": 0, "metrics": 0}
    RUN.stopping = False
    master = getattr(environment.parsed_options, "master_metrics", "") if environment.parsed_options else ""
    RUN.scraper = gevent.spawn(_scrape, environment, master)


@events.init.add_listener
def _init(environment: Environment, **_: Any) -> None:
    """Headless: get ready before Locust starts its ``--run-time`` clock (reading the site can take seconds on a
    busy machine; a short run must not end before its users started)."""
    opts = environment.parsed_options
    if isinstance(environment.runner, LocalRunner) and environment.host and opts is not None and opts.headless:
        _prepare(environment)
    # gevent's loop caches the time of its last iteration; after slow imports (or the reads above) that time can be
    # older than --run-time, and Locust's run-time timer, scheduled from it, would fire at once
    gevent.get_hub().loop.update_now()


@events.test_start.add_listener
def _start(environment: Environment, **_: Any) -> None:
    if not isinstance(environment.runner, LocalRunner):
        return  # distributed runs: each worker only sees its own requests, no counter check
    if RUN.scraper is None:  # the web UI: one check per run started there
        _prepare(environment)


@events.test_stop.add_listener
def _stop(environment: Environment, **_: Any) -> None:
    """Users have finished their page (``--stop-timeout``): compare the server's counters with what was sent."""
    if RUN.scraper is None:
        return
    RUN.stopping = True
    RUN.scraper.join(timeout=60)
    time.sleep(0.5)
    opts = environment.parsed_options
    master = getattr(opts, "master_metrics", "") if opts else ""
    final = requests.get(master or environment.host.rstrip("/") + "/metrics", timeout=30).text
    counted = metric_sum(final, "chasqui_http_requests_total") - RUN.before
    sent = RUN.sent["page"] + RUN.sent["callback"] + RUN.sent["metrics"] + 1  # + the scrape read at the start
    callbacks = metric_sum(final, "chasqui_callback_seconds_count") - RUN.callbacks_before
    RUN.check = {"http_requests_counted": counted, "http_requests_sent": sent,
                 "callbacks_counted": callbacks, "callbacks_sent": RUN.sent["callback"],
                 "page_visits": RUN.sent["page"], "metrics_scrapes": RUN.sent["metrics"],
                 "slowest_callbacks_mean_ms": slowest_callbacks(final),
                 "ok": abs(counted - sent) < 0.5 and abs(callbacks - RUN.sent["callback"]) < 0.5}
    print(f"metrics check: {json.dumps({k: v for k, v in RUN.check.items() if k != 'slowest_callbacks_mean_ms'})}")
    for ms, name in RUN.check["slowest_callbacks_mean_ms"]:
        print(f"  callback mean {ms:>9} ms  {name}")
    prefix = getattr(opts, "csv_prefix", None) if opts else None
    if prefix:
        Path(f"{prefix}_metrics_check.json").write_text(json.dumps(RUN.check, indent=1), encoding="utf-8")
    RUN.scraper = None


@events.quitting.add_listener
def _exit_code(environment: Environment, **_: Any) -> None:
    if RUN.check is not None and not RUN.check["ok"]:
        environment.process_exit_code = 2


class PageFailed(Exception):
    """A request of a page load failed; the rest of that page is skipped (locust has recorded it)."""


class Browser(HttpUser):
    """One visitor: every page once per round, in a random order, loaded as the Dash renderer loads it."""

    wait_time = constant(0)  # the think time is part of the task (see next_page)

    def on_start(self) -> None:
        self.rng = random.Random()
        self.queue: list[str] = []

    @task
    def next_page(self) -> None:
        """One page, then 0.5–1.5 s of think time. Both happen inside the task, and no page starts once the
        run is stopping: Locust kills a user between tasks, and a request cut off there could reach the
        server without being recorded (or be recorded without reaching it), breaking the counter check."""
        runner = self.environment.runner
        if runner is None or runner.state not in (STATE_SPAWNING, STATE_RUNNING):
            raise StopUser()
        if not self.queue:
            self.queue = list(PAGES)
            self.rng.shuffle(self.queue)
        self.visit(self.queue.pop())
        gevent.sleep(self.rng.uniform(0.5, 1.5))

    def _get(self, page: str, name: str) -> None:
        RUN.sent["page"] += 1
        with self.client.get(page, name=name, timeout=60, catch_response=True) as r:
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code}")
                raise PageFailed(name)

    def _post(self, name: str, body: dict[str, Any], params: dict[str, str]) -> Any:
        RUN.sent["callback"] += 1
        with self.client.post("/_dash-update-component", json=body, params=params, name=name, timeout=120,
                              catch_response=True) as r:
            if r.status_code == 204:
                return None
            if r.status_code != 200:
                r.failure(f"HTTP {r.status_code} {r.text[:120]}")
                raise PageFailed(name)
            return r.json()

    def visit(self, page: str) -> None:
        assert RUN.site is not None, "the site is read when the test starts (local runner only)"
        t0 = time.perf_counter()
        try:
            steps = load_page(RUN.site, page, self._get, self._post, gevent.sleep, POLL_LIMIT_SECONDS)
        except PageFailed:
            return
        except RuntimeError as exc:  # a background callback that never answered
            _request(self.environment, "PAGE", f"{page} load", time.perf_counter() - t0, exc)
            return
        _request(self.environment, "PAGE", f"{page} load", steps["load"])
        _request(self.environment, "PAGE", f"{page} total", steps["total"])
