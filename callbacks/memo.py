"""Callback results cached by their inputs, shared by every gunicorn worker (conventions 9 and 10).

Most visitors open a page with the same default inputs, so the same Monte Carlo run, ranking or
overview would otherwise be computed again for each of them, in each worker. Two pieces:

- ``memoized``: a plain callback's return value is stored in diskcache (``<cache_dir>/results``) under
  the callback, its arguments, the data version (every file under the data folder), the settings and
  the code version. The first caller computes while the others for the same key wait for its result
  (no stampede); an exception is not cached.
- ``MemoManager``: the background-callback manager. For a background callback marked with
  ``memo_background`` whose result for these inputs (and data, settings, code) is already stored, it
  answers from the store without spawning a job process (spawning costs seconds on a busy machine).
  Unmarked background callbacks (imports, retraining, exports) behave exactly as before: one job per
  request, result deleted once read.

Callbacks that read the clock, the live feed or the ledger (verification must run on demand) are not
memoized.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from dash import DiskcacheManager

from analytics import storage
from analytics.jobslots import process_started
from callbacks.runtime import runtime

F = TypeVar("F", bound=Callable[..., Any])
ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("analytics", "callbacks", "components", "pages")
MEMO_PREFIX = "memo-"
LOCK_SECONDS = 300.0  # a computation that holds the lock longer than this is presumed dead
WAIT_STEP = 0.05
_MISS = object()


@functools.cache
def code_version() -> str:
    """Changes when any of the app's Python files changes (a deploy must not serve old renderings)."""
    h = hashlib.sha256()
    for pkg in CODE_PACKAGES:
        for f in sorted((ROOT / pkg).rglob("*.py")):
            st = f.stat()
            h.update(f"{f.relative_to(ROOT)}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


# The settings that can change what a callback computes. Serving settings (port, workers' host, log level,
# sign-in, limits) must not: every worker and every restart on another port shares the same results.
RESULT_SETTINGS = ("data_dir", "engine", "ledger_dir", "ledger_url", "lang", "extra")


def context_version() -> str:
    """Data version + result-relevant settings + code: what, besides the arguments, decides a result."""
    settings = runtime().settings
    data = storage.data_version(settings.data_dir, skip=(settings.cache_dir,) if settings.cache_dir else ())
    relevant = {name: getattr(settings, name) for name in RESULT_SETTINGS}
    cfg = hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{data}:{cfg}:{code_version()}"


def result_key(name: str, args: Any) -> str:
    payload = json.dumps(args, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(f"{name}\n{context_version()}\n{payload}".encode()).hexdigest()


def memoized(fn: F) -> F:
    """Cache a callback's return value by its arguments (see the module docstring)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        key = result_key(name, list(args))
        cache = runtime().results
        hit = cache.get(key, default=_MISS)
        if hit is not _MISS:
            return hit
        lock, token = "lock-" + key, f"{os.getpid()}:{threading.get_ident()}:{time.monotonic_ns()}"
        deadline = time.monotonic() + LOCK_SECONDS
        while not (owned := cache.add(lock, token, expire=LOCK_SECONDS)):
            time.sleep(WAIT_STEP)  # someone else is computing this very result: wait for it
            hit = cache.get(key, default=_MISS)
            if hit is not _MISS:
                return hit
            if time.monotonic() > deadline:
                break
        try:
            value = fn(*args)
            cache.set(key, value, expire=7 * 86400)
            return value
        finally:
            if owned and cache.get(lock) == token:
                cache.delete(lock)

    wrapper.chasqui_memoized = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]


def memo_background(fn: F) -> F:
    """Mark a background callback whose results ``MemoManager`` may keep and reuse."""
    fn.chasqui_memoized = True  # type: ignore[attr-defined]
    return fn


def _failed(result: Any) -> bool:
    """A job that crashed stores this instead of its outputs; it is never reused."""
    return isinstance(result, dict) and "background_callback_error" in result


class MemoManager(DiskcacheManager):
    """Dash's diskcache manager, reusing results (stored or in flight) of ``memo_background`` callbacks,
    with at most ``max_jobs`` job processes running at once (the others wait their turn, light).

    Stored result: answered without a process. In flight (another visitor's job for the same key is
    running): that job is shared instead of starting another, so a crowd opening a page on a cold
    cache starts one job, not one each. A shared job counts its waiters: a cancel (or the renderer
    dropping an old job) from one visitor only stops it when nobody else is waiting for it.
    """

    RUNNING_SECONDS = 3600

    def __init__(self, cache: Any = None, max_jobs: int | None = None) -> None:
        from analytics import jobslots

        super().__init__(cache)
        self.max_jobs = max_jobs or jobslots.default_limit()

    def _spawn(self, key: str, job_fn: Any, args: Any, context: Any) -> int:
        """Start the job process; it waits for one of ``max_jobs`` slots before loading the callback
        (``analytics.jobslots``), so many different requests at once cannot exhaust the host."""
        import dill
        from multiprocess import Process

        from analytics import jobslots

        process = Process(target=jobslots.run_when_free,
                          args=(self.handle.directory, self.max_jobs, dill.dumps(job_fn), key,
                                self._make_progress_key(key), args, context))
        process.start()
        return int(process.pid)

    def build_cache_key(self, fn: Any, args: Any, cache_args_to_ignore: Any, triggered: Any) -> str:
        key = super().build_cache_key(fn, args, cache_args_to_ignore, triggered)
        if getattr(fn, "chasqui_memoized", False):
            return MEMO_PREFIX + hashlib.sha256(f"{key}:{context_version()}".encode()).hexdigest()
        return key

    def call_job_fn(self, key: str, job_fn: Any, args: Any, context: Any) -> Any:
        if not key.startswith(MEMO_PREFIX):
            return self._spawn(key, job_fn, args, context)
        stored = self.handle.get(key)
        if stored is not None and not _failed(stored):
            return -1  # no process: the renderer's first poll reads the stored result
        running = "running-" + key
        with self.handle.transact():
            job = self.handle.get(running)
            if job is not None and process_started(job[0]) == job[1]:  # same pid, same process (no pid reuse)
                self.handle.incr(f"waiters-{job[0]}", default=0)
                return job[0]
            pid = self._spawn(key, job_fn, args, context)
            started = process_started(pid)
            if started is not None:
                self.handle.set(running, (pid, started), expire=self.RUNNING_SECONDS)
                self.handle.set(f"waiters-{pid}", 1, expire=self.RUNNING_SECONDS)
            return pid

    def get_progress(self, key: str) -> Any:
        if key.startswith(MEMO_PREFIX):  # a shared job's progress is read by every waiter
            return self.handle.get(self._make_progress_key(key))
        return super().get_progress(key)

    def get_result(self, key: str, job: Any) -> Any:
        result = self.handle.get(key, self.UNDEFINED)
        if result is self.UNDEFINED:
            return self.UNDEFINED
        if not key.startswith(MEMO_PREFIX) or _failed(result):
            self.clear_cache_entry(key)  # one job, one read (and a crash is never replayed)
        self.clear_cache_entry(self._make_progress_key(key))
        if job:
            self.terminate_job(job)
        return result

    def terminate_job(self, job: Any) -> None:
        if job is None or int(job) <= 0:  # -1 = answered from the store; 0 would mean every process
            return
        waiters = f"waiters-{int(job)}"
        with self.handle.transact():
            if self.handle.get(waiters) is not None:
                if self.handle.decr(waiters) > 0:
                    return  # somebody else still waits for this shared job
                self.handle.delete(waiters)
        super().terminate_job(job)

    def job_running(self, job: Any) -> bool:
        if job is None or int(job) <= 0:
            return False
        return super().job_running(job)


__all__ = ["MemoManager", "code_version", "context_version", "memo_background", "memoized", "result_key"]
