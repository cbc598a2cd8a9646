"""The web security modules on their own: passwords, users file, role → page decisions, CSP, uploads, body limit."""

from __future__ import annotations

import base64
import io

import pytest

from web import access, headers, passwords, uploads
from web.settings import Settings, SettingsError


def test_scrypt_and_pbkdf2_hashes_verify_only_the_right_password():
    enc = passwords.hash_password("Quipu-2026", n=2**10)
    assert enc.startswith("scrypt$1024$8$1$")
    assert passwords.verify_password("Quipu-2026", enc)
    assert not passwords.verify_password("quipu-2026", enc)
    assert enc != passwords.hash_password("Quipu-2026", n=2**10)  # salted
    pb = passwords.hash_password_pbkdf2("Ñandú ✓", iterations=100_000)
    assert passwords.verify_password("Ñandú ✓", pb) and not passwords.verify_password("Nandu", pb)
    for broken in ("", "plain-password", "scrypt$x$8$1$AA==$AA==", "md5$abc", "pbkdf2_sha256$1$%%%$AA=="):
        assert not passwords.verify_password("x", broken)


def test_users_file_parses_and_fails_closed_with_line_numbers():
    good = passwords.hash_password("pw", n=2**10)
    users = passwords.parse_users(f"# comment\n\nana:executive:{good}\nluis:logistics, traceability-admin:{good}\n")
    assert set(users) == {"ana", "luis"}
    assert users["luis"].roles == {"logistics", "traceability-admin"}
    assert users["luis"].pages() == access.ROLE_PAGES["logistics"] | access.ROLE_PAGES["traceability-admin"]
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
        with pytest.raises(passwords.SecurityError, match=msg.replace("$", r"\$")):
            passwords.parse_users(text, "users")


def test_load_users_missing_file_is_an_error(tmp_path):
    with pytest.raises(passwords.SecurityError, match="not found"):
        passwords.load_users(tmp_path / "nope")
    (tmp_path / "bin").write_bytes(b"\xff\xfe\x00")
    with pytest.raises(passwords.SecurityError, match="not UTF-8"):
        passwords.load_users(tmp_path / "bin")


def test_authenticator_basic_header_and_cache():
    enc = passwords.hash_password("pw:with:colons", n=2**10)
    auth = passwords.Authenticator(passwords.parse_users(f"ana:executive:{enc}"))
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
    return access.User("u", frozenset(roles), "x")


def test_page_access_by_role():
    pub = ("/traceability",)
    assert access.page_access(None, "/logistics", pub, auth_enabled=False).allowed
    assert access.page_access(None, "/traceability", pub, True).allowed
    d = access.page_access(None, "/", pub, True)
    assert (d.allowed, d.status) == (False, 401)
    mk = _user("marketing")
    assert access.page_access(mk, "/segments", pub, True).allowed
    d = access.page_access(mk, "/logistics", pub, True)
    assert (d.allowed, d.status) == (False, 403) and "marketing" in d.reason
    assert access.page_access(_user("executive"), "/data", (), True).allowed
    assert not access.page_access(_user("traceability-admin"), "/segments", pub, True).allowed
    assert access.page_access(_user("traceability-admin"), "/traceability", (), True).allowed
    assert access.normalize_page("/logistics/") == "/logistics"
    assert access.normalize_page("/app/segments", "/app/") == "/segments"


ROUTER = ".._pages_content.children..._pages_store.data.."
CANCEL = "segments-cancel.id"
LIVE_TILES = '{"tile":["ALL"],"type":"live-tile-value"}'
OWNERS = {
    "segments-summary": access.OutputOwner("/segments"), "logistics-map": access.OutputOwner("/logistics"),
    "trace-summary": access.OutputOwner("/traceability"), "shell-lang-store": access.OutputOwner(None),
    "live-alerts": access.OutputOwner("/"), "overview-kpis": access.OutputOwner("/"),
    LIVE_TILES: access.OutputOwner("/"),
    "trace-download": access.OutputOwner("/traceability", "trace-export"),
    "data-upload-result": access.OutputOwner("/data", "data-import"),
    # an id spelled like another page's: its owner decides, not its spelling
    "segments-lookalike": access.OutputOwner("/logistics"),
}
RULES = access.CallbackRules(OWNERS, frozenset({ROUTER, CANCEL}), {ROUTER: "_pages_location"})


def _cb(*ids, pathname=None):
    """A request body the way Dash's renderer sends it: ``output`` is the registered callback's id."""
    output = f"{ids[0]}.children" if len(ids) == 1 else ".." + "...".join(f"{i}.children" for i in ids) + ".."
    body = {"output": output, "outputs": [{"id": i, "property": "children"} for i in ids], "inputs": [], "state": []}
    if pathname is not None:
        body["output"] = ROUTER
        body["inputs"] = [{"id": "_pages_location", "property": "pathname", "value": pathname}]
    return body


def _decide(user, body, pub=("/traceability",), auth=True):
    return access.callback_access(user, body, RULES, pub, auth)


def test_callback_access_follows_the_owners_map():
    mk, lg, ta = _user("marketing"), _user("logistics"), _user("traceability-admin")
    assert _decide(mk, _cb("segments-summary")).allowed
    assert _decide(mk, _cb("logistics-map")).status == 403
    assert _decide(None, _cb("logistics-map")).status == 401
    assert _decide(None, _cb("trace-summary")).allowed  # public lookup
    assert _decide(None, _cb("shell-lang-store")).allowed  # the shell: some page (a public one) is open
    assert _decide(None, _cb("shell-lang-store"), pub=()).status == 401  # no page open to anonymous visitors
    assert _decide(None, _cb("live-alerts")).status == 401  # overview tiles
    assert _decide(None, _cb("overview-kpis")).status == 401
    # the page router renders the layout of the requested path: checked like a page load
    assert _decide(None, _cb(pathname="/traceability")).allowed
    assert _decide(None, _cb(pathname="/logistics")).status == 401
    assert _decide(mk, _cb(pathname="/logistics")).status == 403
    # Dash's own background-job cancel: the shell's rule
    cancel = {"output": CANCEL, "outputs": {"id": "segments-cancel", "property": "id"}, "inputs": []}
    assert _decide(mk, cancel).allowed and _decide(None, cancel, pub=()).status == 401
    # actions need more than seeing the page
    assert _decide(None, _cb("trace-download")).status == 401
    assert _decide(lg, _cb("trace-download")).status == 403
    assert _decide(ta, _cb("trace-download")).allowed
    assert _decide(ta, _cb("data-upload-result")).status == 403
    assert _decide(lg, _cb("data-upload-result")).allowed
    # pattern-matching outputs are keyed by the registered id (wildcards included), not the concrete ones
    body = {"output": f"..{LIVE_TILES}.children..", "inputs": [],
            "outputs": [[{"id": {"type": "live-tile-value", "tile": "orders"}, "property": "children"}]]}
    assert access.callback_outputs(body) == [LIVE_TILES]
    assert _decide(mk, body).allowed and _decide(None, body).status == 401


def test_an_output_no_page_owns_is_refused():
    ex = _user("executive")
    for user in (ex, None):
        d = _decide(user, _cb("logistics-forgotten"))
        assert (d.allowed, d.status) == (False, 403) and "unknown output 'logistics-forgotten'" in d.reason
    # refused with sign-in off too: an unowned output is a registration bug, never "allowed"
    assert _decide(None, _cb("logistics-forgotten"), auth=False).status == 403
    assert _decide(None, _cb("logistics-map"), auth=False).allowed
    # one unowned output among owned ones refuses the whole callback
    assert _decide(ex, _cb("segments-summary", "trace-forgotten")).status == 403
    assert _decide(ex, _cb("segments-summary", "logistics-map")).allowed
    # unowned outputs of registered callbacks are listed (the web layer refuses to start with any)
    registered = ["segments-summary.children", "..logistics-map.figure...x-y.data..", ROUTER, CANCEL]
    assert RULES.unowned(registered) == ["x-y"]


def test_a_page_owned_output_follows_its_page_not_its_spelling():
    mk, lg = _user("marketing"), _user("logistics")
    assert _decide(mk, _cb("segments-lookalike")).status == 403  # owned by /logistics
    assert _decide(lg, _cb("segments-lookalike")).allowed
    assert _decide(None, _cb("segments-lookalike")).status == 401
    unknown_action = access.CallbackRules({"x": access.OutputOwner("/data", "format-disk")})
    d = access.callback_access(_user("executive"), _cb("x"), unknown_action, (), True)
    assert (d.allowed, d.status) == (False, 403) and "unknown action" in d.reason


def test_validate_callback_body_rejects_malformed_requests():
    known = {"a.children"}
    ok = {"output": "a.children", "outputs": {"id": "a", "property": "children"}, "inputs": [], "state": []}
    assert access.validate_callback_body(ok, known).allowed
    for bad in (None, [], "x", {**ok, "output": "zz.children"}, {**ok, "inputs": "x"},
                {**ok, "inputs": [{"id": "a"}]}, {**ok, "outputs": 3}, {**ok, "changedPropIds": [1]}):
        d = access.validate_callback_body(bad, known)
        assert (d.allowed, d.status) == (False, 400)
    router = {"output": ROUTER, "outputs": [{"id": "_pages_content", "property": "children"}],
              "inputs": [{"id": "_pages_location", "property": "pathname", "value": ["/"]}], "state": []}
    assert access.validate_callback_body(router, {ROUTER}, "/", RULES.routers).status == 400
    router["inputs"][0]["value"] = "/logistics"
    assert access.validate_callback_body(router, {ROUTER}, "/", RULES.routers).allowed
    router["inputs"].append({"id": "_pages_location", "property": "search", "value": 3})
    assert access.validate_callback_body(router, {ROUTER}, "/", RULES.routers).status == 400


def test_csp_and_headers():
    csp = headers.content_security_policy(["'sha256-abc='"])
    assert "script-src 'self' 'sha256-abc='" in csp
    assert "'unsafe-inline'" not in csp.split(";")[1] and "unsafe-eval" not in csp
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    h = headers.security_headers(csp, https=False)
    assert h["X-Content-Type-Options"] == "nosniff" and h["X-Frame-Options"] == "DENY"
    assert "Strict-Transport-Security" not in h
    assert headers.security_headers(csp, https=True)["Strict-Transport-Security"].startswith("max-age=31536000")


def _data_url(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


def test_decode_upload_checks_type_size_and_encoding():
    up = uploads.decode_upload(_data_url("Región;Sales\nCusco;1\n".encode()), "C:\\x\\dataco.csv", 1000)
    assert (up.filename, up.encoding) == ("dataco.csv", "utf-8")
    assert uploads.decode_upload(_data_url("Región\n".encode("latin-1")), "a.CSV", 1000).encoding == "latin-1"
    assert uploads.decode_upload(_data_url(b"\xef\xbb\xbfa,b\n", "application/vnd.ms-excel"), "a.csv",
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
        with pytest.raises(uploads.UploadError, match=msg):
            uploads.decode_upload(contents, name, limit)


def _wsgi(environ_extra, limit=1000):
    seen = {}

    def app(environ, start_response):
        seen["body"] = environ["wsgi.input"].read()
        start_response("200 OK", [])
        return [b"ok"]

    status = []
    mw = headers.BodyLimit(app, limit)
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
