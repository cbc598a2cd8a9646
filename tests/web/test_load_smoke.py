"""A few-second version of benchmarks/loadtest.py against real gunicorn workers, plus the request-size
limit over real sockets (declared and chunked bodies) and the image's HEALTHCHECK command."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys

import pytest

from analytics.datadir import DataDir
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
import loadtest

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def gunicorn_server(demo_dir, tmp_path_factory):
    work = tmp_path_factory.mktemp("gunicorn")
    data = work / "data"
    shutil.copytree(demo_dir, data, ignore=shutil.ignore_patterns(".cache"))
    DataDir(data).models.mkdir(exist_ok=True)  # a model manifest, for the model-age gauge
    (DataDir(data).models / "late_risk.skops.manifest.json").write_text(json.dumps(
        {"name": "late_risk", "sha256": "0" * 64, "created_at": "2026-11-01T12:00:00+00:00"}))
    port, mport = loadtest.free_port(), loadtest.free_port()
    proc = loadtest.start_gunicorn(data, port, workers=2, log=work / "gunicorn.log",
                                   env_extra={"CHASQUI_CACHE_DIR": str(work / "cache"), "METRICS_PORT": str(mport),
                                              "PROMETHEUS_MULTIPROC_DIR": str(work / "prometheus"),
                                              "METRICS_ADDR": "127.0.0.1"})
    base = f"http://127.0.0.1:{port}"
    try:
        loadtest.wait_ready(base, proc)
        yield base, port, f"http://127.0.0.1:{mport}/metrics", work / "prometheus"
    finally:
        loadtest.stop_gunicorn(proc)


def _raw(port: int, head: bytes, body_chunks) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head)
        try:
            for chunk in body_chunks:
                s.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered and closed before the whole body was sent: that is the point
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                part = s.recv(4096)
                if not part:
                    break
                data += part
        except ConnectionResetError:
            pass
        return data


def test_short_load_on_gunicorn_workers(gunicorn_server):
    base, _, master, prom = gunicorn_server
    figures = loadtest.run_load(base, users=3, duration=4.0, master_metrics=master)
    assert figures["n_errors"] == 0, figures["errors"]
    assert figures["metrics_check"]["ok"], figures["metrics_check"]  # counted by the master = sent
    assert figures["master_metrics_scrape"]["n"] >= 1
    # the app's /metrics and the master's port agree (both sum every worker's files)
    import httpx

    app_text, master_text = httpx.get(base + "/metrics").text, httpx.get(master).text
    total = lambda t: loadtest._metric_sum(t, "chasqui_callback_seconds_count")  # noqa: E731
    assert total(app_text) == total(master_text) == figures["requests"]["callback"]
    from datetime import datetime

    line = next(ln for ln in master_text.splitlines()
                if ln.startswith('chasqui_model_trained_timestamp_seconds{model="late_risk"}'))
    assert float(line.split()[-1]) == datetime.fromisoformat("2026-11-01T12:00:00+00:00").timestamp()
    assert master_text.count("# TYPE chasqui_model_trained_timestamp_seconds gauge") == 1
    assert figures["requests"]["callback"] > 10 and figures["metrics_scrape"]["n"] >= 1
    assert any(k.endswith(" total") for k in figures["pages"])
    # every scrape folds the files of exited processes (background jobs) into archives: none is left over
    from web.promfiles import pid_alive

    left = [p.name for p in prom.glob("*.db")
            if p.stem.rpartition("_")[2] != "archive" and not pid_alive(int(p.stem.rpartition("_")[2]))]
    assert not left, left


def test_sixty_megabyte_bodies_get_413_over_the_wire(gunicorn_server):
    _, port, _, _ = gunicorn_server
    size = 60 * 1024 * 1024
    head = (f"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {size}\r\n\r\n").encode()
    reply = _raw(port, head, (b"x" * 65536 for _ in range(16)))  # 1 MB sent; the server must not wait for 60
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    head = b"POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    chunk = b"y" * (1024 * 1024)
    chunks = (b"%x\r\n" % len(chunk) + chunk + b"\r\n" for _ in range(40))  # 40 MB > the 32 MB limit
    reply = _raw(port, head, chunks)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]


def test_dockerfile_healthcheck_command_against_the_server(gunicorn_server):
    _, port, _, _ = gunicorn_server
    text = (ROOT / "Dockerfile").read_text().replace("\\\n", " ")
    cmd = json.loads(re.search(r"HEALTHCHECK .*?CMD (\[.*\])", text).group(1))
    cmd = [sys.executable if c == "python" else c.replace("8050", str(port)) for c in cmd]
    assert subprocess.run(cmd, timeout=30).returncode == 0
