"""An append-only RFC 9162 Merkle log kept on local disk.

Layout of the log directory::

    levels/00.bin   leaf hashes, 32 bytes each (level 0)
    levels/KK.bin   hashes of every complete aligned subtree of 2^KK leaves
    checkpoint      the latest signed checkpoint (C2SP signed note)
    signer.key      the log's Ed25519 signing key (created on first use, mode 0600)
    verifier.pub    the matching verifier key string, to be pinned by clients
    lock            advisory lock taken by the append path

Every complete subtree hash is stored once, so the root of any prefix and any inclusion or
consistency proof needs only O(log² n) 32-byte reads; a log of 1,000,000 entries takes ~64 MB.
Only :meth:`MerkleLog.append` writes; readers open the files read-only.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from ledger_client import merkle
from ledger_client.checkpoint import Checkpoint, Signer, Verifier, verify_checkpoint
from ledger_client.errors import LogError

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

    def checkpoint_note(self) -> str:
        p = self.path / "checkpoint"
        if not p.exists():
            raise LogError("the log has no checkpoint yet")
        return p.read_text(encoding="utf-8")

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
