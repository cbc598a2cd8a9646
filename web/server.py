"""The Flask side of the app: routes, request metrics, sign-in, access rules and headers.

``install(app, settings, owners)`` is called once by ``app.create_app`` after every page's callbacks are
registered (``owners`` = output id → ``OutputOwner``, from ``callbacks.register_all``). It adds:

- ``/healthz`` and ``/metrics`` (Prometheus text; the model-age gauge refreshed at each scrape),
- the Merkle log under ``/ledger/`` (``web.ledger``: C2SP tlog-tiles, read-only, public even with sign-in),
- request metrics (``chasqui_http_requests_total``, ``chasqui_callback_seconds``),
- a request-size limit that also holds for chunked bodies, optional proxy headers (``CHASQUI_TRUST_PROXY``),
- optional sign-in (HTTP basic from ``CHASQUI_AUTH_FILE``, failed attempts throttled by ``web.throttle``, and/or
  OpenID Connect with sessions kept on the server, ``web.sessions``), enforced per page and per callback from the
  owners map (``web.access``) by the ``Gate``, with the OIDC routes ``/auth/login``, ``/auth/callback`` and
  ``/auth/logout`` (a POST with the session's anti-forgery token) in ``OIDCRoutes``,
- checks of callback JSON (depth, non-finite numbers) before Dash parses it, and a quiet 404 for Dash asset
  paths that do not exist,
- security headers (a CSP allowing inline scripts by hash only) on every response.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from web import access, headers, ledger, metrics, oidc, passwords, sessions, throttle
from web.settings import Settings, SettingsError

log = logging.getLogger("chasqui")

DASH_PATHS = ("_dash-layout", "_dash-dependencies", "_reload-hash", "_favicon.ico")  # Dash's own, always public
STATIC_PATHS = ("assets/", "_dash-component-suites/")


def install(app: Any, settings: Settings, owners: Mapping[str, access.OutputOwner]) -> None:
    """Wire the web layer into ``app`` (a ``dash.Dash``). Raises SettingsError for unusable sign-in settings
    and ValueError when a registered callback has an output no page owns."""
    unowned = access.CallbackRules(dict(owners)).unowned(app.callback_map)
    if unowned:
        raise ValueError(f"callbacks registered without an owner for outputs {unowned} (a callbacks module's "
                         "register must return the owner of every output it registers)")
    _install_routes(app, settings)
    ledger.install(app.server, settings, app.config.requests_pathname_prefix or "/")
    _install_security(app, settings, owners)


def _install_routes(app: Any, settings: Settings) -> None:
    import flask

    from analytics import storage

    server = app.server

    @server.get("/healthz")
    def healthz():
        ready = storage.has_table(settings.data_dir, "orders")
        body = {"status": "ok" if ready else "no-data", "engine": settings.engine}  # public: no file paths
        return flask.jsonify(body), (200 if ready else 503)

    @server.get("/metrics")
    def prometheus_metrics():
        payload, ctype = metrics.render()
        return flask.Response(payload, mimetype=ctype.split(";")[0], headers={"Content-Type": ctype})

    def _known_paths() -> set[str]:
        import dash

        return {p["path"] for p in dash.page_registry.values()} | {"/healthz", "/metrics"} | {
            "/" + p for p in DASH_PATHS}

    @server.before_request
    def _start_timer() -> None:
        flask.g.chasqui_t0 = time.perf_counter()

    @server.after_request
    def _observe(response):
        t0 = getattr(flask.g, "chasqui_t0", None)
        path = flask.request.path
        if t0 is not None and path.endswith("/_dash-update-component"):
            body = getattr(flask.g, "chasqui_body", None)  # parsed (and checked) by the guard, never again here
            output = body.get("output") if isinstance(body, dict) else None
            # only known callbacks get their own series (a forged output must not add label values)
            label = output[:120] if isinstance(output, str) and output in app.callback_map else "unknown"
            metrics.CALLBACK_SECONDS.labels(callback=label).observe(time.perf_counter() - t0)
        group = "callback" if path.endswith("_dash-update-component") else (
            "asset" if "/assets/" in path or "/_dash-component-suites/" in path else path[:40])
        if group not in ("callback", "asset") and group not in _known_paths():
            group = "other"  # scanners must not add a label value per made-up path
        metrics.HTTP_REQUESTS.labels(path=group, status=str(response.status_code)).inc()
        return response


def _defined_by_dash(fn: Any) -> bool:
    """True for a callback function Dash defined itself (its page router, background-job cancels)."""
    module = getattr(inspect.unwrap(fn), "__module__", "") if callable(fn) else ""
    return module == "dash" or module.startswith("dash.")


def callback_rules(callback_map: Mapping[str, Any], owners: Mapping[str, access.OutputOwner]) -> access.CallbackRules:
    """The access rules for the callbacks registered now: the pages' owners, plus Dash's own callbacks.

    Dash registers its page router on the first request, after ``install``; it is recognised by where its
    function is defined (the ``dash`` package), not by its ids. A Dash callback with a ``pathname`` input
    (a ``dcc.Location``) renders the page at that path: the router.
    """
    framework = frozenset(cb for cb, spec in callback_map.items() if _defined_by_dash(spec.get("callback")))
    routers: dict[str, str] = {}
    for cb in framework:
        for dep in callback_map[cb].get("inputs") or []:
            if isinstance(dep, dict) and dep.get("property") == "pathname" and isinstance(dep.get("id"), str):
                routers[cb] = dep["id"]
    return access.CallbackRules(dict(owners), framework, routers)


def _install_security(app: Any, settings: Settings, owners: Mapping[str, access.OutputOwner]) -> None:
    """Body limits and proxy headers (WSGI middleware), sign-in, the access guard, response headers, and quiet
    answers for bad Dash asset paths."""
    server = app.server
    limit = int(settings.max_request_mb * 1024 * 1024)
    server.config["MAX_CONTENT_LENGTH"] = limit
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trust_proxy
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    server.wsgi_app = headers.BodyLimit(server.wsgi_app, limit)
    prefix = app.config.requests_pathname_prefix or "/"
    routes = _install_oidc(server, settings, prefix) if settings.oidc_issuer else None
    gate = Gate(app, settings, owners, prefix, routes)
    server.config.update(CHASQUI_AUTH=gate.auth, CHASQUI_SIGNED_IN=gate.signed_in, CHASQUI_SIGN_IN=gate.signin,
                         CHASQUI_OIDC=routes)
    server.before_request(gate.guard)
    server.after_request(gate.add_headers)
    _install_error_pages(server)


def _install_error_pages(server: Any) -> None:
    """A request for a Dash asset that does not exist (an unknown library, a path it never registered, ``..``)
    is a 404 with one line, not a 500 with a traceback logged for every anonymous request."""
    import flask
    from dash.exceptions import DependencyException

    def missing_asset(_exc: Exception) -> Any:
        return flask.Response("no such file\n", 404, mimetype="text/plain")

    server.register_error_handler(DependencyException, missing_asset)


class Gate:
    """Who is asking and whether they may: the access guard (``before_request``) and the response headers
    (``after_request``) of one app, with the sign-in methods it was configured with."""

    EXACT_PUBLIC = ("healthz", *DASH_PATHS)
    FOLDERS_PUBLIC = (ledger.PATH, *STATIC_PATHS)

    def __init__(self, app: Any, settings: Settings, owners: Mapping[str, access.OutputOwner], prefix: str,
                 oidc_routes: OIDCRoutes | None) -> None:
        self.app, self.settings, self.owners, self.prefix = app, settings, owners, prefix
        self.oidc = oidc_routes
        self.auth: passwords.Authenticator | None = None
        if settings.auth_file:
            failures = throttle.open_counter(settings.data.cache.sign_in)
            self.auth = passwords.Authenticator(passwords.load_users(settings.auth_file), failures=failures)
        self.signin = self.auth is not None or self.oidc is not None
        self._csp: str | None = None  # built on first use, once every clientside callback (inline script) exists
        self._rules: tuple[int, access.CallbackRules] | None = None  # Dash adds its router on the first request

    def is_public(self, path: str) -> bool:
        """Health check, Dash's own files and assets, the ledger, the sign-in routes: open to anyone."""
        return (access.public_path(path, self.prefix, self.EXACT_PUBLIC, self.FOLDERS_PUBLIC)
                or (self.oidc is not None and path in self.oidc.paths))

    def rules(self) -> access.CallbackRules:
        count = len(self.app.callback_map)
        if self._rules is None or self._rules[0] != count:
            self._rules = (count, callback_rules(dict(self.app.callback_map), self.owners))
        return self._rules[1]

    def who(self) -> tuple[access.User | None, bool]:
        """The signed-in user of this request (HTTP basic credentials, else the OIDC session) and whether it
        came from the OIDC session. Raises ``throttle.Throttled`` for credentials from a user name or client
        address that failed too often (before any password is hashed)."""
        import flask

        req = flask.request
        user = self.auth.authenticate(req.headers.get("Authorization"), req.remote_addr) if self.auth else None
        if user is None and self.oidc is not None:
            user = self.oidc.session_user(flask.session)
            return user, user is not None
        return user, False

    def signed_in(self) -> dict[str, Any] | None:
        """Who the navbar shows (the layout request itself is public, so it is asked here), with the sign-out
        form's address and token for an OIDC session."""
        import flask

        if not self.signin or not flask.has_request_context():
            return None
        try:
            user, via_session = self.who()
        except throttle.Throttled:
            return None
        if user is None:
            return None
        out: dict[str, Any] = {"name": user.name, "roles": sorted(user.roles), "logout": None}
        if via_session and self.oidc is not None:
            out.update(logout=self.prefix + "auth/logout", csrf=self.oidc.csrf_token(flask.session))
        return out

    def deny(self, decision: access.Decision, extra: Mapping[str, str] | None = None) -> Any:
        import flask

        challenge = dict(extra or {})
        if decision.status == 401 and self.auth is not None:
            challenge["WWW-Authenticate"] = 'Basic realm="Chasqui", charset="UTF-8"'
        req = flask.request
        if (decision.status == 401 and self.oidc is not None and req.method == "GET"
                and not req.path.endswith("_dash-update-component") and "text/html" in req.headers.get("Accept", "")):
            back = req.path + ("?" + req.query_string.decode("latin-1") if req.query_string else "")
            return flask.redirect(self.prefix + "auth/login?" + urlencode({"next": back}), 302)
        if req.path.endswith("_dash-update-component"):
            return flask.jsonify({"error": decision.reason}), decision.status, challenge
        return flask.Response(decision.reason + "\n", decision.status, challenge, mimetype="text/plain")

    def guard(self) -> Any:
        """Before every request: public paths pass; otherwise find the user (or 429), then decide by page,
        callback or ``/metrics``."""
        import flask

        path = flask.request.path
        if self.is_public(path):
            return None
        try:
            user, _ = self.who()
        except throttle.Throttled as exc:
            return self.deny(access.Decision(False, 429, str(exc)), {"Retry-After": str(exc.retry_after)})
        flask.g.chasqui_user = user
        decision = self.decide(path, user)
        return None if decision.allowed else self.deny(decision)

    def decide(self, path: str, user: access.User | None) -> access.Decision:
        import flask

        settings = self.settings
        if path.endswith("/_dash-update-component"):
            body, decision = access.parse_json_body(flask.request.get_data(cache=True))
            if not decision.allowed:
                return decision
            flask.g.chasqui_body = body
            r = self.rules()
            decision = access.validate_callback_body(body, self.app.callback_map, self.prefix, r.routers)
            if decision.allowed:
                decision = access.callback_access(user, body, r, settings.public_pages, self.signin, self.prefix)
            return decision
        if path == self.prefix + "metrics":
            _observe_model_age(settings)
            return access.ALLOW if not self.signin or settings.metrics_public or user is not None else access.SIGN_IN
        return access.page_access(user, access.normalize_page(path, self.prefix), settings.public_pages, self.signin)

    def add_headers(self, response: Any) -> Any:
        import flask

        if self._csp is None:
            self._csp = headers.content_security_policy(self.app.csp_hashes())
        for k, v in headers.security_headers(self._csp, https=flask.request.is_secure).items():
            response.headers.setdefault(k, v)
        if self.signin and not self.is_public(flask.request.path):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


class OIDCRoutes:
    """``/auth/login``, ``/auth/callback`` and ``/auth/logout`` around ``web.oidc.OIDCClient``, with the sessions
    kept on the server (``web.sessions``: signing out ends a session for every copy of its cookie).

    Sign-out is a POST carrying the session's anti-forgery token (the navbar's form): another site can neither
    send it with a link nor know the token."""

    CSRF = "chasqui_csrf"  # session key: the sign-out form's token

    def __init__(self, client: oidc.OIDCClient, settings: Settings, prefix: str, store: sessions.SessionStore) -> None:
        self.client, self.settings, self.prefix, self.store = client, settings, prefix, store
        self.paths = frozenset(prefix + p for p in ("auth/login", "auth/callback", "auth/logout"))

    def install(self, server: Any) -> None:
        server.add_url_rule(self.prefix + "auth/login", "oidc_login", self.login, methods=["GET"])
        server.add_url_rule(self.prefix + "auth/callback", "oidc_callback", self.callback, methods=["GET"])
        server.add_url_rule(self.prefix + "auth/logout", "oidc_logout", self.logout, methods=["POST"])
        # a GET must not fall through to Dash's catch-all page route: it is refused, and signs nobody out
        server.add_url_rule(self.prefix + "auth/logout", "oidc_logout_get", self.logout_get, methods=["GET"])

    def redirect_uri(self) -> str:
        return (self.settings.oidc_redirect_base or "").rstrip("/") + "/auth/callback"

    def session_user(self, session: Mapping[str, Any]) -> access.User | None:
        """The session's user while its id is still live on this server."""
        record = session.get(oidc.SESSION_USER)
        user = oidc.session_user(record, self.client.config.issuer)
        if user is None or not self.store.active(record.get("sid") if isinstance(record, Mapping) else None):
            return None
        return user

    def csrf_token(self, session: Any) -> str:
        token = session.get(self.CSRF)
        if not isinstance(token, str) or len(token) < 32:
            import secrets

            token = session[self.CSRF] = secrets.token_urlsafe(32)
        return token

    @staticmethod
    def refuse(exc: oidc.OIDCError) -> Any:
        import flask

        log.warning("OIDC sign-in refused: %s", exc.message)
        return flask.Response(f"sign-in refused: {exc.message}\n", exc.status, mimetype="text/plain")

    def login(self) -> Any:
        import flask

        try:
            return flask.redirect(self.client.begin(flask.session, flask.request.args.get("next"), self.redirect_uri(),
                                                    self.prefix))
        except oidc.OIDCError as exc:
            return self.refuse(exc)

    def callback(self) -> Any:
        import flask

        try:
            user, target = self.client.complete(flask.session, flask.request.args)
        except oidc.OIDCError as exc:
            return self.refuse(exc)
        flask.session.clear()  # a fresh session for the signed-in user (nothing carried over)
        flask.session.permanent = True
        now = time.time()
        sid = self.store.open(now + self.settings.session_hours * 3600)
        flask.session[oidc.SESSION_USER] = oidc.session_record(user, self.client.config.issuer, now,
                                                               self.settings.session_hours, sid)
        self.csrf_token(flask.session)
        log.info("OIDC sign-in: %s (%s)", user.name, ",".join(sorted(user.roles)))
        return flask.redirect(target)

    @staticmethod
    def logout_get() -> Any:
        import flask

        return flask.Response("sign out with the button in the navigation bar (a POST)\n", 405, {"Allow": "POST"},
                              mimetype="text/plain")

    def logout(self) -> Any:
        import hmac

        import flask

        expected = flask.session.get(self.CSRF)
        given = flask.request.form.get("csrf", "")
        if not isinstance(expected, str) or not hmac.compare_digest(expected.encode(), str(given).encode()):
            return flask.Response("sign-out refused: the form's token does not match this session\n", 403,
                                  mimetype="text/plain")
        record = flask.session.get(oidc.SESSION_USER)
        self.store.revoke(record.get("sid") if isinstance(record, Mapping) else None)
        flask.session.clear()
        return flask.Response(f"signed out of Chasqui; sign in again at {self.prefix}auth/login\n", 200,
                              mimetype="text/plain")


def _oidc_client(settings: Settings) -> oidc.OIDCClient:
    """The provider client from the settings; SettingsError for unusable ones (checked at start-up)."""
    if not settings.secret_key or len(settings.secret_key) < 32:
        raise SettingsError("CHASQUI_SECRET_KEY (at least 32 characters) is required with CHASQUI_OIDC_ISSUER: it "
                            "signs the session cookie; make one with python -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))' and give every worker the same one")
    if not settings.oidc_redirect_base:
        raise SettingsError("CHASQUI_OIDC_REDIRECT_BASE (the public base URL, e.g. https://chasqui.example.pe) is "
                            "required with CHASQUI_OIDC_ISSUER: the redirect URI is never taken from the request's "
                            "Host header")
    try:
        client = oidc.OIDCClient(oidc.OIDCConfig(
            issuer=settings.oidc_issuer or "", client_id=settings.oidc_client_id or "",
            client_secret=settings.oidc_client_secret or "", roles_claim=settings.oidc_roles_claim,
            scopes=settings.oidc_scopes))
        oidc.check_url(settings.oidc_redirect_base, "CHASQUI_OIDC_REDIRECT_BASE")
    except oidc.OIDCError as exc:
        raise SettingsError(exc.message) from None
    return client


def _session_cookie(server: Any, settings: Settings) -> None:
    """The signed session cookie: HttpOnly, SameSite=Lax, Secure whenever the request came over HTTPS."""
    from datetime import timedelta

    import flask
    from flask.sessions import SecureCookieSessionInterface

    class _Session(SecureCookieSessionInterface):
        def get_cookie_secure(self, app: Any) -> bool:
            return bool(app.config["SESSION_COOKIE_SECURE"]) or flask.request.is_secure

    server.secret_key = settings.secret_key
    server.session_interface = _Session()
    server.config.update(SESSION_COOKIE_NAME="chasqui_session", SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax",
                         PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours))


def _install_oidc(server: Any, settings: Settings, prefix: str) -> OIDCRoutes:
    """OIDC sign-in: the provider client, the session cookie and the ``/auth/*`` routes (``OIDCRoutes``).

    The flow and every check live in ``web.oidc``; the routes only move data between it, the request, the
    session and the server's session list."""
    routes = OIDCRoutes(_oidc_client(settings), settings, prefix, sessions.open_store(settings.data.cache.sign_in))
    _session_cookie(server, settings)
    routes.install(server)
    return routes


def _observe_model_age(settings: Settings) -> None:
    """Export when each model was trained (``chasqui_model_trained_timestamp_seconds``) at scrape time."""
    from analytics.model_card import trained_timestamps

    for model, ts in trained_timestamps(settings.data.root).items():
        metrics.MODEL_TRAINED.labels(model=model).set(ts)
