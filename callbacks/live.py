"""Live tiles: poll the shared live state (diskcache) every REFRESH_MS and redraw the tiles."""

from __future__ import annotations

from dash import ALL, Input, Output, State, callback

from analytics import live
from callbacks.runtime import runtime
from components import ids
from components import live as view
from components.i18n import normalize_lang
from components.theme import normalize_theme


@callback(
    Output({"type": ids.LIVE_TILE_VALUE, "tile": ALL}, "children"),
    Output({"type": ids.LIVE_TILE_SPARK, "tile": ALL}, "figure"),
    Output(ids.LIVE_ALERTS, "children"),
    Output(ids.LIVE_STATUS, "children"),
    Input(ids.LIVE_INTERVAL, "n_intervals"),
    State(ids.LANG_STORE, "data"),
    State(ids.THEME_STORE, "data"),
)
def refresh_live(_n: int | None, lang: str | None, theme: str | None):
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    snap = live.snapshot(runtime().settings)
    texts, figs, alerts, status = view.render(snap, lang, theme)
    return texts, figs, alerts, status
