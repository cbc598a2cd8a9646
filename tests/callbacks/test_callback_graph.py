"""Every callback refers only to ids that exist in the app's validation layout (all pages + shell).

Dash reports a missing id only in the browser console ("ID not found in layout"); this catches it
without a browser, for every page at once.
"""

from __future__ import annotations

import json


def _ids(component, found: set[str]) -> None:
    if component is None:
        return
    if isinstance(component, (list, tuple)):
        for c in component:
            _ids(c, found)
        return
    if hasattr(component, "to_plotly_json"):
        cid = getattr(component, "id", None)
        if cid is not None:
            found.add(json.dumps(cid, sort_keys=True) if isinstance(cid, dict) else cid)
        for prop in getattr(component, "_prop_names", []):
            value = getattr(component, prop, None)
            if hasattr(value, "to_plotly_json") or isinstance(value, (list, tuple)):
                _ids(value, found)


def test_every_callback_id_is_in_the_layout(settings, app_factory):
    from components import ids as ids_module

    app = app_factory(settings)
    app.server.test_client().get("/")  # first request sets the server up (validation layout, callbacks)
    found: set[str] = set()
    _ids(app.validation_layout, found)
    missing = set()
    for spec in app.callback_map.values():
        for dep in spec["inputs"] + spec.get("state", []):
            if not dep["id"].startswith("{") and dep["id"] not in found:
                missing.add(("input/state", dep["id"]))
    for key in app.callback_map:
        for part in key.strip(".").split("..."):
            cid = part.rsplit(".", 1)[0].lstrip(".")
            if cid and not cid.startswith("{") and cid not in found:
                missing.add(("output", cid))
    assert not missing, sorted(missing)
    # and every id constant is unique
    values = [v for k, v in vars(ids_module).items() if k.isupper() and isinstance(v, str)]
    assert len(values) == len(set(values))


def _with_class(component, cls: str, found: dict) -> None:
    """id -> component for every component in a tree whose className has ``cls``."""
    if isinstance(component, (list, tuple)):
        for c in component:
            _with_class(c, cls, found)
        return
    if not hasattr(component, "to_plotly_json"):
        return
    if cls in (getattr(component, "className", None) or "").split():
        found[component.id] = component
    for prop in getattr(component, "_prop_names", []):
        value = getattr(component, prop, None)
        if hasattr(value, "to_plotly_json") or isinstance(value, (list, tuple)):
            _with_class(value, cls, found)


def test_every_slow_note_is_shown_while_its_callback_runs(settings, app_factory):
    """A slow note (what a long first computation is doing) starts hidden and is shown by the ``running=`` of the
    callback that does the computation: the Overview's query and the Scenarios simulation."""
    from components import ids
    from components.layout import SLOW_NOTE_HIDDEN, SLOW_NOTE_SHOWN

    app = app_factory(settings)
    app.server.test_client().get("/")
    notes: dict = {}
    _with_class(app.validation_layout, "chasqui-slow-note", notes)
    assert set(notes) == {ids.OVERVIEW_SLOW, ids.SCENARIOS_SLOW}
    assert all(n.className == SLOW_NOTE_HIDDEN for n in notes.values())
    shown_by = {}
    for spec in app._callback_list:
        for target, value in (spec.get("running") or {}).get("running", {}).items():
            if target.rsplit(".", 1)[0] in notes:
                assert value == SLOW_NOTE_SHOWN and target.endswith(".className")
                assert spec["running"]["runningOff"][target] == SLOW_NOTE_HIDDEN
                shown_by[target.rsplit(".", 1)[0]] = spec["output"]
    assert ids.OVERVIEW_KPIS in shown_by.get(ids.OVERVIEW_SLOW, "")
    assert ids.SCENARIOS_RESULT in shown_by.get(ids.SCENARIOS_SLOW, "")
