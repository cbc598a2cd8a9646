"""Overview page layout and figures."""

from __future__ import annotations

from datetime import date

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from components import format as fmt
from components import ids
from components.i18n import current_lang, t
from components.layout import kpi_card, page_header
from components.live import live_section
from components.theme import RISK_SCALE, style


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
            dcc.Loading(dbc.Row(id=ids.OVERVIEW_KPIS, className="g-3 mb-3")),
            dbc.Row(
                [
                    dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(id=ids.OVERVIEW_TREND, config={"displaylogo": False, "displayModeBar": "hover"}))),
                            lg=7),
                    dbc.Col(dbc.Card(dbc.CardBody(dcc.Graph(id=ids.OVERVIEW_REGIONS, config={"displaylogo": False, "displayModeBar": "hover"}))),
                            lg=5),
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
    return style(fig, theme, height=max(380, 22 * len(labels) + 80))
