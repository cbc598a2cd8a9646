"""Live operations: Kafka listener, embedded broker, demo producer and shared tile state.

The app factory calls :func:`start` once per process; nothing happens at import time (kafka,
sklearn and the broker are only touched inside ``start``). Callbacks read tiles with :func:`snapshot`.
"""

from __future__ import annotations

import atexit
import fcntl
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from analytics.datadir import CacheDir

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class LiveConfig:
    """What :func:`start` needs (the web layer's ``Settings.live_config()`` makes one)."""

    data_dir: Path
    cache_dir: Path
    enabled: bool = True
    kafka_bootstrap: str | None = None  # unset: the embedded broker on a free loopback port
    demo_feed: bool = True
    demo_feed_rate: float = 20.0  # events per second
    shelf_life_interval: float = 300.0  # seconds between shelf-life alert computations (analytics.live.shelflife)


def store_dir(cache_dir: Path | str) -> Path:
    return CacheDir(Path(cache_dir)).live


@dataclass
class LiveHandle:
    """What :func:`start` returns. ``role``: "disabled", "reader" (another process consumes) or "leader"."""

    role: str
    bootstrap: str | None = None
    broker: Any = None
    listener: Any = None
    producer: Any = None
    shelf_life: Any = None  # the ShelfLifeWatch thread
    _lock_fd: int | None = field(default=None, repr=False)

    def stop(self) -> None:
        """Stop the shelf-life watch, the producer, the listener and the embedded broker, then release the host lock."""
        for part in (self.shelf_life, self.producer, self.listener):
            if part is not None:
                try:
                    part.stop()
                except Exception as exc:  # stopping must never raise at shutdown

                    log.warning("stopping %s: %s", type(part).__name__, exc)
        if self.listener is not None:
            self.listener.store.close()
        if self.broker is not None:
            self.broker.stop()
        if self._lock_fd is not None:
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
                os.close(self._lock_fd)
            except OSError:
                pass
        self.producer = self.listener = self.broker = self.shelf_life = None
        self._lock_fd = None


def _try_lock(path: Path) -> int | None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    return fd


def start(config: LiveConfig) -> LiveHandle:
    """Start live operations for this host, once.

    - ``config.enabled`` false: returns a disabled handle, starts nothing.
    - another process on this host holds ``CACHE_DIR/live-listener.lock``: returns a "reader" handle
      (this worker only renders the shared diskcache state).
    - otherwise this process becomes the leader: with ``config.kafka_bootstrap`` unset it starts
      the embedded broker on a free loopback port (and, if ``config.demo_feed``, the demo producer
      at ``config.demo_feed_rate`` events/s); then the listener thread. Models load in that thread.
      The shelf-life watch (:mod:`analytics.live.shelflife`) recomputes the shelf-life alerts in its own thread
      every ``config.shelf_life_interval`` seconds.
    """
    if not config.enabled:
        return LiveHandle("disabled")
    fd = _try_lock(CacheDir(Path(config.cache_dir)).live_lock)
    if fd is None:
        return LiveHandle("reader")
    handle = LiveHandle("leader", _lock_fd=fd)
    try:
        from analytics.live import broker as broker_mod
        from analytics.live.contracts import ALL_TOPICS
        from analytics.live.listener import Listener
        from analytics.live.state import LiveStore

        bootstrap = config.kafka_bootstrap
        if not bootstrap:
            handle.broker = broker_mod.EmbeddedBroker().start()
            bootstrap = handle.broker.bootstrap
            broker_mod.ensure_topics(bootstrap, ALL_TOPICS)
        handle.bootstrap = bootstrap
        data_dir = Path(config.data_dir)

        def scorer() -> Any:
            from analytics.live.risk import load_scorer

            return load_scorer(data_dir)

        def detector() -> Any:
            from analytics.live.coldchain import load_or_train

            return load_or_train(data_dir)[0]

        store = LiveStore(store_dir(config.cache_dir), writer=True)
        handle.listener = Listener(bootstrap, store, scorer, detector,
                                   info={"bootstrap": bootstrap, "embedded": handle.broker is not None}).start()
        if handle.broker is not None and config.demo_feed:
            from analytics.live.producer import DemoProducer

            handle.producer = DemoProducer(bootstrap, data_dir, rate=config.demo_feed_rate).start()
        from analytics.live.shelflife import ShelfLifeWatch

        handle.shelf_life = ShelfLifeWatch(data_dir, config.cache_dir, interval=config.shelf_life_interval).start()
    except Exception:
        handle.stop()
        raise
    atexit.register(handle.stop)
    log.info("live operations started (bootstrap %s, embedded broker: %s, demo feed: %s)",
             handle.bootstrap, handle.broker is not None, handle.producer is not None)
    return handle


def snapshot(cache_dir: Path | str, now: float | None = None) -> dict[str, Any]:
    """The live tiles, alerts and totals every worker shows (read from diskcache under ``cache_dir``)."""
    from analytics.live.state import read_snapshot

    return read_snapshot(Path(cache_dir), now)
