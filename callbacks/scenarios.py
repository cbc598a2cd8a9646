"""Scenarios page callbacks: unpack and validate the controls, call one analytics function, shape."""

from __future__ import annotations

from datetime import date
from typing import Any

import dash
import plotly.graph_objects as go
from dash import Input, Output, State, callback, clientside_callback, dcc, html, no_update

from analytics.scenarios import (
    MAX_COMPARE,
    ScenarioError,
    ScenarioInputs,
    compare,
    get_preset,
    insights,
    load_saved,
    run_scenario,
    save_scenario,
    to_csv,
)
from callbacks.memo import memo_background, memoized
from callbacks.runtime import runtime
from components import ids
from components import scenarios as ui
from components.i18n import normalize_lang
from components.theme import normalize_theme

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


def _empty_fig() -> go.Figure:
    fig = go.Figure()
    fig.update_layout(xaxis={"visible": False}, yaxis={"visible": False}, height=60, margin={"l": 0, "r": 0, "t": 0, "b": 0})
    return fig


@callback(
    Output(ids.SCENARIOS_RESULT, "data"), Output(ids.SCENARIOS_KPIS, "children"),
    Output(ids.SCENARIOS_REGIONS_FIG, "figure"), Output(ids.SCENARIOS_STATUS, "children"),
    Output(ids.SCENARIOS_URL, "data"),
    *[Input(c, "value") for c in CONTROLS],
    Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"),
)
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
                               cache_dir=rt.settings.cache_dir).to_dict()
    except (ScenarioError, ValueError, FileNotFoundError) as exc:
        msg = html.Div(ui.tr("error", lang, msg=str(exc)), className="text-danger")
        return None, msg, _empty_fig(), "", no_update
    query = inp.to_query()
    return (outcome, ui.kpi_cards(outcome, lang), ui.regions_figure(outcome, lang, theme),
            ui.status_line(outcome["meta"], lang), ("?" + query) if query else "")


clientside_callback(
    """function (query) {
        if (query === null || query === undefined) { return window.dash_clientside.no_update; }
        const url = window.location.pathname + query;
        if (url !== window.location.pathname + window.location.search) { window.history.replaceState(null, "", url); }
        return query;
    }""",
    Output(ids.SCENARIOS_URL_SYNC, "data"), Input(ids.SCENARIOS_URL, "data"),
)


@callback(
    Output(ids.SCENARIOS_TORNADO_FIG, "figure"), Output(ids.SCENARIOS_MITIGATIONS, "children"),
    Input(ids.SCENARIOS_RESULT, "data"), State(ids.LANG_STORE, "data"), State(ids.THEME_STORE, "data"),
    background=True,
    progress=[Output(ids.SCENARIOS_INSIGHTS_PROGRESS, "value")],
    running=[(Output(ids.SCENARIOS_INSIGHTS_CANCEL, "disabled"), False, True)],
    cancel=[Input(ids.SCENARIOS_INSIGHTS_CANCEL, "n_clicks")],
)
@memo_background
def scenario_insights(set_progress, result, lang, theme):
    """After the main result, in the background: tornado (each input alone) and mitigations with
    their simulated effect (progress bar, cancel button)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    if not isinstance(result, dict) or not isinstance(result.get("inputs"), dict):
        return _empty_fig(), ""
    inp = ScenarioInputs.from_dict(result["inputs"])
    rt = runtime()
    as_of = date.fromisoformat(result["meta"]["as_of"])
    out = insights(rt.engine, inp, cache_dir=rt.settings.cache_dir, as_of=as_of,
                   progress=lambda label, frac: set_progress((int(round(100 * frac)),)))
    return ui.tornado_figure(out["tornado"], lang, theme), ui.mitigations_list(out["mitigations"], lang)


@callback(
    *[Output(c, "value", allow_duplicate=True) for c in CONTROLS],
    Input(ids.SCENARIOS_PRESET, "value"), prevent_initial_call=True,
)
def apply_preset(name):
    """Load a preset's physical description into the controls."""
    if not name or not isinstance(name, str):
        return (no_update,) * len(CONTROLS)
    try:
        return ui.preset_values(get_preset(name).inputs.to_dict())
    except ScenarioError:  # a forged or stale preset name: leave the controls as they are
        return (no_update,) * len(CONTROLS)


@callback(
    Output(ids.SCENARIOS_SAVED, "options"), Output(ids.SCENARIOS_STATUS, "children", allow_duplicate=True),
    Input(ids.SCENARIOS_SAVE_BTN, "n_clicks"), State(ids.SCENARIOS_SAVE_NAME, "value"),
    State(ids.SCENARIOS_RESULT, "data"), State(ids.LANG_STORE, "data"),
    prevent_initial_call="initial_duplicate",
)
def save_current(n_clicks, name, result, lang):
    """Save the current inputs under a name (JSON file in the data folder); always lists saved ones."""
    lang = normalize_lang(lang)
    data_dir = runtime().settings.data_dir
    status = no_update
    name = name if isinstance(name, str) else None
    result = result if isinstance(result, dict) and isinstance(result.get("inputs"), dict) else None
    try:
        if n_clicks and not (name or "").strip() or len((name or "").strip()) > 60:
            return no_update, html.Span(ui.tr("name_needed", lang), className="text-danger")
        if n_clicks and result:
            saved = save_scenario(data_dir, name or "", ScenarioInputs.from_dict(result["inputs"]))
            status = ui.tr("saved_ok", lang, name=(name or "").strip())
        else:
            saved = load_saved(data_dir)
    except (ScenarioError, OSError, TypeError, ValueError, KeyError) as exc:
        return no_update, html.Span(ui.tr("error", lang, msg=str(exc)), className="text-danger")
    return [{"label": k, "value": k} for k in sorted(saved)], status


@callback(
    Output(ids.SCENARIOS_COMPARE_FIG, "figure"),
    Input(ids.SCENARIOS_SAVED, "value"), State(ids.LANG_STORE, "data"), State(ids.THEME_STORE, "data"),
)
def compare_saved(names, lang, theme):
    """Compare up to three saved scenarios (P50 with P10-P90 bars)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    names = [n for n in names if isinstance(n, str)][:MAX_COMPARE] if isinstance(names, list) else []
    if not names:
        return _empty_fig()
    rt = runtime()
    saved = load_saved(rt.settings.data_dir)
    named = {n: ScenarioInputs.from_dict(saved[n]) for n in names if n in saved}
    return ui.compare_figure(compare(rt.engine, named, cache_dir=rt.settings.cache_dir), lang, theme)


@callback(
    Output(ids.SCENARIOS_DOWNLOAD, "data"),
    Input(ids.SCENARIOS_EXPORT_BTN, "n_clicks"), State(ids.SCENARIOS_RESULT, "data"), prevent_initial_call=True,
)
def export_csv(n_clicks, result):
    """The current result as CSV (network and by region, baseline and scenario bands)."""
    if not n_clicks or not isinstance(result, dict):
        return no_update
    try:
        return dcc.send_string(to_csv(result), "chasqui-escenario.csv")
    except (KeyError, TypeError, ValueError):  # not a result this page produced
        return no_update


__all__ = ["apply_preset", "compare_saved", "export_csv", "inputs_from_controls", "save_current",
           "scenario_insights", "simulate_scenario", "dash"]
