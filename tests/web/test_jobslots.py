"""Background jobs run at most CHASQUI_MAX_JOBS at a time per host; the others wait as light processes,
and the slot of a job that was killed is taken back."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import diskcache
import psutil
import pytest

from tests.conftest import ROOT
from web import jobslots
from web.settings import Settings, SettingsError

# A job function as Dash builds it: called with (result_key, progress_key, args, context) once the slot is
# ours; it notes when it ran, which heavy modules were already loaded when it started, then works a while.
JOB = '''
def job(result_key, progress_key, args, context):
    import json, sys, time
    t0 = time.time()
    heavy = [m for m in ("polars", "sklearn", "pandas") if m in sys.modules]
    time.sleep(args["seconds"])
    with open(args["log"], "a") as fh:
        fh.write(json.dumps({"key": result_key, "start": t0, "end": time.time(), "heavy": heavy}) + "\\n")
'''


def _payload() -> bytes:
    import dill

    ns: dict = {}
    exec(JOB, ns)  # a function defined here, pickled by value as Dash's nested job function is
    return dill.dumps(ns["job"], recurse=True)


def _start(cache_dir: Path, limit: int, key: str, log: Path, seconds: float) -> subprocess.Popen:
    code = ("import sys, json; from web import jobslots; "
            "a = json.loads(sys.argv[1]); "
            "jobslots.run_when_free(a['dir'], a['limit'], bytes.fromhex(a['payload']), a['key'], a['key'] + '-p', "
            "{'seconds': a['seconds'], 'log': a['log']}, {})")
    arg = json.dumps({"dir": str(cache_dir), "limit": limit, "payload": _payload().hex(), "key": key,
                      "seconds": seconds, "log": str(log)})
    return subprocess.Popen([sys.executable, "-c", code, arg], cwd=ROOT, env={"PYTHONPATH": str(ROOT)})


def test_at_most_limit_jobs_run_at_once_and_waiters_stay_light(tmp_path: Path):
    cache_dir, log = tmp_path / "bg", tmp_path / "runs.jsonl"
    diskcache.Cache(str(cache_dir)).close()
    procs = [_start(cache_dir, 2, f"job{i}", log, 1.0) for i in range(5)]
    try:
        time.sleep(0.6)
        waiting = [p for p in procs if p.pid not in jobslots.holders(diskcache.Cache(str(cache_dir)))]
        assert len(waiting) >= 3
        for p in waiting:  # a waiter is a bare interpreter: no polars/sklearn loaded, a few tens of MB
            rss_mb = psutil.Process(p.pid).memory_info().rss / 2**20
            assert rss_mb < 120, rss_mb
        for p in procs:
            assert p.wait(60) == 0
    finally:
        for p in procs:
            p.kill()
    runs = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(r["key"] for r in runs) == [f"job{i}" for i in range(5)]
    events = sorted([(r["start"], 1) for r in runs] + [(r["end"], -1) for r in runs], key=lambda e: (e[0], e[1]))
    running, most = 0, 0
    for _, step in events:
        running += step
        most = max(most, running)
    assert most == 2  # never more than the limit, and the limit was used
    assert all(r["heavy"] == [] for r in runs)
    assert jobslots.holders(diskcache.Cache(str(cache_dir))) == []  # every slot given back


def test_a_killed_job_gives_its_slot_back(tmp_path: Path):
    cache = diskcache.Cache(str(tmp_path / "bg"))
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        assert jobslots.try_acquire(cache, 1, pid=sleeper.pid)
        assert not jobslots.try_acquire(cache, 1)  # full
        assert jobslots.holders(cache) == [sleeper.pid]
        sleeper.kill()  # cancelled (Dash's terminate_job kills the process)
        sleeper.wait(10)
        assert jobslots.try_acquire(cache, 1)  # its slot is free again
        assert jobslots.holders(cache) == [__import__("os").getpid()]
        jobslots.release(cache)
        assert jobslots.holders(cache) == []
    finally:
        sleeper.kill()


def test_max_jobs_setting():
    assert Settings.from_env({"CHASQUI_MAX_JOBS": "3"}).max_jobs == 3
    assert Settings().max_jobs == 0 and jobslots.default_limit() >= 2
    with pytest.raises(SettingsError, match="CHASQUI_MAX_JOBS"):
        Settings.from_env({"CHASQUI_MAX_JOBS": "-1"})


# A job that reports what its process had when it started: modules already imported, its parent, one variable of
# the environment, its working folder, and what it was given.
REPORT = '''
def job(result_key, progress_key, args, context):
    import json, os, sys
    report = {"preloaded": [m for m in ("callbacks.segments", "sklearn.cluster", "scipy.optimize", "polars")
                            if m in sys.modules],
              "parent": open(f"/proc/{os.getppid()}/cmdline", "rb").read().decode(errors="replace"),
              "probe": os.environ.get("CHASQUI_PROBE"), "cwd": os.getcwd(), "key": result_key,
              "progress_key": progress_key, "args": args, "context": context}
    with open(args["out"] + ".tmp", "w") as fh:
        json.dump(report, fh)
    os.replace(args["out"] + ".tmp", args["out"])
'''


def _report_job():
    ns: dict = {}
    exec(REPORT, ns)  # defined here, pickled by value as Dash's nested job function is
    return ns["job"]


def _report(out: Path) -> dict:
    """The report the job writes to ``out``, once it has run."""
    deadline = time.monotonic() + 120
    while not out.exists():
        assert time.monotonic() < deadline, "the job did not run"
        time.sleep(0.05)
    return json.loads(out.read_text())


def test_a_job_is_forked_with_its_imports_done_and_the_environment_of_its_start(settings, tmp_path: Path,
                                                                                 monkeypatch):
    """Jobs come from the fork server (every page's callbacks imported before the job starts: no interpreter
    and no 3-4 s of imports per job), yet each sees the environment and folder of the moment it was started;
    a job waiting for a slot shares the server's pages (it costs no more memory of its own than a spawned one)."""
    import diskcache

    from web.jobs import background_manager
    from web.runtime import RUNTIME_ENV

    monkeypatch.setenv(RUNTIME_ENV, "")  # background_manager sets it; restored after the test
    monkeypatch.delenv("CHASQUI_PROBE", raising=False)
    manager = background_manager(settings.replace(cache_dir=tmp_path / "cache", max_jobs=1))
    job = _report_job()

    def start(name: str) -> tuple[int, Path]:
        out = tmp_path / f"{name}.json"
        return manager._spawn(f"key-{name}", job, {"out": str(out)}, {"triggered_inputs": [name]}), out

    first = _report(start("first")[1])
    monkeypatch.setenv("CHASQUI_PROBE", "set after the fork server started")
    monkeypatch.chdir(tmp_path)
    cache = diskcache.Cache(manager.handle.directory)
    assert jobslots.try_acquire(cache, 1)  # the only slot is taken: the next job waits
    try:
        pid, out = start("second")
        time.sleep(1.0)
        assert not out.exists() and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        # what it holds of its own (the rest is shared with the fork server): within the bound of a bare waiter
        assert psutil.Process(pid).memory_full_info().uss / 2**20 < 120
    finally:
        jobslots.release(cache)
    second = _report(out)
    # the pages import scikit-learn and SciPy only where a model is fitted: a job has them from its fork server
    assert first["preloaded"] == second["preloaded"] == ["callbacks.segments", "sklearn.cluster", "scipy.optimize",
                                                         "polars"]
    assert "multiprocess.forkserver" in first["parent"] and second["parent"] == first["parent"]
    assert first["probe"] is None and second["probe"] == "set after the fork server started"
    assert second["cwd"] == str(tmp_path) and first["cwd"] != str(tmp_path)
    # Dash's job function gets exactly what the manager was given
    assert second["key"] == "key-second" and second["progress_key"] == manager._make_progress_key("key-second")
    assert second["args"] == {"out": str(out)} and second["context"] == {"triggered_inputs": ["second"]}


def test_the_serving_entry_points_start_the_fork_server_ahead(monkeypatch, tmp_path: Path):
    """``start_job_server`` starts the fork server (one per process) with the job imports named; gunicorn's
    worker hook calls it once the worker's app is loaded (``python app.py serve``: tests/web/test_ledger_http.py)."""
    import runpy

    from web import jobs

    pid = jobs.start_job_server()
    cmd = " ".join(psutil.Process(pid).cmdline())
    assert "multiprocess.forkserver" in cmd and all(m in cmd for m in jobs.JOB_PRELOAD)
    assert jobs.start_job_server() == pid  # one per process

    started: list[int] = []
    monkeypatch.setattr(jobs, "start_job_server", lambda: started.append(1) or pid)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "prom"))  # the config sets it; restored after
    conf = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))

    class App:
        def test_client(self):
            return type("Client", (), {"get": lambda self, path: None})()

    conf["post_worker_init"](type("Worker", (), {"wsgi": App()})())
    assert started == [1]


def test_a_fork_server_that_died_and_was_reaped_elsewhere_is_replaced(settings, tmp_path: Path, monkeypatch):
    """The fork server is killed and reaped by somebody else (gevent's child watcher does that in a gunicorn
    worker): multiprocess alone would fail every later job (its own wait for the dead server raises); the next
    job starts a new fork server and runs."""
    import os
    import signal

    from web import jobs
    from web.runtime import RUNTIME_ENV

    monkeypatch.setenv(RUNTIME_ENV, "")
    old = jobs.start_job_server()
    os.kill(old, signal.SIGKILL)
    os.waitpid(old, 0)  # reaped here, as gevent's watcher would
    manager = jobs.background_manager(settings.replace(cache_dir=tmp_path / "cache"))
    out = tmp_path / "after.json"
    manager._spawn("key-after", _report_job(), {"out": str(out)}, {})
    assert "multiprocess.forkserver" in _report(out)["parent"]
    new = jobs.start_job_server()
    assert new != old and "multiprocess.forkserver" in " ".join(psutil.Process(new).cmdline())
