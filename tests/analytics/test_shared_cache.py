"""Caches shared by processes: many processes open one fresh folder at the same moment and write to it; every
open succeeds and every write counts (in = counted)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import diskcache
import pytest

from analytics.shared_cache import LOCK_NAME, SharedCache, open_cache
from tests.analytics import shared_cache_writer

PROCESSES = 10
WRITES = 150


def test_processes_opening_and_writing_at_once_lose_nothing(tmp_path: Path):
    folder = tmp_path / "shared"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=shared_cache_writer.write, args=(str(folder), start, WRITES)) for _ in range(PROCESSES)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(timeout=300)
    assert [p.exitcode for p in procs] == [0] * PROCESSES
    cache = open_cache(folder)
    assert cache.get("count") == PROCESSES * WRITES
    assert cache.get("last") == PROCESSES * WRITES
    assert (folder / LOCK_NAME).exists()


def test_a_shared_cache_waits_for_a_held_lock_instead_of_raising(tmp_path: Path):
    folder = tmp_path / "c"
    holder = diskcache.Cache(str(folder), timeout=0.05)
    waiter = open_cache(folder, timeout=0.05)
    plain = diskcache.Cache(str(folder), timeout=0.05)
    assert isinstance(waiter, SharedCache)
    with holder.transact():
        holder.set("k", 1)
        with pytest.raises(diskcache.Timeout):  # what Dash's manager would get from a plain cache
            plain.set("k", 2)
        import threading

        done = threading.Event()
        t = threading.Thread(target=lambda: (waiter.set("k", 3), done.set()))
        t.start()
        assert not done.wait(0.5)  # still waiting: the lock is held
    t.join(timeout=30)
    assert done.is_set() and waiter.get("k") == 3


GREENLETS = """
import json, sys
from gevent import monkey
monkey.patch_all()  # as gunicorn's gevent worker does
from pathlib import Path
import gevent
from analytics.shared_cache import folder_lock, open_cache

root = Path(sys.argv[1])
cache = open_cache(root / "db")
done = []

def holds_the_write_lock():  # a request that yields to another greenlet inside a write transaction
    with cache.transact():
        cache.set("a", 1)
        gevent.sleep(0.3)
    done.append("write lock holder")

def writes():
    gevent.sleep(0.05)
    cache.set("b", 2)  # the same worker, another greenlet: must wait without stopping the holder
    done.append("writer")

def holds_the_open_lock():
    (root / "other").mkdir()
    with folder_lock(root / "other"):
        gevent.sleep(0.3)
    done.append("open lock holder")

def opens():
    gevent.sleep(0.05)
    open_cache(root / "other").set("c", 3)
    done.append("opener")

gevent.joinall([gevent.spawn(f) for f in (holds_the_write_lock, writes, holds_the_open_lock, opens)], timeout=30)
print(json.dumps({"done": sorted(done), "b": cache.get("b"), "c": open_cache(root / "other").get("c")}))
"""


def test_greenlets_of_one_gevent_worker_wait_for_each_other_without_a_deadlock(tmp_path: Path):
    """In a gevent worker every request is a greenlet of one thread: one that holds the write lock (or the open
    lock) and yields must get to finish while another waits for it. A wait inside SQLite's busy handler or a
    blocking ``flock`` would stop the whole thread, the holder included, until gunicorn killed the worker."""
    import json
    import subprocess
    import sys

    from tests.conftest import ROOT

    try:
        run = subprocess.run([sys.executable, "-c", GREENLETS, str(tmp_path)], cwd=ROOT, capture_output=True,
                             text=True, timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("the greenlets deadlocked: one waited inside C while the lock's holder could not run")
    assert run.returncode == 0, run.stderr[-2000:]
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out == {"done": ["open lock holder", "opener", "write lock holder", "writer"], "b": 2, "c": 3}
