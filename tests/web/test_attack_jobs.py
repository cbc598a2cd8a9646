"""Job processes cannot fill the host: a bounded number run and wait per host and per user, refused requests
start no process and get a "busy, retry" notice, finished jobs are reaped, and job processes die with their
server. Reproduces the attack: one marketing user asking for 40 Segments runs with different dates made 40
processes; finished jobs nobody polled stayed zombies; waiting jobs outlived a killed server."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import pytest

from components import ids
from tests.conftest import ROOT
from tests.fixtures.web import basic
from web import jobslots
from web.settings import Settings, SettingsError


def _wait_until(predicate, seconds: float = 20.0, step: float = 0.1) -> bool:
    """Poll ``predicate`` until it holds (True) or ``seconds`` pass (False): a bound, not a timing claim."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


def _state(pid: int) -> str | None:
    """The /proc state letter of ``pid`` (R, S, Z, ...), None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_bytes()
    except FileNotFoundError:
        return None
    return stat[stat.rindex(b")") + 2:].split()[0].decode()


# --------------------------------------------------------------------------- one user, 40 different requests


@pytest.fixture()
def busy_app(settings, users_file, tmp_path, monkeypatch):
    """Sign-in on; at most 2 jobs running + 2 waiting per host and 3 per user. Job processes are ``sleep``
    processes (real pids that live until killed), so the limits, not the k-means, are what is measured."""
    import app as appmod
    from web.jobs import MemoManager

    started: list[subprocess.Popen] = []

    def spawn(self, key, job_fn, args, context):
        started.append(subprocess.Popen(["sleep", "60"]))
        return started[-1].pid

    monkeypatch.setattr(MemoManager, "_spawn", spawn)
    application = appmod.create_app(settings.replace(auth_file=users_file, cache_dir=tmp_path / "cache", max_jobs=2,
                                                     job_queue=2, jobs_per_user=3), start_live=False)
    yield application, started
    for p in started:
        p.kill()
        p.wait(10)


def _segments_request(app, client, user: str, day: int, lang: str = "es") -> tuple[dict, dict, dict]:
    """(body, query, first answer) of one Segments run for dates starting on ``day`` (a new job each)."""
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if ids.SEGMENTS_SUMMARY in d["output"] and d.get("background"))
    html = client.get("/segments", headers=basic(user)).get_data(as_text=True)
    end_id = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>', html,
                                  re.S).group(1))["end_id"]
    values = {(ids.SEGMENTS_K, "value"): 4, (ids.SEGMENTS_DATES, "start_date"): f"2024-01-{day:02d}",
              (ids.SEGMENTS_DATES, "end_date"): "2024-06-30", (ids.SEGMENTS_REGIONS, "value"): [],
              (ids.SEGMENTS_COMPARE, "date"): None, (ids.LANG_STORE, "data"): lang,
              (ids.THEME_STORE, "data"): "light"}
    outs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in dep["output"].strip(".").split("...")]
    body = {"output": dep["output"], "outputs": outs, "changedPropIds": [f"{ids.SEGMENTS_DATES}.start_date"],
            "inputs": [{**i, "value": values[(i["id"], i["property"])]} for i in dep["inputs"]], "state": []}
    query = {"endId": end_id}
    r = client.post("/_dash-update-component", json=body, query_string=query, headers=basic(user))
    assert r.status_code == 200, r.data[:300]
    return body, query, r.get_json()


def _poll(client, user: str, body: dict, query: dict, first: dict) -> dict:
    q = {**query, "cacheKey": first["cacheKey"], "job": first["job"]}
    r = client.post("/_dash-update-component", json=body, query_string=q, headers=basic(user))
    assert r.status_code in (200, 204)
    return r.get_json() if r.status_code == 200 else {}


def test_forty_segments_runs_from_one_user_start_three_processes_and_a_busy_notice(busy_app):
    app, started = busy_app
    c = app.server.test_client()
    answers = [_segments_request(app, c, "mia", day) for day in range(1, 41)]
    assert len(started) == 3  # CHASQUI_JOBS_PER_USER: the other 37 requests started no process at all
    busy = [a for a in answers if "sideUpdate" in (polled := _poll(c, "mia", *a)) and polled]
    assert len(busy) == 37
    body, query, first = answers[-1]
    notice = _poll(c, "mia", body, query, first)["sideUpdate"][ids.JOBS_BUSY]
    assert notice["is_open"] is True and "Ya tiene 3 cálculos" in notice["children"]
    # another user still gets a job, until the host is full (2 running + 2 waiting), then "the server is busy"
    english = app.server.test_client()
    english.set_cookie("chasqui_lang", "en")  # the notice follows the visitor's language
    ana = [_segments_request(app, english, "ana", day, lang="en") for day in range(1, 4)]
    assert len(started) == 4
    refused = _poll(english, "ana", *ana[-1])["sideUpdate"][ids.JOBS_BUSY]["children"]
    assert "The server is busy" in refused and "4 running or waiting" in refused
    assert len(jobslots.alive_jobs(app._background_manager.handle)) == 4
    # a job that ends frees its place: the next request of its user starts again
    started[0].kill()
    started[0].wait(10)
    _segments_request(app, c, "mia", 28)
    assert len(started) == 5


def test_a_refused_request_leaves_the_page_as_it_was(busy_app):
    app, started = busy_app
    c = app.server.test_client()
    c.set_cookie("chasqui_lang", "en")
    for day in range(1, 4):
        _segments_request(app, c, "mia", day)
    body, query, first = _segments_request(app, c, "mia", 20, lang="en")
    polled = _poll(c, "mia", body, query, first)
    assert polled.get("response", {}) == {}  # no output changed: no half-rendered segments
    assert "You already have 3 computations" in polled["sideUpdate"][ids.JOBS_BUSY]["children"]
    assert len(started) == 3


# --------------------------------------------------------------------------- the limits themselves


def test_admit_counts_live_processes_and_reservations(tmp_path):
    cache = diskcache.Cache(str(tmp_path / "bg"))
    limits = jobslots.JobLimits(running=1, queued=1, per_user=2)
    sleepers = [subprocess.Popen(["sleep", "60"]) for _ in range(3)]
    try:
        a = jobslots.admit(cache, "user:ana", limits)
        assert isinstance(a, str)
        jobslots.confirm(cache, a, sleepers[0].pid)
        b = jobslots.admit(cache, "user:ana", limits)
        assert isinstance(b, str)  # a reservation (its process not started yet) holds a place too
        assert jobslots.admit(cache, "user:luis", limits) == jobslots.Refusal("host", 2)
        jobslots.confirm(cache, b, sleepers[1].pid)
        sleepers[0].kill()
        sleepers[0].wait(10)  # a job that ended frees its place by itself
        c = jobslots.admit(cache, "user:luis", limits)
        assert isinstance(c, str)
        jobslots.withdraw(cache, c)  # starting it failed: the place is free again
        assert sorted(p for p, _ in jobslots.alive_jobs(cache)) == [sleepers[1].pid]
        roomy = jobslots.JobLimits(running=5, queued=5, per_user=2)
        d = jobslots.admit(cache, "user:ana", roomy)  # ana's second
        assert isinstance(d, str)
        assert jobslots.admit(cache, "user:ana", roomy) == jobslots.Refusal("user", 2)
        assert isinstance(jobslots.admit(cache, "address:10.0.0.9", roomy), str)
    finally:
        for s in sleepers:
            s.kill()


def test_job_limit_settings():
    s = Settings.from_env({"CHASQUI_MAX_JOBS": "2", "CHASQUI_JOB_QUEUE": "5", "CHASQUI_JOBS_PER_USER": "1"})
    assert (s.max_jobs, s.job_queue, s.jobs_per_user) == (2, 5, 1)
    assert (Settings().job_queue, Settings().jobs_per_user) == (-1, 3)
    from web.jobs import MemoManager

    mgr = MemoManager(diskcache.Cache(), max_jobs=2)
    assert (mgr.limits.running, mgr.limits.queued, mgr.limits.per_user) == (2, 4, 3)
    for env in ({"CHASQUI_JOB_QUEUE": "-2"}, {"CHASQUI_JOBS_PER_USER": "0"}):
        with pytest.raises(SettingsError):
            Settings.from_env(env)


# --------------------------------------------------------------------------- zombies, orphans

QUICK_JOB = '''
def job(result_key, progress_key, args, context):
    return None
'''

SERVER = '''
import json, sys, time, diskcache, dill
from web.jobs import MemoManager

ns = {}
exec(sys.argv[2], ns)
mgr = MemoManager(diskcache.Cache(sys.argv[1]), max_jobs=1)  # one runs; room for two more to wait
payload = ns["job"]
pids = [mgr.call_job_fn(f"job-{i}", payload, {"seconds": 120}, {}) for i in range(3)]
print(json.dumps(pids), flush=True)
time.sleep(600)
'''

SLEEPY_JOB = '''
def job(result_key, progress_key, args, context):
    import time
    time.sleep(args["seconds"])
'''


def test_finished_jobs_nobody_polls_are_reaped(tmp_path, rt):
    from web.jobs import MemoManager

    ns: dict = {}
    exec(QUICK_JOB, ns)
    mgr = MemoManager(diskcache.Cache(str(tmp_path / "bg")), max_jobs=2)
    pids = [mgr.call_job_fn(f"quick-{i}", ns["job"], [], {}) for i in range(3)]
    assert all(p > 0 for p in pids)
    # nobody polls them; once each has finished it must not stay behind as a zombie
    assert _wait_until(lambda: all(_state(p) is None for p in pids), seconds=60), [(p, _state(p)) for p in pids]


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the SystemExit raised below
def test_a_reaper_thread_that_died_is_replaced(tmp_path, rt):
    import ctypes
    import threading

    from web.jobs import MemoManager

    quick: dict = {}
    exec(QUICK_JOB, quick)
    sleepy: dict = {}
    exec(SLEEPY_JOB, sleepy)
    mgr = MemoManager(diskcache.Cache(str(tmp_path / "bg")), max_jobs=3)
    sleeper = mgr.call_job_fn("sleeper", sleepy["job"], {"seconds": 120}, {})  # keeps the reaper thread busy
    try:
        assert sleeper > 0
        reaper = mgr.reaper._thread
        assert reaper is not None and reaper.is_alive()
        # what dash's threaded test runner does to every thread it did not start when it stops its server
        tid, exc = ctypes.c_ulong(reaper.ident), ctypes.py_object(SystemExit)
        assert ctypes.pythonapi.PyThreadState_SetAsyncExc(tid, exc) == 1
        reaper.join(30)
        assert not reaper.is_alive()
        pids = [mgr.call_job_fn(f"after-{i}", quick["job"], [], {}) for i in range(2)]
        assert all(p > 0 for p in pids)
        assert mgr.reaper._thread is not reaper and mgr.reaper._thread in threading.enumerate()
        assert _wait_until(lambda: all(_state(p) is None for p in pids), seconds=60), [(p, _state(p)) for p in pids]
        # nobody polls them and no other job starts: only a live reaper drops them (their Process objects and
        # the pipes that report their exit) from the manager's books, or a long-running worker collects them
        assert _wait_until(lambda: not {p.pid for p in mgr.reaper._procs} & set(pids), seconds=60), \
            sorted(p.pid for p in mgr.reaper._procs)
    finally:
        if sleeper > 0:
            os.kill(sleeper, signal.SIGKILL)


def test_job_processes_die_with_their_server(tmp_path):
    cache_dir = tmp_path / "bg"
    diskcache.Cache(str(cache_dir)).close()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(cache_dir), SLEEPY_JOB], cwd=ROOT,
                              env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=subprocess.PIPE, text=True)
    try:
        pids = json.loads(server.stdout.readline())
        assert len(pids) == 3 and all(p > 0 for p in pids)
        cache = diskcache.Cache(str(cache_dir))
        assert _wait_until(lambda: len(jobslots.holders(cache)) == 1, seconds=60)  # one runs, two wait
        server.send_signal(signal.SIGKILL)  # the server dies without any chance to clean up
        server.wait(10)
        assert _wait_until(lambda: all(_state(p) in (None, "Z") for p in pids), seconds=30), \
            [(p, _state(p)) for p in pids]  # running and waiting jobs end with it (no orphans left computing)
    finally:
        server.kill()
        for p in locals().get("pids", []):
            try:
                os.kill(p, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
