"""Chasqui: the app factory and the command line.

    python app.py serve [--host H] [--port P]
    python app.py generate [--orders N] [--seed S] --data-dir DIR
    python app.py train --data-dir DIR
    python app.py import dataco FILE --data-dir DIR
    python app.py import epcis FILE --data-dir DIR
    python app.py segments --data-dir DIR --k K --export FILE.csv
    python app.py scenario --data-dir DIR --preset NAME --json
    python app.py prepare --data-dir DIR      (generate + train when missing; used by `make run`)
    python app.py bench [--quick]

Nothing happens at import: gunicorn uses ``app:server``, which builds the app on first access.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent
if str(ROOT) not in sys.path:  # `python app.py` from elsewhere
    sys.path.insert(0, str(ROOT))

from analytics.settings import Settings, SettingsError  # noqa: E402  (light: stdlib only)

log = logging.getLogger("chasqui")
_CALLBACK_SNAPSHOT: list[Any] = []


def _register_callbacks() -> None:
    """Import the callbacks package; re-arm Dash's global callback registry for a second app.

    ``dash.callback`` registers into a global list that the first app consumes; tests build
    more than one app per process, so the registrations are snapshotted and restored.
    """
    from dash import _callback

    import callbacks  # noqa: F401  (registers every page's callbacks)

    if not _CALLBACK_SNAPSHOT:
        _CALLBACK_SNAPSHOT.append((dict(_callback.GLOBAL_CALLBACK_MAP), list(_callback.GLOBAL_CALLBACK_LIST),
                                   list(_callback.GLOBAL_INLINE_SCRIPTS)))
    else:
        cmap, clist, scripts = _CALLBACK_SNAPSHOT[0]
        _callback.GLOBAL_CALLBACK_MAP.clear()
        _callback.GLOBAL_CALLBACK_MAP.update(cmap)
        _callback.GLOBAL_CALLBACK_LIST[:] = clist
        _callback.GLOBAL_INLINE_SCRIPTS[:] = scripts


def create_app(settings: Settings | None = None, *, start_live: bool | None = None):  # -> dash.Dash
    """Build the Dash app: settings → engine → background manager → pages, callbacks, routes."""
    import diskcache
    from dash import Dash

    settings = settings or Settings.from_env(os.environ)
    logging.basicConfig(level=getattr(logging, settings.log_level.upper(), logging.INFO),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from callbacks.runtime import configure
    from components.i18n import current_lang
    from components.layout import shell

    configure(settings)
    _spawn_background_jobs(settings)
    assert settings.cache_dir is not None
    Path(settings.cache_dir).mkdir(parents=True, exist_ok=True)
    from callbacks.memo import MemoManager

    # never evicts: it also holds the secret signing job handles (every stored result expires instead)
    manager = MemoManager(diskcache.Cache(str(Path(settings.cache_dir) / "background"), eviction_policy="none"),
                          max_jobs=settings.max_jobs or None)
    _register_callbacks()
    app = Dash(
        __name__,
        use_pages=True,
        pages_folder=str(ROOT / "pages"),
        assets_folder=str(ROOT / "assets"),
        background_callback_manager=manager,
        suppress_callback_exceptions=False,
        title="Chasqui",
        update_title=None,
        serve_locally=True,
    )
    def layout() -> Any:  # per request: the visitor's language, and who is signed in (once security is set up)
        signed_in = app.server.config.get("CHASQUI_SIGNED_IN")
        return shell(current_lang(), signed_in() if signed_in else None)

    app.layout = layout
    _install_routes(app, settings)
    _install_security(app, settings)
    app.server.config["CHASQUI_SETTINGS"] = settings
    if start_live if start_live is not None else settings.live:
        from analytics import live

        app.server.config["CHASQUI_LIVE"] = live.start(settings)
    return app


def _spawn_background_jobs(settings: Settings) -> None:
    """Background callbacks run in spawned (not forked) processes, configured from the environment.

    Polars (and the JVM, with the Spark engine) are not fork-safe: a forked job can hang.
    """
    import multiprocess

    from callbacks.runtime import RUNTIME_ENV

    if multiprocess.get_start_method(allow_none=True) != "spawn":
        multiprocess.set_start_method("spawn", force=True)
    os.environ[RUNTIME_ENV] = settings.to_json()


def _install_routes(app: Any, settings: Settings) -> None:
    import flask

    from analytics import metrics, storage

    server = app.server

    @server.get("/healthz")
    def healthz():  # noqa: ANN202
        ready = storage.has_table(settings.data_dir, "orders")
        body = {"status": "ok" if ready else "no-data", "engine": settings.engine,
                "data_dir": str(settings.data_dir)}
        return flask.jsonify(body), (200 if ready else 503)

    @server.get("/metrics")
    def prometheus_metrics():  # noqa: ANN202
        payload, ctype = metrics.render()
        return flask.Response(payload, mimetype=ctype.split(";")[0], headers={"Content-Type": ctype})

    def _known_paths() -> set[str]:
        import dash

        return {p["path"] for p in dash.page_registry.values()} | {
            "/healthz", "/metrics", "/_dash-layout", "/_dash-dependencies", "/_reload-hash", "/_favicon.ico"}

    @server.before_request
    def _start_timer() -> None:
        flask.g.chasqui_t0 = time.perf_counter()

    @server.after_request
    def _observe(response):  # noqa: ANN001, ANN202
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


def _install_security(app: Any, settings: Settings) -> None:
    """Issue 10: security headers (CSP by hash) on every response, a request-size limit that also
    holds for chunked bodies, and optional sign-in (HTTP basic and/or OIDC) by role for pages and callbacks."""
    import flask

    from analytics import oidc, security

    server = app.server
    limit = int(settings.max_request_mb * 1024 * 1024)
    server.config["MAX_CONTENT_LENGTH"] = limit
    if settings.trust_proxy:
        from werkzeug.middleware.proxy_fix import ProxyFix

        n = settings.trust_proxy
        server.wsgi_app = ProxyFix(server.wsgi_app, x_for=n, x_proto=n, x_host=n, x_prefix=n)
    server.wsgi_app = security.BodyLimit(server.wsgi_app, limit)
    auth = security.Authenticator(security.load_users(settings.auth_file)) if settings.auth_file else None
    server.config["CHASQUI_AUTH"] = auth
    prefix = app.config.requests_pathname_prefix or "/"
    oidc_client = _install_oidc(server, settings, prefix) if settings.oidc_issuer else None
    signin = auth is not None or oidc_client is not None
    always_public = tuple(prefix + p for p in ("healthz", "assets/", "_dash-component-suites/", "_dash-layout",
                                                "_dash-dependencies", "_favicon.ico", "_reload-hash"))
    csp: list[str] = []  # built on first use, once every clientside callback (inline script) is registered

    def deny(decision: security.Decision):  # noqa: ANN202
        headers = ({"WWW-Authenticate": 'Basic realm="Chasqui", charset="UTF-8"'}
                   if decision.status == 401 and auth is not None else {})
        req = flask.request
        if (decision.status == 401 and oidc_client is not None and req.method == "GET"
                and not req.path.endswith("_dash-update-component") and "text/html" in req.headers.get("Accept", "")):
            back = req.path + ("?" + req.query_string.decode("latin-1") if req.query_string else "")
            return flask.redirect(prefix + "auth/login?" + urlencode({"next": back}), 302)
        if flask.request.path.endswith("_dash-update-component"):
            return flask.jsonify({"error": decision.reason}), decision.status, headers
        return flask.Response(decision.reason + "\n", decision.status, headers, mimetype="text/plain")

    def who() -> tuple[security.User | None, bool]:
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
    def _guard():  # noqa: ANN202
        path = flask.request.path
        if path.startswith(always_public) or (oidc_client is not None and path.startswith(prefix + "auth/")):
            return None
        user, _ = who()
        flask.g.chasqui_user = user
        if path.endswith("/_dash-update-component"):
            body = flask.request.get_json(silent=True)
            decision = security.validate_callback_body(body, app.callback_map, prefix)
            if decision.allowed:
                decision = security.callback_access(user, body, settings.public_pages, signin, prefix)
        elif path == prefix + "metrics":
            _observe_model_age(settings)
            decision = (security.ALLOW if not signin or settings.metrics_public or user is not None
                        else security.Decision(False, 401, "sign-in required"))
        else:
            page = security.normalize_page(path, prefix)
            decision = security.page_access(user, page, settings.public_pages, signin)
        return None if decision.allowed else deny(decision)

    @server.after_request
    def _headers(response):  # noqa: ANN001, ANN202
        if not csp:
            csp.append(security.content_security_policy(app.csp_hashes()))
        https = flask.request.is_secure
        for k, v in security.security_headers(csp[0], https=https).items():
            response.headers.setdefault(k, v)
        if signin and not flask.request.path.startswith(always_public):
            response.headers.setdefault("Cache-Control", "no-store")
        return response


def _install_oidc(server: Any, settings: Settings, prefix: str) -> Any:
    """OIDC sign-in: the signed session cookie and ``/auth/login``, ``/auth/callback``, ``/auth/logout``.

    The flow and every check live in ``analytics.oidc``; these routes only move data between it, the
    request and the session. Returns the ``OIDCClient`` (the guard reads the session user)."""
    from datetime import timedelta

    import flask
    from flask.sessions import SecureCookieSessionInterface

    from analytics import oidc

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

    def refuse(exc: oidc.OIDCError):  # noqa: ANN202
        log.warning("OIDC sign-in refused: %s", exc.message)
        return flask.Response(f"sign-in refused: {exc.message}\n", exc.status, mimetype="text/plain")

    @server.get(prefix + "auth/login")
    def oidc_login():  # noqa: ANN202
        try:
            return flask.redirect(client.begin(flask.session, flask.request.args.get("next"), redirect_uri(), prefix))
        except oidc.OIDCError as exc:
            return refuse(exc)

    @server.get(prefix + "auth/callback")
    def oidc_callback():  # noqa: ANN202
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
    def oidc_logout():  # noqa: ANN202
        flask.session.clear()
        return flask.Response(f"signed out of Chasqui; sign in again at {prefix}auth/login\n", 200,
                              mimetype="text/plain")

    return client


def _observe_model_age(settings: Settings) -> None:
    """Export when each model was trained (``chasqui_model_trained_timestamp_seconds``) at scrape time."""
    from datetime import datetime

    from analytics import metrics
    from analytics.catalog import model_catalog

    try:
        models = model_catalog(settings.data_dir)
    except (OSError, ValueError):
        return
    for m in models:
        try:
            ts = datetime.fromisoformat(str(m.get("created_at"))).timestamp()
        except ValueError:
            continue
        metrics.MODEL_TRAINED.labels(model=str(m["model"])[:60]).set(ts)


def __getattr__(name: str) -> Any:
    """``app.server`` for gunicorn (``gunicorn app:server``), built on first access."""
    if name == "server":
        created = create_app()
        globals()["server"] = created.server
        return created.server
    raise AttributeError(name)


# --------------------------------------------------------------------------- command line


class _Progress:
    """A progress bar on stderr (a line per 10% when not a terminal)."""

    def __init__(self, title: str) -> None:
        self.title = title
        self.tty = sys.stderr.isatty()
        self.last = -1
        self.t0 = time.perf_counter()

    def __call__(self, label: str, frac: float) -> None:
        pct = int(max(0.0, min(1.0, frac)) * 100)
        if self.tty:
            bar = "#" * (pct // 4)
            sys.stderr.write(f"\r{self.title} [{bar:<25}] {pct:3d}% {label[:40]:<40}")
            if pct >= 100:
                sys.stderr.write(f"  {time.perf_counter() - self.t0:.1f}s\n")
            sys.stderr.flush()
        elif pct // 10 != self.last // 10 or pct == 100:
            sys.stderr.write(f"{self.title}: {pct}% {label} ({time.perf_counter() - self.t0:.1f}s)\n")
        self.last = pct


def _settings_from_args(args: argparse.Namespace) -> Settings:
    overrides = {k: getattr(args, k) for k in ("data_dir", "host", "port") if getattr(args, k, None) is not None}
    return Settings.from_env(os.environ, **overrides)


def cmd_serve(args: argparse.Namespace) -> int:
    settings = _settings_from_args(args)
    app = create_app(settings)
    # one request before serving: Dash finishes its one-time setup before concurrent first requests
    app.server.test_client().get("/healthz")
    log.info("Chasqui on http://%s:%s (data: %s, engine: %s)", settings.host, settings.port,
             settings.data_dir, settings.engine)
    app.run(host=settings.host, port=settings.port, debug=False)
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from analytics.generate import describe_counts, generate_dataset

    settings = _settings_from_args(args)
    t0 = time.perf_counter()
    counts = generate_dataset(settings.data_dir, n_orders=args.orders, seed=args.seed,
                              progress=_Progress("generate"))
    print(json.dumps({"data_dir": str(settings.data_dir), "seed": args.seed, "tables": counts,
                      "seconds": round(time.perf_counter() - t0, 2)}))
    log.info("generated %s", describe_counts(counts))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from analytics.training import train_all

    settings = _settings_from_args(args)
    card = train_all(settings.data_dir, progress=_Progress("train"))
    print(json.dumps(card, default=str))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Generate demo data and train models if they are missing (what `make run` does first)."""
    from analytics import storage
    from analytics.training import MODEL_CARD

    settings = _settings_from_args(args)
    if not storage.has_table(settings.data_dir, "orders"):
        args.orders, args.seed = args.orders or 200_000, args.seed
        cmd_generate(args)
    if not (settings.models_dir / MODEL_CARD).exists():
        cmd_train(args)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    settings = _settings_from_args(args)
    args.data_dir = settings.data_dir
    if args.kind == "dataco":
        from analytics.dataco import cli as dataco_cli

        return dataco_cli(args)
    from analytics.traceability import cli_import

    return int(cli_import(args))


def cmd_segments(args: argparse.Namespace) -> int:
    args.data_dir = _settings_from_args(args).data_dir
    from analytics.segments import cli

    return int(cli(args))


def cmd_scenario(args: argparse.Namespace) -> int:
    args.data_dir = _settings_from_args(args).data_dir
    from analytics.scenarios import cli

    return int(cli(args))


def cmd_bench(args: argparse.Namespace) -> int:
    from benchmarks.run import main as bench_main

    return int(bench_main(quick=args.quick, only=args.only))


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python app.py", description="Chasqui — control tower for Peruvian supply chains")
    sub = p.add_subparsers(dest="command", required=True)

    def data_dir(sp: argparse.ArgumentParser) -> None:
        sp.add_argument("--data-dir", type=Path, default=None,
                        help="dataset folder (default: $CHASQUI_DATA_DIR, else data/demo)")

    sp = sub.add_parser("serve", help="serve the app")
    data_dir(sp)
    sp.add_argument("--host", default=None)
    sp.add_argument("--port", type=int, default=None)
    sp.set_defaults(func=cmd_serve)

    sp = sub.add_parser("generate", help="generate the deterministic demo dataset")
    data_dir(sp)
    sp.add_argument("--orders", type=int, default=200_000, help="number of orders (default 200,000)")
    sp.add_argument("--seed", type=int, default=7)
    sp.set_defaults(func=cmd_generate)

    sp = sub.add_parser("train", help="train every model the data supports into DIR/models/")
    data_dir(sp)
    sp.set_defaults(func=cmd_train)

    sp = sub.add_parser("prepare", help="generate and train when missing (used by make run)")
    data_dir(sp)
    sp.add_argument("--orders", type=int, default=200_000)
    sp.add_argument("--seed", type=int, default=7)
    sp.set_defaults(func=cmd_prepare)

    sp = sub.add_parser("import", help="import real data: `import dataco FILE` or `import epcis FILE`")
    sp.add_argument("kind", choices=["dataco", "epcis"])
    sp.add_argument("file", type=Path)
    data_dir(sp)
    sp.add_argument("--fx-usd-pen", type=float, default=3.30,
                    help="dataco: soles per US dollar for amounts (default 3.30)")
    sp.set_defaults(func=cmd_import)

    sp = sub.add_parser("segments", help="segment customers (RFM + K-means) and export")
    data_dir(sp)
    sp.add_argument("--k", type=int, required=True)
    sp.add_argument("--export", type=Path, default=None)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_segments)

    sp = sub.add_parser("scenario", help="run a what-if scenario preset")
    data_dir(sp)
    sp.add_argument("--preset", required=True)
    sp.add_argument("--json", action="store_true", help="print one JSON line")
    sp.add_argument("--runs", type=int, default=1000)
    sp.add_argument("--seed", type=int, default=0)
    sp.set_defaults(func=cmd_scenario)

    sp = sub.add_parser("bench", help="run the benchmarks side by side")
    sp.add_argument("--quick", action="store_true")
    sp.add_argument("--only", default=None, help="run only benchmarks whose module name contains this")
    sp.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("CHASQUI_LOG_LEVEL", "INFO").upper(),
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except (SettingsError, FileNotFoundError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
