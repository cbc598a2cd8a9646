"""Slow clients against the production entry point the README gives (``gunicorn -c deploy/gunicorn.conf.py
app:server``): 16 connections dribbling a POST body and 17 dribbling their headers, held open while the health
check, a page, a callback and a background job (Segments) are asked for. With threaded workers (4 × 4 threads)
the health check stopped answering for as long as the slow clients held on. Also: gunicorn believes
``X-Forwarded-Proto`` only when ``CHASQUI_TRUST_PROXY`` says a proxy is in front (no HSTS over plain HTTP)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from components import ids
from tests.conftest import ROOT
from tests.fixtures.web import gunicorn, navbar_toggle

pytestmark = pytest.mark.slow

HOLD_SECONDS = 40.0  # how long the slow clients keep dribbling (longer than everything asked meanwhile)
ANSWER_WITHIN = 10.0  # a request that gets no answer in this long counts as stalled (the attack made it > 15 s)


@pytest.fixture(scope="module")
def entry_point(demo_dir, tmp_path_factory):
    """The README's command, on a loopback port: 2 workers, sign-in off, trust no proxy."""
    work = tmp_path_factory.mktemp("slow")
    data = work / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".cache"))
    with gunicorn(data, work, workers=2) as g:
        yield g.base, g.port


class SlowClients:
    """``bodies`` connections that declared a 1 MB POST body and send it a byte every 2 s, and ``headers``
    connections that send one header line every 2 s and never finish; all closed by ``stop``."""

    def __init__(self, port: int, bodies: int = 16, headers: int = 17) -> None:
        self.port, self.stop_at = port, time.monotonic() + HOLD_SECONDS
        self.socks: list[socket.socket] = []
        self.sent = 0
        self.threads = [threading.Thread(target=self._body, daemon=True) for _ in range(bodies)]
        self.threads += [threading.Thread(target=self._headers, daemon=True) for _ in range(headers)]

    def _open(self, head: bytes) -> socket.socket:
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        self.socks.append(s)
        s.sendall(head)
        return s

    def _dribble(self, s: socket.socket, piece: bytes) -> None:
        while time.monotonic() < self.stop_at:
            try:
                s.sendall(piece)
                self.sent += 1
            except OSError:
                return
            time.sleep(2)

    def _body(self) -> None:
        self._dribble(self._open(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\n"
                                 b"Content-Type: application/json\r\nContent-Length: 1048576\r\n\r\n"), b"[")

    def _headers(self) -> None:
        self._dribble(self._open(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"), b"X-Slow: 1\r\n")

    def __enter__(self) -> SlowClients:
        for t in self.threads:
            t.start()
        time.sleep(3)  # every connection open and dribbling before anything else is asked
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop_at = 0
        for s in self.socks:
            s.close()


def _segments_job(base: str) -> dict:
    """Open /segments as a browser does and run its background job to the end (polling)."""
    c = httpx.Client(base_url=base, timeout=ANSWER_WITHIN)
    deps = c.get("/_dash-dependencies").json()
    dep = next(d for d in deps if ids.SEGMENTS_SUMMARY in d["output"] and d.get("background"))
    html = c.get("/segments").text
    end_id = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))["end_id"]
    values = {(ids.SEGMENTS_K, "value"): 4, (ids.SEGMENTS_DATES, "start_date"): "2024-02-03",
              (ids.SEGMENTS_DATES, "end_date"): "2024-11-30", (ids.SEGMENTS_REGIONS, "value"): [],
              (ids.SEGMENTS_COMPARE, "date"): None, (ids.LANG_STORE, "data"): "es", (ids.THEME_STORE, "data"): "light"}
    outs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in dep["output"].strip(".").split("...")]
    body = {"output": dep["output"], "outputs": outs, "changedPropIds": [],
            "inputs": [{**i, "value": values[(i["id"], i["property"])]} for i in dep["inputs"]], "state": []}
    first = c.post("/_dash-update-component", json=body, params={"endId": end_id}).json()
    for _ in range(600):
        r = c.post("/_dash-update-component", json=body,
                   params={"endId": end_id, "cacheKey": first["cacheKey"], "job": first["job"]})
        if r.status_code == 200 and "response" in r.json():
            return r.json()["response"]
        time.sleep(0.2)
    raise AssertionError("the Segments job did not finish")


def test_health_pages_callbacks_and_jobs_answer_while_slow_clients_hold_on(entry_point):
    base, port = entry_point
    job: dict = {}
    with SlowClients(port) as slow:
        runner = threading.Thread(target=lambda: job.update(_segments_job(base)), daemon=True)
        runner.start()
        for _ in range(5):
            r = httpx.get(base + "/healthz", timeout=ANSWER_WITHIN)
            assert r.status_code == 200 and r.json()["status"] == "ok"
            time.sleep(0.5)
        page = httpx.get(base + "/logistics", timeout=ANSWER_WITHIN)
        assert page.status_code == 200 and "_dash-config" in page.text
        deps = httpx.get(base + "/_dash-dependencies", timeout=ANSWER_WITHIN).json()
        r = httpx.post(base + "/_dash-update-component", timeout=ANSWER_WITHIN, json=navbar_toggle(deps))
        assert r.status_code == 200 and r.json()["response"][ids.NAVBAR_COLLAPSE]["is_open"] is True
        runner.join(HOLD_SECONDS)
        assert slow.sent > 33 and time.monotonic() < slow.stop_at  # the slow clients were still dribbling
    assert ids.SEGMENTS_SUMMARY in job and job[ids.SEGMENTS_CURVES]["figure"]["data"]  # background job, under gevent


def test_forwarded_proto_from_loopback_is_not_believed_without_a_trusted_proxy(entry_point):
    base, _ = entry_point
    r = httpx.get(base + "/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"})
    assert r.status_code == 200
    assert "strict-transport-security" not in r.headers  # plain HTTP: no HSTS, whatever a client claims


@pytest.mark.parametrize("trust, expected", [(None, ""), ("0", ""), ("1", "*"), ("2", "*")])
def test_gunicorn_trusts_forwarded_headers_only_with_chasqui_trust_proxy(trust, expected):
    code = ("import json, runpy; c = runpy.run_path('deploy/gunicorn.conf.py'); "
            "print(json.dumps([c['forwarded_allow_ips'], c['worker_class']]))")
    env = {k: v for k, v in os.environ.items() if k not in ("CHASQUI_TRUST_PROXY", "FORWARDED_ALLOW_IPS")}
    if trust is not None:
        env["CHASQUI_TRUST_PROXY"] = trust
    env["PROMETHEUS_MULTIPROC_DIR"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / f"chasqui-prom-conf-{os.getpid()}")
    r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    allow, worker = json.loads(r.stdout)
    assert allow == expected and worker == "web.gunicorn_worker.ChasquiGeventWorker"
    if trust == "1":
        env["FORWARDED_ALLOW_IPS"] = "10.0.0.2"
        r = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert json.loads(r.stdout)[0] == "10.0.0.2"
