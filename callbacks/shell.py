"""Shell callbacks: language (cookie + reload) and theme (Bootstrap colour mode + chart template)."""

from __future__ import annotations

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, ctx, no_update

from components import ids
from components.i18n import COOKIE, normalize_lang


@callback(Output(ids.LANG_STORE, "data"), Input(ids.LANG_SWITCH, "value"), prevent_initial_call=True)
def set_language(value: object) -> str:
    """Remember the chosen language in a cookie (read by page layouts) and the store."""
    lang = normalize_lang(value)
    ctx.response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return lang


clientside_callback(ClientsideFunction("chasqui", "reload"), Output(ids.RELOAD, "children"),
                    Input(ids.LANG_STORE, "data"), prevent_initial_call=True)
clientside_callback(ClientsideFunction("chasqui", "applyTheme"), Output(ids.THEME_STORE, "data"),
                    Input(ids.THEME_SWITCH, "value"), prevent_initial_call=True)
clientside_callback(ClientsideFunction("chasqui", "restoreTheme"), Output(ids.THEME_SWITCH, "value"),
                    Input(ids.THEME_STORE, "modified_timestamp"), State(ids.THEME_STORE, "data"),
                    State(ids.THEME_SWITCH, "value"))

@callback(Output(ids.NAVBAR_COLLAPSE, "is_open"), Input(ids.NAVBAR_TOGGLER, "n_clicks"),
          State(ids.NAVBAR_COLLAPSE, "is_open"), prevent_initial_call=True)
def toggle_navbar(n_clicks: object, is_open: object) -> bool:
    """Open/close the menu on narrow screens."""
    return not bool(is_open)


__all__ = ["no_update", "set_language"]
