"""OpenID Connect sign-in: authorization-code flow with PKCE for a confidential client.

No Dash and no Flask here: ``web.server`` mounts ``/auth/login``, ``/auth/callback`` and ``/auth/logout`` as
thin wrappers around :class:`OIDCClient`, and keeps the state of a sign-in in the signed Flask session (a plain
mutable mapping for this module).

The protocol is Authlib's: the authorization URL, PKCE challenge, token request and client authentication
(``authlib.oauth2``), JWKS parsing, JWS parsing and signature checks (joserfc, Authlib's JOSE library) and the
ID-token claim rules (``authlib.oidc.core.CodeIDToken``). This module keeps what is Chasqui's: which algorithms
and key sizes are accepted, discovery and key caching, the session records and the claims → roles mapping.

The flow::

    begin()    → provider's authorization URL (state, nonce, PKCE S256) + what to remember in the session
    complete() → state checked against the session, code exchanged at the token endpoint (client_secret_basic
                 or client_secret_post), ID token verified (RS256 / ES256; ``iss``, ``aud``/``azp``,
                 ``exp``/``iat``/``nbf`` with a small leeway, ``nonce``), claims → ``access.User``

Discovery (``/.well-known/openid-configuration``) and the JWKS are cached per process; the JWKS is fetched
again (once) when a token names an unknown ``kid``, so a key rotation at the provider needs no restart.
Every refusal is an :class:`OIDCError` whose message says why (it is shown to the user as plain text).
"""

from __future__ import annotations

import base64
import binascii
import re
import secrets
import threading
import time
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus, urlsplit

import httpx
from authlib.oauth2.auth import ClientAuth
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri, prepare_token_request
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jws, jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingCritHeaderError,
    UnsupportedAlgorithmError,
    UnsupportedHeaderError,
)
from joserfc.jwk import JWKRegistry, Key

from web.access import ROLES, User

SESSION_USER = "chasqui_user"  # session key: the signed-in user (name, roles, expiry, issuer)
SESSION_PENDING = "chasqui_oidc"  # session key: sign-ins in progress, by state
PASSWORD_MARKER = "!oidc"  # User.password_hash of an OIDC user: matches no password (verify_password → False)
ALGORITHMS = ("RS256", "ES256")
PENDING_SECONDS = 600  # a sign-in must come back from the provider within 10 minutes
MAX_PENDING = 3  # sign-ins in progress per browser (several tabs)
MAX_TOKEN_BYTES = 16_384
MAX_RESPONSE_BYTES = 1_048_576
_NAME_OK = re.compile(r"[^\x20-\x7e\u00a0-\uffff]")


class OIDCError(Exception):
    """A sign-in Chasqui refuses, or a provider it cannot use. ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class OIDCConfig:
    issuer: str
    client_id: str
    client_secret: str
    roles_claim: str = "roles"
    scopes: str = "openid profile email"
    leeway_seconds: int = 60
    timeout_seconds: float = 10.0
    cache_seconds: float = 3600.0
    jwks_refetch_seconds: float = 60.0  # an unknown kid forces one JWKS refetch per kid and interval

    def __post_init__(self) -> None:
        if not self.client_id:
            raise OIDCError("CHASQUI_OIDC_CLIENT_ID is required with CHASQUI_OIDC_ISSUER")
        if not self.client_secret:
            raise OIDCError("CHASQUI_OIDC_CLIENT_SECRET is required with CHASQUI_OIDC_ISSUER (confidential client)")
        check_url(self.issuer, "CHASQUI_OIDC_ISSUER")
        scopes = self.scopes.split()
        if "openid" not in scopes:
            object.__setattr__(self, "scopes", " ".join(["openid", *scopes]))


def _is_loopback(host: str | None) -> bool:
    return host in ("localhost", "127.0.0.1", "::1")


def check_url(url: Any, what: str) -> str:
    """An endpoint must be https (plain http only on loopback, for tests and local providers)."""
    if not isinstance(url, str) or not url:
        raise OIDCError(f"{what}: missing URL", 502)
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and _is_loopback(parts.hostname):
        return url
    raise OIDCError(f"{what}: {url!r} is not an https URL (plain http only on localhost)", 502)


# --------------------------------------------------------------------------- small helpers


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 defines them (the challenge computed by Authlib)."""
    verifier = secrets.token_urlsafe(48)
    return verifier, create_s256_code_challenge(verifier)


def safe_next(value: Any, prefix: str = "/") -> str:
    """The page to return to after sign-in: a local path under ``prefix``, or OIDCError (no open redirect)."""
    if value is None or value == "":
        return prefix
    if not isinstance(value, str) or len(value) > 2048:
        raise OIDCError("next must be a local path such as /logistics")
    parts = urlsplit(value)
    if (not value.startswith("/") or value.startswith("//") or "\\" in value or parts.scheme or parts.netloc
            or any(ord(ch) < 0x20 or ord(ch) == 0x7f for ch in value) or not value.startswith(prefix)):
        raise OIDCError(f"next must be a local path such as {prefix}logistics, not {value[:100]!r}")
    return value


def _clean(text: Any, limit: int = 200) -> str:
    return _NAME_OK.sub("", str(text))[:limit]


def roles_from_claims(claims: Mapping[str, Any], claim: str) -> frozenset[str]:
    """Chasqui roles in ``claims[claim]`` (a list, or a space/comma-separated string); unknown values ignored.

    A dotted name (``realm_access.roles``) walks nested objects when no claim has that exact name.
    """
    value: Any = claims.get(claim)
    if value is None and "." in claim:
        value = claims
        for part in claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        items = re.split(r"[\s,]+", value)
    elif isinstance(value, list):
        items = [v for v in value if isinstance(v, str)]
    else:
        items = []
    return frozenset(v.strip() for v in items if v.strip() in ROLES)


def user_from_claims(claims: Mapping[str, Any], roles_claim: str) -> User:
    """Verified ID-token claims → ``access.User`` (403 when no claim value is a Chasqui role)."""
    name = next((c for c in (claims.get("preferred_username"), claims.get("email"), claims.get("sub"))
                 if isinstance(c, str) and _clean(c, 128).strip()), None)
    if name is None:
        raise OIDCError("ID token has no usable user name (preferred_username, email or sub)")
    name = _clean(name, 128).strip()
    roles = roles_from_claims(claims, roles_claim)
    if not roles:
        raise OIDCError(f"signed in as {name!r}, but the ID token's {roles_claim!r} claim names no Chasqui role "
                        f"(roles: {', '.join(ROLES)}); ask an administrator for one", 403)
    return User(name, roles, PASSWORD_MARKER)


def session_record(user: User, issuer: str, now: float, hours: float, sid: str) -> dict[str, Any]:
    """What the signed session cookie keeps about a signed-in user; ``sid`` names the session on the server
    (``web.sessions``), so that signing out ends it for every copy of the cookie."""
    return {"name": user.name, "roles": sorted(user.roles), "iss": issuer, "exp": int(now + hours * 3600),
            "sid": sid}


def session_user(record: Any, issuer: str, now: float | None = None) -> User | None:
    """The session's user, or None when there is none, it expired, or it came from another issuer."""
    if not isinstance(record, Mapping):
        return None
    name, roles, exp = record.get("name"), record.get("roles"), record.get("exp")
    now = time.time() if now is None else now
    if (not isinstance(name, str) or not name or not isinstance(roles, list) or record.get("iss") != issuer
            or not isinstance(exp, (int, float)) or isinstance(exp, bool) or exp <= now):
        return None
    known = frozenset(r for r in roles if isinstance(r, str) and r in ROLES)
    return User(name, known, PASSWORD_MARKER) if known else None


# --------------------------------------------------------------------------- keys and ID tokens (Authlib)


def _b64url_bits(value: Any) -> int:
    if not isinstance(value, str):
        return 0
    try:
        return len(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))) * 8
    except (binascii.Error, ValueError):
        return 0


def signing_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[str, Key]:
    """A JWK → (algorithm, key), parsed by Authlib's JOSE library (joserfc).

    Chasqui's policy on top: RSA keys of at least 2048 bits (for RS256) and EC P-256 keys (for ES256) only.
    """
    kty = jwk.get("kty")
    if kty == "RSA":
        if _b64url_bits(jwk.get("n")) < 2048:
            raise OIDCError("RSA signing key shorter than 2048 bits", 502)
        alg = "RS256"
    elif kty == "EC" and jwk.get("crv") == "P-256":
        alg = "ES256"
    else:
        raise OIDCError(f"unsupported signing key type {_clean(kty, 20)!r}", 502)
    try:
        key = JWKRegistry.import_key(dict(jwk))
    except (JoseError, KeyError, TypeError, ValueError) as exc:
        raise OIDCError(f"malformed signing key in the provider's JWKS ({type(exc).__name__})", 502) from None
    if key.is_private:
        raise OIDCError("the provider's JWKS publishes a private key", 502)
    return alg, key


def parse_jwks(doc: Any) -> dict[str, tuple[str, Key]]:
    """JWKS document → {kid: (alg, key)}; encryption keys and unsupported key types are skipped."""
    if not isinstance(doc, dict) or not isinstance(doc.get("keys"), list):
        raise OIDCError("the provider's JWKS is not a {\"keys\": [...]} document", 502)
    keys: dict[str, tuple[str, Key]] = {}
    for i, jwk in enumerate(doc["keys"]):
        if not isinstance(jwk, dict) or jwk.get("use", "sig") != "sig":
            continue
        try:
            alg, key = signing_key_from_jwk(jwk)
        except OIDCError:
            continue
        if jwk.get("alg") not in (None, alg):
            continue
        kid = jwk.get("kid")
        keys[kid if isinstance(kid, str) else f"#{i}"] = (alg, key)
    return keys


def _token_header(token: str) -> dict[str, Any]:
    """The (unverified) JOSE header of a compact JWS, for error messages only; {} when unreadable."""
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, ValueError, UnicodeError):
        return {}
    return dict(header) if isinstance(header, Mapping) else {}


_CLAIM_ORDER = ("iss", "aud", "azp", "exp", "iat", "nbf", "nonce", "sub")


def _claim_refusal(exc: ClaimError, claims: Mapping[str, Any], issuer: str) -> OIDCError:
    """A claim Authlib refused → the reason Chasqui shows (one message per claim)."""
    named = set(exc.claim.split(","))
    claim = next((c for c in _CLAIM_ORDER if c in named), exc.claim)
    if claim == "iss":
        return OIDCError(f"ID token issuer {_clean(claims.get('iss'), 100)!r} is not {issuer!r}")
    if claim == "aud":
        return OIDCError("ID token audience does not include this client (CHASQUI_OIDC_CLIENT_ID)")
    if claim == "azp":
        return OIDCError("ID token has several audiences and its authorized party (azp) is not this client")
    if claim == "exp" and isinstance(exc, ExpiredTokenError):
        return OIDCError("ID token has expired (check the server clock if this repeats)")
    if claim in ("iat", "nbf") and isinstance(exc, InvalidClaimError) and _is_number(claims.get(claim)):
        return OIDCError("ID token is not valid yet (issued in the future; check the server clock)")
    if claim == "nonce":
        return OIDCError("ID token nonce does not match this sign-in (replayed or mixed-up token)")
    if claim == "sub":
        return OIDCError("ID token has no subject (sub)")
    return OIDCError(f"ID token claim {_clean(claim, 40)!r} missing or invalid")


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


# --------------------------------------------------------------------------- the client


class OIDCClient:
    """Talks to one OpenID provider. Thread-safe; caches discovery and keys for ``cache_seconds``.

    ``transport`` (an ``httpx`` transport) and ``clock`` can be swapped in tests.
    """

    def __init__(self, config: OIDCConfig, *, transport: httpx.BaseTransport | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self._http = httpx.Client(transport=transport, timeout=config.timeout_seconds, follow_redirects=False,
                                  headers={"Accept": "application/json", "User-Agent": "chasqui-oidc"})
        self._lock = threading.Lock()
        self._meta: tuple[float, dict[str, Any]] | None = None
        self._keys: tuple[float, dict[str, tuple[str, Any]]] | None = None
        self._forced: dict[str, float] = {}  # unknown kid → when it last forced a JWKS refetch

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> OIDCClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- provider documents

    def _get_json(self, url: str, what: str) -> Any:
        try:
            r = self._http.get(url)
        except httpx.HTTPError as exc:
            raise OIDCError(f"identity provider unreachable ({what}: {type(exc).__name__})", 502) from None
        if r.status_code != 200 or len(r.content) > MAX_RESPONSE_BYTES:
            raise OIDCError(f"identity provider answered {r.status_code} for its {what}", 502)
        try:
            return r.json()
        except ValueError:
            raise OIDCError(f"identity provider's {what} is not JSON", 502) from None

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (checked: issuer matches, endpoints are https)."""
        with self._lock:
            if self._meta and self.clock() - self._meta[0] < self.config.cache_seconds:
                return self._meta[1]
        issuer = self.config.issuer
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", "discovery document")
        if not isinstance(doc, dict):
            raise OIDCError("identity provider's discovery document is not a JSON object", 502)
        if doc.get("issuer") != issuer:
            raise OIDCError(f"discovery document names issuer {_clean(doc.get('issuer'), 100)!r}, "
                            f"not CHASQUI_OIDC_ISSUER {issuer!r}", 502)
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            check_url(doc.get(key), f"discovery {key}")
        with self._lock:
            self._meta = (self.clock(), doc)
        return doc

    def signing_keys(self, *, refresh_for: str | None = None) -> dict[str, tuple[str, Any]]:
        """{kid: (alg, public key)}, cached; ``refresh_for`` = an unknown kid that forces one refetch."""
        with self._lock:
            now = self.clock()
            if refresh_for is not None:
                last = self._forced.get(refresh_for)
                self._forced = {k: t for k, t in self._forced.items() if now - t < self.config.jwks_refetch_seconds}
                if self._keys and (last is not None and now - last < self.config.jwks_refetch_seconds
                                   or len(self._forced) >= 32):
                    return self._keys[1]
                self._forced[refresh_for] = now
            elif self._keys and now - self._keys[0] < self.config.cache_seconds:
                return self._keys[1]
        keys = parse_jwks(self._get_json(self.metadata()["jwks_uri"], "JWKS"))
        with self._lock:
            self._keys = (self.clock(), keys)
        return keys

    # ---------------------------------------------------------------- ID tokens

    def verify_id_token(self, token: Any, nonce: str) -> dict[str, Any]:
        """Signature and claims, checked by Authlib: returns the verified claims or raises OIDCError.

        joserfc (Authlib's JOSE library) parses the compact JWS, refuses any algorithm but RS256/ES256 and
        unknown critical headers, and verifies the signature with the provider's key named by ``kid``;
        ``authlib.oidc.core.CodeIDToken`` checks ``iss``, ``aud``/``azp``, ``exp``/``iat``/``nbf`` (with the
        leeway) and ``nonce`` (OIDC Core 3.1.3.7).
        """
        if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
            raise OIDCError("malformed ID token (missing or too long)")
        if token.count(".") != 2:
            raise OIDCError("malformed ID token (not three dot-separated parts; encrypted tokens are not supported)")
        try:
            decoded = jwt.decode(token, self._key_for, algorithms=list(ALGORITHMS))
        except UnsupportedAlgorithmError:
            alg = _token_header(token).get("alg")
            raise OIDCError(f"ID token algorithm {_clean(alg, 20)!r} refused "
                            f"(accepted: {', '.join(ALGORITHMS)})") from None
        except (UnsupportedHeaderError, MissingCritHeaderError):
            raise OIDCError("ID token has critical header parameters Chasqui does not understand") from None
        except BadSignatureError:
            raise OIDCError("ID token signature is invalid") from None
        except (JoseError, ValueError, UnicodeError) as exc:
            raise OIDCError(f"malformed ID token ({_clean(getattr(exc, 'error', type(exc).__name__), 40)})") from None
        claims = dict(decoded.claims)
        issuer, client_id = self.config.issuer, self.config.client_id
        checks = CodeIDToken(claims, decoded.header,
                             options={"iss": {"essential": True, "value": issuer},
                                      "aud": {"essential": True, "value": client_id},
                                      "nonce": {"essential": True, "value": nonce}},
                             params={"nonce": nonce, "client_id": client_id})
        try:
            checks.validate(now=int(self.clock()), leeway=int(self.config.leeway_seconds))
        except ClaimError as exc:
            raise _claim_refusal(exc, claims, issuer) from None
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 255:
            raise OIDCError("ID token has no subject (sub)")
        return claims

    def _key_for(self, obj: Any) -> Key:
        """joserfc's key resolver: the provider's key for this token's ``kid`` and ``alg``.

        An unknown kid fetches the JWKS again (once per kid and ``jwks_refetch_seconds``): the provider may have
        rotated its keys. Without a kid, the key is used only when exactly one key fits the algorithm.
        """
        header = obj.headers()
        kid, alg = header.get("kid"), str(header.get("alg"))
        key = self._find_key(kid, alg)
        if key is None:
            key = self._find_key(kid, alg, refresh_for=_clean(kid, 60) if isinstance(kid, str) else "")
        if key is None:
            raise OIDCError(f"ID token signed with an unknown key (kid {_clean(kid, 60)!r})")
        return key

    def _find_key(self, kid: Any, alg: str, refresh_for: str | None = None) -> Key | None:
        keys = self.signing_keys(refresh_for=refresh_for)
        if isinstance(kid, str):
            found = keys.get(kid)
            return found[1] if found and found[0] == alg else None
        if kid is not None:
            return None
        candidates = [k for a, k in keys.values() if a == alg]  # no kid: only if the choice is unambiguous
        return candidates[0] if len(candidates) == 1 else None

    # ---------------------------------------------------------------- the flow

    def begin(self, session: MutableMapping[str, Any], next_path: Any, redirect_uri: str,
              prefix: str = "/") -> str:
        """Start a sign-in: remember state, nonce and PKCE verifier in ``session``; return the provider URL."""
        target = safe_next(next_path, prefix)
        meta = self.metadata()
        state, nonce = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair()
        pending = session.get(SESSION_PENDING)
        pending = dict(pending) if isinstance(pending, dict) else {}
        pending[state] = {"nonce": nonce, "verifier": verifier, "next": target, "t": int(self.clock()),
                          "redirect_uri": redirect_uri}
        while len(pending) > MAX_PENDING:  # dicts keep insertion order: drop the oldest
            pending.pop(next(iter(pending)))
        session[SESSION_PENDING] = pending
        return str(prepare_grant_uri(meta["authorization_endpoint"], self.config.client_id, "code",
                                     redirect_uri=redirect_uri, scope=self.config.scopes, state=state, nonce=nonce,
                                     code_challenge=challenge, code_challenge_method="S256"))

    def complete(self, session: MutableMapping[str, Any], params: Mapping[str, Any]) -> tuple[User, str]:
        """Finish a sign-in from the provider's redirect (``params``): → (user, local path to return to).

        The pending sign-in is removed from ``session`` whatever the outcome (a state works once).
        """
        state = params.get("state")
        pending = session.get(SESSION_PENDING)
        pending = dict(pending) if isinstance(pending, dict) else {}
        entry = pending.pop(state, None) if isinstance(state, str) else None
        if pending:
            session[SESSION_PENDING] = pending
        else:
            session.pop(SESSION_PENDING, None)
        if not isinstance(entry, dict):
            raise OIDCError("sign-in state does not match this browser (expired, reused or forged); "
                            "start again from the page you wanted")
        if self.clock() - float(entry.get("t", 0)) > PENDING_SECONDS:
            raise OIDCError("sign-in took too long; start again from the page you wanted")
        if params.get("error"):
            raise OIDCError(f"the identity provider refused sign-in: {_clean(params.get('error'), 80)}"
                            f"{': ' + _clean(params.get('error_description')) if params.get('error_description') else ''}",
                            403)
        code = params.get("code")
        if not isinstance(code, str) or not code or len(code) > 4096:
            raise OIDCError("the identity provider sent no authorization code")
        tokens = self.exchange_code(code, entry["verifier"], entry["redirect_uri"])
        claims = self.verify_id_token(tokens.get("id_token"), entry["nonce"])
        return user_from_claims(claims, self.config.roles_claim), str(entry["next"])

    def exchange_code(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        """POST the code (and the PKCE verifier) to the token endpoint with the client's credentials.

        The request body and client authentication (``client_secret_basic``, else ``client_secret_post``, as the
        provider's discovery document allows) are built by Authlib.
        """
        meta = self.metadata()
        methods = meta.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
        if "client_secret_basic" in methods:  # RFC 6749 2.3.1: form-encode id and secret first
            auth = ClientAuth(quote_plus(self.config.client_id), quote_plus(self.config.client_secret),
                              "client_secret_basic")
        elif "client_secret_post" in methods:
            auth = ClientAuth(self.config.client_id, self.config.client_secret, "client_secret_post")
        else:
            raise OIDCError(f"the token endpoint supports neither client_secret_basic nor client_secret_post "
                            f"({_clean(methods, 100)})", 502)
        body = prepare_token_request("authorization_code", code=code, redirect_uri=redirect_uri,
                                     code_verifier=verifier)
        url, headers, body = auth.prepare("POST", meta["token_endpoint"],
                                          {"Content-Type": "application/x-www-form-urlencoded"}, body)
        try:
            r = self._http.post(url, content=body.encode("utf-8"), headers=headers)
        except httpx.HTTPError as exc:
            raise OIDCError(f"identity provider unreachable (token endpoint: {type(exc).__name__})", 502) from None
        try:
            answer = r.json() if len(r.content) <= MAX_RESPONSE_BYTES else None
        except ValueError:
            answer = None
        if r.status_code != 200 or not isinstance(answer, dict) or "error" in answer:
            err = answer.get("error") if isinstance(answer, dict) else None
            desc = answer.get("error_description") if isinstance(answer, dict) else None
            raise OIDCError(f"the token endpoint refused the authorization code ({r.status_code}"
                            f"{', ' + _clean(err, 80) if err else ''}{': ' + _clean(desc) if desc else ''}); "
                            "codes work once: start again from the page you wanted")
        if not isinstance(answer.get("id_token"), str):
            raise OIDCError("the token endpoint returned no ID token (is the 'openid' scope allowed?)", 502)
        return answer
