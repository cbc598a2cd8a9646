"""Verdicts on stored events against a local log, and how each failure is classified."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from ledger_client import epcis
from ledger_client.checkpoint import Signer
from ledger_client.client import FileTrustStore, LedgerClient, MemoryTransport
from ledger_client.log import MerkleLog
from ledger_client.verify import StoredEvent, check_events, trusted_key, verify_events

CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _events(log: MerkleLog, n: int = 3) -> list[StoredEvent]:
    doc = {"@context": [CTX], "type": "EPCISDocument", "schemaVersion": "2.0", "epcisBody": {"eventList": [
        {"type": "ObjectEvent", "eventTime": f"2024-01-0{i + 1}T10:00:00Z", "eventTimeZoneOffset": "-05:00",
         "action": "OBSERVE", "epcList": [f"urn:epc:id:sscc:7750321.000000{i:04d}"], "bizStep": "storing"}
        for i in range(n)]}}
    hashed = epcis.hash_document(doc)
    leaves = log.append_digests(epcis.hash_digest(h) for h in hashed.hashes)
    return [StoredEvent(f"K{i}", hashed.standalone(i), hashed.hashes[i], leaves[i]) for i in range(n)]


@pytest.fixture()
def log(tmp_path: Path) -> MerkleLog:
    lg = MerkleLog(tmp_path / "data" / "ledger")
    lg.append_digests(hashlib.sha256(str(i).encode()).digest() for i in range(10))
    return lg


def test_local_log_verdicts(log: MerkleLog, tmp_path: Path) -> None:
    events = _events(log)
    v = verify_events(events, ledger_dir=log.path, trust_dir=tmp_path / "trust")
    assert (v.verdict, v.exit_code, v.counts["verified"], v.checkpoint.size) == ("verified", 0, 3, 13)
    assert json.loads(json.dumps(v.to_json()))["verdict"] == "verified"
    assert (tmp_path / "trust" / "pinned.pub").read_text().strip() == log.verifier.to_string()
    # legacy stored form (one event with its context) still verifies
    legacy = [StoredEvent(e.key, {"@context": [CTX], **e.document["epcisBody"]["eventList"][0]}, e.event_hash,
                          e.leaf_index) for e in events]
    assert verify_events(legacy, ledger_dir=log.path).verdict == "verified"
    broken = [events[0], StoredEvent("K1", "{not json", events[1].event_hash, events[1].leaf_index), events[2]]
    t = verify_events(broken, ledger_dir=log.path)
    assert t.verdict == "tampered" and t.keys("tampered") == ["K1"] and "K1" in t.reason


def test_trust_on_first_use_then_the_pinned_key_wins(log: MerkleLog, tmp_path: Path) -> None:
    pin = tmp_path / "trust" / "pinned.pub"
    assert trusted_key(ledger_dir=log.path, pin_file=pin) == log.verifier
    other = Signer.generate(log.origin)
    (log.path / "verifier.pub").write_text(other.verifier.to_string() + "\n")  # swapped on disk afterwards
    assert trusted_key(ledger_dir=log.path, pin_file=pin) == log.verifier
    assert trusted_key(trust_key=log.path / "verifier.pub", pin_file=pin) == other.verifier  # explicit wins


def test_failures_are_classified_never_as_tampered_when_they_are_outages(log: MerkleLog, tmp_path: Path) -> None:
    events = _events(log)
    assert verify_events(events).reason.startswith("no trusted log key")
    assert "no ledger configured" in verify_events(events, trust_key=log.path / "verifier.pub").reason
    gone = verify_events(events, ledger_dir=tmp_path / "missing", trust_key=log.path / "verifier.pub")
    assert gone.verdict == "unverifiable" and "unreachable" in gone.reason
    missing_witness = verify_events(events, ledger_dir=log.path, witness_keys=[tmp_path / "nope.pub"], min_witnesses=1)
    assert missing_witness.verdict == "unverifiable" and "witness key" in missing_witness.reason
    too_many = verify_events(events, ledger_dir=log.path, min_witnesses=1)
    assert too_many.verdict == "unverifiable" and "witness" in too_many.reason
    (tmp_path / "trust").mkdir()
    FileTrustStore.for_key(tmp_path / "trust", log.verifier).path.write_text("{broken")
    corrupt = verify_events(events, ledger_dir=log.path, trust_dir=tmp_path / "trust")
    assert corrupt.verdict == "unverifiable" and "corrupt" in corrupt.reason
    assert verify_events([], ledger_dir=log.path).reason == "no events to verify"


def test_checkpoint_problems_through_any_transport() -> None:
    signer = Signer.generate("memory.test/log")
    mem = MemoryTransport(signer)
    for i in range(4):
        mem.append(hashlib.sha256(bytes([i])).digest())
    events = [StoredEvent("E", {"@context": [CTX], "type": "ObjectEvent", "eventTime": "2024-01-01T00:00:00Z"},
                          "", 0)]
    client = LedgerClient(mem, signer.verifier)
    check_events(events, client)
    mem.tree.truncate(3)
    mem.append(hashlib.sha256(b"other").digest())
    split = check_events(events, client)
    assert split.verdict == "tampered" and "split view" in split.reason

    def boom() -> str:
        raise OSError(113, "No route to host")

    mem.get_checkpoint = boom  # type: ignore[method-assign]
    down = check_events(events, LedgerClient(mem, signer.verifier))
    assert down.verdict == "unverifiable" and "No route to host" in down.reason
