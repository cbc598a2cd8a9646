"""C2SP checkpoints (c2sp.org/tlog-checkpoint) carried in Ed25519 signed notes (c2sp.org/signed-note).

A checkpoint body is::

    <origin>\\n<tree size, decimal>\\n<base64 root hash>\\n[extension lines\\n]

A signed note is the body, a blank line, then one or more lines ``— <key name> base64(key ID || sig)``
where ``key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]`` for Ed25519 (type 0x01).

Key strings follow the Go ``note`` package convention:
verifier ``<name>+<hex key ID>+<base64(0x01 || public key)>``,
signer ``PRIVATE+KEY+<name>+<hex key ID>+<base64(0x01 || seed)>``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from ledger_client.errors import CheckpointFormatError, SignatureError, UntrustedCheckpointError, VerificationError

ALG_ED25519 = 0x01
SIG_PREFIX = "\u2014 "  # em dash + space
_NAME_RE = re.compile(r"^[^\s+]+$")
_MAX_SIGNATURES = 100


def key_id(name: str, public_key: bytes) -> bytes:
    """4-byte key ID of an Ed25519 key (C2SP signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> str:
    if not name or not _NAME_RE.match(name):
        raise CheckpointFormatError(f"invalid key name {name!r} (no spaces or '+')")
    return name


@dataclass(frozen=True)
class Verifier:
    """A pinned Ed25519 public key with its name."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def to_string(self) -> str:
        return f"{self.name}+{self.key_id.hex()}+{base64.b64encode(bytes([ALG_ED25519]) + self.public_key).decode()}"

    @classmethod
    def from_string(cls, text: str) -> Verifier:
        try:
            name, hexid, b64 = text.strip().split("+", 2)
            raw = base64.b64decode(b64, validate=True)
            kid = bytes.fromhex(hexid)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"malformed verifier key: {exc}") from exc
        _check_name(name)
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointFormatError("verifier key is not an Ed25519 (type 0x01) key")
        v = cls(name, raw[1:])
        if v.key_id != kid:
            raise CheckpointFormatError("verifier key ID does not match its name and key")
        return v

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except (InvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """An Ed25519 private key with its name."""

    name: str
    seed: bytes = field(repr=False)

    @classmethod
    def generate(cls, name: str) -> Signer:
        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(_check_name(name), seed)

    @property
    def _key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @property
    def verifier(self) -> Verifier:
        pub = self._key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        return Verifier(self.name, pub)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def to_string(self) -> str:
        kid = self.verifier.key_id.hex()
        return f"PRIVATE+KEY+{self.name}+{kid}+{base64.b64encode(bytes([ALG_ED25519]) + self.seed).decode()}"

    @classmethod
    def from_string(cls, text: str) -> Signer:
        parts = text.strip().split("+", 4)
        if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
            raise CheckpointFormatError("malformed signer key")
        try:
            raw = base64.b64decode(parts[4], validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"malformed signer key: {exc}") from exc
        if len(raw) != 33 or raw[0] != ALG_ED25519:
            raise CheckpointFormatError("signer key is not an Ed25519 key")
        s = cls(_check_name(parts[2]), raw[1:])
        if s.verifier.key_id.hex() != parts[3].lower():
            raise CheckpointFormatError("signer key ID does not match")
        return s


# ---------------------------------------------------------------- signed notes

@dataclass(frozen=True)
class NoteSignature:
    name: str
    key_id: bytes
    signature: bytes


def sign_note(text: str, signer: Signer) -> str:
    """Sign ``text`` (must end in a newline) and return the signed note."""
    if not text.endswith("\n"):
        raise CheckpointFormatError("note text must end with a newline")
    sig = signer.sign(text.encode())
    blob = base64.b64encode(signer.verifier.key_id + sig).decode()
    return f"{text}\n{SIG_PREFIX}{signer.name} {blob}\n"


def parse_note(note: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its text and signatures (no verification)."""
    if not isinstance(note, str):
        raise CheckpointFormatError("signed note must be text")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise CheckpointFormatError("signed note contains control characters")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise CheckpointFormatError("signed note has no blank line before its signatures")
    text, sig_block = note[: cut + 1], note[cut + 2:]
    if not sig_block.endswith("\n"):
        raise CheckpointFormatError("signature block must end with a newline")
    sigs: list[NoteSignature] = []
    for line in sig_block[:-1].split("\n"):
        if not line.startswith(SIG_PREFIX):
            raise CheckpointFormatError(f"malformed signature line {line[:40]!r}")
        try:
            name, b64 = line[len(SIG_PREFIX):].split(" ")
            blob = base64.b64decode(b64, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"malformed signature line: {exc}") from exc
        if len(blob) < 5:
            raise CheckpointFormatError("signature too short")
        sigs.append(NoteSignature(_check_name(name), blob[:4], blob[4:]))
        if len(sigs) > _MAX_SIGNATURES:
            raise CheckpointFormatError("too many signatures")
    if not sigs:
        raise CheckpointFormatError("signed note has no signatures")
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """Verify a signed note against the pinned key; return its text or raise :class:`SignatureError`."""
    text, sigs = parse_note(note)
    verified = False
    for s in sigs:
        if s.name != verifier.name or s.key_id != verifier.key_id:
            continue  # unknown key: ignored per the spec
        if not verifier.verify(text.encode(), s.signature):
            raise SignatureError(f"signature by {s.name} does not verify")
        verified = True
    if not verified:
        raise UntrustedCheckpointError(f"no signature from the trusted key {verifier.name}")
    return text


# ---------------------------------------------------------------- checkpoints

@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        if not self.origin or "\n" in self.origin:
            raise CheckpointFormatError("invalid origin")
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(), *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise CheckpointFormatError("checkpoint must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise CheckpointFormatError("checkpoint needs origin, size and root lines")
        origin, size_s, root_s, *ext = lines
        if not origin:
            raise CheckpointFormatError("empty origin")
        if not size_s.isdigit() or (len(size_s) > 1 and size_s[0] == "0") or len(size_s) > 20:
            raise CheckpointFormatError(f"invalid tree size {size_s!r}")
        try:
            root_hash = base64.b64decode(root_s, validate=True)
        except (ValueError, binascii.Error) as exc:
            raise CheckpointFormatError(f"invalid root hash: {exc}") from exc
        if len(root_hash) != 32:
            raise CheckpointFormatError("root hash must be 32 bytes")
        if any(not e for e in ext):
            raise CheckpointFormatError("empty extension line")
        return cls(origin, int(size_s), root_hash, tuple(ext))

    def sign(self, signer: Signer) -> str:
        return sign_note(self.body(), signer)


def verify_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """Verify a signed checkpoint with the pinned key (and expected origin) and parse it."""
    try:
        text = open_note(note, verifier)
        cp = Checkpoint.parse(text)
    except VerificationError:
        raise
    except Exception as exc:  # defensive: any other failure is a verification failure
        raise CheckpointFormatError(f"malformed checkpoint: {exc}") from exc
    if origin is not None and cp.origin != origin:
        raise VerificationError(f"checkpoint origin {cp.origin!r} is not the expected {origin!r}")
    return cp


__all__ = [
    "SIG_PREFIX",
    "Checkpoint",
    "NoteSignature",
    "Signer",
    "Verifier",
    "key_id",
    "open_note",
    "parse_note",
    "sign_note",
    "verify_checkpoint",
]
