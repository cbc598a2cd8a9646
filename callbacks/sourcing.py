"""Sourcing callbacks: ranking, map and Pareto front; CSV shortlist; menu mode; URL state."""

from __future__ import annotations

import math

from dash import ClientsideFunction, Input, Output, State, callback, clientside_callback, dcc, no_update

from analytics import geo
from analytics.sourcing.catalog import LIMA_LAT, LIMA_LON
from analytics.sourcing.ranking import SourcingInputError
from analytics.sourcing.service import menu_view, rank_view, shortlist_csv
from callbacks.memo import memoized
from callbacks.runtime import runtime
from components import ids
from components import sourcing as view
from components.i18n import normalize_lang
from components.theme import normalize_theme

WEIGHT_INPUTS = (ids.SOURCING_W_SUSTAINABILITY, ids.SOURCING_W_PRICE, ids.SOURCING_W_RELIABILITY,
                 ids.SOURCING_W_DISTANCE)


def parse_weights(values: tuple[object, ...]) -> dict[str, float]:
    """Slider values → weights by criterion (None counts as 0; other non-numbers are refused)."""
    out = {}
    for crit, v in zip(view.CRITERIA, values, strict=True):
        if v is None:
            v = 0
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise SourcingInputError(f"weight for {crit} is not a number: {v!r}")
        out[crit] = float(v)
    return out


def parse_quality(value: object) -> float:
    if value is None:
        return 0.0
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 100:
        raise SourcingInputError(f"minimum quality must be 0–100, not {value!r}")
    return float(value)


def _ingredients(value: object) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or len(value) > 50:
        raise SourcingInputError("ingredients must be a list")
    return value


_REGION_NAMES = {r.code: r.name for r in geo.REGIONS}
_CAPITALS = [{"name": r.capital, "lat": r.lat, "lon": r.lon} for r in geo.REGIONS if r.code != "PE-CAL"]


@callback(
    Output(ids.SOURCING_GRID, "rowData"),
    Output(ids.SOURCING_BREAKDOWN, "figure"),
    Output(ids.SOURCING_MAP, "figure"),
    Output(ids.SOURCING_PARETO, "figure"),
    Output(ids.SOURCING_STATUS, "children"),
    Output(ids.SOURCING_QUERY, "data"),
    Input(ids.SOURCING_INGREDIENTS, "value"),
    Input(ids.SOURCING_W_SUSTAINABILITY, "value"),
    Input(ids.SOURCING_W_PRICE, "value"),
    Input(ids.SOURCING_W_RELIABILITY, "value"),
    Input(ids.SOURCING_W_DISTANCE, "value"),
    Input(ids.SOURCING_MIN_QUALITY, "value"),
    Input(ids.LANG_STORE, "data"),
    Input(ids.THEME_STORE, "data"),
)
@memoized
def update_ranking(ingredients, w_sust, w_price, w_rel, w_dist, min_quality, lang, theme):
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        ings = _ingredients(ingredients)
        if not ings:
            return [], {}, {}, {}, view.error(view.tr("choose", lang)), no_update
        weights = parse_weights((w_sust, w_price, w_rel, w_dist))
        quality = parse_quality(min_quality)
        res = rank_view(runtime().engine, ings, weights, quality)
    except SourcingInputError as exc:
        return [], {}, {}, {}, view.error(str(exc)), no_update
    except FileNotFoundError:
        return [], {}, {}, {}, view.error(view.tr("missing", lang)), no_update
    records = res.ranked.to_dicts()
    query = view.query_state(res.ingredients, [weights[c] for c in view.CRITERIA], quality)
    return (
        view.grid_rows(records, _REGION_NAMES, lang),
        view.breakdown_figure(records, lang, theme),
        view.map_figure(records, _CAPITALS, (LIMA_LAT, LIMA_LON), lang, theme),
        view.pareto_figure(records, lang, theme),
        view.notice(res.notice, lang),
        query,
    )


@callback(
    Output(ids.SOURCING_DOWNLOAD, "data"),
    Output(ids.SOURCING_STATUS, "children", allow_duplicate=True),
    Input(ids.SOURCING_EXPORT, "n_clicks"),
    State(ids.SOURCING_INGREDIENTS, "value"),
    State(ids.SOURCING_W_SUSTAINABILITY, "value"),
    State(ids.SOURCING_W_PRICE, "value"),
    State(ids.SOURCING_W_RELIABILITY, "value"),
    State(ids.SOURCING_W_DISTANCE, "value"),
    State(ids.SOURCING_MIN_QUALITY, "value"),
    State(ids.SOURCING_TOPK, "value"),
    prevent_initial_call=True,
)
def export_shortlist(n_clicks, ingredients, w_sust, w_price, w_rel, w_dist, min_quality, top_k):
    if not n_clicks:
        return no_update, no_update
    try:
        k = int(top_k) if top_k not in (None, "") else 3
        csv, _rows = shortlist_csv(runtime().engine, _ingredients(ingredients),
                                   parse_weights((w_sust, w_price, w_rel, w_dist)), k, parse_quality(min_quality))
    except (SourcingInputError, ValueError, TypeError) as exc:
        return no_update, view.error(str(exc))
    return dcc.send_string(csv, "chasqui_sourcing_shortlist.csv", type="text/csv"), no_update


@callback(
    Output(ids.SOURCING_MENU_GRID, "rowData"),
    Input(ids.SOURCING_MENU_ADD, "n_clicks"),
    State(ids.SOURCING_MENU_GRID, "rowData"),
    prevent_initial_call=True,
)
def add_menu_row(n_clicks, rows):
    if not n_clicks:
        return no_update
    rows = list(rows) if isinstance(rows, list) else []
    if len(rows) >= 60:
        return no_update
    return [*rows, {"ingredient_id": None, "kg_month": None}]


@callback(
    Output(ids.SOURCING_MENU_RESULT, "children"),
    Input(ids.SOURCING_MENU_GRID, "rowData"),
    Input(ids.SOURCING_MENU_GRID, "cellValueChanged"),
    Input(ids.SOURCING_W_SUSTAINABILITY, "value"),
    Input(ids.SOURCING_W_PRICE, "value"),
    Input(ids.SOURCING_W_RELIABILITY, "value"),
    Input(ids.SOURCING_W_DISTANCE, "value"),
    Input(ids.SOURCING_MIN_QUALITY, "value"),
    Input(ids.LANG_STORE, "data"),
)
@memoized
def update_menu(rows, _changed, w_sust, w_price, w_rel, w_dist, min_quality, lang):
    lang = normalize_lang(lang)
    try:
        if rows is not None and (not isinstance(rows, list) or len(rows) > 200):
            raise SourcingInputError("the menu must be a list of at most 200 rows")
        res = menu_view(runtime().engine, rows or [], parse_weights((w_sust, w_price, w_rel, w_dist)),
                        parse_quality(min_quality))
    except SourcingInputError as exc:
        return view.error(str(exc))
    except FileNotFoundError:
        return view.error(view.tr("missing", lang))
    if res.plan is None:
        return view.menu_result([], [], {}, res.rejected, lang)
    return view.menu_result(res.plan.lines.to_dicts(), res.plan.allocation.to_dicts(), res.plan.totals,
                            res.rejected, lang)


clientside_callback(ClientsideFunction("chasqui", "syncQuery"), Output(ids.SOURCING_QUERY_SYNCED, "children"),
                    Input(ids.SOURCING_QUERY, "data"), prevent_initial_call=True)
