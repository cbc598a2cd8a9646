"""gunicorn (the README's production command) stops although clients hold idle keep-alive connections, and a
request in progress when the stop comes is still answered (then its connection is closed)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket

import httpx

from components import ids
from tests.fixtures.web import gunicorn, navbar_toggle


def _read_response(s: socket.socket) -> bytes:
    """One HTTP response with a Content-Length (or what came before the connection closed)."""
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
        head, sep, body = data.partition(b"\r\n\r\n")
        m = re.search(rb"content-length:\s*(\d+)", head, re.I)
        if sep and m and len(body) >= int(m.group(1)):
            return data


def test_sigterm_closes_idle_keepalives_and_finishes_the_request_in_progress(demo_dir, tmp_path):
    # graceful_timeout raised to 10 minutes: a stop that waited for the idle connections would not end in this test
    with gunicorn(demo_dir, tmp_path, 1, "--graceful-timeout", "600") as g:
        # two clients idle between requests, as browsers holding the app open are (keepalive is 65 s)
        # (30 s: gunicorn's own keep-alive timeout, 65 s, must not be what closes them)
        idle = [socket.create_connection(("127.0.0.1", g.port), timeout=30) for _ in range(2)]
        for s in idle:
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            head = _read_response(s).split(b"\r\n\r\n", 1)[0].decode().lower()
            assert head.startswith("http/1.1 200") and "connection: keep-alive" in head, head
        # a callback request whose body is still on its way when the stop comes
        body = json.dumps(navbar_toggle(httpx.get(g.base + "/_dash-dependencies", timeout=10).json())).encode()
        slow = socket.create_connection(("127.0.0.1", g.port), timeout=30)
        slow.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     + f"Content-Length: {len(body)}\r\n\r\n".encode() + body[:10])
        httpx.get(g.base + "/healthz", timeout=10)  # the worker has read the slow request's head meanwhile

        os.killpg(g.proc.pid, signal.SIGTERM)
        for s in idle:  # the server closes the idle connections (the clients never do)
            assert s.recv(1) == b""
        slow.sendall(body[10:])
        answer = _read_response(slow)
        assert answer.split(b"\r\n", 1)[0] == b"HTTP/1.1 200 OK", answer[:500]
        assert json.loads(answer.split(b"\r\n\r\n", 1)[1])["response"][ids.NAVBAR_COLLAPSE]["is_open"] is True
        assert slow.recv(1) == b""  # answered, then closed by the server rather than kept for a next request
        # gunicorn ends: nothing was left open for it to wait for (120 s only guards against a hang)
        assert g.proc.wait(120) == 0, g.log.read_text()[-3000:]
        assert "Socket error" not in g.log.read_text()  # the idle connections ended as after a client's close
