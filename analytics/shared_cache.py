"""diskcache folders that several processes open at once (gunicorn workers, job processes, the CLI).

Two things go wrong with a plain ``diskcache.Cache`` under load, both seen in the load test on a busy machine:

- opening: ``Cache.__init__`` writes its settings table and pragmas, and processes opening the same folder at
  the same moment can fail there with ``sqlite3.OperationalError: database is locked`` (python-diskcache issues
  85 and 266). :func:`open_cache` opens a folder under an exclusive file lock beside its database, so one process
  at a time runs that set-up (a cheap lock: it is held only while opening).
- writing: a write transaction (``set``, ``touch``, ``transact``...) raises ``diskcache.Timeout`` as soon as
  SQLite reports the database busy, unless the caller passed ``retry=True``; Dash's own background manager never
  does. :class:`SharedCache` makes every write transaction wait for the lock instead (SQLite's busy timeout,
  60 s by default, then again), so a busy moment slows a request down instead of failing it.
"""

from __future__ import annotations

import fcntl
from pathlib import Path
from typing import Any

import diskcache

LOCK_NAME = ".open.lock"


class SharedCache(diskcache.Cache):
    """A ``diskcache.Cache`` whose write transactions wait for the database lock instead of raising Timeout."""

    def _transact(self, retry: bool = False, filename: Any = None) -> Any:
        return super()._transact(retry=True, filename=filename)


def open_cache(directory: str | Path, **settings: Any) -> SharedCache:
    """The cache in ``directory`` (created if missing), opened while holding the folder's open lock."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return SharedCache(str(folder), **settings)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


__all__ = ["LOCK_NAME", "SharedCache", "open_cache"]
