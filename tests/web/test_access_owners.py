"""Callback access from the owners map, end to end through ``web.server.install`` on a small Dash app.

No page here is the real one: the ids are spelled to mislead (``segments-...`` owned by ``/logistics``), so a
decision taken from the spelling of an id instead of its owner fails these tests.
"""

from __future__ import annotations

import pytest
from dash import Dash, Input, Output, html

from tests.fixtures.web import basic
from web import server
from web.access import OutputOwner

OWNED = {"segments-total": OutputOwner("/logistics"), "shell-echo": OutputOwner(None),
         "trace-secret-export": OutputOwner("/traceability", "trace-export")}


def _double(n: int | None) -> int:
    return (n or 0) * 2


def _small_app() -> Dash:
    app = Dash(__name__)
    app.layout = html.Div([html.Button(id="btn"), html.Div(id="segments-total"), html.Div(id="shell-echo"),
                           html.Div(id="trace-secret-export"), html.Div(id="logistics-forgotten")])
    for out in OWNED:
        app.callback(Output(out, "children"), Input("btn", "n_clicks"))(_double)
    return app


def _body(output: str, value: int = 3) -> dict:
    return {"output": f"{output}.children", "outputs": {"id": output, "property": "children"},
            "inputs": [{"id": "btn", "property": "n_clicks", "value": value}], "changedPropIds": ["btn.n_clicks"],
            "state": []}


@pytest.fixture()
def small_app(settings, users_file):
    app = _small_app()
    server.install(app, settings.replace(auth_file=users_file), OWNED)
    # a callback registered after the owners were handed over (a page that forgot to declare it)
    app.callback(Output("logistics-forgotten", "children"), Input("btn", "n_clicks"))(_double)
    return app


def test_an_output_no_page_owns_is_refused_for_everyone(small_app):
    c = small_app.server.test_client()
    for who in ("ana", "luis", "mia", "tito"):
        r = c.post("/_dash-update-component", json=_body("logistics-forgotten"), headers=basic(who))
        assert r.status_code == 403, who
        assert r.get_json() == {"error": "unknown output 'logistics-forgotten': no page owns it"}
    assert c.post("/_dash-update-component", json=_body("logistics-forgotten")).status_code == 403


def test_a_page_owned_output_follows_the_roles_of_its_page(small_app):
    c = small_app.server.test_client()
    r = c.post("/_dash-update-component", json=_body("segments-total"), headers=basic("luis"))  # logistics
    assert r.status_code == 200 and r.get_json()["response"]["segments-total"]["children"] == 6
    assert c.post("/_dash-update-component", json=_body("segments-total"), headers=basic("mia")).status_code == 403
    assert c.post("/_dash-update-component", json=_body("segments-total")).status_code == 401
    # the shell: anyone allowed to see some page (here /traceability is public, so even anonymous visitors)
    r = c.post("/_dash-update-component", json=_body("shell-echo", 5))
    assert r.status_code == 200 and r.get_json()["response"]["shell-echo"]["children"] == 10
    # an action: the page's roles are not enough
    assert c.post("/_dash-update-component", json=_body("trace-secret-export"),
                  headers=basic("luis")).status_code == 403
    assert c.post("/_dash-update-component", json=_body("trace-secret-export"),
                  headers=basic("tito")).status_code == 200


def test_install_refuses_callbacks_without_an_owner(settings):
    app = _small_app()
    app.callback(Output("logistics-forgotten", "children"), Input("btn", "n_clicks"))(_double)
    with pytest.raises(ValueError, match=r"without an owner for outputs \['logistics-forgotten'\]"):
        server.install(app, settings, OWNED)


def test_the_real_app_recognises_dash_s_own_router(open_app):
    """Dash's page router (registered by Dash on the first request) is found by where its function lives."""
    open_app.server.test_client().get("/_dash-dependencies")  # Dash's first-request set-up
    rules = server.callback_rules(open_app.callback_map, {})
    assert len(rules.routers) == 1
    router, location = next(iter(rules.routers.items()))
    assert any(dep["id"] == location and dep["property"] == "pathname"
               for dep in open_app.callback_map[router]["inputs"])
    assert all(server._defined_by_dash(open_app.callback_map[cb]["callback"]) for cb in rules.framework)
