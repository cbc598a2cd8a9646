"""A bound on background-callback jobs running at once on a host (``CHASQUI_MAX_JOBS``).

Dash starts one process per background-callback request. Without a bound, a crowd (or a script)
asking for many *different* k-means runs or Monte Carlo scenarios starts as many heavy processes at
once: memory runs out and every one of them crawls. Here each job process first takes one of
``limit`` slots and only then unpickles the callback (which is when polars, scikit-learn and the data
are loaded); until a slot frees it waits as a bare interpreter of a few tens of MB. Slots are held
in the shared diskcache by process id and start time, so the slot of a job that was cancelled or
died is taken back by the next one that looks. First come, first served is not guaranteed (the
waiters poll), but nothing starves for long: a slot is re-checked every ``POLL_SECONDS``.

This module must stay light (stdlib, diskcache, dill, psutil): job processes import it before the
slot is theirs.
"""

from __future__ import annotations

import os
import time
from typing import Any

SLOTS_KEY = "chasqui-job-slots"
POLL_SECONDS = 0.2


def default_limit() -> int:
    return max(2, os.cpu_count() or 2)


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (None if it is gone or a zombie): with the pid, names one process."""
    import psutil

    try:
        proc = psutil.Process(pid)
        return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
    except psutil.Error:
        return None


def try_acquire(cache: Any, limit: int, pid: int | None = None) -> bool:
    """Take a slot for ``pid`` (default: this process) if fewer than ``limit`` live jobs hold one."""
    pid = os.getpid() if pid is None else pid
    with cache.transact():
        held: dict[int, float] = cache.get(SLOTS_KEY) or {}
        live = {p: t for p, t in held.items() if process_started(p) == t}  # a dead or reused pid frees its slot
        if pid in live or len(live) < limit:
            started = process_started(pid)
            if started is not None:
                live[pid] = started
            cache.set(SLOTS_KEY, live)
            return True
        if len(live) != len(held):
            cache.set(SLOTS_KEY, live)
        return False


def release(cache: Any, pid: int | None = None) -> None:
    pid = os.getpid() if pid is None else pid
    with cache.transact():
        held = cache.get(SLOTS_KEY) or {}
        if pid in held:
            del held[pid]
            cache.set(SLOTS_KEY, held)


def holders(cache: Any) -> list[int]:
    """Process ids holding a slot now (live ones only)."""
    held = cache.get(SLOTS_KEY) or {}
    return sorted(p for p, t in held.items() if process_started(p) == t)


def run_when_free(directory: str, limit: int, payload: bytes, *job_args: Any) -> None:
    """The target of a job process: wait for a slot, then load and run Dash's job function."""
    import dill
    import diskcache

    cache = diskcache.Cache(directory)
    while not try_acquire(cache, limit):
        time.sleep(POLL_SECONDS)
    try:
        job_fn = dill.loads(payload)  # the heavy imports happen here, once the slot is ours
        job_fn(*job_args)
    finally:
        release(cache)


__all__ = ["default_limit", "holders", "process_started", "release", "run_when_free", "try_acquire"]
