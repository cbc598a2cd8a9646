"""Segments callbacks: the segmentation run (background, with progress and cancel), filter options and
the CSV export of a segment's members."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from dash import ClientsideFunction, Dash, Input, Output, State, dcc, no_update

from analytics import geo
from analytics.segments.features import SegmentInputError
from analytics.segments.segmentation import NONE_NAMES, SegmentParams, export_members, filter_options, page_view
from callbacks.registration import PageCallbacks
from components import format as fmt
from components import ids
from components import segments as view
from components.i18n import normalize_lang, t
from components.layout import error_alert
from components.theme import normalize_theme
from web.access import OutputOwner
from web.jobs import memo_background
from web.runtime import runtime

PAGE: str | None = ids.PATH_SEGMENTS
N_OUT = 8


def parse_date(value: object) -> date | None:
    """A date from a DatePicker value ('2024-01-31' or '2024-01-31T00:00:00'); None if empty."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 32:
        raise SegmentInputError(f"not a date: {value!r}")
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise SegmentInputError(f"not a date: {value!r}") from None


def parse_regions(value: object) -> tuple[str, ...]:
    if value in (None, "", []):
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise SegmentInputError(f"not a list of regions: {value!r}")
    return tuple(value)


def parse_params(k: object, start: object, end: object, regions: object) -> SegmentParams:
    s, e = parse_date(start), parse_date(end)
    if s and e and s > e:
        s, e = e, s
    return SegmentParams(k=view.parse_k(k), start=s, end=e, regions=parse_regions(regions))


def _region_names() -> dict[str, str]:
    return {r.code: r.name for r in geo.REGIONS}


def _failure(message: str, theme: str, query: Any = no_update) -> tuple:
    fig = view.empty_figure(message, theme)
    return "", error_alert(message), fig, fig, fig, None, [], query


@memo_background
def update_segments(set_progress: Callable[[tuple[int, str]], None], k: object, start: object, end: object,
                    regions: object, compare: object, lang: object, theme: object) -> tuple:
    """Segments at k for the period/regions, curves for k = 2..10, PCA sample and movement Sankey."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    try:
        params = parse_params(k, start, end, regions)
        compare_end = parse_date(compare)
    except SegmentInputError as exc:
        return _failure(t("error.generic", lang, msg=str(exc)), theme)
    query = {"k": params.k, "start": params.start.isoformat() if params.start else None,
             "end": params.end.isoformat() if params.end else None, "regions": list(params.regions),
             "compare": compare_end.isoformat() if compare_end else None}
    rt = runtime()

    def progress(label: str, frac: float) -> None:
        set_progress((int(round(100 * frac)), f"{view.t('running', lang)} {label}"))

    try:
        pv = page_view(rt.engine, params, compare_end, rt.settings.cache_dir, progress)
    except FileNotFoundError:
        return _failure(view.t("missing", lang), theme, query)
    except SegmentInputError as exc:
        return _failure(t("error.generic", lang, msg=str(exc)), theme, query)
    res = pv.result
    names = [res.name(i, lang) for i in range(res.k)]
    cv = res.curves
    curves = view.curves_figure(cv["k"].to_list(), cv["inertia"].to_list(), cv["silhouette"].to_list(), res.k,
                                res.suggested_k, lang, theme)
    points: dict[int, dict[str, list]] = {}
    for label, x, y, cid in res.pca.select("label", "pc1", "pc2", "customer_id").iter_rows():
        p = points.setdefault(int(label), {"x": [], "y": [], "id": []})
        p["x"].append(x)
        p["y"].append(y)
        p["id"].append(cid)
    pca = view.pca_figure(points, names, res.pca_variance, res.pca.height, lang, theme, total=res.members.height)
    if pv.flows is not None and pv.compare_end is not None:
        latest = res.members["last_order"].max()
        last = params.end or (latest if isinstance(latest, date) else pv.compare_end)
        flows = [(int(a), int(b), int(n)) for a, b, n in pv.flows.iter_rows()]
        sankey = view.sankey_figure(flows, names, NONE_NAMES[lang], fmt.day(pv.compare_end, lang),
                                    fmt.day(last, lang), lang, theme)
    else:
        sankey = view.empty_figure(view.t("sankey.none", lang), theme)
    rows = [{**r, "name": names[int(r["label"])]} for r in res.profile.iter_rows(named=True)]
    table = view.profile_table(rows, _region_names(), lang)
    summary = view.t("summary", lang, n=res.members.height, k=res.k, s=res.silhouette, sk=res.suggested_k)
    options = [{"label": names[int(r["label"])], "value": int(r["label"])} for r in rows]
    set_progress((100, ""))
    return summary, None, curves, pca, sankey, table, options, query


def region_options(lang: object) -> tuple:
    """Regions present in the orders (name and number of customers) and the order date range."""
    try:
        opts = filter_options(runtime().engine)
    except FileNotFoundError:
        return [], None, None
    lang = normalize_lang(lang)
    regions = [{"label": f"{r.name} ({fmt.integer(r.customers)})", "value": r.code} for r in opts.regions]
    lo, hi = opts.start, opts.end
    return regions, lo.isoformat() if lo else None, hi.isoformat() if hi else None


def export_segment(n_clicks: object, label: object, k: object, start: object, end: object, regions: object,
                   lang: object) -> Any:
    """The members of the chosen segment (or of all) as CSV, for the same selection as the page."""
    if not n_clicks:
        return no_update
    lang = normalize_lang(lang)
    rt = runtime()
    try:
        params = parse_params(k, start, end, regions)
        if label not in (None, "") and (isinstance(label, bool) or not isinstance(label, int)):
            raise SegmentInputError(f"not a segment: {label!r}")
        seg = None if label in (None, "") else int(label)
        csv = export_members(rt.engine, params, seg, lang, rt.settings.cache_dir)
    except (SegmentInputError, FileNotFoundError):
        return no_update  # the page already shows why the selection cannot be segmented
    name = f"segmentos_k{params.k}" + (f"_{seg}" if seg is not None else "") + ".csv"
    return dcc.send_string(csv, name)


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Segments page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(
        update_segments,
        output=[
            Output(ids.SEGMENTS_SUMMARY, "children"),
            Output(ids.SEGMENTS_STATUS, "children"),
            Output(ids.SEGMENTS_CURVES, "figure"),
            Output(ids.SEGMENTS_PCA, "figure"),
            Output(ids.SEGMENTS_SANKEY, "figure"),
            Output(ids.SEGMENTS_PROFILE, "children"),
            Output(ids.SEGMENTS_EXPORT_SEGMENT, "options"),
            Output(ids.SEGMENTS_QUERY, "data"),
        ],
        inputs=[
            Input(ids.SEGMENTS_K, "value"),
            Input(ids.SEGMENTS_DATES, "start_date"),
            Input(ids.SEGMENTS_DATES, "end_date"),
            Input(ids.SEGMENTS_REGIONS, "value"),
            Input(ids.SEGMENTS_COMPARE, "date"),
            Input(ids.LANG_STORE, "data"),  # the figures follow a language or theme switch (from the cache when
            Input(ids.THEME_STORE, "data"),  # this combination was seen before; the k sweep is cached either way)
        ],
        background=True,
        progress=[Output(ids.SEGMENTS_PROGRESS, "value"), Output(ids.SEGMENTS_PROGRESS, "label")],
        running=[
            (Output(ids.SEGMENTS_CANCEL, "disabled"), False, True),
            (Output(ids.SEGMENTS_PROGRESS, "animated"), True, False),
        ],
        cancel=[Input(ids.SEGMENTS_CANCEL, "n_clicks")],
    )
    cb.callback(region_options, Output(ids.SEGMENTS_REGIONS, "options"),
                Output(ids.SEGMENTS_DATES, "min_date_allowed"), Output(ids.SEGMENTS_DATES, "max_date_allowed"),
                Input(ids.LANG_STORE, "data"))
    cb.callback(export_segment, Output(ids.SEGMENTS_DOWNLOAD, "data"),
                Input(ids.SEGMENTS_EXPORT, "n_clicks"), State(ids.SEGMENTS_EXPORT_SEGMENT, "value"),
                State(ids.SEGMENTS_K, "value"), State(ids.SEGMENTS_DATES, "start_date"),
                State(ids.SEGMENTS_DATES, "end_date"), State(ids.SEGMENTS_REGIONS, "value"),
                State(ids.LANG_STORE, "data"), prevent_initial_call=True)
    cb.clientside(ClientsideFunction("chasqui", "syncQuery"), Output(ids.SEGMENTS_QUERY_SYNCED, "children"),
                  Input(ids.SEGMENTS_QUERY, "data"), prevent_initial_call=True)
    return cb.owners
