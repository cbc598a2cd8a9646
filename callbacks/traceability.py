"""Traceability callbacks: open a lot (look-up, journey, verification, recall) and exports."""

from __future__ import annotations

from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, no_update

from analytics.traceability.exports import export_lot
from analytics.traceability.lot_page import page_view
from analytics.traceability.lots import LotNotFound
from callbacks.registration import PageCallbacks
from components import ids
from components import traceability as view
from components.i18n import normalize_lang
from components.theme import blank_figure, normalize_theme
from ledger_client import LedgerError
from web.access import OutputOwner
from web.runtime import runtime

PAGE: str | None = ids.PATH_TRACEABILITY
ACTION_EXPORT = "trace-export"  # recall/FSMA exports: need a role allowed to export (web.access)
OUTPUTS = (ids.TRACE_LOT, ids.TRACE_STATUS, ids.TRACE_SUMMARY, ids.TRACE_VERDICT, ids.TRACE_QR,
           ids.TRACE_TIMELINE, ids.TRACE_MAP, ids.TRACE_COLD, ids.TRACE_RECALL)


def _empty(lang: str, alert: Any) -> tuple:
    return (None, alert, None, None, None, None, blank_figure(), blank_figure(), None)


def open_lot(_n: int | None, query: str | None, lang: str | None, theme: str | None, gtin: str | None) -> tuple:
    lang, theme = normalize_lang(lang), normalize_theme(theme)
    q = view.clean_param(query)
    g = view.clean_param(gtin, 14) or None
    if not q:
        return _empty(lang, view.status("empty", lang))
    if g is not None and not g.isdigit():
        return _empty(lang, view.status("error", lang, msg="GTIN: 8–14 digits"))
    try:
        st = runtime().settings
        pv = page_view(st.data_dir, q, g, ledger=st.data.ledger, trust=st.data.ledger_trust, ledger_url=st.ledger_url)
    except LotNotFound:
        return _empty(lang, view.status("notfound", lang, q=q))
    except (LedgerError, OSError, ValueError) as exc:
        return _empty(lang, view.status("error", lang, msg=str(exc)))
    v, ver, ref = pv.view, pv.verification, pv.ref
    checks = {e["event_key"]: e for e in ver.events}
    return (
        {"gtin": ref.gtin, "lot": ref.lot},
        view.found_note(ref.via, len(pv.candidates), lang),
        view.summary(v.master, ref.gtin, ref.lot, lang),
        view.verdict_card(ver.verdict, ver.counts, len(ver.events), ver.checkpoint_size, ver.seconds, ver.error, lang),
        view.qr_image(v.digital_link, lang),
        view.timeline_table(v.timeline, checks, lang),
        view.map_figure(v.path, pv.sites, lang, theme),
        view.cold_figure(v.readings, v.temp_band, lang, theme),
        view.recall_view(pv.recall, lang),
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
    return cb.owners
