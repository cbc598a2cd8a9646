"""Witness cosignatures on checkpoints (c2sp.org/tlog-cosignature, ``cosignature/v1``).

A cosignature is a signed-note signature line whose key ID is
``SHA-256(<name> || "\\n" || 0x04 || Ed25519 public key)[:4]`` and whose signature is a 72-byte
``timestamped_signature``: an 8-byte big-endian UNIX time followed by an Ed25519 signature over::

    cosignature/v1
    time <seconds>
    <the whole checkpoint body, final newline included>

It states that, at that time, the checkpoint was the largest consistent tree head the witness had seen
for that log. Verifiers pin witness keys (``<name>+<hex key ID>+<base64(0x04 || public key)>``, the
vkey encoding of c2sp.org/signed-note) and require a number of them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ledger_client.checkpoint import SIG_PREFIX, NoteSignature, parse_note
from ledger_client.errors import CheckpointFormatError, SignatureError, WitnessQuorumError

ALG_COSIGNATURE_V1 = 0x04
HEADER = "cosignature/v1"


def key_id(name: str, public_key: bytes) -> bytes:
    """4-byte key ID of a ``cosignature/v1`` witness key."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + public_key).digest()[:4]


def signed_message(checkpoint_body: str, timestamp: int) -> bytes:
    """The bytes a witness signs for ``checkpoint_body`` at ``timestamp``."""
    if not checkpoint_body.endswith("\n"):
        raise CheckpointFormatError("checkpoint body must end with a newline")
    return f"{HEADER}\ntime {int(timestamp)}\n{checkpoint_body}".encode()


def _check_name(name: str) -> str:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise CheckpointFormatError(f"invalid witness name {name!r} (no spaces or '+')")
    return name


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: which witness, and when it signed."""

    witness: str
    timestamp: int


@dataclass(frozen=True)
class WitnessVerifier:
    """A pinned witness public key."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def to_string(self) -> str:
        blob = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    @classmethod
    def from_string(cls, text: str) -> WitnessVerifier:
        try:
            name, hexid, b64 = text.strip().split("+", 2)
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"malformed witness key: {exc}") from exc
        _check_name(name)
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise CheckpointFormatError("witness key is not a cosignature/v1 (type 0x04) Ed25519 key")
        v = cls(name, raw[1:])
        if v.key_id != kid:
            raise CheckpointFormatError("witness key ID does not match its name and key")
        return v

    def matches(self, sig: NoteSignature) -> bool:
        return sig.name == self.name and sig.key_id == self.key_id

    def verify(self, checkpoint_body: str, signature: bytes) -> int:
        """Check a ``timestamped_signature``; return its timestamp or raise :class:`SignatureError`."""
        if len(signature) != 72:
            raise SignatureError(f"cosignature by {self.name} is {len(signature)} bytes, not 72")
        (timestamp,) = struct.unpack(">Q", signature[:8])
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature[8:], signed_message(checkpoint_body, timestamp))
        except (InvalidSignature, ValueError) as exc:
            raise SignatureError(f"cosignature by witness {self.name} does not verify") from exc
        return int(timestamp)


@dataclass(frozen=True)
class WitnessSigner:
    """A witness's Ed25519 private key."""

    name: str
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> WitnessSigner:
        seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(_check_name(name), seed)

    @property
    def verifier(self) -> WitnessVerifier:
        pub = Ed25519PrivateKey.from_private_bytes(self.seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return WitnessVerifier(self.name, pub)

    def cosign(self, checkpoint_body: str, timestamp: int | None = None) -> str:
        """The signature line (ending in a newline) cosigning ``checkpoint_body``."""
        ts = int(time.time()) if timestamp is None else int(timestamp)
        sig = Ed25519PrivateKey.from_private_bytes(self.seed).sign(signed_message(checkpoint_body, ts))
        blob = base64.b64encode(self.verifier.key_id + struct.pack(">Q", ts) + sig).decode()
        return f"{SIG_PREFIX}{self.name} {blob}\n"

    def to_string(self) -> str:
        blob = base64.b64encode(bytes([ALG_COSIGNATURE_V1]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    @classmethod
    def from_string(cls, text: str) -> WitnessSigner:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise CheckpointFormatError("malformed witness signing key")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"malformed witness signing key: {exc}") from exc
        if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
            raise CheckpointFormatError("witness signing key is not a cosignature/v1 key")
        s = cls(_check_name(parts[2]), raw[1:])
        if s.verifier.key_id.hex() != parts[3].lower():
            raise CheckpointFormatError("witness signing key ID does not match")
        return s


def parse_signature_lines(text: str) -> list[NoteSignature]:
    """Signature lines (``— name base64``), as a witness returns them, without verification."""
    if not text.strip():
        return []
    _, sigs = parse_note("x\n\n" + (text if text.endswith("\n") else text + "\n"))
    return sigs


def cosignatures(note: str, witnesses: Iterable[WitnessVerifier]) -> list[Cosignature]:
    """Verified cosignatures on a signed checkpoint from the given witnesses (unknown keys ignored).

    A line that claims a pinned witness key but does not verify raises :class:`SignatureError`.
    """
    body, sigs = parse_note(note)
    out: dict[str, Cosignature] = {}
    pinned = list(witnesses)
    for sig in sigs:
        for w in pinned:
            if w.matches(sig):
                ts = w.verify(body, sig.signature)
                if w.name not in out or out[w.name].timestamp < ts:
                    out[w.name] = Cosignature(w.name, ts)
    return sorted(out.values(), key=lambda c: c.witness)


def require_cosignatures(note: str, witnesses: Sequence[WitnessVerifier], minimum: int) -> list[Cosignature]:
    """Cosignatures from at least ``minimum`` distinct pinned witnesses, or :class:`WitnessQuorumError`."""
    if minimum > len({w.name for w in witnesses}):
        raise WitnessQuorumError(f"{minimum} witness cosignatures required but only {len(witnesses)} witness "
                                 "keys are trusted")
    found = cosignatures(note, witnesses)
    if len(found) < minimum:
        names = ", ".join(c.witness for c in found) or "none"
        raise WitnessQuorumError(f"only {len(found)} of the {minimum} required witness cosignatures ({names})")
    return found


__all__ = [
    "ALG_COSIGNATURE_V1",
    "Cosignature",
    "WitnessSigner",
    "WitnessVerifier",
    "cosignatures",
    "key_id",
    "parse_signature_lines",
    "require_cosignatures",
    "signed_message",
]
