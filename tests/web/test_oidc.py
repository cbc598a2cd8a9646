"""OIDC sign-in against a real, minimal OpenID provider served on loopback in a thread.

The provider (below) does discovery, a JWKS with keys made here by ``cryptography``, an authorize endpoint that
redirects straight back with a code for the configured user, and a token endpoint that checks the code (once),
the PKCE verifier, the redirect URI and the client's credentials before returning a signed ID token. A hook
lets each hostile test forge the ID token the provider hands out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

import flask
import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from werkzeug.serving import make_server

from tests.fixtures.web import basic, find_serialised, forged_body
from web import oidc
from web.settings import Settings, SettingsError

CLIENT_ID, CLIENT_SECRET = "chasqui-web", "s3cret-for-tests-only"
SECRET_KEY = "test-session-key-" + "x" * 32
REDIRECT_URI = "http://localhost/auth/callback"  # Flask's test client serves http://localhost
HTML = {"Accept": "text/html,application/xhtml+xml"}
ANA = {"sub": "sub-ana", "preferred_username": "ana.oidc", "email": "ana@example.pe", "roles": ["executive"]}
MIA = {"sub": "sub-mia", "email": "mia@example.pe", "roles": "marketing"}


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def jws(header: dict[str, Any], claims: dict[str, Any], key: Any, alg: str = "RS256") -> str:
    """A compact JWS, signed the way a provider signs ID tokens."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    data = signing_input.encode()
    if alg == "RS256":
        sig = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    elif alg == "ES256":
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    elif alg == "HS256":
        sig = hmac.new(key, data, hashlib.sha256).digest()
    else:
        sig = b""
    return f"{signing_input}.{b64(sig)}"


def jwk(kid: str, key: Any) -> dict[str, Any]:
    pub = key.public_key().public_numbers()
    if isinstance(key, rsa.RSAPrivateKey):
        return {"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": b64(pub.n.to_bytes((pub.n.bit_length() + 7) // 8, "big")), "e": b64(pub.e.to_bytes(3, "big"))}
    return {"kty": "EC", "kid": kid, "use": "sig", "alg": "ES256", "crv": "P-256",
            "x": b64(pub.x.to_bytes(32, "big")), "y": b64(pub.y.to_bytes(32, "big"))}


class Provider:
    """A minimal OpenID provider (authorization code + PKCE, confidential client)."""

    def __init__(self) -> None:
        self.keys: dict[str, Any] = {"k1": rsa.generate_private_key(public_exponent=65537, key_size=2048)}
        self.stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)  # never published
        self.reset()
        self.wsgi = self._build()
        self.server = make_server("127.0.0.1", 0, self.wsgi, threaded=True)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def reset(self) -> None:
        self.user: dict[str, Any] = dict(ANA)
        self.kid = "k1"
        self.keys = {"k1": self.keys["k1"]}
        self.forge: Callable[[dict[str, Any], dict[str, Any]], str] | None = None
        self.deny = False
        self.auth_methods = ["client_secret_basic", "client_secret_post"]
        self.codes: dict[str, dict[str, Any]] = {}
        self.jwks_hits = 0
        self.token_requests: list[dict[str, Any]] = []

    def sign(self, header: dict[str, Any], claims: dict[str, Any]) -> str:
        key = self.keys[header["kid"]]
        header["alg"] = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
        return jws(header, claims, key, header["alg"])

    def _build(self) -> flask.Flask:
        app = flask.Flask("test-provider")

        @app.get("/.well-known/openid-configuration")
        def discovery():
            return {"issuer": self.issuer, "authorization_endpoint": f"{self.issuer}/authorize",
                    "token_endpoint": f"{self.issuer}/token", "jwks_uri": f"{self.issuer}/jwks",
                    "response_types_supported": ["code"], "id_token_signing_alg_values_supported": ["RS256"],
                    "code_challenge_methods_supported": ["S256"],
                    "token_endpoint_auth_methods_supported": self.auth_methods}

        @app.get("/jwks")
        def jwks():
            self.jwks_hits += 1
            return {"keys": [jwk(kid, key) for kid, key in self.keys.items()]}

        @app.get("/authorize")
        def authorize():
            a = flask.request.args
            if (a.get("client_id") != CLIENT_ID or a.get("response_type") != "code"
                    or a.get("redirect_uri") != REDIRECT_URI or a.get("code_challenge_method") != "S256"
                    or not a.get("code_challenge") or not a.get("state") or not a.get("nonce")
                    or "openid" not in a.get("scope", "").split()):
                return "bad authorization request", 400
            if self.deny:
                back = {"error": "access_denied", "error_description": "user said no", "state": a["state"]}
                return flask.redirect(f"{REDIRECT_URI}?{urlencode(back)}")
            code = secrets.token_urlsafe(16)
            self.codes[code] = {"challenge": a["code_challenge"], "nonce": a["nonce"], "used": False,
                                "redirect_uri": a["redirect_uri"], "user": dict(self.user)}
            return flask.redirect(f"{REDIRECT_URI}?{urlencode({'code': code, 'state': a['state']})}")

        @app.post("/token")
        def token():
            f, auth = flask.request.form, flask.request.authorization
            if auth is not None:
                method, cid, secret = "client_secret_basic", unquote_plus(auth.username or ""), unquote_plus(
                    auth.password or "")
            else:
                method, cid, secret = "client_secret_post", f.get("client_id"), f.get("client_secret")
            self.token_requests.append({"method": method, **f.to_dict()})
            if method not in self.auth_methods or cid != CLIENT_ID or secret != CLIENT_SECRET:
                return {"error": "invalid_client"}, 401
            entry = self.codes.get(f.get("code", ""))
            if entry is None or entry["used"]:
                return {"error": "invalid_grant", "error_description": "code unknown or already used"}, 400
            entry["used"] = True
            if f.get("grant_type") != "authorization_code" or f.get("redirect_uri") != entry["redirect_uri"]:
                return {"error": "invalid_grant", "error_description": "redirect_uri mismatch"}, 400
            verifier = f.get("code_verifier", "")
            if b64(hashlib.sha256(verifier.encode()).digest()) != entry["challenge"]:
                return {"error": "invalid_grant", "error_description": "PKCE verification failed"}, 400
            now = int(time.time())
            claims = {"iss": self.issuer, "aud": CLIENT_ID, "iat": now, "exp": now + 300,
                      "nonce": entry["nonce"], **entry["user"]}
            header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
            id_token = self.forge(header, claims) if self.forge else self.sign(header, claims)
            return {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                    "id_token": id_token}

        return app


@pytest.fixture(scope="module")
def provider():
    p = Provider()
    p.thread.start()
    yield p
    p.server.shutdown()


@pytest.fixture(autouse=True)
def _fresh_provider(request):
    if "provider" in request.fixturenames:
        request.getfixturevalue("provider").reset()


def oidc_settings(settings: Settings, provider: Provider, **extra: Any) -> Settings:
    extra.setdefault("oidc_redirect_base", "http://localhost")
    return settings.replace(oidc_issuer=provider.issuer, oidc_client_id=CLIENT_ID, oidc_client_secret=CLIENT_SECRET,
                            secret_key=SECRET_KEY, **extra)


@pytest.fixture(scope="module")
def oidc_app(settings, provider, users_file):
    """OIDC and HTTP basic both on."""
    import app as appmod

    return appmod.create_app(oidc_settings(settings, provider, auth_file=users_file), start_live=False)


def _dep(app, prefix):
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    return next(d for d in deps if d["output"].lstrip(".").startswith(prefix))


def start(c, next_: str = "/logistics") -> str:
    """/auth/login → the provider's authorization URL."""
    r = c.get("/auth/login", query_string={"next": next_})
    assert r.status_code == 302, r.get_data(as_text=True)
    return r.headers["Location"]


def authorize(url: str) -> str:
    """The browser's visit to the provider (real HTTP) → the callback path Chasqui is sent back to."""
    r = httpx.get(url, follow_redirects=False)
    assert r.status_code == 302, r.text
    loc = urlsplit(r.headers["location"])
    assert f"{loc.scheme}://{loc.netloc}{loc.path}" == REDIRECT_URI
    return f"{loc.path}?{loc.query}"


def login(c, next_: str = "/logistics"):
    return c.get(authorize(start(c, next_)))


def signout_form(c) -> dict[str, str]:
    """The navbar's sign-out form (action, method, the hidden token) as the layout serves it."""
    form = find_serialised(c.get("/_dash-layout").get_json(), "shell-navbar-signout")
    assert form is not None and form["type"] == "Form"
    token = find_serialised(form, "shell-navbar-signout-csrf")["props"]
    assert token["name"] == "csrf" and token["type"] == "hidden"
    return {"action": form["props"]["action"], "method": form["props"]["method"], "csrf": token["value"]}


def session_user(c) -> Any:
    with c.session_transaction() as s:
        return s.get(oidc.SESSION_USER)


def assert_signed_out(c) -> None:
    assert session_user(c) is None
    r = c.get("/logistics", headers=HTML)
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login?next=")


# --------------------------------------------------------------------------- the happy path


def test_full_login_round_trip_pages_callbacks_and_logout(oidc_app, provider):
    c = oidc_app.server.test_client()
    seg = forged_body(_dep(oidc_app, "segments-regions"), "es")
    # anonymous: a browser is sent to sign in, a callback request gets the JSON 401
    r = c.get("/logistics?carrier=Olva", headers=HTML)
    assert r.status_code == 302 and r.headers["Location"] == "/auth/login?next=%2Flogistics%3Fcarrier%3DOlva"
    r = c.post("/_dash-update-component", json=seg)
    assert r.status_code == 401 and r.get_json() == {"error": "sign-in required"}
    # /auth/login → provider (state, nonce, PKCE S256; no secret in the URL)
    r = c.get(r"/auth/login?next=%2Flogistics%3Fcarrier%3DOlva")
    assert r.status_code == 302
    url = r.headers["Location"]
    q = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert url.startswith(provider.issuer + "/authorize?")
    assert q["client_id"] == CLIENT_ID and q["redirect_uri"] == REDIRECT_URI and q["response_type"] == "code"
    assert q["code_challenge_method"] == "S256" and len(q["code_challenge"]) == 43
    assert len(q["state"]) >= 32 and len(q["nonce"]) >= 32 and "openid" in q["scope"].split()
    assert CLIENT_SECRET not in url
    # provider → /auth/callback → back to the page asked for, signed in
    r = c.get(authorize(url))
    assert r.status_code == 302 and r.headers["Location"] == "/logistics?carrier=Olva"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("chasqui_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # plain http here; see the https test
    assert session_user(c)["name"] == "ana.oidc" and session_user(c)["roles"] == ["executive"]
    tok = provider.token_requests[-1]
    assert tok["method"] == "client_secret_basic" and tok["code_verifier"] and "client_secret" not in tok
    # pages and callbacks per role (executive: everything)
    for page in ("/", "/logistics", "/segments", "/data"):
        r = c.get(page, headers=HTML)
        assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store", page
    r = c.post("/_dash-update-component", json=seg)
    assert r.status_code == 200 and "segments-regions" in r.get_json()["response"]
    assert c.get("/metrics").status_code == 200
    # the navbar shows who is signed in, with the sign-out form of the session (a POST with its token)
    layout = json.dumps(c.get("/_dash-layout").get_json(), sort_keys=True)
    assert '"children": "ana.oidc", "className": "fw-semibold chasqui-user", "id": "shell-navbar-user"' in layout
    form = signout_form(c)
    assert form["action"] == "/auth/logout" and form["method"] == "POST" and len(form["csrf"]) >= 32
    # logout clears the session
    r = c.post("/auth/logout", data={"csrf": form["csrf"]})
    assert r.status_code == 200 and b"signed out" in r.data
    assert_signed_out(c)
    assert c.post("/_dash-update-component", json=seg).status_code == 401


def test_roles_claim_maps_to_pages_and_callbacks(oidc_app, provider):
    provider.user = dict(MIA)  # roles as a string, no preferred_username: the e-mail is the name
    c = oidc_app.server.test_client()
    assert login(c).status_code == 302
    assert session_user(c)["name"] == "mia@example.pe" and session_user(c)["roles"] == ["marketing"]
    assert c.get("/segments", headers=HTML).status_code == 200
    r = c.get("/logistics", headers=HTML)
    assert r.status_code == 403 and b"may not open /logistics" in r.data
    seg = forged_body(_dep(oidc_app, "segments-regions"), "es")
    assert c.post("/_dash-update-component", json=seg).status_code == 200
    router = forged_body(_dep(oidc_app, "_pages_content"), "")
    router["inputs"][0]["value"] = "/logistics"
    assert c.post("/_dash-update-component", json=router).status_code == 403
    export = forged_body(_dep(oidc_app, "trace-download"), 1)
    assert c.post("/_dash-update-component", json=export).status_code == 403  # recall export: not marketing


def test_roles_claim_string_and_unknown_values(oidc_app, provider):
    provider.user = {"sub": "s-luis", "preferred_username": "luis.o", "roles": "logistics, admin  superuser"}
    c = oidc_app.server.test_client()
    assert login(c).status_code == 302
    assert session_user(c)["roles"] == ["logistics"]  # unknown values ignored
    assert c.get("/logistics", headers=HTML).status_code == 200
    assert c.get("/segments", headers=HTML).status_code == 403


def test_no_chasqui_role_is_refused_with_403(oidc_app, provider):
    provider.user = {"sub": "s-x", "preferred_username": "x", "roles": ["admin", "viewer"]}
    c = oidc_app.server.test_client()
    r = login(c)
    assert r.status_code == 403
    assert b"names no Chasqui role" in r.data and b"logistics, marketing" in r.data
    assert_signed_out(c)


def test_basic_sign_in_still_works_next_to_oidc(oidc_app):
    c = oidc_app.server.test_client()
    assert c.get("/logistics", headers={**HTML, **basic("luis")}).status_code == 200
    assert c.get("/logistics", headers=basic("mia")).status_code == 403
    r = c.get("/logistics")  # a script without credentials: the basic challenge, not a redirect
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Basic")
    assert c.get("/logistics", headers={**HTML, **basic("luis", "wrong")}).status_code == 302
    assert c.get("/traceability", headers=HTML).status_code == 200  # public page
    assert c.get("/auth/login?next=/").status_code == 302  # /auth/* needs no sign-in


def test_client_secret_post_es256_and_key_rotation(settings, provider):
    """A fresh client: the provider's auth method and keys are read from its documents."""
    provider.auth_methods = ["client_secret_post"]
    provider.keys["e1"] = ec.generate_private_key(ec.SECP256R1())
    provider.kid = "e1"
    client = oidc.OIDCClient(oidc.OIDCConfig(provider.issuer, CLIENT_ID, CLIENT_SECRET))
    session: dict[str, Any] = {}
    url = client.begin(session, "/segments", REDIRECT_URI)
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize(url)).query).items()}
    user, target = client.complete(session, params)
    assert (user.name, user.roles, target) == ("ana.oidc", frozenset({"executive"}), "/segments")
    assert provider.token_requests[-1]["method"] == "client_secret_post"
    assert oidc.SESSION_PENDING not in session  # the state is used up
    # the provider rotates to a new RSA key: one JWKS refetch, no restart
    hits = provider.jwks_hits
    provider.keys["k2"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    provider.kid = "k2"
    url = client.begin(session, "/", REDIRECT_URI)
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize(url)).query).items()}
    assert client.complete(session, params)[0].name == "ana.oidc"
    assert provider.jwks_hits == hits + 1
    # a wrong client secret is refused by the provider, with its reason
    bad = oidc.OIDCClient(oidc.OIDCConfig(provider.issuer, CLIENT_ID, "not-the-secret"))
    url = bad.begin(session, "/", REDIRECT_URI)
    params = {k: v[0] for k, v in parse_qs(urlsplit(authorize(url)).query).items()}
    with pytest.raises(oidc.OIDCError, match="refused the authorization code.*invalid_client"):
        bad.complete(session, params)


def test_session_cookie_is_secure_over_https(oidc_app):
    c = oidc_app.server.test_client()
    r = c.get("/auth/login?next=/", base_url="https://localhost")
    assert r.status_code == 302
    cookie = r.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_forged_or_expired_session_cookies_are_ignored(oidc_app, provider):
    from flask.sessions import SecureCookieSessionInterface

    server = oidc_app.server
    right = server.session_interface.get_signing_serializer(server)
    other = flask.Flask("forger")
    other.secret_key = "another-key-" + "y" * 32
    wrong = SecureCookieSessionInterface().get_signing_serializer(other)
    sid = server.config["CHASQUI_OIDC"].store.open(time.time() + 600)  # a session the server issued
    good = {"name": "eve", "roles": ["executive"], "iss": provider.issuer, "exp": int(time.time()) + 600, "sid": sid}
    cases = {
        "positive control": (right, good, 200),
        "signed with the key, but no session the server issued": (right, {**good, "sid": "x" * 43}, 302),
        "no session id": (right, {k: v for k, v in good.items() if k != "sid"}, 302),
        "signed with another key": (wrong, good, 302),
        "expired": (right, {**good, "exp": int(time.time()) - 1}, 302),
        "another issuer": (right, {**good, "iss": "https://other.example"}, 302),
        "no known role": (right, {**good, "roles": ["root"]}, 302),
    }
    for name, (serializer, record, status) in cases.items():
        c = server.test_client()
        c.set_cookie("chasqui_session", serializer.dumps({oidc.SESSION_USER: record}))
        assert c.get("/logistics", headers=HTML).status_code == status, name
    c = server.test_client()
    c.set_cookie("chasqui_session", "eyJjaGFzcXVpX3VzZXIiOnsibmFtZSI6ImV2ZSJ9fQ.forged.signature")
    assert c.get("/logistics", headers=HTML).status_code == 302


# --------------------------------------------------------------------------- signing out, the redirect URI


def test_logout_is_a_post_with_the_sessions_token_and_other_sites_cannot_log_a_user_out(oidc_app, provider):
    c = oidc_app.server.test_client()
    assert login(c).status_code == 302
    form = signout_form(c)
    # a link or an <img> on another site (GET), a form post without the token, or with another session's token
    r = c.get("/auth/logout")
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert c.post("/auth/logout").status_code == 403
    assert c.post("/auth/logout", data={"csrf": "x" * 43}).status_code == 403
    other = oidc_app.server.test_client()
    assert login(other).status_code == 302
    assert c.post("/auth/logout", data={"csrf": signout_form(other)["csrf"]}).status_code == 403
    assert c.get("/logistics", headers=HTML).status_code == 200  # still signed in after all of that
    assert c.post("/auth/logout", data={"csrf": form["csrf"]}).status_code == 200
    assert_signed_out(c)
    assert c.get("/logistics", headers=HTML).status_code == 302
    assert other.get("/logistics", headers=HTML).status_code == 200  # the other session is untouched


def test_a_cookie_captured_before_logout_stops_working(oidc_app, provider):
    c = oidc_app.server.test_client()
    assert login(c).status_code == 302
    captured = c.get_cookie("chasqui_session").value  # e.g. from a proxy log or a shared computer
    thief = oidc_app.server.test_client()
    thief.set_cookie("chasqui_session", captured)
    seg = forged_body(_dep(oidc_app, "segments-regions"), "es")
    assert thief.get("/data", headers=HTML).status_code == 200 and thief.post(
        "/_dash-update-component", json=seg).status_code == 200
    assert c.post("/auth/logout", data={"csrf": signout_form(c)["csrf"]}).status_code == 200
    r = thief.get("/data", headers=HTML)
    assert r.status_code == 302 and r.headers["Location"].startswith("/auth/login")
    assert thief.post("/_dash-update-component", json=seg).status_code == 401
    # a fresh sign-in works again (new session id)
    assert login(c).status_code == 302 and c.get("/data", headers=HTML).status_code == 200


def test_redirect_uri_never_follows_the_host_header(settings, provider):
    import app as appmod

    with pytest.raises(SettingsError, match="CHASQUI_OIDC_REDIRECT_BASE"):
        appmod.create_app(oidc_settings(settings, provider, oidc_redirect_base=None), start_live=False)
    app = appmod.create_app(oidc_settings(settings, provider, oidc_redirect_base="https://chasqui.example.pe/"),
                            start_live=False)
    c = app.server.test_client()
    for host in ("evil.example", "chasqui.example.pe.evil.example", "localhost:9999"):
        r = c.get("/auth/login?next=/", headers={"Host": host, "X-Forwarded-Host": "evil.example"})
        assert r.status_code == 302
        q = {k: v[0] for k, v in parse_qs(urlsplit(r.headers["Location"]).query).items()}
        assert q["redirect_uri"] == "https://chasqui.example.pe/auth/callback", host


# --------------------------------------------------------------------------- hostile cases


def _replace(**changes: Any) -> Callable[[Provider], Callable[[dict, dict], str]]:
    def make(p: Provider) -> Callable[[dict, dict], str]:
        def forge(header: dict, claims: dict) -> str:
            claims.update({k: v(claims) if callable(v) else v for k, v in changes.items()})
            return p.sign(header, claims)
        return forge
    return make


def _alg(alg: str) -> Callable[[Provider], Callable[[dict, dict], str]]:
    def make(p: Provider) -> Callable[[dict, dict], str]:
        def forge(header: dict, claims: dict) -> str:
            header["alg"] = alg
            return jws(header, claims, CLIENT_SECRET.encode(), alg)  # HS256 keyed with the client secret
        return forge
    return make


def _signed_by(key_of: Callable[[Provider], Any], kid: str | None = None):
    def make(p: Provider) -> Callable[[dict, dict], str]:
        def forge(header: dict, claims: dict) -> str:
            if kid is not None:
                header["kid"] = kid
            return jws(header, claims, key_of(p))
        return forge
    return make


def _escalated(p: Provider) -> Callable[[dict, dict], str]:
    """A token for a marketing user whose claims were swapped for executive ones after signing."""
    def forge(header: dict, claims: dict) -> str:
        token = p.sign(header, {**claims, "roles": ["marketing"]})
        h, _, s = token.split(".")
        return f"{h}.{b64(json.dumps({**claims, 'roles': ['executive']}).encode())}.{s}"
    return forge


HOSTILE = {
    "bad signature": (_signed_by(lambda p: p.stranger), "signature is invalid"),
    "claims changed after signing": (_escalated, "signature is invalid"),
    "wrong audience": (_replace(aud="another-app"), "audience"),
    "several audiences, no azp": (_replace(aud=[CLIENT_ID, "another-app"]), "authorized party"),
    "wrong issuer": (_replace(iss="https://evil.example"), "issuer"),
    "expired": (_replace(iat=lambda c: c["iat"] - 7200, exp=lambda c: c["iat"] - 6900), "expired"),
    "issued in the future": (_replace(iat=lambda c: c["iat"] + 3600), "not valid yet"),
    "not before in the future": (_replace(nbf=lambda c: c["iat"] + 3600), "not valid yet"),
    "wrong nonce": (_replace(nonce="a-nonce-from-another-sign-in"), "nonce does not match"),
    "no nonce": (_replace(nonce=None), "nonce does not match"),
    "alg none": (_alg("none"), "algorithm 'none' refused"),
    "alg HS256 with the client secret": (_alg("HS256"), "algorithm 'HS256' refused"),
    "unknown kid": (_signed_by(lambda p: p.stranger, kid="k-unknown"), "unknown key"),
    "not a JWT": (lambda p: lambda h, c: "not-a-jwt", "malformed ID token"),
    "garbage parts": (lambda p: lambda h, c: "e30.!!!.AA", "malformed ID token"),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_forged_id_tokens_are_refused(oidc_app, provider, case):
    make, message = HOSTILE[case]
    warm = oidc_app.server.test_client()
    assert login(warm).status_code == 302  # discovery and keys cached: the refused token is the only change
    hits = provider.jwks_hits
    provider.user = dict(MIA)
    provider.forge = make(provider)
    c = oidc_app.server.test_client()
    r = login(c)
    assert r.status_code == 400, (case, r.status_code, r.data)
    assert r.mimetype == "text/plain" and message in r.get_data(as_text=True), (case, r.data)
    assert_signed_out(c)
    assert provider.jwks_hits - hits == (1 if case == "unknown kid" else 0)  # refetched once, only for a new kid


def test_wrong_state_and_replayed_code_are_refused(oidc_app, provider):
    c = oidc_app.server.test_client()
    back = authorize(start(c))
    forged = back.replace("state=", "state=x", 1)
    r = c.get(forged)
    assert r.status_code == 400 and b"state does not match" in r.data
    assert_signed_out(c)
    # a callback in a browser that never started a sign-in (login CSRF)
    stranger = oidc_app.server.test_client()
    r = stranger.get(authorize(start(c)))
    assert r.status_code == 400 and b"state does not match" in r.data
    assert session_user(stranger) is None
    # the same browser replays the callback: the state works once
    c = oidc_app.server.test_client()
    back = authorize(start(c))
    before = c.get_cookie("chasqui_session").value  # the cookie holding the pending sign-in
    assert c.get(back).status_code == 302 and session_user(c) is not None
    r = c.get(back)
    assert r.status_code == 400 and b"state does not match" in r.data
    # an old cookie replayed with the used code: the provider refuses the code, Chasqui no session
    replay = oidc_app.server.test_client()
    replay.set_cookie("chasqui_session", before)
    r = replay.get(back)
    assert r.status_code == 400 and b"refused the authorization code" in r.data and b"already used" in r.data
    assert_signed_out(replay)


def test_provider_refusal_is_shown(oidc_app, provider):
    provider.deny = True
    c = oidc_app.server.test_client()
    r = login(c)
    assert r.status_code == 403 and b"access_denied: user said no" in r.data
    assert_signed_out(c)


@pytest.mark.parametrize("target", ["https://evil.example", "//evil.example/x", "/\\evil.example", "javascript:alert(1)",
                                    "http:/evil.example", "/ok\r\nSet-Cookie: x=1", "evil.example"])
def test_open_redirect_next_is_refused(oidc_app, provider, target):
    c = oidc_app.server.test_client()
    r = c.get("/auth/login", query_string={"next": target})
    assert r.status_code == 400 and b"next must be a local path" in r.data
    assert "Location" not in r.headers and "Set-Cookie" not in r.headers
    assert session_user(c) is None


# --------------------------------------------------------------------------- configuration


def test_start_up_refuses_incomplete_oidc_settings(settings, provider):
    import app as appmod

    base = oidc_settings(settings, provider)
    for changes, message in [({"secret_key": None}, "CHASQUI_SECRET_KEY"), ({"secret_key": "short"}, "32"),
                             ({"oidc_client_secret": None}, "CHASQUI_OIDC_CLIENT_SECRET"),
                             ({"oidc_client_id": None}, "CHASQUI_OIDC_CLIENT_ID"),
                             ({"oidc_issuer": "http://idp.example"}, "https"),
                             ({"oidc_redirect_base": "chasqui.example"}, "CHASQUI_OIDC_REDIRECT_BASE")]:
        with pytest.raises(SettingsError, match=message):
            appmod.create_app(base.replace(**changes), start_live=False)


def test_oidc_settings_from_env_and_secrets_never_serialised(tmp_path):
    env = {"CHASQUI_OIDC_ISSUER": "https://idp.example/realms/chasqui", "CHASQUI_OIDC_CLIENT_ID": "chasqui",
           "CHASQUI_OIDC_CLIENT_SECRET": "very-secret-value", "CHASQUI_OIDC_ROLES_CLAIM": "realm_access.roles",
           "CHASQUI_SECRET_KEY": "k" * 40, "CHASQUI_SESSION_HOURS": "2",
           "CHASQUI_OIDC_REDIRECT_BASE": "https://chasqui.example"}
    s = Settings.from_env(env, data_dir=tmp_path)
    assert (s.oidc_issuer, s.oidc_roles_claim, s.session_hours) == (env["CHASQUI_OIDC_ISSUER"], "realm_access.roles",
                                                                     2.0)
    for text in (s.to_json(), repr(s)):
        assert "very-secret-value" not in text and "k" * 40 not in text
    assert Settings.from_json(s.to_json()).oidc_client_id == "chasqui"
    with pytest.raises(SettingsError):
        Settings(session_hours=0)


def test_roles_from_claims_shapes():
    assert oidc.roles_from_claims({"realm_access": {"roles": ["logistics", "x"]}}, "realm_access.roles") == {
        "logistics"}
    assert oidc.roles_from_claims({"https://chasqui.pe/roles": ["marketing"]}, "https://chasqui.pe/roles") == {
        "marketing"}
    assert oidc.roles_from_claims({"roles": "executive,traceability-admin"}, "roles") == {
        "executive", "traceability-admin"}
    assert oidc.roles_from_claims({"roles": [1, None, {"a": 1}]}, "roles") == frozenset()
    assert oidc.roles_from_claims({}, "roles") == frozenset()
