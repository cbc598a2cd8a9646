"""Run a page segmentation safely inside a Dash background-callback process.

Dash's DiskcacheManager starts each background job with ``fork``. A forked child of a process that
already used Polars' (or any Rust/rayon) thread pool deadlocks on its first parallel Polars query:
the pool's threads do not exist in the child. When we detect that we run in such a forked child,
the work is done in a fresh ``spawn`` process instead, streaming progress back through a pipe.
Cancelling the job kills the forked child and (Dash kills children recursively) this worker.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import date
from typing import TYPE_CHECKING, Any

from analytics.segments.service import PageView, Progress, SegmentParams, page_view

if TYPE_CHECKING:
    from analytics.engine import Engine
    from analytics.settings import Settings

_IMPORT_PID = os.getpid()


def forked_child() -> bool:
    """True in a process forked after this module was imported (e.g. a background-callback job)."""
    return os.getpid() != _IMPORT_PID


def _worker(conn: Any, settings: Settings, params: SegmentParams, compare_end: date | None) -> None:
    from analytics.engine import make_engine

    try:
        pv = page_view(make_engine(settings), params, compare_end, settings.cache_dir,
                       lambda label, frac: conn.send(("progress", label, frac)))
        conn.send(("ok", pv))
    except BaseException as exc:  # noqa: BLE001 - shipped back and re-raised in the caller
        conn.send(("error", exc))
    finally:
        conn.close()


def page_view_safe(settings: Settings, engine: Engine, params: SegmentParams, compare_end: date | None = None,
                   progress: Progress | None = None) -> PageView:
    """``page_view`` in this process, or in a spawned one when this process is a fork."""
    if not forked_child():
        return page_view(engine, params, compare_end, settings.cache_dir, progress)
    report = progress or (lambda label, frac: None)
    ctx = multiprocessing.get_context("spawn")
    recv, send = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_worker, args=(send, settings, params, compare_end), daemon=True)
    report("starting", 0.01)
    proc.start()
    send.close()
    try:
        while True:
            try:
                msg = recv.recv()
            except EOFError:
                raise RuntimeError(f"segmentation worker exited with code {proc.exitcode}") from None
            if msg[0] == "progress":
                report(msg[1], msg[2])
            elif msg[0] == "ok":
                return msg[1]
            else:
                raise msg[1]
    finally:
        proc.join(timeout=5)
