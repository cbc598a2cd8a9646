"""Sourcing callbacks: ranking, map and Pareto front; CSV shortlist; menu mode; URL state."""

from __future__ import annotations

import math
from collections.abc import Sequence

from dash import ALL, ClientsideFunction, Dash, Input, Output, State, dcc, no_update
from dash.exceptions import PreventUpdate

from analytics import geo
from analytics.sourcing.ingredients import LIMA_LAT, LIMA_LON
from analytics.sourcing.ranking import CRITERIA, DEFAULT_WEIGHTS, SourcingInputError
from analytics.sourcing.shortlist import menu_view, rank_view, shortlist_csv
from callbacks.registration import PageCallbacks
from components import ids
from components import sourcing as view
from components.i18n import normalize_lang
from components.theme import normalize_theme
from web.access import OutputOwner
from web.jobs import memoized
from web.runtime import runtime

PAGE: str | None = ids.PATH_SOURCING
# the weight sliders (one per criterion, built on load by weight_sliders): their values and their ids
WEIGHT_VALUES = Input(ids.sourcing_weight(ALL), "value")
WEIGHT_IDS = State(ids.sourcing_weight(ALL), "id")


def weight_slider_ids(criteria: Sequence[str] = CRITERIA) -> list[dict[str, str]]:
    """The weight sliders' ids, in the ranking's criteria order (what Dash passes for ``WEIGHT_IDS``)."""
    return [ids.sourcing_weight(c) for c in criteria]


def _url_weights(value: object) -> list[float] | None:
    """The URL's weights when there is one 0–100 number per criterion, else None."""
    if not isinstance(value, list) or len(value) != len(CRITERIA):
        return None
    if any(isinstance(w, bool) or not isinstance(w, int | float) or not 0 <= w <= 100 for w in value):
        return None
    return [float(w) for w in value]


def weight_sliders(url_weights: object, lang: object) -> list:
    """On load: one slider per criterion the ranking uses, at the URL's weights when it gives one per
    criterion (``w=40,30,20,10``), otherwise at the ranking's defaults."""
    weights = _url_weights(url_weights) or [DEFAULT_WEIGHTS[c] for c in CRITERIA]
    return view.weight_sliders(list(zip(CRITERIA, weights, strict=True)), normalize_lang(lang))


def parse_weights(values: object, weight_ids: object) -> dict[str, float]:
    """Slider values (with the sliders' ids, which name their criteria) → weights by criterion (None counts
    as 0; other non-numbers and unknown criteria are refused). No sliders yet (the page is loading): no update."""
    if not isinstance(values, list) or not isinstance(weight_ids, list) or len(values) != len(weight_ids):
        raise SourcingInputError("weights must be one value per criterion slider")
    if not values:
        raise PreventUpdate  # the sliders are being built (weight_sliders); this runs again when they are
    out = {}
    for sid, v in zip(weight_ids, values, strict=True):
        crit = sid.get("criterion") if isinstance(sid, dict) else None
        if crit not in CRITERIA:
            raise SourcingInputError(f"unknown criterion: {crit!r}")
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


@memoized
def update_ranking(ingredients, weight_values, weight_ids, min_quality, lang, theme):
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        ings = _ingredients(ingredients)
        if not ings:
            return [], *view.empty_figures(view.tr("choose.figure", lang), theme), \
                view.error(view.tr("choose", lang)), no_update
        weights = parse_weights(weight_values, weight_ids)
        quality = parse_quality(min_quality)
        res = rank_view(runtime().engine, ings, weights, quality)
    except SourcingInputError as exc:
        return [], *view.empty_figures(str(exc), theme), view.error(str(exc)), no_update
    except FileNotFoundError:
        return [], *view.empty_figures(view.tr("missing", lang), theme), view.error(view.tr("missing", lang)), no_update
    records = res.ranked.to_dicts()
    query = view.query_state(res.ingredients, [weights.get(c, 0.0) for c in CRITERIA], quality)
    return (
        view.grid_rows(records, _REGION_NAMES, lang),
        view.breakdown_figure(records, CRITERIA, lang, theme),
        view.map_figure(records, geo.region_outlines(), _REGION_NAMES, (LIMA_LAT, LIMA_LON), lang, theme),
        view.pareto_figure(records, lang, theme),
        view.notice(res.notice, lang),
        query,
    )


def export_shortlist(n_clicks, ingredients, weight_values, weight_ids, min_quality, top_k):
    if not n_clicks:
        return no_update, no_update
    try:
        k = int(top_k) if top_k not in (None, "") else 3
        csv, _rows = shortlist_csv(runtime().engine, _ingredients(ingredients),
                                   parse_weights(weight_values, weight_ids), k, parse_quality(min_quality))
    except (SourcingInputError, ValueError, TypeError) as exc:
        return no_update, view.error(str(exc))
    return dcc.send_string(csv, "chasqui_sourcing_shortlist.csv", type="text/csv"), no_update


def add_menu_row(n_clicks, rows):
    if not n_clicks:
        return no_update
    rows = list(rows) if isinstance(rows, list) else []
    if len(rows) >= 60:
        return no_update
    return [*rows, {"ingredient_id": None, "kg_month": None}]


@memoized
def update_menu(rows, _changed, weight_values, weight_ids, min_quality, lang):
    lang = normalize_lang(lang)
    try:
        if rows is not None and (not isinstance(rows, list) or len(rows) > 200):
            raise SourcingInputError("the menu must be a list of at most 200 rows")
        res = menu_view(runtime().engine, rows or [], parse_weights(weight_values, weight_ids),
                        parse_quality(min_quality))
    except SourcingInputError as exc:
        return view.error(str(exc))
    except FileNotFoundError:
        return view.error(view.tr("missing", lang))
    if res.plan is None:
        return view.menu_result([], [], {}, res.rejected, lang)
    return view.menu_result(res.plan.lines.to_dicts(), res.plan.allocation.to_dicts(), res.plan.totals,
                            res.rejected, lang)


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Sourcing page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(weight_sliders, Output(ids.SOURCING_WEIGHTS, "children"),
                Input(ids.SOURCING_URL_WEIGHTS, "data"), State(ids.LANG_STORE, "data"))
    cb.callback(update_ranking,
                Output(ids.SOURCING_GRID, "rowData"), Output(ids.SOURCING_BREAKDOWN, "figure"),
                Output(ids.SOURCING_MAP, "figure"), Output(ids.SOURCING_PARETO, "figure"),
                Output(ids.SOURCING_STATUS, "children"), Output(ids.SOURCING_QUERY, "data"),
                Input(ids.SOURCING_INGREDIENTS, "value"), WEIGHT_VALUES, WEIGHT_IDS,
                Input(ids.SOURCING_MIN_QUALITY, "value"), Input(ids.LANG_STORE, "data"),
                Input(ids.THEME_STORE, "data"))
    cb.callback(export_shortlist,
                Output(ids.SOURCING_DOWNLOAD, "data"), Output(ids.SOURCING_STATUS, "children", allow_duplicate=True),
                Input(ids.SOURCING_EXPORT, "n_clicks"), State(ids.SOURCING_INGREDIENTS, "value"),
                State(ids.sourcing_weight(ALL), "value"), WEIGHT_IDS, State(ids.SOURCING_MIN_QUALITY, "value"),
                State(ids.SOURCING_TOPK, "value"), prevent_initial_call=True)
    cb.callback(add_menu_row, Output(ids.SOURCING_MENU_GRID, "rowData"),
                Input(ids.SOURCING_MENU_ADD, "n_clicks"), State(ids.SOURCING_MENU_GRID, "rowData"),
                prevent_initial_call=True)
    cb.callback(update_menu, Output(ids.SOURCING_MENU_RESULT, "children"),
                Input(ids.SOURCING_MENU_GRID, "rowData"), Input(ids.SOURCING_MENU_GRID, "cellValueChanged"),
                WEIGHT_VALUES, WEIGHT_IDS, Input(ids.SOURCING_MIN_QUALITY, "value"), Input(ids.LANG_STORE, "data"))
    cb.clientside(ClientsideFunction("chasqui", "syncQuery"), Output(ids.SOURCING_QUERY_SYNCED, "children"),
                  Input(ids.SOURCING_QUERY, "data"), prevent_initial_call=True)
    return cb.owners
