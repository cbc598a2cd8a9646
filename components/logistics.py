"""Logistics page: layout, the risk map of Peru with its ranking, grid, drill-down and model panel figures.

The map is Peru's 25 regions drawn from their outlines (components.maps: offline, SVG, no WebGL) coloured by
the metric switch, with the distribution centres and the main road corridors on top; the ranking beside it
lists the same numbers as bars, and both are clickable (the drill-down). Imported data whose regions are not
Peru's gets the ranking alone. Data arrives as plain records from the callbacks; this module never imports
analytics.

A tile grid (one square per region) used to stand in for the map; it is gone: the outline map shows where
regions are (coast, sierra, selva), and the ranking covers what the grid did better (every region, Callao
included, the same size and clickable).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids, maps
from components.i18n import current_lang, translator
from components.layout import kpi_card, page_header
from components.theme import RISK_SCALE, blank_figure, style

METRICS = ("risk", "late_rate")
MAP_HEIGHT = RANKING_HEIGHT = 660  # pixels: the map and its ranking side by side
FILTER_KEYS = ("carrier", "mode", "category", "dc")

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Logística", "subtitle": "Dónde llegarán tarde las entregas, antes de que ocurra",
        "dates": "Fechas del pedido", "carrier": "Transportista", "mode": "Modo de envío",
        "category": "Categoría", "dc": "Centro de distribución", "all": "Todos",
        "metric.risk": "Riesgo previsto", "metric.late_rate": "Tasa histórica de retraso",
        "map": "Mapa de riesgo de retraso", "ranking": "Regiones ordenadas por {metric}",
        "map.help": "Haga clic en una región del mapa o en su barra para ver el detalle.",
        "map.none": "Sin mapa: las regiones de estos datos no son del Perú. Vea el ranking.",
        "kpi.orders": "Pedidos", "kpi.value": "Valor", "kpi.risk": "Riesgo medio",
        "kpi.expected": "Retrasos esperados", "kpi.high": "Pedidos de alto riesgo (≥ 50%)",
        "kpi.late_rate": "Tasa histórica de retraso",
        "grid": "Pedidos de mayor riesgo × valor", "export": "Exportar CSV (todas las filas filtradas)",
        "col.order": "Pedido", "col.date": "Fecha", "col.region": "Región", "col.carrier": "Transportista",
        "col.mode": "Modo", "col.category": "Categoría", "col.value": "Valor", "col.risk": "Riesgo",
        "col.risk_value": "Riesgo × valor", "col.window": "Ventana P50–P90", "col.promised": "Prometido",
        "col.reasons": "Principales razones", "days": "días",
        "drill": "Detalle de {region}", "drill.none": "Haga clic en una región del mapa.",
        "drill.prompt": "Haga clic en una región del mapa o del ranking para ver aquí sus transportistas y su "
                        "tendencia semanal.",
        "drill.empty": "No hay pedidos de {region} con estos filtros.",
        "heat": "Tasa de retraso por transportista × modo", "weekly": "Tendencia semanal",
        "week": "Semana", "late_rate": "Tasa de retraso", "mean_risk": "Riesgo previsto",
        "model": "Modelo", "retrain": "Reentrenar", "cancel": "Cancelar",
        "calibration": "Curva de calibración (periodo de prueba)", "roc": "Curva ROC (periodo de prueba)",
        "importance": "Importancia de variables (caída del AUC al permutar)",
        "predicted": "Probabilidad prevista", "observed": "Frecuencia observada",
        "fpr": "Tasa de falsos positivos", "tpr": "Tasa de verdaderos positivos",
        "no_models": "Aún no hay modelos de logística. Pulse «Reentrenar» o ejecute `python app.py train`.",
        "nodata": "No hay pedidos con estos filtros.",
        "showing": "{n} pedidos del {start} al {end}; la tabla muestra los {top} de mayor riesgo × valor.",
        "retrained": "Modelo reentrenado: AUC {auc}, ECE {ece}.", "running": "Entrenando:",
        "exporting": "Exportando…",
        "card.model": "Modelo", "card.auc": "ROC AUC", "card.pr": "PR AUC", "card.brier": "Brier",
        "card.ece": "ECE (10 intervalos)", "card.test": "Periodo de prueba", "card.mae": "MAE P50 (días)",
        "card.base": "MAE de la promesa (días)", "card.cov": "Cobertura P90", "card.created": "Creado",
        "reason.destination": "Destino", "reason.carrier": "Transportista", "reason.shipping_mode": "Modo",
        "reason.origin_dc": "CD de origen", "reason.category": "Categoría", "reason.season": "Temporada",
        "reason.weekday": "Día/hora", "reason.peak": "Pico de ventas", "reason.disruption": "Disrupción",
        "reason.parcel": "Paquete", "reason.promise": "Plazo prometido",
        "hover.risk": "Riesgo", "hover.late": "Retraso histórico", "hover.orders": "Pedidos",
        "hover.carrier": "Transportista más problemático",
    },
    "en": {
        "title": "Logistics", "subtitle": "Where deliveries will be late, before they are",
        "dates": "Order dates", "carrier": "Carrier", "mode": "Shipping mode",
        "category": "Category", "dc": "Distribution centre", "all": "All",
        "metric.risk": "Predicted risk", "metric.late_rate": "Historical late rate",
        "map": "Delay-risk map", "ranking": "Regions ranked by {metric}",
        "map.help": "Click a region on the map or its bar for details.",
        "map.none": "No map: the regions in this data are not Peru's. See the ranking.",
        "kpi.orders": "Orders", "kpi.value": "Value", "kpi.risk": "Mean risk",
        "kpi.expected": "Expected late orders", "kpi.high": "High-risk orders (≥ 50%)",
        "kpi.late_rate": "Historical late rate",
        "grid": "Highest risk × value orders", "export": "Export CSV (all filtered rows)",
        "col.order": "Order", "col.date": "Date", "col.region": "Region", "col.carrier": "Carrier",
        "col.mode": "Mode", "col.category": "Category", "col.value": "Value", "col.risk": "Risk",
        "col.risk_value": "Risk × value", "col.window": "P50–P90 window", "col.promised": "Promised",
        "col.reasons": "Top reasons", "days": "days",
        "drill": "{region} in detail", "drill.none": "Click a region on the map.",
        "drill.prompt": "Click a region on the map or in the ranking to see its carriers and weekly trend here.",
        "drill.empty": "No orders from {region} match these filters.",
        "heat": "Late rate by carrier × mode", "weekly": "Weekly trend",
        "week": "Week", "late_rate": "Late rate", "mean_risk": "Predicted risk",
        "model": "Model", "retrain": "Retrain", "cancel": "Cancel",
        "calibration": "Calibration curve (test period)", "roc": "ROC curve (test period)",
        "importance": "Feature importance (AUC drop when permuted)",
        "predicted": "Predicted probability", "observed": "Observed frequency",
        "fpr": "False positive rate", "tpr": "True positive rate",
        "no_models": "No logistics models yet. Press “Retrain” or run `python app.py train`.",
        "nodata": "No orders match these filters.",
        "showing": "{n} orders from {start} to {end}; the table lists the top {top} by risk × value.",
        "retrained": "Model retrained: AUC {auc}, ECE {ece}.", "running": "Training:",
        "exporting": "Exporting…",
        "card.model": "Model", "card.auc": "ROC AUC", "card.pr": "PR AUC", "card.brier": "Brier",
        "card.ece": "ECE (10 bins)", "card.test": "Test period", "card.mae": "P50 MAE (days)",
        "card.base": "Promise MAE (days)", "card.cov": "P90 coverage", "card.created": "Created",
        "reason.destination": "Destination", "reason.carrier": "Carrier", "reason.shipping_mode": "Mode",
        "reason.origin_dc": "Origin DC", "reason.category": "Category", "reason.season": "Season",
        "reason.weekday": "Day/hour", "reason.peak": "Sales peak", "reason.disruption": "Disruption",
        "reason.parcel": "Parcel", "reason.promise": "Promised lead time",
        "hover.risk": "Risk", "hover.late": "Historical late rate", "hover.orders": "Orders",
        "hover.carrier": "Most problematic carrier",
    },
}
t = translator(TEXT)


# ---- URL state ------------------------------------------------------------------------------

def parse_list(value: object, limit: int = 50) -> list[str]:
    """A comma-separated URL value (or list) to a clean list of strings."""
    if value is None or value == "":
        return []
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    out = [str(v).strip() for v in items if str(v).strip()]
    return out[:limit]


def parse_day(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10]).isoformat()
    except ValueError:
        return None


def parse_metric(value: object) -> str:
    return value if value in METRICS else "risk"


def query_state(start: str | None, end: str | None, filters: Mapping[str, Sequence[str]], metric: str,
                region: str | None) -> dict[str, Any]:
    q: dict[str, Any] = {"start": start, "end": end, "metric": None if metric == "risk" else metric,
                         "region": region}
    for key in FILTER_KEYS:
        q[key] = ",".join(filters.get(key) or []) or None
    return q


# ---- layout ---------------------------------------------------------------------------------

def _card(title: Any, body: Any, class_name: str = "shadow-sm h-100") -> dbc.Card:
    return dbc.Card([dbc.CardHeader(title), dbc.CardBody(body)], className=class_name)


def _dropdown(cid: str, label: str, values: list[str], lang: str) -> html.Div:
    return html.Div([
        dbc.Label(label, html_for=cid, className="small mb-1"),
        dcc.Dropdown(id=cid, options=[{"label": v, "value": v} for v in values], value=values, multi=True,
                     placeholder=t("all", lang)),
    ])


def _filters(start: object, end: object, carrier: object, mode: object, category: object, dc: object,
             lang: str) -> dbc.Row:
    """Date range and the carrier, mode, category and DC filters, from the URL values."""
    return dbc.Row([
        dbc.Col([dbc.Label(t("dates", lang), className="small mb-1 d-block"),
                 dcc.DatePickerRange(id=ids.LOGISTICS_DATES, start_date=parse_day(start), end_date=parse_day(end),
                                     display_format="YYYY-MM-DD", clearable=True)], lg=3),
        dbc.Col(_dropdown(ids.LOGISTICS_CARRIERS, t("carrier", lang), parse_list(carrier), lang), lg=3),
        dbc.Col(_dropdown(ids.LOGISTICS_MODES, t("mode", lang), parse_list(mode), lang), lg=2),
        dbc.Col(_dropdown(ids.LOGISTICS_CATEGORIES, t("category", lang), parse_list(category), lang), lg=2),
        dbc.Col(_dropdown(ids.LOGISTICS_DCS, t("dc", lang), parse_list(dc), lang), lg=2),
    ], className="g-2 mb-3")


def _map_and_ranking(metric_v: str, lang: str) -> dbc.Row:
    """The risk map of Peru (with its metric toggle) beside the same regions ranked as bars."""
    metric_toggle = dbc.RadioItems(
        id=ids.LOGISTICS_METRIC, value=metric_v, inline=True, className="small",
        options=[{"label": t(f"metric.{m}", lang), "value": m} for m in METRICS])
    return dbc.Row([
        dbc.Col(_card(html.Div([html.Span(t("map", lang), className="me-3 fw-semibold"), metric_toggle],
                               className="d-flex flex-wrap align-items-center"),
                      [dcc.Graph(id=ids.LOGISTICS_MAP, config=maps.graph_config(), style={"height": f"{MAP_HEIGHT}px"},
                                 figure=blank_figure(t("common.computing", lang), height=MAP_HEIGHT)),
                       html.Div(t("map.help", lang), className="small text-body-secondary")]), lg=7),
        dbc.Col(_card(html.Span(t("ranking", lang, metric=t(f"metric.{metric_v}", lang).lower()),
                                id=ids.LOGISTICS_RANKING_TITLE, className="fw-semibold"),
                      dcc.Graph(id=ids.LOGISTICS_RANKING, config={"displaylogo": False, "displayModeBar": False},
                                style={"height": f"{RANKING_HEIGHT + 22}px"},
                                figure=blank_figure(t("common.computing", lang), height=RANKING_HEIGHT))),
                lg=5),
    ], className="g-3 mb-3")


def _grid(lang: str) -> dbc.Card:
    """The high-risk orders grid (with CSV export of every filtered row)."""
    grid = dag.AgGrid(
        id=ids.LOGISTICS_GRID, columnDefs=grid_columns(lang), rowData=[],
        defaultColDef={"sortable": True, "filter": True, "resizable": True},
        dashGridOptions={"pagination": True, "paginationPageSize": 20, "animateRows": False},
        style={"height": "560px"}, className="ag-theme-alpine",
    )
    return _card(html.Div([html.Span(t("grid", lang), className="me-auto fw-semibold"),
                           dbc.Button(t("export", lang), id=ids.LOGISTICS_EXPORT, size="sm",
                                      color="secondary", outline=True)],
                          className="d-flex align-items-center"),
                 grid, class_name="shadow-sm mb-3")


def _model_panel(lang: str) -> dbc.Card:
    """The model card, calibration, ROC and importance figures, and the background retrain (progress, cancel)."""
    return _card(
        html.Div([html.Span(t("model", lang), className="me-auto fw-semibold"),
                  dbc.Button(t("retrain", lang), id=ids.LOGISTICS_RETRAIN, size="sm", color="primary",
                             className="me-2"),
                  dbc.Button(t("cancel", lang), id=ids.LOGISTICS_RETRAIN_CANCEL, size="sm", color="secondary",
                             outline=True, disabled=True)], className="d-flex align-items-center"),
        [dbc.Progress(id=ids.LOGISTICS_RETRAIN_PROGRESS, value=0, striped=True, animated=False,
                      className="mb-2", style={"height": "1.2rem"}),
         html.Div(id=ids.LOGISTICS_RETRAIN_STATUS, className="small mb-2"),
         html.Div(id=ids.LOGISTICS_CARD),
         dbc.Row([dbc.Col(dcc.Graph(id=gid, config={"displaylogo": False},
                                    figure=blank_figure(t("common.computing", lang), height=320)), lg=4)
                  for gid in (ids.LOGISTICS_CALIBRATION, ids.LOGISTICS_ROC, ids.LOGISTICS_IMPORTANCE)])],
    )


def layout(start: object = None, end: object = None, carrier: object = None, mode: object = None,
           category: object = None, dc: object = None, metric: object = None, region: object = None) -> html.Div:
    lang = current_lang()
    region_v = parse_list(region, 1)
    return html.Div([
        dcc.Store(id=ids.LOGISTICS_QUERY), html.Div(id=ids.LOGISTICS_QUERY_SYNCED, hidden=True),
        dcc.Store(id=ids.LOGISTICS_REGION, data=region_v[0] if region_v else None),
        dcc.Store(id=ids.LOGISTICS_MODEL_VERSION, data=0),
        dcc.Download(id=ids.LOGISTICS_DOWNLOAD),
        page_header(t("title", lang), t("subtitle", lang)),
        _filters(start, end, carrier, mode, category, dc, lang),
        html.Div(id=ids.LOGISTICS_STATUS, className="mb-2"),
        dbc.Row(id=ids.LOGISTICS_KPIS, className="g-3 mb-3"),
        _map_and_ranking(parse_metric(metric), lang),
        _card(html.Div(t("drill.none", lang), id=ids.LOGISTICS_DRILL_TITLE, className="fw-semibold"),
              dbc.Row([dbc.Col(dcc.Graph(id=ids.LOGISTICS_HEAT, config={"displaylogo": False},
                                         figure=blank_figure(t("drill.prompt", lang), height=360)), lg=6),
                       dbc.Col(dcc.Graph(id=ids.LOGISTICS_WEEKLY, config={"displaylogo": False},
                                         figure=blank_figure(t("drill.prompt", lang), height=360)), lg=6)]),
              class_name="shadow-sm mb-3"),
        _grid(lang),
        _model_panel(lang),
    ])


def kpi_row(k: Mapping[str, Any], lang: str) -> list[dbc.Col]:
    cards = [("kpi.orders", fmt.integer(k.get("orders"))), ("kpi.value", fmt.soles_compact(k.get("value_pen"))),
             ("kpi.risk", fmt.pct(k.get("mean_risk"))), ("kpi.expected", fmt.number(k.get("expected_late"), 0)),
             ("kpi.high", fmt.integer(k.get("high_risk"))), ("kpi.late_rate", fmt.pct(k.get("late_rate")))]
    return [dbc.Col(kpi_card(t(key, lang), value), xs=6, lg=2) for key, value in cards]


# ---- grid -----------------------------------------------------------------------------------

def grid_columns(lang: str) -> list[dict[str, Any]]:
    return [
        {"field": "order_id", "headerName": t("col.order", lang), "pinned": "left", "width": 130},
        {"field": "order_date", "headerName": t("col.date", lang), "width": 115},
        {"field": "region_name", "headerName": t("col.region", lang), "width": 130},
        {"field": "carrier", "headerName": t("col.carrier", lang), "width": 150},
        {"field": "shipping_mode", "headerName": t("col.mode", lang), "width": 100},
        {"field": "category", "headerName": t("col.category", lang), "width": 120},
        {"field": "value", "headerName": t("col.value", lang), "width": 120, "type": "rightAligned",
         "comparator": {"function": "(a, b, na, nb) => na.data.amount_pen - nb.data.amount_pen"}},
        {"field": "risk", "headerName": t("col.risk", lang), "width": 90, "type": "rightAligned",
         "comparator": {"function": "(a, b, na, nb) => na.data.late_risk - nb.data.late_risk"}},
        {"field": "risk_value_s", "headerName": t("col.risk_value", lang), "width": 130, "type": "rightAligned",
         "sort": "desc",
         "comparator": {"function": "(a, b, na, nb) => na.data.risk_value - nb.data.risk_value"}},
        {"field": "window", "headerName": t("col.window", lang), "width": 130},
        {"field": "promised_days", "headerName": t("col.promised", lang), "width": 100, "type": "rightAligned"},
        {"field": "reasons", "headerName": t("col.reasons", lang), "flex": 1, "minWidth": 260},
    ]


def window_text(p50: float | None, p90: float | None, lang: str) -> str:
    if p50 is None or p90 is None:
        return "—"
    a, b = int(p50), int(p90)
    return f"{a} {t('days', lang)}" if a == b else f"{a}–{b} {t('days', lang)}"


def reason_text(group: str | None, pp: float | None, value: object, lang: str) -> str:
    if not group:
        return ""
    label = t(f"reason.{group}", lang)
    shown = f" {value}" if value not in (None, "") else ""
    return f"{label}{shown} (+{pp:.0f} pp)" if pp is not None else f"{label}{shown}"


def reasons_for(row: Mapping[str, Any], region_names: Mapping[str, str], lang: str, top: int = 3) -> str:
    parts = []
    for k in range(1, top + 1):
        g = row.get(f"reason_{k}")
        if not g:
            continue
        value: object = None
        if g in ("destination", "disruption"):
            value = region_names.get(str(row.get("region")), row.get("region"))
        elif g in ("carrier", "shipping_mode", "origin_dc", "category"):
            value = row.get(g)
        elif g == "promise":
            value = f"{row.get('promised_days')} {t('days', lang)}"
        elif g == "season":
            d = row.get("order_date")
            value = fmt.month_label(d, lang) if isinstance(d, date) else None
        parts.append(reason_text(g, row.get(f"reason_{k}_pp"), value, lang))
    return "; ".join(parts)


def grid_rows(records: Sequence[Mapping[str, Any]], region_names: Mapping[str, str], lang: str) -> list[dict]:
    out = []
    for r in records:
        d = r.get("order_date")
        out.append({
            "order_id": r["order_id"], "order_date": d.isoformat() if isinstance(d, date) else d,
            "region": r["region"], "region_name": region_names.get(r["region"], r["region"]),
            "carrier": r["carrier"], "shipping_mode": r["shipping_mode"], "category": r["category"],
            "amount_pen": r["amount_pen"], "value": fmt.soles(r["amount_pen"]),
            "late_risk": r["late_risk"], "risk": fmt.pct(r["late_risk"], 0),
            "risk_value": r["risk_value"], "risk_value_s": fmt.soles(r["risk_value"]),
            "p50_days": r["p50_days"], "p90_days": r["p90_days"],
            "window": window_text(r["p50_days"], r["p90_days"], lang),
            "promised_days": r["promised_days"], "reasons": reasons_for(r, region_names, lang),
        })
    return out


EXPORT_COLUMNS = ("order_id", "order_date", "country", "region", "region_name", "city", "carrier", "shipping_mode",
                  "category", "origin_dc", "amount_pen", "late_risk", "risk_value", "p50_days", "p90_days",
                  "promised_days", "is_late", "actual_days", "reasons")


# ---- figures --------------------------------------------------------------------------------

def _metric_values(rows: Sequence[Mapping[str, Any]], metric: str) -> list[float | None]:
    key = "mean_risk" if metric == "risk" else "late_rate"
    return [r.get(key) for r in rows]


def _hover(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], lang: str) -> list[str]:
    out = []
    for r in rows:
        out.append(
            f"<b>{names.get(r['region'], r['region'])}</b><br>{t('hover.risk', lang)}: {fmt.pct(r.get('mean_risk'))}"
            f"<br>{t('hover.late', lang)}: {fmt.pct(r.get('late_rate'))}"
            f"<br>{t('hover.orders', lang)}: {fmt.integer(r.get('orders'))} · {fmt.soles_compact(r.get('value_pen'))}"
            f"<br>{t('hover.carrier', lang)}: {r.get('top_carrier') or '—'} ({fmt.pct(r.get('top_carrier_risk'), 0)})")
    return out


def _scale_top(values: Sequence[float | None]) -> float:
    """The colour scale's top: the largest value (at least 5 %), shared by the map and the ranking."""
    return max([v for v in values if v is not None] + [0.05])


def map_figure(rows: Sequence[Mapping[str, Any]], outlines: Mapping[str, Any], names: Mapping[str, str],
               metric: str, lang: str, theme: str, dcs: Sequence[Mapping[str, Any]] = (),
               corridors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Peru's regions coloured by the metric (``rows``: one per region with ``mean_risk``, ``late_rate``,
    orders...), regions without orders in the plain colour, the DCs and main road corridors on top.
    Clicking a region reports its code as ``customdata`` (the drill-down)."""
    key = "mean_risk" if metric == "risk" else "late_rate"
    values = {r["region"]: r.get(key) for r in rows}
    hover = dict(zip([r["region"] for r in rows], _hover(rows, names, lang)))
    layers = [*maps.corridor_layer(corridors or {}, theme, lang)]
    if dcs:
        layers.append(maps.dc_layer(dcs, theme, lang))
    return maps.region_map(outlines, values, names, hover, theme, colorscale=RISK_SCALE,
                           zmax=_scale_top(list(values.values())), height=MAP_HEIGHT, lang=lang, layers=layers,
                           colorbar={"title": {"text": t(f"metric.{metric}", lang)}, "tickformat": ".0%"})


def ranking_figure(rows: Sequence[Mapping[str, Any]], names: Mapping[str, str], metric: str, lang: str,
                   theme: str, top: int = 25) -> dict[str, Any]:
    """Regions ranked by the metric, worst on top, in the map's colours; clicking a bar drills down.
    Peru's regions are named; imported regions/states keep their country beside the name."""
    key = "mean_risk" if metric == "risk" else "late_rate"
    scale_top = _scale_top([r.get(key) for r in rows])
    rows = sorted([r for r in rows if r.get(key) is not None], key=lambda r: (-r[key], r["region"]))[:top][::-1]
    labels = [names[r["region"]] if r["region"] in names and r.get("country", "PE") == "PE"
              else f"{names.get(r['region'], r['region'])} ({r.get('country') or '?'})" for r in rows]
    bar = {"type": "bar", "x": [r[key] for r in rows], "y": labels, "orientation": "h",
           "customdata": [[r["region"]] for r in rows], "hovertext": _hover(rows, names, lang), "hoverinfo": "text",
           "text": [fmt.pct(r[key], 0) for r in rows], "textposition": "outside", "cliponaxis": False,
           "marker": {"color": [r[key] for r in rows], "colorscale": RISK_SCALE, "cmin": 0, "cmax": scale_top}}
    layout = {"height": RANKING_HEIGHT, "clickmode": "event", "margin": {"l": 130, "r": 40, "t": 10, "b": 40},
              "xaxis": {"tickformat": ".0%", "title": {"text": t(f"metric.{metric}", lang)}},
              "yaxis": {"automargin": True}, "showlegend": False}
    return maps.figure([bar], layout, theme)


def heat_figure(rows: Sequence[Mapping[str, Any]], lang: str, theme: str) -> go.Figure:
    carriers = sorted({r["carrier"] for r in rows})
    modes = sorted({r["shipping_mode"] for r in rows})
    cell = {(r["carrier"], r["shipping_mode"]): r for r in rows}
    z, text = [], []
    for c in carriers:
        z.append([cell[(c, m)]["late_rate"] if (c, m) in cell else None for m in modes])
        text.append([f"{fmt.pct(cell[(c, m)]['late_rate'], 0)} (n={cell[(c, m)]['orders']})" if (c, m) in cell
                     else "" for m in modes])
    fig = go.Figure(go.Heatmap(z=z, x=modes, y=carriers, text=text, texttemplate="%{text}",
                               colorscale=RISK_SCALE, zmin=0, zmax=1, colorbar={"tickformat": ".0%"}))
    style(fig, theme, height=360)
    fig.update_layout(title=t("heat", lang), margin={"l": 150, "r": 20, "t": 40, "b": 40})
    return fig


def weekly_figure(weeks: list, late_rate: list, mean_risk: list, lang: str, theme: str) -> go.Figure:
    fig = go.Figure([
        go.Scatter(x=weeks, y=late_rate, mode="lines+markers", name=t("late_rate", lang)),
        go.Scatter(x=weeks, y=mean_risk, mode="lines", name=t("mean_risk", lang), line={"dash": "dot"}),
    ])
    style(fig, theme, height=360)
    fig.update_layout(title=t("weekly", lang), yaxis={"tickformat": ".0%", "rangemode": "tozero"},
                      xaxis={"title": t("week", lang)}, legend={"orientation": "h", "y": -0.25})
    return fig


def empty_figure(theme: str, message: str, height: int = 360) -> go.Figure:
    """No axes, a sentence saying why there is nothing to draw yet (or what to do to fill it)."""
    return blank_figure(message, theme, height=height)


def calibration_figure(curve: Mapping[str, list], lang: str, theme: str) -> go.Figure:
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"}, showlegend=False),
        go.Scatter(x=curve.get("predicted", []), y=curve.get("observed", []), mode="lines+markers",
                   text=[f"n={n}" for n in curve.get("count", [])], name=t("observed", lang), showlegend=False),
    ])
    style(fig, theme, height=320)
    fig.update_layout(title=t("calibration", lang), xaxis={"title": t("predicted", lang), "range": [0, 1]},
                      yaxis={"title": t("observed", lang), "range": [0, 1]})
    return fig


def roc_figure(roc: Mapping[str, list], auc: float | None, lang: str, theme: str) -> go.Figure:
    fig = go.Figure([
        go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dash", "color": "#999"}, showlegend=False),
        go.Scatter(x=roc.get("fpr", []), y=roc.get("tpr", []), mode="lines", showlegend=False),
    ])
    style(fig, theme, height=320)
    fig.update_layout(title=f"{t('roc', lang)} · AUC {fmt.number(auc, 3)}",
                      xaxis={"title": t("fpr", lang)}, yaxis={"title": t("tpr", lang)})
    return fig


def importance_figure(importance: Mapping[str, float], lang: str, theme: str) -> go.Figure:
    items = sorted(importance.items(), key=lambda kv: kv[1])
    fig = go.Figure(go.Bar(x=[v for _, v in items], y=[t(f"reason.{k}", lang) for k, _ in items],
                           orientation="h"))
    style(fig, theme, height=320)
    fig.update_layout(title=t("importance", lang), margin={"l": 130, "r": 20, "t": 40, "b": 40})
    return fig


def _with_interval(entry: Mapping[str, Any], metric: str, show: Any, lang: str) -> str:
    """A card figure with its bootstrap interval when the card has one: ``0.812 (IC 95%: 0.790–0.834)``."""
    value = show(entry.get(metric))
    raw = entry.get("intervals")
    intervals: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    bounds = intervals.get(metric)
    if not (isinstance(bounds, list | tuple) and len(bounds) == 2):
        return value
    level = intervals.get("level", 0.95)
    label = f"IC {level:.0%}" if lang == "es" else f"{level:.0%} CI"
    return f"{value} ({label}: {show(bounds[0])}–{show(bounds[1])})"


def card_table(card: Mapping[str, Any], lang: str) -> dbc.Table:
    lr, dd = card.get("late_risk", {}), card.get("delivery_days", {})
    period = lr.get("test_period") or []
    three = lambda v: fmt.number(v, 3)  # noqa: E731
    rows = [("card.model", lr.get("model", "—")), ("card.auc", _with_interval(lr, "roc_auc", three, lang)),
            ("card.pr", fmt.number(lr.get("pr_auc"), 3)), ("card.brier", fmt.number(lr.get("brier"), 3)),
            ("card.ece", _with_interval(lr, "ece", three, lang)),
            ("card.test", " → ".join(period) if period else "—"),
            ("card.mae", fmt.number(dd.get("mae"), 2)), ("card.base", fmt.number(dd.get("baseline_mae"), 2)),
            ("card.cov", _with_interval(dd, "p90_coverage", fmt.pct, lang)),
            ("card.created", card.get("created_at", "—"))]
    return dbc.Table([html.Tbody([html.Tr([html.Th(t(k, lang)), html.Td(v)]) for k, v in rows])],
                     size="sm", bordered=False, className="mb-2 small")
