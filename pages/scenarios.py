"""Scenarios: what-if planning with Monte Carlo bands (inputs live in the URL)."""

import dash

from components import ids, scenarios
from components.i18n import current_lang

dash.register_page(__name__, path=ids.PATH_SCENARIOS, name="Escenarios")


def layout(**kwargs):
    return scenarios.layout(current_lang(), **kwargs)
