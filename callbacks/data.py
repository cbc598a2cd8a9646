"""Data page callbacks: dataset catalogue and model list."""

from __future__ import annotations

from dash import Input, Output, callback

from analytics.catalog import model_catalog, table_catalog
from callbacks.runtime import runtime
from components import datasets, ids
from components.i18n import normalize_lang


@callback(Output(ids.DATA_TABLES, "children"), Output(ids.DATA_MODELS, "children"),
          Input(ids.LANG_STORE, "data"))
def show_catalog(lang: object):
    lang = normalize_lang(lang)
    data_dir = runtime().settings.data_dir
    return (datasets.tables_view(table_catalog(data_dir), str(data_dir), lang),
            datasets.models_view(model_catalog(data_dir), lang))
