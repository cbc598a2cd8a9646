"""Segments page: layout, figures (elbow/silhouette, PCA scatter, Sankey) and the profile table.

Builders take plain Python values (lists, dicts) so that this module never imports analytics.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html
from plotly.subplots import make_subplots

from components import format as fmt
from components import ids
from components.i18n import current_lang, translator
from components.layout import page_header
from components.theme import COLORWAY, blank_figure, style

K_MIN, K_MAX, K_DEFAULT = 2, 10, 6

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Segmentos de clientes",
        "subtitle": "RFM + K-means: a quién dirigir cada campaña",
        "k": "Número de segmentos (k)", "period": "Periodo", "regions": "Regiones",
        "regions.all": "Todas las regiones", "compare": "Comparar con la foto al",
        "cancel": "Cancelar", "running": "Calculando…",
        "curves": "Codo (inercia) y silueta por k", "inertia": "Inercia", "silhouette": "Silueta",
        "suggested": "k sugerido", "pca": "Clientes en 2-D (PCA, muestra de {n:,})",
        "pca.all": "Clientes en 2-D (PCA, los {n:,})",
        "pca.sample": "Se dibujan {n:,} de {total:,} clientes (muestra al azar).",
        "pca.x": "Componente 1 ({v:.0%} de la varianza)", "pca.y": "Componente 2 ({v:.0%} de la varianza)",
        "sankey": "Movimiento entre segmentos: {a} → {b}", "sankey.none": "Sin comparación (elija una fecha anterior al fin del periodo)",
        "profile": "Perfil por segmento",
        "col.segment": "Segmento", "col.customers": "Clientes", "col.share": "% clientes",
        "col.revenue_share": "% ingresos", "col.aov": "Ticket promedio", "col.frequency": "Pedidos por cliente",
        "col.recency": "Recencia (días, mediana)", "col.category": "Categoría favorita", "col.region": "Región principal",
        "col.late": "Entregas tardías", "col.discount": "Descuento promedio",
        "summary": "{n:,} clientes · k = {k} · silueta {s:.3f} · k sugerido = {sk}",
        "export": "Exportar CSV", "export.segment": "Segmento a exportar", "export.all": "Todos los segmentos",
        "nodata": "No hay clientes con pedidos en esta selección.",
        "missing": "Aún no hay datos. Ejecute `python app.py generate`.",
        "cat.electronics": "electrónica", "cat.fashion": "moda", "cat.home": "hogar", "cat.groceries": "abarrotes",
        "cat.health_beauty": "salud y belleza", "cat.hardware": "ferretería", "cat.toys": "juguetes",
        "cat.sports": "deportes",
    },
    "en": {
        "title": "Customer segments",
        "subtitle": "RFM + K-means: who each campaign should target",
        "k": "Number of segments (k)", "period": "Period", "regions": "Regions",
        "regions.all": "All regions", "compare": "Compare with the snapshot on",
        "cancel": "Cancel", "running": "Computing…",
        "curves": "Elbow (inertia) and silhouette by k", "inertia": "Inertia", "silhouette": "Silhouette",
        "suggested": "suggested k", "pca": "Customers in 2-D (PCA, sample of {n:,})",
        "pca.all": "Customers in 2-D (PCA, all {n:,})",
        "pca.sample": "{n:,} of {total:,} customers drawn (a random sample).",
        "pca.x": "Component 1 ({v:.0%} of variance)", "pca.y": "Component 2 ({v:.0%} of variance)",
        "sankey": "Movement between segments: {a} → {b}", "sankey.none": "No comparison (pick a date before the period end)",
        "profile": "Profile by segment",
        "col.segment": "Segment", "col.customers": "Customers", "col.share": "% customers",
        "col.revenue_share": "% revenue", "col.aov": "Average order value", "col.frequency": "Orders per customer",
        "col.recency": "Recency (days, median)", "col.category": "Favourite category", "col.region": "Main region",
        "col.late": "Late deliveries", "col.discount": "Average discount",
        "summary": "{n:,} customers · k = {k} · silhouette {s:.3f} · suggested k = {sk}",
        "export": "Export CSV", "export.segment": "Segment to export", "export.all": "All segments",
        "nodata": "No customers with orders in this selection.",
        "missing": "No data yet. Run `python app.py generate`.",
        "cat.electronics": "electronics", "cat.fashion": "fashion", "cat.home": "home", "cat.groceries": "groceries",
        "cat.health_beauty": "health & beauty", "cat.hardware": "hardware", "cat.toys": "toys", "cat.sports": "sports",
    },
}
t = translator(TEXT)


def parse_k(value: object, default: int = K_DEFAULT) -> int:
    """k from the URL or the slider; anything unusable gives the default."""
    try:
        k = int(str(value))
    except (TypeError, ValueError):
        return default
    return k if K_MIN <= k <= K_MAX else default


def _iso(value: str | None) -> str | None:
    try:
        return date.fromisoformat(value).isoformat() if value else None
    except (TypeError, ValueError):
        return None


def _codes(value: str | None) -> list[str]:
    if not value or not isinstance(value, str):
        return []
    return [c for c in (p.strip().upper() for p in value.split(",")) if c and len(c) <= 16]


def layout(k: str | None = None, start: str | None = None, end: str | None = None, regions: str | None = None,
           compare: str | None = None) -> html.Div:
    """The page; every argument comes from the query string and may be junk."""
    lang = current_lang()
    kk = parse_k(k)
    codes = _codes(regions)
    controls = dbc.Row(
        [
            dbc.Col([html.Label(t("k", lang), className="form-label small"),
                     dcc.Slider(id=ids.SEGMENTS_K, min=K_MIN, max=K_MAX, step=1, value=kk,
                                marks={i: str(i) for i in range(K_MIN, K_MAX + 1)})], lg=3),
            dbc.Col([html.Label(t("period", lang), className="form-label small d-block"),
                     dcc.DatePickerRange(id=ids.SEGMENTS_DATES, start_date=_iso(start), end_date=_iso(end),
                                         display_format="YYYY-MM-DD", clearable=True,
                                         start_date_placeholder_text=t("overview.from", lang),
                                         end_date_placeholder_text=t("overview.to", lang))], lg="auto"),
            dbc.Col([html.Label(t("regions", lang), className="form-label small"),
                     dcc.Dropdown(id=ids.SEGMENTS_REGIONS, options=[{"label": c, "value": c} for c in codes],
                                  value=codes, multi=True, placeholder=t("regions.all", lang))], lg=3),
            dbc.Col([html.Label(t("compare", lang), className="form-label small d-block"),
                     dcc.DatePickerSingle(id=ids.SEGMENTS_COMPARE, date=_iso(compare), display_format="YYYY-MM-DD",
                                          clearable=True, placeholder=t("common.date", lang))], lg="auto"),
        ],
        className="g-3 mb-2 align-items-end",
    )
    progress = dbc.Row(
        [dbc.Col(dbc.Progress(id=ids.SEGMENTS_PROGRESS, value=0, label="", striped=True, animated=True,
                              style={"height": "1.2rem"}), lg=6),
         dbc.Col(dbc.Button(t("cancel", lang), id=ids.SEGMENTS_CANCEL, color="secondary", size="sm",
                            outline=True, disabled=True), width="auto")],
        className="g-2 mb-2 align-items-center",
    )
    card = lambda child, **kw: dbc.Col(dbc.Card(dbc.CardBody(child), className="h-100 shadow-sm"), **kw)  # noqa: E731
    graph = lambda gid: dcc.Graph(id=gid, figure=blank_figure(t("common.computing", lang)),  # noqa: E731
                                  config={"displaylogo": False})
    export = dbc.Row(
        [dbc.Col(dcc.Dropdown(id=ids.SEGMENTS_EXPORT_SEGMENT, options=[], value=None, clearable=True,
                              placeholder=t("export.all", lang)), lg=3),
         dbc.Col(dbc.Button(t("export", lang), id=ids.SEGMENTS_EXPORT, color="primary", size="sm"), width="auto"),
         dcc.Download(id=ids.SEGMENTS_DOWNLOAD)],
        className="g-2 mb-2 align-items-center",
    )
    return html.Div(
        [
            dcc.Store(id=ids.SEGMENTS_QUERY), html.Div(id=ids.SEGMENTS_QUERY_SYNCED, hidden=True),
            page_header(t("title", lang), t("subtitle", lang)),
            controls, progress,
            html.Div(id=ids.SEGMENTS_STATUS),
            html.P(id=ids.SEGMENTS_SUMMARY, className="text-body-secondary small"),
            dbc.Row([card(graph(ids.SEGMENTS_CURVES), lg=5), card(graph(ids.SEGMENTS_PCA), lg=7)],
                    className="g-3 mb-3"),
            html.H5(t("profile", lang)),
            export,
            html.Div(id=ids.SEGMENTS_PROFILE, className="mb-3"),
            dbc.Row([card(graph(ids.SEGMENTS_SANKEY), lg=12)], className="g-3 mb-3"),
        ]
    )


def color(label: int) -> str:
    return COLORWAY[label % len(COLORWAY)]


def curves_figure(ks: list[int], inertia: list[float], silhouette: list[float], k: int, suggested: int,
                  lang: str, theme: str) -> go.Figure:
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_scatter(x=ks, y=inertia, name=t("inertia", lang), mode="lines+markers", line={"color": COLORWAY[1]},
                    hovertemplate="k = %{x}<br>%{y:,.0f}<extra></extra>")
    fig.add_scatter(x=ks, y=silhouette, name=t("silhouette", lang), mode="lines+markers",
                    line={"color": COLORWAY[0]}, secondary_y=True,
                    hovertemplate="k = %{x}<br>%{y:.3f}<extra></extra>")
    fig.add_vline(x=suggested, line_dash="dot", line_color=COLORWAY[3],
                  annotation_text=f"{t('suggested', lang)} = {suggested}", annotation_position="top")
    if k != suggested:
        fig.add_vline(x=k, line_dash="dash", line_color="gray", annotation_text=f"k = {k}",
                      annotation_position="bottom")
    fig.update_xaxes(title_text="k", dtick=1)
    fig.update_yaxes(title_text=t("inertia", lang), secondary_y=False)
    fig.update_yaxes(title_text=t("silhouette", lang), secondary_y=True)
    fig.update_layout(title=t("curves", lang), legend={"orientation": "h", "y": -0.25})
    return style(fig, theme, height=380)


SVG_MAX_POINTS = 3000  # above this the SVG scatter gets slow to draw and hover: a sample is drawn instead


def thin(points: dict[int, dict[str, list]], limit: int = SVG_MAX_POINTS) -> dict[int, dict[str, list]]:
    """At most ``limit`` points over all labels, every segment kept in proportion (an even stride within
    each, so the same input always gives the same picture)."""
    total = sum(len(p["x"]) for p in points.values())
    if total <= limit:
        return points
    out = {}
    for label, p in points.items():
        n = len(p["x"])
        keep = max(1, round(limit * n / total)) if n else 0
        idx = [int(i * n / keep) for i in range(keep)] if keep else []
        out[label] = {k: [v[i] for i in idx] for k, v in p.items()}
    return out


def pca_figure(points: dict[int, dict[str, list]], names: list[str], variance: tuple[float, float], n: int,
               lang: str, theme: str, total: int | None = None) -> go.Figure:
    """``points``: label -> {"x", "y", "id"} lists (``n`` of them, from ``total`` customers).

    Drawn as SVG (``go.Scatter``, no WebGL, so it shows in every browser), at most :data:`SVG_MAX_POINTS`
    points; when fewer points are drawn than there are customers, the chart says so."""
    drawn_points = thin(points)
    drawn = sum(len(p["x"]) for p in drawn_points.values())
    total = max(total or n, n)
    fig = go.Figure()
    for label in sorted(drawn_points):
        p = drawn_points[label]
        fig.add_scatter(x=p["x"], y=p["y"], mode="markers", name=names[label], customdata=p["id"],
                        marker={"size": 5, "opacity": 0.7, "color": color(label)},
                        hovertemplate="%{customdata}<extra>" + names[label] + "</extra>")
    title = t("pca", lang, n=drawn) if drawn < total else t("pca.all", lang, n=drawn)
    fig.update_layout(title=title, xaxis_title=t("pca.x", lang, v=variance[0]),
                      yaxis_title=t("pca.y", lang, v=variance[1]), legend={"itemsizing": "constant"})
    if drawn < total:
        fig.add_annotation(text=t("pca.sample", lang, n=drawn, total=total), showarrow=False, x=0, y=1.0,
                           xref="paper", yref="paper", xanchor="left", yanchor="bottom", font={"size": 11})
    style(fig, theme, height=400)
    return fig.update_layout(margin={"t": 70})


def sankey_figure(flows: list[tuple[int, int, int]], names: list[str], none_name: str, label_a: str, label_b: str,
                  lang: str, theme: str) -> go.Figure:
    """``flows``: (from_label, to_label, customers) with -1 for "no purchases in that window"."""
    k = len(names)
    node_names = [*names, none_name, *names, none_name]  # left: earlier snapshot, right: current
    node_colors = [color(i) for i in range(k)] + ["#adb5bd"] + [color(i) for i in range(k)] + ["#adb5bd"]

    def node(label: int, right: bool) -> int:
        return (k + 1 if right else 0) + (k if label < 0 else label)

    src = [node(a, False) for a, _, _ in flows]
    dst = [node(b, True) for _, b, _ in flows]
    val = [n for _, _, n in flows]
    fig = go.Figure(go.Sankey(
        arrangement="snap",
        node={"label": node_names, "color": node_colors, "pad": 12, "thickness": 14},
        link={"source": src, "target": dst, "value": val, "color": "rgba(128,128,128,0.25)"},
    ))
    fig.update_layout(title=t("sankey", lang, a=label_a, b=label_b))
    return style(fig, theme, height=460)


def empty_figure(message: str, theme: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    return style(fig, theme, height=200)


def profile_table(rows: list[dict[str, Any]], region_names: dict[str, str], lang: str) -> dbc.Table:
    """One row per segment (dicts from the analytics profile)."""
    cols = ["col.segment", "col.customers", "col.share", "col.revenue_share", "col.aov", "col.frequency",
            "col.recency", "col.category", "col.region", "col.late", "col.discount"]
    head = html.Thead(html.Tr([html.Th(t(c, lang)) for c in cols]))
    body = []
    for r in rows:
        cat = r.get("top_category")
        body.append(html.Tr([
            html.Td([html.Span("●", style={"color": color(int(r["label"]))}, className="me-1"), r["name"]]),
            html.Td(fmt.integer(r["customers"])),
            html.Td(fmt.pct(r["share"])),
            html.Td(fmt.pct(r["revenue_share"])),
            html.Td(fmt.soles(r["aov_pen"])),
            html.Td(fmt.number(r["frequency"], 1)),
            html.Td(fmt.integer(r["recency_days"])),
            html.Td(t(f"cat.{cat}", lang) if cat else "—"),
            html.Td(region_names.get(r["top_region"], r["top_region"] or "—")),
            html.Td(fmt.pct(r["late_share"])),
            html.Td(fmt.number(r["discount_pct"], 1) + "%"),
        ]))
    return dbc.Table([head, html.Tbody(body)], bordered=False, hover=True, responsive=True, size="sm",
                     className="align-middle")
