"""Logistics: delay-risk map of Peru, high-risk orders with P50/P90 windows, region drill-down, model."""

import dash

from components import ids, logistics

dash.register_page(__name__, path=ids.PATH_LOGISTICS, name="Logistics", order=1)


def layout(start: str | None = None, end: str | None = None, carrier: str | None = None, mode: str | None = None,
           category: str | None = None, dc: str | None = None, metric: str | None = None,
           region: str | None = None, **_ignored: object):
    return logistics.layout(start=start, end=end, carrier=carrier, mode=mode, category=category, dc=dc,
                            metric=metric, region=region)
