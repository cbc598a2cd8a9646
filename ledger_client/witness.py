"""A transparency-log witness (c2sp.org/tlog-witness) with its own Ed25519 key.

A witness remembers, per log origin, the latest checkpoint it cosigned. Shown a new checkpoint, it checks
the log's signature, then that the checkpoint is an append-only extension of the remembered one (RFC 9162
consistency proof), and only then cosigns it (:mod:`ledger_client.cosignature`) and remembers it. A
checkpoint of the same size with another root is a split view: refused (:class:`SplitViewError`), as is a
smaller or inconsistent one (:class:`ConsistencyError`). Several companies each running a witness over
Chasqui's log give multi-party trust without a blockchain: the log cannot show partners different
histories, nor rewrite its own, without the witnesses refusing to cosign.

Two ways in:

* pull (:func:`witness_log`): fetch the log's checkpoint and tiles over HTTP, check, cosign, and POST the
  cosignature back to the log, which serves it with the checkpoint;
* push (:meth:`Witness.add_checkpoint`): the C2SP ``add-checkpoint`` request/response, for logs that ask
  witnesses themselves.

State directory layout: ``witness.key`` (signing key, mode 0600), ``witness.pub`` (the vkey to give to
verifiers), ``logs/<sha256(origin)>.json`` (the latest cosigned checkpoint of each log).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import socket
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger_client import merkle
from ledger_client.checkpoint import Checkpoint, Verifier, parse_note, verify_checkpoint
from ledger_client.cosignature import WitnessSigner
from ledger_client.errors import (
    CheckpointFormatError,
    ConsistencyError,
    LedgerError,
    SignatureError,
    SplitViewError,
    VerificationError,
)

ProofSource = Callable[[int, int], list[bytes]]


@dataclass(frozen=True)
class WitnessResult:
    """What the witness did with one checkpoint."""

    origin: str
    size: int
    root: str          # base64
    previous_size: int
    cosignature: str   # the signature line (ends with a newline)
    submitted: str = ""  # the log's answer when the cosignature was sent back

    def to_json(self) -> dict[str, Any]:
        return {"status": "cosigned", "origin": self.origin, "size": self.size, "root": self.root,
                "previous_size": self.previous_size, "cosignature": self.cosignature.strip(),
                "submitted": self.submitted}


class Witness:
    """Witness state in a directory; thread- and process-safe (one lock file)."""

    def __init__(self, state_dir: Path | str, *, name: str | None = None,
                 logs: Mapping[str, Verifier] | None = None) -> None:
        self.dir = Path(state_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.signer = self._load_or_create_key(name)
        self.logs = dict(logs or {})

    # -------------------------------------------------------------- keys and state
    def _load_or_create_key(self, name: str | None) -> WitnessSigner:
        key = self.dir / "witness.key"
        if key.exists():
            signer = WitnessSigner.from_string(key.read_text())
        else:
            signer = WitnessSigner.generate(name or f"witness.chasqui.pe/{socket.gethostname() or 'local'}")
            fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(signer.to_string() + "\n")
        (self.dir / "witness.pub").write_text(signer.verifier.to_string() + "\n")
        return signer

    @property
    def verifier_key(self) -> str:
        return self.signer.verifier.to_string()

    def _state_path(self, origin: str) -> Path:
        return self.dir / "logs" / (hashlib.sha256(origin.encode()).hexdigest()[:32] + ".json")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def latest(self, origin: str) -> Checkpoint | None:
        """The latest checkpoint this witness cosigned for ``origin``."""
        p = self._state_path(origin)
        if not p.exists():
            return None
        try:
            d = json.loads(p.read_text())
            return Checkpoint(d["origin"], int(d["size"]), base64.b64decode(d["root"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise LedgerError(f"witness state {p} is corrupt: {exc}") from exc

    def _remember(self, cp: Checkpoint) -> None:
        p = self._state_path(cp.origin)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        tmp.write_text(json.dumps({"origin": cp.origin, "size": cp.size,
                                   "root": base64.b64encode(cp.root_hash).decode()}))
        os.replace(tmp, p)

    # -------------------------------------------------------------- the check
    def observe(self, note: str, log_key: Verifier, proofs: ProofSource, *, old_size: int | None = None,
                timestamp: int | None = None) -> WitnessResult:
        """Check ``note`` against what this witness saw before and cosign it.

        ``proofs(size1, size2)`` returns a consistency proof (from the log's tiles, or from the request).
        ``old_size`` (push mode) must equal the size this witness last cosigned. Raises
        :class:`SplitViewError`, :class:`ConsistencyError` or :class:`SignatureError`; never cosigns then.
        """
        cp = verify_checkpoint(note, log_key)
        body = parse_note(note)[0]
        with self._locked():
            prev = self.latest(cp.origin)
            prev_size = prev.size if prev else 0
            if old_size is not None and old_size != prev_size:
                raise _OldSizeMismatch(prev_size)
            if prev is not None:
                if cp.size < prev.size:
                    raise ConsistencyError(f"checkpoint of size {cp.size} is older than the one of size "
                                           f"{prev.size} this witness already cosigned (rollback)")
                if cp.size == prev.size:
                    if cp.root_hash != prev.root_hash:
                        raise SplitViewError(
                            f"split view refused: {cp.origin} showed this witness two checkpoints of size "
                            f"{cp.size} with different roots ({base64.b64encode(prev.root_hash).decode()} "
                            f"cosigned before, {base64.b64encode(cp.root_hash).decode()} now)")
                else:
                    proof = proofs(prev.size, cp.size)
                    try:
                        merkle.verify_consistency(prev.size, cp.size, proof, prev.root_hash, cp.root_hash)
                    except VerificationError as exc:
                        raise ConsistencyError(
                            f"refused: checkpoint of size {cp.size} is not consistent with the one of size "
                            f"{prev.size} this witness cosigned (history rewritten): {exc}") from exc
            line = self.signer.cosign(body, timestamp)
            self._remember(cp)
        return WitnessResult(cp.origin, cp.size, base64.b64encode(cp.root_hash).decode(), prev_size, line)

    # -------------------------------------------------------------- C2SP add-checkpoint
    def add_checkpoint(self, request: bytes | str) -> tuple[int, str, str]:
        """Answer a C2SP ``POST <prefix>/add-checkpoint``: (HTTP status, content type, body)."""
        text = request.decode("utf-8", "replace") if isinstance(request, bytes) else request
        head, sep, note = text.partition("\n\n")
        lines = head.split("\n")
        if not sep or not lines[0].startswith("old ") or len(lines) > 64:
            return 400, "text/plain; charset=utf-8", "malformed request\n"
        size_s = lines[0][4:]
        if not size_s.isdigit() or (len(size_s) > 1 and size_s[0] == "0"):
            return 400, "text/plain; charset=utf-8", "malformed old size\n"
        try:
            proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
            origin = parse_note(note)[0].split("\n", 1)[0]
        except (ValueError, binascii.Error, CheckpointFormatError):
            return 400, "text/plain; charset=utf-8", "malformed proof or checkpoint\n"
        key = self.logs.get(origin)
        if key is None:
            return 404, "text/plain; charset=utf-8", "unknown log\n"
        old = int(size_s)
        try:
            cp = verify_checkpoint(note, key)
        except (SignatureError, CheckpointFormatError):
            return 403, "text/plain; charset=utf-8", "no valid signature from the log's key\n"
        if old > cp.size:
            return 400, "text/plain; charset=utf-8", "old size larger than the checkpoint\n"
        if old == 0 and proof:
            return 400, "text/plain; charset=utf-8", "a proof from size 0 must be empty\n"
        try:
            result = self.observe(note, key, lambda m, n: proof, old_size=old)
        except _OldSizeMismatch as exc:
            return 409, "text/x.tlog.size", f"{exc.size}\n"
        except SplitViewError as exc:
            return 409, "text/plain; charset=utf-8", f"{exc}\n"
        except ConsistencyError as exc:
            return 422, "text/plain; charset=utf-8", f"{exc}\n"
        return 200, "text/plain; charset=utf-8", result.cosignature


class _OldSizeMismatch(LedgerError):
    def __init__(self, size: int) -> None:
        super().__init__(f"this witness last cosigned size {size}")
        self.size = size


def witness_log(state_dir: Path | str, log_url: str, log_key: Verifier | str, *, name: str | None = None,
                submit: bool = True, http_client: Any = None, timeout: float = 10.0) -> WitnessResult:
    """Pull mode: fetch the log's checkpoint and tiles over HTTP, check, cosign, send the cosignature back.

    Raises :class:`SplitViewError` / :class:`ConsistencyError` (refused), :class:`SignatureError` (not the
    log's key) or :class:`TransportError` (the log cannot be reached; nothing is cosigned).
    """
    from ledger_client.client import HTTPTransport

    key = Verifier.from_string(log_key) if isinstance(log_key, str) else log_key
    witness = Witness(state_dir, name=name)
    transport = HTTPTransport(log_url, client=http_client, timeout=timeout)
    try:
        note = transport.get_checkpoint()
        result = witness.observe(note, key, transport.get_consistency_proof)
        if submit:
            answer = transport.submit_cosignature(result.cosignature)
            result = WitnessResult(result.origin, result.size, result.root, result.previous_size,
                                   result.cosignature, answer)
        return result
    finally:
        transport.close()


__all__ = ["Witness", "WitnessResult", "witness_log"]
