"""RFC 9162 Merkle tree hashing, inclusion and consistency proofs.

Leaves are hashed as ``SHA-256(0x00 || data)``, interior nodes as ``SHA-256(0x01 || left || right)``
and the empty tree as ``SHA-256("")`` (RFC 9162 section 2.1.1).

The verifiers take bytes and ints and return ``None`` or raise :class:`VerificationError`; malformed
input of any kind (wrong types, wrong lengths, negative sizes, ``None`` proofs...) is reported as a
:class:`VerificationError` too, never as another exception.

Proof *generation* works against any :class:`NodeSource`: an object that can hand back the hash of
an aligned complete subtree (``level``, ``index``) of a tree with at least ``tree_size`` leaves. The
on-disk log (``ledger_client.log``) keeps every such subtree hash, so a proof for a tree of a million
leaves needs O(log² n) look-ups and no rehashing of leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any, Protocol

from ledger_client.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash of ``data``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _largest_pow2_below(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """Merkle tree hash of a list of leaf hashes (reference implementation, O(n))."""
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    # Iterative bottom-up build that matches the RFC's recursive split (left subtree = largest pow2).
    level = list(hashes)
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# ---------------------------------------------------------------- input checks

def _check_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise VerificationError(f"{what} must be bytes, got {type(value).__name__}")
    return bytes(value)


def _check_hash(value: Any, what: str) -> bytes:
    value = _check_bytes(value, what)
    if len(value) != HASH_SIZE:
        raise VerificationError(f"{what} must be {HASH_SIZE} bytes, got {len(value)}")
    return value


def _check_size(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise VerificationError(f"{what} must be an int, got {type(value).__name__}")
    if value < 0:
        raise VerificationError(f"{what} must not be negative")
    return value


def _check_proof(proof: Any) -> list[bytes]:
    if proof is None:
        return []
    if isinstance(proof, (bytes, bytearray, str)) or not isinstance(proof, Sequence):
        raise VerificationError("proof must be a sequence of 32-byte hashes")
    if len(proof) > 128:
        raise VerificationError("proof is longer than any tree of 2^64 leaves needs")
    return [_check_hash(p, f"proof[{i}]") for i, p in enumerate(proof)]


# ---------------------------------------------------------------- verification

def root_from_inclusion_proof(leaf: bytes, index: int, tree_size: int, proof: Sequence[bytes]) -> bytes:
    """Root implied by an inclusion proof (RFC 9162 section 2.1.3.2); raises on malformed proofs."""
    if index >= tree_size:
        raise VerificationError(f"leaf index {index} is outside a tree of size {tree_size}")
    fn, sn, r = index, tree_size - 1, leaf
    for p in proof:
        if sn == 0:
            raise VerificationError("inclusion proof is longer than the tree height")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is shorter than the tree height")
    return r


def verify_inclusion(leaf_hash: Any, index: Any, tree_size: Any, proof: Any, root: Any) -> None:
    """Check that ``leaf_hash`` sits at ``index`` of the tree of ``tree_size`` leaves with ``root``."""
    try:
        leaf = _check_hash(leaf_hash, "leaf hash")
        idx = _check_size(index, "leaf index")
        size = _check_size(tree_size, "tree size")
        path = _check_proof(proof)
        want = _check_hash(root, "root")
        got = root_from_inclusion_proof(leaf, idx, size, path)
        if got != want:
            raise VerificationError("inclusion proof does not lead to the given root")
    except VerificationError:
        raise
    except Exception as exc:  # defensive: the contract allows no other exception type
        raise VerificationError(f"malformed inclusion proof input: {exc}") from exc


def verify_consistency(size1: Any, size2: Any, proof: Any, root1: Any, root2: Any) -> None:
    """Check that the tree (size2, root2) is an append-only extension of (size1, root1)."""
    try:
        n1 = _check_size(size1, "size1")
        n2 = _check_size(size2, "size2")
        path = _check_proof(proof)
        if n1 == n2:
            # As the reference verifier does, before looking at anything else: equal sizes need an empty
            # proof and are consistent exactly when the two roots are equal, whatever their length.
            if path:
                raise VerificationError("a proof between equal sizes must be empty")
            if _check_bytes(root1, "root1") != _check_bytes(root2, "root2"):
                raise VerificationError("equal sizes with different roots")
            return
        r1 = _check_hash(root1, "root1")
        r2 = _check_hash(root2, "root2")
        _verify_consistency(n1, n2, path, r1, r2)
    except VerificationError:
        raise
    except Exception as exc:  # defensive
        raise VerificationError(f"malformed consistency proof input: {exc}") from exc


def _verify_consistency(n1: int, n2: int, path: list[bytes], r1: bytes, r2: bytes) -> None:
    if n1 > n2:
        raise VerificationError(f"size1 {n1} is larger than size2 {n2}")
    if n1 == n2:
        if path:
            raise VerificationError("a proof between equal sizes must be empty")
        if r1 != r2:
            raise VerificationError("equal sizes with different roots")
        return
    if n1 == 0:
        if path:
            raise VerificationError("a proof from the empty tree must be empty")
        if r1 != EMPTY_ROOT:
            raise VerificationError("root1 is not the empty-tree root")
        return
    if not path:
        raise VerificationError("empty consistency proof")
    if n1 & (n1 - 1) == 0:  # exact power of two: the old root is itself a node of the path
        path = [r1, *path]
    fn, sn = n1 - 1, n2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != r1:
        raise VerificationError("consistency proof does not lead to root1")
    if sr != r2:
        raise VerificationError("consistency proof does not lead to root2")


# ---------------------------------------------------------------- generation

class NodeSource(Protocol):
    """Gives the hash of the complete aligned subtree covering leaves [index*2^level, (index+1)*2^level)."""

    def node(self, level: int, index: int) -> bytes: ...


def subtree_hash(src: NodeSource, start: int, end: int) -> bytes:
    """MTH(D[start:end]) where ``start`` is aligned to the largest power of two <= end-start."""
    n = end - start
    if n <= 0:
        return EMPTY_ROOT
    if n & (n - 1) == 0:
        level = n.bit_length() - 1
        return src.node(level, start >> level)
    k = _largest_pow2_below(n)
    return node_hash(subtree_hash(src, start, start + k), subtree_hash(src, start + k, end))


def root(src: NodeSource, tree_size: int) -> bytes:
    """Root of the first ``tree_size`` leaves."""
    return subtree_hash(src, 0, tree_size)


def inclusion_proof(src: NodeSource, index: int, tree_size: int) -> list[bytes]:
    """RFC 9162 PATH(index, D[0:tree_size]) as a list of hashes, leaf side first."""
    if not 0 <= index < tree_size:
        raise ValueError(f"leaf index {index} outside tree of size {tree_size}")
    out: list[bytes] = []
    start, end, m = 0, tree_size, index
    # Walk down from the root, collecting siblings; reverse at the end (proof is bottom-up).
    while end - start > 1:
        k = _largest_pow2_below(end - start)
        if m < k:
            out.append(subtree_hash(src, start + k, end))
            end = start + k
        else:
            out.append(subtree_hash(src, start, start + k))
            start, m = start + k, m - k
    out.reverse()
    return out


def consistency_proof(src: NodeSource, size1: int, size2: int) -> list[bytes]:
    """RFC 9162 PROOF(size1, D[0:size2])."""
    if not 0 <= size1 <= size2:
        raise ValueError(f"bad sizes {size1}, {size2}")
    if size1 == 0 or size1 == size2:
        return []
    out: list[bytes] = []
    start, end, m, complete = 0, size2, size1, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                out.append(subtree_hash(src, start, end))
            break
        k = _largest_pow2_below(n)
        if m <= k:
            out.append(subtree_hash(src, start + k, end))
            end = start + k
        else:
            out.append(subtree_hash(src, start, start + k))
            start, m, complete = start + k, m - k, False
    out.reverse()
    return out


class MemoryTree:
    """A small in-memory tree of leaf hashes that caches every complete subtree (tests, HTTP fakes)."""

    def __init__(self, leaves: Sequence[bytes] = ()) -> None:
        self._levels: list[list[bytes]] = [[]]
        for h in leaves:
            self.append(h)

    @property
    def size(self) -> int:
        return len(self._levels[0])

    def append(self, leaf: bytes) -> int:
        idx = len(self._levels[0])
        self._levels[0].append(leaf)
        level, i, h = 0, idx, leaf
        while i & 1:
            left = self._levels[level][i - 1]
            h = node_hash(left, h)
            level += 1
            i >>= 1
            if len(self._levels) <= level:
                self._levels.append([])
            self._levels[level].append(h)
        return idx

    def node(self, level: int, index: int) -> bytes:
        return self._levels[level][index]

    def truncate(self, size: int) -> None:
        """Drop leaves after ``size`` (used by tests that simulate a rewritten history)."""
        leaves = self._levels[0][:size]
        self._levels = [[]]
        for h in leaves:
            self.append(h)


__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeSource",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_from_inclusion_proof",
    "root_from_leaf_hashes",
    "subtree_hash",
    "verify_consistency",
    "verify_inclusion",
]
