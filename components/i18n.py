"""Spanish (es-PE, default) and English strings. Page modules keep their own TEXT tables and use
``translator``; shared strings live in CORE."""

from __future__ import annotations

from collections.abc import Callable, Mapping

LANGS = ("es", "en")
DEFAULT_LANG = "es"
COOKIE = "chasqui_lang"

CORE: dict[str, dict[str, str]] = {
    "es": {
        "app.title": "Chasqui · Torre de control",
        "app.tagline": "Torre de control de la cadena de suministro peruana",
        "nav.overview": "Resumen", "nav.logistics": "Logística", "nav.segments": "Segmentos",
        "nav.scenarios": "Escenarios", "nav.traceability": "Trazabilidad", "nav.sourcing": "Abastecimiento",
        "nav.demand": "Demanda",
        "nav.data": "Datos",
        "theme.light": "Claro", "theme.dark": "Oscuro", "lang.label": "Idioma",
        "kpi.orders": "Pedidos", "kpi.revenue": "Ingresos", "kpi.on_time": "A tiempo",
        "kpi.avg_days": "Días promedio de entrega", "kpi.late_rate": "Tasa de retraso",
        "overview.title": "Resumen", "overview.dates": "Rango de fechas",
        "overview.from": "Desde", "overview.to": "Hasta", "common.date": "Fecha",
        "common.computing": "Calculando…",
        "overview.trend": "Ingresos y tasa de retraso por mes", "overview.regions": "Ingresos y retraso por región",
        "overview.regions_other": "Ingresos y retraso por región/país (datos importados)",
        "overview.live": "En vivo", "overview.nodata": "No hay datos en este rango de fechas.",
        "overview.missing": "Aún no hay datos. Ejecute `make run` o `python app.py generate`.",
        "axis.month": "Mes", "axis.orders": "Pedidos", "axis.revenue": "Ingresos (S/)",
        "axis.late_rate": "Tasa de retraso", "axis.region": "Región",
        "data.title": "Datos", "data.tables": "Conjuntos de datos", "data.models": "Modelos entrenados",
        "data.rows": "Filas", "data.range": "Rango de fechas", "data.quarantined": "En cuarentena",
        "data.schema": "Esquema", "data.column": "Columna", "data.type": "Tipo", "data.rule": "Regla",
        "data.nullable": "Admite nulos", "data.no_models": "Aún no hay modelos. Ejecute `python app.py train`.",
        "data.model": "Modelo", "data.metrics": "Métricas", "data.created": "Creado",
        "data.quarantine_rows": "Filas en cuarentena (primeras 20)", "data.dir": "Carpeta de datos",
        "nav.signout": "Cerrar sesión", "nav.roles": "Roles: {roles}",
        "role.logistics": "logística", "role.marketing": "marketing", "role.executive": "gerencia",
        "role.traceability-admin": "admin. de trazabilidad",
        "error.generic": "No se pudo completar la consulta: {msg}",
        "jobs.busy": "El servidor está ocupado con otros cálculos ({n} en curso o en espera). No se inició este; "
                     "vuelva a intentarlo en unos segundos.",
        "jobs.busy_user": "Ya tiene {n} cálculos en curso o en espera. Espere a que terminen (o cancele uno) y "
                          "vuelva a intentarlo.",
        "yes": "sí", "no": "no",
    },
    "en": {
        "app.title": "Chasqui · Control tower",
        "app.tagline": "Control tower for Peruvian supply chains",
        "nav.overview": "Overview", "nav.logistics": "Logistics", "nav.segments": "Segments",
        "nav.scenarios": "Scenarios", "nav.traceability": "Traceability", "nav.sourcing": "Sourcing",
        "nav.demand": "Demand",
        "nav.data": "Data",
        "theme.light": "Light", "theme.dark": "Dark", "lang.label": "Language",
        "kpi.orders": "Orders", "kpi.revenue": "Revenue", "kpi.on_time": "On time",
        "kpi.avg_days": "Average delivery days", "kpi.late_rate": "Late rate",
        "overview.title": "Overview", "overview.dates": "Date range",
        "overview.from": "From", "overview.to": "To", "common.date": "Date",
        "common.computing": "Computing…",
        "overview.trend": "Revenue and late rate by month", "overview.regions": "Revenue and late rate by region",
        "overview.regions_other": "Revenue and late rate by region/country (imported data)",
        "overview.live": "Live", "overview.nodata": "No data in this date range.",
        "overview.missing": "No data yet. Run `make run` or `python app.py generate`.",
        "axis.month": "Month", "axis.orders": "Orders", "axis.revenue": "Revenue (S/)",
        "axis.late_rate": "Late rate", "axis.region": "Region",
        "data.title": "Data", "data.tables": "Datasets", "data.models": "Trained models",
        "data.rows": "Rows", "data.range": "Date range", "data.quarantined": "Quarantined",
        "data.schema": "Schema", "data.column": "Column", "data.type": "Type", "data.rule": "Rule",
        "data.nullable": "Nullable", "data.no_models": "No models yet. Run `python app.py train`.",
        "data.model": "Model", "data.metrics": "Metrics", "data.created": "Created",
        "data.quarantine_rows": "Quarantined rows (first 20)", "data.dir": "Data folder",
        "nav.signout": "Sign out", "nav.roles": "Roles: {roles}",
        "role.logistics": "logistics", "role.marketing": "marketing", "role.executive": "executive",
        "role.traceability-admin": "traceability admin",
        "error.generic": "The query could not be completed: {msg}",
        "jobs.busy": "The server is busy with other computations ({n} running or waiting). This one was not "
                     "started; try again in a few seconds.",
        "jobs.busy_user": "You already have {n} computations running or waiting. Wait for them to finish (or cancel "
                          "one) and try again.",
        "yes": "yes", "no": "no",
    },
}


def normalize_lang(lang: object) -> str:
    """Any value to a supported language code ('es' unless it is clearly English)."""
    if isinstance(lang, str) and lang.lower()[:2] in LANGS:
        return lang.lower()[:2]
    return DEFAULT_LANG


def translator(table: Mapping[str, Mapping[str, str]]) -> Callable[..., str]:
    """A ``t(key, lang, **fmt)`` over a page's own TEXT table, falling back to CORE, then the key."""

    def t(key: str, lang: str | None = None, **fmt: object) -> str:
        lg = normalize_lang(lang)
        text = table.get(lg, {}).get(key) or CORE[lg].get(key) or table.get(DEFAULT_LANG, {}).get(key) \
            or CORE[DEFAULT_LANG].get(key) or key
        return text.format(**fmt) if fmt else text

    return t


t = translator({})


def current_lang() -> str:
    """Language of the current request (cookie set by the switch), default es."""
    try:
        import flask

        if flask.has_request_context():
            return normalize_lang(flask.request.cookies.get(COOKIE, DEFAULT_LANG))
    except Exception:  # pragma: no cover - flask always present with dash
        pass
    return DEFAULT_LANG
