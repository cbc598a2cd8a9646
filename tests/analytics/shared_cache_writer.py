"""What each process of the shared-cache test runs, in a module of its own: a spawned process imports the module
its function lives in, and the test module would bring pytest (about a second of imports per process)."""

from __future__ import annotations

from analytics.shared_cache import open_cache


def write(directory: str, start: object, n: int) -> None:
    start.wait()  # type: ignore[attr-defined]
    cache = open_cache(directory, eviction_policy="none")
    for _ in range(n):
        cache.incr("count")  # a write transaction
        with cache.transact():  # and an explicit one, as the job manager does
            cache.set("last", cache.get("last", 0) + 1)
    cache.close()
