"""diskcache folders that several processes open at once (gunicorn workers, job processes, the CLI).

Two things go wrong with a plain ``diskcache.Cache`` under load, both seen in the load test on a busy machine:

- opening: ``Cache.__init__`` writes its settings table and pragmas, and processes opening the same folder at
  the same moment can fail there with ``sqlite3.OperationalError: database is locked`` (python-diskcache issues
  85 and 266). :func:`open_cache` opens a folder under an exclusive file lock beside its database, so one process
  at a time runs that set-up (a cheap lock: it is held only while opening).
- writing: a write transaction (``set``, ``touch``, ``transact``...) raises ``diskcache.Timeout`` as soon as
  SQLite reports the database busy, unless the caller passed ``retry=True``; Dash's own background manager never
  does. :class:`SharedCache` makes every statement, ``BEGIN IMMEDIATE`` included, wait for the lock instead (up to
  ``WAIT_SECONDS``, then ``diskcache.Timeout`` as before), so a busy moment slows a request down instead of
  failing it.

Every wait is a Python sleep, never a wait inside SQLite or ``flock``. A gunicorn gevent worker runs many requests
as greenlets of one thread, each with its own SQLite connection: a request that holds a write transaction (or the
open lock) and yields to another greenlet, whose wait then blocks inside C, stops the whole worker, the holder
included, for good (seen in the load test: every greenlet of a worker stuck in ``BEGIN IMMEDIATE`` while the same
worker held the database's write lock, until gunicorn killed it at its 120 s timeout). So SQLite's own busy wait is
``BUSY_SECONDS`` and the open lock is taken without blocking; the waits around them are ``time.sleep`` (under
gevent, a switch to the other greenlets, the holder among them).
"""

from __future__ import annotations

import contextlib
import fcntl
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import diskcache

LOCK_NAME = ".open.lock"
BUSY_SECONDS = 0.005  # SQLite's own wait for a lock (in C: the whole thread waits, every greenlet on it too)
WAIT_SECONDS = 60.0  # then a statement is tried again after a sleep, for up to this long (diskcache's own limit)


def _naps() -> Iterator[float]:
    """Sleep lengths for a wait: 2, 4, ... up to 50 ms."""
    delay = 0.002
    while True:
        yield delay
        delay = min(delay * 2, 0.05)


class SharedCache(diskcache.Cache):
    """A ``diskcache.Cache`` whose statements and write transactions wait for a busy database in Python sleeps
    (``BUSY_SECONDS`` inside SQLite at a time) instead of raising Timeout."""

    def __init__(self, directory: str | None = None, timeout: float = BUSY_SECONDS, disk: Any = diskcache.Disk,
                 **settings: Any) -> None:
        super().__init__(directory, min(timeout, BUSY_SECONDS), disk, **settings)

    @property
    def _sql(self) -> Callable[..., Any]:
        execute = super()._sql

        def execute_when_free(statement: str, *args: Any, **kwargs: Any) -> Any:
            deadline = time.monotonic() + WAIT_SECONDS
            for nap in _naps():
                try:
                    return execute(statement, *args, **kwargs)
                except sqlite3.OperationalError as exc:  # a busy statement did nothing: it is tried again
                    if str(exc) != "database is locked" or time.monotonic() > deadline:
                        raise
                time.sleep(nap)
            raise AssertionError("unreachable")

        return execute_when_free

    def _transact(self, retry: bool = False, filename: Any = None) -> Any:
        # ``BEGIN IMMEDIATE`` waits in ``_sql`` (sleeps, up to WAIT_SECONDS); diskcache's own ``retry`` would try
        # again at once, with no sleep, on any error (a connection left inside a transaction: a busy loop)
        return super()._transact(retry=False, filename=filename)


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """The folder's open lock (exclusive, across processes), waited for in sleeps."""
    with open(folder / LOCK_NAME, "a") as lock:
        for nap in _naps():
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                time.sleep(nap)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def open_cache(directory: str | Path, **settings: Any) -> SharedCache:
    """The cache in ``directory`` (created if missing), opened while holding the folder's open lock."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with folder_lock(folder):
        return SharedCache(str(folder), **settings)


__all__ = ["BUSY_SECONDS", "LOCK_NAME", "SharedCache", "folder_lock", "open_cache"]
