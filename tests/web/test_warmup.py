"""The result-cache warm-up (web.warmup): a page's first visit after it is answered from the store, background
callbacks included (no job process), once per data version."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest

from benchmarks.loadtest import Site, load_page


class _Client:
    """A Flask test client shaped as the load test's HTTP client (``get(url).json()`` / ``.text``)."""

    def __init__(self, app: Any) -> None:
        self.client = app.server.test_client()

    def get(self, url: str) -> Any:
        r = self.client.get(url.removeprefix("http://app"))

        class Response:
            text = r.get_data(as_text=True)
            status_code = r.status_code

            @staticmethod
            def json() -> Any:
                return r.get_json()

        return Response()


def _visit(app: Any, page: str) -> dict[str, dict[str, Any]]:
    """Load ``page`` as the renderer does; returns the props every callback response set."""
    wrapped = _Client(app)
    site = Site("http://app", wrapped)
    seen: dict[str, dict[str, Any]] = {}

    def get(path: str, name: str) -> None:
        assert wrapped.client.get(path).status_code == 200, name

    def post(name: str, body: dict[str, Any], params: dict[str, str]) -> Any:
        r = wrapped.client.post("/_dash-update-component", json=body, query_string=params)
        assert r.status_code in (200, 204), (name, r.status_code, r.get_data(as_text=True)[:300])
        out = None if r.status_code == 204 else r.get_json()
        for cid, props in ((out or {}).get("response") or {}).items():
            seen.setdefault(cid, {}).update(props)
        return out

    load_page(site, page, get, post, sleep=lambda s: None)
    return seen


@pytest.fixture()
def warm_app(settings, tmp_path: Path, app_factory):
    s = settings.replace(cache_dir=tmp_path / "cache")
    return app_factory(s, start_live=False), s


def test_warmed_pages_are_answered_from_the_store(warm_app, monkeypatch):
    from components import ids
    from web import warmup
    from web.jobs import MemoManager

    app, s = warm_app
    assert not warmup.is_warm()
    report = warmup.warm(app, s, pages=("/", "/segments"))
    assert not report.skipped and report.failed == {}
    warmed = " ".join(report.seconds)
    assert ids.OVERVIEW_KPIS in warmed and ids.SEGMENTS_SUMMARY in warmed and "/logistics" not in warmed
    assert warmup.is_warm()
    assert warmup.warm(app, s, pages=("/", "/segments")).skipped  # once per data version
    # a visitor now: nothing is computed again, no job process is started
    spawned: list[int] = []
    monkeypatch.setattr(MemoManager, "_spawn", lambda self, *a: spawned.append(1) or pytest.fail("job spawned"))
    monkeypatch.setattr("callbacks.overview.overview", lambda *a, **k: pytest.fail("overview computed again"))
    home = _visit(app, "/")
    assert "60,000" in json.dumps(home[ids.OVERVIEW_KPIS]["children"])
    seg = _visit(app, "/segments")
    summary = json.dumps(seg[ids.SEGMENTS_SUMMARY]["children"])
    assert re.search(r"k = \d+", summary) and seg[ids.SEGMENTS_CURVES]["figure"]["data"]
    assert spawned == []


def test_a_new_data_version_is_not_warm(warm_app, writable_demo_dir: Path):
    from web import warmup
    from web.runtime import configure

    app, s = warm_app
    s = s.replace(data_dir=writable_demo_dir)
    configure(s)
    warmup.warm(app, s, pages=("/data",))
    assert warmup.is_warm()
    orders = writable_demo_dir / "orders.parquet"
    st = orders.stat()
    os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # an import rewrote the orders
    assert not warmup.is_warm()


def test_watcher_starts_one_warm_up_per_data_version(warm_app, monkeypatch):
    from web import warmup

    app, s = warm_app
    started: list[Any] = []

    class Proc:
        def poll(self) -> int | None:
            return 0

    monkeypatch.setattr(warmup.subprocess, "Popen", lambda *a, **k: started.append((a, k)) or Proc())
    w = warmup.Watcher(s)
    assert w.check() is not None and len(started) == 1
    (cmd,), kw = started[0]
    assert cmd[-2:] == ["warm", "--from-runtime-env"] and "PROMETHEUS_MULTIPROC_DIR" not in kw["env"]
    assert json.loads(kw["env"]["CHASQUI_RUNTIME_SETTINGS"])["data_dir"] == str(s.data_dir)
    warmup.warm(app, s, pages=("/data",))  # the warm-up ran: the version is marked
    assert w.check() is None and len(started) == 1


def test_a_stopped_or_dead_warm_up_does_not_mark_the_version(warm_app):
    import subprocess
    import sys

    from web import jobslots, warmup
    from web.runtime import runtime

    app, s = warm_app
    report = warmup.warm(app, s, pages=("/", "/data"), should_stop=lambda: True)  # its server went away
    assert report.stopped and report.seconds == {} and not warmup.is_warm()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    started = jobslots.process_started(dead.pid)
    dead.wait(10)
    runtime().results.set(warmup.marker(), {"pid": dead.pid, "started": started})  # a warm-up killed half-way
    assert not warmup.is_warm()
    report = warmup.warm(app, s, pages=("/data",))
    assert not report.skipped and report.seconds and warmup.is_warm()


def _warm_state(settings: Any) -> Any:
    """The warm-up marker of the current data version for these settings (a dict, or None)."""
    from web import warmup
    from web.runtime import configure

    configure(settings)
    return warmup.runtime().results.get(warmup.marker())


def _gone(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return True
    return state == "Z"  # ended, waiting for whoever adopted it to reap it


def test_warm_watch_warms_each_data_version_and_ends_with_its_parent(writable_demo_dir: Path, tmp_path: Path):
    """``app.py warm --watch`` (what gunicorn's master starts): warms the current data version, warms again after the
    data changes, and ends once the process that started it is gone."""
    import subprocess
    import sys
    import time

    from dash.testing.wait import until

    from tests.conftest import ROOT
    from web.settings import Settings

    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    env.update(CHASQUI_DATA_DIR=str(writable_demo_dir), CHASQUI_CACHE_DIR=str(tmp_path / "cache"),
               CHASQUI_LIVE="0", CHASQUI_DEMO_FEED="0")
    settings = Settings.from_env(env).replace(auth_file=None, oidc_issuer=None)
    starter = ("import subprocess, sys; p = subprocess.Popen([sys.executable, 'app.py', 'warm', '--watch', '0.5', "
               "'--page', '/data']); print(p.pid, flush=True); sys.stdin.read()")
    parent = subprocess.Popen([sys.executable, "-c", starter], cwd=ROOT, env=env, stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    watcher = int(parent.stdout.readline())
    try:
        until(lambda: "finished" in (_warm_state(settings) or {}), timeout=120)
        first = _warm_state(settings)
        orders = writable_demo_dir / "orders.parquet"
        st = orders.stat()
        os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # an import rewrote the orders
        changed = time.time()
        assert _warm_state(settings) is None  # a new data version, not warm yet
        until(lambda: "finished" in (_warm_state(settings) or {}), timeout=60)
        second = _warm_state(settings)
        assert first["warmed"] >= 1 and second["warmed"] == first["warmed"] and second["finished"] > changed
        assert not _gone(watcher)  # the one watcher warmed both versions and still looks
    finally:
        parent.stdin.close()  # its parent ends: the watcher is handed to another parent and stops
        parent.wait(30)
    t_end = time.time() + 30
    while not _gone(watcher) and time.time() < t_end:
        time.sleep(0.2)
    assert _gone(watcher)


def test_gunicorn_master_starts_the_watcher_and_stops_it(tmp_path: Path):
    """``deploy/gunicorn.conf.py``: when ready, the master starts ``app.py warm --watch 60`` (not with
    ``CHASQUI_WARM=0``), without the metrics folder in its environment, and stops it on exit."""
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import json, runpy, subprocess\n"
            "calls = []\n"
            "class Proc:\n"
            "    pid = 4242\n"
            "    def poll(self): return None\n"
            "    def terminate(self): calls.append('terminate')\n"
            "    def wait(self, timeout=None): return 0\n"
            "subprocess.Popen = lambda cmd, **kw: calls.append([cmd, 'PROMETHEUS_MULTIPROC_DIR' in kw['env']]) or Proc()\n"
            "conf = runpy.run_path('deploy/gunicorn.conf.py')\n"
            "class Server:\n"
            "    class log:\n"
            "        info = staticmethod(lambda *a: None)\n"
            "conf['when_ready'](Server)\n"
            "conf['on_exit'](Server)\n"
            "print(json.dumps(calls))\n")
    base = {k: v for k, v in os.environ.items() if k != "METRICS_PORT"}
    base["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "prom")
    runs = {}
    for warm in ("1", "0"):
        out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env={**base, "CHASQUI_WARM": warm},
                             capture_output=True, text=True, timeout=60, check=True)
        runs[warm] = json.loads(out.stdout.strip().splitlines()[-1])
    (cmd, has_metrics_dir), stopped = runs["1"]
    assert cmd[0] == sys.executable and cmd[1].endswith("app.py") and cmd[2:] == ["warm", "--watch", "60.0"]
    assert has_metrics_dir is False and stopped == "terminate"
    assert runs["0"] == []


def test_a_failed_look_does_not_end_the_watching(warm_app, monkeypatch):
    """``warm --watch``: a look that fails (a cache still busy after its wait) is logged and tried again later."""
    import sqlite3

    from web import cli, warmup

    app, s = warm_app
    looks: list[int] = []

    def flaky() -> bool:
        looks.append(1)
        if len(looks) == 1:
            raise sqlite3.OperationalError("database is locked")
        return True  # warm: nothing to do

    monkeypatch.setattr(warmup, "is_warm", flaky)
    assert cli._watch_and_warm(app, s, ("/data",), 0.1, lambda: len(looks) >= 3) == 0
    assert len(looks) == 3
