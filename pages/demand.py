"""Demand and stock: weekly forecasts per DC x category with their band, backtest, safety stock and scenarios."""

import dash

from components import demand, ids

dash.register_page(__name__, path=ids.PATH_DEMAND, name="Demand", order=55)


def layout(dc: str | None = None, category: str | None = None, horizon: str | None = None, level: str | None = None,
           scenario: str | None = None, **extra: object):
    return demand.layout(dc=dc, category=category, horizon=horizon, level=level, scenario=scenario, **extra)
