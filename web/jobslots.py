"""A bound on background-callback jobs running at once on a host (``CHASQUI_MAX_JOBS``).

Dash starts one process per background-callback request. Without a bound, a crowd (or a script)
asking for many *different* k-means runs or Monte Carlo scenarios starts as many heavy processes at
once: memory runs out and every one of them crawls. Here each job process first takes one of
``limit`` slots and only then unpickles the callback and loads its data; until a slot frees it waits, holding
little memory of its own (it is forked from the fork server of ``web.jobs.job_context``, whose imported
libraries it shares; a job started without one, as a plain interpreter, waits in about 50 MB). Slots are held
in the shared diskcache by process id and start time, so the slot of a job that was cancelled or
died is taken back by the next one that looks. First come, first served is not guaranteed (the
waiters poll), but nothing starves for long: a slot is re-checked every ``POLL_SECONDS``.

Waiting is bounded too: before a job process is even started, ``admit`` counts the job processes alive on
the host (running or waiting) and those of the same requester; past ``JobLimits`` the request is refused
without a process (the web layer answers "busy, retry"). A job process also watches the server that started
it (``watch_server``): when that process is gone (killed, crashed, stopped) the job ends itself and its
children, instead of waiting for a slot or computing for nobody.

This module must stay light (stdlib, diskcache, dill, psutil): job processes import it before the
slot is theirs.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

SLOTS_KEY = "chasqui-job-slots"
JOBS_KEY = "chasqui-jobs"  # every job process alive on the host (running or waiting), with its requester
STARTING_SECONDS = 60.0  # a place reserved for a process being started; freed if it never shows up
WATCH_SECONDS = 1.0  # how often a job process checks that its server is still there
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


@dataclass(frozen=True)
class JobLimits:
    """At most ``running`` jobs computing at once (slots), ``queued`` more waiting for a slot, and ``per_user``
    job processes (running or waiting) for one requester, on one host."""

    running: int
    queued: int
    per_user: int

    @property
    def alive(self) -> int:
        return self.running + self.queued


@dataclass(frozen=True)
class Refusal:
    """Why a job was not started: ``scope`` "host" (every place taken) or "user" (this requester's are)."""

    scope: str
    limit: int


def _alive_jobs(jobs: dict[str, tuple[int | None, float | None, str, float]]) -> dict[str, tuple]:
    """Entries whose process still runs (same pid and start), and places reserved for a process being started."""
    now = time.time()
    return {token: entry for token, entry in jobs.items()
            if (entry[0] is None and now - entry[3] < STARTING_SECONDS)
            or (entry[0] is not None and process_started(entry[0]) == entry[1])}


def admit(cache: Any, requester: str, limits: JobLimits) -> str | Refusal:
    """Reserve a place for a new job process of ``requester``, or say why not (nothing is started here).
    Returns a token to ``confirm`` once the process is started (or ``withdraw`` if starting it failed)."""
    with cache.transact():
        jobs = _alive_jobs(cache.get(JOBS_KEY) or {})
        mine = sum(1 for entry in jobs.values() if entry[2] == requester)
        if len(jobs) >= limits.alive:
            refusal: str | Refusal = Refusal("host", limits.alive)
        elif mine >= limits.per_user:
            refusal = Refusal("user", limits.per_user)
        else:
            refusal = secrets.token_hex(8)
            jobs[refusal] = (None, None, requester, time.time())
        cache.set(JOBS_KEY, jobs)
        return refusal


def confirm(cache: Any, token: str, pid: int) -> None:
    """The reserved place now belongs to process ``pid`` (freed by itself when that process ends)."""
    with cache.transact():
        jobs = cache.get(JOBS_KEY) or {}
        entry = jobs.get(token)
        if entry is not None:
            started = process_started(pid)
            if started is None:
                del jobs[token]  # it already finished
            else:
                jobs[token] = (pid, started, entry[2], entry[3])
            cache.set(JOBS_KEY, jobs)


def withdraw(cache: Any, token: str) -> None:
    with cache.transact():
        jobs = cache.get(JOBS_KEY) or {}
        if jobs.pop(token, None) is not None:
            cache.set(JOBS_KEY, jobs)


def alive_jobs(cache: Any) -> list[tuple[int | None, str]]:
    """(pid, requester) of the job processes alive on the host (pid None: being started)."""
    return [(entry[0], entry[2]) for entry in _alive_jobs(cache.get(JOBS_KEY) or {}).values()]


def _end_process_tree() -> None:
    """End this job process and whatever it started (a JVM, a pool) at once."""
    import psutil

    try:
        for child in psutil.Process().children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass
    finally:
        os._exit(1)


def watch_server(server: tuple[int, float | None], interval: float = WATCH_SECONDS) -> threading.Thread:
    """End this process when ``server`` (pid, start time) is gone: a daemon thread polling ``/proc``.

    A watchdog rather than ``PR_SET_PDEATHSIG``: Linux sends that signal when the *thread* that started the
    child exits, and the development server starts each job from a request thread that ends right after."""
    pid, started = server

    def watch() -> None:
        while True:
            if started is None or process_started(pid) != started:
                _end_process_tree()
            time.sleep(interval)

    thread = threading.Thread(target=watch, name="chasqui-job-watchdog", daemon=True)
    thread.start()
    return thread


def run_when_free(directory: str, limit: int, payload: bytes, *job_args: Any,
                  server: tuple[int, float | None] | None = None, environ: dict[str, str] | None = None) -> None:
    """The target of a job process: watch the server (default: the parent process), wait for a slot, then load
    and run Dash's job function. ``environ``: the server's environment when it started the job (a process forked
    from the fork server has the server's environment of the fork server's start)."""
    import dill

    from analytics.shared_cache import open_cache

    if environ is not None:
        os.environ.clear()
        os.environ.update(environ)
    if server is None:
        server = (os.getppid(), process_started(os.getppid()))
    watch_server(server)
    cache = open_cache(directory)
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


__all__ = ["JobLimits", "Refusal", "admit", "alive_jobs", "confirm", "default_limit", "holders", "process_started",
           "release", "run_when_free", "try_acquire", "watch_server", "withdraw"]
