"""Caches shared by processes: many processes open one fresh folder at the same moment and write to it; every
open succeeds and every write counts (in = counted)."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import diskcache
import pytest

from analytics.shared_cache import LOCK_NAME, SharedCache, open_cache

PROCESSES = 10
WRITES = 150


def _worker(directory: str, start: object, n: int) -> None:
    start.wait()  # type: ignore[attr-defined]
    cache = open_cache(directory, eviction_policy="none")
    for _ in range(n):
        cache.incr("count")  # a write transaction
        with cache.transact():  # and an explicit one, as the job manager does
            cache.set("last", cache.get("last", 0) + 1)
    cache.close()


def test_processes_opening_and_writing_at_once_lose_nothing(tmp_path: Path):
    folder = tmp_path / "shared"
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Event()
    procs = [ctx.Process(target=_worker, args=(str(folder), start, WRITES)) for _ in range(PROCESSES)]
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
