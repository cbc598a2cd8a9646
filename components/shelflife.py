"""Traceability page: the open lot's predicted shelf life at arrival (its P10–P90 band, what drove it and a
what-if). Public content, like the product and its origin: no buyer, quantity or document is shown.

The callback passes forecasts as plain mappings (``LotForecast.to_dict()`` shape: ``shipments`` with
``remaining_days_p10/p50/p90``, ``at_risk``, ``grade``, ``min_market_days``, ``route``, ``transit_days``,
``planned_voyage_days``, ``voyage_days``, ``hours_unobserved``, ``arrived``, ``recorded_remaining_days``,
``recorded_grade`` (the quality recorded when the buyer received it, None before) and ``drivers`` with ``key``, ``label_es``, ``label_en``, ``days``,
``value``, ``unit``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import translator
from components.theme import COLORWAY, style

# what the what-if inputs show when the page opens ("if this lot waits 12 h at 15 °C")
DEFAULT_HOURS = 12
DEFAULT_TEMP_C = 15

TEXT = {
    "es": {
        "shelf.title": "Vida útil prevista a la llegada",
        "shelf.empty": "Abra un lote perecible para ver cuántos días de vida comercial le quedarán al llegar al "
                       "comprador.",
        "shelf.na": "No aplica: este lote no es perecible o no tiene un modelo de vida útil (se pronostica para "
                    "{products}).",
        "shelf.no_model": "Aún no hay un modelo de vida útil entrenado. Ejecute `python app.py train`.",
        "shelf.error": "No se pudo pronosticar la vida útil de este lote: {msg}",
        "shelf.hours_bad": "Horas adicionales: un número entre 0 y {max}.",
        "shelf.temp_bad": "Temperatura: un número entre {lo} y {hi} °C.",
        "shelf.temp_missing": "Indique la temperatura de esas horas.",
        "shelf.whatif": "¿Y si el lote espera", "shelf.whatif.h": "h a", "shelf.whatif.c": "°C antes de zarpar?",
        "shelf.days": "{n} días", "shelf.band": "Banda P10–P90: {lo}–{hi} días",
        "shelf.at_risk": "En riesgo", "shelf.ok": "Con vida de mercado",
        "shelf.min": "Vida mínima de mercado de {product}: {n} días · grado {grade}",
        "shelf.transit": "Al llegar al comprador: {transit} días desde la cosecha, de ellos {voyage} días de viaje "
                         "previstos a la temperatura óptima (hasta que lleguen las lecturas del contenedor).",
        "shelf.unobserved": "{h} h sin lecturas cuentan al ritmo de la temperatura óptima.",
        "shelf.worst": "Se muestra el envío con menos vida; {n} envíos en total.",
        "shelf.drivers": "Qué explica el pronóstico (días)", "shelf.total": "P50 a la llegada",
        "shelf.col.driver": "Factor", "shelf.col.exposure": "Exposición", "shelf.col.days": "Días",
        "shelf.col.dest": "Destino", "shelf.col.transit": "Tránsito (días)", "shelf.col.status": "Estado",
        "shelf.whatif.result": "Si espera {h} h a {t} °C antes de zarpar: P50 {p50} días ({delta} días), "
                               "banda {lo}–{hi} días.",
        "shelf.model": "Modelo: {name}",
        "shelf.arrived": "Llegó al comprador {transit} días después de la cosecha, con las lecturas del contenedor "
                         "durante los {voyage} días de viaje.",
        "shelf.recorded": "Registrado a la llegada: {n} días · grado {grade} (pronóstico P50 {p50} días, "
                          "desvío {delta} días)",
        "shelf.col.recorded": "Registrado",
        "shelf.in_transit": "En camino",
    },
    "en": {
        "shelf.title": "Predicted shelf life at arrival",
        "shelf.empty": "Open a perishable lot to see how many days of market life it will have left when it reaches "
                       "the buyer.",
        "shelf.na": "Does not apply: this lot is not perishable or has no shelf-life model (forecasts cover "
                    "{products}).",
        "shelf.no_model": "No shelf-life model has been trained yet. Run `python app.py train`.",
        "shelf.error": "The shelf life of this lot could not be forecast: {msg}",
        "shelf.hours_bad": "Extra hours: a number between 0 and {max}.",
        "shelf.temp_bad": "Temperature: a number between {lo} and {hi} °C.",
        "shelf.temp_missing": "Enter the temperature of those hours.",
        "shelf.whatif": "What if the lot waits", "shelf.whatif.h": "h at", "shelf.whatif.c": "°C before it sails?",
        "shelf.days": "{n} days", "shelf.band": "P10–P90 band: {lo}–{hi} days",
        "shelf.at_risk": "At risk", "shelf.ok": "Market life left",
        "shelf.min": "Minimum market life of {product}: {n} days · grade {grade}",
        "shelf.transit": "On arrival at the buyer: {transit} days after harvest, {voyage} of them the planned voyage "
                         "at the optimum temperature (until the container's own readings arrive).",
        "shelf.unobserved": "{h} h without readings count at the optimum temperature's rate.",
        "shelf.worst": "Showing the shipment with the least life; {n} shipments in all.",
        "shelf.drivers": "What drives the forecast (days)", "shelf.total": "P50 at arrival",
        "shelf.col.driver": "Driver", "shelf.col.exposure": "Exposure", "shelf.col.days": "Days",
        "shelf.col.dest": "Destination", "shelf.col.transit": "Transit (days)", "shelf.col.status": "Status",
        "shelf.whatif.result": "If it waits {h} h at {t} °C before sailing: P50 {p50} days ({delta} days), "
                               "band {lo}–{hi} days.",
        "shelf.model": "Model: {name}",
        "shelf.arrived": "Reached the buyer {transit} days after harvest, with the container's readings over the "
                         "{voyage} days of the voyage.",
        "shelf.recorded": "Recorded at arrival: {n} days · grade {grade} (forecast P50 {p50} days, {delta} days off)",
        "shelf.col.recorded": "Recorded",
        "shelf.in_transit": "On its way",
    },
}
tr = translator(TEXT)


def panel(lang: str) -> dbc.Card:
    """The layout block: the what-if inputs and the forecast (filled by the callback)."""
    whatif = html.Div([
        html.Span(tr("shelf.whatif", lang), className="me-2"),
        dbc.Input(id=ids.TRACE_SHELF_HOURS, type="number", value=DEFAULT_HOURS, step=1, debounce=True,
                  style={"width": "6rem"}, className="me-2", size="sm"),
        html.Span(tr("shelf.whatif.h", lang), className="me-2"),
        dbc.Input(id=ids.TRACE_SHELF_TEMP, type="number", value=DEFAULT_TEMP_C, step=0.5, debounce=True,
                  style={"width": "6rem"}, className="me-2", size="sm"),
        html.Span(tr("shelf.whatif.c", lang)),
    ], className="d-flex flex-wrap align-items-center small mb-3")
    return dbc.Card([
        dbc.CardHeader(tr("shelf.title", lang)),
        dbc.CardBody([whatif, dcc.Loading(html.Div(placeholder(lang), id=ids.TRACE_SHELF))]),
    ], className="mb-3")


def placeholder(lang: str) -> html.Div:
    return html.Div(tr("shelf.empty", lang), className="text-body-secondary small")


def not_applicable(products: Sequence[str], lang: str) -> dbc.Alert:
    """A lot without a shelf-life model ("does not apply"), naming the products that have one."""
    return dbc.Alert(tr("shelf.na", lang, products=", ".join(products)), color="secondary", className="py-2 mb-0")


def message(kind: str, lang: str, **kw: Any) -> dbc.Alert:
    """``no_model`` (info), ``error``, ``hours_bad``, ``temp_bad``, ``temp_missing`` (warnings)."""
    color = {"no_model": "info", "error": "warning"}.get(kind, "warning")
    return dbc.Alert(tr(f"shelf.{kind}", lang, **kw), color=color, className="py-2 mb-0")


def _d(x: float | None) -> str:
    return fmt.number(x, 1)


def _worst(fc: Mapping[str, Any]) -> Mapping[str, Any]:
    return min(fc["shipments"], key=lambda s: s["remaining_days_p50"])


def _risk_badge(ship: Mapping[str, Any], lang: str) -> dbc.Badge:
    at_risk = bool(ship["at_risk"])
    return dbc.Badge(tr("shelf.at_risk" if at_risk else "shelf.ok", lang), color="danger" if at_risk else "success",
                     className="ms-2 align-middle")


def _destination(ship: Mapping[str, Any]) -> str:
    """The destination country and port code of a route key ``ORIGIN-DEST-mode`` (never the buyer)."""
    parts = str(ship.get("route") or "").split("-")
    dest = parts[1] if len(parts) == 3 else ""
    return f"{dest[:2]} ({dest})" if dest else "?"


def _driver_label(d: Mapping[str, Any], lang: str) -> str:
    return str(d.get("label_en" if lang == "en" else "label_es") or d.get("key"))


def drivers_figure(ship: Mapping[str, Any], lang: str, theme: str) -> go.Figure:
    """Waterfall from the nominal life to the P50: the drivers add up to it (the last bar is their total)."""
    drivers = list(ship["drivers"])
    x = [_driver_label(d, lang) for d in drivers] + [tr("shelf.total", lang)]
    y = [float(d["days"]) for d in drivers] + [float(ship["remaining_days_p50"])]
    measure = ["absolute"] + ["relative"] * (len(drivers) - 1) + ["total"]
    fig = go.Figure(go.Waterfall(
        x=x, y=y, measure=measure, text=[_d(v) for v in y], textposition="outside",
        increasing={"marker": {"color": COLORWAY[3]}}, decreasing={"marker": {"color": COLORWAY[0]}},
        totals={"marker": {"color": COLORWAY[1]}}, connector={"line": {"width": 1, "color": "#adb5bd"}},
        hovertemplate="%{x}: %{y:.1f}<extra></extra>"))
    fig.update_layout(showlegend=False, yaxis_title=tr("shelf.col.days", lang))
    return style(fig, theme, height=320)


def _drivers_table(ship: Mapping[str, Any], lang: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(tr(k, lang)) for k in ("shelf.col.driver", "shelf.col.exposure",
                                                               "shelf.col.days")]))
    rows = []
    for d in ship["drivers"]:
        value = d.get("value")
        exposure = f"{fmt.number(value, 1)} {d.get('unit') or ''}".strip() if value is not None else "—"
        rows.append(html.Tr([html.Td(_driver_label(d, lang)), html.Td(exposure),
                             html.Td(f"{float(d['days']):+.1f}", className="text-end")]))
    rows.append(html.Tr([html.Th(tr("shelf.total", lang)), html.Td(""),
                         html.Th(_d(ship["remaining_days_p50"]), className="text-end")]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", className="small mb-0")


def _recorded_cell(ship: Mapping[str, Any], lang: str) -> str:
    """The quality recorded at arrival (days and grade), or "on its way" for a shipment not received yet."""
    rec = ship.get("recorded_remaining_days")
    if rec is None:
        return tr("shelf.in_transit", lang) if not ship.get("arrived") else "—"
    return f"{_d(rec)} ({ship.get('recorded_grade') or '?'})"


def _shipments_table(fc: Mapping[str, Any], lang: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(tr(k, lang)) for k in ("shelf.col.dest", "shelf.col.transit")]
                              + [html.Th(q) for q in ("P10", "P50", "P90")]
                              + [html.Th(tr(k, lang)) for k in ("shelf.col.recorded", "shelf.col.status")]))
    rows = [html.Tr([html.Td(_destination(s)), html.Td(_d(s["transit_days"])), html.Td(_d(s["remaining_days_p10"])),
                     html.Td(_d(s["remaining_days_p50"])), html.Td(_d(s["remaining_days_p90"])),
                     html.Td(_recorded_cell(s, lang)), html.Td(_risk_badge(s, lang))]) for s in fc["shipments"]]
    return dbc.Table([head, html.Tbody(rows)], size="sm", className="small mt-2 mb-0")


def recorded_note(ship: Mapping[str, Any], lang: str) -> html.Div | None:
    """Recorded at arrival against the forecast, for a shipment the buyer received (None otherwise)."""
    rec = ship.get("recorded_remaining_days")
    if rec is None:
        return None
    delta = float(ship["remaining_days_p50"]) - float(rec)
    return html.Div(tr("shelf.recorded", lang, n=_d(rec), grade=ship.get("recorded_grade") or "?",
                       p50=_d(ship["remaining_days_p50"]), delta=f"{delta:+.1f}"),
                    className="small fw-semibold", id=ids.TRACE_SHELF_RECORDED)


def whatif_note(whatif: Mapping[str, Any], change_days: float, lang: str) -> html.Div:
    ship = _worst(whatif)
    text = tr("shelf.whatif.result", lang, h=fmt.number(ship["extra_hours"], 0), t=fmt.number(ship["at_temp_c"], 1),
              p50=_d(ship["remaining_days_p50"]), delta=f"{change_days:+.1f}", lo=_d(ship["remaining_days_p10"]),
              hi=_d(ship["remaining_days_p90"]))
    return html.Div([html.Span(text), _risk_badge(ship, lang)], className="mt-2 fw-semibold")


def forecast_view(fc: Mapping[str, Any], product_name: str, lang: str, theme: str,
                  whatif: Mapping[str, Any] | None = None, change_days: float | None = None,
                  whatif_error: Any = None) -> html.Div:
    """The band of the shipment with the least life, its drivers (waterfall and table), every shipment when the
    lot was split, and the what-if's result (or why the what-if could not be run)."""
    ship = _worst(fc)
    head = html.Div([
        html.Span(tr("shelf.days", lang, n=_d(ship["remaining_days_p50"])), className="fs-3 fw-semibold"),
        _risk_badge(ship, lang),
        html.Div(tr("shelf.band", lang, lo=_d(ship["remaining_days_p10"]), hi=_d(ship["remaining_days_p90"])),
                 className="small"),
        html.Div(tr("shelf.min", lang, product=product_name, n=_d(ship["min_market_days"]), grade=ship["grade"]),
                 className="small"),
    ], className="mb-2")
    recorded = recorded_note(ship, lang)
    if recorded is not None:
        head.children.append(recorded)
    if ship.get("arrived"):
        notes = [tr("shelf.arrived", lang, transit=_d(ship["transit_days"]), voyage=_d(ship.get("voyage_days")))]
    else:
        notes = [tr("shelf.transit", lang, transit=_d(ship["transit_days"]),
                    voyage=_d(ship["planned_voyage_days"]))]
    if ship.get("hours_unobserved"):
        notes.append(tr("shelf.unobserved", lang, h=fmt.number(ship["hours_unobserved"], 0)))
    if len(fc["shipments"]) > 1:
        notes.append(tr("shelf.worst", lang, n=len(fc["shipments"])))
    left: list[Any] = [head, html.Div(" ".join(notes), className="small text-body-secondary")]
    if len(fc["shipments"]) > 1:
        left.append(_shipments_table(fc, lang))
    if whatif is not None and change_days is not None:
        left.append(whatif_note(whatif, change_days, lang))
    elif whatif_error is not None:
        left.append(html.Div(whatif_error, className="mt-2"))
    left.append(html.Div(tr("shelf.model", lang, name=fc.get("model", "")), className="small text-body-secondary mt-2"))
    right = [html.H6(tr("shelf.drivers", lang)),
             dcc.Graph(figure=drivers_figure(ship, lang, theme), config={"displayModeBar": False}),
             _drivers_table(ship, lang)]
    return dbc.Row([dbc.Col(left, md=5), dbc.Col(right, md=7)], className="g-3")
