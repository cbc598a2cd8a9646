"""Sourcing: sustainable, ethical suppliers for a Lima fine-dining kitchen."""

import dash

from components import ids, sourcing

dash.register_page(__name__, path=ids.PATH_SOURCING, name="Sourcing", order=5)


def layout(ing: str | None = None, w: str | None = None, minq: str | None = None, **_ignored: object):
    return sourcing.layout(ing=ing, w=w, minq=minq)
