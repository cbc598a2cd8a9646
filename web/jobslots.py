"""A bound on background-callback jobs running at once on a host (``CHASQUI_MAX_JOBS``).

Dash starts one process per background-callback request. Without a bound, a crowd (or a script)
asking for many *different* k-means runs or Monte Carlo scenarios starts as many heavy processes at
once: memory runs out and every one of them crawls. Here each job process first takes one of
``limit`` slots and only then unpickles the callback (which is when polars, scikit-learn and the data
are loaded); until a slot frees it waits as a small interpreter (about 50 MB). Slots are held
in the shared diskcache by process id and start time, so the slot of a job that was cancelled or
died is taken back by the next one that looks. First come, first served is not guaranteed (the
waiters poll), but nothing starves for long: a slot is re-checked every ``POLL_SECONDS``.

This module must stay light (stdlib, diskcache, dill, psutil): job processes import it before the
slot is theirs.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

SLOTS_KEY = "chasqui-job-slots"
POLL_SECONDS = 0.2
LEASE_SECONDS = 3600.0  # a job holding its slot longer is presumed hung: its slot goes to the next one
RESULT_SECONDS = 7 * 86400  # a job's stored result is dropped after this long unread (see run_when_free)


def cpu_limit() -> int | None:
    """CPUs this container may use (cgroup v2 ``cpu.max``), when a quota is set."""
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        return None
    return None if quota == "max" else max(1, -(-int(quota) // int(period)))


def default_limit() -> int:
    """One job per usable CPU, at least 2: the container's CPU quota if it has one (``os.cpu_count()``
    sees the whole node), else the machine's CPUs."""
    cpus = [n for n in (cpu_limit(), len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                        os.cpu_count()) if n]
    return max(2, min(cpus) if cpus else 2)


def process_started(pid: int) -> float | None:
    """When process ``pid`` started (None if it is gone or a zombie): with the pid, names one process.

    On Linux, the start time in clock ticks since boot from ``/proc/<pid>/stat``: unlike psutil's
    ``create_time()`` it does not move when the wall clock is stepped (NTP, a resumed VM), which would
    make every live job look dead."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return None
    except OSError:  # no procfs here: psutil's wall-clock-based start time
        import psutil

        try:
            proc = psutil.Process(pid)
            return None if proc.status() == psutil.STATUS_ZOMBIE else proc.create_time()
        except psutil.Error:
            return None
    fields = stat[stat.rindex(b")") + 2:].split()  # after "pid (comm) ": state is field 3, starttime field 22
    if fields[0] in (b"Z", b"X"):
        return None
    return float(fields[19])


def _live(held: dict[int, tuple[float, float]]) -> dict[int, tuple[float, float]]:
    """Slots whose holder still runs (same pid, same start) and has not outlived its lease (a hung job)."""
    now = time.time()
    return {p: (t, since) for p, (t, since) in held.items()
            if process_started(p) == t and now - since < LEASE_SECONDS}


def try_acquire(cache: Any, limit: int, pid: int | None = None) -> bool:
    """Take a slot for ``pid`` (default: this process) if fewer than ``limit`` live jobs hold one."""
    pid = os.getpid() if pid is None else pid
    with cache.transact():
        held: dict[int, tuple[float, float]] = cache.get(SLOTS_KEY) or {}
        live = _live(held)  # a dead or reused pid, or a hung job past its lease, frees its slot
        if pid in live or len(live) < limit:
            started = process_started(pid)
            if started is not None:
                live[pid] = live.get(pid, (started, time.time()))
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
    return sorted(_live(cache.get(SLOTS_KEY) or {}))


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
        # Dash stores the result with no expiry; the background cache never evicts (it also holds the
        # secret that signs job handles), so every result gets a lifetime and expired ones are dropped
        cache.touch(job_args[0], expire=RESULT_SECONDS)
        cache.expire()


__all__ = ["default_limit", "holders", "process_started", "release", "run_when_free", "try_acquire"]
