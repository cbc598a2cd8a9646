"""Passwords and the users file: hashing, parsing, HTTP basic sign-in (no Dash, no Flask).

Users file (``CHASQUI_AUTH_FILE``), one user per line, ``#`` starts a comment::

    ana:executive:scrypt$16384$8$1$<salt b64>$<hash b64>
    luis:logistics,traceability-admin:pbkdf2_sha256$600000$<salt b64>$<hash b64>

Make a line with ``python -m web.passwords hash USER ROLE[,ROLE]`` (reads the password from the
terminal or stdin).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
import sys
import threading
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path

from web.access import ROLES, User


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


# --------------------------------------------------------------------------- command line


def _main(argv: list[str]) -> int:
    """``python -m web.passwords hash USER ROLE[,ROLE]`` → one users-file line on stdout."""
    import getpass

    if len(argv) != 3 or argv[0] != "hash":
        print("usage: python -m web.passwords hash USER ROLE[,ROLE]   (password from tty or stdin)",
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
