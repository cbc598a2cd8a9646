"""End to end over real HTTP on loopback: one log serves its tiles, a partner verifies, witnesses cosign.

No mocks: a ``http.server`` in a thread serves either an exported tiles folder (any static web server) or
the log itself (``tiles.request_handler``), and the partner holds only the events and the log's key.
"""

from __future__ import annotations

import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest

from ledger_client import SplitViewError, TransportError, VerificationError, epcis, tiles
from ledger_client.checkpoint import Signer
from ledger_client.client import HTTPTransport, LedgerClient
from ledger_client.log import MerkleLog
from ledger_client.verify import StoredEvent, verify_events
from ledger_client.witness import Witness, witness_log
from tests.ledger_client.loopback import Loopback, serve_folder

CTX = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


def _document(n: int = 6) -> dict:
    events = []
    for i in range(n):
        events.append({
            "type": "ObjectEvent", "eventTime": f"2024-09-{10 + i:02d}T08:00:00.000-05:00",
            "eventTimeZoneOffset": "-05:00", "action": "OBSERVE", "bizStep": "shipping" if i % 2 else "receiving",
            "epcList": [f"urn:epc:id:sgtin:7750321.001001.LOT7-{i:03d}"],
            "readPoint": {"id": "urn:epc:id:sgln:7750321.00001.0"},
            "quantityList": [{"epcClass": "urn:epc:class:lgtin:7750321.001001.LOT7", "quantity": 100 + i,
                              "uom": "KGM"}],
        })
    return {"@context": [CTX], "type": "EPCISDocument", "schemaVersion": "2.0",
            "creationDate": "2024-09-20T00:00:00Z", "epcisBody": {"eventList": events}}


@pytest.fixture()
def chasqui(tmp_path: Path) -> dict:
    """A data owner: 1,000 unrelated leaves, then a lot's six events anchored, as an import would do."""
    log = MerkleLog(tmp_path / "owner" / "ledger")
    log.append_digests(hashlib.sha256(f"other {i}".encode()).digest() for i in range(1000))
    hashed = epcis.hash_document(_document())
    leaves = log.append_digests(epcis.hash_digest(h) for h in hashed.hashes)
    stored = [StoredEvent(f"EV-{i:03d}", json.dumps(hashed.standalone(i)), hashed.hashes[i], leaves[i])
              for i in range(len(hashed))]
    partner = tmp_path / "partner"
    (partner / "ledger").mkdir(parents=True)
    shutil.copy(log.path / "verifier.pub", partner / "ledger" / "verifier.pub")
    return {"log": log, "events": stored, "partner": partner, "tmp": tmp_path}


def _verify(c: dict, url: str, **kw):
    return verify_events(c["events"], ledger_url=url, ledger_dir=c["partner"] / "ledger",
                         trust_dir=c["partner"] / ".trust", **kw)


def test_partner_verifies_over_http_then_sees_tampering_and_outages(chasqui: dict) -> None:
    server = Loopback(tiles.request_handler(chasqui["log"].path, "/ledger"))
    url = server.url + "/ledger"
    try:
        ok = _verify(chasqui, url)
        assert ok.verdict == "verified", ok.reason
        assert ok.exit_code == 0 and ok.checkpoint.size == 1006 and ok.counts["verified"] == 6
        assert ok.to_json()["tampered"] == [] and ok.to_json()["events"] == 6

        edited = copy.deepcopy(chasqui["events"])
        doc = json.loads(edited[2].document)
        doc["epcisBody"]["eventList"][0]["quantityList"][0]["quantity"] = 90  # someone edits one stored event
        edited[2] = StoredEvent(edited[2].key, json.dumps(doc), edited[2].event_hash, edited[2].leaf_index)
        bad = verify_events(edited, ledger_url=url, ledger_dir=chasqui["partner"] / "ledger",
                            trust_dir=chasqui["partner"] / ".trust")
        assert bad.verdict == "tampered" and bad.exit_code == 1
        assert bad.to_json()["tampered"] == ["EV-002"] and bad.counts["verified"] == 5

        # the edited event re-hashed and its stored hash replaced too: the proof for that leaf fails
        forged = StoredEvent("EV-002", json.dumps(doc), epcis.event_hashes(doc)[0], edited[2].leaf_index)
        worse = verify_events([chasqui["events"][0], forged], ledger_url=url, ledger_dir=chasqui["partner"] / "ledger")
        assert worse.verdict == "tampered" and worse.keys("tampered") == ["EV-002"]
        assert "inclusion proof failed" in worse.events[1].reason
    finally:
        server.stop()

    down = _verify(chasqui, url)
    assert down.verdict == "unverifiable" and down.exit_code == 2
    assert "unreachable" in down.reason and down.to_json()["tampered"] == []


def test_rewritten_log_is_tampered_for_a_partner_who_saw_it_before(chasqui: dict) -> None:
    log = chasqui["log"]
    with Loopback(tiles.request_handler(log.path, "/ledger")) as server:
        assert _verify(chasqui, server.url + "/ledger").verdict == "verified"
    # The operator (with the signing key) rebuilds the log with one old entry changed, and more entries.
    rewritten = MerkleLog(chasqui["tmp"] / "rewritten", signer=Signer.from_string((log.path / "signer.key").read_text()))
    leaves = [log.leaf_hash(i) for i in range(log.size)]
    leaves[17] = hashlib.sha256(b"\x00quietly altered").digest()
    rewritten.append_leaf_hashes(leaves + [hashlib.sha256(b"\x00newer").digest()])
    with Loopback(tiles.request_handler(rewritten.path, "/ledger")) as server:
        v = _verify(chasqui, server.url + "/ledger")
    assert v.verdict == "tampered" and "rewrote its history" in v.reason
    # A first-time verifier cannot tell (that is what remembering checkpoints and witnesses are for).
    with Loopback(tiles.request_handler(rewritten.path, "/ledger")) as server:
        fresh = verify_events(chasqui["events"], ledger_url=server.url + "/ledger",
                              ledger_dir=chasqui["partner"] / "ledger")
    assert fresh.verdict == "verified"


def test_unverifiable_reasons(chasqui: dict, tmp_path: Path) -> None:
    with Loopback(tiles.request_handler(chasqui["log"].path, "/ledger")) as server:
        url = server.url + "/ledger"
        no_key = verify_events(chasqui["events"], ledger_url=url, ledger_dir=tmp_path / "nothing")
        assert no_key.verdict == "unverifiable" and "no trusted log key" in no_key.reason
        other = tmp_path / "other.pub"
        other.write_text(Signer.generate(chasqui["log"].origin).verifier.to_string() + "\n")
        wrong = verify_events(chasqui["events"], ledger_url=url, trust_key=other)
        assert wrong.verdict == "unverifiable" and "not signed by the trusted key" in wrong.reason
        right = verify_events(chasqui["events"], ledger_url=url, trust_key=chasqui["partner"] / "ledger" / "verifier.pub")
        assert right.verdict == "verified"
        nothing = verify_events(chasqui["events"], ledger_url=server.url + "/elsewhere",
                                trust_key=chasqui["partner"] / "ledger" / "verifier.pub")
        assert nothing.verdict == "unverifiable" and nothing.reason.startswith("no checkpoint")
        late = [*chasqui["events"], StoredEvent("EV-new", chasqui["events"][0].document, chasqui["events"][0].event_hash,
                                                 5000)]
        newer = verify_events(late, ledger_url=url, trust_key=chasqui["partner"] / "ledger" / "verifier.pub")
        assert newer.verdict == "unverifiable" and "EV-new" in newer.reason
        loose = [*chasqui["events"], StoredEvent("EV-loose", chasqui["events"][0].document,
                                                  chasqui["events"][0].event_hash, None)]
        unanchored = verify_events(loose, ledger_url=url, trust_key=chasqui["partner"] / "ledger" / "verifier.pub")
        assert unanchored.verdict == "unverifiable" and unanchored.to_json()["unanchored"] == ["EV-loose"]


def test_witnesses_cosign_over_http_and_verifiers_require_them(chasqui: dict) -> None:
    log, tmp = chasqui["log"], chasqui["tmp"]
    w1, w2 = Witness(tmp / "witness1", name="witness.one.test/w"), Witness(tmp / "witness2", name="witness.two.test/w")
    log.add_witness(w1.verifier_key)
    log.add_witness(w2.verifier_key)
    keys = [tmp / "witness1" / "witness.pub", tmp / "witness2" / "witness.pub"]
    with Loopback(tiles.request_handler(log.path, "/ledger")) as server:
        url = server.url + "/ledger"
        none_yet = _verify(chasqui, url, witness_keys=keys[:1], min_witnesses=1)
        assert none_yet.verdict == "unverifiable" and "not enough witnesses" in none_yet.reason

        result = witness_log(tmp / "witness1", url, log.verifier)
        assert result.size == 1006 and "witness.one.test/w" in result.submitted
        one = _verify(chasqui, url, witness_keys=keys, min_witnesses=1)
        assert one.verdict == "verified" and one.witnesses == ("witness.one.test/w",)
        two = _verify(chasqui, url, witness_keys=keys, min_witnesses=2)
        assert two.verdict == "unverifiable" and "only 1 of the 2" in two.reason
        witness_log(tmp / "witness2", url, log.verifier.to_string())
        assert _verify(chasqui, url, witness_keys=keys, min_witnesses=2).witnesses == (
            "witness.one.test/w", "witness.two.test/w")

        # the log grows: the witness checks consistency from the tiles before cosigning again
        log.append_digests([hashlib.sha256(b"later event").digest()])
        again = witness_log(tmp / "witness1", url, log.verifier)
        assert (again.previous_size, again.size) == (1006, 1007)


def test_split_view_shown_to_a_witness_is_refused(chasqui: dict) -> None:
    log, tmp = chasqui["log"], chasqui["tmp"]
    with Loopback(tiles.request_handler(log.path, "/ledger")) as server:
        witness_log(tmp / "witness", server.url + "/ledger", log.verifier, submit=False)
    # Another view of the same log (same key and origin, same size, different entries) served elsewhere.
    fork = MerkleLog(tmp / "fork", signer=Signer.from_string((log.path / "signer.key").read_text()))
    fork.append_leaf_hashes([log.leaf_hash(i) for i in range(log.size - 1)] + [hashlib.sha256(b"\x00fork").digest()])
    assert fork.checkpoint().size == log.checkpoint().size
    with Loopback(tiles.request_handler(fork.path, "/ledger")) as server:
        with pytest.raises(SplitViewError, match="split view refused"):
            witness_log(tmp / "witness", server.url + "/ledger", log.verifier)
    assert Witness(tmp / "witness").latest(log.origin).root_hash == log.root()


def test_static_tiles_folder_over_http_with_partial_tiles_and_growth(tmp_path: Path) -> None:
    log = MerkleLog(tmp_path / "ledger")
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(66_000)]
    log.append_digests(digests[:65_800])
    public = tmp_path / "public"
    tiles.export(log, public)
    server = serve_folder(public)
    try:
        with LedgerClient(HTTPTransport(server.url), log.verifier) as client:
            cp = client.refresh()
            for i in (0, 255, 256, 65_535, 65_536, 65_799):  # full tiles, the partial level-0 tile, level 1 and 2
                client.verify_inclusion(f"ni:///sha-256;{digests[i].hex()}?ver=CBV2.0", i, cp)
            with pytest.raises(VerificationError):
                client.verify_inclusion(f"ni:///sha-256;{digests[5].hex()}?ver=CBV2.0", 6, cp)
            log.append_digests(digests[65_800:])
            tiles.export(log, public)
            assert client.refresh().size == 66_000  # consistency 65,800 -> 66,000 from fetched tiles
        # A tile altered on the server: proofs from it no longer reach the signed root.
        tile = public / tiles.tile_path(0, 0)
        data = bytearray(tile.read_bytes())
        data[0] ^= 0xFF
        tile.write_bytes(bytes(data))
        with LedgerClient(HTTPTransport(server.url), log.verifier) as client:
            with pytest.raises(VerificationError):
                client.verify_inclusion(f"ni:///sha-256;{digests[3].hex()}?ver=CBV2.0", 3)
    finally:
        server.stop()
    with pytest.raises(TransportError):
        HTTPTransport(server.url, timeout=2).get_checkpoint()
