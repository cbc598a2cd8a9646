"""Traceability page: layout, lot summary, QR code, timeline with verification badges, path map,
cold-chain chart and mock recall. Everything taken from data is passed as text (Dash escapes it)."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import current_lang, translator
from components.layout import kpi_card, page_header
from components.theme import COLORWAY, blank_figure, style

TEXT = {
    "es": {
        "title": "Trazabilidad",
        "subtitle": "Busque un lote agroexportador, vea su recorrido de la chacra al puerto y compruebe que ningún registro fue alterado.",
        "query": "Código de lote, SSCC o enlace GS1 Digital Link", "gtin": "GTIN (opcional)",
        "search": "Buscar", "examples": "Ejemplos:",
        "product": "Producto", "origin": "Origen", "senasa": "Sitio SENASA", "quantity": "Cantidad",
        "qr": "Código QR del lote (para etiquetas)",
        "verdict.verified": "Lote verificado", "verdict.tampered": "Lote ALTERADO",
        "verdict.incomplete": "Lote incompleto (eventos sin anclar)",
        "verdict.detail": "{n} eventos · registro de {size} entradas · comprobado en {ms} ms",
        "badge.verified": "verificado", "badge.tampered": "alterado", "badge.not_anchored": "sin anclar",
        "timeline": "Línea de tiempo", "col.when": "Cuándo", "col.what": "Qué", "col.where": "Dónde",
        "col.why": "Por qué", "col.status": "Verificación", "col.docs": "Documentos",
        "map": "Recorrido por el Perú", "cold": "Cadena de frío", "cold.none": "Este lote no requiere cadena de frío.",
        "temp": "Temperatura (°C)", "time": "Hora (Lima)", "excursion": "Excursión", "band": "Rango permitido",
        "recall": "Retiro simulado (un paso atrás, un paso adelante)",
        "back": "Un paso atrás", "forward": "Un paso adelante", "inputs": "Lotes de entrada",
        "suppliers": "Proveedores", "pallets": "Pallets (SSCC)", "shipments": "Envíos", "customers": "Clientes",
        "outputs": "Lotes derivados", "balance": "Balance de masa", "in": "Entra", "out": "Sale",
        "diff": "Diferencia", "balanced": "cuadra", "unbalanced": "NO cuadra", "none": "—",
        "export.recall": "Exportar retiro (CSV)", "export.csv": "FSMA 204 (CSV)", "export.xlsx": "FSMA 204 (XLSX)",
        "notfound": "No se encontró ningún lote para «{q}».", "empty": "Escriba un código de lote para empezar.",
        "found_via": "Encontrado por {via}.", "several": "{n} lotes coinciden; se muestra el primero.",
        "cte.Harvesting": "Cosecha", "cte.Cooling": "Enfriamiento", "cte.Initial Packing": "Empaque inicial",
        "cte.Shipping": "Envío", "cte.Receiving": "Recepción", "cte.Transformation": "Transformación",
        "cte.Other": "Otro",
    },
    "en": {
        "title": "Traceability",
        "subtitle": "Look up an agro-export lot, follow its farm-to-port journey and prove no record was altered.",
        "query": "Lot code, SSCC or GS1 Digital Link", "gtin": "GTIN (optional)",
        "search": "Search", "examples": "Examples:",
        "product": "Product", "origin": "Origin", "senasa": "SENASA site", "quantity": "Quantity",
        "qr": "Lot QR code (for labels)",
        "verdict.verified": "Lot verified", "verdict.tampered": "Lot TAMPERED",
        "verdict.incomplete": "Lot incomplete (events not anchored)",
        "verdict.detail": "{n} events · log of {size} entries · checked in {ms} ms",
        "badge.verified": "verified", "badge.tampered": "tampered", "badge.not_anchored": "not anchored",
        "timeline": "Timeline", "col.when": "When", "col.what": "What", "col.where": "Where",
        "col.why": "Why", "col.status": "Verification", "col.docs": "Documents",
        "map": "Path across Peru", "cold": "Cold chain", "cold.none": "This lot needs no cold chain.",
        "temp": "Temperature (°C)", "time": "Time (Lima)", "excursion": "Excursion", "band": "Allowed band",
        "recall": "Mock recall (one step back, one step forward)",
        "back": "One step back", "forward": "One step forward", "inputs": "Input lots",
        "suppliers": "Suppliers", "pallets": "Pallets (SSCC)", "shipments": "Shipments", "customers": "Customers",
        "outputs": "Derived lots", "balance": "Mass balance", "in": "In", "out": "Out",
        "diff": "Difference", "balanced": "balances", "unbalanced": "does NOT balance", "none": "—",
        "export.recall": "Export recall (CSV)", "export.csv": "FSMA 204 (CSV)", "export.xlsx": "FSMA 204 (XLSX)",
        "notfound": "No lot found for “{q}”.", "empty": "Type a lot code to start.",
        "found_via": "Found by {via}.", "several": "{n} lots match; showing the first.",
        "cte.Harvesting": "Harvesting", "cte.Cooling": "Cooling", "cte.Initial Packing": "Initial packing",
        "cte.Shipping": "Shipping", "cte.Receiving": "Receiving", "cte.Transformation": "Transformation",
        "cte.Other": "Other",
    },
}
tr = translator(TEXT)
BADGE_COLOR = {"verified": "success", "tampered": "danger", "not_anchored": "warning"}
VERDICT_COLOR = {"verified": "success", "tampered": "danger", "incomplete": "warning"}
EXAMPLE_LOTS = ("AR-LAL-24001", "CFT-LIM-23002", "PA-LAL-24001", "QN-PUN-24001")


def clean_param(value: object, limit: int = 300) -> str:
    """A query-string value as plain text (anything else → empty)."""
    if not isinstance(value, str):
        return ""
    return value.strip()[:limit]


def layout(lot: object = None, gtin: object = None) -> html.Div:
    lang = current_lang()
    return html.Div([
        page_header(tr("title", lang), tr("subtitle", lang)),
        dcc.Store(id=ids.TRACE_LOT),
        dcc.Download(id=ids.TRACE_DOWNLOAD),
        dbc.Row([
            dbc.Col(dbc.Input(id=ids.TRACE_QUERY, value=clean_param(lot), placeholder=tr("query", lang),
                              type="text", maxLength=300, debounce=True), md=6),
            dbc.Col(dbc.Input(id=ids.TRACE_GTIN, value=clean_param(gtin, 14), placeholder=tr("gtin", lang),
                              type="text", maxLength=14, debounce=True), md=3),
            dbc.Col(dbc.Button(tr("search", lang), id=ids.TRACE_SEARCH, color="primary", n_clicks=0), md="auto"),
        ], className="g-2 mb-2"),
        html.Div([html.Span(tr("examples", lang) + " ", className="text-body-secondary small")]
                 + [dcc.Link(code, href=f"/traceability?lot={quote(code)}", className="me-2 small")
                    for code in EXAMPLE_LOTS], id=ids.TRACE_EXAMPLES, className="mb-3"),
        dcc.Loading(html.Div(id=ids.TRACE_STATUS)),
        dbc.Row([
            dbc.Col(html.Div(id=ids.TRACE_SUMMARY), md=6),
            dbc.Col(html.Div(id=ids.TRACE_VERDICT), md=4),
            dbc.Col(html.Div(id=ids.TRACE_QR), md=2),
        ], className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(dbc.Card([dbc.CardHeader(tr("map", lang)), dbc.CardBody(dcc.Graph(id=ids.TRACE_MAP, figure=blank_figure(tr("empty", lang)),
                    config={"displaylogo": False}))]), md=6),
            dbc.Col(dbc.Card([dbc.CardHeader(tr("cold", lang)), dbc.CardBody(dcc.Graph(id=ids.TRACE_COLD, figure=blank_figure(tr("empty", lang)),
                    config={"displaylogo": False}))]), md=6),
        ], className="g-3 mb-3"),
        dbc.Card([dbc.CardHeader(tr("timeline", lang)), dbc.CardBody(html.Div(id=ids.TRACE_TIMELINE))], className="mb-3"),
        dbc.Card([
            dbc.CardHeader(tr("recall", lang)),
            dbc.CardBody([
                html.Div(id=ids.TRACE_RECALL),
                html.Div([
                    dbc.Button(tr("export.recall", lang), id=ids.TRACE_EXPORT_RECALL, color="secondary",
                               outline=True, className="me-2", n_clicks=0),
                    dbc.Button(tr("export.csv", lang), id=ids.TRACE_EXPORT_CSV, color="secondary", outline=True,
                               className="me-2", n_clicks=0),
                    dbc.Button(tr("export.xlsx", lang), id=ids.TRACE_EXPORT_XLSX, color="secondary", outline=True,
                               n_clicks=0),
                ], className="mt-3"),
            ]),
        ]),
    ])


# ---------------------------------------------------------------- pieces

def qr_image(url: str, lang: str) -> html.Div:
    """The lot's QR code (SVG, made offline) as an inline image."""
    import qrcode
    from qrcode.image.svg import SvgPathImage

    img = qrcode.make(url, image_factory=SvgPathImage, box_size=8, border=2)
    buf = io.BytesIO()
    img.save(buf)
    src = "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()
    return html.Div([html.Img(src=src, alt=url, style={"width": "100%", "maxWidth": "160px"}),
                     html.Div(tr("qr", lang), className="small text-body-secondary")])


def summary(master: Mapping[str, Any], gtin: str, lot: str, lang: str) -> dbc.Card:
    product = master.get("product_es" if lang == "es" else "product_en") or gtin
    qty = master.get("quantity_kg")
    rows = [(tr("product", lang), str(product)), ("GTIN", gtin),
            (tr("origin", lang), str(master.get("site_name") or master.get("site_gln") or tr("none", lang))),
            (tr("senasa", lang), str(master.get("senasa_code") or tr("none", lang))),
            (tr("quantity", lang), f"{fmt.number(qty, 1)} kg" if qty is not None else tr("none", lang))]
    return dbc.Card(dbc.CardBody([
        html.H4(str(lot), className="mb-2"),
        html.Dl(sum(([html.Dt(k, className="col-5"), html.Dd(v, className="col-7 mb-1")] for k, v in rows), []),
                className="row mb-0"),
    ]), className="h-100 shadow-sm")


def verdict_card(verdict: str, counts: Mapping[str, int], n_events: int, checkpoint_size: int, seconds: float,
                 error: str | None, lang: str) -> dbc.Card:
    """The ledger verification: verdict, events checked per status, checkpoint size, time taken, any error."""
    v = str(verdict)
    detail = tr("verdict.detail", lang, n=n_events, size=fmt.integer(checkpoint_size), ms=fmt.number(1000 * seconds, 1))
    badges = [dbc.Badge(f"{tr('badge.' + k, lang)}: {counts.get(k, 0)}", color=BADGE_COLOR[k], className="me-1")
              for k in ("verified", "tampered", "not_anchored")]
    body = [html.H4(tr(f"verdict.{v}", lang), className=f"text-{VERDICT_COLOR.get(v, 'secondary')}"),
            html.Div(detail, className="small mb-2"), html.Div(badges)]
    if error:
        body.append(html.Div(str(error), className="small text-danger mt-2"))
    return dbc.Card(dbc.CardBody(body), className="h-100 shadow-sm", color=VERDICT_COLOR.get(v), outline=True)


def timeline_table(timeline: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]],
                   lang: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(tr(k, lang)) for k in
                               ("col.when", "col.what", "col.where", "col.why", "col.docs", "col.status")]))
    rows = []
    for t in timeline:
        chk = checks.get(t["event_key"], {})
        status = str(chk.get("status", "not_anchored"))
        why = [str(t.get("biz_step") or "")]
        if t.get("disposition"):
            why.append(str(t["disposition"]))
        if t.get("destinations"):
            why.append("→ " + ", ".join(str(d) for d in t["destinations"]))
        if t.get("excursions"):
            why.append(f"⚠ {t['excursions']} {tr('excursion', lang).lower()}")
        rows.append(html.Tr([
            html.Td(fmt.lima_datetime(t["time"], lang)),
            html.Td(tr(f"cte.{t['cte']}", lang) + f" · {t['event_type']}"),
            html.Td(str(t.get("place") or t.get("gln") or "")),
            html.Td(" · ".join(w for w in why if w)),
            html.Td(", ".join(str(d) for d in t.get("documents", [])), className="small text-break"),
            html.Td([dbc.Badge(tr(f"badge.{status}", lang), color=BADGE_COLOR.get(status, "secondary")),
                     html.Div(str(chk.get("reason") or ""), className="small text-body-secondary")],
                    title=str(t.get("event_hash") or "")),
        ]))
    return dbc.Table([head, html.Tbody(rows)], size="sm", striped=True, hover=True, responsive=True)


def map_figure(path: Sequence[Mapping[str, Any]], sites: Sequence[Mapping[str, Any]], lang: str, theme: str) -> go.Figure:
    """Path on plain lon/lat axes (renders offline: no map tiles or topojson)."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=[s["lon"] for s in sites], y=[s["lat"] for s in sites], mode="markers",
                             marker={"size": 5, "color": "#9aa5b1"}, text=[s["name"] for s in sites],
                             hoverinfo="text", name="Sites", showlegend=False))
    in_peru = [p for p in path if -82 <= p["lon"] <= -68 and -19 <= p["lat"] <= 0]
    fig.add_trace(go.Scatter(x=[p["lon"] for p in in_peru], y=[p["lat"] for p in in_peru], mode="lines+markers+text",
                             line={"color": COLORWAY[0], "width": 3}, marker={"size": 11},
                             text=[str(i + 1) for i in range(len(in_peru))], textposition="top center",
                             hovertext=[f"{i + 1}. {p['name']} ({tr('cte.' + p['cte'], lang)})" for i, p in enumerate(in_peru)],
                             hoverinfo="text", name=tr("map", lang), showlegend=False))
    fig.update_xaxes(range=[-82, -68], title="lon", scaleanchor="y", scaleratio=1)
    fig.update_yaxes(range=[-18.6, 0.2], title="lat")
    return style(fig, theme, height=460)


def cold_figure(readings: Sequence[Mapping[str, Any]], band: Sequence[float | None], lang: str, theme: str) -> go.Figure:
    fig = go.Figure()
    if not readings:
        fig.add_annotation(text=tr("cold.none", lang), showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
        return style(fig, theme, height=460)
    pts = sorted(readings, key=lambda r: str(r["time"]))
    lo, hi = band[0], band[1]
    if lo is not None and hi is not None:
        fig.add_hrect(y0=lo, y1=hi, fillcolor="#2a9d8f", opacity=0.15, line_width=0)
    fig.add_trace(go.Scatter(x=[r["time"] for r in pts], y=[r["temp_c"] for r in pts], mode="lines+markers",
                             name=tr("temp", lang), line={"color": COLORWAY[1]}))
    exc = [r for r in pts if r["excursion"]]
    fig.add_trace(go.Scatter(x=[r["time"] for r in exc], y=[r["temp_c"] for r in exc], mode="markers",
                             name=tr("excursion", lang), marker={"color": "#c8102e", "size": 13, "symbol": "x"}))
    fig.update_layout(xaxis_title=tr("time", lang), yaxis_title=tr("temp", lang))
    return style(fig, theme, height=460)


def _list(items: Sequence[str], lang: str) -> html.Ul | html.Div:
    if not items:
        return html.Div(tr("none", lang), className="text-body-secondary")
    return html.Ul([html.Li(x) for x in items], className="mb-2 small")


def recall_view(rc: Mapping[str, Any], lang: str) -> html.Div:
    b = rc["balance"]
    back, fwd = rc["back"], rc["forward"]
    kg = lambda x: f"{fmt.number(x, 1)} kg" if x is not None else ""  # noqa: E731
    balance = dbc.Row([
        dbc.Col(kpi_card(tr("in", lang), kg(b["in_kg"])), md=3),
        dbc.Col(kpi_card(tr("out", lang), kg(b["out_kg"])), md=3),
        dbc.Col(kpi_card(tr("diff", lang), kg(b["difference_kg"]),
                         f"{fmt.number(b['difference_pct'], 2)} %" if b["difference_pct"] is not None else None), md=3),
        dbc.Col(kpi_card(tr("balance", lang), tr("balanced" if b["balanced"] else "unbalanced", lang)), md=3),
    ], className="g-2 mb-3")
    left = [html.H6(tr("back", lang)),
            html.Div(tr("inputs", lang), className="fw-semibold small"),
            _list([f"{x['lot']} ({x['gtin']}) · {kg(x['quantity_kg'])}" for x in back["lots"]], lang),
            html.Div(tr("suppliers", lang), className="fw-semibold small"),
            _list([f"{s['name'] or s['gln']} · GLN {s['gln']}" + (f" · SENASA {s['senasa_code']}" if s.get("senasa_code") else "")
                   for s in back["suppliers"]], lang)]
    right = [html.H6(tr("forward", lang)),
             html.Div(tr("pallets", lang) + f" ({len(fwd['pallets'])})", className="fw-semibold small"),
             _list([f"{p['sscc']} · {kg(p['quantity_kg'])}" for p in fwd["pallets"]], lang),
             html.Div(tr("shipments", lang), className="fw-semibold small"),
             _list([f"{s['biz_step']}: {s['from']} → {', '.join(str(x) for x in s['to']) or '?'} · "
                    f"{', '.join(str(d) for d in s['documents'])}" for s in fwd["shipments"]], lang),
             html.Div(tr("customers", lang), className="fw-semibold small"),
             _list([f"{c['name'] or c['gln']} · {kg(c['quantity_kg'])}" for c in fwd["customers"]], lang),
             html.Div(tr("outputs", lang), className="fw-semibold small"),
             _list([f"{x['lot']} ({x['gtin']}) · {kg(x['quantity_kg'])}" for x in fwd["lots"]], lang)]
    return html.Div([balance, dbc.Row([dbc.Col(left, md=6), dbc.Col(right, md=6)])])


def status(kind: str, lang: str, **kw: Any) -> dbc.Alert:
    color = {"notfound": "warning", "empty": "info", "error": "danger"}.get(kind, "secondary")
    text = str(kw.get("msg")) if kind == "error" else tr(kind, lang, **kw)
    return dbc.Alert(text, color=color, className="py-2")


def found_note(via: str, n: int, lang: str) -> html.Div:
    parts = [tr("found_via", lang, via=via)]
    if n > 1:
        parts.append(tr("several", lang, n=n))
    return html.Div(" ".join(parts), className="small text-body-secondary mb-2")
