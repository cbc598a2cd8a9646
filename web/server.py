"""The Flask side of the app: routes, request metrics, sign-in, access rules and headers.

``install(app, settings, owners)`` is called once by ``app.create_app`` after every page's callbacks are
registered (``owners`` = output id → ``OutputOwner``, from ``callbacks.register_all``). It adds:

- ``/healthz`` and ``/metrics`` (Prometheus text; the model-age gauge refreshed at each scrape),
- request metrics (``chasqui_http_requests_total``, ``chasqui_callback_seconds``),
- a request-size limit that also holds for chunked bodies, optional proxy headers (``CHASQUI_TRUST_PROXY``),
- optional sign-in (HTTP basic from ``CHASQUI_AUTH_FILE`` and/or OpenID Connect), enforced per page and per
  callback from the owners map (``web.access``), with the OIDC routes ``/auth/login``, ``/auth/callback``,
  ``/auth/logout``,
- security headers (a CSP allowing inline scripts by hash only) on every response.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from web import access, headers, metrics, oidc, passwords
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
    _install_security(app, settings, owners)


def _install_routes(app: Any, settings: Settings) -> None:
    import flask

    from analytics import storage

    server = app.server

    @server.get("/healthz")
    def healthz():
        ready = storage.has_table(settings.data_dir, "orders")
        body = {"status": "ok" if ready else "no-data", "engine": settings.engine,
                "data_dir": str(settings.data_dir)}
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
            body = flask.request.get_json(silent=True)
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
    import flask

    server = app.server
    limit = int(settings.max_request_mb * 1024 * 1024)
    server.config["MAX_CONTENT_LENGTH"] = limit
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trust_proxy
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    server.wsgi_app = headers.BodyLimit(server.wsgi_app, limit)
    auth = passwords.Authenticator(passwords.load_users(settings.auth_file)) if settings.auth_file else None
    server.config["CHASQUI_AUTH"] = auth
    prefix = app.config.requests_pathname_prefix or "/"
    oidc_client = _install_oidc(server, settings, prefix) if settings.oidc_issuer else None
    signin = auth is not None or oidc_client is not None
    always_public = tuple(prefix + p for p in ("healthz", *STATIC_PATHS, *DASH_PATHS))
    csp: list[str] = []  # built on first use, once every clientside callback (inline script) is registered
    rules: dict[int, access.CallbackRules] = {}  # by callback count: Dash adds its router on the first request

    def current_rules() -> access.CallbackRules:
        count = len(app.callback_map)
        found = rules.get(count)
        if found is None:
            found = callback_rules(dict(app.callback_map), owners)
            rules.clear()
            rules[count] = found
        return found

    def deny(decision: access.Decision):
        challenge = ({"WWW-Authenticate": 'Basic realm="Chasqui", charset="UTF-8"'}
                     if decision.status == 401 and auth is not None else {})
        req = flask.request
        if (decision.status == 401 and oidc_client is not None and req.method == "GET"
                and not req.path.endswith("_dash-update-component") and "text/html" in req.headers.get("Accept", "")):
            back = req.path + ("?" + req.query_string.decode("latin-1") if req.query_string else "")
            return flask.redirect(prefix + "auth/login?" + urlencode({"next": back}), 302)
        if req.path.endswith("_dash-update-component"):
            return flask.jsonify({"error": decision.reason}), decision.status, challenge
        return flask.Response(decision.reason + "\n", decision.status, challenge, mimetype="text/plain")

    def who() -> tuple[access.User | None, bool]:
        """The signed-in user of this request (HTTP basic credentials, else the OIDC session) and
        whether it came from the OIDC session."""
        user = auth.authenticate(flask.request.headers.get("Authorization")) if auth else None
        if user is None and oidc_client is not None:
            user = oidc.session_user(flask.session.get(oidc.SESSION_USER), settings.oidc_issuer or "")
            return user, user is not None
        return user, False

    def signed_in() -> dict[str, Any] | None:
        """Who the navbar shows (the layout request itself is public, so it is asked here)."""
        if not signin or not flask.has_request_context():
            return None
        user, via_session = who()
        if user is None:
            return None
        return {"name": user.name, "roles": sorted(user.roles),
                "logout": prefix + "auth/logout" if via_session else None}

    server.config["CHASQUI_SIGNED_IN"] = signed_in

    @server.before_request
    def _guard():
        path = flask.request.path
        if path.startswith(always_public) or (oidc_client is not None and path.startswith(prefix + "auth/")):
            return None
        user, _ = who()
        flask.g.chasqui_user = user
        if path.endswith("/_dash-update-component"):
            body = flask.request.get_json(silent=True)
            r = current_rules()
            decision = access.validate_callback_body(body, app.callback_map, prefix, r.routers)
            if decision.allowed:
                decision = access.callback_access(user, body, r, settings.public_pages, signin, prefix)
        elif path == prefix + "metrics":
            _observe_model_age(settings)
            decision = (access.ALLOW if not signin or settings.metrics_public or user is not None
                        else access.SIGN_IN)
        else:
            page = access.normalize_page(path, prefix)
            decision = access.page_access(user, page, settings.public_pages, signin)
        return None if decision.allowed else deny(decision)

    @server.after_request
    def _headers(response):
        if not csp:
            csp.append(headers.content_security_policy(app.csp_hashes()))
        https = flask.request.is_secure
        for k, v in headers.security_headers(csp[0], https=https).items():
            response.headers.setdefault(k, v)
        if signin and not flask.request.path.startswith(always_public):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _install_oidc(server: Any, settings: Settings, prefix: str) -> oidc.OIDCClient:
    """OIDC sign-in: the signed session cookie and ``/auth/login``, ``/auth/callback``, ``/auth/logout``.

    The flow and every check live in ``web.oidc``; these routes only move data between it, the
    request and the session. Returns the ``OIDCClient``."""
    from datetime import timedelta

    import flask
    from flask.sessions import SecureCookieSessionInterface

    if not settings.secret_key or len(settings.secret_key) < 32:
        raise SettingsError("CHASQUI_SECRET_KEY (at least 32 characters) is required with CHASQUI_OIDC_ISSUER: it "
                            "signs the session cookie; make one with python -c 'import secrets; "
                            "print(secrets.token_urlsafe(32))' and give every worker the same one")
    try:
        client = oidc.OIDCClient(oidc.OIDCConfig(
            issuer=settings.oidc_issuer or "", client_id=settings.oidc_client_id or "",
            client_secret=settings.oidc_client_secret or "", roles_claim=settings.oidc_roles_claim,
            scopes=settings.oidc_scopes))
        if settings.oidc_redirect_base:
            oidc.check_url(settings.oidc_redirect_base, "CHASQUI_OIDC_REDIRECT_BASE")
    except oidc.OIDCError as exc:
        raise SettingsError(exc.message) from None

    class _Session(SecureCookieSessionInterface):  # Secure cookie whenever the request came over HTTPS
        def get_cookie_secure(self, app: Any) -> bool:
            return bool(app.config["SESSION_COOKIE_SECURE"]) or flask.request.is_secure

    server.secret_key = settings.secret_key
    server.session_interface = _Session()
    server.config.update(SESSION_COOKIE_NAME="chasqui_session", SESSION_COOKIE_HTTPONLY=True,
                         SESSION_COOKIE_SAMESITE="Lax",
                         PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours))

    def redirect_uri() -> str:
        if settings.oidc_redirect_base:
            return settings.oidc_redirect_base.rstrip("/") + "/auth/callback"
        return flask.request.host_url.rstrip("/") + prefix + "auth/callback"

    def refuse(exc: oidc.OIDCError):
        log.warning("OIDC sign-in refused: %s", exc.message)
        return flask.Response(f"sign-in refused: {exc.message}\n", exc.status, mimetype="text/plain")

    @server.get(prefix + "auth/login")
    def oidc_login():
        try:
            return flask.redirect(client.begin(flask.session, flask.request.args.get("next"), redirect_uri(), prefix))
        except oidc.OIDCError as exc:
            return refuse(exc)

    @server.get(prefix + "auth/callback")
    def oidc_callback():
        try:
            user, target = client.complete(flask.session, flask.request.args)
        except oidc.OIDCError as exc:
            return refuse(exc)
        flask.session.clear()  # a fresh session for the signed-in user (nothing carried over)
        flask.session.permanent = True
        flask.session[oidc.SESSION_USER] = oidc.session_record(user, client.config.issuer, time.time(),
                                                               settings.session_hours)
        log.info("OIDC sign-in: %s (%s)", user.name, ",".join(sorted(user.roles)))
        return flask.redirect(target)

    @server.route(prefix + "auth/logout", methods=["GET", "POST"])
    def oidc_logout():
        flask.session.clear()
        return flask.Response(f"signed out of Chasqui; sign in again at {prefix}auth/login\n", 200,
                              mimetype="text/plain")

    return client


def _observe_model_age(settings: Settings) -> None:
    """Export when each model was trained (``chasqui_model_trained_timestamp_seconds``) at scrape time."""
    from analytics.model_card import trained_timestamps

    for model, ts in trained_timestamps(settings.data.root).items():
        metrics.MODEL_TRAINED.labels(model=model).set(ts)
