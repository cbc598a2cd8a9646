"""``make loadtest``: N Locust users browse every page of Chasqui under gunicorn, on loopback.

    python benchmarks/loadtest.py [--users 50] [--duration 60] [--workers 4] [--orders 200000]
                                  [--data-dir DIR] [--report benchmarks/out/loadtest]

Prepares the demo data and its models as ``make run`` does (unless --data-dir is given), starts
``gunicorn -c deploy/gunicorn.conf.py app:server`` on a free loopback port with the master's metrics port on,
and runs ``benchmarks/locustfile.py`` headless against it (the user flows, the /metrics scraper and the final
counter check live there); Locust writes ``REPORT.html`` and ``REPORT_stats.csv`` (+ failures, exceptions,
history) and ``REPORT_metrics_check.json``. Exits non-zero on any failed request or counter mismatch.

This module also holds what the locustfile and the tests share: how a page load looks to the server
(``Site``: the callback graph and the callbacks that fire when a page loads) and how to read the counters.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
PAGES = ("/", "/logistics", "/segments", "/scenarios", "/traceability", "/sourcing", "/demand", "/data")
PREFIX = {"/": ("overview", "live"), "/logistics": ("logistics",), "/segments": ("segments",),
          "/scenarios": ("scenarios",), "/traceability": ("trace",), "/sourcing": ("sourcing",),
          "/demand": ("demand",), "/data": ("data",)}
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


def walk(node: Any, props: dict[str, dict[str, Any]]) -> None:
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            p = node["props"]
            if isinstance(p.get("id"), str):
                props[p["id"]] = p
            walk(p.get("children"), props)
            for v in p.values():
                if isinstance(v, (dict, list)) and v is not p.get("children"):
                    walk(v, props)
        else:
            for v in node.values():
                walk(v, props)
    elif isinstance(node, list):
        for v in node:
            walk(v, props)


class Site:
    """What a browser learns once: the callback graph and which callbacks fire when a page loads."""

    def __init__(self, base: str, client: Any) -> None:
        """``client``: anything with ``get(url)`` returning a response with ``.json()`` and ``.text``."""
        self.base = base
        self.deps = client.get(base + "/_dash-dependencies").json()
        html = client.get(base + "/").text
        m = re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html, re.S)
        self.end_id = json.loads(m.group(1))["end_id"] if m else None
        # the shell's stores as a first-time browser sends them (language from the layout, no theme stored yet)
        self.shell: dict[str, dict[str, Any]] = {}
        walk(client.get(base + "/_dash-layout").json(), self.shell)

    def on_load(self, page: str, layout_props: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
        """The callbacks the renderer fires when ``page`` loads (outputs on the page, every input in its layout
        or the shell, not prevented), in Dash's dependency format."""
        known = {**self.shell, **layout_props}
        out = []
        for d in self.deps:
            outs = callback_outputs(d["output"])
            if d.get("clientside_function") or d.get("prevent_initial_call") or d["output"] == ROUTER:
                continue
            if not all(isinstance(o["id"], str) and o["id"].split("-", 1)[0] in PREFIX[page] for o in outs):
                continue
            if not all(isinstance(i["id"], str) and i["id"] in known for i in d["inputs"]):
                continue
            out.append(d)
        return out


def request_body(dep: dict[str, Any], known: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The body the renderer posts for callback ``dep`` with the current component props ``known``."""
    outs = callback_outputs(dep["output"])
    val = lambda x: known.get(x["id"], {}).get(x["property"])  # noqa: E731
    return {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
            "inputs": [{**i, "value": val(i)} for i in dep["inputs"]],
            "state": [{**s, "value": val(s)} for s in dep["state"]], "changedPropIds": []}


def load_page(site: Site, page: str, get: Callable[[str, str], Any],
              post: Callable[[str, dict[str, Any], dict[str, str]], Any],
              sleep: Callable[[float], Any] = time.sleep, poll_limit: float = 600.0) -> dict[str, float]:
    """Load ``page`` as the Dash renderer does; returns seconds per step.

    ``get(path, name)`` fetches the page (raising on failure); ``post(name, body, params)`` sends one callback
    request and returns its JSON (``None`` for 204). Steps: ``GET``, ``router`` (the layout), ``cb <output id>``
    per on-load callback (a background one until its result: polls at its interval included), ``load`` (router +
    every on-load callback: what a visitor waits for after the HTML) and ``total`` (the GET included).
    """
    out: dict[str, float] = {}
    t0 = time.perf_counter()
    get(page, f"{page} GET")
    out["GET"] = time.perf_counter() - t0
    params = {"endId": site.end_id} if site.end_id else {}
    t1 = time.perf_counter()
    router = {"output": ROUTER, "outputs": callback_outputs(ROUTER),
              "inputs": [{"id": "_pages_location", "property": "pathname", "value": page},
                         {"id": "_pages_location", "property": "search", "value": ""}],
              "state": [], "changedPropIds": ["_pages_location.pathname"]}
    layout = post(f"{page} router", router, params)
    out["router"] = time.perf_counter() - t1
    props: dict[str, dict[str, Any]] = {}
    walk(layout["response"]["_pages_content"]["children"], props)
    known = {**site.shell, **props}
    pending = site.on_load(page, props)
    while pending:  # the renderer's order: a callback waits for the ones producing its inputs, then gets their outputs
        produced = {(o["id"], o["property"]) for d in pending for o in callback_outputs(d["output"])}
        ready = [d for d in pending if not any((i["id"], i["property"]) in produced for i in d["inputs"])]
        if not ready:
            break
        for dep in ready:
            pending.remove(dep)
            name = str(callback_outputs(dep["output"])[0]["id"])
            body = request_body(dep, known)
            t_cb = time.perf_counter()
            res = post(f"{page} cb {name}", body, params)
            interval = (dep.get("background") or {}).get("interval", 1000) / 1000.0
            while dep.get("background") and res is not None and "response" not in res and "cacheKey" in res:
                sleep(interval)  # the renderer polls at the callback's interval (1 s by default)
                if time.perf_counter() - t_cb > poll_limit:
                    raise RuntimeError(f"{name}: background callback did not finish in {poll_limit:.0f} s")
                q = {**params, "cacheKey": res["cacheKey"], "job": res["job"]}
                nxt = post(f"{page} poll {name}", body, q)
                if nxt is not None and "response" in nxt:
                    res = nxt
                    break
                res = {**res, **(nxt or {})} if nxt is not None else res
            for cid, new in ((res or {}).get("response") or {}).items():
                known[cid] = {**known.get(cid, {}), **new}
            out[f"cb {name}"] = time.perf_counter() - t_cb
    now = time.perf_counter()
    out["load"] = now - t1
    out["total"] = now - t0
    return out


def metric_sum(text: str, name: str,
                exclude: tuple[str, ...] = ('path="/healthz"', 'path="/_dash-dependencies"')) -> float:
    """Sum of a metric over its labels, leaving out start-up traffic that may land late: health probes and
    each worker's warm-up request (deploy/gunicorn.conf.py, post_worker_init)."""
    total = 0.0
    for line in text.splitlines():
        if (line.startswith(name + "{") or line.startswith(name + " ")) and not any(e in line for e in exclude):
            total += float(line.rsplit(" ", 1)[1])
    return total


def slowest_callbacks(metrics_text: str, top: int = 8) -> list[tuple[float, str]]:
    """(mean ms, callback) of the slowest callbacks, from ``chasqui_callback_seconds`` sum and count."""
    slowest: dict[str, dict[str, float]] = {}
    for line in metrics_text.splitlines():
        m = re.match(r'chasqui_callback_seconds_(sum|count)\{callback="([^"]*)"\} (\S+)', line)
        if m:
            slowest.setdefault(m.group(2), {})[m.group(1)] = float(m.group(3))
    return sorted(((round(1000 * v["sum"] / v["count"], 1), k[:70]) for k, v in slowest.items()
                   if v.get("count")), reverse=True)[:top]


def locust_command(base: str, users: int, duration: float, report: Path, master_metrics: str | None = None,
                   stop_timeout: float = 120.0) -> list[str]:
    """The headless Locust run of ``benchmarks/locustfile.py`` against ``base``, reports under ``report``."""
    locust = Path(sys.executable).with_name("locust")
    cmd = [str(locust), "-f", str(ROOT / "benchmarks" / "locustfile.py"), "--headless", "--host", base,
           "-u", str(users), "-r", str(users), "-t", f"{max(1, round(duration))}s",
           "--stop-timeout", f"{stop_timeout:.0f}", "--csv", str(report), "--html", f"{report}.html",
           "--only-summary", "--loglevel", "WARNING"]
    return cmd + (["--master-metrics", master_metrics] if master_metrics else [])


def start_gunicorn(data_dir: Path, port: int, workers: int, env_extra: dict[str, str] | None = None,
                   log: Path | None = None, warm: bool = False, options: tuple[str, ...] = ()) -> subprocess.Popen:
    """gunicorn as deployed (plus command-line ``options``); ``warm``: with the master's warm-up watcher (off by
    default: a benchmark of the first visit wants nothing computed ahead of it)."""
    env = {**os.environ, "CHASQUI_DATA_DIR": str(data_dir), "CHASQUI_HOST": "127.0.0.1", "CHASQUI_WARM": str(int(warm)),
           "CHASQUI_PORT": str(port), "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0", "WEB_CONCURRENCY": str(workers),
           "PROMETHEUS_MULTIPROC_DIR": tempfile.mkdtemp(prefix="chasqui-prom-"), "CHASQUI_LOG_LEVEL": "WARNING",
           "PYTHONPATH": str(ROOT), **(env_extra or {})}
    out = open(log, "w") if log else subprocess.DEVNULL
    gunicorn = Path(sys.executable).with_name("gunicorn")
    return subprocess.Popen([str(gunicorn), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"), *options, "app:server"],
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


def wait_warm(log: Path, proc: subprocess.Popen, timeout: float = 3600) -> dict[str, Any]:
    """Wait for the master's warm-up watcher to report a finished warm-up in the gunicorn log (its JSON line)."""
    t_end = time.time() + timeout
    while time.time() < t_end:
        if proc.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {proc.returncode}")
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{") and '"total_seconds"' in line:
                return json.loads(line)
        time.sleep(1)
    raise TimeoutError(f"no warm-up finished within {timeout:.0f} s (see {log})")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=50)
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--orders", type=int, default=200_000)
    ap.add_argument("--data-dir", type=Path, default=None)
    ap.add_argument("--report", type=Path, default=ROOT / "benchmarks" / "out" / "loadtest",
                    help="prefix of Locust's CSV and HTML reports")
    ap.add_argument("--warm", action="store_true",
                    help="let gunicorn's warm-up watcher fill the result cache before the users arrive (default: cold)")
    args = ap.parse_args(argv)
    if not 1 <= args.users <= 500 or not 1 <= args.duration <= 3600:
        ap.error("--users must be 1..500 and --duration 1..3600")
    tmp = Path(tempfile.mkdtemp(prefix="chasqui-load-"))
    data_dir = args.data_dir
    if data_dir is None:  # the demo data and its models, as `make run` prepares them
        data_dir = tmp / "data"
        subprocess.run([sys.executable, str(ROOT / "app.py"), "prepare", "--data-dir", str(data_dir),
                        "--orders", str(args.orders)], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    port, mport = free_port(), free_port()
    base = f"http://127.0.0.1:{port}"
    proc = start_gunicorn(data_dir, port, args.workers, log=tmp / "gunicorn.log",
                          env_extra={"METRICS_PORT": str(mport), "METRICS_ADDR": "127.0.0.1",
                                     "PROMETHEUS_MULTIPROC_DIR": str(tmp / "prometheus")}, warm=args.warm)
    try:
        wait_ready(base, proc)
        if args.warm:
            report = wait_warm(tmp / "gunicorn.log", proc)
            print(f"warmed by gunicorn's watcher in {report['total_seconds']} s", flush=True)
        print(f"{args.users} users, {args.duration:.0f} s, {args.workers} gunicorn workers, data {data_dir}",
              flush=True)
        code = subprocess.run(locust_command(base, args.users, args.duration, args.report,
                                             f"http://127.0.0.1:{mport}/metrics"), cwd=ROOT).returncode
    finally:
        stop_gunicorn(proc)
    print(f"reports: {args.report}.html, {args.report}_stats.csv, {args.report}_metrics_check.json; "
          f"gunicorn log: {tmp / 'gunicorn.log'}")
    return code


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
