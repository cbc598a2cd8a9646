"""The app with security installed: headers on every response, 413 for big bodies, sign-in by role."""

from __future__ import annotations

import io

import pytest

from tests.fixtures.web import basic, find_serialised, forged_body

HEADERS = ("Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy")
SIXTY_MB = 60 * 1024 * 1024
BIG = b"x" * SIXTY_MB


def _deps(app):
    return app.server.test_client().get("/_dash-dependencies").get_json()


def _dep(app, prefix):
    return next(d for d in _deps(app) if d["output"].lstrip(".").startswith(prefix))


def test_security_headers_on_every_kind_of_response(open_app):
    c = open_app.server.test_client()
    responses = {
        "page": c.get("/logistics?carrier=<script>"), "health": c.get("/healthz"), "metrics": c.get("/metrics"),
        "asset": c.get("/assets/chasqui.css"), "missing": c.get("/no/such/page.php"),
        "deps": c.get("/_dash-dependencies"), "bad callback": c.post("/_dash-update-component", data=b"{"),
        "too large": c.post("/_dash-update-component", data=b"x" * (9 * 1024 * 1024)),
    }
    for name, r in responses.items():
        for h in HEADERS:
            assert r.headers.get(h), (name, h, r.status_code)
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in r.headers, name  # plain HTTP, no trusted proxy
    csp = responses["page"].headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self' 'sha256-" in csp
    # every inline script in the page is allowed by its hash, and no other inline script exists
    import base64
    import hashlib
    import re

    html = re.sub(r"<!--.*?-->", "", responses["page"].get_data(as_text=True), flags=re.S)  # IE-only block
    inline = re.findall(r"<script(?: id=\"_dash-renderer\" type=\"application/javascript\")?>(.*?)</script>", html,
                        re.S)
    assert inline
    for script in inline:
        digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in csp


def test_hsts_only_over_https_or_a_trusted_proxy(settings):
    import app as appmod

    c = appmod.create_app(settings, start_live=False).server.test_client()
    assert "Strict-Transport-Security" not in c.get("/healthz", headers={"X-Forwarded-Proto": "https"}).headers
    assert "Strict-Transport-Security" in c.get("/healthz", base_url="https://chasqui.example").headers
    c2 = appmod.create_app(settings.replace(trust_proxy=1), start_live=False).server.test_client()
    r = c2.get("/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "10.0.0.1"})
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in c2.get("/healthz").headers


@pytest.mark.parametrize("path", ["/_dash-update-component", "/", "/healthz", "/metrics", "/data", "/nowhere"])
def test_sixty_megabyte_post_gets_413_everywhere(open_app, path):
    c = open_app.server.test_client()
    r = c.post(path, data=BIG, content_type="application/json")
    assert r.status_code == 413
    assert b"too large" in r.data and b"Traceback" not in r.data
    # a chunked body (no Content-Length) is cut off at the limit too
    stream = io.BytesIO(b"y" * (9 * 1024 * 1024))
    r = c.post(path, input_stream=stream, headers={"Transfer-Encoding": "chunked"},
               environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 413
    assert stream.tell() < 9 * 1024 * 1024  # refused before the whole body was read


def test_small_chunked_callback_still_works(open_app):
    import json

    c = open_app.server.test_client()
    body = json.dumps(forged_body(_dep(open_app, "shell-navbar-collapse"), 1)).encode()
    r = c.post("/_dash-update-component", input_stream=io.BytesIO(body), content_type="application/json",
               headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True})
    assert r.status_code == 200 and "is_open" in r.get_json()["response"]["shell-navbar-collapse"]


def test_sign_in_protects_pages_by_role(auth_app):
    c = auth_app.server.test_client()
    r = c.get("/")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith('Basic realm="Chasqui"')
    assert c.get("/", headers=basic("ana", "wrong")).status_code == 401
    assert c.get("/traceability?lot=L1").status_code == 200  # consumers scanning a QR code
    assert c.get("/healthz").status_code == 200
    assert c.get("/assets/chasqui.css").status_code == 200
    assert c.get("/metrics").status_code == 401
    assert c.get("/metrics", headers=basic("mia")).status_code == 200
    grid = {"ana": {"/", "/logistics", "/segments", "/scenarios", "/sourcing", "/data"},
            "luis": {"/", "/logistics", "/scenarios", "/sourcing", "/data"},
            "mia": {"/", "/segments", "/sourcing"}, "tito": {"/", "/data"}}
    for user, allowed in grid.items():
        for page in ("/", "/logistics", "/segments", "/scenarios", "/sourcing", "/data"):
            r = c.get(page, headers=basic(user))
            assert r.status_code == (200 if page in allowed else 403), (user, page, r.status_code)
            assert r.headers.get("Cache-Control") == "no-store"
    assert b"may not open /logistics" in c.get("/logistics", headers=basic("mia")).data


def test_navbar_shows_who_is_signed_in(auth_app, open_app):
    from components import ids

    c = auth_app.server.test_client()
    layout = c.get("/_dash-layout", headers=basic("mia")).get_json()
    badge = find_serialised(layout, ids.NAVBAR_USER)
    assert badge["props"]["children"] == "mia" and badge["props"]["title"] == "Roles: marketing"
    assert find_serialised(layout, ids.NAVBAR_SIGNOUT) is None  # HTTP basic: the browser holds the credentials
    en = auth_app.server.test_client()
    en.set_cookie("chasqui_lang", "en")
    layout_en = en.get("/_dash-layout", headers=basic("tito")).get_json()
    assert find_serialised(layout_en, ids.NAVBAR_USER)["props"]["title"] == "Roles: traceability admin"
    assert find_serialised(c.get("/_dash-layout").get_json(), ids.NAVBAR_USER) is None  # anonymous (public page)
    assert find_serialised(c.get("/_dash-layout", headers=basic("mia", "wrong")).get_json(), ids.NAVBAR_USER) is None
    assert find_serialised(open_app.server.test_client().get("/_dash-layout").get_json(), ids.NAVBAR_USER) is None


def test_sign_in_applies_to_callback_requests(auth_app):
    c = auth_app.server.test_client()
    seg = forged_body(_dep(auth_app, "segments-regions"), "es")
    assert c.post("/_dash-update-component", json=seg).status_code == 401
    assert c.post("/_dash-update-component", json=seg, headers=basic("luis")).status_code == 403
    r = c.post("/_dash-update-component", json=seg, headers=basic("mia"))
    assert r.status_code == 200 and "segments-regions" in r.get_json()["response"]
    # the traceability lookup stays public; its recall export needs traceability-admin
    look = _dep(auth_app, "trace-lot")
    body = forged_body(look, None)
    assert c.post("/_dash-update-component", json=body).status_code in (200, 204)
    export = forged_body(_dep(auth_app, "trace-download"), 1)
    assert c.post("/_dash-update-component", json=export).status_code == 401
    assert c.post("/_dash-update-component", json=export, headers=basic("luis")).status_code == 403
    assert c.post("/_dash-update-component", json=export, headers=basic("tito")).status_code in (200, 204)
    # the page router: anonymous visitors get the traceability layout and nothing else
    router = _dep(auth_app, "_pages_content")

    def route(path, **kw):
        b = forged_body(router, "")
        b["inputs"][0]["value"] = path
        return c.post("/_dash-update-component", json=b, **kw)

    assert route("/traceability").status_code == 200
    assert route("/logistics").status_code == 401
    assert route("/logistics", headers=basic("mia")).status_code == 403
    r = route("/logistics", headers=basic("luis"))
    assert r.status_code == 200 and "logistics-map" in r.get_data(as_text=True)
    # the shell (language, theme, navbar) works for anonymous visitors of the public page
    assert c.post("/_dash-update-component", json=forged_body(_dep(auth_app, "shell-navbar-collapse"), 1)
                  ).status_code == 200


@pytest.fixture(scope="module")
def trained_app(settings, tmp_path_factory):
    """An app over a copy of the demo data with a model really trained (the cold-chain detector, ~2 s),
    so the data folder has a model card and an artifact manifest; returns (app, model card)."""
    import shutil

    import app as appmod
    from analytics.live import coldchain
    from analytics.training import train_all

    data = tmp_path_factory.mktemp("trained") / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns(".cache"))
    card = train_all(data, trainers=[coldchain.train])
    return appmod.create_app(settings.replace(data_dir=data), start_live=False), card


def test_model_age_metric_is_exported(trained_app):
    from datetime import datetime

    app, card = trained_app
    assert "coldchain_anomaly" in card and card["created_at"]
    text = app.server.test_client().get("/metrics").get_data(as_text=True)
    assert "chasqui_http_requests_total" in text
    ages = {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith("chasqui_model_trained_timestamp_seconds{")}
    # the model card's training time, as a Unix timestamp, labelled with the model's name in the card
    assert ages['chasqui_model_trained_timestamp_seconds{model="coldchain_anomaly"}'] == pytest.approx(
        datetime.fromisoformat(card["created_at"]).timestamp())
