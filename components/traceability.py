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
from components import ids, maps, shelflife
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
        "verdict.unverifiable": "Lote sin verificar",
        "verdict.detail": "{n} eventos · registro de {size} entradas · comprobado en {ms} ms",
        "verdict.detail.nolog": "{n} eventos · comprobado en {ms} ms",
        "verdict.altered": "Eventos alterados: {keys}", "verdict.witnesses": "Cofirmado por testigos: {names}",
        "why.ok": "Cada evento coincide con su huella y está incluido en el registro firmado.",
        "why.events": "Uno o más eventos ya no coinciden con la huella anclada en el registro.",
        "why.rewritten": "El registro reescribió su historia: ya no extiende lo que se vio antes.",
        "why.split_view": "El registro mostró dos versiones distintas de su historia.",
        "why.forged": "La firma del registro no es válida.",
        "why.bad_checkpoint": "El punto de control del registro no es válido.",
        "why.unreachable": "No se pudo consultar el registro (sin conexión); no es señal de alteración.",
        "why.no_checkpoint": "El registro aún no publica un punto de control firmado.",
        "why.no_key": "No hay una clave de confianza para este registro.",
        "why.wrong_key": "El registro no está firmado con la clave de confianza configurada.",
        "why.witnesses": "Faltan cofirmas de testigos para aceptar el punto de control.",
        "why.pending": "Hay eventos aún no anclados o más nuevos que el registro publicado.",
        "why.no_events": "No hay eventos que verificar.",
        "why.other": "No se pudo hacer la comprobación.",
        "badge.verified": "verificado", "badge.tampered": "alterado", "badge.unanchored": "sin anclar",
        "badge.unchecked": "sin comprobar",
        "timeline": "Línea de tiempo", "col.when": "Cuándo", "col.what": "Qué", "col.where": "Dónde",
        "col.why": "Por qué", "col.status": "Verificación", "col.docs": "Documentos",
        "map": "Recorrido por el Perú", "cold": "Cadena de frío", "cold.none": "Este lote no requiere cadena de frío.",
        "temp": "Temperatura (°C)", "time": "Hora (Lima)", "excursion": "Excursión", "band": "Rango permitido",
        "recall": "Retiro simulado (un paso atrás, un paso adelante)",
        "recall_restricted": "El retiro simulado (clientes, cantidades, pallets y documentos de envío) es solo para "
                             "administradores de trazabilidad y gerencia: inicie sesión para verlo.",
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
        "verdict.unverifiable": "Lot not verified",
        "verdict.detail": "{n} events · log of {size} entries · checked in {ms} ms",
        "verdict.detail.nolog": "{n} events · checked in {ms} ms",
        "verdict.altered": "Altered events: {keys}", "verdict.witnesses": "Cosigned by witnesses: {names}",
        "why.ok": "Every event matches its fingerprint and is included in the signed log.",
        "why.events": "One or more events no longer match the fingerprint anchored in the log.",
        "why.rewritten": "The log rewrote its history: it no longer extends what was seen before.",
        "why.split_view": "The log showed two different versions of its history.",
        "why.forged": "The log's signature is not valid.",
        "why.bad_checkpoint": "The log's checkpoint is not valid.",
        "why.unreachable": "The log could not be reached (offline); this is no sign of tampering.",
        "why.no_checkpoint": "The log publishes no signed checkpoint yet.",
        "why.no_key": "No trusted key is configured for this log.",
        "why.wrong_key": "The log is not signed with the trusted key configured.",
        "why.witnesses": "Witness cosignatures needed to accept the checkpoint are missing.",
        "why.pending": "Some events are not anchored yet or are newer than the published log.",
        "why.no_events": "There are no events to verify.",
        "why.other": "The check could not be made.",
        "badge.verified": "verified", "badge.tampered": "tampered", "badge.unanchored": "not anchored",
        "badge.unchecked": "not checked",
        "timeline": "Timeline", "col.when": "When", "col.what": "What", "col.where": "Where",
        "col.why": "Why", "col.status": "Verification", "col.docs": "Documents",
        "map": "Path across Peru", "cold": "Cold chain", "cold.none": "This lot needs no cold chain.",
        "temp": "Temperature (°C)", "time": "Time (Lima)", "excursion": "Excursion", "band": "Allowed band",
        "recall": "Mock recall (one step back, one step forward)",
        "recall_restricted": "The mock recall (customers, quantities, pallets and shipment documents) is for "
                             "traceability admins and executives only: sign in to see it.",
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
BADGE_COLOR = {"verified": "success", "tampered": "danger", "unanchored": "secondary", "unchecked": "secondary"}
# unverifiable is neutral, never red: an outage or a missing key is no sign of tampering
VERDICT_COLOR = {"verified": "success", "tampered": "danger", "unverifiable": "secondary"}
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
            dbc.Col(dbc.Card([dbc.CardHeader(tr("map", lang)), dbc.CardBody(dcc.Graph(
                id=ids.TRACE_MAP, figure=blank_figure(tr("empty", lang), height=520),
                config=maps.graph_config()))]), md=6),
            dbc.Col(dbc.Card([dbc.CardHeader(tr("cold", lang)), dbc.CardBody(dcc.Graph(
                id=ids.TRACE_COLD, figure=blank_figure(tr("empty", lang), height=520),
                    config={"displaylogo": False}))]), md=6),
        ], className="g-3 mb-3"),
        shelflife.panel(lang),
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


def verdict_card(verdict: str, counts: Mapping[str, int], n_events: int, checkpoint_size: int | None,
                 seconds: float, reason: str, why: str, tampered: Sequence[str], witnesses: Sequence[str],
                 lang: str) -> dbc.Card:
    """The lot's verdict against the ledger: verified (green), tampered (red, naming the events) or
    unverifiable (neutral, with the reason); events per status, log size, time taken, witnesses."""
    v = str(verdict) if verdict in VERDICT_COLOR else "unverifiable"
    color = VERDICT_COLOR[v]
    ms = fmt.number(1000 * seconds, 1)
    detail = (tr("verdict.detail", lang, n=n_events, size=fmt.integer(checkpoint_size), ms=ms)
              if checkpoint_size is not None else tr("verdict.detail.nolog", lang, n=n_events, ms=ms))
    badges = [dbc.Badge(f"{tr('badge.' + k, lang)}: {counts.get(k, 0)}", color=BADGE_COLOR[k], className="me-1")
              for k in BADGE_COLOR if counts.get(k, 0) or k == "verified"]
    body: list[Any] = [html.H4(tr(f"verdict.{v}", lang), className=f"text-{color}"),
                       html.Div(tr(f"why.{why}", lang) if f"why.{why}" in TEXT["en"] else tr("why.other", lang),
                                className="mb-1"),
                       html.Div(detail, className="small mb-2"), html.Div(badges)]
    if v == "tampered" and tampered:
        body.append(html.Div(tr("verdict.altered", lang, keys=", ".join(str(k) for k in tampered)),
                             className="small text-danger fw-semibold mt-2"))
    if witnesses:
        body.append(html.Div(tr("verdict.witnesses", lang, names=", ".join(str(w) for w in witnesses)),
                             className="small mt-2"))
    if reason and v != "verified":
        body.append(html.Div(str(reason), className="small text-body-secondary mt-2 text-break"))
    return dbc.Card(dbc.CardBody(body), className="h-100 shadow-sm", color=color, outline=True)


def timeline_table(timeline: Sequence[Mapping[str, Any]], checks: Mapping[str, Mapping[str, Any]],
                   lang: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(tr(k, lang)) for k in
                               ("col.when", "col.what", "col.where", "col.why", "col.docs", "col.status")]))
    rows = []
    for t in timeline:
        chk = checks.get(t["event_key"], {})
        status = str(chk.get("status", "unchecked"))
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


def map_figure(path: Sequence[Mapping[str, Any]], exits: Sequence[Mapping[str, Any]],
               sites: Sequence[Mapping[str, Any]], outlines: Mapping[str, Any], region_names: Mapping[str, str],
               lang: str, theme: str) -> dict[str, Any]:
    """The lot's journey over Peru's outline (components.maps.journey_map): the sites it went through in event
    order, named, and each shipment abroad as an arrow leaving the map, named after its buyer."""
    steps = [tr(f"cte.{p.get('cte') or 'Other'}", lang) for p in path]
    return maps.journey_map(outlines, region_names, path, exits, sites, steps, theme, lang, height=520)


def cold_figure(readings: Sequence[Mapping[str, Any]], band: Sequence[float | None], lang: str, theme: str) -> go.Figure:
    if not readings:
        return blank_figure(tr("cold.none", lang), theme, height=520)
    fig = go.Figure()
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
    return style(fig, theme, height=520)


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
