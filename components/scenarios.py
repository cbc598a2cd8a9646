"""Scenarios page: controls, result cards, figures and the help text (no analytics imports).

The choices (presets, regions, demand categories, horizons) are analytics' facts: the layout leaves the
controls' options empty and ``callbacks.scenarios.control_options`` fills them (and drops URL values
that are not among them) when the page loads.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import translator
from components.layout import slow_note
from components.theme import blank_figure, style

MAX_URL_CODES = 64  # a URL list longer than this is not one this page wrote

TEXT = {
    "es": {
        "title": "Escenarios: planificación ¿qué pasa si…?", "preset": "Episodio de referencia",
        "slow": ("Calibrando el modelo con el historial de pedidos: la primera simulación tras un cambio de datos "
                 "ajusta cada mecanismo (con el motor Spark son varias consultas y puede tardar un minuto); las "
                 "siguientes reutilizan la calibración."),
        "replay": "Reproducir el episodio con los datos previos (backtest)",
        "bt.title": "Backtest: alza prevista de la tasa de retraso frente a lo ocurrido",
        "bt.summary": ("Reproducido al {as_of} (solo datos anteriores al episodio, {start} → {end}), regiones {regions}: "
                       "alza prevista {p50} (P10–P90 {p10} – {p90}); observada {observed}."),
        "bt.within": "P50 a ≤ 25 % (o 2 p.p.) de lo observado", "bt.band": "lo observado dentro de P10–P90",
        "bt.predicted": "Prevista (P10–P90, P50)", "bt.observed": "Observada", "bt.axis": "alza de la tasa de retraso (p.p.)",
        "bt.params": "Parámetros del mecanismo y su origen", "bt.param": "Parámetro", "bt.value": "Valor",
        "bt.source": "Origen", "bt.hypothetical": "«{name}» es hipotético: no hay episodio que reproducir.",
        "bt.pick": "Elija un episodio de referencia para reproducirlo.", "bt.no_data": "Sin pedidos del episodio en los datos.",
        "nino": "Lluvias / El Niño costero (intensidad 0–3)", "norte": "Días con la Panamericana Norte cortada",
        "block_regions": "Bloqueos de carreteras en regiones", "block_days": "Días de bloqueo",
        "callao": "Días de disrupción en el puerto del Callao", "central": "Días de cierre de la Carretera Central",
        "fuel": "Cambio en el precio del combustible (%)", "capacity": "Cambio en la capacidad de transportistas (%)",
        "demand_cat": "Categoría", "demand_pct": "Cambio de demanda (%)", "horizon": "Horizonte (semanas)",
        "late_rate": "Tasa de retraso", "avg_days": "Días promedio de entrega", "cost": "Costo logístico",
        "rar": "Ingresos en riesgo", "affected": "Pedidos afectados", "baseline": "Base", "scenario": "Escenario",
        "band": "P10–P90", "regions_fig": "Tasa de retraso por región (P50, barras P10–P90)",
        "computing": "Simulando…",
        "tornado.none": "Mueva un control (bloqueos, lluvias, puerto, combustible…) para ver qué entrada pesa más.",
        "compare.none": "Guarde un escenario con un nombre y elíjalo arriba para compararlo (hasta tres).",
        "region": "Región",
        "tornado": "¿Qué entrada pesa más? (cambio en la tasa de retraso, p.p.)",
        "mitigations": "Mitigaciones sugeridas (efecto simulado en las regiones más afectadas)",
        "mit.preposition": "Pre-posicionar stock en la región (otro CD)",
        "mit.air": "Cambiar a modo aéreo la mitad de los envíos por carretera",
        "mit.carrier": "Contratar al transportista más confiable de cada ruta",
        "mit.none": "Sin regiones con aumento apreciable: no hacen falta mitigaciones.",
        "mit.effect": "{pp} p.p. de retraso · costo {cost} · ingresos en riesgo {rar}",
        "cancel": "Cancelar", "save_name": "Nombre del escenario", "save": "Guardar", "saved": "Comparar escenarios guardados (máx. 3)",
        "export": "Exportar CSV", "compare_fig": "Comparación (P50, barras P10–P90)",
        "stock_link": "Ver efecto en stock",
        "status": "{runs} simulaciones · {lanes} rutas · datos hasta {as_of} · base: {source} · {secs} s",
        "saved_ok": "Escenario «{name}» guardado.", "name_needed": "El escenario necesita un nombre (1 a 60 caracteres).", "error": "No se pudo simular: {msg}",
        "driver.blockade": "Bloqueos", "driver.pan_norte": "Panamericana Norte", "driver.nino": "Lluvias / El Niño",
        "driver.central": "Carretera Central", "driver.callao": "Puerto del Callao", "driver.fuel": "Combustible",
        "driver.demand": "Demanda", "driver.capacity": "Capacidad de transportistas",
        "help.title": "¿Cómo funciona la simulación?",
        "help.body": (
            "Monte Carlo vectorizado (1 000 corridas) sobre rutas región × CD × modo × transportista, "
            "aprendidas solo de los datos anteriores a la fecha de corte (un episodio se reproduce al día "
            "previo). Base: tasa de retraso de cada ruta en los 3 meses previos, ajustada por la "
            "estacionalidad del mes y los picos comerciales (aprendidos del año anterior), o el modelo de "
            "retraso entrenado si no vio el episodio. Cortes de carretera: durante un bloqueo las vías "
            "están cortadas una parte c de los días (aprendida de bloqueos anteriores; si no los hay, una previa de 50 % con su incertidumbre); un viaje de T días encuentra un "
            "corte con probabilidad 1 − (1 − c)·e^(−T/3) y espera a que se reabra (espera media "
            "c/(1 − c)·3 días) o toma un desvío si existe (Carretera Central: +250 km); llega tarde si la "
            "espera supera su holgura (días prometidos − reales, aprendida por ruta). Parte de los envíos "
            "largos se pasa a avión. Lluvias: probabilidad de inundación local por nivel. Callao: los "
            "productos importados de Lima esperan en puerto. Cada parámetro de un mecanismo se aprende de los episodios "
            "anteriores del mismo tipo (o de una previa documentada, cuya incertidumbre entra en la banda P10–P90). "
            "Capacidad: la demanda sobre la capacidad (percentil 95 diario) forma una cola. Costos: base + "
            "cambio de modo + desvíos + mitigación + combustible (participación del combustible × cambio)."),
    },
    "en": {
        "title": "Scenarios: what-if planning", "preset": "Reference episode",
        "slow": ("Calibrating the model on the order history: the first simulation after the data changes fits "
                 "every mechanism (on the Spark engine that is several queries and can take a minute); the next "
                 "ones reuse the calibration."),
        "replay": "Replay the episode with the data before it (backtest)",
        "bt.title": "Backtest: predicted rise in late rate against what happened",
        "bt.summary": ("Replayed as of {as_of} (only data before the episode, {start} → {end}), regions {regions}: "
                       "predicted rise {p50} (P10–P90 {p10} – {p90}); observed {observed}."),
        "bt.within": "P50 within 25% (or 2 pp) of the observed rise", "bt.band": "observed inside P10–P90",
        "bt.predicted": "Predicted (P10–P90, P50)", "bt.observed": "Observed", "bt.axis": "rise in late rate (pp)",
        "bt.params": "Mechanism parameters and where they came from", "bt.param": "Parameter", "bt.value": "Value",
        "bt.source": "Source", "bt.hypothetical": "“{name}” is hypothetical: there is no episode to replay.",
        "bt.pick": "Pick a reference episode to replay it.", "bt.no_data": "No orders of the episode in the data.",
        "nino": "Rains / coastal El Niño (intensity 0–3)", "norte": "Days the Panamericana Norte is cut",
        "block_regions": "Road blockades in regions", "block_days": "Blockade days",
        "callao": "Callao port disruption days", "central": "Carretera Central closure days",
        "fuel": "Fuel price change (%)", "capacity": "Carrier capacity change (%)",
        "demand_cat": "Category", "demand_pct": "Demand change (%)", "horizon": "Horizon (weeks)",
        "late_rate": "Late rate", "avg_days": "Average delivery days", "cost": "Logistics cost",
        "rar": "Revenue at risk", "affected": "Orders affected", "baseline": "Baseline", "scenario": "Scenario",
        "band": "P10–P90", "regions_fig": "Late rate by region (P50, P10–P90 bars)",
        "computing": "Simulating…",
        "tornado.none": "Move a control (blockades, rains, port, fuel…) to see which input drives the change most.",
        "compare.none": "Save a scenario under a name and pick it above to compare it (up to three).",
        "region": "Region",
        "tornado": "Which input drives the change most? (late-rate change, pp)",
        "mitigations": "Suggested mitigations (simulated effect in the worst-hit regions)",
        "mit.preposition": "Pre-position stock in the region (another DC)",
        "mit.air": "Switch half of the road shipments to air",
        "mit.carrier": "Book the most reliable carrier on each route",
        "mit.none": "No region with a noticeable rise: no mitigation needed.",
        "mit.effect": "{pp} pp late · cost {cost} · revenue at risk {rar}",
        "cancel": "Cancel", "save_name": "Scenario name", "save": "Save", "saved": "Compare saved scenarios (max. 3)",
        "export": "Export CSV", "compare_fig": "Comparison (P50, P10–P90 bars)",
        "stock_link": "See the effect on stock",
        "status": "{runs} runs · {lanes} lanes · data up to {as_of} · baseline: {source} · {secs} s",
        "saved_ok": "Scenario “{name}” saved.", "name_needed": "The scenario needs a name (1 to 60 characters).", "error": "Could not simulate: {msg}",
        "driver.blockade": "Blockades", "driver.pan_norte": "Panamericana Norte", "driver.nino": "Rains / El Niño",
        "driver.central": "Carretera Central", "driver.callao": "Callao port", "driver.fuel": "Fuel",
        "driver.demand": "Demand", "driver.capacity": "Carrier capacity",
        "help.title": "How does the simulation work?",
        "help.body": (
            "Vectorised Monte Carlo (1,000 runs) over lanes region × DC × mode × carrier, learned only from "
            "data before the as-of date (an episode replays as of the day before it began). Baseline: each "
            "lane's late rate over the 3 months before, moved by the month's seasonality and retail peaks "
            "(learned from the year before), or the trained delay model when it did not see the episode. "
            "Road cuts: during a blockade roads are cut on a share c of the days (learned from earlier blockades; without one, a 50% prior with its uncertainty); a trip of "
            "T days meets a cut with probability 1 − (1 − c)·e^(−T/3) and waits for the road to reopen "
            "(mean wait c/(1 − c)·3 days) or detours when a detour exists (Carretera Central: +250 km); it is "
            "late when the wait exceeds its slack (promised − actual days, learned per lane). Some long-haul "
            "shipments move to air. Rains: a chance of local flooding per intensity level. Callao: imported "
            "goods from Lima wait at the port. Every mechanism parameter is learned from earlier episodes of the same kind "
            "(or a documented prior, whose uncertainty is part of the P10–P90 band). Capacity: demand above "
            "capacity (95th percentile of daily volume) builds a queue. Costs: base + mode shift + detours + "
            "mitigation + fuel (fuel share × change)."),
    },
}
tr = translator(TEXT)


def _num(kwargs: dict[str, Any], key: str, default: float) -> float:
    try:
        return float(kwargs.get(key, default))
    except (TypeError, ValueError):
        return default


def _slider(id_: str, lo: int, hi: int, step: int, value: float, marks: dict | None = None) -> dcc.Slider:
    return dcc.Slider(id=id_, min=lo, max=hi, step=step, value=max(lo, min(hi, value)),
                      marks=marks or {lo: str(lo), hi: str(hi)}, tooltip={"placement": "bottom"}, updatemode="mouseup")


def _code(value: str) -> bool:
    return 0 < len(value) <= 32 and value.replace("-", "").replace("_", "").isalnum()


def url_controls(kwargs: dict[str, Any]) -> tuple[list[str], str | None, int | None]:
    """Blockade regions, demand category and horizon as the URL gives them (shape checked only: whether
    they are known is for ``control_options`` to say)."""
    raw = kwargs.get("blockade_regions")
    regions = [r for r in raw.split(",") if _code(r)][:MAX_URL_CODES] if isinstance(raw, str) else []
    demand_cat = next((k.removeprefix("demand_") for k in kwargs if k.startswith("demand_")
                       and _code(k.removeprefix("demand_"))), None)
    horizon = int(_num(kwargs, "horizon_weeks", 0)) or None
    return list(dict.fromkeys(regions)), demand_cat, horizon


def url_replay(kwargs: dict[str, Any]) -> tuple[str | None, bool]:
    """The preset and the replay switch as the URL gives them (``?preset=NAME&replay=1``; shape checked only)."""
    preset = kwargs.get("preset")
    preset = preset if isinstance(preset, str) and _code(preset) else None
    return preset, str(kwargs.get("replay", "")).lower() in ("1", "true", "yes")


def replay_query(preset: str | None, replay: bool) -> str:
    """The replay's part of the query string (empty when there is nothing to replay)."""
    return f"preset={preset}&replay=1" if preset and replay else ""


def choice_options(values: list[Any] | tuple[Any, ...], labels: dict[Any, str] | None = None) -> list[dict[str, Any]]:
    """Dropdown/radio options for values (label: ``labels[value]`` or the value itself)."""
    return [{"label": (labels or {}).get(v, str(v)), "value": v} for v in values]


def controls(lang: str, kwargs: dict[str, Any]) -> dbc.Card:
    regions, demand_cat, horizon = url_controls(kwargs)
    preset, replay = url_replay(kwargs)
    label = lambda k: dbc.Label(tr(k, lang), className="small fw-semibold mt-2 mb-0")  # noqa: E731
    return dbc.Card(dbc.CardBody([
        label("preset"),
        dcc.Dropdown(id=ids.SCENARIOS_PRESET, options=[], value=preset),
        dbc.Switch(id=ids.SCENARIOS_REPLAY, label=tr("replay", lang), value=replay, className="small mt-1"),
        label("block_regions"),
        dcc.Dropdown(id=ids.SCENARIOS_BLOCK_REGIONS, options=[], value=regions, multi=True),
        label("block_days"), _slider(ids.SCENARIOS_BLOCK_DAYS, 0, 90, 1, _num(kwargs, "blockade_days", 0)),
        label("nino"), _slider(ids.SCENARIOS_NINO, 0, 3, 1, _num(kwargs, "nino_intensity", 0),
                               {i: str(i) for i in range(4)}),
        label("norte"), _slider(ids.SCENARIOS_NORTE_DAYS, 0, 60, 1, _num(kwargs, "pan_norte_days", 0)),
        label("callao"), _slider(ids.SCENARIOS_CALLAO_DAYS, 0, 60, 1, _num(kwargs, "callao_days", 0)),
        label("central"), _slider(ids.SCENARIOS_CENTRAL_DAYS, 0, 60, 1, _num(kwargs, "central_days", 0)),
        label("fuel"), _slider(ids.SCENARIOS_FUEL, -30, 100, 5, _num(kwargs, "fuel_pct", 0)),
        label("capacity"), _slider(ids.SCENARIOS_CAPACITY, -50, 50, 5, _num(kwargs, "capacity_pct", 0)),
        dbc.Row([
            dbc.Col([label("demand_cat"), dcc.Dropdown(id=ids.SCENARIOS_DEMAND_CAT, value=demand_cat, clearable=False,
                                                       options=[])]),
            dbc.Col([label("demand_pct"),
                     _slider(ids.SCENARIOS_DEMAND_PCT, -50, 100, 5, _num(kwargs, f"demand_{demand_cat}", 0))]),
        ]),
        label("horizon"),
        dbc.RadioItems(id=ids.SCENARIOS_HORIZON, options=[], value=horizon, inline=True),
        html.Hr(),
        dbc.InputGroup([dbc.Input(id=ids.SCENARIOS_SAVE_NAME, placeholder=tr("save_name", lang), maxLength=60),
                        dbc.Button(tr("save", lang), id=ids.SCENARIOS_SAVE_BTN, color="secondary")], size="sm"),
        label("saved"),
        dcc.Dropdown(id=ids.SCENARIOS_SAVED, options=[], value=[], multi=True),
        dbc.Button(tr("export", lang), id=ids.SCENARIOS_EXPORT_BTN, color="primary", size="sm", className="mt-3"),
        # opens /demand with this scenario's query string (href set by a callback as the scenario changes)
        dcc.Link(tr("stock_link", lang), id=ids.SCENARIOS_STOCK_LINK, href=ids.PATH_DEMAND,
                 className="btn btn-outline-primary btn-sm mt-3 ms-2"),
        dcc.Download(id=ids.SCENARIOS_DOWNLOAD),
    ]))


def layout(lang: str, **kwargs: Any) -> html.Div:
    return html.Div([
        # the query string to show in the address bar (written with history.replaceState, so the
        # page is not re-rendered on every slider move)
        dcc.Store(id=ids.SCENARIOS_URL), dcc.Store(id=ids.SCENARIOS_URL_SYNC), dcc.Store(id=ids.SCENARIOS_REPLAY_URL),
        dcc.Store(id=ids.SCENARIOS_RESULT),
        html.H3(tr("title", lang)),
        dbc.Row([
            dbc.Col(controls(lang, kwargs), lg=3),
            dbc.Col([
                html.Div(id=ids.SCENARIOS_STATUS, className="small text-muted mb-2"),
                slow_note(ids.SCENARIOS_SLOW, tr("slow", lang)),
                dcc.Loading(html.Div(id=ids.SCENARIOS_BACKTEST)),
                dcc.Loading(html.Div(id=ids.SCENARIOS_KPIS)),
                dcc.Graph(id=ids.SCENARIOS_REGIONS_FIG, config={"displayModeBar": False},
                          figure=blank_figure(tr("computing", lang), height=360)),
                dbc.Row([
                    dbc.Col(dbc.Progress(id=ids.SCENARIOS_INSIGHTS_PROGRESS, value=0, style={"height": "6px"}),
                            className="align-self-center"),
                    dbc.Col(dbc.Button(tr("cancel", lang), id=ids.SCENARIOS_INSIGHTS_CANCEL, size="sm",
                                       color="link", disabled=True), width="auto"),
                ], className="g-1"),
                dbc.Row([
                    dbc.Col(dcc.Loading(dcc.Graph(id=ids.SCENARIOS_TORNADO_FIG, config={"displayModeBar": False},
                                                  figure=blank_figure(tr("tornado.none", lang), height=320))),
                            lg=6),
                    dbc.Col([html.H6(tr("mitigations", lang)), dcc.Loading(html.Div(id=ids.SCENARIOS_MITIGATIONS))], lg=6),
                ]),
                dcc.Graph(id=ids.SCENARIOS_COMPARE_FIG, config={"displayModeBar": False},
                          figure=blank_figure(tr("compare.none", lang), height=200)),
                dbc.Accordion([dbc.AccordionItem(html.P(tr("help.body", lang), className="small"),
                                                 title=tr("help.title", lang))], start_collapsed=True, className="mt-3"),
            ], lg=9),
        ]),
    ])


def _fmt(metric: str, v: float) -> str:
    if metric == "late_rate":
        return fmt.pct(v)
    if metric in ("cost_pen", "revenue_at_risk_pen"):
        return fmt.soles_compact(v)
    if metric == "avg_days":
        return fmt.number(v, 2)
    return fmt.integer(v)


KPI_METRICS = (("late_rate", "late_rate"), ("avg_days", "avg_days"), ("cost_pen", "cost"),
               ("revenue_at_risk_pen", "rar"), ("orders_affected", "affected"))


# The shaping functions below take the scenario outcome's objects (analytics.scenarios.outcome) by their
# attributes: an outcome has ``baseline``/``scenario`` summaries whose metrics are bands (``p10``, ``p50``, ``p90``).

def kpi_cards(outcome: Any, lang: str) -> dbc.Row:
    cols = []
    for metric, key in KPI_METRICS:
        b, s = getattr(outcome.baseline, metric), getattr(outcome.scenario, metric)
        cols.append(dbc.Col(dbc.Card(dbc.CardBody([
            html.Div(tr(key, lang), className="small text-muted"),
            html.Div(_fmt(metric, s.p50), className="h5 mb-0", **{"data-metric": metric}),  # type: ignore[arg-type]
            html.Div(f"{tr('band', lang)}: {_fmt(metric, s.p10)} – {_fmt(metric, s.p90)}", className="small"),
            html.Div(f"{tr('baseline', lang)}: {_fmt(metric, b.p50)}", className="small text-muted"),
        ])), xs=6, lg=True))
    return dbc.Row(cols, className="g-2 mb-2")


def _err(lo: list[float], mid: list[float], hi: list[float]) -> dict[str, Any]:
    return {"type": "data", "symmetric": False, "array": [h - m for h, m in zip(hi, mid)],
            "arrayminus": [m - l_ for m, l_ in zip(mid, lo)]}


def regions_figure(outcome: Any, lang: str, theme: str, names: Mapping[str, str] | None = None) -> go.Figure:
    """Baseline and scenario late rate per region, worst first, the regions named (``names``: code → name;
    the code shows on hover only)."""
    b, s = outcome.baseline.by_region, outcome.scenario.by_region
    names = names or {}
    codes = sorted(s, key=lambda c: -s[c].late_rate.p50)
    labels = [names.get(c, c) for c in codes]
    fig = go.Figure()
    for name, data in ((tr("baseline", lang), b), (tr("scenario", lang), s)):
        mid = [data.get(c, s[c]).late_rate.p50 for c in codes]
        lo = [data.get(c, s[c]).late_rate.p10 for c in codes]
        hi = [data.get(c, s[c]).late_rate.p90 for c in codes]
        fig.add_bar(name=name, x=labels, y=mid, error_y=_err(lo, mid, hi), customdata=codes,
                    hovertemplate="%{x} (%{customdata})<br>" + name + ": %{y:.1%}<extra></extra>")
    fig.update_layout(title=tr("regions_fig", lang), yaxis_tickformat=".0%", barmode="group",
                      xaxis={"tickangle": -45, "automargin": True},
                      legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom"})
    style(fig, theme, 400)
    return fig.update_layout(margin={"t": 60})


def tornado_figure(bars: list[Any], lang: str, theme: str) -> go.Figure:
    """``bars``: each input alone (``driver``, ``late_rate_pp``, ``cost_pen``), biggest first; none (no input
    moved from business as usual) gives the sentence saying what to do instead of empty axes."""
    if not bars:
        return blank_figure(tr("tornado.none", lang), theme, height=320)
    rows = list(reversed(bars))
    fig = go.Figure(go.Bar(x=[r.late_rate_pp for r in rows], y=[tr(f"driver.{r.driver}", lang) for r in rows],
                           orientation="h", customdata=[fmt.soles(r.cost_pen) for r in rows],
                           hovertemplate="%{x:.2f} pp · %{customdata}<extra></extra>"))
    fig.update_layout(title=tr("tornado", lang), xaxis_title="pp")
    return style(fig, theme, 320)


def mitigations_list(effects: list[Any], lang: str, names: Mapping[str, str] | None = None) -> html.Div:
    """``effects``: each mitigation (``kind``, ``regions``) with the bands of its simulated effect; regions are
    named (``names``: code → name)."""
    names = names or {}
    if not effects:
        return html.Div(tr("mit.none", lang), className="small text-muted")
    items = []
    for r in effects:
        items.append(dbc.ListGroupItem([
            html.Div(f"{tr('mit.' + r.kind, lang)} — {', '.join(names.get(c, c) for c in r.regions)}",
                     className="fw-semibold small", title=", ".join(r.regions)),
            html.Div(tr("mit.effect", lang, pp=f"{r.late_rate_pp.p50:+.1f}",
                        cost=fmt.soles(r.cost_pen.p50), rar=fmt.soles(r.revenue_at_risk_pen.p50)),
                     className="small"),
        ]))
    return dbc.ListGroup(items)


def compare_figure(scenarios: list[Any], lang: str, theme: str) -> go.Figure:
    """``scenarios``: saved scenarios (``name``, ``late_rate`` bands); none gives the sentence saying how."""
    if not scenarios:
        return message_figure(tr("compare.none", lang), theme, 200)
    fig = go.Figure()
    for r in scenarios:
        lr = r.late_rate
        fig.add_bar(name=r.name, x=[tr("late_rate", lang)], y=[lr.p50], error_y=_err([lr.p10], [lr.p50], [lr.p90]))
    fig.update_layout(title=tr("compare_fig", lang), yaxis_tickformat=".0%", barmode="group")
    return style(fig, theme, 280)


def status_line(meta: Any, lang: str) -> str:
    """The run's facts (``runs``, ``lanes``, ``reference_window``, ``baseline_source``, ``elapsed_s``)."""
    return tr("status", lang, runs=meta.runs, lanes=meta.lanes, as_of=str(meta.reference_window[1]),
              source=meta.baseline_source, secs=meta.elapsed_s)


def _pp(x: float) -> str:
    return f"{x * 100:+.1f} p.p." if x == x else "—"


def backtest_figure(result: dict[str, Any], lang: str, theme: str) -> go.Figure:
    """The predicted band (P10–P90 bar, P50 marker) against the observed rise, in points of late rate."""
    p10, p50, p90 = (100 * result[f"late_rate_uplift_p{q}"] for q in (10, 50, 90))
    fig = go.Figure()
    fig.add_bar(y=[tr("bt.predicted", lang)], x=[p90 - p10], base=[p10], orientation="h", name="P10–P90",
                marker={"color": "rgba(13,110,253,0.35)"}, hovertemplate="P10 %{base:.1f} – P90 %{x:.1f}<extra></extra>")
    fig.add_scatter(y=[tr("bt.predicted", lang)], x=[p50], mode="markers", name="P50",
                    marker={"symbol": "line-ns-open", "size": 28, "color": "#0d6efd", "line": {"width": 3}})
    if result.get("observed_uplift") is not None:
        fig.add_scatter(y=[tr("bt.predicted", lang)], x=[100 * result["observed_uplift"]], mode="markers",
                        name=tr("bt.observed", lang), marker={"symbol": "diamond", "size": 14, "color": "#dc3545"})
    fig.update_layout(title=tr("bt.title", lang), xaxis_title=tr("bt.axis", lang), showlegend=True,
                      yaxis={"visible": False})
    return style(fig, theme, 220)


def backtest_view(result: dict[str, Any], lang: str, theme: str) -> html.Div:
    """A preset replayed as of the day before its episode (``analytics.scenarios.backtest``'s result): what it
    predicted against what happened, and where each mechanism parameter came from."""
    observed = result.get("observed_uplift")
    summary = tr("bt.summary", lang, as_of=result["as_of"], start=result["episode"][0], end=result["episode"][1],
                 regions=", ".join(result["regions"]), p50=_pp(result["late_rate_uplift_p50"]),
                 p10=_pp(result["late_rate_uplift_p10"]), p90=_pp(result["late_rate_uplift_p90"]),
                 observed=_pp(observed) if observed is not None else "—")
    checks = []
    if observed is not None:
        for key, ok in (("bt.within", result.get("within_25pct")), ("bt.band", result.get("band_contains"))):
            badge = dbc.Badge(("✓ " if ok else "✗ ") + tr(key, lang), color="success" if ok else "danger",
                              className="me-2")
            attrs: dict[str, Any] = {"data-check": key, "data-ok": "1" if ok else "0"}
            checks.append(html.Span(badge, **attrs))
    else:
        checks.append(html.Span(tr("bt.no_data", lang), className="text-muted"))
    params = result.get("parameters") or {}
    rows = [html.Tr([html.Td(html.Code(name)), html.Td(f"{v['value']:.3g}" + (
        f" ({v['p10']:.3g}–{v['p90']:.3g})" if "p10" in v else "")), html.Td(v["source"])])
        for name, v in params.items()]
    table = dbc.Table([html.Thead(html.Tr([html.Th(tr(k, lang)) for k in ("bt.param", "bt.value", "bt.source")])),
                       html.Tbody(rows)], size="sm", className="table-compact small mb-0")
    return dbc.Card(dbc.CardBody([
        html.P(summary, className="small mb-1"), html.Div(checks, className="mb-1"),
        dcc.Graph(id=ids.SCENARIOS_BACKTEST_FIG, figure=backtest_figure(result, lang, theme),
                  config={"displayModeBar": False}),
        dbc.Accordion([dbc.AccordionItem(table, title=tr("bt.params", lang))], start_collapsed=True),
    ]), className="mb-2")


def backtest_message(key: str, lang: str, **kw: Any) -> html.Div:
    return html.Div(tr(key, lang, **kw), className="small text-muted mb-2")


def preset_values(inputs: dict[str, Any], default_category: str, horizons: tuple[int, ...],
                  default_horizon: int) -> tuple:
    """A preset's inputs as control values, in the order of the controls (a horizon the radio buttons do
    not offer shows as ``default_horizon``; no demand change shows ``default_category`` at 0 %)."""
    demand = inputs.get("demand_pct") or {}
    cat = next(iter(demand), default_category)
    hw = inputs.get("horizon_weeks", default_horizon)
    return (list(inputs.get("blockade_regions") or []), min(int(inputs.get("blockade_days", 0)), 90),
            int(inputs.get("nino_intensity", 0)), min(int(inputs.get("pan_norte_days", 0)), 60),
            min(int(inputs.get("callao_days", 0)), 60), min(int(inputs.get("central_days", 0)), 60),
            float(inputs.get("fuel_pct", 0)), float(inputs.get("capacity_pct", 0)), cat, float(demand.get(cat, 0)),
            hw if hw in horizons else default_horizon)


def message_figure(text: str, theme: str, height: int = 320) -> go.Figure:
    """A chart's place before it has data (or when it cannot have any): the sentence, no axes."""
    return blank_figure(text, theme, height=height)
