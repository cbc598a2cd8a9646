"""Security policy, in plain Python (no Dash, no Flask): users, passwords, roles → pages, headers, uploads.

``app._install_security`` applies it to every request. Everything here is testable on its own.

Users file (``CHASQUI_AUTH_FILE``), one user per line, ``#`` starts a comment::

    ana:executive:scrypt$16384$8$1$<salt b64>$<hash b64>
    luis:logistics,traceability-admin:pbkdf2_sha256$600000$<salt b64>$<hash b64>

Make a line with ``python -m analytics.security hash USER ROLE[,ROLE]`` (reads the password from the
terminal or stdin).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# --------------------------------------------------------------------------- roles and pages

ROLES = ("logistics", "marketing", "executive", "traceability-admin")
PAGES = ("/", "/logistics", "/segments", "/scenarios", "/sourcing", "/traceability", "/data")
ROLE_PAGES: dict[str, frozenset[str]] = {
    "executive": frozenset(PAGES),
    "logistics": frozenset({"/", "/logistics", "/scenarios", "/sourcing", "/traceability", "/data"}),
    "marketing": frozenset({"/", "/segments", "/sourcing"}),
    "traceability-admin": frozenset({"/", "/traceability", "/data"}),
}
# Actions inside a page that need more than seeing the page: which roles may perform them.
ACTION_ROLES: dict[str, frozenset[str]] = {
    "data-import": frozenset({"executive", "logistics"}),  # replaces the orders table
    "trace-export": frozenset({"executive", "traceability-admin"}),  # mock-recall exports
}
# Component-id prefix (components/ids.py prefixes every id by page) → page.
ID_PREFIX_PAGES: dict[str, str] = {
    "overview": "/", "live": "/", "data": "/data", "logistics": "/logistics", "segments": "/segments",
    "scenarios": "/scenarios", "sourcing": "/sourcing", "trace": "/traceability",
}
SHELL_PREFIXES = ("shell",)  # navbar, language and theme: every visitor of any page allowed to them
# Output ids whose callback is an action (see ACTION_ROLES).
ACTION_OUTPUTS: dict[str, str] = {"data-upload-result": "data-import", "trace-download": "trace-export"}
PAGES_ROUTER_OUTPUTS = ("_pages_content", "_pages_store", "_pages_dummy")


class SecurityError(ValueError):
    """A security configuration (users file, setting) Chasqui cannot use."""


# --------------------------------------------------------------------------- passwords

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
PBKDF2_ITERATIONS = 600_000
_USERNAME = re.compile(r"^[A-Za-z0-9._@+-]{1,64}$")


def _b64(b: bytes) -> str:
    return base64.b64encode(b).decode("ascii")


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """``scrypt$N$r$p$salt$hash`` (salt 16 random bytes, 32-byte key)."""
    if not password:
        raise SecurityError("empty password")
    salt = secrets.token_bytes(16)
    key = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**26, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(key)}"


def hash_password_pbkdf2(password: str, iterations: int = PBKDF2_ITERATIONS) -> str:
    """``pbkdf2_sha256$iterations$salt$hash`` (for systems that cannot afford scrypt's memory)."""
    if not password:
        raise SecurityError("empty password")
    salt = secrets.token_bytes(16)
    key = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)
    return f"pbkdf2_sha256${iterations}${_b64(salt)}${_b64(key)}"


def check_hash_format(encoded: str) -> None:
    """Raise SecurityError unless ``encoded`` is a supported, well-formed password hash."""
    parts = encoded.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            if n < 2**10 or n & (n - 1) or not (1 <= r <= 64) or not (1 <= p <= 16):
                raise SecurityError(f"scrypt parameters out of range (N={n}, r={r}, p={p})")
            base64.b64decode(parts[4], validate=True), base64.b64decode(parts[5], validate=True)
            return
        if parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            if int(parts[1]) < 100_000:
                raise SecurityError(f"pbkdf2 iterations too low ({parts[1]}; use ≥ 100000)")
            base64.b64decode(parts[2], validate=True), base64.b64decode(parts[3], validate=True)
            return
    except (ValueError, binascii.Error) as exc:
        if isinstance(exc, SecurityError):
            raise
        raise SecurityError(f"malformed password hash ({exc})") from None
    raise SecurityError("unsupported password hash (use scrypt$… or pbkdf2_sha256$…; plain passwords are refused)")


def verify_password(password: str, encoded: str) -> bool:
    """Constant-time check of ``password`` against a stored hash; False for any malformed hash."""
    parts = encoded.split("$")
    try:
        if parts[0] == "scrypt" and len(parts) == 6:
            n, r, p = int(parts[1]), int(parts[2]), int(parts[3])
            salt, want = base64.b64decode(parts[4]), base64.b64decode(parts[5])
            got = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, maxmem=2**27,
                                 dklen=len(want))
        elif parts[0] == "pbkdf2_sha256" and len(parts) == 4:
            salt, want = base64.b64decode(parts[2]), base64.b64decode(parts[3])
            got = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, int(parts[1]), dklen=len(want))
        else:
            return False
    except (ValueError, binascii.Error):
        return False
    return hmac.compare_digest(got, want)


# --------------------------------------------------------------------------- users file


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset[str]
    password_hash: str

    def pages(self) -> frozenset[str]:
        out: set[str] = set()
        for role in self.roles:
            out |= ROLE_PAGES[role]
        return frozenset(out)


def parse_users(text: str, source: str = "<users>") -> dict[str, User]:
    """Parse a users file; any bad line raises SecurityError naming the line (fail closed)."""
    users: dict[str, User] = {}
    for n, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":", 2)
        if len(parts) != 3:
            raise SecurityError(f"{source}:{n}: expected USER:ROLE[,ROLE]:HASH")
        name, roles_raw, encoded = (p.strip() for p in parts)
        if not _USERNAME.match(name):
            raise SecurityError(f"{source}:{n}: bad user name {name!r} (letters, digits, . _ @ + -)")
        roles = frozenset(r.strip() for r in roles_raw.split(",") if r.strip())
        unknown = sorted(roles - set(ROLES))
        if not roles or unknown:
            raise SecurityError(f"{source}:{n}: unknown or missing role {unknown or roles_raw!r} "
                                f"(roles: {', '.join(ROLES)})")
        try:
            check_hash_format(encoded)
        except SecurityError as exc:
            raise SecurityError(f"{source}:{n}: {exc}") from None
        if name in users:
            raise SecurityError(f"{source}:{n}: duplicate user {name!r}")
        users[name] = User(name, roles, encoded)
    if not users:
        raise SecurityError(f"{source}: no users (sign-in would lock everyone out)")
    return users


def load_users(path: Path | str) -> dict[str, User]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SecurityError(f"CHASQUI_AUTH_FILE not found: {path}") from None
    except UnicodeDecodeError:
        raise SecurityError(f"CHASQUI_AUTH_FILE is not UTF-8 text: {path}") from None
    return parse_users(text, str(path))


class Authenticator:
    """HTTP basic credentials → User. Verified credentials are remembered (per process) by a keyed
    digest, so the slow password hash runs once per user and process, not on every callback."""

    def __init__(self, users: Mapping[str, User], cache_size: int = 1024) -> None:
        self.users = dict(users)
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, str] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def authenticate(self, authorization: str | None) -> User | None:
        creds = parse_basic(authorization)
        if creds is None:
            return None
        name, password = creds
        user = self.users.get(name)
        digest = hmac.new(self._key, f"{name}\0{password}".encode(), hashlib.sha256).digest()
        with self._lock:
            if user is not None and self._ok.get(digest) == name:
                self._ok.move_to_end(digest)
                return user
        if user is None:
            verify_password(password, _DUMMY_HASH)  # same work for unknown users (no user enumeration)
            return None
        if not verify_password(password, user.password_hash):
            return None
        with self._lock:
            self._ok[digest] = name
            while len(self._ok) > self._size:
                self._ok.popitem(last=False)
        return user


_DUMMY_HASH = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$" + _b64(b"\0" * 32)


def parse_basic(authorization: str | None) -> tuple[str, str] | None:
    """``Authorization: Basic …`` → (user, password), or None if absent or malformed."""
    if not authorization or len(authorization) > 4096:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    name, sep, password = decoded.partition(":")
    if not sep or not name:
        return None
    return name, password


# --------------------------------------------------------------------------- access decisions


@dataclass(frozen=True)
class Decision:
    allowed: bool
    status: int = 200  # 401 sign in, 403 forbidden, 400 malformed
    reason: str = ""


ALLOW = Decision(True)


def normalize_page(path: str, prefix: str = "/") -> str:
    """A request path (under the app's URL prefix) → the page path it shows (``/logistics/`` → ``/logistics``)."""
    if prefix != "/" and path.startswith(prefix):
        path = "/" + path[len(prefix):]
    path = "/" + path.strip("/")
    return path


def page_access(user: User | None, page: str, public_pages: Iterable[str], auth_enabled: bool) -> Decision:
    """May ``user`` (None = anonymous) see ``page``?"""
    if not auth_enabled or page in set(public_pages):
        return ALLOW
    if user is None:
        return Decision(False, 401, "sign-in required")
    if page in PAGES and page not in user.pages():
        return Decision(False, 403, f"user {user.name!r} (roles: {', '.join(sorted(user.roles))}) "
                                    f"may not open {page}")
    return ALLOW


def _id_text(component_id: Any) -> str:
    if isinstance(component_id, str):
        return component_id
    if isinstance(component_id, dict):
        t = component_id.get("type")
        return t if isinstance(t, str) else ""
    return ""


def callback_outputs(body: Mapping[str, Any]) -> list[str]:
    """The output component ids of a ``/_dash-update-component`` request body (dict ids by their type)."""
    outs = body.get("outputs")
    items = outs if isinstance(outs, list) else [outs]
    ids: list[str] = []
    for item in items:
        for entry in item if isinstance(item, list) else [item]:  # pattern-matching ALL → list
            if isinstance(entry, dict):
                ids.append(_id_text(entry.get("id")))
    if not ids and isinstance(body.get("output"), str):
        for part in body["output"].strip(".").split("..."):
            ids.append(part.rsplit(".", 1)[0].split("@")[0])
    return ids


def _page_of_id(component_id: str) -> str | None:
    prefix = component_id.split("-", 1)[0]
    return ID_PREFIX_PAGES.get(prefix)


def _router_pathname(body: Mapping[str, Any]) -> Any:
    for item in body.get("inputs") or []:
        if isinstance(item, dict) and item.get("id") == "_pages_location" and item.get("property") == "pathname":
            return item.get("value")
    return None


def validate_callback_body(body: Any, known_outputs: Iterable[str], prefix: str = "/") -> Decision:
    """Shape checks before Dash sees a callback request: unknown callbacks and malformed bodies get 400."""
    if not isinstance(body, dict):
        return Decision(False, 400, "callback request body must be a JSON object")
    output = body.get("output")
    if not isinstance(output, str) or output not in set(known_outputs):
        return Decision(False, 400, "unknown callback output")
    for key in ("inputs", "state"):
        items = body.get(key, [])
        if not isinstance(items, list):
            return Decision(False, 400, f"{key!r} must be a list")
        for item in items:
            entries = item if isinstance(item, list) else [item]
            if not all(isinstance(e, dict) and "id" in e and isinstance(e.get("property"), str) for e in entries):
                return Decision(False, 400, f"malformed {key!r} entry")
    if not isinstance(body.get("outputs"), (dict, list)):
        return Decision(False, 400, "'outputs' must be an object or a list")
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return Decision(False, 400, "'changedPropIds' must be a list of strings")
    outputs = callback_outputs(body)
    if any(o in PAGES_ROUTER_OUTPUTS for o in outputs):
        pathname = _router_pathname(body)
        if not isinstance(pathname, str) or len(pathname) > 2048 or not pathname.startswith(prefix):
            return Decision(False, 400, f"page router: pathname must be a path under {prefix}")
        for item in body.get("inputs") or []:
            if isinstance(item, dict) and item.get("id") == "_pages_location" and item.get("property") == "search":
                if item.get("value") is not None and not isinstance(item.get("value"), str):
                    return Decision(False, 400, "page router: search must be a string")
    return ALLOW


def callback_access(user: User | None, body: Mapping[str, Any], public_pages: Iterable[str],
                    auth_enabled: bool, prefix: str = "/") -> Decision:
    """May ``user`` run this callback? Its outputs' id prefixes name the page (and the action) it belongs to."""
    if not auth_enabled:
        return ALLOW
    public = set(public_pages)
    for out in callback_outputs(body):
        if out in PAGES_ROUTER_OUTPUTS:  # the router renders the layout of the requested pathname
            pathname = _router_pathname(body)
            d = page_access(user, normalize_page(pathname if isinstance(pathname, str) else "/", prefix),
                            public, True)
        elif out.split("-", 1)[0] in SHELL_PREFIXES:
            d = ALLOW  # language, theme, navbar: harmless on any page a visitor may see
        else:
            page = _page_of_id(out)
            if page is None:
                d = ALLOW if user is not None else Decision(False, 401, "sign-in required")
            else:
                d = page_access(user, page, public, True)
        if not d.allowed:
            return d
        action = ACTION_OUTPUTS.get(out)
        if action is not None:
            if user is None:
                return Decision(False, 401, "sign-in required")
            if not (user.roles & ACTION_ROLES[action]):
                return Decision(False, 403, f"user {user.name!r} may not perform {action}")
    return ALLOW


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


# --------------------------------------------------------------------------- uploads

UPLOAD_EXTENSIONS = (".csv", ".txt")
UPLOAD_MIME_TYPES = ("text/csv", "text/plain", "application/vnd.ms-excel", "application/csv",
                     "text/comma-separated-values", "application/octet-stream", "")
_DATA_URL = re.compile(r"^data:(?P<mime>[\w.+-]+/[\w.+-]+)?(?P<params>(;[\w.+-]+=[\w.+-]+)*)?;base64,")
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


class UploadError(ValueError):
    """An upload Chasqui refuses; the message says why and is shown to the user."""


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    encoding: str


def decode_upload(contents: Any, filename: Any, max_bytes: int) -> Upload:
    """Validate a ``dcc.Upload`` value (a base64 data URL) as a CSV text file of at most ``max_bytes``.

    Checks, in order: types, file name and extension, data-URL form and declared type, size (before
    decoding), strict base64, text encoding (UTF-8 with or without BOM, else Latin-1) and no binary
    control bytes (a renamed spreadsheet, zip or executable is refused).
    """
    if not isinstance(contents, str) or not isinstance(filename, str):
        raise UploadError("no file received")
    name = os.path.basename(filename.replace("\\", "/")).strip()
    if not name or len(name) > 255 or any(ch in name for ch in "\0\r\n"):
        raise UploadError("invalid file name")
    if not name.lower().endswith(UPLOAD_EXTENSIONS):
        raise UploadError(f"only CSV files are accepted ({', '.join(UPLOAD_EXTENSIONS)}), not {name!r}")
    m = _DATA_URL.match(contents[:300])
    if m is None:
        raise UploadError("upload is not a base64 data URL")
    mime = (m.group("mime") or "").lower()
    if mime not in UPLOAD_MIME_TYPES:
        raise UploadError(f"file type {mime!r} is not CSV text")
    payload = contents[m.end():]
    approx = len(payload) * 3 // 4
    if approx > max_bytes + 3:
        raise UploadError(f"file too large: {approx / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB)")
    try:
        data = base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        raise UploadError("upload is not valid base64") from None
    if len(data) > max_bytes:
        raise UploadError(f"file too large: {len(data) / 1e6:.1f} MB (limit {max_bytes / 1e6:.1f} MB)")
    if not data.strip():
        raise UploadError("file is empty")
    if _CONTROL.search(data):
        raise UploadError("file contains binary data (not a CSV text file)")
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    try:
        body.decode("utf-8")
        encoding = "utf-8"
    except UnicodeDecodeError:
        encoding = "latin-1"  # every byte decodes; control bytes were refused above
    return Upload(name, data, encoding)


def import_dataco_upload(contents: Any, filename: Any, data_dir: Path | str, max_bytes: int) -> dict[str, Any]:
    """Validate an uploaded DataCo CSV, then import it with ``analytics.dataco.import_dataco``.

    Returns the import's JSON (``rows_in == imported + quarantined``); raises UploadError for a
    refused file. The upload is written to a private temporary file next to the data and removed.
    """
    import tempfile

    from analytics.dataco import import_dataco

    upload = decode_upload(contents, filename, max_bytes)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".upload-", suffix=".csv", dir=data_dir)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(upload.data)
        result = import_dataco(tmp, data_dir).as_json()
    finally:
        Path(tmp).unlink(missing_ok=True)
    result["file"] = upload.filename
    return result


# --------------------------------------------------------------------------- command line


def _main(argv: list[str]) -> int:
    """``python -m analytics.security hash USER ROLE[,ROLE]`` → one users-file line on stdout."""
    import getpass

    if len(argv) != 3 or argv[0] != "hash":
        print("usage: python -m analytics.security hash USER ROLE[,ROLE]   (password from tty or stdin)",
              file=sys.stderr)
        return 2
    name, roles = argv[1], argv[2]
    password = getpass.getpass("password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    line = f"{name}:{roles}:{hash_password(password)}"
    try:
        parse_users(line)
    except SecurityError as exc:
        print(json.dumps({"error": str(exc)}), file=sys.stderr)
        return 2
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
