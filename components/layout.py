"""The app shell (navbar, language and theme switches, stores) and small shared widgets."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import Output, dcc, html, page_container

from components import ids
from components.i18n import t

NAV_ITEMS = (
    (ids.PATH_OVERVIEW, "nav.overview"), (ids.PATH_LOGISTICS, "nav.logistics"), (ids.PATH_SEGMENTS, "nav.segments"),
    (ids.PATH_SCENARIOS, "nav.scenarios"), (ids.PATH_TRACEABILITY, "nav.traceability"),
    (ids.PATH_SOURCING, "nav.sourcing"), (ids.PATH_DEMAND, "nav.demand"), (ids.PATH_DATA, "nav.data"),
)


def user_badge(user: dict[str, Any] | None, lang: str) -> html.Div | None:
    """Who is signed in (name, roles) and, for an OIDC session, the sign-out link; nothing when anonymous."""
    if not user:
        return None
    roles = ", ".join(t(f"role.{r}", lang) for r in user.get("roles", []))
    parts: list[Any] = [html.Span(user["name"], id=ids.NAVBAR_USER, className="fw-semibold chasqui-user",
                                  title=t("nav.roles", lang, roles=roles))]
    if user.get("logout"):  # a POST with the session's token: another site can neither link nor forge it
        parts.append(html.Form([
            dcc.Input(type="hidden", name="csrf", value=user.get("csrf", ""), id=ids.NAVBAR_SIGNOUT_CSRF),
            html.Button(t("nav.signout", lang), type="submit", className="btn btn-link btn-sm link-light p-0 ms-2"),
        ], action=user["logout"], method="POST", id=ids.NAVBAR_SIGNOUT, className="d-inline"))
    return html.Div(parts, className="text-light small me-3 text-nowrap")


def navbar(lang: str, user: dict[str, Any] | None = None) -> dbc.Navbar:
    links = [dbc.NavItem(dbc.NavLink(t(key, lang), href=path, active="exact")) for path, key in NAV_ITEMS]
    switches = html.Div(
        [
            user_badge(user, lang),
            dbc.RadioItems(
                id=ids.LANG_SWITCH,
                options=[{"label": "ES", "value": "es"}, {"label": "EN", "value": "en"}],
                value=lang, inline=True, className="me-3 text-light small d-flex flex-nowrap",
                input_class_name="me-1", label_class_name="me-2 text-light",
            ),
            dbc.Switch(id=ids.THEME_SWITCH, label=t("theme.dark", lang), value=False,
                       className="text-light small mb-0 text-nowrap", label_class_name="text-light"),
        ],
        className="d-flex align-items-center ms-lg-auto flex-nowrap",
    )
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(html.Span("Chasqui", className="fw-bold", title=t("app.tagline", lang)), href="/"),
                dbc.NavbarToggler(id=ids.NAVBAR_TOGGLER),
                dbc.Collapse([dbc.Nav([*links], navbar=True, className="me-auto"), switches], navbar=True,
                             id=ids.NAVBAR_COLLAPSE, is_open=False),
            ],
            fluid=True,
        ),
        id=ids.NAVBAR, color="dark", dark=True, expand="xl", className="mb-3 chasqui-navbar",
    )


def shell(lang: str, user: dict[str, Any] | None = None) -> html.Div:
    """The whole app frame around Dash's page container (``user``: who is signed in, if sign-in is on)."""
    return html.Div(
        [
            dcc.Store(id=ids.LANG_STORE, data=lang),
            dcc.Store(id=ids.THEME_STORE, storage_type="local"),
            html.Div(id=ids.RELOAD, hidden=True),
            navbar(lang, user),
            dbc.Container(dbc.Alert(id=ids.JOBS_BUSY, is_open=False, dismissable=True, color="warning",
                                    duration=15000, className="mb-2"), fluid=True),  # web.jobs.busy_notice
            dbc.Container(page_container, fluid=True, className="pb-5"),
        ],
        lang="es-PE" if lang == "es" else "en",
    )


def page_header(title: str, subtitle: str | None = None) -> html.Div:
    return html.Div([html.H2(title, className="mb-0"),
                     html.P(subtitle, className="text-body-secondary") if subtitle else None],
                    className="mb-3")


def kpi_card(label: str, value: str, detail: str | None = None, card_id: Any = None) -> dbc.Card:
    body = [html.Div(label, className="small text-body-secondary text-uppercase"),
            html.Div(value, className="fs-3 fw-semibold kpi-value")]
    if detail:
        body.append(html.Div(detail, className="small text-body-secondary"))
    kwargs = {"id": card_id} if card_id is not None else {}
    return dbc.Card(dbc.CardBody(body), className="h-100 shadow-sm", **kwargs)


# A callback's ``running=`` sets a slow note's class: shown while the callback runs (the stylesheet floats it over the
# page's corner, so the page never moves, and lets it appear only after a second, so a quick answer never flashes
# it), hidden otherwise.
SLOW_NOTE_SHOWN = "chasqui-slow-note small text-body bg-body border rounded shadow p-2"
SLOW_NOTE_HIDDEN = SLOW_NOTE_SHOWN + " d-none"


def slow_note(note_id: str, message: str) -> html.Div:
    """What a long first computation is doing, with a moving bar; hidden until a ``running=`` output shows it."""
    return html.Div([dbc.Progress(value=100, striped=True, animated=True, className="mb-1", style={"height": "6px"}),
                     html.Span(message)], id=note_id, className=SLOW_NOTE_HIDDEN, role="status")


def slow_note_running(note_id: str) -> list[tuple[Any, str, str]]:
    """The ``running=`` argument that shows the slow note ``note_id`` while a callback runs."""
    return [(Output(note_id, "className"), SLOW_NOTE_SHOWN, SLOW_NOTE_HIDDEN)]


def error_alert(message: str) -> dbc.Alert:
    """User-facing error: plain text, never a stack trace."""
    return dbc.Alert(message, color="warning", className="my-2")
