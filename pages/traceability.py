"""Traceability: look up an agro lot, follow its journey, verify it against the ledger, mock recall."""

import dash

from components import traceability

dash.register_page(__name__, path="/traceability", name="Traceability", order=4)


def layout(lot: str | None = None, gtin: str | None = None, **_ignored: object):
    return traceability.layout(lot=lot, gtin=gtin)
