"""RFC 9162 vectors, proof generation round trips and the no-other-exception contract."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest

from ledger_client import VerificationError, merkle
from ledger_client.log import MerkleLog
from tests.conftest import SHARED

VECTORS = SHARED / "testdata" / "merkle"


def _b(s):
    return None if s is None else base64.b64decode(s)


def _files(kind: str) -> list[Path]:
    files = sorted((VECTORS / kind).rglob("*.json"))
    assert files, f"no {kind} vectors found under {VECTORS}"
    return files


@pytest.mark.parametrize("path", _files("inclusion"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_inclusion_vectors(path: Path) -> None:
    d = json.loads(path.read_text())
    args = (_b(d["leafHash"]), d["leafIdx"], d["treeSize"], [_b(p) for p in (d["proof"] or [])], _b(d["root"]))
    if d["wantErr"]:
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(*args)
    else:
        assert merkle.verify_inclusion(*args) is None


@pytest.mark.parametrize("path", _files("consistency"), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_consistency_vectors(path: Path) -> None:
    d = json.loads(path.read_text())
    proof = None if d["proof"] is None else [_b(p) for p in d["proof"]]
    args = (d["size1"], d["size2"], proof, _b(d["root1"]), _b(d["root2"]))
    if d["wantErr"]:
        with pytest.raises(VerificationError):
            merkle.verify_consistency(*args)
    else:
        assert merkle.verify_consistency(*args) is None


def test_vector_counts() -> None:
    assert len(_files("inclusion")) == 62
    assert len(_files("consistency")) == 43


GOOD = hashlib.sha256(b"x").digest()


@pytest.mark.parametrize("args", [
    (None, 0, 1, [], GOOD), ("abc", 0, 1, [], GOOD), (GOOD, -1, 1, [], GOOD), (GOOD, 0, -5, [], GOOD),
    (GOOD, True, 2, [GOOD], GOOD), (GOOD, 0, 2, "notalist", GOOD), (GOOD, 0, 2, [123], GOOD),
    (GOOD, 0, 2, [GOOD[:5]], GOOD), (GOOD, 0, 1, [], None), (GOOD, 1.5, 2, [GOOD], GOOD),
    (GOOD, 0, 2**70, [GOOD] * 200, GOOD), (GOOD, 0, 2, object(), GOOD),
])
def test_inclusion_malformed_input_raises_only_verification_error(args) -> None:
    with pytest.raises(VerificationError):
        merkle.verify_inclusion(*args)


@pytest.mark.parametrize("args", [
    (1, 0, [], GOOD, GOOD), ("1", 2, [GOOD], GOOD, GOOD), (1, 2, [b""], GOOD, GOOD), (1, 2, None, GOOD, GOOD),
    (-1, 2, [GOOD], GOOD, GOOD), (1, 2, [GOOD], None, GOOD), (3, 7, {"a": 1}, GOOD, GOOD),
    (0, 4, [GOOD], GOOD, GOOD), (2, 2, [GOOD], GOOD, GOOD), (2, 2, [], GOOD, b"\x00" * 32),
])
def test_consistency_malformed_input_raises_only_verification_error(args) -> None:
    with pytest.raises(VerificationError):
        merkle.verify_consistency(*args)


@pytest.mark.parametrize("root", [GOOD, b"", b"\x01", b"\x02" * 31, b"\x03" * 33, b"\x04" * 64,
                                  bytearray(b"\x05" * 48)])
@pytest.mark.parametrize("size", [0, 1, 7, 2**40])
def test_equal_sizes_with_empty_proof_are_consistent_when_roots_are_equal_whatever_their_length(
        size: int, root: bytes) -> None:
    assert merkle.verify_consistency(size, size, [], root, bytes(root)) is None
    assert merkle.verify_consistency(size, size, None, root, bytes(root)) is None
    with pytest.raises(VerificationError, match="different roots"):
        merkle.verify_consistency(size, size, [], root, bytes(root) + b"\x00")
    with pytest.raises(VerificationError, match="must be empty"):
        merkle.verify_consistency(size, size, [GOOD], root, root)
    with pytest.raises(VerificationError):
        merkle.verify_consistency(size, size, [], root, None)


def test_generated_proofs_round_trip_and_reject_neighbours() -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(37)]
    tree = merkle.MemoryTree(leaves)
    for n in range(1, 38):
        root = merkle.root(tree, n)
        assert root == merkle.root_from_leaf_hashes(leaves[:n])
        for i in range(n):
            proof = merkle.inclusion_proof(tree, i, n)
            merkle.verify_inclusion(leaves[i], i, n, proof, root)
            if n > 1:
                with pytest.raises(VerificationError):
                    merkle.verify_inclusion(leaves[(i + 1) % n], i, n, proof, root)
        for m in range(n + 1):
            merkle.verify_consistency(m, n, merkle.consistency_proof(tree, m, n), merkle.root(tree, m), root)


def test_disk_log_matches_memory_tree_and_survives_reopen(tmp_path: Path) -> None:
    digests = [hashlib.sha256(str(i).encode()).digest() for i in range(1000)]
    ref = merkle.MemoryTree([merkle.leaf_hash(d) for d in digests])
    log = MerkleLog(tmp_path / "ledger")
    for start in range(0, 1000, 137):  # uneven batches exercise the carry across batches
        assert list(log.append_digests(digests[start:start + 137])) == list(range(start, min(1000, start + 137)))
    log.close()
    log = MerkleLog(tmp_path / "ledger")
    assert log.size == 1000
    for n in (1, 2, 3, 64, 513, 999, 1000):
        assert log.root(n) == merkle.root(ref, n)
        assert log.inclusion_proof(n - 1, n) == merkle.inclusion_proof(ref, n - 1, n)
        assert log.consistency_proof(n // 2, n) == merkle.consistency_proof(ref, n // 2, n)
    cp = log.checkpoint()
    assert (cp.size, cp.root_hash) == (1000, merkle.root(ref, 1000))
    # 1000 leaves: 32 KB of leaf hashes plus about as much again for the cached subtrees.
    total = sum(p.stat().st_size for p in (tmp_path / "ledger" / "levels").iterdir())
    assert total == 32 * sum(1000 >> k for k in range(10))


def test_interrupted_append_is_repaired(tmp_path: Path) -> None:
    log = MerkleLog(tmp_path / "l")
    log.append_digests(hashlib.sha256(bytes([i])).digest() for i in range(10))
    # simulate a crash after level 0 was written but before the upper levels
    (tmp_path / "l" / "levels" / "01.bin").write_bytes(b"")
    log.append_digests([hashlib.sha256(b"z").digest()])
    ref = merkle.MemoryTree([merkle.leaf_hash(hashlib.sha256(bytes([i])).digest()) for i in range(10)]
                            + [merkle.leaf_hash(hashlib.sha256(b"z").digest())])
    assert log.root() == merkle.root(ref, 11)
