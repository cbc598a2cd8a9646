"""Registering one page's callbacks with an app, recording which page (and action) owns every output.

Each ``callbacks/<page>.py`` builds a :class:`PageCallbacks` in its ``register(app)``, passes it its
module-level callback functions with their dependencies, and returns ``owners``: output id → ``OutputOwner``.
The web layer refuses a callback request whose outputs have no owner; no decision depends on id spelling.

Output id keys follow Dash's own spelling (``Output.component_id_str()``): a string id as is, a dict id as
``json.dumps(id, sort_keys=True, separators=(",", ":"))`` with a wildcard as ``["ALL"]``/``["MATCH"]`` (the
id part of the ``output`` field of a ``/_dash-update-component`` request).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dash import Output

from web.access import OutputOwner

# Dash polls background callbacks every second by default; a kept result (answered from the store on the first
# poll) then costs a visitor that second. 400 ms: 2.5 light polls a second while a cold job runs.
MEMO_POLL_MS = 400


def output_key(output: Output) -> str:
    """The key of an output's component id in an owners map."""
    return output.component_id_str()


def outputs_in(*specs: Any) -> Iterator[Output]:
    """Every ``Output`` in callback arguments: positional dependencies, ``output=``/``progress=`` lists and
    ``running=`` triples (the outputs Dash sets while a background callback runs)."""
    for spec in specs:
        if isinstance(spec, Output):
            yield spec
        elif isinstance(spec, list | tuple):
            yield from outputs_in(*spec)


class OwnerConflict(ValueError):
    """One output id claimed by two different owners."""


class PageCallbacks:
    """Registers callbacks on ``app`` (never Dash's global ``dash.callback``) and records their owners.

    ``page`` is the route path that owns the outputs (``None``: the shell, any visitor). A callback that is
    an action needing more than seeing the page (an import, a recall export) names it: ``action=``.
    """

    def __init__(self, app: Any, page: str | None) -> None:
        self.app = app
        self.page = page
        self.owners: dict[str, OutputOwner] = {}

    def _own(self, specs: tuple[Any, ...], kwargs: dict[str, Any], action: str | None) -> None:
        """The callback's outputs are owned by the page and its action; the outputs Dash sets while a
        background callback runs (``progress``, ``running``) by the page alone (no request names them)."""
        side = [kwargs.get(k) for k in ("progress", "running") if kwargs.get(k) is not None]
        for outs, owner in ((outputs_in(*specs, kwargs.get("output")), OutputOwner(self.page, action)),
                            (outputs_in(*side), OutputOwner(self.page))):
            for out in outs:
                key = output_key(out)
                known = self.owners.get(key)
                if known is not None and known != owner:
                    raise OwnerConflict(f"output {key!r} owned by {known} and {owner}")
                self.owners[key] = owner

    def callback(self, fn: Callable[..., Any], *specs: Any, action: str | None = None, **kwargs: Any) -> None:
        """``app.callback(*specs, **kwargs)(fn)``: ``fn`` stays the module-level function (a background job
        process finds it by module and name). A background callback whose results are kept
        (``web.jobs.memo_background``) is polled every ``MEMO_POLL_MS``: a stored result is read on the first
        poll, so the poll interval is all a visitor waits for it."""
        if kwargs.get("background") and getattr(fn, "chasqui_memoized", False):
            kwargs.setdefault("interval", MEMO_POLL_MS)
        self.app.callback(*specs, **kwargs)(fn)
        self._own(specs, kwargs, action)

    def clientside(self, function: Any, *specs: Any, **kwargs: Any) -> None:
        """``app.clientside_callback(function, *specs, **kwargs)`` (a ``ClientsideFunction`` or inline JS)."""
        self.app.clientside_callback(function, *specs, **kwargs)
        self._own(specs, kwargs, None)


def merge(*maps: dict[str, OutputOwner]) -> dict[str, OutputOwner]:
    """Owners maps of several pages in one; an output two pages claim differently is an error."""
    out: dict[str, OutputOwner] = {}
    for m in maps:
        for key, owner in m.items():
            if key in out and out[key] != owner:
                raise OwnerConflict(f"output {key!r} owned by {out[key]} and {owner}")
            out[key] = owner
    return out
