"""Data page callbacks: dataset catalogue and model list."""

from __future__ import annotations

from dash import Input, Output, State, callback

from analytics.catalog import model_catalog, table_catalog
from analytics.security import UploadError, import_dataco_upload
from callbacks.memo import memoized
from callbacks.runtime import runtime
from components import datasets, ids
from components.i18n import normalize_lang


@callback(Output(ids.DATA_TABLES, "children"), Output(ids.DATA_MODELS, "children"),
          Input(ids.LANG_STORE, "data"))
@memoized
def show_catalog(lang: object):
    lang = normalize_lang(lang)
    data_dir = runtime().settings.data_dir
    return (datasets.tables_view(table_catalog(data_dir), str(data_dir), lang),
            datasets.models_view(model_catalog(data_dir), lang))


@callback(Output(ids.DATA_UPLOAD_RESULT, "children"),
          Input(ids.DATA_UPLOAD, "contents"), State(ids.DATA_UPLOAD, "filename"), State(ids.LANG_STORE, "data"),
          prevent_initial_call=True, background=True,
          running=[(Output(ids.DATA_UPLOAD, "disabled"), True, False)])
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
