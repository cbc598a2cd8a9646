"""Data page: datasets and models."""

from __future__ import annotations

from typing import Any

import dash_bootstrap_components as dbc
from dash import dcc, html

from components import format as fmt
from components import ids
from components.i18n import current_lang, t
from components.layout import page_header


def layout() -> html.Div:
    lang = current_lang()
    return html.Div([
        page_header(t("data.title", lang)),
        html.H4(t("data.tables", lang)),
        html.Div(id=ids.DATA_TABLES),
        dbc.Accordion(id=ids.DATA_ACCORDION, start_collapsed=True, always_open=True, className="mb-4"),
        html.H4(t("data.models", lang)),
        html.Div(id=ids.DATA_MODELS),
        html.H4(RUNS_TEXT["en" if lang == "en" else "es"]["title"], className="mt-4"),
        dcc.Loading(html.Div(id=ids.DATA_RUNS)),
        upload_section(lang),
    ])


UPLOAD_TEXT = {
    "es": {"title": "Importar DataCo (CSV)", "drop": "Arrastre un CSV de DataCo aquí o haga clic para elegirlo",
           "help": "CSV en UTF-8 o Latin-1, hasta {mb} MB. Reemplaza pedidos, clientes y productos; las filas "
                   "inválidas van a cuarentena. Archivos más grandes: `python app.py import dataco`.",
           "done": "Importado: {a} de {n} filas ({q} en cuarentena).", "refused": "Archivo rechazado: {msg}"},
    "en": {"title": "Import DataCo (CSV)", "drop": "Drop a DataCo CSV here or click to choose one",
           "help": "UTF-8 or Latin-1 CSV, up to {mb} MB. Replaces orders, customers and products; invalid rows "
                   "are quarantined. Larger files: `python app.py import dataco`.",
           "done": "Imported: {a} of {n} rows ({q} quarantined).", "refused": "File refused: {msg}"},
}


RUNS_TEXT = {
    "es": {"title": "Entrenamientos (MLflow)", "run": "Ejecución", "started": "Inicio (UTC)", "status": "Estado",
           "models": "Versiones registradas", "metrics": "Métricas", "live": "en uso",
           "store": "Registro de experimentos: {uri}", "none": "Aún no hay entrenamientos registrados.",
           "error": "No se pudo leer MLflow: {msg}", "live_now": "Versiones en uso: {live}"},
    "en": {"title": "Training runs (MLflow)", "run": "Run", "started": "Started (UTC)", "status": "Status",
           "models": "Registered versions", "metrics": "Metrics", "live": "live",
           "store": "Experiment store: {uri}", "none": "No training runs tracked yet.",
           "error": "Could not read MLflow: {msg}", "live_now": "Live versions: {live}"},
}


def runs_view(tracking: Any, shown_metrics: tuple[str, ...], lang: str) -> html.Div:
    """The training runs MLflow holds (newest first): when, status, the model versions each registered (the live
    ones marked) and the headline metrics. ``tracking`` has ``uri``, ``runs``, ``live`` and ``error``; each run
    ``run_id``, ``started``, ``status``, ``versions``, ``live`` and ``metrics``."""
    tr = RUNS_TEXT["en" if lang == "en" else "es"]
    head = [html.P(tr["store"].format(uri=tracking.uri), className="small text-body-secondary mb-1")]
    if tracking.live:
        head.append(html.P(tr["live_now"].format(live=", ".join(f"{m} v{v}" for m, v in sorted(tracking.live.items()))),
                           className="small mb-1"))
    if tracking.error:
        return html.Div(head + [dbc.Alert(tr["error"].format(msg=tracking.error), color="warning")])
    if not tracking.runs:
        return html.Div(head + [dbc.Alert(tr["none"], color="secondary")])
    rows = []
    for r in tracking.runs:
        versions = [html.Span([f"{m} v{v}", dbc.Badge(tr["live"], color="success", className="ms-1")
                               if m in r.live else None], className="me-2") for m, v in sorted(r.versions.items())]
        metrics = ", ".join(f"{k}={r.metrics[k]:.3f}" for k in shown_metrics if k in r.metrics)
        rows.append(html.Tr([html.Td(html.Code(r.run_id[:12])), html.Td(r.started.replace("T", " ")[:19]),
                             html.Td(r.status), html.Td(versions), html.Td(metrics, className="small")],
                            className="table-success" if r.live else None))
    table = dbc.Table([html.Thead(html.Tr([html.Th(tr[k]) for k in ("run", "started", "status", "models", "metrics")])),
                       html.Tbody(rows)], className="table-compact", size="sm", striped=True, id=ids.DATA_RUNS_TABLE)
    return html.Div(head + [table])


def upload_section(lang: str) -> html.Div:
    """The upload widget; its size limit and help text come from the settings (``upload_limit``, on load)."""
    tr = UPLOAD_TEXT["en" if lang == "en" else "es"]
    return html.Div([
        html.H4(tr["title"], className="mt-4"),
        dcc.Upload(id=ids.DATA_UPLOAD, children=html.Div(tr["drop"]), accept=".csv,.txt,text/csv",
                   multiple=False, className="border border-2 rounded p-4 text-center",
                   style={"borderStyle": "dashed", "cursor": "pointer"}),
        html.P(id=ids.DATA_UPLOAD_HELP, className="small text-body-secondary mt-1"),
        html.Div(id=ids.DATA_UPLOAD_RESULT),
    ])


def upload_limit(max_mb: float, lang: str) -> tuple[int, str]:
    """The upload's limit (``CHASQUI_UPLOAD_MAX_MB``) as the browser's ``max_size`` in bytes and the help text."""
    tr = UPLOAD_TEXT["en" if lang == "en" else "es"]
    return int(max_mb * 1024 * 1024), tr["help"].format(mb=f"{max_mb:g}")


def upload_result(result: dict[str, Any] | None, error: str | None, lang: str) -> html.Div:
    """The import's JSON result (rows_in = imported + quarantined), or why the file was refused (as text)."""
    import json

    tr = UPLOAD_TEXT["en" if lang == "en" else "es"]
    if error is not None:
        return dbc.Alert(tr["refused"].format(msg=error), color="danger", className="mt-2")
    assert result is not None
    ok = not result.get("error")
    summary = tr["done"].format(a=fmt.integer(result.get("imported", 0)), n=fmt.integer(result.get("rows_in", 0)),
                                q=fmt.integer(result.get("quarantined", 0)))
    return dbc.Alert([html.Div(summary if ok else str(result["error"])),
                      html.Pre(json.dumps(result, ensure_ascii=False, indent=1), className="small mb-0")],
                     color="success" if ok else "warning", className="mt-2")


def _schema_table(columns: list[dict[str, Any]], lang: str) -> dbc.Table:
    head = html.Thead(html.Tr([html.Th(t(k, lang)) for k in ("data.column", "data.type", "data.nullable", "data.rule")]
                              + [html.Th("")]))
    body = html.Tbody([html.Tr([html.Td(html.Code(c["column"])), html.Td(c["type"]),
                                html.Td(t("yes" if c["nullable"] else "no", lang)), html.Td(c["rule"]),
                                html.Td(c["doc"], className="text-body-secondary")]) for c in columns])
    return dbc.Table([head, body], className="table-compact", striped=True, size="sm")


def _quarantine_table(rows: list[dict[str, Any]]) -> dbc.Table | None:
    if not rows:
        return None
    keys = ["row_number", "reason"] + [k for k in rows[0] if k not in ("row_number", "reason")][:6]
    return dbc.Table([html.Thead(html.Tr([html.Th(k) for k in keys])),
                      html.Tbody([html.Tr([html.Td(str(r.get(k, ""))) for k in keys]) for r in rows])],
                     className="table-compact", size="sm", striped=True)


def table_details(entry: dict[str, Any], lang: str) -> list[Any]:
    """What an opened table item shows: its description, its columns with their rules, its quarantined rows."""
    body: list[Any] = [html.P(entry["doc"], className="text-body-secondary") if entry["doc"] else None,
                       _schema_table(entry["columns"], lang)]
    q = _quarantine_table(entry["quarantine_sample"])
    if q is not None:
        body += [html.H6(t("data.quarantine_rows", lang)), q]
    return body


def tables_view(catalog: list[dict[str, Any]], data_dir: str, lang: str) -> tuple[html.Div, list[Any]]:
    """The summary of every table, and the accordion's items: one per table, whose body (:func:`table_details`)
    is drawn only when it is opened (every schema drawn at once made the page ~1,300 components, and the browser
    spent 7-9 s of script on them at each visit)."""
    items = []
    for entry in catalog:
        rng = f"{entry['date_min']} → {entry['date_max']}" if entry["date_min"] else "—"
        title = html.Span([html.Strong(entry["table"]), html.Span(f" · {fmt.integer(entry['rows'])} "
                                                                  f"{t('data.rows', lang).lower()} · {rng}"),
                           dbc.Badge(f"{t('data.quarantined', lang)}: {entry['quarantined']}",
                                     color="danger" if entry["quarantined"] else "secondary", className="ms-2")])
        items.append(dbc.AccordionItem(html.Div(id=ids.data_table_body(entry["table"])), title=title,
                                       item_id=entry["table"]))
    summary = dbc.Table(
        [html.Thead(html.Tr([html.Th("Tabla" if lang == "es" else "Table"), html.Th(t("data.rows", lang)),
                             html.Th(t("data.range", lang)), html.Th(t("data.quarantined", lang))])),
         html.Tbody([html.Tr([html.Td(e["table"]), html.Td(fmt.integer(e["rows"]), className="text-end"),
                              html.Td(f"{e['date_min']} → {e['date_max']}" if e["date_min"] else "—"),
                              html.Td(str(e["quarantined"]), className="text-end")]) for e in catalog])],
        className="table-compact", striped=True, hover=True, id=ids.DATA_SUMMARY_TABLE)
    return html.Div([html.P([t("data.dir", lang) + ": ", html.Code(data_dir)], className="small"), summary]), items


def models_view(models: list[dict[str, Any]], lang: str) -> html.Div:
    if not models:
        return dbc.Alert(t("data.no_models", lang), color="secondary")
    rows = []
    for m in models:
        metrics = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in m["metrics"].items())
        rows.append(html.Tr([html.Td(html.Strong(m["model"])), html.Td(m["kind"]), html.Td(metrics),
                             html.Td(str(m.get("created_at") or "—"))]))
    return dbc.Table([html.Thead(html.Tr([html.Th(t(k, lang)) for k in ("data.model", "data.type", "data.metrics",
                                                                       "data.created")])),
                      html.Tbody(rows)], className="table-compact", striped=True, id=ids.DATA_MODELS_TABLE)
