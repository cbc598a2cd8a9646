"""Logistics callbacks: filters → map, KPIs and high-risk grid; region drill-down; model panel;
background retrain and CSV export (both with progress and cancel)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, ctx, dcc, no_update
from dash.exceptions import MissingCallbackContextException

from analytics import geo
from analytics.logistics import ModelsNotTrainedError
from analytics.logistics import queries as lq
from analytics.queries import OrderFilter
from callbacks.registration import PageCallbacks
from components import ids
from components import logistics as view
from components.i18n import normalize_lang, t
from components.layout import error_alert
from components.theme import normalize_theme
from web.access import OutputOwner
from web.jobs import memoized
from web.runtime import runtime

PAGE: str | None = ids.PATH_LOGISTICS
FILTER_INPUTS = [Input(ids.LOGISTICS_DATES, "start_date"), Input(ids.LOGISTICS_DATES, "end_date"),
                 Input(ids.LOGISTICS_CARRIERS, "value"), Input(ids.LOGISTICS_MODES, "value"),
                 Input(ids.LOGISTICS_CATEGORIES, "value"), Input(ids.LOGISTICS_DCS, "value")]
FILTER_STATES = [State(c.component_id, c.component_property) for c in FILTER_INPUTS]
REGION_NAMES = {r.code: r.name for r in geo.REGIONS}
DC_POINTS = [{"dc_id": d.dc_id, "city": d.city, "lat": d.lat, "lon": d.lon, "region": d.region} for d in geo.DCS]


class FilterError(ValueError):
    """A filter value from the browser or the URL cannot be used."""


def _day(value: object) -> date | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise FilterError(f"not a date: {value!r}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError as exc:
        raise FilterError(f"not a date: {value!r}") from exc


def _values(value: object, name: str) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or len(value) > 200 or not all(isinstance(v, str) for v in value):
        raise FilterError(f"invalid {name} filter")
    return tuple(value)


def parse_filter(start: object, end: object, carriers: object, modes: object, categories: object,
                 dcs: object, max_date: date | None = None) -> OrderFilter:
    """Validate the page filters; an empty date range means the most recent days of data."""
    s, e = _day(start), _day(end)
    if s and e and s > e:
        s, e = e, s
    if s is None and e is None and max_date is not None:
        d = lq.default_filter(max_date)
        s, e = d.start, d.end
    return OrderFilter(start=s, end=e, carriers=_values(carriers, "carrier"), modes=_values(modes, "mode"),
                       categories=_values(categories, "category"), dcs=_values(dcs, "dc"))


def _max_date(engine: Any) -> date | None:
    return lq.last_date(engine)


@memoized
def load_options(_version: object, start: object, end: object) -> tuple:
    """Filter choices and date bounds; fills an empty date range with the last 30 days of data."""
    try:
        opts = lq.page_options(runtime().engine)
    except (ModelsNotTrainedError, FileNotFoundError):
        return ([],) * 4 + (None, None, no_update, no_update)

    def o(values: list[str]) -> list[dict[str, str]]:
        return [{"label": v, "value": v} for v in values]

    lo, hi = opts.min_date, opts.max_date
    s_out: object
    e_out: object
    if not start and not end and hi is not None:
        d = lq.default_filter(hi)
        assert d.start is not None and d.end is not None  # a last date gives a full default range
        s_out, e_out = d.start.isoformat(), d.end.isoformat()
    else:
        s_out, e_out = no_update, no_update
    return (o(opts.carriers), o(opts.modes), o(opts.categories), o(opts.dcs),
            lo.isoformat() if lo else None, hi.isoformat() if hi else None, s_out, e_out)


def _no_map(message: str, theme: str) -> tuple[Any, Any]:
    """The map's and the ranking's places when there is nothing to draw: the sentence saying why."""
    return view.empty_figure(theme, message, view.MAP_HEIGHT), view.empty_figure(theme, message, view.RANKING_HEIGHT)


@memoized
def update_view(start: object, end: object, carriers: object, modes: object, categories: object, dcs: object,
                metric: object, _version: object, lang: object, theme: object) -> tuple:
    """The filter-change callback: map of Peru and region ranking, KPIs, top orders by risk × value.
    Imported data whose regions are not Peru's gets the ranking and a note where the map would be."""
    lang, theme, metric = normalize_lang(lang), normalize_theme(theme), view.parse_metric(metric)
    title = view.t("ranking", lang, metric=view.t(f"metric.{metric}", lang).lower())
    rt = runtime()
    try:
        flt = parse_filter(start, end, carriers, modes, categories, dcs,
                           None if (start or end) else _max_date(rt.engine))
        res = lq.logistics_view(rt.engine, rt.settings.models_dir, flt)
    except FilterError as exc:
        msg = t("error.generic", lang, msg=str(exc))
        return (*_no_map(msg, theme), title, [], [], error_alert(msg))
    except (ModelsNotTrainedError, FileNotFoundError):
        msg = view.t("no_models", lang)
        return (*_no_map(msg, theme), title, [], [], error_alert(msg))
    regions = res.regions.to_dicts()
    peru = all(geo.is_peru_region(r["region"]) for r in regions)
    if not regions:
        fig, ranking = _no_map(view.t("nodata", lang), theme)
    elif peru:
        fig = view.map_figure(regions, geo.region_outlines(), REGION_NAMES, metric, lang, theme, DC_POINTS,
                              geo.CORRIDOR_ROUTES)
        ranking = view.ranking_figure(regions, REGION_NAMES, metric, lang, theme)
    else:
        fig = view.empty_figure(theme, view.t("map.none", lang), view.MAP_HEIGHT)
        ranking = view.ranking_figure(regions, REGION_NAMES, metric, lang, theme)
    rows = view.grid_rows(res.orders.to_dicts(), REGION_NAMES, lang)
    if res.kpis["orders"]:
        status = view.t("showing", lang, n=f"{res.kpis['orders']:,}", top=len(rows),
                        start=flt.start.isoformat() if flt.start else "…", end=flt.end.isoformat() if flt.end else "…")
    else:
        status = error_alert(view.t("nodata", lang))
    return fig, ranking, title, view.kpi_row(res.kpis, lang), rows, status


def update_query(start: object, end: object, carriers: object, modes: object, categories: object, dcs: object,
                 metric: object, region: object) -> dict[str, Any]:
    """The URL state: every filter, the map metric and the drilled region."""
    filters = {"carrier": view.parse_list(carriers), "mode": view.parse_list(modes),
               "category": view.parse_list(categories), "dc": view.parse_list(dcs)}
    return view.query_state(view.parse_day(start), view.parse_day(end), filters, view.parse_metric(metric),
                            region if isinstance(region, str) and len(region) < 80 else None)


def select_region(map_click: object, ranking_click: object = None) -> Any:
    """The region clicked on the map or in the ranking (whichever fired; the map when called directly)."""
    try:
        fired = ctx.triggered_id
    except MissingCallbackContextException:  # called directly (tests, scripts)
        fired = None
    click = ranking_click if fired == ids.LOGISTICS_RANKING else map_click
    try:
        region = click["points"][0]["customdata"][0]  # type: ignore[index]
    except (TypeError, KeyError, IndexError):
        return no_update
    return region if isinstance(region, str) and len(region) < 80 else no_update


@memoized
def update_drilldown(region: object, start: object, end: object, carriers: object, modes: object,
                     categories: object, dcs: object, lang: object, theme: object) -> tuple:
    """Carrier × mode late-rate heat table and weekly trend for the clicked region."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    if not isinstance(region, str) or not region:
        prompt = view.empty_figure(theme, view.t("drill.prompt", lang))
        return view.t("drill.none", lang), prompt, prompt
    rt = runtime()
    try:
        flt = parse_filter(start, end, carriers, modes, categories, dcs,
                           None if (start or end) else _max_date(rt.engine))
        heat, weekly = lq.region_drilldown(rt.engine, flt, region)
    except FilterError as exc:
        msg = t("error.generic", lang, msg=str(exc))
        return error_alert(msg), view.empty_figure(theme, msg), view.empty_figure(theme, msg)
    except (ModelsNotTrainedError, FileNotFoundError):
        msg = view.t("no_models", lang)
        return msg, view.empty_figure(theme, msg), view.empty_figure(theme, msg)
    name = REGION_NAMES.get(region, region)
    title = view.t("drill", lang, region=name)
    if heat.is_empty():
        empty = view.empty_figure(theme, view.t("drill.empty", lang, region=name))
        return title, empty, empty
    return (title, view.heat_figure(heat.to_dicts(), lang, theme),
            view.weekly_figure(weekly["week"].to_list(), weekly["late_rate"].to_list(),
                               weekly["mean_risk"].to_list(), lang, theme))


@memoized
def update_model_panel(_version: object, lang: object, theme: object) -> tuple:
    """The model card with its calibration curve, ROC and feature importance."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        panel = lq.model_panel(runtime().settings.models_dir)
    except (ModelsNotTrainedError, FileNotFoundError):
        e = view.empty_figure(theme, view.t("no_models", lang), 320)
        return error_alert(view.t("no_models", lang)), e, e, e
    return (view.card_table(panel.card, lang), view.calibration_figure(panel.calibration, lang, theme),
            view.roc_figure(panel.roc, panel.roc_auc, lang, theme), view.importance_figure(panel.importance, lang, theme))


def retrain(set_progress: Callable[[tuple[int, str]], None], n_clicks: object, version: object,
            lang: object) -> tuple:
    """Retrain the logistics models in the background (progress bar, cancel button)."""
    from analytics.logistics.train import train
    from analytics.training import train_all

    lang = normalize_lang(lang)
    if not n_clicks:
        return no_update, no_update

    def progress(label: str, frac: float) -> None:
        set_progress((int(round(100 * max(0.0, min(1.0, frac)))), f"{view.t('running', lang)} {label}"))

    try:
        settings = runtime().settings
        card = train_all(settings.data_dir, progress, trainers=[train], tracking_uri=settings.mlflow_uri)
    except (ValueError, RuntimeError, FileNotFoundError) as exc:
        set_progress((0, ""))
        return no_update, error_alert(t("error.generic", lang, msg=str(exc)))
    set_progress((100, ""))
    lr = card.get("late_risk", {})
    msg = view.t("retrained", lang, auc=f"{lr.get('roc_auc', 0):.3f}", ece=f"{lr.get('ece', 0):.3f}")
    return (int(version) if isinstance(version, int) else 0) + 1, msg


def export_csv(n_clicks: object, start: object, end: object, carriers: object, modes: object,
               categories: object, dcs: object, lang: object) -> Any:
    """CSV of ALL filtered orders (not only the grid's page) with risk, window and reasons."""
    lang = normalize_lang(lang)
    if not n_clicks:
        return no_update
    rt = runtime()
    try:
        flt = parse_filter(start, end, carriers, modes, categories, dcs,
                           None if (start or end) else _max_date(rt.engine))
        frame = lq.export_orders(rt.engine, rt.settings.models_dir, flt)
    except (FilterError, ModelsNotTrainedError, FileNotFoundError):
        return no_update
    csv = export_text(frame.to_dicts(), lang)
    return dcc.send_string(csv, "chasqui_logistica_riesgo.csv" if lang == "es" else "chasqui_logistics_risk.csv")


def export_text(records: list[dict[str, Any]], lang: str) -> str:
    """CSV text for exported orders (reasons in the user's language), safe to open in a spreadsheet."""
    from analytics.csv_export import rows_csv

    rows = []
    for r in records:
        r = {**r, "region_name": REGION_NAMES.get(r["region"], r["region"]),
             "reasons": view.reasons_for(r, REGION_NAMES, lang)}
        rows.append(["" if r.get(c) is None else r.get(c) for c in view.EXPORT_COLUMNS])
    return rows_csv(view.EXPORT_COLUMNS, rows)


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Logistics page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(load_options,
                Output(ids.LOGISTICS_CARRIERS, "options"), Output(ids.LOGISTICS_MODES, "options"),
                Output(ids.LOGISTICS_CATEGORIES, "options"), Output(ids.LOGISTICS_DCS, "options"),
                Output(ids.LOGISTICS_DATES, "min_date_allowed"), Output(ids.LOGISTICS_DATES, "max_date_allowed"),
                Output(ids.LOGISTICS_DATES, "start_date"), Output(ids.LOGISTICS_DATES, "end_date"),
                Input(ids.LOGISTICS_MODEL_VERSION, "data"),
                State(ids.LOGISTICS_DATES, "start_date"), State(ids.LOGISTICS_DATES, "end_date"))
    cb.callback(update_view,
                Output(ids.LOGISTICS_MAP, "figure"), Output(ids.LOGISTICS_RANKING, "figure"),
                Output(ids.LOGISTICS_RANKING_TITLE, "children"), Output(ids.LOGISTICS_KPIS, "children"),
                Output(ids.LOGISTICS_GRID, "rowData"), Output(ids.LOGISTICS_STATUS, "children"),
                *FILTER_INPUTS,
                Input(ids.LOGISTICS_METRIC, "value"), Input(ids.LOGISTICS_MODEL_VERSION, "data"),
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"))
    cb.callback(update_query, Output(ids.LOGISTICS_QUERY, "data"),
                *FILTER_INPUTS, Input(ids.LOGISTICS_METRIC, "value"), Input(ids.LOGISTICS_REGION, "data"))
    cb.clientside(ClientsideFunction("chasqui", "syncQuery"), Output(ids.LOGISTICS_QUERY_SYNCED, "children"),
                  Input(ids.LOGISTICS_QUERY, "data"), prevent_initial_call=True)
    cb.callback(select_region, Output(ids.LOGISTICS_REGION, "data"), Input(ids.LOGISTICS_MAP, "clickData"),
                Input(ids.LOGISTICS_RANKING, "clickData"), prevent_initial_call=True)
    cb.callback(update_drilldown,
                Output(ids.LOGISTICS_DRILL_TITLE, "children"), Output(ids.LOGISTICS_HEAT, "figure"),
                Output(ids.LOGISTICS_WEEKLY, "figure"),
                Input(ids.LOGISTICS_REGION, "data"), *FILTER_INPUTS,
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"))
    cb.callback(update_model_panel,
                Output(ids.LOGISTICS_CARD, "children"), Output(ids.LOGISTICS_CALIBRATION, "figure"),
                Output(ids.LOGISTICS_ROC, "figure"), Output(ids.LOGISTICS_IMPORTANCE, "figure"),
                Input(ids.LOGISTICS_MODEL_VERSION, "data"), Input(ids.LANG_STORE, "data"),
                Input(ids.THEME_STORE, "data"))
    cb.callback(retrain,
                Output(ids.LOGISTICS_MODEL_VERSION, "data"), Output(ids.LOGISTICS_RETRAIN_STATUS, "children"),
                Input(ids.LOGISTICS_RETRAIN, "n_clicks"),
                State(ids.LOGISTICS_MODEL_VERSION, "data"), State(ids.LANG_STORE, "data"),
                background=True,
                progress=[Output(ids.LOGISTICS_RETRAIN_PROGRESS, "value"),
                          Output(ids.LOGISTICS_RETRAIN_PROGRESS, "label")],
                running=[(Output(ids.LOGISTICS_RETRAIN, "disabled"), True, False),
                         (Output(ids.LOGISTICS_RETRAIN_CANCEL, "disabled"), False, True),
                         (Output(ids.LOGISTICS_RETRAIN_PROGRESS, "animated"), True, False)],
                cancel=[Input(ids.LOGISTICS_RETRAIN_CANCEL, "n_clicks")],
                prevent_initial_call=True)
    cb.callback(export_csv, Output(ids.LOGISTICS_DOWNLOAD, "data"),
                Input(ids.LOGISTICS_EXPORT, "n_clicks"), *FILTER_STATES, State(ids.LANG_STORE, "data"),
                running=[(Output(ids.LOGISTICS_EXPORT, "disabled"), True, False)],
                prevent_initial_call=True)
    return cb.owners
