"""Data page callbacks: dataset catalogue (a table's schema and quarantined rows drawn when its item is opened)
and model list, the training runs (MLflow), the upload limit, the DataCo upload (an action)."""

from __future__ import annotations

from dash import ALL, Dash, Input, Output, State

from analytics.data_inventory import model_catalog, table_catalog
from callbacks.registration import PageCallbacks
from components import datasets, ids
from components.i18n import normalize_lang
from web.access import OutputOwner
from web.jobs import memo_background, memoized
from web.runtime import runtime
from web.uploads import UploadError, import_dataco_upload

PAGE: str | None = ids.PATH_DATA
ACTION_IMPORT = "data-import"  # replaces the orders table: needs a role allowed to import (web.access)


@memoized
def show_catalog(lang: object):
    lang = normalize_lang(lang)
    data_dir = runtime().settings.data_dir
    summary, items = datasets.tables_view(table_catalog(data_dir), str(data_dir), lang)
    return summary, items, None, datasets.models_view(model_catalog(data_dir), lang)


@memo_background
def show_runs(lang: object):
    """The training runs MLflow holds and the live model versions. A background job: MLflow is imported there,
    never in the web process (it pulls in pyspark when it can)."""
    from analytics.experiments import SHOWN_METRICS, list_runs

    settings = runtime().settings
    return datasets.runs_view(list_runs(settings.data_dir, settings.mlflow_uri), SHOWN_METRICS, normalize_lang(lang))


def show_table_details(active: object, lang: object, bodies: object) -> list[object]:
    """The body of every table item on the Data page: the opened ones drawn, the closed ones emptied (the page
    keeps only what is on screen)."""
    lang = normalize_lang(lang)
    if isinstance(active, str):
        opened = {active}
    else:
        opened = {a for a in active if isinstance(a, str)} if isinstance(active, list) else set()
    names = [b.get("table") if isinstance(b, dict) else None for b in (bodies if isinstance(bodies, list) else [])]
    wanted = opened.intersection(n for n in names if isinstance(n, str))
    found = {e["table"]: e for e in table_catalog(runtime().settings.data_dir, wanted)} if wanted else {}
    return [datasets.table_details(found[n], lang) if n in found else None for n in names]


def upload_limit(lang: object) -> tuple[int, str]:
    """The upload's size limit in the browser and its help text, from the settings (``CHASQUI_UPLOAD_MAX_MB``)."""
    return datasets.upload_limit(runtime().settings.upload_max_mb, normalize_lang(lang))


def import_upload(contents: object, filename: object, lang: object):
    """A DataCo CSV dropped on the Data page: checked (type, size, encoding), then imported with quarantine."""
    lang = normalize_lang(lang)
    settings = runtime().settings
    try:
        result = import_dataco_upload(contents, filename, settings.data_dir,
                                      int(settings.upload_max_mb * 1024 * 1024))
    except UploadError as exc:
        return datasets.upload_result(None, str(exc), lang)
    return datasets.upload_result(result, None, lang)


def register(app: Dash) -> dict[str, OutputOwner]:
    """The Data page's callbacks on ``app``; returns the owner of every output."""
    cb = PageCallbacks(app, PAGE)
    cb.callback(show_catalog, Output(ids.DATA_TABLES, "children"), Output(ids.DATA_ACCORDION, "children"),
                Output(ids.DATA_ACCORDION, "active_item"), Output(ids.DATA_MODELS, "children"),
                Input(ids.LANG_STORE, "data"))
    cb.callback(show_table_details, Output(ids.data_table_body(ALL), "children"),
                Input(ids.DATA_ACCORDION, "active_item"), State(ids.LANG_STORE, "data"),
                State(ids.data_table_body(ALL), "id"), prevent_initial_call=True)
    cb.callback(show_runs, Output(ids.DATA_RUNS, "children"), Input(ids.LANG_STORE, "data"), background=True)
    cb.callback(upload_limit, Output(ids.DATA_UPLOAD, "max_size"), Output(ids.DATA_UPLOAD_HELP, "children"),
                Input(ids.LANG_STORE, "data"))
    cb.callback(import_upload, Output(ids.DATA_UPLOAD_RESULT, "children"),
                Input(ids.DATA_UPLOAD, "contents"), State(ids.DATA_UPLOAD, "filename"), State(ids.LANG_STORE, "data"),
                prevent_initial_call=True, background=True,
                running=[(Output(ids.DATA_UPLOAD, "disabled"), True, False)], action=ACTION_IMPORT)
    return cb.owners
