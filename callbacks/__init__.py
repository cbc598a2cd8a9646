"""Callbacks, one module per page. ``register_all(app)`` registers them with an app (nothing registers on import).

Each module declares ``PAGE`` (the route path that owns its outputs; ``None`` for the shell) and
``register(app)``, which returns the owner of every output it registered. ``app.py`` hands the merged map to
the web layer, which refuses a callback whose outputs no page owns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from callbacks import data, demand, live, logistics, overview, scenarios, segments, shell, sourcing, traceability
from callbacks.registration import merge

if TYPE_CHECKING:
    from dash import Dash

    from web.access import OutputOwner


def register_all(app: Dash) -> dict[str, OutputOwner]:
    """Register every page's callbacks on ``app``; returns output id → owner for all of them."""
    return merge(
        shell.register(app),
        overview.register(app),
        live.register(app),
        logistics.register(app),
        segments.register(app),
        scenarios.register(app),
        sourcing.register(app),
        traceability.register(app),
        demand.register(app),
        data.register(app),
    )


__all__ = ["register_all"]
