"""Demand callbacks: the controls' choices and limits (from analytics), the page (a background job with progress and
cancel: the first forecast fits the models for seconds, later moves hit the forecast cache) and the CSV export."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import polars as pl
from dash import ClientsideFunction, Dash, Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate

from analytics.demand.cli import forecast_csv
from analytics.demand.page_view import DemandPage, demand_page, page_options
from analytics.demand.stock import StockInputError
from analytics.demand.weekly import DemandDataError
from analytics.demand.weekly_forecast import cached_forecast
from analytics.scenarios import CalibrationError, ScenarioError, ScenarioInputs
from callbacks.registration import PageCallbacks
from components import demand as view
from components import ids
from components.i18n import normalize_lang
from components.layout import error_alert
from components.theme import normalize_theme
from web.access import OutputOwner
from web.jobs import memo_background
from web.runtime import runtime
from web.uploads import UploadError, decode_upload

PAGE: str | None = ids.PATH_DEMAND


class DemandInputError(ValueError):
    """A control value the page cannot use (not a number, out of the analytics' limits, unknown preset)."""


def parse_controls(horizon: object, level: object, scenario: object) -> tuple[int, float, str | None]:
    """Horizon (weeks), service level and scenario preset, checked against :func:`page_options`."""
    opts = page_options()
    hmin, hmax = opts["horizon"]["min"], opts["horizon"]["max"]
    smin, smax = opts["service_level"]["min"], opts["service_level"]["max"]
    h = opts["horizon"]["default"] if horizon in (None, "") else horizon
    lv = opts["service_level"]["default"] if level in (None, "") else level
    if isinstance(h, bool) or not isinstance(h, int | float) or h != int(h) or not hmin <= h <= hmax:
        raise DemandInputError(f"horizon must be a whole number of weeks from {hmin} to {hmax}, got {horizon!r}")
    if isinstance(lv, bool) or not isinstance(lv, int | float) or not smin <= lv <= smax:
        raise DemandInputError(f"service level must be between {smin} and {smax}, got {level!r}")
    if scenario in (None, ""):
        return int(h), float(lv), None
    if not isinstance(scenario, str) or scenario not in opts["scenario_presets"]:
        raise DemandInputError(f"unknown scenario preset: {scenario!r}")
    return int(h), float(lv), scenario


def control_options(_lang: object, horizon: object, level: object, scenario: object) -> tuple:
    """Horizon choices, the service-level slider's limits and marks, and the scenario presets; a value from the
    URL outside them is replaced by the default (a value inside stays: no update)."""
    opts = page_options()
    hz, sl = opts["horizon"], opts["service_level"]
    horizons = list(range(hz["min"], hz["max"] + 1))
    h_ok = not isinstance(horizon, bool) and horizon in horizons
    l_ok = isinstance(level, int | float) and not isinstance(level, bool) and sl["min"] <= level <= sl["max"]
    presets = opts["scenario_presets"]
    marks = {float(m): f"{m:.0%}" if round(100 * m) == 100 * m else f"{m:.1%}" for m in sl["marks"]}
    return ([{"label": str(h), "value": h} for h in horizons], no_update if h_ok else hz["default"],
            sl["min"], sl["max"], marks, no_update if l_ok else sl["default"],
            [{"label": p, "value": p} for p in presets],
            no_update if scenario in (None, "") or scenario in presets else None)


def custom_scenario(query: object) -> ScenarioInputs | None:
    """A scenario built on /scenarios, from the keys its link put in this page's URL (``ScenarioInputs.from_query``;
    keys it does not know are ignored); None when there are none or they describe no change from the baseline.
    Raises DemandInputError for values the scenario cannot take."""
    if not isinstance(query, dict) or not query:
        return None
    try:
        inputs = ScenarioInputs.from_query({str(k): v for k, v in query.items() if isinstance(v, str)})
    except (ScenarioError, TypeError, ValueError) as exc:
        raise DemandInputError(f"scenario from the URL: {exc}") from exc
    return None if inputs.key() == ScenarioInputs().key() else inputs


def read_upload(contents: object, filename: object) -> tuple[bytes | None, str | None]:
    """The uploaded on-hand file's bytes, within the upload limits of the settings (``CHASQUI_UPLOAD_MAX_MB``;
    :func:`web.uploads.decode_upload` checks name, type, size and encoding): (bytes, None), (None, why it was
    refused) or (None, None) when nothing was uploaded."""
    if contents in (None, ""):
        return None, None
    try:
        upload = decode_upload(contents, filename, int(runtime().settings.upload_max_mb * 1024 * 1024))
    except UploadError as exc:
        return None, str(exc)
    return upload.data, None


def upload_limit(lang: object) -> tuple[int, str]:
    """The on-hand upload's size limit in the browser and its help text, from the settings."""
    return view.upload_limit(runtime().settings.upload_max_mb, normalize_lang(lang))


def _choose(keys: list[tuple[str, str]], dc: object, category: object) -> tuple[str, str]:
    """The series to chart: the one asked for when it exists, else the DC's first category, else the first."""
    dcs = sorted({k[0] for k in keys})
    d = dc if dc in dcs else dcs[0]
    cats = sorted(k[1] for k in keys if k[0] == d)
    return d, category if category in cats else cats[0]  # type: ignore[return-value]


def comparison_rows(page: DemandPage) -> list[dict[str, Any]]:
    """Baseline and scenario per affected DC: lead time P90 and stock summed over the DC's categories."""
    cmp = page.stock_comparison().filter(pl.col("affected"))
    return (cmp.group_by("origin_dc")
            .agg(pl.col("baseline_lead_time_p90_days").first(), pl.col("scenario_lead_time_p90_days").first(),
                 *[pl.col(c).sum() for c in ("baseline_safety_stock", "scenario_safety_stock",
                                             "baseline_reorder_point", "scenario_reorder_point")])
            .sort("origin_dc").to_dicts())


def _failure(message: str, theme: str, query: Any = no_update, on_hand: Any = None) -> tuple:
    note = view.message(message)
    return ("", error_alert(message), view.empty_figure(message, theme), note, note, note, no_update, no_update, query,
            on_hand)


@memo_background
def update_demand(set_progress: Callable[[tuple[int, str]], None], dc: object, category: object, horizon: object,
                  level: object, scenario: object, lang: object, theme: object, on_hand: object = None,
                  scenario_query: object = None, on_hand_name: object = None) -> tuple:
    """The forecast of every series (chart of the chosen one), the backtest, the chosen DC's stock at the service
    level (with days of cover when an on-hand CSV was uploaded, and what became of its rows) and, with a scenario
    (a preset, else a custom one opened from /scenarios), the affected DCs' lead times and stock against the
    baseline."""
    if horizon is None or level is None:
        raise PreventUpdate  # the controls' limits have not arrived yet: their callback sets both, then this runs
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    held, refused = read_upload(on_hand, on_hand_name)
    name = on_hand_name if isinstance(on_hand_name, str) else ""
    refused_note = view.on_hand_result(name, None, refused, lang) if refused else None
    try:
        h, lv, preset = parse_controls(horizon, level, scenario)
        custom = None if preset else custom_scenario(scenario_query)
    except DemandInputError as exc:
        return _failure(view.t("error", lang, msg=str(exc)), theme, on_hand=refused_note)
    rt = runtime()

    def progress(label: str, frac: float) -> None:
        set_progress((int(round(100 * frac)), f"{view.t('running', lang)} {label}"))

    try:
        page = demand_page(rt.engine, rt.settings.data_dir, horizon=h, service_level=lv, scenario=preset or custom,
                           on_hand=held, cache_dir=rt.settings.cache_dir, progress=progress)
    except FileNotFoundError:
        return _failure(view.t("missing", lang), theme, on_hand=refused_note)
    except (DemandDataError, StockInputError, ScenarioError, CalibrationError) as exc:
        return _failure(view.t("error", lang, msg=str(exc)), theme, on_hand=refused_note)
    fc = page.forecast
    keys = list(fc.keys)
    d, c = _choose(keys, dc, category)
    query: dict[str, Any] = {"dc": d, "category": c, "horizon": h, "level": lv, "scenario": preset}
    if custom is not None:  # the custom scenario stays in the URL with the page's own keys
        query.update(parse_qsl(custom.to_query()))
    actual, band = page.series_chart(d, c)
    chart = view.forecast_figure(view.t("chart", lang, dc=d, cat=c), actual["week_start"].to_list(),
                                 actual["units"].to_list(), band["week_start"].to_list(), band["p10"].to_list(),
                                 band["p50"].to_list(), band["p90"].to_list(), lang, theme)
    backtest = view.backtest_table(page.backtest_table().to_dicts(), page_options()["targets"], lang)
    rows = page.stock.table().filter(pl.col("origin_dc") == d).sort("category").to_dicts()
    stock = view.stock_table(d, lv, rows, lang, on_hand=page.on_hand is not None)
    label = preset or (view.t("scenario.custom", lang) if custom is not None else None)
    comparison = view.comparison_table(label, comparison_rows(page), lang) if label else view.no_comparison(lang)
    held_note = (view.on_hand_result(name, page.on_hand.as_json(), None, lang) if page.on_hand is not None
                 else refused_note)
    summary = fc.summary()
    text = view.t("summary", lang, series=summary["series"], as_of=summary["as_of"], model=fc.model,
                  mae=summary["relative_mae"], cov=summary["coverage_80"], source=page.stock.lead_time_source)
    dcs = sorted({k[0] for k in keys})
    cats = sorted(k[1] for k in keys if k[0] == d)
    set_progress((100, ""))
    return (text, None, chart, stock, comparison, backtest, [{"label": x, "value": x} for x in dcs],
            [{"label": x, "value": x} for x in cats], query, held_note)


def select_series(dc_options: object, cat_options: object, dc: object, category: object) -> tuple:
    """Show the charted series in the dropdowns: a value that is not among the options becomes the first option."""
    def pick(options: object, value: object) -> Any:
        values = ([o["value"] for o in options if isinstance(o, dict) and "value" in o]
                  if isinstance(options, list) else [])
        return no_update if not values or value in values else values[0]

    return pick(dc_options, dc), pick(cat_options, category)


def export_forecast(n_clicks: object, horizon: object, level: object, scenario: object) -> Any:
    """Every series' forecast at the page's horizon as CSV (``origin_dc,category,week_start,p10,p50,p90``)."""
    if not n_clicks:
        return no_update
    rt = runtime()
    try:
        h, _, _ = parse_controls(horizon, level, scenario)
        fc = cached_forecast(rt.settings.data_dir, rt.engine, None, h, cache_dir=rt.settings.cache_dir)
    except (DemandInputError, DemandDataError, FileNotFoundError):
        return no_update  # the page already shows why it cannot forecast
    return dcc.send_string(forecast_csv(fc.table()), f"pronostico_demanda_{fc.as_of.isoformat()}_{h}s.csv")


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Demand page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(control_options,
                Output(ids.DEMAND_HORIZON, "options"), Output(ids.DEMAND_HORIZON, "value"),
                Output(ids.DEMAND_SERVICE_LEVEL, "min"), Output(ids.DEMAND_SERVICE_LEVEL, "max"),
                Output(ids.DEMAND_SERVICE_LEVEL, "marks"), Output(ids.DEMAND_SERVICE_LEVEL, "value"),
                Output(ids.DEMAND_SCENARIO, "options"), Output(ids.DEMAND_SCENARIO, "value"),
                Input(ids.LANG_STORE, "data"), State(ids.DEMAND_HORIZON, "value"),
                State(ids.DEMAND_SERVICE_LEVEL, "value"), State(ids.DEMAND_SCENARIO, "value"))
    cb.callback(
        update_demand,
        output=[
            Output(ids.DEMAND_SUMMARY, "children"),
            Output(ids.DEMAND_STATUS, "children"),
            Output(ids.DEMAND_CHART, "figure"),
            Output(ids.DEMAND_STOCK, "children"),
            Output(ids.DEMAND_COMPARISON, "children"),
            Output(ids.DEMAND_BACKTEST, "children"),
            Output(ids.DEMAND_DC, "options"),
            Output(ids.DEMAND_CATEGORY, "options"),
            Output(ids.DEMAND_QUERY, "data"),
            Output(ids.DEMAND_ON_HAND_RESULT, "children"),
        ],
        inputs=[
            Input(ids.DEMAND_DC, "value"),
            Input(ids.DEMAND_CATEGORY, "value"),
            Input(ids.DEMAND_HORIZON, "value"),
            Input(ids.DEMAND_SERVICE_LEVEL, "value"),
            Input(ids.DEMAND_SCENARIO, "value"),
            Input(ids.LANG_STORE, "data"),
            Input(ids.THEME_STORE, "data"),
            Input(ids.DEMAND_ON_HAND, "contents"),
            Input(ids.DEMAND_SCENARIO_QUERY, "data"),
        ],
        state=[State(ids.DEMAND_ON_HAND, "filename")],
        background=True,
        progress=[Output(ids.DEMAND_PROGRESS, "value"), Output(ids.DEMAND_PROGRESS, "label")],
        running=[
            (Output(ids.DEMAND_CANCEL, "disabled"), False, True),
            (Output(ids.DEMAND_PROGRESS, "animated"), True, False),
            (Output(ids.DEMAND_ON_HAND, "disabled"), True, False),
        ],
        cancel=[Input(ids.DEMAND_CANCEL, "n_clicks")],
    )
    cb.callback(upload_limit, Output(ids.DEMAND_ON_HAND, "max_size"), Output(ids.DEMAND_ON_HAND_HELP, "children"),
                Input(ids.LANG_STORE, "data"))
    cb.callback(select_series, Output(ids.DEMAND_DC, "value"), Output(ids.DEMAND_CATEGORY, "value"),
                Input(ids.DEMAND_DC, "options"), Input(ids.DEMAND_CATEGORY, "options"),
                State(ids.DEMAND_DC, "value"), State(ids.DEMAND_CATEGORY, "value"), prevent_initial_call=True)
    cb.callback(export_forecast, Output(ids.DEMAND_DOWNLOAD, "data"),
                Input(ids.DEMAND_EXPORT, "n_clicks"), State(ids.DEMAND_HORIZON, "value"),
                State(ids.DEMAND_SERVICE_LEVEL, "value"), State(ids.DEMAND_SCENARIO, "value"),
                prevent_initial_call=True)
    cb.clientside(ClientsideFunction("chasqui", "syncQuery"), Output(ids.DEMAND_QUERY_SYNCED, "children"),
                  Input(ids.DEMAND_QUERY, "data"), prevent_initial_call=True)
    return cb.owners
