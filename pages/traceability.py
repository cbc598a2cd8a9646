"""Traceability: look up an agro lot, follow its journey, verify it against the ledger, mock recall."""

import dash

from components import ids, traceability

dash.register_page(__name__, path=ids.PATH_TRACEABILITY, name="Traceability", order=4)


def layout(lot: str | None = None, gtin: str | None = None, **_ignored: object):
    return traceability.layout(lot=lot, gtin=gtin)
