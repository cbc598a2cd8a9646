"""Callback results cached by input (web.jobs): computed once per inputs + data version, shared
across threads without a stampede, background callbacks answered without spawning a job."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from analytics import storage
from analytics.datadir import DataDir


@pytest.fixture()
def memo_rt(writable_demo_dir: Path, tmp_path: Path):
    from web.runtime import configure
    from web.settings import Settings

    return configure(Settings(data_dir=writable_demo_dir, live=False, demo_feed=False,
                              cache_dir=tmp_path / "cache"))


@pytest.fixture()
def sleeping_jobs(tmp_path: Path, memo_rt, monkeypatch):
    """A MemoManager whose jobs are ``sleep 60`` processes (real pids to share, count and kill), the key of
    a memoized background callback, and the list of processes started; all killed afterwards."""
    import subprocess

    import diskcache

    from web.jobs import MemoManager, memo_background

    mgr = MemoManager(diskcache.Cache(str(tmp_path / "bg")))

    @memo_background
    def marked(a):
        return a

    jobs: list[subprocess.Popen] = []
    monkeypatch.setattr(MemoManager, "_spawn",
                        lambda self, *a: jobs.append(subprocess.Popen(["sleep", "60"])) or jobs[-1].pid)
    yield mgr, mgr.build_cache_key(marked, [7], [], None), jobs
    for j in jobs:
        j.kill()
        j.wait(10)


@pytest.fixture()
def waits(monkeypatch) -> list[float]:
    """The sleeps of ``memoized``'s waiting loop (web.jobs' clock, real time otherwise): a caller that waited
    for a lock shows up here, whatever the machine's speed. More than 5 means it is stuck: fail, do not hang."""
    from types import SimpleNamespace

    from web import jobs

    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) > 5:
            raise AssertionError(f"memoized kept waiting for a lock ({len(slept)} sleeps)")
        time.sleep(seconds)

    monkeypatch.setattr(jobs, "time", SimpleNamespace(monotonic=time.monotonic, sleep=sleep))
    monkeypatch.setattr(jobs, "WAIT_SECONDS", 3600.0)  # giving up on the lock cannot explain an answer
    return slept


def test_data_version_follows_every_data_file_but_not_the_cache(writable_demo_dir: Path):
    cache = DataDir(writable_demo_dir).cache.root
    cache.mkdir()
    v0 = storage.data_version(writable_demo_dir, skip=(cache,))
    assert v0 == storage.data_version(writable_demo_dir, skip=(cache,))
    (cache / "results.db").write_bytes(b"x" * 10)
    other = writable_demo_dir / "elsewhere-cache"
    other.mkdir()
    (other / "x").write_text("1")
    assert storage.data_version(writable_demo_dir, skip=(cache, other)) == v0
    orders = writable_demo_dir / "orders.parquet"
    st = orders.stat()
    os.utime(orders, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    v1 = storage.data_version(writable_demo_dir, skip=(cache, other))
    assert v1 != v0
    DataDir(writable_demo_dir).models.mkdir(exist_ok=True)
    (DataDir(writable_demo_dir).models / "new.json").write_text("{}")
    assert storage.data_version(writable_demo_dir, skip=(cache, other)) not in (v0, v1)
    assert storage.data_version(writable_demo_dir / "nope") == "missing"


def test_memoized_computes_once_per_inputs_and_data_version(memo_rt, writable_demo_dir: Path):
    from web.jobs import memoized

    calls: list[tuple] = []

    @memoized
    def cb(a, b):
        calls.append((a, b))
        return {"sum": a + b, "n": len(calls)}

    assert cb(1, 2) == {"sum": 3, "n": 1}
    assert cb(1, 2) == {"sum": 3, "n": 1}  # from the store
    assert cb(2, 2) == {"sum": 4, "n": 2}
    assert len(calls) == 2
    (writable_demo_dir / "carriers.parquet").write_bytes((writable_demo_dir / "carriers.parquet").read_bytes())
    os.utime(writable_demo_dir / "carriers.parquet", ns=(1, 10**18))
    assert cb(1, 2) == {"sum": 3, "n": 3}  # the data changed: computed again
    assert len(calls) == 3


def test_memoized_does_not_cache_exceptions_and_releases_its_lock(memo_rt, waits):
    from web.jobs import memoized, result_key

    state = {"fail": True, "calls": 0}

    @memoized
    def cb(x):
        state["calls"] += 1
        if state["fail"]:
            raise ValueError("boom")
        return x * 2

    with pytest.raises(ValueError):
        cb(21)
    assert "lock-" + result_key(f"{cb.__module__}.{cb.__qualname__}", [21]) not in memo_rt.results
    state["fail"] = False
    assert cb(21) == 42  # no stale lock left behind: answers without waiting
    assert waits == []
    assert state["calls"] == 2


def test_concurrent_callers_wait_for_one_computation(memo_rt):
    from web.jobs import memoized

    calls = []

    @memoized
    def slow(x):
        calls.append(x)
        time.sleep(0.6)
        return x + 1

    out: list[int] = []
    threads = [threading.Thread(target=lambda: out.append(slow(41))) for _ in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert out == [42] * 6
    assert calls == [41]  # one computation, five waiters


def test_memoized_overview_matches_a_fresh_computation(memo_rt):
    """The cached rendering is the same as computing again (and the second call is served from the store)."""
    import json

    import plotly.io as pio

    from callbacks.overview import update_overview

    first = update_overview("2024-01-01", "2024-06-30", "es", "light")
    with pytest.MonkeyPatch.context() as mp:  # the second call must not query: it is served from the store
        mp.setattr("callbacks.overview.overview", lambda *a, **k: pytest.fail("computed again"))
        second = update_overview("2024-01-01", "2024-06-30", "es", "light")
    fresh = update_overview.__wrapped__("2024-01-01", "2024-06-30", "es", "light")
    def as_data(fig):  # key order may differ after a round trip; multithreaded sums differ in the last bit
        return json.loads(pio.to_json(fig), parse_float=lambda v: round(float(v), 9))

    assert as_data(second[1]) == as_data(fresh[1]) == as_data(first[1])
    assert as_data(second[2]) == as_data(fresh[2])
    assert second[4] == fresh[4] == {"start": "2024-01-01", "end": "2024-06-30"}
    assert str(second[0]) == str(fresh[0])


def test_memo_manager_reuses_results_only_for_marked_callbacks(tmp_path: Path, memo_rt, monkeypatch):
    import diskcache

    from web.jobs import MEMO_PREFIX, MemoManager, memo_background

    mgr = MemoManager(diskcache.Cache(str(tmp_path / "bg")))

    def plain(a):
        return a

    @memo_background
    def marked(a):
        return a

    k_plain = mgr.build_cache_key(plain, [1], [], None)
    k_marked = mgr.build_cache_key(marked, [1], [], None)
    assert not k_plain.startswith(MEMO_PREFIX) and k_marked.startswith(MEMO_PREFIX)
    assert mgr.build_cache_key(marked, [1], [], None) == k_marked
    assert mgr.build_cache_key(marked, [2], [], None) != k_marked

    spawned = []
    mgr.handle.set(k_marked, ["stored"])
    monkeypatch.setattr(MemoManager, "_spawn", lambda self, *a: spawned.append(a) or 999999)
    assert mgr.call_job_fn(k_marked, None, [1], {}) == -1  # stored: no process
    assert mgr.call_job_fn(k_plain, None, [1], {}) == 999999  # plain: one job per request
    assert len(spawned) == 1
    assert mgr.job_running("-1") is False
    mgr.terminate_job("-1")  # must not touch any process (0 would mean all of them)
    assert mgr.get_result(k_marked, "-1") == ["stored"]
    assert mgr.get_result(k_marked, "-1") == ["stored"]  # kept for the next visitor
    mgr.handle.set(k_plain, ["once"])
    assert mgr.get_result(k_plain, None) == ["once"]
    assert mgr.get_result(k_plain, None) is mgr.UNDEFINED  # read once, as Dash's own manager does
    failed = {"background_callback_error": {"msg": "x", "tb": ""}}
    mgr.handle.set(k_marked, failed)
    assert mgr.call_job_fn(k_marked, None, [1], {}) == 999999  # a stored crash is not served: a new job runs
    assert mgr.get_result(k_marked, None) is mgr.UNDEFINED  # ... and its first poll does not read the old crash
    mgr.handle.set(k_marked, failed)
    assert mgr.get_result(k_marked, None) == failed  # the job's own crash reaches its visitor once
    assert mgr.get_result(k_marked, None) is mgr.UNDEFINED  # a crash is not replayed


def test_second_visit_to_segments_is_served_without_a_job(settings, tmp_path: Path, monkeypatch):
    """Through the app: the first load of /segments runs the background job; the next visitor with the
    same inputs gets the stored result on the first poll, and no process is started for it."""
    import json
    import re

    import app as appmod
    from benchmarks.loadtest import callback_outputs
    from components import ids
    from web.jobs import MemoManager

    application = appmod.create_app(settings.replace(cache_dir=tmp_path / "cache"), start_live=False)
    client = application.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    dep = next(d for d in deps if ids.SEGMENTS_SUMMARY in d["output"] and d.get("background"))
    html = client.get("/segments").get_data(as_text=True)
    end_id = json.loads(re.search(r'<script id="_dash-config" type="application/json">(.*?)</script>',
                                  html, re.S).group(1))["end_id"]
    values = {"shell-lang-store": "es", "shell-theme-store": "light"}
    body = {"output": dep["output"], "outputs": callback_outputs(dep["output"]),
            "inputs": [{**i, "value": values.get(i["id"])} for i in dep["inputs"]],
            "state": [{**s, "value": values.get(s["id"])} for s in dep["state"]], "changedPropIds": []}
    spawned = []
    real = MemoManager._spawn
    monkeypatch.setattr(MemoManager, "_spawn", lambda self, *a: spawned.append(1) or real(self, *a))

    def load() -> tuple[dict, int]:
        first = client.post("/_dash-update-component", json=body, query_string={"endId": end_id}).get_json()
        polls = 0
        for _ in range(600):
            polls += 1
            q = {"endId": end_id, "cacheKey": first["cacheKey"], "job": first["job"]}
            r = client.post("/_dash-update-component", json=body, query_string=q)
            if r.status_code == 200 and "response" in (out := r.get_json()):
                return out["response"], polls
            time.sleep(0.2)
        raise AssertionError("the segments job did not finish")

    out1, _ = load()
    assert len(spawned) == 1
    summary = json.dumps(out1[ids.SEGMENTS_SUMMARY])
    assert "k" in summary and out1[ids.SEGMENTS_CURVES]["figure"]["data"]
    out2, polls = load()
    assert len(spawned) == 1  # no second process
    handle = application._background_manager.handle
    assert handle.eviction_policy == "none"  # the handle-signing secret is never evicted ...
    memo = [k for k in handle.iterkeys() if str(k).startswith("memo-") and "-progress" not in str(k)]
    assert memo and all(handle.get(k, expire_time=True)[1] is not None for k in memo)  # ... results expire
    assert polls == 1  # the first poll already has the result
    assert json.dumps(out2, sort_keys=True) == json.dumps(out1, sort_keys=True)


def test_memo_manager_shares_a_running_job_and_counts_its_waiters(sleeping_jobs):
    """A crowd on a cold cache starts one job; one visitor's cancel does not stop it for the others."""
    mgr, key, jobs = sleeping_jobs
    pid = mgr.call_job_fn(key, None, [7], {})
    assert mgr.call_job_fn(key, None, [7], {}) == pid  # second visitor: same job
    assert mgr.call_job_fn(key, None, [7], {}) == pid  # third
    assert len(jobs) == 1 and mgr.job_running(pid)
    mgr.handle.set(mgr._make_progress_key(key), [40, "k = 4"])
    assert mgr.get_progress(key) == mgr.get_progress(key) == [40, "k = 4"]  # every waiter sees progress
    mgr.terminate_job(pid)  # one visitor cancels
    mgr.terminate_job(str(pid))  # another one leaves
    assert jobs[0].poll() is None and mgr.job_running(pid)  # still running for the third
    mgr.terminate_job(pid)  # the last one cancels too
    assert jobs[0].wait(10) is not None
    assert not mgr.job_running(pid)
    other = mgr.call_job_fn(key, None, [7], {})  # the job is gone: a new visitor starts a new one
    assert other != pid and len(jobs) == 2

def test_results_are_shared_across_ports_and_log_levels_but_not_datasets(memo_rt, writable_demo_dir: Path,
                                                                          tmp_path: Path):
    """Each gunicorn restart may listen on another port: that must not throw the cached results away."""
    from web.jobs import context_version
    from web.runtime import configure

    base = memo_rt.settings
    v = context_version()
    configure(base.replace(port=base.port + 1, log_level="DEBUG", max_jobs=3, upload_max_mb=1.0))
    assert context_version() == v
    configure(base.replace(engine="spark"))
    assert context_version() != v
    other = tmp_path / "other-data"
    other.mkdir()
    configure(base.replace(data_dir=other))
    assert context_version() != v


def test_a_late_cancel_never_kills_a_process_that_reused_the_pid(tmp_path: Path, memo_rt, monkeypatch):
    import subprocess

    import diskcache

    from web import jobslots
    from web.jobs import MemoManager

    mgr = MemoManager(diskcache.Cache(str(tmp_path / "bg")))
    other = subprocess.Popen(["sleep", "60"])  # stands for whatever process got the pid later
    try:
        mgr.handle.set(f"job-{other.pid}", jobslots.process_started(other.pid) - 1)  # our job had that pid
        assert mgr.job_running(other.pid) is False
        mgr.terminate_job(other.pid)
        time.sleep(0.2)
        assert other.poll() is None  # untouched
        mgr.handle.set(f"job-{other.pid}", jobslots.process_started(other.pid))  # now it is our job
        assert mgr.job_running(other.pid) is True
        mgr.terminate_job(other.pid)
        assert other.wait(10) is not None
    finally:
        other.kill()


def test_a_lock_left_by_a_dead_process_is_taken_over(memo_rt, waits):
    """A worker killed mid-computation (OOM, SIGKILL on recycle) must not stall that result for minutes."""
    import subprocess
    import sys

    from web import jobslots
    from web.jobs import memoized, result_key

    @memoized
    def cb(x):
        return x + 1

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    started = jobslots.process_started(dead.pid)
    dead.wait(10)
    key = result_key(f"{cb.__module__}.{cb.__qualname__}", [1])
    memo_rt.results.set("lock-" + key, f"{dead.pid}:{started}:1", expire=300)
    assert cb(1) == 2
    assert len(waits) == 1  # one look at the lock's holder, then taken over (not waited out)
    assert "lock-" + key not in memo_rt.results


def test_loading_a_table_with_bad_rows_again_does_not_change_the_data_version(writable_demo_dir: Path):
    """Every worker and job process loads the tables: rewriting the same quarantine file each time would
    throw every cached result away on each load."""
    import polars as pl

    path = storage.table_path(writable_demo_dir, "sourcing_suppliers")
    df = pl.read_parquet(path)
    df.with_columns(pl.when(pl.int_range(pl.len()) == 4).then(-30.0).otherwise(pl.col("lat")).alias("lat")) \
        .write_parquet(path)
    assert storage.load_table(writable_demo_dir, "sourcing_suppliers").quarantined == 1
    qfile = storage.quarantine_path(writable_demo_dir, "sourcing_suppliers")
    v, mtime = storage.data_version(writable_demo_dir), qfile.stat().st_mtime_ns
    time.sleep(0.01)
    assert storage.load_table(writable_demo_dir, "sourcing_suppliers").quarantined == 1
    assert qfile.stat().st_mtime_ns == mtime and storage.data_version(writable_demo_dir) == v
    df.with_columns(pl.when(pl.int_range(pl.len()) < 2).then(-30.0).otherwise(pl.col("lat")).alias("lat")) \
        .write_parquet(path)  # different bad rows: the quarantine file follows
    assert storage.load_table(writable_demo_dir, "sourcing_suppliers").quarantined == 2
    assert storage.read_quarantine(writable_demo_dir, "sourcing_suppliers")["row_number"].to_list() == [1, 2]


def test_one_visitor_cancelling_again_and_again_does_not_stop_a_shared_job(sleeping_jobs, monkeypatch):
    from web import jobs as memo

    mgr, key, jobs = sleeping_jobs
    who = {"v": "page-A"}
    monkeypatch.setattr(memo, "_visitor", lambda: who["v"])
    pid = mgr.call_job_fn(key, None, [7], {})  # visitor A starts it
    who["v"] = "page-B"
    assert mgr.call_job_fn(key, None, [7], {}) == pid  # visitor B shares it
    who["v"] = "page-A"
    for _ in range(3):  # A cancels, double-clicks, replays the request
        mgr.terminate_job(pid)
    time.sleep(0.2)
    assert jobs[0].poll() is None and mgr.job_running(pid)  # still running for B
    who["v"] = "page-B"
    mgr.terminate_job(pid)  # B leaves too: nobody waits, the job is stopped
    assert jobs[0].wait(10) is not None


def test_a_result_stored_while_taking_the_lock_is_not_computed_again(memo_rt, monkeypatch):
    """The owner of a computation may store its result and release the lock between a caller's first look and
    that caller taking the lock (a busy machine makes the window wide): the caller answers with that result."""
    from web.jobs import memoized, result_key

    calls: list[int] = []

    @memoized
    def once(x):
        calls.append(x)
        return x + 1

    key = result_key(f"{once.__module__}.{once.__qualname__}", [41])
    cache = memo_rt.results
    real_add = type(cache).add

    def add_after_the_owner_finished(self, k, *a, **kw):
        if k == "lock-" + key and self.get(key) is None:
            self.set(key, 42)  # the other caller's computation ends here: result stored, lock released
        return real_add(self, k, *a, **kw)

    monkeypatch.setattr(type(cache), "add", add_after_the_owner_finished)
    assert once(41) == 42
    assert calls == []
    assert ("lock-" + key) not in cache  # the lock taken for nothing is released
