"""Hostile requests that used to get a 500 (and a traceback in the log per anonymous request), public-path
checks that matched prefixes, and absolute paths shown to anonymous visitors: each test sends the attack."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import pytest

from tests.conftest import ROOT
from tests.fixtures.web import basic, forged_body


def _deps(app):
    return app.server.test_client().get("/_dash-dependencies").get_json()


def _no_errors_logged(caplog) -> None:
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert bad == [], [r.getMessage()[:200] for r in bad]


# --------------------------------------------------------------------------- 500 → 400


@pytest.mark.parametrize("depth", [1000, 5000, 50_000])
def test_deeply_nested_json_gets_400_not_a_recursion_error(open_app, caplog, depth):
    c = open_app.server.test_client()
    nested = "[" * depth + "]" * depth
    for raw in (nested, '{"output": "shell-navbar-collapse.is_open", "inputs": ' + nested + "}"):
        r = c.post("/_dash-update-component", data=raw, content_type="application/json")
        assert r.status_code == 400, r.status_code
        assert "nested too deeply" in r.get_json()["error"]
    _no_errors_logged(caplog)


def test_dash_own_bodies_stay_well_inside_the_depth_limit(open_app):
    """The limit must not refuse the renderer's real requests: a component tree sent as a State value nests
    ~3 levels per component; the deepest layout of any page, sent whole, still passes."""
    import dash

    from web.access import MAX_JSON_DEPTH, json_depth

    deepest = 0
    for page in dash.page_registry.values():
        with open_app.server.test_request_context(page["path"]):
            tree = json.loads(json.dumps(page["layout"](), cls=__import__("plotly").utils.PlotlyJSONEncoder))
        deepest = max(deepest, json_depth(tree) + 4)  # + body, state list, entry, value
    assert deepest < MAX_JSON_DEPTH


NON_FINITE = ["Infinity", "-Infinity", "NaN", "1e400", "-1e999", "9" * 400]


def _scenarios_deps(app) -> list[dict]:
    return [d for d in _deps(app) if not d.get("clientside_function") and not d.get("background")
            and any(str(i["id"]).startswith("scenarios-") for i in d["inputs"] + d["state"])]


@pytest.mark.parametrize("number", NON_FINITE)
def test_infinity_in_scenarios_controls_and_result_store_gets_400(open_app, caplog, number):
    c = open_app.server.test_client()
    deps = _scenarios_deps(open_app)
    assert len(deps) >= 4
    for dep in deps:
        body = json.dumps(forged_body(dep, "__N__")).replace('"__N__"', number)
        r = c.post("/_dash-update-component", data=body, content_type="application/json")
        assert r.status_code == 400, (dep["output"][:60], number, r.status_code)
        assert "not valid JSON" in r.get_json()["error"] or "nested" in r.get_json()["error"]
    # a result store whose bands hold such a number (what a forged or corrupted store sends)
    store = {"inputs": {"blockade_days": 3}, "baseline": {"late_rate": {"p10": "__N__"}}}
    for dep in deps:
        if not any(s["id"] == "scenarios-result" for s in dep["inputs"] + dep["state"]):
            continue
        body = forged_body(dep, 1)
        for item in body["inputs"] + body["state"]:
            if item["id"] == "scenarios-result":
                item["value"] = store
        raw = json.dumps(body).replace('"__N__"', number)
        r = c.post("/_dash-update-component", data=raw, content_type="application/json")
        assert r.status_code == 400, (dep["output"][:60], number)
    _no_errors_logged(caplog)


def test_malformed_scenarios_result_store_is_answered_without_a_500(open_app, caplog):
    c = open_app.server.test_client()
    shapes = [{"x": 1}, [1, 2], "text", {"inputs": {"blockade_days": 10**12}, "baseline": {}},
              {"inputs": {"horizon_weeks": "many"}, "meta": {"as_of": "9999-99-99"}}, {"inputs": [None] * 50}]
    sent = 0
    for dep in _scenarios_deps(open_app):
        if not any(s["id"] == "scenarios-result" for s in dep["inputs"] + dep["state"]):
            continue
        for shape in shapes:
            body = forged_body(dep, 1)
            for item in body["inputs"] + body["state"]:
                if item["id"] == "scenarios-result":
                    item["value"] = shape
            r = c.post("/_dash-update-component", json=body)
            assert r.status_code in (200, 204), (dep["output"][:60], shape, r.status_code)
            sent += 1
    assert sent >= 2 * len(shapes)
    _no_errors_logged(caplog)


@pytest.mark.parametrize("path", [
    "/_dash-component-suites/../../etc/passwd", "/_dash-component-suites/nopkg/x.js",
    "/_dash-component-suites/dash/deps/../../app.py", "/_dash-component-suites/dash/x.v1.2.3m4.css.map",
    "/_dash-component-suites/plotly/%2e%2e/%2e%2e/web/settings.py",
])
def test_bad_component_suite_paths_get_404_without_a_traceback(open_app, auth_app, caplog, path):
    for app in (open_app, auth_app):
        r = app.server.test_client().get(path)
        assert r.status_code in (401, 404), (path, r.status_code)
        assert b"Traceback" not in r.data and b"Registered libraries" not in r.data
    _no_errors_logged(caplog)
    real = next(s for s in open_app.server.test_client().get("/").get_data(as_text=True).split('"')
                if s.startswith("/_dash-component-suites/dash/deps/react@"))
    assert open_app.server.test_client().get(real).status_code == 200  # real assets still load


def test_deeply_nested_epcis_import_is_refused_with_a_message(settings, tmp_path):
    doc = tmp_path / "deep.json"
    doc.write_text('{"a":' * 5000 + "1" + "}" * 5000)
    data = tmp_path / "data"
    data.mkdir()
    r = subprocess.run([sys.executable, "app.py", "import", "epcis", str(doc), "--data-dir", str(data)], cwd=ROOT,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert "nested too deeply" in r.stderr and "Traceback" not in r.stderr


# --------------------------------------------------------------------------- public paths and what they show


@pytest.mark.parametrize("path", ["/healthzX", "/healthz/../logistics", "/healthz/", "/assets/../logistics",
                                  "/assets//x", "/_dash-layoutX", "/_dash-component-suitesX/a/b.js",
                                  "/ledger/../logistics", "/_dash-layout/../../data"])
def test_lookalikes_of_public_paths_are_not_public(auth_app, path):
    r = auth_app.server.test_client().get(path)
    assert r.status_code == 401, (path, r.status_code)
    assert b"<html" not in r.data.lower()  # not the app's shell


def test_real_public_paths_still_open(auth_app):
    c = auth_app.server.test_client()
    for path in ("/healthz", "/assets/chasqui.css", "/_dash-layout", "/_dash-dependencies", "/traceability"):
        assert c.get(path).status_code == 200, path
    assert c.get("/logistics", headers=basic("luis")).status_code == 200


def test_public_health_check_shows_no_file_paths(open_app, settings):
    r = open_app.server.test_client().get("/healthz")
    assert r.status_code in (200, 503)
    body = r.get_json()
    assert body["status"] == "ok" and "engine" in body
    text = r.get_data(as_text=True)
    assert str(settings.data_dir) not in text and "data_dir" not in body and "/" not in json.dumps(body)
