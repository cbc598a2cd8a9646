"""The ledger client: fetch signed checkpoints and proofs through an injectable transport and verify them.

    with LedgerClient(HTTPTransport("https://chasqui.example/ledger"), verifier,
                      witnesses=[w1, w2], min_witnesses=1) as client:
        cp = client.refresh()                       # signature, cosignatures, consistency with the last seen
        client.verify_inclusion(event_hash, index)  # raises VerificationError if not included

Transports: :class:`LocalTransport` (a log directory on disk), :class:`HTTPTransport` (httpx, a log served
in the C2SP tlog-tiles layout: checkpoint + tiles, proofs rebuilt from tiles), :class:`TileDirectoryTransport`
(the same layout exported to a directory) and :class:`MemoryTransport` (tests).
The client remembers the last checkpoint it verified (in memory or in a :class:`FileTrustStore`); a later
checkpoint that is smaller, of the same size with another root (a split view), or not consistent with it
raises :class:`ConsistencyError`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger_client import merkle
from ledger_client.checkpoint import Checkpoint, Signer, Verifier, verify_checkpoint
from ledger_client.cosignature import Cosignature, WitnessVerifier, cosignatures, require_cosignatures
from ledger_client.epcis import hash_digest
from ledger_client.errors import (
    ConsistencyError,
    LedgerError,
    LogError,
    NoCheckpointError,
    SplitViewError,
    TransportError,
    VerificationError,
)
from ledger_client.log import MerkleLog
from ledger_client.tiles import CHECKPOINT_PATH, COSIGNATURE_PATH, TileReader


class Transport(Protocol):
    """What the client needs from a log."""

    def get_checkpoint(self) -> str: ...

    def get_inclusion_proof(self, index: int, tree_size: int) -> list[bytes]: ...

    def get_consistency_proof(self, size1: int, size2: int) -> list[bytes]: ...

    def close(self) -> None: ...


# ---------------------------------------------------------------- transports

class LocalTransport:
    """Reads a :class:`MerkleLog` directory (read-only)."""

    def __init__(self, path: Path | str, origin: str | None = None) -> None:
        try:
            kwargs: dict[str, Any] = {"create": False, "writable": False}
            if origin:
                kwargs["origin"] = origin
            self.log = MerkleLog(path, **kwargs)
        except (LogError, OSError) as exc:
            raise TransportError(str(exc)) from exc

    def get_checkpoint(self) -> str:
        try:
            return self.log.checkpoint_note()
        except LogError as exc:
            raise NoCheckpointError(f"cannot read checkpoint: {exc}") from exc
        except OSError as exc:
            raise TransportError(f"cannot read checkpoint: {exc}") from exc

    def get_inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        try:
            return self.log.inclusion_proof(index, tree_size)
        except (LogError, ValueError, OSError) as exc:
            raise TransportError(f"cannot build inclusion proof: {exc}") from exc

    def get_consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        try:
            return self.log.consistency_proof(size1, size2)
        except (LogError, ValueError, OSError) as exc:
            raise TransportError(f"cannot build consistency proof: {exc}") from exc

    def close(self) -> None:
        self.log.close()


class MemoryTransport:
    """An in-memory log for tests: append leaves, sign checkpoints, rewrite history on purpose."""

    def __init__(self, signer: Signer, origin: str = "memory.test/log") -> None:
        self.signer = signer
        self.origin = origin
        self.tree = merkle.MemoryTree()
        self.cosignature_lines: list[str] = []

    def append(self, digest: bytes) -> int:
        return self.tree.append(merkle.leaf_hash(digest))

    def checkpoint(self) -> Checkpoint:
        n = self.tree.size
        return Checkpoint(self.origin, n, merkle.root(self.tree, n))

    def get_checkpoint(self) -> str:
        return self.checkpoint().sign(self.signer) + "".join(self.cosignature_lines)

    def get_inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        if tree_size > self.tree.size:
            raise TransportError("tree size beyond the log")
        return merkle.inclusion_proof(self.tree, index, tree_size)

    def get_consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        if size2 > self.tree.size:
            raise TransportError("tree size beyond the log")
        return merkle.consistency_proof(self.tree, size1, size2)

    def close(self) -> None:
        pass


class _TileTransport:
    """Checkpoint and proofs from a tlog-tiles layout reached through ``_fetch(path)``."""

    def __init__(self) -> None:
        self.tiles = TileReader(self._fetch)

    def _fetch(self, path: str) -> bytes:  # pragma: no cover - overridden
        raise NotImplementedError

    def get_checkpoint(self) -> str:
        try:
            return self._fetch(CHECKPOINT_PATH).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TransportError(f"checkpoint is not UTF-8: {exc}") from exc

    def get_inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return self.tiles.inclusion_proof(index, tree_size)

    def get_consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return self.tiles.consistency_proof(size1, size2)

    def close(self) -> None:
        pass


class HTTPTransport(_TileTransport):
    """A log served over HTTP(S) in the C2SP tlog-tiles layout under ``base_url`` (httpx).

    Any network failure or unexpected HTTP status is a :class:`TransportError` (a missing checkpoint a
    :class:`NoCheckpointError`), never a verification failure. Pass ``client=httpx.Client(...)`` to share a
    connection pool or to inject a transport.
    """

    def __init__(self, base_url: str, *, client: Any = None, timeout: float = 10.0) -> None:
        import httpx  # lazy: only the HTTP transport needs it

        super().__init__()
        self._httpx = httpx
        self._own = client is None
        self._client = client or httpx.Client(timeout=timeout, headers={"Accept-Encoding": "gzip, identity"})
        self.base_url = base_url.rstrip("/")

    def _fetch(self, path: str) -> bytes:
        url = f"{self.base_url}/{path}"
        try:
            r = self._client.get(url)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"GET {url} failed: {exc}") from exc
        except OSError as exc:
            raise TransportError(f"GET {url} failed: {exc}") from exc
        if r.status_code == 404 and path == CHECKPOINT_PATH:
            raise NoCheckpointError(f"{url} serves no checkpoint (HTTP 404)")
        if r.status_code != 200:
            raise TransportError(f"GET {url} returned HTTP {r.status_code}")
        return bytes(r.content)

    def submit_cosignature(self, lines: str) -> str:
        """POST cosignature lines to the log (``<base_url>/cosignature``); returns the log's answer."""
        url = f"{self.base_url}/{COSIGNATURE_PATH}"
        try:
            r = self._client.post(url, content=lines.encode("utf-8"),
                                  headers={"Content-Type": "text/plain; charset=utf-8"})
        except (self._httpx.HTTPError, OSError) as exc:
            raise TransportError(f"POST {url} failed: {exc}") from exc
        if r.status_code != 200:
            raise TransportError(f"POST {url} returned HTTP {r.status_code}: {r.text[:200].strip()}")
        return str(r.text).strip()

    def close(self) -> None:
        if self._own:
            self._client.close()


class TileDirectoryTransport(_TileTransport):
    """A tlog-tiles layout on disk (e.g. written by :func:`ledger_client.tiles.export` or mirrored)."""

    def __init__(self, path: Path | str) -> None:
        super().__init__()
        self.path = Path(path)

    def _fetch(self, path: str) -> bytes:
        target = self.path / path
        try:
            return target.read_bytes()
        except FileNotFoundError as exc:
            if path == CHECKPOINT_PATH:
                raise NoCheckpointError(f"no checkpoint in {self.path}") from exc
            raise TransportError(f"{target} is missing") from exc
        except OSError as exc:
            raise TransportError(f"cannot read {target}: {exc}") from exc


# ---------------------------------------------------------------- trust state

class TrustStore(Protocol):
    def load(self) -> Checkpoint | None: ...

    def save(self, cp: Checkpoint) -> None: ...


class MemoryTrustStore:
    def __init__(self) -> None:
        self._cp: Checkpoint | None = None

    def load(self) -> Checkpoint | None:
        return self._cp

    def save(self, cp: Checkpoint) -> None:
        self._cp = cp


class FileTrustStore:
    """Remembers the last verified checkpoint in a small JSON file (kept apart from the log)."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)

    @classmethod
    def for_key(cls, directory: Path | str, verifier: Verifier) -> FileTrustStore:
        """One store per trusted log key inside ``directory``."""
        tag = hashlib.sha256(verifier.to_string().encode()).hexdigest()[:16]
        return cls(Path(directory) / f"last_checkpoint-{tag}.json")

    def load(self) -> Checkpoint | None:
        if not self.path.exists():
            return None
        try:
            d = json.loads(self.path.read_text())
            return Checkpoint(d["origin"], int(d["size"]), base64.b64decode(d["root"]))
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise LedgerError(f"trust store {self.path} is corrupt: {exc}") from exc

    def save(self, cp: Checkpoint) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"origin": cp.origin, "size": cp.size,
                                   "root": base64.b64encode(cp.root_hash).decode()}))
        os.replace(tmp, self.path)


# ---------------------------------------------------------------- client

@dataclass(frozen=True)
class InclusionResult:
    event_hash: str
    index: int
    ok: bool
    reason: str = ""


def check_extension(prev: Checkpoint, cp: Checkpoint, transport: Transport) -> None:
    """Raise :class:`ConsistencyError` unless ``cp`` extends ``prev`` (same origin, append-only)."""
    if prev.origin != cp.origin:
        raise ConsistencyError(f"checkpoint origin changed from {prev.origin!r} to {cp.origin!r}")
    if cp.size < prev.size:
        raise ConsistencyError(f"log shrank from {prev.size} to {cp.size} entries: history was truncated")
    if cp.size == prev.size:
        if cp.root_hash != prev.root_hash:
            raise SplitViewError(
                f"split view: two checkpoints of size {cp.size} with different roots "
                f"({base64.b64encode(prev.root_hash).decode()} seen before, "
                f"{base64.b64encode(cp.root_hash).decode()} now)")
        return
    proof = transport.get_consistency_proof(prev.size, cp.size)  # TransportError: cannot check (not a failure)
    try:
        merkle.verify_consistency(prev.size, cp.size, proof, prev.root_hash, cp.root_hash)
    except VerificationError as exc:
        raise ConsistencyError(
            f"checkpoint of size {cp.size} is not an append-only extension of the one of size {prev.size} "
            f"seen before (history rewritten?): {exc}") from exc


class LedgerClient:
    """Verifies a log through a transport against a pinned Ed25519 key (and, optionally, witnesses)."""

    def __init__(self, transport: Transport, verifier: Verifier | str, *, origin: str | None = None,
                 trust: TrustStore | None = None, witnesses: Sequence[WitnessVerifier | str] = (),
                 min_witnesses: int = 0) -> None:
        self.transport = transport
        self.verifier = Verifier.from_string(verifier) if isinstance(verifier, str) else verifier
        self.origin = origin
        self.trust = trust or MemoryTrustStore()
        self.witnesses = [WitnessVerifier.from_string(w) if isinstance(w, str) else w for w in witnesses]
        self.min_witnesses = int(min_witnesses)
        self.cosigners: list[Cosignature] = []
        self._lock = threading.Lock()

    def __enter__(self) -> LedgerClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.transport.close()

    @property
    def last_checkpoint(self) -> Checkpoint | None:
        return self.trust.load()

    def refresh(self) -> Checkpoint:
        """Fetch the latest checkpoint and verify its signature, its witness cosignatures and its
        consistency with the last checkpoint seen."""
        with self._lock:
            note = self.transport.get_checkpoint()
            cp = verify_checkpoint(note, self.verifier, self.origin)
            if self.min_witnesses > 0:
                self.cosigners = require_cosignatures(note, self.witnesses, self.min_witnesses)
            else:
                self.cosigners = cosignatures(note, self.witnesses)
            prev = self.trust.load()
            if prev is not None:
                check_extension(prev, cp, self.transport)
            if prev is None or cp.size > prev.size:
                self.trust.save(cp)
            return cp

    def verify_inclusion(self, event_hash: str | bytes, index: int, checkpoint: Checkpoint | None = None) -> None:
        """Raise :class:`VerificationError` unless the event hash is leaf ``index`` of the checkpoint's tree.

        A proof that cannot be fetched raises :class:`TransportError` (not a verification failure).
        """
        cp = checkpoint or self.refresh()
        digest = hash_digest(event_hash) if isinstance(event_hash, str) else event_hash
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < cp.size:
            raise VerificationError(f"leaf index {index!r} is outside the checkpoint (size {cp.size})")
        proof = self.transport.get_inclusion_proof(index, cp.size)
        merkle.verify_inclusion(merkle.leaf_hash(digest), index, cp.size, proof, cp.root_hash)

    def verify_many(self, items: Sequence[tuple[str, int]], checkpoint: Checkpoint | None = None
                    ) -> list[InclusionResult]:
        """Inclusion of several (event hash, index) pairs under one checkpoint; never raises per item."""
        cp = checkpoint or self.refresh()
        out = []
        for h, i in items:
            try:
                self.verify_inclusion(h, i, cp)
                out.append(InclusionResult(h, i, True))
            except LedgerError as exc:
                out.append(InclusionResult(h, i, False, str(exc)))
        return out


__all__ = [
    "FileTrustStore",
    "HTTPTransport",
    "InclusionResult",
    "LedgerClient",
    "LocalTransport",
    "MemoryTransport",
    "MemoryTrustStore",
    "TileDirectoryTransport",
    "Transport",
    "TrustStore",
    "check_extension",
]
