"""Sourcing page: layout, grids, figures and texts (es-PE default, en)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import dash_ag_grid as dag
import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids, maps
from components.i18n import current_lang, translator
from components.layout import kpi_card, page_header
from components.theme import COLORWAY, blank_figure, style

DEFAULT_INGREDIENTS = ("cacao", "paiche", "concha_abanico")
DEFAULT_MENU = (
    {"ingredient_id": "cacao", "kg_month": 25.0}, {"ingredient_id": "paiche", "kg_month": 120.0},
    {"ingredient_id": "concha_abanico", "kg_month": 60.0}, {"ingredient_id": "papa_nativa", "kg_month": 300.0},
    {"ingredient_id": "aji_amarillo", "kg_month": 80.0}, {"ingredient_id": "quinoa", "kg_month": 50.0},
)
SCORE_SCALE = [[0, "#c8102e"], [0.5, "#e9c46a"], [1, "#2a9d8f"]]  # sustainability 0–100: red → teal
COMPONENT_KEYS = ("pts_certifications", "pts_practices", "pts_transport", "pts_social", "pts_reliability")

# Ingredient names (UI strings; tests check they cover analytics.sourcing.ingredients.INGREDIENT_IDS).
INGREDIENTS: dict[str, tuple[str, str]] = {
    "cacao": ("Cacao fino de aroma", "Fine-flavour cacao"),
    "quinoa": ("Quinua real", "Royal quinoa"),
    "papa_nativa": ("Papas nativas", "Native potatoes"),
    "aji_amarillo": ("Ají amarillo", "Ají amarillo pepper"),
    "maca": ("Maca", "Maca"),
    "camu_camu": ("Camu camu (pulpa)", "Camu camu (pulp)"),
    "paiche": ("Paiche", "Paiche (arapaima)"),
    "concha_abanico": ("Conchas de abanico", "Peruvian scallops"),
    "cafe": ("Café de especialidad", "Specialty coffee"),
    "lucuma": ("Lúcuma (pulpa)", "Lúcuma (pulp)"),
    "sal_maras": ("Sal de Maras", "Maras salt"),
    "kiwicha": ("Kiwicha", "Amaranth (kiwicha)"),
    "tarwi": ("Tarwi (chocho)", "Andean lupin (tarwi)"),
    "maiz_gigante": ("Maíz blanco gigante del Cusco", "Cusco giant white corn"),
    "pallar": ("Pallar de Ica", "Ica lima beans"),
    "chirimoya": ("Chirimoya Cumbe", "Cumbe cherimoya"),
    "loche": ("Loche de Lambayeque", "Lambayeque loche squash"),
    "limon_sutil": ("Limón sutil", "Key lime (limón sutil)"),
    "trucha": ("Trucha arcoíris", "Rainbow trout"),
    "cushuro": ("Cushuro", "Cushuro (Andean cyanobacteria)"),
    "aguaymanto": ("Aguaymanto", "Goldenberry"),
    "sacha_inchi": ("Sacha inchi", "Sacha inchi"),
    "rocoto": ("Rocoto", "Rocoto pepper"),
}

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Abastecimiento sostenible",
        "subtitle": "Proveedores éticos de insumos peruanos para una cocina de alta gastronomía en Lima",
        "ingredients": "Insumos", "weights": "Pesos del ranking", "min_quality": "Calidad mínima",
        "w.sustainability": "Sostenibilidad", "w.price": "Precio", "w.reliability": "Puntualidad",
        "w.distance": "Distancia",
        "ranking": "Proveedores recomendados", "breakdown": "Por qué cada uno ocupa su lugar (puntos del ranking)",
        "map": "Origen de los proveedores", "pareto": "Precio vs. sostenibilidad (frontera de Pareto)",
        "export": "Exportar lista corta (CSV)", "topk": "Por insumo",
        "menu": "Modo menú", "menu.help": "Ingrese los insumos del menú y los kg por mes; se compara el "
        "proveedor actual con el mejor conjunto alternativo según los pesos.",
        "menu.add": "Agregar fila", "menu.current": "Actual", "menu.alternative": "Alternativa",
        "menu.cost": "Costo mensual", "menu.co2e": "CO₂e transporte / mes", "menu.score": "Sostenibilidad media",
        "menu.saving_pen": "Ahorro mensual", "menu.saving_co2e": "CO₂e evitado / mes",
        "menu.extra_pen": "Costo adicional mensual", "menu.extra_co2e": "CO₂e adicional / mes",
        "menu.rejected": "Filas rechazadas", "menu.row": "Fila", "menu.reason": "Motivo",
        "menu.shortfall": "{kg} kg/mes sin capacidad alternativa: quedan con el proveedor actual.",
        "menu.empty": "El menú no tiene filas válidas.", "menu.alloc": "Conjunto alternativo",
        "col.rank": "#", "col.ingredient": "Insumo", "col.supplier": "Proveedor", "col.region": "Región",
        "col.locality": "Localidad", "col.score": "Sostenib.", "col.source": "Fuente", "col.composite": "Ranking",
        "col.price": "S/ por kg", "col.on_time": "A tiempo", "col.distance": "km a Lima", "col.mode": "Modo",
        "col.co2e": "kg CO₂e/kg", "col.certs": "Certificaciones", "col.practices": "Prácticas",
        "col.why": "Por qué", "col.pareto": "Pareto", "col.lead": "Días", "col.capacity": "kg/mes",
        "col.kg": "kg por mes", "col.current": "Proveedor actual", "col.cost": "Costo", "col.alt_cost": "Costo alt.",
        "col.saving": "Ahorro", "col.saving_co2e": "CO₂e evitado (kg)", "col.quality": "Calidad",
        "pts_certifications": "Certificaciones", "pts_practices": "Prácticas", "pts_transport": "Transporte",
        "pts_social": "Social", "pts_reliability": "Confiabilidad",
        "c.sustainability": "Sostenibilidad", "c.price": "Precio", "c.reliability": "Puntualidad",
        "c.distance": "Distancia",
        "src.audit": "auditoría", "src.model": "modelo", "src.baseline": "promedio",
        "mode.road": "camión", "mode.road_reefer": "camión refrigerado", "mode.air": "avión",
        "mode.river_road": "río + carretera",
        "axis.price": "Precio (S/ por kg, escala log)", "axis.score": "Puntaje de sostenibilidad (0–100)",
        "front": "frontera", "lima": "Lima (cocina)",
        "computing": "Calculando…", "choose.figure": "Elija al menos un insumo para ver sus proveedores aquí.",
        "notice.model_missing": "El modelo de puntaje aún no está entrenado: los proveedores con auditoría "
        "incompleta reciben el puntaje promedio. Ejecute `python app.py train`.",
        "notice.model_stale": "El modelo se entrenó con otros datos de proveedores: se usa el puntaje promedio "
        "para auditorías incompletas. Ejecute `python app.py train`.",
        "notice.model_refused": "El archivo del modelo no coincide con su huella SHA-256 y fue rechazado: se usa "
        "el puntaje promedio. Vuelva a entrenar (`python app.py train`).",
        "missing": "Aún no hay datos de proveedores. Ejecute `python app.py generate`.",
        "choose": "Elija al menos un insumo.",
        "why": "{score} pts sost. ({cs}) · {price} ({cp}) · {ot} a tiempo ({cr}) · {km} km ({cd})",
        "method": "Puntaje 0–100 = certificaciones (25) + prácticas (20) + transporte CO₂e (20) + social (20) + "
        "confiabilidad (15). CO₂e = km por tramo × factor (kg CO₂e/t-km, estilo GLEC / ISO 14083: camión 0.090, "
        "refrigerado 0.110, avión 1.130, río 0.040) ÷ 1000.",
    },
    "en": {
        "title": "Sustainable sourcing",
        "subtitle": "Ethical suppliers of Peruvian ingredients for a Lima fine-dining kitchen",
        "ingredients": "Ingredients", "weights": "Ranking weights", "min_quality": "Minimum quality",
        "w.sustainability": "Sustainability", "w.price": "Price", "w.reliability": "Reliability",
        "w.distance": "Distance",
        "ranking": "Recommended suppliers", "breakdown": "Why each one ranks where it does (ranking points)",
        "map": "Where suppliers are", "pareto": "Price vs sustainability (Pareto front)",
        "export": "Export shortlist (CSV)", "topk": "Per ingredient",
        "menu": "Menu mode", "menu.help": "Enter the menu's ingredients and kg per month; the current supplier "
        "is compared with the best alternative set under the weights.",
        "menu.add": "Add row", "menu.current": "Current", "menu.alternative": "Alternative",
        "menu.cost": "Monthly cost", "menu.co2e": "Transport CO₂e / month", "menu.score": "Average sustainability",
        "menu.saving_pen": "Monthly saving", "menu.saving_co2e": "CO₂e avoided / month",
        "menu.extra_pen": "Extra monthly cost", "menu.extra_co2e": "Extra CO₂e / month",
        "menu.rejected": "Rejected rows", "menu.row": "Row", "menu.reason": "Reason",
        "menu.shortfall": "{kg} kg/month without alternative capacity: they stay with the current supplier.",
        "menu.empty": "The menu has no valid rows.", "menu.alloc": "Alternative set",
        "col.rank": "#", "col.ingredient": "Ingredient", "col.supplier": "Supplier", "col.region": "Region",
        "col.locality": "Locality", "col.score": "Sustain.", "col.source": "Source", "col.composite": "Ranking",
        "col.price": "S/ per kg", "col.on_time": "On time", "col.distance": "km to Lima", "col.mode": "Mode",
        "col.co2e": "kg CO₂e/kg", "col.certs": "Certifications", "col.practices": "Practices",
        "col.why": "Why", "col.pareto": "Pareto", "col.lead": "Days", "col.capacity": "kg/month",
        "col.kg": "kg per month", "col.current": "Current supplier", "col.cost": "Cost", "col.alt_cost": "Alt. cost",
        "col.saving": "Saving", "col.saving_co2e": "CO₂e avoided (kg)", "col.quality": "Quality",
        "pts_certifications": "Certifications", "pts_practices": "Practices", "pts_transport": "Transport",
        "pts_social": "Social", "pts_reliability": "Reliability",
        "c.sustainability": "Sustainability", "c.price": "Price", "c.reliability": "Reliability",
        "c.distance": "Distance",
        "src.audit": "audit", "src.model": "model", "src.baseline": "mean",
        "mode.road": "truck", "mode.road_reefer": "reefer truck", "mode.air": "air", "mode.river_road": "river + road",
        "axis.price": "Price (S/ per kg, log scale)", "axis.score": "Sustainability score (0–100)",
        "front": "front", "lima": "Lima (kitchen)",
        "computing": "Computing…", "choose.figure": "Choose at least one ingredient to see its suppliers here.",
        "notice.model_missing": "The score model is not trained yet: suppliers with incomplete audits get the "
        "mean score. Run `python app.py train`.",
        "notice.model_stale": "The model was trained on other supplier data: incomplete audits get the mean "
        "score. Run `python app.py train`.",
        "notice.model_refused": "The model file does not match its SHA-256 fingerprint and was refused: the mean "
        "score is used. Retrain (`python app.py train`).",
        "missing": "No supplier data yet. Run `python app.py generate`.",
        "choose": "Choose at least one ingredient.",
        "why": "{score} sust. pts ({cs}) · {price} ({cp}) · {ot} on time ({cr}) · {km} km ({cd})",
        "method": "Score 0–100 = certifications (25) + practices (20) + transport CO₂e (20) + social (20) + "
        "reliability (15). CO₂e = km per leg × factor (kg CO₂e/t-km, GLEC / ISO 14083 style: truck 0.090, "
        "reefer 0.110, air 1.130, river 0.040) ÷ 1000.",
    },
}
tr = translator(TEXT)


def ingredient_name(ing: str, lang: str) -> str:
    names = INGREDIENTS.get(ing)
    return (names[0] if lang == "es" else names[1]) if names else ing


def parse_ingredients(value: object) -> list[str]:
    """Ingredient ids from the URL (``ing=cacao,paiche``); unknown ids are ignored, order kept."""
    if not isinstance(value, str) or len(value) > 500:
        return list(DEFAULT_INGREDIENTS)
    out = [v for v in dict.fromkeys(x.strip() for x in value.split(",")) if v in INGREDIENTS]
    return out or list(DEFAULT_INGREDIENTS)


MAX_CRITERIA = 16  # a URL with more weights than this is not one this page wrote


def parse_weights(value: object) -> list[int] | None:
    """Weights 0–100 from the URL (``w=40,30,20,10``, one per ranking criterion, in the criteria's order);
    None when absent or malformed. Whether there is one per criterion is for the callback that builds
    the sliders (``callbacks.sourcing.weight_sliders``) to check: it knows the criteria."""
    if not isinstance(value, str) or len(value) > 8 * MAX_CRITERIA:
        return None
    try:
        parts = [int(float(x)) for x in value.split(",")]
    except (ValueError, OverflowError):  # OverflowError: "1e999" or 400 digits
        return None
    if len(parts) > MAX_CRITERIA or any(not 0 <= p <= 100 for p in parts) or sum(parts) == 0:
        return None
    return parts


def parse_quality(value: object) -> int:
    try:
        q = int(float(value))  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        return 0
    return q if 0 <= q <= 100 else 0


def query_state(ingredients: Sequence[str], weights: Sequence[float], min_quality: float) -> dict[str, str]:
    """The page's state for the URL query string."""
    return {"ing": ",".join(ingredients), "w": ",".join(str(int(w)) for w in weights),
            "minq": str(int(min_quality)) if min_quality else ""}


def _slider(cid: str | dict[str, Any], label: str, value: float) -> html.Div:
    return html.Div([
        html.Label(label, htmlFor=cid if isinstance(cid, str) else None, className="form-label small mb-0"),
        dcc.Slider(id=cid, min=0, max=100, step=5, value=value, marks={0: "0", 50: "50", 100: "100"},
                   tooltip={"placement": "bottom", "always_visible": False}),
    ], className="mb-1")


def weight_sliders(weights: Sequence[tuple[str, float]], lang: str) -> list[html.Div]:
    """One weight slider per ranking criterion (``(criterion, weight)`` in the ranking's order)."""
    return [_slider(ids.sourcing_weight(c), tr(f"w.{c}", lang), w) for c, w in weights]


def _card(title: str, body: Any, **kw: Any) -> dbc.Card:
    return dbc.Card([dbc.CardHeader(title, className="fw-semibold"), dbc.CardBody(body)],
                    className="shadow-sm h-100", **kw)


def grid_columns(lang: str) -> list[dict[str, Any]]:
    num1 = {"function": "params.value == null ? '—' : d3.format(',.1f')(params.value)"}
    return [
        {"field": "rank", "headerName": tr("col.rank", lang), "width": 60, "pinned": "left"},
        {"field": "ingredient", "headerName": tr("col.ingredient", lang), "width": 150, "pinned": "left"},
        {"field": "name", "headerName": tr("col.supplier", lang), "width": 260, "tooltipField": "name"},
        {"field": "composite", "headerName": tr("col.composite", lang), "width": 95, "valueFormatter": num1,
         "sort": None},
        {"field": "sustainability_score", "headerName": tr("col.score", lang), "width": 95, "valueFormatter": num1},
        {"field": "source", "headerName": tr("col.source", lang), "width": 95},
        {"field": "why", "headerName": tr("col.why", lang), "width": 430, "tooltipField": "why"},
        *[{"field": k, "headerName": tr(k, lang), "width": 110, "valueFormatter": num1} for k in COMPONENT_KEYS],
        {"field": "price", "headerName": tr("col.price", lang), "width": 105},
        {"field": "on_time", "headerName": tr("col.on_time", lang), "width": 90},
        {"field": "distance_km", "headerName": tr("col.distance", lang), "width": 100,
         "valueFormatter": {"function": "d3.format(',.0f')(params.value)"}},
        {"field": "mode", "headerName": tr("col.mode", lang), "width": 130},
        {"field": "co2e_kg_per_kg", "headerName": tr("col.co2e", lang), "width": 105,
         "valueFormatter": {"function": "d3.format('.3f')(params.value)"}},
        {"field": "region", "headerName": tr("col.region", lang), "width": 120},
        {"field": "locality", "headerName": tr("col.locality", lang), "width": 200},
        {"field": "quality_score", "headerName": tr("col.quality", lang), "width": 90, "valueFormatter": num1},
        {"field": "lead_time_days", "headerName": tr("col.lead", lang), "width": 75},
        {"field": "capacity_kg_month", "headerName": tr("col.capacity", lang), "width": 100,
         "valueFormatter": {"function": "d3.format(',.0f')(params.value)"}},
        {"field": "certifications", "headerName": tr("col.certs", lang), "width": 220},
        {"field": "practices", "headerName": tr("col.practices", lang), "width": 220},
        {"field": "pareto", "headerName": tr("col.pareto", lang), "width": 85},
        {"field": "supplier_id", "headerName": "ID", "width": 95},
    ]


def menu_columns(lang: str) -> list[dict[str, Any]]:
    ref = {k: ingredient_name(k, lang) for k in INGREDIENTS}
    return [
        {"field": "ingredient_id", "headerName": tr("col.ingredient", lang), "editable": True, "flex": 2,
         "cellEditor": "agSelectCellEditor", "cellEditorParams": {"values": list(INGREDIENTS)}, "refData": ref},
        {"field": "kg_month", "headerName": tr("col.kg", lang), "editable": True, "flex": 1,
         "cellEditor": "agNumberCellEditor", "type": "numericColumn"},
    ]


def layout(ing: object = None, w: object = None, minq: object = None) -> html.Div:
    lang = current_lang()
    ings = parse_ingredients(ing)
    quality = parse_quality(minq)
    options = [{"label": ingredient_name(k, lang), "value": k} for k in INGREDIENTS]
    controls = _card(tr("weights", lang), [
        html.Label(tr("ingredients", lang), htmlFor=ids.SOURCING_INGREDIENTS, className="form-label small"),
        dcc.Dropdown(id=ids.SOURCING_INGREDIENTS, options=options, value=ings, multi=True, className="mb-3"),
        dcc.Store(id=ids.SOURCING_URL_WEIGHTS, data=parse_weights(w)),
        html.Div(id=ids.SOURCING_WEIGHTS),  # the sliders, one per criterion (callbacks.sourcing.weight_sliders)
        _slider(ids.SOURCING_MIN_QUALITY, tr("min_quality", lang), quality),
        html.Div([
            dbc.Select(id=ids.SOURCING_TOPK, options=[{"label": f"{tr('topk', lang)}: {k}", "value": str(k)}
                                                       for k in (1, 3, 5, 10)], value="3",
                       size="sm", className="me-2", style={"maxWidth": "10rem"}),
            dbc.Button(tr("export", lang), id=ids.SOURCING_EXPORT, size="sm", color="primary"),
            dcc.Download(id=ids.SOURCING_DOWNLOAD),
        ], className="d-flex align-items-center mt-2"),
        html.P(tr("method", lang), className="small text-body-secondary mt-3 mb-0"),
    ])
    graph_cfg: Any = {"displaylogo": False}
    return html.Div([
        dcc.Store(id=ids.SOURCING_QUERY), html.Div(id=ids.SOURCING_QUERY_SYNCED, hidden=True),
        page_header(tr("title", lang), tr("subtitle", lang)),
        html.Div(id=ids.SOURCING_STATUS),
        dbc.Row([
            dbc.Col(controls, lg=3),
            dbc.Col(_card(tr("ranking", lang), dag.AgGrid(
                id=ids.SOURCING_GRID, columnDefs=grid_columns(lang), rowData=[],
                defaultColDef={"sortable": True, "resizable": True, "filter": True},
                dashGridOptions={"tooltipShowDelay": 300, "animateRows": False},
                style={"height": "560px"}, className="ag-theme-quartz")), lg=9),
        ], className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(_card(tr("breakdown", lang), dcc.Loading(dcc.Graph(
                id=ids.SOURCING_BREAKDOWN, config=graph_cfg, figure=blank_figure(tr("computing", lang), height=260)))),
                    lg=12),
        ], className="g-3 mb-3"),
        dbc.Row([
            dbc.Col(_card(tr("map", lang), dcc.Graph(id=ids.SOURCING_MAP, config=maps.graph_config(),
                                                     figure=blank_figure(tr("computing", lang), height=560))), lg=5),
            dbc.Col(_card(tr("pareto", lang), dcc.Graph(id=ids.SOURCING_PARETO, config=graph_cfg,
                                                        figure=blank_figure(tr("computing", lang), height=560))),
                    lg=7),
        ], className="g-3 mb-3"),
        _card(tr("menu", lang), dbc.Row([
            dbc.Col([
                html.P(tr("menu.help", lang), className="small text-body-secondary"),
                dag.AgGrid(id=ids.SOURCING_MENU_GRID, columnDefs=menu_columns(lang), rowData=list(DEFAULT_MENU),
                           defaultColDef={"resizable": True}, dashGridOptions={"singleClickEdit": True,
                                                                              "stopEditingWhenCellsLoseFocus": True},
                           style={"height": "300px"}, className="ag-theme-quartz"),
                dbc.Button(tr("menu.add", lang), id=ids.SOURCING_MENU_ADD, size="sm", color="secondary",
                           outline=True, className="mt-2"),
            ], lg=4),
            dbc.Col(dcc.Loading(html.Div(id=ids.SOURCING_MENU_RESULT)), lg=8),
        ])),
    ])


# --- shaping the analytics results -------------------------------------------------------------


def _label_list(value: str, lang: str) -> str:
    return ", ".join(v.replace("_", " ") for v in value.split(",")) if value else "—"


def grid_rows(records: Sequence[Mapping[str, Any]], region_names: Mapping[str, str], lang: str) -> list[dict]:
    """Rows for the ranking grid (one per supplier, already ranked)."""
    rows = []
    for r in records:
        why = tr("why", lang, score=fmt.number(r["sustainability_score"], 1), cs=fmt.number(r["c_sustainability"], 1),
                 price=fmt.soles(r["price_pen_kg"]) + "/kg", cp=fmt.number(r["c_price"], 1),
                 ot=fmt.pct(r["on_time_rate"], 0), cr=fmt.number(r["c_reliability"], 1),
                 km=fmt.integer(r["distance_km"]), cd=fmt.number(r["c_distance"], 1))
        rows.append({
            "rank": r["rank"], "ingredient": ingredient_name(r["ingredient_id"], lang),
            "ingredient_id": r["ingredient_id"], "supplier_id": r["supplier_id"], "name": r["name"],
            "composite": round(r["composite"], 2), "sustainability_score": round(r["sustainability_score"], 2),
            "source": tr(f"src.{r['score_source']}", lang), "why": why,
            **{k: (None if r[k] is None else round(r[k], 2)) for k in COMPONENT_KEYS},
            "price": fmt.soles(r["price_pen_kg"]), "price_pen_kg": r["price_pen_kg"],
            "on_time": fmt.pct(r["on_time_rate"], 1), "distance_km": r["distance_km"],
            "mode": tr(f"mode.{r['transport_mode']}", lang), "co2e_kg_per_kg": round(r["co2e_kg_per_kg"], 4),
            "region": region_names.get(r["region"], r["region"]), "locality": r["locality"],
            "quality_score": r["quality_score"], "lead_time_days": r["lead_time_days"],
            "capacity_kg_month": r["capacity_kg_month"], "certifications": _label_list(r["certifications"], lang),
            "practices": _label_list(r["practices"], lang), "pareto": "★" if r["pareto"] else "",
        })
    return rows


def breakdown_figure(records: Sequence[Mapping[str, Any]], criteria: Sequence[str], lang: str, theme: str,
                     per_ingredient: int = 5) -> go.Figure:
    """Stacked bars: the composite of the top suppliers of each ingredient split by criterion (``c_<criterion>``)."""
    top = [r for r in records if r["rank"] <= per_ingredient][::-1]
    labels = [f"{ingredient_name(r['ingredient_id'], lang)} #{r['rank']} · {r['name'][:38]}" for r in top]
    fig = go.Figure()
    for i, c in enumerate(criteria):
        fig.add_bar(y=labels, x=[round(r[f"c_{c}"], 2) for r in top], name=tr(f"c.{c}", lang), orientation="h",
                    marker_color=COLORWAY[i % len(COLORWAY)], hovertemplate="%{y}<br>%{x:.1f}<extra>" + tr(f"c.{c}", lang) + "</extra>")
    fig.update_layout(barmode="stack", xaxis={"range": [0, 100], "title": tr("col.composite", lang)},
                      legend={"orientation": "h", "y": 1.08}, yaxis={"automargin": True})
    return style(fig, theme, height=max(260, 26 * len(top) + 90))


def map_figure(records: Sequence[Mapping[str, Any]], outlines: Mapping[str, Any], region_names: Mapping[str, str],
               lima: tuple[float, float], lang: str, theme: str) -> dict[str, Any]:
    """Suppliers over Peru's outline, coloured by sustainability score and sized by composite, the Lima
    kitchen as a star, and a line from each ingredient's top supplier to Lima (dotted when it flies)."""
    c = maps.colors(theme)
    tops = [r for r in records if r["rank"] == 1]
    layers = [maps.lines_trace([[(r["lat"], r["lon"]), lima]], color=c.line, width=1.2,
                               dash="dot" if r["transport_mode"] == "air" else "solid") for r in tops]
    layers.append(maps.points_trace(
        records, name=tr("col.supplier", lang),
        hovertext=[f"#{r['rank']} {r['name']}<br>{ingredient_name(r['ingredient_id'], lang)} · {r['locality']}<br>"
                   f"{tr('col.score', lang)}: {fmt.number(r['sustainability_score'], 1)} · "
                   f"{fmt.number(r['co2e_kg_per_kg'], 3)} kg CO₂e/kg · {tr('mode.' + r['transport_mode'], lang)}"
                   for r in records],
        marker={"size": [8 + 10 * r["composite"] / 100 for r in records],
                "color": [r["sustainability_score"] for r in records], "cmin": 0, "cmax": 100,
                "colorscale": SCORE_SCALE, "showscale": True,
                "colorbar": {"title": {"text": tr("col.score", lang), "side": "top"}, "orientation": "h",
                             "thickness": 10, "len": 0.6, "x": 0.5, "xanchor": "center", "y": 0.0,
                             "yanchor": "top"},
                "line": {"width": 0.6, "color": c.point}, "opacity": 0.9}))
    layers.append(maps.points_trace([{"lat": lima[0], "lon": lima[1]}], text=[tr("lima", lang)],
                                    textposition="middle left", textfont=maps.textfont(theme, 12),
                                    hovertext=[tr("lima", lang)], name=tr("lima", lang),
                                    marker={"symbol": "star", "size": 18, "color": "#c8102e",
                                            "line": {"width": 1, "color": c.border}}))
    fig = maps.sites_map(outlines, region_names, layers, theme, height=560)
    fig["layout"]["margin"]["b"] = 70  # the colour bar lies under the map
    return fig


def pareto_figure(records: Sequence[Mapping[str, Any]], lang: str, theme: str) -> go.Figure:
    """Price vs sustainability per ingredient, Pareto-efficient suppliers joined by the front line."""
    fig = go.Figure()
    order = list(dict.fromkeys(r["ingredient_id"] for r in records))
    for i, ing in enumerate(order):
        rows = [r for r in records if r["ingredient_id"] == ing]
        color = COLORWAY[i % len(COLORWAY)]
        name = ingredient_name(ing, lang)
        fig.add_scatter(x=[r["price_pen_kg"] for r in rows], y=[r["sustainability_score"] for r in rows],
                        mode="markers", name=name, legendgroup=ing,
                        marker={"color": color, "size": 9, "opacity": [1.0 if r["pareto"] else 0.35 for r in rows],
                                "symbol": ["diamond" if r["pareto"] else "circle" for r in rows]},
                        text=[f"{r['name']}<br>{fmt.soles(r['price_pen_kg'])}/kg · {fmt.number(r['sustainability_score'], 1)}"
                              for r in rows], hoverinfo="text")
        front = sorted((r for r in rows if r["pareto"]), key=lambda r: (r["price_pen_kg"], -r["sustainability_score"]))
        fig.add_scatter(x=[r["price_pen_kg"] for r in front], y=[r["sustainability_score"] for r in front],
                        mode="lines", line={"color": color, "width": 2, "shape": "hv"}, legendgroup=ing,
                        name=f"{name} · {tr('front', lang)}", showlegend=False, hoverinfo="skip")
    fig.update_layout(xaxis={"title": tr("axis.price", lang), "type": "log"},
                      yaxis={"title": tr("axis.score", lang), "range": [0, 100]},
                      legend={"orientation": "h", "y": -0.2})
    return style(fig, theme, height=560)


def notice(code: str | None, lang: str) -> dbc.Alert | None:
    if not code:
        return None
    return dbc.Alert(tr(f"notice.{code}", lang), color="warning", className="py-2 small")


def error(msg: str) -> dbc.Alert:
    return dbc.Alert(msg, color="danger", className="py-2 small")


def _saving_card(key_saving: str, key_extra: str, value: float, text: str, lang: str) -> dbc.Col:
    label = tr(key_saving if value >= 0 else key_extra, lang)
    return dbc.Col(kpi_card(label, text), md=3)


def menu_result(lines: Sequence[Mapping[str, Any]], alloc: Sequence[Mapping[str, Any]], totals: Mapping[str, float],
                rejected: Sequence[Mapping[str, Any]], lang: str) -> html.Div:
    """KPIs (current vs alternative), per-ingredient lines and the alternative set."""
    children: list[Any] = []
    if rejected:
        children.append(dbc.Alert([html.Div(tr("menu.rejected", lang), className="fw-semibold"),
                                   html.Ul([html.Li(f"{tr('menu.row', lang)} {r['row_number']}: {r['reason']}")
                                            for r in rejected], className="mb-0")],
                                  color="warning", className="py-2 small"))
    if not lines:
        children.append(dbc.Alert(tr("menu.empty", lang), color="info", className="py-2 small"))
        return html.Div(children)
    sp, sc = totals["saving_pen"], totals["saving_co2e_kg"]
    children.append(dbc.Row([
        dbc.Col(kpi_card(tr("menu.cost", lang), fmt.soles(totals["current_cost_pen"]),
                         f"{tr('menu.alternative', lang)}: {fmt.soles(totals['alt_cost_pen'])}"), md=3),
        dbc.Col(kpi_card(tr("menu.co2e", lang), f"{fmt.number(totals['current_co2e_kg'], 1)} kg",
                         f"{tr('menu.alternative', lang)}: {fmt.number(totals['alt_co2e_kg'], 1)} kg"), md=3),
        _saving_card("menu.saving_pen", "menu.extra_pen", sp, fmt.soles(abs(sp)), lang),
        _saving_card("menu.saving_co2e", "menu.extra_co2e", sc, f"{fmt.number(abs(sc), 1)} kg", lang),
    ], className="g-2 mb-2"))
    children.append(html.Div(
        f"{tr('menu.score', lang)}: {fmt.number(totals['current_score'], 1)} → {fmt.number(totals['alt_score'], 1)}",
        className="small mb-2"))
    if totals.get("shortfall_kg", 0) > 0:
        children.append(dbc.Alert(tr("menu.shortfall", lang, kg=fmt.number(totals["shortfall_kg"], 1)),
                                  color="info", className="py-2 small"))
    head = html.Thead(html.Tr([html.Th(tr(k, lang)) for k in ("col.ingredient", "col.kg", "col.current", "col.cost",
                                                               "col.alt_cost", "col.saving", "col.saving_co2e")]))
    body = html.Tbody([html.Tr([
        html.Td(ingredient_name(r["ingredient_id"], lang)), html.Td(fmt.number(r["kg_month"], 1)),
        html.Td(r["current_name"]), html.Td(fmt.soles(r["current_cost_pen"])), html.Td(fmt.soles(r["alt_cost_pen"])),
        html.Td(fmt.soles(r["saving_pen"])), html.Td(fmt.number(r["saving_co2e_kg"], 1)),
    ]) for r in lines])
    children.append(dbc.Table([head, body], size="sm", striped=True, className="table-compact small"))
    children.append(html.Div(tr("menu.alloc", lang), className="fw-semibold small mt-2"))
    children.append(dbc.Table([
        html.Thead(html.Tr([html.Th(tr(k, lang)) for k in ("col.ingredient", "col.supplier", "col.kg", "col.price",
                                                            "col.co2e", "col.score")])),
        html.Tbody([html.Tr([html.Td(ingredient_name(a["ingredient_id"], lang)), html.Td(f"#{a['rank']} {a['name']}"),
                             html.Td(fmt.number(a["kg_month"], 1)), html.Td(fmt.soles(a["price_pen_kg"])),
                             html.Td(fmt.number(a["co2e_kg_per_kg"], 3)), html.Td(fmt.number(a["sustainability_score"], 1))])
                    for a in alloc]),
    ], size="sm", striped=True, className="table-compact small"))
    return html.Div(children)


def empty_figures(message: str, theme: str) -> tuple[go.Figure, go.Figure, go.Figure]:
    """Breakdown, map and Pareto chart before there is a ranking: the sentence saying what to do."""
    return (blank_figure(message, theme, height=260), blank_figure(message, theme, height=560),
            blank_figure(message, theme, height=560))
