"""C2SP signed-note checkpoints: format, Ed25519 key IDs, wrong key / signature / origin rejected."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ledger_client import CheckpointFormatError, SignatureError, VerificationError
from ledger_client.checkpoint import Checkpoint, Signer, Verifier, key_id, parse_note, verify_checkpoint

ROOT = hashlib.sha256(b"root").digest()


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate("chasqui.pe/test-log")


def test_checkpoint_body_and_signature_line_format(signer: Signer) -> None:
    note = Checkpoint("chasqui.pe/test-log", 42, ROOT).sign(signer)
    text, sigs = parse_note(note)
    assert text == f"chasqui.pe/test-log\n42\n{base64.b64encode(ROOT).decode()}\n"
    assert note.startswith(text + "\n\u2014 chasqui.pe/test-log ")
    assert sigs[0].key_id == hashlib.sha256(b"chasqui.pe/test-log\n\x01" + signer.verifier.public_key).digest()[:4]
    assert len(sigs[0].signature) == 64
    cp = verify_checkpoint(note, signer.verifier, "chasqui.pe/test-log")
    assert (cp.origin, cp.size, cp.root_hash) == ("chasqui.pe/test-log", 42, ROOT)


def test_key_strings_round_trip(signer: Signer) -> None:
    v = Verifier.from_string(signer.verifier.to_string())
    assert v == signer.verifier
    assert signer.verifier.to_string().split("+")[1] == key_id(v.name, v.public_key).hex()
    s2 = Signer.from_string(signer.to_string())
    assert s2.verifier == signer.verifier
    with pytest.raises(CheckpointFormatError):
        Verifier.from_string(signer.verifier.to_string().replace("+", "+0", 1))


def test_wrong_key_is_rejected(signer: Signer) -> None:
    note = Checkpoint("chasqui.pe/test-log", 1, ROOT).sign(signer)
    other = Signer.generate("chasqui.pe/test-log")  # same name, different key -> different key ID
    with pytest.raises(SignatureError):
        verify_checkpoint(note, other.verifier)
    renamed = Signer("attacker.example/log", signer.seed)
    with pytest.raises(SignatureError):
        verify_checkpoint(Checkpoint("chasqui.pe/test-log", 1, ROOT).sign(renamed), signer.verifier)


def test_forged_signature_with_right_key_id_is_rejected(signer: Signer) -> None:
    note = Checkpoint("chasqui.pe/test-log", 7, ROOT).sign(signer)
    text, sigs = parse_note(note)
    bad_sig = bytes([sigs[0].signature[0] ^ 1]) + sigs[0].signature[1:]
    forged = text + "\n\u2014 chasqui.pe/test-log " + base64.b64encode(sigs[0].key_id + bad_sig).decode() + "\n"
    with pytest.raises(SignatureError):
        verify_checkpoint(forged, signer.verifier)
    # the text changed after signing (size bumped): the signature no longer covers it
    tampered = note.replace("\n7\n", "\n8\n", 1)
    with pytest.raises(SignatureError):
        verify_checkpoint(tampered, signer.verifier)


def test_origin_mismatch_and_malformed_notes(signer: Signer) -> None:
    note = Checkpoint("chasqui.pe/test-log", 3, ROOT).sign(signer)
    with pytest.raises(VerificationError):
        verify_checkpoint(note, signer.verifier, origin="someone.else/log")
    for bad in ("", "no signatures\n", note.replace("\u2014", "-"), note + "garbage", 12345,
                note.replace("\n3\n", "\n03\n")):
        with pytest.raises(VerificationError):
            verify_checkpoint(bad, signer.verifier)  # type: ignore[arg-type]


def test_unknown_extra_signatures_are_ignored(signer: Signer) -> None:
    other = Signer.generate("witness.example/w1")
    note = Checkpoint("chasqui.pe/test-log", 5, ROOT).sign(signer)
    text, _ = parse_note(note)
    extra = note + "\u2014 witness.example/w1 " + base64.b64encode(
        other.verifier.key_id + other.sign(text.encode())).decode() + "\n"
    assert verify_checkpoint(extra, signer.verifier).size == 5
