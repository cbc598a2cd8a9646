"""Response headers (CSP and friends) and the request-body limit (a WSGI middleware); no Dash, no Flask."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

# --------------------------------------------------------------------------- response headers


def content_security_policy(script_hashes: Iterable[str], *, allow_eval: bool = False,
                            frame_ancestors: str = "'none'") -> str:
    """A CSP for a Dash app served entirely from its own origin (``serve_locally=True``).

    Inline scripts (Dash's renderer bootstrap and clientside callbacks) are allowed by hash only.
    Styles need 'unsafe-inline' (React and plotly.js set style attributes); images may be data: URIs
    (QR codes, plotly's PNG export) and blobs (downloads).
    """
    script = ["'self'", *script_hashes] + (["'unsafe-eval'"] if allow_eval else [])
    directives = {
        "default-src": ["'self'"],
        "script-src": script,
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:", "blob:"],
        "font-src": ["'self'", "data:"],
        "connect-src": ["'self'"],
        "worker-src": ["'self'", "blob:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": [frame_ancestors],
    }
    return "; ".join(f"{k} {' '.join(v)}" for k, v in directives.items())


def security_headers(csp: str, *, https: bool, hsts_seconds: int = 31_536_000) -> dict[str, str]:
    headers = {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "strict-origin-when-cross-origin",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
    }
    if https:
        headers["Strict-Transport-Security"] = f"max-age={hsts_seconds}; includeSubDomains"
    return headers


# --------------------------------------------------------------------------- request-size limit


class BodyLimit:
    """WSGI middleware: a request body larger than ``limit`` bytes gets 413 before the app reads it.

    A declared ``Content-Length`` over the limit is refused without reading. A body without one
    (``Transfer-Encoding: chunked``) is read up to ``limit + 1`` bytes: over the limit → 413, otherwise
    it is handed on as a buffered body with its length set, so the app never sees an unbounded stream.
    """

    def __init__(self, app: Any, limit: int) -> None:
        self.app, self.limit = app, int(limit)

    def _too_large(self, start_response: Any) -> list[bytes]:
        body = f"request body too large (limit {self.limit / 1048576:.0f} MB)\n".encode()
        start_response("413 Request Entity Too Large", [
            ("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))),
            ("Connection", "close"), ("X-Content-Type-Options", "nosniff"), ("X-Frame-Options", "DENY"),
            ("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"),
            ("Referrer-Policy", "strict-origin-when-cross-origin")])
        return [body]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        raw_len = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if raw_len and not chunked:
            try:
                length = int(raw_len)
            except ValueError:
                length = -1
            if length < 0:
                start_response("400 Bad Request", [("Content-Type", "text/plain; charset=utf-8")])
                return [b"bad Content-Length\n"]
            if length > self.limit:
                return self._too_large(start_response)
        elif chunked or (environ.get("wsgi.input_terminated")
                         and environ.get("REQUEST_METHOD") in ("POST", "PUT", "PATCH")):
            import io

            stream = environ.get("wsgi.input")
            buf = bytearray()
            while stream is not None:
                chunk = stream.read(min(1 << 16, self.limit + 1 - len(buf)))
                if not chunk:
                    break
                buf += chunk
                if len(buf) > self.limit:
                    return self._too_large(start_response)
            environ["wsgi.input"] = io.BytesIO(bytes(buf))
            environ["CONTENT_LENGTH"] = str(len(buf))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)
