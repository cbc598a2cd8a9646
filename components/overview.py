"""Overview page layout and figures: KPIs, the monthly trend, and the regions as a map of Peru (revenue or
orders, late rate on hover) beside their ranking."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from components import format as fmt
from components import ids, maps
from components.i18n import current_lang, t, translator
from components.layout import kpi_card, page_header, slow_note
from components.live import live_section
from components.theme import RISK_SCALE, blank_figure, style

MAP_METRICS = ("revenue", "orders")
TEXT = {
    "es": {"map": "Mapa de regiones", "map.revenue": "Ingresos", "map.orders": "Pedidos",
           "map.none": "Sin mapa: las regiones de estos datos no son del Perú. Vea el ranking.",
           "slow": "Preparando los datos: la primera consulta tras un cambio de datos valida los pedidos y arma "
                   "el resumen diario que usan las siguientes (con el motor Spark puede tardar un minuto).",
           "map.help": "Color: ingresos o pedidos (escala logarítmica). Pase el cursor por una región para ver "
                       "su tasa de retraso; el ranking la muestra en color."},
    "en": {"map": "Map of the regions", "map.revenue": "Revenue", "map.orders": "Orders",
           "map.none": "No map: the regions in this data are not Peru's. See the ranking.",
           "slow": "Preparing the data: the first query after the data changes validates the orders and builds "
                   "the daily summary the next ones use (on the Spark engine this can take a minute).",
           "map.help": "Colour: revenue or orders (log scale). Hover over a region for its late rate; the "
                       "ranking shows it in colour."},
}
tr = translator(TEXT)
MAP_SCALE = [[0.0, "#d4e6ee"], [0.5, "#4f94b0"], [1.0, "#0b3c5d"]]


def parse_map_metric(value: object) -> str:
    return value if value in MAP_METRICS else "revenue"


def _parse_date(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except ValueError:
        return None


def layout(start: str | None = None, end: str | None = None) -> html.Div:
    lang = current_lang()
    return html.Div(
        [
            dcc.Store(id=ids.OVERVIEW_QUERY), html.Div(id=ids.OVERVIEW_QUERY_SYNCED, hidden=True),
            page_header(t("overview.title", lang), t("app.tagline", lang)),
            dbc.Row(
                dbc.Col(
                    [html.Label(t("overview.dates", lang), className="form-label small me-2"),
                     dcc.DatePickerRange(id=ids.OVERVIEW_DATES, start_date=_parse_date(start),
                                         end_date=_parse_date(end), display_format="YYYY-MM-DD",
                                         start_date_placeholder_text=t("overview.from", lang),
                                         end_date_placeholder_text=t("overview.to", lang),
                                         clearable=True)],
                    width="auto"),
                className="mb-3"),
            html.Div(id=ids.OVERVIEW_STATUS),
            slow_note(ids.OVERVIEW_SLOW, tr("slow", lang)),
            dcc.Loading(dbc.Row(id=ids.OVERVIEW_KPIS, className="g-3 mb-3")),
            dbc.Row(dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(
                id=ids.OVERVIEW_TREND, config={"displaylogo": False, "displayModeBar": "hover"},
                figure=blank_figure(t("common.computing", lang), height=380))))), className="g-3 mb-3"),
            dbc.Row(
                [
                    dbc.Col(dbc.Card([
                        dbc.CardHeader(html.Div([
                            html.Span(tr("map", lang), className="me-3 fw-semibold"),
                            dbc.RadioItems(id=ids.OVERVIEW_MAP_METRIC, value="revenue", inline=True,
                                           className="small",
                                           options=[{"label": tr(f"map.{m}", lang), "value": m} for m in MAP_METRICS]),
                        ], className="d-flex flex-wrap align-items-center")),
                        dbc.CardBody([dcc.Graph(id=ids.OVERVIEW_MAP, config=maps.graph_config(),
                                                figure=blank_figure(t("common.computing", lang), height=560)),
                                      html.Div(tr("map.help", lang), className="small text-body-secondary")]),
                    ], className="h-100"), lg=6),
                    dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(
                        id=ids.OVERVIEW_REGIONS, config={"displaylogo": False, "displayModeBar": "hover"},
                        figure=blank_figure(t("common.computing", lang), height=560))), className="h-100"), lg=6),
                ],
                className="g-3 mb-3",
            ),
            html.Div(live_section(lang), id=ids.OVERVIEW_LIVE),
        ]
    )


def kpi_row(kpis: dict, lang: str) -> list[dbc.Col]:
    cards = [
        kpi_card(t("kpi.orders", lang), fmt.integer(kpis["orders"])),
        kpi_card(t("kpi.revenue", lang), fmt.soles_compact(kpis["revenue_pen"]), fmt.soles(kpis["revenue_pen"])),
        kpi_card(t("kpi.on_time", lang), fmt.pct(kpis["on_time_rate"])),
        kpi_card(t("kpi.avg_days", lang), fmt.number(kpis["avg_delivery_days"], 2)),
    ]
    return [dbc.Col(c, xs=12, sm=6, lg=3) for c in cards]


def month_step(n_months: int) -> int:
    """Label every k-th month so that at most eight labels share the axis (quarters, semesters, years)."""
    return next(k for k in (1, 2, 3, 6, 12, 24, 10**9) if -(-n_months // k) <= 8)


def trend_figure(months: list, orders: list, revenue: list, late_rate: list, lang: str, theme: str) -> go.Figure:
    """Monthly revenue bars and late-rate line; months labelled in the UI language."""
    labels = [fmt.month_label(m, lang) for m in months]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_bar(x=labels, y=revenue, name=t("axis.revenue", lang), marker_color="#1f6f8b",
                hovertemplate="%{x}<br>S/ %{y:,.0f}<extra></extra>")
    fig.add_scatter(x=labels, y=late_rate, name=t("axis.late_rate", lang), mode="lines+markers",
                    line={"color": "#c8102e"}, secondary_y=True,
                    customdata=orders,
                    hovertemplate="%{x}<br>%{y:.1%} · %{customdata:,} " + t("axis.orders", lang).lower()
                    + "<extra></extra>")
    fig.update_xaxes(tickangle=0, automargin=True, dtick=month_step(len(labels)))
    fig.update_yaxes(title_text=t("axis.revenue", lang), secondary_y=False, tickprefix="S/ ")
    fig.update_yaxes(title_text=t("axis.late_rate", lang), secondary_y=True, tickformat=".0%", rangemode="tozero")
    fig.update_layout(title=t("overview.trend", lang), legend={"orientation": "h", "y": -0.2}, hovermode="x unified")
    return style(fig, theme, height=380)


def region_figure(labels: list[str], revenue: list, late_rate: list, orders: list, lang: str, theme: str,
                  peru: bool) -> go.Figure:
    fig = go.Figure(go.Bar(
        x=revenue, y=labels, orientation="h",
        marker={"color": late_rate, "colorscale": RISK_SCALE, "cmin": 0,
                "cmax": max(0.3, max(late_rate or [0])), "colorbar": {"title": t("axis.late_rate", lang),
                                                                     "tickformat": ".0%"}},
        customdata=list(zip(late_rate, orders)),
        hovertemplate="%{y}<br>S/ %{x:,.0f}<br>" + t("axis.late_rate", lang)
        + ": %{customdata[0]:.1%}<br>%{customdata[1]:,} " + t("axis.orders", lang).lower() + "<extra></extra>",
    ))
    fig.update_layout(title=t("overview.regions" if peru else "overview.regions_other", lang),
                      yaxis={"autorange": "reversed"}, xaxis={"tickprefix": "S/ "})
    return style(fig, theme, height=560)


def log_ticks(lo: float, hi: float) -> list[float]:
    """Round values (1, 2, 5 × 10ⁿ) between ``lo`` and ``hi`` for a logarithmic colour bar (the ends when
    fewer than two fall inside)."""
    ticks = [m * 10.0**e for e in range(0, 13) for m in (1, 2, 5) if lo <= m * 10.0**e <= hi]
    if len(ticks) > 6:
        ticks = [v for v in ticks if str(v).startswith("1")] or ticks
    return ticks if len(ticks) >= 2 else sorted({lo, hi})


def _tick_text(v: float, metric: str) -> str:
    return fmt.soles_compact(v).replace(".0 ", " ") if metric == "revenue" else fmt.integer(v)


def region_map(rows: Sequence[Mapping[str, Any]], outlines: Mapping[str, Any], names: Mapping[str, str],
               metric: str, lang: str, theme: str) -> dict[str, Any]:
    """Peru's regions coloured by revenue or orders (``rows``: ``region``, ``revenue_pen``, ``orders``,
    ``late_rate``), the late rate and both totals on hover.

    The colour follows log10 of the value (the colour bar is labelled in soles or orders): Lima alone sells
    as much as most regions together, and a linear scale would leave every other region the same pale blue."""
    key = "revenue_pen" if metric == "revenue" else "orders"
    raw = {r["region"]: r.get(key) for r in rows}
    values = {k: math.log10(v) if v is not None and v > 0 else None for k, v in raw.items()}
    hover = {r["region"]: (f"<b>{names.get(r['region'], r['region'])}</b>"
                           f"<br>{t('axis.revenue', lang)}: {fmt.soles(r.get('revenue_pen'))}"
                           f"<br>{t('axis.orders', lang)}: {fmt.integer(r.get('orders'))}"
                           f"<br>{t('axis.late_rate', lang)}: {fmt.pct(r.get('late_rate'))}") for r in rows}
    have = [v for v in raw.values() if v is not None and v > 0]
    lo, hi = (min(have), max(have)) if have else (1.0, 10.0)
    ticks = log_ticks(lo, hi)
    colorbar = {"title": {"text": tr(f"map.{metric}", lang)}, "tickvals": [math.log10(v) for v in ticks],
                "ticktext": [_tick_text(v, metric) for v in ticks]}
    return maps.region_map(outlines, values, names, hover, theme, colorscale=MAP_SCALE, colorbar=colorbar,
                           zmin=math.log10(lo), zmax=math.log10(hi) if hi > lo else math.log10(lo) + 1,
                           height=560, lang=lang)
