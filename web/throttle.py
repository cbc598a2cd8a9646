"""Failed sign-ins counted per user name and per client address, shared by every worker of a host.

HTTP basic sign-in checks a password with scrypt (tens of milliseconds of CPU on purpose). Without a limit, a
script can guess passwords for ever, and every made-up ``Authorization`` header burns one hash. The
``Authenticator`` (``web.passwords``) asks this counter *before* it hashes anything:

- at most ``USER_FAILURES`` failed sign-ins for one user name, and ``ADDRESS_FAILURES`` from one client address,
  within ``WINDOW_SECONDS``; past that, ``check`` raises :class:`Throttled` with the seconds until the oldest of
  those failures leaves the window (the server answers 429 with ``Retry-After``) and no hash runs;
- a failure is counted once per distinct (name, password): a browser that resends a wrong saved password with
  every request is not counted again (the ``Authenticator`` remembers recent wrong pairs and answers them
  without hashing).

The counts live in a diskcache (``CACHE_DIR/sign-in``), so the limits hold for the host, not per worker.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from typing import Any

USER_FAILURES = 10
ADDRESS_FAILURES = 30
WINDOW_SECONDS = 300.0


class Throttled(Exception):
    """Too many failed sign-ins for this user name or client address; ``retry_after`` in whole seconds."""

    def __init__(self, retry_after: int, scope: str) -> None:
        super().__init__(f"too many failed sign-ins from this {scope}; try again in {retry_after} s")
        self.retry_after = retry_after
        self.scope = scope


def _key(kind: str, value: str) -> str:
    return f"fail-{kind}-" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()[:32]


class FailureCounter:
    """Sliding-window counts of failed sign-ins (see the module docstring). ``cache``: a ``diskcache.Cache``."""

    def __init__(self, cache: Any, *, user_limit: int = USER_FAILURES, address_limit: int = ADDRESS_FAILURES,
                 window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.limits = {"user": user_limit, "address": address_limit}
        self.window = float(window)
        self.clock = clock

    def _recent(self, key: str, now: float) -> list[float]:
        return [t for t in (self.cache.get(key) or ()) if now - t < self.window]

    def check(self, user: str | None, address: str | None) -> None:
        """Raise Throttled when ``user`` or ``address`` is past its limit (nothing is counted here)."""
        now = self.clock()
        for kind, value in (("user", user), ("address", address)):
            if not value:
                continue
            recent = self._recent(_key(kind, value), now)
            if len(recent) >= self.limits[kind]:
                oldest = sorted(recent)[-self.limits[kind]]
                raise Throttled(max(1, math.ceil(oldest + self.window - now)), kind)

    def failed(self, user: str | None, address: str | None) -> None:
        """Count one failed sign-in for ``user`` and ``address``."""
        now = self.clock()
        with self.cache.transact():
            for kind, value in (("user", user), ("address", address)):
                if not value:
                    continue
                key = _key(kind, value)
                recent = (self._recent(key, now) + [now])[-self.limits[kind]:]
                self.cache.set(key, recent, expire=self.window)


def open_counter(folder: Any) -> FailureCounter:
    """The host's counter in ``folder`` (``settings.data.cache.sign_in``)."""
    from analytics.shared_cache import open_cache

    return FailureCounter(open_cache(folder, size_limit=64 * 2**20))


__all__ = ["ADDRESS_FAILURES", "USER_FAILURES", "WINDOW_SECONDS", "FailureCounter", "Throttled", "open_counter"]
