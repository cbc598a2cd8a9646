"""Demand and stock page: layout, the forecast chart (band and actuals) and the backtest, stock and scenario tables.

Builders take plain Python values (lists, dicts) so that this module never imports analytics; the controls'
choices and limits (DCs, categories, horizons, service levels, scenario presets) arrive through callbacks.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import dash_bootstrap_components as dbc
import plotly.graph_objects as go
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import current_lang, translator
from components.layout import page_header
from components.theme import COLORWAY, blank_figure, style

TEXT: dict[str, dict[str, str]] = {
    "es": {
        "title": "Demanda y stock",
        "subtitle": "Demanda semanal por centro de distribución y categoría (P10/P50/P90), stock de seguridad y "
                    "punto de reorden",
        "dc": "Centro de distribución", "category": "Categoría", "horizon": "Horizonte (semanas)",
        "level": "Nivel de servicio", "scenario": "Escenario", "scenario.none": "Sin escenario (línea base)",
        "cancel": "Cancelar", "running": "Calculando…", "export": "Exportar pronóstico (CSV)",
        "chart": "{dc} · {cat}: unidades por semana", "actual": "Real", "p50": "Pronóstico P50",
        "band": "Banda P10–P90", "week": "Semana (lunes)", "units": "Unidades",
        "backtest": "Backtest (últimos 6 meses, origen móvil)",
        "backtest.note": "Meta: MAE relativo a la ingenuidad estacional ≤ {mae:.2f}; cobertura de la banda 80% entre "
                         "{lo:.0%} y {hi:.0%}.",
        "col.model": "Modelo", "col.rel_mae": "MAE relativo (series)", "col.cov": "Cobertura 80% (series)",
        "col.nat_mae": "MAE relativo (nacional)", "col.nat_cov": "Cobertura 80% (nacional)",
        "col.meets": "Cumple metas", "col.chosen": "Elegido", "yes": "sí", "no": "no",
        "stock": "Stock de {dc} al nivel de servicio {level}",
        "col.category": "Categoría", "col.demand": "Demanda diaria (P50)", "col.ss": "Stock de seguridad",
        "col.rop": "Punto de reorden", "col.lt50": "Plazo P50 (días)", "col.lt90": "Plazo P90 (días)",
        "col.dc": "Centro", "col.base": "Línea base", "col.scen": "Escenario",
        "compare": "Escenario «{name}» frente a la línea base (centros afectados)",
        "compare.none": "Elija un escenario para ver su efecto en los plazos y el stock de los centros afectados.",
        "compare.unaffected": "El escenario «{name}» no cambia los plazos de ningún centro.",
        "summary": "{series} series · pronóstico al {as_of} · modelo {model} · MAE relativo {mae:.3f} · "
                   "cobertura 80% {cov:.1%} · plazos: {source}",
        "waiting": "Calculando el pronóstico (la primera vez tarda unos segundos)…",
        "missing": "Aún no hay datos. Ejecute `python app.py generate`.",
        "error": "No se puede pronosticar: {msg}",
        "scenario.custom": "personalizado (desde Escenarios)",
        "col.on_hand": "En stock", "col.cover": "Días de cobertura",
        "onhand.title": "Stock disponible (CSV)",
        "onhand.drop": "Arrastre aquí un CSV origin_dc,category,on_hand_units o haga clic para elegirlo",
        "onhand.help": "CSV en UTF-8 o Latin-1, hasta {mb} MB, una fila por centro y categoría "
                       "(origin_dc,category,on_hand_units). Añade los días de cobertura a la tabla de stock; las "
                       "filas inválidas se rechazan con su número y el motivo.",
        "onhand.done": "{file}: {a} de {n} filas aceptadas, {q} rechazadas.",
        "onhand.rejected": "Filas rechazadas", "col.row": "Fila", "col.reason": "Motivo",
        "onhand.more": "… y {n} filas rechazadas más.",
        "onhand.refused": "Archivo rechazado: {msg}",
    },
    "en": {
        "title": "Demand and stock",
        "subtitle": "Weekly demand per distribution centre and category (P10/P50/P90), safety stock and reorder point",
        "dc": "Distribution centre", "category": "Category", "horizon": "Horizon (weeks)",
        "level": "Service level", "scenario": "Scenario", "scenario.none": "No scenario (baseline)",
        "cancel": "Cancel", "running": "Computing…", "export": "Export forecast (CSV)",
        "chart": "{dc} · {cat}: units per week", "actual": "Actual", "p50": "Forecast P50",
        "band": "P10–P90 band", "week": "Week (Monday)", "units": "Units",
        "backtest": "Backtest (last 6 months, rolling origin)",
        "backtest.note": "Targets: MAE relative to seasonal naive ≤ {mae:.2f}; 80% band coverage between {lo:.0%} and "
                         "{hi:.0%}.",
        "col.model": "Model", "col.rel_mae": "Relative MAE (series)", "col.cov": "80% coverage (series)",
        "col.nat_mae": "Relative MAE (national)", "col.nat_cov": "80% coverage (national)",
        "col.meets": "Meets targets", "col.chosen": "Chosen", "yes": "yes", "no": "no",
        "stock": "Stock at {dc} for a {level} service level",
        "col.category": "Category", "col.demand": "Daily demand (P50)", "col.ss": "Safety stock",
        "col.rop": "Reorder point", "col.lt50": "Lead time P50 (days)", "col.lt90": "Lead time P90 (days)",
        "col.dc": "Centre", "col.base": "Baseline", "col.scen": "Scenario",
        "compare": "Scenario “{name}” against the baseline (affected centres)",
        "compare.none": "Pick a scenario to see what it does to the affected centres' lead times and stock.",
        "compare.unaffected": "Scenario “{name}” changes no centre's lead times.",
        "summary": "{series} series · forecast as of {as_of} · model {model} · relative MAE {mae:.3f} · "
                   "80% coverage {cov:.1%} · lead times: {source}",
        "waiting": "Computing the forecast (the first time takes a few seconds)…",
        "missing": "No data yet. Run `python app.py generate`.",
        "error": "Cannot forecast: {msg}",
        "scenario.custom": "custom (from Scenarios)",
        "col.on_hand": "On hand", "col.cover": "Days of cover",
        "onhand.title": "Stock on hand (CSV)",
        "onhand.drop": "Drop an origin_dc,category,on_hand_units CSV here or click to choose one",
        "onhand.help": "UTF-8 or Latin-1 CSV, up to {mb} MB, one row per centre and category "
                       "(origin_dc,category,on_hand_units). Adds days of cover to the stock table; invalid rows are "
                       "rejected with their number and the reason.",
        "onhand.done": "{file}: {a} of {n} rows accepted, {q} rejected.",
        "onhand.rejected": "Rejected rows", "col.row": "Row", "col.reason": "Reason",
        "onhand.more": "… and {n} more rejected rows.",
        "onhand.refused": "File refused: {msg}",
    },
}
t = translator(TEXT)


def _text(value: str | None, limit: int = 64) -> str | None:
    """A query-string value as given, if it is a short string (whether it is known is for the callbacks)."""
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _number(value: str | None) -> float | None:
    try:
        x = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return x if x is not None and x == x and abs(x) < 1e6 else None


MAX_QUERY_KEYS = 40  # a scenario opened from /scenarios puts at most a few dozen keys in the URL


def scenario_query(extra: dict[str, Any]) -> dict[str, str]:
    """The query-string keys that are not the page's own, as given (short strings only): a custom scenario's
    inputs when the page was opened from /scenarios. Which keys mean something is for the callbacks (analytics
    parses them; unknown ones are ignored there)."""
    out = {k: v for k, v in extra.items()
           if isinstance(k, str) and isinstance(v, str) and 0 < len(k) <= 40 and len(v) <= 200}
    return dict(sorted(out.items())[:MAX_QUERY_KEYS])


def layout(dc: str | None = None, category: str | None = None, horizon: str | None = None,
           level: str | None = None, scenario: str | None = None, **extra: Any) -> html.Div:
    """The page; every argument comes from the query string and may be junk (``extra``: a custom scenario's keys,
    see :func:`scenario_query`)."""
    lang = current_lang()
    h = _number(horizon)
    lv = _number(level)
    label = lambda key: html.Label(t(key, lang), className="form-label small")  # noqa: E731
    controls = dbc.Row(
        [
            dbc.Col([label("dc"), dcc.Dropdown(id=ids.DEMAND_DC, options=[], value=_text(dc), clearable=False)],
                    lg=2),
            dbc.Col([label("category"), dcc.Dropdown(id=ids.DEMAND_CATEGORY, options=[], value=_text(category),
                                                      clearable=False)], lg=2),
            dbc.Col([label("horizon"), dcc.Dropdown(id=ids.DEMAND_HORIZON, options=[],
                                                     value=int(h) if h is not None else None, clearable=False)],
                    lg=2),
            # a service level is a probability: the slider starts on [0, 1]; the page's limits arrive by callback
            dbc.Col([label("level"), dcc.Slider(id=ids.DEMAND_SERVICE_LEVEL, min=0, max=1, step=0.001,
                                                value=lv if lv is not None and 0 < lv < 1 else None,
                                                marks=None, updatemode="mouseup",
                                                tooltip={"placement": "bottom"})], lg=3),
            dbc.Col([label("scenario"), dcc.Dropdown(id=ids.DEMAND_SCENARIO, options=[], value=_text(scenario),
                                                      clearable=True, placeholder=t("scenario.none", lang))], lg=3),
        ],
        className="g-3 mb-2 align-items-end",
    )
    progress = dbc.Row(
        [dbc.Col(dbc.Progress(id=ids.DEMAND_PROGRESS, value=0, label="", striped=True, animated=True,
                              style={"height": "1.2rem"}), lg=6),
         dbc.Col(dbc.Button(t("cancel", lang), id=ids.DEMAND_CANCEL, color="secondary", size="sm", outline=True,
                            disabled=True), width="auto"),
         dbc.Col(dbc.Button(t("export", lang), id=ids.DEMAND_EXPORT, color="primary", size="sm"), width="auto"),
         dcc.Download(id=ids.DEMAND_DOWNLOAD)],
        className="g-2 mb-2 align-items-center",
    )
    waiting = lambda: html.P(t("waiting", lang), className="text-body-secondary small")  # noqa: E731
    card = lambda child, **kw: dbc.Col(dbc.Card(dbc.CardBody(child), className="h-100 shadow-sm"), **kw)  # noqa: E731
    return html.Div(
        [
            dcc.Store(id=ids.DEMAND_QUERY), html.Div(id=ids.DEMAND_QUERY_SYNCED, hidden=True),
            dcc.Store(id=ids.DEMAND_SCENARIO_QUERY, data=scenario_query(extra)),
            page_header(t("title", lang), t("subtitle", lang)),
            controls, progress,
            html.Div(id=ids.DEMAND_STATUS),
            html.P(id=ids.DEMAND_SUMMARY, className="text-body-secondary small"),
            dbc.Row([card(dcc.Graph(id=ids.DEMAND_CHART, figure=blank_figure(t("waiting", lang)),
                                    config={"displaylogo": False}), lg=12)], className="g-3 mb-3"),
            dbc.Row([card(html.Div(waiting(), id=ids.DEMAND_STOCK), lg=7),
                     card(html.Div(waiting(), id=ids.DEMAND_COMPARISON), lg=5)], className="g-3 mb-3"),
            dbc.Row([card(on_hand_section(lang), lg=12)], className="g-3 mb-3"),
            dbc.Row([card(html.Div(waiting(), id=ids.DEMAND_BACKTEST), lg=12)], className="g-3 mb-3"),
        ]
    )


def on_hand_section(lang: str) -> html.Div:
    """The on-hand CSV upload; its size limit and help text come from the settings (``upload_limit``, on load)."""
    return html.Div([
        html.H5(t("onhand.title", lang)),
        dcc.Upload(id=ids.DEMAND_ON_HAND, children=html.Div(t("onhand.drop", lang)), accept=".csv,.txt,text/csv",
                   multiple=False, className="border border-2 rounded p-3 text-center",
                   style={"borderStyle": "dashed", "cursor": "pointer"}),
        html.P(id=ids.DEMAND_ON_HAND_HELP, className="small text-body-secondary mt-1 mb-1"),
        html.Div(id=ids.DEMAND_ON_HAND_RESULT),
    ])


def upload_limit(max_mb: float, lang: str) -> tuple[int, str]:
    """The upload's limit (``CHASQUI_UPLOAD_MAX_MB``) as the browser's ``max_size`` in bytes and the help text."""
    return int(max_mb * 1024 * 1024), t("onhand.help", lang, mb=f"{max_mb:g}")


MAX_REJECTED_SHOWN = 50


def on_hand_result(filename: str, summary: dict[str, Any] | None, error: str | None, lang: str) -> Any:
    """What became of an uploaded on-hand file: ``summary`` is the import's JSON (``rows_in``, ``accepted``,
    ``quarantined``, ``rejected_rows``: row_number and reason), or ``error`` why the file was refused."""
    if error is not None:
        return dbc.Alert(t("onhand.refused", lang, msg=error), color="danger", className="mt-2 mb-0")
    if summary is None:
        return None
    rejected = summary["rejected_rows"]
    parts: list[Any] = [html.Div(t("onhand.done", lang, file=filename, a=fmt.integer(summary["accepted"]),
                                   n=fmt.integer(summary["rows_in"]), q=fmt.integer(summary["quarantined"])))]
    if rejected:
        parts.append(html.Div(t("onhand.rejected", lang), className="fw-semibold mt-2"))
        parts.append(_table([t("col.row", lang), t("col.reason", lang)],
                            [[r["row_number"], r["reason"]] for r in rejected[:MAX_REJECTED_SHOWN]]))
        if len(rejected) > MAX_REJECTED_SHOWN:
            parts.append(html.P(t("onhand.more", lang, n=len(rejected) - MAX_REJECTED_SHOWN), className="small mb-0"))
    return dbc.Alert(parts, color="warning" if rejected else "success", className="mt-2 mb-0")


def forecast_figure(title: str, actual_weeks: list[date], actual_units: list[float], weeks: list[date],
                    p10: list[float], p50: list[float], p90: list[float], lang: str, theme: str) -> go.Figure:
    """Actual weekly units, then the forecast's P50 with its P10–P90 band."""
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=weeks + weeks[::-1], y=p90 + p10[::-1], fill="toself", mode="lines",
                             line={"width": 0}, fillcolor="rgba(31, 119, 180, 0.2)", name=t("band", lang),
                             hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=actual_weeks, y=actual_units, mode="lines+markers", name=t("actual", lang),
                             line={"color": COLORWAY[1]}, marker={"size": 4}))
    fig.add_trace(go.Scatter(x=weeks, y=p50, mode="lines+markers", name=t("p50", lang),
                             line={"color": COLORWAY[0], "dash": "dash"}, marker={"size": 5},
                             customdata=list(zip(p10, p90)),
                             hovertemplate="%{x|%Y-%m-%d}: %{y:,.0f} (P10 %{customdata[0]:,.0f} – "
                                           "P90 %{customdata[1]:,.0f})<extra></extra>"))
    fig.update_layout(title=title, xaxis_title=t("week", lang), yaxis_title=t("units", lang),
                      legend={"orientation": "h", "y": -0.2})
    return style(fig, theme, height=380)


def empty_figure(message: str, theme: str) -> go.Figure:
    return blank_figure(message, theme, height=380)


def _table(header: list[str], rows: list[list[Any]], row_class: list[str] | None = None) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(h) for h in header]))
    body = html.Tbody([html.Tr([html.Td(c) for c in r], className=(row_class[i] if row_class else None))
                       for i, r in enumerate(rows)])
    return dbc.Table([head, body], bordered=False, hover=True, size="sm", responsive=True, className="mb-0")


def backtest_table(rows: list[dict[str, Any]], targets: dict[str, Any], lang: str) -> html.Div:
    """One row per candidate model (``model, chosen, relative_mae, coverage_80, national_relative_mae,
    national_coverage_80, meets_targets``); the chosen one in bold."""
    yes, no = t("yes", lang), t("no", lang)
    body = [[r["model"], fmt.number(r["relative_mae"], 3), fmt.pct(r["coverage_80"]),
             fmt.number(r["national_relative_mae"], 3), fmt.pct(r["national_coverage_80"]),
             yes if r["meets_targets"] else no, yes if r["chosen"] else no] for r in rows]
    lo, hi = targets["coverage_80"]
    return html.Div([
        html.H5(t("backtest", lang)),
        _table([t(k, lang) for k in ("col.model", "col.rel_mae", "col.cov", "col.nat_mae", "col.nat_cov",
                                       "col.meets", "col.chosen")], body,
               ["fw-bold" if r["chosen"] else "" for r in rows]),
        html.P(t("backtest.note", lang, mae=targets["relative_mae_max"], lo=lo, hi=hi),
               className="small text-body-secondary mt-2 mb-0"),
    ])


def stock_table(dc: str, level: float, rows: list[dict[str, Any]], lang: str, on_hand: bool = False) -> html.Div:
    """The stock plan of one DC: a row per category (``category, demand_per_day, safety_stock, reorder_point,
    lead_time_p50_days, lead_time_p90_days``); with ``on_hand`` (a file was uploaded) also the units on hand and
    the days of cover (``on_hand_units``, ``days_of_cover``; a dash where the file has no figure for the series or
    there is no demand to cover)."""
    dash_ = "—"
    keys = ["col.category", "col.demand", "col.ss", "col.rop", "col.lt50", "col.lt90"]
    body = []
    for r in rows:
        row = [r["category"], fmt.number(r["demand_per_day"], 1), fmt.number(r["safety_stock"], 0),
               fmt.number(r["reorder_point"], 0), fmt.number(r["lead_time_p50_days"], 1),
               fmt.number(r["lead_time_p90_days"], 1)]
        if on_hand:
            held, cover = r.get("on_hand_units"), r.get("days_of_cover")
            row += [dash_ if held is None else fmt.number(held, 0), dash_ if cover is None else fmt.number(cover, 1)]
        body.append(row)
    if on_hand:
        keys += ["col.on_hand", "col.cover"]
    return html.Div([
        html.H5(t("stock", lang, dc=dc, level=fmt.pct(level))),
        _table([t(k, lang) for k in keys], body),
    ])


def comparison_table(name: str, rows: list[dict[str, Any]], lang: str) -> html.Div | html.P:
    """Baseline against scenario per affected DC (``origin_dc``, ``baseline_*``/``scenario_*`` lead time P90,
    safety stock and reorder point summed over the DC's categories)."""
    if not rows:
        return html.P(t("compare.unaffected", lang, name=name), className="text-body-secondary small mb-0")
    base, scen = t("col.base", lang), t("col.scen", lang)
    header = [t("col.dc", lang), f"{t('col.lt90', lang)} · {base}", f"{t('col.lt90', lang)} · {scen}",
              f"{t('col.ss', lang)} · {base}", f"{t('col.ss', lang)} · {scen}",
              f"{t('col.rop', lang)} · {base}", f"{t('col.rop', lang)} · {scen}"]
    body = [[r["origin_dc"], fmt.number(r["baseline_lead_time_p90_days"], 1),
             fmt.number(r["scenario_lead_time_p90_days"], 1), fmt.number(r["baseline_safety_stock"], 0),
             fmt.number(r["scenario_safety_stock"], 0), fmt.number(r["baseline_reorder_point"], 0),
             fmt.number(r["scenario_reorder_point"], 0)] for r in rows]
    return html.Div([html.H5(t("compare", lang, name=name)), _table(header, body)])


def no_comparison(lang: str) -> html.P:
    return html.P(t("compare.none", lang), className="text-body-secondary small mb-0")


def message(text: str) -> html.P:
    return html.P(text, className="text-body-secondary small mb-0")
