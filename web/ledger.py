"""The Merkle log served read-only under ``/ledger/`` in the C2SP tlog-tiles layout (``ledger_client.tiles``).

    GET  /ledger/checkpoint            the signed checkpoint with the witnesses' cosignatures (no-cache)
    GET  /ledger/tile/<L>/<N>[.p/<W>]  tiles of hashes (immutable: cached for a year)
    POST /ledger/cosignature           a witness hands its cosignature lines to the log

Public even when sign-in is on (``web.server`` lists the prefix as always public): the log holds event hashes
only, and the events stay with their owners. The POST keeps only cosignatures made on the current checkpoint by
witness keys the log trusts (``DIR/ledger/witnesses``; ``python app.py trust-witness``); lines from unknown keys
are ignored without any signature check, a forged line from a trusted key is refused, and the body is capped.
Every request opens the log read-only, so any worker serves the latest checkpoint.
"""

from __future__ import annotations

from typing import Any

from web.settings import Settings

MAX_COSIGNATURE_BYTES = 64 * 1024
PATH = "ledger/"


def install(server: Any, settings: Settings, prefix: str) -> None:
    """Add the ``/ledger/`` routes to the Flask ``server`` (``prefix``: the app's path prefix, ends in ``/``)."""
    import flask

    from ledger_client import tiles
    from ledger_client.errors import LogError
    from ledger_client.log import MerkleLog

    root = prefix + PATH

    def plain(status: int, message: str) -> Any:
        return flask.Response(message + "\n", status, {"Cache-Control": "no-store"}, mimetype="text/plain")

    def answer(r: tiles.Response) -> Any:
        return flask.Response(r.body, r.status, dict(r.headers))

    @server.get(root)
    def ledger_index() -> Any:
        return plain(404, f"a C2SP tlog-tiles log: {root}{tiles.CHECKPOINT_PATH} and {root}tile/<L>/<N>")

    @server.get(root + "<path:path>")
    def ledger_read(path: str) -> Any:
        try:
            with MerkleLog(settings.data.ledger, create=False, writable=False) as log:
                return answer(tiles.serve(log, path))
        except LogError:
            return plain(404, "no Merkle log is kept here")

    @server.post(root + tiles.COSIGNATURE_PATH)
    def ledger_cosignature() -> Any:
        length = flask.request.content_length
        if length is not None and length > MAX_COSIGNATURE_BYTES:
            return plain(413, "too many cosignature lines")
        body = flask.request.get_data(cache=False)
        if len(body) > MAX_COSIGNATURE_BYTES:
            return plain(413, "too many cosignature lines")
        try:
            with MerkleLog(settings.data.ledger, create=False, writable=False) as log:
                return answer(tiles.accept_cosignatures(log, body))
        except LogError:
            return plain(404, "no Merkle log is kept here")
