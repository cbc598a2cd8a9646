"""Overview callbacks: KPIs, monthly trend, the regions' map and ranking for a date range."""

from __future__ import annotations

from datetime import date

from dash import ClientsideFunction, Dash, Input, Output

from analytics import geo
from analytics.queries import OrderFilter, overview
from callbacks.registration import PageCallbacks
from components import ids
from components import overview as view
from components.i18n import normalize_lang, t
from components.layout import error_alert, slow_note_running
from components.theme import blank_figure, normalize_theme
from web.access import OutputOwner
from web.jobs import memoized
from web.runtime import runtime

PAGE: str | None = ids.PATH_OVERVIEW
REGION_NAMES = {r.code: r.name for r in geo.REGIONS}


def parse_date(value: object) -> date | None:
    """A date from a DatePicker value ('2024-01-31' or '2024-01-31T00:00:00'); None if empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise ValueError(f"not a date: {value!r}")
    return date.fromisoformat(value[:10])


def _nothing(kpis: list, msg: str, query: dict | None, theme: str) -> tuple:
    """The page's outputs when there is nothing to draw: the reason, written where each figure would be."""
    return (kpis, blank_figure(msg, theme, 380), blank_figure(msg, theme, 560), error_alert(msg), query,
            blank_figure(msg, theme, 560))


@memoized
def update_overview(start: object, end: object, lang: object, theme: object, metric: object = None):
    """KPIs, monthly trend, region ranking, status, URL state and the regions' map (coloured by ``metric``)."""
    lang, theme, metric = normalize_lang(lang), normalize_theme(theme), view.parse_map_metric(metric)
    try:
        flt = OrderFilter(start=parse_date(start), end=parse_date(end))
    except ValueError as exc:
        return _nothing([], t("error.generic", lang, msg=str(exc)), None, theme)
    if flt.start and flt.end and flt.start > flt.end:
        flt = OrderFilter(start=flt.end, end=flt.start)
    try:
        res = overview(runtime().engine, flt)
    except FileNotFoundError:
        return _nothing([], t("overview.missing", lang), None, theme)
    query = {"start": flt.start.isoformat() if flt.start else None, "end": flt.end.isoformat() if flt.end else None}
    if not res.kpis["orders"]:
        return _nothing(view.kpi_row(res.kpis, lang), t("overview.nodata", lang), query, theme)
    tr = res.trend
    trend = view.trend_figure(tr["month"].to_list(), tr["orders"].to_list(), tr["revenue_pen"].to_list(),
                              tr["late_rate"].to_list(), lang, theme)
    rg = res.regions.head(25)
    labels = [geo.REGION_BY_CODE[c].name if c in geo.REGION_BY_CODE else f"{c} ({k})"
              for c, k in zip(rg["region"].to_list(), rg["country"].to_list())]
    regions = view.region_figure(labels, rg["revenue_pen"].to_list(), rg["late_rate"].to_list(),
                                 rg["orders"].to_list(), lang, theme, res.peru)
    region_map = (view.region_map(res.regions.to_dicts(), geo.region_outlines(), REGION_NAMES, metric, lang, theme)
                  if res.peru else blank_figure(view.tr("map.none", lang), theme, 560))
    return view.kpi_row(res.kpis, lang), trend, regions, None, query, region_map


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Overview page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(update_overview,
                Output(ids.OVERVIEW_KPIS, "children"), Output(ids.OVERVIEW_TREND, "figure"),
                Output(ids.OVERVIEW_REGIONS, "figure"), Output(ids.OVERVIEW_STATUS, "children"),
                Output(ids.OVERVIEW_QUERY, "data"), Output(ids.OVERVIEW_MAP, "figure"),
                Input(ids.OVERVIEW_DATES, "start_date"), Input(ids.OVERVIEW_DATES, "end_date"),
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"),
                Input(ids.OVERVIEW_MAP_METRIC, "value"),
                running=slow_note_running(ids.OVERVIEW_SLOW))
    cb.clientside(ClientsideFunction("chasqui", "syncQuery"), Output(ids.OVERVIEW_QUERY_SYNCED, "children"),
                  Input(ids.OVERVIEW_QUERY, "data"), prevent_initial_call=True)
    return cb.owners
