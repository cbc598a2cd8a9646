"""The Merkle log in the C2SP tlog-tiles layout (c2sp.org/tlog-tiles): serving, exporting and reading it.

Resources, relative to the log's URL prefix::

    checkpoint                  the signed checkpoint (text/plain; log signature + witness cosignatures)
    tile/<L>/<N>[.p/<W>]        256 (or W < 256, a partial tile) consecutive hashes of tree level 8·L,
                                N written in 3-digit groups, all but the last prefixed "x": x001/x234/067

Leaves are the 32-byte event-hash digests, hashed as RFC 6962/9162 leaves; the log publishes hashes only
(no entry bundles: the events stay with their owners, who prove inclusion of the hashes they hold).

* :func:`serve` answers a GET for one of those paths from a :class:`MerkleLog` (status, headers, body),
  with the caching headers the spec asks for; :func:`accept_cosignatures` answers a witness's POST.
* :func:`export` writes the same files into a directory, for any static web server.
* :class:`TileReader` fetches a checkpoint and tiles through a ``fetch(path) -> bytes`` function and
  rebuilds any inclusion or consistency proof from tiles (:class:`ledger_client.client.HTTPTransport`
  uses it over HTTP).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from ledger_client import merkle
from ledger_client.errors import LedgerError, LogError, SignatureError, TransportError
from ledger_client.log import MerkleLog

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT  # 256 hashes
HASH = merkle.HASH_SIZE
CHECKPOINT_PATH = "checkpoint"
COSIGNATURE_PATH = "cosignature"  # where a witness POSTs its cosignature lines (Chasqui's own addition)

CHECKPOINT_HEADERS = {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-cache, max-age=0",
                      "Access-Control-Allow-Origin": "*"}
TILE_HEADERS = {"Content-Type": "application/octet-stream",
                "Cache-Control": "public, max-age=31536000, immutable", "Access-Control-Allow-Origin": "*"}


# ---------------------------------------------------------------- paths

def encode_index(n: int) -> str:
    """Tile index as zero-padded 3-digit path elements, all but the last prefixed with ``x``."""
    if n < 0:
        raise ValueError("tile index must not be negative")
    groups = []
    while True:
        groups.append(f"{n % 1000:03d}")
        n //= 1000
        if n == 0:
            break
    groups.reverse()
    return "/".join([*("x" + g for g in groups[:-1]), groups[-1]])


def tile_path(level: int, index: int, width: int = TILE_WIDTH) -> str:
    """``tile/<L>/<N>[.p/<W>]``."""
    if not 0 <= level <= 63:
        raise ValueError(f"tile level {level} outside 0..63")
    if not 1 <= width <= TILE_WIDTH:
        raise ValueError(f"tile width {width} outside 1..256")
    suffix = "" if width == TILE_WIDTH else f".p/{width}"
    return f"tile/{level}/{encode_index(index)}{suffix}"


_TILE_RE = re.compile(r"^tile/(0|[1-9][0-9]?)/((?:x[0-9]{3}/)*[0-9]{3})(?:\.p/([1-9][0-9]{0,2}))?$")


@dataclass(frozen=True)
class TileRef:
    level: int
    index: int
    width: int


def parse_tile_path(path: str) -> TileRef | None:
    """The tile a path names, or ``None`` (also for non-canonical spellings, which must not be served)."""
    m = _TILE_RE.match(path)
    if not m:
        return None
    level = int(m.group(1))
    index = int(m.group(2).replace("x", "").replace("/", ""))
    width = int(m.group(3)) if m.group(3) else TILE_WIDTH
    if level > 63 or (m.group(3) and width >= TILE_WIDTH):
        return None
    if tile_path(level, index, width) != path:  # e.g. 000/001 instead of x000/001 is not the tile's name
        return None
    return TileRef(level, index, width)


def tiles_for_size(tree_size: int) -> Iterator[TileRef]:
    """Every tile (full, then the partial one, at each level) a tree of ``tree_size`` leaves is made of."""
    level = 0
    while True:
        nodes = tree_size >> (TILE_HEIGHT * level)
        if nodes == 0:
            return
        full, partial = divmod(nodes, TILE_WIDTH)
        for n in range(full):
            yield TileRef(level, n, TILE_WIDTH)
        if partial:
            yield TileRef(level, full, partial)
        level += 1


# ---------------------------------------------------------------- serving from a MerkleLog

@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


def _plain(status: int, message: str) -> Response:
    return Response(status, {"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store"},
                    message.encode() + b"\n")


def read_tile(log: MerkleLog, ref: TileRef) -> bytes:
    """The bytes of a tile, read from the log's stored tree level 8·L."""
    tree_level = TILE_HEIGHT * ref.level
    start = ref.index * TILE_WIDTH
    if start + ref.width > log.node_count(tree_level):
        raise LogError(f"tile {tile_path(ref.level, ref.index, ref.width)} is beyond the log")
    return log.nodes(tree_level, start, ref.width)


def serve(log: MerkleLog, path: str) -> Response:
    """Answer ``GET <prefix>/<path>`` from ``log`` (``path`` relative to the log's URL prefix)."""
    path = path.lstrip("/")
    if path == CHECKPOINT_PATH:
        try:
            return Response(200, dict(CHECKPOINT_HEADERS), log.checkpoint_note().encode("utf-8"))
        except LogError:
            return _plain(404, "the log has no checkpoint yet")
    ref = parse_tile_path(path)
    if ref is None:
        return _plain(404, "not found")
    try:
        return Response(200, dict(TILE_HEADERS), read_tile(log, ref))
    except LogError:
        return _plain(404, "no such tile")


def accept_cosignatures(log: MerkleLog, body: bytes | str) -> Response:
    """Answer a witness's ``POST <prefix>/cosignature``: keep valid cosignatures of trusted witnesses."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if len(text) > 64 * 1024:
        return _plain(413, "too many cosignature lines")
    try:
        accepted = log.add_cosignatures(text)
    except SignatureError as exc:
        return _plain(409, str(exc))
    except LogError as exc:
        return _plain(400, str(exc))
    if not accepted:
        return _plain(403, "no cosignature from a witness this log trusts")
    return _plain(200, "accepted: " + ", ".join(accepted))


def request_handler(log_path: Path | str, prefix: str = "/ledger") -> type[BaseHTTPRequestHandler]:
    """A standard-library HTTP handler serving the log at ``log_path`` under ``prefix`` (read-only, plus
    the witnesses' cosignature POST). For ``http.server`` users; the web app calls :func:`serve` and
    :func:`accept_cosignatures` from its own routes."""
    root = "/" + prefix.strip("/") if prefix.strip("/") else ""

    class LedgerHandler(BaseHTTPRequestHandler):
        server_version = "ChasquiLedger/1"

        def _relative(self) -> str | None:
            path = self.path.split("?", 1)[0]
            if root and not path.startswith(root + "/"):
                return None
            return path[len(root) + 1:] if root else path.lstrip("/")

        def _send(self, r: Response) -> None:
            self.send_response(r.status)
            for k, v in r.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(r.body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(r.body)

        def _with_log(self, fn: Callable[[MerkleLog], Response]) -> Response:
            try:
                with MerkleLog(log_path, create=False, writable=False) as log:
                    return fn(log)
            except LogError:
                return _plain(404, "no log here")

        def do_GET(self) -> None:
            rel = self._relative()
            self._send(_plain(404, "not found") if rel is None else self._with_log(lambda log: serve(log, rel)))

        do_HEAD = do_GET

        def do_POST(self) -> None:
            rel = self._relative()
            if rel != COSIGNATURE_PATH:
                self._send(_plain(404, "not found"))
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > 64 * 1024:
                self._send(_plain(413, "too large"))
                return
            body = self.rfile.read(length)
            self._send(self._with_log(lambda log: accept_cosignatures(log, body)))

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return LedgerHandler


# ---------------------------------------------------------------- exporting to a directory

def export(log: MerkleLog, directory: Path | str) -> int:
    """Write the checkpoint and every tile of the current tree under ``directory``; return tiles written.

    Full tiles already present are left alone (they never change); the partial tiles of the exported
    size are written next to any older ones, as clients holding older checkpoints may still ask for them.
    """
    out = Path(directory)
    note = log.checkpoint_note()
    size = log.checkpoint().size
    written = 0
    for ref in tiles_for_size(size):
        target = out / tile_path(ref.level, ref.index, ref.width)
        if target.exists() and target.stat().st_size == ref.width * HASH:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".tmp")
        tmp.write_bytes(read_tile(log, ref))
        os.replace(tmp, target)
        written += 1
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / (CHECKPOINT_PATH + ".tmp")
    tmp.write_text(note, encoding="utf-8")
    os.replace(tmp, out / CHECKPOINT_PATH)
    return written


# ---------------------------------------------------------------- reading tiles (client side)

@dataclass
class TileReader:
    """Rebuilds Merkle nodes, inclusion and consistency proofs of a tree of ``tree_size`` from its tiles.

    ``fetch(path)`` returns the bytes at ``<prefix>/<path>`` or raises :class:`TransportError`.
    Tiles are cached (a full tile never changes; a partial tile is identified by its width).
    """

    fetch: Callable[[str], bytes]
    cache: dict[str, bytes] = field(default_factory=dict)

    def tile(self, level: int, index: int, width: int) -> bytes:
        path = tile_path(level, index, width)
        data = self.cache.get(path)
        if data is None:
            data = self.fetch(path)
            if len(data) != width * HASH:
                raise TransportError(f"{path} holds {len(data)} bytes, not {width * HASH}")
            self.cache[path] = data
        return data

    def node_source(self, tree_size: int) -> _TileNodes:
        return _TileNodes(self, tree_size)

    def inclusion_proof(self, index: int, tree_size: int) -> list[bytes]:
        try:
            return merkle.inclusion_proof(self.node_source(tree_size), index, tree_size)
        except ValueError as exc:
            raise TransportError(f"cannot build an inclusion proof: {exc}") from exc

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        try:
            return merkle.consistency_proof(self.node_source(size2), size1, size2)
        except ValueError as exc:
            raise TransportError(f"cannot build a consistency proof: {exc}") from exc


class _TileNodes:
    """A :class:`merkle.NodeSource` over the tiles of one tree size."""

    def __init__(self, reader: TileReader, tree_size: int) -> None:
        self.reader = reader
        self.size = tree_size
        self._memo: dict[tuple[int, int], bytes] = {}

    def node(self, level: int, index: int) -> bytes:
        key = (level, index)
        hit = self._memo.get(key)
        if hit is not None:
            return hit
        tile_level, sub = divmod(level, TILE_HEIGHT)
        first = index << sub  # first hash of tree level 8·tile_level under this node
        count = 1 << sub
        tile_index, offset = divmod(first, TILE_WIDTH)
        available = self.size >> (TILE_HEIGHT * tile_level)
        if first + count > available:
            raise LedgerError(f"node ({level}, {index}) is not complete in a tree of {self.size}")
        width = min(TILE_WIDTH, available - tile_index * TILE_WIDTH)
        data = self.reader.tile(tile_level, tile_index, width)
        hashes = [data[(offset + i) * HASH:(offset + i + 1) * HASH] for i in range(count)]
        while len(hashes) > 1:
            hashes = [merkle.node_hash(hashes[i], hashes[i + 1]) for i in range(0, len(hashes), 2)]
        self._memo[key] = hashes[0]
        return hashes[0]


__all__ = [
    "CHECKPOINT_PATH",
    "COSIGNATURE_PATH",
    "Response",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "TileReader",
    "TileRef",
    "accept_cosignatures",
    "encode_index",
    "export",
    "parse_tile_path",
    "read_tile",
    "request_handler",
    "serve",
    "tile_path",
    "tiles_for_size",
]
