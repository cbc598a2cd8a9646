"""Password guessing against HTTP basic sign-in: failed sign-ins are throttled per user name and per client
address (429 with Retry-After) before any password is hashed; requests without credentials, malformed headers
and a wrong pair sent again cost no hash. Also the users-file line command (``python app.py hash-password``)."""

from __future__ import annotations

import base64
import io

import pytest

from tests.fixtures.web import basic
from web import passwords, throttle


@pytest.fixture()
def hashes(monkeypatch) -> list[str]:
    """Every password hash the app computes (the real check still runs)."""
    seen: list[str] = []
    real = passwords.verify_password

    def counting(password: str, encoded: str) -> bool:
        seen.append(encoded.split("$", 1)[0])
        return real(password, encoded)

    monkeypatch.setattr(passwords, "verify_password", counting)
    return seen


@pytest.fixture(scope="module")
def guarded_app(settings, users_file, tmp_path_factory):
    """Sign-in on, with a cache of its own (failure counts are shared by the apps of one cache folder). The tests
    below guess with different names and addresses, so they do not count against each other."""
    import app as appmod

    cache = tmp_path_factory.mktemp("signin-cache")
    return appmod.create_app(settings.replace(auth_file=users_file, cache_dir=cache), start_live=False)


def test_guessing_one_users_password_gets_429_with_retry_after_and_no_more_hashing(guarded_app, hashes):
    c = guarded_app.server.test_client()
    for i in range(throttle.USER_FAILURES):
        assert c.get("/logistics", headers=basic("ana", f"guess-{i}")).status_code == 401
    assert len(hashes) == throttle.USER_FAILURES  # one hash per distinct guess
    r = c.get("/logistics", headers=basic("ana", "guess-next"))
    assert r.status_code == 429
    assert 0 < int(r.headers["Retry-After"]) <= throttle.WINDOW_SECONDS
    assert b"too many failed sign-ins" in r.data
    r = c.get("/logistics", headers=basic("ana"))  # even the right password waits: the name is locked a while
    assert r.status_code == 429
    assert len(hashes) == throttle.USER_FAILURES  # nothing hashed while throttled
    # a callback request gets the 429 as JSON, and another user from the same address is not affected
    assert c.post("/_dash-update-component", json={}, headers=basic("ana", "x")).status_code == 429
    assert c.get("/logistics", headers=basic("luis")).status_code == 200


def test_guessing_from_one_address_gets_429_for_any_name_but_not_elsewhere(guarded_app, hashes):
    c = guarded_app.server.test_client()
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for i in range(throttle.ADDRESS_FAILURES):  # a different made-up name each time: the per-user limit never binds
        r = c.get("/", headers=basic(f"nobody{i}", "pw"), environ_overrides=attacker)
        assert r.status_code == 401
    n = len(hashes)
    r = c.get("/", headers=basic("tito"), environ_overrides=attacker)  # right password, never seen: not checked
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    r = c.get("/traceability", headers=basic("someone-else", "pw"), environ_overrides=attacker)
    assert r.status_code == 429  # bogus headers on the public page burn no hash either
    assert len(hashes) == n
    assert c.get("/", headers=basic("tito"), environ_overrides={"REMOTE_ADDR": "198.51.100.4"}).status_code == 200
    # credentials already verified by this worker keep working from anywhere (no hash to spare)
    assert c.get("/", headers=basic("tito"), environ_overrides=attacker).status_code == 200


def test_no_credentials_malformed_headers_and_repeated_pairs_cost_no_hash(guarded_app, hashes):
    c = guarded_app.server.test_client()
    for _ in range(20):
        assert c.get("/traceability").status_code == 200  # anonymous on the public page
        assert c.get("/logistics").status_code == 401
    for header in ("Basic", "Basic !!!notbase64", "Bearer abc", "Basic " + base64.b64encode(b"no-colon").decode(),
                   "x" * 5000):
        assert c.get("/traceability", headers={"Authorization": header}).status_code == 200
    assert hashes == []
    for _ in range(50):  # a browser resending a wrong saved password with every request
        assert c.get("/traceability", headers=basic("mia", "old-password")).status_code == 200
    assert len(hashes) == 1
    assert c.get("/segments", headers=basic("mia")).status_code == 200  # counted once: mia is not locked out


def test_failure_counter_window_and_retry_after(tmp_path):
    import diskcache

    now = [1000.0]
    counter = throttle.FailureCounter(diskcache.Cache(str(tmp_path / "c")), user_limit=3, address_limit=5,
                                      window=60, clock=lambda: now[0])
    for _ in range(3):
        counter.check("ana", "10.0.0.1")
        counter.failed("ana", "10.0.0.1")
        now[0] += 10
    with pytest.raises(throttle.Throttled) as exc:
        counter.check("ana", "10.0.0.2")
    assert exc.value.scope == "user" and exc.value.retry_after == 30  # the first failure leaves the window at 1060
    counter.check("luis", "10.0.0.1")  # 3 failures from the address: below its limit of 5
    now[0] = 1061.0
    counter.check("ana", "10.0.0.1")  # the oldest failure left the window


# --------------------------------------------------------------------------- python app.py hash-password


def test_hash_password_command_reads_stdin_and_prints_a_users_file_line(monkeypatch, capsys):
    from web.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO("s3cret pass\n"))
    assert main(["hash-password", "ana", "executive,marketing"]) == 0
    line = capsys.readouterr().out.strip()
    user = passwords.parse_users(line)["ana"]
    assert user.roles == frozenset({"executive", "marketing"}) and line.split(":")[2].startswith("scrypt$")
    assert passwords.verify_password("s3cret pass", user.password_hash)
    assert "s3cret" not in line
    for argv, stdin, message in ((["hash-password", "ana", "root"], "pw\n", "unknown or missing role"),
                                 (["hash-password", "a b", "executive"], "pw\n", "bad user name"),
                                 (["hash-password", "ana", "executive"], "\n", "empty password")):
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
        assert main(argv) == 2
        err = capsys.readouterr()
        assert err.out == "" and message in err.err


def test_hash_password_command_asks_twice_on_a_terminal(monkeypatch, capsys):
    from web.cli import main

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    answers = iter(["tty-pw", "tty-pw", "one", "other"])
    monkeypatch.setattr("sys.stdin", Tty(""))
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["hash-password", "tito", "traceability-admin"]) == 0
    user = passwords.parse_users(capsys.readouterr().out.strip())["tito"]
    assert passwords.verify_password("tty-pw", user.password_hash)
    assert main(["hash-password", "tito", "traceability-admin"]) == 2
    assert "differ" in capsys.readouterr().err


def test_readme_and_compose_name_the_new_command():
    from tests.conftest import ROOT

    for path in ("README.md", "deploy/compose.yaml"):
        text = (ROOT / path).read_text(encoding="utf-8")
        assert "python app.py hash-password" in text and "web.passwords hash" not in text, path
