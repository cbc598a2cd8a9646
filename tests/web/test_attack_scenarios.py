"""Saved scenarios have an owner and a per-user limit: one user cannot fill the data folder with saves (300
were accepted), see or overwrite another user's saved scenarios."""

from __future__ import annotations

import pytest

from components import ids
from tests.fixtures.web import basic

LIMIT = 20  # analytics.scenarios.planner.MAX_SAVED_PER_OWNER


@pytest.fixture(scope="module")
def scen_app(settings, users_file, tmp_path_factory):
    """Sign-in on, over a copy of the demo data (saving writes DATA_DIR/scenarios/saved.json)."""
    import shutil

    import app as appmod

    data = tmp_path_factory.mktemp("scen") / "data"
    shutil.copytree(settings.data_dir, data, ignore=shutil.ignore_patterns(".cache"))
    return appmod.create_app(settings.replace(data_dir=data, auth_file=users_file,
                                              cache_dir=tmp_path_factory.mktemp("scen-cache")), start_live=False)


def _dep(app, output: str) -> dict:
    deps = app.server.test_client().get("/_dash-dependencies").get_json()
    return next(d for d in deps if output in d["output"] and not d.get("clientside_function"))


def _body(dep: dict, values: dict) -> dict:
    outs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in dep["output"].strip(".").split("...")]
    return {"output": dep["output"], "outputs": outs if dep["output"].startswith("..") else outs[0],
            "inputs": [{**i, "value": values.get(i["id"])} for i in dep["inputs"]],
            "state": [{**s, "value": values.get(s["id"])} for s in dep["state"]], "changedPropIds": []}


@pytest.fixture(scope="module")
def result(scen_app) -> dict:
    """A real scenario result (what the page keeps in its store), computed by the page's own callback."""
    dep = _dep(scen_app, ids.SCENARIOS_RESULT + ".data")
    r = scen_app.server.test_client().post("/_dash-update-component", headers=basic("ana"), json=_body(
        dep, {ids.SCENARIOS_BLOCK_DAYS: 3, ids.LANG_STORE: "en", ids.SCENARIOS_HORIZON: 8}))
    assert r.status_code == 200
    return r.get_json()["response"][ids.SCENARIOS_RESULT]["data"]


def _save(app, user: str, name: str, result: dict) -> tuple[list[str], str]:
    """Save under ``name`` as ``user``: (names the user's list shows, status text)."""
    dep = _dep(app, ids.SCENARIOS_SAVED + ".options")
    r = app.server.test_client().post("/_dash-update-component", headers=basic(user), json=_body(
        dep, {ids.SCENARIOS_SAVE_BTN: 1, ids.SCENARIOS_SAVE_NAME: name, ids.SCENARIOS_RESULT: result,
              ids.LANG_STORE: "en"}))
    assert r.status_code == 200
    out = r.get_json()["response"]
    names = [o["value"] for o in out.get(ids.SCENARIOS_SAVED, {}).get("options", [])]
    return names, str(out.get(ids.SCENARIOS_STATUS, {}).get("children", ""))


def test_each_user_keeps_at_most_the_limit_of_saved_scenarios(scen_app, result):
    for i in range(LIMIT):
        names, status = _save(scen_app, "ana", f"ana-{i:02d}", result)
        assert f"ana-{i:02d}" in names, status
    names, status = _save(scen_app, "ana", "one-too-many", result)
    assert "one-too-many" not in names and f"at most {LIMIT}" in status
    names, _ = _save(scen_app, "ana", "ana-05", result)  # overwriting one of hers is still fine
    assert len(names) == LIMIT
    import json

    from analytics.datadir import DataDir

    stored = json.loads(DataDir(scen_app.server.config["CHASQUI_SETTINGS"].data_dir).saved_scenarios.read_text())
    assert len(stored) == LIMIT and {v["owner"] for v in stored.values()} == {"user:ana"}  # nothing else stored


def test_users_neither_see_nor_overwrite_each_others_scenarios(scen_app, result):
    theirs = "ana-00"  # saved (or, at her limit, overwritten) by ana
    names, _ = _save(scen_app, "ana", theirs, result)
    assert theirs in names
    names, status = _save(scen_app, "luis", theirs, result)
    assert "belongs to another user" in status and theirs not in names
    names, status = _save(scen_app, "luis", "luis-plan", result)
    assert names == ["luis-plan"]  # only his own
    compare = _dep(scen_app, ids.SCENARIOS_COMPARE_FIG + ".figure")
    r = scen_app.server.test_client().post("/_dash-update-component", headers=basic("luis"), json=_body(
        compare, {ids.SCENARIOS_SAVED: [theirs, "luis-plan"], ids.LANG_STORE: "en"}))
    fig = r.get_json()["response"][ids.SCENARIOS_COMPARE_FIG]["figure"]
    shown = {trace.get("name") for trace in fig["data"]}  # one bar per compared scenario, named after it
    assert "luis-plan" in shown and theirs not in shown  # another user's name compares to nothing
