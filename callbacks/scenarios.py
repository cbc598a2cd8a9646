"""Scenarios page callbacks: unpack and validate the controls, call one analytics function, shape."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, dcc, html, no_update

from analytics import geo
from analytics.scenarios import (
    CATEGORIES,
    DEFAULT_HORIZON,
    HORIZONS,
    MAX_COMPARE,
    ScenarioError,
    ScenarioInputs,
    ScenarioOutcome,
    backtest,
    compare,
    get_preset,
    insights,
    load_saved,
    presets,
    run_scenario,
    save_scenario,
    to_csv,
)
from callbacks.registration import PageCallbacks
from components import ids
from components import scenarios as ui
from components.i18n import normalize_lang
from components.layout import slow_note_running
from components.theme import normalize_theme
from web.access import OutputOwner
from web.jobs import memo_background, memoized
from web.requester import requester
from web.runtime import runtime

PAGE: str | None = ids.PATH_SCENARIOS
CONTROLS = (ids.SCENARIOS_BLOCK_REGIONS, ids.SCENARIOS_BLOCK_DAYS, ids.SCENARIOS_NINO, ids.SCENARIOS_NORTE_DAYS,
            ids.SCENARIOS_CALLAO_DAYS, ids.SCENARIOS_CENTRAL_DAYS, ids.SCENARIOS_FUEL, ids.SCENARIOS_CAPACITY,
            ids.SCENARIOS_DEMAND_CAT, ids.SCENARIOS_DEMAND_PCT, ids.SCENARIOS_HORIZON)


def inputs_from_controls(regions: Any, block_days: Any, nino: Any, norte: Any, callao: Any, central: Any, fuel: Any,
                         capacity: Any, demand_cat: Any, demand_pct: Any, horizon: Any) -> ScenarioInputs:
    """Control values -> validated ScenarioInputs (raises ScenarioError on bad values)."""
    try:
        demand = {str(demand_cat): float(demand_pct or 0)} if demand_cat else {}
        return ScenarioInputs(
            blockade_regions=tuple(regions or ()), blockade_days=int(block_days or 0), nino_intensity=int(nino or 0),
            pan_norte_days=int(norte or 0), callao_days=int(callao or 0), central_days=int(central or 0),
            fuel_pct=float(fuel or 0), capacity_pct=float(capacity or 0), demand_pct=demand,
            horizon_weeks=int(horizon or 8))
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ScenarioError):
            raise
        raise ScenarioError(str(exc)) from exc


REGION_NAMES = {r.code: r.name for r in geo.REGIONS}


def control_options(_lang: object, regions: object, demand_cat: object, horizon: object) -> tuple:
    """On load: the presets, regions, demand categories and horizons analytics knows as the controls'
    options; a value from the URL that is not among them is replaced (regions dropped, category and
    horizon set to the defaults), one that is stays as it is."""
    names = {r.code: r.name for r in geo.REGIONS}
    given = [r for r in regions if isinstance(r, str)] if isinstance(regions, list) else []
    known = [r for r in given if r in geo.REGION_BY_CODE]
    return (ui.choice_options(list(presets())),
            ui.choice_options(geo.REGION_CODES, names), no_update if known == regions else known,
            ui.choice_options(CATEGORIES), no_update if demand_cat in CATEGORIES else CATEGORIES[0],
            ui.choice_options(HORIZONS), no_update if horizon in HORIZONS else DEFAULT_HORIZON)


@memoized
def simulate_scenario(regions, block_days, nino, norte, callao, central, fuel, capacity, demand_cat, demand_pct,
                      horizon, lang, theme):
    """Any control change: baseline vs scenario with P10-P50-P90 bands (1,000 runs)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        inp = inputs_from_controls(regions, block_days, nino, norte, callao, central, fuel, capacity, demand_cat,
                                   demand_pct, horizon)
        rt = runtime()
        outcome = run_scenario(rt.engine, inp, with_tornado=False, with_mitigations=False,
                               cache_dir=rt.settings.cache_dir)
    except (ScenarioError, ValueError, FileNotFoundError) as exc:
        text = ui.tr("error", lang, msg=str(exc))
        return None, html.Div(text, className="text-danger"), ui.message_figure(text, theme, 400), "", no_update
    query = inp.to_query()
    return (outcome.to_dict(), ui.kpi_cards(outcome, lang), ui.regions_figure(outcome, lang, theme, REGION_NAMES),
            ui.status_line(outcome.meta, lang), ("?" + query) if query else "")


SYNC_URL_JS = """function (query, replay) {
    if ((query === null || query === undefined) && (replay === null || replay === undefined)) {
        return window.dash_clientside.no_update;
    }
    const parts = [(query || "").replace(/^\\?/, ""), replay || ""].filter(function (p) { return p.length > 0; });
    const search = parts.length ? "?" + parts.join("&") : "";
    const url = window.location.pathname + search;
    if (url !== window.location.pathname + window.location.search) { window.history.replaceState(null, "", url); }
    return search;
}"""


@memo_background
def replay_episode(preset, replay, lang, theme):
    """Replay a preset as of the day before its episode (backtest): the predicted band against what happened and
    where each mechanism parameter came from; the choice goes in the URL (``preset=NAME&replay=1``)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    name = preset if isinstance(preset, str) else None
    if not replay:
        return "", ""
    if name is None:
        return ui.backtest_message("bt.pick", lang), ""
    try:
        p = get_preset(name)
    except ScenarioError:  # a forged or stale preset name
        return ui.backtest_message("bt.pick", lang), ""
    if p.as_of is None:
        return ui.backtest_message("bt.hypothetical", lang, name=name), ""
    rt = runtime()
    try:
        result = backtest(rt.engine, name, cache_dir=rt.settings.cache_dir)
    except (ScenarioError, ValueError, FileNotFoundError) as exc:
        return html.Div(ui.tr("error", lang, msg=str(exc)), className="text-danger"), ui.replay_query(name, True)
    return ui.backtest_view(result, lang, theme), ui.replay_query(name, True)


@memo_background
def scenario_insights(set_progress, result, lang, theme):
    """After the main result, in the background: tornado (each input alone) and mitigations with
    their simulated effect (progress bar, cancel button)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        outcome = ScenarioOutcome.from_dict(result)
    except ScenarioError:  # no result yet (or not one this page stored)
        return ui.tornado_figure([], lang, theme), ""
    rt = runtime()
    out = insights(rt.engine, outcome.inputs, cache_dir=rt.settings.cache_dir, as_of=outcome.meta.as_of,
                   progress=lambda label, frac: set_progress((int(round(100 * frac)),)))
    return ui.tornado_figure(out.tornado, lang, theme), ui.mitigations_list(out.mitigations, lang, REGION_NAMES)


def apply_preset(name):
    """Load a preset's physical description into the controls."""
    if not name or not isinstance(name, str):
        return (no_update,) * len(CONTROLS)
    try:
        return ui.preset_values(get_preset(name).inputs.to_dict(), CATEGORIES[0], HORIZONS, DEFAULT_HORIZON)
    except ScenarioError:  # a forged or stale preset name: leave the controls as they are
        return (no_update,) * len(CONTROLS)


def save_current(n_clicks, name, result, lang):
    """Save the current inputs under a name (JSON file in the data folder); always lists saved ones."""
    lang = normalize_lang(lang)
    data_dir = runtime().settings.data_dir
    status = no_update
    name = name if isinstance(name, str) else None
    try:
        if n_clicks and not (name or "").strip() or len((name or "").strip()) > 60:
            return no_update, html.Span(ui.tr("name_needed", lang), className="text-danger")
        if n_clicks and result is not None:
            saved = save_scenario(data_dir, name or "", ScenarioOutcome.from_dict(result).inputs, requester())
            status = ui.tr("saved_ok", lang, name=(name or "").strip())
        else:
            saved = load_saved(data_dir, requester())  # this user's own (and those saved before owners)
    except (ScenarioError, OSError, TypeError, ValueError, KeyError) as exc:
        return no_update, html.Span(ui.tr("error", lang, msg=str(exc)), className="text-danger")
    return [{"label": k, "value": k} for k in sorted(saved)], status


def compare_saved(names, lang, theme):
    """Compare up to three saved scenarios (P50 with P10-P90 bars)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    names = [n for n in names if isinstance(n, str)][:MAX_COMPARE] if isinstance(names, list) else []
    if not names:
        return ui.compare_figure([], lang, theme)
    rt = runtime()
    saved = load_saved(rt.settings.data_dir, requester())
    named = {n: ScenarioInputs.from_dict(saved[n]) for n in names if n in saved}
    return ui.compare_figure(compare(rt.engine, named, cache_dir=rt.settings.cache_dir), lang, theme)


def stock_link(query: object) -> str:
    """The /demand link with the current scenario's inputs in its query string (``ScenarioInputs.to_query``, parsed
    back from the one this page shows in its URL, so only keys the scenario knows go along)."""
    try:
        inputs = ScenarioInputs.from_query(query) if isinstance(query, str) else ScenarioInputs()
    except ScenarioError:
        inputs = ScenarioInputs()
    q = inputs.to_query()
    return ids.PATH_DEMAND + (f"?{q}" if q else "")


def export_csv(n_clicks, result):
    """The current result as CSV (network and by region, baseline and scenario bands)."""
    if not n_clicks or not isinstance(result, dict):
        return no_update
    try:
        return dcc.send_string(to_csv(ScenarioOutcome.from_dict(result)), "chasqui-escenario.csv")
    except ScenarioError:  # not a result this page produced
        return no_update


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Scenarios page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(control_options,
                Output(ids.SCENARIOS_PRESET, "options"),
                Output(ids.SCENARIOS_BLOCK_REGIONS, "options"),
                Output(ids.SCENARIOS_BLOCK_REGIONS, "value", allow_duplicate=True),
                Output(ids.SCENARIOS_DEMAND_CAT, "options"),
                Output(ids.SCENARIOS_DEMAND_CAT, "value", allow_duplicate=True),
                Output(ids.SCENARIOS_HORIZON, "options"),
                Output(ids.SCENARIOS_HORIZON, "value", allow_duplicate=True),
                Input(ids.LANG_STORE, "data"), State(ids.SCENARIOS_BLOCK_REGIONS, "value"),
                State(ids.SCENARIOS_DEMAND_CAT, "value"), State(ids.SCENARIOS_HORIZON, "value"),
                prevent_initial_call="initial_duplicate")
    cb.callback(simulate_scenario,
                Output(ids.SCENARIOS_RESULT, "data"), Output(ids.SCENARIOS_KPIS, "children"),
                Output(ids.SCENARIOS_REGIONS_FIG, "figure"), Output(ids.SCENARIOS_STATUS, "children"),
                Output(ids.SCENARIOS_URL, "data"),
                *[Input(c, "value") for c in CONTROLS],
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"),
                running=slow_note_running(ids.SCENARIOS_SLOW))
    cb.clientside(SYNC_URL_JS, Output(ids.SCENARIOS_URL_SYNC, "data"), Input(ids.SCENARIOS_URL, "data"),
                  Input(ids.SCENARIOS_REPLAY_URL, "data"))
    cb.callback(replay_episode, Output(ids.SCENARIOS_BACKTEST, "children"), Output(ids.SCENARIOS_REPLAY_URL, "data"),
                Input(ids.SCENARIOS_PRESET, "value"), Input(ids.SCENARIOS_REPLAY, "value"),
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"), background=True)
    cb.callback(scenario_insights,
                Output(ids.SCENARIOS_TORNADO_FIG, "figure"), Output(ids.SCENARIOS_MITIGATIONS, "children"),
                Input(ids.SCENARIOS_RESULT, "data"), State(ids.LANG_STORE, "data"), State(ids.THEME_STORE, "data"),
                background=True,
                progress=[Output(ids.SCENARIOS_INSIGHTS_PROGRESS, "value")],
                running=[(Output(ids.SCENARIOS_INSIGHTS_CANCEL, "disabled"), False, True)],
                cancel=[Input(ids.SCENARIOS_INSIGHTS_CANCEL, "n_clicks")])
    cb.callback(apply_preset, *[Output(c, "value", allow_duplicate=True) for c in CONTROLS],
                Input(ids.SCENARIOS_PRESET, "value"), prevent_initial_call=True)
    cb.callback(save_current,
                Output(ids.SCENARIOS_SAVED, "options"), Output(ids.SCENARIOS_STATUS, "children", allow_duplicate=True),
                Input(ids.SCENARIOS_SAVE_BTN, "n_clicks"), State(ids.SCENARIOS_SAVE_NAME, "value"),
                State(ids.SCENARIOS_RESULT, "data"), State(ids.LANG_STORE, "data"),
                prevent_initial_call="initial_duplicate")
    cb.callback(compare_saved, Output(ids.SCENARIOS_COMPARE_FIG, "figure"),
                Input(ids.SCENARIOS_SAVED, "value"), State(ids.LANG_STORE, "data"), State(ids.THEME_STORE, "data"))
    cb.callback(stock_link, Output(ids.SCENARIOS_STOCK_LINK, "href"), Input(ids.SCENARIOS_URL, "data"))
    cb.callback(export_csv, Output(ids.SCENARIOS_DOWNLOAD, "data"),
                Input(ids.SCENARIOS_EXPORT_BTN, "n_clicks"), State(ids.SCENARIOS_RESULT, "data"),
                prevent_initial_call=True)
    return cb.owners
