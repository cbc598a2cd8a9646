"""The ledger client: fetch signed checkpoints and proofs through an injectable transport and verify them.

    with LedgerClient(LocalTransport(data_dir / "ledger"), verifier) as client:
        cp = client.refresh()                       # signature + consistency with what we saw before
        client.verify_inclusion(event_hash, index)  # raises VerificationError if not included

Transports: :class:`LocalTransport` (a log directory on disk), :class:`HTTPTransport` (httpx, a remote
log speaking the small protocol of :func:`handle_request`), :class:`MemoryTransport` (tests).
The client remembers the last checkpoint it verified (in memory or in a :class:`FileTrustStore`); a
later checkpoint that is smaller or not consistent with it raises :class:`ConsistencyError`.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from ledger_client import merkle
from ledger_client.checkpoint import Checkpoint, Signer, Verifier, verify_checkpoint
from ledger_client.epcis import hash_digest
from ledger_client.errors import (
    ConsistencyError,
    LedgerError,
    LogError,
    TransportError,
    VerificationError,
)
from ledger_client.log import MerkleLog


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
        except LogError as exc:
            raise TransportError(str(exc)) from exc

    def get_checkpoint(self) -> str:
        try:
            return self.log.checkpoint_note()
        except (LogError, OSError) as exc:
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

    def append(self, digest: bytes) -> int:
        return self.tree.append(merkle.leaf_hash(digest))

    def get_checkpoint(self) -> str:
        n = self.tree.size
        return Checkpoint(self.origin, n, merkle.root(self.tree, n)).sign(self.signer)

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


def _b64list(items: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(x).decode() for x in items]


def handle_request(log: MerkleLog, path: str, params: dict[str, str]) -> tuple[int, str, str]:
    """Serve the HTTP log protocol from a local log: returns (status, content type, body).

    ``GET /checkpoint`` → the signed note; ``GET /proof/inclusion?index=I&size=N`` and
    ``GET /proof/consistency?from=M&to=N`` → ``{"proof": [base64...]}``.
    """
    try:
        if path.rstrip("/").endswith("/checkpoint") or path == "checkpoint":
            return 200, "text/plain; charset=utf-8", log.checkpoint_note()
        if path.rstrip("/").endswith("/proof/inclusion"):
            proof = log.inclusion_proof(int(params["index"]), int(params["size"]))
            return 200, "application/json", json.dumps({"proof": _b64list(proof)})
        if path.rstrip("/").endswith("/proof/consistency"):
            proof = log.consistency_proof(int(params["from"]), int(params["to"]))
            return 200, "application/json", json.dumps({"proof": _b64list(proof)})
    except (KeyError, ValueError, LogError) as exc:
        return 400, "text/plain", f"bad request: {exc}"
    return 404, "text/plain", "not found"


class HTTPTransport:
    """A remote log over HTTP (httpx). Pass ``client=httpx.Client(transport=httpx.MockTransport(...))``
    to test without a network."""

    def __init__(self, base_url: str, *, client: Any = None, timeout: float = 10.0) -> None:
        import httpx  # lazy: only the HTTP transport needs it

        self._httpx = httpx
        self._own = client is None
        self._client = client or httpx.Client(timeout=timeout)
        self.base_url = base_url.rstrip("/")

    def _get(self, path: str, params: dict[str, int] | None = None) -> Any:
        try:
            r = self._client.get(self.base_url + path, params=params)
        except self._httpx.HTTPError as exc:
            raise TransportError(f"GET {path} failed: {exc}") from exc
        if r.status_code != 200:
            raise TransportError(f"GET {path} returned HTTP {r.status_code}: {r.text[:200]}")
        return r

    def _proof(self, path: str, params: dict[str, int]) -> list[bytes]:
        r = self._get(path, params)
        try:
            return [base64.b64decode(x, validate=True) for x in r.json()["proof"]]
        except (ValueError, KeyError, TypeError, binascii.Error) as exc:
            raise TransportError(f"malformed proof from {path}: {exc}") from exc

    def get_checkpoint(self) -> str:
        return str(self._get("/checkpoint").text)

    def get_inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        return self._proof("/proof/inclusion", {"index": index, "size": tree_size})

    def get_consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        return self._proof("/proof/consistency", {"from": size1, "to": size2})

    def close(self) -> None:
        if self._own:
            self._client.close()


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


class LedgerClient:
    """Verifies a log through a transport against a pinned Ed25519 key."""

    def __init__(self, transport: Transport, verifier: Verifier | str, *, origin: str | None = None,
                 trust: TrustStore | None = None) -> None:
        self.transport = transport
        self.verifier = Verifier.from_string(verifier) if isinstance(verifier, str) else verifier
        self.origin = origin
        self.trust = trust or MemoryTrustStore()
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
        """Fetch the latest checkpoint, verify its signature and its consistency with the last one seen."""
        with self._lock:
            cp = verify_checkpoint(self.transport.get_checkpoint(), self.verifier, self.origin)
            prev = self.trust.load()
            if prev is not None:
                if prev.origin != cp.origin:
                    raise ConsistencyError(f"checkpoint origin changed from {prev.origin!r} to {cp.origin!r}")
                if cp.size < prev.size:
                    raise ConsistencyError(
                        f"log shrank from {prev.size} to {cp.size} entries: history was truncated")
                try:
                    proof = [] if cp.size == prev.size else self.transport.get_consistency_proof(prev.size, cp.size)
                    merkle.verify_consistency(prev.size, cp.size, proof, prev.root_hash, cp.root_hash)
                except (VerificationError, TransportError) as exc:
                    raise ConsistencyError(
                        f"checkpoint of size {cp.size} is not an append-only extension of the one of size "
                        f"{prev.size} seen before (history rewritten?): {exc}") from exc
            if prev is None or cp.size > prev.size:
                self.trust.save(cp)
            return cp

    def verify_inclusion(self, event_hash: str | bytes, index: int, checkpoint: Checkpoint | None = None) -> None:
        """Raise :class:`VerificationError` unless the event hash is leaf ``index`` of the checkpoint's tree."""
        cp = checkpoint or self.refresh()
        digest = hash_digest(event_hash) if isinstance(event_hash, str) else event_hash
        if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < cp.size:
            raise VerificationError(f"leaf index {index!r} is outside the checkpoint (size {cp.size})")
        try:
            proof = self.transport.get_inclusion_proof(index, cp.size)
        except TransportError as exc:
            raise VerificationError(f"no inclusion proof: {exc}") from exc
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
            except (VerificationError, LedgerError) as exc:
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
    "Transport",
    "TrustStore",
    "handle_request",
]
