"""gunicorn's gevent worker, except that a stopping worker closes its idle keep-alive connections at once.

gunicorn's own gevent worker, told to stop (SIGTERM, a reload, ``max_requests``), stops accepting and then waits
for every open connection to end, up to ``graceful_timeout``. A connection idling between two requests (every
browser holding the app open keeps one, and ``keepalive`` is 65 s) never ends by itself, so each stop took the
whole 30 s: a container stopped in 30 s instead of 2, and a recycled worker's slot stayed empty for as long.

Here, once the worker is no longer alive, every connection that is not inside a request is shut down (the client
sees the connection close, as after any keep-alive timeout, and opens a new one to another worker); a request in
progress runs to its end, and its connection is shut down once the response has gone (gunicorn decided on
keep-alive when the request began). As with any keep-alive close, a client that sends its next request at that
very moment sees the connection closed and retries.
"""

from __future__ import annotations

import socket
from typing import Any

import gevent
from gunicorn.workers.ggevent import GeventWorker

STOP_POLL_SECONDS = 0.2


def shut_down(conn: Any) -> None:
    """Shut the connection down under its reader's feet: the greenlet waiting for its next request reads the end
    of the stream and ends as after a client's close. (gevent's own ``shutdown`` would instead cancel that wait
    with an error, logged as a socket error.) A duplicate of the descriptor is shut down and closed: shutting
    down acts on the connection, closing the duplicate leaves the original to its greenlet."""
    try:
        dup = socket.fromfd(conn.fileno(), conn.family, conn.type)
    except (OSError, ValueError):
        return  # closed meanwhile
    try:
        dup.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # the client had gone already
    finally:
        dup.close()


class ChasquiGeventWorker(GeventWorker):
    """``worker_class`` of ``deploy/gunicorn.conf.py``."""

    def init_process(self) -> None:
        self.open_connections: set[Any] = set()
        self.busy_connections: set[Any] = set()
        super().init_process()

    def run(self) -> None:
        gevent.spawn(self._close_idle_when_stopping)
        super().run()

    def handle(self, listener: Any, client: Any, addr: Any) -> None:
        self.open_connections.add(client)
        try:
            super().handle(listener, client, addr)
        finally:
            self.open_connections.discard(client)
            self.busy_connections.discard(client)

    def handle_request(self, listener_name: Any, req: Any, sock: Any, addr: Any) -> bool:
        self.busy_connections.add(sock)
        try:
            return bool(super().handle_request(listener_name, req, sock, addr))
        finally:
            self.busy_connections.discard(sock)

    def idle_connections(self) -> list[Any]:
        return [c for c in self.open_connections if c not in self.busy_connections]

    def _close_idle_when_stopping(self) -> None:
        while self.alive:
            gevent.sleep(STOP_POLL_SECONDS)
        # a request that was in progress closes its connection when it ends (gunicorn forces Connection: close
        # once the worker is not alive); the ones waiting for a next request are closed now, and again while
        # the worker drains (a request that just ended leaves its connection idle for a moment)
        while self.open_connections:
            for conn in self.idle_connections():
                shut_down(conn)
            gevent.sleep(STOP_POLL_SECONDS)
