"""Explicit registration: every callbacks module declares its page and registers on the app it is given; every
output it registers has an owner (the web layer refuses an output without one)."""

from __future__ import annotations

import importlib
import pkgutil

import dill
import pytest
from dash import Dash, DiskcacheManager, Input, Output

import callbacks
from callbacks.registration import OwnerConflict, PageCallbacks, merge
from components import ids
from web.access import ACTION_ROLES, PAGES, OutputOwner

PAGE_MODULES = sorted(m.name for m in pkgutil.iter_modules(callbacks.__path__) if m.name != "registration")


@pytest.fixture()
def app(tmp_path) -> Dash:
    import diskcache

    return Dash(__name__, background_callback_manager=DiskcacheManager(diskcache.Cache(str(tmp_path / "bg"))))


def _output_ids(callback_map_key: str) -> list[str]:
    """The component ids in a callback_map key ("id.prop" or "..id.prop...id2.prop@hash..")."""
    return [part.rsplit(".", 1)[0].split("@")[0] for part in callback_map_key.strip(".").split("...")]


def test_every_callbacks_module_declares_its_page_and_register() -> None:
    assert set(PAGE_MODULES) == {"data", "demand", "live", "logistics", "overview", "scenarios", "segments", "shell",
                                 "sourcing", "traceability"}
    for name in PAGE_MODULES:
        mod = importlib.import_module(f"callbacks.{name}")
        assert hasattr(mod, "PAGE"), f"callbacks.{name} has no PAGE"
        assert mod.PAGE is None or mod.PAGE in PAGES, (name, mod.PAGE)
        assert callable(mod.register)
    assert callbacks.shell.PAGE is None and callbacks.live.PAGE == ids.PATH_OVERVIEW


def test_every_registered_output_has_an_owner(app: Dash) -> None:
    owners = callbacks.register_all(app)
    assert app.callback_map, "register_all registered nothing"
    unowned = {cid for key in app.callback_map for cid in _output_ids(key) if cid not in owners}
    assert not unowned, sorted(unowned)
    assert all(isinstance(o, OutputOwner) and (o.page is None or o.page in PAGES) for o in owners.values())
    # the actions: the DataCo import and the traceability exports, nothing else
    assert {k: (o.page, o.action) for k, o in owners.items() if o.action} == {
        ids.DATA_UPLOAD_RESULT: (ids.PATH_DATA, "data-import"), ids.TRACE_DOWNLOAD: (ids.PATH_TRACEABILITY, "trace-export")}
    assert all(o.action in ACTION_ROLES for o in owners.values() if o.action)
    shell = {ids.LANG_STORE, ids.THEME_STORE, ids.THEME_SWITCH, ids.RELOAD, ids.NAVBAR_COLLAPSE}
    assert {k for k, o in owners.items() if o.page is None} == shell
    # dict ids keyed the way Dash spells them in a request's `output`; progress/running outputs owned too
    assert owners['{"tile":["ALL"],"type":"live-tile-value"}'] == OutputOwner(ids.PATH_OVERVIEW)
    assert owners[ids.SEGMENTS_PROGRESS] == owners[ids.SEGMENTS_CANCEL] == OutputOwner(ids.PATH_SEGMENTS)
    assert owners[ids.DATA_UPLOAD] == OutputOwner(ids.PATH_DATA)  # the upload's `disabled` while it runs


def test_register_all_is_every_module_register(tmp_path) -> None:
    """register_all calls each module's register (a module left out would leave its page without callbacks)."""
    import diskcache

    def fresh(name: str) -> Dash:
        return Dash(name, background_callback_manager=DiskcacheManager(diskcache.Cache(str(tmp_path / name))))

    all_app = fresh("all")
    owners = callbacks.register_all(all_app)
    union: dict[str, OutputOwner] = {}
    n_callbacks = 0
    for name in PAGE_MODULES:
        app = fresh(name)
        mine = importlib.import_module(f"callbacks.{name}").register(app)
        assert mine and len(app.callback_map) > 0, name
        n_callbacks += len(app.callback_map)
        union = merge(union, mine)
    assert union == owners and n_callbacks == len(all_app.callback_map)


def test_registering_twice_on_two_apps_is_independent(tmp_path) -> None:
    """No global registry: each app gets its own callbacks (tests and workers build several apps)."""
    import diskcache
    from dash import _callback

    apps = [Dash(f"a{i}", background_callback_manager=DiskcacheManager(diskcache.Cache(str(tmp_path / str(i)))))
            for i in range(2)]
    for a in apps:
        callbacks.register_all(a)
    assert set(apps[0].callback_map) == set(apps[1].callback_map)
    assert not _callback.GLOBAL_CALLBACK_MAP and not _callback.GLOBAL_CALLBACK_LIST


def test_callback_functions_are_importable_by_module_and_name(app: Dash) -> None:
    """Background jobs run in spawned processes that find the callback by module + name: every registered
    function is its module's attribute, and pickles by reference."""
    callbacks.register_all(app)
    background = []
    for key, spec in app.callback_map.items():
        if "callback" not in spec:
            continue  # clientside
        fn = spec["callback"].__wrapped__
        assert getattr(importlib.import_module(fn.__module__), fn.__name__) is fn, key
        if spec.get("background"):
            background.append(fn.__name__)
            assert dill.loads(dill.dumps(fn)) is fn
    assert sorted(background) == ["import_upload", "replay_episode", "retrain", "scenario_insights", "show_runs",
                                  "update_demand", "update_segments"]


def test_an_output_claimed_by_two_owners_is_refused(app: Dash) -> None:
    def first(_x: object) -> str:
        return ""

    page = PageCallbacks(app, "/a")
    page.callback(first, Output("x", "children"), Output("y", "children"), Input("z", "value"), action="data-import")
    assert page.owners == {"x": OutputOwner("/a", "data-import"), "y": OutputOwner("/a", "data-import")}
    other = PageCallbacks(app, "/b")
    other.callback(first, Output("x", "title"), Input("w", "value"))
    with pytest.raises(OwnerConflict, match="'x'"):
        merge(page.owners, other.owners)


def test_kept_background_results_are_polled_sooner_than_dash_default(app: Dash) -> None:
    """A background callback whose results are kept is answered from the store on its first poll: it is polled
    every MEMO_POLL_MS; background callbacks whose result is read once (imports, retraining) keep Dash's 1 s."""
    from callbacks.registration import MEMO_POLL_MS

    callbacks.register_all(app)
    deps = app._callback_list
    intervals = {d["output"]: d["background"].get("interval") for d in deps if d.get("background")}
    segments = next(out for out in intervals if ids.SEGMENTS_PROGRESS in out or "segments-summary" in out)
    upload = next(out for out in intervals if ids.DATA_UPLOAD_RESULT in out)
    assert intervals[segments] == MEMO_POLL_MS < 1000
    assert intervals[upload] == 1000
