"""Traceability callbacks: open a lot (look-up, journey, verification, recall) and exports."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, no_update

from analytics import geo
from analytics.artifacts import ArtifactError
from analytics.shelflife.kinetics import PRODUCTS, UnknownProduct
from analytics.shelflife.predict import MAX_EXTRA_HOURS, TEMP_LIMITS_C, ShelfLifeInputError, lot_outlook
from analytics.traceability.exports import export_lot
from analytics.traceability.lot_page import page_view
from analytics.traceability.lots import LotNotFound, LotView
from callbacks.registration import PageCallbacks
from components import format as fmt
from components import ids
from components import shelflife as shelf_view
from components import traceability as view
from components.i18n import normalize_lang
from components.theme import blank_figure, normalize_theme
from ledger_client import LedgerError
from web.access import OutputOwner
from web.jobs import memoized
from web.requester import may
from web.runtime import runtime

PAGE: str | None = ids.PATH_TRACEABILITY
ACTION_EXPORT = "trace-export"  # recall/FSMA exports: need a role allowed to export (web.access)
ACTION_RECALL = "trace-recall"  # the recall view, quantities, customers, shipment documents (web.access)
OUTPUTS = (ids.TRACE_LOT, ids.TRACE_STATUS, ids.TRACE_SUMMARY, ids.TRACE_VERDICT, ids.TRACE_QR,
           ids.TRACE_TIMELINE, ids.TRACE_MAP, ids.TRACE_COLD, ids.TRACE_RECALL)


def _empty(alert: Any, theme: str) -> tuple:
    """No lot shown: the alert above, and its sentence where the map and the cold-chain chart would be."""
    text = str(alert.children)
    return (None, alert, None, None, None, None, blank_figure(text, theme, height=520),
            blank_figure(text, theme, height=520), None)


REGION_NAMES = {r.code: r.name for r in geo.REGIONS}


def public_view(v: LotView) -> LotView:
    """What anyone scanning a QR code may see of a lot: product, origin, journey and verification. Quantities,
    customers (shipment destinations, the names of exits abroad, where a buyer received the lot: only its country)
    and shipment documents are left out."""
    def public(t: dict) -> dict:
        if t.get("place_kind") == "buyer":
            t = {**t, "place": t.get("country") or "?", "gln": None, "lat": None, "lon": None}
        return {**t, "destinations": [], "documents": []}

    return dataclasses.replace(
        v, master={k: val for k, val in v.master.items() if k != "quantity_kg"},
        timeline=[public(t) for t in v.timeline],
        exits=[{**e, "to": e.get("country") or "?"} for e in v.exits])


def open_lot(_n: int | None, query: str | None, lang: str | None, theme: str | None, gtin: str | None) -> tuple:
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    q = view.clean_param(query)
    g = view.clean_param(gtin, 14) or None
    if not q:
        return _empty(view.status("empty", lang), theme)
    if g is not None and not g.isdigit():
        return _empty(view.status("error", lang, msg="GTIN: 8–14 digits"), theme)
    try:
        st = runtime().settings
        pv = page_view(st.data_dir, q, g, ledger=st.data.ledger, trust=st.data.ledger_trust, ledger_url=st.ledger_url)
    except LotNotFound:
        return _empty(view.status("notfound", lang, q=q), theme)
    except (LedgerError, OSError, ValueError) as exc:
        return _empty(view.status("error", lang, msg=str(exc)), theme)
    v, ver, ref = pv.view, pv.verification, pv.ref
    full = may(ACTION_RECALL)  # traceability-admin, executive (or no sign-in at all)
    if not full:
        v = public_view(v)
    checks = {e["event_key"]: e for e in ver.events}
    return (
        {"gtin": ref.gtin, "lot": ref.lot},
        view.found_note(ref.via, len(pv.candidates), lang),
        view.summary(v.master, ref.gtin, ref.lot, lang),
        view.verdict_card(ver.verdict, ver.counts, len(ver.events), ver.checkpoint_size, ver.seconds, ver.reason,
                          ver.why, ver.tampered, ver.witnesses, lang),
        view.qr_image(v.digital_link, lang),
        view.timeline_table(v.timeline, checks, lang),
        view.map_figure(v.path, v.exits, pv.sites, geo.region_outlines(), REGION_NAMES, lang, theme),
        view.cold_figure(v.readings, v.temp_band, lang, theme),
        view.recall_view(pv.recall, lang) if full else view.status("recall_restricted", lang),
    )


EXPORTS = {ids.TRACE_EXPORT_RECALL: "recall_csv", ids.TRACE_EXPORT_CSV: "fsma_csv", ids.TRACE_EXPORT_XLSX: "fsma_xlsx"}


def export(_a: int | None, _b: int | None, _c: int | None, lot: dict | None) -> Any:
    kind = EXPORTS.get(str(ctx.triggered_id))
    if not kind or not isinstance(lot, dict) or not isinstance(lot.get("gtin"), str) or not isinstance(lot.get("lot"), str):
        return no_update
    try:
        name, content = export_lot(runtime().settings.data_dir, lot["gtin"], lot["lot"], kind)
    except (LotNotFound, LedgerError, OSError, ValueError):
        return no_update
    return dcc.send_bytes(content, name)


def _number(value: object) -> float | None:
    """A number input's value: None when empty; ValueError when it is not a finite number."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str) or (isinstance(value, str) and len(value) > 32):
        raise ValueError(f"not a number: {value!r}")
    x = float(value)
    if not math.isfinite(x):
        raise ValueError(f"not a finite number: {value!r}")
    return x


def parse_whatif(hours: object, temp: object, lang: str) -> tuple[float, float | None, Any]:
    """(extra hours, temperature, the input's error message or None); a bad input means no what-if."""
    try:
        h = _number(hours) or 0.0
        if not 0.0 <= h <= MAX_EXTRA_HOURS:
            raise ValueError(h)
    except ValueError:
        return 0.0, None, shelf_view.message("hours_bad", lang, max=fmt.number(MAX_EXTRA_HOURS, 0))
    if h == 0:
        return 0.0, None, None
    lo, hi = TEMP_LIMITS_C
    try:
        t = _number(temp)
    except ValueError:
        t = math.nan
    if t is None:
        return 0.0, None, shelf_view.message("temp_missing", lang)
    if not lo <= t <= hi:
        return 0.0, None, shelf_view.message("temp_bad", lang, lo=fmt.number(lo, 0), hi=fmt.number(hi, 0))
    return h, t, None


@memoized
def shelf_life(lot: dict | None, hours: object, temp: object, lang: str | None, theme: str | None) -> Any:
    """The open lot's predicted shelf life at arrival, what drove it and the what-if (public page content:
    the product's forecast, never a buyer or a quantity)."""
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    if not isinstance(lot, dict) or not isinstance(lot.get("gtin"), str) or not isinstance(lot.get("lot"), str):
        return shelf_view.placeholder(lang)
    h, t, whatif_error = parse_whatif(hours, temp, lang)
    try:
        out = lot_outlook(runtime().settings.data_dir, lot["lot"], gtin=lot["gtin"], extra_hours=h, at_temp_c=t)
    except UnknownProduct:
        return shelf_view.not_applicable([p.name_en if lang == "en" else p.name_es for p in PRODUCTS.values()], lang)
    except LotNotFound:
        return shelf_view.placeholder(lang)
    except FileNotFoundError:
        return shelf_view.message("no_model", lang)
    except (ShelfLifeInputError, ArtifactError, OSError, ValueError) as exc:
        return shelf_view.message("error", lang, msg=str(exc))
    kin = PRODUCTS[out.forecast.product]
    return shelf_view.forecast_view(out.forecast.to_dict(), kin.name_en if lang == "en" else kin.name_es, lang, theme,
                                    out.whatif.to_dict() if out.whatif else None, out.whatif_change_days,
                                    whatif_error)


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Traceability page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(open_lot,
                [Output(i, "data" if i == ids.TRACE_LOT else ("figure" if i in (ids.TRACE_MAP, ids.TRACE_COLD)
                                                             else "children")) for i in OUTPUTS],
                Input(ids.TRACE_SEARCH, "n_clicks"), Input(ids.TRACE_QUERY, "value"),
                Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"), State(ids.TRACE_GTIN, "value"))
    cb.callback(export, Output(ids.TRACE_DOWNLOAD, "data"),
                Input(ids.TRACE_EXPORT_RECALL, "n_clicks"), Input(ids.TRACE_EXPORT_CSV, "n_clicks"),
                Input(ids.TRACE_EXPORT_XLSX, "n_clicks"), State(ids.TRACE_LOT, "data"),
                prevent_initial_call=True, action=ACTION_EXPORT)
    cb.callback(shelf_life, Output(ids.TRACE_SHELF, "children"),
                Input(ids.TRACE_LOT, "data"), Input(ids.TRACE_SHELF_HOURS, "value"),
                Input(ids.TRACE_SHELF_TEMP, "value"), Input(ids.LANG_STORE, "data"), Input(ids.THEME_STORE, "data"))
    return cb.owners
