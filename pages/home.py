"""Overview: KPIs and trends by month and region, filterable by date range; live tiles."""

import dash

from components import ids, overview

dash.register_page(__name__, path=ids.PATH_OVERVIEW, name="Overview", order=0)


def layout(start: str | None = None, end: str | None = None, **_ignored: object):
    return overview.layout(start=start, end=end)
