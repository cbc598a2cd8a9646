"""Client over local, HTTP (tiles through an injected httpx transport) and memory transports; truncation,
rewrites and split views caught. End-to-end HTTP over loopback is in test_ledger_http.py."""

from __future__ import annotations

import base64
import hashlib
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from ledger_client import (
    ConsistencyError,
    NoCheckpointError,
    SignatureError,
    SplitViewError,
    TransportError,
    UntrustedCheckpointError,
    VerificationError,
    merkle,
    tiles,
)
from ledger_client.checkpoint import Signer
from ledger_client.client import FileTrustStore, HTTPTransport, LedgerClient, LocalTransport, MemoryTransport
from ledger_client.log import MerkleLog


def _digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)]


def _hash_id(d: bytes) -> str:
    return f"ni:///sha-256;{d.hex()}?ver=CBV2.0"


@pytest.fixture()
def log(tmp_path: Path) -> MerkleLog:
    lg = MerkleLog(tmp_path / "ledger")
    lg.append_digests(_digests(100))
    return lg


def test_local_client_verifies_inclusion_and_remembers_checkpoint(log: MerkleLog, tmp_path: Path) -> None:
    trust = FileTrustStore(tmp_path / "trust.json")
    with LedgerClient(LocalTransport(log.path), log.verifier.to_string(), trust=trust) as client:
        cp = client.refresh()
        assert cp.size == 100
        for i, d in enumerate(_digests(100)):
            client.verify_inclusion(_hash_id(d), i, cp)
        with pytest.raises(VerificationError):
            client.verify_inclusion(_hash_id(_digests(100)[3]), 4, cp)   # right hash, wrong position
        with pytest.raises(VerificationError):
            client.verify_inclusion(_hash_id(hashlib.sha256(b"never").digest()), 4, cp)
        with pytest.raises(VerificationError):
            client.verify_inclusion(_hash_id(_digests(1)[0]), 100, cp)
    assert trust.load().size == 100
    log.append_digests(_digests(5, "more"))
    with LedgerClient(LocalTransport(log.path), log.verifier, trust=trust) as client:
        assert client.refresh().size == 105            # consistent growth accepted
    assert trust.load().size == 105


def test_truncated_log_fails_consistency(log: MerkleLog, tmp_path: Path) -> None:
    client = LedgerClient(LocalTransport(log.path), log.verifier)
    client.refresh()
    # The operator (with the signing key) truncates the history to 60 entries and re-signs.
    trunc = MerkleLog(tmp_path / "trunc", signer=Signer.from_string((log.path / "signer.key").read_text()))
    trunc.append_digests(_digests(60))
    shutil.rmtree(log.path / "levels")
    shutil.copytree(trunc.path / "levels", log.path / "levels")
    shutil.copy(trunc.path / "checkpoint", log.path / "checkpoint")
    with pytest.raises(ConsistencyError, match="truncated"):
        LedgerClient(LocalTransport(log.path), log.verifier, trust=client.trust).refresh()


def test_rewritten_log_fails_consistency_even_when_longer(log: MerkleLog, tmp_path: Path) -> None:
    client = LedgerClient(LocalTransport(log.path), log.verifier)
    client.refresh()
    signer = Signer.from_string((log.path / "signer.key").read_text())
    forged = _digests(100)
    forged[42] = hashlib.sha256(b"altered event").digest()     # rewrite one old entry
    rw = MerkleLog(tmp_path / "rw", signer=signer)
    rw.append_digests(forged + _digests(10, "new"))
    with pytest.raises(ConsistencyError, match="rewritten"):
        LedgerClient(LocalTransport(rw.path), log.verifier, trust=client.trust).refresh()
    # a client that never saw the old history accepts the forged log: that is why state is remembered
    assert LedgerClient(LocalTransport(rw.path), log.verifier).refresh().size == 110


def test_wrong_pinned_key_is_rejected(log: MerkleLog) -> None:
    with pytest.raises(UntrustedCheckpointError):
        LedgerClient(LocalTransport(log.path), Signer.generate(log.origin).verifier).refresh()
    # a signature line that claims the pinned key but does not verify is a forgery, not a missing signature
    blob = base64.b64encode(log.verifier.key_id + bytes(64)).decode()
    forged = log.checkpoint().body() + f"\n\u2014 {log.verifier.name} {blob}\n"
    mem = MemoryTransport(Signer.generate("x"))
    mem.get_checkpoint = lambda: forged  # type: ignore[method-assign]
    with pytest.raises(SignatureError) as exc:
        LedgerClient(mem, log.verifier).refresh()
    assert not isinstance(exc.value, UntrustedCheckpointError)


def test_http_transport_reads_tiles_through_an_injected_httpx_transport(log: MerkleLog) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        path = urlsplit(str(request.url)).path.removeprefix("/v1/")
        r = tiles.serve(log, path)
        return httpx.Response(r.status, content=r.body, headers=r.headers)

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with LedgerClient(HTTPTransport("https://ledger.chasqui.test/v1", client=http), log.verifier) as client:
        cp = client.refresh()
        assert cp.size == 100
        results = client.verify_many([(_hash_id(d), i) for i, d in enumerate(_digests(100))][:30], cp)
        assert all(r.ok for r in results)
        bad = client.verify_many([(_hash_id(_digests(100)[0]), 1)], cp)
        assert not bad[0].ok and "root" in bad[0].reason
    with pytest.raises(TransportError):
        HTTPTransport("https://ledger.chasqui.test/v1", client=http).get_inclusion_proof(5, 1000)
    with pytest.raises(NoCheckpointError):
        HTTPTransport("https://ledger.chasqui.test/nothing-here", client=http).get_checkpoint()


def test_same_size_with_another_root_is_a_split_view() -> None:
    signer = Signer.generate("memory.test/log")
    mem = MemoryTransport(signer)
    for d in _digests(8):
        mem.append(d)
    client = LedgerClient(mem, signer.verifier)
    client.refresh()
    mem.tree.truncate(7)
    mem.append(hashlib.sha256(b"another eighth entry").digest())
    with pytest.raises(SplitViewError, match="split view"):
        client.refresh()


def test_memory_transport_detects_rewrite() -> None:
    signer = Signer.generate("memory.test/log")
    mem = MemoryTransport(signer)
    for d in _digests(20):
        mem.append(d)
    client = LedgerClient(mem, signer.verifier, origin="memory.test/log")
    assert client.refresh().size == 20
    mem.tree.truncate(19)
    mem.append(hashlib.sha256(b"different last entry").digest())
    mem.append(hashlib.sha256(b"and one more").digest())
    with pytest.raises(ConsistencyError):
        client.refresh()
    assert client.last_checkpoint.size == 20
    assert merkle.EMPTY_ROOT == hashlib.sha256(b"").digest()
