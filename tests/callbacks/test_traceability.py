"""Traceability callbacks called directly: opening a lot, user input rendered as text, exports."""

from __future__ import annotations

import base64
import contextvars
import json

import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict

from components import ids


@pytest.fixture(scope="module")
def trace_settings(tmp_path_factory: pytest.TempPathFactory):
    from analytics.traceability.demo_lots import generate
    from web.settings import Settings

    d = tmp_path_factory.mktemp("trace-cb")
    generate(d, 7)
    return Settings(data_dir=d, live=False, demo_feed=False, cache_dir=tmp_path_factory.mktemp("cache"))


@pytest.fixture()
def cb(trace_settings):
    from web.runtime import configure

    configure(trace_settings)
    import callbacks.traceability as mod

    return mod


def _text(component) -> str:
    return json.dumps(component.to_plotly_json(), default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o))


def test_open_lot_fills_every_output(cb) -> None:
    out = cb.open_lot(1, "AR-LAL-24001", "es", "light", None)
    store, status, summary, verdict, qr, timeline, fmap, cold, recall = out
    assert store["lot"] == "AR-LAL-24001" and store["gtin"].startswith("0775")
    assert "Lote verificado" in _text(verdict)
    src = qr.children[0].src
    assert src.startswith("data:image/svg+xml;base64,") and b"<svg" in base64.b64decode(src.split(",", 1)[1])
    rows = timeline.children[1].children
    assert len(rows) >= 10 and _text(timeline).count("verificado") >= len(rows)
    # map: the journey over Peru's 25 region outlines (geo traces; plotly's base topology comes from assets/)
    assert fmap["data"][0]["type"] == "choropleth" and len(fmap["data"][0]["locations"]) == 25
    path = next(tr for tr in fmap["data"] if tr["name"] == "path")
    assert path["lon"][0] == pytest.approx(-78.75) and path["lat"][0] == pytest.approx(-8.41)
    temps = cold.data[0].y
    assert len(temps) > 10 and all(-5 < t < 12 for t in temps)
    assert "Philly" in _text(recall) or "Tokyo" in _text(recall) or "Rotterdam" in _text(recall)


def _gln(uri: str) -> str:
    return uri.rstrip("/").rsplit("/", 1)[-1]


@pytest.mark.parametrize("lot", ["AR-LAL-24001", "CFT-LIM-23002", "QN-PUN-24001"])
def test_journey_map_follows_the_lots_sites_in_event_order(cb, trace_settings, lot) -> None:
    """The path's vertices are the Peruvian sites of the lot's events in time order (a site repeated in a row drawn
    once); every shipment to a buyer abroad leaves from its site as an arrow named after the buyer. The voyage's
    events abroad (arrival at the port, receipt at the buyer) are the arrow's, not the path's."""
    import polars as pl

    from analytics.traceability import store
    from analytics.traceability.agro_chains import BUYERS, DEST_PORTS, site_by_gln
    from analytics.traceability.lots import lookup, lot_event_keys

    d = trace_settings.data_dir
    ref = lookup(d, lot)[0]
    events = store.load(d, store.EVENTS).filter(pl.col("event_key").is_in(lot_event_keys(d, ref.gtin, ref.lot)))
    sites, buyers = site_by_gln(), {b[2]: b for b in BUYERS}
    visited, abroad = [], []
    ports_abroad = {p[2] for p in DEST_PORTS.values()}
    for row in events.sort("event_time", "seq").iter_rows(named=True):
        if _gln(row["read_point"]) in ports_abroad | set(buyers):
            assert row["biz_step"] in ("arriving", "receiving")
            continue
        site = sites[_gln(row["read_point"])]
        if not visited or visited[-1] != site:
            visited.append(site)
        doc = json.loads(row["document"])  # one event, or an EPCIS document holding it
        event = doc["epcisBody"]["eventList"][0] if doc.get("type") == "EPCISDocument" else doc
        for dest in event.get("destinationList") or []:
            buyer = buyers.get(_gln(dest["destination"]))
            if buyer and (site.name, buyer[0]) not in abroad:
                abroad.append((site.name, buyer[0]))
    fmap = cb.open_lot(1, lot, "es", "light", None)[6]
    path = next(tr for tr in fmap["data"] if tr["name"] == "path")
    assert [h.split(" · ")[0].split(". ", 1)[1] for h in path["hovertext"]] == [s.name for s in visited]
    assert path["lat"] == [s.lat for s in visited] and path["lon"] == [s.lon for s in visited]
    labels = next(tr for tr in fmap["data"] if tr["name"] == "labels")
    assert "<br>".join(labels["text"]).count(". ") == len(visited)  # every vertex named, numbered once
    legs = [tr for tr in fmap["data"] if tr.get("marker", {}).get("symbol") == "arrow"]
    assert [(leg["hovertext"][0].split(" desde ")[1], leg["name"]) for leg in legs] == abroad
    for leg, (site_name, buyer) in zip(legs, abroad, strict=True):
        site = next(s for s in visited if s.name == site_name)
        assert (leg["lat"][0], leg["lon"][0]) == (site.lat, site.lon)
        assert leg["lon"][1] < site.lon  # out to sea, west of the port
        assert leg["text"][1].startswith(buyer)


def test_hostile_query_is_plain_text_and_english_strings(cb) -> None:
    payload = "<img src=x onerror=alert(1)>"
    out = cb.open_lot(1, payload, "en", "dark", None)
    assert out[0] is None
    assert out[1].children == f"No lot found for “{payload}”."   # a string child: React renders it as text
    out = cb.open_lot(1, "", "en", "dark", None)
    assert out[1].children == "Type a lot code to start."
    out = cb.open_lot(1, "AR-LAL-24001", "en", "dark", "12ab")
    assert "GTIN" in out[1].children


def test_exports_download_csv_and_xlsx(cb) -> None:
    lot = cb.open_lot(1, "CFT-LIM-23002", "en", "light", None)[0]
    for button, suffix, magic in ((ids.TRACE_EXPORT_CSV, ".csv", b"Traceability Lot Code"),
                                  (ids.TRACE_EXPORT_XLSX, ".xlsx", b"PK"),
                                  (ids.TRACE_EXPORT_RECALL, ".csv", b"direction,kind")):
        ctx = contextvars.copy_context()

        def run(button=button):
            context_value.set(AttributeDict(triggered_inputs=[{"prop_id": f"{button}.n_clicks", "value": 1}]))
            return cb.export(1, 1, 1, lot)

        res = ctx.run(run)
        assert res["filename"].endswith(suffix)
        assert base64.b64decode(res["content"]).startswith(magic) if res.get("base64") else res["content"].startswith(magic.decode())


def test_page_layout_tolerates_unknown_query_keys() -> None:
    from components import traceability as view

    lay = view.layout(lot="AR-LAL-24001", gtin=None)
    assert "AR-LAL-24001" in _text(lay)
    lay = view.layout(lot=["not", "a", "string"], gtin=123)
    assert '"value": ""' in _text(lay)


# ---------------------------------------------------------------- the three verdicts


def _words(component) -> str:
    """Every prop of a component tree as text (not ASCII-escaped)."""
    return json.dumps(component.to_plotly_json(), ensure_ascii=False,
                      default=lambda o: o.to_plotly_json() if hasattr(o, "to_plotly_json") else str(o))


def _verdict_card(cb, settings, lang: str = "es"):
    from web.runtime import configure

    configure(settings)
    out = cb.open_lot(1, "AR-LAL-24001", lang, "light", None)
    return out[3], out[5]


def test_verdict_verified_is_green(cb, trace_settings) -> None:
    card, _ = _verdict_card(cb, trace_settings)
    assert card.color == "success" and card.children.children[0].className == "text-success"
    assert card.children.children[0].children == "Lote verificado"
    assert "danger" not in _words(card) and "ALTERADO" not in _words(card)


def test_verdict_tampered_is_red_and_names_the_event(cb, trace_settings, tmp_path) -> None:
    import shutil

    import polars as pl

    from analytics import storage
    from analytics.traceability import store

    d = tmp_path / "data"
    shutil.copytree(trace_settings.data_dir, d, ignore=shutil.ignore_patterns(".cache"))
    settings = trace_settings.replace(data_dir=d, ledger_dir=None, cache_dir=tmp_path / "cache")
    from analytics.traceability.lots import lookup, lot_event_keys

    ref = lookup(d, "AR-LAL-24001")[0]
    target = lot_event_keys(d, ref.gtin, ref.lot)[2]
    ev = store.load(d, store.EVENTS)
    doc = json.loads(ev.filter(pl.col("event_key") == target)["document"][0])
    doc["epcisBody"]["eventList"][0]["eventTime"] = "2024-01-01T00:00:00.000-05:00"
    storage.write_table(ev.with_columns(pl.when(pl.col("event_key") == target).then(pl.lit(json.dumps(doc)))
                                        .otherwise(pl.col("document")).alias("document")), d, store.EVENTS)
    for lang, title, named in (("es", "Lote ALTERADO", "Eventos alterados: "), ("en", "Lot TAMPERED", "Altered events: ")):
        card, timeline = _verdict_card(cb, settings, lang)
        assert card.color == "danger" and card.children.children[0].children == title
        assert f"{named}{target}" in _words(card)
        # the timeline marks exactly that event red
        assert _words(timeline).count('"color": "danger"') == 1


def test_verdict_unverifiable_is_neutral_with_the_reason_never_red(cb, trace_settings, tmp_path) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on: the ledger is down
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = trace_settings.replace(ledger_url=f"http://127.0.0.1:{port}/ledger", cache_dir=tmp_path / "cache")
    for lang, title, why in (("es", "Lote sin verificar", "no es señal de alteración"),
                             ("en", "Lot not verified", "no sign of tampering")):
        card, timeline = _verdict_card(cb, settings, lang)
        text = _words(card)
        assert card.color == "secondary" and card.children.children[0].className == "text-secondary"
        assert card.children.children[0].children == title and why in text
        assert "unreachable" in text and f"127.0.0.1:{port}" in text  # the reason itself
        assert "danger" not in text and "ALTERADO" not in text and "TAMPERED" not in text
        assert "danger" not in _words(timeline) and ("sin comprobar" if lang == "es" else "not checked") in _words(timeline)


def test_public_view_names_the_buyers_country_not_the_buyer(cb, trace_settings) -> None:
    """A received shipment's last event happens at the buyer: the public view shows the country there, keeps the
    port abroad (a public place) and drops the buyer's GLN and coordinates."""
    from analytics.traceability.agro_chains import BUYERS
    from analytics.traceability.lots import lookup, lot_view

    d = trace_settings.data_dir
    ref = lookup(d, "AR-LAL-24001")[0]
    full = lot_view(d, ref.gtin, ref.lot)
    at_buyer = [t for t in full.timeline if t["place_kind"] == "buyer"]
    assert at_buyer and all(t["biz_step"] == "receiving" for t in at_buyer)
    public = cb.public_view(full)
    text = json.dumps(public.timeline, default=str)
    assert not any(b[0] in text or b[2] in text for b in BUYERS)
    shown = [t for t in public.timeline if t["event_key"] in {x["event_key"] for x in at_buyer}]
    assert [t["place"] for t in shown] == [t["country"] for t in at_buyer]
    assert all(t["lat"] is None and t["gln"] is None for t in shown)
    ports = [t for t in public.timeline if t["place_kind"] == "port_abroad"]
    assert ports and all(t["place"].startswith("Port of") for t in ports)
