"""Live tiles for the Overview page: eight numbers with 60-minute sparklines and an alert feed.

``live_section(lang)`` is the layout block (the page includes it); ``render(snapshot, lang, theme)``
turns the shared live state (a plain dict from analytics) into tile texts, sparkline figures, the
alert list and a status line, in :data:`TILES` order.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import translator
from components.theme import COLORWAY

REFRESH_MS = 1000  # poll every second: an event reaches the tile well within 2 s
TILES = ("orders_per_min", "revenue_today", "high_risk_share", "shipments_in_transit",
         "cold_chain_excursions", "anomalies", "consumer_lag", "dead_lettered")
ALERT_TILES = {"cold_chain_excursions", "anomalies", "dead_lettered"}

TEXT = {
    "es": {
        "live.title": "En vivo · últimos 60 minutos",
        "tile.orders_per_min": "Pedidos por minuto", "tile.revenue_today": "Ingresos de hoy",
        "tile.high_risk_share": "Pedidos nuevos con alto riesgo de retraso",
        "tile.shipments_in_transit": "Envíos en tránsito", "tile.cold_chain_excursions": "Excursiones de cadena de frío",
        "tile.anomalies": "Anomalías de sensores", "tile.consumer_lag": "Retraso del consumidor (mensajes)",
        "tile.dead_lettered": "Eventos rechazados (DLQ)",
        "alerts.title": "Alertas", "alerts.none": "Sin alertas en este momento.",
        "alert.excursion.high": "{product}: {temp} °C, sobre el límite de {limit}",
        "alert.excursion.low": "{product}: {temp} °C, bajo el límite de {limit}",
        "alert.excursion": "{product}: {temp} °C fuera de rango",
        "alert.anomaly": "{product}: lectura anómala ({temp} °C, {hum} % HR)",
        "alert.shipment_exception": "Envío {shipment} ({carrier}) con incidencia: {reason}",
        "alert.where": "sensor {device} · {ref}",
        "status.waiting": "Esperando eventos del flujo en vivo…",
        "status.updated": "Actualizado {ago} · {applied} eventos aplicados · {dead} rechazados · {dups} duplicados",
        "status.ago_s": "hace {n} s", "status.ago_m": "hace {n} min",
        "status.scorer": "Riesgo: {scorer}",
        "alert.shelf_life": "{product} · lote {lot} → {dest}: {p50} días de vida útil previstos a la llegada "
                            "(P10–P90 {p10}–{p90}), bajo el mínimo de {min} días",
        "alert.shelf_life.live": "según las lecturas en vivo", "alert.shelf_life.plan": "según el viaje previsto",
    },
    "en": {
        "live.title": "Live · last 60 minutes",
        "tile.orders_per_min": "Orders per minute", "tile.revenue_today": "Revenue today",
        "tile.high_risk_share": "New orders at high late risk",
        "tile.shipments_in_transit": "Shipments in transit", "tile.cold_chain_excursions": "Cold-chain excursions",
        "tile.anomalies": "Sensor anomalies", "tile.consumer_lag": "Consumer lag (messages)",
        "tile.dead_lettered": "Rejected events (DLQ)",
        "alerts.title": "Alerts", "alerts.none": "No alerts right now.",
        "alert.excursion.high": "{product}: {temp} °C, above the {limit} limit",
        "alert.excursion.low": "{product}: {temp} °C, below the {limit} limit",
        "alert.excursion": "{product}: {temp} °C out of range",
        "alert.anomaly": "{product}: anomalous reading ({temp} °C, {hum} % RH)",
        "alert.shipment_exception": "Shipment {shipment} ({carrier}) exception: {reason}",
        "alert.where": "logger {device} · {ref}",
        "status.waiting": "Waiting for live events…",
        "status.updated": "Updated {ago} · {applied} events applied · {dead} rejected · {dups} duplicates",
        "status.ago_s": "{n} s ago", "status.ago_m": "{n} min ago",
        "status.scorer": "Risk: {scorer}",
        "alert.shelf_life": "{product} · lot {lot} → {dest}: {p50} days of shelf life predicted at arrival "
                            "(P10–P90 {p10}–{p90}), under the {min}-day minimum",
        "alert.shelf_life.live": "from the live readings", "alert.shelf_life.plan": "from the planned voyage",
    },
}
t = translator(TEXT)

# product names and limits for alert texts (components never import analytics: a small copy)
PRODUCT_NAMES = {
    "es": {"blueberries": "Arándanos", "asparagus": "Espárragos", "grapes": "Uvas", "avocados": "Paltas",
           "mangoes": "Mangos", "fresh_fish": "Pescado fresco", "dairy": "Lácteos", "vaccines": "Vacunas"},
    "en": {"blueberries": "Blueberries", "asparagus": "Asparagus", "grapes": "Grapes", "avocados": "Avocados",
           "mangoes": "Mangoes", "fresh_fish": "Fresh fish", "dairy": "Dairy", "vaccines": "Vaccines"},
}
LIMITS_C = {"blueberries": (0, 2), "asparagus": (0, 2), "grapes": (-1, 1), "avocados": (5, 7), "mangoes": (10, 13),
            "fresh_fish": (0, 4), "dairy": (1, 4), "vaccines": (2, 8)}


def _tile(key: str, lang: str) -> dbc.Col:
    return dbc.Col(
        dbc.Card(dbc.CardBody([
            html.Div(t(f"tile.{key}", lang), className="small text-muted text-truncate"),
            html.Div("—", id=ids.live_tile_value(key), className="fs-4 fw-semibold"),
            dcc.Graph(id=ids.live_tile_spark(key), figure=sparkline([], [], key, "light"),
                      config={"displayModeBar": False, "staticPlot": False}, style={"height": "56px"}),
        ], className="py-2")),
        xs=12, sm=6, lg=3,
    )


def live_section(lang: str = "es") -> html.Div:
    """The live block: tiles, alert feed, status line and the polling interval."""
    return html.Div(
        [
            html.H5(t("live.title", lang), className="mt-2"),
            html.Div(t("status.waiting", lang), id=ids.LIVE_STATUS, className="small text-muted mb-2"),
            dbc.Row([_tile(k, lang) for k in TILES], className="g-2 mb-2"),
            dbc.Card(dbc.CardBody([html.H6(t("alerts.title", lang)),
                                   html.Ul(html.Li(t("alerts.none", lang)), id=ids.LIVE_ALERTS,
                                           className="list-unstyled small mb-0",
                                           style={"maxHeight": "220px", "overflowY": "auto"})])),
            dcc.Interval(id=ids.LIVE_INTERVAL, interval=REFRESH_MS, n_intervals=0),
        ],
        id=ids.LIVE_SECTION,
    )


def tile_text(key: str, value: float | None, lang: str) -> str:
    if value is None:
        return "—"
    if key == "revenue_today":
        return fmt.soles(value)
    if key == "high_risk_share":
        return fmt.pct(value)
    if key == "orders_per_min":
        return fmt.number(value, 1)
    return fmt.integer(value)


def sparkline(values: list[float], minutes: list[str], key: str, theme: str) -> dict[str, Any]:
    """A 60-point sparkline as a plain figure dict (cheap to build and small to send every second).

    Transparent background and no template, so it sits on light and dark cards alike.
    """
    color = COLORWAY[0] if key in ALERT_TILES else COLORWAY[1]
    trace: dict[str, Any] = {"type": "scatter", "y": list(values), "mode": "lines", "fill": "tozeroy",
                             "line": {"width": 1.5, "color": color}, "hovertemplate": "%{x}: %{y}<extra></extra>"}
    if minutes:
        trace["x"] = list(minutes)
    return {"data": [trace], "layout": {
        "height": 56, "margin": {"l": 0, "r": 0, "t": 2, "b": 0}, "showlegend": False,
        "paper_bgcolor": "rgba(0,0,0,0)", "plot_bgcolor": "rgba(0,0,0,0)",
        "font": {"color": "#adb5bd" if theme == "dark" else "#495057", "size": 11},
        "xaxis": {"visible": False, "fixedrange": True},
        "yaxis": {"visible": False, "rangemode": "tozero", "fixedrange": True},
        "hoverlabel": {"bgcolor": "#212529" if theme == "dark" else "#ffffff"}}}


def _ref(a: dict[str, Any]) -> str:
    return a.get("shipment_id") or a.get("lot_id") or ""


def alert_items(alerts: list[dict[str, Any]], lang: str) -> list[html.Li]:
    if not alerts:
        return [html.Li(t("alerts.none", lang), className="text-muted")]
    names = PRODUCT_NAMES["en" if lang == "en" else "es"]
    out = []
    for a in alerts[:30]:
        kind = a.get("kind")
        when = ""
        try:
            when = fmt.lima_datetime(datetime.fromisoformat(a["ts"]), lang).split(", ")[-1]
        except (KeyError, ValueError, TypeError):
            pass
        if kind == "excursion":
            lo, hi = LIMITS_C.get(a.get("product", ""), (None, None))
            direction = a.get("direction")
            key = f"alert.excursion.{direction}" if direction in ("high", "low") and lo is not None else "alert.excursion"
            limit = f"{hi} °C" if direction == "high" else f"{lo} °C"
            text = t(key, lang, product=names.get(a.get("product", ""), a.get("product", "")),
                     temp=fmt.number(a.get("temp_c"), 1), limit=limit)
            detail = t("alert.where", lang, device=a.get("device_id", ""), ref=_ref(a))
            badge = dbc.Badge("°C", color="danger", className="me-2")
        elif kind == "anomaly":
            text = t("alert.anomaly", lang, product=names.get(a.get("product", ""), a.get("product", "")),
                     temp=fmt.number(a.get("temp_c"), 1), hum=fmt.number(a.get("humidity_pct"), 0))
            detail = t("alert.where", lang, device=a.get("device_id", ""), ref=_ref(a))
            badge = dbc.Badge("IF", color="warning", className="me-2")
        else:
            text = t("alert.shipment_exception", lang, shipment=a.get("shipment_id", ""),
                     carrier=a.get("carrier", ""), reason=a.get("reason", ""))
            detail = a.get("order_id", "")
            badge = dbc.Badge("!", color="secondary", className="me-2")
        out.append(html.Li([html.Span(when, className="text-muted me-2"), badge, html.Span(text),
                            html.Span(f" · {detail}", className="text-muted")], className="mb-1"))
    return out


def shelf_life_items(payload: dict[str, Any] | None, lang: str) -> list[html.Li]:
    """Shipments whose predicted shelf life at arrival is under the product's minimum market life (worst first),
    each linking to its lot on the Traceability page."""
    out = []
    for a in (payload or {}).get("alerts", [])[:30]:
        text = t("alert.shelf_life", lang, product=a.get("product_en" if lang == "en" else "product_es", ""),
                 lot=a.get("lot", ""), dest=a.get("destination", ""), p50=fmt.number(a.get("remaining_days_p50"), 1),
                 p10=fmt.number(a.get("remaining_days_p10"), 1), p90=fmt.number(a.get("remaining_days_p90"), 1),
                 min=fmt.number(a.get("min_market_days"), 0))
        source = t("alert.shelf_life.live" if a.get("live") else "alert.shelf_life.plan", lang)
        href = f"{ids.PATH_TRACEABILITY}?{urlencode({'lot': a.get('lot', ''), 'gtin': a.get('gtin') or ''})}"
        out.append(html.Li([dbc.Badge("VU" if lang != "en" else "SL", color="warning", className="me-2"),
                            dcc.Link(text, href=href), html.Span(f" · {source}", className="text-muted")],
                           className="mb-1"))
    return out


def status_text(snap: dict[str, Any], lang: str, now: float | None = None) -> str:
    updated = snap.get("updated_at")
    if not updated:
        return t("status.waiting", lang)
    now = time.time() if now is None else now
    age = max(0, int(now - updated))
    ago = t("status.ago_s", lang, n=age) if age < 120 else t("status.ago_m", lang, n=age // 60)
    totals = snap.get("totals", {})
    text = t("status.updated", lang, ago=ago, applied=fmt.integer(sum(totals.get("applied", {}).values())),
             dead=fmt.integer(sum(totals.get("dead_lettered", {}).values())),
             dups=fmt.integer(sum(totals.get("duplicates", {}).values())))
    scorer = snap.get("info", {}).get("scorer")
    return f"{text} · {t('status.scorer', lang, scorer=scorer)}" if scorer else text


def render(snap: dict[str, Any], lang: str, theme: str,
           now: float | None = None) -> tuple[list[str], list[dict[str, Any]], list[html.Li], str]:
    """(tile texts, sparkline figures, alert items, status line) for a live snapshot, in TILES order."""
    tiles = snap.get("tiles", {})
    minutes = snap.get("minutes", [])
    texts = [tile_text(k, tiles.get(k, {}).get("value"), lang) for k in TILES]
    figs = [sparkline(tiles.get(k, {}).get("spark", []), minutes, k, theme) for k in TILES]
    shelf = shelf_life_items(snap.get("shelf_life"), lang)
    events = snap.get("alerts", [])
    alerts = shelf + alert_items(events, lang) if events or not shelf else shelf
    return texts, figs, alerts, status_text(snap, lang, now)
