"""Bounded load test on loopback: N simulated users browse every page of Chasqui under gunicorn.

    python benchmarks/loadtest.py [--users 50] [--duration 60] [--workers 4] [--orders 200000]
                                  [--data-dir DIR] [--json]

Starts ``gunicorn -c deploy/gunicorn.conf.py app:server`` on a free loopback port with a generated
dataset (unless --data-dir is given), then each user loops over the pages in a random order, doing
what the browser does on a page load: GET the page, POST the page router callback (the layout),
then POST every callback that fires on load with the initial values taken from that layout
(background callbacks are polled to completion, as the renderer does), with a think time of
0.5–1.5 s between pages. It scrapes ``/metrics`` every 2 s during the run and finally checks that the
counters summed across workers match the requests it sent. Prints per-page p50/p95 and errors.
Not part of ``make test`` (too slow); ``tests/web/test_load_smoke.py`` runs a few-second version.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/", "/logistics", "/segments", "/scenarios", "/traceability", "/sourcing", "/data")
PREFIX = {"/": ("overview", "live"), "/logistics": ("logistics",), "/segments": ("segments",),
          "/scenarios": ("scenarios",), "/traceability": ("trace",), "/sourcing": ("sourcing",), "/data": ("data",)}
ROUTER = ".._pages_content.children..._pages_store.data.."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def callback_outputs(spec: str) -> list[dict[str, Any]]:
    """The outputs of a Dash callback from its ``output`` spec (``..a.children...b.figure..``)."""
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    out = []
    for part in parts:
        cid, prop = part.rsplit(".", 1)
        cid = cid.split("@")[0]
        out.append({"id": json.loads(cid) if cid.startswith("{") else cid, "property": prop})
    return out


def _walk(node: Any, props: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            p = node["props"]
            if isinstance(p.get("id"), str):
                props[p["id"]] = p
            _walk(p.get("children"), props)
            for v in p.values():
                if isinstance(v, (dict, list)) and v is not p.get("children"):
                    _walk(v, props)
        else:
            for v in node.values():
                _walk(v, props)
    elif isinstance(node, list):
        for v in node:
            _walk(v, props)


class Site:
    """What a browser learns once: the callback graph and which callbacks fire when a page loads."""

    def __init__(self, base: str, client: httpx.Client) -> None:
        self.base = base
        self.deps = client.get(base + "/_dash-dependencies").json()
        html = client.get(base + "/").text
        m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
        self.end_id = json.loads(m.group(1))["end_id"] if m else None

    def on_load(self, page: str, layout_props: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """Request bodies of the callbacks the renderer fires when ``page`` loads."""
        bodies = []
        shell = {"shell-lang-store": {"data": "es"}, "shell-theme-store": {"data": "light"}}
        known = {**shell, **layout_props}
        for d in self.deps:
            outs = callback_outputs(d["output"])
            if d.get("clientside_function") or d.get("prevent_initial_call") or d["output"] == ROUTER:
                continue
            if not all(isinstance(o["id"], str) and o["id"].split("-", 1)[0] in PREFIX[page] for o in outs):
                continue
            if not all(isinstance(i["id"], str) and i["id"] in known for i in d["inputs"]):
                continue
            val = lambda x: known.get(x["id"], {}).get(x["property"])  # noqa: E731
            body = {"output": d["output"], "outputs": outs if d["output"].startswith("..") else outs[0],
                    "inputs": [{**i, "value": val(i)} for i in d["inputs"]],
                    "state": [{**s, "value": val(s)} for s in d["state"]], "changedPropIds": []}
            interval = (d.get("background") or {}).get("interval", 1000) / 1000.0
            bodies.append({"body": body, "background": bool(d.get("background")), "interval": interval,
                           "name": outs[0]["id"]})
        return bodies


class Stats:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lat: dict[str, list[float]] = {}
        self.errors: list[str] = []
        self.sent: dict[str, int] = {"callback": 0, "page": 0, "other": 0}

    def add(self, key: str, seconds: float) -> None:
        with self.lock:
            self.lat.setdefault(key, []).append(seconds)

    def error(self, msg: str) -> None:
        with self.lock:
            self.errors.append(msg)

    def count(self, kind: str) -> None:
        with self.lock:
            self.sent[kind] += 1


def _post(client: httpx.Client, site: Site, body: dict[str, Any], stats: Stats, params: dict[str, str]) -> Any:
    stats.count("callback")
    r = client.post(site.base + "/_dash-update-component", json=body, params=params, timeout=120)
    if r.status_code == 204:
        return None
    if r.status_code != 200:
        raise RuntimeError(f"{body['output'][:50]}: HTTP {r.status_code} {r.text[:120]}")
    return r.json()


def visit(client: httpx.Client, site: Site, page: str, stats: Stats) -> None:
    t0 = time.perf_counter()
    stats.count("page")
    r = client.get(site.base + page, timeout=60)
    if r.status_code != 200:
        raise RuntimeError(f"GET {page}: HTTP {r.status_code}")
    stats.add(f"{page} GET", time.perf_counter() - t0)
    params = {"endId": site.end_id} if site.end_id else {}
    t1 = time.perf_counter()
    router = {"output": ROUTER, "outputs": callback_outputs(ROUTER),
              "inputs": [{"id": "_pages_location", "property": "pathname", "value": page},
                         {"id": "_pages_location", "property": "search", "value": ""}],
              "state": [], "changedPropIds": ["_pages_location.pathname"]}
    layout = _post(client, site, router, stats, params)
    props: dict[str, dict[str, Any]] = {}
    _walk(layout["response"]["_pages_content"]["children"], props)
    for cb in site.on_load(page, props):
        out = _post(client, site, cb["body"], stats, params)
        t_bg = time.perf_counter()
        while cb["background"] and out is not None and "response" not in out and "cacheKey" in out:
            time.sleep(cb["interval"])  # the renderer polls at the callback's interval (1 s by default)
            if time.perf_counter() - t_bg > 600:
                raise RuntimeError(f"{cb['name']}: background callback did not finish in 600 s")
            q = {**params, "cacheKey": out["cacheKey"], "job": out["job"]}
            nxt = _post(client, site, cb["body"], stats, q)
            if nxt is not None and "response" in nxt:
                break
            out = {**out, **(nxt or {})} if nxt is not None else out
    stats.add(f"{page} load", time.perf_counter() - t1)  # router + every on-load callback
    stats.add(f"{page} total", time.perf_counter() - t0)


def user(idx: int, site: Site, stats: Stats, stop: float, seed: int) -> None:
    rng = random.Random(seed + idx)
    with httpx.Client(http2=False) as client:
        while time.perf_counter() < stop:
            pages = list(PAGES)
            rng.shuffle(pages)
            for page in pages:
                if time.perf_counter() >= stop:
                    break
                try:
                    visit(client, site, page, stats)
                except Exception as exc:  # every failure is recorded and reported
                    stats.error(f"user {idx} {page}: {type(exc).__name__}: {exc}"[:300])
                time.sleep(rng.uniform(0.5, 1.5))


def _metric_sum(text: str, name: str,
                exclude: tuple[str, ...] = ('path="/healthz"', 'path="/_dash-dependencies"')) -> float:
    """Sum of a metric over its labels, leaving out start-up traffic that may land late: health probes and
    each worker's warm-up request (deploy/gunicorn.conf.py, post_worker_init)."""
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and not any(e in line for e in exclude):
            total += float(line.rsplit(" ", 1)[1])
    return total


def start_gunicorn(data_dir: Path, port: int, workers: int, env_extra: dict[str, str] | None = None,
                   log: Path | None = None) -> subprocess.Popen:
    env = {**os.environ, "CHASQUI_DATA_DIR": str(data_dir), "CHASQUI_HOST": "127.0.0.1",
           "CHASQUI_PORT": str(port), "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0", "WEB_CONCURRENCY": str(workers),
           "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="chasqui-prom-"), "CHASQUI_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), **(env_extra or {})}
    out = open(log, "w") if log else subprocess.DEVNULL
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen([str(gunicorn), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), "app:server"],
                            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    t_end = time.time() + timeout
    while time.time() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        try:
            if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def _scrape_stats(vals: list[float]) -> dict[str, Any]:
    if not vals:
        return {"n": 0}
    return {"n": len(vals), "p50_ms": round(1000 * statistics.median(vals), 1),
            "p95_ms": round(1000 * pct(vals, 0.95), 1), "max_ms": round(1000 * max(vals), 1)}


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(round(q * (len(s) - 1)))))]


def _scrape_metrics(base: str, master_metrics: str | None, stop: float,
                    stats: Stats) -> tuple[list[float], list[float]]:
    """Scrape /metrics (and the master's port) every 2 s until ``stop``, as Prometheus would; the seconds
    each scrape took."""
    scrape: list[float] = []
    scrape_master: list[float] = []
    with httpx.Client() as c:
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            r = c.get(base + "/metrics", timeout=30)
            scrape.append(time.perf_counter() - t0)
            stats.count("other")
            if r.status_code != 200:
                stats.error(f"/metrics HTTP {r.status_code}")
            if master_metrics:
                t0 = time.perf_counter()
                r = c.get(master_metrics, timeout=30)
                scrape_master.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    stats.error(f"master metrics HTTP {r.status_code}")
            time.sleep(2.0)
    return scrape, scrape_master


def _slowest_callbacks(metrics_text: str, top: int = 8) -> list[tuple[float, str]]:
    """(mean ms, callback) of the slowest callbacks, from ``chasqui_callback_seconds`` sum and count."""
    slowest: dict[str, dict[str, float]] = {}
    for line in metrics_text.splitlines():
        m = re.match(r'chasqui_callback_seconds_(sum|count)\{callback="([^"]*)"\} (\S+)', line)
        if m:
            slowest.setdefault(m.group(2), {})[m.group(1)] = float(m.group(3))
    return sorted(((round(1000 * v["sum"] / v["count"], 1), k[:70]) for k, v in slowest.items()
                   if v.get("count")), reverse=True)[:top]


def run_load(base: str, users: int, duration: float, seed: int = 7, master_metrics: str | None = None
             ) -> dict[str, Any]:
    """Drive ``users`` simulated users for ``duration`` s against a running server; returns figures.

    ``master_metrics``: the gunicorn master's metrics URL (METRICS_PORT), scraped side by side with /metrics.
    At the end the request and callback counters summed across workers are checked against what was sent.
    """
    stats = Stats()
    with httpx.Client() as c:
        site = Site(base, c)
        # warm each worker's table cache once (not measured), as a rolling deploy's readiness phase would
        before = _metric_sum(c.get(base + "/metrics").text, "chasqui_http_requests_total")
    stats.sent["other"] += 3
    stop = time.perf_counter() + duration
    threads = [threading.Thread(target=user, args=(i, site, stats, stop, seed), daemon=True) for i in range(users)]
    for t in threads:
        t.start()
    scrape, scrape_master = _scrape_metrics(base, master_metrics, stop, stats)
    for t in threads:
        t.join(timeout=180)
    time.sleep(0.5)
    with httpx.Client() as c:
        # the master's scrapes are not app requests: nothing is counted for them
        final = c.get(master_metrics or base + "/metrics", timeout=30).text
    counted = _metric_sum(final, "chasqui_http_requests_total") - before
    sent_after_before = stats.sent["page"] + stats.sent["callback"] + len(scrape) + 1  # + the "before" scrape
    cb_count = _metric_sum(final, "chasqui_callback_seconds_count")
    pages = {key: _scrape_stats(vals) for key, vals in sorted(stats.lat.items())}
    return {"users": users, "duration_s": duration, "errors": stats.errors[:20], "n_errors": len(stats.errors),
            "requests": stats.sent, "pages": pages, "slowest_callbacks_mean_ms": _slowest_callbacks(final),
            "metrics_scrape": _scrape_stats(scrape), "master_metrics_scrape": _scrape_stats(scrape_master),
            "metrics_check": {"http_requests_counted": counted, "http_requests_sent": sent_after_before,
                              "callbacks_counted_total": cb_count,
                              "callbacks_sent": stats.sent["callback"],
                              "ok": abs(counted - sent_after_before) < 0.5
                              and abs(cb_count - stats.sent["callback"]) < 0.5}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    args = ap.parse_args(argv)
    if not 1 <= args.users <= 500 or not 1 <= args.duration <= 3600:
        ap.error("--users must be 1..500 and --duration 1..3600")
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-load-"))
    data_dir = args.data_dir
    if data_dir is None:  # the demo data and its models, as `make run` prepares them
        data_dir = tmp / "data"
        subprocess.run([sys.executable, str(ROOT / "app.py"), "prepare", "--data-dir", str(data_dir),
                        "--orders", str(args.orders)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    port, mport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(data_dir, port, args.workers, log=tmp / "gunicorn.log",
                          env_extra={"METRICS_PORT": str(mport), "METRICS_ADDR": "127.0.0.1",
                                     "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")})
    try:
        wait_ready(base, proc)
        figures = run_load(base, args.users, args.duration, master_metrics=f"http://127.0.0.1:{mport}/metrics")
    finally:
        stop_gunicorn(proc)
    figures.update({"workers": args.workers, "orders": args.orders if args.data_dir is None else None,
                    "gunicorn_log": str(tmp / "gunicorn.log")})
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"{args.users} users, {args.duration:.0f} s, {args.workers} gunicorn workers: "
              f"{figures['requests']} requests, {figures['n_errors']} errors")
        for key, v in figures["pages"].items():
            print(f"  {key:<22} n={v['n']:<5} p50={v['p50_ms']:>8} ms  p95={v['p95_ms']:>8} ms  max={v['max_ms']} ms")
        print(f"  /metrics scrape (app port): {figures['metrics_scrape']}")
        print(f"  metrics scrape (master METRICS_PORT): {figures['master_metrics_scrape']}")
        for ms, name in figures["slowest_callbacks_mean_ms"]:
            print(f"  callback mean {ms:>9} ms  {name}")
        print(f"  metrics check: {figures['metrics_check']}")
        for e in figures["errors"]:
            print("  error:", e)
    return 0 if figures["n_errors"] == 0 and figures["metrics_check"]["ok"] else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
