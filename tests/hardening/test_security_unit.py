"""analytics.security on its own: passwords, users file, role → page decisions, CSP, uploads, body limit."""

from __future__ import annotations

import base64
import io

import pytest

from analytics import security
from analytics.settings import Settings, SettingsError


def test_scrypt_and_pbkdf2_hashes_verify_only_the_right_password():
    enc = security.hash_password("Quipu-2026", n=2**10)
    assert enc.startswith("scrypt$1024$8$1$")
    assert security.verify_password("Quipu-2026", enc)
    assert not security.verify_password("quipu-2026", enc)
    assert enc != security.hash_password("Quipu-2026", n=2**10)  # salted
    pb = security.hash_password_pbkdf2("Ñandú ✓", iterations=100_000)
    assert security.verify_password("Ñandú ✓", pb) and not security.verify_password("Nandu", pb)
    for broken in ("", "plain-password", "scrypt$x$8$1$AA==$AA==", "md5$abc", "pbkdf2_sha256$1$%%%$AA=="):
        assert not security.verify_password("x", broken)


def test_users_file_parses_and_fails_closed_with_line_numbers():
    good = security.hash_password("pw", n=2**10)
    users = security.parse_users(f"# comment\n\nana:executive:{good}\nluis:logistics, traceability-admin:{good}\n")
    assert set(users) == {"ana", "luis"}
    assert users["luis"].roles == {"logistics", "traceability-admin"}
    assert users["luis"].pages() == security.ROLE_PAGES["logistics"] | security.ROLE_PAGES["traceability-admin"]
    cases = {
        f"ana:admin:{good}": "users:1: unknown or missing role",
        "ana:executive:secret": "unsupported password hash",
        f"ana:executive:{good}\nana:marketing:{good}": "users:2: duplicate user",
        f"<script>:executive:{good}": "bad user name",
        "ana:executive": "expected USER:ROLE",
        "ana:executive:scrypt$1000$8$1$AA==$AA==": "scrypt parameters",
        "ana:executive:pbkdf2_sha256$1000$AA==$AA==": "iterations too low",
        "# nobody\n": "no users",
    }
    for text, msg in cases.items():
        with pytest.raises(security.SecurityError, match=msg.replace("$", r"\$")):
            security.parse_users(text, "users")


def test_load_users_missing_file_is_an_error(tmp_path):
    with pytest.raises(security.SecurityError, match="not found"):
        security.load_users(tmp_path / "nope")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(security.SecurityError, match="not UTF-8"):
        security.load_users(tmp_path / "bin")


def test_authenticator_basic_header_and_cache():
    enc = security.hash_password("pw:with:colons", n=2**10)
    auth = security.Authenticator(security.parse_users(f"ana:executive:{enc}"))
    header = "Basic " + base64.b64encode(b"ana:pw:with:colons").decode()
    assert auth.authenticate(header).name == "ana"
    assert auth.authenticate(header).name == "ana"  # from the verified-credentials cache
    assert len(auth._ok) == 1
    wrong = "Basic " + base64.b64encode(b"ana:pw").decode()
    for bad in (None, "", "Bearer abc", "Basic !!!", wrong, "Basic " + base64.b64encode(b"bob:x").decode(),
                "Basic " + base64.b64encode(b"no-colon").decode(), "Basic " + "A" * 5000):
        assert auth.authenticate(bad) is None
    assert len(auth._ok) == 1


def _user(*roles):
    return security.User("u", frozenset(roles), "x")


def test_page_access_by_role():
    pub = ("/traceability",)
    assert security.page_access(None, "/logistics", pub, auth_enabled=False).allowed
    assert security.page_access(None, "/traceability", pub, True).allowed
    d = security.page_access(None, "/", pub, True)
    assert (d.allowed, d.status) == (False, 401)
    mk = _user("marketing")
    assert security.page_access(mk, "/segments", pub, True).allowed
    d = security.page_access(mk, "/logistics", pub, True)
    assert (d.allowed, d.status) == (False, 403) and "marketing" in d.reason
    assert security.page_access(_user("executive"), "/data", (), True).allowed
    assert not security.page_access(_user("traceability-admin"), "/segments", pub, True).allowed
    assert security.page_access(_user("traceability-admin"), "/traceability", (), True).allowed
    assert security.normalize_page("/logistics/") == "/logistics"
    assert security.normalize_page("/app/segments", "/app/") == "/segments"


def _cb(*ids, pathname=None):
    outs = [{"id": i, "property": "children"} for i in ids]
    body = {"output": "..." + "...".join(f"{i}.children" for i in ids), "outputs": outs, "inputs": [], "state": []}
    if pathname is not None:
        body["inputs"] = [{"id": "_pages_location", "property": "pathname", "value": pathname}]
    return body


def test_callback_access_maps_output_id_prefixes_to_pages():
    pub = ("/traceability",)
    mk, lg, ta = _user("marketing"), _user("logistics"), _user("traceability-admin")
    assert security.callback_access(mk, _cb("segments-summary"), pub, True).allowed
    assert security.callback_access(mk, _cb("logistics-map"), pub, True).status == 403
    assert security.callback_access(None, _cb("logistics-map"), pub, True).status == 401
    assert security.callback_access(None, _cb("trace-summary"), pub, True).allowed  # public lookup
    assert security.callback_access(None, _cb("shell-lang-store"), pub, True).allowed
    assert security.callback_access(None, _cb("live-alerts"), pub, True).status == 401  # overview tiles
    assert security.callback_access(None, _cb("overview-kpis"), pub, True).status == 401
    # the page router renders the layout of the requested path: checked like a page load
    assert security.callback_access(None, _cb("_pages_content", pathname="/traceability"), pub, True).allowed
    assert security.callback_access(None, _cb("_pages_content", pathname="/logistics"), pub, True).status == 401
    assert security.callback_access(mk, _cb("_pages_content", pathname="/logistics"), pub, True).status == 403
    # actions need more than seeing the page
    assert security.callback_access(None, _cb("trace-download"), pub, True).status == 401
    assert security.callback_access(lg, _cb("trace-download"), pub, True).status == 403
    assert security.callback_access(ta, _cb("trace-download"), pub, True).allowed
    assert security.callback_access(ta, _cb("data-upload-result"), pub, True).status == 403
    assert security.callback_access(lg, _cb("data-upload-result"), pub, True).allowed
    # pattern-matching outputs (live tiles) are mapped by their type
    body = {"output": "x", "outputs": [[{"id": {"type": "live-tile-value", "tile": "orders"}, "property": "c"}]]}
    assert security.callback_outputs(body) == ["live-tile-value"]
    assert security.callback_access(mk, body, pub, True).allowed


def test_validate_callback_body_rejects_malformed_requests():
    known = {"a.children"}
    ok = {"output": "a.children", "outputs": {"id": "a", "property": "children"}, "inputs": [], "state": []}
    assert security.validate_callback_body(ok, known).allowed
    for bad in (None, [], "x", {**ok, "output": "zz.children"}, {**ok, "inputs": "x"},
                {**ok, "inputs": [{"id": "a"}]}, {**ok, "outputs": 3}, {**ok, "changedPropIds": [1]}):
        d = security.validate_callback_body(bad, known)
        assert (d.allowed, d.status) == (False, 400)
    router = {"output": "r", "outputs": [{"id": "_pages_content", "property": "children"}],
              "inputs": [{"id": "_pages_location", "property": "pathname", "value": ["/"]}], "state": []}
    assert security.validate_callback_body(router, {"r"}).status == 400


def test_csp_and_headers():
    csp = security.content_security_policy(["'sha256-abc='"])
    assert "script-src 'self' 'sha256-abc='" in csp
    assert "'unsafe-inline'" not in csp.split(";")[1] and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    h = security.security_headers(csp, https=False)
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in h
    assert security.security_headers(csp, https=True)["Strict-Transport-Security"].startswith("max-age=31536000")


def _data_url(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def test_decode_upload_checks_type_size_and_encoding():
    up = security.decode_upload(_data_url("Región;Sales\nCusco;1\n".encode()), "C:\\x\\dataco.csv", 1000)
    assert (up.filename, up.encoding) == ("dataco.csv", "utf-8")
    assert security.decode_upload(_data_url("Región\n".encode("latin-1")), "a.CSV", 1000).encoding == "latin-1"
    assert security.decode_upload(_data_url(b"\xef\xbb\xbfa,b\n", "application/vnd.ms-excel"), "a.csv",
                                  1000).encoding == "utf-8"
    refused = [
        (_data_url(b"a,b\n" * 400), "a.csv", 1000, "too large"),
        (_data_url(b"a,b\n"), "a.xlsx", 1000, "only CSV"),
        (_data_url(b"a,b\n"), "<script>.exe", 1000, "only CSV"),
        (_data_url(b"a,b\n", "text/html"), "a.csv", 1000, "not CSV text"),
        (_data_url(b"PK\x03\x04\x14\x00zip"), "a.csv", 1000, "binary"),
        (_data_url(b"a,b\x00\n"), "a.csv", 1000, "binary"),
        ("data:text/csv;base64,@@@@", "a.csv", 1000, "not valid base64"),
        ("text/csv,a,b", "a.csv", 1000, "not a base64 data URL"),
        (_data_url(b"   \n"), "a.csv", 1000, "empty"),
        (None, "a.csv", 1000, "no file"),
        (_data_url(b"a"), ["a.csv"], 1000, "no file"),
        (_data_url(b"a"), "", 1000, "invalid file name"),
    ]
    for contents, name, limit, msg in refused:
        with pytest.raises(security.UploadError, match=msg):
            security.decode_upload(contents, name, limit)


def _wsgi(environ_extra, limit=1000):
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"ok"]

    status = []
    mw = security.BodyLimit(app, limit)
    env = {"REQUEST_METHOD": "POST", **environ_extra}
    out = b"".join(mw(env, lambda s, h: status.append(s)))
    return status[0], out, seen


def test_body_limit_refuses_declared_and_chunked_bodies():
    st, out, seen = _wsgi({"CONTENT_LENGTH": str(60 * 1024 * 1024), "wsgi.input": io.BytesIO(b"")})
    assert st.startswith("413") and seen == {}
    big = io.BytesIO(b"x" * 5000)
    st, _, seen = _wsgi({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": big})
    assert st.startswith("413") and seen == {} and big.tell() <= 1001 + 65536
    st, out, seen = _wsgi({"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(b"y" * 999)})
    assert st.startswith("200") and seen["body"] == b"y" * 999
    st, _, _ = _wsgi({"CONTENT_LENGTH": "-5", "wsgi.input": io.BytesIO(b"")})
    assert st.startswith("400")


def test_security_settings_from_env(tmp_path):
    s = Settings.from_env({"CHASQUI_AUTH_FILE": str(tmp_path / "u"), "CHASQUI_PUBLIC_PAGES": "traceability, /sourcing/",
                           "CHASQUI_METRICS_PUBLIC": "1", "CHASQUI_MAX_REQUEST_MB": "16",
                           "CHASQUI_UPLOAD_MAX_MB": "4", "CHASQUI_TRUST_PROXY": "1"})
    assert s.public_pages == ("/traceability", "/sourcing") and s.metrics_public and s.trust_proxy == 1
    assert Settings.from_env({"CHASQUI_PUBLIC_PAGES": "none"}).public_pages == ()
    assert Settings().max_request_mb < 60  # a 60 MB POST is refused by default
    for env in ({"CHASQUI_UPLOAD_MAX_MB": "64"}, {"CHASQUI_PUBLIC_PAGES": "<script>"}, {"CHASQUI_TRUST_PROXY": "9"}):
        with pytest.raises(SettingsError):
            Settings.from_env(env)


def test_hash_command_line(monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert security._main(["hash", "ana", "executive,marketing"]) == 0
    line = capsys.readouterr().out.strip()
    user = security.parse_users(line)["ana"]
    assert security.verify_password("s3cret", user.password_hash)
    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret\n"))
    assert security._main(["hash", "ana", "root"]) == 2
