"""An append-only RFC 9162 Merkle log kept on local disk.

Layout of the log directory::

    levels/00.bin   leaf hashes, 32 bytes each (level 0)
    levels/KK.bin   hashes of every complete aligned subtree of 2^KK leaves
    checkpoint      the latest signed checkpoint (C2SP signed note)
    signer.key      the log's Ed25519 signing key (created on first use, mode 0600)
    verifier.pub    the matching verifier key string, to be pinned by clients
    witnesses       witness keys (cosignature/v1 vkeys, one a line) whose cosignatures the log accepts
    cosignatures.json  cosignature lines collected for the current checkpoint
    lock            advisory lock taken by the append path

Every complete subtree hash is stored once, so the root of any prefix and any inclusion or
consistency proof needs only O(log² n) 32-byte reads; a log of 1,000,000 entries takes ~64 MB.
Only the append and cosignature paths write; readers open the files read-only. The tree levels are
also the C2SP tlog-tiles of the log (a level-L tile is a run of 256 hashes of tree level 8L), so
:mod:`ledger_client.tiles` serves tiles straight from these files.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ledger_client import merkle
from ledger_client.checkpoint import SIG_PREFIX, Checkpoint, Signer, Verifier, parse_note, verify_checkpoint
from ledger_client.cosignature import WitnessVerifier, parse_signature_lines
from ledger_client.errors import CheckpointFormatError, LogError, SignatureError

HASH = merkle.HASH_SIZE
DEFAULT_ORIGIN = "chasqui.pe/traceability/log"


class MerkleLog:
    """Local Merkle log; a :class:`ledger_client.merkle.NodeSource`."""

    def __init__(self, path: Path | str, *, origin: str = DEFAULT_ORIGIN, signer: Signer | None = None,
                 create: bool = True, writable: bool = True) -> None:
        self.path = Path(path)
        self.origin = origin
        self.writable = writable
        self._levels_dir = self.path / "levels"
        if not self._levels_dir.exists():
            if not create:
                raise LogError(f"no Merkle log at {self.path}")
            self.path.mkdir(parents=True, exist_ok=True)
            self._levels_dir.mkdir(exist_ok=True)
        self._fds: dict[int, int] = {}
        self._signer = signer
        if writable:
            self._signer = signer or self._load_or_create_signer()
            if not (self.path / "checkpoint").exists():
                self._write_checkpoint()

    # -------------------------------------------------------------- keys
    def _load_or_create_signer(self) -> Signer:
        kp = self.path / "signer.key"
        if kp.exists():
            signer = Signer.from_string(kp.read_text())
        else:
            signer = Signer.generate(self.origin)
            fd = os.open(kp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(signer.to_string() + "\n")
        (self.path / "verifier.pub").write_text(signer.verifier.to_string() + "\n")
        return signer

    @property
    def verifier(self) -> Verifier:
        if self._signer is not None:
            return self._signer.verifier
        return Verifier.from_string((self.path / "verifier.pub").read_text())

    # -------------------------------------------------------------- storage
    def _level_path(self, level: int) -> Path:
        return self._levels_dir / f"{level:02d}.bin"

    def _fd(self, level: int) -> int:
        fd = self._fds.get(level)
        if fd is None:
            p = self._level_path(level)
            if not p.exists():
                raise LogError(f"missing level {level} of the Merkle log")
            fd = os.open(p, os.O_RDONLY)
            self._fds[level] = fd
        return fd

    def _level_count(self, level: int) -> int:
        p = self._level_path(level)
        return p.stat().st_size // HASH if p.exists() else 0

    @property
    def size(self) -> int:
        return self._level_count(0)

    def node(self, level: int, index: int) -> bytes:
        data = os.pread(self._fd(level), HASH, index * HASH)
        if len(data) != HASH:
            raise LogError(f"node ({level}, {index}) is beyond the end of the log")
        return data

    def node_count(self, level: int) -> int:
        """How many complete subtrees of 2^level leaves the log holds."""
        return self._level_count(level)

    def nodes(self, level: int, start: int, count: int) -> bytes:
        """``count`` consecutive node hashes of one level, concatenated (one read)."""
        if count <= 0:
            return b""
        data = os.pread(self._fd(level), count * HASH, start * HASH)
        if len(data) != count * HASH:
            raise LogError(f"nodes ({level}, {start}..{start + count - 1}) are beyond the end of the log")
        return data

    def leaf_hash(self, index: int) -> bytes:
        return self.node(0, index)

    def iter_leaf_hashes(self, start: int = 0, chunk: int = 65536) -> Iterator[bytes]:
        with open(self._level_path(0), "rb") as fh:
            fh.seek(start * HASH)
            while buf := fh.read(chunk * HASH):
                for i in range(0, len(buf) - HASH + 1, HASH):
                    yield buf[i:i + HASH]

    def close(self) -> None:
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()

    def __enter__(self) -> MerkleLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -------------------------------------------------------------- reads
    def root(self, tree_size: int | None = None) -> bytes:
        n = self.size if tree_size is None else tree_size
        if n > self.size:
            raise LogError(f"tree size {n} is larger than the log ({self.size})")
        return merkle.root(self, n)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        if tree_size > self.size:
            raise LogError(f"tree size {tree_size} is larger than the log ({self.size})")
        return merkle.inclusion_proof(self, index, tree_size)

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        if size2 > self.size:
            raise LogError(f"tree size {size2} is larger than the log ({self.size})")
        return merkle.consistency_proof(self, size1, size2)

    def signed_checkpoint(self) -> str:
        """The latest checkpoint with the log's own signature only."""
        p = self.path / "checkpoint"
        if not p.exists():
            raise LogError("the log has no checkpoint yet")
        return p.read_text(encoding="utf-8")

    def checkpoint_note(self) -> str:
        """The latest checkpoint with the log's signature and the witness cosignatures collected for it."""
        note = self.signed_checkpoint()
        lines = self._cosignature_lines(note)
        return note + "".join(lines)

    # -------------------------------------------------------------- witnesses
    @property
    def _witnesses_path(self) -> Path:
        return self.path / "witnesses"

    def trusted_witnesses(self) -> list[WitnessVerifier]:
        """Witness keys whose cosignatures this log accepts and serves."""
        p = self._witnesses_path
        if not p.exists():
            return []
        return [WitnessVerifier.from_string(line) for line in p.read_text().splitlines() if line.strip()]

    def add_witness(self, witness: WitnessVerifier | str) -> None:
        """Trust a witness key (idempotent)."""
        w = WitnessVerifier.from_string(witness) if isinstance(witness, str) else witness
        with self._locked():
            known = self.trusted_witnesses()
            if any(k.to_string() == w.to_string() for k in known):
                return
            if any(k.name == w.name for k in known):
                raise LogError(f"another key is already trusted for witness {w.name}")
            with open(self._witnesses_path, "a", encoding="utf-8") as fh:
                fh.write(w.to_string() + "\n")

    @staticmethod
    def _body_digest(note: str) -> str:
        return hashlib.sha256(parse_note(note)[0].encode()).hexdigest()

    def _cosignature_lines(self, note: str) -> list[str]:
        p = self.path / "cosignatures.json"
        if not p.exists():
            return []
        try:
            stored = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(stored, dict) or stored.get("body_sha256") != self._body_digest(note):
            return []  # collected for an older checkpoint
        return [str(x) for x in stored.get("lines", []) if isinstance(x, str)]

    def add_cosignatures(self, text: str) -> list[str]:
        """Keep the cosignature lines in ``text`` that trusted witnesses made on the current checkpoint.

        Returns the names of the witnesses whose cosignature was accepted. Lines from unknown keys are
        ignored; a line that claims a trusted witness key but does not verify raises
        :class:`SignatureError`; cosignatures on another checkpoint raise :class:`LogError` (stale).
        """
        try:
            sigs = parse_signature_lines(text)
        except CheckpointFormatError as exc:
            raise LogError(f"malformed cosignature lines: {exc}") from exc
        with self._locked():
            note = self.signed_checkpoint()
            body = parse_note(note)[0]
            kept = self._current_cosignatures(note)
            accepted: list[str] = []
            witnesses = self.trusted_witnesses()
            for sig in sigs:
                for w in witnesses:
                    if w.matches(sig):
                        try:
                            w.verify(body, sig.signature)
                        except SignatureError as exc:
                            raise SignatureError(f"{exc} on the current checkpoint (size "
                                                 f"{Checkpoint.parse(body).size}); stale or forged") from exc
                        blob = base64.b64encode(sig.key_id + sig.signature).decode()
                        kept[w.name] = f"{SIG_PREFIX}{w.name} {blob}\n"
                        accepted.append(w.name)
            if accepted:
                tmp = self.path / "cosignatures.json.tmp"
                tmp.write_text(json.dumps({"body_sha256": self._body_digest(note),
                                           "lines": [kept[k] for k in sorted(kept)]}), encoding="utf-8")
                os.replace(tmp, self.path / "cosignatures.json")
            return accepted

    def _current_cosignatures(self, note: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for line in self._cosignature_lines(note):
            out[line[len(SIG_PREFIX):].split(" ", 1)[0]] = line
        return out

    def checkpoint(self) -> Checkpoint:
        return verify_checkpoint(self.checkpoint_note(), self.verifier, self.origin)

    # -------------------------------------------------------------- append path
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def append_digests(self, digests: Iterable[bytes]) -> range:
        """Append leaves whose data are the given 32-byte digests; returns their indices."""
        return self.append_leaf_hashes(merkle.leaf_hash(bytes(d)) for d in digests)

    def append_leaf_hashes(self, leaf_hashes: Iterable[bytes]) -> range:
        """Append already-hashed leaves (RFC 9162 leaf hashes); returns the new indices."""
        if not self.writable or self._signer is None:
            raise LogError("this log was opened read-only")
        with self._locked():
            self._repair()
            start = self.size
            new: list[list[bytes]] = [[]]
            for h in leaf_hashes:
                if len(h) != HASH:
                    raise LogError("leaf hashes must be 32 bytes")
                new[0].append(bytes(h))
            if not new[0]:
                return range(start, start)
            level, first = 0, start
            while new[level]:
                items = new[level]
                # Pair up nodes at this level: index first..first+len-1; combine (odd index) with its left
                # sibling, which may already be on disk.
                parents: list[bytes] = []
                idx = first
                if idx & 1:
                    left = self.node(level, idx - 1)
                    parents.append(merkle.node_hash(left, items[0]))
                    i = 1
                else:
                    i = 0
                while i + 1 < len(items):
                    parents.append(merkle.node_hash(items[i], items[i + 1]))
                    i += 2
                self._append_level(level, items)
                new.append(parents)
                level += 1
                first >>= 1
            self._write_checkpoint()
            return range(start, start + len(new[0]))

    def _append_level(self, level: int, items: list[bytes]) -> None:
        with open(self._level_path(level), "ab") as fh:
            fh.write(b"".join(items))
            fh.flush()
            os.fsync(fh.fileno())
        fd = self._fds.pop(level, None)
        if fd is not None:
            os.close(fd)

    def _repair(self) -> None:
        """Make every level consistent with level 0 after an interrupted append."""
        n = self.size
        level = 1
        while (n >> level) > 0 or self._level_path(level).exists():
            want = n >> level
            have = self._level_count(level)
            p = self._level_path(level)
            if have > want:
                with open(p, "r+b") as fh:
                    fh.truncate(want * HASH)
            elif have < want:
                missing = [merkle.node_hash(self.node(level - 1, 2 * i), self.node(level - 1, 2 * i + 1))
                           for i in range(have, want)]
                self._append_level(level, missing)
            if want == 0 and not p.exists():
                break
            level += 1
            if level > 64:
                break

    def _write_checkpoint(self) -> None:
        assert self._signer is not None
        n = self.size
        cp = Checkpoint(self.origin, n, merkle.root(self, n) if n else merkle.EMPTY_ROOT)
        note = cp.sign(self._signer)
        tmp = self.path / "checkpoint.tmp"
        tmp.write_text(note, encoding="utf-8")
        os.replace(tmp, self.path / "checkpoint")


__all__ = ["DEFAULT_ORIGIN", "MerkleLog"]
