"""Hostile inputs: script and HTML in every URL parameter and free-text field, forged callback requests
(unknown ids, wrongly typed values, malformed bodies), oversized and malformed uploads.

Nothing may come back as a stack trace or a 500, and nothing data-derived may render as raw HTML.
"""

from __future__ import annotations

import base64
import inspect
import json
import shutil
from typing import Any

import dash
import pytest

from tests.conftest import ROOT
from tests.fixtures.web import forged_body


class _PlotlyJSON(json.JSONEncoder):
    def default(self, o: Any) -> Any:
        import plotly.io as pio

        return json.loads(pio.to_json(o)) if hasattr(o, "to_plotly_json") else str(o)

XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'
JS_URL = "javascript:alert(document.cookie)"
HOSTILE_NAME = "<img src=x onerror=alert(1)>.xlsx"  # no "/", so it survives as the upload's base name
HOSTILE_VALUES = [XSS, JS_URL, 12345, -1, 1e308, None, True, [XSS, 3], {"a": XSS, "k": [1]}, "", "ñ" * 5000]
URL_FIELDS = ("href", "src", "action", "formAction", "srcDoc")


def _raw_html_findings(node: Any, path: str = "") -> list[str]:
    """Places in a (JSON) component tree where HTML or script could run: dangerously_allow_html,
    iframes with srcDoc, and javascript: URLs in link-like props."""
    out: list[str] = []
    if isinstance(node, dict):
        props = node.get("props") if "type" in node and isinstance(node.get("props"), dict) else None
        if props is not None:
            kind = f"{node.get('namespace')}.{node['type']}"
            if props.get("dangerously_allow_html"):
                out.append(f"{path}: {kind} with dangerously_allow_html")
            if node["type"] in ("Iframe", "ObjectEl", "Embed", "Script") and (props.get("srcDoc") or props.get("src")):
                out.append(f"{path}: {kind} embeds content")
            for key in URL_FIELDS:
                v = props.get(key)
                if isinstance(v, str) and v.strip().lower().replace("\t", "").startswith(("javascript:", "vbscript:")):
                    out.append(f"{path}: {kind}.{key} = {v[:40]}")
        for k, v in node.items():
            out += _raw_html_findings(v, f"{path}/{k}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _raw_html_findings(v, f"{path}[{i}]")
    return out


def _tree(component: Any) -> Any:
    return json.loads(json.dumps(component, cls=__import__("plotly").utils.PlotlyJSONEncoder))


def test_detector_finds_raw_html():
    from dash import dcc, html

    bad = html.Div([dcc.Markdown(XSS, dangerously_allow_html=True), html.A("x", href=" JavaScript:alert(1)"),
                    html.Iframe(srcDoc=XSS)])
    assert len(_raw_html_findings(_tree(bad))) == 3
    assert _raw_html_findings(_tree(html.Div([html.A(XSS, href="/traceability?lot=1"), dcc.Markdown(XSS)]))) == []


def test_every_page_layout_with_hostile_url_parameters(open_app):
    pages = list(dash.page_registry.values())
    assert {p["path"] for p in pages} >= {"/", "/logistics", "/segments", "/scenarios", "/traceability",
                                          "/sourcing", "/data"}
    checked = 0
    for page in pages:
        layout = page["layout"]
        params = [p for p in inspect.signature(layout).parameters.values()
                  if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        for value in (XSS, JS_URL, "%3Cscript%3E", "../../etc/passwd", "9" * 400, "-1,<b>,2024-99-99"):
            kwargs = {p.name: value for p in params}
            kwargs.update({"<script>": value, "onload": value, "w": value, "k": value, "lot": value})
            with open_app.server.test_request_context(page["path"], headers={"Cookie": "chasqui_lang=<b>"}):
                tree = _tree(layout(**kwargs))
            assert _raw_html_findings(tree) == [], (page["path"], value)
            checked += 1
    assert checked == 6 * len(pages)


def _deps(app):
    return app.server.test_client().get("/_dash-dependencies").get_json()


def test_forged_callbacks_with_wrongly_typed_values(open_app):
    """Every server callback, every input and state set to each hostile value: no 500, no traceback,
    no raw HTML in what comes back."""
    c = open_app.server.test_client()
    deps = [d for d in _deps(open_app) if not d.get("clientside_function")]
    tried = 0
    skipped_background = []
    for dep in deps:
        if dep.get("background"):
            skipped_background.append(dep["output"])  # they start worker processes: called directly below
            continue
        for value in HOSTILE_VALUES:
            r = c.post("/_dash-update-component", json=forged_body(dep, value))
            text = r.get_data(as_text=True)
            assert r.status_code < 500, (dep["output"][:80], repr(value)[:40], r.status_code)
            assert "Traceback" not in text and 'File "' not in text, dep["output"][:80]
            if r.status_code == 200:
                assert _raw_html_findings(r.get_json()) == [], (dep["output"][:80], repr(value)[:40])
            tried += 1
    assert tried >= 25 * len(HOSTILE_VALUES)
    # background callbacks start worker processes: each is named here and fed hostile values directly (below, or
    # import_upload in the upload tests); a new one must be added to both
    skipped = {inspect.unwrap(open_app.callback_map[out]["callback"]).__name__ for out in skipped_background}
    assert skipped == BACKGROUND_CALLED_DIRECTLY


@pytest.mark.parametrize("body", [
    b"{", b"[]", b'"x"', b"null",
    json.dumps({"output": "nope.children", "outputs": {"id": "nope", "property": "children"}, "inputs": []}).encode(),
    json.dumps({"output": "<script>.children", "outputs": {"id": "<script>", "property": "children"},
                "inputs": [], "state": []}).encode(),
    json.dumps({"output": "shell-navbar-collapse.is_open", "outputs": {"id": "shell-navbar-collapse",
                "property": "is_open"}, "inputs": "x"}).encode(),
    json.dumps({"output": "shell-navbar-collapse.is_open", "outputs": 5, "inputs": []}).encode(),
    json.dumps({"output": ".._pages_content.children..._pages_store.data..",
                "outputs": [{"id": "_pages_content", "property": "children"}, {"id": "_pages_store", "property": "data"}],
                "inputs": [{"id": "_pages_location", "property": "pathname", "value": {"a": 1}},
                           {"id": "_pages_location", "property": "search", "value": 3}], "state": []}).encode(),
])
def test_forged_requests_with_unknown_ids_or_malformed_bodies(open_app, body):
    r = open_app.server.test_client().post("/_dash-update-component", data=body, content_type="application/json")
    assert r.status_code == 400
    err = r.get_json()["error"]
    assert err and "Traceback" not in err and "<script>" not in err


def test_page_router_with_hostile_paths(open_app):
    c = open_app.server.test_client()
    router = next(d for d in _deps(open_app) if "_pages_content" in d["output"])
    for path in (XSS, "/../../etc/passwd", "/" + "a" * 1500, "/logistics?carrier=" + XSS, "//evil.example"):
        body = forged_body(router, "")
        body["inputs"][0]["value"] = path
        body["inputs"][1]["value"] = "?lot=" + XSS
        r = c.post("/_dash-update-component", json=body)
        assert r.status_code in (200, 400), path[:40]
        if r.status_code == 400:  # not a path under the app's prefix
            assert path[0] != "/" and "must be a path" in r.get_json()["error"]
        else:
            assert _raw_html_findings(r.get_json()) == []
    # scanning made-up paths adds no metric label values
    for i in range(5):
        assert c.get(f"/wp-admin/{i}.php").status_code in (200, 404)  # Dash serves its index for any path
    text = c.get("/metrics").get_data(as_text=True)
    assert "wp-admin" not in text and 'path="other"' in text


BACKGROUND_CALLED_DIRECTLY = {"import_upload", "replay_episode", "retrain", "scenario_insights", "show_runs",
                              "update_demand", "update_segments"}


def _refused_or_empty(fn, *args) -> None:
    """``fn(*args)`` either refuses the input with the callback's own input error or returns; never anything else."""
    from analytics.segments.features import SegmentInputError
    from callbacks.demand import DemandInputError

    try:
        fn(*args)
    except (DemandInputError, SegmentInputError):
        pass


def test_background_callbacks_called_directly_with_hostile_values(rt):
    from dash.exceptions import PreventUpdate

    from callbacks import data, demand, logistics, scenarios, segments

    for value in HOSTILE_VALUES:
        fig, text = scenarios.scenario_insights(lambda *_: None, value, value, value)
        assert text == "" and not fig.data
        replay = scenarios.replay_episode(value, value, value, value)
        assert _raw_html_findings(json.loads(json.dumps(replay, cls=_PlotlyJSON))) == []
        assert _raw_html_findings(json.loads(json.dumps(data.show_runs(value), cls=_PlotlyJSON))) == []
        # a hostile click count never retrains: only a truthy one does (a real click), which is the button's job
        if not value:
            assert logistics.retrain(lambda *_: None, value, value, value) == (dash.no_update, dash.no_update)
        # the heavy jobs (segmentation, forecast) run only after their inputs pass these checks
        _refused_or_empty(segments.parse_params, value, value, value, value)
        _refused_or_empty(segments.parse_date, value)
        _refused_or_empty(demand.parse_controls, value, value, value)
        _refused_or_empty(demand.custom_scenario, value)
        assert demand.read_upload(value, value)[0] is None  # refused, with its reason, or nothing uploaded
        assert demand._choose([("DC-LIM", "hogar"), ("DC-ARE", "moda")], value, value) in (
            ("DC-ARE", "moda"), ("DC-LIM", "hogar"))
        picked = demand.select_series(value, value, value, value)
        assert all(v is None or v is dash.no_update or isinstance(v, str) for v in picked)
        try:
            out = demand.update_demand(lambda *_: None, value, value, value, value, value, value, value, value,
                                       value, value) if value not in ("", None) else None
        except PreventUpdate:
            out = None
        if out is not None:  # every hostile control value is refused before any forecast runs
            assert out[1] is not None and out[0] == ""
        args = [1] + [value] * 7
        if next(iter(inspect.signature(logistics.export_csv).parameters)) == "set_progress":
            args.insert(0, lambda *_: None)  # while it was a background callback
        out = logistics.export_csv(*args)
        assert out is dash.no_update or (isinstance(out, dict) and "content" in out)


# --------------------------------------------------------------------------- uploads on the Data page


def _upload(data: bytes, mime: str = "text/csv") -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode()


@pytest.fixture()
def upload_rt(writable_demo_dir, tmp_path):
    from web.runtime import configure
    from web.settings import Settings

    return configure(Settings(data_dir=writable_demo_dir, live=False, demo_feed=False, cache_dir=tmp_path / "c",
                              upload_max_mb=0.05))


def test_upload_refuses_oversized_wrong_type_binary_and_malformed(upload_rt):
    from analytics import storage
    from callbacks.data import import_upload

    before = storage.load_table(upload_rt.settings.data_dir, "orders").frame.height
    cases = [
        (_upload(b"a,b\n" * 20_000), "big.csv", "too large"),
        (_upload(b"PK\x03\x04\x14\x00\x06\x00"), "orders.csv", "binary"),
        (_upload(b"a,b\n"), "orders.xlsx", "only CSV"),
        (_upload(b"a,b\n"), HOSTILE_NAME, HOSTILE_NAME),  # the refusal quotes the name back
        (_upload(b"a,b\n", "text/html"), "orders.csv", "not CSV text"),
        (_upload(XSS.encode(), "image/svg+xml"), XSS + ".csv", "not CSV text"),
        ("data:text/csv;base64,%%%", "orders.csv", "not valid base64"),
        (12345, "orders.csv", "no file"),
        (_upload(b"a,b\n"), {"name": "x"}, "no file"),
    ]
    for contents, name, msg in cases:
        tree = _tree(import_upload(contents, name, "en"))
        shown = tree["props"]["children"]
        # one plain text child of the alert, which React renders as text, never as markup
        assert tree["type"] == "Alert" and isinstance(shown, str), (name[:30], tree)
        assert "File refused" in shown and msg in shown, (name[:30], shown[:200])
        assert "&lt;" not in shown and "&gt;" not in shown  # verbatim, not escaped by hand for an HTML sink
        assert _raw_html_findings(tree) == []
    after = storage.load_table(upload_rt.settings.data_dir, "orders").frame.height
    assert after == before  # nothing was imported or lost


def test_upload_imports_dataco_with_quarantine(upload_rt):
    from pathlib import Path

    from analytics import storage
    from callbacks.data import import_upload

    sample = ROOT / "data" / "fixtures" / "dataco_sample.csv"
    raw = sample.read_bytes()
    lines = raw.decode("utf-8").splitlines()
    hostile = lines[1].split(",")
    hostile[lines[0].split(",").index("Order City")] = "<b>x</b>"
    hostile[lines[0].split(",").index("Order Item Quantity")] = "<script>"  # → quarantined
    data = ("\n".join(lines + [",".join(hostile)]) + "\n").encode("latin-1", errors="replace")
    out = import_upload(_upload(data), "DataCoSupplyChainDataset.csv", "es")
    pre = json.loads(next(c for c in _iter_children(_tree(out)) if isinstance(c, str) and c.startswith("{")))
    assert pre["rows_in"] == len(lines)  # header + rows - header + the hostile row
    assert pre["imported"] + pre["quarantined"] == pre["rows_in"]
    assert pre["quarantined"] >= 1 and pre["encoding"] in ("utf-8", "latin-1")
    assert pre["file"] == "DataCoSupplyChainDataset.csv"
    orders = storage.load_table(upload_rt.settings.data_dir, "orders").frame
    assert orders.height == pre["imported"]
    assert not Path(pre["quarantine_file"]).is_absolute()  # the visitor is not shown the server's paths
    q = (Path(upload_rt.settings.data_dir) / pre["quarantine_file"]).read_text(encoding="utf-8")
    assert "Order Item Quantity" in q
    leftovers = list(Path(upload_rt.settings.data_dir).glob(".upload-*"))
    assert leftovers == []
    shutil.rmtree(upload_rt.settings.data_dir, ignore_errors=True)


def _iter_children(node: Any):
    if isinstance(node, dict):
        for v in node.values():
            yield from _iter_children(v)
    elif isinstance(node, list):
        for v in node:
            yield from _iter_children(v)
    else:
        yield node
