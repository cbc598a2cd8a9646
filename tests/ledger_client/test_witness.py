"""Witness cosignatures (c2sp.org/tlog-cosignature) and the witness itself (c2sp.org/tlog-witness)."""

from __future__ import annotations

import base64
import hashlib
import shutil
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ledger_client import (
    ConsistencyError,
    SignatureError,
    SplitViewError,
    UntrustedCheckpointError,
    WitnessQuorumError,
    merkle,
    tiles,
)
from ledger_client.checkpoint import Checkpoint, Signer
from ledger_client.client import LedgerClient, LocalTransport, MemoryTransport
from ledger_client.cosignature import WitnessSigner, WitnessVerifier, cosignatures, signed_message
from ledger_client.log import MerkleLog
from ledger_client.witness import Witness


def _digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)]


def test_cosignature_format_follows_the_spec() -> None:
    w = WitnessSigner.generate("witness.example/w1")
    v = w.verifier
    assert v.key_id == hashlib.sha256(b"witness.example/w1\n\x04" + v.public_key).digest()[:4]
    assert WitnessVerifier.from_string(v.to_string()) == v
    assert WitnessSigner.from_string(w.to_string()).verifier == v
    body = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"
    assert signed_message(body, 1679315147) == (b"cosignature/v1\ntime 1679315147\n" + body.encode())
    line = w.cosign(body, timestamp=1679315147)
    assert line.startswith("\u2014 witness.example/w1 ") and line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert len(blob) == 4 + 72 and blob[:4] == v.key_id and struct.unpack(">Q", blob[4:12])[0] == 1679315147
    Ed25519PublicKey.from_public_bytes(v.public_key).verify(blob[12:], signed_message(body, 1679315147))
    assert v.verify(body, blob[4:]) == 1679315147
    with pytest.raises(SignatureError):
        v.verify(body.replace("20852163", "20852164"), blob[4:])
    with pytest.raises(SignatureError):
        v.verify(body, blob[4:-1])


@pytest.fixture()
def log(tmp_path: Path) -> MerkleLog:
    lg = MerkleLog(tmp_path / "ledger")
    lg.append_digests(_digests(50))
    return lg


def _proofs(log: MerkleLog):
    return lambda m, n: log.consistency_proof(m, n)


def test_witness_cosigns_consistent_growth_and_refuses_split_views_and_rewrites(log: MerkleLog, tmp_path: Path) -> None:
    w = Witness(tmp_path / "w", name="witness.test/a")
    first = w.observe(log.checkpoint_note(), log.verifier, _proofs(log))
    assert (first.size, first.previous_size) == (50, 0)
    assert cosignatures(log.checkpoint_note() + first.cosignature, [w.signer.verifier])[0].witness == "witness.test/a"
    log.append_digests(_digests(30, "more"))
    grown = w.observe(log.checkpoint_note(), log.verifier, _proofs(log))
    assert (grown.size, grown.previous_size) == (80, 50)
    assert w.observe(log.checkpoint_note(), log.verifier, _proofs(log)).size == 80  # same checkpoint again

    # A second log under the same key and origin, same size, one entry different: a split view.
    signer = Signer.from_string((log.path / "signer.key").read_text())
    other = MerkleLog(tmp_path / "other", signer=signer)
    forged = _digests(50) + _digests(30, "more")
    forged[10] = hashlib.sha256(b"altered").digest()
    other.append_digests(forged)
    with pytest.raises(SplitViewError, match="split view"):
        w.observe(other.checkpoint_note(), log.verifier, _proofs(other))
    # ... longer but not an extension: refused too, and nothing was remembered
    other.append_digests(_digests(5, "x"))
    with pytest.raises(ConsistencyError, match="rewritten"):
        w.observe(other.checkpoint_note(), log.verifier, _proofs(other))
    assert w.latest(log.origin).size == 80 and w.latest(log.origin).root_hash == log.root(80)
    # ... and an older checkpoint is a rollback
    old = MerkleLog(tmp_path / "old", signer=signer)
    old.append_digests(_digests(50))
    with pytest.raises(ConsistencyError, match="rollback"):
        w.observe(old.checkpoint_note(), log.verifier, _proofs(old))
    with pytest.raises(UntrustedCheckpointError):
        w.observe(log.checkpoint_note(), Signer.generate(log.origin).verifier, _proofs(log))


def test_witness_speaks_the_c2sp_add_checkpoint_protocol(log: MerkleLog, tmp_path: Path) -> None:
    w = Witness(tmp_path / "w", name="witness.test/b", logs={log.origin: log.verifier})

    def request(old: int, proof: list[bytes], note: str) -> str:
        return f"old {old}\n" + "".join(base64.b64encode(p).decode() + "\n" for p in proof) + "\n" + note

    status, ctype, body = w.add_checkpoint(request(0, [], log.checkpoint_note()).encode())
    assert status == 200 and body.startswith("\u2014 witness.test/b ")
    assert cosignatures(log.checkpoint_note() + body, [w.signer.verifier])
    log.append_digests(_digests(14, "n"))
    note = log.checkpoint_note()
    assert w.add_checkpoint(request(0, [], note)) == (409, "text/x.tlog.size", "50\n")
    bad_proof = [hashlib.sha256(b"junk").digest()] * len(log.consistency_proof(50, 64))
    assert w.add_checkpoint(request(50, bad_proof, note))[0] == 422
    assert w.add_checkpoint(request(50, log.consistency_proof(50, 64), note))[0] == 200
    assert w.latest(log.origin).size == 64
    assert w.add_checkpoint(request(65, [], note))[0] == 400          # old size beyond the checkpoint
    assert w.add_checkpoint("no blank line")[0] == 400
    stranger = Signer.generate("somebody.else/log")
    cp = Checkpoint("somebody.else/log", 1, merkle.leaf_hash(b"x"))
    assert w.add_checkpoint(request(0, [], cp.sign(stranger)))[0] == 404  # unknown log
    forged = Checkpoint(log.origin, 64, log.root(64)).sign(Signer.generate(log.origin))
    assert w.add_checkpoint(request(64, [], forged))[0] == 403          # not the log's key
    split = Checkpoint(log.origin, 64, hashlib.sha256(b"other root").digest())
    signer = Signer.from_string((log.path / "signer.key").read_text())
    status, _, text = w.add_checkpoint(request(64, [], split.sign(signer)))
    assert status == 409 and "split view" in text


def test_log_serves_cosignatures_of_trusted_witnesses_for_its_current_checkpoint(log: MerkleLog, tmp_path: Path) -> None:
    w1 = Witness(tmp_path / "w1", name="witness.test/one")
    w2 = Witness(tmp_path / "w2", name="witness.test/two")
    stranger = Witness(tmp_path / "w3", name="witness.test/stranger")
    log.add_witness(w1.verifier_key)
    log.add_witness(w2.signer.verifier)
    log.add_witness(w1.verifier_key)  # idempotent
    assert [w.name for w in log.trusted_witnesses()] == ["witness.test/one", "witness.test/two"]

    r = tiles.accept_cosignatures(log, stranger.observe(log.checkpoint_note(), log.verifier, _proofs(log)).cosignature)
    assert r.status == 403
    line1 = w1.observe(log.checkpoint_note(), log.verifier, _proofs(log)).cosignature
    assert tiles.accept_cosignatures(log, line1).status == 200
    note = log.checkpoint_note()
    assert note.endswith(line1) and note.startswith(log.signed_checkpoint())
    found = cosignatures(note, [w1.signer.verifier, w2.signer.verifier])
    assert [c.witness for c in found] == ["witness.test/one"]

    client = LedgerClient(LocalTransport(log.path), log.verifier, witnesses=[w1.verifier_key, w2.verifier_key],
                          min_witnesses=2)
    with pytest.raises(WitnessQuorumError, match="only 1 of the 2"):
        client.refresh()
    line2 = w2.observe(log.checkpoint_note(), log.verifier, _proofs(log)).cosignature
    assert tiles.accept_cosignatures(log, line2).status == 200
    assert client.refresh().size == 50
    assert [c.witness for c in client.cosigners] == ["witness.test/one", "witness.test/two"]

    # a cosignature made on another checkpoint is refused; after an append old cosignatures are not served
    log.append_digests(_digests(3, "z"))
    assert tiles.accept_cosignatures(log, line1).status == 409
    assert log.checkpoint_note() == log.signed_checkpoint()
    with pytest.raises(WitnessQuorumError, match="only 0 of the 2"):
        client.refresh()


def test_forged_cosignature_from_a_pinned_witness_is_a_signature_failure(tmp_path: Path) -> None:
    signer = Signer.generate("memory.test/log")
    mem = MemoryTransport(signer)
    for d in _digests(4):
        mem.append(d)
    w = WitnessSigner.generate("witness.test/f")
    good = w.cosign(mem.checkpoint().body(), timestamp=1_700_000_000)
    blob = bytearray(base64.b64decode(good.split(" ")[2]))
    blob[-1] ^= 1
    mem.cosignature_lines = [f"\u2014 witness.test/f {base64.b64encode(bytes(blob)).decode()}\n"]
    client = LedgerClient(mem, signer.verifier, witnesses=[w.verifier], min_witnesses=1)
    with pytest.raises(SignatureError, match="witness.test/f"):
        client.refresh()
    mem.cosignature_lines = [good]
    client.refresh()
    assert [(c.witness, c.timestamp) for c in client.cosigners] == [("witness.test/f", 1_700_000_000)]


def test_witness_state_survives_a_restart(log: MerkleLog, tmp_path: Path) -> None:
    w = Witness(tmp_path / "w", name="witness.test/r")
    w.observe(log.checkpoint_note(), log.verifier, _proofs(log))
    key = (tmp_path / "w" / "witness.key").read_text()
    again = Witness(tmp_path / "w")
    assert again.signer.to_string() == key.strip() and again.latest(log.origin).size == 50
    assert (tmp_path / "w" / "witness.pub").read_text().strip() == again.verifier_key
    assert oct((tmp_path / "w" / "witness.key").stat().st_mode & 0o777) == "0o600"
    shutil.rmtree(tmp_path / "w" / "logs")
    assert Witness(tmp_path / "w").latest(log.origin) is None
