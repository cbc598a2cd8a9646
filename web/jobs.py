"""Callback results cached by their inputs, shared by every gunicorn worker (conventions 9 and 10).

Most visitors open a page with the same default inputs, so the same Monte Carlo run, ranking or
overview would otherwise be computed again for each of them, in each worker. Two pieces:

- ``memoized``: a plain callback's return value is stored in diskcache (``<cache_dir>/results``) under
  the callback, its arguments, the data version (every file under the data folder), the settings that
  change results and the code/library versions. The first caller computes while the others for the
  same key wait for its result (no stampede); an exception is not cached.
- ``MemoManager``: the background-callback manager. For a background callback marked with
  ``memo_background`` whose result for these inputs is already stored, it answers from the store
  without spawning a job process; one already running for them is shared. Unmarked background
  callbacks (imports, retraining, exports) keep one job per request, result deleted once read. Every
  job, marked or not, waits for one of ``CHASQUI_MAX_JOBS`` slots (``web.jobslots``).

Job processes are bounded before they start: at most ``CHASQUI_MAX_JOBS`` running plus ``CHASQUI_JOB_QUEUE``
waiting on a host, and ``CHASQUI_JOBS_PER_USER`` (running or waiting) per signed-in user or client address. A
request past them starts nothing: its first poll shows a "busy, retry" notice in the shell (``busy_notice``,
Spanish or English) and leaves the outputs as they were. Finished job processes are reaped (no zombies), and a
job process ends itself when the server that started it is gone (``web.jobslots.watch_server``).

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
from web.jobslots import RESULT_SECONDS, JobLimits, Refusal, process_started
from web.runtime import runtime
from web.settings import Settings

F = TypeVar("F", bound=Callable[..., Any])
ROOT = Path(__file__).resolve().parent.parent
CODE_PACKAGES = ("analytics", "callbacks", "components", "pages")
MEMO_PREFIX = "memo-"
LOCK_SECONDS = 300.0  # a computation that holds the lock longer than this is presumed dead
WAIT_SECONDS = 30.0  # a waiter computes the result itself after this long (request threads are few)
WAIT_STEP = 0.05
_MISS = object()
REFUSED = {-2: "host", -3: "user"}  # job "ids" of requests refused before a process started (see call_job_fn)
DEFAULT_PER_USER = 3
REAP_SECONDS = 0.5
SERVER_PID_ENV = "CHASQUI_SERVER_PID"  # set by deploy/gunicorn.conf.py in the master: the workers' server


LIBRARIES = ("dash", "plotly", "dash-bootstrap-components", "dash-ag-grid", "polars", "numpy")


@functools.cache
def code_version() -> str:
    """Changes when any of the app's Python files or the libraries that render results change (a deploy
    must not serve old renderings, nor pickles of components an upgraded library cannot load)."""
    from importlib import metadata

    h = hashlib.sha256()
    for lib in LIBRARIES:
        try:
            h.update(f"{lib}=={metadata.version(lib)}\n".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{lib} missing\n".encode())
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
    skip = [Path(settings.data_dir) / "scenarios"]  # saved scenarios: no cached callback reads them
    if settings.cache_dir:
        skip.append(Path(settings.cache_dir))
    data = storage.data_version(settings.data_dir, skip=tuple(skip))
    relevant = {name: getattr(settings, name) for name in RESULT_SETTINGS}
    cfg = hashlib.sha256(json.dumps(relevant, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return f"{data}:{cfg}:{code_version()}"


def result_key(name: str, args: Any) -> str:
    payload = json.dumps(args, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(f"{name}\n{context_version()}\n{payload}".encode()).hexdigest()


def _owner_token() -> str:
    """Who holds a computation lock: pid, process start (no pid reuse) and thread."""
    return f"{os.getpid()}:{process_started(os.getpid())}:{threading.get_ident()}"


def _owner_gone(token: Any) -> bool:
    try:
        pid, started, _ = str(token).split(":")
        return str(process_started(int(pid))) != started
    except ValueError:
        return True


def _get(cache: Any, key: str) -> Any:
    try:
        return cache.get(key, default=_MISS)
    except Exception:  # an entry this code can no longer unpickle is a miss, not an error
        cache.delete(key)
        return _MISS


def memoized(fn: F) -> F:
    """Cache a callback's return value by its arguments (see the module docstring)."""
    name = f"{fn.__module__}.{fn.__qualname__}"

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        key = result_key(name, list(args))
        cache = runtime().results
        hit = _get(cache, key)
        if hit is not _MISS:
            return hit
        lock, token = "lock-" + key, _owner_token()
        deadline = time.monotonic() + WAIT_SECONDS
        while not (owned := cache.add(lock, token, expire=LOCK_SECONDS)):
            time.sleep(WAIT_STEP)  # someone else is computing this very result: wait for it
            hit = _get(cache, key)
            if hit is not _MISS:
                return hit
            holder = cache.get(lock)
            if holder is not None and _owner_gone(holder):  # its process died: take the lock over
                with cache.transact():
                    if cache.get(lock) == holder:
                        cache.delete(lock)
                continue
            if time.monotonic() > deadline:
                break  # compute it ourselves rather than hold a request thread any longer
        try:
            if owned and (hit := _get(cache, key)) is not _MISS:
                return hit  # stored between our first look and taking the lock: its owner had just finished
            value = fn(*args)
            cache.set(key, value, expire=RESULT_SECONDS)
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


def _visitor() -> str | None:
    """The page load a callback request comes from (Dash's signed ``endId``, verified), or None outside one.
    A shared job's waiters are a set of these: a visitor who cancels twice, or whose poll both reads the
    result and stops the job, leaves the set once."""
    try:
        from dash._callback import _get_signing_secret, get_request_end_id

        end = get_request_end_id(_get_signing_secret())
    except Exception:  # no app or no request here (direct calls, tests)
        return None
    return str(end) if end else None


def _failed(result: Any) -> bool:
    """A job that crashed stores this instead of its outputs; it is never reused."""
    return isinstance(result, dict) and "background_callback_error" in result


def server_identity() -> tuple[int, float | None]:
    """The process whose end must end this process's jobs: the gunicorn master when this is one of its
    workers (``CHASQUI_SERVER_PID`` names the parent), else this process; with its start time."""
    raw = os.environ.get(SERVER_PID_ENV, "")
    pid = int(raw) if raw.isdigit() and int(raw) == os.getppid() else os.getpid()
    return pid, process_started(pid)


def busy_notice(scope: str, limit: int) -> dict[str, dict[str, Any]]:
    """The shell's "busy, retry" notice (a Dash side update), in the visitor's language."""
    from components import ids
    from components.i18n import current_lang, t

    text = t("jobs.busy_user" if scope == "user" else "jobs.busy", current_lang(), n=limit)
    return {ids.JOBS_BUSY: {"is_open": True, "children": text}}


class Reaper:
    """Drops this worker's finished job processes: their ``Process`` objects and the pipes that report their exit
    (the fork server waits for the processes themselves; a job started any other way would stay a zombie until
    waited for, which this does). A thread polls them every ``REAP_SECONDS`` while there are any, and stops when
    there are none."""

    def __init__(self) -> None:
        self._procs: set[Any] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def add(self, process: Any) -> None:
        with self._lock:
            self._procs.add(process)
            # a thread that died (an exception raised into it: dash's test runner stops every thread it did not
            # start that way) is replaced, or this worker's finished jobs would stay in its books, pipes open
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chasqui-job-reaper", daemon=True)
                self._thread.start()

    def reap(self) -> int:
        """Wait for every finished job process; returns how many are still running."""
        with self._lock:
            for proc in list(self._procs):
                # exitcode polls (waitpid, WNOHANG): a finished child is reaped here; one that another waiter
                # reaped first no longer exists at all
                if proc.exitcode is not None or process_started(proc.pid) is None:
                    self._procs.discard(proc)
            return len(self._procs)

    def _run(self) -> None:
        while True:
            time.sleep(REAP_SECONDS)
            if not self.reap():
                with self._lock:
                    if not self._procs:
                        self._thread = None
                        return


class MemoManager(DiskcacheManager):
    """Dash's diskcache manager, reusing results (stored or in flight) of ``memo_background`` callbacks,
    with at most ``max_jobs`` job processes running at once (the others wait their turn, light).

    Stored result: answered without a process. In flight (another visitor's job for the same key is
    running): that job is shared instead of starting another, so a crowd opening a page on a cold
    cache starts one job, not one each. A shared job knows its waiters (page loads): a cancel (or the
    renderer dropping an old job) from one visitor only stops it when nobody else is waiting for it. Every job
    is known by pid *and* start time, so a late cancel never reaches a process that reused the pid.
    """

    RUNNING_SECONDS = 3600
    STARTING_SECONDS = 30.0  # another request is starting this key's job: wait this long to share it

    def __init__(self, cache: Any = None, max_jobs: int | None = None, queued: int | None = None,
                 per_user: int | None = None) -> None:
        from web import jobslots

        super().__init__(cache)
        self.max_jobs = max_jobs or jobslots.default_limit()
        self.limits = JobLimits(self.max_jobs, 2 * self.max_jobs if queued is None else queued,
                                per_user or DEFAULT_PER_USER)
        self.reaper = Reaper()
        self._refused = threading.local()  # a poll of a refused request: get_result → get_updated_props

    def build_cache_key(self, fn: Any, args: Any, cache_args_to_ignore: Any, triggered: Any) -> str:
        key = super().build_cache_key(fn, args, cache_args_to_ignore, triggered)
        if getattr(fn, "chasqui_memoized", False):
            return MEMO_PREFIX + hashlib.sha256(f"{key}:{context_version()}".encode()).hexdigest()
        return key

    def _spawn(self, key: str, job_fn: Any, args: Any, context: Any) -> int:
        """Start the job process; it waits for one of ``max_jobs`` slots before loading the callback
        (``web.jobslots``), so many different requests at once cannot exhaust the host."""
        import dill

        from web import jobslots

        starter = job_context()
        _forget_a_dead_job_server()
        process = starter.Process(target=jobslots.run_when_free,
                                  args=(self.handle.directory, self.max_jobs, dill.dumps(job_fn), key,
                                        self._make_progress_key(key), args, context),
                                  kwargs={"server": server_identity(), "environ": dict(os.environ)})
        process.start()
        self.reaper.add(process)
        return int(process.pid)

    def _start(self, key: str, job_fn: Any, args: Any, context: Any) -> int:
        """Start a job process if the host and this requester have room for one (``web.jobslots.admit``);
        otherwise start nothing and return the refusal's code (a key of ``REFUSED``)."""
        from web import jobslots
        from web.requester import requester

        self.reaper.reap()
        token = jobslots.admit(self.handle, requester(), self.limits)
        if isinstance(token, Refusal):
            return next(code for code, scope in REFUSED.items() if scope == token.scope)
        try:
            pid = self._spawn(key, job_fn, args, context)
        except BaseException:
            jobslots.withdraw(self.handle, token)
            raise
        jobslots.confirm(self.handle, token, pid)
        return pid

    def _record(self, pid: int) -> float | None:
        """Remember which process ``pid`` is (its start time), for later polls and cancels."""
        started = process_started(pid)
        if started is not None:
            self.handle.set(f"job-{pid}", started, expire=2 * self.RUNNING_SECONDS)
        return started

    def _same_job(self, job: Any) -> bool | None:
        """Is pid ``job`` still the process we started? None when we have no record of it."""
        started = self.handle.get(f"job-{int(job)}")
        return None if started is None else process_started(int(job)) == started

    def call_job_fn(self, key: str, job_fn: Any, args: Any, context: Any) -> Any:
        if not key.startswith(MEMO_PREFIX):
            pid = self._start(key, job_fn, args, context)
            if pid > 0:
                self._record(pid)
            return pid
        running = "running-" + key
        deadline = time.monotonic() + self.STARTING_SECONDS
        while True:
            with self.handle.transact():
                stored = self.handle.get(key)
                if stored is not None and not _failed(stored):
                    return -1  # no process: the renderer's first poll reads the stored result
                if stored is not None:
                    self.handle.delete(key)  # a crash is never served to a new visitor: run it again
                job = self.handle.get(running)
                if isinstance(job, tuple) and process_started(job[0]) == job[1]:
                    self._add_waiter(f"waiters-{job[0]}-{job[1]}")
                    return job[0]  # in flight: share it
                if job != "starting" or time.monotonic() > deadline:
                    self.handle.set(running, "starting", expire=self.STARTING_SECONDS)
                    break  # ours to start (outside the transaction: a spawn can take a second)
            time.sleep(0.05)  # another request is starting this very job
        try:
            pid = self._start(key, job_fn, args, context)
        except BaseException:
            self.handle.delete(running)
            raise
        if pid in REFUSED:  # no room: nothing started, nothing to share
            self.handle.delete(running)
            return pid
        started = self._record(pid)
        if started is None:  # it already finished (or died): its result, if any, is in the store
            self.handle.delete(running)
            return pid
        with self.handle.transact():
            self._add_waiter(f"waiters-{pid}-{started}")
            self.handle.set(running, (pid, started), expire=self.RUNNING_SECONDS)
        return pid

    def _add_waiter(self, name: str) -> None:
        """(In a transaction.) This request's page load now waits for the job."""
        waiters = set(self.handle.get(name) or ())
        waiters.add(_visitor() or f"anonymous-{len(waiters)}-{time.monotonic_ns()}")
        self.handle.set(name, waiters, expire=self.RUNNING_SECONDS)

    def get_progress(self, key: str) -> Any:
        if key.startswith(MEMO_PREFIX):  # a shared job's progress is read by every waiter
            return self.handle.get(self._make_progress_key(key))
        return super().get_progress(key)

    def get_result(self, key: str, job: Any) -> Any:
        scope = REFUSED.get(int(job)) if job is not None and str(job).lstrip("-").isdigit() else None
        self._refused.scope = scope
        if scope is not None:  # refused before a process started: nothing runs, nothing to read
            return self.UNDEFINED
        result = self.handle.get(key, self.UNDEFINED)
        if result is self.UNDEFINED:
            return self.UNDEFINED
        if not key.startswith(MEMO_PREFIX) or _failed(result):
            self.clear_cache_entry(key)  # one job, one read (and a crash is never replayed)
        else:
            self.handle.touch(key, expire=RESULT_SECONDS)  # kept while visitors keep reading it
        self.clear_cache_entry(self._make_progress_key(key))
        if job:
            self.terminate_job(job)
        return result

    def get_updated_props(self, key: str) -> Any:
        """Dash's side updates of a job, plus the "busy, retry" notice when this poll is of a refused request."""
        props = dict(super().get_updated_props(key))
        scope = getattr(self._refused, "scope", None)
        self._refused.scope = None
        if scope is not None:
            props.update(busy_notice(scope, self.limits.per_user if scope == "user" else self.limits.alive))
        return props

    def terminate_job(self, job: Any) -> None:
        if job is None or int(job) <= 0:  # -1 = answered from the store; 0 would mean every process
            return
        pid = int(job)
        started = self.handle.get(f"job-{pid}")
        if started is not None and process_started(pid) != started:
            return  # that job has ended and its pid now names another process: never kill it
        name, visitor = f"waiters-{pid}-{started}", _visitor()
        with self.handle.transact():
            waiters = self.handle.get(name)
            if waiters is not None:
                waiters = set(waiters)
                if visitor in waiters:
                    waiters.discard(visitor)
                elif visitor is None and waiters:
                    waiters.pop()  # no page load to name (a direct call): one waiter less
                if waiters:
                    self.handle.set(name, waiters, expire=self.RUNNING_SECONDS)
                    return  # somebody else still waits for this shared job
                self.handle.delete(name)
        super().terminate_job(pid)

    def job_running(self, job: Any) -> bool:
        if job is None or int(job) <= 0 or self._same_job(job) is False:
            return False
        return super().job_running(job)


# What a job process needs before it runs (every page's callbacks, with Dash, Polars, scikit-learn, plotly):
# 3-4 CPU-seconds of imports that a freshly spawned interpreter paid again for every job. The pages import
# scikit-learn and SciPy only where segments are fitted or named (in these jobs, and in a segment export), not
# when the app is built: the jobs get them here.
JOB_PRELOAD = ("callbacks", "web.jobslots", "web.runtime", "analytics.shared_cache", "dill", "sklearn.cluster",
               "sklearn.decomposition", "sklearn.metrics", "sklearn.ensemble", "scipy.optimize", "threadpoolctl")


@functools.cache
def job_context() -> Any:
    """How job processes start: forked from multiprocess's fork server, a process that was itself started
    fresh (exec, not fork) and only *imports* ``JOB_PRELOAD``; it never runs a query, so no Polars thread pool,
    no JVM and no server state exists to be forked (a job forked from the server process itself could hang).
    A job starts in milliseconds with its imports done, instead of spawning an interpreter. One fork server per
    server process (``start_job_server``, else the first job starts it; about 250 MB resident, most of it the
    libraries); ``run_when_free`` gives each job the environment and the working folder of the moment it was
    started, as a spawned process would have had, except what the preloaded libraries read once at import
    (``POLARS_MAX_THREADS``, OpenBLAS/OpenMP thread counts): those keep the values of the fork server's start.
    Polars' out-of-core spill cleaner thread is not forked into a job (a job that spilled to disk would leave
    its spill files to Polars' next start-up sweep; the page jobs work in memory)."""
    import multiprocess

    ctx = multiprocess.get_context("forkserver")
    ctx.set_forkserver_preload(list(JOB_PRELOAD))
    return ctx


def start_job_server() -> int:
    """Start the fork server now, not on the first job: it imports ``JOB_PRELOAD`` for ~3 s in its own process,
    which a server's first visitor would otherwise wait for (the call itself returns at once). The serving entry
    points call it (``python app.py serve``, each gunicorn worker); returns the fork server's pid."""
    from multiprocess import forkserver

    job_context()
    _forget_a_dead_job_server()
    forkserver.ensure_running()
    return int(forkserver._forkserver._forkserver_pid)


def _forget_a_dead_job_server() -> None:
    """multiprocess notices that its fork server died (killed, out of memory) with ``os.waitpid``, which fails
    for good once something else has reaped it (gevent's child watcher does, in a gunicorn worker that has run a
    subprocess): every later job would fail. Forget a dead one here, so the next start launches another."""
    from multiprocess import forkserver

    fs = forkserver._forkserver
    pid = fs._forkserver_pid
    if pid is None:
        return
    try:
        alive = os.waitpid(pid, os.WNOHANG)[0] == 0
    except ChildProcessError:  # reaped by somebody else: gone
        alive = False
    if alive:
        return
    with fs._lock:
        if fs._forkserver_pid == pid:
            if fs._forkserver_alive_fd is not None:
                os.close(fs._forkserver_alive_fd)
            fs._forkserver_pid = fs._forkserver_address = fs._forkserver_alive_fd = None


def background_manager(settings: Settings) -> MemoManager:
    """The app's background-callback manager. Jobs run in processes forked from a fork server that has their
    imports done (``job_context``) and configure themselves from the environment (``web.runtime.RUNTIME_ENV``).
    This is the one place that decides how jobs start.

    Its diskcache never evicts: it also holds the secret signing job handles (every stored result expires
    instead).
    """
    from analytics.shared_cache import open_cache
    from web.runtime import RUNTIME_ENV

    os.environ[RUNTIME_ENV] = settings.to_json()
    folder = settings.data.cache.background
    folder.mkdir(parents=True, exist_ok=True)
    return MemoManager(open_cache(folder, eviction_policy="none"), max_jobs=settings.max_jobs or None,
                       queued=settings.job_queue if settings.job_queue >= 0 else None,
                       per_user=settings.jobs_per_user)


__all__ = ["JOB_PRELOAD", "MemoManager", "Reaper", "background_manager", "busy_notice", "job_context", "start_job_server", "server_identity", "code_version", "context_version", "memo_background", "memoized", "result_key"]
