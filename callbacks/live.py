"""Live tiles: poll the shared live state (diskcache) every REFRESH_MS and redraw the tiles.

The tiles sit on the Overview page, which owns their outputs."""

from __future__ import annotations

from dash import ALL, Dash, Input, Output, State

from analytics import live
from callbacks.registration import PageCallbacks
from components import ids
from components import live as view
from components.i18n import normalize_lang
from components.theme import normalize_theme
from web.access import OutputOwner
from web.runtime import runtime

PAGE: str | None = ids.PATH_OVERVIEW


def refresh_live(_n: int | None, lang: str | None, theme: str | None):
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    snap = live.snapshot(runtime().settings.data.cache.root)
    texts, figs, alerts, status = view.render(snap, lang, theme)
    return texts, figs, alerts, status


def register(app: Dash) -> dict[str, OutputOwner]:
    """The live tiles' callback on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(refresh_live,
                Output(ids.live_tile_value(ALL), "children"), Output(ids.live_tile_spark(ALL), "figure"),
                Output(ids.LIVE_ALERTS, "children"), Output(ids.LIVE_STATUS, "children"),
                Input(ids.LIVE_INTERVAL, "n_intervals"), State(ids.LANG_STORE, "data"), State(ids.THEME_STORE, "data"))
    return cb.owners
