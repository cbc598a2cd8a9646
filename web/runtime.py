"""The per-process runtime the callbacks use: settings and the engine.

``create_app`` calls ``configure(settings)`` once per process (each gunicorn worker builds its own
app). Background-callback jobs run in processes forked from a fork server that only imported the code
(never from a server process: Polars is not fork-safe once its thread pool runs), so ``create_app`` also
hands the settings down in the ``CHASQUI_RUNTIME_SETTINGS`` environment variable, each job gets the
environment of its start, and a job process configures itself from it on first use. Tests call ``configure`` with their own settings. This is configuration, set once,
not shared mutable state.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from web.settings import Settings

if TYPE_CHECKING:
    from analytics.engine import Engine


@dataclass
class Runtime:
    settings: Settings
    _engine: Engine | None = field(default=None, repr=False)
    _results: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    warming: threading.Thread | None = field(default=None, repr=False)

    def warm_up(self) -> None:
        """Reach (or start) the host's Spark and compute the per-day summary before the first visitor asks."""
        try:
            from analytics.queries import date_bounds

            date_bounds(self.engine)
        except FileNotFoundError:
            pass  # no data yet: the pages say so
        except Exception:  # the first page that needs the engine shows the reason
            logging.getLogger(__name__).warning("engine warm-up failed", exc_info=True)

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    from analytics.engine import make_engine

                    self._engine = make_engine(self.settings.engine_config())
        return self._engine

    @property
    def results(self) -> Any:
        """The diskcache of callback results by input (``<cache_dir>/results``, see ``web.jobs``)."""
        if self._results is None:
            with self._lock:
                if self._results is None:
                    from analytics.shared_cache import open_cache

                    self._results = open_cache(self.settings.data.cache.results,
                                                    size_limit=512 * 2**20)
        return self._results


_RUNTIME: list[Runtime] = []


def configure(settings: Settings, warm: bool = False) -> Runtime:
    rt = Runtime(settings)
    _RUNTIME[:] = [rt]
    if warm and settings.engine == "spark":  # Spark answers the first visitor sooner (a JVM start takes a while)
        rt.warming = threading.Thread(target=rt.warm_up, name="chasqui-engine-warm-up", daemon=True)
        rt.warming.start()
    return rt


RUNTIME_ENV = "CHASQUI_RUNTIME_SETTINGS"


def runtime() -> Runtime:
    if not _RUNTIME:
        raw = os.environ.get(RUNTIME_ENV)
        if not raw:
            raise RuntimeError("web.runtime.configure(settings) was not called (use app.create_app)")
        configure(Settings.from_json(raw), warm=False)  # a background-job process started by the app
    return _RUNTIME[0]
