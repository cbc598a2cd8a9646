"""Warm the result cache for every page's default view, once per data version, in the background.

A visitor who opens a page first after ``prepare``, ``train``, an import or a deploy would otherwise wait for
every on-load callback to compute (a k-means sweep, a Monte Carlo run, each in a fresh job process). The
warm-up computes those results ahead of time and stores them exactly where a request would look for them:

- a ``memoized`` callback is called with the page's initial values: it stores its own result
  (``web.jobs.result_key``);
- a ``memo_background`` callback is run in this process and its return value stored under the key the
  background manager builds for the same inputs (``MemoManager.build_cache_key``), so the first visitor's
  request is answered from the store without a job process.

"The page's initial values" are what the renderer sends: the values in the page layout's JSON (and the shell's
language and theme stores). Callbacks that are not cached (the clock, the live feed, ledger verification) are
left alone. A warm-up that fails for one callback logs it and goes on: it never breaks anything.

``python app.py warm`` runs it in the foreground; ``start(settings)`` runs that command as a child process
(stdout in ``<cache>/warmup.log``) that stops by itself once its parent is gone, unless the current data version is
already warm. ``Watcher`` (started by
``python app.py serve``) checks every minute whether the data version changed (a ``prepare``, ``train`` or an
import, from the command line or the Data page) and starts a warm-up when it did. "Once per data version": a
marker ``warmed-<context version>`` in the result cache says a warm-up has run for that version, or names the
process warming it (a warm-up that died or was stopped half-way is started again).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from web.jobs import context_version
from web.jobslots import RESULT_SECONDS, process_started
from web.runtime import runtime
from web.settings import Settings

log = logging.getLogger("chasqui.warmup")

ROOT = Path(__file__).resolve().parent.parent
MARKER_PREFIX = "warmed-"
MARKER_SECONDS = 7 * 24 * 3600.0
ROUTER_OUTPUT = ".._pages_content.children..._pages_store.data.."


@dataclass
class WarmReport:
    version: str
    skipped: bool = False  # this data version was already warm (or being warmed)
    stopped: bool = False  # asked to stop half-way (its server stopped): the version is not marked warm
    seconds: dict[str, float] = field(default_factory=dict)  # "<page> <output>" → seconds to compute
    failed: dict[str, str] = field(default_factory=dict)  # "<page> <output>" → error

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "skipped": self.skipped, "stopped": self.stopped,
                "warmed": len(self.seconds),
                "seconds": {k: round(v, 3) for k, v in self.seconds.items()}, "failed": self.failed}


def marker() -> str:
    return MARKER_PREFIX + context_version()


def _alive(state: Any) -> bool:
    """A marker says done, or names a warm-up process that is still running."""
    if not isinstance(state, dict):
        return False
    if "finished" in state:
        return True
    return state.get("pid") is not None and process_started(int(state["pid"])) == state.get("started")


def is_warm() -> bool:
    """Has a warm-up run for the current data version, or is one running? A warm-up that died or was stopped
    half-way does not count. (Needs ``web.runtime.configure``.)"""
    return _alive(runtime().results.get(marker()))


def _props(node: Any, out: dict[str, dict[str, Any]]) -> None:
    """Component id → props, for every component with a string id in a layout's JSON."""
    if isinstance(node, dict):
        if "props" in node and "type" in node:
            p = node["props"]
            if isinstance(p.get("id"), str):
                out[p["id"]] = p
            for v in p.values():
                _props(v, out)
        else:
            for v in node.values():
                _props(v, out)
    elif isinstance(node, list):
        for v in node:
            _props(v, out)


def _as_json(value: Any) -> Any:
    """``value`` as the browser gets it: through the JSON encoder Dash uses for responses."""
    from plotly.io.json import to_json_plotly

    return json.loads(to_json_plotly(value))


def _outputs(spec: str) -> list[tuple[str, str]]:
    """(component id, property) of a callback's ``output`` spec (``..a.children...b.figure..`` or ``a.children``)."""
    parts = spec[2:-2].split("...") if spec.startswith("..") else [spec]
    out = []
    for part in parts:
        cid, prop = part.split("@")[0].rsplit(".", 1)  # "id.prop@hash": an output with allow_duplicate
        out.append((cid, prop))
    return out


@dataclass
class Call:
    """One callback of a page's default view: its output spec and Dash's description of it."""

    page: str
    output: str
    dep: dict[str, Any]

    @property
    def args(self) -> list[dict[str, Any]]:
        return self.dep["inputs"] + self.dep["state"]


def page_calls(app: Any) -> list[tuple[str, dict[str, dict[str, Any]], list[Call]]]:
    """For every registered page: its path, the props of its layout (and the shell's) by component id, and the
    callbacks that can fire when it loads (outputs in the page, not prevented, not client-side)."""
    import dash

    deps = app.server.test_client().get("/_dash-dependencies").get_json()  # public; runs Dash's first-request setup
    pages = []
    with app.server.test_request_context("/"):
        shell: dict[str, dict[str, Any]] = {}
        _props(_as_json(app.layout() if callable(app.layout) else app.layout), shell)
        for page in dash.page_registry.values():
            layout = page["layout"]() if callable(page["layout"]) else page["layout"]
            own: dict[str, dict[str, Any]] = {}
            _props(_as_json(layout), own)
            calls = [Call(page["path"], d["output"], d) for d in deps
                     if not d.get("clientside_function") and not d.get("prevent_initial_call")
                     and d["output"] != ROUTER_OUTPUT and all(c in own for c, _ in _outputs(d["output"]))
                     and all(isinstance(x["id"], str) for x in d["inputs"] + d["state"])]
            pages.append((page["path"], {**shell, **own}, calls))
    return pages


def _apply(call: Call, value: Any, known: dict[str, dict[str, Any]]) -> None:
    """Put a callback's outputs into the page's props, as the renderer does with a response."""
    from dash import no_update

    outs = _outputs(call.output)
    values = [value] if not call.output.startswith("..") else list(value)
    for (cid, prop), v in zip(outs, values):
        if v is not no_update and cid in known:
            known[cid] = {**known[cid], prop: _as_json(v)}


def warm(app: Any, settings: Settings, force: bool = False, pages: tuple[str, ...] | None = None,
         should_stop: Callable[[], bool] | None = None) -> WarmReport:
    """Compute and store every page's default view for the current data version (see the module docstring).

    Callbacks run in the renderer's order: one fires once every input it has is known and no callback still
    to fire produces one of them; its outputs become the inputs of the next (a chain, e.g. a store that a
    chart reads). ``pages``: only these paths (default: every page). ``should_stop`` is asked before each callback;
    a warm-up stopped half-way leaves the version unmarked, so the next one starts over."""
    from dash.exceptions import PreventUpdate

    from web.jobs import background_manager

    cache = runtime().results
    report = WarmReport(context_version())
    key = MARKER_PREFIX + report.version
    mine = {"pid": os.getpid(), "started": process_started(os.getpid())}
    with cache.transact():  # one warm-up per version at a time; a dead one's marker is taken over
        if _alive(cache.get(key)) and not force:
            report.skipped = True
            return report
        cache.set(key, mine, expire=MARKER_SECONDS)
    manager = None
    for page, known, calls in page_calls(app):
        if pages is not None and page not in pages:
            continue
        pending = list(calls)
        while pending:
            produced = {(c, p) for call in pending for c, p in _outputs(call.output)}
            ready = [call for call in pending if all(x["id"] in known for x in call.args)
                     and not any((x["id"], x["property"]) in produced for x in call.dep["inputs"])]
            if not ready:
                break  # the rest waits for inputs nothing on this page provides at load
            for call in ready:
                if should_stop is not None and should_stop():
                    report.stopped = True
                    cache.delete(key)
                    return report
                pending.remove(call)
                spec = app.callback_map.get(call.output) or {}
                fn = getattr(spec.get("callback"), "__wrapped__", None)  # the module-level callback function
                if fn is None:
                    continue
                args = [known[x["id"]].get(x["property"]) for x in call.args]
                background = spec.get("background")
                name = f"{page} {call.output[:80]}"
                t0 = time.perf_counter()
                try:
                    if background and getattr(fn, "chasqui_memoized", False):
                        manager = manager or background_manager(settings)
                        bg_key = manager.build_cache_key(fn, args, background.get("cache_args_to_ignore", []), None)
                        value = manager.handle.get(bg_key)
                        if value is None:
                            value = fn(lambda *_: None, *args) if background.get("progress") else fn(*args)
                            manager.handle.set(bg_key, value, expire=RESULT_SECONDS)
                    elif background:
                        continue  # one job per request (imports, exports): never run ahead of time
                    else:
                        value = fn(*args)  # memoized: stores itself; otherwise cheap, run for its outputs
                except PreventUpdate:
                    continue
                except Exception as exc:  # a warm-up never breaks anything: the visitor computes it as before
                    report.failed[name] = f"{type(exc).__name__}: {exc}"[:300]
                    log.warning("warm-up of %s failed: %s", name, report.failed[name])
                    continue
                if getattr(fn, "chasqui_memoized", False):
                    report.seconds[name] = time.perf_counter() - t0
                _apply(call, value, known)
    cache.set(key, {"finished": time.time(), "warmed": len(report.seconds)}, expire=MARKER_SECONDS)
    if context_version() != report.version:  # computing changed the data (e.g. scores refreshed): once more
        log.info("the data changed while warming: warming the new version")
        again = warm(app, settings, pages=pages, should_stop=should_stop)
        report.seconds.update(again.seconds)
        report.failed.update(again.failed)
    return report


def start(settings: Settings) -> subprocess.Popen | None:
    """``python app.py warm`` for these settings as a background child process, unless this data version is already
    warm (or being warmed). Its output goes to ``<cache>/warmup.log``."""
    if is_warm():
        return None
    log_path = Path(settings.data.cache.root) / "warmup.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}  # not one of the app's
    env["CHASQUI_RUNTIME_SETTINGS"] = settings.to_json()
    with open(log_path, "a", encoding="utf-8") as out:  # it stops by itself when this process is gone
        return subprocess.Popen([sys.executable, str(ROOT / "app.py"), "warm", "--from-runtime-env"], cwd=ROOT,
                                env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


class Watcher:
    """Starts a warm-up whenever the data version is not warm: now, and then every ``interval`` seconds."""

    def __init__(self, settings: Settings, interval: float = 60.0) -> None:
        self.settings = settings
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="chasqui-warmup", daemon=True)
        self.proc: subprocess.Popen | None = None

    def start(self) -> Watcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(10)

    def check(self) -> subprocess.Popen | None:
        """One look: start a warm-up if the current version is not warm and none is running."""
        if self.proc is not None and self.proc.poll() is None:
            return None
        self.proc = start(self.settings)
        return self.proc

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check()
            except Exception:  # the watcher must never take the server down
                log.exception("warm-up check failed")
            self._stop.wait(self.interval)


__all__ = ["Call", "Watcher", "WarmReport", "is_warm", "marker", "page_calls", "start", "warm"]
