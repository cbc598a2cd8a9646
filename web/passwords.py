"""Passwords and the users file: hashing, parsing, HTTP basic sign-in (no Dash, no Flask).

Users file (``CHASQUI_AUTH_FILE``), one user per line, ``#`` starts a comment::

    ana:executive:scrypt$16384$8$1$<salt b64>$<hash b64>
    luis:logistics,traceability-admin:pbkdf2_sha256$600000$<salt b64>$<hash b64>

Make a line with ``python app.py hash-password USER ROLE[,ROLE]`` (``users_line``; the password is read
from stdin when it is not a terminal, asked for otherwise).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from web.access import ROLES, User
from web.throttle import FailureCounter


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
    digest, so the slow password hash runs once per user and process, not on every callback.

    Wrong credentials cost one hash once: the pair is remembered (per process) and answered without hashing
    again, and, with a ``failures`` counter (``web.throttle``), failed sign-ins are counted per user name and
    client address; past the limits ``authenticate`` raises ``Throttled`` *before* hashing anything.
    A request without credentials never hashes."""

    def __init__(self, users: Mapping[str, User], cache_size: int = 1024,
                 failures: FailureCounter | None = None) -> None:
        self.users = dict(users)
        self.failures = failures
        self._key = secrets.token_bytes(32)
        self._ok: OrderedDict[bytes, str] = OrderedDict()
        self._bad: OrderedDict[bytes, None] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()

    def _remember(self, table: OrderedDict[bytes, Any], digest: bytes, value: Any) -> None:
        with self._lock:
            table[digest] = value
            table.move_to_end(digest)
            while len(table) > self._size:
                table.popitem(last=False)

    def authenticate(self, authorization: str | None, client: str | None = None) -> User | None:
        """The user these credentials name, None when absent or wrong; raises ``Throttled`` (no hash run)
        when the user name or the client address ``client`` has failed too often."""
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
            if digest in self._bad:
                self._bad.move_to_end(digest)
                return None  # the same wrong pair again (a browser resending it): no hash, not counted again
        if self.failures is not None:
            self.failures.check(name, client)
        if user is None:
            verify_password(password, _DUMMY_HASH)  # same work for unknown users (no user enumeration)
        elif verify_password(password, user.password_hash):
            self._remember(self._ok, digest, name)
            return user
        self._remember(self._bad, digest, None)
        if self.failures is not None:
            self.failures.failed(name, client)
        return None


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


# --------------------------------------------------------------------------- users-file lines


def users_line(name: str, roles: str, password: str) -> str:
    """One users-file line ``name:roles:scrypt$…`` (checked like the file itself); SecurityError if unusable."""
    line = f"{name}:{roles}:{hash_password(password)}"
    parse_users(line)
    return line
