"""OpenID Connect sessions kept on the server, so that signing out really ends them.

The signed session cookie says who the user is; it also carries a random session id (``sid``) that must be
listed here (a diskcache in ``CACHE_DIR/sign-in``, shared by every worker of the host). Signing out removes
the id: a copy of the cookie captured before (a stolen laptop, a proxy log) no longer signs anyone in, even
though its signature and expiry are still valid. An id expires with the session (``CHASQUI_SESSION_HOURS``).

Several hosts (Kubernetes replicas) each keep their own list: the Service's ClientIP affinity keeps a browser
on one pod, and a browser that lands on another pod signs in again (fail closed, never open).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

PREFIX = "session-"


class SessionStore:
    """Live OIDC session ids (``cache``: a ``diskcache.Cache``)."""

    def __init__(self, cache: Any, clock: Callable[[], float] = time.time) -> None:
        self.cache = cache
        self.clock = clock

    def open(self, expires_at: float) -> str:
        """A new session id, live until ``expires_at`` (Unix time)."""
        sid = secrets.token_urlsafe(32)
        self.cache.set(PREFIX + sid, int(expires_at), expire=max(1.0, expires_at - self.clock()))
        return sid

    def active(self, sid: Any) -> bool:
        if not isinstance(sid, str) or not 20 <= len(sid) <= 100:
            return False
        exp = self.cache.get(PREFIX + sid)
        return isinstance(exp, int) and exp > self.clock()

    def revoke(self, sid: Any) -> None:
        if isinstance(sid, str) and len(sid) <= 100:
            self.cache.delete(PREFIX + sid)


def open_store(folder: Any) -> SessionStore:
    """The host's session list in ``folder`` (``settings.data.cache.sign_in``)."""
    from analytics.shared_cache import open_cache

    return SessionStore(open_cache(folder, size_limit=64 * 2**20))


__all__ = ["SessionStore", "open_store"]
