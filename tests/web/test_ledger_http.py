"""The log served by the real app under /ledger/ and verified from elsewhere, end to end over loopback HTTP.

One Chasqui (``create_app`` with sign-in on, served by werkzeug in a thread) serves its Merkle log; a partner
data folder holding only the lots' event tables and the log's key runs ``verify-lot --ledger-url``; a witness
runs ``witness`` against it. No mocks: every check goes through real sockets, the real routes and the CLI.
The served log folder is a symlink, so a test can show verifiers a rewritten or forked log and put it back.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import polars as pl
import psutil
import pytest
from werkzeug.serving import make_server

from analytics import storage
from analytics.datadir import DataDir
from analytics.traceability import store
from analytics.traceability.demo_lots import generate
from ledger_client.checkpoint import Signer
from ledger_client.cosignature import WitnessSigner
from ledger_client.log import MerkleLog
from web.cli import main as cli

ROOT = Path(__file__).resolve().parents[2]
LOT = "AR-LAL-24001"


class Served:
    """A WSGI app on an ephemeral loopback port, in a thread, until :meth:`stop`."""

    def __init__(self, wsgi) -> None:
        self.httpd = make_server("127.0.0.1", 0, wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


@pytest.fixture(scope="module")
def owner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("owner")
    generate(d, 7)
    return d


@pytest.fixture(scope="module")
def served(owner: Path, users_file: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    import app as appmod
    from web.settings import Settings

    link = tmp_path_factory.mktemp("serving") / "ledger"
    link.symlink_to(DataDir(owner).ledger)
    settings = Settings(data_dir=owner, ledger_dir=link, live=False, demo_feed=False, auth_file=users_file,
                        cache_dir=tmp_path_factory.mktemp("owner-cache"))
    app = appmod.create_app(settings, start_live=False)
    app.server.test_client().get("/healthz")  # Dash's one-time set-up before concurrent requests
    server = Served(app.server)
    yield {"app": app, "server": server, "url": server.url + "/ledger", "link": link, "owner": owner}
    server.stop()


@contextlib.contextmanager
def serving(link: Path, target: Path) -> Iterator[None]:
    """Serve another log folder from the same URL for the duration of the block."""
    original = link.readlink()
    link.unlink()
    link.symlink_to(target)
    try:
        yield
    finally:
        link.unlink()
        link.symlink_to(original)


def partner_folder(owner: Path, dest: Path, *, key: bool = True) -> Path:
    """A data folder with only the trace tables (copied from the owner) and, if ``key``, the log's key."""
    dest.mkdir(parents=True)
    for name in (store.EVENTS, store.ITEMS, store.LOTS):
        shutil.copy(storage.table_path(owner, name), DataDir(dest).table_file(name))
    if key:
        DataDir(dest).ledger.mkdir()
        shutil.copy(DataDir(owner).ledger_public_key, DataDir(dest).ledger_public_key)
    return dest


def run(argv: list[str], capsys: pytest.CaptureFixture) -> tuple[int, dict]:
    capsys.readouterr()
    code = cli(argv)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1, lines
    return code, json.loads(lines[0])


def edit_event(data_dir: Path, key: str) -> None:
    """Change one stored event behind the ledger's back (its document only; the anchored hash stays)."""
    ev = store.load(data_dir, store.EVENTS)
    doc = json.loads(ev.filter(pl.col("event_key") == key)["document"][0])
    event = doc["epcisBody"]["eventList"][0]
    event["eventTime"] = "2024-01-01T00:00:00.000-05:00"
    ev = ev.with_columns(pl.when(pl.col("event_key") == key).then(pl.lit(json.dumps(doc)))
                         .otherwise(pl.col("document")).alias("document"))
    storage.write_table(ev, data_dir, store.EVENTS)


def copy_log(owner_ledger: Path, dest: Path, *, change: int | None = None, extra: int = 0) -> MerkleLog:
    """Another history signed with the owner's key: leaf ``change`` replaced, ``extra`` leaves added."""
    src = MerkleLog(owner_ledger, create=False, writable=False)
    leaves = [src.leaf_hash(i) for i in range(src.size)]
    if change is not None:
        leaves[change] = hashlib.sha256(b"\x00quietly altered").digest()
    leaves += [hashlib.sha256(b"\x00later %d" % i).digest() for i in range(extra)]
    log = MerkleLog(dest, signer=Signer.from_string((owner_ledger / "signer.key").read_text()))
    log.append_leaf_hashes(leaves)
    return log


# ---------------------------------------------------------------- the served log


def test_ledger_is_public_read_only_tlog_tiles_with_caching_headers(served: dict) -> None:
    url, owner = served["url"], served["owner"]
    log = MerkleLog(DataDir(owner).ledger, create=False, writable=False)
    with httpx.Client() as http:  # no credentials: sign-in is on, and the ledger is still public
        assert http.get(served["server"].url + "/logistics").status_code == 401
        cp = http.get(url + "/checkpoint")
        assert cp.status_code == 200 and cp.headers["Cache-Control"].startswith("no-cache")
        origin, size, root = cp.text.split("\n")[:3]
        assert (origin, int(size), base64.b64decode(root)) == (log.origin, log.size, log.root()) and log.size == 2105
        tile = http.get(url + "/tile/0/000")
        assert tile.status_code == 200 and "immutable" in tile.headers["Cache-Control"]
        assert tile.content == log.nodes(0, 0, 256)
        # 2,105 leaves: eight full level-0 tiles and a partial one of 57, a partial level-1 tile of 8
        assert http.get(url + "/tile/0/008.p/57").content == log.nodes(0, 2048, 57)
        assert http.get(url + "/tile/1/000.p/8").content == log.nodes(8, 0, 8)
        assert http.head(url + "/tile/0/001").status_code == 200
        for missing in ("tile/0/009", "tile/0/6", "signer.key", "../ledger/signer.key", "levels/00.bin",
                        "witnesses", "cosignatures.json"):
            r = http.get(f"{url}/{missing}")
            assert r.status_code == 404 and b"PRIVATE" not in r.content, missing
        assert b"PRIVATE" not in http.get(url + "/").content
        assert http.delete(url + "/checkpoint").status_code == 405
        assert http.put(url + "/tile/0/000", content=b"x").status_code == 405


def test_cosignature_post_accepts_only_trusted_witnesses(served: dict, tmp_path: Path) -> None:
    url = served["url"]
    note = MerkleLog(served["link"], create=False, writable=False).signed_checkpoint()
    body = note.split("\n\n", 1)[0] + "\n"
    stranger = WitnessSigner.generate("stranger.example/w")
    with httpx.Client() as http:
        assert http.post(url + "/cosignature", content=b"not a signature line").status_code == 400
        r = http.post(url + "/cosignature", content=stranger.cosign(body).encode())
        assert r.status_code == 403 and "trusts" in r.text
        assert http.post(url + "/cosignature", content=b"x" * (65 * 1024)).status_code == 413
        assert "stranger.example/w" not in http.get(url + "/checkpoint").text


# ---------------------------------------------------------------- a partner verifies


def test_partner_with_only_events_and_key_verifies_over_http(served: dict, tmp_path: Path, capsys) -> None:
    partner = partner_folder(served["owner"], tmp_path / "partner")
    code, out = run(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", served["url"]], capsys)
    assert code == 0 and out["verdict"] == "verified", out
    assert {"lot", "verdict", "events", "verified", "tampered", "unanchored", "reason", "witnesses"} <= set(out)
    assert out["lot"] == LOT and out["events"] == out["verified"] >= 10
    assert out["tampered"] == [] and out["unanchored"] == [] and out["witnesses"] == []
    assert out["checkpoint_size"] == 2105
    assert not (DataDir(partner).ledger / "levels").exists()  # no local log was needed or made
    # the key given explicitly, to a folder without one
    bare = partner_folder(served["owner"], tmp_path / "bare", key=False)
    key = str(DataDir(served["owner"]).ledger_public_key)
    code, out = run(["verify-lot", LOT, "--data-dir", str(bare), "--ledger-url", served["url"], "--trust-key", key],
                    capsys)
    assert code == 0 and out["verdict"] == "verified"
    # and no key at all: unverifiable, with the reason, never tampered
    nokey = partner_folder(served["owner"], tmp_path / "nokey", key=False)
    code, out = run(["verify-lot", LOT, "--data-dir", str(nokey), "--ledger-url", served["url"]], capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and "trusted log key" in out["reason"]
    assert out["tampered"] == [] and out["verified"] == 0


def test_edited_event_is_tampered_naming_exactly_that_event(served: dict, tmp_path: Path, capsys) -> None:
    partner = partner_folder(served["owner"], tmp_path / "partner")
    code, ok = run(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", served["url"]], capsys)
    assert code == 0
    target = _lot_keys(partner)[3]
    edit_event(partner, target)
    code, out = run(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", served["url"]], capsys)
    assert code == 1 and out["verdict"] == "tampered"
    assert out["tampered"] == [target] and out["verified"] == ok["verified"] - 1 and target in out["reason"]


def _ref(data_dir: Path) -> tuple[str, str]:
    from analytics.traceability.lots import lookup

    ref = lookup(data_dir, LOT)[0]
    return ref.gtin, ref.lot


def test_stopped_server_is_unverifiable_exit_2(served: dict, tmp_path: Path, capsys) -> None:
    partner = partner_folder(served["owner"], tmp_path / "partner")
    second = Served(served["app"].server)  # the same app on another port, stopped below
    url = second.url + "/ledger"
    try:
        assert run(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", url], capsys)[0] == 0
    finally:
        second.stop()
    code, out = run(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", url], capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and "unreachable" in out["reason"]
    assert out["tampered"] == [] and out["verified"] == 0


def test_rewritten_log_is_tampered_for_a_partner_who_saw_it(served: dict, tmp_path: Path, capsys) -> None:
    partner = partner_folder(served["owner"], tmp_path / "partner")
    argv = ["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", served["url"]]
    assert run(argv, capsys)[0] == 0  # the partner remembers the checkpoint it verified against
    rewritten = copy_log(DataDir(served["owner"]).ledger, tmp_path / "rewritten", change=17, extra=3)
    with serving(served["link"], rewritten.path):
        code, out = run(argv, capsys)
    assert code == 1 and out["verdict"] == "tampered" and "rewrote its history" in out["reason"]
    assert run(argv, capsys)[0] == 0  # the real log again: still consistent with what the partner saw


# ---------------------------------------------------------------- witnesses


def test_witness_cosigns_verifiers_require_it_and_a_split_view_is_refused(served: dict, tmp_path: Path,
                                                                          capsys) -> None:
    url, owner = served["url"], served["owner"]
    log_key = str(DataDir(owner).ledger_public_key)
    wdir = tmp_path / "witness-co"
    witness = ["witness", "--data-dir", str(wdir), "--log-url", url, "--log-key", log_key,
               "--name", "witness.coop.example/w1"]
    code, out = run(witness, capsys)  # the log does not trust this witness yet: checked and cosigned, not taken
    assert code == 2 and out["status"] == "cosigned, not accepted" and "trust-witness" in out["reason"]
    wkey = DataDir(wdir).witness / "witness.pub"
    code, out = run(["trust-witness", str(wkey), "--data-dir", str(owner)], capsys)
    assert code == 0 and out["added"] == ["witness.coop.example/w1"]
    code, out = run(witness, capsys)
    assert code == 0 and out["status"] == "cosigned" and out["size"] == 2105 and "accepted" in out["submitted"]
    assert "witness.coop.example/w1" in httpx.get(url + "/checkpoint").text

    partner = partner_folder(owner, tmp_path / "partner")
    verify = ["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", url, "--witness-key", str(wkey)]
    code, out = run([*verify, "--min-witnesses", "1"], capsys)
    assert code == 0 and out["witnesses"] == ["witness.coop.example/w1"]
    code, out = run([*verify, "--min-witnesses", "2"], capsys)
    assert code == 2 and out["verdict"] == "unverifiable" and "witness" in out["reason"]

    # A split view: the same key and size, another last entry, shown from the same URL.
    fork = copy_log(DataDir(owner).ledger, tmp_path / "fork", change=1742)
    with serving(served["link"], fork.path):
        code, out = run(witness, capsys)
        assert code == 1 and out["status"] == "refused" and out["split_view"] is True
        assert "split view refused" in out["reason"] and base64.b64encode(fork.root()).decode() in out["checkpoint"]
        code, seen = run(verify, capsys)  # the partner saw the real checkpoint of that size
        assert code == 1 and seen["verdict"] == "tampered" and "split view" in seen["reason"]
    code, out = run(witness, capsys)  # the real log again
    assert code == 0 and out["previous_size"] == 2105


# ---------------------------------------------------------------- the real processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _app_py(args: list[str], env: dict[str, str], timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "app.py"), *args], capture_output=True, text=True, env=env,
                          timeout=timeout, cwd=ROOT)


def test_python_app_serve_and_verify_lot_exit_codes(owner: Path, users_file: Path, tmp_path: Path) -> None:
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("CHASQUI_")},
           "CHASQUI_LIVE": "0", "CHASQUI_DEMO_FEED": "0", "CHASQUI_WARM": "0", "CHASQUI_AUTH_FILE": str(users_file),
           "CHASQUI_CACHE_DIR": str(tmp_path / "cache"), "CHASQUI_LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "serve", "--data-dir", str(owner),
                             "--host", "127.0.0.1", "--port", str(port)], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/ledger"
    partner = partner_folder(owner, tmp_path / "partner")
    edited = partner_folder(owner, tmp_path / "edited")
    target = _lot_keys(edited)[0]
    edit_event(edited, target)
    try:
        deadline = time.monotonic() + 240
        while True:
            try:
                if httpx.get(url + "/checkpoint", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "serve did not start"
            time.sleep(0.5)
        # serve started its background jobs' fork server before any job (a first visitor does not wait for it)
        children = [" ".join(c.cmdline()) for c in psutil.Process(proc.pid).children()]
        assert any("multiprocess.forkserver" in c for c in children), children
        ok = _app_py(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", url], env)
        assert ok.returncode == 0, ok.stderr
        assert json.loads(ok.stdout)["verdict"] == "verified" and len(ok.stdout.strip().splitlines()) == 1
        bad = _app_py(["verify-lot", LOT, "--data-dir", str(edited), "--ledger-url", url], env)
        assert bad.returncode == 1 and json.loads(bad.stdout)["tampered"] == [target]
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    down = _app_py(["verify-lot", LOT, "--data-dir", str(partner), "--ledger-url", url], env)
    assert down.returncode == 2 and json.loads(down.stdout)["verdict"] == "unverifiable"


def _lot_keys(data_dir: Path) -> list[str]:
    from analytics.traceability.lots import lot_event_keys

    return lot_event_keys(data_dir, *_ref(data_dir))


# ---------------------------------------------------------------- the README, as written


def _readme_blocks() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("### Traceability: lots, EPCIS and the ledger"):text.index("### Importing real data")]
    return re.findall(r"```sh\n(.*?)```", section, re.S)


def test_readme_partner_and_witness_walkthroughs_run_as_written(served: dict, tmp_path: Path, capsys,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Every command of the README's traceability walkthroughs, with its URL and folders pointed at this test's
    Chasqui (``serve`` is the ``served`` app here: its own command line is run by the test above)."""
    from web.cli import build_parser

    blocks = _readme_blocks()
    assert len(blocks) == 2
    subs = {"https://chasqui.example.pe/ledger": served["url"], "data/demo": str(served["owner"]),
            "chasqui-verifier.pub": str(DataDir(served["owner"]).ledger_public_key)}
    monkeypatch.chdir(tmp_path)
    ran: list[str] = []
    last: dict = {}
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            for k, v in subs.items():
                line = line.replace(k, v)
            if not line.startswith("python app.py "):
                subprocess.run(line, shell=True, check=True, cwd=tmp_path)
                continue
            argv = shlex.split(line)[2:]
            if argv[0] == "serve":
                assert build_parser().parse_args(argv).func.__name__ == "cmd_serve"
                continue
            expected = 2 if argv[0] == "witness" and "witness" not in ran else 0  # not trusted on its first run
            code, last = run(argv, capsys)
            assert code == expected, (line, last)
            ran.append(argv[0])
    assert ran == ["verify-lot", "witness", "trust-witness", "witness", "verify-lot"]
    assert last["verdict"] == "verified" and len(last["witnesses"]) == 1 and last["events"] == last["verified"] >= 10
