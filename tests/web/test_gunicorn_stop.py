"""gunicorn (the README's production command) stops promptly although clients hold idle keep-alive connections,
and a request in progress when the stop comes is still answered (then its connection is closed)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from components import ids
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def _read_response(s: socket.socket) -> bytes:
    s.settimeout(30)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"content-length:\s*(\d+)", head, re.I)
        if sep and m and len(body) >= int(m.group(1)):
            return data


def test_sigterm_closes_idle_keepalives_and_finishes_the_request_in_progress(demo_dir, tmp_path):
    port, prom = free_port(), tmp_path / "prom"
    env = {**os.environ, "CHASQUI_DATA_DIR": str(demo_dir), "CHASQUI_CACHE_DIR": str(tmp_path / "cache"),
           "CHASQUI_HOST": "127.0.0.1", "CHASQUI_PORT": str(port), "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0",
           "CHASQUI_WARM": "0", "WEB_CONCURRENCY": "1", "PROMETHEUS_MULTIPROC_DIR": str(prom),
           "PYTHONPATH": str(ROOT)}
    log = tmp_path / "gunicorn.log"
    proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "deploy/gunicorn.conf.py",
                             "app:server"], cwd=ROOT, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        # two clients idle between requests, as browsers holding the app open do (keepalive is 65 s)
        idle = [httpx.Client(base_url=base, timeout=10) for _ in range(2)]
        for c in idle:
            r = c.get("/healthz")
            assert r.status_code == 200 and r.headers["connection"].lower() == "keep-alive"
        # a callback request whose body is still on its way when the stop comes
        nav = next(d for d in httpx.get(base + "/_dash-dependencies", timeout=10).json()
                   if d["output"] == f"{ids.NAVBAR_COLLAPSE}.is_open")
        body = json.dumps({"output": nav["output"], "outputs": {"id": ids.NAVBAR_COLLAPSE, "property": "is_open"},
                           "inputs": [{**nav["inputs"][0], "value": 1}], "state": [{**nav["state"][0], "value": False}],
                           "changedPropIds": []}).encode()
        slow = socket.create_connection(("127.0.0.1", port), timeout=30)
        slow.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        time.sleep(1.0)  # the worker is inside the request, reading its body

        stopped_at = time.monotonic()
        os.killpg(proc.pid, signal.SIGTERM)
        time.sleep(1.0)
        slow.sendall(body[10:])
        answer = _read_response(slow)
        head = answer.split(b"\r\n\r\n", 1)[0].decode().lower()
        assert head.startswith("http/1.1 200"), answer[:500]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["response"][ids.NAVBAR_COLLAPSE]["is_open"] is True
        assert slow.recv(1) == b""  # answered, then closed by the server rather than kept for a next request
        # gunicorn ends without waiting out graceful_timeout (30 s) for the idle connections: it closed them
        proc.wait(20)
        assert proc.returncode == 0, log.read_text()[-3000:]
        assert time.monotonic() - stopped_at < 20
        for c in idle:
            try:
                c.get("/healthz")
            except httpx.HTTPError:
                pass  # the connection was closed by the server, and nothing listens any more
            else:
                raise AssertionError("a request was answered after gunicorn stopped")
        assert "Socket error" not in log.read_text()  # the idle connections ended as after a client's close
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
