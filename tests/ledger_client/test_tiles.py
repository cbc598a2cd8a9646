"""The Merkle log in the C2SP tlog-tiles layout: paths, tile contents, serving, exporting, proofs from tiles."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ledger_client import TransportError, merkle, tiles
from ledger_client.client import LedgerClient, TileDirectoryTransport
from ledger_client.log import MerkleLog


def _digests(n: int, salt: str = "") -> list[bytes]:
    return [hashlib.sha256(f"{salt}{i}".encode()).digest() for i in range(n)]


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> tuple[MerkleLog, merkle.MemoryTree]:
    """70,000 leaves: tiles at levels 0, 1 and 2, partial ones at each."""
    digests = _digests(70_000)
    log = MerkleLog(tmp_path_factory.mktemp("tiles") / "ledger")
    log.append_digests(digests)
    return log, merkle.MemoryTree([merkle.leaf_hash(d) for d in digests])


@pytest.mark.parametrize(("index", "encoded"), [
    (0, "000"), (7, "007"), (999, "999"), (1000, "x001/000"), (1234067, "x001/x234/067"),
    (1_000_000_000, "x001/x000/x000/000"),
])
def test_tile_index_encoding(index: int, encoded: str) -> None:
    assert tiles.encode_index(index) == encoded
    assert tiles.parse_tile_path(f"tile/3/{encoded}") == tiles.TileRef(3, index, 256)


def test_tile_paths_round_trip_and_reject_non_canonical_names() -> None:
    assert tiles.tile_path(0, 1234067, 17) == "tile/0/x001/x234/067.p/17"
    assert tiles.parse_tile_path("tile/0/x001/x234/067.p/17") == tiles.TileRef(0, 1234067, 17)
    for bad in ("tile/0/1", "tile/00/001", "tile/64/000", "tile/0/001.p/0", "tile/0/001.p/256",
                "tile/0/001.p/017", "tile/0/x000/001", "tile/0/001/", "tile/entries/000", "../checkpoint",
                "tile/-1/000", "tile/1/x1/000"):
        assert tiles.parse_tile_path(bad) is None, bad


def test_tiles_of_a_tree_follow_the_spec_examples() -> None:
    refs = list(tiles.tiles_for_size(70_000))
    by_level = {lv: [r for r in refs if r.level == lv] for lv in (0, 1, 2)}
    assert len([r for r in by_level[0] if r.width == 256]) == 273 and by_level[0][-1] == tiles.TileRef(0, 273, 112)
    assert by_level[1] == [tiles.TileRef(1, 0, 256), tiles.TileRef(1, 1, 17)]
    assert by_level[2] == [tiles.TileRef(2, 0, 1)]
    assert list(tiles.tiles_for_size(256)) == [tiles.TileRef(0, 0, 256), tiles.TileRef(1, 0, 1)]
    assert list(tiles.tiles_for_size(0)) == []


def test_tile_contents_are_merkle_tree_hashes(big: tuple[MerkleLog, merkle.MemoryTree]) -> None:
    log, ref = big
    level0 = tiles.read_tile(log, tiles.TileRef(0, 273, 112))
    assert level0 == b"".join(ref.node(0, 273 * 256 + i) for i in range(112))
    level1 = tiles.read_tile(log, tiles.TileRef(1, 1, 17))
    # each level-1 entry is the MTH of one full level-0 tile (256 leaves, tree level 8)
    assert level1[:32] == merkle.subtree_hash(ref, 256 * 256, 256 * 256 + 256)
    assert level1 == b"".join(ref.node(8, 256 + i) for i in range(17))
    assert tiles.read_tile(log, tiles.TileRef(2, 0, 1)) == merkle.subtree_hash(ref, 0, 65536)


def test_serve_answers_with_the_right_bodies_and_caching_headers(big: tuple[MerkleLog, merkle.MemoryTree]) -> None:
    log, _ = big
    cp = tiles.serve(log, "checkpoint")
    assert cp.status == 200 and cp.headers["Content-Type"].startswith("text/plain")
    assert "no-cache" in cp.headers["Cache-Control"] and cp.text.startswith(f"{log.origin}\n70000\n")
    t = tiles.serve(log, "/tile/1/001.p/17")
    assert t.status == 200 and len(t.body) == 17 * 32 and "immutable" in t.headers["Cache-Control"]
    assert t.headers["Content-Type"] == "application/octet-stream"
    assert tiles.serve(log, "tile/0/273.p/100").body == tiles.read_tile(log, tiles.TileRef(0, 273, 100))
    for missing in ("tile/0/273", "tile/0/274.p/1", "tile/1/001", "tile/3/000.p/1", "tile/0/x000/001",
                    "tile/entries/000", "nope"):
        assert tiles.serve(log, missing).status == 404, missing


@pytest.mark.parametrize("size", [1, 2, 255, 256, 257, 511, 65_535, 65_536, 65_537, 70_000])
def test_proofs_rebuilt_from_tiles_equal_the_logs(big: tuple[MerkleLog, merkle.MemoryTree], size: int) -> None:
    log, ref = big
    fetched: list[str] = []

    def fetch(path: str) -> bytes:
        fetched.append(path)
        r = tiles.serve(log, path)
        if r.status != 200:
            raise TransportError(f"{path}: {r.status}")
        return r.body

    reader = tiles.TileReader(fetch)
    root = merkle.root(ref, size)
    for index in {0, size // 3, size - 1}:
        proof = reader.inclusion_proof(index, size)
        assert proof == merkle.inclusion_proof(ref, index, size)
        merkle.verify_inclusion(ref.node(0, index), index, size, proof, root)
    for old in {0, 1, size // 2, size - 1, size}:
        proof = reader.consistency_proof(old, size)
        assert proof == merkle.consistency_proof(ref, old, size)
        merkle.verify_consistency(old, size, proof, merkle.root(ref, old), root)
    # every tile asked for exists at this size (partial ones only with the width the size implies)
    assert all(p in {tiles.tile_path(r.level, r.index, r.width) for r in tiles.tiles_for_size(size)} for p in fetched)
    assert len(set(fetched)) == len(fetched)  # cached


def test_tile_of_the_wrong_length_is_a_transport_error() -> None:
    reader = tiles.TileReader(lambda path: b"\x00" * 31)
    with pytest.raises(TransportError, match="not 256"):
        reader.inclusion_proof(0, 8)


def test_export_writes_the_layout_and_a_client_verifies_from_the_folder(tmp_path: Path) -> None:
    log = MerkleLog(tmp_path / "ledger")
    digests = _digests(300)
    log.append_digests(digests[:260])
    out = tmp_path / "public"
    assert tiles.export(log, out) == 3
    names = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert names == ["checkpoint", "tile/0/000", "tile/0/001.p/4", "tile/1/000.p/1"]
    assert tiles.export(log, out) == 0  # nothing new to write
    client = LedgerClient(TileDirectoryTransport(out), log.verifier)
    cp = client.refresh()
    assert cp.size == 260
    client.verify_inclusion(f"ni:///sha-256;{digests[257].hex()}?ver=CBV2.0", 257, cp)
    log.append_digests(digests[260:])
    tiles.export(log, out)
    assert (out / "tile/0/001.p/4").exists() and (out / "tile/0/001.p/44").exists()
    assert client.refresh().size == 300  # consistency 260 -> 300 checked from the folder's tiles
