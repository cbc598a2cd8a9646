"""Shell callbacks: language (cookie + reload), theme (Bootstrap colour mode + chart template), navbar.

Their outputs belong to the shell (``PAGE = None``): every visitor of any page may use them."""

from __future__ import annotations

from dash import ClientsideFunction, Dash, Input, Output, State, ctx

from callbacks.registration import PageCallbacks
from components import ids
from components.i18n import COOKIE, normalize_lang
from web.access import OutputOwner

PAGE: str | None = None


def set_language(value: object) -> str:
    """Remember the chosen language in a cookie (read by page layouts) and the store."""
    lang = normalize_lang(value)
    ctx.response.set_cookie(COOKIE, lang, max_age=365 * 24 * 3600, samesite="Lax", httponly=False)
    return lang


def toggle_navbar(n_clicks: object, is_open: object) -> bool:
    """Open/close the menu on narrow screens."""
    return not bool(is_open)


def register(app: Dash) -> dict[str, OutputOwner]:
    """Language, theme and navbar callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(set_language, Output(ids.LANG_STORE, "data"), Input(ids.LANG_SWITCH, "value"),
                prevent_initial_call=True)
    cb.clientside(ClientsideFunction("chasqui", "reload"), Output(ids.RELOAD, "children"),
                  Input(ids.LANG_STORE, "data"), prevent_initial_call=True)
    cb.clientside(ClientsideFunction("chasqui", "applyTheme"), Output(ids.THEME_STORE, "data"),
                  Input(ids.THEME_SWITCH, "value"), prevent_initial_call=True)
    cb.clientside(ClientsideFunction("chasqui", "restoreTheme"), Output(ids.THEME_SWITCH, "value"),
                  Input(ids.THEME_STORE, "modified_timestamp"), State(ids.THEME_STORE, "data"),
                  State(ids.THEME_SWITCH, "value"))
    cb.callback(toggle_navbar, Output(ids.NAVBAR_COLLAPSE, "is_open"), Input(ids.NAVBAR_TOGGLER, "n_clicks"),
                State(ids.NAVBAR_COLLAPSE, "is_open"), prevent_initial_call=True)
    return cb.owners
