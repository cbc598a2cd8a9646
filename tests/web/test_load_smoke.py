"""A few-second version of ``make loadtest`` (benchmarks/locustfile.py, headless Locust) against real gunicorn
workers, plus the request-size limit over real sockets (declared and chunked bodies) and the image's
HEALTHCHECK command."""

from __future__ import annotations

import csv
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


def test_short_load_on_gunicorn_workers(gunicorn_server, tmp_path):
    base, _, master, prom = gunicorn_server
    report = tmp_path / "load"
    cmd = loadtest.locust_command(base, users=3, duration=4.0, report=report, master_metrics=master)
    run = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    check_file = tmp_path / "load_metrics_check.json"
    if run.returncode != 0:  # the whole story, untruncated: the counter check, Locust's failures, the log's end
        failures = (tmp_path / "load_failures.csv")
        pytest.fail(f"locust exit {run.returncode}\ncheck: {check_file.read_text() if check_file.exists() else '-'}\n"
                    f"failures: {failures.read_text() if failures.exists() else '-'}\n"
                    f"stdout: {run.stdout[-4000:]}\nstderr: {run.stderr[-4000:]}", pytrace=False)
    check = json.loads(check_file.read_text())
    assert check["ok"], check  # counted by the master = sent
    with open(tmp_path / "load_stats.csv", newline="") as f:
        stats = {(r["Type"], r["Name"]): r for r in csv.DictReader(f)}
    assert int(stats[("", "Aggregated")]["Failure Count"]) == 0
    visits = sum(int(r["Request Count"]) for (kind, name), r in stats.items() if name.endswith(" GET"))
    posts = sum(int(r["Request Count"]) for (kind, name), r in stats.items() if kind == "POST")
    assert visits == check["page_visits"] >= 3  # every user finished at least its first page
    assert posts == check["callbacks_sent"] >= visits  # the page router, then the on-load callbacks
    assert int(stats[("GET", "master metrics")]["Request Count"]) >= 1
    assert int(stats[("GET", "/metrics")]["Request Count"]) == check["metrics_scrapes"] >= 1
    assert any(kind == "PAGE" and name.endswith(" load") for kind, name in stats)
    assert (tmp_path / "load.html").read_text().lstrip().lower().startswith("<!doctype html")
    # the app's /metrics and the master's port agree (both sum every worker's files)
    import httpx

    app_text, master_text = httpx.get(base + "/metrics").text, httpx.get(master).text
    total = lambda t: loadtest.metric_sum(t, "chasqui_callback_seconds_count")  # noqa: E731
    assert total(app_text) == total(master_text) == check["callbacks_sent"]
    from datetime import datetime

    line = next(ln for ln in master_text.splitlines()
                if ln.startswith('chasqui_model_trained_timestamp_seconds{model="late_risk"}'))
    assert float(line.split()[-1]) == datetime.fromisoformat("2026-11-01T12:00:00+00:00").timestamp()
    assert master_text.count("# TYPE chasqui_model_trained_timestamp_seconds gauge") == 1
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


def test_load_test_waits_for_the_masters_warm_up(tmp_path):
    """``loadtest.py --warm``: the users start once gunicorn's warm-up watcher has printed its report (one JSON line
    among the server's log lines); a server that exits first is an error, not a wait."""
    import threading
    import time

    log = tmp_path / "gunicorn.log"
    log.write_text("[INFO] Booting worker with pid: 1\n")

    class Running:
        returncode = None

        def poll(self):
            return None

    def report_later():
        time.sleep(0.5)
        with log.open("a") as f:
            f.write('{"version": "v1", "skipped": false, "seconds": {"/ overview-kpis": 0.2}, "total_seconds": 7.5}\n')

    threading.Thread(target=report_later).start()
    assert loadtest.wait_warm(log, Running(), timeout=30)["total_seconds"] == 7.5

    class Exited(Running):
        returncode = 3

        def poll(self):
            return 3

    log.write_text("[ERROR] Worker failed to boot.\n")
    with pytest.raises(RuntimeError, match="gunicorn exited with 3"):
        loadtest.wait_warm(log, Exited(), timeout=30)
